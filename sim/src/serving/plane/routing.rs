//! Admission of arrivals, routing of requests to queues, drops and completions.

use super::{Context, DataPlane};
use crate::metrics::DropReason;
use crate::serving::Routing;
use crate::serving::sharing::RegionRef;
use crate::serving::state::RequestState;
use crate::time::SimDuration;

impl DataPlane {
    /// A request arrives: its input tensor is allocated and it is routed to the first
    /// partition, or it is dropped if its input finds no memory.
    pub fn admit(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        self.window.arrivals += 1;
        if self.memory.allocate(self.input_bytes).is_ok() {
            self.record_memory(ctx);
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
            self.route(ctx, id, 0);
        } else {
            ctx.recorder.drop(now, DropReason::OutOfMemory);
            self.window.dropped += 1;
        }
    }

    /// Sends request `id` to `partition`: to its shared queue, or under join-shortest-queue to
    /// the accepting instance with the fewest requests (ties: the instance created first).
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
        if !has_server && !self.wait_for_instances {
            self.drop_request(ctx, id, DropReason::NoInstance);
        } else if self.queues[queue as usize].requests.len() >= self.queue_capacity {
            self.drop_request(ctx, id, DropReason::QueueFull);
        } else {
            self.queues[queue as usize].requests.push_back(id);
            self.partitions[partition as usize].window_arrivals += 1;
            self.change_load(ctx, partition, 1);
            self.dispatch(ctx, queue);
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
            r.exec_start - r.enqueued,
            r.exec_end - r.exec_start,
            SimDuration::ZERO,
        );
        ctx.recorder.completion(now, r.arrived);
        self.window_latency.record((now - r.arrived).as_ns());
        self.window.completed += 1;
        if now - r.arrived <= self.slo {
            self.window.within_slo += 1;
        }
        self.in_flight -= 1;
    }
}
