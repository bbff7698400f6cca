//! Hill climbing (a baseline of the thesis' Papers I–II; ../shared/THESIS.md §1–§2): from a
//! random configuration, measure its neighbours in a random order and move to the first that
//! beats it; stop at a configuration none of whose neighbours does (a local optimum)
//! [proposed: first improvement, random order, no restart].

use serde::{Deserialize, Serialize};

use super::{Explorer, Measured, Pipeline, SearchPolicy, SearchSpec, Space, Step, shuffle};
use crate::rng::SimRng;

/// Parameters of `[policy] kind = "hill_climb"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HillClimbSpec {
    /// EPs, window and budget.
    #[serde(flatten)]
    pub search: SearchSpec,
}

impl HillClimbSpec {
    /// The policy.
    pub fn policy(&self) -> SearchPolicy {
        SearchPolicy::new(
            self.search.clone(),
            Box::new(HillClimb {
                current: None,
                untried: Vec::new(),
            }),
        )
    }
}

#[derive(Debug)]
struct HillClimb {
    /// Where the climb stands, and its throughput.
    current: Option<(Pipeline, f64)>,
    /// Its neighbours not yet measured against it, next last.
    untried: Vec<Pipeline>,
}

impl Explorer for HillClimb {
    fn name(&self) -> &'static str {
        "hill_climb"
    }

    fn start(&mut self, space: &Space, rng: &mut SimRng) -> Pipeline {
        space.random(rng)
    }

    fn next(&mut self, space: &Space, last: &Measured, rng: &mut SimRng) -> Step {
        let better = self
            .current
            .as_ref()
            .is_none_or(|(_, t)| last.throughput_rps > *t);
        if better {
            self.current = Some((last.pipeline.clone(), last.throughput_rps));
            self.untried = space.neighbours(&last.pipeline);
            shuffle(&mut self.untried, rng);
        }
        match self.untried.pop() {
            Some(n) => Step::Measure(n),
            None => Step::Done(self.current.as_ref().expect("set above").0.clone()),
        }
    }
}
