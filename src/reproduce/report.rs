//! The reports of a reproduction. Under each runtime, `<runtime>/REPORT.md`: a header, a summary
//! table of the paper's claims beside ours, then one section per experiment (the modules `fig2`,
//! `fig5`, `table2`, `fig6`, `fig7`) — our numbers (mean over repeats, with the range), the
//! paper's, their ratio, a figure, and what the numbers say. At the top, `REPORT.md`: the claims
//! under both runtimes side by side, and which hold under which.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::deciders::Decided;
use super::markdown::{Claim, holds};
use super::{OLD_MIN_REQUESTS, OLD_OVERFLOW, OLD_RESOURCE_SHARE, Results, Runtime};
use super::{fig2, fig5, fig6, fig7, table2};

const SUMMARY_HEADER: &str =
    "| claim | paper | ours | ours / paper | holds? |\n|---|---|---|---|---|\n";

const SUMMARY_NOTE: &str = "For a gain or change, ours / paper compares the ratios themselves: \
     (1 + ours) / (1 + paper); a claimed gain or change holds when ours goes the same way by at least 1 %.";

/// The section of experiment `r` (`all`: every experiment under its runtime), its figure drawn
/// into `out_dir` when given; its claims are added to `claims`.
fn section(
    r: &Results,
    all: &[&Results],
    out_dir: Option<&Path>,
    claims: &mut Vec<Claim>,
) -> Result<String> {
    match r.figure.id {
        "fig2" => fig2::section(r, out_dir, claims),
        "fig5" => fig5::section(r, out_dir, claims),
        "table2" => table2::section(r, all, out_dir, claims),
        "fig6" => fig6::section(r, out_dir, claims),
        "fig7" => fig7::section(r, out_dir, claims),
        other => Ok(format!("## {other}\n\n(no report section)\n")),
    }
    .with_context(|| format!("reporting {} under {}", r.figure.id, r.runtime.name))
}

/// The claims of the experiments `all` (run under one runtime), no figure drawn.
pub fn claims_of(all: &[&Results]) -> Result<Vec<Claim>> {
    let mut claims = Vec::new();
    for r in all {
        section(r, all, None, &mut claims)?;
    }
    Ok(claims)
}

/// The report of the experiments run under `runtime`, and its claims.
pub fn runtime_report(
    all: &[&Results],
    out_dir: &Path,
    quick: bool,
    runtime: &Runtime,
) -> Result<(String, Vec<Claim>)> {
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
    let mut claims = Vec::new();
    let mut body = String::new();
    for r in all {
        body.push_str(&section(r, all, Some(out_dir), &mut claims)?);
        body.push('\n');
    }
    let _ = writeln!(s, "## Summary\n");
    s.push_str(SUMMARY_HEADER);
    for c in &claims {
        let _ = writeln!(s, "{}", c.row());
    }
    let _ = writeln!(s, "\n{SUMMARY_NOTE}\n");
    s.push_str(&body);
    Ok((s, claims))
}

/// The claims of one runtime, and of its old configuration.
pub struct Part<'a> {
    /// The runtime.
    pub runtime: &'a Runtime,
    /// The claims of the reproduction.
    pub claims: Vec<Claim>,
    /// The same claims under the old configuration.
    pub old: Vec<Claim>,
}

/// The claim called `name` in `claims`.
fn find<'a>(claims: &'a [Claim], name: &str) -> Option<&'a Claim> {
    claims.iter().find(|c| c.claim == name)
}

