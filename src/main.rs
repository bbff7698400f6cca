//! `infscaler`: simulate ML inference serving on multi-accelerator edge devices.

mod bench;
mod calibrate;
mod capacity;
mod catalog;
mod figures;
mod gui;
mod hil;
mod interrupt;
mod merge;
mod progress;
mod reproduce;
mod sensitivity;
mod summarize;
mod sweep;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use infscaler_results::report_text;
use infscaler_results::summarize::Agg;
use infscaler_sim::experiment::capacity::CapacityOptions;
use infscaler_sim::{Scenario, Simulation};

/// Simulate ML inference serving on NVIDIA Jetson devices and compare serving policies.
#[derive(Parser, Debug)]
#[command(name = "infscaler", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Largest input file read (scenarios, traces, profiles, models), e.g. 8GiB; default 1GiB
    /// or the INFSCALER_MAX_INPUT_BYTES environment variable.
    #[arg(long, global = true, value_name = "SIZE")]
    max_input_size: Option<infscaler_sim::units::ByteSize>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario and print its report (default: scenarios/quickstart.toml).
    ///
    /// Progress shows on stderr after a second; Ctrl-C stops at the next event and prints the
    /// report of what was simulated, marked as interrupted (exit status 130).
    Run {
        /// Scenario TOML file.
        scenario: Option<PathBuf>,
        /// Seed (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Run even if the scenario expects more than a billion arrivals.
        #[arg(long)]
        force: bool,
    },
    /// Print the deployment the scenario's policy chooses, without running it.
    Plan {
        /// Scenario TOML file (default: the quickstart).
        scenario: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Search the pipeline design space of the scenario's first stage exhaustively: every split
    /// into `--stages` consecutive stages on distinct execution places, timed by the cost model
    /// (no runs); prints the best configuration and how many were evaluated.
    Explore {
        /// Scenario TOML file (its device, runtime and first stage's model; default: the
        /// quickstart).
        scenario: Option<PathBuf>,
        /// Stages of the pipeline.
        #[arg(long, default_value_t = 3)]
        stages: usize,
        /// CPU cores of a stage on the CPU.
        #[arg(long, default_value_t = 4)]
        cpu_cores: u32,
        /// Execution places on the CPU: groups of `--cpu-cores` cores (the thesis' "4 execution
        /// places of 8 cores": `--cpu-groups 4 --cpu-cores 8` on server-32core).
        #[arg(long, default_value_t = 1)]
        cpu_groups: u32,
        /// Moldable CPU stages: the `--cpu-groups` places share the CPU's cores, each stage on
        /// the CPU holding 1 or more and together at most all, and the search chooses the split
        /// too (`--cpu-cores` is then ignored).
        #[arg(long)]
        moldable: bool,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a scenario file without running it.
    Validate {
        /// Scenario TOML file.
        scenario: PathBuf,
        /// Accept a scenario that expects more than a billion arrivals.
        #[arg(long)]
        force: bool,
    },
    /// List the model zoo, or show one model's operators (a zoo name, a model file or an
    /// `.onnx` file); `models import FILE.onnx` writes a model file from an ONNX graph.
    #[command(args_conflicts_with_subcommands = true)]
    Models {
        #[command(subcommand)]
        action: Option<catalog::ModelsAction>,
        /// A zoo model name (e.g. alexnet), or the path of a model file (.toml) or ONNX model
        /// (.onnx).
        name: Option<String>,
        /// Device profile for per-accelerator times (built-in name or TOML path).
        #[arg(long, default_value = "xavier-agx")]
        device: String,
        /// Runtime that drives the GPU: tensorrt, onnxruntime, pytorch, or a runtime profile TOML.
        #[arg(long, default_value = "tensorrt")]
        runtime: String,
        /// Sequence length for transformer models.
        #[arg(long, default_value_t = 128)]
        seq_len: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fit the runtime and device model parameters to the calibration measurements
    /// (REFERENCE.md §8) and print every row: measured, predicted, error.
    Calibrate {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the built-in applications.
    Apps,
    /// List the built-in device profiles, or show one.
    Devices {
        /// A profile name or path.
        name: Option<String>,
    },
    /// Find the highest arrival rate at which each scenario keeps its SLO attainment ≥ a target.
    Capacity {
        /// Scenario TOML files (searched concurrently, reported in this order).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// SLO attainment a rate must reach, in (0, 1]; any drop also fails it.
        #[arg(long, default_value_t = 0.99)]
        attainment: f64,
        /// Stop when the bracket's width is within this fraction of its lower end.
        #[arg(long, default_value_t = 0.02)]
        tolerance: f64,
        /// Measured requests each probe has at least (its run is lengthened to reach them).
        #[arg(long, default_value_t = 2000)]
        min_requests: u64,
        /// Confidence level of the attainment intervals the search decides on.
        #[arg(long, default_value_t = 0.95)]
        confidence: f64,
        /// Scenarios searched at once (default: the available cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Print JSON (one object for one scenario, else a list).
        #[arg(long)]
        json: bool,
    },
    /// Rank the scenario's [assumed] and [fitted] profile parameters by their effect: each ×0.5
    /// and ×2, one at a time; writes the table (JSON, CSV) and a tornado chart (PNG).
    Sensitivity {
        /// Scenario TOML file.
        scenario: PathBuf,
        /// Metrics (columns of a run's row), comma-separated.
        #[arg(long, default_value = sensitivity::DEFAULT_METRICS)]
        metric: String,
        /// Runs at once (default: the available cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Stem of the files written: `<out>.json` and `<out>.csv` (the table), `<out>.png` (the
        /// tornado chart), `<out>.runs.jsonl` (every run's row; a rerun resumes from it)
        /// [default: results/sensitivity/<name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Parameters in the tornado chart, the largest effects.
        #[arg(long, default_value_t = 15)]
        top: usize,
    },
    /// Measure the simulator's own speed on a 3-partition pipeline, or on any scenario.
    Bench {
        /// A scenario to measure instead (run as written, stopped after --requests arrivals).
        #[arg(long, conflicts_with = "suite")]
        scenario: Option<PathBuf>,
        /// Run the benchmark suite instead (built-in bench, CPU pipeline, GPU+DLA contention,
        /// a scaling policy, trace replay, capacity search, reproduce), each in its own process;
        /// run from the repository's root.
        #[arg(long)]
        suite: bool,
        /// Requests to simulate (per simulation case with --suite).
        #[arg(long, default_value_t = 1_000_000)]
        requests: u64,
        /// Repetitions (the best and median are reported; the best with --suite).
        #[arg(long, default_value_t = 3)]
        repeat: u32,
        /// With --suite: which `reproduce paper` to time.
        #[arg(long, value_enum, default_value_t = bench::suite::Reproduce::Quick, requires = "suite")]
        reproduce: bench::suite::Reproduce,
        /// With --suite: parallel runs of the capacity search and of `reproduce` (default: the
        /// number of CPUs).
        #[arg(long, requires = "suite")]
        jobs: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a sweep's grid of scenarios in parallel; one JSON row per run (resumable).
    Sweep {
        /// Sweep TOML file.
        sweep: PathBuf,
        /// Runs in parallel (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only every N-th point from I (0-based), e.g. 0/4.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Results file: .parquet, .csv or .jsonl; all three are written with its stem
        /// (default: results/<sweep name>.*).
        #[arg(long)]
        out: Option<PathBuf>,
        /// List the points (index, seed, key) without running them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Join results files (e.g. the shards of a sweep) into one, in grid order.
    Merge {
        /// Results files (.parquet, .csv or .jsonl).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output file (.parquet, .csv or .jsonl).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a pivot table of a results file: a metric aggregated by one or more columns.
    Summarize {
        /// Results file (.parquet, .csv or .jsonl).
        results: PathBuf,
        /// Columns to group by, comma-separated; with two or more and one metric, the last
        /// spreads across the table.
        #[arg(long, default_value = "policy")]
        by: String,
        /// Metric columns, comma-separated.
        #[arg(long, default_value = "goodput_rps")]
        metric: String,
        /// Aggregation of each group.
        #[arg(long, value_enum, default_value_t = Agg::Mean)]
        agg: Agg,
        /// Print CSV instead of an aligned table.
        #[arg(long)]
        csv: bool,
    },
    /// Open the interactive app (the `infscaler-gui` binary) on a scenario.
    Gui {
        /// Scenario TOML file to open (default: the app's last one, or the quickstart).
        scenario: Option<PathBuf>,
    },
    /// Hardware in the loop: real ONNX Runtime execution (`hil profile`: measured profiles).
    Hil {
        #[command(subcommand)]
        command: hil::HilCommand,
    },
    /// Reproduce a paper's figures and tables: run its sweeps and write REPORT.md with figures.
    Reproduce {
        /// What to reproduce.
        #[arg(value_enum)]
        target: reproduce::Target,
        /// Shorter runs and fewer seeds (about 20× less work), for a smoke test.
        #[arg(long)]
        quick: bool,
        /// Output folder (default: results/paper, or results/paper-quick with --quick).
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Runs in parallel (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
    },
}

fn main() -> ExitCode {
    // Output piped into `head` ends quietly, as other command-line tools do.
    // SAFETY: called before any thread starts; restores the default disposition of SIGPIPE.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Some(size) = cli.max_input_size {
        if size.bytes() == 0 {
            eprintln!("error: --max-input-size must be more than 0 bytes");
            return ExitCode::from(2);
        }
        infscaler_sim::input::set_max_input_bytes(size.bytes());
    }
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command.unwrap_or(Command::Run {
        force: false,
        scenario: None,
        seed: None,
        json: false,
    }) {
        Command::Run {
            scenario,
            seed,
            json,
            force,
        } => run(scenario.as_deref(), seed, json, force),
        Command::Validate { scenario, force } => validate(&scenario, force),
        Command::Plan { scenario, json } => plan(scenario.as_deref(), json),
        Command::Explore {
            scenario,
            stages,
            cpu_cores,
            cpu_groups,
            moldable,
            json,
        } => explore(
            scenario.as_deref(),
            stages,
            ExploreCpu {
                cores: cpu_cores,
                groups: cpu_groups,
                moldable,
            },
            json,
        ),
        Command::Models {
            action: Some(action),
            ..
        } => catalog::models_action(action),
        Command::Models {
            action: None,
            name,
            device,
            runtime,
            seq_len,
            json,
        } => catalog::models(name.as_deref(), &device, &runtime, seq_len, json),
        Command::Calibrate { json } => calibrate::run(json),
        Command::Apps => catalog::apps(),
        Command::Devices { name } => catalog::devices(name.as_deref()),
        Command::Capacity {
            scenarios,
            attainment,
            tolerance,
            min_requests,
            confidence,
            jobs,
            json,
        } => {
            let options = CapacityOptions {
                attainment,
                tolerance,
                min_requests,
                confidence,
                ..CapacityOptions::default()
            };
            capacity::run(&scenarios, &options, jobs, json)
        }
        Command::Sensitivity {
            scenario,
            metric,
            jobs,
            json,
            out,
            top,
        } => sensitivity::run(sensitivity::Options {
            path: scenario,
            metrics: metric,
            jobs,
            json,
            out,
            top,
        }),
        Command::Bench {
            scenario,
            suite,
            requests,
            repeat,
            reproduce,
            jobs,
            json,
        } => {
            if suite {
                bench::suite::run(&bench::suite::Options {
                    requests,
                    repeat,
                    reproduce,
                    jobs: jobs.unwrap_or_else(|| {
                        std::thread::available_parallelism().map_or(1, |n| n.get())
                    }),
                    json,
                })
            } else {
                bench::run(scenario.as_deref(), requests, repeat, json)
            }
        }
        Command::Sweep {
            sweep,
            jobs,
            shard,
            out,
            dry_run,
        } => sweep::run(sweep::Options {
            sweep,
            jobs,
            shard,
            out,
            dry_run,
        }),
        Command::Merge { inputs, out } => merge::run(&inputs, &out),
        Command::Summarize {
            results,
            by,
            metric,
            agg,
            csv,
        } => summarize::run(&results, &by, &metric, agg, csv),
        Command::Gui { scenario } => gui::run(scenario.as_deref()),
        Command::Hil { command } => hil::run(command),
        Command::Reproduce {
            target,
            quick,
            out_dir,
            jobs,
        } => reproduce::run(target, quick, out_dir, jobs),
    }
}

/// The built-in default scenario, compiled in so that an installed binary runs it anywhere.
const QUICKSTART: &str = include_str!("../scenarios/quickstart.toml");

/// Loads the given scenario, or the quickstart: `scenarios/quickstart.toml` when run from a
/// checkout (so edits to it take effect), the compiled-in copy elsewhere.
fn load_scenario(scenario: Option<&Path>) -> Result<(PathBuf, infscaler_sim::ResolvedScenario)> {
    if let Some(path) = scenario {
        return Ok((path.to_path_buf(), Scenario::load(path)?));
    }
    let local = PathBuf::from("scenarios/quickstart.toml");
    if local.exists() {
        return Ok((local.clone(), Scenario::load(&local)?));
    }
    let origin = "<built-in quickstart.toml>";
    let parsed = Scenario::parse(QUICKSTART, origin, Path::new("."))?;
    Ok((PathBuf::from(origin), parsed.resolve()?))
}

/// Refuses a scenario expected to have more arrivals than a run may have unless forced.
pub(crate) fn check_size(resolved: &infscaler_sim::ResolvedScenario, force: bool) -> Result<()> {
    if !force {
        resolved.check_expected_arrivals(infscaler_sim::scenario::MAX_EXPECTED_ARRIVALS)?;
    }
    Ok(())
}

fn run(scenario: Option<&Path>, seed: Option<u64>, json: bool, force: bool) -> Result<ExitCode> {
    let (path, resolved) = load_scenario(scenario)?;
    check_size(&resolved, force)?;
    let simulation = Simulation::new(&resolved, seed)
        .with_context(|| format!("setting up {}", path.display()))?;
    interrupt::install();
    let mut view = progress::RunProgressView::new(&resolved.name);
    let report = simulation.run_interruptible(&mut |p| {
        view.observe(p);
        interrupt::control_flow()
    });
    drop(view);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report_text::report(&report, &resolved));
    }
    if report.interrupted {
        eprintln!(
            "interrupted (Ctrl-C) at simulated {:.3} s: the report covers the run up to there",
            report.summary.warmup_s + report.summary.duration_s
        );
        return Ok(ExitCode::from(interrupt::EXIT_INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(path: &Path, force: bool) -> Result<ExitCode> {
    let resolved = Scenario::load(path)?;
    check_size(&resolved, force)?;
    println!(
        "{}: ok — app {} ({} stage{}), device {}, SLO {:.3} ms, policy {}",
        path.display(),
        resolved.app_name,
        resolved.streams[0].stages.len(),
        if resolved.streams[0].stages.len() == 1 {
            ""
        } else {
            "s"
        },
        resolved.device.name,
        resolved.slo.as_ms_f64(),
        resolved.scenario.policy.name()
    );
    if resolved.streams.len() > 1 {
        for stream in &resolved.streams {
            println!(
                "  stream {}: app {} ({} stage{}{}), SLO {:.3} ms",
                stream.name,
                stream.app_name,
                stream.stages.len(),
                if stream.stages.len() == 1 { "" } else { "s" },
                if stream.variants { ", variants" } else { "" },
                stream.slo.as_ms_f64()
            );
        }
    }
    if let Some(n) = resolved.expected_arrivals() {
        println!("  about {n:.0} arrivals expected");
    }
    if let Some(sizing) = &resolved.sizing {
        let who = if sizing.fixed.is_some() {
            "every request has"
        } else {
            "requests sized from the trace; the SLO above is its median request's, with"
        };
        println!(
            "  tokens: {who} {} prompt and {} generated",
            sizing.reference.context, sizing.reference.generated
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// How `infscaler explore` offers the CPU.
struct ExploreCpu {
    /// Cores of each group (fixed groups).
    cores: u32,
    /// Groups: execution places on the CPU.
    groups: u32,
    /// Whether the groups share the CPU's cores.
    moldable: bool,
}

fn explore(
    scenario: Option<&Path>,
    stages: usize,
    cpu: ExploreCpu,
    json: bool,
) -> Result<ExitCode> {
    use infscaler_sim::explore::{CorePools, DesignSpace, Ep, ExploreError};
    let (_, resolved) = load_scenario(scenario)?;
    let device = &resolved.device;
    let model = &resolved.models[0];
    let is_cpu = |a: &infscaler_sim::hardware::profile::AcceleratorSpec| {
        a.kind == infscaler_sim::hardware::AcceleratorKind::Cpu
    };
    let the_cpu = &device.accelerators[device.cpu()];
    let fits = if cpu.moldable {
        cpu.groups >= 1 && cpu.groups <= the_cpu.cores
    } else {
        cpu.cores >= 1
            && cpu.groups >= 1
            && u64::from(cpu.cores) * u64::from(cpu.groups) <= u64::from(the_cpu.cores)
    };
    if !fits {
        if cpu.moldable {
            anyhow::bail!(
                "--cpu-groups {} moldable stages need at least one core each; {}'s CPU has {}",
                cpu.groups,
                device.name,
                the_cpu.cores
            );
        }
        anyhow::bail!(
            "--cpu-groups {} × --cpu-cores {} does not fit the {} cores of {}'s CPU",
            cpu.groups,
            cpu.cores,
            the_cpu.cores,
            device.name
        );
    }
    let mut eps = Vec::new();
    let mut keys = Vec::new();
    for (accel, a) in device.accelerators.iter().enumerate() {
        let (groups, cores, key) = match (is_cpu(a), cpu.moldable) {
            (true, true) => (cpu.groups, a.cores, Some(accel)),
            (true, false) => (cpu.groups, cpu.cores, None),
            (false, _) => (1, 1, None),
        };
        for _ in 0..groups {
            eps.push(Ep { accel, cores });
            keys.push(key);
        }
    }
    let pools = CorePools::new(&keys, |accel| device.accelerators[accel].cores);
    let mut space =
        DesignSpace::new(&model.operators, eps, stages, resolved.target())?.with_pools(pools);
    let started = std::time::Instant::now();
    // Every configuration where the space is small enough; else the dynamic programme, which
    // finds the same optimum without enumerating.
    let (best, bottleneck_ns, evaluated) = match space.exhaustive() {
        Ok(found) => (found.best, found.bottleneck_ns, Some(found.evaluated)),
        Err(ExploreError::TooLarge { .. }) => {
            let (best, ns) = space.optimum();
            (best, ns, None)
        }
        Err(e) => return Err(e.into()),
    };
    let seconds = started.elapsed().as_secs_f64();
    let throughput_rps = 1e9 / bottleneck_ns.max(1) as f64;
    let eps = space.eps().to_vec();
    let ep_name = |e: usize, cores: u32| {
        let a = &device.accelerators[eps[e].accel];
        if is_cpu(a) {
            format!("{} ({cores} cores)", a.name)
        } else {
            a.name.clone()
        }
    };
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(best.cuts.iter().copied())
        .chain(std::iter::once(model.operators.len()))
        .collect();
    let stage_rows: Vec<(usize, usize, String, f64)> = (0..stages)
        .map(|k| {
            let (e, cores) = (best.eps[k], best.cores[k]);
            let ns = space.stage_ns_with(bounds[k], bounds[k + 1], e, cores);
            (
                bounds[k] + 1,
                bounds[k + 1],
                ep_name(e, cores),
                ns as f64 / 1e6,
            )
        })
        .collect();
    let how = match evaluated {
        Some(n) => format!("all {n} evaluated"),
        None => "too many to enumerate: optimum by dynamic programme".to_string(),
    };
    if json {
        let v = serde_json::json!({
            "model": model.name,
            "device": device.name,
            "stages": stages,
            "moldable": cpu.moldable,
            "space_size": space.size(),
            "evaluated": evaluated,
            "search_s": seconds,
            "cuts": best.cuts,
            "cores": best.cores,
            "bottleneck_ms": bottleneck_ns as f64 / 1e6,
            "throughput_rps": throughput_rps,
            "partitions": stage_rows.iter().map(|(first, last, ep, ms)| serde_json::json!({
                "first_op": first, "last_op": last, "ep": ep, "predicted_ms": ms,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{} on {}: {stages} stages, {:.0} configurations, {how} in {seconds:.2} s",
            model.name,
            device.name,
            space.size()
        );
        for (first, last, ep, ms) in &stage_rows {
            println!("  #{first:>4}–#{last:<4} on {ep:<16} {ms:>9.3} ms");
        }
        println!(
            "best: cuts {:?} (policy.stages[].cuts), bottleneck {:.3} ms, {:.1} req/s predicted \
             (batch 1, stage times alone, hand-offs left out)",
            best.cuts,
            bottleneck_ns as f64 / 1e6,
            throughput_rps
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn plan(scenario: Option<&Path>, json: bool) -> Result<ExitCode> {
    let (_, resolved) = load_scenario(scenario)?;
    let plan = infscaler_sim::experiment::plan::plan(&resolved)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", report_text::plan(&plan));
    }
    Ok(ExitCode::SUCCESS)
}
