//! Knative Serving's Pod Autoscaler (KPA), as a pure state machine, and the glue that drives one
//! per partition from [`Observation`]s.
//!
//! Faithful to knative/serving (REFERENCE.md §1, snapshot HEAD 98e5ef9):
//! - [`WindowAverage`]: `pkg/autoscaler/aggregation/bucketing.go::TimedFloat64Buckets` — 1 s
//!   buckets (`config.BucketSize`, `pkg/autoscaler/config/config.go`), a plain mean over the
//!   buckets of the window (over the partial window since the first write while the window is
//!   not yet full), 0 when nothing was written for a whole window.
//! - [`Kpa::decide`] = `pkg/autoscaler/scaling/autoscaler.go::Scale` (stable/panic averages,
//!   max scale-up/down rates, panic mode entry, extension and exit, "never scale down while
//!   panicking"), then `pkg/reconciler/autoscaling/kpa/scaler.go::Scale` (min/max bounds,
//!   `handleScaleToZero`: active for a stable window, then the activator in the path for the
//!   grace period), then `kpa.go::computeActiveCondition` (Active / Activating / Inactive).
//! - [`KpaFleet`]: the decider ticks every 2 s (`tickInterval`,
//!   `pkg/autoscaler/scaling/multiscaler.go`), metrics arrive every 1 s (`scrapeTickInterval`,
//!   `pkg/autoscaler/metrics/collector.go`), and a revision at zero scale is decided at once when
//!   the activator reports demand (`MultiScaler.Poke`).
//!
//! Not modelled (defaults make them no-ops): `scale-down-delay` (0 s), `activation-scale` (1),
//! `scale-to-zero-pod-retention-period` (0 s), the RPS metric and the weighted-average
//! aggregation annotation. Target burst capacity only decides whether the activator sits in the
//! request path, which the simulator does not cost separately.

use serde::{Deserialize, Serialize};

use super::{Action, Observation};
use crate::serving::InstanceConfig;
use crate::time::{NS_PER_S, SimDuration, SimTime};
use crate::units::TimeSpan;

/// Knative's `autoscaling.TargetMin` (`pkg/apis/autoscaling/register.go`): the smallest target.
pub const TARGET_MIN: f64 = 0.01;
/// The decider's period, `tickInterval` in `pkg/autoscaler/scaling/multiscaler.go`.
pub const DECISION_INTERVAL: SimDuration = SimDuration::from_secs(2);
/// The metric scrape period and bucket size: `scrapeTickInterval`
/// (`pkg/autoscaler/metrics/collector.go`) and `config.BucketSize`
/// (`pkg/autoscaler/config/config.go`).
pub const BUCKET: SimDuration = SimDuration::from_secs(1);

/// The `[policy.autoscaler]` table: the keys of Knative's `config-autoscaler` ConfigMap (and the
/// per-revision scale bounds), with Knative's defaults (`config/core/configmaps/autoscaler.yaml`,
/// `pkg/autoscaler/config/config.go::defaultConfig`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpaSpec {
    /// `stable-window`: averaging window of the stable mode; whole seconds in [6 s, 1 h]
    /// (`autoscaling.WindowMin/WindowMax`). Default 60 s.
    #[serde(default = "default_stable_window")]
    pub stable_window: TimeSpan,
    /// `panic-window-percentage`: the panic window as a percentage of the stable window, in
    /// [1, 100]. Default 10 (→ 6 s).
    #[serde(default = "default_panic_window_percentage")]
    pub panic_window_percentage: f64,
    /// `panic-threshold-percentage`: panic when the panic-window demand needs this percentage of
    /// the ready pods, in [110, 1000]. Default 200.
    #[serde(default = "default_panic_threshold_percentage")]
    pub panic_threshold_percentage: f64,
    /// `container-concurrency-target-percentage`: the target as a percentage of the container
    /// concurrency, in (0, 100]. Default 70 (the current code; older docs show 100).
    #[serde(default = "default_target_percentage")]
    pub target_percentage: f64,
    /// `container-concurrency-target-default`: the per-pod concurrency used in place of
    /// containerConcurrency when that is 0 (unlimited). Default 100.
    #[serde(default = "default_concurrency_target_default")]
    pub container_concurrency_target_default: f64,
    /// `max-scale-up-rate`: at most `ceil(rate × ready)` pods per decision; > 1. Default 1000.
    #[serde(default = "default_max_scale_up_rate")]
    pub max_scale_up_rate: f64,
    /// `max-scale-down-rate`: at least `floor(ready / rate)` pods per decision; > 1. Default 2.
    #[serde(default = "default_max_scale_down_rate")]
    pub max_scale_down_rate: f64,
    /// `enable-scale-to-zero`. Default true.
    #[serde(default = "default_true")]
    pub enable_scale_to_zero: bool,
    /// `scale-to-zero-grace-period`: how long the activator must be in the path of an inactive
    /// revision before its last pod goes; > 0. Default 30 s.
    #[serde(default = "default_grace_period")]
    pub scale_to_zero_grace_period: TimeSpan,
    /// `initial-scale`: pods deployed at the start, ≥ 1. Default 1.
    #[serde(default = "default_one")]
    pub initial_scale: u32,
    /// `autoscaling.knative.dev/min-scale`. Default 0.
    #[serde(default)]
    pub min_scale: u32,
    /// `autoscaling.knative.dev/max-scale`; 0 = unlimited. Default 0.
    #[serde(default)]
    pub max_scale: u32,
}

