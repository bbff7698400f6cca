//! Fixed-interval time series: one point per interval of the measured window, so its length grows
//! with simulated time / interval and never with the number of requests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::latency::WindowLatency;
use crate::time::{SimDuration, SimTime};

/// The measured window cut into fixed intervals.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TimeSeries {
    /// Length of every interval but possibly the last, s.
    pub interval_s: f64,
    /// One point per interval, in time order: ceil(window / interval) of them.
    pub points: Vec<SeriesPoint>,
}

/// What happened in one interval `[time_s, time_s + duration_s)` (the last interval also holds
/// events at exactly the end of the run).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SeriesPoint {
    /// Start of the interval, seconds since the start of the run.
    pub time_s: f64,
    /// Length of the interval, s: the series interval, or less for the last one.
    pub duration_s: f64,
    /// Requests that arrived in the interval / its length, requests per second.
    pub arrivals_rps: f64,
    /// Requests completed in the interval / its length, requests per second.
    pub throughput_rps: f64,
    /// Requests completed within the SLO in the interval / its length, requests per second.
    pub goodput_rps: f64,
    /// Requests dropped in the interval (any reason) / its length, requests per second.
    pub dropped_rps: f64,
    /// Median latency of the requests completed in the interval, ms; `None` if none completed.
    pub p50_ms: Option<f64>,
    /// 99th-percentile latency of the requests completed in the interval, ms; `None` if none.
    pub p99_ms: Option<f64>,
    /// Time-weighted mean memory in use over the interval, bytes.
    pub memory_bytes: f64,
    /// Time-weighted mean utilisation of each accelerator over the interval, 0..=1.
    pub utilization: BTreeMap<String, f64>,
    /// Per query stream, in the scenario's order, with more than one stream (else empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<StreamPoint>,
}

/// What happened to one query stream in an interval.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct StreamPoint {
    /// Its arrivals / the interval's length, requests per second.
    pub arrivals_rps: f64,
    /// Its completions / the interval's length, requests per second.
    pub throughput_rps: f64,
    /// Its completions within their objectives / the interval's length, requests per second.
    pub goodput_rps: f64,
    /// Of its requests that finished in the interval (completed or dropped), the fraction that
    /// missed their objective; `None` if none finished.
    pub violations: Option<f64>,
    /// Median latency of its completions in the interval, ms; `None` if none completed.
    pub p50_ms: Option<f64>,
    /// 99th-percentile latency of its completions in the interval, ms; `None` if none.
    pub p99_ms: Option<f64>,
}

/// One stream's counts in an interval.
#[derive(Clone, Debug)]
struct StreamCounts {
    arrivals: u64,
    completed: u64,
    within_slo: u64,
    dropped: u64,
    latency: WindowLatency,
}

impl StreamCounts {
    fn new() -> Self {
        StreamCounts {
            arrivals: 0,
            completed: 0,
            within_slo: 0,
            dropped: 0,
            latency: WindowLatency::new(),
        }
    }

    fn reset(&mut self) {
        self.arrivals = 0;
        self.completed = 0;
        self.within_slo = 0;
        self.dropped = 0;
        self.latency.reset();
    }
}

/// What happened to a request of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// It arrived.
    Arrival,
    /// It completed, within its objective or not.
    Completion {
        /// Within its objective.
        on_time: bool,
        /// Its latency, ns.
        latency_ns: u64,
    },
    /// It was dropped.
    Drop,
}

/// Counts of one open interval.
#[derive(Clone, Debug)]
struct Bucket {
    start: SimTime,
    arrivals: u64,
    completed: u64,
    within_slo: u64,
    dropped: u64,
    /// Latencies of the interval's completions (ranked at its close).
    latency: WindowLatency,
    /// Per stream, with more than one.
    streams: Vec<StreamCounts>,
}

impl Bucket {
    fn new(start: SimTime, streams: usize) -> Self {
        Bucket {
            start,
            arrivals: 0,
            completed: 0,
            within_slo: 0,
            dropped: 0,
            latency: WindowLatency::new(),
            streams: (0..streams).map(|_| StreamCounts::new()).collect(),
        }
    }

    /// Empties the bucket for reuse from `start`, keeping the histogram's allocation.
    fn restart(&mut self, start: SimTime) {
        self.start = start;
        self.arrivals = 0;
        self.completed = 0;
        self.within_slo = 0;
        self.dropped = 0;
        self.latency.reset();
        self.streams.iter_mut().for_each(StreamCounts::reset);
    }

    fn absorb(&mut self, other: &Bucket) {
        self.arrivals += other.arrivals;
        self.completed += other.completed;
        self.within_slo += other.within_slo;
        self.dropped += other.dropped;
        self.latency.merge(&other.latency);
        for (s, o) in self.streams.iter_mut().zip(&other.streams) {
            s.arrivals += o.arrivals;
            s.completed += o.completed;
            s.within_slo += o.within_slo;
            s.dropped += o.dropped;
            s.latency.merge(&o.latency);
        }
    }
}

/// A closed interval kept back one step, so that events at exactly the end of the run can still
/// be folded into it.
#[derive(Clone, Debug)]
struct ClosedInterval {
    bucket: Bucket,
    end: SimTime,
    memory_area: f64,
    utilization_area: Vec<f64>,
}

/// Builds a [`TimeSeries`] from events given in time order.
#[derive(Clone, Debug)]
pub(super) struct SeriesBuilder {
    interval: SimDuration,
    accelerators: Vec<String>,
    current: Bucket,
    pending: Option<ClosedInterval>,
    points: Vec<SeriesPoint>,
}

