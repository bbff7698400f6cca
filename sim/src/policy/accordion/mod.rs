//! Accordion (../shared/seeds/pipeline-scheduling-thesis.txt, Paper IV; digest
//! ../shared/THESIS.md §4) and its four baselines (T386): several query streams share a pool of
//! execution places (EPs: groups of CPU cores, T375), each stream's pipeline holding as many
//! places per stage as the scheduler gives it, malleably.
//!
//! - **Places.** `places` groups of `cores / places` cores of `accelerator` (the thesis' "4
//!   execution places", T357, by default). Each stream runs as one instance per stage of its
//!   app on that engine; the places it holds are its instances' cores (data parallelism within
//!   each operator: "EPs run queries in a data parallel manner", T375). A stream given none is
//!   held (`Action::Resize` to 0 cores): its queries wait.
//! - **Every `period`** (10 ms [proposed], THESIS.md §4) the scheduler reads each stream's
//!   waiting and running queries and the age of the oldest, predicts their latency with each
//!   number of places ([`predictor`]: the cost model's time of the stream's stages alone, the
//!   thesis' "preprofiled performance data"), and reallocates by its rule ([`allocation`]).
//! - **Accordion**: running pipelines keep their places; high-priority streams
//!   (`high_priority`) first, then the least slack; each grows to the fewest places whose
//!   predicted latency is within `target` × its objective (one if none would), from the pool,
//!   then from running pipelines that keep enough to meet their own (one, if they are late
//!   whatever they hold); spare places go one by one to the waiting stream with the least
//!   slack.
//! - **Baselines**: `slo_conforming` (the fewest places that meet the objective, as they free
//!   up), `fastest` (every free place to the oldest query's stream), `bbs` (SLO-Conforming with
//!   queries buffered into batches: `max_batch`, `buffer`) and `one_stage` (one place per
//!   stream).
//!
//! What the thesis leaves open and this model fixes, each a parameter or stated here: the
//! period and target above; a stream's allocation applies to its next batch (the batch running
//! finishes with the cores it started with, so places given away are shared until it ends);
//! places of a stream with nothing to do return to the pool at the tick.

pub mod allocation;
pub mod predictor;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::{Action, Deployment, InstancePlan, Observation, Policy, PolicyContext, QueryStream};
use crate::hardware::AcceleratorKind;
use crate::hardware::profile::DeviceProfile;
use crate::model::cost::plan;
use crate::serving::{InstanceConfig, ProcessLayout};
use crate::time::SimDuration;
use crate::units::TimeSpan;
pub use allocation::{Rule, allocate};
pub use predictor::{Predictor, StreamLoad};

/// Parameters of `[policy] kind = "accordion"` and of its baselines `slo_conforming`,
/// `fastest`, `bbs` and `one_stage`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccordionSpec {
    /// The CPU whose cores form the places. Default `cpu`.
    #[serde(default = "cpu")]
    pub accelerator: String,
    /// Execution places the CPU's cores are grouped into. Default 4: the thesis' "4 execution
    /// places" (T357).
    #[serde(default = "four")]
    pub places: u32,
    /// How often the scheduler checks for new queries. Default 10 ms [proposed].
    #[serde(default = "ten_ms")]
    pub period: TimeSpan,
    /// Fraction of a stream's objective its predicted latency is planned within, in (0, 1].
    /// Default 0.9 [proposed]: headroom for the predictor's error.
    #[serde(default = "ninety_percent")]
    pub target: f64,
    /// Streams in the high-priority queue, by name (Accordion only). Default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub high_priority: Vec<String>,
    /// Largest batch a stage forms. Default 1 (a query runs alone on its places), 8 for `bbs`
    /// [proposed].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<u32>,
    /// How long `bbs` buffers a query to batch it with others. Default 10 ms [proposed]: one
    /// period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer: Option<TimeSpan>,
}

