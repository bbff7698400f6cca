//! The executor boundary: who runs a batch, and on which clock.
//!
//! Serving code and policies are the same in every run; only the answer to "how long does this
//! batch take on this accelerator" differs:
//!
//! - **Simulated** ([`crate::Simulation::run`]): the cost model of [`crate::model::cost`] under
//!   contention, on a virtual clock that jumps to the next event.
//! - **Live** ([`crate::Simulation::run_live`]): a [`LiveExecutor`] runs each batch for real
//!   (the `infscaler-hil` crate: ONNX Runtime sessions on worker threads) and the run follows
//!   the wall clock, as ns-3's real-time scheduler does: the loop sleeps until the next event is
//!   due or a batch completes, and a completion becomes an event at the wall time it happened.
//!
//! In a live run everything but batch execution stays modelled: arrivals, queues, batching,
//! the policy, memory accounting, cold starts and the control-path cost of a transport (HTTP,
//! serialisation) are the serving layer's, now taking wall time. The data of a request (its
//! tensors) lives in the executor, keyed by request id; the serving layer tells it when a
//! request's data may be dropped ([`LiveExecutor::release`]).

use std::ops::Range;

use crate::serving::transport::TransportKind;
use crate::time::SimTime;

/// One partition of the deployed app, as a live executor must build it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LivePartition {
    /// App stage (index into the app's models).
    pub stage: usize,
    /// Zoo model name of the stage.
    pub model: String,
    /// The operators it runs (indices into the model's operator list).
    pub operators: Range<usize>,
    /// Operators of the whole model.
    pub model_operators: usize,
    /// Every cut of this stage's model, as in `policy.stages[].cuts` (a partition ends after
    /// operator `#cut`), so the executor can split the model once per stage.
    pub stage_cuts: Vec<usize>,
}

/// What a live executor is told before the run starts.
#[derive(Clone, Debug)]
pub struct LiveSetup {
    /// The deployed partitions, in pipeline order (a batch names its partition by index here).
    pub partitions: Vec<LivePartition>,
    /// Accelerator names of the device, by index.
    pub accelerators: Vec<String>,
    /// How tensors cross from one partition to the next.
    pub transport: TransportKind,
    /// Sequence length of transformer models.
    pub seq_len: usize,
}

/// An instance of a partition on an accelerator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveInstance {
    /// Instance id (batches name it).
    pub instance: u32,
    /// Partition index in [`LiveSetup::partitions`].
    pub partition: usize,
    /// Accelerator index in [`LiveSetup::accelerators`].
    pub accelerator: usize,
    /// CPU cores it holds (ONNX Runtime intra-op threads on the CPU provider).
    pub cpu_cores: u32,
}

/// A batch to run.
#[derive(Clone, Copy, Debug)]
pub struct LiveBatch<'a> {
    /// Batch id, handed back in its [`LiveCompletion`].
    pub batch: u32,
    /// The instance that runs it.
    pub instance: u32,
    /// The instance's partition.
    pub partition: usize,
    /// Request ids, in batch order. A request entering a stage's first partition has no data
    /// yet (the executor makes its input); otherwise its data is the previous partition's output.
    pub requests: &'a [u32],
}

/// A batch finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveCompletion {
    /// The batch's id.
    pub batch: u32,
    /// Wall time it finished, since the clock started.
    pub finished: SimTime,
}

/// A live run failed (a model would not load or run, a worker died).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("live run: {0}")]
pub struct LiveError(pub String);

/// Runs batches for real. Calls come from the run's loop, on one thread, in this order:
/// [`setup`](Self::setup), [`instance_created`](Self::instance_created) for the deployment,
/// [`start_clock`](Self::start_clock), then any mix of the others until the run ends.
pub trait LiveExecutor {
    /// Builds what the partitions need (models, sessions are made per instance).
    fn setup(&mut self, setup: &LiveSetup) -> Result<(), LiveError>;

    /// An instance now exists (it may still be cold-starting in the serving model): make it
    /// ready to run batches (e.g. a worker thread with its own session).
    fn instance_created(&mut self, instance: LiveInstance) -> Result<(), LiveError>;

    /// An instance was retired: it gets no more batches.
    fn instance_stopped(&mut self, instance: u32);

    /// Waits until the deployment's instances are ready, then starts the wall clock: time zero
    /// of the run is now.
    fn start_clock(&mut self) -> Result<(), LiveError>;

    /// Starts running a batch; it finishes later, reported by [`wait`](Self::wait).
    fn submit(&mut self, batch: LiveBatch<'_>) -> Result<(), LiveError>;

    /// The request's data is no longer needed (it completed or was dropped); its id may be
    /// reused for a new request afterwards.
    fn release(&mut self, request: u32);

    /// Blocks until the wall clock reaches `until` (`None`: until a batch finishes) or a
    /// batch finishes, whichever is first; appends finished batches to `done` and returns the
    /// wall time now.
    fn wait(
        &mut self,
        until: Option<SimTime>,
        done: &mut Vec<LiveCompletion>,
    ) -> Result<SimTime, LiveError>;
}
