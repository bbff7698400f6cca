//! Capacity search: the highest arrival rate at which a scenario still meets its SLO-attainment
//! target — "throughput while satisfying the latency SLO", as the InfScaler paper measures it
//! (§V, Fig. 5).
//!
//! The search varies only the offered load of the scenario ([`OfferedLoad`]) and runs the scenario
//! as written otherwise: its seed, its `[run]` (duration, warm-up, drain), its policy. Each probe is
//! one full run.
//!
//! # When a probe passes
//! A probe at rate λ passes when **both**
//! - its attainment `completed_within_slo / (completed + dropped + in_flight)` is ≥ the target —
//!   every request measured in the window counts: a drop, or a request still unfinished when the
//!   run ended (only possible with `run.drain = false` or past `run.drain_limit`), is a violation;
//! - and no request of the window was dropped (`dropped == 0`), whatever the reason: a serving
//!   system that sheds load is not within its capacity even if it sheds less than 1 − target.
//!
//! A run with no measured request (empty window) does not pass.
//!
//! # The search
//! 1. First probe at `start_rps`, default 0.1 / the app's isolated batch-1 latency: one request
//!    per ten service times, which any sensible deployment meets.
//! 2. If it passes, double the rate until a probe fails (at most `max_doublings` times); if it
//!    fails, halve it until one passes (at most `max_halvings` times). This gives a bracket
//!    `lo` (passed) < `hi` (failed).
//! 3. Bisect at the arithmetic midpoint until `hi − lo ≤ tolerance × lo`.
//!
//! The capacity is `lo`, the highest rate that passed within the final bracket. Attainment is
//! not strictly monotone in load (Poisson noise, scaling decisions), so a rate above `lo` may pass
//! and one below `hi` may fail; the answer is still well defined — the lower boundary of the
//! bracket the search converged to — and, with the scenario's fixed seed, the same on every run.

use serde::{Deserialize, Serialize};

use crate::report::Report;
use crate::rng::RunSeed;
use crate::scenario::ResolvedScenario;
use crate::simulation::{SimError, Simulation};
use crate::workload::{ArrivalSpec, WorkloadError};

/// Safety cap on bisection steps after the bracket is found (2^-60 of a bracket is far below any
/// tolerance allowed).
const MAX_BISECTIONS: u32 = 60;
/// Most arrivals drawn to measure a trace's mean rate.
const TRACE_RATE_SAMPLE: u64 = 10_000_000;

/// How the search runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityOptions {
    /// SLO attainment a probe must reach, in (0, 1]; the paper's SLOs are met by 99 % of requests.
    #[serde(default = "default_attainment")]
    pub attainment: f64,
    /// Relative width of the final bracket: stop when `hi − lo ≤ tolerance × lo`; in (0, 1).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// First rate probed, req/s; default 0.1 / the app's isolated latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_rps: Option<f64>,
    /// Most doublings of the rate while looking for a failing probe (1..=64).
    #[serde(default = "default_max_steps")]
    pub max_doublings: u32,
    /// Most halvings of the rate while looking for a passing probe (1..=64).
    #[serde(default = "default_max_halvings")]
    pub max_halvings: u32,
}

fn default_attainment() -> f64 {
    0.99
}
fn default_tolerance() -> f64 {
    0.02
}
/// 16 doublings: 65 536 × the start rate, far past any device's capacity.
fn default_max_steps() -> u32 {
    16
}
/// 8 halvings: one request per 2 560 isolated latencies; a deployment failing there misses its
/// SLO even unloaded (e.g. a batch timeout longer than the SLO's slack).
fn default_max_halvings() -> u32 {
    8
}

impl Default for CapacityOptions {
    fn default() -> Self {
        CapacityOptions {
            attainment: default_attainment(),
            tolerance: default_tolerance(),
            start_rps: None,
            max_doublings: default_max_steps(),
            max_halvings: default_max_halvings(),
        }
    }
}

