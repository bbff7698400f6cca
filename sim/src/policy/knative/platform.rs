//! A Knative-style serving platform: every function (a partition of a model, or a whole model) is
//! one service with its own KPA, and every pod runs on the GPU. Knative itself
//! ([`super::KnativeSpec::platform`]) and SPRIGHT ([`crate::policy::SprightSpec::platform`]) are
//! two configurations of it.

use super::config::KpaSpec;
use super::fleet::KpaFleet;
use super::window::BUCKET;
use crate::policy::infscaler::partitioner::bottleneck_cuts_over;
use crate::policy::{
    Action, Deployment, InstancePlan, Observation, Policy, PolicyContext, stage_slo_budgets,
};
use crate::serving::transport::TransportKind;
use crate::serving::{InstanceConfig, ProcessLayout};
use crate::time::SimDuration;

/// What a Knative-style platform does with an app: how its functions are formed, how they hand
/// tensors to each other, and how each function's service is configured and scaled.
#[derive(Clone, Debug, PartialEq)]
pub struct Platform {
    /// The policy's name as reports show it.
    pub name: &'static str,
    /// `true`: the functions are the partitions InfScaler's offline partitioner cuts under each
    /// stage's share of the SLO, each cut costed as a `transport` hop; `false`: one function per
    /// model.
    pub partition: bool,
    /// How a function's output reaches the next function.
    pub transport: TransportKind,
    /// `containerConcurrency` of every function, 0 = unlimited.
    pub container_concurrency: u32,
    /// Largest batch one pod forms from its queue.
    pub max_batch: u32,
    /// CPU cores each pod holds.
    pub cpu_cores: u32,
    /// The accelerator the pods run on, by name (`None`: the GPU).
    pub accelerator: Option<String>,
    /// The KPA's parameters, as the platform applies them.
    pub autoscaler: KpaSpec,
    /// How pods are grouped into serving processes: Knative and SPRIGHT run a container per
    /// pod ([`ProcessLayout::PerInstance`]) unless the scenario says otherwise.
    pub process_layout: ProcessLayout,
}

impl Platform {
    /// Checks the parameters of the functions and their autoscaler; the error is (field below
    /// `policy.`, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        // containerConcurrency must not exceed `container-concurrency-max-limit`, default 1000
        // (`DefaultMaxRevisionContainerConcurrency`, `pkg/apis/config/defaults.go`).
        if self.container_concurrency > 1000 {
            return Err((
                "container_concurrency".into(),
                format!(
                    "{} is above Knative's limit of 1000",
                    self.container_concurrency
                ),
            ));
        }
        if self.max_batch == 0 {
            return Err(("max_batch".into(), "must be at least 1".into()));
        }
        if self.cpu_cores == 0 {
            return Err(("cpu_cores".into(), "must be at least 1".into()));
        }
        self.autoscaler
            .validate()
            .map_err(|(f, m)| (format!("autoscaler.{f}"), m))
    }

    /// Cut points of every stage: the partitioner's under each stage's SLO budget, or none.
    fn cuts(&self, ctx: &PolicyContext<'_>) -> Vec<Vec<usize>> {
        if !self.partition {
            return vec![Vec::new(); ctx.models.len()];
        }
        ctx.models
            .iter()
            .zip(stage_slo_budgets(ctx))
            .map(|(model, budget)| bottleneck_cuts_over(model, ctx, budget, self.transport))
            .collect()
    }

    /// What every pod runs with.
    fn pod(&self) -> InstanceConfig {
        InstanceConfig {
            max_batch: self.max_batch,
            batch_timeout: SimDuration::ZERO,
            cpu_cores: self.cpu_cores,
            compute_share: 1.0,
        }
    }
}

/// The policy of a Knative-style platform: one KPA per function, pods on the GPU.
#[derive(Clone, Debug)]
pub struct KnativePolicy {
    platform: Platform,
    fleet: Option<KpaFleet>,
}

impl KnativePolicy {
    /// The policy of this platform.
    pub fn new(platform: Platform) -> Self {
        KnativePolicy {
            platform,
            fleet: None,
        }
    }

    /// The autoscalers (after [`Policy::deploy`]).
    pub fn fleet(&self) -> Option<&KpaFleet> {
        self.fleet.as_ref()
    }
}

impl Policy for KnativePolicy {
    fn name(&self) -> &'static str {
        self.platform.name
    }

    fn process_layout(&self) -> ProcessLayout {
        self.platform.process_layout
    }

    /// One KPA per function and the initial pods (the initial scale within the bounds) of every
    /// function on the GPU: Kubernetes places pods by their resource requests and has no notion
    /// of the DLAs, so an accelerator-unaware function asks for the GPU.
    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        let cuts = self.platform.cuts(ctx);
        let functions: usize = cuts.iter().map(|c| c.len() + 1).sum();
        let pod = self.platform.pod();
        let gpu = match &self.platform.accelerator {
            Some(name) => ctx.device.accelerator_named(name).expect("validated"),
            None => ctx.device.gpu().unwrap_or(0),
        };
        let kpa = self
            .platform
            .autoscaler
            .config(self.platform.container_concurrency);
        let initial = kpa.initial_pods();
        let instances = (0..functions)
            .flat_map(|partition| {
                (0..initial).map(move |_| InstancePlan {
                    partition,
                    accelerator: gpu,
                    config: pod,
                })
            })
            .collect();
        self.fleet = Some(KpaFleet::new(functions, &kpa, gpu, pod));
        Deployment {
            cuts,
            instances,
            transport: self.platform.transport,
            ..Default::default()
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
