//! The device at run time: the work running on its engines, shared max-min fairly (the fluid
//! model of [`crate::hardware::fluid`]), and how busy each engine is.
//!
//! Resources of the fluid model: accelerator `i` is resource `i` (capacity: its cores on the
//! CPU, 1 elsewhere), then the shared memory bandwidth, then one resource per accelerator memory
//! port that has a limit. Fluid rates are per ns of work; bandwidth capacities are in bytes per ns.
//! Every activity's rate is at most 1 (its solo speed) or its bound: SimGrid's bounded actions.
//!
//! What a batch segment uses per unit of rate ([`crate::model::cost::Segment`]):
//! - its engine: on a GPU, its kernels' work (`compute_demand`) while the kernels on that GPU all
//!   belong to one process (streams of one process pack the SMs), but the time its kernels hold
//!   the GPU (`slice_demand`), stretched by the GPU's `process_switch_overhead`, while kernels
//!   of two or more processes time-slice it (CUDA runs one context at a time without MPS:
//!   REFERENCE.md §8g). Running segments switch between the two when the second process
//!   arrives or the last but one leaves;
//! - the CPU: the cores its host thread uses (`host_demand`: dispatch and launch), so host work
//!   contends with CPU instances and other host threads;
//! - the GPU too, when it runs on a DLA: the DLA's `gpu_interference` × its busy fraction;
//! - the memory bandwidth (and its engine's port), `mem_bytes / work_ns`.
//!
//! Both the executor (segments of batches) and the data plane (the CPU work of copying
//! transports) run work here; whoever started an activity is told when it finishes, through the
//! [`Work`] tag it was started with.

use crate::hardware::AcceleratorKind;
use crate::hardware::fluid::{ActivityId, FluidModel};
use crate::hardware::profile::DeviceProfile;
use crate::metrics::{Recorder, TimeWeighted};
use crate::time::SimTime;

/// The next completion on the engines after a change, from [`Engines::settle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Nothing started or ended since the last call: the check already scheduled stands.
    Unchanged,
    /// The earliest running activity completes `at` (a check for `generation`).
    Next {
        /// When it completes.
        at: SimTime,
        /// The fluid model's generation now.
        generation: u64,
    },
    /// Nothing running completes: no check is due.
    Nothing,
}

/// What a fluid activity is doing, so its end reaches its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// The current segment of a batch (the executor's).
    Batch(u32),
    /// The CPU work of a transfer (the data plane's).
    Transfer(u32),
    /// An interferer's window ([`crate::interference`]); it is cancelled at the window's end.
    Interference(u32),
}

/// The engines of one device during a run.
#[derive(Debug)]
pub struct Engines {
    fluid: FluidModel,
    /// Owner of the activity running in each fluid slot, with the activity's id.
    owners: Vec<Option<(ActivityId, Work)>>,
    /// Whether the set of running activities changed since the last [`Engines::settle`].
    dirty: bool,
    /// Fluid resource index of the shared memory bandwidth.
    bandwidth_resource: usize,
    /// Fluid resource index of each accelerator's memory port, if it has a port limit.
    port_resource: Vec<Option<usize>>,
    /// Compute capacity of each accelerator in fluid units (CPU: cores; others: 1).
    compute_capacity: Vec<f64>,
    /// Whether each accelerator is the CPU.
    is_cpu: Vec<bool>,
    /// Index of the CPU (the first one; 0 if the device has none).
    cpu: usize,
    /// Capacity units held by running work on each accelerator: cores on the CPU, activities
    /// elsewhere.
    busy_units: Vec<f64>,
    /// Busy fraction (0..=1) of each accelerator, integrated over time for the policy.
    busy: Vec<TimeWeighted>,
    /// Per accelerator: the GPU sharing state (GPUs only).
    gpus: Vec<Option<GpuSharing>>,
    /// Per accelerator: the fraction of the first GPU a running DLA takes, and that GPU.
    interference: Vec<Option<(usize, f64)>>,
    /// The compute work of each fluid slot, by slot, for re-weighting GPU activities.
    compute: Vec<Option<ComputeWork>>,
    /// A buffer for the activities being re-weighted.
    scratch_ids: Vec<ActivityId>,
}

