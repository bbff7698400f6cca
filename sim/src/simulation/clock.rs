//! The clock a run follows: virtual (jump to the next event) or wall (wait for it in real
//! time, taking completions from a live executor as they happen).
//!
//! The run loop is generic over the clock, so the virtual one costs nothing per event.

use super::Machine;
use crate::executor::LiveError;
use crate::time::SimTime;

/// How the run loop advances time.
pub(super) trait Clock {
    /// Batches running outside the event queue (the run cannot end while there are any).
    fn outstanding(&self, machine: &Machine) -> u64;

    /// Waits until the clock reaches `until` (`None`: until a batch finishes) or a batch
    /// finishes, and returns the time now; `None` on a virtual clock, which jumps to the next
    /// event instead.
    fn wait(
        &mut self,
        machine: &mut Machine,
        until: Option<SimTime>,
    ) -> Result<Option<SimTime>, LiveError>;

    /// An error the executor met while handling the last event.
    fn take_error(&mut self, machine: &mut Machine) -> Option<LiveError>;
}

/// Simulated time: the loop pops the next event whenever it is due.
pub(super) struct VirtualClock;

impl Clock for VirtualClock {
    fn outstanding(&self, _machine: &Machine) -> u64 {
        0
    }

    fn wait(
        &mut self,
        _machine: &mut Machine,
        _until: Option<SimTime>,
    ) -> Result<Option<SimTime>, LiveError> {
        Ok(None)
    }

    fn take_error(&mut self, _machine: &mut Machine) -> Option<LiveError> {
        None
    }
}

/// The wall clock of a live run, kept by its executor ([`crate::executor::Executor::wait`]).
pub(super) struct WallClock;

impl Clock for WallClock {
    fn outstanding(&self, machine: &Machine) -> u64 {
        machine.executor.outstanding()
    }

    fn wait(
        &mut self,
        machine: &mut Machine,
        until: Option<SimTime>,
    ) -> Result<Option<SimTime>, LiveError> {
        machine.executor.wait(until, &mut machine.events)
    }

    fn take_error(&mut self, machine: &mut Machine) -> Option<LiveError> {
        machine.executor.take_error()
    }
}