impl SeriesBuilder {
    /// A series whose first interval starts at `start`. `interval` must be positive.
    pub(super) fn new(start: SimTime, interval: SimDuration, accelerators: &[String]) -> Self {
        assert!(
            interval > SimDuration::ZERO,
            "metrics series_interval must be greater than zero (see MetricsConfig::validate)"
        );
        SeriesBuilder {
            interval,
            accelerators: accelerators.to_vec(),
            current: Bucket::new(start, 0),
            pending: None,
            points: Vec::new(),
        }
    }

    /// End of the open interval: the next boundary to close.
    pub(super) fn next_boundary(&self) -> SimTime {
        self.current.start + self.interval
    }

    pub(super) fn arrival(&mut self) {
        self.current.arrivals += 1;
    }

    pub(super) fn completion(&mut self, latency_ns: u64, within_slo: bool) {
        self.current.completed += 1;
        self.current.within_slo += u64::from(within_slo);
        self.current.latency.record(latency_ns);
    }

    pub(super) fn drop(&mut self) {
        self.current.dropped += 1;
    }

    /// Counts each of `streams` query streams in every interval from now on (none: 1 or 0).
    pub(super) fn set_streams(&mut self, streams: usize) {
        let n = if streams > 1 { streams } else { 0 };
        self.current.streams.resize_with(n, StreamCounts::new);
    }

    /// A request of `stream` arrived (`None`), completed (`Some(on_time)`) or was dropped; see
    /// [`super::Recorder::stream_outcome`].
    pub(super) fn stream_event(&mut self, stream: usize, event: StreamEvent) {
        let Some(s) = self.current.streams.get_mut(stream) else {
            return;
        };
        match event {
            StreamEvent::Arrival => s.arrivals += 1,
            StreamEvent::Completion {
                on_time,
                latency_ns,
            } => {
                s.completed += 1;
                s.within_slo += u64::from(on_time);
                s.latency.record(latency_ns);
            }
            StreamEvent::Drop => s.dropped += 1,
        }
    }

    /// Closes the open interval at `boundary` with the gauge integrals over it (level × ns,
    /// utilisation in accelerator order) and opens the next one there.
    pub(super) fn close(
        &mut self,
        boundary: SimTime,
        memory_area: f64,
        utilization_area: Vec<f64>,
    ) {
        let mut next = match self.pending.take() {
            Some(mut done) => {
                let point = self.point(&mut done);
                self.points.push(point);
                done.bucket
            }
            None => Bucket::new(boundary, self.current.streams.len()),
        };
        next.restart(boundary);
        let bucket = std::mem::replace(&mut self.current, next);
        self.pending = Some(ClosedInterval {
            bucket,
            end: boundary,
            memory_area,
            utilization_area,
        });
    }

    /// Number of intervals closed so far (the memory the series holds grows with this only).
    #[cfg(test)]
    pub(super) fn closed_len(&self) -> usize {
        self.points.len() + usize::from(self.pending.is_some())
    }

    /// What the open interval's latencies hold: values kept raw, histogram buckets.
    #[cfg(test)]
    pub(super) fn current_latency_held(&self) -> (usize, usize) {
        self.current.latency.held()
    }

    /// Closes the series at `end`, which must not be later than [`Self::next_boundary`]. A last
    /// partial interval is closed with the given integrals; events at exactly `end` when it falls
    /// on a boundary join the interval that ends there.
    pub(super) fn finish(
        mut self,
        end: SimTime,
        memory_area: f64,
        utilization_area: Vec<f64>,
    ) -> TimeSeries {
        debug_assert!(end <= self.next_boundary());
        if end > self.current.start {
            self.close(end, memory_area, utilization_area);
        } else if let Some(done) = &mut self.pending {
            done.bucket.absorb(&self.current);
        }
        // Otherwise the window is empty (end = its start): it has no interval, and what happened
        // at that single instant has no length to be divided by; the summary still counts it.
        if let Some(mut done) = self.pending.take() {
            let point = self.point(&mut done);
            self.points.push(point);
        }
        TimeSeries {
            interval_s: self.interval.as_secs_f64(),
            points: self.points,
        }
    }

    fn point(&self, done: &mut ClosedInterval) -> SeriesPoint {
        let b = &mut done.bucket;
        let length = done.end - b.start;
        let length_s = length.as_secs_f64();
        let length_ns = length.as_ns() as f64;
        let rate = |n: u64| n as f64 / length_s;
        let ms = |ns: u64| ns as f64 / 1e6;
        let (p50_ms, p99_ms) = if b.latency.count() == 0 {
            (None, None)
        } else {
            (
                Some(ms(b.latency.quantile_ns(0.50))),
                Some(ms(b.latency.quantile_ns(0.99))),
            )
        };
        SeriesPoint {
            time_s: b.start.as_secs_f64(),
            duration_s: length_s,
            arrivals_rps: rate(b.arrivals),
            throughput_rps: rate(b.completed),
            goodput_rps: rate(b.within_slo),
            dropped_rps: rate(b.dropped),
            p50_ms,
            p99_ms,
            memory_bytes: done.memory_area / length_ns,
            utilization: self
                .accelerators
                .iter()
                .cloned()
                .zip(done.utilization_area.iter().map(|area| area / length_ns))
                .collect(),
            streams: b
                .streams
                .iter_mut()
                .map(|s| {
                    let finished = s.completed + s.dropped;
                    let any = s.latency.count() > 0;
                    StreamPoint {
                        arrivals_rps: rate(s.arrivals),
                        throughput_rps: rate(s.completed),
                        goodput_rps: rate(s.within_slo),
                        violations: (finished > 0)
                            .then(|| (finished - s.within_slo) as f64 / finished as f64),
                        p50_ms: any.then(|| ms(s.latency.quantile_ns(0.50))),
                        p99_ms: any.then(|| ms(s.latency.quantile_ns(0.99))),
                    }
                })
                .collect(),
        }
    }
}
