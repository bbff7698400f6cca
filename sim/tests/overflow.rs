//! Back-pressure between stages and admission at the first: a bottleneck downstream with short
//! queues must block its producers (`overflow = "block"`, the default) or drop the requests it has
//! no room for after the upstream work was done (`"drop"`); arrivals beyond the first stage's
//! limit are turned away, and `drop_late` sheds requests whose objective is already lost.

mod common;

use common::{dir_with_ideal_profile, run};
use infscaler_sim::Report;
use infscaler_sim::metrics::DropReason;

/// AlexNet cut after operator #2 on the ideal device's CPU: a short first partition (conv1 and
/// its ReLU, 2.3 ms on one core) on four instances feeding the rest of the network (35.6 ms) on
/// one, offered 40 req/s — above the second partition's 28 req/s. Queues between stages hold
/// two requests; the objective is 300 ms.
fn bottleneck(serving: &str) -> Report {
    run_alexnet(
        serving,
        "cuts = [2]\n[[policy.stages.partitions]]\ninstances = { cpu = 4 }\n\
         [[policy.stages.partitions]]\ninstances = { cpu = 1 }",
    )
}

/// The whole of AlexNet on one core of the ideal device (38 ms: 26 req/s), offered 40 req/s.
fn one_stage(serving: &str) -> Report {
    run_alexnet(
        serving,
        "[[policy.stages.partitions]]\ninstances = { cpu = 1 }",
    )
}

fn run_alexnet(serving: &str, stage: &str) -> Report {
    let text = format!(
        r#"
seed = 5
[device]
profile = "ideal.toml"
[app]
name = "alexnet"
[slo]
latency = "300ms"
[workload]
kind = "poisson"
rate_per_s = 40.0
[run]
duration = "2s"
warmup = "0s"
drain = true
[serving]
runtime = "ideal-runtime.toml"
queue_capacity = 2
{serving}
[policy]
kind = "static"
[[policy.stages]]
{stage}
"#
    );
    run(&text, &dir_with_ideal_profile())
}

fn drops(r: &Report, reason: DropReason) -> u64 {
    r.summary.dropped_by_reason[&reason]
}

#[test]
fn a_blocking_hand_off_conserves_requests_and_never_drops_between_stages() {
    let r = bottleneck("admission = { queue_limit = 100000 }");
    let s = &r.summary;
    assert!(s.arrivals > 60, "{} arrivals", s.arrivals);
    assert_eq!(s.dropped, 0, "{:?}", s.dropped_by_reason);
    assert_eq!(s.completed, s.arrivals);
    assert_eq!(s.stages[0].requests, s.arrivals);
    assert_eq!(s.stages[1].requests, s.arrivals);
    // The producers waited for room: their outputs were held, not thrown away.
    let blocked = s.stages[0].mean_blocked_ms.unwrap();
    assert!(blocked > 1.0, "mean blocked {blocked} ms");
    assert_eq!(
        s.stages[1].mean_blocked_ms,
        Some(0.0),
        "the last stage hands nothing on"
    );
    // The downstream queue never held more than its two requests: its mean wait is at most two
    // of its batches (one request each) plus the one in service.
    let (queue, exec) = (
        s.stages[1].mean_queue_ms.unwrap(),
        s.stages[1].mean_exec_ms.unwrap(),
    );
    assert!(queue <= 3.0 * exec, "mean queue {queue} ms at a queue of 2");
}

#[test]
fn dropping_overflow_throws_away_work_already_done() {
    let r = bottleneck("overflow = \"drop\"\nadmission = { queue_limit = 100000 }");
    let s = &r.summary;
    let full = drops(&r, DropReason::QueueFull);
    assert!(full > 10, "{full} dropped for a full queue");
    assert_eq!(s.completed + s.dropped, s.arrivals);
    // Every request dropped between the stages had been through the first one.
    assert_eq!(s.stages[0].requests, s.arrivals);
    assert_eq!(s.stages[1].requests, s.completed);
    assert_eq!(s.stages[0].mean_blocked_ms, Some(0.0));
}

#[test]
fn admission_turns_arrivals_away_at_the_first_stage_only() {
    let r = bottleneck("admission = { queue_limit = 4 }");
    let s = &r.summary;
    let full = drops(&r, DropReason::QueueFull);
    assert!(full > 10, "{full} turned away");
    assert_eq!(s.dropped, full);
    // What was admitted completed: no work was lost past admission.
    assert_eq!(s.stages[0].requests, s.completed);
    assert_eq!(s.completed + full, s.arrivals);
}

#[test]
fn drop_late_sheds_requests_whose_objective_is_lost() {
    let keep = one_stage("admission = { queue_limit = 100000 }");
    let shed = one_stage("admission = { queue_limit = 100000, drop_late = true }");
    let late = drops(&shed, DropReason::Timeout);
    assert!(late > 10, "{late} shed");
    assert_eq!(shed.summary.dropped, late);
    assert_eq!(shed.summary.completed + late, shed.summary.arrivals);
    // Serving only requests that can still make it keeps the queue short: the completed ones are
    // faster, and more of them meet the objective than when every request is served. (Behind a
    // blocking downstream bottleneck shedding at admission helps far less: the backlog of blocked
    // producers and full queues lies past it.)
    let p50 = |r: &Report| r.summary.latency_ms.as_ref().unwrap().p50;
    assert!(p50(&shed) < p50(&keep), "{} vs {}", p50(&shed), p50(&keep));
    let within = |r: &Report| r.summary.completed_within_slo;
    assert!(
        within(&shed) > within(&keep),
        "{} vs {}",
        within(&shed),
        within(&keep)
    );
}
