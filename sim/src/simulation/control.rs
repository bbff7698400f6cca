//! The control plane glue: policy ticks, what the policy observes, and applying its actions.

use super::Simulation;
use crate::event::Event;
use crate::policy::{
    AcceleratorObservation, Action, ExecObservation, Observation, PartitionObservation,
};
use crate::report::{ResizeEvent, ScalingEvent};
use crate::serving::plane::{PartitionSpec, Relayout, StagePlacement};
use crate::serving::state::InstancePhase;

impl Simulation {
    pub(super) fn on_policy_tick(&mut self) {
        // The observation and the action list are kept between ticks and refilled in place, so
        // a tick allocates nothing once their buffers have grown.
        let mut observation = std::mem::take(&mut self.observation);
        self.observe_into(&mut observation);
        let mut actions = std::mem::take(&mut self.actions);
        self.policy.on_tick(&observation, &mut actions);
        for action in actions.drain(..) {
            self.apply(action);
        }
        self.observation = observation;
        self.actions = actions;
        if let Some(interval) = self.policy.tick_interval()
            && self.still_running()
        {
            let at = self.machine.now() + interval;
            self.machine.events.schedule(at, Event::PolicyTick);
        }
    }

    /// What the policy sees: the state now and the window since the previous tick.
    #[cfg(test)]
    pub(super) fn observe(&mut self) -> Observation {
        let mut observation = Observation::default();
        self.observe_into(&mut observation);
        observation
    }

    /// Writes into `obs` what the policy sees: the state now and the window since the previous
    /// tick. Only the buffers of `obs` are reused: every field is written by an exhaustive struct
    /// literal, so a new field cannot be left holding the previous tick's value.
    pub(super) fn observe_into(&mut self, obs: &mut Observation) {
        let now = self.machine.now();
        let window = now - self.last_tick;
        self.last_tick = now;
        let window_ns = window.as_ns().max(1) as f64;
        let n_acc = self.machine.engines.accelerators();
        let positions = self.plane.layout().len();
        let mut partitions = std::mem::take(&mut obs.partitions);
        partitions.truncate(positions);
        partitions.resize_with(positions, PartitionObservation::default);
        // Retired partitions never return to the layout: their windows are not read again.
        for (position, p_obs) in partitions.iter_mut().enumerate() {
            let index = self.plane.layout()[position] as usize;
            let PartitionObservation {
                mut live,
                mut instances,
                mut starting,
                mut cores,
                mut window_exec,
                ..
            } = std::mem::take(p_obs);
            let (load, window_arrivals, tallies) = self.plane.partition_window_mut(index);
            let window_arrivals = std::mem::take(window_arrivals);
            window_exec.clear();
            window_exec.extend(tallies.iter_mut().map(|t| {
                let t = std::mem::take(t);
                let mean = |sum: u128, n: u64| (n > 0).then(|| sum as f64 / n as f64 / 1e6);
                ExecObservation {
                    batches: t.batches,
                    mean_batch: if t.batches > 0 {
                        t.requests as f64 / t.batches as f64
                    } else {
                        0.0
                    },
                    mean_exec_ms: mean(t.exec_ns, t.batches),
                    reference_ms: mean(t.solo_ns, t.solo_batches),
                }
            }));
            let window_mean_concurrency = load.take_interval(now) / window_ns;
            let p = &self.plane.partitions()[index];
            zeroed(&mut instances, n_acc);
            zeroed(&mut starting, n_acc);
            zeroed(&mut cores, n_acc);
            live.clear();
            live.extend((0..n_acc).map(|a| self.plane.census().live(index, a)));
            let mut queued = self.plane.queue_len(p.queue) as u64;
            let mut in_service = 0;
            let mut head_arrival = self.plane.queue_head_arrival(p.queue);
            for &i in &p.instances {
                let inst = &self.plane.instances()[i as usize];
                if inst.queue != p.queue
                    && let Some(t) = self.plane.queue_head_arrival(inst.queue)
                {
                    head_arrival = Some(head_arrival.map_or(t, |h| h.min(t)));
                }
                if inst.accepts() {
                    instances[inst.accel as usize] += 1;
                    cores[inst.accel as usize] += inst.cores_held();
                }
                if inst.phase == InstancePhase::Starting {
                    starting[inst.accel as usize] += 1;
                }
                if inst.queue != p.queue {
                    queued += self.plane.queue_len(inst.queue) as u64;
                }
                in_service += u64::from(inst.in_service);
            }
            *p_obs = PartitionObservation {
                stage: p.stage,
                ops: p.ops.clone(),
                queued,
                head_age_ms: head_arrival.map(|t| (now - t).as_secs_f64() * 1e3),
                in_service,
                window_arrivals,
                live,
                window_mean_concurrency,
                instances,
                starting,
                cores,
                window_exec,
            };
        }
        let mut accelerators = std::mem::take(&mut obs.accelerators);
        accelerators.clear();
        for (a, utilization) in self
            .machine
            .engines
            .take_utilization(now, window_ns)
            .enumerate()
        {
            accelerators.push(AcceleratorObservation {
                utilization,
                instance_memory_bytes: self.plane.accelerator_memory(a),
            });
        }
        let mut window_stream_arrivals = std::mem::take(&mut obs.window_stream_arrivals);
        let (w, window_p99_ms) = self.plane.take_window(&mut window_stream_arrivals);
        let memory = self.plane.memory();
        *obs = Observation {
            now,
            window,
            partitions,
            accelerators,
            memory_used_bytes: memory.used_bytes(),
            memory_limit_bytes: memory.limit_bytes(),
            window_arrivals: w.arrivals,
            window_stream_arrivals,
            window_completed: w.completed,
            window_within_slo: w.within_slo,
            window_dropped: w.dropped,
            window_p99_ms,
            window_min_budget_ms: w.min_budget_ns.map(|ns| ns as f64 / 1e6),
            refused_reconfigurations: self.plane.refused_reconfigurations(),
        };
    }

