//! Streaming latency distribution: an HDR histogram plus exact count, sum and maximum.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Significant decimal digits kept by latency histograms: any recorded value is reported within
/// 0.1 % of itself (HdrHistogram's `significant_value_digits`).
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// Latency statistics of a set of requests, in milliseconds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct LatencyMs {
    /// Median (HDR histogram, within 0.1 %), ms.
    pub p50: f64,
    /// 90th percentile (HDR histogram, within 0.1 %), ms.
    pub p90: f64,
    /// 99th percentile (HDR histogram, within 0.1 %), ms.
    pub p99: f64,
    /// Largest latency, exact, ms.
    pub max: f64,
    /// Arithmetic mean, exact (sum of nanoseconds / count), ms.
    pub mean: f64,
}

/// One point of a latency CDF: the fraction of requests whose latency was at most `latency_ms`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct CdfPoint {
    /// Latency, ms (HDR histogram, within 0.1 %).
    pub latency_ms: f64,
    /// Fraction of the completed requests with at most this latency, 0..=1.
    pub fraction: f64,
}

/// A latency distribution whose memory depends on the largest value recorded, never on how many
/// values were recorded: an auto-resizing HDR histogram of nanoseconds (3 significant digits) with
/// an exact count, sum and maximum beside it.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    sum_ns: u128,
    max_ns: u64,
}

impl LatencyHistogram {
    /// An empty distribution.
    pub fn new() -> Self {
        let hist = Histogram::new(LATENCY_SIGNIFICANT_DIGITS)
            .expect("3 significant digits is within HdrHistogram's 0..=5");
        LatencyHistogram {
            hist,
            sum_ns: 0,
            max_ns: 0,
        }
    }

    /// Records one latency of `ns` nanoseconds.
    pub fn record(&mut self, ns: u64) {
        if self.hist.record(ns).is_err() {
            // Only beyond the histogram's resize limit (i64::MAX / 2 ns, about 146 years):
            // count it at the highest trackable value rather than lose it.
            self.hist.saturating_record(ns);
        }
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Value at quantile `q` (0..=1) in nanoseconds, never above the exact maximum; 0 if empty.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.hist.is_empty() {
            0
        } else {
            self.hist.value_at_quantile(q).min(self.max_ns)
        }
    }

