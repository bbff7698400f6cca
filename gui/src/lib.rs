//! infscaler-gui: an eframe/egui app to explore infscaler scenarios — edit and save a scenario,
//! run it in the background, look at its timeline, time series, latency CDF and partitions,
//! compare the four serving systems on it, and browse sweep results as pivot tables.
//!
//! The binary (`main.rs`) only parses its argument and starts [`InfscalerApp`]; everything else is
//! here so that the tests can drive the app headless (egui_kittest).

#![warn(missing_docs)]

pub mod analysis;
pub mod app;
pub mod document;
pub mod downsample;
pub mod export;
pub mod gantt;
pub mod runner;
pub mod scenario_edit;
pub mod simulate;
pub mod state;
pub mod views;

pub use app::InfscalerApp;
