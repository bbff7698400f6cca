//! Dynamic batching and execution: batches run their plan segment by segment on the engines.

use super::*;

impl Simulation {
    /// An idle ready instance serving `queue`, if any (the one created first).
    pub(super) fn idle_server(&self, queue: u32) -> Option<u32> {
        let partition = match self.routing {
            Routing::SharedQueue => queue as usize,
            Routing::JoinShortestQueue => {
                // An instance's own queue, or a partition queue (which no instance serves).
                return self
                    .instances
                    .get(queue.checked_sub(self.partitions.len() as u32)? as usize)
                    .filter(|inst| {
                        !inst.busy
                            && matches!(inst.phase, InstancePhase::Ready | InstancePhase::Draining)
                    })
                    .map(|_| queue - self.partitions.len() as u32);
            }
        };
        self.partitions[partition]
            .instances
            .iter()
            .copied()
            .find(|&i| {
                let inst = &self.instances[i as usize];
                !inst.busy && inst.phase == InstancePhase::Ready
            })
    }

    /// Starts batches from `queue` while an idle instance can take one: a batch starts when it
    /// is full, when its oldest request has waited the batch timeout, or when the instance is
    /// draining; otherwise the queue's timer is armed for the oldest request's deadline.
    pub(super) fn dispatch(&mut self, queue: u32) {
        let now = self.now();
        loop {
            let q = &self.queues[queue as usize];
            let Some(&oldest) = q.requests.front() else {
                return;
            };
            let Some(i) = self.idle_server(queue) else {
                return;
            };
            let inst = &self.instances[i as usize];
            let max = inst.config.max_batch as usize;
            let deadline = self.requests.get(oldest).enqueued + inst.config.batch_timeout;
            if q.requests.len() >= max || deadline <= now || inst.phase == InstancePhase::Draining {
                let n = q.requests.len().min(max);
                self.start_batch(i, queue, n);
            } else {
                let q = &mut self.queues[queue as usize];
                if !q.timer_armed {
                    q.timer_armed = true;
                    q.timer_generation = q.timer_generation.wrapping_add(1);
                    let generation = q.timer_generation;
                    self.events
                        .schedule(deadline, Event::BatchTimeout { queue, generation });
                }
                return;
            }
        }
    }

    pub(super) fn on_batch_timeout(&mut self, queue: u32, generation: u32) {
        let q = &mut self.queues[queue as usize];
        if q.timer_armed && q.timer_generation == generation {
            q.timer_armed = false;
            self.dispatch(queue);
        }
    }

    pub(super) fn start_batch(&mut self, i: u32, queue: u32, n: usize) {
        let now = self.now();
        let mut requests = self.vec_pool.pop().unwrap_or_default();
        let q = &mut self.queues[queue as usize];
        q.timer_armed = false;
        requests.extend(q.requests.drain(..n));
        let inst = &mut self.instances[i as usize];
        inst.busy = true;
        inst.in_service = n as u32;
        let (partition, accel, cores) = (inst.partition, inst.accel, inst.config.cpu_cores);
        for &r in &requests {
            self.requests.get_mut(r).exec_start = now;
        }
        self.recorder.batch(partition as usize, n as u32);
        let plan = self.plan_for(partition, accel, cores, n as u32);
        let factor = self.draw_service_factor();
        let batch = self.batches.insert(BatchState {
            instance: i,
            requests,
            plan,
            segment: 0,
            factor,
        });
        if self.live.is_some() {
            self.submit_live(batch);
        } else {
            self.start_segment(batch);
        }
    }

