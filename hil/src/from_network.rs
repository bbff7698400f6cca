//! ONNX models built from the simulator's layer graphs ([`Network`]), with random weights.
//!
//! Every [`LayerNode`](infscaler_sim::model::layers::LayerNode) becomes one ONNX node, or the
//! group of nodes that ONNX (opset 17) needs for it: a linear layer on a sequence with a bias is
//! `MatMul` + `Add`, GELU is `Div → Erf → Add → Mul → Mul` (PyTorch's export), SiLU is
//! `Sigmoid` + `Mul`, `Q·Kᵀ` is `Transpose` + `MatMul`, a tied LM head transposes the embedding
//! table, and an LSTM gets the transposes and reshape that make it batch-first. The importer
//! reads each group back as one operator ([`infscaler_sim::model::onnx::fuse`]), so operator `i`
//! of the file is layer `i` and the partition cuts of a scenario (`policy.stages[].cuts`) apply
//! unchanged (see [`crate::split`]).
//!
//! # Naming
//!
//! The graph input is `input`, of shape `[N, ..input_shape]` with the batch dimension `N`
//! symbolic: float, or INT64 token ids for a model that looks up embeddings. Each layer writes
//! one value named after it, made by its group's last node; the group's main node (the `LSTM`,
//! the `Erf`, the `MatMul`) carries the layer's name, its other nodes and inner values are
//! `<layer>/<what>`. Weights are `<layer>.weight`, `<layer>.bias` and so on. The graph outputs
//! are the values no layer reads (the last layer's, for a chain). Every other layer's value gets
//! a `value_info` entry with its shape; position and segment embeddings look up a `[1, T]`
//! constant, as Hugging Face's exports do, so their values (and what is computed from them
//! alone) have batch dimension 1 and broadcast.
//!
//! # Weights
//!
//! Weights are drawn from ChaCha8 seeded with [`BuildOptions::seed`], one stream per node
//! index, so a layer's weights do not depend on the layers around it. Kaiming-uniform bounds
//! (√(6 / fan_in)) keep activations in range through deep ReLU stacks. Random weights cost the
//! same time to run as trained ones: no operator here has data-dependent work.

use infscaler_sim::model::ActivationFn;
use infscaler_sim::model::layers::{EmbeddingIds, Layer, Network, PoolMode, TensorRef};
use infscaler_sim::model::zoo::{self, ZooError, ZooOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use crate::onnx::proto::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, data_type,
};
use crate::onnx::{self, Dim};

/// The ONNX opset the built models import. Opset 17 ships with ONNX 1.12 at IR version 8
/// (onnx/onnx docs/Versioning.md, "Released Versions" table); ONNX Runtime supports it since
/// 1.12 (onnxruntime docs, "ONNX Runtime compatibility" table).
pub const OPSET: i64 = 17;

/// IR version of the built models (ONNX 1.12, with opset 17; docs/Versioning.md).
pub const IR_VERSION: i64 = 8;

/// Name of the graph input of every built model.
pub const INPUT_NAME: &str = "input";

/// Batch-norm ε of the built models: PyTorch's `BatchNorm2d` default (torch.nn.BatchNorm2d
/// docs, `eps=1e-05`), which the torchvision models the zoo follows use.
const BATCH_NORM_EPSILON: f32 = 1e-5;

/// Layer-norm ε: PyTorch's `LayerNorm` default (torch.nn.LayerNorm docs, `eps=1e-05`).
const LAYER_NORM_EPSILON: f32 = 1e-5;

/// Negative slope of [`ActivationFn::LeakyRelu`]: 0.1, as darknet's `leaky` activation
/// (darknet `src/activations.h`, `leaky_activate`: `x > 0 ? x : .1 * x`), used by YOLOv3-tiny,
/// the zoo model with leaky ReLUs. The simulator does not carry the slope; it does not change
/// the cost.
const LEAKY_RELU_ALPHA: f32 = 0.1;

/// How a model is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Seed of the random weights.
    pub seed: u64,
}

/// Why a network cannot be written as ONNX.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// A layer kind the builder does not write yet.
    #[error(
        "model `{model}`, layer `{layer}` ({kind}): cannot be written as ONNX yet: {reason}. \
         Supported: every layer kind but kv_cache"
    )]
    UnsupportedLayer {
        /// Model name.
        model: String,
        /// Layer name.
        layer: String,
        /// Layer kind, as in the layer's serialised `kind`.
        kind: &'static str,
        /// What is missing.
        reason: String,
    },
    /// The zoo has no such model.
    #[error(transparent)]
    Zoo(#[from] ZooError),
}

