//! Design-space explorers of the pipeline-scheduling thesis (../shared/THESIS.md §1–§2), run
//! online on the simulated device, as the thesis runs them on hardware: each configuration an
//! explorer picks is deployed (a repartitioning, paying `[serving.reconfiguration]` where it
//! builds engines), measured over one full policy window at the load the scenario offers, and
//! judged by its measured throughput (one over its slowest stage's mean time). So the
//! configurations tried and the simulated time to converge are what the search would cost on
//! the device; the exhaustive optimum they are compared with comes from the cost model's
//! predicted stage times, with no runs ([`crate::explore::DesignSpace::exhaustive`]).
//!
//! The explorers share this driver and one move primitive ([`Space::neighbours`]); each is one
//! file: random walk, hill climbing, simulated annealing, Pipe-Search and Shisha. A
//! configuration measured once is remembered: asking for it again costs nothing. A
//! configuration the plane refuses (its instances do not fit) measures 0.

pub mod annealing;
pub mod hill_climb;
pub mod pipe_search;
pub mod random_walk;
pub mod shisha;
pub mod space;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::pipeline::{self, PipelineSpec, Places, Tracker};
use super::{Action, Deployment, Observation, Policy, PolicyContext};
use crate::hardware::profile::DeviceProfile;
use crate::model::Model;
use crate::report::SearchSummary;
use crate::rng::{RunSeed, SimRng};
use crate::serving::ProcessLayout;
use crate::time::{SimDuration, SimTime};
use crate::units::TimeSpan;

pub use space::{ARRANGEMENT_LIMIT, Pipeline, Space, arrangements, shuffle};

/// Parameters every explorer shares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpec {
    /// The execution places, by accelerator name; default every accelerator. One stage per
    /// EP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<Vec<String>>,
    /// The measurement window: each configuration is judged on one full window after it is in
    /// place. Default 500 ms [proposed].
    #[serde(default = "half_second")]
    pub interval: TimeSpan,
    /// Most distinct configurations measured; the search then stops at its best. Default 2000.
    #[serde(default = "default_budget")]
    pub budget: u32,
    /// Stages on each CPU. With 1 (the default) a stage on a CPU holds all its cores; with
    /// more, the CPU is offered as that many EPs (slots) whose stages share its cores (moldable
    /// CPU stages: each holds 1 or more, together at most all), so the pipeline has that many
    /// more stages, and the explorers also move a CPU stage's cores ±1 (the thesis' third move,
    /// ../shared/THESIS.md §1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub cpu_stages: u32,
}

impl Default for SearchSpec {
    fn default() -> Self {
        SearchSpec {
            eps: None,
            interval: half_second(),
            budget: default_budget(),
            cpu_stages: one(),
        }
    }
}

fn half_second() -> TimeSpan {
    TimeSpan(SimDuration::from_ms(500))
}
fn default_budget() -> u32 {
    2000
}
fn one() -> u32 {
    1
}
fn is_one(n: &u32) -> bool {
    *n == 1
}

impl SearchSpec {
    /// Checks the parameters; the error is (field, message).
    pub fn validate(
        &self,
        models: &[Model],
        device: &DeviceProfile,
    ) -> Result<(), (String, String)> {
        if self.budget == 0 {
            return Err(("budget".into(), "must be at least 1".into()));
        }
        self.pipeline().validate(models, device)?;
        if self.cpu_stages != 1 {
            let cpus: Vec<&crate::hardware::profile::AcceleratorSpec> = self
                .pipeline()
                .ep_indices(device)
                .map_err(|m| ("eps".to_string(), m))?
                .into_iter()
                .map(|a| &device.accelerators[a])
                .filter(|a| a.kind == crate::hardware::AcceleratorKind::Cpu)
                .collect();
            let err = |m: String| Err(("cpu_stages".to_string(), m));
            if self.cpu_stages == 0 {
                return err("must be at least 1 (1: a stage on a CPU holds all its cores)".into());
            }
            let Some(fewest) = cpus.iter().map(|a| a.cores).min() else {
                return err(format!(
                    "{} CPU stages asked for, but no execution place is a CPU",
                    self.cpu_stages
                ));
            };
            if self.cpu_stages > fewest {
                return err(format!(
                    "{} stages on a CPU of {fewest} cores: each stage holds at least one core",
                    self.cpu_stages
                ));
            }
        }
        Ok(())
    }

