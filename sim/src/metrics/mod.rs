//! Streaming metrics: a [`Recorder`] the simulation feeds during a run and the [`Summary`] it
//! returns at the end.
//!
//! Memory never grows with the number of requests: latencies go into HDR histograms, counts into
//! counters, utilisation and memory into time-weighted integrals, and the optional time series has
//! one point per interval of simulated time. Formulas, units, the warm-up rule and the treatment of
//! in-flight requests are defined in `docs/metrics.md`.
//!
//! Calls must come in non-decreasing simulated time, as the event loop produces them.

mod batch_means;
mod gauge;
mod latency;
mod series;
mod stage;
mod summary;

pub use batch_means::BatchMeans;
pub use gauge::TimeWeighted;
pub use latency::{
    CdfPoint, LATENCY_SIGNIFICANT_DIGITS, LatencyHistogram, LatencyMs, WindowLatency,
};
pub use series::{SeriesPoint, StreamEvent, StreamPoint, TimeSeries};
pub use stage::{StageAccumulator, StageSummary, StageTimes};
pub use summary::Summary;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::time::{SimDuration, SimTime};
use series::SeriesBuilder;

/// Most time-series points a configuration may ask for, so that a tiny interval over a long run
/// cannot exhaust memory (one million points of a few accelerators is tens of MB of JSON).
pub const MAX_SERIES_POINTS: u64 = 1_000_000;

/// What to measure and from when.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Length of one time-series interval; `None` reports no series.
    pub series_interval: Option<SimDuration>,
    /// Time from the start of the run during which nothing is measured.
    pub warmup: SimDuration,
    /// Points of the end-to-end latency CDF to report; 0 reports none.
    pub latency_cdf_points: usize,
}

/// Why a metrics configuration cannot be used for a run.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MetricsConfigError {
    /// The series interval is zero.
    #[error("metrics series_interval must be greater than zero")]
    ZeroSeriesInterval,
    /// The warm-up leaves nothing of the run to measure.
    #[error("metrics warmup ({warmup}) must be shorter than the run duration ({run})")]
    WarmupNotShorterThanRun {
        /// The configured warm-up.
        warmup: SimDuration,
        /// The run duration.
        run: SimDuration,
    },
    /// The series interval is so short that the series would be too long.
    #[error(
        "metrics series_interval ({interval}) gives {points} points over the measured window \
         ({window}); at most {max} are allowed, use a longer interval"
    )]
    TooManySeriesPoints {
        /// The configured interval.
        interval: SimDuration,
        /// The measured window (run duration − warm-up).
        window: SimDuration,
        /// Points the series would have.
        points: u64,
        /// [`MAX_SERIES_POINTS`].
        max: u64,
    },
}

impl MetricsConfig {
    /// Checks this configuration against a run of length `run`: a positive series interval, a
    /// warm-up shorter than the run, and at most [`MAX_SERIES_POINTS`] series points.
    pub fn validate(&self, run: SimDuration) -> Result<(), MetricsConfigError> {
        if self.warmup >= run {
            return Err(MetricsConfigError::WarmupNotShorterThanRun {
                warmup: self.warmup,
                run,
            });
        }
        if let Some(interval) = self.series_interval {
            if interval == SimDuration::ZERO {
                return Err(MetricsConfigError::ZeroSeriesInterval);
            }
            let window = SimDuration(run.as_ns() - self.warmup.as_ns());
            let points = window.as_ns().div_ceil(interval.as_ns());
            if points > MAX_SERIES_POINTS {
                return Err(MetricsConfigError::TooManySeriesPoints {
                    interval,
                    window,
                    points,
                    max: MAX_SERIES_POINTS,
                });
            }
        }
        Ok(())
    }
}

/// Why a request left the system without completing.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The instance queue it was routed to was full.
    QueueFull,
    /// A buffer or instance it needed did not fit in memory.
    OutOfMemory,
    /// No instance of a partition it needed existed.
    NoInstance,
    /// It waited longer than the configured request timeout.
    Timeout,
    /// The run ended and the simulator discarded it.
    Cutoff,
}