/// The `kind` tag a layer serialises with (for messages).
pub fn layer_kind_name(layer: &Layer) -> &'static str {
    match layer {
        Layer::Conv2d { .. } => "conv2d",
        Layer::ConvTranspose2d { .. } => "conv_transpose2d",
        Layer::Linear { .. } => "linear",
        Layer::Unembedding { .. } => "unembedding",
        Layer::Activation { .. } => "activation",
        Layer::Pool { .. } => "pool",
        Layer::GlobalPool { .. } => "global_pool",
        Layer::Lrn { .. } => "lrn",
        Layer::BatchNorm { .. } => "batch_norm",
        Layer::LayerNorm { .. } => "layer_norm",
        Layer::Add => "add",
        Layer::Mul => "mul",
        Layer::Concat { .. } => "concat",
        Layer::KvCache { .. } => "kv_cache",
        Layer::Resize { .. } => "resize",
        Layer::Softmax => "softmax",
        Layer::Flatten => "flatten",
        Layer::Reshape { .. } => "reshape",
        Layer::Transpose { .. } => "transpose",
        Layer::Slice { .. } => "slice",
        Layer::Dropout { .. } => "dropout",
        Layer::Embedding { .. } => "embedding",
        Layer::MatMul { .. } => "matmul",
        Layer::Lstm { .. } => "lstm",
    }
}

/// The zoo model `name` as ONNX, built from [`zoo::build_network`].
pub fn zoo_model(
    name: &str,
    zoo_opts: &ZooOptions,
    opts: &BuildOptions,
) -> Result<ModelProto, BuildError> {
    let net = zoo::build_network(name, zoo_opts)?;
    model_from_network(&net, opts)
}

/// The ONNX model of `net`: one node per layer, random weights (see the module documentation).
pub fn model_from_network(net: &Network, opts: &BuildOptions) -> Result<ModelProto, BuildError> {
    let nodes = net.nodes();
    let value_name = |t: TensorRef| match t {
        TensorRef::Input => INPUT_NAME.to_string(),
        TensorRef::Node { index } => nodes[index].name.clone(),
    };
    let mut read = vec![false; nodes.len()];
    for n in nodes {
        for t in &n.inputs {
            if let TensorRef::Node { index } = *t {
                read[index] = true;
            }
        }
    }

    let input_type = if onnx::reads_token_ids(net) {
        data_type::INT64
    } else {
        data_type::FLOAT
    };
    let mut graph = GraphProto {
        name: net.name().to_string(),
        input: vec![onnx::typed_value_info(
            INPUT_NAME,
            &onnx::batched(net.input_shape()),
            input_type,
        )],
        ..Default::default()
    };
    let batch_one = onnx::batch_one_nodes(net);
    for (index, n) in nodes.iter().enumerate() {
        let inputs: Vec<String> = n.inputs.iter().map(|&t| value_name(t)).collect();
        let in_shapes: Vec<&[usize]> = n
            .inputs
            .iter()
            .map(|&t| net.shape_of(t).unwrap_or(&[]))
            .collect();
        let tied = tied_table(net, &n.layer, index);
        let mut w = Weights {
            rng: layer_rng(opts.seed, index),
            layer: &n.name,
            initializers: &mut graph.initializer,
        };
        let unsupported = |reason: &str| BuildError::UnsupportedLayer {
            model: net.name().to_string(),
            layer: n.name.clone(),
            kind: layer_kind_name(&n.layer),
            reason: reason.to_string(),
        };
        let group = layer_nodes(&n.layer, &n.name, inputs, &in_shapes, tied, &mut w)
            .map_err(|reason| unsupported(&reason))?;
        graph.node.extend(group);
        let shape: Vec<Dim> = if batch_one[index] {
            std::iter::once(Dim::Fixed(1))
                .chain(n.output_shape.iter().map(|&d| Dim::Fixed(d as u64)))
                .collect()
        } else {
            onnx::batched(&n.output_shape)
        };
        let info = onnx::value_info(&n.name, &shape);
        if read[index] {
            graph.value_info.push(info);
        } else {
            graph.output.push(info);
        }
    }
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "infscaler-hil".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        doc_string: format!(
            "{} built from the infscaler layer graph with random weights (seed {})",
            net.name(),
            opts.seed
        ),
        graph: Some(graph),
        ..Default::default()
    })
}