    /// Mean, p50/p90/p99 and maximum in milliseconds; `None` when nothing was recorded.
    pub fn stats_ms(&self) -> Option<LatencyMs> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        Some(LatencyMs {
            p50: ms(self.quantile_ns(0.50)),
            p90: ms(self.quantile_ns(0.90)),
            p99: ms(self.quantile_ns(0.99)),
            max: ms(self.max_ns),
            mean: self.sum_ns as f64 / count as f64 / 1e6,
        })
    }

    /// The empirical CDF at `points` evenly spaced quantiles (1/points, 2/points, …, 1), each
    /// point the latency at that quantile; empty when nothing was recorded or `points` is 0.
    /// Consecutive equal latencies are merged into the highest fraction, so the points are
    /// strictly increasing in latency.
    pub fn cdf(&self, points: usize) -> Vec<CdfPoint> {
        if points == 0 || self.count() == 0 {
            return Vec::new();
        }
        let mut cdf: Vec<CdfPoint> = Vec::with_capacity(points);
        for k in 1..=points {
            let fraction = k as f64 / points as f64;
            let latency_ms = self.quantile_ns(fraction) as f64 / 1e6;
            match cdf.last_mut() {
                Some(last) if last.latency_ms >= latency_ms => last.fraction = fraction,
                _ => cdf.push(CdfPoint {
                    latency_ms,
                    fraction,
                }),
            }
        }
        cdf
    }

    /// Forgets every value but keeps the allocated buckets (for per-interval reuse).
    pub fn reset(&mut self) {
        self.hist.reset();
        self.sum_ns = 0;
        self.max_ns = 0;
    }

    /// Adds every value of `other` to this distribution.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        if self.hist.add(&other.hist).is_err() {
            // Only when `other` holds values beyond the resize limit; copy them one bucket at a
            // time, saturating, so that counts are never lost.
            for v in other.hist.iter_recorded() {
                self.hist
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
        self.sum_ns += other.sum_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// Number of buckets allocated: the memory the histogram holds, which grows with the log of
    /// the largest value recorded and not with the number of values.
    pub fn bucket_count(&self) -> usize {
        self.hist.distinct_values()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// The latencies of one short window (a policy's), for a quantile at its end: the values kept
/// as they are and ranked when asked.
///
/// It answers exactly what a [`LatencyHistogram`] of the same values would (the top of the HDR
/// bucket holding the k-th smallest value, k = ⌈q·n⌉, never above the maximum) without clearing
/// a histogram's buckets every window, which costs more than the window's few values. Past
/// [`WindowLatency::RAW_LIMIT`] values a window goes on in a histogram, so memory stays bounded.
#[derive(Clone, Debug)]
pub struct WindowLatency {
    raw: Vec<u64>,
    /// The window's values once there were too many to keep.
    spilled: Option<LatencyHistogram>,
    /// An empty histogram of the same precision, for its bucket boundaries.
    buckets: Histogram<u64>,
}

impl WindowLatency {
    /// Values kept raw before a window goes on in a histogram.
    pub const RAW_LIMIT: usize = 4096;

    /// An empty window.
    pub fn new() -> Self {
        WindowLatency {
            raw: Vec::new(),
            spilled: None,
            buckets: Histogram::new(LATENCY_SIGNIFICANT_DIGITS)
                .expect("3 significant digits is within HdrHistogram's 0..=5"),
        }
    }

    /// Records one latency of `ns` nanoseconds.
    pub fn record(&mut self, ns: u64) {
        match &mut self.spilled {
            Some(h) => h.record(ns),
            None if self.raw.len() < Self::RAW_LIMIT => self.raw.push(ns),
            None => {
                let mut h = LatencyHistogram::new();
                for &v in &self.raw {
                    h.record(v);
                }
                h.record(ns);
                self.raw.clear();
                self.spilled = Some(h);
            }
        }
    }

    /// Number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.spilled
            .as_ref()
            .map_or(self.raw.len() as u64, LatencyHistogram::count)
    }

    /// The value at quantile `q` (0 < q ≤ 1) in nanoseconds, as [`LatencyHistogram::quantile_ns`]
    /// gives it; 0 if empty.
    pub fn quantile_ns(&mut self, q: f64) -> u64 {
        if let Some(h) = &self.spilled {
            return h.quantile_ns(q);
        }
        let n = self.raw.len();
        if n == 0 {
            return 0;
        }
        // HdrHistogram's rank: ⌈q·n⌉, at least 1 (`Histogram::value_at_quantile`).
        let rank = ((q.min(1.0) * n as f64).ceil() as usize).clamp(1, n);
        let max = self.raw.iter().copied().max().unwrap_or(0);
        let (_, &mut kth, _) = self.raw.select_nth_unstable(rank - 1);
        self.buckets.highest_equivalent(kth).min(max)
    }

    /// Forgets every value, keeping the buffer.
    pub fn reset(&mut self) {
        self.raw.clear();
        self.spilled = None;
    }

    /// Adds every value of `other` to this window.
    pub fn merge(&mut self, other: &WindowLatency) {
        match &other.spilled {
            Some(h) => {
                let mut merged = self.spilled.take().unwrap_or_default();
                for &v in &self.raw {
                    merged.record(v);
                }
                self.raw.clear();
                merged.merge(h);
                self.spilled = Some(merged);
            }
            None => {
                for &v in &other.raw {
                    self.record(v);
                }
            }
        }
    }

    /// Values held as they are (at most [`WindowLatency::RAW_LIMIT`]), and the buckets of the
    /// histogram a long window went on in: the memory the window holds.
    pub fn held(&self) -> (usize, usize) {
        (
            self.raw.capacity(),
            self.spilled
                .as_ref()
                .map_or(0, LatencyHistogram::bucket_count),
        )
    }
}

impl Default for WindowLatency {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn assert_within_hdr_precision(got_ms: f64, want_ms: f64) {
        let rel = (got_ms - want_ms).abs() / want_ms;
        assert!(
            rel <= 1e-3,
            "got {got_ms} ms, want {want_ms} ms (rel. error {rel})"
        );
    }

    #[test]
    fn percentiles_of_one_to_ten_thousand_ms() {
        // Values 1, 2, …, 10000 ms: the q-quantile is q·10000 ms; the mean is 5000.5 ms exactly.
        let mut h = LatencyHistogram::new();
        for v in 1..=10_000u64 {
            h.record(v * MS);
        }
        let s = h.stats_ms().expect("values were recorded");
        assert_within_hdr_precision(s.p50, 5_000.0);
        assert_within_hdr_precision(s.p90, 9_000.0);
        assert_within_hdr_precision(s.p99, 9_900.0);
        assert_eq!(s.max, 10_000.0);
        assert_eq!(s.mean, 5_000.5);
        assert_eq!(h.count(), 10_000);
    }

    proptest::proptest! {
        /// A window answers what a histogram of the same values answers, below and above the
        /// raw limit, and after a reset.
        #[test]
        fn a_window_ranks_as_the_histogram_does(
            values in proptest::collection::vec(
                proptest::prop_oneof![0u64..2_000, 0u64..10_000_000_000, 1u64 << 40..1u64 << 50],
                1..6000,
            ),
            q in proptest::prop_oneof![proptest::strategy::Just(0.99), proptest::strategy::Just(0.5), 0.001f64..1.0],
        ) {
            let mut window = WindowLatency::new();
            window.record(77);
            window.reset();
            let mut hist = LatencyHistogram::new();
            for &v in &values {
                window.record(v);
                hist.record(v);
            }
            proptest::prop_assert_eq!(window.count(), hist.count());
            proptest::prop_assert_eq!(window.quantile_ns(q), hist.quantile_ns(q));
            // Merged with another window (raw or spilled), as a histogram merges.
            let mut other = WindowLatency::new();
            let mut other_hist = LatencyHistogram::new();
            for &v in values.iter().rev().take(values.len() / 2 + 1) {
                other.record(v / 3);
                other_hist.record(v / 3);
            }
            window.merge(&other);
            hist.merge(&other_hist);
            proptest::prop_assert_eq!(window.count(), hist.count());
            proptest::prop_assert_eq!(window.quantile_ns(q), hist.quantile_ns(q));
            proptest::prop_assert_eq!(window.quantile_ns(0.5), hist.quantile_ns(0.5));
        }
    }

    #[test]
    fn percentiles_never_exceed_the_exact_max() {
        // A single value: every percentile is that value, although its HDR bucket is wider.
        let mut h = LatencyHistogram::new();
        h.record(123_456_789);
        let s = h.stats_ms().expect("one value");
        assert_eq!(s.p50, 123.456789);
        assert_eq!(s.p99, 123.456789);
        assert_eq!(s.max, 123.456789);
    }

    #[test]
    fn empty_has_no_stats_and_reset_empties() {
        let mut h = LatencyHistogram::new();
        assert_eq!(h.stats_ms(), None);
        h.record(5 * MS);
        h.reset();
        assert_eq!(h.stats_ms(), None);
        assert_eq!(h.count(), 0);
    }

    #[test]
    fn merge_adds_counts_sums_and_max() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        a.record(2 * MS);
        b.record(4 * MS);
        b.record(9 * MS);
        a.merge(&b);
        let s = a.stats_ms().expect("three values");
        assert_eq!(a.count(), 3);
        assert_eq!(s.mean, 5.0);
        assert_eq!(s.max, 9.0);
    }

    #[test]
    fn cdf_of_one_to_hundred_ms() {
        // Values 1, 2, …, 100 ms: the k/10 quantile is 10·k ms, so 10 points are (10k ms, k/10).
        let mut h = LatencyHistogram::new();
        for v in 1..=100u64 {
            h.record(v * MS);
        }
        let cdf = h.cdf(10);
        assert_eq!(cdf.len(), 10);
        for (k, p) in cdf.iter().enumerate() {
            assert_within_hdr_precision(p.latency_ms, 10.0 * (k + 1) as f64);
            assert_eq!(p.fraction, (k + 1) as f64 / 10.0);
        }
        assert!(LatencyHistogram::new().cdf(10).is_empty());
        assert!(h.cdf(0).is_empty());
    }

    #[test]
    fn cdf_merges_equal_latencies() {
        // Every request took 7 ms: one point, reached by all of them.
        let mut h = LatencyHistogram::new();
        for _ in 0..50 {
            h.record(7 * MS);
        }
        assert_eq!(
            h.cdf(100),
            vec![CdfPoint {
                latency_ms: 7.0,
                fraction: 1.0
            }]
        );
    }

    #[test]
    fn extreme_values_are_kept() {
        let mut h = LatencyHistogram::new();
        h.record(0);
        h.record(u64::MAX);
        assert_eq!(h.count(), 2);
        assert_eq!(h.quantile_ns(0.0), 0);
    }
}
