//! The serving data plane every policy shares: partitions and their instances, request queues,
//! routing, dynamic batching, tensor hand-offs between partitions, unified memory accounting
//! (per serving process, [`crate::serving::process`]) and cold starts.
//!
//! The plane decides *what* runs and *when it may start*; an [`Executor`] decides how long a
//! batch takes, and the [`Engines`] share the device among running work. The plane reaches
//! them, the event queue and the metrics recorder through a [`Context`] handed to each call
//! (as nexosim's models reach the scheduler through theirs), so it holds no reference to the
//! rest of the run.
//!
//! - `routing`: admission of arrivals, routing to queues, drops and completions;
//! - `batching`: batch formation and the end of a batch;
//! - `instances`: creation (with cold start), readiness, scale-in and retirement;
//! - `transfer`: tensors travelling to the next partition.

mod batching;
mod instances;
mod relayout;
mod routes;
mod routing;
mod transfer;

pub use relayout::{InstanceChange, Reconfiguration, Relayout, StagePlacement};
use routes::Routes;
pub use routes::{PlaneStream, RouteTally, StreamTally, check_route_weights, check_stream_weights};

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use crate::engine::EventQueue;
use crate::engines::Engines;
use crate::event::{Event, ExecEvent, PlaneEvent};
use crate::executor::{ExecContext, Executor};
use crate::hardware::AcceleratorKind;
use crate::hardware::profile::DeviceProfile;
use crate::metrics::{Recorder, TimeWeighted, WindowLatency};
use crate::model::Operator;
use crate::model::runtime::RuntimeProfile;
use crate::model::tokens::TokenModel;
use crate::serving::memory::{MemoryByKind, UnifiedMemory};
use crate::serving::process::{Census, ProcessLayout, Processes};
use crate::serving::sharing::{RegionPool, SharingManager};
use crate::serving::state::{
    BatchState, ExecTally, InstanceState, PartitionState, RequestQueue, RequestState, TransferState,
};
use crate::serving::transport::{ControlPath, TransportKind, TransportSpec};
use crate::serving::{Overflow, QueueOrder, Routing};
use crate::slab::Slab;
use crate::time::{SimDuration, SimTime};

/// What the data plane may touch while it handles something: the event queue (and its clock),
/// the metrics recorder, the engines, and the executor that runs batches.
pub struct Context<'a> {
    /// The run's event queue; its `now` is the current time.
    pub events: &'a mut EventQueue<Event>,
    /// The metrics recorder.
    pub recorder: &'a mut Recorder,
    /// The device's engines.
    pub engines: &'a mut Engines,
    /// The executor of batches.
    pub executor: &'a mut (dyn Executor + Send),
}

impl Context<'_> {
    /// The current time.
    pub fn now(&self) -> SimTime {
        self.events.now()
    }
}

/// A deployed partition, as the data plane is given it.
#[derive(Clone, Debug)]
pub struct PartitionSpec {
    /// App stage (model) it belongs to.
    pub stage: usize,
    /// Operator indices of the stage's model it runs (0-based, end-exclusive).
    pub ops: Range<usize>,
    /// Those operators.
    pub operators: Arc<[Operator]>,
    /// The runtime of its GPU work: the scenario's, or the partition's own.
    pub runtime: Arc<RuntimeProfile>,
}

/// A new partition's state: `spec` with its queue `queue`, sending its requests to `next`;
/// `first` when it takes the app's arrivals.
pub(super) fn partition_state(
    spec: PartitionSpec,
    queue: u32,
    next: Option<u32>,
    first: bool,
    accelerators: usize,
) -> PartitionState {
    PartitionState {
        output_elems: spec.operators[spec.operators.len() - 1].output_elems,
        stage: spec.stage,
        ops: spec.ops,
        operators: spec.operators,
        runtime: spec.runtime,
        instances: Vec::new(),
        queue,
        load: TimeWeighted::new(),
        window_arrivals: 0,
        window_exec: vec![ExecTally::default(); accelerators],
        inbound: 0,
        blocked: VecDeque::new(),
        footprints: Vec::new(),
        next,
        first,
        retired: None,
        feeders: 0,
        finished: false,
    }
}

