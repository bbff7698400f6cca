//! Scenario files: the serde structs for the TOML experiment description, and their validation.
//!
//! Parsing and checking happen in two phases (as ripgrep does with its arguments): `Scenario`
//! mirrors the file, field for field; [`Scenario::resolve`] checks every field against the zoo,
//! the hardware profile and the other fields, and builds a [`ResolvedScenario`] that a run uses.
//! Every error names the file, the field (as a dotted path) and what is allowed.

use crate::interference::{Interference, InterferenceSpec, WindowSpec};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::executor::ServiceTime;
use crate::hardware::profile::DeviceProfile;
use crate::model::Model;
use crate::model::cost::Target;
use crate::model::measured::{MeasuredError, MeasuredProfile, MeasuredTimes};
use crate::model::runtime::RuntimeProfile;
use crate::model::source::ModelSource;
use crate::model::tokens::{self, TokenModel};
use crate::model::zoo::ZooOptions;
pub use crate::policy::QueryStream;
use crate::policy::{PolicyContext, PolicySpec};
use crate::rng::RunSeed;
use crate::serving::transport::TransportSpec;
use crate::serving::{
    Admission, Overflow, ProcessLayout, QueueOrder, ReconfigurationCost, Routing,
};
use crate::time::SimDuration;
use crate::units::{ByteSize, TimeSpan};
use crate::workload::app::{AppSpec, TokenSource};
use crate::workload::sizing::{Objective, Sizing, median_tokens};
use crate::workload::trace::{DEFAULT_CONTEXT_COLUMN, DEFAULT_GENERATED_COLUMN};
use crate::workload::{ArrivalSpec, RequestTokens, WorkloadError};

/// Most points `run.latency_cdf` may ask for (the histogram keeps 3 significant digits, so more
/// points would repeat latencies).
pub const MAX_LATENCY_CDF_POINTS: usize = 10_000;

/// Most points a run's time series may have (`run.series_interval`): a million, about 200 MB
/// of report at most; a mistaken interval (nanoseconds) would otherwise fill memory.
pub const MAX_SERIES_POINTS: usize = 1_000_000;

/// Most windows one periodic or random interferer may have over a run.
pub const MAX_INTERFERENCE_WINDOWS: usize = 1_000_000;

/// A scenario as written in its TOML file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name shown in reports; defaults to the file stem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// One line on what the scenario is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seed of the run; `--seed` overrides it.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The device to simulate.
    pub device: DeviceSpec,
    /// The application requests are for.
    pub app: AppSpec,
    /// The latency objective.
    pub slo: SloSpec,
    /// How requests arrive.
    pub workload: ArrivalSpec,
    /// When the run stops and what is measured.
    #[serde(default)]
    pub run: RunSpec,
    /// Data-plane settings shared by every policy.
    #[serde(default)]
    pub serving: ServingSpec,
    /// The serving policy (control plane).
    #[serde(default)]
    pub policy: PolicySpec,
    /// Background work that takes part of an engine, CPU cores or memory bandwidth for windows
    /// of the run (`[[interference]]`, see [`crate::interference`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interference: Vec<InterferenceSpec>,
    /// Further query streams on the same device beside the scenario's own (`[app]`, `[slo]`,
    /// `[workload]`): each its own app, objective and arrivals (`[[streams]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<StreamSpec>,
    /// Where the file was read from (for error messages); empty for in-memory scenarios.
    #[serde(skip)]
    pub origin: String,
    /// Directory relative paths in the scenario resolve against.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_seed() -> u64 {
    1
}

/// One `[[streams]]` entry: a further query stream, with the tables of the scenario's own.
///
/// ```toml
/// [[streams]]
/// name = "detector"
/// app = { name = "yolov3_tiny" }
/// slo = { latency = "300ms" }
/// workload = { kind = "poisson", rate_per_s = 5.0 }
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// Name in reports; default: the app's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The app its requests are for (not sized by tokens).
    pub app: AppSpec,
    /// Its objective.
    pub slo: SloSpec,
    /// How its requests arrive.
    pub workload: ArrivalSpec,
}

/// A `[[streams]]` entry's app, resolved before its objective (which needs the device).
struct StreamApp {
    /// The entry as a scenario of its own: its app, objective and workload in place of the
    /// scenario's.
    view: Scenario,
    app_name: String,
    /// Its stages among the scenario's models.
    stages: std::ops::Range<usize>,
    variants: bool,
}

/// The `[device]` table.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    /// A built-in profile name (`xavier-agx`, `xavier-nx`, `orin-agx`) or a path to a profile TOML.
    pub profile: String,
    /// Upper bound on the unified memory the serving system may use (a resource cap, as the
    /// paper's Fig. 2 uses); default: the device's capacity less its reserved memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_cap: Option<ByteSize>,
    /// Measured profiles (`infscaler hil profile`), one path or a list, relative to the
    /// scenario: each replaces the roofline on the accelerator its execution provider maps to
    /// (`cpu` → cpu, `cuda`/`tensorrt` → gpu, `tensorrt-dla<k>` → the k-th DLA), for the
    /// operators it measured (see `model::measured`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_profile: Option<OneOrMany>,
    /// Splits the CPU into this many groups of equal cores, each an accelerator of its own
    /// (`cpu0`, `cpu1`, …): execution places pinned to their cores, as the pipeline-scheduling
    /// thesis' EPs are (a Xavier's 8 cores as 4 × 2). Interference on one group leaves the
    /// others alone; the first group also does the host's work (copies between partitions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_groups: Option<u32>,
}

/// One path or a list of paths.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One path.
    One(String),
    /// Several paths.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The paths, in order.
    pub fn paths(&self) -> &[String] {
        match self {
            OneOrMany::One(p) => std::slice::from_ref(p),
            OneOrMany::Many(v) => v,
        }
    }
}

/// Where a run's request sizes come from, before the app's stages are costed.
#[derive(Clone, Copy, Debug)]
struct SizeSource {
    /// Every request's size, unless from the trace.
    fixed: Option<RequestTokens>,
    /// The reference request.
    reference: RequestTokens,
    /// Whether decoder stages generate.
    generate: bool,
    /// Rounding of lengths, tokens.
    bucket: u32,
}

/// The `[slo]` table: a multiple of the app's isolated latency, an absolute latency, or an
/// objective drawn per request (or read per request from the trace, `workload.slo_column`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// SLO = multiplier × the app's isolated batch-1 latency (the paper uses 1.5, 2 and 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    /// A named multiplier instead: `strict`, `moderate` or `relaxed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<SloLevel>,
    /// An absolute SLO instead, e.g. `"120ms"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<TimeSpan>,
    /// Each request's own objective, drawn from this distribution (e.g.
    /// `{ kind = "uniform", low = "100ms", high = "300ms" }`), instead of one for all: clients
    /// with different deadlines. The scenario's objective (what policies plan for, the report's
    /// `slo_ms`) is then its mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_request: Option<crate::workload::DelaySpec>,
    /// The network delay each request has spent before it reaches the device, drawn per
    /// request: it counts against the objective, so a request arrives with the objective less
    /// its delay to go (and latencies in the report are from arrival at the device). Default:
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_delay: Option<crate::workload::DelaySpec>,
}

/// A named SLO level: a multiplier of the isolated latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloLevel {
    /// 1.5 × the isolated latency.
    Strict,
    /// 2 × the isolated latency.
    Moderate,
    /// 3 × the isolated latency.
    Relaxed,
}

impl SloLevel {
    /// Its multiplier: 1.5, 2 and 3, the multipliers of InfScaler's evaluation (§V) that
    /// ../shared/THESIS.md §4 [proposed] takes for Accordion's strict, moderate and relaxed
    /// objectives, which the thesis names without numbers (T386).
    pub fn multiplier(self) -> f64 {
        match self {
            SloLevel::Strict => 1.5,
            SloLevel::Moderate => 2.0,
            SloLevel::Relaxed => 3.0,
        }
    }
}

impl SloSpec {
    /// The multiplier, given as a number or as a level.
    pub fn effective_multiplier(&self) -> Option<f64> {
        self.multiplier.or(self.level.map(SloLevel::multiplier))
    }
}

