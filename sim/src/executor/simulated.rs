//! Simulated execution: a batch runs its execution plan ([`crate::model::cost::plan`]) segment
//! by segment on the engines, each segment's work a fluid activity sharing its engine and the
//! memory bandwidth max-min fairly, followed by its fixed (launch) time. A DLA core runs one
//! segment at a time; others wait in FIFO order.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use rand_distr::{Distribution, Exp1, StandardNormal};
use serde::{Deserialize, Serialize};

use super::wakeups::{Sleeper, Wake, Wakeups};
use super::{BatchInfo, ExecContext, Executor, InstanceInfo};
use crate::engines::{ComputeWork, Work};
use crate::event::ExecEvent;
use crate::hardware::AcceleratorKind;
use crate::hardware::profile::DeviceProfile;
use crate::model::Operator;
use crate::model::cost::Target;
use crate::model::cost::{self, ExecPlan};
use crate::model::measured::MeasuredTimes;
use crate::model::runtime::RuntimeProfile;
use crate::model::tokens::{Shape, TokenModel};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use crate::workload::RequestTokens;

/// Variability of execution times around the cost model's figure (a multiplicative factor with
/// mean 1, drawn per batch from the run's `service` stream).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServiceTime {
    /// Exactly the cost model's time.
    #[default]
    Deterministic,
    /// Exponentially distributed with the cost model's time as mean (for queueing-theory checks).
    Exponential,
    /// Log-normal with the cost model's time as mean and coefficient of variation `cv`
    /// (measured jitter: REFERENCE.md §7 saw cv 0.11–0.21 for a conv on a shared CPU).
    Lognormal {
        /// Coefficient of variation (standard deviation / mean), ≥ 0.
        cv: f64,
    },
}

/// The executor of simulated runs, on the virtual clock.
#[derive(Debug)]
pub struct SimulatedExecutor {
    device: Arc<DeviceProfile>,
    measured: Option<Arc<MeasuredTimes>>,
    /// The operators of each deployed partition, in pipeline order, and the runtime of its GPU
    /// work.
    partitions: Vec<(Arc<[Operator]>, Arc<RuntimeProfile>)>,
    service_time: ServiceTime,
    service_rng: SimRng,
    /// Execution plans, computed once per (partition, accelerator, cores, batch size, shape).
    plans: Vec<ExecPlan>,
    /// Per partition: the keys of its plans and their index in `plans` — a handful each
    /// without request sizes, so a scan beats hashing.
    plan_index: Vec<Vec<(PlanKey, u32)>>,
    /// Where requests differ in size: the app's stages at every size, and each partition's
    /// stage and operator range.
    tokens: Option<SizedPartitions>,
    /// The plan of each batch that runs at its requests' size, by batch id (a batch whose
    /// `plan` is [`SIZED_PLAN`]).
    sized_plans: Vec<ExecPlan>,
    /// State of the batches in execution, by batch id (ids are reused).
    batches: Vec<RunningBatch>,
    slots: Vec<Slots>,
    /// Measured times of runs that start after idle time, where the profiles have them.
    after_idle: Option<ConditionTimes>,
    /// Measured times of runs beside other sessions on the CPU, where the profiles have them.
    corun: Option<ConditionTimes>,
    /// Per instance id: since when it has been idle (`None`: running a batch). An instance
    /// is idle from the start of the run until its first batch. Kept only with `after_idle`.
    idle_since: Vec<Option<SimTime>>,
    /// The serving process's thread wake-ups, where a profile measured them.
    wakeups: Option<Wakeups>,
}

/// A partition's measured times under a condition (after idle time, beside other sessions), as
/// ratios to its back-to-back times.
#[derive(Debug)]
struct ConditionTimes {
    times: MeasuredTimes,
    /// Per partition: (accelerator, cores, batch size, time under the condition / back-to-back
    /// time), as asked.
    ratios: Vec<Vec<(u32, u32, u32, f64)>>,
}