/// How the data plane is set up for a run.
#[derive(Clone, Debug)]
pub struct PlaneConfig {
    /// The deployed partitions in pipeline order.
    pub partitions: Vec<PartitionSpec>,
    /// The device.
    pub device: Arc<DeviceProfile>,
    /// How instances are grouped into serving processes.
    pub process_layout: ProcessLayout,
    /// Usable unified memory, bytes.
    pub memory_limit_bytes: u64,
    /// The app's stages at every request size, where requests differ in size.
    pub tokens: Option<Arc<TokenModel>>,
    /// Longest queue between stages (per instance under join-shortest-queue routing).
    pub queue_capacity: usize,
    /// What a producer does when the next partition's queue is full.
    pub overflow: Overflow,
    /// Longest queue of the first partition; an arrival that finds it full is dropped.
    pub first_queue_limit: usize,
    /// Whether the first partition drops a request whose objective is already lost when its
    /// batch would start.
    pub drop_late: bool,
    /// How a partition's requests are spread over its instances.
    pub routing: Routing,
    /// The order a queue serves its requests in.
    pub queue_order: QueueOrder,
    /// Fixed part of a cold start on top of loading the weights from storage.
    pub cold_start_init: SimDuration,
    /// What each transport costs.
    pub transport_costs: TransportSpec,
    /// How tensors cross between partitions.
    pub transport: TransportKind,
    /// Control path of zero-copy tokens.
    pub control_path: ControlPath,
    /// Whether requests wait for an instance to appear at a partition that has none (the
    /// policy acts after deploying) instead of being dropped.
    pub wait_for_instances: bool,
    /// The query streams, in order (at least one), each with its stages: a pipeline (one
    /// route) or a family's variants (one route each, a request served by one as
    /// `route_weights` split the arrivals).
    pub streams: Vec<PlaneStream>,
    /// How arrivals split among the routes of every stream (see
    /// [`DataPlane::set_route_weights`]); empty: each stream's all to its first.
    pub route_weights: Vec<f64>,
}

/// Whose requests a queue holds: a partition's shared queue, or an instance's own queue (under
/// join-shortest-queue routing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QueueOwner {
    Partition(u32),
    Instance(u32),
}

/// What an in-place resize changes (`None`: unchanged).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Resize {
    /// CPU cores.
    pub cpu_cores: Option<u32>,
    /// Engine share, in (0, 1].
    pub compute_share: Option<f64>,
    /// Largest batch.
    pub max_batch: Option<u32>,
}

/// Counters since the previous policy tick.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Requests that arrived.
    pub arrivals: u64,
    /// Of those, per stream (as many entries as streams).
    pub stream_arrivals: Vec<u64>,
    /// Requests completed.
    pub completed: u64,
    /// Requests completed within the SLO.
    pub within_slo: u64,
    /// Requests dropped.
    pub dropped: u64,
    /// The least objective to go an arrival brought (its objective less the network delay it
    /// spent), ns; `None` when nothing arrived.
    pub min_budget_ns: Option<u64>,
}

