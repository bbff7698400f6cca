//! Runtime profiles: what an execution stack (TensorRT, ONNX Runtime, PyTorch eager) adds on top
//! of the kernels a device runs — host time per operator and per batch on a CPU core of the
//! serving process, which operators it fuses into one kernel, the ramp of its kernels, how good its dense kernels are, and the memory a process and an execution context
//! cost.
//!
//! Runtime profiles are TOML files beside the device profiles (`hwprofiles/runtimes/`, the format
//! in `hwprofiles/README.md`); three are built in ([`RuntimeProfile::builtin`]). A runtime drives
//! the GPU. A DLA is driven by TensorRT whatever the deployment's runtime (the only stack that
//! runs DLA loadables), and the CPU runs ONNX Runtime's CPU provider as the device profile's CPU
//! parameters describe (`hil profile` measures them).

use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::operator::OpKind;
use crate::units::{ByteSize, Frequency, TimeSpan};

/// Operator classes as runtime profiles name them: an [`OpKind`] with all activation functions
/// in one class.
pub fn op_class(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Activation(_) => "activation",
        k => k.name(),
    }
}

/// The classes a profile may list.
pub const OP_CLASSES: [&str; 16] = [
    "conv",
    "deconv",
    "fc",
    "matmul",
    "activation",
    "pool",
    "lrn",
    "batchnorm",
    "layernorm",
    "eltwise",
    "concat",
    "resize",
    "softmax",
    "shuffle",
    "embedding",
    "recurrent",
];

/// The position of `kind`'s class in [`OP_CLASSES`] (what [`op_class`] names), without
/// comparing strings: the cost model asks it for every operator it plans.
fn class_index(kind: OpKind) -> usize {
    match kind {
        OpKind::Conv => 0,
        OpKind::Deconv => 1,
        OpKind::FullyConnected => 2,
        OpKind::MatMul => 3,
        OpKind::Activation(_) => 4,
        OpKind::Pooling => 5,
        OpKind::Lrn => 6,
        OpKind::BatchNorm => 7,
        OpKind::LayerNorm => 8,
        OpKind::Elementwise => 9,
        OpKind::Concat => 10,
        OpKind::Resize => 11,
        OpKind::Softmax => 12,
        OpKind::Shuffle => 13,
        OpKind::Embedding => 14,
        OpKind::Recurrent => 15,
    }
}

/// A set of operator classes ([`OP_CLASSES`]), one bit each: a look-up per operator costs a
/// shift, and the classes iterate in [`OP_CLASSES`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpClasses(u32);

impl OpClasses {
    /// The set of no class.
    pub const EMPTY: OpClasses = OpClasses(0);

    /// The set of these class names; `Err(name)` for the first that is not one of
    /// [`OP_CLASSES`].
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, &'a str> {
        let mut set = OpClasses::EMPTY;
        for name in names {
            let k = OP_CLASSES.iter().position(|c| *c == name).ok_or(name)?;
            set.0 |= 1 << k;
        }
        Ok(set)
    }

    /// Whether operators of `kind` are in the set.
    pub fn contains_kind(self, kind: OpKind) -> bool {
        self.0 & (1 << class_index(kind)) != 0
    }

    /// Whether the class named `class` is in the set.
    pub fn contains(self, class: &str) -> bool {
        self.iter().any(|c| c == class)
    }

    /// The classes in both sets.
    pub fn intersection(self, other: OpClasses) -> OpClasses {
        OpClasses(self.0 & other.0)
    }

    /// The class names in the set, in [`OP_CLASSES`] order.
    pub fn iter(self) -> impl Iterator<Item = &'static str> {
        OP_CLASSES
            .iter()
            .enumerate()
            .filter(move |(k, _)| self.0 & (1 << k) != 0)
            .map(|(_, c)| *c)
    }
}

