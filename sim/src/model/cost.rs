//! How long operators take on an accelerator, and what an instance of a partition holds in memory.
//!
//! Each operator follows a roofline:
//!
//! ```text
//! t = max(flops·b / (peak × eff(kind)), bytes_moved(b) / bandwidth) + launch
//! ```
//!
//! where `eff` is the engine's dense or other efficiency (see `OpKind::is_dense_math`), bytes
//! are counted at the engine's precision ([`Operator::bytes_moved`]), and `bandwidth` is the
//! DRAM bandwidth × the engine's bandwidth efficiency, capped by the engine's port limit and, on
//! the CPU, by one core's copy rate per core held.
//!
//! A partition (a slice of operators) run at batch `b` on one engine becomes an [`ExecPlan`]:
//! sequential [`Segment`]s, each run by the fluid simulator as one activity. On a DLA, operators
//! it does not support run on the GPU (TensorRT's GPU fallback: TensorRT Developer Guide, "DLA
//! Runtime Configuration", GPU Fallback Mode), and every DLA↔GPU hand-over costs a reformat —
//! the boundary tensor written and read once more through memory — plus the DLA's fixed
//! `fallback_transition_ns`; both are charged to the GPU segment, where TensorRT runs its
//! reformat layers.

use crate::hardware::AcceleratorKind;
use crate::hardware::profile::{AcceleratorSpec, DeviceProfile};
use crate::model::measured::MeasuredTimes;
use crate::model::runtime::RuntimeProfile;
use crate::model::{ActivationFn, OpKind, Operator};

/// Whether `engine` runs operators of `kind` natively. The DLA runs TensorRT's DLA layer list
/// (TensorRT Developer Guide, "DLA Supported Layers and Restrictions";
/// NVIDIA/Deep-Learning-Accelerator-SW `operators/README.md`): convolution, deconvolution,
/// fully-connected, activations (ReLU, Sigmoid, TanH, Clip, LeakyReLU), pooling, LRN,
/// scale/batch-norm, element-wise, concatenation, resize, softmax and shuffle. Everything
/// else (attention MatMul of two activations, LayerNorm, GELU/SiLU, Gather, RNNs) falls back
/// to the GPU.
pub fn supports(engine: AcceleratorKind, kind: OpKind) -> bool {
    match engine {
        AcceleratorKind::Cpu | AcceleratorKind::Gpu => true,
        AcceleratorKind::Dla => match kind {
            OpKind::Conv
            | OpKind::Deconv
            | OpKind::FullyConnected
            | OpKind::Pooling
            | OpKind::Lrn
            | OpKind::BatchNorm
            | OpKind::Elementwise
            | OpKind::Concat
            | OpKind::Resize
            | OpKind::Softmax
            | OpKind::Shuffle => true,
            OpKind::Activation(f) => matches!(
                f,
                ActivationFn::Relu
                    | ActivationFn::Relu6
                    | ActivationFn::Sigmoid
                    | ActivationFn::Tanh
                    | ActivationFn::LeakyRelu
            ),
            OpKind::MatMul | OpKind::LayerNorm | OpKind::Embedding | OpKind::Recurrent => false,
        },
    }
}

/// Where plans are costed: the device, the runtime that drives its GPU, and measured times that
/// replace the model where they apply.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The device.
    pub device: &'a DeviceProfile,
    /// The execution stack of the GPU (DLAs always run TensorRT; the CPU runs ONNX Runtime as
    /// the device profile's CPU parameters describe).
    pub runtime: &'a RuntimeProfile,
    /// The execution stack of the DLAs: TensorRT, the only one that runs DLA loadables.
    pub dla_runtime: &'a RuntimeProfile,
    /// Measured execution times ([`crate::model::measured`]), if any.
    pub measured: Option<&'a MeasuredTimes>,
}

impl<'a> Target<'a> {
    /// `device` under `runtime`, without measured times.
    pub fn new(device: &'a DeviceProfile, runtime: &'a RuntimeProfile) -> Self {
        Target {
            device,
            runtime,
            dla_runtime: RuntimeProfile::tensorrt_ref(),
            measured: None,
        }
    }

    /// The same target with `measured` times.
    pub fn with_measured(self, measured: Option<&'a MeasuredTimes>) -> Self {
        Target { measured, ..self }
    }
}

/// One activity of an [`ExecPlan`]: consecutive operators on one engine, with the host work that
/// launches them.
///
/// On the GPU and a DLA the segment is a two-stage pipeline: a host thread of the instance's
/// process dispatches each kernel (a [`RuntimeProfile`]'s host times) and the engine runs the
/// kernels in order, each starting when the engine is free and its launch is done. Its solo time
/// is that pipeline's makespan; running at rate `x` it uses `x · host_demand` CPU cores,
/// `x · compute_demand` of the engine when its process has the engine to itself (kernels of
/// streams of one process pack the engine's SMs: only their work counts), `x · slice_demand`
/// when processes time-slice it (a kernel holds the whole engine for its duration), and
/// `x · mem_bytes / work_ns` of the memory bandwidth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// The engine, an index into [`DeviceProfile::accelerators`].
    pub accel: usize,
    /// Fixed latency not subject to sharing (CPU: per-operator dispatch; DLA↔GPU hand-overs),
    /// nanoseconds.
    pub fixed_ns: u64,
    /// Time at full rate when running alone, excluding `fixed_ns`, nanoseconds.
    pub work_ns: u64,
    /// Capacity of the engine used while running at full rate: on the GPU the kernels' work
    /// (time they would take filling the engine) over `work_ns`; on a DLA its busy fraction; on
    /// the CPU the cores held times the compute-bound fraction.
    pub compute_demand: f64,
    /// Fraction of the engine's time the segment's kernels hold it at full rate (≥
    /// `compute_demand` on the GPU): what it costs when processes time-slice the engine.
    pub slice_demand: f64,
    /// CPU cores the host thread uses at full rate (0 on the CPU, whose work is all counted in
    /// `compute_demand`).
    pub host_demand: f64,
    /// Bytes moved through unified memory by this segment.
    pub mem_bytes: u64,
}

