//! `infscaler merge`: join results files (the shards of a sweep) into one, in grid order.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use polars::prelude::{DataFrame, DataType, SortMultipleOptions};

use crate::atomic;
use crate::results::{self, Format};

/// The sweep fingerprint written beside a results file by `infscaler sweep`, if any.
fn fingerprint_of(path: &Path) -> Option<String> {
    let jsonl = path.with_extension(Format::Jsonl.extension());
    fs::read_to_string(atomic::with_suffix(&jsonl, ".fingerprint"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Concatenates `inputs` (their columns united), checks that no sweep point comes twice, sorts
/// by `point` when there is one, and returns the table.
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
    let frames: Vec<DataFrame> = inputs
        .iter()
        .map(|p| results::read(p))
        .collect::<Result<_>>()?;

    // No point twice: shards of one sweep are disjoint.
    let mut seen: BTreeMap<i64, &PathBuf> = BTreeMap::new();
    for (df, path) in frames.iter().zip(inputs) {
        let Ok(points) = df.column("point") else {
            continue;
        };
        let points = points
            .cast(&DataType::Int64)
            .with_context(|| format!("{}: column point", path.display()))?;
        for p in points.i64()?.iter().flatten() {
            if let Some(other) = seen.insert(p, path) {
                bail!(
                    "sweep point {p} is in both {} and {}: shards of one sweep never overlap \
                     (is a file given twice, or a shard from another sweep?)",
                    other.display(),
                    path.display()
                );
            }
        }
    }
    let mut df = polars::functions::concat_df_diagonal(&frames).context("joining the tables")?;
    if df.column("point").is_ok() {
        df = df.sort(
            ["point"],
            SortMultipleOptions::default().with_maintain_order(true),
        )?;
    }
    Ok(df)
}

/// Runs the command.
pub fn run(inputs: &[PathBuf], out: &Path) -> Result<ExitCode> {
    Format::of(out)?;
    let mut df = merge(inputs)?;
    results::write(&mut df, out)?;
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