    /// The execution plan of `partition` on `accel` at `batch`, computed once and cached.
    pub(super) fn plan_for(&mut self, partition: u32, accel: u32, cores: u32, batch: u32) -> u32 {
        let key = (partition, accel, cores, batch);
        if let Some(&idx) = self.plan_index.get(&key) {
            return idx;
        }
        let p = &self.partitions[partition as usize];
        let ops = &self.scenario.models[p.stage].operators[p.ops.clone()];
        let plan = cost::plan(
            ops,
            batch,
            accel as usize,
            cores,
            &self.scenario.device,
            self.scenario.measured.as_deref(),
        );
        let idx = self.plans.len() as u32;
        self.plans.push(plan);
        self.plan_index.insert(key, idx);
        idx
    }

    /// A service-time factor with mean 1 (exactly 1 for deterministic service).
    pub(super) fn draw_service_factor(&mut self) -> f64 {
        match self.service_time {
            ServiceTime::Deterministic => 1.0,
            ServiceTime::Exponential => Exp1.sample(&mut self.service_rng),
            ServiceTime::Lognormal { cv } => {
                // mean 1: σ² = ln(1 + cv²), μ = −σ²/2.
                let sigma2 = (1.0 + cv * cv).ln();
                let z: f64 = StandardNormal.sample(&mut self.service_rng);
                (-sigma2 / 2.0 + sigma2.sqrt() * z).exp()
            }
        }
    }

    pub(super) fn start_segment(&mut self, batch: u32) {
        let b = self.batches.get(batch);
        let accel = self.plans[b.plan as usize].segments[b.segment].accel;
        let slot = &mut self.slots[accel];
        if slot.max_concurrent.is_some_and(|m| slot.running >= m) {
            slot.waiting.push_back(batch);
            return;
        }
        slot.running += 1;
        let units = self.segment_units(batch);
        self.occupy(accel, units);
        self.begin_segment_work(batch);
    }

    /// Capacity units a batch's current segment holds on its engine: the instance's cores on the
    /// CPU, one activity elsewhere.
    pub(super) fn segment_units(&self, batch: u32) -> f64 {
        let b = self.batches.get(batch);
        let accel = self.plans[b.plan as usize].segments[b.segment].accel;
        if self.scenario.device.accelerators[accel].kind == AcceleratorKind::Cpu {
            f64::from(self.instances[b.instance as usize].config.cpu_cores)
        } else {
            1.0
        }
    }

    /// Changes the work held on `accel` by `units` and records its busy level: the fraction of
    /// its cores in use on the CPU, whether anything runs on it elsewhere.
    pub(super) fn occupy(&mut self, accel: usize, units: f64) {
        let slot = &mut self.slots[accel];
        slot.busy_units = (slot.busy_units + units).max(0.0);
        let busy_units = slot.busy_units;
        let level = if self.scenario.device.accelerators[accel].kind == AcceleratorKind::Cpu {
            busy_units / self.compute_capacity[accel]
        } else {
            busy_units
        };
        let now = self.now();
        self.slots[accel].busy.set(now, level.min(1.0));
        self.recorder.busy(now, accel, level.min(1.0));
    }

    pub(super) fn begin_segment_work(&mut self, batch: u32) {
        let b = self.batches.get(batch);
        let seg = self.plans[b.plan as usize].segments[b.segment];
        let factor = b.factor;
        if seg.work_ns == 0 {
            self.segment_work_done(batch);
            return;
        }
        let now = self.now();
        let work = seg.work_ns as f64 * factor;
        let bw = seg.mem_bytes as f64 / seg.work_ns as f64;
        let mut consumption = [
            (seg.accel, seg.compute_demand),
            (self.bandwidth_resource, bw),
            (usize::MAX, 0.0),
        ];
        let n = match self.port_resource[seg.accel] {
            Some(port) => {
                consumption[2] = (port, bw);
                3
            }
            None => 2,
        };
        // A per-instance compute cap on its own engine bounds the activity's rate: at rate x it
        // uses x · compute_demand of the engine, so x ≤ share / compute_demand.
        let inst = &self.instances[b.instance as usize];
        let share = inst.config.compute_share;
        let bound = if inst.accel as usize == seg.accel && share < 1.0 && seg.compute_demand > 0.0 {
            (share / seg.compute_demand).min(1.0)
        } else {
            1.0
        };
        let id = self.fluid.start(now, work, bound, &consumption[..n]);
        self.owners.insert(id, ActivityOwner::Batch(batch));
        self.fluid_dirty = true;
    }

