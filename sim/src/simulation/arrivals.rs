//! The arrival side of a run: when the next request comes, and when arrivals stop (at
//! `run.duration` or after `run.max_requests`).

use crate::engine::EventQueue;
use crate::event::Event;
use crate::scenario::RunSpec;
use crate::time::SimTime;
use crate::workload::arrival::{ArrivalProcess, RequestValues};

/// The arrival process of a run and its stop rule.
#[derive(Debug)]
pub(super) struct Arrivals {
    process: Box<dyn ArrivalProcess>,
    /// Whether more arrivals may come.
    open: bool,
    /// Arrivals at or after this time do not happen (`run.duration`).
    deadline: Option<SimTime>,
    /// Arrivals after this many do not happen (`run.max_requests`).
    max_requests: Option<u64>,
    /// End of the arrival period, once arrivals have stopped.
    cutoff: SimTime,
    /// Requests arrived so far.
    arrived: u64,
    /// What the process knows of the scheduled arrival (its size, objective, network delay).
    next_request: RequestValues,
}

impl Arrivals {
    pub(super) fn new(process: Box<dyn ArrivalProcess>, run: &RunSpec) -> Self {
        Arrivals {
            process,
            open: true,
            deadline: run.duration.map(|d| SimTime::ZERO + d.0),
            max_requests: run.max_requests,
            cutoff: SimTime::MAX,
            arrived: 0,
            next_request: RequestValues::default(),
        }
    }

    /// Schedules the next arrival, or closes arrivals (the cutoff is the deadline, or now).
    pub(super) fn schedule_next(&mut self, events: &mut EventQueue<Event>) {
        let now = events.now();
        let more = self.max_requests.is_none_or(|m| self.arrived < m);
        let next = if more {
            self.process.next_arrival()
        } else {
            None
        };
        match next {
            Some(t) if self.deadline.is_none_or(|d| t < d) => {
                self.next_request = self.process.last_request();
                events.schedule(t.max(now), Event::Arrival);
            }
            _ => {
                self.open = false;
                self.cutoff = self.deadline.unwrap_or(now);
            }
        }
    }

    /// Counts an arrival and returns what the process knows of it.
    pub(super) fn arrived(&mut self) -> RequestValues {
        self.arrived += 1;
        std::mem::take(&mut self.next_request)
    }

    /// Requests arrived so far.
    pub(super) fn count(&self) -> u64 {
        self.arrived
    }

    /// Whether more arrivals may come.
    pub(super) fn is_open(&self) -> bool {
        self.open
    }

    /// End of the arrival period (`SimTime::MAX` while arrivals are open).
    pub(super) fn cutoff(&self) -> SimTime {
        self.cutoff
    }

    /// Estimated fraction of the arrival period done at `now`: time over the duration, or
    /// arrivals over the maximum, whichever is further (1 once arrivals stopped).
    pub(super) fn fraction_done(&self, now: SimTime) -> f64 {
        if !self.open {
            return 1.0;
        }
        let by_time = self
            .deadline
            .map(|d| now.as_ns() as f64 / d.as_ns().max(1) as f64);
        let by_count = self
            .max_requests
            .map(|n| self.arrived as f64 / n.max(1) as f64);
        by_time
            .into_iter()
            .chain(by_count)
            .fold(0.0, f64::max)
            .clamp(0.0, 1.0)
    }
}
