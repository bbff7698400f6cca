//! Requests of different sizes: a request's prompt and generated tokens (fixed, or per request
//! from an LLM trace) drive the work of the transformer stages — the prefill over the prompt,
//! then one decode step per further generated token — and each request is judged against its
//! own objective (the multiplier × the isolated latency of its size).

use std::path::{Path, PathBuf};

use infscaler_sim::{Report, Scenario, ScenarioError, Simulation};

/// GPT-2 medium, whole, on one GPU instance of the Xavier AGX (batches of up to `max_batch`).
fn gpt2(app: &str, slo: &str, workload: &str, max_batch: u32) -> String {
    format!(
        r#"
seed = 3
[device]
profile = "xavier-agx"
[app]
name = "gpt2_medium"
{app}
[slo]
{slo}
[workload]
{workload}
[run]
max_requests = 40
warmup = "0s"
drain = true
[policy]
kind = "static"
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ gpu = 1 }}
max_batch = {max_batch}
batch_timeout = "1ms"
"#
    )
}

/// One request every 100 s: each runs alone.
const SPARSE: &str = "kind = \"constant\"\nrate_per_s = 0.01";

fn resolve(text: &str, dir: &Path) -> Result<infscaler_sim::ResolvedScenario, ScenarioError> {
    Scenario::parse(text, "test.toml", dir)?.resolve()
}

fn run(text: &str, dir: &Path) -> Report {
    let resolved = resolve(text, dir).expect("valid");
    Simulation::new(&resolved, None).expect("sets up").run()
}

fn mean_ms(r: &Report) -> f64 {
    r.summary.latency_ms.as_ref().expect("completions").mean
}

