//! The `infscaler-fuzz` command: long fuzzing runs of the harnesses, with a supervisor.
//!
//! By default each harness runs in a worker process (this program, `worker` sub-command) with
//! its address space capped (`--mem-mb`) and a watchdog (`--timeout-s`): a case that aborts the
//! worker (out of memory, stack overflow) or runs past the limit is saved as a finding by the
//! supervisor, which regenerates the case from its number and restarts the worker after it.
//! See `fuzz/README.md`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use infscaler_fuzz::driver::{
    self, Config, Finding, FindingKind, Stats, case_input, mutator_for, save_finding,
};
use infscaler_fuzz::env::{Env, default_repo};
use infscaler_fuzz::harness::{HARNESSES, Harness, Verdict, find};

const USAGE: &str = "\
usage:
  infscaler-fuzz [HARNESS|all]... [--cases N] [--seed S] [--out DIR] [--jobs J]
                 [--timeout-s T] [--mem-mb M] [--in-process] [--no-minimize]
      fuzz the harnesses (default: all, 100000 cases each, seed 1, findings in
      target/fuzz-findings, one harness at a time, 20 s per case, 4096 MiB per worker)
  infscaler-fuzz list                        the harnesses
  infscaler-fuzz repro HARNESS FILE...       run saved inputs (4096 MiB cap), panics with a backtrace
  infscaler-fuzz case HARNESS --case I [--seed S] [--write FILE]
                                             regenerate one case's input
";

#[derive(Clone, Debug)]
struct Args {
    harnesses: Vec<&'static Harness>,
    cases: u64,
    seed: u64,
    start: u64,
    out: PathBuf,
    jobs: usize,
    timeout_s: u64,
    mem_mb: u64,
    in_process: bool,
    minimize: bool,
}

