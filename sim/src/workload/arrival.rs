//! Arrival processes: the interface every process implements, the errors of a workload, and the
//! synthetic processes (constant rate, Poisson, two-state Markov-modulated Poisson).
//!
//! Trace replay lives in [`super::trace`] (timestamp CSV) and [`super::azure`] (Azure Functions
//! 2019 per-minute counts); the `[workload]` table that picks a process is [`super::spec`]. Every
//! process owns its random stream, so a run is a pure function of (spec, seed), and emits
//! integer-nanosecond times that never decrease.

use std::io;
use std::path::PathBuf;

use rand::Rng;
use rand_distr::Exp1;

pub use crate::model::tokens::RequestTokens;
use crate::rng::SimRng;
use crate::time::{NS_PER_S, SimDuration, SimTime};

/// A source of request arrival times.
pub trait ArrivalProcess: Send + std::fmt::Debug {
    /// Next arrival time, or `None` when the process ends. Times never decrease.
    fn next_arrival(&mut self) -> Option<SimTime>;

    /// What the process knows of the arrival [`next_arrival`](Self::next_arrival) returned
    /// last (a trace with per-request columns); nothing otherwise.
    fn last_request(&self) -> RequestValues {
        RequestValues::default()
    }
}

/// What an arrival process knows of one request beyond its time; `None` where it does not know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestValues {
    /// The request's size.
    pub tokens: Option<RequestTokens>,
    /// The request's own objective (it replaces the scenario's).
    pub objective: Option<SimDuration>,
    /// The network delay the request spent before it reached the device.
    pub network_delay: Option<SimDuration>,
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
    #[error("cannot read trace file {}: {source}", .path.display())]
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
pub(super) struct ConstantArrivals {
    gap_ns: f64,
    index: u64,
}

impl ConstantArrivals {
    pub(super) fn new(rate_per_s: f64) -> Self {
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
pub(super) struct PoissonArrivals {
    mean_gap_ns: f64,
    now_ns: f64,
    rng: SimRng,
}

impl PoissonArrivals {
    pub(super) fn new(rate_per_s: f64, rng: SimRng) -> Self {
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
pub(super) struct MmppArrivals {
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
    pub(super) fn new(rate_per_s: [f64; 2], mean_sojourn_s: [f64; 2], mut rng: SimRng) -> Self {
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
    use crate::workload::ArrivalSpec;
    use std::path::Path;

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
}
