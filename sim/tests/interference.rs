//! `[[interference]]`: background work slows exactly what it takes, only during its windows, and
//! is reported.

mod common;

use std::path::Path;

use common::run;

/// AlexNet cut after conv5 (#13): the convolutions on the GPU, the classifier on two CPU cores,
/// at a load far below capacity (no queueing), with `interference` appended.
fn scenario(interference: &str) -> String {
    format!(
        r#"
seed = 5
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
multiplier = 10.0
[workload]
kind = "poisson"
rate_per_s = 20.0
[run]
duration = "20s"
warmup = "1s"
[policy]
kind = "static"
[[policy.stages]]
cuts = [13]
[[policy.stages.partitions]]
instances = {{ gpu = 1 }}
[[policy.stages.partitions]]
instances = {{ cpu = 1 }}
cpu_cores = 2
{interference}
"#
    )
}

/// Mean execution time of each partition, ms.
fn exec_ms(report: &infscaler_sim::report::Report) -> Vec<f64> {
    report
        .summary
        .stages
        .iter()
        .map(|s| s.mean_exec_ms.unwrap())
        .collect()
}

#[test]
fn a_gpu_interferer_slows_the_gpu_partition_and_nothing_else() {
    let dir = Path::new(".");
    let quiet = run(&scenario(""), dir);
    let busy = run(
        &scenario(
            r#"
[[interference]]
on = "gpu"
share = 0.8
when = { kind = "fixed", start = "0s", duration = "1h" }
"#,
        ),
        dir,
    );
    let (q, b) = (exec_ms(&quiet), exec_ms(&busy));
    // The GPU partition shares its engine with a co-located process: slower (time-sliced).
    assert!(b[0] > 1.2 * q[0], "GPU partition {} ms → {} ms", q[0], b[0]);
    // The CPU partition does not touch the GPU: unchanged.
    assert!((b[1] - q[1]).abs() <= 1e-9 * q[1], "{} vs {}", q[1], b[1]);
    assert_eq!(busy.interference.len(), 1);
    assert_eq!(busy.interference[0].windows, 1);
    assert!(quiet.interference.is_empty());
}

#[test]
fn a_cpu_interferer_acts_only_in_its_windows_and_the_report_lists_them() {
    let dir = Path::new(".");
    let quiet = run(&scenario(""), dir);
    // Every core, every 4 s for 1 s: the CPU partition (2 cores) slows in the windows only.
    let busy = run(
        &scenario(
            r#"
[[interference]]
on = "cpu"
cores = 8.0
when = { kind = "periodic", start = "2s", duration = "1s", period = "4s" }
"#,
        ),
        dir,
    );
    let (q, b) = (exec_ms(&quiet), exec_ms(&busy));
    assert!(b[1] > q[1], "CPU partition {} ms → {} ms", q[1], b[1]);
    // A quarter of the time under interference: well below the slowdown within a window.
    assert!(b[1] < 2.0 * q[1], "CPU partition {} ms → {} ms", q[1], b[1]);
    let report = &busy.interference[0];
    assert_eq!(report.what, "8 cores of cpu");
    // Windows at 2, 6, 10, 14 and 18 s within the 20 s of arrivals.
    assert_eq!(&report.windows_s[..2], &[[2.0, 3.0], [6.0, 7.0]]);
    assert!(report.windows >= 5);
    assert!((report.active_s - report.windows as f64).abs() < 1e-9);
}

#[test]
fn random_windows_are_the_same_for_a_seed_and_bad_entries_name_their_field() {
    let dir = Path::new(".");
    let text = scenario(
        r#"
[[interference]]
on = "memory"
bandwidth_gb_per_s = 60.0
when = { kind = "random", mean_gap = "2s", mean_duration = "500ms" }
"#,
    );
    let a = run(&text, dir);
    let b = run(&text, dir);
    assert_eq!(a.interference, b.interference);
    assert!(a.interference[0].windows >= 3);

    let bad = scenario(
        r#"
[[interference]]
on = "dla7"
share = 0.5
when = { kind = "fixed", start = "0s", duration = "1s" }
"#,
    );
    let err = infscaler_sim::Scenario::parse(&bad, "bad.toml", dir)
        .and_then(|s| s.resolve())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("interference[0].on") && err.contains("dla7"),
        "{err}"
    );

    // A window every microsecond over a 20 s run is 2·10⁷ windows: refused.
    let dense = scenario(
        r#"
[[interference]]
on = "gpu"
share = 0.5
when = { kind = "periodic", start = "0s", duration = "1us", period = "1us" }
"#,
    );
    let err = infscaler_sim::Scenario::parse(&dense, "dense.toml", dir)
        .and_then(|s| s.resolve())
        .unwrap_err()
        .to_string();
    assert!(err.contains("interference[0].when.period"), "{err}");
}
