use std::path::Path;

use super::*;
use crate::hardware::profile::DeviceProfile;
use crate::policy::PolicySpec;
use crate::serving::transport::TransportSpec;

fn spec_from(toml_text: &str) -> Result<InfScalerSpec, String> {
    match toml::from_str::<PolicySpec>(toml_text) {
        Ok(PolicySpec::Infscaler(s)) => Ok(s),
        Ok(other) => Err(format!("wrong kind {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn spec_defaults_unknown_keys_and_validation() {
    let s = spec_from("kind = \"infscaler\"").unwrap();
    assert_eq!(s, InfScalerSpec::default());
    assert_eq!(s.control_path, ControlPath::Ebpf);
    assert_eq!(s.max_batch, 1);
    let s = spec_from(
        "kind = \"infscaler\"\ncontrol_path = \"user_space\"\nmax_partitions = 3\n\
         complexity = \"predicted_time\"\ntick_interval = \"500ms\"",
    )
    .unwrap();
    assert_eq!(s.control_path, ControlPath::UserSpace);
    assert_eq!(s.max_partitions, Some(3));
    assert_eq!(s.complexity, Complexity::PredictedTime);
    assert_eq!(s.tick_interval.0, SimDuration::from_ms(500));
    assert!(spec_from("kind = \"infscaler\"\nscale_out_rate = 2").is_err());
    let bad = InfScalerSpec {
        attainment_target: 1.5,
        ..Default::default()
    };
    assert_eq!(bad.validate().unwrap_err().0, "attainment_target");
    let bad = InfScalerSpec {
        max_partitions: Some(0),
        ..Default::default()
    };
    assert_eq!(bad.validate().unwrap_err().0, "max_partitions");
    assert!(InfScalerSpec::default().validate().is_ok());
}

fn ctx<'a>(
    device: &'a DeviceProfile,
    models: &'a [Model],
    transport: &'a TransportSpec,
    multiplier: f64,
) -> PolicyContext<'a> {
    let iso = crate::scenario::isolated_latency(
        models,
        crate::model::cost::Target::new(
            device,
            crate::model::runtime::RuntimeProfile::tensorrt_ref(),
        ),
    );
    let slo = SimDuration::from_secs_f64(iso.as_secs_f64() * multiplier);
    PolicyContext::roofline(device, models, transport, slo)
}

#[test]
fn deploys_one_instance_per_partition_with_zero_copy() {
    let d = DeviceProfile::builtin("xavier-agx").unwrap();
    let t = TransportSpec::default();
    let models = [crate::model::zoo::build("alexnet", &Default::default()).unwrap()];
    let c = ctx(&d, &models, &t, 2.0);
    // Eq. 1 alone (K bounded only by the SLO).
    let mut p = InfScalerPolicy::new(InfScalerSpec {
        max_partitions: Some(100),
        ..Default::default()
    });
    let dep = p.deploy(&c);
    // AlexNet's representative operators by FLOPs (mean 60.5M): conv1..conv5 and fc6; the 2×
    // SLO leaves ~1.8 ms of slack, room for all 5 zero-copy hand-offs (30 µs each), so Eq. 1
    // isolates each one (σ = 0). Cuts at the smallest tensor between them, latest on ties:
    // pool1 (#4), pool2 (#8), relu3 (#10), relu4 (#12), flatten (#16).
    assert_eq!(dep.cuts, vec![vec![4, 8, 10, 12, 16]]);
    assert_eq!(dep.instances.len(), 6);
    assert_eq!(dep.transport, TransportKind::ZeroCopy);
    assert_eq!(dep.control_path, ControlPath::Ebpf);
    // The GPU is everyone's best affinity.
    assert!(dep.instances.iter().all(|i| i.accelerator == 1));
    // B_k = FLOPs of the partition's representative: conv2 (448M) is the largest.
    assert_eq!(p.autoscaler().target(), Some(1));
    // max_partitions 2 gives one cut.
    let mut p2 = InfScalerPolicy::new(InfScalerSpec {
        max_partitions: Some(2),
        ..Default::default()
    });
    assert_eq!(p2.deploy(&c).cuts[0].len(), 1);
}

/// The K Eq. 1 picks for zoo models on a Xavier AGX, as a recorded finding: with zero-copy
/// hand-offs (30 µs each) the slack of even a 1.5× SLO pays for a cut between every pair of
/// representative operators, and singletons have σ = 0, so K = M (all representatives alone)
/// unless representatives repeat the same complexity back to back (σ = 0 groups: then fewer
/// partitions win the tie).
#[test]
fn zoo_partition_counts_are_as_recorded() {
    let d = DeviceProfile::builtin("xavier-agx").unwrap();
    let t = TransportSpec::default();
    // (model, representative operators M, K at 1.5×, 2× and 3×), as the partitioner gives them.
    for (name, reps, k) in [
        ("alexnet", 6, 6),
        ("resnet50", 52, 42),
        ("bert_base", 72, 36),
        ("gpt2_medium", 144, 72),
    ] {
        let models = [crate::model::zoo::build(name, &Default::default()).unwrap()];
        for mult in [1.5, 2.0, 3.0] {
            let c = ctx(&d, &models, &t, mult);
            let plan = partitioner::bottleneck_partition(&models[0], &c, c.slo, None);
            assert_eq!(plan.representative.len(), reps, "{name}");
            assert_eq!(plan.partitions(), k, "{name} at {mult}×");
            assert_eq!(plan.objective, 0.0, "{name}: σ = 0 in every partition");
            assert!(
                plan.predicted_ns + plan.overhead_ns <= c.slo.as_ns(),
                "{name} {mult}"
            );
            // Every K is within the budget's bound on cuts.
            let slack = c.slo.as_ns() - plan.predicted_ns;
            assert!(plan.cuts.len() as u64 * 30_000 <= slack);
        }
    }
}

fn scenario(rate: f64, duration: &str) -> String {
    format!(
        r#"
name = "t"
seed = 7
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
multiplier = 3.0
[workload]
kind = "poisson"
rate_per_s = {rate}
[run]
duration = "{duration}"
warmup = "1s"
[policy]
kind = "infscaler"
"#
    )
}

fn run(text: &str) -> crate::report::Report {
    let r = crate::scenario::Scenario::parse(text, "t", Path::new("."))
        .unwrap()
        .resolve()
        .unwrap();
    crate::simulation::Simulation::new(&r, None).unwrap().run()
}

fn total_instances(report: &crate::report::Report) -> u32 {
    report
        .partitions
        .iter()
        .map(|p| p.instances.values().sum::<u32>())
        .sum()
}

#[test]
fn meets_the_slo_at_low_load_and_scales_out_under_load() {
    // Low load: 50 req/s against a pipeline whose slowest partition (fc6..softmax, ~1.5 ms on
    // the GPU) serves ~650 req/s alone: little queueing, every request within 3× (at 2×, the
    // time-slicing of the GPU between the partitions' processes when two requests overlap
    // already costs 1 % of requests their SLO).
    let low = run(&scenario(50.0, "10s"));
    assert_eq!(low.policy, "infscaler");
    assert_eq!(low.transport, "zero_copy");
    // K = 3 (the default bound): cuts after pool1 (#4) and pool2 (#8).
    assert_eq!(low.partitions.len(), 3);
    assert!(
        low.summary.slo_attainment.unwrap() >= 0.99,
        "{:?}",
        low.summary.slo_attainment
    );
    assert_eq!(total_instances(&low), 3, "no scale-out at low load");
    // 1500 req/s is over twice what one instance per partition serves: it must scale out.
    let high = run(&scenario(1500.0, "15s"));
    let n = total_instances(&high);
    assert!(n > 3, "scaled out: {:?}", high.partitions);
}

#[test]
fn example_scenario_runs() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/examples/infscaler-alexnet.toml");
    let mut r = crate::scenario::Scenario::load(&path).unwrap();
    r.scenario.run.duration = Some(crate::units::TimeSpan(SimDuration::from_secs(5)));
    let report = crate::simulation::Simulation::new(&r, None).unwrap().run();
    assert_eq!(report.policy, "infscaler");
    assert_eq!(report.partitions.len(), 3);
}

