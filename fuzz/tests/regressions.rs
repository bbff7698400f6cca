//! Every finding of the fuzzer, as a test with its (shrunk) input inline: the reader must now
//! refuse the input with a clear error instead of panicking or exhausting memory. Each test
//! names the harness, the seed and case that found it, and the fix.
//!
//! Every finding the fuzzer has made so far is fixed; a finding whose fix has to wait is listed
//! in `tests/short.rs`'s `KNOWN_OPEN` until it lands.

use std::path::Path;

use infscaler_fuzz::env::default_repo;
use infscaler_fuzz::{Env, Outcome, Verdict, find, run_input};
use infscaler_sim::Scenario;
use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::model::cost::Target;
use infscaler_sim::model::file;
use infscaler_sim::model::layers::{Layer, NetworkBuilder};
use infscaler_sim::model::runtime::RuntimeProfile;
use infscaler_sim::model::zoo::{self, ZooOptions};
use infscaler_sim::policy::infless::config::{SearchParams, configs_with_batch};
use infscaler_sim::scenario::isolated_latency;
use infscaler_sim::time::SimDuration;
use infscaler_sim::workload::TimeUnit;
use infscaler_sim::workload::trace::{RequestColumns, parse_trace_csv};

/// Runs `input` through the harness `name`, which must return (not panic); its verdict.
fn verdict(name: &str, input: &str) -> Verdict {
    verdict_of_bytes(name, input.as_bytes())
}

fn verdict_of_bytes(name: &str, input: &[u8]) -> Verdict {
    let env = Env::new(&default_repo()).expect("a sandbox");
    let harness = find(name).expect("a registered harness");
    match run_input(harness, &env, input) {
        Outcome::Returned(v) => v,
        Outcome::Panicked { site, message } => panic!("{name} panicked at {site}: {message}"),
    }
}

fn rejected(name: &str, input: &str) -> String {
    match verdict(name, input) {
        Verdict::Rejected(m) => m,
        other => panic!("{name} should refuse the input, got {other:?}"),
    }
}

fn trace(text: &str, unit: Option<TimeUnit>) -> Result<Vec<u64>, String> {
    parse_trace_csv(
        text,
        Path::new("t.csv"),
        None,
        unit,
        RequestColumns::default(),
    )
    .map(|t| t.times_ns)
    .map_err(|e| e.to_string())
}

