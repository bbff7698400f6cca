//! Runs every variant of a [`Plan`] in parallel and keeps each run's row on disk, as `infscaler
//! sweep` does: rows go to `<file>.partial` as runs finish (append + flush), and at the end
//! `<file>` is written atomically in (variant, unit) order. A rerun reuses the rows already in
//! either file — a run whose row is on disk is not run again — so an interrupted analysis resumes,
//! and the file is byte-identical whatever `--jobs` or interruptions. `<file>.fingerprint` holds
//! the plan's fingerprint: rows of another version of the experiment or its profiles are refused.
//!
//! A row is the run's sweep row (or report row, for a single scenario) after two columns naming
//! it, `variant` (its label) and `unit`; a run that failed is the two columns and `error`.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use infscaler_results::atomic;
use infscaler_results::files::{Row, json_line, parse_row};
use infscaler_sim::Simulation;
use infscaler_sim::experiment::run_point;
use infscaler_sim::report::row::{Cell, cell, int, report_row};

use super::plan::Plan;
use crate::progress::Progress;
use crate::sweep::{earlier_rows, restart_partial};

/// Every variant's runs.
pub struct Runs {
    /// Per variant: its rows in unit order, or why it did not run (the first error).
    pub rows: Vec<Result<Vec<Row>, String>>,
    /// Runs made now.
    pub new: usize,
    /// Runs whose rows were on disk.
    pub resumed: usize,
    /// Wall time of the new runs, seconds.
    pub elapsed_s: f64,
}

/// One run's row, with its naming columns, or its error.
fn run_one(plan: &Plan, v: usize, u: usize) -> String {
    let scenario = &plan.resolved[v].as_ref().expect("a runnable variant")[u];
    let unit = &plan.experiment.units[u];
    let result = match &unit.point {
        Some(p) => {
            run_point(p, scenario, plan.experiment.capacity.as_ref()).map_err(|e| e.to_string())
        }
        None => Simulation::new(scenario, None)
            .map(|s| report_row(&s.run()))
            .map_err(|e| e.to_string()),
    };
    let mut row: Row = vec![
        ("variant".into(), Cell::Str(plan.label(v))),
        ("unit".into(), int(u as u64)),
    ];
    match result {
        Ok(r) => row.extend(r),
        Err(e) => row.push(("error".into(), Cell::Str(e))),
    }
    json_line(&row).unwrap_or_else(|e| {
        json_line(&[("error".into(), Cell::Str(e.to_string()))]).expect("a text cell")
    })
}

/// Whether a stored row is run `u` of variant `label`: the unit's sweep point key matches too.
fn key_of(plan: &Plan, row: &Row) -> Option<(usize, usize)> {
    let Some(Cell::Str(label)) = cell(row, "variant") else {
        return None;
    };
    let Some(Cell::Int(u)) = cell(row, "unit") else {
        return None;
    };
    let u = usize::try_from(*u).ok()?;
    let unit = plan.experiment.units.get(u)?;
    if let Some(p) = &unit.point
        && cell(row, "error").is_none()
        && cell(row, "point_key") != Some(&Cell::Str(p.key.clone()))
    {
        return None;
    }
    let v = (0..plan.variants.len()).find(|&v| plan.label(v) == *label)?;
    Some((v, u))
}

/// Rows of earlier attempts in `files`, by (variant, unit); unparsable lines (one an
/// interruption cut off) and rows of runs this plan does not have are ignored.
fn previous(plan: &Plan, files: &[&Path]) -> Result<BTreeMap<(usize, usize), String>> {
    earlier_rows(files, |line| {
        parse_row(line).ok().and_then(|r| key_of(plan, &r))
    })
}

/// Runs what `plan` has not yet stored in `file` on `jobs` threads (progress on stderr under
/// `label`), and returns every variant's rows.
pub fn execute(plan: &Plan, jobs: usize, file: &Path, label: &str) -> Result<Runs> {
    let partial = atomic::with_suffix(file, ".partial");
    let fingerprint_file = atomic::with_suffix(file, ".fingerprint");
    if let Ok(previous) = fs::read_to_string(&fingerprint_file)
        && previous.trim() != plan.fingerprint
        && (file.exists() || partial.exists())
    {
        bail!(
            "{} holds runs of another version of this experiment or of its profiles \
             (fingerprint {} here, {} there): delete it and {} to start again, or choose --out",
            file.display(),
            plan.fingerprint,
            previous.trim(),
            partial.display()
        );
    }
    atomic::write_lines(&fingerprint_file, &[plan.fingerprint.as_str()])?;
    let mut rows = previous(plan, &[file, &partial])?;
    let units = plan.experiment.units.len();
    let all: Vec<(usize, usize)> = (0..plan.variants.len())
        .filter(|&v| plan.resolved[v].is_ok())
        .flat_map(|v| (0..units).map(move |u| (v, u)))
        .collect();
    let todo: Vec<(usize, usize)> = all
        .iter()
        .copied()
        .filter(|k| !rows.contains_key(k))
        .collect();
    let resumed = all.len() - todo.len();
    restart_partial(label, all.len(), todo.len(), (file, &partial), &rows)?;
    let mut log = OpenOptions::new()
        .append(true)
        .open(&partial)
        .with_context(|| format!("opening {}", partial.display()))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("starting the worker pool")?;
    let unit = if plan.experiment.capacity.is_some() {
        "searches"
    } else {
        "runs"
    };
    let mut progress = Progress::new(label, unit, todo.len() as u64);
    let start = Instant::now();
    let (tx, rx) = mpsc::channel::<((usize, usize), String)>();
    std::thread::scope(|scope| -> Result<()> {
        let work = todo.clone();
        scope.spawn(move || {
            pool.install(|| {
                work.into_par_iter()
                    .with_max_len(1)
                    .for_each_with(tx, |tx, (v, u)| {
                        let _ = tx.send(((v, u), run_one(plan, v, u)));
                    });
            });
        });
        for (key, line) in rx {
            writeln!(log, "{line}")
                .and_then(|()| log.flush())
                .with_context(|| format!("writing {}", partial.display()))?;
            rows.insert(key, line);
            progress.inc();
        }
        Ok(())
    })?;
    drop(progress);
    let elapsed_s = start.elapsed().as_secs_f64();
    let lines: Vec<&str> = all.iter().map(|k| rows[k].as_str()).collect();
    atomic::write_lines(file, &lines)?;
    fs::remove_file(&partial).with_context(|| format!("removing {}", partial.display()))?;

    let mut per_variant: Vec<Result<Vec<Row>, String>> = plan
        .resolved
        .iter()
        .map(|r| r.as_ref().map(|_| Vec::new()).map_err(Clone::clone))
        .collect();
    for (&(v, _), line) in all.iter().zip(lines) {
        let mut row = parse_row(line).context("re-reading a run's row")?;
        if let Ok(runs) = &mut per_variant[v] {
            match cell(&row, "error") {
                Some(Cell::Str(e)) => per_variant[v] = Err(e.clone()),
                _ => {
                    row.drain(..2);
                    runs.push(row);
                }
            }
        }
    }
    Ok(Runs {
        rows: per_variant,
        new: todo.len(),
        resumed,
        elapsed_s,
    })
}
