//! The events of a run, grouped by the component that handles them.
//!
//! The run loop pops an [`Event`] from the [`EventQueue`](crate::engine::EventQueue) and hands
//! it to its owner: the workload (arrivals), the policy (ticks), the engines (fluid
//! completions), the data plane ([`PlaneEvent`]) or the executor ([`ExecEvent`]). Events carry
//! only ids; the owner keeps the state.

/// Something due at a point of a run's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next request arrives.
    Arrival,
    /// The policy's periodic decision.
    PolicyTick,
    /// The earliest fluid activity on the engines may have finished (stale unless `generation`
    /// is the fluid model's current one).
    FluidCheck {
        /// Generation of the fluid model when the check was scheduled.
        generation: u64,
    },
    /// An event of the serving data plane.
    Plane(PlaneEvent),
    /// An event of the executor.
    Executor(ExecEvent),
    /// Interferer `index` ([`crate::interference`]) starts (`starts`) or ends a window.
    Interference {
        /// Index of the `[[interference]]` entry.
        index: u32,
        /// Whether the window starts (else it ends).
        starts: bool,
    },
}

/// Events of the serving data plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneEvent {
    /// A request queue's batch timer fires (stale unless `generation` is the queue's current one).
    BatchTimeout {
        /// Queue index.
        queue: u32,
        /// Generation of the queue's timer when it was armed.
        generation: u32,
    },
    /// The fixed (control) part of a transfer ends.
    TransferFixedDone {
        /// Transfer id.
        transfer: u32,
    },
    /// A cold-starting instance has loaded and can serve.
    InstanceReady {
        /// Instance id.
        instance: u32,
    },
}

/// Events of an executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecEvent {
    /// The fixed (launch) part of a batch's current segment ends (simulated execution).
    SegmentFixedDone {
        /// Batch id.
        batch: u32,
    },
    /// A batch's instance thread woke and runs it (simulated execution with measured
    /// wake-ups).
    InstanceAwake {
        /// Batch id.
        batch: u32,
    },
    /// The serving loop woke: it takes the results reported and sends the batches dispatched
    /// meanwhile (simulated execution with measured wake-ups).
    LoopAwake,
    /// The loop, kept from running after a send, has waited as long as it drew (simulated
    /// execution with measured wake-ups).
    LoopHoldOver {
        /// The hold's token.
        token: u32,
    },
    /// A thread woken while every core was held has waited as long as it drew (simulated
    /// execution with measured wake-ups).
    WakeWaitOver {
        /// The wait's token.
        token: u32,
    },
    /// A batch run on a live executor finished at this point of the wall clock.
    LiveBatchDone {
        /// Batch id.
        batch: u32,
    },
}

impl From<PlaneEvent> for Event {
    fn from(e: PlaneEvent) -> Self {
        Event::Plane(e)
    }
}

impl From<ExecEvent> for Event {
    fn from(e: ExecEvent) -> Self {
        Event::Executor(e)
    }
}