fn default_stable_window() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(60))
}
fn default_panic_window_percentage() -> f64 {
    10.0
}
fn default_panic_threshold_percentage() -> f64 {
    200.0
}
fn default_target_percentage() -> f64 {
    70.0
}
fn default_concurrency_target_default() -> f64 {
    100.0
}
fn default_max_scale_up_rate() -> f64 {
    1000.0
}
fn default_max_scale_down_rate() -> f64 {
    2.0
}
fn default_true() -> bool {
    true
}
fn default_grace_period() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(30))
}
fn default_one() -> u32 {
    1
}

impl Default for KpaSpec {
    fn default() -> Self {
        KpaSpec {
            stable_window: default_stable_window(),
            panic_window_percentage: default_panic_window_percentage(),
            panic_threshold_percentage: default_panic_threshold_percentage(),
            target_percentage: default_target_percentage(),
            container_concurrency_target_default: default_concurrency_target_default(),
            max_scale_up_rate: default_max_scale_up_rate(),
            max_scale_down_rate: default_max_scale_down_rate(),
            enable_scale_to_zero: true,
            scale_to_zero_grace_period: default_grace_period(),
            initial_scale: 1,
            min_scale: 0,
            max_scale: 0,
        }
    }
}

impl KpaSpec {
    /// Checks the values against the ranges Knative's `config.go::validate` and
    /// `register.go` accept; the error is (field below the table, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: String| Err((f.to_string(), m));
        let sw = self.stable_window.0.as_ns();
        if !(6 * NS_PER_S..=3600 * NS_PER_S).contains(&sw) || !sw.is_multiple_of(NS_PER_S) {
            return err(
                "stable_window",
                "must be whole seconds between 6s and 1h".into(),
            );
        }
        if !(1.0..=100.0).contains(&self.panic_window_percentage) {
            return err(
                "panic_window_percentage",
                format!("{} is not in [1, 100]", self.panic_window_percentage),
            );
        }
        if !(110.0..=1000.0).contains(&self.panic_threshold_percentage) {
            return err(
                "panic_threshold_percentage",
                format!("{} is not in [110, 1000]", self.panic_threshold_percentage),
            );
        }
        if !(self.target_percentage > 0.0 && self.target_percentage <= 100.0) {
            return err(
                "target_percentage",
                format!("{} is not in (0, 100]", self.target_percentage),
            );
        }
        let target = self.container_concurrency_target_default * self.target_percentage / 100.0;
        if target.is_nan() || target < TARGET_MIN {
            return err(
                "container_concurrency_target_default",
                format!("with target_percentage it gives a target below {TARGET_MIN}"),
            );
        }
        if !(self.max_scale_up_rate > 1.0 && self.max_scale_up_rate.is_finite()) {
            return err(
                "max_scale_up_rate",
                format!("{} must be greater than 1", self.max_scale_up_rate),
            );
        }
        if !(self.max_scale_down_rate > 1.0 && self.max_scale_down_rate.is_finite()) {
            return err(
                "max_scale_down_rate",
                format!("{} must be greater than 1", self.max_scale_down_rate),
            );
        }
        if self.scale_to_zero_grace_period.0 == SimDuration::ZERO {
            return err("scale_to_zero_grace_period", "must be positive".into());
        }
        if self.initial_scale == 0 {
            return err("initial_scale", "must be at least 1".into());
        }
        if self.max_scale != 0 && self.min_scale > self.max_scale {
            return err(
                "min_scale",
                format!("{} is above max_scale {}", self.min_scale, self.max_scale),
            );
        }
        Ok(())
    }

    /// The autoscaler of a service whose `containerConcurrency` is `container_concurrency`
    /// (0 = unlimited).
    pub fn config(&self, container_concurrency: u32) -> KpaConfig {
        KpaConfig {
            stable_window: self.stable_window.0,
            panic_window: panic_window(self.stable_window.0, self.panic_window_percentage),
            panic_threshold: self.panic_threshold_percentage / 100.0,
            target: resolve_target(
                container_concurrency,
                self.target_percentage / 100.0,
                self.container_concurrency_target_default,
            ),
            max_scale_up_rate: self.max_scale_up_rate,
            max_scale_down_rate: self.max_scale_down_rate,
            enable_scale_to_zero: self.enable_scale_to_zero,
            scale_to_zero_grace_period: self.scale_to_zero_grace_period.0,
            initial_scale: self.initial_scale,
            min_scale: self.min_scale,
            max_scale: self.max_scale,
        }
    }
}

