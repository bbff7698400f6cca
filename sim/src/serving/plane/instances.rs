//! Instances: creation (with cold start), readiness, scale-in and retirement.

use super::{Context, DataPlane, QueueOwner, Resize};
use crate::event::PlaneEvent;
use crate::executor::InstanceInfo;
use crate::model::cost::{self, Footprint};
use crate::serving::state::{InstancePhase, InstanceState, RequestQueue};
use crate::serving::{InstanceConfig, Routing};
use crate::time::SimDuration;

/// How a new instance starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Start {
    /// Ready at once.
    Warm,
    /// Cold: accepts requests into its queue, serves them once its weights are loaded from
    /// storage and it is initialised.
    Cold,
    /// For a pending layout: takes requests only once the layout switches, built after this
    /// delay (its reconfiguration cost).
    Pending(SimDuration),
}

impl DataPlane {
    /// The memory an instance of `partition` on `accelerator` at `max_batch` takes (computed
    /// once per combination).
    pub(super) fn footprint(
        &mut self,
        partition: usize,
        accelerator: usize,
        max_batch: u32,
    ) -> Footprint {
        let p = &mut self.partitions[partition];
        let key = (accelerator as u32, max_batch);
        if let Some(&(_, _, f)) = p.footprints.iter().find(|(a, b, _)| (*a, *b) == key) {
            return f;
        }
        let f = cost::footprint(
            &p.operators,
            max_batch,
            accelerator,
            cost::Target::new(&self.device, &p.runtime),
        );
        p.footprints.push((key.0, key.1, f));
        f
    }

    /// Creates an instance of `partition` on `accelerator` if its footprint fits in memory,
    /// cold (loading its weights from storage, then initialising) or ready at once; returns its
    /// id, or `None` when it did not fit (counted as refused).
    pub fn create_instance(
        &mut self,
        ctx: &mut Context<'_>,
        partition: usize,
        accelerator: usize,
        config: InstanceConfig,
        cold: bool,
    ) -> Option<u32> {
        let start = if cold { Start::Cold } else { Start::Warm };
        self.add_instance(ctx, partition, accelerator, config, start)
    }

    /// Creates an instance that starts as `start` says, if its footprint fits in memory.
    pub(super) fn add_instance(
        &mut self,
        ctx: &mut Context<'_>,
        partition: usize,
        accelerator: usize,
        config: InstanceConfig,
        start: Start,
    ) -> Option<u32> {
        let now = ctx.now();
        let footprint = self.footprint(partition, accelerator, config.max_batch);
        let added = self.processes.admission(partition, accelerator, &footprint);
        if self.memory.allocate(added.total()).is_err() {
            self.refused_instances += 1;
            return None;
        }
        let process = self.processes.join(partition, accelerator);
        self.book_added(accelerator, &added);
        self.record_memory(ctx);
        let index = self.instances.len() as u32;
        let queue = match self.routing {
            Routing::SharedQueue => self.partitions[partition].queue,
            Routing::JoinShortestQueue => {
                self.queues.push(RequestQueue::default());
                self.queue_owner.push(QueueOwner::Instance(index));
                (self.queues.len() - 1) as u32
            }
        };
        self.instances.push(InstanceState {
            partition: partition as u32,
            accel: accelerator as u32,
            config,
            phase: match start {
                Start::Warm => InstancePhase::Ready,
                Start::Cold => InstancePhase::Starting,
                Start::Pending(delay) => InstancePhase::Pending {
                    built: delay == SimDuration::ZERO,
                },
            },
            queue,
            busy: false,
            held: false,
            footprint,
            process,
            in_service: 0,
        });
        self.partitions[partition].instances.push(index);
        self.record_cores(ctx);
        ctx.executor.instance_created(InstanceInfo {
            instance: index,
            partition,
            accelerator,
            cpu_cores: config.cpu_cores,
            process,
        });
        match start {
            Start::Cold => {
                let load_s = footprint.weights as f64 / self.device.storage.read_bytes_per_s;
                let delay = SimDuration::from_secs_f64(load_s) + self.cold_start_init;
                self.schedule(
                    ctx,
                    now + delay,
                    PlaneEvent::InstanceReady { instance: index },
                );
            }
            Start::Pending(delay) => {
                if delay > SimDuration::ZERO {
                    self.schedule(
                        ctx,
                        now + delay,
                        PlaneEvent::InstanceReady { instance: index },
                    );
                }
                // It takes requests only once its layout switches.
                return Some(index);
            }
            Start::Warm => {}
        }
        match self.routing {
            Routing::SharedQueue => self.dispatch(ctx, queue),
            Routing::JoinShortestQueue => {
                // Requests that waited for any instance of this partition now have one.
                let pq = self.partitions[partition].queue as usize;
                let pending: Vec<u32> = self.queues[pq].requests.drain(..).collect();
                for r in pending {
                    self.route(ctx, r, partition as u32);
                }
            }
        }
        Some(index)
    }

