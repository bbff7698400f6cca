//! Calibration of the runtime and device models on published Jetson measurements.
//!
//! The rows are those of REFERENCE.md §8 (the project's calibration set, each with its source).
//! A few model parameters are fitted to the rows marked [`Use::Fit`], by a fixed, deterministic
//! grid search that minimises the sum of squared log errors; the other rows are predicted with the
//! fitted values and only reported. `infscaler calibrate` prints both; the profiles in
//! `hwprofiles/` carry the fitted values, tagged `[fitted: …]`, and a test checks they are the
//! fit's.
//!
//! Fitted, and nothing else:
//! - `tensorrt` `kernels.ramp` and the AGX Xavier GPU's `dense_efficiency`: §8a TensorRT rows and
//!   §8b GPU FP16;
//! - the AGX Xavier DLA's `dense_efficiency`: §8b DLA FP16;
//! - `pytorch` `host.per_kernel` (= `host.per_view`) and `kernels.dense_efficiency_scale`: §8a
//!   PyTorch rows;
//! - each DLA's `gpu_interference` (the fraction of the GPU a running DLA takes): on the AGX
//!   Xavier from §8c (MLPerf offline, GPU + both DLAs at 95 % of their summed targets), on the
//!   AGX Orin from the §8d GPU rows (GPU alone, with one DLA, with both). Under max-min sharing
//!   a compute-bound GPU activity and `n` DLA activities all run at `1 / (1 + n·c)`; the §8d
//!   DLA rows check that.

use crate::hardware::AcceleratorKind;
use crate::hardware::profile::{DeviceProfile, Precision};
use crate::model::Model;
use crate::model::cost::{self, Target};
use crate::model::runtime::RuntimeProfile;
use crate::model::zoo::{self, ZooOptions};

/// What a row is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Parameters are fitted to it.
    Fit,
    /// Predicted and reported only: a check of the fitted model.
    Check,
}

/// One published batch-1 latency.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// Section of REFERENCE.md §8.
    pub section: &'static str,
    /// Zoo model.
    pub model: &'static str,
    /// Runtime profile.
    pub runtime: &'static str,
    /// Built-in device profile.
    pub device: &'static str,
    /// Engine it ran on.
    pub engine: AcceleratorKind,
    /// Precision it ran at.
    pub precision: Precision,
    /// Measured latency, ms.
    pub measured_ms: f64,
    /// Fit or check.
    pub used: Use,
}

const fn row(
    section: &'static str,
    model: &'static str,
    runtime: &'static str,
    engine: AcceleratorKind,
    precision: Precision,
    measured_ms: f64,
    used: Use,
) -> Row {
    Row {
        section,
        model,
        runtime,
        device: "xavier-agx",
        engine,
        precision,
        measured_ms,
        used,
    }
}

use AcceleratorKind::{Dla, Gpu};
use Precision::{Fp16, Int8};

/// The calibration rows of REFERENCE.md §8 (batch 1, 224×224 ImageNet models, AGX Xavier MAXN).
pub const ROWS: [Row; 18] = [
    // §8a: torch2trt benchmark, NVIDIA-AI-IOT/torch2trt docs/benchmarks/jetson_xavier.md @ d1e7d4ce.
    row("8a", "alexnet", "pytorch", Gpu, Fp16, 4.96, Use::Fit),
    row("8a", "squeezenet1_1", "pytorch", Gpu, Fp16, 8.01, Use::Fit),
    row("8a", "resnet18", "pytorch", Gpu, Fp16, 7.33, Use::Fit),
    row("8a", "resnet50", "pytorch", Gpu, Fp16, 17.9, Use::Fit),
    row("8a", "densenet121", "pytorch", Gpu, Fp16, 47.5, Use::Fit),
    row("8a", "vgg16", "pytorch", Gpu, Fp16, 16.5, Use::Fit),
    row("8a", "mobilenet_v2", "pytorch", Gpu, Fp16, 15.4, Use::Fit),
    row("8a", "alexnet", "tensorrt", Gpu, Fp16, 2.02, Use::Fit),
    row("8a", "squeezenet1_1", "tensorrt", Gpu, Fp16, 1.02, Use::Fit),
    row("8a", "resnet18", "tensorrt", Gpu, Fp16, 1.64, Use::Fit),
    row("8a", "resnet50", "tensorrt", Gpu, Fp16, 3.37, Use::Fit),
    row("8a", "densenet121", "tensorrt", Gpu, Fp16, 13.0, Use::Fit),
    row("8a", "vgg16", "tensorrt", Gpu, Fp16, 7.46, Use::Fit),
    row("8a", "mobilenet_v2", "tensorrt", Gpu, Fp16, 1.67, Use::Fit),
    // §8b: PaddlePaddle Lite nvidia_tensorrt demo guide, JetPack 4.4.1, TensorRT 7.1.3.
    row("8b", "resnet50", "tensorrt", Gpu, Fp16, 3.151, Use::Fit),
    row("8b", "resnet50", "tensorrt", Gpu, Int8, 2.268, Use::Check),
    row("8b", "resnet50", "tensorrt", Dla, Fp16, 6.656, Use::Fit),
    row("8b", "resnet50", "tensorrt", Dla, Int8, 3.957, Use::Check),
];