impl CapacityOptions {
    /// Checks every option; the error names the field and what is allowed.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(self.attainment.is_finite() && self.attainment > 0.0 && self.attainment <= 1.0) {
            return Err((
                "attainment",
                format!(
                    "{} is not allowed: a fraction in (0, 1], e.g. 0.99",
                    self.attainment
                ),
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err((
                "tolerance",
                format!(
                    "{} is not allowed: a relative width in (0, 1), e.g. 0.02",
                    self.tolerance
                ),
            ));
        }
        if let Some(r) = self.start_rps
            && !(r.is_finite() && r > 0.0)
        {
            return Err(("start_rps", format!("{r} is not allowed: a rate > 0 req/s")));
        }
        for (field, n) in [
            ("max_doublings", self.max_doublings),
            ("max_halvings", self.max_halvings),
        ] {
            if !(1..=64).contains(&n) {
                return Err((field, format!("{n} is not allowed: between 1 and 64")));
            }
        }
        Ok(())
    }
}

/// Why a capacity search cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    /// An option is out of range.
    #[error("{field}: {message}")]
    Option {
        /// The option's name, e.g. `tolerance`.
        field: &'static str,
        /// What is allowed.
        message: String,
    },
    /// The workload's mean rate cannot be determined (a trace without arrivals, unreadable file).
    #[error("workload: {0}")]
    Workload(#[from] WorkloadError),
    /// A probe run could not be set up.
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// How a scenario's offered load maps to an arrival rate.
///
/// Constant and Poisson workloads take the rate as `rate_per_s`; an MMPP keeps its burstiness
/// (both state rates scale by the same factor, sojourn times unchanged); a replayed trace
/// (CSV timestamps or Azure Functions counts) is sped up with `rate_scale = rate / base`, where
/// `base` is the trace's mean rate at `rate_scale = 1` over the run's horizon (see
/// [`OfferedLoad::of`]). A trace's rate is therefore nominal: traces are not stationary, and each
/// probe also records the rate actually offered in its window ([`Probe::offered_rps`]). A trace
/// that does not loop runs out early once sped up (a 600 s window at `rate_scale` 4 lasts 150 s):
/// its probes then compress a fixed set of arrivals rather than add arrivals, and `offered_rps`
/// stops growing with the rate. Give such scenarios `loop_trace = true` for a capacity search.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferedLoad {
    /// Mean arrival rate of the workload as written (for traces: at `rate_scale = 1`), req/s.
    pub base_rate_per_s: f64,
    /// Whether the workload is a replayed trace (the rate maps to `rate_scale`).
    pub is_trace: bool,
}

impl OfferedLoad {
    /// The load of `scenario`. For traces, builds the unscaled replay once with the run's seed and
    /// measures its mean rate: `n / duration` over the arrivals before `run.duration` when the
    /// trace lasts that long, else `(n − 1) / (last − first)` over the arrivals it has (capped at
    /// `run.max_requests`).
    pub fn of(scenario: &ResolvedScenario) -> Result<OfferedLoad, WorkloadError> {
        let spec = &scenario.scenario;
        if let Some(rate) = spec.workload.mean_rate_per_s() {
            return Ok(OfferedLoad {
                base_rate_per_s: rate,
                is_trace: false,
            });
        }
        let unscaled = set_rate_scale(&spec.workload, None);
        let mut process = unscaled.build(&spec.base_dir, RunSeed(spec.seed).stream("arrivals"))?;
        let horizon_ns = spec.run.duration.map(|d| d.0.as_ns());
        let max_n = spec
            .run
            .max_requests
            .unwrap_or(u64::MAX)
            .min(TRACE_RATE_SAMPLE);
        let (mut n, mut first, mut last) = (0u64, None, 0u64);
        let mut reached_horizon = false;
        while n < max_n {
            let Some(t) = process.next_arrival() else {
                break;
            };
            let t = t.as_ns();
            if horizon_ns.is_some_and(|h| t >= h) {
                reached_horizon = true;
                break;
            }
            first.get_or_insert(t);
            last = t;
            n += 1;
        }
        let rate = match (reached_horizon, horizon_ns, first) {
            (true, Some(h), _) if n > 0 => n as f64 * 1e9 / h as f64,
            (_, _, Some(first)) if n >= 2 && last > first => {
                (n - 1) as f64 * 1e9 / (last - first) as f64
            }
            _ => {
                return Err(WorkloadError::invalid(
                    "rate_scale",
                    "(capacity search)",
                    format!(
                        "the trace has {n} arrival(s) in the run, too few to define a mean rate to scale"
                    ),
                ));
            }
        };
        Ok(OfferedLoad {
            base_rate_per_s: rate,
            is_trace: true,
        })
    }

