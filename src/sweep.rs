//! `infscaler sweep`: run a sweep's grid in parallel and write one JSON row per run.
//!
//! Rows go to `<out>.partial` as runs finish (append + flush, so an interrupted sweep loses at most
//! the runs in progress); at the end the rows are written in grid order to `<out>.tmp`, synced and
//! renamed to `<out>`. On start, the rows already in `<out>` and `<out>.partial` are reused for the
//! points whose `point` and `point_key` match, so a rerun resumes. A row is a pure function of its
//! point, so the file is byte-identical whatever `--jobs`, completion order or interruptions.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rayon::prelude::*;

use infscaler_sim::Simulation;
use infscaler_sim::sweep::{Cell, Sweep, SweepPoint, capacity_row, point_row};

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

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// One results row as a JSON object with its keys in column order.
fn json_line(row: &[(String, Cell)]) -> Result<String> {
    let mut s = String::from("{");
    for (i, (k, v)) in row.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::to_string(k)?);
        s.push(':');
        s.push_str(&serde_json::to_string(v)?);
    }
    s.push('}');
    Ok(s)
}

/// Rows of earlier attempts, by point index: lines whose `point` and `point_key` match this grid.
/// Unparsable lines (a line cut off by an interruption) are ignored.
fn previous_rows(files: &[PathBuf], points: &[SweepPoint]) -> Result<BTreeMap<usize, String>> {
    let by_index: BTreeMap<usize, &str> =
        points.iter().map(|p| (p.index, p.key.as_str())).collect();
    let mut rows = BTreeMap::new();
    for path in files {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        for line in BufReader::new(file).lines() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let (Some(index), Some(key)) = (v["point"].as_u64(), v["point_key"].as_str()) else {
                continue;
            };
            let index = index as usize;
            if by_index.get(&index) == Some(&key) {
                rows.entry(index).or_insert(line);
            }
        }
    }
    Ok(rows)
}

