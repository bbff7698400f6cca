//! What the pipeline-scheduling thesis' online policies (ODIN, LLS) share: one model cut into as
//! many stages as execution places (EPs), one instance per stage, started at the best
//! configuration the cost model predicts; each stage's time read from the observation; and the
//! detector that tells when those times have moved away from their reference.
//!
//! Parameters the thesis leaves open are named and defaulted here, each marked [proposed]
//! (../shared/THESIS.md §3).

use serde::{Deserialize, Serialize};

use super::search::space::Space;
use super::{Action, Deployment, InstancePlan, Observation, PolicyContext, StagePlacement};
use crate::explore::{CorePools, DesignSpace, Ep};
use crate::hardware::AcceleratorKind;
use crate::hardware::profile::DeviceProfile;
use crate::model::Model;
use crate::serving::InstanceConfig;
use crate::time::SimDuration;
use crate::units::TimeSpan;

/// Parameters shared by the pipeline policies (`[policy] kind = "odin"` or `"lls"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// The execution places, by accelerator name (a CPU group is one: see `device.cpu_groups`);
    /// default every accelerator of the device. One stage per EP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<Vec<String>>,
    /// How often stage times are read. Default 500 ms [proposed].
    #[serde(default = "half_second")]
    pub interval: TimeSpan,
    /// A stage whose time is this many times its reference, or less than its inverse, has
    /// changed (interference came or went). Default 1.15 [proposed].
    #[serde(default = "default_detect")]
    pub detect: f64,
    /// Consecutive windows of change before the policy acts. Default 2 [proposed].
    #[serde(default = "two")]
    pub consecutive: u32,
}

impl Default for PipelineSpec {
    fn default() -> Self {
        PipelineSpec {
            eps: None,
            interval: half_second(),
            detect: default_detect(),
            consecutive: two(),
        }
    }
}

fn half_second() -> TimeSpan {
    TimeSpan(SimDuration::from_ms(500))
}
fn default_detect() -> f64 {
    1.15
}
fn two() -> u32 {
    2
}

impl PipelineSpec {
    /// Checks the parameters against the app and the device; the error is (field, message).
    pub fn validate(
        &self,
        models: &[Model],
        device: &DeviceProfile,
    ) -> Result<(), (String, String)> {
        let err = |f: &str, m: String| Err((f.to_string(), m));
        if models.len() != 1 {
            return err(
                "kind",
                format!(
                    "a pipeline policy cuts one model into stages; the app has {} models",
                    models.len()
                ),
            );
        }
        if self.interval.0 == SimDuration::ZERO {
            return err("interval", "must be more than 0, e.g. \"500ms\"".into());
        }
        if !(self.detect.is_finite() && self.detect > 1.0) {
            return err(
                "detect",
                format!("must be more than 1, e.g. 1.15; got {}", self.detect),
            );
        }
        if self.consecutive == 0 {
            return err("consecutive", "must be at least 1".into());
        }
        let eps = self
            .ep_indices(device)
            .map_err(|m| ("eps".to_string(), m))?;
        if eps.len() > models[0].operators.len() {
            return err(
                "eps",
                format!(
                    "{} execution places for a model of {} operators: at most one stage per operator",
                    eps.len(),
                    models[0].operators.len()
                ),
            );
        }
        Ok(())
    }

    /// The EPs' accelerator indices, in the order given.
    pub fn ep_indices(&self, device: &DeviceProfile) -> Result<Vec<usize>, String> {
        let names = match &self.eps {
            None => return Ok((0..device.accelerators.len()).collect()),
            Some(names) => names,
        };
        if names.is_empty() {
            return Err("must name at least one accelerator".into());
        }
        let mut out = Vec::new();
        for name in names {
            let a = device.accelerator_named(name)?;
            if out.contains(&a) {
                return Err(format!("`{name}` is named twice"));
            }
            out.push(a);
        }
        Ok(out)
    }
}

pub use super::search::space::Pipeline;

/// The EPs of a run and how a stage on each is configured.
#[derive(Clone, Debug, Default)]
pub struct Places {
    /// Per EP: its accelerator and the cores a stage on it holds (all of a CPU group's; a
    /// pooled slot's: the most it may hold).
    pub eps: Vec<Ep>,
    /// Moldable CPU stages: the EPs that are slots of one CPU and share its cores.
    pub pools: CorePools,
}

impl Places {
    /// The EPs `accelerators` of `device`: a stage on a CPU holds all its cores.
    pub fn new(device: &DeviceProfile, accelerators: &[usize]) -> Self {
        Places::moldable(device, accelerators, 1)
    }

