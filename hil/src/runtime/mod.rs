//! Running ONNX models with ONNX Runtime (through the `ort` crate, library loaded at run time).
//!
//! [`Runtime::get`] finds and loads `libonnxruntime` once per process ([`library`]) and holds
//! the ONNX Runtime environment; [`OnnxSession`] is one model ready to run on one
//! [`ExecutionProvider`]; [`PartitionChain`] runs split partitions one after another, each
//! fed the previous one's outputs, as the serving pipeline does.

pub mod library;
pub mod provider;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::value::{DynValue, Tensor};
use thiserror::Error;

pub use library::LibraryError;
pub use provider::{ExecutionProvider, TensorRtOptions};

use crate::onnx::proto::data_type;
use crate::onnx::{self, InputKind, proto::ModelProto};
use crate::split::Partition;

/// Why a model cannot be loaded or run.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// The ONNX Runtime library cannot be found or loaded.
    #[error(transparent)]
    Library(#[from] LibraryError),
    /// ONNX Runtime refused to create its environment.
    #[error("ONNX Runtime (`{}`) cannot create its environment: {reason}", library.display())]
    Environment {
        /// The library in use.
        library: PathBuf,
        /// ONNX Runtime's message.
        reason: String,
    },
    /// The loaded ONNX Runtime has no such execution provider, or it failed to start.
    #[error(
        "execution provider `{provider}` is not available in the ONNX Runtime loaded from `{}`: \
         {reason}. The PyPI `onnxruntime` wheel runs on the CPU only; for CUDA or TensorRT \
         (and the DLA) point {env} at a libonnxruntime built with them, e.g. NVIDIA's \
         onnxruntime-gpu build for JetPack",
        library.display(),
        env = library::ENV_VAR
    )]
    Provider {
        /// The provider asked for (`cuda`, `tensorrt-dla0`, …).
        provider: String,
        /// The library in use.
        library: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// ONNX Runtime rejected the model.
    #[error("ONNX Runtime cannot load model `{model}`: {reason}")]
    Load {
        /// The model's name or file.
        model: String,
        /// ONNX Runtime's message.
        reason: String,
    },
    /// The inputs given do not match the model's.
    #[error("model `{model}`: {reason}")]
    Inputs {
        /// The model's name.
        model: String,
        /// What does not match.
        reason: String,
    },
    /// Running the model failed.
    #[error("model `{model}` failed to run: {reason}")]
    Run {
        /// The model's name.
        model: String,
        /// ONNX Runtime's message.
        reason: String,
    },
}

/// A dense tensor in host memory, row-major: floats, or integer token ids held as whole floats.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    /// Shape, batch dimension first.
    pub shape: Vec<usize>,
    /// Elements.
    pub data: Vec<f32>,
    /// ONNX element type given to ONNX Runtime (`proto::data_type`: FLOAT, INT64 or INT32).
    pub elem_type: i32,
}

impl HostTensor {
    /// A float tensor of `shape` filled with `f(i)` for element `i`.
    pub fn from_fn(shape: &[usize], f: impl FnMut(usize) -> f32) -> Self {
        let n = shape.iter().product();
        HostTensor {
            shape: shape.to_vec(),
            data: (0..n).map(f).collect(),
            elem_type: data_type::FLOAT,
        }
    }

    /// A tensor of `shape` for an input that holds `kind`: floats from `f`, or token ids below
    /// the input's bound in a fixed pattern.
    pub fn for_input(shape: &[usize], kind: InputKind, f: impl FnMut(usize) -> f32) -> Self {
        match kind {
            InputKind::Float => Self::from_fn(shape, f),
            InputKind::Ids { elem_type, bound } => HostTensor {
                elem_type,
                ..Self::from_fn(shape, |i| onnx::synthetic_id(i, bound) as f32)
            },
        }
    }

    /// The ONNX Runtime value of this tensor.
    fn to_value(&self) -> ort::Result<DynValue> {
        let shape = self.shape.clone();
        Ok(match self.elem_type {
            data_type::INT64 => {
                let ids: Vec<i64> = self.data.iter().map(|&v| v as i64).collect();
                Tensor::from_array((shape, ids))?.into_dyn()
            }
            data_type::INT32 => {
                let ids: Vec<i32> = self.data.iter().map(|&v| v as i32).collect();
                Tensor::from_array((shape, ids))?.into_dyn()
            }
            _ => Tensor::from_array((shape, self.data.clone()))?.into_dyn(),
        })
    }

