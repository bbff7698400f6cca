//! Time-weighted integrals of step functions (utilisation levels, memory in use).

use crate::time::SimTime;

/// A quantity that holds its level until the next change (a step function of simulated time),
/// integrated over time so that its time-weighted mean can be reported.
///
/// Two integrals are kept: one over the whole measured window and one over the current series
/// interval, which the caller takes and clears at each interval boundary. The peak is the highest
/// level held at any instant since the last [`TimeWeighted::restart`].
#[derive(Clone, Debug)]
pub struct TimeWeighted {
    level: f64,
    since: SimTime,
    total_area: f64,
    interval_area: f64,
    peak: f64,
}

impl TimeWeighted {
    /// A gauge at level zero from time zero.
    pub fn new() -> Self {
        TimeWeighted {
            level: 0.0,
            since: SimTime::ZERO,
            total_area: 0.0,
            interval_area: 0.0,
            peak: 0.0,
        }
    }

    /// The level held now.
    pub fn level(&self) -> f64 {
        self.level
    }

    /// The highest level held since the last restart.
    pub fn peak(&self) -> f64 {
        self.peak
    }

    /// Integral of the level over the measured window so far, in level × nanoseconds.
    pub fn total_area(&self) -> f64 {
        self.total_area
    }

    /// Accrues the current level up to `now` (no-op if `now` is not later than the last update).
    pub fn advance(&mut self, now: SimTime) {
        if now > self.since {
            let area = self.level * (now - self.since).as_ns() as f64;
            self.total_area += area;
            self.interval_area += area;
            self.since = now;
        }
    }

    /// Changes the level at `now`; the old level is accrued up to `now` first.
    pub fn set(&mut self, now: SimTime, level: f64) {
        self.advance(now);
        self.level = level;
        self.peak = self.peak.max(level);
    }

    /// Starts the measured window at `at`: accrues up to `at`, then forgets both integrals and
    /// the peak (the peak restarts at the level held at `at`).
    pub fn restart(&mut self, at: SimTime) {
        self.advance(at);
        self.total_area = 0.0;
        self.interval_area = 0.0;
        self.peak = self.level;
    }

    /// Accrues up to `boundary` and returns the integral over the interval that ends there,
    /// in level × nanoseconds; the interval integral starts again from zero.
    pub fn take_interval(&mut self, boundary: SimTime) -> f64 {
        self.advance(boundary);
        std::mem::take(&mut self.interval_area)
    }
}

impl Default for TimeWeighted {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t_ms(ms: u64) -> SimTime {
        SimTime(ms * 1_000_000)
    }

    #[test]
    fn integral_of_a_step_function_matches_the_hand_computation() {
        // Level 0 on [0,10) ms, 0.5 on [10,30), 1.0 on [30,35), 0.25 on [35,40].
        // Area = 0.5·20 + 1.0·5 + 0.25·5 = 16.25 level·ms over 40 ms → mean 0.40625.
        let mut g = TimeWeighted::new();
        g.set(t_ms(10), 0.5);
        g.set(t_ms(30), 1.0);
        g.set(t_ms(35), 0.25);
        g.advance(t_ms(40));
        assert_eq!(g.total_area(), 16.25e6);
        assert_eq!(g.total_area() / t_ms(40).as_ns() as f64, 0.40625);
        assert_eq!(g.peak(), 1.0);
    }

    #[test]
    fn restart_forgets_the_past_but_keeps_the_level() {
        // Level 2 from 0; restart at 5 ms; level 4 at 6 ms; take at 10 ms:
        // area since restart = 2·1 + 4·4 = 18 level·ms; peak since restart = 4.
        let mut g = TimeWeighted::new();
        g.set(SimTime::ZERO, 2.0);
        g.set(t_ms(1), 8.0);
        g.set(t_ms(2), 2.0);
        g.restart(t_ms(5));
        assert_eq!(g.peak(), 2.0);
        g.set(t_ms(6), 4.0);
        assert_eq!(g.take_interval(t_ms(10)), 18e6);
        assert_eq!(g.take_interval(t_ms(10)), 0.0);
        assert_eq!(g.total_area(), 18e6);
        assert_eq!(g.peak(), 4.0);
    }
}