impl ConditionTimes {
    fn new(times: MeasuredTimes, partitions: usize) -> Self {
        ConditionTimes {
            times,
            ratios: vec![Vec::new(); partitions],
        }
    }

    /// The condition's time of a batch of `batch` requests of partition `p` over its
    /// back-to-back time (`hot`), 1 where either does not measure the partition whole.
    fn ratio(
        &mut self,
        hot: &MeasuredTimes,
        device: &DeviceProfile,
        partitions: &[(Arc<[Operator]>, Arc<RuntimeProfile>)],
        (p, accel, cores, batch): (usize, u32, u32, u32),
    ) -> f64 {
        if let Some(&(.., r)) = self.ratios[p]
            .iter()
            .find(|&&(a, c, b, _)| (a, c, b) == (accel, cores, batch))
        {
            return r;
        }
        let (operators, runtime) = &partitions[p];
        let covered = self.times.measures_partition(operators, accel as usize)
            && hot.measures_partition(operators, accel as usize);
        let r = if covered {
            let solo = |times: &MeasuredTimes| {
                let target = Target::new(device, runtime).with_measured(Some(times));
                cost::plan(operators, batch, accel as usize, cores, target).solo_ns()
            };
            let (hot, under) = (solo(hot), solo(&self.times));
            if hot > 0 {
                under as f64 / hot as f64
            } else {
                1.0
            }
        } else {
            1.0
        };
        self.ratios[p].push((accel, cores, batch, r));
        r
    }
}

/// `RunningBatch::plan` of a batch whose plan is its own (`SimulatedExecutor::sized_plans`).
const SIZED_PLAN: u32 = u32::MAX;

/// What a partition's plan is computed for: (accelerator, cores, batch size, shape key).
type PlanKey = (u32, u32, u32, u32);

/// The app's stages at every request size, and each deployed partition's stage and operator
/// range.
#[derive(Debug)]
struct SizedPartitions {
    model: Arc<TokenModel>,
    ranges: Vec<(usize, Range<usize>)>,
}

/// The plan cache's key of a shape (0: the partition's own operators).
fn shape_key(shape: Option<Shape>) -> u32 {
    match shape {
        None => 0,
        Some(Shape::Prefill { tokens }) => 1 + 2 * tokens,
        Some(Shape::Decode { past }) => 2 + 2 * past,
    }
}

/// A batch in execution.
#[derive(Clone, Copy, Debug, Default)]
struct RunningBatch {
    /// Index of its plan in the cache.
    plan: u32,
    /// Segment being executed.
    segment: usize,
    /// Service-time factor drawn for this batch (1 for deterministic service).
    factor: f64,
    /// Its instance's accelerator, cores and engine share.
    instance_accel: u32,
    cpu_cores: u32,
    compute_share: f64,
    /// Its instance's serving process.
    process: u32,
    /// Its instance.
    instance: u32,
}

/// Execution slots of one accelerator: a DLA core runs one segment at a time.
#[derive(Clone, Debug, Default)]
struct Slots {
    /// Most segments running at once (`None`: unlimited, they share the engine).
    max_concurrent: Option<u32>,
    /// Segments running.
    running: u32,
    /// Batches waiting for a slot, oldest first.
    waiting: VecDeque<u32>,
}

