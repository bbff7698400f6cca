//! The control plane: a policy sees a read-only [`Observation`] and answers with [`Action`]s.
//!
//! A policy never touches the event queue or another component's state; the simulation applies
//! what it answers. A new policy is one file here, one variant of [`PolicySpec`] and one arm in
//! [`PolicySpec::build`].

pub mod static_policy;

use serde::{Deserialize, Serialize};

use crate::hardware::profile::DeviceProfile;
use crate::model::Model;
use crate::serving::InstanceConfig;
use crate::serving::transport::TransportKind;
use crate::time::{SimDuration, SimTime};

pub use static_policy::{StaticPolicy, StaticSpec};

/// The `[policy]` table: which policy, with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PolicySpec {
    /// A fixed deployment written in the scenario.
    Static(StaticSpec),
}

impl Default for PolicySpec {
    fn default() -> Self {
        PolicySpec::Static(StaticSpec::default())
    }
}

impl PolicySpec {
    /// The policy's name as reports show it.
    pub fn name(&self) -> &'static str {
        match self {
            PolicySpec::Static(_) => "static",
        }
    }

    /// Checks the parameters against the app's models and the device; the error is
    /// (field below `policy.`, message).
    pub fn validate(
        &self,
        models: &[Model],
        device: &DeviceProfile,
    ) -> Result<(), (String, String)> {
        match self {
            PolicySpec::Static(spec) => spec.validate(models, device),
        }
    }

    /// Builds the policy.
    pub fn build(&self) -> Box<dyn Policy> {
        match self {
            PolicySpec::Static(spec) => Box::new(StaticPolicy::new(spec.clone())),
        }
    }
}

/// What a policy knows when it deploys: the device, the models, the SLO.
#[derive(Clone, Copy, Debug)]
pub struct PolicyContext<'a> {
    /// The device.
    pub device: &'a DeviceProfile,
    /// The app's models, one per stage.
    pub models: &'a [Model],
    /// The latency objective.
    pub slo: SimDuration,
    /// Usable unified memory.
    pub memory_limit_bytes: u64,
    /// The transport the scenario configures, used unless the policy chooses another.
    pub default_transport: TransportKind,
}

/// The initial deployment: how each model is cut and which instances run where.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Per stage: cut points (paper numbering, see `model::partition::split`).
    pub cuts: Vec<Vec<usize>>,
    /// Instances to start, by global partition index (partitions numbered across stages).
    pub instances: Vec<InstancePlan>,
    /// The transport between partitions; `None` keeps the scenario's.
    pub transport: Option<TransportKind>,
}

/// One instance to start.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstancePlan {
    /// Global partition index.
    pub partition: usize,
    /// Accelerator index in the device profile.
    pub accelerator: usize,
    /// Batching and cores.
    pub config: InstanceConfig,
}

/// What a policy sees at a tick. Read-only; built by the simulation.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// Current simulated time.
    pub now: SimTime,
    /// Per global partition.
    pub partitions: Vec<PartitionObservation>,
    /// Per accelerator, in profile order.
    pub accelerators: Vec<AcceleratorObservation>,
    /// Unified memory in use.
    pub memory_used_bytes: u64,
    /// Usable unified memory.
    pub memory_limit_bytes: u64,
    /// Requests completed since the previous tick.
    pub window_completed: u64,
    /// Of those, completed within the SLO.
    pub window_within_slo: u64,
    /// Requests that arrived since the previous tick.
    pub window_arrivals: u64,
    /// Requests dropped since the previous tick.
    pub window_dropped: u64,
}

/// The state of one partition.
#[derive(Clone, Debug, Default)]
pub struct PartitionObservation {
    /// Requests waiting in its instances' queues.
    pub queued: u64,
    /// Requests being executed.
    pub in_service: u64,
    /// Live instances per accelerator (profile order), including those still starting.
    pub instances: Vec<u32>,
}

/// The state of one accelerator.
#[derive(Clone, Debug, Default)]
pub struct AcceleratorObservation {
    /// Mean compute utilisation since the previous tick, 0..=1.
    pub utilization: f64,
}

/// A decision of a policy, applied by the simulation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    /// Start one more instance of `partition` on `accelerator` (it cold-starts).
    ScaleOut {
        /// Global partition index.
        partition: usize,
        /// Accelerator index.
        accelerator: usize,
        /// Batching and cores.
        config: InstanceConfig,
    },
    /// Retire one instance of `partition` on `accelerator`: it takes no new requests, finishes
    /// its queue, then frees its memory.
    ScaleIn {
        /// Global partition index.
        partition: usize,
        /// Accelerator index.
        accelerator: usize,
    },
}

/// A serving policy.
pub trait Policy: Send {
    /// Name shown in reports.
    fn name(&self) -> &'static str;
    /// The initial deployment.
    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment;
    /// How often [`Policy::on_tick`] runs; `None` for a policy that never acts after deploying.
    fn tick_interval(&self) -> Option<SimDuration> {
        None
    }
    /// Decides actions from an observation.
    fn on_tick(&mut self, _observation: &Observation, _actions: &mut Vec<Action>) {}
}
