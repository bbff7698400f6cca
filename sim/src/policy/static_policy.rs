//! The static policy: a deployment written in the scenario, never changed during the run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Deployment, InstancePlan, Policy, PolicyContext};
use crate::hardware::profile::DeviceProfile;
use crate::model::Model;
use crate::model::partition;
use crate::serving::transport::{ControlPath, TransportKind};
use crate::serving::{InstanceConfig, ProcessLayout};
use crate::time::SimDuration;
use crate::units::TimeSpan;

/// Most instances one partition may ask for on one accelerator (and most pods a Knative
/// function may start with or keep, `initial_scale` and `min_scale`): a deployment lists every
/// instance, so a count of billions would exhaust memory before the data plane's memory check
/// refuses all but the first few.
pub const MAX_INSTANCES: u32 = 1024;

/// Parameters of the static policy (`[policy] kind = "static"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticSpec {
    /// Transport between partitions. Default: zero-copy tokens.
    #[serde(default)]
    pub transport: TransportKind,
    /// How zero-copy tokens travel: an eBPF map (`ebpf`) or user-space messages to the sharing
    /// manager (`user_space`, the paper's "INFSCALER–"); other transports ignore it. Default
    /// `ebpf`.
    #[serde(default)]
    pub control_path: ControlPath,
    /// How instances are grouped into serving processes: `"per_instance"`, `"per_partition"`
    /// or `"per_app"` ([`ProcessLayout`]). Default: the system's own, `per_instance` (a process per instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_layout: Option<ProcessLayout>,
    /// One entry per app stage, in order. Empty: every model whole, one instance on the GPU.
    /// With `app.family`: one entry per variant. With `[[streams]]`: the scenario's own app's
    /// stages, then each stream's.
    #[serde(default)]
    pub stages: Vec<StaticStage>,
    /// With `app.family`: how arrivals split among the variants, one weight per variant
    /// (fastest first), e.g. `[0, 1]` for all to the second. Required there, refused elsewhere.
    /// With `[[streams]]`: one weight per route of every stream in order (a pipeline has one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_weights: Vec<f64>,
}

/// How one stage's model is cut and served.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticStage {
    /// Cut points in the paper's numbering: `[5, 13]` ends partitions after operators #5 and #13.
    #[serde(default)]
    pub cuts: Vec<usize>,
    /// One entry per partition (cuts + 1). Empty: one instance of each partition on the GPU.
    #[serde(default)]
    pub partitions: Vec<StaticPartition>,
}

/// The instances of one partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticPartition {
    /// Instance count per accelerator name, e.g. `{ gpu = 2, dla0 = 1 }`.
    pub instances: BTreeMap<String, u32>,
    /// Largest batch an instance forms.
    #[serde(default = "one")]
    pub max_batch: u32,
    /// Longest wait of the oldest queued request for a batch to fill.
    #[serde(default = "zero")]
    pub batch_timeout: TimeSpan,
    /// CPU cores each instance holds.
    #[serde(default = "one")]
    pub cpu_cores: u32,
    /// Most of its engine's compute each instance may use, in (0, 1] (e.g. an MPS share).
    #[serde(default = "full")]
    pub compute_share: f64,
    /// The runtime of this partition's GPU work, overriding `serving.runtime`: a built-in
    /// runtime profile or a runtime profile file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

fn full() -> f64 {
    1.0
}

fn one() -> u32 {
    1
}
fn zero() -> TimeSpan {
    TimeSpan(SimDuration::ZERO)
}

impl Default for StaticPartition {
    fn default() -> Self {
        StaticPartition {
            instances: BTreeMap::from([("gpu".to_string(), 1)]),
            max_batch: 1,
            batch_timeout: zero(),
            cpu_cores: 1,
            compute_share: 1.0,
            runtime: None,
        }
    }
}

impl StaticSpec {
    /// The runtime overrides of the deployed partitions, by global partition index (stages in
    /// order), with the field each comes from; `None` where a partition has none.
    pub fn runtime_overrides(&self, models: &[Model]) -> Vec<Option<(String, String)>> {
        let default_stage = StaticStage::default();
        let mut out = Vec::new();
        for (s, model) in models.iter().enumerate() {
            let stage = self.stages.get(s).unwrap_or(&default_stage);
            let n = partition::split(model.operators.len(), &stage.cuts).map_or(0, |r| r.len());
            for p in 0..n {
                out.push(stage.partitions.get(p).and_then(|part| {
                    let field = format!("stages[{s}].partitions[{p}].runtime");
                    part.runtime.clone().map(|r| (field, r))
                }));
            }
        }
        out
    }