impl SimulatedExecutor {
    /// The executor of the deployed `partitions` (each one's operators, in pipeline order) on
    /// `device` (each partition under its runtime), with `measured` times where a profile gives
    /// them, drawing `service_time` factors from `service_rng` and the measured wake-ups with no
    /// core free from `wake_rng`.
    pub fn new(
        device: Arc<DeviceProfile>,
        measured: Option<Arc<MeasuredTimes>>,
        partitions: Vec<(Arc<[Operator]>, Arc<RuntimeProfile>)>,
        service_time: ServiceTime,
        service_rng: SimRng,
        wake_rng: SimRng,
    ) -> Self {
        let slots = device
            .accelerators
            .iter()
            .map(|a| Slots {
                max_concurrent: (a.kind == AcceleratorKind::Dla).then_some(1),
                ..Default::default()
            })
            .collect();
        let condition = |pick: fn(&MeasuredTimes) -> Option<MeasuredTimes>| {
            measured
                .as_deref()
                .and_then(pick)
                .map(|times| ConditionTimes::new(times, partitions.len()))
        };
        let wakeups = measured
            .as_deref()
            .and_then(MeasuredTimes::wakeups)
            .map(|times| Wakeups::new(times.clone(), wake_rng));
        SimulatedExecutor {
            wakeups,
            plan_index: vec![Vec::new(); partitions.len()],
            tokens: None,
            sized_plans: Vec::new(),
            idle_since: Vec::new(),
            after_idle: condition(MeasuredTimes::after_idle),
            corun: condition(MeasuredTimes::corun),
            device,
            measured,
            partitions,
            service_time,
            service_rng,
            plans: Vec::new(),
            batches: Vec::new(),
            slots,
        }
    }

    /// Runs batches at their requests' size (see [`crate::model::tokens`]): `model` has the
    /// app's stages at every size, `partitions` each deployed partition's stage and operator
    /// range (in the order of the partitions given to [`new`](Self::new)).
    pub fn with_tokens(
        mut self,
        model: Arc<TokenModel>,
        partitions: Vec<(usize, Range<usize>)>,
    ) -> Self {
        assert_eq!(
            partitions.len(),
            self.partitions.len(),
            "one range per partition"
        );
        self.tokens = Some(SizedPartitions {
            model,
            ranges: partitions,
        });
        self
    }

    /// The execution plan of `partition` on `accel` at `batch` (at `shape` where the batch
    /// runs at its requests' size), computed once and cached.
    fn plan_for(
        &mut self,
        partition: u32,
        accel: u32,
        cores: u32,
        batch: u32,
        shape: Option<Shape>,
    ) -> u32 {
        let p = partition as usize;
        let key = (accel, cores, batch, shape_key(shape));
        if let Some(&(_, idx)) = self.plan_index[p].iter().find(|(k, _)| *k == key) {
            return idx;
        }
        let (operators, runtime) = &self.partitions[p];
        let operators: &[Operator] = match (shape, &self.tokens) {
            (Some(shape), Some(sized)) => {
                let (stage, range) = &sized.ranges[p];
                &sized.model.operators(*stage, shape)[range.clone()]
            }
            _ => operators,
        };
        let plan = cost::plan(
            operators,
            batch,
            accel as usize,
            cores,
            Target::new(&self.device, runtime).with_measured(self.measured.as_deref()),
        );
        let idx = self.plans.len() as u32;
        self.plans.push(plan);
        self.plan_index[p].push((key, idx));
        idx
    }

    /// The plan of a batch of `n` requests of `partition` whose longest prompt and generation
    /// are `tokens`: its passes one after another, a pass that repeats (decode steps at one
    /// cache length) as one segment per engine with `count` times the work, launch time and
    /// memory traffic — the same time alone; under contention the repeats are not interleaved
    /// with other work. `None` where the partition's stage does not depend on the size.
    fn sized_plan(
        &mut self,
        partition: u32,
        accel: u32,
        cores: u32,
        n: u32,
        tokens: RequestTokens,
    ) -> Option<ExecPlan> {
        let sized = self.tokens.as_ref()?;
        let stage = sized.ranges[partition as usize].0;
        let passes = sized.model.passes(stage, tokens);
        if passes.is_empty() {
            return None;
        }
        let mut segments = Vec::new();
        for (shape, count) in passes {
            let idx = self.plan_for(partition, accel, cores, n, Some(shape));
            segments.extend(
                self.plans[idx as usize]
                    .segments
                    .iter()
                    .map(|s| s.repeated(count)),
            );
        }
        Some(ExecPlan { segments })
    }

