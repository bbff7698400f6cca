//! `infscaler capacity` end to end: JSON shape, and identical output at any `--jobs`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn infscaler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infscaler"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the infscaler binary runs")
}

/// A short AlexNet scenario (one GPU instance, batch ≤ 4, Poisson arrivals, 5 s) in a temp dir.
fn scenario(name: &str, slo_multiplier: f64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infscaler-capacity-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        r#"
name = "{name}"
seed = 3
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
multiplier = {slo_multiplier}
[workload]
kind = "poisson"
rate_per_s = 50.0
[run]
duration = "5s"
warmup = "500ms"
[policy]
kind = "static"
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ gpu = 1 }}
max_batch = 4
batch_timeout = "1ms"
"#
    );
    std::fs::write(&path, text).expect("scenario written");
    path
}

fn stdout_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "infscaler failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

#[test]
fn json_of_one_scenario_has_a_positive_capacity_and_its_probes() {
    let path = scenario("one", 3.0);
    let out = infscaler(&["capacity", path.to_str().expect("utf-8 path"), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&out)).expect("one JSON object");
    let capacity = v["capacity_rps"].as_f64().expect("capacity_rps");
    assert!(capacity > 0.0, "{v}");
    assert_eq!(v["target"].as_f64(), Some(0.99));
    let probes = v["probes"].as_array().expect("probes");
    assert!(probes.len() >= 3, "{v}");
    // The capacity is a rate that was probed and passed; the bracket's top failed.
    assert!(
        probes
            .iter()
            .any(|p| p["rate_per_s"].as_f64() == Some(capacity) && p["passed"] == true),
        "{v}"
    );
    let hi = v["bracket"][1].as_f64().expect("a failing rate");
    assert!(hi > capacity);
    if v["converged"] == true {
        assert!(hi - capacity <= 0.02 * capacity + 1e-9, "{v}");
    }
    // Progress went to stderr, naming the file.
    assert!(String::from_utf8_lossy(&out.stderr).contains("one.toml"));
}

#[test]
fn results_are_in_input_order_and_identical_at_any_jobs() {
    let a = scenario("tight", 2.0);
    let b = scenario("loose", 3.0);
    let (a, b) = (a.to_str().expect("utf-8"), b.to_str().expect("utf-8"));
    let one = stdout_of(&infscaler(&["capacity", a, b, "--json", "--jobs", "1"]));
    let two = stdout_of(&infscaler(&["capacity", a, b, "--json", "--jobs", "2"]));
    assert_eq!(one, two, "--jobs changed the results");
    let v: serde_json::Value = serde_json::from_str(&one).expect("a JSON list");
    let list = v.as_array().expect("a list for two scenarios");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["scenario"], "tight");
    assert_eq!(list[1]["scenario"], "loose");
    // A looser SLO admits at least as much load: 2× vs 3× the isolated latency (both feasible:
    // unloaded, a request takes the isolated latency plus at most the 1 ms batch timeout).
    let tight = list[0]["capacity_rps"].as_f64().expect("rate");
    let loose = list[1]["capacity_rps"].as_f64().expect("rate");
    assert!(tight > 0.0 && loose >= tight, "tight {tight} loose {loose}");
    // The table has one row per scenario, in input order.
    let table = stdout_of(&infscaler(&["capacity", a, b]));
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("tight") || l.starts_with("loose"))
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].starts_with("tight"), "{table}");
}

#[test]
fn bad_options_and_files_are_named() {
    let path = scenario("opts", 2.0);
    let p = path.to_str().expect("utf-8");
    let out = infscaler(&["capacity", p, "--tolerance", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tolerance"));
    let bad = path.with_file_name("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&path)
            .expect("read")
            .replace("rate_per_s = 50.0", "rate_per_s = -5.0"),
    )
    .expect("written");
    let out = infscaler(&["capacity", p, bad.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("workload.rate_per_s"),
        "{err}"
    );
}