    fn pipeline(&self) -> PipelineSpec {
        PipelineSpec {
            eps: self.eps.clone(),
            interval: self.interval,
            ..PipelineSpec::default()
        }
    }
}

/// A configuration and what one window on it measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The configuration.
    pub pipeline: Pipeline,
    /// Each stage's mean execution time, ms (empty: it could not be deployed).
    pub times_ms: Vec<f64>,
    /// One over the slowest stage's time, req/s (0: it could not be deployed).
    pub throughput_rps: f64,
}

/// What an explorer asks for next.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Deploy and measure this configuration.
    Measure(Pipeline),
    /// The search is over: settle on this configuration (one measured).
    Done(Pipeline),
}

/// A search strategy over [`Space`].
pub trait Explorer: Send + std::fmt::Debug {
    /// The name reports show.
    fn name(&self) -> &'static str;
    /// The first configuration to measure.
    fn start(&mut self, space: &Space, rng: &mut SimRng) -> Pipeline;
    /// The next step after `last` was measured (the configuration the explorer asked for
    /// last).
    fn next(&mut self, space: &Space, last: &Measured, rng: &mut SimRng) -> Step;
}

/// Most answers from memory in a row before the driver decides the explorer is going round in
/// circles and settles on its best.
const REMEMBERED_IN_A_ROW: usize = 100_000;

#[derive(Clone, Debug)]
enum Phase {
    /// Waiting for a window on this configuration.
    Measuring(Pipeline),
    /// Moving to the final configuration.
    Converging(Pipeline),
    /// Settled.
    Converged,
}

/// An explorer run online as a policy.
#[derive(Debug)]
pub struct SearchPolicy {
    spec: SearchSpec,
    explorer: Box<dyn Explorer>,
    tracker: Tracker,
    space: Space,
    rng: SimRng,
    /// Each EP's accelerator name.
    names: Vec<String>,
    phase: Phase,
    /// The configuration deployed now.
    current: Option<Pipeline>,
    memory: HashMap<Pipeline, Measured>,
    /// The best configuration measured (the first of equals).
    best: Option<Pipeline>,
    refused: u64,
    trace: Vec<[f64; 3]>,
    chosen: Option<Pipeline>,
    converged_s: Option<f64>,
}

impl SearchPolicy {
    /// `explorer` run with `spec`.
    pub fn new(spec: SearchSpec, explorer: Box<dyn Explorer>) -> Self {
        SearchPolicy {
            spec,
            explorer,
            tracker: Tracker::default(),
            space: Space::new(Vec::new(), Vec::new(), 1),
            rng: RunSeed(0).stream("policy"),
            names: Vec::new(),
            phase: Phase::Converged,
            current: None,
            memory: HashMap::new(),
            best: None,
            refused: 0,
            trace: Vec::new(),
            chosen: None,
            converged_s: None,
        }
    }

    /// The best configuration measured (the first of equals).
    fn best(&self) -> Option<&Measured> {
        self.best.as_ref().map(|p| &self.memory[p])
    }

    /// Records a measurement.
    fn record(&mut self, now: SimTime, m: Measured) {
        let throughput = m.throughput_rps;
        if self.best().is_none_or(|b| throughput > b.throughput_rps) {
            self.best = Some(m.pipeline.clone());
        }
        self.memory.insert(m.pipeline.clone(), m);
        let best = self.best().map_or(0.0, |b| b.throughput_rps);
        self.trace.push([now.as_secs_f64(), throughput, best]);
    }

    /// Asks the explorer for its next step after `last`, answering from memory what was
    /// measured before, and acts on it.
    fn advance(&mut self, mut last: Measured, now: SimTime, actions: &mut Vec<Action>) {
        for _ in 0..REMEMBERED_IN_A_ROW {
            let step = if self.memory.len() as u64 >= u64::from(self.spec.budget) {
                Step::Done(self.best().expect("one measured").pipeline.clone())
            } else {
                self.explorer.next(&self.space, &last, &mut self.rng)
            };
            match step {
                Step::Measure(p) => match self.memory.get(&p) {
                    Some(m) => last = m.clone(),
                    None => {
                        self.tracker.go_to(p.clone(), actions);
                        self.phase = Phase::Measuring(p);
                        return;
                    }
                },
                Step::Done(p) => return self.settle(p, now, actions),
            }
        }
        let best = self.best().expect("one measured").pipeline.clone();
        self.settle(best, now, actions);
    }

