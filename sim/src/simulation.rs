//! Wires a resolved scenario into a run: the event loop of the serving data plane under a policy.
//!
//! Data flow: arrival → router → instance queue → batch → execution plan segments (fluid
//! activities sharing compute and memory bandwidth) → transport → next partition … → completion.
//! A run is a pure function of (scenario, seed): events are ordered by (time, sequence), every
//! random number comes from a named stream of the run seed, and no hash-map order is observable.

use std::collections::HashMap;

use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::engine::EventQueue;
use crate::hardware::AcceleratorKind;
use crate::hardware::fluid::{ActivityId, FluidModel};
use crate::metrics::{DropReason, MetricsConfig, Recorder};
use crate::model::cost::{self, ExecPlan};
use crate::model::partition;
use crate::policy::{
    AcceleratorObservation, Action, InstancePlan, Observation, PartitionObservation, Policy,
    PolicyContext,
};
use crate::report::{PartitionReport, Report};
use crate::rng::{RunSeed, SimRng};
use crate::scenario::ResolvedScenario;
use crate::serving::memory::UnifiedMemory;
use crate::serving::state::*;
use crate::serving::transport::{TransportKind, TransportSpec};
use crate::serving::{Routing, ServiceTime};
use crate::slab::Slab;
use crate::time::{SimDuration, SimTime};
use crate::workload::arrival::ArrivalProcess;

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
    arrivals: Box<dyn ArrivalProcess>,
    transport_kind: TransportKind,
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
}

