//! Section 8 of `results/thesis/REPORT.md`: moldable CPU stages, Pipe-Search's third move
//! ("change a CPU stage by ±1 core", ../shared/THESIS.md §1). A CPU is offered as several EPs
//! sharing its cores; the explorers search each CPU stage's cores with its layers, and the
//! optimum over cuts, EPs and core splits comes from the cost model by a dynamic programme
//! ([`DesignSpace::optimum`]: exact, with no runs; these spaces are far too large to enumerate).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Result, anyhow};

use infscaler_sim::explore::{Config, DesignSpace};
use infscaler_sim::policy::pipeline::Places;
use infscaler_sim::report::Report;

use super::thesis::{self, SERVER, SERVER_MOLDABLE, Setting, XAVIER, XAVIER_MOLDABLE};

/// The explorers of this study: the first of [`thesis::explorers`] (random walk, hill
/// climbing, simulated annealing, Pipe-Search and Shisha at α = 2).
pub(super) const EXPLORERS: usize = 5;

/// Each moldable setting, its stages per CPU, the fixed setting it is compared with, and their
/// titles.
const SETTINGS: [(Setting, u32, Setting, &str, &str); 2] = [
    (
        SERVER_MOLDABLE,
        4,
        SERVER,
        "server-32core's 32 cores as 4 moldable stages",
        "4 EPs × 8 cores",
    ),
    (
        XAVIER_MOLDABLE,
        2,
        XAVIER,
        "Xavier AGX: CPU as 2 moldable stages, GPU, DLA0, DLA1",
        "CPU (8 cores), GPU, DLA0, DLA1",
    ),
];

/// The cost model's optima of one (setting, model) and what each explorer settled on.
#[derive(Clone, Debug)]
pub struct Moldable {
    /// Configurations in the moldable space.
    pub size: f64,
    /// Predicted throughput of the fixed setting's optimum, req/s.
    pub fixed_rps: f64,
    /// The fixed optimum's fastest stage time over its slowest (how balanced the cuts alone
    /// make it).
    pub fixed_balance: f64,
    /// The accelerator of the fixed optimum's slowest stage.
    pub fixed_slowest: String,
    /// Cores the moldable optimum's CPU stages hold, and the CPU's cores.
    pub cores_held: (u32, u32),
    /// Predicted throughput of the moldable optimum, req/s …
    pub predicted_rps: f64,
    /// … each stage's accelerator and cores.
    pub stages: Vec<(String, u32)>,
    /// The predicted throughput of the configuration each explorer settled on, req/s.
    pub settled: BTreeMap<&'static str, f64>,
}

fn models(quick: bool) -> &'static [&'static str] {
    if quick {
        &["resnet50"]
    } else {
        &["resnet50", "vgg16"]
    }
}

/// The moldable and fixed optima of every (setting, model) of the study.
pub(super) fn optima(
    quick: bool,
    reports: &BTreeMap<String, Report>,
) -> Result<BTreeMap<String, Moldable>> {
    let mut out = BTreeMap::new();
    for (setting, cpu_stages, fixed_setting, _, _) in SETTINGS {
        for &model in models(quick) {
            let key = format!("{}/{model}", setting.id);
            let scenario = thesis::resolve(setting, model, "kind = \"pipe_search\"")?;
            let device = &scenario.device;
            let all: Vec<usize> = (0..device.accelerators.len()).collect();
            let ops = &scenario.models[0].operators;
            let target = scenario.target();
            let fail = |e| anyhow!("{key}: {e}");

            // The fixed comparison: the server's 4 × 8-core groups, or the Xavier's engines.
            let fixed_setting = thesis::resolve(fixed_setting, model, "kind = \"odin\"")?;
            let fixed_places = Places::new(
                &fixed_setting.device,
                &(0..fixed_setting.device.accelerators.len()).collect::<Vec<_>>(),
            );
            let fixed_ops = &fixed_setting.models[0].operators;
            let mut fixed = DesignSpace::new(
                fixed_ops,
                fixed_places.eps.clone(),
                fixed_places.eps.len().min(fixed_ops.len()),
                fixed_setting.target(),
            )
            .map_err(fail)?;
            let (best, fixed_ns) = fixed.optimum();
            let times = stage_times(&mut fixed, &best, fixed_ops.len());
            let fixed_balance =
                times.iter().copied().fold(f64::INFINITY, f64::min) / fixed_ns.max(1) as f64;
            let slowest = (0..times.len())
                .max_by(|&a, &b| times[a].total_cmp(&times[b]))
                .expect("a stage");
            let fixed_slowest = fixed_setting.device.accelerators
                [fixed_places.eps[best.eps[slowest]].accel]
                .name
                .clone();

            let places = Places::moldable(device, &all, cpu_stages);
            let mut space = DesignSpace::new(
                ops,
                places.eps.clone(),
                places.eps.len().min(ops.len()),
                target,
            )
            .map_err(fail)?
            .with_pools(places.pools.clone());
            let (best, ns) = space.optimum();
            let name = |e: usize| device.accelerators[places.eps[e].accel].name.clone();
            let stages: Vec<(String, u32)> = best
                .eps
                .iter()
                .zip(&best.cores)
                .map(|(&e, &c)| (name(e), c))
                .collect();
            let cpu = &device.accelerators[device.cpu()];
            let held = (0..best.eps.len())
                .filter(|&k| places.eps[best.eps[k]].accel == device.cpu())
                .map(|k| best.cores[k])
                .sum();

            let mut settled = BTreeMap::new();
            for (label, _) in thesis::explorers().into_iter().take(EXPLORERS) {
                let Some(s) = reports
                    .get(&format!("{key}/search-{label}"))
                    .and_then(|r| r.search.as_ref())
                else {
                    continue;
                };
                // A pool's slots are taken in stage order (the canonical form).
                let mut used = vec![false; places.eps.len()];
                let eps: Option<Vec<usize>> = s
                    .best_placement
                    .iter()
                    .map(|n| {
                        let e = (0..places.eps.len()).find(|&e| !used[e] && name(e) == *n)?;
                        used[e] = true;
                        Some(e)
                    })
                    .collect();
                let Some(eps) = eps else { continue };
                let config = Config {
                    cuts: s.best_cuts.clone(),
                    eps,
                    cores: s.best_cores.clone(),
                };
                settled.insert(label, 1e9 / space.bottleneck_ns(&config).max(1) as f64);
            }
            out.insert(
                key,
                Moldable {
                    size: space.size(),
                    fixed_rps: 1e9 / fixed_ns.max(1) as f64,
                    fixed_balance,
                    fixed_slowest,
                    cores_held: (held, cpu.cores),
                    predicted_rps: 1e9 / ns.max(1) as f64,
                    stages,
                    settled,
                },
            );
        }
    }
    Ok(out)
}

