//! Running a harness: cases generated from the seed, panics caught, findings kept and shrunk.
//!
//! A *finding* is a panic (grouped by the place it was raised, `file:line:column`), an error
//! message that fails the quality check ([`error_quality`]), or, under the command line's
//! supervisor, a process abort (out of memory, stack overflow) or a case that ran past its time
//! limit. The first input of each finding is saved with a shrunk copy ([`minimize`]) and a note
//! saying how to replay it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::env::Env;
use crate::harness::{Harness, Verdict};
use crate::mutate::Mutator;
use crate::rng::Rng;

/// What one run of an input ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The harness returned.
    Returned(Verdict),
    /// The harness panicked at `site` (`file:line:column`) with `message`.
    Panicked {
        /// Where the panic was raised.
        site: String,
        /// The panic's message.
        message: String,
    },
}

/// The kind of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingKind {
    /// A panic.
    Panic,
    /// An error message that fails [`error_quality`].
    BadError,
    /// The worker process died (abort, out of memory): only under the supervisor.
    Abort,
    /// A case ran past the time limit: only under the supervisor.
    Hang,
}

impl FindingKind {
    /// Its name in file names and reports.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Panic => "panic",
            FindingKind::BadError => "bad-error",
            FindingKind::Abort => "abort",
            FindingKind::Hang => "hang",
        }
    }
}

/// One finding: a distinct site, its first input and how often it was hit.
#[derive(Clone, Debug)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// Where (a panic's `file:line:column`, or a description for the other kinds).
    pub site: String,
    /// The first message seen.
    pub message: String,
    /// The case that found it.
    pub case: u64,
    /// That case's input.
    pub input: Vec<u8>,
    /// A shrunk input with the same site (the input itself when not shrunk).
    pub minimized: Vec<u8>,
    /// Cases that hit this site.
    pub hits: u64,
    /// The note written for it, if findings are saved.
    pub saved: Option<PathBuf>,
}

/// What a run of a harness did.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// The harness.
    pub harness: String,
    /// Cases run.
    pub cases: u64,
    /// Inputs the reader took.
    pub accepted: u64,
    /// Inputs the reader refused.
    pub rejected: u64,
    /// Inputs the harness skipped.
    pub skipped: u64,
    /// Cases with a finding.
    pub failing_cases: u64,
    /// Distinct error messages (digits masked): a rough measure of how much of the reader's
    /// checking the cases reached.
    pub distinct_errors: u64,
    /// Wall time of the cases (not of shrinking).
    pub elapsed: Duration,
    /// The slowest case: its time and number.
    pub slowest: (Duration, u64),
    /// The findings, one per site.
    pub findings: Vec<Finding>,
}

impl Stats {
    /// Cases per second of wall time.
    pub fn rate(&self) -> f64 {
        self.cases as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How to run a harness.
#[derive(Clone, Debug)]
pub struct Config {
    /// Cases to run.
    pub cases: u64,
    /// The seed: case `i` is a function of (seed, harness, i).
    pub seed: u64,
    /// The first case's number (to resume after a crash).
    pub start: u64,
    /// Where findings are saved (`DIR/<harness>/`); `None` keeps them in memory only.
    pub out: Option<PathBuf>,
    /// Interval of the progress lines on stderr; `None` for none.
    pub progress: Option<Duration>,
    /// Shrink each finding's input.
    pub minimize: bool,
    /// A file the current case's number is written to before it runs (8 bytes, little-endian),
    /// so that a supervisor can tell which case killed the process.
    pub case_file: Option<PathBuf>,
    /// Called with the statistics so far every 256 cases, at each progress line and at the end.
    pub on_progress: Option<fn(&Stats)>,
}

impl Config {
    /// `cases` cases from `seed`, findings in memory, no progress, shrinking on.
    pub fn new(cases: u64, seed: u64) -> Self {
        Config {
            cases,
            seed,
            start: 0,
            out: None,
            progress: None,
            minimize: true,
            case_file: None,
            on_progress: None,
        }
    }
}

thread_local! {
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that, on threads running a case, records the panic's site and
/// message instead of printing them; other threads keep the previous hook.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(Cell::get) {
                let mut site = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_else(|| "<unknown>".into());
                if site.starts_with('/') || site.starts_with('<') {
                    // Raised in the standard library or a dependency (an overflowing `sum`,
                    // `product`, slice index): the site is the project's innermost frame.
                    let trace = std::backtrace::Backtrace::force_capture().to_string();
                    if let Some(frame) = project_frame(&trace) {
                        site = format!("{frame} (in {site})");
                    }
                }
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "<non-string panic payload>".into());
                CAUGHT.with(|c| *c.borrow_mut() = Some((site, message)));
            } else {
                previous(info);
            }
        }));
    });
}

