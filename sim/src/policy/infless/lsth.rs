//! LSTH: INFless's long-short-term histogram policy for keep-alive and pre-warming.
//!
//! INFless (ASPLOS'22 §5, via REFERENCE.md §2) keeps two histograms of a function's idle times
//! (the gaps between invocations), in the style of the hybrid histogram policy of Shahrad et
//! al. (ATC'20, "Serverless in the Wild"): a long-term one and a short-term one. Each yields a
//! pre-warm time (a head percentile: start an instance this long after the last invocation)
//! and a keep-alive time (a tail percentile: keep it until this long after the last
//! invocation), mixed with γ = 0.5:
//!
//! ```text
//! pre-warm   = γ·L_pre + (1−γ)·S_pre
//! keep-alive = γ·L_ka  + (1−γ)·S_ka
//! ```
//!
//! The source repository has no LSTH code, and the histograms' ranges and percentiles are not
//! published in what we could confirm; every constant here is a parameter ([`LsthSpec`]). The
//! defaults follow HHP — head at the 5th percentile, tail at the 99th, a 10 % margin (pre-warm
//! earlier, keep-alive longer) — [unconfirmed: HHP's constants as remembered, REFERENCE.md §2],
//! with HHP's 1-minute bins over 4 hours scaled by 1/60 for simulations that last minutes:
//! 1-second bins (the dispatcher's period) over 4 minutes. Windows (our choice): the
//! long-term histogram holds the idle times of the last hour, the short-term one of the last
//! 2 minutes. An idle time beyond the range counts as out of range; a percentile that falls
//! there is the range (HHP would switch to ARIMA forecasting, not modelled). An empty
//! histogram borrows the other's estimates; with both empty the function is kept alive for the
//! whole range and not pre-warmed (HHP's conservative fallback for unrepresentative patterns).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::time::{SimDuration, SimTime};
use crate::units::TimeSpan;

/// Parameters of the LSTH keep-alive / pre-warm policy (`[policy.lsth]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LsthSpec {
    /// Weight of the long-term histogram, γ ∈ [0, 1] (INFless: 0.5).
    #[serde(default = "default_gamma")]
    pub gamma: f64,
    /// Width of a histogram bin (HHP: 1 min; here 1 s, the dispatcher's period).
    #[serde(default = "default_bin")]
    pub bin: TimeSpan,
    /// Number of bins; bins × bin is the range (HHP: 240 × 1 min = 4 h; here 4 min).
    #[serde(default = "default_bins")]
    pub bins: usize,
    /// How far back the long-term histogram looks.
    #[serde(default = "default_long")]
    pub long_term_window: TimeSpan,
    /// How far back the short-term histogram looks.
    #[serde(default = "default_short")]
    pub short_term_window: TimeSpan,
    /// Head percentile for pre-warming, in (0, 100) (HHP: 5).
    #[serde(default = "default_prewarm_pct")]
    pub prewarm_percentile: f64,
    /// Tail percentile for keep-alive, in (0, 100] (HHP: 99).
    #[serde(default = "default_keep_alive_pct")]
    pub keep_alive_percentile: f64,
    /// Margin: pre-warm × (1 − margin), keep-alive × (1 + margin) (HHP: 10 %).
    #[serde(default = "default_margin")]
    pub margin: f64,
}

fn default_gamma() -> f64 {
    0.5
}
fn default_bin() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(1))
}
fn default_bins() -> usize {
    240
}
fn default_long() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(3600))
}
fn default_short() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(120))
}
fn default_prewarm_pct() -> f64 {
    5.0
}
fn default_keep_alive_pct() -> f64 {
    99.0
}
fn default_margin() -> f64 {
    0.1
}

impl Default for LsthSpec {
    fn default() -> Self {
        LsthSpec {
            gamma: default_gamma(),
            bin: default_bin(),
            bins: default_bins(),
            long_term_window: default_long(),
            short_term_window: default_short(),
            prewarm_percentile: default_prewarm_pct(),
            keep_alive_percentile: default_keep_alive_pct(),
            margin: default_margin(),
        }
    }
}

impl LsthSpec {
    /// Checks the parameters; the error is (field below `lsth.`, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
        if !(0.0..=1.0).contains(&self.gamma) {
            return bad("gamma", "must be between 0 and 1 (INFless uses 0.5)");
        }
        if self.bin.0 == SimDuration::ZERO {
            return bad("bin", "must be longer than zero, e.g. \"1s\"");
        }
        if self.bins == 0 {
            return bad("bins", "must be at least 1");
        }
        if self.long_term_window.0 == SimDuration::ZERO {
            return bad("long_term_window", "must be longer than zero");
        }
        if self.short_term_window.0 == SimDuration::ZERO {
            return bad("short_term_window", "must be longer than zero");
        }
        if !(self.prewarm_percentile > 0.0 && self.prewarm_percentile < 100.0) {
            return bad("prewarm_percentile", "must be in (0, 100), e.g. 5");
        }
        if !(self.keep_alive_percentile > 0.0 && self.keep_alive_percentile <= 100.0) {
            return bad("keep_alive_percentile", "must be in (0, 100], e.g. 99");
        }
        if self.keep_alive_percentile < self.prewarm_percentile {
            return bad(
                "keep_alive_percentile",
                "must not be below prewarm_percentile",
            );
        }
        if !(0.0..1.0).contains(&self.margin) {
            return bad("margin", "must be in [0, 1), e.g. 0.1");
        }
        Ok(())
    }

    /// The histograms' range: bins × bin.
    pub fn range(&self) -> SimDuration {
        SimDuration::from_ns(self.bin.0.as_ns().saturating_mul(self.bins as u64))
    }
}

