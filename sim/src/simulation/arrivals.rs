//! The arrival side of a run: when the next request comes, from which stream, and when arrivals
//! stop (at `run.duration` or after `run.max_requests`, counted over every stream).
//!
//! Each stream's process runs ahead by one arrival; the earliest of those is the one scheduled
//! (ties: the stream listed first), so the streams merge in time order and a stream's draws do
//! not depend on the others'.

use crate::engine::EventQueue;
use crate::event::Event;
use crate::scenario::RunSpec;
use crate::time::SimTime;
use crate::workload::arrival::{ArrivalProcess, RequestValues};

/// One stream's process and its next arrival.
#[derive(Debug)]
struct StreamArrivals {
    process: Box<dyn ArrivalProcess>,
    /// Its next arrival and what the process knows of it; `None` once it has ended.
    next: Option<(SimTime, RequestValues)>,
}

impl StreamArrivals {
    fn advance(&mut self) {
        self.next = self
            .process
            .next_arrival()
            .map(|t| (t, self.process.last_request()));
    }
}

/// The arrival processes of a run (one per stream) and its stop rule.
#[derive(Debug)]
pub(super) struct Arrivals {
    streams: Vec<StreamArrivals>,
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
    /// The stream of the scheduled arrival and what its process knows of it (size, objective,
    /// network delay).
    scheduled: Option<(usize, RequestValues)>,
}

impl Arrivals {
    /// Arrivals of `processes` (one per stream, in stream order) under `run`'s stop rule.
    pub(super) fn new(processes: Vec<Box<dyn ArrivalProcess>>, run: &RunSpec) -> Self {
        let streams = processes
            .into_iter()
            .map(|process| {
                let mut stream = StreamArrivals {
                    process,
                    next: None,
                };
                stream.advance();
                stream
            })
            .collect();
        Arrivals {
            streams,
            open: true,
            deadline: run.duration.map(|d| SimTime::ZERO + d.0),
            max_requests: run.max_requests,
            cutoff: SimTime::MAX,
            arrived: 0,
            scheduled: None,
        }
    }

    /// Schedules the next arrival, or closes arrivals (the cutoff is the deadline, or now).
    pub(super) fn schedule_next(&mut self, events: &mut EventQueue<Event>) {
        let now = events.now();
        let more = self.max_requests.is_none_or(|m| self.arrived < m);
        // The earliest next arrival; ties go to the stream listed first.
        let next = self
            .streams
            .iter()
            .enumerate()
            .filter_map(|(s, stream)| stream.next.map(|(t, _)| (t, s)))
            .min()
            .filter(|_| more);
        match next {
            Some((t, s)) if self.deadline.is_none_or(|d| t < d) => {
                let (_, values) = self.streams[s].next.expect("it has a next arrival");
                self.streams[s].advance();
                self.scheduled = Some((s, values));
                events.schedule(t.max(now), Event::Arrival);
            }
            _ => {
                self.open = false;
                self.cutoff = self.deadline.unwrap_or(now);
            }
        }
    }

    /// Counts an arrival and returns its stream and what its process knows of it.
    pub(super) fn arrived(&mut self) -> (usize, RequestValues) {
        self.arrived += 1;
        self.scheduled
            .take()
            .expect("an arrival event comes only for a scheduled arrival")
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