impl Segment {
    /// Time of the segment running alone, nanoseconds.
    pub fn solo_ns(&self) -> u64 {
        self.fixed_ns.saturating_add(self.work_ns)
    }

    /// The segment run `count` times back to back, as one: `count` times the work, fixed time
    /// and memory traffic at the same demands.
    pub fn repeated(&self, count: u32) -> Segment {
        let n = u64::from(count);
        Segment {
            fixed_ns: self.fixed_ns.saturating_mul(n),
            work_ns: self.work_ns.saturating_mul(n),
            mem_bytes: self.mem_bytes.saturating_mul(n),
            ..*self
        }
    }
}

/// How one batch of a partition executes: segments run one after another.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecPlan {
    /// The segments in execution order; consecutive segments are on different engines.
    pub segments: Vec<Segment>,
}

impl ExecPlan {
    /// Time of the whole plan running alone on an idle device, nanoseconds.
    pub fn solo_ns(&self) -> u64 {
        self.segments
            .iter()
            .fold(0u64, |a, s| a.saturating_add(s.solo_ns()))
    }

    /// Bytes the plan moves through unified memory.
    pub fn mem_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.mem_bytes).sum()
    }

    /// The plan with every segment's fixed time, work time and memory traffic scaled by one
    /// factor so that its [`solo_ns`](Self::solo_ns) is `target_ns` (the rounding remainder
    /// going to the last segment's work). Demands and the rate at which a segment draws
    /// memory bandwidth (`mem_bytes / work_ns`) are kept: alone, the plan runs in exactly
    /// `target_ns`, and under contention it slows as the model's plan would. A plan of zero time
    /// becomes one of its first segment's work.
    pub fn scaled_to(mut self, target_ns: u64) -> ExecPlan {
        let solo = self.solo_ns();
        if self.segments.is_empty() {
            return self;
        }
        if solo == 0 {
            self.segments[0].work_ns = target_ns;
            return self;
        }
        let factor = target_ns as f64 / solo as f64;
        for s in &mut self.segments {
            s.fixed_ns = (s.fixed_ns as f64 * factor).round() as u64;
            s.work_ns = (s.work_ns as f64 * factor).round() as u64;
            s.mem_bytes = (s.mem_bytes as f64 * factor).round() as u64;
        }
        let scaled = self.solo_ns();
        if let Some(last) = self.segments.last_mut() {
            // Rounding drift goes to the last segment's work (never below zero).
            last.work_ns = (last.work_ns + target_ns).saturating_sub(scaled);
        }
        self
    }
}

/// The roofline terms of one operator on one engine, before rounding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpCost {
    /// Time the arithmetic alone would take, nanoseconds.
    pub compute_ns: f64,
    /// Time the memory traffic alone would take, nanoseconds.
    pub memory_ns: f64,
    /// Fixed launch overhead, nanoseconds.
    pub launch_ns: u64,
    /// Bytes moved through memory.
    pub bytes: u64,
}

impl OpCost {
    /// Time at full rate without the launch: the larger roofline term, nanoseconds.
    pub fn work_ns(&self) -> f64 {
        self.compute_ns.max(self.memory_ns)
    }

    /// Total time, rounded to whole nanoseconds: work + launch.
    pub fn total_ns(&self) -> u64 {
        self.work_ns().round() as u64 + self.launch_ns
    }
}

/// Rates an instance gets on an engine when running alone.
struct Rates {
    /// FLOP/s available to the instance (its share of the CPU, or the whole engine).
    peak_flops_per_s: f64,
    /// Achievable memory bandwidth, bytes/s.
    bandwidth_bytes_per_s: f64,
    /// Cores held on a CPU; 1 elsewhere.
    cores_held: u32,
}

fn rates(spec: &AcceleratorSpec, cpu_cores: u32, device: &DeviceProfile) -> Rates {
    let mut bandwidth = device.memory.achievable_bytes_per_s * spec.bandwidth_efficiency;
    if let Some(port) = spec.max_bandwidth_bytes_per_s {
        bandwidth = bandwidth.min(port);
    }
    if spec.kind == AcceleratorKind::Cpu {
        let held = cpu_cores.clamp(1, spec.cores.max(1));
        // One core streams at about its memcpy rate; an instance with n cores at n times that.
        bandwidth = bandwidth.min(f64::from(held) * device.memory.copy_bytes_per_s);
        Rates {
            peak_flops_per_s: spec.peak_flops_per_s * f64::from(held)
                / f64::from(spec.cores.max(1)),
            bandwidth_bytes_per_s: bandwidth,
            cores_held: held,
        }
    } else {
        Rates {
            peak_flops_per_s: spec.peak_flops_per_s,
            bandwidth_bytes_per_s: bandwidth,
            cores_held: 1,
        }
    }
}

fn cost_with(op: &Operator, batch: u32, spec: &AcceleratorSpec, r: &Rates) -> OpCost {
    let b = u64::from(batch);
    let flops = op.flops as f64 * b as f64;
    let bytes = op.bytes_moved(b, spec.precision.bytes_per_elem());
    let eff = spec.efficiency(op.kind.is_dense_math());
    OpCost {
        compute_ns: flops / (r.peak_flops_per_s * eff) * 1e9,
        memory_ns: bytes as f64 / r.bandwidth_bytes_per_s * 1e9,
        launch_ns: spec.launch_overhead_ns,
        bytes,
    }
}

/// The roofline terms of `op` at batch `batch` on engine `accel` as one kernel, holding
/// `cpu_cores` cores if it is the CPU (clamped to 1..=cores; ignored elsewhere): no runtime, no
/// fusion, no host time. The op runs on `accel` even if it is a DLA that does not support it.
pub fn op_cost(
    op: &Operator,
    batch: u32,
    accel: usize,
    cpu_cores: u32,
    device: &DeviceProfile,
) -> OpCost {
    let spec = &device.accelerators[accel];
    cost_with(op, batch, spec, &rates(spec, cpu_cores, device))
}

