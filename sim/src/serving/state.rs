//! Run-time state of the data plane: partitions, instances, requests, batches and transfers.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use crate::metrics::TimeWeighted;
use crate::model::Operator;
use crate::model::cost::Footprint;
use crate::model::runtime::RuntimeProfile;
use crate::serving::InstanceConfig;
use crate::serving::sharing::RegionRef;
use crate::time::{SimDuration, SimTime};
use crate::workload::RequestTokens;

/// One partition of one stage's model, as deployed.
#[derive(Clone, Debug)]
pub struct PartitionState {
    /// App stage (model) it belongs to.
    pub stage: usize,
    /// Operator indices of the model it runs (0-based, end-exclusive).
    pub ops: Range<usize>,
    /// Those operators.
    pub operators: Arc<[Operator]>,
    /// The runtime of its GPU work (its memory per process and context).
    pub runtime: Arc<RuntimeProfile>,
    /// Activation elements of one sample's output.
    pub output_elems: u64,
    /// Its instances not yet stopped (starting, ready or draining), by instance index, in the
    /// order they were created. A stopped instance leaves the list, so that scanning it costs
    /// what is alive, not every instance a scaling policy ever made.
    pub instances: Vec<u32>,
    /// Its own request queue: shared by its instances under shared-queue routing; under
    /// join-shortest-queue routing, where requests wait while it has no accepting instance.
    pub queue: u32,
    /// Requests at the partition (queued or in service), integrated over time.
    pub load: TimeWeighted,
    /// Requests that entered it since the last policy tick.
    pub window_arrivals: u64,
    /// Batches it finished since the last policy tick, per accelerator (profile order).
    pub window_exec: Vec<ExecTally>,
    /// Requests travelling to it (their room in its queues is taken under blocking overflow).
    pub inbound: u32,
    /// Finished batches of the previous partition waiting for room in its queues (blocking
    /// overflow), oldest first.
    pub blocked: VecDeque<BlockedBatch>,
    /// Memory footprints computed so far, by `(accelerator, max_batch)`: a policy may ask for
    /// the same instance many times when memory refuses it.
    pub footprints: Vec<(u32, u32, Footprint)>,
    /// Where its requests go next (`None`: they complete). A repartitioning relinks the
    /// partitions it keeps; a partition it retires keeps its link, so the requests inside it
    /// finish on the layout they started on.
    pub next: Option<u32>,
    /// Whether it takes the app's arrivals (its queue is bounded by the admission limit).
    pub first: bool,
    /// When a repartitioning took it out of the layout (`None`: in the layout).
    pub retired: Option<SimTime>,
    /// Retired partitions that still may send it requests (while it is retired).
    pub feeders: u32,
    /// Whether it is retired and empty, its instances stopped.
    pub finished: bool,
}

/// The outputs of a finished batch held by their producer until the next partition's queues
/// have room for them (blocking overflow); the producing instance stays busy meanwhile.
#[derive(Clone, Debug)]
pub struct BlockedBatch {
    /// The producing instance.
    pub instance: u32,
    /// The requests whose outputs wait.
    pub requests: Vec<u32>,
    /// Whether a zero-copy region had to be allocated for one of them.
    pub token_fault: bool,
}

/// A FIFO of requests with its batch timer.
#[derive(Clone, Debug, Default)]
pub struct RequestQueue {
    /// Requests waiting, oldest first.
    pub requests: VecDeque<u32>,
    /// Whether a batch timer is pending.
    pub timer_armed: bool,
    /// Generation of the batch timer: a popped timer with another generation is stale.
    pub timer_generation: u32,
}

/// Lifecycle of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstancePhase {
    /// Loading weights; accepts requests into its queue.
    Starting,
    /// Serving.
    Ready,
    /// Retiring: takes no new requests, finishes its queue.
    Draining,
    /// Built for a layout a repartitioning switches to: holds memory, takes no requests until
    /// the switch (`built` tells whether its engine is ready).
    Pending {
        /// Whether its reconfiguration (engine build) is done.
        built: bool,
    },
    /// Gone; its memory is free.
    Stopped,
}

