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
//! wake-up of their own. After each send it may be kept from running for a while (the worker
//! it woke took its core): a time drawn from the loop's sends measured at the machine's load
//! ([`send`](Wakeups::send)), or until that worker's batch ends and its thread gives the core
//! back, if that is earlier; batches dispatched and results reported meanwhile wait for it.
//!
//! A batch's end reaches the serving model only when the loop takes its result: the instance
//! thread reports it and wakes the loop (holding its core while it does), and the loop, once it
//! runs, ends the batches reported meanwhile and sends at once, with no wake-up of its own, the
//! batches those ends dispatch ([`runs_on`](Wakeups::runs_on)).

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
    /// The batches whose ends the loop will take once it runs, in the order they ended.
    results: Vec<u32>,
    /// While the loop is kept from running after a send: the batch it sent and the hold's
    /// token.
    hold: Option<(u32, u32)>,
    /// Threads woken while every core was held, in the order they were woken, with their tokens
    /// and when their wake-up began.
    waiting: VecDeque<(Sleeper, u32, SimTime)>,
    next_token: u32,
    load: RecentLoad,
}

/// The machine's recent utilisation: the share of its cores that batches held, averaged
/// exponentially over time.
#[derive(Debug, Default)]
struct RecentLoad {
    average: f64,
    /// The share held since `since`.
    held: f64,
    since: SimTime,
}

/// Time constant of [`RecentLoad`]: `[assumed]` the horizon of Linux's own load tracking (PELT
/// halves a CPU's utilisation every 32 ms, `LOAD_AVG_PERIOD` in kernel/sched/sched-pelt.h),
/// so τ = 32 ms / ln 2.
const LOAD_TIME_CONSTANT_NS: f64 = 32e6 / std::f64::consts::LN_2;

impl RecentLoad {
    fn at(&self, now: SimTime) -> f64 {
        let elapsed = now.saturating_since(self.since).as_ns() as f64;
        let keep = (-elapsed / LOAD_TIME_CONSTANT_NS).exp();
        self.held + (self.average - self.held) * keep
    }
}

impl Wakeups {
    /// Wake-ups of `times`, drawing from `rng`.
    pub fn new(times: Arc<WakeupTimes>, rng: SimRng) -> Self {
        Wakeups {
            times,
            rng,
            loop_sends: None,
            results: Vec::new(),
            hold: None,
            waiting: VecDeque::new(),
            next_token: 0,
            load: RecentLoad::default(),
        }
    }

    /// A batch was dispatched: whether the loop must wake to send it (the caller then begins
    /// that wake-up with [`wake`](Self::wake)); if not, it is already waking and sends this
    /// batch too when it runs.
    pub fn dispatched(&mut self, batch: u32) -> bool {
        let asleep = self.loop_sends.is_none();
        self.loop_sends.get_or_insert_with(Vec::new).push(batch);
        asleep
    }

    /// A batch ended and its thread reports it: whether the loop must wake to take the result
    /// (the caller then begins that wake-up); if not, it is waking already and takes this one
    /// too when it runs.
    pub fn reported(&mut self, batch: u32) -> bool {
        self.results.push(batch);
        let asleep = self.loop_sends.is_none();
        self.runs_on();
        asleep
    }

