//! InfScaler (Li et al.): bottleneck-aware partitioning (§IV-A, Eq. 1), asymmetric auto-scaling
//! across accelerators (Algorithm 1), and token-based zero-copy tensor sharing over unified
//! memory (§IV-B), which this policy selects and the data plane carries out.
//!
//! Deploy: every stage's model is partitioned with its share of the SLO
//! ([`super::stage_slo_budgets`]); each partition gets one instance on the first accelerator
//! of its affinity order whose memory fits; tensors pass as zero-copy tokens over the chosen
//! control path. Each tick (`tick_interval`): detection → Algorithm 1 → at most one
//! [`Action::ScaleOut`]; otherwise, after a calm run, at most one [`Action::ScaleIn`]. See
//! [`partitioner`], [`affinity`] and [`autoscaler`] for the design where the paper is silent.
//!
//! Batching: instances serve batches of `max_batch` (default 1). The paper describes no
//! batching for InfScaler (batching is what it credits INFless with), so the default is none.

pub mod affinity;
pub mod autoscaler;
pub mod partitioner;

use serde::{Deserialize, Serialize};

use self::affinity::PartitionProfile;
pub use self::affinity::ResourceShare;
use self::autoscaler::{Autoscaler, Detector, DetectorParams, Resources, Usage, Verdict};
use super::{Action, Deployment, InstancePlan, Observation, Policy, PolicyContext};
use crate::model::{Model, cost, partition};
use crate::serving::process::Census;
use crate::serving::transport::{ControlPath, TransportKind};
use crate::serving::{InstanceConfig, ProcessLayout};
use crate::time::SimDuration;
use crate::units::TimeSpan;

/// What the operator complexity c_n of Eq. 1 (and so B_k) is measured in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Complexity {
    /// FLOPs per sample (the paper's default: "computation complexity").
    #[default]
    Flops,
    /// The cost model's predicted time of the operator on the model's fastest accelerator,
    /// standing in for the measured execution time the paper's profiler may use (§III-B:
    /// "profiles for detailed performance metrics (e.g., FLOPs, execution time)").
    PredictedTime,
}

