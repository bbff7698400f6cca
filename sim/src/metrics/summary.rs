//! The run summary: what a run reports about its measured window. Its JSON keys, in this order,
//! are a public interface (docs/metrics.md defines each one).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::DropReason;
use super::latency::{CdfPoint, LatencyMs};
use super::series::TimeSeries;
use super::stage::StageSummary;

/// Everything measured over the window `[warmup, end]` of one run. Counts are of events whose
/// time falls in the window; see docs/metrics.md for each formula.
///
/// Conservation: `in_flight_at_warmup + arrivals = completed + dropped + in_flight`
/// (with no warm-up, `arrivals = completed + dropped + in_flight`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Summary {
    /// Requests that arrived in the window.
    pub arrivals: u64,
    /// Requests that completed in the window.
    pub completed: u64,
    /// Of `completed`, those whose latency was at most the SLO.
    pub completed_within_slo: u64,
    /// Requests dropped in the window, all reasons.
    pub dropped: u64,
    /// Requests dropped in the window by reason; every reason is present, zero or not.
    pub dropped_by_reason: BTreeMap<DropReason, u64>,
    /// Requests neither completed nor dropped at the end of the run (as the simulator reports).
    pub in_flight: u64,
    /// Requests that arrived before the warm-up ended and were still in flight when it did.
    pub in_flight_at_warmup: u64,
    /// Length of the warm-up excluded from the window, s.
    pub warmup_s: f64,
    /// Length of the measured window (end − warm-up), s.
    pub duration_s: f64,
    /// completed / duration_s, requests per second (0 for an empty window).
    pub throughput_rps: f64,
    /// completed_within_slo / duration_s, requests per second (0 for an empty window).
    pub goodput_rps: f64,
    /// completed_within_slo / (completed + dropped); `None` when that denominator is zero.
    /// Requests still in flight at the end are not counted.
    pub slo_attainment: Option<f64>,
    /// The attainment of 20–40 consecutive, equally long batches of the finished requests (in
    /// the order they finished; see [`super::BatchMeans`]): the data for a confidence interval
    /// on `slo_attainment` that allows for correlated outcomes. Empty while fewer than 20
    /// requests have finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attainment_batch_means: Vec<f64>,
    /// The latency SLO, ms.
    pub slo_ms: f64,
    /// End-to-end latency of the requests completed in the window; `None` if none completed.
    pub latency_ms: Option<LatencyMs>,
    /// End-to-end latency CDF of the same requests, when `run.latency_cdf` asked for one:
    /// `run.latency_cdf` evenly spaced quantiles (equal latencies merged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_cdf: Option<Vec<CdfPoint>>,
    /// Per pipeline stage (model partition), in pipeline order.
    pub stages: Vec<StageSummary>,
    /// Most memory in use at any instant of the window, bytes.
    pub memory_peak_bytes: u64,
    /// Time-weighted mean memory in use over the window, bytes (0 for an empty window).
    pub memory_mean_bytes: f64,
    /// Time-weighted mean of the CPU cores that instances on the CPU hold for their compute
    /// over the window (0: none on the CPU): what vertical and horizontal scaling spend.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub cpu_cores_held_mean: f64,
    /// Time-weighted mean of the CPU cores held by batches running on the CPU: the cores
    /// occupied by work (0: none ran there).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub cpu_cores_busy_mean: f64,
    /// Fraction of the window during which running batches held every CPU core: the CPU fully
    /// occupied (Accordion's "100 % occupancy", T388).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub cpu_all_cores_busy_fraction: f64,
    /// Time-weighted mean utilisation of each accelerator over the window, 0..=1, by name.
    pub utilization: BTreeMap<String, f64>,
    /// Fixed-interval time series of the window, when a series interval was configured.
    pub series: Option<TimeSeries>,
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}