impl Default for AccordionSpec {
    fn default() -> Self {
        AccordionSpec {
            accelerator: cpu(),
            places: four(),
            period: ten_ms(),
            target: ninety_percent(),
            high_priority: Vec::new(),
            max_batch: None,
            buffer: None,
        }
    }
}

fn cpu() -> String {
    "cpu".into()
}
fn four() -> u32 {
    4
}
fn ten_ms() -> TimeSpan {
    TimeSpan(SimDuration::from_ms(10))
}
fn ninety_percent() -> f64 {
    0.9
}

impl AccordionSpec {
    /// Checks the parameters for `rule` against the device; the error is (field, message).
    pub fn validate(&self, rule: Rule, device: &DeviceProfile) -> Result<(), (String, String)> {
        if self.period.0 == SimDuration::ZERO {
            return Err(("period".into(), "must be more than 0, e.g. \"10ms\"".into()));
        }
        if !(self.target > 0.0 && self.target <= 1.0) {
            return Err((
                "target".into(),
                format!("must be in (0, 1], e.g. 0.9; got {}", self.target),
            ));
        }
        if self.max_batch == Some(0) {
            return Err(("max_batch".into(), "must be at least 1".into()));
        }
        if rule != Rule::Accordion && !self.high_priority.is_empty() {
            return Err((
                "high_priority".into(),
                format!(
                    "only `accordion` sorts queries by priority; `{}` serves them oldest first",
                    rule.name()
                ),
            ));
        }
        if rule != Rule::Bbs && self.buffer.is_some() {
            return Err((
                "buffer".into(),
                format!(
                    "only `bbs` buffers queries into batches, not `{}`",
                    rule.name()
                ),
            ));
        }
        let a = device
            .accelerator_named(&self.accelerator)
            .map_err(|m| ("accelerator".to_string(), m))?;
        let spec = &device.accelerators[a];
        if spec.kind != AcceleratorKind::Cpu {
            return Err((
                "accelerator".into(),
                format!(
                    "`{}` is not a CPU: execution places are groups of CPU cores",
                    self.accelerator
                ),
            ));
        }
        if self.places == 0 || self.places > spec.cores {
            return Err((
                "places".into(),
                format!(
                    "must be 1 to {} (the cores of `{}`); got {}",
                    spec.cores, self.accelerator, self.places
                ),
            ));
        }
        Ok(())
    }

    /// Checks the streams it serves: every one must fit the pool with one place per stage, and
    /// `high_priority` must name streams. The error is (field, message).
    pub fn check_streams(&self, streams: &[QueryStream]) -> Result<(), (String, String)> {
        let stages: usize = streams.iter().map(|s| s.stages.len()).sum();
        if stages > self.places as usize {
            return Err((
                "places".into(),
                format!(
                    "{} places cannot give each of the streams' {stages} stages one",
                    self.places
                ),
            ));
        }
        if let Some(unknown) = self
            .high_priority
            .iter()
            .find(|n| !streams.iter().any(|s| &s.name == *n))
        {
            let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
            return Err((
                "high_priority".into(),
                format!("no stream is named `{unknown}`; the streams are {names:?}"),
            ));
        }
        Ok(())
    }

    fn max_batch(&self, rule: Rule) -> u32 {
        self.max_batch
            .unwrap_or(if rule == Rule::Bbs { 8 } else { 1 })
    }
}

/// Accordion or one of its baselines.
#[derive(Debug)]
pub struct AccordionPolicy {
    rule: Rule,
    spec: AccordionSpec,
    accelerator: usize,
    place_cores: u32,
    streams: Vec<QueryStream>,
    high: Vec<bool>,
    predictor: Option<Predictor>,
    /// Places per stage each stream holds.
    alloc: Vec<u32>,
}

impl AccordionPolicy {
    /// The policy of `rule` with `spec`.
    pub fn new(rule: Rule, spec: AccordionSpec) -> Self {
        AccordionPolicy {
            rule,
            spec,
            accelerator: 0,
            place_cores: 1,
            streams: Vec::new(),
            high: Vec::new(),
            predictor: None,
            alloc: Vec::new(),
        }
    }