fn write_atomically(path: &Path, lines: &[&str]) -> Result<()> {
    let tmp = with_suffix(path, ".tmp");
    {
        let mut f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut buf = String::new();
        for l in lines {
            buf.push_str(l);
            buf.push('\n');
        }
        f.write_all(buf.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all(); // Best effort: makes the rename durable on Unix.
    }
    Ok(())
}

fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
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

    let out = opts.out.clone().unwrap_or_else(|| {
        let file = match shard {
            Some((i, n)) => format!("{}.shard-{i}-of-{n}.jsonl", sweep.name()),
            None => format!("{}.jsonl", sweep.name()),
        };
        Path::new("results").join(file)
    });
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let partial = with_suffix(&out, ".partial");

    // Resume: reuse the rows of earlier attempts, and restart the partial file from them (which
    // also drops a line an interruption cut off) — but only rows of this very sweep and base.
    let fingerprint_file = with_suffix(&out, ".fingerprint");
    let fingerprint = sweep.fingerprint();
    if let Ok(previous) = fs::read_to_string(&fingerprint_file)
        && previous.trim() != fingerprint
        && (out.exists() || partial.exists())
    {
        anyhow::bail!(
            "{} holds results of another version of this sweep or of its base scenario \
             (fingerprint {} here, {} there): delete {} and {} to start again, or choose --out",
            out.display(),
            fingerprint,
            previous.trim(),
            out.display(),
            partial.display()
        );
    }
    write_atomically(&fingerprint_file, &[fingerprint.as_str()])?;
    let mut rows = previous_rows(&[out.clone(), partial.clone()], &points)?;
    let todo: Vec<&SweepPoint> = points
        .iter()
        .filter(|p| !rows.contains_key(&p.index))
        .collect();
    if !rows.is_empty() {
        eprintln!(
            "resuming: {} of {} runs already in {} / {}; running {}",
            rows.len(),
            points.len(),
            out.display(),
            partial.display(),
            todo.len()
        );
    }
    write_atomically(
        &partial,
        &rows.values().map(String::as_str).collect::<Vec<_>>(),
    )?;

    // Check every point's scenario before starting, so a bad value fails at once.
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
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
    let mut last_print = start;
    let mut failures: Vec<String> = Vec::new();
    let mut done = 0usize;
    let (tx, rx) = mpsc::channel::<(usize, Result<String, String>)>();
    std::thread::scope(|scope| -> Result<()> {
        let work = todo.iter().zip(scenarios).collect::<Vec<_>>();
        let capacity = sweep.spec.capacity.clone();
        scope.spawn(move || {
            pool.install(|| {
                work.into_par_iter()
                    .with_max_len(1)
                    .for_each_with(tx, |tx, (p, scenario)| {
                        let row = match &capacity {
                            // A capacity sweep: each point is a search of many runs.
                            Some(options) => {
                                capacity_row(p, &scenario, options).map_err(|e| e.to_string())
                            }
                            None => Simulation::new(&scenario, Some(p.seed))
                                .map(|sim| point_row(p, &sim.run()))
                                .map_err(|e| e.to_string()),
                        }
                        .and_then(|row| json_line(&row).map_err(|e| e.to_string()));
                        let _ = tx.send((p.index, row));
                    });
            });
        });
        for (index, row) in rx {
            done += 1;
            match row {
                Ok(line) => {
                    writeln!(log, "{line}")
                        .and_then(|()| log.flush())
                        .with_context(|| format!("writing {}", partial.display()))?;
                    rows.insert(index, line);
                }
                Err(e) => failures.push(format!("point {index}: {e}")),
            }
            let now = Instant::now();
            if now.duration_since(last_print) >= Duration::from_secs(1) || done == total {
                last_print = now;
                let elapsed = now.duration_since(start).as_secs_f64();
                let rate = done as f64 / elapsed.max(1e-9);
                eprintln!(
                    "{}: {done}/{total} runs, {rate:.2} runs/s, ETA {}",
                    sweep.name(),
                    fmt_secs((total - done) as f64 / rate.max(1e-9))
                );
            }
        }
        Ok(())
    })?;
    let elapsed = start.elapsed().as_secs_f64();

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
    write_atomically(&out, &lines)?;
    fs::remove_file(&partial).with_context(|| format!("removing {}", partial.display()))?;

    print!("{}", summary(&lines)?);
    println!(
        "{} runs ({} new, {} resumed) in {:.1} s at --jobs {jobs} ({:.2} runs/s) → {}",
        points.len(),
        total,
        points.len() - total,
        elapsed,
        total as f64 / elapsed.max(1e-9),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Mean goodput, SLO attainment, p99 latency and peak memory per policy.
fn summary(lines: &[&str]) -> Result<String> {
    #[derive(Default)]
    struct Acc {
        runs: usize,
        goodput: f64,
        attainment: (f64, usize),
        p99: (f64, usize),
        memory: f64,
        capacity: (f64, usize),
    }
    let mut by: BTreeMap<String, Acc> = BTreeMap::new();
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l)?;
        let a = by
            .entry(v["policy"].as_str().unwrap_or("?").to_string())
            .or_default();
        a.runs += 1;
        a.goodput += v["goodput_rps"].as_f64().unwrap_or(0.0);
        a.memory += v["memory_peak_bytes"].as_f64().unwrap_or(0.0);
        if let Some(x) = v["slo_attainment"].as_f64() {
            a.attainment.0 += x;
            a.attainment.1 += 1;
        }
        if let Some(x) = v["latency_p99_ms"].as_f64() {
            a.p99.0 += x;
            a.p99.1 += 1;
        }
        if let Some(x) = v["capacity_rps"].as_f64() {
            a.capacity.0 += x;
            a.capacity.1 += 1;
        }
    }
    let with_capacity = by.values().any(|a| a.capacity.1 > 0);
    let mean = |(s, n): (f64, usize)| {
        if n == 0 {
            "-".to_string()
        } else {
            format!("{:.3}", s / n as f64)
        }
    };
    let mut s = format!(
        "{:<12} {:>5} {:>14} {:>15} {:>13} {:>15}{}\n",
        "policy",
        "runs",
        "goodput_rps",
        "slo_attainment",
        "p99_ms",
        "mem_peak_MiB",
        if with_capacity {
            format!(" {:>13}", "capacity_rps")
        } else {
            String::new()
        }
    );
    for (policy, a) in &by {
        s.push_str(&format!(
            "{:<12} {:>5} {:>14.2} {:>15} {:>13} {:>15.1}{}\n",
            policy,
            a.runs,
            a.goodput / a.runs as f64,
            mean(a.attainment),
            mean(a.p99),
            a.memory / a.runs as f64 / (1u64 << 20) as f64,
            if with_capacity {
                format!(" {:>13}", mean(a.capacity))
            } else {
                String::new()
            }
        ));
    }
    s.push_str("(means over the runs of each policy)\n");
    Ok(s)
}
