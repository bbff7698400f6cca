//! Whole runs of the simulator: contention between instances seen end to end, memory never over
//! its limit, requests conserved whatever the stop rule, and determinism.

mod common;

use std::path::Path;

use common::{dir_with_ideal_profile, run};
use proptest::prelude::*;

/// Two requests arriving 1 ns apart, served by `gpu_instances` instances on the one GPU.
fn two_requests(gpu_instances: u32) -> String {
    format!(
        r#"
[device]
profile = "ideal.toml"
[app]
name = "alexnet"
[slo]
latency = "1s"
[workload]
kind = "constant"
rate_per_s = 1000000000.0
[run]
max_requests = 2
[serving]
runtime = "ideal-runtime.toml"
[policy]
kind = "static"
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ gpu = {gpu_instances} }}
"#
    )
}

#[test]
fn two_instances_on_one_gpu_share_its_compute() {
    let dir = dir_with_ideal_profile();
    // AlexNet's FLOPs at 1 TFLOP/s: the solo time T of one request.
    let model = infscaler_sim::model::zoo::build("alexnet", &Default::default()).unwrap();
    let solo_ms = model.total_flops() as f64 / 1e12 * 1e3;

    // One instance: the second request waits for the first; each executes in T.
    let one = run(&two_requests(1), &dir);
    let exec = one.summary.stages[0].mean_exec_ms.unwrap();
    assert!(
        (exec - solo_ms).abs() < 1e-5,
        "exec {exec} ms, expected T = {solo_ms} ms"
    );

    // Two instances: both run at once, each at rate 1/2 of the GPU (max-min), so each takes 2T
    // (the second starts 1 ns later and ends 1 ns later).
    let two = run(&two_requests(2), &dir);
    let exec = two.summary.stages[0].mean_exec_ms.unwrap();
    assert!(
        (exec - 2.0 * solo_ms).abs() < 1e-5,
        "exec {exec} ms, expected 2T = {} ms",
        2.0 * solo_ms
    );
    assert!(two.summary.stages[0].mean_queue_ms.unwrap() < 1e-9);
}

fn quickstart() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/quickstart.toml"
    ))
    .unwrap()
}

#[test]
fn a_run_is_a_pure_function_of_scenario_and_seed() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios"));
    let text = quickstart().replace("duration = \"30s\"", "duration = \"5s\"");
    let a = serde_json::to_string(&run(&text, dir)).unwrap();
    let b = serde_json::to_string(&run(&text, dir)).unwrap();
    assert_eq!(a, b);
    // Runs in other threads give the same bytes too.
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let text = text.clone();
            std::thread::spawn(move || {
                serde_json::to_string(&run(
                    &text,
                    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios")),
                ))
                .unwrap()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), a);
    }
}

/// A small TM-like scenario with the knobs a property test turns.
fn random_scenario(
    cap_mib: u64,
    rate: f64,
    max_batch: u32,
    transport: &str,
    drain: bool,
    routing: &str,
    overflow: &str,
) -> String {
    format!(
        r#"
seed = 9
[device]
profile = "xavier-nx"
memory_cap = "{cap_mib}MiB"
[app]
stages = ["mobilenet_v2", "resnet50"]
[slo]
multiplier = 3.0
[workload]
kind = "poisson"
rate_per_s = {rate}
[run]
duration = "3s"
drain = {drain}
[serving]
queue_capacity = 64
overflow = "{overflow}"
routing = "{routing}"
[policy]
kind = "static"
transport = "{transport}"
[[policy.stages]]
cuts = [60]
[[policy.stages.partitions]]
instances = {{ gpu = 2 }}
max_batch = {max_batch}
[[policy.stages.partitions]]
instances = {{ dla0 = 1, gpu = 1 }}
max_batch = {max_batch}
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ gpu = 2, dla1 = 1 }}
max_batch = {max_batch}
batch_timeout = "1ms"
"#
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever the memory cap, load, batching, transport, routing, overflow and stop rule: unified
    /// memory use never exceeds the limit, and every request is completed, dropped or still in
    /// flight.
    #[test]
    fn memory_stays_under_the_limit_and_requests_are_conserved(
        cap_mib in 300u64..3000,
        rate in 20.0f64..600.0,
        max_batch in 1u32..8,
        transport in prop::sample::select(vec!["zero_copy", "shared_memory", "http"]),
        drain in any::<bool>(),
        routing in prop::sample::select(vec!["shared_queue", "join_shortest_queue"]),
        overflow in prop::sample::select(vec!["block", "drop"]),
    ) {
        let text = random_scenario(cap_mib, rate, max_batch, transport, drain, routing, overflow);
        let report = run(&text, Path::new("."));
        let s = &report.summary;
        prop_assert!(s.memory_peak_bytes <= cap_mib * 1024 * 1024, "peak {} > cap {} MiB", s.memory_peak_bytes, cap_mib);
        prop_assert_eq!(s.arrivals + s.in_flight_at_warmup, s.completed + s.dropped + s.in_flight);
        if drain {
            prop_assert_eq!(s.in_flight, 0);
        }
    }
}

#[test]
fn a_cut_off_run_reports_what_is_still_in_flight() {
    // Far more load than the device serves, cut off at the end of arrivals.
    let text = random_scenario(6000, 2000.0, 1, "zero_copy", false, "shared_queue", "block")
        .replace("queue_capacity = 64", "queue_capacity = 100000");
    let s = run(&text, Path::new(".")).summary;
    assert!(
        s.in_flight > 0,
        "an overloaded run cut off at once has requests in flight"
    );
    assert_eq!(s.arrivals, s.completed + s.dropped + s.in_flight);
    assert!(
        (s.duration_s - 3.0).abs() < 1e-9,
        "the cut-off run ends at its duration, not {}",
        s.duration_s
    );
}

#[test]
fn a_compute_share_caps_an_instance_on_its_engine() {
    let dir = dir_with_ideal_profile();
    let model = infscaler_sim::model::zoo::build("alexnet", &Default::default()).unwrap();
    let solo_ms = model.total_flops() as f64 / 1e12 * 1e3;
    // One instance capped at half the GPU: alone on the GPU, it still runs at rate 1/2, so each
    // request takes 2T; the GPU's other half stays idle.
    let text = two_requests(1).replace(
        "instances = { gpu = 1 }",
        "instances = { gpu = 1 }\ncompute_share = 0.5",
    );
    let r = run(&text, &dir);
    let exec = r.summary.stages[0].mean_exec_ms.unwrap();
    assert!(
        (exec - 2.0 * solo_ms).abs() < 1e-5,
        "exec {exec} ms, expected 2T = {} ms",
        2.0 * solo_ms
    );
    // Two such instances together fill the GPU exactly: each still gets its half, 2T again.
    let text = two_requests(2).replace(
        "instances = { gpu = 2 }",
        "instances = { gpu = 2 }\ncompute_share = 0.5",
    );
    let exec = run(&text, &dir).summary.stages[0].mean_exec_ms.unwrap();
    assert!((exec - 2.0 * solo_ms).abs() < 1e-5, "exec {exec} ms");
}
