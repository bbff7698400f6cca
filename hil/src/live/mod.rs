//! Live runs: the simulator's serving loop on the wall clock with real ONNX Runtime partitions.
//!
//! [`OrtExecutor`] is the [`LiveExecutor`] of `infscaler hil run`: each instance the policy
//! deploys is a worker thread ([`worker`]) with its own ONNX Runtime session of its partition
//! (built from the stage's layer description or read from its `.onnx` file, split at the
//! deployment's cuts), on the execution provider its accelerator maps to. Batches go to the instance's worker; their outputs come
//! back as ONNX Runtime values and are handed to the next partition as they are — no copy under
//! the zero-copy transport when the next batch has the same requests ([`data`]), one real copy
//! per hand-off under a copying transport. [`LiveStats`] counts both.

pub mod data;
pub mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infscaler_sim::executor::{
    LiveBatch, LiveCompletion, LiveError, LiveExecutor, LiveInstance, LiveSetup,
};
use infscaler_sim::model::onnx::InputKind;
use infscaler_sim::model::onnx::proto::ValueInfoProto;
use infscaler_sim::model::zoo::ZooOptions;
use infscaler_sim::time::{SimDuration, SimTime};
use ort::value::DynValue;

use crate::from_network::BuildOptions;
use crate::onnx;
use crate::runtime::{ExecutionProvider, Runtime, SessionConfig};
use crate::source::stage_onnx;
use crate::split::split_model;
use data::{Gathered, RequestData, TensorSet};
use worker::{Job, JobInput, Report, Worker};

/// How a live run executes.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveOptions {
    /// The execution provider of each accelerator of the device, by index.
    pub providers: Vec<ExecutionProvider>,
    /// Seed of the models' random weights.
    pub weights_seed: u64,
}

/// What the executor measured, beyond the serving report.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct LiveStats {
    /// Batches run.
    pub batches: u64,
    /// Sum of ONNX Runtime's run times, nanoseconds.
    pub run_ns: u64,
    /// Sum of the CPU time of those runs' threads, nanoseconds (0 where not measurable).
    pub cpu_ns: u64,
    /// Batches whose inputs were the previous partition's outputs as they were (no copy).
    pub inputs_zero_copy: u64,
    /// Batches whose inputs were gathered from several batches' rows (copied).
    pub inputs_gathered: u64,
    /// Bytes copied gathering inputs.
    pub gathered_bytes: u64,
    /// Time spent gathering, nanoseconds.
    pub gather_ns: u64,
    /// Sum over batches of how far the loop's wall clock was past a batch's start in the serving
    /// model when it sent the batch to its worker, nanoseconds ([`PartitionRuns::loop_lag_ns`]).
    pub loop_lag_ns: u64,
    /// Sum over batches of the time from sending a batch to its worker taking it, nanoseconds
    /// ([`PartitionRuns::pickup_ns`]).
    pub pickup_ns: u64,
    /// Batches sent while runs held every CPU core of the machine but the one the sending loop
    /// holds (no core free for the woken worker).
    pub handoffs_no_core_free: u64,
    /// Their hand-off time (`loop_lag_ns` + `pickup_ns`), summed, nanoseconds.
    pub handoff_no_core_free_ns: u64,
    /// Hand-offs a copying transport copied.
    pub transport_copies: u64,
    /// Bytes those copies moved.
    pub transport_copy_bytes: u64,
    /// Time they took, nanoseconds.
    pub transport_copy_ns: u64,
    /// Times the loop slept until an event was due.
    pub timed_waits: u64,
    /// Sum over those of how late the loop woke, nanoseconds (the wall clock's scheduling lag).
    pub wake_late_ns: u64,
    /// The latest wake-up, nanoseconds.
    pub wake_late_max_ns: u64,
    /// Per partition: batches, requests and ONNX Runtime run time.
    pub partitions: Vec<PartitionRuns>,
    /// Of the machine's CPU time during the run (all processes): the share busy and the share
    /// a hypervisor took (steal), where the platform tells (`/proc/stat`).
    pub machine_busy_share: Option<f64>,
    /// See `machine_busy_share`.
    pub machine_steal_share: Option<f64>,
    /// Every worker's wake-up (the time from the loop sending a batch to the worker taking it),
    /// nanoseconds: of batches sent while a core was free (`[0]`) and while runs held every core
    /// but the loop's (`[1]`), as the simulation classes an instance thread's wake-up.
    #[serde(skip)]
    pub wakeups: [Vec<u64>; 2],
    /// Every send of a batch to its worker as the loop saw it (from before the send to the
    /// loop running again after it), nanoseconds, classed as `wakeups`: long where the worker
    /// it woke took the loop's core.
    #[serde(skip)]
    pub sends: [Vec<u64>; 2],
    /// Every result as the loop took it (from the run's end to the loop taking the report),
    /// nanoseconds: of runs that ended with a core free besides the reporting thread's (`[0]`)
    /// and with every other core running a batch (`[1]`), as the simulation classes the loop's
    /// wake-up to take a result.
    #[serde(skip)]
    pub results: [Vec<u64>; 2],
    /// How late the loop woke after each timed wait, nanoseconds (`wake_late_ns` one by one).
    #[serde(skip)]
    pub timer_lates: Vec<u64>,
}

