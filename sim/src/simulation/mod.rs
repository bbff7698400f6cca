//! Wires a resolved scenario into a run and drives it: one event loop, on the clock of its
//! executor (virtual for simulated execution, wall for live execution).
//!
//! Data flow: arrival → [`DataPlane`] (router → instance queue → batch) → [`Executor`] (on the
//! [`Engines`]) → data plane (transport → next partition … → completion), with the policy
//! observing and acting at its ticks (`control`). A simulated run is a pure function of
//! (scenario, seed): events are ordered by (time, sequence), every random number comes from a
//! named stream of the run seed, and no hash-map order is observable.

mod arrivals;
mod clock;
mod control;
mod live;
#[cfg(test)]
mod repartition_tests;

use crate::hardware::fluid::ActivityId;
use crate::interference::{InterferenceReport, MAX_REPORTED_WINDOWS, Windows};
use std::ops::ControlFlow;
use std::sync::Arc;

use crate::engine::EventQueue;
use crate::engines::{Engines, Settled, Work};
use crate::event::Event;
use crate::executor::{Executor, LiveError, SimulatedExecutor};
use crate::metrics::{MetricsConfig, Recorder};
use crate::policy::{Policy, PolicyContext};
use crate::report::{PartitionReport, Report, ScalingEvent, StreamReport};
use crate::rng::{RunSeed, SimRng};
use crate::scenario::ResolvedScenario;
use crate::serving::plane::{Context, DataPlane, PartitionSpec, PlaneConfig, PlaneStream};
use crate::time::{SimDuration, SimTime};
use crate::workload::arrival::RequestValues;
use crate::workload::{DelaySpec, RequestTokens};

use arrivals::Arrivals;
use clock::{Clock, VirtualClock};

/// How far a run has got: what [`Simulation::run_observed`] shows its observer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunProgress {
    /// Simulated time reached, s.
    pub sim_time_s: f64,
    /// Estimated fraction of the run done, 0..=1: simulated time over `run.duration`, or arrivals
    /// over `run.max_requests`, whichever is further (1 while draining).
    pub fraction: f64,
    /// Requests that have arrived so far.
    pub arrivals: u64,
    /// Events processed so far.
    pub events: u64,
}

/// The observer of [`Simulation::run_observed`] stopped the run before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the run was cancelled")]
pub struct Cancelled;

/// Events between two calls of a run's observer: rare enough to cost nothing measurable, often
/// enough (a few ms of wall time) for a responsive progress bar and cancel.
const OBSERVE_EVERY_EVENTS: u64 = 4096;

/// A run could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The workload could not be built (file vanished since validation, …).
    #[error("workload: {0}")]
    Workload(String),
    /// The policy's deployment is inconsistent with the app.
    #[error("policy `{policy}` deployed an invalid plan: {message}")]
    Deployment {
        /// The policy's name.
        policy: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Why the run loop stopped before the end.
enum Stop {
    /// The observer asked to stop; the time reached.
    Cancelled(SimTime),
    Live(LiveError),
}

/// What the data plane reaches through its [`Context`]: the event queue (the clock), the
/// metrics recorder, the engines, and the executor.
struct Machine {
    events: EventQueue<Event>,
    recorder: Recorder,
    engines: Engines,
    executor: Box<dyn Executor + Send>,
}

impl Machine {
    fn ctx(&mut self) -> Context<'_> {
        Context {
            events: &mut self.events,
            recorder: &mut self.recorder,
            engines: &mut self.engines,
            executor: &mut *self.executor,
        }
    }

    fn now(&self) -> SimTime {
        self.events.now()
    }
}

/// A run in progress. Build with [`Simulation::new`], then [`Simulation::run`].
pub struct Simulation {
    scenario: ResolvedScenario,
    seed: u64,
    machine: Machine,
    plane: DataPlane,
    policy: Box<dyn Policy>,
    arrivals: Arrivals,
    /// Per stream, what each of its requests draws on arrival.
    draws: Vec<StreamDraws>,
    /// Time of the previous policy tick.
    last_tick: SimTime,
    /// The policy's observation and actions, refilled at each tick (their buffers reused).
    observation: crate::policy::Observation,
    actions: Vec<crate::policy::Action>,
    scaling_events: Vec<ScalingEvent>,
    /// In-place resizes applied.
    resizes: Vec<crate::report::ResizeEvent>,
    /// The run's interferers, in `[[interference]]` order.
    interferers: Vec<Interferer>,
}