/// The `[run]` table: stop conditions and measurement.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Arrivals stop at this simulated time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<TimeSpan>,
    /// Arrivals stop after this many requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u64>,
    /// After arrivals stop: `true` lets in-flight requests finish (up to `drain_limit`), `false`
    /// cuts the run off at once and reports them as in flight.
    #[serde(default = "default_true")]
    pub drain: bool,
    /// Longest simulated time a drain may take before the run is cut off.
    #[serde(default = "default_drain_limit")]
    pub drain_limit: TimeSpan,
    /// Requests arriving before this time are served but not measured.
    #[serde(default = "zero_span")]
    pub warmup: TimeSpan,
    /// Interval of the optional time series in the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_interval: Option<TimeSpan>,
    /// Points of the end-to-end latency CDF added to the report (`latency_cdf`); none if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_cdf: Option<usize>,
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            duration: None,
            max_requests: None,
            drain: true,
            drain_limit: default_drain_limit(),
            warmup: zero_span(),
            series_interval: None,
            latency_cdf: None,
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_drain_limit() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(600))
}
fn zero_span() -> TimeSpan {
    TimeSpan(SimDuration::ZERO)
}

/// The `[serving]` table: data-plane settings every policy shares.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServingSpec {
    /// Longest queue of one instance (or of a partition's shared queue). Between stages a full
    /// queue applies `overflow`; at the first stage, `admission`.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// What a producer does when the next partition's queue is full: `block` (default: hold the
    /// outputs and the instance until it has room) or `drop` them (`queue_full`).
    #[serde(default)]
    pub overflow: Overflow,
    /// Which arrivals the first stage turns away.
    #[serde(default)]
    pub admission: Admission,
    /// Whether the instances of the initial deployment start cold (load weights first).
    #[serde(default)]
    pub cold_start_initial: bool,
    /// Fixed part of a cold start on top of loading weights at the storage bandwidth: process
    /// start, runtime and engine initialisation. Assumed (TensorRT engine deserialisation and
    /// CUDA context creation take hundreds of ms on Jetson); replace with a measured value.
    #[serde(default = "default_cold_start_init")]
    pub cold_start_init: TimeSpan,
    /// The execution stack that runs the models on the GPU: a built-in runtime profile
    /// (`tensorrt`, `onnxruntime`, `pytorch`) or the path of a runtime profile file. DLAs always
    /// run TensorRT; the CPU runs ONNX Runtime's CPU provider.
    #[serde(default = "default_runtime")]
    pub runtime: String,
    /// How tensors travel between partitions, and what that costs.
    #[serde(default)]
    pub transport: TransportSpec,
    /// How a partition's requests are spread over its instances.
    #[serde(default)]
    pub routing: Routing,
    /// The order a queue serves its requests in: `fifo` (default) or `edf` (earliest deadline
    /// first: arrival plus the request's objective to go).
    #[serde(default, skip_serializing_if = "QueueOrder::is_fifo")]
    pub queue_order: QueueOrder,
    /// Variability of execution times around the cost model.
    #[serde(default)]
    pub service_time: ServiceTime,
    /// What an instance built by a repartitioning costs before it serves, per accelerator kind.
    #[serde(default)]
    pub reconfiguration: ReconfigurationCost,
}

impl Default for ServingSpec {
    fn default() -> Self {
        ServingSpec {
            queue_capacity: default_queue_capacity(),
            overflow: Overflow::default(),
            admission: Admission::default(),
            cold_start_initial: false,
            cold_start_init: default_cold_start_init(),
            runtime: default_runtime(),
            transport: TransportSpec::default(),
            routing: Routing::default(),
            queue_order: QueueOrder::default(),
            service_time: ServiceTime::default(),
            reconfiguration: ReconfigurationCost::default(),
        }
    }
}

fn default_queue_capacity() -> usize {
    1024
}
fn default_runtime() -> String {
    "tensorrt".into()
}
fn default_cold_start_init() -> TimeSpan {
    TimeSpan(SimDuration::from_ms(500))
}

/// A scenario error: the file, the field and what is wrong or allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScenarioError {
    /// The scenario file (or `<memory>`).
    pub file: String,
    /// Dotted path of the offending field, e.g. `workload.rate_per_s`; empty for syntax errors.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: field `{}`: {}", self.file, self.field, self.message)
        }
    }
}

/// Everything a run needs, checked and built from a [`Scenario`].
#[derive(Clone, Debug)]
pub struct ResolvedScenario {
    /// The scenario as written.
    pub scenario: Scenario,
    /// Display name of the scenario.
    pub name: String,
    /// The device.
    pub device: DeviceProfile,
    /// Measured execution times that replace the device's roofline on some accelerators
    /// (`device.measured_profile`), for [`crate::model::cost::plan`].
    pub measured: Option<Arc<MeasuredTimes>>,
    /// The runtime that drives the GPU (`serving.runtime`).
    pub runtime: RuntimeProfile,
    /// Per deployed partition (global index), its own runtime where the scenario gives one
    /// (`policy.stages[i].partitions[j].runtime` of a static deployment); empty otherwise.
    pub partition_runtimes: Vec<Option<RuntimeProfile>>,
    /// Usable unified memory (cap or capacity less reserved), bytes.
    pub memory_limit_bytes: u64,
    /// Display name of the app.
    pub app_name: String,
    /// The models of the app's stages, in order; or of its variants, fastest first.
    pub models: Vec<Model>,
    /// Whether `models` are a family's variants (`app.family`: each request is served by one,
    /// as the policy routes it) rather than stages.
    pub variants: bool,
    /// Where each stage's model comes from (the zoo, a model file, an `.onnx` file).
    pub model_sources: Vec<ModelSource>,
    /// The app's isolated batch-1 latency (see [`isolated_latency`]).
    pub isolated_latency: SimDuration,
    /// The latency objective of every request (of the reference request, where requests
    /// differ in size: see `sizing`).
    pub slo: SimDuration,
    /// Where requests differ in size (`app.tokens = "trace"` or `app.generated_tokens`): where
    /// their sizes come from and the objective each gets.
    pub sizing: Option<Sizing>,
    /// The `[[interference]]` entries, checked.
    pub interference: Vec<Interference>,
    /// The query streams: the scenario's own first, then each of `[[streams]]`; their stages
    /// are consecutive ranges of `models` (the own stream's first).
    pub streams: Vec<QueryStream>,
}

impl Scenario {
    /// Reads and parses a scenario file, then checks it with [`Scenario::resolve`].
    pub fn load(path: &Path) -> Result<ResolvedScenario, ScenarioError> {
        let origin = path.display().to_string();
        let text = crate::input::read_to_string(path).map_err(|e| ScenarioError {
            file: origin.clone(),
            field: String::new(),
            message: format!("cannot read the scenario file: {e}"),
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Scenario::parse(&text, &origin, &base_dir)?.resolve()
    }

    /// Parses scenario TOML text; `origin` names it in errors, `base_dir` anchors relative paths.
    pub fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| {
            let table = toml::from_str::<toml::Table>(text).ok();
            let known = table
                .as_ref()
                .and_then(|t| moved_setting(t).or_else(|| bad_process_layout(t)));
            if let Some((field, message)) = known {
                return ScenarioError {
                    file: origin.to_string(),
                    field,
                    message,
                };
            }
            let mut message = e.to_string().trim_end().to_string();
            let is_sweep = table.is_some_and(|t| t.contains_key("base") && t.contains_key("axes"));
            if is_sweep {
                message.push_str("\n(this is a sweep file: run it with `infscaler sweep`)");
            }
            ScenarioError {
                file: origin.to_string(),
                field: String::new(),
                message,
            }
        })?;
        scenario.origin = origin.to_string();
        scenario.base_dir = base_dir.to_path_buf();
        Ok(scenario)
    }

