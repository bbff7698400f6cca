//! Workloads: arrival processes and the applications requests are for.
//!
//! - [`spec`]: the `[workload]` table ([`ArrivalSpec`]) that picks an arrival process.
//! - [`arrival`]: what every arrival process implements ([`ArrivalProcess`]), the errors of a
//!   workload and the synthetic processes (constant, Poisson, two-state MMPP).
//! - [`trace`]: replay of a timestamp CSV (e.g. the Azure LLM inference trace).
//! - [`azure`]: replay of one function of the Azure Functions 2019 per-minute invocation counts.

pub mod app;
pub mod arrival;
pub mod azure;
pub mod delay;
pub mod sizing;
pub mod spec;
pub mod trace;

pub use arrival::{ArrivalProcess, RequestTokens, WorkloadError};
pub use azure::{AzureFunctionsSpec, Spread};
pub use delay::DelaySpec;
pub use spec::ArrivalSpec;
pub use trace::{TimeUnit, TraceSpec};
