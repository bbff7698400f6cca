//! Proteus (../shared/THESIS.md §5; ../shared/seeds/proteus-abstract.txt): on a fixed set of
//! engines, choose "how to select model variants, how to place them on heterogeneous devices,
//! and how to assign query workloads to each device", to meet the throughput while maximising
//! accuracy. The abstract gives no formulation; this is THESIS.md §5's [proposed] one:
//!
//! - **Engines** d (the device's accelerators, or those `accelerators` lists) host at most one
//!   variant each: x_{v,d} ∈ {0, 1}. y_{v,d} is the rate routed to variant v on engine d.
//! - **Capacity** h_{v,d}: `utilization` · b / l(b) at the batch b ≤ `max_batch` of highest
//!   throughput among those with `latency_factor` · l(b) ≤ the objective, where l(b) is the cost
//!   model's time of the whole variant at batch b alone on d (all the CPU's cores on the CPU).
//!   A variant none of whose batches fits has no capacity there.
//! - **Maximise** Σ acc_v · y_{v,d} / λ subject to Σ y = λ, y_{v,d} ≤ x_{v,d} · h_{v,d}, and the
//!   chosen instances' memory (each its own process) within the usable memory.
//! - **Several query streams** (`[[streams]]`, each one model or a family): an engine hosts at
//!   most one variant of one stream, each stream's variants carry its own rate λ_s
//!   (Σ_{v of s} y = λ_s), and h is costed against the stream's own objective. The objective
//!   is the same sum over every stream: with every stream carried, the most accurate mix is the
//!   one of least request-weighted accuracy drop, points of every stream counting alike.
//! - **Solved exactly** ([`solve`]): every x is enumerated ((V + 1)^D of them, V the variants
//!   of every stream: 1 296 for five variants on four engines), and for each x each stream's
//!   rate split is a fractional knapsack whose optimum fills its most accurate chosen instances
//!   first. No x meeting λ: the x of highest
//!   capacity, every instance full (the load it cannot carry queues, then times out).
//!   Ties: fewer engines, then enumeration order.
//! - **When**: every `check` the window's arrival rate is compared with the rate of the last
//!   solution; it is solved again when it moved by more than `rate_change`, and every
//!   `interval` regardless.
//! - **Make before break**: a changed engine's new variant starts (cold) beside the old one,
//!   which keeps its share of the arrivals until every new instance is ready; then the new
//!   split applies, and each old instance retires once its variant's queue is served (or
//!   another instance of it serves the queue).
//! - **Batching**: each instance takes what is queued up to its b as soon as it is free (no
//!   waiting for a batch to fill); hopeless requests time out where the scenario sets
//!   `[serving.admission] drop_late`. The abstract's "adaptive batching algorithm" is not
//!   specified further; this is the simplest work-conserving form of it.

use serde::{Deserialize, Serialize};

use super::{Action, Deployment, InstancePlan, Observation, Policy, PolicyContext};
use crate::hardware::profile::DeviceProfile;
use crate::model::Model;
use crate::model::cost::{footprint, plan};
use crate::serving::{InstanceConfig, ProcessLayout};
use crate::time::{SimDuration, SimTime};
use crate::units::TimeSpan;

/// Parameters of `[policy] kind = "proteus"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProteusSpec {
    /// Engines it may use, by name (default: every accelerator of the device).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accelerators: Vec<String>,
    /// How often the load is checked. Default 1 s [proposed].
    #[serde(default = "one_second")]
    pub check: TimeSpan,
    /// Longest time between solutions. Default 10 s (THESIS.md §5 [proposed]).
    #[serde(default = "ten_seconds")]
    pub interval: TimeSpan,
    /// A change of the arrival rate, relative to the last solution's, that calls for a new one.
    /// Default 0.1 (THESIS.md §5 [proposed]).
    #[serde(default = "ten_percent")]
    pub rate_change: f64,
    /// Largest batch. Default 16 [proposed].
    #[serde(default = "sixteen")]
    pub max_batch: u32,
    /// A batch's time, times this, must be within the objective (it waits for one batch and
    /// runs in the next). Default 2 (THESIS.md §5 [proposed]).
    #[serde(default = "two")]
    pub latency_factor: f64,
    /// Highest planned utilisation of an instance, in (0, 1]. Default 0.7 (as Sponge's
    /// [proposed]: at 1 the queues have no bound).
    #[serde(default = "seventy_percent")]
    pub utilization: f64,
}

