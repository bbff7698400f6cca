//! Hardware in the loop for infscaler: real ONNX models for the simulator's partitions.
//!
//! - [`cpu_time`]: the calling thread's CPU time (how long a run was on a core).
//! - [`onnx`]: the ONNX protobuf messages and helpers (they live in `infscaler_sim::model::onnx`,
//!   so scenarios can name `.onnx` files; re-exported here).
//! - [`from_network`]: an ONNX model from a simulator [`Network`](infscaler_sim::model::layers::Network)
//!   (the zoo's layer graphs), with seeded random weights.
//! - [`source`]: the ONNX model of a stage: built for a zoo model or model file, read for an
//!   `.onnx` file.
//! - [`split`]: partition sub-models at the simulator's cut points.
//! - [`import`]: a user's `.onnx` file as the simulator's operator list (re-exported from
//!   `infscaler_sim::model::onnx::import`).
//! - [`profile`]: measured profiles: partitions and operators timed with ONNX Runtime.
//! - [`wakeup_time`]: how long a thread takes to run after a message wakes it, cores free or not.
//! - [`live`]: live runs: the serving loop on the wall clock with real partitions.
//! - [`runtime`]: ONNX Runtime (`ort`, library loaded at run time from `.ort/` or
//!   `ORT_DYLIB_PATH`) on the CPU, CUDA or TensorRT (GPU or DLA) execution provider.
#![warn(missing_docs)]

pub mod cpu_time;
pub mod from_network;
pub mod live;
pub mod loop_send_time;
pub mod profile;
pub mod runtime;
pub mod source;
pub mod split;
pub mod wakeup_time;

pub use infscaler_sim::model::onnx;
pub use infscaler_sim::model::onnx::import;
