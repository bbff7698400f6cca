//! Routes: the chains of stages a request may pass through. A pipeline app has one route, all
//! its stages in order; a family app (`app.family`) has one route per variant, and each arrival
//! takes one of them as the policy's weights say.
//!
//! The split is smooth weighted round-robin (nginx's upstream balancing): each arrival adds
//! every route's weight to its credit and goes to the route with the most credit, which then
//! pays the total. It is deterministic (no random stream), and over any run of arrivals each
//! route's count stays within one of its weighted share.

use super::DataPlane;
use serde::{Deserialize, Serialize};

/// What one route served over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTally {
    /// Arrivals sent to it.
    pub arrivals: u64,
    /// Requests it completed.
    pub completed: u64,
    /// Of those, completed within their objective.
    pub within_slo: u64,
}

/// The routes of a run and how arrivals split among them.
#[derive(Clone, Debug)]
pub(super) struct Routes {
    /// Whether each stage is a route of its own (variants) or all stages are one.
    variants: bool,
    weights: Vec<f64>,
    credit: Vec<f64>,
    tallies: Vec<RouteTally>,
}

impl Routes {
    /// Routes over `stages` stages: one per stage with `variants`, else one; `weights` as
    /// [`Routes::set_weights`] takes them (empty: all to the first).
    pub(super) fn new(variants: bool, stages: usize, weights: &[f64]) -> Self {
        let count = if variants { stages.max(1) } else { 1 };
        let mut routes = Routes {
            variants,
            weights: Vec::new(),
            credit: vec![0.0; count],
            tallies: vec![RouteTally::default(); count],
        };
        if routes.set_weights(weights).is_err() {
            routes.weights = first_only(count);
        }
        routes
    }

    /// The route `stage` belongs to.
    pub(super) fn of_stage(&self, stage: usize) -> u32 {
        if self.variants { stage as u32 } else { 0 }
    }

    /// New weights, one per route (empty: all to the first); refused for a wrong count, a
    /// negative or non-finite weight, or all zero. Credits start anew.
    pub(super) fn set_weights(&mut self, weights: &[f64]) -> Result<(), String> {
        let count = self.tallies.len();
        if weights.is_empty() {
            self.weights = first_only(count);
        } else {
            check_route_weights(weights, count)?;
            self.weights = weights.to_vec();
        }
        self.credit.iter_mut().for_each(|c| *c = 0.0);
        Ok(())
    }

    /// The route of the next arrival.
    fn pick(&mut self) -> u32 {
        if self.credit.len() == 1 {
            return 0;
        }
        let total: f64 = self.weights.iter().sum();
        for (c, w) in self.credit.iter_mut().zip(&self.weights) {
            *c += w;
        }
        // Ties go to the first route, so the order is a pure function of the weights.
        let best = (0..self.credit.len())
            .reduce(|a, b| {
                if self.credit[b] > self.credit[a] {
                    b
                } else {
                    a
                }
            })
            .expect("at least one route");
        self.credit[best] -= total;
        best as u32
    }
}

/// Checks a split of arrivals among `routes` variants: one finite weight ≥ 0 each, not all 0.
pub fn check_route_weights(weights: &[f64], routes: usize) -> Result<(), String> {
    if weights.len() != routes {
        return Err(format!(
            "{} weights for {routes} variants: give one per variant, fastest first",
            weights.len()
        ));
    }
    if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
        return Err(format!(
            "{w} is not allowed: a weight is a finite number ≥ 0"
        ));
    }
    if weights.iter().all(|&w| w == 0.0) {
        return Err("every weight is 0: at least one variant must take arrivals".into());
    }
    Ok(())
}

fn first_only(count: usize) -> Vec<f64> {
    let mut w = vec![0.0; count];
    w[0] = 1.0;
    w
}

impl DataPlane {
    /// Splits arrivals among the routes by `weights` from the next arrival on (see the module
    /// doc); a refusal is counted with the refused reconfigurations.
    pub fn set_route_weights(&mut self, weights: &[f64]) -> Result<(), String> {
        let result = self.routes.set_weights(weights);
        if result.is_err() {
            self.refused_reconfigurations += 1;
        }
        result
    }

    /// The current split of arrivals among the routes.
    pub fn route_weights(&self) -> &[f64] {
        &self.routes.weights
    }

    /// What each route served after the warm-up so far.
    pub fn route_tallies(&self) -> &[RouteTally] {
        &self.routes.tallies
    }

    /// The route of the next arrival and its first partition; the arrival is counted on the
    /// route when `measured` (after the warm-up, as the summary counts it).
    pub(super) fn next_route_entry(&mut self, measured: bool) -> u32 {
        let route = self.routes.pick();
        if measured {
            self.routes.tallies[route as usize].arrivals += 1;
        }
        let routes = &self.routes;
        self.layout
            .iter()
            .copied()
            .find(|&p| {
                let p = &self.partitions[p as usize];
                p.first && routes.of_stage(p.stage) == route
            })
            .expect("every route has a first partition in the layout")
    }

    /// Counts a completion on the route of `partition` (the request's last).
    pub(super) fn tally_completion(&mut self, partition: u32, on_time: bool) {
        let route = self
            .routes
            .of_stage(self.partitions[partition as usize].stage);
        let t = &mut self.routes.tallies[route as usize];
        t.completed += 1;
        if on_time {
            t.within_slo += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_round_robin_keeps_each_route_within_one_of_its_share() {
        let mut r = Routes::new(true, 3, &[5.0, 1.0, 1.0]);
        let picks: Vec<u32> = (0..7).map(|_| r.pick()).collect();
        // nginx's example for weights 5, 1, 1: a a b a c a a.
        assert_eq!(picks, vec![0, 0, 1, 0, 2, 0, 0]);
        let mut r = Routes::new(true, 2, &[0.3, 0.7]);
        let mut counts = [0u32; 2];
        for n in 1..=1000u32 {
            counts[r.pick() as usize] += 1;
            let share = 0.3 * n as f64;
            assert!((counts[0] as f64 - share).abs() <= 1.0, "{n}: {counts:?}");
        }
        // Zero weight: never.
        let mut r = Routes::new(true, 2, &[0.0, 2.0]);
        assert!((0..10).all(|_| r.pick() == 1));
        assert!(r.set_weights(&[0.0, 0.0]).is_err());
        assert!(r.set_weights(&[1.0]).is_err());
        assert!(r.set_weights(&[-1.0, 2.0]).is_err());
        // A pipeline: one route whatever the stages.
        let r = Routes::new(false, 3, &[]);
        assert_eq!((r.of_stage(2), r.tallies.len()), (0, 1));
    }
}
