//! The `[workload]` table of a scenario: which arrival process, with what parameters, and how it
//! is built.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::arrival::{
    ArrivalProcess, ConstantArrivals, MmppArrivals, PoissonArrivals, WorkloadError, check_positive,
};
use super::azure::AzureFunctionsSpec;
use super::trace::TraceSpec;
use crate::rng::SimRng;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RunSeed;

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
