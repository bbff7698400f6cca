//! In-place vertical scaling (`Action::Resize`): an instance resized keeps serving, with no
//! cold start and no new instance, and its next batches take the time the cost model gives its
//! new cores; resources the device does not have are refused.

use std::path::Path;
use std::sync::{Arc, Mutex};

use infscaler_sim::hardware::AcceleratorKind;
use infscaler_sim::model::cost::{Target, plan};
use infscaler_sim::policy::{Action, Deployment, InstancePlan, Observation, Policy, PolicyContext};
use infscaler_sim::serving::{InstanceConfig, ProcessLayout};
use infscaler_sim::time::SimDuration;
use infscaler_sim::{Report, Scenario, Simulation};

/// AlexNet whole on the Xavier's CPU with one core; at the third tick it asks for 4 cores,
/// then, later, for what the device cannot give. With `hold`, it holds the instance (0 cores)
/// at the second tick and gives it its core back at the fifth instead.
struct Resizer {
    cpu: usize,
    ticks: u32,
    hold: bool,
    seen: Arc<Mutex<Vec<Observation>>>,
}

impl Policy for Resizer {
    fn name(&self) -> &'static str {
        "resizer"
    }

    fn process_layout(&self) -> ProcessLayout {
        ProcessLayout::PerInstance
    }

    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        self.cpu = ctx
            .device
            .accelerators
            .iter()
            .position(|a| a.kind == AcceleratorKind::Cpu)
            .unwrap();
        Deployment {
            cuts: vec![vec![]],
            instances: vec![InstancePlan {
                partition: 0,
                accelerator: self.cpu,
                config: InstanceConfig::default(),
            }],
            ..Default::default()
        }
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        Some(SimDuration::from_secs(2))
    }

    fn on_tick(&mut self, observation: &Observation, actions: &mut Vec<Action>) {
        self.seen.lock().unwrap().push(observation.clone());
        self.ticks += 1;
        let resize = |cpu_cores, compute_share| Action::Resize {
            partition: 0,
            accelerator: self.cpu,
            cpu_cores,
            compute_share,
            max_batch: None,
        };
        if self.hold {
            match self.ticks {
                2 => actions.push(resize(Some(0), None)),
                5 => actions.push(resize(Some(1), None)),
                _ => {}
            }
            return;
        }
        match self.ticks {
            3 => actions.push(resize(Some(4), None)),
            // None of these can be given: more cores than the CPU has, no share, a share
            // above the whole engine.
            8 => actions.extend([
                resize(None, Some(0.0)),
                resize(Some(64), None),
                resize(None, Some(1.5)),
            ]),
            _ => {}
        }
    }
}

/// The report, what the policy saw at each tick, the cost model's 4-core over 1-core time of
/// the model on the CPU, and the CPU's index.
fn run() -> (Report, Vec<Observation>, f64, usize) {
    run_with(false)
}

fn run_with(hold: bool) -> (Report, Vec<Observation>, f64, usize) {
    let text = r#"
seed = 2
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
multiplier = 50.0
[workload]
kind = "poisson"
rate_per_s = 2.0
[run]
duration = "20s"
warmup = "0s"
[policy]
kind = "static"
"#;
    let resolved = Scenario::parse(text, "resize.toml", Path::new("."))
        .unwrap()
        .resolve()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let policy = Box::new(Resizer {
        cpu: 0,
        ticks: 0,
        hold,
        seen: seen.clone(),
    });
    let report = Simulation::with_policy(&resolved, None, policy)
        .unwrap()
        .run();
    let target = Target::new(&resolved.device, &resolved.runtime);
    let ops = &resolved.models[0].operators;
    let cpu = resolved.device.cpu();
    let ratio = plan(ops, 1, cpu, 4, target).solo_ns() as f64
        / plan(ops, 1, cpu, 1, target).solo_ns() as f64;
    let seen = seen.lock().unwrap().clone();
    (report, seen, ratio, cpu)
}

#[test]
fn a_resized_instance_serves_its_next_batches_with_its_new_cores() {
    let (report, seen, ratio, cpu) = run();
    let exec = |tick: usize| {
        seen[tick].partitions[0].window_exec[cpu]
            .mean_exec_ms
            .expect("a batch in the window")
    };
    // Ticks every 2 s; the resize is asked for at the third (6 s). Windows before it, and from
    // the fifth on (the window that mixed both sizes left out).
    let before = exec(1);
    let after = exec(5);
    assert!(ratio < 0.5, "4 cores vs 1 in the cost model: {ratio}");
    assert!(
        (after / before - ratio).abs() < 0.05 * ratio,
        "{after} / {before} vs {ratio}"
    );
    // The instance held 1 core, then 4, and was never replaced.
    let cores = |tick: usize| seen[tick].partitions[0].cores.iter().sum::<u32>();
    assert_eq!((cores(1), cores(5)), (1, 4));
    assert!(
        report.scaling_events.is_empty(),
        "{:?}",
        report.scaling_events
    );
    assert_eq!(report.resizes.len(), 1);
    assert_eq!(report.resizes[0].cpu_cores, Some(4));
    assert_eq!(report.resizes[0].instances, 1);
    assert_eq!(report.refused_reconfigurations, 3);
    let s = &report.summary;
    assert_eq!(s.arrivals, s.completed + s.dropped + s.in_flight);
    assert_eq!(s.dropped, 0);
}

#[test]
fn a_held_instance_starts_no_batch_until_it_has_cores_again() {
    let (report, seen, _, cpu) = run_with(true);
    // Held at 4 s (the second tick), given its core back at 10 s (the fifth).
    let cores = |tick: usize| seen[tick].partitions[0].cores.iter().sum::<u32>();
    assert_eq!((cores(1), cores(2), cores(4), cores(5)), (1, 0, 0, 1));
    let batches = |tick: usize| seen[tick].partitions[0].window_exec[cpu].batches;
    // The windows that end at 8 s and 10 s lie wholly in the hold: nothing ran, the queue grew.
    assert_eq!((batches(3), batches(4)), (0, 0));
    assert!(
        seen[4].partitions[0].queued >= 3,
        "{}",
        seen[4].partitions[0].queued
    );
    assert!(
        seen[4].partitions[0]
            .head_age_ms
            .is_some_and(|ms| ms > 2000.0)
    );
    assert!(batches(1) > 0 && batches(5) > 0);
    // Every request completes in the end, the instance never replaced, nothing refused.
    let s = &report.summary;
    assert_eq!(s.completed, s.arrivals);
    assert!(report.scaling_events.is_empty() && report.refused_reconfigurations == 0);
    assert_eq!(
        report
            .resizes
            .iter()
            .map(|r| r.cpu_cores)
            .collect::<Vec<_>>(),
        [Some(0), Some(1)]
    );
}
