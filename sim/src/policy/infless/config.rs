//! Per-instance resource configurations and the greedy scale-up that places them.
//!
//! A port of INFless's `controller/estimator.go::inferResourceConfigsWithBatch` and
//! `controller/scheduler.go::ScaleUpFuncCapacity` (github.com/TankLabTJU/INFless,
//! `sourceCode/Go/src/github.com/openfaas/faas-netes/gpu/`), with our cost model standing in
//! for INFless's operator profile (COP).
//!
//! **The GPU-share dimension.** INFless gives a GPU instance a CUDA MPS percentage
//! (`CUDA_MPS_ACTIVE_THREAD_PERCENTAGE`, `controller/scaler.go`) and accounts the GPU by the sum
//! of these percentages. Our simulator has no hard partitions: concurrent GPU instances share
//! the GPU max-min fairly (the fluid model). We keep the percentage as INFless's *reservation*:
//! it bounds how many GPU instances fit (Σ % ≤ 100) and it predicts the execution time as the
//! fluid model would run the plan capped at that share — each GPU segment's work time
//! stretched by `max(1, compute_demand / share)`, since a segment whose compute-bound fraction
//! is below the share is not slowed. In the simulation an instance gets more than its share
//! while the others idle, and can get less when many are busy at once; the prediction is the
//! expected share, not a guarantee.

use crate::hardware::AcceleratorKind;
use crate::model::Operator;
use crate::model::cost;
use crate::model::cost::Target;
use crate::serving::InstanceConfig;
use crate::time::SimDuration;

/// The knobs of the configuration search (a view of `InfLessSpec`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchParams {
    /// Largest batch; the search tries the powers of two from it down to 1.
    pub max_batch: u32,
    /// Prediction inflation (0.1: +10 %).
    pub prediction_margin: f64,
    /// Largest GPU share tried, percent.
    pub gpu_percent_max: u32,
    /// Step (and smallest value) of the GPU shares tried, percent.
    pub gpu_percent_step: u32,
}

/// One candidate instance configuration of a function (INFless's `FuncPodConfig`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResourceConfig {
    /// Accelerator the instance runs on (the CPU, or the GPU for `gpu_percent > 0`).
    pub accelerator: usize,
    /// Batch size.
    pub batch: u32,
    /// CPU threads (cores on Jetson, which has no SMT) the instance holds.
    pub cpu_threads: u32,
    /// GPU share reserved, percent; 0 for a CPU-only instance.
    pub gpu_percent: u32,
    /// Predicted execution time of one batch (inflated by the prediction margin).
    pub exec: SimDuration,
    /// Upper throughput bound r_up = b / t_exec, requests per second.
    pub r_up: f64,
    /// Lower throughput bound r_low = b / (SLO − t_exec), requests per second (1 at batch 1).
    pub r_low: f64,
    /// Longest wait for a batch to fill: SLO − t_exec (0 at batch 1).
    pub batch_timeout: SimDuration,
}

impl ResourceConfig {
    /// The simulator's instance configuration for it.
    pub fn instance_config(&self) -> InstanceConfig {
        InstanceConfig {
            max_batch: self.batch,
            batch_timeout: self.batch_timeout,
            cpu_cores: self.cpu_threads.max(1),
            // The MPS share the configuration was predicted with is enforced (CUDA_MPS_ACTIVE_THREAD_PERCENTAGE).
            compute_share: if self.gpu_percent > 0 {
                (f64::from(self.gpu_percent) / 100.0).min(1.0)
            } else {
                1.0
            },
        }
    }
}

/// The batch sizes INFless supports for a function: powers of two from `max_batch` down to 1
/// (`repository.UpdateFuncSupportBatchSize`; a `max_batch` that is not a power of two starts at
/// the largest power of two below it).
pub fn supported_batches(max_batch: u32) -> Vec<u32> {
    let top = if max_batch == 0 {
        1
    } else {
        1u32 << (31 - max_batch.leading_zeros())
    };
    std::iter::successors(Some(top), |&b| (b > 1).then_some(b / 2)).collect()
}

/// Predicted solo time of `ops` at `batch` on the GPU `gpu` holding `percent` % of its compute:
/// each GPU segment's work stretched by `max(1, compute_demand / share)` (the fluid model's rate
/// cap), fixed parts and segments on other engines unchanged.
pub fn gpu_time_ns(
    ops: &[Operator],
    batch: u32,
    gpu: usize,
    percent: u32,
    target: Target<'_>,
) -> u64 {
    let share = f64::from(percent.clamp(1, 100)) / 100.0;
    cost::plan(ops, batch, gpu, 1, target)
        .segments
        .iter()
        .map(|s| {
            let stretch = if s.accel == gpu {
                (s.compute_demand / share).max(1.0)
            } else {
                1.0
            };
            s.fixed_ns + (s.work_ns as f64 * stretch).round() as u64
        })
        .sum()
}

