//! Fig. 2 of the paper: AlexNet's asymmetric partition configurations, saturation throughput and
//! peak memory of each, and the paper's best against its second best.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use infscaler_sim::model::runtime::RuntimeProfile;

use super::markdown::{Claim, MIB, NEGLIGIBLE, pct, ratio, source_line, with_range};
use super::stats::Table;
use super::{Results, paper};
use crate::figures::{self, Bars};
use infscaler_results::files::Row;
use infscaler_sim::report::row::cell;

/// `P_x^a` labels of a static deployment from its `policy.stages` cell (cuts after operators,
/// instances per partition), for a model of `n_ops` operators.
fn config_label(stages: &str, n_ops: usize) -> String {
    let Ok(v) = toml::from_str::<toml::Table>(&format!("v = {stages}")) else {
        return stages.to_string();
    };
    let Some(stage) = v["v"].as_array().and_then(|a| a.first()) else {
        return stages.to_string();
    };
    let mut ends: Vec<i64> = stage
        .get("cuts")
        .and_then(|c| c.as_array())
        .map(|c| c.iter().filter_map(|x| x.as_integer()).collect())
        .unwrap_or_default();
    ends.push(n_ops as i64);
    let counts: Vec<i64> = stage
        .get("partitions")
        .and_then(|p| p.as_array())
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    p.get("instances")
                        .and_then(|i| i.as_table())
                        .map_or(0, |t| t.values().filter_map(|n| n.as_integer()).sum())
                })
                .collect()
        })
        .unwrap_or_default();
    ends.iter()
        .zip(counts)
        .map(|(e, a)| format!("P_{e}^{a}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the "Why it differs" paragraph needs to know besides the two halves of the claim.
struct Context<'a> {
    /// The runtime the rows ran under.
    runtime: &'a str,
    /// Its process memory, bytes (`memory.process` of its profile).
    process_bytes: u64,
    /// Instances [`paper::FIG2_BEST`] could not start for want of memory (mean over repeats).
    refused: f64,
}

/// The "Why it differs" paragraph: the mechanisms of the model behind each half of the paper's
/// claim that the numbers contradict — [`paper::FIG2_BEST`] has more throughput than
/// [`paper::FIG2_SECOND`] (`gain`, ours, > 0) with less memory (`change`, ours, < 0). `None`
/// when both halves hold here.
fn why_it_differs(gain: f64, change: f64, cx: &Context<'_>) -> Option<String> {
    let slower = gain <= 0.0;
    let heavier = change >= 0.0;
    if !slower && !heavier {
        return None;
    }
    let mut s = String::from("**Why it differs.**");
    let process_mib = cx.process_bytes as f64 / MIB;
    if slower && cx.refused > 0.0 {
        let _ = write!(
            s,
            " Every instance is a serving process of its own (the static policy's \
             `process_layout = \"per_instance\"`) holding {process_mib:.0} MiB of {} runtime \
             (`hwprofiles/runtimes/{}.toml`, `memory.process`): under the 4 GiB cap {:.0} of \
             {}'s instances could not start, so a partition had none and requests could not \
             pass it.",
            cx.runtime,
            cx.runtime,
            cx.refused,
            paper::FIG2_BEST
        );
    } else if slower {
        s.push_str(
            " In the model, each instance is a process of its own, so the instances on one GPU \
             time-slice it (REFERENCE.md §8g): a second instance of a partition whose kernels \
             keep the GPU busy adds no capacity; it helps only where the runtime's host time \
             leaves the GPU idle.",
        );
    }
    if heavier {
        let _ = write!(
            s,
            " {} instance carries a whole {} process ({process_mib:.0} MiB beyond its weights \
             and activations), so memory grows with the instance count whatever the partition's \
             size — seven instances of {} cannot use less memory than three of {}.",
            if slower { "And every" } else { "Every" },
            cx.runtime,
            paper::FIG2_BEST,
            paper::FIG2_SECOND
        );
    }
    s.push_str(
        " The paper's \"resource cap\" is most likely per instance (a CPU and GPU share each, as \
         in INFless); the scenarios accept `compute_share` for that, but the paper does not give \
         the shares, so this sweep applies none rather than guess.\n",
    );
    Some(s)
}

/// The process layout of the sweep's main table: every instance a serving process of its own,
/// the static policy's default.
const MAIN_LAYOUT: &str = "per_instance";
/// GPU utilisation from which an engine counts as saturated.
const SATURATED: f64 = 0.99;
/// The layout the section compares it with: one serving process for the whole app.
const SHARED_LAYOUT: &str = "per_app";

/// The rows whose `policy.process_layout` is `layout` (all rows when the sweep has no such axis).
fn rows_with_layout(rows: &[Row], layout: &str) -> Vec<Row> {
    rows.iter()
        .filter(|row| cell(row, "policy.process_layout").is_none_or(|v| v.to_string() == layout))
        .cloned()
        .collect()
}

/// The sentence comparing [`paper::FIG2_BEST`] with [`paper::FIG2_SECOND`] in one serving
/// process for the app, from the rows of that layout. `None` when the sweep has no such rows.
fn shared_process_sentence(
    rows: &[Row],
    n_ops: usize,
    headline: &mut Vec<Claim>,
) -> Result<Option<String>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let keys = ["policy.stages"];
    let thr = Table::new(rows, &keys, "throughput_rps")?;
    let mem = Table::new(rows, &keys, "memory_peak_bytes")?;
    let configs = thr.values(0);
    let find = |label: &str| configs.iter().find(|c| config_label(c, n_ops) == label);
    let (Some(best), Some(second)) = (find(paper::FIG2_BEST), find(paper::FIG2_SECOND)) else {
        return Ok(None);
    };
    let change = |t: &Table| {
        t.mean(&[best.as_str()])
            .zip(t.mean(&[second.as_str()]))
            .map(|(a, b)| a / b - 1.0)
    };
    let (gain, memory) = (change(&thr), change(&mem));
    // Whether the GPU was busy all the time under both (the mechanism below needs it).
    let gpu = Table::new(rows, &keys, "utilization_gpu").ok();
    let saturated = gpu.is_some_and(|u| {
        [best, second]
            .iter()
            .all(|c| u.mean(&[c.as_str()]).is_some_and(|x| x >= SATURATED))
    });
    let claim = format!(
        "Fig. 2 (one serving process for the app): {} throughput vs {}",
        paper::FIG2_BEST,
        paper::FIG2_SECOND
    );
    headline.push(Claim::gain(
        &claim,
        paper::FIG2_THROUGHPUT_GAIN,
        gain,
        &gain.map_or("-".into(), pct),
    ));
    let mut s = format!(
        "With one serving process for the whole app (`process_layout = \"{SHARED_LAYOUT}\"`, \
         the same sweep), every configuration fits under the cap: {} against {}: throughput {}, \
         memory {}.",
        paper::FIG2_BEST,
        paper::FIG2_SECOND,
        gain.map_or("-".into(), pct),
        memory.map_or("-".into(), pct)
    );
    if gain.is_some_and(|g| g < NEGLIGIBLE) && saturated {
        let _ = write!(
            s,
            " Hand-offs between stages block (`serving.overflow = \"block\"`), so no work done \
             upstream is thrown away; what remains is that every partition of both \
             configurations shares the one GPU, busy ≥ {:.0} % of the time under both: a \
             pipeline adds no GPU capacity.",
            SATURATED * 100.0
        );
    }
    Ok(Some(s))
}

