//! Dynamic batching: when a batch starts, and what happens to its requests when it ends.

use super::{Context, DataPlane, QueueOwner};
use crate::event::PlaneEvent;
use crate::executor::{BatchInfo, ExecContext};
use crate::metrics::DropReason;
use crate::serving::sharing::{RegionRef, TokenGrant};
use crate::serving::state::{BatchState, BlockedBatch, InstancePhase};
use crate::serving::transport::TransportKind;
use crate::serving::{Overflow, Routing};
use crate::workload::RequestTokens;

impl DataPlane {
    /// An idle ready instance serving `queue`, if any (the one created first).
    fn idle_server(&self, queue: u32) -> Option<u32> {
        let partition = match self.queue_owner[queue as usize] {
            QueueOwner::Partition(p) if self.routing == Routing::SharedQueue => p,
            // Under join-shortest-queue no instance serves a partition's queue.
            QueueOwner::Partition(_) => return None,
            QueueOwner::Instance(i) => {
                let inst = &self.instances[i as usize];
                // A draining instance finishes its own queue even while held.
                let serves = match inst.phase {
                    InstancePhase::Ready => !inst.held,
                    InstancePhase::Draining => true,
                    _ => false,
                };
                return (!inst.busy && serves).then_some(i);
            }
        };
        self.partitions[partition as usize]
            .instances
            .iter()
            .copied()
            .find(|&i| {
                let inst = &self.instances[i as usize];
                !inst.busy && !inst.held && inst.phase == InstancePhase::Ready
            })
    }

    /// Starts batches from `queue` while an idle instance can take one: a batch starts when it
    /// is full, when its oldest request has waited the batch timeout, or when the instance is
    /// draining; otherwise the queue's timer is armed for the oldest request's deadline.
    ///
    /// Requests leaving the queue make room: producers blocked on it may then hand over.
    pub(super) fn dispatch(&mut self, ctx: &mut Context<'_>, queue: u32) {
        let partition = self.queue_partition(queue);
        self.start_batches(ctx, queue, partition);
        if !self.partitions[partition as usize].blocked.is_empty() {
            self.release_blocked(ctx, partition);
        }
    }

    /// The partition whose requests `queue` holds.
    fn queue_partition(&self, queue: u32) -> u32 {
        match self.queue_owner[queue as usize] {
            QueueOwner::Partition(p) => p,
            QueueOwner::Instance(i) => self.instances[i as usize].partition,
        }
    }

    /// What [`Self::dispatch`] does before it looks at blocked producers (`partition`: the
    /// queue's).
    fn start_batches(&mut self, ctx: &mut Context<'_>, queue: u32, partition: u32) {
        let now = ctx.now();
        let first_stage = self.drop_late && self.partitions[partition as usize].first;
        loop {
            let q = &self.queues[queue as usize];
            let Some(&oldest) = q.requests.front() else {
                return;
            };
            let Some(i) = self.idle_server(queue) else {
                return;
            };
            let r = self.requests.get(oldest);
            if first_stage && now - r.arrived > r.slo {
                // Its objective is lost before it starts: admission control sheds it.
                self.queues[queue as usize].requests.pop_front();
                self.change_load(ctx, partition, -1);
                self.drop_request(ctx, oldest, DropReason::Timeout);
                continue;
            }
            let inst = &self.instances[i as usize];
            let max = inst.config.max_batch as usize;
            let deadline = self.requests.get(oldest).enqueued + inst.config.batch_timeout;
            if q.requests.len() >= max || deadline <= now || inst.phase == InstancePhase::Draining {
                let n = q.requests.len().min(max);
                self.start_batch(ctx, i, queue, n);
            } else {
                let q = &mut self.queues[queue as usize];
                if !q.timer_armed {
                    q.timer_armed = true;
                    q.timer_generation = q.timer_generation.wrapping_add(1);
                    let generation = q.timer_generation;
                    self.schedule(
                        ctx,
                        deadline,
                        PlaneEvent::BatchTimeout { queue, generation },
                    );
                }
                return;
            }
        }
    }

