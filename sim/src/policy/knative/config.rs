//! The `[policy.autoscaler]` table (Knative's `config-autoscaler` ConfigMap and the scale bounds
//! of a revision) and the resolved configuration one [`Kpa`](super::kpa::Kpa) runs with.
//!
//! Faithful to knative/serving (REFERENCE.md §1, snapshot HEAD 98e5ef9): the keys, defaults and
//! accepted ranges of `pkg/autoscaler/config/config.go`, the target of
//! `pkg/reconciler/autoscaling/resources/target.go`, the panic window of
//! `pkg/reconciler/autoscaling/kpa/resources/metric.go` and the bounds of
//! `pkg/reconciler/autoscaling/kpa/scaler.go`.
//!
//! Not modelled (defaults make them no-ops): `scale-down-delay` (0 s), `activation-scale` (1),
//! `scale-to-zero-pod-retention-period` (0 s), the RPS metric and the weighted-average
//! aggregation annotation. Target burst capacity only decides whether the activator sits in the
//! request path, which the simulator does not cost separately.

use serde::{Deserialize, Serialize};

use crate::time::{NS_PER_S, SimDuration};
use crate::units::TimeSpan;

/// Knative's `autoscaling.TargetMin` (`pkg/apis/autoscaling/register.go`): the smallest target.
pub const TARGET_MIN: f64 = 0.01;

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
        // Not Knative's: the simulator lists every pod it deploys or scales to.
        let most = crate::policy::static_policy::MAX_INSTANCES;
        for (key, pods) in [
            ("initial_scale", self.initial_scale),
            ("min_scale", self.min_scale),
        ] {
            if pods > most {
                return err(
                    key,
                    format!("{pods} pods: the simulator runs at most {most}"),
                );
            }
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
        self.bounded(self.initial_scale)
    }
}

impl Default for KpaConfig {
    /// Knative's defaults with containerConcurrency 0 (target 100 × 0.7 = 70).
    fn default() -> Self {
        KpaSpec::default().config(0)
    }
}

impl KpaConfig {
    /// `scaler.go::applyBounds`: `pods` clamped to [min scale, max scale], max 0 meaning
    /// unlimited.
    pub fn bounded(&self, pods: u32) -> u32 {
        let pods = pods.max(self.min_scale);
        if self.max_scale != 0 {
            pods.min(self.max_scale)
        } else {
            pods
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_as_knative_does() {
        let c = KpaConfig::default();
        // 60 s × 10 % = 6 s; 200 % → 2.0; CC 0 → 100 × 0.7 = 70.
        assert_eq!(c.stable_window, SimDuration::from_secs(60));
        assert_eq!(c.panic_window, SimDuration::from_secs(6));
        assert_eq!(c.panic_threshold, 2.0);
        assert!((c.target - 70.0).abs() < 1e-12);
        assert!((KpaSpec::default().config(10).target - 7.0).abs() < 1e-12);
        // The SPRIGHT artifact's containerConcurrency 32: 32 × 0.7 = 22.4.
        assert!((KpaSpec::default().config(32).target - 22.4).abs() < 1e-12);
        // Panic window rounding: 60 s × 1 % = 0.6 s → rounds to 1 s; 6 s × 10 % = 0.6 → 1 s.
        assert_eq!(
            panic_window(SimDuration::from_secs(60), 1.0),
            SimDuration::from_secs(1)
        );
        assert_eq!(
            panic_window(SimDuration::from_secs(6), 10.0),
            SimDuration::from_secs(1)
        );
        assert_eq!(
            panic_window(SimDuration::from_secs(90), 10.0),
            SimDuration::from_secs(9)
        );
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
}
