//! Layer descriptions and a shape-tracking builder that turns them into [`Operator`]s.
//!
//! A model is described once, as a [`Network`]: a list of named [`LayerNode`]s in topological
//! order, each holding a [`Layer`] (the hyperparameters) and the tensors it reads. The operator
//! list the simulator uses ([`Network::to_model`]) is computed from that description, and a later
//! ONNX builder can rebuild the same graph from it.
//!
//! # Shapes
//!
//! Shapes carry no batch dimension: images are `[C, H, W]`, token sequences `[T]` (ids),
//! hidden states `[T, D]`, multi-head tensors `[heads, T, d_head]`. Fully-connected layers act on
//! the last dimension, so `Linear` on `[T, D]` is applied to every token.
//!
//! # Counting convention (per sample)
//!
//! One multiply-accumulate (MAC) is **2 FLOPs**. Element-wise work is counted per output element:
//!
//! | layer | FLOPs |
//! |---|---|
//! | Conv2d | 2 · out_elems · (in_ch/groups) · kh · kw, + out_elems with bias |
//! | ConvTranspose2d | 2 · in_elems · (out_ch/groups) · kh · kw, + out_elems with bias |
//! | Linear | 2 · rows · in · out, + rows · out with bias |
//! | MatMul (two activations) | 2 · batch · m · k · n |
//! | LSTM | per step and direction: 2 · 4h · (in + h) + 32h (see below) |
//! | ReLU, ReLU6, LeakyReLU | 1 per element |
//! | Sigmoid, Tanh | 4 per element; SiLU 5; GELU 8 |
//! | Max/avg pooling | kh · kw per output element; global pooling H · W per channel |
//! | LRN | size + 5 per element (square, window sum, scale, power, divide) |
//! | BatchNorm (inference affine) | 2 per element |
//! | LayerNorm | 5 per element (mean, variance, normalise, scale, shift) |
//! | Softmax | 5 per element (max, subtract, exp, sum, divide) |
//! | Add, Mul | 1 per element |
//! | Concat, Resize (nearest), Flatten, Reshape, Transpose, Slice, Dropout, Embedding | 0 (data movement) |
//!
//! The LSTM's 32h element-wise FLOPs per step are the two bias adds (8h), three sigmoids and two
//! tanh at 4 FLOPs each (20h) and the cell update (4h).
//!
//! `input_elems` counts every activation element read (both operands of a binary operator, all
//! inputs of a concat), never weights; `params` counts learned weights and biases (BatchNorm and
//! LayerNorm: scale and shift; running statistics are not learned).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{ActivationFn, Model, OpKind, Operator};

/// Max or average pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    /// Maximum over the window.
    Max,
    /// Mean over the window.
    Avg,
}

/// Where the ids an [`Layer::Embedding`] looks up come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingIds {
    /// The token ids the layer is fed (`[T]`).
    Tokens,
    /// The positions `0..T` of the ids it is fed (learned position embeddings).
    Positions,
    /// Segment 0 at every position (BERT token-type embedding for a single-segment input).
    FirstSegment,
}

/// One layer's hyperparameters. Input channel and feature counts are stated explicitly so a
/// layer can be checked against the shape it is fed and rebuilt without the builder.
///
/// Padding is `[top, left, bottom, right]` (ONNX `pads` order for 2-D: begins then ends).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Layer {
    /// 2-D convolution (grouped or depthwise when `groups > 1`), no dilation.
    Conv2d {
        /// Input channels.
        in_ch: usize,
        /// Output channels.
        out_ch: usize,
        /// Kernel `[height, width]`.
        kernel: [usize; 2],
        /// Stride `[vertical, horizontal]`.
        stride: [usize; 2],
        /// Zero padding `[top, left, bottom, right]`.
        pads: [usize; 4],
        /// Channel groups; `in_ch` and `out_ch` must be multiples.
        groups: usize,
        /// Whether a bias is added.
        bias: bool,
    },
    /// 2-D transposed convolution.
    ConvTranspose2d {
        /// Input channels.
        in_ch: usize,
        /// Output channels.
        out_ch: usize,
        /// Kernel `[height, width]`.
        kernel: [usize; 2],
        /// Stride `[vertical, horizontal]`.
        stride: [usize; 2],
        /// Padding removed from the output `[top, left, bottom, right]`.
        pads: [usize; 4],
        /// Extra output rows and columns `[height, width]`.
        output_padding: [usize; 2],
        /// Channel groups.
        groups: usize,
        /// Whether a bias is added.
        bias: bool,
    },
    /// Fully-connected layer on the last dimension.
    Linear {
        /// Input features.
        in_features: usize,
        /// Output features.
        out_features: usize,
        /// Whether a bias is added.
        bias: bool,
    },
    /// Projection onto a tied embedding table (GPT-2's LM head): `[.., dim] → [.., vocab]`. Its
    /// weights are the [`Layer::Embedding`] table of the same shape, so it has no parameters of
    /// its own.
    Unembedding {
        /// Rows of the tied table (vocabulary size).
        vocab: usize,
        /// Width of the tied table.
        dim: usize,
    },
    /// Element-wise activation function.
    Activation {
        /// Which function.
        function: ActivationFn,
    },
    /// Max or average pooling over `[C, H, W]`.
    Pool {
        /// Max or average.
        mode: PoolMode,
        /// Window `[height, width]`.
        kernel: [usize; 2],
        /// Stride `[vertical, horizontal]`.
        stride: [usize; 2],
        /// Padding `[top, left, bottom, right]`.
        pads: [usize; 4],
        /// Round the output size up (Caffe) instead of down.
        ceil_mode: bool,
    },
    /// Pooling over the whole spatial extent: `[C, H, W] → [C, 1, 1]`.
    GlobalPool {
        /// Max or average.
        mode: PoolMode,
    },
    /// Local response normalisation across channels (AlexNet).
    Lrn {
        /// Channels in the window.
        size: usize,
        /// Scale α.
        alpha: f64,
        /// Exponent β.
        beta: f64,
        /// Offset k.
        bias: f64,
    },
    /// Batch normalisation (per-channel affine at inference) over dimension 0.
    BatchNorm {
        /// Channels (dimension 0 of the input).
        channels: usize,
    },
    /// Layer normalisation over the last dimension.
    LayerNorm {
        /// Size of the last dimension.
        dim: usize,
    },
    /// Element-wise sum of two tensors of one shape (residual connection).
    Add,
    /// Element-wise product of two tensors of one shape.
    Mul,
    /// Concatenation of one or more tensors along `axis`. Of one tensor it is a copy, as
    /// `torch.cat([x])` (DenseNet's first dense layer of a block) and ONNX `Concat` allow.
    Concat {
        /// Axis (0 is channels for images).
        axis: usize,
    },
    /// The present keys (or values) of a decoder with a KV cache, `[heads, T, d_h]` →
    /// `[heads, past + T, d_h]`: the `past` cached positions, read from memory, followed by the
    /// `T` new ones, as ONNX exports of GPT-2 with past write it (`Concat(past_key, key)` on
    /// axis 1). Without learned parameters.
    KvCache {
        /// Positions already in the cache.
        past: usize,
    },
    /// Nearest-neighbour upsampling of `[C, H, W]` by an integer factor.
    Resize {
        /// Factor applied to height and width.
        scale: usize,
    },
    /// Softmax over the last dimension.
    Softmax,
    /// Flatten to one dimension.
    Flatten,
    /// Reshape to `shape` (same number of elements).
    Reshape {
        /// New shape.
        shape: Vec<usize>,
    },
    /// Permute the dimensions: output dimension `i` is input dimension `perm[i]`.
    Transpose {
        /// A permutation of `0..rank`.
        perm: Vec<usize>,
    },
    /// Keep `start..end` along `axis`.
    Slice {
        /// Axis sliced.
        axis: usize,
        /// First index kept.
        start: usize,
        /// One past the last index kept.
        end: usize,
    },
    /// Dropout: the identity at inference.
    Dropout {
        /// Drop probability during training.
        ratio: f64,
    },
    /// Embedding look-up: `[T]` ids → `[T, dim]`.
    Embedding {
        /// Rows of the table.
        vocab: usize,
        /// Width of the table.
        dim: usize,
        /// Which ids are looked up.
        ids: EmbeddingIds,
    },
    /// Batched matrix product of two activations: `[.., m, k] × [.., k, n] → [.., m, n]`
    /// (attention scores and context). Leading (batch) dimensions must match.
    MatMul {
        /// The second operand is stored `[.., n, k]` and used transposed (Q·Kᵀ).
        transpose_b: bool,
    },
    /// LSTM over a sequence `[T, input_size] → [T, hidden · directions]`.
    Lstm {
        /// Features per time step.
        input_size: usize,
        /// Hidden units per direction.
        hidden: usize,
        /// Run a second, reversed direction and concatenate.
        bidirectional: bool,
    },
}

