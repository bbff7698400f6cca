//! Measured profiles: partitions and operators of models timed with ONNX Runtime.
//!
//! [`profile_model`] builds a zoo model or model file as ONNX ([`crate::from_network`], seeded
//! random weights) or reads an `.onnx` file,
//! and times, at each batch size, `iters` runs after `warmup` untimed ones
//! ([`OnnxSession::time_runs`]: ONNX Runtime's `Run` alone, inputs made beforehand):
//!
//! - the whole model, and each partition at the given cuts ([`crate::split::split_model`]) —
//!   a partition with the values a later one needs passed through it, as served;
//! - optionally each operator, as a one-node model cut out of the graph, reading only the
//!   values that node reads. One-node models are what ONNX Runtime can time on every execution
//!   provider without profiling hooks; their times include the per-`Run` overhead and lack
//!   fusions with neighbouring operators (ONNX Runtime fuses e.g. Conv + ReLU), so the sum over
//!   a partition's operators is an upper-bound estimate of the partition and the partition's own
//!   measurement is preferred where there is one (`infscaler_sim::model::measured`).
//!
//! The result is an [`infscaler_sim::model::measured::MeasuredModel`], the simulator's file
//! format; writing the file is the caller's business.

use std::time::{SystemTime, UNIX_EPOCH};

use infscaler_sim::model::measured::{
    LatencyStats, MeasuredModel, MeasuredOperator, MeasuredPartition,
};
use infscaler_sim::model::source::ModelSource;
use infscaler_sim::model::zoo::{self, ZooError, ZooOptions};
use thiserror::Error;

use crate::from_network::{BuildError, BuildOptions};
use crate::onnx::{self, Dim, proto::ModelProto};
use crate::runtime::{HostTensor, OnnxSession, Runtime, RuntimeError, SessionConfig};
use crate::source::stage_onnx;
use crate::split::{SplitError, split_imported};

/// How to profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileOptions {
    /// Execution provider and CPU threads of every session.
    pub session: SessionConfig,
    /// Batch sizes, increasing.
    pub batches: Vec<u32>,
    /// Untimed runs before the timed ones, per partition and batch size.
    pub warmup: u32,
    /// Timed runs per partition and batch size (≥ 1).
    pub iters: u32,
    /// Idle time before each timed run (zero: back to back).
    pub gap: std::time::Duration,
    /// Also time each partition with this idle time before every run (zero: not), as its
    /// `after_idle` times.
    pub after_idle: std::time::Duration,
    /// Also time each partition back to back while this many other sessions of it (each with
    /// `session`'s threads, on its own thread) run back to back beside it, as its `corun`
    /// times (0: not).
    pub corun: u32,
    /// Also time every operator as a one-node model.
    pub operators: bool,
    /// Seed of the random weights.
    pub seed: u64,
    /// Zoo options (sequence length).
    pub zoo: ZooOptions,
}

/// What [`profile_model`] reports while it works.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// A model is built and its sessions are being loaded.
    Model {
        /// Zoo name.
        name: &'a str,
        /// Operators in the model.
        operators: usize,
        /// Partitions to time (the whole model included).
        partitions: usize,
    },
    /// One entry timed at one batch size.
    Timed {
        /// `partition 0..24`, `operator 3 conv2`, …
        what: &'a str,
        /// The statistics.
        stats: &'a LatencyStats,
    },
}

