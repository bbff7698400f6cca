//! Import of a user's `.onnx` file into the simulator: the ONNX graph becomes a [`Network`] of
//! the simulator's layers, whose shapes, FLOPs and bytes come from the same code as the zoo's
//! ([`Network::to_model`]), so an imported model and a zoo model are counted alike.
//!
//! # What is read
//!
//! One graph input of rank ≥ 2 whose first dimension is the batch (symbolic or fixed) and whose
//! other dimensions are fixed — a float tensor, or integer token ids `[N, T]` that only `Gather`
//! (an embedding look-up) reads; float weights in initialisers or `Constant` nodes; and the
//! operators in [`SUPPORTED_OPS`] from the default (`ai.onnx`) domain.
//!
//! # Nodes and operators
//!
//! `Constant` nodes are folded into the weights first (see [`fold_constants`]). Each other node
//! becomes one operator, in file order, except the node groups that ONNX needs for one of the
//! simulator's layers (an LSTM with its layout transposes, `MatMul` + bias `Add`, GELU as
//! `Erf` and four arithmetic nodes, SiLU, `Transpose` + `MatMul`; see [`super::fuse`]): such a
//! group is one operator, placed at its last node. [`ImportedModel::operator_nodes`] records
//! which nodes make each operator; operator `i` is what `infscaler_hil::split` cuts after and
//! what a scenario's `policy.stages[].cuts` count.
//!
//! Shapes are inferred from the input shape with the simulator's layer rules, not taken from
//! the file's `value_info`; an operator whose attributes the simulator cannot represent (dilated
//! convolution, a Clip that is not ReLU6, a reshape of the batch dimension, …) is an error that
//! names the file, the node and its operator type.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::model::layers::{Layer, LayerError, Network, NetworkBuilder, PoolMode, TensorRef};
use crate::model::{ActivationFn, Model};
use thiserror::Error;

use crate::model::file;
use crate::model::layers::EmbeddingIds;
use crate::model::onnx::fuse::{self, Group, Pattern};
use crate::model::onnx::proto::data_type;
use crate::model::onnx::proto::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};
use crate::model::onnx::shapes;
use crate::model::onnx::{self, Dim};

/// The ONNX operator types the importer reads.
pub const SUPPORTED_OPS: &[&str] = &[
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "Relu",
    "Clip",
    "Sigmoid",
    "Tanh",
    "LeakyRelu",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "LRN",
    "BatchNormalization",
    "LayerNormalization",
    "Add",
    "Mul",
    "Concat",
    "Resize",
    "Softmax",
    "Flatten",
    "Reshape",
    "Transpose",
    "Slice",
    "Dropout",
    "Identity",
    "Constant",
    "Gather",
    "Gelu",
    "LSTM",
    "Erf, Tanh, Pow (in GELU)",
    "Squeeze (after LSTM)",
];

/// Why an ONNX model cannot be imported.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read ONNX file `{file}`: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not an ONNX model.
    #[error("`{file}` is not an ONNX model (protobuf decoding failed: {source})")]
    Decode {
        /// The file.
        file: String,
        /// The protobuf error.
        source: prost::DecodeError,
    },
    /// The model as a whole does not fit (no graph, several inputs, unknown input shape).
    #[error("`{file}`: {reason}")]
    Model {
        /// The file (or the name the model was given).
        file: String,
        /// What does not fit.
        reason: String,
    },
    /// One node cannot be imported.
    #[error("`{file}`: node `{node}` ({op_type}): {reason}")]
    Node {
        /// The file (or the name the model was given).
        file: String,
        /// Node name (its first output when it has none).
        node: String,
        /// Its operator type.
        op_type: String,
        /// What does not fit.
        reason: String,
    },
}

/// An imported model: the simulator's layer graph plus the ONNX value names it came from.
#[derive(Clone, Debug)]
pub struct ImportedModel {
    /// The layer graph; node `i` is operator `i`.
    pub network: Network,
    /// Name of the ONNX graph input.
    pub input_name: String,
    /// Element type of the graph input (`proto::data_type`: FLOAT, or INT64/INT32 token ids).
    pub input_elem_type: i32,
    /// Name of the ONNX value each operator writes (its last node's first output), by operator.
    pub output_names: Vec<String>,
    /// The graph nodes (after [`fold_constants`]) that make each operator, in graph order.
    pub operator_nodes: Vec<Vec<usize>>,
    /// Which graph nodes compute shapes only ([`super::shapes`]): in no operator; a partition
    /// that reads their values computes them itself.
    pub shape_nodes: Vec<bool>,
    /// Operators whose output has batch dimension 1 and broadcasts against the batch: look-ups
    /// of constant ids (position and segment embeddings) and what is computed from them alone.
    pub batch_one: Vec<bool>,
}

impl ImportedModel {
    /// The simulator's operator list.
    pub fn to_model(&self) -> Model {
        self.network.to_model()
    }
}

/// Reads (through [`crate::input`]'s size cap) and decodes the `.onnx` file at `path`.
pub fn read_model(path: &Path) -> Result<ModelProto, ImportError> {
    let file = || path.display().to_string();
    let bytes = crate::input::read(path).map_err(|source| ImportError::Read {
        file: file(),
        source,
    })?;
    onnx::decode(&bytes).map_err(|source| ImportError::Decode {
        file: file(),
        source,
    })
}

/// Reads ([`read_model`]) and imports the `.onnx` file at `path`.
pub fn import_file(path: &Path) -> Result<ImportedModel, ImportError> {
    let file = path.display().to_string();
    let model = read_model(path)?;
    let fallback = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".to_string());
    import_model(&model, &file, &fallback)
}

