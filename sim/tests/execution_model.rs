//! The runtime-aware execution model, end to end: what replicating a partition on one GPU buys
//! depends on where its time goes. A host-bound partition (PyTorch eager at batch 1: the Python
//! dispatch of each operator dominates, the GPU mostly idles) gains from a second instance; a
//! kernel-bound one (TensorRT at batch 8: the kernels fill the GPU) does not.

mod common;

use common::run;
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