/// The tensor a layer reads: the model input or the output of an earlier node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TensorRef {
    /// The model input.
    Input,
    /// The output of node `index` (an index into [`Network::nodes`]).
    Node {
        /// Index of the producing node.
        index: usize,
    },
}

/// One node of a [`Network`]: a named layer and the tensors it reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerNode {
    /// Name, unique within the network; also the operator's name.
    pub name: String,
    /// Hyperparameters.
    pub layer: Layer,
    /// Tensors read, in operand order.
    pub inputs: Vec<TensorRef>,
    /// Shape of the output, without the batch dimension.
    pub output_shape: Vec<usize>,
}

/// Why a layer cannot be added to a network.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LayerError {
    /// The layer reads the wrong number of tensors.
    #[error("layer `{layer}`: takes {expected} input tensor(s), was given {got}")]
    Arity {
        /// Layer name.
        layer: String,
        /// What it takes, e.g. "1" or "2 or more".
        expected: &'static str,
        /// How many it was given.
        got: usize,
    },
    /// An input shape does not fit the layer's hyperparameters.
    #[error("layer `{layer}`: input shape(s) {shapes:?} do not fit: {reason}")]
    Shape {
        /// Layer name.
        layer: String,
        /// The shapes it was fed.
        shapes: Vec<Vec<usize>>,
        /// What does not fit.
        reason: String,
    },
    /// The layer reads a tensor that no earlier node produces.
    #[error("layer `{layer}`: reads node {index}, but only nodes 0..{known} come before it")]
    UnknownTensor {
        /// Layer name.
        layer: String,
        /// Index it refers to.
        index: usize,
        /// Nodes defined before it.
        known: usize,
    },
    /// Two nodes have the same name.
    #[error("layer name `{0}` is used twice; names must be unique within a network")]
    DuplicateName(String),
    /// A stored output shape differs from the one the layer computes.
    #[error("layer `{layer}`: stored output shape {stored:?}, but the layer computes {computed:?}")]
    OutputShape {
        /// Layer name.
        layer: String,
        /// Shape stored in the description.
        stored: Vec<usize>,
        /// Shape computed from the inputs.
        computed: Vec<usize>,
    },
}

/// Elements of a shape (saturating: a file may state any shape; readers bound it afterwards).
fn elems(shape: &[usize]) -> u64 {
    shape.iter().fold(1u64, |a, &d| a.saturating_mul(d as u64))
}

/// Output size of a sliding window along one axis, or `None` if the window does not fit.
fn window_out(
    len: usize,
    pads: [usize; 2],
    kernel: usize,
    stride: usize,
    ceil: bool,
) -> Option<usize> {
    let padded = len + pads[0] + pads[1];
    if kernel == 0 || stride == 0 || padded < kernel {
        return None;
    }
    let span = padded - kernel;
    let mut out = if ceil {
        span.div_ceil(stride)
    } else {
        span / stride
    } + 1;
    // As Caffe and PyTorch: in ceil mode the last window must start inside the input.
    if ceil && (out - 1) * stride >= len + pads[0] {
        out -= 1;
    }
    Some(out)
}