/// What each request of one stream draws on arrival, each with its own random stream.
#[derive(Debug)]
struct StreamDraws {
    /// Its objective where requests do not carry their own.
    slo: SimDuration,
    /// Each request's own objective (`[slo] per_request`).
    objective: Option<(DelaySpec, SimRng)>,
    /// Each request's network delay before it arrives (`[slo] network_delay`).
    network_delay: Option<(DelaySpec, SimRng)>,
}

impl StreamDraws {
    /// The draws of a stream under `slo`, its random streams named under `prefix`.
    fn new(
        slo_spec: &crate::scenario::SloSpec,
        slo: SimDuration,
        seed: RunSeed,
        prefix: &str,
    ) -> Self {
        StreamDraws {
            slo,
            objective: slo_spec
                .per_request
                .map(|d| (d, seed.stream(&format!("{prefix}request_objective")))),
            network_delay: slo_spec
                .network_delay
                .map(|d| (d, seed.stream(&format!("{prefix}network_delay")))),
        }
    }

    /// A request's objective to go: its own (from `known`, else drawn, else `slo`) less its
    /// network delay (from `known`, else drawn, else none).
    fn budget(&mut self, known: &RequestValues, slo: SimDuration) -> SimDuration {
        let slo = match (known.objective, &mut self.objective) {
            (Some(objective), _) => objective,
            (None, Some((objectives, rng))) => objectives.sample(rng),
            (None, None) => slo,
        };
        let delay = match (known.network_delay, &mut self.network_delay) {
            (Some(delay), _) => delay,
            (None, Some((delays, rng))) => delays.sample(rng),
            (None, None) => SimDuration::ZERO,
        };
        SimDuration(slo.0.saturating_sub(delay.0))
    }
}

/// An interferer during a run: its windows, the one running, and what the report shows.
#[derive(Debug)]
struct Interferer {
    windows: Windows,
    /// The next window, scheduled to start.
    pending: Option<(SimTime, SimTime)>,
    /// The window running: its activity, start and end.
    running: Option<(ActivityId, SimTime, SimTime)>,
    report: InterferenceReport,
}

impl Simulation {
    /// Sets up a run of `scenario` with `seed` (the scenario's own seed unless overridden).
    pub fn new(scenario: &ResolvedScenario, seed: Option<u64>) -> Result<Self, SimError> {
        Self::with_policy(scenario, seed, scenario.scenario.policy.build())
    }