/// Time of `op` at batch `batch` alone on engine `accel` as one kernel, nanoseconds: the
/// roofline plus launch ([`op_cost`]).
pub fn op_time_ns(
    op: &Operator,
    batch: u32,
    accel: usize,
    cpu_cores: u32,
    device: &DeviceProfile,
) -> u64 {
    op_cost(op, batch, accel, cpu_cores, device).total_ns()
}

/// A CPU segment being built, in unrounded nanoseconds: operators one after another on the
/// cores held, each with its dispatch (the engine's launch overhead) as fixed time.
struct CpuSegment {
    accel: usize,
    cores_held: u32,
    fixed_ns: u64,
    work_ns: f64,
    mem_bytes: u64,
}

impl CpuSegment {
    fn add_op(&mut self, c: &OpCost) {
        self.fixed_ns += c.launch_ns;
        self.work_ns += c.work_ns();
        self.mem_bytes += c.bytes;
    }

    /// The segment holds its cores for all its work, memory-bound operators included: a core
    /// whose thread stalls on memory runs no other thread (no SMT is modelled, and the OS does not
    /// switch threads on a cache miss), unlike a GPU's SMs, which kernels of other streams fill.
    /// Memory-bound work is slowed by the bandwidth it shares, not by lending its core.
    fn close(self) -> Segment {
        let demand = if self.work_ns > 0.0 {
            f64::from(self.cores_held)
        } else {
            0.0
        };
        Segment {
            accel: self.accel,
            fixed_ns: self.fixed_ns,
            work_ns: self.work_ns.round() as u64,
            compute_demand: demand,
            slice_demand: demand,
            host_demand: 0.0,
            mem_bytes: self.mem_bytes,
        }
    }
}

/// A kernel being formed: an operator and those fused into it, at the plan's batch size.
#[derive(Clone, Copy, Debug, Default)]
struct Kernel {
    flops: f64,
    dense: bool,
    /// Activation elements read from memory (a fused operator's input from the kernel before it
    /// stays on chip).
    in_elems: u64,
    out_elems: u64,
    params: u64,
}

/// How an engine runs kernels under a runtime.
struct KernelCosts<'a> {
    spec: &'a AcceleratorSpec,
    rates: Rates,
    runtime: &'a RuntimeProfile,
    /// Host-time scale of the device's CPU relative to the runtime's reference clock.
    host_scale: f64,
    /// A DLA runs a loadable: no per-kernel host time, no kernel ramp.
    is_dla: bool,
}

impl KernelCosts<'_> {
    fn host_per_kernel(&self) -> f64 {
        if self.is_dla {
            0.0
        } else {
            self.runtime.host_per_kernel_ns as f64 * self.host_scale
        }
    }

    fn host_per_view(&self) -> f64 {
        if self.is_dla {
            0.0
        } else {
            self.runtime.host_per_view_ns as f64 * self.host_scale
        }
    }

    /// (time on the engine, work at full occupancy, bytes) of `k` at batch `batch`.
    fn kernel(&self, k: &Kernel, batch: u32) -> (f64, f64, u64) {
        let bpe = self.spec.precision.bytes_per_elem();
        let b = u64::from(batch);
        let bytes = (b * (k.in_elems + k.out_elems) + k.params) * bpe;
        let mut eff = self.spec.efficiency(k.dense);
        if k.dense && !self.is_dla {
            eff *= self.runtime.dense_efficiency_scale;
        }
        let compute = k.flops / (self.rates.peak_flops_per_s * eff) * 1e9;
        let memory = bytes as f64 / self.rates.bandwidth_bytes_per_s * 1e9;
        let work = compute.max(memory);
        let ramp = if self.is_dla {
            0.0
        } else {
            self.runtime.kernel_ramp_ns as f64
        };
        let time = work + ramp + self.spec.launch_overhead_ns as f64;
        (time, work, bytes)
    }
}

/// A GPU or DLA segment being built: the host/engine pipeline of its kernels.
struct StreamSegment<'a> {
    accel: usize,
    costs: &'a KernelCosts<'a>,
    batch: u32,
    /// When the host thread is done with what it has dispatched so far.
    host_ns: f64,
    /// When the engine is done with the kernels dispatched so far.
    engine_end_ns: f64,
    /// Σ kernel time on the engine, and Σ kernel work at full occupancy.
    busy_ns: f64,
    work_ns: f64,
    mem_bytes: u64,
    fixed_ns: u64,
    open: Option<Kernel>,
}

impl<'a> StreamSegment<'a> {
    fn new(accel: usize, costs: &'a KernelCosts<'a>, batch: u32, host_start_ns: f64) -> Self {
        StreamSegment {
            accel,
            costs,
            batch,
            host_ns: host_start_ns,
            engine_end_ns: 0.0,
            busy_ns: 0.0,
            work_ns: 0.0,
            mem_bytes: 0,
            fixed_ns: 0,
            open: None,
        }
    }

    /// Runs `time_ns` on the engine once the host has launched it.
    fn run_on_engine(&mut self, time_ns: f64, work_ns: f64, bytes: u64) {
        self.engine_end_ns = self.engine_end_ns.max(self.host_ns) + time_ns;
        self.busy_ns += time_ns;
        self.work_ns += work_ns;
        self.mem_bytes += bytes;
    }

    /// Sends the kernel being formed to the engine.
    fn flush(&mut self) {
        if let Some(k) = self.open.take() {
            let (time, work, bytes) = self.costs.kernel(&k, self.batch);
            self.run_on_engine(time, work, bytes);
        }
    }

