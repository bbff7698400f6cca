//! INFless (Yang et al., ASPLOS'22; source github.com/TankLabTJU/INFless): whole-model
//! instances with built-in batching, a resource configuration chosen per instance, greedy
//! scale-up covering the arrival rate, and LSTH keep-alive / pre-warming.
//!
//! Mapping onto the simulator (REFERENCE.md §2 summarises the source and the paper):
//! - **Functions.** Each model of the app is one function, deployed whole (no cuts); a stage's
//!   latency budget is its share of the SLO ([`super::stage_slo_budgets`]).
//! - **Configurations** ([`config`]): batch (powers of two from `max_batch` down), CPU threads
//!   (→ `cpu_cores`), GPU percent (an expected share; see the `config` module on how the MPS
//!   dimension maps onto max-min GPU sharing), predicted by our cost model inflated by 10 %;
//!   t_exec ≤ SLO/2 with batching, ≤ SLO at batch 1; r_up = b/t_exec, r_low = b/(SLO − t_exec),
//!   batch timeout = SLO − t_exec. The simulator's batch timeout bounds the wait of the oldest
//!   queued request, then the batch runs with what has arrived — INFless's batch queue does the
//!   same, so a request waits at most SLO − t_exec and completes within the budget when an
//!   instance is free. DLAs are not used: INFless's resource model knows CPU threads and GPU
//!   SMs only.
//! - **Control loop.** The policy ticks at the dispatcher's period (1 s, `handlers/deploy.go`:
//!   lottery weights every second), where it updates LSTH, starts an instance for a function
//!   with requests and none (the gateway's path at zero scale), and applies keep-alive and
//!   pre-warming. Every `scale_interval` (10 s, the source's monitor loop) it compares the
//!   function's arrival rate R over that interval with R_max = Σ r_up and R_min = Σ r_low of its
//!   instances and acts in one of three regimes (paper §4.3, α = 0.8, [`Regime`]): above R_max
//!   (by more than 3 % of R, `deploy.go`'s virtual-pod test) it scales up greedily
//!   ([`config::scale_up`]); between αR_min + (1−α)R_max and R_max the instances share the load
//!   (INFless's dispatcher weights r_i; our data plane's shared queue is work-conserving, so
//!   nothing is done); below, after `inactive_periods` consecutive periods (the source deletes
//!   pods idle for `inactiveNum` = 3 ticks), it releases instances while the rest still cover R.
//!   The release never removes a function's last instance: that is LSTH's decision.
//! - **Memory.** Before each ScaleOut what the instance adds — its footprint beyond what its
//!   serving process already holds ([`crate::serving::process::Census`]: the whole footprint
//!   under INFless's process per instance) — is checked against the free unified memory of the
//!   observation, less what this tick already asked for.
//! - **Processes.** A process (an OpenFaaS container) per instance
//!   ([`ProcessLayout::PerInstance`]); `process_layout` overrides it.

pub mod config;
pub mod lsth;

use serde::{Deserialize, Serialize};

use crate::serving::ProcessLayout;
use crate::serving::process::Census;
use crate::serving::transport::TransportKind;

use self::config::{Capacity, ResourceConfig, SearchParams, Usage};
use self::lsth::{Lsth, LsthSpec};
use super::{Action, Deployment, InstancePlan, Observation, Policy, PolicyContext};
use crate::hardware::profile::DeviceProfile;
use crate::model::Operator;
use crate::model::cost;
use crate::model::runtime::RuntimeProfile;
use crate::time::{SimDuration, SimTime};
use crate::units::TimeSpan;

