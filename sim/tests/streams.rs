//! Several query streams on one device (`[[streams]]`): each arrives on its own, is judged by
//! its own objective and reported on its own, and the streams' figures add up to the run's.

mod common;

use common::{dir_with_ideal_profile, run};
use infscaler_sim::{Report, Scenario};

/// AlexNet on one core of the ideal device (about 38 ms a request) for the scenario's own
/// stream (`own_workload`, objective `own_slo`), then the `streams` entries, each served by one
/// more core; `duration` of arrivals, no warm-up.
fn scenario(own_workload: &str, own_slo: &str, streams: &[&str], policy_extra: &str) -> String {
    let mut text = format!(
        r#"
seed = 4
[device]
profile = "ideal.toml"
[app]
name = "alexnet"
[slo]
{own_slo}
[workload]
{own_workload}
[run]
duration = "20s"
warmup = "0s"
[serving]
runtime = "ideal-runtime.toml"
"#
    );
    for s in streams {
        text.push_str(&format!("[[streams]]\n{s}\n"));
    }
    text.push_str(&format!("[policy]\nkind = \"static\"\n{policy_extra}\n"));
    for _ in 0..=streams.len() {
        text.push_str("[[policy.stages]]\n[[policy.stages.partitions]]\ninstances = { cpu = 1 }\n");
    }
    text
}

fn run_it(text: &str) -> Report {
    run(text, &dir_with_ideal_profile())
}

const STEADY: &str = "kind = \"poisson\"\nrate_per_s = 5.0";
const TIGHT: &str = r#"name = "tight"
app = { name = "alexnet" }
slo = { latency = "10ms" }
workload = { kind = "poisson", rate_per_s = 3.0 }"#;

#[test]
fn each_stream_is_judged_by_its_own_objective_and_the_streams_add_up() {
    let report = run_it(&scenario(STEADY, "latency = \"200ms\"", &[TIGHT], ""));
    let [own, tight] = &report.streams[..] else {
        panic!("two streams: {:?}", report.streams);
    };
    assert_eq!(
        (own.name.as_str(), tight.name.as_str()),
        ("alexnet", "tight")
    );
    assert_eq!((own.slo_ms, tight.slo_ms), (200.0, 10.0));
    // At about 8 req/s on two cores of 38 ms, every request finishes; the own stream's 200 ms
    // are met, the tight stream's 10 ms never (less than the isolated latency).
    assert!(
        own.completed > 50 && tight.completed > 30,
        "{own:?} {tight:?}"
    );
    assert_eq!(own.slo_attainment, Some(1.0));
    assert_eq!(tight.slo_attainment, Some(0.0));
    // Arrival rates as given, within a few standard deviations of Poisson counts.
    let near = |n: u64, mean: f64| (n as f64 - mean).abs() < 4.0 * mean.sqrt();
    assert!(near(own.arrivals, 100.0) && near(tight.arrivals, 60.0));
    // The streams partition the run's requests.
    let s = &report.summary;
    let sum = |f: fn(&infscaler_sim::report::StreamReport) -> u64| -> u64 {
        report.streams.iter().map(f).sum()
    };
    assert_eq!(sum(|t| t.arrivals), s.arrivals);
    assert_eq!(sum(|t| t.completed), s.completed);
    assert_eq!(sum(|t| t.completed_within_slo), s.completed_within_slo);
    assert_eq!(sum(|t| t.dropped), s.dropped);
    assert_eq!(report.app, "alexnet + alexnet");
}

