//! `infscaler reproduce paper --quick`: every experiment runs and the report holds each section,
//! the paper's numbers and the figures.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::check_golden;

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("infscaler-reproduce-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// Runs a quick reproduction of the paper into `dir`; returns its stderr.
fn reproduce_quick(dir: &Path, jobs: &str) -> String {
    reproduce_quick_of("paper", dir, jobs)
}

/// Runs a quick reproduction of `target` into `dir`; returns its stderr.
fn reproduce_quick_of(target: &str, dir: &Path, jobs: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_infscaler"))
        .args(["reproduce", target, "--quick", "--jobs", jobs, "--out-dir"])
        .arg(dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the infscaler binary runs");
    assert!(
        out.status.success(),
        "reproduce {target} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The figures and tables of the report, by their file stem.
const FIGURE_IDS: [&str; 5] = ["fig2", "fig5", "fig6", "fig7", "table2"];

/// The runtimes every experiment runs under.
const RUNTIMES: [&str; 2] = ["pytorch", "tensorrt"];

fn same_bytes(a: &Path, b: &Path, file: &str) {
    assert!(
        fs::read(a.join(file)).unwrap() == fs::read(b.join(file)).unwrap(),
        "{file} differs between --jobs 1 and --jobs 2"
    );
}

#[test]
fn a_quick_reproduction_writes_the_report_figures_and_data_identically_at_any_jobs() {
    let dir = scratch("two");
    reproduce_quick(&dir, "2");
    let overview = fs::read_to_string(dir.join("REPORT.md")).unwrap();
    assert!(overview.contains("## The paper's claims under each runtime"));
    for runtime in RUNTIMES {
        assert!(overview.contains(&format!("({runtime}/REPORT.md)")));
        assert!(overview.contains(&format!("serving.runtime = \"{runtime}\"")));
        let report = fs::read_to_string(dir.join(runtime).join("REPORT.md")).unwrap();
        for heading in [
            "## Summary",
            "## Fig. 2",
            "## Fig. 5",
            "## Table II",
            "## Fig. 6",
            "## Fig. 7",
        ] {
            assert!(
                report.contains(heading),
                "no {heading} in the {runtime} report"
            );
        }
        // The paper's numbers stand beside ours.
        for number in [
            "+34.8 %", "+48.1 %", "+126.6 %", "7571", "< 1 ms", "+16.5 %",
        ] {
            assert!(report.contains(number), "the paper's {number} is missing");
        }
        assert!(report.contains("Quick run"));
        for fig in FIGURE_IDS {
            let png = fs::read(dir.join(runtime).join(format!("{fig}.png"))).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{fig}.png is not a PNG");
            assert!(
                report.contains(&format!("({fig}.png)")),
                "{fig}.png is not linked"
            );
            let csv = format!("data/{fig}-{runtime}.csv");
            assert!(report.contains(&format!("../{csv}")), "{csv} is not named");
            let rows = fs::read_to_string(dir.join(&csv)).unwrap();
            assert!(rows.lines().count() > 1, "{csv} has no rows");
        }
    }
    // Beside each runtime's claims, the old configuration; under the first, what decides them.
    assert!(overview.contains("| old config | holds? |"), "{overview}");
    assert!(overview.contains("the old configuration gives another verdict for"));
    assert!(overview.contains("## What decides each claim, under PyTorch eager"));
    assert!(overview.contains("| claim | reduced | holds? | flipped by | decided by |"));
    for fig in FIGURE_IDS {
        let runs =
            fs::read_to_string(dir.join(format!("data/{fig}-pytorch-sensitivity.runs.jsonl")));
        assert!(
            runs.is_ok_and(|r| r.lines().count() > 2),
            "{fig}: no sensitivity runs"
        );
    }
    assert!(
        !dir.join("data/IN-PROGRESS").exists(),
        "a finished reproduction leaves no in-progress marker"
    );
    // The report's text and every data table are golden: a change of the simulator's behaviour
    // (or of the report's wording) shows as a reviewed diff (tests/golden.rs says how to bless).
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/reproduce-quick");
    let mut failures = Vec::new();
    let mut files = vec!["REPORT.md".to_string()];
    for runtime in RUNTIMES {
        files.push(format!("{runtime}/REPORT.md"));
        for fig in FIGURE_IDS {
            files.push(format!("data/{fig}-{runtime}.csv"));
            files.push(format!("data/{fig}-{runtime}-old.csv"));
        }
    }
    for file in &files {
        let actual = fs::read(dir.join(file)).unwrap();
        if let Err(e) = check_golden(&golden.join(file), &actual) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let one = scratch("one");
    reproduce_quick(&one, "1");
    for file in [
        "REPORT.md",
        "pytorch/REPORT.md",
        "tensorrt/fig5.png",
        "data/fig5-pytorch.parquet",
        "data/table2-tensorrt.csv",
        "data/fig5-tensorrt-old.csv",
        "data/fig5-pytorch-sensitivity.runs.jsonl",
    ] {
        same_bytes(&dir, &one, file);
    }
    // An interrupted reproduction (its marker left behind) resumes from the rows it has.
    let report = fs::read(one.join("REPORT.md")).unwrap();
    fs::write(one.join("data/IN-PROGRESS"), "interrupted\n").unwrap();
    let stderr = reproduce_quick(&one, "2");
    assert!(
        stderr.contains("resuming the interrupted reproduction"),
        "{stderr}"
    );
    assert!(stderr.contains("resuming: 6 of 6 runs"), "{stderr}");
    // Fig. 6's 6 points × 3 variants (as written, the runtime's first parameter ×0.5 and ×2).
    assert!(
        stderr.contains("fig6-pytorch-sensitivity: resuming: 18 of 18 runs"),
        "{stderr}"
    );
    assert_eq!(fs::read(one.join("REPORT.md")).unwrap(), report);
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&one);
}

/// Runs `infscaler reproduce <what> --quick --jobs <jobs>` into a scratch folder `name`, which
/// it returns; fails the test if the command fails.
fn reproduce_quick_into(what: &str, name: &str, jobs: &str) -> PathBuf {
    let dir = scratch(name);
    reproduce_quick_of(what, &dir, jobs);
    dir
}

/// Asserts that `report` has a claim row naming `claim`, with a measured value.
fn assert_claim_measured(report: &str, claim: &str) {
    let row = report
        .lines()
        .find(|l| l.starts_with('|') && l.contains(claim))
        .unwrap_or_else(|| panic!("no claim row with {claim}"));
    assert!(!row.contains("not measured"), "{row}");
}

#[test]
fn a_quick_thesis_reproduction_writes_every_section_identically_at_any_jobs() {
    let run = |name: &str, jobs: &str| reproduce_quick_into("thesis", name, jobs);
    let (one, two) = (run("thesis-one", "1"), run("thesis-two", "2"));
    same_bytes(&one, &two, "REPORT.md");
    same_bytes(&one, &two, "data/runs.csv");
    let report = fs::read_to_string(two.join("REPORT.md")).unwrap();
    for heading in [
        "## 1. ODIN and LLS under interference",
        "## 2. Latency under interference",
        "## 3. Interference strength",
        "## 4. Engine-build cost",
        "## 6. More execution places",
        "## 7. Design-space explorers",
        "### Throughput targets under interference",
        "### The explorer claims",
        "## 9. Accordion",
        "### The Accordion claims",
    ] {
        assert!(report.contains(heading), "{heading} missing");
    }
    // Every claim row has a verdict, and every explorer a row of its own.
    for claim in ["T359", "T357", "0.12 %", "35×", "70×", "11×"] {
        assert_claim_measured(&report, claim);
    }
    for explorer in [
        "random walk",
        "hill climbing",
        "simulated annealing",
        "Pipe-Search",
        "Shisha α=2",
    ] {
        assert!(report.contains(&format!("| {explorer} |")), "{explorer}");
    }
    let csv = fs::read_to_string(two.join("data/runs.csv")).unwrap();
    assert!(csv.lines().count() > 40, "{} runs", csv.lines().count() - 1);
}

#[test]
fn a_quick_accuracy_reproduction_writes_both_sections_identically_at_any_jobs() {
    let (one, two) = (scratch("accuracy-one"), scratch("accuracy-two"));
    reproduce_quick_of("accuracy", &one, "1");
    reproduce_quick_of("accuracy", &two, "2");
    same_bytes(&one, &two, "REPORT.md");
    same_bytes(&one, &two, "data/runs.csv");
    let report = fs::read_to_string(two.join("REPORT.md")).unwrap();
    for heading in [
        "## 1. Proteus: variants chosen per engine",
        "## 2. Sponge: vertical scaling under varying network delay",
        "\"reduces accuracy drop by up to 3×\"",
        "\"latency timeouts by 2-10×\"",
    ] {
        assert!(report.contains(heading), "{heading} missing");
    }
    for system in [
        "| Proteus |",
        "| ResNet-152 only |",
        "| ResNet-18 only |",
        "| InfScaler, ResNet-152 |",
        "| Sponge |",
        "| fixed 4 cores |",
        "| horizontal, 1-core pods |",
    ] {
        assert!(report.contains(system), "{system} missing");
    }
    // Every row of the results tables has numbers: a system that failed to run would show
    // dashes (the claims table, of ratios, may have none to show).
    let rows = report
        .lines()
        .filter(|l| (l.starts_with("| poisson") || l.starts_with("| uniform")) && !l.contains('×'));
    for row in rows {
        assert!(!row.contains("| – |"), "{row}");
    }
    // The ResNet-18-only baseline serves ResNet-18's published top-1, 69.758 %.
    assert!(
        report.contains("| ResNet-18 only | 69.76 | 8.55 |"),
        "{report}"
    );
}

#[test]
fn the_accordion_study_runs_alone_and_judges_every_claim_it_measured() {
    let dir = reproduce_quick_into("accordion", "accordion", "2");
    let report = fs::read_to_string(dir.join("REPORT.md")).unwrap();
    assert!(report.contains("## Accordion: query streams"), "{report}");
    // Quick: the server at the moderate level, 5 rules × 2 loads.
    let csv = fs::read_to_string(dir.join("data/accordion.csv")).unwrap();
    assert_eq!(csv.lines().count(), 11, "{csv}");
    for claim in [
        "lower than SLO-Conforming",
        "throughput higher than Fastest",
        "occupancy",
    ] {
        assert_claim_measured(&report, claim);
    }
    let _ = fs::remove_dir_all(&dir);
}
