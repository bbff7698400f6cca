//! SPRIGHT (Qi et al., SIGCOMM'22; github.com/ucr-serverless/spright): each model of the app is
//! one function scaled whole, Knative-style; functions pass descriptors through shared memory
//! and are kept warm.
//!
//! - **Functions**: one per model, never partitioned (the InfScaler paper, §V: "SPRIGHT does not
//!   include a partitioning algorithm"), each with its own KPA ([`super::knative::kpa`]): SPRIGHT's
//!   scaling is Knative/Kubernetes' (REFERENCE.md §3), so the same autoscaler and defaults as
//!   the Knative policy, which isolates the data plane as SPRIGHT's own evaluation does.
//! - **Warm functions**: SPRIGHT keeps functions warm ("no cold start", the paper's abstract);
//!   its artifact pins `autoscaling.knative.dev/minScale: "1"`
//!   (`sigcomm-experiment/expt-1-online-boutique/manifests/knative/frontend.yaml`). Here every
//!   function keeps at least one pod (`min_scale` is raised to 1) and never scales to zero; the
//!   initial pods are deployed warm (the scenario's `serving.cold_start_initial`, false by
//!   default). Pods added by the autoscaler still start cold: a new pod must load its model.
//! - **Data plane**: a ~16 B descriptor goes from function to function through SPRIGHT's
//!   shared-memory pool (eBPF SK_MSG redirect, `src/io_sk_msg.c`), no HTTP between functions
//!   ([`TransportKind::SharedMemory`]). SPRIGHT is not accelerator-aware: a tensor is copied
//!   from the producer's accelerator buffer into the pool and from the pool into the consumer's
//!   input binding (the transport's two copies).
//! - **Placement**: as for Knative, pods ask for the GPU and all run there.
//! - **containerConcurrency** (default 1): as the Knative policy, for the same reason (a batch-1
//!   function runs one request at a time); the artifact's 32 is a parameter away.
//!
//! So SPRIGHT is Knative's [`Platform`] with whole functions, shared-memory hand-offs and warm
//! functions ([`SprightSpec::platform`]); it runs as a [`KnativePolicy`](super::KnativePolicy).

use serde::{Deserialize, Serialize};

use super::knative::{KpaSpec, Platform};
use crate::serving::ProcessLayout;
use crate::serving::transport::TransportKind;

/// Parameters of `[policy] kind = "spright"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SprightSpec {
    /// `containerConcurrency` of every function, 0 = unlimited; at most 1000. Default 1.
    #[serde(default = "one")]
    pub container_concurrency: u32,
    /// Largest batch one pod forms from its queue. Default 1.
    #[serde(default = "one")]
    pub max_batch: u32,
    /// CPU cores each pod holds. Default 1.
    #[serde(default = "one")]
    pub cpu_cores: u32,
    /// The KPA's parameters. SPRIGHT keeps functions warm whatever this says: `min_scale` is at
    /// least 1 and `enable_scale_to_zero` is off.
    #[serde(default)]
    pub autoscaler: KpaSpec,
    /// How instances are grouped into serving processes: `"per_instance"`, `"per_partition"`
    /// or `"per_app"` ([`ProcessLayout`]). Default: SPRIGHT's own, `per_instance` (a pod per
    /// instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_layout: Option<ProcessLayout>,
}

fn one() -> u32 {
    1
}

impl Default for SprightSpec {
    fn default() -> Self {
        SprightSpec {
            container_concurrency: 1,
            max_batch: 1,
            cpu_cores: 1,
            autoscaler: KpaSpec::default(),
            process_layout: None,
        }
    }
}