#[test]
fn a_stream_draws_its_arrivals_whatever_the_other_streams() {
    // The own stream's arrivals are the same alone and beside another stream, and a stream's
    // arrivals do not change when a stream is added after it.
    let alone = run_it(&scenario(STEADY, "latency = \"200ms\"", &[], ""));
    assert!(
        alone.streams.is_empty(),
        "one stream: the summary is its figures"
    );
    let two = run_it(&scenario(STEADY, "latency = \"200ms\"", &[TIGHT], ""));
    assert_eq!(two.streams[0].arrivals, alone.summary.arrivals);
    let other = r#"name = "other"
app = { name = "alexnet" }
slo = { latency = "100ms" }
workload = { kind = "constant", rate_per_s = 1.0 }"#;
    let three = run_it(&scenario(
        STEADY,
        "latency = \"200ms\"",
        &[TIGHT, other],
        "",
    ));
    assert_eq!(three.streams[0].arrivals, alone.summary.arrivals);
    assert_eq!(three.streams[1].arrivals, two.streams[1].arrivals);
    assert_eq!(three.streams[2].arrivals, 20);
    // Same scenario and seed: the same report.
    let again = run_it(&scenario(
        STEADY,
        "latency = \"200ms\"",
        &[TIGHT, other],
        "",
    ));
    assert_eq!(
        serde_json::to_string(&three).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
}

#[test]
fn a_family_stream_splits_its_own_arrivals_by_its_weights() {
    // The own stream (one route) then a family of two variants, each on a core of its own: all
    // of the family's arrivals go to its second variant.
    let family = r#"name = "classify"
app = { family = "resnet", variants = ["resnet18", "resnet34"] }
slo = { latency = "2s" }
workload = { kind = "poisson", rate_per_s = 2.0 }"#;
    let text = scenario(
        STEADY,
        "latency = \"200ms\"",
        &[family],
        "route_weights = [1, 0, 1]",
    );
    let report = run_it(&format!("{text}{STAGE}"));
    let classify = &report.streams[1];
    assert_eq!(classify.app, "resnet");
    assert_eq!(classify.dropped, 0, "{classify:?}");
    assert!(classify.completed > 20);
    // Stages: alexnet, resnet18, resnet34.
    let requests: Vec<u64> = report.summary.stages.iter().map(|s| s.requests).collect();
    assert_eq!(requests[1], 0, "{requests:?}");
    assert_eq!(requests[2], classify.completed, "{requests:?}");
    assert_eq!(requests[0], report.streams[0].completed, "{requests:?}");
}

/// One more stage, on a core of its own.
const STAGE: &str = "[[policy.stages]]\n[[policy.stages.partitions]]\ninstances = { cpu = 1 }\n";

#[test]
fn bad_streams_name_their_field() {
    let dir = dir_with_ideal_profile();
    let error = |text: &str| {
        Scenario::parse(text, "t.toml", &dir)
            .and_then(|s| s.resolve())
            .unwrap_err()
            .to_string()
    };
    let slo = "latency = \"200ms\"";
    // The default names collide: the own stream is named by its app.
    let unnamed = TIGHT.replace("name = \"tight\"\n", "");
    let e = error(&scenario(STEADY, slo, &[&unnamed], ""));
    assert!(
        e.contains("streams[0].name") && e.contains("alexnet"),
        "{e}"
    );
    // A stream's own fields are named under it.
    let e = error(&scenario(STEADY, slo, &[&TIGHT.replace("10ms", "0ms")], ""));
    assert!(e.contains("streams[0].slo.latency"), "{e}");
    let e = error(&scenario(
        STEADY,
        slo,
        &[&TIGHT.replace("\"alexnet\"", "\"nonet\"")],
        "",
    ));
    assert!(
        e.contains("streams[0].app.name") && e.contains("nonet"),
        "{e}"
    );
    let e = error(&scenario(
        STEADY,
        slo,
        &[&TIGHT.replace("rate_per_s = 3.0", "rate_per_s = -3.0")],
        "",
    ));
    assert!(e.contains("streams[0].workload.rate_per_s"), "{e}");
    let sized = format!("{TIGHT}\n").replace(
        "app = { name = \"alexnet\" }",
        "app = { name = \"alexnet\", generated_tokens = 4 }",
    );
    let e = error(&scenario(STEADY, slo, &[&sized], ""));
    assert!(
        e.contains("streams[0].app") && e.contains("own stream only"),
        "{e}"
    );
    // Only a policy that serves several streams.
    let text = scenario(STEADY, slo, &[TIGHT], "");
    let e = error(&format!(
        "{}[policy]\nkind = \"infscaler\"\n",
        &text[..text.find("[policy]").unwrap()]
    ));
    assert!(e.contains("policy.kind") && e.contains("static"), "{e}");
    // Proteus chooses among variants: every stream one model or a family.
    let pipeline = r#"name = "pipe"
app = { stages = ["alexnet", "alexnet"] }
slo = { latency = "1s" }
workload = { kind = "poisson", rate_per_s = 1.0 }"#;
    let text = scenario(STEADY, slo, &[pipeline], "");
    let e = error(&format!(
        "{}[policy]\nkind = \"proteus\"\n",
        &text[..text.find("[policy]").unwrap()]
    ));
    assert!(
        e.contains("policy.kind") && e.contains("stream `pipe`"),
        "{e}"
    );
    // One weight per route of every stream; route weights need a family somewhere.
    let e = error(&scenario(STEADY, slo, &[TIGHT], "route_weights = [1, 1]"));
    assert!(
        e.contains("policy.route_weights") && e.contains("app.family"),
        "{e}"
    );
    let family = r#"name = "classify"
app = { family = "resnet", variants = ["resnet18", "resnet34"] }
slo = { latency = "2s" }
workload = { kind = "poisson", rate_per_s = 2.0 }"#;
    let e = error(&format!(
        "{}{STAGE}",
        scenario(STEADY, slo, &[family], "route_weights = [1, 1]")
    ));
    assert!(
        e.contains("policy.route_weights") && e.contains("3 routes"),
        "{e}"
    );
    let e = error(&format!(
        "{}{STAGE}",
        scenario(STEADY, slo, &[family], "route_weights = [1, 0, 0]")
    ));
    assert!(
        e.contains("stream 1") && e.contains("every weight is 0"),
        "{e}"
    );
}

#[test]
fn the_time_series_gives_each_stream_its_points_and_they_add_up() {
    let text = scenario(STEADY, "latency = \"200ms\"", &[TIGHT], "").replace(
        "warmup = \"0s\"",
        "warmup = \"0s\"\nseries_interval = \"2s\"",
    );
    let report = run_it(&text);
    let series = report.summary.series.as_ref().expect("a series");
    assert_eq!(series.points.len(), 10);
    let (mut own_on_time, mut tight_violations) = (0.0, 0.0);
    for p in &series.points {
        let [own, tight] = p.streams[..] else {
            panic!("two streams a point: {p:?}");
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(
            close(own.arrivals_rps + tight.arrivals_rps, p.arrivals_rps),
            "{p:?}"
        );
        assert!(close(
            own.throughput_rps + tight.throughput_rps,
            p.throughput_rps
        ));
        assert!(close(own.goodput_rps + tight.goodput_rps, p.goodput_rps));
        own_on_time += own.goodput_rps * p.duration_s;
        tight_violations += tight.violations.unwrap_or(0.0);
        // The tight stream (10 ms, under AlexNet's 38 ms) misses every objective.
        assert!(tight.violations.is_none_or(|v| v == 1.0), "{tight:?}");
        assert!(tight.p99_ms.is_none_or(|ms| ms > 10.0), "{tight:?}");
        assert_eq!(own.p50_ms.is_some(), own.throughput_rps > 0.0);
    }
    // Its points add up to the stream's totals.
    assert!((own_on_time - report.streams[0].completed_within_slo as f64).abs() < 1e-6);
    assert!(tight_violations > 5.0);
    // One stream: no per-stream points.
    let alone = run_it(&scenario(STEADY, "latency = \"200ms\"", &[], "").replace(
        "warmup = \"0s\"",
        "warmup = \"0s\"\nseries_interval = \"2s\"",
    ));
    let points = &alone.summary.series.as_ref().expect("a series").points;
    assert!(points.iter().all(|p| p.streams.is_empty()));
}
