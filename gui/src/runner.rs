//! Background work: a [`Job`] runs a closure on its own thread, shows its progress, can be
//! cancelled, and hands its result back to the UI thread, which polls it once a frame and never
//! waits. The worker asks for a repaint when it has news, so an idle UI still sees the end.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infscaler_sim::RunProgress;

/// Why a job gave no result.
#[derive(Clone, Debug, PartialEq)]
pub enum JobError {
    /// Cancelled on request.
    Cancelled,
    /// The work failed; the message says why.
    Failed(String),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Cancelled => f.write_str("cancelled"),
            JobError::Failed(m) => f.write_str(m),
        }
    }
}

/// What a job's thread sees: where to report progress and whether to stop.
#[derive(Clone)]
pub struct Reporter {
    progress: Arc<Mutex<Option<RunProgress>>>,
    cancel: Arc<AtomicBool>,
    repaint: Option<egui::Context>,
    last_repaint: Arc<Mutex<Option<Instant>>>,
}

/// Longest a worker waits between repaint requests while it has progress to show.
const REPAINT_EVERY: Duration = Duration::from_millis(50);

impl Reporter {
    /// Records progress and answers whether to go on: the observer of
    /// `Simulation::run_observed`.
    pub fn observe(&self, progress: &RunProgress) -> ControlFlow<()> {
        if let Ok(mut p) = self.progress.lock() {
            *p = Some(*progress);
        }
        if let Some(ctx) = &self.repaint
            && let Ok(mut last) = self.last_repaint.lock()
            && last.is_none_or(|t| t.elapsed() >= REPAINT_EVERY)
        {
            *last = Some(Instant::now());
            ctx.request_repaint();
        }
        if self.cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Whether cancellation was asked for.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A piece of work on a background thread.
pub struct Job<T> {
    /// What the job is, for the status line.
    pub label: String,
    reporter: Reporter,
    result: Receiver<Result<T, JobError>>,
    started: Instant,
    done: bool,
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work` on a new thread. `repaint`, when given, is asked to repaint when progress
    /// comes in and when the job ends.
    pub fn spawn(
        label: impl Into<String>,
        repaint: Option<egui::Context>,
        work: impl FnOnce(&Reporter) -> Result<T, JobError> + Send + 'static,
    ) -> Self {
        let label = label.into();
        let reporter = Reporter {
            progress: Arc::new(Mutex::new(None)),
            cancel: Arc::new(AtomicBool::new(false)),
            repaint,
            last_repaint: Arc::new(Mutex::new(None)),
        };
        let (tx, rx) = mpsc::channel();
        let worker = reporter.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("infscaler-gui: {label}"))
            .spawn(move || {
                let result = work(&worker);
                // The UI may have dropped the job (replaced by a newer one): nobody to tell.
                let _ = tx.send(result);
                if let Some(ctx) = &worker.repaint {
                    ctx.request_repaint();
                }
            });
        let (result, done) = match spawned {
            Ok(_) => (rx, false),
            Err(e) => {
                let (tx, rx) = mpsc::channel();
                let _ = tx.send(Err(JobError::Failed(format!("cannot start a thread: {e}"))));
                (rx, false)
            }
        };
        Job {
            label,
            reporter,
            result,
            started: Instant::now(),
            done,
        }
    }

    /// The result if the job has finished (once; `None` before and after).
    pub fn poll(&mut self) -> Option<Result<T, JobError>> {
        if self.done {
            return None;
        }
        match self.result.try_recv() {
            Ok(r) => {
                self.done = true;
                Some(r)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.done = true;
                Some(Err(JobError::Failed(format!(
                    "{}: the worker stopped without a result (a bug: it panicked)",
                    self.label
                ))))
            }
        }
    }

    /// Asks the job to stop at its next progress report.
    pub fn cancel(&self) {
        self.reporter.cancel.store(true, Ordering::Relaxed);
    }

    /// Whether cancellation was asked for.
    pub fn cancel_requested(&self) -> bool {
        self.reporter.cancelled()
    }

    /// The latest progress the job reported.
    pub fn progress(&self) -> Option<RunProgress> {
        self.reporter.progress.lock().ok().and_then(|p| *p)
    }

    /// Wall time since the job started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait<T: Send + 'static>(job: &mut Job<T>) -> Result<T, JobError> {
        for _ in 0..10_000 {
            if let Some(r) = job.poll() {
                return r;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("job did not finish");
    }

    fn progress(fraction: f64) -> RunProgress {
        RunProgress {
            sim_time_s: fraction,
            fraction,
            arrivals: 0,
            events: 0,
        }
    }

    #[test]
    fn a_job_hands_back_its_result_once() {
        let mut job = Job::spawn("sum", None, |_| Ok(2 + 2));
        assert_eq!(wait(&mut job), Ok(4));
        assert_eq!(job.poll(), None);
    }

    #[test]
    fn cancel_stops_a_job_at_its_next_report() {
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let mut job = Job::spawn("loop", None, move |r: &Reporter| {
            let _ = go_rx.recv();
            for i in 0.. {
                if r.observe(&progress(f64::from(i) / 1e9)).is_break() {
                    return Err(JobError::Cancelled);
                }
            }
            Ok(())
        });
        job.cancel();
        assert!(job.cancel_requested());
        go_tx.send(()).unwrap();
        assert_eq!(wait(&mut job), Err(JobError::Cancelled));
        assert!(job.progress().is_some());
    }

    #[test]
    fn a_panicking_worker_is_an_error_not_a_crash() {
        let mut job: Job<()> = Job::spawn("boom", None, |_| panic!("deliberate test panic"));
        match wait(&mut job) {
            Err(JobError::Failed(m)) => assert!(m.contains("panicked"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
