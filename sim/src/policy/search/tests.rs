//! The explorers end to end on a saturated pipeline: deterministic for a seed, each search
//! settles on a configuration it measured, and the searches find what they promise.

use std::path::Path;

use super::Pipeline;
use crate::report::{Report, SearchSummary};
use crate::scenario::Scenario;
use crate::simulation::Simulation;

/// AlexNet over a Xavier AGX's four engines, CPU as one EP of 8 cores, saturated (arrivals
/// beyond what the pipeline serves turned away at a short queue); reconfiguration free so a
/// search runs in few simulated seconds.
fn run(policy: &str, seed: u64, duration: &str) -> Report {
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
rate_per_s = 2000.0
[serving]
queue_capacity = 4
[serving.admission]
queue_limit = 4
[serving.reconfiguration]
gpu = "0s"
dla = "0s"
[run]
duration = "{duration}"
[policy]
{policy}
"#
    );
    let resolved = Scenario::parse(&text, "t.toml", Path::new("."))
        .unwrap()
        .resolve()
        .unwrap();
    Simulation::new(&resolved, Some(seed)).unwrap().run()
}

fn search(r: &Report) -> &SearchSummary {
    r.search.as_ref().expect("an explorer reports its search")
}

const EXPLORERS: [&str; 5] = [
    "random_walk",
    "hill_climb",
    "annealing",
    "pipe_search",
    "shisha",
];

#[test]
fn every_explorer_is_deterministic_for_a_seed_and_settles_on_what_it_measured() {
    for kind in EXPLORERS {
        let policy = format!("kind = \"{kind}\"\ninterval = \"200ms\"");
        let a = run(&policy, 11, "120s");
        let b = run(&policy, 11, "120s");
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap(),
            "{kind}"
        );
        let s = search(&a);
        assert!(s.converged_s.is_some(), "{kind}: {s:?}");
        assert!(s.configurations >= 2, "{kind}: {s:?}");
        assert_eq!(s.trace.len() as u64, s.configurations, "{kind}");
        // It settled on the best it measured (the trace's running best).
        let best = s.trace.iter().map(|t| t[1]).fold(0.0, f64::max);
        assert_eq!(s.best_throughput_rps, best, "{kind}");
        // One repartitioning per configuration after the first, plus the move back to the
        // best when it was not the last measured.
        let moves = a.reconfigurations.len() as u64;
        assert!(
            moves == s.configurations - 1 || moves == s.configurations,
            "{kind}: {moves} moves for {} configurations",
            s.configurations
        );
        assert_eq!(a.refused_reconfigurations, 0, "{kind}");
    }
}

#[test]
fn random_searches_differ_between_seeds() {
    let policy = "kind = \"random_walk\"\ninterval = \"200ms\"\npatience = 5";
    let (a, b) = (run(policy, 1, "30s"), run(policy, 2, "30s"));
    assert_ne!(search(&a).trace, search(&b).trace);
}

#[test]
fn hill_climbing_stops_where_no_neighbour_is_better() {
    let r = run("kind = \"hill_climb\"\ninterval = \"200ms\"", 4, "120s");
    let s = search(&r);
    assert!(s.converged_s.is_some());
    // After it first measured its final configuration, at most its neighbours were measured,
    // none better (the two DLAs are alike, so a neighbour may equal it).
    let trace = &s.trace;
    let last_gain = trace
        .iter()
        .position(|t| t[1] == s.best_throughput_rps)
        .unwrap();
    assert!(
        trace[last_gain..]
            .iter()
            .all(|t| t[1] <= s.best_throughput_rps)
    );
    // AlexNet's four-stage neighbourhood on four EPs: up to 6 cut moves and 6 swaps.
    let after = trace.len() - 1 - last_gain;
    assert!(
        (1..=12).contains(&after),
        "{after} measurements after the best"
    );
}

#[test]
fn shisha_tries_a_small_fraction_of_the_space_and_stops_after_alpha_failures() {
    let r = run(
        "kind = \"shisha\"\ninterval = \"200ms\"\nalpha = 2",
        4,
        "60s",
    );
    let s = search(&r);
    assert!(s.converged_s.is_some());
    assert!((s.configurations as f64) < s.space_size * 0.01, "{s:?}");
    // Its last two measurements failed to beat the best, and before them one did (or it
    // ran out of moves).
    let n = s.trace.len();
    if n >= 3 {
        assert!(s.trace[n - 1][1] <= s.trace[n - 1][2]);
    }
    let wider = run(
        "kind = \"shisha\"\ninterval = \"200ms\"\nalpha = 6",
        4,
        "60s",
    );
    assert!(search(&wider).configurations >= s.configurations);
    assert!(search(&wider).best_throughput_rps >= s.best_throughput_rps);
}

