//! The control plane: a policy sees a read-only [`Observation`] and answers with [`Action`]s.
//!
//! A policy never touches the event queue or another component's state; the simulation applies
//! what it answers. A new policy is one file here, one variant of [`PolicySpec`] and one arm in
//! [`PolicySpec::build`].

pub mod accordion;
pub mod infless;
pub mod infscaler;
pub mod knative;
pub mod lls;
pub mod odin;
pub mod pipeline;
pub mod proteus;
pub mod search;
pub mod sponge;
pub mod spright;
pub mod static_policy;

use serde::{Deserialize, Serialize};

use crate::hardware::profile::DeviceProfile;
use crate::model::Model;
use crate::model::cost::Target;
use crate::model::measured::MeasuredTimes;
use crate::model::runtime::RuntimeProfile;
use crate::rng::RunSeed;
use crate::serving::InstanceConfig;
pub use crate::serving::plane::{StagePlacement, check_route_weights};
use crate::serving::process::{Census, ProcessLayout};
use crate::serving::transport::{ControlPath, TransportKind, TransportSpec};
use crate::time::{SimDuration, SimTime};

pub use accordion::{AccordionPolicy, AccordionSpec};
pub use infless::{InfLessPolicy, InfLessSpec};
pub use infscaler::{InfScalerPolicy, InfScalerSpec};
pub use knative::{KnativePolicy, KnativeSpec};
pub use lls::{LlsPolicy, LlsSpec};
pub use odin::{OdinPolicy, OdinSpec};
pub use proteus::{ProteusPolicy, ProteusSpec};
pub use search::annealing::AnnealingSpec;
pub use search::hill_climb::HillClimbSpec;
pub use search::pipe_search::PipeSearchSpec;
pub use search::random_walk::RandomWalkSpec;
pub use search::shisha::ShishaSpec;
pub use sponge::{SpongePolicy, SpongeSpec};
pub use spright::SprightSpec;
pub use static_policy::{StaticPolicy, StaticSpec};

