//! `infscaler bench --suite`: the simulator's speed on the kinds of work it is used for, each
//! case in a process of its own (so its peak memory is its own).
//!
//! Cases: the built-in bench; a CPU pipeline where nothing contends; a GPU+DLA pipeline under
//! heavy contention; a policy that scales (InfScaler, bursty load); a trace replay (InfScaler,
//! the Azure LLM trace looped); a capacity search; `reproduce paper` (quick, or full on request).
//! Each prints wall time, simulated requests per second, events per second and peak RSS.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// Which `reproduce paper` run the suite times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Reproduce {
    /// Not at all.
    None,
    /// `reproduce paper --quick` (about half a minute on two cores).
    Quick,
    /// `reproduce paper` (about ten minutes on two cores).
    Full,
}

/// The suite's options.
pub struct Options {
    /// Requests per simulation case.
    pub requests: u64,
    /// Repetitions of each simulation case (the best is reported).
    pub repeat: u32,
    /// Which `reproduce paper` to time.
    pub reproduce: Reproduce,
    /// Parallel runs of the capacity search and of `reproduce`.
    pub jobs: usize,
    /// Print one JSON object.
    pub json: bool,
}

/// One case: its name, what it measures, and what it runs.
struct Case {
    name: &'static str,
    what: &'static str,
    run: Run,
}

