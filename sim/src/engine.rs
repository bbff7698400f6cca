//! The event queue: events ordered by `(time, sequence number)`.
//!
//! Ties in time break by insertion order, so a run is a pure function of its scenario and seed.
//! The queue is generic over the event payload; the simulation defines what an event means.
//!
//! Besides the heap the queue has one *replaceable* event ([`EventQueue::replace_single`]): an
//! event that is superseded whenever it is scheduled again, such as the next completion of the
//! fluid model, which moves on every change of the running set. Replacing it drops the old one
//! instead of leaving it in the heap to be popped and ignored; it takes its sequence number from
//! the same counter, so it orders among the other events exactly as if it had been pushed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::time::SimTime;

/// A scheduled event: its time, its insertion sequence number and its payload.
#[derive(Debug)]
struct Scheduled<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Scheduled<E> {}
impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Scheduled<E> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest `(time, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A priority queue of future events and the current simulated time.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Scheduled<E>>,
    /// The replaceable event, if one is scheduled.
    single: Option<Scheduled<E>>,
    next_seq: u64,
    now: SimTime,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            single: None,
            next_seq: 0,
            now: SimTime::ZERO,
            popped: 0,
        }
    }

    /// The time of the event last popped (the current simulated time).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `time`. Scheduling in the past is a logic error: in debug builds it
    /// panics, in release builds the event is clamped to now.
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let scheduled = self.stamp(time, event);
        self.heap.push(scheduled);
    }

    /// `event` at `time` with the next sequence number. Scheduling in the past is a logic
    /// error: in debug builds it panics, in release builds the event is clamped to now.
    fn stamp(&mut self, time: SimTime, event: E) -> Scheduled<E> {
        debug_assert!(
            time >= self.now,
            "event scheduled in the past: {time} < {}",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        Scheduled {
            time: time.max(self.now),
            seq,
            event,
        }
    }

    /// Schedules `event` at `time` as the queue's replaceable event, dropping the one scheduled
    /// before (if any); `None` only drops it. It is ordered like an event pushed now.
    pub fn replace_single(&mut self, scheduled: Option<(SimTime, E)>) {
        self.single = scheduled.map(|(time, event)| self.stamp(time, event));
    }

    /// Removes the earliest event and advances the clock to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let single_first = match (&self.single, self.heap.peek()) {
            (Some(single), Some(top)) => single > top,
            (single, _) => single.is_some(),
        };
        let s = if single_first {
            self.single.take()?
        } else {
            self.heap.pop()?
        };
        self.now = s.time;
        self.popped += 1;
        Some((s.time, s.event))
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        let top = self.heap.peek().map(|s| s.time);
        match (top, self.single.as_ref().map(|s| s.time)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + usize::from(self.single.is_some())
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.single.is_none()
    }

    /// Number of events popped so far (a cost measure for benchmarks).
    pub fn events_processed(&self) -> u64 {
        self.popped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(5), 'b');
        q.schedule(SimTime(1), 'a');
        q.schedule(SimTime(5), 'c');
        q.schedule(SimTime(5), 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['a', 'b', 'c', 'd']);
        assert_eq!(q.now(), SimTime(5));
    }

    #[test]
    fn the_replaceable_event_orders_as_if_pushed_when_last_replaced() {
        let mut q = EventQueue::new();
        q.replace_single(Some((SimTime(5), 'x'))); // superseded below
        q.schedule(SimTime(5), 'a');
        q.replace_single(Some((SimTime(5), 's'))); // after 'a' at the same time
        q.schedule(SimTime(5), 'b');
        q.schedule(SimTime(3), 'c');
        assert_eq!(q.len(), 4);
        assert_eq!(q.peek_time(), Some(SimTime(3)));
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['c', 'a', 's', 'b']);
        q.replace_single(Some((SimTime(9), 'y')));
        q.replace_single(None);
        assert!(q.is_empty());
        assert_eq!(q.events_processed(), 4);
    }

    proptest! {
        /// Popped events come out sorted by (time, insertion order), whatever the insertion order.
        #[test]
        fn pops_are_sorted_by_time_then_sequence(times in proptest::collection::vec(0u64..50, 0..200)) {
            let mut q = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                q.schedule(SimTime(*t), i);
            }
            let mut last: Option<(SimTime, usize)> = None;
            while let Some((t, i)) = q.pop() {
                if let Some((lt, li)) = last {
                    prop_assert!(t > lt || (t == lt && i > li));
                }
                last = Some((t, i));
            }
            prop_assert_eq!(q.events_processed(), times.len() as u64);
        }
    }
}