/// A replica of one partition on one accelerator.
#[derive(Clone, Debug)]
pub struct InstanceState {
    /// Global partition index.
    pub partition: u32,
    /// Accelerator index.
    pub accel: u32,
    /// Batching and cores.
    pub config: InstanceConfig,
    /// Lifecycle phase.
    pub phase: InstancePhase,
    /// The queue it serves (its own, or its partition's shared one).
    pub queue: u32,
    /// Whether a batch is executing.
    pub busy: bool,
    /// Its memory as if alone in its process; what it adds and gives back depends on what its
    /// process holds already (see [`crate::serving::process::Processes`]).
    pub footprint: Footprint,
    /// The serving process it runs in (assigned by the process layout).
    pub process: u32,
    /// Requests in the batch being executed.
    pub in_service: u32,
    /// Whether a resize to 0 cores holds it: it starts no batch (and holds no cores) until
    /// resized to some ([`crate::policy::Action::Resize`]).
    pub held: bool,
}

impl InstanceState {
    /// Whether the router may send it requests.
    pub fn accepts(&self) -> bool {
        matches!(self.phase, InstancePhase::Starting | InstancePhase::Ready)
    }

    /// CPU cores it holds now: none while held.
    pub fn cores_held(&self) -> u32 {
        if self.held { 0 } else { self.config.cpu_cores }
    }
}

/// One request in flight.
#[derive(Clone, Copy, Debug)]
pub struct RequestState {
    /// When it arrived.
    pub arrived: SimTime,
    /// Its latency objective (the scenario's, or its own for requests of different sizes).
    pub slo: SimDuration,
    /// Its size in tokens (zero where the app does not depend on it).
    pub tokens: RequestTokens,
    /// Global partition it is at.
    pub partition: u32,
    /// Unified memory its current tensor holds (a private buffer, or a sharing region).
    pub buffer_bytes: u64,
    /// The sharing region its tensor is in, when it arrived by zero-copy token.
    pub region: Option<RegionRef>,
    /// When it entered its current partition's queue.
    pub enqueued: SimTime,
    /// When its batch started executing.
    pub exec_start: SimTime,
    /// When its batch finished executing.
    pub exec_end: SimTime,
    /// When its output started travelling to the next partition (after `exec_end` by the time it
    /// was blocked).
    pub handed_off: SimTime,
}

/// A batch executing on an instance (how it executes is the executor's).
#[derive(Clone, Debug)]
pub struct BatchState {
    /// Instance index.
    pub instance: u32,
    /// Requests in the batch.
    pub requests: Vec<u32>,
    /// CPU cores it holds while it runs (0 off the CPU).
    pub cpu_cores: u32,
}

/// Tensors of one finished batch travelling to the next partition.
#[derive(Clone, Debug)]
pub struct TransferState {
    /// Requests whose tensors travel.
    pub requests: Vec<u32>,
    /// Source partition.
    pub from_partition: u32,
    /// Destination partition.
    pub to_partition: u32,
    /// Extra buffer held until the transfer ends.
    pub extra_buffer_bytes: u64,
    /// Fixed delay after the CPU work.
    pub fixed_ns: u64,
}

/// Execution times of the batches a partition finished on one accelerator over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExecTally {
    /// Batches finished.
    pub batches: u64,
    /// Requests in them.
    pub requests: u64,
    /// Their execution times, summed, ns.
    pub exec_ns: u128,
    /// Their times alone on the device (the executor's reference), summed, ns; batches without
    /// one (a live executor) are left out of it and of `solo_batches`.
    pub solo_ns: u128,
    /// Batches counted in `solo_ns`.
    pub solo_batches: u64,
}
