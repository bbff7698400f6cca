//! REPORT.md: a header, a summary table of the paper's claims beside ours, then one section per
//! experiment (the modules `fig2`, `fig5`, `table2`, `fig6`, `fig7`) — our numbers (mean over
//! repeats, with the range), the paper's, their ratio, a figure, and what the numbers say.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::{Results, fig2, fig5, fig6, fig7, table2};

/// The whole report.
pub fn report(all: &[Results], out_dir: &Path, quick: bool) -> Result<String> {
    let mut s = String::new();
    let runs: usize = all.iter().map(|r| r.rows.len()).sum();
    let _ = writeln!(s, "# InfScaler paper, reproduced in simulation\n");
    let _ = writeln!(
        s,
        "Made by `infscaler reproduce paper{}` ({} experiments, {runs} rows; the same at any \
         `--jobs`, byte for byte). \
         The paper measured a real Jetson Xavier AGX; these numbers come from infscaler's model of \
         it (`hwprofiles/xavier-agx.toml`), the cost model of each app's layers and the four \
         policies of `sim/src/policy/`. Nothing here is tuned to the paper: where the two differ, \
         the section says by how much and which mechanism of the model explains it.\n",
        if quick { " --quick" } else { "" },
        all.len(),
    );
    if quick {
        let _ = writeln!(
            s,
            "> **Quick run**: one repeat and short runs (see `FIGURES` in \
             `src/reproduce/mod.rs`). The numbers are noisy; the committed reproduction is \
             `results/paper/REPORT.md`.\n"
        );
    }
    let _ = writeln!(
        s,
        "Each number is the mean over the sweep's repeats (seeds derived from the grid \
         coordinates); `a [b–c]` gives the range over repeats. The rows of every run are in \
         `data/<id>.csv` (and `.parquet`), e.g. `infscaler summarize data/fig5.parquet --by \
         app.name,policy.kind --metric capacity_rps`.\n"
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
        .with_context(|| format!("reporting {}", r.figure.id))?;
        body.push_str(&section);
        body.push('\n');
    }
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(s, "| claim | paper | ours | ours / paper |");
    let _ = writeln!(s, "|---|---|---|---|");
    s.push_str(&headline);
    let _ = writeln!(
        s,
        "\nFor a gain or change, ours / paper compares the ratios themselves: (1 + ours) / \
         (1 + paper).\n"
    );
    s.push_str(&body);
    Ok(s)
}
