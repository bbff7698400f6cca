//! Models as ordered operator lists computed from layer shapes, the zoo, cost (from the roofline
//! or from measured times) and cut points.

pub mod accuracy;
pub mod calibration;
pub mod cost;
pub mod file;
pub mod layers;
pub mod measured;
pub mod onnx;
pub mod operator;
pub mod partition;
pub mod runtime;
pub mod source;
pub mod tokens;
pub mod zoo;

pub use operator::{ActivationFn, OpKind, Operator};

use serde::{Deserialize, Serialize};

/// A model: an ordered list of operators (a topological order of its graph), per sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Zoo name, e.g. `resnet50`.
    pub name: String,
    /// Shape of one input sample, without the batch dimension (e.g. `[3, 224, 224]`).
    pub input_shape: Vec<usize>,
    /// Operators in execution order.
    pub operators: Vec<Operator>,
}

impl Model {
    /// Total FLOPs per sample.
    pub fn total_flops(&self) -> u64 {
        self.operators.iter().map(|o| o.flops).sum()
    }

    /// Total learned parameters.
    pub fn total_params(&self) -> u64 {
        self.operators.iter().map(|o| o.params).sum()
    }

    /// Elements of one input sample.
    pub fn input_elems(&self) -> u64 {
        self.input_shape.iter().map(|&d| d as u64).product()
    }
}
