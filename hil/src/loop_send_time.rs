//! How long a live run's serving loop is kept from running after it sends a batch, measured in
//! a pipeline of threads like a live run's at a given load.
//!
//! The loop wakes a worker with each batch it sends ([`crate::live`]). The scheduler often
//! places the woken worker on the CPU it last ran on; when that is the loop's CPU (the loop
//! follows the workers that report to it), the worker preempts the loop, which then waits,
//! runnable, until the scheduler gives it a CPU again — often only at a tick, even with another
//! CPU idle (`perf sched` of a live run on a 2-CPU machine, 2026-12-07: 44 of 66 preemptions of
//! the loop in 3 s happened with the other CPU idle; the loop then waited 0.6–4.2 ms). The
//! loop's next send and its taking of results wait meanwhile.
//!
//! How often that happens depends on where the threads last ran, so on the pattern of wake-ups
//! and on the load, not on any one thread's wake-up ([`crate::wakeup_time`] measures those).
//! [`measure`] reproduces the pattern: the calling thread is the loop, one worker thread per
//! pipeline stage computes its stage's time per job, arrivals are Poisson, and each report
//! starts the next stage's job, over the live executor's channel type. Every send is timed
//! from before it to the loop running again after it, and classed as a live run classes its
//! sends: by whether workers were computing on every core but the loop's.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cpu_time::thread_cpu_ns;

/// The loop's sends in one pipeline measurement, each class sorted ascending.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SendTimes {
    /// The machine's utilisation the pipeline reached: the stages' computing time over the
    /// cores' time (0–1).
    pub utilisation: f64,
    /// Sends while a core besides the loop's was free.
    pub free: Vec<Duration>,
    /// Sends while workers computed on every core but the loop's.
    pub busy: Vec<Duration>,
}

/// The most a stage is loaded, whatever the utilisation asked: `[assumed]` below saturation,
/// so that queues stay short and the measurement's sends follow its arrivals.
const MAX_STAGE_LOAD: f64 = 0.9;

/// Runs the pipeline of `stages` (each one's computing time per job) on a machine of `cores`
/// cores for `duration`, with Poisson arrivals at the rate that keeps `utilisation` of the
/// cores computing (at most [`MAX_STAGE_LOAD`] of the slowest stage), drawn from `seed`.
/// `None` when there is no stage, a stage takes no time, or a thread cannot start.
pub fn measure(
    stages: &[Duration],
    cores: u32,
    utilisation: f64,
    duration: Duration,
    seed: u64,
) -> Option<SendTimes> {
    let total: f64 = stages.iter().map(Duration::as_secs_f64).sum();
    let slowest = stages.iter().map(Duration::as_secs_f64).fold(0.0, f64::max);
    if stages.is_empty() || slowest <= 0.0 {
        return None;
    }
    let rate = (utilisation * f64::from(cores.max(1)) / total).min(MAX_STAGE_LOAD / slowest);

    let (to_loop, reports) = mpsc::channel::<usize>();
    let mut jobs = Vec::with_capacity(stages.len());
    let mut threads = Vec::with_capacity(stages.len());
    for (k, &work) in stages.iter().enumerate() {
        let (to_worker, inbox) = mpsc::channel::<()>();
        let report = to_loop.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("hil-send-worker-{k}"))
            .spawn(move || {
                while inbox.recv().is_ok() {
                    compute(work);
                    if report.send(k).is_err() {
                        return;
                    }
                }
            });
        match spawned {
            Ok(h) => threads.push(h),
            Err(_) => return None,
        }
        jobs.push(to_worker);
    }
    drop(to_loop);

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut gap = || -(1.0 - rng.random::<f64>()).ln() / rate;
    let mut waiting = vec![0u32; stages.len()];
    let mut computing = vec![false; stages.len()];
    let mut out = SendTimes::default();
    let mut worked = 0.0;
    let start = Instant::now();
    let mut next_arrival = gap();
    loop {
        let now = start.elapsed().as_secs_f64();
        if now >= duration.as_secs_f64() {
            break;
        }
        while next_arrival <= now {
            waiting[0] += 1;
            next_arrival += gap();
        }
        for k in 0..stages.len() {
            if computing[k] || waiting[k] == 0 {
                continue;
            }
            waiting[k] -= 1;
            let others = computing.iter().filter(|&&c| c).count() as u32;
            computing[k] = true;
            let sent = Instant::now();
            jobs[k].send(()).ok()?;
            let send = sent.elapsed();
            if others + 1 >= cores {
                out.busy.push(send);
            } else {
                out.free.push(send);
            }
        }
        let due = Duration::from_secs_f64((next_arrival - start.elapsed().as_secs_f64()).max(0.0));
        let mut report = match reports.recv_timeout(due) {
            Ok(k) => Some(k),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        };
        while let Some(k) = report {
            computing[k] = false;
            worked += stages[k].as_secs_f64();
            if k + 1 < stages.len() {
                waiting[k + 1] += 1;
            }
            report = reports.try_recv().ok();
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop(jobs);
    for h in threads {
        let _ = h.join();
    }
    out.utilisation = (worked / (elapsed * f64::from(cores.max(1)))).min(1.0);
    out.free.sort_unstable();
    out.busy.sort_unstable();
    Some(out)
}

/// Computes for `work` of this thread's CPU time (of wall time where the platform does not
/// tell a thread's CPU time), as a one-thread ONNX Runtime run holds a core.
fn compute(work: Duration) {
    let work_ns = work.as_nanos() as u64;
    match thread_cpu_ns() {
        Some(begin) => {
            while thread_cpu_ns().is_some_and(|now| now.saturating_sub(begin) < work_ns) {
                std::hint::spin_loop();
            }
        }
        None => {
            let begin = Instant::now();
            while begin.elapsed() < work {
                std::hint::spin_loop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_run_measures_nothing() {
        let second = Duration::from_secs(1);
        assert_eq!(measure(&[], 2, 0.5, second, 1), None);
        assert_eq!(measure(&[Duration::ZERO], 2, 0.5, second, 1), None);
    }

    #[test]
    fn a_pipeline_sends_every_stage_and_reaches_about_its_load() {
        let stages = [Duration::from_micros(300), Duration::from_micros(200)];
        let s = measure(&stages, 2, 0.2, Duration::from_millis(300), 7).expect("threads start");
        // 0.2 × 2 cores / 0.5 ms = 800 arrivals/s: about 240 in 0.3 s, two sends each.
        let sends = s.free.len() + s.busy.len();
        assert!((200..=1_000).contains(&sends), "{sends} sends");
        for class in [&s.free, &s.busy] {
            assert!(class.windows(2).all(|w| w[0] <= w[1]));
        }
        // A loaded test machine reaches less, never more than the cores.
        assert!(
            s.utilisation > 0.0 && s.utilisation <= 1.0,
            "{}",
            s.utilisation
        );
    }
}
