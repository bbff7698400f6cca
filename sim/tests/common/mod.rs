//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use infscaler_sim::{Report, Scenario, Simulation};

/// An idealised device: no launch overheads, no runtime memory, efficiencies of 1 and memory
/// bandwidth so large that it never binds — so an operator's time is exactly its FLOPs over the
/// engine's peak and instances contend only for compute. A CPU of 8 cores at 100 GFLOP/s each
/// and a 1 TFLOP/s GPU.
pub const IDEAL_PROFILE: &str = include_str!("../data/ideal.toml");

/// An idealised runtime: no host time, no kernel ramp, nothing fused, no memory.
pub const IDEAL_RUNTIME: &str = include_str!("../data/ideal-runtime.toml");

/// A directory holding `ideal.toml` (the [`IDEAL_PROFILE`]), for scenarios to name.
pub fn dir_with_ideal_profile() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infscaler-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // Tests of one binary run on parallel threads: each writes its own file and renames it, so
    // no test reads a half-written one.
    for (name, text) in [
        ("ideal.toml", IDEAL_PROFILE),
        ("ideal-runtime.toml", IDEAL_RUNTIME),
    ] {
        let tmp = dir.join(format!("{name}.{:?}.tmp", std::thread::current().id()));
        std::fs::write(&tmp, text).expect("profile written");
        std::fs::rename(&tmp, dir.join(name)).expect("profile renamed");
    }
    dir
}

/// Parses, resolves and runs scenario `text`, resolving paths against `dir`.
pub fn run(text: &str, dir: &Path) -> Report {
    let resolved = Scenario::parse(text, "test", dir)
        .expect("parses")
        .resolve()
        .expect("valid");
    Simulation::new(&resolved, None).expect("sets up").run()
}
