//! Repartitioning at run time: one stage's model is cut anew and/or its partitions move to other
//! accelerators, without losing a request.
//!
//! **Make before break.** The new layout's instances are built first (each pays its
//! accelerator's reconfiguration cost: 0 on a CPU, an engine build on a GPU or DLA) while the old
//! layout keeps serving; when the last is built, the layout *switches*: new requests enter the new
//! partitions. **Drain.** A partition the new layout does not keep is *retired*: it keeps its link
//! to the old next partition, so requests already inside the old layout finish on it; once it is
//! empty and no retired partition upstream can send it more, its instances stop and free their
//! memory. A partition whose operators are unchanged is kept, with its instance where the new
//! placement already has one: only what changes is rebuilt.

use serde::{Deserialize, Serialize};

use super::instances::Start;
use super::{Context, DataPlane, PartitionSpec, QueueOwner, partition_state};
use crate::executor::NewPartition;
use crate::metrics::DropReason;
use crate::model::cost;
use crate::serving::InstanceConfig;
use crate::serving::state::{InstancePhase, RequestQueue};
use crate::time::{SimDuration, SimTime};

/// Where one partition of a new layout runs: one instance on an accelerator.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StagePlacement {
    /// Accelerator index in the device profile.
    pub accelerator: usize,
    /// Batching and cores.
    pub config: InstanceConfig,
}

/// A new layout for one stage: its partitions (the operators of each, contiguous, covering the
/// stage's model) and where each runs.
#[derive(Clone, Debug)]
pub struct Relayout {
    /// The stage (model) cut anew.
    pub stage: usize,
    /// Its partitions in pipeline order.
    pub partitions: Vec<PartitionSpec>,
    /// One placement per partition.
    pub placement: Vec<StagePlacement>,
    /// The cuts, as the policy gave them (for the report).
    pub cuts: Vec<usize>,
}

/// One repartitioning, as the report shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reconfiguration {
    /// When it was asked for, s.
    pub requested_s: f64,
    /// When the layout switched, s (`None`: still building at the end of the run).
    pub switched_s: Option<f64>,
    /// The stage cut anew.
    pub stage: usize,
    /// Its new cuts (paper numbering).
    pub cuts: Vec<usize>,
    /// The accelerator of each new partition, by name.
    pub placement: Vec<String>,
    /// Instances built for it.
    pub built: u32,
    /// Partitions of the old layout it kept.
    pub kept: u32,
    /// Its longest build: the time the switch waits for, s.
    pub cost_s: f64,
}

/// An instance a repartitioning put into service (+1) or out of it (−1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InstanceChange {
    /// When.
    pub at: SimTime,
    /// Global partition index.
    pub partition: u32,
    /// Accelerator index.
    pub accelerator: u32,
    /// +1 or −1.
    pub delta: i32,
}

/// A repartitioning whose instances are being built.
#[derive(Clone, Debug)]
pub(super) struct PendingLayout {
    /// Its entry in `reconfigurations`.
    record: usize,
    stage: usize,
    /// The new layout's partitions, in pipeline order.
    partitions: Vec<u32>,
    /// Instances built for it (phase `Pending`).
    building: Vec<u32>,
    /// Instances of kept partitions that the new placement does not keep: retired at the switch.
    retire: Vec<u32>,
}

impl DataPlane {
    /// Applies `relayout`: builds what it needs (each instance paying `cost[accelerator]`) and
    /// switches when that is done (at once where nothing needs building). Refused, changing
    /// nothing, when another repartitioning is pending, when the layout is not one of the stage's
    /// model, when its new instances do not fit in memory, or when the executor cannot add
    /// partitions; `Ok(false)` when it changes nothing.
    pub fn repartition(
        &mut self,
        ctx: &mut Context<'_>,
        relayout: Relayout,
        cost: &[SimDuration],
    ) -> Result<bool, String> {
        let result = self.try_repartition(ctx, relayout, cost);
        if result.is_err() {
            self.refused_reconfigurations += 1;
        }
        result
    }