impl SprightSpec {
    /// Checks the parameters; the error is (field below `policy.`, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.platform().validate()
    }

    /// The autoscaler with SPRIGHT's warm functions imposed.
    pub fn warm_autoscaler(&self) -> KpaSpec {
        let mut spec = self.autoscaler.clone();
        spec.min_scale = spec.min_scale.max(1);
        if spec.max_scale != 0 {
            spec.max_scale = spec.max_scale.max(1);
        }
        spec.enable_scale_to_zero = false;
        spec
    }

    /// SPRIGHT's platform: Knative's, with one function per model, shared-memory hand-offs and
    /// functions kept warm.
    pub fn platform(&self) -> Platform {
        Platform {
            name: "spright",
            partition: false,
            transport: TransportKind::SharedMemory,
            container_concurrency: self.container_concurrency,
            max_batch: self.max_batch,
            cpu_cores: self.cpu_cores,
            accelerator: None,
            autoscaler: self.warm_autoscaler(),
            process_layout: self.process_layout.unwrap_or(ProcessLayout::PerInstance),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::policy::knative::tests::{
        gap_times, gpu_instances, run, step_times, tm, trace, trace_dir,
    };

    #[test]
    fn warm_functions_are_imposed() {
        let spec: SprightSpec =
            toml::from_str("[autoscaler]\nenable_scale_to_zero = true\nmin_scale = 0").unwrap();
        let warm = spec.warm_autoscaler();
        assert_eq!(warm.min_scale, 1);
        assert!(!warm.enable_scale_to_zero);
        assert!(toml::from_str::<SprightSpec>("partition = true").is_err());
        let bad = SprightSpec {
            max_batch: 0,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "max_batch");
    }

    #[test]
    fn low_load_meets_the_slo_with_whole_models_and_shared_memory() {
        // 2 requests/s on TM: one warm pod per model, far below the 0.7 target.
        let text = tm(
            "spright",
            "kind = \"poisson\"\nrate_per_s = 2.0",
            "duration = \"30s\"\nwarmup = \"2s\"",
        );
        let report = run(&text, Path::new("."));
        assert_eq!(report.policy, "spright");
        assert_eq!(report.transport, "shared_memory");
        // Whole models: one partition per stage, each covering all its operators.
        assert_eq!(report.partitions.len(), 2);
        assert!(report.partitions.iter().all(|p| p.first_op == 1));
        let s = &report.summary;
        assert!(s.completed > 30);
        assert_eq!(s.dropped, 0);
        assert_eq!(s.completed_within_slo, s.completed);
        assert_eq!(gpu_instances(&report), vec![1, 1]);
    }

    /// TM under SPRIGHT replaying a trace, with a time series.
    fn tm_trace(file: &str, duration_s: u32) -> String {
        let run = format!("duration = \"{duration_s}s\"\nseries_interval = \"1s\"");
        tm("spright", &trace(file), &run)
    }

    #[test]
    fn a_step_up_in_load_adds_pods() {
        // As for Knative: 20 s at 2/s, then 20 s at 200/s; ResNet-50 (≈ 4.7 ms alone on the
        // GPU) then holds ≈ 0.94 requests on average, above the 0.7 target.
        let dir = trace_dir(&[("spright-step.csv", &step_times())]);
        let report = run(&tm_trace("spright-step.csv", 40), &dir);
        let pods = gpu_instances(&report);
        assert_eq!(pods.len(), 2);
        assert!(pods.iter().all(|&n| n >= 1), "{pods:?}");
        assert!(pods.iter().sum::<u32>() > 2, "pods after the step {pods:?}");
    }

    #[test]
    fn functions_stay_warm_after_the_load_stops() {
        // The Knative scale-to-zero scenario (10 s of 5/s, one request at 150 s): SPRIGHT keeps
        // one pod per function, so memory stays occupied and the late request is served warm,
        // within the SLO.
        let dir = trace_dir(&[("spright-gap.csv", &gap_times())]);
        let report = run(&tm_trace("spright-gap.csv", 200), &dir);
        let s = &report.summary;
        assert_eq!(s.completed, 51);
        assert_eq!(s.completed_within_slo, 51);
        let series = s.series.as_ref().expect("series");
        assert!(
            series.points.iter().all(|p| p.memory_bytes > 50e6),
            "a function lost its last pod"
        );
        assert_eq!(gpu_instances(&report), vec![1, 1]);
    }
}