    pub(super) fn on_instance_ready(&mut self, ctx: &mut Context<'_>, instance: u32) {
        let inst = &mut self.instances[instance as usize];
        match inst.phase {
            InstancePhase::Starting => {
                inst.phase = InstancePhase::Ready;
                let queue = inst.queue;
                self.dispatch(ctx, queue);
            }
            InstancePhase::Pending { built: false } => {
                inst.phase = InstancePhase::Pending { built: true };
                self.switch_if_built(ctx);
            }
            _ => {}
        }
    }

    /// Retires the youngest accepting instance of `partition` on `accelerator`: it takes no
    /// new requests, finishes its queue and then frees its memory. Returns whether there was one.
    pub fn scale_in(
        &mut self,
        ctx: &mut Context<'_>,
        partition: usize,
        accelerator: usize,
    ) -> bool {
        let Some(p) = self.partitions.get(partition) else {
            return false;
        };
        let victim = p.instances.iter().rev().copied().find(|&i| {
            let inst = &self.instances[i as usize];
            inst.accepts() && inst.accel as usize == accelerator
        });
        let Some(i) = victim else {
            return false;
        };
        self.instances[i as usize].phase = InstancePhase::Draining;
        self.after_instance_idle(ctx, i);
        true
    }

    /// Resizes the accepting instances of `partition` on `accelerator` in place: each runs its
    /// next batch with what `to` gives (see
    /// [`crate::policy::Action::Resize`]). Returns how many were resized (0: none there, or the
    /// executor cannot follow).
    pub fn resize(
        &mut self,
        ctx: &mut Context<'_>,
        partition: usize,
        accelerator: usize,
        to: Resize,
    ) -> u32 {
        let Some(p) = self.partitions.get(partition) else {
            return 0;
        };
        let targets: Vec<u32> = p
            .instances
            .iter()
            .copied()
            .filter(|&i| {
                let inst = &self.instances[i as usize];
                inst.accepts() && inst.accel as usize == accelerator
            })
            .collect();
        for &i in &targets {
            let inst = &mut self.instances[i as usize];
            // 0 cores holds the instance: its configuration stays for when it is resized again.
            let held = to.cpu_cores.map_or(inst.held, |c| c == 0);
            let cores = to
                .cpu_cores
                .filter(|&c| c > 0)
                .unwrap_or(inst.config.cpu_cores);
            if !held && ctx.executor.instance_resized(i, cores).is_err() {
                return 0;
            }
            let inst = &mut self.instances[i as usize];
            inst.held = held;
            let config = &mut inst.config;
            config.cpu_cores = cores;
            config.compute_share = to.compute_share.unwrap_or(config.compute_share);
            config.max_batch = to.max_batch.unwrap_or(config.max_batch);
        }
        self.record_cores(ctx);
        // A larger batch may be ready to start now.
        let mut queues: Vec<u32> = targets
            .iter()
            .map(|&i| self.instances[i as usize].queue)
            .collect();
        queues.sort_unstable();
        queues.dedup(); // Instances may share their partition's queue.
        for q in queues {
            self.dispatch(ctx, q);
        }
        targets.len() as u32
    }

    /// Stops a retired instance and frees what it held: its context and workspace, its weights
    /// unless its process still shares them, and its process's memory if it was the last one.
    pub(super) fn stop_instance(&mut self, ctx: &mut Context<'_>, instance: u32) {
        let inst = &mut self.instances[instance as usize];
        inst.phase = InstancePhase::Stopped;
        let (partition, accelerator) = (inst.partition as usize, inst.accel as usize);
        let footprint = inst.footprint;
        let alive = &mut self.partitions[partition].instances;
        if let Some(k) = alive.iter().position(|&i| i == instance) {
            alive.remove(k);
        }
        ctx.executor.instance_stopped(instance);
        let released = self.processes.leave(partition, accelerator, &footprint);
        self.memory.release(released.total());
        self.book_released(accelerator, &released);
        self.record_memory(ctx);
        self.record_cores(ctx);
    }

    /// Books memory an instance added on `accelerator`, by kind, and its peak.
    fn book_added(&mut self, accelerator: usize, added: &cost::Footprint) {
        self.instance_memory.add(added);
        self.accelerator_memory[accelerator] += added.total();
        if self.instance_memory.total() > self.instance_memory_peak.total() {
            self.instance_memory_peak = self.instance_memory;
        }
    }

    /// Books memory an instance gave back on `accelerator`, by kind.
    fn book_released(&mut self, accelerator: usize, released: &cost::Footprint) {
        self.instance_memory.sub(released);
        self.accelerator_memory[accelerator] -= released.total();
    }
}