/// Imports a decoded model. `file` names it in errors; `fallback_name` is the network's name
/// when the graph has none.
pub fn import_model(
    model: &ModelProto,
    file: &str,
    fallback_name: &str,
) -> Result<ImportedModel, ImportError> {
    let model_err = |reason: String| ImportError::Model {
        file: file.to_string(),
        reason,
    };
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| model_err("the model has no graph".into()))?;
    let graph = fold_constants(graph).map_err(|(node, reason)| ImportError::Node {
        file: file.to_string(),
        node,
        op_type: "Constant".into(),
        reason,
    })?;
    let opset = default_opset(model);
    let mut constants: HashMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    // Shape computations fold into constants; `Identity` of a constant is that constant.
    let shape_node = shapes::shape_nodes(&graph, &constants);
    for (n, _) in graph.node.iter().zip(&shape_node).filter(|(_, s)| **s) {
        if n.op_type == "Identity"
            && let (Some(src), Some(out)) = (n.input.first(), n.output.first())
            && let Some(t) = constants.get(src.as_str()).copied()
        {
            constants.insert(out, t);
        }
    }
    let zero_states = shapes::zero_states(&graph, &shape_node);
    // Embedding tables, for recognising a tied LM head whose transpose the exporter folded.
    let tables: Vec<&TensorProto> = graph
        .node
        .iter()
        .filter(|n| n.op_type == "Gather")
        .filter_map(|n| constants.get(n.input.first()?.as_str()).copied())
        .collect();

    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !constants.contains_key(i.name.as_str()))
        .collect();
    let [input] = inputs.as_slice() else {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        return Err(model_err(format!(
            "the graph has {} inputs ({names:?}); the simulator models one input per model",
            inputs.len()
        )));
    };
    let shape = onnx::declared_shape(input)
        .ok_or_else(|| model_err(format!("input `{}` has no tensor shape", input.name)))?;
    let input_elem_type = onnx::declared_elem_type(input).unwrap_or(0);
    let integer_input = matches!(input_elem_type, data_type::INT64 | data_type::INT32);
    if input_elem_type != data_type::FLOAT && !integer_input {
        return Err(model_err(format!(
            "input `{}` has element type {input_elem_type}; a float tensor or integer token ids \
             (INT64 or INT32) are imported",
            input.name
        )));
    }
    if integer_input && shape.len() != 2 {
        return Err(model_err(format!(
            "input `{}` holds integer ids of shape {}; ids are read as [batch, tokens]",
            input.name,
            shape_string(&shape)
        )));
    }
    if shape.len() < 2 {
        return Err(model_err(format!(
            "input `{}` has shape {}; expected a batch dimension followed by at least one fixed \
             dimension",
            input.name,
            shape_string(&shape)
        )));
    }
    let mut per_sample = Vec::with_capacity(shape.len() - 1);
    for d in &shape[1..] {
        match d {
            Dim::Fixed(n) => per_sample.push(*n as usize),
            Dim::Symbol(_) => {
                return Err(model_err(format!(
                    "input `{}` has shape {}; every dimension after the batch must be fixed",
                    input.name,
                    shape_string(&shape)
                )));
            }
        }
    }

    // Names are printed and written to model files: one a file cannot hold is replaced.
    let name = [graph.name.as_str(), fallback_name]
        .into_iter()
        .find(|n| file::check_name(n).is_ok())
        .unwrap_or("model");
    // The bounds of model files, so that no shape arithmetic below can overflow.
    file::check_shape(&per_sample)
        .map_err(|m| model_err(format!("input `{}`: {m}", input.name)))?;
    let mut b = NetworkBuilder::new(name, &per_sample);
    let mut values: HashMap<String, TensorRef> = HashMap::new();
    values.insert(input.name.clone(), TensorRef::Input);
    // `input` names the model input in model files (`crate::model::file::INPUT`).
    let mut names_used = HashSet::from([crate::model::file::INPUT.to_string()]);
    let groups = fuse::group_nodes(&graph, &constants, &shape_node);
    let mut folder = shapes::Folder::new(&graph, &shape_node, &constants);
    let mut folded: HashMap<String, Result<TensorProto, String>> = HashMap::new();
    let mut output_names = Vec::with_capacity(groups.len());
    let mut operator_nodes = Vec::with_capacity(groups.len());
    for group in &groups {
        let index = group.core;
        let node = &graph.node[index];
        let mut layer_name = if node.name.is_empty() {
            node.output.first().cloned().unwrap_or_default()
        } else {
            node.name.clone()
        };
        if file::check_name(&layer_name).is_err() || names_used.contains(&layer_name) {
            layer_name = format!("{}#{index}", node.op_type);
        }
        names_used.insert(layer_name.clone());
        let node_err = |reason: String| ImportError::Node {
            file: file.to_string(),
            node: layer_name.clone(),
            op_type: node.op_type.clone(),
            reason,
        };
        // The shape computations the group reads, folded now that what they read is known.
        for &i in &group.nodes {
            for v in &graph.node[i].input {
                if folder.is_shape_value(v)
                    && !zero_states.contains(v.as_str())
                    && !folded.contains_key(v)
                {
                    let shape_of = |name: &str| {
                        values
                            .get(name)
                            .and_then(|t| b.shape_of(*t))
                            .map(<[usize]>::to_vec)
                    };
                    folded.insert(v.clone(), folder.fold(v, &shape_of));
                }
            }
        }
        let ctx_of = |i: usize| NodeCtx {
            node: &graph.node[i],
            opset,
            constants: &constants,
            folded: &folded,
            zero_states: &zero_states,
            tables: &tables,
            values: &values,
            builder: &b,
            integer_input: integer_input.then_some(input.name.as_str()),
        };
        let (layer, reads) = match group.pattern {
            Pattern::Single => node_layer(&ctx_of(index)),
            _ => group_layer(group, &ctx_of),
        }
        .map_err(node_err)?;
        let out = file::add_bounded(&mut b, &layer_name, layer, &reads).map_err(|e| match e {
            file::BoundedError::Layer(e) => node_err(layer_error_reason(e)),
            file::BoundedError::Bounds(m) => node_err(m),
        })?;
        let Some(first) = graph.node[group.last()].output.first() else {
            return Err(node_err("the node has no output".into()));
        };
        values.insert(first.clone(), out);
        output_names.push(first.clone());
        operator_nodes.push(group.nodes.clone());
    }
    let network = b.finish();
    Ok(ImportedModel {
        batch_one: onnx::batch_one_nodes(&network),
        network,
        input_name: input.name.clone(),
        input_elem_type,
        output_names,
        operator_nodes,
        shape_nodes: shape_node,
    })
}

