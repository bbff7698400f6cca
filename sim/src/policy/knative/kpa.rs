//! Knative Serving's Pod Autoscaler (KPA) for one revision, as a pure state machine.
//!
//! Faithful to knative/serving (REFERENCE.md §1, snapshot HEAD 98e5ef9): [`Kpa::decide`] =
//! `pkg/autoscaler/scaling/autoscaler.go::Scale` (stable/panic averages, max scale-up/down rates,
//! panic mode entry, extension and exit, "never scale down while panicking"), then
//! `pkg/reconciler/autoscaling/kpa/scaler.go::Scale` (min/max bounds, `handleScaleToZero`: active
//! for a stable window, then the activator in the path for the grace period), then
//! `kpa.go::computeActiveCondition` (Active / Activating / Inactive).

use super::config::KpaConfig;
use super::window::WindowAverage;
use crate::time::SimTime;

/// Whether a revision is serving from its pods, on its way there, or behind the activator
/// (the PodAutoscaler's `Active` condition, `kpa.go::computeActiveCondition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// `Active=Unknown`: pods wanted, fewer ready than the activation threshold.
    Activating {
        /// When the condition last changed.
        since: SimTime,
    },
    /// `Active=True`: enough pods ready.
    Active {
        /// When the condition last changed.
        since: SimTime,
    },
    /// `Active=False`: no traffic; the activator is in the path.
    Inactive {
        /// When the condition last changed.
        since: SimTime,
    },
}

/// One decision of the KPA.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Pods the revision should have now (the scale applied to the deployment).
    pub desired: u32,
    /// What `Scale` asked for before the bounds and the scale-to-zero rules (`None`: no data).
    pub autoscaler_desired: Option<u32>,
    /// Mean concurrency over the stable window.
    pub stable_average: f64,
    /// Mean concurrency over the panic window.
    pub panic_average: f64,
    /// Whether the autoscaler is in panic mode after this decision.
    pub panicking: bool,
    /// The revision's activity after this decision.
    pub activity: Activity,
}

/// Knative's KPA for one revision (here: one partition).
#[derive(Clone, Debug)]
pub struct Kpa {
    config: KpaConfig,
    stable: WindowAverage,
    panic: WindowAverage,
    /// When panic mode was entered or last extended (`panicTime`).
    panic_time: Option<SimTime>,
    /// The most pods asked for in this panic episode (`maxPanicPods`).
    max_panic_pods: u32,
    /// The decider's latest valid recommendation (`DeciderStatus.DesiredScale`); starts at the
    /// initial scale.
    latest: u32,
    /// The scale last applied to the deployment.
    applied: u32,
    activity: Activity,
}

impl Kpa {
    /// A KPA for a revision that has just been deployed with `config.initial_scale` pods. It
    /// starts `Activating` at time 0 and out of panic (a new autoscaler panics only when it
    /// finds more than one pod already ready, `newAutoscaler`).
    pub fn new(config: KpaConfig) -> Self {
        let stable = WindowAverage::new(config.stable_window);
        let panic = WindowAverage::new(config.panic_window);
        let initial = config.initial_pods();
        Kpa {
            config,
            stable,
            panic,
            panic_time: None,
            max_panic_pods: 0,
            latest: initial,
            applied: initial,
            activity: Activity::Activating {
                since: SimTime::ZERO,
            },
        }
    }

    /// The configuration.
    pub fn config(&self) -> &KpaConfig {
        &self.config
    }

    /// Records the revision's total concurrency (in-flight plus queued requests, summed over
    /// its pods and the activator) for the 1 s bucket of `now`.
    pub fn record(&mut self, now: SimTime, concurrency: f64) {
        self.stable.record(now, concurrency);
        self.panic.record(now, concurrency);
    }

    /// Whether a stat should trigger an immediate decision (`MultiScaler.Poke`): the latest
    /// recommendation is zero and the stat shows demand.
    pub fn wants_poke(&self, concurrency: f64) -> bool {
        self.latest == 0 && concurrency != 0.0
    }

    /// The scale last applied.
    pub fn applied(&self) -> u32 {
        self.applied
    }

    /// Whether the autoscaler is in panic mode.
    pub fn panicking(&self) -> bool {
        self.panic_time.is_some()
    }

