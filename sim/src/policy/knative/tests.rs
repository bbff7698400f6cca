//! Tests of the Knative policy: parameters and end-to-end runs. The helpers serve SPRIGHT's
//! tests too, which run the same scenarios on the same platform configured otherwise.

use std::path::{Path, PathBuf};

use super::*;
use crate::report::Report;
use crate::scenario::Scenario;
use crate::simulation::Simulation;

/// Runs a scenario whose relative paths resolve against `dir`.
pub(crate) fn run(text: &str, dir: &Path) -> Report {
    let r = Scenario::parse(text, "t", dir).unwrap().resolve().unwrap();
    Simulation::new(&r, None).unwrap().run()
}

/// TM (SSD-MobileNet → ResNet-50) on the Xavier AGX, SLO 3 × isolated, under `policy`, with the
/// bodies of the `[workload]` and `[run]` tables.
pub(crate) fn tm(policy: &str, workload: &str, run: &str) -> String {
    format!(
        "[device]\nprofile = \"xavier-agx\"\n[app]\nname = \"tm\"\n[slo]\nmultiplier = 3.0\n\
         [workload]\n{workload}\n[run]\n{run}\n[policy]\nkind = \"{policy}\"\n"
    )
}

/// The `[workload]` body replaying a one-column trace file in seconds.
pub(crate) fn trace(file: &str) -> String {
    format!("kind = \"trace\"\npath = \"{file}\"\ntime_unit = \"s\"")
}

/// Writes each (file name, arrival times in s) as a one-column trace into a directory of this
/// test process.
pub(crate) fn trace_dir(files: &[(&str, &[f64])]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infscaler-kpa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, times) in files {
        let mut csv = String::from("t\n");
        for t in times.iter() {
            csv.push_str(&format!("{t}\n"));
        }
        std::fs::write(dir.join(name), csv).unwrap();
    }
    dir
}

/// 20 s at 2 requests/s, then 20 s at 200/s (evenly spaced).
pub(crate) fn step_times() -> Vec<f64> {
    let mut times: Vec<f64> = (0..40).map(|i| i as f64 * 0.5).collect();
    times.extend((0..4000).map(|i| 20.0 + i as f64 * 0.005));
    times
}

/// 10 s at 5 requests/s, then one last request at 150 s.
pub(crate) fn gap_times() -> Vec<f64> {
    let mut times: Vec<f64> = (0..50).map(|i| i as f64 * 0.2).collect();
    times.push(150.0);
    times
}

/// Pods on the GPU at the end of the run, per partition.
pub(crate) fn gpu_instances(report: &Report) -> Vec<u32> {
    report
        .partitions
        .iter()
        .map(|p| p.instances.get("gpu").copied().unwrap_or(0))
        .collect()
}