    pub(super) fn on_batch_timeout(&mut self, ctx: &mut Context<'_>, queue: u32, generation: u32) {
        let q = &mut self.queues[queue as usize];
        if q.timer_armed && q.timer_generation == generation {
            q.timer_armed = false;
            self.dispatch(ctx, queue);
        }
    }

    /// The size a batch of `requests` on `partition` runs at: its longest prompt and longest
    /// generation, each request as the partition's stage reads it (`None` where the stage does
    /// not depend on the size).
    fn batch_tokens(&self, partition: u32, requests: &[u32]) -> Option<RequestTokens> {
        let model = self.tokens.as_deref()?;
        let stage = self.partitions[partition as usize].stage;
        if !model.stage_is_sized(stage) {
            return None;
        }
        Some(requests.iter().fold(RequestTokens::default(), |acc, &r| {
            let t = model.clamp(stage, self.requests.get(r).tokens);
            RequestTokens {
                context: acc.context.max(t.context),
                generated: acc.generated.max(t.generated),
            }
        }))
    }

    /// Takes the `n` oldest requests of `queue` into a batch on instance `i` and hands it to
    /// the executor.
    fn start_batch(&mut self, ctx: &mut Context<'_>, i: u32, queue: u32, n: usize) {
        let now = ctx.now();
        let mut requests = self.vec_pool.pop().unwrap_or_default();
        let q = &mut self.queues[queue as usize];
        q.timer_armed = false;
        requests.extend(q.requests.drain(..n));
        let inst = &mut self.instances[i as usize];
        inst.busy = true;
        inst.in_service = n as u32;
        let (partition, accelerator, config, process) =
            (inst.partition, inst.accel, inst.config, inst.process);
        for &r in &requests {
            self.requests.get_mut(r).exec_start = now;
        }
        ctx.recorder.batch(partition as usize, n as u32);
        let tokens = self.batch_tokens(partition, &requests);
        let on_cpu = self.device.accelerators[accelerator as usize].kind
            == crate::hardware::AcceleratorKind::Cpu;
        let cpu_cores = if on_cpu { config.cpu_cores } else { 0 };
        let batch = self.batches.insert(BatchState {
            instance: i,
            requests,
            cpu_cores,
        });
        if cpu_cores > 0 {
            self.cpu_cores_busy += cpu_cores;
            self.record_busy_cores(ctx);
        }
        let info = BatchInfo {
            batch,
            instance: i,
            partition,
            accelerator,
            cpu_cores: config.cpu_cores,
            compute_share: config.compute_share,
            process,
            requests: &self.batches.get(batch).requests,
            tokens,
        };
        let mut exec = ExecContext::new(ctx.events, ctx.engines, ctx.recorder, &mut self.finished);
        ctx.executor.submit(&mut exec, info);
        self.end_finished(ctx);
    }

