//! Which ONNX Runtime execution provider runs a session, as configuration.
//!
//! ONNX Runtime gives each node to the first registered provider that takes it and runs the
//! rest on the CPU provider, which is always present. The PyPI `onnxruntime` wheel contains
//! only the CPU provider; CUDA and TensorRT need an ONNX Runtime built with them (on Jetson,
//! NVIDIA's `onnxruntime-gpu` builds for JetPack), named by `ORT_DYLIB_PATH`.

use serde::{Deserialize, Serialize};

/// The execution provider a session asks for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecutionProvider {
    /// ONNX Runtime's CPU provider.
    #[default]
    Cpu,
    /// The CUDA provider on GPU `device_id` (nodes it cannot run go to the CPU).
    Cuda {
        /// CUDA device index.
        #[serde(default)]
        device_id: u32,
    },
    /// The TensorRT provider, on the GPU or on a DLA core.
    #[serde(rename = "tensorrt")]
    TensorRt(TensorRtOptions),
}

/// Options of the TensorRT provider, named after its provider options (`trt_*`, ONNX Runtime
/// docs, "TensorRT Execution Provider", configuration options).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TensorRtOptions {
    /// CUDA device index (`device_id`).
    pub device_id: u32,
    /// Build FP16 engines (`trt_fp16_enable`). DLA runs FP16 or INT8 only.
    pub fp16: bool,
    /// Run on a DLA core (`trt_dla_enable`).
    pub trt_dla_enable: bool,
    /// Which DLA core, 0 or 1 on Xavier and Orin (`trt_dla_core`).
    pub trt_dla_core: u32,
    /// Register the CUDA provider after TensorRT, so nodes TensorRT does not take run on the
    /// GPU instead of the CPU.
    pub gpu_fallback: bool,
    /// Folder for built engines (`trt_engine_cache_enable` + `trt_engine_cache_path`); engine
    /// building takes minutes on a Jetson, so profiling runs should set it.
    pub engine_cache_path: Option<String>,
}

impl Default for TensorRtOptions {
    fn default() -> Self {
        TensorRtOptions {
            device_id: 0,
            fp16: true,
            trt_dla_enable: false,
            trt_dla_core: 0,
            gpu_fallback: true,
            engine_cache_path: None,
        }
    }
}

impl ExecutionProvider {
    /// Short name for messages: `cpu`, `cuda`, `tensorrt` or `tensorrt-dla<core>`.
    pub fn label(&self) -> String {
        match self {
            ExecutionProvider::Cpu => "cpu".into(),
            ExecutionProvider::Cuda { .. } => "cuda".into(),
            ExecutionProvider::TensorRt(o) if o.trt_dla_enable => {
                format!("tensorrt-dla{}", o.trt_dla_core)
            }
            ExecutionProvider::TensorRt(_) => "tensorrt".into(),
        }
    }

    /// ONNX Runtime's names of the providers this configuration registers, in order.
    pub fn ort_names(&self) -> Vec<&'static str> {
        use ort::ep::ExecutionProvider as _;
        match self {
            ExecutionProvider::Cpu => vec![ort::ep::CPU::NAME],
            ExecutionProvider::Cuda { .. } => vec![ort::ep::CUDA::NAME],
            ExecutionProvider::TensorRt(o) if o.gpu_fallback => {
                vec![ort::ep::TensorRT::NAME, ort::ep::CUDA::NAME]
            }
            ExecutionProvider::TensorRt(_) => vec![ort::ep::TensorRT::NAME],
        }
    }

    /// The `ort` registrations, each failing the session build if it cannot register.
    pub(crate) fn dispatch(&self) -> Vec<ort::ep::ExecutionProviderDispatch> {
        match self {
            // ONNX Runtime's own default (no provider registered) uses its memory arena; `ort`'s
            // CPU registration turns it off unless asked, and without it every run's tensors are
            // fresh allocations: under several sessions, glibc hands them back to the kernel and
            // page-faults them in again (3.3 M faults and 8 s of system time in a 30 s live run).
            ExecutionProvider::Cpu => vec![
                ort::ep::CPU::default()
                    .with_arena_allocator(true)
                    .build()
                    .error_on_failure(),
            ],
            ExecutionProvider::Cuda { device_id } => vec![
                ort::ep::CUDA::default()
                    .with_device_id(*device_id as i32)
                    .build()
                    .error_on_failure(),
            ],
            ExecutionProvider::TensorRt(o) => {
                let mut trt = ort::ep::TensorRT::default()
                    .with_device_id(o.device_id as i32)
                    .with_fp16(o.fp16)
                    .with_dla(o.trt_dla_enable)
                    .with_dla_core(o.trt_dla_core);
                if let Some(path) = &o.engine_cache_path {
                    trt = trt.with_engine_cache(true).with_engine_cache_path(path);
                }
                let mut v = vec![trt.build().error_on_failure()];
                if o.gpu_fallback {
                    v.push(
                        ort::ep::CUDA::default()
                            .with_device_id(o.device_id as i32)
                            .build()
                            .error_on_failure(),
                    );
                }
                v
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Wrap {
        ep: ExecutionProvider,
    }

    #[test]
    fn providers_read_from_toml_with_defaults() {
        let w: Wrap = toml::from_str("ep = { kind = \"cpu\" }").unwrap();
        assert_eq!(w.ep, ExecutionProvider::Cpu);
        let w: Wrap =
            toml::from_str("ep = { kind = \"tensorrt\", trt_dla_enable = true, trt_dla_core = 1 }")
                .unwrap();
        let ExecutionProvider::TensorRt(o) = &w.ep else {
            panic!("{:?}", w.ep);
        };
        assert!(o.trt_dla_enable && o.gpu_fallback && o.fp16);
        assert_eq!(o.trt_dla_core, 1);
        assert_eq!(w.ep.label(), "tensorrt-dla1");
        assert_eq!(
            w.ep.ort_names(),
            vec!["TensorrtExecutionProvider", "CUDAExecutionProvider"]
        );
        let bad = toml::from_str::<Wrap>("ep = { kind = \"tensorrt\", dla = true }");
        assert!(bad.unwrap_err().to_string().contains("dla"));
    }
}