/// Parameters of `[policy] kind = "infscaler"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfScalerSpec {
    /// How zero-copy tokens travel: `"ebpf"` (the paper's design) or `"user_space"` (the
    /// paper's "INFSCALER–" of Fig. 6).
    #[serde(default)]
    pub control_path: ControlPath,
    /// Upper bound on the partitions per model (default [`partitioner::DEFAULT_MAX_PARTITIONS`]).
    /// Eq. 1 alone drives K up to the number of representative operators (σ of a singleton is
    /// 0), which the SLO slack rarely stops: set a large value to see that.
    #[serde(
        default = "default_max_partitions",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_partitions: Option<usize>,
    /// Operator complexity for partitioning and bottleneck indicators.
    #[serde(default)]
    pub complexity: Complexity,
    /// How often the auto-scaler looks (the paper gives no period). Default 1 s, the metric
    /// bucket of Knative's autoscaler (REFERENCE.md §1), the finest period serving systems use.
    #[serde(default = "default_tick")]
    pub tick_interval: TimeSpan,
    /// A window with fewer than this fraction of its finished requests within the SLO is an SLO
    /// unsatisfaction. Default 0.99: the window's p99 latency within the SLO.
    #[serde(default = "default_attainment")]
    pub attainment_target: f64,
    /// Ignore a violated window whose backlog shrank (capacity already exceeds demand).
    #[serde(default = "yes")]
    pub ignore_while_draining: bool,
    /// Leave out of a partition's affinity order the accelerators on which it alone misses its
    /// share of the SLO (the fastest is always kept).
    #[serde(default = "yes")]
    pub latency_fit: bool,
    /// Target utilisation ρ of an instance: the cap on its expected busy fraction in r_k^m (see
    /// [`affinity`]). Default 0.7: Knative's target utilisation of a replica
    /// (container-concurrency-target-percentage 70, REFERENCE.md §1).
    #[serde(default = "default_instance_utilization")]
    pub instance_utilization: f64,
    /// How r_k^m, the compute share one instance is expected to use, is read (Algorithm 1 line
    /// 4): `"reserved"` (default: w_k^m × ρ per instance, whatever the load) or `"load_share"`
    /// (w_k^m × min(ρ, λ_k·A_k^m/S_k), which shrinks as instances are added, so the check
    /// never binds once load is spread; the reading before December 2026). See [`affinity`].
    #[serde(default)]
    pub resource_share: ResourceShare,
    /// R^m for compute: the cap on the summed expected compute shares on each accelerator.
    /// Default 1: the accelerator's whole capacity.
    #[serde(default = "default_compute_cap")]
    pub compute_cap: f64,
    /// R for memory: fraction of the usable unified memory instances may fill. Default 0.9:
    /// headroom for tensors in flight and lazily allocated sharing regions (assumed; no source).
    #[serde(default = "default_memory_cap")]
    pub memory_cap: f64,
    /// Consecutive calm windows before one scale-in. Default 30 (30 s at 1 s ticks, Knative's
    /// scale-to-zero grace period, REFERENCE.md §1).
    #[serde(default = "default_scale_in_windows")]
    pub scale_in_windows: u32,
    /// A partition may lose an instance only if its mean concurrency over the window, spread
    /// over one instance fewer, stays below this. Default 0.5 (assumed; below `instance_utilization`
    /// so that a scale-in does not bring back the load that scales out).
    #[serde(default = "default_scale_in_utilization")]
    pub scale_in_utilization: f64,
    /// Largest batch an instance forms. Default 1: the paper does not batch.
    #[serde(default = "one")]
    pub max_batch: u32,
    /// Longest wait of the oldest queued request for a batch to fill.
    #[serde(default = "zero")]
    pub batch_timeout: TimeSpan,
    /// CPU cores an instance holds.
    #[serde(default = "one")]
    pub cpu_cores: u32,
    /// How instances are grouped into serving processes: `"per_instance"`, `"per_partition"`
    /// or `"per_app"` ([`ProcessLayout`]). Default: InfScaler's own, `per_instance` (see
    /// [`InfScalerPolicy::process_layout`](Policy::process_layout)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_layout: Option<ProcessLayout>,
}

fn default_tick() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(1))
}
fn default_attainment() -> f64 {
    0.99
}
fn yes() -> bool {
    true
}
fn default_instance_utilization() -> f64 {
    0.7
}
fn default_compute_cap() -> f64 {
    1.0
}
fn default_memory_cap() -> f64 {
    0.9
}
fn default_scale_in_windows() -> u32 {
    30
}
fn default_scale_in_utilization() -> f64 {
    0.5
}
fn one() -> u32 {
    1
}
fn zero() -> TimeSpan {
    TimeSpan(SimDuration::ZERO)
}

fn default_max_partitions() -> Option<usize> {
    Some(partitioner::DEFAULT_MAX_PARTITIONS)
}

impl Default for InfScalerSpec {
    fn default() -> Self {
        InfScalerSpec {
            control_path: ControlPath::Ebpf,
            max_partitions: default_max_partitions(),
            complexity: Complexity::Flops,
            tick_interval: default_tick(),
            attainment_target: default_attainment(),
            ignore_while_draining: true,
            latency_fit: true,
            instance_utilization: default_instance_utilization(),
            resource_share: ResourceShare::default(),
            compute_cap: default_compute_cap(),
            memory_cap: default_memory_cap(),
            scale_in_windows: default_scale_in_windows(),
            scale_in_utilization: default_scale_in_utilization(),
            max_batch: 1,
            batch_timeout: zero(),
            cpu_cores: 1,
            process_layout: None,
        }
    }
}