impl Default for ProteusSpec {
    fn default() -> Self {
        ProteusSpec {
            accelerators: Vec::new(),
            check: one_second(),
            interval: ten_seconds(),
            rate_change: ten_percent(),
            max_batch: sixteen(),
            latency_factor: two(),
            utilization: seventy_percent(),
        }
    }
}

fn one_second() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(1))
}
fn ten_seconds() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(10))
}
fn ten_percent() -> f64 {
    0.1
}
fn sixteen() -> u32 {
    16
}
fn two() -> f64 {
    2.0
}
fn seventy_percent() -> f64 {
    0.7
}

impl ProteusSpec {
    /// Checks the parameters against the device; the error is (field, message).
    pub fn validate(
        &self,
        _models: &[Model],
        device: &DeviceProfile,
    ) -> Result<(), (String, String)> {
        if self.check.0 == SimDuration::ZERO {
            return Err(("check".into(), "must be more than 0, e.g. \"1s\"".into()));
        }
        if self.interval.0 < self.check.0 {
            return Err((
                "interval".into(),
                "must be at least `check` (default 1s), e.g. \"10s\"".into(),
            ));
        }
        if !(self.rate_change.is_finite() && self.rate_change >= 0.0) {
            return Err((
                "rate_change".into(),
                format!(
                    "must be a finite number ≥ 0, e.g. 0.1; got {}",
                    self.rate_change
                ),
            ));
        }
        if self.max_batch == 0 {
            return Err(("max_batch".into(), "must be at least 1".into()));
        }
        if !(self.latency_factor.is_finite() && self.latency_factor >= 1.0) {
            return Err((
                "latency_factor".into(),
                format!(
                    "must be a finite number ≥ 1, e.g. 2; got {}",
                    self.latency_factor
                ),
            ));
        }
        if !(self.utilization > 0.0 && self.utilization <= 1.0) {
            return Err((
                "utilization".into(),
                format!("must be in (0, 1], e.g. 0.7; got {}", self.utilization),
            ));
        }
        self.engines(device)
            .map(|_| ())
            .map_err(|m| ("accelerators".into(), m))
    }

    /// The engines' indices, in profile order.
    fn engines(&self, device: &DeviceProfile) -> Result<Vec<usize>, String> {
        if self.accelerators.is_empty() {
            return Ok((0..device.accelerators.len()).collect());
        }
        let mut out = Vec::new();
        for name in &self.accelerators {
            let a = device.accelerator_named(name)?;
            if out.contains(&a) {
                return Err(format!("`{name}` is listed twice"));
            }
            out.push(a);
        }
        out.sort_unstable();
        Ok(out)
    }
}

/// One variant on one engine: what it carries, at which batch, in how much memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    /// Planned throughput, req/s (h_{v,d}).
    pub capacity_rps: f64,
    /// The batch it runs at.
    pub batch: u32,
    /// Memory of the instance in its own process, bytes.
    pub memory_bytes: u64,
}

/// The problem [`solve`] answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Accuracy of each variant, %.
    pub accuracy: Vec<f64>,
    /// The query stream each variant serves (0-based; every 0 for one stream).
    pub stream_of: Vec<usize>,
    /// Per engine, per variant: the choice, or `None` where the variant cannot meet the
    /// objective there.
    pub choices: Vec<Vec<Option<Choice>>>,
    /// Memory the instances may use together, bytes.
    pub memory_bytes: u64,
}

/// A variant per engine and the rate each carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// Per engine: its variant, or `None` (idle).
    pub assignment: Vec<Option<usize>>,
    /// Per engine: the rate routed to it, req/s.
    pub rates: Vec<f64>,
    /// Whether the instances carry the whole load of every stream.
    pub feasible: bool,
    /// Mean accuracy of the load carried, % (0 when none is).
    pub accuracy: f64,
}

impl Solution {
    /// The rate per variant (the split of arrivals among them), for `variants` variants.
    pub fn variant_rates(&self, variants: usize) -> Vec<f64> {
        let mut out = vec![0.0; variants];
        for (v, r) in self.assignment.iter().zip(&self.rates) {
            if let Some(v) = v {
                out[*v] += r;
            }
        }
        out
    }

    fn engines_used(&self) -> usize {
        self.assignment.iter().flatten().count()
    }
}

