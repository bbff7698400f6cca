//! Repartitioning at run time, end to end: no request is lost, the switch waits for the builds,
//! retired partitions drain and give their memory back.

use std::path::Path;

use super::Simulation;
use crate::policy::{
    Action, Deployment, InstancePlan, Observation, Policy, PolicyContext, StagePlacement,
};
use crate::report::Report;
use crate::scenario::Scenario;
use crate::serving::{InstanceConfig, ProcessLayout};
use crate::time::SimDuration;

/// Deploys AlexNet as `cuts` on `accelerators` (one instance each, by name) and, at its first
/// tick, asks for `then` (cuts and accelerators); records what it observed.
struct Repartitioner {
    cuts: Vec<usize>,
    accelerators: Vec<usize>,
    then: Vec<(Vec<usize>, Vec<usize>)>,
    seen_partitions: Vec<usize>,
}

impl Policy for Repartitioner {
    fn name(&self) -> &'static str {
        "repartitioner"
    }
    fn process_layout(&self) -> ProcessLayout {
        ProcessLayout::PerInstance
    }
    fn deploy(&mut self, _ctx: &PolicyContext<'_>) -> Deployment {
        Deployment {
            cuts: vec![self.cuts.clone()],
            instances: self
                .accelerators
                .iter()
                .enumerate()
                .map(|(partition, &accelerator)| InstancePlan {
                    partition,
                    accelerator,
                    config: InstanceConfig::default(),
                })
                .collect(),
            ..Default::default()
        }
    }
    fn tick_interval(&self) -> Option<SimDuration> {
        Some(SimDuration::from_secs(1))
    }
    fn on_tick(&mut self, observation: &Observation, actions: &mut Vec<Action>) {
        self.seen_partitions.push(observation.partitions.len());
        if !self.then.is_empty() {
            let (cuts, accelerators) = self.then.remove(0);
            actions.push(Action::Repartition {
                stage: 0,
                cuts,
                placement: accelerators
                    .into_iter()
                    .map(|accelerator| StagePlacement {
                        accelerator,
                        config: InstanceConfig::default(),
                    })
                    .collect(),
            });
        }
    }
}

/// AlexNet on a Xavier AGX (cpu 0, gpu 1, dla0 2, dla1 3) at `rate` requests/s for
/// `duration`, the GPU and DLA reconfiguration costing `build`.
fn scenario(rate: f64, build: &str, duration: &str) -> crate::scenario::ResolvedScenario {
    let text = format!(
        r#"
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
multiplier = 20.0
[workload]
kind = "poisson"
rate_per_s = {rate}
[run]
duration = "{duration}"
[serving]
runtime = "tensorrt"
reconfiguration = {{ gpu = "{build}", dla = "{build}" }}
"#
    );
    Scenario::parse(&text, "t.toml", Path::new("."))
        .unwrap()
        .resolve()
        .unwrap()
}

/// [`scenario`] for 5 s under `policy`.
fn run(rate: f64, build: &str, policy: Repartitioner) -> Report {
    Simulation::with_policy(&scenario(rate, build, "5s"), Some(7), Box::new(policy))
        .unwrap()
        .run()
}

fn policy(then: Vec<(Vec<usize>, Vec<usize>)>) -> Repartitioner {
    Repartitioner {
        cuts: vec![5],
        accelerators: vec![1, 2],
        then,
        seen_partitions: Vec::new(),
    }
}

/// The operator ranges (paper numbering) of the partitions no repartitioning retired.
fn live_partitions(r: &Report) -> Vec<(usize, usize)> {
    r.partitions
        .iter()
        .filter(|p| p.retired_s.is_none())
        .map(|p| (p.first_op, p.last_op))
        .collect()
}

fn conserved(r: &Report) {
    let s = &r.summary;
    assert_eq!(
        s.arrivals + s.in_flight_at_warmup,
        s.completed + s.dropped + s.in_flight,
        "requests conserved"
    );
}

#[test]
fn moving_a_cut_loses_no_request_and_the_old_partitions_drain() {
    let r = run(150.0, "500ms", policy(vec![(vec![13], vec![1, 2])]));
    conserved(&r);
    assert_eq!(r.summary.dropped, 0, "{:?}", r.summary.dropped_by_reason);
    assert_eq!(r.summary.in_flight, 0);
    assert_eq!(r.refused_reconfigurations, 0);
    let [rc] = &r.reconfigurations[..] else {
        panic!("one reconfiguration: {:?}", r.reconfigurations);
    };
    // Both partitions changed: two builds, the switch after the longest.
    assert_eq!((rc.built, rc.kept), (2, 0));
    assert_eq!(rc.requested_s, 1.0);
    assert_eq!(rc.switched_s, Some(1.5));
    assert_eq!(rc.cost_s, 0.5);
    // The report keeps the retired partitions, stopped (no live instance).
    let retired: Vec<_> = r
        .partitions
        .iter()
        .filter(|p| p.retired_s.is_some())
        .collect();
    assert_eq!(retired.len(), 2);
    assert!(retired.iter().all(|p| p.instances.is_empty()));
    let live = live_partitions(&r);
    assert_eq!(live, [(1, 13), (14, 24)]);
    // The new partitions served requests.
    assert!(r.summary.stages[2..].iter().all(|s| s.requests > 0));
}