/// The table a tied projection ([`Layer::Unembedding`]) at `index` shares: the weight of the
/// last token embedding before it with the same shape.
fn tied_table(net: &Network, layer: &Layer, index: usize) -> Option<String> {
    let Layer::Unembedding { vocab, dim } = *layer else {
        return None;
    };
    net.nodes()[..index]
        .iter()
        .rev()
        .find_map(|n| match n.layer {
            Layer::Embedding {
                vocab: v,
                dim: d,
                ids: EmbeddingIds::Tokens,
            } if (v, d) == (vocab, dim) => Some(format!("{}.weight", n.name)),
            _ => None,
        })
}

/// The random stream of node `index`'s weights.
fn layer_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    rng
}

/// Adds one layer's initialisers to the graph.
struct Weights<'a> {
    rng: ChaCha8Rng,
    layer: &'a str,
    initializers: &'a mut Vec<TensorProto>,
}

impl Weights<'_> {
    /// A tensor `<layer>.<suffix>` of uniform values in `lo..hi`; returns its name.
    fn uniform(&mut self, suffix: &str, dims: &[usize], lo: f32, hi: f32) -> String {
        let n: usize = dims.iter().product();
        let values: Vec<f32> = (0..n).map(|_| self.rng.random_range(lo..hi)).collect();
        self.push(onnx::f32_tensor(&self.name(suffix), dims, &values))
    }

    /// Kaiming-uniform weights for `fan_in` inputs per output.
    fn kaiming(&mut self, suffix: &str, dims: &[usize], fan_in: usize) -> String {
        let bound = (6.0 / fan_in.max(1) as f32).sqrt();
        self.uniform(suffix, dims, -bound, bound)
    }

    /// A bias of `n` values within ±1/√fan_in (PyTorch's default bias initialisation).
    fn bias(&mut self, n: usize, fan_in: usize) -> String {
        let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
        self.uniform("bias", &[n], -bound, bound)
    }

    fn i64s(&mut self, suffix: &str, values: &[i64]) -> String {
        self.push(onnx::i64_tensor(&self.name(suffix), values))
    }

    fn scalar(&mut self, suffix: &str, value: f32) -> String {
        self.push(onnx::f32_scalar(&self.name(suffix), value))
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.layer)
    }

    fn push(&mut self, t: TensorProto) -> String {
        let name = t.name.clone();
        self.initializers.push(t);
        name
    }
}

/// A node named `name` that writes the value `name`.
fn node(op_type: &str, name: &str, input: Vec<String>) -> NodeProto {
    node_to(op_type, name, input, name)
}

/// A node named `name` that writes the value `output`.
fn node_to(op_type: &str, name: &str, input: Vec<String>, output: &str) -> NodeProto {
    NodeProto {
        input,
        output: vec![output.to_string()],
        name: name.to_string(),
        op_type: op_type.to_string(),
        ..Default::default()
    }
}

/// `<layer>/<what>`: an inner node or value of a layer's group.
fn inner(layer: &str, what: &str) -> String {
    format!("{layer}/{what}")
}

fn ints(v: &[usize]) -> impl Iterator<Item = i64> + '_ {
    v.iter().map(|&x| x as i64)
}

