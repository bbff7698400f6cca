//! Arrivals, routing of requests to queues, drops and completions.

use super::*;

impl Simulation {
    pub(super) fn schedule_next_arrival(&mut self) {
        let more = self.max_requests.is_none_or(|m| self.arrived < m);
        let next = if more {
            self.arrivals.next_arrival()
        } else {
            None
        };
        match next {
            Some(t) if self.arrival_deadline.is_none_or(|d| t < d) => {
                self.events.schedule(t.max(self.now()), Event::Arrival);
            }
            _ => {
                self.arrivals_open = false;
                self.cutoff = self.arrival_deadline.unwrap_or(self.now());
            }
        }
    }

    pub(super) fn on_arrival(&mut self) {
        let now = self.now();
        self.arrived += 1;
        self.window.arrivals += 1;
        self.recorder.arrival(now);
        if self.memory.allocate(self.input_bytes).is_ok() {
            self.recorder.memory(now, self.memory.used_bytes());
            let id = self.requests.insert(RequestState {
                arrived: now,
                partition: 0,
                buffer_bytes: self.input_bytes,
                region: None,
                enqueued: now,
                exec_start: now,
                exec_end: now,
            });
            self.in_flight += 1;
            self.route(id, 0);
        } else {
            self.recorder.drop(now, DropReason::OutOfMemory);
            self.window.dropped += 1;
        }
        self.schedule_next_arrival();
    }

    /// Sends request `id` to `partition`: to its shared queue, or under join-shortest-queue to
    /// the accepting instance with the fewest requests (ties: the instance created first).
    pub(super) fn route(&mut self, id: u32, partition: u32) {
        let now = self.now();
        {
            let r = self.requests.get_mut(id);
            r.partition = partition;
            r.enqueued = now;
        }
        let p = &self.partitions[partition as usize];
        let queue = match self.routing {
            Routing::SharedQueue => p.queue,
            Routing::JoinShortestQueue => p
                .instances
                .iter()
                .map(|&i| &self.instances[i as usize])
                .filter(|inst| inst.accepts())
                .min_by_key(|inst| {
                    self.queues[inst.queue as usize].requests.len() + inst.in_service as usize
                })
                .map_or(p.queue, |inst| inst.queue),
        };
        let has_server = p
            .instances
            .iter()
            .any(|&i| self.instances[i as usize].accepts());
        if !has_server && !self.policy_ticks {
            self.drop_request(id, DropReason::NoInstance);
        } else if self.queues[queue as usize].requests.len()
            >= self.scenario.scenario.serving.queue_capacity
        {
            self.drop_request(id, DropReason::QueueFull);
        } else {
            self.queues[queue as usize].requests.push_back(id);
            self.partitions[partition as usize].window_arrivals += 1;
            self.change_load(partition, 1);
            self.dispatch(queue);
        }
    }

    /// Lets go of a request's tensor: a sharing region goes back to its pool, a private buffer
    /// back to unified memory.
    pub(super) fn release_tensor(&mut self, buffer_bytes: u64, region: Option<RegionRef>) {
        match region {
            Some(region) => self.sharing.release(region),
            None => self.memory.release(buffer_bytes),
        }
    }

    /// Changes the number of requests at `partition` (queued or in service) by `delta`.
    pub(super) fn change_load(&mut self, partition: u32, delta: i64) {
        let now = self.now();
        let load = &mut self.partitions[partition as usize].load;
        let level = (load.level() + delta as f64).max(0.0);
        load.set(now, level);
    }

    pub(super) fn drop_request(&mut self, id: u32, reason: DropReason) {
        let now = self.now();
        let r = self.requests.remove(id);
        self.live_release(id);
        self.release_tensor(r.buffer_bytes, r.region);
        self.recorder.memory(now, self.memory.used_bytes());
        self.recorder.drop(now, reason);
        self.window.dropped += 1;
        self.in_flight -= 1;
    }
}