    fn add_op(&mut self, op: &Operator) {
        let runtime = self.costs.runtime;
        let b = f64::from(self.batch);
        if runtime.launches_no_kernel(op.kind) {
            self.flush();
            self.host_ns += self.costs.host_per_view();
            return;
        }
        if runtime.fuses(op.kind)
            && let Some(k) = self.open.as_mut()
        {
            k.flops += op.flops as f64 * b;
            k.in_elems += op.input_elems.saturating_sub(k.out_elems);
            k.out_elems = op.output_elems;
            k.params += op.params;
            return;
        }
        self.flush();
        self.host_ns += self.costs.host_per_kernel();
        self.open = Some(Kernel {
            flops: op.flops as f64 * b,
            dense: op.kind.is_dense_math(),
            in_elems: op.input_elems,
            out_elems: op.output_elems,
            params: op.params,
        });
    }

    fn close(mut self) -> Segment {
        self.flush();
        let total = self.engine_end_ns.max(self.host_ns);
        let of_total = |x: f64| {
            if total > 0.0 {
                (x / total).min(1.0)
            } else {
                0.0
            }
        };
        Segment {
            accel: self.accel,
            fixed_ns: self.fixed_ns,
            work_ns: total.round() as u64,
            compute_demand: of_total(self.work_ns),
            slice_demand: of_total(self.busy_ns),
            host_demand: of_total(self.host_ns),
            mem_bytes: self.mem_bytes,
        }
    }
}

enum OpenSegment<'a> {
    Cpu(CpuSegment),
    Stream(StreamSegment<'a>),
}

impl OpenSegment<'_> {
    fn accel(&self) -> usize {
        match self {
            OpenSegment::Cpu(s) => s.accel,
            OpenSegment::Stream(s) => s.accel,
        }
    }

    fn close(self) -> Segment {
        match self {
            OpenSegment::Cpu(s) => s.close(),
            OpenSegment::Stream(s) => s.close(),
        }
    }
}

/// The fastest accelerator for `ops` at batch 1 alone on the device (each engine with all its
/// cores), and the time there, ns; ties go to the accelerator listed first. This is the basis of
/// an app's isolated latency, of per-stage SLO budgets and of InfScaler's T̂_o.
pub fn fastest_solo(ops: &[Operator], target: Target<'_>) -> (usize, u64) {
    (0..target.device.accelerators.len())
        .map(|a| {
            let cores = target.device.accelerators[a].cores;
            (a, plan(ops, 1, a, cores, target).solo_ns())
        })
        .min_by_key(|&(a, t)| (t, a))
        .unwrap_or((0, 0))
}

/// The execution plan of the operator slice `ops` at batch `batch` on engine `accel`, holding
/// `cpu_cores` cores if it is the CPU.
///
/// Where the target's measured times ([`crate::model::measured`]) cover the slice on `accel`,
/// the model's plan below is scaled to the measured time ([`ExecPlan::scaled_to`]): every
/// segment's times and memory traffic by the same factor, its demands and bandwidth rate kept,
/// so contention applies as before.
pub fn plan(ops: &[Operator], batch: u32, accel: usize, cpu_cores: u32, t: Target<'_>) -> ExecPlan {
    let modelled = model_plan(ops, batch, accel, cpu_cores, t);
    let Some(measured) = t.measured else {
        return modelled;
    };
    let is_cpu = t.device.accelerators[accel].kind == AcceleratorKind::Cpu;
    let solo = |o: &[Operator], b: u32, c: u32| model_plan(o, b, accel, c, t).solo_ns();
    match measured.slice_ns(ops, batch, accel, cpu_cores, is_cpu, &solo) {
        Some(ns) => modelled.scaled_to(ns),
        None => modelled,
    }
}

/// The modelled execution plan of `ops` (what [`plan`] gives without measurements; the target's
/// measured times are not used).
///
/// The CPU runs each operator at its roofline on the cores held, after its dispatch (the
/// engine's launch overhead). The GPU runs the operators as `runtime` forms kernels of them
/// (fusion, operators without kernels), each kernel at `roofline + ramp + launch`,
/// behind the runtime's host dispatch ([`Segment`]). A DLA runs TensorRT's fused layers at
/// roofline + its per-layer overhead; operators it does not support ([`supports`]) run on the
/// device's first GPU under the DLA's runtime, consecutive ones in one segment, and each DLA↔GPU
/// hand-over adds to the GPU segment the boundary tensor (at the DLA's precision) written and
/// read once more, and the DLA's `fallback_transition_ns`. The runtime's per-batch host time
/// comes before the first segment. An empty slice gives an empty plan.
pub fn model_plan(
    ops: &[Operator],
    batch: u32,
    accel: usize,
    cpu_cores: u32,
    target: Target<'_>,
) -> ExecPlan {
    let device = target.device;
    let spec = &device.accelerators[accel];
    let cpu_clock = device.accelerators[device.cpu()].clock_hz;
    let tensorrt = target.dla_runtime;
    let stream_runtime = if spec.kind == AcceleratorKind::Dla {
        tensorrt
    } else {
        target.runtime
    };
    let home_costs = KernelCosts {
        spec,
        rates: rates(spec, cpu_cores, device),
        runtime: stream_runtime,
        host_scale: stream_runtime.host_scale(cpu_clock),
        is_dla: spec.kind == AcceleratorKind::Dla,
    };
    let fallback = match spec.kind {
        AcceleratorKind::Dla => device.gpu().map(|g| {
            let gspec = &device.accelerators[g];
            (
                g,
                KernelCosts {
                    spec: gspec,
                    rates: rates(gspec, 1, device),
                    runtime: tensorrt,
                    host_scale: tensorrt.host_scale(cpu_clock),
                    is_dla: false,
                },
            )
        }),
        _ => None,
    };
    let per_batch_host = stream_runtime.host_per_batch_ns as f64 * home_costs.host_scale;

    let mut segments = Vec::new();
    let mut open: Option<OpenSegment<'_>> = None;
    let mut prev: Option<&Operator> = None;
    for op in ops {
        let (host, costs) = match &fallback {
            Some((g, gcosts)) if !supports(spec.kind, op.kind) => (*g, gcosts),
            _ => (accel, &home_costs),
        };
        if open.as_ref().is_none_or(|s| s.accel() != host) {
            let host_start = if segments.is_empty() && open.is_none() {
                per_batch_host
            } else {
                0.0
            };
            let mut next = if device.accelerators[host].kind == AcceleratorKind::Cpu {
                OpenSegment::Cpu(CpuSegment {
                    accel: host,
                    cores_held: home_costs.rates.cores_held,
                    fixed_ns: 0,
                    work_ns: 0.0,
                    mem_bytes: 0,
                })
            } else {
                OpenSegment::Stream(StreamSegment::new(host, costs, batch, host_start))
            };
            if let Some(mut seg) = open.take() {
                // Only a DLA plan changes engine mid-slice: a DLA↔GPU hand-over, whose
                // boundary tensor is reformatted on the GPU side.
                if let (Some(boundary), Some((g, gcosts))) = (prev, &fallback) {
                    let bytes = 2
                        * boundary.output_bytes(spec.precision.bytes_per_elem())
                        * u64::from(batch);
                    let ns = bytes as f64 / gcosts.rates.bandwidth_bytes_per_s * 1e9;
                    let gpu_side = if seg.accel() == *g {
                        &mut seg
                    } else {
                        &mut next
                    };
                    if let OpenSegment::Stream(s) = gpu_side {
                        s.flush();
                        s.fixed_ns += spec.fallback_transition_ns;
                        s.run_on_engine(ns, ns, bytes);
                    }
                }
                segments.push(seg.close());
            }
            open = Some(next);
        }
        match open.as_mut() {
            Some(OpenSegment::Cpu(s)) => s.add_op(&cost_with(op, batch, spec, &home_costs.rates)),
            Some(OpenSegment::Stream(s)) => s.add_op(op),
            None => unreachable!("a segment was opened above"),
        }
        prev = Some(op);
    }
    if let Some(seg) = open {
        segments.push(seg.close());
    }
    ExecPlan { segments }
}

