//! `infscaler summarize`: prints a pivot table of a results file
//! ([`infscaler_results::summarize`]).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use infscaler_results::files;
use infscaler_results::summarize::{Agg, pivot};

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// Runs the command.
pub fn run(file: &Path, by: &str, metric: &str, agg: Agg, csv: bool) -> Result<ExitCode> {
    let df = files::read(file)?;
    let table = pivot(&df, &split_list(by), &split_list(metric), agg)
        .with_context(|| format!("summarizing {}", file.display()))?;
    if csv {
        print!("{}", table.to_csv());
    } else {
        print!("{}", table.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
