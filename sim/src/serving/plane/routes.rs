//! Streams and routes: a stream is a source of queries for one app (`[app]`, and each of
//! `[[streams]]`); a route is a chain of stages a request may pass through. A pipeline app has
//! one route, all its stages in order; a family app (`app.family`) has one route per variant,
//! and each of its arrivals takes one of them as the policy's weights say.
//!
//! The split is smooth weighted round-robin (nginx's upstream balancing): each arrival adds
//! every route's weight to its credit and goes to the route with the most credit, which then
//! pays the total. It is deterministic (no random stream), and over any run of a stream's
//! arrivals each of its routes' counts stays within one of its weighted share.

use std::ops::Range;

use super::DataPlane;
use crate::metrics::{LatencyHistogram, LatencyMs};
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

/// One stream's stages, as the data plane serves them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaneStream {
    /// Its stages (global stage indices, consecutive).
    pub stages: Range<usize>,
    /// Whether the stages are a family's variants (a route each) rather than one pipeline.
    pub variants: bool,
    /// Tensor bytes of one of its requests' input.
    pub input_bytes: u64,
}

/// What one stream's requests met after the warm-up.
#[derive(Clone, Debug, Default)]
pub struct StreamTally {
    /// Arrivals.
    pub arrivals: u64,
    /// Requests completed.
    pub completed: u64,
    /// Of those, completed within their objective.
    pub within_slo: u64,
    /// Requests dropped, for any reason.
    pub dropped: u64,
    latency: LatencyHistogram,
}

impl StreamTally {
    /// Latency of its completed requests (`None`: none completed, or the run has one stream,
    /// whose latencies are the summary's).
    pub fn latency_ms(&self) -> Option<LatencyMs> {
        self.latency.stats_ms()
    }
}

/// The split of one stream's arrivals among its routes.
#[derive(Clone, Debug)]
struct StreamSplit {
    /// Its routes (global route indices).
    routes: Range<usize>,
    weights: Vec<f64>,
    credit: Vec<f64>,
    input_bytes: u64,
    tally: StreamTally,
}

/// The streams and routes of a run and how arrivals split among them.
#[derive(Clone, Debug)]
pub(super) struct Routes {
    streams: Vec<StreamSplit>,
    /// Route of each global stage.
    stage_route: Vec<u32>,
    /// Stream of each route.
    route_stream: Vec<u32>,
    tallies: Vec<RouteTally>,
}

impl Routes {
    /// The routes of `streams`; `weights` as [`Routes::set_weights`] takes them (empty: each
    /// stream's arrivals all to its first route).
    pub(super) fn new(streams: &[PlaneStream], weights: &[f64]) -> Self {
        let mut stage_route = Vec::new();
        let mut route_stream = Vec::new();
        let mut splits = Vec::new();
        for (s, stream) in streams.iter().enumerate() {
            let first_route = route_stream.len();
            let count = if stream.variants {
                stream.stages.len().max(1)
            } else {
                1
            };
            for k in 0..stream.stages.len() {
                let within = if stream.variants { k } else { 0 };
                stage_route.push((first_route + within) as u32);
            }
            route_stream.extend(std::iter::repeat_n(s as u32, count));
            splits.push(StreamSplit {
                routes: first_route..first_route + count,
                weights: first_only(count),
                credit: vec![0.0; count],
                input_bytes: stream.input_bytes,
                tally: StreamTally::default(),
            });
        }
        let mut routes = Routes {
            tallies: vec![RouteTally::default(); route_stream.len()],
            streams: splits,
            stage_route,
            route_stream,
        };
        // A bad set was refused when the scenario was checked; the default split stands.
        let _ = routes.set_weights(weights);
        routes
    }

    /// The route `stage` belongs to.
    pub(super) fn of_stage(&self, stage: usize) -> u32 {
        self.stage_route[stage]
    }