impl DropReason {
    /// Every reason, in report order.
    pub const ALL: [DropReason; 5] = [
        DropReason::QueueFull,
        DropReason::OutOfMemory,
        DropReason::NoInstance,
        DropReason::Timeout,
        DropReason::Cutoff,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Collects the metrics of one run as it happens; constant memory per request.
///
/// Events at times before `warmup` are not measured (they only feed `in_flight_at_warmup`);
/// events at or after it are, each counted by the time it happens. See docs/metrics.md.
#[derive(Clone, Debug)]
pub struct Recorder {
    warmup_end: SimTime,
    slo: SimDuration,
    accelerators: Vec<String>,
    /// Latest time seen; stage and batch records are attributed to it.
    now: SimTime,
    measuring: bool,
    arrivals_before_warmup: u64,
    finished_before_warmup: u64,
    arrivals: u64,
    completed: u64,
    completed_within_slo: u64,
    dropped: [u64; DropReason::ALL.len()],
    /// Whether each measured request met its objective, in the order they finished.
    outcomes: BatchMeans,
    latency: LatencyHistogram,
    stages: Vec<StageAccumulator>,
    memory: TimeWeighted,
    /// CPU cores held by instances on the CPU.
    cores_held: TimeWeighted,
    /// CPU cores held by batches running on the CPU.
    cores_busy: TimeWeighted,
    /// 1 while running batches hold every CPU core, else 0.
    all_cores_busy: TimeWeighted,
    memory_level_bytes: u64,
    memory_peak_bytes: u64,
    busy: Vec<TimeWeighted>,
    series: Option<SeriesBuilder>,
    latency_cdf_points: usize,
}

impl Recorder {
    /// A recorder for a run on `accelerators` (names, in the index order later given to
    /// [`Recorder::busy`]; they must be distinct), an app of `stages` pipeline stages, and a
    /// latency SLO of `slo`.
    ///
    /// Panics if the series interval is zero; [`MetricsConfig::validate`] reports that as an error.
    pub fn new(
        config: MetricsConfig,
        accelerators: &[String],
        stages: usize,
        slo: SimDuration,
    ) -> Self {
        debug_assert!(
            accelerators
                .iter()
                .enumerate()
                .all(|(i, a)| !accelerators[..i].contains(a)),
            "accelerator names must be distinct: {accelerators:?}"
        );
        let warmup_end = SimTime::ZERO + config.warmup;
        Recorder {
            warmup_end,
            slo,
            accelerators: accelerators.to_vec(),
            now: SimTime::ZERO,
            measuring: false,
            arrivals_before_warmup: 0,
            finished_before_warmup: 0,
            arrivals: 0,
            completed: 0,
            completed_within_slo: 0,
            dropped: [0; DropReason::ALL.len()],
            outcomes: BatchMeans::new(),
            latency: LatencyHistogram::new(),
            stages: vec![StageAccumulator::default(); stages],
            memory: TimeWeighted::new(),
            cores_held: TimeWeighted::new(),
            cores_busy: TimeWeighted::new(),
            all_cores_busy: TimeWeighted::new(),
            memory_level_bytes: 0,
            memory_peak_bytes: 0,
            busy: vec![TimeWeighted::new(); accelerators.len()],
            series: config
                .series_interval
                .map(|interval| SeriesBuilder::new(warmup_end, interval, accelerators)),
            latency_cdf_points: config.latency_cdf_points,
        }
    }

    /// Advances the recorder's clock to `now` (closing any series intervals that end by then)
    /// without recording anything. Optional: every timed record does this; calling it before
    /// [`Recorder::stage`] or [`Recorder::batch`] pins their time exactly.
    pub fn tick(&mut self, now: SimTime) {
        self.advance(now);
    }

    /// Whether the events recorded last were measured (after the warm-up).
    pub fn is_measuring(&self) -> bool {
        self.measuring
    }

    /// A request arrived at `now`.
    pub fn arrival(&mut self, now: SimTime) {
        self.advance(now);
        if !self.measuring {
            self.arrivals_before_warmup += 1;
            return;
        }
        self.arrivals += 1;
        if let Some(series) = &mut self.series {
            series.arrival();
        }
    }

    /// The run's objective: every request's, or the reference request's where they differ in
    /// size.
    pub fn slo(&self) -> SimDuration {
        self.slo
    }

    /// A request that arrived at `arrived` completed at `now`: latency = now − arrived; it counts
    /// towards goodput if latency ≤ `slo`, its objective.
    pub fn completion(&mut self, now: SimTime, arrived: SimTime, slo: SimDuration) {
        self.advance(now);
        if !self.measuring {
            self.finished_before_warmup += 1;
            return;
        }
        let latency = now.saturating_since(arrived);
        let within_slo = latency <= slo;
        self.outcomes.record(within_slo);
        self.completed += 1;
        self.completed_within_slo += u64::from(within_slo);
        self.latency.record(latency.as_ns());
        if let Some(series) = &mut self.series {
            series.completion(latency.as_ns(), within_slo);
        }
    }

    /// Counts each of `streams` query streams in the time series (with more than one).
    pub fn set_streams(&mut self, streams: usize) {
        if let Some(series) = &mut self.series {
            series.set_streams(streams);
        }
    }

    /// What happened to a request of `stream`, for the time series' per-stream points; call it
    /// beside [`Recorder::arrival`], [`Recorder::completion`] or [`Recorder::drop`] (at the same
    /// time, so no advance is needed). Counted only in the measured window.
    pub fn stream_outcome(&mut self, stream: usize, event: StreamEvent) {
        if !self.measuring {
            return;
        }
        if let Some(series) = &mut self.series {
            series.stream_event(stream, event);
        }
    }

    /// A request was dropped at `now` for `reason`.
    pub fn drop(&mut self, now: SimTime, reason: DropReason) {
        self.advance(now);
        if !self.measuring {
            self.finished_before_warmup += 1;
            return;
        }
        self.dropped[reason.index()] += 1;
        self.outcomes.record(false);
        if let Some(series) = &mut self.series {
            series.drop();
        }
    }

    /// One request's times at pipeline stage `stage`: waiting in the queue, executing (its
    /// batch's execution time), waiting for room downstream and transferring its output onward.
    /// Attributed to the latest time recorded. Panics if `stage` is not below the stage count
    /// given to [`Recorder::new`].
    pub fn stage(&mut self, stage: usize, times: StageTimes) {
        if self.measuring {
            self.stages[stage].request(times);
        }
    }

    /// Counts one more pipeline stage (a partition added at run time) and returns its index.
    pub fn add_stage(&mut self) -> usize {
        self.stages.push(StageAccumulator::default());
        self.stages.len() - 1
    }

    /// Stage `stage` executed a batch of `size` requests. Attributed to the latest time recorded.
    /// Panics if `stage` is not below the stage count given to [`Recorder::new`].
    pub fn batch(&mut self, stage: usize, size: u32) {
        if self.measuring {
            self.stages[stage].batch(size);
        }
    }

    /// From `now` on, accelerator `accel` is busy at `level` (fraction 0..=1; values outside are
    /// clamped). Panics if `accel` is not an index of the accelerators given to [`Recorder::new`].
    pub fn busy(&mut self, now: SimTime, accel: usize, level: f64) {
        debug_assert!(
            (0.0..=1.0).contains(&level),
            "utilisation level of accelerator {accel} must be within 0..=1, got {level}"
        );
        let level = if level.is_nan() {
            0.0
        } else {
            level.clamp(0.0, 1.0)
        };
        let now = self.advance(now);
        self.busy[accel].set(now, level);
    }

    /// From `now` on, batches running on the CPU hold `cores` of its `all` cores.
    pub fn cpu_cores_busy(&mut self, now: SimTime, cores: u32, all: u32) {
        self.advance(now);
        self.cores_busy.set(now, f64::from(cores));
        self.all_cores_busy
            .set(now, if all > 0 && cores >= all { 1.0 } else { 0.0 });
    }

    /// From `now` on, instances on the CPU hold `cores` cores.
    pub fn cpu_cores_held(&mut self, now: SimTime, cores: u32) {
        self.advance(now);
        self.cores_held.set(now, f64::from(cores));
    }

    /// From `now` on, `used_bytes` of device memory are in use.
    pub fn memory(&mut self, now: SimTime, used_bytes: u64) {
        let now = self.advance(now);
        self.memory.set(now, used_bytes as f64);
        self.memory_level_bytes = used_bytes;
        self.memory_peak_bytes = self.memory_peak_bytes.max(used_bytes);
    }

    /// Ends the run at `end` with `in_flight` requests neither completed nor dropped, and
    /// summarises the window `[warmup, end]`.
    pub fn finish(mut self, end: SimTime, in_flight: u64) -> Summary {
        let end = self.advance(end);
        let in_flight_at_warmup = self
            .arrivals_before_warmup
            .saturating_sub(self.finished_before_warmup);
        let dropped: u64 = self.dropped.iter().sum();
        debug_assert_eq!(
            i128::from(in_flight_at_warmup) + i128::from(self.arrivals)
                - i128::from(self.completed)
                - i128::from(dropped),
            i128::from(in_flight),
            "metrics conservation: in flight at warm-up ({in_flight_at_warmup}) + arrivals ({}) \
             − completed ({}) − dropped ({dropped}) must equal the in-flight count given to finish",
            self.arrivals,
            self.completed,
        );

        let window = end.saturating_since(self.warmup_end);
        let window_s = window.as_secs_f64();
        let window_ns = window.as_ns() as f64;
        let per_second = |n: u64| {
            if window_s > 0.0 {
                n as f64 / window_s
            } else {
                0.0
            }
        };
        let mean_level = |area: f64| {
            if window_ns > 0.0 {
                area / window_ns
            } else {
                0.0
            }
        };

        self.memory.advance(end);
        self.cores_held.advance(end);
        self.cores_busy.advance(end);
        self.all_cores_busy.advance(end);
        for g in &mut self.busy {
            g.advance(end);
        }
        let series = self.series.take().map(|series| {
            let memory_area = self.memory.take_interval(end);
            let utilization_area = self.busy.iter_mut().map(|g| g.take_interval(end)).collect();
            series.finish(end, memory_area, utilization_area)
        });
        let finished = self.completed + dropped;
        Summary {
            arrivals: self.arrivals,
            completed: self.completed,
            completed_within_slo: self.completed_within_slo,
            dropped,
            dropped_by_reason: DropReason::ALL
                .iter()
                .map(|&r| (r, self.dropped[r.index()]))
                .collect(),
            in_flight,
            in_flight_at_warmup,
            warmup_s: self.warmup_end.as_secs_f64(),
            duration_s: window_s,
            throughput_rps: per_second(self.completed),
            goodput_rps: per_second(self.completed_within_slo),
            slo_attainment: (finished > 0)
                .then(|| self.completed_within_slo as f64 / finished as f64),
            attainment_batch_means: self.outcomes.means(),
            slo_ms: self.slo.as_ms_f64(),
            latency_ms: self.latency.stats_ms(),
            latency_cdf: (self.latency_cdf_points > 0 && self.latency.count() > 0)
                .then(|| self.latency.cdf(self.latency_cdf_points)),
            stages: self.stages.iter().map(StageAccumulator::summary).collect(),
            memory_peak_bytes: if self.measuring {
                self.memory_peak_bytes
            } else {
                self.memory_level_bytes
            },
            memory_mean_bytes: mean_level(self.memory.total_area()),
            cpu_cores_held_mean: mean_level(self.cores_held.total_area()),
            cpu_cores_busy_mean: mean_level(self.cores_busy.total_area()),
            cpu_all_cores_busy_fraction: mean_level(self.all_cores_busy.total_area()),
            utilization: self
                .accelerators
                .iter()
                .cloned()
                .zip(self.busy.iter().map(|g| mean_level(g.total_area())))
                .collect(),
            series,
        }
    }

    /// Moves the clock to `now` (never backwards): starts the measured window when the warm-up
    /// ends, and closes every series interval that ends by `now`. Returns the clock.
    fn advance(&mut self, now: SimTime) -> SimTime {
        debug_assert!(
            now >= self.now,
            "metrics recorded out of time order: {now} after {}",
            self.now
        );
        let now = now.max(self.now);
        self.now = now;
        if !self.measuring {
            if now < self.warmup_end {
                return now;
            }
            self.start_window();
        }
        if let Some(series) = &mut self.series {
            while series.next_boundary() <= now {
                let boundary = series.next_boundary();
                let memory_area = self.memory.take_interval(boundary);
                let utilization_area = self
                    .busy
                    .iter_mut()
                    .map(|g| g.take_interval(boundary))
                    .collect();
                series.close(boundary, memory_area, utilization_area);
            }
        }
        now
    }

    /// The warm-up is over: gauges forget what they held before and peaks restart from the
    /// levels held now.
    fn start_window(&mut self) {
        self.measuring = true;
        self.memory.restart(self.warmup_end);
        self.cores_held.restart(self.warmup_end);
        self.cores_busy.restart(self.warmup_end);
        self.all_cores_busy.restart(self.warmup_end);
        for g in &mut self.busy {
            g.restart(self.warmup_end);
        }
        self.memory_peak_bytes = self.memory_level_bytes;
    }
}

#[cfg(test)]
mod tests;