/// Parameters of `[policy] kind = "infless"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfLessSpec {
    /// Largest batch; the search tries powers of two from it down to 1 (16: the batch group
    /// `{16, 8, 4, 2, 1}` of INFless's own test driver; its deploy default is 1).
    #[serde(default = "default_max_batch")]
    pub max_batch: u32,
    /// Inflation of predicted execution times (paper §4: the operator profile errs by about
    /// 10 %, so predictions are inflated by 10 %).
    #[serde(default = "default_prediction_margin")]
    pub prediction_margin: f64,
    /// Largest GPU share tried, percent (`estimator.go`: from 50 % down). Shares are
    /// reservations (Σ ≤ 100 %), so the default lets two GPU instances share the GPU, and
    /// max-min sharing then gives each busy one at least the share it was predicted with. A
    /// Jetson GPU is small (8 SMs on Xavier) and a heavy model may need more than 50 % to meet
    /// a batched budget; 100 lets one instance reserve it whole (INFless's CRE prefers
    /// configurations that leave little fragment, so it then tends to take it all). 0:
    /// CPU-only instances.
    #[serde(default = "default_gpu_percent_max")]
    pub gpu_percent_max: u32,
    /// Step and smallest GPU share, percent (`estimator.go`: 10).
    #[serde(default = "default_gpu_percent_step")]
    pub gpu_percent_step: u32,
    /// Capacity weight of one CPU thread in the CRE score, GFLOPs (`scheduler.go`: 64).
    #[serde(default = "default_cpu_weight")]
    pub cpu_gflops_per_thread: f64,
    /// Capacity weight of one GPU percent in the CRE score, GFLOPs (`scheduler.go`: 142).
    #[serde(default = "default_gpu_weight")]
    pub gpu_gflops_per_percent: f64,
    /// α of the load regimes (paper §4.3: 0.8).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Scale up when the uncovered rate exceeds this fraction of the arrival rate
    /// (`handlers/deploy.go`: virtual-pod lottery / real RPS > 0.03).
    #[serde(default = "default_scale_up_threshold")]
    pub scale_up_threshold: f64,
    /// Consecutive scaling periods in the release regime before releasing
    /// (`deploy.go`: `inactiveNum`, default 3).
    #[serde(default = "default_inactive_periods")]
    pub inactive_periods: u32,
    /// Most instances per function (OpenFaaS/INFless default max replicas: 20).
    #[serde(default = "default_max_instances")]
    pub max_instances: u32,
    /// Period of the scaling decisions (`deploy.go` monitor loop: 10 s).
    #[serde(default = "default_scale_interval")]
    pub scale_interval: TimeSpan,
    /// Period of the dispatcher: LSTH updates, keep-alive, pre-warm, start from zero (1 s).
    #[serde(default = "default_dispatch_interval")]
    pub dispatch_interval: TimeSpan,
    /// The LSTH keep-alive / pre-warm parameters.
    #[serde(default)]
    pub lsth: LsthSpec,
    /// How instances are grouped into serving processes: `"per_instance"`, `"per_partition"`
    /// or `"per_app"` ([`ProcessLayout`]). Default: INFless's own, `per_instance` (a container
    /// per instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_layout: Option<ProcessLayout>,
}

fn default_max_batch() -> u32 {
    16
}
fn default_prediction_margin() -> f64 {
    0.1
}
fn default_gpu_percent_max() -> u32 {
    50
}
fn default_gpu_percent_step() -> u32 {
    10
}
fn default_cpu_weight() -> f64 {
    64.0
}
fn default_gpu_weight() -> f64 {
    142.0
}
fn default_alpha() -> f64 {
    0.8
}
fn default_scale_up_threshold() -> f64 {
    0.03
}
fn default_inactive_periods() -> u32 {
    3
}
fn default_max_instances() -> u32 {
    20
}
fn default_scale_interval() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(10))
}
fn default_dispatch_interval() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(1))
}

impl Default for InfLessSpec {
    fn default() -> Self {
        InfLessSpec {
            max_batch: default_max_batch(),
            prediction_margin: default_prediction_margin(),
            gpu_percent_max: default_gpu_percent_max(),
            gpu_percent_step: default_gpu_percent_step(),
            cpu_gflops_per_thread: default_cpu_weight(),
            gpu_gflops_per_percent: default_gpu_weight(),
            alpha: default_alpha(),
            scale_up_threshold: default_scale_up_threshold(),
            inactive_periods: default_inactive_periods(),
            max_instances: default_max_instances(),
            scale_interval: default_scale_interval(),
            dispatch_interval: default_dispatch_interval(),
            lsth: LsthSpec::default(),
            process_layout: None,
        }
    }
}