impl Layer {
    /// The operator kind this layer becomes.
    pub fn op_kind(&self) -> OpKind {
        match self {
            Layer::Conv2d { .. } => OpKind::Conv,
            Layer::ConvTranspose2d { .. } => OpKind::Deconv,
            Layer::Linear { .. } | Layer::Unembedding { .. } => OpKind::FullyConnected,
            Layer::Activation { function } => OpKind::Activation(*function),
            Layer::Pool { .. } | Layer::GlobalPool { .. } => OpKind::Pooling,
            Layer::Lrn { .. } => OpKind::Lrn,
            Layer::BatchNorm { .. } => OpKind::BatchNorm,
            Layer::LayerNorm { .. } => OpKind::LayerNorm,
            Layer::Add | Layer::Mul => OpKind::Elementwise,
            Layer::Concat { .. } | Layer::KvCache { .. } => OpKind::Concat,
            Layer::Resize { .. } => OpKind::Resize,
            Layer::Softmax => OpKind::Softmax,
            Layer::Flatten
            | Layer::Reshape { .. }
            | Layer::Transpose { .. }
            | Layer::Slice { .. }
            | Layer::Dropout { .. } => OpKind::Shuffle,
            Layer::Embedding { .. } => OpKind::Embedding,
            Layer::MatMul { .. } => OpKind::MatMul,
            Layer::Lstm { .. } => OpKind::Recurrent,
        }
    }

    /// How many input tensors the layer reads: `(min, max)`.
    fn arity(&self) -> (usize, usize, &'static str) {
        match self {
            Layer::Add | Layer::Mul | Layer::MatMul { .. } => (2, 2, "2"),
            Layer::Concat { .. } => (1, usize::MAX, "1 or more"),
            _ => (1, 1, "1"),
        }
    }

    /// Learned parameters (weights and biases).
    pub fn params(&self) -> u64 {
        // In 128 bits, saturated to 64 at the end (see `flops`).
        let u = |x: usize| x as u128;
        let params: u128 = match *self {
            Layer::Conv2d {
                in_ch,
                out_ch,
                kernel,
                groups,
                bias,
                ..
            }
            | Layer::ConvTranspose2d {
                in_ch,
                out_ch,
                kernel,
                groups,
                bias,
                ..
            } => {
                u(in_ch) * u(out_ch) / u(groups) * u(kernel[0]) * u(kernel[1])
                    + if bias { u(out_ch) } else { 0 }
            }
            Layer::Linear {
                in_features,
                out_features,
                bias,
            } => u(in_features) * u(out_features) + if bias { u(out_features) } else { 0 },
            Layer::BatchNorm { channels } => 2 * u(channels),
            Layer::LayerNorm { dim } => 2 * u(dim),
            Layer::Embedding { vocab, dim, .. } => u(vocab) * u(dim),
            Layer::Lstm {
                input_size,
                hidden,
                bidirectional,
            } => {
                // W (4h × in), R (4h × h) and two bias vectors (4h each), as ONNX and PyTorch.
                let dirs = if bidirectional { 2 } else { 1 };
                dirs * 4 * u(hidden) * (u(input_size) + u(hidden) + 2)
            }
            _ => 0,
        };
        u64::try_from(params).unwrap_or(u64::MAX)
    }

