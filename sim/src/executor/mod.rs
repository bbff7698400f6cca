//! The executor boundary: who runs a batch, and on which clock.
//!
//! The data plane decides which requests form a batch and when it starts; an [`Executor`]
//! runs it and says when it ended. Serving code and policies are the same in every run; only
//! the executor differs, and with it the clock:
//!
//! - [`SimulatedExecutor`] ([`crate::Simulation::run`]): the cost model of
//!   [`crate::model::cost`] under contention on the [`Engines`], on a virtual clock that jumps
//!   to the next event.
//! - [`LiveExecution`] ([`crate::Simulation::run_live`]): a [`LiveExecutor`] runs each batch
//!   for real (the `infscaler-hil` crate: ONNX Runtime sessions on worker threads) and the run
//!   follows the wall clock, as ns-3's real-time scheduler does: the loop sleeps until the next
//!   event is due or a batch completes, and a completion becomes an event at the wall time it
//!   happened.
//!
//! In a live run everything but batch execution stays modelled: arrivals, queues, batching,
//! the policy, memory accounting, cold starts and the control-path cost of a transport (HTTP,
//! serialisation) are the serving layer's, now taking wall time.

mod live;
mod simulated;
mod wakeups;

pub use live::{
    LiveBatch, LiveCompletion, LiveError, LiveExecution, LiveExecutor, LiveInstance, LivePartition,
    LiveSetup,
};
pub use simulated::{ServiceTime, SimulatedExecutor};

use crate::engine::EventQueue;
use crate::engines::Engines;
use crate::event::{Event, ExecEvent};
use crate::metrics::Recorder;
use crate::time::SimTime;
use crate::workload::RequestTokens;

/// What an executor may touch while it handles a call: the event queue (and its clock), the
/// engines, the metrics recorder, and where it reports the batches that ended.
pub struct ExecContext<'a> {
    /// The run's event queue; its `now` is the current time.
    pub events: &'a mut EventQueue<Event>,
    /// The device's engines.
    pub engines: &'a mut Engines,
    /// The metrics recorder.
    pub recorder: &'a mut Recorder,
    finished: &'a mut Vec<u32>,
}

impl<'a> ExecContext<'a> {
    /// A context whose ended batches go to `finished` (the caller ends them after the call).
    pub fn new(
        events: &'a mut EventQueue<Event>,
        engines: &'a mut Engines,
        recorder: &'a mut Recorder,
        finished: &'a mut Vec<u32>,
    ) -> Self {
        ExecContext {
            events,
            engines,
            recorder,
            finished,
        }
    }

    /// The current time.
    pub fn now(&self) -> SimTime {
        self.events.now()
    }

    /// Schedules one of the executor's events.
    pub fn schedule(&mut self, at: SimTime, event: ExecEvent) {
        self.events.schedule(at, event.into());
    }

    /// Reports that `batch` ended now: the data plane takes its requests on when the call
    /// returns.
    pub fn finished(&mut self, batch: u32) {
        self.finished.push(batch);
    }
}

/// An instance, as an executor is told of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceInfo {
    /// Instance id (batches name it).
    pub instance: u32,
    /// Its partition, by index in pipeline order.
    pub partition: usize,
    /// Its accelerator, by index in the device profile.
    pub accelerator: usize,
    /// CPU cores it holds.
    pub cpu_cores: u32,
    /// The serving process it runs in (see `serving::ProcessLayout`): kernels of instances of
    /// one process share the GPU as streams, those of different processes time-slice it.
    pub process: u32,
}

/// A partition added during a run, as an executor is told of it.
#[derive(Clone, Copy, Debug)]
pub struct NewPartition<'a> {
    /// App stage (model) it belongs to.
    pub stage: usize,
    /// Its operators' indices in the stage's model (0-based, end-exclusive).
    pub ops: &'a std::ops::Range<usize>,
    /// Those operators.
    pub operators: &'a std::sync::Arc<[crate::model::Operator]>,
    /// The runtime of its GPU work.
    pub runtime: &'a std::sync::Arc<crate::model::runtime::RuntimeProfile>,
}

