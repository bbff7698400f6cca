//! The fluid model written the plain way, kept as the oracle of [`super::FluidModel`].
//!
//! On every change of the set (a start, cancel, finish or change of consumption) every running
//! activity is advanced to the current time at its old rate, the whole sharing problem is rebuilt
//! and solved, and every activity's completion is recomputed. [`super::FluidModel`] does the same
//! arithmetic only where it can change a result, and the differential tests of
//! `hardware::fluid` check that both give the same completions at the same nanoseconds.

use super::ActivityId;
use super::completion::{DONE_ABS_EPS_NS, DONE_REL_EPS, SNAP_REL_EPS, advanced};
use crate::hardware::contention::{FastSolver, SharingProblem, SharingSolver, check_variable};
use crate::time::{SimDuration, SimTime};

/// One slab slot: an activity while `live`, otherwise free for reuse.
#[derive(Debug, Clone, Default)]
struct Slot {
    live: bool,
    seq: u64,
    /// Total work, ns of work at rate 1.
    work_ns: f64,
    /// Work left as of `ReferenceFluidModel::last_update`.
    remaining_ns: f64,
    bound: f64,
    rate: f64,
    /// Position in `ReferenceFluidModel::active`.
    active_pos: u32,
    consumption: Vec<(usize, f64)>,
}

impl Slot {
    /// Whether no work is left (an activity at an infinite rate is done the moment it starts).
    fn is_done(&self) -> bool {
        self.remaining_ns <= self.work_ns * DONE_REL_EPS + DONE_ABS_EPS_NS
            || self.rate == f64::INFINITY
    }

    /// Whole nanoseconds from the last update until this activity completes at its current
    /// rate; `None` if it never does (rate zero). Uses the standard library's `round` and `ceil`.
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
        Some(ns as u64)
    }
}

/// The running activities and their max-min fair rates, re-solved from scratch on every change.
#[derive(Debug, Clone)]
pub struct ReferenceFluidModel {
    solver: FastSolver,
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

impl ReferenceFluidModel {
    /// A model of resources with these capacities.
    ///
    /// # Panics
    /// If a capacity is negative, NaN or infinite.
    pub fn new(capacities: Vec<f64>) -> Self {
        let problem = SharingProblem::with_capacities(&capacities)
            .unwrap_or_else(|e| panic!("ReferenceFluidModel::new: {e}"));
        Self {
            solver: FastSolver::new(),
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
        }
    }

    /// As [`super::FluidModel::start`].
    ///
    /// # Panics
    /// On invalid input.
    pub fn start(
        &mut self,
        now: SimTime,
        work: f64,
        bound: f64,
        consumption: &[(usize, f64)],
    ) -> ActivityId {
        assert!(work.is_finite() && work >= 0.0, "invalid work {work}");
        if let Err(e) = check_variable(bound, consumption, self.problem.num_resources()) {
            panic!("ReferenceFluidModel::start: {e}");
        }
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
        ActivityId {
            seq,
            slot: slot_index,
        }
    }

    /// As [`super::FluidModel::cancel`].
    pub fn cancel(&mut self, now: SimTime, id: ActivityId) {
        if self.slot_of(id).is_none() {
            return;
        }
        self.advance_to(now);
        self.remove(id);
        self.resolve();
    }

    /// As [`super::FluidModel::set_consumption`].
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
                    panic!("ReferenceFluidModel::set_consumption: {e}");
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

    /// As [`super::FluidModel::finish`].
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

    /// As [`super::FluidModel::next_completion`].
    pub fn next_completion(&self) -> Option<(SimTime, ActivityId)> {
        self.next
    }

    /// As [`super::FluidModel::rate`].
    pub fn rate(&self, id: ActivityId) -> Option<f64> {
        self.slot_of(id).map(|s| s.rate)
    }

    /// As [`super::FluidModel::remaining_work`].
    pub fn remaining_work(&self, now: SimTime, id: ActivityId) -> Option<f64> {
        let elapsed_ns = now.saturating_since(self.last_update).as_ns() as f64;
        self.slot_of(id)
            .map(|s| advanced(s.remaining_ns, s.rate, elapsed_ns))
    }

    /// As [`super::FluidModel::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// As [`super::FluidModel::generation`].
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// As [`super::FluidModel::resource_usage`].
    pub fn resource_usage(&self, resource: usize) -> f64 {
        self.usage[resource]
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