    /// `scenario` with its offered load set to `rate_per_s` (> 0); everything else unchanged.
    pub fn with_rate(&self, scenario: &ResolvedScenario, rate_per_s: f64) -> ResolvedScenario {
        scale_load(scenario, rate_per_s / self.base_rate_per_s)
    }

    /// The `rate_scale` a trace workload gets at `rate_per_s`; `None` for synthetic workloads.
    pub fn rate_scale(&self, rate_per_s: f64) -> Option<f64> {
        self.is_trace.then(|| rate_per_s / self.base_rate_per_s)
    }
}

/// `scenario` with its offered load multiplied by `factor` (> 0): constant/Poisson rate and both
/// MMPP rates times `factor`; a trace's `rate_scale` set to `factor` (its unscaled rate × factor).
pub fn scale_load(scenario: &ResolvedScenario, factor: f64) -> ResolvedScenario {
    let mut out = scenario.clone();
    let workload = &mut out.scenario.workload;
    *workload = match workload.clone() {
        ArrivalSpec::Constant { rate_per_s } => ArrivalSpec::Constant {
            rate_per_s: rate_per_s * factor,
        },
        ArrivalSpec::Poisson { rate_per_s } => ArrivalSpec::Poisson {
            rate_per_s: rate_per_s * factor,
        },
        ArrivalSpec::Mmpp {
            rate_high_per_s,
            rate_low_per_s,
            mean_high_s,
            mean_low_s,
        } => ArrivalSpec::Mmpp {
            rate_high_per_s: rate_high_per_s * factor,
            rate_low_per_s: rate_low_per_s * factor,
            mean_high_s,
            mean_low_s,
        },
        trace => set_rate_scale(&trace, Some(factor)),
    };
    out
}

/// A trace spec with `rate_scale` replaced; synthetic specs unchanged.
fn set_rate_scale(spec: &ArrivalSpec, scale: Option<f64>) -> ArrivalSpec {
    let mut spec = spec.clone();
    match &mut spec {
        ArrivalSpec::Trace(t) => t.rate_scale = scale,
        ArrivalSpec::AzureFunctions(a) => a.rate_scale = scale,
        _ => {}
    }
    spec
}

/// One probe of the search: a full run at one rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// The offered rate, req/s (nominal for traces).
    pub rate_per_s: f64,
    /// The trace's `rate_scale` at this rate; absent for synthetic workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_scale: Option<f64>,
    /// Arrivals in the measured window / its length, req/s.
    pub offered_rps: f64,
    /// `completed_within_slo / (completed + dropped + in_flight)`; `None` for an empty window.
    pub attainment: Option<f64>,
    /// Requests completed within the SLO per second.
    pub goodput_rps: f64,
    /// Requests completed per second.
    pub throughput_rps: f64,
    /// Requests dropped in the window.
    pub dropped: u64,
    /// Requests unfinished when the run ended.
    pub in_flight: u64,
    /// 99th-percentile latency, ms; `None` if nothing completed.
    pub p99_ms: Option<f64>,
    /// Whether the probe met the target with no drop.
    pub passed: bool,
}

impl Probe {
    /// The probe of a run at `rate_per_s` judged against `target` (see the module docs).
    pub fn from_report(
        rate_per_s: f64,
        rate_scale: Option<f64>,
        report: &Report,
        target: f64,
    ) -> Probe {
        let s = &report.summary;
        let measured = s.completed + s.dropped + s.in_flight;
        let attainment = (measured > 0).then(|| s.completed_within_slo as f64 / measured as f64);
        Probe {
            rate_per_s,
            rate_scale,
            offered_rps: if s.duration_s > 0.0 {
                s.arrivals as f64 / s.duration_s
            } else {
                0.0
            },
            attainment,
            goodput_rps: s.goodput_rps,
            throughput_rps: s.throughput_rps,
            dropped: s.dropped,
            in_flight: s.in_flight,
            p99_ms: s.latency_ms.as_ref().map(|l| l.p99),
            passed: s.dropped == 0 && attainment.is_some_and(|a| a >= target),
        }
    }
}