impl Args {
    /// The run these options ask for, with progress every 5 s (no case file, no stats file).
    fn config(&self) -> Config {
        Config {
            start: self.start,
            out: Some(self.out.clone()),
            progress: Some(Duration::from_secs(5)),
            minimize: self.minimize,
            ..Config::new(self.cases, self.seed)
        }
    }
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        harnesses: Vec::new(),
        cases: 100_000,
        seed: 1,
        start: 0,
        out: default_repo().join("target").join("fuzz-findings"),
        jobs: 1,
        timeout_s: 20,
        mem_mb: 4096,
        in_process: false,
        minimize: true,
    };
    let mut i = 0;
    let value = |i: &mut usize, name: &str| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("{name} needs a value"))
    };
    fn number(s: &str, name: &str) -> Result<u64, String> {
        s.replace('_', "")
            .parse()
            .map_err(|_| format!("{name}: `{s}` is not a whole number"))
    }
    while i < args.len() {
        let arg = args[i].as_str();
        match arg {
            "--cases" => a.cases = number(&value(&mut i, arg)?, arg)?,
            "--seed" => a.seed = number(&value(&mut i, arg)?, arg)?,
            "--start" => a.start = number(&value(&mut i, arg)?, arg)?,
            "--out" => a.out = PathBuf::from(value(&mut i, arg)?),
            "--jobs" => a.jobs = number(&value(&mut i, arg)?, arg)?.max(1) as usize,
            "--timeout-s" => a.timeout_s = number(&value(&mut i, arg)?, arg)?.max(1),
            "--mem-mb" => a.mem_mb = number(&value(&mut i, arg)?, arg)?,
            "--in-process" => a.in_process = true,
            "--no-minimize" => a.minimize = false,
            "all" => a.harnesses.extend(HARNESSES.iter()),
            name if !name.starts_with('-') => match find(name) {
                Some(h) => a.harnesses.push(h),
                None => {
                    return Err(format!(
                        "unknown harness `{name}` (see `infscaler-fuzz list`)"
                    ));
                }
            },
            other => return Err(format!("unknown option `{other}`")),
        }
        i += 1;
    }
    if a.harnesses.is_empty() {
        a.harnesses.extend(HARNESSES.iter());
    }
    a.harnesses.dedup_by_key(|h| h.name);
    Ok(a)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("list") => {
            for h in HARNESSES {
                println!("{:<18} {}", h.name, h.about);
            }
            Ok(true)
        }
        Some("repro") => repro(&args[1..]),
        Some("case") => case(&args[1..]),
        Some("worker") => parse_args(&args[1..]).and_then(|a| worker(&a)),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(true)
        }
        _ => parse_args(&args).and_then(|a| supervise(&a)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("infscaler-fuzz: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn new_env() -> Result<Env, String> {
    Env::new(&default_repo()).map_err(|e| format!("cannot create the sandbox: {e}"))
}

/// `repro HARNESS FILE...`: each input once, panics printed by the default hook.
fn repro(args: &[String]) -> Result<bool, String> {
    let [name, files @ ..] = args else {
        return Err("repro needs a harness and files".into());
    };
    let harness = find(name).ok_or_else(|| format!("unknown harness `{name}`"))?;
    let env = new_env()?;
    // As in a worker, so that an input that exhausted a worker's memory does so here too.
    infscaler_fuzz::limit_memory(parse_args(&[]).map_or(4096, |a| a.mem_mb));
    let mut clean = true;
    for file in files {
        let input = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        // Not through the driver: the default panic hook prints the message and backtrace.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (harness.run)(&env, &input)))
        {
            Ok(Verdict::Accepted) => println!("{file}: accepted"),
            Ok(Verdict::Skipped) => println!("{file}: skipped (names a file outside the sandbox)"),
            Ok(Verdict::Rejected(m)) => match driver::error_quality(&m, input.len()) {
                Some(issue) => {
                    clean = false;
                    println!("{file}: rejected, BAD ERROR ({issue}): {m}");
                }
                None => println!("{file}: rejected: {m}"),
            },
            Err(_) => {
                clean = false;
                println!("{file}: PANICKED");
            }
        }
    }
    Ok(clean)
}

/// `case HARNESS --case I [--seed S] [--write FILE]`.
fn case(args: &[String]) -> Result<bool, String> {
    let Some(name) = args.first() else {
        return Err("case needs a harness".into());
    };
    let harness = find(name).ok_or_else(|| format!("unknown harness `{name}`"))?;
    let (mut number, mut seed, mut write) = (None, 1, None);
    let mut i = 1;
    while i < args.len() {
        let v = args
            .get(i + 1)
            .ok_or_else(|| format!("{} needs a value", args[i]))?;
        match args[i].as_str() {
            "--case" => number = Some(v.parse::<u64>().map_err(|e| e.to_string())?),
            "--seed" => seed = v.parse::<u64>().map_err(|e| e.to_string())?,
            "--write" => write = Some(PathBuf::from(v)),
            other => return Err(format!("unknown option `{other}`")),
        }
        i += 2;
    }
    let number = number.ok_or("--case is required")?;
    let env = new_env()?;
    let input = case_input(&mutator_for(harness, &env), harness, seed, number);
    match write {
        Some(path) => std::fs::write(&path, &input).map_err(|e| e.to_string())?,
        None => std::io::stdout()
            .write_all(&input)
            .map_err(|e| e.to_string())?,
    }
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// Worker

fn state_dir(out: &Path) -> PathBuf {
    out.join(".state")
}

static STATS_FILE: OnceLock<PathBuf> = OnceLock::new();

/// Writes the statistics so far where the supervisor reads them.
fn write_stats(stats: &Stats) {
    let Some(path) = STATS_FILE.get() else {
        return;
    };
    let mut text = format!(
        "cases={}\naccepted={}\nrejected={}\nskipped={}\nfailing_cases={}\ndistinct_errors={}\nelapsed_ms={}\nslowest_us={}\nslowest_case={}\n",
        stats.cases,
        stats.accepted,
        stats.rejected,
        stats.skipped,
        stats.failing_cases,
        stats.distinct_errors,
        stats.elapsed.as_millis(),
        stats.slowest.0.as_micros(),
        stats.slowest.1
    );
    for f in &stats.findings {
        let saved = f
            .saved
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let site = f.site.replace(['\t', '\n'], " ");
        let message = f.message.replace(['\t', '\n'], " ");
        text.push_str(&format!(
            "finding={}\t{}\t{}\t{}\t{}\t{}\n",
            f.kind.name(),
            f.hits,
            f.case,
            site,
            saved,
            message.chars().take(300).collect::<String>()
        ));
    }
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// `worker HARNESS ...`: one harness in this process, state in `OUT/.state/`.
fn worker(a: &Args) -> Result<bool, String> {
    let [harness] = a.harnesses.as_slice() else {
        return Err("a worker runs one harness".into());
    };
    let state = state_dir(&a.out);
    std::fs::create_dir_all(&state).map_err(|e| e.to_string())?;
    let _ = STATS_FILE.set(state.join(format!("{}.stats", harness.name)));
    let hang_file = state.join(format!("{}.hang", harness.name));
    let env = new_env()?;
    infscaler_fuzz::limit_memory(a.mem_mb);

    // Watchdog: the heartbeat counts runs; if it stands still for the time limit, a run hangs.
    let timeout = Duration::from_secs(a.timeout_s);
    std::thread::spawn(move || {
        let mut seen = driver::HEARTBEAT.load(Ordering::Relaxed);
        let mut since = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let now = driver::HEARTBEAT.load(Ordering::Relaxed);
            if now != seen {
                seen = now;
                since = Instant::now();
            } else if since.elapsed() >= timeout {
                let _ = std::fs::write(&hang_file, b"hang");
                eprintln!(
                    "infscaler-fuzz: a case ran for more than {} s",
                    timeout.as_secs()
                );
                std::process::abort();
            }
        }
    });

    let config = Config {
        case_file: Some(state.join(format!("{}.case", harness.name))),
        on_progress: Some(write_stats),
        ..a.config()
    };
    let stats = driver::fuzz(harness, &env, &config);
    Ok(stats.findings.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Supervisor

fn read_stats(path: &Path) -> Option<Stats> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut s = Stats::default();
    for line in text.lines() {
        let (key, value) = line.split_once('=')?;
        let n = || value.parse::<u64>().unwrap_or(0);
        match key {
            "cases" => s.cases = n(),
            "accepted" => s.accepted = n(),
            "rejected" => s.rejected = n(),
            "skipped" => s.skipped = n(),
            "failing_cases" => s.failing_cases = n(),
            "distinct_errors" => s.distinct_errors = n(),
            "elapsed_ms" => s.elapsed = Duration::from_millis(n()),
            "slowest_us" => s.slowest.0 = Duration::from_micros(n()),
            "slowest_case" => s.slowest.1 = n(),
            "finding" => {
                let f: Vec<&str> = value.splitn(6, '\t').collect();
                if let [kind, hits, case, site, saved, message] = f[..] {
                    s.findings.push(Finding {
                        kind: match kind {
                            "panic" => FindingKind::Panic,
                            "bad-error" => FindingKind::BadError,
                            "hang" => FindingKind::Hang,
                            _ => FindingKind::Abort,
                        },
                        site: site.into(),
                        message: message.into(),
                        case: case.parse().unwrap_or(0),
                        input: Vec::new(),
                        minimized: Vec::new(),
                        hits: hits.parse().unwrap_or(1),
                        saved: (!saved.is_empty()).then(|| PathBuf::from(saved)),
                    });
                }
            }
            _ => {}
        }
    }
    Some(s)
}

/// Adds a worker segment's statistics to the harness's.
fn merge(total: &mut Stats, part: Stats) {
    total.cases += part.cases;
    total.accepted += part.accepted;
    total.rejected += part.rejected;
    total.skipped += part.skipped;
    total.failing_cases += part.failing_cases;
    total.distinct_errors = total.distinct_errors.max(part.distinct_errors);
    total.elapsed += part.elapsed;
    total.slowest = total.slowest.max(part.slowest);
    for f in part.findings {
        match total
            .findings
            .iter_mut()
            .find(|t| t.kind == f.kind && t.site == f.site)
        {
            Some(t) => t.hits += f.hits,
            None => total.findings.push(f),
        }
    }
}

/// Runs one harness in worker processes until its cases are done.
fn supervise_harness(a: &Args, harness: &'static Harness, env: &Env) -> Stats {
    let state = state_dir(&a.out);
    let _ = std::fs::create_dir_all(&state);
    let stats_file = state.join(format!("{}.stats", harness.name));
    let case_file = state.join(format!("{}.case", harness.name));
    let hang_file = state.join(format!("{}.hang", harness.name));
    let exe = std::env::current_exe().expect("the path of this program");
    let end = a.start.saturating_add(a.cases);
    let mut start = a.start;
    let mut total = Stats {
        harness: harness.name.into(),
        ..Stats::default()
    };
    let wall = Instant::now();
    let mut restarts = 0;
    while start < end {
        for f in [&stats_file, &case_file, &hang_file] {
            let _ = std::fs::remove_file(f);
        }
        let mut cmd = Command::new(&exe);
        cmd.arg("worker")
            .arg(harness.name)
            .args(["--cases", &(end - start).to_string()])
            .args(["--seed", &a.seed.to_string()])
            .args(["--start", &start.to_string()])
            .args(["--timeout-s", &a.timeout_s.to_string()])
            .args(["--mem-mb", &a.mem_mb.to_string()])
            .arg("--out")
            .arg(&a.out)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        if !a.minimize {
            cmd.arg("--no-minimize");
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("[{}] cannot start a worker: {e}", harness.name);
                break;
            }
        };
        // Forward the worker's stderr, keeping its last lines for an abort's note.
        let tail = Arc::new(Mutex::new(Vec::<String>::new()));
        let reader = child.stderr.take().map(|stderr| {
            let tail = Arc::clone(&tail);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    let mut t = tail.lock().expect("tail lock");
                    t.push(line);
                    if t.len() > 200 {
                        t.remove(0);
                    }
                }
            })
        });
        let worker_pid = child.id();
        let status = child.wait();
        // A worker that died left its sandbox behind.
        infscaler_fuzz::env::remove_sandboxes_of(worker_pid);
        if let Some(r) = reader {
            let _ = r.join();
        }
        let part = read_stats(&stats_file).unwrap_or_default();
        if status
            .as_ref()
            .is_ok_and(|s| s.code().is_some_and(|c| c <= 1))
        {
            merge(&mut total, part);
            break;
        }
        // The worker died: which case, and why.
        let died_at = std::fs::read(&case_file)
            .ok()
            .and_then(|b| {
                b.get(..8)
                    .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            })
            .unwrap_or(start);
        let hang = hang_file.exists();
        let mut part = part;
        // Cases the last progress line did not count, up to and including the fatal one.
        part.cases = died_at + 1 - start;
        merge(&mut total, part);
        let tail = tail.lock().expect("tail lock").clone();
        let (kind, site, fatal) = if hang {
            let site = format!("ran past {} s", a.timeout_s);
            (FindingKind::Hang, site.clone(), site)
        } else {
            let (site, fatal) = abort_site(&tail, &format!("{status:?}"));
            (FindingKind::Abort, site, fatal)
        };
        let input = case_input(&mutator_for(harness, env), harness, a.seed, died_at);
        let mut finding = Finding {
            kind,
            site: site.clone(),
            message: format!("{fatal}\n{}", tail.join("\n")),
            case: died_at,
            minimized: input.clone(),
            input,
            hits: 1,
            saved: None,
        };
        total.failing_cases += 1;
        match total
            .findings
            .iter_mut()
            .find(|t| t.kind == kind && t.site == site)
        {
            Some(t) => {
                t.hits += 1;
                eprintln!(
                    "[{}] {} again at case {died_at}: {site}",
                    harness.name,
                    kind.name()
                );
            }
            None => {
                eprintln!(
                    "[{}] NEW {} at case {died_at}: {site}",
                    harness.name,
                    kind.name()
                );
                finding.saved = save_finding(&a.out, harness, a.seed, &finding).ok();
                total.findings.push(finding);
            }
        }
        start = died_at + 1;
        restarts += 1;
        if restarts >= 100 {
            eprintln!(
                "[{}] 100 workers died: giving up on this harness",
                harness.name
            );
            break;
        }
    }
    // Rates over the supervisor's wall time, shrinking and restarts included.
    total.elapsed = wall.elapsed();
    total
}