    /// Counts a repartitioning refused before it reached the plane (cuts that do not split the
    /// model).
    pub fn refuse_reconfiguration(&mut self) {
        self.refused_reconfigurations += 1;
    }

    fn try_repartition(
        &mut self,
        ctx: &mut Context<'_>,
        relayout: Relayout,
        cost: &[SimDuration],
    ) -> Result<bool, String> {
        if self.pending.is_some() {
            return Err("another repartitioning is still building".into());
        }
        let Relayout {
            stage,
            partitions: specs,
            placement,
            cuts,
        } = relayout;
        let segment = self.segment(stage)?;
        let old: Vec<u32> = self.layout[segment.clone()].to_vec();
        check_layout(&specs, &placement, stage, self.stage_ops(&old), cost.len())?;

        // What each new partition reuses, and which instances are to be built.
        let reused: Vec<Option<u32>> = specs
            .iter()
            .map(|s| {
                old.iter()
                    .copied()
                    .find(|&p| self.partitions[p as usize].ops == s.ops)
            })
            .collect();
        let mut kept_instances = Vec::new();
        let mut builds = Vec::new(); // (new-layout position, placement)
        for (k, (place, reuse)) in placement.iter().zip(&reused).enumerate() {
            let keep = reuse.and_then(|p| {
                self.partitions[p as usize]
                    .instances
                    .iter()
                    .copied()
                    .find(|&i| {
                        let inst = &self.instances[i as usize];
                        inst.accepts()
                            && inst.accel as usize == place.accelerator
                            && inst.config == place.config
                            && !kept_instances.contains(&i)
                    })
            });
            match keep {
                Some(i) => kept_instances.push(i),
                None => builds.push((k, *place)),
            }
        }
        let retire = self.instances_to_retire(&reused, &kept_instances);
        if builds.is_empty() && retire.is_empty() && reused.iter().all(Option::is_some) {
            return Ok(false); // Same partitions, same instances.
        }

        // Memory: what the new instances add, as the processes would admit them in turn.
        let base = self.partitions.len();
        let mut new_index = base;
        let index: Vec<usize> = reused
            .iter()
            .map(|r| match r {
                Some(p) => *p as usize,
                None => {
                    new_index += 1;
                    new_index - 1
                }
            })
            .collect();
        let mut processes = self.processes.clone();
        let mut added = 0u64;
        for &(k, place) in &builds {
            let footprint = match reused[k] {
                Some(p) => self.footprint(p as usize, place.accelerator, place.config.max_batch),
                None => cost::footprint(
                    &specs[k].operators,
                    place.config.max_batch,
                    place.accelerator,
                    cost::Target::new(&self.device, &specs[k].runtime),
                ),
            };
            added += processes
                .admission(index[k], place.accelerator, &footprint)
                .total();
            processes.join(index[k], place.accelerator);
        }
        if added > self.memory.free_bytes() {
            return Err(format!(
                "its new instances need {added} B of unified memory, {} B are free",
                self.memory.free_bytes()
            ));
        }
        for (spec, reuse) in specs.iter().zip(&reused) {
            if reuse.is_none() {
                ctx.executor.add_partition(NewPartition {
                    stage: spec.stage,
                    ops: &spec.ops,
                    operators: &spec.operators,
                    runtime: &spec.runtime,
                })?;
            }
        }

        // Commit: the new partitions (not yet linked), their instances, the pending switch.
        let accelerators = self.device.accelerators.len();
        for (spec, reuse) in specs.into_iter().zip(&reused) {
            if reuse.is_none() {
                let queue = self.queues.len() as u32;
                let p = self.partitions.len() as u32;
                self.queues.push(RequestQueue::default());
                self.queue_owner.push(QueueOwner::Partition(p));
                self.partitions
                    .push(partition_state(spec, queue, None, false, accelerators));
                ctx.recorder.add_stage();
            }
        }
        let mut building = Vec::with_capacity(builds.len());
        let mut longest = SimDuration::ZERO;
        for &(k, place) in &builds {
            let delay = cost[place.accelerator];
            longest = longest.max(delay);
            let i = self
                .add_instance(
                    ctx,
                    index[k],
                    place.accelerator,
                    place.config,
                    Start::Pending(delay),
                )
                .expect("memory was checked for every new instance");
            building.push(i);
        }
        let new_partitions: Vec<u32> = index.iter().map(|&p| p as u32).collect();
        self.reconfigurations.push(Reconfiguration {
            requested_s: ctx.now().as_secs_f64(),
            switched_s: None,
            stage,
            cuts,
            placement: placement
                .iter()
                .map(|p| self.device.accelerators[p.accelerator].name.clone())
                .collect(),
            built: building.len() as u32,
            kept: reused.iter().filter(|r| r.is_some()).count() as u32,
            cost_s: longest.as_secs_f64(),
        });
        self.pending = Some(PendingLayout {
            record: self.reconfigurations.len() - 1,
            stage,
            partitions: new_partitions,
            building,
            retire,
        });
        self.switch_if_built(ctx);
        Ok(true)
    }