impl LiveStats {
    /// The batches' hand-offs (`loop_lag_ns` + `pickup_ns`): their sum in nanoseconds and their
    /// count, of those sent while a core was free (`[0]`) and of those sent while runs held every
    /// core but the loop's (`[1]`).
    pub fn handoffs(&self) -> [(u64, u64); 2] {
        let busy = (self.handoff_no_core_free_ns, self.handoffs_no_core_free);
        let all = (self.loop_lag_ns + self.pickup_ns, self.batches);
        [(all.0 - busy.0, all.1 - busy.1), busy]
    }
}

/// ONNX Runtime runs of one partition.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PartitionRuns {
    /// Batches run.
    pub batches: u64,
    /// Requests in them.
    pub requests: u64,
    /// Sum of run times, nanoseconds.
    pub run_ns: u64,
    /// Sum of their threads' CPU time, nanoseconds: below `run_ns` when runs waited for cores.
    pub cpu_ns: u64,
    /// Sum of how late the loop sent its batches, nanoseconds: the wall clock at the send less
    /// the batch's start in the serving model (the time of the arrival or completion that
    /// started it), i.e. the loop's wake-up, its wait for a core and its own work.
    pub loop_lag_ns: u64,
    /// Sum of the time from the loop sending a batch to the worker taking it, nanoseconds.
    pub pickup_ns: u64,
    /// Sum of the time from a batch's run ending to the loop taking its report, nanoseconds.
    pub report_ns: u64,
    /// Every run's times, by batch size (for a profile of the live run's own times).
    #[serde(skip)]
    pub runs_by_batch: std::collections::BTreeMap<u32, Vec<RunTimes>>,
}

/// The times of one ONNX Runtime run, nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunTimes {
    /// Wall time.
    pub wall_ns: u64,
    /// Its thread's CPU time (0 where not measurable).
    pub cpu_ns: u64,
}

/// Per partition: the session model and what its inputs are.
struct PartitionModel {
    name: String,
    onnx: Arc<Vec<u8>>,
    /// Graph input names, in order.
    inputs: Vec<String>,
    /// Their batch axes (0, or 1 for a time-major value).
    input_batch_axes: Vec<usize>,
    /// For a stage's first partition, the model input's per-sample shape and what it holds
    /// (its data is made here); `None` when the inputs are the previous partition's outputs.
    fresh_input: Option<(Vec<usize>, InputKind)>,
    /// Whether its outputs feed the next partition (not the last of its stage).
    feeds_next: bool,
}

struct Submitted {
    requests: Vec<u32>,
    partition: usize,
    /// How late the loop sent it after its start in the serving model, nanoseconds.
    loop_lag_ns: u64,
    /// Whether runs held every CPU core but the sending loop's when it was sent.
    no_core_free: bool,
}

/// The live executor on ONNX Runtime (see the module documentation).
pub struct OrtExecutor {
    rt: &'static Runtime,
    options: LiveOptions,
    /// Whether hand-offs copy the tensors (a copying transport).
    copies_tensors: bool,
    partitions: Vec<PartitionModel>,
    workers: HashMap<u32, Option<Worker>>,
    finished_workers: Vec<Worker>,
    not_ready: usize,
    reports_tx: Sender<Report>,
    reports_rx: Receiver<Report>,
    requests: HashMap<u32, RequestData>,
    batches: HashMap<u32, Submitted>,
    fresh_inputs: HashMap<(usize, usize), Arc<DynValue>>,
    t0: Option<Instant>,
    stats: Arc<Mutex<LiveStats>>,
    /// CPU threads the workers' runs use now.
    computing: Arc<AtomicU32>,
    /// The machine's logical CPUs.
    machine_cores: u32,
}

