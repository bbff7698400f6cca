//! `infscaler hil run` and `infscaler hil validate`: live runs of a scenario on ONNX Runtime,
//! and their comparison with the simulation of the same arrivals.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use infscaler_hil::cpu_time::MachineCpu;
use infscaler_hil::live::{LiveOptions, LiveStats, OrtExecutor, RunTimes};
use infscaler_hil::runtime::{ExecutionProvider, Runtime};
use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::model::measured::{
    FORMAT_VERSION, LatencyStats, LoopSends, MachineInfo, MeasuredModel, MeasuredOperator,
    MeasuredPartition, MeasuredProfile,
};
use infscaler_sim::scenario::OneOrMany;
use infscaler_sim::{Report, ResolvedScenario, Scenario, Simulation};

use infscaler_results::atomic;
use infscaler_results::report_text as table;

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
    /// Run even if the scenario expects more than a billion arrivals.
    #[arg(long)]
    force: bool,
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
    /// Live runs of the same arrivals: the live value of a metric is their median, shown with
    /// their range, so that run-to-run noise of the machine is visible beside the error.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Where to write the profile of the live runs' own execution times, which the second
    /// comparison simulates with (default: results/hil/<scenario name>-live-times.toml).
    #[arg(long, value_name = "FILE")]
    live_times: Option<PathBuf>,
    /// Before every live run, measure the scenario's profiles again (each with the `hil
    /// profile` command recorded in it, into results/hil/profiles/) and simulate that run with
    /// them: the simulated value is then the median over the runs too. For a machine whose
    /// speed drifts between the day a profile was taken and now, or within minutes (a shared
    /// virtual machine).
    #[arg(long)]
    reprofile: bool,
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
    let cpu_before = MachineCpu::read();
    crate::interrupt::install();
    let mut view = crate::progress::RunProgressView::new(&format!("live {}", resolved.name));
    let report = sim
        .run_live_observed(Box::new(executor), &mut |p| {
            view.observe(p);
            crate::interrupt::control_flow()
        })
        .with_context(|| format!("live run of {origin}"))?;
    drop(view);
    let shares = cpu_before
        .zip(MachineCpu::read())
        .and_then(|(a, b)| a.shares_until(&b));
    eprintln!(
        "live run done in {:.1} s wall",
        started.elapsed().as_secs_f64()
    );
    let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner()).clone();
    (stats.machine_busy_share, stats.machine_steal_share) =
        (shares.map(|s| s.0), shares.map(|s| s.1));
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
        "ONNX Runtime: {} batches, mean run {:.3} ms ({:.3} ms of it on a core)\n",
        s.batches,
        mean_us(s.run_ns, s.batches) / 1e3,
        mean_us(s.cpu_ns, s.batches) / 1e3
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
            "  partition {k}: {} batches, mean batch {:.2}, mean run {:.3} ms, on a core {:.3} ms \
             ({:.3} ms per request); sent {:.1} µs after its start, taken {:.1} µs after sent, \
             reported {:.1} µs after its run\n",
            p.batches,
            p.requests as f64 / p.batches.max(1) as f64,
            mean_us(p.run_ns, p.batches) / 1e3,
            mean_us(p.cpu_ns, p.batches) / 1e3,
            mean_us(p.cpu_ns, p.requests) / 1e3,
            mean_us(p.loop_lag_ns, p.batches),
            mean_us(p.pickup_ns, p.batches),
            mean_us(p.report_ns, p.batches)
        );
    }
    let [(free_ns, free_n), (busy_ns, busy_n)] = s.handoffs();
    out += &format!(
        "hand-off of a batch (sent after its start + taken after sent): {:.1} µs mean over {} \
         sent with a core free, {:.1} µs over {} sent with every other core running a batch\n",
        mean_us(free_ns, free_n),
        free_n,
        mean_us(busy_ns, busy_n),
        busy_n
    );
    for (what, when, classes) in [
        ("worker wake-ups (taken after sent)", "sent", &s.wakeups),
        (
            "the loop's sends (running again after a send)",
            "sent",
            &s.sends,
        ),
        (
            "results taken by the loop (after the run's end)",
            "ended",
            &s.results,
        ),
    ] {
        let [free, busy] = classes
            .each_ref()
            .map(|class| infscaler_hil::wakeup_time::describe(&pooled([class])));
        out += &format!(
            "{what}: {free} {when} with a core free; {busy} {when} with every other core \
             running a batch\n"
        );
    }
    out += &format!(
        "wall-clock loop: {} timed waits, woke {:.1} µs late on average, {:.1} µs at most\n",
        s.timed_waits,
        mean_us(s.wake_late_ns, s.timed_waits),
        s.wake_late_max_ns as f64 / 1e3
    );
    if let (Some(busy), Some(steal)) = (s.machine_busy_share, s.machine_steal_share) {
        out += &format!(
            "machine CPUs during the run: {:.1} % busy, {:.1} % taken by the hypervisor (steal){}\n",
            busy * 100.0,
            steal * 100.0,
            if steal > 0.02 {
                ": the live run had less CPU than the machine's cores, which the simulation \
                 does not know"
            } else {
                ""
            }
        );
    }
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
    crate::check_size(&resolved, args.force)?;
    let origin = args.scenario.display().to_string();
    let (report, stats) = live_run(&resolved, &origin, args.seed, &args.exec)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table::report(&report, &resolved));
    }
    eprint!("{}", stats_text(&stats));
    if report.interrupted {
        eprintln!("interrupted (Ctrl-C): the report covers the live run up to there");
        return Ok(ExitCode::from(crate::interrupt::EXIT_INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// One compared metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricError {
    /// Metric name.
    pub metric: String,
    /// Simulated value: with one simulation per live run (`--reprofile`), their median.
    pub simulated: Option<f64>,
    /// Smallest simulated value over the simulations.
    pub simulated_min: Option<f64>,
    /// Largest simulated value over the simulations.
    pub simulated_max: Option<f64>,
    /// Live (measured) value: the median over the live runs (the mean of the middle two for an
    /// even count).
    pub live: Option<f64>,
    /// Smallest live value over the runs.
    pub live_min: Option<f64>,
    /// Largest live value over the runs.
    pub live_max: Option<f64>,
    /// (simulated − live) / live.
    pub relative_error: Option<f64>,
    /// With one simulation per live run (`--reprofile`), each with the profile measured just
    /// before its run: the median of each simulation's error against its own run. Unlike
    /// `relative_error`, it leaves out how far the machine drifted between runs (`None`: one
    /// simulation, or no pair with both values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired_error: Option<f64>,
    /// The error target, where the issue sets one.
    pub target: Option<f64>,
}

impl MetricError {
    /// Compares `simulated` with the live runs' values of one metric (runs without a value are
    /// left out).
    fn new(
        metric: String,
        simulated: &[Option<f64>],
        live: &[Option<f64>],
        target: Option<f64>,
    ) -> Self {
        let (sim_median, sim_min, sim_max) = median_and_range(simulated);
        let (median, live_min, live_max) = median_and_range(live);
        let error = |s: Option<f64>, l: Option<f64>| match (s, l) {
            (Some(s), Some(l)) if l != 0.0 => Some((s - l) / l),
            _ => None,
        };
        let relative_error = error(sim_median, median);
        let paired: Vec<Option<f64>> = if simulated.len() > 1 && simulated.len() == live.len() {
            simulated
                .iter()
                .zip(live)
                .filter_map(|(&s, &l)| error(s, l))
                .map(Some)
                .collect()
        } else {
            Vec::new()
        };
        let (paired_error, _, _) = median_and_range(&paired);
        MetricError {
            metric,
            simulated: sim_median,
            simulated_min: sim_min,
            simulated_max: sim_max,
            live: median,
            live_min,
            live_max,
            relative_error,
            paired_error,
            target,
        }
    }

    /// Whether the metric meets its target (`None`: no target, or nothing to compare).
    pub fn within_target(&self) -> Option<bool> {
        Some(self.relative_error?.abs() <= self.target?)
    }
}

/// The median of the values present (the mean of the middle two for an even count), the
/// smallest and the largest.
fn median_and_range(values: &[Option<f64>]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let mut v: Vec<f64> = values.iter().flatten().copied().collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = (n > 0).then(|| (v[(n - 1) / 2] + v[n / 2]) / 2.0);
    (median, v.first().copied(), v.last().copied())
}

/// Error targets of the CPU in the loop on every `scenarios/hil/` scenario (issue 13):
/// throughput 5 %, p50 15 %, p99 30 %, against the median of the live runs.
const THROUGHPUT_TARGET: f64 = 0.05;
const P50_TARGET: f64 = 0.15;
const P99_TARGET: f64 = 0.30;

/// A metric's value in a report.
type Extract = Box<dyn Fn(&Report) -> Option<f64>>;

/// The simulations (one, or one per live run) against the live runs (one or more, of the same
/// arrivals), per metric.
pub fn compare(sims: &[Report], lives: &[Report]) -> Vec<MetricError> {
    let simulated = &sims[0];
    let lat = |f: fn(&infscaler_sim::metrics::LatencyMs) -> f64| -> Extract {
        Box::new(move |r: &Report| r.summary.latency_ms.as_ref().map(f))
    };
    let mut metrics: Vec<(String, Extract, Option<f64>)> = vec![
        (
            "throughput_rps".into(),
            Box::new(|r: &Report| Some(r.summary.throughput_rps)),
            Some(THROUGHPUT_TARGET),
        ),
        ("latency_p50_ms".into(), lat(|x| x.p50), Some(P50_TARGET)),
        ("latency_p90_ms".into(), lat(|x| x.p90), None),
        ("latency_p99_ms".into(), lat(|x| x.p99), Some(P99_TARGET)),
        ("latency_mean_ms".into(), lat(|x| x.mean), None),
        (
            "slo_attainment".into(),
            Box::new(|r: &Report| r.summary.slo_attainment),
            None,
        ),
    ];
    for k in 0..simulated.summary.stages.len() {
        let stage = move |f: fn(&infscaler_sim::metrics::StageSummary) -> Option<f64>| -> Extract {
            Box::new(move |r: &Report| r.summary.stages.get(k).and_then(f))
        };
        metrics.push((format!("stage{k}_exec_ms"), stage(|s| s.mean_exec_ms), None));
        metrics.push((
            format!("stage{k}_queue_ms"),
            stage(|s| s.mean_queue_ms),
            None,
        ));
        metrics.push((
            format!("stage{k}_batch_size"),
            stage(|s| s.mean_batch_size),
            None,
        ));
    }
    metrics
        .into_iter()
        .map(|(name, value, target)| {
            let live: Vec<Option<f64>> = lives.iter().map(&value).collect();
            let sim: Vec<Option<f64>> = sims.iter().map(&value).collect();
            MetricError::new(name, &sim, &live, target)
        })
        .collect()
}

/// The comparison as an aligned table.
pub fn comparison_table(rows: &[MetricError]) -> String {
    let num = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.3}"));
    let repeated = rows.iter().any(|r| r.live_min != r.live_max);
    let sims = rows.iter().any(|r| r.simulated_min != r.simulated_max);
    let paired = rows.iter().any(|r| r.paired_error.is_some());
    let percent = |e: Option<f64>| e.map_or("—".to_string(), |e| format!("{:+.1}%", e * 100.0));
    let mut out = format!(
        "{:<20} {:>12} {:>12} {:>9} {:>10}{}{}{}\n",
        "metric",
        "simulated",
        "live",
        "error",
        "target",
        if paired { "     paired" } else { "" },
        if repeated { "   live min … max" } else { "" },
        if sims { "   simulated min … max" } else { "" }
    );
    for r in rows {
        let error = percent(r.relative_error);
        let target = match (r.target, r.within_target()) {
            (Some(t), Some(true)) => format!("≤{:.0}% ok", t * 100.0),
            (Some(t), Some(false)) => format!("≤{:.0}% MISS", t * 100.0),
            (Some(t), None) => format!("≤{:.0}%", t * 100.0),
            (None, _) => String::new(),
        };
        let mut range = if paired {
            format!(" {:>10}", percent(r.paired_error))
        } else {
            String::new()
        };
        if repeated {
            range += &format!("   {} … {}", num(r.live_min), num(r.live_max));
        }
        if sims {
            range += &format!("   {} … {}", num(r.simulated_min), num(r.simulated_max));
        }
        out += &format!(
            "{:<20} {:>12} {:>12} {:>9} {:>10}{range}\n",
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
    /// The first live run.
    live: &'a Report,
    /// Its executor's counters.
    live_stats: &'a LiveStats,
    /// Every live run (with `--repeat`), the first included.
    live_runs: &'a [Report],
    /// The simulation with the live runs' own execution times against the live runs (absent
    /// when they could not be profiled: several providers, or unequal `cpu_cores`).
    metrics_live_times: Option<&'a [MetricError]>,
}

/// A measured profile of the live runs' own execution times: per partition and batch size, the
/// distribution of ONNX Runtime's run times pooled over the runs. Simulating with it leaves out
/// how execution times differ between `hil profile` and a live run, so what error remains is
/// the serving model's (queueing, batching, hand-offs). With one-thread sessions on the CPU a
/// run's time is its thread's CPU time, not its wall time: the wall time of a run that waited
/// for a core (more sessions than cores) already holds the sharing the simulation adds again.
/// Returned with whether its times are on-core times. `None` when several providers ran (one
/// profile describes one provider) or instances held different numbers of CPU cores (one
/// profile states one thread count).
fn live_times_profile(
    resolved: &ResolvedScenario,
    simulated: &Report,
    stats: &[LiveStats],
    ep: &str,
) -> Option<(MeasuredProfile, bool)> {
    if ep.contains('=') {
        return None;
    }
    let threads = static_cpu_threads(resolved)?;
    let on_core = on_core_times(threads, ep, stats);
    let mut models: Vec<MeasuredModel> = Vec::new();
    for (k, part) in simulated.partitions.iter().enumerate() {
        let mut by_batch: std::collections::BTreeMap<u32, Vec<u64>> = Default::default();
        // A run whose partition `k` never ran has no entry for it.
        for runs in stats.iter().filter_map(|s| s.partitions.get(k)) {
            for (&batch, times) in &runs.runs_by_batch {
                let time = |t: &RunTimes| if on_core { t.cpu_ns } else { t.wall_ns };
                by_batch
                    .entry(batch)
                    .or_default()
                    .extend(times.iter().map(time));
            }
        }
        let measured = MeasuredPartition {
            start: part.first_op - 1,
            end: part.last_op,
            batch: by_batch
                .iter()
                .filter_map(|(&b, times)| LatencyStats::from_samples(b, times))
                .collect(),
            // A live run's times mix runs after idle time and back-to-back ones, alone and
            // beside others.
            after_idle: Vec::new(),
            corun: Vec::new(),
        };
        if measured.batch.is_empty() {
            continue; // no batch of this partition ran
        }
        match models.iter_mut().find(|m| m.name == part.model) {
            Some(m) => m.partitions.push(measured),
            None => models.push(MeasuredModel {
                name: part.model.clone(),
                seq_len: resolved.scenario.app.seq_len,
                operators: resolved.models[part.stage]
                    .operators
                    .iter()
                    .map(MeasuredOperator::identity)
                    .collect(),
                partitions: vec![measured],
            }),
        }
    }
    let (cpu_model, cpu_cores) = infscaler_hil::profile::cpu_info();
    let profile = MeasuredProfile {
        format: FORMAT_VERSION,
        machine: MachineInfo {
            cpu_model,
            cpu_cores,
            ort_version: Runtime::get()
                .map(|rt| rt.version().to_string())
                .unwrap_or_default(),
            ep: ep.trim().to_string(),
            threads,
            date: infscaler_hil::profile::now_utc_rfc3339(),
            command: super::profile::command_line(),
            warmup: 0,
            iters: stats.iter().map(|s| s.batches as u32).sum(),
            gap_ns: 0,
            after_idle_ns: 0,
            // With a core free, the workers' wake-ups and the loop's to take results alike.
            wake_ns: live_free_wakeups(stats).map_or(0, |w| {
                infscaler_hil::wakeup_time::mean(&w).as_nanos() as u64
            }),
            wake_busy_ns: live_times_of(stats, |s| &s.wakeups[1]),
            loop_wake_busy_ns: live_times_of(stats, |s| &s.results[1]),
            timer_late_ns: live_times_of(stats, |s| &s.timer_lates),
            corun_cores: 0,
            loop_sends: live_loop_sends(
                stats,
                cpu_cores,
                simulated.summary.warmup_s + simulated.summary.duration_s,
            ),
        },
        models,
    };
    Some((profile, on_core))
}

/// The live runs' thread wake-ups with a core free: the workers' (of batches sent while a core
/// was free) and the loop's to take results (of runs that ended while one was), pooled and
/// sorted (`None`: none).
fn live_free_wakeups(stats: &[LiveStats]) -> Option<Vec<std::time::Duration>> {
    let all = pooled(stats.iter().flat_map(|s| [&s.wakeups[0], &s.results[0]]));
    (!all.is_empty()).then_some(all)
}

/// The profile's quantiles of one class of the live runs' times, `class` of each run's stats
/// (empty: none).
fn live_times_of(stats: &[LiveStats], class: impl Fn(&LiveStats) -> &Vec<u64>) -> Vec<u64> {
    infscaler_hil::wakeup_time::profile_quantiles_ns(&pooled(stats.iter().map(class)))
}

/// Lists of times in nanoseconds (of one class, from each live run), pooled and sorted.
fn pooled<'a>(lists: impl IntoIterator<Item = &'a Vec<u64>>) -> Vec<std::time::Duration> {
    let mut all: Vec<std::time::Duration> = lists
        .into_iter()
        .flatten()
        .map(|&ns| std::time::Duration::from_nanos(ns))
        .collect();
    all.sort_unstable();
    all
}

/// The live runs' sends as one level, at the utilisation their batches' CPU time made of
/// `cores` over runs of `run_s` each (empty: no send).
fn live_loop_sends(stats: &[LiveStats], cores: u32, run_s: f64) -> Vec<LoopSends> {
    let (free_ns, busy_ns) = (
        live_times_of(stats, |s| &s.sends[0]),
        live_times_of(stats, |s| &s.sends[1]),
    );
    let cpu_s = stats.iter().map(|s| s.cpu_ns).sum::<u64>() as f64 / 1e9;
    let cores_s = stats.len() as f64 * f64::from(cores.max(1)) * run_s;
    if (free_ns.is_empty() && busy_ns.is_empty()) || cores_s <= 0.0 {
        return Vec::new();
    }
    vec![LoopSends {
        utilisation: (cpu_s / cores_s).clamp(0.0, 1.0),
        free_ns,
        busy_ns,
    }]
}

/// Whether the live runs' times are taken as their threads' CPU time: one-thread sessions on
/// the CPU provider (the thread is the whole run) whose every run's CPU time was measured.
fn on_core_times(threads: u32, ep: &str, stats: &[LiveStats]) -> bool {
    threads == 1
        && ep.trim() == "cpu"
        && stats
            .iter()
            .flat_map(|s| &s.partitions)
            .flat_map(|p| p.runs_by_batch.values().flatten())
            .all(|t| t.cpu_ns > 0)
}

/// The CPU cores (ONNX Runtime threads) every instance of a static deployment holds, when they
/// all hold the same; `None` otherwise (another policy sizes instances as it goes).
fn static_cpu_threads(resolved: &ResolvedScenario) -> Option<u32> {
    let infscaler_sim::policy::PolicySpec::Static(spec) = &resolved.scenario.policy else {
        return None;
    };
    let mut cores = spec
        .stages
        .iter()
        .flat_map(|s| &s.partitions)
        .map(|p| p.cpu_cores);
    let first = cores.next().unwrap_or(1);
    cores.all(|c| c == first).then_some(first)
}

/// `resolved` with each of its measured profiles measured again now (by the command recorded
/// in it), for live run `run`, into `results/hil/profiles/`.
fn reprofiled(resolved: &ResolvedScenario, run: u32) -> Result<ResolvedScenario> {
    let Some(paths) = &resolved.scenario.device.measured_profile else {
        bail!(
            "--reprofile: {} has no [device] measured_profile to measure again",
            resolved.name
        );
    };
    let stem = safe_name(&resolved.name);
    let mut fresh = Vec::new();
    for p in paths.paths() {
        let path = resolved.scenario.base_dir.join(p);
        let profile = MeasuredProfile::load(&path)?;
        let file = path.file_name().map_or_else(
            || "profile.toml".into(),
            |f| f.to_string_lossy().into_owned(),
        );
        let out = PathBuf::from("results/hil/profiles").join(format!("{stem}-run{run}-{file}"));
        eprintln!("measuring {} again for live run {run}", path.display());
        super::profile::remeasure(&profile.machine.command, &out)
            .with_context(|| format!("--reprofile: measuring {} again", path.display()))?;
        fresh.push(out);
    }
    with_profiles(resolved.clone(), &fresh)
}

/// `name` with every character but ASCII letters, digits, `-` and `_` replaced by `_`.
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Where `hil validate` writes the profile of a live run's execution times.
fn live_times_path(scenario_name: &str) -> PathBuf {
    let safe = safe_name(scenario_name);
    PathBuf::from("results/hil").join(format!("{safe}-live-times.toml"))
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
    let mut sims = Vec::new();
    if !args.reprofile {
        sims.push(
            Simulation::new(&resolved, args.seed)
                .with_context(|| format!("setting up {origin}"))?
                .run(),
        );
    }
    let mut lives = Vec::new();
    let mut stats = Vec::new();
    for k in 1..=args.repeat {
        if args.repeat > 1 {
            eprintln!("live run {k} of {}", args.repeat);
        }
        let run_scenario = if args.reprofile {
            let fresh = reprofiled(&resolved, k)?;
            sims.push(
                Simulation::new(&fresh, args.seed)
                    .with_context(|| format!("setting up {origin} with the profiles of run {k}"))?
                    .run(),
            );
            fresh
        } else {
            resolved.clone()
        };
        let (report, s) = live_run(&run_scenario, &origin, args.seed, &args.exec)?;
        if report.interrupted {
            bail!("interrupted (Ctrl-C) during live run {k}: nothing to compare");
        }
        lives.push(report);
        stats.push(s);
    }
    let simulated = &sims[0];
    let rows = compare(&sims, &lives);
    let (live, first_stats) = (&lives[0], &stats[0]);
    let live_times = match live_times_profile(&resolved, simulated, &stats, &args.exec.ep) {
        Some((profile, on_core)) => {
            let path = args
                .live_times
                .clone()
                .unwrap_or_else(|| live_times_path(&resolved.name));
            let text = format!(
                "# The execution times of the live runs of {origin} (`infscaler hil validate`), \n\
                 # per partition and batch size, as a measured profile (format {FORMAT_VERSION}).\n\
                 # {}\n\n{}",
                if on_core {
                    "Each time is the run's thread CPU time (one-thread sessions): the time on a core."
                } else {
                    "Each time is the run's wall time."
                },
                profile.to_toml_string()
            );
            atomic::write_bytes(&path, text.as_bytes())?;
            let calibrated = with_profiles(resolved.clone(), std::slice::from_ref(&path))?;
            let report = Simulation::new(&calibrated, args.seed)
                .with_context(|| format!("setting up {origin} with {}", path.display()))?
                .run();
            Some((path, compare(std::slice::from_ref(&report), &lives)))
        }
        None => {
            eprintln!(
                "note: the live runs' own execution times are profiled only for one provider \
                 and instances of equal cpu_cores in a static deployment"
            );
            None
        }
    };
    if args.json {
        let v = Validation {
            scenario: &resolved.name,
            seed: simulated.seed,
            metrics: &rows,
            simulated,
            live,
            live_stats: first_stats,
            live_runs: &lives,
            metrics_live_times: live_times.as_ref().map(|(_, rows)| rows.as_slice()),
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{} (seed {}): {} vs {}, same arrivals\n",
            resolved.name,
            simulated.seed,
            if args.reprofile {
                "simulations with the profiles measured just before each live run (median)"
            } else {
                "simulation with the measured profile"
            },
            if args.repeat > 1 {
                format!("the median of {} live runs", args.repeat)
            } else {
                "a live run".to_string()
            }
        );
        print!("{}", comparison_table(&rows));
        if rows.iter().any(|r| r.paired_error.is_some()) {
            println!(
                "(paired: the median of each simulation's error against its own live run, \
                 which leaves out the machine's drift between runs)"
            );
        }
        if let Some((path, rows)) = &live_times {
            println!(
                "\nthe same simulation with the live runs' own execution times ({}): what error \
                 remains is the serving model's, the rest above is the profile's\n",
                path.display()
            );
            print!("{}", comparison_table(rows));
        }
        println!(
            "\narrivals: simulated {}, live {}; completed: simulated {}, live {}",
            simulated.summary.arrivals,
            live.summary.arrivals,
            simulated.summary.completed,
            live.summary.completed
        );
        for (k, s) in stats.iter().enumerate() {
            if args.repeat > 1 {
                eprintln!("live run {}:", k + 1);
            }
            eprint!("{}", stats_text(s));
        }
    }
    let missed = rows.iter().any(|r| r.within_target() == Some(false));
    Ok(if args.check && missed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::MetricError;

    #[test]
    fn the_live_value_is_the_median_of_the_runs_with_their_range() {
        // Runs 12, 10, 20 (and one without a value): median 12, range 10 … 20; simulated 9 is
        // 25 % below the median.
        let m = MetricError::new(
            "p50".into(),
            &[Some(9.0)],
            &[Some(12.0), None, Some(10.0), Some(20.0)],
            Some(0.1),
        );
        assert_eq!(
            (m.live, m.live_min, m.live_max),
            (Some(12.0), Some(10.0), Some(20.0))
        );
        assert_eq!(m.relative_error, Some(-0.25));
        assert_eq!(m.within_target(), Some(false));
        // An even count takes the mean of the middle two.
        let even = MetricError::new("x".into(), &[Some(1.0)], &[Some(4.0), Some(2.0)], None);
        assert_eq!(even.live, Some(3.0));
        assert_eq!(even.within_target(), None);
        // No live value: nothing to compare.
        let none = MetricError::new("y".into(), &[Some(1.0)], &[None], Some(0.1));
        // One simulation per live run (`--reprofile`): the simulated value is their median too.
        let per_run = MetricError::new(
            "p50".into(),
            &[Some(30.0), Some(9.0), Some(11.0)],
            &[Some(10.0)],
            Some(0.15),
        );
        assert_eq!(
            (
                per_run.simulated,
                per_run.simulated_min,
                per_run.simulated_max
            ),
            (Some(11.0), Some(9.0), Some(30.0))
        );
        assert_eq!(per_run.within_target(), Some(true));
        assert_eq!((none.live, none.relative_error), (None, None));
        assert_eq!(
            per_run.paired_error, None,
            "one live run for three simulations"
        );
        // Each simulation against its own live run: +10 %, −50 % (the second profile was
        // measured while the machine was faster than during its run) and +10 %, median +10 %;
        // the medians (11 against 20) are 45 % apart.
        let paired = MetricError::new(
            "p50".into(),
            &[Some(11.0), Some(10.0), Some(33.0)],
            &[Some(10.0), Some(20.0), Some(30.0)],
            Some(0.15),
        );
        assert!((paired.relative_error.unwrap() + 0.45).abs() < 1e-12);
        assert!((paired.paired_error.unwrap() - 0.1).abs() < 1e-12);
    }
}
