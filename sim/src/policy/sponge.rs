//! Sponge (../shared/THESIS.md §6; arXiv 2404.00704): requests whose objectives vary because
//! the wireless delay before them varies, met by "in-place vertical scaling, dynamic batching,
//! and request reordering". The abstract gives no algorithm; this is THESIS.md §6's [proposed]
//! form, each choice a named parameter:
//! - **Latency model** l(b, c): the cost model's time of the whole model at batch b holding c
//!   cores on the policy's accelerator, alone.
//! - **Every `interval`**, from the window's arrival rate λ, its backlog q and the least
//!   objective to go among its arrivals (the objective less the network delay spent), pick the
//!   fewest cores c, then the smallest batch b, with `utilization` · b / l(b, c) ≥ λ + q /
//!   interval (it keeps up with headroom, and drains the backlog) and (b − 1) / λ + l(b, c) ≤
//!   that objective (gathering a batch and running it fit); none fitting, every core and the
//!   batch of highest throughput. Applied by an in-place resize (`Action::Resize`) when it
//!   changes. The headroom is ours: without it the rule runs the server at utilisation 1, where
//!   queueing delay has no bound.
//! - **Reordering**: earliest deadline first is the data plane's `[serving] queue_order =
//!   "edf"`, which a Sponge scenario sets (the policy does not own the queues).

use serde::{Deserialize, Serialize};

use super::{Action, Deployment, InstancePlan, Observation, Policy, PolicyContext};
use crate::hardware::profile::DeviceProfile;
use crate::model::Model;
use crate::model::cost::plan;
use crate::serving::{InstanceConfig, ProcessLayout};
use crate::time::SimDuration;
use crate::units::TimeSpan;

/// Parameters of `[policy] kind = "sponge"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpongeSpec {
    /// The accelerator whose instance is scaled vertically. Default `cpu`.
    #[serde(default = "cpu")]
    pub accelerator: String,
    /// How often the allocation is revised. Default 1 s [proposed].
    #[serde(default = "one_second")]
    pub interval: TimeSpan,
    /// Largest batch. Default 16 [proposed].
    #[serde(default = "sixteen")]
    pub max_batch: u32,
    /// Highest planned utilisation of the instance, in (0, 1]. Default 0.7 [proposed]: an
    /// M/D/1 queue at 0.7 waits about 1.2 service times on average.
    #[serde(default = "seventy_percent")]
    pub utilization: f64,
}

impl Default for SpongeSpec {
    fn default() -> Self {
        SpongeSpec {
            accelerator: cpu(),
            interval: one_second(),
            max_batch: sixteen(),
            utilization: seventy_percent(),
        }
    }
}

fn cpu() -> String {
    "cpu".into()
}
fn one_second() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(1))
}
fn sixteen() -> u32 {
    16
}
fn seventy_percent() -> f64 {
    0.7
}

impl SpongeSpec {
    /// Checks the parameters against the app and the device; the error is (field, message).
    pub fn validate(
        &self,
        models: &[Model],
        device: &DeviceProfile,
    ) -> Result<(), (String, String)> {
        if models.len() != 1 {
            return Err((
                "kind".into(),
                format!(
                    "Sponge scales one model's instance; the app has {} models",
                    models.len()
                ),
            ));
        }
        if self.interval.0 == SimDuration::ZERO {
            return Err(("interval".into(), "must be more than 0, e.g. \"1s\"".into()));
        }
        if self.max_batch == 0 {
            return Err(("max_batch".into(), "must be at least 1".into()));
        }
        if !(self.utilization > 0.0 && self.utilization <= 1.0) {
            return Err((
                "utilization".into(),
                format!("must be in (0, 1], e.g. 0.7; got {}", self.utilization),
            ));
        }
        self.accelerator_index(device)
            .map(|_| ())
            .map_err(|m| ("accelerator".into(), m))
    }

    fn accelerator_index(&self, device: &DeviceProfile) -> Result<usize, String> {
        device.accelerator_named(&self.accelerator)
    }
}

/// An allocation: cores and largest batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// Cores held (1 off the CPU: the launch thread).
    pub cores: u32,
    /// Largest batch.
    pub batch: u32,
}

/// The policy.
#[derive(Debug)]
pub struct SpongePolicy {
    spec: SpongeSpec,
    accelerator: usize,
    /// l(b, c) in seconds, at `[c − 1][b − 1]`.
    latency_s: Vec<Vec<f64>>,
    /// The scenario's objective, s (what a window without arrivals is judged by).
    slo_s: f64,
    current: Allocation,
}

impl SpongePolicy {
    /// Sponge with `spec`.
    pub fn new(spec: SpongeSpec) -> Self {
        SpongePolicy {
            spec,
            accelerator: 0,
            latency_s: Vec::new(),
            slo_s: 0.0,
            current: Allocation { cores: 1, batch: 1 },
        }
    }

    /// The fewest cores, then the smallest batch, that keep up with `rate` (req/s) and fit
    /// `budget_s`; none fitting, every core and the batch of highest throughput.
    pub fn choose(&self, rate: f64, budget_s: f64) -> Allocation {
        for (c, row) in self.latency_s.iter().enumerate() {
            for (b, &l) in row.iter().enumerate() {
                let batch = (b + 1) as f64;
                let gather = if rate > 0.0 { b as f64 / rate } else { 0.0 };
                if self.spec.utilization * batch / l >= rate && gather + l <= budget_s {
                    return Allocation {
                        cores: c as u32 + 1,
                        batch: b as u32 + 1,
                    };
                }
            }
        }
        let top = self.latency_s.last().expect("a latency model");
        let best = (0..top.len())
            .max_by(|&a, &b| {
                let t = |k: usize| (k + 1) as f64 / top[k];
                t(a).total_cmp(&t(b))
            })
            .expect("a batch");
        Allocation {
            cores: self.latency_s.len() as u32,
            batch: best as u32 + 1,
        }
    }
}