    /// The loop runs: the batches whose ends it takes now, in the order they ended.
    pub fn take_results(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.results)
    }

    /// The loop runs: the batches it sends now.
    pub fn loop_runs(&mut self) -> Vec<u32> {
        self.loop_sends.take().unwrap_or_default()
    }

    /// The loop, awake, runs on to send what is dispatched before it sleeps again (the batches
    /// the results it took start): they need no wake-up of its own.
    pub fn runs_on(&mut self) {
        self.loop_sends.get_or_insert_with(Vec::new);
    }

    /// Begins waking `sleeper` at `now`, with a core free or not; `on_timer`: the loop wakes
    /// because a timed wait ended (not a thread's message).
    pub fn wake(
        &mut self,
        now: SimTime,
        sleeper: Sleeper,
        no_core_free: bool,
        on_timer: bool,
    ) -> Wake {
        let q = match sleeper {
            Sleeper::Loop => &self.times.loop_busy_ns,
            Sleeper::Instance { .. } => &self.times.busy_ns,
        };
        if !no_core_free || q.is_empty() {
            let late = &self.times.timer_late_ns;
            if on_timer && !late.is_empty() {
                return Wake::After(draw(&mut self.rng, late));
            }
            return Wake::After(SimDuration::from_ns(self.times.free_ns));
        }
        let within = draw(&mut self.rng, q);
        let token = self.new_token();
        self.waiting.push_back((sleeper, token, now));
        Wake::Waiting { within, token }
    }

    /// The wait of `token` is over: its thread, if it still waits.
    pub fn wait_over(&mut self, token: u32) -> Option<Sleeper> {
        let at = self.waiting.iter().position(|&(_, t, _)| t == token)?;
        self.waiting.remove(at).map(|(s, _, _)| s)
    }

    /// From `now` on, batches hold `share` of the machine's cores.
    pub fn cores_held(&mut self, now: SimTime, share: f64) {
        if self.times.sends.is_empty() {
            return; // only the loop's sends depend on the load
        }
        self.load = RecentLoad {
            average: self.load.at(now),
            held: share,
            since: now,
        };
    }

    /// The share of the machine's cores batches held of late, at `now`.
    pub fn recent_utilisation(&self, now: SimTime) -> f64 {
        self.load.at(now)
    }

    /// The loop sent a batch, with a core free besides its own or not, while `utilisation` of
    /// the machine's cores computed: how long until it runs again (zero where the profile has
    /// no sends). Drawn from the measured level of the nearest utilisation; between two levels,
    /// from either with odds by nearness.
    pub fn send(&mut self, no_core_free: bool, utilisation: f64) -> SimDuration {
        let Wakeups { times, rng, .. } = self;
        let levels = &times.sends;
        let (Some(first), Some(last)) = (levels.first(), levels.last()) else {
            return SimDuration::ZERO;
        };
        let level = if utilisation <= first.utilisation {
            first
        } else if utilisation >= last.utilisation {
            last
        } else {
            let above = levels.partition_point(|l| l.utilisation < utilisation);
            let (lo, hi) = (&levels[above - 1], &levels[above]);
            let towards_hi = (utilisation - lo.utilisation) / (hi.utilisation - lo.utilisation);
            if rng.random::<f64>() < towards_hi {
                hi
            } else {
                lo
            }
        };
        // A class the measurement never met takes the other one's times.
        let q: &[u64] = match (
            no_core_free,
            level.free_ns.is_empty(),
            level.busy_ns.is_empty(),
        ) {
            (false, false, _) | (true, false, true) => &level.free_ns,
            _ => &level.busy_ns,
        };
        draw(rng, q)
    }

    /// The loop, kept from running after sending `sent`, runs on later to send `rest` and the
    /// batches dispatched until then: the hold's token, for its hold-over event.
    pub fn loop_held(&mut self, sent: u32, rest: Vec<u32>) -> u32 {
        self.loop_sends = Some(rest);
        let token = self.new_token();
        self.hold = Some((sent, token));
        token
    }

    /// The hold of `token` is over: whether the loop was still held by it (it runs now).
    pub fn hold_over(&mut self, token: u32) -> bool {
        self.end_hold(|(_, t)| t == token)
    }

    /// `batch` ended: whether the loop was held after sending it (its thread, which took the
    /// loop's core, now gives it back: the loop runs now).
    pub fn batch_ended(&mut self, batch: u32) -> bool {
        self.end_hold(|(b, _)| b == batch)
    }

    /// Ends the loop's hold if `ends` says so of it (sent batch, token): whether it did.
    fn end_hold(&mut self, ends: impl Fn((u32, u32)) -> bool) -> bool {
        let ended = self.hold.is_some_and(ends);
        if ended {
            self.hold = None;
        }
        ended
    }

    /// A token for a wait's or a hold's end event.
    fn new_token(&mut self) -> u32 {
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        token
    }

    /// A batch freed a core at `now`: the thread that has waited longest, if any, takes it, and
    /// when it runs (its wake-up takes at least as long as one with a core free).
    pub fn core_freed(&mut self, now: SimTime) -> Option<(Sleeper, SimTime)> {
        let (sleeper, _, began) = self.waiting.pop_front()?;
        let runs = began + SimDuration::from_ns(self.times.free_ns);
        Some((sleeper, runs.max(now)))
    }
}

