//! How long a sleeping thread of this machine takes to run after a message wakes it, with a
//! core free and with every core held by a computing thread, as a live run's threads wake.
//!
//! A live run's loop sends each batch to its instance's worker thread over a channel and the
//! worker sends the result back over another ([`crate::live`]); each send wakes a sleeping
//! thread, which may then wait for a core. [`measure`] times such wake-ups with the same
//! channels: a "loop" sleeps for `gap` (as between batches at moderate load), then sends a
//! message to an idle worker, which answers at once; the time from each send to the woken
//! thread holding the message is one wake-up (the worker's, then the loop's). Between the two
//! the worker computes for `work`, as an instance thread runs its batch: a thread that has just
//! computed is less likely to preempt another on waking than one that has not (the scheduler
//! weighs the CPU time each has had), so the worker's and the loop's wake-ups are kept apart.
//!
//! With `spinners` threads computing all the time on a machine of as many cores, no core is
//! free at any wake-up: the woken thread either preempts one at once or waits for the scheduler
//! to give it one (typically at a tick). The waker gives its core up right after the send, as a
//! live run's loop and workers do.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Wake-ups measured by [`measure`], each sorted ascending.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wakeups {
    /// The worker's (a thread that computes between wake-ups).
    pub worker: Vec<Duration>,
    /// The loop's (a thread that barely computes).
    pub serving_loop: Vec<Duration>,
}

/// Times `iters` exchanges (after 10 untimed), each after `gap` of sleep, the worker computing
/// for `work` in each, while `spinners` threads compute all the time; `None` when `iters` is 0
/// or a thread cannot start.
pub fn measure(iters: u32, gap: Duration, work: Duration, spinners: usize) -> Option<Wakeups> {
    if iters == 0 {
        return None;
    }
    let started = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for k in 0..spinners {
        let (started, halt) = (started.clone(), stop.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("hil-wakeup-spinner-{k}"))
            .spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                while !halt.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        match spawned {
            Ok(h) => threads.push(h),
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                return None;
            }
        }
    }
    // Every spinner at work before the first exchange.
    while started.load(Ordering::SeqCst) < spinners {
        std::thread::yield_now();
    }
    let timed = exchanges(iters, gap, work);
    stop.store(true, Ordering::Relaxed);
    for h in threads {
        let _ = h.join();
    }
    let mut w = timed?;
    w.worker.sort_unstable();
    w.serving_loop.sort_unstable();
    Some(w)
}

/// `iters` exchanges' two wake-ups each (the worker's and the loop's).
fn exchanges(iters: u32, gap: Duration, work: Duration) -> Option<Wakeups> {
    let (to_worker, inbox) = mpsc::channel::<Instant>();
    // The worker's wake-up, and when it answered.
    let (to_loop, answers) = mpsc::channel::<(Duration, Instant)>();
    let worker = std::thread::Builder::new()
        .name("hil-wakeup-worker".into())
        .spawn(move || {
            while let Ok(sent) = inbox.recv() {
                let woke = sent.elapsed();
                let start = Instant::now();
                while start.elapsed() < work {
                    std::hint::spin_loop();
                }
                if to_loop.send((woke, Instant::now())).is_err() {
                    return;
                }
            }
        })
        .ok()?;
    let mut w = Wakeups::default();
    for i in 0..iters + 10 {
        std::thread::sleep(gap);
        to_worker.send(Instant::now()).ok()?;
        let (worker_woke, answered) = answers.recv().ok()?;
        let loop_woke = answered.elapsed();
        if i >= 10 {
            w.worker.push(worker_woke);
            w.serving_loop.push(loop_woke);
        }
    }
    drop(to_worker);
    worker.join().ok()?;
    Some(w)
}

