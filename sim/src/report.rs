//! The result of one run: what was run, the metrics summary, and the final deployment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::Summary;

/// Everything a run reports. Serialises to the JSON that `infscaler run --json` prints; the
/// summary's keys sit at the top level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// App name.
    pub app: String,
    /// Policy name.
    pub policy: String,
    /// Device profile name.
    pub device: String,
    /// Seed of the run.
    pub seed: u64,
    /// Transport used between partitions.
    pub transport: String,
    /// The app's isolated batch-1 latency, from which a multiplier SLO derives.
    pub isolated_latency_ms: f64,
    /// The metrics.
    #[serde(flatten)]
    pub summary: Summary,
    /// The partitions with their live instances at the end of the run.
    pub partitions: Vec<PartitionReport>,
    /// Instances the deployment or the policy asked for that did not fit in memory.
    pub refused_instances: u64,
    /// Events the engine processed (a cost measure).
    pub events_processed: u64,
}

/// One partition at the end of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionReport {
    /// App stage.
    pub stage: usize,
    /// Model name.
    pub model: String,
    /// First operator (1-based, the paper's numbering).
    pub first_op: usize,
    /// Last operator (1-based, inclusive).
    pub last_op: usize,
    /// Live instances per accelerator name.
    pub instances: BTreeMap<String, u32>,
}
