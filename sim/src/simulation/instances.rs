//! Instances: creation (with cold start), readiness and retirement.

use super::*;

impl Simulation {
    pub(super) fn create_instance(&mut self, plan: InstancePlan, cold: bool) -> Option<u32> {
        let now = self.now();
        let p = &self.partitions[plan.partition];
        let ops = &self.scenario.models[p.stage].operators[p.ops.clone()];
        let footprint = cost::footprint_bytes(
            ops,
            plan.config.max_batch,
            plan.accelerator,
            &self.scenario.device,
        );
        if self.memory.allocate(footprint).is_err() {
            self.refused_instances += 1;
            return None;
        }
        self.recorder.memory(now, self.memory.used_bytes());
        let weights_bytes: u64 = ops.iter().map(|o| o.params).sum::<u64>()
            * self.scenario.device.accelerators[plan.accelerator]
                .precision
                .bytes_per_elem();
        let index = self.instances.len() as u32;
        let queue = match self.routing {
            Routing::SharedQueue => self.partitions[plan.partition].queue,
            Routing::JoinShortestQueue => {
                // Instance queues follow the partition queues: queue = partitions + instance.
                debug_assert_eq!(self.queues.len(), self.partitions.len() + index as usize);
                self.queues.push(RequestQueue::default());
                (self.queues.len() - 1) as u32
            }
        };
        self.instances.push(InstanceState {
            partition: plan.partition as u32,
            accel: plan.accelerator as u32,
            config: plan.config,
            phase: if cold {
                InstancePhase::Starting
            } else {
                InstancePhase::Ready
            },
            queue,
            busy: false,
            footprint_bytes: footprint,
            in_service: 0,
        });
        self.partitions[plan.partition].instances.push(index);
        self.live_instance_created(index);
        if cold {
            let load_s = weights_bytes as f64 / self.scenario.device.storage.read_bytes_per_s;
            let delay = SimDuration::from_secs_f64(load_s)
                + self.scenario.scenario.serving.cold_start_init.0;
            self.events
                .schedule(now + delay, Event::InstanceReady { instance: index });
        }
        match self.routing {
            Routing::SharedQueue => self.dispatch(queue),
            Routing::JoinShortestQueue => {
                // Requests that waited for any instance of this partition now have one.
                let pq = self.partitions[plan.partition].queue as usize;
                let pending: Vec<u32> = self.queues[pq].requests.drain(..).collect();
                for r in pending {
                    self.route(r, plan.partition as u32);
                }
            }
        }
        Some(index)
    }

    pub(super) fn on_instance_ready(&mut self, instance: u32) {
        let inst = &mut self.instances[instance as usize];
        if inst.phase == InstancePhase::Starting {
            inst.phase = InstancePhase::Ready;
            let queue = inst.queue;
            self.dispatch(queue);
        }
    }

    pub(super) fn stop_instance(&mut self, instance: u32) {
        let inst = &mut self.instances[instance as usize];
        inst.phase = InstancePhase::Stopped;
        let footprint = inst.footprint_bytes;
        self.live_instance_stopped(instance);
        self.memory.release(footprint);
        let now = self.now();
        self.recorder.memory(now, self.memory.used_bytes());
    }
}