/// The section.
pub fn section(r: &Results, out_dir: Option<&Path>, headline: &mut Vec<Claim>) -> Result<String> {
    let n_ops = infscaler_sim::model::zoo::build("alexnet", &Default::default())?
        .operators
        .len();
    let keys = ["policy.stages"];
    let main_rows = rows_with_layout(&r.rows, MAIN_LAYOUT);
    let has_layouts = main_rows.len() < r.rows.len();
    let thr = Table::new(&main_rows, &keys, "throughput_rps")?;
    let mem = Table::new(&main_rows, &keys, "memory_peak_bytes")?;
    let configs = thr.values(0);
    let labels: Vec<String> = configs.iter().map(|c| config_label(c, n_ops)).collect();
    let find = |label: &str| labels.iter().position(|l| l == label);
    let (best, second) = (find(paper::FIG2_BEST), find(paper::FIG2_SECOND));
    let t = |i: usize| thr.mean(&[configs[i].as_str()]);
    let m = |i: usize| mem.mean(&[configs[i].as_str()]);

    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Fig. 2 — AlexNet: asymmetric partition configurations\n"
    );
    s.push_str(&source_line(r));
    let _ = writeln!(
        s,
        "\nAlexNet on the GPU of a Xavier AGX under a 4 GiB cap, offered more load than any \
         configuration serves: throughput is each configuration's saturation throughput, memory \
         its peak. `P_x^a`: a partition ending at operator #x with a instances.{}\n",
        if has_layouts {
            format!(
                " Every instance a serving process of its own (`process_layout = \"{MAIN_LAYOUT}\"`)."
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "| configuration | throughput (req/s) | memory (MiB) | throughput / {} | memory / {} |",
        paper::FIG2_SECOND,
        paper::FIG2_SECOND
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for (i, c) in configs.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            labels[i],
            with_range(thr.get(&[c])),
            with_range(mem.get(&[c]).scaled(1.0 / MIB)),
            second.map_or("-".into(), |j| ratio(t(i), t(j))),
            second.map_or("-".into(), |j| ratio(m(i), m(j))),
        );
    }
    let fastest = (0..configs.len()).max_by(|&a, &b| {
        // The first of equals, as a stable sort by decreasing throughput ranks them.
        t(a).unwrap_or(0.0)
            .total_cmp(&t(b).unwrap_or(0.0))
            .then(b.cmp(&a))
    });
    if let Some(fastest) = fastest {
        let _ = writeln!(
            s,
            "\nBest here: **{}**; the paper's best is {} ({:+.1} % throughput over {} with \
             {:+.1} % resources).",
            labels[fastest],
            paper::FIG2_BEST,
            paper::FIG2_THROUGHPUT_GAIN * 100.0,
            paper::FIG2_SECOND,
            paper::FIG2_RESOURCE_CHANGE * 100.0
        );
    }
    let mut why = None;
    if let (Some(b), Some(c)) = (best, second) {
        let gain = t(b).zip(t(c)).map(|(a, b)| a / b - 1.0);
        let change = m(b).zip(m(c)).map(|(a, b)| a / b - 1.0);
        let _ = writeln!(
            s,
            "Here {} against {}: throughput {}, memory {}.",
            paper::FIG2_BEST,
            paper::FIG2_SECOND,
            gain.map_or("-".into(), pct),
            change.map_or("-".into(), pct)
        );
        for (what, paper_change, ours) in [
            ("throughput", paper::FIG2_THROUGHPUT_GAIN, gain),
            ("memory", paper::FIG2_RESOURCE_CHANGE, change),
        ] {
            let claim = format!(
                "Fig. 2: {} {what} vs {}",
                paper::FIG2_BEST,
                paper::FIG2_SECOND
            );
            let ours_text = ours.map_or("-".into(), pct);
            headline.push(Claim::gain(&claim, paper_change, ours, &ours_text));
        }
        let runtime = RuntimeProfile::resolve(r.runtime.name, Path::new("."))?;
        let refused = Table::new(&main_rows, &keys, "refused_instances")?
            .mean(&[configs[b].as_str()])
            .unwrap_or(0.0);
        let cx = Context {
            runtime: r.runtime.name,
            process_bytes: runtime.process_bytes,
            refused,
        };
        why = gain
            .zip(change)
            .and_then(|(g, c)| why_it_differs(g, c, &cx));
    }
    if let Some(why) = why {
        let _ = writeln!(s, "\n{why}");
    }
    if has_layouts
        && let Some(shared) =
            shared_process_sentence(&rows_with_layout(&r.rows, SHARED_LAYOUT), n_ops, headline)?
    {
        let _ = writeln!(s, "{shared}\n");
    }
    figures::draw_in(out_dir, "fig2.png", 2, (900, 420), |a| {
        figures::grouped_bars(
            &a[0],
            "Fig. 2: saturation throughput",
            &labels,
            &[Bars {
                name: "throughput".into(),
                values: (0..configs.len()).map(t).collect(),
            }],
            "req/s",
            false,
        )?;
        figures::grouped_bars(
            &a[1],
            "Fig. 2: peak memory",
            &labels,
            &[Bars {
                name: "memory".into(),
                values: (0..configs.len()).map(|i| m(i).map(|x| x / MIB)).collect(),
            }],
            "MiB",
            false,
        )
    })?;
    let _ = writeln!(s, "![Fig. 2](fig2.png)");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_papers_notation() {
        let stages = "[{ cuts = [5, 13], partitions = [{ instances = { gpu = 2 } }, \
                      { instances = { gpu = 3 } }, { instances = { gpu = 1, dla0 = 1 } }] }]";
        assert_eq!(config_label(stages, 24), "P_5^2 P_13^3 P_24^2");
        assert_eq!(
            config_label(
                "[{ cuts = [], partitions = [{ instances = { gpu = 3 } }] }]",
                24
            ),
            "P_24^3"
        );
    }

    #[test]
    fn the_mechanisms_follow_the_halves_of_the_claim_that_fail() {
        let cx = |refused| Context {
            runtime: "tensorrt",
            process_bytes: 1051 << 20,
            refused,
        };
        // Slower and heavier: both mechanisms.
        let both = why_it_differs(-0.297, 0.922, &cx(0.0)).unwrap();
        assert!(both.contains("time-slice") && both.contains(" And every instance"));
        // Faster but heavier: only the memory mechanism, as its own sentence.
        let memory = why_it_differs(0.10, 0.05, &cx(0.0)).unwrap();
        assert!(!memory.contains("time-slice") && memory.contains("** Every instance"));
        assert!(memory.contains("1051 MiB"));
        // Slower but lighter: only the sharing mechanism.
        let sharing = why_it_differs(-0.01, -0.2, &cx(0.0)).unwrap();
        assert!(sharing.contains("time-slice") && !sharing.contains("whole tensorrt process"));
        // Slower because instances were refused: the memory cap, not the sharing.
        let refused = why_it_differs(-1.0, -0.05, &cx(3.0)).unwrap();
        assert!(
            refused.contains("3 of") && !refused.contains("time-slice"),
            "{refused}"
        );
        // The paper's claim holds: nothing to explain.
        assert_eq!(why_it_differs(0.165, -0.315, &cx(0.0)), None);
    }
}
