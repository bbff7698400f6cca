//! Admission of arrivals, routing of requests to queues, drops and completions.

use super::{Context, DataPlane};
use crate::metrics::{DropReason, StageTimes, StreamEvent};
use crate::serving::sharing::RegionRef;
use crate::serving::state::RequestState;
use crate::serving::{Overflow, QueueOrder, Routing};
use crate::time::SimDuration;
use crate::workload::RequestTokens;

impl DataPlane {
    /// A request of `tokens` with objective `slo` arrives: its input tensor is allocated and it
    /// is routed to the first partition, or it is dropped if its input finds no memory.
    pub fn admit(
        &mut self,
        ctx: &mut Context<'_>,
        stream: usize,
        tokens: RequestTokens,
        slo: SimDuration,
    ) {
        let now = ctx.now();
        let input_bytes = self.input_bytes(stream);
        self.window.arrivals += 1;
        self.window.stream_arrivals[stream] += 1;
        let budget = slo.as_ns();
        self.window.min_budget_ns =
            Some(self.window.min_budget_ns.map_or(budget, |b| b.min(budget)));
        if self.memory.allocate(input_bytes).is_ok() {
            self.record_memory(ctx);
            let entry = self.next_route_entry(stream, ctx.recorder.is_measuring());
            let id = self.requests.insert(RequestState {
                arrived: now,
                slo,
                tokens,
                partition: entry,
                buffer_bytes: input_bytes,
                region: None,
                enqueued: now,
                exec_start: now,
                exec_end: now,
                handed_off: now,
            });
            self.in_flight += 1;
            self.route(ctx, id, entry);
        } else {
            ctx.recorder.drop(now, DropReason::OutOfMemory);
            ctx.recorder.stream_outcome(stream, StreamEvent::Drop);
            if ctx.recorder.is_measuring() {
                self.tally_stream_drop(stream);
            }
            self.window.dropped += 1;
        }
    }

    /// Sends request `id` to `partition`: to its shared queue, or under join-shortest-queue to
    /// the accepting instance with the fewest requests (ties: the instance created first).
    /// A full queue drops the request at the first partition (admission); between partitions
    /// only under `drop` overflow — under `block` its room was taken before it was handed over
    /// ([`Self::has_room`]), and should the partition have lost instances meanwhile it joins
    /// the queue above its bound rather than being lost.
    pub(super) fn route(&mut self, ctx: &mut Context<'_>, id: u32, partition: u32) {
        let now = ctx.now();
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
        if !has_server && !self.waits_for_instances(partition) {
            self.drop_request(ctx, id, DropReason::NoInstance);
        } else if self.queues[queue as usize].requests.len() >= self.queue_limit(partition)
            && (p.first || self.overflow == Overflow::Drop)
        {
            self.drop_request(ctx, id, DropReason::QueueFull);
        } else {
            self.enqueue(queue, id);
            self.partitions[partition as usize].window_arrivals += 1;
            self.change_load(ctx, partition, 1);
            self.dispatch(ctx, queue);
        }
    }

    /// Puts request `id` in `queue`: last, or under EDF after every request whose deadline
    /// (arrival plus objective to go) is no later than its own.
    fn enqueue(&mut self, queue: u32, id: u32) {
        let requests = &self.requests;
        let q = &mut self.queues[queue as usize].requests;
        match self.queue_order {
            QueueOrder::Fifo => q.push_back(id),
            QueueOrder::Edf => {
                let deadline = |r: u32| {
                    let r = requests.get(r);
                    r.arrived + r.slo
                };
                let d = deadline(id);
                let at = q.partition_point(|&other| deadline(other) <= d);
                q.insert(at, id);
            }
        }
    }

    /// Whether requests at `partition` wait for an instance to appear when it has none (the
    /// policy acts after deploying) rather than being dropped. Not at a retired partition: it
    /// gets no new instances, so waiting would be for ever.
    fn waits_for_instances(&self, partition: u32) -> bool {
        self.wait_for_instances && self.partitions[partition as usize].retired.is_none()
    }

    /// Longest queue of `partition`: the admission limit at the first, the queue capacity after.
    fn queue_limit(&self, partition: u32) -> usize {
        if self.partitions[partition as usize].first {
            self.first_queue_limit
        } else {
            self.queue_capacity
        }
    }

    /// Whether `partition`'s queues have room for `n` more requests besides those travelling to
    /// it (always, when it has nothing queued or inbound: a batch larger than a queue still
    /// moves; and when requests there would be dropped for want of an instance anyway).
    pub(super) fn has_room(&self, partition: u32, n: usize) -> bool {
        let p = &self.partitions[partition as usize];
        let limit = self.queue_limit(partition);
        let shared_len = self.queues[p.queue as usize].requests.len();
        let (mut free, mut queued, mut accepting) = (0usize, 0usize, false);
        if self.routing == Routing::JoinShortestQueue {
            for &i in &p.instances {
                let inst = &self.instances[i as usize];
                if inst.accepts() {
                    accepting = true;
                    let len = self.queues[inst.queue as usize].requests.len();
                    free += limit.saturating_sub(len);
                    queued += len;
                }
            }
        } else {
            accepting = p
                .instances
                .iter()
                .any(|&i| self.instances[i as usize].accepts());
        }
        if !accepting && !self.waits_for_instances(partition) {
            return true;
        }
        if self.routing == Routing::SharedQueue || !accepting {
            free = limit.saturating_sub(shared_len);
        }
        queued += shared_len;
        let inbound = p.inbound as usize;
        free >= inbound + n || queued + inbound == 0
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
    pub(super) fn change_load(&mut self, ctx: &Context<'_>, partition: u32, delta: i64) {
        let now = ctx.now();
        let load = &mut self.partitions[partition as usize].load;
        let level = (load.level() + delta as f64).max(0.0);
        load.set(now, level);
    }

    pub(super) fn drop_request(&mut self, ctx: &mut Context<'_>, id: u32, reason: DropReason) {
        let now = ctx.now();
        let r = self.requests.remove(id);
        ctx.executor.release(id);
        self.release_tensor(r.buffer_bytes, r.region);
        self.record_memory(ctx);
        ctx.recorder.drop(now, reason);
        let stream = self.stream_of(r.partition);
        ctx.recorder.stream_outcome(stream, StreamEvent::Drop);
        if ctx.recorder.is_measuring() {
            self.tally_drop(r.partition);
        }
        self.window.dropped += 1;
        self.in_flight -= 1;
    }

    /// A request left its last partition.
    pub(super) fn complete(&mut self, ctx: &mut Context<'_>, id: u32) {
        let now = ctx.now();
        let r = self.requests.remove(id);
        ctx.executor.release(id);
        self.release_tensor(r.buffer_bytes, r.region);
        let stage = r.partition as usize;
        ctx.recorder.stage(
            stage,
            StageTimes {
                queue: r.exec_start - r.enqueued,
                exec: r.exec_end - r.exec_start,
                ..StageTimes::default()
            },
        );
        ctx.recorder.completion(now, r.arrived, r.slo);
        self.window_latency.record((now - r.arrived).as_ns());
        self.window.completed += 1;
        let on_time = now - r.arrived <= r.slo;
        if on_time {
            self.window.within_slo += 1;
        }
        let stream = self.stream_of(r.partition);
        ctx.recorder.stream_outcome(
            stream,
            StreamEvent::Completion {
                on_time,
                latency_ns: (now - r.arrived).as_ns(),
            },
        );
        if ctx.recorder.is_measuring() {
            self.tally_completion(r.partition, (now - r.arrived).as_ns(), on_time);
        }
        self.in_flight -= 1;
    }
}
