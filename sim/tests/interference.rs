//! `[[interference]]`: background work slows exactly what it takes, only during its windows, and
//! is reported.

mod common;

use std::path::Path;

use common::run;
use infscaler_sim::report::Report;

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

/// The runs without and with the `[[interference]]` entry `entry`.
fn quiet_and_busy(entry: &str) -> (Report, Report) {
    let dir = Path::new(".");
    let quiet = run(&scenario(""), dir);
    let busy = run(&scenario(&format!("[[interference]]\n{entry}")), dir);
    (quiet, busy)
}

/// The error of the invalid scenario `text`.
fn error_of(text: &str) -> String {
    infscaler_sim::Scenario::parse(text, "bad.toml", Path::new("."))
        .and_then(|s| s.resolve())
        .unwrap_err()
        .to_string()
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
    let (quiet, busy) = quiet_and_busy(
        r#"on = "gpu"
share = 0.8
when = { kind = "fixed", start = "0s", duration = "1h" }"#,
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
    // Every core, every 4 s for 1 s: the CPU partition (2 cores) slows in the windows only.
    let (quiet, busy) = quiet_and_busy(
        r#"on = "cpu"
cores = 8.0
when = { kind = "periodic", start = "2s", duration = "1s", period = "4s" }"#,
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
    let err = error_of(&bad);
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
    let err = error_of(&dense);
    assert!(err.contains("interference[0].when.period"), "{err}");
}

/// A static deployment (AlexNet: convolutions on the GPU, classifier on two CPU cores) that
/// records every observation, ticking every second.
struct Recorder {
    seen: std::sync::Arc<std::sync::Mutex<Vec<infscaler_sim::policy::Observation>>>,
}

impl infscaler_sim::policy::Policy for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn process_layout(&self) -> infscaler_sim::serving::ProcessLayout {
        infscaler_sim::serving::ProcessLayout::PerInstance
    }

    fn deploy(
        &mut self,
        ctx: &infscaler_sim::policy::PolicyContext<'_>,
    ) -> infscaler_sim::policy::Deployment {
        use infscaler_sim::policy::InstancePlan;
        use infscaler_sim::serving::InstanceConfig;
        let accel = |kind| {
            ctx.device
                .accelerators
                .iter()
                .position(|a| a.kind == kind)
                .unwrap()
        };
        use infscaler_sim::hardware::AcceleratorKind::{Cpu, Gpu};
        infscaler_sim::policy::Deployment {
            cuts: vec![vec![13]],
            instances: vec![
                InstancePlan {
                    partition: 0,
                    accelerator: accel(Gpu),
                    config: InstanceConfig::default(),
                },
                InstancePlan {
                    partition: 1,
                    accelerator: accel(Cpu),
                    config: InstanceConfig {
                        cpu_cores: 2,
                        ..InstanceConfig::default()
                    },
                },
            ],
            transport: infscaler_sim::serving::transport::TransportKind::ZeroCopy,
            ..Default::default()
        }
    }

    fn tick_interval(&self) -> Option<infscaler_sim::time::SimDuration> {
        Some(infscaler_sim::time::SimDuration::from_secs(1))
    }

    fn on_tick(
        &mut self,
        observation: &infscaler_sim::policy::Observation,
        _actions: &mut Vec<infscaler_sim::policy::Action>,
    ) {
        self.seen.lock().unwrap().push(observation.clone());
    }
}

#[test]
fn policies_observe_each_partitions_slowdown_against_its_reference() {
    // The GPU taken at 80 % from 5 s to 10 s.
    let text = scenario(
        r#"
[[interference]]
on = "gpu"
share = 0.8
when = { kind = "fixed", start = "5s", duration = "5s" }
"#,
    );
    let resolved = infscaler_sim::Scenario::parse(&text, "observe.toml", Path::new("."))
        .unwrap()
        .resolve()
        .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let policy = Box::new(Recorder { seen: seen.clone() });
    infscaler_sim::Simulation::with_policy(&resolved, None, policy)
        .unwrap()
        .run();
    let seen = seen.lock().unwrap();
    let gpu = resolved
        .device
        .accelerators
        .iter()
        .position(|a| a.name == "gpu")
        .unwrap();
    let cpu = resolved.device.cpu();
    let slowdown = |tick: usize, partition: usize, accel: usize| {
        seen[tick].partitions[partition].window_exec[accel]
            .slowdown()
            .unwrap()
    };
    // Ticks at 1 s, 2 s, …: the window ending at 3 s is quiet, the one ending at 8 s is inside
    // the interference.
    assert!(
        (slowdown(2, 0, gpu) - 1.0).abs() < 0.05,
        "{}",
        slowdown(2, 0, gpu)
    );
    assert!(slowdown(7, 0, gpu) > 1.2, "{}", slowdown(7, 0, gpu));
    // The CPU partition is untouched throughout.
    for tick in [2, 7] {
        assert!(
            (slowdown(tick, 1, cpu) - 1.0).abs() < 0.05,
            "{}",
            slowdown(tick, 1, cpu)
        );
    }
    // Nothing ran elsewhere.
    assert_eq!(seen[7].partitions[0].window_exec[cpu].batches, 0);
    assert_eq!(seen[7].partitions[0].window_exec[cpu].slowdown(), None);
}
