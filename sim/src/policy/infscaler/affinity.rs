//! Hardware affinity A_k^m and expected resource use r_k^m of a partition on each accelerator
//! (the inputs of InfScaler's Algorithm 1, §IV-A).
//!
//! - **Affinity** A_k^m is the predicted latency of partition k alone at batch 1 on accelerator
//!   m (`cost::plan(..).solo_ns()`; a DLA plan runs the operators the DLA does not support on
//!   the GPU and pays each hand-over, TensorRT's GPU fallback). Sorting ascending (ties: lower
//!   accelerator index) gives the order in which Algorithm 1 tries accelerators.
//! - **Eligibility** (`latency_fit`; the paper is silent): an accelerator on which the partition
//!   alone already exceeds its share of the SLO can never serve it within the SLO, so it is
//!   left out of the affinity order. The share is the stage's latency budget split over the
//!   stage's partitions in proportion to their best latencies. The best accelerator is always
//!   kept. With `latency_fit = false` every accelerator is in the order, as in the paper's text.
//! - **Resource use** r_k^m has two parts, each checked against its own cap:
//!   - memory: what one more instance on m at the configured `max_batch` adds — its
//!     [`cost::footprint`] beyond what its serving process already holds (the whole footprint
//!     in a process of its own; context and workspace, plus weights the runtime does not share,
//!     beside a live instance of its partition under a shared [process
//!     layout](crate::serving::ProcessLayout)) — against the device-wide unified-memory cap
//!     (memory is one pool on Jetson);
//!   - compute: the share of m's capacity the instance is expected to use, w_k^m × u, where
//!     w_k^m is the share of m the instance holds while it runs — on a DLA 1 (it runs one
//!     activity at a time); on the CPU the cores the instance holds over the CPU's cores; on a
//!     GPU the binding one of its compute share (time-weighted compute demand of the plan's GPU
//!     segments, what the fluid model's max-min sharing gives it) and its share of the DRAM
//!     bandwidth (bytes moved per unit of time over the device's bandwidth), so memory-bound
//!     partitions do not count as free — and u is the fraction of its time the instance is
//!     expected to be busy. How u is read is a parameter ([`ResourceShare`]):
//!     - `reserved` (default): u = ρ, the target utilisation (`instance_utilization`): every
//!       instance is provisioned for ρ of its busy share, whatever the load, so U^m (the same
//!       figure summed over the instances on m) grows by r_k^m with each instance and line 4's
//!       check U^m + r_k^m < R^m stops scale-out on m at its limit; Algorithm 1 then moves on
//!       to the next accelerator in affinity order, and stops when none has room: "checks if
//!       the accelerator has enough resources to accommodate it (lines 3, 4)" (§IV-A);
//!     - `load_share` (the reading before December 2026): u = min(ρ, λ_k·A_k^m/S_k), the
//!       partition's observed load spread evenly over its S_k instances (S_k + 1 for the one
//!       being added). It shrinks as instances are added, so Σ r over a partition's instances
//!       stays at its offered utilisation and the check never binds below full load: under an
//!       SLO violation that scaling cannot cure, instances are added until memory is full (31
//!       to 62 under the Table II trace in the reproduction of November 2026).
//!
//!     U^m counts the initial deployment too, which Algorithm 1 does not place: it may start
//!     above R^m on the accelerator every partition prefers, which then takes no scale-out.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::hardware::AcceleratorKind;
use crate::hardware::profile::DeviceProfile;
use crate::model::Operator;
use crate::model::cost::{self, ExecPlan, Footprint, Target};
use crate::serving::InstanceConfig;

/// How Algorithm 1 reads r_k^m, the compute share one instance is expected to use (line 4's
/// check U^m + r_k^m < R^m).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceShare {
    /// w_k^m × ρ: each instance reserves its busy share at the target utilisation, whatever the
    /// load, so the instances on an accelerator add up to at most R^m and scale-out moves on to
    /// the next accelerator in affinity order, then stops — the limit line 4 states.
    #[default]
    Reserved,
    /// w_k^m × min(ρ, λ_k·A_k^m/S_k): the partition's load spread over its instances. It
    /// shrinks as instances are added, so Σ r over the instances equals the offered
    /// utilisation and the check never binds: instances are added until memory is full.
    LoadShare,
}