    /// A batch ended: each request swaps its input tensor for its output tensor and travels
    /// on (or completes after the last partition); the instance takes its next batch or retires.
    pub(super) fn finish_batch(&mut self, ctx: &mut Context<'_>, batch: u32) {
        let now = ctx.now();
        let BatchState {
            instance,
            mut requests,
            cpu_cores,
        } = self.batches.remove(batch);
        if cpu_cores > 0 {
            self.cpu_cores_busy -= cpu_cores;
            self.record_busy_cores(ctx);
        }
        let (partition, accel) = {
            let inst = &mut self.instances[instance as usize];
            inst.busy = false;
            inst.in_service = 0;
            (inst.partition, inst.accel)
        };
        if let Some(&first) = requests.first() {
            let started = self.requests.get(first).exec_start;
            let solo = ctx.executor.solo_ns(batch);
            let t = &mut self.partitions[partition as usize].window_exec[accel as usize];
            t.batches += 1;
            t.requests += requests.len() as u64;
            t.exec_ns += u128::from(now.saturating_since(started).as_ns());
            if let Some(solo) = solo {
                t.solo_ns += u128::from(solo);
                t.solo_batches += 1;
            }
        }
        self.change_load(ctx, partition, -(requests.len() as i64));
        let bytes_per_elem = self.device.accelerators[accel as usize]
            .precision
            .bytes_per_elem();
        let output_bytes = self.partitions[partition as usize].output_elems * bytes_per_elem;
        let next = self.partitions[partition as usize].next;
        let last_partition = next.is_none();
        let zero_copy = self.transport_kind == TransportKind::ZeroCopy;
        // Swap each request's input tensor for its output tensor: a token for a sharing region
        // under zero-copy, a private buffer otherwise. A request whose output finds no memory is
        // dropped.
        let mut kept = self.vec_pool.pop().unwrap_or_default();
        let mut faults = 0u32;
        for &r in &requests {
            let req = self.requests.get_mut(r);
            req.exec_end = now;
            let input = std::mem::take(&mut req.buffer_bytes);
            let region = req.region.take();
            self.release_tensor(input, region);
            let granted = if last_partition {
                Ok(None)
            } else if zero_copy {
                self.sharing
                    .acquire(partition, output_bytes, &mut self.memory)
                    .map(|grant| {
                        Some((
                            grant,
                            Some(RegionRef {
                                edge: partition,
                                bytes: output_bytes,
                            }),
                        ))
                    })
            } else {
                self.memory
                    .allocate(output_bytes)
                    .map(|()| Some((TokenGrant::Reused, None)))
            };
            match granted {
                Ok(None) => kept.push(r),
                Ok(Some((grant, region))) => {
                    faults += u32::from(zero_copy && grant == TokenGrant::Fault);
                    let req = self.requests.get_mut(r);
                    req.buffer_bytes = output_bytes;
                    req.region = region;
                    kept.push(r);
                }
                Err(_) => self.drop_request(ctx, r, DropReason::OutOfMemory),
            }
        }
        requests.clear();
        self.vec_pool.push(requests);
        let mut requests = kept;
        self.record_memory(ctx);
        if last_partition {
            for &r in &requests {
                self.complete(ctx, r);
            }
            requests.clear();
            self.vec_pool.push(requests);
        } else if let Some(next) = next.filter(|_| !requests.is_empty()) {
            let waiting = &self.partitions[next as usize].blocked;
            if self.overflow == Overflow::Block
                && (!waiting.is_empty() || !self.has_room(next, requests.len()))
            {
                // The producer holds its outputs, and stays busy, until the next queue has room.
                let inst = &mut self.instances[instance as usize];
                inst.busy = true;
                inst.in_service = requests.len() as u32;
                self.partitions[next as usize]
                    .blocked
                    .push_back(BlockedBatch {
                        instance,
                        requests,
                        token_fault: faults > 0,
                    });
                return;
            }
            self.start_transfer(ctx, partition, requests, next, faults > 0);
        } else {
            self.vec_pool.push(requests);
        }
        self.after_instance_idle(ctx, instance);
    }

    /// Hands the outputs of producers blocked on `partition` over, oldest first, while its
    /// queues have room for them; each producer then takes its next batch.
    fn release_blocked(&mut self, ctx: &mut Context<'_>, partition: u32) {
        loop {
            let Some(front) = self.partitions[partition as usize].blocked.front() else {
                return;
            };
            if !self.has_room(partition, front.requests.len()) {
                return;
            }
            let Some(BlockedBatch {
                instance,
                requests,
                token_fault,
            }) = self.partitions[partition as usize].blocked.pop_front()
            else {
                return;
            };
            let inst = &mut self.instances[instance as usize];
            inst.busy = false;
            inst.in_service = 0;
            let from = inst.partition;
            self.start_transfer(ctx, from, requests, partition, token_fault);
            self.after_instance_idle(ctx, instance);
        }
    }

    /// An instance has no batch: it retires if it is draining and has nothing left, otherwise
    /// it takes its next batch.
    pub(super) fn after_instance_idle(&mut self, ctx: &mut Context<'_>, instance: u32) {
        let inst = &self.instances[instance as usize];
        let queue = inst.queue;
        let own_queue_empty =
            self.queues[queue as usize].requests.is_empty() || self.routing == Routing::SharedQueue;
        if inst.phase == InstancePhase::Draining && !inst.busy && own_queue_empty {
            self.stop_instance(ctx, instance);
        } else {
            let partition = inst.partition;
            self.dispatch(ctx, queue);
            if self.partitions[partition as usize].retired.is_some() {
                self.finish_if_drained(ctx, partition);
            }
        }
    }
}