    /// New weights, one per route of every stream in order (empty: each stream's arrivals all
    /// to its first route); refused for a wrong count, a negative or non-finite weight, or a
    /// stream whose weights are all 0. Credits start anew.
    pub(super) fn set_weights(&mut self, weights: &[f64]) -> Result<(), String> {
        if weights.is_empty() {
            for split in &mut self.streams {
                split.weights = first_only(split.routes.len());
            }
        } else {
            check_stream_weights(weights, &self.route_counts())?;
            for split in &mut self.streams {
                split.weights = weights[split.routes.clone()].to_vec();
            }
        }
        for split in &mut self.streams {
            split.credit.iter_mut().for_each(|c| *c = 0.0);
        }
        Ok(())
    }

    fn route_counts(&self) -> Vec<usize> {
        self.streams.iter().map(|s| s.routes.len()).collect()
    }

    /// The route of stream `stream`'s next arrival.
    fn pick(&mut self, stream: usize) -> u32 {
        let split = &mut self.streams[stream];
        if split.credit.len() == 1 {
            return split.routes.start as u32;
        }
        let total: f64 = split.weights.iter().sum();
        for (c, w) in split.credit.iter_mut().zip(&split.weights) {
            *c += w;
        }
        // Ties go to the first route, so the order is a pure function of the weights.
        let best = (0..split.credit.len())
            .reduce(|a, b| {
                if split.credit[b] > split.credit[a] {
                    b
                } else {
                    a
                }
            })
            .expect("at least one route");
        split.credit[best] -= total;
        (split.routes.start + best) as u32
    }
}