impl InfLessSpec {
    /// Checks the parameters; the error is (field below `policy.`, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
        if self.max_batch == 0 {
            return bad("max_batch", "must be at least 1");
        }
        if !(self.prediction_margin.is_finite() && self.prediction_margin >= 0.0) {
            return bad("prediction_margin", "must be ≥ 0 (INFless: 0.1)");
        }
        if self.gpu_percent_max > 100 {
            return bad("gpu_percent_max", "must be between 0 and 100");
        }
        if self.gpu_percent_step == 0 || self.gpu_percent_step > 100 {
            return bad(
                "gpu_percent_step",
                "must be between 1 and 100 (INFless: 10)",
            );
        }
        if !(self.cpu_gflops_per_thread.is_finite() && self.cpu_gflops_per_thread > 0.0) {
            return bad("cpu_gflops_per_thread", "must be > 0 (INFless: 64)");
        }
        if !(self.gpu_gflops_per_percent.is_finite() && self.gpu_gflops_per_percent > 0.0) {
            return bad("gpu_gflops_per_percent", "must be > 0 (INFless: 142)");
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            return bad("alpha", "must be between 0 and 1 (INFless: 0.8)");
        }
        if !(self.scale_up_threshold.is_finite() && self.scale_up_threshold >= 0.0) {
            return bad("scale_up_threshold", "must be ≥ 0 (INFless: 0.03)");
        }
        if self.inactive_periods == 0 {
            return bad("inactive_periods", "must be at least 1 (INFless: 3)");
        }
        if self.max_instances == 0 {
            return bad("max_instances", "must be at least 1 (INFless: 20)");
        }
        if self.dispatch_interval.0 == SimDuration::ZERO {
            return bad("dispatch_interval", "must be longer than zero, e.g. \"1s\"");
        }
        if self.scale_interval.0 < self.dispatch_interval.0 {
            return bad(
                "scale_interval",
                "must be at least dispatch_interval (INFless: 10s and 1s)",
            );
        }
        self.lsth
            .validate()
            .map_err(|(f, m)| (format!("lsth.{f}"), m))
    }

    fn search_params(&self) -> SearchParams {
        SearchParams {
            max_batch: self.max_batch,
            prediction_margin: self.prediction_margin,
            gpu_percent_max: self.gpu_percent_max,
            gpu_percent_step: self.gpu_percent_step,
        }
    }
}

/// The load regime of a function (paper §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// R > R_max (by more than the scale-up threshold): add instances.
    Add,
    /// αR_min + (1−α)R_max ≤ R ≤ R_max (or just above, within the threshold): share the load.
    Share,
    /// R < αR_min + (1−α)R_max: release instances.
    Release,
}

/// Classifies the arrival rate `r` against the instances' bounds `r_min` = Σ r_low and
/// `r_max` = Σ r_up. `threshold`: the uncovered rate must exceed this fraction of `r` to add.
pub fn regime(r: f64, r_min: f64, r_max: f64, alpha: f64, threshold: f64) -> Regime {
    if r > r_max && r - r_max > threshold * r {
        Regime::Add
    } else if r < alpha * r_min + (1.0 - alpha) * r_max {
        Regime::Release
    } else {
        Regime::Share
    }
}

/// The rate instance `i` is given in the share regime (paper §4.3):
/// r_i = r_up − (R_max − R)/(R_max − R_min)·(r_up − r_low). Our data plane's shared queue is
/// work-conserving and does not take weights; this is what INFless's dispatcher would assign.
pub fn proportional_share(config: &ResourceConfig, r: f64, r_min: f64, r_max: f64) -> f64 {
    if r_max <= r_min {
        return config.r_up;
    }
    config.r_up - (r_max - r) / (r_max - r_min) * (config.r_up - config.r_low)
}

/// What the policy knows of one function (one app stage).
#[derive(Clone, Debug)]
struct Function {
    ops: Vec<Operator>,
    /// Configurations meeting the stage budget, per supported batch, largest batch first.
    candidates: Vec<Vec<ResourceConfig>>,
    /// Configuration to use when none meets the budget: batch 1, fastest.
    fallback: Option<ResourceConfig>,
    /// The function's instances (accepting), oldest first.
    instances: Vec<ResourceConfig>,
    /// Arrivals since the last scaling decision.
    period_arrivals: u64,
    /// Consecutive scaling periods in the release regime.
    release_streak: u32,
    lsth: Lsth,
    /// End of the last dispatcher window with arrivals (or the deployment).
    last_active: SimTime,
    /// Idle time accumulated since then (the gap being measured).
    idle: SimDuration,
    /// Whether the function has been invoked (the first gap has no start).
    seen: bool,
}