/// What killed a worker, from the end of its stderr: the site (the fatal message with digits
/// masked and the project's innermost frame in the backtrace, e.g. `memory allocation of #
/// bytes failed at sim/src/workload/azure.rs:371`) and the fatal message itself.
fn abort_site(tail: &[String], status: &str) -> (String, String) {
    let fatal = tail
        .iter()
        .find(|l| {
            [
                "memory allocation of",
                "has overflowed its stack",
                "fatal runtime error",
                "panicked at",
            ]
            .iter()
            .any(|m| l.contains(m))
        })
        .map_or_else(
            || format!("worker died ({status})"),
            |l| l.trim().to_string(),
        );
    // file:line, without the column.
    let frame = driver::project_frame(&tail.join("\n")).map(|at| {
        at.rsplit_once(':')
            .map_or(at.clone(), |(fl, _)| fl.to_string())
    });
    let masked = mask_digits(&fatal);
    let site = match frame {
        Some(f) => format!("{masked} at {f}"),
        None => masked,
    };
    (site, fatal)
}

fn mask_digits(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn supervise(a: &Args) -> Result<bool, String> {
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let env = new_env()?;
    eprintln!(
        "infscaler-fuzz: {} × {} cases, seed {}, findings in {}",
        a.harnesses
            .iter()
            .map(|h| h.name)
            .collect::<Vec<_>>()
            .join(", "),
        a.cases,
        a.seed,
        a.out.display()
    );
    let results: Vec<Stats> = if a.in_process {
        a.harnesses
            .iter()
            .map(|h| driver::fuzz(h, &env, &a.config()))
            .collect()
    } else {
        let queue = Mutex::new(a.harnesses.iter().copied().enumerate());
        let results = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..a.jobs.min(a.harnesses.len()) {
                s.spawn(|| {
                    loop {
                        let next = queue.lock().expect("queue lock").next();
                        let Some((i, h)) = next else { break };
                        let stats = supervise_harness(a, h, &env);
                        results.lock().expect("results lock").push((i, stats));
                    }
                });
            }
        });
        let mut results = results.into_inner().expect("results lock");
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, s)| s).collect()
    };
    let summary = summary(a, &results);
    print!("{summary}");
    let _ = std::fs::write(a.out.join("summary.txt"), &summary);
    Ok(results.iter().all(|s| s.findings.is_empty()))
}