impl InfScalerSpec {
    /// Checks the parameters; the error is (field below `policy.`, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
        let fraction = |x: f64| x.is_finite() && x > 0.0 && x <= 1.0;
        if self.max_partitions == Some(0) {
            return err(
                "max_partitions",
                "must be at least 1 (a large number leaves only the SLO to bound K)",
            );
        }
        if self.tick_interval.0 == SimDuration::ZERO {
            return err("tick_interval", "must be more than 0, e.g. \"1s\"");
        }
        if !fraction(self.attainment_target) {
            return err("attainment_target", "must be in (0, 1], e.g. 0.99");
        }
        if !fraction(self.instance_utilization) {
            return err("instance_utilization", "must be in (0, 1], e.g. 0.7");
        }
        if !(self.compute_cap.is_finite() && self.compute_cap > 0.0) {
            return err("compute_cap", "must be a positive share, e.g. 1.0");
        }
        if !fraction(self.memory_cap) {
            return err("memory_cap", "must be in (0, 1], e.g. 0.9");
        }
        if self.scale_in_windows == 0 {
            return err("scale_in_windows", "must be at least 1");
        }
        if !fraction(self.scale_in_utilization) {
            return err("scale_in_utilization", "must be in (0, 1], e.g. 0.5");
        }
        if self.max_batch == 0 {
            return err("max_batch", "must be at least 1");
        }
        if self.cpu_cores == 0 {
            return err("cpu_cores", "must be at least 1");
        }
        Ok(())
    }

    fn instance_config(&self) -> InstanceConfig {
        InstanceConfig {
            max_batch: self.max_batch,
            batch_timeout: self.batch_timeout.0,
            cpu_cores: self.cpu_cores,
            compute_share: 1.0,
        }
    }
}

/// The InfScaler policy.
#[derive(Clone, Debug)]
pub struct InfScalerPolicy {
    spec: InfScalerSpec,
    profiles: Vec<PartitionProfile>,
    autoscaler: Autoscaler,
    detector: Detector,
}

impl InfScalerPolicy {
    /// A policy with these parameters.
    pub fn new(spec: InfScalerSpec) -> Self {
        InfScalerPolicy {
            spec,
            profiles: Vec::new(),
            autoscaler: Autoscaler::new(Vec::new()),
            detector: Detector::default(),
        }
    }

    /// The partitions of the last deployment, global order, with their affinity and resource
    /// use.
    pub fn profiles(&self) -> &[PartitionProfile] {
        &self.profiles
    }

    /// Algorithm 1's state: B_k and S_k.
    pub fn autoscaler(&self) -> &Autoscaler {
        &self.autoscaler
    }