/// The parameters calibration sets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// `tensorrt` kernel ramp, ns.
    pub trt_ramp_ns: u64,
    /// GPU dense efficiency.
    pub gpu_dense_efficiency: f64,
    /// DLA dense efficiency.
    pub dla_dense_efficiency: f64,
    /// `pytorch` host time per operator, ns.
    pub pytorch_per_op_ns: u64,
    /// `pytorch` dense-efficiency scale.
    pub pytorch_scale: f64,
    /// AGX Xavier DLA `gpu_interference`.
    pub xavier_interference: f64,
    /// AGX Orin DLA `gpu_interference`.
    pub orin_interference: f64,
}

impl Params {
    /// The values the committed profiles hold.
    pub fn committed() -> Self {
        let device = DeviceProfile::builtin("xavier-agx").expect("built-in");
        let trt = RuntimeProfile::tensorrt();
        let pt = RuntimeProfile::builtin("pytorch").expect("built-in");
        let eff = |k| device.accelerators[device.first_of(k).expect("engine")].dense_efficiency;
        let interference = |name| {
            let d = DeviceProfile::builtin(name).expect("built-in");
            d.accelerators[d.first_of(Dla).expect("a DLA")].gpu_interference
        };
        Params {
            trt_ramp_ns: trt.kernel_ramp_ns,
            gpu_dense_efficiency: eff(Gpu),
            dla_dense_efficiency: eff(Dla),
            pytorch_per_op_ns: pt.host_per_kernel_ns,
            pytorch_scale: pt.dense_efficiency_scale,
            xavier_interference: interference("xavier-agx"),
            orin_interference: interference("orin-agx"),
        }
    }
}

/// A row's prediction.
#[derive(Clone, Copy, Debug)]
pub struct Prediction {
    /// The row.
    pub row: Row,
    /// Predicted latency, ms; `None` if the model is not in the zoo.
    pub predicted_ms: Option<f64>,
}

impl Prediction {
    /// Relative error of the prediction, (predicted − measured) / measured.
    pub fn error(&self) -> Option<f64> {
        self.predicted_ms
            .map(|p| (p - self.row.measured_ms) / self.row.measured_ms)
    }
}

