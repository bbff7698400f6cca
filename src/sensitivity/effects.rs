//! The effect of each parameter: per factor, the relative change of each metric against the
//! experiment as written (for a sweep, averaged over its cells, each cell at its mean over its
//! repeats), and for a sweep of several cells whether its ranking of the cells by the first
//! metric holds; parameters ranked by effect. Also how the effects are shown: a text table and
//! CSV rows.

use std::fmt::Write as _;

use serde::Serialize;

use infscaler_results::files::Row;
use infscaler_sim::report::row::{Cell, cell};

use super::plan::{FACTORS, Plan, Profile};
use super::runs::Runs;

/// One parameter's outcome.
#[derive(Debug, Serialize)]
pub struct ParameterEffect {
    pub profile: Profile,
    pub parameter: String,
    pub tag: String,
    pub value: String,
    pub variants: Vec<VariantEffect>,
    /// The largest |relative change| over the metrics and factors.
    pub max_effect: f64,
}

impl ParameterEffect {
    /// `device:memory.bandwidth`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.profile.name(), self.parameter)
    }

    /// The most pairs of cells one of its factors swapped (0 for a single cell).
    pub fn reorders(&self) -> usize {
        self.variants
            .iter()
            .filter_map(|v| v.pairs_swapped)
            .max()
            .unwrap_or(0)
    }
}

/// One factor's outcome.
#[derive(Debug, Serialize)]
pub struct VariantEffect {
    pub factor: f64,
    pub value: Option<String>,
    /// Per metric (in the order asked): the mean over the cells of the relative change of the
    /// cell's mean, or `None` when the variant did not run.
    pub change: Option<Vec<Option<f64>>>,
    /// For a sweep of several cells: whether the cell best by the first metric is still best,
    /// and the pairs of cells whose order by it swapped.
    pub best_kept: Option<bool>,
    pub pairs_swapped: Option<usize>,
    pub error: Option<String>,
}

/// The whole analysis, as `--json` prints it and `<out>.json` holds.
#[derive(Serialize)]
pub struct Analysis {
    pub experiment: String,
    pub metrics: Vec<String>,
    pub cells: Vec<String>,
    /// Per cell, per metric: its mean over the repeats as written.
    pub baseline: Vec<Vec<Option<f64>>>,
    /// Largest effect first.
    pub parameters: Vec<ParameterEffect>,
}

/// Per cell (in `cells` order), the mean of each metric over the cell's runs.
pub fn cell_means(
    cells: &[String],
    unit_cells: &[&str],
    rows: &[Row],
    metrics: &[String],
) -> Vec<Vec<Option<f64>>> {
    cells
        .iter()
        .map(|c| {
            metrics
                .iter()
                .map(|m| {
                    let xs: Vec<f64> = unit_cells
                        .iter()
                        .zip(rows)
                        .filter(|(u, _)| **u == c.as_str())
                        .filter_map(|(_, r)| cell(r, m).and_then(Cell::as_f64))
                        .collect();
                    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
                })
                .collect()
        })
        .collect()
}

/// The cells ordered by a metric, largest first (ties by grid order).
pub fn ranking(values: &[Option<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (values[a].unwrap_or(f64::MIN), values[b].unwrap_or(f64::MIN));
        y.total_cmp(&x)
    });
    order
}

/// Pairs of cells ordered differently by `a` and `b`.
pub fn swapped_pairs(a: &[Option<f64>], b: &[Option<f64>]) -> usize {
    let n = a.len().min(b.len());
    let mut swapped = 0;
    for i in 0..n {
        for j in i + 1..n {
            if let (Some(ai), Some(aj), Some(bi), Some(bj)) = (a[i], a[j], b[i], b[j]) {
                let (x, y) = ((ai - aj).signum(), (bi - bj).signum());
                if x != 0.0 && y != 0.0 && x != y {
                    swapped += 1;
                }
            }
        }
    }
    swapped
}

/// (value − base) / |base|; `None` without both or with a base of 0.
pub fn relative_change(value: Option<f64>, base: Option<f64>) -> Option<f64> {
    let (v, b) = (value?, base?);
    (b != 0.0).then(|| (v - b) / b.abs())
}

