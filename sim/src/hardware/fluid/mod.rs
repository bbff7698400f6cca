//! The set of running fluid activities over simulated time (SimGrid's action model).
//!
//! An activity has an amount of work (nanoseconds of work at rate 1), a bound on its rate and a
//! consumption of resources per unit of rate. Whenever the set changes (an activity starts, is
//! cancelled or finishes), the running activities are advanced to the current time at their old
//! rates (`remaining -= rate × elapsed`), then the rates are re-solved max-min fairly with a
//! [`SharingSolver`]. Between changes the rates are constant, so the next completion is known
//! exactly; the caller schedules it as an event tagged with [`FluidModel::generation`] and drops
//! the event if the generation has moved on.
//!
//! Completion times round *up* to whole nanoseconds (`now + ceil(remaining / rate)`, with a
//! quotient within a relative 1e-10 of an integer taken as that integer), and an activity whose
//! remaining work is within a relative 1e-9 of its total work counts as done, so floating-point
//! error never makes a run hang or reorder completions. Ties at the same nanosecond break by
//! [`ActivityId`], that is by start order.
//!
//! # Doing only the work that can change a result (SimGrid's lazy update)
//!
//! The results are those of [`reference::ReferenceFluidModel`], which re-solves and re-advances
//! everything on every change, to the nanosecond (the differential tests below hold the two to
//! identical completions). Three things make it cheap:
//! - **Changes at one instant are solved once.** Rates that hold for zero time integrate to no
//!   work, so starts and finishes at the same `now` only mark the model dirty; it is solved when
//!   a rate or the next completion is asked for, or before time moves on.
//! - **No solve when nothing is over-subscribed.** Per resource, `Σ coefficient × bound` of the
//!   running activities is kept up to date with a bound on its rounding error ([`LoadBook`]).
//!   When every resource certainly fits, every rate is its bound (the solver's own fast path);
//!   only a sum within its error of the capacity is recomputed the way the solver would.
//! - **Activities at rate 1 are not touched.** At rate 1, `remaining − elapsed` is exact in
//!   floating point (whole nanoseconds off a value below 2⁵³), so advancing such an activity
//!   once or at every event gives the same value. Its completion instant then stays the same
//!   unless the round-to-integer snap or the done tolerance could apply near its end, which
//!   [`stable_completion`] rules out from its remaining work; such an activity keeps its
//!   completion cached and is advanced only when its rate changes. The others (shared or bounded
//!   rates) are advanced at every change, as before.
//!
//! When a full solve is needed, the sharing problem is already there: its variables are kept in
//! step with the running set, in the same order as the reference model builds them, and the
//! solver skips its own fast-path test, which the load book has answered.

mod completion;
mod load_book;
pub mod reference;

use thiserror::Error;

use crate::hardware::contention::{
    FastSolver, SharingError, SharingProblem, SharingSolver, check_variable,
};
use crate::time::{SimDuration, SimTime};
use completion::{advanced, done_threshold, ns_to_completion, stable_completion};
use load_book::{Fit, LoadBook};

/// Identifies a running activity. Ordered by start order (earlier starts compare smaller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActivityId {
    /// Start sequence number, unique over the model's life; compared first.
    seq: u64,
    /// Slab slot holding the activity while it runs.
    slot: u32,
}

impl ActivityId {
    /// The activity's start sequence number (0 for the first activity started in a model).
    pub fn seq(self) -> u64 {
        self.seq
    }

    /// The slot the activity holds while it runs: small and dense, reused after it finishes,
    /// so a running activity's data can live in a vector indexed by slot.
    pub fn slot(self) -> usize {
        self.slot as usize
    }
}

/// Why an activity could not be started.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FluidError {
    /// The work was negative, NaN or infinite.
    #[error("activity work must be finite and >= 0 ns, got {work_ns}")]
    InvalidWork {
        /// The rejected work, ns of work at rate 1.
        work_ns: f64,
    },
    /// The bound or a consumption was invalid.
    #[error(transparent)]
    Sharing(#[from] SharingError),
}

