//! `infscaler capacity`: the highest arrival rate at which each scenario keeps its SLO
//! attainment ≥ a target (see `infscaler_sim::experiment::capacity` for the search and when a probe passes).
//!
//! Scenarios run concurrently on a rayon pool of `--jobs` threads; the probes of one scenario
//! run one after another (each bisection step depends on the last). Each probe is a pure function
//! of its scenario and seed, so the results — printed in input order — are the same at any
//! `--jobs`. Progress goes to stderr, one line per finished scenario.

use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use rayon::prelude::*;

use infscaler_sim::Scenario;
use infscaler_sim::experiment::capacity::{self, CapacityOptions, CapacityResult};

/// Runs the capacity search of every scenario and prints a table or JSON.
pub fn run(
    scenarios: &[PathBuf],
    options: &CapacityOptions,
    jobs: Option<usize>,
    json: bool,
) -> Result<ExitCode> {
    options
        .validate()
        .map_err(|(field, message)| anyhow::anyhow!("--{field}: {message}"))?;
    if jobs == Some(0) {
        anyhow::bail!("--jobs: must be at least 1");
    }
    // Load every file first, so a bad one is reported before any long run starts.
    let resolved = scenarios
        .iter()
        .map(|path| Scenario::load(path).map_err(anyhow::Error::from))
        .collect::<Result<Vec<_>>>()?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0)) // 0: rayon's default, the available cores
        .build()
        .context("starting the thread pool")?;
    let results: Vec<Result<CapacityResult>> = pool.install(|| {
        scenarios
            .par_iter()
            .zip(resolved.par_iter())
            .map(|(path, scenario)| {
                let result = capacity::capacity(scenario, options)
                    .with_context(|| format!("{}: capacity search", path.display()))?;
                eprintln!(
                    "capacity: {}: {:.2} req/s after {} probes{}",
                    path.display(),
                    result.capacity_rps,
                    result.probes.len(),
                    if result.converged {
                        String::new()
                    } else {
                        format!(" (not converged: {})", outcome_name(&result))
                    }
                );
                Ok(result)
            })
            .collect()
    });
    let results = results.into_iter().collect::<Result<Vec<_>>>()?;

    if json {
        let text = if results.len() == 1 {
            serde_json::to_string_pretty(&results[0])?
        } else {
            serde_json::to_string_pretty(&results)?
        };
        println!("{text}");
    } else {
        print!("{}", table(&results));
    }
    Ok(ExitCode::SUCCESS)
}

fn outcome_name(r: &CapacityResult) -> String {
    serde_json::to_value(r.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The attainment of the last probe at the capacity, with its interval and request count.
fn attainment_at_capacity(r: &CapacityResult) -> String {
    let at = r
        .probes
        .iter()
        .rev()
        .find(|p| p.passed && p.rate_per_s == r.capacity_rps);
    match at {
        Some(p) => match (p.attainment, p.attainment_interval) {
            (Some(a), Some((lo, hi))) => format!(
                "{:.2} % [{:.2}–{:.2}] of {}",
                100.0 * a,
                100.0 * lo,
                100.0 * hi,
                p.measured
            ),
            _ => "-".into(),
        },
        None => "-".into(),
    }
}

/// One row per scenario.
fn table(results: &[CapacityResult]) -> String {
    let mut out = String::new();
    if let Some(r) = results.first() {
        let _ = writeln!(
            out,
            "capacity at SLO attainment ≥ {:.2} % with no drops, decided on {:.0} % Wilson \
             and batch-means intervals of ≥ {} requests per probe (bracket within {:.1} %)\n",
            100.0 * r.target,
            100.0 * r.confidence,
            r.min_requests,
            100.0 * r.tolerance
        );
    }
    let rows: Vec<[String; 9]> = results
        .iter()
        .map(|r| {
            [
                r.scenario.clone(),
                r.policy.clone(),
                r.app.clone(),
                format!("{:.2}", r.slo_ms),
                format!("{:.2}", r.capacity_rps),
                match r.bracket.1 {
                    Some(hi) => format!("{:.2}–{hi:.2}", r.bracket.0),
                    None => format!("≥ {:.2}", r.bracket.0),
                },
                attainment_at_capacity(r),
                r.probes.len().to_string(),
                if r.converged {
                    "yes".to_string()
                } else {
                    format!("no ({})", outcome_name(r))
                },
            ]
        })
        .collect();
    let header = [
        "scenario",
        "policy",
        "app",
        "SLO ms",
        "capacity req/s",
        "bracket req/s",
        "attainment there",
        "probes",
        "converged",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 9]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Text columns left-aligned, numbers right-aligned.
            if (3..=7).contains(&i) {
                let _ = write!(s, "{cell:>w$}  ");
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        s.trim_end().to_string() + "\n"
    };
    out += &line(header);
    for row in &rows {
        out += &line(row.each_ref().map(String::as_str));
    }
    out
}