/// Counts the inputs run in this process; a watchdog that sees it stand still knows a run hangs.
pub static HEARTBEAT: AtomicU64 = AtomicU64::new(0);

/// The crates whose code a finding is in (paths relative to the workspace's root).
const PROJECT_DIRS: &[&str] = &["sim/", "hil/", "results-lib/"];

/// The innermost frame of a backtrace in the crates under test (`sim/src/…:line:column`), if
/// any.
pub fn project_frame(backtrace: &str) -> Option<String> {
    let root = format!("{}/", crate::env::default_repo().display());
    backtrace.lines().find_map(|l| {
        let at = l.trim().strip_prefix("at ")?;
        let at = at.strip_prefix("./").unwrap_or(at);
        let at = at.strip_prefix(root.as_str()).unwrap_or(at);
        PROJECT_DIRS
            .iter()
            .any(|d| at.starts_with(d))
            .then(|| at.to_string())
    })
}

/// Runs `harness` on `input`, catching a panic.
pub fn run_input(harness: &Harness, env: &Env, input: &[u8]) -> Outcome {
    install_panic_hook();
    HEARTBEAT.fetch_add(1, Ordering::Relaxed);
    CAPTURING.with(|c| c.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| (harness.run)(env, input)));
    CAPTURING.with(|c| c.set(false));
    match result {
        Ok(v) => Outcome::Returned(v),
        Err(_) => {
            let (site, message) = CAUGHT
                .with(|c| c.borrow_mut().take())
                .unwrap_or_else(|| ("<unknown>".into(), "<no message>".into()));
            Outcome::Panicked { site, message }
        }
    }
}

/// What is wrong with a reader's error message, if anything: empty, or far longer than the
/// input it is about (an input echoed many times over).
pub fn error_quality(message: &str, input_len: usize) -> Option<&'static str> {
    if message.trim().is_empty() {
        return Some("empty error message");
    }
    if message.len() > 64 * 1024 && message.len() > 16 * input_len.max(1) {
        return Some("error message many times longer than the input");
    }
    None
}

