//! Wires a resolved scenario into a run: the event loop of the serving data plane under a policy.
//!
//! Data flow: arrival → router → instance queue → batch → execution plan segments (fluid
//! activities sharing compute and memory bandwidth) → transport → next partition … → completion.
//! A run is a pure function of (scenario, seed): events are ordered by (time, sequence), every
//! random number comes from a named stream of the run seed, and no hash-map order is observable.

use std::collections::HashMap;
use std::ops::ControlFlow;

use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::engine::EventQueue;
use crate::hardware::AcceleratorKind;
use crate::hardware::fluid::{ActivityId, FluidModel};
use crate::metrics::{DropReason, LatencyHistogram, MetricsConfig, Recorder, TimeWeighted};
use crate::model::cost::{self, ExecPlan};
use crate::policy::{
    AcceleratorObservation, Action, InstancePlan, Observation, PartitionObservation, Policy,
};
use crate::report::{PartitionReport, Report, ScalingEvent};
use crate::rng::{RunSeed, SimRng};
use crate::scenario::ResolvedScenario;
use crate::serving::memory::UnifiedMemory;
use crate::serving::sharing::{RegionRef, SharingManager, TokenGrant};
use crate::serving::state::*;
use crate::serving::transport::{ControlPath, TransportKind, TransportSpec};
use crate::serving::{Routing, ServiceTime};
use crate::slab::Slab;
use crate::time::{SimDuration, SimTime};
use crate::workload::arrival::ArrivalProcess;

mod batching;
mod control;
mod fluid;
mod instances;
mod live;
mod routing;
mod transfer;

/// What can happen in a run.
#[derive(Clone, Copy, Debug)]
enum Event {
    /// The next request arrives.
    Arrival,
    /// A request queue's batch timer fires.
    BatchTimeout { queue: u32, generation: u32 },
    /// The earliest fluid activity may have finished.
    FluidCheck { generation: u64 },
    /// The fixed (launch) part of a batch's current segment ends.
    SegmentFixedDone { batch: u32 },
    /// The fixed (control) part of a transfer ends.
    TransferFixedDone { transfer: u32 },
    /// A cold-starting instance has loaded and can serve.
    InstanceReady { instance: u32 },
    /// The policy's periodic decision.
    PolicyTick,
    /// A batch run by the live executor finished (live runs only).
    LiveBatchDone { batch: u32 },
}

/// A run in progress. Build with [`Simulation::new`], then [`Simulation::run`].
pub struct Simulation {
    scenario: ResolvedScenario,
    seed: u64,
    events: EventQueue<Event>,
    fluid: FluidModel,
    memory: UnifiedMemory,
    recorder: Recorder,
    policy: Box<dyn Policy>,
    /// Whether the policy acts after deploying (requests then wait for an instance to appear).
    policy_ticks: bool,
    arrivals: Box<dyn ArrivalProcess>,
    transport_kind: TransportKind,
    control_path: ControlPath,
    sharing: SharingManager,
    transport: TransportSpec,
    /// Fluid resource index of the shared memory bandwidth (accelerator `i` is resource `i`).
    bandwidth_resource: usize,
    /// Fluid resource index of each accelerator's memory port, if it has a port limit.
    port_resource: Vec<Option<usize>>,
    /// Compute capacity of each accelerator in fluid units (CPU: cores; others: 1).
    compute_capacity: Vec<f64>,
    slots: Vec<AcceleratorSlots>,
    partitions: Vec<PartitionState>,
    instances: Vec<InstanceState>,
    queues: Vec<RequestQueue>,
    routing: Routing,
    service_time: ServiceTime,
    service_rng: SimRng,
    requests: Slab<RequestState>,
    batches: Slab<BatchState>,
    transfers: Slab<TransferState>,
    owners: HashMap<ActivityId, ActivityOwner>,
    plans: Vec<ExecPlan>,
    plan_index: HashMap<(u32, u32, u32, u32), u32>,
    vec_pool: Vec<Vec<u32>>,
    input_bytes: u64,
    fluid_dirty: bool,
    arrivals_open: bool,
    arrival_deadline: Option<SimTime>,
    max_requests: Option<u64>,
    cutoff: SimTime,
    arrived: u64,
    in_flight: u64,
    refused_instances: u64,
    window: Window,
    /// Time of the previous policy tick.
    last_tick: SimTime,
    scaling_events: Vec<ScalingEvent>,
    /// Latencies of the completions since the previous policy tick.
    window_latency: LatencyHistogram,
    /// The executor of a live run (`None`: simulated execution).
    live: Option<live::Live>,
}