/// One slab slot: an activity while `live`, otherwise free for reuse.
#[derive(Debug, Clone, Default)]
struct Slot {
    live: bool,
    seq: u64,
    /// Total work, ns of work at rate 1.
    work_ns: f64,
    /// Work left as of `since`.
    remaining_ns: f64,
    /// The time `remaining_ns` refers to: `FluidModel::last_update` unless the activity is
    /// stable ([`Running::stable`]).
    since: SimTime,
    rate: f64,
    /// Position in `FluidModel::active` (and of its variable in `FluidModel::problem`).
    active_pos: u32,
}

impl Slot {
    /// Work left at `now` (≥ `since`).
    fn remaining_at(&self, now: SimTime) -> f64 {
        let elapsed_ns = now.saturating_since(self.since).as_ns() as f64;
        advanced(self.remaining_ns, self.rate, elapsed_ns)
    }
}

/// A running activity as the loops over all of them see it: small, in one contiguous vector.
#[derive(Clone, Copy, Debug)]
struct Running {
    id: ActivityId,
    /// At rate 1 with a completion that recomputing cannot move ([`stable_completion`]):
    /// `due` is cached, and the slot's work left is brought forward only when the rate changes.
    stable: bool,
    /// The completion instant, while `stable`.
    due: SimTime,
}

/// The running activities and their max-min fair rates.
#[derive(Debug, Clone)]
pub struct FluidModel<S: SharingSolver = FastSolver> {
    solver: S,
    /// Capacities, and the running activities' variables (bounds and consumptions) in `active`
    /// order, kept in step with it.
    problem: SharingProblem,
    /// Solver output, indexed like `active`.
    rates: Vec<f64>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// The running activities, in the order their variables are given to the solver.
    active: Vec<Running>,
    /// How many running activities are not stable.
    unstable: usize,
    /// Activities started since the rates were last solved.
    fresh: Vec<ActivityId>,
    /// The last solve put every running activity at its bound (the solver's fast path).
    at_bounds: bool,
    next_seq: u64,
    /// The time of the last change of the set: every activity that is not stable has its
    /// `remaining_ns` at this time.
    last_update: SimTime,
    generation: u64,
    /// The set changed since the rates were last solved.
    pending: bool,
    /// `Σ coefficient × bound` per resource.
    load: LoadBook,
    /// The earliest completion at the current rates (valid when not `pending`).
    next: Option<(SimTime, ActivityId)>,
}

impl FluidModel<FastSolver> {
    /// A model of resources with these capacities, solved by [`FastSolver`].
    ///
    /// # Panics
    /// If a capacity is negative, NaN or infinite; [`FluidModel::try_new`] returns the error.
    pub fn new(capacities: Vec<f64>) -> Self {
        match Self::try_new(capacities) {
            Ok(model) => model,
            Err(e) => panic!("FluidModel::new: {e}"),
        }
    }

    /// A model of resources with these capacities, solved by [`FastSolver`].
    pub fn try_new(capacities: Vec<f64>) -> Result<Self, SharingError> {
        Self::with_solver(capacities, FastSolver::new())
    }
}

impl<S: SharingSolver> FluidModel<S> {
    /// A model of resources with these capacities, solved by `solver`.
    pub fn with_solver(capacities: Vec<f64>, solver: S) -> Result<Self, SharingError> {
        let problem = SharingProblem::with_capacities(&capacities)?;
        Ok(Self {
            solver,
            problem,
            rates: Vec::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            active: Vec::new(),
            unstable: 0,
            fresh: Vec::new(),
            at_bounds: true,
            next_seq: 0,
            last_update: SimTime::ZERO,
            generation: 0,
            pending: false,
            load: LoadBook::new(capacities.len()),
            next: None,
        })
    }

    /// Starts an activity of `work` ns of work at rate 1 whose rate is at most `bound`
    /// (`f64::INFINITY` for none) and which uses `coefficient × rate` of each listed resource.
    /// The others are advanced to `now` first; the rates are then re-solved.
    ///
    /// # Panics
    /// On invalid input (see [`FluidModel::try_start`], which returns the error instead).
    pub fn start(
        &mut self,
        now: SimTime,
        work: f64,
        bound: f64,
        consumption: &[(usize, f64)],
    ) -> ActivityId {
        match self.try_start(now, work, bound, consumption) {
            Ok(id) => id,
            Err(e) => panic!("FluidModel::start: {e}"),
        }
    }