    /// Checks the deployment against the models and the device; the error is (field, message).
    pub fn validate(
        &self,
        models: &[Model],
        device: &DeviceProfile,
    ) -> Result<(), (String, String)> {
        if !self.stages.is_empty() && self.stages.len() != models.len() {
            return Err((
                "stages".into(),
                format!(
                    "has {} entries but the app has {} stages: give one per stage, in order",
                    self.stages.len(),
                    models.len()
                ),
            ));
        }
        // `route_weights` is checked against the streams' routes by the scenario.
        let default_stage = StaticStage::default();
        for (s, model) in models.iter().enumerate() {
            let stage = self.stages.get(s).unwrap_or(&default_stage);
            let ranges = partition::split(model.operators.len(), &stage.cuts).map_err(|m| {
                (
                    format!("stages[{s}].cuts"),
                    format!("{} ({})", m, model.name),
                )
            })?;
            if !stage.partitions.is_empty() && stage.partitions.len() != ranges.len() {
                return Err((
                    format!("stages[{s}].partitions"),
                    format!(
                        "has {} entries but the cuts make {} partitions: give one per partition",
                        stage.partitions.len(),
                        ranges.len()
                    ),
                ));
            }
            for (p, part) in stage.partitions.iter().enumerate() {
                let field = format!("stages[{s}].partitions[{p}]");
                if part.instances.values().all(|&n| n == 0) {
                    return Err((
                        format!("{field}.instances"),
                        "needs at least one instance, e.g. { gpu = 1 }".into(),
                    ));
                }
                for (name, &count) in &part.instances {
                    if count > MAX_INSTANCES {
                        return Err((
                            format!("{field}.instances.{name}"),
                            format!("{count} instances: at most {MAX_INSTANCES} per accelerator"),
                        ));
                    }
                    if device.accelerator(name).is_none() {
                        let known: Vec<&str> = device
                            .accelerators
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect();
                        return Err((
                            format!("{field}.instances"),
                            format!(
                                "unknown accelerator `{name}`: {} has {}",
                                device.name,
                                known.join(", ")
                            ),
                        ));
                    }
                }
                if !(part.compute_share > 0.0 && part.compute_share <= 1.0) {
                    return Err((
                        format!("{field}.compute_share"),
                        format!(
                            "{} is not allowed: a share of the engine in (0, 1], e.g. 0.5",
                            part.compute_share
                        ),
                    ));
                }
                if part.max_batch == 0 {
                    return Err((format!("{field}.max_batch"), "must be at least 1".into()));
                }
                let cpu_cores = device
                    .accelerators
                    .iter()
                    .find(|a| a.kind == crate::hardware::AcceleratorKind::Cpu)
                    .map_or(1, |a| a.cores);
                if part.cpu_cores == 0 || part.cpu_cores > cpu_cores {
                    return Err((
                        format!("{field}.cpu_cores"),
                        format!("must be between 1 and {cpu_cores} (the CPU's cores)"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Deploys what the scenario says, then does nothing.
#[derive(Clone, Debug)]
pub struct StaticPolicy {
    spec: StaticSpec,
}

impl StaticPolicy {
    /// A static policy with this deployment.
    pub fn new(spec: StaticSpec) -> Self {
        StaticPolicy { spec }
    }
}

impl Policy for StaticPolicy {
    fn name(&self) -> &'static str {
        "static"
    }

    /// A process per instance unless the scenario says otherwise.
    fn process_layout(&self) -> ProcessLayout {
        self.spec
            .process_layout
            .unwrap_or(ProcessLayout::PerInstance)
    }

    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        let gpu = ctx
            .device
            .accelerators
            .iter()
            .position(|a| a.kind == crate::hardware::AcceleratorKind::Gpu)
            .unwrap_or(0);
        let default_stage = StaticStage::default();
        let mut deployment = Deployment {
            transport: self.spec.transport,
            control_path: self.spec.control_path,
            route_weights: self.spec.route_weights.clone(),
            ..Default::default()
        };
        let mut global = 0;
        for s in 0..ctx.models.len() {
            let stage = self.spec.stages.get(s).unwrap_or(&default_stage);
            deployment.cuts.push(stage.cuts.clone());
            for p in 0..=stage.cuts.len() {
                match stage.partitions.get(p) {
                    None => deployment.instances.push(InstancePlan {
                        partition: global,
                        accelerator: gpu,
                        config: InstanceConfig::default(),
                    }),
                    Some(part) => {
                        let config = InstanceConfig {
                            max_batch: part.max_batch,
                            batch_timeout: part.batch_timeout.0,
                            cpu_cores: part.cpu_cores,
                            compute_share: part.compute_share,
                        };
                        for (name, &count) in &part.instances {
                            // Validated: every name exists.
                            let accelerator = ctx.device.accelerator(name).unwrap_or(gpu);
                            for _ in 0..count {
                                deployment.instances.push(InstancePlan {
                                    partition: global,
                                    accelerator,
                                    config,
                                });
                            }
                        }
                    }
                }
                global += 1;
            }
        }
        deployment
    }
}
