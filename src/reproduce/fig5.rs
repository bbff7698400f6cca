//! Fig. 5 of the paper: each system's capacity (the highest rate that meets the SLO) per app and
//! SLO, and InfScaler's gain over each baseline against the paper's averages.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use infscaler_sim::model::zoo;
use infscaler_sim::report::row::{Cell, cell};
use infscaler_sim::workload::app::builtin_app;

use super::markdown::{
    Claim, and_list, pct, per_system_means, ratio, source_line, system, with_range,
};
use super::stats::{Table, gain, mean_of, median_of};
use super::{Results, paper};
use crate::figures::{self, Bars};

/// "SPRIGHT comes close to or above InfScaler" at the loosest SLO: InfScaler's mean gain over
/// SPRIGHT there is at most this (+10 %), so SPRIGHT serves at least about nine tenths of
/// InfScaler's capacity.
const CLOSE_GAIN: f64 = 0.10;

/// An app's capacities "vary widely between seeds": over its cells (SLO × system), the median
/// range of the capacity over repeats is at least half its mean.
const WIDE_RANGE: f64 = 0.5;

/// An app serves "a few requests per second": no system's mean capacity at any SLO reaches this
/// (req/s).
const FEW_PER_S: f64 = 30.0;

/// What InfScaler's mean gain over each baseline is beside the paper's: `(baseline, ours, paper)`
/// with display names.
fn gain_verdict(gains: &[(&str, f64, f64)]) -> String {
    let (more, less): (Vec<_>, Vec<_>) = gains.iter().partition(|(_, ours, p)| ours > p);
    let names = |v: &[&(&str, f64, f64)]| v.iter().map(|g| g.0).collect::<Vec<_>>().join(", ");
    let verdict = match (more.is_empty(), less.is_empty()) {
        (true, true) => {
            return "No baseline has a capacity above 0 here, so InfScaler has no mean \
                                gain to compare with the paper's."
                .to_string();
        }
        (false, true) => "above the paper's over every baseline".to_string(),
        (true, false) => "below the paper's over every baseline".to_string(),
        (false, false) => format!(
            "above the paper's over {} and below it over {}",
            names(&more),
            names(&less)
        ),
    };
    format!("InfScaler's mean gain is {verdict}.")
}

/// `n cell(s)`.
fn cells(n: usize) -> String {
    format!("{n} cell{}", if n == 1 { "" } else { "s" })
}

/// The mechanisms of the model behind InfScaler's gains over the baselines whose mean gain is
/// above the paper's (`above`: policy kinds), unnumbered. `zero`: the cells where a baseline's
/// capacity is 0, by policy kind.
fn mechanisms(above: &[&str], zero: &HashMap<&str, usize>) -> Vec<String> {
    let zero_of = |b: &str| zero.get(b).copied().unwrap_or(0);
    let mut out = Vec::new();
    if above.contains(&"infless") {
        let mut m = String::from(
            "INFless reserves a GPU share per instance and, as its source does, never reserves \
             more than the whole GPU; on a Jetson's one GPU that is about two instances (see the \
             instance counts above), and INFless has no notion of DLAs, so under load its queues \
             grow while InfScaler scales partitions out onto the DLAs.",
        );
        if zero_of("infless") > 0 {
            let _ = write!(
                m,
                " INFless has capacity 0 in {}.",
                cells(zero_of("infless"))
            );
        }
        out.push(m);
    }
    if above.contains(&"knative") {
        let mut m = String::from(
            "Knative pays an HTTP hop with serialisation between partitions and a cold start \
             whenever its KPA scales up from zero",
        );
        match zero_of("knative") {
            0 => m.push('.'),
            n => {
                let _ = write!(
                    m,
                    ", which at a tight SLO leaves no room: capacity 0 in {}.",
                    cells(n)
                );
            }
        }
        out.push(m);
    }
    if above.contains(&"spright") || above.contains(&"knative") {
        out.push(
            "SPRIGHT and Knative scale on concurrency (KPA) without looking at memory or \
             accelerators: they add whole-model replicas on the GPU, each a container whose \
             kernels time-slice the GPU with the others' (REFERENCE.md §8g), which adds \
             throughput only where the runtime's host time leaves the GPU idle."
                .to_string(),
        );
    }
    out
}