fn summary(a: &Args, results: &[Stats]) -> String {
    let mut out = format!(
        "\n{:<18} {:>10} {:>9} {:>9} {:>9} {:>8} {:>9} {:>8} {:>6} {:>11}\n",
        "harness",
        "cases",
        "wall s",
        "cases/s",
        "accepted",
        "skipped",
        "distinct",
        "failing",
        "sites",
        "slowest ms"
    );
    for s in results {
        let pct = |n: u64| 100.0 * n as f64 / s.cases.max(1) as f64;
        out.push_str(&format!(
            "{:<18} {:>10} {:>9.1} {:>9.0} {:>8.1}% {:>7.1}% {:>9} {:>8} {:>6} {:>11.1}\n",
            s.harness,
            s.cases,
            s.elapsed.as_secs_f64(),
            s.rate(),
            pct(s.accepted),
            pct(s.skipped),
            s.distinct_errors,
            s.failing_cases,
            s.findings.len(),
            s.slowest.0.as_secs_f64() * 1e3
        ));
    }
    out.push_str(&format!(
        "(seed {}; distinct = distinct error messages with numbers masked)\n",
        a.seed
    ));
    for s in results {
        for f in &s.findings {
            out.push_str(&format!(
                "{} {}: {} ({} hits, first case {}){}\n    {}\n",
                s.harness,
                f.kind.name(),
                f.site,
                f.hits,
                f.case,
                f.saved
                    .as_ref()
                    .map(|p| format!(" → {}", p.display()))
                    .unwrap_or_default(),
                f.message
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect::<String>()
            ));
        }
    }
    out
}