    fn error(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: if self.origin.is_empty() {
                "<memory>".into()
            } else {
                self.origin.clone()
            },
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// Checks every field and builds what a run needs.
    pub fn resolve(&self) -> Result<ResolvedScenario, ScenarioError> {
        let device = self.resolve_device()?;
        let memory_limit_bytes = self.resolve_memory_limit(&device)?;
        self.check_workload()?;
        let (scenario, sizes) = self.resolve_sizes()?;
        let (app_name, mut models, mut model_sources, variants) =
            self.resolve_models(sizes.as_ref())?;
        let own_stages = models.len();
        let mut extra_streams = Vec::with_capacity(self.streams.len());
        for k in 0..self.streams.len() {
            extra_streams.push(self.resolve_stream_app(k, &mut models, &mut model_sources)?);
        }
        let measured = self.resolve_measured(&device, &models)?;
        let runtime = RuntimeProfile::resolve(self.serving.runtime.trim(), &self.base_dir)
            .map_err(|e| self.error("serving.runtime", e.to_string()))?;
        let partition_runtimes = self.resolve_partition_runtimes(&models, &runtime)?;
        let target = Target::new(&device, &runtime).with_measured(measured.as_deref());
        // A family's objective is its most accurate variant's (the last): what serving every
        // request at full accuracy would take alone.
        let reference = if variants {
            &models[own_stages - 1..own_stages]
        } else {
            &models[..own_stages]
        };
        let mut isolated_latency = isolated_latency(reference, target);
        let mut slo = self.resolve_slo(isolated_latency)?;
        self.check_network_delay()?;
        let sizing = match sizes {
            None => None,
            Some(sizes) => {
                let sizing = self.resolve_sizing(sizes, &models, &slo, target)?;
                isolated_latency = sizing.isolated(sizing.reference);
                slo = sizing.slo(sizing.reference);
                Some(sizing)
            }
        };
        let mut streams = vec![QueryStream {
            name: app_name.clone(),
            app_name: app_name.clone(),
            stages: 0..own_stages,
            variants,
            isolated_latency,
            slo,
            input_bytes: models[0].input_elems() * 4,
            expected_rate_per_s: self.workload.mean_rate_per_s(),
        }];
        for (k, app) in extra_streams.into_iter().enumerate() {
            let stream = self.resolve_stream_objective(k, app, &models, target)?;
            if streams.iter().any(|s| s.name == stream.name) {
                return Err(self.error(
                    &format!("streams[{k}].name"),
                    format!(
                        "`{}` already names a stream (the scenario's own is named by its app): \
                         give each stream its own name",
                        stream.name
                    ),
                ));
            }
            streams.push(stream);
        }
        self.check_run()?;
        if self.serving.queue_capacity == 0 {
            return Err(self.error("serving.queue_capacity", "must be at least 1"));
        }
        if self.serving.admission.queue_limit == Some(0) {
            return Err(self.error(
                "serving.admission.queue_limit",
                "must be at least 1 (leave it out for serving.queue_capacity)",
            ));
        }
        if let ServiceTime::Lognormal { cv } = self.serving.service_time
            && !(cv.is_finite() && cv >= 0.0)
        {
            return Err(self.error(
                "serving.service_time.cv",
                format!("{cv} is not allowed: a coefficient of variation is a finite number ≥ 0"),
            ));
        }
        self.serving
            .transport
            .validate()
            .map_err(|(field, msg)| self.error(&format!("serving.transport.{field}"), msg))?;
        self.policy
            .validate(&models, &device)
            .map_err(|(field, msg)| self.error(&format!("policy.{field}"), msg))?;
        if let Some((_, spec)) = self.policy.places() {
            spec.check_streams(&streams)
                .map_err(|(field, msg)| self.error(&format!("policy.{field}"), msg))?;
        }
        let any_family = streams.iter().any(|s| s.variants);
        if streams.len() > 1 && !self.policy.serves_streams() {
            return Err(self.error(
                "policy.kind",
                format!(
                    "`{}` serves one app; a scenario with [[streams]] needs a policy that serves \
                     several (static, proteus, accordion, slo_conforming, fastest, bbs, one_stage)",
                    self.policy.name()
                ),
            ));
        }
        if let PolicySpec::Static(spec) = &self.policy
            && !spec.route_weights.is_empty()
        {
            if !any_family {
                return Err(self.error(
                    "policy.route_weights",
                    "splits arrivals among a family's variants: it needs app.family",
                ));
            }
            let routes: Vec<usize> = streams
                .iter()
                .map(|s| if s.variants { s.stages.len() } else { 1 })
                .collect();
            crate::serving::plane::check_stream_weights(&spec.route_weights, &routes)
                .map_err(|m| self.error("policy.route_weights", m))?;
        }
        if matches!(self.policy, PolicySpec::Proteus(_))
            && let Some(pipeline) = streams.iter().find(|s| !s.variants && s.stages.len() > 1)
        {
            return Err(self.error(
                "policy.kind",
                format!(
                    "proteus serves one model or a family's variants (app.family) per stream; \
                     stream `{}` is a pipeline of {} stages",
                    pipeline.name,
                    pipeline.stages.len()
                ),
            ));
        }
        if any_family && !self.policy.chooses_variants() {
            return Err(self.error(
                "policy.kind",
                format!(
                    "`{}` serves one model per stage; app.family needs a policy that chooses \
                     among variants (proteus, or static with route_weights), or name one \
                     variant as app.name",
                    self.policy.name()
                ),
            ));
        }
        let interference = self
            .interference
            .iter()
            .enumerate()
            .map(|(k, spec)| {
                spec.resolve(&device)
                    .map_err(|(field, msg)| self.error(&format!("interference[{k}].{field}"), msg))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.check_interference_windows()?;
        let name = self.name.clone().unwrap_or_else(|| {
            Path::new(&self.origin)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into())
        });
        Ok(ResolvedScenario {
            scenario,
            sizing,
            name,
            device,
            measured,
            runtime,
            partition_runtimes,
            memory_limit_bytes,
            model_sources,
            app_name,
            models,
            variants,
            isolated_latency,
            slo,
            interference,
            streams,
        })
    }

    /// The app of `[[streams]]` entry `k`, checked as a scenario of its own (its app, objective
    /// and workload in place of the scenario's); its models and their sources are appended to
    /// `models` and `sources`. Errors name the entry's fields.
    fn resolve_stream_app(
        &self,
        k: usize,
        models: &mut Vec<Model>,
        sources: &mut Vec<ModelSource>,
    ) -> Result<StreamApp, ScenarioError> {
        let stream = &self.streams[k];
        let view = Scenario {
            app: stream.app.clone(),
            slo: stream.slo.clone(),
            workload: stream.workload.clone(),
            streams: Vec::new(),
            ..self.clone()
        };
        let in_stream = |e: ScenarioError| self.stream_error(k, e);
        if stream.app.tokens == TokenSource::Trace || stream.app.generated_tokens.unwrap_or(0) > 0 {
            return Err(self.error(
                &format!("streams[{k}].app"),
                "requests sized by tokens (app.tokens, app.generated_tokens) are served in the \
                 scenario's own stream only",
            ));
        }
        view.check_workload().map_err(in_stream)?;
        let (app_name, own, own_sources, variants) =
            view.resolve_models(None).map_err(in_stream)?;
        let stages = models.len()..models.len() + own.len();
        models.extend(own);
        sources.extend(own_sources);
        Ok(StreamApp {
            view,
            app_name,
            stages,
            variants,
        })
    }

    /// The objective of `[[streams]]` entry `k`, whose `app` is among `models`, costed on
    /// `target`.
    fn resolve_stream_objective(
        &self,
        k: usize,
        app: StreamApp,
        models: &[Model],
        target: Target<'_>,
    ) -> Result<QueryStream, ScenarioError> {
        let StreamApp {
            view,
            app_name,
            stages,
            variants,
        } = app;
        let in_stream = |e: ScenarioError| self.stream_error(k, e);
        let own = &models[stages.clone()];
        let reference = if variants { &own[own.len() - 1..] } else { own };
        let isolated = isolated_latency(reference, target);
        let slo = view.resolve_slo(isolated).map_err(in_stream)?;
        view.check_network_delay().map_err(in_stream)?;
        Ok(QueryStream {
            name: self.streams[k]
                .name
                .clone()
                .unwrap_or_else(|| app_name.clone()),
            app_name,
            input_bytes: own[0].input_elems() * 4,
            stages,
            variants,
            isolated_latency: isolated,
            slo,
            expected_rate_per_s: view.workload.mean_rate_per_s(),
        })
    }

    /// An error of `[[streams]]` entry `k`'s own scenario, its field under `streams[k]`.
    fn stream_error(&self, k: usize, e: ScenarioError) -> ScenarioError {
        ScenarioError {
            field: if e.field.is_empty() {
                format!("streams[{k}]")
            } else {
                format!("streams[{k}].{}", e.field)
            },
            ..e
        }
    }

    fn resolve_device(&self) -> Result<DeviceProfile, ScenarioError> {
        let profile = self.load_device()?;
        match self.device.cpu_groups {
            None => Ok(profile),
            Some(groups) => profile
                .with_cpu_groups(groups)
                .map_err(|e| self.error("device.cpu_groups", e)),
        }
    }

    fn load_device(&self) -> Result<DeviceProfile, ScenarioError> {
        let name = self.device.profile.trim();
        if let Some(profile) = DeviceProfile::builtin(name) {
            return Ok(profile);
        }
        let path = self.base_dir.join(name);
        if path.extension().is_some_and(|e| e == "toml") || path.exists() {
            return DeviceProfile::load(&path)
                .map_err(|e| self.error("device.profile", e.to_string()));
        }
        Err(self.error(
            "device.profile",
            format!(
                "unknown profile `{name}`: use a built-in one ({}) or the path of a profile TOML file",
                DeviceProfile::builtin_names().join(", ")
            ),
        ))
    }

    /// The runtimes a static deployment gives its partitions, by global partition index.
    fn resolve_partition_runtimes(
        &self,
        models: &[Model],
        runtime: &RuntimeProfile,
    ) -> Result<Vec<Option<RuntimeProfile>>, ScenarioError> {
        let PolicySpec::Static(spec) = &self.policy else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for o in spec.runtime_overrides(models) {
            out.push(match o {
                None => None,
                Some((field, name)) => Some(
                    RuntimeProfile::resolve(name.trim(), &self.base_dir)
                        .map_err(|e| self.error(&format!("policy.{field}"), e.to_string()))?,
                ),
            });
        }
        let mixed = out.iter().flatten().any(|r| r.name != runtime.name);
        if mixed && spec.process_layout == Some(crate::serving::ProcessLayout::PerApp) {
            return Err(self.error(
                "policy.process_layout",
                "\"per_app\" puts every partition on an accelerator in one process, which cannot \
                 run two runtimes; with per-partition runtimes use \"per_partition\" or \
                 \"per_instance\"",
            ));
        }
        Ok(out)
    }

    /// Loads `device.measured_profile` and checks it against the device and the app's models.
    fn resolve_measured(
        &self,
        device: &DeviceProfile,
        models: &[Model],
    ) -> Result<Option<Arc<MeasuredTimes>>, ScenarioError> {
        let Some(paths) = &self.device.measured_profile else {
            return Ok(None);
        };
        if paths.paths().is_empty() {
            return Err(self.error(
                "device.measured_profile",
                "the list is empty: give the path of a profile written by `infscaler hil profile`",
            ));
        }
        let mut times = MeasuredTimes::default();
        for (i, p) in paths.paths().iter().enumerate() {
            let field = match paths {
                OneOrMany::One(_) => "device.measured_profile".to_string(),
                OneOrMany::Many(_) => format!("device.measured_profile[{i}]"),
            };
            let path = self.base_dir.join(p);
            let profile =
                MeasuredProfile::load(&path).map_err(|e| self.error(&field, e.to_string()))?;
            let file = path.display().to_string();
            times
                .add(&profile, &file, device, models)
                .map_err(|(f, message)| {
                    self.error(
                        &field,
                        MeasuredError {
                            file: file.clone(),
                            field: f,
                            message,
                        }
                        .to_string(),
                    )
                })?;
        }
        Ok(Some(Arc::new(times)))
    }

    fn resolve_memory_limit(&self, device: &DeviceProfile) -> Result<u64, ScenarioError> {
        let usable = device
            .memory
            .capacity_bytes
            .saturating_sub(device.memory.reserved_bytes);
        match self.device.memory_cap {
            None => Ok(usable),
            Some(ByteSize(0)) => Err(self.error("device.memory_cap", "must be more than 0 bytes")),
            Some(ByteSize(cap)) if cap > usable => Err(self.error(
                "device.memory_cap",
                format!(
                    "{} is more than the {} the device leaves to applications ({} less {} reserved)",
                    ByteSize(cap),
                    ByteSize(usable),
                    ByteSize(device.memory.capacity_bytes),
                    ByteSize(device.memory.reserved_bytes)
                ),
            )),
            Some(ByteSize(cap)) => Ok(cap),
        }
    }

    fn resolve_models(
        &self,
        sizes: Option<&SizeSource>,
    ) -> Result<(String, Vec<Model>, Vec<ModelSource>, bool), ScenarioError> {
        let app = self.app.resolve_app().map_err(|(f, m)| self.error(f, m))?;
        let (app_name, stages) = (app.name, app.models);
        let mut opts = ZooOptions::default();
        if let Some(seq_len) = self.app.seq_len {
            if seq_len == 0 || seq_len > 4096 {
                return Err(self.error("app.seq_len", "must be between 1 and 4096 tokens"));
            }
            opts.seq_len = seq_len;
        }
        let opts_of = |stage: &str| match sizes {
            None => opts,
            Some(s) => tokens::planning_options(stage, s.reference, s.generate, s.bucket),
        };
        let field = if app.variants {
            "app.family"
        } else if self.app.stages.is_some() {
            "app.stages"
        } else {
            "app.name"
        };
        let sources: Vec<ModelSource> = stages
            .iter()
            .map(|s| ModelSource::of_stage(s, &self.base_dir))
            .collect();
        if sizes.is_some()
            && let Some(file) = sources.iter().find(|s| s.path().is_some())
        {
            return Err(self.error(
                field,
                format!(
                    "{file} has fixed shapes, but requests with sizes (app.tokens = \"trace\" \
                     or app.generated_tokens) need zoo stages that are rebuilt at every size"
                ),
            ));
        }
        let mut models = Vec::with_capacity(stages.len());
        for (stage, source) in stages.iter().zip(&sources) {
            let network = source.network(&opts_of(stage)).map_err(|e| match source {
                ModelSource::Zoo(_) => self.error(
                    field,
                    format!(
                        "{e} (built-in apps: {}; a model file or ONNX model is named by its \
                         path, ending in .toml or .onnx)",
                        builtin_app_names()
                    ),
                ),
                _ => self.error(field, e),
            })?;
            models.push(network.to_model());
        }
        // A file's model is known by its own name, not by the path that found it.
        let app_name = if sources.iter().any(|s| s.path().is_some()) {
            let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
            names.join("+")
        } else {
            app_name
        };
        if app.variants {
            if sizes.is_some() {
                return Err(self.error(
                    "app.family",
                    "a family's variants have fixed shapes; requests with sizes (app.tokens = \"trace\" or app.generated_tokens) need a sequence model stage",
                ));
            }
            if let Some(m) = models
                .iter()
                .find(|m| m.input_shape != models[0].input_shape)
            {
                return Err(self.error(
                    "app.variants",
                    format!(
                        "{} takes input {:?} but {} takes {:?}: every variant must take the same input",
                        m.name, m.input_shape, models[0].name, models[0].input_shape
                    ),
                ));
            }
        }
        Ok((app_name, models, sources, app.variants))
    }

    /// Checks `[slo] network_delay`: its parameters, and that the trace does not give each
    /// request's delay too.
    fn check_network_delay(&self) -> Result<(), ScenarioError> {
        let Some(delay) = &self.slo.network_delay else {
            return Ok(());
        };
        delay
            .validate()
            .map_err(|(field, msg)| self.error(&format!("slo.network_delay.{field}"), msg))?;
        if self.trace_spec().is_some_and(|t| t.delay_column.is_some()) {
            return Err(self.error(
                "slo.network_delay",
                "give either this or workload.delay_column (each request's delay from the \
                 trace), not both",
            ));
        }
        Ok(())
    }

    /// The `[workload]` trace, where arrivals replay one.
    fn trace_spec(&self) -> Option<&crate::workload::TraceSpec> {
        match &self.workload {
            ArrivalSpec::Trace(t) => Some(t),
            _ => None,
        }
    }

    /// The scenario's objective: `[slo]`'s, the mean of `per_request`, or the mean of the
    /// trace's objective column.
    fn resolve_slo(&self, isolated: SimDuration) -> Result<SimDuration, ScenarioError> {
        let nominal = self.slo.effective_multiplier().is_some() || self.slo.latency.is_some();
        if self.slo.level.is_some() && (self.slo.multiplier.is_some() || self.slo.latency.is_some())
        {
            return Err(self.error(
                "slo.level",
                "give one of `level`, `multiplier` and `latency`, not several",
            ));
        }
        let sized =
            self.app.tokens == TokenSource::Trace || self.app.generated_tokens.unwrap_or(0) > 0;
        if let Some(column) = self.trace_spec().and_then(|t| t.slo_column.as_ref()) {
            if nominal || self.slo.per_request.is_some() {
                return Err(self.error(
                    "slo",
                    format!(
                        "the trace's column `{column}` (workload.slo_column) sets each request's \
                         objective: leave out slo.latency, slo.multiplier and slo.per_request"
                    ),
                ));
            }
            if sized {
                return Err(self.error(
                    "workload.slo_column",
                    "cannot be used with requests sized by tokens (their objective follows \
                     from their size)",
                ));
            }
            let trace = self.trace_spec().expect("a trace");
            let mean = trace
                .build(&self.base_dir)
                .map_err(|e| self.error("workload.slo_column", e.to_string()))?
                .mean_objective();
            return mean.ok_or_else(|| self.error("workload.slo_column", "has no values"));
        }
        if let Some(per_request) = &self.slo.per_request {
            if nominal {
                return Err(self.error(
                    "slo.per_request",
                    "give either this or `multiplier`/`latency`, not both (the scenario's \
                     objective is then the distribution's mean)",
                ));
            }
            if sized {
                return Err(self.error(
                    "slo.per_request",
                    "cannot be used with requests sized by tokens (their objective follows \
                     from their size)",
                ));
            }
            per_request
                .validate()
                .map_err(|(field, msg)| self.error(&format!("slo.per_request.{field}"), msg))?;
            if per_request.least() == Some(SimDuration::ZERO) {
                return Err(self.error(
                    "slo.per_request",
                    format!(
                        "{per_request} can draw an objective of 0: every request would miss it"
                    ),
                ));
            }
            return Ok(per_request.mean());
        }
        match (self.slo.effective_multiplier(), self.slo.latency) {
            (Some(_), Some(_)) => Err(self.error("slo", "give either `multiplier` or `latency`, not both")),
            (None, None) => Err(self.error("slo", "missing: give `multiplier` (> 1, e.g. 2.0), `level` (strict, moderate or relaxed), `latency` (e.g. \"100ms\") or `per_request` (e.g. { kind = \"uniform\", low = \"100ms\", high = \"300ms\" })")),
            (Some(m), None) if !(m.is_finite() && m > 1.0) => Err(self.error(
                "slo.multiplier",
                format!("{m} is not allowed: the SLO multiplier must be a finite number greater than 1 (the paper uses 1.5, 2 and 3)"),
            )),
            (Some(m), None) => Ok(SimDuration::from_secs_f64(isolated.as_secs_f64() * m)),
            (None, Some(TimeSpan(d))) if d == SimDuration::ZERO => Err(self.error("slo.latency", "must be more than 0")),
            (None, Some(TimeSpan(d))) => Ok(d),
        }
    }

    /// Whether requests differ in size, and if so where their sizes come from and the
    /// reference request; with `app.tokens = "trace"` also the scenario to run, its trace read
    /// with the token columns.
    fn resolve_sizes(&self) -> Result<(Scenario, Option<SizeSource>), ScenarioError> {
        let app = &self.app;
        let trace = match &self.workload {
            ArrivalSpec::Trace(t) => Some(t),
            _ => None,
        };
        if app.tokens == TokenSource::Fixed {
            if let Some(t) = trace
                && t.token_columns().is_some()
            {
                let field = if t.context_column.is_some() {
                    "workload.context_column"
                } else {
                    "workload.generated_column"
                };
                return Err(self.error(
                    field,
                    "is only read with app.tokens = \"trace\" (requests sized from the trace)",
                ));
            }
            let generated = app.generated_tokens.unwrap_or(0);
            if generated == 0 {
                if app.token_bucket.is_some() {
                    return Err(self.error(
                        "app.token_bucket",
                        "is only used when requests have sizes: app.tokens = \"trace\" or \
                         app.generated_tokens > 0",
                    ));
                }
                return Ok((self.clone(), None));
            }
            let fixed = RequestTokens {
                context: app.seq_len.unwrap_or(ZooOptions::default().seq_len) as u32,
                generated,
            };
            let sizes = SizeSource {
                fixed: Some(fixed),
                reference: fixed,
                generate: true,
                bucket: self.token_bucket()?,
            };
            return Ok((self.clone(), Some(sizes)));
        }
        for (given, field) in [
            (app.seq_len.is_some(), "app.seq_len"),
            (app.generated_tokens.is_some(), "app.generated_tokens"),
        ] {
            if given {
                return Err(self.error(
                    field,
                    "is for app.tokens = \"fixed\"; with app.tokens = \"trace\" every request's \
                     tokens come from the trace (leave it out)",
                ));
            }
        }
        let Some(trace) = trace else {
            return Err(self.error(
                "app.tokens",
                "\"trace\" needs a workload of kind = \"trace\" whose file has token columns \
                 (ContextTokens, GeneratedTokens in the Azure LLM inference trace)",
            ));
        };
        let mut trace = trace.clone();
        trace
            .context_column
            .get_or_insert_with(|| DEFAULT_CONTEXT_COLUMN.into());
        trace
            .generated_column
            .get_or_insert_with(|| DEFAULT_GENERATED_COLUMN.into());
        let replay = trace.build(&self.base_dir).map_err(|e| {
            let field = match &e {
                WorkloadError::InvalidField { field, .. } => format!("workload.{field}"),
                _ => "workload.path".to_string(),
            };
            self.error(&field, e.to_string())
        })?;
        let sizes = replay.tokens().unwrap_or_default();
        let Some(reference) = median_tokens(sizes) else {
            return Err(self.error("workload", "the trace window has no requests to size"));
        };
        let mut scenario = self.clone();
        scenario.workload = ArrivalSpec::Trace(trace);
        let sizes = SizeSource {
            fixed: None,
            reference,
            generate: true,
            bucket: self.token_bucket()?,
        };
        Ok((scenario, Some(sizes)))
    }

    fn token_bucket(&self) -> Result<u32, ScenarioError> {
        match self.app.token_bucket {
            None => Ok(tokens::DEFAULT_BUCKET),
            Some(b) if (1..=1024).contains(&b) => Ok(b),
            Some(b) => Err(self.error(
                "app.token_bucket",
                format!("{b} is not allowed: between 1 and 1024 tokens"),
            )),
        }
    }

    /// The sizing of a run whose requests differ in size: the app's stages at every size,
    /// costed on `target`, and each request's objective (`slo` is the scenario's, checked).
    fn resolve_sizing(
        &self,
        sizes: SizeSource,
        models: &[Model],
        slo: &SimDuration,
        target: Target<'_>,
    ) -> Result<Sizing, ScenarioError> {
        let stages: Vec<String> = models.iter().map(|m| m.name.clone()).collect();
        let model = TokenModel::new(&stages, sizes.bucket, sizes.generate, target)
            .map_err(|e| self.error("app", e.to_string()))?;
        let decoder = stages.iter().any(|s| tokens::decodes(s, true));
        if sizes.fixed.is_some() && !decoder {
            return Err(self.error(
                "app.generated_tokens",
                format!(
                    "app {} has no decoder stage to generate tokens (decoders: gpt2_medium)",
                    stages.join(" → ")
                ),
            ));
        }
        if !model.is_sized() {
            return Err(self.error(
                "app.tokens",
                format!(
                    "no stage of app {} depends on a request's size (sequence models: bert_base, \
                     gpt2_medium)",
                    stages.join(" → ")
                ),
            ));
        }
        let fixed_stage_ns = models
            .iter()
            .map(|m| crate::model::cost::fastest_solo(&m.operators, target).1)
            .collect();
        let objective = match self.slo.effective_multiplier() {
            Some(m) => Objective::Multiplier(m),
            None => Objective::Absolute(*slo),
        };
        Ok(Sizing {
            model: Arc::new(model),
            fixed: sizes.fixed,
            reference: sizes.reference,
            fixed_stage_ns,
            objective,
        })
    }

    /// Checks the workload's numbers, then builds it once so that a missing or malformed trace
    /// file is reported now rather than when the run starts.
    fn check_workload(&self) -> Result<(), ScenarioError> {
        let as_error = |e: WorkloadError| {
            let field = match &e {
                WorkloadError::InvalidField { field, .. } => {
                    format!("workload.{}", field.trim_start_matches("workload."))
                }
                _ => "workload.path".to_string(),
            };
            self.error(&field, e.to_string())
        };
        self.workload.validate().map_err(as_error)?;
        self.workload
            .build(&self.base_dir, RunSeed(0).stream("validation"))
            .map_err(as_error)?;
        Ok(())
    }

    /// Stream `k`'s `[slo]` and `[workload]`: the scenario's own for 0, else those of
    /// `[[streams]]` entry `k − 1`.
    pub fn stream_slo_and_workload(&self, k: usize) -> (&SloSpec, &ArrivalSpec) {
        match k {
            0 => (&self.slo, &self.workload),
            _ => (&self.streams[k - 1].slo, &self.streams[k - 1].workload),
        }
    }

    /// The mean arrival rate of every stream together, requests per second; `None` where one
    /// has no mean rate known in advance (a trace).
    pub fn mean_rate_per_s(&self) -> Option<f64> {
        let mut rate = self.workload.mean_rate_per_s()?;
        for stream in &self.streams {
            rate += stream.workload.mean_rate_per_s()?;
        }
        Some(rate)
    }

    /// How long arrivals are expected to last, s: `run.duration`, or `run.max_requests` at the
    /// workload's mean rate, whichever ends first; `None` where neither follows from the
    /// scenario alone (a trace without `run.duration`).
    fn arrival_period_s(&self) -> Option<f64> {
        let run = &self.run;
        let by_count = self
            .mean_rate_per_s()
            .zip(run.max_requests)
            .map(|(rate, n)| n as f64 / rate);
        let by_time = run.duration.map(|d| d.0.as_secs_f64());
        match (by_time, by_count) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The run's longest simulated time, seconds: its arrival period and the drain after it.
    fn longest_run_s(&self) -> Option<(f64, f64)> {
        let drain_s = if self.run.drain {
            self.run.drain_limit.0.as_secs_f64()
        } else {
            0.0
        };
        self.arrival_period_s().map(|a| (a, drain_s))
    }

    /// Each periodic or random interferer has at most [`MAX_INTERFERENCE_WINDOWS`] windows
    /// over the longest run (each window is two events).
    fn check_interference_windows(&self) -> Result<(), ScenarioError> {
        let Some((arrivals_s, drain_s)) = self.longest_run_s() else {
            return Ok(());
        };
        for (k, entry) in self.interference.iter().enumerate() {
            let (field, cycle) = match entry.when {
                WindowSpec::Fixed { .. } => continue,
                WindowSpec::Periodic { period, .. } => ("period", period.0.as_secs_f64()),
                WindowSpec::Random {
                    mean_gap,
                    mean_duration,
                } => (
                    "mean_gap",
                    mean_gap.0.as_secs_f64() + mean_duration.0.as_secs_f64(),
                ),
            };
            let windows = (arrivals_s + drain_s) / cycle;
            if windows > MAX_INTERFERENCE_WINDOWS as f64 {
                return Err(self.error(
                    &format!("interference[{k}].when.{field}"),
                    format!(
                        "gives {windows:.3e} windows over a run of up to {:.0} s, more than the \
                         {MAX_INTERFERENCE_WINDOWS} an interferer may have: make it longer",
                        arrivals_s + drain_s
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_run(&self) -> Result<(), ScenarioError> {
        let run = &self.run;
        if run.duration.is_none() && run.max_requests.is_none() {
            return Err(self.error(
                "run",
                "give `duration` (e.g. \"60s\") or `max_requests`, or both",
            ));
        }
        if run.duration.is_some_and(|d| d.0 == SimDuration::ZERO) {
            return Err(self.error("run.duration", "must be more than 0"));
        }
        if run.max_requests == Some(0) {
            return Err(self.error("run.max_requests", "must be at least 1"));
        }
        if let Some(d) = run.duration
            && run.warmup.0 >= d.0
        {
            return Err(self.error(
                "run.warmup",
                format!("{} must be shorter than run.duration ({})", run.warmup, d),
            ));
        }
        if let Some(TimeSpan(interval)) = run.series_interval {
            if interval == SimDuration::ZERO {
                return Err(self.error("run.series_interval", "must be more than 0"));
            }
            if let Some((arrivals_s, drain_s)) = self.longest_run_s() {
                let points = (arrivals_s + drain_s) / interval.as_secs_f64();
                if points > MAX_SERIES_POINTS as f64 {
                    return Err(self.error(
                        "run.series_interval",
                        format!(
                            "{} over a run of up to {:.0} s ({arrivals_s:.0} s of arrivals and \
                             {drain_s:.0} s of drain) is {points:.3e} points, more than the \
                             {MAX_SERIES_POINTS} a time series may have: make the interval longer",
                            TimeSpan(interval),
                            arrivals_s + drain_s
                        ),
                    ));
                }
            }
        }
        if let Some(points) = run.latency_cdf
            && !(1..=MAX_LATENCY_CDF_POINTS).contains(&points)
        {
            return Err(self.error(
                "run.latency_cdf",
                format!("{points} points: allowed 1 to {MAX_LATENCY_CDF_POINTS}"),
            ));
        }
        Ok(())
    }
}

/// A setting that older scenario files wrote where it no longer lives: (the field, where it lives
/// now), or `None`.
fn moved_setting(table: &toml::Table) -> Option<(String, String)> {
    let transport = table
        .get("serving")
        .and_then(|s| s.get("transport"))
        .and_then(|t| t.as_table())?;
    let written = |key: &str| transport.get(key).map(|v| v.to_string());
    if let Some(value) = written("kind") {
        return Some((
            "serving.transport.kind".into(),
            format!(
                "has moved: the transport is the policy's choice, and `[serving.transport]` holds \
                 only what each transport costs. Under `[policy] kind = \"static\"` write \
                 `transport = {value}` in `[policy]` (allowed: \"zero_copy\", the default, \
                 \"shared_memory\", \"http\"); the other policies choose their own (infscaler: \
                 zero_copy, spright: shared_memory, infless and knative: http)"
            ),
        ));
    }
    if let Some(value) = written("control_path") {
        return Some((
            "serving.transport.control_path".into(),
            format!(
                "has moved: how zero-copy tokens travel is the policy's choice. Under `[policy] \
                 kind = \"static\"` or `\"infscaler\"` write `control_path = {value}` in \
                 `[policy]` (allowed: \"ebpf\", the default, \"user_space\"); the other policies \
                 do not use zero-copy tokens"
            ),
        ));
    }
    None
}

/// A `process_layout` that is not one, or written in `[serving]` instead of `[policy]`: (the
/// field, what is allowed), or `None`.
fn bad_process_layout(table: &toml::Table) -> Option<(String, String)> {
    let allowed = ProcessLayout::allowed();
    if let Some(value) = table.get("serving").and_then(|s| s.get("process_layout")) {
        return Some((
            "serving.process_layout".into(),
            format!(
                "is the policy's setting: write `process_layout = {value}` in `[policy]` \
                 (allowed: {allowed}; every policy kind accepts it)"
            ),
        ));
    }
    let value = table.get("policy")?.get("process_layout")?;
    if value.as_str().and_then(ProcessLayout::from_name).is_some() {
        return None;
    }
    Some((
        "policy.process_layout".into(),
        format!("{value} is not a process layout; allowed: {allowed}"),
    ))
}

fn builtin_app_names() -> String {
    crate::workload::app::BUILTIN_APPS
        .iter()
        .map(|a| a.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The isolated batch-1 latency of an app: for each stage, the whole model alone on its fastest
/// accelerator at batch 1 with no other load, summed over stages. The SLO multiplier applies to it.
pub fn isolated_latency(models: &[Model], target: Target<'_>) -> SimDuration {
    let total_ns: u64 = models
        .iter()
        .map(|m| crate::model::cost::fastest_solo(&m.operators, target).1)
        .sum();
    SimDuration::from_ns(total_ns)
}

/// Most arrivals a run may be expected to have before `run`, `validate` and `hil run` refuse it
/// without `--force`: 10⁹. At the simulator's speed on a small machine (0.2–1.7 M requests/s,
/// docs/performance.md) that is 10 minutes to 1.5 hours of computing; a mistaken rate or
/// duration is usually many orders of magnitude beyond it.
pub const MAX_EXPECTED_ARRIVALS: f64 = 1e9;

impl ResolvedScenario {
    /// The arrivals the run is expected to have: `run.max_requests`, or the workload's mean
    /// rate over `run.duration`, whichever is fewer; `None` where neither bounds it from the
    /// scenario alone (a trace without `max_requests`: its file bounds it).
    pub fn expected_arrivals(&self) -> Option<f64> {
        let s = &self.scenario;
        match s.mean_rate_per_s() {
            Some(rate) => s.arrival_period_s().map(|t| rate * t),
            None => s.run.max_requests.map(|n| n as f64),
        }
    }

    /// Refuses a run expected to have more than `limit` arrivals, naming the fields that set
    /// the count and the count itself.
    pub fn check_expected_arrivals(&self, limit: f64) -> Result<(), ScenarioError> {
        let Some(n) = self.expected_arrivals() else {
            return Ok(());
        };
        if n <= limit {
            return Ok(());
        }
        let run = &self.scenario.run;
        let bounded_by_count = run.max_requests.is_some_and(|m| m as f64 <= n);
        let (field, how) = if bounded_by_count {
            ("run.max_requests", format!("{n:.3e} requests"))
        } else {
            let rate = self.scenario.mean_rate_per_s().unwrap_or(0.0);
            let d = run.duration.map_or(0.0, |d| d.0.as_secs_f64());
            let field = match self.scenario.workload {
                ArrivalSpec::Constant { .. } | ArrivalSpec::Poisson { .. } => "workload.rate_per_s",
                _ => "run.duration",
            };
            (
                field,
                format!("{n:.3e} arrivals (a mean {rate} per second for run.duration = {d} s)"),
            )
        };
        Err(self.scenario.error(
            field,
            format!(
                "the run is expected to have {how}, more than the {limit:.0e} a run may have \
                 unless forced: lower the rate or run.duration, set run.max_requests, or pass \
                 --force to run it anyway"
            ),
        ))
    }

    /// Where this scenario's plans are costed: its device, runtime and measured times.
    pub fn target(&self) -> Target<'_> {
        Target::new(&self.device, &self.runtime).with_measured(self.measured.as_deref())
    }

    /// What the scenario's policy knows when it deploys.
    pub fn policy_context(&self) -> PolicyContext<'_> {
        let serving = &self.scenario.serving;
        PolicyContext {
            device: &self.device,
            measured: self.measured.as_deref(),
            runtime: &self.runtime,
            models: &self.models,
            variants: self.variants,
            expected_rate_per_s: self.scenario.workload.mean_rate_per_s(),
            slo: self.slo,
            streams: &self.streams,
            memory_limit_bytes: self.memory_limit_bytes,
            transport: &serving.transport,
            queue_capacity: serving.queue_capacity,
            seed: crate::rng::RunSeed(self.scenario.seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
multiplier = 2.0
[workload]
kind = "poisson"
rate_per_s = 50.0
[run]
duration = "2s"
"#;

    fn parse_error(text: &str) -> ScenarioError {
        Scenario::parse(text, "old.toml", Path::new(".")).unwrap_err()
    }

    #[test]
    fn an_slo_level_is_its_multiplier_and_stands_alone() {
        let resolve = |slo: &str| {
            let text = BASE.replace("multiplier = 2.0", slo);
            Scenario::parse(&text, "level.toml", Path::new("."))
                .unwrap()
                .resolve()
        };
        for (level, m) in [("strict", 1.5), ("moderate", 2.0), ("relaxed", 3.0)] {
            let by_level = resolve(&format!("level = \"{level}\"")).unwrap();
            let by_number = resolve(&format!("multiplier = {m}")).unwrap();
            assert_eq!(by_level.slo, by_number.slo, "{level}");
        }
        for both in [
            "level = \"strict\"\nmultiplier = 2.0",
            "level = \"strict\"\nlatency = \"9ms\"",
        ] {
            let err = resolve(both).unwrap_err();
            assert_eq!(err.field, "slo.level", "{err}");
        }
        let err = parse_error(&BASE.replace("multiplier = 2.0", "level = \"lax\""));
        assert!(err.to_string().contains("strict"), "{err}");
    }

    #[test]
    fn accordion_is_refused_where_its_places_cannot_serve_the_streams() {
        let refused = |policy: &str, streams: &str| {
            let text = format!("{BASE}{streams}[policy]\n{policy}\n");
            let err = Scenario::parse(&text, "acc.toml", Path::new("."))
                .and_then(|s| s.resolve())
                .unwrap_err();
            (err.field.clone(), err.message.clone())
        };
        let other = "[[streams]]\nname = \"b\"\napp = { name = \"alexnet\" }\n\
                     slo = { latency = \"500ms\" }\nworkload = { kind = \"poisson\", rate_per_s = 5.0 }\n";
        let cases = [
            (
                "kind = \"accordion\"\nplaces = 9",
                "",
                "policy.places",
                "1 to 8",
            ),
            (
                "kind = \"accordion\"\naccelerator = \"gpu\"",
                "",
                "policy.accelerator",
                "not a CPU",
            ),
            (
                "kind = \"accordion\"\nplaces = 1",
                other,
                "policy.places",
                "2 stages",
            ),
            (
                "kind = \"accordion\"\nhigh_priority = [\"c\"]",
                other,
                "policy.high_priority",
                "no stream is named `c`",
            ),
            (
                "kind = \"fastest\"\nhigh_priority = [\"b\"]",
                other,
                "policy.high_priority",
                "only `accordion`",
            ),
            (
                "kind = \"slo_conforming\"\nbuffer = \"5ms\"",
                "",
                "policy.buffer",
                "only `bbs`",
            ),
            (
                "kind = \"bbs\"\ntarget = 1.5",
                "",
                "policy.target",
                "(0, 1]",
            ),
        ];
        for (policy, streams, field, says) in cases {
            let (f, message) = refused(policy, streams);
            assert_eq!(f, field, "{policy}: {message}");
            assert!(message.contains(says), "{policy}: {message}");
        }
    }

    #[test]
    fn a_moved_transport_setting_says_where_it_lives_now() {
        let err = parse_error(&format!(
            "{BASE}[serving.transport]\nkind = \"http\"\nhttp_hop = \"2ms\"\n"
        ));
        assert_eq!(err.file, "old.toml");
        assert_eq!(err.field, "serving.transport.kind");
        assert!(
            err.message.contains("`transport = \"http\"` in `[policy]`"),
            "{}",
            err.message
        );
        assert!(
            err.to_string()
                .starts_with("old.toml: field `serving.transport.kind`: has moved"),
            "{err}"
        );

        let err = parse_error(&format!(
            "{BASE}[serving.transport]\ncontrol_path = \"user_space\"\n"
        ));
        assert_eq!(err.field, "serving.transport.control_path");
        assert!(
            err.message
                .contains("`control_path = \"user_space\"` in `[policy]`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_transport_is_the_policys() {
        let text = format!(
            "{BASE}[serving.transport]\nhttp_hop = \"2ms\"\n[policy]\nkind = \"static\"\n\
             transport = \"shared_memory\"\ncontrol_path = \"user_space\"\n"
        );
        let scenario = Scenario::parse(&text, "new.toml", Path::new(".")).unwrap();
        let PolicySpec::Static(spec) = &scenario.policy else {
            panic!("not static: {:?}", scenario.policy);
        };
        assert_eq!(
            spec.transport,
            crate::serving::transport::TransportKind::SharedMemory
        );
        assert_eq!(
            spec.control_path,
            crate::serving::transport::ControlPath::UserSpace
        );
        assert!(scenario.resolve().is_ok());
        // Unset, the static policy's transport is the old scenario default: zero-copy over eBPF.
        let PolicySpec::Static(spec) = Scenario::parse(BASE, "t", Path::new(".")).unwrap().policy
        else {
            panic!("the default policy is static");
        };
        assert_eq!(spec, crate::policy::StaticSpec::default());
        assert_eq!(
            spec.transport,
            crate::serving::transport::TransportKind::ZeroCopy
        );
        assert_eq!(
            spec.control_path,
            crate::serving::transport::ControlPath::Ebpf
        );
    }

    #[test]
    fn every_policy_takes_a_process_layout_and_defaults_to_a_process_per_instance() {
        for kind in ["static", "infscaler", "infless", "spright", "knative"] {
            let parse = |extra: &str| {
                let text = format!("{BASE}[policy]\nkind = \"{kind}\"\n{extra}");
                Scenario::parse(&text, "t.toml", Path::new(".")).unwrap()
            };
            let own = parse("").resolve().unwrap().scenario.policy.build();
            assert_eq!(own.process_layout(), ProcessLayout::PerInstance, "{kind}");
            for layout in ProcessLayout::ALL {
                let scenario = parse(&format!("process_layout = \"{}\"\n", layout.name()));
                let resolved = scenario.resolve().unwrap();
                assert_eq!(
                    resolved.scenario.policy.build().process_layout(),
                    layout,
                    "{kind}"
                );
            }
        }
    }

    #[test]
    fn a_bad_process_layout_names_the_field_and_the_allowed_values() {
        for value in ["\"per_process\"", "3"] {
            let err = parse_error(&format!(
                "{BASE}[policy]\nkind = \"infscaler\"\nprocess_layout = {value}\n"
            ));
            assert_eq!(err.file, "old.toml");
            assert_eq!(err.field, "policy.process_layout");
            assert!(
                err.to_string().starts_with(&format!(
                    "old.toml: field `policy.process_layout`: {value} is not a process layout; \
                     allowed: \"per_instance\", \"per_partition\", \"per_app\""
                )),
                "{err}"
            );
        }
        let err = parse_error(&format!("{BASE}[serving]\nprocess_layout = \"per_app\"\n"));
        assert_eq!(err.field, "serving.process_layout");
        assert!(
            err.message
                .contains("write `process_layout = \"per_app\"` in `[policy]`"),
            "{}",
            err.message
        );
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("infscaler-scenario-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_series_of_more_points_than_memory_holds_is_refused() {
        // Found by fuzzing: a 1 ns interval aborted on memory.
        let text = format!("{BASE}series_interval = \"1ns\"\n");
        let err = Scenario::parse(&text, "t.toml", Path::new("."))
            .unwrap()
            .resolve()
            .unwrap_err();
        assert_eq!(err.field, "run.series_interval");
        assert!(err.message.contains("points"), "{err}");
        let ok = format!("{BASE}series_interval = \"1s\"\n");
        assert!(
            Scenario::parse(&ok, "t.toml", Path::new("."))
                .unwrap()
                .resolve()
                .is_ok()
        );
    }

    #[test]
    fn a_missing_trace_names_its_field_once() {
        let text = BASE.replace(
            "kind = \"poisson\"\nrate_per_s = 50.0",
            "kind = \"trace\"\npath = \"missing.csv\"",
        );
        let err = Scenario::parse(&text, "t.toml", Path::new("/nonexistent"))
            .unwrap()
            .resolve()
            .unwrap_err();
        assert_eq!(err.field, "workload.path");
        let msg = err.to_string();
        assert_eq!(msg.matches("workload.path").count(), 1, "{msg}");
        assert!(
            msg.contains("cannot read trace file /nonexistent/missing.csv"),
            "{msg}"
        );
    }

    #[test]
    fn an_endless_trace_file_stops_at_the_size_cap() {
        if !Path::new("/dev/zero").exists() {
            return;
        }
        let text = BASE.replace(
            "kind = \"poisson\"\nrate_per_s = 50.0",
            "kind = \"trace\"\npath = \"/dev/zero\"",
        );
        // A 1 MiB cap keeps the test quick (the cap is per process; nextest runs each test in
        // its own, and no other test reads a file this large).
        crate::input::set_max_input_bytes(1 << 20);
        let err = Scenario::parse(&text, "t.toml", Path::new("."))
            .unwrap()
            .resolve()
            .unwrap_err();
        crate::input::set_max_input_bytes(0);
        assert_eq!(err.field, "workload.path");
        assert!(err.message.contains("input size cap"), "{err}");
    }

    #[test]
    fn a_run_of_billions_of_arrivals_is_refused_with_its_count() {
        let text = BASE.replace("rate_per_s = 50.0", "rate_per_s = 4294967296");
        let text = text.replace("duration = \"2s\"", "duration = \"3s\"");
        let resolved = Scenario::parse(&text, "t.toml", Path::new("."))
            .unwrap()
            .resolve()
            .unwrap();
        let n = resolved.expected_arrivals().unwrap();
        assert!((n - 3.0 * 4294967296.0).abs() < 1.0, "{n}");
        let err = resolved
            .check_expected_arrivals(MAX_EXPECTED_ARRIVALS)
            .unwrap_err();
        assert_eq!(err.field, "workload.rate_per_s");
        assert!(
            err.message.contains("1.288e10 arrivals") && err.message.contains("--force"),
            "{err}"
        );
        // run.max_requests bounds it.
        let bounded = text.replace("[run]\n", "[run]\nmax_requests = 1000\n");
        let resolved = Scenario::parse(&bounded, "t.toml", Path::new("."))
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(resolved.expected_arrivals(), Some(1000.0));
        assert!(
            resolved
                .check_expected_arrivals(MAX_EXPECTED_ARRIVALS)
                .is_ok()
        );
        // A huge max_requests is named as the cause.
        let many = BASE.replace("duration = \"2s\"", "max_requests = 5000000000");
        let resolved = Scenario::parse(&many, "t.toml", Path::new("."))
            .unwrap()
            .resolve()
            .unwrap();
        let err = resolved
            .check_expected_arrivals(MAX_EXPECTED_ARRIVALS)
            .unwrap_err();
        assert_eq!(err.field, "run.max_requests");
    }

    #[test]
    fn a_stage_may_be_a_model_file_next_to_the_scenario() {
        let dir = scratch("model-file");
        let net = crate::model::zoo::build_network("alexnet", &ZooOptions::default()).unwrap();
        let net = net.renamed("my_alexnet");
        std::fs::write(dir.join("mine.toml"), crate::model::file::write(&net)).unwrap();
        let text = BASE.replace("name = \"alexnet\"", "stages = [\"mine.toml\"]");
        let mine = Scenario::parse(&text, "t.toml", &dir)
            .unwrap()
            .resolve()
            .unwrap();
        let zoo = Scenario::parse(BASE, "t.toml", &dir)
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(mine.app_name, "my_alexnet");
        assert_eq!(mine.models[0].operators, zoo.models[0].operators);
        assert_eq!(mine.isolated_latency, zoo.isolated_latency);
        assert_eq!(
            mine.model_sources,
            [ModelSource::File(dir.join("mine.toml"))]
        );

        let missing = BASE.replace("name = \"alexnet\"", "stages = [\"nope.toml\"]");
        let err = Scenario::parse(&missing, "t.toml", &dir)
            .unwrap()
            .resolve()
            .unwrap_err();
        assert_eq!(err.field, "app.stages");
        assert!(err.message.contains("nope.toml"), "{err}");

        let unknown = BASE.replace("name = \"alexnet\"", "stages = [\"alexnett\"]");
        let err = Scenario::parse(&unknown, "t.toml", &dir)
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(err.message.contains(".toml or .onnx"), "{err}");

        let sized = format!("{}\n", text.replace("[slo]", "generated_tokens = 4\n[slo]"));
        let err = Scenario::parse(&sized, "t.toml", &dir)
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(err.message.contains("fixed shapes"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