    /// Logs instance `i` going into (+1) or out of (−1) service at `at`.
    fn log_change(&mut self, at: SimTime, i: u32, delta: i32) {
        let inst = &self.instances[i as usize];
        self.relayout_changes.push(InstanceChange {
            at,
            partition: inst.partition,
            accelerator: inst.accel,
            delta,
        });
    }

    /// The positions in the layout of `stage`'s partitions.
    fn segment(&self, stage: usize) -> Result<std::ops::Range<usize>, String> {
        let start = self
            .layout
            .iter()
            .position(|&p| self.partitions[p as usize].stage == stage)
            .ok_or_else(|| format!("the app has no stage {stage}"))?;
        let len = self.layout[start..]
            .iter()
            .take_while(|&&p| self.partitions[p as usize].stage == stage)
            .count();
        Ok(start..start + len)
    }

    /// The operators the partitions `old` cover together.
    fn stage_ops(&self, old: &[u32]) -> std::ops::Range<usize> {
        let first = &self.partitions[old[0] as usize];
        let last = &self.partitions[old[old.len() - 1] as usize];
        first.ops.start..last.ops.end
    }

    /// The accepting instances of the kept partitions that the new placement does not keep.
    fn instances_to_retire(&self, reused: &[Option<u32>], kept: &[u32]) -> Vec<u32> {
        reused
            .iter()
            .flatten()
            .flat_map(|&p| self.partitions[p as usize].instances.iter().copied())
            .filter(|i| self.instances[*i as usize].accepts() && !kept.contains(i))
            .collect()
    }

    /// Switches to the pending layout once all its instances are built.
    pub(super) fn switch_if_built(&mut self, ctx: &mut Context<'_>) {
        let Some(pending) = &self.pending else {
            return;
        };
        let built = pending.building.iter().all(|&i| {
            !matches!(
                self.instances[i as usize].phase,
                InstancePhase::Pending { built: false }
            )
        });
        if !built {
            return;
        }
        let Some(pending) = self.pending.take() else {
            return;
        };
        let now = ctx.now();
        let segment = self
            .segment(pending.stage)
            .expect("a pending layout's stage is in the layout");
        let old: Vec<u32> = self.layout[segment.clone()].to_vec();
        // The stage's place in its route: what came after its last partition, and whether its
        // first took the route's arrivals (or came after another stage's).
        let after = self.partitions[old[old.len() - 1] as usize].next;
        let entry = self.partitions[old[0] as usize].first;
        let new = &pending.partitions;
        for (k, &p) in new.iter().enumerate() {
            let part = &mut self.partitions[p as usize];
            part.next = new.get(k + 1).copied().or(after);
            part.first = entry && k == 0;
        }
        if !entry {
            let before = self.layout[segment.start - 1];
            self.partitions[before as usize].next = Some(new[0]);
        }
        let retired: Vec<u32> = old.iter().copied().filter(|p| !new.contains(p)).collect();
        for &p in &retired {
            let part = &mut self.partitions[p as usize];
            part.retired = Some(now);
            part.first = false;
        }
        self.layout.splice(segment, new.iter().copied());
        for &i in &pending.building {
            let inst = &mut self.instances[i as usize];
            if matches!(inst.phase, InstancePhase::Pending { .. }) {
                inst.phase = InstancePhase::Ready;
                self.log_change(now, i, 1);
            }
        }
        for &i in &pending.retire {
            let inst = &mut self.instances[i as usize];
            if inst.accepts() {
                inst.phase = InstancePhase::Draining;
                self.log_change(now, i, -1);
                self.after_instance_idle(ctx, i);
            }
        }
        self.reconfigurations[pending.record].switched_s = Some(now.as_secs_f64());
        // Which retired partitions may still send requests to which.
        let feeders: Vec<Option<u32>> = self
            .partitions
            .iter()
            .map(|p| p.next.filter(|_| p.retired.is_some() && !p.finished))
            .collect();
        for p in &mut self.partitions {
            p.feeders = 0;
        }
        for n in feeders.into_iter().flatten() {
            if self.partitions[n as usize].retired.is_some() {
                self.partitions[n as usize].feeders += 1;
            }
        }
        for &p in &retired {
            self.finish_if_drained(ctx, p);
        }
    }