#[test]
fn on_tick_scales_out_on_a_violation_then_in_after_a_calm_run() {
    use crate::policy::{AcceleratorObservation, PartitionObservation};
    let d = DeviceProfile::builtin("xavier-agx").unwrap();
    let t = TransportSpec::default();
    let models = [crate::model::zoo::build("alexnet", &Default::default()).unwrap()];
    let c = ctx(&d, &models, &t, 2.0);
    // Eq. 1 alone: six partitions, one per representative operator. Six instances fill the GPU
    // under the default reserved r_k^m (Σ w·ρ > 1): the load-share reading, which lets them
    // all fit at this load, keeps this test on the detector and the choice of partition.
    let mut p = InfScalerPolicy::new(InfScalerSpec {
        max_partitions: Some(100),
        resource_share: ResourceShare::LoadShare,
        ..Default::default()
    });
    p.deploy(&c);
    let gpu = 1;
    let obs = |instances: &[u32], within: u64, queued: u64| Observation {
        window: SimDuration::from_secs(1),
        partitions: instances
            .iter()
            .map(|&n| PartitionObservation {
                queued,
                window_arrivals: 100,
                window_mean_concurrency: 0.1,
                instances: vec![0, n, 0, 0],
                starting: vec![0; 4],
                ..Default::default()
            })
            .collect(),
        accelerators: vec![AcceleratorObservation::default(); 4],
        memory_used_bytes: 1 << 30,
        memory_limit_bytes: 30 << 30,
        window_completed: 100,
        window_within_slo: within,
        ..Default::default()
    };
    let mut acts = Vec::new();
    // Half the window late: Algorithm 1 scales k* = 1 (conv2, the largest FLOPs) on the GPU.
    p.on_tick(&obs(&[1; 6], 50, 10), &mut acts);
    assert_eq!(
        acts,
        vec![Action::ScaleOut {
            partition: 1,
            accelerator: gpu,
            config: InstanceConfig::default()
        }]
    );
    let mut counts = [1; 6];
    counts[1] = 2;
    // 30 calm windows (default `scale_in_windows`): nothing until the 30th, then conv2 loses
    // its second instance (the only partition with S_k ≥ 2), on the GPU.
    for i in 1..=30 {
        acts.clear();
        p.on_tick(&obs(&counts, 100, 0), &mut acts);
        if i < 30 {
            assert!(acts.is_empty(), "window {i}: {acts:?}");
        }
    }
    assert_eq!(
        acts,
        vec![Action::ScaleIn {
            partition: 1,
            accelerator: gpu
        }]
    );
    assert_eq!(p.autoscaler().instances()[1], 1);
}

