//! Completion instants: when an activity's remaining work at a rate ends, in whole
//! nanoseconds, and when that instant cannot move as the activity is advanced at rate 1.

/// Remaining work at or below this fraction of an activity's total work counts as done.
pub(super) const DONE_REL_EPS: f64 = 1e-9;
/// Remaining work at or below this many ns of work always counts as done.
pub(super) const DONE_ABS_EPS_NS: f64 = 1e-6;
/// A completion quotient `remaining / rate` within this relative distance of an integer number
/// of nanoseconds is taken as that integer (smaller than `DONE_REL_EPS`, so the activity is then
/// done at that nanosecond).
pub(super) const SNAP_REL_EPS: f64 = 1e-10;
/// 2⁵²: from here on every `f64` is a whole number.
pub(super) const WHOLE_FROM: f64 = 4_503_599_627_370_496.0;

/// Work left after `elapsed_ns` at `rate`, never below zero.
pub(super) fn advanced(remaining_ns: f64, rate: f64, elapsed_ns: f64) -> f64 {
    if elapsed_ns <= 0.0 {
        remaining_ns
    } else if rate == f64::INFINITY {
        0.0
    } else {
        (remaining_ns - rate * elapsed_ns).max(0.0)
    }
}

/// The work at or below which an activity of `work_ns` counts as done.
pub(super) fn done_threshold(work_ns: f64) -> f64 {
    work_ns * DONE_REL_EPS + DONE_ABS_EPS_NS
}

/// `x.round()` for `x ≥ 0`, without the library call (`x − trunc(x)` is exact; below 2⁵² the
/// truncation goes through `i64`, one instruction each way on x86-64, where `u64` is not).
#[cfg(test)]
pub(super) fn round_nonneg(x: f64) -> f64 {
    if x >= WHOLE_FROM {
        return x;
    }
    let t = x as i64 as f64;
    if x - t >= 0.5 { t + 1.0 } else { t }
}

/// `x.ceil()` for `x ≥ 0`, without the library call.
#[cfg(test)]
pub(super) fn ceil_nonneg(x: f64) -> f64 {
    if x >= WHOLE_FROM {
        return x;
    }
    let t = x as i64 as f64;
    if t < x { t + 1.0 } else { t }
}

/// Whole nanoseconds until an activity with `remaining_ns` of its `work_ns` left completes at
/// `rate`; `None` if it never does (rate zero). Done work (or an infinite rate) completes now.
pub(super) fn ns_to_completion(remaining_ns: f64, work_ns: f64, rate: f64) -> Option<u64> {
    if remaining_ns <= done_threshold(work_ns) || rate == f64::INFINITY {
        return Some(0);
    }
    if rate <= 0.0 {
        return None;
    }
    let ns = remaining_ns / rate;
    if ns >= WHOLE_FROM {
        // A whole number already. `as` saturates: an absurdly slow activity completes at the
        // end of time.
        return Some(ns as u64);
    }
    // The snap-or-ceil rule in one truncation: with `ns = t + f` (`f = ns − t`, exact), the
    // nearest integer within 1e-10·nearest is taken, else `ceil`. For `f ≥ ½` both give `t + 1`;
    // for `0 < f < ½` the nearest is `t`, at distance `f`. (`snap_or_ceil` below is the rule as
    // written, which the tests hold this to.)
    let t = ns as i64;
    let f = ns - t as f64;
    let whole = if f == 0.0 || (f < 0.5 && f <= SNAP_REL_EPS * t as f64) {
        t
    } else {
        t + 1
    };
    Some(whole as u64)
}

/// The snap-or-ceil rule as written: the integer nearest `ns` if within a relative 1e-10 of it,
/// else `ceil(ns)`.
#[cfg(test)]
pub(super) fn snap_or_ceil(ns: f64) -> f64 {
    let nearest = round_nonneg(ns);
    if (ns - nearest).abs() <= SNAP_REL_EPS * nearest {
        nearest
    } else {
        ceil_nonneg(ns)
    }
}

/// Whether an activity at rate 1 with `remaining_ns` of `work_ns` left completes at the same
/// instant whenever between now and then its completion is recomputed (module docs).
///
/// Write `remaining = K + f` (`K` whole, `0 ≤ f < 1`). After `k` whole ns it has `K − k + f` left,
/// exactly. The completion is `now + K` if `f = 0`, else `now + K + 1` (by `ceil`), unless
/// - the snap applies for some `k < K`: only if `f < 0.5` and `f ≤ 1e-10 · (K − k)`, which is
///   largest at `k = 0` (for `f ≥ 0.5` snapping and `ceil` agree);
/// - the done tolerance applies at `k = K` (`f ≤ threshold`) or earlier (a threshold ≥ 0.5,
///   that is more than 0.5 s of work: then the activity is simply not treated as stable).
pub(super) fn stable_completion(remaining_ns: f64, work_ns: f64) -> bool {
    let threshold = done_threshold(work_ns);
    if threshold >= 0.5 || remaining_ns >= WHOLE_FROM {
        return false;
    }
    if remaining_ns <= threshold {
        return true;
    }
    let whole = remaining_ns as i64 as f64;
    let f = remaining_ns - whole;
    f == 0.0 || f >= 0.5 || (f > SNAP_REL_EPS * whole && f > threshold)
}
