//! Capacity search: the highest arrival rate at which a scenario still meets its SLO-attainment
//! target — "throughput while satisfying the latency SLO", as the InfScaler paper measures it
//! (§V, Fig. 5).
//!
//! The search varies only the offered load of the scenario ([`OfferedLoad`]) and runs the scenario
//! as written otherwise: its seed, its `[run]` (duration, warm-up, drain), its policy. Each probe is
//! one full run.
//!
//! # How long a probe runs
//! At least `min_requests` measured requests (default 2,000) and at least the scenario's own
//! duration: a probe's arrivals run for `max(duration, warm-up + 1.1 × min_requests / λ)` (or, for
//! a scenario stopped by `max_requests`, that many plus the warm-up's arrivals). Below ~100
//! requests a single late request fails a 99 % target, and the capacity becomes a coin toss on
//! Poisson clumping.
//!
//! # When a probe passes
//! A probe's attainment `completed_within_slo / (completed + dropped + in_flight)` counts every
//! request measured in the window: a drop, or a request still unfinished when the run ended (only
//! possible with `run.drain = false` or past `run.drain_limit`), is a violation. It comes with a
//! confidence interval at `confidence` (default 95 %): the union of the Wilson score interval,
//! which assumes independent requests and keeps its coverage near 0 and 1, and — once the window
//! has at least 20 batches — the batch-means interval ([`crate::metrics::BatchMeans`]: Student t
//! on the attainment of 20–40 consecutive batches of finished requests), which allows for late
//! requests coming in clusters (a busy period delays every request in it), where Wilson's is too
//! narrow. The search decides on the interval:
//! - the probe **passes** when the interval's lower end is ≥ the target and no request of the
//!   window was dropped (`dropped == 0`, whatever the reason: a serving system that sheds load is
//!   not within its capacity even if it sheds less than 1 − target);
//! - it **fails** when the interval's upper end is below the target, or anything was dropped;
//! - otherwise the data cannot tell: the probe is run again at the same rate with twice the
//!   requests, up to `max_extensions` times; the last one decides on the point estimate and says
//!   so (`decided_by_interval = false`).
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
use crate::time::SimDuration;
use crate::units::TimeSpan;
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
    /// Measured requests a probe has at least (≥ 1); its run is lengthened to reach them.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// Confidence level of the attainment's Wilson interval, in (0, 1).
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Most reruns of a probe whose interval holds the target, each with twice the requests
    /// (0..=8).
    #[serde(default = "default_max_extensions")]
    pub max_extensions: u32,
}

fn default_min_requests() -> u64 {
    2000
}
fn default_confidence() -> f64 {
    0.95
}
fn default_max_extensions() -> u32 {
    2
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
            min_requests: default_min_requests(),
            confidence: default_confidence(),
            max_extensions: default_max_extensions(),
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
        if self.min_requests == 0 {
            return Err((
                "min_requests",
                "0 is not allowed: at least 1 measured request per probe (default 2000)".into(),
            ));
        }
        if !(self.confidence.is_finite() && self.confidence > 0.0 && self.confidence < 1.0) {
            return Err((
                "confidence",
                format!(
                    "{} is not allowed: a level in (0, 1), e.g. 0.95",
                    self.confidence
                ),
            ));
        }
        if self.max_extensions > 8 {
            return Err((
                "max_extensions",
                format!("{} is not allowed: between 0 and 8", self.max_extensions),
            ));
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
    /// Requests measured in the window: `completed + dropped + in_flight`.
    #[serde(default)]
    pub measured: u64,
    /// `completed_within_slo / (completed + dropped + in_flight)`; `None` for an empty window.
    pub attainment: Option<f64>,
    /// The attainment's confidence interval at the search's confidence (Wilson's, widened to
    /// the batch-means interval where that is wider); `None` for an empty window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attainment_interval: Option<(f64, f64)>,
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
    /// Whether the interval decided (it lies wholly on one side of the target, or something was
    /// dropped); `false` when the point estimate had to.
    #[serde(default = "yes")]
    pub decided_by_interval: bool,
    /// Whether the interval held the target with extensions left: the search runs the same rate
    /// again with twice the requests, and this probe decides nothing.
    #[serde(default)]
    pub undecided: bool,
}

fn yes() -> bool {
    true
}

/// How a probe's report is judged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Judge {
    /// The attainment target.
    pub target: f64,
    /// The confidence level of the Wilson interval.
    pub confidence: f64,
    /// Whether an interval that holds the target may ask for a longer probe.
    pub may_extend: bool,
}