/// How SPRIGHT fares at the loosest SLO (`slo`, a multiplier) given InfScaler's mean gain over
/// it there (see [`CLOSE_GAIN`]).
fn loose_slo_sentence(slo: &str, gain: f64) -> String {
    let slo = slo
        .parse::<f64>()
        .map_or(slo.to_string(), |x| x.to_string());
    if gain <= CLOSE_GAIN {
        format!(
            "At the loose SLO ({slo}×) batching and replicas suffice and SPRIGHT comes close to \
             or above InfScaler."
        )
    } else {
        format!(
            "Even at the loose SLO ({slo}×) InfScaler's mean gain over SPRIGHT is {}.",
            pct(gain)
        )
    }
}

/// One app's spread of capacities: its name, the median over its cells of the capacity's range
/// over repeats relative to its mean (`None` without repeats), and the largest mean capacity of
/// any system at any SLO.
struct AppSpread {
    app: String,
    median_range: Option<f64>,
    top_capacity: Option<f64>,
}

/// Which apps' ratios are the least reliable because their capacities vary widely between seeds
/// ([`WIDE_RANGE`]), and why when they all serve only a few requests per second
/// ([`FEW_PER_S`]); `model` names the heaviest model they share. `None` when no app varies
/// widely (or the sweep has no repeats).
fn least_reliable(
    spreads: &[AppSpread],
    model: impl Fn(&[&str]) -> Option<String>,
) -> Option<String> {
    let wide: Vec<&AppSpread> = spreads
        .iter()
        .filter(|a| a.median_range.is_some_and(|r| r >= WIDE_RANGE))
        .collect();
    if wide.is_empty() {
        return None;
    }
    let apps: Vec<&str> = wide.iter().map(|a| a.app.as_str()).collect();
    let names = and_list(&apps.iter().map(|a| a.to_uppercase()).collect::<Vec<_>>());
    let one = wide.len() == 1;
    let (their, s) = if one { ("its", "s") } else { ("their", "") };
    let few = wide
        .iter()
        .all(|a| a.top_capacity.is_some_and(|c| c < FEW_PER_S));
    Some(if few {
        format!(
            "{names}{} serve{s} a few requests per second in the model and {their} capacities \
             vary widely between seeds (see the ranges), so {their} ratios are the least \
             reliable.",
            model(&apps).map_or(String::new(), |m| format!(" ({m})"))
        )
    } else {
        format!(
            "The capacities of {names} vary widely between seeds (see the ranges), so {their} \
             ratios are the least reliable."
        )
    })
}

/// The heaviest zoo model (by published FLOPs) that every one of `apps` (built-in apps) runs, by
/// the name its zoo description starts with (`GPT-2 medium`).
fn shared_model(apps: &[&str]) -> Option<String> {
    let stages: Vec<&[&str]> = apps
        .iter()
        .map(|a| builtin_app(a).map(|b| b.stages))
        .collect::<Option<_>>()?;
    let (first, rest) = stages.split_first()?;
    first
        .iter()
        .filter(|m| rest.iter().all(|s| s.contains(m)))
        .filter_map(|m| zoo::entry(m).ok())
        .max_by_key(|e| e.published_flops)
        .map(|e| {
            e.description
                .split(" (")
                .next()
                .unwrap_or(e.name)
                .to_string()
        })
}

/// Seed-to-seed spread within which a cell's capacity counts as settled: ±10 % of its mean
/// (issue 14's bar for Fig. 5).
const SETTLED_HALF_RANGE: f64 = 0.10;

/// One cell whose capacities over the seeds spread beyond ±[`SETTLED_HALF_RANGE`].
#[derive(Clone, Debug, PartialEq)]
struct WideCell {
    /// `LPR 1.5× InfScaler`.
    name: String,
    /// Half the range over the mean.
    half_range: f64,
}

/// What the rows say about the seeds: cells with a capacity above 0 (and of them those within
/// ±10 %), the wider cells, searches (and of them those with a probe decided on its point
/// estimate), and the fewest requests any probe measured.
#[derive(Clone, Debug, Default, PartialEq)]
struct SeedSpread {
    judged: usize,
    settled: usize,
    wide: Vec<WideCell>,
    searches: usize,
    point_decided: usize,
    fewest: Option<f64>,
}