    /// Places per stage each stream holds now.
    pub fn allocation(&self) -> &[u32] {
        &self.alloc
    }

    fn resize(&self, stream: usize, places: u32, actions: &mut Vec<Action>) {
        for partition in self.streams[stream].stages.clone() {
            actions.push(Action::Resize {
                partition,
                accelerator: self.accelerator,
                cpu_cores: Some(places * self.place_cores),
                compute_share: None,
                max_batch: None,
            });
        }
    }
}

impl Policy for AccordionPolicy {
    fn name(&self) -> &'static str {
        self.rule.name()
    }

    fn process_layout(&self) -> ProcessLayout {
        // One serving process per pipeline [assumed]: the thesis does not say.
        ProcessLayout::PerApp
    }

    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        self.accelerator = ctx
            .device
            .accelerator_named(&self.spec.accelerator)
            .expect("validated with the scenario");
        let cores = ctx.device.accelerators[self.accelerator].cores;
        self.place_cores = (cores / self.spec.places).max(1);
        self.streams = ctx.query_streams();
        self.high = self
            .streams
            .iter()
            .map(|s| self.spec.high_priority.contains(&s.name))
            .collect();
        let max_batch = self.spec.max_batch(self.rule);
        let target = ctx.target();
        let time_s = self
            .streams
            .iter()
            .map(|s| {
                (1..=self.spec.places)
                    .map(|p| {
                        (1..=max_batch)
                            .map(|b| {
                                ctx.models[s.stages.clone()]
                                    .iter()
                                    .map(|m| {
                                        let c = p * self.place_cores;
                                        plan(&m.operators, b, self.accelerator, c, target).solo_ns()
                                            as f64
                                            * 1e-9
                                    })
                                    .sum()
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let goal_s = self
            .streams
            .iter()
            .map(|s| s.slo.as_secs_f64() * self.spec.target)
            .collect();
        let stages = self.streams.iter().map(|s| s.stages.len() as u32).collect();
        self.predictor = Some(Predictor::new(time_s, goal_s, stages));
        // Until the first tick, one place per stage.
        self.alloc = vec![1; self.streams.len()];
        let batch_timeout = match self.rule {
            Rule::Bbs => self.spec.buffer.unwrap_or_else(ten_ms).0,
            _ => SimDuration::ZERO,
        };
        let instances = (0..ctx.models.len())
            .map(|partition| InstancePlan {
                partition,
                accelerator: self.accelerator,
                config: InstanceConfig {
                    max_batch,
                    batch_timeout,
                    cpu_cores: self.place_cores,
                    ..InstanceConfig::default()
                },
            })
            .collect();
        Deployment {
            cuts: vec![Vec::new(); ctx.models.len()],
            instances,
            ..Default::default()
        }
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        Some(self.spec.period.0)
    }

    fn on_tick(&mut self, observation: &Observation, actions: &mut Vec<Action>) {
        let Some(predictor) = &self.predictor else {
            return;
        };
        let loads: Vec<StreamLoad> = self
            .streams
            .iter()
            .zip(&self.alloc)
            .map(|(s, &held)| {
                let stages = &observation.partitions[s.stages.clone()];
                StreamLoad {
                    queued: stages.iter().map(|p| p.queued).sum(),
                    in_service: stages.iter().map(|p| p.in_service).sum(),
                    head_age_s: stages
                        .iter()
                        .filter_map(|p| p.head_age_ms)
                        .fold(0.0, f64::max)
                        / 1e3,
                    held,
                }
            })
            .collect();
        let next = allocate(self.rule, predictor, &loads, &self.high, self.spec.places);
        for (s, &places) in next.iter().enumerate() {
            if places != self.alloc[s] {
                self.resize(s, places, actions);
            }
        }
        self.alloc = next;
    }
}
