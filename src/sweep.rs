//! `infscaler sweep`: run a sweep's grid in parallel and write its rows as JSON lines, Parquet and
//! CSV (`<stem>.jsonl`, `<stem>.parquet`, `<stem>.csv`).
//!
//! Rows go to `<stem>.jsonl.partial` as runs finish (append + flush, so an interrupted sweep loses
//! at most the runs in progress); at the end the three files are written atomically in grid order
//! (tables first, the JSON lines last). On start, the rows already in `<stem>.jsonl` and its
//! partial file are reused for the points whose `point` and `point_key` match, so a rerun
//! resumes. A row is a pure function of its point, so the files are byte-identical whatever
//! `--jobs`, completion order or interruptions.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use polars::prelude::{ChunkApply, DataType, IntoColumn};
use rayon::prelude::*;

use infscaler_sim::experiment::run_point;
use infscaler_sim::experiment::sweep::{Sweep, SweepPoint};

use crate::progress::Progress;
use infscaler_results::atomic;
use infscaler_results::files::{self, Format, Row, json_line};
use infscaler_results::summarize::{self, Agg};

/// The command's options.
pub struct Options {
    /// Sweep file.
    pub sweep: PathBuf,
    /// Worker threads (runs in parallel).
    pub jobs: Option<usize>,
    /// `I/N`: run every N-th point from I.
    pub shard: Option<String>,
    /// Results file.
    pub out: Option<PathBuf>,
    /// List the points only.
    pub dry_run: bool,
}

fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| anyhow!("--shard {s}: expected I/N, e.g. 0/4"))?;
    let i: usize = i
        .trim()
        .parse()
        .with_context(|| format!("--shard {s}: I"))?;
    let n: usize = n
        .trim()
        .parse()
        .with_context(|| format!("--shard {s}: N"))?;
    if n == 0 || i >= n {
        bail!("--shard {s}: need 0 ≤ I < N");
    }
    Ok((i, n))
}

/// Rows of earlier attempts, by point index: lines whose `point` and `point_key` match this grid.
/// Unparsable lines (a line cut off by an interruption) are ignored.
fn previous_rows(files: &[PathBuf], points: &[SweepPoint]) -> Result<BTreeMap<usize, String>> {
    let by_index: BTreeMap<usize, &str> =
        points.iter().map(|p| (p.index, p.key.as_str())).collect();
    earlier_rows(files, |line| {
        let v = serde_json::from_str::<serde_json::Value>(line).ok()?;
        let index = v["point"].as_u64()? as usize;
        let key = v["point_key"].as_str()?;
        (by_index.get(&index) == Some(&key)).then_some(index)
    })
}

/// The lines of `files` (missing files are skipped) that `key` recognises, by key; the first
/// line of a key wins. For resuming: `key` answers `None` for a line cut off by an interruption
/// or one of another experiment.
pub(crate) fn earlier_rows<K: Ord>(
    files: &[impl AsRef<Path>],
    key: impl Fn(&str) -> Option<K>,
) -> Result<BTreeMap<K, String>> {
    let mut rows = BTreeMap::new();
    for path in files {
        let path = path.as_ref();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        for line in BufReader::new(file).lines() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            if let Some(k) = key(&line) {
                rows.entry(k).or_insert(line);
            }
        }
    }
    Ok(rows)
}

/// Before runs resume: says how many of `total` are already done (when any are), and rewrites
/// the partial file (`files.1`, beside the results `files.0`) with the rows kept, so a line an
/// interruption cut off is gone and new rows can be appended.
pub(crate) fn restart_partial<K>(
    label: &str,
    total: usize,
    todo: usize,
    files: (&Path, &Path),
    rows: &BTreeMap<K, String>,
) -> Result<()> {
    let (out, partial) = files;
    if total > todo {
        eprintln!(
            "{label}: resuming: {} of {total} runs already in {} / {}; running {todo}",
            total - todo,
            out.display(),
            partial.display(),
        );
    }
    atomic::write_lines(
        partial,
        &rows.values().map(String::as_str).collect::<Vec<_>>(),
    )?;
    Ok(())
}