/// What a new instance finds already loaded in the serving process it joins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Residency {
    /// A process exists for it to join: the runtime's process memory is already paid.
    pub process: bool,
    /// That process already holds the instance's partition's weights (another instance of the
    /// same partition lives in it).
    pub weights: bool,
}

impl Residency {
    /// Nothing resident: the instance starts a process of its own.
    pub const NONE: Residency = Residency {
        process: false,
        weights: false,
    };
}

/// Memory of one instance of a slice on one engine, by what holds it, bytes.
///
/// A serving process pays `process` once; contexts of one process share one copy of `weights`
/// per partition when `shares_weights` (TensorRT execution contexts of one engine), and hold one
/// each otherwise (PyTorch modules, ONNX Runtime sessions); every instance holds its `context`
/// and `workspace`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// The runtime's process (CUDA context, libraries), once per process.
    pub process: u64,
    /// The slice's weights at the engine's precision.
    pub weights: u64,
    /// The runtime's execution context beyond activations, once per instance.
    pub context: u64,
    /// The activation workspace at the instance's largest batch, once per instance.
    pub workspace: u64,
    /// Whether instances of one partition in one process share `weights`.
    pub shares_weights: bool,
}

impl Footprint {
    /// Memory of one instance alone in its own process.
    pub fn total(&self) -> u64 {
        self.process + self.weights + self.context + self.workspace
    }

    /// The part of the footprint a new instance adds when `resident` is already loaded: its
    /// context and workspace, the weights unless its process shares a resident copy, and the
    /// process unless it joins one. `shares_weights` is kept.
    pub fn beyond(&self, resident: Residency) -> Footprint {
        Footprint {
            process: if resident.process { 0 } else { self.process },
            weights: if resident.weights && self.shares_weights {
                0
            } else {
                self.weights
            },
            ..*self
        }
    }

    /// Bytes a new instance adds when `resident` is already loaded ([`Self::beyond`]).
    pub fn marginal(&self, resident: Residency) -> u64 {
        self.beyond(resident).total()
    }
}

/// Memory one instance of the slice `ops` needs on engine `accel` when it serves batches of up to
/// `max_batch`, by kind: weights at the engine's precision; an activation workspace for the
/// largest operator (input + output at `max_batch`); the runtime's process and context — on the
/// GPU the target runtime's, on a DLA TensorRT's, on the CPU the engine's `runtime_overhead`
/// (ONNX Runtime's CPU provider: a process with no further context, whose sessions do not share
/// weights). On a DLA, fallback operators' weights are counted at the DLA's precision in the same
/// engine.
pub fn footprint(ops: &[Operator], max_batch: u32, accel: usize, target: Target<'_>) -> Footprint {
    let spec = &target.device.accelerators[accel];
    let bpe = spec.precision.bytes_per_elem();
    let weights: u64 = ops.iter().map(|o| o.params * bpe).sum();
    let workspace = ops
        .iter()
        .map(|o| (o.input_elems + o.output_elems) * u64::from(max_batch) * bpe)
        .max()
        .unwrap_or(0);
    let (process, context, shares_weights) = match spec.kind {
        AcceleratorKind::Cpu => (spec.runtime_overhead_bytes, 0, false),
        AcceleratorKind::Gpu => runtime_memory(target.runtime),
        AcceleratorKind::Dla => runtime_memory(target.dla_runtime),
    };
    Footprint {
        process,
        weights,
        context,
        workspace,
        shares_weights,
    }
}

