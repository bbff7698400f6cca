//! What decides each claim: every `[assumed]`/`[fitted]` parameter of the device and runtime
//! profiles ×0.5 and ×2, one at a time (`infscaler sensitivity`'s variants, [`crate::sensitivity`]),
//! on a reduced sweep of each experiment ([`Config::Reduced`]), and each claim computed again
//! from every variant's rows by the same code as the report. A parameter flips a claim when a
//! variant's verdict differs from the reduced sweep's own; the parameters that decide a claim are
//! those that flip it, then those that move its number most.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, anyhow};

use infscaler_results::files::Row;

use super::markdown::{Claim, holds};
use super::report::claims_of;
use super::{Config, Figure, REDUCED_MIN_REQUESTS, Results, Runtime, data_stem};
use crate::sensitivity::plan::{Experiment, FACTORS, Plan, Profile};
use crate::sensitivity::runs;
use infscaler_sim::experiment::sweep::Sweep;

/// Parameters shown per claim.
const TOP: usize = 3;
/// Parameters varied under `--quick` (a check of the pipeline, not of the numbers): the
/// runtime profile's first.
const QUICK_PARAMS: (Profile, usize) = (Profile::Runtime, 1);

/// One parameter's strongest effect on a claim.
pub struct Mover {
    /// `device:memory.bandwidth`.
    pub parameter: String,
    /// Its source tag.
    pub tag: String,
    /// The factor shown: one that flips the claim, else the one that moves it most.
    pub factor: f64,
    /// The claim under that variant.
    pub claim: Claim,
    /// Whether that variant flips the verdict.
    pub flips: bool,
    /// |ours under the variant − ours as written| (0 without both).
    pub moved: f64,
}

/// What decides one claim.
pub struct Decision {
    /// The claim on the reduced sweep as written.
    pub base: Claim,
    /// The parameters that flip it.
    pub flipped_by: Vec<String>,
    /// The top parameters: those that flip it first, then by how far they move it.
    pub top: Vec<Mover>,
}

/// The analysis of every claim under one runtime.
pub struct Decided {
    /// The runtime.
    pub runtime: &'static Runtime,
    /// Whether the sweeps carried the `--quick` overrides.
    pub quick: bool,
    /// The device and runtime profiles varied.
    pub profiles: [String; 2],
    /// The parameters varied (`device:memory.bandwidth`).
    pub params: Vec<String>,
    /// Runs made (or found on disk).
    pub runs: usize,
    /// The variants that could not run, with the first line of why.
    pub not_run: Vec<(String, String)>,
    /// Per claim, in report order.
    pub claims: Vec<Decision>,
}

