//! The simulator against queueing theory: one stage of `c` identical instances fed by Poisson
//! arrivals must reproduce Erlang C (exponential service) and Pollaczek–Khinchine (deterministic
//! service). The device is the idealised test profile (tests/common), whose memory bandwidth is so large that
//! CPU instances never contend, so each instance is an independent server and the shared queue is M/M/c or M/D/1.

mod common;

use common::{dir_with_ideal_profile, run};
use infscaler_sim::Scenario;

/// Mean service time (s) of one request of `model` on one CPU core of the test device.
fn service_time_s(model: &str) -> f64 {
    let dir = dir_with_ideal_profile();
    let text = scenario_text(model, 1, 1.0, "deterministic", 1);
    let resolved = Scenario::parse(&text, "probe", &dir)
        .unwrap()
        .resolve()
        .unwrap();
    // With one core, the isolated latency on the fastest engine may be the GPU's; compute the
    // CPU time directly from the cost model instead.
    let m = &resolved.models[0];
    infscaler_sim::model::cost::plan(&m.operators, 1, 0, 1, resolved.target()).solo_ns() as f64
        / 1e9
}

fn scenario_text(model: &str, servers: u32, rate: f64, service: &str, requests: u64) -> String {
    format!(
        r#"
seed = 2024
[device]
profile = "ideal.toml"
[app]
name = "{model}"
[slo]
multiplier = 10.0
[workload]
kind = "poisson"
rate_per_s = {rate}
[run]
max_requests = {requests}
[serving]
runtime = "ideal-runtime.toml"
queue_capacity = 1000000
service_time = {{ kind = "{service}" }}
[policy]
kind = "static"
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ cpu = {servers} }}
"#
    )
}

/// Mean queueing delay (s) measured by the simulator.
fn simulated_wait_s(
    model: &str,
    servers: u32,
    rate: f64,
    service: &str,
    requests: u64,
) -> (f64, f64) {
    let text = scenario_text(model, servers, rate, service, requests);
    let report = run(&text, &dir_with_ideal_profile());
    assert_eq!(
        report.summary.completed, requests,
        "every request completes"
    );
    (
        report.summary.stages[0]
            .mean_queue_ms
            .expect("requests were measured")
            / 1e3,
        report.summary.throughput_rps,
    )
}

/// Erlang C: mean wait in M/M/c with arrival rate λ and mean service time s.
fn erlang_c_wait(c: u32, lambda: f64, s: f64) -> f64 {
    let a = lambda * s;
    let rho = a / f64::from(c);
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let top = term / (1.0 - rho); // a^c / c! / (1 − ρ)
    let p_wait = top / (sum + top);
    p_wait * s / (f64::from(c) * (1.0 - rho))
}

const MODEL: &str = "mobilenet_v2";

#[test]
fn mmc_matches_erlang_c_within_3_percent() {
    let s = service_time_s(MODEL);
    for c in [1u32, 2, 4] {
        let rho = 0.6;
        let lambda = rho * f64::from(c) / s;
        let expected = erlang_c_wait(c, lambda, s);
        let (measured, throughput) = simulated_wait_s(MODEL, c, lambda, "exponential", 300_000);
        let err = (measured - expected).abs() / expected;
        assert!(
            err < 0.03,
            "M/M/{c}: simulated Wq {measured:.6} s, Erlang C {expected:.6} s ({:.2} % off)",
            err * 100.0
        );
        assert!(
            (throughput - lambda).abs() / lambda < 0.02,
            "M/M/{c}: throughput {throughput} vs λ {lambda}"
        );
    }
}

#[test]
fn md1_matches_pollaczek_khinchine_within_3_percent() {
    let s = service_time_s(MODEL);
    let rho = 0.7;
    let lambda = rho / s;
    // P-K for deterministic service: Wq = ρ s / (2 (1 − ρ)).
    let expected = rho * s / (2.0 * (1.0 - rho));
    let (measured, _) = simulated_wait_s(MODEL, 1, lambda, "deterministic", 200_000);
    let err = (measured - expected).abs() / expected;
    assert!(
        err < 0.03,
        "M/D/1: simulated Wq {measured:.6} s, P-K {expected:.6} s ({:.2} % off)",
        err * 100.0
    );
}
