//! `infscaler sensitivity`: which `[assumed]` and `[fitted]` profile parameters a scenario's
//! results hinge on. Each such parameter of the scenario's device profile and runtime profile is
//! set to ×0.5 and ×2 of its value, one at a time (the scenario resolved again, so a relative SLO
//! follows the isolated latency it changes), and the scenario runs at its own seed; parameters
//! are ranked by the largest relative change they cause in any of the metrics shown. Given a
//! sweep file instead, every point of its grid runs for each variant (a capacity sweep searches
//! each point's capacity), a metric's change is averaged over the grid's cells (points that
//! differ only in their repeat form one cell, at their mean), and the comparison the sweep makes
//! — its cells ranked by the first metric — is checked under every variant: whether the best
//! cell stays the best, and how many pairs of cells swap order.
//!
//! Runs are spread over a rayon pool and kept on disk as they finish ([`runs`]), so an
//! interrupted analysis resumes; each is a pure function of its scenario and seed, so every
//! output is the same at any `--jobs`. Written beside the runs: the analysis as JSON and CSV and
//! a tornado chart ([`tornado`]).

pub mod effects;
pub mod plan;
pub mod runs;
pub mod tornado;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};

use infscaler_results::atomic;

use crate::sweep::jobs_or_cores;
use effects::{analyse, csv, table};
use plan::{Experiment, FACTORS, Plan};

/// The metrics shown by default (columns of `infscaler sweep` rows).
pub const DEFAULT_METRICS: &str =
    "throughput_rps,latency_p50_ms,latency_p99_ms,slo_attainment,memory_peak_bytes";

/// The command's options.
pub struct Options {
    /// Scenario or sweep file.
    pub path: PathBuf,
    /// Metrics, comma-separated.
    pub metrics: String,
    /// Worker threads.
    pub jobs: Option<usize>,
    /// Print JSON instead of the table.
    pub json: bool,
    /// Stem of the files written (default `results/sensitivity/<name>`).
    pub out: Option<PathBuf>,
    /// Parameters in the tornado chart.
    pub top: usize,
}

/// The metrics named in `--metric`.
fn parse_metrics(metrics: &str) -> Result<Vec<String>> {
    let metrics: Vec<String> = metrics
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    if metrics.is_empty() {
        bail!("--metric: name at least one column of a run's row (e.g. {DEFAULT_METRICS})");
    }
    Ok(metrics)
}

/// Runs the command.
pub fn run(opts: Options) -> Result<ExitCode> {
    let metrics = parse_metrics(&opts.metrics)?;
    if opts.top == 0 {
        bail!("--top: show at least 1 parameter");
    }
    let path = &opts.path;
    let origin = path.display().to_string();
    let plan = Plan::new(Experiment::load(path)?, &origin, None)?;
    let stem = match &opts.out {
        Some(out) => out.with_extension(""),
        None => Path::new("results/sensitivity").join(&plan.experiment.name),
    };
    let runnable = plan.resolved.iter().filter(|r| r.is_ok()).count();
    eprintln!(
        "sensitivity: {} tagged parameters × {} factors, {} run(s) each: {} runs of {}",
        plan.params.len(),
        FACTORS.len(),
        plan.experiment.units.len(),
        runnable * plan.experiment.units.len(),
        origin
    );
    let jobs = jobs_or_cores(opts.jobs);
    let runs_file = atomic::with_suffix(&stem, ".runs.jsonl");
    let runs = runs::execute(&plan, jobs, &runs_file, &plan.experiment.name)?;
    let analysis = analyse(&plan, &runs, &metrics).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    if let Some(m) = (0..metrics.len()).find(|&k| analysis.baseline.iter().all(|c| c[k].is_none()))
    {
        bail!(
            "--metric: `{}` is not a numeric column of a run's row (e.g. {DEFAULT_METRICS})",
            metrics[m]
        );
    }
    let json = serde_json::to_string_pretty(&analysis)?;
    let json_file = atomic::with_suffix(&stem, ".json");
    let csv_file = atomic::with_suffix(&stem, ".csv");
    let png_file = atomic::with_suffix(&stem, ".png");
    atomic::write_bytes(&json_file, format!("{json}\n").as_bytes())?;
    atomic::write_bytes(&csv_file, csv(&analysis).as_bytes())?;
    tornado::draw(&png_file, &analysis, opts.top)?;
    if opts.json {
        println!("{json}");
    } else {
        print!("{}", table(&analysis));
    }
    eprintln!(
        "{} runs ({} new, {} resumed) in {:.1} s at --jobs {jobs} → {}, {}, {}, {}",
        runs.new + runs.resumed,
        runs.new,
        runs.resumed,
        runs.elapsed_s,
        json_file.display(),
        csv_file.display(),
        png_file.display(),
        runs_file.display()
    );
    Ok(ExitCode::SUCCESS)
}