    /// The output shape for `inputs`, or why they do not fit.
    pub fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = inputs[0];
        let rank = |r: usize| -> Result<(), String> {
            if x.len() == r {
                Ok(())
            } else {
                Err(format!("expected rank {r}, got rank {}", x.len()))
            }
        };
        match self {
            Layer::Conv2d {
                in_ch,
                out_ch,
                kernel,
                stride,
                pads,
                groups,
                ..
            } => {
                rank(3)?;
                if x[0] != *in_ch {
                    return Err(format!(
                        "in_ch is {in_ch} but the input has {} channels",
                        x[0]
                    ));
                }
                if *groups == 0 || in_ch % groups != 0 || out_ch % groups != 0 {
                    return Err(format!(
                        "groups ({groups}) must be at least 1 and divide in_ch ({in_ch}) and out_ch ({out_ch})"
                    ));
                }
                let h = window_out(x[1], [pads[0], pads[2]], kernel[0], stride[0], false);
                let w = window_out(x[2], [pads[1], pads[3]], kernel[1], stride[1], false);
                match (h, w) {
                    (Some(h), Some(w)) => Ok(vec![*out_ch, h, w]),
                    _ => Err(format!(
                        "kernel {kernel:?} with stride {stride:?} and pads {pads:?} does not fit"
                    )),
                }
            }
            Layer::ConvTranspose2d {
                in_ch,
                out_ch,
                kernel,
                stride,
                pads,
                output_padding,
                groups,
                ..
            } => {
                rank(3)?;
                if x[0] != *in_ch {
                    return Err(format!(
                        "in_ch is {in_ch} but the input has {} channels",
                        x[0]
                    ));
                }
                if *groups == 0 || in_ch % groups != 0 || out_ch % groups != 0 {
                    return Err(format!("groups ({groups}) must divide in_ch and out_ch"));
                }
                let size = |len: usize, a: usize| -> Option<usize> {
                    ((len.max(1) - 1) * stride[a] + kernel[a] + output_padding[a])
                        .checked_sub(pads[a] + pads[a + 2])
                        .filter(|&n| n > 0)
                };
                match (size(x[1], 0), size(x[2], 1)) {
                    (Some(h), Some(w)) => Ok(vec![*out_ch, h, w]),
                    _ => Err("padding removes the whole output".into()),
                }
            }
            Layer::Linear {
                in_features,
                out_features,
                ..
            } => {
                last_dim_is(x, *in_features, "in_features")?;
                Ok(with_last(x, *out_features))
            }
            Layer::Unembedding { vocab, dim } => {
                last_dim_is(x, *dim, "dim")?;
                Ok(with_last(x, *vocab))
            }
            Layer::Pool {
                kernel,
                stride,
                pads,
                ceil_mode,
                ..
            } => {
                rank(3)?;
                let h = window_out(x[1], [pads[0], pads[2]], kernel[0], stride[0], *ceil_mode);
                let w = window_out(x[2], [pads[1], pads[3]], kernel[1], stride[1], *ceil_mode);
                match (h, w) {
                    (Some(h), Some(w)) => Ok(vec![x[0], h, w]),
                    _ => Err(format!(
                        "window {kernel:?} with stride {stride:?} does not fit"
                    )),
                }
            }
            Layer::GlobalPool { .. } => {
                rank(3)?;
                Ok(vec![x[0], 1, 1])
            }
            Layer::Resize { scale } => {
                rank(3)?;
                if *scale == 0 {
                    return Err("scale must be at least 1".into());
                }
                Ok(vec![x[0], x[1] * scale, x[2] * scale])
            }
            Layer::BatchNorm { channels } => {
                if x.first() != Some(channels) {
                    return Err(format!(
                        "channels is {channels} but dimension 0 is {:?}",
                        x.first()
                    ));
                }
                Ok(x.to_vec())
            }
            Layer::LayerNorm { dim } => {
                last_dim_is(x, *dim, "dim")?;
                Ok(x.to_vec())
            }
            Layer::Lrn { size, .. } => {
                if *size == 0 {
                    return Err("size must be at least 1".into());
                }
                Ok(x.to_vec())
            }
            Layer::Activation { .. } | Layer::Softmax | Layer::Dropout { .. } => Ok(x.to_vec()),
            Layer::Add | Layer::Mul => {
                if inputs[0] != inputs[1] {
                    return Err("element-wise operands must have the same shape".into());
                }
                Ok(x.to_vec())
            }
            Layer::Concat { axis } => {
                if *axis >= x.len() {
                    return Err(format!("axis {axis} is out of range for rank {}", x.len()));
                }
                let mut out = x.to_vec();
                for other in &inputs[1..] {
                    let same_rest = other.len() == x.len()
                        && other
                            .iter()
                            .zip(x)
                            .enumerate()
                            .all(|(i, (a, b))| i == *axis || a == b);
                    if !same_rest {
                        return Err(format!("all dimensions but axis {axis} must match"));
                    }
                    out[*axis] += other[*axis];
                }
                Ok(out)
            }
            Layer::KvCache { past } => {
                if x.len() != 3 {
                    return Err(format!(
                        "takes [heads, T, d_h], a tensor of rank 3, not rank {}",
                        x.len()
                    ));
                }
                Ok(vec![x[0], x[1] + past, x[2]])
            }
            Layer::Flatten => Ok(vec![x.iter().product()]),
            Layer::Reshape { shape } => {
                if elems(shape) != elems(x) {
                    return Err(format!(
                        "cannot reshape {} elements into {shape:?}",
                        elems(x)
                    ));
                }
                Ok(shape.clone())
            }
            Layer::Transpose { perm } => {
                let mut seen = vec![false; x.len()];
                for &p in perm {
                    if p >= x.len() || std::mem::replace(&mut seen[p], true) {
                        return Err(format!(
                            "perm {perm:?} is not a permutation of 0..{}",
                            x.len()
                        ));
                    }
                }
                if perm.len() != x.len() {
                    return Err(format!(
                        "perm {perm:?} is not a permutation of 0..{}",
                        x.len()
                    ));
                }
                Ok(perm.iter().map(|&p| x[p]).collect())
            }
            Layer::Slice { axis, start, end } => {
                if *axis >= x.len() || start >= end || *end > x[*axis] {
                    return Err(format!("cannot keep {start}..{end} of axis {axis}"));
                }
                let mut out = x.to_vec();
                out[*axis] = end - start;
                Ok(out)
            }
            Layer::Embedding { vocab, dim, ids } => {
                rank(1)?;
                if *ids == EmbeddingIds::Positions && x[0] > *vocab {
                    return Err(format!("{} positions but the table has {vocab} rows", x[0]));
                }
                Ok(vec![x[0], *dim])
            }
            Layer::MatMul { transpose_b } => {
                let (a, b) = (inputs[0], inputs[1]);
                if a.len() < 2 || a.len() != b.len() || a[..a.len() - 2] != b[..b.len() - 2] {
                    return Err("operands need rank ≥ 2 and equal batch dimensions".into());
                }
                let (r, m, k) = (a.len(), a[a.len() - 2], a[a.len() - 1]);
                let (kb, n) = if *transpose_b {
                    (b[r - 1], b[r - 2])
                } else {
                    (b[r - 2], b[r - 1])
                };
                if k != kb {
                    return Err(format!("inner dimensions differ ({k} and {kb})"));
                }
                let mut out = a[..r - 2].to_vec();
                out.extend([m, n]);
                Ok(out)
            }
            Layer::Lstm {
                input_size,
                hidden,
                bidirectional,
            } => {
                rank(2)?;
                last_dim_is(x, *input_size, "input_size")?;
                Ok(vec![x[0], hidden * if *bidirectional { 2 } else { 1 }])
            }
        }
    }

    /// FLOPs per sample (see the module documentation for the convention).
    pub fn flops(&self, inputs: &[&[usize]], output: &[usize]) -> u64 {
        // In 128 bits, saturated to 64 at the end: shapes read from files are bounded, but a
        // product of a few bounded numbers can still pass 2⁶⁴.
        let u = |x: usize| x as u128;
        let out = u128::from(elems(output));
        let inp = u128::from(elems(inputs[0]));
        let flops: u128 = match *self {
            Layer::Conv2d {
                in_ch,
                kernel,
                groups,
                bias,
                ..
            } => {
                2 * out * u(in_ch / groups) * u(kernel[0] * kernel[1]) + if bias { out } else { 0 }
            }
            Layer::ConvTranspose2d {
                out_ch,
                kernel,
                groups,
                bias,
                ..
            } => {
                2 * inp * u(out_ch / groups) * u(kernel[0] * kernel[1]) + if bias { out } else { 0 }
            }
            Layer::Linear {
                in_features,
                out_features,
                bias,
            } => {
                let rows = inp / u(in_features);
                2 * rows * u(in_features) * u(out_features) + if bias { out } else { 0 }
            }
            Layer::Unembedding { dim, .. } => 2 * out * u(dim),
            Layer::Activation { function } => out * u128::from(activation_flops(function)),
            Layer::Pool { kernel, .. } => out * u(kernel[0] * kernel[1]),
            Layer::GlobalPool { .. } => inp,
            Layer::Lrn { size, .. } => out * (u(size) + 5),
            Layer::BatchNorm { .. } => 2 * out,
            Layer::LayerNorm { .. } | Layer::Softmax => 5 * out,
            Layer::Add | Layer::Mul => out,
            Layer::MatMul { .. } => {
                // Output [.., m, n]; each element is a k-long dot product, k = a's last dim.
                let k = inputs[0].last().copied().unwrap_or(0);
                2 * out * u(k)
            }
            Layer::Lstm {
                input_size,
                hidden,
                bidirectional,
            } => {
                let steps = u(inputs[0][0]) * if bidirectional { 2 } else { 1 };
                let h = u(hidden);
                steps * (2 * 4 * h * (u(input_size) + h) + 32 * h)
            }
            Layer::Concat { .. }
            | Layer::KvCache { .. }
            | Layer::Resize { .. }
            | Layer::Flatten
            | Layer::Reshape { .. }
            | Layer::Transpose { .. }
            | Layer::Slice { .. }
            | Layer::Dropout { .. }
            | Layer::Embedding { .. } => 0,
        };
        u64::try_from(flops).unwrap_or(u64::MAX)
    }

    /// The operator this layer becomes when fed `inputs` (shapes already checked).
    fn operator(&self, name: &str, inputs: &[&[usize]], output: &[usize]) -> Operator {
        // A KV cache also reads the cached positions, which no node produces in this pass.
        let cached = match self {
            Layer::KvCache { .. } => elems(output) - inputs.iter().map(|s| elems(s)).sum::<u64>(),
            _ => 0,
        };
        Operator {
            name: name.to_string(),
            kind: self.op_kind(),
            flops: self.flops(inputs, output),
            input_elems: inputs.iter().map(|s| elems(s)).sum::<u64>() + cached,
            output_elems: elems(output),
            params: self.params(),
        }
    }
}