/// The ONNX nodes of one layer (see the module documentation). `x` holds the names of the
/// values it reads, `in_shapes` their per-sample shapes; `tied` names the embedding table a tied
/// projection shares.
fn layer_nodes(
    layer: &Layer,
    name: &str,
    mut x: Vec<String>,
    in_shapes: &[&[usize]],
    tied: Option<String>,
    w: &mut Weights<'_>,
) -> Result<Vec<NodeProto>, String> {
    let in_shape = in_shapes.first().copied().unwrap_or(&[]);
    let n = match *layer {
        Layer::Conv2d {
            in_ch,
            out_ch,
            kernel,
            stride,
            pads,
            groups,
            bias,
        } => {
            let fan_in = in_ch / groups * kernel[0] * kernel[1];
            x.push(w.kaiming(
                "weight",
                &[out_ch, in_ch / groups, kernel[0], kernel[1]],
                fan_in,
            ));
            if bias {
                x.push(w.bias(out_ch, fan_in));
            }
            let mut n = node("Conv", name, x);
            n.attribute = vec![
                onnx::attr_ints("kernel_shape", ints(&kernel)),
                onnx::attr_ints("strides", ints(&stride)),
                onnx::attr_ints("pads", ints(&pads)),
                onnx::attr_ints("dilations", [1, 1]),
                onnx::attr_int("group", groups as i64),
            ];
            n
        }
        Layer::ConvTranspose2d {
            in_ch,
            out_ch,
            kernel,
            stride,
            pads,
            output_padding,
            groups,
            bias,
        } => {
            let fan_in = in_ch / groups * kernel[0] * kernel[1];
            // ONNX ConvTranspose weights are [C_in, C_out / group, kH, kW].
            x.push(w.kaiming(
                "weight",
                &[in_ch, out_ch / groups, kernel[0], kernel[1]],
                fan_in,
            ));
            if bias {
                x.push(w.bias(out_ch, fan_in));
            }
            let mut n = node("ConvTranspose", name, x);
            n.attribute = vec![
                onnx::attr_ints("kernel_shape", ints(&kernel)),
                onnx::attr_ints("strides", ints(&stride)),
                onnx::attr_ints("pads", ints(&pads)),
                onnx::attr_ints("output_padding", ints(&output_padding)),
                onnx::attr_ints("dilations", [1, 1]),
                onnx::attr_int("group", groups as i64),
            ];
            n
        }
        Layer::Linear {
            in_features,
            out_features,
            bias,
        } => {
            if in_shape.len() != 1 {
                // On a sequence: MatMul by the weight stored [in, out], as PyTorch exports it,
                // then the bias.
                x.push(w.kaiming("weight", &[in_features, out_features], in_features));
                if !bias {
                    return Ok(vec![node("MatMul", name, x)]);
                }
                let product = inner(name, "matmul");
                let matmul = node_to("MatMul", name, x, &product);
                let b = w.bias(out_features, in_features);
                return Ok(vec![
                    matmul,
                    node_to("Add", &inner(name, "bias"), vec![product, b], name),
                ]);
            }
            // Gemm: Y = X · Bᵀ + C with B stored [out, in] (transB = 1), as PyTorch stores it.
            x.push(w.kaiming("weight", &[out_features, in_features], in_features));
            if bias {
                x.push(w.bias(out_features, in_features));
            }
            let mut n = node("Gemm", name, x);
            n.attribute = vec![onnx::attr_int("transB", 1)];
            n
        }
        Layer::Activation { function } => match function {
            ActivationFn::Relu => node("Relu", name, x),
            ActivationFn::Relu6 => {
                x.push(w.scalar("min", 0.0));
                x.push(w.scalar("max", 6.0));
                node("Clip", name, x)
            }
            ActivationFn::Sigmoid => node("Sigmoid", name, x),
            ActivationFn::Tanh => node("Tanh", name, x),
            ActivationFn::LeakyRelu => {
                let mut n = node("LeakyRelu", name, x);
                n.attribute = vec![onnx::attr_float("alpha", LEAKY_RELU_ALPHA)];
                n
            }
            ActivationFn::Gelu => return Ok(gelu_nodes(name, &x[0], w)),
            ActivationFn::Silu => {
                let gate = inner(name, "sigmoid");
                return Ok(vec![
                    node_to("Sigmoid", name, vec![x[0].clone()], &gate),
                    node_to("Mul", &inner(name, "mul"), vec![x[0].clone(), gate], name),
                ]);
            }
        },
        Layer::Pool {
            mode,
            kernel,
            stride,
            pads,
            ceil_mode,
        } => {
            let op = match mode {
                PoolMode::Max => "MaxPool",
                PoolMode::Avg => "AveragePool",
            };
            let mut n = node(op, name, x);
            n.attribute = vec![
                onnx::attr_ints("kernel_shape", ints(&kernel)),
                onnx::attr_ints("strides", ints(&stride)),
                onnx::attr_ints("pads", ints(&pads)),
                onnx::attr_int("ceil_mode", i64::from(ceil_mode)),
            ];
            n
        }
        Layer::GlobalPool { mode } => match mode {
            PoolMode::Max => node("GlobalMaxPool", name, x),
            PoolMode::Avg => node("GlobalAveragePool", name, x),
        },
        Layer::Lrn {
            size,
            alpha,
            beta,
            bias,
        } => {
            // ONNX LRN divides α by `size` as Caffe does (onnx docs/Operators.md, LRN), so
            // Caffe's parameters carry over unchanged.
            let mut n = node("LRN", name, x);
            n.attribute = vec![
                onnx::attr_int("size", size as i64),
                onnx::attr_float("alpha", alpha as f32),
                onnx::attr_float("beta", beta as f32),
                onnx::attr_float("bias", bias as f32),
            ];
            n
        }
        Layer::BatchNorm { channels } => {
            x.push(w.uniform("weight", &[channels], 0.5, 1.5));
            x.push(w.uniform("bias", &[channels], -0.1, 0.1));
            x.push(w.uniform("running_mean", &[channels], -0.1, 0.1));
            x.push(w.uniform("running_var", &[channels], 0.5, 1.5));
            let mut n = node("BatchNormalization", name, x);
            n.attribute = vec![onnx::attr_float("epsilon", BATCH_NORM_EPSILON)];
            n
        }
        Layer::LayerNorm { dim } => {
            x.push(w.uniform("weight", &[dim], 0.5, 1.5));
            x.push(w.uniform("bias", &[dim], -0.1, 0.1));
            let mut n = node("LayerNormalization", name, x);
            n.attribute = vec![
                onnx::attr_int("axis", -1),
                onnx::attr_float("epsilon", LAYER_NORM_EPSILON),
            ];
            n
        }
        Layer::Add => node("Add", name, x),
        Layer::Mul => node("Mul", name, x),
        Layer::Concat { axis } => {
            let mut n = node("Concat", name, x);
            n.attribute = vec![onnx::attr_int("axis", axis as i64 + 1)];
            n
        }
        Layer::Resize { scale } => {
            let s = scale as f32;
            let scales = [1.0, 1.0, s, s];
            let scales_name = w.push(onnx::f32_tensor(&w.name("scales"), &[4], &scales));
            // Inputs X, roi (left out), scales.
            x.push(String::new());
            x.push(scales_name);
            let mut n = node("Resize", name, x);
            n.attribute = vec![
                onnx::attr_string("mode", "nearest"),
                onnx::attr_string("coordinate_transformation_mode", "asymmetric"),
                onnx::attr_string("nearest_mode", "floor"),
            ];
            n
        }
        Layer::Softmax => {
            let mut n = node("Softmax", name, x);
            n.attribute = vec![onnx::attr_int("axis", -1)];
            n
        }
        Layer::Flatten => {
            let mut n = node("Flatten", name, x);
            n.attribute = vec![onnx::attr_int("axis", 1)];
            n
        }
        Layer::Reshape { ref shape } => {
            // 0 copies the batch dimension (allowzero = 0, the default).
            let target: Vec<i64> = std::iter::once(0).chain(ints(shape)).collect();
            x.push(w.i64s("shape", &target));
            node("Reshape", name, x)
        }
        Layer::Transpose { ref perm } => {
            let mut n = node("Transpose", name, x);
            n.attribute = vec![onnx::attr_ints(
                "perm",
                std::iter::once(0).chain(perm.iter().map(|&p| p as i64 + 1)),
            )];
            n
        }
        Layer::Slice { axis, start, end } => {
            x.push(w.i64s("starts", &[start as i64]));
            x.push(w.i64s("ends", &[end as i64]));
            x.push(w.i64s("axes", &[axis as i64 + 1]));
            node("Slice", name, x)
        }
        Layer::Dropout { ratio } => {
            // Without `training_mode`, Dropout is the identity (onnx docs/Operators.md, Dropout).
            x.push(w.scalar("ratio", ratio as f32));
            node("Dropout", name, x)
        }
        Layer::Embedding { vocab, dim, ids } => {
            // PyTorch initialises embeddings N(0, 1); uniform ±1 has the same scale.
            let table = w.uniform("weight", &[vocab, dim], -1.0, 1.0);
            let tokens = in_shape.first().copied().unwrap_or(0);
            let ids = match ids {
                EmbeddingIds::Tokens => x[0].clone(),
                EmbeddingIds::Positions | EmbeddingIds::FirstSegment => {
                    let values: Vec<i64> = match ids {
                        EmbeddingIds::Positions => (0..tokens as i64).collect(),
                        _ => vec![0; tokens],
                    };
                    w.push(onnx::i64_tensor_shaped(
                        &w.name("ids"),
                        &[1, tokens],
                        &values,
                    ))
                }
            };
            node("Gather", name, vec![table, ids])
        }
        Layer::Unembedding { vocab, dim } => {
            // Y = X · tableᵀ, the table shared with the token embedding (GPT-2's tied LM head).
            let table = match tied {
                Some(t) => t,
                None => w.uniform("weight", &[vocab, dim], -1.0, 1.0),
            };
            let transposed = inner(name, "weight_t");
            let mut t = node_to("Transpose", &transposed, vec![table], &transposed);
            t.attribute = vec![onnx::attr_ints("perm", [1, 0])];
            x.push(transposed);
            return Ok(vec![t, node("MatMul", name, x)]);
        }
        Layer::MatMul { transpose_b } => {
            if !transpose_b {
                return Ok(vec![node("MatMul", name, x)]);
            }
            // Batch dimension included: swap the last two of rank r.
            let r = in_shapes.get(1).map_or(0, |s| s.len()) as i64 + 1;
            let transposed = inner(name, "transpose_b");
            let mut t = node_to("Transpose", &transposed, vec![x[1].clone()], &transposed);
            t.attribute = vec![onnx::attr_ints("perm", (0..r - 2).chain([r - 1, r - 2]))];
            x[1] = transposed;
            return Ok(vec![t, node("MatMul", name, x)]);
        }
        Layer::Lstm {
            input_size,
            hidden,
            bidirectional,
        } => {
            return Ok(lstm_nodes(
                name,
                &x[0],
                input_size,
                hidden,
                bidirectional,
                w,
            ));
        }
        Layer::KvCache { .. } => {
            return Err(
                "KV caches read a decoder's past keys and values, a second model input; the \
                 simulator's ONNX models have one input"
                    .into(),
            );
        }
    };
    Ok(vec![n])
}

