//! The result of one run: what was run, the metrics summary, and the final deployment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub mod row;

use crate::metrics::Summary;
use crate::serving::memory::MemoryByKind;
use crate::serving::sharing::RegionPool;

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
    /// How instances were grouped into serving processes (`per_instance`, `per_partition`,
    /// `per_app`).
    #[serde(default)]
    pub process_layout: String,
    /// The app's isolated batch-1 latency, from which a multiplier SLO derives.
    pub isolated_latency_ms: f64,
    /// The metrics.
    #[serde(flatten)]
    pub summary: Summary,
    /// The partitions with their live instances at the end of the run.
    pub partitions: Vec<PartitionReport>,
    /// Instances the deployment or the policy asked for that did not fit in memory.
    pub refused_instances: u64,
    /// Memory of the serving processes and their instances by kind (process runtimes, weights,
    /// execution contexts, activation workspaces) when their total was highest, over the whole
    /// run (warm-up included); tensors in flight and sharing regions are not in it.
    #[serde(default)]
    pub instance_memory_peak: MemoryByKind,
    /// Every scale-out and scale-in the policy made, and every instance a repartitioning put
    /// into service (at its switch) or out of it (at the switch, or when its retired partition
    /// drained), in time order; partitions by global index (into `partitions`).
    pub scaling_events: Vec<ScalingEvent>,
    /// Zero-copy region pools at the end of the run (empty for copying transports).
    pub tensor_sharing: Vec<RegionPool>,
    /// Events the engine processed (a cost measure).
    pub events_processed: u64,
    /// The run was stopped before its end (Ctrl-C): the report covers the simulated time
    /// reached, with requests still in the system counted in flight. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The scenario's interferers and their windows (`[[interference]]`). Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interference: Vec<crate::interference::InterferenceReport>,
    /// Repartitionings the policy asked for and the plane applied, in order (partitions they
    /// retired stay in `partitions`, marked `retired_s`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reconfigurations: Vec<crate::serving::plane::Reconfiguration>,
    /// In-place resizes the policy made, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resizes: Vec<ResizeEvent>,
    /// Repartitionings and resizes refused (another still building, memory, cuts that do not
    /// split the model, resources the device does not have, an executor that cannot follow).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused_reconfigurations: u64,
    /// What a design-space explorer policy measured and where it settled. Absent for other
    /// policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchSummary>,
    /// The accuracy served, where the app is a family (`app.family`) or one model with a
    /// published accuracy. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<AccuracyReport>,
    /// Each query stream's figures, where the scenario has several (`[[streams]]`): the
    /// scenario's own first. Absent for one stream (the summary is its figures).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<StreamReport>,
}

/// What one query stream's requests met over the measured window (counted as the summary
/// counts: arrivals, completions and drops whose time falls after the warm-up).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamReport {
    /// The stream's name.
    pub name: String,
    /// Its app.
    pub app: String,
    /// Its objective, ms (the mean where each request has its own).
    pub slo_ms: f64,
    /// Requests that arrived.
    pub arrivals: u64,
    /// Requests completed.
    pub completed: u64,
    /// Of those, completed within their objective.
    pub completed_within_slo: u64,
    /// Requests dropped, all reasons.
    pub dropped: u64,
    /// completed / the window, requests per second.
    pub throughput_rps: f64,
    /// completed_within_slo / the window, requests per second.
    pub goodput_rps: f64,
    /// completed_within_slo / (completed + dropped); `None` when nothing finished.
    pub slo_attainment: Option<f64>,
    /// Latency of its completed requests; `None` if none completed.
    pub latency_ms: Option<crate::metrics::LatencyMs>,
    /// The accuracy it served, where its app is a family or one model with a published
    /// accuracy. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<AccuracyReport>,
}

impl StreamReport {
    /// The report of stream `name` (app `app`, objective `slo_ms`) from its `tally` over a
    /// window of `duration_s`, with the `accuracy` it served.
    pub fn new(
        (name, app, slo_ms): (&str, &str, f64),
        tally: &crate::serving::plane::StreamTally,
        duration_s: f64,
        accuracy: Option<AccuracyReport>,
    ) -> Self {
        let per_s = |n: u64| {
            if duration_s > 0.0 {
                n as f64 / duration_s
            } else {
                0.0
            }
        };
        let finished = tally.completed + tally.dropped;
        StreamReport {
            name: name.to_string(),
            app: app.to_string(),
            slo_ms,
            arrivals: tally.arrivals,
            completed: tally.completed,
            completed_within_slo: tally.within_slo,
            dropped: tally.dropped,
            throughput_rps: per_s(tally.completed),
            goodput_rps: per_s(tally.within_slo),
            slo_attainment: (finished > 0).then(|| tally.within_slo as f64 / finished as f64),
            latency_ms: tally.latency_ms(),
            accuracy,
        }
    }
}

/// The accuracy a run served: each completed request counts with the accuracy of the variant
/// that served it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccuracyReport {
    /// What the figures measure.
    pub metric: crate::model::accuracy::Metric,
    /// Mean accuracy of the completed requests (late ones included), % (`None`: none
    /// completed).
    pub served_percent: Option<f64>,
    /// The most accurate variant of the model's family (the model's own figure outside a
    /// family), %: what serving every request at full accuracy gives.
    pub best_percent: f64,
    /// `best_percent − served_percent`, percentage points: the accuracy drop.
    pub drop_points: Option<f64>,
    /// Per variant (model) served, in model order.
    pub variants: Vec<VariantReport>,
}

