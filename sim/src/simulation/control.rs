//! The control plane glue: policy ticks, what the policy observes, and applying its actions.

use super::Simulation;
use crate::event::Event;
use crate::policy::{AcceleratorObservation, Action, Observation, PartitionObservation};
use crate::report::ScalingEvent;
use crate::serving::state::InstancePhase;

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
            let at = self.machine.now() + interval;
            self.machine.events.schedule(at, Event::PolicyTick);
        }
    }

    /// What the policy sees: the state now and the window since the previous tick.
    fn observe(&mut self) -> Observation {
        let now = self.machine.now();
        let window = now - self.last_tick;
        self.last_tick = now;
        let window_ns = window.as_ns().max(1) as f64;
        let n_acc = self.machine.engines.accelerators();
        let mut partitions = Vec::with_capacity(self.plane.partitions().len());
        for index in 0..self.plane.partitions().len() {
            let (load, window_arrivals) = self.plane.partition_window_mut(index);
            let window_arrivals = std::mem::take(window_arrivals);
            let window_mean_concurrency = load.take_interval(now) / window_ns;
            let p = &self.plane.partitions()[index];
            let mut obs = PartitionObservation {
                stage: p.stage,
                ops: p.ops.clone(),
                queued: self.plane.queue_len(p.queue) as u64,
                window_arrivals,
                window_mean_concurrency,
                instances: vec![0; n_acc],
                starting: vec![0; n_acc],
                live: (0..n_acc)
                    .map(|a| self.plane.census().live(index, a))
                    .collect(),
                ..Default::default()
            };
            for &i in &p.instances {
                let inst = &self.plane.instances()[i as usize];
                if inst.accepts() {
                    obs.instances[inst.accel as usize] += 1;
                }
                if inst.phase == InstancePhase::Starting {
                    obs.starting[inst.accel as usize] += 1;
                }
                if inst.queue != p.queue {
                    obs.queued += self.plane.queue_len(inst.queue) as u64;
                }
                obs.in_service += u64::from(inst.in_service);
            }
            partitions.push(obs);
        }
        let accelerators = self
            .machine
            .engines
            .take_utilization(now, window_ns)
            .into_iter()
            .enumerate()
            .map(|(a, utilization)| AcceleratorObservation {
                utilization,
                instance_memory_bytes: self.plane.accelerator_memory(a),
            })
            .collect();
        let (w, window_p99_ms) = self.plane.take_window();
        let memory = self.plane.memory();
        Observation {
            now,
            window,
            partitions,
            accelerators,
            memory_used_bytes: memory.used_bytes(),
            memory_limit_bytes: memory.limit_bytes(),
            window_arrivals: w.arrivals,
            window_completed: w.completed,
            window_within_slo: w.within_slo,
            window_dropped: w.dropped,
            window_p99_ms,
        }
    }

    fn apply(&mut self, action: Action) {
        let ctx = &mut self.machine.ctx();
        match action {
            Action::ScaleOut {
                partition,
                accelerator,
                config,
            } => {
                if partition < self.plane.partitions().len()
                    && accelerator < ctx.engines.accelerators()
                    && self
                        .plane
                        .create_instance(ctx, partition, accelerator, config, true)
                        .is_some()
                {
                    self.record_scaling(partition, accelerator, 1);
                }
            }
            Action::ScaleIn {
                partition,
                accelerator,
            } => {
                if self.plane.scale_in(ctx, partition, accelerator) {
                    self.record_scaling(partition, accelerator, -1);
                }
            }
        }
    }

    fn record_scaling(&mut self, partition: usize, accelerator: usize, delta: i32) {
        let time_s = self.machine.now().as_secs_f64();
        let accelerator = self.scenario.device.accelerators[accelerator].name.clone();
        self.scaling_events.push(ScalingEvent {
            time_s,
            partition,
            accelerator,
            delta,
        });
    }
}