/// The graph with every `Constant` node turned into an initialiser of the same name (only the
/// `value` attribute, a tensor, is read). Errors carry the node's name.
pub fn fold_constants(graph: &GraphProto) -> Result<GraphProto, (String, String)> {
    let mut out = graph.clone();
    out.node.clear();
    for node in &graph.node {
        if node.op_type != "Constant" || !node.domain.is_empty() && node.domain != "ai.onnx" {
            out.node.push(node.clone());
            continue;
        }
        let name = node.output.first().cloned().unwrap_or_default();
        let Some(t) = node
            .attribute
            .iter()
            .find(|a| a.name == "value")
            .and_then(|a| a.t.as_ref())
        else {
            return Err((
                name,
                "only Constant nodes with a `value` tensor attribute are read".into(),
            ));
        };
        let mut t = t.clone();
        t.name = name;
        out.initializer.push(t);
    }
    Ok(out)
}

/// The version of the default operator set the model imports (1 when it states none).
pub fn default_opset(model: &ModelProto) -> i64 {
    model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(1, |o| o.version)
}

fn layer_error_reason(e: LayerError) -> String {
    match e {
        LayerError::Shape { shapes, reason, .. } => {
            format!("input shape(s) {shapes:?} (per sample) do not fit: {reason}")
        }
        other => other.to_string(),
    }
}

fn shape_string(shape: &[Dim]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// What one node's translation can see.
struct NodeCtx<'a> {
    node: &'a NodeProto,
    opset: i64,
    constants: &'a HashMap<&'a str, &'a TensorProto>,
    /// Shape computations folded into constants, or why they do not fold.
    folded: &'a HashMap<String, Result<TensorProto, String>>,
    /// Zero tensors of computed shapes (PyTorch's initial LSTM states).
    zero_states: &'a HashSet<&'a str>,
    /// The tables that `Gather` nodes look up (embeddings).
    tables: &'a [&'a TensorProto],
    values: &'a HashMap<String, TensorRef>,
    builder: &'a NetworkBuilder,
    /// The graph input's name when it holds integer ids (only `Gather` may read it).
    integer_input: Option<&'a str>,
}