/// FLOPs per element of an activation function.
fn activation_flops(f: ActivationFn) -> u64 {
    match f {
        ActivationFn::Relu | ActivationFn::Relu6 | ActivationFn::LeakyRelu => 1,
        ActivationFn::Sigmoid | ActivationFn::Tanh => 4,
        ActivationFn::Silu => 5,
        ActivationFn::Gelu => 8,
    }
}

fn last_dim_is(x: &[usize], want: usize, field: &str) -> Result<(), String> {
    match x.last() {
        Some(&d) if d == want => Ok(()),
        other => Err(format!(
            "{field} is {want} but the last dimension is {other:?}"
        )),
    }
}

fn with_last(x: &[usize], last: usize) -> Vec<usize> {
    let mut out = x.to_vec();
    if let Some(l) = out.last_mut() {
        *l = last;
    }
    out
}

/// A validated layer graph: named nodes in topological order, each with checked shapes.
///
/// Only the [`NetworkBuilder`] (or deserialisation, which replays it) makes one, so every node
/// reads tensors defined before it, every shape fits, and names are unique.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedNetwork")]
pub struct Network {
    name: String,
    input_shape: Vec<usize>,
    nodes: Vec<LayerNode>,
}

/// The serialised form of a [`Network`], checked on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UncheckedNetwork {
    name: String,
    input_shape: Vec<usize>,
    nodes: Vec<LayerNode>,
}

impl TryFrom<UncheckedNetwork> for Network {
    type Error = LayerError;

    fn try_from(raw: UncheckedNetwork) -> Result<Self, LayerError> {
        let mut b = NetworkBuilder::new(&raw.name, &raw.input_shape);
        for node in raw.nodes {
            b.try_layer(&node.name, node.layer, &node.inputs)?;
            let computed = &b.network.nodes[b.network.nodes.len() - 1].output_shape;
            if *computed != node.output_shape {
                return Err(LayerError::OutputShape {
                    layer: node.name,
                    stored: node.output_shape,
                    computed: computed.clone(),
                });
            }
        }
        Ok(b.finish())
    }
}

impl Network {
    /// Model name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Shape of one input sample, without the batch dimension.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// Nodes in topological order.
    pub fn nodes(&self) -> &[LayerNode] {
        &self.nodes
    }

    /// Shape of a tensor, or `None` if `t` names no node.
    pub fn shape_of(&self, t: TensorRef) -> Option<&[usize]> {
        match t {
            TensorRef::Input => Some(&self.input_shape),
            TensorRef::Node { index } => self.nodes.get(index).map(|n| n.output_shape.as_slice()),
        }
    }

    /// The operator list, one operator per node, in node order.
    pub fn operators(&self) -> Vec<Operator> {
        self.nodes
            .iter()
            .map(|n| {
                let ins: Vec<&[usize]> = n
                    .inputs
                    .iter()
                    .map(|&t| self.shape_of(t).unwrap_or(&[]))
                    .collect();
                n.layer.operator(&n.name, &ins, &n.output_shape)
            })
            .collect()
    }

    /// The same network under another name.
    pub fn renamed(mut self, name: &str) -> Network {
        self.name = name.to_string();
        self
    }

    /// The simulator's view of this network.
    pub fn to_model(&self) -> Model {
        Model {
            name: self.name.clone(),
            input_shape: self.input_shape.clone(),
            operators: self.operators(),
        }
    }
}

/// Convolution hyperparameters for [`NetworkBuilder::conv`]; the input channel count is taken
/// from the current shape. Defaults: stride 1, no padding, one group, with bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv {
    out_ch: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pads: [usize; 4],
    groups: usize,
    bias: bool,
}

impl Conv {
    /// `out_ch` filters of `kernel × kernel`.
    pub fn new(out_ch: usize, kernel: usize) -> Self {
        Conv {
            out_ch,
            kernel: [kernel; 2],
            stride: [1; 2],
            pads: [0; 4],
            groups: 1,
            bias: true,
        }
    }

    /// Non-square kernel `[height, width]`.
    pub fn kernel_hw(mut self, kernel: [usize; 2]) -> Self {
        self.kernel = kernel;
        self
    }

