//! `infscaler hil run` and `infscaler hil validate`: live runs of a scenario on ONNX Runtime,
//! and their comparison with the simulation of the same arrivals.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use infscaler_hil::live::{LiveOptions, LiveStats, OrtExecutor};
use infscaler_hil::runtime::{ExecutionProvider, Runtime};
use infscaler_sim::hardware::measured::MeasuredProfile;
use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::scenario::OneOrMany;
use infscaler_sim::{Report, ResolvedScenario, Scenario, Simulation};

use crate::table;

/// How live partitions execute (shared by `hil run` and `hil validate`).
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Execution provider of each accelerator: one for all (`cpu`), or `ACCEL=EP,…` naming the
    /// device's accelerators (`gpu=tensorrt,dla0=tensorrt-dla0,dla1=tensorrt-dla1`; those not
    /// named use `cpu`). Providers: cpu, cuda, tensorrt, tensorrt-dla0, tensorrt-dla1.
    #[arg(long, default_value = "cpu")]
    ep: String,
    /// Seed of the models' random weights.
    #[arg(long, default_value_t = 0)]
    weights_seed: u64,
}

/// `infscaler hil run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario TOML file.
    scenario: PathBuf,
    /// Seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Print one JSON object (the keys of `infscaler run --json`) instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    exec: ExecArgs,
}

/// `infscaler hil validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Scenario TOML file (with `[device] measured_profile` for measured execution times).
    scenario: PathBuf,
    /// Seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Exit with status 1 when throughput, p50 or p99 misses its error target.
    #[arg(long)]
    check: bool,
    /// Measured profile(s) to simulate with instead of the scenario's `[device]
    /// measured_profile` (repeat for several providers), e.g. one just made on this machine by
    /// `infscaler hil profile`.
    #[arg(long = "profile", value_name = "FILE")]
    profiles: Vec<PathBuf>,
    #[command(flatten)]
    exec: ExecArgs,
}

/// The provider of each of `device`'s accelerators from `--ep`.
fn providers(ep: &str, device: &DeviceProfile) -> Result<Vec<ExecutionProvider>> {
    let names: Vec<&str> = device
        .accelerators
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    if !ep.contains('=') {
        let p = super::profile::provider(ep.trim())?;
        return Ok(vec![p; names.len()]);
    }
    let mut out = vec![ExecutionProvider::Cpu; names.len()];
    for item in ep.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((accel, provider)) = item.split_once('=') else {
            bail!("--ep {ep}: `{item}` is not ACCEL=EP");
        };
        let Some(i) = names.iter().position(|n| *n == accel.trim()) else {
            bail!(
                "--ep {ep}: device `{}` has no accelerator `{}` (it has {})",
                device.name,
                accel.trim(),
                names.join(", ")
            );
        };
        out[i] = super::profile::provider(provider.trim())?;
    }
    Ok(out)
}

/// Runs `resolved` live; returns the report and the executor's counters.
fn live_run(
    resolved: &ResolvedScenario,
    origin: &str,
    seed: Option<u64>,
    exec: &ExecArgs,
) -> Result<(Report, LiveStats)> {
    let providers = providers(&exec.ep, &resolved.device)?;
    let rt = Runtime::get()?;
    let sim = Simulation::new(resolved, seed).with_context(|| format!("setting up {origin}"))?;
    let executor = OrtExecutor::new(
        rt,
        LiveOptions {
            providers,
            weights_seed: exec.weights_seed,
        },
    );
    let stats = executor.stats();
    let run = &resolved.scenario.run;
    eprintln!(
        "live run of {origin} on ONNX Runtime {} ({}): {} of arrivals, on the wall clock",
        rt.version(),
        exec.ep,
        match (run.duration, run.max_requests) {
            (Some(d), _) => format!("{:.1} s", d.0.as_secs_f64()),
            (None, Some(n)) => format!("{n} requests"),
            (None, None) => "the workload's".into(),
        }
    );
    let started = Instant::now();
    let report = sim
        .run_live(Box::new(executor))
        .with_context(|| format!("live run of {origin}"))?;
    eprintln!(
        "live run done in {:.1} s wall",
        started.elapsed().as_secs_f64()
    );
    let stats = stats.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok((report, stats))
}