fn runtime_memory(r: &RuntimeProfile) -> (u64, u64, bool) {
    (r.process_bytes, r.context_bytes, r.shares_weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::profile::{MemorySpec, Precision, StorageSpec};
    use crate::model::runtime::OpClasses;
    use crate::model::{ActivationFn, OpKind};
    use std::sync::OnceLock;

    /// A runtime that adds nothing: no host time, no fusion, no kernel ramp, a 100 MiB process.
    fn bare() -> &'static RuntimeProfile {
        static BARE: OnceLock<RuntimeProfile> = OnceLock::new();
        BARE.get_or_init(|| RuntimeProfile {
            name: "bare".into(),
            description: String::new(),
            host_per_kernel_ns: 0,
            host_per_view_ns: 0,
            host_per_batch_ns: 0,
            reference_clock_hz: 1e9,
            kernel_ramp_ns: 0,
            dense_efficiency_scale: 1.0,
            fuse: OpClasses::EMPTY,
            no_kernel: OpClasses::EMPTY,
            process_bytes: 100 << 20,
            context_bytes: 0,
            shares_weights: true,
        })
    }

    /// The test device under the bare runtime, DLAs included.
    fn t(d: &DeviceProfile) -> Target<'_> {
        Target {
            dla_runtime: bare(),
            ..Target::new(d, bare())
        }
    }

    #[test]
    fn dla_runs_convolutions_but_not_attention() {
        let dla = AcceleratorKind::Dla;
        assert!(supports(dla, OpKind::Conv));
        assert!(supports(dla, OpKind::Activation(ActivationFn::Relu)));
        assert!(!supports(dla, OpKind::MatMul));
        assert!(!supports(dla, OpKind::Activation(ActivationFn::Gelu)));
        assert!(supports(AcceleratorKind::Gpu, OpKind::LayerNorm));
    }
    use proptest::prelude::*;

    const CPU: usize = 0;
    const GPU: usize = 1;
    const DLA: usize = 2;

    fn engine(
        name: &str,
        kind: AcceleratorKind,
        precision: Precision,
        peak: f64,
        cores: u32,
    ) -> AcceleratorSpec {
        AcceleratorSpec {
            name: name.into(),
            kind,
            precision,
            peak_flops_per_s: peak,
            cores,
            dense_efficiency: 0.5,
            other_efficiency: 0.25,
            bandwidth_efficiency: 0.5,
            launch_overhead_ns: 10_000,
            runtime_overhead_bytes: 100 << 20,
            process_switch_overhead: 0.0,
            gpu_interference: 0.0,
            max_bandwidth_bytes_per_s: None,
            fallback_transition_ns: if kind == AcceleratorKind::Dla {
                40_000
            } else {
                0
            },
            clock_hz: None,
        }
    }

    /// Round numbers: 100 GB/s DRAM (50 GB/s effective); CPU 4 × 25 GFLOPS; GPU 5 TFLOPS;
    /// DLA 2 TFLOPS capped at a 20 GB/s port.
    fn device() -> DeviceProfile {
        let mut dla = engine("dla0", AcceleratorKind::Dla, Precision::Fp16, 2e12, 1);
        dla.max_bandwidth_bytes_per_s = Some(20e9);
        DeviceProfile {
            name: "test".into(),
            memory: MemorySpec {
                capacity_bytes: 8 << 30,
                bandwidth_bytes_per_s: 100e9,
                achievable_bytes_per_s: 100e9,
                reserved_bytes: 1 << 30,
                copy_bytes_per_s: 10e9,
            },
            storage: StorageSpec {
                read_bytes_per_s: 300e6,
            },
            accelerators: vec![
                engine("cpu", AcceleratorKind::Cpu, Precision::Fp32, 100e9, 4),
                engine("gpu", AcceleratorKind::Gpu, Precision::Fp16, 5e12, 1),
                dla,
            ],
        }
    }

    fn op(name: &str, kind: OpKind, flops: u64, input: u64, output: u64, params: u64) -> Operator {
        Operator {
            name: name.into(),
            kind,
            flops,
            input_elems: input,
            output_elems: output,
            params,
        }
    }

    /// 2 GFLOP over small tensors: compute-bound everywhere.
    fn big_conv(name: &str) -> Operator {
        op(name, OpKind::Conv, 2_000_000_000, 100_000, 100_000, 10_000)
    }

    /// 10M + 10M elements in, 10M out, 10M FLOPs: memory-bound everywhere.
    fn big_add() -> Operator {
        op(
            "add",
            OpKind::Elementwise,
            10_000_000,
            10_000_000,
            10_000_000,
            0,
        )
    }

    #[test]
    fn compute_bound_conv_is_flops_over_peak_times_efficiency_plus_launch() {
        let d = device();
        let conv = big_conv("conv");
        // GPU: 2e9 FLOP / (5e12 × 0.5) = 800 µs; memory 2.1e5 el × 2 B / 50e9 = 8.4 µs.
        assert_eq!(op_time_ns(&conv, 1, GPU, 1, &d), 800_000 + 10_000);
        // Batch 4: 4 × 800 µs.
        assert_eq!(op_time_ns(&conv, 4, GPU, 1, &d), 3_200_000 + 10_000);
        // DLA: 2e9 / (2e12 × 0.5) = 2 ms.
        assert_eq!(op_time_ns(&conv, 1, DLA, 1, &d), 2_000_000 + 10_000);
    }

    #[test]
    fn memory_bound_op_follows_bandwidth() {
        let d = device();
        // 10M + 10M elements, 10M FLOPs: at FP16, 40 MB / 50 GB/s = 800 µs; compute 10e6 /
        // (5e12 × 0.25) = 8 µs.
        let add = big_add();
        assert_eq!(op_time_ns(&add, 1, GPU, 1, &d), 800_000 + 10_000);
        let c = op_cost(&add, 1, GPU, 1, &d);
        assert!(c.memory_ns > 10.0 * c.compute_ns);
        // The DLA's 20 GB/s port limit binds: 40 MB / 20 GB/s = 2 ms.
        assert_eq!(op_time_ns(&add, 1, DLA, 1, &d), 2_000_000 + 10_000);
        // CPU at FP32 with 1 core: 80 MB at min(50, 1 × 10) GB/s = 8 ms; with 4 cores, 40 GB/s.
        assert_eq!(op_time_ns(&add, 1, CPU, 1, &d), 8_000_000 + 10_000);
        assert_eq!(op_time_ns(&add, 1, CPU, 4, &d), 2_000_000 + 10_000);
    }

    #[test]
    fn batching_amortises_weights_of_fc_layers() {
        let d = device();
        // A 4096×4096 FC: 16.8M weights read once per batch dominate at batch 1.
        let fc = op(
            "fc",
            OpKind::FullyConnected,
            2 * 4096 * 4096,
            4096,
            4096,
            4096 * 4096 + 4096,
        );
        for accel in [CPU, GPU, DLA] {
            let t1 = op_time_ns(&fc, 1, accel, 4, &d);
            let t8 = op_time_ns(&fc, 8, accel, 4, &d);
            assert!(t8 < 8 * t1, "accel {accel}: t8 = {t8}, t1 = {t1}");
        }
        let t1 = op_time_ns(&fc, 1, GPU, 1, &d);
        let t8 = op_time_ns(&fc, 8, GPU, 1, &d);
        assert!(
            t8 < 2 * t1,
            "on the GPU the weights dominate: t8 = {t8}, t1 = {t1}"
        );
    }

    #[test]
    fn cpu_instance_gets_its_share_of_cores() {
        let d = device();
        let conv = big_conv("conv");
        // 2e9 / (100e9 × 2/4 × 0.5) = 80 ms with 2 cores; 40 ms with 4; 8 cores clamp to 4.
        assert_eq!(op_time_ns(&conv, 1, CPU, 2, &d), 80_000_000 + 10_000);
        assert_eq!(op_time_ns(&conv, 1, CPU, 4, &d), 40_000_000 + 10_000);
        assert_eq!(op_time_ns(&conv, 1, CPU, 8, &d), 40_000_000 + 10_000);
        let p = plan(&[conv], 1, CPU, 2, t(&d));
        assert_eq!(p.segments.len(), 1);
        assert!(
            (p.segments[0].compute_demand - 2.0).abs() < 1e-12,
            "{:?}",
            p.segments[0]
        );
    }

    #[test]
    fn a_memory_bound_cpu_segment_still_holds_its_cores() {
        let d = device();
        // A large elementwise add is memory-bound on the CPU (see above), yet its thread keeps
        // the core: two such instances on a one-core share of the CPU cannot both run at speed.
        let add = big_add();
        let c = op_cost(&add, 1, CPU, 1, &d);
        assert!(c.memory_ns > c.compute_ns, "{c:?}");
        let p = plan(&[add], 1, CPU, 1, t(&d));
        assert_eq!(p.segments[0].compute_demand, 1.0, "{:?}", p.segments[0]);
        assert!(p.segments[0].mem_bytes > 0, "it shares the bandwidth too");
    }

    #[test]
    fn gelu_on_a_dla_falls_back_to_the_gpu_with_reformat_costs() {
        let d = device();
        // conv → GELU → conv, boundary tensors of 1M elements.
        let gelu = op(
            "gelu",
            OpKind::Activation(ActivationFn::Gelu),
            8_000_000,
            1_000_000,
            1_000_000,
            0,
        );
        let conv_a = op(
            "conv_a",
            OpKind::Conv,
            2_000_000_000,
            100_000,
            1_000_000,
            10_000,
        );
        let ops = [conv_a.clone(), gelu.clone(), big_conv("conv_b")];
        let p = plan(&ops, 2, DLA, 1, t(&d));
        let engines: Vec<usize> = p.segments.iter().map(|s| s.accel).collect();
        assert_eq!(engines, [DLA, GPU, DLA]);

        let gpu_seg = &p.segments[1];
        // Two hand-overs on the GPU side: 2 × 40 µs.
        assert_eq!(gpu_seg.fixed_ns, 2 * 40_000);
        // Reformat bytes: each boundary (1M elements × batch 2 × 2 B) written and read once more.
        let boundary = 1_000_000 * 2 * 2;
        let gelu_cost = op_cost(&gelu, 2, GPU, 1, &d);
        assert_eq!(gpu_seg.mem_bytes, gelu_cost.bytes + 2 * 2 * boundary);
        // Its work: the GELU's roofline and launch + 16 MB at 50 GB/s = 320 µs of reformatting.
        let expected = (gelu_cost.work_ns() + 10_000.0 + 2.0 * 2.0 * boundary as f64 / 50e9 * 1e9)
            .round() as u64;
        assert_eq!(gpu_seg.work_ns, expected);
        // The DLA segments carry their ops only.
        assert_eq!(p.segments[0].solo_ns(), op_time_ns(&conv_a, 2, DLA, 1, &d));
        // Without the fallback costs the plan would be cheaper.
        let plain: u64 = ops
            .iter()
            .map(|o| op_time_ns(o, 2, if o.kind == OpKind::Conv { DLA } else { GPU }, 1, &d))
            .sum();
        assert!(p.solo_ns() > plain + 80_000);
    }

    #[test]
    fn consecutive_unsupported_ops_share_one_gpu_segment() {
        let d = device();
        let ln = op(
            "ln",
            OpKind::LayerNorm,
            5_000_000,
            1_000_000,
            1_000_000,
            2_000,
        );
        let gelu = op(
            "gelu",
            OpKind::Activation(ActivationFn::Gelu),
            8_000_000,
            1_000_000,
            1_000_000,
            0,
        );
        let ops = [big_conv("c1"), ln, gelu, big_conv("c2"), big_conv("c3")];
        let p = plan(&ops, 1, DLA, 1, t(&d));
        let engines: Vec<usize> = p.segments.iter().map(|s| s.accel).collect();
        assert_eq!(engines, [DLA, GPU, DLA]);
        let two_convs = 2 * op_time_ns(&big_conv("c"), 1, DLA, 1, &d);
        assert_eq!(p.segments[2].solo_ns(), two_convs);
        // A slice starting with an unsupported op starts on the GPU with no hand-over before it.
        let p = plan(&ops[1..], 1, DLA, 1, t(&d));
        assert_eq!(p.segments[0].accel, GPU);
        assert_eq!(p.segments[0].fixed_ns, 40_000);
    }

    #[test]
    fn gpu_plan_never_uses_a_dla_and_merges_into_one_segment() {
        let d = device();
        let gelu = op(
            "gelu",
            OpKind::Activation(ActivationFn::Gelu),
            8_000_000,
            1_000_000,
            1_000_000,
            0,
        );
        let mm = op("mm", OpKind::MatMul, 1_000_000_000, 500_000, 500_000, 0);
        let ops = [big_conv("c1"), gelu, mm, big_conv("c2")];
        let p = plan(&ops, 4, GPU, 1, t(&d));
        assert_eq!(p.segments.len(), 1);
        assert_eq!(p.segments[0].accel, GPU);
        assert_eq!(p.segments[0].fixed_ns, 0);
        let sum: u64 = ops.iter().map(|o| op_time_ns(o, 4, GPU, 1, &d)).sum();
        assert!(p.solo_ns().abs_diff(sum) <= 2, "{} vs {sum}", p.solo_ns());
    }

    #[test]
    fn one_op_plan_equals_op_time() {
        let d = device();
        let conv = big_conv("conv");
        for accel in [CPU, GPU, DLA] {
            let p = plan(std::slice::from_ref(&conv), 3, accel, 3, t(&d));
            assert_eq!(p.solo_ns(), op_time_ns(&conv, 3, accel, 3, &d));
            assert_eq!(
                p.mem_bytes(),
                conv.bytes_moved(3, d.accelerators[accel].precision.bytes_per_elem())
            );
        }
        assert_eq!(plan(&[], 1, GPU, 1, t(&d)), ExecPlan::default());
    }

    #[test]
    fn footprint_counts_process_weights_context_workspace_and_grows_with_batch() {
        let d = device();
        let fc = op(
            "fc",
            OpKind::FullyConnected,
            2_000_000,
            1_000,
            1_000,
            1_000_000,
        );
        let conv = op("conv", OpKind::Conv, 1_000_000, 50_000, 30_000, 1_000);
        let ops = [conv, fc];
        // GPU at FP16: weights 1,001,000 × 2; workspace 80,000 × b × 2; runtime 100 MiB.
        let gpu = footprint(&ops, 1, GPU, t(&d));
        assert_eq!(
            gpu,
            Footprint {
                process: 100 << 20,
                weights: 2_002_000,
                context: 0,
                workspace: 160_000,
                shares_weights: true,
            }
        );
        assert_eq!(gpu.total(), 2_002_000 + 160_000 + (100 << 20));
        assert_eq!(
            footprint(&ops, 8, GPU, t(&d)).total(),
            2_002_000 + 8 * 160_000 + (100 << 20)
        );
        // CPU at FP32 holds twice the bytes of weights; its process is the engine's overhead.
        let cpu = footprint(&ops, 1, CPU, t(&d));
        assert_eq!(cpu.total(), 4_004_000 + 320_000 + (100 << 20));
        assert!(!cpu.shares_weights);
        assert!(footprint(&ops, 16, DLA, t(&d)).total() > footprint(&ops, 4, DLA, t(&d)).total());
    }

    #[test]
    fn an_instance_joining_a_process_adds_only_what_is_not_resident() {
        let fp = Footprint {
            process: 1000,
            weights: 100,
            context: 10,
            workspace: 1,
            shares_weights: true,
        };
        assert_eq!(fp.marginal(Residency::NONE), fp.total());
        assert_eq!(fp.total(), 1111);
        let in_process = Residency {
            process: true,
            weights: false,
        };
        assert_eq!(fp.marginal(in_process), 111);
        let beside_a_sibling = Residency {
            process: true,
            weights: true,
        };
        assert_eq!(fp.marginal(beside_a_sibling), 11);
        // Without shared weights every instance holds its own copy.
        let own = Footprint {
            shares_weights: false,
            ..fp
        };
        assert_eq!(own.marginal(beside_a_sibling), 111);
        assert_eq!(own.beyond(beside_a_sibling).process, 0);
    }

    fn arb_op() -> impl Strategy<Value = Operator> {
        let kinds = prop::sample::select(vec![
            OpKind::Conv,
            OpKind::FullyConnected,
            OpKind::MatMul,
            OpKind::Activation(ActivationFn::Relu),
            OpKind::Activation(ActivationFn::Gelu),
            OpKind::LayerNorm,
            OpKind::Pooling,
            OpKind::Elementwise,
        ]);
        (
            kinds,
            0u64..5_000_000_000,
            0u64..5_000_000,
            0u64..5_000_000,
            0u64..20_000_000,
        )
            .prop_map(|(k, f, i, o, p)| op("x", k, f, i, o, p))
    }

    proptest! {
        #[test]
        fn plans_are_well_formed_and_monotone_in_batch(
            ops in prop::collection::vec(arb_op(), 0..12),
            batch in 1u32..32,
            accel in 0usize..3,
            cores in 1u32..6,
        ) {
            let d = device();
            let p = plan(&ops, batch, accel, cores, t(&d));
            let bigger = plan(&ops, batch + 1, accel, cores, t(&d));
            prop_assert!(bigger.solo_ns() >= p.solo_ns());
            for w in p.segments.windows(2) {
                prop_assert_ne!(w[0].accel, w[1].accel);
            }
            let held = if accel == CPU { f64::from(cores.min(4)) } else { 1.0 };
            for s in &p.segments {
                prop_assert!(s.accel == accel || (accel == DLA && s.accel == GPU));
                let cap = if s.accel == CPU { held } else { 1.0 };
                prop_assert!((0.0..=cap + 1e-12).contains(&s.compute_demand), "{:?}", s);
            }
            let launches: u64 = ops.len() as u64 * 10_000;
            prop_assert!(p.solo_ns() >= launches);
        }
    }
}