#[test]
fn example_scenarios_run() {
    // The shipped examples stay valid and run under their policies.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/examples");
    for (file, policy, transport) in [
        ("knative-bursty-tm.toml", "knative", "http"),
        ("spright-bursty-tm.toml", "spright", "shared_memory"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let report = run(&text, &dir);
        assert_eq!(report.policy, policy);
        assert_eq!(report.transport, transport);
        assert!(report.summary.completed > 0);
    }
}

#[test]
fn spec_parses_with_defaults_and_rejects_unknown_keys() {
    let spec: KnativeSpec = toml::from_str("").unwrap();
    assert_eq!(spec, KnativeSpec::default());
    let spec: KnativeSpec = toml::from_str(
        "container_concurrency = 32\n[autoscaler]\nstable_window = \"30s\"\nmin_scale = 1",
    )
    .unwrap();
    assert_eq!(spec.container_concurrency, 32);
    assert_eq!(spec.autoscaler.min_scale, 1);
    assert_eq!(spec.autoscaler.max_scale_down_rate, 2.0);
    assert!(toml::from_str::<KnativeSpec>("concurrency = 1").is_err());
    assert!(toml::from_str::<KnativeSpec>("[autoscaler]\nwindow = \"1s\"").is_err());
    let bad = KnativeSpec {
        container_concurrency: 1001,
        ..Default::default()
    };
    let xavier = crate::hardware::profile::DeviceProfile::builtin("xavier-agx").unwrap();
    assert_eq!(
        bad.validate(&xavier).unwrap_err().0,
        "container_concurrency"
    );
    let mut bad = KnativeSpec::default();
    bad.autoscaler.panic_threshold_percentage = 50.0;
    assert_eq!(
        bad.validate(&xavier).unwrap_err().0,
        "autoscaler.panic_threshold_percentage"
    );
    let bad = KnativeSpec {
        accelerator: Some("tpu".into()),
        ..Default::default()
    };
    let (field, message) = bad.validate(&xavier).unwrap_err();
    assert_eq!(field, "accelerator");
    assert!(message.contains("dla0"), "{message}");
}

#[test]
fn low_load_meets_the_slo_with_http_between_functions() {
    // Low load: 2 requests/s, a few percent of one GPU pod's capacity per function (each
    // stage runs in milliseconds alone), so per-partition concurrency stays far below
    // the 0.7 target and one warm pod per function suffices.
    let text = tm(
        "knative",
        "kind = \"poisson\"\nrate_per_s = 2.0",
        "duration = \"30s\"\nwarmup = \"2s\"",
    );
    let report = run(&text, Path::new("."));
    assert_eq!(report.policy, "knative");
    assert_eq!(report.transport, "http");
    let s = &report.summary;
    assert!(s.completed > 30, "completed {}", s.completed);
    assert_eq!(s.dropped, 0);
    // Every completed request met the SLO (3 × isolated latency, HTTP hops included).
    assert_eq!(s.completed_within_slo, s.completed);
    // No pod was added or removed: one pod per function at the end.
    assert!(gpu_instances(&report).iter().all(|&n| n == 1));
    assert!(report.partitions.iter().all(|p| p.instances.len() == 1));
}

#[test]
fn a_step_up_in_load_adds_pods() {
    // 20 s at 2 requests/s, then 20 s at 200/s. Alone, the ResNet-50 function runs ≈ 4.7 ms
    // per request on the GPU, so 200/s keeps ≈ 0.94 requests in it on average, above the 0.7
    // target: the KPA must add pods (the panic window sees it within seconds). The low phase
    // alone keeps one pod per function.
    let step = step_times();
    let dir = trace_dir(&[("low.csv", &step[..40]), ("step.csv", &step)]);
    let scenario = |file: &str| tm("knative", &trace(file), "duration = \"40s\"");
    let low = run(&scenario("low.csv"), &dir);
    let step = run(&scenario("step.csv"), &dir);
    assert!(
        gpu_instances(&low).iter().all(|&n| n == 1),
        "{:?}",
        gpu_instances(&low)
    );
    let pods = gpu_instances(&step);
    assert_eq!(pods.len(), low.partitions.len());
    assert!(pods.iter().all(|&n| n >= 1), "{pods:?}");
    assert!(
        pods.iter().sum::<u32>() > pods.len() as u32,
        "pods after the step {pods:?}"
    );
}

#[test]
fn scales_to_zero_after_the_load_stops() {
    // 10 s of 5 requests/s, then nothing until one last request at 150 s: the partitions'
    // stable windows are all zero 60 s after the last bucket with demand (70 s), the
    // revisions are marked inactive then and lose their last pod 30 s later (100 s).
    // Memory then holds no instance at all until the last request cold-starts the
    // functions again.
    let dir = trace_dir(&[("gap.csv", &gap_times())]);
    let text = tm(
        "knative",
        &trace("gap.csv"),
        "duration = \"200s\"\ndrain = true\nseries_interval = \"1s\"",
    );
    let report = run(&text, &dir);
    let s = &report.summary;
    assert_eq!(s.arrivals, 51);
    assert_eq!(s.completed, 51);
    let series = s.series.as_ref().expect("series");
    let memory_at = |t: f64| {
        series
            .points
            .iter()
            .find(|p| p.time_s >= t)
            .map(|p| p.memory_bytes)
            .unwrap()
    };
    // During the load, the pods' weights are in memory (hundreds of MB).
    assert!(memory_at(5.0) > 50e6, "{}", memory_at(5.0));
    // The last demand is in the bucket of t = 10 s. Still there at 95 s: the stable window
    // empties at 70 s (buckets 11..=70), the revision is marked inactive at that decision,
    // and the grace period lasts until 100 s.
    assert!(memory_at(95.0) > 50e6, "{}", memory_at(95.0));
    // Scaled to zero from 100 s, well before the last request: nothing held.
    assert_eq!(memory_at(101.0), 0.0);
    assert_eq!(memory_at(149.0), 0.0);
    // The last request found no pod: it waited for cold starts and missed the SLO.
    assert_eq!(s.completed_within_slo, 50);
    // It brought pods back for each function on its path (two for one that saw the request
    // wait a whole second at zero scale: ceil(≈1 / 0.7) = 2).
    assert!(gpu_instances(&report).iter().all(|&n| n >= 1));
}