/// The `[policy]` table: which policy, with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PolicySpec {
    /// A fixed deployment written in the scenario.
    Static(StaticSpec),
    /// InfScaler: bottleneck-aware partitions scaled asymmetrically across accelerators.
    Infscaler(InfScalerSpec),
    /// INFless: whole models, batching, per-instance configurations, LSTH keep-alive.
    Infless(InfLessSpec),
    /// SPRIGHT: whole functions, Knative-style scaling, shared-memory descriptors.
    Spright(SprightSpec),
    /// Knative: KPA over the partitioned functions, HTTP between them, scale to zero.
    Knative(KnativeSpec),
    /// ODIN: one model pipelined over execution places, layers moved between stages when
    /// interference changes their times.
    Odin(OdinSpec),
    /// LLS: the same pipeline, an interfered stage moved whole to the least-loaded place.
    Lls(LlsSpec),
    /// Random walk over pipeline configurations, each measured online.
    RandomWalk(RandomWalkSpec),
    /// Hill climbing over pipeline configurations, each measured online.
    HillClimb(HillClimbSpec),
    /// Simulated annealing over pipeline configurations, each measured online.
    Annealing(AnnealingSpec),
    /// Pipe-Search: evolutionary search seeded by computational hints.
    PipeSearch(PipeSearchSpec),
    /// Shisha: EPs ranked, weights balanced, layers moved towards the lightest fast EP.
    Shisha(ShishaSpec),
    /// Sponge: one instance scaled in place (cores, batch) to per-request objectives.
    Sponge(SpongeSpec),
    /// Proteus: a variant per engine and the split of the load among them, for the most
    /// accuracy that carries the load.
    Proteus(ProteusSpec),
    /// Accordion: query streams share execution places, each pipeline resized per tick by its
    /// objective, with priority queues and donation from pipelines that can spare places.
    Accordion(AccordionSpec),
    /// Accordion's baseline: the fewest places that meet each objective, as they free up.
    SloConforming(AccordionSpec),
    /// Accordion's baseline: every free place to the oldest query's stream.
    Fastest(AccordionSpec),
    /// Accordion's baseline: SLO-Conforming with queries buffered into batches.
    Bbs(AccordionSpec),
    /// Accordion's baseline: one execution place per stream.
    OneStage(AccordionSpec),
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
            PolicySpec::Infscaler(_) => "infscaler",
            PolicySpec::Infless(_) => "infless",
            PolicySpec::Spright(_) => "spright",
            PolicySpec::Knative(_) => "knative",
            PolicySpec::Odin(_) => "odin",
            PolicySpec::Lls(_) => "lls",
            PolicySpec::RandomWalk(_) => "random_walk",
            PolicySpec::HillClimb(_) => "hill_climb",
            PolicySpec::Annealing(_) => "annealing",
            PolicySpec::PipeSearch(_) => "pipe_search",
            PolicySpec::Shisha(_) => "shisha",
            PolicySpec::Sponge(_) => "sponge",
            PolicySpec::Proteus(_) => "proteus",
            PolicySpec::Accordion(_)
            | PolicySpec::SloConforming(_)
            | PolicySpec::Fastest(_)
            | PolicySpec::Bbs(_)
            | PolicySpec::OneStage(_) => self.places().expect("a places policy").0.name(),
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
            PolicySpec::Infscaler(spec) => spec.validate(),
            PolicySpec::Infless(spec) => spec.validate(),
            PolicySpec::Spright(spec) => spec.validate(),
            PolicySpec::Knative(spec) => spec.validate(device),
            PolicySpec::Odin(spec) => spec.validate(models, device),
            PolicySpec::Lls(spec) => spec.validate(models, device),
            PolicySpec::RandomWalk(spec) => spec
                .search
                .validate(models, device)
                .and_then(|()| spec.check()),
            PolicySpec::HillClimb(spec) => spec.search.validate(models, device),
            PolicySpec::Annealing(spec) => spec
                .search
                .validate(models, device)
                .and_then(|()| spec.check()),
            PolicySpec::PipeSearch(spec) => spec
                .search
                .validate(models, device)
                .and_then(|()| spec.check()),
            PolicySpec::Shisha(spec) => spec
                .search
                .validate(models, device)
                .and_then(|()| spec.check()),
            PolicySpec::Sponge(spec) => spec.validate(models, device),
            PolicySpec::Proteus(spec) => spec.validate(models, device),
            PolicySpec::Accordion(_)
            | PolicySpec::SloConforming(_)
            | PolicySpec::Fastest(_)
            | PolicySpec::Bbs(_)
            | PolicySpec::OneStage(_) => {
                let (rule, spec) = self.places().expect("a places policy");
                spec.validate(rule, device)
            }
        }
    }

    /// For Accordion and its baselines: the rule and the parameters.
    pub fn places(&self) -> Option<(accordion::Rule, &AccordionSpec)> {
        use accordion::Rule;
        match self {
            PolicySpec::Accordion(spec) => Some((Rule::Accordion, spec)),
            PolicySpec::SloConforming(spec) => Some((Rule::SloConforming, spec)),
            PolicySpec::Fastest(spec) => Some((Rule::Fastest, spec)),
            PolicySpec::Bbs(spec) => Some((Rule::Bbs, spec)),
            PolicySpec::OneStage(spec) => Some((Rule::OneStage, spec)),
            _ => None,
        }
    }

    /// Whether the policy chooses among a family's variants (`app.family`).
    pub fn chooses_variants(&self) -> bool {
        match self {
            PolicySpec::Static(spec) => !spec.route_weights.is_empty(),
            PolicySpec::Proteus(_) => true,
            _ => false,
        }
    }

    /// Whether the policy serves several query streams (`[[streams]]`): a deployment over
    /// every stream's stages (static), a choice among every stream's variants (proteus), or
    /// execution places shared among the streams (Accordion and its baselines).
    pub fn serves_streams(&self) -> bool {
        matches!(self, PolicySpec::Static(_) | PolicySpec::Proteus(_)) || self.places().is_some()
    }

    /// Builds the policy.
    pub fn build(&self) -> Box<dyn Policy> {
        match self {
            PolicySpec::Static(spec) => Box::new(StaticPolicy::new(spec.clone())),
            PolicySpec::Infscaler(spec) => Box::new(InfScalerPolicy::new(spec.clone())),
            PolicySpec::Infless(spec) => Box::new(InfLessPolicy::new(spec.clone())),
            PolicySpec::Spright(spec) => Box::new(KnativePolicy::new(spec.platform())),
            PolicySpec::Knative(spec) => Box::new(KnativePolicy::new(spec.platform())),
            PolicySpec::Odin(spec) => Box::new(OdinPolicy::new(spec.clone())),
            PolicySpec::Lls(spec) => Box::new(LlsPolicy::new(spec.clone())),
            PolicySpec::RandomWalk(spec) => Box::new(spec.policy()),
            PolicySpec::HillClimb(spec) => Box::new(spec.policy()),
            PolicySpec::Annealing(spec) => Box::new(spec.policy()),
            PolicySpec::PipeSearch(spec) => Box::new(spec.policy()),
            PolicySpec::Shisha(spec) => Box::new(spec.policy()),
            PolicySpec::Sponge(spec) => Box::new(SpongePolicy::new(spec.clone())),
            PolicySpec::Proteus(spec) => Box::new(ProteusPolicy::new(spec.clone())),
            PolicySpec::Accordion(_)
            | PolicySpec::SloConforming(_)
            | PolicySpec::Fastest(_)
            | PolicySpec::Bbs(_)
            | PolicySpec::OneStage(_) => {
                let (rule, spec) = self.places().expect("a places policy");
                Box::new(AccordionPolicy::new(rule, spec.clone()))
            }
        }
    }
}