/// The finding an outcome is, if any: (kind, site, message).
pub fn classify(outcome: &Outcome, input_len: usize) -> Option<(FindingKind, String, String)> {
    match outcome {
        Outcome::Panicked { site, message } => {
            Some((FindingKind::Panic, site.clone(), message.clone()))
        }
        Outcome::Returned(Verdict::Rejected(m)) => error_quality(m, input_len)
            .map(|issue| (FindingKind::BadError, issue.to_string(), shorten(m, 2000))),
        Outcome::Returned(_) => None,
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// An error message with digit runs masked and cut to 100 characters, to count distinct ones.
fn error_shape(message: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
        if out.len() >= 100 {
            break;
        }
    }
    out
}

/// Shrinks `input` while `harness` still fails with the same (kind, site): removes halves,
/// quarters, … down to single bytes, for at most `max_tries` runs or `budget` of time.
pub fn minimize(
    harness: &Harness,
    env: &Env,
    input: &[u8],
    kind: FindingKind,
    site: &str,
    max_tries: usize,
    budget: Duration,
) -> Vec<u8> {
    let started = Instant::now();
    let same = |candidate: &[u8]| {
        let outcome = run_input(harness, env, candidate);
        classify(&outcome, candidate.len()).is_some_and(|(k, s, _)| k == kind && s == site)
    };
    let mut best = input.to_vec();
    let mut tries = 0;
    let mut chunk = best.len().div_ceil(2).max(1);
    while tries < max_tries && started.elapsed() < budget {
        let mut i = 0;
        let mut shrunk = false;
        while i < best.len() && tries < max_tries && started.elapsed() < budget {
            let end = (i + chunk).min(best.len());
            let mut candidate = best[..i].to_vec();
            candidate.extend_from_slice(&best[end..]);
            tries += 1;
            if same(&candidate) {
                best = candidate;
                shrunk = true;
            } else {
                i = end;
            }
        }
        if chunk == 1 && !shrunk {
            break;
        }
        if !shrunk {
            chunk = chunk.div_ceil(2);
        }
    }
    best
}

/// The input of case `case` of `harness` under `seed`.
pub fn case_input(mutator: &Mutator, harness: &Harness, seed: u64, case: u64) -> Vec<u8> {
    mutator.generate(&mut Rng::for_case(seed, harness.name, case))
}

/// The mutator of `harness`: its seeds and the sandbox's paths.
pub fn mutator_for(harness: &Harness, env: &Env) -> Mutator {
    let extra: &[String] = if harness.sandbox_values {
        &env.sandbox_paths
    } else {
        &[]
    };
    Mutator::new(harness.format, (harness.seeds)(env), extra).with_options(harness.options)
}

fn file_safe(s: &str) -> String {
    let head = s.split(" (in ").next().unwrap_or(s);
    let tail: String = head.rsplit(['/', '\\']).next().unwrap_or(head).to_string();
    let cleaned: String = tail
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    format!("{cleaned}-{:08x}", crate::rng::fnv1a(s.as_bytes()) as u32)
}

/// Writes `finding`'s input, its shrunk input and a note under `dir/<harness>/`; returns the
/// note's path.
pub fn save_finding(
    dir: &Path,
    harness: &Harness,
    seed: u64,
    finding: &Finding,
) -> std::io::Result<PathBuf> {
    let dir = dir.join(harness.name);
    std::fs::create_dir_all(&dir)?;
    let stem = format!("{}-{}", finding.kind.name(), file_safe(&finding.site));
    let input = dir.join(format!("{stem}.input"));
    let min = dir.join(format!("{stem}.min.input"));
    let note = dir.join(format!("{stem}.txt"));
    std::fs::write(&input, &finding.input)?;
    std::fs::write(&min, &finding.minimized)?;
    let mut f = std::fs::File::create(&note)?;
    writeln!(f, "harness: {}", harness.name)?;
    writeln!(f, "kind:    {}", finding.kind.name())?;
    writeln!(f, "site:    {}", finding.site)?;
    writeln!(f, "found:   case {} of --seed {seed}", finding.case)?;
    writeln!(f, "message: {}", finding.message)?;
    writeln!(f)?;
    writeln!(f, "replay (with a backtrace):")?;
    writeln!(
        f,
        "  cargo run --release -p infscaler-fuzz -- repro {} {}",
        harness.name,
        min.display()
    )?;
    writeln!(f)?;
    writeln!(
        f,
        "shrunk input ({} of {} bytes):",
        finding.minimized.len(),
        finding.input.len()
    )?;
    writeln!(f, "{}", String::from_utf8_lossy(&finding.minimized))?;
    Ok(note)
}

/// Runs `config.cases` cases of `harness`.
pub fn fuzz(harness: &Harness, env: &Env, config: &Config) -> Stats {
    let mutator = mutator_for(harness, env);
    let mut stats = Stats {
        harness: harness.name.to_string(),
        ..Stats::default()
    };
    let mut by_site: BTreeMap<(FindingKind, String), Finding> = BTreeMap::new();
    let mut shapes: HashSet<String> = HashSet::new();
    let case_file = config
        .case_file
        .as_ref()
        .and_then(|p| std::fs::File::create(p).ok());
    let started = Instant::now();
    let mut shrinking = Duration::ZERO;
    let mut last_progress = Instant::now();
    for case in config.start..config.start.saturating_add(config.cases) {
        let input = case_input(&mutator, harness, config.seed, case);
        if let Some(f) = &case_file {
            write_case(f, case);
        }
        let t = Instant::now();
        let outcome = run_input(harness, env, &input);
        let took = t.elapsed();
        if took > stats.slowest.0 {
            stats.slowest = (took, case);
        }
        stats.cases += 1;
        match &outcome {
            Outcome::Returned(Verdict::Accepted) => stats.accepted += 1,
            Outcome::Returned(Verdict::Rejected(m)) => {
                stats.rejected += 1;
                if shapes.len() < 100_000 {
                    shapes.insert(error_shape(m));
                }
            }
            Outcome::Returned(Verdict::Skipped) => stats.skipped += 1,
            Outcome::Panicked { .. } => {}
        }
        if let Some((kind, site, message)) = classify(&outcome, input.len()) {
            stats.failing_cases += 1;
            let key = (kind, site.clone());
            if let Some(f) = by_site.get_mut(&key) {
                f.hits += 1;
            } else {
                let t = Instant::now();
                let minimized = if config.minimize {
                    minimize(
                        harness,
                        env,
                        &input,
                        kind,
                        &site,
                        4_000,
                        Duration::from_secs(30),
                    )
                } else {
                    input.clone()
                };
                let mut finding = Finding {
                    kind,
                    site,
                    message,
                    case,
                    input,
                    minimized,
                    hits: 1,
                    saved: None,
                };
                if let Some(dir) = &config.out {
                    finding.saved = save_finding(dir, harness, config.seed, &finding).ok();
                }
                if config.progress.is_some() {
                    eprintln!(
                        "[{}] NEW {} at {} (case {}): {}",
                        harness.name,
                        finding.kind.name(),
                        finding.site,
                        case,
                        shorten(&finding.message, 300)
                    );
                }
                by_site.insert(key, finding);
                shrinking += t.elapsed();
            }
        }
        let print = config
            .progress
            .is_some_and(|every| last_progress.elapsed() >= every);
        if print || (config.on_progress.is_some() && stats.cases.is_multiple_of(256)) {
            stats.elapsed = started.elapsed().saturating_sub(shrinking);
            stats.distinct_errors = shapes.len() as u64;
            if print {
                last_progress = Instant::now();
                eprintln!("{}", progress_line(&stats, config.cases, by_site.len()));
            }
            if let Some(report) = config.on_progress {
                stats.findings = by_site.values().cloned().collect();
                report(&stats);
            }
        }
    }
    stats.elapsed = started.elapsed().saturating_sub(shrinking);
    stats.distinct_errors = shapes.len() as u64;
    stats.findings = by_site.into_values().collect();
    if let Some(report) = config.on_progress {
        report(&stats);
    }
    stats
}

fn write_case(file: &std::fs::File, case: u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let _ = file.write_at(&case.to_le_bytes(), 0);
    }
    #[cfg(not(unix))]
    {
        let _ = (file, case);
    }
}

