//! `infscaler reproduce paper`: run the sweeps of `scenarios/paper/` (one per figure and table of
//! the InfScaler paper) and write `REPORT.md` with each result beside the paper's number, the
//! ratio, PNG figures, and what the numbers say: every sentence that interprets a result is
//! computed from the numbers (each figure's module holds its functions and their thresholds).
//!
//! Every experiment runs under two runtimes ([`RUNTIMES`]): PyTorch eager, the stack the paper's
//! "unmodified ONNX or PyTorch" models ran under, and TensorRT. Each gets a full report
//! (`<runtime>/REPORT.md`, figures beside it); the top-level `REPORT.md` sets the claims side by
//! side and says which hold under which runtime.
//!
//! The sweep files are the experiments: `infscaler sweep scenarios/paper/<file>` runs any one of
//! them alone (under the sweep's own runtime: add an axis `serving.runtime` to choose). `--quick` runs each with one repeat and short runs (the overrides
//! are listed in [`FIGURES`]) into its own folder, so a smoke test never overwrites the committed
//! reproduction. An interrupted reproduction resumes where it stopped (a marker file says one is
//! in progress); a finished one is rerun from scratch, so its numbers are always this build's.

mod accuracy;
mod deciders;
mod fig2;
mod fig5;
mod fig6;
mod fig7;
mod markdown;
mod paper;
mod report;
mod stats;
mod table2;
mod thesis;
mod thesis_accordion;
mod thesis_moldable;
mod thesis_report;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use infscaler_sim::experiment::sweep::Sweep;

use crate::sweep::{execute, jobs_or_cores};
use infscaler_results::atomic;
use infscaler_results::files::Row;

/// Where a reproduction writes (`out_dir`, or `results/<name>` — `results/<name>-quick` under
/// `--quick`), its `data/` folder, created, and a pool of `jobs` threads (default: the cores).
pub(crate) fn output_and_pool(
    name: &str,
    quick: bool,
    out_dir: Option<PathBuf>,
    jobs: Option<usize>,
) -> Result<(PathBuf, PathBuf, rayon::ThreadPool)> {
    let out_dir = out_dir.unwrap_or_else(|| {
        PathBuf::from(if quick {
            format!("results/{name}-quick")
        } else {
            format!("results/{name}")
        })
    });
    let data = out_dir.join("data");
    fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs_or_cores(jobs))
        .build()?;
    Ok((out_dir, data, pool))
}

/// Writes `report` as `out_dir/REPORT.md` (atomically) and says what was written: the report,
/// `data/runs.csv` beside it, and how many `runs` took how long since `started`.
pub(crate) fn write_report(
    out_dir: &Path,
    report: &str,
    runs: usize,
    started: Instant,
) -> Result<ExitCode> {
    let path = out_dir.join("REPORT.md");
    atomic::write_bytes(&path, report.as_bytes())?;
    eprintln!(
        "wrote {} and {} ({runs} runs, {:.0} s)",
        path.display(),
        out_dir.join("data").join("runs.csv").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `jobs` on `pool`, each by `run`, printing progress as each ends; the reports by the
/// key `key` gives each job. Fails on the first error.
pub(crate) fn run_keyed<J: Sync>(
    jobs: &[J],
    pool: &rayon::ThreadPool,
    key: impl Fn(&J) -> &str + Sync,
    run: impl Fn(&J) -> Result<infscaler_sim::report::Report> + Sync,
) -> Result<std::collections::BTreeMap<String, infscaler_sim::report::Report>> {
    use rayon::prelude::*;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let reports: Vec<(String, infscaler_sim::report::Report)> = pool.install(|| {
        jobs.par_iter()
            .map(|job| {
                let report = run(job)?;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                eprintln!(
                    "[{n}/{}] {} ({:.0} s)",
                    jobs.len(),
                    key(job),
                    started.elapsed().as_secs_f64()
                );
                Ok((key(job).to_string(), report))
            })
            .collect::<Result<_>>()
    })?;
    Ok(reports.into_iter().collect())
}

/// What `reproduce` can reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The InfScaler paper (../shared/seeds/infscaler-paper.txt): Fig. 2, 5, 6, 7 and Table II.
    Paper,
    /// The pipeline-scheduling thesis (../shared/seeds/pipeline-scheduling-thesis.txt): ODIN
    /// and LLS under interference, and the design-space explorers, on a 4 × 8-core server and a
    /// Xavier AGX.
    Thesis,
    /// Accuracy and vertical scaling: Proteus (model variants per engine) and Sponge (in-place
    /// vertical scaling under varying network delay) against their baselines, on a Xavier AGX.
    Accuracy,
    /// Accordion and its four baselines on query streams sharing execution places (the
    /// thesis report's section 9, on its own).
    Accordion,
}

/// One experiment of the paper: its sweep file and what `--quick` changes.
pub struct Figure {
    /// Short id, used for the data files and figures (`fig5`).
    pub id: &'static str,
    /// The sweep file under `scenarios/paper/`.
    pub sweep: &'static str,
    /// `--quick`: single-valued axes that replace (or join) the sweep's axes.
    pub quick: &'static [(&'static str, &'static str)],
}

/// Measured requests per capacity probe under `--quick` (a full reproduction keeps the sweep's
/// own, default 2,000).
const QUICK_MIN_REQUESTS: i64 = 200;

/// The old configuration, before blocking hand-offs (issue 14): a full queue downstream drops
/// the request instead of blocking its producer.
pub const OLD_OVERFLOW: &str = "drop";
/// The old configuration: Algorithm 1's r_k^m read as the load share, so line 4's check never
/// binds (InfScaler's `resource_share`).
pub const OLD_RESOURCE_SHARE: &str = "load_share";
/// The old configuration: capacity probes of at least this many measured requests.
pub const OLD_MIN_REQUESTS: i64 = 100;

/// Measured requests per capacity probe in the reduced sweeps of [`deciders`].
pub const REDUCED_MIN_REQUESTS: i64 = 200;

/// Which configuration a sweep runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Config {
    /// As its file says.
    Current,
    /// The settings before issue 14's fixes: [`OLD_OVERFLOW`], [`OLD_RESOURCE_SHARE`] and
    /// [`OLD_MIN_REQUESTS`].
    Old,
    /// Reduced for a sensitivity analysis: one repeat, capacity probes of at least
    /// [`REDUCED_MIN_REQUESTS`].
    Reduced,
}