    /// [`Simulation::new`] with `policy` in place of the scenario's `[policy]`: a policy built
    /// in code (a research prototype, or a test that records what a policy observes).
    pub fn with_policy(
        scenario: &ResolvedScenario,
        seed: Option<u64>,
        mut policy: Box<dyn Policy>,
    ) -> Result<Self, SimError> {
        let seed = seed.unwrap_or(scenario.scenario.seed);
        let run_seed = RunSeed(seed);
        let device = &scenario.device;
        let spec = &scenario.scenario;

        // The scenario's own stream keeps the unprefixed random streams (so a one-stream run
        // draws as before streams existed); each of `[[streams]]` has its own under its name.
        let prefix = |k: usize| match k {
            0 => String::new(),
            _ => format!("streams.{}.", scenario.streams[k].name),
        };
        let mut processes = Vec::with_capacity(scenario.streams.len());
        let mut draws = Vec::with_capacity(scenario.streams.len());
        for (k, stream) in scenario.streams.iter().enumerate() {
            let (slo_spec, workload) = spec.stream_slo_and_workload(k);
            let process = workload
                .build(
                    &spec.base_dir,
                    run_seed.stream(&format!("{}arrivals", prefix(k))),
                )
                .map_err(|e| SimError::Workload(format!("stream `{}`: {e}", stream.name)))?;
            processes.push(process);
            draws.push(StreamDraws::new(slo_spec, stream.slo, run_seed, &prefix(k)));
        }

        let deployment = policy.deploy(&PolicyContext {
            seed: run_seed,
            ..scenario.policy_context()
        });
        let policy_name = policy.name();
        let partitions: Vec<PartitionSpec> = deployment
            .partitions(&scenario.models, device.accelerators.len())
            .map_err(|message| SimError::Deployment {
                policy: policy_name,
                message,
            })?
            .into_iter()
            .enumerate()
            .map(|(k, (stage, ops))| PartitionSpec {
                operators: scenario.models[stage].operators[ops.clone()].into(),
                runtime: match scenario.partition_runtimes.get(k) {
                    Some(Some(own)) => Arc::new(own.clone()),
                    _ => Arc::new(scenario.runtime.clone()),
                },
                stage,
                ops,
            })
            .collect();

        let accelerator_names: Vec<String> =
            device.accelerators.iter().map(|a| a.name.clone()).collect();
        let metrics_config = MetricsConfig {
            series_interval: spec.run.series_interval.map(|s| s.0),
            warmup: spec.run.warmup.0,
            latency_cdf_points: spec.run.latency_cdf.unwrap_or(0),
        };
        let mut recorder = Recorder::new(
            metrics_config,
            &accelerator_names,
            partitions.len(),
            scenario.slo,
        );
        recorder.set_streams(scenario.streams.len());
        let shared_device = Arc::new(device.clone());
        let executor = SimulatedExecutor::new(
            shared_device.clone(),
            scenario.measured.clone(),
            partitions
                .iter()
                .map(|p| (p.operators.clone(), p.runtime.clone()))
                .collect(),
            spec.serving.service_time,
            run_seed.stream("service"),
            run_seed.stream("wakeups"),
        );
        let executor = match &scenario.sizing {
            None => executor,
            Some(sizing) => executor.with_tokens(
                sizing.model.clone(),
                partitions
                    .iter()
                    .map(|p| (p.stage, p.ops.clone()))
                    .collect(),
            ),
        };
        let plane = DataPlane::new(PlaneConfig {
            partitions,
            process_layout: policy.process_layout(),
            device: shared_device,
            memory_limit_bytes: scenario.memory_limit_bytes,
            tokens: scenario.sizing.as_ref().map(|s| s.model.clone()),
            queue_capacity: spec.serving.queue_capacity,
            overflow: spec.serving.overflow,
            first_queue_limit: spec
                .serving
                .admission
                .queue_limit
                .unwrap_or(spec.serving.queue_capacity),
            drop_late: spec.serving.admission.drop_late,
            routing: spec.serving.routing,
            queue_order: spec.serving.queue_order,
            cold_start_init: spec.serving.cold_start_init.0,
            transport_costs: spec.serving.transport.clone(),
            transport: deployment.transport,
            control_path: deployment.control_path,
            wait_for_instances: policy.tick_interval().is_some(),
            streams: scenario
                .streams
                .iter()
                .map(|s| PlaneStream {
                    stages: s.stages.clone(),
                    variants: s.variants,
                    input_bytes: s.input_bytes,
                })
                .collect(),
            route_weights: deployment.route_weights.clone(),
        });
        let mut sim = Simulation {
            machine: Machine {
                events: EventQueue::new(),
                recorder,
                engines: Engines::new(device),
                executor: Box::new(executor),
            },
            plane,
            policy,
            arrivals: Arrivals::new(processes, &spec.run),
            draws,
            last_tick: SimTime::ZERO,
            observation: crate::policy::Observation::default(),
            actions: Vec::new(),
            scaling_events: Vec::new(),
            resizes: Vec::new(),
            interferers: scenario
                .interference
                .iter()
                .enumerate()
                .map(|(k, i)| Interferer {
                    windows: Windows::new(i.when, run_seed, k),
                    pending: None,
                    running: None,
                    report: InterferenceReport {
                        what: i.what.clone(),
                        windows_s: Vec::new(),
                        windows: 0,
                        active_s: 0.0,
                    },
                })
                .collect(),
            seed,
            scenario: scenario.clone(),
        };
        let cold = spec.serving.cold_start_initial;
        for plan in &deployment.instances {
            sim.plane.create_instance(
                &mut sim.machine.ctx(),
                plan.partition,
                plan.accelerator,
                plan.config,
                cold,
            );
        }
        Ok(sim)
    }

    /// Runs to the end on the virtual clock and returns the report.
    ///
    /// Arrivals stop at `run.duration` or after `run.max_requests`. Simulated time then runs at
    /// least to the duration (policies keep acting on an idle system), and further while
    /// requests are in flight if `run.drain` (at most `run.drain_limit` past the duration);
    /// without drain the run ends at the duration and what is left is reported in flight.
    pub fn run(self) -> Report {
        match self.run_observed(&mut |_| ControlFlow::Continue(())) {
            Ok(report) => report,
            Err(Cancelled) => unreachable!("an observer that always continues never cancels"),
        }
    }