/// The best solution for the arrival rates `rates` (one per stream; see the module doc): every
/// assignment of at most one variant per engine that fits in memory, each stream's rate split
/// by filling its most accurate instances first. `None` when no engine can host any variant.
pub fn solve(problem: &Problem, rates: &[f64]) -> Option<Solution> {
    let engines = problem.choices.len();
    let variants = problem.accuracy.len();
    // A load of 0 is planned as a trickle: the most accurate instance that fits.
    let rates: Vec<f64> = rates.iter().map(|r| r.max(1e-6)).collect();
    let mut digits = vec![0usize; engines]; // 0: idle; v + 1: variant v.
    let mut best: Option<Solution> = None;
    loop {
        if let Some(candidate) = evaluate(problem, &digits, &rates)
            && best.as_ref().is_none_or(|b| better(&candidate, b))
        {
            best = Some(candidate);
        }
        // Next assignment (odometer, engine 0 fastest).
        let mut d = 0;
        loop {
            if d == engines {
                return best;
            }
            digits[d] += 1;
            if digits[d] <= variants {
                break;
            }
            digits[d] = 0;
            d += 1;
        }
    }
}

/// The assignment `digits` with its optimal split of each stream's rate in `rates`, or `None`
/// if it hosts nothing, names a choice that does not exist, or does not fit in memory.
fn evaluate(problem: &Problem, digits: &[usize], rates: &[f64]) -> Option<Solution> {
    let mut memory = 0u64;
    let mut hosted = Vec::new(); // (engine, variant, capacity)
    for (e, &digit) in digits.iter().enumerate() {
        if digit == 0 {
            continue;
        }
        let c = problem.choices[e][digit - 1]?;
        memory = memory.saturating_add(c.memory_bytes);
        hosted.push((e, digit - 1, c.capacity_rps));
    }
    if hosted.is_empty() || memory > problem.memory_bytes {
        return None;
    }
    // Most accurate first; then the larger capacity; then the engine order.
    hosted.sort_by(|a, b| {
        problem.accuracy[b.1]
            .total_cmp(&problem.accuracy[a.1])
            .then(b.2.total_cmp(&a.2))
            .then(a.0.cmp(&b.0))
    });
    let mut carried_by = vec![0.0; digits.len()];
    let mut left = rates.to_vec();
    let mut carried = 0.0;
    let mut weighted = 0.0;
    for &(e, v, capacity) in &hosted {
        let left = &mut left[problem.stream_of[v]];
        let y = capacity.min(*left);
        carried_by[e] = y;
        *left -= y;
        carried += y;
        weighted += problem.accuracy[v] * y;
    }
    Some(Solution {
        assignment: digits.iter().map(|&d| d.checked_sub(1)).collect(),
        rates: carried_by,
        feasible: left.iter().zip(rates).all(|(l, r)| *l <= r * 1e-9),
        accuracy: if carried > 0.0 {
            weighted / carried
        } else {
            0.0
        },
    })
}

/// Whether `a` is better than `b`: carrying the load beats not; then (carrying it) the higher
/// accuracy, or (not) the higher rate carried then the higher accuracy; then fewer engines.
fn better(a: &Solution, b: &Solution) -> bool {
    const EPS: f64 = 1e-9;
    if a.feasible != b.feasible {
        return a.feasible;
    }
    if !a.feasible {
        let (ca, cb) = (a.rates.iter().sum::<f64>(), b.rates.iter().sum::<f64>());
        if (ca - cb).abs() > EPS * ca.max(cb).max(1.0) {
            return ca > cb;
        }
    }
    if (a.accuracy - b.accuracy).abs() > EPS {
        return a.accuracy > b.accuracy;
    }
    a.engines_used() < b.engines_used()
}

/// A solution being put in place: its new instances are starting.
#[derive(Clone, Debug)]
struct Pending {
    solution: Solution,
    since: SimTime,
}

/// How long a solution's new instances may take to become ready before the old ones retire
/// regardless [ours]: a cold start is seconds; memory may refuse one for ever.
const READY_TIMEOUT: SimDuration = SimDuration::from_secs(30);

/// The policy.
#[derive(Debug)]
pub struct ProteusPolicy {
    spec: ProteusSpec,
    /// Engine indices (profile order) and the problem over them.
    engines: Vec<usize>,
    problem: Option<Problem>,
    /// CPU cores an instance holds on each engine.
    cores: Vec<u32>,
    current: Option<Solution>,
    pending: Option<Pending>,
    /// Replaced instances (engine slot, variant) waiting for their variant's queue to drain.
    retiring: Vec<(usize, usize)>,
    /// Each stream's rate when last solved.
    solved_rates: Vec<f64>,
    /// Each stream's variants (indices into the problem's).
    stream_variants: Vec<std::ops::Range<usize>>,
    solved_at: SimTime,
}

