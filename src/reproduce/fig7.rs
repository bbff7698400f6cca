//! Fig. 7 of the paper: TM's p99 latency and memory against throughput for each system, and the
//! paper's claim about InfScaler's memory against SPRIGHT's.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use infscaler_results::summarize::fmt_value;

use super::markdown::{Claim, MIB, and_list, per_system_means, source_line, system};
use super::stats::Table;
use super::{Results, paper};
use crate::figures::{self, Line};

/// InfScaler's memory minus SPRIGHT's at each offered rate, in rate order.
type Differences = [(String, f64)];

/// Whether the paper's claim holds: InfScaler uses more memory than SPRIGHT at the lowest rate
/// and less at the highest.
fn claim_holds(diff: &Differences) -> bool {
    diff.first().is_some_and(|(_, d)| *d > 0.0) && diff.last().is_some_and(|(_, d)| *d < 0.0)
}

/// What the differences say against the paper's claim ([`paper::FIG7_CLAIM`]): how InfScaler's
/// memory compares with SPRIGHT's at the lowest rate and as the rate grows.
fn memory_sentence(diff: &Differences) -> String {
    let lowest = match diff.first().map(|(_, d)| d.partial_cmp(&0.0)) {
        Some(Some(Ordering::Greater)) => "more",
        _ => "no more",
    };
    // The rates from which InfScaler uses less to the end of the sweep.
    let less_from = diff
        .iter()
        .rposition(|(_, d)| *d >= 0.0)
        .map_or(0, |i| i + 1);
    let after = if !diff.is_empty() && diff.iter().all(|(_, d)| *d > 0.0) {
        "more at every rate of the sweep".to_string()
    } else if less_from < diff.len() {
        format!("less from {} req/s on", diff[less_from].0)
    } else {
        let less: Vec<&str> = diff
            .iter()
            .filter(|(_, d)| *d < 0.0)
            .map(|(r, _)| r.as_str())
            .collect();
        if less.is_empty() {
            "no less at any rate of the sweep".to_string()
        } else {
            format!(
                "less only at {} req/s, not at the highest rate",
                and_list(&less)
            )
        }
    };
    format!(
        "The paper: \"{}\". Here: InfScaler uses {lowest} memory than SPRIGHT at the lowest rate, \
         and {after}.",
        paper::FIG7_CLAIM
    )
}

/// The "Why" paragraph: the mechanism behind each half of the claim as the numbers show it —
/// InfScaler's runtime contexts when it uses more memory at the lowest rate, and when it does not
/// use less at the highest, its instance counts: `more_instances` of `rates` rates where it runs
/// more instances than SPRIGHT, `instances` the mean per system. `None` when there is nothing to
/// explain.
fn why(diff: &Differences, more_instances: usize, rates: usize, instances: &str) -> Option<String> {
    let first_half = diff.first().is_some_and(|(_, d)| *d > 0.0);
    let second_half = diff.last().is_some_and(|(_, d)| *d < 0.0);
    let mut s = Vec::new();
    if first_half {
        s.push(
            "At low load each of InfScaler's partition instances carries a runtime context, so \
             its three partitions cost more than SPRIGHT's one model: the first half of the claim."
                .to_string(),
        );
    }
    if !second_half && !diff.is_empty() {
        s.push(
            "The second half needs SPRIGHT's memory to grow faster than InfScaler's with load."
                .to_string(),
        );
        if more_instances > 0 {
            s.push(format!(
                "In the model SPRIGHT's KPA adds whole-model replicas while InfScaler adds single \
                 partitions, but InfScaler scales on every window that misses the SLO (Algorithm \
                 1) and so runs more instances {} (mean instances at the end: {instances}), each \
                 with its own context. Per-run counts are in `data/fig7.csv` (`instances_total`).",
                if more_instances == rates {
                    "at each rate".to_string()
                } else {
                    format!("at {more_instances} of the {rates} rates")
                }
            ));
        }
    }
    (!s.is_empty()).then(|| format!("**Why.** {}", s.join(" ")))
}

