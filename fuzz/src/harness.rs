//! The harnesses: one reader each, its seeds, and what it checks beyond "does not panic".
//!
//! A harness is an entry of [`HARNESSES`]: a name, the [`Format`] its inputs are written in (which
//! picks the mutations), a function giving its seeds and a function running one input. Adding one
//! is a function `fn(&Env, &[u8]) -> Verdict`, a seed function, an entry (`onnx_import` and
//! `onnx_seeds` below are a small example) and a line in `tests/short.rs`. Harnesses return
//! [`Verdict::Rejected`] with the reader's error message (the driver checks it is not empty),
//! panic (through `assert!`) when an accepted input breaks a documented property, and return
//! [`Verdict::Skipped`] when they decline to run an input (one naming a file outside the
//! sandbox).
//!
//! Options of the readers that are not in the file (a trace's column, window and speed-up; an
//! Azure file's function and minutes) come from an *options line* at the top of the input,
//! `# fuzz: key=value …`, which the mutations change like any other line: see [`Options`].

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use infscaler_hil::from_network::{BuildOptions, model_from_network};
use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::model::cost::{self, Target};
use infscaler_sim::model::layers::{
    EmbeddingIds, Layer, Network, NetworkBuilder, PoolMode, TensorRef,
};
use infscaler_sim::model::measured::{MeasuredProfile, MeasuredTimes};
use infscaler_sim::model::runtime::RuntimeProfile;
use infscaler_sim::model::zoo::{self, ZooOptions};
use infscaler_sim::model::{ActivationFn, Model, file, onnx};
use infscaler_sim::rng::RunSeed;
use infscaler_sim::scenario::{Scenario, isolated_latency};
use infscaler_sim::simulation::Simulation;
use infscaler_sim::workload::trace::{RequestColumns, TokenColumns, parse_trace_csv};
use infscaler_sim::workload::{ArrivalProcess, AzureFunctionsSpec, Spread, TimeUnit, TraceSpec};

use crate::env::{Env, files_under, files_with_extension, functions_day};
use crate::mutate::Format;

/// What one input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The reader took the input (and the harness's checks after it passed).
    Accepted,
    /// The reader refused the input with this message.
    Rejected(String),
    /// The harness did not run the reader on this input.
    Skipped,
}

/// A reader under test.
#[derive(Clone, Copy, Debug)]
pub struct Harness {
    /// Name on the command line.
    pub name: &'static str,
    /// One line on what it runs.
    pub about: &'static str,
    /// How its inputs are written.
    pub format: Format,
    /// Its seed inputs (not empty).
    pub seeds: fn(&Env) -> Vec<Vec<u8>>,
    /// Runs one input.
    pub run: fn(&Env, &[u8]) -> Verdict,
    /// Cases of the short run in the test suite (`tests/short.rs`), sized so that all harnesses
    /// together take about half a minute on two cores.
    pub short_cases: u64,
    /// Values the mutations may put in any field (paths of the sandbox's files).
    pub sandbox_values: bool,
    /// Tokens the mutations put on the options line (see [`Options`]); empty when the harness
    /// reads none.
    pub options: &'static [&'static str],
}

const TRACE_OPTIONS: &[&str] = &[
    "loop",
    "tokens",
    "column=TIMESTAMP",
    "column=ContextTokens",
    "column=GeneratedTokens",
    "column=",
    "column=x",
    "time_unit=datetime",
    "time_unit=s",
    "time_unit=ms",
    "time_unit=us",
    "time_unit=ns",
    "context=ContextTokens",
    "generated=GeneratedTokens",
    "context=TIMESTAMP",
    "generated=x",
    "start_s=0",
    "start_s=1",
    "start_s=600",
    "start_s=1e300",
    "start_s=-1",
    "start_s=nan",
    "end_s=1",
    "end_s=5",
    "end_s=1e-9",
    "end_s=1e300",
    "end_s=inf",
    "rate_scale=1e-300",
    "rate_scale=1e300",
    "rate_scale=1e-9",
    "rate_scale=0.03",
    "rate_scale=0",
    "rate_scale=-1",
    "rate_scale=nan",
    "arrivals=20000",
    "arrivals=1",
];

const AZURE_OPTIONS: &[&str] = &[
    "loop",
    "spread=even",
    "spread=uniform",
    "function=func0",
    "function=func1",
    "function=func2",
    "function=f",
    "app=app0",
    "app=app1",
    "app=a",
    "first=0",
    "first=1",
    "first=2",
    "first=1440",
    "last=1",
    "last=2",
    "last=1440",
    "last=1441",
    "last=4294967295",
    "rate_scale=1e-300",
    "rate_scale=1e300",
    "rate_scale=60",
    "rate_scale=0",
    "rate_scale=nan",
    "arrivals=20000",
];

