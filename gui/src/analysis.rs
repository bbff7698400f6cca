//! A finished run and what the views draw from it, computed once on the worker thread (series
//! downsampled, timeline rebuilt), so drawing a frame costs the same for a run of a thousand
//! requests as for one of a million.

use infscaler_sim::Report;
use infscaler_sim::experiment::plan::PlanReport;
use infscaler_sim::model::Model;

use crate::downsample::{MAX_PLOT_POINTS, downsample};
use crate::gantt::{self, Timeline};

/// Which plot a series line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesGroup {
    /// Requests per second.
    Rates,
    /// Latency percentiles, ms.
    Latency,
    /// Memory in use, GiB.
    Memory,
    /// Utilisation per accelerator, %.
    Utilization,
    /// Goodput of each query stream, requests per second (with several streams).
    StreamGoodput,
    /// SLO violations of each query stream, % of its requests finished (with several streams).
    StreamViolations,
    /// 99th-percentile latency of each query stream, ms (with several streams).
    StreamLatency,
}

/// One plotted line of the time series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesLine {
    /// Legend name.
    pub name: String,
    /// The plot it goes in.
    pub group: SeriesGroup,
    /// (time s, value) of the whole run, at most [`MAX_PLOT_POINTS`]: the zoomed-out view.
    pub points: Vec<[f64; 2]>,
    /// Every point, for the views of a zoomed-in range.
    pub full: Vec<[f64; 2]>,
}

/// What the views draw of one run.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The time-series lines (empty when the report has no series).
    pub series: Vec<SeriesLine>,
    /// The instance timeline, or why it could not be rebuilt.
    pub timeline: Result<Timeline, String>,
    /// The latency CDF as (latency ms, fraction) (empty when the report has none).
    pub cdf: Vec<[f64; 2]>,
}

impl Analysis {
    /// Derives the plots of `report`; `accelerators` orders the timeline's lanes.
    pub fn of(report: &Report, accelerators: &[String]) -> Self {
        let s = &report.summary;
        let end_s = s.warmup_s + s.duration_s;
        Analysis {
            series: series_lines(report),
            timeline: gantt::reconstruct(
                &report.partitions,
                &report.scaling_events,
                accelerators,
                end_s,
            ),
            cdf: s
                .latency_cdf
                .as_ref()
                .map(|cdf| {
                    let pts: Vec<[f64; 2]> =
                        cdf.iter().map(|p| [p.latency_ms, p.fraction]).collect();
                    downsample(&pts, MAX_PLOT_POINTS)
                })
                .unwrap_or_default(),
        }
    }

    /// The lines of one plot.
    pub fn lines(&self, group: SeriesGroup) -> impl Iterator<Item = &SeriesLine> {
        self.series.iter().filter(move |l| l.group == group)
    }
}

const GIB: f64 = (1u64 << 30) as f64;

/// Rates of an interval shorter than this fraction of the series interval are not plotted: the
/// last interval of a run ends with it and, after a drain, holds a few completions over a sliver
/// of time, whose rate would read as a spike. (The exported report keeps it.)
pub const MIN_RATE_INTERVAL_FRACTION: f64 = 0.5;

/// The series of a report as plot lines, each point at the middle of its interval.
pub fn series_lines(report: &Report) -> Vec<SeriesLine> {
    let Some(series) = &report.summary.series else {
        return Vec::new();
    };
    let pts = &series.points;
    let mid = |p: &infscaler_sim::metrics::SeriesPoint| p.time_s + p.duration_s / 2.0;
    let min_rate_s = series.interval_s * MIN_RATE_INTERVAL_FRACTION;
    let line =
        |name: &str, group, f: &dyn Fn(&infscaler_sim::metrics::SeriesPoint) -> Option<f64>| {
            let points: Vec<[f64; 2]> = pts
                .iter()
                .filter(|p| group != SeriesGroup::Rates || p.duration_s >= min_rate_s)
                .filter_map(|p| f(p).map(|v| [mid(p), v]))
                .collect();
            SeriesLine {
                name: name.to_string(),
                group,
                points: downsample(&points, MAX_PLOT_POINTS),
                full: points,
            }
        };
    let mut out = vec![
        line("arrivals", SeriesGroup::Rates, &|p| Some(p.arrivals_rps)),
        line("throughput", SeriesGroup::Rates, &|p| {
            Some(p.throughput_rps)
        }),
        line("goodput", SeriesGroup::Rates, &|p| Some(p.goodput_rps)),
        line("dropped", SeriesGroup::Rates, &|p| Some(p.dropped_rps)),
        line("p50", SeriesGroup::Latency, &|p| p.p50_ms),
        line("p99", SeriesGroup::Latency, &|p| p.p99_ms),
        line("memory", SeriesGroup::Memory, &|p| {
            Some(p.memory_bytes / GIB)
        }),
    ];
    let accelerators: Vec<String> = pts
        .first()
        .map(|p| p.utilization.keys().cloned().collect())
        .unwrap_or_default();
    for acc in accelerators {
        out.push(line(&acc, SeriesGroup::Utilization, &|p| {
            p.utilization.get(&acc).map(|u| u * 100.0)
        }));
    }
    for (k, stream) in report.streams.iter().enumerate() {
        out.push(line(&stream.name, SeriesGroup::StreamGoodput, &|p| {
            p.streams.get(k).map(|s| s.goodput_rps)
        }));
        out.push(line(&stream.name, SeriesGroup::StreamViolations, &|p| {
            p.streams
                .get(k)
                .and_then(|s| s.violations)
                .map(|v| v * 100.0)
        }));
        out.push(line(&stream.name, SeriesGroup::StreamLatency, &|p| {
            p.streams.get(k).and_then(|s| s.p99_ms)
        }));
    }
    out
}

