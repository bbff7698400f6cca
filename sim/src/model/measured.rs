//! Measured profiles: execution times of real partitions and operators, measured with ONNX
//! Runtime (`infscaler hil profile`), used in place of the roofline of [`super::cost`].
//!
//! A profile file (TOML, [`MeasuredProfile`]) holds one execution provider's measurements on one
//! machine: for each model, the operators it was built from (name, kind, FLOPs and tensor sizes,
//! so that the simulator can check it measured the same model) and, per measured partition and
//! per operator, the latency distribution at each measured batch size.
//!
//! # How a measurement replaces the roofline
//!
//! A scenario names profiles in `[device] measured_profile`. Each applies to the accelerator its
//! execution provider maps to ([`accelerator_for`]): `cpu` → the device's CPU, `cuda` and
//! `tensorrt` → its GPU, `tensorrt-dla<k>` → its `k`-th DLA. For an operator slice at batch `b` on
//! that accelerator ([`MeasuredTimes::slice_ns`]):
//!
//! 1. a slice that is exactly a measured partition takes that partition's time;
//! 2. otherwise, the sum over its operators of the measured operator time, or the roofline time
//!    of an operator the profile did not time (each operator was timed as its own one-node
//!    ONNX model, so the sum counts ONNX Runtime's per-run overhead once per operator and misses
//!    fusions across operators: partitions are measured whole for this reason);
//! 3. a slice with no measured operator at all keeps the roofline.
//!
//! The time at a measured batch size is the **mean** of the measured runs (not a sample: a
//! scenario adds variability with `serving.service_time`; the profile records each entry's
//! standard deviation, so `cv = std_ns / mean_ns` is at hand). Between measured batch sizes the
//! mean is interpolated linearly; outside the measured range the nearest measured batch's mean is
//! scaled by the roofline's ratio, `T(b) = T(edge) × R(b) / R(edge)`. On the CPU a measurement
//! was taken with `threads` ONNX Runtime threads; an instance holding `c` cores scales it by the
//! roofline's `R(c) / R(threads)`. [`crate::model::cost::plan`] then scales the roofline's
//! segments to the measured time, keeping their compute demand and the rate at which they draw
//! memory bandwidth, so contention still applies ([`crate::model::cost::ExecPlan::scaled_to`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::hardware::AcceleratorKind;
use crate::hardware::profile::DeviceProfile;
use crate::model::{Model, Operator};

/// The file format version this simulator reads and `hil profile` writes.
pub const FORMAT_VERSION: u32 = 1;

/// A measured profile file, field for field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuredProfile {
    /// File format version, [`FORMAT_VERSION`].
    pub format: u32,
    /// Where and how the measurements were taken.
    pub machine: MachineInfo,
    /// The measured models.
    #[serde(rename = "model", default)]
    pub models: Vec<MeasuredModel>,
}

/// The header: the machine, the runtime and the method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineInfo {
    /// CPU model name (`/proc/cpuinfo`'s `model name`, or what the OS reports).
    pub cpu_model: String,
    /// Logical CPUs of the machine.
    pub cpu_cores: u32,
    /// ONNX Runtime build information.
    pub ort_version: String,
    /// Execution provider label: `cpu`, `cuda`, `tensorrt` or `tensorrt-dla<k>`.
    pub ep: String,
    /// ONNX Runtime intra-op threads of the CPU provider.
    pub threads: u32,
    /// When the profile was measured (UTC, RFC 3339).
    pub date: String,
    /// The command that measured it.
    pub command: String,
    /// Untimed runs before the timed ones, per partition and batch size.
    pub warmup: u32,
    /// Timed runs per partition and batch size.
    pub iters: u32,
    /// Idle time before each timed run, nanoseconds (0: back to back).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gap_ns: u64,
    /// Idle time before each run of the partitions' `after_idle` measurements, nanoseconds
    /// (0: none taken). A run that starts after its instance sat idle is slower than one right
    /// after another (caches and, on a shared virtual machine, the host's scheduling cold).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub after_idle_ns: u64,
    /// Mean time a sleeping thread of this machine takes to run after a message wakes it, when a
    /// core is free, nanoseconds (0: not measured). A batch pays such wake-ups beyond its run:
    /// the serving loop's (to send it) and its instance thread's (to run it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wake_ns: u64,
    /// The wake-up of an instance thread (one that computes a batch between wake-ups) when
    /// every core is held by a computing thread: equally spaced quantiles of the measured times,
    /// ascending, nanoseconds (empty: not measured). Some such wake-ups preempt a running thread
    /// at once; the others wait for the scheduler (up to a tick).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wake_busy_ns: Vec<u64>,
    /// The same for the serving loop (a thread that barely computes, so the scheduler lets it
    /// preempt more readily), nanoseconds (empty: not measured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loop_wake_busy_ns: Vec<u64>,
    /// How late the serving loop runs after a timed wait ends (an arrival, a transfer's end,
    /// a batching timeout is due), with a core free: equally spaced quantiles, ascending,
    /// nanoseconds (empty: not measured; it takes `wake_ns`). A timer fires late by the
    /// kernel's timer slack and the wake-up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timer_late_ns: Vec<u64>,
    /// Cores that other sessions of the same partition kept busy, back to back, during each
    /// run of the partitions' `corun` measurements (0: none taken). Sessions on the other cores
    /// share the caches and the memory the timed run uses.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub corun_cores: u32,
    /// How long the serving loop is kept from running after it sends a batch (the worker it
    /// wakes may take its core), measured in a pipeline of threads like a live run's at a few
    /// loads, by ascending utilisation (empty: not measured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loop_sends: Vec<LoopSends>,
}

