//! Observed runs (progress and cancel, as the GUI runs them) and the optional latency CDF.

use std::ops::ControlFlow;
use std::path::Path;

use infscaler_sim::{Cancelled, RunProgress, Scenario, Simulation};

/// The built-in quickstart scenario, shortened to `duration`, with `extra` lines added to `[run]`.
fn quickstart(duration: &str, extra: &str) -> infscaler_sim::ResolvedScenario {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let text = std::fs::read_to_string(dir.join("quickstart.toml"))
        .expect("quickstart.toml")
        .replace(
            "duration = \"30s\"",
            &format!("duration = \"{duration}\"\n{extra}"),
        );
    Scenario::parse(&text, "quickstart (test)", &dir)
        .expect("parses")
        .resolve()
        .expect("valid")
}

#[test]
fn an_observed_run_reports_what_a_plain_run_does() {
    let scenario = quickstart("30s", "");
    let plain = Simulation::new(&scenario, None).unwrap().run();
    let mut seen: Vec<RunProgress> = Vec::new();
    let observed = Simulation::new(&scenario, None)
        .unwrap()
        .run_observed(&mut |p| {
            seen.push(*p);
            ControlFlow::Continue(())
        })
        .expect("never cancelled");
    assert_eq!(plain, observed);
    // 30 s at 150 req/s is tens of thousands of events: several progress calls, in order,
    // and a last one at 1.0 with every arrival counted.
    assert!(seen.len() > 2, "{} progress calls", seen.len());
    for w in seen.windows(2) {
        assert!(w[0].fraction <= w[1].fraction, "{:?} then {:?}", w[0], w[1]);
        assert!(w[0].events < w[1].events);
        assert!(w[0].sim_time_s <= w[1].sim_time_s);
    }
    assert!(seen[0].fraction < 0.5, "first call at {:?}", seen[0]);
    let last = seen.last().unwrap();
    assert_eq!(last.fraction, 1.0);
    assert_eq!(last.events, observed.events_processed);
    assert!(last.arrivals >= observed.summary.arrivals);
}

#[test]
fn breaking_cancels_the_run() {
    let scenario = quickstart("30s", "");
    let mut calls = 0;
    let result = Simulation::new(&scenario, None)
        .unwrap()
        .run_observed(&mut |p| {
            calls += 1;
            if p.fraction > 0.3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
    assert_eq!(result, Err(Cancelled));
    // It stopped soon after 30 % of the run: far fewer calls than a whole run makes.
    assert!(calls >= 2);
}

#[test]
fn the_latency_cdf_matches_the_percentiles() {
    let without = Simulation::new(&quickstart("5s", ""), None).unwrap().run();
    assert_eq!(without.summary.latency_cdf, None);
    let json = serde_json::to_string(&without).unwrap();
    assert!(!json.contains("latency_cdf"), "absent unless asked for");

    let with = Simulation::new(&quickstart("5s", "latency_cdf = 100"), None)
        .unwrap()
        .run();
    let cdf = with.summary.latency_cdf.as_ref().expect("asked for");
    let lat = with.summary.latency_ms.expect("requests completed");
    // The CDF is the same histogram's quantiles: its 0.5 and 0.99 points are p50 and p99.
    let at = |q: f64| {
        cdf.iter()
            .find(|p| p.fraction >= q - 1e-12)
            .expect("fractions reach 1")
            .latency_ms
    };
    assert_eq!(at(0.50), lat.p50);
    assert_eq!(at(0.99), lat.p99);
    assert_eq!(cdf.last().unwrap().fraction, 1.0);
    assert_eq!(cdf.last().unwrap().latency_ms, lat.max);
    for w in cdf.windows(2) {
        assert!(w[0].latency_ms < w[1].latency_ms && w[0].fraction < w[1].fraction);
    }
    // Asking for the CDF changes nothing else.
    let mut rest = with.clone();
    rest.summary.latency_cdf = None;
    assert_eq!(rest, without);
}

#[test]
fn a_latency_cdf_of_zero_points_is_refused() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let text = std::fs::read_to_string(dir.join("quickstart.toml"))
        .unwrap()
        .replace("warmup = \"2s\"", "warmup = \"2s\"\nlatency_cdf = 0");
    let err = Scenario::parse(&text, "q.toml", &dir)
        .unwrap()
        .resolve()
        .expect_err("0 points");
    assert_eq!(err.field, "run.latency_cdf");
    assert!(err.message.contains("allowed 1 to 10000"), "{err}");
}