/// GELU as PyTorch exports it before opset 20: `x · (1 + erf(x / √2)) · 0.5`.
fn gelu_nodes(name: &str, x: &str, w: &mut Weights<'_>) -> Vec<NodeProto> {
    let sqrt2 = w.scalar("sqrt2", std::f32::consts::SQRT_2);
    let one = w.scalar("one", 1.0);
    let half = w.scalar("half", 0.5);
    let (scaled, erf, plus_one, product) = (
        inner(name, "div"),
        inner(name, "erf"),
        inner(name, "add"),
        inner(name, "mul"),
    );
    vec![
        node_to("Div", &scaled, vec![x.into(), sqrt2], &scaled),
        node_to("Erf", name, vec![scaled], &erf),
        node_to("Add", &plus_one, vec![erf, one], &plus_one),
        node_to("Mul", &product, vec![x.into(), plus_one], &product),
        node_to("Mul", &inner(name, "half"), vec![product, half], name),
    ]
}

/// An LSTM on a batch-first `[N, T, in]` sequence: `Transpose[1,0,2]` to ONNX's time-major
/// layout (ONNX Runtime runs `layout = 1` on no provider we use), `LSTM`, then
/// `Transpose[2,0,1,3]` of `Y` (`[T, dirs, N, h]`) and `Reshape[0,0,-1]` to `[N, T, dirs · h]`.
/// Weights uniform in ±1/√h, PyTorch's `nn.LSTM` initialisation.
fn lstm_nodes(
    name: &str,
    x: &str,
    input_size: usize,
    hidden: usize,
    bidirectional: bool,
    w: &mut Weights<'_>,
) -> Vec<NodeProto> {
    let dirs = if bidirectional { 2 } else { 1 };
    let bound = 1.0 / (hidden.max(1) as f32).sqrt();
    let weights = w.uniform("W", &[dirs, 4 * hidden, input_size], -bound, bound);
    let recurrence = w.uniform("R", &[dirs, 4 * hidden, hidden], -bound, bound);
    let biases = w.uniform("B", &[dirs, 8 * hidden], -bound, bound);
    let merge = w.i64s("merge_shape", &[0, 0, -1]);
    let (time_major, y, batch_major) = (
        inner(name, "time_major"),
        inner(name, "y"),
        inner(name, "batch_major"),
    );
    let mut to_time = node_to("Transpose", &time_major, vec![x.into()], &time_major);
    to_time.attribute = vec![onnx::attr_ints("perm", [1, 0, 2])];
    let mut lstm = node_to(
        "LSTM",
        name,
        vec![time_major, weights, recurrence, biases],
        &y,
    );
    lstm.attribute = vec![
        onnx::attr_int("hidden_size", hidden as i64),
        onnx::attr_string(
            "direction",
            if bidirectional {
                "bidirectional"
            } else {
                "forward"
            },
        ),
    ];
    let mut to_batch = node_to("Transpose", &batch_major, vec![y], &batch_major);
    to_batch.attribute = vec![onnx::attr_ints("perm", [2, 0, 1, 3])];
    let reshape = node_to(
        "Reshape",
        &inner(name, "merge_directions"),
        vec![batch_major, merge],
        name,
    );
    vec![to_time, lstm, to_batch, reshape]
}