/// Checks a split of arrivals among the routes of several streams (`routes_per_stream`, in
/// order): one weight per route, each stream's as [`check_route_weights`] checks them.
pub fn check_stream_weights(weights: &[f64], routes_per_stream: &[usize]) -> Result<(), String> {
    let total: usize = routes_per_stream.iter().sum();
    if routes_per_stream.len() <= 1 {
        return check_route_weights(weights, total);
    }
    if weights.len() != total {
        return Err(format!(
            "{} weights for {total} routes: give one per route of every stream, in order \
             (a pipeline has one route, a family one per variant, fastest first)",
            weights.len()
        ));
    }
    let mut start = 0;
    for (s, &count) in routes_per_stream.iter().enumerate() {
        check_route_weights(&weights[start..start + count], count)
            .map_err(|m| format!("stream {s}: {m}"))?;
        start += count;
    }
    Ok(())
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
    /// Splits arrivals among the routes by `weights` (one per route of every stream, in order)
    /// from the next arrival on (see the module doc); a refusal is counted with the refused
    /// reconfigurations.
    pub fn set_route_weights(&mut self, weights: &[f64]) -> Result<(), String> {
        let result = self.routes.set_weights(weights);
        if result.is_err() {
            self.refused_reconfigurations += 1;
        }
        result
    }

    /// The current split of stream `stream`'s arrivals among its routes.
    pub fn stream_route_weights(&self, stream: usize) -> &[f64] {
        &self.routes.streams[stream].weights
    }

    /// What each route served after the warm-up so far.
    pub fn route_tallies(&self) -> &[RouteTally] {
        &self.routes.tallies
    }

    /// What each stream's requests met after the warm-up so far.
    pub fn stream_tallies(&self) -> impl Iterator<Item = &StreamTally> {
        self.routes.streams.iter().map(|s| &s.tally)
    }

    /// The routes of stream `stream` (indices into [`DataPlane::route_tallies`]).
    pub fn stream_routes(&self, stream: usize) -> Range<usize> {
        self.routes.streams[stream].routes.clone()
    }

    /// Tensor bytes of one of stream `stream`'s requests' input.
    pub(super) fn input_bytes(&self, stream: usize) -> u64 {
        self.routes.streams[stream].input_bytes
    }

    /// The stream whose route `partition` is on.
    pub(super) fn stream_of(&self, partition: u32) -> usize {
        let route = self
            .routes
            .of_stage(self.partitions[partition as usize].stage);
        self.routes.route_stream[route as usize] as usize
    }

    /// The route of stream `stream`'s next arrival and its first partition; the arrival is
    /// counted on the route and the stream when `measured` (after the warm-up, as the summary
    /// counts it).
    pub(super) fn next_route_entry(&mut self, stream: usize, measured: bool) -> u32 {
        let route = self.routes.pick(stream);
        if measured {
            self.routes.tallies[route as usize].arrivals += 1;
            self.routes.streams[stream].tally.arrivals += 1;
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

    /// Counts a completion with `latency_ns` on the route of `partition` (the request's last)
    /// and on its stream (its latency only where there are several streams).
    pub(super) fn tally_completion(&mut self, partition: u32, latency_ns: u64, on_time: bool) {
        let route = self
            .routes
            .of_stage(self.partitions[partition as usize].stage);
        let t = &mut self.routes.tallies[route as usize];
        t.completed += 1;
        t.within_slo += u64::from(on_time);
        let stream = self.stream_of(partition);
        let several = self.routes.streams.len() > 1;
        let t = &mut self.routes.streams[stream].tally;
        t.completed += 1;
        t.within_slo += u64::from(on_time);
        // One stream's latencies are the summary's: only several need their own.
        if several {
            t.latency.record(latency_ns);
        }
    }

    /// Counts a drop on stream `stream` (arrival admitted or not).
    pub(super) fn tally_stream_drop(&mut self, stream: usize) {
        self.routes.streams[stream].tally.dropped += 1;
    }

    /// Counts a drop of a request last at `partition` on its stream.
    pub(super) fn tally_drop(&mut self, partition: u32) {
        let stream = self.stream_of(partition);
        self.tally_stream_drop(stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_round_robin_keeps_each_route_within_one_of_its_share() {
        let family = |n: usize| PlaneStream {
            stages: 0..n,
            variants: true,
            input_bytes: 1,
        };
        let mut r = Routes::new(&[family(3)], &[5.0, 1.0, 1.0]);
        let picks: Vec<u32> = (0..7).map(|_| r.pick(0)).collect();
        // nginx's example for weights 5, 1, 1: a a b a c a a.
        assert_eq!(picks, vec![0, 0, 1, 0, 2, 0, 0]);
        let mut r = Routes::new(&[family(2)], &[0.3, 0.7]);
        let mut counts = [0u32; 2];
        for n in 1..=1000u32 {
            counts[r.pick(0) as usize] += 1;
            let share = 0.3 * n as f64;
            assert!((counts[0] as f64 - share).abs() <= 1.0, "{n}: {counts:?}");
        }
        // Zero weight: never.
        let mut r = Routes::new(&[family(2)], &[0.0, 2.0]);
        assert!((0..10).all(|_| r.pick(0) == 1));
        assert!(r.set_weights(&[0.0, 0.0]).is_err());
        assert!(r.set_weights(&[1.0]).is_err());
        assert!(r.set_weights(&[-1.0, 2.0]).is_err());
        // A pipeline: one route whatever the stages.
        let pipeline = |stages: Range<usize>| PlaneStream {
            stages,
            variants: false,
            input_bytes: 1,
        };
        let r = Routes::new(&[pipeline(0..3)], &[]);
        assert_eq!((r.of_stage(2), r.tallies.len()), (0, 1));
    }

    #[test]
    fn each_stream_splits_its_own_arrivals_among_its_own_routes() {
        // A two-stage pipeline, then a family of three variants.
        let streams = [
            PlaneStream {
                stages: 0..2,
                variants: false,
                input_bytes: 1,
            },
            PlaneStream {
                stages: 2..5,
                variants: true,
                input_bytes: 2,
            },
        ];
        let mut r = Routes::new(&streams, &[1.0, 0.0, 1.0, 1.0]);
        assert_eq!(r.stage_route, vec![0, 0, 1, 2, 3]);
        assert_eq!(r.route_stream, vec![0, 1, 1, 1]);
        assert!((0..5).all(|_| r.pick(0) == 0));
        let picks: Vec<u32> = (0..4).map(|_| r.pick(1)).collect();
        assert_eq!(picks, vec![2, 3, 2, 3]);
        // Each stream needs a route that takes arrivals; the count covers every route.
        let e = r.set_weights(&[1.0, 0.0, 0.0, 0.0]).unwrap_err();
        assert!(
            e.contains("stream 1") && e.contains("every weight is 0"),
            "{e}"
        );
        assert!(r.set_weights(&[1.0, 1.0, 1.0]).is_err());
        // Empty: each stream's first route.
        r.set_weights(&[]).unwrap();
        assert!((0..3).all(|_| r.pick(1) == 1));
    }
}
