//! `infscaler hil run` and `infscaler hil validate` end to end: a two-second MobileNetV2 scenario
//! (three partitions, one single-core instance each) run live on ONNX Runtime on the CPU.
//! Needs the ONNX Runtime library (scripts/install-onnxruntime.sh).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn infscaler(args: &[&str]) -> Output {
    infscaler_in(root(), args)
}

/// `infscaler args` run in `dir`.
fn infscaler_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infscaler"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the infscaler binary runs")
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "infscaler failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

/// A short live scenario in a fresh temporary folder; `measured` adds the committed MobileNetV2
/// profile.
fn scenario(tag: &str, measured: bool) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infscaler-hil-live-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let device = root().join("hwprofiles/hil-host-2core.toml");
    let profile = root().join("hwprofiles/measured/mobilenet_v2-cpu-1thread-dev2core.toml");
    let measured = if measured {
        format!("measured_profile = {:?}", profile.display().to_string())
    } else {
        String::new()
    };
    let partition =
        "[[policy.stages.partitions]]\ninstances = { cpu = 1 }\ncpu_cores = 1\nmax_batch = 4\n";
    let text = format!(
        "name = \"hil-live-{tag}\"\nseed = 5\n\n[device]\nprofile = {:?}\n{measured}\n\n\
         [app]\nname = \"mobilenet_v2\"\n\n[slo]\nlatency = \"500ms\"\n\n\
         [workload]\nkind = \"poisson\"\nrate_per_s = 30.0\n\n[run]\nduration = \"2s\"\n\n\
         [policy]\nkind = \"static\"\n[[policy.stages]]\ncuts = [42, 103]\n{p}{p}{p}",
        device.display().to_string(),
        p = partition
    );
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The object keys of `v`, recursively, as dotted paths (array elements by their first item).
fn keys(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = format!("{prefix}{k}");
                out.insert(path.clone());
                keys(v, &format!("{path}."), out);
            }
        }
        serde_json::Value::Array(items) => {
            if let Some(first) = items.first() {
                keys(first, &format!("{prefix}[]."), out);
            }
        }
        _ => {}
    }
}

fn key_set(v: &serde_json::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    keys(v, "", &mut out);
    out
}

#[test]
fn hil_run_prints_the_report_of_infscaler_run() {
    let path = scenario("run", false);
    let path = path.to_str().unwrap();
    let live = json_of(&infscaler(&["hil", "run", path, "--json"]));
    let simulated = json_of(&infscaler(&["run", path, "--json"]));
    assert_eq!(key_set(&live), key_set(&simulated), "same JSON keys");

    let n = |k: &str| live[k].as_u64().unwrap_or_else(|| panic!("{k}: {live}"));
    assert!(n("arrivals") > 0);
    assert_eq!(
        n("arrivals") + n("in_flight_at_warmup"),
        n("completed") + n("dropped") + n("in_flight"),
        "every request is accounted for: {live}"
    );
    assert_eq!(
        n("arrivals"),
        simulated["arrivals"].as_u64().unwrap(),
        "the live run sees the simulation's arrival sequence"
    );
    assert!(live["throughput_rps"].as_f64().unwrap() > 0.0);
}