    /// One decision at `now` with `ready_pods` pods ready (not counting pods still starting).
    pub fn decide(&mut self, now: SimTime, ready_pods: u32) -> Decision {
        let stable_average = self.stable.average(now);
        let panic_average = self.panic.average(now);
        let recommendation = self.scale(now, ready_pods, stable_average, panic_average);
        if let Some(r) = recommendation {
            self.latest = r;
        }
        // The reconciler works from the decider's latest status; before any valid decision it
        // is the initial scale (`kpa.go`: want = initial scale until the target is initialised).
        let want = self.config.bounded(self.latest);
        let (scale, apply) = self.handle_scale_to_zero(now, want);
        self.update_activity(now, scale, ready_pods);
        if apply {
            self.applied = scale;
        }
        Decision {
            desired: self.applied,
            autoscaler_desired: recommendation,
            stable_average,
            panic_average,
            panicking: self.panic_time.is_some(),
            activity: self.activity,
        }
    }

    /// `autoscaler.go::Scale`; `None` when there is no data for the stable window (`ErrNoData`,
    /// `invalidSR`).
    fn scale(&mut self, now: SimTime, ready_pods: u32, stable: f64, panic: f64) -> Option<u32> {
        if !self.stable.has_data(now) {
            return None;
        }
        let c = &self.config;
        // Use 1 if there are zero current pods.
        let ready = f64::from(ready_pods.max(1));
        let max_scale_up = (c.max_scale_up_rate * ready).ceil();
        // The revision is routed (`Reachable`), so scale-down is bounded.
        let max_scale_down = (ready / c.max_scale_down_rate).floor();
        let dspc = (stable / c.target).ceil();
        let dppc = (panic / c.target).ceil();
        let desired_stable = dspc.max(max_scale_down).min(max_scale_up) as u32;
        let desired_panic = dppc.max(max_scale_down).min(max_scale_up) as u32;
        let over_panic_threshold = dppc / ready >= c.panic_threshold;
        if over_panic_threshold {
            // Enter panic, or extend it.
            self.panic_time = Some(now);
        } else if let Some(t) = self.panic_time
            && t + c.stable_window < now
        {
            // The surge has made its way into the stable metric.
            self.panic_time = None;
            self.max_panic_pods = 0;
        }
        let mut desired = desired_stable;
        if self.panic_time.is_some() {
            desired = desired.max(desired_panic);
            // Never scale down while panicking.
            self.max_panic_pods = self.max_panic_pods.max(desired);
            desired = self.max_panic_pods;
        }
        Some(desired)
    }

    /// `scaler.go::handleScaleToZero`: (scale, whether to apply it).
    fn handle_scale_to_zero(&self, now: SimTime, desired: u32) -> (u32, bool) {
        if desired != 0 {
            return (desired, true);
        }
        if !self.config.enable_scale_to_zero {
            return (1, true);
        }
        match self.activity {
            // Still activating: wait (Knative gives up only after the activation timeout).
            Activity::Activating { .. } => (self.applied, false),
            Activity::Active { since } => {
                if now - since >= self.config.stable_window {
                    // Mark inactive (the activator goes in the path); do not scale yet.
                    (0, false)
                } else {
                    // Hold one pod for the rest of the stable window.
                    (1, true)
                }
            }
            Activity::Inactive { since } => {
                (0, now - since >= self.config.scale_to_zero_grace_period)
            }
        }
    }