/// Every harness, in the order `all` runs them.
pub const HARNESSES: &[Harness] = &[
    Harness {
        name: "scenario",
        about: "Scenario::parse + resolve (reads the sandbox's traces and profiles)",
        format: Format::Toml,
        seeds: scenario_seeds,
        run: scenario,
        short_cases: 10_000,
        sandbox_values: true,
        options: &[],
    },
    Harness {
        name: "scenario-run",
        about: "parse + resolve + Simulation::new + a run cut at 30 requests / 20,000 events",
        format: Format::Toml,
        seeds: scenario_seeds,
        run: scenario_run,
        short_cases: 5_000,
        sandbox_values: true,
        options: &[],
    },
    Harness {
        name: "trace-csv",
        about: "parse_trace_csv (timestamp and token columns) + TraceSpec::replay, arrivals in order",
        format: Format::Csv,
        seeds: trace_seeds,
        run: trace_csv,
        short_cases: 50_000,
        sandbox_values: false,
        options: TRACE_OPTIONS,
    },
    Harness {
        name: "azure-csv",
        about: "Azure Functions 2019 day file: AzureFunctionsSpec::build, arrivals in order",
        format: Format::Csv,
        seeds: azure_seeds,
        run: azure_csv,
        short_cases: 10_000,
        sandbox_values: false,
        options: AZURE_OPTIONS,
    },
    Harness {
        name: "measured-profile",
        about: "MeasuredProfile::from_toml_str, TOML round trip, MeasuredTimes::add, costed plans",
        format: Format::Toml,
        seeds: measured_seeds,
        run: measured_profile,
        short_cases: 8_000,
        sandbox_values: false,
        options: &[],
    },
    Harness {
        name: "model-file",
        about: "model file (model::file::parse), to_model, write + parse round trip, costed plan",
        format: Format::Toml,
        seeds: model_file_seeds,
        run: model_file,
        short_cases: 5_000,
        sandbox_values: false,
        options: &[],
    },
    Harness {
        name: "onnx-import",
        about: "ONNX bytes: onnx::decode + import_model, costed plan, model file round trip",
        format: Format::Bytes,
        seeds: onnx_seeds,
        run: onnx_import,
        short_cases: 10_000,
        sandbox_values: false,
        options: &[],
    },
    Harness {
        name: "device-profile",
        about: "DeviceProfile::from_toml_str + an AlexNet costed on it",
        format: Format::Toml,
        seeds: device_seeds,
        run: device_profile,
        short_cases: 20_000,
        sandbox_values: false,
        options: &[],
    },
    Harness {
        name: "runtime-profile",
        about: "RuntimeProfile::from_toml_str + an AlexNet costed under it",
        format: Format::Toml,
        seeds: runtime_seeds,
        run: runtime_profile,
        short_cases: 20_000,
        sandbox_values: false,
        options: &[],
    },
];

/// The harness called `name`.
pub fn find(name: &str) -> Option<&'static Harness> {
    HARNESSES.iter().find(|h| h.name == name)
}

/// `Accepted` for `Ok`, the error's message for `Err`.
pub fn verdict<T, E: std::fmt::Display>(r: Result<T, E>) -> Verdict {
    match r {
        Ok(_) => Verdict::Accepted,
        Err(e) => Verdict::Rejected(e.to_string()),
    }
}

