//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use infscaler_sim::{Report, Scenario, Simulation};

/// An idealised device: no launch overheads, no runtime memory, efficiencies of 1 and memory
/// bandwidth so large that it never binds — so an operator's time is exactly its FLOPs over the
/// engine's peak and instances contend only for compute. A CPU of 8 cores at 100 GFLOP/s each
/// and a 1 TFLOP/s GPU.
pub const IDEAL_PROFILE: &str = r#"
name = "ideal"
[memory]
capacity = "64GiB"
bandwidth = "1000000TB/s"
reserved = "0B"
cpu_copy_bandwidth = "10GB/s"
[storage]
read_bandwidth = "1GB/s"
[[accelerators]]
name = "cpu"
kind = "cpu"
precision = "fp32"
cores = 8
peak = "800GFLOPS"
dense_efficiency = 1.0
other_efficiency = 1.0
bandwidth_efficiency = 1.0
launch_overhead = "0ns"
runtime_overhead = "0B"
[[accelerators]]
name = "gpu"
kind = "gpu"
precision = "fp16"
peak = "1TFLOPS"
dense_efficiency = 1.0
other_efficiency = 1.0
bandwidth_efficiency = 1.0
launch_overhead = "0ns"
runtime_overhead = "0B"
"#;

/// A directory holding `ideal.toml` (the [`IDEAL_PROFILE`]), for scenarios to name.
pub fn dir_with_ideal_profile() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infscaler-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("ideal.toml"), IDEAL_PROFILE).expect("profile written");
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
