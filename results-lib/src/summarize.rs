//! Pivot tables of a results file (polars group-by), as `infscaler summarize` prints them.
//!
//! Rows are grouped by the `--by` columns (groups in order of first appearance, which is grid
//! order for a sweep) and each `--metric` is aggregated per group. With two or more `--by` columns
//! and one metric, the last `--by` column spreads across the table's columns (a pivot: e.g. apps
//! down, policies across); otherwise each metric is a column.

use std::fmt::Write as _;

use polars::prelude::*;

use crate::ResultsError;

/// How the values of a group are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Agg {
    /// Arithmetic mean.
    #[default]
    Mean,
    /// Median.
    Median,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum.
    Sum,
    /// Sample standard deviation.
    Std,
    /// Number of non-null values.
    Count,
}

impl Agg {
    /// Every aggregation, in the order menus list them.
    pub const ALL: [Agg; 7] = [
        Agg::Mean,
        Agg::Median,
        Agg::Min,
        Agg::Max,
        Agg::Sum,
        Agg::Std,
        Agg::Count,
    ];

    /// The aggregate of `s`'s non-null values (`None` when there are none).
    pub fn apply(self, s: &Series) -> Option<f64> {
        match self {
            Agg::Mean => s.mean(),
            Agg::Median => s.median(),
            Agg::Min => s.min::<f64>().ok().flatten(),
            Agg::Max => s.max::<f64>().ok().flatten(),
            Agg::Sum => (s.len() > s.null_count())
                .then(|| s.sum::<f64>().ok())
                .flatten(),
            Agg::Std => s.std(1),
            Agg::Count => Some((s.len() - s.null_count()) as f64),
        }
    }

    /// The name `--agg` takes.
    pub fn name(self) -> &'static str {
        match self {
            Agg::Mean => "mean",
            Agg::Median => "median",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Sum => "sum",
            Agg::Std => "std",
            Agg::Count => "count",
        }
    }
}

/// A pivot table: labelled rows of aggregated cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Pivot {
    /// Names of the columns that label each row.
    pub row_keys: Vec<String>,
    /// Headers of the value columns.
    pub columns: Vec<String>,
    /// Each row: its labels and one cell per value column (`None`: no value in that group).
    pub rows: Vec<(Vec<String>, Vec<Option<f64>>)>,
    /// What the cells are, e.g. `mean of goodput_rps by app × policy`.
    pub caption: String,
}

/// Checks that `df` has each of `names`, asked for as `role` (`--by`, `--metric`).
fn check_columns(df: &DataFrame, names: &[String], role: &'static str) -> Result<(), ResultsError> {
    let have: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    match names.iter().find(|n| !have.contains(n)) {
        Some(missing) => Err(ResultsError::MissingColumn {
            role,
            name: missing.clone(),
            available: have,
        }),
        None => Ok(()),
    }
}

