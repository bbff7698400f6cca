//! ONNX models built from the simulator's layer graphs ([`Network`]), with random weights.
//!
//! Every [`LayerNode`](infscaler_sim::model::layers::LayerNode) becomes exactly one ONNX node,
//! so ONNX node `i` is the simulator's operator `i` and the partition cuts of a scenario
//! (`policy.stages[].cuts`) apply to the ONNX graph unchanged (see [`crate::split`]).
//!
//! # Naming
//!
//! The graph input is `input`, of shape `[N, ..input_shape]` with the batch dimension `N`
//! symbolic. Each node is named after its layer and writes one value of the same name; weights
//! are `<layer>.weight`, `<layer>.bias` and so on. The graph outputs are the values no node
//! reads (the last layer's, for a chain). Every other value gets a `value_info` entry with its
//! shape.
//!
//! # Weights
//!
//! Weights are drawn from ChaCha8 seeded with [`BuildOptions::seed`], one stream per node
//! index, so a layer's weights do not depend on the layers around it. Kaiming-uniform bounds
//! (√(6 / fan_in)) keep activations in range through deep ReLU stacks. Random weights cost the
//! same time to run as trained ones: no operator here has data-dependent work.

use infscaler_sim::model::ActivationFn;
use infscaler_sim::model::layers::{Layer, Network, PoolMode, TensorRef};
use infscaler_sim::model::zoo::{self, ZooError, ZooOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use crate::onnx;
use crate::onnx::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto};

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
         Supported: conv2d, conv_transpose2d, linear on a vector, relu, relu6, sigmoid, tanh, \
         leaky_relu, pool, global_pool, lrn, batch_norm, layer_norm, add, mul, concat, resize, \
         softmax, flatten, reshape, transpose, slice, dropout"
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

    let mut graph = GraphProto {
        name: net.name().to_string(),
        input: vec![onnx::value_info(
            INPUT_NAME,
            &onnx::batched(net.input_shape()),
        )],
        ..Default::default()
    };
    for (index, n) in nodes.iter().enumerate() {
        let inputs: Vec<String> = n.inputs.iter().map(|&t| value_name(t)).collect();
        let in_shape = net.shape_of(n.inputs[0]).unwrap_or(&[]);
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
        let node = layer_node(&n.layer, &n.name, inputs, in_shape, &mut w)
            .map_err(|reason| unsupported(&reason))?;
        graph.node.push(node);
        let info = onnx::value_info(&n.name, &onnx::batched(&n.output_shape));
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

fn node(op_type: &str, name: &str, input: Vec<String>) -> NodeProto {
    NodeProto {
        input,
        output: vec![name.to_string()],
        name: name.to_string(),
        op_type: op_type.to_string(),
        ..Default::default()
    }
}

fn ints(v: &[usize]) -> impl Iterator<Item = i64> + '_ {
    v.iter().map(|&x| x as i64)
}

/// The ONNX node of one layer. `x` holds the names of the values it reads; `in_shape` is the
/// per-sample shape of the first.
fn layer_node(
    layer: &Layer,
    name: &str,
    mut x: Vec<String>,
    in_shape: &[usize],
    w: &mut Weights<'_>,
) -> Result<NodeProto, String> {
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
                return Err(format!(
                    "linear on a rank-{} sample needs MatMul + Add, which is not written yet \
                     (only linear on a vector, as Gemm)",
                    in_shape.len()
                ));
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
            ActivationFn::Gelu => {
                return Err(
                    "GELU is an ONNX operator only from opset 20; opset 17 is written".into(),
                );
            }
            ActivationFn::Silu => {
                return Err(
                    "SiLU takes two ONNX nodes (Sigmoid, Mul); one node per layer is written"
                        .into(),
                );
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
        Layer::Embedding { .. } => {
            return Err("embedding look-ups (Gather on integer ids) are not written yet".into());
        }
        Layer::Unembedding { .. } => {
            return Err("tied-embedding projections are not written yet".into());
        }
        Layer::MatMul { .. } => {
            return Err("matrix products of two activations are not written yet".into());
        }
        Layer::Lstm { .. } => return Err("LSTM is not written yet".into()),
        Layer::KvCache { .. } => {
            return Err("KV caches (a decoder's past keys and values) are not written yet".into());
        }
    };
    Ok(n)
}