    /// [`Simulation::run`], showing `observe` the progress every few thousand events and once at
    /// the end; when it answers `Break`, the run stops there and returns [`Cancelled`]. The
    /// observer sees the run but cannot change it: the report is the one `run` returns.
    pub fn run_observed(
        mut self,
        observe: &mut dyn FnMut(&RunProgress) -> ControlFlow<()>,
    ) -> Result<Report, Cancelled> {
        match self.run_loop(&mut VirtualClock, observe) {
            Ok(end) => Ok(self.finish(end, false)),
            Err(Stop::Cancelled(_)) => Err(Cancelled),
            Err(Stop::Live(e)) => unreachable!("simulated execution never fails: {e}"),
        }
    }

    /// [`Simulation::run_observed`], but a stop asked by `observe` ends the run where it is:
    /// the report covers the simulated time reached, requests still in the system counted in
    /// flight, and is marked [`Report::interrupted`]. For Ctrl-C in long runs.
    pub fn run_interruptible(
        mut self,
        observe: &mut dyn FnMut(&RunProgress) -> ControlFlow<()>,
    ) -> Report {
        match self.run_loop(&mut VirtualClock, observe) {
            Ok(end) => self.finish(end, false),
            Err(Stop::Cancelled(at)) => self.finish(at, true),
            Err(Stop::Live(e)) => unreachable!("simulated execution never fails: {e}"),
        }
    }

    /// The event loop, on `clock`, to the end of the run; returns the end time.
    ///
    /// After arrivals stop, the run ends (once no batch runs outside the event queue) when
    /// nothing is left to happen, at the drain limit, or — once everything is drained — at the
    /// first event after the arrival cutoff.
    fn run_loop<C: Clock>(
        &mut self,
        clock: &mut C,
        observe: &mut dyn FnMut(&RunProgress) -> ControlFlow<()>,
    ) -> Result<SimTime, Stop> {
        self.arrivals.schedule_next(&mut self.machine.events);
        for k in 0..self.interferers.len() {
            self.schedule_interference(k, SimTime::ZERO);
        }
        if let Some(interval) = self.policy.tick_interval() {
            self.machine
                .events
                .schedule(SimTime::ZERO + interval, Event::PolicyTick);
        }
        let run = &self.scenario.scenario.run;
        let (drain, drain_limit) = (run.drain, run.drain_limit.0);
        let mut last = SimTime::ZERO;
        let end = loop {
            let next = self.machine.events.peek_time();
            let cutoff = self.arrivals.cutoff();
            let limit = (!self.arrivals.is_open())
                .then(|| if drain { cutoff + drain_limit } else { cutoff });
            let outstanding = clock.outstanding(&self.machine);
            if let Some(limit) = limit
                && outstanding == 0
            {
                let drained = self.plane.in_flight() == 0;
                match next {
                    None => break last.max(cutoff),
                    Some(t) if t > limit => break limit.max(last),
                    Some(t) if drained && t > cutoff => break last.max(cutoff),
                    Some(_) => {}
                }
            }
            if next.is_none() && limit.is_none() && outstanding == 0 {
                break last; // Nothing can happen any more.
            }
            // A wall clock waits for the next event (no later than the end) or a completion.
            let until = match (next, limit) {
                (Some(t), Some(l)) => Some(t.min(l)),
                (t, l) => t.or(l),
            };
            if let Some(wall) = clock.wait(&mut self.machine, until).map_err(Stop::Live)? {
                let due = self.machine.events.peek_time();
                if let Some(l) = limit
                    && wall >= l
                    && due.is_none_or(|t| t > l)
                {
                    break l.max(last);
                }
                if due.is_none_or(|t| t > wall) {
                    continue;
                }
            }
            let Some((now, event)) = self.machine.events.pop() else {
                break last;
            };
            last = now;
            self.handle(event);
            match self.machine.engines.settle() {
                Settled::Unchanged => {}
                Settled::Next { at, generation } => self
                    .machine
                    .events
                    .replace_single(Some((at.max(now), Event::FluidCheck { generation }))),
                Settled::Nothing => self.machine.events.replace_single(None),
            }
            if let Some(e) = clock.take_error(&mut self.machine) {
                return Err(Stop::Live(e));
            }
            if self
                .machine
                .events
                .events_processed()
                .is_multiple_of(OBSERVE_EVERY_EVENTS)
                && observe(&self.progress()).is_break()
            {
                return Err(Stop::Cancelled(last));
            }
        };
        let mut done = self.progress();
        done.fraction = 1.0;
        if observe(&done).is_break() {
            return Err(Stop::Cancelled(end));
        }
        Ok(end)
    }

