//! The short fuzzing mode, run by the test suite: every harness for its `short_cases` cases from
//! seed 1 (a few thousand; about half a minute for all of them on two cores), failing on any
//! finding that is not in [`KNOWN_OPEN`]. The long mode is the command line: `fuzz/README.md`.
//!
//! `INFSCALER_FUZZ_CASES=N` runs N cases per harness instead, `INFSCALER_FUZZ_SEED=S` another
//! seed (CI keeps the defaults, so that its runs are reproducible).

use infscaler_fuzz::driver::{Finding, describe_findings};
use infscaler_fuzz::env::default_repo;
use infscaler_fuzz::{Config, Env, HARNESSES, find, fuzz};

/// Findings known and not fixed yet: (harness, start of the site, part of the message, what is
/// wrong). A short run reports them but does not fail on them; each has an ignored test in
/// `regressions.rs` that passes once it is fixed. Remove the entry with the fix.
const KNOWN_OPEN: &[(&str, &str, &str, &str)] = &[];

fn is_known(harness: &str, f: &Finding) -> bool {
    KNOWN_OPEN.iter().any(|(h, site, message, _)| {
        *h == harness && f.site.starts_with(site) && f.message.contains(message)
    })
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.replace('_', "").parse().ok()
}

fn short(name: &str) {
    // As the command line's workers: an input that allocates without bound fails this test
    // rather than exhausting the machine.
    infscaler_fuzz::limit_memory(4096);
    let harness = find(name).expect("a registered harness");
    let env = Env::new(&default_repo()).expect("a sandbox");
    let cases = env_number("INFSCALER_FUZZ_CASES").unwrap_or(harness.short_cases);
    let seed = env_number("INFSCALER_FUZZ_SEED").unwrap_or(1);
    let stats = fuzz(harness, &env, &Config::new(cases, seed));
    eprintln!(
        "{name}: {} cases in {:.1} s, {:.0}/s, accepted {}, rejected {}, skipped {}, {} distinct \
         errors, {} findings",
        stats.cases,
        stats.elapsed.as_secs_f64(),
        stats.rate(),
        stats.accepted,
        stats.rejected,
        stats.skipped,
        stats.distinct_errors,
        stats.findings.len()
    );
    let mut open = stats.clone();
    open.findings.retain(|f| !is_known(name, f));
    for f in stats.findings.iter().filter(|f| is_known(name, f)) {
        eprintln!(
            "known open finding (not failing): {} at {}",
            f.kind.name(),
            f.site
        );
    }
    assert!(
        open.findings.is_empty(),
        "fuzzing {name} (seed {seed}) found:\n{}\nreplay one with `cargo run --release -p \
         infscaler-fuzz -- case {name} --seed {seed} --case N --write x && cargo run --release \
         -p infscaler-fuzz -- repro {name} x`",
        describe_findings(&open)
    );
    // Seeds that no longer parse would leave the harness testing only the first error.
    assert!(
        stats.accepted > 0,
        "no input of {name} was accepted: are its seeds out of date?"
    );
}

macro_rules! short_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                short($name);
            }
        )*

        #[test]
        fn every_harness_has_a_short_test() {
            let tested = [$($name),*];
            let registered: Vec<&str> = HARNESSES.iter().map(|h| h.name).collect();
            assert_eq!(registered, tested, "add the new harness to short_tests! in tests/short.rs");
        }
    };
}

short_tests! {
    short_scenario => "scenario",
    short_scenario_run => "scenario-run",
    short_trace_csv => "trace-csv",
    short_azure_csv => "azure-csv",
    short_measured_profile => "measured-profile",
    short_model_file => "model-file",
    short_onnx_import => "onnx-import",
    short_device_profile => "device-profile",
    short_runtime_profile => "runtime-profile",
}