/// What one variant served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantReport {
    /// Model name.
    pub model: String,
    /// Its published accuracy, %.
    pub percent: f64,
    /// Its share of the arrivals at the end of the run (the policy's last split).
    pub weight: f64,
    /// Arrivals sent to it, completions, and completions within the objective.
    #[serde(flatten)]
    pub tally: crate::serving::plane::RouteTally,
}

impl AccuracyReport {
    /// The report of `models` (one per route: variants, or the app's one model) with their
    /// final `weights` and `tallies`; `None` unless each model has a published accuracy of
    /// one metric.
    pub fn new(
        models: &[&str],
        weights: &[f64],
        tallies: &[crate::serving::plane::RouteTally],
    ) -> Option<AccuracyReport> {
        use crate::model::accuracy::{family_of, published};
        let figures: Vec<_> = models
            .iter()
            .map(|m| published(m))
            .collect::<Option<Vec<_>>>()?;
        let metric = figures.first()?.metric;
        if figures.iter().any(|f| f.metric != metric) {
            return None;
        }
        let best_percent = figures
            .iter()
            .map(|f| family_of(f.model).map_or(f.percent, |fam| fam.best().percent))
            .fold(f64::MIN, f64::max);
        let total: f64 = weights.iter().sum();
        let (weighted, completed) = figures
            .iter()
            .zip(tallies)
            .fold((0.0, 0u64), |(w, n), (f, t)| {
                (w + f.percent * t.completed as f64, n + t.completed)
            });
        let served_percent = (completed > 0).then(|| weighted / completed as f64);
        Some(AccuracyReport {
            metric,
            served_percent,
            best_percent,
            drop_points: served_percent.map(|s| best_percent - s),
            variants: figures
                .iter()
                .zip(weights)
                .zip(tallies)
                .map(|((f, &w), &tally)| VariantReport {
                    model: f.model.to_string(),
                    percent: f.percent,
                    weight: if total > 0.0 { w / total } else { 0.0 },
                    tally,
                })
                .collect(),
        })
    }
}

/// A design-space search run online: the configurations it measured and the one it kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSummary {
    /// The explorer (`random_walk`, `hill_climb`, `annealing`, `pipe_search`, `shisha`).
    pub explorer: String,
    /// Configurations in the design space (`C(N−1, S−1) · E!/(E−S)!`).
    pub space_size: f64,
    /// Distinct configurations deployed and measured.
    pub configurations: u64,
    /// Of those, the ones the plane refused (they could not be measured).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: u64,
    /// When the search ended and its best configuration was in place, s (`None`: still
    /// searching at the end of the run).
    pub converged_s: Option<f64>,
    /// The best configuration measured: its cuts (paper numbering) …
    pub best_cuts: Vec<usize>,
    /// … the accelerator of each stage …
    pub best_placement: Vec<String>,
    /// … the cores each stage holds, where stages on a CPU are moldable (`cpu_stages` > 1;
    /// empty otherwise) …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub best_cores: Vec<u32>,
    /// … and its measured throughput (one over its slowest stage's mean time), req/s.
    pub best_throughput_rps: f64,
    /// Each measurement in order: (time s, throughput req/s, best so far req/s).
    pub trace: Vec<[f64; 3]>,
}

/// The instances of one partition on one accelerator resized in place.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResizeEvent {
    /// Simulated time, seconds.
    pub time_s: f64,
    /// Global partition index.
    pub partition: usize,
    /// Accelerator name.
    pub accelerator: String,
    /// The cores each instance holds from then on (`None`: unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<u32>,
    /// The engine share each may use from then on (`None`: unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_share: Option<f64>,
    /// The largest batch each forms from then on (`None`: unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<u32>,
    /// Instances resized.
    pub instances: u32,
}

/// One instance started (+1) or retired (−1) by the policy during the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScalingEvent {
    /// Simulated time, seconds.
    pub time_s: f64,
    /// Global partition index.
    pub partition: usize,
    /// Accelerator name.
    pub accelerator: String,
    /// +1 for a scale-out, −1 for a scale-in.
    pub delta: i32,
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
    /// When a repartitioning took it out of the layout, s (absent: in the final layout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_s: Option<f64>,
    /// Whether it belongs to a repartitioning still building at the end of the run (its layout
    /// never switched: it served nothing).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub building: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::plane::RouteTally;

    fn tally(completed: u64) -> RouteTally {
        RouteTally {
            arrivals: completed,
            completed,
            within_slo: completed,
        }
    }

    #[test]
    fn served_accuracy_is_the_mean_over_completed_requests() {
        // 300 requests at 69.758 % and 100 at 78.312 %: (300·69.758 + 100·78.312) / 400.
        let r = AccuracyReport::new(
            &["resnet18", "resnet152"],
            &[3.0, 1.0],
            &[tally(300), tally(100)],
        )
        .unwrap();
        let served = (300.0 * 69.758 + 100.0 * 78.312) / 400.0;
        assert!((r.served_percent.unwrap() - served).abs() < 1e-9);
        assert_eq!(r.best_percent, 78.312);
        assert!((r.drop_points.unwrap() - (78.312 - served)).abs() < 1e-9);
        assert_eq!(r.variants[0].weight, 0.75);
        // One model of a family: its drop is against the family's best.
        let one = AccuracyReport::new(&["resnet50"], &[1.0], &[tally(10)]).unwrap();
        assert!((one.drop_points.unwrap() - (78.312 - 76.130)).abs() < 1e-9);
        // Nothing completed: no served accuracy; no published figure: no report.
        assert_eq!(
            AccuracyReport::new(&["resnet50"], &[1.0], &[tally(0)])
                .unwrap()
                .served_percent,
            None
        );
        assert!(AccuracyReport::new(&["alexnet"], &[1.0], &[tally(1)]).is_none());
    }
}
