//! `infscaler reproduce accuracy`: the claims of Proteus and Sponge (../shared/THESIS.md §5–§6;
//! ../shared/seeds/proteus-abstract.txt, related-abstracts.txt) on the simulated Xavier AGX,
//! written to `results/accuracy/REPORT.md` with one CSV of every run under `data/`.
//!
//! - **Proteus** ("reduces accuracy drop by up to 3× and latency timeouts by 2-10×"): the ResNet
//!   family under steady Poisson loads and a bursty one, against three baselines that do not
//!   choose variants: ResNet-152 only and ResNet-18 only, each placed and split by Proteus' own
//!   solver (so only the variant choice differs), and InfScaler autoscaling ResNet-152.
//! - **Sponge** (SLO attainment under varying network delay; the abstract gives no number):
//!   MobileNetV2 on the CPU with a uniform 10–90 ms delay before each request, and with a fixed
//!   50 ms one, against fixed allocations of 2, 4 and 8 cores and horizontal scaling (Knative's
//!   KPA adding 1-core or 2-core pods on the CPU, no more pods than the CPU has cores).
//!
//! Every sentence that interprets a result is computed from the numbers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, anyhow};

use infscaler_results::atomic;
use infscaler_sim::Scenario;
use infscaler_sim::report::Report;
use infscaler_sim::simulation::Simulation;

/// A Proteus load: label and `[workload]` body.
const PROTEUS_LOADS: &[(&str, &str)] = &[
    ("poisson 60/s", "kind = \"poisson\"\nrate_per_s = 60.0"),
    ("poisson 200/s", "kind = \"poisson\"\nrate_per_s = 200.0"),
    ("poisson 400/s", "kind = \"poisson\"\nrate_per_s = 400.0"),
    ("poisson 600/s", "kind = \"poisson\"\nrate_per_s = 600.0"),
    (
        "bursty 400/60",
        "kind = \"mmpp\"\nrate_high_per_s = 400.0\nrate_low_per_s = 60.0\nmean_high_s = 10.0\nmean_low_s = 20.0",
    ),
];

/// Proteus and its baselines: label, `[app]` body, `[policy]` body.
const PROTEUS_SYSTEMS: &[(&str, &str, &str)] = &[
    ("Proteus", "family = \"resnet\"", "kind = \"proteus\""),
    (
        "ResNet-152 only",
        "family = \"resnet\"\nvariants = [\"resnet152\"]",
        "kind = \"proteus\"",
    ),
    (
        "ResNet-18 only",
        "family = \"resnet\"\nvariants = [\"resnet18\"]",
        "kind = \"proteus\"",
    ),
    (
        "InfScaler, ResNet-152",
        "name = \"resnet152\"",
        "kind = \"infscaler\"",
    ),
];

/// A Sponge delay: label and `network_delay` value.
const SPONGE_DELAYS: &[(&str, &str)] = &[
    (
        "uniform 10–90 ms",
        "{ kind = \"uniform\", low = \"10ms\", high = \"90ms\" }",
    ),
    ("fixed 50 ms", "{ kind = \"fixed\", delay = \"50ms\" }"),
];

/// Sponge and its baselines: label, `[policy]` body.
const SPONGE_SYSTEMS: &[(&str, &str)] = &[
    ("Sponge", "kind = \"sponge\""),
    ("fixed 2 cores", STATIC_2),
    ("fixed 4 cores", STATIC_4),
    ("fixed 8 cores", STATIC_8),
    (
        "horizontal, 1-core pods",
        "kind = \"knative\"\naccelerator = \"cpu\"\npartition = false\nautoscaler = { max_scale = 8 }",
    ),
    (
        "horizontal, 2-core pods",
        "kind = \"knative\"\naccelerator = \"cpu\"\npartition = false\ncpu_cores = 2\nautoscaler = { max_scale = 4 }",
    ),
];

const STATIC_2: &str = "kind = \"static\"\n[[policy.stages]]\n[[policy.stages.partitions]]\ninstances = { cpu = 1 }\ncpu_cores = 2";
const STATIC_4: &str = "kind = \"static\"\n[[policy.stages]]\n[[policy.stages.partitions]]\ninstances = { cpu = 1 }\ncpu_cores = 4";
const STATIC_8: &str = "kind = \"static\"\n[[policy.stages]]\n[[policy.stages.partitions]]\ninstances = { cpu = 1 }\ncpu_cores = 8";

