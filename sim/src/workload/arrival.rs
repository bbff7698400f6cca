//! When requests arrive: the `[workload]` spec of a scenario and the processes it builds.
//!
//! Synthetic processes live here (constant rate, Poisson, two-state Markov-modulated Poisson);
//! trace replay lives in [`super::trace`] (timestamp CSV) and [`super::azure`] (Azure Functions
//! 2019 per-minute counts). Every process owns its random stream, so a run is a pure function of
//! (spec, seed), and emits integer-nanosecond times that never decrease.

use std::io;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand_distr::Exp1;
use serde::{Deserialize, Serialize};

use super::azure::AzureFunctionsSpec;
use super::trace::TraceSpec;
use crate::rng::SimRng;
use crate::time::{NS_PER_S, SimTime};

/// A source of request arrival times.
pub trait ArrivalProcess: Send + std::fmt::Debug {
    /// Next arrival time, or `None` when the process ends. Times never decrease.
    fn next_arrival(&mut self) -> Option<SimTime>;
}

/// Why a workload spec or its trace file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// A field of the spec has a value outside what is allowed.
    #[error("workload.{field} = {value}: {allowed}")]
    InvalidField {
        /// The field's key inside `[workload]`, e.g. `rate_per_s`.
        field: &'static str,
        /// The offending value as written.
        value: String,
        /// What is allowed instead.
        allowed: String,
    },
    /// A trace file could not be opened or read.
    #[error("workload.path: cannot read trace file {}: {source}", .path.display())]
    Read {
        /// The file, after resolving against the scenario's directory.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// One line of a trace file could not be parsed.
    #[error("{}:{line}: {message}", .path.display())]
    Parse {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: usize,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A trace file parsed, but cannot serve this spec (no such column or function, no arrivals
    /// in the window, ...).
    #[error("{}: {message}", .path.display())]
    Unusable {
        /// The trace file.
        path: PathBuf,
        /// What is missing and what the file offers.
        message: String,
    },
}

impl WorkloadError {
    pub(crate) fn invalid(
        field: &'static str,
        value: impl std::fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        WorkloadError::InvalidField {
            field,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

/// The `[workload]` arrival process of a scenario, tagged by `kind`.
///
/// ```toml
/// [workload]
/// kind = "poisson"
/// rate_per_s = 40.0
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArrivalSpec {
    /// One arrival every `1 / rate_per_s` seconds, the first at time zero.
    Constant {
        /// Arrivals per second; finite and > 0.
        rate_per_s: f64,
    },
    /// A Poisson process: exponential inter-arrival times with mean `1 / rate_per_s` (CV = 1).
    Poisson {
        /// Mean arrivals per second; finite and > 0.
        rate_per_s: f64,
    },
    /// A two-state Markov-modulated Poisson process (bursty, CV > 1): Poisson at
    /// `rate_high_per_s` for an exponential time of mean `mean_high_s`, then at `rate_low_per_s`
    /// for an exponential time of mean `mean_low_s`, and so on. The first state is drawn from the
    /// stationary mix, so the process is stationary from time zero.
    Mmpp {
        /// Arrivals per second in the high state; finite, > 0 and ≥ `rate_low_per_s`.
        rate_high_per_s: f64,
        /// Arrivals per second in the low state; finite and ≥ 0 (0 gives an on/off process).
        rate_low_per_s: f64,
        /// Mean time in the high state, seconds; finite and > 0.
        mean_high_s: f64,
        /// Mean time in the low state, seconds; finite and > 0.
        mean_low_s: f64,
    },
    /// Replay of the timestamps in one column of a CSV file.
    Trace(TraceSpec),
    /// Replay of one function of an Azure Functions 2019 per-minute invocation-count file.
    AzureFunctions(AzureFunctionsSpec),
}

impl ArrivalSpec {
    /// Checks every number of the spec; file contents are checked by [`ArrivalSpec::build`].
    pub fn validate(&self) -> Result<(), WorkloadError> {
        match self {
            ArrivalSpec::Constant { rate_per_s } | ArrivalSpec::Poisson { rate_per_s } => {
                check_positive("rate_per_s", *rate_per_s)
            }
            ArrivalSpec::Mmpp {
                rate_high_per_s,
                rate_low_per_s,
                mean_high_s,
                mean_low_s,
            } => {
                check_positive("rate_high_per_s", *rate_high_per_s)?;
                if !(rate_low_per_s.is_finite() && *rate_low_per_s >= 0.0) {
                    return Err(WorkloadError::invalid(
                        "rate_low_per_s",
                        rate_low_per_s,
                        "must be a finite number ≥ 0",
                    ));
                }
                if rate_low_per_s > rate_high_per_s {
                    return Err(WorkloadError::invalid(
                        "rate_low_per_s",
                        rate_low_per_s,
                        format!("must be ≤ workload.rate_high_per_s ({rate_high_per_s})"),
                    ));
                }
                check_positive("mean_high_s", *mean_high_s)?;
                check_positive("mean_low_s", *mean_low_s)
            }
            ArrivalSpec::Trace(spec) => spec.validate(),
            ArrivalSpec::AzureFunctions(spec) => spec.validate(),
        }
    }

    /// Validates the spec and builds its process. Relative trace paths resolve against
    /// `base_dir` (the scenario file's directory); `rng` becomes the process's own stream.
    pub fn build(
        &self,
        base_dir: &Path,
        rng: SimRng,
    ) -> Result<Box<dyn ArrivalProcess>, WorkloadError> {
        self.validate()?;
        Ok(match self {
            ArrivalSpec::Constant { rate_per_s } => Box::new(ConstantArrivals::new(*rate_per_s)),
            ArrivalSpec::Poisson { rate_per_s } => Box::new(PoissonArrivals::new(*rate_per_s, rng)),
            ArrivalSpec::Mmpp {
                rate_high_per_s,
                rate_low_per_s,
                mean_high_s,
                mean_low_s,
            } => Box::new(MmppArrivals::new(
                [*rate_high_per_s, *rate_low_per_s],
                [*mean_high_s, *mean_low_s],
                rng,
            )),
            ArrivalSpec::Trace(spec) => Box::new(spec.build(base_dir)?),
            ArrivalSpec::AzureFunctions(spec) => Box::new(spec.build(base_dir, rng)?),
        })
    }

    /// The long-run mean arrival rate, where it follows from the spec alone (not for traces).
    pub fn mean_rate_per_s(&self) -> Option<f64> {
        match self {
            ArrivalSpec::Constant { rate_per_s } | ArrivalSpec::Poisson { rate_per_s } => {
                Some(*rate_per_s)
            }
            ArrivalSpec::Mmpp {
                rate_high_per_s,
                rate_low_per_s,
                mean_high_s,
                mean_low_s,
            } => Some(
                (rate_high_per_s * mean_high_s + rate_low_per_s * mean_low_s)
                    / (mean_high_s + mean_low_s),
            ),
            ArrivalSpec::Trace(_) | ArrivalSpec::AzureFunctions(_) => None,
        }
    }
}

/// `Ok` if `value` is finite and > 0, else an error naming `field`.
pub(crate) fn check_positive(field: &'static str, value: f64) -> Result<(), WorkloadError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(WorkloadError::invalid(
            field,
            value,
            "must be a finite number > 0",
        ))
    }
}

/// Rounds a non-negative time in nanoseconds to the clock; `None` past the end of the clock.
fn round_to_time(t_ns: f64) -> Option<SimTime> {
    // 2^64 as f64; anything at or beyond it does not fit the u64 clock.
    const CLOCK_END_NS: f64 = 18_446_744_073_709_551_616.0;
    let rounded = t_ns.round();
    (rounded.is_finite() && rounded < CLOCK_END_NS).then(|| SimTime(rounded.max(0.0) as u64))
}

/// Arrivals at `k / rate` seconds, k = 0, 1, 2, ...; each time is rounded on its own, so there
/// is no drift.
#[derive(Debug)]
struct ConstantArrivals {
    gap_ns: f64,
    index: u64,
}

impl ConstantArrivals {
    fn new(rate_per_s: f64) -> Self {
        ConstantArrivals {
            gap_ns: NS_PER_S as f64 / rate_per_s,
            index: 0,
        }
    }
}

impl ArrivalProcess for ConstantArrivals {
    fn next_arrival(&mut self) -> Option<SimTime> {
        let t = round_to_time(self.index as f64 * self.gap_ns)?;
        self.index += 1;
        Some(t)
    }
}

/// Exponential gaps accumulated in continuous time; each arrival is rounded to the nanosecond
/// (accumulating rounded gaps would bias the rate at high rates).
#[derive(Debug)]
struct PoissonArrivals {
    mean_gap_ns: f64,
    now_ns: f64,
    rng: SimRng,
}

impl PoissonArrivals {
    fn new(rate_per_s: f64, rng: SimRng) -> Self {
        PoissonArrivals {
            mean_gap_ns: NS_PER_S as f64 / rate_per_s,
            now_ns: 0.0,
            rng,
        }
    }
}

impl ArrivalProcess for PoissonArrivals {
    fn next_arrival(&mut self) -> Option<SimTime> {
        let e: f64 = self.rng.sample(Exp1);
        self.now_ns += e * self.mean_gap_ns;
        round_to_time(self.now_ns)
    }
}

const HIGH: usize = 0;
const LOW: usize = 1;

/// Two-state MMPP. In each state arrivals are Poisson; when the next candidate arrival falls
/// after the state's end, it is discarded and drawn again in the next state (valid because both
/// the arrivals and the sojourns are memoryless).
#[derive(Debug)]
struct MmppArrivals {
    /// Arrivals per ns, indexed by [`HIGH`] / [`LOW`].
    rate_per_ns: [f64; 2],
    /// Mean sojourn in each state, ns.
    mean_sojourn_ns: [f64; 2],
    state: usize,
    now_ns: f64,
    state_end_ns: f64,
    rng: SimRng,
}

impl MmppArrivals {
    fn new(rate_per_s: [f64; 2], mean_sojourn_s: [f64; 2], mut rng: SimRng) -> Self {
        let ns = NS_PER_S as f64;
        let p_high = mean_sojourn_s[HIGH] / (mean_sojourn_s[HIGH] + mean_sojourn_s[LOW]);
        let state = if rng.random_bool(p_high) { HIGH } else { LOW };
        let mean_sojourn_ns = [mean_sojourn_s[HIGH] * ns, mean_sojourn_s[LOW] * ns];
        // The time left in the first state is exponential too (memoryless), so drawing it afresh
        // keeps the process stationary.
        let first_sojourn: f64 = rng.sample(Exp1);
        MmppArrivals {
            rate_per_ns: [rate_per_s[HIGH] / ns, rate_per_s[LOW] / ns],
            mean_sojourn_ns,
            state,
            now_ns: 0.0,
            state_end_ns: first_sojourn * mean_sojourn_ns[state],
            rng,
        }
    }
}

impl ArrivalProcess for MmppArrivals {
    fn next_arrival(&mut self) -> Option<SimTime> {
        loop {
            let rate = self.rate_per_ns[self.state];
            if rate > 0.0 {
                let e: f64 = self.rng.sample(Exp1);
                let candidate = self.now_ns + e / rate;
                if candidate < self.state_end_ns {
                    self.now_ns = candidate;
                    return round_to_time(candidate);
                }
            }
            if !self.state_end_ns.is_finite() {
                return None;
            }
            self.now_ns = self.state_end_ns;
            self.state = 1 - self.state;
            let e: f64 = self.rng.sample(Exp1);
            self.state_end_ns = self.now_ns + e * self.mean_sojourn_ns[self.state];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RunSeed;

    fn build(spec: &ArrivalSpec, seed: u64) -> Box<dyn ArrivalProcess> {
        spec.build(Path::new("."), RunSeed(seed).stream("arrivals"))
            .expect("valid spec")
    }

    fn take(process: &mut dyn ArrivalProcess, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| process.next_arrival().expect("endless process").as_ns())
            .collect()
    }

    /// (mean rate per s, coefficient of variation of the gaps) of a sequence of arrival times.
    fn rate_and_cv(times_ns: &[u64]) -> (f64, f64) {
        let gaps: Vec<f64> = times_ns.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let n = gaps.len() as f64;
        let mean = gaps.iter().sum::<f64>() / n;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (NS_PER_S as f64 / mean, var.sqrt() / mean)
    }

    #[test]
    fn constant_arrivals_are_exactly_evenly_spaced() {
        let mut p = build(&ArrivalSpec::Constant { rate_per_s: 100.0 }, 1);
        let times = take(p.as_mut(), 1_000);
        for (k, t) in times.iter().enumerate() {
            assert_eq!(*t, k as u64 * 10_000_000);
        }
        // A gap that is not a whole number of ns: each time is the exact k/rate rounded, no drift.
        let mut p = build(&ArrivalSpec::Constant { rate_per_s: 3.0 }, 1);
        let times = take(p.as_mut(), 3_001);
        assert_eq!(times[3], NS_PER_S);
        assert_eq!(times[3_000], 1_000 * NS_PER_S);
        assert_eq!(times[1], 333_333_333);
        assert_eq!(times[2], 666_666_667);
    }

    #[test]
    fn poisson_has_the_asked_rate_and_cv_one() {
        let mut p = build(&ArrivalSpec::Poisson { rate_per_s: 250.0 }, 7);
        let times = take(p.as_mut(), 100_000);
        let (rate, cv) = rate_and_cv(&times);
        // Standard error of the rate estimate: 250 / sqrt(1e5) ≈ 0.8/s; of the CV: sqrt(2/n) ≈ 0.0045.
        assert!((rate - 250.0).abs() < 250.0 * 0.015, "rate {rate}");
        assert!((cv - 1.0).abs() < 0.02, "cv {cv}");
    }

    #[test]
    fn mmpp_rate_is_the_stationary_mix_and_it_is_bursty() {
        let spec = ArrivalSpec::Mmpp {
            rate_high_per_s: 200.0,
            rate_low_per_s: 20.0,
            mean_high_s: 0.1,
            mean_low_s: 0.4,
        };
        // (200·0.1 + 20·0.4) / (0.1 + 0.4) = 56 per second.
        let expected = spec.mean_rate_per_s().expect("mmpp has a mean rate");
        assert!((expected - 56.0).abs() < 1e-9);
        let mut p = build(&spec, 3);
        let times = take(p.as_mut(), 200_000);
        let (rate, cv) = rate_and_cv(&times);
        // ~7,000 high/low cycles: the standard error of the rate is ≈ 0.9 %.
        assert!((rate - expected).abs() < expected * 0.03, "rate {rate}");
        assert!(cv > 1.2, "cv {cv}");
    }

    #[test]
    fn mmpp_with_a_silent_low_state_is_on_off() {
        let spec = ArrivalSpec::Mmpp {
            rate_high_per_s: 100.0,
            rate_low_per_s: 0.0,
            mean_high_s: 1.0,
            mean_low_s: 1.0,
        };
        let mut p = build(&spec, 5);
        let times = take(p.as_mut(), 50_000);
        let (rate, cv) = rate_and_cv(&times);
        assert!((rate - 50.0).abs() < 50.0 * 0.05, "rate {rate}");
        assert!(cv > 1.5, "cv {cv}");
    }

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let specs = [
            ArrivalSpec::Poisson { rate_per_s: 10.0 },
            ArrivalSpec::Mmpp {
                rate_high_per_s: 50.0,
                rate_low_per_s: 5.0,
                mean_high_s: 1.0,
                mean_low_s: 3.0,
            },
        ];
        for spec in &specs {
            let a = take(build(spec, 11).as_mut(), 1_000);
            let b = take(build(spec, 11).as_mut(), 1_000);
            let c = take(build(spec, 12).as_mut(), 1_000);
            assert_eq!(a, b, "{spec:?}");
            assert_ne!(a, c, "{spec:?}");
            assert!(a.windows(2).all(|w| w[0] <= w[1]), "{spec:?} not sorted");
        }
    }

    #[test]
    fn bad_numbers_are_rejected_naming_the_field() {
        let cases = [
            (
                ArrivalSpec::Poisson { rate_per_s: 0.0 },
                "workload.rate_per_s",
            ),
            (
                ArrivalSpec::Constant { rate_per_s: -1.0 },
                "workload.rate_per_s",
            ),
            (
                ArrivalSpec::Poisson {
                    rate_per_s: f64::NAN,
                },
                "workload.rate_per_s",
            ),
            (
                ArrivalSpec::Mmpp {
                    rate_high_per_s: 1.0,
                    rate_low_per_s: 2.0,
                    mean_high_s: 1.0,
                    mean_low_s: 1.0,
                },
                "workload.rate_low_per_s",
            ),
            (
                ArrivalSpec::Mmpp {
                    rate_high_per_s: 2.0,
                    rate_low_per_s: 1.0,
                    mean_high_s: f64::INFINITY,
                    mean_low_s: 1.0,
                },
                "workload.mean_high_s",
            ),
        ];
        for (spec, field) in cases {
            let err = spec
                .build(Path::new("."), RunSeed(1).stream("a"))
                .expect_err("invalid spec");
            let msg = err.to_string();
            assert!(msg.starts_with(field), "{msg}");
            assert!(msg.contains("must be"), "{msg}");
        }
    }

    #[test]
    fn specs_parse_from_toml_by_kind() {
        let spec: ArrivalSpec = toml::from_str("kind = \"poisson\"\nrate_per_s = 40").expect("ok");
        assert_eq!(spec, ArrivalSpec::Poisson { rate_per_s: 40.0 });
        let spec: ArrivalSpec = toml::from_str(
            "kind = \"mmpp\"\nrate_high_per_s = 9.0\nrate_low_per_s = 1.0\n\
             mean_high_s = 2.0\nmean_low_s = 8.0",
        )
        .expect("ok");
        assert!((spec.mean_rate_per_s().expect("rate") - 2.6).abs() < 1e-12);
        let spec: ArrivalSpec = toml::from_str(
            "kind = \"trace\"\npath = \"t.csv\"\ntime_unit = \"ms\"\nend_s = 60\nloop_trace = true",
        )
        .expect("ok");
        let ArrivalSpec::Trace(trace) = &spec else {
            panic!("{spec:?}")
        };
        assert_eq!(trace.end_s, Some(60.0));
        assert!(trace.loop_trace);
        let spec: ArrivalSpec = toml::from_str(
            "kind = \"azure_functions\"\npath = \"d01.csv\"\nday_minutes = [601, 660]\n\
             spread = \"even\"",
        )
        .expect("ok");
        let ArrivalSpec::AzureFunctions(azure) = &spec else {
            panic!("{spec:?}")
        };
        assert_eq!(azure.day_minutes, Some((601, 660)));
        // Round trip through serde keeps the spec.
        let text = toml::to_string(&spec).expect("serialises");
        assert_eq!(toml::from_str::<ArrivalSpec>(&text).expect("parses"), spec);
    }

    #[test]
    fn unknown_kinds_and_keys_are_errors() {
        for text in [
            "kind = \"poisson\"\nrate = 4.0",
            "kind = \"gamma\"\nrate_per_s = 4.0",
            "kind = \"trace\"\npath = \"a.csv\"\nscale = 2.0",
            "kind = \"azure_functions\"\npath = \"a.csv\"\nminutes = [1, 2]",
        ] {
            assert!(toml::from_str::<ArrivalSpec>(text).is_err(), "{text}");
        }
    }
}
