//! Live runs: the same serving loop on the wall clock, batches executed by a [`LiveExecutor`].

use super::*;
use crate::executor::{LiveBatch, LiveError, LiveExecutor, LiveInstance, LivePartition, LiveSetup};

/// The executor of a live run and the state the loop keeps about it.
pub(super) struct Live {
    pub(super) executor: Box<dyn LiveExecutor + Send>,
    /// Batches submitted and not yet finished.
    pub(super) outstanding: u64,
    /// The first error the executor reported inside an event handler; the run stops on it.
    pub(super) error: Option<LiveError>,
}

impl Simulation {
    /// Runs to the end on the wall clock with `executor` running the batches, and returns the
    /// report (the same [`Report`] as [`Simulation::run`]: times are wall times since the
    /// deployment's instances were ready).
    ///
    /// Ends as [`Simulation::run`] does; with `run.drain`, batches still running at the drain
    /// limit are reported in flight.
    pub fn run_live(
        mut self,
        mut executor: Box<dyn LiveExecutor + Send>,
    ) -> Result<Report, LiveError> {
        executor.setup(&self.live_setup())?;
        for (i, inst) in self.instances.iter().enumerate() {
            if inst.accepts() {
                executor.instance_created(LiveInstance {
                    instance: i as u32,
                    partition: inst.partition as usize,
                    accelerator: inst.accel as usize,
                    cpu_cores: inst.config.cpu_cores,
                })?;
            }
        }
        executor.start_clock()?;
        self.live = Some(Live {
            executor,
            outstanding: 0,
            error: None,
        });

        self.schedule_next_arrival();
        if let Some(interval) = self.policy.tick_interval() {
            self.events
                .schedule(SimTime::ZERO + interval, Event::PolicyTick);
        }
        let drain = self.scenario.scenario.run.drain;
        let drain_limit = self.scenario.scenario.run.drain_limit.0;
        let mut done = Vec::new();
        let mut last = SimTime::ZERO;
        let end = loop {
            let outstanding = self.live.as_ref().map_or(0, |l| l.outstanding);
            let limit = (!self.arrivals_open).then(|| {
                if drain {
                    self.cutoff + drain_limit
                } else {
                    self.cutoff
                }
            });
            let next = self.events.peek_time();
            if limit.is_some() && outstanding == 0 {
                let drained = self.in_flight == 0;
                match next {
                    None => break last.max(self.cutoff),
                    Some(t) if limit.is_some_and(|l| t > l) => break limit.unwrap_or(t).max(last),
                    Some(t) if drained && t > self.cutoff => break last.max(self.cutoff),
                    Some(_) => {}
                }
            }
            // Sleep until the next event is due (no later than the end), or a batch finishes.
            let until = match (next, limit) {
                (Some(t), Some(l)) => Some(t.min(l)),
                (Some(t), None) => Some(t),
                (None, l) => l,
            };
            if until.is_none() && outstanding == 0 {
                break last; // Nothing can happen any more.
            }
            let live = self.live.as_mut().expect("live state set above");
            let wall = live.executor.wait(until, &mut done)?;
            for c in done.drain(..) {
                live.outstanding -= 1;
                let at = c.finished.max(self.events.now());
                self.events
                    .schedule(at, Event::LiveBatchDone { batch: c.batch });
            }
            if let Some(l) = limit
                && wall >= l
                && self.events.peek_time().is_none_or(|t| t > l)
            {
                break l.max(last);
            }
            while let Some(t) = self.events.peek_time()
                && t <= wall
            {
                let Some((now, event)) = self.events.pop() else {
                    break;
                };
                last = now;
                self.handle(event);
                if self.fluid_dirty {
                    self.settle_fluid();
                }
                if let Some(e) = self.live.as_mut().and_then(|l| l.error.take()) {
                    return Err(e);
                }
            }
        };
        Ok(self.finish(end))
    }

    /// The deployed partitions and the device, for the executor.
    fn live_setup(&self) -> LiveSetup {
        let rs = &self.scenario;
        let partitions = self
            .partitions
            .iter()
            .map(|p| {
                let n = rs.models[p.stage].operators.len();
                let stage_cuts = self
                    .partitions
                    .iter()
                    .filter(|q| q.stage == p.stage && q.ops.end < n)
                    .map(|q| q.ops.end)
                    .collect();
                LivePartition {
                    stage: p.stage,
                    model: rs.models[p.stage].name.clone(),
                    operators: p.ops.clone(),
                    model_operators: n,
                    stage_cuts,
                }
            })
            .collect();
        LiveSetup {
            partitions,
            accelerators: rs
                .device
                .accelerators
                .iter()
                .map(|a| a.name.clone())
                .collect(),
            transport: self.transport_kind,
            seq_len: rs
                .scenario
                .app
                .seq_len
                .unwrap_or(crate::model::zoo::ZooOptions::default().seq_len),
        }
    }

    /// Hands a started batch to the executor (live runs): it holds its instance's engine until
    /// [`Event::LiveBatchDone`].
    pub(super) fn submit_live(&mut self, batch: u32) {
        let b = self.batches.get(batch);
        let inst = &self.instances[b.instance as usize];
        let (accel, partition) = (inst.accel as usize, inst.partition as usize);
        let units = self.live_units(b.instance);
        self.occupy(accel, units);
        let b = self.batches.get(batch);
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let result = live.executor.submit(LiveBatch {
            batch,
            instance: b.instance,
            partition,
            requests: &b.requests,
        });
        match result {
            Ok(()) => live.outstanding += 1,
            Err(e) => live.error = live.error.take().or(Some(e)),
        }
    }

    /// A live batch finished: release its engine and carry on as a simulated batch would.
    pub(super) fn on_live_batch_done(&mut self, batch: u32) {
        let instance = self.batches.get(batch).instance;
        let accel = self.instances[instance as usize].accel as usize;
        let units = self.live_units(instance);
        self.occupy(accel, -units);
        self.finish_batch(batch);
    }

    /// Capacity units a live batch holds on its instance's engine: its cores on the CPU, one
    /// activity elsewhere.
    fn live_units(&self, instance: u32) -> f64 {
        let inst = &self.instances[instance as usize];
        if self.scenario.device.accelerators[inst.accel as usize].kind == AcceleratorKind::Cpu {
            f64::from(inst.config.cpu_cores)
        } else {
            1.0
        }
    }

    /// Tells the executor of a live run that an instance exists.
    pub(super) fn live_instance_created(&mut self, instance: u32) {
        let inst = &self.instances[instance as usize];
        let info = LiveInstance {
            instance,
            partition: inst.partition as usize,
            accelerator: inst.accel as usize,
            cpu_cores: inst.config.cpu_cores,
        };
        if let Some(live) = self.live.as_mut()
            && let Err(e) = live.executor.instance_created(info)
        {
            live.error = live.error.take().or(Some(e));
        }
    }

    /// Tells the executor of a live run that an instance was retired.
    pub(super) fn live_instance_stopped(&mut self, instance: u32) {
        if let Some(live) = self.live.as_mut() {
            live.executor.instance_stopped(instance);
        }
    }

    /// Tells the executor of a live run that a request's data may go.
    pub(super) fn live_release(&mut self, request: u32) {
        if let Some(live) = self.live.as_mut() {
            live.executor.release(request);
        }
    }
}