/// Builds a candidate from its predicted (already inflated) execution time, or `None` when the
/// time misses the budget: t_exec ≤ SLO/2 when batching, ≤ SLO at batch 1
/// (`inferResourceConfigsWithBatch`: `timeForExec = latencySLO/2`, `= latencySLO` at batch 1).
pub fn candidate(
    accelerator: usize,
    batch: u32,
    cpu_threads: u32,
    gpu_percent: u32,
    exec_ns: u64,
    slo: SimDuration,
) -> Option<ResourceConfig> {
    let slo_ns = slo.as_ns();
    let budget = if batch == 1 { slo_ns } else { slo_ns / 2 };
    if exec_ns == 0 || exec_ns > budget {
        return None;
    }
    let b = f64::from(batch);
    let t_s = exec_ns as f64 / 1e9;
    // estimator.go: reqPerSecondMax = 1000/expectTime*b; at batch 1 reqPerSecondMin = 1 and
    // batchTimeOut = 0, else reqPerSecondMin = 1000/(SLO−expectTime)*b and
    // batchTimeOut = SLO − expectTime.
    let (r_low, batch_timeout) = if batch == 1 {
        (1.0, SimDuration::ZERO)
    } else {
        let slack = slo_ns - exec_ns; // > 0: exec ≤ SLO/2
        (b / (slack as f64 / 1e9), SimDuration::from_ns(slack))
    };
    Some(ResourceConfig {
        accelerator,
        batch,
        cpu_threads,
        gpu_percent,
        exec: SimDuration::from_ns(exec_ns),
        r_up: b / t_s,
        r_low,
        batch_timeout,
    })
}

/// Every configuration of `ops` at `batch` that meets the stage budget `slo`
/// (`inferResourceConfigsWithBatch` without the residual filter, which [`scale_up`] applies).
///
/// CPU threads run from the batch size down in steps of 2 (2 at batch 1), as in the source;
/// counts above the CPU's cores are left out (they could never be placed). For each count a
/// CPU-only configuration (the instance holds that many cores). GPU shares run from
/// `gpu_percent_max` down by `gpu_percent_step`; a GPU configuration is listed once, with the
/// smallest thread count of the loop: in our cost model CPU threads do not change a GPU
/// instance's time, so more threads would only cost resources (INFless's measured profile can
/// show an effect of threads on GPU instances; ours cannot). Predictions are inflated by
/// `prediction_margin` (INFless paper §4: the COP's error is about 10 %, so predictions are
/// inflated by 10 %).
pub fn configs_with_batch(
    ops: &[Operator],
    target: Target<'_>,
    slo: SimDuration,
    batch: u32,
    params: &SearchParams,
) -> Vec<ResourceConfig> {
    let inflate = |ns: u64| (ns as f64 * (1.0 + params.prediction_margin)).round() as u64;
    let device = target.device;
    let cpu = device.cpu();
    let cpu_cores = device.accelerators[cpu].cores.max(1);
    let init_threads = if batch == 1 { 2 } else { batch };
    // The source counts down from `init_threads` by 2 while cpuThreads > 0, so the loop ends at
    // 2 or 1. Only counts up to the CPU's cores are tried, and the last sets the GPU's threads:
    // start the countdown at the first count that fits (a batch of 2^30 would list 2^29).
    let last = 2 - init_threads % 2;
    let top = if init_threads <= cpu_cores {
        init_threads
    } else {
        cpu_cores - u32::from(cpu_cores % 2 != init_threads % 2)
    };
    let threads: Vec<u32> = if top >= last {
        std::iter::successors(Some(top), |&t| (t > 2).then_some(t - 2)).collect()
    } else {
        vec![last]
    };
    let mut out = Vec::new();
    for &t in threads.iter().filter(|&&t| t <= cpu_cores) {
        let ns = inflate(cost::plan(ops, batch, cpu, t, target).solo_ns());
        out.extend(candidate(cpu, batch, t, 0, ns, slo));
    }
    let gpu_threads = threads.last().copied().unwrap_or(2).min(cpu_cores);
    if let Some(gpu) = device
        .gpu()
        .filter(|&g| device.accelerators[g].kind == AcceleratorKind::Gpu)
    {
        let step = params.gpu_percent_step.max(1);
        let mut p = params.gpu_percent_max.min(100);
        while p >= step {
            let ns = inflate(gpu_time_ns(ops, batch, gpu, p, target));
            out.extend(candidate(gpu, batch, gpu_threads, p, ns, slo));
            p -= step;
        }
    }
    out
}

