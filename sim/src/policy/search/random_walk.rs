//! Random walk (a baseline of the thesis' Papers I–II; ../shared/THESIS.md §1–§2): from a
//! random configuration, step to a random neighbour at every measurement, keep the best seen,
//! and stop once `patience` measurements in a row have not improved on it [proposed].

use serde::{Deserialize, Serialize};

use super::{Explorer, Measured, Pipeline, SearchPolicy, SearchSpec, Space, Step};
use crate::rng::SimRng;

/// Parameters of `[policy] kind = "random_walk"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomWalkSpec {
    /// EPs, window and budget.
    #[serde(flatten)]
    pub search: SearchSpec,
    /// Measurements in a row without a new best before the walk stops. Default 200
    /// [proposed].
    #[serde(default = "default_patience")]
    pub patience: u32,
}

impl Default for RandomWalkSpec {
    fn default() -> Self {
        RandomWalkSpec {
            search: SearchSpec::default(),
            patience: default_patience(),
        }
    }
}

fn default_patience() -> u32 {
    200
}

impl RandomWalkSpec {
    /// Checks the parameters; the error is (field, message).
    pub fn check(&self) -> Result<(), (String, String)> {
        if self.patience == 0 {
            return Err(("patience".into(), "must be at least 1".into()));
        }
        Ok(())
    }

    /// The policy.
    pub fn policy(&self) -> SearchPolicy {
        SearchPolicy::new(
            self.search.clone(),
            Box::new(RandomWalk {
                patience: self.patience,
                best: None,
                since_best: 0,
            }),
        )
    }
}

#[derive(Debug)]
struct RandomWalk {
    patience: u32,
    best: Option<(Pipeline, f64)>,
    since_best: u32,
}

impl Explorer for RandomWalk {
    fn name(&self) -> &'static str {
        "random_walk"
    }

    fn start(&mut self, space: &Space, rng: &mut SimRng) -> Pipeline {
        space.random(rng)
    }

    fn next(&mut self, space: &Space, last: &Measured, rng: &mut SimRng) -> Step {
        match &self.best {
            Some((_, b)) if *b >= last.throughput_rps => self.since_best += 1,
            _ => {
                self.best = Some((last.pipeline.clone(), last.throughput_rps));
                self.since_best = 0;
            }
        }
        if self.since_best >= self.patience {
            return Step::Done(self.best.as_ref().expect("set above").0.clone());
        }
        Step::Measure(space.random_neighbour(&last.pipeline, rng))
    }
}