/// A batch to run.
#[derive(Clone, Copy, Debug)]
pub struct BatchInfo<'a> {
    /// Batch id: the executor reports its end with it ([`ExecContext::finished`]).
    pub batch: u32,
    /// The instance that runs it.
    pub instance: u32,
    /// The instance's partition.
    pub partition: u32,
    /// The instance's accelerator.
    pub accelerator: u32,
    /// CPU cores the instance holds.
    pub cpu_cores: u32,
    /// Most of its engine's compute the instance may use, in (0, 1] (1: no cap).
    pub compute_share: f64,
    /// The instance's serving process.
    pub process: u32,
    /// Request ids, in batch order.
    pub requests: &'a [u32],
    /// The size the batch runs at, where its stage depends on the requests' sizes: the longest
    /// prompt and the longest generation of its requests (see [`crate::model::tokens`]).
    pub tokens: Option<RequestTokens>,
}

/// Runs batches and keeps the run's clock. Calls come from the run's loop, on one thread.
pub trait Executor {
    /// An instance now exists (it may still be cold-starting in the serving model).
    fn instance_created(&mut self, instance: InstanceInfo);

    /// A partition was added at run time (a repartitioning): it takes the next partition index.
    /// An executor that cannot add partitions (a live one, whose sessions are built before the
    /// run) says why.
    fn add_partition(&mut self, _partition: NewPartition<'_>) -> Result<(), String> {
        Err("this executor cannot add partitions during a run".into())
    }

    /// An instance was retired: it gets no more batches.
    fn instance_stopped(&mut self, instance: u32);

    /// An instance now holds `cpu_cores` cores (an in-place resize), from its next batch. An
    /// executor that cannot follow (a live one, whose sessions' thread pools are fixed when
    /// they are built) says why, and the resize is refused.
    fn instance_resized(&mut self, _instance: u32, _cpu_cores: u32) -> Result<(), String> {
        Err("this executor cannot resize instances during a run".into())
    }

    /// Starts a batch. Its end is reported through [`ExecContext::finished`], in this call or
    /// in a later [`on_event`](Self::on_event) or [`on_work_done`](Self::on_work_done).
    fn submit(&mut self, ctx: &mut ExecContext<'_>, batch: BatchInfo<'_>);

    /// One of the executor's events is due.
    fn on_event(&mut self, ctx: &mut ExecContext<'_>, event: ExecEvent);

    /// Fluid work the executor started on the engines for `batch` finished.
    fn on_work_done(&mut self, ctx: &mut ExecContext<'_>, batch: u32);

    /// The request's data is no longer needed (it completed or was dropped); its id may be
    /// reused for a new request afterwards.
    fn release(&mut self, request: u32);

    /// How long batch `batch` (reported finished, not yet reused) takes with the device to
    /// itself, ns: the interference-free reference that adaptive policies compare its
    /// execution time with ([`crate::policy::ExecObservation`]). `None` where no model of it
    /// exists (a live executor).
    fn solo_ns(&self, _batch: u32) -> Option<u64> {
        None
    }

    /// The run's clock. On a wall clock: waits until the clock reaches `until` (`None`: until a
    /// batch finishes) or a batch finishes, schedules finished batches as events, and returns
    /// the time now. On the virtual clock (the default) there is nothing to wait for: `None`,
    /// and the loop jumps to the next event.
    fn wait(
        &mut self,
        _until: Option<SimTime>,
        _events: &mut EventQueue<Event>,
    ) -> Result<Option<SimTime>, LiveError> {
        Ok(None)
    }

    /// Batches running outside the event queue (on a live executor's workers).
    fn outstanding(&self) -> u64 {
        0
    }

    /// The first error since the last call, if any: the run stops on it.
    fn take_error(&mut self) -> Option<LiveError> {
        None
    }
}
