//! infscaler-fuzz: fuzzing of infscaler's file readers on the stable toolchain.
//!
//! `cargo-fuzz` and libFuzzer need a nightly compiler for their coverage instrumentation; this
//! crate needs none. It is a coverage-less but structure-aware fuzzer: every case is a seed from
//! the repository (scenarios, traces, profiles) with a few mutations that know TOML and CSV
//! ([`mutate`]), drawn from a generator seeded by (seed, harness, case number), so any case can
//! be regenerated from its number. Each harness ([`harness::HARNESSES`]) runs one reader on the
//! case and the driver ([`driver`]) catches panics, checks error messages, and saves and shrinks
//! what it finds.
//!
//! - the command line (`src/main.rs`): long runs, with a supervisor process that survives
//!   aborts and hangs; see `fuzz/README.md`;
//! - `tests/short.rs`: a short run of every harness in the test suite;
//! - `tests/regressions.rs`: every input a run found, as a test.

#![warn(missing_docs)]

pub mod driver;
pub mod env;
pub mod harness;
pub mod mutate;
pub mod rng;

pub use driver::{Config, Finding, FindingKind, Outcome, Stats, fuzz, run_input};
pub use env::Env;
pub use harness::{HARNESSES, Harness, Verdict, find};

/// Caps this process's address space at `mb` MiB (Linux; elsewhere, and for 0, nothing), so that
/// an input that makes a reader allocate without bound fails an allocation (a finding) instead
/// of exhausting the machine.
#[cfg(target_os = "linux")]
pub fn limit_memory(mb: u64) {
    if mb == 0 {
        return;
    }
    let bytes = mb.saturating_mul(1024 * 1024) as libc::rlim_t;
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: setrlimit only reads the struct passed to it.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
    if rc != 0 {
        eprintln!("infscaler-fuzz: could not cap the address space at {mb} MiB");
    }
}

/// Caps this process's address space (a no-op off Linux).
#[cfg(not(target_os = "linux"))]
pub fn limit_memory(_mb: u64) {}