    /// How much longer a batch of `batch` requests of `partition` takes when its instance has
    /// been idle for `idle` than right after another batch: the profiles' after-idle time over
    /// their back-to-back time, reached linearly over the idle time they were measured after
    /// (`[assumed]` shape: two measured points, nothing between them), 1 where not measured.
    fn after_idle_factor(
        &mut self,
        partition: u32,
        accel: u32,
        cores: u32,
        batch: u32,
        idle: SimDuration,
    ) -> f64 {
        let (Some(after), Some(measured)) = (&mut self.after_idle, &self.measured) else {
            return 1.0;
        };
        let gap = measured.after_idle_ns(accel as usize);
        if gap == 0 {
            return 1.0;
        }
        let key = (partition as usize, accel, cores, batch);
        let ratio = after.ratio(measured, &self.device, &self.partitions, key);
        let reached = (idle.as_ns() as f64 / gap as f64).min(1.0);
        1.0 + (ratio - 1.0) * reached
    }

    /// How much longer a batch of `batch` requests of `partition` on the CPU takes while
    /// other work holds `busy` of its cores than alone: the profiles' co-run time (other
    /// sessions kept `corun_cores` cores busy) over their back-to-back time, reached linearly
    /// as the other busy cores approach `corun_cores` (`[assumed]` shape), fixed for the
    /// batch at its start; 1 where not measured.
    fn corun_factor(
        &mut self,
        partition: u32,
        accel: u32,
        cores: u32,
        batch: u32,
        busy: f64,
    ) -> f64 {
        let (Some(corun), Some(measured)) = (&mut self.corun, &self.measured) else {
            return 1.0;
        };
        let others = measured.corun_cores(accel as usize);
        if others == 0 || busy <= 0.0 {
            return 1.0;
        }
        let key = (partition as usize, accel, cores, batch);
        let ratio = corun.ratio(measured, &self.device, &self.partitions, key);
        let reached = (busy / f64::from(others)).min(1.0);
        1.0 + (ratio - 1.0) * reached
    }