impl Probe {
    /// The probe of a run at `rate_per_s` judged by `judge` (see the module docs).
    pub fn from_report(
        rate_per_s: f64,
        rate_scale: Option<f64>,
        report: &Report,
        judge: Judge,
    ) -> Probe {
        let s = &report.summary;
        let measured = s.completed + s.dropped + s.in_flight;
        let attainment = (measured > 0).then(|| s.completed_within_slo as f64 / measured as f64);
        let interval = (measured > 0).then(|| {
            let (low, high) = wilson_interval(s.completed_within_slo, measured, judge.confidence);
            match batch_means_interval(&s.attainment_batch_means, judge.confidence) {
                Some((bl, bh)) => (low.min(bl), high.max(bh)),
                None => (low, high),
            }
        });
        let (passed, decided_by_interval, undecided) = match (interval, attainment) {
            _ if s.dropped > 0 => (false, true, false),
            (Some((low, high)), Some(a)) => {
                if low >= judge.target {
                    (true, true, false)
                } else if high < judge.target {
                    (false, true, false)
                } else {
                    (a >= judge.target, false, judge.may_extend)
                }
            }
            _ => (false, true, false),
        };
        Probe {
            measured,
            attainment_interval: interval,
            decided_by_interval,
            undecided,
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
            passed,
        }
    }
}

/// The Wilson score interval of a proportion: `successes` of `n` (> 0) trials at two-sided
/// `confidence` (Wilson 1927; it stays inside [0, 1] and keeps its coverage near 0 and 1,
/// where an attainment target lives, unlike the normal approximation).
pub fn wilson_interval(successes: u64, n: u64, confidence: f64) -> (f64, f64) {
    let z = standard_normal_quantile(0.5 + confidence / 2.0);
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2n = z * z / n_f;
    let centre = (p + z2n / 2.0) / (1.0 + z2n);
    let half = z / (1.0 + z2n) * (p * (1.0 - p) / n_f + z2n / (4.0 * n_f)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Fewest batches for a batch-means interval.
pub const MIN_BATCHES: usize = 20;

/// The Student-t interval at two-sided `confidence` of the mean of `means` (batch means),
/// within [0, 1]; `None` with fewer than [`MIN_BATCHES`].
pub fn batch_means_interval(means: &[f64], confidence: f64) -> Option<(f64, f64)> {
    if means.len() < MIN_BATCHES {
        return None;
    }
    let k = means.len() as f64;
    let mean = means.iter().sum::<f64>() / k;
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (k - 1.0);
    let half = student_t_quantile(0.5 + confidence / 2.0, k - 1.0) * (var / k).sqrt();
    Some(((mean - half).max(0.0), (mean + half).min(1.0)))
}

/// The Student-t quantile for probability `p` in (0, 1) and `df` degrees of freedom: the
/// Cornish–Fisher expansion about the normal quantile to order 1/df³ (Abramowitz & Stegun
/// 26.7.5), within 1e-4 of the exact value for df ≥ 10 at the usual confidence levels.
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    let z = standard_normal_quantile(p);
    let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
    z + (z3 + z) / (4.0 * df)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * df.powi(3))
}

/// The standard normal quantile Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation
/// (relative error below 1.2e-9).
pub fn standard_normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
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
    /// Measured requests each probe had at least.
    #[serde(default)]
    pub min_requests: u64,
    /// Confidence level of the probes' attainment intervals.
    #[serde(default)]
    pub confidence: f64,
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
    /// Measured requests the next probe needs (doubles while a rate is extended).
    requests: u64,
    /// Extensions of the current rate so far.
    extensions: u32,
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
            requests: options.min_requests,
            extensions: 0,
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

    /// The scenario to run for the probe at `rate_per_s` (the next probe's): the offered load
    /// set, and the run long enough for the requests it needs (see the module docs).
    pub fn scenario_at(&self, rate_per_s: f64) -> ResolvedScenario {
        with_requests(
            self.load.with_rate(&self.scenario, rate_per_s),
            rate_per_s,
            self.requests,
        )
    }

    /// How the next probe is judged.
    pub fn judge(&self) -> Judge {
        Judge {
            target: self.options.attainment,
            confidence: self.options.confidence,
            may_extend: self.extensions < self.options.max_extensions,
        }
    }

    /// Records the report of the run at `rate_per_s` (which must be [`Self::next_probe`]'s).
    pub fn record(&mut self, rate_per_s: f64, report: &Report) {
        let probe = Probe::from_report(
            rate_per_s,
            self.load.rate_scale(rate_per_s),
            report,
            self.judge(),
        );
        self.record_probe(probe);
    }

    /// Records a judged probe and moves the search on: an undecided probe has the same rate run
    /// again with twice the requests.
    pub fn record_probe(&mut self, probe: Probe) {
        debug_assert_eq!(probe.rate_per_s, self.next, "probe recorded out of order");
        let rate = probe.rate_per_s;
        let passed = probe.passed;
        let undecided = probe.undecided;
        self.probes.push(probe);
        if undecided && !matches!(self.phase, Phase::Done(_)) {
            self.extensions += 1;
            self.requests = self.requests.saturating_mul(2);
            return;
        }
        self.extensions = 0;
        self.requests = self.options.min_requests;
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
            min_requests: self.options.min_requests,
            confidence: self.options.confidence,
            bracket: (lo, self.hi),
            converged: outcome == Outcome::Converged,
            outcome,
            probes: self.probes.clone(),
        }
    }
}