/// Counters since the previous policy tick.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    arrivals: u64,
    completed: u64,
    within_slo: u64,
    dropped: u64,
}

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
        let ctx = PolicyContext {
            device,
            models: &scenario.models,
            slo: scenario.slo,
            memory_limit_bytes: scenario.memory_limit_bytes,
            default_transport: spec.serving.transport.kind,
        };
        let deployment = policy.deploy(&ctx);
        let policy_name = policy.name();
        let bad = |message: String| SimError::Deployment {
            policy: policy_name,
            message,
        };
        if deployment.cuts.len() != scenario.models.len() {
            return Err(bad(format!(
                "{} cut lists for {} stages",
                deployment.cuts.len(),
                scenario.models.len()
            )));
        }
        let mut partitions = Vec::new();
        for (stage, (model, cuts)) in scenario.models.iter().zip(&deployment.cuts).enumerate() {
            for ops in partition::split(model.operators.len(), cuts).map_err(bad)? {
                let output_elems = model.operators[ops.end - 1].output_elems;
                let queue = partitions.len() as u32;
                partitions.push(PartitionState {
                    stage,
                    ops,
                    output_elems,
                    instances: Vec::new(),
                    queue,
                });
            }
        }

        let queues = vec![RequestQueue::default(); partitions.len()];
        let accelerator_names: Vec<String> =
            device.accelerators.iter().map(|a| a.name.clone()).collect();
        let metrics_config = MetricsConfig {
            series_interval: spec.run.series_interval.map(|s| s.0),
            warmup: spec.run.warmup.0,
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
            policy,
            arrivals,
            transport_kind: deployment.transport.unwrap_or(spec.serving.transport.kind),
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
        };
        for plan in &deployment.instances {
            if plan.partition >= sim.partitions.len() || plan.accelerator >= n_acc {
                return Err(bad(format!(
                    "instance {plan:?} names a partition or accelerator that does not exist"
                )));
            }
            sim.create_instance(*plan, spec.serving.cold_start_initial);
        }
        Ok(sim)
    }

    /// Runs to the end and returns the report.
    pub fn run(mut self) -> Report {
        self.schedule_next_arrival();
        if let Some(interval) = self.policy.tick_interval() {
            self.events
                .schedule(SimTime::ZERO + interval, Event::PolicyTick);
        }
        let drain = self.scenario.scenario.run.drain;
        let drain_limit = self.scenario.scenario.run.drain_limit.0;
        let mut end = SimTime::ZERO;
        while let Some(t) = self.events.peek_time() {
            if !self.arrivals_open {
                let limit = if drain {
                    self.cutoff + drain_limit
                } else {
                    self.cutoff
                };
                if t > limit {
                    end = limit;
                    break;
                }
            }
            let Some((now, event)) = self.events.pop() else {
                break;
            };
            end = now;
            self.handle(event);
            if self.fluid_dirty {
                self.settle_fluid();
            }
            if !self.arrivals_open && self.in_flight == 0 {
                end = if drain { now } else { self.cutoff };
                break;
            }
        }
        if !self.arrivals_open && !drain {
            end = self.cutoff;
        }
        self.finish(end)
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
        }
    }

    fn now(&self) -> SimTime {
        self.events.now()
    }

    // ----- arrivals and routing -------------------------------------------------------------

    fn schedule_next_arrival(&mut self) {
        let more = self.max_requests.is_none_or(|m| self.arrived < m);
        let next = if more {
            self.arrivals.next_arrival()
        } else {
            None
        };
        match next {
            Some(t) if self.arrival_deadline.is_none_or(|d| t < d) => {
                self.events.schedule(t.max(self.now()), Event::Arrival);
            }
            _ => {
                self.arrivals_open = false;
                self.cutoff = self.arrival_deadline.unwrap_or(self.now());
            }
        }
    }

    fn on_arrival(&mut self) {
        let now = self.now();
        self.arrived += 1;
        self.window.arrivals += 1;
        self.recorder.arrival(now);
        if self.memory.allocate(self.input_bytes).is_ok() {
            self.recorder.memory(now, self.memory.used_bytes());
            let id = self.requests.insert(RequestState {
                arrived: now,
                partition: 0,
                buffer_bytes: self.input_bytes,
                enqueued: now,
                exec_start: now,
                exec_end: now,
            });
            self.in_flight += 1;
            self.route(id, 0);
        } else {
            self.recorder.drop(now, DropReason::OutOfMemory);
            self.window.dropped += 1;
        }
        self.schedule_next_arrival();
    }

    /// Sends request `id` to `partition`: to its shared queue, or under join-shortest-queue to
    /// the accepting instance with the fewest requests (ties: the instance created first).
    fn route(&mut self, id: u32, partition: u32) {
        let now = self.now();
        {
            let r = self.requests.get_mut(id);
            r.partition = partition;
            r.enqueued = now;
        }
        let p = &self.partitions[partition as usize];
        let queue = match self.routing {
            Routing::SharedQueue => p.queue,
            Routing::JoinShortestQueue => p
                .instances
                .iter()
                .map(|&i| &self.instances[i as usize])
                .filter(|inst| inst.accepts())
                .min_by_key(|inst| {
                    self.queues[inst.queue as usize].requests.len() + inst.in_service as usize
                })
                .map_or(p.queue, |inst| inst.queue),
        };
        let has_server = p
            .instances
            .iter()
            .any(|&i| self.instances[i as usize].accepts());
        if !has_server && self.policy.tick_interval().is_none() {
            self.drop_request(id, DropReason::NoInstance);
        } else if self.queues[queue as usize].requests.len()
            >= self.scenario.scenario.serving.queue_capacity
        {
            self.drop_request(id, DropReason::QueueFull);
        } else {
            self.queues[queue as usize].requests.push_back(id);
            self.dispatch(queue);
        }
    }

    fn drop_request(&mut self, id: u32, reason: DropReason) {
        let now = self.now();
        let r = self.requests.remove(id);
        self.memory.release(r.buffer_bytes);
        self.recorder.memory(now, self.memory.used_bytes());
        self.recorder.drop(now, reason);
        self.window.dropped += 1;
        self.in_flight -= 1;
    }

    // ----- batching and execution -----------------------------------------------------------

    /// An idle ready instance serving `queue`, if any (the one created first).
    fn idle_server(&self, queue: u32) -> Option<u32> {
        let partition = match self.routing {
            Routing::SharedQueue => queue as usize,
            Routing::JoinShortestQueue => {
                // An instance's own queue, or a partition queue (which no instance serves).
                return self
                    .instances
                    .get(queue.checked_sub(self.partitions.len() as u32)? as usize)
                    .filter(|inst| {
                        !inst.busy
                            && matches!(inst.phase, InstancePhase::Ready | InstancePhase::Draining)
                    })
                    .map(|_| queue - self.partitions.len() as u32);
            }
        };
        self.partitions[partition]
            .instances
            .iter()
            .copied()
            .find(|&i| {
                let inst = &self.instances[i as usize];
                !inst.busy && inst.phase == InstancePhase::Ready
            })
    }

    /// Starts batches from `queue` while an idle instance can take one: a batch starts when it
    /// is full, when its oldest request has waited the batch timeout, or when the instance is
    /// draining; otherwise the queue's timer is armed for the oldest request's deadline.
    fn dispatch(&mut self, queue: u32) {
        let now = self.now();
        loop {
            let q = &self.queues[queue as usize];
            let Some(&oldest) = q.requests.front() else {
                return;
            };
            let Some(i) = self.idle_server(queue) else {
                return;
            };
            let inst = &self.instances[i as usize];
            let max = inst.config.max_batch as usize;
            let deadline = self.requests.get(oldest).enqueued + inst.config.batch_timeout;
            if q.requests.len() >= max || deadline <= now || inst.phase == InstancePhase::Draining {
                let n = q.requests.len().min(max);
                self.start_batch(i, queue, n);
            } else {
                let q = &mut self.queues[queue as usize];
                if !q.timer_armed {
                    q.timer_armed = true;
                    q.timer_generation = q.timer_generation.wrapping_add(1);
                    let generation = q.timer_generation;
                    self.events
                        .schedule(deadline, Event::BatchTimeout { queue, generation });
                }
                return;
            }
        }
    }

    fn on_batch_timeout(&mut self, queue: u32, generation: u32) {
        let q = &mut self.queues[queue as usize];
        if q.timer_armed && q.timer_generation == generation {
            q.timer_armed = false;
            self.dispatch(queue);
        }
    }

    fn start_batch(&mut self, i: u32, queue: u32, n: usize) {
        let now = self.now();
        let mut requests = self.vec_pool.pop().unwrap_or_default();
        let q = &mut self.queues[queue as usize];
        q.timer_armed = false;
        requests.extend(q.requests.drain(..n));
        let inst = &mut self.instances[i as usize];
        inst.busy = true;
        inst.in_service = n as u32;
        let (partition, accel, cores) = (inst.partition, inst.accel, inst.config.cpu_cores);
        for &r in &requests {
            self.requests.get_mut(r).exec_start = now;
        }
        self.recorder.batch(partition as usize, n as u32);
        let plan = self.plan_for(partition, accel, cores, n as u32);
        let factor = self.draw_service_factor();
        let batch = self.batches.insert(BatchState {
            instance: i,
            requests,
            plan,
            segment: 0,
            factor,
        });
        self.start_segment(batch);
    }

    /// The execution plan of `partition` on `accel` at `batch`, computed once and cached.
    fn plan_for(&mut self, partition: u32, accel: u32, cores: u32, batch: u32) -> u32 {
        let key = (partition, accel, cores, batch);
        if let Some(&idx) = self.plan_index.get(&key) {
            return idx;
        }
        let p = &self.partitions[partition as usize];
        let ops = &self.scenario.models[p.stage].operators[p.ops.clone()];
        let plan = cost::plan(ops, batch, accel as usize, cores, &self.scenario.device);
        let idx = self.plans.len() as u32;
        self.plans.push(plan);
        self.plan_index.insert(key, idx);
        idx
    }

    /// A service-time factor with mean 1 (exactly 1 for deterministic service).
    fn draw_service_factor(&mut self) -> f64 {
        match self.service_time {
            ServiceTime::Deterministic => 1.0,
            ServiceTime::Exponential => Exp1.sample(&mut self.service_rng),
            ServiceTime::Lognormal { cv } => {
                // mean 1: σ² = ln(1 + cv²), μ = −σ²/2.
                let sigma2 = (1.0 + cv * cv).ln();
                let z: f64 = StandardNormal.sample(&mut self.service_rng);
                (-sigma2 / 2.0 + sigma2.sqrt() * z).exp()
            }
        }
    }

    fn start_segment(&mut self, batch: u32) {
        let b = self.batches.get(batch);
        let accel = self.plans[b.plan as usize].segments[b.segment].accel;
        let slot = &mut self.slots[accel];
        if slot.max_concurrent.is_some_and(|m| slot.running >= m) {
            slot.waiting.push_back(batch);
            return;
        }
        slot.running += 1;
        let units = self.segment_units(batch);
        self.occupy(accel, units);
        self.begin_segment_work(batch);
    }

    /// Capacity units a batch's current segment holds on its engine: the instance's cores on the
    /// CPU, one activity elsewhere.
    fn segment_units(&self, batch: u32) -> f64 {
        let b = self.batches.get(batch);
        let accel = self.plans[b.plan as usize].segments[b.segment].accel;
        if self.scenario.device.accelerators[accel].kind == AcceleratorKind::Cpu {
            f64::from(self.instances[b.instance as usize].config.cpu_cores)
        } else {
            1.0
        }
    }

    /// Changes the work held on `accel` by `units` and records its busy level: the fraction of
    /// its cores in use on the CPU, whether anything runs on it elsewhere.
    fn occupy(&mut self, accel: usize, units: f64) {
        let slot = &mut self.slots[accel];
        slot.busy_units = (slot.busy_units + units).max(0.0);
        let level = if self.scenario.device.accelerators[accel].kind == AcceleratorKind::Cpu {
            slot.busy_units / self.compute_capacity[accel]
        } else {
            slot.busy_units
        };
        let now = self.now();
        self.recorder.busy(now, accel, level.min(1.0));
    }

    fn begin_segment_work(&mut self, batch: u32) {
        let b = self.batches.get(batch);
        let seg = self.plans[b.plan as usize].segments[b.segment];
        let factor = b.factor;
        if seg.work_ns == 0 {
            self.segment_work_done(batch);
            return;
        }
        let now = self.now();
        let work = seg.work_ns as f64 * factor;
        let bw = seg.mem_bytes as f64 / seg.work_ns as f64;
        let mut consumption = [
            (seg.accel, seg.compute_demand),
            (self.bandwidth_resource, bw),
            (usize::MAX, 0.0),
        ];
        let n = match self.port_resource[seg.accel] {
            Some(port) => {
                consumption[2] = (port, bw);
                3
            }
            None => 2,
        };
        let id = self.fluid.start(now, work, 1.0, &consumption[..n]);
        self.owners.insert(id, ActivityOwner::Batch(batch));
        self.fluid_dirty = true;
    }

    fn segment_work_done(&mut self, batch: u32) {
        let b = self.batches.get(batch);
        let fixed = (self.plans[b.plan as usize].segments[b.segment].fixed_ns as f64 * b.factor)
            .round() as u64;
        if fixed > 0 {
            let at = self.now() + SimDuration::from_ns(fixed);
            self.events.schedule(at, Event::SegmentFixedDone { batch });
        } else {
            self.end_segment(batch);
        }
    }

    fn end_segment(&mut self, batch: u32) {
        let (accel, last) = {
            let b = self.batches.get(batch);
            let plan = &self.plans[b.plan as usize];
            (
                plan.segments[b.segment].accel,
                b.segment + 1 == plan.segments.len(),
            )
        };
        let units = self.segment_units(batch);
        self.occupy(accel, -units);
        let slot = &mut self.slots[accel];
        slot.running -= 1;
        if let Some(next) = slot.waiting.pop_front() {
            slot.running += 1;
            let units = self.segment_units(next);
            self.occupy(accel, units);
            self.begin_segment_work(next);
        }
        if last {
            self.finish_batch(batch);
        } else {
            self.batches.get_mut(batch).segment += 1;
            self.start_segment(batch);
        }
    }

    fn finish_batch(&mut self, batch: u32) {
        let now = self.now();
        let BatchState {
            instance,
            mut requests,
            ..
        } = self.batches.remove(batch);
        let (partition, accel) = {
            let inst = &mut self.instances[instance as usize];
            inst.busy = false;
            inst.in_service = 0;
            (inst.partition, inst.accel)
        };
        let bytes_per_elem = self.scenario.device.accelerators[accel as usize]
            .precision
            .bytes_per_elem();
        let output_bytes = self.partitions[partition as usize].output_elems * bytes_per_elem;
        let last_partition = partition as usize + 1 == self.partitions.len();
        // Swap each request's input tensor for its output tensor; a request whose output finds
        // no memory is dropped.
        let mut kept = self.vec_pool.pop().unwrap_or_default();
        for &r in &requests {
            let req = self.requests.get_mut(r);
            req.exec_end = now;
            let input = std::mem::take(&mut req.buffer_bytes);
            self.memory.release(input);
            if last_partition {
                kept.push(r);
            } else if self.memory.allocate(output_bytes).is_ok() {
                self.requests.get_mut(r).buffer_bytes = output_bytes;
                kept.push(r);
            } else {
                self.drop_request(r, DropReason::OutOfMemory);
            }
        }
        requests.clear();
        self.vec_pool.push(requests);
        let mut requests = kept;
        self.recorder.memory(now, self.memory.used_bytes());
        if last_partition {
            for &r in &requests {
                self.complete(r);
            }
            requests.clear();
            self.vec_pool.push(requests);
        } else if !requests.is_empty() {
            self.start_transfer(requests, partition + 1);
        } else {
            self.vec_pool.push(requests);
        }
        self.after_instance_idle(instance);
    }

    fn after_instance_idle(&mut self, instance: u32) {
        let inst = &self.instances[instance as usize];
        let queue = inst.queue;
        let own_queue_empty =
            self.queues[queue as usize].requests.is_empty() || self.routing == Routing::SharedQueue;
        if inst.phase == InstancePhase::Draining && !inst.busy && own_queue_empty {
            self.stop_instance(instance);
        } else {
            self.dispatch(queue);
        }
    }

    fn complete(&mut self, id: u32) {
        let now = self.now();
        let r = self.requests.remove(id);
        self.memory.release(r.buffer_bytes);
        let stage = r.partition as usize;
        self.recorder.stage(
            stage,
            r.exec_start - r.enqueued,
            r.exec_end - r.exec_start,
            SimDuration::ZERO,
        );
        self.recorder.completion(now, r.arrived);
        self.window.completed += 1;
        if now - r.arrived <= self.scenario.slo {
            self.window.within_slo += 1;
        }
        self.in_flight -= 1;
    }

    // ----- transport ------------------------------------------------------------------------

    fn start_transfer(&mut self, requests: Vec<u32>, to_partition: u32) {
        let now = self.now();
        let bytes: u64 = requests
            .iter()
            .map(|&r| self.requests.get(r).buffer_bytes)
            .sum();
        let cost = self
            .transport
            .cost(self.transport_kind, bytes, &self.scenario.device);
        if cost.extra_buffer_bytes > 0 && self.memory.allocate(cost.extra_buffer_bytes).is_err() {
            for r in requests {
                self.drop_request(r, DropReason::OutOfMemory);
            }
            return;
        }
        self.recorder.memory(now, self.memory.used_bytes());
        let transfer = self.transfers.insert(TransferState {
            requests,
            to_partition,
            extra_buffer_bytes: cost.extra_buffer_bytes,
            fixed_ns: cost.fixed_ns,
        });
        if cost.work_ns > 0 {
            let cpu = self.cpu_index();
            let work = cost.work_ns as f64;
            let consumption = [
                (cpu, 1.0),
                (self.bandwidth_resource, cost.mem_bytes as f64 / work),
            ];
            let id = self.fluid.start(now, work, 1.0, &consumption);
            self.occupy(cpu, 1.0);
            self.owners.insert(id, ActivityOwner::Transfer(transfer));
            self.fluid_dirty = true;
        } else {
            self.transfer_work_done(transfer);
        }
    }

    fn cpu_index(&self) -> usize {
        self.scenario
            .device
            .accelerators
            .iter()
            .position(|a| a.kind == AcceleratorKind::Cpu)
            .unwrap_or(0)
    }

    fn transfer_work_done(&mut self, transfer: u32) {
        let fixed = self.transfers.get(transfer).fixed_ns;
        if fixed > 0 {
            let at = self.now() + SimDuration::from_ns(fixed);
            self.events
                .schedule(at, Event::TransferFixedDone { transfer });
        } else {
            self.end_transfer(transfer);
        }
    }

    fn end_transfer(&mut self, transfer: u32) {
        let now = self.now();
        let TransferState {
            mut requests,
            to_partition,
            extra_buffer_bytes,
            ..
        } = self.transfers.remove(transfer);
        self.memory.release(extra_buffer_bytes);
        self.recorder.memory(now, self.memory.used_bytes());
        let from = (to_partition - 1) as usize;
        for &r in &requests {
            let req = *self.requests.get(r);
            self.recorder.stage(
                from,
                req.exec_start - req.enqueued,
                req.exec_end - req.exec_start,
                now - req.exec_end,
            );
            self.route(r, to_partition);
        }
        requests.clear();
        self.vec_pool.push(requests);
    }

    // ----- fluid model ----------------------------------------------------------------------

    fn on_fluid_check(&mut self, generation: u64) {
        if generation != self.fluid.generation() {
            return;
        }
        let now = self.now();
        while let Some((t, id)) = self.fluid.next_completion() {
            if t > now {
                break;
            }
            self.fluid.finish(now, id);
            self.fluid_dirty = true;
            match self.owners.remove(&id) {
                Some(ActivityOwner::Batch(b)) => self.segment_work_done(b),
                Some(ActivityOwner::Transfer(x)) => {
                    let cpu = self.cpu_index();
                    self.occupy(cpu, -1.0);
                    self.transfer_work_done(x);
                }
                None => debug_assert!(false, "fluid activity {id:?} has no owner"),
            }
        }
    }

    /// After the set of running activities changed: reschedule the next completion check.
    fn settle_fluid(&mut self) {
        self.fluid_dirty = false;
        let now = self.now();
        if let Some((t, _)) = self.fluid.next_completion() {
            self.events.schedule(
                t.max(now),
                Event::FluidCheck {
                    generation: self.fluid.generation(),
                },
            );
        }
    }

    // ----- instances ------------------------------------------------------------------------

    fn create_instance(&mut self, plan: InstancePlan, cold: bool) -> Option<u32> {
        let now = self.now();
        let p = &self.partitions[plan.partition];
        let ops = &self.scenario.models[p.stage].operators[p.ops.clone()];
        let footprint = cost::footprint_bytes(
            ops,
            plan.config.max_batch,
            plan.accelerator,
            &self.scenario.device,
        );
        if self.memory.allocate(footprint).is_err() {
            self.refused_instances += 1;
            return None;
        }
        self.recorder.memory(now, self.memory.used_bytes());
        let weights_bytes: u64 = ops.iter().map(|o| o.params).sum::<u64>()
            * self.scenario.device.accelerators[plan.accelerator]
                .precision
                .bytes_per_elem();
        let index = self.instances.len() as u32;
        let queue = match self.routing {
            Routing::SharedQueue => self.partitions[plan.partition].queue,
            Routing::JoinShortestQueue => {
                // Instance queues follow the partition queues: queue = partitions + instance.
                debug_assert_eq!(self.queues.len(), self.partitions.len() + index as usize);
                self.queues.push(RequestQueue::default());
                (self.queues.len() - 1) as u32
            }
        };
        self.instances.push(InstanceState {
            partition: plan.partition as u32,
            accel: plan.accelerator as u32,
            config: plan.config,
            phase: if cold {
                InstancePhase::Starting
            } else {
                InstancePhase::Ready
            },
            queue,
            busy: false,
            footprint_bytes: footprint,
            in_service: 0,
        });
        self.partitions[plan.partition].instances.push(index);
        if cold {
            let load_s = weights_bytes as f64 / self.scenario.device.storage.read_bytes_per_s;
            let delay = SimDuration::from_secs_f64(load_s)
                + self.scenario.scenario.serving.cold_start_init.0;
            self.events
                .schedule(now + delay, Event::InstanceReady { instance: index });
        }
        match self.routing {
            Routing::SharedQueue => self.dispatch(queue),
            Routing::JoinShortestQueue => {
                // Requests that waited for any instance of this partition now have one.
                let pq = self.partitions[plan.partition].queue as usize;
                let pending: Vec<u32> = self.queues[pq].requests.drain(..).collect();
                for r in pending {
                    self.route(r, plan.partition as u32);
                }
            }
        }
        Some(index)
    }

    fn on_instance_ready(&mut self, instance: u32) {
        let inst = &mut self.instances[instance as usize];
        if inst.phase == InstancePhase::Starting {
            inst.phase = InstancePhase::Ready;
            let queue = inst.queue;
            self.dispatch(queue);
        }
    }

    fn stop_instance(&mut self, instance: u32) {
        let inst = &mut self.instances[instance as usize];
        inst.phase = InstancePhase::Stopped;
        let footprint = inst.footprint_bytes;
        self.memory.release(footprint);
        let now = self.now();
        self.recorder.memory(now, self.memory.used_bytes());
    }

    // ----- policy ---------------------------------------------------------------------------

    fn on_policy_tick(&mut self) {
        let observation = self.observe();
        let mut actions = Vec::new();
        self.policy.on_tick(&observation, &mut actions);
        for action in actions {
            self.apply(action);
        }
        if let Some(interval) = self.policy.tick_interval()
            && (self.arrivals_open || self.in_flight > 0)
        {
            let at = self.now() + interval;
            self.events.schedule(at, Event::PolicyTick);
        }
    }

    fn observe(&mut self) -> Observation {
        let n_acc = self.compute_capacity.len();
        let partitions = self
            .partitions
            .iter()
            .map(|p| {
                let mut obs = PartitionObservation {
                    instances: vec![0; n_acc],
                    queued: self.queues[p.queue as usize].requests.len() as u64,
                    ..Default::default()
                };
                for &i in &p.instances {
                    let inst = &self.instances[i as usize];
                    if inst.accepts() {
                        obs.instances[inst.accel as usize] += 1;
                    }
                    if inst.queue != p.queue {
                        obs.queued += self.queues[inst.queue as usize].requests.len() as u64;
                    }
                    obs.in_service += u64::from(inst.in_service);
                }
                obs
            })
            .collect();
        let accelerators = (0..n_acc)
            .map(|a| AcceleratorObservation {
                utilization: (self.fluid.resource_usage(a) / self.compute_capacity[a])
                    .clamp(0.0, 1.0),
            })
            .collect();
        let w = std::mem::take(&mut self.window);
        Observation {
            now: self.now(),
            partitions,
            accelerators,
            memory_used_bytes: self.memory.used_bytes(),
            memory_limit_bytes: self.memory.limit_bytes(),
            window_completed: w.completed,
            window_within_slo: w.within_slo,
            window_arrivals: w.arrivals,
            window_dropped: w.dropped,
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::ScaleOut {
                partition,
                accelerator,
                config,
            } => {
                if partition < self.partitions.len() && accelerator < self.compute_capacity.len() {
                    self.create_instance(
                        InstancePlan {
                            partition,
                            accelerator,
                            config,
                        },
                        true,
                    );
                }
            }
            Action::ScaleIn {
                partition,
                accelerator,
            } => {
                let Some(p) = self.partitions.get(partition) else {
                    return;
                };
                // Retire the youngest accepting instance there.
                let victim = p.instances.iter().rev().copied().find(|&i| {
                    let inst = &self.instances[i as usize];
                    inst.accepts() && inst.accel as usize == accelerator
                });
                if let Some(i) = victim {
                    self.instances[i as usize].phase = InstancePhase::Draining;
                    self.after_instance_idle(i);
                }
            }
        }
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
            events_processed,
        }
    }
}
