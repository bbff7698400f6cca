//! `infscaler merge`: join results files (the shards of a sweep) into one, in grid order.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use polars::prelude::DataFrame;

use infscaler_sim::report::row::Cell;

use infscaler_results::atomic;
use infscaler_results::files::{self, Format, Row};

/// The sweep fingerprint written beside a results file by `infscaler sweep`, if any.
fn fingerprint_of(path: &Path) -> Option<String> {
    let jsonl = path.with_extension(Format::Jsonl.extension());
    fs::read_to_string(atomic::with_suffix(&jsonl, ".fingerprint"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Joins the rows of `inputs` (their columns united), checks that no sweep point comes twice,
/// sorts them by `point`, and returns the table.
pub fn merge(inputs: &[PathBuf]) -> Result<DataFrame> {
    if inputs.is_empty() {
        bail!("nothing to merge: give one or more results files");
    }
    let fingerprints: Vec<(String, &PathBuf)> = inputs
        .iter()
        .filter_map(|p| fingerprint_of(p).map(|f| (f, p)))
        .collect();
    if let Some((f0, p0)) = fingerprints.first()
        && let Some((f, p)) = fingerprints.iter().find(|(f, _)| f != f0)
    {
        bail!(
            "{} and {} come from different versions of a sweep (fingerprints {f0} and {f}); \
             rerun the stale shard",
            p0.display(),
            p.display()
        );
    }
    // Through rows, so that the merged table types its columns by the same rule as one sweep
    // (a column that is all null in one shard takes the type of the others).
    let mut rows: Vec<(Option<i64>, Row)> = Vec::new();
    let mut seen: BTreeMap<i64, &PathBuf> = BTreeMap::new();
    for path in inputs {
        for row in files::rows(&files::read(path)?)? {
            let point = row
                .iter()
                .find(|(k, _)| k == "point")
                .and_then(|(_, v)| match v {
                    Cell::Int(i) => Some(*i),
                    _ => None,
                });
            // No point twice: shards of one sweep are disjoint.
            if let Some(p) = point
                && let Some(other) = seen.insert(p, path)
            {
                bail!(
                    "sweep point {p} is in both {} and {}: shards of one sweep never overlap \
                     (is a file given twice, or a shard from another sweep?)",
                    other.display(),
                    path.display()
                );
            }
            rows.push((point, row));
        }
    }
    // Grid order; rows without a point keep their order, after the others.
    rows.sort_by_key(|(p, _)| p.map_or((1, 0), |p| (0, p)));
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    Ok(files::frame(&rows)?)
}

/// Runs the command.
pub fn run(inputs: &[PathBuf], out: &Path) -> Result<ExitCode> {
    Format::of(out)?;
    let mut df = merge(inputs)?;
    files::write(&mut df, out)?;
    println!(
        "{} rows × {} columns from {} file{} → {}",
        df.height(),
        df.width(),
        inputs.len(),
        if inputs.len() == 1 { "" } else { "s" },
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
