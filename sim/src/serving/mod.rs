//! The data plane every policy shares: instances and their queues, batching, routing, unified
//! memory accounting and tensor transport between partitions.

pub mod memory;
pub mod state;
pub mod transport;

use serde::{Deserialize, Serialize};

use crate::time::SimDuration;

/// How one instance serves: its batching and the CPU cores it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceConfig {
    /// Largest batch the instance forms.
    pub max_batch: u32,
    /// Longest time the oldest queued request waits for a batch to fill (0: never wait).
    pub batch_timeout: SimDuration,
    /// CPU cores the instance holds (its compute on the CPU; its launch thread elsewhere).
    pub cpu_cores: u32,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig { max_batch: 1, batch_timeout: SimDuration::ZERO, cpu_cores: 1 }
    }
}