    pub(super) fn segment_work_done(&mut self, batch: u32) {
        let b = self.batches.get(batch);
        let fixed = (self.plans[b.plan as usize].segments[b.segment].fixed_ns as f64 * b.factor)
            .round() as u64;
        if fixed > 0 {
            let at = self.now() + SimDuration::from_ns(fixed);
            self.events.schedule(at, Event::SegmentFixedDone { batch });
        } else {
            self.end_segment(batch);
        }
    }

    pub(super) fn end_segment(&mut self, batch: u32) {
        let (accel, last) = {
            let b = self.batches.get(batch);
            let plan = &self.plans[b.plan as usize];
            (
                plan.segments[b.segment].accel,
                b.segment + 1 == plan.segments.len(),
            )
        };
        let units = self.segment_units(batch);
        self.occupy(accel, -units);
        let slot = &mut self.slots[accel];
        slot.running -= 1;
        if let Some(next) = slot.waiting.pop_front() {
            slot.running += 1;
            let units = self.segment_units(next);
            self.occupy(accel, units);
            self.begin_segment_work(next);
        }
        if last {
            self.finish_batch(batch);
        } else {
            self.batches.get_mut(batch).segment += 1;
            self.start_segment(batch);
        }
    }

    pub(super) fn finish_batch(&mut self, batch: u32) {
        let now = self.now();
        let BatchState {
            instance,
            mut requests,
            ..
        } = self.batches.remove(batch);
        let (partition, accel) = {
            let inst = &mut self.instances[instance as usize];
            inst.busy = false;
            inst.in_service = 0;
            (inst.partition, inst.accel)
        };
        self.change_load(partition, -(requests.len() as i64));
        let bytes_per_elem = self.scenario.device.accelerators[accel as usize]
            .precision
            .bytes_per_elem();
        let output_bytes = self.partitions[partition as usize].output_elems * bytes_per_elem;
        let last_partition = partition as usize + 1 == self.partitions.len();
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
                Err(_) => self.drop_request(r, DropReason::OutOfMemory),
            }
        }
        requests.clear();
        self.vec_pool.push(requests);
        let mut requests = kept;
        self.recorder.memory(now, self.memory.used_bytes());
        if last_partition {
            for &r in &requests {
                self.complete(r);
            }
            requests.clear();
            self.vec_pool.push(requests);
        } else if !requests.is_empty() {
            self.start_transfer(requests, partition + 1, faults > 0);
        } else {
            self.vec_pool.push(requests);
        }
        self.after_instance_idle(instance);
    }

    pub(super) fn after_instance_idle(&mut self, instance: u32) {
        let inst = &self.instances[instance as usize];
        let queue = inst.queue;
        let own_queue_empty =
            self.queues[queue as usize].requests.is_empty() || self.routing == Routing::SharedQueue;
        if inst.phase == InstancePhase::Draining && !inst.busy && own_queue_empty {
            self.stop_instance(instance);
        } else {
            self.dispatch(queue);
        }
    }

    pub(super) fn complete(&mut self, id: u32) {
        let now = self.now();
        let r = self.requests.remove(id);
        self.live_release(id);
        self.release_tensor(r.buffer_bytes, r.region);
        let stage = r.partition as usize;
        self.recorder.stage(
            stage,
            r.exec_start - r.enqueued,
            r.exec_end - r.exec_start,
            SimDuration::ZERO,
        );
        self.recorder.completion(now, r.arrived);
        self.window_latency.record((now - r.arrived).as_ns());
        self.window.completed += 1;
        if now - r.arrived <= self.scenario.slo {
            self.window.within_slo += 1;
        }
        self.in_flight -= 1;
    }
}