#[test]
fn the_switch_waits_for_the_build_and_the_old_layout_serves_meanwhile() {
    let slow = run(150.0, "2s", policy(vec![(vec![13], vec![1, 2])]));
    let rc = &slow.reconfigurations[0];
    assert_eq!(rc.switched_s, Some(3.0));
    conserved(&slow);
    assert_eq!(slow.summary.dropped, 0);
    // The old partitions kept serving through the build: they served more than with a 0 s build.
    let instant = run(150.0, "0s", policy(vec![(vec![13], vec![1, 2])]));
    assert_eq!(instant.reconfigurations[0].switched_s, Some(1.0));
    let served_by_old = |r: &Report| r.summary.stages[0].requests;
    assert!(served_by_old(&slow) > served_by_old(&instant) + 200);
}

#[test]
fn an_unchanged_partition_keeps_its_instance_and_only_the_moved_one_is_built() {
    // The second partition moves from DLA0 to DLA1 with the same operators.
    let r = run(100.0, "1s", policy(vec![(vec![5], vec![1, 3])]));
    let rc = &r.reconfigurations[0];
    assert_eq!((rc.built, rc.kept), (1, 2));
    assert_eq!(rc.placement, ["gpu", "dla1"]);
    conserved(&r);
    assert_eq!(r.summary.dropped, 0);
    // No partition was retired: the same two, the second now on DLA1.
    assert_eq!(r.partitions.len(), 2);
    assert_eq!(
        r.partitions[1].instances.keys().collect::<Vec<_>>(),
        ["dla1"]
    );
}

#[test]
fn a_layout_that_changes_nothing_is_not_recorded_and_one_while_building_is_refused() {
    let same = run(50.0, "1s", policy(vec![(vec![5], vec![1, 2])]));
    assert!(same.reconfigurations.is_empty());
    assert_eq!(same.refused_reconfigurations, 0);
    // A second while the first builds (ticks at 1 s and 2 s, build 5 s): refused.
    let busy = run(
        50.0,
        "5s",
        policy(vec![(vec![13], vec![1, 2]), (vec![8], vec![1, 2])]),
    );
    assert_eq!(busy.reconfigurations.len(), 1);
    assert_eq!(busy.refused_reconfigurations, 1);
    // The run ended (5 s) before the build (1 s + 5 s): its partitions never served.
    assert_eq!(busy.reconfigurations[0].switched_s, None);
    let building: Vec<_> = busy.partitions.iter().filter(|p| p.building).collect();
    assert_eq!(building.len(), 2);
    assert_eq!(busy.summary.stages[2].requests, 0);
    conserved(&busy);
    // Cuts that do not split the model are refused too.
    let bad = run(50.0, "1s", policy(vec![(vec![0], vec![1, 2])]));
    assert_eq!(bad.refused_reconfigurations, 1);
    conserved(&bad);
}

#[test]
fn repartitionings_in_a_row_chain_their_drains() {
    // Three layouts, each switching at once, under load: the drains of two retired generations
    // overlap, and still nothing is lost.
    let r = run(
        300.0,
        "0s",
        policy(vec![
            (vec![13], vec![1, 2]),
            (vec![8, 16], vec![1, 2, 3]),
            (vec![20], vec![2, 1]),
        ]),
    );
    conserved(&r);
    assert_eq!(r.summary.dropped, 0, "{:?}", r.summary.dropped_by_reason);
    assert_eq!(r.reconfigurations.len(), 3);
    let live = live_partitions(&r);
    assert_eq!(live, [(1, 20), (21, 24)]);
    assert!(
        r.partitions
            .iter()
            .filter(|p| p.retired_s.is_some())
            .all(|p| p.instances.is_empty())
    );
    // The scaling events account for every instance the repartitionings switched: replayed
    // back from the final counts they leave exactly the deployment (gpu, dla0) at the start.
    let mut initial = std::collections::BTreeMap::new();
    for (k, p) in r.partitions.iter().enumerate() {
        for (acc, &n) in &p.instances {
            *initial.entry((k, acc.clone())).or_insert(0i64) += i64::from(n);
        }
    }
    for e in &r.scaling_events {
        *initial
            .entry((e.partition, e.accelerator.clone()))
            .or_insert(0) -= i64::from(e.delta);
    }
    initial.retain(|_, n| *n != 0);
    let expected: std::collections::BTreeMap<_, _> =
        [((0, "gpu".to_string()), 1), ((1, "dla0".to_string()), 1)].into();
    assert_eq!(initial, expected);
    assert!(
        r.scaling_events
            .windows(2)
            .all(|w| w[0].time_s <= w[1].time_s)
    );
}

#[test]
fn the_policy_sees_the_new_layout_after_the_switch() {
    let resolved = scenario(50.0, "0s", "4s");
    let mut sim = Simulation::with_policy(
        &resolved,
        Some(1),
        Box::new(policy(vec![(vec![5, 13], vec![1, 2, 3])])),
    )
    .unwrap();
    let before = sim.observe();
    assert_eq!(before.partitions.len(), 2);
    sim.apply(Action::Repartition {
        stage: 0,
        cuts: vec![5, 13],
        placement: [1, 2, 3]
            .into_iter()
            .map(|accelerator| StagePlacement {
                accelerator,
                config: InstanceConfig::default(),
            })
            .collect(),
    });
    let after = sim.observe();
    let ops: Vec<_> = after.partitions.iter().map(|p| p.ops.clone()).collect();
    assert_eq!(ops, [0..5, 5..13, 13..24]);
    assert_eq!(after.partitions[2].instances[3], 1);
    // The first partition was kept with its instance; the retired one, empty, stopped at once.
    assert_eq!(sim.plane.processes_alive(), 3);
    assert_eq!(sim.plane.reconfigurations()[0].kept, 1);
}