/// The panic window: `stable × percentage / 100` rounded to the bucket size and at least one
/// bucket (`pkg/reconciler/autoscaling/kpa/resources/metric.go::MakeMetric`).
pub fn panic_window(stable_window: SimDuration, percentage: f64) -> SimDuration {
    let secs = (stable_window.as_secs_f64() * percentage / 100.0).round();
    SimDuration::from_secs((secs as u64).max(1))
}

/// The per-pod concurrency the autoscaler aims at
/// (`pkg/reconciler/autoscaling/resources/target.go::ResolveMetricTarget`):
/// `max(TargetMin, total × utilization)`, `total` = containerConcurrency, or the
/// concurrency-target default when containerConcurrency is 0 (unlimited).
pub fn resolve_target(container_concurrency: u32, utilization: f64, default_total: f64) -> f64 {
    let total = if container_concurrency == 0 {
        default_total
    } else {
        f64::from(container_concurrency)
    };
    (total * utilization).max(TARGET_MIN)
}

/// A resolved autoscaler configuration (durations, fractions, the target value).
#[derive(Clone, Debug, PartialEq)]
pub struct KpaConfig {
    /// Stable window.
    pub stable_window: SimDuration,
    /// Panic window.
    pub panic_window: SimDuration,
    /// Panic threshold as a ratio (2.0 = 200 %).
    pub panic_threshold: f64,
    /// Target concurrency per pod.
    pub target: f64,
    /// Max scale-up rate.
    pub max_scale_up_rate: f64,
    /// Max scale-down rate.
    pub max_scale_down_rate: f64,
    /// Whether the revision may scale to zero.
    pub enable_scale_to_zero: bool,
    /// Scale-to-zero grace period.
    pub scale_to_zero_grace_period: SimDuration,
    /// Pods at the start.
    pub initial_scale: u32,
    /// Lower scale bound.
    pub min_scale: u32,
    /// Upper scale bound (0 = unlimited).
    pub max_scale: u32,
}

impl KpaConfig {
    /// Pods deployed at the start: the initial scale within the scale bounds.
    pub fn initial_pods(&self) -> u32 {
        apply_bounds(self.min_scale, self.max_scale, self.initial_scale)
    }
}