/// What Algorithm 1 knows about one partition.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionProfile {
    /// App stage (model index).
    pub stage: usize,
    /// Operators in the stage's model, 0-based, end-exclusive.
    pub ops: Range<usize>,
    /// Initial bottleneck indicator B_k = Σ P_k: the summed complexity of the partition's
    /// representative operators.
    pub bottleneck: f64,
    /// A_k^m: predicted batch-1 latency alone on each accelerator, ns (profile order).
    pub latency_ns: Vec<u64>,
    /// Accelerators in affinity order (ascending latency), eligible ones only.
    pub affinity: Vec<usize>,
    /// Memory of one instance on each accelerator, by kind (alone in its process).
    pub footprint: Vec<Footprint>,
    /// w_k^m: share of each accelerator one instance holds while it runs.
    pub busy_share: Vec<f64>,
}

impl PartitionProfile {
    /// Expected compute share r_k^m of one instance on `m`: under [`ResourceShare::Reserved`]
    /// w_k^m × ρ; under [`ResourceShare::LoadShare`], with the partition's `arrivals_per_s`
    /// spread over `instances` instances, w_k^m × min(ρ, λ·A_k^m / S).
    pub fn expected_share(
        &self,
        m: usize,
        arrivals_per_s: f64,
        instances: u32,
        rho: f64,
        reading: ResourceShare,
    ) -> f64 {
        let busy = match reading {
            ResourceShare::Reserved => rho,
            ResourceShare::LoadShare => {
                arrivals_per_s * self.latency_ns[m] as f64 / 1e9 / f64::from(instances.max(1))
            }
        };
        self.busy_share[m] * busy.clamp(0.0, rho)
    }

    /// Accelerators in ascending latency, all of them (for scale-in: the slowest goes first).
    pub fn full_order(&self) -> Vec<usize> {
        sorted_by_latency(&self.latency_ns)
    }
}

/// Accelerator indices sorted by ascending latency, ties by index.
pub fn sorted_by_latency(latency_ns: &[u64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..latency_ns.len()).collect();
    order.sort_by_key(|&m| (latency_ns[m], m));
    order
}

/// Share of accelerator `m` one busy instance running `plan` holds (w_k^m, see the module).
pub fn busy_share(plan: &ExecPlan, m: usize, cpu_cores: u32, device: &DeviceProfile) -> f64 {
    let spec = &device.accelerators[m];
    match spec.kind {
        AcceleratorKind::Dla => 1.0,
        AcceleratorKind::Cpu => {
            f64::from(cpu_cores.clamp(1, spec.cores.max(1))) / f64::from(spec.cores.max(1))
        }
        AcceleratorKind::Gpu => {
            let on_m = plan.segments.iter().filter(|s| s.accel == m);
            let (mut demand_ns, mut solo_ns, mut bytes) = (0.0, 0u64, 0u64);
            for s in on_m {
                demand_ns += s.compute_demand * s.work_ns as f64;
                solo_ns += s.solo_ns();
                bytes += s.mem_bytes;
            }
            if solo_ns == 0 {
                return 0.0;
            }
            let compute = demand_ns / solo_ns as f64;
            let bandwidth =
                bytes as f64 / (solo_ns as f64 / 1e9) / device.memory.achievable_bytes_per_s;
            compute.max(bandwidth).clamp(0.0, 1.0)
        }
    }
}

/// Latency, memory footprint and busy share (w) of the slice `ops` on every accelerator
/// (`measured`: as for [`cost::plan`]).
pub fn profile_ops(
    ops: &[Operator],
    config: &InstanceConfig,
    target: Target<'_>,
) -> (Vec<u64>, Vec<Footprint>, Vec<f64>) {
    let device = target.device;
    let n = device.accelerators.len();
    let (mut lat, mut mem, mut share) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for m in 0..n {
        let plan = cost::plan(ops, 1, m, config.cpu_cores, target);
        lat.push(plan.solo_ns());
        mem.push(cost::footprint(ops, config.max_batch, m, target));
        share.push(busy_share(&plan, m, config.cpu_cores, device));
    }
    (lat, mem, share)
}