    /// Stops a retired partition's instances once nothing is left in it or can reach it, then
    /// looks at the retired partition it fed. Requests left where no instance can serve them
    /// (it had none) are dropped.
    pub(super) fn finish_if_drained(&mut self, ctx: &mut Context<'_>, partition: u32) {
        let p = &self.partitions[partition as usize];
        if p.retired.is_none()
            || p.finished
            || p.feeders > 0
            || p.inbound > 0
            || !p.blocked.is_empty()
        {
            return;
        }
        let alive: Vec<u32> = p.instances.clone();
        if alive.iter().any(|&i| self.instances[i as usize].busy) {
            return;
        }
        let mut queues = vec![p.queue];
        queues.extend(alive.iter().map(|&i| self.instances[i as usize].queue));
        let queued = queues
            .iter()
            .any(|&q| !self.queues[q as usize].requests.is_empty());
        if queued {
            if alive.iter().any(|&i| self.instances[i as usize].accepts()) {
                return; // They will be served.
            }
            for q in queues {
                while let Some(r) = self.queues[q as usize].requests.pop_front() {
                    self.change_load(ctx, partition, -1);
                    self.drop_request(ctx, r, DropReason::NoInstance);
                }
            }
        }
        self.partitions[partition as usize].finished = true;
        for i in alive {
            if self.instances[i as usize].accepts() {
                self.log_change(ctx.now(), i, -1);
            }
            self.instances[i as usize].phase = InstancePhase::Draining;
            self.stop_instance(ctx, i);
        }
        if let Some(next) = self.partitions[partition as usize].next {
            let n = &mut self.partitions[next as usize];
            if n.retired.is_some() && !n.finished {
                n.feeders = n.feeders.saturating_sub(1);
                self.finish_if_drained(ctx, next);
            }
        }
    }
}

/// Checks a new layout of `stage`: contiguous partitions of that stage covering `ops`, one
/// placement each, on accelerators that exist.
fn check_layout(
    specs: &[PartitionSpec],
    placement: &[StagePlacement],
    stage: usize,
    ops: std::ops::Range<usize>,
    accelerators: usize,
) -> Result<(), String> {
    if specs.is_empty() || specs.len() != placement.len() {
        return Err(format!(
            "{} partitions with {} placements",
            specs.len(),
            placement.len()
        ));
    }
    let mut at = ops.start;
    for s in specs {
        if s.stage != stage || s.ops.start != at || s.ops.is_empty() {
            return Err(format!(
                "partitions must cover operators {}..{} of stage {stage} contiguously",
                ops.start, ops.end
            ));
        }
        at = s.ops.end;
    }
    if at != ops.end {
        return Err(format!(
            "partitions end at operator {at}, the stage at {}",
            ops.end
        ));
    }
    if let Some(p) = placement.iter().find(|p| p.accelerator >= accelerators) {
        return Err(format!(
            "accelerator {} does not exist ({accelerators} accelerators)",
            p.accelerator
        ));
    }
    Ok(())
}
