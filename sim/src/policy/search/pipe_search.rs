//! Pipe-Search (the thesis' Paper I, CF'21; ../shared/THESIS.md §1): "evolutionary search
//! techniques guided by computational hints and realtime performance profiling" (T293). The
//! seed gives no more; this is the [proposed] form of THESIS.md §1, each choice a parameter:
//! - **Seeds** (the computational hints): for every arrangement of EPs over the stages, the
//!   cuts that best balance layer weight over EP speed ([`Space::balanced`]); the `seeds`
//!   whose predicted bottleneck is least form the first generation, counting once the seeds
//!   that differ only by a swap of equally fast EPs (on identical EPs, one seed).
//! - **Generations**: the `parents` best configurations measured so far each give children,
//!   `children` in all, by one or two random moves ([`Space::neighbours`]); a child already
//!   measured or queued is drawn again (up to 20 times).
//! - **Stop**: after `stall` generations in a row that raised the best measured throughput by
//!   less than `min_gain`, at the best.

use std::collections::{HashSet, VecDeque};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Explorer, Measured, Pipeline, SearchPolicy, SearchSpec, Space, Step};
use crate::rng::SimRng;

/// Parameters of `[policy] kind = "pipe_search"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipeSearchSpec {
    /// EPs, window and budget.
    #[serde(flatten)]
    pub search: SearchSpec,
    /// Configurations of the first generation. Default 8 [proposed].
    #[serde(default = "eight")]
    pub seeds: u32,
    /// Best configurations that breed each generation. Default 4 [proposed].
    #[serde(default = "four")]
    pub parents: u32,
    /// Children per generation. Default 8 [proposed].
    #[serde(default = "eight")]
    pub children: u32,
    /// Generations in a row without enough gain before the search stops. Default 5
    /// [proposed].
    #[serde(default = "five")]
    pub stall: u32,
    /// The relative gain a generation must bring to count as progress. Default 0.01
    /// [proposed].
    #[serde(default = "one_percent")]
    pub min_gain: f64,
}

impl Default for PipeSearchSpec {
    fn default() -> Self {
        PipeSearchSpec {
            search: SearchSpec::default(),
            seeds: eight(),
            parents: four(),
            children: eight(),
            stall: five(),
            min_gain: one_percent(),
        }
    }
}

fn eight() -> u32 {
    8
}
fn four() -> u32 {
    4
}
fn five() -> u32 {
    5
}
fn one_percent() -> f64 {
    0.01
}

impl PipeSearchSpec {
    /// Checks the parameters; the error is (field, message).
    pub fn check(&self) -> Result<(), (String, String)> {
        for (field, v) in [
            ("seeds", self.seeds),
            ("parents", self.parents),
            ("children", self.children),
            ("stall", self.stall),
        ] {
            if v == 0 {
                return Err((field.into(), "must be at least 1".into()));
            }
        }
        if !(self.min_gain.is_finite() && self.min_gain >= 0.0) {
            return Err((
                "min_gain".into(),
                format!("must be 0 or more, e.g. 0.01; got {}", self.min_gain),
            ));
        }
        Ok(())
    }

    /// The policy.
    pub fn policy(&self) -> SearchPolicy {
        SearchPolicy::new(
            self.search.clone(),
            Box::new(PipeSearch {
                spec: self.clone(),
                queue: VecDeque::new(),
                pool: Vec::new(),
                known: HashSet::new(),
                best_before: 0.0,
                stalled: 0,
            }),
        )
    }
}

#[derive(Debug)]
struct PipeSearch {
    spec: PipeSearchSpec,
    /// This generation's configurations still to measure.
    queue: VecDeque<Pipeline>,
    /// Every configuration measured, in order, with its throughput.
    pool: Vec<(Pipeline, f64)>,
    /// Measured or queued.
    known: HashSet<Pipeline>,
    /// The best throughput when the generation began.
    best_before: f64,
    stalled: u32,
}

impl PipeSearch {
    /// The measured configurations, best first (the earlier of equals first).
    fn ranked(&self) -> Vec<&(Pipeline, f64)> {
        let mut ranked: Vec<&(Pipeline, f64)> = self.pool.iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }

    /// Queues the next generation's children.
    fn breed(&mut self, space: &Space, rng: &mut SimRng) {
        let parents: Vec<Pipeline> = self
            .ranked()
            .into_iter()
            .take(self.spec.parents as usize)
            .map(|(p, _)| p.clone())
            .collect();
        for c in 0..self.spec.children as usize {
            let parent = &parents[c % parents.len()];
            for _ in 0..20 {
                let mut child = space.random_neighbour(parent, rng);
                if rng.random_range(0..2) == 1 {
                    child = space.random_neighbour(&child, rng);
                }
                if self.known.insert(child.clone()) {
                    self.queue.push_back(child);
                    break;
                }
            }
        }
    }
}

impl Explorer for PipeSearch {
    fn name(&self) -> &'static str {
        "pipe_search"
    }

    fn start(&mut self, space: &Space, _rng: &mut SimRng) -> Pipeline {
        let mut seeds: Vec<(f64, Pipeline)> = space
            .distinct(space.arrangements())
            .iter()
            .map(|eps| {
                let p = space.balanced(eps);
                (space.hint_s(&p), p)
            })
            .collect();
        seeds.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, p) in seeds.into_iter().take(self.spec.seeds as usize) {
            if self.known.insert(p.clone()) {
                self.queue.push_back(p);
            }
        }
        self.queue.pop_front().expect("a space has a configuration")
    }

    fn next(&mut self, space: &Space, last: &Measured, rng: &mut SimRng) -> Step {
        self.pool.push((last.pipeline.clone(), last.throughput_rps));
        loop {
            if let Some(p) = self.queue.pop_front() {
                return Step::Measure(p);
            }
            // A generation is over.
            let best = self.ranked()[0].1;
            if best < self.best_before * (1.0 + self.spec.min_gain) {
                self.stalled += 1;
            } else {
                self.stalled = 0;
            }
            self.best_before = self.best_before.max(best);
            if self.stalled >= self.spec.stall {
                return Step::Done(self.ranked()[0].0.clone());
            }
            self.breed(space, rng);
        }
    }
}
