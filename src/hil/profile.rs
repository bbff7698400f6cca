//! `infscaler hil profile`: times an app's partitions and operators with ONNX Runtime and
//! writes a measured profile that scenarios can use in place of the roofline
//! (`[device] measured_profile`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;

use infscaler_hil::profile::{self, ProfileOptions, Progress};
use infscaler_hil::runtime::{ExecutionProvider, Runtime, SessionConfig, TensorRtOptions};
use infscaler_hil::{loop_send_time, wakeup_time};
use infscaler_sim::model::cost;
use infscaler_sim::model::measured::{
    self, FORMAT_VERSION, LoopSends, MachineInfo, MeasuredModel, MeasuredPartition, MeasuredProfile,
};
use infscaler_sim::model::runtime::RuntimeProfile;
use infscaler_sim::model::source::ModelSource;
use infscaler_sim::model::zoo::{self, ZooOptions};
use infscaler_sim::units::TimeSpan;
use infscaler_sim::workload::app::AppSpec;

use infscaler_results::atomic;

/// `infscaler hil profile`.
#[derive(Args, Debug)]
pub struct ProfileArgs {
    /// A built-in app (tm, lt, pt, lpr, vu), a zoo model, or the path of a model file (.toml)
    /// or ONNX model (.onnx).
    #[arg(long)]
    app: String,
    /// Execution provider: cpu, cuda, tensorrt, tensorrt-dla0 or tensorrt-dla1.
    #[arg(long, default_value = "cpu")]
    ep: String,
    /// Batch sizes, increasing, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    batch: Vec<u32>,
    /// Output file (default: hwprofiles/measured/<app>-<ep>-<host>.toml).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Device profile whose roofline the summary compares with (built-in name or TOML path).
    #[arg(long, default_value = "xavier-agx")]
    device: String,
    /// Cuts of one stage, comma-separated (`5,13`), as a scenario's `policy.stages[].cuts`;
    /// repeat once per stage, `-` for none. Default: no cuts (each stage whole).
    #[arg(long, allow_hyphen_values = true)]
    cuts: Vec<String>,
    /// Untimed runs before timing, per partition and batch size.
    #[arg(long, default_value_t = 3)]
    warmup: u32,
    /// Timed runs per partition and batch size.
    #[arg(long, default_value_t = 20)]
    iters: u32,
    /// Idle time before each timed run (`10ms`; default none: back to back). A live run at
    /// moderate load starts most batches after idle time, with caches partly cold; a gap
    /// measures that case.
    #[arg(long, default_value = "0s")]
    gap: TimeSpan,
    /// Also time each partition with this idle time before every run (`20ms`; default: not),
    /// stored as its `after_idle` times: the simulation then makes a batch that starts on an
    /// idle instance slower, by as much as these runs were (reached linearly over this idle
    /// time).
    #[arg(long, default_value = "0s")]
    after_idle: TimeSpan,
    /// Also time each partition back to back while N other sessions of it run back to back
    /// beside it (default 0: not), stored as its `corun` times: the simulation then makes a CPU
    /// batch that starts while other batches hold cores slower, by as much as these runs were
    /// (reached linearly as the busy cores approach N × threads). Sessions on the other cores
    /// share the caches and the memory bandwidth.
    #[arg(long, default_value_t = 0)]
    corun: u32,
    /// ONNX Runtime intra-op threads on the CPU (default: every logical CPU).
    #[arg(long)]
    threads: Option<u32>,
    /// Do not time operators one by one (partitions only; much faster on deep models).
    #[arg(long)]
    no_operators: bool,
    /// Sequence length of transformer models.
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl ProfileArgs {
    /// How zoo models are built: with `--seq-len`.
    fn zoo_options(&self) -> ZooOptions {
        ZooOptions {
            seq_len: self.seq_len,
            ..Default::default()
        }
    }
}

/// The execution provider named `ep` on the command line.
pub(super) fn provider(ep: &str) -> Result<ExecutionProvider> {
    Ok(match ep {
        "cpu" => ExecutionProvider::Cpu,
        "cuda" => ExecutionProvider::Cuda { device_id: 0 },
        "tensorrt" => ExecutionProvider::TensorRt(TensorRtOptions::default()),
        "tensorrt-dla0" | "tensorrt-dla1" => ExecutionProvider::TensorRt(TensorRtOptions {
            trt_dla_enable: true,
            trt_dla_core: if ep.ends_with('1') { 1 } else { 0 },
            ..TensorRtOptions::default()
        }),
        other => bail!(
            "--ep {other}: unknown execution provider; use cpu, cuda, tensorrt, tensorrt-dla0 or \
             tensorrt-dla1"
        ),
    })
}

/// Per stage: where its model comes from and its cuts.
fn stages(args: &ProfileArgs) -> Result<Vec<(ModelSource, Vec<usize>)>> {
    let spec = AppSpec {
        name: Some(args.app.clone()),
        ..Default::default()
    };
    let (_, models) = spec.resolve().map_err(|m| anyhow::anyhow!("--app: {m}"))?;
    if !args.cuts.is_empty() && args.cuts.len() != models.len() {
        bail!(
            "--cuts given {} times for {} stage{} ({}): give it once per stage, `-` for none",
            args.cuts.len(),
            models.len(),
            if models.len() == 1 { "" } else { "s" },
            models.join(", ")
        );
    }
    let mut out = Vec::new();
    for (i, model) in models.iter().enumerate() {
        let cuts = match args.cuts.get(i).map(|s| s.trim()) {
            None | Some("-") | Some("") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|c| {
                    c.trim()
                        .parse::<usize>()
                        .with_context(|| format!("--cuts {list}: `{c}` is not an operator index"))
                })
                .collect::<Result<Vec<_>>>()?,
        };
        // Check the cuts against the model before anything is built.
        let source = ModelSource::of_stage(model, std::path::Path::new(""));
        let n = source
            .network(&args.zoo_options())
            .map_err(|m| anyhow::anyhow!("--app: {m}"))?
            .nodes()
            .len();
        infscaler_sim::model::partition::split(n, &cuts)
            .map_err(|m| anyhow::anyhow!("--cuts for stage {i} ({model}): {m}"))?;
        out.push((source, cuts));
    }
    Ok(out)
}

fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "host".into()
    } else {
        clean
    }
}

/// The command line as typed (arguments with spaces quoted).
pub(super) fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, a)| {
            let a = if i == 0 { "infscaler".to_string() } else { a };
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn profile(args: ProfileArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let device = crate::catalog::load_device(&args.device)?;
    let accel = measured::accelerator_for(&args.ep, &device);
    let (file, out) = measure(&args, command_line())?;
    print_summary(&file, &device, accel, file.machine.threads, args.seq_len);
    eprintln!(
        "wrote {} in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `hil profile` as a program: `infscaler hil profile`'s options, parsed from a recorded
/// command line.
#[derive(clap::Parser, Debug)]
#[command(name = "infscaler hil profile", no_binary_name = true)]
struct RecordedProfile {
    #[command(flatten)]
    args: ProfileArgs,
}

/// Measures again, into `out`, the profile that the recorded command `recorded` (a measured
/// profile's `machine.command`, `infscaler hil profile …`) made: same app, provider, batches,
/// cuts, threads, runs and gap, on this machine now. Progress goes to stderr.
pub(super) fn remeasure(recorded: &str, out: &std::path::Path) -> Result<()> {
    let (mut args, kept) = recorded_args(recorded)?;
    args.out = Some(out.to_path_buf());
    let command = format!("infscaler hil profile {kept} --out {}", out.display());
    measure(&args, command)?;
    Ok(())
}

/// The options of a recorded `infscaler hil profile …` command line, and its words without
/// `infscaler hil profile` and the `--out` option.
fn recorded_args(recorded: &str) -> Result<(ProfileArgs, String)> {
    let words: Vec<&str> = recorded.split_whitespace().collect();
    let ["infscaler", "hil", "profile", rest @ ..] = words.as_slice() else {
        bail!("the recorded command `{recorded}` is not an `infscaler hil profile` command line");
    };
    let mut kept: Vec<&str> = Vec::new();
    let mut it = rest.iter();
    while let Some(&w) = it.next() {
        if w == "--out" {
            it.next(); // its value
        } else if !w.starts_with("--out=") {
            kept.push(w);
        }
    }
    let args = <RecordedProfile as clap::Parser>::try_parse_from(kept.iter().copied())
        .with_context(|| format!("reading the recorded command `{recorded}`"))?
        .args;
    Ok((args, kept.join(" ")))
}

/// Exchanges whose two wake-ups are timed for a profile's wake-up times (`machine.wake_ns`,
/// `wake_busy_ns`), with the cores free and again with every core busy.
const WAKEUP_EXCHANGES: u32 = 400;
/// Sleep before each: `[assumed]` a few milliseconds between an instance's batches, as at the
/// HIL scenarios' moderate loads.
const WAKEUP_GAP: std::time::Duration = std::time::Duration::from_millis(2);

/// Timed waits whose lateness is measured (`machine.timer_late_ns`).
const TIMER_WAITS: u32 = 400;
/// Their lengths, spread evenly over this range: `[assumed]` as the live loop's waits, from a
/// transfer's tens of microseconds to the milliseconds between arrivals at moderate load.
const TIMER_WAIT_RANGE: (std::time::Duration, std::time::Duration) = (
    std::time::Duration::from_micros(20),
    std::time::Duration::from_millis(4),
);

/// Loads at which the loop's sends are measured: `[assumed]` enough levels to interpolate
/// between a nearly idle machine and a busy one.
const SEND_LOADS: [f64; 4] = [0.2, 0.4, 0.6, 0.8];
/// How long each: `[assumed]` some hundreds to thousands of sends.
const SEND_DURATION: std::time::Duration = std::time::Duration::from_secs(4);

/// The loop's sends in a pipeline of the measured partitions ([`loop_send_time`]) at each of
/// [`SEND_LOADS`], the levels by ascending utilisation reached (a level that reaches no more
/// than the one before, the slowest stage bounding the load, is left out).
fn measure_loop_sends(models: &[MeasuredModel], cores: u32, started: Instant) -> Vec<LoopSends> {
    let stages = pipeline_stages(models);
    let mut levels: Vec<LoopSends> = Vec::new();
    for (k, &load) in SEND_LOADS.iter().enumerate() {
        let Some(sends) = loop_send_time::measure(&stages, cores, load, SEND_DURATION, k as u64)
        else {
            continue;
        };
        eprintln!(
            "[{:>6.1}s] the loop's sends in a pipeline of {} partition{} at {:.0} % of the cores \
             computing: with a core free {}; with none free {}",
            started.elapsed().as_secs_f64(),
            stages.len(),
            if stages.len() == 1 { "" } else { "s" },
            sends.utilisation * 100.0,
            wakeup_time::describe(&sends.free),
            wakeup_time::describe(&sends.busy)
        );
        let higher = levels
            .last()
            .is_none_or(|l| sends.utilisation > l.utilisation);
        if higher && !(sends.free.is_empty() && sends.busy.is_empty()) {
            levels.push(LoopSends {
                utilisation: sends.utilisation,
                free_ns: wakeup_time::profile_quantiles_ns(&sends.free),
                busy_ns: wakeup_time::profile_quantiles_ns(&sends.busy),
            });
        }
    }
    levels
}

/// The pipeline the measured partitions make, as their smallest batch's mean times: each
/// model's partitions that are not the whole model (all of them if none), in operator order,
/// the models one after another.
fn pipeline_stages(models: &[MeasuredModel]) -> Vec<std::time::Duration> {
    let mut stages = Vec::new();
    for m in models {
        let whole = m.partitions.iter().map(|p| p.end).max().unwrap_or(0);
        let mut parts: Vec<&MeasuredPartition> = m
            .partitions
            .iter()
            .filter(|p| p.start > 0 || p.end < whole)
            .collect();
        if parts.is_empty() {
            parts = m.partitions.iter().collect();
        }
        parts.sort_by_key(|p| p.start);
        stages.extend(
            parts
                .iter()
                .filter_map(|p| p.batch.first())
                .map(|s| std::time::Duration::from_nanos(s.mean_ns)),
        );
    }
    stages
}

/// How long the worker of the wake-up measurement computes between its wake-ups: the median over
/// the measured partitions of their smallest batch's mean time (4 ms if none).
fn median_run_time(models: &[MeasuredModel]) -> std::time::Duration {
    let mut times: Vec<u64> = models
        .iter()
        .flat_map(|m| &m.partitions)
        .filter_map(|p| p.batch.first().map(|s| s.mean_ns))
        .collect();
    times.sort_unstable();
    std::time::Duration::from_nanos(times.get(times.len() / 2).copied().unwrap_or(4_000_000))
}

/// Measures the profile `args` ask for and writes it (atomically) to its output file; returns
/// it with that file's path. `command` is recorded in it as the command that made it.
fn measure(args: &ProfileArgs, command: String) -> Result<(MeasuredProfile, PathBuf)> {
    let started = Instant::now();
    let provider = provider(&args.ep)?;
    let stages = stages(args)?;
    let (cpu_model, cpu_cores) = profile::cpu_info();
    let threads = args.threads.unwrap_or(cpu_cores);
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    // A file's stem names its profile (`--app models/net.onnx` → `net-cpu-host.toml`).
    let app_label = if infscaler_sim::model::file::names_a_file(&args.app) {
        std::path::Path::new(&args.app)
            .file_stem()
            .map_or("model".into(), |s| s.to_string_lossy().into_owned())
    } else {
        args.app.clone()
    };
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "hwprofiles/measured/{}-{}-{}.toml",
            app_label,
            args.ep,
            hostname()
        ))
    });

    let rt = Runtime::get()?;
    let opts = ProfileOptions {
        session: SessionConfig {
            provider,
            intra_threads: Some(threads as usize),
        },
        batches: args.batch.clone(),
        warmup: args.warmup,
        iters: args.iters,
        gap: std::time::Duration::from_nanos(args.gap.0.as_ns()),
        after_idle: std::time::Duration::from_nanos(args.after_idle.0.as_ns()),
        corun: args.corun,
        operators: !args.no_operators,
        seed: args.seed,
        zoo: args.zoo_options(),
    };
    eprintln!(
        "profiling {} on {} ({} thread{}, ONNX Runtime {}), batches {:?}, {} warm-up + {} timed \
         runs each{}",
        args.app,
        args.ep,
        threads,
        if threads == 1 { "" } else { "s" },
        rt.version(),
        args.batch,
        args.warmup,
        args.iters,
        if args.gap.0.as_ns() == 0 {
            String::new()
        } else {
            format!(", {} idle before each", args.gap)
        }
    );
    let mut models: Vec<MeasuredModel> = Vec::new();
    for (source, cuts) in &stages {
        // Files are read once (cached); a zoo model is built again, which is cheap.
        let name = source
            .network(&opts.zoo)
            .map_err(anyhow::Error::msg)?
            .name()
            .to_string();
        if models.iter().any(|m| m.name == name) {
            continue; // A model in two stages is measured once.
        }
        let mut report = |p: Progress<'_>| match p {
            Progress::Model {
                name,
                operators,
                partitions,
            } => eprintln!(
                "[{:>6.1}s] {name}: {operators} operators, {partitions} partition{}{}",
                started.elapsed().as_secs_f64(),
                if partitions == 1 { "" } else { "s" },
                if opts.operators {
                    ", then each operator"
                } else {
                    ""
                }
            ),
            Progress::Timed { what, stats } => eprintln!(
                "[{:>6.1}s]   {what} batch {}: mean {:.3} ms, p99 {:.3} ms",
                started.elapsed().as_secs_f64(),
                stats.batch,
                stats.mean_ns as f64 / 1e6,
                stats.p99_ns as f64 / 1e6
            ),
        };
        let m = profile::profile_model(rt, source, cuts, &opts, &mut report)
            .with_context(|| format!("profiling {name}"))?;
        models.push(m);
    }

    // Thread wake-ups with the cores free, and with a thread computing on every core; the
    // worker computes as long as a partition's run between its wake-ups.
    let work = median_run_time(&models);
    let wakeups = |spinners| {
        infscaler_hil::wakeup_time::measure(WAKEUP_EXCHANGES, WAKEUP_GAP, work, spinners)
            .unwrap_or_default()
    };
    let (free, busy) = (wakeups(0), wakeups(cpu_cores as usize));
    let all_free: Vec<_> = free
        .worker
        .iter()
        .chain(&free.serving_loop)
        .copied()
        .collect();
    let free_mean = wakeup_time::mean(&all_free);
    let us = |d: std::time::Duration| d.as_nanos() as f64 / 1e3;
    eprintln!(
        "[{:>6.1}s] thread wake-up: mean {:.1} µs with a core free; with every core busy, \
         a worker's (computing {:.2} ms between) {}, the loop's {}",
        started.elapsed().as_secs_f64(),
        us(free_mean),
        work.as_secs_f64() * 1e3,
        wakeup_time::describe(&busy.worker),
        wakeup_time::describe(&busy.serving_loop),
    );
    let (lo, hi) = TIMER_WAIT_RANGE;
    let gaps: Vec<_> = (0..TIMER_WAITS)
        .map(|k| lo + (hi - lo).mul_f64(f64::from(k) / f64::from(TIMER_WAITS - 1)))
        .collect();
    let timer_late = wakeup_time::timer_lateness(&gaps).unwrap_or_default();
    eprintln!(
        "[{:>6.1}s] timed waits (as the loop's until its next event): woke late by {}",
        started.elapsed().as_secs_f64(),
        wakeup_time::describe(&timer_late),
    );
    let loop_sends = if args.ep.trim() == "cpu" && threads == 1 {
        measure_loop_sends(&models, cpu_cores, started)
    } else {
        eprintln!(
            "[{:>6.1}s] the loop's sends are measured with one-thread CPU sessions only (their \
             pipeline's workers compute on one core each): none measured",
            started.elapsed().as_secs_f64()
        );
        Vec::new()
    };
    let file = MeasuredProfile {
        format: FORMAT_VERSION,
        machine: MachineInfo {
            cpu_model,
            cpu_cores,
            ort_version: rt.version().to_string(),
            ep: args.ep.clone(),
            threads,
            date: profile::now_utc_rfc3339(),
            command,
            warmup: args.warmup,
            iters: args.iters,
            gap_ns: args.gap.0.as_ns(),
            after_idle_ns: args.after_idle.0.as_ns(),
            wake_ns: free_mean.as_nanos() as u64,
            wake_busy_ns: wakeup_time::profile_quantiles_ns(&busy.worker),
            loop_wake_busy_ns: wakeup_time::profile_quantiles_ns(&busy.serving_loop),
            timer_late_ns: wakeup_time::profile_quantiles_ns(&timer_late),
            corun_cores: args.corun * threads,
            loop_sends,
        },
        models,
    };
    let text = format!(
        "# Measured profile written by `infscaler hil profile` (format {FORMAT_VERSION}).\n\
         # Times in nanoseconds. Use it in a scenario as `[device] measured_profile = \"…\"`, the\n\
         # path relative to the scenario file; written as {}.\n\n{}",
        out.display(),
        file.to_toml_string()
    );
    // The file must read back as the simulator will read it.
    MeasuredProfile::from_toml_str(&text, &out.display().to_string())
        .context("the profile just measured does not read back (a bug)")?;
    atomic::write_bytes(&out, text.as_bytes())?;
    Ok((file, out))
}