/// Why profiling failed.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// The options are not usable.
    #[error("{0}")]
    Options(String),
    /// The zoo has no such model.
    #[error(transparent)]
    Zoo(#[from] ZooError),
    /// The model cannot be written as ONNX.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The model cannot be split at the cuts.
    #[error(transparent)]
    Split(#[from] SplitError),
    /// ONNX Runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// Times the model of `source` (a zoo model or a model file, built with random weights; an
/// `.onnx` file as it is): the whole model, its partitions at `cuts` (empty: the whole model
/// only) and, with [`ProfileOptions::operators`], each operator.
pub fn profile_model(
    rt: &Runtime,
    source: &ModelSource,
    cuts: &[usize],
    opts: &ProfileOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<MeasuredModel, ProfileError> {
    check_options(opts)?;
    let (onnx_model, net) = stage_onnx(source, &opts.zoo, &BuildOptions { seed: opts.seed })
        .map_err(ProfileError::Options)?;
    let name = net.name();
    let model = net.to_model();
    let n_ops = model.operators.len();
    // The file's operators (its nodes, grouped as the importer groups them) are the
    // simulator's: checked, since an `.onnx` stage's network was imported separately.
    let imported =
        crate::import::import_model(&onnx_model, name, name).map_err(SplitError::from)?;
    let file_ops = imported.operator_nodes.len();
    if file_ops != n_ops {
        return Err(ProfileError::Options(format!(
            "model `{name}`: {file_ops} ONNX operators for {n_ops} simulator operators; cannot \
             match measurements to operators"
        )));
    }

    // The whole model, then the partitions at the cuts (if they are more than one).
    let mut parts: Vec<(std::ops::Range<usize>, ModelProto)> = vec![(0..n_ops, onnx_model.clone())];
    if !cuts.is_empty() {
        for p in split_imported(&onnx_model, &imported, cuts, name)? {
            parts.push((p.operators, p.model));
        }
    }
    progress(Progress::Model {
        name,
        operators: n_ops,
        partitions: parts.len(),
    });

    let mut partitions = Vec::with_capacity(parts.len());
    for (ops, sub) in &parts {
        let label = format!("partition {}..{}", ops.start, ops.end);
        let times = time_model(rt, sub, &format!("{name} {label}"), opts, &label, progress)?;
        partitions.push(MeasuredPartition {
            start: ops.start,
            end: ops.end,
            batch: times.back_to_back,
            after_idle: times.after_idle,
            corun: times.corun,
        });
    }

    let mut operators: Vec<MeasuredOperator> = model
        .operators
        .iter()
        .map(MeasuredOperator::identity)
        .collect();
    if opts.operators {
        let singles = if n_ops > 1 {
            split_imported(
                &onnx_model,
                &imported,
                &(1..n_ops).collect::<Vec<_>>(),
                name,
            )?
            .into_iter()
            .map(|p| p.model)
            .collect()
        } else {
            vec![onnx_model.clone()]
        };
        // Operators are timed back to back only.
        let one = ProfileOptions {
            after_idle: std::time::Duration::ZERO,
            corun: 0,
            ..opts.clone()
        };
        for (i, single) in singles.into_iter().enumerate() {
            let single = only_what_the_node_uses(single);
            let label = format!("operator {i} {}", operators[i].name);
            operators[i].batch = time_model(
                rt,
                &single,
                &format!("{name} {label}"),
                &one,
                &label,
                progress,
            )?
            .back_to_back;
        }
    }
    Ok(MeasuredModel {
        name: model.name.clone(),
        seq_len: matches!(source, ModelSource::Zoo(zoo_name) if net_uses_seq_len(zoo_name))
            .then_some(opts.zoo.seq_len),
        operators,
        partitions,
    })
}

fn check_options(opts: &ProfileOptions) -> Result<(), ProfileError> {
    if opts.batches.is_empty() {
        return Err(ProfileError::Options("no batch sizes given".into()));
    }
    if opts.batches.contains(&0) {
        return Err(ProfileError::Options(
            "batch sizes must be at least 1".into(),
        ));
    }
    if opts.batches.windows(2).any(|w| w[1] <= w[0]) {
        return Err(ProfileError::Options(format!(
            "batch sizes must increase strictly: {:?}",
            opts.batches
        )));
    }
    if opts.iters == 0 {
        return Err(ProfileError::Options(
            "iterations must be at least 1".into(),
        ));
    }
    Ok(())
}

/// Whether the zoo builds `name` with a sequence length (it has a position table).
fn net_uses_seq_len(name: &str) -> bool {
    let short = ZooOptions {
        seq_len: 1,
        ..Default::default()
    };
    let long = ZooOptions {
        seq_len: 2,
        ..Default::default()
    };
    match (zoo::build(name, &short), zoo::build(name, &long)) {
        (Ok(a), Ok(b)) => a.operators != b.operators,
        _ => false,
    }
}

/// A one-node partition reduced to the node: graph inputs it does not read and outputs it does
/// not make (values passed through around it) removed.
fn only_what_the_node_uses(mut model: ModelProto) -> ModelProto {
    if let Some(g) = model.graph.as_mut() {
        let reads: Vec<String> = g.node.iter().flat_map(|n| n.input.clone()).collect();
        let makes: Vec<String> = g.node.iter().flat_map(|n| n.output.clone()).collect();
        g.input.retain(|i| reads.contains(&i.name));
        g.output.retain(|o| makes.contains(&o.name));
    }
    model
}

/// A model's times at every batch size, by how its runs were made.
struct ModelTimes {
    back_to_back: Vec<LatencyStats>,
    after_idle: Vec<LatencyStats>,
    corun: Vec<LatencyStats>,
}

/// Loads `model` once and times it at every batch size: back to back (or after `opts.gap`),
/// then, if `opts.after_idle` is set, each run after that idle time, then, if `opts.corun` is
/// set, back to back beside that many other sessions of it.
fn time_model(
    rt: &Runtime,
    model: &ModelProto,
    name: &str,
    opts: &ProfileOptions,
    label: &str,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ModelTimes, ProfileError> {
    let mut session = OnnxSession::from_model(rt, model, name, &opts.session)?;
    let mut times = ModelTimes {
        back_to_back: Vec::with_capacity(opts.batches.len()),
        after_idle: Vec::new(),
        corun: Vec::new(),
    };
    let stats_of = |b: u32, samples: &[u64]| {
        LatencyStats::from_samples(b, samples).expect("iters ≥ 1 was checked")
    };
    for &b in &opts.batches {
        let tensors = inputs_at(model, name, b)?;
        let feed: Vec<(&str, &HostTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let samples = session.time_runs(&feed, opts.warmup, opts.iters, opts.gap)?;
        let stats = stats_of(b, &samples);
        progress(Progress::Timed {
            what: label,
            stats: &stats,
        });
        times.back_to_back.push(stats);
        if !opts.after_idle.is_zero() {
            let samples = session.time_runs(&feed, 0, opts.iters, opts.after_idle)?;
            let stats = stats_of(b, &samples);
            progress(Progress::Timed {
                what: &format!("{label} after idle"),
                stats: &stats,
            });
            times.after_idle.push(stats);
        }
        if opts.corun > 0 {
            let samples = beside_other_sessions(rt, model, name, opts, b, || {
                session.time_runs(&feed, 1, opts.iters, std::time::Duration::ZERO)
            })?;
            let stats = stats_of(b, &samples);
            progress(Progress::Timed {
                what: &format!("{label} beside {} other session(s)", opts.corun),
                stats: &stats,
            });
            times.corun.push(stats);
        }
    }
    Ok(times)
}

/// The synthetic inputs of `model` at batch size `batch`.
fn inputs_at(
    model: &ModelProto,
    name: &str,
    batch: u32,
) -> Result<Vec<(String, HostTensor)>, ProfileError> {
    let graph = model.graph.as_ref();
    let mut tensors = Vec::new();
    for input in graph.map_or(&[][..], |g| &g.input[..]) {
        let shape = onnx::declared_shape(input).ok_or_else(|| {
            ProfileError::Options(format!("{name}: input `{}` has no shape", input.name))
        })?;
        let dims: Vec<usize> = shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => *n as usize,
                Dim::Symbol(_) => batch as usize,
            })
            .collect();
        let kind = graph.map_or(onnx::InputKind::Float, |g| onnx::input_kind(g, input));
        tensors.push((input.name.clone(), synthetic_input(&dims, kind)));
    }
    Ok(tensors)
}

/// Runs `timed` while `opts.corun` other sessions of `model` run it back to back at `batch`,
/// each on its own thread, all started (and warmed up) before `timed` begins.
fn beside_other_sessions(
    rt: &Runtime,
    model: &ModelProto,
    name: &str,
    opts: &ProfileOptions,
    batch: u32,
    timed: impl FnOnce() -> Result<Vec<u64>, RuntimeError>,
) -> Result<Vec<u64>, ProfileError> {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let stop = AtomicBool::new(false);
    let running = AtomicU32::new(0);
    std::thread::scope(|scope| {
        let others: Vec<_> = (0..opts.corun)
            .map(|_| {
                scope.spawn(|| -> Result<(), ProfileError> {
                    let mut other = OnnxSession::from_model(rt, model, name, &opts.session)?;
                    let tensors = inputs_at(model, name, batch)?;
                    let feed: Vec<(&str, &HostTensor)> =
                        tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
                    other.time_runs(&feed, 1, 0, std::time::Duration::ZERO)?;
                    running.fetch_add(1, Ordering::SeqCst);
                    while !stop.load(Ordering::SeqCst) {
                        other.time_runs(&feed, 0, 1, std::time::Duration::ZERO)?;
                    }
                    Ok(())
                })
            })
            .collect();
        // A session that failed (or panicked) before running ends its thread: do not wait for it.
        let failed = || others.iter().any(|h| h.is_finished());
        while running.load(Ordering::SeqCst) < opts.corun && !failed() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let samples = if failed() { Ok(Vec::new()) } else { timed() };
        stop.store(true, Ordering::SeqCst);
        for other in others {
            other.join().map_err(|_| {
                ProfileError::Options(format!("{name}: a co-running session panicked"))
            })??;
        }
        Ok(samples?)
    })
}

/// A deterministic input: floats in [-1, 1), or valid token ids.
fn synthetic_input(shape: &[usize], kind: onnx::InputKind) -> HostTensor {
    HostTensor::for_input(shape, kind, |i| ((i * 7919) % 2000) as f32 / 1000.0 - 1.0)
}

/// The CPU's model name (`/proc/cpuinfo`'s `model name`, else the architecture) and the number
/// of logical CPUs.
pub fn cpu_info() -> (String, u32) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.trim();
            (k == "model name" || k == "Model" || k == "Hardware").then(|| v.trim().to_string())
        })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    (model, cores)
}