/// trace-csv, seed 1 case 817: `time_unit` given and no data rows indexed an empty vector
/// (`sim/src/workload/trace.rs`, `absolute_ns[0]`). Fixed: "no timestamps" as when the unit is
/// detected.
#[test]
fn trace_with_a_time_unit_and_no_rows() {
    assert!(rejected("trace-csv", "# fuzz:time_unit=datetime").contains("no timestamps"));
    let e = parse_trace_csv(
        "TIMESTAMP\n",
        Path::new("t.csv"),
        Some("TIMESTAMP"),
        Some(TimeUnit::Seconds),
        RequestColumns::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no timestamps after the header (line 1)"), "{e}");
    assert!(trace("", Some(TimeUnit::Milliseconds)).is_err());
}

/// trace-csv (fuzz profile, overflow checks), seed 1 case 46: a datetime outside 1677–2262 has
/// no i64 nanosecond count; `parse_datetime_ns` multiplied with overflow (wrapping to a wrong
/// time in release builds). Fixed: such a datetime is not a datetime.
#[test]
fn trace_datetimes_beyond_the_i64_range() {
    let unit = Some(TimeUnit::Datetime);
    for bad in [
        "0000-01-01 00:00:00",
        "2262-04-11 23:47:17",
        "1677-09-21 00:12:43",
    ] {
        // A first line that is no datetime is the header; the second then is refused.
        let e = trace(&format!("{bad}\n{bad}\n"), unit).unwrap_err();
        assert!(e.contains("is not a datetime"), "{bad}: {e}");
        assert!(trace(&format!("{bad}\n"), None).is_err(), "{bad}");
    }
    let extremes = trace("1677-09-21 00:12:44\n2262-04-11 23:47:16\n", unit).unwrap();
    assert_eq!(extremes, [0, 18_446_744_072_000_000_000]);
}

/// trace-csv: looping a replay whose span is near `u64::MAX` ns (the extremes above, or a
/// `rate_scale` of 1e-300) overflowed computing the period (`TraceSpec::replay`). Fixed: the
/// period saturates and the replay ends after its first pass.
#[test]
fn trace_loop_with_a_span_near_the_limit() {
    for input in [
        "# fuzz: loop arrivals=10\n1677-09-21 00:12:44\n2262-04-11 23:47:16\n",
        "# fuzz: loop rate_scale=1e-300 arrivals=10\n0\n1\n",
    ] {
        assert_eq!(verdict("trace-csv", input), Verdict::Accepted, "{input}");
    }
}

/// azure-csv, seed 1 case 374 (worker capped at 4 GiB): a minute counting 2,147,483,647
/// invocations made the replay allocate their times at once (`AzureReplay::fill_next_minute`:
/// 16 GiB) and abort. Fixed: a count above `MAX_COUNT_PER_MINUTE` (10 million) is a parse error.
#[test]
fn azure_minute_with_billions_of_invocations() {
    let m = rejected(
        "azure-csv",
        "HashOwner,HashApp,HashFunction,Trigger,1,2\n\
         o,a,f,http,2147483647,2\n\
         o,b,f,http,3,0\n",
    );
    assert!(
        m.contains("2147483647 invocations") && m.contains("at most 10000000"),
        "{m}"
    );
}

const STATIC_BASE: &str = "\
[device]
profile = \"xavier-agx\"
[app]
name = \"alexnet\"
[slo]
multiplier = 2.0
[workload]
kind = \"poisson\"
rate_per_s = 10.0
[run]
max_requests = 10
";

fn resolve_error(text: &str) -> infscaler_sim::ScenarioError {
    let scenario = Scenario::parse(text, "regression.toml", Path::new(".")).expect("parses");
    match scenario.resolve() {
        Ok(_) => panic!("resolve() accepted the scenario"),
        Err(e) => e,
    }
}

/// scenario-run, seed 1 case 328 (worker capped at 4 GiB): `instances = { gpu = 2147483647 }`
/// in a static deployment passed validation, then `StaticPolicy::deploy` listed two billion
/// instance plans (`sim/src/policy/static_policy.rs`, 5 GiB) and aborted. Fixed: at most
/// `MAX_INSTANCES` (1024) per partition and accelerator.
#[test]
fn static_deployment_with_billions_of_instances() {
    let text = format!(
        "{STATIC_BASE}[policy]\nkind = \"static\"\n[[policy.stages]]\n\
         [[policy.stages.partitions]]\ninstances = {{ gpu = 2147483647 }}\n"
    );
    let e = resolve_error(&text);
    assert_eq!(
        e.field, "policy.stages[0].partitions[0].instances.gpu",
        "{e}"
    );
    assert!(e.message.contains("at most 1024"), "{e}");
    let fine = text.replace("2147483647", "1024");
    Scenario::parse(&fine, "ok.toml", Path::new("."))
        .unwrap()
        .resolve()
        .expect("1024 instances are allowed");
}

/// scenario-run, seed 1 cases 60200 and 92759: Knative's `initial_scale = 2147483648` made
/// `deploy` list as many pods (`sim/src/policy/knative/platform.rs`) and abort; `min_scale`
/// would do the same at the first scaling decision. Fixed: both at most 1024.
#[test]
fn knative_with_billions_of_pods() {
    for key in ["initial_scale", "min_scale"] {
        let text = format!(
            "{STATIC_BASE}[policy]\nkind = \"knative\"\n[policy.autoscaler]\n{key} = 2147483648\n"
        );
        let e = resolve_error(&text);
        assert!(e.field.ends_with(key), "{e}");
        assert!(e.message.contains("at most 1024"), "{e}");
    }
}

/// scenario-run, seed 1 case 73834 (the slowest case of the long run, 11.6 s): INFless with
/// `max_batch = 2147483647` tries batch 2^30, and `configs_with_batch` listed the whole thread
/// countdown from 2^30 by 2 (`sim/src/policy/infless/config.rs`: 2^29 entries, 2 GiB) to keep
/// the few counts within the CPU's cores. Fixed: the countdown starts at the first count that
/// fits (same configurations).
#[test]
fn infless_batch_of_a_billion() {
    let device = DeviceProfile::builtin("xavier-agx").expect("built in");
    let runtime = RuntimeProfile::tensorrt();
    let target = Target::new(&device, &runtime);
    let model = zoo::build("alexnet", &ZooOptions::default()).expect("in the zoo");
    let params = SearchParams {
        max_batch: 1 << 30,
        prediction_margin: 0.1,
        gpu_percent_max: 100,
        gpu_percent_step: 10,
    };
    let slo = SimDuration::from_secs(3600);
    let started = std::time::Instant::now();
    let configs = configs_with_batch(&model.operators, target, slo, 1 << 30, &params);
    assert!(
        started.elapsed().as_secs_f64() < 5.0,
        "{:?}",
        started.elapsed()
    );
    let cores = device.accelerators[device.cpu()].cores;
    assert!(configs.iter().all(|c| c.cpu_threads <= cores));
    // Batch 8 on 8 cores: the countdown 8, 6, 4, 2 on the CPU, the GPU with 2 threads.
    let small = configs_with_batch(&model.operators, target, slo, 8, &params);
    let cpu_threads: Vec<u32> = small
        .iter()
        .filter(|c| c.gpu_percent == 0)
        .map(|c| c.cpu_threads)
        .collect();
    assert!(
        cpu_threads.iter().all(|t| [8, 6, 4, 2].contains(t)),
        "{cpu_threads:?}"
    );
    assert!(
        small
            .iter()
            .filter(|c| c.gpu_percent > 0)
            .all(|c| c.cpu_threads == 2)
    );
}

/// scenario-run, seed 1 case 99080 (worker capped at 4 GiB): `run.series_interval = "1ns"`
/// makes the recorder close one series interval per nanosecond of simulated time
/// (`sim/src/metrics/mod.rs`, the `while series.next_boundary() <= now` loop): a second of
/// simulated time is a billion points (case 222377: `duration = "2147483647s"` with 1 s
/// intervals, the same; 32 aborts and a hang in the long run). Open: `Scenario::check_run` (`sim/src/scenario.rs`)
/// should bound `duration / series_interval` as it bounds `latency_cdf` (and the recorder cap
/// the points of a run without a duration).
#[test]
fn series_interval_of_one_nanosecond() {
    let text = STATIC_BASE.replace(
        "max_requests = 10\n",
        "duration = \"10s\"\nseries_interval = \"1ns\"\n",
    );
    let e = resolve_error(&text);
    assert_eq!(e.field, "run.series_interval", "{e}");
}

/// device-profile (overflow checks), seed 1 case 3059: on a device whose engines peak at 1 to 4
/// operations per second (launch overheads and DLA fallback of 5 s), AlexNet's plan time
/// overflows u64 in `ExecPlan::solo_ns` / `Segment::solo_ns` (`sim/src/model/cost.rs:132`,
/// `fixed_ns + work_ns`); a release build wrapped to a time shorter than the peak allows. Fixed:
/// a profile's rates are at least 10⁶ per second, and `cost.rs` saturates its sums.
#[test]
fn cost_segment_overflow() {
    let model = zoo::build("alexnet", &ZooOptions::default()).expect("in the zoo");
    let flops: u64 = model.operators.iter().map(|o| o.flops).sum();
    let runtime = RuntimeProfile::tensorrt();
    // No engine beats its peak rate.
    let floor_ns = |device: &DeviceProfile| {
        let peak = device
            .accelerators
            .iter()
            .map(|a| a.peak_flops_per_s)
            .fold(0.0, f64::max);
        flops as f64 / peak * 1e9
    };
    let models = std::slice::from_ref(&model);
    let xavier = DeviceProfile::builtin("xavier-agx").expect("built in");
    let t = isolated_latency(models, Target::new(&xavier, &runtime));
    assert!(
        t.as_ns() as f64 >= floor_ns(&xavier),
        "the floor holds on a real device"
    );

    // Fixed: a profile's rates are at least 10⁶ per second (a mistaken unit is named), and the
    // plan's sums saturate.
    let err = DeviceProfile::from_toml_str(SLOW_DEVICE, "regression.toml")
        .expect_err("rates of a few per second are refused")
        .to_string();
    assert!(
        err.contains("memory.bandwidth") && err.contains("check the unit"),
        "{err}"
    );
    let target = Target::new(&xavier, &runtime);
    let mut seg = infscaler_sim::model::cost::plan(&model.operators, 1, 1, 0, target).segments[0];
    seg.fixed_ns = u64::MAX - 1;
    seg.work_ns = 5;
    assert_eq!(seg.solo_ns(), u64::MAX);
    assert_eq!(seg.repeated(3).fixed_ns, u64::MAX);
}

/// The device of `cost_segment_overflow`, as the fuzzer shrank it.
const SLOW_DEVICE: &str = r#"name="b"
[memory]
capacity="4GB"
bandwidth="8B/s"
reserved="3B"
cpu_copy_bandwidth="1B/s"
[storage]
read_bandwidth="3B/s"
[[accelerators]]
name="u"
kind="cpu"
precision="fp32"
cores=2
clock="2Hz"
peak="2OPS"
dense_efficiency=0.4
other_efficiency=1e-8
bandwidth_efficiency=0.6
launch_overhead="5s"
runtime_overhead="4B"
[[accelerators]]
name="g"
kind="gpu"
precision="fp16"
peak="4OPS"
dense_efficiency=0.8
other_efficiency=1
bandwidth_efficiency=1
launch_overhead="0s"
[[accelerators]]
name="0"
kind="dla"
precision="fp16"
peak="1OPS"
dense_efficiency=0.5
other_efficiency=1
bandwidth_efficiency=0.5
launch_overhead="0s"
fallback_transition="5s"
"#;

/// onnx-import (overflow checks), seed 1 case 9153: a mutated `tiny_seq` model whose Reshape
/// target has a dimension near 2^62; `reshape_target` multiplied the target's dimensions with
/// overflow (`let known: usize = out.iter().product()`, `sim/src/model/onnx/import.rs`). Fixed
/// in 37cc139 (reshape targets checked).
#[test]
fn onnx_reshape_target_overflow() {
    let hex: String = RESHAPE_OVERFLOW_ONNX.split_whitespace().collect();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    verdict_of_bytes("onnx-import", &bytes);
}

/// The input of `onnx_reshape_target_overflow`, hexadecimal (as the fuzzer found it).
const RESHAPE_OVERFLOW_ONNX: &str = "\
    120d696e667363616c65722d68696c1a05302e312e30324a74696e795f736571206275696c742066726f6d20\
    74686520696e667363616c6572206c6179657220677261706820776974682072616e646f6d20776569676874\
    732028736565642031293ade060a600a05696e7075740a096c6e2e7765696768740a076c6e2e626961731202\
    6c6e1a026c6e22124c617965724e6f726d616c697a6174696f6e2a140a046178697318ffffffffffffffffff\
    01a001022a110a07657073696c6f6e15acc52737a001010a160a026c6e120474616e681a0474616e68220454\
    616e680a170a0474616e680a026c6e120273711a02737122034d756c0a260a0273711201741a017422095472\
    616e73706f73652a0f0a047065726d400040024001a001070a1b0a01740a07722e73686170651201721a0172\
    2207526573686170650a2a0a01720a08732e7374617274730a06732e656e64730a06732e617865731201731a\
    01732205536c6963650a160a017312037369671a0373696722075369676d6f69640a2a0a037369671201701a\
    01702207536f66746d61782a140a046178697318ffffffffffffffffff01a00102120874696e795f7365712a\
    510810100142096c6e2e7765696768744a400652863f4c09673f4707be3f0694143f0607363f155c8c3f0c08\
    633fa625383fe58daa3ff29f483f10f1b43f46f59a3f8aff7e3fde09763fa4e29a3f3e14273f2a4f08101001\
    42076c6e2e626961734a4000b1bbbda382993df49885bd3244293dfd85c1bd00745bbbd9e6b43db0ff7c3c49\
    5f893dba0fa4bdcd0fc33d136641bde8d92abce88018bc50211fbc670934bd2a27080310074207722e736861\
    70654a1800000000000000000800000000000000100000000000003f2a18080110074208732e737461727473\
    4a0802000000000000002a16080110074206732e656e64734a0806000000000000002a16080110074206732e\
    617865734a0801000000000000005a1c0a05696e70757412130a110801120d0a0312014e0a0208080a020810\
    62180a017012130a110801120d0a0312014e0a0208040a0208106a190a026c6e12130a110801120d0a031201\
    4e0a0208080a0208106a1b0a0474616e6812130a110801120d0a0312014e0a0208080a0208106a190a027371\
    12130a110801120d0a0312014e0a0208080a0208106a180a017412130a110801120d0a0312014e0a0208100a\
    0208086a180a017212130a110801120d0a0312014e0a0208080a0208106a180a017312130a110801120d0a03\
    12014e0a0208040a0208106a1a0a0373696712130a110801120d0a031201040a02081042021011\
";

/// onnx-import (overflow checks), seed 1 case 336772: an initialiser whose dims multiply past
/// u64 (`tensor_len`, `t.dims.iter().map(..).product()`, `sim/src/model/onnx/mod.rs`). Fixed in
/// 37cc139 (the length saturates).
#[test]
fn onnx_tensor_len_overflow() {
    let t = infscaler_sim::model::onnx::proto::TensorProto {
        dims: vec![1 << 40, 1 << 40],
        ..Default::default()
    };
    assert_eq!(infscaler_sim::model::onnx::tensor_len(&t), u64::MAX);
}

/// model-file, seed 1 case 174721: a model file named `"\u0000"` parsed, and `file::write`
/// copied the name into the header comment as it was (`sim/src/model/file.rs`), so the file it
/// wrote did not parse back (a name with a line end could add lines to the file). Fixed in
/// 37cc139: names with control characters are refused, and the comment shows the name escaped.
#[test]
fn model_file_name_with_control_characters() {
    let base = "format = 1\nname = NAME\ninput_shape = [3, 8, 8]\n\n[[layers]]\nname = \"flat\"\n\
                layer = { kind = \"flatten\" }\n";
    for name in [r#""\u0000""#, r#""a\nformat = 2""#, r#""b\r\n[[layers]]""#] {
        let e = file::parse(&base.replace("NAME", name), "m.toml").unwrap_err();
        assert!(e.to_string().contains("control character"), "{name}: {e}");
    }
}

/// What `model_file_name_with_control_characters` leaves open: a network that does not come from
/// a model file can still carry such a name (an ONNX graph's `name`, or the `.onnx` file's stem,
/// which `import_model` takes as they are), and `file::write` (what `infscaler models import`
/// runs) puts it in the header comment as a TOML string, which for a name with a line end is a
/// multi-line `"""` string: the lines after the first are outside the comment. Open: write the
/// comment's name on one line (`{:?}`), or refuse control characters in `import_model` too
/// (`sim/src/model/onnx/import.rs`, the graph's and the nodes' names).
#[test]
fn model_file_comment_injection() {
    let mut b = NetworkBuilder::new("a\nformat = 2\n[[layers]]", &[3, 8, 8]);
    b.layer("flat", Layer::Flatten);
    let text = file::write(&b.finish());
    let keys = text
        .lines()
        .filter(|l| l.starts_with("format") || l.starts_with("[[layers]]"));
    assert_eq!(keys.count(), 2, "{text}");
}

/// onnx-import, seed 1 case 22158 (after `onnx-import` learnt to check that an imported model's
/// model file reads back, as `infscaler models import` writes it): a node named `"\u{1}"`
/// imports, and the model file written from it is refused (`layers[3].name … holds a control
/// character`). Open: `import_model` (`sim/src/model/onnx/import.rs`) should refuse, or clean,
/// control characters in the graph's and the nodes' names as `model::file` does.
#[test]
fn onnx_names_with_control_characters() {
    for (graph_name, node_name) in [("tiny", "\u{1}"), ("a\nformat = 2", "n")] {
        let mut b = NetworkBuilder::new("tiny", &[4, 8]);
        b.layer("flat", Layer::Flatten);
        b.linear("fc", 3, true);
        let net = b.finish();
        let opts = infscaler_hil::from_network::BuildOptions { seed: 1 };
        let mut model = infscaler_hil::from_network::model_from_network(&net, &opts).unwrap();
        let graph = model.graph.as_mut().expect("a graph");
        graph.name = graph_name.into();
        graph.node[0].name = node_name.into();
        let bytes = infscaler_sim::model::onnx::encode(&model);
        verdict_of_bytes("onnx-import", &bytes);
    }
}