/// What every prediction starts from, built and parsed once: the models, devices and runtimes
/// the rows name (a fit predicts each row tens of thousands of times).
struct Models {
    models: Vec<(&'static str, Option<Model>)>,
    devices: Vec<(&'static str, DeviceProfile)>,
    runtimes: Vec<(&'static str, RuntimeProfile)>,
}

/// The distinct values of `field` over the rows.
fn distinct(field: impl Fn(&Row) -> &'static str) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = ROWS.iter().map(field).collect();
    names.sort_unstable();
    names.dedup();
    names
}

impl Models {
    fn new() -> Self {
        let models = distinct(|r| r.model)
            .into_iter()
            .map(|n| (n, zoo::build(n, &ZooOptions::default()).ok()))
            .collect();
        let devices = distinct(|r| r.device)
            .into_iter()
            .map(|n| (n, DeviceProfile::builtin(n).expect("built-in device")))
            .collect();
        let runtimes = ["tensorrt", "pytorch"]
            .into_iter()
            .chain(distinct(|r| r.runtime))
            .map(|n| (n, RuntimeProfile::builtin(n).expect("built-in runtime")))
            .collect();
        Models {
            models,
            devices,
            runtimes,
        }
    }

    fn get(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|(n, _)| *n == name)?.1.as_ref()
    }

    fn device(&self, name: &str) -> DeviceProfile {
        let found = self.devices.iter().find(|(n, _)| *n == name);
        found.expect("a row's device").1.clone()
    }

    fn runtime(&self, name: &str) -> RuntimeProfile {
        let found = self.runtimes.iter().find(|(n, _)| *n == name);
        found.expect("a row's runtime").1.clone()
    }
}

/// The device and runtime of `row` with `params` applied. INT8 rows run the engine at INT8:
/// twice its FP16 rate (AGX Xavier GPU 22 INT8 TOPS vs 11 FP16 TFLOPS, DLA 5 vs 2.5: see
/// hwprofiles/xavier-agx.toml) and one byte per element.
fn setup(models: &Models, row: &Row, params: &Params) -> (DeviceProfile, RuntimeProfile, usize) {
    let mut device = models.device(row.device);
    for a in &mut device.accelerators {
        match a.kind {
            Gpu => a.dense_efficiency = params.gpu_dense_efficiency,
            Dla => a.dense_efficiency = params.dla_dense_efficiency,
            AcceleratorKind::Cpu => {}
        }
    }
    let engine = device.first_of(row.engine).expect("engine");
    let spec = &mut device.accelerators[engine];
    if row.precision == Int8 && spec.precision == Fp16 {
        spec.peak_flops_per_s *= 2.0;
    }
    spec.precision = row.precision;
    let mut runtime = models.runtime(row.runtime);
    match if row.engine == Dla {
        "tensorrt"
    } else {
        row.runtime
    } {
        "tensorrt" => runtime.kernel_ramp_ns = params.trt_ramp_ns,
        "pytorch" => {
            runtime.host_per_kernel_ns = params.pytorch_per_op_ns;
            runtime.host_per_view_ns = params.pytorch_per_op_ns;
            runtime.dense_efficiency_scale = params.pytorch_scale;
            runtime.kernel_ramp_ns = params.trt_ramp_ns;
        }
        _ => {}
    }
    (device, runtime, engine)
}

fn predict_with(models: &Models, row: &Row, params: &Params) -> Prediction {
    let predicted_ms = models.get(row.model).map(|m| {
        let (device, runtime, engine) = setup(models, row, params);
        let mut trt = models.runtime("tensorrt");
        trt.kernel_ramp_ns = params.trt_ramp_ns;
        let target = Target {
            dla_runtime: &trt,
            ..Target::new(&device, &runtime)
        };
        cost::model_plan(&m.operators, 1, engine, 1, target).solo_ns() as f64 / 1e6
    });
    Prediction {
        row: *row,
        predicted_ms,
    }
}

/// Every row predicted with `params`.
pub fn predict(params: &Params) -> Vec<Prediction> {
    let models = Models::new();
    ROWS.iter()
        .map(|r| predict_with(&models, r, params))
        .collect()
}

/// Σ squared log errors over the fit rows selected by `keep` (rows without a model skipped).
fn loss(models: &Models, params: &Params, keep: &dyn Fn(&Row) -> bool) -> f64 {
    ROWS.iter()
        .filter(|r| r.used == Use::Fit && keep(r))
        .filter_map(|r| {
            let p = predict_with(models, r, params).predicted_ms?;
            Some((p / r.measured_ms).ln().powi(2))
        })
        .sum()
}

/// Steps of the grids: ramp 0.5 µs, efficiencies 0.01, host time 1 µs.
fn grid(lo: f64, hi: f64, step: f64) -> impl Iterator<Item = f64> {
    let n = ((hi - lo) / step).round() as usize;
    (0..=n).map(move |i| lo + step * i as f64)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The candidate of least loss (the first of equals); `start` if there is none.
fn best_of(
    start: Params,
    candidates: impl Iterator<Item = Params>,
    loss: impl Fn(&Params) -> f64,
) -> Params {
    let mut best = (f64::INFINITY, start);
    for q in candidates {
        let l = loss(&q);
        if l < best.0 {
            best = (l, q);
        }
    }
    best.1
}

/// Fits the parameters (module docs), starting from the committed profiles.
pub fn fit() -> Params {
    let models = Models::new();
    let mut p = Params::committed();
    // 1. TensorRT on the GPU: ramp × GPU dense efficiency.
    let trt_gpu = |r: &Row| r.runtime == "tensorrt" && r.engine == Gpu;
    p = best_of(
        p,
        grid(0.0, 60.0, 0.5).flat_map(|ramp_us| {
            grid(0.05, 1.0, 0.01).map(move |eff| Params {
                trt_ramp_ns: (ramp_us * 1000.0).round() as u64,
                gpu_dense_efficiency: round2(eff),
                ..p
            })
        }),
        |q| loss(&models, q, &trt_gpu),
    );
    // 2. The DLA's dense efficiency.
    let dla = |r: &Row| r.engine == Dla;
    p = best_of(
        p,
        grid(0.05, 1.0, 0.01).map(|eff| Params {
            dla_dense_efficiency: round2(eff),
            ..p
        }),
        |q| loss(&models, q, &dla),
    );
    // 3. The DLAs' interference with the GPU, in closed form and on a grid.
    p.xavier_interference = fit_xavier_interference();
    p.orin_interference = fit_orin_interference();
    // 4. PyTorch: host time per operator × kernel quality.
    let pytorch = |r: &Row| r.runtime == "pytorch";
    best_of(
        p,
        grid(0.0, 300.0, 1.0).flat_map(|per_op_us| {
            grid(0.05, 1.0, 0.01).map(move |scale| Params {
                pytorch_per_op_ns: (per_op_us * 1000.0).round() as u64,
                pytorch_scale: round2(scale),
                ..p
            })
        }),
        |q| loss(&models, q, &pytorch),
    )
}

/// §8c: MLPerf Inference v0.5, AGX Xavier, ResNet-50 INT8 offline — GPU and both DLAs together
/// 2158.93 img/s against NVIDIA's per-engine targets (GPU 1478.33, one DLA 396 img/s).
pub const XAVIER_OFFLINE: (f64, f64, f64) = (2158.93, 1478.33, 396.0);

/// §8d: AGX Orin INT8 (NVIDIA/TensorRT#2745), (DLAs busy, GPU model ms, DLA model ms): alone
/// 45 ms / 17.7–18.1 ms (17.9 taken), with one DLA 51.1 / 20.8, with both 59 / 21.8.
pub const ORIN_CONCURRENT: [(u32, f64, f64); 3] =
    [(0, 45.0, 17.9), (1, 51.1, 20.8), (2, 59.0, 21.8)];

/// Rate of every activity when a compute-bound GPU activity runs with `dlas` DLA activities
/// that take `c` of the GPU each (max-min: they all rise together until the GPU is full).
pub fn interference_rate(c: f64, dlas: u32) -> f64 {
    1.0 / (1.0 + f64::from(dlas) * c)
}

/// The AGX Xavier's `gpu_interference` from §8c, to 3 decimals.
pub fn fit_xavier_interference() -> f64 {
    let (together, gpu, dla) = XAVIER_OFFLINE;
    let x = together / (gpu + 2.0 * dla);
    ((1.0 / x - 1.0) / 2.0 * 1000.0).round() / 1000.0
}

/// The AGX Orin's `gpu_interference`: least squares on the log ratios of the §8d GPU rows, on a
/// grid of 0.001.
pub fn fit_orin_interference() -> f64 {
    let alone = ORIN_CONCURRENT[0].1;
    grid(0.0, 1.0, 0.001)
        .map(|c| {
            let loss: f64 = ORIN_CONCURRENT[1..]
                .iter()
                .map(|&(n, gpu_ms, _)| {
                    let predicted = alone / interference_rate(c, n);
                    (predicted / gpu_ms).ln().powi(2)
                })
                .sum();
            ((c * 1000.0).round() / 1000.0, loss)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0.0, |(c, _)| c)
}

/// Median of the absolute relative errors of `runtime`'s rows that have a prediction.
pub fn median_abs_error(predictions: &[Prediction], runtime: &str) -> Option<f64> {
    let mut e: Vec<f64> = predictions
        .iter()
        .filter(|p| p.row.runtime == runtime)
        .filter_map(|p| p.error().map(f64::abs))
        .collect();
    if e.is_empty() {
        return None;
    }
    e.sort_by(f64::total_cmp);
    let n = e.len();
    Some(if n % 2 == 1 {
        e[n / 2]
    } else {
        (e[n / 2 - 1] + e[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed profiles hold the fit's values: nothing in them was tuned by hand.
    #[test]
    fn committed_profiles_hold_the_fitted_values_and_meet_the_error_target() {
        let committed = Params::committed();
        assert_eq!(fit(), committed);
        let p = predict(&committed);
        assert!(
            p.iter().all(|r| r.predicted_ms.is_some()),
            "every row's model is in the zoo"
        );
        for runtime in ["tensorrt", "pytorch"] {
            let e = median_abs_error(&p, runtime).unwrap();
            assert!(e <= 0.15, "{runtime}: median |error| {e}");
        }
    }

    #[test]
    fn interference_fits_reproduce_their_rows() {
        let c = fit_xavier_interference();
        let (together, gpu, dla) = XAVIER_OFFLINE;
        let predicted = (gpu + 2.0 * dla) * interference_rate(c, 2);
        assert!((predicted / together - 1.0).abs() < 0.001, "{predicted}");
        let c = fit_orin_interference();
        assert!((0.1..0.2).contains(&c), "{c}");
        // The GPU rows are fitted within 5 %; the DLA rows, not fitted, within 10 %.
        let (_, gpu_alone, dla_alone) = ORIN_CONCURRENT[0];
        for &(n, gpu_ms, dla_ms) in &ORIN_CONCURRENT[1..] {
            let x = interference_rate(c, n);
            assert!((gpu_alone / x / gpu_ms - 1.0).abs() < 0.05);
            assert!((dla_alone / x / dla_ms - 1.0).abs() < 0.10, "{n} DLAs");
        }
    }
}
