//! The instance timeline of a run, rebuilt from its report.
//!
//! A report gives the instances alive at the end (`partitions[p].instances[accelerator]`) and every
//! scale-out (+1) and scale-in (−1) in time order. The instances at the start are therefore
//! `final − Σ deltas` for each (partition, accelerator); replaying the events from there gives each
//! instance's lifetime. Instances of one accelerator are drawn in lanes: a new instance takes the
//! lowest free lane, and a scale-in retires the partition's most recent instance on that
//! accelerator (the report does not say which one went; any choice gives the same counts).

use std::collections::BTreeMap;

use infscaler_sim::report::{PartitionReport, ScalingEvent};

/// One instance's lifetime on one lane of an accelerator.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceBar {
    /// Accelerator name.
    pub accelerator: String,
    /// Lane within the accelerator, from 0.
    pub lane: usize,
    /// Global partition index (into the report's `partitions`).
    pub partition: usize,
    /// Start, s since the start of the run (0 for the initial deployment).
    pub start_s: f64,
    /// End, s (the end of the run if the instance was still alive).
    pub end_s: f64,
}

/// A scale-out or scale-in, placed on the lane it concerned.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingMark {
    /// Accelerator name.
    pub accelerator: String,
    /// Lane of the instance that started or retired.
    pub lane: usize,
    /// Global partition index.
    pub partition: usize,
    /// Time, s.
    pub time_s: f64,
    /// +1 scale-out, −1 scale-in.
    pub delta: i32,
}

/// Every instance's lifetime, lane by lane.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// Accelerators in display order, with the number of lanes each needs.
    pub lanes: Vec<(String, usize)>,
    /// Instance lifetimes in the order they started.
    pub bars: Vec<InstanceBar>,
    /// Scaling events on their lanes.
    pub marks: Vec<ScalingMark>,
    /// Live instances per accelerator over time, as a step line (time s, count).
    pub counts: BTreeMap<String, Vec<[f64; 2]>>,
    /// End of the timeline, s.
    pub end_s: f64,
}

impl Timeline {
    /// Instances alive at the start, per (partition, accelerator).
    pub fn initial(&self) -> BTreeMap<(usize, String), u32> {
        let mut out = BTreeMap::new();
        for bar in self.bars.iter().filter(|b| b.start_s == 0.0) {
            *out.entry((bar.partition, bar.accelerator.clone()))
                .or_insert(0) += 1;
        }
        out
    }
}

/// Rebuilds the timeline. `accelerators` gives the display order (names missing from it are
/// appended in name order); `end_s` is the end of the run. Fails when the events contradict the
/// final counts (an instance retired that never existed) or name a partition that does not exist.
pub fn reconstruct(
    partitions: &[PartitionReport],
    events: &[ScalingEvent],
    accelerators: &[String],
    end_s: f64,
) -> Result<Timeline, String> {
    // Initial instances: final − Σ deltas.
    let mut initial: BTreeMap<(usize, String), i64> = BTreeMap::new();
    for (p, part) in partitions.iter().enumerate() {
        for (acc, &n) in &part.instances {
            *initial.entry((p, acc.clone())).or_insert(0) += i64::from(n);
        }
    }
    for e in events {
        if e.partition >= partitions.len() {
            return Err(format!(
                "scaling event at {:.3} s names partition {} but the report has {}",
                e.time_s,
                e.partition,
                partitions.len()
            ));
        }
        *initial
            .entry((e.partition, e.accelerator.clone()))
            .or_insert(0) -= i64::from(e.delta);
    }
    if let Some(((p, acc), n)) = initial.iter().find(|(_, n)| **n < 0) {
        return Err(format!(
            "the scaling events retire {} more instance(s) of partition {p} on {acc} than ever ran",
            -n
        ));
    }

    let mut order: Vec<String> = accelerators.to_vec();
    let mut extra: Vec<String> = initial
        .keys()
        .map(|(_, a)| a.clone())
        .filter(|a| !order.contains(a))
        .collect();
    extra.sort();
    extra.dedup();
    order.extend(extra);

    let end_s = events.iter().map(|e| e.time_s).fold(end_s, f64::max);
    // Per accelerator: lanes, each holding the open bar's index into `bars`.
    let mut lanes: BTreeMap<String, Vec<Option<usize>>> = BTreeMap::new();
    let mut peak: BTreeMap<String, usize> = BTreeMap::new();
    let mut bars: Vec<InstanceBar> = Vec::new();
    let mut marks = Vec::new();
    let mut live: BTreeMap<String, i64> = BTreeMap::new();
    let mut counts: BTreeMap<String, Vec<[f64; 2]>> = BTreeMap::new();

    for acc in &order {
        let mut n = 0;
        for ((p, a), &count) in &initial {
            if a == acc {
                for _ in 0..count {
                    start(&mut lanes, &mut peak, &mut bars, acc, *p, 0.0, end_s);
                }
                n += count;
            }
        }
        live.insert(acc.clone(), n);
        counts.insert(acc.clone(), vec![[0.0, n as f64]]);
    }

    for e in events {
        let acc = e.accelerator.as_str();
        let lane = if e.delta > 0 {
            let mut lane = 0;
            for _ in 0..e.delta {
                lane = start(
                    &mut lanes,
                    &mut peak,
                    &mut bars,
                    acc,
                    e.partition,
                    e.time_s,
                    end_s,
                );
            }
            lane
        } else {
            let slots = lanes.entry(acc.to_string()).or_default();
            let mut lane = 0;
            for _ in 0..-e.delta {
                // The partition's most recent open instance on this accelerator.
                let open = slots
                    .iter()
                    .enumerate()
                    .filter_map(|(l, b)| b.map(|b| (l, b)))
                    .filter(|&(_, b)| bars[b].partition == e.partition)
                    .max_by_key(|&(_, b)| b);
                let Some((l, b)) = open else {
                    return Err(format!(
                        "scale-in of partition {} on {acc} at {:.3} s with no instance alive",
                        e.partition, e.time_s
                    ));
                };
                bars[b].end_s = e.time_s;
                slots[l] = None;
                lane = l;
            }
            lane
        };
        marks.push(ScalingMark {
            accelerator: acc.to_string(),
            lane,
            partition: e.partition,
            time_s: e.time_s,
            delta: e.delta,
        });
        let n = live.entry(acc.to_string()).or_insert(0);
        *n += i64::from(e.delta);
        let steps = counts.entry(acc.to_string()).or_default();
        let before = steps.last().map_or(0.0, |p| p[1]);
        steps.push([e.time_s, before]);
        steps.push([e.time_s, *n as f64]);
    }
    for (acc, steps) in &mut counts {
        steps.push([end_s, live.get(acc).copied().unwrap_or(0) as f64]);
    }

    Ok(Timeline {
        lanes: order
            .into_iter()
            .map(|a| {
                let n = peak.get(&a).copied().unwrap_or(0);
                (a, n)
            })
            .collect(),
        bars,
        marks,
        counts,
        end_s,
    })
}