#[test]
fn bad_explorer_parameters_name_their_field() {
    let parse = |policy: &str| {
        let text = format!(
            "[device]\nprofile = \"xavier-agx\"\n[app]\nname = \"alexnet\"\n[slo]\nmultiplier = 3.0\n[workload]\nkind = \"poisson\"\nrate_per_s = 1.0\n[run]\nduration = \"1s\"\n[policy]\n{policy}\n"
        );
        Scenario::parse(&text, "t.toml", Path::new("."))
            .and_then(|s| s.resolve())
            .unwrap_err()
            .to_string()
    };
    for (policy, field) in [
        ("kind = \"annealing\"\ncooling = 1.5", "policy.cooling"),
        ("kind = \"shisha\"\nalpha = 0", "policy.alpha"),
        ("kind = \"pipe_search\"\nparents = 0", "policy.parents"),
        ("kind = \"random_walk\"\nbudget = 0", "policy.budget"),
        (
            "kind = \"hill_climb\"\neps = [\"gpu\", \"npu\"]",
            "policy.eps",
        ),
        (
            "kind = \"pipe_search\"\ncpu_stages = 0",
            "policy.cpu_stages",
        ),
        (
            "kind = \"pipe_search\"\ncpu_stages = 9",
            "policy.cpu_stages",
        ),
        (
            "kind = \"pipe_search\"\neps = [\"gpu\", \"dla0\"]\ncpu_stages = 2",
            "policy.cpu_stages",
        ),
    ] {
        let e = parse(policy);
        assert!(e.contains(field), "{policy}: {e}");
    }
}

#[test]
fn moldable_cpu_stages_are_searched_with_their_cores_and_deployed_as_asked() {
    // AlexNet on the Xavier with its CPU as three stages sharing 8 cores: six stages.
    let policy = "kind = \"pipe_search\"\ninterval = \"200ms\"\ncpu_stages = 3\nbudget = 40";
    let a = run(policy, 3, "60s");
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&run(policy, 3, "60s")).unwrap()
    );
    let s = search(&a);
    assert_eq!(s.best_placement.len(), 6);
    assert_eq!(s.best_cores.len(), 6);
    let cpu: Vec<u32> = (0..6)
        .filter(|&k| s.best_placement[k] == "cpu")
        .map(|k| s.best_cores[k])
        .collect();
    assert_eq!(cpu.len(), 3, "{s:?}");
    assert!(
        cpu.iter().all(|&c| c >= 1) && cpu.iter().sum::<u32>() <= 8,
        "{s:?}"
    );
    assert!(
        s.configurations >= 2 && s.best_throughput_rps > 0.0,
        "{s:?}"
    );
    assert_eq!(a.refused_reconfigurations, 0);
    // The same run without moldable stages has no cores to report.
    let fixed = run(
        "kind = \"pipe_search\"\ninterval = \"200ms\"\nbudget = 5",
        3,
        "10s",
    );
    assert!(search(&fixed).best_cores.is_empty());
}

#[test]
fn a_moldable_pipeline_is_observed_as_it_was_placed() {
    use crate::hardware::profile::DeviceProfile;
    use crate::policy::pipeline::{Places, observed};
    use crate::policy::{Observation, PartitionObservation};

    let d = DeviceProfile::builtin("xavier-agx").unwrap();
    let places = Places::moldable(&d, &(0..d.accelerators.len()).collect::<Vec<_>>(), 2);
    assert_eq!(places.eps.len(), d.accelerators.len() + 1);
    let cpu = d.cpu();
    let slots: Vec<usize> = (0..places.eps.len())
        .filter(|&e| places.eps[e].accel == cpu)
        .collect();
    let gpu = (0..places.eps.len())
        .find(|&e| d.accelerators[places.eps[e].accel].name == "gpu")
        .unwrap();
    // CPU (3 cores) → GPU → CPU (5 cores).
    let p = Pipeline {
        cuts: vec![4, 9],
        eps: vec![slots[0], gpu, slots[1]],
        cores: vec![3, 1, 5],
    };
    let placement = places.placement(&p);
    let cores: Vec<u32> = placement.iter().map(|s| s.config.cpu_cores).collect();
    assert_eq!(cores, [3, 1, 5]);
    let n = d.accelerators.len();
    let bounds = [0, 4, 9, 12];
    let observation = Observation {
        partitions: placement
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let mut instances = vec![0; n];
                let mut held = vec![0; n];
                instances[s.accelerator] = 1;
                held[s.accelerator] = s.config.cpu_cores;
                PartitionObservation {
                    ops: bounds[k]..bounds[k + 1],
                    instances,
                    cores: held,
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    };
    assert_eq!(observed(&observation, &places), Some(p));
}