    /// Ends the search at `p`.
    fn settle(&mut self, p: Pipeline, now: SimTime, actions: &mut Vec<Action>) {
        self.chosen = Some(p.clone());
        if self.current.as_ref() == Some(&p) {
            self.converged_s = Some(now.as_secs_f64());
            self.phase = Phase::Converged;
        } else {
            self.tracker.go_to(p.clone(), actions);
            self.phase = Phase::Converging(p);
        }
    }
}

impl Policy for SearchPolicy {
    fn name(&self) -> &'static str {
        self.explorer.name()
    }

    fn process_layout(&self) -> ProcessLayout {
        ProcessLayout::PerInstance
    }

    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        let accelerators = self
            .spec
            .pipeline()
            .ep_indices(ctx.device)
            .expect("validated with the scenario");
        let places = Places::moldable(ctx.device, &accelerators, self.spec.cpu_stages);
        let ops = &ctx.models[0].operators;
        self.names = places
            .eps
            .iter()
            .map(|ep| ctx.device.accelerators[ep.accel].name.clone())
            .collect();
        // One stage per EP (the thesis' S = E), a pool's slots each one.
        let stages = places.eps.len().min(ops.len());
        self.space = Space::from_cost(ops, &places.eps, places.pools.clone(), stages, ctx.target());
        self.rng = ctx.seed.stream("policy");
        let first = self.explorer.start(&self.space, &mut self.rng);
        let deployment = places.deployment(&first);
        self.tracker = Tracker::new(places);
        self.current = Some(first.clone());
        self.phase = Phase::Measuring(first);
        deployment
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        Some(self.spec.interval.0)
    }

    fn on_tick(&mut self, observation: &Observation, actions: &mut Vec<Action>) {
        let refused = self.tracker.refused(observation);
        let now = observation.now;
        match self.phase.clone() {
            Phase::Converged => {}
            Phase::Converging(target) => {
                if refused {
                    // The best no longer fits: stay where the search is.
                    self.chosen = self.current.clone();
                    self.converged_s = Some(now.as_secs_f64());
                    self.phase = Phase::Converged;
                } else if let Some((p, _)) = self.tracker.window(observation)
                    && p == target
                {
                    self.current = Some(p);
                    self.converged_s = Some(now.as_secs_f64());
                    self.phase = Phase::Converged;
                }
            }
            Phase::Measuring(target) => {
                let m = if refused {
                    self.refused += 1;
                    Measured {
                        pipeline: target,
                        times_ms: Vec::new(),
                        throughput_rps: 0.0,
                    }
                } else {
                    let Some((p, times)) = self.tracker.window(observation) else {
                        return;
                    };
                    if p != target {
                        return;
                    }
                    self.current = Some(p.clone());
                    Measured {
                        pipeline: p,
                        throughput_rps: pipeline::throughput(&times),
                        times_ms: times,
                    }
                };
                self.record(now, m.clone());
                self.advance(m, now, actions);
            }
        }
    }

    fn search(&self) -> Option<SearchSummary> {
        let best = self
            .chosen
            .as_ref()
            .and_then(|p| self.memory.get(p))
            .or_else(|| self.best())?;
        Some(SearchSummary {
            explorer: self.explorer.name().to_string(),
            space_size: self.space.size(),
            configurations: self.memory.len() as u64,
            refused: self.refused,
            converged_s: self.converged_s,
            best_cuts: best.pipeline.cuts.clone(),
            best_placement: best
                .pipeline
                .eps
                .iter()
                .map(|&e| self.names[e].clone())
                .collect(),
            best_cores: if self.space.pools.any() {
                best.pipeline.cores.clone()
            } else {
                Vec::new()
            },
            best_throughput_rps: best.throughput_rps,
            trace: self.trace.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