impl Policy for SpongePolicy {
    fn name(&self) -> &'static str {
        "sponge"
    }

    fn process_layout(&self) -> ProcessLayout {
        ProcessLayout::PerInstance
    }

    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        self.accelerator = self
            .spec
            .accelerator_index(ctx.device)
            .expect("validated with the scenario");
        let most_cores = ctx.device.accelerators[self.accelerator].whole_engine_cores();
        let ops = &ctx.models[0].operators;
        let target = ctx.target();
        self.latency_s = (1..=most_cores)
            .map(|c| {
                (1..=self.spec.max_batch)
                    .map(|b| plan(ops, b, self.accelerator, c, target).solo_ns() as f64 * 1e-9)
                    .collect()
            })
            .collect();
        self.slo_s = ctx.slo.as_secs_f64();
        // Until a window has been seen: the scenario's objective at no load.
        self.current = self.choose(0.0, self.slo_s);
        Deployment {
            cuts: vec![vec![]],
            instances: vec![InstancePlan {
                partition: 0,
                accelerator: self.accelerator,
                config: InstanceConfig {
                    max_batch: self.current.batch,
                    cpu_cores: self.current.cores,
                    ..InstanceConfig::default()
                },
            }],
            ..Default::default()
        }
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        Some(self.spec.interval.0)
    }

    fn on_tick(&mut self, observation: &Observation, actions: &mut Vec<Action>) {
        let window_s = observation.window.as_secs_f64();
        if window_s <= 0.0 {
            return;
        }
        let backlog = observation.partitions.first().map_or(0, |p| p.queued) as f64;
        let rate = (observation.window_arrivals as f64 + backlog) / window_s;
        let budget_s = observation
            .window_min_budget_ms
            .map_or(self.slo_s, |ms| ms / 1e3);
        let next = self.choose(rate, budget_s);
        if next != self.current {
            self.current = next;
            actions.push(Action::Resize {
                partition: 0,
                accelerator: self.accelerator,
                cpu_cores: Some(next.cores),
                compute_share: None,
                max_batch: Some(next.batch),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A latency model of 2 cores × 3 batches: l = (10 + 5b) ms / c.
    fn sponge() -> SpongePolicy {
        let spec = SpongeSpec {
            utilization: 1.0,
            ..SpongeSpec::default()
        };
        SpongePolicy {
            latency_s: (1..=2)
                .map(|c| {
                    (1..=3)
                        .map(|b| (10.0 + 5.0 * b as f64) / c as f64 / 1e3)
                        .collect()
                })
                .collect(),
            ..SpongePolicy::new(spec)
        }
    }

    #[test]
    fn the_fewest_cores_then_the_smallest_batch_that_keep_up_and_fit() {
        let s = sponge();
        let a = |cores, batch| Allocation { cores, batch };
        // 1 core, batch 1: 15 ms, 66.7 req/s.
        assert_eq!(s.choose(50.0, 0.1), a(1, 1));
        // 100 req/s: batch 2 on 1 core gives 100 req/s, gathering 10 ms + running 20 ms.
        assert_eq!(s.choose(100.0, 0.1), a(1, 2));
        // The same rate with 25 ms to go: neither batch 2 (30 ms) nor 3 (45 ms) fits on 1 core;
        // 2 cores at batch 1 (7.5 ms, 133 req/s) do.
        assert_eq!(s.choose(100.0, 0.025), a(2, 1));
        // Nothing fits: every core, the batch of highest throughput (3: 240 req/s).
        assert_eq!(s.choose(1000.0, 0.001), a(2, 3));
    }

    /// The example scenario, with `policy` in place of its own.
    fn example(policy: &str) -> crate::Report {
        crate::policy::run_example("sponge-mobilenet-xavier", "kind = \"sponge\"", policy)
    }

    #[test]
    fn sponge_grows_in_bursts_and_shrinks_in_lulls() {
        let r = example("kind = \"sponge\"");
        let cores: Vec<u32> = r.resizes.iter().filter_map(|e| e.cpu_cores).collect();
        assert!(cores.len() >= 4, "{:?}", r.resizes);
        assert!(cores.windows(2).any(|w| w[1] > w[0]), "{cores:?}");
        assert!(cores.windows(2).any(|w| w[1] < w[0]), "{cores:?}");
        assert!(cores.iter().all(|&c| (1..=8).contains(&c)), "{cores:?}");
        assert!(r.scaling_events.is_empty() && r.refused_reconfigurations == 0);
        // It meets more objectives than a fixed instance of the fewest cores it held (what it
        // holds in a lull).
        let fixed = example(&format!(
            "kind = \"static\"\n[[policy.stages]]\n[[policy.stages.partitions]]\n\
             instances = {{ cpu = 1 }}\ncpu_cores = {}",
            cores.iter().min().expect("resizes")
        ));
        let attained = |r: &crate::Report| {
            r.summary.completed_within_slo as f64 / r.summary.completed.max(1) as f64
        };
        assert!(
            attained(&r) > attained(&fixed),
            "{} vs {}",
            attained(&r),
            attained(&fixed)
        );
    }
}
