//! Shisha (the thesis' Paper II, PPAM 2022; ../shared/THESIS.md §2): "assigning CNN layers to
//! stages and mapping stages to Execution Places" (T313) with no design-space database. It
//! "ranks EPs based on performance. Layers are grouped into pipeline stages, aiming for
//! balanced weights across stages" (T313), then "gradually adjusts load distribution by moving
//! layers between adjacent stages" (T317), "workload balancing to the lightest Fast Execution
//! Place (FEP)" (T326); α "governs the extent of exploration" (T326). The [proposed] form of
//! THESIS.md §2, each choice a parameter:
//! - **Seed**: the `S` fastest EPs by the cost model's whole-model time; over their orders, the
//!   cuts that best balance layer weight over EP speed ([`Space::balanced`]), the order whose
//!   predicted bottleneck is least. (`start = "random"`: a random configuration instead, to
//!   measure what the seed is worth.)
//! - **Tuning**: from the configuration just measured, move one layer out of its slowest stage
//!   to the adjacent stage on a fast EP (speed at least `fast` × the fastest's), else the
//!   lighter neighbour; a configuration already measured is not revisited.
//! - **α**: moves in a row that fail to beat the best before Shisha settles on the best.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{Explorer, Measured, Pipeline, SearchPolicy, SearchSpec, Space, Step};
use crate::rng::SimRng;

/// Parameters of `[policy] kind = "shisha"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShishaSpec {
    /// EPs, window and budget.
    #[serde(flatten)]
    pub search: SearchSpec,
    /// Moves in a row that may fail to improve before Shisha settles. Default 2 [proposed];
    /// the thesis sweeps it without giving values.
    #[serde(default = "two")]
    pub alpha: u32,
    /// Where the tuning starts.
    #[serde(default)]
    pub start: ShishaStart,
    /// An EP is fast (an FEP) when its speed is at least this fraction of the fastest's.
    /// Default 0.5 [proposed].
    #[serde(default = "half")]
    pub fast: f64,
}

/// Where Shisha's tuning starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShishaStart {
    /// Its seed: EPs ranked, weights balanced.
    #[default]
    Weights,
    /// A random configuration.
    Random,
}

impl Default for ShishaSpec {
    fn default() -> Self {
        ShishaSpec {
            search: SearchSpec::default(),
            alpha: two(),
            start: ShishaStart::default(),
            fast: half(),
        }
    }
}

fn two() -> u32 {
    2
}
fn half() -> f64 {
    0.5
}

impl ShishaSpec {
    /// Checks the parameters; the error is (field, message).
    pub fn check(&self) -> Result<(), (String, String)> {
        if self.alpha == 0 {
            return Err(("alpha".into(), "must be at least 1".into()));
        }
        if !(self.fast > 0.0 && self.fast <= 1.0) {
            return Err((
                "fast".into(),
                format!("must be in (0, 1], e.g. 0.5; got {}", self.fast),
            ));
        }
        Ok(())
    }

    /// The policy.
    pub fn policy(&self) -> SearchPolicy {
        SearchPolicy::new(
            self.search.clone(),
            Box::new(Shisha {
                spec: self.clone(),
                best: None,
                failures: 0,
                visited: HashSet::new(),
            }),
        )
    }
}

#[derive(Debug)]
struct Shisha {
    spec: ShishaSpec,
    best: Option<Measured>,
    failures: u32,
    visited: HashSet<Pipeline>,
}

impl Explorer for Shisha {
    fn name(&self) -> &'static str {
        "shisha"
    }

    fn start(&mut self, space: &Space, rng: &mut SimRng) -> Pipeline {
        if self.spec.start == ShishaStart::Random {
            return space.random(rng);
        }
        space.ranked_balanced()
    }

    fn next(&mut self, space: &Space, last: &Measured, _rng: &mut SimRng) -> Step {
        self.visited.insert(last.pipeline.clone());
        match &self.best {
            Some(b) if b.throughput_rps >= last.throughput_rps => self.failures += 1,
            _ => {
                self.best = Some(last.clone());
                self.failures = 0;
            }
        }
        let best = self.best.as_ref().expect("set above");
        if self.failures >= self.spec.alpha {
            return Step::Done(best.pipeline.clone());
        }
        // A configuration that could not be deployed has no times: go on from the best.
        let from = if last.times_ms.is_empty() { best } else { last };
        let times = &from.times_ms;
        let Some(b) = (0..times.len()).max_by(|&x, &y| times[x].total_cmp(&times[y])) else {
            return Step::Done(best.pipeline.clone());
        };
        let fastest = space.speeds.iter().copied().fold(0.0, f64::max);
        let fast = |s: usize| space.speeds[from.pipeline.eps[s]] >= self.spec.fast * fastest;
        let mut neighbours: Vec<usize> = [b.checked_sub(1), (b + 1 < times.len()).then_some(b + 1)]
            .into_iter()
            .flatten()
            .collect();
        neighbours.sort_by(|&x, &y| fast(y).cmp(&fast(x)).then(times[x].total_cmp(&times[y])));
        for n in neighbours {
            if let Some(p) = space.move_layer(&from.pipeline, b, n)
                && !self.visited.contains(&p)
            {
                return Step::Measure(p);
            }
        }
        Step::Done(best.pipeline.clone())
    }
}
