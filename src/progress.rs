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
