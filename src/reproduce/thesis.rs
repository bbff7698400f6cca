//! `infscaler reproduce thesis`: the pipeline-scheduling thesis' claims
//! (../shared/seeds/pipeline-scheduling-thesis.txt; digest ../shared/THESIS.md) on the same
//! simulated ground as InfScaler, written to `results/thesis/REPORT.md` with one CSV of every
//! run under `data/`.
//!
//! Two settings: the thesis' own, "4 execution places of 8 cores each" (T357: the
//! `server-32core` profile with `cpu_groups = 4`), and a Xavier AGX whose four engines (CPU,
//! GPU, DLA0, DLA1) are the EPs. Every pipeline is saturated (arrivals beyond what it serves
//! are turned away at a short admission queue), so a run's throughput is the pipeline's.
//! - **ODIN vs LLS** (T357–T359): VGG-16 and ResNet-50; interference takes 6 of the 8 cores of
//!   `cpu1` on the server, or half the GPU on the Xavier, from 20 s to 50 s; ODIN at α = 2 and
//!   10. Throughput over the interference window against the same pipeline without it; latency
//!   at a rate of half the interference-free throughput. On the Xavier, ODIN and LLS under a
//!   sweep of the engine-build cost, and the EP study with the CPU as 4 groups of 2 cores.
//! - **Interference strength**: 2 to 7 of `cpu1`'s 8 cores taken, VGG-16 on the server.
//! - **Explorers** (T297, T326): random walk, hill climbing, simulated annealing, Pipe-Search
//!   and Shisha (α = 2 and 10, and from a random start) on ResNet-50, YOLOv3 and VGG-16 on the
//!   server and on the Xavier; each against the exhaustive optimum of the cost model's
//!   predicted stage times, whose throughput is measured the same way (ODIN deploys it and,
//!   with no interference, keeps it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, anyhow};

use infscaler_results::atomic;
use infscaler_sim::Scenario;
use infscaler_sim::explore::{Config, DesignSpace};
use infscaler_sim::policy::pipeline::Places;
use infscaler_sim::report::Report;
use infscaler_sim::simulation::Simulation;

/// Where the interference window of the ODIN experiments lies, s.
pub(super) const WINDOW: (f64, f64) = (20.0, 50.0);

/// A setting: a device and its EPs, and the interference of the ODIN experiments.
#[derive(Clone, Copy, Debug)]
pub(super) struct Setting {
    pub(super) id: &'static str,
    /// The `[device]` table.
    device: &'static str,
    /// The `[[interference]]` entry's `on` and what it takes (6 of 8 cores, half the GPU).
    interferer: &'static str,
    /// The engine-build cost on GPU and DLA, as `[serving.reconfiguration]` writes it.
    build: &'static str,
    /// Lines the `[policy]` table adds: its `eps` where not every accelerator is an EP, its
    /// `cpu_stages` where CPU stages are moldable.
    policy_lines: &'static str,
}

pub(super) const SERVER: Setting = Setting {
    id: "server",
    device: "profile = \"server-32core\"\ncpu_groups = 4",
    interferer: "on = \"cpu1\"\ncores = 6",
    // CPU EPs only: a repartitioning builds no engine (ONNX Runtime sessions on CPU).
    build: "0s",
    policy_lines: "",
};

pub(super) const XAVIER: Setting = Setting {
    id: "xavier",
    device: "profile = \"xavier-agx\"",
    interferer: "on = \"gpu\"\nshare = 0.5",
    // [assumed]: TensorRT builds take seconds to minutes (NVIDIA/TensorRT#1841); §4 of the
    // report sweeps 0–60 s.
    build: "2s",
    policy_lines: "",
};

const XAVIER_GROUPS: Setting = Setting {
    id: "xavier-4x2",
    device: "profile = \"xavier-agx\"\ncpu_groups = 4",
    interferer: "on = \"cpu1\"\ncores = 1.5",
    // [assumed], as the Xavier's; this setting's EPs are CPU groups, which build nothing.
    build: "2s",
    // The thesis' layout on the Xavier's CPU alone: four EPs of two cores.
    policy_lines: "eps = [\"cpu0\", \"cpu1\", \"cpu2\", \"cpu3\"]",
};

/// Moldable CPU stages (Pipe-Search's third move, THESIS.md §1): the server's 32 cores as one
/// CPU hosting the four stages, the explorers choosing each stage's cores as well as its layers.
pub(super) const SERVER_MOLDABLE: Setting = Setting {
    id: "server-moldable",
    device: "profile = \"server-32core\"",
    interferer: "",
    build: "0s",
    policy_lines: "cpu_stages = 4",
};