/// The executor's counters, for a person.
fn stats_text(s: &LiveStats) -> String {
    let mean_us = |ns: u64, n: u64| {
        if n == 0 {
            0.0
        } else {
            ns as f64 / n as f64 / 1e3
        }
    };
    let mut out = format!(
        "ONNX Runtime: {} batches, mean run {:.3} ms\n",
        s.batches,
        mean_us(s.run_ns, s.batches) / 1e3
    );
    out += &format!(
        "hand-offs into a partition: {} zero-copy (the previous batch's values as they were), \
         {} gathered ({} copied, {:.1} µs mean)\n",
        s.inputs_zero_copy,
        s.inputs_gathered,
        table::human_bytes(s.gathered_bytes as f64),
        mean_us(s.gather_ns, s.inputs_zero_copy + s.inputs_gathered)
    );
    for (k, p) in s.partitions.iter().enumerate() {
        out += &format!(
            "  partition {k}: {} batches, mean batch {:.2}, mean run {:.3} ms\n",
            p.batches,
            p.requests as f64 / p.batches.max(1) as f64,
            mean_us(p.run_ns, p.batches) / 1e3
        );
    }
    out += &format!(
        "wall-clock loop: {} timed waits, woke {:.1} µs late on average, {:.1} µs at most\n",
        s.timed_waits,
        mean_us(s.wake_late_ns, s.timed_waits),
        s.wake_late_max_ns as f64 / 1e3
    );
    if s.transport_copies > 0 {
        out += &format!(
            "copying transport: {} copies, {} moved, {:.1} µs mean\n",
            s.transport_copies,
            table::human_bytes(s.transport_copy_bytes as f64),
            mean_us(s.transport_copy_ns, s.transport_copies)
        );
    }
    out
}

/// `infscaler hil run`.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    let resolved = Scenario::load(&args.scenario)?;
    let origin = args.scenario.display().to_string();
    let (report, stats) = live_run(&resolved, &origin, args.seed, &args.exec)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table::report(&report, &resolved));
    }
    eprint!("{}", stats_text(&stats));
    Ok(ExitCode::SUCCESS)
}

/// One compared metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricError {
    /// Metric name.
    pub metric: String,
    /// Simulated value.
    pub simulated: Option<f64>,
    /// Live (measured) value.
    pub live: Option<f64>,
    /// (simulated − live) / live.
    pub relative_error: Option<f64>,
    /// The error target, where the issue sets one.
    pub target: Option<f64>,
}

impl MetricError {
    fn new(metric: String, simulated: Option<f64>, live: Option<f64>, target: Option<f64>) -> Self {
        let relative_error = match (simulated, live) {
            (Some(s), Some(l)) if l != 0.0 => Some((s - l) / l),
            _ => None,
        };
        MetricError {
            metric,
            simulated,
            live,
            relative_error,
            target,
        }
    }

    /// Whether the metric meets its target (`None`: no target, or nothing to compare).
    pub fn within_target(&self) -> Option<bool> {
        Some(self.relative_error?.abs() <= self.target?)
    }
}

/// Error targets at moderate load (issue 5): throughput 5 %, p50 10 %, p99 25 %.
const THROUGHPUT_TARGET: f64 = 0.05;
const P50_TARGET: f64 = 0.10;
const P99_TARGET: f64 = 0.25;

/// Simulated against live, per metric.
pub fn compare(simulated: &Report, live: &Report) -> Vec<MetricError> {
    let (s, l) = (&simulated.summary, &live.summary);
    let lat = |r: &Report, f: fn(&infscaler_sim::metrics::LatencyMs) -> f64| {
        r.summary.latency_ms.as_ref().map(f)
    };
    let mut out = vec![
        MetricError::new(
            "throughput_rps".into(),
            Some(s.throughput_rps),
            Some(l.throughput_rps),
            Some(THROUGHPUT_TARGET),
        ),
        MetricError::new(
            "latency_p50_ms".into(),
            lat(simulated, |x| x.p50),
            lat(live, |x| x.p50),
            Some(P50_TARGET),
        ),
        MetricError::new(
            "latency_p90_ms".into(),
            lat(simulated, |x| x.p90),
            lat(live, |x| x.p90),
            None,
        ),
        MetricError::new(
            "latency_p99_ms".into(),
            lat(simulated, |x| x.p99),
            lat(live, |x| x.p99),
            Some(P99_TARGET),
        ),
        MetricError::new(
            "latency_mean_ms".into(),
            lat(simulated, |x| x.mean),
            lat(live, |x| x.mean),
            None,
        ),
        MetricError::new(
            "slo_attainment".into(),
            s.slo_attainment,
            l.slo_attainment,
            None,
        ),
    ];
    for (k, (a, b)) in s.stages.iter().zip(&l.stages).enumerate() {
        out.push(MetricError::new(
            format!("stage{k}_exec_ms"),
            a.mean_exec_ms,
            b.mean_exec_ms,
            None,
        ));
        out.push(MetricError::new(
            format!("stage{k}_queue_ms"),
            a.mean_queue_ms,
            b.mean_queue_ms,
            None,
        ));
        out.push(MetricError::new(
            format!("stage{k}_batch_size"),
            a.mean_batch_size,
            b.mean_batch_size,
            None,
        ));
    }
    out
}

