//! The reports of a reproduction. Under each runtime, `<runtime>/REPORT.md`: a header, a summary
//! table of the paper's claims beside ours, then one section per experiment (the modules `fig2`,
//! `fig5`, `table2`, `fig6`, `fig7`) — our numbers (mean over repeats, with the range), the
//! paper's, their ratio, a figure, and what the numbers say. At the top, `REPORT.md`: the claims
//! under both runtimes side by side, and which hold under which.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::{Results, Runtime, fig2, fig5, fig6, fig7, table2};

const SUMMARY_HEADER: &str =
    "| claim | paper | ours | ours / paper | holds? |\n|---|---|---|---|---|\n";

const SUMMARY_NOTE: &str = "For a gain or change, ours / paper compares the ratios themselves: \
     (1 + ours) / (1 + paper); a claimed gain or change holds when ours goes the same way by at least 1 %.";

/// The report of the experiments run under `runtime`, and its summary rows.
pub fn runtime_report(
    all: &[&Results],
    out_dir: &Path,
    quick: bool,
    runtime: &Runtime,
) -> Result<(String, String)> {
    let mut s = String::new();
    let runs: usize = all.iter().map(|r| r.rows.len()).sum();
    let _ = writeln!(
        s,
        "# InfScaler paper, reproduced in simulation — under {}\n",
        runtime.title
    );
    let _ = writeln!(
        s,
        "Made by `infscaler reproduce paper{}` ({} experiments, {runs} rows; the same at any \
         `--jobs`, byte for byte), every scenario with `serving.runtime = \"{}\"` \
         (`hwprofiles/runtimes/{}.toml`): {} \
         The paper measured a real Jetson Xavier AGX; these numbers come from infscaler's model of \
         it (`hwprofiles/xavier-agx.toml`, calibrated on published measurements: \
         `infscaler calibrate`), the cost model of each app's layers and the four \
         policies of `sim/src/policy/`. Nothing here is tuned to the paper: where the two differ, \
         the section says by how much and which mechanism of the model explains it.\n",
        if quick { " --quick" } else { "" },
        all.len(),
        runtime.name,
        runtime.name,
        runtime.why,
    );
    if quick {
        let _ = writeln!(
            s,
            "> **Quick run**: one repeat and short runs (see `FIGURES` in \
             `src/reproduce/mod.rs`). The numbers are noisy; the committed reproduction is \
             `results/paper/`.\n"
        );
    }
    let _ = writeln!(
        s,
        "Each number is the mean over the sweep's repeats (seeds derived from the grid \
         coordinates); `a [b–c]` gives the range over repeats. The rows of every run are in \
         `../data/<id>-{}.csv` (and `.parquet`), e.g. `infscaler summarize \
         data/fig5-{}.parquet --by app.name,policy.kind --metric capacity_rps`.\n",
        runtime.name, runtime.name
    );
    let mut headline = String::new();
    let mut body = String::new();
    for r in all {
        let section = match r.figure.id {
            "fig2" => fig2::section(r, out_dir, &mut headline),
            "fig5" => fig5::section(r, out_dir, &mut headline),
            "table2" => table2::section(r, all, out_dir, &mut headline),
            "fig6" => fig6::section(r, out_dir, &mut headline),
            "fig7" => fig7::section(r, out_dir, &mut headline),
            other => Ok(format!("## {other}\n\n(no report section)\n")),
        }
        .with_context(|| format!("reporting {} under {}", r.figure.id, runtime.name))?;
        body.push_str(&section);
        body.push('\n');
    }
    let _ = writeln!(s, "## Summary\n");
    s.push_str(SUMMARY_HEADER);
    s.push_str(&headline);
    let _ = writeln!(s, "\n{SUMMARY_NOTE}\n");
    s.push_str(&body);
    Ok((s, headline))
}

/// One row of a summary table: its cells.
fn cells(line: &str) -> Vec<&str> {
    line.trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split(" | ")
        .map(str::trim)
        .collect()
}

/// The top-level report: every claim under each runtime, and which hold where.
pub fn overview(parts: &[(&Runtime, String)], quick: bool, runs: usize) -> String {
    // Claims in order of first appearance; per runtime, (ours, holds).
    let mut claims: Vec<(String, String)> = Vec::new();
    let mut by_runtime: Vec<Vec<(String, String, String)>> = Vec::new();
    for (_, headline) in parts {
        let rows: Vec<(String, String, String)> = headline
            .lines()
            .map(cells)
            .filter(|c| c.len() == 5)
            .map(|c| {
                if !claims.iter().any(|(claim, _)| claim == c[0]) {
                    claims.push((c[0].to_string(), c[1].to_string()));
                }
                (c[0].to_string(), c[2].to_string(), c[4].to_string())
            })
            .collect();
        by_runtime.push(rows);
    }
    let mut s = String::new();
    let _ = writeln!(s, "# InfScaler paper, reproduced in simulation\n");
    let _ = writeln!(
        s,
        "Made by `infscaler reproduce paper{}` ({runs} rows). Every experiment of the paper ran \
         under {} runtimes; each has its full report with figures and the mechanisms behind every \
         difference: {}.\n",
        if quick { " --quick" } else { "" },
        parts.len(),
        parts
            .iter()
            .map(|(r, _)| format!("[{}]({}/REPORT.md)", r.title, r.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (r, _) in parts {
        let _ = writeln!(
            s,
            "- **{}** (`serving.runtime = \"{}\"`): {}",
            r.title, r.name, r.why
        );
    }
    let _ = writeln!(s, "\n## The paper's claims under each runtime\n");
    let mut header = String::from("| claim | paper |");
    let mut rule = String::from("|---|---|");
    for (r, _) in parts {
        let _ = write!(header, " ours, {} | holds? |", r.title);
        rule.push_str("---|---|");
    }
    let _ = writeln!(s, "{header}\n{rule}");
    let lookup = |i: usize, claim: &str| {
        by_runtime[i]
            .iter()
            .find(|(c, _, _)| c == claim)
            .map(|(_, ours, holds)| (ours.clone(), holds.clone()))
            .unwrap_or_else(|| ("-".into(), "-".into()))
    };
    for (claim, paper) in &claims {
        let _ = write!(s, "| {claim} | {paper} |");
        for i in 0..parts.len() {
            let (ours, holds) = lookup(i, claim);
            let _ = write!(s, " {ours} | {holds} |");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "\n{SUMMARY_NOTE}\n");
    let holding = |i: usize| -> Vec<&str> {
        claims
            .iter()
            .filter(|(c, _)| lookup(i, c).1 == "yes")
            .map(|(c, _)| c.as_str())
            .collect()
    };
    for (i, (r, _)) in parts.iter().enumerate() {
        let h = holding(i);
        let _ = writeln!(
            s,
            "Under {}, {} of the {} claims hold{}",
            r.title,
            h.len(),
            claims.len(),
            if h.is_empty() {
                ".".to_string()
            } else {
                format!(": {}.", h.join("; "))
            }
        );
    }
    if parts.len() == 2 {
        let (a, b) = (holding(0), holding(1));
        let only = |x: &[&str], y: &[&str]| -> Vec<String> {
            x.iter()
                .filter(|c| !y.contains(c))
                .map(|c| c.to_string())
                .collect()
        };
        for (r, list) in [(parts[0].0, only(&a, &b)), (parts[1].0, only(&b, &a))] {
            if !list.is_empty() {
                let _ = writeln!(s, "\nOnly under {}: {}.", r.title, list.join("; "));
            }
        }
    }
    s
}