    /// `kpa.go::computeActiveCondition` with `want` the scale the reconciler arrived at.
    fn update_activity(&mut self, now: SimTime, want: u32, ready_pods: u32) {
        let min_ready = self.config.min_scale.max(1);
        self.activity = match (self.activity, want, ready_pods >= min_ready) {
            (Activity::Inactive { since }, 0, _) => Activity::Inactive { since },
            (_, 0, _) => Activity::Inactive { since: now },
            (Activity::Activating { since }, _, false) => Activity::Activating { since },
            (_, _, false) => Activity::Activating { since: now },
            (Activity::Active { since }, _, true) => Activity::Active { since },
            (_, _, true) => Activity::Active { since: now },
        };
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::policy::knative::config::KpaSpec;
    use crate::time::SimDuration;

    /// The time `secs` seconds after the start.
    pub(in crate::policy::knative) fn s(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    /// Knative defaults with containerConcurrency 10: target 10 × 0.7 = 7.
    pub(in crate::policy::knative) fn cc10() -> KpaConfig {
        KpaSpec::default().config(10)
    }

    /// Records `value` in every 1 s bucket from `from` to `to` inclusive.
    fn feed(kpa: &mut Kpa, from: u64, to: u64, value: f64) {
        for t in from..=to {
            kpa.record(s(t), value);
        }
    }

    #[test]
    fn stable_mode_scales_to_ceil_of_average_over_target() {
        let mut kpa = Kpa::new(cc10());
        // Steady 10 concurrent for 60 s at target 7: ceil(10/7) = 2 pods.
        feed(&mut kpa, 1, 60, 10.0);
        let d = kpa.decide(s(60), 1);
        // Panic? dppc = ceil(10/7) = 2, 2/1 ≥ 2.0 → yes, and desired is still 2.
        assert_eq!(d.desired, 2);
        assert_eq!(d.autoscaler_desired, Some(2));
        assert!((d.stable_average - 10.0).abs() < 1e-12);

        // With 2 ready pods the same load is not a panic: 2/2 = 1 < 2.
        let mut kpa = Kpa::new(cc10());
        feed(&mut kpa, 1, 60, 10.0);
        let d = kpa.decide(s(60), 2);
        assert_eq!(d.desired, 2);
        assert!(!d.panicking);

        // 30 concurrent with 4 ready: ceil(30/7) = 5; panic ratio 5/4 = 1.25 < 2 → stable.
        let mut kpa = Kpa::new(cc10());
        feed(&mut kpa, 1, 60, 30.0);
        let d = kpa.decide(s(60), 4);
        assert_eq!(d.desired, 5);
        assert!(!d.panicking);
    }

    #[test]
    fn scale_up_and_down_rates_bound_each_decision() {
        // Max scale-up rate 2 (lowered from 1000 to see the bound): 1 ready pod, demand 70 at
        // target 7 → ceil(70/7) = 10, bounded by ceil(2 × 1) = 2.
        let spec = KpaSpec {
            max_scale_up_rate: 2.0,
            ..Default::default()
        };
        let mut kpa = Kpa::new(spec.config(10));
        feed(&mut kpa, 1, 60, 70.0);
        assert_eq!(kpa.decide(s(60), 1).desired, 2);

        // Scale-down: 10 ready pods, demand 7 → ceil(7/7) = 1, but at least floor(10/2) = 5.
        let mut kpa = Kpa::new(cc10());
        feed(&mut kpa, 1, 60, 7.0);
        let d = kpa.decide(s(60), 10);
        assert_eq!(d.desired, 5);
        // Next decision with the 5 ready: floor(5/2) = 2 bounds ceil(7/7) = 1 → 2.
        assert_eq!(kpa.decide(s(62), 5).desired, 2);
        // Then floor(2/2) = 1 → 1.
        assert_eq!(kpa.decide(s(64), 2).desired, 1);
    }

    #[test]
    fn panic_mode_entry_hold_and_exit() {
        let mut kpa = Kpa::new(cc10());
        // 60 s of 7 concurrent with 1 pod: ceil(7/7) = 1, panic ratio 1/1 < 2.
        feed(&mut kpa, 1, 60, 7.0);
        let d = kpa.decide(s(60), 1);
        assert_eq!(d.desired, 1);
        assert!(!d.panicking);

        // A burst of 28 concurrent for 6 s (61..=66): the panic window (6 buckets) averages 28,
        // dppc = ceil(28/7) = 4, 4/1 ≥ 2 → panic. The stable window (7..=66) averages
        // (54 × 7 + 6 × 28)/60 = 9.1 → dspc = ceil(9.1/7) = 2. Panic takes max(2, 4) = 4.
        feed(&mut kpa, 61, 66, 28.0);
        let d = kpa.decide(s(66), 1);
        assert!(d.panicking);
        assert!((d.panic_average - 28.0).abs() < 1e-9);
        assert!((d.stable_average - 9.1).abs() < 1e-9);
        assert_eq!(d.desired, 4);

        // The burst ends (back to 7) and the 4 pods are ready: panic window 67..=72 averages 7,
        // dppc = 1, 1/4 < 2 → not over the threshold, but panic started at 66 and 66 + 60 is not
        // before 72: still panicking, and no scale-down (max panic pods stays 4).
        feed(&mut kpa, 67, 72, 7.0);
        let d = kpa.decide(s(72), 4);
        assert!(d.panicking);
        assert_eq!(d.desired, 4);

        // At 126: 66 + 60 = 126 is not before 126 → still panicking, still 4.
        feed(&mut kpa, 73, 126, 7.0);
        let d = kpa.decide(s(126), 4);
        assert!(d.panicking);
        assert_eq!(d.desired, 4);

        // At 128: 126 < 128 → exit panic. Stable window 69..=128 all 7 → ceil(7/7) = 1, bounded
        // below by floor(4/2) = 2.
        feed(&mut kpa, 127, 128, 7.0);
        let d = kpa.decide(s(128), 4);
        assert!(!d.panicking);
        assert_eq!(d.desired, 2);
    }

    #[test]
    fn panic_is_extended_while_over_threshold() {
        let mut kpa = Kpa::new(cc10());
        feed(&mut kpa, 1, 10, 28.0);
        // ceil(28/7) = 4 over 1 ready → panic at 10.
        assert!(kpa.decide(s(10), 1).panicking);
        // Still 28 with 1 ready at 70: over the threshold again → panic time moves to 70.
        feed(&mut kpa, 11, 70, 28.0);
        assert!(kpa.decide(s(70), 1).panicking);
        // Demand gone, 4 ready. At 130, 70 + 60 = 130 is not before 130 → panicking, holding 4.
        feed(&mut kpa, 71, 130, 0.0);
        let d = kpa.decide(s(130), 4);
        assert!(d.panicking);
        assert_eq!(d.desired, 4);
        // At 132 the panic ends; the stable average is 0 → 0, bounded below by floor(4/2) = 2.
        feed(&mut kpa, 131, 132, 0.0);
        let d = kpa.decide(s(132), 4);
        assert!(!d.panicking);
        assert_eq!(d.desired, 2);
    }

    #[test]
    fn scale_to_zero_after_stable_window_and_grace_period() {
        let mut kpa = Kpa::new(cc10());
        // Active from t = 2 with the initial pod ready.
        feed(&mut kpa, 1, 2, 3.0);
        let d = kpa.decide(s(2), 1);
        assert_eq!(d.desired, 1);
        assert_eq!(d.activity, Activity::Active { since: s(2) });
        // Demand (3 concurrent → ceil(3/7) = 1 pod) ends after bucket 20. The stable window is
        // all zeros first at t = 80 (buckets 21..=80) → Scale asks for ceil(0/7) = 0 from then.
        let mut inactive_at = None;
        let mut zero_at = None;
        for t in 3..=200 {
            kpa.record(s(t), if t <= 20 { 3.0 } else { 0.0 });
            if t % 2 == 1 {
                continue;
            }
            let ready = kpa.applied();
            let d = kpa.decide(s(t), ready);
            if t < 80 {
                assert_eq!(d.desired, 1, "at {t}");
                assert!(matches!(d.activity, Activity::Active { .. }), "at {t}");
            }
            if inactive_at.is_none() && matches!(d.activity, Activity::Inactive { .. }) {
                inactive_at = Some(t);
                assert_eq!(d.desired, 1, "marked inactive without scaling");
            }
            if zero_at.is_none() && d.desired == 0 {
                zero_at = Some(t);
            }
        }
        // At 80 the stable window (21..=80) is all zeros → want 0; active since 2 for 78 s ≥ 60 s
        // → marked inactive at 80; the grace period ends 30 s later → 0 pods at 110.
        assert_eq!(inactive_at, Some(80));
        assert_eq!(zero_at, Some(110));
        // At zero scale, a stat with demand pokes the autoscaler.
        assert!(kpa.wants_poke(0.5));
        assert!(!kpa.wants_poke(0.0));
    }

    #[test]
    fn scale_to_zero_waits_a_stable_window_after_activation() {
        // Active only since 50: at 80 the stable window is zero, but the revision has been
        // active for 30 s < 60 s → hold 1 pod; inactive at 110, zero at 140.
        let mut kpa = Kpa::new(cc10());
        kpa.record(s(1), 0.0);
        let mut inactive_at = None;
        let mut zero_at = None;
        for t in (2..=200).step_by(2) {
            kpa.record(s(t - 1), 0.0);
            kpa.record(s(t), if t == 20 { 1.0 } else { 0.0 });
            // The initial pod is ready only at 50.
            let ready = if t < 50 { 0 } else { kpa.applied() };
            let d = kpa.decide(s(t), ready);
            if t == 50 {
                assert_eq!(d.activity, Activity::Active { since: s(50) });
            }
            if inactive_at.is_none() && matches!(d.activity, Activity::Inactive { .. }) {
                inactive_at = Some(t);
            }
            if zero_at.is_none() && d.desired == 0 {
                zero_at = Some(t);
            }
        }
        assert_eq!(inactive_at, Some(110));
        assert_eq!(zero_at, Some(140));
    }

    #[test]
    fn min_scale_and_disabled_scale_to_zero_keep_a_pod() {
        let spec = KpaSpec {
            enable_scale_to_zero: false,
            ..Default::default()
        };
        let mut kpa = Kpa::new(spec.config(10));
        for t in 1..=300 {
            kpa.record(s(t), 0.0);
            if t % 2 == 0 {
                assert_eq!(kpa.decide(s(t), 1).desired, 1);
            }
        }
        let spec = KpaSpec {
            min_scale: 2,
            max_scale: 3,
            ..Default::default()
        };
        let mut kpa = Kpa::new(spec.config(10));
        feed(&mut kpa, 1, 60, 0.0);
        assert_eq!(kpa.decide(s(60), 2).desired, 2);
        // ceil(70/7) = 10 → max scale 3.
        feed(&mut kpa, 61, 120, 70.0);
        assert_eq!(kpa.decide(s(120), 2).desired, 3);
    }
}