    /// As [`FluidModel::start`], but returns an error for work that is negative or not finite,
    /// a negative or NaN bound, an unknown resource or a negative or non-finite coefficient.
    pub fn try_start(
        &mut self,
        now: SimTime,
        work: f64,
        bound: f64,
        consumption: &[(usize, f64)],
    ) -> Result<ActivityId, FluidError> {
        if !(work.is_finite() && work >= 0.0) {
            return Err(FluidError::InvalidWork { work_ns: work });
        }
        check_variable(bound, consumption, self.problem.num_resources())?;
        self.advance_to(now);
        let slot_index = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let id = ActivityId {
            seq: self.next_seq,
            slot: slot_index,
        };
        self.next_seq += 1;
        let slot = &mut self.slots[slot_index as usize];
        slot.live = true;
        slot.seq = id.seq;
        slot.work_ns = work;
        slot.remaining_ns = work;
        slot.since = self.last_update;
        slot.rate = 0.0;
        slot.active_pos = self.active.len() as u32;
        self.load.add(consumption, bound);
        self.problem.push_variable_unchecked(bound, consumption);
        self.active.push(Running {
            id,
            stable: false,
            due: SimTime::ZERO,
        });
        self.unstable += 1;
        self.fresh.push(id);
        self.changed();
        Ok(id)
    }

    /// Removes a running activity before it completes, advancing the others to `now` and
    /// re-solving. Cancelling an activity that is no longer running does nothing.
    pub fn cancel(&mut self, now: SimTime, id: ActivityId) {
        if self.slot_of(id).is_none() {
            return;
        }
        self.advance_to(now);
        self.remove(id);
        self.changed();
    }

    /// Changes what running activities use of each resource (their work left and bounds are
    /// kept), advancing every activity to `now` first and re-solving once. `change(id)` returns
    /// the new consumption of `id`, or `None` to keep it; it is asked for each of `ids` that is
    /// still running.
    ///
    /// # Panics
    /// If a new consumption names an unknown resource or has a negative or non-finite
    /// coefficient.
    pub fn set_consumption<C: AsRef<[(usize, f64)]>>(
        &mut self,
        now: SimTime,
        ids: &[ActivityId],
        mut change: impl FnMut(ActivityId) -> Option<C>,
    ) {
        self.advance_to(now);
        let mut changed = false;
        for &id in ids {
            if self.slot_of(id).is_none() {
                continue;
            }
            if let Some(c) = change(id) {
                let c = c.as_ref();
                let pos = self.slots[id.slot as usize].active_pos as usize;
                let bound = self.problem.bound(pos);
                if let Err(e) = check_variable(bound, c, self.problem.num_resources()) {
                    panic!("FluidModel::set_consumption: {e}");
                }
                self.load.remove(self.problem.consumption(pos), bound);
                self.load.add(c, bound);
                self.problem.set_consumption_unchecked(pos, c);
                changed = true;
            }
        }
        if changed {
            self.changed();
        }
    }

    /// Removes an activity that has completed at `now` (as announced by
    /// [`FluidModel::next_completion`]), advancing the others to `now` and re-solving.
    ///
    /// # Panics
    /// If `id` is not running: a completion event outlived its generation.
    pub fn finish(&mut self, now: SimTime, id: ActivityId) {
        assert!(
            self.slot_of(id).is_some(),
            "finish of {id:?}, which is not running"
        );
        self.advance_to(now);
        debug_assert!(
            {
                self.settle();
                let slot = &self.slots[id.slot as usize];
                slot.remaining_at(now) <= done_threshold(slot.work_ns) || slot.rate == f64::INFINITY
            },
            "finish of {id:?} at {now} with {} ns of work left",
            self.slots[id.slot as usize].remaining_at(now)
        );
        self.remove(id);
        self.changed();
    }