    /// Same stride on both axes.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s; 2];
        self
    }

    /// Same zero padding on all four sides.
    pub fn pad(mut self, p: usize) -> Self {
        self.pads = [p; 4];
        self
    }

    /// Padding `p = k / 2` on all sides ("same" for odd kernels at stride 1).
    pub fn same(self) -> Self {
        let p = self.kernel[0] / 2;
        self.pad(p)
    }

    /// Channel groups (`groups = channels` is depthwise).
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }

    /// No bias (followed by batch normalisation).
    pub fn no_bias(mut self) -> Self {
        self.bias = false;
        self
    }
}

/// Pooling hyperparameters for [`NetworkBuilder::pool`]. Defaults: stride = kernel, no
/// padding, floor rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    mode: PoolMode,
    kernel: [usize; 2],
    stride: [usize; 2],
    pads: [usize; 4],
    ceil_mode: bool,
}

impl Pool {
    /// Max pooling over `kernel × kernel`.
    pub fn max(kernel: usize) -> Self {
        Pool {
            mode: PoolMode::Max,
            kernel: [kernel; 2],
            stride: [kernel; 2],
            pads: [0; 4],
            ceil_mode: false,
        }
    }

    /// Average pooling over `kernel × kernel`.
    pub fn avg(kernel: usize) -> Self {
        Pool {
            mode: PoolMode::Avg,
            ..Pool::max(kernel)
        }
    }

    /// Same stride on both axes.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s; 2];
        self
    }

    /// Stride `[vertical, horizontal]`.
    pub fn stride_hw(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }

    /// Same padding on all four sides.
    pub fn pad(mut self, p: usize) -> Self {
        self.pads = [p; 4];
        self
    }

    /// Padding `[top, left, bottom, right]`.
    pub fn pads(mut self, pads: [usize; 4]) -> Self {
        self.pads = pads;
        self
    }

    /// Round the output size up (Caffe's pooling).
    pub fn ceil_mode(mut self) -> Self {
        self.ceil_mode = true;
        self
    }
}

/// Builds a [`Network`] layer by layer, tracking the current tensor (the *cursor*) and its
/// shape. Each layer reads the cursor unless told otherwise and becomes the new cursor;
/// branches save a [`TensorRef`] and come back to it with [`NetworkBuilder::set_cursor`].
///
/// The convenience methods panic when a layer does not fit the current shape: zoo definitions
/// are code, and their tests build every model. Descriptions that come from users go through
/// [`NetworkBuilder::try_layer`], which returns the error instead.
#[derive(Clone, Debug)]
pub struct NetworkBuilder {
    network: Network,
    names: HashSet<String>,
    cursor: TensorRef,
}

impl NetworkBuilder {
    /// A builder for model `name` fed one sample of `input_shape` (no batch dimension).
    pub fn new(name: &str, input_shape: &[usize]) -> Self {
        NetworkBuilder {
            network: Network {
                name: name.to_string(),
                input_shape: input_shape.to_vec(),
                nodes: Vec::new(),
            },
            names: HashSet::new(),
            cursor: TensorRef::Input,
        }
    }

    /// The tensor the next layer reads.
    pub fn cursor(&self) -> TensorRef {
        self.cursor
    }

    /// Make `t` the tensor the next layer reads (to start a branch).
    pub fn set_cursor(&mut self, t: TensorRef) {
        self.cursor = t;
    }

    /// Shape of the cursor.
    pub fn shape(&self) -> &[usize] {
        self.network.shape_of(self.cursor).unwrap_or(&[])
    }

    /// Shape of any tensor built so far.
    pub fn shape_of(&self, t: TensorRef) -> Option<&[usize]> {
        self.network.shape_of(t)
    }

    /// Append `layer`, named `name`, reading `inputs`; the output becomes the cursor.
    pub fn try_layer(
        &mut self,
        name: &str,
        layer: Layer,
        inputs: &[TensorRef],
    ) -> Result<TensorRef, LayerError> {
        let known = self.network.nodes.len();
        let (min, max, expected) = layer.arity();
        if inputs.len() < min || inputs.len() > max {
            return Err(LayerError::Arity {
                layer: name.to_string(),
                expected,
                got: inputs.len(),
            });
        }
        let mut shapes: Vec<&[usize]> = Vec::with_capacity(inputs.len());
        for &t in inputs {
            match self.network.shape_of(t) {
                Some(s) => shapes.push(s),
                None => {
                    let index = match t {
                        TensorRef::Node { index } => index,
                        TensorRef::Input => 0,
                    };
                    return Err(LayerError::UnknownTensor {
                        layer: name.to_string(),
                        index,
                        known,
                    });
                }
            }
        }
        let output_shape = layer
            .output_shape(&shapes)
            .map_err(|reason| LayerError::Shape {
                layer: name.to_string(),
                shapes: shapes.iter().map(|s| s.to_vec()).collect(),
                reason,
            })?;
        if !self.names.insert(name.to_string()) {
            return Err(LayerError::DuplicateName(name.to_string()));
        }
        self.network.nodes.push(LayerNode {
            name: name.to_string(),
            layer,
            inputs: inputs.to_vec(),
            output_shape,
        });
        self.cursor = TensorRef::Node { index: known };
        Ok(self.cursor)
    }

    /// Append `layer` reading `inputs`.
    ///
    /// # Panics
    /// If the layer does not fit (see [`NetworkBuilder::try_layer`]).
    #[track_caller]
    pub fn layer_with(&mut self, name: &str, layer: Layer, inputs: &[TensorRef]) -> TensorRef {
        match self.try_layer(name, layer, inputs) {
            Ok(t) => t,
            Err(e) => panic!("model `{}`: {e}", self.network.name),
        }
    }

    /// Append `layer` reading the cursor.
    ///
    /// # Panics
    /// If the layer does not fit.
    #[track_caller]
    pub fn layer(&mut self, name: &str, layer: Layer) -> TensorRef {
        let c = self.cursor;
        self.layer_with(name, layer, &[c])
    }

    fn channels(&self) -> usize {
        self.shape().first().copied().unwrap_or(0)
    }

