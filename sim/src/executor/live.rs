//! Live execution: batches run for real by a [`LiveExecutor`] (the `infscaler-hil` crate's
//! ONNX Runtime sessions), on the wall clock.
//!
//! [`LiveExecution`] is the [`Executor`] of a live run: it hands each batch to the
//! [`LiveExecutor`], holds the batch's engine in the [`crate::engines::Engines`] accounting
//! while it runs, and turns the completions the live executor reports into events at the wall
//! time they happened. The data of a request (its tensors) lives in the live executor, keyed by
//! request id; the data plane tells it when a request's data may be dropped
//! ([`LiveExecutor::release`]).

use std::ops::Range;

use super::{BatchInfo, ExecContext, Executor, InstanceInfo};
use crate::engine::EventQueue;
use crate::event::{Event, ExecEvent};
use crate::time::SimTime;

/// One partition of the deployed app, as a live executor must build it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LivePartition {
    /// App stage (index into the app's models).
    pub stage: usize,
    /// Name of the stage's model.
    pub model: String,
    /// Where the model comes from: the executor builds a zoo model or a model file as ONNX
    /// (random weights) and runs an `.onnx` file as it is.
    pub source: crate::model::source::ModelSource,
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
    /// Whether a hand-off between partitions copies the tensors (every transport but
    /// zero-copy, which hands the same values on).
    pub copies_tensors: bool,
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
    /// The run's time the batch starts at in the serving model (the event that started it):
    /// the wall clock is past it by however late the loop handled that event.
    pub dispatched: SimTime,
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

/// The [`Executor`] of a live run: a [`LiveExecutor`] on the wall clock.
pub struct LiveExecution {
    executor: Box<dyn LiveExecutor + Send>,
    /// Batches submitted and not yet finished.
    outstanding: u64,
    /// Engine and capacity units each running batch holds, by batch id.
    held: Vec<(usize, f64)>,
    /// The first error the live executor reported inside a call; the run stops on it.
    error: Option<LiveError>,
    completions: Vec<LiveCompletion>,
}

impl LiveExecution {
    /// Drives `executor`, which must be set up and have its clock started.
    pub fn new(executor: Box<dyn LiveExecutor + Send>) -> Self {
        LiveExecution {
            executor,
            outstanding: 0,
            held: Vec::new(),
            error: None,
            completions: Vec::new(),
        }
    }

    fn keep_first_error(&mut self, result: Result<(), LiveError>) {
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }
}

impl std::fmt::Debug for LiveExecution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveExecution")
            .field("outstanding", &self.outstanding)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Executor for LiveExecution {
    fn instance_created(&mut self, instance: InstanceInfo) {
        let result = self.executor.instance_created(LiveInstance {
            instance: instance.instance,
            partition: instance.partition,
            accelerator: instance.accelerator,
            cpu_cores: instance.cpu_cores,
        });
        self.keep_first_error(result);
    }

    fn instance_stopped(&mut self, instance: u32) {
        self.executor.instance_stopped(instance);
    }

    /// Hands the batch to the live executor; it holds its instance's engine until it finishes.
    /// After an error, nothing more is handed over: the run stops at the end of this event.
    fn submit(&mut self, ctx: &mut ExecContext<'_>, batch: BatchInfo<'_>) {
        if self.error.is_some() {
            return;
        }
        let accel = batch.accelerator as usize;
        let units = ctx.engines.units(accel, batch.cpu_cores);
        let now = ctx.now();
        ctx.engines.occupy(now, accel, units, ctx.recorder);
        let id = batch.batch as usize;
        if self.held.len() <= id {
            self.held.resize(id + 1, (0, 0.0));
        }
        self.held[id] = (accel, units);
        let result = self.executor.submit(LiveBatch {
            batch: batch.batch,
            instance: batch.instance,
            partition: batch.partition as usize,
            requests: batch.requests,
            dispatched: now,
        });
        if result.is_ok() {
            self.outstanding += 1;
        }
        self.keep_first_error(result);
    }

    /// A live batch finished: its engine is free and it ends as a simulated batch would.
    fn on_event(&mut self, ctx: &mut ExecContext<'_>, event: ExecEvent) {
        match event {
            ExecEvent::LiveBatchDone { batch } => {
                let (accel, units) = self.held[batch as usize];
                let now = ctx.now();
                ctx.engines.occupy(now, accel, -units, ctx.recorder);
                ctx.finished(batch);
            }
            ExecEvent::SegmentFixedDone { .. }
            | ExecEvent::InstanceAwake { .. }
            | ExecEvent::LoopAwake
            | ExecEvent::WakeWaitOver { .. }
            | ExecEvent::LoopHoldOver { .. } => {
                debug_assert!(false, "a simulated segment event in a live run");
            }
        }
    }

    fn on_work_done(&mut self, _ctx: &mut ExecContext<'_>, _batch: u32) {
        debug_assert!(false, "a live run starts no fluid work for batches");
    }

    fn release(&mut self, request: u32) {
        self.executor.release(request);
    }

    fn wait(
        &mut self,
        until: Option<SimTime>,
        events: &mut EventQueue<Event>,
    ) -> Result<Option<SimTime>, LiveError> {
        let wall = self.executor.wait(until, &mut self.completions)?;
        for c in self.completions.drain(..) {
            self.outstanding -= 1;
            let at = c.finished.max(events.now());
            events.schedule(at, ExecEvent::LiveBatchDone { batch: c.batch }.into());
        }
        Ok(Some(wall))
    }

    fn outstanding(&self) -> u64 {
        self.outstanding
    }

    fn take_error(&mut self) -> Option<LiveError> {
        self.error.take()
    }
}