/// A finished run: the report, what it was run on, and its plots.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The report, as `infscaler run --json` prints it.
    pub report: Report,
    /// The app's models (operators with their FLOPs), for the partition view.
    pub models: Vec<Model>,
    /// The device's accelerators in profile order.
    pub accelerators: Vec<String>,
    /// The policy's initial deployment, with the cost model's latencies.
    pub plan: Option<PlanReport>,
    /// The plots.
    pub analysis: Analysis,
    /// Wall time of the run, s.
    pub wall_s: f64,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{SeriesGroup, series_lines};

    use crate::runner::Job;
    use crate::scenario_edit;

    #[test]
    fn a_short_run_gives_every_plot() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut s = scenario_edit::open(&dir.join("quickstart.toml")).unwrap();
        s.run.duration = Some("3s".parse().unwrap());
        s.run.warmup = "0s".parse().unwrap();
        s.run.series_interval = None; // the GUI's run copy adds one
        let mut job = Job::spawn("test", None, move |r| crate::simulate::run(&s, r));
        let outcome = loop {
            if let Some(r) = job.poll() {
                break r.expect("the run succeeds");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let a = &outcome.analysis;
        let names: Vec<&str> = a.series.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "arrivals",
                "throughput",
                "goodput",
                "dropped",
                "p50",
                "p99",
                "memory",
                "cpu",
                "dla0",
                "dla1",
                "gpu"
            ]
        );
        // 3 s at 15 ms intervals: 200 points, each at the middle of its interval; the short
        // interval the drain adds (requests in flight at 3 s finish a little later) is left out
        // of the rates.
        let throughput = &a.series[1];
        assert_eq!(throughput.full.len(), 200);
        assert!((throughput.full[199][0] - 2.9925).abs() < 1e-9);
        assert!((throughput.full[0][0] - 0.0075).abs() < 1e-9);
        assert!(a.cdf.len() > 10);
        assert!(
            a.cdf
                .windows(2)
                .all(|w| w[0][0] < w[1][0] && w[0][1] <= w[1][1])
        );
        assert_eq!(a.cdf.last().map(|p| p[1]), Some(1.0));
        let t = a.timeline.as_ref().expect("a timeline");
        assert_eq!(t.bars.len(), 4, "gpu ×2, dla0, dla1 for the whole run");
        assert_eq!(outcome.models.len(), 2);
        assert_eq!(outcome.plan.as_ref().map(|p| p.partitions.len()), Some(3));
    }

    #[test]
    fn a_short_last_interval_is_left_out_of_the_rates_only() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut s = scenario_edit::open(&dir.join("quickstart.toml")).unwrap();
        s.run.duration = Some("2s".parse().unwrap());
        s.run.warmup = "0s".parse().unwrap();
        s.run.series_interval = Some("500ms".parse().unwrap());
        let resolved = s.resolve().unwrap();
        let mut report = infscaler_sim::Simulation::new(&resolved, None)
            .unwrap()
            .run();
        let series = report.summary.series.as_mut().unwrap();
        let full = series.points.len();
        // Make the last interval a sliver (0.1 of the interval) whose rate is a spike.
        let last = series.points.last_mut().unwrap();
        last.duration_s = 0.05;
        last.throughput_rps = 1e6;
        let lines = series_lines(&report);
        for l in &lines {
            let want = if l.group == SeriesGroup::Rates {
                full - 1
            } else {
                full
            };
            assert_eq!(l.full.len(), want, "{}", l.name);
        }
        let throughput = lines.iter().find(|l| l.name == "throughput").unwrap();
        assert!(
            throughput.full.iter().all(|p| p[1] < 1e5),
            "no spike plotted"
        );
    }
}