/// Moldable CPU stages on the Xavier: its CPU as two stages sharing 8 cores, beside the GPU and
/// the two DLAs (five stages).
pub(super) const XAVIER_MOLDABLE: Setting = Setting {
    id: "xavier-moldable",
    device: "profile = \"xavier-agx\"",
    interferer: "",
    // [assumed], as the Xavier's.
    build: "2s",
    policy_lines: "cpu_stages = 2",
};

/// ResNet-152 on more EPs (T361): 1 to 4 EPs of 8 cores (hardware grows with them), then the
/// server's 32 cores split into 4 to 32 EPs (the same hardware, finer stages).
pub(super) const SCALING: [(Setting, &str); 7] = [
    (
        scaling(
            "scale-1x8",
            "profile = \"server-32core\"\ncpu_groups = 4",
            "eps = [\"cpu0\"]",
        ),
        "1 EP × 8 cores",
    ),
    (
        scaling(
            "scale-2x8",
            "profile = \"server-32core\"\ncpu_groups = 4",
            "eps = [\"cpu0\", \"cpu1\"]",
        ),
        "2 EPs × 8 cores",
    ),
    (
        scaling(
            "scale-3x8",
            "profile = \"server-32core\"\ncpu_groups = 4",
            "eps = [\"cpu0\", \"cpu1\", \"cpu2\"]",
        ),
        "3 EPs × 8 cores",
    ),
    (
        scaling(
            "scale-4x8",
            "profile = \"server-32core\"\ncpu_groups = 4",
            "",
        ),
        "4 EPs × 8 cores",
    ),
    (
        scaling(
            "scale-8x4",
            "profile = \"server-32core\"\ncpu_groups = 8",
            "",
        ),
        "8 EPs × 4 cores",
    ),
    (
        scaling(
            "scale-16x2",
            "profile = \"server-32core\"\ncpu_groups = 16",
            "",
        ),
        "16 EPs × 2 cores",
    ),
    (
        scaling(
            "scale-32x1",
            "profile = \"server-32core\"\ncpu_groups = 32",
            "",
        ),
        "32 EPs × 1 core",
    ),
];

const fn scaling(id: &'static str, device: &'static str, eps: &'static str) -> Setting {
    Setting {
        id,
        device,
        interferer: "",
        build: "0s",
        policy_lines: eps,
    }
}

/// The light load of the scaling study, req/s: below what one EP of 8 cores serves, so latency
/// is the pipeline's own.
pub(super) const LIGHT_RATE: f64 = 5.0;

/// The pipeline policies compared under interference, as (run name, `[policy]` body).
const PIPELINES: [(&str, &str); 3] = [
    ("odin-a2", "kind = \"odin\"\nalpha = 2"),
    ("odin-a10", "kind = \"odin\"\nalpha = 10"),
    ("lls", "kind = \"lls\""),
];

/// One simulation of the reproduction.
#[derive(Clone, Debug)]
struct Job {
    /// Unique key: setting/model/policy/variant.
    key: String,
    setting: Setting,
    model: &'static str,
    /// The `[policy]` table's body.
    policy: String,
    /// The `[workload]` rate, req/s (`None`: saturating).
    rate: Option<f64>,
    /// Interference as in the setting, taking this instead of its own amount when given.
    interference: Option<String>,
    /// The engine-build cost (the setting's when `None`).
    build: Option<String>,
    duration_s: u64,
}

impl Job {
    fn text(&self) -> String {
        let rate = self.rate.unwrap_or(2000.0);
        // Saturated: a short admission queue turns away what the pipeline cannot serve.
        let serving = if self.rate.is_none() {
            "[serving]\nqueue_capacity = 4\n[serving.admission]\nqueue_limit = 4\n"
        } else {
            "[serving]\n"
        };
        let build = self.build.as_deref().unwrap_or(self.setting.build);
        let series = if self.duration_s > 600 { "10s" } else { "1s" };
        let interference = match &self.interference {
            None => String::new(),
            Some(what) => format!(
                "[[interference]]\n{what}\nwhen = {{ kind = \"fixed\", start = \"{}s\", duration = \"{}s\" }}\n",
                WINDOW.0,
                WINDOW.1 - WINDOW.0
            ),
        };
        format!(
            "name = \"{key}\"\nseed = 3\n[device]\n{device}\n[app]\nname = \"{model}\"\n[slo]\nmultiplier = 3.0\n\
             [workload]\nkind = \"poisson\"\nrate_per_s = {rate}\n{serving}\
             [serving.reconfiguration]\ngpu = \"{build}\"\ndla = \"{build}\"\n\
             [run]\nduration = \"{d}s\"\nwarmup = \"2s\"\nseries_interval = \"{series}\"\n\
             [policy]\n{policy}\n{lines}\n{interference}",
            lines = self.setting.policy_lines,
            key = self.key,
            device = self.setting.device,
            model = self.model,
            policy = self.policy,
            d = self.duration_s,
        )
    }