    /// The partitions (cuts per stage, their profiles) with at most `max_partitions` per stage,
    /// and one instance per partition on its best-affinity accelerator with memory left; whether
    /// every one of those fits in memory.
    fn plan(
        &self,
        ctx: &PolicyContext<'_>,
        max_partitions: Option<usize>,
    ) -> (
        Vec<Vec<usize>>,
        Vec<PartitionProfile>,
        Vec<InstancePlan>,
        bool,
    ) {
        let budgets = super::stage_slo_budgets(ctx);
        let config = self.spec.instance_config();
        let mut cuts = Vec::with_capacity(ctx.models.len());
        let mut profiles = Vec::new();
        for (stage, model) in ctx.models.iter().enumerate() {
            let c = complexities(model, self.spec.complexity, ctx);
            let plan = partitioner::solve_with_complexities(
                model,
                &c,
                ctx,
                budgets[stage],
                max_partitions,
            );
            let is_rep = {
                let mut v = vec![false; c.len()];
                for &i in &plan.representative {
                    v[i] = true;
                }
                v
            };
            let ranges = partition::split(model.operators.len(), &plan.cuts)
                .expect("the partitioner's cuts are valid");
            let first = profiles.len();
            for ops in ranges {
                let (latency_ns, footprint, busy_share) =
                    affinity::profile_ops(&model.operators[ops.clone()], &config, ctx.target());
                let bottleneck = ops
                    .clone()
                    .filter(|&i| is_rep[i])
                    .map(|i| c[i] as f64)
                    .sum();
                profiles.push(PartitionProfile {
                    stage,
                    ops,
                    bottleneck,
                    latency_ns,
                    affinity: Vec::new(),
                    footprint,
                    busy_share,
                });
            }
            // Each partition's share of the stage budget, in proportion to its best latency.
            let best = |p: &PartitionProfile| p.latency_ns.iter().copied().min().unwrap_or(0);
            let total: u64 = profiles[first..].iter().map(best).sum::<u64>().max(1);
            for p in &mut profiles[first..] {
                let share = (budgets[stage].as_ns() as f64 * best(p) as f64 / total as f64) as u64;
                p.affinity =
                    affinity::affinity_order(&p.latency_ns, self.spec.latency_fit.then_some(share));
            }
            cuts.push(plan.cuts);
        }
        // One instance per partition on its best-affinity accelerator with memory left, each
        // costing what its serving process does not hold yet.
        let memory_cap = (ctx.memory_limit_bytes as f64 * self.spec.memory_cap) as u64;
        let mut used = 0u64;
        let mut fits = true;
        let mut census = Census::new(self.process_layout(), Vec::new());
        let mut instances = Vec::with_capacity(profiles.len());
        for (k, p) in profiles.iter().enumerate() {
            let adds = |m: usize| p.footprint[m].marginal(census.residency(k, m));
            let m = match p
                .affinity
                .iter()
                .copied()
                .find(|&m| used + adds(m) < memory_cap)
            {
                Some(m) => m,
                None => {
                    fits = false;
                    p.affinity[0]
                }
            };
            used += adds(m);
            census.add(k, m);
            instances.push(InstancePlan {
                partition: k,
                accelerator: m,
                config,
            });
        }
        (cuts, profiles, instances, fits)
    }

    /// Observed arrival rate of each partition over the window, per second.
    fn arrival_rates(&self, obs: &Observation) -> Vec<f64> {
        let secs = obs.window.as_secs_f64().max(1e-9);
        obs.partitions
            .iter()
            .map(|p| p.window_arrivals as f64 / secs)
            .collect()
    }

    /// U^m (the observed instances, each at its expected share) and memory in use, with caps.
    fn resources(&self, obs: &Observation, rates: &[f64]) -> Resources {
        let n = obs.accelerators.len();
        let rho = self.spec.instance_utilization;
        let mut compute_used = vec![0.0; n];
        for (k, p) in obs.partitions.iter().enumerate().take(self.profiles.len()) {
            let s = p.total_instances();
            for (m, &count) in p.instances.iter().enumerate().take(n) {
                compute_used[m] += f64::from(count)
                    * self.profiles[k].expected_share(
                        m,
                        rates[k],
                        s,
                        rho,
                        self.spec.resource_share,
                    );
            }
        }
        Resources {
            compute_used,
            compute_cap: vec![self.spec.compute_cap; n],
            memory_used: obs.memory_used_bytes,
            memory_cap: (obs.memory_limit_bytes as f64 * self.spec.memory_cap) as u64,
        }
    }

    /// One scale-in, if a partition qualifies.
    fn scale_in(&mut self, obs: &Observation) -> Option<Action> {
        let k = self.autoscaler.scale_in_candidate(|k| {
            let s = self.autoscaler.instances()[k];
            obs.partitions.get(k).is_some_and(|p| {
                p.window_mean_concurrency / f64::from(s - 1) < self.spec.scale_in_utilization
            })
        })?;
        let hosts = &obs.partitions[k].instances;
        let m = self.profiles[k]
            .full_order()
            .into_iter()
            .rev()
            .find(|&m| hosts.get(m).is_some_and(|&n| n > 0))?;
        self.autoscaler.scale_in(k);
        Some(Action::ScaleIn {
            partition: k,
            accelerator: m,
        })
    }
}