/// How a search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The bracket narrowed to the tolerance.
    Converged,
    /// Every probe passed up to `max_doublings` doublings: the capacity is at least `lo`.
    NoFailingRate,
    /// Every probe failed down to `max_halvings` halvings: the capacity is below the lowest rate
    /// probed and is reported as 0.
    NoPassingRate,
    /// The bisection step cap was reached before the tolerance (only with a degenerate bracket).
    StepLimit,
}

/// The answer of a capacity search; serialises to the JSON `infscaler capacity --json` prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityResult {
    /// Scenario name.
    pub scenario: String,
    /// App name.
    pub app: String,
    /// Policy name.
    pub policy: String,
    /// The SLO, ms.
    pub slo_ms: f64,
    /// Highest rate that passed in the final bracket, req/s (0 if none passed).
    pub capacity_rps: f64,
    /// For trace workloads, the `rate_scale` at the capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_rate_scale: Option<f64>,
    /// The attainment target.
    pub target: f64,
    /// The relative tolerance.
    pub tolerance: f64,
    /// (highest passing rate or 0, lowest failing rate above it or `None` if none failed), req/s.
    pub bracket: (f64, Option<f64>),
    /// Whether the bracket narrowed to the tolerance.
    pub converged: bool,
    /// How the search ended.
    pub outcome: Outcome,
    /// Every probe, in the order run.
    pub probes: Vec<Probe>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Probing the first rate.
    Start,
    /// Doubling from a passing rate.
    Up,
    /// Halving from a failing rate.
    Down,
    /// Bisecting a bracket.
    Bisect,
    /// Finished.
    Done(Outcome),
}

/// The search as a state machine, so that a caller decides how and where probes run:
/// `while let Some(rate) = search.next_probe() { let r = run(&search.scenario_at(rate)); search.record(rate, &r) }`.
#[derive(Clone, Debug)]
pub struct CapacitySearch {
    scenario: ResolvedScenario,
    load: OfferedLoad,
    options: CapacityOptions,
    phase: Phase,
    /// Highest passing rate.
    lo: Option<f64>,
    /// Lowest failing rate above `lo`.
    hi: Option<f64>,
    next: f64,
    steps: u32,
    probes: Vec<Probe>,
}

impl CapacitySearch {
    /// A search over `scenario`'s offered load. Fails on invalid options or a trace whose rate
    /// cannot be measured.
    pub fn new(
        scenario: &ResolvedScenario,
        options: &CapacityOptions,
    ) -> Result<CapacitySearch, CapacityError> {
        options
            .validate()
            .map_err(|(field, message)| CapacityError::Option { field, message })?;
        let load = OfferedLoad::of(scenario)?;
        let start = options
            .start_rps
            .unwrap_or_else(|| 0.1 / scenario.isolated_latency.as_secs_f64().max(1e-9));
        Ok(CapacitySearch {
            scenario: scenario.clone(),
            load,
            options: options.clone(),
            phase: Phase::Start,
            lo: None,
            hi: None,
            next: start,
            steps: 0,
            probes: Vec::new(),
        })
    }

    /// The rate to probe next, or `None` when the search is over. Asking again without recording
    /// returns the same rate.
    pub fn next_probe(&self) -> Option<f64> {
        match self.phase {
            Phase::Done(_) => None,
            _ => Some(self.next),
        }
    }

    /// The scenario to run for the probe at `rate_per_s`.
    pub fn scenario_at(&self, rate_per_s: f64) -> ResolvedScenario {
        self.load.with_rate(&self.scenario, rate_per_s)
    }

    /// Records the report of the run at `rate_per_s` (which must be [`Self::next_probe`]'s).
    pub fn record(&mut self, rate_per_s: f64, report: &Report) {
        let probe = Probe::from_report(
            rate_per_s,
            self.load.rate_scale(rate_per_s),
            report,
            self.options.attainment,
        );
        self.record_probe(probe);
    }

