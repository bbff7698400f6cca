//! `infscaler hil handoff`: what handing a tensor from one partition's worker to the next costs.
//!
//! Two worker threads, each with its own ONNX Runtime session of a one-node model (ReLU over a
//! tensor of `--bytes`), as two partitions of a live run. The first runs, and its output goes to
//! the second, which runs on it. The hand-off is timed from the moment the first session's run
//! returns to the moment the second has its input ready to run:
//!
//! - `zero-copy`: the output value itself is sent (InfScaler's token over unified memory: the
//!   next partition reads the region the previous one wrote).
//! - `copy`: the output is copied into a new value first (a shared-memory copy, as SPRIGHT's).
//! - `serialize`: the output is encoded to bytes and decoded into a new value on the other side
//!   (an HTTP body, as Knative's: two copies and a conversion).
//!
//! Every iteration checks the consumer's input against the producer's output, so a path that
//! dropped or corrupted data would fail, not report a fast time.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use infscaler_hil::from_network::{self, BuildOptions};
use infscaler_hil::live::data;
use infscaler_hil::runtime::{OnnxSession, Runtime, SessionConfig};
use infscaler_sim::model::ActivationFn;
use infscaler_sim::model::layers::{Layer, NetworkBuilder};
use ort::value::DynValue;

/// `infscaler hil handoff`.
#[derive(Args, Debug)]
pub struct HandoffArgs {
    /// Size of the tensor handed over (bytes, a multiple of 4: f32 elements).
    #[arg(long, default_value_t = 1 << 20)]
    bytes: usize,
    /// Timed hand-offs per path (after 10 untimed).
    #[arg(long, default_value_t = 200)]
    iters: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// How a tensor crosses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Path {
    ZeroCopy,
    Copy,
    Serialize,
}

impl Path {
    const ALL: [Path; 3] = [Path::ZeroCopy, Path::Copy, Path::Serialize];

    fn name(self) -> &'static str {
        match self {
            Path::ZeroCopy => "zero-copy",
            Path::Copy => "copy",
            Path::Serialize => "serialize",
        }
    }
}

/// What crosses the channel.
enum Payload {
    Value(Arc<DynValue>),
    Bytes(Vec<u8>, Vec<usize>),
}