    /// The job's scenario, resolved.
    fn resolve(&self) -> Result<infscaler_sim::ResolvedScenario> {
        Scenario::parse(&self.text(), &self.key, Path::new("."))
            .and_then(|s| s.resolve())
            .map_err(|e| anyhow!("{}: {e}", self.key))
    }

    fn run(&self) -> Result<Report> {
        let scenario = self.resolve()?;
        let sim = Simulation::new(&scenario, None).map_err(|e| anyhow!("{}: {e}", self.key))?;
        Ok(sim.run())
    }
}

/// The scenario of `model` in `setting` with the `[policy]` body `policy` (no interference),
/// resolved: what the cost-model optima are computed on.
pub(super) fn resolve(
    setting: Setting,
    model: &'static str,
    policy: &str,
) -> Result<infscaler_sim::ResolvedScenario> {
    Job {
        key: format!("{}/{model}/optimum", setting.id),
        setting,
        model,
        policy: policy.to_string(),
        rate: None,
        interference: None,
        build: None,
        duration_s: 30,
    }
    .resolve()
}

/// Mean served throughput over the series points in `[from, to)`, req/s.
pub(super) fn window_throughput(r: &Report, from: f64, to: f64) -> Option<f64> {
    mean(series(r, from, to).map(|p| p.throughput_rps))
}

/// Mean of the per-interval median latency over `[from, to)`, ms.
pub(super) fn window_p50(r: &Report, from: f64, to: f64) -> Option<f64> {
    mean(series(r, from, to).filter_map(|p| p.p50_ms))
}

/// The series points of the interference window.
pub(super) fn window_points(
    r: &Report,
) -> impl Iterator<Item = &infscaler_sim::metrics::SeriesPoint> {
    series(r, WINDOW.0, WINDOW.1)
}

fn series(
    r: &Report,
    from: f64,
    to: f64,
) -> impl Iterator<Item = &infscaler_sim::metrics::SeriesPoint> {
    r.summary
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(move |p| p.time_s >= from && p.time_s < to)
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, sum) = xs.fold((0u32, 0.0), |(n, s), x| (n + 1, s + x));
    (n > 0).then(|| sum / f64::from(n))
}

/// The explorers compared, as (label, `[policy]` body).
pub(super) fn explorers() -> Vec<(&'static str, String)> {
    vec![
        ("random walk", "kind = \"random_walk\"".into()),
        ("hill climbing", "kind = \"hill_climb\"".into()),
        ("simulated annealing", "kind = \"annealing\"".into()),
        ("Pipe-Search", "kind = \"pipe_search\"".into()),
        ("Shisha α=2", "kind = \"shisha\"\nalpha = 2".into()),
        ("Shisha α=10", "kind = \"shisha\"\nalpha = 10".into()),
        (
            "Shisha α=2, random start",
            "kind = \"shisha\"\nalpha = 2\nstart = \"random\"".into(),
        ),
    ]
}