/// One run.
struct Job {
    key: String,
    text: String,
}

impl Job {
    fn run(&self) -> Result<Report> {
        let scenario = Scenario::parse(&self.text, &self.key, Path::new("."))
            .and_then(|s| s.resolve())
            .map_err(|e| anyhow!("{}: {e}", self.key))?;
        let sim = Simulation::new(&scenario, None).map_err(|e| anyhow!("{}: {e}", self.key))?;
        Ok(sim.run())
    }
}

fn seeds(quick: bool) -> std::ops::RangeInclusive<u64> {
    if quick { 1..=1 } else { 1..=3 }
}

fn proteus_key(load: &str, system: &str, seed: u64) -> String {
    format!("proteus/{load}/{system}/s{seed}")
}

fn sponge_key(delay: &str, system: &str, seed: u64) -> String {
    format!("sponge/{delay}/{system}/s{seed}")
}

fn jobs(quick: bool) -> Vec<Job> {
    let mut out = Vec::new();
    let loads = if quick {
        &PROTEUS_LOADS[1..2]
    } else {
        PROTEUS_LOADS
    };
    for seed in seeds(quick) {
        for (load, workload) in loads {
            let duration = match (quick, load.starts_with("bursty")) {
                (true, _) => 20,
                (false, true) => 120,
                (false, false) => 60,
            };
            for (system, app, policy) in PROTEUS_SYSTEMS {
                out.push(Job {
                    key: proteus_key(load, system, seed),
                    text: format!(
                        "name = \"proteus\"\nseed = {seed}\n[device]\nprofile = \"xavier-agx\"\n\
                         [app]\n{app}\n[slo]\nlatency = \"100ms\"\n[workload]\n{workload}\n\
                         [serving.admission]\ndrop_late = true\n\
                         [run]\nduration = \"{duration}s\"\nwarmup = \"5s\"\n[policy]\n{policy}\n"
                    ),
                });
            }
        }
        for (delay, spec) in SPONGE_DELAYS {
            for (system, policy) in SPONGE_SYSTEMS {
                out.push(Job {
                    key: sponge_key(delay, system, seed),
                    text: format!(
                        "name = \"sponge\"\nseed = {seed}\n[device]\nprofile = \"xavier-agx\"\n\
                         [app]\nname = \"mobilenet_v2\"\n[slo]\nlatency = \"120ms\"\n\
                         network_delay = {spec}\n[workload]\nkind = \"mmpp\"\n\
                         rate_high_per_s = 60.0\nrate_low_per_s = 10.0\nmean_high_s = 5.0\n\
                         mean_low_s = 10.0\n[serving]\nqueue_order = \"edf\"\n\
                         [run]\nduration = \"{d}s\"\nwarmup = \"2s\"\n[policy]\n{policy}\n",
                        d = if quick { 20 } else { 60 },
                    ),
                });
            }
        }
    }
    out
}

/// Runs the command.
pub fn run(quick: bool, out_dir: Option<PathBuf>, jobs: Option<usize>) -> Result<ExitCode> {
    let (out_dir, data, pool) = super::output_and_pool("accuracy", quick, out_dir, jobs)?;
    let started = Instant::now();
    let all = self::jobs(quick);
    let reports = super::run_keyed(&all, &pool, |j| &j.key, Job::run)?;
    atomic::write_bytes(&data.join("runs.csv"), runs_csv(&reports).as_bytes())?;
    super::write_report(&out_dir, &write(&reports, quick), reports.len(), started)
}

/// The mean over the seeds of a metric of a (setting, system): `mean(setting, system, metric)`.
type MeanOf<'a> = dyn Fn(&str, &str, fn(&Measured) -> Option<f64>) -> Option<f64> + 'a;

/// What one run measured.
#[derive(Clone, Copy, Debug, Default)]
struct Measured {
    /// Requests answered within their objective, over those finished (completed or dropped) in
    /// the measured window.
    attained: f64,
    /// Served accuracy, % (`None`: not reported).
    served: Option<f64>,
    /// Accuracy drop, points.
    drop: Option<f64>,
    /// Mean CPU cores held.
    cores: f64,
    /// Completions per second.
    throughput: f64,
    /// 99th percentile latency of the completions, ms.
    p99: Option<f64>,
}