    fn last_dim(&self) -> usize {
        self.shape().last().copied().unwrap_or(0)
    }

    /// Convolution of the cursor; `in_ch` is its channel count.
    #[track_caller]
    pub fn conv(&mut self, name: &str, c: Conv) -> TensorRef {
        let layer = Layer::Conv2d {
            in_ch: self.channels(),
            out_ch: c.out_ch,
            kernel: c.kernel,
            stride: c.stride,
            pads: c.pads,
            groups: c.groups,
            bias: c.bias,
        };
        self.layer(name, layer)
    }

    /// Pooling of the cursor.
    #[track_caller]
    pub fn pool(&mut self, name: &str, p: Pool) -> TensorRef {
        let layer = Layer::Pool {
            mode: p.mode,
            kernel: p.kernel,
            stride: p.stride,
            pads: p.pads,
            ceil_mode: p.ceil_mode,
        };
        self.layer(name, layer)
    }

    /// Global average pooling of the cursor.
    #[track_caller]
    pub fn global_avg_pool(&mut self, name: &str) -> TensorRef {
        self.layer(
            name,
            Layer::GlobalPool {
                mode: PoolMode::Avg,
            },
        )
    }

    /// Activation function on the cursor.
    #[track_caller]
    pub fn act(&mut self, name: &str, function: ActivationFn) -> TensorRef {
        self.layer(name, Layer::Activation { function })
    }

    /// ReLU on the cursor.
    #[track_caller]
    pub fn relu(&mut self, name: &str) -> TensorRef {
        self.act(name, ActivationFn::Relu)
    }

    /// Batch normalisation over the cursor's channels.
    #[track_caller]
    pub fn batch_norm(&mut self, name: &str) -> TensorRef {
        let channels = self.channels();
        self.layer(name, Layer::BatchNorm { channels })
    }

    /// Layer normalisation over the cursor's last dimension.
    #[track_caller]
    pub fn layer_norm(&mut self, name: &str) -> TensorRef {
        let dim = self.last_dim();
        self.layer(name, Layer::LayerNorm { dim })
    }

    /// Fully-connected layer on the cursor's last dimension.
    #[track_caller]
    pub fn linear(&mut self, name: &str, out_features: usize, bias: bool) -> TensorRef {
        let in_features = self.last_dim();
        self.layer(
            name,
            Layer::Linear {
                in_features,
                out_features,
                bias,
            },
        )
    }

    /// Cursor + `other` (residual connection).
    #[track_caller]
    pub fn add(&mut self, name: &str, other: TensorRef) -> TensorRef {
        let c = self.cursor;
        self.layer_with(name, Layer::Add, &[c, other])
    }

    /// Concatenate `inputs` along `axis`.
    #[track_caller]
    pub fn concat(&mut self, name: &str, axis: usize, inputs: &[TensorRef]) -> TensorRef {
        self.layer_with(name, Layer::Concat { axis }, inputs)
    }

    /// The cursor (`[heads, T, d_h]`) after `past` cached positions: a decoder's present keys
    /// or values.
    #[track_caller]
    pub fn kv_cache(&mut self, name: &str, past: usize) -> TensorRef {
        self.layer(name, Layer::KvCache { past })
    }

    /// Softmax over the cursor's last dimension.
    #[track_caller]
    pub fn softmax(&mut self, name: &str) -> TensorRef {
        self.layer(name, Layer::Softmax)
    }

    /// Flatten the cursor.
    #[track_caller]
    pub fn flatten(&mut self, name: &str) -> TensorRef {
        self.layer(name, Layer::Flatten)
    }

    /// Reshape the cursor.
    #[track_caller]
    pub fn reshape(&mut self, name: &str, shape: &[usize]) -> TensorRef {
        self.layer(
            name,
            Layer::Reshape {
                shape: shape.to_vec(),
            },
        )
    }

    /// Permute the cursor's dimensions.
    #[track_caller]
    pub fn transpose(&mut self, name: &str, perm: &[usize]) -> TensorRef {
        self.layer(
            name,
            Layer::Transpose {
                perm: perm.to_vec(),
            },
        )
    }

    /// Keep `start..end` of the cursor along `axis`.
    #[track_caller]
    pub fn slice(&mut self, name: &str, axis: usize, start: usize, end: usize) -> TensorRef {
        self.layer(name, Layer::Slice { axis, start, end })
    }

    /// Dropout (identity at inference).
    #[track_caller]
    pub fn dropout(&mut self, name: &str, ratio: f64) -> TensorRef {
        self.layer(name, Layer::Dropout { ratio })
    }

    /// Embedding look-up driven by the ids tensor at the cursor.
    #[track_caller]
    pub fn embedding(
        &mut self,
        name: &str,
        vocab: usize,
        dim: usize,
        ids: EmbeddingIds,
    ) -> TensorRef {
        self.layer(name, Layer::Embedding { vocab, dim, ids })
    }

    /// Matrix product of two activations.
    #[track_caller]
    pub fn matmul(
        &mut self,
        name: &str,
        a: TensorRef,
        b: TensorRef,
        transpose_b: bool,
    ) -> TensorRef {
        self.layer_with(name, Layer::MatMul { transpose_b }, &[a, b])
    }

    /// LSTM over the cursor (`[T, features]`).
    #[track_caller]
    pub fn lstm(&mut self, name: &str, hidden: usize, bidirectional: bool) -> TensorRef {
        let input_size = self.last_dim();
        self.layer(
            name,
            Layer::Lstm {
                input_size,
                hidden,
                bidirectional,
            },
        )
    }

    /// Nearest-neighbour upsampling of the cursor.
    #[track_caller]
    pub fn resize(&mut self, name: &str, scale: usize) -> TensorRef {
        self.layer(name, Layer::Resize { scale })
    }