/// The serving loop's sends at one load: from before a send to the loop running again after
/// it, nanoseconds, as equally spaced quantiles, ascending.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopSends {
    /// The share of the machine's cores the pipeline's threads kept computing (0–1).
    pub utilisation: f64,
    /// Sends while a core besides the loop's was free (empty: none).
    #[serde(default)]
    pub free_ns: Vec<u64>,
    /// Sends while threads computed on every core but the loop's (empty: none).
    #[serde(default)]
    pub busy_ns: Vec<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// One model's measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuredModel {
    /// Zoo name, as in a scenario's app stages.
    pub name: String,
    /// Sequence length the model was built with (transformers), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq_len: Option<usize>,
    /// Every operator of the model, in order; `batch` is empty where an operator was not timed.
    #[serde(rename = "operator", default)]
    pub operators: Vec<MeasuredOperator>,
    /// Measured partitions (the whole model is one).
    #[serde(rename = "partition", default)]
    pub partitions: Vec<MeasuredPartition>,
}

/// One operator: its identity (to check the profile measured the same model) and its times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuredOperator {
    /// Name, as the simulator's model names it.
    pub name: String,
    /// Kind ([`crate::model::OpKind::name`]).
    pub kind: String,
    /// FLOPs per sample.
    pub flops: u64,
    /// Input elements per sample.
    pub input_elems: u64,
    /// Output elements per sample.
    pub output_elems: u64,
    /// Learned parameters.
    pub params: u64,
    /// Times by batch size; empty when not timed.
    #[serde(default)]
    pub batch: Vec<LatencyStats>,
}

impl MeasuredOperator {
    /// The identity of `op` (name, kind, sizes) with no times yet.
    pub fn identity(op: &Operator) -> Self {
        MeasuredOperator {
            name: op.name.clone(),
            kind: op.kind.name().to_string(),
            flops: op.flops,
            input_elems: op.input_elems,
            output_elems: op.output_elems,
            params: op.params,
            batch: Vec::new(),
        }
    }
}

/// A measured partition: operators `start..end` of its model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuredPartition {
    /// First operator (0-based).
    pub start: usize,
    /// One past the last operator.
    pub end: usize,
    /// Times by batch size.
    pub batch: Vec<LatencyStats>,
    /// Times by batch size of runs that each start after `machine.after_idle_ns` of idle time
    /// (empty: not measured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_idle: Vec<LatencyStats>,
    /// Times by batch size of runs, back to back, while other sessions of the partition kept
    /// `machine.corun_cores` cores busy (empty: not measured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corun: Vec<LatencyStats>,
}

/// The latency distribution of `n` timed runs at one batch size, nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyStats {
    /// Batch size.
    pub batch: u32,
    /// Timed runs.
    pub n: u32,
    /// Mean.
    pub mean_ns: u64,
    /// Standard deviation.
    pub std_ns: u64,
    /// Shortest.
    pub min_ns: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Longest.
    pub max_ns: u64,
}

