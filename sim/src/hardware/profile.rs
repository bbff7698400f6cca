//! Device profiles: what a Jetson module offers (unified memory, storage, and its CPU, GPU and
//! DLA engines with their peak rates and model parameters), read from TOML files with human
//! units (`capacity = "32GiB"`, `bandwidth = "137GB/s"`, `peak = "11TFLOPS"`).
//!
//! The file format is described field by field in `hwprofiles/README.md`. Three profiles are
//! built in ([`DeviceProfile::builtin`]); a measured profile is a file of the same format.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::AcceleratorKind;
use crate::time::SimDuration;
use crate::units::{ByteRate, ByteSize, FlopRate, Frequency, TimeSpan};

/// Numeric precision an engine runs a network at; it sets bytes per tensor element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// 32-bit float (CPU execution with ONNX Runtime).
    Fp32,
    /// 16-bit float (TensorRT on GPU or DLA).
    Fp16,
    /// 8-bit integer, calibrated (TensorRT on GPU or DLA).
    Int8,
}

impl Precision {
    /// Bytes per tensor element at this precision.
    pub fn bytes_per_elem(self) -> u64 {
        match self {
            Precision::Fp32 => 4,
            Precision::Fp16 => 2,
            Precision::Int8 => 1,
        }
    }

    /// Short name as written in profile files.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
        }
    }
}

/// A device: its unified memory, its storage and its processing engines.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceProfile {
    /// Name of the device, e.g. `jetson-agx-xavier-32gb`.
    pub name: String,
    /// The LPDDR pool that every engine shares.
    pub memory: MemorySpec,
    /// Where model weights are loaded from on a cold start.
    pub storage: StorageSpec,
    /// The engines; exactly one is a CPU. Indices into this list name an engine elsewhere.
    pub accelerators: Vec<AcceleratorSpec>,
}

/// Unified memory shared by CPU, GPU and DLAs.
#[derive(Clone, Debug, PartialEq)]
pub struct MemorySpec {
    /// Installed capacity in bytes.
    pub capacity_bytes: u64,
    /// Peak DRAM bandwidth in bytes per second (bus width × transfer rate).
    pub bandwidth_bytes_per_s: f64,
    /// DRAM bandwidth the engines can reach together (what a device-to-device copy benchmark
    /// measures), bytes per second; ≤ the peak. Engines' `bandwidth_efficiency` is relative to it.
    pub achievable_bytes_per_s: f64,
    /// Bytes not available to serving: OS, carveouts, firmware.
    pub reserved_bytes: u64,
    /// Rate at which one CPU core copies memory (memcpy), bytes per second; also the streaming
    /// bandwidth one CPU core can draw.
    pub copy_bytes_per_s: f64,
}

/// Persistent storage, for cold starts.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageSpec {
    /// Sequential read rate in bytes per second (eMMC or NVMe).
    pub read_bytes_per_s: f64,
}

/// One processing engine and the parameters of its cost model.
#[derive(Clone, Debug, PartialEq)]
pub struct AcceleratorSpec {
    /// Unique name within the device: `cpu`, `gpu`, `dla0`, `dla1`.
    pub name: String,
    /// What kind of engine it is.
    pub kind: AcceleratorKind,
    /// Precision networks run at on this engine.
    pub precision: Precision,
    /// Peak rate of the whole engine at `precision`, operations per second (dense, no sparsity).
    pub peak_flops_per_s: f64,
    /// Cores of a CPU; 1 for other engines. An instance holding `n` CPU cores gets `n / cores`
    /// of `peak_flops_per_s`.
    pub cores: u32,
    /// Fraction of peak reached by dense math (conv, fc, matmul, recurrent), in (0, 1].
    pub dense_efficiency: f64,
    /// Fraction of peak reached by other operators (element-wise, pooling, normalisation), in (0, 1].
    pub other_efficiency: f64,
    /// Fraction of the memory bandwidth this engine's kernels reach, in (0, 1].
    pub bandwidth_efficiency: f64,
    /// Fixed time per operator (kernel launch, layer dispatch), nanoseconds.
    pub launch_overhead_ns: u64,
    /// CPU only: memory of one ONNX Runtime CPU session beyond weights and activations (its
    /// arena and thread pool). On the GPU and DLAs the runtime profile gives the process and
    /// context memory (`hwprofiles/runtimes/`); 0 there.
    pub runtime_overhead_bytes: u64,
    /// GPU only: fraction of the GPU's time lost to context switches while kernels of several
    /// processes time-slice it, in [0, 1). 0 elsewhere.
    pub process_switch_overhead: f64,
    /// DLA only: fraction of the GPU a running DLA takes from GPU work (reformat kernels
    /// TensorRT runs on the GPU, scheduling, the shared memory controller), ≥ 0. 0 elsewhere.
    pub gpu_interference: f64,
    /// Bandwidth limit of the engine's memory port, bytes per second, if below the DRAM's.
    pub max_bandwidth_bytes_per_s: Option<f64>,
    /// DLA only: fixed cost of each DLA↔GPU hand-over when unsupported layers fall back to the
    /// GPU (synchronisation and reformat-kernel launch), nanoseconds. 0 for other engines.
    pub fallback_transition_ns: u64,
    /// Clock the peak was derived from, hertz; informational.
    pub clock_hz: Option<f64>,
}