/// The data plane of one run.
#[derive(Debug)]
pub struct DataPlane {
    device: Arc<DeviceProfile>,
    tokens: Option<Arc<TokenModel>>,
    cold_start_init: SimDuration,
    memory: UnifiedMemory,
    processes: Processes,
    /// Memory of processes and instances now, by kind.
    instance_memory: MemoryByKind,
    /// `instance_memory` when its total was highest.
    instance_memory_peak: MemoryByKind,
    /// CPU cores held by the batches running on the CPU now …
    cpu_cores_busy: u32,
    /// … of every CPU core of the device.
    cpu_cores_all: u32,
    /// Memory of processes and instances per accelerator (a process lives on one).
    accelerator_memory: Vec<u64>,
    sharing: SharingManager,
    transport: TransportSpec,
    transport_kind: TransportKind,
    control_path: ControlPath,
    routing: Routing,
    queue_order: QueueOrder,
    queue_capacity: usize,
    overflow: Overflow,
    first_queue_limit: usize,
    drop_late: bool,
    wait_for_instances: bool,
    /// Every partition ever deployed, by index (retired ones included).
    partitions: Vec<PartitionState>,
    /// The partitions of the current layout, in pipeline order: what new requests go through
    /// and what the policy sees.
    layout: Vec<u32>,
    /// A repartitioning waiting for its instances to be built before it switches.
    pending: Option<relayout::PendingLayout>,
    /// Every repartitioning applied (switched or pending), in order.
    reconfigurations: Vec<Reconfiguration>,
    refused_reconfigurations: u64,
    /// Instances that repartitionings put into or out of service, in time order.
    relayout_changes: Vec<InstanceChange>,
    instances: Vec<InstanceState>,
    queues: Vec<RequestQueue>,
    /// Whose requests each queue holds.
    queue_owner: Vec<QueueOwner>,
    requests: Slab<RequestState>,
    batches: Slab<BatchState>,
    transfers: Slab<TransferState>,
    /// Request-id vectors for reuse (batches and transfers), so a run allocates per request
    /// in flight, not per event.
    vec_pool: Vec<Vec<u32>>,
    /// Batches the executor reported finished during a call, handled right after it.
    finished: Vec<u32>,
    in_flight: u64,
    refused_instances: u64,
    window: Window,
    /// Latencies of the completions since the previous policy tick.
    window_latency: WindowLatency,
    /// How arrivals are split among routes, and what each route served.
    routes: Routes,
}

impl DataPlane {
    /// An empty data plane (no instances yet) for `config`'s partitions.
    pub fn new(config: PlaneConfig) -> Self {
        let accelerators = config.device.accelerators.len();
        let count = config.partitions.len();
        let routes = Routes::new(&config.streams, &config.route_weights);
        let route_of: Vec<u32> = config
            .partitions
            .iter()
            .map(|p| routes.of_stage(p.stage))
            .collect();
        let partitions: Vec<PartitionState> = config
            .partitions
            .into_iter()
            .enumerate()
            .map(|(k, p)| {
                let same_route = |j: usize| route_of[j] == route_of[k];
                let next = (k + 1 < count && same_route(k + 1)).then_some(k as u32 + 1);
                let first = k == 0 || !same_route(k - 1);
                partition_state(p, k as u32, next, first, accelerators)
            })
            .collect();
        let cpu_cores_all = config
            .device
            .accelerators
            .iter()
            .filter(|a| a.kind == AcceleratorKind::Cpu)
            .map(|a| a.cores)
            .sum();
        DataPlane {
            device: config.device,
            tokens: config.tokens,
            cold_start_init: config.cold_start_init,
            memory: UnifiedMemory::new(config.memory_limit_bytes),
            processes: Processes::new(config.process_layout),
            instance_memory: MemoryByKind::default(),
            instance_memory_peak: MemoryByKind::default(),
            cpu_cores_busy: 0,
            cpu_cores_all,
            accelerator_memory: vec![0; accelerators],
            sharing: SharingManager::default(),
            transport: config.transport_costs,
            transport_kind: config.transport,
            control_path: config.control_path,
            routing: config.routing,
            queue_order: config.queue_order,
            queue_capacity: config.queue_capacity,
            overflow: config.overflow,
            first_queue_limit: config.first_queue_limit,
            drop_late: config.drop_late,
            wait_for_instances: config.wait_for_instances,
            queues: vec![RequestQueue::default(); partitions.len()],
            queue_owner: (0..partitions.len() as u32)
                .map(QueueOwner::Partition)
                .collect(),
            layout: (0..partitions.len() as u32).collect(),
            pending: None,
            reconfigurations: Vec::new(),
            refused_reconfigurations: 0,
            relayout_changes: Vec::new(),
            partitions,
            instances: Vec::new(),
            requests: Slab::default(),
            batches: Slab::default(),
            transfers: Slab::default(),
            vec_pool: Vec::new(),
            finished: Vec::new(),
            in_flight: 0,
            refused_instances: 0,
            window: Window {
                stream_arrivals: vec![0; config.streams.len()],
                ..Window::default()
            },
            window_latency: WindowLatency::new(),
            routes,
        }
    }