enum Run {
    /// `infscaler bench [--scenario FILE]`.
    Bench(Option<&'static str>),
    /// `infscaler capacity FILE`.
    Capacity(&'static str),
    /// `infscaler reproduce paper`.
    Reproduce { quick: bool },
}

const CASES: &[Case] = &[
    Case {
        name: "bench",
        what: "built-in: AlexNet P5|P13|P24 on GPU, DLA0, DLA1",
        run: Run::Bench(None),
    },
    Case {
        name: "cpu-pipeline",
        what: "3 stages, 8 CPU instances, nothing contends",
        run: Run::Bench(Some("scenarios/bench/cpu-pipeline.toml")),
    },
    Case {
        name: "gpu-dla-contention",
        what: "ResNet-50 on GPU+DLAs near capacity, time-sliced GPU",
        run: Run::Bench(Some("scenarios/bench/gpu-dla-contention.toml")),
    },
    Case {
        name: "infscaler-tm-bursty",
        what: "InfScaler scaling TM under an MMPP",
        run: Run::Bench(Some("scenarios/bench/infscaler-tm-bursty.toml")),
    },
    Case {
        name: "trace-replay",
        what: "InfScaler, TM, Azure LLM trace looped",
        run: Run::Bench(Some("scenarios/paper/trace-replay.toml")),
    },
    Case {
        name: "capacity",
        what: "capacity search, InfScaler on TM (Fig. 5 base)",
        run: Run::Capacity("scenarios/paper/poisson-base.toml"),
    },
    Case {
        name: "reproduce-quick",
        what: "reproduce paper --quick",
        run: Run::Reproduce { quick: true },
    },
    Case {
        name: "reproduce-full",
        what: "reproduce paper",
        run: Run::Reproduce { quick: false },
    },
];

/// What one case measured.
#[derive(Debug, Serialize)]
struct Outcome {
    case: &'static str,
    what: &'static str,
    /// Best wall time of a simulation case; the wall time of a capacity search or reproduction.
    wall_s: f64,
    /// Simulated requests (arrivals; for a capacity search the requests its probes measured).
    requests: Option<u64>,
    requests_per_s: Option<f64>,
    events_per_s: Option<f64>,
    /// Peak resident memory of the case's process.
    peak_rss_bytes: Option<u64>,
}

/// Runs every case and prints the table (or JSON).
pub fn run(options: &Options) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("finding the infscaler executable")?;
    for case in CASES {
        if let Run::Bench(Some(file)) | Run::Capacity(file) = case.run
            && !Path::new(file).exists()
        {
            bail!(
                "bench --suite: {file} not found: run it from the repository's root folder \
                 (the suite's scenarios live in scenarios/)"
            );
        }
    }
    let cases: Vec<&Case> = CASES
        .iter()
        .filter(|c| match c.run {
            Run::Reproduce { quick } => match options.reproduce {
                Reproduce::None => false,
                Reproduce::Quick => quick,
                Reproduce::Full => !quick,
            },
            _ => true,
        })
        .collect();
    if !options.json {
        println!(
            "bench --suite · {} · {} request(s) per simulation case, best of {}",
            machine(),
            options.requests,
            options.repeat.max(1)
        );
        println!(
            "  {:<20} {:>9} {:>12} {:>12} {:>12} {:>9}  what",
            "case", "wall s", "requests", "req/s", "events/s", "RSS MiB"
        );
    }
    let mut outcomes = Vec::new();
    for case in cases {
        let outcome = measure(&exe, case, options)?;
        if !options.json {
            let opt = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.0}"));
            println!(
                "  {:<20} {:>9.3} {:>12} {:>12} {:>12} {:>9}  {}",
                outcome.case,
                outcome.wall_s,
                outcome.requests.map_or("—".to_string(), |r| r.to_string()),
                opt(outcome.requests_per_s),
                opt(outcome.events_per_s),
                outcome.peak_rss_bytes.map_or("—".to_string(), |b| format!(
                    "{:.1}",
                    b as f64 / 1048576.0
                )),
                outcome.what
            );
        }
        outcomes.push(outcome);
    }
    if options.json {
        let v = serde_json::json!({
            "machine": machine(),
            "requests": options.requests,
            "repeat": options.repeat.max(1),
            "cases": outcomes,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one case in a child process.
fn measure(exe: &Path, case: &Case, options: &Options) -> Result<Outcome> {
    let jobs = options.jobs.to_string();
    let requests = options.requests.to_string();
    let repeat = options.repeat.max(1).to_string();
    let mut args: Vec<String> = Vec::new();
    // Where a reproduction writes (a scratch folder, removed afterwards).
    let mut out_dir: Option<PathBuf> = None;
    match case.run {
        Run::Bench(file) => {
            args.extend(
                [
                    "bench",
                    "--json",
                    "--requests",
                    &requests,
                    "--repeat",
                    &repeat,
                ]
                .map(String::from),
            );
            if let Some(file) = file {
                args.extend(["--scenario".to_string(), file.to_string()]);
            }
        }
        Run::Capacity(file) => {
            args.extend(["capacity", file, "--json", "--jobs", &jobs].map(String::from));
        }
        Run::Reproduce { quick } => {
            let dir =
                std::env::temp_dir().join(format!("infscaler-bench-suite-{}", std::process::id()));
            args.extend(["reproduce", "paper", "--jobs", &jobs, "--out-dir"].map(String::from));
            args.push(dir.display().to_string());
            if quick {
                args.push("--quick".into());
            }
            out_dir = Some(dir);
        }
    }
    let started = Instant::now();
    let ran = run_child(exe, &args);
    let wall_s = started.elapsed().as_secs_f64();
    if let Some(dir) = &out_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    let (stdout, peak_rss_bytes) =
        ran.with_context(|| format!("bench --suite: case {}", case.name))?;
    let value = |text: &str| -> Result<serde_json::Value> {
        serde_json::from_str(text)
            .with_context(|| format!("case {}: output is not JSON", case.name))
    };
    Ok(match case.run {
        Run::Bench(_) => {
            let v = value(&stdout)?;
            Outcome {
                case: case.name,
                what: case.what,
                wall_s: v["best_s"].as_f64().unwrap_or(wall_s),
                requests: v["requests"].as_u64(),
                requests_per_s: v["requests_per_s"].as_f64(),
                events_per_s: v["events_per_s"].as_f64(),
                peak_rss_bytes,
            }
        }
        Run::Capacity(_) => {
            let v = value(&stdout)?;
            let requests: u64 = v["probes"]
                .as_array()
                .map(|probes| probes.iter().filter_map(|p| p["measured"].as_u64()).sum())
                .unwrap_or(0);
            Outcome {
                case: case.name,
                what: case.what,
                wall_s,
                requests: Some(requests),
                requests_per_s: Some(requests as f64 / wall_s),
                events_per_s: None,
                peak_rss_bytes,
            }
        }
        Run::Reproduce { .. } => Outcome {
            case: case.name,
            what: case.what,
            wall_s,
            requests: None,
            requests_per_s: None,
            events_per_s: None,
            peak_rss_bytes,
        },
    })
}

/// Runs `exe args…`, returning its standard output and its peak resident memory.
fn run_child(exe: &Path, args: &[String]) -> Result<(String, Option<u64>)> {
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    // Progress and summaries on stderr are kept for an error message; read on a thread of its
    // own so that neither pipe can fill up and stall the child.
    let stderr = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut text);
            text
        })
    });
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        std::io::Read::read_to_string(&mut out, &mut stdout)?;
    }
    let (success, rss) = wait_with_peak_rss(&mut child)?;
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    if !success {
        bail!(
            "`infscaler {}` failed:\n{}",
            args.join(" "),
            stderr.trim_end()
        );
    }
    Ok((stdout, rss))
}

/// Waits for `child`; whether it succeeded, and its peak resident memory (Linux: `wait4`).
#[cfg(target_os = "linux")]
fn wait_with_peak_rss(child: &mut std::process::Child) -> Result<(bool, Option<u64>)> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data, written by the kernel; `pid` is our own unwaited child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if got != pid {
        bail!(
            "waiting for child {pid}: {}",
            std::io::Error::last_os_error()
        );
    }
    let success = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    // ru_maxrss is in KiB on Linux.
    Ok((success, Some(usage.ru_maxrss as u64 * 1024)))
}

/// Waits for `child`; whether it succeeded (peak memory is not known on this platform).
#[cfg(not(target_os = "linux"))]
fn wait_with_peak_rss(child: &mut std::process::Child) -> Result<(bool, Option<u64>)> {
    Ok((child.wait()?.success(), None))
}

/// The machine in a few words: CPU model and count, and the commit if this is a checkout.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match commit {
        Some(c) => format!("{cpu} × {cores} · commit {c}"),
        None => format!("{cpu} × {cores}"),
    }
}
