//! infscaler-sim: a deterministic discrete-event simulator of ML inference serving on
//! multi-accelerator edge devices (NVIDIA Jetson: CPU, integrated GPU and two DLAs sharing one
//! unified memory).
//!
//! A run is a pure function of its scenario and seed; it returns a [`report::Report`] and writes
//! nothing. Start from [`scenario::Scenario::load`] and [`simulation::Simulation`].

#![warn(missing_docs)]

pub mod engine;
pub mod engines;
pub mod event;
pub mod executor;
pub mod experiment;
pub mod explore;
pub mod hardware;
pub mod input;
pub mod interference;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod serving;
pub mod simulation;
pub mod slab;
pub mod time;
pub mod units;
pub mod workload;

pub use report::Report;
pub use scenario::{ResolvedScenario, Scenario, ScenarioError};
pub use simulation::{Cancelled, RunProgress, SimError, Simulation};

/// Loads, checks and runs a scenario file with an optional seed override.
pub fn run_file(path: &std::path::Path, seed: Option<u64>) -> Result<Report, RunError> {
    let scenario = Scenario::load(path)?;
    Ok(Simulation::new(&scenario, seed)?.run())
}

/// A scenario could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The run could not be set up.
    #[error(transparent)]
    Sim(#[from] SimError),
}