    /// The EPs `accelerators` of `device`, each CPU offered as `cpu_stages` slots (at most one
    /// per core) whose stages share its cores (moldable); with 1, a stage on a CPU holds all its
    /// cores.
    pub fn moldable(device: &DeviceProfile, accelerators: &[usize], cpu_stages: u32) -> Self {
        let mut eps = Vec::new();
        let mut keys = Vec::new();
        for &accel in accelerators {
            let a = &device.accelerators[accel];
            if a.kind == AcceleratorKind::Cpu {
                let slots = cpu_stages.clamp(1, a.cores.max(1));
                for _ in 0..slots {
                    eps.push(Ep {
                        accel,
                        cores: a.cores,
                    });
                    keys.push((cpu_stages > 1).then_some(accel));
                }
            } else {
                eps.push(Ep { accel, cores: 1 });
                keys.push(None);
            }
        }
        let pools = CorePools::new(&keys, |accel| device.accelerators[accel].cores);
        Places { eps, pools }
    }

    /// One instance per stage of `pipeline`, where it says, holding the cores it says, at
    /// batch 1 (a pipeline streams single inferences).
    pub fn placement(&self, pipeline: &Pipeline) -> Vec<StagePlacement> {
        pipeline
            .eps
            .iter()
            .zip(&pipeline.cores)
            .map(|(&e, &cores)| StagePlacement {
                accelerator: self.eps[e].accel,
                config: InstanceConfig {
                    max_batch: 1,
                    batch_timeout: SimDuration::ZERO,
                    cpu_cores: cores,
                    compute_share: 1.0,
                },
            })
            .collect()
    }

