//! `infscaler models | apps | devices`: what the simulator knows; `models import`: a model file
//! from an ONNX graph.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};

use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::model::cost;
use infscaler_sim::model::runtime::RuntimeProfile;
use infscaler_sim::model::source::ModelSource;
use infscaler_sim::model::zoo::{self, ZooOptions};
use infscaler_sim::units::ByteSize;
use infscaler_sim::workload::app::BUILTIN_APPS;

pub(crate) fn load_device(name: &str) -> Result<DeviceProfile> {
    if let Some(p) = DeviceProfile::builtin(name) {
        return Ok(p);
    }
    let path = Path::new(name);
    if path.exists() {
        return Ok(DeviceProfile::load(path)?);
    }
    bail!(
        "unknown device profile `{name}`: use one of {} or the path of a profile TOML",
        DeviceProfile::builtin_names().join(", ")
    )
}

/// Lists the zoo, or one model's operators with their time on each accelerator at batch 1.
pub fn models(
    name: Option<&str>,
    device: &str,
    runtime: &str,
    seq_len: usize,
    json: bool,
) -> Result<ExitCode> {
    let opts = ZooOptions {
        seq_len,
        ..Default::default()
    };
    match name {
        None => {
            let mut rows = Vec::new();
            for entry in zoo::catalog() {
                let m = zoo::build(entry.name, &opts)?;
                rows.push((entry, m));
            }
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(e, m)| {
                        serde_json::json!({"name": e.name, "operators": m.operators.len(), "params": m.total_params(),
                        "flops": m.total_flops(), "published_params": e.published_params, "published_flops": e.published_flops,
                        "source": e.source, "description": e.description})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{:<18} {:>5} {:>10} {:>10}  description",
                    "model", "ops", "params M", "GFLOPs"
                );
                for (e, m) in rows {
                    println!(
                        "{:<18} {:>5} {:>10.2} {:>10.3}  {}",
                        e.name,
                        m.operators.len(),
                        m.total_params() as f64 / 1e6,
                        m.total_flops() as f64 / 1e9,
                        e.description
                    );
                }
            }
        }
        Some(name) => {
            let m = ModelSource::of_stage(name, Path::new(""))
                .network(&opts)
                .map_err(anyhow::Error::msg)?
                .to_model();
            let dev = load_device(device)?;
            let runtime = RuntimeProfile::resolve(runtime, Path::new("."))?;
            let target = cost::Target::new(&dev, &runtime);
            if json {
                println!("{}", serde_json::to_string_pretty(&m)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{} — {} operators, {:.2} M params, {:.3} GFLOPs per sample; kernel times at batch 1 on {}",
                m.name,
                m.operators.len(),
                m.total_params() as f64 / 1e6,
                m.total_flops() as f64 / 1e9,
                dev.name
            );
            let accs: Vec<String> = dev
                .accelerators
                .iter()
                .map(|a| format!("{:>9}", format!("{} ms", a.name)))
                .collect();
            println!(
                "{:>4} {:<28} {:<10} {:>10} {:>10} {:>10} {}",
                "#",
                "operator",
                "kind",
                "MFLOPs",
                "params",
                "out elems",
                accs.join(" ")
            );
            for (i, op) in m.operators.iter().enumerate() {
                let times: Vec<String> = (0..dev.accelerators.len())
                    .map(|a| {
                        format!(
                            "{:>9.4}",
                            cost::op_time_ns(op, 1, a, dev.accelerators[a].cores, &dev) as f64
                                / 1e6
                        )
                    })
                    .collect();
                println!(
                    "{:>4} {:<28} {:<10} {:>10.2} {:>10} {:>10} {}",
                    i + 1,
                    op.name,
                    op.kind.name(),
                    op.flops as f64 / 1e6,
                    op.params,
                    op.output_elems,
                    times.join(" ")
                );
            }
            println!(
                "\nwhole model, alone, batch 1, GPU under {} (DLAs under TensorRT, CPU under ONNX Runtime):",
                runtime.name
            );
            for a in 0..dev.accelerators.len() {
                let plan = cost::plan(&m.operators, 1, a, dev.accelerators[a].cores, target);
                let solo = plan.solo_ns() as f64 / 1e6;
                let host: f64 = plan
                    .segments
                    .iter()
                    .map(|s| s.host_demand * s.work_ns as f64)
                    .sum::<f64>()
                    / 1e6;
                let busy: f64 = plan
                    .segments
                    .iter()
                    .filter(|s| s.accel == a)
                    .map(|s| s.slice_demand * s.work_ns as f64)
                    .sum::<f64>()
                    / 1e6;
                let spec = &dev.accelerators[a];
                // On the CPU the busy time is core-time over the cores held.
                let busy = busy / f64::from(spec.cores.max(1));
                println!(
                    "  {:<5} {:>9.3} ms   host {:>8.3} ms   {} busy {:>8.3} ms{}",
                    spec.name,
                    solo,
                    host,
                    spec.name,
                    busy,
                    if plan.segments.len() > 1 {
                        format!("   ({} segments: GPU fallback)", plan.segments.len())
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the built-in applications.
pub fn apps() -> Result<ExitCode> {
    println!("{:<5} {:<44} description", "app", "stages");
    for a in BUILTIN_APPS {
        println!(
            "{:<5} {:<44} {}",
            a.name,
            a.stages.join(" → "),
            a.description
        );
    }
    println!("\nAny zoo model is also an app of one stage (`infscaler models` lists them).");
    Ok(ExitCode::SUCCESS)
}

/// Lists the built-in device profiles, or shows one.
pub fn devices(name: Option<&str>) -> Result<ExitCode> {
    let names: Vec<String> = match name {
        Some(n) => vec![n.to_string()],
        None => DeviceProfile::builtin_names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    for n in names {
        let d = load_device(&n)?;
        println!(
            "{} — memory {} ({} reserved) at {:.1} GB/s peak, {:.1} GB/s achievable",
            d.name,
            ByteSize(d.memory.capacity_bytes),
            ByteSize(d.memory.reserved_bytes),
            d.memory.bandwidth_bytes_per_s / 1e9,
            d.memory.achievable_bytes_per_s / 1e9
        );
        for a in &d.accelerators {
            println!(
                "  {:<5} {:<4} {} peak {:.2} TFLOP/s, {} core(s), launch {} ns",
                a.name,
                a.kind.name(),
                a.precision.name(),
                a.peak_flops_per_s / 1e12,
                a.cores,
                a.launch_overhead_ns
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `infscaler models` does besides listing and showing.
#[derive(clap::Subcommand, Debug)]
pub enum ModelsAction {
    /// Write a zoo model or model file as an `.onnx` file with seeded random weights (random
    /// weights run as fast as trained ones).
    Export {
        /// A zoo model name or the path of a model file.
        model: String,
        /// The `.onnx` file to write.
        #[arg(long)]
        out: PathBuf,
        /// Seed of the random weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Sequence length for transformer models.
        #[arg(long, default_value_t = 128)]
        seq_len: usize,
    },
    /// Write a model file (the layer graph as TOML) from an `.onnx` file, for `app.stages`.
    Import {
        /// The ONNX model.
        onnx: PathBuf,
        /// Where to write the model file (default: the ONNX file's path with `.toml`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The model's name in the file (default: the ONNX graph's name, else the file's stem).
        #[arg(long)]
        name: Option<String>,
    },
}

/// Runs a `models` action.
pub fn models_action(action: ModelsAction) -> Result<ExitCode> {
    match action {
        ModelsAction::Export {
            model,
            out,
            seed,
            seq_len,
        } => {
            let source = ModelSource::of_stage(&model, Path::new(""));
            if matches!(source, ModelSource::Onnx(_)) {
                bail!("`{model}` is already an ONNX model");
            }
            let opts = ZooOptions {
                seq_len,
                ..Default::default()
            };
            let net = source.network(&opts).map_err(anyhow::Error::msg)?;
            let proto = infscaler_hil::from_network::model_from_network(
                &net,
                &infscaler_hil::from_network::BuildOptions { seed },
            )?;
            let bytes = infscaler_hil::onnx::encode(&proto);
            infscaler_results::atomic::write_bytes(&out, &bytes)?;
            println!(
                "{} → {}: {} layers in {} ONNX nodes, {:.1} MiB (random weights, seed {seed})",
                source,
                out.display(),
                net.nodes().len(),
                proto.graph.as_ref().map_or(0, |g| g.node.len()),
                bytes.len() as f64 / f64::from(1u32 << 20)
            );
            Ok(ExitCode::SUCCESS)
        }
        ModelsAction::Import { onnx, out, name } => {
            let imported = infscaler_sim::model::onnx::import::import_file(&onnx)?;
            let mut net = imported.network;
            if let Some(name) = name {
                if name.trim().is_empty() || name.chars().any(char::is_control) {
                    bail!("--name {name:?}: give a name of printable text");
                }
                net = net.renamed(&name);
            }
            let out = out.unwrap_or_else(|| onnx.with_extension("toml"));
            if out == onnx {
                bail!(
                    "--out `{}` is the ONNX file itself: give the model file another path",
                    out.display()
                );
            }
            let text = infscaler_sim::model::file::write(&net);
            infscaler_results::atomic::write_bytes(&out, text.as_bytes())?;
            let m = net.to_model();
            println!(
                "{} → {}: `{}`, {} layers, {:.2} M params, {:.3} GFLOPs per sample, input {:?}",
                onnx.display(),
                out.display(),
                m.name,
                m.operators.len(),
                m.total_params() as f64 / 1e6,
                m.total_flops() as f64 / 1e9,
                m.input_shape
            );
            println!(
                "use it as a stage: app.stages = [\"{}\"] (a path relative to the scenario file), \
                 or show it: infscaler models {}",
                out.display(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