/// Measured hand-offs of one path.
#[derive(Debug, Serialize)]
struct PathResult {
    path: Path,
    iters: usize,
    mean_us: f64,
    p50_us: f64,
    p99_us: f64,
    min_us: f64,
    max_us: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A one-node ReLU model over `elems` floats.
fn relu_model(elems: usize) -> Result<Vec<u8>> {
    let mut b = NetworkBuilder::new("handoff", &[elems]);
    b.layer(
        "relu",
        Layer::Activation {
            function: ActivationFn::Relu,
        },
    );
    let model = from_network::model_from_network(&b.finish(), &BuildOptions::default())?;
    Ok(infscaler_hil::onnx::encode(&model))
}

fn session(rt: &Runtime, model: &[u8], name: &str) -> Result<OnnxSession> {
    let config = SessionConfig {
        intra_threads: Some(1),
        ..SessionConfig::default()
    };
    Ok(OnnxSession::from_bytes(rt, model, name, &config)?)
}

/// Runs `iters + warmup` hand-offs over `path`; returns the timed ones, µs.
fn measure(
    rt: &'static Runtime,
    model: &[u8],
    elems: usize,
    path: Path,
    iters: usize,
) -> Result<Vec<f64>> {
    const WARMUP: usize = 10;
    let total = iters + WARMUP;
    let (tx, rx) = mpsc::sync_channel::<(Payload, Instant, f32)>(1);
    let (back_tx, back_rx) = mpsc::channel::<Result<f64, String>>();
    let consumer_model = model.to_vec();
    let consumer = std::thread::Builder::new()
        .name("handoff-consumer".into())
        .spawn(move || -> Result<(), String> {
            let mut s = session(rt, &consumer_model, "consumer").map_err(|e| e.to_string())?;
            let input_name = s.input_names()[0].clone();
            while let Ok((payload, sent, checksum)) = rx.recv() {
                let value = match payload {
                    Payload::Value(v) => v,
                    Payload::Bytes(bytes, shape) => {
                        let data: Vec<f32> = bytes
                            .chunks_exact(4)
                            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                            .collect();
                        let t = ort::value::Tensor::from_array((shape, data))
                            .map_err(|e| e.to_string())?;
                        Arc::new(t.into_dyn())
                    }
                };
                let ready = sent.elapsed().as_secs_f64() * 1e6;
                let (_, got) = value
                    .try_extract_tensor::<f32>()
                    .map_err(|e| e.to_string())?;
                if got.len() != elems || (got[elems / 2] - checksum).abs() > 0.0 {
                    let _ = back_tx.send(Err(
                        "the consumer's input differs from the producer's output".into(),
                    ));
                    return Ok(());
                }
                s.run_values(&[(input_name.clone(), value)])
                    .map_err(|e| e.to_string())?;
                if back_tx.send(Ok(ready)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        })
        .context("starting the consumer thread")?;

    let mut producer = session(rt, model, "producer")?;
    let input_name = producer.input_names()[0].clone();
    let input = Arc::new(
        data::input_value(&[1, elems], infscaler_sim::model::onnx::InputKind::Float)
            .map_err(anyhow::Error::msg)?,
    );
    let mut times = Vec::with_capacity(iters);
    for i in 0..total {
        let mut out = producer.run_values(&[(input_name.clone(), input.clone())])?;
        let (_, value) = out.remove(0);
        // The clock starts when the producer's output exists.
        let sent = Instant::now();
        let checksum = value
            .try_extract_tensor::<f32>()
            .map(|(_, d)| d[elems / 2])
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let payload = match path {
            Path::ZeroCopy => Payload::Value(value),
            Path::Copy => Payload::Value(Arc::new(
                data::copy_value(&value).map_err(anyhow::Error::msg)?.0,
            )),
            Path::Serialize => {
                let (shape, d) = value
                    .try_extract_tensor::<f32>()
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let shape: Vec<usize> = shape.iter().map(|&x| x as usize).collect();
                let mut bytes = Vec::with_capacity(d.len() * 4);
                for x in d {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                Payload::Bytes(bytes, shape)
            }
        };
        if tx.send((payload, sent, checksum)).is_err() {
            break;
        }
        match back_rx.recv() {
            Ok(Ok(us)) if i >= WARMUP => times.push(us),
            Ok(Ok(_)) => {}
            Ok(Err(m)) => bail!("{} path: {m}", path.name()),
            Err(_) => break,
        }
    }
    drop(tx);
    match consumer.join() {
        Ok(Ok(())) => {}
        Ok(Err(m)) => bail!("{} path: consumer: {m}", path.name()),
        Err(_) => bail!("{} path: the consumer thread panicked", path.name()),
    }
    if times.len() != iters {
        bail!(
            "{} path: {} of {iters} hand-offs completed",
            path.name(),
            times.len()
        );
    }
    Ok(times)
}

/// `infscaler hil handoff`.
pub fn run(args: HandoffArgs) -> Result<ExitCode> {
    if args.bytes < 4 || !args.bytes.is_multiple_of(4) {
        bail!(
            "--bytes {}: must be a positive multiple of 4 (f32 elements)",
            args.bytes
        );
    }
    if args.iters == 0 {
        bail!("--iters must be at least 1");
    }
    let elems = args.bytes / 4;
    let rt = Runtime::get()?;
    let model = relu_model(elems)?;
    let mut results = Vec::new();
    for path in Path::ALL {
        let mut t = measure(rt, &model, elems, path, args.iters)?;
        t.sort_by(f64::total_cmp);
        results.push(PathResult {
            path,
            iters: t.len(),
            mean_us: t.iter().sum::<f64>() / t.len() as f64,
            p50_us: percentile(&t, 0.5),
            p99_us: percentile(&t, 0.99),
            min_us: t[0],
            max_us: t[t.len() - 1],
        });
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "bytes": args.bytes,
                "ort_version": rt.version(),
                "paths": results,
            }))?
        );
    } else {
        println!(
            "hand-off of a {} tensor between two partitions' workers (ONNX Runtime {}), {} runs \
             per path\n",
            infscaler_results::report_text::human_bytes(args.bytes as f64),
            rt.version(),
            args.iters
        );
        println!(
            "{:<10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "path", "mean µs", "p50 µs", "p99 µs", "min µs", "max µs"
        );
        for r in &results {
            println!(
                "{:<10} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                r.path.name(),
                r.mean_us,
                r.p50_us,
                r.p99_us,
                r.min_us,
                r.max_us
            );
        }
        println!("\nthe paper's bound for a hand-off (Fig. 6): 1 ms");
    }
    Ok(ExitCode::SUCCESS)
}