impl LatencyStats {
    /// The statistics of `samples_ns` (any order) at `batch`; percentiles by the nearest-rank
    /// method. `None` for no samples.
    pub fn from_samples(batch: u32, samples_ns: &[u64]) -> Option<Self> {
        if samples_ns.is_empty() {
            return None;
        }
        let mut s = samples_ns.to_vec();
        s.sort_unstable();
        let n = s.len();
        let mean = s.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        let var = s.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        // Nearest rank: the smallest sample with at least p·n samples at or below it.
        let rank = |p: f64| s[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
        Some(LatencyStats {
            batch,
            n: n as u32,
            mean_ns: mean.round() as u64,
            std_ns: var.sqrt().round() as u64,
            min_ns: s[0],
            p50_ns: rank(0.5),
            p90_ns: rank(0.9),
            p99_ns: rank(0.99),
            max_ns: s[n - 1],
        })
    }
}

/// Why a measured profile cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("measured profile {file}: {}{message}", if field.is_empty() { String::new() } else { format!("field `{field}`: ") })]
pub struct MeasuredError {
    /// The profile file.
    pub file: String,
    /// Dotted path of the offending field; empty for syntax errors.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl MeasuredProfile {
    /// Parses profile TOML text; `origin` names it in errors. Checks the values (see
    /// [`Self::validate`]).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, MeasuredError> {
        let profile: MeasuredProfile = toml::from_str(text).map_err(|e| MeasuredError {
            file: origin.into(),
            field: String::new(),
            message: e.to_string().trim_end().to_string(),
        })?;
        profile.validate(origin)?;
        Ok(profile)
    }