/// One query stream of a run, checked: its app's stages among the run's models, its objective
/// and its expected rate.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryStream {
    /// Name in reports (unique in the scenario).
    pub name: String,
    /// Display name of its app.
    pub app_name: String,
    /// Its stages: indices into the run's models ([`PolicyContext::models`]).
    pub stages: std::ops::Range<usize>,
    /// Whether its stages are a family's variants rather than a pipeline.
    pub variants: bool,
    /// Its app's isolated batch-1 latency.
    pub isolated_latency: SimDuration,
    /// Its objective (the mean where each request has its own).
    pub slo: SimDuration,
    /// Tensor bytes of one request's input.
    pub input_bytes: u64,
    /// Its workload's mean arrival rate, where the scenario gives one (not for a trace).
    pub expected_rate_per_s: Option<f64>,
}

/// What a policy knows when it deploys: the device, the models, the SLO.
#[derive(Clone, Copy, Debug)]
pub struct PolicyContext<'a> {
    /// The device.
    pub device: &'a DeviceProfile,
    /// Measured execution times that replace the device's roofline where they apply (pass them
    /// to [`crate::model::cost::plan`]).
    pub measured: Option<&'a MeasuredTimes>,
    /// The runtime that drives the GPU.
    pub runtime: &'a RuntimeProfile,
    /// The app's models, one per stage; or, with `variants`, a family's variants (fastest
    /// first), each a one-model route of its own.
    pub models: &'a [Model],
    /// Whether `models` are variants that each request is served by one of (the policy sets
    /// how arrivals split among them: [`Deployment::route_weights`], [`Action::Route`]).
    pub variants: bool,
    /// The workload's mean arrival rate, where the scenario gives one (not for a trace).
    pub expected_rate_per_s: Option<f64>,
    /// The latency objective.
    pub slo: SimDuration,
    /// The query streams, the scenario's own first (`[[streams]]`), each with its stages among
    /// `models`; empty in a context built without a scenario, which then has one stream over
    /// every model (see [`PolicyContext::query_streams`]). `models`, `variants`, `slo` and
    /// `expected_rate_per_s` above are the own stream's where there are several.
    pub streams: &'a [QueryStream],
    /// Usable unified memory.
    pub memory_limit_bytes: u64,
    /// The transports' cost parameters (a policy may need the per-hop overhead T_p).
    pub transport: &'a TransportSpec,
    /// The data plane's queue capacity.
    pub queue_capacity: usize,
    /// The run's seed: a policy that draws at random takes its own stream of it
    /// (`seed.stream("policy")`), so its choices are the same for the same seed.
    pub seed: RunSeed,
}

