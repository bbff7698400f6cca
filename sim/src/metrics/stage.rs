//! Per-stage (per model partition) sums: queueing, execution, blocking and transfer time, batch
//! sizes.

use serde::{Deserialize, Serialize};

use crate::time::SimDuration;

/// What one pipeline stage did in the measured window.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct StageSummary {
    /// Requests that passed through this stage.
    pub requests: u64,
    /// Batches this stage executed.
    pub batches: u64,
    /// Mean time a request waited in the stage's queue, ms; `None` without requests.
    pub mean_queue_ms: Option<f64>,
    /// Mean execution time of the batch a request rode in, ms; `None` without requests.
    pub mean_exec_ms: Option<f64>,
    /// Mean time a request's output waited for room in the next stage's queue (blocking
    /// overflow), ms; `None` without requests.
    #[serde(default)]
    pub mean_blocked_ms: Option<f64>,
    /// Mean time to hand the request's output to the next stage, ms; `None` without requests.
    pub mean_transfer_ms: Option<f64>,
    /// Mean number of requests per executed batch; `None` without batches.
    pub mean_batch_size: Option<f64>,
}

/// One request's times at one stage.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimes {
    /// Waiting in the stage's queue.
    pub queue: SimDuration,
    /// Executing (its batch's execution time).
    pub exec: SimDuration,
    /// Its output waiting for room in the next stage's queue.
    pub blocked: SimDuration,
    /// Handing its output to the next stage.
    pub transfer: SimDuration,
}

/// Running sums for one stage; constant size whatever the number of requests.
#[derive(Clone, Debug, Default)]
pub struct StageAccumulator {
    requests: u64,
    queue_ns: u128,
    exec_ns: u128,
    blocked_ns: u128,
    transfer_ns: u128,
    batches: u64,
    batch_items: u64,
}

impl StageAccumulator {
    /// Adds one request's times at this stage.
    pub fn request(&mut self, t: StageTimes) {
        self.requests += 1;
        self.queue_ns += u128::from(t.queue.as_ns());
        self.exec_ns += u128::from(t.exec.as_ns());
        self.blocked_ns += u128::from(t.blocked.as_ns());
        self.transfer_ns += u128::from(t.transfer.as_ns());
    }

    /// Adds one executed batch of `size` requests.
    pub fn batch(&mut self, size: u32) {
        self.batches += 1;
        self.batch_items += u64::from(size);
    }

    /// Means over what was added.
    pub fn summary(&self) -> StageSummary {
        let mean_ms =
            |sum_ns: u128| (self.requests > 0).then(|| sum_ns as f64 / self.requests as f64 / 1e6);
        StageSummary {
            requests: self.requests,
            batches: self.batches,
            mean_queue_ms: mean_ms(self.queue_ns),
            mean_exec_ms: mean_ms(self.exec_ns),
            mean_blocked_ms: mean_ms(self.blocked_ns),
            mean_transfer_ms: mean_ms(self.transfer_ns),
            mean_batch_size: (self.batches > 0)
                .then(|| self.batch_items as f64 / self.batches as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_of_requests_and_batches() {
        // Two requests: queue 1 and 3 ms, exec 10 and 10 ms, blocked 0 and 4 ms, transfer 0 and
        // 1 ms; batches of 1 and 4 → means 2, 10, 2, 0.5 ms and 2.5 per batch.
        let mut s = StageAccumulator::default();
        let ms = SimDuration::from_ms;
        let times = |queue, blocked, transfer| StageTimes {
            queue: ms(queue),
            exec: ms(10),
            blocked: ms(blocked),
            transfer: ms(transfer),
        };
        s.request(times(1, 0, 0));
        s.request(times(3, 4, 1));
        s.batch(1);
        s.batch(4);
        let got = s.summary();
        assert_eq!(got.requests, 2);
        assert_eq!(got.batches, 2);
        assert_eq!(got.mean_queue_ms, Some(2.0));
        assert_eq!(got.mean_exec_ms, Some(10.0));
        assert_eq!(got.mean_blocked_ms, Some(2.0));
        assert_eq!(got.mean_transfer_ms, Some(0.5));
        assert_eq!(got.mean_batch_size, Some(2.5));
    }

    #[test]
    fn empty_stage_has_no_means() {
        let got = StageAccumulator::default().summary();
        assert_eq!(got.mean_queue_ms, None);
        assert_eq!(got.mean_batch_size, None);
    }
}
