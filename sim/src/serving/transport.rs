//! How a tensor reaches the next partition, and what that costs in time, CPU and memory traffic.
//!
//! Three mechanisms, costed from the tensor's bytes, the device's memory bandwidth and CPU copy
//! rate, never from constants chosen to order them:
//! - **zero-copy token** over unified memory (InfScaler §IV-B): the producer hands the consumer a
//!   token naming the region it wrote; no byte moves, only a control-plane message.
//! - **shared-memory copy** (SPRIGHT-style data plane on an accelerator-unaware system): the output
//!   is copied from the producer's accelerator buffer into the shared pool and from the pool into
//!   the consumer's input binding — two memcpys — plus a descriptor hand-off.
//! - **HTTP / serialisation** (Knative): serialise, two socket copies (user→kernel→user) and
//!   deserialise, plus the fixed cost of an HTTP hop through the queue-proxy sidecar.

use serde::{Deserialize, Serialize};

use crate::hardware::profile::DeviceProfile;
use crate::time::SimDuration;
use crate::units::{ByteRate, TimeSpan};

/// Which mechanism carries tensors between partitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// A token naming a region of unified memory; no copy.
    #[default]
    ZeroCopy,
    /// Copies through a shared-memory pool.
    SharedMemory,
    /// HTTP requests with serialised tensors.
    Http,
}

impl TransportKind {
    /// Stable name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::ZeroCopy => "zero_copy",
            TransportKind::SharedMemory => "shared_memory",
            TransportKind::Http => "http",
        }
    }
}

/// How zero-copy tokens travel between instances and the tensor-sharing manager (InfScaler
/// §IV-B): through an eBPF map that intercepts token faults and hand-overs in the kernel, or as
/// user-space messages to the manager ("INFSCALER–" in the paper's Fig. 6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlPath {
    /// Events through an eBPF map.
    #[default]
    Ebpf,
    /// Messages through the user-space sharing manager.
    UserSpace,
}

/// The `[serving.transport]` table: what each mechanism costs (the policy chooses the mechanism).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportSpec {
    /// Control-plane latency of handing a token to the consumer. Assumed: one event through an
    /// eBPF map / Unix-domain message, tens of microseconds; the paper (Fig. 6) bounds the whole
    /// hand-off below 1 ms. To be replaced by the HIL measurement.
    #[serde(default = "default_token_handoff")]
    pub token_handoff: TimeSpan,
    /// The same hand-off through the user-space sharing manager: two messages over a Unix
    /// socket and a context switch each way. Assumed 150 µs; to be replaced by a measurement.
    #[serde(default = "default_user_space_handoff")]
    pub token_handoff_user_space: TimeSpan,
    /// Extra latency of a token fault: the manager allocates a new region of unified memory
    /// (lazy allocation) and maps it for the producer. Assumed 200 µs (a cudaMallocManaged-class
    /// allocation on Jetson); to be replaced by a measurement.
    #[serde(default = "default_token_fault")]
    pub token_fault: TimeSpan,
    /// Latency of passing a descriptor to the consumer (SPRIGHT's eBPF SK_MSG redirect of a ~16 B
    /// descriptor, REFERENCE.md §3). Assumed equal to a token hand-off.
    #[serde(default = "default_token_handoff")]
    pub descriptor_handoff: TimeSpan,
    /// Fixed cost of one HTTP hop between functions: TCP over loopback, HTTP parsing and the
    /// queue-proxy sidecar in both directions. Assumed 1 ms; to be replaced by a measurement.
    #[serde(default = "default_http_hop")]
    pub http_hop: TimeSpan,
    /// Serialisation (and, separately, deserialisation) throughput of one CPU core for tensor
    /// payloads (protobuf/JSON float arrays). Assumed 500 MB/s; to be replaced by a measurement.
    #[serde(default = "default_serialize_rate")]
    pub serialize_rate: ByteRate,
}

fn default_token_handoff() -> TimeSpan {
    TimeSpan(SimDuration::from_us(30))
}
fn default_user_space_handoff() -> TimeSpan {
    TimeSpan(SimDuration::from_us(150))
}
fn default_token_fault() -> TimeSpan {
    TimeSpan(SimDuration::from_us(200))
}
fn default_http_hop() -> TimeSpan {
    TimeSpan(SimDuration::from_ms(1))
}
fn default_serialize_rate() -> ByteRate {
    ByteRate(500e6)
}

impl Default for TransportSpec {
    fn default() -> Self {
        TransportSpec {
            token_handoff: default_token_handoff(),
            token_handoff_user_space: default_user_space_handoff(),
            token_fault: default_token_fault(),
            descriptor_handoff: default_token_handoff(),
            http_hop: default_http_hop(),
            serialize_rate: default_serialize_rate(),
        }
    }
}

/// The cost of moving one tensor: a CPU activity (sharing the CPU and memory bandwidth with
/// everything else running) followed by a fixed delay, plus the extra buffer it holds meanwhile.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TransferCost {
    /// CPU time on one core at full rate, alone on the device.
    pub work_ns: u64,
    /// Bytes read and written over unified memory during that work.
    pub mem_bytes: u64,
    /// Latency not subject to sharing (control messages, protocol overhead).
    pub fixed_ns: u64,
    /// Extra unified memory held until the transfer ends (the copy's destination buffer).
    pub extra_buffer_bytes: u64,
}