/// Every job of the reproduction.
fn jobs(quick: bool) -> Vec<Job> {
    let mut jobs = Vec::new();
    let odin_models: &[&str] = if quick {
        &["vgg16"]
    } else {
        &["vgg16", "resnet50"]
    };
    let job = |setting: Setting, model: &'static str, name: &str, policy: &str| Job {
        key: format!("{}/{model}/{name}", setting.id),
        setting,
        model,
        policy: policy.to_string(),
        rate: None,
        interference: Some(setting.interferer.to_string()),
        build: None,
        duration_s: 70,
    };
    for setting in [SERVER, XAVIER, XAVIER_GROUPS] {
        for &model in odin_models {
            jobs.push(Job {
                interference: None,
                ..job(setting, model, "quiet", "kind = \"odin\"")
            });
            for (name, policy) in PIPELINES {
                jobs.push(job(setting, model, name, policy));
            }
        }
    }
    // Latency at half the interference-free throughput: the rate is set once the quiet runs
    // are in (see `latency_jobs`).
    // Interference strength on the server.
    for cores in [2, 4, 7] {
        for (name, policy) in [PIPELINES[0], PIPELINES[2]] {
            jobs.push(Job {
                interference: Some(format!("on = \"cpu1\"\ncores = {cores}")),
                ..job(SERVER, "vgg16", &format!("{name}-cores{cores}"), policy)
            });
        }
    }
    // Engine-build cost on the Xavier.
    for build in ["0s", "20s", "60s"] {
        for (name, policy) in [PIPELINES[0], PIPELINES[2]] {
            jobs.push(Job {
                build: Some(build.to_string()),
                ..job(XAVIER, "vgg16", &format!("{name}-build{build}"), policy)
            });
        }
    }
    // Scaling out (T361): saturated and at a light load.
    for (setting, _) in SCALING {
        for (name, rate) in [("saturated", None), ("light", Some(LIGHT_RATE))] {
            jobs.push(Job {
                interference: None,
                rate,
                duration_s: 30,
                ..job(
                    setting,
                    "resnet152",
                    &format!("odin-{name}"),
                    "kind = \"odin\"",
                )
            });
        }
    }
    // Explorers.
    let search_models: &[&str] = if quick {
        &["resnet50"]
    } else {
        &["resnet50", "yolov3", "vgg16"]
    };
    for setting in [SERVER, XAVIER, SERVER_MOLDABLE, XAVIER_MOLDABLE] {
        let moldable = setting.policy_lines.contains("cpu_stages");
        for &model in search_models {
            if moldable && model == "yolov3" {
                continue;
            }
            if !moldable {
                jobs.push(Job {
                    interference: None,
                    duration_s: 30,
                    ..job(setting, model, "exhaustive", "kind = \"odin\"")
                });
            }
            let explorers = explorers();
            let explorers = if moldable {
                &explorers[..super::thesis_moldable::EXPLORERS]
            } else {
                &explorers[..]
            };
            for (label, policy) in explorers {
                let budget = if quick { 60 } else { 2000 };
                // A configuration costs about two windows and a build: enough time for the
                // budget, plus 30 s to measure where the search settled.
                let per_config = if setting.build == "0s" { 1 } else { 4 };
                jobs.push(Job {
                    interference: None,
                    duration_s: budget * per_config + 30,
                    ..job(
                        setting,
                        model,
                        &format!("search-{label}"),
                        &format!("{policy}\nbudget = {budget}"),
                    )
                });
            }
        }
    }
    jobs
}

/// The latency runs: ODIN and LLS at half the quiet throughput of their setting and model.
fn latency_jobs(quiet: &BTreeMap<String, Report>, quick: bool) -> Vec<Job> {
    let models: &[&str] = if quick {
        &["vgg16"]
    } else {
        &["vgg16", "resnet50"]
    };
    let mut out = Vec::new();
    for setting in [SERVER, XAVIER] {
        for &model in models {
            let Some(q) = quiet
                .get(&format!("{}/{model}/quiet", setting.id))
                .and_then(|r| window_throughput(r, WINDOW.0, WINDOW.1))
            else {
                continue;
            };
            for (name, policy) in PIPELINES {
                out.push(Job {
                    key: format!("{}/{model}/latency-{name}", setting.id),
                    setting,
                    model,
                    policy: policy.to_string(),
                    rate: Some((q * 0.5).round().max(1.0)),
                    interference: Some(setting.interferer.to_string()),
                    build: None,
                    duration_s: 70,
                });
            }
        }
    }
    out
}

/// Runs `jobs` on the pool, printing progress; fails on the first error.
fn run_all(jobs: &[Job], pool: &rayon::ThreadPool) -> Result<BTreeMap<String, Report>> {
    super::run_keyed(jobs, pool, |j| &j.key, Job::run)
}

/// Runs the command.
pub fn run(quick: bool, out_dir: Option<PathBuf>, jobs: Option<usize>) -> Result<ExitCode> {
    let (out_dir, data, pool) = super::output_and_pool("thesis", quick, out_dir, jobs)?;
    let started = Instant::now();
    let all = self::jobs(quick);
    let mut reports = run_all(&all, &pool)?;
    let latency = latency_jobs(&reports, quick);
    reports.extend(run_all(&latency, &pool)?);
    let exhaustive = exhaustive_optima(quick, &reports)?;
    let moldable = super::thesis_moldable::optima(quick, &reports)?;
    let (accordion, accordion_runs) = super::thesis_accordion::study(quick, &pool, &data)?;

    let csv = runs_csv(all.iter().chain(&latency), &reports);
    atomic::write_bytes(&data.join("runs.csv"), csv.as_bytes())?;
    let rates: BTreeMap<String, f64> = latency
        .iter()
        .filter_map(|j| Some((j.key.clone(), j.rate?)))
        .collect();
    let mut report = super::thesis_report::write(&reports, &exhaustive, &rates, quick);
    report.push_str(&super::thesis_moldable::section(&reports, &moldable));
    report.push_str(&accordion);
    super::write_report(&out_dir, &report, reports.len() + accordion_runs, started)
}

