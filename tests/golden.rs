//! Golden outputs: a fixed set of scenarios runs through the `infscaler` binary and its JSON
//! report is compared byte for byte with a committed file under `tests/golden/`.
//!
//! Any change of the simulator's behaviour shows here as a diff. When the change is intended,
//! rerun with `INFSCALER_BLESS=1` (`INFSCALER_BLESS=1 cargo nextest run --test golden`, or
//! `scripts/bless.sh`), which rewrites the golden files, and commit them with the change so
//! that the review sees what moved. `reproduce paper --quick` has its own golden files, checked
//! in `tests/reproduce.rs`.

mod common;

use std::path::Path;
use std::process::Command;

use common::check_golden;

/// The scenarios, chosen to cover every policy, every transport, both routings, a measured
/// profile, a trace replay and interference. (name of the golden file, scenario path from the repository root)
const SCENARIOS: &[(&str, &str)] = &[
    // ODIN: repartitioning at run time under interference on one CPU group.
    (
        "odin-vgg16-server",
        "scenarios/examples/odin-vgg16-server.toml",
    ),
    // Shisha: a design-space search run online, each configuration a repartitioning.
    (
        "shisha-resnet50-xavier",
        "scenarios/examples/shisha-resnet50-xavier.toml",
    ),
    // Pipe-Search with moldable CPU stages: core splits searched with the cuts.
    (
        "pipe-search-moldable-server",
        "scenarios/examples/pipe-search-moldable-server.toml",
    ),
    // Sponge: in-place vertical scaling to per-request objectives, EDF queues.
    (
        "sponge-mobilenet-xavier",
        "scenarios/examples/sponge-mobilenet-xavier.toml",
    ),
    // Proteus: a ResNet variant per engine and the split of a bursty load among them.
    (
        "proteus-resnet-xavier",
        "scenarios/examples/proteus-resnet-xavier.toml",
    ),
    // Two query streams, each its own app, objective and arrivals, on one device.
    ("streams-xavier", "scenarios/examples/streams-xavier.toml"),
    // Proteus choosing variants of two streams' families (a steady and a bursty one).
    (
        "proteus-streams-xavier",
        "scenarios/examples/proteus-streams-xavier.toml",
    ),
    // Accordion: three bursty streams share four execution places, resized every 10 ms.
    (
        "accordion-server",
        "scenarios/examples/accordion-server.toml",
    ),
    // The README's default: static, zero-copy, TM on Xavier AGX.
    ("quickstart", "scenarios/quickstart.toml"),
    // Static on GPU + two DLAs (one activity at a time on a DLA).
    (
        "alexnet-asymmetric",
        "scenarios/examples/alexnet-asymmetric.toml",
    ),
    // A measured execution-time profile instead of the cost model.
    (
        "alexnet-measured-cpu",
        "scenarios/examples/alexnet-measured-cpu.toml",
    ),
    (
        "infscaler-alexnet",
        "scenarios/examples/infscaler-alexnet.toml",
    ),
    (
        "infless-tm-xavier",
        "scenarios/examples/infless-tm-xavier.toml",
    ),
    (
        "spright-bursty-tm",
        "scenarios/examples/spright-bursty-tm.toml",
    ),
    (
        "knative-bursty-tm",
        "scenarios/examples/knative-bursty-tm.toml",
    ),
    // Join-shortest-queue routing under bursty arrivals on Xavier NX.
    ("lpr-bursty-nx", "scenarios/examples/lpr-bursty-nx.toml"),
    // HTTP hand-offs.
    ("vu-http-nx", "scenarios/examples/vu-http-nx.toml"),
    // Replay of the Azure LLM inference trace.
    ("llm-trace-orin", "scenarios/examples/llm-trace-orin.toml"),
    // A periodic GPU interferer beside InfScaler.
    (
        "interference-gpu",
        "scenarios/examples/interference-gpu.toml",
    ),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn reports_of_the_golden_scenarios_are_unchanged() {
    let mut failures = Vec::new();
    for &(name, scenario) in SCENARIOS {
        let out = Command::new(env!("CARGO_BIN_EXE_infscaler"))
            .args(["run", scenario, "--json"])
            .current_dir(root())
            .output()
            .expect("the infscaler binary runs");
        assert!(
            out.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let golden = root().join("tests/golden").join(format!("{name}.json"));
        if let Err(e) = check_golden(&golden, &out.stdout) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