    fn handle(&mut self, event: Event) {
        let ctx = &mut self.machine.ctx();
        match event {
            Event::Arrival => {
                let (stream, known) = self.arrivals.arrived();
                let draws = &mut self.draws[stream];
                // Only the scenario's own stream may size its requests.
                let (tokens, slo) = match &self.scenario.sizing {
                    Some(sizing) if stream == 0 => {
                        let tokens = sizing.tokens(known.tokens);
                        (tokens, sizing.slo(tokens))
                    }
                    _ => (RequestTokens::default(), draws.slo),
                };
                // The network delay already spent counts against the objective.
                let budget = draws.budget(&known, slo);
                ctx.recorder.arrival(ctx.now());
                ctx.recorder
                    .stream_outcome(stream, crate::metrics::StreamEvent::Arrival);
                self.plane.admit(ctx, stream, tokens, budget);
                self.arrivals.schedule_next(ctx.events);
            }
            Event::FluidCheck { generation } => {
                if !ctx.engines.is_current(generation) {
                    return;
                }
                let now = ctx.now();
                while let Some(work) = ctx.engines.pop_finished(now) {
                    match work {
                        Work::Batch(batch) => self.plane.on_batch_work_done(ctx, batch),
                        Work::Transfer(transfer) => self.plane.on_transfer_work_done(ctx, transfer),
                        // Its work outlasts its window (`Interference::work`).
                        Work::Interference(_) => {}
                    }
                }
            }
            Event::Interference { index, starts } => self.on_interference(index as usize, starts),
            Event::Plane(event) => self.plane.handle(ctx, event),
            Event::Executor(event) => self.plane.on_executor_event(ctx, event),
            Event::PolicyTick => self.on_policy_tick(),
        }
    }

    /// Schedules the start of interferer `k`'s next window at or after `after`, if it has one.
    fn schedule_interference(&mut self, k: usize, after: SimTime) {
        let it = &mut self.interferers[k];
        it.pending = it.windows.next(after);
        if let Some((start, _)) = it.pending {
            self.machine.events.schedule(
                start,
                Event::Interference {
                    index: k as u32,
                    starts: true,
                },
            );
        }
    }

    /// Interferer `k`'s window starts (its activity joins the engines until the window's end)
    /// or ends (the activity is cancelled and the next window scheduled).
    fn on_interference(&mut self, k: usize, starts: bool) {
        let now = self.machine.now();
        let cpu = self.machine.engines.cpu();
        let it = &mut self.interferers[k];
        if starts {
            let Some((start, end)) = it.pending.take() else {
                return;
            };
            let work = self.scenario.interference[k].work(k, start, end, cpu);
            let id =
                self.machine
                    .engines
                    .start_compute(now, work, 1.0, Work::Interference(k as u32));
            it.running = Some((id, start, end));
            it.report.windows += 1;
            if it.report.windows_s.len() < MAX_REPORTED_WINDOWS {
                it.report
                    .windows_s
                    .push([start.as_secs_f64(), end.as_secs_f64()]);
            }
            self.machine.events.schedule(
                end,
                Event::Interference {
                    index: k as u32,
                    starts: false,
                },
            );
        } else if let Some((id, start, end)) = it.running.take() {
            self.machine.engines.cancel(now, id);
            it.report.active_s += end.saturating_since(start).as_secs_f64();
            self.schedule_interference(k, end);
        }
    }

    /// Where the run stands now.
    fn progress(&self) -> RunProgress {
        let now = self.machine.now();
        RunProgress {
            sim_time_s: now.as_secs_f64(),
            fraction: self.arrivals.fraction_done(now),
            arrivals: self.arrivals.count(),
            events: self.machine.events.events_processed(),
        }
    }

    /// Whether the run is still going for the policy: arrivals to come, requests in flight, or
    /// simulated time left before the end of the arrival period.
    fn still_running(&self) -> bool {
        self.arrivals.is_open()
            || self.plane.in_flight() > 0
            || self.machine.now() < self.arrivals.cutoff()
    }

