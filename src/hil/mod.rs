//! `infscaler hil …`: hardware in the loop.
//!
//! - `hil profile` ([`profile`]): time an app's partitions and operators with ONNX Runtime and
//!   write a measured profile for `[device] measured_profile`.
//! - `hil run` and `hil validate` ([`live`]): the scenario's policy and serving loop on the wall
//!   clock with real ONNX Runtime partitions, and the comparison of that live run with the
//!   simulation of the same arrivals.
//! - `hil handoff` ([`handoff`]): the cost of handing a tensor from one partition to the next.

mod handoff;
mod live;
mod profile;

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

/// The `hil` subcommands.
#[derive(Subcommand, Debug)]
pub enum HilCommand {
    /// Time an app's partitions (and operators) with ONNX Runtime; write a measured profile.
    Profile(profile::ProfileArgs),
    /// Run a scenario live: its policy and serving on the wall clock, partitions on ONNX
    /// Runtime; prints the same report as `infscaler run`.
    Run(live::RunArgs),
    /// Simulate a scenario and run it live on the same arrivals; print the error per metric.
    Validate(live::ValidateArgs),
    /// Measure the hand-off of a tensor between two partitions' workers: zero-copy vs copy.
    Handoff(handoff::HandoffArgs),
}

/// Runs a `hil` subcommand.
pub fn run(command: HilCommand) -> Result<ExitCode> {
    match command {
        HilCommand::Profile(args) => profile::profile(args),
        HilCommand::Run(args) => live::run(args),
        HilCommand::Validate(args) => live::validate(args),
        HilCommand::Handoff(args) => handoff::run(args),
    }
}
