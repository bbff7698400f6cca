//! The statistics of the report: a metric's mean and range over the repeats of each grid cell,
//! means and medians of lists, and gains of one number over another.

use std::collections::HashMap;

use anyhow::Result;

use infscaler_results::files::{self, Row};
use infscaler_results::summarize::{self, Agg};

/// Mean, range and count of a metric over the repeats of one grid cell.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stat {
    /// Mean over the repeats.
    pub mean: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Repeats with a value.
    pub n: usize,
}

impl Stat {
    /// Every value multiplied by `k` (a change of unit).
    pub fn scaled(self, k: f64) -> Stat {
        Stat {
            mean: self.mean.map(|x| x * k),
            min: self.min.map(|x| x * k),
            max: self.max.map(|x| x * k),
            n: self.n,
        }
    }

    /// The range over the repeats relative to their mean, `(max − min) / mean`: `None` with fewer
    /// than two repeats or a mean of 0.
    pub fn relative_range(self) -> Option<f64> {
        let (mean, min, max) = (self.mean?, self.min?, self.max?);
        (self.n > 1 && mean > 0.0).then(|| (max - min) / mean)
    }
}

/// A metric's [`Stat`] per grid cell, the cell named by the text of its key columns.
pub struct Table {
    cells: HashMap<Vec<String>, Stat>,
    /// The cells' keys in grid order.
    order: Vec<Vec<String>>,
}

impl Table {
    /// Groups `rows` by `keys` (the repeats of a cell fall together) and summarises `metric`.
    pub fn new(rows: &[Row], keys: &[&str], metric: &str) -> Result<Table> {
        let df = files::frame(rows)?;
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let groups = summarize::groups(&df, &keys)?;
        let values = summarize::numeric(&df, metric)?;
        let mut cells = HashMap::new();
        let mut order = Vec::new();
        for (g, idx) in groups.rows.iter().enumerate() {
            let key: Vec<String> = groups.labels.iter().map(|l| l[g].clone()).collect();
            let s = values.take_slice(idx)?;
            let stat = Stat {
                mean: Agg::Mean.apply(&s),
                min: Agg::Min.apply(&s),
                max: Agg::Max.apply(&s),
                n: s.len() - s.null_count(),
            };
            order.push(key.clone());
            cells.insert(key, stat);
        }
        Ok(Table { cells, order })
    }

    /// The cell of `key` (an empty [`Stat`] when the grid has no such cell).
    pub fn get(&self, key: &[&str]) -> Stat {
        let key: Vec<String> = key.iter().map(|k| k.to_string()).collect();
        self.cells.get(&key).copied().unwrap_or_default()
    }

    /// The mean of the cell of `key`.
    pub fn mean(&self, key: &[&str]) -> Option<f64> {
        self.get(key).mean
    }

    /// The distinct values of key column `k`, in grid order.
    pub fn values(&self, k: usize) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for key in &self.order {
            if !v.contains(&key[k]) {
                v.push(key[k].clone());
            }
        }
        v
    }
}

/// The arithmetic mean (`None` of nothing).
pub fn mean_of(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The median (`None` of nothing).
pub fn median_of(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The smallest and largest value (`None` of nothing).
pub fn range_of(xs: &[f64]) -> Option<(f64, f64)> {
    let lo = xs.iter().copied().reduce(f64::min)?;
    let hi = xs.iter().copied().reduce(f64::max)?;
    Some((lo, hi))
}

/// The gain of `ours` over `theirs`, `ours / theirs − 1` (`None` when `theirs` is not above 0).
pub fn gain(ours: f64, theirs: f64) -> Option<f64> {
    (theirs > 0.0).then(|| ours / theirs - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_ranges_and_gains() {
        assert_eq!(median_of(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
        assert_eq!(median_of(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_of(&[]), None);
        assert_eq!(mean_of(&[1.0, 2.0]), Some(1.5));
        assert_eq!(range_of(&[2.0, -1.0, 5.0]), Some((-1.0, 5.0)));
        assert_eq!(range_of(&[]), None);
        assert_eq!(gain(3.0, 2.0), Some(0.5));
        assert_eq!(gain(3.0, 0.0), None);
    }

    #[test]
    fn a_relative_range_needs_two_repeats() {
        let s = Stat {
            mean: Some(2.0),
            min: Some(1.0),
            max: Some(3.0),
            n: 3,
        };
        assert_eq!(s.relative_range(), Some(1.0));
        assert_eq!(Stat { n: 1, ..s }.relative_range(), None);
    }
}