/// What [`execute`] did.
pub struct Outcome {
    /// Every point's row, in grid order.
    pub rows: Vec<Row>,
    /// Runs made now.
    pub new: usize,
    /// Rows taken from an earlier attempt.
    pub resumed: usize,
    /// Wall time of the new runs, in seconds.
    pub elapsed_s: f64,
    /// The files written: `<stem>.jsonl`, `.parquet`, `.csv`.
    pub files: Vec<PathBuf>,
}

/// The worker count: `jobs`, or the available cores.
pub fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// Runs `points` of `sweep` on `jobs` threads and writes their rows to `<stem>.jsonl`,
/// `<stem>.parquet` and `<stem>.csv` (see the module documentation for resume and atomicity).
pub fn execute(sweep: &Sweep, points: &[SweepPoint], jobs: usize, stem: &Path) -> Result<Outcome> {
    let out = atomic::with_suffix(stem, ".jsonl");
    let partial = atomic::with_suffix(&out, ".partial");
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }

    // Resume: reuse the rows of earlier attempts, and restart the partial file from them (which
    // also drops a line an interruption cut off) — but only rows of this very sweep and base.
    let fingerprint_file = atomic::with_suffix(&out, ".fingerprint");
    let fingerprint = sweep.fingerprint();
    if let Ok(previous) = fs::read_to_string(&fingerprint_file)
        && previous.trim() != fingerprint
        && (out.exists() || partial.exists())
    {
        bail!(
            "{} holds results of another version of this sweep or of its base scenario \
             (fingerprint {} here, {} there): delete {} and {} to start again, or choose --out",
            out.display(),
            fingerprint,
            previous.trim(),
            out.display(),
            partial.display()
        );
    }
    atomic::write_lines(&fingerprint_file, &[fingerprint.as_str()])?;
    let mut rows = previous_rows(&[out.clone(), partial.clone()], points)?;
    let todo: Vec<&SweepPoint> = points
        .iter()
        .filter(|p| !rows.contains_key(&p.index))
        .collect();
    let resumed = rows.len();
    restart_partial(
        sweep.name(),
        points.len(),
        todo.len(),
        (&out, &partial),
        &rows,
    )?;

    // Check every point's scenario before starting, so a bad value fails at once.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("starting the worker pool")?;
    let scenarios = pool.install(|| {
        todo.par_iter()
            .map(|p| sweep.scenario(p))
            .collect::<Result<Vec<_>, _>>()
    })?;

    let mut log = OpenOptions::new()
        .append(true)
        .open(&partial)
        .with_context(|| format!("opening {}", partial.display()))?;
    let total = todo.len();
    let start = Instant::now();
    let unit = if sweep.spec.capacity.is_some() {
        "searches"
    } else {
        "runs"
    };
    let mut progress = Progress::new(sweep.name(), unit, total as u64);
    let mut failures: Vec<String> = Vec::new();
    let (tx, rx) = mpsc::channel::<(usize, Result<String, String>)>();
    std::thread::scope(|scope| -> Result<()> {
        let work = todo.iter().zip(scenarios).collect::<Vec<_>>();
        let capacity = sweep.spec.capacity.clone();
        scope.spawn(move || {
            pool.install(|| {
                work.into_par_iter()
                    .with_max_len(1)
                    .for_each_with(tx, |tx, (p, scenario)| {
                        // A capacity sweep's point is a search of many runs.
                        let row = run_point(p, &scenario, capacity.as_ref())
                            .map_err(|e| e.to_string())
                            .and_then(|row| json_line(&row).map_err(|e| e.to_string()));
                        let _ = tx.send((p.index, row));
                    });
            });
        });
        for (index, row) in rx {
            match row {
                Ok(line) => {
                    writeln!(log, "{line}")
                        .and_then(|()| log.flush())
                        .with_context(|| format!("writing {}", partial.display()))?;
                    rows.insert(index, line);
                }
                Err(e) => failures.push(format!("point {index}: {e}")),
            }
            progress.inc();
        }
        Ok(())
    })?;
    drop(progress);
    let elapsed_s = start.elapsed().as_secs_f64();

    if !failures.is_empty() {
        for f in &failures {
            eprintln!("error: {f}");
        }
        bail!(
            "{} of {total} runs failed; the {} finished rows are in {} (rerun to resume)",
            failures.len(),
            rows.len(),
            partial.display()
        );
    }
    let lines: Vec<&str> = points.iter().map(|p| rows[&p.index].as_str()).collect();
    let parsed = lines
        .iter()
        .map(|l| files::parse_row(l))
        .collect::<Result<Vec<_>, _>>()
        .context("re-reading the rows")?;
    // The tables first, the JSON lines last: a complete .jsonl means every file is complete.
    let mut df = files::frame(&parsed)?;
    let mut written = Vec::new();
    for format in [Format::Parquet, Format::Csv] {
        let path = atomic::with_suffix(stem, &format!(".{format}"));
        files::write(&mut df, &path)?;
        written.push(path);
    }
    atomic::write_lines(&out, &lines)?;
    written.insert(0, out);
    fs::remove_file(&partial).with_context(|| format!("removing {}", partial.display()))?;
    Ok(Outcome {
        rows: parsed,
        new: total,
        resumed,
        elapsed_s,
        files: written,
    })
}