    /// The deployment of `pipeline`: the one model cut at its cuts, one instance per stage.
    pub fn deployment(&self, pipeline: &Pipeline) -> Deployment {
        Deployment {
            cuts: vec![pipeline.cuts.clone()],
            instances: self
                .placement(pipeline)
                .into_iter()
                .enumerate()
                .map(|(partition, p)| InstancePlan {
                    partition,
                    accelerator: p.accelerator,
                    config: p.config,
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// The starting pipeline: the best configuration by the cost model's predicted stage times
/// (exhaustive where the space is small enough, else layer FLOPs balanced over the fastest EPs'
/// speeds, [`Space::ranked_balanced`]): a tracker of its EPs, and its deployment.
pub fn deploy(spec: &PipelineSpec, ctx: &PolicyContext<'_>) -> (Tracker, Deployment) {
    let accelerators = spec
        .ep_indices(ctx.device)
        .expect("validated with the scenario");
    let places = Places::new(ctx.device, &accelerators);
    let ops = &ctx.models[0].operators;
    let stages = places.eps.len().min(ops.len());
    let pipeline = match DesignSpace::new(ops, places.eps.clone(), stages, ctx.target())
        .and_then(|mut space| space.exhaustive())
    {
        Ok(found) => found.best,
        // Too large to enumerate: Shisha's seed, weights balanced over the fastest EPs.
        Err(_) => Space::from_cost(ops, &places.eps, places.pools.clone(), stages, ctx.target())
            .ranked_balanced(),
    };
    let deployment = places.deployment(&pipeline);
    (Tracker::new(places), deployment)
}

/// The pipeline the observation shows (its cuts, the EP of each stage's instance and the cores
/// it holds, in canonical form), if it is one stage per EP with one instance each.
pub fn observed(observation: &Observation, places: &Places) -> Option<Pipeline> {
    let parts = &observation.partitions;
    let cuts = parts[..parts.len().saturating_sub(1)]
        .iter()
        .map(|p| p.ops.end)
        .collect();
    let (eps, cores): (Vec<usize>, Vec<u32>) = parts
        .iter()
        .map(|p| {
            let mut on = p.instances.iter().enumerate().filter(|(_, n)| **n > 0);
            let (accel, _) = on.next()?;
            if on.next().is_some() {
                return None;
            }
            let e = places.eps.iter().position(|ep| ep.accel == accel)?;
            let cores = match places.pools.pool_of(e) {
                Some(_) => p.cores.get(accel).copied()?,
                None => places.eps[e].cores,
            };
            Some((e, cores))
        })
        .collect::<Option<Vec<(usize, u32)>>>()?
        .into_iter()
        .unzip();
    let eps = places.pools.canonical(&eps);
    Some(Pipeline { cuts, eps, cores })
}

/// Each stage's mean execution time in the window, ms, on its EP (`None` if a stage finished
/// no batch: nothing to judge by).
pub fn stage_times(
    observation: &Observation,
    places: &Places,
    pipeline: &Pipeline,
) -> Option<Vec<f64>> {
    observation
        .partitions
        .iter()
        .zip(&pipeline.eps)
        .map(|(p, &e)| p.window_exec.get(places.eps[e].accel)?.mean_exec_ms)
        .collect()
}

/// Whether stage times have moved from their reference for long enough to act on: after
/// `consecutive` windows in which some stage's time is above `detect` times its reference or
/// below its inverse.
#[derive(Clone, Debug, Default)]
pub struct ChangeDetector {
    reference: Option<Vec<f64>>,
    strikes: u32,
}

impl ChangeDetector {
    /// Forgets the reference: the next window sets it.
    pub fn reset(&mut self) {
        self.reference = None;
        self.strikes = 0;
    }

    /// Looks at a window's stage times; returns each stage's time over its reference when the
    /// change has lasted `consecutive` windows (and then starts over).
    pub fn observe(&mut self, times: &[f64], spec: &PipelineSpec) -> Option<Vec<f64>> {
        let Some(reference) = &self.reference else {
            self.reference = Some(times.to_vec());
            return None;
        };
        let ratio: Vec<f64> = times
            .iter()
            .zip(reference)
            .map(|(t, r)| t / r.max(f64::MIN_POSITIVE))
            .collect();
        let changed = ratio
            .iter()
            .any(|&d| d > spec.detect || d < 1.0 / spec.detect);
        self.strikes = if changed { self.strikes + 1 } else { 0 };
        (self.strikes >= spec.consecutive).then(|| {
            self.reset();
            ratio
        })
    }
}

/// A pipeline's predicted throughput from its stage times (ms): one over the slowest.
pub fn throughput(times: &[f64]) -> f64 {
    let worst = times.iter().copied().fold(0.0, f64::max);
    if worst > 0.0 { 1e3 / worst } else { 0.0 }
}

/// A new configuration to wait for: the policy holds its judgement until the observation shows
/// it, then skips the window that mixed the two layouts.
#[derive(Clone, Debug, Default)]
pub struct Settling {
    target: Option<Pipeline>,
    windows_left: u32,
}

impl Settling {
    /// Waits for `pipeline`.
    pub fn wait_for(&mut self, pipeline: Pipeline) {
        self.target = Some(pipeline);
        self.windows_left = 1;
    }

    /// Whether the policy may judge this window (the awaited layout is in place, one full window
    /// on it has passed).
    pub fn ready(&mut self, now: Option<&Pipeline>) -> bool {
        match &self.target {
            None => true,
            Some(t) if now == Some(t) => {
                if self.windows_left == 0 {
                    self.target = None;
                    true
                } else {
                    self.windows_left -= 1;
                    false
                }
            }
            Some(_) => false,
        }
    }
}

/// What a pipeline policy keeps between ticks: its EPs, and the layout it asked for and waits
/// to see.
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    /// The EPs.
    pub places: Places,
    settling: Settling,
    /// Refusals the plane had counted at the last observation seen.
    refusals_seen: u64,
    /// Refusals counted when the awaited layout was asked for (`None`: nothing awaited).
    refusals_at_request: Option<u64>,
}

impl Tracker {
    /// A tracker of `places`.
    pub fn new(places: Places) -> Self {
        Tracker {
            places,
            ..Tracker::default()
        }
    }

    /// The pipeline the observation shows and its stage times (ms), if the window is one to
    /// judge: the layout asked for is in place and a full window on it has passed, and every
    /// stage finished a batch.
    pub fn window(&mut self, observation: &Observation) -> Option<(Pipeline, Vec<f64>)> {
        let now = observed(observation, &self.places);
        if !self.settling.ready(now.as_ref()) {
            return None;
        }
        let now = now?;
        let times = stage_times(observation, &self.places, &now)?;
        Some((now, times))
    }

    /// Whether the plane refused the layout last asked for (it counted a refusal since): the
    /// tracker then stops waiting for it. Call at every tick, before [`Tracker::go_to`].
    pub fn refused(&mut self, observation: &Observation) -> bool {
        let refused = self
            .refusals_at_request
            .is_some_and(|base| observation.refused_reconfigurations > base);
        self.refusals_seen = observation.refused_reconfigurations;
        if refused {
            self.refusals_at_request = None;
            self.settling = Settling::default();
        }
        refused
    }

    /// Asks for `pipeline` (one instance per stage where it says) and waits for it.
    pub fn go_to(&mut self, pipeline: Pipeline, actions: &mut Vec<Action>) {
        self.refusals_at_request = Some(self.refusals_seen);
        actions.push(Action::Repartition {
            stage: 0,
            cuts: pipeline.cuts.clone(),
            placement: self.places.placement(&pipeline),
        });
        self.settling.wait_for(pipeline);
    }
}