impl NodeCtx<'_> {
    fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).map_or(default, |a| a.i)
    }

    fn float(&self, name: &str, default: f32) -> f32 {
        self.attr(name).map_or(default, |a| a.f)
    }

    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.attr(name).map(|a| a.ints.clone())
    }

    fn string(&self, name: &str) -> Option<String> {
        self.attr(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    /// Input `i`'s name, `None` when absent or left empty.
    fn input_name(&self, i: usize) -> Option<&str> {
        self.node
            .input
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Input `i` as an activation produced earlier.
    fn activation(&self, i: usize) -> Result<TensorRef, String> {
        let name = self
            .input_name(i)
            .ok_or_else(|| format!("input {i} is missing"))?;
        if self.constants.contains_key(name) {
            return Err(format!(
                "input {i} (`{name}`) is a constant; the simulator models this operand as an \
                 activation"
            ));
        }
        if self.integer_input == Some(name) {
            return Err(format!(
                "reads the model's integer input `{name}` (token ids); only Gather (an \
                 embedding look-up) reads ids"
            ));
        }
        self.values.get(name).copied().ok_or_else(|| {
            format!("reads `{name}`, which neither the graph input nor an earlier node produces")
        })
    }

    /// Input `i` as a constant tensor.
    fn constant(&self, i: usize) -> Result<&TensorProto, String> {
        let name = self
            .input_name(i)
            .ok_or_else(|| format!("input {i} is missing"))?;
        self.named_constant(name).unwrap_or_else(|| {
            Err(format!(
                "input {i} (`{name}`) must be a constant (an initialiser)"
            ))
        })
    }

    /// The constant `name`: an initialiser or a folded shape computation (`None`: neither).
    fn named_constant(&self, name: &str) -> Option<Result<&TensorProto, String>> {
        if let Some(t) = self.constants.get(name) {
            return Some(Ok(t));
        }
        self.folded.get(name).map(|r| {
            r.as_ref().map_err(|reason| {
                format!("`{name}` is computed from shapes at run time and does not fold: {reason}")
            })
        })
    }

    /// The activation `name` (the graph input or an earlier operator's output).
    fn activation_named(&self, name: &str) -> Result<TensorRef, String> {
        self.values.get(name).copied().ok_or_else(|| {
            format!("reads `{name}`, which neither the graph input nor an earlier node produces")
        })
    }

    fn optional_constant(&self, i: usize) -> Result<Option<&TensorProto>, String> {
        match self.input_name(i) {
            None => Ok(None),
            Some(_) => self.constant(i).map(Some),
        }
    }

    /// Per-sample shape of input 0.
    fn shape0(&self) -> Result<Vec<usize>, String> {
        let t = self.activation(0)?;
        Ok(self.builder.shape_of(t).unwrap_or(&[]).to_vec())
    }

    /// Rank of input 0 including the batch dimension.
    fn full_rank0(&self) -> Result<i64, String> {
        Ok(self.shape0()?.len() as i64 + 1)
    }

    /// Dilations must all be 1 and `auto_pad` unset (or `VALID` with no pads).
    fn plain_window(&self) -> Result<(), String> {
        if let Some(d) = self.ints("dilations")
            && d.iter().any(|&x| x != 1)
        {
            return Err(format!(
                "dilations {d:?}: only undilated windows are modelled"
            ));
        }
        match self.string("auto_pad").as_deref() {
            None | Some("NOTSET") | Some("") => Ok(()),
            Some("VALID") if self.ints("pads").is_none() => Ok(()),
            Some(other) => Err(format!("auto_pad = {other}: give explicit `pads` instead")),
        }
    }
}

fn usize_list<const K: usize>(v: &[i64], what: &str) -> Result<[usize; K], String> {
    if v.len() != K || v.iter().any(|&x| x < 0) {
        return Err(format!(
            "{what} {v:?}: expected {K} non-negative values (2-D operators only)"
        ));
    }
    let mut out = [0; K];
    for (o, &x) in out.iter_mut().zip(v) {
        *o = x as usize;
    }
    Ok(out)
}

/// Normalises a possibly negative axis against `rank`.
fn axis_of(axis: i64, rank: i64) -> Result<i64, String> {
    let a = if axis < 0 { axis + rank } else { axis };
    if (0..rank).contains(&a) {
        Ok(a)
    } else {
        Err(format!("axis {axis} is out of range for rank {rank}"))
    }
}

fn scalar_f32(t: &TensorProto) -> Result<f32, String> {
    let v = onnx::tensor_f32(t)?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => Err(format!(
            "`{}` must hold one value, holds {}",
            t.name,
            v.len()
        )),
    }
}

/// The simulator layer of one node and the activations it reads.
fn node_layer(c: &NodeCtx<'_>) -> Result<(Layer, Vec<TensorRef>), String> {
    let n = c.node;
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return Err(format!(
            "operators of domain `{}` are not supported; only the default ONNX domain is",
            n.domain
        ));
    }
    let unary = |layer: Layer| -> Result<(Layer, Vec<TensorRef>), String> {
        Ok((layer, vec![c.activation(0)?]))
    };
    let act = |function| unary(Layer::Activation { function });
    match n.op_type.as_str() {
        "Conv" | "ConvTranspose" => {
            c.plain_window()?;
            let w = c.constant(1)?;
            let dims = usize_list::<4>(&w.dims, "weight shape")?;
            let kernel = match c.ints("kernel_shape") {
                Some(k) => usize_list::<2>(&k, "kernel_shape")?,
                None => [dims[2], dims[3]],
            };
            let stride = usize_list::<2>(&c.ints("strides").unwrap_or(vec![1, 1]), "strides")?;
            let pads = usize_list::<4>(&c.ints("pads").unwrap_or(vec![0; 4]), "pads")?;
            let groups = c.int("group", 1).max(1) as usize;
            let bias = c.optional_constant(2)?.is_some();
            let in_ch = c.shape0()?.first().copied().unwrap_or(0);
            let layer = if n.op_type == "Conv" {
                Layer::Conv2d {
                    in_ch,
                    out_ch: dims[0],
                    kernel,
                    stride,
                    pads,
                    groups,
                    bias,
                }
            } else {
                if c.attr("output_shape").is_some() {
                    return Err("`output_shape` is not read; give pads and output_padding".into());
                }
                let output_padding = usize_list::<2>(
                    &c.ints("output_padding").unwrap_or(vec![0, 0]),
                    "output_padding",
                )?;
                Layer::ConvTranspose2d {
                    in_ch,
                    out_ch: dims[1] * groups,
                    kernel,
                    stride,
                    pads,
                    output_padding,
                    groups,
                    bias,
                }
            };
            unary(layer)
        }
        "Gemm" => {
            if c.int("transA", 0) != 0 {
                return Err("transA = 1 is not supported (the activation must be A)".into());
            }
            let w = c.constant(1)?;
            let [d0, d1] = usize_list::<2>(&w.dims, "weight shape")?;
            let (in_features, out_features) = if c.int("transB", 0) != 0 {
                (d1, d0)
            } else {
                (d0, d1)
            };
            let bias = c.optional_constant(2)?.is_some();
            unary(Layer::Linear {
                in_features,
                out_features,
                bias,
            })
        }
        "MatMul" => match c.input_name(1).filter(|b| c.constants.contains_key(b)) {
            Some(_) => {
                let w = c.constant(1)?;
                let [in_features, out_features] = usize_list::<2>(&w.dims, "weight shape")?;
                if c.tables.iter().any(|t| is_transpose_of(w, t)) {
                    // A tied LM head: PyTorch's exporter folds `table.t()` into a copy.
                    return unary(Layer::Unembedding {
                        vocab: out_features,
                        dim: in_features,
                    });
                }
                unary(Layer::Linear {
                    in_features,
                    out_features,
                    bias: false,
                })
            }
            None => Ok((
                Layer::MatMul { transpose_b: false },
                vec![c.activation(0)?, c.activation(1)?],
            )),
        },
        "Relu" => act(ActivationFn::Relu),
        "Sigmoid" => act(ActivationFn::Sigmoid),
        "Tanh" => act(ActivationFn::Tanh),
        "LeakyRelu" => act(ActivationFn::LeakyRelu),
        "Clip" => {
            let (lo, hi) = if c.opset < 11 {
                (c.float("min", f32::MIN), c.float("max", f32::MAX))
            } else {
                let lo = c.optional_constant(1)?.map(scalar_f32).transpose()?;
                let hi = c.optional_constant(2)?.map(scalar_f32).transpose()?;
                (lo.unwrap_or(f32::MIN), hi.unwrap_or(f32::MAX))
            };
            if (lo, hi) != (0.0, 6.0) {
                return Err(format!(
                    "Clip to [{lo}, {hi}]: only [0, 6] (ReLU6) is modelled"
                ));
            }
            act(ActivationFn::Relu6)
        }
        "MaxPool" | "AveragePool" => {
            c.plain_window()?;
            if n.output.len() > 1 && !n.output[1].is_empty() {
                return Err("the indices output of MaxPool is not modelled".into());
            }
            let kernel = usize_list::<2>(
                &c.ints("kernel_shape")
                    .ok_or("the kernel_shape attribute is missing")?,
                "kernel_shape",
            )?;
            let stride = usize_list::<2>(&c.ints("strides").unwrap_or(vec![1, 1]), "strides")?;
            let pads = usize_list::<4>(&c.ints("pads").unwrap_or(vec![0; 4]), "pads")?;
            let mode = if n.op_type == "MaxPool" {
                PoolMode::Max
            } else {
                PoolMode::Avg
            };
            unary(Layer::Pool {
                mode,
                kernel,
                stride,
                pads,
                ceil_mode: c.int("ceil_mode", 0) != 0,
            })
        }
        "GlobalAveragePool" => unary(Layer::GlobalPool {
            mode: PoolMode::Avg,
        }),
        "GlobalMaxPool" => unary(Layer::GlobalPool {
            mode: PoolMode::Max,
        }),
        "LRN" => {
            let size = c.int("size", 0);
            if size <= 0 {
                return Err("the size attribute is missing or not positive".into());
            }
            // Defaults from onnx docs/Operators.md, LRN: alpha 1e-4, beta 0.75, bias 1.
            unary(Layer::Lrn {
                size: size as usize,
                alpha: f64::from(c.float("alpha", 1e-4)),
                beta: f64::from(c.float("beta", 0.75)),
                bias: f64::from(c.float("bias", 1.0)),
            })
        }
        "BatchNormalization" => {
            if c.int("training_mode", 0) != 0 {
                return Err("training_mode = 1 is not modelled (inference only)".into());
            }
            let scale = c.constant(1)?;
            unary(Layer::BatchNorm {
                channels: onnx::tensor_len(scale) as usize,
            })
        }
        "LayerNormalization" => {
            let rank = c.full_rank0()?;
            if axis_of(c.int("axis", -1), rank)? != rank - 1 {
                return Err("only normalisation over the last axis is modelled".into());
            }
            let scale = c.constant(1)?;
            unary(Layer::LayerNorm {
                dim: onnx::tensor_len(scale) as usize,
            })
        }
        "Add" | "Mul" => {
            let layer = if n.op_type == "Add" {
                Layer::Add
            } else {
                Layer::Mul
            };
            Ok((layer, vec![c.activation(0)?, c.activation(1)?]))
        }
        "Concat" => {
            let rank = c.full_rank0()?;
            let axis = axis_of(c.int("axis", 0), rank)?;
            if axis == 0 {
                return Err("concatenation along the batch dimension is not modelled".into());
            }
            let reads = (0..n.input.len())
                .map(|i| c.activation(i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((
                Layer::Concat {
                    axis: axis as usize - 1,
                },
                reads,
            ))
        }
        "Resize" | "Upsample" => {
            let mode = c.string("mode").unwrap_or_else(|| "nearest".into());
            if mode != "nearest" {
                return Err(format!("mode `{mode}`: only nearest is modelled"));
            }
            let shape = c.shape0()?;
            // Opset ≥ 11: X, roi, scales, sizes. Opset 10 (and Upsample): X, scales.
            let scales_at = if c.opset >= 11 && n.op_type == "Resize" {
                2
            } else {
                1
            };
            let factors: Vec<f32> = match c.optional_constant(scales_at)? {
                Some(t) if onnx::tensor_len(t) > 0 => onnx::tensor_f32(t)?,
                _ => {
                    let sizes = onnx::tensor_i64(
                        c.optional_constant(3)?
                            .ok_or("neither scales nor sizes is given")?,
                    )?;
                    if sizes.len() != 4 || shape.len() != 3 {
                        return Err("sizes must be 4 values for a [N, C, H, W] input".into());
                    }
                    sizes
                        .iter()
                        .zip([1, shape[0], shape[1], shape[2]])
                        .enumerate()
                        .map(|(i, (&s, d))| if i == 0 { 1.0 } else { s as f32 / d as f32 })
                        .collect()
                }
            };
            let s = factors.get(2).copied().unwrap_or(0.0);
            let integral = s >= 1.0 && s.fract() == 0.0;
            if factors.len() != 4 || factors[..2] != [1.0, 1.0] || factors[3] != s || !integral {
                return Err(format!(
                    "scales {factors:?}: only [1, 1, s, s] with an integer s is modelled"
                ));
            }
            unary(Layer::Resize { scale: s as usize })
        }
        "Softmax" => {
            let rank = c.full_rank0()?;
            let default = if c.opset >= 13 { -1 } else { 1 };
            if axis_of(c.int("axis", default), rank)? != rank - 1 {
                return Err("only softmax over the last axis is modelled".into());
            }
            unary(Layer::Softmax)
        }
        "Flatten" => {
            if axis_of(c.int("axis", 1), c.full_rank0()? + 1)? != 1 {
                return Err("only axis = 1 (keep the batch dimension) is modelled".into());
            }
            unary(Layer::Flatten)
        }
        "Reshape" => {
            let target = onnx::tensor_i64(c.constant(1)?)?;
            let shape = reshape_target(&c.shape0()?, &target, c.int("allowzero", 0) != 0)?;
            unary(Layer::Reshape { shape })
        }
        "Transpose" => {
            let rank = c.full_rank0()?;
            let perm = c.ints("perm").unwrap_or_else(|| (0..rank).rev().collect());
            if perm.first() != Some(&0) {
                return Err(format!(
                    "perm {perm:?} moves the batch dimension; it must stay first"
                ));
            }
            let perm = perm[1..]
                .iter()
                .map(|&p| usize::try_from(p - 1).map_err(|_| format!("perm {perm:?} is invalid")))
                .collect::<Result<Vec<_>, _>>()?;
            unary(Layer::Transpose { perm })
        }
        "Slice" => {
            let shape = c.shape0()?;
            let rank = shape.len() as i64 + 1;
            let starts = onnx::tensor_i64(c.constant(1)?)?;
            let ends = onnx::tensor_i64(c.constant(2)?)?;
            let axes = match c.optional_constant(3)? {
                Some(t) => onnx::tensor_i64(t)?,
                None => (0..starts.len() as i64).collect(),
            };
            if let Some(t) = c.optional_constant(4)?
                && onnx::tensor_i64(t)?.iter().any(|&s| s != 1)
            {
                return Err("only step 1 is modelled".into());
            }
            let ([start], [end], [axis]) = (starts.as_slice(), ends.as_slice(), axes.as_slice())
            else {
                return Err("only a slice along one axis is modelled".into());
            };
            let axis = axis_of(*axis, rank)?;
            if axis == 0 {
                return Err("slicing the batch dimension is not modelled".into());
            }
            let len = shape[axis as usize - 1] as i64;
            let clamp = |v: i64| if v < 0 { (v + len).max(0) } else { v.min(len) };
            let (start, end) = (clamp(*start), clamp(*end));
            unary(Layer::Slice {
                axis: axis as usize - 1,
                start: start as usize,
                end: end as usize,
            })
        }
        "Dropout" => {
            let ratio = if c.opset >= 12 {
                c.optional_constant(1)?
                    .map(scalar_f32)
                    .transpose()?
                    .unwrap_or(0.5)
            } else {
                c.float("ratio", 0.5)
            };
            if let Some(t) = c.optional_constant(2)?
                && onnx::tensor_len(t) > 0
                && (t.raw_data.iter().any(|&b| b != 0) || t.int32_data.iter().any(|&v| v != 0))
            {
                return Err("training_mode = true is not modelled (inference only)".into());
            }
            unary(Layer::Dropout {
                ratio: f64::from(ratio),
            })
        }
        // The identity costs what an inference-time dropout costs: nothing but the data.
        "Identity" => unary(Layer::Dropout { ratio: 0.0 }),
        "Gather" => gather(c),
        "Gelu" => {
            // Opset 20; `approximate = "tanh"` costs the same element-wise work.
            act(ActivationFn::Gelu)
        }
        "Erf" => Err(
            "Erf is read only as part of GELU: Div(x, √2) → Erf → Add(1) → Mul(x) → Mul(0.5), \
             each value read by the next node alone"
                .into(),
        ),
        "LSTM" => Err(
            "an LSTM is read with the layout nodes that make it batch-first: \
             Transpose[1,0,2] → LSTM → Transpose[2,0,1,3] → Reshape[0,0,-1], \
             Transpose[1,0,2] → LSTM → Transpose[0,2,1,3] → Reshape[0,0,-1] → Transpose[1,0,2], \
             Transpose[1,0,2] → LSTM → Squeeze(1) → Transpose[1,0,2], or LSTM(layout = 1) → \
             Reshape[0,0,-1]; its Y_h and Y_c outputs unused"
                .into(),
        ),
        other => Err(format!(
            "operator `{other}` is not supported yet; supported: {}",
            SUPPORTED_OPS.join(", ")
        )),
    }
}

/// Whether the float matrix `w` (`[in, out]`) holds the transpose of `table` (`[out, in]`).
fn is_transpose_of(w: &TensorProto, table: &TensorProto) -> bool {
    let ([a, b], [c, d]) = (w.dims.as_slice(), table.dims.as_slice()) else {
        return false;
    };
    if (a, b) != (d, c) {
        return false;
    }
    let (Ok(w), Ok(t)) = (onnx::tensor_f32(w), onnx::tensor_f32(table)) else {
        return false;
    };
    let (rows, cols) = (*c as usize, *d as usize);
    w.len() == rows * cols
        && t.len() == rows * cols
        && (0..rows).all(|r| (0..cols).all(|k| t[r * cols + k] == w[k * rows + r]))
}

/// An embedding look-up: `Gather(table, ids)` on axis 0 of a constant `[vocab, dim]` table, with
/// the ids the model's integer input (token ids) or a constant (`[T]` or `[1, T]`: positions
/// `0..T`, or segment 0 at every position, as BERT's and GPT-2's exports hold them).
fn gather(c: &NodeCtx<'_>) -> Result<(Layer, Vec<TensorRef>), String> {
    let table_name = c.input_name(0).unwrap_or("");
    let Some(table) = c.constants.get(table_name) else {
        return Err(
            "Gather of an activation is not supported; only embedding look-ups (a constant \
             table) are. PyTorch exports with dynamic shapes compute them with Shape → Gather → \
             Concat → Reshape: export with fixed shapes (dynamic axes for the batch only) or fold \
             them first (onnx-simplifier)"
                .into(),
        );
    };
    let [vocab, dim] = usize_list::<2>(&table.dims, "table shape")?;
    if axis_of(c.int("axis", 0), 2)? != 0 {
        return Err("only look-ups of rows (axis 0) are modelled".into());
    }
    let ids = c.input_name(1).ok_or("input 1 (the ids) is missing")?;
    let Some(input) = c.integer_input else {
        return Err("embedding look-ups need the model's input to be integer token ids".into());
    };
    if ids == input {
        return Ok((
            Layer::Embedding {
                vocab,
                dim,
                ids: EmbeddingIds::Tokens,
            },
            vec![TensorRef::Input],
        ));
    }
    let Some(t) = c.named_constant(ids).transpose()? else {
        return Err(format!(
            "the ids `{ids}` are neither the model input `{input}` nor a constant"
        ));
    };
    let values = onnx::tensor_i64(t)?;
    let tokens = c
        .builder
        .shape_of(TensorRef::Input)
        .and_then(|s| s.first().copied())
        .unwrap_or(0);
    let shape_fits = matches!(t.dims.as_slice(), [n] | [1, n] if *n as usize == tokens);
    if !shape_fits {
        return Err(format!(
            "constant ids of shape {:?}; expected [{tokens}] or [1, {tokens}], one per token of \
             the input",
            t.dims
        ));
    }
    let which = if values.iter().enumerate().all(|(i, &v)| v == i as i64) {
        EmbeddingIds::Positions
    } else if values.iter().all(|&v| v == 0) {
        EmbeddingIds::FirstSegment
    } else {
        return Err(
            "constant ids other than the positions 0..T or segment 0 are not modelled".into(),
        );
    };
    Ok((
        Layer::Embedding {
            vocab,
            dim,
            ids: which,
        },
        vec![TensorRef::Input],
    ))
}

/// The layer of a node group ([`fuse::group_nodes`]); `ctx` gives each node's context.
fn group_layer<'a>(
    group: &Group,
    ctx: &dyn Fn(usize) -> NodeCtx<'a>,
) -> Result<(Layer, Vec<TensorRef>), String> {
    let core = ctx(group.core);
    match group.pattern {
        Pattern::Single => node_layer(&core),
        Pattern::LinearBias { add } => {
            let w = core.constant(1)?;
            let [in_features, out_features] = usize_list::<2>(&w.dims, "weight shape")?;
            let add = ctx(add);
            let bias_at = usize::from(add.input_name(0).is_some_and(|n| core.node.output[0] == n));
            let bias = add.constant(bias_at)?;
            if onnx::tensor_len(bias) != out_features as u64 {
                return Err(format!(
                    "the bias `{}` holds {} values for {out_features} outputs",
                    bias.name,
                    onnx::tensor_len(bias)
                ));
            }
            Ok((
                Layer::Linear {
                    in_features,
                    out_features,
                    bias: true,
                },
                vec![core.activation(0)?],
            ))
        }
        Pattern::MatMulTransposedB { transpose } => Ok((
            Layer::MatMul { transpose_b: true },
            vec![core.activation(0)?, ctx(transpose).activation(0)?],
        )),
        Pattern::MatMulTransposedWeight { transpose, tied } => {
            let t = ctx(transpose);
            let [rows, cols] = usize_list::<2>(&t.constant(0)?.dims, "weight shape")?;
            let layer = if tied {
                Layer::Unembedding {
                    vocab: rows,
                    dim: cols,
                }
            } else {
                Layer::Linear {
                    in_features: cols,
                    out_features: rows,
                    bias: false,
                }
            };
            Ok((layer, vec![core.activation(0)?]))
        }
        Pattern::Gelu { ref x } => Ok((
            Layer::Activation {
                function: ActivationFn::Gelu,
            },
            vec![core.activation_named(x)?],
        )),
        Pattern::Silu => Ok((
            Layer::Activation {
                function: ActivationFn::Silu,
            },
            vec![core.activation(0)?],
        )),
        Pattern::Lstm { ref input } => lstm(&core, core.activation_named(input)?),
    }
}

/// An `LSTM` node (its layout nodes checked by [`fuse`]) reading the batch-first sequence `x`.
fn lstm(c: &NodeCtx<'_>, x: TensorRef) -> Result<(Layer, Vec<TensorRef>), String> {
    let bidirectional = match c.string("direction").as_deref() {
        None | Some("forward") => false,
        Some("bidirectional") => true,
        Some(other) => {
            return Err(format!(
                "direction `{other}`: forward and bidirectional LSTMs are modelled"
            ));
        }
    };
    let dirs = if bidirectional { 2 } else { 1 };
    let [w_dirs, gates, input_size] = usize_list::<3>(&c.constant(1)?.dims, "W shape")?;
    let hidden = gates / 4;
    if w_dirs != dirs || gates != 4 * hidden || hidden == 0 {
        return Err(format!(
            "W has shape [{w_dirs}, {gates}, {input_size}]; expected [{dirs}, 4·hidden, input]"
        ));
    }
    if c.int("hidden_size", hidden as i64) != hidden as i64 {
        return Err("hidden_size differs from W's shape".into());
    }
    c.constant(2)?;
    c.optional_constant(3)?;
    let zero_state = |i: usize| c.input_name(i).is_none_or(|v| c.zero_states.contains(v));
    if c.input_name(4).is_some() || c.input_name(7).is_some() || !zero_state(5) || !zero_state(6) {
        return Err(
            "sequence_lens, P and non-zero initial_h or initial_c are not modelled (full \
             sequences, no peepholes, zero initial state)"
                .into(),
        );
    }
    if c.attr("clip").is_some() || c.int("input_forget", 0) != 0 {
        return Err("clip and input_forget are not modelled".into());
    }
    if let Some(a) = c.attr("activations") {
        let standard = a
            .strings
            .chunks(3)
            .all(|f| f == [&b"Sigmoid"[..], b"Tanh", b"Tanh"]);
        if !standard {
            return Err("only the default activations (Sigmoid, Tanh, Tanh) are modelled".into());
        }
    }
    Ok((
        Layer::Lstm {
            input_size,
            hidden,
            bidirectional,
        },
        vec![x],
    ))
}

/// The per-sample shape an ONNX `Reshape` to `target` (batch dimension included) gives an input
/// of per-sample shape `input`.
fn reshape_target(input: &[usize], target: &[i64], allowzero: bool) -> Result<Vec<usize>, String> {
    let Some((&batch, rest)) = target.split_first() else {
        return Err("an empty target shape removes the batch dimension".into());
    };
    let elems: usize = input.iter().product();
    let mut out = Vec::with_capacity(rest.len());
    let mut infer = None;
    for (i, &d) in rest.iter().enumerate() {
        match d {
            0 if !allowzero => match input.get(i) {
                Some(&x) => out.push(x),
                None => {
                    return Err(format!(
                        "target {target:?}: 0 at {} has no input dimension to copy",
                        i + 1
                    ));
                }
            },
            -1 if infer.is_none() && batch != -1 => {
                infer = Some(i);
                out.push(1);
            }
            d if d > 0 => out.push(d as usize),
            _ => return Err(format!("target shape {target:?} is not supported")),
        }
    }
    let known = out
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("target {target:?} holds more elements than can be counted"))?;
    if let Some(i) = infer {
        if known == 0 || !elems.is_multiple_of(known) {
            return Err(format!(
                "target {target:?} does not divide {elems} elements"
            ));
        }
        out[i] = elems / known;
    }
    // The batch entry must keep the batch: 0 (copy) or -1 (inferred) with the rest whole.
    match batch {
        0 if !allowzero => {}
        -1 => {}
        _ => {
            return Err(format!(
                "target {target:?} does not keep the batch dimension (its first entry must be 0 or -1)"
            ));
        }
    }
    if out.iter().product::<usize>() != elems {
        return Err(format!(
            "target {target:?} does not hold the {elems} elements of a sample"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::onnx::proto::OperatorSetIdProto;

    fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            attribute: attrs,
            ..onnx::test_node(op, inputs, output)
        }
    }

    fn zeros(name: &str, dims: &[usize]) -> TensorProto {
        onnx::f32_tensor(name, dims, &vec![0.0; dims.iter().product()])
    }

    /// A model reading `[N, ..input]` of `elem_type` through `nodes`; the last writes `out`.
    fn model(
        input: &[usize],
        elem_type: i32,
        nodes: Vec<NodeProto>,
        weights: Vec<TensorProto>,
        out: &str,
    ) -> ModelProto {
        ModelProto {
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 17,
            }],
            graph: Some(GraphProto {
                name: "g".into(),
                node: nodes,
                initializer: weights,
                input: vec![onnx::typed_value_info(
                    "x",
                    &onnx::batched(input),
                    elem_type,
                )],
                output: vec![onnx::value_info(out, &[])],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// LSTM weights for `dirs` directions, hidden 3, input 4, and the `[0, 0, -1]` target.
    fn lstm_weights(dirs: usize) -> Vec<TensorProto> {
        vec![
            zeros("W", &[dirs, 12, 4]),
            zeros("R", &[dirs, 12, 3]),
            zeros("B", &[dirs, 24]),
            onnx::i64_tensor("merge", &[0, 0, -1]),
            onnx::i64_tensor("axes", &[1]),
        ]
    }

    fn lstm_node(input: &str, attrs: Vec<AttributeProto>) -> NodeProto {
        let mut attrs = attrs;
        attrs.push(onnx::attr_int("hidden_size", 3));
        node("LSTM", &[input, "W", "R", "B"], "lstm", attrs)
    }

    #[test]
    fn pytorch_lstm_exports_are_one_lstm_layer() {
        let perm = |p: &[i64]| vec![onnx::attr_ints("perm", p.iter().copied())];
        let bi = || vec![onnx::attr_string("direction", "bidirectional")];
        let time_major = node("Transpose", &["x"], "t", perm(&[1, 0, 2]));
        let variants = [
            // PyTorch, bidirectional batch-first nn.LSTM.
            (
                2,
                vec![
                    time_major.clone(),
                    lstm_node("t", bi()),
                    node("Transpose", &["lstm"], "p", perm(&[0, 2, 1, 3])),
                    node("Reshape", &["p", "merge"], "r", vec![]),
                    node("Transpose", &["r"], "y", perm(&[1, 0, 2])),
                ],
            ),
            // PyTorch, one direction.
            (
                1,
                vec![
                    time_major.clone(),
                    lstm_node("t", vec![]),
                    node("Squeeze", &["lstm", "axes"], "s", vec![]),
                    node("Transpose", &["s"], "y", perm(&[1, 0, 2])),
                ],
            ),
            // Batch-first layout.
            (
                2,
                vec![
                    lstm_node("x", vec![bi().remove(0), onnx::attr_int("layout", 1)]),
                    node("Reshape", &["lstm", "merge"], "y", vec![]),
                ],
            ),
        ];
        for (dirs, nodes) in variants {
            let n = nodes.len();
            let m = model(&[5, 4], data_type::FLOAT, nodes, lstm_weights(dirs), "y");
            let imported = import_model(&m, "lstm.onnx", "lstm").unwrap();
            let net = &imported.network;
            assert_eq!(net.nodes().len(), 1, "{:?}", net.nodes());
            assert_eq!(net.nodes()[0].name, "lstm");
            assert_eq!(net.nodes()[0].output_shape, [5, 3 * dirs]);
            assert_eq!(imported.operator_nodes, [(0..n).collect::<Vec<_>>()]);
            assert_eq!(imported.output_names, ["y"]);
        }

        // An LSTM without its layout nodes says which forms are read.
        let m = model(
            &[5, 4],
            data_type::FLOAT,
            vec![lstm_node("x", vec![])],
            lstm_weights(1),
            "lstm",
        );
        let err = import_model(&m, "lstm.onnx", "lstm")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("lstm.onnx") && err.contains("Transpose[1,0,2]"),
            "{err}"
        );
    }

    #[test]
    fn embeddings_read_integer_ids_and_other_readers_of_ids_are_refused() {
        let table = zeros("table", &[10, 4]);
        let positions = onnx::i64_tensor_shaped("pos", &[1, 3], &[0, 1, 2]);
        let nodes = vec![
            node("Gather", &["table", "x"], "tok", vec![]),
            node("Gather", &["table", "pos"], "p", vec![]),
            node("Add", &["tok", "p"], "y", vec![]),
        ];
        let m = model(
            &[3],
            data_type::INT64,
            nodes,
            vec![table.clone(), positions],
            "y",
        );
        let imported = import_model(&m, "emb.onnx", "emb").unwrap();
        let kinds: Vec<_> = imported
            .network
            .nodes()
            .iter()
            .map(|n| n.layer.clone())
            .collect();
        assert!(matches!(
            kinds[0],
            Layer::Embedding {
                vocab: 10,
                dim: 4,
                ids: EmbeddingIds::Tokens
            }
        ));
        assert!(matches!(
            kinds[1],
            Layer::Embedding {
                ids: EmbeddingIds::Positions,
                ..
            }
        ));
        assert_eq!(imported.batch_one, [false, true, false]);

        let m = model(
            &[3],
            data_type::INT64,
            vec![node("Relu", &["x"], "y", vec![])],
            vec![],
            "y",
        );
        let err = import_model(&m, "ids.onnx", "ids").unwrap_err().to_string();
        assert!(err.contains("only Gather"), "{err}");

        // A Gather of an activation (a dynamic shape computation) is named as such.
        let m = model(
            &[3, 4],
            data_type::FLOAT,
            vec![node("Gather", &["x", "i"], "y", vec![])],
            vec![onnx::i64_tensor("i", &[0])],
            "y",
        );
        let err = import_model(&m, "dyn.onnx", "dyn").unwrap_err().to_string();
        assert!(err.contains("Shape → Gather"), "{err}");
    }

    #[test]
    fn reshape_targets_keep_the_batch_and_resolve_zero_and_minus_one() {
        assert_eq!(reshape_target(&[4, 3, 2], &[0, -1], false), Ok(vec![24]));
        assert_eq!(
            reshape_target(&[4, 3, 2], &[0, 0, 6], false),
            Ok(vec![4, 6])
        );
        assert_eq!(
            reshape_target(&[4, 3, 2], &[-1, 12, 2], false),
            Ok(vec![12, 2])
        );
        assert!(reshape_target(&[4, 3, 2], &[1, 24], false).is_err());
        assert!(reshape_target(&[4, 3, 2], &[0, 5, -1], false).is_err());
    }
}
