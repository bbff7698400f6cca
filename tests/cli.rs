//! End-to-end tests of the `infscaler` binary: determinism, conservation on every shipped
//! scenario, and clear errors for bad scenario files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn infscaler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infscaler"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
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

/// A sweep file names its base scenario under a top-level `base` key, and a model file
/// (docs/models.md) lists `layers`; no scenario has either.
fn is_not_a_scenario(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).expect("a shipped file is readable");
    toml::from_str::<toml::Table>(&text)
        .is_ok_and(|t| t.contains_key("base") || t.contains_key("layers"))
}

/// Every scenario shipped under scenarios/ (recursively), except sweep and model files.
fn shipped_scenarios() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("scenarios/ is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "toml") && !is_not_a_scenario(&path) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
        &mut out,
    );
    out.sort();
    out
}

#[test]
fn same_seed_gives_byte_identical_json_and_another_seed_differs() {
    let a = infscaler(&["run", "scenarios/quickstart.toml", "--json"]);
    let b = infscaler(&["run", "scenarios/quickstart.toml", "--json"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout, "two runs with the same seed differ");
    let c = json_of(&infscaler(&[
        "run",
        "scenarios/quickstart.toml",
        "--json",
        "--seed",
        "12345",
    ]));
    let a = json_of(&a);
    assert_ne!(a["arrivals"], serde_json::Value::Null);
    assert!(
        a["latency_ms"] != c["latency_ms"] || a["arrivals"] != c["arrivals"],
        "another seed gave the same numbers"
    );
}

#[test]
fn json_report_has_the_documented_keys() {
    let v = json_of(&infscaler(&["run", "--json"]));
    for key in [
        "arrivals",
        "completed",
        "dropped",
        "in_flight",
        "throughput_rps",
        "goodput_rps",
        "slo_attainment",
        "latency_ms",
        "memory_peak_bytes",
        "memory_mean_bytes",
        "utilization",
    ] {
        assert!(v.get(key).is_some(), "missing key `{key}` in {v}");
    }
    for p in ["p50", "p90", "p99", "max"] {
        assert!(
            v["latency_ms"][p].is_number(),
            "latency_ms.{p} is not a number"
        );
    }
    assert!(v["utilization"]["gpu"].is_number());
    assert!(v["throughput_rps"].as_f64().unwrap() > 0.0);
}

#[test]
fn every_shipped_scenario_conserves_requests() {
    let scenarios = shipped_scenarios();
    assert!(
        scenarios.len() >= 3,
        "expected several shipped scenarios, found {scenarios:?}"
    );
    for path in scenarios {
        let p = path.to_string_lossy().to_string();
        let v = json_of(&infscaler(&["run", &p, "--json"]));
        let n = |k: &str| {
            v[k].as_u64()
                .unwrap_or_else(|| panic!("{p}: `{k}` is not a count"))
        };
        assert!(n("arrivals") > 0, "{p}: no arrivals");
        // Requests that arrived during the warm-up and finish after it are counted on the right
        // (docs/metrics.md); with no warm-up this is arrivals = completed + dropped + in_flight.
        assert_eq!(
            n("arrivals") + n("in_flight_at_warmup"),
            n("completed") + n("dropped") + n("in_flight"),
            "{p}: requests not conserved: {v}"
        );
        let by_reason: u64 = v["dropped_by_reason"]
            .as_object()
            .unwrap()
            .values()
            .map(|x| x.as_u64().unwrap())
            .sum();
        assert_eq!(
            by_reason,
            n("dropped"),
            "{p}: drops by reason do not add up"
        );
    }
}

/// Writes `text` to a scenario file in a fresh temporary directory and returns its path.
fn temp_scenario(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infscaler-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

const VALID: &str = r#"
[device]
profile = "xavier-agx"
[app]
name = "alexnet"
[slo]
multiplier = 2.0
[workload]
kind = "poisson"
rate_per_s = 50.0
[run]
duration = "2s"
"#;

#[test]
fn a_valid_scenario_validates() {
    let path = temp_scenario("valid", VALID);
    let out = infscaler(&["validate", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn invalid_fields_are_named_with_the_file_and_fail() {
    let cases: &[(&str, String, &str)] = &[
        (
            "unknown-key",
            VALID.replace("[run]\n", "[run]\nspeed = 3\n"),
            "speed",
        ),
        (
            "negative-rate",
            VALID.replace("rate_per_s = 50.0", "rate_per_s = -5.0"),
            "rate_per_s",
        ),
        (
            "unknown-model",
            VALID.replace("name = \"alexnet\"", "name = \"alexnett\""),
            "app.name",
        ),
        (
            "slo-multiplier",
            VALID.replace("multiplier = 2.0", "multiplier = 1.0"),
            "slo.multiplier",
        ),
        (
            "missing-trace",
            VALID.replace(
                "kind = \"poisson\"\nrate_per_s = 50.0",
                "kind = \"trace\"\npath = \"no-such-trace.csv\"",
            ),
            "no-such-trace.csv",
        ),
        (
            "unknown-device",
            VALID.replace("xavier-agx", "xavier-agz"),
            "device.profile",
        ),
        (
            "bad-duration",
            VALID.replace("\"2s\"", "\"2 fortnights\""),
            "duration",
        ),
        (
            "moved-transport",
            format!("{VALID}[serving.transport]\nkind = \"http\"\n"),
            "field `serving.transport.kind`: has moved",
        ),
    ];
    for (name, text, needle) in cases {
        let path = temp_scenario(name, text);
        for cmd in ["validate", "run"] {
            let out = infscaler(&[cmd, path.to_str().unwrap()]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success(),
                "{name}: `{cmd}` succeeded on an invalid scenario"
            );
            assert!(
                err.contains(&*path.to_string_lossy()),
                "{name}: error does not name the file: {err}"
            );
            assert!(
                err.contains(needle),
                "{name}: error does not name `{needle}`: {err}"
            );
        }
    }
}

#[test]
fn models_lists_the_zoo() {
    let out = infscaler(&["models"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for m in [
        "alexnet",
        "vgg16",
        "resnet50",
        "mobilenet_v2",
        "crnn",
        "bert_base",
        "gpt2_medium",
    ] {
        assert!(text.contains(m), "`infscaler models` does not list {m}");
    }
    let out = infscaler(&["models", "alexnet"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("conv1"));
}

#[test]
fn plan_prints_partitions_with_instances() {
    let v = json_of(&infscaler(&[
        "plan",
        "scenarios/examples/alexnet-asymmetric.toml",
        "--json",
    ]));
    let parts = v["partitions"].as_array().expect("partitions is a list");
    let spans: Vec<(u64, u64)> = parts
        .iter()
        .map(|p| {
            (
                p["first_op"].as_u64().unwrap(),
                p["last_op"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(spans, vec![(1, 5), (6, 13), (14, 24)]);
    let counts: Vec<u64> = parts
        .iter()
        .map(|p| p["instances"]["gpu"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![2, 3, 2]);
}

#[test]
fn run_outside_a_checkout_uses_the_built_in_quickstart() {
    let dir = std::env::temp_dir().join(format!("infscaler-cli-{}-elsewhere", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_infscaler"))
        .args(["run", "--json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let v = json_of(&out);
    assert_eq!(v["scenario"], "quickstart");
}

#[test]
fn gui_starts_the_named_executable_with_the_scenario_and_passes_on_its_status() {
    // A stand-in for infscaler-gui that records its arguments and exits with status 3.
    let dir = std::env::temp_dir().join(format!("infscaler-gui-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let args_file = dir.join("args");
    let stub = dir.join("fake-gui");
    std::fs::write(
        &stub,
        format!("#!/bin/sh\necho \"$@\" > {}\nexit 3\n", args_file.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_infscaler"))
        .args(["gui", "scenarios/quickstart.toml"])
        .env("INFSCALER_GUI", &stub)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "the GUI's status comes back");
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert_eq!(args.trim(), "scenarios/quickstart.toml");

    // A name that is no file is an error that says so, not a search elsewhere.
    let out = Command::new(env!("CARGO_BIN_EXE_infscaler"))
        .arg("gui")
        .env("INFSCALER_GUI", dir.join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("INFSCALER_GUI=") && stderr.contains("no such file"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// A short version of the Fig. 2 base scenario (AlexNet on a Xavier AGX's GPU, overloaded), and a
/// sweep of two of its configurations, in a fresh directory.
fn short_fig2(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).expect("temp dir");
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/paper/alexnet-cap.toml"),
    )
    .expect("shipped")
    .replace("duration = \"10s\"", "duration = \"1s\"")
    .replace("warmup = \"2s\"", "warmup = \"0s\"")
    .replace("rate_per_s = 3000.0", "rate_per_s = 1000.0");
    let scenario = dir.join("short.toml");
    std::fs::write(&scenario, base).expect("written");
    let sweep = dir.join("sweep.toml");
    std::fs::write(
        &sweep,
        "name = \"two\"\nbase = \"short.toml\"\n[[axes]]\npath = \"policy.stages\"\nvalues = [\n\
         [{ cuts = [], partitions = [{ instances = { gpu = 1 } }] }],\n\
         [{ cuts = [], partitions = [{ instances = { gpu = 3 } }] }],\n]\n",
    )
    .expect("written");
    (scenario, sweep)
}

/// `infscaler sensitivity FILE --metric M --json --jobs J --out OUT`.
fn sensitivity(file: &Path, metric: &str, jobs: &str, out: &Path) -> Output {
    infscaler(&[
        "sensitivity",
        file.to_str().unwrap(),
        "--metric",
        metric,
        "--json",
        "--jobs",
        jobs,
        "--out",
        out.to_str().unwrap(),
    ])
}

/// The numbers of the last stderr line `N runs (A new, B resumed) …`: (A, B).
fn new_and_resumed(out: &Output) -> (usize, usize) {
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .rfind(|l| l.contains(" resumed) in "))
        .unwrap_or_else(|| panic!("no summary line in {err}"));
    let (_, rest) = line.split_once('(').unwrap();
    let mut numbers = rest
        .split([' ', ','])
        .filter_map(|w| w.parse::<usize>().ok());
    (numbers.next().unwrap(), numbers.next().unwrap())
}

#[test]
fn sensitivity_ranks_the_tagged_parameters_of_a_scenario_and_a_sweep() {
    let dir = std::env::temp_dir().join(format!("infscaler-sens-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (scenario, sweep) = short_fig2(&dir);
    let one = json_of(&sensitivity(
        &scenario,
        "throughput_rps,latency_p50_ms",
        "2",
        &dir.join("one/out"),
    ));
    let params = one["parameters"].as_array().expect("parameters");
    // Xavier AGX and TensorRT carry over a dozen [assumed]/[fitted] numbers.
    assert!(params.len() > 10, "{}", params.len());
    // Ranked: the largest effect first, and the GPU's kernel ramp moves a GPU-bound AlexNet.
    let effects: Vec<f64> = params
        .iter()
        .map(|p| p["max_effect"].as_f64().unwrap())
        .collect();
    assert!(effects.windows(2).all(|w| w[0] >= w[1]), "{effects:?}");
    assert!(effects[0] > 0.05, "{effects:?}");
    let ramp = params
        .iter()
        .find(|p| p["parameter"] == "kernels.ramp")
        .expect("the runtime's kernel ramp is fitted");
    assert_eq!(ramp["profile"], "runtime");
    // A storage bandwidth cannot move a run without cold starts.
    let storage = params
        .iter()
        .find(|p| p["parameter"] == "storage.read_bandwidth")
        .expect("tagged");
    assert_eq!(storage["max_effect"].as_f64(), Some(0.0));
    // An efficiency doubled past 1 is refused, with the reason.
    let refused = params
        .iter()
        .flat_map(|p| p["variants"].as_array().unwrap())
        .find(|v| v["error"].is_string())
        .expect("some ×2 is out of range");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("must be in (0, 1]")
    );

    let first = sensitivity(&sweep, "throughput_rps", "2", &dir.join("two/out"));
    let two = json_of(&first);
    assert_eq!(two["cells"].as_array().unwrap().len(), 2);
    let ranked = two["parameters"][0]["variants"][0]["best_kept"].is_boolean();
    assert!(ranked, "{}", two["parameters"][0]);
    let (runs, resumed) = new_and_resumed(&first);
    assert!(runs > 40 && resumed == 0, "{runs} new, {resumed} resumed");
    // Rerun into the same files: every run is on disk, none runs again.
    let again = sensitivity(&sweep, "throughput_rps", "2", &dir.join("two/out"));
    assert_eq!(new_and_resumed(&again), (0, runs));
    assert_eq!(json_of(&again), two);

    // An interrupted analysis: a third of the rows on disk, then a line cut off mid-way.
    let stored = std::fs::read_to_string(dir.join("two/out.runs.jsonl")).unwrap();
    let kept = runs / 3;
    let mut partial: String = stored
        .lines()
        .take(kept)
        .map(|l| format!("{l}\n"))
        .collect();
    partial.push_str(&stored.lines().nth(kept).unwrap()[..40]);
    std::fs::create_dir_all(dir.join("cut")).unwrap();
    std::fs::write(dir.join("cut/out.runs.jsonl.partial"), partial).unwrap();
    let resumed = sensitivity(&sweep, "throughput_rps", "1", &dir.join("cut/out"));
    assert_eq!(new_and_resumed(&resumed), (runs - kept, kept));

    // Fresh at --jobs 1: the same bytes in every file (no temporary path or thread order leaks).
    let serial = sensitivity(&sweep, "throughput_rps", "1", &dir.join("serial/out"));
    assert_eq!(json_of(&serial), two);
    assert!(
        !String::from_utf8_lossy(&serial.stdout).contains("infscaler-sensitivity-"),
        "a temporary path in the output"
    );
    for ext in ["json", "csv", "png", "runs.jsonl"] {
        let read = |d: &str| std::fs::read(dir.join(format!("{d}/out.{ext}"))).unwrap();
        assert!(
            read("two") == read("serial"),
            "out.{ext} differs at --jobs 1"
        );
        assert!(
            read("two") == read("cut"),
            "out.{ext} differs after a resume"
        );
    }
    // The tornado chart: a PNG with something drawn, one row per parameter shown.
    let png = std::fs::read(dir.join("two/out.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 20_000,
        "a near-empty chart: {} bytes",
        png.len()
    );
    let csv = std::fs::read_to_string(dir.join("two/out.csv")).unwrap();
    assert!(csv.starts_with("rank,profile,parameter,tag,value,factor,varied_value,"));
    assert_eq!(
        csv.lines().count(),
        1 + 2 * two["parameters"].as_array().unwrap().len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_measures_any_scenario_stopped_after_the_requests_asked() {
    let out = infscaler(&[
        "bench",
        "--scenario",
        "scenarios/quickstart.toml",
        "--requests",
        "2000",
        "--repeat",
        "2",
        "--json",
    ]);
    let v = json_of(&out);
    assert_eq!(v["requests"], 2000);
    assert_eq!(v["completed"], 2000, "drained: {v}");
    assert!(v["requests_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["scenario"].as_str().unwrap().starts_with("quickstart"));
    // A workload that ends sooner (a trace replayed once) ends the run sooner, and says so.
    let short = json_of(&infscaler(&[
        "bench",
        "--scenario",
        "scenarios/examples/llm-trace-orin.toml",
        "--requests",
        "1000000",
        "--repeat",
        "1",
        "--json",
    ]));
    let n = short["requests"].as_u64().unwrap();
    assert!(n > 0 && n < 1_000_000, "{short}");
    let missing = infscaler(&["bench", "--scenario", "no/such.toml"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such.toml"));
}

#[test]
fn bench_suite_measures_every_case_in_its_own_process() {
    let out = infscaler(&[
        "bench",
        "--suite",
        "--requests",
        "3000",
        "--repeat",
        "1",
        "--reproduce",
        "none",
        "--jobs",
        "1",
        "--json",
    ]);
    let v = json_of(&out);
    let cases = v["cases"].as_array().expect("cases");
    let names: Vec<&str> = cases.iter().map(|c| c["case"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "bench",
            "cpu-pipeline",
            "gpu-dla-contention",
            "infscaler-tm-bursty",
            "trace-replay",
            "capacity"
        ]
    );
    for c in cases {
        assert!(c["wall_s"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["requests_per_s"].as_f64().unwrap() > 0.0, "{c}");
        // Each case's own process: a simulator's few MiB, not zero and not the suite's.
        let rss = c["peak_rss_bytes"].as_u64().unwrap();
        assert!((1 << 20..1 << 30).contains(&rss), "{c}");
        if c["case"] != "capacity" {
            assert_eq!(c["requests"], 3000, "{c}");
            assert!(c["events_per_s"].as_f64().unwrap() > c["requests_per_s"].as_f64().unwrap());
        }
    }
    assert!(v["machine"].as_str().unwrap().contains('×'));
    // --reproduce needs --suite.
    let wrong = infscaler(&["bench", "--reproduce", "none"]);
    assert!(!wrong.status.success());
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_users_onnx_model_and_its_model_file_simulate_as_the_zoo_model_by_path() {
    let dir = std::env::temp_dir().join(format!("infscaler-cli-{}-own-model", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let onnx = dir.join("classifier.onnx");
    let file = dir.join("classifier.toml");
    let out = infscaler(&[
        "models",
        "export",
        "resnet50",
        "--out",
        onnx.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = infscaler(&[
        "models",
        "import",
        onnx.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("app.stages"));
    // `models FILE` shows it as the zoo model.
    let shown = json_of(&infscaler(&["models", file.to_str().unwrap(), "--json"]));
    let zoo = json_of(&infscaler(&["models", "resnet50", "--json"]));
    assert_eq!(shown["operators"], zoo["operators"]);
    assert_eq!(
        json_of(&infscaler(&["models", onnx.to_str().unwrap(), "--json"]))["operators"],
        zoo["operators"]
    );

    // The quickstart with its classifier named by path, as an .onnx and as a model file,
    // reports what the quickstart reports.
    let quickstart = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml"),
    )
    .unwrap()
    .replace("duration = \"30s\"", "duration = \"5s\"");
    let reference = temp_scenario("own-model-zoo", &quickstart);
    let expected = json_of(&infscaler(&["run", reference.to_str().unwrap(), "--json"]));
    for stage in ["classifier.onnx", "classifier.toml"] {
        let text = quickstart.replace(
            "name = \"tm\"",
            &format!("stages = [\"ssd_mobilenet_v1\", \"{stage}\"]"),
        );
        let path = dir.join(format!("scenario-{stage}.toml"));
        std::fs::write(&path, text).unwrap();
        let mut got = json_of(&infscaler(&["run", path.to_str().unwrap(), "--json"]));
        assert_eq!(got["app"], "ssd_mobilenet_v1+resnet50", "{stage}");
        got["app"] = expected["app"].clone();
        assert_eq!(got, expected, "{stage}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn models_import_names_an_unreadable_file() {
    let path = temp_scenario("not-onnx", "this is text, not protobuf");
    let out = infscaler(&["models", "import", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains("not-onnx.toml") && err.contains("not an ONNX model"),
        "{err}"
    );
}

#[test]
fn a_scenario_expecting_billions_of_arrivals_is_refused_unless_forced() {
    let huge = VALID
        .replace("rate_per_s = 50.0", "rate_per_s = 4294967296")
        .replace("duration = \"2s\"", "duration = \"3s\"");
    let path = temp_scenario("huge-rate", &huge);
    for cmd in ["validate", "run"] {
        let out = infscaler(&[cmd, path.to_str().unwrap()]);
        assert!(!out.status.success(), "{cmd}");
        let err = stderr_of(&out);
        assert!(
            err.contains("field `workload.rate_per_s`")
                && err.contains("1.288e10 arrivals")
                && err.contains("--force"),
            "{cmd}: {err}"
        );
    }
    let out = infscaler(&["validate", "--force", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn an_endless_trace_file_and_a_missing_one_get_clear_errors() {
    let trace = |path: &str| {
        VALID.replace(
            "kind = \"poisson\"\nrate_per_s = 50.0",
            &format!("kind = \"trace\"\npath = \"{path}\""),
        )
    };
    if Path::new("/dev/zero").exists() {
        let path = temp_scenario("dev-zero", &trace("/dev/zero"));
        let out = infscaler(&[
            "--max-input-size",
            "1MiB",
            "validate",
            path.to_str().unwrap(),
        ]);
        assert!(!out.status.success());
        let err = stderr_of(&out);
        assert!(
            err.contains("/dev/zero") && err.contains("input size cap of 1MiB"),
            "{err}"
        );
    }
    let path = temp_scenario("missing-trace", &trace("missing.csv"));
    let out = infscaler(&["validate", path.to_str().unwrap()]);
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert_eq!(err.matches("workload.path").count(), 1, "{err}");
    assert!(err.contains("missing.csv"), "{err}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_long_run_with_progress_and_the_report_so_far() {
    let long = VALID
        .replace("rate_per_s = 50.0", "rate_per_s = 400.0")
        .replace("duration = \"2s\"", "duration = \"1000000s\"");
    let path = temp_scenario("long-run", &long);
    let child = Command::new(env!("CARGO_BIN_EXE_infscaler"))
        .args(["run", "--json", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Past the first progress line of a log (one every 5 s).
    std::thread::sleep(std::time::Duration::from_millis(6500));
    // SAFETY: signals the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("% simulated") && err.contains("ETA"), "{err}");
    assert!(err.contains("interrupted (Ctrl-C)"), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["interrupted"], true);
    let arrivals = report["arrivals"].as_u64().unwrap();
    assert!(arrivals > 1000, "{arrivals}");
    assert_eq!(
        arrivals,
        report["completed"].as_u64().unwrap()
            + report["dropped"].as_u64().unwrap()
            + report["in_flight"].as_u64().unwrap()
    );
}

#[test]
fn explore_searches_the_whole_design_space_and_prints_the_best_pipeline() {
    let v = json_of(&infscaler(&[
        "explore",
        "scenarios/examples/infscaler-alexnet.toml",
        "--stages",
        "3",
        "--json",
    ]));
    // AlexNet's 24 operators in 3 stages on the Xavier's 4 EPs: C(23, 2) · 4 · 3 · 2.
    assert_eq!(v["evaluated"], 253 * 24);
    assert_eq!(v["cuts"].as_array().unwrap().len(), 2);
    let parts = v["partitions"].as_array().unwrap();
    let slowest = parts
        .iter()
        .map(|p| p["predicted_ms"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!((slowest - v["bottleneck_ms"].as_f64().unwrap()).abs() < 1e-9);

    let out = infscaler(&[
        "explore",
        "scenarios/examples/vgg16-server-4ep.toml",
        "--cpu-groups",
        "5",
        "--cpu-cores",
        "8",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not fit the 32 cores"));
}

#[test]
fn explore_with_moldable_cpu_stages_splits_the_cores_and_never_does_worse() {
    let explore = |extra: &[&str]| {
        let mut args = vec![
            "explore",
            "scenarios/examples/vgg16-server-4ep.toml",
            "--stages",
            "4",
            "--cpu-groups",
            "4",
            "--json",
        ];
        args.extend_from_slice(extra);
        json_of(&infscaler(&args))
    };
    let fixed = explore(&["--cpu-cores", "8"]);
    let moldable = explore(&["--moldable"]);
    // Too many configurations to enumerate (every 4-way split of 32 cores, C(32, 4) of them,
    // times the cuts): the dynamic programme answers.
    assert!(moldable["space_size"].as_f64().unwrap() > 1e8);
    assert!(moldable["evaluated"].is_null());
    let cores: Vec<u64> = moldable["cores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(cores.len(), 4);
    assert!(cores.iter().all(|&c| c >= 1) && cores.iter().sum::<u64>() <= 32);
    // Four groups of 8 cores is one of the splits it considered.
    assert!(
        moldable["bottleneck_ms"].as_f64().unwrap() <= fixed["bottleneck_ms"].as_f64().unwrap(),
        "{moldable} vs {fixed}"
    );
    let out = infscaler(&[
        "explore",
        "scenarios/examples/vgg16-server-4ep.toml",
        "--cpu-groups",
        "33",
        "--moldable",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least one core each"));
}
