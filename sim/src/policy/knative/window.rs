//! The windowed averages the KPA decides from: `pkg/autoscaler/aggregation/bucketing.go::
//! TimedFloat64Buckets` (knative/serving, REFERENCE.md §1) — 1 s buckets (`config.BucketSize`,
//! `pkg/autoscaler/config/config.go`), a plain mean over the buckets of the window (over the
//! partial window since the first write while the window is not yet full), 0 when nothing was
//! written for a whole window.

use crate::time::{SimDuration, SimTime};

/// The metric scrape period and bucket size: `scrapeTickInterval`
/// (`pkg/autoscaler/metrics/collector.go`) and `config.BucketSize`
/// (`pkg/autoscaler/config/config.go`).
pub const BUCKET: SimDuration = SimDuration::from_secs(1);

/// The bucket index (whole seconds) a time falls in: `time.Truncate(BucketSize)`.
fn bucket_of(t: SimTime) -> u64 {
    t.as_ns() / BUCKET.as_ns()
}

/// A windowed average of 1 s buckets, as `TimedFloat64Buckets` computes it.
#[derive(Clone, Debug)]
pub struct WindowAverage {
    /// Ring of bucket sums, indexed by bucket number modulo the length.
    buckets: Vec<f64>,
    /// Bucket of the first write since the buckets were last reset.
    first_write: Option<u64>,
    /// Bucket of the latest write.
    last_write: u64,
}

impl WindowAverage {
    /// Buckets covering `window` (rounded up to whole buckets).
    pub fn new(window: SimDuration) -> Self {
        let n = window.as_ns().div_ceil(BUCKET.as_ns()).max(1) as usize;
        WindowAverage {
            buckets: vec![0.0; n],
            first_write: None,
            last_write: 0,
        }
    }

    fn len(&self) -> u64 {
        self.buckets.len() as u64
    }

    /// Adds `value` to the bucket of `now` (values in the same second add up, as the stats of
    /// several pods do). A write older than a window before the latest one is ignored.
    pub fn record(&mut self, now: SimTime, value: f64) {
        let b = bucket_of(now);
        let n = self.len();
        match self.first_write {
            None => {
                self.buckets.iter_mut().for_each(|x| *x = 0.0);
                self.first_write = Some(b);
                self.last_write = b;
            }
            Some(first) => {
                if b + n < self.last_write {
                    return;
                }
                if b > self.last_write {
                    if b - self.last_write >= n {
                        // Nothing for a whole window: start afresh.
                        self.buckets.iter_mut().for_each(|x| *x = 0.0);
                        self.first_write = Some(b);
                    } else {
                        for i in self.last_write + 1..=b {
                            self.buckets[(i % n) as usize] = 0.0;
                        }
                    }
                    self.last_write = b;
                } else if b < first {
                    self.first_write = Some(b);
                }
            }
        }
        self.buckets[(b % n) as usize] += value;
    }

    /// Whether anything was written less than a window before `now` (else the KPA has no data:
    /// `ErrNoData`).
    pub fn has_data(&self, now: SimTime) -> bool {
        self.first_write.is_some() && bucket_of(now) <= self.last_write + self.len()
    }

    /// The mean over the window ending at `now`: over the buckets written since the first write
    /// when that is less than a window ago; buckets not written since the latest write are
    /// dropped; 0 when nothing was written for more than a window. Summed afresh over the ring,
    /// so an idle window averages exactly 0 (no running-total residue).
    pub fn average(&self, now: SimTime) -> f64 {
        let Some(first) = self.first_write else {
            return 0.0;
        };
        let now = bucket_of(now);
        let n = self.len();
        if now > self.last_write + n {
            return 0.0;
        }
        // Buckets (last_write, now] are stale: drop them.
        let stale = now.saturating_sub(self.last_write).min(n);
        let valid = n - stale;
        let total: f64 = (0..valid)
            .map(|k| self.buckets[((self.last_write + n - k) % n) as usize])
            .sum();
        let since_first = self.last_write - first + 1;
        let count = since_first.min(valid);
        if count == 0 {
            0.0
        } else {
            total / count as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::knative::kpa::tests::s;

    #[test]
    fn window_average_is_a_plain_mean_over_the_window() {
        let mut w = WindowAverage::new(SimDuration::from_secs(6));
        assert_eq!(w.average(s(3)), 0.0);
        // Partial window: buckets 10, 11, 12 hold 1, 2, 3 → (1+2+3)/3 = 2.
        w.record(s(10), 1.0);
        w.record(s(11), 2.0);
        w.record(s(12), 3.0);
        assert!((w.average(s(12)) - 2.0).abs() < 1e-12);
        // Two writes in one bucket add up: bucket 12 = 3 + 3 = 6 → (1+2+6)/3 = 3.
        w.record(s(12), 3.0);
        assert!((w.average(s(12)) - 3.0).abs() < 1e-12);
        // Full window: buckets 13..=18 hold 6 each; at 18 the window is 13..=18 → 6.
        for t in 13..=18 {
            w.record(s(t), 6.0);
        }
        assert!((w.average(s(18)) - 6.0).abs() < 1e-12);
        // Data 2 s old: the two stale buckets (19, 20) are dropped, the mean is over the other
        // four (15..=18) = 6.
        assert!((w.average(s(20)) - 6.0).abs() < 1e-12);
        // Written zeros count: 19, 20 = 0 → window 15..=20 = (4 × 6)/6 = 4.
        w.record(s(19), 0.0);
        w.record(s(20), 0.0);
        assert!((w.average(s(20)) - 4.0).abs() < 1e-12);
        // Nothing for more than a window: 0.
        assert_eq!(w.average(s(27)), 0.0);
        // A write after a whole idle window resets: only the new bucket counts.
        w.record(s(40), 5.0);
        assert!((w.average(s(40)) - 5.0).abs() < 1e-12);
    }
}