/// Runs the variants of every `reduced` sweep under `runtime` (rows kept in `data`, so an
/// interrupted reproduction resumes) and finds what decides each claim.
pub fn analyse(
    reduced: &[(&'static Figure, Sweep)],
    runtime: &'static Runtime,
    jobs: usize,
    data: &Path,
    quick: bool,
) -> Result<Decided> {
    let mut out = Decided {
        runtime,
        quick,
        profiles: [String::new(), String::new()],
        params: Vec::new(),
        runs: 0,
        not_run: Vec::new(),
        claims: Vec::new(),
    };
    for (figure, sweep) in reduced {
        let experiment = Experiment::of_sweep(sweep, &sweep.points())?;
        let plan = Plan::new(experiment, &sweep.origin, quick.then_some(QUICK_PARAMS))?;
        let spec = &plan.experiment.units[0].scenario.scenario;
        out.profiles = [
            spec.device.profile.trim().to_string(),
            spec.serving.runtime.trim().to_string(),
        ];
        out.params = (0..plan.params.len()).map(|i| label(&plan, i).0).collect();
        let stem = data_stem(figure, runtime, Config::Reduced);
        let file = data.join(format!("{stem}.runs.jsonl"));
        eprintln!(
            "{} under {}: what decides its claims, {} variants of {} …",
            figure.id,
            runtime.name,
            plan.variants.len(),
            sweep.origin
        );
        let runs = runs::execute(&plan, jobs, &file, &stem)?;
        out.runs += runs.new + runs.resumed;
        let claims = |rows: &[Row]| -> Result<Vec<Claim>> {
            let r = Results {
                figure,
                runtime,
                rows: rows.to_vec(),
                csv: String::new(),
            };
            claims_of(&[&r])
        };
        let base_rows = runs.rows[0]
            .as_ref()
            .map_err(|e| anyhow!("{}: {e}", sweep.origin))?;
        let base = claims(base_rows)?;
        // Per parameter, per factor: the claims under that variant (`None`: it did not run).
        let mut varied: Vec<Vec<Option<Vec<Claim>>>> = Vec::new();
        for i in 0..plan.params.len() {
            let mut per_factor = Vec::new();
            for (j, factor) in FACTORS.iter().enumerate() {
                let v = Plan::variant_of(i, j);
                let result = match &runs.rows[v] {
                    Ok(rows) => claims(rows).map_err(|e| format!("{e:#}")),
                    Err(e) => Err(e.clone()),
                };
                match result {
                    Ok(c) => per_factor.push(Some(c)),
                    Err(e) => {
                        let name = format!("{} ×{factor}", label(&plan, i).0);
                        if !out.not_run.iter().any(|(n, _)| *n == name) {
                            // The profile's own complaint, without the scenario around it.
                            let first = e.lines().next().unwrap_or("");
                            let first = first
                                .rsplit_once("(the varied profile): ")
                                .map_or(first, |(_, why)| why)
                                .to_string();
                            out.not_run.push((name, first));
                        }
                        per_factor.push(None);
                    }
                }
            }
            varied.push(per_factor);
        }
        let labels: Vec<(String, String)> =
            (0..plan.params.len()).map(|i| label(&plan, i)).collect();
        for c in base {
            out.claims.push(decide(&labels, c, &varied));
        }
    }
    Ok(out)
}

/// `(device:memory.bandwidth, its tag)`.
fn label(plan: &Plan, i: usize) -> (String, String) {
    let (profile, p) = &plan.params[i];
    (format!("{}:{}", profile.name(), p.name), p.tag.clone())
}

/// What decides claim `base`, from its value under every variant (`varied[i][j]`: parameter
/// `i`, named and tagged by `labels[i]`, × `FACTORS[j]`: the claims of that variant).
fn decide(
    labels: &[(String, String)],
    base: Claim,
    varied: &[Vec<Option<Vec<Claim>>>],
) -> Decision {
    let mut movers: Vec<Mover> = Vec::new();
    for (per_factor, (parameter, tag)) in varied.iter().zip(labels) {
        let (parameter, tag) = (parameter.clone(), tag.clone());
        let candidates = per_factor
            .iter()
            .zip(FACTORS)
            .filter_map(|(claims, factor)| {
                let claim = claims.as_ref()?.iter().find(|c| c.claim == base.claim)?;
                let flips = matches!((claim.holds, base.holds), (Some(a), Some(b)) if a != b);
                let moved = match (claim.value, base.value) {
                    (Some(a), Some(b)) => (a - b).abs(),
                    _ => 0.0,
                };
                Some((factor, claim.clone(), flips, moved))
            });
        // Its strongest factor: a flip first, then the larger move (the first of equals).
        let best = candidates.fold(
            None,
            |best: Option<(f64, Claim, bool, f64)>, c| match best {
                Some(b) if (b.2, b.3) >= (c.2, c.3) => Some(b),
                _ => Some(c),
            },
        );
        if let Some((factor, claim, flips, moved)) = best {
            movers.push(Mover {
                parameter,
                tag,
                factor,
                claim,
                flips,
                moved,
            });
        }
    }
    let flipped_by = movers
        .iter()
        .filter(|m| m.flips)
        .map(|m| m.parameter.clone())
        .collect();
    // Stable: equals keep document order.
    movers.sort_by(|a, b| b.flips.cmp(&a.flips).then(b.moved.total_cmp(&a.moved)));
    // A move too small to show in ours' own precision is no move.
    movers.retain(|m| m.flips || (m.moved > 0.0 && m.claim.ours != base.ours));
    movers.truncate(TOP);
    Decision {
        base,
        flipped_by,
        top: movers,
    }
}

/// The report's section.
pub fn section(d: &Decided) -> String {
    let mut s = format!("## What decides each claim, under {}\n\n", d.runtime.title);
    let _ = writeln!(
        s,
        "Each claim computed again, by the same code, under `infscaler sensitivity`'s variants of \
         its sweep: {} ×{} and ×{}, one at a time. So that the reproduction stays within reach of \
         2 cores the sweeps are reduced: one repeat (the first seed of each cell) and capacity \
         probes of at least {} measured requests{}. Column \"reduced\" is the claim on the \
         reduced sweep as written: the reference each variant is compared with. {} runs \
         (`data/<id>-{}-sensitivity.runs.jsonl`).",
        if d.quick {
            format!(
                "under `--quick` only the first `[assumed]`/`[fitted]` parameter of the runtime \
                 profile `{}` ({})",
                d.profiles[1],
                d.params
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "every one of the {} `[assumed]`/`[fitted]` parameters of the device profile `{}` \
                 and the runtime profile `{}`",
                d.params.len(),
                d.profiles[0],
                d.profiles[1]
            )
        },
        FACTORS[0],
        FACTORS[1],
        if d.quick {
            super::QUICK_MIN_REQUESTS
        } else {
            REDUCED_MIN_REQUESTS
        },
        if d.quick {
            " (as the rest of a quick run)"
        } else {
            " (2,000 above)"
        },
        d.runs,
        d.runtime.name
    );
    if !d.not_run.is_empty() {
        let list: Vec<String> = d
            .not_run
            .iter()
            .map(|(n, why)| format!("`{n}` ({why})"))
            .collect();
        let _ = writeln!(
            s,
            "\n{} variant{} could not run: {}.",
            d.not_run.len(),
            if d.not_run.len() == 1 { "" } else { "s" },
            list.join("; ")
        );
    }
    let _ = writeln!(
        s,
        "\nA parameter *flips* a claim when a variant's verdict differs from the reduced \
         sweep's. \"Decided by\": the top {TOP} parameters, those that flip the claim first, then \
         by how far they move ours — each with the factor that does it and ours under that \
         variant.\n"
    );
    let _ = writeln!(
        s,
        "| claim | reduced | holds? | flipped by | decided by |\n|---|---|---|---|---|"
    );
    for c in &d.claims {
        let top: Vec<String> = c
            .top
            .iter()
            .map(|m| {
                format!(
                    "`{}` [{}] ×{} → {}{}",
                    m.parameter,
                    m.tag,
                    m.factor,
                    m.claim.ours,
                    if m.flips {
                        format!(" ({})", flip_word(m.claim.holds))
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} of {} | {} |",
            c.base.claim,
            c.base.ours,
            holds(c.base.holds),
            c.flipped_by.len(),
            d.params.len(),
            if top.is_empty() {
                "no parameter moves it".to_string()
            } else {
                top.join("; ")
            }
        );
    }
    s.push('\n');
    s.push_str(&summary(d));
    s
}

/// `flips to yes` / `flips to no`.
fn flip_word(holds: Option<bool>) -> &'static str {
    match holds {
        Some(true) => "flips to yes",
        _ => "flips to no",
    }
}

/// The sentences under the table: which claims flip, and the parameters that flip the most.
fn summary(d: &Decided) -> String {
    let (flipping, steady): (Vec<&Decision>, Vec<&Decision>) =
        d.claims.iter().partition(|c| !c.flipped_by.is_empty());
    let judged: Vec<&&Decision> = steady.iter().filter(|c| c.base.holds.is_some()).collect();
    let mut s = format!(
        "{} of the {} claims flip under at least one variant{}",
        flipping.len(),
        d.claims.len(),
        if flipping.is_empty() {
            ".".to_string()
        } else {
            let list: Vec<String> = flipping
                .iter()
                .map(|c| {
                    format!(
                        "{} ({} of {})",
                        c.base.claim,
                        c.flipped_by.len(),
                        d.params.len()
                    )
                })
                .collect();
            format!(": {}.", list.join("; "))
        }
    );
    if !judged.is_empty() {
        let names: Vec<&str> = judged.iter().map(|c| c.base.claim.as_str()).collect();
        let _ = write!(
            s,
            " The verdict of {} holds under every variant: {}.",
            if judged.len() == 1 {
                "one".to_string()
            } else {
                format!("{}", judged.len())
            },
            names.join("; ")
        );
    }
    // Parameters by the claims they flip, most first (ties in document order).
    let mut counts: Vec<(&str, usize)> = d
        .params
        .iter()
        .map(|p| {
            let n = d
                .claims
                .iter()
                .filter(|c| c.flipped_by.iter().any(|f| f == p))
                .count();
            (p.as_str(), n)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    if !counts.is_empty() {
        let list: Vec<String> = counts
            .iter()
            .take(TOP)
            .map(|(p, n)| format!("`{p}` ({n} claim{})", if *n == 1 { "" } else { "s" }))
            .collect();
        let _ = write!(
            s,
            " The parameters that flip the most claims: {}.",
            list.join(", ")
        );
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gain(value: f64) -> Vec<Claim> {
        vec![Claim::gain(
            "c",
            0.165,
            Some(value),
            &super::super::markdown::pct(value),
        )]
    }

    #[test]
    fn flips_rank_first_then_visible_moves_and_unmoved_parameters_are_left_out() {
        let labels: Vec<(String, String)> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| (format!("device:{n}"), "assumed".to_string()))
            .collect();
        let varied = vec![
            // a: moves it far, both ways, without flipping.
            vec![Some(gain(0.50)), Some(gain(0.05))],
            // b: not run at ×0.5; ×2 moves it below the 1 % of a gain: a flip.
            vec![None, Some(gain(0.004))],
            // c: a move too small to show (+20.0 % either way).
            vec![Some(gain(0.20001)), Some(gain(0.2))],
            // d: a small visible move.
            vec![Some(gain(0.21)), Some(gain(0.2))],
            // e: the claim missing from its rows.
            vec![Some(Vec::new()), None],
        ];
        let d = decide(&labels, gain(0.2).remove(0), &varied);
        assert_eq!(d.flipped_by, vec!["device:b".to_string()]);
        let top: Vec<(&str, f64, bool)> = d
            .top
            .iter()
            .map(|m| (m.parameter.as_str(), m.factor, m.flips))
            .collect();
        assert_eq!(
            top,
            vec![
                ("device:b", 2.0, true),
                ("device:a", 0.5, false),
                ("device:d", 0.5, false)
            ]
        );
        assert_eq!(d.top[1].claim.ours, "+50.0 %");
    }
}