/// The measured partitions against the roofline of the accelerator the provider maps to.
fn print_summary(
    file: &MeasuredProfile,
    device: &infscaler_sim::hardware::profile::DeviceProfile,
    accel: Option<usize>,
    threads: u32,
    seq_len: usize,
) {
    let accel_name = accel.map_or("-", |a| device.accelerators[a].name.as_str());
    println!(
        "{:<16} {:>9} {:>5} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "model",
        "partition",
        "batch",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "std ms",
        format!("{accel_name} roof ms")
    );
    for m in &file.models {
        let model = zoo::build(
            &m.name,
            &ZooOptions {
                seq_len,
                ..Default::default()
            },
        )
        .ok();
        for p in &m.partitions {
            for s in &p.batch {
                let roof = match (&model, accel) {
                    (Some(model), Some(a)) => format!(
                        "{:.3}",
                        cost::model_plan(
                            &model.operators[p.start..p.end],
                            s.batch,
                            a,
                            threads,
                            cost::Target::new(device, RuntimeProfile::tensorrt_ref())
                        )
                        .solo_ns() as f64
                            / 1e6
                    ),
                    _ => "-".into(),
                };
                println!(
                    "{:<16} {:>9} {:>5} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>12}",
                    m.name,
                    format!("{}..{}", p.start, p.end),
                    s.batch,
                    s.mean_ns as f64 / 1e6,
                    s.p50_ns as f64 / 1e6,
                    s.p99_ns as f64 / 1e6,
                    s.std_ns as f64 / 1e6,
                    roof
                );
            }
        }
    }
    println!(
        "(roof: the simulator's roofline of {} on `{accel_name}`; this machine is not that device)",
        device.name
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_parse() {
        assert_eq!(provider("cpu").unwrap(), ExecutionProvider::Cpu);
        let ExecutionProvider::TensorRt(o) = provider("tensorrt-dla1").unwrap() else {
            panic!("tensorrt");
        };
        assert!(o.trt_dla_enable && o.trt_dla_core == 1);
        assert!(
            provider("rocm")
                .unwrap_err()
                .to_string()
                .contains("unknown")
        );
    }

    #[test]
    fn cuts_are_checked_per_stage() {
        let mut args = ProfileArgs {
            app: "alexnet".into(),
            ep: "cpu".into(),
            batch: vec![1],
            out: None,
            device: "xavier-agx".into(),
            cuts: vec!["5,13".into()],
            warmup: 0,
            iters: 1,
            gap: TimeSpan(infscaler_sim::time::SimDuration::ZERO),
            after_idle: TimeSpan(infscaler_sim::time::SimDuration::ZERO),
            corun: 0,
            threads: None,
            no_operators: true,
            seq_len: 128,
            seed: 0,
        };
        assert_eq!(
            stages(&args).unwrap(),
            vec![(ModelSource::Zoo("alexnet".into()), vec![5, 13])]
        );
        args.cuts = vec!["13,5".into()];
        assert!(stages(&args).unwrap_err().to_string().contains("increase"));
        args.cuts = vec!["-".into(), "3".into()];
        assert!(
            stages(&args)
                .unwrap_err()
                .to_string()
                .contains("once per stage")
        );
        args.app = "tm".into();
        let s = stages(&args).unwrap();
        assert_eq!(s[0], (ModelSource::Zoo("ssd_mobilenet_v1".into()), vec![]));
        assert_eq!(s[1], (ModelSource::Zoo("resnet50".into()), vec![3]));
    }

    #[test]
    fn a_recorded_command_reads_back_without_its_output_file() {
        let (args, kept) = recorded_args(
            "infscaler hil profile --app alexnet --ep cpu --batch 1,2,4,8 --cuts 5,13 \
             --threads 1 --no-operators --out hwprofiles/measured/x.toml",
        )
        .unwrap();
        assert_eq!(args.app, "alexnet");
        assert_eq!(args.batch, vec![1, 2, 4, 8]);
        assert_eq!(args.cuts, vec!["5,13".to_string()]);
        assert_eq!(args.threads, Some(1));
        assert!(args.no_operators && args.out.is_none());
        assert_eq!(
            kept,
            "--app alexnet --ep cpu --batch 1,2,4,8 --cuts 5,13 --threads 1 --no-operators"
        );
        let other = recorded_args("infscaler run scenario.toml").unwrap_err();
        assert!(
            other.to_string().contains("not an `infscaler hil profile`"),
            "{other}"
        );
        let bad = recorded_args("infscaler hil profile --app alexnet --batch x").unwrap_err();
        assert!(format!("{bad:#}").contains("--batch"), "{bad:#}");
    }
}