/// How late a thread runs after timed waits on a channel nobody sends to (as the live loop
/// waits for its next due event), one wait of each of `gaps`, sorted ascending; `None` when a
/// wait ends otherwise than by its timeout.
pub fn timer_lateness(gaps: &[Duration]) -> Option<Vec<Duration>> {
    let (_keep, rx) = mpsc::channel::<()>();
    let mut late = Vec::with_capacity(gaps.len());
    for &gap in gaps {
        let due = Instant::now() + gap;
        match rx.recv_timeout(gap) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                late.push(Instant::now().saturating_duration_since(due));
            }
            _ => return None,
        }
    }
    late.sort_unstable();
    Some(late)
}

/// How many quantiles of the wake-ups with no core free a profile keeps
/// (`machine.wake_busy_ns`, `loop_wake_busy_ns`).
pub const PROFILE_QUANTILES: usize = 20;

/// The [`PROFILE_QUANTILES`] quantiles of `sorted` a profile keeps, nanoseconds.
pub fn profile_quantiles_ns(sorted: &[Duration]) -> Vec<u64> {
    quantiles(sorted, PROFILE_QUANTILES)
        .iter()
        .map(|d| d.as_nanos() as u64)
        .collect()
}

/// `n` equally spaced quantiles of `sorted` (the ((k + ½) / n)-th, k = 0 … n − 1); empty when
/// `sorted` is.
pub fn quantiles(sorted: &[Duration], n: usize) -> Vec<Duration> {
    if sorted.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|k| {
            let at = ((k as f64 + 0.5) / n as f64 * sorted.len() as f64) as usize;
            sorted[at.min(sorted.len() - 1)]
        })
        .collect()
}

/// `sorted`'s median, 90th percentile, mean and count, for a person ("median 30.1 µs, p90
/// 80.2 µs, mean 95.0 µs of 400").
pub fn describe(sorted: &[Duration]) -> String {
    let us = |d: Duration| d.as_nanos() as f64 / 1e3;
    let at = |q: usize| {
        sorted
            .get(sorted.len() * q / 10)
            .copied()
            .unwrap_or_default()
    };
    format!(
        "median {:.1} µs, p90 {:.1} µs, mean {:.1} µs of {}",
        us(at(5)),
        us(at(9)),
        us(mean(sorted)),
        sorted.len()
    )
}

/// The mean of `times` (zero when empty).
pub fn mean(times: &[Duration]) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    times.iter().sum::<Duration>() / times.len() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_exchanges_measure_nothing() {
        assert_eq!(measure(0, Duration::ZERO, Duration::ZERO, 0), None);
    }

    #[test]
    fn every_exchange_gives_a_worker_and_a_loop_wake_up_sorted() {
        let w = measure(20, Duration::from_micros(100), Duration::from_micros(50), 1)
            .expect("threads start");
        for t in [&w.worker, &w.serving_loop] {
            assert_eq!(t.len(), 20);
            assert!(t.windows(2).all(|w| w[0] <= w[1]));
            assert!(t[0] > Duration::ZERO);
        }
    }

    #[test]
    fn every_timed_wait_gives_its_lateness_sorted() {
        let gaps = [300, 100, 200].map(Duration::from_micros);
        let started = Instant::now();
        let late = timer_lateness(&gaps).expect("nobody sends");
        assert_eq!(late.len(), 3);
        assert!(late.windows(2).all(|w| w[0] <= w[1]));
        // Each wait lasted at least its gap, and the three no longer than the whole call.
        let waited = gaps.iter().sum::<Duration>() + late.iter().sum::<Duration>();
        assert!(waited <= started.elapsed(), "{waited:?}");
    }

    #[test]
    fn quantiles_are_equally_spaced_and_ascending() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let q = quantiles(&sorted, 4);
        assert_eq!(
            q,
            [13, 38, 63, 88].map(Duration::from_micros).to_vec(),
            "the 12.5th, 37.5th, 62.5th and 87.5th percentiles"
        );
        assert!(quantiles(&[], 4).is_empty());
        assert_eq!(mean(&sorted), Duration::from_nanos(50_500));
        assert_eq!(
            describe(&sorted),
            "median 51.0 µs, p90 91.0 µs, mean 50.5 µs of 100"
        );
    }
}