    /// A service-time factor with mean 1 (exactly 1 for deterministic service).
    fn draw_service_factor(&mut self) -> f64 {
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

    /// The plan batch `batch` runs.
    /// The time of `batch`'s plan alone on the device, its work scaled by the batch's
    /// service-time factor.
    fn solo_time_ns(&self, batch: u32) -> u64 {
        let factor = self.batches[batch as usize].factor;
        let ns: f64 = self
            .plan_of(batch)
            .segments
            .iter()
            .map(|s| s.fixed_ns as f64 + s.work_ns as f64 * factor)
            .sum();
        ns.round() as u64
    }

    fn plan_of(&self, batch: u32) -> &ExecPlan {
        match self.batches[batch as usize].plan {
            SIZED_PLAN => &self.sized_plans[batch as usize],
            plan => &self.plans[plan as usize],
        }
    }

    fn segment(&self, batch: u32) -> cost::Segment {
        self.plan_of(batch).segments[self.batches[batch as usize].segment]
    }

    /// Capacity units the batch's current segment holds on its engine.
    fn segment_units(&self, ctx: &ExecContext<'_>, batch: u32) -> f64 {
        let seg = self.segment(batch);
        ctx.engines
            .units(seg.accel, self.batches[batch as usize].cpu_cores)
    }

    /// Starts the batch's current segment, or queues it for a slot of its engine.
    fn start_segment(&mut self, ctx: &mut ExecContext<'_>, batch: u32) {
        let accel = self.segment(batch).accel;
        let slot = &mut self.slots[accel];
        if slot.max_concurrent.is_some_and(|m| slot.running >= m) {
            slot.waiting.push_back(batch);
            return;
        }
        slot.running += 1;
        let units = self.segment_units(ctx, batch);
        let now = ctx.now();
        ctx.engines.occupy(now, accel, units, ctx.recorder);
        self.note_cores_held(ctx, accel);
        self.begin_segment_work(ctx, batch);
    }

    /// Tells the wake-ups how much of the CPU batches hold, after a change on `accel`.
    fn note_cores_held(&mut self, ctx: &ExecContext<'_>, accel: usize) {
        let cpu = ctx.engines.cpu();
        if accel != cpu {
            return;
        }
        if let Some(w) = self.wakeups.as_mut() {
            let share = ctx.engines.held(cpu) / ctx.engines.capacity(cpu);
            w.cores_held(ctx.now(), share.clamp(0.0, 1.0));
        }
    }

    fn begin_segment_work(&mut self, ctx: &mut ExecContext<'_>, batch: u32) {
        let seg = self.segment(batch);
        if seg.work_ns == 0 {
            self.segment_work_done(ctx, batch);
            return;
        }
        // A per-instance compute cap on its own engine bounds the activity's rate: at rate x it
        // uses x · compute_demand of the engine, so x ≤ share / compute_demand.
        let b = self.batches[batch as usize];
        let share = b.compute_share;
        let bound =
            if b.instance_accel as usize == seg.accel && share < 1.0 && seg.compute_demand > 0.0 {
                (share / seg.compute_demand).min(1.0)
            } else {
                1.0
            };
        let work = ComputeWork {
            accel: seg.accel,
            work_ns: seg.work_ns,
            factor: b.factor,
            compute_demand: seg.compute_demand,
            slice_demand: seg.slice_demand,
            host_demand: seg.host_demand,
            mem_bytes: seg.mem_bytes,
            process: b.process,
        };
        let now = ctx.now();
        ctx.engines
            .start_compute(now, work, bound, Work::Batch(batch));
    }

    fn segment_work_done(&mut self, ctx: &mut ExecContext<'_>, batch: u32) {
        let factor = self.batches[batch as usize].factor;
        let fixed = (self.segment(batch).fixed_ns as f64 * factor).round() as u64;
        if fixed > 0 {
            let at = ctx.now() + SimDuration::from_ns(fixed);
            ctx.schedule(at, ExecEvent::SegmentFixedDone { batch });
        } else {
            self.end_segment(ctx, batch);
        }
    }

    /// The batch's current segment ended: its slot goes to the next waiting batch, and the
    /// batch goes on to its next segment or ends.
    fn end_segment(&mut self, ctx: &mut ExecContext<'_>, batch: u32) {
        let (accel, last) = {
            let segment = self.batches[batch as usize].segment;
            let plan = self.plan_of(batch);
            (
                plan.segments[segment].accel,
                segment + 1 == plan.segments.len(),
            )
        };
        let units = self.segment_units(ctx, batch);
        let now = ctx.now();
        ctx.engines.occupy(now, accel, -units, ctx.recorder);
        let slot = &mut self.slots[accel];
        slot.running -= 1;
        if let Some(next) = slot.waiting.pop_front() {
            slot.running += 1;
            let units = self.segment_units(ctx, next);
            ctx.engines.occupy(now, accel, units, ctx.recorder);
            self.begin_segment_work(ctx, next);
        }
        self.note_cores_held(ctx, accel);
        if accel == ctx.engines.cpu() {
            // Threads that wait for a core take the ones this batch freed.
            let free = (ctx.engines.capacity(accel) - ctx.engines.held(accel) + 1e-9).floor();
            for _ in 0..(units.min(free.max(0.0)) as u32) {
                let Some((sleeper, at)) = self.wakeups.as_mut().and_then(|w| w.core_freed(now))
                else {
                    break;
                };
                ctx.schedule(at, Self::awake_event(sleeper));
            }
        }
        if last {
            let instance = self.batches[batch as usize].instance as usize;
            if let Some(since) = self.idle_since.get_mut(instance) {
                *since = Some(now);
            }
            // Its thread reports the end, holding its core while it wakes the loop; the batch
            // ends for the serving model when the loop takes the result.
            match self.wakeups.as_mut() {
                Some(w) => {
                    let gives_back = w.batch_ended(batch);
                    if w.reported(batch) {
                        let _ = self.begin_wake(ctx, Sleeper::Loop, true);
                    }
                    if gives_back {
                        // The loop, held since it sent this batch, gets its core back.
                        self.awake(ctx, Sleeper::Loop);
                    }
                }
                None => ctx.finished(batch),
            }
        } else {
            self.batches[batch as usize].segment += 1;
            self.start_segment(ctx, batch);
        }
    }

    /// Begins waking `sleeper` (threads wake on CPU cores, whatever their accelerator); returns
    /// whether batches held every core but the waker's. `waker_holds`: whether the waking
    /// thread holds a core meanwhile (the loop, which wakes an instance thread, until it sleeps
    /// again; an instance thread whose batch just ended, while it wakes the loop with the end;
    /// not a timer, whose loop's wake-up takes the timer's lateness where measured).
    fn begin_wake(
        &mut self,
        ctx: &mut ExecContext<'_>,
        sleeper: Sleeper,
        waker_holds: bool,
    ) -> bool {
        let cpu = ctx.engines.cpu();
        let no_core_free = ctx.engines.held(cpu) + f64::from(u8::from(waker_holds))
            >= ctx.engines.capacity(cpu) - 1e-9;
        let Some(w) = self.wakeups.as_mut() else {
            return no_core_free;
        };
        let now = ctx.now();
        let on_timer = sleeper == Sleeper::Loop && !waker_holds;
        match w.wake(now, sleeper, no_core_free, on_timer) {
            Wake::After(d) => ctx.schedule(now + d, Self::awake_event(sleeper)),
            Wake::Waiting { within, token } => {
                ctx.schedule(now + within, ExecEvent::WakeWaitOver { token });
            }
        }
        no_core_free
    }

    /// The event of `sleeper` running.
    fn awake_event(sleeper: Sleeper) -> ExecEvent {
        match sleeper {
            Sleeper::Loop => ExecEvent::LoopAwake,
            Sleeper::Instance { batch } => ExecEvent::InstanceAwake { batch },
        }
    }

    /// `sleeper` runs: the loop takes the results reported meanwhile (their batches end) and
    /// sends the batches dispatched meanwhile one by one (waking their instance threads) until
    /// a send keeps it from running, then runs on to send what the results started; an
    /// instance thread runs its batch.
    fn awake(&mut self, ctx: &mut ExecContext<'_>, sleeper: Sleeper) {
        match sleeper {
            Sleeper::Loop => {
                let Some(w) = self.wakeups.as_mut() else {
                    return;
                };
                let results = w.take_results();
                for &batch in &results {
                    ctx.finished(batch);
                }
                let mut sends = w.loop_runs().into_iter();
                while let Some(batch) = sends.next() {
                    let no_core_free = self.begin_wake(ctx, Sleeper::Instance { batch }, true);
                    let Some(w) = self.wakeups.as_mut() else {
                        return;
                    };
                    let now = ctx.now();
                    let held = w.send(no_core_free, w.recent_utilisation(now));
                    if held > SimDuration::ZERO {
                        // The rest, and batches dispatched meanwhile, go when it runs again.
                        let token = w.loop_held(batch, sends.collect());
                        ctx.schedule(now + held, ExecEvent::LoopHoldOver { token });
                        return;
                    }
                }
                if !results.is_empty() {
                    // The ends are handled when this call returns; what they dispatch now is
                    // sent by the loop still awake.
                    if let Some(w) = self.wakeups.as_mut() {
                        w.runs_on();
                    }
                    ctx.schedule(ctx.now(), ExecEvent::LoopAwake);
                }
            }
            Sleeper::Instance { batch } => self.start_segment(ctx, batch),
        }
    }
}

impl Executor for SimulatedExecutor {
    fn add_partition(&mut self, partition: super::NewPartition<'_>) -> Result<(), String> {
        self.partitions
            .push((partition.operators.clone(), partition.runtime.clone()));
        self.plan_index.push(Vec::new());
        for condition in [&mut self.after_idle, &mut self.corun]
            .into_iter()
            .flatten()
        {
            condition.ratios.push(Vec::new());
        }
        if let Some(sized) = &mut self.tokens {
            sized.ranges.push((partition.stage, partition.ops.clone()));
        }
        Ok(())
    }