impl TransportSpec {
    /// Checks the parameters; the error is (field, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(self.serialize_rate.0.is_finite() && self.serialize_rate.0 > 0.0) {
            return Err((
                "serialize_rate".into(),
                "must be a positive rate, e.g. \"500MB/s\"".into(),
            ));
        }
        Ok(())
    }

    /// The cost of handing over zero-copy tokens on `control` path; `fault` adds the cost of the
    /// manager allocating a new region (a token fault during the hand-over).
    pub fn token_cost(&self, control: ControlPath, fault: bool) -> TransferCost {
        let handoff = match control {
            ControlPath::Ebpf => self.token_handoff.0,
            ControlPath::UserSpace => self.token_handoff_user_space.0,
        };
        let fault_ns = if fault { self.token_fault.0.as_ns() } else { 0 };
        TransferCost {
            fixed_ns: handoff.as_ns() + fault_ns,
            ..Default::default()
        }
    }

    /// The cost of moving a tensor of `bytes` with `kind` on `device` (zero-copy: a token
    /// hand-off on the eBPF path with a free region).
    pub fn cost(&self, kind: TransportKind, bytes: u64, device: &DeviceProfile) -> TransferCost {
        let copy_rate = device.memory.copy_bytes_per_s;
        let copy_ns = |n: u64| ns_at_rate(n, copy_rate);
        match kind {
            TransportKind::ZeroCopy => TransferCost {
                fixed_ns: self.token_handoff.0.as_ns(),
                ..Default::default()
            },
            TransportKind::SharedMemory => TransferCost {
                // Two memcpys: accelerator buffer → pool, pool → consumer binding; each reads and
                // writes every byte once.
                work_ns: 2 * copy_ns(bytes),
                mem_bytes: 4 * bytes,
                fixed_ns: self.descriptor_handoff.0.as_ns(),
                extra_buffer_bytes: bytes,
            },
            TransportKind::Http => TransferCost {
                // Serialise + deserialise (read the floats, write the encoding and back), and two
                // socket copies (user → kernel → user).
                work_ns: 2 * ns_at_rate(bytes, self.serialize_rate.0) + 2 * copy_ns(bytes),
                mem_bytes: 8 * bytes,
                fixed_ns: self.http_hop.0.as_ns(),
                extra_buffer_bytes: 2 * bytes,
            },
        }
    }
}

/// Nanoseconds to process `bytes` at `rate_bytes_per_s`, rounded up.
fn ns_at_rate(bytes: u64, rate_bytes_per_s: f64) -> u64 {
    if bytes == 0 {
        return 0;
    }
    (bytes as f64 * 1e9 / rate_bytes_per_s).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::zoo::{self, ZooOptions};

    /// Total latency of a transfer when alone on the device: CPU work plus the fixed part.
    fn total_ns(c: TransferCost) -> u64 {
        c.work_ns + c.fixed_ns
    }

    #[test]
    fn zero_copy_beats_shared_memory_beats_http_for_every_tensor_of_the_zoo() {
        let spec = TransportSpec::default();
        for device_name in crate::hardware::profile::DeviceProfile::builtin_names() {
            let device = crate::hardware::profile::DeviceProfile::builtin(device_name).unwrap();
            for entry in zoo::catalog() {
                let model = zoo::build(entry.name, &ZooOptions::default()).unwrap();
                // Every cut point's boundary tensor, at FP16 (GPU/DLA) and FP32 (CPU), batch 1–8.
                for op in &model.operators {
                    for bytes_per_elem in [2, 4] {
                        for batch in [1, 8] {
                            let bytes = op.output_elems * bytes_per_elem * batch;
                            let zero = total_ns(spec.cost(TransportKind::ZeroCopy, bytes, &device));
                            let shm =
                                total_ns(spec.cost(TransportKind::SharedMemory, bytes, &device));
                            let http = total_ns(spec.cost(TransportKind::Http, bytes, &device));
                            assert!(
                                zero < shm && shm < http,
                                "{device_name} {} {}: {bytes} B: zero-copy {zero} ns, shm {shm} ns, http {http} ns",
                                entry.name,
                                op.name
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn copies_scale_with_bytes_and_the_copy_rate() {
        let spec = TransportSpec::default();
        let device = crate::hardware::profile::DeviceProfile::builtin("xavier-agx").unwrap();
        let rate = device.memory.copy_bytes_per_s;
        let mib = 1 << 20;
        let c = spec.cost(TransportKind::SharedMemory, mib, &device);
        // Two memcpys of 1 MiB at one core's copy rate, reading and writing each byte once.
        assert_eq!(c.work_ns, 2 * (mib as f64 * 1e9 / rate).ceil() as u64);
        assert_eq!(c.mem_bytes, 4 * mib);
        assert_eq!(c.extra_buffer_bytes, mib);
        // The eBPF token path is cheaper than the user-space one; a fault adds the allocation.
        let ebpf = spec.token_cost(ControlPath::Ebpf, false).fixed_ns;
        let user = spec.token_cost(ControlPath::UserSpace, false).fixed_ns;
        assert!(ebpf < user);
        assert_eq!(
            spec.token_cost(ControlPath::Ebpf, true).fixed_ns,
            ebpf + spec.token_fault.0.as_ns()
        );
    }
}
