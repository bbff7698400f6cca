//! The run loop on the wall clock, with a stand-in live executor (no ONNX Runtime): every batch
//! takes a fixed wall time. Checks that the one loop serves a live run end to end — requests
//! conserved, every batch finished, every request's data released — and that an executor error
//! stops the run with that error.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::dir_with_ideal_profile;
use infscaler_sim::executor::{
    LiveBatch, LiveCompletion, LiveError, LiveExecutor, LiveInstance, LiveSetup,
};
use infscaler_sim::time::{SimDuration, SimTime};
use infscaler_sim::{Scenario, Simulation};

/// What the stand-in saw.
#[derive(Debug, Default)]
struct Seen {
    partitions: usize,
    instances: Vec<LiveInstance>,
    submitted: u64,
    finished: u64,
    released: BTreeSet<u32>,
}

/// Finishes every batch `service` of wall time after it was submitted; fails the `fail_at`-th
/// submission if set.
struct StandIn {
    service: SimDuration,
    fail_at: Option<u64>,
    start: Option<Instant>,
    running: Vec<(SimTime, u32)>,
    seen: Arc<Mutex<Seen>>,
}

impl StandIn {
    fn now(&self) -> SimTime {
        let elapsed = self.start.expect("clock started").elapsed();
        SimTime::ZERO + SimDuration::from_ns(elapsed.as_nanos() as u64)
    }
}

impl LiveExecutor for StandIn {
    fn setup(&mut self, setup: &LiveSetup) -> Result<(), LiveError> {
        self.seen.lock().unwrap().partitions = setup.partitions.len();
        Ok(())
    }

    fn instance_created(&mut self, instance: LiveInstance) -> Result<(), LiveError> {
        self.seen.lock().unwrap().instances.push(instance);
        Ok(())
    }

    fn instance_stopped(&mut self, _instance: u32) {}

    fn start_clock(&mut self) -> Result<(), LiveError> {
        self.start = Some(Instant::now());
        Ok(())
    }

    fn submit(&mut self, batch: LiveBatch<'_>) -> Result<(), LiveError> {
        let mut seen = self.seen.lock().unwrap();
        seen.submitted += 1;
        if self.fail_at == Some(seen.submitted) {
            return Err(LiveError(format!("batch {} would not run", batch.batch)));
        }
        drop(seen);
        let done = self.now() + self.service;
        self.running.push((done, batch.batch));
        Ok(())
    }

    fn release(&mut self, request: u32) {
        self.seen.lock().unwrap().released.insert(request);
    }

    fn wait(
        &mut self,
        until: Option<SimTime>,
        done: &mut Vec<LiveCompletion>,
    ) -> Result<SimTime, LiveError> {
        loop {
            let now = self.now();
            let before = done.len();
            self.running.retain(|&(finished, batch)| {
                let due = finished <= now;
                if due {
                    done.push(LiveCompletion { batch, finished });
                }
                !due
            });
            self.seen.lock().unwrap().finished += (done.len() - before) as u64;
            if !done.is_empty() {
                return Ok(now);
            }
            let next = self.running.iter().map(|&(t, _)| t).min();
            let target = match (until, next) {
                (Some(u), Some(n)) => u.min(n),
                (u, n) => u
                    .or(n)
                    .ok_or_else(|| LiveError("waiting for nothing".into()))?,
            };
            if target <= now {
                return Ok(now);
            }
            std::thread::sleep(Duration::from_nanos((target - now).as_ns()));
        }
    }
}

/// Two partitions (AlexNet cut after #13) on the ideal device, 40 requests at 400/s.
const SCENARIO: &str = r#"
[device]
profile = "ideal.toml"
[app]
name = "alexnet"
[slo]
latency = "1s"
[workload]
kind = "poisson"
rate_per_s = 400.0
[run]
max_requests = 40
[serving]
runtime = "ideal-runtime.toml"
[policy]
kind = "static"
[[policy.stages]]
cuts = [13]
[[policy.stages.partitions]]
instances = { gpu = 1 }
max_batch = 2
[[policy.stages.partitions]]
instances = { cpu = 2 }
"#;

fn live_run(fail_at: Option<u64>) -> (Result<infscaler_sim::Report, LiveError>, Arc<Mutex<Seen>>) {
    let dir = dir_with_ideal_profile();
    let scenario = Scenario::parse(SCENARIO, "test", &dir)
        .unwrap()
        .resolve()
        .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let executor = StandIn {
        service: SimDuration::from_ms(1),
        fail_at,
        start: None,
        running: Vec::new(),
        seen: seen.clone(),
    };
    let report = Simulation::new(&scenario, None)
        .unwrap()
        .run_live(Box::new(executor));
    (report, seen)
}

#[test]
fn a_live_run_on_the_wall_clock_serves_every_request() {
    let (report, seen) = live_run(None);
    let report = report.expect("the live run succeeds");
    let s = &report.summary;
    assert_eq!(s.arrivals, 40);
    assert_eq!(s.completed, 40, "{s:?}");
    assert_eq!(s.dropped + s.in_flight, 0);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.partitions, 2);
    // The deployment: one GPU instance of the front, two CPU instances of the back.
    assert_eq!(seen.instances.len(), 3);
    assert_eq!(seen.submitted, seen.finished, "every batch finished");
    assert!(
        seen.submitted >= 40,
        "at least one batch per request at the second partition"
    );
    // Every request's data was released once it completed (ids are reused, so ≤ 40).
    assert!(!seen.released.is_empty());
    // Each request went through two partitions of 1 ms of wall time each.
    let p50 = s.latency_ms.as_ref().unwrap().p50;
    assert!(p50 >= 2.0, "p50 {p50} ms, below two 1 ms batches");
}

#[test]
fn an_executor_error_stops_the_live_run_with_that_error() {
    let (report, seen) = live_run(Some(5));
    let err = report.expect_err("the fifth batch fails");
    assert!(err.0.contains("would not run"), "{err}");
    assert_eq!(
        seen.lock().unwrap().submitted,
        5,
        "the run stopped at the failure"
    );
}