/// What an activity uses of each fluid resource per unit of rate: at most five entries (its
/// engine, the CPU for host work, the GPU for a DLA's interference, the bandwidth, a port).
#[derive(Clone, Copy, Debug)]
struct Consumption {
    items: [(usize, f64); 5],
    len: usize,
}

impl Consumption {
    fn push(&mut self, item: (usize, f64)) {
        self.items[self.len] = item;
        self.len += 1;
    }
}

impl AsRef<[(usize, f64)]> for Consumption {
    fn as_ref(&self) -> &[(usize, f64)] {
        &self.items[..self.len]
    }
}

/// How one GPU is shared now: by which processes' kernels.
#[derive(Clone, Debug, Default)]
struct GpuSharing {
    /// Running activities per process, for the processes with any (a few: a short list).
    processes: Vec<(u32, u32)>,
    /// Factor on `slice_demand` while processes time-slice the GPU: 1 / (1 − switch overhead).
    slice_factor: f64,
}

impl GpuSharing {
    fn time_sliced(&self) -> bool {
        self.processes.len() > 1
    }
}

impl Engines {
    /// The engines of `device`, idle.
    pub fn new(device: &DeviceProfile) -> Self {
        let is_cpu: Vec<bool> = device
            .accelerators
            .iter()
            .map(|a| a.kind == AcceleratorKind::Cpu)
            .collect();
        let compute_capacity: Vec<f64> = device
            .accelerators
            .iter()
            .map(|a| {
                if a.kind == AcceleratorKind::Cpu {
                    f64::from(a.cores)
                } else {
                    1.0
                }
            })
            .collect();
        let mut capacities = compute_capacity.clone();
        let bandwidth_resource = capacities.len();
        capacities.push(device.memory.achievable_bytes_per_s / 1e9);
        let mut port_resource = vec![None; device.accelerators.len()];
        for (a, acc) in device.accelerators.iter().enumerate() {
            if let Some(port) = acc.max_bandwidth_bytes_per_s {
                port_resource[a] = Some(capacities.len());
                capacities.push(port / 1e9);
            }
        }
        let n = device.accelerators.len();
        let gpus = device
            .accelerators
            .iter()
            .map(|a| {
                (a.kind == AcceleratorKind::Gpu).then(|| GpuSharing {
                    processes: Vec::new(),
                    slice_factor: 1.0 / (1.0 - a.process_switch_overhead),
                })
            })
            .collect();
        let interference = device
            .accelerators
            .iter()
            .map(|a| {
                let gpu = device.gpu()?;
                (a.kind == AcceleratorKind::Dla && a.gpu_interference > 0.0)
                    .then_some((gpu, a.gpu_interference))
            })
            .collect();
        Engines {
            fluid: FluidModel::new(capacities),
            owners: Vec::new(),
            dirty: false,
            bandwidth_resource,
            port_resource,
            compute_capacity,
            cpu: is_cpu.iter().position(|&c| c).unwrap_or(0),
            is_cpu,
            busy_units: vec![0.0; n],
            busy: (0..n).map(|_| TimeWeighted::new()).collect(),
            gpus,
            interference,
            compute: Vec::new(),
            scratch_ids: Vec::new(),
        }
    }

    /// Number of accelerators.
    pub fn accelerators(&self) -> usize {
        self.compute_capacity.len()
    }

    /// Index of the device's CPU.
    pub fn cpu(&self) -> usize {
        self.cpu
    }

    /// Capacity units that work of an instance holding `cpu_cores` takes on `accel`: its cores
    /// on the CPU, one activity elsewhere.
    pub fn units(&self, accel: usize, cpu_cores: u32) -> f64 {
        if self.is_cpu[accel] {
            f64::from(cpu_cores)
        } else {
            1.0
        }
    }

    /// Capacity units running work holds on `accel`: cores on the CPU, activities elsewhere.
    pub fn held(&self, accel: usize) -> f64 {
        self.busy_units[accel]
    }