/// Counters since the previous policy tick.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    arrivals: u64,
    completed: u64,
    within_slo: u64,
    dropped: u64,
}

/// How far a run has got: what [`Simulation::run_observed`] shows its observer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunProgress {
    /// Simulated time reached, s.
    pub sim_time_s: f64,
    /// Estimated fraction of the run done, 0..=1: simulated time over `run.duration`, or arrivals
    /// over `run.max_requests`, whichever is further (1 while draining).
    pub fraction: f64,
    /// Requests that have arrived so far.
    pub arrivals: u64,
    /// Events processed so far.
    pub events: u64,
}

/// The observer of [`Simulation::run_observed`] stopped the run before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the run was cancelled")]
pub struct Cancelled;

/// Events between two calls of a run's observer: rare enough to cost nothing measurable, often
/// enough (a few ms of wall time) for a responsive progress bar and cancel.
const OBSERVE_EVERY_EVENTS: u64 = 4096;

/// A run could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The workload could not be built (file vanished since validation, …).
    #[error("workload: {0}")]
    Workload(String),
    /// The policy's deployment is inconsistent with the app.
    #[error("policy `{policy}` deployed an invalid plan: {message}")]
    Deployment {
        /// The policy's name.
        policy: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl Simulation {
    /// Sets up a run of `scenario` with `seed` (the scenario's own seed unless overridden).
    pub fn new(scenario: &ResolvedScenario, seed: Option<u64>) -> Result<Self, SimError> {
        let seed = seed.unwrap_or(scenario.scenario.seed);
        let run_seed = RunSeed(seed);
        let device = &scenario.device;
        let spec = &scenario.scenario;

        let arrivals = spec
            .workload
            .build(&spec.base_dir, run_seed.stream("arrivals"))
            .map_err(|e| SimError::Workload(e.to_string()))?;

        let n_acc = device.accelerators.len();
        let compute_capacity: Vec<f64> = device
            .accelerators
            .iter()
            .map(|a| {
                if a.kind == AcceleratorKind::Cpu {
                    f64::from(a.cores)
                } else {
                    1.0
                }
            })
            .collect();
        let mut capacities = compute_capacity.clone();
        let bandwidth_resource = capacities.len();
        // Fluid rates are per ns of work; bandwidth capacity in bytes per ns.
        capacities.push(device.memory.bandwidth_bytes_per_s / 1e9);
        let mut port_resource = vec![None; n_acc];
        for (a, acc) in device.accelerators.iter().enumerate() {
            if let Some(port) = acc.max_bandwidth_bytes_per_s {
                port_resource[a] = Some(capacities.len());
                capacities.push(port / 1e9);
            }
        }
        let slots = device
            .accelerators
            .iter()
            .map(|a| AcceleratorSlots {
                max_concurrent: (a.kind == AcceleratorKind::Dla).then_some(1),
                ..Default::default()
            })
            .collect();

        let mut policy = spec.policy.build();
        let ctx = scenario.policy_context();
        let deployment = policy.deploy(&ctx);
        let policy_name = policy.name();
        let bad = |message: String| SimError::Deployment {
            policy: policy_name,
            message,
        };
        let mut partitions = Vec::new();
        for (stage, ops) in deployment
            .partitions(&scenario.models, device.accelerators.len())
            .map_err(bad)?
        {
            let output_elems = scenario.models[stage].operators[ops.end - 1].output_elems;
            let queue = partitions.len() as u32;
            partitions.push(PartitionState {
                stage,
                ops,
                output_elems,
                instances: Vec::new(),
                queue,
                load: TimeWeighted::new(),
                window_arrivals: 0,
            });
        }

        let queues = vec![RequestQueue::default(); partitions.len()];
        let accelerator_names: Vec<String> =
            device.accelerators.iter().map(|a| a.name.clone()).collect();
        let metrics_config = MetricsConfig {
            series_interval: spec.run.series_interval.map(|s| s.0),
            warmup: spec.run.warmup.0,
            latency_cdf_points: spec.run.latency_cdf.unwrap_or(0),
        };
        let recorder = Recorder::new(
            metrics_config,
            &accelerator_names,
            partitions.len(),
            scenario.slo,
        );
        let input_bytes = scenario.models[0].input_elems() * 4;

        let mut sim = Simulation {
            scenario: scenario.clone(),
            seed,
            events: EventQueue::new(),
            fluid: FluidModel::new(capacities),
            memory: UnifiedMemory::new(scenario.memory_limit_bytes),
            recorder,
            policy_ticks: policy.tick_interval().is_some(),
            policy,
            arrivals,
            transport_kind: deployment.transport,
            control_path: deployment.control_path,
            sharing: SharingManager::default(),
            transport: spec.serving.transport.clone(),
            bandwidth_resource,
            port_resource,
            compute_capacity,
            slots,
            partitions,
            instances: Vec::new(),
            queues,
            routing: spec.serving.routing,
            service_time: spec.serving.service_time,
            service_rng: run_seed.stream("service"),
            requests: Slab::default(),
            batches: Slab::default(),
            transfers: Slab::default(),
            owners: HashMap::new(),
            plans: Vec::new(),
            plan_index: HashMap::new(),
            vec_pool: Vec::new(),
            input_bytes,
            fluid_dirty: false,
            arrivals_open: true,
            arrival_deadline: spec.run.duration.map(|d| SimTime::ZERO + d.0),
            max_requests: spec.run.max_requests,
            cutoff: SimTime::MAX,
            arrived: 0,
            in_flight: 0,
            refused_instances: 0,
            window: Window::default(),
            last_tick: SimTime::ZERO,
            scaling_events: Vec::new(),
            window_latency: LatencyHistogram::new(),
            live: None,
        };
        for plan in &deployment.instances {
            sim.create_instance(*plan, spec.serving.cold_start_initial);
        }
        Ok(sim)
    }

    /// Runs to the end on the virtual clock and returns the report.
    ///
    /// Arrivals stop at `run.duration` or after `run.max_requests`. Simulated time then runs at
    /// least to the duration (policies keep acting on an idle system), and further while
    /// requests are in flight if `run.drain` (at most `run.drain_limit` past the duration);
    /// without drain the run ends at the duration and what is left is reported in flight.
    pub fn run(self) -> Report {
        match self.run_observed(&mut |_| ControlFlow::Continue(())) {
            Ok(report) => report,
            Err(Cancelled) => unreachable!("an observer that always continues never cancels"),
        }
    }

    /// [`Simulation::run`], showing `observe` the progress every few thousand events and once at
    /// the end; when it answers `Break`, the run stops there and returns [`Cancelled`]. The
    /// observer sees the run but cannot change it: the report is the one `run` returns.
    pub fn run_observed(
        mut self,
        observe: &mut dyn FnMut(&RunProgress) -> ControlFlow<()>,
    ) -> Result<Report, Cancelled> {
        self.schedule_next_arrival();
        if let Some(interval) = self.policy.tick_interval() {
            self.events
                .schedule(SimTime::ZERO + interval, Event::PolicyTick);
        }
        let drain = self.scenario.scenario.run.drain;
        let drain_limit = self.scenario.scenario.run.drain_limit.0;
        let mut last = SimTime::ZERO;
        let end = loop {
            let next = self.events.peek_time();
            if !self.arrivals_open {
                let limit = if drain {
                    self.cutoff + drain_limit
                } else {
                    self.cutoff
                };
                let drained = self.in_flight == 0;
                match next {
                    None => break last.max(self.cutoff),
                    Some(t) if t > limit => break limit.max(last),
                    Some(t) if drained && t > self.cutoff => break last.max(self.cutoff),
                    Some(_) => {}
                }
            }
            let Some((now, event)) = self.events.pop() else {
                break last;
            };
            last = now;
            self.handle(event);
            if self.fluid_dirty {
                self.settle_fluid();
            }
            if self
                .events
                .events_processed()
                .is_multiple_of(OBSERVE_EVERY_EVENTS)
                && observe(&self.progress()).is_break()
            {
                return Err(Cancelled);
            }
        };
        let mut done = self.progress();
        done.fraction = 1.0;
        if observe(&done).is_break() {
            return Err(Cancelled);
        }
        Ok(self.finish(end))
    }

    /// Where the run stands now.
    fn progress(&self) -> RunProgress {
        let now = self.now();
        let by_time = self
            .arrival_deadline
            .map(|d| now.as_ns() as f64 / d.as_ns().max(1) as f64);
        let by_count = self
            .max_requests
            .map(|n| self.arrived as f64 / n.max(1) as f64);
        let fraction = if self.arrivals_open {
            by_time.into_iter().chain(by_count).fold(0.0, f64::max)
        } else {
            1.0
        };
        RunProgress {
            sim_time_s: now.as_secs_f64(),
            fraction: fraction.clamp(0.0, 1.0),
            arrivals: self.arrived,
            events: self.events.events_processed(),
        }
    }

    /// Whether the run is still going for the policy: arrivals to come, requests in flight, or
    /// simulated time left before the end of the arrival period.
    pub(super) fn still_running(&self) -> bool {
        self.arrivals_open || self.in_flight > 0 || self.now() < self.cutoff
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrival => self.on_arrival(),
            Event::BatchTimeout { queue, generation } => self.on_batch_timeout(queue, generation),
            Event::FluidCheck { generation } => self.on_fluid_check(generation),
            Event::SegmentFixedDone { batch } => self.end_segment(batch),
            Event::TransferFixedDone { transfer } => self.end_transfer(transfer),
            Event::InstanceReady { instance } => self.on_instance_ready(instance),
            Event::PolicyTick => self.on_policy_tick(),
            Event::LiveBatchDone { batch } => self.on_live_batch_done(batch),
        }
    }

    pub(super) fn now(&self) -> SimTime {
        self.events.now()
    }

    // ----- report ---------------------------------------------------------------------------

    fn finish(self, end: SimTime) -> Report {
        let events_processed = self.events.events_processed();
        let rs = &self.scenario;
        let partitions = self
            .partitions
            .iter()
            .map(|p| {
                let mut instances = std::collections::BTreeMap::new();
                for &i in &p.instances {
                    let inst = &self.instances[i as usize];
                    if inst.accepts() {
                        *instances
                            .entry(rs.device.accelerators[inst.accel as usize].name.clone())
                            .or_insert(0u32) += 1;
                    }
                }
                PartitionReport {
                    stage: p.stage,
                    model: rs.models[p.stage].name.clone(),
                    first_op: p.ops.start + 1,
                    last_op: p.ops.end,
                    instances,
                }
            })
            .collect();
        let summary = self.recorder.finish(end, self.in_flight);
        Report {
            scenario: rs.name.clone(),
            app: rs.app_name.clone(),
            policy: self.policy.name().to_string(),
            device: rs.device.name.clone(),
            seed: self.seed,
            transport: self.transport_kind.name().to_string(),
            isolated_latency_ms: rs.isolated_latency.as_ms_f64(),
            summary,
            partitions,
            refused_instances: self.refused_instances,
            scaling_events: self.scaling_events,
            tensor_sharing: self.sharing.pools().to_vec(),
            events_processed,
        }
    }
}