#[test]
fn a_replica_joining_its_partitions_process_needs_only_its_own_memory() {
    use crate::model::cost::Residency;
    use crate::policy::{AcceleratorObservation, PartitionObservation};
    let d = DeviceProfile::builtin("xavier-agx").unwrap();
    let t = TransportSpec::default();
    let models = [crate::model::zoo::build("alexnet", &Default::default()).unwrap()];
    let c = ctx(&d, &models, &t, 2.0);
    let gpu = 1;
    let limit: u64 = 30 << 30;
    let cap = (limit as f64 * InfScalerSpec::default().memory_cap) as u64;
    let scale_out = |layout: ProcessLayout| {
        // The load-share reading of r_k^m: six instances on the GPU leave no reserved room
        // (see the test above); this test is about memory.
        let mut p = InfScalerPolicy::new(InfScalerSpec {
            max_partitions: Some(100),
            process_layout: Some(layout),
            resource_share: ResourceShare::LoadShare,
            ..Default::default()
        });
        p.deploy(&c);
        assert_eq!(p.process_layout(), layout);
        let fp = p.profiles()[1].footprint[gpu];
        let joining = fp.marginal(Residency {
            process: true,
            weights: true,
        });
        assert!(joining < fp.total());
        // Room for a replica beside conv2's, not for one in a process of its own.
        let obs = Observation {
            window: SimDuration::from_secs(1),
            partitions: (0..6)
                .map(|_| PartitionObservation {
                    queued: 10,
                    window_arrivals: 100,
                    window_mean_concurrency: 0.1,
                    instances: vec![0, 1, 0, 0],
                    live: vec![0, 1, 0, 0],
                    starting: vec![0; 4],
                    ..Default::default()
                })
                .collect(),
            accelerators: vec![AcceleratorObservation::default(); 4],
            memory_used_bytes: cap - joining - 1,
            memory_limit_bytes: limit,
            window_completed: 100,
            window_within_slo: 50,
            ..Default::default()
        };
        let mut acts = Vec::new();
        p.on_tick(&obs, &mut acts);
        acts
    };
    assert_eq!(
        scale_out(ProcessLayout::PerPartition),
        vec![Action::ScaleOut {
            partition: 1,
            accelerator: gpu,
            config: InstanceConfig::default()
        }]
    );
    assert_eq!(scale_out(ProcessLayout::PerInstance), vec![]);
}

