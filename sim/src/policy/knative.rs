//! Knative Serving (knative/serving) over the partitioned functions, as the InfScaler paper runs
//! its baseline (§V: "We apply our partitioned and configured functions on Knative without the
//! hardware-oriented memory sharing").
//!
//! - **Functions**: every model is cut by InfScaler's offline partitioner under the stage's share
//!   of the SLO ([`super::stage_slo_budgets`]); each partition is one Knative service with its
//!   own [`Kpa`](super::kpa::Kpa). One deviation: the partitioner's per-cut cost T_p is the
//!   HTTP hop Knative will actually pay ([`bottleneck_cuts_over`] with [`TransportKind::Http`]),
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
//!   decisions every 2 s ([`KpaFleet`]), scale to zero after the stable window plus the grace
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

use serde::{Deserialize, Serialize};

use super::infscaler::partitioner::bottleneck_cuts_over;
use super::kpa::{BUCKET, KpaFleet, KpaSpec, validate_function};
use super::{Action, Deployment, InstancePlan, Observation, Policy, PolicyContext};
use crate::serving::InstanceConfig;
use crate::serving::transport::TransportKind;
use crate::time::SimDuration;

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
    /// The KPA's parameters (the `config-autoscaler` ConfigMap and scale bounds).
    #[serde(default)]
    pub autoscaler: KpaSpec,
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
            autoscaler: KpaSpec::default(),
        }
    }
}

impl KnativeSpec {
    /// Checks the parameters; the error is (field below `policy.`, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        validate_function(
            self.container_concurrency,
            self.max_batch,
            self.cpu_cores,
            &self.autoscaler,
        )
    }
}

/// The Knative policy: one KPA per partition, pods on the GPU, HTTP between functions.
#[derive(Clone, Debug)]
pub struct KnativePolicy {
    spec: KnativeSpec,
    fleet: Option<KpaFleet>,
}

impl KnativePolicy {
    /// A policy with these parameters.
    pub fn new(spec: KnativeSpec) -> Self {
        KnativePolicy { spec, fleet: None }
    }

    /// The autoscalers (after [`Policy::deploy`]).
    pub fn fleet(&self) -> Option<&KpaFleet> {
        self.fleet.as_ref()
    }
}

impl Policy for KnativePolicy {
    fn name(&self) -> &'static str {
        "knative"
    }

    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        let cuts: Vec<Vec<usize>> = if self.spec.partition {
            let budgets = super::stage_slo_budgets(ctx);
            ctx.models
                .iter()
                .zip(budgets)
                .map(|(model, budget)| {
                    bottleneck_cuts_over(model, ctx, budget, TransportKind::Http)
                })
                .collect()
        } else {
            vec![Vec::new(); ctx.models.len()]
        };
        let partitions: usize = cuts.iter().map(|c| c.len() + 1).sum();
        let config = InstanceConfig {
            max_batch: self.spec.max_batch,
            batch_timeout: SimDuration::ZERO,
            cpu_cores: self.spec.cpu_cores,
            compute_share: 1.0,
        };
        let (fleet, instances) = functions_on_gpu(
            ctx,
            partitions,
            &self.spec.autoscaler,
            self.spec.container_concurrency,
            config,
        );
        self.fleet = Some(fleet);
        Deployment {
            cuts,
            instances,
            transport: Some(TransportKind::Http),
            control_path: None,
        }
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        Some(BUCKET)
    }

    fn on_tick(&mut self, observation: &Observation, actions: &mut Vec<Action>) {
        if let Some(fleet) = &mut self.fleet {
            fleet.on_tick(observation, actions);
        }
    }
}