/// Per-operator complexities of `model` as `kind` measures them.
pub fn complexities(model: &Model, kind: Complexity, ctx: &PolicyContext<'_>) -> Vec<u64> {
    match kind {
        Complexity::Flops => model.operators.iter().map(|o| o.flops).collect(),
        Complexity::PredictedTime => {
            let (fastest, _) = partitioner::predicted_execution(model, ctx);
            let cores = ctx.device.accelerators[fastest].cores;
            model
                .operators
                .iter()
                .map(|o| {
                    cost::plan(std::slice::from_ref(o), 1, fastest, cores, ctx.target()).solo_ns()
                })
                .collect()
        }
    }
}

impl Policy for InfScalerPolicy {
    fn name(&self) -> &'static str {
        "infscaler"
    }

    /// A process per instance: the paper's Fig. 7 discussion counts a runtime per instance — "we
    /// also argue that this runtime overhead could be further reduced with the runtime sharing
    /// approaches \[24\], which we identify as the future direction of INFSCALER" — so today each
    /// scaled instance carries its own runtime. `process_layout` overrides it.
    fn process_layout(&self) -> ProcessLayout {
        self.spec
            .process_layout
            .unwrap_or(ProcessLayout::PerInstance)
    }

    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        // One instance per partition must fit in memory, or a partition has none and its
        // requests wait forever. Where it does not, partition into fewer (the paper is silent:
        // its boards fit its apps): cap K one below the largest K planned, down to 1.
        let mut cap = self.spec.max_partitions;
        let (cuts, profiles, instances) = loop {
            let (cuts, profiles, instances, fits) = self.plan(ctx, cap);
            let largest = cuts.iter().map(|c| c.len() + 1).max().unwrap_or(1);
            if fits || largest <= 1 {
                break (cuts, profiles, instances);
            }
            cap = Some(largest - 1);
        };
        self.autoscaler = Autoscaler::new(profiles.iter().map(|p| p.bottleneck).collect());
        self.profiles = profiles;
        self.detector = Detector::default();
        Deployment {
            cuts,
            instances,
            transport: TransportKind::ZeroCopy,
            control_path: self.spec.control_path,
            route_weights: Vec::new(),
        }
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        Some(self.spec.tick_interval.0)
    }

    fn on_tick(&mut self, obs: &Observation, actions: &mut Vec<Action>) {
        if self.profiles.is_empty() {
            return;
        }
        let observed: Vec<u32> = obs.partitions.iter().map(|p| p.total_instances()).collect();
        self.autoscaler.sync(&observed);
        let params = DetectorParams {
            attainment_target: self.spec.attainment_target,
            ignore_while_draining: self.spec.ignore_while_draining,
        };
        match self.detector.observe(obs, &params) {
            Verdict::Violation => {
                let rates = self.arrival_rates(obs);
                let mut res = self.resources(obs, &rates);
                let affinity: Vec<Vec<usize>> =
                    self.profiles.iter().map(|p| p.affinity.clone()).collect();
                let (profiles, rho) = (&self.profiles, self.spec.instance_utilization);
                let reading = self.spec.resource_share;
                let counts = self.autoscaler.instances().to_vec();
                let census = obs.census(self.process_layout());
                // r_{k}^m of one more instance: its expected share (under `load_share`, with
                // the load over S_k + 1), and the memory it adds beside what its serving process
                // already holds.
                let usage = |k: usize, m: usize| Usage {
                    compute: profiles[k].expected_share(m, rates[k], counts[k] + 1, rho, reading),
                    memory_bytes: profiles[k].footprint[m].marginal(census.residency(k, m)),
                };
                if let Some((partition, accelerator)) =
                    self.autoscaler.scale_out(&affinity, usage, &mut res)
                {
                    actions.push(Action::ScaleOut {
                        partition,
                        accelerator,
                        config: self.spec.instance_config(),
                    });
                    self.detector.note_scaled();
                }
            }
            Verdict::Quiet { calm } if calm >= self.spec.scale_in_windows => {
                if let Some(a) = self.scale_in(obs) {
                    actions.push(a);
                    self.detector.note_scaled();
                }
            }
            Verdict::Quiet { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests;