/// The current UTC time as RFC 3339, to the second (`2025-06-01T12:34:56Z`).
pub fn now_utc_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_rfc3339(secs)
}

/// `secs` since the Unix epoch as RFC 3339 UTC. Days to a civil date by Howard Hinnant's
/// `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>).
pub fn utc_rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(utc_rfc3339(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.
        assert_eq!(utc_rfc3339(951_827_696), "2000-02-29T12:34:56Z");
        assert_eq!(utc_rfc3339(1_735_689_599), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn options_are_checked() {
        let mut o = ProfileOptions {
            session: SessionConfig::default(),
            batches: vec![1, 2],
            warmup: 0,
            iters: 1,
            gap: std::time::Duration::ZERO,
            after_idle: std::time::Duration::ZERO,
            corun: 0,
            operators: false,
            seed: 0,
            zoo: ZooOptions::default(),
        };
        assert!(check_options(&o).is_ok());
        o.batches = vec![2, 1];
        assert!(
            check_options(&o)
                .unwrap_err()
                .to_string()
                .contains("increase")
        );
        o.batches = vec![0];
        assert!(
            check_options(&o)
                .unwrap_err()
                .to_string()
                .contains("at least 1")
        );
        o.batches = vec![1];
        o.iters = 0;
        assert!(
            check_options(&o)
                .unwrap_err()
                .to_string()
                .contains("iterations")
        );
    }

    #[test]
    fn sequence_models_record_their_length() {
        assert!(net_uses_seq_len("bert_base"));
        assert!(!net_uses_seq_len("alexnet"));
    }
}
