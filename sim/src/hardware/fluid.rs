//! The set of running fluid activities over simulated time (SimGrid's action model).
//!
//! An activity has an amount of work (nanoseconds of work at rate 1), a bound on its rate and a
//! consumption of resources per unit of rate. Whenever the set changes (an activity starts, is
//! cancelled or finishes), every running activity is first advanced to the current time at its
//! old rate (`remaining -= rate × elapsed`), then the rates are re-solved max-min fairly with a
//! [`SharingSolver`]. Between changes the rates are constant, so the next completion is known
//! exactly; the caller schedules it as an event tagged with [`FluidModel::generation`] and drops
//! the event if the generation has moved on.
//!
//! Completion times round *up* to whole nanoseconds (`now + ceil(remaining / rate)`, with a
//! quotient within a relative 1e-10 of an integer taken as that integer), and an activity whose
//! remaining work is within a relative 1e-9 of its total work counts as done, so floating-point
//! error never makes a run hang or reorder completions. Ties at the same nanosecond break by
//! [`ActivityId`], that is by start order.

use thiserror::Error;

use crate::hardware::contention::{
    FastSolver, SharingError, SharingProblem, SharingSolver, check_variable,
};
use crate::time::{SimDuration, SimTime};

/// Remaining work at or below this fraction of an activity's total work counts as done.
const DONE_REL_EPS: f64 = 1e-9;
/// Remaining work at or below this many ns of work always counts as done.
const DONE_ABS_EPS_NS: f64 = 1e-6;
/// A completion quotient `remaining / rate` within this relative distance of an integer number
/// of nanoseconds is taken as that integer (smaller than `DONE_REL_EPS`, so the activity is then
/// done at that nanosecond).
const SNAP_REL_EPS: f64 = 1e-10;

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
    /// Work left as of `FluidModel::last_update`.
    remaining_ns: f64,
    bound: f64,
    rate: f64,
    /// Position in `FluidModel::active`.
    active_pos: u32,
    /// Kept across reuse of the slot, so a start allocates nothing once buffers have grown.
    consumption: Vec<(usize, f64)>,
}

impl Slot {
    /// Whether no work is left (an activity at an infinite rate is done the moment it starts).
    fn is_done(&self) -> bool {
        self.remaining_ns <= self.work_ns * DONE_REL_EPS + DONE_ABS_EPS_NS
            || self.rate == f64::INFINITY
    }

    /// Whole nanoseconds from the last update until this activity completes at its current
    /// rate; `None` if it never does (rate zero).
    fn ns_to_completion(&self) -> Option<u64> {
        if self.is_done() {
            return Some(0);
        }
        if self.rate <= 0.0 {
            return None;
        }
        let ns = self.remaining_ns / self.rate;
        let nearest = ns.round();
        let ns = if (ns - nearest).abs() <= SNAP_REL_EPS * nearest {
            nearest
        } else {
            ns.ceil()
        };
        // `as` saturates: an absurdly slow activity completes at the end of time.
        Some(ns as u64)
    }
}