impl OrtExecutor {
    /// An executor on the loaded runtime `rt`.
    pub fn new(rt: &'static Runtime, options: LiveOptions) -> Self {
        let (reports_tx, reports_rx) = mpsc::channel();
        OrtExecutor {
            rt,
            options,
            copies_tensors: false,
            partitions: Vec::new(),
            workers: HashMap::new(),
            finished_workers: Vec::new(),
            not_ready: 0,
            reports_tx,
            reports_rx,
            requests: HashMap::new(),
            batches: HashMap::new(),
            fresh_inputs: HashMap::new(),
            t0: None,
            stats: Arc::default(),
            computing: Arc::default(),
            machine_cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        }
    }

    /// A handle on the executor's counters, readable after the run.
    pub fn stats(&self) -> Arc<Mutex<LiveStats>> {
        self.stats.clone()
    }

    fn now(&self) -> SimTime {
        match self.t0 {
            Some(t0) => SimTime::ZERO + SimDuration::from_ns(t0.elapsed().as_nanos() as u64),
            None => SimTime::ZERO,
        }
    }

    fn at(&self, instant: Instant) -> SimTime {
        let t0 = self.t0.unwrap_or(instant);
        SimTime::ZERO
            + SimDuration::from_ns(instant.saturating_duration_since(t0).as_nanos() as u64)
    }

    fn stats_mut(&self) -> std::sync::MutexGuard<'_, LiveStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Handles one worker report; a finished batch goes to `done`.
    fn on_report(
        &mut self,
        report: Report,
        done: &mut Vec<LiveCompletion>,
    ) -> Result<(), LiveError> {
        match report {
            Report::Ready { .. } => self.not_ready = self.not_ready.saturating_sub(1),
            Report::Failed { instance, message } => {
                return Err(LiveError(format!("instance {instance}: {message}")));
            }
            Report::Done {
                batch,
                finished,
                others_computing,
                run_ns,
                cpu_ns,
                gathered,
                gather_ns,
                pickup_ns,
                outputs,
            } => {
                let report_ns = finished.elapsed().as_nanos() as u64;
                let Some(sub) = self.batches.remove(&batch) else {
                    return Err(LiveError(format!(
                        "a worker finished unknown batch {batch}"
                    )));
                };
                let part = &self.partitions[sub.partition];
                let values = outputs.map_err(|m| LiveError(format!("{}: {m}", part.name)))?;
                {
                    let mut s = self.stats_mut();
                    s.batches += 1;
                    s.run_ns += run_ns;
                    s.cpu_ns += cpu_ns;
                    if s.partitions.len() <= sub.partition {
                        s.partitions
                            .resize(sub.partition + 1, PartitionRuns::default());
                    }
                    let p = &mut s.partitions[sub.partition];
                    p.batches += 1;
                    p.requests += sub.requests.len() as u64;
                    p.run_ns += run_ns;
                    p.cpu_ns += cpu_ns;
                    p.pickup_ns += pickup_ns;
                    p.report_ns += report_ns;
                    p.loop_lag_ns += sub.loop_lag_ns;
                    p.runs_by_batch
                        .entry(sub.requests.len() as u32)
                        .or_default()
                        .push(RunTimes {
                            wall_ns: run_ns,
                            cpu_ns,
                        });
                    s.gather_ns += gather_ns;
                    s.pickup_ns += pickup_ns;
                    s.loop_lag_ns += sub.loop_lag_ns;
                    s.wakeups[usize::from(sub.no_core_free)].push(pickup_ns);
                    let ended_busy = others_computing + 1 >= self.machine_cores;
                    s.results[usize::from(ended_busy)].push(report_ns);
                    if sub.no_core_free {
                        s.handoffs_no_core_free += 1;
                        s.handoff_no_core_free_ns += sub.loop_lag_ns + pickup_ns;
                    }
                    match gathered {
                        Some(Gathered::ZeroCopy) => s.inputs_zero_copy += 1,
                        Some(Gathered::Copied { bytes }) => {
                            s.inputs_gathered += 1;
                            s.gathered_bytes += bytes;
                        }
                        None => {}
                    }
                }
                if part.feeds_next {
                    let mut set = TensorSet {
                        values,
                        rows: sub.requests.len(),
                    };
                    if self.copies_tensors {
                        let start = Instant::now();
                        let (copy, bytes) = data::copy_set(&set)
                            .map_err(|m| LiveError(format!("{}: {m}", part.name)))?;
                        let ns = start.elapsed().as_nanos() as u64;
                        set = copy;
                        let mut s = self.stats_mut();
                        s.transport_copies += 1;
                        s.transport_copy_bytes += bytes;
                        s.transport_copy_ns += ns;
                    }
                    let set = Arc::new(set);
                    for (row, &r) in sub.requests.iter().enumerate() {
                        self.requests.insert(
                            r,
                            RequestData {
                                set: set.clone(),
                                row,
                            },
                        );
                    }
                } else {
                    for r in &sub.requests {
                        self.requests.remove(r);
                    }
                }
                done.push(LiveCompletion {
                    batch,
                    finished: self.at(finished),
                });
            }
        }
        Ok(())
    }

