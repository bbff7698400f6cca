//! Knative Serving (knative/serving) over the partitioned functions, as the InfScaler paper runs
//! its baseline (§V: "We apply our partitioned and configured functions on Knative without the
//! hardware-oriented memory sharing").
//!
//! - **Functions**: every model is cut by InfScaler's offline partitioner under the stage's share
//!   of the SLO ([`super::stage_slo_budgets`]); each partition is one Knative service with its
//!   own [`Kpa`](kpa::Kpa). One deviation: the partitioner's per-cut cost T_p is the
//!   HTTP hop Knative will actually pay ([`bottleneck_cuts_over`](super::infscaler::partitioner::bottleneck_cuts_over) with
//!   [`TransportKind::Http`]),
//!   not InfScaler's zero-copy hand-off. With InfScaler's own cuts the boundary tensors travel
//!   over HTTP (an early SSD-MobileNet cut moves 1.4 MB: ~7 ms a hop), so the pipeline misses
//!   its SLO even unloaded — by construction rather than by anything Knative does.
//! - **Placement**: Knative schedules pods through Kubernetes, which knows nothing of DLAs; a
//!   pod that asks for the GPU (`nvidia.com/gpu`) gets it, so every pod runs on the GPU, and the
//!   GPU is time-shared by all of them (the Jetson device plugin shares its one integrated GPU).
//! - **Data plane**: every hand-off between functions is an HTTP request carrying the serialised
//!   tensor through the next pod's queue-proxy sidecar ([`TransportKind::Http`]; the hop's fixed
//!   cost in `serving.transport.http_hop` includes the sidecar).
//! - **Autoscaling**: the KPA with Knative's defaults (REFERENCE.md §1), metrics every 1 s,
//!   decisions every 2 s ([`KpaFleet`](fleet::KpaFleet)), scale to zero after the stable window plus the grace
//!   period; a pod scaled out (or back from zero) cold-starts in the simulation.
//! - **containerConcurrency** (`container_concurrency`, default 1): Knative's own default is 0
//!   (unlimited), whose autoscaling target is then `container-concurrency-target-default` ×
//!   0.7 = 70 concurrent requests per pod. A batch-1 inference function executes one request at
//!   a time, so 70 concurrent requests means ~69 waiting: the KPA would add a pod only when the
//!   queue reaches ~70 × the service time, far beyond any latency SLO. The SPRIGHT artifact's
//!   Knative manifests use 32 (target 22.4, `sigcomm-experiment/expt-1-online-boutique/
//!   manifests/knative/frontend.yaml`), which has the same problem. Knative's documentation
//!   advises concurrency 1 for code that cannot process requests in parallel
//!   (docs.cloud.google.com/kubernetes-engine/enterprise/knative-serving/docs/concurrency), which
//!   is what a batch-1 GPU function is: target 1 × 0.7 = 0.7, i.e. a pod per 0.7 requests in
//!   flight. 0 and 32 remain available as parameters.
//!
//! The platform itself (functions with a KPA each, pods on the GPU) is [`Platform`] and its
//! [`KnativePolicy`]; SPRIGHT ([`super::spright`]) is the same platform configured differently.
//! The KPA is in [`config`] (the `[policy.autoscaler]` table), [`window`] (the windowed
//! averages), [`kpa`] (the decider) and [`fleet`] (one decider per function, driven by the
//! policy's ticks).

pub mod config;
pub mod fleet;
pub mod kpa;
pub mod platform;
pub mod window;

#[cfg(test)]
pub(crate) mod tests;

pub use config::KpaSpec;
pub use platform::{KnativePolicy, Platform};

use serde::{Deserialize, Serialize};

use crate::serving::ProcessLayout;
use crate::serving::transport::TransportKind;

/// Parameters of `[policy] kind = "knative"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnativeSpec {
    /// `containerConcurrency` of every function, 0 = unlimited (the autoscaling target is then
    /// `autoscaler.container_concurrency_target_default`); at most 1000. Default 1 (see the
    /// module documentation).
    #[serde(default = "one")]
    pub container_concurrency: u32,
    /// Cut the models with InfScaler's partitioner, as the paper deploys its Knative baseline;
    /// `false` deploys every model whole. Default true.
    #[serde(default = "yes")]
    pub partition: bool,
    /// Largest batch one pod forms from its queue (Knative itself does not batch; a model
    /// server inside the pod may). Default 1.
    #[serde(default = "one")]
    pub max_batch: u32,
    /// CPU cores each pod holds. Default 1.
    #[serde(default = "one")]
    pub cpu_cores: u32,
    /// The accelerator its pods run on, by name. Default: the GPU (Kubernetes places pods by
    /// their resource requests and has no notion of the DLAs); `"cpu"` gives pods of
    /// `cpu_cores` cores each on the CPU, horizontal scaling where Sponge scales vertically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,
    /// The KPA's parameters (the `config-autoscaler` ConfigMap and scale bounds).
    #[serde(default)]
    pub autoscaler: KpaSpec,
    /// How instances are grouped into serving processes: `"per_instance"`, `"per_partition"`
    /// or `"per_app"` ([`ProcessLayout`]). Default: Knative's own, `per_instance` (a pod per
    /// instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_layout: Option<ProcessLayout>,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

impl Default for KnativeSpec {
    fn default() -> Self {
        KnativeSpec {
            container_concurrency: 1,
            partition: true,
            max_batch: 1,
            cpu_cores: 1,
            accelerator: None,
            autoscaler: KpaSpec::default(),
            process_layout: None,
        }
    }
}

impl KnativeSpec {
    /// Checks the parameters against the device; the error is (field below `policy.`,
    /// message).
    pub fn validate(
        &self,
        device: &crate::hardware::profile::DeviceProfile,
    ) -> Result<(), (String, String)> {
        if let Some(name) = &self.accelerator {
            device
                .accelerator_named(name)
                .map_err(|m| ("accelerator".to_string(), m))?;
        }
        self.platform().validate()
    }

    /// Knative's platform: the models cut by the partitioner with HTTP hops between the
    /// partitions, Knative's autoscaler as configured.
    pub fn platform(&self) -> Platform {
        Platform {
            name: "knative",
            partition: self.partition,
            transport: TransportKind::Http,
            container_concurrency: self.container_concurrency,
            max_batch: self.max_batch,
            cpu_cores: self.cpu_cores,
            accelerator: self.accelerator.clone(),
            autoscaler: self.autoscaler.clone(),
            process_layout: self.process_layout.unwrap_or(ProcessLayout::PerInstance),
        }
    }
}