fn measured(r: &Report) -> Measured {
    let s = &r.summary;
    let acc = r.accuracy.as_ref();
    Measured {
        attained: s.slo_attainment.unwrap_or(0.0),
        served: acc.and_then(|a| a.served_percent),
        drop: acc.and_then(|a| a.drop_points),
        cores: s.cpu_cores_held_mean,
        throughput: s.throughput_rps,
        p99: s.latency_ms.as_ref().map(|l| l.p99),
    }
}

fn runs_csv(reports: &BTreeMap<String, Report>) -> String {
    let mut out = String::from(
        "key,policy,arrivals,completed,within_slo,dropped,attained,served_accuracy_pct,accuracy_drop_pts,cpu_cores_held_mean,throughput_rps,latency_p99_ms\n",
    );
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.4}"));
    for (key, r) in reports {
        let m = measured(r);
        let s = &r.summary;
        let _ = writeln!(
            out,
            "\"{key}\",{},{},{},{},{},{:.6},{},{},{:.4},{:.4},{}",
            r.policy,
            s.arrivals,
            s.completed,
            s.completed_within_slo,
            s.dropped,
            m.attained,
            opt(m.served),
            opt(m.drop),
            m.cores,
            m.throughput,
            opt(m.p99),
        );
    }
    out
}

