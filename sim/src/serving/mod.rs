//! Serving: the data plane every policy shares ([`plane::DataPlane`]: instances and their
//! queues, routing, batching, tensor hand-offs, cold starts) and what it is made of — unified
//! memory accounting, serving processes, zero-copy region sharing, transports and their costs,
//! run-time state — plus the configuration types policies and scenarios use ([`InstanceConfig`],
//! [`Routing`], [`ProcessLayout`]).

pub mod memory;
pub mod plane;
pub mod process;
pub mod sharing;
pub mod state;
pub mod transport;

use serde::{Deserialize, Serialize};

use crate::hardware::AcceleratorKind;
use crate::hardware::profile::DeviceProfile;
use crate::time::SimDuration;
use crate::units::TimeSpan;

pub use process::ProcessLayout;

/// How one instance serves: its batching, the CPU cores it holds and its share of its engine.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceConfig {
    /// Largest batch the instance forms.
    pub max_batch: u32,
    /// Longest time the oldest queued request waits for a batch to fill (0: never wait).
    pub batch_timeout: SimDuration,
    /// CPU cores the instance holds (its compute on the CPU; its launch thread elsewhere).
    pub cpu_cores: u32,
    /// Most of its engine's compute the instance may use, in (0, 1]: a hard per-instance cap
    /// such as a CUDA MPS active-thread percentage on the GPU (INFless's GPU share). 1 = no cap:
    /// the instance takes what max-min sharing gives it.
    #[serde(default = "full_share")]
    pub compute_share: f64,
}

fn full_share() -> f64 {
    1.0
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig {
            max_batch: 1,
            batch_timeout: SimDuration::ZERO,
            cpu_cores: 1,
            compute_share: 1.0,
        }
    }
}

/// What one instance built by a repartitioning costs before it can serve, per kind of
/// accelerator (the `[serving.reconfiguration]` table): a CPU stage only changes which layers its
/// threads run; a GPU or DLA stage needs a new TensorRT engine for its layers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconfigurationCost {
    /// On a CPU. Default 0: the pipeline's threads take their new layers at once
    /// (../shared/THESIS.md §3, step 5).
    #[serde(default = "zero_span")]
    pub cpu: TimeSpan,
    /// On the GPU. Default 60 s [assumed]: the order of magnitude of a TensorRT engine build on
    /// an edge GPU — "a few minutes" per model (NVIDIA/TensorRT#1841), "5 or 6 minutes" for a
    /// YOLOv5 on a Jetson Nano (deepcam-cn/yolov5-face#109); a partition is part of a model, and
    /// a timing cache shortens it. A parameter to sweep, not a measurement.
    #[serde(default = "engine_build")]
    pub gpu: TimeSpan,
    /// On a DLA: a TensorRT engine build too. Default 60 s [assumed], as `gpu`.
    #[serde(default = "engine_build")]
    pub dla: TimeSpan,
}

impl Default for ReconfigurationCost {
    fn default() -> Self {
        ReconfigurationCost {
            cpu: zero_span(),
            gpu: engine_build(),
            dla: engine_build(),
        }
    }
}

impl ReconfigurationCost {
    /// The cost on each accelerator of `device`, in profile order.
    pub fn per_accelerator(&self, device: &DeviceProfile) -> Vec<SimDuration> {
        device
            .accelerators
            .iter()
            .map(|a| match a.kind {
                AcceleratorKind::Cpu => self.cpu.0,
                AcceleratorKind::Gpu => self.gpu.0,
                AcceleratorKind::Dla => self.dla.0,
            })
            .collect()
    }
}

fn zero_span() -> TimeSpan {
    TimeSpan(SimDuration::ZERO)
}
fn engine_build() -> TimeSpan {
    TimeSpan(SimDuration::from_secs(60))
}

/// How the requests of a partition are spread over its instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// One FIFO per partition; an idle instance takes the next batch from it (work-conserving,
    /// as a central dispatcher or a pull-based worker pool).
    #[default]
    SharedQueue,
    /// Each instance has its own FIFO; a request joins the instance with the fewest requests
    /// queued or in service (ties: the instance created first).
    JoinShortestQueue,
}

/// The order a queue serves its requests in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueOrder {
    /// First in, first out.
    #[default]
    Fifo,
    /// Earliest deadline first: by arrival plus the request's objective to go (its objective
    /// less the network delay it spent); equal deadlines in arrival order. A batch then takes
    /// the earliest deadlines, and its timer runs from the enqueueing of the queue's first.
    Edf,
}

impl QueueOrder {
    /// Whether it is the default, FIFO.
    pub fn is_fifo(&self) -> bool {
        *self == QueueOrder::Fifo
    }
}

/// What a producer does when the next partition's queue is full as its batch ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// The producer holds its outputs, and its instance, until the next queue has room for them
    /// (a bounded hand-off, as a pipeline of bounded channels): no work done upstream is thrown
    /// away, and back-pressure reaches the first stage, where admission decides.
    #[default]
    Block,
    /// The requests that find the next queue full are dropped (`queue_full`) after the upstream
    /// partitions already did their work.
    Drop,
}

/// The `[serving.admission]` table: which arrivals the first stage turns away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admission {
    /// Longest queue of the first stage (per instance under join-shortest-queue routing); an
    /// arrival that finds it full is dropped (`queue_full`). Default: `serving.queue_capacity`.
    #[serde(default)]
    pub queue_limit: Option<usize>,
    /// Whether the first stage drops (`timeout`) a request whose latency objective is already
    /// lost when its batch would start, instead of spending the pipeline's time on it.
    #[serde(default)]
    pub drop_late: bool,
}