    pub(super) fn apply(&mut self, action: Action) {
        // Policies index partitions by their position in the current layout.
        let at =
            |sim: &Self, position: usize| sim.plane.layout().get(position).map(|&p| p as usize);
        match action {
            Action::ScaleOut {
                partition,
                accelerator,
                config,
            } => {
                let p = at(self, partition);
                let ctx = &mut self.machine.ctx();
                if let Some(p) = p
                    && accelerator < ctx.engines.accelerators()
                    && self
                        .plane
                        .create_instance(ctx, p, accelerator, config, true)
                        .is_some()
                {
                    self.record_scaling(p, accelerator, 1);
                }
            }
            Action::ScaleIn {
                partition,
                accelerator,
            } => {
                let p = at(self, partition);
                let ctx = &mut self.machine.ctx();
                if let Some(p) = p
                    && self.plane.scale_in(ctx, p, accelerator)
                {
                    self.record_scaling(p, accelerator, -1);
                }
            }
            Action::Repartition {
                stage,
                cuts,
                placement,
            } => self.repartition(stage, cuts, placement),
            Action::Route { weights } => {
                // A refusal is counted by the plane.
                let _ = self.plane.set_route_weights(&weights);
            }
            Action::Resize {
                partition,
                accelerator,
                cpu_cores,
                compute_share,
                max_batch,
            } => {
                let p = at(self, partition);
                let device = &self.scenario.device;
                let fits = accelerator < device.accelerators.len()
                    && cpu_cores.is_none_or(|c| {
                        let a = &device.accelerators[accelerator];
                        a.kind != crate::hardware::AcceleratorKind::Cpu || c <= a.cores
                    })
                    && compute_share.is_none_or(|s| s > 0.0 && s <= 1.0)
                    && max_batch.is_none_or(|b| b >= 1);
                let ctx = &mut self.machine.ctx();
                let resized = match p {
                    Some(p) if fits => self.plane.resize(
                        ctx,
                        p,
                        accelerator,
                        crate::serving::plane::Resize {
                            cpu_cores,
                            compute_share,
                            max_batch,
                        },
                    ),
                    _ => 0,
                };
                if resized == 0 {
                    self.plane.refuse_reconfiguration();
                } else {
                    let p = p.expect("resized instances have a partition");
                    self.resizes.push(ResizeEvent {
                        time_s: ctx.now().as_secs_f64(),
                        partition: p,
                        accelerator: self.scenario.device.accelerators[accelerator].name.clone(),
                        cpu_cores,
                        compute_share,
                        max_batch,
                        instances: resized,
                    });
                }
            }
        }
    }

