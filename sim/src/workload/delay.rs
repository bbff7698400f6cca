//! A distribution of time spans drawn per request: the network delay a request has spent before
//! it reaches the device (`[slo] network_delay`), a wireless hop whose delay varies from request
//! to request so each request arrives with its own remaining budget (the objective less the
//! delay), as Sponge assumes (../shared/THESIS.md §6); or each request's own objective
//! (`[slo] per_request`).

use rand::Rng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use crate::rng::SimRng;
use crate::time::SimDuration;
use crate::units::TimeSpan;

/// A distribution of time spans (delays, objectives), tagged by `kind`.
///
/// ```toml
/// [slo]
/// latency = "200ms"
/// network_delay = { kind = "uniform", low = "5ms", high = "80ms" }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DelaySpec {
    /// The same delay for every request.
    Fixed {
        /// The delay.
        delay: TimeSpan,
    },
    /// Uniform between `low` and `high` (inclusive of `low`).
    Uniform {
        /// Least delay.
        low: TimeSpan,
        /// Greatest delay; at least `low`.
        high: TimeSpan,
    },
    /// Exponential with mean `mean` (a queueing hop).
    Exponential {
        /// Mean delay; more than 0.
        mean: TimeSpan,
    },
}

impl DelaySpec {
    /// Checks the parameters; the error is (field, message).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match *self {
            DelaySpec::Fixed { .. } => Ok(()),
            DelaySpec::Uniform { low, high } if high.0 < low.0 => Err((
                "high",
                format!("must be at least `low` ({low}); got {high}"),
            )),
            DelaySpec::Uniform { .. } => Ok(()),
            DelaySpec::Exponential { mean } if mean.0 == SimDuration::ZERO => {
                Err(("mean", "must be more than 0, e.g. \"20ms\"".into()))
            }
            DelaySpec::Exponential { .. } => Ok(()),
        }
    }

    /// The least value it can draw, where there is one (an exponential has none above 0).
    pub fn least(&self) -> Option<SimDuration> {
        match *self {
            DelaySpec::Fixed { delay } => Some(delay.0),
            DelaySpec::Uniform { low, .. } => Some(low.0),
            DelaySpec::Exponential { .. } => None,
        }
    }

    /// Mean delay.
    pub fn mean(&self) -> SimDuration {
        match *self {
            DelaySpec::Fixed { delay } => delay.0,
            DelaySpec::Uniform { low, high } => {
                SimDuration::from_ns((low.0.as_ns() + high.0.as_ns()) / 2)
            }
            DelaySpec::Exponential { mean } => mean.0,
        }
    }

    /// One request's delay.
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match *self {
            DelaySpec::Fixed { delay } => delay.0,
            DelaySpec::Uniform { low, high } => {
                SimDuration::from_ns(rng.random_range(low.0.as_ns()..=high.0.as_ns()))
            }
            DelaySpec::Exponential { mean } => {
                let exp = Exp::new(1.0).expect("rate 1 is valid");
                SimDuration::from_secs_f64(exp.sample(rng) * mean.0.as_secs_f64())
            }
        }
    }
}

impl std::fmt::Display for DelaySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DelaySpec::Fixed { delay } => write!(f, "{delay}"),
            DelaySpec::Uniform { low, high } => write!(f, "uniform {low}–{high}"),
            DelaySpec::Exponential { mean } => write!(f, "exponential, mean {mean}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RunSeed;

    fn ms(v: u64) -> TimeSpan {
        TimeSpan(SimDuration::from_ms(v))
    }

    #[test]
    fn samples_stay_in_range_and_average_to_the_mean() {
        let mut rng = RunSeed(1).stream("network_delay");
        for spec in [
            DelaySpec::Fixed { delay: ms(7) },
            DelaySpec::Uniform {
                low: ms(5),
                high: ms(45),
            },
            DelaySpec::Exponential { mean: ms(20) },
        ] {
            let n = 20_000;
            let draws: Vec<SimDuration> = (0..n).map(|_| spec.sample(&mut rng)).collect();
            let mean = draws.iter().map(|d| d.as_secs_f64()).sum::<f64>() / n as f64;
            let want = spec.mean().as_secs_f64();
            assert!(
                (mean - want).abs() < 0.02 * want,
                "{spec}: {mean} vs {want}"
            );
            if let DelaySpec::Uniform { low, high } = spec {
                assert!(draws.iter().all(|d| *d >= low.0 && *d <= high.0));
            }
        }
    }

    #[test]
    fn bad_parameters_name_their_field() {
        let bad = DelaySpec::Uniform {
            low: ms(9),
            high: ms(3),
        };
        assert_eq!(bad.validate().unwrap_err().0, "high");
        let bad = DelaySpec::Exponential { mean: ms(0) };
        assert_eq!(bad.validate().unwrap_err().0, "mean");
        assert!(DelaySpec::Fixed { delay: ms(0) }.validate().is_ok());
    }
}