/// One of the measured times `q` (not empty), drawn uniformly.
fn draw(rng: &mut SimRng, q: &[u64]) -> SimDuration {
    SimDuration::from_ns(q[rng.random_range(0..q.len())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::measured::LoopSends;
    use crate::rng::RunSeed;

    fn wakeups(busy: Vec<u64>) -> Wakeups {
        with_sends(busy, Vec::new())
    }

    fn with_sends(busy: Vec<u64>, sends: Vec<LoopSends>) -> Wakeups {
        Wakeups::new(
            Arc::new(WakeupTimes {
                free_ns: 10_000,
                loop_busy_ns: busy.clone(),
                busy_ns: busy,
                timer_late_ns: Vec::new(),
                sends,
            }),
            RunSeed(1).stream("wakeups"),
        )
    }

    fn level(utilisation: f64, free_ns: Vec<u64>, busy_ns: Vec<u64>) -> LoopSends {
        LoopSends {
            utilisation,
            free_ns,
            busy_ns,
        }
    }

    #[test]
    fn a_send_holds_the_loop_for_a_time_of_the_nearest_measured_load() {
        let us = SimDuration::from_us;
        assert_eq!(wakeups(vec![]).send(false, 0.5), SimDuration::ZERO);
        let mut w = with_sends(
            vec![],
            vec![
                level(0.2, vec![10_000], vec![20_000]),
                level(0.6, vec![30_000], vec![]),
            ],
        );
        // Below the lowest level and above the highest, theirs; with or without a core free.
        assert_eq!(w.send(false, 0.0), us(10));
        assert_eq!(w.send(true, 0.1), us(20));
        assert_eq!(w.send(false, 0.9), us(30));
        // A class a level never met takes the other one's times.
        assert_eq!(w.send(true, 0.9), us(30));
        // Between two levels, either, the nearer more often.
        let draws: Vec<SimDuration> = (0..1_000).map(|_| w.send(false, 0.3)).collect();
        let higher = draws.iter().filter(|&&d| d == us(30)).count();
        assert!(
            (150..350).contains(&higher),
            "{higher} of 1000 from the level at 0.6"
        );
        assert!(draws.iter().all(|&d| d == us(10) || d == us(30)));
    }

    #[test]
    fn the_recent_load_follows_the_cores_held_with_the_time_constant() {
        let mut w = with_sends(vec![], vec![level(0.5, vec![1], vec![])]);
        let at = |ns: f64| SimTime::ZERO + SimDuration::from_ns(ns as u64);
        assert_eq!(w.recent_utilisation(at(0.0)), 0.0);
        w.cores_held(at(0.0), 1.0);
        let tau = LOAD_TIME_CONSTANT_NS;
        let after_tau = w.recent_utilisation(at(tau));
        assert!(
            (after_tau - (1.0 - (-1.0f64).exp())).abs() < 1e-6,
            "{after_tau}"
        );
        // Released after τ: it decays from there.
        w.cores_held(at(tau), 0.0);
        let later = w.recent_utilisation(at(2.0 * tau));
        assert!(
            (later - after_tau * (-1.0f64).exp()).abs() < 1e-6,
            "{later}"
        );
    }

    #[test]
    fn a_free_core_takes_the_free_wake_up() {
        let mut w = wakeups(vec![1, 2]);
        assert_eq!(
            w.wake(SimTime::ZERO, Sleeper::Loop, false, false),
            Wake::After(SimDuration::from_ns(10_000))
        );
        assert_eq!(w.core_freed(SimTime::ZERO), None);
    }

    #[test]
    fn a_timer_wakes_the_loop_as_late_as_measured_where_it_was() {
        let mut w = wakeups(vec![1, 2]);
        let loop_on_timer = |w: &mut Wakeups| w.wake(SimTime::ZERO, Sleeper::Loop, false, true);
        assert_eq!(
            loop_on_timer(&mut w),
            Wake::After(SimDuration::from_ns(10_000))
        );
        let mut times = (*w.times).clone();
        times.timer_late_ns = vec![70_000];
        w.times = Arc::new(times);
        assert_eq!(
            loop_on_timer(&mut w),
            Wake::After(SimDuration::from_ns(70_000))
        );
        // A thread's message wakes the loop as fast as before.
        assert_eq!(
            w.wake(SimTime::ZERO, Sleeper::Loop, false, false),
            Wake::After(SimDuration::from_ns(10_000))
        );
    }

    #[test]
    fn with_no_core_free_a_thread_waits_for_a_core_or_its_drawn_time() {
        let mut w = wakeups(vec![3_000_000]);
        let first = w.wake(SimTime::ZERO, Sleeper::Instance { batch: 7 }, true, false);
        let second = w.wake(SimTime::ZERO, Sleeper::Loop, true, false);
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