/// An execution stack's costs beyond the kernels.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeProfile {
    /// Name used in scenarios: `tensorrt`, `onnxruntime`, `pytorch`.
    pub name: String,
    /// One line on what the stack is.
    pub description: String,
    /// Host time per operator that launches a kernel (dispatch, argument set-up, launch), ns at
    /// [`Self::reference_clock_hz`].
    pub host_per_kernel_ns: u64,
    /// Host time per operator that launches no kernel (views, eval-mode dropout, elided
    /// concatenations), ns at the reference clock.
    pub host_per_view_ns: u64,
    /// Host time per batch (input staging, enqueue, synchronisation, output), ns at the
    /// reference clock.
    pub host_per_batch_ns: u64,
    /// CPU clock the host times were measured at, Hz; on a device whose CPU runs at another
    /// clock they scale by the ratio.
    pub reference_clock_hz: f64,
    /// Time a kernel of this runtime's library spends filling and draining the GPU on top of its
    /// work, ns: a kernel of work `w` (its time at full occupancy) takes `w + ramp` and fills
    /// the engine by `w / (w + ramp)` on average — small kernels leave it mostly idle.
    pub kernel_ramp_ns: u64,
    /// Quality of the runtime's dense kernels relative to the device's `dense_efficiency`
    /// (TensorRT's tuned tactics = 1).
    pub dense_efficiency_scale: f64,
    /// Operator classes merged into the kernel before them on the same engine (conv+bn+relu).
    pub fuse: OpClasses,
    /// Operator classes that launch no kernel (their host cost is `host_per_view_ns`).
    pub no_kernel: OpClasses,
    /// Memory of one serving process of this runtime beyond any model: CUDA context, libraries.
    pub process_bytes: u64,
    /// Memory of one execution context (an instance) beyond its activations.
    pub context_bytes: u64,
    /// Whether execution contexts of one process share one copy of the weights.
    pub shares_weights: bool,
}

impl RuntimeProfile {
    /// Whether ops of `kind` are fused into the kernel before them.
    pub fn fuses(&self, kind: OpKind) -> bool {
        self.fuse.contains_kind(kind)
    }

    /// Whether ops of `kind` launch no kernel.
    pub fn launches_no_kernel(&self, kind: OpKind) -> bool {
        self.no_kernel.contains_kind(kind)
    }

    /// Factor host times are multiplied by on a CPU clocked at `cpu_clock_hz` (1 if unknown).
    pub fn host_scale(&self, cpu_clock_hz: Option<f64>) -> f64 {
        match cpu_clock_hz {
            Some(hz) if hz > 0.0 => self.reference_clock_hz / hz,
            _ => 1.0,
        }
    }

    /// Parses and validates a profile from TOML text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, RuntimeError> {
        let file: RuntimeFile = toml::from_str(text).map_err(|e| RuntimeError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        file.resolve()
            .map_err(|(field, message)| RuntimeError::Invalid {
                origin: origin.to_owned(),
                field,
                message,
            })
    }

    /// Reads, parses and validates a profile file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, RuntimeError> {
        let path = path.as_ref();
        let text = crate::input::read_to_string(path).map_err(|source| RuntimeError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// The TOML text of a built-in profile, by name.
    pub fn builtin_text(name: &str) -> Option<&'static str> {
        BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// A built-in profile by name ([`Self::builtin_names`]).
    pub fn builtin(name: &str) -> Option<Self> {
        let (name, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        let profile = Self::from_toml_str(text, &format!("builtin:runtimes/{name}"));
        // The built-in files are checked by this module's tests; failing here is a build defect.
        Some(profile.unwrap_or_else(|e| panic!("{e}")))
    }

    /// Names of the built-in runtime profiles.
    pub fn builtin_names() -> &'static [&'static str] {
        &BUILTIN_NAMES
    }

    /// TensorRT, the stack that drives DLAs whatever the deployment's runtime.
    pub fn tensorrt() -> Self {
        Self::tensorrt_ref().clone()
    }

    /// The built-in TensorRT profile, parsed once.
    pub fn tensorrt_ref() -> &'static RuntimeProfile {
        static TENSORRT: OnceLock<RuntimeProfile> = OnceLock::new();
        TENSORRT.get_or_init(|| Self::builtin("tensorrt").expect("built-in tensorrt runtime"))
    }

    /// The profile called `name_or_path`: a built-in name, or a TOML file (relative paths from
    /// `base_dir`).
    pub fn resolve(name_or_path: &str, base_dir: &Path) -> Result<Self, RuntimeError> {
        if let Some(p) = Self::builtin(name_or_path) {
            return Ok(p);
        }
        if name_or_path.ends_with(".toml") {
            return Self::load(base_dir.join(name_or_path));
        }
        Err(RuntimeError::Unknown {
            name: name_or_path.to_owned(),
            known: BUILTIN_NAMES.join(", "),
        })
    }
}