    fn instance_created(&mut self, _instance: InstanceInfo) {}

    fn instance_stopped(&mut self, _instance: u32) {}

    fn instance_resized(&mut self, _instance: u32, _cpu_cores: u32) -> Result<(), String> {
        // Every batch is planned with its instance's cores when it is submitted.
        Ok(())
    }

    fn submit(&mut self, ctx: &mut ExecContext<'_>, batch: BatchInfo<'_>) {
        let n = batch.requests.len() as u32;
        let id = batch.batch as usize;
        let sized = batch.tokens.and_then(|tokens| {
            self.sized_plan(
                batch.partition,
                batch.accelerator,
                batch.cpu_cores,
                n,
                tokens,
            )
        });
        let plan = match sized {
            Some(plan) => {
                if self.sized_plans.len() <= id {
                    self.sized_plans.resize(id + 1, ExecPlan::default());
                }
                self.sized_plans[id] = plan;
                SIZED_PLAN
            }
            None => self.plan_for(batch.partition, batch.accelerator, batch.cpu_cores, n, None),
        };
        let mut factor = self.draw_service_factor();
        if self.after_idle.is_some() {
            let instance = batch.instance as usize;
            if self.idle_since.len() <= instance {
                // An instance not seen before has run nothing since the run began.
                self.idle_since.resize(instance + 1, Some(SimTime::ZERO));
            }
            if let Some(since) = self.idle_since[instance].take() {
                factor *= self.after_idle_factor(
                    batch.partition,
                    batch.accelerator,
                    batch.cpu_cores,
                    n,
                    ctx.now().saturating_since(since),
                );
            }
        }
        if self.corun.is_some() && batch.accelerator as usize == ctx.engines.cpu() {
            let busy = ctx.engines.held(batch.accelerator as usize);
            factor *=
                self.corun_factor(batch.partition, batch.accelerator, batch.cpu_cores, n, busy);
        }
        if self.batches.len() <= id {
            self.batches.resize(id + 1, RunningBatch::default());
        }
        self.batches[id] = RunningBatch {
            plan,
            segment: 0,
            factor,
            instance_accel: batch.accelerator,
            cpu_cores: batch.cpu_cores,
            compute_share: batch.compute_share,
            process: batch.process,
            instance: batch.instance,
        };
        match self.wakeups.as_mut() {
            Some(w) => {
                if w.dispatched(batch.batch) {
                    // A timer woke the loop (an arrival, a batching timeout): it holds no core.
                    let _ = self.begin_wake(ctx, Sleeper::Loop, false);
                }
            }
            None => self.start_segment(ctx, batch.batch),
        }
    }