/// The running activities and their max-min fair rates.
#[derive(Debug, Clone)]
pub struct FluidModel<S: SharingSolver = FastSolver> {
    solver: S,
    /// Capacities, and the variables of the running activities in `active` order.
    problem: SharingProblem,
    /// Solver output, indexed like `active`.
    rates: Vec<f64>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Slots of the running activities.
    active: Vec<u32>,
    next_seq: u64,
    /// The time every activity's `remaining_ns` refers to.
    last_update: SimTime,
    generation: u64,
    /// `Σ coeff · rate` per resource at the current rates.
    usage: Vec<f64>,
    /// The earliest completion at the current rates.
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
            next_seq: 0,
            last_update: SimTime::ZERO,
            generation: 0,
            usage: vec![0.0; capacities.len()],
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
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = &mut self.slots[slot_index as usize];
        slot.live = true;
        slot.seq = seq;
        slot.work_ns = work;
        slot.remaining_ns = work;
        slot.bound = bound;
        slot.rate = 0.0;
        slot.active_pos = self.active.len() as u32;
        slot.consumption.clear();
        slot.consumption.extend_from_slice(consumption);
        self.active.push(slot_index);
        self.resolve();
        Ok(ActivityId {
            seq,
            slot: slot_index,
        })
    }

    /// Removes a running activity before it completes, advancing the others to `now` and
    /// re-solving. Cancelling an activity that is no longer running does nothing.
    pub fn cancel(&mut self, now: SimTime, id: ActivityId) {
        if self.slot_of(id).is_none() {
            return;
        }
        self.advance_to(now);
        self.remove(id);
        self.resolve();
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
                let slot = &self.slots[id.slot as usize];
                if let Err(e) = check_variable(slot.bound, c, self.problem.num_resources()) {
                    panic!("FluidModel::set_consumption: {e}");
                }
                let slot = &mut self.slots[id.slot as usize];
                slot.consumption.clear();
                slot.consumption.extend_from_slice(c);
                changed = true;
            }
        }
        if changed {
            self.resolve();
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
            self.slots[id.slot as usize].is_done(),
            "finish of {id:?} at {now} with {} ns of work left",
            self.slots[id.slot as usize].remaining_ns
        );
        self.remove(id);
        self.resolve();
    }

    /// The earliest completion at the current rates, `(time, activity)`; ties at the same
    /// nanosecond go to the activity started first. `None` if nothing runs or nothing running
    /// can progress (every running activity has rate zero).
    pub fn next_completion(&self) -> Option<(SimTime, ActivityId)> {
        self.next
    }

    /// Current rate of `id` (work ns per ns), or `None` if it is not running.
    pub fn rate(&self, id: ActivityId) -> Option<f64> {
        self.slot_of(id).map(|s| s.rate)
    }

    /// Work left to `id` at `now` (≥ the last change of the set), in ns of work at rate 1, or
    /// `None` if it is not running.
    pub fn remaining_work(&self, now: SimTime, id: ActivityId) -> Option<f64> {
        let elapsed_ns = now.saturating_since(self.last_update).as_ns() as f64;
        self.slot_of(id)
            .map(|s| advanced(s.remaining_ns, s.rate, elapsed_ns))
    }

    /// Number of running activities.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    /// Whether nothing runs.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// A counter bumped by every start, cancel and finish, that is whenever the rates (and so
    /// the next completion) may change. A completion event scheduled under an older generation
    /// is stale.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// `Σ coeff · rate` of `resource` at the current rates, for utilisation metrics.
    ///
    /// # Panics
    /// If `resource` is not one of the model's resources.
    pub fn resource_usage(&self, resource: usize) -> f64 {
        self.usage[resource]
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

    /// Brings every running activity's remaining work to `now` at the current rates.
    fn advance_to(&mut self, now: SimTime) {
        debug_assert!(
            now >= self.last_update,
            "time went backwards: {now} < {}",
            self.last_update
        );
        if now <= self.last_update {
            return;
        }
        let elapsed_ns = (now - self.last_update).as_ns() as f64;
        for &s in &self.active {
            let slot = &mut self.slots[s as usize];
            slot.remaining_ns = advanced(slot.remaining_ns, slot.rate, elapsed_ns);
        }
        self.last_update = now;
    }

    /// Takes a running activity out of the active list and frees its slot.
    fn remove(&mut self, id: ActivityId) {
        let slot = &mut self.slots[id.slot as usize];
        slot.live = false;
        let pos = slot.active_pos as usize;
        self.active.swap_remove(pos);
        if let Some(&moved) = self.active.get(pos) {
            self.slots[moved as usize].active_pos = pos as u32;
        }
        self.free_slots.push(id.slot);
    }

    /// Re-solves the rates of the running activities, refreshes usage and the next completion.
    fn resolve(&mut self) {
        self.generation += 1;
        self.problem.clear_variables();
        for &s in &self.active {
            let slot = &self.slots[s as usize];
            self.problem
                .push_variable_unchecked(slot.bound, &slot.consumption);
        }
        self.solver.solve(&self.problem, &mut self.rates);
        self.problem.usage(&self.rates, &mut self.usage);
        let mut next: Option<(SimTime, ActivityId)> = None;
        for (&s, &rate) in self.active.iter().zip(&self.rates) {
            let slot = &mut self.slots[s as usize];
            slot.rate = rate;
            if let Some(ns) = slot.ns_to_completion() {
                let candidate = (
                    self.last_update + SimDuration::from_ns(ns),
                    ActivityId {
                        seq: slot.seq,
                        slot: s,
                    },
                );
                if next.is_none_or(|n| candidate < n) {
                    next = Some(candidate);
                }
            }
        }
        self.next = next;
    }
}