    /// `accel`'s compute capacity: cores on the CPU, activities elsewhere.
    pub fn capacity(&self, accel: usize) -> f64 {
        self.compute_capacity[accel]
    }

    /// Whether running work holds all of `accel`'s capacity (every core of the CPU).
    pub fn is_full(&self, accel: usize) -> bool {
        self.busy_units[accel] >= self.compute_capacity[accel] - 1e-9
    }

    /// Starts `work_ns` of work (at full rate) of a batch segment on `work.accel` (see the
    /// module docs for what it uses), at most at rate `bound`.
    pub fn start_compute(
        &mut self,
        now: SimTime,
        work: ComputeWork,
        bound: f64,
        owner: Work,
    ) -> ActivityId {
        let accel = work.accel;
        let switched = match self.gpus[accel].as_mut() {
            Some(g) => {
                let before = g.time_sliced();
                match g.processes.iter_mut().find(|(p, _)| *p == work.process) {
                    Some((_, n)) => *n += 1,
                    None => g.processes.push((work.process, 1)),
                }
                before != g.time_sliced()
            }
            None => false,
        };
        if switched {
            self.reweigh_gpu(now, accel);
        }
        let consumption = self.consumption(&work);
        let id = self.fluid.start(
            now,
            work.work_ns as f64 * work.factor,
            bound,
            consumption.as_ref(),
        );
        self.track(id, owner);
        let slot = id.slot();
        if self.compute.len() <= slot {
            self.compute.resize(slot + 1, None);
        }
        self.compute[slot] = Some(work);
        id
    }

    /// What `work` uses per unit of rate, in the GPU's current sharing mode.
    fn consumption(&self, work: &ComputeWork) -> Consumption {
        consumption(
            work,
            &self.gpus,
            &self.interference,
            self.cpu,
            self.bandwidth_resource,
            &self.port_resource,
        )
    }

    /// The GPU `accel` switched between one process and time-slicing: every batch segment
    /// running on it takes the new mode's demand.
    fn reweigh_gpu(&mut self, now: SimTime, accel: usize) {
        let mut ids = std::mem::take(&mut self.scratch_ids);
        ids.clear();
        ids.extend(self.owners.iter().enumerate().filter_map(|(slot, o)| {
            let (id, _) = (*o)?;
            let w = self.compute.get(slot).copied().flatten()?;
            (w.accel == accel).then_some(id)
        }));
        if ids.is_empty() {
            self.scratch_ids = ids;
            return;
        }
        let Engines {
            fluid,
            compute,
            gpus,
            interference,
            cpu,
            bandwidth_resource,
            port_resource,
            ..
        } = self;
        fluid.set_consumption(now, &ids, |id| {
            compute[id.slot()].as_ref().map(|w| {
                consumption(
                    w,
                    gpus,
                    interference,
                    *cpu,
                    *bandwidth_resource,
                    port_resource,
                )
            })
        });
        self.scratch_ids = ids;
        self.dirty = true;
    }

    /// Bookkeeping when the activity in `slot` left the fluid model: a GPU whose last other
    /// process left stops time-slicing.
    fn untrack_compute(&mut self, now: SimTime, slot: usize) {
        let Some(work) = self.compute.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let accel = work.accel;
        let switched = match self.gpus[accel].as_mut() {
            Some(g) => {
                let before = g.time_sliced();
                if let Some(k) = g.processes.iter().position(|(p, _)| *p == work.process) {
                    g.processes[k].1 -= 1;
                    if g.processes[k].1 == 0 {
                        g.processes.swap_remove(k);
                    }
                }
                before != g.time_sliced()
            }
            None => false,
        };
        if switched {
            self.reweigh_gpu(now, accel);
        }
    }

    /// Ends the activity `id` before its work is done (an interference window's end).
    pub fn cancel(&mut self, now: SimTime, id: ActivityId) {
        let slot = id.slot();
        if self
            .owners
            .get(slot)
            .copied()
            .flatten()
            .map(|(owned, _)| owned)
            != Some(id)
        {
            return;
        }
        self.fluid.cancel(now, id);
        self.owners[slot] = None;
        self.untrack_compute(now, slot);
        self.dirty = true;
    }