/// A temporary directory with `trace.csv` holding `rows` (`seconds,context,generated`).
fn dir_with_trace(name: &str, rows: &[(f64, u32, u32)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infscaler-sizes-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut text = String::from("t,ContextTokens,GeneratedTokens\n");
    for (t, c, g) in rows {
        text.push_str(&format!("{t},{c},{g}\n"));
    }
    std::fs::write(dir.join("trace.csv"), text).expect("trace written");
    dir
}

#[test]
fn each_generated_token_after_the_first_costs_one_decode_step() {
    let dir = std::env::temp_dir();
    let latency = |generated: u32| {
        let app = format!("seq_len = 64\ngenerated_tokens = {generated}");
        let r = run(&gpt2(&app, "multiplier = 2.0", SPARSE, 1), &dir);
        assert_eq!(r.summary.completed, 40);
        // Alone on the device, a request takes its isolated latency (plus its input's hand-in).
        let iso = r.isolated_latency_ms;
        assert!(
            (mean_ms(&r) - iso).abs() / iso < 0.02,
            "generated {generated}: {} ms against isolated {iso} ms",
            mean_ms(&r)
        );
        mean_ms(&r)
    };
    let (one, thirty_three, sixty_five) = (latency(1), latency(33), latency(65));
    assert!(
        thirty_three > 2.0 * one,
        "32 decode steps: {one} → {thirty_three} ms"
    );
    // 32 more steps each time; the later ones read a longer cache, so cost no less.
    let first = thirty_three - one;
    let second = sixty_five - thirty_three;
    assert!(
        second >= first && second < 1.2 * first,
        "32 steps after 64..96 positions: {first} ms, after 96..128: {second} ms"
    );
    // Without generated tokens, the app is the one-pass model of before.
    let plain = run(&gpt2("seq_len = 64", "multiplier = 2.0", SPARSE, 1), &dir);
    assert!(
        mean_ms(&plain) <= one,
        "{} ms without a cache, {one} ms with",
        mean_ms(&plain)
    );
}

#[test]
fn a_trace_sizes_every_request_and_each_gets_its_own_objective() {
    // Alternating short (32 tokens, 2 generated) and long (512, 200) requests, 100 s apart.
    let rows: Vec<(f64, u32, u32)> = (0..20)
        .map(|i| {
            let (c, g) = if i % 2 == 0 { (32, 2) } else { (512, 200) };
            (100.0 * i as f64, c, g)
        })
        .collect();
    let dir = dir_with_trace("alternating", &rows);
    let trace = "kind = \"trace\"\npath = \"trace.csv\"";
    let relative = run(
        &gpt2("tokens = \"trace\"", "multiplier = 1.5", trace, 1),
        &dir,
    );
    assert_eq!(relative.summary.completed, 20);
    // Every request, alone, is well within 1.5 × its own isolated latency...
    assert_eq!(relative.summary.slo_attainment, Some(1.0));
    let lat = relative.summary.latency_ms.expect("completions");
    // ... and the long ones take far longer than the short ones.
    assert!(
        lat.max > 20.0 * lat.p50.min(lat.mean / 2.0),
        "short and long requests: {lat:?}"
    );
    // An absolute objective between the two sizes is met by the short half only.
    let between = format!("latency = \"{:.0}ms\"", lat.max / 2.0);
    let absolute = run(&gpt2("tokens = \"trace\"", &between, trace, 1), &dir);
    assert_eq!(absolute.summary.slo_attainment, Some(0.5));
    // Same scenario, same seed: the same report.
    let again = run(
        &gpt2("tokens = \"trace\"", "multiplier = 1.5", trace, 1),
        &dir,
    );
    assert_eq!(
        serde_json::to_string(&relative).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
}

#[test]
fn a_batch_runs_padded_to_its_longest_prompt_and_generation() {
    // Pairs of requests arriving together: a short and a long one in one batch of two take as
    // long as the long one, while two short ones take about as long as one short one.
    let pair = |c1, g1, c2, g2| -> Vec<(f64, u32, u32)> {
        (0..10)
            .flat_map(|i| [(100.0 * i as f64, c1, g1), (100.0 * i as f64, c2, g2)])
            .collect()
    };
    let trace = "kind = \"trace\"\npath = \"trace.csv\"";
    let run_pairs = |name, rows: Vec<(f64, u32, u32)>| {
        let dir = dir_with_trace(name, &rows);
        let r = run(
            &gpt2("tokens = \"trace\"", "multiplier = 2.0", trace, 2),
            &dir,
        );
        assert_eq!(r.summary.completed, 20);
        assert_eq!(r.summary.stages[0].mean_batch_size, Some(2.0));
        r
    };
    let short = run_pairs("short", pair(32, 8, 32, 8));
    let mixed = run_pairs("mixed", pair(32, 8, 480, 120));
    let long = run_pairs("long", pair(480, 120, 480, 120));
    let max = |r: &Report| r.summary.latency_ms.as_ref().unwrap().max;
    // In the mixed batches the short request waits for the long one.
    assert!(
        (mean_ms(&mixed) - mean_ms(&long)).abs() / mean_ms(&long) < 0.01,
        "mixed {} ms, long {} ms",
        mean_ms(&mixed),
        mean_ms(&long)
    );
    assert!(max(&short) * 5.0 < max(&mixed));
    // Conservation: every arrival completed.
    for r in [&short, &mixed, &long] {
        let s = &r.summary;
        assert_eq!(s.arrivals, s.completed + s.dropped + s.in_flight);
    }
}

#[test]
fn sized_requests_are_refused_where_they_cannot_apply_naming_the_field() {
    let dir = dir_with_trace("errors", &[(0.0, 10, 5), (1.0, 20, 5)]);
    let trace = "kind = \"trace\"\npath = \"trace.csv\"";
    let field_of = |app: &str, workload: &str| {
        resolve(&gpt2(app, "multiplier = 2.0", workload, 1), &dir)
            .expect_err("refused")
            .field
    };
    assert_eq!(field_of("tokens = \"trace\"", SPARSE), "app.tokens");
    assert_eq!(
        field_of("tokens = \"trace\"\nseq_len = 64", trace),
        "app.seq_len"
    );
    assert_eq!(
        field_of("tokens = \"trace\"\ngenerated_tokens = 4", trace),
        "app.generated_tokens"
    );
    assert_eq!(
        field_of("tokens = \"trace\"\ntoken_bucket = 0", trace),
        "app.token_bucket"
    );
    assert_eq!(field_of("token_bucket = 16", SPARSE), "app.token_bucket");
    // BERT reads a prompt but generates nothing; ResNet-50 reads no tokens at all.
    let of_model = |model: &str, app: &str, workload: &str| {
        let text = gpt2(app, "multiplier = 2.0", workload, 1)
            .replace("name = \"gpt2_medium\"", &format!("name = \"{model}\""));
        resolve(&text, &dir).err().map(|e| e.field)
    };
    assert_eq!(
        of_model("bert_base", "generated_tokens = 8", SPARSE).as_deref(),
        Some("app.generated_tokens")
    );
    assert_eq!(of_model("bert_base", "tokens = \"trace\"", trace), None);
    assert_eq!(
        of_model("resnet50", "tokens = \"trace\"", trace).as_deref(),
        Some("app.tokens")
    );
    assert_eq!(
        field_of("", &format!("{trace}\ncontext_column = \"ContextTokens\"")),
        "workload.context_column"
    );
    let err = resolve(
        &gpt2(
            "tokens = \"trace\"",
            "multiplier = 2.0",
            &format!("{trace}\ngenerated_column = \"Output\""),
            1,
        ),
        &dir,
    )
    .expect_err("no such column");
    assert_eq!(err.field, "workload.generated_column");
    assert!(
        err.message.contains("ContextTokens, GeneratedTokens"),
        "names the columns there are: {}",
        err.message
    );
}