    /// Records a judged probe and moves the search on.
    pub fn record_probe(&mut self, probe: Probe) {
        debug_assert_eq!(probe.rate_per_s, self.next, "probe recorded out of order");
        let rate = probe.rate_per_s;
        let passed = probe.passed;
        self.probes.push(probe);
        if passed {
            self.lo = Some(rate);
        } else {
            self.hi = Some(rate);
        }
        self.phase = match (self.phase, passed) {
            (Phase::Done(o), _) => Phase::Done(o),
            (Phase::Start, true) | (Phase::Up, true) => {
                if self.steps >= self.options.max_doublings {
                    Phase::Done(Outcome::NoFailingRate)
                } else {
                    self.steps += 1;
                    self.next = rate * 2.0;
                    Phase::Up
                }
            }
            (Phase::Start, false) | (Phase::Down, false) => {
                if self.steps >= self.options.max_halvings {
                    Phase::Done(Outcome::NoPassingRate)
                } else {
                    self.steps += 1;
                    self.next = rate / 2.0;
                    Phase::Down
                }
            }
            (Phase::Up, false) | (Phase::Down, true) => {
                self.steps = 0;
                Phase::Bisect
            }
            (Phase::Bisect, _) => Phase::Bisect,
        };
        if self.phase == Phase::Bisect {
            let (lo, hi) = (self.lo.unwrap_or(0.0), self.hi.unwrap_or(f64::INFINITY));
            if hi - lo <= self.options.tolerance * lo {
                self.phase = Phase::Done(Outcome::Converged);
            } else if self.steps >= MAX_BISECTIONS {
                self.phase = Phase::Done(Outcome::StepLimit);
            } else {
                self.steps += 1;
                self.next = 0.5 * (lo + hi);
            }
        }
    }

    /// The answer so far (final once [`Self::next_probe`] is `None`).
    pub fn result(&self) -> CapacityResult {
        let outcome = match self.phase {
            Phase::Done(o) => o,
            _ => Outcome::StepLimit,
        };
        let lo = self.lo.unwrap_or(0.0);
        let s = &self.scenario;
        CapacityResult {
            scenario: s.name.clone(),
            app: s.app_name.clone(),
            policy: s.scenario.policy.name().to_string(),
            slo_ms: s.slo.as_ms_f64(),
            capacity_rps: lo,
            capacity_rate_scale: self.lo.and_then(|r| self.load.rate_scale(r)),
            target: self.options.attainment,
            tolerance: self.options.tolerance,
            bracket: (lo, self.hi),
            converged: outcome == Outcome::Converged,
            outcome,
            probes: self.probes.clone(),
        }
    }
}

/// Runs a whole search with `run` executing each probe's scenario (sequentially).
pub fn find_capacity(
    scenario: &ResolvedScenario,
    options: &CapacityOptions,
    mut run: impl FnMut(&ResolvedScenario) -> Result<Report, SimError>,
) -> Result<CapacityResult, CapacityError> {
    let mut search = CapacitySearch::new(scenario, options)?;
    while let Some(rate) = search.next_probe() {
        let report = run(&search.scenario_at(rate))?;
        search.record(rate, &report);
    }
    Ok(search.result())
}

