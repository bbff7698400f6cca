//! Serving processes: how a system groups its instances into OS processes, each paying its
//! runtime's process memory (CUDA context, cuDNN/cuBLAS/TensorRT libraries: 0.6–1.5 GB,
//! REFERENCE.md §8e) once, and what a new instance finds already resident in the process it
//! joins.
//!
//! Approximation: a process never spans two accelerators. A real TensorRT process may drive the
//! GPU and the DLAs at once; here the instances of one (partition or app) on two accelerators are
//! two processes, each with its own runtime memory (and, on the GPU, its own time slices).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::cost::{Footprint, Residency};

/// How a serving system groups its instances into processes (`policy.process_layout`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessLayout {
    /// A process (a container) per instance: each replica carries its own runtime, as the
    /// serverless platforms (Knative, INFless, SPRIGHT) run one container per replica.
    #[default]
    PerInstance,
    /// One process per (partition, accelerator), holding all the partition's replicas there as
    /// execution contexts (one TensorRT engine, several contexts).
    PerPartition,
    /// One process per accelerator for the whole app: every partition's replicas there.
    PerApp,
}

impl ProcessLayout {
    /// Every layout, in the order errors list them.
    pub const ALL: [ProcessLayout; 3] = [
        ProcessLayout::PerInstance,
        ProcessLayout::PerPartition,
        ProcessLayout::PerApp,
    ];

    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            ProcessLayout::PerInstance => "per_instance",
            ProcessLayout::PerPartition => "per_partition",
            ProcessLayout::PerApp => "per_app",
        }
    }

    /// The layout called `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The allowed names, quoted, for error messages.
    pub fn allowed() -> String {
        Self::ALL
            .iter()
            .map(|l| format!("\"{}\"", l.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The process a new instance of `partition` on `accelerator` joins while one is live:
    /// instances with equal keys share a process; `None`, a process of its own.
    fn key(self, partition: usize, accelerator: usize) -> Option<(Option<usize>, usize)> {
        match self {
            ProcessLayout::PerInstance => None,
            ProcessLayout::PerPartition => Some((Some(partition), accelerator)),
            ProcessLayout::PerApp => Some((None, accelerator)),
        }
    }
}

impl fmt::Display for ProcessLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Live instances (starting, ready or draining: those that hold memory) of each partition on
/// each accelerator, and what a new instance would find resident under a layout. The data plane
/// charges memory by it; a policy rebuilds it from its observation
/// ([`crate::policy::Observation::census`]) to know what one more instance will cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    layout: ProcessLayout,
    /// `live[partition][accelerator]`; missing entries are 0.
    live: Vec<Vec<u32>>,
}

impl Census {
    /// A census under `layout` of `live[partition][accelerator]` instances.
    pub fn new(layout: ProcessLayout, live: Vec<Vec<u32>>) -> Self {
        Census { layout, live }
    }

    /// The layout.
    pub fn layout(&self) -> ProcessLayout {
        self.layout
    }

    /// Live instances of `partition` on `accelerator`.
    pub fn live(&self, partition: usize, accelerator: usize) -> u32 {
        self.live
            .get(partition)
            .and_then(|p| p.get(accelerator))
            .copied()
            .unwrap_or(0)
    }

    /// Counts one more live instance of `partition` on `accelerator`.
    pub fn add(&mut self, partition: usize, accelerator: usize) {
        if self.live.len() <= partition {
            self.live.resize(partition + 1, Vec::new());
        }
        let row = &mut self.live[partition];
        if row.len() <= accelerator {
            row.resize(accelerator + 1, 0);
        }
        row[accelerator] += 1;
    }

    /// Counts one live instance of `partition` on `accelerator` fewer.
    pub fn remove(&mut self, partition: usize, accelerator: usize) {
        let n = self
            .live
            .get_mut(partition)
            .and_then(|p| p.get_mut(accelerator));
        debug_assert!(n.as_ref().is_some_and(|n| **n > 0), "no instance to remove");
        if let Some(n) = n {
            *n = n.saturating_sub(1);
        }
    }

    /// What a new instance of `partition` on `accelerator` finds resident: under `per_instance`
    /// nothing; under `per_partition` the process and the weights once the partition has an
    /// instance there; under `per_app` the process once any partition has one there, the
    /// weights once this partition has.
    pub fn residency(&self, partition: usize, accelerator: usize) -> Residency {
        self.residency_with(partition, accelerator, 0)
    }

    /// [`Self::residency`] once `more` further instances of `partition` on `accelerator` are
    /// live (what a policy placing several instances at once foresees).
    pub fn residency_with(&self, partition: usize, accelerator: usize, more: u32) -> Residency {
        let here = self.live(partition, accelerator) + more > 0;
        match self.layout {
            ProcessLayout::PerInstance => Residency::NONE,
            ProcessLayout::PerPartition => Residency {
                process: here,
                weights: here,
            },
            ProcessLayout::PerApp => Residency {
                process: here || (0..self.live.len()).any(|p| self.live(p, accelerator) > 0),
                weights: here,
            },
        }
    }
}

/// The data plane's serving processes: which process each new instance runs in, and what
/// memory it adds or gives back.
#[derive(Clone, Debug, Default)]
pub struct Processes {
    census: Census,
    /// Live processes new instances join, by key.
    open: BTreeMap<(Option<usize>, usize), u32>,
    /// Id of the next process started (ids are never reused).
    next_id: u32,
    /// Processes alive now.
    alive: u32,
}

impl Processes {
    /// No process yet, under `layout`.
    pub fn new(layout: ProcessLayout) -> Self {
        Processes {
            census: Census::new(layout, Vec::new()),
            ..Default::default()
        }
    }

    /// Live instances and the layout.
    pub fn census(&self) -> &Census {
        &self.census
    }

    /// Processes alive now.
    pub fn alive(&self) -> u32 {
        self.alive
    }

    /// What a new instance of `partition` on `accelerator` with `footprint` would add to memory
    /// now, by kind.
    pub fn admission(
        &self,
        partition: usize,
        accelerator: usize,
        footprint: &Footprint,
    ) -> Footprint {
        footprint.beyond(self.census.residency(partition, accelerator))
    }

    /// Records a new instance of `partition` on `accelerator` (after its
    /// [`admission`](Self::admission) was allocated) and returns its process id.
    pub fn join(&mut self, partition: usize, accelerator: usize) -> u32 {
        let key = self.census.layout.key(partition, accelerator);
        let existing = key.and_then(|k| self.open.get(&k).copied());
        let id = existing.unwrap_or_else(|| {
            let id = self.next_id;
            self.next_id += 1;
            self.alive += 1;
            if let Some(k) = key {
                self.open.insert(k, id);
            }
            id
        });
        self.census.add(partition, accelerator);
        id
    }

    /// Records that an instance of `partition` on `accelerator` with `footprint` stopped, and
    /// returns the memory to release, by kind: its context and workspace, its weights unless
    /// another instance of its partition still shares them, and its process's memory if it was
    /// the last instance of the process.
    pub fn leave(
        &mut self,
        partition: usize,
        accelerator: usize,
        footprint: &Footprint,
    ) -> Footprint {
        self.census.remove(partition, accelerator);
        let still = self.census.residency(partition, accelerator);
        if !still.process {
            self.alive -= 1;
            if let Some(k) = self.census.layout.key(partition, accelerator) {
                self.open.remove(&k);
            }
        }
        footprint.beyond(still)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: Footprint = Footprint {
        process: 1000,
        weights: 100,
        context: 10,
        workspace: 1,
        shares_weights: true,
    };

    /// Starts `n` instances of `partition` on `accel`; returns (process ids, bytes added).
    fn start(p: &mut Processes, partition: usize, accel: usize, n: usize) -> (Vec<u32>, u64) {
        let mut ids = Vec::new();
        let mut bytes = 0;
        for _ in 0..n {
            bytes += p.admission(partition, accel, &FP).total();
            ids.push(p.join(partition, accel));
        }
        (ids, bytes)
    }

    #[test]
    fn per_instance_charges_a_process_per_instance() {
        let mut p = Processes::new(ProcessLayout::PerInstance);
        let (ids, bytes) = start(&mut p, 0, 1, 3);
        assert_eq!(ids, [0, 1, 2]);
        assert_eq!(bytes, 3 * FP.total());
        assert_eq!(p.alive(), 3);
        assert_eq!(p.leave(0, 1, &FP).total(), FP.total());
        assert_eq!(p.alive(), 2);
    }

    #[test]
    fn per_partition_shares_process_and_weights_until_the_last_instance_leaves() {
        let mut p = Processes::new(ProcessLayout::PerPartition);
        let (ids, bytes) = start(&mut p, 0, 1, 3);
        assert_eq!(ids, [0, 0, 0]);
        assert_eq!(bytes, 1000 + 100 + 3 * 11);
        // Another partition, or the same one elsewhere, is another process.
        assert_eq!(start(&mut p, 1, 1, 1).0, [1]);
        assert_eq!(start(&mut p, 0, 2, 1).0, [2]);
        assert_eq!(p.alive(), 3);
        // Leaving: context and workspace only, until the last instance takes the rest.
        assert_eq!(p.leave(0, 1, &FP).total(), 11);
        assert_eq!(p.leave(0, 1, &FP).total(), 11);
        assert_eq!(p.alive(), 3);
        assert_eq!(p.leave(0, 1, &FP).total(), 1111);
        assert_eq!(p.alive(), 2);
        // A new instance then starts a new process.
        assert_eq!(start(&mut p, 0, 1, 1), (vec![3], 1111));
    }

    #[test]
    fn unshared_weights_are_charged_per_instance_in_one_process() {
        let own = Footprint {
            shares_weights: false,
            ..FP
        };
        let mut p = Processes::new(ProcessLayout::PerPartition);
        let mut bytes = 0;
        for _ in 0..3 {
            bytes += p.admission(0, 1, &own).total();
            p.join(0, 1);
        }
        assert_eq!(bytes, 1000 + 3 * 111);
        assert_eq!(p.leave(0, 1, &own).total(), 111);
    }

    #[test]
    fn per_app_shares_the_process_across_partitions_not_the_weights() {
        let mut p = Processes::new(ProcessLayout::PerApp);
        assert_eq!(start(&mut p, 0, 1, 2), (vec![0, 0], 1111 + 11));
        // Another partition joins the process but loads its own weights.
        assert_eq!(start(&mut p, 1, 1, 1), (vec![0], 111));
        // The DLA is another process.
        assert_eq!(start(&mut p, 1, 2, 1), (vec![1], 1111));
        assert_eq!(p.leave(1, 1, &FP).total(), 111);
        assert_eq!(p.leave(0, 1, &FP).total(), 11);
        assert_eq!(p.leave(0, 1, &FP).total(), 1111);
        assert_eq!(p.alive(), 1);
    }

    #[test]
    fn census_residency_follows_the_layout() {
        let live = vec![vec![0, 2], vec![0, 0]];
        let census = |layout| Census::new(layout, live.clone());
        let both = Residency {
            process: true,
            weights: true,
        };
        assert_eq!(
            census(ProcessLayout::PerInstance).residency(0, 1),
            Residency::NONE
        );
        assert_eq!(census(ProcessLayout::PerPartition).residency(0, 1), both);
        assert_eq!(
            census(ProcessLayout::PerPartition).residency(1, 1),
            Residency::NONE
        );
        assert_eq!(
            census(ProcessLayout::PerApp).residency(1, 1),
            Residency {
                process: true,
                weights: false
            }
        );
        // One more instance foreseen.
        assert_eq!(
            census(ProcessLayout::PerPartition).residency_with(1, 1, 1),
            both
        );
        assert_eq!(
            census(ProcessLayout::PerInstance).residency_with(0, 1, 3),
            Residency::NONE
        );
        // Out of range: nothing live.
        assert_eq!(
            census(ProcessLayout::PerApp).residency(5, 7),
            Residency::NONE
        );
    }

    #[test]
    fn names_round_trip() {
        for l in ProcessLayout::ALL {
            assert_eq!(ProcessLayout::from_name(l.name()), Some(l));
            let text = toml::to_string(&BTreeMap::from([("l", l)])).unwrap();
            assert_eq!(text.trim(), format!("l = \"{}\"", l.name()));
        }
        assert_eq!(ProcessLayout::from_name("per_process"), None);
        assert_eq!(
            ProcessLayout::allowed(),
            "\"per_instance\", \"per_partition\", \"per_app\""
        );
    }
}
