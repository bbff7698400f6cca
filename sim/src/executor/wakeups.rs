//! The thread wake-ups a batch pays before it runs, on a machine whose profile measured them
//! ([`WakeupTimes`]).
//!
//! A live serving process hands each batch from its serving loop to the instance's thread: the
//! loop wakes (on a timer or a result) and sends the batch, then the instance's thread wakes and
//! runs it. Each wake-up takes the measured time when a core is free. When running batches hold
//! every CPU core, the woken thread either preempts one at once or waits for the scheduler
//! (typically until a tick); which, and how long, is drawn from the measured wake-ups with no
//! core free, the loop's or an instance thread's (a thread that has just computed a batch
//! preempts less readily). A waiting thread runs as soon as a batch ends and frees a core, if that is earlier.
//!
//! The loop is one thread: batches dispatched while it is waking are sent when it runs, with no
//! wake-up of their own.

use std::collections::VecDeque;
use std::sync::Arc;

use rand::Rng;

use crate::model::measured::WakeupTimes;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// A thread that was woken and has not run yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sleeper {
    /// The serving loop (it then sends the batches dispatched meanwhile).
    Loop,
    /// The instance thread of a batch (it then runs the batch).
    Instance {
        /// Batch id.
        batch: u32,
    },
}

/// What a wake-up begun now does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The thread runs after this long (a core was free, or it preempts one).
    After(SimDuration),
    /// The thread waits for a core: it runs when a batch frees one or, at the latest, when this
    /// long has passed and the wait-over event of `token` fires.
    Waiting {
        /// How long at the latest.
        within: SimDuration,
        /// The wait's identity, for its wait-over event.
        token: u32,
    },
}

/// The wake-up state of one simulated serving process.
#[derive(Debug)]
pub struct Wakeups {
    times: Arc<WakeupTimes>,
    rng: SimRng,
    /// The batches the loop will send once it runs (`None`: the loop sleeps).
    loop_sends: Option<Vec<u32>>,
    /// Threads woken while every core was held, in the order they were woken, with their tokens
    /// and when their wake-up began.
    waiting: VecDeque<(Sleeper, u32, SimTime)>,
    next_token: u32,
}

impl Wakeups {
    /// Wake-ups of `times`, drawing from `rng`.
    pub fn new(times: Arc<WakeupTimes>, rng: SimRng) -> Self {
        Wakeups {
            times,
            rng,
            loop_sends: None,
            waiting: VecDeque::new(),
            next_token: 0,
        }
    }

    /// A batch was dispatched: whether the loop must wake to send it (the caller then begins
    /// that wake-up with [`wake`](Self::wake)); if not, it is already waking and sends this
    /// batch too when it runs.
    pub fn dispatched(&mut self, batch: u32) -> bool {
        match &mut self.loop_sends {
            Some(batches) => {
                batches.push(batch);
                false
            }
            None => {
                self.loop_sends = Some(vec![batch]);
                true
            }
        }
    }

    /// The loop runs: the batches it sends now.
    pub fn loop_runs(&mut self) -> Vec<u32> {
        self.loop_sends.take().unwrap_or_default()
    }

    /// Begins waking `sleeper` at `now`, with a core free or not.
    pub fn wake(&mut self, now: SimTime, sleeper: Sleeper, no_core_free: bool) -> Wake {
        let q = match sleeper {
            Sleeper::Loop => &self.times.loop_busy_ns,
            Sleeper::Instance { .. } => &self.times.busy_ns,
        };
        if !no_core_free || q.is_empty() {
            return Wake::After(SimDuration::from_ns(self.times.free_ns));
        }
        let within = SimDuration::from_ns(q[self.rng.random_range(0..q.len())]);
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        self.waiting.push_back((sleeper, token, now));
        Wake::Waiting { within, token }
    }

    /// The wait of `token` is over: its thread, if it still waits.
    pub fn wait_over(&mut self, token: u32) -> Option<Sleeper> {
        let at = self.waiting.iter().position(|&(_, t, _)| t == token)?;
        self.waiting.remove(at).map(|(s, _, _)| s)
    }

    /// A batch freed a core at `now`: the thread that has waited longest, if any, takes it, and
    /// when it runs (its wake-up takes at least as long as one with a core free).
    pub fn core_freed(&mut self, now: SimTime) -> Option<(Sleeper, SimTime)> {
        let (sleeper, _, began) = self.waiting.pop_front()?;
        let runs = began + SimDuration::from_ns(self.times.free_ns);
        Some((sleeper, runs.max(now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RunSeed;

    fn wakeups(busy: Vec<u64>) -> Wakeups {
        Wakeups::new(
            Arc::new(WakeupTimes {
                free_ns: 10_000,
                loop_busy_ns: busy.clone(),
                busy_ns: busy,
            }),
            RunSeed(1).stream("wakeups"),
        )
    }

    #[test]
    fn a_free_core_takes_the_free_wake_up() {
        let mut w = wakeups(vec![1, 2]);
        assert_eq!(
            w.wake(SimTime::ZERO, Sleeper::Loop, false),
            Wake::After(SimDuration::from_ns(10_000))
        );
        assert_eq!(w.core_freed(SimTime::ZERO), None);
    }

    #[test]
    fn with_no_core_free_a_thread_waits_for_a_core_or_its_drawn_time() {
        let mut w = wakeups(vec![3_000_000]);
        let first = w.wake(SimTime::ZERO, Sleeper::Instance { batch: 7 }, true);
        let second = w.wake(SimTime::ZERO, Sleeper::Loop, true);
        let (Wake::Waiting { within, token: t1 }, Wake::Waiting { token: t2, .. }) =
            (first, second)
        else {
            panic!("{first:?} {second:?}")
        };
        assert_eq!(within, SimDuration::from_ns(3_000_000));
        // A freed core goes to the thread that has waited longest, no sooner than a wake-up with
        // a core free would have run it; its wait-over is then moot.
        let at = |ns| SimTime::ZERO + SimDuration::from_ns(ns);
        assert_eq!(
            w.core_freed(at(4_000)),
            Some((Sleeper::Instance { batch: 7 }, at(10_000)))
        );
        assert_eq!(w.wait_over(t1), None);
        assert_eq!(w.wait_over(t2), Some(Sleeper::Loop));
        assert_eq!(w.core_freed(at(20_000)), None);
    }

    #[test]
    fn the_loop_wakes_once_for_the_batches_dispatched_meanwhile() {
        let mut w = wakeups(Vec::new());
        assert!(w.dispatched(1));
        assert!(!w.dispatched(2));
        assert_eq!(w.loop_runs(), vec![1, 2]);
        assert!(w.dispatched(3));
    }
}
