//! Workloads: arrival processes and the applications requests are for.
//!
//! - [`arrival`]: the `[workload]` spec ([`ArrivalSpec`]), its errors and the synthetic processes
//!   (constant, Poisson, two-state MMPP).
//! - [`trace`]: replay of a timestamp CSV (e.g. the Azure LLM inference trace).
//! - [`azure`]: replay of one function of the Azure Functions 2019 per-minute invocation counts.

pub mod app;
pub mod arrival;
pub mod azure;
pub mod trace;

pub use arrival::{ArrivalProcess, ArrivalSpec, WorkloadError};
pub use azure::{AzureFunctionsSpec, Spread};
pub use trace::{TimeUnit, TraceSpec};