/// One KPA per partition and the initial pods (the initial scale within the bounds) of every
/// partition on the GPU: Kubernetes places pods by their resource requests and has no notion of
/// the DLAs, so an accelerator-unaware function asks for the GPU.
pub(super) fn functions_on_gpu(
    ctx: &PolicyContext<'_>,
    partitions: usize,
    autoscaler: &KpaSpec,
    container_concurrency: u32,
    config: InstanceConfig,
) -> (KpaFleet, Vec<InstancePlan>) {
    let gpu = ctx.device.gpu().unwrap_or(0);
    let kpa = autoscaler.config(container_concurrency);
    let initial = kpa.initial_pods();
    let instances = (0..partitions)
        .flat_map(|partition| {
            (0..initial).map(move |_| InstancePlan {
                partition,
                accelerator: gpu,
                config,
            })
        })
        .collect();
    (KpaFleet::new(partitions, &kpa, gpu, config), instances)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use super::*;
    use crate::report::Report;
    use crate::scenario::Scenario;
    use crate::simulation::Simulation;

    fn run(text: &str, dir: &Path) -> Report {
        let r = Scenario::parse(text, "t", dir).unwrap().resolve().unwrap();
        Simulation::new(&r, None).unwrap().run()
    }

    /// Writes each (file name, arrival times in s) as a one-column trace into a directory of this
    /// test process.
    pub(crate) fn trace_dir(files: &[(&str, &[f64])]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("infscaler-kpa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, times) in files {
            let mut csv = String::from("t\n");
            for t in times.iter() {
                csv.push_str(&format!("{t}\n"));
            }
            std::fs::write(dir.join(name), csv).unwrap();
        }
        dir
    }

    fn gpu_instances(report: &Report) -> Vec<u32> {
        report
            .partitions
            .iter()
            .map(|p| p.instances.get("gpu").copied().unwrap_or(0))
            .collect()
    }

    #[test]
    fn example_scenarios_run() {
        // The shipped examples stay valid and run under their policies.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/examples");
        for (file, policy, transport) in [
            ("knative-bursty-tm.toml", "knative", "http"),
            ("spright-bursty-tm.toml", "spright", "shared_memory"),
        ] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            let report = run(&text, &dir);
            assert_eq!(report.policy, policy);
            assert_eq!(report.transport, transport);
            assert!(report.summary.completed > 0);
        }
    }

    #[test]
    fn spec_parses_with_defaults_and_rejects_unknown_keys() {
        let spec: KnativeSpec = toml::from_str("").unwrap();
        assert_eq!(spec, KnativeSpec::default());
        let spec: KnativeSpec = toml::from_str(
            "container_concurrency = 32\n[autoscaler]\nstable_window = \"30s\"\nmin_scale = 1",
        )
        .unwrap();
        assert_eq!(spec.container_concurrency, 32);
        assert_eq!(spec.autoscaler.min_scale, 1);
        assert_eq!(spec.autoscaler.max_scale_down_rate, 2.0);
        assert!(toml::from_str::<KnativeSpec>("concurrency = 1").is_err());
        assert!(toml::from_str::<KnativeSpec>("[autoscaler]\nwindow = \"1s\"").is_err());
        let bad = KnativeSpec {
            container_concurrency: 1001,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "container_concurrency");
        let mut bad = KnativeSpec::default();
        bad.autoscaler.panic_threshold_percentage = 50.0;
        assert_eq!(
            bad.validate().unwrap_err().0,
            "autoscaler.panic_threshold_percentage"
        );
    }

    /// TM (SSD-MobileNet → ResNet-50) on the Xavier AGX, Poisson arrivals.
    fn tm(rate: f64, duration_s: u32) -> String {
        format!(
            r#"
[device]
profile = "xavier-agx"
[app]
name = "tm"
[slo]
multiplier = 3.0
[workload]
kind = "poisson"
rate_per_s = {rate}
[run]
duration = "{duration_s}s"
warmup = "2s"
[policy]
kind = "knative"
"#
        )
    }

    #[test]
    fn low_load_meets_the_slo_with_http_between_functions() {
        // Low load: 2 requests/s, a few percent of one GPU pod's capacity per function (each
        // stage runs in milliseconds alone), so per-partition concurrency stays far below
        // the 0.7 target and one warm pod per function suffices.
        let report = run(&tm(2.0, 30), Path::new("."));
        assert_eq!(report.policy, "knative");
        assert_eq!(report.transport, "http");
        let s = &report.summary;
        assert!(s.completed > 30, "completed {}", s.completed);
        assert_eq!(s.dropped, 0);
        // Every completed request met the SLO (3 × isolated latency, HTTP hops included).
        assert_eq!(s.completed_within_slo, s.completed);
        // No pod was added or removed: one pod per function at the end.
        assert!(gpu_instances(&report).iter().all(|&n| n == 1));
        assert!(report.partitions.iter().all(|p| p.instances.len() == 1));
    }

    #[test]
    fn a_step_up_in_load_adds_pods() {
        // 20 s at 2 requests/s, then 20 s at 200/s (evenly spaced). Alone, the ResNet-50
        // function runs ≈ 4.7 ms per request on the GPU, so 200/s keeps ≈ 0.94 requests in it
        // on average, above the 0.7 target: the KPA must add pods (the panic window sees it
        // within seconds). The low phase alone keeps one pod per function.
        let mut low = Vec::new();
        for i in 0..40 {
            low.push(i as f64 * 0.5);
        }
        let mut step = low.clone();
        for i in 0..4000 {
            step.push(20.0 + i as f64 * 0.005);
        }
        let dir = trace_dir(&[("low.csv", &low), ("step.csv", &step)]);
        let scenario = |file: &str| {
            format!(
                r#"
[device]
profile = "xavier-agx"
[app]
name = "tm"
[slo]
multiplier = 3.0
[workload]
kind = "trace"
path = "{file}"
time_unit = "s"
[run]
duration = "40s"
[policy]
kind = "knative"
"#
            )
        };
        let low = run(&scenario("low.csv"), &dir);
        let step = run(&scenario("step.csv"), &dir);
        assert!(
            gpu_instances(&low).iter().all(|&n| n == 1),
            "{:?}",
            gpu_instances(&low)
        );
        let pods = gpu_instances(&step);
        assert_eq!(pods.len(), low.partitions.len());
        assert!(pods.iter().all(|&n| n >= 1), "{pods:?}");
        assert!(
            pods.iter().sum::<u32>() > pods.len() as u32,
            "pods after the step {pods:?}"
        );
    }

    #[test]
    fn scales_to_zero_after_the_load_stops() {
        // 10 s of 5 requests/s, then nothing until one last request at 150 s: the partitions'
        // stable windows are all zero 60 s after the last bucket with demand (70 s), the
        // revisions are marked inactive then and lose their last pod 30 s later (100 s).
        // Memory then holds no instance at all until the last request cold-starts the
        // functions again.
        let mut times: Vec<f64> = (0..50).map(|i| i as f64 * 0.2).collect();
        times.push(150.0);
        let dir = trace_dir(&[("gap.csv", &times)]);
        let text = r#"
[device]
profile = "xavier-agx"
[app]
name = "tm"
[slo]
multiplier = 3.0
[workload]
kind = "trace"
path = "gap.csv"
time_unit = "s"
[run]
duration = "200s"
drain = true
series_interval = "1s"
[policy]
kind = "knative"
"#;
        let report = run(text, &dir);
        let s = &report.summary;
        assert_eq!(s.arrivals, 51);
        assert_eq!(s.completed, 51);
        let series = s.series.as_ref().expect("series");
        let memory_at = |t: f64| {
            series
                .points
                .iter()
                .find(|p| p.time_s >= t)
                .map(|p| p.memory_bytes)
                .unwrap()
        };
        // During the load, the pods' weights are in memory (hundreds of MB).
        assert!(memory_at(5.0) > 50e6, "{}", memory_at(5.0));
        // The last demand is in the bucket of t = 10 s. Still there at 95 s: the stable window
        // empties at 70 s (buckets 11..=70), the revision is marked inactive at that decision,
        // and the grace period lasts until 100 s.
        assert!(memory_at(95.0) > 50e6, "{}", memory_at(95.0));
        // Scaled to zero from 100 s, well before the last request: nothing held.
        assert_eq!(memory_at(101.0), 0.0);
        assert_eq!(memory_at(149.0), 0.0);
        // The last request found no pod: it waited for cold starts and missed the SLO.
        assert_eq!(s.completed_within_slo, 50);
        // It brought pods back for each function on its path (two for one that saw the request
        // wait a whole second at zero scale: ceil(≈1 / 0.7) = 2).
        assert!(gpu_instances(&report).iter().all(|&n| n >= 1));
    }
}
