//! The device: accelerators, unified memory, and how running work shares them.

pub mod contention;
pub mod fluid;
pub mod measured;
pub mod profile;

use serde::{Deserialize, Serialize};

use crate::model::{ActivationFn, OpKind};

/// The kinds of processing engine on a Jetson SoC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcceleratorKind {
    /// The ARM CPU complex; an instance holds a number of its cores.
    Cpu,
    /// The integrated GPU; concurrent kernels share its compute.
    Gpu,
    /// One NVDLA core; it serves one activity at a time.
    Dla,
}

impl AcceleratorKind {
    /// Whether this engine runs `kind` natively. The DLA runs TensorRT's DLA layer list
    /// (TensorRT Developer Guide, "DLA Supported Layers and Restrictions";
    /// NVIDIA/Deep-Learning-Accelerator-SW `operators/README.md`): convolution, deconvolution,
    /// fully-connected, activations (ReLU, Sigmoid, TanH, Clip, LeakyReLU), pooling, LRN,
    /// scale/batch-norm, element-wise, concatenation, resize, softmax and shuffle. Everything
    /// else (attention MatMul of two activations, LayerNorm, GELU/SiLU, Gather, RNNs) falls back
    /// to the GPU.
    pub fn supports(self, kind: OpKind) -> bool {
        match self {
            AcceleratorKind::Cpu | AcceleratorKind::Gpu => true,
            AcceleratorKind::Dla => match kind {
                OpKind::Conv
                | OpKind::Deconv
                | OpKind::FullyConnected
                | OpKind::Pooling
                | OpKind::Lrn
                | OpKind::BatchNorm
                | OpKind::Elementwise
                | OpKind::Concat
                | OpKind::Resize
                | OpKind::Softmax
                | OpKind::Shuffle => true,
                OpKind::Activation(f) => matches!(
                    f,
                    ActivationFn::Relu
                        | ActivationFn::Relu6
                        | ActivationFn::Sigmoid
                        | ActivationFn::Tanh
                        | ActivationFn::LeakyRelu
                ),
                OpKind::MatMul | OpKind::LayerNorm | OpKind::Embedding | OpKind::Recurrent => false,
            },
        }
    }

    /// Short name used in tables.
    pub fn name(self) -> &'static str {
        match self {
            AcceleratorKind::Cpu => "cpu",
            AcceleratorKind::Gpu => "gpu",
            AcceleratorKind::Dla => "dla",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dla_runs_convolutions_but_not_attention() {
        assert!(AcceleratorKind::Dla.supports(OpKind::Conv));
        assert!(AcceleratorKind::Dla.supports(OpKind::Activation(ActivationFn::Relu)));
        assert!(!AcceleratorKind::Dla.supports(OpKind::MatMul));
        assert!(!AcceleratorKind::Dla.supports(OpKind::Activation(ActivationFn::Gelu)));
        assert!(AcceleratorKind::Gpu.supports(OpKind::LayerNorm));
    }
}