/// Batches the live runs of a `hil validate --json` ran, from each run's stage batch counts.
fn runs_batches(v: &serde_json::Value) -> u64 {
    v["live_runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["stages"].as_array().unwrap())
        .map(|s| s["batches"].as_u64().unwrap())
        .sum()
}

#[test]
fn hil_validate_compares_simulation_and_live_run_per_metric() {
    let path = scenario("validate", true);
    let live_times = path.with_file_name("live-times.toml");
    let out = infscaler(&[
        "hil",
        "validate",
        path.to_str().unwrap(),
        "--json",
        "--repeat",
        "2",
        "--live-times",
        live_times.to_str().unwrap(),
    ]);
    let v = json_of(&out);
    let runs = v["live_runs"].as_array().expect("live_runs is a list");
    assert_eq!(runs.len(), 2, "--repeat 2 runs live twice");
    assert_eq!(runs[0], v["live"], "`live` is the first run");
    assert_eq!(runs[0]["arrivals"], runs[1]["arrivals"], "same arrivals");
    let rows = v["metrics"].as_array().expect("metrics is a list");
    let names: Vec<&str> = rows.iter().map(|r| r["metric"].as_str().unwrap()).collect();
    for want in [
        "throughput_rps",
        "latency_p50_ms",
        "latency_p99_ms",
        "stage0_exec_ms",
        "stage0_queue_ms",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    for r in rows {
        let (Some(s), Some(l)) = (r["simulated"].as_f64(), r["live"].as_f64()) else {
            continue;
        };
        // The live value is the median of the two runs: their mean, within their range.
        let (lo, hi) = (
            r["live_min"].as_f64().unwrap(),
            r["live_max"].as_f64().unwrap(),
        );
        assert!(lo <= l && l <= hi, "median within the range: {r}");
        assert!(
            ((lo + hi) / 2.0 - l).abs() <= 1e-9 * hi.abs().max(1.0),
            "{r}"
        );
        if l != 0.0 {
            let e = r["relative_error"].as_f64().unwrap();
            assert!(((s - l) / l - e).abs() < 1e-12, "error of {r}");
        }
    }
    assert_eq!(
        v["simulated"]["arrivals"], v["live"]["arrivals"],
        "same arrivals"
    );
    let stats = &v["live_stats"];
    let count = |k: &str| {
        stats[k]
            .as_u64()
            .unwrap_or_else(|| panic!("live_stats.{k}"))
    };
    assert!(count("batches") > 0);
    // Every batch was sent after its start and picked up after it was sent: both take time.
    assert!(
        count("loop_lag_ns") > 0 && count("pickup_ns") > 0,
        "{stats}"
    );
    assert!(
        count("handoffs_no_core_free") <= count("batches"),
        "{stats}"
    );
    // The live runs' own execution times, as a profile the simulator reads, and the simulation
    // with them: same metrics, against the same live values.
    let profile = infscaler_sim::model::measured::MeasuredProfile::load(&live_times)
        .expect("the live times are a measured profile");
    let partitions = &profile.models[0].partitions;
    assert_eq!(partitions.len(), 3, "one entry per partition");
    assert!(
        profile.machine.wake_ns > 0,
        "the live runs' own wake-ups are in their profile"
    );
    // And their loop's sends, as one level at the load their batches made.
    let sends = &profile.machine.loop_sends;
    assert!(
        sends.len() == 1 && sends[0].utilisation > 0.0 && sends[0].utilisation <= 1.0,
        "{sends:?}"
    );
    let timed: u32 = partitions.iter().flat_map(|p| &p.batch).map(|b| b.n).sum();
    let batches: u64 = runs_batches(&v);
    assert_eq!(
        u64::from(timed),
        batches,
        "every batch of both runs is in the profile"
    );
    let calibrated = v["metrics_live_times"]
        .as_array()
        .expect("second comparison");
    assert_eq!(calibrated.len(), rows.len());
    for (a, b) in calibrated.iter().zip(rows) {
        assert_eq!(a["metric"], b["metric"]);
        assert_eq!(a["live"], b["live"], "same live values");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let here = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if !here.contains("Intel(R) Xeon(R) Processor") {
        assert!(
            stderr.contains("was measured on `Intel(R) Xeon(R) Processor`"),
            "a profile from another CPU is pointed out:\n{stderr}"
        );
    }
}

#[test]
fn hil_validate_reprofile_measures_the_profiles_again_before_each_live_run() {
    let path = scenario("reprofile", false);
    let dir = path.parent().unwrap();
    let in_dir = |args: &[&str]| infscaler_in(dir, args);
    // A quick profile of the scenario's partitions, then the scenario pointed at it.
    let made = in_dir(&[
        "hil",
        "profile",
        "--app",
        "mobilenet_v2",
        "--batch",
        "1",
        "--cuts",
        "42,103",
        "--threads",
        "1",
        "--no-operators",
        "--warmup",
        "1",
        "--iters",
        "2",
        "--out",
        "p.toml",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[device]\n",
        "[device]\nmeasured_profile = \"p.toml\"\n",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let out = in_dir(&[
        "hil",
        "validate",
        path.to_str().unwrap(),
        "--reprofile",
        "--repeat",
        "2",
        "--json",
        "--live-times",
        "live-times.toml",
    ]);
    let v = json_of(&out);
    // Each live run had its profile measured again, by the recorded command, under its name.
    for run in 1..=2 {
        let fresh = dir.join(format!(
            "results/hil/profiles/hil-live-reprofile-run{run}-p.toml"
        ));
        let profile = infscaler_sim::model::measured::MeasuredProfile::load(&fresh)
            .unwrap_or_else(|e| panic!("{}: {e}", fresh.display()));
        assert!(
            profile.machine.command.contains("--iters 2")
                && profile.machine.command.contains("--cuts 42,103")
                && profile.machine.command.ends_with(&format!(
                    "--out results/hil/profiles/hil-live-reprofile-run{run}-p.toml"
                )),
            "{}",
            profile.machine.command
        );
        // `hil profile` measures thread wake-ups, with cores free and with none, and the loop's
        // sends.
        assert!(
            profile.machine.wake_ns > 0
                && !profile.machine.wake_busy_ns.is_empty()
                && !profile.machine.loop_wake_busy_ns.is_empty()
                && !profile.machine.loop_sends.is_empty(),
            "{}",
            fresh.display()
        );
    }
    // One simulation per run: the simulated value is their median, within their range.
    for r in v["metrics"].as_array().unwrap() {
        let (Some(s), Some(lo), Some(hi)) = (
            r["simulated"].as_f64(),
            r["simulated_min"].as_f64(),
            r["simulated_max"].as_f64(),
        ) else {
            continue;
        };
        assert!(lo <= s && s <= hi, "{r}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("again for live run 2"), "{stderr}");
}

#[test]
fn hil_validate_refuses_a_missing_profile_and_an_unknown_accelerator() {
    let path = scenario("errors", false);
    let path = path.to_str().unwrap();
    let out = infscaler(&["hil", "validate", path, "--profile", "no/such/profile.toml"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--profile no/such/profile.toml: no such file"),
        "{stderr}"
    );

    let out = infscaler(&["hil", "run", path, "--ep", "gpu=cuda"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has no accelerator `gpu` (it has cpu)"),
        "{stderr}"
    );
}