/// The top-level report: every claim under each runtime beside its old configuration, which
/// hold where, and what decides each claim (`decided`).
pub fn overview(
    parts: &[Part<'_>],
    quick: bool,
    runs: usize,
    old_runs: usize,
    decided: &Decided,
) -> String {
    // Claims in order of first appearance, with the paper's number.
    let mut claims: Vec<(String, String)> = Vec::new();
    for p in parts {
        for c in &p.claims {
            if !claims.iter().any(|(name, _)| *name == c.claim) {
                claims.push((c.claim.clone(), c.paper.clone()));
            }
        }
    }
    let mut s = String::new();
    let _ = writeln!(s, "# InfScaler paper, reproduced in simulation\n");
    let _ = writeln!(
        s,
        "Made by `infscaler reproduce paper{}` ({runs} rows; the old configuration {old_runs} \
         more, what decides each claim {}). Every experiment of the paper ran under {} runtimes; \
         each has its full report with figures and the mechanisms behind every difference: {}.\n",
        if quick { " --quick" } else { "" },
        decided.runs,
        parts.len(),
        parts
            .iter()
            .map(|p| format!("[{}]({}/REPORT.md)", p.runtime.title, p.runtime.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for p in parts {
        let _ = writeln!(
            s,
            "- **{}** (`serving.runtime = \"{}\"`): {}",
            p.runtime.title, p.runtime.name, p.runtime.why
        );
    }
    let _ = writeln!(s, "\n## The paper's claims under each runtime\n");
    let _ = writeln!(
        s,
        "Each runtime's claims beside its **old configuration**: the same sweeps with the \
         settings before blocking hand-offs, reserved shares and long capacity probes — \
         `serving.overflow = \"{OLD_OVERFLOW}\"` (a full queue downstream drops the request \
         instead of blocking the stage that produced it), InfScaler's `resource_share = \
         \"{OLD_RESOURCE_SHARE}\"` (Algorithm 1's r_k^m read as the load share, so line 4's check \
         never binds) and capacity probes of at least {OLD_MIN_REQUESTS} measured requests. Its \
         rows are in `data/<id>-<runtime>-old.csv`.\n"
    );
    let mut header = String::from("| claim | paper |");
    let mut rule = String::from("|---|---|");
    for p in parts {
        let _ = write!(
            header,
            " ours, {} | holds? | old config | holds? |",
            p.runtime.title
        );
        rule.push_str("---|---|---|---|");
    }
    let _ = writeln!(s, "{header}\n{rule}");
    let cell = |c: Option<&Claim>| {
        c.map_or(" - | - |".to_string(), |c| {
            format!(" {} | {} |", c.ours, holds(c.holds))
        })
    };
    for (claim, paper) in &claims {
        let _ = write!(s, "| {claim} | {paper} |");
        for p in parts {
            let _ = write!(
                s,
                "{}{}",
                cell(find(&p.claims, claim)),
                cell(find(&p.old, claim))
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "\n{SUMMARY_NOTE}\n");
    let holding = |of: &[Claim]| -> Vec<String> {
        claims
            .iter()
            .filter(|(c, _)| find(of, c).is_some_and(|c| c.holds == Some(true)))
            .map(|(c, _)| c.clone())
            .collect()
    };
    for p in parts {
        let h = holding(&p.claims);
        let _ = writeln!(
            s,
            "Under {}, {} of the {} claims hold{}",
            p.runtime.title,
            h.len(),
            claims.len(),
            if h.is_empty() {
                ".".to_string()
            } else {
                format!(": {}.", h.join("; "))
            }
        );
    }
    if let [a, b] = parts {
        let (ha, hb) = (holding(&a.claims), holding(&b.claims));
        let only = |x: &[String], y: &[String]| -> Vec<String> {
            x.iter().filter(|c| !y.contains(c)).cloned().collect()
        };
        for (r, list) in [(a.runtime, only(&ha, &hb)), (b.runtime, only(&hb, &ha))] {
            if !list.is_empty() {
                let _ = writeln!(s, "\nOnly under {}: {}.", r.title, list.join("; "));
            }
        }
    }
    s.push('\n');
    for p in parts {
        let _ = writeln!(s, "{}", old_sentence(p, &claims));
    }
    s.push('\n');
    s.push_str(&super::deciders::section(decided));
    s
}

/// What the old configuration changes under one runtime: the claims whose verdict differs, and
/// those whose number alone does.
fn old_sentence(p: &Part<'_>, claims: &[(String, String)]) -> String {
    let mut turned = Vec::new();
    let mut moved = Vec::new();
    for (name, _) in claims {
        let (Some(now), Some(old)) = (find(&p.claims, name), find(&p.old, name)) else {
            continue;
        };
        if now.holds != old.holds {
            turned.push(format!(
                "{name} ({}: {} → {}: {})",
                old.ours,
                holds(old.holds),
                now.ours,
                holds(now.holds)
            ));
        } else if now.ours != old.ours {
            moved.push(format!("{name} ({} → {})", old.ours, now.ours));
        }
    }
    let mut s = format!(
        "Under {}, the old configuration gives another verdict for {} of the {} claims",
        p.runtime.title,
        turned.len(),
        claims.len()
    );
    if !turned.is_empty() {
        let _ = write!(s, ": {}", turned.join("; "));
    }
    let _ = write!(
        s,
        ". Another number, the same verdict (old → now), for {}",
        moved.len()
    );
    if !moved.is_empty() {
        let _ = write!(s, ": {}", moved.join("; "));
    }
    s.push('.');
    s
}