/// [`find_capacity`] with each probe a [`Simulation`] run at the scenario's own seed.
pub fn capacity(
    scenario: &ResolvedScenario,
    options: &CapacityOptions,
) -> Result<CapacityResult, CapacityError> {
    find_capacity(scenario, options, |s| Ok(Simulation::new(s, None)?.run()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(rate: f64, passed: bool) -> Probe {
        Probe {
            rate_per_s: rate,
            rate_scale: None,
            offered_rps: rate,
            attainment: Some(if passed { 1.0 } else { 0.0 }),
            goodput_rps: 0.0,
            throughput_rps: 0.0,
            dropped: 0,
            in_flight: 0,
            p99_ms: None,
            passed,
        }
    }

    fn quickstart() -> ResolvedScenario {
        let text = include_str!("../../../scenarios/quickstart.toml");
        crate::Scenario::parse(text, "quickstart", std::path::Path::new("."))
            .expect("parses")
            .resolve()
            .expect("valid")
    }

    /// Drives the search against a system that passes exactly below `true_capacity`.
    fn search_threshold(true_capacity: f64, options: &CapacityOptions) -> CapacityResult {
        let mut s = CapacitySearch::new(&quickstart(), options).expect("valid");
        while let Some(rate) = s.next_probe() {
            s.record_probe(probe(rate, rate <= true_capacity));
        }
        s.result()
    }

    /// The idealised test device of sim/tests/common (no overheads, memory bandwidth that never
    /// binds): an operator's time is its FLOPs over the engine's peak, so one CPU core serves a
    /// request in exactly `s` = the cost model's 1-core time.
    const IDEAL_PROFILE: &str = include_str!("../../tests/data/ideal.toml");

    /// Requests per probe in the ideal-device tests.
    const N: u64 = 2000;

    /// A scenario of `servers` one-core CPU instances of mobilenet_v2 (batch 1, deterministic
    /// service), constant arrivals and an absolute SLO of `slo_factor` × the 1-core service time.
    /// Returns it with that service time, s.
    fn ideal(servers: u32, slo_factor: f64) -> (ResolvedScenario, f64) {
        let dir = std::env::temp_dir().join(format!("infscaler-capacity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("ideal.toml"), IDEAL_PROFILE).expect("profile written");
        let scenario = |slo: &str| {
            let text = format!(
                r#"
seed = 7
[device]
profile = "ideal.toml"
[app]
name = "mobilenet_v2"
[slo]
latency = "{slo}"
[workload]
kind = "constant"
rate_per_s = 1.0
[run]
max_requests = {N}
[serving]
service_time = {{ kind = "deterministic" }}
[policy]
kind = "static"
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ cpu = {servers} }}
max_batch = 1
"#
            );
            crate::Scenario::parse(&text, "ideal", &dir)
                .expect("parses")
                .resolve()
                .expect("valid")
        };
        let probe = scenario("1s");
        let m = &probe.models[0];
        let s =
            crate::model::cost::plan(&m.operators, 1, 0, 1, probe.target()).solo_ns() as f64 / 1e9;
        let slo_us = (slo_factor * s * 1e6).round();
        (scenario(&format!("{slo_us}us")), s)
    }

    #[test]
    fn one_deterministic_server_has_capacity_one_over_its_service_time() {
        // Constant arrivals every g, service s, SLO 2s. For g ≥ s nobody waits: latency s, pass.
        // For g < s request k (from 0) waits k(s − g): within the SLO iff k ≤ s / (s − g), so
        // attainment ≥ 0.99 needs s / (s − g) ≥ 0.99 N − 1 = 1979, i.e. λ = 1/g ≤ 1.000506 / s.
        // The search returns lo with hi − lo ≤ 2 % lo around that boundary.
        let (scenario, s) = ideal(1, 2.0);
        let r = capacity(&scenario, &CapacityOptions::default()).expect("runs");
        assert!(r.converged, "{r:#?}");
        let x = r.capacity_rps * s;
        assert!((1.0 / 1.02..=1.000_51).contains(&x), "capacity × s = {x}");
        // Every probe up to the capacity passed; the bracket's top failed.
        let hi = r.bracket.1.expect("a failing rate");
        assert!(hi * s > 1.000_5, "hi × s = {}", hi * s);
        for p in &r.probes {
            assert_eq!(p.passed, p.rate_per_s <= r.capacity_rps, "{p:?}");
        }
    }

    #[test]
    fn two_servers_double_the_capacity_and_the_search_is_deterministic() {
        // Two independent servers (the ideal device's memory never binds) fed alternately by the
        // shared queue: each sees gaps of 2g, so the boundary is λ ≈ 2 / s (to within 1/N).
        let (scenario, s) = ideal(2, 2.0);
        let options = CapacityOptions {
            start_rps: Some(0.3 / s),
            ..CapacityOptions::default()
        };
        let a = capacity(&scenario, &options).expect("runs");
        let x = a.capacity_rps * s;
        assert!(
            a.converged && (2.0 / 1.02..=2.0011).contains(&x),
            "capacity × s = {x}"
        );
        let b = capacity(&scenario, &options).expect("runs");
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&a).expect("json"),
            serde_json::to_string(&b).expect("json")
        );
    }

    #[test]
    fn bisection_brackets_a_sharp_threshold_within_the_tolerance() {
        let options = CapacityOptions {
            start_rps: Some(10.0),
            ..CapacityOptions::default()
        };
        let r = search_threshold(123.4, &options);
        assert!(r.converged, "{r:?}");
        // 10, 20, 40, 80 pass; 160 fails; bisection of [80, 160] to hi − lo ≤ 2 % of lo.
        assert_eq!(
            r.probes[..5]
                .iter()
                .map(|p| p.rate_per_s)
                .collect::<Vec<_>>(),
            vec![10.0, 20.0, 40.0, 80.0, 160.0]
        );
        let (lo, hi) = (r.bracket.0, r.bracket.1.expect("a failing rate"));
        assert!(lo <= 123.4 && 123.4 < hi, "{lo} {hi}");
        assert!(hi - lo <= 0.02 * lo);
        assert_eq!(r.capacity_rps, lo);
        // A start above the capacity halves down: 1000, 500, 250 fail, 125 fails, 62.5 passes.
        let r = search_threshold(
            123.4,
            &CapacityOptions {
                start_rps: Some(1000.0),
                ..CapacityOptions::default()
            },
        );
        assert!(r.converged && r.capacity_rps <= 123.4 && r.capacity_rps > 123.4 / 1.02);
    }

    #[test]
    fn caps_on_doubling_and_halving_end_the_search_and_say_so() {
        let options = CapacityOptions {
            start_rps: Some(1.0),
            max_doublings: 3,
            max_halvings: 3,
            ..CapacityOptions::default()
        };
        // Always passing: 1, 2, 4, 8 probed, capacity at least 8.
        let r = search_threshold(f64::INFINITY, &options);
        assert_eq!(r.outcome, Outcome::NoFailingRate);
        assert!(!r.converged);
        assert_eq!((r.capacity_rps, r.bracket), (8.0, (8.0, None)));
        assert_eq!(r.probes.len(), 4);
        // Never passing: 1, 0.5, 0.25, 0.125 fail; capacity 0.
        let r = search_threshold(0.0, &options);
        assert_eq!(r.outcome, Outcome::NoPassingRate);
        assert_eq!((r.capacity_rps, r.bracket), (0.0, (0.0, Some(0.125))));
    }

    #[test]
    fn options_are_validated_naming_the_field() {
        let bad = [
            (
                CapacityOptions {
                    attainment: 0.0,
                    ..Default::default()
                },
                "attainment",
            ),
            (
                CapacityOptions {
                    attainment: 1.01,
                    ..Default::default()
                },
                "attainment",
            ),
            (
                CapacityOptions {
                    tolerance: 0.0,
                    ..Default::default()
                },
                "tolerance",
            ),
            (
                CapacityOptions {
                    tolerance: f64::NAN,
                    ..Default::default()
                },
                "tolerance",
            ),
            (
                CapacityOptions {
                    start_rps: Some(-1.0),
                    ..Default::default()
                },
                "start_rps",
            ),
            (
                CapacityOptions {
                    max_doublings: 0,
                    ..Default::default()
                },
                "max_doublings",
            ),
            (
                CapacityOptions {
                    max_halvings: 65,
                    ..Default::default()
                },
                "max_halvings",
            ),
        ];
        for (options, field) in bad {
            assert_eq!(options.validate().expect_err("invalid").0, field);
            let err = CapacitySearch::new(&quickstart(), &options).expect_err("refused");
            assert!(err.to_string().starts_with(field), "{err}");
        }
        assert!(CapacityOptions::default().validate().is_ok());
    }

    #[test]
    fn load_scaling_keeps_the_shape_of_the_process() {
        let q = quickstart();
        let load = OfferedLoad::of(&q).expect("poisson");
        assert_eq!(load.base_rate_per_s, 150.0);
        assert!(!load.is_trace);
        let s = load.with_rate(&q, 60.0);
        assert_eq!(
            s.scenario.workload,
            ArrivalSpec::Poisson { rate_per_s: 60.0 }
        );
        let mut m = q.clone();
        m.scenario.workload = ArrivalSpec::Mmpp {
            rate_high_per_s: 200.0,
            rate_low_per_s: 20.0,
            mean_high_s: 0.1,
            mean_low_s: 0.4,
        };
        // Mean (200·0.1 + 20·0.4) / 0.5 = 56/s; at 112/s both rates double, sojourns stay.
        let load = OfferedLoad::of(&m).expect("mmpp");
        let s = load.with_rate(&m, 112.0);
        assert_eq!(
            s.scenario.workload,
            ArrivalSpec::Mmpp {
                rate_high_per_s: 400.0,
                rate_low_per_s: 40.0,
                mean_high_s: 0.1,
                mean_low_s: 0.4,
            }
        );
    }
}