    fn fresh_input(&mut self, partition: usize, rows: usize) -> Result<Arc<DynValue>, LiveError> {
        if let Some(v) = self.fresh_inputs.get(&(partition, rows)) {
            return Ok(v.clone());
        }
        let (per_sample, kind) = self.partitions[partition]
            .fresh_input
            .clone()
            .unwrap_or((Vec::new(), InputKind::Float));
        let shape: Vec<usize> = std::iter::once(rows).chain(per_sample).collect();
        let value = Arc::new(data::input_value(&shape, kind).map_err(LiveError)?);
        self.fresh_inputs.insert((partition, rows), value.clone());
        Ok(value)
    }
}

impl LiveExecutor for OrtExecutor {
    fn setup(&mut self, setup: &LiveSetup) -> Result<(), LiveError> {
        if self.options.providers.len() != setup.accelerators.len() {
            return Err(LiveError(format!(
                "{} execution providers for {} accelerators ({})",
                self.options.providers.len(),
                setup.accelerators.len(),
                setup.accelerators.join(", ")
            )));
        }
        self.copies_tensors = setup.copies_tensors;
        let zoo_opts = ZooOptions {
            seq_len: setup.seq_len,
            ..Default::default()
        };
        let build = BuildOptions {
            seed: self.options.weights_seed,
        };
        // One ONNX model per stage, split at that stage's cuts.
        let mut by_stage: HashMap<usize, Vec<crate::split::Partition>> = HashMap::new();
        let mut inputs_of: HashMap<usize, (Vec<usize>, InputKind)> = HashMap::new();
        for (k, p) in setup.partitions.iter().enumerate() {
            let err = |m: String| LiveError(format!("partition {k} ({}): {m}", p.model));
            if let std::collections::hash_map::Entry::Vacant(slot) = by_stage.entry(p.stage) {
                let (model, net) = stage_onnx(&p.source, &zoo_opts, &build).map_err(err)?;
                let graph = model.graph.as_ref().ok_or_else(|| err("no graph".into()))?;
                // The graph's inputs that are not weights (older files list both).
                let inits: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
                let inputs: Vec<&ValueInfoProto> = graph
                    .input
                    .iter()
                    .filter(|i| !inits.contains(&i.name.as_str()))
                    .collect();
                let kind = inputs
                    .first()
                    .map_or(InputKind::Float, |i| onnx::input_kind(graph, i));
                inputs_of.insert(p.stage, (net.input_shape().to_vec(), kind));
                let parts = if p.stage_cuts.is_empty() {
                    let inputs: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
                    let outputs = graph.output.iter().map(|o| o.name.clone()).collect();
                    vec![crate::split::Partition {
                        operators: 0..p.model_operators,
                        input_batch_axes: vec![0; inputs.len()],
                        inputs,
                        outputs,
                        model,
                    }]
                } else {
                    split_model(&model, &p.stage_cuts, &p.model).map_err(|e| err(e.to_string()))?
                };
                slot.insert(parts);
            }
            let part = by_stage[&p.stage]
                .iter()
                .find(|q| q.operators == p.operators)
                .ok_or_else(|| err(format!("no split part covers operators {:?}", p.operators)))?;
            let fresh_input = if p.operators.start == 0 {
                Some(inputs_of[&p.stage].clone())
            } else {
                None
            };
            self.partitions.push(PartitionModel {
                name: format!(
                    "{} partition {k} (operators {}..{})",
                    p.model,
                    p.operators.start + 1,
                    p.operators.end
                ),
                onnx: Arc::new(onnx::encode(&part.model)),
                inputs: part.inputs.clone(),
                input_batch_axes: part.input_batch_axes.clone(),
                fresh_input,
                feeds_next: p.operators.end < p.model_operators,
            });
        }
        Ok(())
    }

    fn instance_created(&mut self, instance: LiveInstance) -> Result<(), LiveError> {
        let part = &self.partitions[instance.partition];
        let provider = self.options.providers[instance.accelerator].clone();
        let intra_threads =
            (provider == ExecutionProvider::Cpu).then_some(instance.cpu_cores.max(1) as usize);
        let config = SessionConfig {
            provider,
            intra_threads,
        };
        let w = worker::spawn(
            self.rt,
            instance.instance,
            part.name.clone(),
            part.onnx.clone(),
            config,
            self.reports_tx.clone(),
            self.computing.clone(),
        )
        .map_err(|e| LiveError(format!("cannot start a worker thread: {e}")))?;
        self.not_ready += 1;
        self.workers.insert(instance.instance, Some(w));
        Ok(())
    }

