//! `infscaler calibrate`: fit the runtime and device parameters to REFERENCE.md §8 and print
//! every calibration row with its prediction under the committed and the fitted parameters.

use std::process::ExitCode;

use anyhow::Result;

use infscaler_sim::model::calibration::{self, Params, Prediction, Use};

fn ms(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "no model".into(), |v| format!("{:+.1} %", v * 100.0))
}

fn params_table(committed: &Params, fitted: &Params) {
    println!("{:<44} {:>12} {:>12}", "parameter", "committed", "fitted");
    let rows = [
        (
            "tensorrt kernels.ramp (µs)",
            committed.trt_ramp_ns as f64 / 1e3,
            fitted.trt_ramp_ns as f64 / 1e3,
        ),
        (
            "xavier-agx gpu dense_efficiency",
            committed.gpu_dense_efficiency,
            fitted.gpu_dense_efficiency,
        ),
        (
            "xavier-agx dla dense_efficiency",
            committed.dla_dense_efficiency,
            fitted.dla_dense_efficiency,
        ),
        (
            "pytorch host.per_kernel = per_view (µs)",
            committed.pytorch_per_op_ns as f64 / 1e3,
            fitted.pytorch_per_op_ns as f64 / 1e3,
        ),
        (
            "pytorch kernels.dense_efficiency_scale",
            committed.pytorch_scale,
            fitted.pytorch_scale,
        ),
        (
            "xavier-agx dla gpu_interference (§8c)",
            committed.xavier_interference,
            fitted.xavier_interference,
        ),
        (
            "orin-agx dla gpu_interference (§8d)",
            committed.orin_interference,
            fitted.orin_interference,
        ),
    ];
    for (name, c, f) in rows {
        println!("{name:<44} {c:>12.3} {f:>12.3}");
    }
}

fn rows_table(committed: &[Prediction], fitted: &[Prediction]) {
    println!(
        "\n{:<4} {:<14} {:<9} {:<4} {:<5} {:<6} {:>9} {:>10} {:>9} {:>10} {:>9}",
        "§8",
        "model",
        "runtime",
        "eng",
        "prec",
        "use",
        "meas ms",
        "committed",
        "error",
        "fitted",
        "error"
    );
    for (c, f) in committed.iter().zip(fitted) {
        let r = &c.row;
        println!(
            "{:<4} {:<14} {:<9} {:<4} {:<5} {:<6} {:>9.2} {:>10} {:>9} {:>10} {:>9}",
            r.section,
            r.model,
            r.runtime,
            r.engine.name(),
            r.precision.name(),
            if r.used == Use::Fit { "fit" } else { "check" },
            r.measured_ms,
            ms(c.predicted_ms),
            pct(c.error()),
            ms(f.predicted_ms),
            pct(f.error())
        );
    }
    for runtime in ["tensorrt", "pytorch"] {
        println!(
            "median |error| {runtime:<9} committed {:>8}   fitted {:>8}",
            pct(calibration::median_abs_error(committed, runtime)),
            pct(calibration::median_abs_error(fitted, runtime)),
        );
    }
}

fn interference_table(p: &Params) {
    let (together, gpu, dla) = calibration::XAVIER_OFFLINE;
    let x = calibration::interference_rate(p.xavier_interference, 2);
    println!(
        "\n§8c AGX Xavier offline, GPU + 2 DLAs: measured {together:.0} img/s, predicted {:.0} (fit)",
        (gpu + 2.0 * dla) * x
    );
    let (_, gpu_alone, dla_alone) = calibration::ORIN_CONCURRENT[0];
    for &(n, gpu_ms, dla_ms) in &calibration::ORIN_CONCURRENT[1..] {
        let x = calibration::interference_rate(p.orin_interference, n);
        println!(
            "§8d AGX Orin, {n} DLA(s) busy: GPU model measured {gpu_ms:.1} ms, predicted {:.1} (fit); \
             DLA model measured {dla_ms:.1} ms, predicted {:.1} (check)",
            gpu_alone / x,
            dla_alone / x
        );
    }
}

/// Runs the fit and prints the tables (or JSON).
pub fn run(json: bool) -> Result<ExitCode> {
    let committed = Params::committed();
    let fitted = calibration::fit();
    let pc = calibration::predict(&committed);
    let pf = calibration::predict(&fitted);
    if json {
        let rows: Vec<_> = pc
            .iter()
            .zip(&pf)
            .map(|(c, f)| {
                serde_json::json!({
                    "section": c.row.section, "model": c.row.model, "runtime": c.row.runtime,
                    "engine": c.row.engine.name(), "precision": c.row.precision.name(),
                    "use": if c.row.used == Use::Fit { "fit" } else { "check" },
                    "measured_ms": c.row.measured_ms,
                    "predicted_ms": c.predicted_ms, "error": c.error(),
                    "fitted_predicted_ms": f.predicted_ms, "fitted_error": f.error(),
                })
            })
            .collect();
        let out = serde_json::json!({
            "committed": format!("{committed:?}"),
            "fitted": format!("{fitted:?}"),
            "rows": rows,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Calibration on REFERENCE.md §8 (AGX Xavier, batch 1). Fitted to the rows marked `fit` only;\n\
         `check` rows are predictions. Committed values are those in hwprofiles/.\n"
    );
    params_table(&committed, &fitted);
    rows_table(&pc, &pf);
    interference_table(&fitted);
    Ok(ExitCode::SUCCESS)
}