    /// Handles one of the plane's events.
    pub fn handle(&mut self, ctx: &mut Context<'_>, event: PlaneEvent) {
        match event {
            PlaneEvent::BatchTimeout { queue, generation } => {
                self.on_batch_timeout(ctx, queue, generation)
            }
            PlaneEvent::TransferFixedDone { transfer } => self.end_transfer(ctx, transfer),
            PlaneEvent::InstanceReady { instance } => self.on_instance_ready(ctx, instance),
        }
    }

    /// Hands one of the executor's events to it, then ends the batches it reports finished.
    pub fn on_executor_event(&mut self, ctx: &mut Context<'_>, event: ExecEvent) {
        let mut exec = ExecContext::new(ctx.events, ctx.engines, ctx.recorder, &mut self.finished);
        ctx.executor.on_event(&mut exec, event);
        self.end_finished(ctx);
    }

    /// Tells the executor that fluid work of `batch` finished on the engines, then ends the
    /// batches it reports finished.
    pub fn on_batch_work_done(&mut self, ctx: &mut Context<'_>, batch: u32) {
        let mut exec = ExecContext::new(ctx.events, ctx.engines, ctx.recorder, &mut self.finished);
        ctx.executor.on_work_done(&mut exec, batch);
        self.end_finished(ctx);
    }

    /// Ends the batches the executor reported finished during the last call, in the order it
    /// reported them (a batch's end may start others, whose ends are handled within).
    fn end_finished(&mut self, ctx: &mut Context<'_>) {
        if self.finished.is_empty() {
            return;
        }
        let mut finished = std::mem::take(&mut self.finished);
        for batch in finished.drain(..) {
            self.finish_batch(ctx, batch);
        }
        debug_assert!(self.finished.is_empty());
        self.finished = finished;
    }

    // ----- what the control plane and the report read --------------------------------------

    /// Every partition deployed during the run, by index: those of the initial layout in
    /// pipeline order, then those repartitionings added (see [`Self::layout`]).
    pub fn partitions(&self) -> &[PartitionState] {
        &self.partitions
    }

    /// The partitions of the current layout, in pipeline order (indices into
    /// [`Self::partitions`]).
    pub fn layout(&self) -> &[u32] {
        &self.layout
    }

    /// The repartitionings applied, in order.
    pub fn reconfigurations(&self) -> &[Reconfiguration] {
        &self.reconfigurations
    }

    /// Repartitionings refused (another pending, memory, an executor that cannot).
    pub fn refused_reconfigurations(&self) -> u64 {
        self.refused_reconfigurations
    }

    /// Instances that repartitionings put into service (at the switch) or out of it (at the
    /// switch, or when their retired partition drained), in time order.
    pub fn relayout_changes(&self) -> &[InstanceChange] {
        &self.relayout_changes
    }

    /// Every instance ever created, by id (retired ones included).
    pub fn instances(&self) -> &[InstanceState] {
        &self.instances
    }

    /// Requests waiting in queue `queue`.
    pub fn queue_len(&self, queue: u32) -> usize {
        self.queues[queue as usize].requests.len()
    }

    /// When the request at the head of `queue` arrived at the app (`None`: the queue is empty).
    pub fn queue_head_arrival(&self, queue: u32) -> Option<SimTime> {
        let &head = self.queues[queue as usize].requests.front()?;
        Some(self.requests.get(head).arrived)
    }