    fn instance_stopped(&mut self, instance: u32) {
        if let Some(w) = self.workers.get_mut(&instance).and_then(Option::take) {
            // Closing its job channel ends the worker once its batches are done.
            self.finished_workers.push(w);
        }
    }

    fn start_clock(&mut self) -> Result<(), LiveError> {
        let mut done = Vec::new();
        while self.not_ready > 0 {
            let report = self
                .reports_rx
                .recv()
                .map_err(|_| LiveError("every worker stopped".into()))?;
            self.on_report(report, &mut done)?;
        }
        self.t0 = Some(Instant::now());
        Ok(())
    }

    fn submit(&mut self, batch: LiveBatch<'_>) -> Result<(), LiveError> {
        let part = &self.partitions[batch.partition];
        let input = if part.fresh_input.is_some() {
            let value = self.fresh_input(batch.partition, batch.requests.len())?;
            let part = &self.partitions[batch.partition];
            JobInput::Values(
                part.inputs
                    .iter()
                    .map(|n| (n.clone(), value.clone()))
                    .collect(),
            )
        } else {
            let mut rows = Vec::with_capacity(batch.requests.len());
            for r in batch.requests {
                let data = self.requests.get(r).ok_or_else(|| {
                    LiveError(format!(
                        "{}: request {r} has no data from the previous partition",
                        part.name
                    ))
                })?;
                rows.push(data.clone());
            }
            JobInput::Rows {
                rows,
                names: part.inputs.clone(),
                axes: part.input_batch_axes.clone(),
            }
        };
        let worker = self
            .workers
            .get(&batch.instance)
            .and_then(Option::as_ref)
            .ok_or_else(|| LiveError(format!("batch for unknown instance {}", batch.instance)))?;
        // The loop holds a core while it sends: the woken worker needs another.
        let no_core_free = self.computing.load(Ordering::SeqCst) + 1 >= self.machine_cores;
        let sent = Instant::now();
        worker
            .jobs
            .send(Job {
                batch: batch.batch,
                input,
                sent,
            })
            .map_err(|_| LiveError(format!("instance {}'s worker has stopped", batch.instance)))?;
        // A worker woken by the send may take the loop's core at once: the loop then gets one
        // back only later, which this time holds.
        let send_ns = sent.elapsed().as_nanos() as u64;
        self.stats_mut().sends[usize::from(no_core_free)].push(send_ns);
        let loop_lag_ns = self.now().saturating_since(batch.dispatched).as_ns();
        self.batches.insert(
            batch.batch,
            Submitted {
                requests: batch.requests.to_vec(),
                partition: batch.partition,
                loop_lag_ns,
                no_core_free,
            },
        );
        Ok(())
    }

    fn release(&mut self, request: u32) {
        self.requests.remove(&request);
    }

    fn wait(
        &mut self,
        until: Option<SimTime>,
        done: &mut Vec<LiveCompletion>,
    ) -> Result<SimTime, LiveError> {
        loop {
            while let Ok(report) = self.reports_rx.try_recv() {
                self.on_report(report, done)?;
            }
            let now = self.now();
            if !done.is_empty() {
                return Ok(now);
            }
            let report = match until {
                Some(t) if now >= t => return Ok(now),
                Some(t) => match self
                    .reports_rx
                    .recv_timeout(Duration::from_nanos((t - now).as_ns()))
                {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => {
                        let late = (self.now() - t).as_ns();
                        let mut s = self.stats_mut();
                        s.timed_waits += 1;
                        s.wake_late_ns += late;
                        s.wake_late_max_ns = s.wake_late_max_ns.max(late);
                        s.timer_lates.push(late);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(LiveError("every worker stopped".into()));
                    }
                },
                None => self
                    .reports_rx
                    .recv()
                    .map_err(|_| LiveError("every worker stopped".into()))?,
            };
            self.on_report(report, done)?;
        }
    }
}

impl Drop for OrtExecutor {
    fn drop(&mut self) {
        let workers: Vec<Worker> = self
            .workers
            .drain()
            .filter_map(|(_, w)| w)
            .chain(self.finished_workers.drain(..))
            .collect();
        for w in workers {
            drop(w.jobs);
            let _ = w.thread.join();
        }
    }
}