/// A histogram of idle times: counts per bin plus an out-of-range count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IdleHistogram {
    /// Counts per bin; the last element counts idle times beyond the range.
    counts: Vec<u64>,
    total: u64,
}

impl IdleHistogram {
    /// An empty histogram of `bins` bins.
    pub fn new(bins: usize) -> Self {
        IdleHistogram {
            counts: vec![0; bins + 1],
            total: 0,
        }
    }

    /// Observations held.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn add(&mut self, slot: usize, n: u64) {
        self.counts[slot] += n;
        self.total += n;
    }

    fn remove(&mut self, slot: usize, n: u64) {
        self.counts[slot] -= n;
        self.total -= n;
    }

    /// The slot (bin index, or `bins` for out of range) holding the `pct`-th percentile: the
    /// first slot whose cumulative count reaches ⌈pct/100 × total⌉ (at least 1). `None` if empty.
    pub fn percentile_slot(&self, pct: f64) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        let rank = ((pct / 100.0 * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut cum = 0;
        self.counts.iter().position(|&c| {
            cum += c;
            cum >= rank
        })
    }
}

/// Pre-warm and keep-alive times, measured from the end of the last invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Start an instance once the function has been idle this long (0: keep it loaded).
    pub prewarm: SimDuration,
    /// Release the last instance once the function has been idle this long.
    pub keep_alive: SimDuration,
}

/// The long- and short-term idle-time histograms of one function.
#[derive(Clone, Debug)]
pub struct Lsth {
    spec: LsthSpec,
    long: IdleHistogram,
    short: IdleHistogram,
    /// (time recorded, slot, count), oldest first, still in the long-term window.
    long_records: VecDeque<(SimTime, usize, u64)>,
    /// The same for the short-term window.
    short_records: VecDeque<(SimTime, usize, u64)>,
}

impl Lsth {
    /// Empty histograms.
    pub fn new(spec: LsthSpec) -> Self {
        let bins = spec.bins;
        Lsth {
            spec,
            long: IdleHistogram::new(bins),
            short: IdleHistogram::new(bins),
            long_records: VecDeque::new(),
            short_records: VecDeque::new(),
        }
    }

    /// The long-term histogram.
    pub fn long_term(&self) -> &IdleHistogram {
        &self.long
    }

    /// The short-term histogram.
    pub fn short_term(&self) -> &IdleHistogram {
        &self.short
    }

    /// Records `count` idle times of length `idle` observed at `now`.
    pub fn record(&mut self, now: SimTime, idle: SimDuration, count: u64) {
        if count == 0 {
            return;
        }
        self.expire(now);
        let slot = ((idle.as_ns() / self.spec.bin.0.as_ns().max(1)) as usize).min(self.spec.bins);
        self.long.add(slot, count);
        self.short.add(slot, count);
        self.long_records.push_back((now, slot, count));
        self.short_records.push_back((now, slot, count));
    }

    /// Forgets the records that left their windows by `now`.
    pub fn expire(&mut self, now: SimTime) {
        let expire = |records: &mut VecDeque<(SimTime, usize, u64)>,
                      hist: &mut IdleHistogram,
                      window: SimDuration| {
            while let Some(&(t, slot, n)) = records.front() {
                if now.saturating_since(t) > window {
                    hist.remove(slot, n);
                    records.pop_front();
                } else {
                    break;
                }
            }
        };
        expire(
            &mut self.long_records,
            &mut self.long,
            self.spec.long_term_window.0,
        );
        expire(
            &mut self.short_records,
            &mut self.short,
            self.spec.short_term_window.0,
        );
    }

    /// One histogram's (pre-warm, keep-alive) in seconds: the head slot's lower edge less the
    /// margin, the tail slot's upper edge plus the margin (out of range: the range).
    fn estimate(&self, hist: &IdleHistogram) -> Option<(f64, f64)> {
        let bin_s = self.spec.bin.0.as_secs_f64();
        let range_s = self.spec.range().as_secs_f64();
        let head = hist.percentile_slot(self.spec.prewarm_percentile)?;
        let tail = hist.percentile_slot(self.spec.keep_alive_percentile)?;
        let pre = (head as f64 * bin_s).min(range_s) * (1.0 - self.spec.margin);
        let ka = ((tail + 1) as f64 * bin_s).min(range_s) * (1.0 + self.spec.margin);
        Some((pre, ka))
    }