    /// A host copy of an ONNX Runtime float or integer value.
    fn from_value(value: &DynValue) -> ort::Result<Self> {
        if let Ok((shape, ids)) = value.try_extract_tensor::<i64>() {
            return Ok(HostTensor {
                shape: shape.iter().map(|&d| d as usize).collect(),
                data: ids.iter().map(|&v| v as f32).collect(),
                elem_type: data_type::INT64,
            });
        }
        let (shape, data) = value.try_extract_tensor::<f32>()?;
        Ok(HostTensor {
            shape: shape.iter().map(|&d| d as usize).collect(),
            data: data.to_vec(),
            elem_type: data_type::FLOAT,
        })
    }

    /// Largest absolute difference to `other`, or `None` when the shapes differ.
    pub fn max_abs_diff(&self, other: &HostTensor) -> Option<f32> {
        (self.shape == other.shape).then(|| {
            self.data
                .iter()
                .zip(&other.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max)
        })
    }
}

/// The loaded ONNX Runtime: one per process.
pub struct Runtime {
    env: ort::environment::Environment,
    library: PathBuf,
    version: String,
}

static RUNTIME: Mutex<Option<&'static Runtime>> = Mutex::new(None);

impl Runtime {
    /// The process's runtime, loading the library [`library::locate`] finds on first use.
    pub fn get() -> Result<&'static Runtime, RuntimeError> {
        Self::get_inner(None)
    }

    /// The process's runtime, loading the library at `path` on first use; an error if a
    /// different library was loaded already.
    pub fn from_library(path: &Path) -> Result<&'static Runtime, RuntimeError> {
        Self::get_inner(Some(path))
    }

    fn get_inner(path: Option<&Path>) -> Result<&'static Runtime, RuntimeError> {
        let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rt) = *slot {
            return match path {
                Some(p) if !same_file(p, &rt.library) => {
                    Err(RuntimeError::Library(LibraryError::AlreadyLoaded {
                        loaded: rt.library.clone(),
                        requested: p.to_path_buf(),
                    }))
                }
                _ => Ok(rt),
            };
        }
        let library = match path {
            Some(p) => p.to_path_buf(),
            None => library::locate()?,
        };
        if !library.is_file() {
            return Err(LibraryError::Load {
                path: library,
                reason: "no such file".into(),
            }
            .into());
        }
        let builder = ort::init_from(&library).map_err(|e| LibraryError::Load {
            path: library.clone(),
            reason: e.to_string(),
        })?;
        let env =
            builder
                .with_name("infscaler-hil")
                .build()
                .map_err(|e| RuntimeError::Environment {
                    library: library.clone(),
                    reason: e.to_string(),
                })?;
        let version = ort_version(&library);
        let rt: &'static Runtime = Box::leak(Box::new(Runtime {
            env,
            library,
            version,
        }));
        *slot = Some(rt);
        Ok(rt)
    }

    /// The library file in use.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// ONNX Runtime's version (from the library's file name, where it has one) and build
    /// information.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether the loaded library was built with `provider` (it may still fail to start, e.g.
    /// without a GPU).
    pub fn has_provider(&self, provider: &ExecutionProvider) -> Result<bool, RuntimeError> {
        use ort::ep::ExecutionProvider as _;
        let names = provider.ort_names();
        let check = |name: &str| match name {
            n if n == ort::ep::CUDA::NAME => ort::ep::CUDA::is_available(),
            n if n == ort::ep::TensorRT::NAME => ort::ep::TensorRT::is_available(),
            _ => Ok(true),
        };
        for name in names {
            let ok = check(name).map_err(|e| RuntimeError::Provider {
                provider: provider.label(),
                library: self.library.clone(),
                reason: e.to_string(),
            })?;
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The version from the library's file name (`libonnxruntime.so.1.32.0`, the wheel's layout)
/// when it carries one, then ONNX Runtime's build information (branch, commit, build type).
fn ort_version(library: &Path) -> String {
    let name = library
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = name
        .split_once(".so.")
        .map(|(_, v)| v)
        .or_else(|| {
            name.strip_prefix("libonnxruntime.")
                .and_then(|v| v.strip_suffix(".dylib"))
        })
        .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()));
    match version {
        Some(v) => format!("{v} ({})", ort::info()),
        None => ort::info().to_string(),
    }
}