    /// The network built so far.
    pub fn finish(self) -> Network {
        self.network
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_counts_macs_twice_and_bias_once() {
        // 3→8 channels, 3×3, pad 1 on 3×4×4: output 8×4×4 = 128 elements,
        // 27 MACs each → 2·128·27 + 128 FLOPs; 8·3·9 + 8 params.
        let mut b = NetworkBuilder::new("t", &[3, 4, 4]);
        b.conv("c", Conv::new(8, 3).pad(1));
        let ops = b.finish().operators();
        assert_eq!(ops[0].flops, 2 * 128 * 27 + 128);
        assert_eq!(ops[0].params, 8 * 27 + 8);
        assert_eq!(ops[0].input_elems, 48);
        assert_eq!(ops[0].output_elems, 128);
    }

    #[test]
    fn grouped_and_depthwise_conv_divide_the_work() {
        let mut b = NetworkBuilder::new("t", &[32, 10, 10]);
        b.conv("dw", Conv::new(32, 3).pad(1).groups(32).no_bias());
        let op = &b.finish().operators()[0];
        // Each output element sums one channel's 3×3 window.
        assert_eq!(op.flops, 2 * 32 * 100 * 9);
        assert_eq!(op.params, 32 * 9);
    }

    #[test]
    fn caffe_ceil_pooling_matches_known_sizes() {
        // GoogLeNet (Caffe): 112 → 3×3/2 ceil → 56; 55 → 3×3/2 → 27 either way.
        assert_eq!(window_out(112, [0, 0], 3, 2, true), Some(56));
        assert_eq!(window_out(112, [0, 0], 3, 2, false), Some(55));
        assert_eq!(window_out(55, [0, 0], 3, 2, true), Some(27));
        // Darknet's stride-1 2×2 max pool padded at the end keeps 13×13.
        assert_eq!(window_out(13, [0, 1], 2, 1, false), Some(13));
    }

    #[test]
    fn attention_matmul_counts_both_operands() {
        let mut b = NetworkBuilder::new("t", &[4, 8, 16]);
        let q = b.cursor();
        b.matmul("scores", q, q, true);
        let net = b.finish();
        assert_eq!(net.nodes()[0].output_shape, vec![4, 8, 8]);
        let op = &net.operators()[0];
        assert_eq!(op.flops, 2 * 4 * 8 * 8 * 16);
        assert_eq!(op.input_elems, 2 * 4 * 8 * 16);
    }

    #[test]
    fn bidirectional_lstm_doubles_width_and_params() {
        let mut b = NetworkBuilder::new("t", &[26, 512]);
        b.lstm("rnn", 256, true);
        let net = b.finish();
        assert_eq!(net.nodes()[0].output_shape, vec![26, 512]);
        let op = &net.operators()[0];
        assert_eq!(op.params, 2 * 4 * 256 * (512 + 256 + 2));
        assert_eq!(op.flops, 26 * 2 * (8 * 256 * (512 + 256) + 32 * 256));
    }

    #[test]
    fn transposed_conv_and_resize_grow_the_map() {
        // 8→4 channels, 2×2 stride 2 on 8×4×4: output 4×8×8; each input element feeds
        // 4·2·2 outputs (2 FLOPs each), plus one bias add per output.
        let mut b = NetworkBuilder::new("t", &[8, 4, 4]);
        let layer = Layer::ConvTranspose2d {
            in_ch: 8,
            out_ch: 4,
            kernel: [2, 2],
            stride: [2, 2],
            pads: [0; 4],
            output_padding: [0; 2],
            groups: 1,
            bias: true,
        };
        b.layer("up", layer);
        b.resize("nearest", 2);
        let net = b.finish();
        assert_eq!(net.nodes()[0].output_shape, vec![4, 8, 8]);
        assert_eq!(net.nodes()[1].output_shape, vec![4, 16, 16]);
        let ops = net.operators();
        assert_eq!(ops[0].flops, 2 * 128 * 16 + 256);
        assert_eq!(ops[0].params, 8 * 4 * 4 + 4);
        assert_eq!(ops[1].flops, 0);
    }

    #[test]
    fn mismatches_and_duplicates_are_errors() {
        let mut b = NetworkBuilder::new("t", &[3, 8, 8]);
        let bad = Layer::Linear {
            in_features: 5,
            out_features: 2,
            bias: true,
        };
        assert!(matches!(
            b.try_layer("fc", bad, &[TensorRef::Input]),
            Err(LayerError::Shape { .. })
        ));
        b.try_layer("a", Layer::Flatten, &[TensorRef::Input])
            .unwrap();
        let dup = b.try_layer("a", Layer::Flatten, &[TensorRef::Input]);
        assert_eq!(dup, Err(LayerError::DuplicateName("a".into())));
        let fwd = b.try_layer(
            "add",
            Layer::Add,
            &[TensorRef::Input, TensorRef::Node { index: 7 }],
        );
        assert!(matches!(
            fwd,
            Err(LayerError::UnknownTensor { index: 7, .. })
        ));
        let one = b.try_layer("add", Layer::Add, &[TensorRef::Input]);
        assert!(matches!(one, Err(LayerError::Arity { got: 1, .. })));
    }

    #[test]
    fn concat_of_one_tensor_is_a_copy_and_of_none_an_error() {
        let mut b = NetworkBuilder::new("t", &[3, 8, 8]);
        b.concat("cat", 0, &[TensorRef::Input]);
        let none = b.try_layer("none", Layer::Concat { axis: 0 }, &[]);
        assert!(matches!(none, Err(LayerError::Arity { got: 0, .. })));
        let net = b.finish();
        assert_eq!(net.nodes()[0].output_shape, vec![3, 8, 8]);
        let op = &net.operators()[0];
        assert_eq!((op.input_elems, op.output_elems, op.flops), (192, 192, 0));
    }

    #[test]
    fn network_round_trips_through_json_and_rejects_tampering() {
        let mut b = NetworkBuilder::new("t", &[3, 8, 8]);
        let x = b.conv("c1", Conv::new(4, 3).pad(1));
        b.relu("r1");
        b.add("sum", x);
        let net = b.finish();
        let json = serde_json::to_string(&net).unwrap();
        let back: Network = serde_json::from_str(&json).unwrap();
        assert_eq!(back, net);
        let tampered = json.replace("[4,8,8]", "[4,9,9]");
        assert!(serde_json::from_str::<Network>(&tampered).is_err());
    }
}