fn read_all(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// Every scenario (and sweep) file of the repository.
fn scenario_seeds(env: &Env) -> Vec<Vec<u8>> {
    let mut seeds = read_all(&files_under(&env.repo.join("scenarios"), "toml"));
    seeds.push(
        b"[device]\nprofile = \"xavier-agx\"\n[app]\nname = \"alexnet\"\n[slo]\nmultiplier = 2.0\n\
          [workload]\nkind = \"poisson\"\nrate_per_s = 10.0\n[run]\nmax_requests = 10\n"
            .to_vec(),
    );
    seeds
}

/// Whether every string value of the TOML `text` that could be a path stays in the sandbox;
/// `None` when the text is not a TOML table.
fn paths_stay_in_sandbox(env: &Env, text: &str) -> Option<bool> {
    fn walk(env: &Env, v: &toml::Value) -> bool {
        match v {
            toml::Value::String(s) => env.contains(s),
            toml::Value::Array(a) => a.iter().all(|x| walk(env, x)),
            toml::Value::Table(t) => t.values().all(|x| walk(env, x)),
            _ => true,
        }
    }
    let table: toml::Table = toml::from_str(text).ok()?;
    Some(table.values().all(|v| walk(env, v)))
}

/// Parses and resolves a scenario whose paths stay in the sandbox.
fn parse_and_resolve(env: &Env, input: &[u8]) -> Result<infscaler_sim::ResolvedScenario, Verdict> {
    let text = String::from_utf8_lossy(input);
    let scenario = Scenario::parse(&text, "fuzz.toml", &env.scenario_dir)
        .map_err(|e| Verdict::Rejected(e.to_string()))?;
    if paths_stay_in_sandbox(env, &text) != Some(true) {
        return Err(Verdict::Skipped);
    }
    scenario
        .resolve()
        .map_err(|e| Verdict::Rejected(e.to_string()))
}

fn scenario(env: &Env, input: &[u8]) -> Verdict {
    match parse_and_resolve(env, input) {
        Ok(_) => Verdict::Accepted,
        Err(v) => v,
    }
}

/// Requests a fuzzed run admits at most.
const RUN_MAX_REQUESTS: u64 = 30;
/// Events after which a fuzzed run is cancelled (the observer sees the run every 4,096 events).
const RUN_MAX_EVENTS: u64 = 20_000;

fn scenario_run(env: &Env, input: &[u8]) -> Verdict {
    let mut resolved = match parse_and_resolve(env, input) {
        Ok(r) => r,
        Err(v) => return v,
    };
    let run = &mut resolved.scenario.run;
    run.max_requests = Some(run.max_requests.unwrap_or(u64::MAX).min(RUN_MAX_REQUESTS));
    let sim = match Simulation::new(&resolved, None) {
        Ok(sim) => sim,
        Err(e) => {
            // `resolve` accepted it: the run must be able to start.
            panic!("resolve() accepted the scenario but Simulation::new refused it: {e}");
        }
    };
    let mut observe = |p: &infscaler_sim::RunProgress| {
        if p.events > RUN_MAX_EVENTS {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    if let Ok(report) = sim.run_observed(&mut observe) {
        let s = &report.summary;
        assert!(
            s.completed_within_slo <= s.completed,
            "more requests within the SLO ({}) than completed ({})",
            s.completed_within_slo,
            s.completed
        );
        if let Some(a) = s.slo_attainment {
            assert!(
                (0.0..=1.0).contains(&a),
                "SLO attainment {a} is not a fraction"
            );
        }
    }
    Verdict::Accepted
}

// ---------------------------------------------------------------------------------------------
// The options line

/// Reader options carried by the first line of an input, `# fuzz: key=value key flag …`
/// (whitespace-separated; a value cannot hold spaces). Keys a harness does not know, and
/// values that do not parse, are ignored.
#[derive(Debug, Default)]
pub struct Options<'a> {
    pairs: Vec<(&'a str, Option<&'a str>)>,
}

pub use crate::mutate::OPTIONS_PREFIX;

impl<'a> Options<'a> {
    /// The options of `text` and the text after the options line (all of it when there is none).
    pub fn split(text: &'a str) -> (Options<'a>, &'a str) {
        let Some(rest) = text.strip_prefix(OPTIONS_PREFIX) else {
            return (Options::default(), text);
        };
        let (line, body) = rest.split_once('\n').unwrap_or((rest, ""));
        let pairs = line
            .split_whitespace()
            .map(|w| match w.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (w, None),
            })
            .collect();
        (Options { pairs }, body)
    }

    /// The value of `key` (the last one given).
    pub fn str(&self, key: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| *v)
    }

    /// Whether `key` is given (as a flag or with a value).
    pub fn flag(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| *k == key)
    }

    /// The value of `key` parsed as `T`.
    pub fn get<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.str(key)?.parse().ok()
    }
}

/// Arrivals a harness draws from a replay at most.
const MAX_ARRIVALS: usize = 20_000;

/// Draws up to `n` arrivals from `process`, checking that times never decrease.
fn drain_arrivals(process: &mut dyn ArrivalProcess, n: usize, with_tokens: bool) {
    let mut last = None;
    for i in 0..n {
        let Some(t) = process.next_arrival() else {
            break;
        };
        if let Some(prev) = last {
            assert!(
                t >= prev,
                "arrival {i} at {t:?} comes before arrival {} at {prev:?}",
                i - 1
            );
        }
        if with_tokens {
            assert!(
                process.last_request().tokens.is_some(),
                "arrival {i} has no size"
            );
        }
        last = Some(t);
    }
}

