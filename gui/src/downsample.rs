//! Thinning a plotted polyline to a bounded number of points without losing its peaks.
//!
//! A series of a million points draws no better than one of a few thousand on a screen a few
//! thousand pixels wide, but costs a thousand times more per frame. Min-max decimation cuts the
//! points (after the first) into buckets and keeps the lowest and highest point of each, in their
//! order, so spikes survive and the line's envelope is that of the full series.

/// Most points a plotted line keeps.
pub const MAX_PLOT_POINTS: usize = 2000;

/// At most `max_points` points of `points` (sorted by x): the first, the last, and the lowest and
/// highest of each of `(max_points - 2) / 2` equal runs of the points between them. Returns the
/// points unchanged when there are no more than `max_points`; `max_points` below 4 is taken as 4.
pub fn downsample(points: &[[f64; 2]], max_points: usize) -> Vec<[f64; 2]> {
    let max_points = max_points.max(4);
    let n = points.len();
    if n <= max_points {
        return points.to_vec();
    }
    let inner = &points[1..n - 1];
    let buckets = (max_points - 2) / 2;
    let mut out = Vec::with_capacity(max_points);
    out.push(points[0]);
    for b in 0..buckets {
        let lo = b * inner.len() / buckets;
        let hi = (b + 1) * inner.len() / buckets;
        let run = &inner[lo..hi];
        let (Some(min), Some(max)) = (extreme(run, |a, b| a < b), extreme(run, |a, b| a > b))
        else {
            continue;
        };
        match min.cmp(&max) {
            std::cmp::Ordering::Less => out.extend([run[min], run[max]]),
            std::cmp::Ordering::Greater => out.extend([run[max], run[min]]),
            std::cmp::Ordering::Equal => out.push(run[min]),
        }
    }
    out.push(points[n - 1]);
    out
}

/// The points of `points` (sorted by x) that draw the range `x0..=x1` — those inside it and one
/// on each side, so the line reaches the edges — thinned to at most `max_points`.
pub fn visible(points: &[[f64; 2]], x0: f64, x1: f64, max_points: usize) -> Vec<[f64; 2]> {
    let start = points.partition_point(|p| p[0] < x0).saturating_sub(1);
    let end = (points.partition_point(|p| p[0] <= x1) + 1).min(points.len());
    if start >= end {
        return Vec::new();
    }
    downsample(&points[start..end], max_points)
}

/// Index of the first point whose y beats every other under `better` (NaN never wins).
fn extreme(run: &[[f64; 2]], better: impl Fn(f64, f64) -> bool) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, p) in run.iter().enumerate() {
        if p[1].is_nan() {
            continue;
        }
        if best.is_none_or(|b| better(p[1], run[b][1])) {
            best = Some(i);
        }
    }
    best.or((!run.is_empty()).then_some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(n: usize) -> Vec<[f64; 2]> {
        (0..n)
            .map(|i| [i as f64, (i as f64 * 0.01).sin() * 10.0])
            .collect()
    }

    #[test]
    fn short_series_are_kept_whole() {
        let pts = wave(100);
        assert_eq!(downsample(&pts, 2000), pts);
    }

    #[test]
    fn a_million_points_become_at_most_the_bound_in_x_order() {
        let pts = wave(1_000_000);
        let out = downsample(&pts, MAX_PLOT_POINTS);
        assert!(out.len() <= MAX_PLOT_POINTS, "{} points", out.len());
        assert!(out.len() >= MAX_PLOT_POINTS - 2);
        assert!(out.windows(2).all(|w| w[0][0] < w[1][0]), "x must increase");
        assert_eq!(out.first(), pts.first());
        assert_eq!(out.last(), pts.last());
    }

    #[test]
    fn a_single_spike_survives() {
        let mut pts: Vec<[f64; 2]> = (0..100_000).map(|i| [i as f64, 1.0]).collect();
        pts[54_321][1] = 500.0;
        pts[77_777][1] = -3.0;
        let out = downsample(&pts, 100);
        assert!(out.contains(&[54_321.0, 500.0]));
        assert!(out.contains(&[77_777.0, -3.0]));
        let max = out.iter().map(|p| p[1]).fold(f64::MIN, f64::max);
        let min = out.iter().map(|p| p[1]).fold(f64::MAX, f64::min);
        assert_eq!((min, max), (-3.0, 500.0));
    }

    #[test]
    fn a_zoomed_range_keeps_its_detail_and_reaches_the_edges() {
        let pts = wave(1_000_000);
        let out = visible(&pts, 1000.5, 1100.5, MAX_PLOT_POINTS);
        // 100 points inside, plus the neighbours at 1000 and 1101: all kept, none thinned.
        assert_eq!(out.len(), 102);
        assert_eq!(out.first().unwrap()[0], 1000.0);
        assert_eq!(out.last().unwrap()[0], 1101.0);
        assert!(visible(&pts, 2e6, 3e6, 100).len() <= 1);
        assert!(visible(&[], 0.0, 1.0, 100).is_empty());
        assert!(visible(&pts, -10.0, 2e6, 100).len() <= 100);
    }

    #[test]
    fn nan_points_do_not_hide_the_extremes() {
        let mut pts: Vec<[f64; 2]> = (0..1000).map(|i| [i as f64, f64::NAN]).collect();
        pts[500][1] = 7.0;
        let out = downsample(&pts, 10);
        assert!(out.len() <= 10);
        assert!(out.contains(&[500.0, 7.0]));
    }
}