/// Each stage's predicted time of `config`, ns.
fn stage_times(space: &mut DesignSpace<'_>, config: &Config, ops: usize) -> Vec<f64> {
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(config.cuts.iter().copied())
        .chain(std::iter::once(ops))
        .collect();
    (0..config.eps.len())
        .map(|k| {
            space.stage_ns_with(bounds[k], bounds[k + 1], config.eps[k], config.cores[k]) as f64
        })
        .collect()
}

/// The report's section 8.
pub(super) fn section(
    reports: &BTreeMap<String, Report>,
    optima: &BTreeMap<String, Moldable>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## 8. Moldable CPU stages (Pipe-Search's third move, T252)\n\n\
         Pipe-Search maps stages to core clusters using \"task moldability\" (T252); its third \
         mutation changes a CPU stage by ±1 core (THESIS.md §1). Here a CPU is offered as \
         `cpu_stages` EPs that share its cores: a configuration also says how many cores each \
         CPU stage holds (1 or more, together at most all), and the explorers' move primitive \
         gains a CPU stage's ±1 core (a free core, or one from another stage on the CPU). \
         The hints' seeds (Pipe-Search's, Shisha's) balance layer weight over each EP's \
         speed with the cores it holds, choosing the core split with the cuts; Shisha then \
         moves layers only. The optimum over \
         cuts, EPs and core splits comes from the cost model by a dynamic programme over \
         stages, operators and cores held (exact, no runs); the fixed setting's optimum is the \
         same programme on fixed EPs.\n"
    );
    let mut why = Vec::new();
    let (mut seeded, mut unseeded) = (Vec::new(), Vec::new());
    for (setting, _, _, title, fixed_title) in SETTINGS {
        for model in ["resnet50", "vgg16"] {
            let key = format!("{}/{model}", setting.id);
            let Some(m) = optima.get(&key) else { continue };
            let gain = m.predicted_rps / m.fixed_rps - 1.0;
            why.push(mechanism(title, model, m, gain));
            let layout: Vec<String> = m
                .stages
                .iter()
                .map(|(n, c)| {
                    if n.starts_with("cpu") {
                        format!("{n} ({c} cores)")
                    } else {
                        n.clone()
                    }
                })
                .collect();
            let mut table = String::new();
            for (label, _) in thesis::explorers().into_iter().take(EXPLORERS) {
                let Some(r) = reports.get(&format!("{key}/search-{label}")) else {
                    continue;
                };
                let Some(s) = &r.search else { continue };
                let predicted = m.settled.get(label).copied();
                if let Some(p) = predicted {
                    let share = p / m.predicted_rps;
                    if label.starts_with("Pipe-Search") || label.starts_with("Shisha") {
                        seeded.push(share);
                    } else {
                        unseeded.push(share);
                    }
                }
                let cpu_cores: Vec<String> = s
                    .best_placement
                    .iter()
                    .zip(&s.best_cores)
                    .filter(|(n, _)| n.starts_with("cpu"))
                    .map(|(_, c)| c.to_string())
                    .collect();
                let _ = writeln!(
                    table,
                    "| {label} | {} | {:.2e} % | {} | {:.1} | {} | {} | {} |",
                    s.configurations,
                    100.0 * s.configurations as f64 / m.size.max(1.0),
                    s.converged_s
                        .map_or("not converged".into(), |t| format!("{t:.1}")),
                    s.best_throughput_rps,
                    predicted.map_or("—".into(), |p| format!("{p:.1}")),
                    predicted.map_or("—".into(), |p| format!(
                        "{:.0} %",
                        100.0 * p / m.predicted_rps
                    )),
                    cpu_cores.join(" + "),
                );
            }
            let _ = writeln!(
                out,
                "### {title}, {model}\n\n\
                 The space holds {:.3e} configurations. The moldable optimum predicts {:.1} \
                 req/s on {}; the fixed setting ({fixed_title}) predicts {:.1} req/s: \
                 moldability gains {:+.1} %.\n\n\
                 | explorer | configurations | of the space | converged at s | best measured req/s | predicted for it, req/s | of the moldable optimum | CPU stages' cores |\n\
                 |---|---|---|---|---|---|---|---|\n{table}",
                m.size,
                m.predicted_rps,
                layout.join(" → "),
                m.fixed_rps,
                100.0 * gain,
            );
            let search = |label: &str| {
                reports
                    .get(&format!("{key}/search-{label}"))
                    .and_then(|r| r.search.as_ref())
            };
            let best = thesis::explorers()
                .into_iter()
                .take(EXPLORERS)
                .filter_map(|(label, _)| Some((label, search(label)?.best_throughput_rps)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((label, rps)) = best {
                let _ = writeln!(
                    out,
                    "The best search, {label}, measured {rps:.1} req/s: {:+.1} % against the \
                     fixed setting's predicted optimum.\n",
                    100.0 * (rps / m.fixed_rps - 1.0)
                );
            }
            // Shisha's seed: its first measurement.
            if let Some(seed) = search("Shisha α=2")
                .and_then(|s| s.trace.first())
                .map(|t| t[1])
                .filter(|&seed| seed < 0.9 * m.predicted_rps)
            {
                let _ = writeln!(
                    out,
                    "Shisha's seed measured {seed:.1} req/s, {:.0} % of the moldable optimum's \
                     prediction: as in §7, the hints weigh layer FLOPs over each EP's \
                     whole-model speed with its cores, which misjudges layers whose speed ratio \
                     between EPs, or between core counts, is not the whole model's, and \
                     single-layer moves stop after α that do not help.\n",
                    100.0 * seed / m.predicted_rps
                );
            }
        }
    }
    if why.is_empty() {
        return out;
    }
    let spread = |xs: &[f64]| {
        if xs.is_empty() {
            return "—".to_string();
        }
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{:.0}–{:.0} %", 100.0 * lo, 100.0 * hi)
    };
    let _ = writeln!(
        out,
        "**Mechanism.** {}\n\n\
         The explorers seeded by the computational hints (Pipe-Search, Shisha) settle on \
         configurations the cost model puts at {} of the moldable optimum; those starting at \
         random (random walk, hill climbing, annealing) at {}, for the reason §7 gives: a \
         random point is far from balanced and one move changes the bottleneck little.\n",
        why.join(" "),
        spread(&seeded),
        spread(&unseeded),
    );
    out
}

/// Why moldability gains what it gains in one (setting, model), from its optima.
fn mechanism(title: &str, model: &str, m: &Moldable, gain: f64) -> String {
    let (held, cores) = m.cores_held;
    if !m.fixed_slowest.starts_with("cpu") && held < cores {
        format!(
            "{title}, {model} ({:+.1} %): the fixed optimum's slowest stage is on {}, and the \
             moldable optimum's CPU stages hold {held} of the CPU's {cores} cores: the CPU has \
             cores to spare, so what bounds the pipeline is how finely layers divide between the \
             accelerators, which core splits do not change.",
            100.0 * gain,
            m.fixed_slowest
        )
    } else if !m.fixed_slowest.starts_with("cpu") {
        format!(
            "{title}, {model} ({:+.1} %): the fixed optimum's slowest stage is on {}; the \
             moldable optimum's CPU stages hold all {cores} cores, taking what layers they can \
             from the accelerators' stages.",
            100.0 * gain,
            m.fixed_slowest
        )
    } else {
        format!(
            "{title}, {model} ({:+.1} %): the fixed optimum's stages all run on CPU cores and its \
             fastest stage takes {:.1} % of its slowest's time: the cuts alone leave a \
             {:.1} % gap for core moves to balance (and a stage's time does not fall in \
             proportion to its cores).",
            100.0 * gain,
            100.0 * m.fixed_balance,
            100.0 * (1.0 - m.fixed_balance)
        )
    }
}
