//! The time a batch's two thread hand-offs take on this machine, as a live run pays them.
//!
//! A live run's loop sends each batch to its instance's worker thread over a channel and the
//! worker sends the result back over another ([`crate::live`]); each send wakes a sleeping
//! thread, which may then wait for a core. [`measure`] makes those two hand-offs with the same
//! channels: a "loop" sends a message to an idle worker, which computes for `work` (its batch)
//! and answers; a batch's hand-off time is the time from the send to the worker holding the
//! message plus the time from the worker's answer to the loop holding it (the worker's wake-up
//! and the loop's). Between batches the loop sleeps for `gap`, so every wake-up is from sleep,
//! as at moderate load.
//!
//! Meanwhile `load.threads` threads keep the cores busy on a duty cycle (compute for `load.run`,
//! sleep for `load.sleep`), as instance threads of a serving process do; each batch is
//! classed by whether every load thread was computing when it was sent (`cores` load threads:
//! no core free). A woken thread that finds no core free waits for the scheduler to preempt one,
//! which is the longer class.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Threads that keep cores busy while the hand-offs are timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    /// How many (the machine's cores: then "all computing" means no core is free).
    pub threads: usize,
    /// How long each computes before it sleeps.
    pub run: Duration,
    /// How long it then sleeps.
    pub sleep: Duration,
}

/// Mean hand-off time of a batch (loop → worker plus worker → loop).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HandoffTimes {
    /// Of batches sent while a core was free (`None`: no such batch).
    pub core_free: Option<Duration>,
    /// Of batches sent while every load thread was computing (`None`: no such batch, or no
    /// load).
    pub no_core_free: Option<Duration>,
    /// Of the batches, the share sent with no core free.
    pub no_core_free_share: f64,
}

/// Times `iters` batches' hand-offs (after 10 untimed), each batch `work` long and sent after
/// `gap` of sleep, under `load`; `None` when `iters` is 0 or a thread cannot start.
pub fn measure(
    iters: u32,
    gap: Duration,
    work: Duration,
    load: Option<Load>,
) -> Option<HandoffTimes> {
    if iters == 0 {
        return None;
    }
    let computing = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut loaders = Vec::new();
    let load_threads = load.map_or(0, |l| l.threads);
    if let Some(l) = load {
        for k in 0..l.threads {
            let (computing, started, halt) = (computing.clone(), started.clone(), stop.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("hil-handoff-load-{k}"))
                .spawn(move || {
                    computing.fetch_add(1, Ordering::SeqCst);
                    started.fetch_add(1, Ordering::SeqCst);
                    while !halt.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        while start.elapsed() < l.run && !halt.load(Ordering::Relaxed) {
                            std::hint::spin_loop();
                        }
                        computing.fetch_sub(1, Ordering::SeqCst);
                        std::thread::sleep(l.sleep);
                        computing.fetch_add(1, Ordering::SeqCst);
                    }
                    computing.fetch_sub(1, Ordering::SeqCst);
                });
            match spawned {
                Ok(h) => loaders.push(h),
                Err(_) => {
                    stop.store(true, Ordering::Relaxed);
                    return None;
                }
            }
        }
    }
    // Every load thread at work before the first batch.
    while started.load(Ordering::SeqCst) < load_threads {
        std::thread::yield_now();
    }
    let timed = round_trips(iters, gap, work, &computing, load_threads);
    stop.store(true, Ordering::Relaxed);
    for h in loaders {
        let _ = h.join();
    }
    let (free, busy) = timed?;
    let mean =
        |v: &[Duration]| (!v.is_empty()).then(|| v.iter().sum::<Duration>() / v.len() as u32);
    Some(HandoffTimes {
        core_free: mean(&free),
        no_core_free: mean(&busy),
        no_core_free_share: busy.len() as f64 / (free.len() + busy.len()) as f64,
    })
}

/// The batches' hand-offs, split by whether all `load_threads` (> 0) were computing at the send.
fn round_trips(
    iters: u32,
    gap: Duration,
    work: Duration,
    computing: &AtomicUsize,
    load_threads: usize,
) -> Option<(Vec<Duration>, Vec<Duration>)> {
    let (to_worker, inbox) = mpsc::channel::<Instant>();
    // The worker's pick-up time, and when it answered.
    let (to_loop, answers) = mpsc::channel::<(Duration, Instant)>();
    let worker = std::thread::Builder::new()
        .name("hil-handoff-worker".into())
        .spawn(move || {
            while let Ok(sent) = inbox.recv() {
                let picked_up = sent.elapsed();
                let start = Instant::now();
                while start.elapsed() < work {
                    std::hint::spin_loop();
                }
                if to_loop.send((picked_up, Instant::now())).is_err() {
                    return;
                }
            }
        })
        .ok()?;
    let (mut free, mut busy) = (Vec::new(), Vec::new());
    for i in 0..iters + 10 {
        std::thread::sleep(gap);
        let no_core_free = load_threads > 0 && computing.load(Ordering::SeqCst) >= load_threads;
        to_worker.send(Instant::now()).ok()?;
        let (picked_up, answered) = answers.recv().ok()?;
        let t = picked_up + answered.elapsed();
        if i >= 10 {
            if no_core_free {
                busy.push(t);
            } else {
                free.push(t);
            }
        }
    }
    drop(to_worker);
    worker.join().ok()?;
    Some((free, busy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_round_trips_measure_nothing() {
        assert_eq!(measure(0, Duration::ZERO, Duration::ZERO, None), None);
    }

    #[test]
    fn without_load_every_round_trip_has_a_core_free() {
        let t = measure(
            20,
            Duration::from_micros(100),
            Duration::from_micros(50),
            None,
        )
        .expect("threads start");
        assert!(t.core_free.is_some_and(|d| d > Duration::ZERO));
        assert_eq!(t.no_core_free, None);
        assert_eq!(t.no_core_free_share, 0.0);
    }

    #[test]
    fn under_a_load_that_never_sleeps_no_core_is_free() {
        // One load thread that computes all the time: "all computing" at every send.
        let load = Load {
            threads: 1,
            run: Duration::from_secs(3600),
            sleep: Duration::ZERO,
        };
        let t = measure(5, Duration::from_micros(200), Duration::ZERO, Some(load))
            .expect("threads start");
        assert_eq!(t.core_free, None);
        assert!(t.no_core_free.is_some_and(|d| d > Duration::ZERO));
        assert_eq!(t.no_core_free_share, 1.0);
    }
}