// ---------------------------------------------------------------------------------------------
// Timestamp traces

fn trace_seeds(env: &Env) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let mut csvs = files_with_extension(&env.repo.join("scenarios/traces"), "csv");
    csvs.extend(files_with_extension(
        &env.repo.join("../shared/traces"),
        "csv",
    ));
    let mut texts: Vec<String> = csvs
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    texts.sort();
    texts.dedup();
    for text in &texts {
        let lines: Vec<&str> = text.lines().collect();
        let head = |n: usize| lines[..n.min(lines.len())].join("\n") + "\n";
        // The header and the first rows, as published (CRLF in the real file).
        let first: String = text.split_inclusive('\n').take(40).collect();
        seeds.push(first.into_bytes());
        seeds.push(format!("# fuzz: tokens start_s=0 end_s=5 loop\n{}", head(60)).into_bytes());
        seeds.push(
            format!(
                "# fuzz: column=TIMESTAMP rate_scale=2.5 arrivals=5000\n{}",
                crate::env::thin_csv(text, 80)
            )
            .into_bytes(),
        );
        seeds.push(
            format!(
                "# fuzz: context=ContextTokens generated=GeneratedTokens start_s=600 end_s=1200 rate_scale=0.03 loop\n{}",
                crate::env::thin_csv(text, 200)
            )
            .into_bytes(),
        );
    }
    for s in [
        "0\n0.5\n1.25\n3\n",
        "# fuzz: time_unit=ms loop\nt_ms\n0\n1500\n1500\n2000\n",
        "# fuzz: column=when time_unit=us\nid,when\n1,10\n2,5\n3,7\n",
        "# fuzz: time_unit=ns rate_scale=1e-9\n100\n200\n300\n",
        "\u{feff}\"TIMESTAMP\",\"ContextTokens\",\"GeneratedTokens\"\r\n\"2023-11-16T18:15:46Z\",\"1\",\"2\"\r\n# comment\r\n\r\n\"2023-11-16T18:15:47.5Z\",\"3\",\"4\"\r\n",
        "# fuzz: tokens end_s=1 loop arrivals=100\nTIMESTAMP,ContextTokens,GeneratedTokens\n2024-02-29 23:59:59.999999999,5,0\n2024-03-01 00:00:00,7,1\n",
        "# fuzz: time_unit=datetime\nTIMESTAMP\n1970-01-01 00:00:00\n2262-04-11 23:47:16\n",
        "1e3\n-2.5e-3\n+7\n.5\n5.\n",
    ] {
        seeds.push(s.as_bytes().to_vec());
    }
    seeds
}

fn time_unit(name: &str) -> Option<TimeUnit> {
    Some(match name {
        "datetime" => TimeUnit::Datetime,
        "s" => TimeUnit::Seconds,
        "ms" => TimeUnit::Milliseconds,
        "us" => TimeUnit::Microseconds,
        "ns" => TimeUnit::Nanoseconds,
        _ => return None,
    })
}

