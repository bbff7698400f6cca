//! Live runs: the same run loop on the wall clock, batches executed by a [`LiveExecutor`].

use std::ops::ControlFlow;

use super::clock::WallClock;
use super::{RunProgress, Simulation, Stop};
use crate::executor::{
    LiveError, LiveExecution, LiveExecutor, LiveInstance, LivePartition, LiveSetup,
};
use crate::report::Report;
use crate::serving::transport::TransportKind;

impl Simulation {
    /// Runs to the end on the wall clock with `executor` running the batches, and returns the
    /// report (the same [`Report`] as [`Simulation::run`]: times are wall times since the
    /// deployment's instances were ready).
    ///
    /// Ends as [`Simulation::run`] does; with `run.drain`, batches still running at the drain
    /// limit are reported in flight.
    pub fn run_live(self, executor: Box<dyn LiveExecutor + Send>) -> Result<Report, LiveError> {
        self.run_live_observed(executor, &mut |_| ControlFlow::Continue(()))
    }

    /// [`Simulation::run_live`], showing `observe` the progress every few thousand events; when
    /// it answers `Break` the run ends there, its report marked [`Report::interrupted`].
    pub fn run_live_observed(
        mut self,
        mut executor: Box<dyn LiveExecutor + Send>,
        observe: &mut dyn FnMut(&RunProgress) -> ControlFlow<()>,
    ) -> Result<Report, LiveError> {
        if self.scenario.sizing.is_some() {
            return Err(LiveError(
                "requests with sizes (app.tokens = \"trace\" or app.generated_tokens) cannot run \
                 in the loop: its ONNX models have one fixed shape and no KV cache; simulate the \
                 scenario instead"
                    .into(),
            ));
        }
        executor.setup(&self.live_setup())?;
        for (i, inst) in self.plane.instances().iter().enumerate() {
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
        self.machine.executor = Box::new(LiveExecution::new(executor));
        match self.run_loop(&mut WallClock, observe) {
            Ok(end) => Ok(self.finish(end, false)),
            Err(Stop::Live(e)) => Err(e),
            Err(Stop::Cancelled(at)) => Ok(self.finish(at, true)),
        }
    }

    /// The deployed partitions and the device, for the executor.
    fn live_setup(&self) -> LiveSetup {
        let rs = &self.scenario;
        let deployed = self.plane.partitions();
        let partitions = deployed
            .iter()
            .map(|p| {
                let n = rs.models[p.stage].operators.len();
                let stage_cuts = deployed
                    .iter()
                    .filter(|q| q.stage == p.stage && q.ops.end < n)
                    .map(|q| q.ops.end)
                    .collect();
                LivePartition {
                    stage: p.stage,
                    model: rs.models[p.stage].name.clone(),
                    source: rs.model_sources[p.stage].clone(),
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
            copies_tensors: self.plane.transport_kind() != TransportKind::ZeroCopy,
            seq_len: rs
                .scenario
                .app
                .seq_len
                .unwrap_or(crate::model::zoo::ZooOptions::default().seq_len),
        }
    }
}