/// Runs the command.
pub fn run(opts: Options) -> Result<ExitCode> {
    let sweep = Sweep::load(&opts.sweep)?;
    let shard = opts.shard.as_deref().map(parse_shard).transpose()?;
    let points = match shard {
        Some((i, n)) => sweep.points_for_shard(i, n)?,
        None => sweep.points(),
    };
    if opts.dry_run {
        println!("{:>6}  {:>20}  key", "point", "seed");
        for p in &points {
            println!("{:>6}  {:>20}  {}", p.index, p.seed, p.key);
        }
        eprintln!(
            "{}: {} of {} runs{}",
            opts.sweep.display(),
            points.len(),
            sweep.len(),
            shard.map_or(String::new(), |(i, n)| format!(" (shard {i}/{n})"))
        );
        return Ok(ExitCode::SUCCESS);
    }

    let stem = match &opts.out {
        Some(out) => {
            Format::of(out)?;
            out.with_extension("")
        }
        None => Path::new("results").join(match shard {
            Some((i, n)) => format!("{}.shard-{i}-of-{n}", sweep.name()),
            None => sweep.name().to_string(),
        }),
    };
    let jobs = jobs_or_cores(opts.jobs);
    let outcome = execute(&sweep, &points, jobs, &stem)?;
    print!("{}", summary(&outcome.rows)?);
    println!(
        "{} runs ({} new, {} resumed) in {:.1} s at --jobs {jobs} ({:.2} runs/s) → {}",
        points.len(),
        outcome.new,
        outcome.resumed,
        outcome.elapsed_s,
        outcome.new as f64 / outcome.elapsed_s.max(1e-9),
        outcome
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// Mean goodput, SLO attainment, p99 latency, peak memory (and capacity) per policy.
fn summary(rows: &[Row]) -> Result<String> {
    let mut df = files::frame(rows)?;
    if let Ok(bytes) = df.column("memory_peak_bytes") {
        let mib = bytes
            .cast(&DataType::Float64)?
            .f64()?
            .apply_values(|b| b / (1u64 << 20) as f64)
            .into_column()
            .with_name("memory_peak_MiB".into());
        df.with_column(mib)?;
    }
    let metrics: Vec<String> = [
        "goodput_rps",
        "slo_attainment",
        "latency_p99_ms",
        "memory_peak_MiB",
        "capacity_rps",
    ]
    .into_iter()
    .filter(|m| df.column(m).is_ok())
    .map(String::from)
    .collect();
    Ok(summarize::pivot(&df, &["policy".to_string()], &metrics, Agg::Mean)?.to_text())
}