    fn on_event(&mut self, ctx: &mut ExecContext<'_>, event: ExecEvent) {
        match event {
            ExecEvent::SegmentFixedDone { batch } => self.end_segment(ctx, batch),
            ExecEvent::InstanceAwake { batch } => self.awake(ctx, Sleeper::Instance { batch }),
            ExecEvent::LoopAwake => self.awake(ctx, Sleeper::Loop),
            ExecEvent::LoopHoldOver { token } => {
                if self.wakeups.as_mut().is_some_and(|w| w.hold_over(token)) {
                    self.awake(ctx, Sleeper::Loop);
                }
            }
            ExecEvent::WakeWaitOver { token } => {
                if let Some(sleeper) = self.wakeups.as_mut().and_then(|w| w.wait_over(token)) {
                    self.awake(ctx, sleeper);
                }
            }
            ExecEvent::LiveBatchDone { .. } => {
                debug_assert!(false, "a live batch event in a simulated run");
            }
        }
    }

    fn on_work_done(&mut self, ctx: &mut ExecContext<'_>, batch: u32) {
        self.segment_work_done(ctx, batch);
    }

    fn release(&mut self, _request: u32) {}

    fn solo_ns(&self, batch: u32) -> Option<u64> {
        Some(self.solo_time_ns(batch))
    }
}