impl Function {
    fn bounds(&self) -> (f64, f64) {
        let r_min = self.instances.iter().map(|c| c.r_low).sum();
        let r_max = self.instances.iter().map(|c| c.r_up).sum();
        (r_min, r_max)
    }
}

/// The INFless policy.
#[derive(Clone, Debug)]
pub struct InfLessPolicy {
    spec: InfLessSpec,
    device: Option<DeviceProfile>,
    /// The runtime that drives the GPU, once deployed.
    runtime: Option<RuntimeProfile>,
    functions: Vec<Function>,
    capacity: Capacity,
    last_scale: SimTime,
    /// Live instances per function and accelerator: at a tick the observed ones plus those this
    /// tick asked for.
    census: Census,
}

impl InfLessPolicy {
    /// A policy with these parameters.
    pub fn new(spec: InfLessSpec) -> Self {
        let capacity = Capacity {
            cpu_threads: 1,
            cpu_weight: spec.cpu_gflops_per_thread,
            gpu_weight: spec.gpu_gflops_per_percent,
        };
        InfLessPolicy {
            spec,
            device: None,
            runtime: None,
            functions: Vec::new(),
            capacity,
            last_scale: SimTime::ZERO,
            census: Census::default(),
        }
    }

    /// The instances the policy believes each function has, oldest first.
    pub fn instances(&self, function: usize) -> &[ResourceConfig] {
        &self.functions[function].instances
    }

    /// Memory one more instance of function `f` with configuration `c` adds, with `placed`
    /// instances of `f` already asked for this tick: its footprint beyond what its serving
    /// process holds.
    fn footprint(&self, f: usize, c: &ResourceConfig, placed: &[ResourceConfig]) -> u64 {
        match (&self.device, &self.runtime) {
            (Some(d), Some(r)) => {
                let more = placed
                    .iter()
                    .filter(|p| p.accelerator == c.accelerator)
                    .count() as u32;
                let resident = self.census.residency_with(f, c.accelerator, more);
                cost::footprint(
                    &self.functions[f].ops,
                    c.batch,
                    c.accelerator,
                    cost::Target::new(d, r),
                )
                .marginal(resident)
            }
            _ => 0,
        }
    }

    fn usage(&self, free_memory_bytes: u64) -> Usage {
        let mut u = Usage {
            free_memory_bytes,
            ..Default::default()
        };
        for c in self.functions.iter().flat_map(|f| &f.instances) {
            u.cpu_threads += c.cpu_threads;
            u.gpu_percent += c.gpu_percent;
        }
        u
    }

    /// Greedy scale-up of function `f` by `residual_rps`; records and returns the new
    /// instances' actions. Falls back to the fastest batch-1 configuration when the function
    /// has none at all and no configuration meets its budget.
    fn grow(&mut self, f: usize, residual_rps: f64, usage: &mut Usage, actions: &mut Vec<Action>) {
        let room =
            (self.spec.max_instances as usize).saturating_sub(self.functions[f].instances.len());
        let func = &self.functions[f];
        let mut placed = config::scale_up(
            residual_rps,
            &func.candidates,
            usage,
            &self.capacity,
            room,
            |c, placed| self.footprint(f, c, placed),
        );
        if placed.is_empty()
            && func.instances.is_empty()
            && let Some(fb) = func.fallback
        {
            let bytes = self.footprint(f, &fb, &[]);
            if bytes <= usage.free_memory_bytes {
                usage.free_memory_bytes -= bytes;
                usage.cpu_threads += fb.cpu_threads;
                usage.gpu_percent += fb.gpu_percent;
                placed.push(fb);
            }
        }
        for c in placed {
            self.census.add(f, c.accelerator);
            actions.push(Action::ScaleOut {
                partition: f,
                accelerator: c.accelerator,
                config: c.instance_config(),
            });
            self.functions[f].instances.push(c);
        }
    }

    /// Retires function `f`'s youngest instance on `accelerator` — the one the simulation
    /// retires — and forgets it.
    fn shrink_at(&mut self, f: usize, accelerator: usize, actions: &mut Vec<Action>) {
        let inst = &mut self.functions[f].instances;
        if let Some(pos) = inst.iter().rposition(|c| c.accelerator == accelerator) {
            inst.remove(pos);
            actions.push(Action::ScaleIn {
                partition: f,
                accelerator,
            });
        }
    }