/// How a session is set up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionConfig {
    /// Which execution provider runs it.
    pub provider: ExecutionProvider,
    /// Threads inside one operator on the CPU provider (`None`: ONNX Runtime's default, one per
    /// physical core).
    pub intra_threads: Option<usize>,
}

/// One model loaded into ONNX Runtime.
pub struct OnnxSession {
    session: Session,
    name: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

impl OnnxSession {
    /// Loads `model` (named `name` in errors).
    pub fn from_model(
        rt: &Runtime,
        model: &ModelProto,
        name: &str,
        config: &SessionConfig,
    ) -> Result<Self, RuntimeError> {
        Self::from_bytes(rt, &onnx::encode(model), name, config)
    }

    /// Loads the `.onnx` file at `path`.
    pub fn from_file(
        rt: &Runtime,
        path: &Path,
        config: &SessionConfig,
    ) -> Result<Self, RuntimeError> {
        let bytes = std::fs::read(path).map_err(|e| RuntimeError::Load {
            model: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_bytes(rt, &bytes, &path.display().to_string(), config)
    }

    /// Loads a model from the bytes of an `.onnx` file.
    pub fn from_bytes(
        rt: &Runtime,
        bytes: &[u8],
        name: &str,
        config: &SessionConfig,
    ) -> Result<Self, RuntimeError> {
        let load = |reason: String| RuntimeError::Load {
            model: name.to_string(),
            reason,
        };
        if !rt.has_provider(&config.provider)? {
            return Err(RuntimeError::Provider {
                provider: config.provider.label(),
                library: rt.library.clone(),
                reason: format!(
                    "the library was built without {}",
                    config.provider.ort_names().join(" / ")
                ),
            });
        }
        let mut builder = Session::builder(&rt.env).map_err(|e| load(e.to_string()))?;
        if let Some(n) = config.intra_threads {
            builder = builder
                .with_intra_threads(n)
                .map_err(|e| load(e.to_string()))?;
        }
        let mut builder = builder
            .with_execution_providers(config.provider.dispatch())
            .map_err(|e| RuntimeError::Provider {
                provider: config.provider.label(),
                library: rt.library.clone(),
                reason: e.to_string(),
            })?;
        let session = builder
            .commit_from_memory(bytes)
            .map_err(|e| load(e.to_string()))?;
        let inputs = session
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        let outputs = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        Ok(OnnxSession {
            session,
            name: name.to_string(),
            inputs,
            outputs,
        })
    }

    /// Names of the model's inputs, in order.
    pub fn input_names(&self) -> &[String] {
        &self.inputs
    }

    /// Names of the model's outputs, in order.
    pub fn output_names(&self) -> &[String] {
        &self.outputs
    }

    /// ONNX Runtime tensors of `inputs`, one per model input in the model's order.
    fn input_values(
        &self,
        inputs: &[(&str, &HostTensor)],
    ) -> Result<Vec<(String, DynValue)>, RuntimeError> {
        let err_inputs = |reason: String| RuntimeError::Inputs {
            model: self.name.clone(),
            reason,
        };
        let mut owned = Vec::with_capacity(self.inputs.len());
        for want in &self.inputs {
            let Some((_, t)) = inputs.iter().find(|(n, _)| n == want) else {
                return Err(err_inputs(format!(
                    "input `{want}` is not given (given: {:?})",
                    inputs.iter().map(|(n, _)| *n).collect::<Vec<_>>()
                )));
            };
            let value = t
                .to_value()
                .map_err(|e| err_inputs(format!("input `{want}`: {e}")))?;
            owned.push((want.clone(), value));
        }
        Ok(owned)
    }

    /// Runs the model on `inputs` (one per model input, by name); returns the outputs in the
    /// model's order.
    pub fn run(
        &mut self,
        inputs: &[(&str, &HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, RuntimeError> {
        // The input values must outlive the outputs: a model output that is also a model input
        // (a value a partition passes through) is handed back as the input's own buffer.
        let owned = self.input_values(inputs)?;
        let feed: Vec<(&str, &DynValue)> = owned.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let name = self.name.clone();
        let run_err = |reason: String| RuntimeError::Run {
            model: name.clone(),
            reason,
        };
        let outputs = self.session.run(feed).map_err(|e| run_err(e.to_string()))?;
        let mut result = Vec::with_capacity(self.outputs.len());
        for out in &self.outputs {
            let value = HostTensor::from_value(&outputs[out.as_str()])
                .map_err(|e| run_err(format!("output `{out}`: {e}")))?;
            result.push((out.clone(), value));
        }
        Ok(result)
    }
}

impl OnnxSession {
    /// Runs the model on ONNX Runtime values, one per model input by name, without copying
    /// them in or out; returns the outputs in the model's order. An output that is also an
    /// input (a value the partition passes through) is the input value itself.
    pub fn run_values(
        &mut self,
        inputs: &[(String, Arc<DynValue>)],
    ) -> Result<Vec<(String, Arc<DynValue>)>, RuntimeError> {
        let mut feed: Vec<(&str, &DynValue)> = Vec::with_capacity(self.inputs.len());
        for want in &self.inputs {
            let Some((_, v)) = inputs.iter().find(|(n, _)| n == want) else {
                return Err(RuntimeError::Inputs {
                    model: self.name.clone(),
                    reason: format!(
                        "input `{want}` is not given (given: {:?})",
                        inputs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
                    ),
                });
            };
            feed.push((want.as_str(), &**v));
        }
        let name = self.name.clone();
        let mut outputs = self.session.run(feed).map_err(|e| RuntimeError::Run {
            model: name.clone(),
            reason: e.to_string(),
        })?;
        let mut result = Vec::with_capacity(self.outputs.len());
        for out in &self.outputs {
            let produced = outputs.remove(out.as_str());
            let value = match inputs.iter().find(|(n, _)| n == out) {
                // Passed through: keep the caller's value (ONNX Runtime's refers to its buffer).
                Some((_, input)) => input.clone(),
                None => Arc::new(produced.ok_or_else(|| RuntimeError::Run {
                    model: name.clone(),
                    reason: format!("output `{out}` missing from the results"),
                })?),
            };
            result.push((out.clone(), value));
        }
        Ok(result)
    }

    /// Runs the model `warmup` times untimed, then `iters` times timed, on `inputs` (as for
    /// [`Self::run`]); returns each timed run's wall time, nanoseconds. The input tensors are
    /// made once, before timing, and outputs are dropped after the clock stops, so a time is
    /// ONNX Runtime's `Run` alone. A non-zero `gap` sleeps before every timed run, so each
    /// starts as a run does in a lightly loaded server: after idle time, caches partly cold.
    pub fn time_runs(
        &mut self,
        inputs: &[(&str, &HostTensor)],
        warmup: u32,
        iters: u32,
        gap: std::time::Duration,
    ) -> Result<Vec<u64>, RuntimeError> {
        let owned = self.input_values(inputs)?;
        let name = self.name.clone();
        let mut times = Vec::with_capacity(iters as usize);
        for i in 0..warmup + iters {
            let feed: Vec<(&str, &DynValue)> = owned.iter().map(|(n, v)| (n.as_str(), v)).collect();
            if i >= warmup && !gap.is_zero() {
                std::thread::sleep(gap);
            }
            let start = std::time::Instant::now();
            let outputs = self.session.run(feed).map_err(|e| RuntimeError::Run {
                model: name.clone(),
                reason: e.to_string(),
            })?;
            let ns = start.elapsed().as_nanos() as u64;
            drop(outputs);
            if i >= warmup {
                times.push(ns);
            }
        }
        Ok(times)
    }
}

/// Partition sessions run in order, each fed the previous one's outputs by name.
pub struct PartitionChain {
    sessions: Vec<OnnxSession>,
}

impl PartitionChain {
    /// Loads every partition with the same configuration.
    pub fn new(
        rt: &Runtime,
        partitions: &[Partition],
        name: &str,
        config: &SessionConfig,
    ) -> Result<Self, RuntimeError> {
        let sessions = partitions
            .iter()
            .enumerate()
            .map(|(k, p)| {
                OnnxSession::from_model(rt, &p.model, &format!("{name} partition {k}"), config)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PartitionChain { sessions })
    }

    /// The sessions, in order.
    pub fn sessions_mut(&mut self) -> &mut [OnnxSession] {
        &mut self.sessions
    }

    /// Runs the chain on the model input `input` (named `input_name`); returns the last
    /// partition's outputs.
    pub fn run(
        &mut self,
        input_name: &str,
        input: &HostTensor,
    ) -> Result<Vec<(String, HostTensor)>, RuntimeError> {
        let mut values = vec![(input_name.to_string(), input.clone())];
        for s in &mut self.sessions {
            let feed: Vec<(&str, &HostTensor)> =
                values.iter().map(|(n, t)| (n.as_str(), t)).collect();
            values = s.run(&feed)?;
        }
        Ok(values)
    }
}