/// Options: `column=NAME`, `time_unit=s|ms|us|ns|datetime`, `tokens` (the default token
/// columns) or `context=NAME` / `generated=NAME`, `slo=NAME`, `delay=NAME`, `start_s=`, `end_s=`, `rate_scale=` (f64),
/// `loop`, `arrivals=N` (drawn from the replay; default 1,000).
fn trace_csv(_env: &Env, input: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(input);
    let (opts, _) = Options::split(&text);
    let context = opts.str("context");
    let generated = opts.str("generated");
    let tokens =
        (opts.flag("tokens") || context.is_some() || generated.is_some()).then(|| TokenColumns {
            context: context.unwrap_or("ContextTokens"),
            generated: generated.unwrap_or("GeneratedTokens"),
        });
    let path = Path::new("fuzz.csv");
    let column = opts.str("column");
    let unit = opts.str("time_unit").and_then(time_unit);
    // The whole text: the options line is a comment to the reader.
    let slo = opts.str("slo");
    let delay = opts.str("delay");
    let columns = RequestColumns {
        tokens,
        objective: slo,
        delay,
    };
    let trace = match parse_trace_csv(&text, path, column, unit, columns) {
        Ok(t) => t,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    assert_eq!(trace.times_ns.first(), Some(&0), "times do not start at 0");
    assert!(trace.times_ns.is_sorted(), "times are not sorted");
    if let Some(sizes) = &trace.tokens {
        assert_eq!(sizes.len(), trace.times_ns.len(), "one size per arrival");
    }
    for values in [&trace.objectives_ns, &trace.delays_ns]
        .into_iter()
        .flatten()
    {
        assert_eq!(values.len(), trace.times_ns.len(), "one value per arrival");
    }
    if let Some(objectives) = &trace.objectives_ns {
        assert!(objectives.iter().all(|&ns| ns > 0), "an objective of 0");
    }
    let spec = TraceSpec {
        path: PathBuf::from("fuzz.csv"),
        column: column.map(str::to_string),
        time_unit: unit,
        start_s: opts.get("start_s"),
        end_s: opts.get("end_s"),
        rate_scale: opts.get("rate_scale"),
        loop_trace: opts.flag("loop"),
        context_column: context.map(str::to_string),
        generated_column: generated.map(str::to_string),
        slo_column: slo.map(str::to_string),
        delay_column: delay.map(str::to_string),
    };
    let mut replay = match spec.replay(&trace, path) {
        Ok(r) => r,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    let n = opts.get("arrivals").unwrap_or(1_000).min(MAX_ARRIVALS);
    drain_arrivals(&mut replay, n, trace.tokens.is_some());
    Verdict::Accepted
}

// ---------------------------------------------------------------------------------------------
// Azure Functions 2019 day files

fn azure_seeds(_env: &Env) -> Vec<Vec<u8>> {
    vec![
        format!("# fuzz: loop arrivals=3000\n{}", functions_day(10, 4)).into_bytes(),
        format!(
            "# fuzz: function=func1 first=2 last=3 spread=even\n{}",
            functions_day(3, 3)
        )
        .into_bytes(),
        format!(
            "# fuzz: function=func0 app=app0 rate_scale=60 loop\n{}",
            functions_day(30, 5).replace('\n', "\r\n")
        )
        .into_bytes(),
        format!(
            "# fuzz: first=1 last=1440 rate_scale=0.001\n{}",
            functions_day(1440, 3)
        )
        .into_bytes(),
        b"HashOwner,HashApp,HashFunction,Trigger,1,2\n\
          o,a,f,http,1,2\no,b,f,http,3,0\n"
            .to_vec(),
        format!("\u{feff}{}", functions_day(5, 2)).into_bytes(),
    ]
}

/// Options: `function=`, `app=`, `first=`/`last=` (day_minutes), `rate_scale=`, `spread=even`,
/// `loop`, `arrivals=N` (default 1,000). The options line is not part of the file.
fn azure_csv(env: &Env, input: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(input);
    let (opts, _) = Options::split(&text);
    // The file without the options line, byte for byte.
    let body: &[u8] = if input.starts_with(OPTIONS_PREFIX.as_bytes()) {
        input
            .iter()
            .position(|&b| b == b'\n')
            .map_or(&[][..], |i| &input[i + 1..])
    } else {
        input
    };
    let path = scratch_file(env, "day.csv");
    if std::fs::write(&path, body).is_err() {
        return Verdict::Skipped;
    }
    let day_minutes = match (opts.get::<u32>("first"), opts.get::<u32>("last")) {
        (Some(a), Some(b)) => Some((a, b)),
        (Some(a), None) => Some((a, a)),
        (None, Some(b)) => Some((1, b)),
        (None, None) => None,
    };
    let spec = AzureFunctionsSpec {
        path: path.clone(),
        function: opts.str("function").map(str::to_string),
        app: opts.str("app").map(str::to_string),
        day_minutes,
        rate_scale: opts.get("rate_scale"),
        spread: if opts.str("spread") == Some("even") {
            Spread::Even
        } else {
            Spread::Uniform
        },
        loop_trace: opts.flag("loop"),
    };
    let built = spec.build(Path::new(""), RunSeed(1).stream("arrivals"));
    let mut replay = match built {
        Ok(r) => r,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    let n = opts.get("arrivals").unwrap_or(1_000).min(MAX_ARRIVALS);
    drain_arrivals(&mut replay, n, false);
    Verdict::Accepted
}

/// A per-thread file in the scratch directory (outside the sandbox).
fn scratch_file(env: &Env, name: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    env.scratch.join(format!("{thread}-{name}"))
}

// ---------------------------------------------------------------------------------------------
// Profiles

fn measured_seeds(env: &Env) -> Vec<Vec<u8>> {
    read_all(&files_with_extension(
        &env.repo.join("hwprofiles/measured"),
        "toml",
    ))
}

/// Zoo models built so far: (name, sequence length) → the model, or `None` when the zoo has none.
type ModelCache = std::sync::Mutex<Vec<((String, Option<usize>), Option<Model>)>>;

/// The zoo model `name` at `seq_len`, built once per process (the harnesses ask for a handful).
fn zoo_model(name: &str, seq_len: Option<usize>) -> Option<Model> {
    static CACHE: OnceLock<ModelCache> = OnceLock::new();
    if seq_len.is_some_and(|s| s == 0 || s > 4096) {
        return None;
    }
    let key = (name.to_string(), seq_len);
    let cache = CACHE.get_or_init(Default::default);
    if let Some((_, m)) = cache.lock().ok()?.iter().find(|(k, _)| *k == key) {
        return m.clone();
    }
    let mut opts = ZooOptions::default();
    if let Some(s) = seq_len {
        opts.seq_len = s;
    }
    let model = zoo::build(name, &opts).ok();
    let mut guard = cache.lock().ok()?;
    if guard.len() < 64 {
        guard.push((key, model.clone()));
    }
    model
}

fn measured_profile(_env: &Env, input: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(input);
    let profile = match MeasuredProfile::from_toml_str(&text, "fuzz.toml") {
        Ok(p) => p,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    match MeasuredProfile::from_toml_str(&profile.to_toml_string(), "round-trip.toml") {
        Ok(again) => assert_eq!(
            again, profile,
            "the profile changes through a TOML round trip"
        ),
        Err(e) => panic!("the written profile does not parse back: {e}"),
    }

    let mut models: Vec<Model> = Vec::new();
    for m in profile.models.iter().take(4) {
        if let Some(model) = zoo_model(&m.name, m.seq_len) {
            models.push(model);
        }
    }
    let runtime = RuntimeProfile::tensorrt();
    for name in ["xavier-agx", "orin-agx"] {
        let device = DeviceProfile::builtin(name).expect("a built-in device");
        let mut times = MeasuredTimes::default();
        let accel = match times.add(&profile, "fuzz.toml", &device, &models) {
            Ok(a) => a,
            Err((field, message)) => {
                return Verdict::Rejected(format!("field `{field}`: {message}"));
            }
        };
        let target = Target::new(&device, &runtime).with_measured(Some(&times));
        isolated_latency(&models, target);
        let cores = device.accelerators[accel].cores;
        for model in &models {
            let ops = &model.operators;
            for batch in [1, 2, 3, 8, 1000] {
                for c in [1, cores] {
                    cost::plan(ops, batch, accel, c, target);
                }
                let half = ops.len() / 2;
                cost::plan(&ops[..half], batch, accel, cores, target);
                cost::plan(&ops[half..], batch, accel, cores, target);
            }
        }
        if let Some(idle) = times.after_idle() {
            let target = Target::new(&device, &runtime).with_measured(Some(&idle));
            isolated_latency(&models, target);
        }
    }
    Verdict::Accepted
}

// ---------------------------------------------------------------------------------------------
// Model files and ONNX models

/// Small networks that use every layer kind the ONNX writer supports (so their ONNX files are a
/// few kilobytes): the seeds of `onnx-import`, and of `model-file` beside the zoo's.
fn tiny_networks() -> Vec<Network> {
    let mut b = NetworkBuilder::new("tiny_cnn", &[3, 16, 16]);
    let conv = b.layer(
        "conv1",
        Layer::Conv2d {
            in_ch: 3,
            out_ch: 8,
            kernel: [3, 3],
            stride: [1, 1],
            pads: [1, 1, 1, 1],
            groups: 1,
            bias: true,
        },
    );
    b.layer("bn1", Layer::BatchNorm { channels: 8 });
    b.layer(
        "relu1",
        Layer::Activation {
            function: ActivationFn::Relu,
        },
    );
    b.add("skip", conv);
    let pooled = b.layer(
        "pool1",
        Layer::Pool {
            mode: PoolMode::Max,
            kernel: [2, 2],
            stride: [2, 2],
            pads: [0, 0, 0, 0],
            ceil_mode: false,
        },
    );
    b.layer(
        "norm1",
        Layer::Lrn {
            size: 5,
            alpha: 1e-4,
            beta: 0.75,
            bias: 1.0,
        },
    );
    b.layer(
        "dw",
        Layer::Conv2d {
            in_ch: 8,
            out_ch: 8,
            kernel: [3, 3],
            stride: [1, 1],
            pads: [1, 1, 1, 1],
            groups: 8,
            bias: false,
        },
    );
    let cat = b.concat("cat", 0, &[pooled, b.cursor()]);
    b.set_cursor(cat);
    b.layer("up", Layer::Resize { scale: 2 });
    b.layer(
        "deconv",
        Layer::ConvTranspose2d {
            in_ch: 16,
            out_ch: 4,
            kernel: [2, 2],
            stride: [2, 2],
            pads: [0, 0, 0, 0],
            output_padding: [0, 0],
            groups: 1,
            bias: true,
        },
    );
    b.layer(
        "act",
        Layer::Activation {
            function: ActivationFn::LeakyRelu,
        },
    );
    b.layer(
        "gap",
        Layer::GlobalPool {
            mode: PoolMode::Avg,
        },
    );
    b.layer("flat", Layer::Flatten);
    b.linear("fc", 10, true);
    b.layer("drop", Layer::Dropout { ratio: 0.5 });
    b.layer("prob", Layer::Softmax);
    let cnn = b.finish();

    let mut b = NetworkBuilder::new("tiny_seq", &[8, 16]);
    let x = b.layer_norm("ln");
    b.layer(
        "tanh",
        Layer::Activation {
            function: ActivationFn::Tanh,
        },
    );
    let sq = b.layer_with("sq", Layer::Mul, &[b.cursor(), x]);
    b.set_cursor(sq);
    b.layer("t", Layer::Transpose { perm: vec![1, 0] });
    b.layer("r", Layer::Reshape { shape: vec![8, 16] });
    b.layer(
        "s",
        Layer::Slice {
            axis: 0,
            start: 2,
            end: 6,
        },
    );
    b.layer(
        "sig",
        Layer::Activation {
            function: ActivationFn::Sigmoid,
        },
    );
    b.layer("p", Layer::Softmax);
    let seq = b.finish();

    // The layers ONNX writes as node groups: embeddings on token ids, linear with a bias on a
    // sequence, GELU, SiLU, Q·Kᵀ, an LSTM and a tied LM head.
    let mut b = NetworkBuilder::new("tiny_lm", &[6]);
    let tokens = b.embedding("tok", 20, 8, EmbeddingIds::Tokens);
    b.set_cursor(TensorRef::Input);
    let positions = b.embedding("pos", 16, 8, EmbeddingIds::Positions);
    b.set_cursor(tokens);
    let x = b.add("embed", positions);
    let q = b.linear("q", 8, true);
    b.act("gelu", ActivationFn::Gelu);
    b.set_cursor(x);
    let k = b.act("silu", ActivationFn::Silu);
    let scores = b.matmul("scores", q, k, true);
    b.set_cursor(scores);
    let probs = b.softmax("probs");
    b.matmul("context", probs, x, false);
    b.lstm("lstm", 4, true);
    b.layer("head", Layer::Unembedding { vocab: 20, dim: 8 });
    vec![cnn, seq, b.finish()]
}

fn model_file_seeds(_env: &Env) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = tiny_networks()
        .iter()
        .map(|n| file::write(n).into_bytes())
        .collect();
    for name in zoo::names() {
        if let Ok(net) = zoo::build_network(name, &ZooOptions::default()) {
            let text = file::write(&net);
            // Large files parse slowly and mutations rarely reach their middle.
            if text.len() <= 48 * 1024 {
                seeds.push(text.into_bytes());
            }
        }
    }
    seeds
}

/// Costs `model` on the built-in Xavier AGX: its isolated latency and the plan of each half on
/// every engine at batch 1 and 4.
fn cost_on_xavier(model: &Model) {
    let device = DeviceProfile::builtin("xavier-agx").expect("a built-in device");
    let runtime = RuntimeProfile::tensorrt();
    let target = Target::new(&device, &runtime);
    isolated_latency(std::slice::from_ref(model), target);
    let ops = &model.operators;
    let half = ops.len() / 2;
    for (a, accel) in device.accelerators.iter().enumerate() {
        for batch in [1, 4] {
            cost::plan(&ops[..half], batch, a, accel.cores, target);
            cost::plan(&ops[half..], batch, a, accel.cores, target);
        }
    }
}

fn model_file(_env: &Env, input: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(input);
    let net = match file::parse(&text, "fuzz.toml") {
        Ok(n) => n,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    let model = net.to_model();
    match file::parse(&file::write(&net), "round-trip.toml") {
        Ok(again) => assert_eq!(again, net, "the model changes through write + parse"),
        Err(e) => panic!("the written model file does not parse back: {e}"),
    }
    cost_on_xavier(&model);
    Verdict::Accepted
}

/// Real exporter output (`scripts/pytorch-fixtures.py`): shape computations, LSTM layouts, GELU
/// as `Erf` and as `Tanh`, a folded tied head.
const PYTORCH_EXPORTS: [&[u8]; 3] = [
    include_bytes!("../../hil/tests/data/pytorch/recurrent.onnx"),
    include_bytes!("../../hil/tests/data/pytorch/tiny_lm.onnx"),
    include_bytes!("../../hil/tests/data/pytorch/tanh_gelu.onnx"),
];

fn onnx_seeds(_env: &Env) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = tiny_networks()
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let opts = BuildOptions { seed: i as u64 };
            let m = model_from_network(n, &opts)
                .unwrap_or_else(|e| panic!("the tiny networks are all writable: {e}"));
            onnx::encode(&m)
        })
        .collect();
    seeds.extend(PYTORCH_EXPORTS.iter().map(|b| b.to_vec()));
    seeds
}

fn onnx_import(_env: &Env, input: &[u8]) -> Verdict {
    let model = match onnx::decode(input) {
        Ok(m) => m,
        Err(e) => return Verdict::Rejected(format!("not an ONNX model: {e}")),
    };
    let imported = match onnx::import::import_model(&model, "fuzz.onnx", "fuzz") {
        Ok(i) => i,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    cost_on_xavier(&imported.to_model());
    // `infscaler models import` writes the imported network as a model file: it must read back.
    let net = &imported.network;
    match file::parse(&file::write(net), "imported.toml") {
        Ok(again) => assert_eq!(
            &again, net,
            "the imported model changes through its model file"
        ),
        Err(e) => panic!("the imported model's model file does not parse back: {e}"),
    }
    Verdict::Accepted
}

fn device_seeds(env: &Env) -> Vec<Vec<u8>> {
    let mut seeds = read_all(&files_with_extension(&env.repo.join("hwprofiles"), "toml"));
    for name in DeviceProfile::builtin_names() {
        if let Some(text) = DeviceProfile::builtin_text(name) {
            seeds.push(text.as_bytes().to_vec());
        }
    }
    seeds
}

fn alexnet() -> Vec<Model> {
    zoo_model("alexnet", None).into_iter().collect()
}

fn device_profile(_env: &Env, input: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(input);
    let device = match DeviceProfile::from_toml_str(&text, "fuzz.toml") {
        Ok(d) => d,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    let models = alexnet();
    let runtime = RuntimeProfile::tensorrt();
    let target = Target::new(&device, &runtime);
    isolated_latency(&models, target);
    for (a, accel) in device.accelerators.iter().enumerate().take(8) {
        for batch in [1, 4] {
            cost::plan(&models[0].operators, batch, a, accel.cores.min(64), target);
        }
    }
    Verdict::Accepted
}

fn runtime_seeds(env: &Env) -> Vec<Vec<u8>> {
    let mut seeds = read_all(&files_with_extension(
        &env.repo.join("hwprofiles/runtimes"),
        "toml",
    ));
    for name in RuntimeProfile::builtin_names() {
        if let Some(text) = RuntimeProfile::builtin_text(name) {
            seeds.push(text.as_bytes().to_vec());
        }
    }
    seeds
}

fn runtime_profile(_env: &Env, input: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(input);
    let runtime = match RuntimeProfile::from_toml_str(&text, "fuzz.toml") {
        Ok(r) => r,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    let models = alexnet();
    for name in ["xavier-agx", "xavier-nx"] {
        let device = DeviceProfile::builtin(name).expect("a built-in device");
        let target = Target::new(&device, &runtime);
        isolated_latency(&models, target);
        if let Some(gpu) = device.gpu() {
            cost::plan(&models[0].operators, 8, gpu, 1, target);
        }
    }
    Verdict::Accepted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_line() {
        let (o, body) = Options::split("# fuzz: a=1 loop b=x=y\nrest\n");
        assert_eq!(o.get::<u32>("a"), Some(1));
        assert!(o.flag("loop"));
        assert_eq!(o.str("b"), Some("x=y"));
        assert_eq!(body, "rest\n");
        let (o, body) = Options::split("no options\n");
        assert!(!o.flag("loop"));
        assert_eq!(body, "no options\n");
    }
}