    /// The earliest completion at the current rates, `(time, activity)`; ties at the same
    /// nanosecond go to the activity started first. `None` if nothing runs or nothing running
    /// can progress (every running activity has rate zero).
    pub fn next_completion(&mut self) -> Option<(SimTime, ActivityId)> {
        self.settle();
        self.next
    }

    /// Current rate of `id` (work ns per ns), or `None` if it is not running.
    pub fn rate(&mut self, id: ActivityId) -> Option<f64> {
        self.settle();
        self.slot_of(id).map(|s| s.rate)
    }

    /// Work left to `id` at `now` (≥ the last change of the set), in ns of work at rate 1, or
    /// `None` if it is not running.
    pub fn remaining_work(&mut self, now: SimTime, id: ActivityId) -> Option<f64> {
        self.settle();
        self.slot_of(id).map(|s| s.remaining_at(now))
    }

    /// Number of running activities.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    /// Whether nothing runs.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// A counter bumped by every start, cancel, finish and change of consumption, that is
    /// whenever the rates (and so the next completion) may change. A completion event scheduled
    /// under an older generation is stale.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// `Σ coeff · rate` of `resource` at the current rates, for utilisation metrics (a pass
    /// over the running activities).
    ///
    /// # Panics
    /// If `resource` is not one of the model's resources.
    pub fn resource_usage(&mut self, resource: usize) -> f64 {
        assert!(resource < self.num_resources(), "no resource {resource}");
        self.settle();
        let mut usage = 0.0;
        for (k, r) in self.active.iter().enumerate() {
            let rate = self.slots[r.id.slot as usize].rate;
            for &(j, c) in self.problem.consumption(k) {
                if j == resource && c > 0.0 {
                    usage += c * rate;
                }
            }
        }
        usage
    }

    /// Number of resources.
    pub fn num_resources(&self) -> usize {
        self.problem.num_resources()
    }

    /// Capacity of `resource`.
    ///
    /// # Panics
    /// If `resource` is not one of the model's resources.
    pub fn capacity(&self, resource: usize) -> f64 {
        self.problem.capacity(resource)
    }

    fn slot_of(&self, id: ActivityId) -> Option<&Slot> {
        self.slots
            .get(id.slot as usize)
            .filter(|s| s.live && s.seq == id.seq)
    }

    /// The set changed at `last_update`: the rates are stale until the next [`Self::settle`].
    fn changed(&mut self) {
        self.generation += 1;
        self.pending = true;
    }

    /// Brings every running activity that is not stable to `now` at the current rates.
    fn advance_to(&mut self, now: SimTime) {
        debug_assert!(
            now >= self.last_update,
            "time went backwards: {now} < {}",
            self.last_update
        );
        if now <= self.last_update {
            return;
        }
        // The rates that held since the last change must be known before they are integrated.
        self.settle();
        if self.unstable > 0 {
            let elapsed_ns = (now - self.last_update).as_ns() as f64;
            for r in &self.active {
                if !r.stable {
                    let slot = &mut self.slots[r.id.slot as usize];
                    slot.remaining_ns = advanced(slot.remaining_ns, slot.rate, elapsed_ns);
                    slot.since = now;
                }
            }
        }
        self.last_update = now;
    }

    /// Takes a running activity out of the active list and frees its slot.
    fn remove(&mut self, id: ActivityId) {
        let slot = &mut self.slots[id.slot as usize];
        slot.live = false;
        let pos = slot.active_pos as usize;
        self.load
            .remove(self.problem.consumption(pos), self.problem.bound(pos));
        self.problem.swap_remove_variable(pos);
        let gone = self.active.swap_remove(pos);
        if !gone.stable {
            self.unstable -= 1;
        }
        if let Some(moved) = self.active.get(pos) {
            self.slots[moved.id.slot as usize].active_pos = pos as u32;
        }
        self.free_slots.push(id.slot);
    }

