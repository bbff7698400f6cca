//! Simulated annealing (a baseline of the thesis' Papers I–II; ../shared/THESIS.md §1–§2):
//! from a random configuration, measure a random neighbour; move to it if it is better, or if
//! worse with probability `exp(−loss / T)`, the loss relative to the current throughput;
//! multiply `T` by `cooling` at every measurement and stop at the best seen once `T` falls
//! below `final_temperature` [proposed: Metropolis acceptance, geometric cooling].

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Explorer, Measured, Pipeline, SearchPolicy, SearchSpec, Space, Step};
use crate::rng::SimRng;

/// Parameters of `[policy] kind = "annealing"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnealingSpec {
    /// EPs, window and budget.
    #[serde(flatten)]
    pub search: SearchSpec,
    /// Starting temperature, a relative throughput loss: at first a move that loses 5 % is
    /// taken with probability 1/e. Default 0.05 [proposed].
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// Factor on the temperature per measurement. Default 0.99 [proposed].
    #[serde(default = "default_cooling")]
    pub cooling: f64,
    /// The search ends when the temperature falls below this. Default 0.001 [proposed]
    /// (390 measurements with the other defaults).
    #[serde(default = "default_final")]
    pub final_temperature: f64,
}

impl Default for AnnealingSpec {
    fn default() -> Self {
        AnnealingSpec {
            search: SearchSpec::default(),
            temperature: default_temperature(),
            cooling: default_cooling(),
            final_temperature: default_final(),
        }
    }
}

fn default_temperature() -> f64 {
    0.05
}
fn default_cooling() -> f64 {
    0.99
}
fn default_final() -> f64 {
    0.001
}

impl AnnealingSpec {
    /// Checks the parameters; the error is (field, message).
    pub fn check(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: String| Err((f.to_string(), m));
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return err(
                "temperature",
                format!("must be more than 0, e.g. 0.05; got {}", self.temperature),
            );
        }
        if !(self.cooling > 0.0 && self.cooling < 1.0) {
            return err(
                "cooling",
                format!("must be between 0 and 1, e.g. 0.95; got {}", self.cooling),
            );
        }
        if !(self.final_temperature > 0.0 && self.final_temperature < self.temperature) {
            return err(
                "final_temperature",
                format!(
                    "must be more than 0 and less than `temperature` ({}); got {}",
                    self.temperature, self.final_temperature
                ),
            );
        }
        Ok(())
    }

    /// The policy.
    pub fn policy(&self) -> SearchPolicy {
        SearchPolicy::new(
            self.search.clone(),
            Box::new(Annealing {
                spec: self.clone(),
                temperature: self.temperature,
                current: None,
                best: None,
            }),
        )
    }
}

#[derive(Debug)]
struct Annealing {
    spec: AnnealingSpec,
    temperature: f64,
    current: Option<(Pipeline, f64)>,
    best: Option<(Pipeline, f64)>,
}

impl Explorer for Annealing {
    fn name(&self) -> &'static str {
        "annealing"
    }

    fn start(&mut self, space: &Space, rng: &mut SimRng) -> Pipeline {
        space.random(rng)
    }

    fn next(&mut self, space: &Space, last: &Measured, rng: &mut SimRng) -> Step {
        let got = last.throughput_rps;
        let accept = match &self.current {
            None => true,
            Some((_, t)) if got >= *t => true,
            Some((_, t)) => {
                let loss = (t - got) / t.max(f64::MIN_POSITIVE);
                rng.random::<f64>() < (-loss / self.temperature).exp()
            }
        };
        if accept {
            self.current = Some((last.pipeline.clone(), got));
        }
        if self.best.as_ref().is_none_or(|(_, b)| got > *b) {
            self.best = Some((last.pipeline.clone(), got));
        }
        self.temperature *= self.spec.cooling;
        if self.temperature < self.spec.final_temperature {
            return Step::Done(self.best.as_ref().expect("set above").0.clone());
        }
        let from = &self.current.as_ref().expect("set above").0;
        Step::Measure(space.random_neighbour(from, rng))
    }
}
