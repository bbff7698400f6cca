//! One instance of a live run: a thread that owns its ONNX Runtime session and runs the batches
//! sent to it, one at a time, reporting each when it finishes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Instant;

use ort::value::DynValue;

use super::data::{self, Gathered, RequestData};
use crate::cpu_time;
use crate::runtime::{OnnxSession, Runtime, SessionConfig};

/// A batch for a worker.
pub struct Job {
    /// Batch id.
    pub batch: u32,
    /// Its inputs.
    pub input: JobInput,
    /// When the loop sent it.
    pub sent: Instant,
}

/// Where a batch's inputs come from.
pub enum JobInput {
    /// The session's inputs, ready (a stage's first partition).
    Values(Vec<(String, Arc<DynValue>)>),
    /// The requests' data from the previous partition, gathered by the worker
    /// ([`data::gather`]): no copy when they are one whole batch in order.
    Rows {
        /// The requests' data, in batch order.
        rows: Vec<RequestData>,
        /// The session's input names.
        names: Vec<String>,
        /// Their batch axes ([`data::gather`]).
        axes: Vec<usize>,
    },
}

/// What workers report, on one channel shared by all of them.
pub enum Report {
    /// The worker's session is loaded.
    Ready {
        /// Instance id.
        instance: u32,
    },
    /// The session would not load; the worker has stopped.
    Failed {
        /// Instance id.
        instance: u32,
        /// Why.
        message: String,
    },
    /// A batch finished.
    Done {
        /// Batch id.
        batch: u32,
        /// When the run returned.
        finished: Instant,
        /// CPU threads other workers' runs used when this run returned (the reporting thread
        /// holds its own core while it wakes the loop).
        others_computing: u32,
        /// ONNX Runtime's run time, nanoseconds.
        run_ns: u64,
        /// CPU time the worker's thread spent in the run, nanoseconds (0: not measurable);
        /// below `run_ns` when the thread waited for a core.
        cpu_ns: u64,
        /// How the inputs were gathered (`None`: made fresh).
        gathered: Option<Gathered>,
        /// Time gathering took, nanoseconds.
        gather_ns: u64,
        /// Time from the loop sending the batch to the worker taking it, nanoseconds: the
        /// thread's wake-up (and its wait for a core) when it was idle, the previous batch's
        /// remaining run when it was not.
        pickup_ns: u64,
        /// The outputs, or why the run failed.
        outputs: Result<Vec<(String, Arc<DynValue>)>, String>,
    },
}

/// A running worker.
pub struct Worker {
    /// Where its batches go; dropping it stops the worker after the batches sent.
    pub jobs: Sender<Job>,
    /// Its thread.
    pub thread: JoinHandle<()>,
}

/// Starts the worker of `instance`: it loads `model` (ONNX bytes) with `config`, then runs jobs
/// until its job channel closes. While a run lasts, `computing` counts the CPU threads it uses
/// (its intra-op threads; one otherwise).
pub fn spawn(
    rt: &'static Runtime,
    instance: u32,
    name: String,
    model: Arc<Vec<u8>>,
    config: SessionConfig,
    reports: Sender<Report>,
    computing: Arc<AtomicU32>,
) -> std::io::Result<Worker> {
    let threads = config.intra_threads.unwrap_or(1).max(1) as u32;
    let (jobs, inbox): (Sender<Job>, Receiver<Job>) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("hil-instance-{instance}"))
        .spawn(move || {
            let mut session = match OnnxSession::from_bytes(rt, &model, &name, &config) {
                Ok(s) => s,
                Err(e) => {
                    let _ = reports.send(Report::Failed {
                        instance,
                        message: e.to_string(),
                    });
                    return;
                }
            };
            if reports.send(Report::Ready { instance }).is_err() {
                return;
            }
            while let Ok(job) = inbox.recv() {
                let gather_start = Instant::now();
                let pickup_ns = gather_start.saturating_duration_since(job.sent).as_nanos() as u64;
                let (inputs, gathered) = match job.input {
                    JobInput::Values(values) => (Ok(values), None),
                    JobInput::Rows { rows, names, axes } => {
                        let refs: Vec<&RequestData> = rows.iter().collect();
                        match data::gather(&refs, &names, &axes) {
                            Ok((values, how)) => (Ok(values), Some(how)),
                            Err(m) => (Err(m), None),
                        }
                    }
                };
                let cpu_start = cpu_time::thread_cpu_ns();
                computing.fetch_add(threads, Ordering::SeqCst);
                let start = Instant::now();
                let outputs = inputs
                    .and_then(|inputs| session.run_values(&inputs).map_err(|e| e.to_string()));
                let finished = Instant::now();
                let others_computing = computing
                    .fetch_sub(threads, Ordering::SeqCst)
                    .saturating_sub(threads);
                let cpu_ns = match (cpu_start, cpu_time::thread_cpu_ns()) {
                    (Some(a), Some(b)) => b.saturating_sub(a),
                    _ => 0,
                };
                let report = Report::Done {
                    batch: job.batch,
                    finished,
                    others_computing,
                    run_ns: (finished - start).as_nanos() as u64,
                    cpu_ns,
                    gathered,
                    gather_ns: (start - gather_start).as_nanos() as u64,
                    pickup_ns,
                    outputs,
                };
                if reports.send(report).is_err() {
                    return;
                }
            }
        })?;
    Ok(Worker { jobs, thread })
}
