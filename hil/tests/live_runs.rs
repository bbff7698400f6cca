//! Live runs: the simulator's serving loop on the wall clock with real ONNX Runtime partitions
//! (MobileNetV2 split in three, a couple of seconds of Poisson arrivals on the CPU).

mod common;

use std::path::Path;

use infscaler_hil::live::{LiveOptions, LiveStats, OrtExecutor};
use infscaler_hil::runtime::ExecutionProvider;
use infscaler_sim::{Report, ResolvedScenario, Scenario, Simulation};

/// A short MobileNetV2 scenario on the HIL host profile, with `transport` and `extra` TOML.
fn scenario(transport: &str, rate: f64, extra: &str) -> ResolvedScenario {
    resolve(&scenario_text(transport, rate, extra))
}

fn resolve(text: &str) -> ResolvedScenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Scenario::parse(text, "live-test.toml", &root)
        .and_then(|s| s.resolve())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn scenario_text(transport: &str, rate: f64, extra: &str) -> String {
    format!(
        r#"
name = "live-test"
seed = 7

[device]
profile = "hwprofiles/hil-host-2core.toml"

[app]
name = "mobilenet_v2"

[slo]
latency = "500ms"

[workload]
kind = "poisson"
rate_per_s = {rate}

[run]
duration = "2s"

[policy]
kind = "static"
transport = "{transport}"
[[policy.stages]]
cuts = [42, 103]
[[policy.stages.partitions]]
instances = {{ cpu = 1 }}
cpu_cores = 1
max_batch = 4
[[policy.stages.partitions]]
instances = {{ cpu = 1 }}
cpu_cores = 1
max_batch = 4
[[policy.stages.partitions]]
instances = {{ cpu = 1 }}
cpu_cores = 1
max_batch = 4
{extra}
"#
    )
}

fn live(resolved: &ResolvedScenario) -> (Report, LiveStats) {
    let rt = common::runtime();
    let executor = OrtExecutor::new(
        rt,
        LiveOptions {
            providers: vec![ExecutionProvider::Cpu; resolved.device.accelerators.len()],
            weights_seed: 0,
        },
    );
    let stats = executor.stats();
    let report = Simulation::new(resolved, None)
        .unwrap()
        .run_live(Box::new(executor))
        .unwrap_or_else(|e| panic!("{e}"));
    let stats = stats.lock().unwrap().clone();
    (report, stats)
}

fn assert_conserved(r: &Report) {
    let s = &r.summary;
    assert_eq!(
        s.in_flight_at_warmup + s.arrivals,
        s.completed + s.dropped + s.in_flight,
        "requests are conserved: {s:?}"
    );
}

/// The top-level JSON keys of a report.
fn keys(r: &Report) -> Vec<String> {
    match serde_json::to_value(r).unwrap() {
        serde_json::Value::Object(m) => m.keys().cloned().collect(),
        other => panic!("a report is a JSON object, got {other}"),
    }
}

#[test]
fn a_live_run_conserves_requests_and_reports_like_a_simulation() {
    let resolved = scenario("zero_copy", 40.0, "");
    let (report, stats) = live(&resolved);
    assert_conserved(&report);
    let s = &report.summary;
    assert!(s.arrivals >= 40, "about 80 arrivals in 2 s: {}", s.arrivals);
    assert!(s.completed > 0 && s.throughput_rps > 0.0);
    // The same arrivals as the simulation of the same scenario and seed.
    let simulated = Simulation::new(&resolved, None).unwrap().run();
    assert_eq!(s.arrivals, simulated.summary.arrivals);
    assert_eq!(keys(&report), keys(&simulated));
    // Every partition ran its requests, each at least once per request.
    assert_eq!(stats.partitions.len(), 3);
    for (k, p) in stats.partitions.iter().enumerate() {
        assert!(p.requests >= s.completed, "partition {k}: {p:?}");
        assert!(p.run_ns > 0);
    }
    // Under the zero-copy transport a batch of the same requests feeds the next partition
    // with the previous outputs as they are.
    assert!(stats.inputs_zero_copy > 0, "{stats:?}");
    assert_eq!(stats.transport_copies, 0);
    // Real execution takes real time: the stage times are positive.
    for st in &s.stages {
        assert!(st.mean_exec_ms.unwrap_or(0.0) > 0.0, "{st:?}");
    }
}

