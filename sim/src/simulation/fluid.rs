//! The fluid model of running activities: completions and rescheduling.

use super::*;

impl Simulation {
    pub(super) fn on_fluid_check(&mut self, generation: u64) {
        if generation != self.fluid.generation() {
            return;
        }
        let now = self.now();
        while let Some((t, id)) = self.fluid.next_completion() {
            if t > now {
                break;
            }
            self.fluid.finish(now, id);
            self.fluid_dirty = true;
            match self.owners.remove(&id) {
                Some(ActivityOwner::Batch(b)) => self.segment_work_done(b),
                Some(ActivityOwner::Transfer(x)) => {
                    let cpu = self.cpu_index();
                    self.occupy(cpu, -1.0);
                    self.transfer_work_done(x);
                }
                None => debug_assert!(false, "fluid activity {id:?} has no owner"),
            }
        }
    }

    /// After the set of running activities changed: reschedule the next completion check.
    pub(super) fn settle_fluid(&mut self) {
        self.fluid_dirty = false;
        let now = self.now();
        if let Some((t, _)) = self.fluid.next_completion() {
            self.events.schedule(
                t.max(now),
                Event::FluidCheck {
                    generation: self.fluid.generation(),
                },
            );
        }
    }
}
