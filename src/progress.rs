//! Progress of long commands on stderr: an indicatif bar (runs done, rate, ETA) on a terminal, a
//! line every few seconds otherwise (logs of batch jobs and CI), and nothing on stdout.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Progress of `total` units of work called `unit` ("runs", "searches").
pub struct Progress {
    label: String,
    unit: &'static str,
    total: u64,
    done: u64,
    start: Instant,
    last_line: Instant,
    bar: Option<ProgressBar>,
}

/// How often the plain (non-terminal) progress prints a line.
const LINE_INTERVAL: Duration = Duration::from_secs(2);

impl Progress {
    /// Starts showing progress; `label` prefixes every line.
    pub fn new(label: &str, unit: &'static str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta} ({elapsed})",
            )
            .expect("valid template")
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            bar.set_message(unit);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Progress {
            label: label.to_string(),
            unit,
            total,
            done: 0,
            start: now,
            last_line: now,
            bar,
        }
    }

    /// Records one finished unit.
    pub fn inc(&mut self) {
        self.done += 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => {
                let now = Instant::now();
                if now.duration_since(self.last_line) >= LINE_INTERVAL || self.done == self.total {
                    self.last_line = now;
                    eprintln!("{}", self.line());
                }
            }
        }
    }

    fn line(&self) -> String {
        let elapsed = self.start.elapsed().as_secs_f64();
        let rate = self.done as f64 / elapsed.max(1e-9);
        format!(
            "{}: {}/{} {}, {rate:.2} {}/s, ETA {}",
            self.label,
            self.done,
            self.total,
            self.unit,
            self.unit,
            fmt_secs((self.total - self.done) as f64 / rate.max(1e-9))
        )
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `s` seconds as `42s`, `3m07s` or `1h05m`.
pub fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Progress of one run (`infscaler run`, `hil run`) on stderr: on a terminal, a bar that
/// appears after a second (short runs print nothing); otherwise a line every few seconds.
/// Shows simulated time, requests arrived, simulation speed and the estimated time left.
pub struct RunProgressView {
    label: String,
    start: Instant,
    last_line: Instant,
    terminal: bool,
    bar: Option<ProgressBar>,
}

/// How long a run goes before its progress shows on a terminal.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// Lines of a run's progress in a log: one every this long.
const RUN_LINE_INTERVAL: Duration = Duration::from_secs(5);

impl RunProgressView {
    /// Starts the clock; nothing shows yet.
    pub fn new(label: &str) -> RunProgressView {
        let now = Instant::now();
        RunProgressView {
            label: label.to_string(),
            start: now,
            last_line: now,
            terminal: std::io::stderr().is_terminal(),
            bar: None,
        }
    }

    /// Shows `p` if it is time to.
    pub fn observe(&mut self, p: &infscaler_sim::RunProgress) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.start);
        let text = Self::text(p, elapsed.as_secs_f64());
        if self.terminal {
            if self.bar.is_none() && elapsed >= SHOW_AFTER {
                let bar = ProgressBar::new(1000);
                let style = ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}% {msg}")
                    .expect("valid template")
                    .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(self.label.clone());
                self.bar = Some(bar);
            }
            if let Some(bar) = &self.bar {
                bar.set_position((p.fraction.clamp(0.0, 1.0) * 1000.0) as u64);
                bar.set_message(text);
            }
        } else if now.duration_since(self.last_line) >= RUN_LINE_INTERVAL {
            self.last_line = now;
            eprintln!(
                "{}: {:.1}% {text}",
                self.label,
                100.0 * p.fraction.clamp(0.0, 1.0)
            );
        }
    }

    fn text(p: &infscaler_sim::RunProgress, elapsed_s: f64) -> String {
        let rate = p.arrivals as f64 / elapsed_s.max(1e-9);
        let left = if p.fraction > 0.0 {
            fmt_secs(elapsed_s * (1.0 - p.fraction) / p.fraction)
        } else {
            "?".into()
        };
        format!(
            "simulated {:.1} s, {} requests, {:.0} req/s, ETA {left}",
            p.sim_time_s, p.arrivals, rate
        )
    }
}

impl Drop for RunProgressView {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