    /// Reads and parses a profile file.
    pub fn load(path: &Path) -> Result<Self, MeasuredError> {
        let origin = path.display().to_string();
        let text = crate::input::read_to_string(path).map_err(|e| MeasuredError {
            file: origin.clone(),
            field: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        Self::from_toml_str(&text, &origin)
    }

    /// The profile as TOML text.
    pub fn to_toml_string(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| panic!("a measured profile serialises: {e}"))
    }

    /// Checks what serde cannot: the version, the provider, positive thread counts, batch
    /// sizes that are ≥ 1 and strictly increasing, ordered statistics, partitions inside
    /// their model.
    pub fn validate(&self, origin: &str) -> Result<(), MeasuredError> {
        let err = |field: String, message: String| MeasuredError {
            file: origin.into(),
            field,
            message,
        };
        if self.format != FORMAT_VERSION {
            return Err(err(
                "format".into(),
                format!(
                    "version {} is not supported: this simulator reads version {FORMAT_VERSION} \
                     (re-run `infscaler hil profile`)",
                    self.format
                ),
            ));
        }
        if parse_ep(&self.machine.ep).is_none() {
            return Err(err(
                "machine.ep".into(),
                format!(
                    "unknown execution provider `{}`: use cpu, cuda, tensorrt or tensorrt-dla<k>",
                    self.machine.ep
                ),
            ));
        }
        if self.machine.threads == 0 {
            return Err(err("machine.threads".into(), "must be at least 1".into()));
        }
        for (m, model) in self.models.iter().enumerate() {
            let n_ops = model.operators.len();
            for (o, op) in model.operators.iter().enumerate() {
                check_batches(&op.batch, &format!("model[{m}].operator[{o}].batch"))
                    .map_err(|(f, msg)| err(f, msg))?;
            }
            for (p, part) in model.partitions.iter().enumerate() {
                let field = format!("model[{m}].partition[{p}]");
                if part.start >= part.end || part.end > n_ops {
                    return Err(err(
                        field,
                        format!(
                            "operators {}..{} are not a partition of `{}`, which has {n_ops} \
                             operators",
                            part.start, part.end, model.name
                        ),
                    ));
                }
                if part.batch.is_empty() {
                    return Err(err(format!("{field}.batch"), "no measurements".into()));
                }
                check_batches(&part.batch, &format!("{field}.batch"))
                    .map_err(|(f, msg)| err(f, msg))?;
                if !part.after_idle.is_empty() {
                    if self.machine.after_idle_ns == 0 {
                        return Err(err(
                            format!("{field}.after_idle"),
                            "measurements after idle time need machine.after_idle_ns, the idle \
                             time before each run (> 0)"
                                .into(),
                        ));
                    }
                    check_batches(&part.after_idle, &format!("{field}.after_idle"))
                        .map_err(|(f, msg)| err(f, msg))?;
                }
                if !part.corun.is_empty() {
                    if self.machine.corun_cores == 0 {
                        return Err(err(
                            format!("{field}.corun"),
                            "measurements beside other sessions need machine.corun_cores, the \
                             cores those sessions kept busy (> 0)"
                                .into(),
                        ));
                    }
                    check_batches(&part.corun, &format!("{field}.corun"))
                        .map_err(|(f, msg)| err(f, msg))?;
                }
            }
        }
        for (field, q) in [
            ("wake_busy_ns", &self.machine.wake_busy_ns),
            ("loop_wake_busy_ns", &self.machine.loop_wake_busy_ns),
            ("timer_late_ns", &self.machine.timer_late_ns),
        ] {
            if q.is_empty() {
                continue;
            }
            if self.machine.wake_ns == 0 {
                return Err(err(
                    format!("machine.{field}"),
                    "the loop's and its threads' wake-ups need machine.wake_ns, the wake-up \
                     with a core free (> 0)"
                        .into(),
                ));
            }
            if q.windows(2).any(|w| w[0] > w[1]) {
                return Err(err(
                    format!("machine.{field}"),
                    "must be quantiles in ascending order".into(),
                ));
            }
        }
        if !self.machine.loop_sends.is_empty() && self.machine.wake_ns == 0 {
            return Err(err(
                "machine.loop_sends".into(),
                "the loop's sends need machine.wake_ns, the wake-up with a core free (> 0)".into(),
            ));
        }
        for (i, level) in self.machine.loop_sends.iter().enumerate() {
            let field = format!("machine.loop_sends[{i}]");
            if !(0.0..=1.0).contains(&level.utilisation)
                || i > 0 && level.utilisation <= self.machine.loop_sends[i - 1].utilisation
            {
                return Err(err(
                    format!("{field}.utilisation"),
                    format!(
                        "is {}; must be in 0–1 and above the previous level's",
                        level.utilisation
                    ),
                ));
            }
            for (class, q) in [("free_ns", &level.free_ns), ("busy_ns", &level.busy_ns)] {
                if q.windows(2).any(|w| w[0] > w[1]) {
                    return Err(err(
                        format!("{field}.{class}"),
                        "must be quantiles in ascending order".into(),
                    ));
                }
            }
            if level.free_ns.is_empty() && level.busy_ns.is_empty() {
                return Err(err(
                    field,
                    "has no sends: give free_ns, busy_ns or both".into(),
                ));
            }
        }
        Ok(())
    }
}

fn check_batches(stats: &[LatencyStats], field: &str) -> Result<(), (String, String)> {
    for (i, s) in stats.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if s.batch == 0 {
            return Err((format!("{f}.batch"), "must be at least 1".into()));
        }
        if i > 0 && s.batch <= stats[i - 1].batch {
            return Err((
                format!("{f}.batch"),
                format!(
                    "batch sizes must increase strictly ({} after {})",
                    s.batch,
                    stats[i - 1].batch
                ),
            ));
        }
        if s.n == 0 {
            return Err((format!("{f}.n"), "must be at least 1".into()));
        }
        let ordered = s.min_ns <= s.p50_ns
            && s.p50_ns <= s.p90_ns
            && s.p90_ns <= s.p99_ns
            && s.p99_ns <= s.max_ns
            && (s.min_ns..=s.max_ns).contains(&s.mean_ns);
        if !ordered {
            return Err((
                f,
                "statistics out of order: need min ≤ p50 ≤ p90 ≤ p99 ≤ max and min ≤ mean ≤ max"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// What an execution-provider label names: the accelerator kind and, for a DLA, its core.
fn parse_ep(ep: &str) -> Option<(AcceleratorKind, usize)> {
    match ep {
        "cpu" => Some((AcceleratorKind::Cpu, 0)),
        "cuda" | "tensorrt" => Some((AcceleratorKind::Gpu, 0)),
        _ => ep
            .strip_prefix("tensorrt-dla")
            .and_then(|k| k.parse().ok())
            .map(|k| (AcceleratorKind::Dla, k)),
    }
}

/// The accelerator of `device` that execution provider `ep` measures: `cpu` → the CPU, `cuda`
/// and `tensorrt` → the first GPU, `tensorrt-dla<k>` → the `k`-th DLA (0-based, in profile
/// order: `dla0`, `dla1` on the built-in profiles).
pub fn accelerator_for(ep: &str, device: &DeviceProfile) -> Option<usize> {
    let (kind, k) = parse_ep(ep)?;
    device
        .accelerators
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == kind)
        .nth(k)
        .map(|(i, _)| i)
}

/// An operator's identity: what a profile's operator must match to stand for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct OpKey {
    name: String,
    kind: String,
    flops: u64,
    input_elems: u64,
    output_elems: u64,
    params: u64,
}

impl OpKey {
    fn of(op: &Operator) -> Self {
        OpKey {
            name: op.name.clone(),
            kind: op.kind.name().to_string(),
            flops: op.flops,
            input_elems: op.input_elems,
            output_elems: op.output_elems,
            params: op.params,
        }
    }

    fn of_measured(op: &MeasuredOperator) -> Self {
        OpKey {
            name: op.name.clone(),
            kind: op.kind.clone(),
            flops: op.flops,
            input_elems: op.input_elems,
            output_elems: op.output_elems,
            params: op.params,
        }
    }
}

/// A machine's measured thread wake-ups ([`MachineInfo::wake_ns`], `wake_busy_ns`).
#[derive(Clone, Debug, PartialEq)]
pub struct WakeupTimes {
    /// Mean wake-up with a core free, ns (> 0).
    pub free_ns: u64,
    /// Quantiles of an instance thread's wake-ups with every core held, ascending, ns (empty:
    /// as `free_ns`).
    pub busy_ns: Vec<u64>,
    /// The same of the serving loop's.
    pub loop_busy_ns: Vec<u64>,
    /// Quantiles of how late the loop runs after a timed wait, with a core free, ascending, ns
    /// (empty: as `free_ns`).
    pub timer_late_ns: Vec<u64>,
    /// How long the loop is kept from running after a send, by ascending utilisation (empty:
    /// it runs on at once).
    pub sends: Vec<LoopSends>,
}

/// The measurements of one accelerator, indexed for look-up.
#[derive(Clone, Debug, PartialEq)]
pub struct AcceleratorTimes {
    /// The profile file (for reports).
    pub file: String,
    /// ONNX Runtime threads of the measurement (CPU).
    pub threads: u32,
    /// Per operator identity: its times by batch.
    ops: HashMap<OpKey, Vec<LatencyStats>>,
    /// Per partition, its operators' identities and its times by batch.
    partitions: Vec<(Vec<OpKey>, Vec<LatencyStats>)>,
    /// Idle time before each run of the after-idle measurements, ns (0: none).
    pub after_idle_ns: u64,
    /// The machine's thread wake-ups, where measured (`MachineInfo::wake_ns`, `wake_busy_ns`).
    pub wakeups: Option<Arc<WakeupTimes>>,
    /// Per partition measured after idle time, its operators' identities and its times.
    partitions_after_idle: Vec<(Vec<OpKey>, Vec<LatencyStats>)>,
    /// Cores other sessions kept busy during the co-run measurements (0: none).
    pub corun_cores: u32,
    /// Per partition measured beside other sessions, its operators' identities and its times.
    partitions_corun: Vec<(Vec<OpKey>, Vec<LatencyStats>)>,
}

/// Measured times for a device's accelerators, attached to a [`DeviceProfile`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeasuredTimes {
    /// Per accelerator index; `None` where the roofline applies.
    pub by_accel: Vec<Option<AcceleratorTimes>>,
}

/// The roofline time of an operator slice at a batch size and a core count, nanoseconds.
pub type Roofline<'a> = &'a dyn Fn(&[Operator], u32, u32) -> u64;

impl MeasuredTimes {
    /// Adds `profile` (read from `file`) for the accelerator its provider maps to on `device`,
    /// after checking that every profiled model among `models` is the same model (same
    /// operators). Errors name the field; the caller adds the file.
    pub fn add(
        &mut self,
        profile: &MeasuredProfile,
        file: &str,
        device: &DeviceProfile,
        models: &[Model],
    ) -> Result<usize, (String, String)> {
        let accel = accelerator_for(&profile.machine.ep, device).ok_or_else(|| {
            (
                "machine.ep".to_string(),
                format!(
                    "execution provider `{}` maps to no accelerator of device `{}` (it has {})",
                    profile.machine.ep,
                    device.name,
                    device
                        .accelerators
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        if self.by_accel.len() < device.accelerators.len() {
            self.by_accel.resize(device.accelerators.len(), None);
        }
        if let Some(other) = &self.by_accel[accel] {
            return Err((
                "machine.ep".into(),
                format!(
                    "accelerator `{}` is measured already by {}: give one profile per accelerator",
                    device.accelerators[accel].name, other.file
                ),
            ));
        }
        let mut used = false;
        for (m, measured) in profile.models.iter().enumerate() {
            for model in models.iter().filter(|x| x.name == measured.name) {
                check_same_model(model, measured).map_err(|(o, msg)| {
                    (
                        format!("model[{m}].operator[{o}]"),
                        format!(
                            "{msg}: the profile measured a different `{}` than the simulator \
                             builds (re-run `infscaler hil profile`)",
                            model.name
                        ),
                    )
                })?;
                used = true;
            }
        }
        if !used {
            return Err((
                "model".into(),
                format!(
                    "measures {} but the app's stages are {}: nothing in it applies",
                    list_or_none(profile.models.iter().map(|m| m.name.as_str())),
                    list_or_none(models.iter().map(|m| m.name.as_str()))
                ),
            ));
        }
        let mut times = AcceleratorTimes {
            file: file.into(),
            threads: profile.machine.threads,
            ops: HashMap::new(),
            partitions: Vec::new(),
            after_idle_ns: profile.machine.after_idle_ns,
            wakeups: (profile.machine.wake_ns > 0).then(|| {
                Arc::new(WakeupTimes {
                    free_ns: profile.machine.wake_ns,
                    busy_ns: profile.machine.wake_busy_ns.clone(),
                    loop_busy_ns: profile.machine.loop_wake_busy_ns.clone(),
                    timer_late_ns: profile.machine.timer_late_ns.clone(),
                    sends: profile.machine.loop_sends.clone(),
                })
            }),
            partitions_after_idle: Vec::new(),
            corun_cores: profile.machine.corun_cores,
            partitions_corun: Vec::new(),
        };
        for model in &profile.models {
            let keys: Vec<OpKey> = model.operators.iter().map(OpKey::of_measured).collect();
            for (k, op) in keys.iter().zip(&model.operators) {
                if !op.batch.is_empty() {
                    times.ops.insert(k.clone(), op.batch.clone());
                }
            }
            for p in &model.partitions {
                times
                    .partitions
                    .push((keys[p.start..p.end].to_vec(), p.batch.clone()));
                if !p.after_idle.is_empty() {
                    times
                        .partitions_after_idle
                        .push((keys[p.start..p.end].to_vec(), p.after_idle.clone()));
                }
                if !p.corun.is_empty() {
                    times
                        .partitions_corun
                        .push((keys[p.start..p.end].to_vec(), p.corun.clone()));
                }
            }
        }
        self.by_accel[accel] = Some(times);
        Ok(accel)
    }

    /// The times of runs that start after idle time, where a profile measured them: a copy whose
    /// partitions are those measured after idle (operators and partitions not measured so are
    /// left out, so their times are the roofline's); `None` when no profile has them.
    pub fn after_idle(&self) -> Option<MeasuredTimes> {
        self.variant(|t| &t.partitions_after_idle)
    }

    /// The times of runs beside other sessions on `corun_cores` cores, where a profile measured
    /// them: a copy as [`after_idle`](Self::after_idle) makes; `None` when no profile has them.
    pub fn corun(&self) -> Option<MeasuredTimes> {
        self.variant(|t| &t.partitions_corun)
    }

    /// A copy whose partitions are the ones `pick` selects, without operators; `None` when no
    /// accelerator has any.
    fn variant(
        &self,
        pick: impl Fn(&AcceleratorTimes) -> &Vec<(Vec<OpKey>, Vec<LatencyStats>)>,
    ) -> Option<MeasuredTimes> {
        if !self.by_accel.iter().flatten().any(|t| !pick(t).is_empty()) {
            return None;
        }
        let by_accel = self
            .by_accel
            .iter()
            .map(|t| {
                let t = t.as_ref()?;
                (!pick(t).is_empty()).then(|| AcceleratorTimes {
                    file: t.file.clone(),
                    threads: t.threads,
                    ops: HashMap::new(),
                    partitions: pick(t).clone(),
                    after_idle_ns: t.after_idle_ns,
                    wakeups: t.wakeups.clone(),
                    partitions_after_idle: Vec::new(),
                    corun_cores: t.corun_cores,
                    partitions_corun: Vec::new(),
                })
            })
            .collect();
        Some(MeasuredTimes { by_accel })
    }

    /// The cores other sessions kept busy during the co-run measurements of accelerator
    /// `accel` (0: none taken).
    pub fn corun_cores(&self, accel: usize) -> u32 {
        self.by_accel
            .get(accel)
            .and_then(Option::as_ref)
            .filter(|t| !t.partitions_corun.is_empty())
            .map_or(0, |t| t.corun_cores)
    }

    /// The measured thread wake-ups of the machine, from the first accelerator's profile that
    /// has them (`None`: not measured).
    pub fn wakeups(&self) -> Option<&Arc<WakeupTimes>> {
        self.by_accel
            .iter()
            .flatten()
            .find_map(|t| t.wakeups.as_ref())
    }

    /// Whether the slice `ops` on `accel` is a partition measured whole (not pieced together
    /// from operators).
    pub fn measures_partition(&self, ops: &[Operator], accel: usize) -> bool {
        let Some(times) = self.by_accel.get(accel).and_then(Option::as_ref) else {
            return false;
        };
        let keys: Vec<OpKey> = ops.iter().map(OpKey::of).collect();
        times.partitions.iter().any(|(k, _)| *k == keys)
    }

    /// The idle time before the after-idle measurements of accelerator `accel`, ns (0: none).
    pub fn after_idle_ns(&self, accel: usize) -> u64 {
        self.by_accel
            .get(accel)
            .and_then(Option::as_ref)
            .filter(|t| !t.partitions_after_idle.is_empty())
            .map_or(0, |t| t.after_idle_ns)
    }

    /// The measured time of the operator slice `ops` at `batch` on accelerator `accel` for an
    /// instance holding `cores` cores (CPU), nanoseconds; `None` when nothing in the slice was
    /// measured there. `roofline(ops, batch, cores)` is the analytic time, used to extrapolate
    /// (see the module documentation).
    pub fn slice_ns(
        &self,
        ops: &[Operator],
        batch: u32,
        accel: usize,
        cores: u32,
        is_cpu: bool,
        roofline: Roofline<'_>,
    ) -> Option<u64> {
        let times = self.by_accel.get(accel)?.as_ref()?;
        if ops.is_empty() {
            return None;
        }
        let threads = if is_cpu { times.threads } else { cores };
        let keys: Vec<OpKey> = ops.iter().map(OpKey::of).collect();
        let at_threads = if let Some((_, stats)) = times.partitions.iter().find(|(k, _)| *k == keys)
        {
            at_batch(stats, batch, &|b| roofline(ops, b, threads))
        } else {
            let mut any = false;
            let mut total = 0.0;
            for (op, key) in ops.iter().zip(&keys) {
                let one = std::slice::from_ref(op);
                total += match times.ops.get(key) {
                    Some(stats) => {
                        any = true;
                        at_batch(stats, batch, &|b| roofline(one, b, threads))
                    }
                    None => roofline(one, batch, threads) as f64,
                };
            }
            if !any {
                return None;
            }
            total
        };
        let ns = if is_cpu && cores != threads {
            let r = roofline(ops, batch, threads);
            if r == 0 {
                at_threads
            } else {
                at_threads * roofline(ops, batch, cores) as f64 / r as f64
            }
        } else {
            at_threads
        };
        Some(ns.round() as u64)
    }
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "no model".into()
    } else {
        v.join(", ")
    }
}

/// Operator `o` of the profile differs from the model's, and how; `(len, ..)` for a count.
fn check_same_model(model: &Model, measured: &MeasuredModel) -> Result<(), (usize, String)> {
    if model.operators.len() != measured.operators.len() {
        return Err((
            measured.operators.len().min(model.operators.len()),
            format!(
                "{} operators in the profile, {} in the model",
                measured.operators.len(),
                model.operators.len()
            ),
        ));
    }
    for (o, (op, m)) in model.operators.iter().zip(&measured.operators).enumerate() {
        if OpKey::of(op) != OpKey::of_measured(m) {
            return Err((
                o,
                format!(
                    "`{}` ({}, {} FLOPs, {} → {} elements, {} parameters) where the model has \
                     `{}` ({}, {} FLOPs, {} → {} elements, {} parameters)",
                    m.name,
                    m.kind,
                    m.flops,
                    m.input_elems,
                    m.output_elems,
                    m.params,
                    op.name,
                    op.kind.name(),
                    op.flops,
                    op.input_elems,
                    op.output_elems,
                    op.params
                ),
            ));
        }
    }
    Ok(())
}

/// The mean time at `batch` from stats sorted by batch: exact, linearly interpolated between
/// the neighbouring measured batches, or beyond the range the nearest one scaled by the
/// roofline's ratio `roofline(batch) / roofline(edge)`.
fn at_batch(stats: &[LatencyStats], batch: u32, roofline: &dyn Fn(u32) -> u64) -> f64 {
    let (Some(first), Some(last)) = (stats.first(), stats.last()) else {
        return roofline(batch) as f64;
    };
    let scaled = |edge: &LatencyStats| {
        let r = roofline(edge.batch);
        if r == 0 {
            edge.mean_ns as f64
        } else {
            edge.mean_ns as f64 * roofline(batch) as f64 / r as f64
        }
    };
    if batch <= first.batch {
        return if batch == first.batch {
            first.mean_ns as f64
        } else {
            scaled(first)
        };
    }
    if batch >= last.batch {
        return if batch == last.batch {
            last.mean_ns as f64
        } else {
            scaled(last)
        };
    }
    let hi = stats.partition_point(|s| s.batch < batch);
    let (a, b) = (&stats[hi - 1], &stats[hi]);
    if b.batch == batch {
        return b.mean_ns as f64;
    }
    let t = f64::from(batch - a.batch) / f64::from(b.batch - a.batch);
    a.mean_ns as f64 + t * (b.mean_ns as f64 - a.mean_ns as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(batch: u32, mean_ns: u64) -> LatencyStats {
        LatencyStats {
            batch,
            n: 1,
            mean_ns,
            std_ns: 0,
            min_ns: mean_ns,
            p50_ns: mean_ns,
            p90_ns: mean_ns,
            p99_ns: mean_ns,
            max_ns: mean_ns,
        }
    }

    #[test]
    fn nearest_rank_percentiles_and_moments() {
        // 1..=100 µs: mean 50.5 µs, p50 = 50th sample, p90 = 90th, p99 = 99th.
        let samples: Vec<u64> = (1..=100).rev().map(|x| x * 1000).collect();
        let s = LatencyStats::from_samples(4, &samples).unwrap();
        assert_eq!(
            (s.batch, s.n, s.mean_ns, s.min_ns, s.max_ns),
            (4, 100, 50_500, 1000, 100_000)
        );
        assert_eq!((s.p50_ns, s.p90_ns, s.p99_ns), (50_000, 90_000, 99_000));
        // Population standard deviation of 1..=100 is √((100² − 1)/12) ≈ 28.866 (× 1000).
        assert_eq!(s.std_ns, 28_866);
        let one = LatencyStats::from_samples(1, &[7]).unwrap();
        assert_eq!((one.p50_ns, one.p99_ns, one.std_ns), (7, 7, 0));
        assert!(LatencyStats::from_samples(1, &[]).is_none());
    }

    #[test]
    fn interpolates_inside_and_scales_by_the_roofline_outside() {
        let s = [stats(2, 200), stats(4, 300), stats(8, 1000)];
        let roof = |b: u32| u64::from(b) * 10;
        assert_eq!(at_batch(&s, 2, &roof), 200.0);
        assert_eq!(at_batch(&s, 3, &roof), 250.0);
        assert_eq!(at_batch(&s, 6, &roof), 650.0);
        assert_eq!(at_batch(&s, 8, &roof), 1000.0);
        // Below: 200 × R(1)/R(2) = 100; above: 1000 × R(16)/R(8) = 2000.
        assert_eq!(at_batch(&s, 1, &roof), 100.0);
        assert_eq!(at_batch(&s, 16, &roof), 2000.0);
    }

    #[test]
    fn provider_labels_map_to_accelerators() {
        let d = DeviceProfile::builtin("xavier-agx").unwrap();
        let name = |ep| accelerator_for(ep, &d).map(|i| d.accelerators[i].name.as_str());
        assert_eq!(name("cpu"), Some("cpu"));
        assert_eq!(name("cuda"), Some("gpu"));
        assert_eq!(name("tensorrt"), Some("gpu"));
        assert_eq!(name("tensorrt-dla0"), Some("dla0"));
        assert_eq!(name("tensorrt-dla1"), Some("dla1"));
        assert_eq!(name("tensorrt-dla2"), None);
        assert_eq!(name("rocm"), None);
    }
}