impl Default for KpaConfig {
    /// Knative's defaults with containerConcurrency 0 (target 100 × 0.7 = 70).
    fn default() -> Self {
        KpaSpec::default().config(0)
    }
}

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
        let want = apply_bounds(self.config.min_scale, self.config.max_scale, self.latest);
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
        if self.stable.first_write.is_none()
            || bucket_of(now) > self.stable.last_write + self.stable.len()
        {
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

/// Checks the parameters of one Knative-style function (a service with its autoscaler); the
/// error is (field below `policy.`, message).
pub fn validate_function(
    container_concurrency: u32,
    max_batch: u32,
    cpu_cores: u32,
    autoscaler: &KpaSpec,
) -> Result<(), (String, String)> {
    // containerConcurrency must not exceed `container-concurrency-max-limit`, default 1000
    // (`DefaultMaxRevisionContainerConcurrency`, `pkg/apis/config/defaults.go`).
    if container_concurrency > 1000 {
        return Err((
            "container_concurrency".into(),
            format!("{container_concurrency} is above Knative's limit of 1000"),
        ));
    }
    if max_batch == 0 {
        return Err(("max_batch".into(), "must be at least 1".into()));
    }
    if cpu_cores == 0 {
        return Err(("cpu_cores".into(), "must be at least 1".into()));
    }
    autoscaler
        .validate()
        .map_err(|(f, m)| (format!("autoscaler.{f}"), m))
}

/// `scaler.go::applyBounds`: clamp to [min, max], max 0 meaning unlimited.
fn apply_bounds(min: u32, max: u32, x: u32) -> u32 {
    let x = x.max(min);
    if max != 0 { x.min(max) } else { x }
}

/// One KPA per partition, driven from the policy's 1 s ticks: every tick records each
/// partition's mean concurrency over the tick as its 1 s bucket; every 2 s (and at once for a
/// partition at zero scale that sees demand) each KPA decides, and the difference between its
/// desired scale and the partition's pods (ready or starting, as a Deployment counts replicas)
/// becomes `ScaleOut`/`ScaleIn` actions on one accelerator.
#[derive(Clone, Debug)]
pub struct KpaFleet {
    kpas: Vec<Kpa>,
    accelerator: usize,
    instance: InstanceConfig,
    next_decision: SimTime,
    decisions: Vec<Option<Decision>>,
}

impl KpaFleet {
    /// `partitions` autoscalers with `config`, placing pods on `accelerator` with `instance`.
    pub fn new(
        partitions: usize,
        config: &KpaConfig,
        accelerator: usize,
        instance: InstanceConfig,
    ) -> Self {
        KpaFleet {
            kpas: (0..partitions).map(|_| Kpa::new(config.clone())).collect(),
            accelerator,
            instance,
            next_decision: SimTime::ZERO + DECISION_INTERVAL,
            decisions: vec![None; partitions],
        }
    }

    /// The autoscalers, by global partition index.
    pub fn kpas(&self) -> &[Kpa] {
        &self.kpas
    }

    /// The latest decision of each partition's KPA (`None` before its first).
    pub fn decisions(&self) -> &[Option<Decision>] {
        &self.decisions
    }

    /// Records this tick's metrics and answers the scaling actions.
    pub fn on_tick(&mut self, obs: &Observation, actions: &mut Vec<Action>) {
        let now = obs.now;
        let periodic = now >= self.next_decision;
        if periodic {
            while self.next_decision <= now {
                self.next_decision += DECISION_INTERVAL;
            }
        }
        for (p, (kpa, po)) in self.kpas.iter_mut().zip(&obs.partitions).enumerate() {
            let pods = po.total_instances();
            let starting: u32 = po.starting.iter().sum();
            let ready = pods.saturating_sub(starting);
            let concurrency = po.window_mean_concurrency;
            // Pods are scraped every second; with none, only the activator reports, and only
            // while it holds requests.
            if pods > 0 || concurrency > 0.0 {
                kpa.record(now, concurrency);
            }
            if !(periodic || kpa.wants_poke(concurrency)) {
                continue;
            }
            let decision = kpa.decide(now, ready);
            self.decisions[p] = Some(decision);
            let desired = decision.desired;
            if desired > pods {
                for _ in pods..desired {
                    actions.push(Action::ScaleOut {
                        partition: p,
                        accelerator: self.accelerator,
                        config: self.instance,
                    });
                }
            } else {
                // Fewer replicas: the simulation retires the youngest pod first, so pods still
                // starting go before ready ones, as a ReplicaSet deletes not-ready pods first.
                for _ in desired..pods {
                    actions.push(Action::ScaleIn {
                        partition: p,
                        accelerator: self.accelerator,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(secs)
    }

    /// Knative defaults with containerConcurrency 10: target 10 × 0.7 = 7.
    fn cc10() -> KpaConfig {
        KpaSpec::default().config(10)
    }

    /// Records `value` in every 1 s bucket from `from` to `to` inclusive.
    fn feed(kpa: &mut Kpa, from: u64, to: u64, value: f64) {
        for t in from..=to {
            kpa.record(s(t), value);
        }
    }

    #[test]
    fn defaults_resolve_as_knative_does() {
        let c = KpaConfig::default();
        // 60 s × 10 % = 6 s; 200 % → 2.0; CC 0 → 100 × 0.7 = 70.
        assert_eq!(c.stable_window, SimDuration::from_secs(60));
        assert_eq!(c.panic_window, SimDuration::from_secs(6));
        assert_eq!(c.panic_threshold, 2.0);
        assert!((c.target - 70.0).abs() < 1e-12);
        assert!((cc10().target - 7.0).abs() < 1e-12);
        // The SPRIGHT artifact's containerConcurrency 32: 32 × 0.7 = 22.4.
        assert!((KpaSpec::default().config(32).target - 22.4).abs() < 1e-12);
        // Panic window rounding: 60 s × 1 % = 0.6 s → rounds to 1 s; 6 s × 10 % = 0.6 → 1 s.
        assert_eq!(panic_window(s(60) - s(0), 1.0), SimDuration::from_secs(1));
        assert_eq!(panic_window(s(6) - s(0), 10.0), SimDuration::from_secs(1));
        assert_eq!(panic_window(s(90) - s(0), 10.0), SimDuration::from_secs(9));
        assert!(KpaSpec::default().validate().is_ok());
    }

    #[test]
    fn spec_validation_names_the_field() {
        let bad = |f: fn(&mut KpaSpec)| {
            let mut spec = KpaSpec::default();
            f(&mut spec);
            spec.validate().unwrap_err().0
        };
        assert_eq!(
            bad(|s| s.stable_window = TimeSpan(SimDuration::from_secs(5))),
            "stable_window"
        );
        assert_eq!(
            bad(|s| s.stable_window = TimeSpan(SimDuration::from_ms(6500))),
            "stable_window"
        );
        assert_eq!(
            bad(|s| s.panic_threshold_percentage = 100.0),
            "panic_threshold_percentage"
        );
        assert_eq!(
            bad(|s| s.panic_window_percentage = 0.5),
            "panic_window_percentage"
        );
        assert_eq!(bad(|s| s.target_percentage = 0.0), "target_percentage");
        assert_eq!(bad(|s| s.max_scale_up_rate = 1.0), "max_scale_up_rate");
        assert_eq!(bad(|s| s.max_scale_down_rate = 0.5), "max_scale_down_rate");
        assert_eq!(
            bad(|s| s.scale_to_zero_grace_period = TimeSpan(SimDuration::ZERO)),
            "scale_to_zero_grace_period"
        );
        assert_eq!(bad(|s| s.initial_scale = 0), "initial_scale");
        assert_eq!(
            bad(|s| {
                s.min_scale = 3;
                s.max_scale = 2;
            }),
            "min_scale"
        );
    }

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

    #[test]
    fn fleet_turns_decisions_into_actions_every_two_seconds() {
        use crate::policy::PartitionObservation;
        let obs = |now: u64, conc: f64, pods: u32, starting: u32| Observation {
            now: s(now),
            window: SimDuration::from_secs(1),
            partitions: vec![PartitionObservation {
                window_mean_concurrency: conc,
                instances: vec![0, pods],
                starting: vec![0, starting],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut fleet = KpaFleet::new(1, &cc10(), 1, InstanceConfig::default());
        let mut actions = Vec::new();
        // t = 1: no decision yet.
        fleet.on_tick(&obs(1, 21.0, 1, 0), &mut actions);
        assert!(actions.is_empty());
        // t = 2: both buckets 21 → ceil(21/7) = 3 pods; 1 exists → 2 scale-outs on accelerator 1.
        fleet.on_tick(&obs(2, 21.0, 1, 0), &mut actions);
        assert_eq!(actions.len(), 2);
        assert!(actions.iter().all(|a| matches!(
            a,
            Action::ScaleOut {
                partition: 0,
                accelerator: 1,
                ..
            }
        )));
        actions.clear();
        // t = 4, 3 pods of which 2 still starting: desired 3 counts them → nothing.
        fleet.on_tick(&obs(3, 21.0, 3, 2), &mut actions);
        fleet.on_tick(&obs(4, 21.0, 3, 2), &mut actions);
        assert!(actions.is_empty());
    }
}
