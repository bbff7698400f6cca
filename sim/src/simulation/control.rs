//! The control plane glue: policy ticks, observations and actions.

use super::*;

impl Simulation {
    pub(super) fn on_policy_tick(&mut self) {
        let observation = self.observe();
        let mut actions = Vec::new();
        self.policy.on_tick(&observation, &mut actions);
        for action in actions {
            self.apply(action);
        }
        if let Some(interval) = self.policy.tick_interval()
            && self.still_running()
        {
            let at = self.now() + interval;
            self.events.schedule(at, Event::PolicyTick);
        }
    }

    /// What the policy sees: the state now and the window since the previous tick.
    pub(super) fn observe(&mut self) -> Observation {
        let now = self.now();
        let window = now - self.last_tick;
        self.last_tick = now;
        let window_ns = window.as_ns().max(1) as f64;
        let n_acc = self.compute_capacity.len();
        let mut instance_memory = vec![0u64; n_acc];
        for inst in &self.instances {
            if inst.phase != InstancePhase::Stopped {
                instance_memory[inst.accel as usize] += inst.footprint_bytes;
            }
        }
        let mut partitions = Vec::with_capacity(self.partitions.len());
        for p in &mut self.partitions {
            let mut obs = PartitionObservation {
                stage: p.stage,
                ops: p.ops.clone(),
                queued: self.queues[p.queue as usize].requests.len() as u64,
                window_arrivals: std::mem::take(&mut p.window_arrivals),
                window_mean_concurrency: p.load.take_interval(now) / window_ns,
                instances: vec![0; n_acc],
                starting: vec![0; n_acc],
                ..Default::default()
            };
            for &i in &p.instances {
                let inst = &self.instances[i as usize];
                if inst.accepts() {
                    obs.instances[inst.accel as usize] += 1;
                }
                if inst.phase == InstancePhase::Starting {
                    obs.starting[inst.accel as usize] += 1;
                }
                if inst.queue != p.queue {
                    obs.queued += self.queues[inst.queue as usize].requests.len() as u64;
                }
                obs.in_service += u64::from(inst.in_service);
            }
            partitions.push(obs);
        }
        let accelerators = self
            .slots
            .iter_mut()
            .zip(instance_memory)
            .map(|(slot, instance_memory_bytes)| AcceleratorObservation {
                utilization: (slot.busy.take_interval(now) / window_ns).clamp(0.0, 1.0),
                instance_memory_bytes,
            })
            .collect();
        let w = std::mem::take(&mut self.window);
        let window_p99_ms = (self.window_latency.count() > 0)
            .then(|| self.window_latency.quantile_ns(0.99) as f64 / 1e6);
        self.window_latency.reset();
        Observation {
            now,
            window,
            partitions,
            accelerators,
            memory_used_bytes: self.memory.used_bytes(),
            memory_limit_bytes: self.memory.limit_bytes(),
            window_arrivals: w.arrivals,
            window_completed: w.completed,
            window_within_slo: w.within_slo,
            window_dropped: w.dropped,
            window_p99_ms,
        }
    }

    pub(super) fn apply(&mut self, action: Action) {
        match action {
            Action::ScaleOut {
                partition,
                accelerator,
                config,
            } => {
                if partition < self.partitions.len()
                    && accelerator < self.compute_capacity.len()
                    && self
                        .create_instance(
                            InstancePlan {
                                partition,
                                accelerator,
                                config,
                            },
                            true,
                        )
                        .is_some()
                {
                    self.record_scaling(partition, accelerator, 1);
                }
            }
            Action::ScaleIn {
                partition,
                accelerator,
            } => {
                let Some(p) = self.partitions.get(partition) else {
                    return;
                };
                // Retire the youngest accepting instance there.
                let victim = p.instances.iter().rev().copied().find(|&i| {
                    let inst = &self.instances[i as usize];
                    inst.accepts() && inst.accel as usize == accelerator
                });
                if let Some(i) = victim {
                    self.instances[i as usize].phase = InstancePhase::Draining;
                    self.record_scaling(partition, accelerator, -1);
                    self.after_instance_idle(i);
                }
            }
        }
    }

    fn record_scaling(&mut self, partition: usize, accelerator: usize, delta: i32) {
        let time_s = self.now().as_secs_f64();
        let accelerator = self.scenario.device.accelerators[accelerator].name.clone();
        self.scaling_events.push(ScalingEvent {
            time_s,
            partition,
            accelerator,
            delta,
        });
    }
}