/// Resources already reserved on the device, in INFless's two dimensions plus memory.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// CPU threads (cores) held by instances.
    pub cpu_threads: u32,
    /// GPU percentages reserved by instances.
    pub gpu_percent: u32,
    /// Unified memory still free, bytes.
    pub free_memory_bytes: u64,
}

/// Capacity weights and totals of the device for the CRE score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Capacity {
    /// CPU threads (cores) of the device.
    pub cpu_threads: u32,
    /// Weight of a CPU thread, GFLOPs (scheduler.go: 64 GFLOPs per CPU thread).
    pub cpu_weight: f64,
    /// Weight of one GPU percent, GFLOPs (scheduler.go: 142 per GPU SM percent).
    pub gpu_weight: f64,
}

/// INFless's placement score CRE (`ScaleUpFuncCapacity`):
/// `(r_up / maxThroughputEfficiency) / (fragment / slotCapacity)`, where `fragment` is what the
/// slot would have left after the placement, `cpuCap·(1.001 − cpuRate) + gpuCap·(1.001 −
/// gpuRate)`, `cpuCap = 64 × threads`, `gpuCap = 142 × 100`. The per-function constant
/// `maxThroughputEfficiency` does not change which configuration wins and is left out. `None`
/// when the configuration does not fit (a rate above 1.001, as the source checks).
pub fn cre(config: &ResourceConfig, usage: &Usage, cap: &Capacity) -> Option<f64> {
    let cpu_total = f64::from(cap.cpu_threads.max(1));
    let cpu_rate = f64::from(usage.cpu_threads + config.cpu_threads) / cpu_total;
    let gpu_rate = f64::from(usage.gpu_percent + config.gpu_percent) / 100.0;
    if cpu_rate > 1.001 || gpu_rate > 1.001 {
        return None;
    }
    let cpu_cap = cpu_total * cap.cpu_weight;
    let gpu_cap = 100.0 * cap.gpu_weight;
    let fragment = cpu_cap * (1.001 - cpu_rate) + gpu_cap * (1.001 - gpu_rate);
    Some(config.r_up / (fragment / (cpu_cap + gpu_cap)))
}