    /// Starts `work_ns` of copying on one CPU core that moves `mem_bytes` through unified memory.
    pub fn start_copy(&mut self, now: SimTime, work_ns: u64, mem_bytes: u64, owner: Work) {
        let work = work_ns as f64;
        let consumption = [
            (self.cpu, 1.0),
            (self.bandwidth_resource, mem_bytes as f64 / work),
        ];
        let id = self.fluid.start(now, work, 1.0, &consumption);
        self.track(id, owner);
    }

    fn track(&mut self, id: ActivityId, owner: Work) {
        let slot = id.slot();
        if self.owners.len() <= slot {
            self.owners.resize(slot + 1, None);
        }
        debug_assert!(self.owners[slot].is_none(), "fluid slot {slot} still owned");
        self.owners[slot] = Some((id, owner));
        self.dirty = true;
    }

    /// Whether a fluid check scheduled at `generation` is still current.
    pub fn is_current(&self, generation: u64) -> bool {
        generation == self.fluid.generation()
    }

    /// Ends the earliest activity due at or before `now`, if any, and says whose it was.
    pub fn pop_finished(&mut self, now: SimTime) -> Option<Work> {
        loop {
            let (t, id) = self.fluid.next_completion()?;
            if t > now {
                return None;
            }
            self.fluid.finish(now, id);
            self.dirty = true;
            match self.owners.get_mut(id.slot()).and_then(Option::take) {
                Some((owned, work)) => {
                    debug_assert_eq!(owned, id, "fluid slot owned by another activity");
                    self.untrack_compute(now, id.slot());
                    return Some(work);
                }
                None => debug_assert!(false, "fluid activity {id:?} has no owner"),
            }
        }
    }

    /// What became of the next completion since the last call: unchanged, or due at a time
    /// (and generation) for a fluid check, or none (nothing runs, or nothing can progress).
    pub fn settle(&mut self) -> Settled {
        if !std::mem::take(&mut self.dirty) {
            return Settled::Unchanged;
        }
        match self.fluid.next_completion() {
            Some((at, _)) => Settled::Next {
                at,
                generation: self.fluid.generation(),
            },
            None => Settled::Nothing,
        }
    }

    /// Changes the work held on `accel` by `units` and records its busy level: the fraction of
    /// its cores in use on the CPU, whether anything runs on it elsewhere.
    pub fn occupy(&mut self, now: SimTime, accel: usize, units: f64, recorder: &mut Recorder) {
        let busy_units = (self.busy_units[accel] + units).max(0.0);
        self.busy_units[accel] = busy_units;
        let level = if self.is_cpu[accel] {
            busy_units / self.compute_capacity[accel]
        } else {
            busy_units
        };
        self.busy[accel].set(now, level.min(1.0));
        recorder.busy(now, accel, level.min(1.0));
    }

    /// Mean busy fraction of each accelerator over the window of `window_ns` ending `now`,
    /// starting the next window (as the iterator is consumed: consume it whole).
    pub fn take_utilization(
        &mut self,
        now: SimTime,
        window_ns: f64,
    ) -> impl Iterator<Item = f64> + '_ {
        self.busy
            .iter_mut()
            .map(move |b| (b.take_interval(now) / window_ns).clamp(0.0, 1.0))
    }
}

/// What `work` uses of each fluid resource per unit of rate (module docs).
fn consumption(
    work: &ComputeWork,
    gpus: &[Option<GpuSharing>],
    interference: &[Option<(usize, f64)>],
    cpu: usize,
    bandwidth_resource: usize,
    port_resource: &[Option<usize>],
) -> Consumption {
    let engine = match &gpus[work.accel] {
        Some(g) if g.time_sliced() => work.slice_demand * g.slice_factor,
        _ => work.compute_demand,
    };
    let bw = work.mem_bytes as f64 / work.work_ns as f64;
    let mut c = Consumption {
        items: [(0, 0.0); 5],
        len: 0,
    };
    c.push((work.accel, engine));
    if work.host_demand > 0.0 && work.accel != cpu {
        c.push((cpu, work.host_demand));
    }
    if let Some((gpu, share)) = interference[work.accel] {
        c.push((gpu, share * work.compute_demand));
    }
    c.push((bandwidth_resource, bw));
    if let Some(port) = port_resource[work.accel] {
        c.push((port, bw));
    }
    c
}