impl<'a> PolicyContext<'a> {
    /// Where plans are costed: the device, the runtime and the measured times.
    pub fn target(&self) -> Target<'a> {
        Target::new(self.device, self.runtime).with_measured(self.measured)
    }

    /// The query streams: [`PolicyContext::streams`], or one over every model where that is
    /// empty.
    pub fn query_streams(&self) -> Vec<QueryStream> {
        if !self.streams.is_empty() {
            return self.streams.to_vec();
        }
        vec![QueryStream {
            name: "app".into(),
            app_name: "app".into(),
            stages: 0..self.models.len(),
            variants: self.variants,
            isolated_latency: SimDuration::ZERO,
            slo: self.slo,
            input_bytes: self.models.first().map_or(0, |m| m.input_elems() * 4),
            expected_rate_per_s: self.expected_rate_per_s,
        }]
    }

    /// A context for unit tests: the model of `device` under TensorRT (no measured times), all
    /// its usable memory, queues of 1024.
    #[cfg(test)]
    pub(crate) fn roofline(
        device: &'a DeviceProfile,
        models: &'a [Model],
        transport: &'a TransportSpec,
        slo: SimDuration,
    ) -> Self {
        PolicyContext {
            device,
            measured: None,
            runtime: RuntimeProfile::tensorrt_ref(),
            models,
            variants: false,
            expected_rate_per_s: None,
            slo,
            streams: &[],
            memory_limit_bytes: device.usable_memory_bytes(),
            transport,
            queue_capacity: 1024,
            seed: RunSeed(1),
        }
    }
}

/// The initial deployment: how each model is cut and which instances run where.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Per stage: cut points (paper numbering, see `model::partition::split`).
    pub cuts: Vec<Vec<usize>>,
    /// Instances to start, by global partition index (partitions numbered across stages).
    pub instances: Vec<InstancePlan>,
    /// How tensors travel between partitions: the policy's choice alone (`[serving.transport]`
    /// holds only what each mechanism costs).
    pub transport: TransportKind,
    /// For zero-copy sharing: how tokens travel (eBPF map events or user-space messages to the
    /// sharing manager); other transports ignore it.
    pub control_path: ControlPath,
    /// With variants: how arrivals split among them, one weight per model (≥ 0, not all 0).
    /// Empty: every arrival to the first route (the whole pipeline, for stages).
    pub route_weights: Vec<f64>,
}

impl Deployment {
    /// Checks the deployment against the app's models and a device with `accelerators` engines,
    /// and returns its partitions in pipeline order as (stage, operator range).
    pub fn partitions(
        &self,
        models: &[Model],
        accelerators: usize,
    ) -> Result<Vec<(usize, std::ops::Range<usize>)>, String> {
        if self.cuts.len() != models.len() {
            return Err(format!(
                "{} cut lists for {} stages",
                self.cuts.len(),
                models.len()
            ));
        }
        let mut partitions = Vec::new();
        for (stage, (model, cuts)) in models.iter().zip(&self.cuts).enumerate() {
            for ops in crate::model::partition::split(model.operators.len(), cuts)? {
                partitions.push((stage, ops));
            }
        }
        if let Some(bad) = self
            .instances
            .iter()
            .find(|i| i.partition >= partitions.len() || i.accelerator >= accelerators)
        {
            return Err(format!(
                "instance {bad:?} names a partition or accelerator that does not exist ({} partitions, {accelerators} accelerators)",
                partitions.len()
            ));
        }
        Ok(partitions)
    }
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

/// What a policy sees at a tick. Read-only; built by the simulation. "Window" means the time
/// since the previous tick (or since the start, at the first tick).
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// Current simulated time.
    pub now: SimTime,
    /// Length of the window.
    pub window: SimDuration,
    /// Per global partition, in pipeline order.
    pub partitions: Vec<PartitionObservation>,
    /// Per accelerator, in profile order.
    pub accelerators: Vec<AcceleratorObservation>,
    /// Unified memory in use now (instances, tensors in flight, sharing regions).
    pub memory_used_bytes: u64,
    /// Usable unified memory.
    pub memory_limit_bytes: u64,
    /// Requests that arrived at the app in the window.
    pub window_arrivals: u64,
    /// Of those, per query stream (in [`PolicyContext::streams`] order; one entry with one
    /// stream).
    pub window_stream_arrivals: Vec<u64>,
    /// Requests completed in the window.
    pub window_completed: u64,
    /// Of those, completed within the SLO.
    pub window_within_slo: u64,
    /// Requests dropped in the window.
    pub window_dropped: u64,
    /// 99th percentile end-to-end latency of the window's completions, ms (`None`: none).
    pub window_p99_ms: Option<f64>,
    /// The least objective to go among the window's arrivals, ms: the objective less the
    /// network delay a request spent before it arrived (`[slo] network_delay`); `None` when
    /// nothing arrived.
    pub window_min_budget_ms: Option<f64>,
    /// Repartitionings refused since the start of the run (another building, memory, an
    /// executor that cannot): how a policy learns that the layout it asked for will not come.
    pub refused_reconfigurations: u64,
}

