//! The device: accelerators, unified memory, and how running work shares them.

pub mod contention;
pub mod fluid;
pub mod profile;

use serde::{Deserialize, Serialize};

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
    /// Short name used in tables.
    pub fn name(self) -> &'static str {
        match self {
            AcceleratorKind::Cpu => "cpu",
            AcceleratorKind::Gpu => "gpu",
            AcceleratorKind::Dla => "dla",
        }
    }
}
