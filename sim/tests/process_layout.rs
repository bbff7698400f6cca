//! Serving processes end to end: replicas that share a process pay its runtime once (and, where
//! the runtime shares them, the weights once), replicas in processes of their own pay it each,
//! and a bad `policy.process_layout` is refused naming the field and the allowed values.

use std::path::Path;

use infscaler_sim::model::cost::{self, Footprint, Target};
use infscaler_sim::serving::memory::MemoryByKind;
use infscaler_sim::{Report, Scenario, Simulation};

/// `replicas` warm replicas of the whole `model` on the GPU of an AGX Xavier under `runtime` and
/// `layout`, serving a few requests.
fn replicas(model: &str, replicas: u32, runtime: &str, layout: &str) -> String {
    format!(
        r#"
[device]
profile = "xavier-agx"
[app]
name = "{model}"
[slo]
multiplier = 3.0
[workload]
kind = "constant"
rate_per_s = 20.0
[run]
max_requests = 5
[serving]
runtime = "{runtime}"
[policy]
kind = "static"
process_layout = "{layout}"
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ gpu = {replicas} }}
"#
    )
}

fn run(text: &str) -> Report {
    let resolved = Scenario::parse(text, "test.toml", Path::new("."))
        .expect("parses")
        .resolve()
        .expect("valid");
    Simulation::new(&resolved, None).expect("sets up").run()
}

/// The footprint of one replica of the whole `model` on the GPU under `runtime`, at batch 1.
fn footprint(model: &str, runtime: &str) -> Footprint {
    let resolved = Scenario::parse(
        &replicas(model, 1, runtime, "per_instance"),
        "t",
        Path::new("."),
    )
    .unwrap()
    .resolve()
    .unwrap();
    let gpu = resolved.device.gpu().unwrap();
    let target = Target::new(&resolved.device, &resolved.runtime);
    cost::footprint(&resolved.models[0].operators, 1, gpu, target)
}

const MIB: f64 = (1 << 20) as f64;

fn show(what: &str, m: &MemoryByKind) {
    eprintln!(
        "{what}: total {} B ({:.0} MiB) = process {:.0} + weights {:.1} + contexts {:.0} + workspaces {:.1} MiB",
        m.total(),
        m.total() as f64 / MIB,
        m.process_bytes as f64 / MIB,
        m.weights_bytes as f64 / MIB,
        m.context_bytes as f64 / MIB,
        m.workspace_bytes as f64 / MIB,
    );
}

#[test]
fn replicas_in_one_process_pay_its_runtime_and_weights_once() {
    let fp = footprint("resnet50", "tensorrt");
    assert!(fp.shares_weights && fp.process > 0 && fp.context > 0 && fp.weights > 0);
    let n = 4;
    let shared = run(&replicas("resnet50", n as u32, "tensorrt", "per_partition"));
    let separate = run(&replicas("resnet50", n as u32, "tensorrt", "per_instance"));
    show(
        "4 × resnet50, GPU, tensorrt, per_partition",
        &shared.instance_memory_peak,
    );
    show(
        "4 × resnet50, GPU, tensorrt, per_instance",
        &separate.instance_memory_peak,
    );
    assert_eq!(shared.process_layout, "per_partition");
    assert_eq!(separate.process_layout, "per_instance");
    assert_eq!(shared.summary.completed, 5);

    // One process: its runtime and the engine's weights once, a context and workspace each.
    assert_eq!(
        shared.instance_memory_peak,
        MemoryByKind {
            process_bytes: fp.process,
            weights_bytes: fp.weights,
            context_bytes: n * fp.context,
            workspace_bytes: n * fp.workspace,
        }
    );
    // A process each: n times one replica alone.
    assert_eq!(separate.instance_memory_peak.total(), n * fp.total());
    assert_eq!(separate.instance_memory_peak.process_bytes, n * fp.process);
    assert!(shared.instance_memory_peak.total() < n * fp.total());
    // What the run reports as its peak (instances and tensors) follows.
    assert!(shared.summary.memory_peak_bytes < separate.summary.memory_peak_bytes);
    assert!(shared.summary.memory_peak_bytes >= shared.instance_memory_peak.total());
}

#[test]
fn pytorch_replicas_hold_their_own_weights_even_in_one_process() {
    let fp = footprint("resnet50", "pytorch");
    assert!(!fp.shares_weights);
    let n = 3;
    let shared = run(&replicas("resnet50", n as u32, "pytorch", "per_partition"));
    show(
        "3 × resnet50, GPU, pytorch, per_partition",
        &shared.instance_memory_peak,
    );
    assert_eq!(
        shared.instance_memory_peak,
        MemoryByKind {
            process_bytes: fp.process,
            weights_bytes: n * fp.weights,
            context_bytes: n * fp.context,
            workspace_bytes: n * fp.workspace,
        }
    );
    let separate = run(&replicas("resnet50", n as u32, "pytorch", "per_instance"));
    assert_eq!(
        separate.instance_memory_peak.total() - shared.instance_memory_peak.total(),
        (n - 1) * fp.process
    );
}

#[test]
fn one_process_per_accelerator_for_the_whole_app() {
    // AlexNet cut in two: both partitions on the GPU, the second also on a DLA.
    let text = |layout: &str| {
        format!(
            r#"
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
multiplier = 3.0
[workload]
kind = "constant"
rate_per_s = 20.0
[run]
max_requests = 5
[policy]
kind = "static"
process_layout = "{layout}"
[[policy.stages]]
cuts = [5]
[[policy.stages.partitions]]
instances = {{ gpu = 2 }}
[[policy.stages.partitions]]
instances = {{ gpu = 1, dla0 = 1 }}
"#
        )
    };
    let per_app = run(&text("per_app"));
    let per_partition = run(&text("per_partition"));
    let per_instance = run(&text("per_instance"));
    // Runtimes: one per accelerator used (GPU, DLA: both TensorRT); one per (partition,
    // accelerator); one per instance.
    let trt = infscaler_sim::model::runtime::RuntimeProfile::tensorrt().process_bytes;
    assert_eq!(per_app.instance_memory_peak.process_bytes, 2 * trt);
    assert_eq!(per_partition.instance_memory_peak.process_bytes, 3 * trt);
    assert_eq!(per_instance.instance_memory_peak.process_bytes, 4 * trt);
    // Weights: once per (process, partition) whether the process is the partition's or the app's.
    assert_eq!(
        per_app.instance_memory_peak.weights_bytes,
        per_partition.instance_memory_peak.weights_bytes
    );
    assert!(
        per_partition.instance_memory_peak.weights_bytes
            < per_instance.instance_memory_peak.weights_bytes
    );
    assert_eq!(
        per_app.instance_memory_peak.context_bytes,
        per_instance.instance_memory_peak.context_bytes
    );
}

#[test]
fn a_bad_layout_is_refused_naming_the_field_and_the_allowed_values() {
    let text = replicas("alexnet", 1, "tensorrt", "per_container");
    let err = Scenario::parse(&text, "bad.toml", Path::new(".")).unwrap_err();
    assert_eq!(err.field, "policy.process_layout");
    let message = err.to_string();
    assert!(
        message.starts_with("bad.toml: field `policy.process_layout`"),
        "{message}"
    );
    for allowed in ["per_instance", "per_partition", "per_app"] {
        assert!(message.contains(allowed), "{message}");
    }
}