/// Algorithm 1 driven tick by tick under a violation that never clears (its SLO cannot be met
/// by scaling) at a load far below the device's capacity: the scale-outs it makes, applied to
/// the observed instances, until it stops or `limit` ticks pass (the counts per partition and
/// accelerator, the policy, and the instances added per accelerator). Memory never binds (1 TiB).
fn scale_out_until_it_stops(
    reading: ResourceShare,
    limit: usize,
) -> (Vec<Vec<u32>>, InfScalerPolicy, Vec<u32>) {
    use crate::policy::{AcceleratorObservation, PartitionObservation};
    let d = DeviceProfile::builtin("xavier-agx").unwrap();
    let t = TransportSpec::default();
    let models = [crate::model::zoo::build("alexnet", &Default::default()).unwrap()];
    let c = ctx(&d, &models, &t, 2.0);
    let mut p = InfScalerPolicy::new(InfScalerSpec {
        resource_share: reading,
        ..Default::default()
    });
    let dep = p.deploy(&c);
    let n = d.accelerators.len();
    let mut counts = vec![vec![0u32; n]; p.profiles().len()];
    for i in &dep.instances {
        counts[i.partition][i.accelerator] += 1;
    }
    let mut acts = Vec::new();
    let mut added = vec![0u32; n];
    // A tick after a scale-out is not settled (no decision); three quiet ticks in a row mean
    // Algorithm 1 found no room.
    let mut quiet = 0;
    for _ in 0..limit {
        let obs = Observation {
            window: SimDuration::from_secs(1),
            partitions: counts
                .iter()
                .map(|c| PartitionObservation {
                    queued: 10,
                    // 20 req/s: a few percent of any accelerator.
                    window_arrivals: 20,
                    window_mean_concurrency: 0.1,
                    instances: c.clone(),
                    live: c.clone(),
                    starting: vec![0; n],
                    ..Default::default()
                })
                .collect(),
            accelerators: vec![AcceleratorObservation::default(); n],
            memory_used_bytes: 1 << 30,
            memory_limit_bytes: 1 << 40,
            window_completed: 20,
            window_within_slo: 10,
            ..Default::default()
        };
        acts.clear();
        p.on_tick(&obs, &mut acts);
        match acts.as_slice() {
            [
                Action::ScaleOut {
                    partition,
                    accelerator,
                    ..
                },
            ] => {
                counts[*partition][*accelerator] += 1;
                added[*accelerator] += 1;
                quiet = 0;
            }
            [] if quiet == 2 => break,
            [] => quiet += 1,
            other => panic!("unexpected actions {other:?}"),
        }
    }
    (counts, p, added)
}

#[test]
fn algorithm_1_stops_scaling_out_at_each_accelerators_limit() {
    let rho = InfScalerSpec::default().instance_utilization;
    let (counts, p, added) = scale_out_until_it_stops(ResourceShare::Reserved, 1000);
    let total: u32 = added.iter().sum();
    assert!((1..400).contains(&total), "{total} scale-outs: {counts:?}");
    // Line 4 adds an instance on m only while U^m + r_k^m < R^m = 1, so every accelerator that
    // gained instances ends below 1 of reserved shares (w_k^m × ρ per instance), the initial
    // deployment's included.
    for (m, &gained) in added.iter().enumerate() {
        let used: f64 = counts
            .iter()
            .enumerate()
            .map(|(k, c)| f64::from(c[m]) * p.profiles()[k].busy_share[m] * rho)
            .sum();
        if gained > 0 {
            assert!(used < 1.0, "accelerator {m}: {used} of 1 with {counts:?}");
        }
    }
    // The old reading shrinks r_k^m as instances are added: the check never binds at this load,
    // and it scales out on every other tick (each scale-out leaves one tick unsettled).
    let (_, _, old) = scale_out_until_it_stops(ResourceShare::LoadShare, 1000);
    assert_eq!(old.iter().sum::<u32>(), 500);
}

#[test]
fn partitions_into_fewer_when_one_instance_each_does_not_fit_in_memory() {
    // SSD-MobileNet and a small CNN on a Xavier NX (6.5 GiB usable): Eq. 1 plans three
    // partitions each, and six serving processes (each with its runtime) do not fit. InfScaler
    // then partitions into fewer, so that every partition has an instance and every request is
    // served (before, the last partition had none and its requests waited forever).
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/models/tiny-cnn.toml");
    let text = format!(
        r#"
name = "nx"
seed = 21
[device]
profile = "xavier-nx"
[app]
stages = ["ssd_mobilenet_v1", "{}"]
[slo]
multiplier = 3.0
[workload]
kind = "poisson"
rate_per_s = 60.0
[run]
duration = "4s"
warmup = "1s"
[policy]
kind = "infscaler"
"#,
        tiny.display()
    );
    let report = run(&text);
    assert!(report.partitions.len() < 6, "{:?}", report.partitions);
    assert!(
        report
            .partitions
            .iter()
            .all(|p| p.instances.values().sum::<u32>() >= 1),
        "{:?}",
        report.partitions
    );
    assert_eq!(report.refused_instances, 0);
    assert_eq!(report.summary.in_flight, 0);
    assert!(report.summary.completed > 0);
}