/// The analysis of `runs` of `plan` on `metrics`; `None` when the experiment as written did not
/// run (its error).
pub fn analyse(plan: &Plan, runs: &Runs, metrics: &[String]) -> Result<Analysis, String> {
    let cells = plan.experiment.cells();
    let unit_cells: Vec<&str> = plan
        .experiment
        .units
        .iter()
        .map(|u| u.cell.as_str())
        .collect();
    let means = |rows: &[Row]| cell_means(&cells, &unit_cells, rows, metrics);
    let baseline = means(runs.rows[0].as_ref().map_err(Clone::clone)?);
    let first = |table: &[Vec<Option<f64>>]| table.iter().map(|c| c[0]).collect::<Vec<_>>();
    let base_first = first(&baseline);
    let base_best = ranking(&base_first).first().copied();
    let several = cells.len() > 1;
    let mut effects: Vec<ParameterEffect> = plan
        .params
        .iter()
        .enumerate()
        .map(|(i, (profile, p))| {
            let variants: Vec<VariantEffect> = FACTORS
                .iter()
                .enumerate()
                .map(|(j, &factor)| {
                    let value = infscaler_sim::experiment::sensitivity::scaled(&p.value, factor)
                        .map(|x| x.to_string());
                    match &runs.rows[Plan::variant_of(i, j)] {
                        Err(e) => VariantEffect {
                            factor,
                            value,
                            change: None,
                            best_kept: None,
                            pairs_swapped: None,
                            error: Some(e.clone()),
                        },
                        Ok(rows) => {
                            let table = means(rows);
                            let change = (0..metrics.len())
                                .map(|k| {
                                    let xs: Vec<f64> = table
                                        .iter()
                                        .zip(&baseline)
                                        .filter_map(|(c, b)| relative_change(c[k], b[k]))
                                        .collect();
                                    (!xs.is_empty())
                                        .then(|| xs.iter().sum::<f64>() / xs.len() as f64)
                                })
                                .collect();
                            let ours = first(&table);
                            VariantEffect {
                                factor,
                                value,
                                change: Some(change),
                                best_kept: several
                                    .then(|| ranking(&ours).first().copied() == base_best),
                                pairs_swapped: several.then(|| swapped_pairs(&base_first, &ours)),
                                error: None,
                            }
                        }
                    }
                })
                .collect();
            let max_effect = variants
                .iter()
                .filter_map(|v| v.change.as_ref())
                .flatten()
                .flatten()
                .fold(0.0f64, |a, x| a.max(x.abs()));
            ParameterEffect {
                profile: *profile,
                parameter: p.name.clone(),
                tag: p.tag.clone(),
                value: p.value.to_string(),
                variants,
                max_effect,
            }
        })
        .collect();
    // Largest effect first (a changed comparison before any size of change); ties keep document
    // order (the sort is stable).
    effects.sort_by(|a, b| {
        b.reorders()
            .cmp(&a.reorders())
            .then(b.max_effect.total_cmp(&a.max_effect))
    });
    Ok(Analysis {
        experiment: plan.experiment.name.clone(),
        metrics: metrics.to_vec(),
        cells,
        baseline,
        parameters: effects,
    })
}

/// The CSV of an analysis: one line per parameter and factor, in rank order.
pub fn csv(a: &Analysis) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut s = String::from("rank,profile,parameter,tag,value,factor,varied_value");
    for m in &a.metrics {
        let _ = write!(s, ",change_{m}");
    }
    s.push_str(",best_kept,pairs_swapped,error\n");
    let opt = |x: Option<String>| x.unwrap_or_default();
    for (rank, e) in a.parameters.iter().enumerate() {
        for v in &e.variants {
            let _ = write!(
                s,
                "{},{},{},{},{},{},{}",
                rank + 1,
                e.profile.name(),
                quote(&e.parameter),
                quote(&e.tag),
                quote(&e.value),
                v.factor,
                quote(&opt(v.value.clone()))
            );
            for k in 0..a.metrics.len() {
                let x = v.change.as_ref().and_then(|c| c[k]);
                let _ = write!(s, ",{}", opt(x.map(|x| x.to_string())));
            }
            let _ = writeln!(
                s,
                ",{},{},{}",
                opt(v.best_kept.map(|b| b.to_string())),
                opt(v.pairs_swapped.map(|n| n.to_string())),
                quote(&opt(v.error.as_deref().map(first_line).map(String::from)))
            );
        }
    }
    s
}