    /// The mixed windows: γ·long + (1−γ)·short for both times.
    pub fn windows(&self) -> Windows {
        let long = self.estimate(&self.long);
        let short = self.estimate(&self.short);
        let (l, s) = match (long, short) {
            (Some(l), Some(s)) => (l, s),
            (Some(l), None) => (l, l),
            (None, Some(s)) => (s, s),
            (None, None) => {
                return Windows {
                    prewarm: SimDuration::ZERO,
                    keep_alive: self.spec.range(),
                };
            }
        };
        let g = self.spec.gamma;
        Windows {
            prewarm: SimDuration::from_secs_f64(g * l.0 + (1.0 - g) * s.0),
            keep_alive: SimDuration::from_secs_f64(g * l.1 + (1.0 - g) * s.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    #[test]
    fn percentile_arithmetic_by_hand() {
        // 20 observations: 10 in bin 0, 5 in bin 3, 4 in bin 7, 1 beyond the range (10 bins).
        let mut h = IdleHistogram::new(10);
        h.add(0, 10);
        h.add(3, 5);
        h.add(7, 4);
        h.add(10, 1);
        // 5th pct: rank ⌈1⌉ = 1 → bin 0. 50th: rank 10 → bin 0 (cum 10). 51st: rank ⌈10.2⌉ = 11
        // → bin 3. 75th: rank 15 → bin 3 (cum 15). 76th: rank ⌈15.2⌉ = 16 → bin 7.
        // 95th: rank 19 → bin 7 (cum 19). 99th: rank ⌈19.8⌉ = 20 → out of range (slot 10).
        assert_eq!(h.percentile_slot(5.0), Some(0));
        assert_eq!(h.percentile_slot(50.0), Some(0));
        assert_eq!(h.percentile_slot(51.0), Some(3));
        assert_eq!(h.percentile_slot(75.0), Some(3));
        assert_eq!(h.percentile_slot(76.0), Some(7));
        assert_eq!(h.percentile_slot(95.0), Some(7));
        assert_eq!(h.percentile_slot(99.0), Some(10));
        assert_eq!(IdleHistogram::new(3).percentile_slot(50.0), None);
    }

    #[test]
    fn windows_mix_long_and_short_with_gamma() {
        let spec = LsthSpec {
            bins: 60,
            long_term_window: TimeSpan(secs(1000)),
            short_term_window: TimeSpan(secs(100)),
            ..Default::default()
        };
        let mut l = Lsth::new(spec);
        // Early (t = 10 s): 100 idle times of 20 s → only in the long-term window later.
        l.record(SimTime::ZERO + secs(10), secs(20), 100);
        // Late (t = 500 s): 100 idle times of 4.5 s (bin 4) in both.
        l.record(SimTime::ZERO + secs(500), SimDuration::from_ms(4500), 100);
        l.expire(SimTime::ZERO + secs(500));
        assert_eq!(l.short_term().total(), 100);
        assert_eq!(l.long_term().total(), 200);
        // Long: 200 obs, bin 4 ×100, bin 20 ×100. 5th pct rank 10 → bin 4: pre = 4 s × 0.9 =
        // 3.6 s; 99th rank 198 → bin 20: ka = 21 s × 1.1 = 23.1 s.
        // Short: bin 4 only: pre = 3.6 s; ka = 5 s × 1.1 = 5.5 s.
        // Mixed (γ = 0.5): pre = 3.6 s; ka = 0.5·23.1 + 0.5·5.5 = 14.3 s.
        let w = l.windows();
        assert_eq!(w.prewarm, SimDuration::from_ms(3600));
        assert_eq!(w.keep_alive, SimDuration::from_ms(14_300));
        // γ = 1 takes the long-term alone: ka = 23.1 s.
        let mut only_long = l.clone();
        only_long.spec.gamma = 1.0;
        assert_eq!(only_long.windows().keep_alive, SimDuration::from_ms(23_100));
    }

    #[test]
    fn empty_histograms_keep_alive_for_the_range() {
        let l = Lsth::new(LsthSpec::default());
        // Default range: 240 × 1 s = 4 min; no pre-warm.
        assert_eq!(
            l.windows(),
            Windows {
                prewarm: SimDuration::ZERO,
                keep_alive: secs(240)
            }
        );
    }

    #[test]
    fn records_expire_with_their_windows() {
        let spec = LsthSpec {
            short_term_window: TimeSpan(secs(10)),
            long_term_window: TimeSpan(secs(30)),
            ..Default::default()
        };
        let mut l = Lsth::new(spec);
        l.record(SimTime::ZERO, secs(2), 3);
        l.expire(SimTime::ZERO + secs(10));
        assert_eq!((l.short_term().total(), l.long_term().total()), (3, 3));
        l.expire(SimTime::ZERO + secs(11));
        assert_eq!((l.short_term().total(), l.long_term().total()), (0, 3));
        // Only the long-term has data: the short-term borrows it. Bin 2: pre = 2 × 0.9 = 1.8 s,
        // ka = 3 × 1.1 = 3.3 s.
        let w = l.windows();
        assert_eq!(w.prewarm, SimDuration::from_ms(1800));
        assert_eq!(w.keep_alive, SimDuration::from_ms(3300));
        l.expire(SimTime::ZERO + secs(31));
        assert_eq!(l.long_term().total(), 0);
    }
}