/// The mean of `f` over the seeds of the runs whose key `key(seed)` gives, and its range.
fn over_seeds(
    reports: &BTreeMap<String, Report>,
    quick: bool,
    key: impl Fn(u64) -> String,
    f: impl Fn(&Measured) -> Option<f64>,
) -> Option<(f64, f64, f64)> {
    let xs: Vec<f64> = seeds(quick)
        .filter_map(|s| reports.get(&key(s)))
        .filter_map(|r| f(&measured(r)))
        .collect();
    if xs.is_empty() {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((mean, lo, hi))
}

fn cell(x: Option<(f64, f64, f64)>, digits: usize, scale: f64) -> String {
    match x {
        None => "–".into(),
        Some((m, lo, hi)) if (hi - lo) * scale < 0.5 * 10f64.powi(-(digits as i32)) => {
            format!("{:.*}", digits, m * scale)
        }
        Some((m, lo, hi)) => format!(
            "{:.*} ({:.*}–{:.*})",
            digits,
            m * scale,
            digits,
            lo * scale,
            digits,
            hi * scale
        ),
    }
}

/// Baseline `a` over Proteus' `b`, where both are known and `a` is at least `floor`: a
/// denominator under `floor` counts as `floor` and the ratio is then a lower bound (`true`).
/// Below the floor a difference is noise, and a ratio of noise says nothing.
fn ratio(a: Option<f64>, b: Option<f64>, floor: f64) -> Option<(f64, bool)> {
    match (a, b) {
        (Some(a), Some(b)) if a >= floor => Some((a / b.max(floor), b < floor)),
        _ => None,
    }
}

fn times(x: Option<(f64, bool)>) -> String {
    match x {
        None => "–".into(),
        Some((x, true)) => format!("≥ {x:.1}×"),
        Some((x, false)) => format!("{x:.1}×"),
    }
}

/// Timeouts below this share are noise (one in 200 requests).
const TIMEOUT_FLOOR: f64 = 0.005;
/// Accuracy drops below this are noise, points.
const DROP_FLOOR: f64 = 0.05;

/// The report.
fn write(reports: &BTreeMap<String, Report>, quick: bool) -> String {
    let mut out = String::new();
    let seeds = seeds(quick);
    let _ = writeln!(
        out,
        "# Accuracy and vertical scaling: Proteus and Sponge on a simulated Xavier AGX\n\n\
         Made by `infscaler reproduce accuracy{}`; every run is in `data/runs.csv`. Each cell is \
         the mean over seeds {}–{} (their range in brackets where they differ). *Timeouts* are \
         the requests not answered within their objective (dropped as hopeless, or late), as a \
         share of the requests finished after the warm-up; *attained* is the rest. Accuracy is ImageNet top-1 of the \
         variant that served each completed request (torchvision's published figures); the \
         drop is against ResNet-152 (78.312 %).\n",
        if quick { " --quick" } else { "" },
        seeds.start(),
        seeds.end()
    );
    proteus_section(&mut out, reports, quick);
    sponge_section(&mut out, reports, quick);
    out
}

fn proteus_section(out: &mut String, reports: &BTreeMap<String, Report>, quick: bool) {
    let _ = writeln!(
        out,
        "## 1. Proteus: variants chosen per engine\n\n\
         The ResNet family (ResNet-18 … ResNet-152) on the four engines (CPU, GPU, DLA0, DLA1), \
         objective 100 ms, hopeless requests dropped at admission (`drop_late`). Proteus solves \
         THESIS.md §5's [proposed] formulation exactly (enumeration of a variant per engine, the \
         load split filling the most accurate instances first) every 10 s and when the rate \
         moves by more than 10 %. Baselines: the same solver offered only ResNet-152 (*always \
         the most accurate*) or only ResNet-18 (*always the fastest*), and InfScaler \
         autoscaling ResNet-152 (partitions scaled asymmetrically, no variants). The abstract \
         names neither its baselines nor its hardware.\n\n\
         | load | system | served top-1 % | drop, points | timeouts % | throughput req/s | p99 ms |\n\
         |---|---|---|---|---|---|---|"
    );
    let loads: Vec<&str> = PROTEUS_LOADS
        .iter()
        .map(|(l, _)| *l)
        .filter(|l| {
            PROTEUS_SYSTEMS
                .iter()
                .any(|(s, _, _)| reports.contains_key(&proteus_key(l, s, 1)))
        })
        .collect();
    for load in &loads {
        for (system, _, _) in PROTEUS_SYSTEMS {
            let k = |s| proteus_key(load, system, s);
            let _ = writeln!(
                out,
                "| {load} | {system} | {} | {} | {} | {} | {} |",
                cell(over_seeds(reports, quick, k, |m| m.served), 2, 1.0),
                cell(over_seeds(reports, quick, k, |m| m.drop), 2, 1.0),
                cell(
                    over_seeds(reports, quick, k, |m| Some(1.0 - m.attained)),
                    1,
                    100.0
                ),
                cell(
                    over_seeds(reports, quick, k, |m| Some(m.throughput)),
                    1,
                    1.0
                ),
                cell(over_seeds(reports, quick, k, |m| m.p99), 0, 1.0),
            );
        }
    }
    let _ = writeln!(
        out,
        "\n**Against the claims** (ratios of the means, baseline over Proteus):\n\n\
         | load | accuracy drop: ResNet-18 only ÷ Proteus | timeouts: ResNet-152 only ÷ Proteus | timeouts: InfScaler ÷ Proteus | timeouts: ResNet-18 only ÷ Proteus |\n\
         |---|---|---|---|---|"
    );
    let mean = |load: &str, system: &str, f: fn(&Measured) -> Option<f64>| {
        over_seeds(reports, quick, |s| proteus_key(load, system, s), f).map(|x| x.0)
    };
    let timeouts = |m: &Measured| Some(1.0 - m.attained);
    let drop = |m: &Measured| m.drop;
    let mut drop_ratios: Vec<(f64, bool)> = Vec::new();
    let mut timeout_ratios: Vec<(f64, bool)> = Vec::new();
    for load in &loads {
        let p_drop = mean(load, "Proteus", drop);
        let p_to = mean(load, "Proteus", timeouts);
        let d = ratio(mean(load, "ResNet-18 only", drop), p_drop, DROP_FLOOR);
        let t152 = ratio(mean(load, "ResNet-152 only", timeouts), p_to, TIMEOUT_FLOOR);
        let tinf = ratio(
            mean(load, "InfScaler, ResNet-152", timeouts),
            p_to,
            TIMEOUT_FLOOR,
        );
        let t18 = ratio(mean(load, "ResNet-18 only", timeouts), p_to, TIMEOUT_FLOOR);
        drop_ratios.extend(d);
        timeout_ratios.extend(t152.into_iter().chain(tinf));
        let _ = writeln!(
            out,
            "| {load} | {} | {} | {} | {} |",
            times(d),
            times(t152),
            times(tinf),
            times(t18)
        );
    }
    let pick = |xs: &[(f64, bool)], largest: bool| {
        xs.iter()
            .copied()
            .reduce(|a, b| if (b.0 > a.0) == largest { b } else { a })
    };
    let drop_values: Vec<f64> = drop_ratios.iter().map(|x| x.0).collect();
    let timeout_values: Vec<f64> = timeout_ratios.iter().map(|x| x.0).collect();
    let _ = writeln!(
        out,
        "\n- *\"reduces accuracy drop by up to 3×\"*: against always-the-fastest, the drop falls \
         by {} at most ({} at least; lower bounds where Proteus' drop is under \
         {DROP_FLOOR} points){}. Against the accurate baselines there is no drop to \
         reduce: they serve ResNet-152 throughout, and pay in timeouts instead.\n\
         - *\"latency timeouts by 2-10×\"*: against the ResNet-152 baselines, timeouts fall by \
         {} to {} (where the baseline times out at least {:.1} % of requests; Proteus' share \
         counted as at least that){}.",
        times(pick(&drop_ratios, true)),
        times(pick(&drop_ratios, false)),
        verdict(&drop_values, |x| x >= 3.0, "3×"),
        times(pick(&timeout_ratios, false)),
        times(pick(&timeout_ratios, true)),
        TIMEOUT_FLOOR * 100.0,
        verdict(&timeout_values, |x| x >= 2.0, "2×"),
    );
    let drops: Vec<String> = loads
        .iter()
        .filter_map(|l| Some(format!("{:.2} at {l}", mean(l, "Proteus", drop)?)))
        .collect();
    let bursty = loads.iter().find(|l| l.starts_with("bursty"));
    let burst_note = bursty
        .and_then(|l| {
            Some(format!(
                " Under the bursty load it times out {:.1} % of requests against {:.1} % for \
                 the fastest variant alone: after a burst starts the new variants cold-start \
                 while the old, slower instances take the arrivals, and the requests of those \
                 seconds queue behind them.",
                mean(l, "Proteus", timeouts)? * 100.0,
                mean(l, "ResNet-18 only", timeouts)? * 100.0
            ))
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n**Mechanism.** Proteus keeps the accurate variants while they carry the load and \
         moves engines to faster ones as it grows: its drop, in points, is {}.{burst_note} The \
         ResNet-152 baselines cannot carry more than the most accurate variant can, and drop or \
         answer late the rest. A ratio is large where its denominator is small, so the \
         comparisons count only baselines that time out at least {:.1} % of requests.\n",
        drops.join(", "),
        TIMEOUT_FLOOR * 100.0
    );
}

/// "(the claim holds at every load)" and the like.
fn verdict(xs: &[f64], holds: impl Fn(f64) -> bool, what: &str) -> String {
    let n = xs.iter().filter(|&&x| holds(x)).count();
    if xs.is_empty() {
        " (no load to judge it by)".into()
    } else if n == xs.len() {
        format!(" — at least {what} in every comparison: the claim holds here")
    } else if n == 0 {
        format!(" — never {what}: the claim does not hold here")
    } else {
        format!(
            " — {what} or more in {n} of {} comparisons: the claim holds in part",
            xs.len()
        )
    }
}

fn sponge_section(out: &mut String, reports: &BTreeMap<String, Report>, quick: bool) {
    let _ = writeln!(
        out,
        "## 2. Sponge: vertical scaling under varying network delay\n\n\
         MobileNetV2 on the Xavier's 8-core CPU, objective 120 ms from the client, of which a \
         network delay is already spent on arrival; queues serve the earliest deadline first. \
         The load alternates between bursts (60 req/s, 5 s on average) and lulls (10 req/s, \
         10 s). Sponge resizes one instance in place every second (THESIS.md §6 [proposed]). \
         Horizontal scaling is Knative's KPA adding pods of 1 or 2 cores on the CPU, at most as \
         many pods as the CPU has room for. The abstract gives no number to compare with.\n\n\
         | network delay | system | attained % | mean cores held | p99 ms |\n\
         |---|---|---|---|---|"
    );
    for (delay, _) in SPONGE_DELAYS {
        for (system, _) in SPONGE_SYSTEMS {
            let k = |s| sponge_key(delay, system, s);
            let _ = writeln!(
                out,
                "| {delay} | {system} | {} | {} | {} |",
                cell(
                    over_seeds(reports, quick, k, |m| Some(m.attained)),
                    1,
                    100.0
                ),
                cell(over_seeds(reports, quick, k, |m| Some(m.cores)), 2, 1.0),
                cell(over_seeds(reports, quick, k, |m| m.p99), 0, 1.0),
            );
        }
    }
    let mean = |delay: &str, system: &str, f: fn(&Measured) -> Option<f64>| {
        over_seeds(reports, quick, |s| sponge_key(delay, system, s), f).map(|x| x.0)
    };
    let attained = |m: &Measured| Some(m.attained);
    let cores = |m: &Measured| Some(m.cores);
    let (delay, _) = SPONGE_DELAYS[0];
    let (Some(sa), Some(sc)) = (
        mean(delay, "Sponge", attained),
        mean(delay, "Sponge", cores),
    ) else {
        return;
    };
    // The fixed allocations and horizontal set-ups that hold no more cores than Sponge, and
    // those that hold more.
    let mut leaner = Vec::new();
    let mut richer_below = Vec::new();
    for (system, _) in &SPONGE_SYSTEMS[1..] {
        let (Some(a), Some(c)) = (mean(delay, system, attained), mean(delay, system, cores)) else {
            continue;
        };
        if c <= sc * 1.05 {
            leaner.push(format!("{system} {:.1} % with {c:.2}", a * 100.0));
        } else if a < sa {
            richer_below.push(format!("{system} {:.1} % with {c:.2}", a * 100.0));
        }
    }
    let _ = writeln!(
        out,
        "\nUnder the uniform delay Sponge answers {:.1} % of requests in time holding {sc:.2} \
         cores on average. Set-ups holding no more cores: {}. Set-ups holding more cores yet \
         answering fewer in time: {}.\n\n\
         **Mechanism.** A request's objective left is 120 ms less its delay, 30–110 ms. Horizontal \
         scaling adds throughput but not speed: a 1-core pod takes as long per request in a lull \
         as in a burst, so the requests with the least time left miss however many pods run. \
         Sponge gives its one instance more cores when the tightest objective of the window \
         needs them, and returns them in lulls; a fixed allocation holds its cores throughout. \
         {}{}\n",
        sa * 100.0,
        if leaner.is_empty() {
            "none".into()
        } else {
            leaner.join("; ")
        },
        if richer_below.is_empty() {
            "none".into()
        } else {
            richer_below.join("; ")
        },
        delay_effect(&mean),
        variance_effect(&mean),
    );
}

/// What the delay's variance does to the 1-core pods and to the cores Sponge holds.
fn variance_effect(mean: &MeanOf) -> String {
    let (varying, fixed) = (SPONGE_DELAYS[0].0, SPONGE_DELAYS[1].0);
    let attained = |m: &Measured| Some(m.attained);
    let cores = |m: &Measured| Some(m.cores);
    let pods = "horizontal, 1-core pods";
    let text = || -> Option<String> {
        Some(format!(
            " The 1-core pods answer {:.1} % in time under the {varying} delay and {:.1} % under \
             the {fixed} one; Sponge holds {:.2} cores on average under the first and {:.2} under \
             the second, where the tightest objective left is always 70 ms.",
            mean(varying, pods, attained)? * 100.0,
            mean(fixed, pods, attained)? * 100.0,
            mean(varying, "Sponge", cores)?,
            mean(fixed, "Sponge", cores)?,
        ))
    };
    text().unwrap_or_default()
}

/// How much the delay's variance changes Sponge's lead over the fixed 4 cores (about the cores
/// it holds on average).
fn delay_effect(mean: &MeanOf<'_>) -> String {
    let attained = |m: &Measured| Some(m.attained);
    let lead = |delay: &str| {
        Some(mean(delay, "Sponge", attained)? - mean(delay, "fixed 4 cores", attained)?)
    };
    let (varying, fixed) = (SPONGE_DELAYS[0].0, SPONGE_DELAYS[1].0);
    match (lead(varying), lead(fixed)) {
        (Some(v), Some(f)) => format!(
            "Sponge's lead over the fixed 4 cores is {:+.1} points under the {varying} delay \
             and {:+.1} points under the {fixed} one (every request then has 70 ms left).",
            v * 100.0,
            f * 100.0
        ),
        _ => String::new(),
    }
}