/// The text table of an analysis.
pub fn table(a: &Analysis) -> String {
    let several = a.cells.len() > 1;
    let metrics = &a.metrics;
    let mut s = format!(
        "{}: each [assumed]/[fitted] profile parameter ×0.5 and ×2, one at a time; the change of \
         each metric against the experiment as written{}, largest effect first\n\n",
        a.experiment,
        if several {
            format!(
                " (mean over its {} cells), and whether the cells' ranking by {} holds",
                a.cells.len(),
                metrics[0]
            )
        } else {
            String::new()
        }
    );
    for (c, values) in a.cells.iter().zip(&a.baseline) {
        let _ = write!(
            s,
            "as written{}:",
            if c.is_empty() {
                String::new()
            } else {
                format!(" [{c}]")
            }
        );
        for (m, b) in metrics.iter().zip(values) {
            let _ = write!(s, "  {m} {}", b.map_or("-".into(), |x| format!("{x:.4}")));
        }
        s.push('\n');
    }
    s.push('\n');
    let mut header = format!("{:<44} {:<26} {:>12}", "parameter", "tag", "value");
    for m in metrics {
        let _ = write!(header, "  {:>21}", truncate(m, 21));
    }
    if several {
        let _ = write!(header, "  {:>17}", "ranking ×0.5 / ×2");
    }
    let _ = writeln!(s, "{header}");
    for e in &a.parameters {
        let mut line = format!(
            "{:<44} {:<26} {:>12}",
            truncate(&e.name(), 44),
            truncate(&e.tag, 26),
            truncate(&e.value, 12)
        );
        for k in 0..metrics.len() {
            let c = |v: &VariantEffect| match &v.change {
                Some(m) => m[k].map_or("-".into(), |x| format!("{:+.1}%", 100.0 * x)),
                None => "n/a".into(),
            };
            let parts: Vec<String> = e.variants.iter().map(c).collect();
            let _ = write!(line, "  {:>21}", parts.join(" / "));
        }
        if several {
            let parts: Vec<String> = e.variants.iter().map(ranking_text).collect();
            let _ = write!(line, "  {:>17}", parts.join(" / "));
        }
        let _ = writeln!(s, "{line}");
        for v in &e.variants {
            if let Some(err) = &v.error {
                let _ = writeln!(s, "    ×{}: not run: {}", v.factor, first_line(err));
            }
        }
    }
    s
}

/// `same`, `2 swaps`, `NEW BEST, 3 swaps` or `n/a`.
pub fn ranking_text(v: &VariantEffect) -> String {
    match (v.best_kept, v.pairs_swapped) {
        (Some(true), Some(0)) => "same".to_string(),
        (Some(kept), Some(n)) => format!(
            "{}{n} swap{}",
            if kept { "" } else { "NEW BEST, " },
            if n == 1 { "" } else { "s" }
        ),
        _ => "n/a".into(),
    }
}

/// `s` cut to `n` characters, with an ellipsis when cut.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rankings_and_swapped_pairs() {
        let a = [Some(3.0), Some(1.0), Some(2.0)];
        assert_eq!(ranking(&a), vec![0, 2, 1]);
        assert_eq!(swapped_pairs(&a, &a), 0);
        let b = [Some(1.0), Some(3.0), Some(2.0)];
        // (0,1) and (0,2) swap; (1,2) swaps too: 1 < 2 before, 3 > 2 after.
        assert_eq!(swapped_pairs(&a, &b), 3);
        let c = [Some(3.0), Some(2.5), Some(2.0)];
        assert_eq!(swapped_pairs(&a, &c), 1);
        assert_eq!(relative_change(Some(3.0), Some(2.0)), Some(0.5));
        assert_eq!(relative_change(Some(3.0), Some(0.0)), None);
    }
}