/// Why a runtime profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The file could not be read.
    #[error("cannot read runtime profile {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Not valid TOML for a runtime profile (syntax, unknown key, wrong type, bad unit).
    #[error("invalid runtime profile {origin}: {message}")]
    Parse {
        /// The file name (or `builtin:runtimes/<name>`).
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// A value parsed but is out of range.
    #[error("invalid runtime profile {origin}: field `{field}`: {message}")]
    Invalid {
        /// The file name.
        origin: String,
        /// The field, as a path: `kernels.fuse[2]`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Neither a built-in name nor a `.toml` file.
    #[error("unknown runtime `{name}`: use one of {known}, or a runtime profile file (*.toml)")]
    Unknown {
        /// What was asked for.
        name: String,
        /// The built-in names.
        known: String,
    },
}

const BUILTIN: [(&str, &str); 3] = [
    (
        "tensorrt",
        include_str!("../../../hwprofiles/runtimes/tensorrt.toml"),
    ),
    (
        "onnxruntime",
        include_str!("../../../hwprofiles/runtimes/onnxruntime.toml"),
    ),
    (
        "pytorch",
        include_str!("../../../hwprofiles/runtimes/pytorch.toml"),
    ),
];

const BUILTIN_NAMES: [&str; 3] = [BUILTIN[0].0, BUILTIN[1].0, BUILTIN[2].0];

// ---- the file form -------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimeFile {
    name: String,
    description: String,
    host: HostFile,
    kernels: KernelsFile,
    memory: MemoryFile,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostFile {
    per_kernel: TimeSpan,
    per_view: TimeSpan,
    per_batch: TimeSpan,
    reference_clock: Frequency,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KernelsFile {
    ramp: TimeSpan,
    dense_efficiency_scale: f64,
    fuse: Vec<String>,
    no_kernel: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryFile {
    process: ByteSize,
    context: ByteSize,
    shared_weights: bool,
}

type FieldError = (String, String);

fn classes(field: &str, names: &[String]) -> Result<OpClasses, FieldError> {
    OpClasses::from_names(names.iter().map(String::as_str)).map_err(|unknown| {
        let i = names.iter().position(|n| n == unknown).unwrap_or(0);
        (
            format!("{field}[{i}]"),
            format!(
                "unknown operator class \"{unknown}\"; allowed: {}",
                OP_CLASSES.join(", ")
            ),
        )
    })
}

impl RuntimeFile {
    fn resolve(self) -> Result<RuntimeProfile, FieldError> {
        if self.name.trim().is_empty() {
            return Err(("name".into(), "must not be empty".into()));
        }
        let clock = self.host.reference_clock.0;
        if !(clock > 0.0 && clock.is_finite()) {
            return Err((
                "host.reference_clock".into(),
                "must be greater than zero".into(),
            ));
        }
        let scale = self.kernels.dense_efficiency_scale;
        if !(scale > 0.0 && scale <= 1.0) {
            return Err((
                "kernels.dense_efficiency_scale".into(),
                format!("must be in (0, 1] (got {scale})"),
            ));
        }
        let fuse = classes("kernels.fuse", &self.kernels.fuse)?;
        let no_kernel = classes("kernels.no_kernel", &self.kernels.no_kernel)?;
        if let Some(c) = fuse.intersection(no_kernel).iter().next() {
            return Err((
                "kernels.no_kernel".into(),
                format!("\"{c}\" is also in kernels.fuse; an operator class is one or the other"),
            ));
        }
        Ok(RuntimeProfile {
            name: self.name,
            description: self.description,
            host_per_kernel_ns: self.host.per_kernel.as_ns(),
            host_per_view_ns: self.host.per_view.as_ns(),
            host_per_batch_ns: self.host.per_batch.as_ns(),
            reference_clock_hz: clock,
            kernel_ramp_ns: self.kernels.ramp.as_ns(),
            dense_efficiency_scale: scale,
            fuse,
            no_kernel,
            process_bytes: self.memory.process.0,
            context_bytes: self.memory.context.0,
            shares_weights: self.memory.shared_weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ActivationFn;

    /// Every operator kind there is.
    fn every_kind() -> Vec<OpKind> {
        let mut kinds = vec![
            OpKind::Conv,
            OpKind::Deconv,
            OpKind::FullyConnected,
            OpKind::MatMul,
            OpKind::Pooling,
            OpKind::Lrn,
            OpKind::BatchNorm,
            OpKind::LayerNorm,
            OpKind::Elementwise,
            OpKind::Concat,
            OpKind::Resize,
            OpKind::Softmax,
            OpKind::Shuffle,
            OpKind::Embedding,
            OpKind::Recurrent,
        ];
        kinds.extend(
            [
                ActivationFn::Relu,
                ActivationFn::Relu6,
                ActivationFn::Sigmoid,
                ActivationFn::Tanh,
                ActivationFn::LeakyRelu,
                ActivationFn::Gelu,
                ActivationFn::Silu,
            ]
            .map(OpKind::Activation),
        );
        kinds
    }

    #[test]
    fn a_class_set_holds_exactly_the_kinds_of_its_class_names() {
        // Each class alone, and every other class: membership by kind matches by name.
        for (k, class) in OP_CLASSES.iter().enumerate() {
            let alone = OpClasses::from_names([*class]).unwrap();
            let others = OpClasses::from_names(
                OP_CLASSES
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .map(|(_, c)| *c),
            )
            .unwrap();
            assert_eq!(alone.iter().collect::<Vec<_>>(), [*class]);
            for kind in every_kind() {
                assert_eq!(
                    alone.contains_kind(kind),
                    op_class(kind) == *class,
                    "{kind:?}"
                );
                assert_eq!(
                    others.contains_kind(kind),
                    op_class(kind) != *class,
                    "{kind:?}"
                );
            }
        }
        // Every kind's class is a listed class.
        for kind in every_kind() {
            assert!(OP_CLASSES.contains(&op_class(kind)), "{kind:?}");
        }
        assert_eq!(OpClasses::from_names(["conv", "nope"]), Err("nope"));
        let set = OpClasses::from_names(["softmax", "conv"]).unwrap();
        assert_eq!(set.iter().collect::<Vec<_>>(), ["conv", "softmax"]);
        assert!(set.contains("softmax") && !set.contains("fc"));
    }

    #[test]
    fn builtin_profiles_load() {
        for name in RuntimeProfile::builtin_names() {
            let p = RuntimeProfile::builtin(name).unwrap();
            assert_eq!(&p.name, name);
        }
        let trt = RuntimeProfile::tensorrt();
        assert!(trt.fuses(OpKind::Activation(ActivationFn::Relu6)));
        assert!(trt.fuses(OpKind::BatchNorm));
        assert!(trt.launches_no_kernel(OpKind::Concat));
        let pt = RuntimeProfile::builtin("pytorch").unwrap();
        assert!(!pt.fuses(OpKind::BatchNorm));
        assert!(pt.host_per_kernel_ns > 10 * trt.host_per_kernel_ns);
    }

    #[test]
    fn errors_name_the_field_and_what_is_allowed() {
        let text = RuntimeProfile::builtin_names()
            .iter()
            .map(|n| BUILTIN.iter().find(|(b, _)| b == n).unwrap().1)
            .next()
            .unwrap();
        let bad = text.replacen("fuse = [", "fuse = [\"convolution\", ", 1);
        let e = RuntimeProfile::from_toml_str(&bad, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml") && e.contains("kernels.fuse[0]"), "{e}");
        assert!(e.contains("allowed: conv"), "{e}");
        let e = RuntimeProfile::resolve("tensorflow", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tensorrt, onnxruntime, pytorch"), "{e}");
        let bad = text.replace(
            "dense_efficiency_scale = 1.0",
            "dense_efficiency_scale = 1.5",
        );
        let e = RuntimeProfile::from_toml_str(&bad, "y.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dense_efficiency_scale") && e.contains("(0, 1]"),
            "{e}"
        );
    }

    #[test]
    fn host_times_scale_with_the_cpu_clock() {
        let p = RuntimeProfile::tensorrt();
        assert_eq!(p.host_scale(None), 1.0);
        let half = p.host_scale(Some(p.reference_clock_hz * 2.0));
        assert!((half - 0.5).abs() < 1e-12);
    }
}