/// The [`SeedSpread`] of the Fig. 5 rows. `None` without repeats.
fn seed_spread(
    r: &Results,
    cap: &Table,
    apps: &[String],
    slos: &[String],
    systems: &[String],
) -> Option<SeedSpread> {
    let mut out = SeedSpread::default();
    for row in &r.rows {
        let cell = |name: &str| cell(row, name).and_then(Cell::as_f64);
        if let Some(n) = cell("capacity_point_decisions") {
            out.searches += 1;
            out.point_decided += usize::from(n > 0.0);
        }
        if let Some(f) = cell("capacity_min_measured") {
            out.fewest = Some(out.fewest.map_or(f, |x: f64| x.min(f)));
        }
    }
    for app in apps {
        for slo in slos {
            for sys in systems {
                let key = [app.as_str(), slo.as_str(), sys.as_str()];
                let Some(range) = cap.get(&key).relative_range() else {
                    continue;
                };
                out.judged += 1;
                if range / 2.0 <= SETTLED_HALF_RANGE {
                    out.settled += 1;
                } else {
                    out.wide.push(WideCell {
                        name: format!("{} {slo}× {}", app.to_uppercase(), system(sys)),
                        half_range: range / 2.0,
                    });
                }
            }
        }
    }
    (out.judged > 0).then_some(out)
}

/// The paragraph on the seed ranges, from a [`SeedSpread`].
fn spread_text(sp: &SeedSpread) -> String {
    let mut s = format!(
        "**Seed ranges.** {} of the {} cells with a capacity above 0 lie within ±{:.0} % of \
         their mean over the seeds.",
        sp.settled,
        sp.judged,
        SETTLED_HALF_RANGE * 100.0
    );
    if let Some(f) = sp.fewest {
        let _ = write!(
            s,
            " Every probe of every search measured at least {f:.0} requests."
        );
    }
    if !sp.wide.is_empty() {
        let list: Vec<String> = sp
            .wide
            .iter()
            .map(|c| format!("{} (±{:.1} %)", c.name, c.half_range * 100.0))
            .collect();
        let _ = write!(s, " Wider: {}.", list.join(", "));
    }
    if sp.point_decided > 0 {
        let _ = write!(
            s,
            " In {} of the {} searches a probe's attainment interval still held the 99 % target \
             after every extension and the point estimate decided it: near the boundary the \
             probes cannot tell rates apart to the search's tolerance, so each seed's capacity \
             lands somewhere in that band, and a cell's range is the band's width. The \
             intervals are Wilson's widened to the batch-means interval, which allows for late \
             requests coming in bursts: the more a probe's late requests cluster, the wider its \
             interval and the more likely it ends undecided.",
            sp.point_decided, sp.searches
        );
    }
    s
}