    /// Forgets instances the simulation does not have (a ScaleOut refused for memory), youngest
    /// first per accelerator.
    fn reconcile(&mut self, obs: &Observation) {
        for (f, func) in self.functions.iter_mut().enumerate() {
            let Some(p) = obs.partitions.get(f) else {
                continue;
            };
            for (a, &n) in p.instances.iter().enumerate() {
                let mut mine = func.instances.iter().filter(|c| c.accelerator == a).count();
                while mine > n as usize {
                    if let Some(pos) = func.instances.iter().rposition(|c| c.accelerator == a) {
                        func.instances.remove(pos);
                    }
                    mine -= 1;
                }
            }
        }
    }

    /// The release regime: retire instances while the rest still cover `r` and the regime
    /// holds, never the last one. The victim is, among the youngest instance of each
    /// accelerator (what a ScaleIn retires), the one of least r_up (our choice: the source
    /// deletes pods whose lottery weight stayed zero, which the dispatcher gives to the least
    /// useful ones).
    fn release(&mut self, f: usize, r: f64, actions: &mut Vec<Action>) {
        loop {
            let func = &self.functions[f];
            let (r_min, r_max) = func.bounds();
            if func.instances.len() <= 1
                || regime(
                    r,
                    r_min,
                    r_max,
                    self.spec.alpha,
                    self.spec.scale_up_threshold,
                ) != Regime::Release
            {
                return;
            }
            let mut victim: Option<(f64, usize)> = None;
            let mut accels: Vec<usize> = func.instances.iter().map(|c| c.accelerator).collect();
            accels.sort_unstable();
            accels.dedup();
            for a in accels {
                let Some(c) = func.instances.iter().rev().find(|c| c.accelerator == a) else {
                    continue;
                };
                if r_max - c.r_up >= r && victim.is_none_or(|(u, _)| c.r_up < u) {
                    victim = Some((c.r_up, a));
                }
            }
            let Some((_, a)) = victim else { return };
            self.shrink_at(f, a, actions);
        }
    }

    fn release_all(&mut self, f: usize, actions: &mut Vec<Action>) {
        while let Some(c) = self.functions[f].instances.last().copied() {
            self.shrink_at(f, c.accelerator, actions);
        }
    }
}