impl Observation {
    /// The live instances of every partition on every accelerator under `layout`: what one more
    /// instance would find resident, so what it would cost
    /// ([`crate::model::cost::Footprint::marginal`]).
    pub fn census(&self, layout: ProcessLayout) -> Census {
        Census::new(
            layout,
            self.partitions.iter().map(|p| p.live.clone()).collect(),
        )
    }

    /// Fraction of the window's completions that met the SLO (`None`: nothing completed).
    pub fn window_attainment(&self) -> Option<f64> {
        (self.window_completed > 0)
            .then(|| self.window_within_slo as f64 / self.window_completed as f64)
    }
}

/// The state of one partition.
#[derive(Clone, Debug, Default)]
pub struct PartitionObservation {
    /// App stage (model index) it belongs to.
    pub stage: usize,
    /// Its operators in the stage's model: 0-based, end-exclusive.
    pub ops: std::ops::Range<usize>,
    /// Requests waiting for it now (in any of its queues, or for an instance to exist).
    pub queued: u64,
    /// How long ago the earliest-arrived of the requests at the heads of its queues arrived at
    /// the app, ms (`None`: nothing queued). Under FIFO order, the oldest request waiting.
    pub head_age_ms: Option<f64>,
    /// Requests being executed by it now.
    pub in_service: u64,
    /// Requests that entered it in the window.
    pub window_arrivals: u64,
    /// Instances holding memory (starting, ready or draining) per accelerator, profile order:
    /// what a new instance may share a serving process with ([`Observation::census`]).
    pub live: Vec<u32>,
    /// Time-weighted mean of (queued + in service) over the window: the concurrency Knative's
    /// queue-proxy reports.
    pub window_mean_concurrency: f64,
    /// Accepting instances (starting or ready) per accelerator, profile order.
    pub instances: Vec<u32>,
    /// Of those, instances still cold-starting, per accelerator.
    pub starting: Vec<u32>,
    /// CPU cores its accepting instances hold, per accelerator (profile order).
    pub cores: Vec<u32>,
    /// Its batches finished in the window, per accelerator (profile order).
    pub window_exec: Vec<ExecObservation>,
}

/// The batches a partition finished on one accelerator in a window: how long they took, and how
/// long they would have taken with the device to themselves. Their ratio is the slowdown from
/// contention and interference that adaptive policies (ODIN, the thesis' explorers) react to.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExecObservation {
    /// Batches finished.
    pub batches: u64,
    /// Mean batch size.
    pub mean_batch: f64,
    /// Mean execution time, ms (`None`: no batch finished).
    pub mean_exec_ms: Option<f64>,
    /// Mean time of the same batches alone on the device, ms: the interference-free reference
    /// (`None`: no batch, or an executor without a model of its batches).
    pub reference_ms: Option<f64>,
}

impl ExecObservation {
    /// Mean execution time over its reference (1: as if alone; `None` when either is unknown).
    pub fn slowdown(&self) -> Option<f64> {
        match (self.mean_exec_ms, self.reference_ms) {
            (Some(e), Some(r)) if r > 0.0 => Some(e / r),
            _ => None,
        }
    }
}

impl PartitionObservation {
    /// Accepting instances on all accelerators.
    pub fn total_instances(&self) -> u32 {
        self.instances.iter().sum()
    }
}

/// The state of one accelerator.
#[derive(Clone, Debug, Default)]
pub struct AcceleratorObservation {
    /// Time-weighted busy fraction over the window, 0..=1 (CPU: fraction of its cores).
    pub utilization: f64,
    /// Unified memory held by the serving processes on it and their instances.
    pub instance_memory_bytes: u64,
}