/// Text labels of a key column.
fn labels(c: &Column) -> Result<Vec<String>, ResultsError> {
    Ok(c.cast(&DataType::String)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

/// The groups of a table by some key columns, in order of first appearance.
pub struct Groups {
    /// `labels[k][g]`: the text of key column `k` in group `g`.
    pub labels: Vec<Vec<String>>,
    /// The row indices of each group.
    pub rows: Vec<Vec<IdxSize>>,
}

/// Groups `df` by the columns `by` (polars' stable group-by).
pub fn groups(df: &DataFrame, by: &[String]) -> Result<Groups, ResultsError> {
    check_columns(df, by, "--by")?;
    let gb = df.group_by_stable(by)?;
    let labels = gb.keys().iter().map(labels).collect::<Result<_, _>>()?;
    let rows = gb
        .get_groups()
        .iter()
        .map(|g| match g {
            GroupsIndicator::Idx((_, idx)) => idx.to_vec(),
            GroupsIndicator::Slice([first, len]) => (first..first + len).collect(),
        })
        .collect();
    Ok(Groups { labels, rows })
}

/// The values of numeric column `name` as floats (booleans as 0/1).
pub fn numeric(df: &DataFrame, name: &str) -> Result<Series, ResultsError> {
    check_columns(df, &[name.to_string()], "--metric")?;
    let c = df.column(name)?;
    if !(c.dtype().is_primitive_numeric() || c.dtype() == &DataType::Boolean) {
        return Err(ResultsError::NotNumeric {
            name: name.to_string(),
            dtype: c.dtype().to_string(),
        });
    }
    Ok(c.cast(&DataType::Float64)?.as_materialized_series().clone())
}

/// Groups `df` by `by` and aggregates `metrics` with `agg` (see the module documentation).
pub fn pivot(
    df: &DataFrame,
    by: &[String],
    metrics: &[String],
    agg: Agg,
) -> Result<Pivot, ResultsError> {
    if by.is_empty() || metrics.is_empty() {
        return Err(ResultsError::NothingToPivot);
    }
    let values: Vec<Series> = metrics
        .iter()
        .map(|m| numeric(df, m))
        .collect::<Result<_, _>>()?;
    let groups = groups(df, by)?;
    let keys = &groups.labels;
    let cells: Vec<Vec<Option<f64>>> = groups
        .rows
        .iter()
        .map(|idx| {
            values
                .iter()
                .map(|s| Ok(agg.apply(&s.take_slice(idx)?)))
                .collect::<Result<_, ResultsError>>()
        })
        .collect::<Result<_, _>>()?;
    let group_labels =
        |g: usize, n: usize| -> Vec<String> { keys[..n].iter().map(|k| k[g].clone()).collect() };

    if by.len() >= 2 && metrics.len() == 1 {
        // Pivot the last key across the columns.
        let n = by.len() - 1;
        let mut columns: Vec<String> = Vec::new();
        let mut rows: Vec<(Vec<String>, Vec<Option<f64>>)> = Vec::new();
        for (g, c) in cells.iter().enumerate() {
            let across = keys[n][g].clone();
            let col = columns
                .iter()
                .position(|x| *x == across)
                .unwrap_or_else(|| {
                    columns.push(across);
                    columns.len() - 1
                });
            let label = group_labels(g, n);
            let row = match rows.iter().position(|(l, _)| *l == label) {
                Some(r) => r,
                None => {
                    rows.push((label, Vec::new()));
                    rows.len() - 1
                }
            };
            let cells = &mut rows[row].1;
            if cells.len() <= col {
                cells.resize(col + 1, None);
            }
            cells[col] = c[0];
        }
        for (_, c) in &mut rows {
            c.resize(columns.len(), None);
        }
        return Ok(Pivot {
            row_keys: by[..n].to_vec(),
            columns,
            rows,
            caption: format!(
                "{} of {} by {} (rows) × {} (columns)",
                agg.name(),
                metrics[0],
                by[..n].join(" × "),
                by[n]
            ),
        });
    }
    Ok(Pivot {
        row_keys: by.to_vec(),
        columns: metrics.to_vec(),
        rows: cells
            .into_iter()
            .enumerate()
            .map(|(g, c)| (group_labels(g, by.len()), c))
            .collect(),
        caption: format!("{} by {}", agg.name(), by.join(" × ")),
    })
}

/// A number for a table: an integer as such, else 4 significant digits (no exponent).
pub fn fmt_value(x: Option<f64>) -> String {
    match x {
        None => "-".to_string(),
        Some(x) if x.is_nan() => "NaN".to_string(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => {
            let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
            format!("{x:.digits$}")
        }
    }
}

impl Pivot {
    /// The table as aligned text.
    pub fn to_text(&self) -> String {
        let mut grid: Vec<Vec<String>> = vec![
            self.row_keys
                .iter()
                .cloned()
                .chain(self.columns.iter().cloned())
                .collect(),
        ];
        for (labels, cells) in &self.rows {
            grid.push(
                labels
                    .iter()
                    .cloned()
                    .chain(cells.iter().map(|&c| fmt_value(c)))
                    .collect(),
            );
        }
        let width = |c: usize| grid.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..grid[0].len()).map(width).collect();
        let keys = self.row_keys.len();
        let mut s = String::new();
        for row in &grid {
            let line: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, v)| {
                    if c < keys {
                        format!("{v:<w$}", w = widths[c])
                    } else {
                        format!("{v:>w$}", w = widths[c])
                    }
                })
                .collect();
            let _ = writeln!(s, "{}", line.join("  ").trim_end());
        }
        let _ = writeln!(s, "({})", self.caption);
        s
    }

    /// The table as CSV (full precision).
    pub fn to_csv(&self) -> String {
        let quote = |v: &str| {
            if v.contains([',', '"', '\n']) {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.to_string()
            }
        };
        let mut s = String::new();
        let header: Vec<String> = self
            .row_keys
            .iter()
            .chain(&self.columns)
            .map(|v| quote(v))
            .collect();
        let _ = writeln!(s, "{}", header.join(","));
        for (labels, cells) in &self.rows {
            let line: Vec<String> = labels
                .iter()
                .map(|v| quote(v))
                .chain(
                    cells
                        .iter()
                        .map(|c| c.map_or(String::new(), |x| x.to_string())),
                )
                .collect();
            let _ = writeln!(s, "{}", line.join(","));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files;
    use infscaler_sim::report::row::Cell;

    fn df() -> DataFrame {
        let mut rows = Vec::new();
        for (app, policy, g) in [
            ("tm", "infscaler", 10.0),
            ("tm", "spright", 6.0),
            ("lt", "infscaler", 3.0),
            ("tm", "infscaler", 12.0),
            ("lt", "spright", 1.0),
        ] {
            rows.push(vec![
                ("app".to_string(), Cell::Str(app.into())),
                ("policy".to_string(), Cell::Str(policy.into())),
                ("goodput_rps".to_string(), Cell::Float(g)),
                ("slo_ms".to_string(), Cell::Int(5)),
            ]);
        }
        files::frame(&rows).unwrap()
    }

    #[test]
    fn two_keys_and_one_metric_pivot_the_last_key_across() {
        let p = pivot(
            &df(),
            &["app".into(), "policy".into()],
            &["goodput_rps".into()],
            Agg::Mean,
        )
        .unwrap();
        assert_eq!(p.row_keys, ["app"]);
        assert_eq!(p.columns, ["infscaler", "spright"]);
        assert_eq!(
            p.rows,
            vec![
                (vec!["tm".to_string()], vec![Some(11.0), Some(6.0)]),
                (vec!["lt".to_string()], vec![Some(3.0), Some(1.0)]),
            ]
        );
        assert!(
            p.to_text()
                .contains("mean of goodput_rps by app (rows) × policy")
        );
    }

    #[test]
    fn one_key_gives_a_column_per_metric() {
        let p = pivot(
            &df(),
            &["policy".into()],
            &["goodput_rps".into(), "slo_ms".into()],
            Agg::Max,
        )
        .unwrap();
        assert_eq!(p.columns, ["goodput_rps", "slo_ms"]);
        assert_eq!(
            p.rows[0],
            (vec!["infscaler".into()], vec![Some(12.0), Some(5.0)])
        );
        let count = pivot(
            &df(),
            &["policy".into()],
            &["goodput_rps".into()],
            Agg::Count,
        )
        .unwrap();
        assert_eq!(count.rows[1].1, vec![Some(2.0)]);
        assert!(
            count
                .to_csv()
                .starts_with("policy,goodput_rps\ninfscaler,3\n")
        );
    }

    #[test]
    fn unknown_and_text_columns_are_clear_errors() {
        let err = pivot(&df(), &["nope".into()], &["goodput_rps".into()], Agg::Mean)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--by \"nope\" is not a column") && err.contains("goodput_rps"),
            "{err}"
        );
        let err = pivot(&df(), &["app".into()], &["policy".into()], Agg::Mean)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not numeric"), "{err}");
    }
}
