//! The device at run time: the work running on its engines, shared max-min fairly (the fluid
//! model of [`crate::hardware::fluid`]), and how busy each engine is.
//!
//! Resources of the fluid model: accelerator `i` is resource `i` (capacity: its cores on the
//! CPU, 1 elsewhere), then the shared memory bandwidth, then one resource per accelerator memory
//! port that has a limit. Fluid rates are per ns of work; bandwidth capacities are in bytes per ns.
//!
//! Both the executor (segments of batches) and the data plane (the CPU work of copying
//! transports) run work here; whoever started an activity is told when it finishes, through the
//! [`Work`] tag it was started with.

use crate::hardware::AcceleratorKind;
use crate::hardware::fluid::{ActivityId, FluidModel};
use crate::hardware::profile::DeviceProfile;
use crate::metrics::{Recorder, TimeWeighted};
use crate::time::SimTime;

/// What a fluid activity is doing, so its end reaches its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// The current segment of a batch (the executor's).
    Batch(u32),
    /// The CPU work of a transfer (the data plane's).
    Transfer(u32),
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

    /// Starts `work_ns` of work (at full rate) on `accel` that uses `compute_demand` of the
    /// engine and moves `mem_bytes` through unified memory (and the engine's port, if limited),
    /// at most at rate `bound`.
    pub fn start_compute(
        &mut self,
        now: SimTime,
        work: ComputeWork,
        bound: f64,
        owner: Work,
    ) -> ActivityId {
        let bw = work.mem_bytes as f64 / work.work_ns as f64;
        let mut consumption = [
            (work.accel, work.compute_demand),
            (self.bandwidth_resource, bw),
            (usize::MAX, 0.0),
        ];
        let n = match self.port_resource[work.accel] {
            Some(port) => {
                consumption[2] = (port, bw);
                3
            }
            None => 2,
        };
        let id = self.fluid.start(
            now,
            work.work_ns as f64 * work.factor,
            bound,
            &consumption[..n],
        );
        self.track(id, owner);
        id
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
                    return Some(work);
                }
                None => debug_assert!(false, "fluid activity {id:?} has no owner"),
            }
        }
    }

    /// After the set of running activities changed: when (and at which generation) the next
    /// completion is due, for a fluid check; `None` if nothing changed or nothing runs.
    pub fn settle(&mut self) -> Option<(SimTime, u64)> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        self.fluid
            .next_completion()
            .map(|(t, _)| (t, self.fluid.generation()))
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
    /// starting the next window.
    pub fn take_utilization(&mut self, now: SimTime, window_ns: f64) -> Vec<f64> {
        self.busy
            .iter_mut()
            .map(|b| (b.take_interval(now) / window_ns).clamp(0.0, 1.0))
            .collect()
    }
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
    /// Capacity of the engine used at full rate.
    pub compute_demand: f64,
    /// Bytes moved through unified memory.
    pub mem_bytes: u64,
}
