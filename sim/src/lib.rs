//! infscaler-sim: a deterministic discrete-event simulator of ML inference serving on
//! multi-accelerator edge devices (NVIDIA Jetson: CPU, integrated GPU and two DLAs sharing one
//! unified memory).
//!
//! A run is a pure function of its [`scenario::Scenario`] and seed; it returns a report and
//! writes nothing. See `DESIGN.md` for the map of the crate.

#![warn(missing_docs)]

pub mod engine;
pub mod hardware;
pub mod metrics;
pub mod model;
pub mod rng;
pub mod time;
pub mod units;
pub mod workload;