impl Config {
    /// The suffix of its data files.
    fn suffix(self) -> &'static str {
        match self {
            Config::Current => "",
            Config::Old => "-old",
            Config::Reduced => "-sensitivity",
        }
    }
}

/// The paper's experiments, in the order of the report.
pub const FIGURES: [Figure; 5] = [
    Figure {
        id: "fig2",
        sweep: "fig2-alexnet-configs.toml",
        quick: &[("run.duration", "4s")],
    },
    Figure {
        id: "fig5",
        sweep: "fig5-capacity.toml",
        quick: &[("run.duration", "12s")],
    },
    Figure {
        id: "table2",
        sweep: "table2-memory-trace.toml",
        quick: &[("run.duration", "60s")],
    },
    Figure {
        id: "fig6",
        sweep: "fig6-handoff.toml",
        quick: &[("run.duration", "6s")],
    },
    Figure {
        id: "fig7",
        sweep: "fig7-latency-memory-vs-throughput.toml",
        quick: &[("run.duration", "10s")],
    },
];

/// A runtime the paper's experiments are reproduced under.
pub struct Runtime {
    /// Its runtime profile (`serving.runtime`).
    pub name: &'static str,
    /// How the report names it.
    pub title: &'static str,
    /// Why it is one of the two.
    pub why: &'static str,
}

/// The runtimes of a reproduction, the paper's first.
pub const RUNTIMES: [Runtime; 2] = [
    Runtime {
        name: "pytorch",
        title: "PyTorch eager",
        why: "the paper serves \"unmodified ML models such as ONNX or PyTorch\" (§III) and reports \
              \"tens or hundreds of milliseconds of inference latency\" (§V): eager execution, \
              not a TensorRT engine. Of its two stacks, PyTorch's is the one calibrated on \
              measurements (REFERENCE.md §8a).",
    },
    Runtime {
        name: "tensorrt",
        title: "TensorRT",
        why: "the fastest stack on a Jetson: fused kernels, little host time.",
    },
];

/// The results of one experiment, handed to its report section.
pub struct Results {
    /// The experiment.
    pub figure: &'static Figure,
    /// The runtime it ran under.
    pub runtime: &'static Runtime,
    /// Every row, in grid order.
    pub rows: Vec<Row>,
    /// The CSV file of the rows, relative to the report.
    pub csv: String,
}