/// The comparison as an aligned table.
pub fn comparison_table(rows: &[MetricError]) -> String {
    let num = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.3}"));
    let mut out = format!(
        "{:<20} {:>12} {:>12} {:>9} {:>8}\n",
        "metric", "simulated", "live", "error", "target"
    );
    for r in rows {
        let error = r
            .relative_error
            .map_or("—".to_string(), |e| format!("{:+.1}%", e * 100.0));
        let target = match (r.target, r.within_target()) {
            (Some(t), Some(true)) => format!("≤{:.0}% ok", t * 100.0),
            (Some(t), Some(false)) => format!("≤{:.0}% MISS", t * 100.0),
            (Some(t), None) => format!("≤{:.0}%", t * 100.0),
            (None, _) => String::new(),
        };
        out += &format!(
            "{:<20} {:>12} {:>12} {:>9} {:>8}\n",
            r.metric,
            num(r.simulated),
            num(r.live),
            error,
            target
        );
    }
    out
}

/// What `hil validate --json` prints.
#[derive(Serialize)]
struct Validation<'a> {
    scenario: &'a str,
    seed: u64,
    metrics: &'a [MetricError],
    simulated: &'a Report,
    live: &'a Report,
    live_stats: &'a LiveStats,
}

/// `resolved` with `profiles` (paths as given on the command line) as its measured profiles.
fn with_profiles(resolved: ResolvedScenario, profiles: &[PathBuf]) -> Result<ResolvedScenario> {
    if profiles.is_empty() {
        return Ok(resolved);
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let mut paths = Vec::new();
    for p in profiles {
        let abs = cwd.join(p);
        if !abs.is_file() {
            bail!("--profile {}: no such file", p.display());
        }
        paths.push(abs.display().to_string());
    }
    let mut scenario = resolved.scenario;
    scenario.device.measured_profile = Some(OneOrMany::Many(paths));
    Ok(scenario.resolve()?)
}

/// Warns when a measured profile was taken on another CPU than this machine's: its times then
/// describe that machine, and the validation compares two machines.
fn warn_foreign_profiles(resolved: &ResolvedScenario) {
    let Some(paths) = &resolved.scenario.device.measured_profile else {
        return;
    };
    let (here, cores) = infscaler_hil::profile::cpu_info();
    for p in paths.paths() {
        let path = resolved.scenario.base_dir.join(p);
        let Ok(profile) = MeasuredProfile::load(&path) else {
            continue; // resolving the scenario already checked it; nothing to add
        };
        let m = &profile.machine;
        if m.cpu_model != here || m.cpu_cores != cores {
            eprintln!(
                "note: {} was measured on `{}` ({} logical CPUs), this machine is `{here}` ({cores}): \
                 its times may not hold here. Measure again with\n  {}\nand pass the file with \
                 --profile FILE",
                path.display(),
                m.cpu_model,
                m.cpu_cores,
                m.command
            );
        }
    }
}

/// `infscaler hil validate`.
pub fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let resolved = with_profiles(Scenario::load(&args.scenario)?, &args.profiles)?;
    let origin = args.scenario.display().to_string();
    warn_foreign_profiles(&resolved);
    if resolved.scenario.device.measured_profile.is_none() {
        eprintln!(
            "note: {origin} has no [device] measured_profile: the simulation uses the roofline \
             of `{}`, not times measured on this machine (`infscaler hil profile` makes one)",
            resolved.device.name
        );
    }
    let simulated = Simulation::new(&resolved, args.seed)
        .with_context(|| format!("setting up {origin}"))?
        .run();
    let (live, stats) = live_run(&resolved, &origin, args.seed, &args.exec)?;
    let rows = compare(&simulated, &live);
    if args.json {
        let v = Validation {
            scenario: &resolved.name,
            seed: simulated.seed,
            metrics: &rows,
            simulated: &simulated,
            live: &live,
            live_stats: &stats,
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{} (seed {}): simulation with the measured profile vs live run, same arrivals\n",
            resolved.name, simulated.seed
        );
        print!("{}", comparison_table(&rows));
        println!(
            "\narrivals: simulated {}, live {}; completed: simulated {}, live {}",
            simulated.summary.arrivals,
            live.summary.arrivals,
            simulated.summary.completed,
            live.summary.completed
        );
        eprint!("{}", stats_text(&stats));
    }
    let missed = rows.iter().any(|r| r.within_target() == Some(false));
    Ok(if args.check && missed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