#[test]
fn a_copying_transport_copies_every_hand_off_for_real() {
    let (report, stats) = live(&scenario("shared_memory", 30.0, ""));
    assert_conserved(&report);
    assert!(report.summary.completed > 0);
    // Two hand-offs a batch (partition 0 → 1 → 2), each a real copy.
    let batches_feeding_next = stats.partitions[0].batches + stats.partitions[1].batches;
    assert_eq!(stats.transport_copies, batches_feeding_next, "{stats:?}");
    assert!(stats.transport_copy_bytes > 0);
}

#[test]
fn a_model_the_onnx_builder_cannot_write_fails_with_its_name() {
    // A KV cache reads a decoder's past keys, a second model input: not written as ONNX.
    let dir = std::env::temp_dir().join(format!("infscaler-live-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("cache.toml");
    std::fs::write(
        &model,
        r#"format = 1
name = "cached"
input_shape = [2, 4, 8]

[[layers]]
name = "present"
layer = { kind = "kv_cache", past = 3 }
"#,
    )
    .unwrap();
    let text = format!(
        r#"
name = "live-cache"
[device]
profile = "hwprofiles/hil-host-2core.toml"
[app]
stages = ["{}"]
[slo]
latency = "1s"
[workload]
kind = "poisson"
rate_per_s = 1.0
[run]
duration = "1s"
[policy]
kind = "static"
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ cpu = 1 }}
"#,
        model.display()
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let resolved = Scenario::parse(&text, "live-cache.toml", &root)
        .and_then(|s| s.resolve())
        .unwrap_or_else(|e| panic!("{e}"));
    let executor = OrtExecutor::new(
        common::runtime(),
        LiveOptions {
            providers: vec![ExecutionProvider::Cpu],
            weights_seed: 0,
        },
    );
    let err = Simulation::new(&resolved, None)
        .unwrap()
        .run_live(Box::new(executor))
        .expect_err("a KV cache cannot be written as ONNX");
    let msg = err.to_string();
    assert!(
        msg.contains("cached") && msg.contains("present") && msg.contains("kv_cache"),
        "{msg}"
    );
}

#[test]
fn a_users_onnx_file_runs_live_by_path_and_simulates_as_the_zoo_model() {
    // The user's model: MobileNetV2 written as ONNX (random weights), named by path.
    let dir = std::env::temp_dir().join(format!("infscaler-live-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("users-mobilenet.onnx");
    let model = infscaler_hil::from_network::zoo_model(
        "mobilenet_v2",
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    std::fs::write(&path, infscaler_hil::onnx::encode(&model)).unwrap();
    let text = scenario_text("zero_copy", 30.0, "").replace(
        "name = \"mobilenet_v2\"",
        &format!("stages = [{:?}]", path.display().to_string()),
    );
    let by_path = resolve(&text);
    assert_eq!(
        by_path.model_sources,
        [infscaler_sim::model::source::ModelSource::Onnx(
            path.clone()
        )]
    );
    // Simulated, it is the zoo model: same operators, same report but for its name.
    let zoo = scenario("zero_copy", 30.0, "");
    assert_eq!(by_path.models[0].operators, zoo.models[0].operators);
    let mut a = Simulation::new(&by_path, None).unwrap().run();
    let b = Simulation::new(&zoo, None).unwrap().run();
    a.app = b.app.clone();
    for p in &mut a.partitions {
        p.model = "mobilenet_v2".into();
    }
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::to_value(&b).unwrap()
    );
    // Live, the file itself runs, split at the scenario's cuts.
    let (report, stats) = live(&by_path);
    assert_conserved(&report);
    assert!(report.summary.completed > 0);
    assert_eq!(stats.partitions.len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}
