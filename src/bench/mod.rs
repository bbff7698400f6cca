//! `infscaler bench`: the simulator's own speed, on a fixed 3-partition pipeline or on any
//! scenario (`--scenario FILE`).
//!
//! The default scenario is built in, so the figure is comparable between versions: AlexNet cut after
//! operators #5 and #13 (the paper's P_5 P_13 P_24), one partition on each of the GPU and the two
//! DLAs, zero-copy hand-offs, dynamic batching, Poisson arrivals at a moderate load. Reported:
//! wall time, simulated requests and events per second, and the process's peak resident memory
//! after a run of a tenth of the requests and after the full run (equal peaks show that memory
//! does not grow with the number of requests).

pub mod suite;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use infscaler_sim::time::SimDuration;
use infscaler_sim::units::TimeSpan;
use infscaler_sim::{ResolvedScenario, Scenario, Simulation};

/// The benchmark scenario; `{requests}` is filled in.
const BENCH_SCENARIO: &str = r#"
name = "bench-3-partition"
seed = 7
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
multiplier = 3.0
[workload]
kind = "poisson"
rate_per_s = {rate}
[run]
max_requests = {requests}
[policy]
kind = "static"
[[policy.stages]]
cuts = [5, 13]
[[policy.stages.partitions]]
instances = { gpu = 1 }
max_batch = 4
batch_timeout = "1ms"
[[policy.stages.partitions]]
instances = { dla0 = 1 }
max_batch = 4
batch_timeout = "1ms"
[[policy.stages.partitions]]
instances = { dla1 = 1 }
max_batch = 4
batch_timeout = "1ms"
"#;

/// What is benchmarked: the built-in pipeline at `rate`, or a scenario file.
enum Subject {
    BuiltIn { rate: f64 },
    File(Box<ResolvedScenario>),
}

impl Subject {
    /// The scenario, stopped after `requests` arrivals. A file's scenario runs as written but
    /// for its stop rule: no duration, no warm-up, drained (a workload that ends sooner ends
    /// the run sooner).
    fn with_requests(&self, requests: u64) -> Result<ResolvedScenario> {
        match self {
            Subject::BuiltIn { rate } => scenario(requests, *rate),
            Subject::File(resolved) => {
                let mut r = ResolvedScenario::clone(resolved);
                let run = &mut r.scenario.run;
                run.duration = None;
                run.max_requests = Some(requests);
                run.warmup = TimeSpan(SimDuration::ZERO);
                run.drain = true;
                Ok(r)
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Subject::BuiltIn { rate } => {
                format!("AlexNet P5|P13|P24 on gpu, dla0, dla1 · Poisson {rate:.1} req/s")
            }
            Subject::File(r) => format!(
                "{} · app {} on {} · policy {}",
                r.name,
                r.app_name,
                r.device.name,
                r.scenario.policy.name()
            ),
        }
    }
}

fn scenario(requests: u64, rate: f64) -> Result<ResolvedScenario> {
    let text = BENCH_SCENARIO
        .replace("{requests}", &requests.to_string())
        .replace("{rate}", &format!("{rate:.3}"));
    Ok(Scenario::parse(&text, "<bench>", Path::new("."))?.resolve()?)
}

/// Peak resident set size of this process, from /proc (Linux); `None` elsewhere.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs the benchmark (on the built-in pipeline, or on the scenario at `file`) and prints its
/// figures.
pub fn run(file: Option<&Path>, requests: u64, repeat: u32, json: bool) -> Result<ExitCode> {
    let subject = match file {
        Some(path) => Subject::File(Box::new(Scenario::load(path)?)),
        None => {
            // Load at about 60 % of the pipeline's capacity: find the bottleneck's batch-1 time
            // from a short calibration run's isolated latency (the slowest partition bounds
            // throughput).
            let probe = scenario(1, 1.0)?;
            Subject::BuiltIn {
                rate: 0.6 * 3.0 * 1e3 / probe.isolated_latency.as_ms_f64(),
            }
        }
    };
    let small = (requests / 10).max(1);
    Simulation::new(&subject.with_requests(small)?, None)?.run();
    let rss_small = peak_rss_bytes();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let sim = Simulation::new(&subject.with_requests(requests)?, None)?;
        let t0 = Instant::now();
        let report = sim.run();
        times.push(t0.elapsed().as_secs_f64());
        last = Some(report);
    }
    let rss_full = peak_rss_bytes();
    times.sort_by(f64::total_cmp);
    let best = times[0];
    let median = times[times.len() / 2];
    let report = last.expect("at least one repetition");
    let events = report.events_processed;
    // A workload that ends before `requests` arrivals ends the run sooner.
    let requests = report.summary.arrivals;
    let rate = match subject {
        Subject::BuiltIn { rate } => Some(rate),
        Subject::File(_) => None,
    };
    if json {
        let v = serde_json::json!({
            "scenario": subject.describe(),
            "requests": requests, "rate_per_s": rate, "best_s": best, "median_s": median,
            "requests_per_s": requests as f64 / best, "events_per_s": events as f64 / best,
            "events": events, "completed": report.summary.completed,
            "peak_rss_bytes_small_run": rss_small, "peak_rss_bytes_full_run": rss_full,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "bench: {} · {requests} requests · {} run(s)",
            subject.describe(),
            times.len()
        );
        println!("  wall time      best {best:.3} s   median {median:.3} s");
        println!(
            "  simulated      {:.0} requests/s   {:.0} events/s   ({events} events)",
            requests as f64 / best,
            events as f64 / best
        );
        println!(
            "  completed      {} (throughput {:.1} req/s, p99 {:.2} ms)",
            report.summary.completed,
            report.summary.throughput_rps,
            report
                .summary
                .latency_ms
                .as_ref()
                .map_or(f64::NAN, |l| l.p99)
        );
        if let (Some(a), Some(b)) = (rss_small, rss_full) {
            println!(
                "  peak RSS       {:.1} MiB after {small} requests, {:.1} MiB after {requests}",
                a as f64 / 1048576.0,
                b as f64 / 1048576.0
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