impl AcceleratorSpec {
    /// The CPU cores an instance holds to have this engine to itself: all of a CPU's, one (its
    /// launch thread) elsewhere.
    pub fn whole_engine_cores(&self) -> u32 {
        if self.kind == AcceleratorKind::Cpu {
            self.cores
        } else {
            1
        }
    }

    /// Efficiency for an operator of class `dense` (see `OpKind::is_dense_math`).
    pub fn efficiency(&self, dense: bool) -> f64 {
        if dense {
            self.dense_efficiency
        } else {
            self.other_efficiency
        }
    }
}

/// Why a device profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read device profile {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The text is not a valid profile: TOML syntax, an unknown or missing key, a value of the
    /// wrong type or a unit that does not parse. The message shows the offending line.
    #[error("invalid device profile {origin}: {message}")]
    Parse {
        /// The file name (or `builtin:<name>`).
        origin: String,
        /// The parser's message, with the line and key.
        message: String,
    },
    /// A value parsed but is out of range.
    #[error("invalid device profile {origin}: field `{field}`: {message}")]
    Invalid {
        /// The file name (or `builtin:<name>`).
        origin: String,
        /// The field, as a path: `memory.bandwidth`, `accelerators[2].dense_efficiency`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// A range violation found by validation: the field path and what is allowed.
#[derive(Debug)]
struct FieldError {
    field: String,
    message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

fn field_error(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// The built-in profiles: (name, file text).
const BUILTIN: [(&str, &str); 4] = [
    (
        "xavier-agx",
        include_str!("../../../hwprofiles/xavier-agx.toml"),
    ),
    (
        "xavier-nx",
        include_str!("../../../hwprofiles/xavier-nx.toml"),
    ),
    (
        "orin-agx",
        include_str!("../../../hwprofiles/orin-agx.toml"),
    ),
    (
        "server-32core",
        include_str!("../../../hwprofiles/server-32core.toml"),
    ),
];

/// Names accepted by [`DeviceProfile::builtin`].
const BUILTIN_NAMES: [&str; 4] = [BUILTIN[0].0, BUILTIN[1].0, BUILTIN[2].0, BUILTIN[3].0];

impl DeviceProfile {
    /// Parses and validates a profile from TOML text; `origin` (a file name) is used in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ProfileError> {
        let file: ProfileFile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        file.resolve().map_err(|e| ProfileError::Invalid {
            origin: origin.to_owned(),
            field: e.field,
            message: e.message,
        })
    }

    /// Reads, parses and validates a profile file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ProfileError> {
        let path = path.as_ref();
        let text = crate::input::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// The TOML text of a built-in profile, by name.
    pub fn builtin_text(name: &str) -> Option<&'static str> {
        BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// A profile shipped with the simulator, by name (see [`Self::builtin_names`]).
    pub fn builtin(name: &str) -> Option<Self> {
        let (name, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        let profile = Self::from_toml_str(text, &format!("builtin:{name}"));
        // The built-in files are checked by this module's tests; failing here is a build defect.
        Some(profile.unwrap_or_else(|e| panic!("{e}")))
    }

    /// Names of the built-in profiles.
    pub fn builtin_names() -> &'static [&'static str] {
        &BUILTIN_NAMES
    }

    /// Index of the engine called `name`.
    pub fn accelerator(&self, name: &str) -> Option<usize> {
        self.accelerators.iter().position(|a| a.name == name)
    }

    /// Index of the engine called `name`, or an error that lists the device's engines.
    pub fn accelerator_named(&self, name: &str) -> Result<usize, String> {
        self.accelerator(name).ok_or_else(|| {
            let known: Vec<&str> = self.accelerators.iter().map(|a| a.name.as_str()).collect();
            format!(
                "no accelerator `{name}` (the device has {})",
                known.join(", ")
            )
        })
    }

    /// This device with its CPU split into `groups` accelerators of equal cores (`cpu0`,
    /// `cpu1`, …, in the CPU's place), each with its share of the CPU's peak: execution places
    /// pinned to their cores. Errors when the cores do not divide evenly or there are several
    /// CPUs already.
    pub fn with_cpu_groups(mut self, groups: u32) -> Result<DeviceProfile, String> {
        let cpus: Vec<usize> = (0..self.accelerators.len())
            .filter(|&a| self.accelerators[a].kind == AcceleratorKind::Cpu)
            .collect();
        let [cpu] = cpus[..] else {
            return Err(format!(
                "the profile has {} CPUs; only one CPU can be split",
                cpus.len()
            ));
        };
        let cores = self.accelerators[cpu].cores;
        if groups == 0 || !cores.is_multiple_of(groups) {
            return Err(format!(
                "must divide the CPU's {cores} cores evenly (1 to {cores}), got {groups}"
            ));
        }
        if groups == 1 {
            return Ok(self);
        }
        let whole = self.accelerators.remove(cpu);
        let parts = (0..groups).map(|g| AcceleratorSpec {
            name: format!("cpu{g}"),
            cores: cores / groups,
            peak_flops_per_s: whole.peak_flops_per_s / f64::from(groups),
            ..whole.clone()
        });
        self.accelerators.splice(cpu..cpu, parts);
        Ok(self)
    }

    /// Index of the CPU (validation guarantees exactly one).
    pub fn cpu(&self) -> usize {
        self.first_of(AcceleratorKind::Cpu).unwrap_or(0)
    }

    /// Index of the first GPU, where DLA fallback layers run.
    pub fn gpu(&self) -> Option<usize> {
        self.first_of(AcceleratorKind::Gpu)
    }

    /// Index of the first engine of `kind`.
    pub fn first_of(&self, kind: AcceleratorKind) -> Option<usize> {
        self.accelerators.iter().position(|a| a.kind == kind)
    }

    /// Memory available to serving: capacity less the reserved part, bytes.
    pub fn usable_memory_bytes(&self) -> u64 {
        self.memory.capacity_bytes - self.memory.reserved_bytes
    }
}

impl Serialize for DeviceProfile {
    /// Writes the file form, with units.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ProfileFile::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for DeviceProfile {
    /// Reads the file form and validates it.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ProfileFile::deserialize(d)?
            .resolve()
            .map_err(serde::de::Error::custom)
    }
}

// ---- the file form -------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    memory: MemoryFile,
    storage: StorageFile,
    accelerators: Vec<AcceleratorFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryFile {
    capacity: ByteSize,
    bandwidth: ByteRate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    achievable_bandwidth: Option<ByteRate>,
    reserved: ByteSize,
    cpu_copy_bandwidth: ByteRate,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageFile {
    read_bandwidth: ByteRate,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceleratorFile {
    name: String,
    kind: AcceleratorKind,
    precision: Precision,
    peak: FlopRate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cores: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clock: Option<Frequency>,
    dense_efficiency: f64,
    other_efficiency: f64,
    bandwidth_efficiency: f64,
    launch_overhead: TimeSpan,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime_overhead: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    process_switch_overhead: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gpu_interference: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_bandwidth: Option<ByteRate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fallback_transition: Option<TimeSpan>,
}

/// Smallest rate a profile may give (bytes/s, FLOP/s, Hz): 10⁶, a thousand times below the
/// slowest engine or link a Jetson has; below it a unit is surely mistaken, and times computed
/// from it could pass the 584 years a nanosecond count holds.
const MIN_RATE: f64 = 1e6;

/// A rate: finite and at least [`MIN_RATE`].
fn positive(field: &str, x: f64) -> Result<f64, FieldError> {
    if x >= MIN_RATE && x.is_finite() {
        Ok(x)
    } else if x > 0.0 && x.is_finite() {
        Err(field_error(
            field,
            format!("{x} per second is below the 1e6 a profile may give: check the unit"),
        ))
    } else {
        Err(field_error(
            field,
            format!("must be greater than zero (got {x})"),
        ))
    }
}

fn fraction(field: &str, x: f64) -> Result<f64, FieldError> {
    if x > 0.0 && x <= 1.0 {
        Ok(x)
    } else {
        Err(field_error(field, format!("must be in (0, 1] (got {x})")))
    }
}

/// A field that belongs to engines of kind `owner` only: its value there (an error if it is
/// missing and `required` says why it is needed), nothing elsewhere (an error, `elsewhere` + the
/// engine's kind, if it is given).
fn only_on<T>(
    kind: AcceleratorKind,
    owner: AcceleratorKind,
    value: Option<T>,
    field: &str,
    required: Option<&str>,
    elsewhere: &str,
) -> Result<Option<T>, FieldError> {
    match (kind == owner, value, required) {
        (true, None, Some(why)) => Err(field_error(field, why)),
        (true, v, _) => Ok(v),
        (false, None, _) => Ok(None),
        (false, Some(_), _) => Err(field_error(field, format!("{elsewhere} {}", kind.name()))),
    }
}

impl ProfileFile {
    fn resolve(self) -> Result<DeviceProfile, FieldError> {
        if self.name.trim().is_empty() {
            return Err(field_error("name", "must not be empty"));
        }
        let m = &self.memory;
        if m.capacity.0 == 0 {
            return Err(field_error("memory.capacity", "must be greater than zero"));
        }
        if m.reserved.0 >= m.capacity.0 {
            return Err(field_error(
                "memory.reserved",
                format!("must be less than memory.capacity ({})", m.capacity),
            ));
        }
        let bandwidth = positive("memory.bandwidth", m.bandwidth.0)?;
        let achievable = match m.achievable_bandwidth {
            None => bandwidth,
            Some(a) => {
                let a = positive("memory.achievable_bandwidth", a.0)?;
                if a > bandwidth {
                    return Err(field_error(
                        "memory.achievable_bandwidth",
                        format!("must not exceed memory.bandwidth ({})", m.bandwidth),
                    ));
                }
                a
            }
        };
        let memory = MemorySpec {
            capacity_bytes: m.capacity.0,
            bandwidth_bytes_per_s: bandwidth,
            achievable_bytes_per_s: achievable,
            reserved_bytes: m.reserved.0,
            copy_bytes_per_s: positive("memory.cpu_copy_bandwidth", m.cpu_copy_bandwidth.0)?,
        };
        let storage = StorageSpec {
            read_bytes_per_s: positive("storage.read_bandwidth", self.storage.read_bandwidth.0)?,
        };
        if self.accelerators.is_empty() {
            return Err(field_error(
                "accelerators",
                "at least one engine (the CPU) is required",
            ));
        }
        let mut names = HashSet::new();
        let mut accelerators = Vec::with_capacity(self.accelerators.len());
        for (i, a) in self.accelerators.into_iter().enumerate() {
            let at = |key: &str| format!("accelerators[{i}].{key}");
            if a.name.trim().is_empty() {
                return Err(field_error(at("name"), "must not be empty"));
            }
            if !names.insert(a.name.clone()) {
                return Err(field_error(
                    at("name"),
                    format!("duplicate engine name \"{}\"", a.name),
                ));
            }
            let cores = match (a.kind, a.cores) {
                (AcceleratorKind::Cpu, Some(n)) if n >= 1 => n,
                (AcceleratorKind::Cpu, _) => {
                    return Err(field_error(
                        at("cores"),
                        "a CPU needs its core count, at least 1",
                    ));
                }
                (_, None | Some(1)) => 1,
                (kind, Some(n)) => {
                    return Err(field_error(
                        at("cores"),
                        format!("only a CPU has cores; a {} has 1 (got {n})", kind.name()),
                    ));
                }
            };
            if a.kind == AcceleratorKind::Dla && a.precision == Precision::Fp32 {
                // TensorRT Developer Guide, "Working with DLA": DLA runs FP16 and INT8 only.
                return Err(field_error(at("precision"), "a DLA runs fp16 or int8 only"));
            }
            let fallback_transition_ns = only_on(
                a.kind,
                AcceleratorKind::Dla,
                a.fallback_transition,
                &at("fallback_transition"),
                Some("required for a DLA: fixed cost of each DLA↔GPU hand-over, e.g. \"50us\""),
                "only a DLA falls back to the GPU; remove it from this",
            )?
            .map_or(0, TimeSpan::as_ns);
            let runtime_overhead_bytes = only_on(
                a.kind,
                AcceleratorKind::Cpu,
                a.runtime_overhead,
                &at("runtime_overhead"),
                Some(
                    "required for the CPU: memory of one ONNX Runtime CPU session beyond \
                     weights and activations, e.g. \"64MiB\"",
                ),
                "runtime memory is the runtime profile's now (hwprofiles/runtimes/*.toml: \
                 memory.process and memory.context, chosen with serving.runtime); remove it \
                 from this",
            )?
            .map_or(0, |b| b.0);
            let process_switch_overhead = only_on(
                a.kind,
                AcceleratorKind::Gpu,
                a.process_switch_overhead,
                &at("process_switch_overhead"),
                None,
                "only a GPU time-slices processes; remove it from this",
            )?
            .unwrap_or(0.0);
            if !(0.0..1.0).contains(&process_switch_overhead) {
                return Err(field_error(
                    at("process_switch_overhead"),
                    format!("must be in [0, 1) (got {process_switch_overhead})"),
                ));
            }
            let gpu_interference = only_on(
                a.kind,
                AcceleratorKind::Dla,
                a.gpu_interference,
                &at("gpu_interference"),
                None,
                "only a DLA interferes with the GPU; remove it from this",
            )?
            .unwrap_or(0.0);
            if !(gpu_interference >= 0.0 && gpu_interference.is_finite()) {
                return Err(field_error(
                    at("gpu_interference"),
                    format!("must be a finite number ≥ 0 (got {gpu_interference})"),
                ));
            }
            let max_bandwidth_bytes_per_s = a
                .max_bandwidth
                .map(|b| positive(&at("max_bandwidth"), b.0))
                .transpose()?;
            let clock_hz = a.clock.map(|c| positive(&at("clock"), c.0)).transpose()?;
            accelerators.push(AcceleratorSpec {
                peak_flops_per_s: positive(&at("peak"), a.peak.0)?,
                dense_efficiency: fraction(&at("dense_efficiency"), a.dense_efficiency)?,
                other_efficiency: fraction(&at("other_efficiency"), a.other_efficiency)?,
                bandwidth_efficiency: fraction(
                    &at("bandwidth_efficiency"),
                    a.bandwidth_efficiency,
                )?,
                name: a.name,
                kind: a.kind,
                precision: a.precision,
                cores,
                launch_overhead_ns: a.launch_overhead.as_ns(),
                runtime_overhead_bytes,
                process_switch_overhead,
                gpu_interference,
                max_bandwidth_bytes_per_s,
                fallback_transition_ns,
                clock_hz,
            });
        }
        let cpus = accelerators
            .iter()
            .filter(|a| a.kind == AcceleratorKind::Cpu)
            .count();
        if cpus == 0 {
            return Err(field_error(
                "accelerators",
                "a CPU is required (found none)",
            ));
        }
        let has = |k| accelerators.iter().any(|a: &AcceleratorSpec| a.kind == k);
        if has(AcceleratorKind::Dla) && !has(AcceleratorKind::Gpu) {
            return Err(field_error(
                "accelerators",
                "a DLA needs a GPU for the layers it cannot run (TensorRT GPU fallback)",
            ));
        }
        Ok(DeviceProfile {
            name: self.name,
            memory,
            storage,
            accelerators,
        })
    }
}

impl From<&DeviceProfile> for ProfileFile {
    fn from(p: &DeviceProfile) -> Self {
        ProfileFile {
            name: p.name.clone(),
            memory: MemoryFile {
                capacity: ByteSize(p.memory.capacity_bytes),
                bandwidth: ByteRate(p.memory.bandwidth_bytes_per_s),
                achievable_bandwidth: (p.memory.achievable_bytes_per_s
                    != p.memory.bandwidth_bytes_per_s)
                    .then_some(ByteRate(p.memory.achievable_bytes_per_s)),
                reserved: ByteSize(p.memory.reserved_bytes),
                cpu_copy_bandwidth: ByteRate(p.memory.copy_bytes_per_s),
            },
            storage: StorageFile {
                read_bandwidth: ByteRate(p.storage.read_bytes_per_s),
            },
            accelerators: p
                .accelerators
                .iter()
                .map(|a| AcceleratorFile {
                    name: a.name.clone(),
                    kind: a.kind,
                    precision: a.precision,
                    peak: FlopRate(a.peak_flops_per_s),
                    cores: (a.kind == AcceleratorKind::Cpu).then_some(a.cores),
                    clock: a.clock_hz.map(Frequency),
                    dense_efficiency: a.dense_efficiency,
                    other_efficiency: a.other_efficiency,
                    bandwidth_efficiency: a.bandwidth_efficiency,
                    launch_overhead: TimeSpan(SimDuration::from_ns(a.launch_overhead_ns)),
                    runtime_overhead: (a.kind == AcceleratorKind::Cpu)
                        .then_some(ByteSize(a.runtime_overhead_bytes)),
                    process_switch_overhead: (a.kind == AcceleratorKind::Gpu)
                        .then_some(a.process_switch_overhead),
                    gpu_interference: (a.kind == AcceleratorKind::Dla)
                        .then_some(a.gpu_interference),
                    max_bandwidth: a.max_bandwidth_bytes_per_s.map(ByteRate),
                    fallback_transition: (a.kind == AcceleratorKind::Dla)
                        .then(|| TimeSpan(SimDuration::from_ns(a.fallback_transition_ns))),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_groups_split_the_cores_and_the_peak_and_keep_the_rest() {
        let agx = DeviceProfile::builtin("xavier-agx").unwrap();
        let cpu = agx.accelerators[agx.cpu()].clone();
        let split = agx.clone().with_cpu_groups(4).unwrap();
        let names: Vec<&str> = split.accelerators.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["cpu0", "cpu1", "cpu2", "cpu3", "gpu", "dla0", "dla1"]
        );
        for g in &split.accelerators[..4] {
            assert_eq!(g.kind, AcceleratorKind::Cpu);
            assert_eq!(g.cores, cpu.cores / 4);
            assert_eq!(g.peak_flops_per_s, cpu.peak_flops_per_s / 4.0);
            assert_eq!(g.dense_efficiency, cpu.dense_efficiency);
        }
        assert_eq!(split.cpu(), 0);
        assert_eq!(split.memory, agx.memory);
        assert_eq!(agx.clone().with_cpu_groups(1).unwrap(), agx);
        let e = agx.clone().with_cpu_groups(3).unwrap_err();
        assert!(e.contains("8 cores evenly"), "{e}");
        assert!(split.with_cpu_groups(2).unwrap_err().contains("4 CPUs"));
    }

    #[test]
    fn runtime_memory_is_the_cpus_only_and_new_fields_are_checked() {
        let gpu_overhead = MINIMAL.replace(
            "name = \"gpu\"",
            "name = \"gpu\"\nruntime_overhead = \"400MiB\"",
        );
        let e = DeviceProfile::from_toml_str(&gpu_overhead, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("accelerators[1].runtime_overhead") && e.contains("memory.process"),
            "{e}"
        );
        let switch = MINIMAL.replace(
            "name = \"gpu\"",
            "name = \"gpu\"\nprocess_switch_overhead = 1.5",
        );
        let e = DeviceProfile::from_toml_str(&switch, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("process_switch_overhead") && e.contains("[0, 1)"),
            "{e}"
        );
        let cpu_interference =
            MINIMAL.replace("name = \"cpu\"", "name = \"cpu\"\ngpu_interference = 0.1");
        let e = DeviceProfile::from_toml_str(&cpu_interference, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("only a DLA"), "{e}");
        let achievable = MINIMAL.replace(
            "bandwidth = \"50GB/s\"",
            "bandwidth = \"50GB/s\"\nachievable_bandwidth = \"60GB/s\"",
        );
        let e = DeviceProfile::from_toml_str(&achievable, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory.achievable_bandwidth"), "{e}");
        let agx = DeviceProfile::builtin("xavier-agx").unwrap();
        assert_eq!(agx.memory.achievable_bytes_per_s, 110.6e9);
        assert!(agx.accelerators[agx.gpu().unwrap()].process_switch_overhead > 0.0);
    }

    /// A small valid profile; tests edit one line of it.
    const MINIMAL: &str = r#"
name = "test-device"

[memory]
capacity = "8GiB"
bandwidth = "50GB/s"
reserved = "1GiB"
cpu_copy_bandwidth = "5GB/s"

[storage]
read_bandwidth = "300MB/s"

[[accelerators]]
name = "cpu"
kind = "cpu"
precision = "fp32"
peak = "100GFLOPS"
cores = 4
dense_efficiency = 0.5
other_efficiency = 0.2
bandwidth_efficiency = 0.6
launch_overhead = "5us"
runtime_overhead = "64MiB"

[[accelerators]]
name = "gpu"
kind = "gpu"
precision = "fp16"
peak = "5TFLOPS"
dense_efficiency = 0.5
other_efficiency = 0.2
bandwidth_efficiency = 0.7
launch_overhead = "10us"

[[accelerators]]
name = "dla0"
kind = "dla"
precision = "fp16"
peak = "2TFLOPS"
dense_efficiency = 0.5
other_efficiency = 0.2
bandwidth_efficiency = 0.5
launch_overhead = "20us"
fallback_transition = "50us"
"#;

    fn parse(text: &str) -> Result<DeviceProfile, ProfileError> {
        DeviceProfile::from_toml_str(text, "test.toml")
    }

    #[test]
    fn minimal_profile_loads_with_units_resolved() {
        let p = parse(MINIMAL).unwrap();
        assert_eq!(p.memory.capacity_bytes, 8 << 30);
        assert_eq!(p.memory.bandwidth_bytes_per_s, 50e9);
        assert_eq!(p.usable_memory_bytes(), 7 << 30);
        assert_eq!(p.accelerators[0].cores, 4);
        assert_eq!(p.accelerators[1].cores, 1);
        assert_eq!(p.accelerators[2].fallback_transition_ns, 50_000);
        assert_eq!(p.accelerator("dla0"), Some(2));
        assert_eq!(p.accelerator("dla9"), None);
        assert_eq!((p.cpu(), p.gpu()), (0, Some(1)));
    }

    #[test]
    fn every_builtin_profile_loads() {
        for name in DeviceProfile::builtin_names() {
            let (_, text) = BUILTIN.iter().find(|(n, _)| n == name).unwrap();
            let p = DeviceProfile::from_toml_str(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.first_of(AcceleratorKind::Cpu), Some(p.cpu()));
            let dlas = p
                .accelerators
                .iter()
                .filter(|a| a.kind == AcceleratorKind::Dla)
                .count();
            if *name == "server-32core" {
                // The thesis' many-core server: one 32-core CPU, nothing else.
                assert_eq!(p.accelerators.len(), 1);
                assert_eq!(p.accelerators[0].cores, 32);
            } else {
                // The Jetsons: a CPU, a GPU and two DLAs.
                assert!(p.gpu().is_some(), "{name} has a GPU");
                assert_eq!(dlas, 2, "{name}");
            }
            assert!(DeviceProfile::builtin(name).is_some());
        }
        assert!(DeviceProfile::builtin("tx2").is_none());
    }

    #[test]
    fn profiles_round_trip_through_toml_with_units() {
        for name in DeviceProfile::builtin_names() {
            let p = DeviceProfile::builtin(name).unwrap();
            let text = toml::to_string(&p).unwrap();
            assert!(text.contains("GB/s"), "{text}");
            assert_eq!(parse(&text).unwrap(), p, "{name}");
            let via_serde: DeviceProfile = toml::from_str(&text).unwrap();
            assert_eq!(via_serde, p);
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace(
            "reserved = \"1GiB\"",
            "reserved = \"1GiB\"\nswap = \"4GiB\"",
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("test.toml") && err.contains("swap"), "{err}");
    }

    #[test]
    fn negative_bandwidth_is_named() {
        let text = MINIMAL.replace("\"50GB/s\"", "\"-50GB/s\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("test.toml") && err.contains("bandwidth"),
            "{err}"
        );
        assert!(err.contains("negative"), "{err}");
    }

    #[test]
    fn missing_unit_is_named_with_the_allowed_suffixes() {
        let text = MINIMAL.replace("capacity = \"8GiB\"", "capacity = \"8\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("capacity") && err.contains("GiB"), "{err}");
        let text = MINIMAL.replace("capacity = \"8GiB\"", "capacity = 8");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("capacity") && err.contains("GiB"), "{err}");
    }

    #[test]
    fn range_errors_name_the_field() {
        let cases = [
            (
                "dense_efficiency = 0.5\nother_efficiency = 0.2\nbandwidth_efficiency = 0.7",
                "dense_efficiency = 1.5\nother_efficiency = 0.2\nbandwidth_efficiency = 0.7",
                "accelerators[1].dense_efficiency",
            ),
            (
                "peak = \"5TFLOPS\"",
                "peak = \"0TFLOPS\"",
                "accelerators[1].peak",
            ),
            (
                "capacity = \"8GiB\"",
                "capacity = \"0GiB\"",
                "memory.capacity",
            ),
            (
                "reserved = \"1GiB\"",
                "reserved = \"9GiB\"",
                "memory.reserved",
            ),
            ("name = \"dla0\"", "name = \"gpu\"", "accelerators[2].name"),
            (
                "kind = \"gpu\"",
                "kind = \"cpu\"\ncores = 2\nruntime_overhead = \"1MiB\"",
                "accelerators",
            ),
            ("cores = 4\n", "", "accelerators[0].cores"),
            (
                "fallback_transition = \"50us\"\n",
                "",
                "accelerators[2].fallback_transition",
            ),
        ];
        for (from, to, field) in cases {
            assert!(MINIMAL.contains(from), "{from}");
            let err = parse(&MINIMAL.replacen(from, to, 1)).unwrap_err();
            match &err {
                ProfileError::Invalid {
                    origin, field: f, ..
                } => {
                    assert_eq!((origin.as_str(), f.as_str()), ("test.toml", field), "{err}");
                }
                other => panic!("expected a range error for {field}, got {other}"),
            }
        }
    }

    #[test]
    fn dla_without_gpu_and_fp32_dla_are_refused() {
        let no_gpu = MINIMAL.replacen(
            "kind = \"gpu\"",
            "kind = \"dla\"\nfallback_transition = \"1us\"",
            1,
        );
        let err = parse(&no_gpu).unwrap_err().to_string();
        assert!(err.contains("needs a GPU"), "{err}");
        let fp32 = MINIMAL.replace(
            "precision = \"fp16\"\npeak = \"2TFLOPS\"",
            "precision = \"fp32\"\npeak = \"2TFLOPS\"",
        );
        let err = parse(&fp32).unwrap_err().to_string();
        assert!(err.contains("accelerators[2].precision"), "{err}");
    }

    #[test]
    fn load_names_a_missing_file() {
        let err = DeviceProfile::load("/nonexistent/dir/device.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/dir/device.toml"), "{err}");
    }
}