    /// The partition's load gauge and arrival counter, which the policy's window takes.
    pub fn partition_window_mut(
        &mut self,
        partition: usize,
    ) -> (&mut TimeWeighted, &mut u64, &mut Vec<ExecTally>) {
        let p = &mut self.partitions[partition];
        (&mut p.load, &mut p.window_arrivals, &mut p.window_exec)
    }

    /// Takes the counters and the 99th percentile latency (ms) of the window since the previous
    /// call. The per-stream arrivals go into `stream_arrivals`, whose buffer the next window
    /// then counts in (nothing is allocated); the returned window's `stream_arrivals` is empty.
    pub fn take_window(&mut self, stream_arrivals: &mut Vec<u64>) -> (Window, Option<f64>) {
        let streams = self.window.stream_arrivals.len();
        stream_arrivals.clear();
        stream_arrivals.resize(streams, 0);
        std::mem::swap(stream_arrivals, &mut self.window.stream_arrivals);
        let zeroed = std::mem::take(&mut self.window.stream_arrivals);
        let window = std::mem::replace(
            &mut self.window,
            Window {
                stream_arrivals: zeroed,
                ..Window::default()
            },
        );
        let p99_ms = (self.window_latency.count() > 0)
            .then(|| self.window_latency.quantile_ns(0.99) as f64 / 1e6);
        self.window_latency.reset();
        (window, p99_ms)
    }

    /// Unified memory accounting.
    pub fn memory(&self) -> &UnifiedMemory {
        &self.memory
    }

    /// Live instances per partition and accelerator, and the process layout.
    pub fn census(&self) -> &Census {
        self.processes.census()
    }

    /// Serving processes alive now.
    pub fn processes_alive(&self) -> u32 {
        self.processes.alive()
    }

    /// Memory of processes and instances now, by kind.
    pub fn instance_memory(&self) -> MemoryByKind {
        self.instance_memory
    }

    /// Memory of processes and instances, by kind, when its total was highest during the run.
    pub fn instance_memory_peak(&self) -> MemoryByKind {
        self.instance_memory_peak
    }

    /// Memory of the processes and instances on `accelerator` now.
    pub fn accelerator_memory(&self, accelerator: usize) -> u64 {
        self.accelerator_memory[accelerator]
    }

    /// Requests in flight (arrived, neither completed nor dropped).
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Instances the policy asked for that did not fit in memory.
    pub fn refused_instances(&self) -> u64 {
        self.refused_instances
    }

    /// The transport between partitions.
    pub fn transport_kind(&self) -> TransportKind {
        self.transport_kind
    }

    /// The zero-copy region pools, one per partition edge.
    pub fn sharing_pools(&self) -> &[RegionPool] {
        self.sharing.pools()
    }

    /// Records the memory in use now.
    fn record_memory(&self, ctx: &mut Context<'_>) {
        ctx.recorder.memory(ctx.now(), self.memory.used_bytes());
    }

    /// Tells the recorder the CPU cores held now by the live instances on CPUs.
    fn record_cores(&self, ctx: &mut Context<'_>) {
        let cores: u32 = self
            .partitions
            .iter()
            .flat_map(|p| &p.instances)
            .map(|&i| &self.instances[i as usize])
            .filter(|inst| {
                self.device.accelerators[inst.accel as usize].kind == AcceleratorKind::Cpu
            })
            .map(|inst| inst.cores_held())
            .sum();
        ctx.recorder.cpu_cores_held(ctx.now(), cores);
    }

    /// Records the CPU cores held by running batches, against every CPU core of the device.
    fn record_busy_cores(&self, ctx: &mut Context<'_>) {
        ctx.recorder
            .cpu_cores_busy(ctx.now(), self.cpu_cores_busy, self.cpu_cores_all);
    }

    fn schedule(&self, ctx: &mut Context<'_>, at: SimTime, event: PlaneEvent) {
        ctx.events.schedule(at, event.into());
    }
}