impl ProteusPolicy {
    /// Proteus with `spec`.
    pub fn new(spec: ProteusSpec) -> Self {
        ProteusPolicy {
            spec,
            engines: Vec::new(),
            problem: None,
            cores: Vec::new(),
            current: None,
            pending: None,
            retiring: Vec::new(),
            solved_rates: Vec::new(),
            stream_variants: Vec::new(),
            solved_at: SimTime::ZERO,
        }
    }

    /// The problem of `ctx`'s variants (every stream's) on the spec's engines.
    fn problem(&mut self, ctx: &PolicyContext<'_>) -> Problem {
        self.engines = self.spec.engines(ctx.device).expect("validated");
        let target = ctx.target();
        let streams = ctx.query_streams();
        self.stream_variants = streams.iter().map(|s| s.stages.clone()).collect();
        let stream_of: Vec<usize> = (0..ctx.models.len())
            .map(|m| {
                streams
                    .iter()
                    .position(|s| s.stages.contains(&m))
                    .expect("every model is a stream's")
            })
            .collect();
        let slo_ns = |m: usize| streams[stream_of[m]].slo.as_ns() as f64;
        self.cores = self
            .engines
            .iter()
            .map(|&e| ctx.device.accelerators[e].whole_engine_cores())
            .collect();
        let choices = self
            .engines
            .iter()
            .zip(&self.cores)
            .map(|(&e, &cores)| {
                ctx.models
                    .iter()
                    .enumerate()
                    .map(|(k, m)| {
                        let ops = &m.operators;
                        let (batch, ns) = (1..=self.spec.max_batch)
                            .map(|b| (b, plan(ops, b, e, cores, target).solo_ns() as f64))
                            .filter(|&(_, ns)| self.spec.latency_factor * ns <= slo_ns(k))
                            .max_by(|a, b| (a.0 as f64 / a.1).total_cmp(&(b.0 as f64 / b.1)))?;
                        Some(Choice {
                            capacity_rps: self.spec.utilization * batch as f64 / (ns * 1e-9),
                            batch,
                            memory_bytes: footprint(ops, batch, e, target).total(),
                        })
                    })
                    .collect()
            })
            .collect();
        Problem {
            accuracy: ctx
                .models
                .iter()
                .map(|m| crate::model::accuracy::published(&m.name).map_or(0.0, |p| p.percent))
                .collect(),
            stream_of,
            choices,
            memory_bytes: ctx.memory_limit_bytes,
        }
    }

    fn config(&self, slot: usize, variant: usize) -> InstanceConfig {
        let choice = self.problem.as_ref().expect("deployed").choices[slot][variant]
            .expect("a solution's choices exist");
        InstanceConfig {
            max_batch: choice.batch,
            cpu_cores: self.cores[slot],
            ..InstanceConfig::default()
        }
    }

    /// The split of every stream's arrivals among its variants: the solution's rates; a
    /// stream none of whose variants carries anything sends its arrivals to its most accurate
    /// one (they wait there, or are dropped).
    fn weights(&self, solution: &Solution) -> Vec<f64> {
        let variants = self.problem.as_ref().map_or(0, |p| p.accuracy.len());
        let mut weights = solution.variant_rates(variants);
        for range in &self.stream_variants {
            if weights[range.clone()].iter().all(|&w| w == 0.0) {
                weights[range.end - 1] = 1.0;
            }
        }
        weights
    }

    /// Each stream's arrival rate over the window of `observation`, req/s.
    fn window_rates(&self, observation: &Observation) -> Vec<f64> {
        let window_s = observation.window.as_secs_f64();
        observation
            .window_stream_arrivals
            .iter()
            .map(|&n| n as f64 / window_s)
            .collect()
    }

    /// Starts what `next` adds to the current assignment and waits for it to be ready.
    fn begin(&mut self, next: Solution, now: SimTime, actions: &mut Vec<Action>) {
        let current = self.current.as_ref().expect("deployed");
        if next.assignment == current.assignment {
            if next.rates != current.rates {
                actions.push(Action::Route {
                    weights: self.weights(&next),
                });
            }
            self.current = Some(next);
            return;
        }
        for (slot, (new, old)) in next.assignment.iter().zip(&current.assignment).enumerate() {
            if let Some(v) = new
                && new != old
            {
                actions.push(Action::ScaleOut {
                    partition: *v,
                    accelerator: self.engines[slot],
                    config: self.config(slot, *v),
                });
            }
        }
        self.pending = Some(Pending {
            solution: next,
            since: now,
        });
    }