/// Work left after `elapsed_ns` at `rate`, never below zero.
fn advanced(remaining_ns: f64, rate: f64, elapsed_ns: f64) -> f64 {
    if elapsed_ns <= 0.0 {
        remaining_ns
    } else if rate == f64::INFINITY {
        0.0
    } else {
        (remaining_ns - rate * elapsed_ns).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::contention::ReferenceSolver;
    use proptest::prelude::*;

    const MS: u64 = 1_000_000;

    /// Runs the model to empty, returning `(completion time ns, activity)` in completion order.
    fn drain<S: SharingSolver>(model: &mut FluidModel<S>) -> Vec<(u64, ActivityId)> {
        let mut done = Vec::new();
        while let Some((t, id)) = model.next_completion() {
            model.finish(t, id);
            done.push((t.as_ns(), id));
        }
        done
    }

    #[test]
    fn changing_consumption_keeps_work_and_rescales_rates() {
        // Two activities of 10 ms on one resource share it: rate 0.5 each. After 4 ms (2 ms of
        // work done each) the second stops using the resource: the first runs at rate 1 and
        // ends at 4 + 8 = 12 ms, the second at 4 + 8 = 12 ms too, each alone at rate 1.
        let mut m: FluidModel = FluidModel::new(vec![1.0, 1.0]);
        let t0 = SimTime::ZERO;
        let a = m.start(t0, 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
        let b = m.start(t0, 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
        let t4 = SimTime::ZERO + SimDuration::from_ns(4 * MS);
        m.set_consumption(t4, &[a, b], |id| (id == b).then(|| vec![(1, 1.0)]));
        assert_eq!(m.rate(a), Some(1.0));
        assert_eq!(m.rate(b), Some(1.0));
        assert_eq!(m.remaining_work(t4, a), Some(8.0 * MS as f64));
        let done = drain(&mut m);
        assert_eq!(
            done.iter().map(|d| d.0).collect::<Vec<_>>(),
            [12 * MS, 12 * MS]
        );
    }

    #[test]
    fn two_identical_kernels_started_together_finish_together() {
        // GPU capacity 1; a and b each need 10 ms of work at rate 1, so each runs at 0.5 and
        // needs 10 ms / 0.5 = 20 ms. Both end at exactly 20 ms; the tie goes to a (started first).
        let mut m = FluidModel::new(vec![1.0]);
        let a = m.start(SimTime::ZERO, 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
        let b = m.start(SimTime::ZERO, 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
        assert_eq!(m.rate(a), Some(0.5));
        assert_eq!(m.resource_usage(0), 1.0);
        assert_eq!(drain(&mut m), vec![(20 * MS, a), (20 * MS, b)]);
        assert!(m.is_empty());
        assert_eq!(m.resource_usage(0), 0.0);
    }

    #[test]
    fn a_later_kernel_slows_the_first() {
        // a (10 ms work) starts at 0 alone at rate 1; at 5 ms it has 5 ms of work left.
        // b (10 ms work) starts at 5 ms; both run at 0.5. a needs 5 / 0.5 = 10 ms more ⇒ ends at
        // 15 ms, by when b has done 10 × 0.5 = 5 ms of work. b, alone again at rate 1, needs
        // 5 ms more ⇒ ends at 20 ms.
        let mut m = FluidModel::new(vec![1.0]);
        let a = m.start(SimTime::ZERO, 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
        assert_eq!(m.next_completion(), Some((SimTime(10 * MS), a)));
        let b = m.start(SimTime(5 * MS), 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
        assert_eq!(m.remaining_work(SimTime(5 * MS), a), Some(5.0 * MS as f64));
        assert_eq!(m.next_completion(), Some((SimTime(15 * MS), a)));
        m.finish(SimTime(15 * MS), a);
        assert_eq!(m.rate(b), Some(1.0));
        assert_eq!(m.next_completion(), Some((SimTime(20 * MS), b)));
    }

    #[test]
    fn gpu_and_dla_kernels_saturating_memory_bandwidth() {
        // Resources: 0 = GPU (1), 1 = DLA (1), 2 = memory bandwidth (1). Each kernel alone would
        // use 80 % of the bandwidth: 0.8 g + 0.8 d ≤ 1 ⇒ g = d = 0.625.
        // g has 4 ms of work: ends at 4 / 0.625 = 6.4 ms, when d has done 6.4 × 0.625 = 4 ms.
        // d then runs alone at rate 1 (memory 0.8 ≤ 1) and needs 10 − 4 = 6 ms more ⇒ 12.4 ms.
        let mut m = FluidModel::new(vec![1.0, 1.0, 1.0]);
        let g = m.start(SimTime::ZERO, 4.0 * MS as f64, 1.0, &[(0, 1.0), (2, 0.8)]);
        let d = m.start(SimTime::ZERO, 10.0 * MS as f64, 1.0, &[(1, 1.0), (2, 0.8)]);
        assert_eq!(m.rate(g), Some(0.625));
        assert_eq!(m.rate(d), Some(0.625));
        assert!((m.resource_usage(2) - 1.0).abs() < 1e-12);
        assert_eq!(m.resource_usage(0), 0.625);
        let (t, first) = m.next_completion().unwrap();
        assert_eq!((t, first), (SimTime(6_400_000), g));
        m.finish(t, g);
        assert_eq!(m.rate(d), Some(1.0));
        assert!((m.resource_usage(2) - 0.8).abs() < 1e-12);
        assert_eq!(drain(&mut m), vec![(12_400_000, d)]);
    }

    #[test]
    fn completion_rounds_up_to_whole_nanoseconds_and_never_stalls() {
        // Bandwidth capacity 1 shared by three unbounded users of coefficient 0.1:
        // 0.1 r × 3 = 1 ⇒ r = 10/3, so 100 ns of work takes 30 ns. In floating point the
        // coefficients sum to 0.30000000000000004, r = 3.333333333333333 and 100 / r =
        // 30.000000000000004; that is taken as 30 (not rounded up to 31), and all end at 30 ns.
        let mut m = FluidModel::new(vec![1.0]);
        let ids: Vec<_> = (0..3)
            .map(|_| m.start(SimTime::ZERO, 100.0, f64::INFINITY, &[(0, 0.1)]))
            .collect();
        assert_eq!(100.0 / m.rate(ids[0]).unwrap(), 30.000000000000004);
        assert_eq!(
            drain(&mut m),
            ids.iter().map(|&id| (30, id)).collect::<Vec<_>>()
        );
        // 1 ns of work at rate 2/3 (capacity 2, three users): 1.5 ns rounds up to 2 ns.
        let mut m = FluidModel::new(vec![2.0]);
        let ids: Vec<_> = (0..3)
            .map(|_| m.start(SimTime::ZERO, 1.0, 1.0, &[(0, 1.0)]))
            .collect();
        assert_eq!(m.next_completion(), Some((SimTime(2), ids[0])));
    }

    #[test]
    fn generation_moves_on_every_change_so_stale_events_can_be_dropped() {
        let mut m = FluidModel::new(vec![1.0]);
        let g0 = m.generation();
        let a = m.start(SimTime::ZERO, 100.0, 1.0, &[(0, 1.0)]);
        let g1 = m.generation();
        assert!(g1 > g0);
        let b = m.start(SimTime(10), 100.0, 1.0, &[(0, 1.0)]);
        assert!(m.generation() > g1);
        // a: 90 left at 10 ns, now 0.5 ⇒ 10 + 180 = 190 ns.
        assert_eq!(m.next_completion(), Some((SimTime(190), a)));
        let g2 = m.generation();
        m.cancel(SimTime(50), a);
        assert!(m.generation() > g2);
        assert_eq!(m.rate(a), None);
        // b: from 10 to 50 ns at 0.5 = 20 done, 80 left alone at rate 1 ⇒ 50 + 80 = 130 ns.
        assert_eq!(m.next_completion(), Some((SimTime(130), b)));
        let g3 = m.generation();
        m.cancel(SimTime(60), a); // no longer running: nothing happens
        assert_eq!(m.generation(), g3);
    }

    #[test]
    fn slots_are_reused_but_ids_stay_unique_and_ordered() {
        let mut m = FluidModel::new(vec![1.0]);
        let a = m.start(SimTime::ZERO, 10.0, 1.0, &[(0, 1.0)]);
        m.finish(SimTime(10), a);
        let b = m.start(SimTime(10), 10.0, 1.0, &[(0, 1.0)]);
        assert_ne!(a, b);
        assert!(a < b);
        assert_eq!(
            m.rate(a),
            None,
            "a stale id must not see b in the reused slot"
        );
        assert_eq!(m.rate(b), Some(1.0));
    }

    #[test]
    fn zero_capacity_and_unconstrained_activities() {
        // Resource 0 has capacity 0: an activity using it never progresses.
        let mut m = FluidModel::new(vec![0.0, 1.0]);
        let stuck = m.start(SimTime::ZERO, 10.0, 1.0, &[(0, 1.0)]);
        assert_eq!(m.rate(stuck), Some(0.0));
        assert_eq!(m.next_completion(), None);
        // No resource and no bound: infinite rate, done at once. Zero work: done at once too.
        let free = m.start(SimTime(5), 10.0, f64::INFINITY, &[]);
        let empty = m.start(SimTime(5), 0.0, 1.0, &[(1, 1.0)]);
        assert_eq!(m.rate(free), Some(f64::INFINITY));
        assert_eq!(m.resource_usage(1), 1.0);
        assert_eq!(m.next_completion(), Some((SimTime(5), free)));
        m.finish(SimTime(5), free);
        assert_eq!(m.next_completion(), Some((SimTime(5), empty)));
        m.finish(SimTime(5), empty);
        assert_eq!(m.len(), 1);
        m.cancel(SimTime(7), stuck);
        assert!(m.is_empty());
    }

    #[test]
    fn invalid_starts_are_errors() {
        let mut m = FluidModel::new(vec![1.0]);
        assert_eq!(
            m.try_start(SimTime::ZERO, -1.0, 1.0, &[]),
            Err(FluidError::InvalidWork { work_ns: -1.0 })
        );
        assert!(matches!(
            m.try_start(SimTime::ZERO, 1.0, 1.0, &[(3, 1.0)]),
            Err(FluidError::Sharing(SharingError::UnknownResource {
                resource: 3,
                resources: 1
            }))
        ));
        assert!(FluidModel::try_new(vec![f64::NAN]).is_err());
        assert!(m.is_empty());
        assert_eq!(m.generation(), 0);
    }

    /// One random activity: start time (ns), work (ns at rate 1), bound, consumptions.
    type Spec = (u64, f64, f64, Vec<(usize, f64)>);

    fn arb_scenario() -> impl Strategy<Value = (Vec<f64>, Vec<Spec>)> {
        (prop::collection::vec(0.5f64..4.0, 1..4), 1usize..24).prop_flat_map(|(caps, n)| {
            let m = caps.len();
            let bound = prop_oneof![1 => Just(f64::INFINITY), 3 => 0.05f64..2.0];
            let spec = (
                0u64..2_000_000,
                1.0f64..1e6,
                bound,
                prop::collection::vec((0..m, 0.05f64..2.0), 1..3),
            );
            (Just(caps), prop::collection::vec(spec, n))
        })
    }

    /// Drives a model through `specs` (starts in time order, completions as announced) and checks
    /// at every instant that no capacity is exceeded and that `resource_usage` is the sum of
    /// `coeff × rate`; at every completion that `Σ rate × time` equals the work, within the last
    /// rate × 1 ns (the round-up) plus a relative 1e-9. Returns the completion order.
    fn run_and_check<S: SharingSolver>(
        mut model: FluidModel<S>,
        caps: &[f64],
        specs: &[Spec],
    ) -> Result<Vec<(u64, usize)>, TestCaseError> {
        let mut order: Vec<usize> = (0..specs.len()).collect();
        order.sort_by_key(|&i| specs[i].0);
        let mut next_start = 0;
        let mut running: Vec<(ActivityId, usize)> = Vec::new();
        let mut done_work = vec![0.0f64; specs.len()];
        let mut completions = Vec::new();
        let mut now = 0u64;
        for _step in 0..4 * specs.len() + 4 {
            let start_at = order.get(next_start).map(|&i| specs[i].0);
            let completion = model.next_completion();
            let event_at = match (start_at, completion) {
                (None, None) => break,
                (Some(s), None) => s,
                (None, Some((t, _))) => t.as_ns(),
                (Some(s), Some((t, _))) => s.min(t.as_ns()),
            };
            prop_assert!(event_at >= now, "event in the past: {event_at} < {now}");
            // Integrate the constant rates over [now, event_at] and check feasibility.
            let mut usage = vec![0.0; caps.len()];
            for &(id, i) in &running {
                let rate = model.rate(id).unwrap();
                done_work[i] += rate * (event_at - now) as f64;
                for &(j, c) in &specs[i].3 {
                    usage[j] += c * rate;
                }
            }
            for (j, &u) in usage.iter().enumerate() {
                prop_assert!(
                    u <= caps[j] * (1.0 + 1e-9),
                    "resource {j}: {u} > {}",
                    caps[j]
                );
                prop_assert!((u - model.resource_usage(j)).abs() <= 1e-9 * caps[j]);
            }
            now = event_at;
            match completion {
                Some((t, id)) if t.as_ns() == event_at => {
                    let pos = running.iter().position(|&(r, _)| r == id).unwrap();
                    let (_, i) = running.remove(pos);
                    let last_rate = model.rate(id).unwrap();
                    model.finish(t, id);
                    let work = specs[i].1;
                    let slack = last_rate * 1.0 + 1e-9 * work;
                    prop_assert!(
                        (done_work[i] - work).abs() <= slack,
                        "activity {i}: did {} of {work} (slack {slack})",
                        done_work[i]
                    );
                    completions.push((now, i));
                }
                _ => {
                    let i = order[next_start];
                    next_start += 1;
                    let (_, work, bound, ref cons) = specs[i];
                    let id = model.start(SimTime(now), work, bound, cons);
                    running.push((id, i));
                }
            }
        }
        prop_assert!(
            running.is_empty() && next_start == specs.len(),
            "run did not finish"
        );
        Ok(completions)
    }

    proptest! {
        #[test]
        fn work_is_conserved_and_capacities_hold((caps, specs) in arb_scenario()) {
            let fast = run_and_check(FluidModel::new(caps.clone()), &caps, &specs)?;
            let reference = run_and_check(
                FluidModel::with_solver(caps.clone(), ReferenceSolver).unwrap(), &caps, &specs)?;
            prop_assert_eq!(fast, reference);
        }
    }
}