/// Starts an instance on the lowest free lane of `acc`; returns the lane.
fn start(
    lanes: &mut BTreeMap<String, Vec<Option<usize>>>,
    peak: &mut BTreeMap<String, usize>,
    bars: &mut Vec<InstanceBar>,
    acc: &str,
    partition: usize,
    t: f64,
    end_s: f64,
) -> usize {
    let slots = lanes.entry(acc.to_string()).or_default();
    let lane = match slots.iter().position(Option::is_none) {
        Some(free) => free,
        None => {
            slots.push(None);
            slots.len() - 1
        }
    };
    slots[lane] = Some(bars.len());
    let used = peak.entry(acc.to_string()).or_insert(0);
    *used = (*used).max(slots.len());
    bars.push(InstanceBar {
        accelerator: acc.to_string(),
        lane,
        partition,
        start_s: t,
        end_s,
    });
    lane
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(stage: usize, instances: &[(&str, u32)]) -> PartitionReport {
        PartitionReport {
            stage,
            model: "m".into(),
            first_op: 1,
            last_op: 2,
            instances: instances.iter().map(|(a, n)| (a.to_string(), *n)).collect(),
            retired_s: None,
            building: false,
        }
    }

    fn ev(time_s: f64, partition: usize, acc: &str, delta: i32) -> ScalingEvent {
        ScalingEvent {
            time_s,
            partition,
            accelerator: acc.into(),
            delta,
        }
    }

    fn accs() -> Vec<String> {
        ["cpu", "gpu", "dla0", "dla1"].map(String::from).to_vec()
    }

    #[test]
    fn no_events_means_every_final_instance_ran_all_along() {
        let parts = [part(0, &[("gpu", 2)]), part(1, &[("dla0", 1)])];
        let t = reconstruct(&parts, &[], &accs(), 10.0).unwrap();
        assert_eq!(t.bars.len(), 3);
        assert!(t.bars.iter().all(|b| b.start_s == 0.0 && b.end_s == 10.0));
        assert_eq!(
            t.lanes,
            vec![
                ("cpu".into(), 0),
                ("gpu".into(), 2),
                ("dla0".into(), 1),
                ("dla1".into(), 0)
            ]
        );
        assert_eq!(t.counts["gpu"], vec![[0.0, 2.0], [10.0, 2.0]]);
    }

    #[test]
    fn initial_instances_are_final_minus_the_deltas() {
        // Partition 0 ends with 2 on the GPU after +1 at 3 s, +1 at 4 s and −1 at 8 s: it started
        // with 1. Partition 1 ends with none on dla0 after −1 at 6 s: it started with 1.
        let parts = [part(0, &[("gpu", 2)]), part(1, &[])];
        let events = [
            ev(3.0, 0, "gpu", 1),
            ev(4.0, 0, "gpu", 1),
            ev(6.0, 1, "dla0", -1),
            ev(8.0, 0, "gpu", -1),
        ];
        let t = reconstruct(&parts, &events, &accs(), 10.0).unwrap();
        let initial = t.initial();
        assert_eq!(initial.get(&(0, "gpu".into())), Some(&1));
        assert_eq!(initial.get(&(1, "dla0".into())), Some(&1));

        let gpu: Vec<(usize, f64, f64)> = t
            .bars
            .iter()
            .filter(|b| b.accelerator == "gpu")
            .map(|b| (b.lane, b.start_s, b.end_s))
            .collect();
        // The instance from 4 s is the most recent when the scale-in comes at 8 s.
        assert_eq!(gpu, vec![(0, 0.0, 10.0), (1, 3.0, 10.0), (2, 4.0, 8.0)]);
        let dla: Vec<(f64, f64)> = t
            .bars
            .iter()
            .filter(|b| b.accelerator == "dla0")
            .map(|b| (b.start_s, b.end_s))
            .collect();
        assert_eq!(dla, vec![(0.0, 6.0)]);
        assert_eq!(
            t.counts["gpu"],
            vec![
                [0.0, 1.0],
                [3.0, 1.0],
                [3.0, 2.0],
                [4.0, 2.0],
                [4.0, 3.0],
                [8.0, 3.0],
                [8.0, 2.0],
                [10.0, 2.0]
            ]
        );
        assert_eq!(t.marks.len(), 4);
        assert_eq!(t.marks[3].lane, 2);
    }

    #[test]
    fn a_freed_lane_is_reused() {
        let parts = [part(0, &[("cpu", 1)])];
        let events = [
            ev(1.0, 0, "cpu", 1),
            ev(2.0, 0, "cpu", -1),
            ev(3.0, 0, "cpu", 1),
        ];
        let t = reconstruct(&parts, &events, &accs(), 5.0).unwrap();
        // final 1 = initial + 1 − 1 + 1, so none at the start; the second instance reuses lane 0.
        assert_eq!(t.lanes[0], ("cpu".into(), 1));
        let lanes: Vec<usize> = t.bars.iter().map(|b| b.lane).collect();
        assert_eq!(lanes, vec![0, 0]);
    }

    #[test]
    fn contradictory_events_are_an_error_not_a_panic() {
        let parts = [part(0, &[("gpu", 1)])];
        let events = [ev(1.0, 0, "gpu", 1), ev(2.0, 0, "gpu", 1)];
        let err = reconstruct(&parts, &events, &accs(), 5.0).unwrap_err();
        assert!(err.contains("retire"), "{err}");
        let err = reconstruct(&parts, &[ev(1.0, 7, "gpu", 1)], &accs(), 5.0).unwrap_err();
        assert!(err.contains("partition 7"), "{err}");
    }

    #[test]
    fn unknown_accelerators_are_appended() {
        let parts = [part(0, &[("npu", 1)])];
        let t = reconstruct(&parts, &[], &accs(), 1.0).unwrap();
        assert_eq!(t.lanes.last(), Some(&("npu".to_string(), 1)));
    }

    #[test]
    fn a_run_that_repartitions_replays_to_its_deployment() {
        // ODIN moving layers under interference: every repartitioning switches instances in and
        // out; the timeline starts from the four stages it deployed, and every retired
        // partition's instance lasts until it drained (the end, if it was still draining).
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/examples/odin-vgg16-server.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replace("duration = \"70s\"", "duration = \"30s\"");
        let scenario = infscaler_sim::Scenario::parse(&text, "odin.toml", path.parent().unwrap())
            .unwrap()
            .resolve()
            .unwrap();
        let report = infscaler_sim::simulation::Simulation::new(&scenario, None)
            .unwrap()
            .run();
        assert!(!report.reconfigurations.is_empty());
        let names: Vec<String> = ["cpu0", "cpu1", "cpu2", "cpu3"].map(String::from).into();
        let t = reconstruct(&report.partitions, &report.scaling_events, &names, 30.0).unwrap();
        let initial = t.initial();
        assert_eq!(initial.len(), 4, "{initial:?}");
        assert!(initial.keys().all(|(p, _)| *p < 4));
        for (p, part) in report.partitions.iter().enumerate() {
            if let Some(retired) = part.retired_s {
                assert!(
                    t.bars
                        .iter()
                        .filter(|b| b.partition == p)
                        .all(|b| b.end_s >= retired),
                    "partition {p} retired at {retired} s"
                );
            }
        }
        // Drained partitions' instances ended before the run did.
        assert!(t.bars.iter().any(|b| b.end_s < 29.0 && b.start_s > 0.0));
    }
}