    /// Once the pending solution's new instances are ready (or after [`READY_TIMEOUT`]), retires
    /// the old ones and applies its split.
    fn commit_if_ready(&mut self, observation: &Observation, actions: &mut Vec<Action>) {
        let Some(pending) = &self.pending else {
            return;
        };
        let current = self.current.as_ref().expect("deployed");
        let changed: Vec<(usize, Option<usize>, Option<usize>)> = pending
            .solution
            .assignment
            .iter()
            .zip(&current.assignment)
            .enumerate()
            .filter(|(_, (new, old))| new != old)
            .map(|(slot, (new, old))| (slot, *new, *old))
            .collect();
        let ready = changed.iter().all(|&(slot, new, _)| {
            new.is_none_or(|v| {
                let p = &observation.partitions[v];
                let a = self.engines[slot];
                p.instances[a] > p.starting[a]
            })
        });
        if !ready && observation.now.saturating_since(pending.since) < READY_TIMEOUT {
            return;
        }
        let pending = self.pending.take().expect("checked");
        actions.push(Action::Route {
            weights: self.weights(&pending.solution),
        });
        self.current = Some(pending.solution);
        self.retiring.extend(
            changed
                .iter()
                .filter_map(|&(slot, _, old)| Some((slot, old?))),
        );
        self.retire_drained(observation, actions);
    }

    /// Retires the replaced instances whose variant has nothing queued, or another instance
    /// to serve its queue: a retiring instance finishes its batch but takes no more from the
    /// shared queue, so the last one of a variant must wait until the requests sent to it
    /// before the new split are served.
    fn retire_drained(&mut self, observation: &Observation, actions: &mut Vec<Action>) {
        let engines = &self.engines;
        self.retiring.retain(|&(slot, v)| {
            let p = &observation.partitions[v];
            let drained = p.queued == 0 || p.total_instances() > 1;
            if drained {
                actions.push(Action::ScaleIn {
                    partition: v,
                    accelerator: engines[slot],
                });
            }
            !drained
        });
    }
}

impl Policy for ProteusPolicy {
    fn name(&self) -> &'static str {
        "proteus"
    }

    fn process_layout(&self) -> ProcessLayout {
        ProcessLayout::PerInstance
    }

    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        let problem = self.problem(ctx);
        // Without a rate to plan for (a trace), the most the engines can carry.
        let rates: Vec<f64> = ctx
            .query_streams()
            .iter()
            .map(|s| s.expected_rate_per_s.unwrap_or(f64::INFINITY))
            .collect();
        let solution = solve(&problem, &rates).unwrap_or_else(|| Solution {
            assignment: vec![None; self.engines.len()],
            rates: vec![0.0; self.engines.len()],
            feasible: false,
            accuracy: 0.0,
        });
        self.problem = Some(problem);
        let instances = solution
            .assignment
            .iter()
            .enumerate()
            .filter_map(|(slot, v)| {
                v.map(|v| InstancePlan {
                    partition: v,
                    accelerator: self.engines[slot],
                    config: self.config(slot, v),
                })
            })
            .collect();
        // Nothing fits: each stream's arrivals to its most accurate variant, to be dropped.
        let route_weights = self.weights(&solution);
        self.solved_rates = rates
            .iter()
            .map(|&r| if r.is_finite() { r } else { 0.0 })
            .collect();
        self.current = Some(solution);
        Deployment {
            cuts: vec![Vec::new(); ctx.models.len()],
            instances,
            route_weights,
            ..Default::default()
        }
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        Some(self.spec.check.0)
    }

    fn on_tick(&mut self, observation: &Observation, actions: &mut Vec<Action>) {
        if self.pending.is_some() {
            self.commit_if_ready(observation, actions);
            return;
        }
        if !self.retiring.is_empty() {
            self.retire_drained(observation, actions);
            return;
        }
        if observation.window.as_secs_f64() <= 0.0 {
            return;
        }
        let rates = self.window_rates(observation);
        let moved = rates
            .iter()
            .zip(&self.solved_rates)
            .any(|(rate, solved)| (rate - solved).abs() > self.spec.rate_change * solved);
        let due = observation.now.saturating_since(self.solved_at) >= self.spec.interval.0;
        if !(moved || due) {
            return;
        }
        let Some(next) = self.problem.as_ref().and_then(|p| solve(p, &rates)) else {
            return;
        };
        self.solved_rates = rates;
        self.solved_at = observation.now;
        self.begin(next, observation.now, actions);
        if self.pending.is_some() {
            self.commit_if_ready(observation, actions);
        }
    }
}

#[cfg(test)]
mod tests;
