//! One operator of a model: its kind and the work it does, computed from layer shapes.

use serde::{Deserialize, Serialize};

/// Activation functions, told apart because accelerators support different ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationFn {
    /// max(0, x)
    Relu,
    /// min(max(0, x), 6), as MobileNetV2 uses (a Clip on the DLA).
    Relu6,
    /// 1 / (1 + e^-x)
    Sigmoid,
    /// tanh(x)
    Tanh,
    /// max(αx, x)
    LeakyRelu,
    /// x·Φ(x), as BERT and GPT-2 use.
    Gelu,
    /// x·sigmoid(x)
    Silu,
}

/// What an operator computes, at the granularity accelerators care about.
///
/// The DLA supports a subset of these (TensorRT's DLA layer list); see
/// [`super::cost::supports`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// 2-D convolution, including grouped and depthwise.
    Conv,
    /// Transposed convolution.
    Deconv,
    /// Fully-connected layer / Gemm / MatMul with a constant (weight) operand.
    FullyConnected,
    /// MatMul of two activations (attention scores and context).
    MatMul,
    /// Element-wise activation function.
    Activation(ActivationFn),
    /// Max or average pooling, including global pooling.
    Pooling,
    /// Local response normalisation (AlexNet).
    Lrn,
    /// Batch normalisation or per-channel scale (folded into conv on deployment, kept here).
    BatchNorm,
    /// Layer normalisation (transformers).
    LayerNorm,
    /// Element-wise binary operation: residual add, multiply.
    Elementwise,
    /// Concatenation along channels.
    Concat,
    /// Resize / upsample.
    Resize,
    /// Softmax.
    Softmax,
    /// Reshape, transpose, flatten, slice: data movement only.
    Shuffle,
    /// Embedding look-up (Gather).
    Embedding,
    /// Recurrent layer (LSTM / GRU), unrolled over its sequence.
    Recurrent,
}

impl OpKind {
    /// Short stable name used in tables and profile files.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Conv => "conv",
            OpKind::Deconv => "deconv",
            OpKind::FullyConnected => "fc",
            OpKind::MatMul => "matmul",
            OpKind::Activation(ActivationFn::Relu) => "relu",
            OpKind::Activation(ActivationFn::Relu6) => "relu6",
            OpKind::Activation(ActivationFn::Sigmoid) => "sigmoid",
            OpKind::Activation(ActivationFn::Tanh) => "tanh",
            OpKind::Activation(ActivationFn::LeakyRelu) => "leaky_relu",
            OpKind::Activation(ActivationFn::Gelu) => "gelu",
            OpKind::Activation(ActivationFn::Silu) => "silu",
            OpKind::Pooling => "pool",
            OpKind::Lrn => "lrn",
            OpKind::BatchNorm => "batchnorm",
            OpKind::LayerNorm => "layernorm",
            OpKind::Elementwise => "eltwise",
            OpKind::Concat => "concat",
            OpKind::Resize => "resize",
            OpKind::Softmax => "softmax",
            OpKind::Shuffle => "shuffle",
            OpKind::Embedding => "embedding",
            OpKind::Recurrent => "recurrent",
        }
    }

    /// The efficiency class of this kind: dense math (conv/fc/matmul/recurrent) runs near peak,
    /// everything else is bandwidth-bound element-wise work.
    pub fn is_dense_math(self) -> bool {
        matches!(
            self,
            OpKind::Conv
                | OpKind::Deconv
                | OpKind::FullyConnected
                | OpKind::MatMul
                | OpKind::Recurrent
        )
    }
}

/// One operator of a model, per sample (batch 1). Work for a batch of `b` is `b ×` the
/// per-sample figures, except weights, which are read once per batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Operator {
    /// Human-readable name, unique within the model (e.g. `conv1`, `layer3.2.conv2`).
    pub name: String,
    /// What it computes.
    pub kind: OpKind,
    /// Floating-point operations per sample (one multiply-accumulate = 2 FLOPs).
    pub flops: u64,
    /// Activation elements read per sample (all inputs that are not weights).
    pub input_elems: u64,
    /// Activation elements written per sample.
    pub output_elems: u64,
    /// Learned parameters (weights and biases), read once per batch.
    pub params: u64,
}

impl Operator {
    /// Bytes of the output tensor of one sample at `bytes_per_elem` (4 for FP32, 2 for FP16).
    pub fn output_bytes(&self, bytes_per_elem: u64) -> u64 {
        self.output_elems * bytes_per_elem
    }

    /// Bytes moved to and from memory for a batch of `batch` samples: activations in and out
    /// per sample, weights once.
    pub fn bytes_moved(&self, batch: u64, bytes_per_elem: u64) -> u64 {
        (batch * (self.input_elems + self.output_elems) + self.params) * bytes_per_elem
    }
}
