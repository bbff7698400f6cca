//! The runtime-aware execution model, end to end: what replicating a partition on one GPU buys
//! depends on where its time goes. A host-bound partition (PyTorch eager at batch 1: the Python
//! dispatch of each operator dominates, the GPU mostly idles) gains from a second instance; a
//! kernel-bound one (TensorRT at batch 8: the kernels fill the GPU) does not.

mod common;

use common::run;
use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::model::cost::{self, Target};
use infscaler_sim::model::runtime::RuntimeProfile;
use infscaler_sim::model::zoo;
use std::path::Path;

/// Throughput of `gpu_instances` instances of `model` under `runtime`, overloaded.
fn saturated_throughput(model: &str, runtime: &str, gpu_instances: u32, max_batch: u32) -> f64 {
    let text = format!(
        r#"
seed = 5
[device]
profile = "xavier-agx"
[app]
name = "{model}"
[slo]
latency = "10s"
[workload]
kind = "constant"
rate_per_s = 2000.0
[run]
duration = "3s"
warmup = "1s"
[serving]
runtime = "{runtime}"
queue_capacity = 100000
[policy]
kind = "static"
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ gpu = {gpu_instances} }}
max_batch = {max_batch}
"#
    );
    run(&text, Path::new(".")).summary.throughput_rps
}

#[test]
fn a_second_instance_helps_a_host_bound_partition() {
    let one = saturated_throughput("mobilenet_v2", "pytorch", 1, 1);
    let two = saturated_throughput("mobilenet_v2", "pytorch", 2, 1);
    // Each instance's host thread runs on its own core; the GPU is far from full.
    eprintln!("host-bound: one {one:.1}/s, two {two:.1}/s");
    assert!(two > 1.8 * one, "one {one:.1}/s, two {two:.1}/s");
}

#[test]
fn a_second_instance_does_not_help_a_kernel_bound_partition() {
    let one = saturated_throughput("vgg16", "tensorrt", 1, 8);
    let two = saturated_throughput("vgg16", "tensorrt", 2, 8);
    // The kernels already fill the GPU: two processes only time-slice it, and pay the switch.
    eprintln!("kernel-bound: one {one:.1}/s, two {two:.1}/s");
    assert!(two < 1.05 * one, "one {one:.1}/s, two {two:.1}/s");
}

/// A static deployment of AlexNet cut after #13: `first` and `second` are the runtimes of the
/// two partitions (`None`: the scenario's, TensorRT).
fn split_alexnet(first: Option<&str>, second: Option<&str>, layout: &str) -> String {
    let runtime = |r: Option<&str>| r.map_or(String::new(), |r| format!("runtime = \"{r}\""));
    format!(
        r#"
seed = 5
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
latency = "1s"
[workload]
kind = "constant"
rate_per_s = 10.0
[run]
max_requests = 20
[serving]
runtime = "tensorrt"
[policy]
kind = "static"
process_layout = "{layout}"
[[policy.stages]]
cuts = [13]
[[policy.stages.partitions]]
instances = {{ gpu = 1 }}
{}
[[policy.stages.partitions]]
instances = {{ gpu = 1 }}
{}
"#,
        runtime(first),
        runtime(second)
    )
}

#[test]
fn a_partition_may_run_its_own_runtime() {
    let exec = |text: &str| {
        let r = run(text, Path::new("."));
        let s = &r.summary.stages;
        (s[0].mean_exec_ms.unwrap(), s[1].mean_exec_ms.unwrap())
    };
    let (trt_a, trt_b) = exec(&split_alexnet(None, None, "per_instance"));
    let (mixed_a, mixed_b) = exec(&split_alexnet(None, Some("pytorch"), "per_instance"));
    // The first partition is untouched; the second runs as PyTorch runs it alone (its requests
    // never overlap at this rate): a plan under the pytorch runtime, host time per operator.
    assert!((mixed_a - trt_a).abs() < 1e-9, "{mixed_a} vs {trt_a}");
    let device = DeviceProfile::builtin("xavier-agx").unwrap();
    let pytorch = RuntimeProfile::builtin("pytorch").unwrap();
    let alexnet = zoo::build("alexnet", &Default::default()).unwrap();
    let gpu = device.gpu().unwrap();
    let alone = cost::plan(
        &alexnet.operators[13..],
        1,
        gpu,
        1,
        Target::new(&device, &pytorch),
    );
    let expected_ms = alone.solo_ns() as f64 / 1e6;
    assert!(
        (mixed_b - expected_ms).abs() < 1e-6,
        "{mixed_b} vs {expected_ms}"
    );
    assert!(mixed_b > trt_b, "{mixed_b} vs {trt_b}");
    // One process per accelerator cannot hold two runtimes.
    let e = infscaler_sim::Scenario::parse(
        &split_alexnet(None, Some("pytorch"), "per_app"),
        "mixed.toml",
        Path::new("."),
    )
    .unwrap()
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("mixed.toml") && e.contains("policy.process_layout"),
        "{e}"
    );
    let e = infscaler_sim::Scenario::parse(
        &split_alexnet(Some("tensorflow"), None, "per_instance"),
        "bad.toml",
        Path::new("."),
    )
    .unwrap()
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(e.contains("policy.stages[0].partitions[0].runtime"), "{e}");
}