/// The exhaustive optimum of each (setting, model) of the explorer study, by the cost model's
/// predicted stage times.
#[derive(Clone, Debug)]
pub struct Optimum {
    /// Configurations in the space (all evaluated).
    pub size: f64,
    /// Predicted throughput of the best, req/s.
    pub predicted_rps: f64,
    /// Its cuts.
    pub cuts: Vec<usize>,
    /// The predicted throughput of the configuration each explorer settled on, req/s.
    pub settled: BTreeMap<&'static str, f64>,
}

fn exhaustive_optima(
    quick: bool,
    reports: &BTreeMap<String, Report>,
) -> Result<BTreeMap<String, Optimum>> {
    let models: &[&str] = if quick {
        &["resnet50"]
    } else {
        &["resnet50", "yolov3", "vgg16"]
    };
    let mut out = BTreeMap::new();
    for setting in [SERVER, XAVIER] {
        for &model in models {
            let job = Job {
                key: format!("{}/{model}/exhaustive", setting.id),
                setting,
                model,
                policy: "kind = \"odin\"".into(),
                rate: None,
                interference: None,
                build: None,
                duration_s: 30,
            };
            let scenario = Scenario::parse(&job.text(), &job.key, Path::new("."))
                .and_then(|s| s.resolve())
                .map_err(|e| anyhow!("{}: {e}", job.key))?;
            let device = &scenario.device;
            let places = Places::new(device, &(0..device.accelerators.len()).collect::<Vec<_>>());
            let ops = &scenario.models[0].operators;
            let mut space = DesignSpace::new(
                ops,
                places.eps.clone(),
                places.eps.len().min(ops.len()),
                scenario.target(),
            )
            .map_err(|e| anyhow!("{}: {e}", job.key))?;
            let found = space
                .exhaustive()
                .map_err(|e| anyhow!("{}: {e}", job.key))?;
            // What the cost model predicts for the configuration each explorer settled on.
            let ep_of = |name: &str| {
                places
                    .eps
                    .iter()
                    .position(|ep| device.accelerators[ep.accel].name == name)
            };
            let mut settled = BTreeMap::new();
            for (label, _) in explorers() {
                let key = format!("{}/{model}/search-{label}", setting.id);
                let Some(search) = reports.get(&key).and_then(|r| r.search.as_ref()) else {
                    continue;
                };
                let Some(eps) = search
                    .best_placement
                    .iter()
                    .map(|n| ep_of(n))
                    .collect::<Option<Vec<usize>>>()
                else {
                    continue;
                };
                let cores = if search.best_cores.is_empty() {
                    space.own_cores(&eps)
                } else {
                    search.best_cores.clone()
                };
                let config = Config {
                    cuts: search.best_cuts.clone(),
                    eps,
                    cores,
                };
                settled.insert(label, 1e9 / space.bottleneck_ns(&config).max(1) as f64);
            }
            out.insert(
                job.key.clone(),
                Optimum {
                    size: found.evaluated as f64,
                    predicted_rps: found.throughput_rps(),
                    cuts: found.best.cuts.clone(),
                    settled,
                },
            );
        }
    }
    Ok(out)
}

/// One CSV row per run: its key, throughput over the whole run and the interference window,
/// p50 over the window, and the search's figures where it searched.
fn runs_csv<'a>(jobs: impl Iterator<Item = &'a Job>, reports: &BTreeMap<String, Report>) -> String {
    let mut out = String::from(
        "key,policy,rate_rps,duration_s,throughput_rps,window_throughput_rps,window_p50_ms,reconfigurations,configurations,converged_s,best_throughput_rps\n",
    );
    for job in jobs {
        let Some(r) = reports.get(&job.key) else {
            continue;
        };
        let opt = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.4}"));
        let search = r.search.as_ref();
        let _ = writeln!(
            out,
            "\"{}\",{},{},{},{:.4},{},{},{},{},{},{}",
            job.key,
            r.policy,
            opt(job.rate),
            job.duration_s,
            r.summary.throughput_rps,
            opt(window_throughput(r, WINDOW.0, WINDOW.1)),
            opt(window_p50(r, WINDOW.0, WINDOW.1)),
            r.reconfigurations.len(),
            search.map_or(String::new(), |s| s.configurations.to_string()),
            opt(search.and_then(|s| s.converged_s)),
            opt(search.map(|s| s.best_throughput_rps)),
        );
    }
    out
}