/// The eligible accelerators in affinity order: those on which `latency_ns` fits `budget_ns`
/// (all of them when `budget_ns` is `None`), always including the fastest.
pub fn affinity_order(latency_ns: &[u64], budget_ns: Option<u64>) -> Vec<usize> {
    let order = sorted_by_latency(latency_ns);
    order
        .iter()
        .enumerate()
        .filter(|&(rank, &m)| rank == 0 || budget_ns.is_none_or(|b| latency_ns[m] <= b))
        .map(|(_, &m)| m)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::runtime::RuntimeProfile;

    #[test]
    fn affinity_sorts_by_latency_and_drops_what_cannot_fit() {
        // Latencies CPU 90, GPU 10, DLA0 25, DLA1 25: order GPU, DLA0, DLA1 (tie by index), CPU.
        let lat = [90, 10, 25, 25];
        assert_eq!(affinity_order(&lat, None), vec![1, 2, 3, 0]);
        // Budget 30: the CPU (90) is out.
        assert_eq!(affinity_order(&lat, Some(30)), vec![1, 2, 3]);
        // Budget 5: even the GPU misses it, but the fastest stays.
        assert_eq!(affinity_order(&lat, Some(5)), vec![1]);
    }

    #[test]
    fn resource_use_of_alexnet_on_xavier() {
        let d = DeviceProfile::builtin("xavier-agx").unwrap();
        let m = crate::model::zoo::build("alexnet", &Default::default()).unwrap();
        let cfg = InstanceConfig::default();
        let (lat, mem, share) = profile_ops(
            &m.operators,
            &cfg,
            Target::new(&d, RuntimeProfile::tensorrt_ref()),
        );
        let (cpu, gpu, dla) = (0, 1, 2);
        // The GPU is the fastest, the CPU the slowest.
        assert!(lat[gpu] < lat[dla] && lat[dla] < lat[cpu]);
        // A DLA is held whole while it runs.
        assert_eq!(share[dla], 1.0);
        // One of the CPU's 8 cores.
        assert_eq!(share[cpu], 1.0 / 8.0);
        // The GPU share lies in (0, 1].
        assert!(share[gpu] > 0.0 && share[gpu] <= 1.0);
        // Footprints are the cost model's.
        assert_eq!(
            mem[gpu],
            cost::footprint(
                &m.operators,
                1,
                gpu,
                Target::new(&d, RuntimeProfile::tensorrt_ref())
            )
        );
        let p = PartitionProfile {
            stage: 0,
            ops: 0..m.operators.len(),
            bottleneck: 0.0,
            latency_ns: lat.clone(),
            affinity: vec![gpu],
            footprint: mem,
            busy_share: share,
        };
        // Load share on a DLA: λ·A/S capped at ρ. 100 req/s × A over 2 instances:
        let load = ResourceShare::LoadShare;
        let a_dla = lat[dla] as f64 / 1e9;
        let u = 100.0 * a_dla / 2.0;
        assert!(u < 0.7);
        assert!((p.expected_share(dla, 100.0, 2, 0.7, load) - u).abs() < 1e-12);
        // Overloaded: capped at ρ = 0.7 (× w = 1).
        assert_eq!(p.expected_share(dla, 1e6, 1, 0.7, load), 0.7);
        // Reserved: ρ × w whatever the load or the number of instances.
        let reserved = ResourceShare::Reserved;
        for (rate, n) in [(0.0, 1), (100.0, 2), (1e6, 9)] {
            assert_eq!(p.expected_share(dla, rate, n, 0.7, reserved), 0.7);
        }
        // No load, no load share.
        assert_eq!(p.expected_share(gpu, 0.0, 1, 0.7, load), 0.0);
    }
}