    // ----- report ---------------------------------------------------------------------------

    /// The accuracy stream `stream` served: per variant for a family, or the one model of a
    /// one-stage app; `None` for a pipeline or a model without a published accuracy.
    fn accuracy(&self, stream: usize) -> Option<crate::report::AccuracyReport> {
        let own = &self.scenario.streams[stream];
        let models = &self.scenario.models[own.stages.clone()];
        if !own.variants && models.len() != 1 {
            return None;
        }
        // Its routes: one per variant, or its one.
        let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
        crate::report::AccuracyReport::new(
            &names,
            self.plane.stream_route_weights(stream),
            &self.plane.route_tallies()[self.plane.stream_routes(stream)],
        )
    }

    /// The report of the run ended at `end`; `interrupted` when its observer stopped it there.
    fn finish(self, end: SimTime, interrupted: bool) -> Report {
        let mut stream_accuracy: Vec<_> = (0..self.scenario.streams.len())
            .map(|k| self.accuracy(k))
            .collect();
        // The top-level accuracy is the own stream's.
        let accuracy = stream_accuracy[0].clone();
        let events_processed = self.machine.events.events_processed();
        let rs = &self.scenario;
        let instances = self.plane.instances();
        let layout = self.plane.layout();
        let partitions = self
            .plane
            .partitions()
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let mut counts = std::collections::BTreeMap::new();
                for &i in &p.instances {
                    let inst = &instances[i as usize];
                    if inst.accepts() {
                        *counts
                            .entry(rs.device.accelerators[inst.accel as usize].name.clone())
                            .or_insert(0u32) += 1;
                    }
                }
                PartitionReport {
                    stage: p.stage,
                    model: rs.models[p.stage].name.clone(),
                    first_op: p.ops.start + 1,
                    last_op: p.ops.end,
                    instances: counts,
                    retired_s: p.retired.map(SimTime::as_secs_f64),
                    building: p.retired.is_none() && !layout.contains(&(k as u32)),
                }
            })
            .collect();
        let summary = self.machine.recorder.finish(end, self.plane.in_flight());
        // The policy's scalings and the instances repartitionings switched, in time order.
        let mut scaling_events = self.scaling_events;
        scaling_events.extend(self.plane.relayout_changes().iter().map(|c| ScalingEvent {
            time_s: c.at.as_secs_f64(),
            partition: c.partition as usize,
            accelerator: rs.device.accelerators[c.accelerator as usize].name.clone(),
            delta: c.delta,
        }));
        scaling_events.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        let interference = self
            .interferers
            .into_iter()
            .map(|mut i| {
                // A window still running when the run ends counts up to the end.
                if let Some((_, start, _)) = i.running {
                    i.report.active_s += end.saturating_since(start).as_secs_f64();
                }
                i.report
            })
            .collect();
        let streams = if rs.streams.len() > 1 {
            rs.streams
                .iter()
                .zip(self.plane.stream_tallies())
                .zip(stream_accuracy.drain(..))
                .map(|((s, tally), accuracy)| {
                    let who = (s.name.as_str(), s.app_name.as_str(), s.slo.as_ms_f64());
                    StreamReport::new(who, tally, summary.duration_s, accuracy)
                })
                .collect()
        } else {
            Vec::new()
        };
        // With several streams, every stream's app.
        let app = rs
            .streams
            .iter()
            .map(|s| s.app_name.as_str())
            .collect::<Vec<_>>()
            .join(" + ");
        Report {
            scenario: rs.name.clone(),
            app,
            policy: self.policy.name().to_string(),
            device: rs.device.name.clone(),
            seed: self.seed,
            transport: self.plane.transport_kind().name().to_string(),
            process_layout: self.plane.census().layout().name().to_string(),
            isolated_latency_ms: rs.isolated_latency.as_ms_f64(),
            summary,
            partitions,
            refused_instances: self.plane.refused_instances(),
            instance_memory_peak: self.plane.instance_memory_peak(),
            scaling_events,
            tensor_sharing: self.plane.sharing_pools().to_vec(),
            events_processed,
            interrupted,
            interference,
            reconfigurations: self.plane.reconfigurations().to_vec(),
            resizes: self.resizes,
            refused_reconfigurations: self.plane.refused_reconfigurations(),
            search: self.policy.search(),
            accuracy,
            streams,
        }
    }
}