/// The section.
pub fn section(r: &Results, out_dir: Option<&Path>, headline: &mut Vec<Claim>) -> Result<String> {
    let keys = ["policy.kind", "workload.rate_per_s"];
    let thr = Table::new(&r.rows, &keys, "throughput_rps")?;
    let p99 = Table::new(&r.rows, &keys, "latency_p99_ms")?;
    let mem = Table::new(&r.rows, &keys, "memory_mean_bytes")?;
    let inst = Table::new(&r.rows, &keys, "instances_total")?;
    let (systems, rates) = (thr.values(0), thr.values(1));

    let mut s = String::new();
    let _ = writeln!(s, "## Fig. 7 — latency and memory against throughput\n");
    s.push_str(&source_line(r));
    let _ = writeln!(
        s,
        "\nTM on a Xavier AGX at SLO 2×, Poisson load from {} to {} req/s. Each cell: \
         throughput (req/s) / p99 latency (ms) / mean memory (MiB).\n",
        rates.first().map_or("?", |s| s.as_str()),
        rates.last().map_or("?", |s| s.as_str())
    );
    let mut header = String::from("| offered (req/s) |");
    let mut rule = String::from("|---|");
    for sys in &systems {
        let _ = write!(header, " {} |", system(sys));
        rule.push_str("---|");
    }
    let _ = writeln!(s, "{header}\n{rule}");
    for rate in &rates {
        let mut line = format!("| {rate} |");
        for sys in &systems {
            let _ = write!(
                line,
                " {} / {} / {} |",
                fmt_value(thr.mean(&[sys, rate])),
                fmt_value(p99.mean(&[sys, rate])),
                fmt_value(mem.mean(&[sys, rate]).map(|m| m / MIB))
            );
        }
        let _ = writeln!(s, "{line}");
    }
    let diff: Vec<(String, f64)> = rates
        .iter()
        .filter_map(|rate| {
            Some((
                rate.clone(),
                mem.mean(&["infscaler", rate])? - mem.mean(&["spright", rate])?,
            ))
        })
        .collect();
    let _ = writeln!(s, "\n{}", memory_sentence(&diff));
    headline.push(Claim::yes(
        &format!("Fig. 7: {}", paper::FIG7_CLAIM),
        Some(claim_holds(&diff)),
    ));
    let more_instances = rates
        .iter()
        .filter(|rate| {
            inst.mean(&["infscaler", rate])
                .zip(inst.mean(&["spright", rate]))
                .is_some_and(|(ours, theirs)| ours > theirs)
        })
        .count();
    let instances = per_system_means(&systems, |sys| {
        rates.iter().filter_map(|r| inst.mean(&[sys, r])).collect()
    });
    if let Some(why) = why(&diff, more_instances, rates.len(), &instances) {
        let _ = writeln!(s, "\n{why}\n");
    }
    let series = |t: &Table, k: f64| -> Vec<Line> {
        systems
            .iter()
            .map(|sys| Line {
                name: system(sys).to_string(),
                points: rates
                    .iter()
                    .filter_map(|rate| Some((thr.mean(&[sys, rate])?, t.mean(&[sys, rate])? * k)))
                    .collect(),
            })
            .collect()
    };
    figures::draw_in(out_dir, "fig7.png", 2, (600, 420), |a| {
        figures::lines(
            &a[0],
            "Fig. 7: p99 latency",
            &series(&p99, 1.0),
            "throughput (req/s)",
            "p99 latency (ms)",
        )?;
        figures::lines(
            &a[1],
            "Fig. 7: memory",
            &series(&mem, 1.0 / MIB),
            "throughput (req/s)",
            "mean memory (MiB)",
        )
    })?;
    let _ = writeln!(s, "![Fig. 7](fig7.png)");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(values: &[f64]) -> Vec<(String, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, d)| (((i + 1) * 25).to_string(), *d))
            .collect()
    }

    const CLAIM: &str = "The paper: \"InfScaler uses more memory than SPRIGHT at low throughput \
                         and less at high throughput\". Here: InfScaler uses ";

    #[test]
    fn the_memory_sentence_follows_the_differences() {
        let sentence = |v: &[f64]| {
            memory_sentence(&diff(v))
                .strip_prefix(CLAIM)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            sentence(&[5.0, 3.0, 1.0]),
            "more memory than SPRIGHT at the lowest rate, and more at every rate of the sweep."
        );
        assert_eq!(
            sentence(&[5.0, 3.0, -1.0]),
            "more memory than SPRIGHT at the lowest rate, and less from 75 req/s on."
        );
        // Less in the middle, not at the end: no claim that it stays less.
        assert_eq!(
            sentence(&[5.0, -1.0, 1.0]),
            "more memory than SPRIGHT at the lowest rate, and less only at 50 req/s, not at the \
             highest rate."
        );
        // Less at the end, after crossing back: from the last crossing.
        assert_eq!(
            sentence(&[5.0, -1.0, 1.0, -2.0]),
            "more memory than SPRIGHT at the lowest rate, and less from 100 req/s on."
        );
        assert_eq!(
            sentence(&[0.0, 3.0]),
            "no more memory than SPRIGHT at the lowest rate, and no less at any rate of the sweep."
        );
        assert!(claim_holds(&diff(&[5.0, -1.0])));
        assert!(!claim_holds(&diff(&[5.0, 1.0])));
        assert!(!claim_holds(&diff(&[-5.0, -1.0])));
    }

    #[test]
    fn the_why_paragraph_explains_only_what_the_numbers_show() {
        let means = "InfScaler 15.21, SPRIGHT 5.083";
        // More at low load, not less at high load (today's full run): both mechanisms.
        let both = why(&diff(&[5.0, 1.0]), 2, 2, means).unwrap();
        assert!(
            both.contains("the first half of the claim. The second half needs")
                && both.contains(
                    "runs more instances at each rate (mean instances at the end: \
                                  InfScaler 15.21, SPRIGHT 5.083)"
                ),
            "{both}"
        );
        // The claim holds: only the first half's mechanism.
        let holds = why(&diff(&[5.0, -1.0]), 2, 2, means).unwrap();
        assert!(
            holds.ends_with("the first half of the claim.") && !holds.contains("second half"),
            "{holds}"
        );
        // Fewer instances at some rates: the count says so.
        let some = why(&diff(&[5.0, 1.0]), 1, 2, means).unwrap();
        assert!(
            some.contains("runs more instances at 1 of the 2 rates"),
            "{some}"
        );
        // Never more instances: the instance mechanism does not apply.
        let none = why(&diff(&[-5.0, 1.0]), 0, 2, means).unwrap();
        assert_eq!(
            none,
            "**Why.** The second half needs SPRIGHT's memory to grow faster than InfScaler's with \
             load."
        );
        // Less at low load and at high load: nothing to explain.
        assert_eq!(why(&diff(&[-5.0, -1.0]), 2, 2, means), None);
    }
}