    /// Cuts `stage`'s model anew (see [`Action::Repartition`]); a refusal is counted in the
    /// report, and the run goes on with the layout it had.
    fn repartition(&mut self, stage: usize, cuts: Vec<usize>, placement: Vec<StagePlacement>) {
        let rs = &self.scenario;
        let Some(model) = rs.models.get(stage) else {
            self.plane.refuse_reconfiguration();
            return;
        };
        let Ok(ranges) = crate::model::partition::split(model.operators.len(), &cuts) else {
            self.plane.refuse_reconfiguration();
            return;
        };
        let partitions = ranges
            .into_iter()
            .map(|ops| PartitionSpec {
                operators: model.operators[ops.clone()].into(),
                runtime: std::sync::Arc::new(rs.runtime.clone()),
                stage,
                ops,
            })
            .collect();
        let cost = rs
            .scenario
            .serving
            .reconfiguration
            .per_accelerator(&rs.device);
        let relayout = Relayout {
            stage,
            partitions,
            placement,
            cuts,
        };
        let ctx = &mut self.machine.ctx();
        // A refusal is counted by the plane; the policy sees the layout unchanged.
        let _ = self.plane.repartition(ctx, relayout, &cost);
    }

    /// Logs a scale-out or scale-in of `partition` (global index, as the report's `partitions`).
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

/// Clears `v` and fills it with `len` zeros, keeping its allocation.
fn zeroed(v: &mut Vec<u32>, len: usize) {
    v.clear();
    v.resize(len, 0);
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::cost;
    use crate::scenario::Scenario;
    use crate::time::{SimDuration, SimTime};

    /// Three warm replicas of AlexNet on the GPU under `layout`, no requests.
    fn three_replicas(layout: &str) -> Simulation {
        let text = format!(
            r#"
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
multiplier = 2.0
[workload]
kind = "poisson"
rate_per_s = 1.0
[run]
duration = "1s"
[serving]
runtime = "tensorrt"
[policy]
kind = "static"
process_layout = "{layout}"
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ gpu = 3 }}
"#
        );
        let resolved = Scenario::parse(&text, "t.toml", Path::new("."))
            .unwrap()
            .resolve()
            .unwrap();
        Simulation::new(&resolved, None).unwrap()
    }

    fn footprint(sim: &Simulation) -> cost::Footprint {
        let rs = &sim.scenario;
        let gpu = rs.device.gpu().unwrap();
        cost::footprint(&rs.models[0].operators, 1, gpu, rs.target())
    }

    fn scale_in(sim: &mut Simulation) {
        let gpu = sim.scenario.device.gpu().unwrap();
        sim.apply(Action::ScaleIn {
            partition: 0,
            accelerator: gpu,
        });
    }

    #[test]
    fn a_shared_process_is_released_with_its_last_instance_and_not_before() {
        let mut sim = three_replicas("per_partition");
        let fp = footprint(&sim);
        let own = fp.context + fp.workspace;
        let used = |sim: &Simulation| sim.plane.memory().used_bytes();
        assert_eq!(used(&sim), fp.process + fp.weights + 3 * own);
        assert_eq!(sim.plane.processes_alive(), 1);
        let processes: Vec<u32> = sim.plane.instances().iter().map(|i| i.process).collect();
        assert_eq!(processes, [0, 0, 0]);
        // The policy sees the live instances and what a fourth would add.
        let obs = sim.observe();
        let gpu = sim.scenario.device.gpu().unwrap();
        assert_eq!(obs.partitions[0].live[gpu], 3);
        assert_eq!(obs.accelerators[gpu].instance_memory_bytes, used(&sim));
        let census = obs.census(crate::serving::ProcessLayout::PerPartition);
        assert_eq!(fp.marginal(census.residency(0, gpu)), own);

        scale_in(&mut sim);
        assert_eq!(used(&sim), fp.process + fp.weights + 2 * own);
        scale_in(&mut sim);
        assert_eq!(used(&sim), fp.process + fp.weights + own);
        assert_eq!(sim.plane.processes_alive(), 1);
        scale_in(&mut sim);
        assert_eq!(used(&sim), 0);
        assert_eq!(sim.plane.processes_alive(), 0);
        assert_eq!(sim.plane.instance_memory().total(), 0);
        let peak = sim.plane.instance_memory_peak();
        assert_eq!(peak.process_bytes, fp.process);
        assert_eq!(peak.total(), fp.process + fp.weights + 3 * own);
    }

    #[test]
    fn a_process_per_instance_goes_with_its_instance() {
        let mut sim = three_replicas("per_instance");
        let fp = footprint(&sim);
        let used = |sim: &Simulation| sim.plane.memory().used_bytes();
        assert_eq!(used(&sim), 3 * fp.total());
        let processes: Vec<u32> = sim.plane.instances().iter().map(|i| i.process).collect();
        assert_eq!(processes, [0, 1, 2]);
        scale_in(&mut sim);
        assert_eq!(used(&sim), 2 * fp.total());
        assert_eq!(sim.plane.processes_alive(), 2);
    }

    /// A buffer left over from a bigger observation: more partitions, accelerators and
    /// streams than the run has, every field set.
    fn stale_observation() -> Observation {
        let stale_partition = PartitionObservation {
            stage: 7,
            ops: 3..9,
            queued: 11,
            head_age_ms: Some(5.0),
            in_service: 4,
            window_arrivals: 13,
            live: vec![9; 6],
            window_mean_concurrency: 2.5,
            instances: vec![8; 6],
            starting: vec![7; 6],
            cores: vec![6; 6],
            window_exec: vec![ExecObservation::default(); 6],
        };
        Observation {
            now: SimTime::ZERO + SimDuration::from_ns(99),
            window: SimDuration::from_ns(98),
            partitions: vec![stale_partition; 5],
            accelerators: vec![AcceleratorObservation::default(); 6],
            memory_used_bytes: 97,
            memory_limit_bytes: 96,
            window_arrivals: 95,
            window_stream_arrivals: vec![94; 3],
            window_completed: 93,
            window_within_slo: 92,
            window_dropped: 91,
            window_p99_ms: Some(90.0),
            window_min_budget_ms: Some(89.0),
            refused_reconfigurations: 88,
        }
    }

    #[test]
    fn an_observation_refilled_in_place_equals_one_built_afresh() {
        let mut fresh = three_replicas("per_partition");
        let mut reused = three_replicas("per_partition");
        let mut buffer = stale_observation();
        for _ in 0..2 {
            let expected = fresh.observe();
            reused.observe_into(&mut buffer);
            assert_eq!(format!("{buffer:?}"), format!("{expected:?}"));
            scale_in(&mut fresh);
            scale_in(&mut reused);
        }
        assert_eq!(buffer.partitions.len(), 1);
        assert_eq!(buffer.window_stream_arrivals, [0]);
    }
}