/// Greedy scale-up covering `residual_rps` (`ScaleUpFuncCapacity`): for the largest batch that
/// has a configuration with r_low ≤ residual (RPS in whole requests, as the source's int32
/// rates) and one that fits, place the fitting configuration of highest [`cre`], subtract its
/// r_up, start again from the largest batch; stop when the residual is covered, nothing fits,
/// or `max_new` instances were placed. `footprint(config, placed)` gives the memory an instance
/// adds after the configurations `placed` so far (instances of one function may share a serving
/// process); a configuration that adds more than the free memory does not fit.
///
/// `candidates[i]` are the configurations of the i-th supported batch, largest batch first.
pub fn scale_up(
    residual_rps: f64,
    candidates: &[Vec<ResourceConfig>],
    usage: &mut Usage,
    cap: &Capacity,
    max_new: usize,
    footprint: impl Fn(&ResourceConfig, &[ResourceConfig]) -> u64,
) -> Vec<ResourceConfig> {
    let mut residual = residual_rps;
    let mut placed = Vec::new();
    while residual > 0.0 && placed.len() < max_new {
        let residual_int = residual.ceil();
        let mut found = None;
        for configs in candidates {
            let mut best: Option<(f64, ResourceConfig)> = None;
            for c in configs.iter().filter(|c| residual_int >= c.r_low.floor()) {
                if footprint(c, &placed) > usage.free_memory_bytes {
                    continue;
                }
                if let Some(score) = cre(c, usage, cap)
                    && best.is_none_or(|(s, _)| score > s)
                {
                    best = Some((score, *c));
                }
            }
            if let Some((_, c)) = best {
                found = Some(c);
                break;
            }
        }
        let Some(c) = found else { break };
        usage.cpu_threads += c.cpu_threads;
        usage.gpu_percent += c.gpu_percent;
        usage.free_memory_bytes -= footprint(&c, &placed);
        residual -= c.r_up;
        placed.push(c);
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::profile::DeviceProfile;
    use crate::model::runtime::RuntimeProfile;

    fn config(batch: u32, threads: u32, gpu: u32, exec_ms: u64) -> ResourceConfig {
        candidate(
            if gpu > 0 { 1 } else { 0 },
            batch,
            threads,
            gpu,
            exec_ms * 1_000_000,
            SimDuration::from_ms(100),
        )
        .unwrap()
    }

    #[test]
    fn batches_are_powers_of_two_downward() {
        assert_eq!(supported_batches(16), vec![16, 8, 4, 2, 1]);
        assert_eq!(supported_batches(12), vec![8, 4, 2, 1]);
        assert_eq!(supported_batches(1), vec![1]);
    }

    #[test]
    fn bounds_and_timeout_follow_the_estimator() {
        // SLO 100 ms, batch 4, t_exec 40 ms (≤ SLO/2 = 50 ms):
        // r_up = 4 / 0.040 = 100 rps; r_low = 4 / (0.100 − 0.040) = 66.67 rps;
        // timeout = 100 − 40 = 60 ms.
        let c = config(4, 4, 0, 40);
        assert!((c.r_up - 100.0).abs() < 1e-9);
        assert!((c.r_low - 4.0 / 0.060).abs() < 1e-9);
        assert_eq!(c.batch_timeout, SimDuration::from_ms(60));
        // Batch 1: budget is the whole SLO; r_low = 1 and no timeout (estimator.go).
        let one = config(1, 2, 0, 90);
        assert!((one.r_up - 1.0 / 0.090).abs() < 1e-9);
        assert_eq!(one.r_low, 1.0);
        assert_eq!(one.batch_timeout, SimDuration::ZERO);
        // Budgets: 51 ms misses SLO/2 at batch 2; 101 ms misses SLO at batch 1.
        let slo = SimDuration::from_ms(100);
        assert!(candidate(0, 2, 2, 0, 51_000_000, slo).is_none());
        assert!(candidate(0, 2, 2, 0, 50_000_000, slo).is_some());
        assert!(candidate(0, 1, 2, 0, 101_000_000, slo).is_none());
    }

    #[test]
    fn search_picks_the_largest_batch_within_half_the_slo() {
        let device = DeviceProfile::builtin("xavier-agx").unwrap();
        let model = crate::model::zoo::build("resnet50", &Default::default()).unwrap();
        let ops = &model.operators;
        let gpu = device.gpu().unwrap();
        let params = SearchParams {
            max_batch: 16,
            prediction_margin: 0.1,
            gpu_percent_max: 100,
            gpu_percent_step: 10,
        };
        // Budget: the SLO is 2.2 × the inflated GPU time at batch 4 and full share, so
        // t(4) × 1.1 = SLO/2.2 < SLO/2 fits; the largest feasible batch b* must satisfy
        // 1.1·t(b*) ≤ SLO/2 < 1.1·t(2·b*) (if 2·b* ≤ 16), checked against the cost model.
        let t4 = gpu_time_ns(
            ops,
            4,
            gpu,
            100,
            Target::new(&device, RuntimeProfile::tensorrt_ref()),
        ) as f64
            * 1.1;
        let slo = SimDuration::from_ns((t4 * 2.2) as u64);
        let largest = supported_batches(16)
            .into_iter()
            .find(|&b| {
                !configs_with_batch(
                    ops,
                    Target::new(&device, RuntimeProfile::tensorrt_ref()),
                    slo,
                    b,
                    &params,
                )
                .is_empty()
            })
            .unwrap();
        assert!(largest >= 4);
        let t = |b| {
            gpu_time_ns(
                ops,
                b,
                gpu,
                100,
                Target::new(&device, RuntimeProfile::tensorrt_ref()),
            ) as f64
                * 1.1
        };
        assert!(t(largest) <= slo.as_ns() as f64 / 2.0);
        if largest < 16 {
            assert!(t(largest * 2) > slo.as_ns() as f64 / 2.0);
        }
        // Every configuration respects its budget and the thread rules.
        for b in supported_batches(16) {
            for c in configs_with_batch(
                ops,
                Target::new(&device, RuntimeProfile::tensorrt_ref()),
                slo,
                b,
                &params,
            ) {
                let budget = if b == 1 { slo.as_ns() } else { slo.as_ns() / 2 };
                assert!(c.exec.as_ns() <= budget);
                assert_eq!(c.batch, b);
                assert!(c.cpu_threads >= 2 && c.cpu_threads <= b.max(2));
                assert_eq!(c.cpu_threads % 2, 0);
                if c.gpu_percent > 0 {
                    assert_eq!(c.accelerator, gpu);
                    // A smaller share never predicts a shorter time.
                    let full = gpu_time_ns(
                        ops,
                        b,
                        gpu,
                        100,
                        Target::new(&device, RuntimeProfile::tensorrt_ref()),
                    );
                    assert!(c.exec.as_ns() as f64 >= full as f64 * 1.1 - 1.0);
                }
            }
        }
    }

    #[test]
    fn cre_prefers_throughput_and_respects_capacity() {
        let cap = Capacity {
            cpu_threads: 8,
            cpu_weight: 64.0,
            gpu_weight: 142.0,
        };
        let empty = Usage {
            free_memory_bytes: u64::MAX,
            ..Default::default()
        };
        // GPU 50 %, 2 threads, r_up = 4/0.040 = 100 rps.
        // cpuCap = 8·64 = 512, gpuCap = 14200, slot = 14712.
        // fragment = 512·(1.001 − 0.25) + 14200·(1.001 − 0.5) = 384.512 + 7114.2 = 7498.712
        // CRE = 100 / (7498.712 / 14712) = 196.193…
        let c = config(4, 2, 50, 40);
        let s = cre(&c, &empty, &cap).unwrap();
        assert!((s - 100.0 / (7498.712 / 14712.0)).abs() < 1e-9);
        // 60 % already reserved: 50 % more would exceed 100.1 %.
        let busy = Usage {
            gpu_percent: 60,
            ..empty
        };
        assert!(cre(&c, &busy, &cap).is_none());
    }

    #[test]
    fn greedy_covers_the_rate_with_the_expected_instances() {
        let cap = Capacity {
            cpu_threads: 8,
            cpu_weight: 64.0,
            gpu_weight: 142.0,
        };
        // SLO 100 ms. Batch 4 on 30 % GPU: t = 40 ms → r_up 100, r_low 66.7.
        // Batch 1 on 10 % GPU: t = 50 ms → r_up 20, r_low 1.
        let candidates = vec![vec![config(4, 2, 30, 40)], vec![config(1, 2, 10, 50)]];
        let mut usage = Usage {
            free_memory_bytes: 10_000,
            ..Default::default()
        };
        // Residual 250 rps: 250 ≥ ⌊66.7⌋ → b4 (150 left) → b4 (50 left) → 50 < 66: b1 (30
        // left) → b1 (10) → b1 (−10) would make 5 instances, but each holds 2 threads and the
        // CPU has 8: the 5th does not fit, so 4 are placed (2·30 + 2·10 = 80 % GPU).
        let placed = scale_up(250.0, &candidates, &mut usage, &cap, 20, |_, _| 1000);
        let batches: Vec<u32> = placed.iter().map(|c| c.batch).collect();
        assert_eq!(batches, vec![4, 4, 1, 1]);
        assert_eq!(usage.cpu_threads, 8);
        assert_eq!(usage.gpu_percent, 80);
        assert_eq!(usage.free_memory_bytes, 6000);
        // With 10 threads the 5th is placed: Σ r_up = 2·100 + 3·20 = 260 ≥ 250.
        let cap10 = Capacity {
            cpu_threads: 10,
            ..cap
        };
        let mut usage = Usage {
            free_memory_bytes: 10_000,
            ..Default::default()
        };
        let placed = scale_up(250.0, &candidates, &mut usage, &cap10, 20, |_, _| 1000);
        assert_eq!(placed.len(), 5);
        let covered: f64 = placed.iter().map(|c| c.r_up).sum();
        assert!(covered >= 250.0 && covered - 20.0 < 250.0);
        // Memory: only 2 instances' footprints fit.
        let mut usage = Usage {
            free_memory_bytes: 2500,
            ..Default::default()
        };
        assert_eq!(
            scale_up(250.0, &candidates, &mut usage, &cap10, 20, |_, _| 1000).len(),
            2
        );
        // Instances after the first share its process: 1000 for the first, 100 for each next.
        let mut usage = Usage {
            free_memory_bytes: 2500,
            ..Default::default()
        };
        let shared = |_: &ResourceConfig, placed: &[ResourceConfig]| {
            if placed.is_empty() { 1000 } else { 100 }
        };
        assert_eq!(
            scale_up(250.0, &candidates, &mut usage, &cap10, 20, shared).len(),
            5
        );
        assert_eq!(usage.free_memory_bytes, 2500 - 1000 - 4 * 100);
    }
}