/// A decision of a policy, applied by the simulation.
#[derive(Clone, Debug, PartialEq)]
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
    /// Cut `stage`'s model anew at `cuts` and run each new partition as `placement` says (one
    /// instance each). Partitions whose operators do not change are kept, with their instance
    /// where the placement keeps it; every instance built pays the accelerator's
    /// `[serving.reconfiguration]` cost while the old layout serves, then the layout switches
    /// and the old partitions drain (the requests in them finish on them). Partition indices in
    /// later observations follow the new layout. Refused while another is building.
    Repartition {
        /// App stage (model index).
        stage: usize,
        /// Cut points (paper numbering, as [`Deployment::cuts`]).
        cuts: Vec<usize>,
        /// One placement per new partition, in pipeline order.
        placement: Vec<StagePlacement>,
    },
    /// Split arrivals among the variants (one weight per model, ≥ 0, not all 0) from the
    /// next arrival: each goes to the variant whose share of the arrivals so far lags its
    /// weight most (smooth weighted round-robin: deterministic, no random draw). Refused
    /// (counted in `refused_reconfigurations`) for the wrong number of weights, a negative or
    /// non-finite one, or all zero.
    Route {
        /// One weight per model (variant), in model order.
        weights: Vec<f64>,
    },
    /// Resize the instances of `partition` on `accelerator` in place (vertical scaling, as
    /// Kubernetes' in-place pod resize or a CUDA MPS thread percentage): no restart, no memory
    /// change, no cost [assumed]. Each instance runs its next batch with the new resources; the
    /// batch running finishes with those it started with. `cpu_cores = Some(0)` holds the
    /// instances: they start no batch and hold no cores (their requests wait in their queue)
    /// until a resize gives them cores again, the batch running finishing first; a draining
    /// instance still finishes its own queue. Refused (counted in
    /// `refused_reconfigurations`) for cores beyond the CPU's, a share outside (0, 1],
    /// a batch of 0, a partition with no instance there, or an executor that cannot resize.
    Resize {
        /// Global partition index.
        partition: usize,
        /// Accelerator index.
        accelerator: usize,
        /// CPU cores each instance holds from now on (`None`: unchanged).
        cpu_cores: Option<u32>,
        /// Most of its engine's compute each instance may use from now on, in (0, 1] (`None`:
        /// unchanged).
        compute_share: Option<f64>,
        /// Largest batch each instance forms from now on, at least 1 (`None`: unchanged).
        max_batch: Option<u32>,
    },
}

/// A serving policy.
pub trait Policy: Send {
    /// Name shown in reports.
    fn name(&self) -> &'static str;
    /// How the system groups its instances into serving processes: its own layout, unless the
    /// scenario's `policy.process_layout` overrides it.
    fn process_layout(&self) -> ProcessLayout;
    /// The initial deployment.
    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment;
    /// How often [`Policy::on_tick`] runs; `None` for a policy that never acts after deploying.
    fn tick_interval(&self) -> Option<SimDuration> {
        None
    }
    /// Decides actions from an observation.
    fn on_tick(&mut self, _observation: &Observation, _actions: &mut Vec<Action>) {}
    /// What a design-space explorer measured and kept, for the report; `None` for a policy that
    /// does not search.
    fn search(&self) -> Option<crate::report::SearchSummary> {
        None
    }
}

/// Splits the end-to-end SLO into one latency budget per stage, in proportion to each stage's
/// isolated latency (the whole model alone on its fastest accelerator at batch 1).
pub fn stage_slo_budgets(ctx: &PolicyContext<'_>) -> Vec<SimDuration> {
    let isolated: Vec<u64> = ctx
        .models
        .iter()
        .map(|m| crate::model::cost::fastest_solo(&m.operators, ctx.target()).1)
        .collect();
    let total: u64 = isolated.iter().sum::<u64>().max(1);
    isolated
        .iter()
        .map(|&t| {
            SimDuration::from_ns((ctx.slo.as_ns() as f64 * t as f64 / total as f64).round() as u64)
        })
        .collect()
}

/// Runs `scenarios/examples/<name>.toml` with `policy` (a `[policy]` body) in place of the text
/// `own`, its own policy line: a test's comparison of a policy with its baselines.
#[cfg(test)]
pub(crate) fn run_example(name: &str, own: &str, policy: &str) -> crate::Report {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../scenarios/examples/{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(own), "{name} has no `{own}`");
    let resolved = crate::Scenario::parse(
        &text.replace(own, policy),
        &format!("{name}.toml"),
        std::path::Path::new("."),
    )
    .unwrap()
    .resolve()
    .unwrap();
    crate::Simulation::new(&resolved, None).unwrap().run()
}