/// The section.
pub fn section(r: &Results, out_dir: Option<&Path>, headline: &mut Vec<Claim>) -> Result<String> {
    let keys = ["app.name", "slo.multiplier", "policy.kind"];
    let cap = Table::new(&r.rows, &keys, "capacity_rps")?;
    let inst = Table::new(&r.rows, &keys, "instances_total")?;
    let (apps, slos, systems) = (cap.values(0), cap.values(1), cap.values(2));
    let baselines: Vec<&String> = systems.iter().filter(|s| *s != "infscaler").collect();

    let mut s = String::new();
    let _ = writeln!(s, "## Fig. 5 — throughput while meeting the SLO\n");
    s.push_str(&source_line(r));
    let _ = writeln!(
        s,
        "\nCapacity: the highest Poisson rate at which ≥ 99 % of requests meet the SLO and none \
         is dropped (`infscaler capacity`: each probe measures at least `min_requests` requests \
         and is decided on the Wilson and batch-means intervals of its attainment), per app, SLO multiplier and \
         system on a Xavier AGX. Columns: capacity in req/s with its range over the seeds, and \
         InfScaler's capacity over each baseline's (×).\n"
    );
    let mut gains: HashMap<(&str, &str), Vec<f64>> = HashMap::new();
    let mut zero: HashMap<&str, usize> = HashMap::new();
    for slo in &slos {
        let _ = writeln!(s, "SLO {slo}×:\n");
        let mut header = String::from("| app |");
        let mut rule = String::from("|---|");
        for sys in &systems {
            let _ = write!(header, " {} |", system(sys));
            rule.push_str("---|");
        }
        for b in &baselines {
            let _ = write!(header, " ×{} |", system(b));
            rule.push_str("---|");
        }
        let _ = writeln!(s, "{header}\n{rule}");
        for app in &apps {
            let mut line = format!("| {app} |");
            for sys in &systems {
                let _ = write!(line, " {} |", with_range(cap.get(&[app, slo, sys])));
            }
            let ours = cap.mean(&[app, slo, "infscaler"]);
            for b in &baselines {
                let theirs = cap.mean(&[app, slo, b]);
                let _ = write!(line, " {} |", ratio(ours, theirs));
                match ours.zip(theirs).and_then(|(o, t)| gain(o, t)) {
                    Some(g) => {
                        gains.entry((b.as_str(), "all")).or_default().push(g);
                        gains.entry((b.as_str(), slo.as_str())).or_default().push(g);
                    }
                    None => *zero.entry(b.as_str()).or_default() += 1,
                }
            }
            let _ = writeln!(s, "{line}");
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "InfScaler's improvement over each baseline, over the app × SLO cells (cells where the \
         baseline's capacity is 0 have no ratio and are counted apart):\n"
    );
    let _ = writeln!(
        s,
        "| baseline | paper: average | ours: mean | ours: median | cells | baseline 0 |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for (b, paper_gain) in paper::FIG5_AVERAGE_GAIN {
        let g = gains.get(&(b, "all")).cloned().unwrap_or_default();
        let (mean, median) = (mean_of(&g), median_of(&g));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            system(b),
            pct(paper_gain),
            mean.map_or("-".into(), pct),
            median.map_or("-".into(), pct),
            g.len(),
            zero.get(b).copied().unwrap_or(0)
        );
        let claim = format!("Fig. 5: throughput gain over {} (average)", system(b));
        let ours_text = format!(
            "{} (median {})",
            mean.map_or("-".into(), pct),
            median.map_or("-".into(), pct)
        );
        headline.push(Claim::gain(&claim, paper_gain, mean, &ours_text));
    }
    for (slo, paper_gain) in [
        ("3.0", paper::FIG5_GAIN_AT_3X),
        ("1.5", paper::FIG5_GAIN_AT_1_5X),
    ] {
        let g = gains.get(&("spright", slo)).cloned().unwrap_or_default();
        let mean = mean_of(&g);
        let claim = format!("Fig. 5: gain over SPRIGHT at SLO {slo}×");
        let ours_text = mean.map_or("-".into(), pct);
        headline.push(Claim::gain(&claim, paper_gain, mean, &ours_text));
    }
    // Scale-out at capacity: what each system ran with.
    let _ = writeln!(
        s,
        "\nInstances at the end of the run at capacity (mean over apps and SLOs): {}.",
        per_system_means(&systems, |sys| {
            apps.iter()
                .flat_map(|a| slos.iter().map(move |l| (a, l)))
                .filter_map(|(a, l)| inst.mean(&[a, l, sys]))
                .collect()
        })
    );
    // Baselines by InfScaler's median gain over them, smallest first: the strongest baseline
    // first; the paper's order is that of its average gains.
    let mut order: Vec<(&str, f64)> = paper::FIG5_AVERAGE_GAIN
        .iter()
        .filter_map(|(b, _)| Some((*b, median_of(gains.get(&(*b, "all"))?)?)))
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut paper_order = paper::FIG5_AVERAGE_GAIN;
    paper_order.sort_by(|a, b| a.1.total_cmp(&b.1));
    let beaten: Vec<String> = apps
        .iter()
        .flat_map(|a| slos.iter().map(move |l| (a, l)))
        .filter_map(|(a, l)| {
            let ours = cap.mean(&[a, l, "infscaler"])?;
            let above: Vec<&str> = baselines
                .iter()
                .filter(|b| cap.mean(&[a, l, b]).is_some_and(|t| t > ours))
                .map(|b| system(b))
                .collect();
            (!above.is_empty()).then(|| format!("{a} at {l}× ({})", above.join(", ")))
        })
        .collect();
    let names = |v: &[(&str, f64)]| {
        v.iter()
            .map(|(b, _)| system(b))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        s,
        "\nBaselines from the strongest (smallest median gain) to the weakest: here {}; the \
         paper's order is {}. Cells where a baseline's capacity exceeds InfScaler's: {}.",
        names(&order),
        names(&paper_order),
        if beaten.is_empty() {
            "none".to_string()
        } else {
            format!(
                "{} of {} — {}",
                beaten.len(),
                apps.len() * slos.len(),
                beaten.join("; ")
            )
        }
    );

    if let Some(spread) = seed_spread(r, &cap, &apps, &slos, &systems) {
        let _ = writeln!(s, "\n{}", spread_text(&spread));
    }

    // What the numbers say, and the mechanisms behind the differences they show.
    let mean_gains: Vec<(&str, f64, f64)> = paper::FIG5_AVERAGE_GAIN
        .iter()
        .filter_map(|(b, p)| Some((*b, mean_of(gains.get(&(*b, "all"))?)?, *p)))
        .collect();
    let shown: Vec<(&str, f64, f64)> = mean_gains
        .iter()
        .map(|(b, m, p)| (system(b), *m, *p))
        .collect();
    let mut why = format!("**Why it differs.** {}", gain_verdict(&shown));
    let above: Vec<&str> = mean_gains
        .iter()
        .filter(|(_, m, p)| m > p)
        .map(|(b, _, _)| *b)
        .collect();
    let mechanisms = mechanisms(&above, &zero);
    if !mechanisms.is_empty() {
        why.push_str(" The mechanisms of the model behind the gaps:");
        for (i, m) in mechanisms.iter().enumerate() {
            let _ = write!(why, " ({}) {m}", i + 1);
        }
    }
    let loosest = slos
        .iter()
        .filter_map(|l| Some((l, l.parse::<f64>().ok()?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(l, _)| l);
    if slos.len() > 1
        && let Some(loosest) = loosest
        && let Some(g) = gains
            .get(&("spright", loosest.as_str()))
            .and_then(|g| mean_of(g))
    {
        let _ = write!(why, " {}", loose_slo_sentence(loosest, g));
    }
    let spreads: Vec<AppSpread> = apps
        .iter()
        .map(|app| {
            let cap = &cap;
            let cells: Vec<_> = slos
                .iter()
                .flat_map(|l| systems.iter().map(move |sys| cap.get(&[app, l, sys])))
                .collect();
            let ranges: Vec<f64> = cells.iter().filter_map(|c| c.relative_range()).collect();
            AppSpread {
                app: app.clone(),
                median_range: median_of(&ranges),
                top_capacity: cells.iter().filter_map(|c| c.mean).reduce(f64::max),
            }
        })
        .collect();
    if let Some(sentence) = least_reliable(&spreads, shared_model) {
        let _ = write!(why, " {sentence}");
    }
    let _ = writeln!(s, "\n{why}\n");

    figures::draw_in(out_dir, "fig5.png", slos.len(), (560, 420), |a| {
        for (k, slo) in slos.iter().enumerate() {
            let series: Vec<Bars> = systems
                .iter()
                .map(|sys| Bars {
                    name: system(sys).to_string(),
                    values: apps
                        .iter()
                        .map(|app| {
                            let ours = cap.mean(&[app, slo, "infscaler"])?;
                            let v = cap.mean(&[app, slo, sys])?;
                            (ours > 0.0).then(|| v / ours)
                        })
                        .collect(),
                })
                .collect();
            figures::grouped_bars(
                &a[k],
                &format!("Fig. 5: SLO {slo}×"),
                &apps,
                &series,
                "capacity / InfScaler's",
                false,
            )?;
        }
        Ok(())
    })?;
    let _ = writeln!(s, "![Fig. 5](fig5.png)");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_says_where_our_gain_is_above_or_below_the_papers() {
        let above = gain_verdict(&[("SPRIGHT", 1.5, 0.35), ("INFless", 40.0, 0.48)]);
        assert_eq!(
            above,
            "InfScaler's mean gain is above the paper's over every baseline."
        );
        let below = gain_verdict(&[("SPRIGHT", 0.1, 0.35), ("INFless", 0.2, 0.48)]);
        assert_eq!(
            below,
            "InfScaler's mean gain is below the paper's over every baseline."
        );
        let mixed = gain_verdict(&[("SPRIGHT", 0.1, 0.35), ("INFless", 0.9, 0.48)]);
        assert_eq!(
            mixed,
            "InfScaler's mean gain is above the paper's over INFless and below it over SPRIGHT."
        );
        assert!(gain_verdict(&[]).starts_with("No baseline"));
    }

    #[test]
    fn a_mechanism_is_given_only_for_a_gain_above_the_papers() {
        let zero = HashMap::from([("infless", 2), ("knative", 0)]);
        let all = mechanisms(&["spright", "infless", "knative"], &zero);
        assert_eq!(all.len(), 3);
        assert!(all[0].starts_with("INFless") && all[0].ends_with("capacity 0 in 2 cells."));
        // No Knative cell at 0: no claim that the SLO leaves no room.
        assert!(all[1].ends_with("scales up from zero."), "{}", all[1]);
        let spright = mechanisms(&["spright"], &zero);
        assert_eq!(spright.len(), 1);
        assert!(spright[0].starts_with("SPRIGHT and Knative"));
        assert!(mechanisms(&[], &zero).is_empty());
    }

    #[test]
    fn spright_comes_close_only_within_the_threshold() {
        let close = loose_slo_sentence("3.0", 0.054);
        assert_eq!(
            close,
            "At the loose SLO (3×) batching and replicas suffice and SPRIGHT comes close to or \
             above InfScaler."
        );
        assert_eq!(loose_slo_sentence("3.0", -0.2), close);
        assert_eq!(
            loose_slo_sentence("3.0", CLOSE_GAIN + 0.01),
            "Even at the loose SLO (3×) InfScaler's mean gain over SPRIGHT is +11.0 %."
        );
    }

    fn spread(app: &str, median_range: Option<f64>, top_capacity: f64) -> AppSpread {
        AppSpread {
            app: app.into(),
            median_range,
            top_capacity: Some(top_capacity),
        }
    }

    #[test]
    fn only_apps_whose_capacities_vary_widely_are_called_unreliable() {
        let model = shared_model;
        let spreads = [
            spread("tm", Some(0.26), 236.0),
            spread("lt", Some(0.85), 20.6),
            spread("pt", Some(WIDE_RANGE - 0.01), 72.8),
            spread("vu", Some(0.76), 27.3),
        ];
        assert_eq!(
            least_reliable(&spreads, model).unwrap(),
            "LT and VU (GPT-2 medium) serve a few requests per second in the model and their \
             capacities vary widely between seeds (see the ranges), so their ratios are the \
             least reliable."
        );
        // One app, and it serves many requests per second: no claim that it serves few.
        let fast = [
            spread("tm", Some(0.9), 236.0),
            spread("lt", Some(0.1), 20.0),
        ];
        assert_eq!(
            least_reliable(&fast, model).unwrap(),
            "The capacities of TM vary widely between seeds (see the ranges), so its ratios are \
             the least reliable."
        );
        let slow = [spread("lt", Some(0.9), FEW_PER_S - 1.0)];
        assert!(
            least_reliable(&slow, model)
                .unwrap()
                .starts_with("LT (GPT-2 medium) serves a few")
        );
        // Without repeats there are no ranges: nothing to say.
        let single = [spread("lt", None, 20.0), spread("vu", Some(0.1), 20.0)];
        assert_eq!(least_reliable(&single, model), None);
    }

    #[test]
    fn the_seed_spread_names_each_wide_cell() {
        let settled = SeedSpread {
            judged: 12,
            settled: 12,
            searches: 36,
            fewest: Some(2000.0),
            ..SeedSpread::default()
        };
        assert_eq!(
            spread_text(&settled),
            "**Seed ranges.** 12 of the 12 cells with a capacity above 0 lie within ±10 % of \
             their mean over the seeds. Every probe of every search measured at least 2000 \
             requests."
        );
        let wide = SeedSpread {
            settled: 10,
            wide: vec![
                WideCell {
                    name: "LPR 1.5× InfScaler".into(),
                    half_range: 0.384,
                },
                WideCell {
                    name: "VU 3.0× InfScaler".into(),
                    half_range: 0.103,
                },
            ],
            point_decided: 30,
            fewest: None,
            ..settled
        };
        let text = spread_text(&wide);
        assert!(
            text.contains("Wider: LPR 1.5× InfScaler (±38.4 %), VU 3.0× InfScaler (±10.3 %)."),
            "{text}"
        );
        assert!(text.contains("In 30 of the 36 searches"), "{text}");
        assert!(!text.contains("at least"), "{text}");
    }

    #[test]
    fn the_shared_model_is_the_heaviest_common_stage() {
        assert_eq!(shared_model(&["lt", "vu"]).as_deref(), Some("GPT-2 medium"));
        assert_eq!(shared_model(&["tm", "lt"]), None);
        assert_eq!(shared_model(&["nope"]), None);
    }
}