/// The sweep of `figure` under `dir` run under `runtime` and `config`, with the `--quick`
/// overrides applied when asked.
pub fn load_sweep(
    dir: &Path,
    figure: &Figure,
    quick: bool,
    runtime: &Runtime,
    config: Config,
) -> Result<Sweep> {
    let path = dir.join(figure.sweep);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut spec: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let name = spec
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or(figure.id)
        .to_string();
    let mut overrides: Vec<(&str, &str)> = vec![("serving.runtime", runtime.name)];
    let mut min_requests = None;
    if quick {
        spec.insert("name".into(), format!("{name}-quick").into());
        spec.insert("repeat".into(), 1.into());
        overrides.extend(figure.quick.iter().copied());
        // A quick run checks the pipeline, not the numbers: short capacity probes.
        min_requests = Some(QUICK_MIN_REQUESTS);
    }
    match config {
        Config::Current => {}
        Config::Old => {
            overrides.push(("serving.overflow", OLD_OVERFLOW));
            min_requests = Some(min_requests.map_or(OLD_MIN_REQUESTS, |m| m.min(OLD_MIN_REQUESTS)));
        }
        Config::Reduced => {
            spec.insert("repeat".into(), 1.into());
            min_requests = Some(min_requests.unwrap_or(REDUCED_MIN_REQUESTS));
        }
    }
    if let Some(m) = min_requests
        && let Some(capacity) = spec.get_mut("capacity").and_then(|c| c.as_table_mut())
    {
        capacity.insert("min_requests".into(), m.into());
    }
    let axes = spec
        .entry("axes")
        .or_insert_with(|| toml::Value::Array(Vec::new()))
        .as_array_mut()
        .with_context(|| format!("{}: axes must be an array of tables", path.display()))?;
    for (axis_path, value) in overrides {
        let mut axis = toml::Table::new();
        axis.insert("path".into(), axis_path.into());
        axis.insert("values".into(), vec![toml::Value::from(value)].into());
        let existing = axes
            .iter()
            .position(|a| a.get("path").and_then(|p| p.as_str()) == Some(axis_path));
        match existing {
            Some(i) => axes[i] = axis.into(),
            None => axes.push(axis.into()),
        }
    }
    let text = toml::to_string(&spec)?;
    let origin = format!(
        "{} (runtime {}{}{})",
        path.display(),
        runtime.name,
        if quick { ", --quick" } else { "" },
        match config {
            Config::Current => "",
            Config::Old => ", old configuration",
            Config::Reduced => ", reduced",
        }
    );
    let mut sweep = Sweep::parse(&text, &origin, dir)?;
    if config == Config::Old {
        old_resource_share(&mut sweep).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    }
    Ok(sweep)
}

/// Sets InfScaler's [`OLD_RESOURCE_SHARE`] wherever the sweep runs InfScaler. An axis cannot
/// (the other policies have no such field), so the base's policy carries it: points of
/// InfScaler keep the base's policy table, points of another kind replace it.
fn old_resource_share(sweep: &mut Sweep) -> Result<(), String> {
    let is_infscaler = |v: &toml::Value| v.as_str() == Some("infscaler");
    if sweep.base_value("policy.kind").is_some_and(is_infscaler) {
        sweep.set_base_value("policy.resource_share", OLD_RESOURCE_SHARE.into())
    } else if sweep
        .axis_values("policy.kind")
        .is_some_and(|vs| vs.iter().any(is_infscaler))
    {
        let mut policy = toml::Table::new();
        policy.insert("kind".into(), "infscaler".into());
        policy.insert("resource_share".into(), OLD_RESOURCE_SHARE.into());
        sweep.set_base_value("policy", policy.into())
    } else {
        Ok(())
    }
}