/// One line of progress.
pub fn progress_line(stats: &Stats, total: u64, sites: usize) -> String {
    let pct = |n: u64| 100.0 * n as f64 / stats.cases.max(1) as f64;
    format!(
        "[{}] {}/{} cases  {:.0}/s  accepted {:.1} %  skipped {:.1} %  {} distinct errors  {} failing cases, {} sites  (slowest: case {}, {:.0} ms)",
        stats.harness,
        stats.cases,
        total,
        stats.rate(),
        pct(stats.accepted),
        pct(stats.skipped),
        stats.distinct_errors,
        stats.failing_cases,
        sites,
        stats.slowest.1,
        stats.slowest.0.as_secs_f64() * 1e3
    )
}

/// A findings report for a failed assertion: every site with its shrunk input.
pub fn describe_findings(stats: &Stats) -> String {
    let mut out = String::new();
    for f in &stats.findings {
        out.push_str(&format!(
            "{} {} at {} (case {}, {} hits): {}\n--- shrunk input ---\n{}\n---\n",
            stats.harness,
            f.kind.name(),
            f.site,
            f.case,
            f.hits,
            shorten(&f.message, 500),
            String::from_utf8_lossy(&f.minimized)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shapes_mask_numbers() {
        assert_eq!(error_shape("line 12: 3.5 is bad"), "line #: #.# is bad");
        assert_eq!(error_quality("  ", 10), Some("empty error message"));
        assert_eq!(error_quality("ok", 10), None);
    }

    #[test]
    fn project_frames_skip_the_standard_library_and_this_crate() {
        let trace = "  0: std::backtrace::Backtrace::force_capture
             at /rustc/abc/library/std/src/backtrace.rs:1:1
  1: infscaler_fuzz::driver::install_panic_hook
             at src/driver.rs:174:33
  2: core::iter::traits::accum::Product::product
             at /rustc/abc/library/core/src/iter/traits/accum.rs:204:1
  3: infscaler_sim::model::onnx::import::reshape_target
             at ./sim/src/model/onnx/import.rs:700:25";
        assert_eq!(
            project_frame(trace).as_deref(),
            Some("sim/src/model/onnx/import.rs:700:25")
        );
        assert_eq!(project_frame("  0: main\n at fuzz/src/main.rs:1:1"), None);
    }

    #[test]
    fn site_names_are_file_safe() {
        let s = file_safe("sim/src/workload/trace.rs:12:5");
        assert!(s.starts_with("trace.rs_12_5-"), "{s}");
        let s = file_safe("sim/src/a.rs:1:2 (in /rustc/x/library/core/src/iter.rs:3:4)");
        assert!(s.starts_with("a.rs_1_2-"), "{s}");
    }
}