    /// Whether the solver's fast path applies: every resource carries every running activity at
    /// its bound, as summed in `active` order (the load book decides all but close calls).
    fn all_fit_at_bounds(&mut self) -> bool {
        let mut stale = std::mem::take(&mut self.load.stale);
        for &j in &stale {
            self.load.unmark_stale(j as usize);
        }
        for &j in &stale {
            let j = j as usize;
            let capacity = self.problem.capacity(j);
            let fails = match self.load.fits(j, capacity) {
                Fit::Yes => false,
                Fit::No => true,
                Fit::Unsure => {
                    let mut exact = 0.0;
                    for k in 0..self.problem.num_variables() {
                        let bound = self.problem.bound(k);
                        for &(jj, c) in self.problem.consumption(k) {
                            if jj == j && c > 0.0 {
                                exact += c * bound;
                            }
                        }
                    }
                    self.load.reset(j, exact);
                    // The next answer needs the pass again: the order may have changed by then.
                    self.load.mark_stale(j);
                    exact > capacity
                }
            };
            self.load.set_fails(j, fails);
        }
        stale.clear();
        if self.load.stale.is_empty() {
            self.load.stale = stale;
        }
        self.load.failing == 0
    }

    /// Solves the rates if the set changed, and finds the next completion.
    fn settle(&mut self) {
        if !self.pending {
            return;
        }
        debug_assert_eq!(self.problem.num_variables(), self.active.len());
        self.pending = false;
        let now = self.last_update;
        let fast = self.all_fit_at_bounds();
        if fast && self.at_bounds {
            // Everyone else is at its bound already.
            for &id in &self.fresh {
                if let Some(slot) = self.slots.get_mut(id.slot as usize)
                    && slot.live
                    && slot.seq == id.seq
                {
                    let pos = slot.active_pos as usize;
                    let bound = self.problem.bound(pos);
                    set_rate(slot, &mut self.active[pos], bound, now, &mut self.unstable);
                }
            }
        } else {
            if !fast {
                self.solver
                    .solve_oversubscribed(&self.problem, &mut self.rates);
            }
            for (k, running) in self.active.iter_mut().enumerate() {
                let rate = if fast {
                    self.problem.bound(k)
                } else {
                    self.rates[k]
                };
                let slot = &mut self.slots[running.id.slot as usize];
                set_rate(slot, running, rate, now, &mut self.unstable);
            }
        }
        self.at_bounds = fast;
        self.fresh.clear();
        self.next = self.earliest_completion();
    }

    /// The earliest completion at the current rates, ties to the earlier start.
    fn earliest_completion(&self) -> Option<(SimTime, ActivityId)> {
        let now = self.last_update;
        let mut next: Option<(SimTime, ActivityId)> = None;
        for r in &self.active {
            let due = if r.stable {
                debug_assert_eq!(
                    Some(r.due),
                    {
                        let slot = &self.slots[r.id.slot as usize];
                        ns_to_completion(slot.remaining_at(now), slot.work_ns, 1.0)
                            .map(|ns| now + SimDuration::from_ns(ns))
                    },
                    "a stable completion moved"
                );
                r.due
            } else {
                let slot = &self.slots[r.id.slot as usize];
                match ns_to_completion(slot.remaining_ns, slot.work_ns, slot.rate) {
                    Some(ns) => now + SimDuration::from_ns(ns),
                    None => continue,
                }
            };
            let candidate = (due, r.id);
            if next.is_none_or(|n| candidate < n) {
                next = Some(candidate);
            }
        }
        next
    }
}

/// Gives an activity its newly solved `rate` at `now` (the last change): a stable activity that
/// leaves rate 1 has its work left brought to `now`; one that reaches rate 1 with a stable
/// completion caches it. `unstable` counts the activities that are not stable.
fn set_rate(slot: &mut Slot, running: &mut Running, rate: f64, now: SimTime, unstable: &mut usize) {
    if running.stable {
        if rate == 1.0 {
            return;
        }
        slot.remaining_ns = slot.remaining_at(now);
        slot.since = now;
        running.stable = false;
        *unstable += 1;
    }
    slot.rate = rate;
    if rate == 1.0 && stable_completion(slot.remaining_ns, slot.work_ns) {
        running.stable = true;
        running.due = now
            + SimDuration::from_ns(
                ns_to_completion(slot.remaining_ns, slot.work_ns, 1.0).expect("rate 1 completes"),
            );
        *unstable -= 1;
    }
}

#[cfg(test)]
mod tests;