/// Runs the command.
pub fn run(
    target: Target,
    quick: bool,
    out_dir: Option<PathBuf>,
    jobs: Option<usize>,
) -> Result<ExitCode> {
    if target == Target::Thesis {
        return thesis::run(quick, out_dir, jobs);
    }
    if target == Target::Accuracy {
        return accuracy::run(quick, out_dir, jobs);
    }
    if target == Target::Accordion {
        return thesis_accordion::run(quick, out_dir, jobs);
    }
    let scenarios = PathBuf::from("scenarios/paper");
    if !scenarios.is_dir() {
        bail!(
            "{} not found: run `infscaler reproduce paper` from a checkout of infscaler \
             (it reads the sweep files there)",
            scenarios.display()
        );
    }
    let out_dir = out_dir.unwrap_or_else(|| {
        PathBuf::from(if quick {
            "results/paper-quick"
        } else {
            "results/paper"
        })
    });
    let data = out_dir.join("data");
    fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let jobs = jobs_or_cores(jobs);

    // Load every sweep first, so that a bad file fails before hours of work: the reproduction,
    // the old configuration under every runtime, and the reduced sweeps of the first runtime.
    let mut sweeps: Vec<(&Runtime, &Figure, Config, Sweep)> = Vec::new();
    for config in [Config::Current, Config::Old] {
        for runtime in &RUNTIMES {
            for f in &FIGURES {
                let sweep = load_sweep(&scenarios, f, quick, runtime, config)?;
                sweeps.push((runtime, f, config, sweep));
            }
        }
    }
    let primary = &RUNTIMES[0];
    let mut reduced: Vec<(&'static Figure, Sweep)> = Vec::new();
    for f in &FIGURES {
        reduced.push((
            f,
            load_sweep(&scenarios, f, quick, primary, Config::Reduced)?,
        ));
    }

    let marker = data.join("IN-PROGRESS");
    if marker.exists() {
        eprintln!(
            "{} exists: resuming the interrupted reproduction",
            marker.display()
        );
    } else {
        for (runtime, f, config, _) in &sweeps {
            for ext in ["jsonl", "jsonl.partial", "parquet", "csv"] {
                let stem = data_stem(f, runtime, *config);
                let _ = fs::remove_file(data.join(format!("{stem}.{ext}")));
            }
        }
        for (f, _) in &reduced {
            for ext in ["runs.jsonl", "runs.jsonl.partial"] {
                let stem = data_stem(f, primary, Config::Reduced);
                let _ = fs::remove_file(data.join(format!("{stem}.{ext}")));
            }
        }
        atomic::write_bytes(&marker, b"a reproduction is running or was interrupted\n")?;
    }

    let mut all: Vec<Results> = Vec::new();
    let mut old: Vec<Results> = Vec::new();
    let mut elapsed = [0.0; 3];
    for (runtime, figure, config, sweep) in sweeps {
        let points = sweep.points();
        eprintln!(
            "{} under {}: {} ({} points) …",
            figure.id,
            runtime.name,
            sweep.origin,
            points.len()
        );
        let stem = data_stem(figure, runtime, config);
        let start = Instant::now();
        let outcome = execute(&sweep, &points, jobs, &data.join(&stem))?;
        let results = Results {
            figure,
            runtime,
            rows: outcome.rows,
            csv: format!("../data/{stem}.csv"),
        };
        match config {
            Config::Old => {
                elapsed[1] += start.elapsed().as_secs_f64();
                old.push(results);
            }
            _ => {
                elapsed[0] += start.elapsed().as_secs_f64();
                all.push(results);
            }
        }
    }
    let start = Instant::now();
    let decided = deciders::analyse(&reduced, primary, jobs, &data, quick)?;
    elapsed[2] = start.elapsed().as_secs_f64();

    let mut parts = Vec::new();
    for runtime in &RUNTIMES {
        fn of<'a>(results: &'a [Results], runtime: &Runtime) -> Vec<&'a Results> {
            results
                .iter()
                .filter(|r| std::ptr::eq(r.runtime, runtime))
                .collect()
        }
        let dir = out_dir.join(runtime.name);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let (text, claims) = report::runtime_report(&of(&all, runtime), &dir, quick, runtime)?;
        atomic::write_bytes(&dir.join("REPORT.md"), text.as_bytes())?;
        let old_claims = report::claims_of(&of(&old, runtime))
            .with_context(|| format!("the old configuration under {}", runtime.name))?;
        parts.push(report::Part {
            runtime,
            claims,
            old: old_claims,
        });
    }
    let runs = all.iter().map(|r| r.rows.len()).sum::<usize>();
    let old_runs = old.iter().map(|r| r.rows.len()).sum::<usize>();
    let overview = report::overview(&parts, quick, runs, old_runs, &decided);
    let report_path = out_dir.join("REPORT.md");
    atomic::write_bytes(&report_path, overview.as_bytes())?;
    fs::remove_file(&marker).with_context(|| format!("removing {}", marker.display()))?;
    println!(
        "{} experiments under {} runtimes, {runs} runs in {:.1} s; the old configuration, \
         {old_runs} runs in {:.1} s; what decides each claim under {}, {} runs in {:.1} s; \
         {:.1} s in all at --jobs {jobs} → {}",
        FIGURES.len(),
        RUNTIMES.len(),
        elapsed[0],
        elapsed[1],
        primary.name,
        decided.runs,
        elapsed[2],
        elapsed.iter().sum::<f64>(),
        report_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The stem of an experiment's data files under a runtime and configuration: `fig5-pytorch`,
/// `fig5-pytorch-old`.
fn data_stem(figure: &Figure, runtime: &Runtime, config: Config) -> String {
    format!("{}-{}{}", figure.id, runtime.name, config.suffix())
}