/// `scenario` run long enough for `requests` measured requests at `rate_per_s`: its arrivals
/// last at least the warm-up plus 1.1 × `requests` / rate (the 10 % keeps a Poisson count
/// from falling short: 4 standard deviations at 2,000), never less than the scenario's own
/// duration; a scenario stopped by a request count gets at least that many plus the warm-up's.
pub fn with_requests(
    mut scenario: ResolvedScenario,
    rate_per_s: f64,
    requests: u64,
) -> ResolvedScenario {
    let run = &mut scenario.scenario.run;
    let warmup_s = run.warmup.0.as_secs_f64();
    let needed = 1.1 * requests as f64;
    if let Some(duration) = &mut run.duration {
        let secs = warmup_s + needed / rate_per_s.max(1e-12);
        let ns = (secs * 1e9).ceil().min(u64::MAX as f64 / 2.0) as u64;
        if ns > duration.0.as_ns() {
            *duration = TimeSpan(SimDuration::from_ns(ns));
        }
    }
    if let Some(max) = &mut run.max_requests {
        let n = (needed + rate_per_s * warmup_s)
            .ceil()
            .min(u64::MAX as f64 / 2.0) as u64;
        *max = (*max).max(n);
    }
    scenario
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
            measured: N,
            attainment: Some(if passed { 1.0 } else { 0.0 }),
            attainment_interval: None,
            goodput_rps: 0.0,
            throughput_rps: 0.0,
            dropped: 0,
            in_flight: 0,
            p99_ms: None,
            passed,
            decided_by_interval: true,
            undecided: false,
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
    fn student_t_quantiles_match_the_tables() {
        // Abramowitz & Stegun Table 26.10 / any t table.
        for (p, df, t) in [
            (0.975, 10.0, 2.2281),
            (0.975, 19.0, 2.0930),
            (0.975, 39.0, 2.0227),
            (0.995, 20.0, 2.8453),
            (0.95, 30.0, 1.6973),
        ] {
            let got = student_t_quantile(p, df);
            assert!((got - t).abs() < 2e-3, "t({p}, {df}) = {got}, table {t}");
        }
        assert_eq!(batch_means_interval(&[1.0; 19], 0.95), None);
        assert_eq!(batch_means_interval(&[1.0; 20], 0.95), Some((1.0, 1.0)));
    }

    #[test]
    fn batch_means_cover_a_queues_attainment_where_wilson_does_not() {
        // M/M/1 at ρ = 0.5 with an SLO of 8 mean service times: FCFS sojourn times are
        // exponential with rate μ(1 − ρ), so the true attainment is 1 − e^{−4} = 0.98168.
        // Late requests cluster in busy periods, and 8,800 of them are far fewer independent
        // samples: Wilson's interval, which assumes independence, misses the truth for some
        // seeds; widened to the batch-means interval it covers it.
        let truth = 1.0 - (-4.0f64).exp();
        let (base, s) = ideal(1, 8.0);
        let mut wilson_covers = 0;
        let mut covers = 0;
        for seed in 1..=4u64 {
            let mut sc = base.clone();
            sc.scenario.seed = seed;
            sc.scenario.workload = ArrivalSpec::Poisson {
                rate_per_s: 0.5 / s,
            };
            sc.scenario.serving.service_time = crate::executor::ServiceTime::Exponential;
            sc.scenario.run.max_requests = Some(8_800);
            let report = Simulation::new(&sc, None).expect("sets up").run();
            let judge = Judge {
                target: 0.99,
                confidence: 0.95,
                may_extend: false,
            };
            let probe = Probe::from_report(0.5 / s, None, &report, judge);
            let (low, high) = probe.attainment_interval.expect("measured");
            let sm = &report.summary;
            let (wl, wh) = wilson_interval(sm.completed_within_slo, probe.measured, 0.95);
            assert!(
                low < wl && high > wh,
                "seed {seed}: batch means widen [{wl:.4}, {wh:.4}] to [{low:.4}, {high:.4}]"
            );
            wilson_covers += usize::from((wl..=wh).contains(&truth));
            covers += usize::from((low..=high).contains(&truth));
        }
        assert!(covers >= 3, "covered in {covers} of 4 seeds");
        assert!(
            wilson_covers < covers,
            "Wilson {wilson_covers}, widened {covers}"
        );
    }

    #[test]
    fn wilson_intervals_match_published_values_and_narrow_with_more_requests() {
        assert!((standard_normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((standard_normal_quantile(0.005) + 2.575_829_304).abs() < 1e-8);
        assert_eq!(standard_normal_quantile(0.5), 0.0);
        let close = |(a, b): (f64, f64), (x, y): (f64, f64)| {
            assert!((a - x).abs() < 1e-9 && (b - y).abs() < 1e-9, "({a}, {b})");
        };
        // Reference values from the closed form at z = Φ⁻¹(0.975).
        close(wilson_interval(0, 10, 0.95), (0.0, 0.277_532_799_862_889_2));
        close(
            wilson_interval(990, 1000, 0.95),
            (0.981_690_531_129_685_3, 0.994_559_245_554_470_7),
        );
        close(
            wilson_interval(1980, 2000, 0.95),
            (0.984_604_061_540_924_7, 0.993_517_232_123_447_2),
        );
        close(
            wilson_interval(20, 20, 0.95),
            (0.838_874_841_947_180_6, 1.0),
        );
        // Twenty requests all within the SLO cannot show 99 %; 2,000 can.
        assert!(wilson_interval(20, 20, 0.95).0 < 0.99);
        assert!(wilson_interval(2000, 2000, 0.95).0 > 0.99);
    }

    #[test]
    fn an_undecided_probe_runs_again_with_twice_the_requests() {
        let options = CapacityOptions {
            start_rps: Some(10.0),
            min_requests: 500,
            ..CapacityOptions::default()
        };
        let mut s = CapacitySearch::new(&quickstart(), &options).expect("valid");
        let run_of = |s: &CapacitySearch| {
            let r = s.scenario_at(10.0).scenario.run;
            // To the millisecond (the run is lengthened to a whole nanosecond).
            let secs = |d: TimeSpan| (d.0.as_secs_f64() * 1e3).round() / 1e3;
            (r.duration.map(secs), r.max_requests)
        };
        // quickstart runs 30 s with a 2 s warm-up: 500 requests (+10 %) at 10/s need 2 + 55 s.
        assert_eq!(run_of(&s), (Some(57.0), None));
        let mut undecided = probe(10.0, true);
        undecided.undecided = true;
        assert!(s.judge().may_extend);
        s.record_probe(undecided.clone());
        assert_eq!(s.next_probe(), Some(10.0));
        assert_eq!(run_of(&s), (Some(112.0), None));
        s.record_probe(undecided);
        assert_eq!(run_of(&s), (Some(222.0), None));
        // Two extensions used: the next probe must decide.
        assert!(!s.judge().may_extend);
        s.record_probe(probe(10.0, true));
        assert_eq!(s.next_probe(), Some(20.0));
        assert_eq!(run_of(&s), (Some(57.0), None));
        assert!(s.judge().may_extend);
    }

    #[test]
    fn longer_probes_narrow_the_capacity_across_seeds() {
        // M/M/1 on the ideal device (exponential service): the capacity at 99 % within an SLO of
        // 8 service times is a property of the queue (ρ = 1 − ln 100 / 8 = 0.42), and every seed
        // should find about the same one. With 100 requests per probe it is a coin toss on
        // Poisson clumping (measured: 0.27–0.52); with 4,000 the seeds agree better, though not
        // as well as independent requests would allow: late requests come in busy periods, so
        // a run of n requests holds far fewer independent samples than n and the Wilson interval
        // (which assumes independence) is too narrow — 8,800 requests of seed 1 at ρ = 0.5 showed
        // 99.3 % where the queue's true attainment is 98.2 %.
        let (base, s) = ideal(1, 8.0);
        let spread = |min_requests: u64| {
            let caps: Vec<f64> = (1..=4u64)
                .map(|seed| {
                    let mut sc = base.clone();
                    sc.scenario.seed = seed;
                    sc.scenario.workload = ArrivalSpec::Poisson { rate_per_s: 1.0 };
                    sc.scenario.serving.service_time = crate::executor::ServiceTime::Exponential;
                    sc.scenario.run.max_requests = Some(min_requests);
                    let options = CapacityOptions {
                        start_rps: Some(0.25 / s),
                        min_requests,
                        tolerance: 0.05,
                        ..CapacityOptions::default()
                    };
                    let r = capacity(&sc, &options).expect("runs");
                    assert!(
                        r.probes.iter().all(|p| p.measured >= min_requests),
                        "{r:#?}"
                    );
                    r.capacity_rps * s
                })
                .collect();
            let (lo, hi) = caps
                .iter()
                .fold((f64::INFINITY, 0.0f64), |(a, b), &c| (a.min(c), b.max(c)));
            (hi - lo) / hi
        };
        let (short, long) = (spread(100), spread(4000));
        assert!(
            long < 0.6 * short,
            "spread {long} with 4,000 vs {short} with 100"
        );
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