/// Work of a batch segment on an engine, as [`Engines::start_compute`] takes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ComputeWork {
    /// The engine.
    pub accel: usize,
    /// Time at full rate when running alone, ns (> 0).
    pub work_ns: u64,
    /// Service-time factor the work is scaled by.
    pub factor: f64,
    /// Capacity of the engine used at full rate while one process has it.
    pub compute_demand: f64,
    /// Fraction of the engine's time held at full rate, while processes time-slice it.
    pub slice_demand: f64,
    /// CPU cores of host work at full rate.
    pub host_demand: f64,
    /// Bytes moved through unified memory.
    pub mem_bytes: u64,
    /// The serving process whose work it is.
    pub process: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn xavier() -> DeviceProfile {
        DeviceProfile::builtin("xavier-agx").unwrap()
    }

    /// A segment of `ms` of work on `accel` using `demand` of it in one process, `slice` of its
    /// time, no host work and no memory traffic.
    fn work(accel: usize, ms: u64, demand: f64, slice: f64, process: u32) -> ComputeWork {
        ComputeWork {
            accel,
            work_ns: ms * MS,
            factor: 1.0,
            compute_demand: demand,
            slice_demand: slice,
            host_demand: 0.0,
            mem_bytes: 0,
            process,
        }
    }

    /// Runs everything started to completion: (end time ns, batch) in order.
    fn finish_all(e: &mut Engines) -> Vec<(u64, u32)> {
        let mut done = Vec::new();
        while let Settled::Next { at: t, .. } = e.settle() {
            while let Some(w) = e.pop_finished(t) {
                let Work::Batch(b) = w else { unreachable!() };
                done.push((t.as_ns(), b));
            }
        }
        done
    }

    fn start(e: &mut Engines, w: ComputeWork, batch: u32) {
        e.start_compute(SimTime::ZERO, w, 1.0, Work::Batch(batch));
    }

    #[test]
    fn kernels_of_one_process_pack_the_gpu_up_to_its_capacity() {
        let d = xavier();
        let gpu = d.gpu().unwrap();
        // Four streams filling 20 % of the GPU each: all run at their solo speed (10 ms), never
        // faster — the occupancy bound.
        let mut e = Engines::new(&d);
        for b in 0..4 {
            start(&mut e, work(gpu, 10, 0.2, 0.9, 7), b);
        }
        assert!(finish_all(&mut e).iter().all(|&(t, _)| t == 10 * MS));
        // Six of them ask for 120 %: each runs at 1 / 1.2.
        let mut e = Engines::new(&d);
        for b in 0..6 {
            start(&mut e, work(gpu, 10, 0.2, 0.9, 7), b);
        }
        assert!(finish_all(&mut e).iter().all(|&(t, _)| t == 12 * MS));
    }

    #[test]
    fn processes_time_slice_the_gpu_and_pay_the_switch() {
        let d = xavier();
        let gpu = d.gpu().unwrap();
        let overhead = d.accelerators[gpu].process_switch_overhead;
        assert!(overhead > 0.0);
        // Two low-occupancy streams (20 % of the SMs, holding the GPU 90 % of the time).
        // One process: they pack, 10 ms each.
        let mut e = Engines::new(&d);
        start(&mut e, work(gpu, 10, 0.2, 0.9, 1), 0);
        start(&mut e, work(gpu, 10, 0.2, 0.9, 1), 1);
        assert_eq!(finish_all(&mut e), [(10 * MS, 0), (10 * MS, 1)]);
        // Two processes: time-sliced, 2 × 0.9 / (1 − overhead) of the GPU's time is asked for,
        // so each runs at (1 − overhead) / 1.8.
        let mut e = Engines::new(&d);
        start(&mut e, work(gpu, 10, 0.2, 0.9, 1), 0);
        start(&mut e, work(gpu, 10, 0.2, 0.9, 2), 1);
        let done = finish_all(&mut e);
        let expected = 10.0 * 1.8 / (1.0 - overhead);
        for (t, _) in done {
            assert!(
                (t as f64 / MS as f64 - expected).abs() < 1e-3,
                "{t} vs {expected} ms"
            );
        }
    }

    #[test]
    fn the_gpu_returns_to_packing_when_the_other_process_leaves() {
        let d = xavier();
        let gpu = d.gpu().unwrap();
        let overhead = d.accelerators[gpu].process_switch_overhead;
        // A (process 1, 10 ms) and B (process 2, 2 ms), each holding the GPU 60 % of its time
        // and 30 % of its SMs. Together: time-sliced at rate r = (1 − o) / 1.2. B ends at
        // 2 / r; A then packs alone at rate 1 for its remaining 10 − 2 ms.
        let mut e = Engines::new(&d);
        start(&mut e, work(gpu, 10, 0.3, 0.6, 1), 0);
        start(&mut e, work(gpu, 2, 0.3, 0.6, 2), 1);
        let done = finish_all(&mut e);
        let r = (1.0 - overhead) / 1.2;
        let b_end = 2.0 / r;
        assert_eq!(done[0].1, 1);
        assert!((done[0].0 as f64 / MS as f64 - b_end).abs() < 1e-3);
        assert!((done[1].0 as f64 / MS as f64 - (b_end + 8.0)).abs() < 1e-3);
    }

    #[test]
    fn running_dlas_slow_the_gpu() {
        let d = xavier();
        let gpu = d.gpu().unwrap();
        let dlas: Vec<usize> = (0..d.accelerators.len())
            .filter(|&a| d.accelerators[a].kind == AcceleratorKind::Dla)
            .collect();
        let c = d.accelerators[dlas[0]].gpu_interference;
        assert!(c > 0.0);
        let mut alone = Engines::new(&d);
        start(&mut alone, work(gpu, 10, 1.0, 1.0, 1), 0);
        let t_alone = finish_all(&mut alone)[0].0;
        // With both DLAs busy for longer than the GPU work, the GPU runs at 1 / (1 + 2c).
        let mut busy = Engines::new(&d);
        start(&mut busy, work(gpu, 10, 1.0, 1.0, 1), 0);
        for (i, &dla) in dlas.iter().enumerate() {
            start(
                &mut busy,
                work(dla, 100, 1.0, 1.0, 10 + i as u32),
                1 + i as u32,
            );
        }
        let done = finish_all(&mut busy);
        let t_gpu = done.iter().find(|&&(_, b)| b == 0).unwrap().0;
        let slowdown = t_gpu as f64 / t_alone as f64;
        assert!((slowdown - (1.0 + 2.0 * c)).abs() < 1e-6, "{slowdown}");
    }

    #[test]
    fn host_work_contends_for_cpu_cores() {
        let d = xavier();
        let (gpu, cpu) = (d.gpu().unwrap(), d.cpu());
        let cores = d.accelerators[cpu].cores;
        // A CPU instance holding every core, and a host-bound GPU segment (one core busy, the
        // GPU barely): together they ask for cores + 1 cores, so both slow down.
        let mut e = Engines::new(&d);
        start(
            &mut e,
            work(cpu, 10, f64::from(cores), f64::from(cores), 1),
            0,
        );
        let mut host_bound = work(gpu, 10, 0.05, 0.1, 2);
        host_bound.host_demand = 1.0;
        start(&mut e, host_bound, 1);
        let done = finish_all(&mut e);
        let expected = 10.0 * f64::from(cores + 1) / f64::from(cores);
        for (t, _) in done {
            assert!((t as f64 / MS as f64 - expected).abs() < 1e-3, "{t}");
        }
    }
}