impl Policy for InfLessPolicy {
    fn name(&self) -> &'static str {
        "infless"
    }

    /// A process per instance: INFless runs every instance as an OpenFaaS function container.
    fn process_layout(&self) -> ProcessLayout {
        self.spec
            .process_layout
            .unwrap_or(ProcessLayout::PerInstance)
    }

    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        let device = ctx.device.clone();
        let target = ctx.target();
        let budgets = super::stage_slo_budgets(ctx);
        let params = self.spec.search_params();
        let batches = config::supported_batches(self.spec.max_batch);
        self.capacity.cpu_threads = device.accelerators[device.cpu()].cores.max(1);
        let no_gpu = SearchParams {
            gpu_percent_max: 0,
            ..params
        };
        self.functions = ctx
            .models
            .iter()
            .zip(&budgets)
            .map(|(model, &budget)| {
                let ops = model.operators.clone();
                let candidates: Vec<Vec<ResourceConfig>> = batches
                    .iter()
                    .map(|&b| config::configs_with_batch(&ops, target, budget, b, &params))
                    .collect();
                // Fallback when the budget is out of reach: batch 1 without a budget, fastest.
                let unbounded = SimDuration::from_ns(u64::MAX / 4);
                let search = if params.gpu_percent_max > 0 {
                    &params
                } else {
                    &no_gpu
                };
                let fallback = config::configs_with_batch(&ops, target, unbounded, 1, search)
                    .into_iter()
                    .min_by_key(|c| c.exec)
                    .map(|c| ResourceConfig {
                        batch_timeout: SimDuration::ZERO,
                        ..c
                    });
                Function {
                    ops,
                    candidates,
                    fallback,
                    instances: Vec::new(),
                    period_arrivals: 0,
                    release_streak: 0,
                    lsth: Lsth::new(self.spec.lsth.clone()),
                    last_active: SimTime::ZERO,
                    idle: SimDuration::ZERO,
                    seen: false,
                }
            })
            .collect();
        self.device = Some(device);
        self.runtime = Some(ctx.runtime.clone());
        self.census = Census::new(self.process_layout(), Vec::new());
        // One pre-warmed instance per function (scheduler.go::CreatePreWarmPod: the config of
        // highest CRE for a residual of 1 RPS).
        let mut actions = Vec::new();
        let mut usage = self.usage(ctx.memory_limit_bytes);
        for f in 0..self.functions.len() {
            self.grow(f, 1.0, &mut usage, &mut actions);
        }
        let instances = actions
            .into_iter()
            .filter_map(|a| match a {
                Action::ScaleOut {
                    partition,
                    accelerator,
                    config,
                } => Some(InstancePlan {
                    partition,
                    accelerator,
                    config,
                }),
                _ => None,
            })
            .collect();
        Deployment {
            cuts: vec![Vec::new(); ctx.models.len()],
            instances,
            // INFless is built on OpenFaaS (REFERENCE.md §2: modified faas-netes, faas-cli and
            // gateway): the functions of an application call each other through the gateway over
            // HTTP with serialised payloads; it has no shared-memory data plane.
            transport: TransportKind::Http,
            ..Default::default()
        }
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        Some(self.spec.dispatch_interval.0)
    }

    fn on_tick(&mut self, obs: &Observation, actions: &mut Vec<Action>) {
        let now = obs.now;
        self.reconcile(obs);
        self.census = obs.census(self.process_layout());
        let mut usage = self.usage(obs.memory_limit_bytes.saturating_sub(obs.memory_used_bytes));
        let window_s = obs.window.as_secs_f64().max(1e-9);

        // Dispatcher period: LSTH, start from zero, keep-alive and pre-warm.
        for f in 0..self.functions.len() {
            let Some(p) = obs.partitions.get(f) else {
                continue;
            };
            let arrivals = p.window_arrivals;
            let quiet = p.queued == 0 && p.in_service == 0;
            let func = &mut self.functions[f];
            func.period_arrivals += arrivals;
            if arrivals > 0 {
                // One idle time before this window's first request (what accumulated, 0 if the
                // previous window was active) and arrivals − 1 gaps shorter than the window.
                if func.seen {
                    func.lsth.record(now, func.idle, 1);
                }
                func.lsth.record(now, SimDuration::ZERO, arrivals - 1);
                func.seen = true;
                func.idle = SimDuration::ZERO;
                func.last_active = now;
            } else {
                func.idle += obs.window;
                func.lsth.expire(now);
            }
            if func.instances.is_empty() && (arrivals > 0 || p.queued > 0) {
                let rate = (arrivals as f64 / window_s).max(1.0);
                self.grow(f, rate, &mut usage, actions);
                continue;
            }
            if arrivals > 0 || !quiet {
                continue;
            }
            let func = &self.functions[f];
            let idle = now.saturating_since(func.last_active);
            let w = func.lsth.windows();
            let has = !func.instances.is_empty();
            if idle >= w.keep_alive || (w.prewarm > SimDuration::ZERO && idle < w.prewarm) {
                // Past the keep-alive, or inside the pre-warm window: unloaded (HHP).
                if has {
                    self.release_all(f, actions);
                }
            } else if !has {
                // Pre-warm: idle ≥ pre-warm and < keep-alive.
                self.grow(f, 1.0, &mut usage, actions);
            }
        }

        // Scaling period: the three regimes.
        let period = now.saturating_since(self.last_scale);
        if period < self.spec.scale_interval.0 {
            return;
        }
        self.last_scale = now;
        let period_s = period.as_secs_f64().max(1e-9);
        for f in 0..self.functions.len() {
            let r = std::mem::take(&mut self.functions[f].period_arrivals) as f64 / period_s;
            let func = &self.functions[f];
            if func.instances.is_empty() {
                continue; // zero scale: the dispatcher path above starts it
            }
            let (r_min, r_max) = func.bounds();
            match regime(
                r,
                r_min,
                r_max,
                self.spec.alpha,
                self.spec.scale_up_threshold,
            ) {
                Regime::Add => {
                    self.functions[f].release_streak = 0;
                    self.grow(f, r - r_max, &mut usage, actions);
                }
                Regime::Share => self.functions[f].release_streak = 0,
                Regime::Release => {
                    let func = &mut self.functions[f];
                    func.release_streak += 1;
                    if func.release_streak >= self.spec.inactive_periods {
                        func.release_streak = 0;
                        self.release(f, r, actions);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
