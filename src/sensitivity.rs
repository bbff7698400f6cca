//! `infscaler sensitivity`: which `[assumed]` and `[fitted]` profile parameters a scenario's
//! results hinge on. Each such parameter of the scenario's device profile and runtime profile is
//! set to ×0.5 and ×2 of its value, one at a time (the scenario resolved again, so a relative SLO
//! follows the isolated latency it changes), and the scenario runs at its own seed; parameters
//! are ranked by the largest relative change they cause in any of the metrics shown. Given a
//! sweep file instead, every point of its grid runs for each variant (a capacity sweep searches
//! each point's capacity), a metric's change is averaged over the grid's cells (points that
//! differ only in their repeat form one cell, at their mean), and the comparison the sweep makes
//! — its cells ranked by the first metric — is checked under every variant: whether the best
//! cell stays the best, and how many pairs of cells swap order. Runs are spread over a rayon
//! pool; each is a pure function of its scenario and seed, so the output is the same at any
//! `--jobs`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use serde::Serialize;

use infscaler_sim::experiment::capacity::CapacityOptions;
use infscaler_sim::experiment::run_point;
use infscaler_sim::experiment::sensitivity::{
    TaggedParameter, scaled, tagged_parameters, with_value,
};
use infscaler_sim::experiment::sweep::{Sweep, SweepPoint};
use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::model::runtime::RuntimeProfile;
use infscaler_sim::report::row::{Cell, cell, report_row};
use infscaler_sim::{ResolvedScenario, Scenario, Simulation};

/// The factors each parameter is multiplied by.
const FACTORS: [f64; 2] = [0.5, 2.0];

/// The metrics shown by default (columns of `infscaler sweep` rows).
pub const DEFAULT_METRICS: &str =
    "throughput_rps,latency_p50_ms,latency_p99_ms,slo_attainment,memory_peak_bytes";

/// Which profile a parameter belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Profile {
    Device,
    Runtime,
}

/// What is run for each variant: one scenario, or every point of a sweep.
struct Experiment {
    name: String,
    /// The runs: (cell label, point, scenario); a single scenario is one unlabelled run.
    units: Vec<(String, Option<SweepPoint>, ResolvedScenario)>,
    capacity: Option<CapacityOptions>,
}

impl Experiment {
    fn load(path: &Path) -> Result<Experiment> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let is_sweep = toml::from_str::<toml::Table>(&text)
            .map(|t| t.contains_key("base") || t.contains_key("axes"))
            .unwrap_or(false);
        if !is_sweep {
            let resolved = Scenario::load(path)?;
            return Ok(Experiment {
                name: resolved.name.clone(),
                units: vec![(String::new(), None, resolved)],
                capacity: None,
            });
        }
        let sweep = Sweep::load(path)?;
        let units = sweep
            .points()
            .into_iter()
            .map(|p| {
                let scenario = sweep.scenario(&p)?;
                let label = p
                    .coords
                    .iter()
                    .filter(|(k, _)| k != "seed")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                Ok((label, Some(p), scenario))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Experiment {
            name: sweep.name().to_string(),
            units,
            capacity: sweep.spec.capacity.clone(),
        })
    }

    /// The cells' labels, in grid order, each once.
    fn cells(&self) -> Vec<String> {
        let mut cells: Vec<String> = Vec::new();
        for (label, _, _) in &self.units {
            if !cells.contains(label) {
                cells.push(label.clone());
            }
        }
        cells
    }
}

/// One parameter's outcome.
#[derive(Debug, Serialize)]
struct ParameterEffect {
    profile: Profile,
    parameter: String,
    tag: String,
    value: String,
    variants: Vec<Variant>,
    /// The largest |relative change| over the metrics and factors.
    max_effect: f64,
}

#[derive(Debug, Serialize)]
struct Variant {
    factor: f64,
    value: Option<String>,
    /// Per metric (in the order asked): the mean over the cells of the relative change of the
    /// cell's mean, or `None` when the variant did not run.
    change: Option<Vec<Option<f64>>>,
    /// For a sweep of several cells: whether the cell best by the first metric is still best,
    /// and the pairs of cells whose order by it swapped.
    best_kept: Option<bool>,
    pairs_swapped: Option<usize>,
    error: Option<String>,
}

#[derive(Serialize)]
struct Output<'a> {
    experiment: &'a str,
    metrics: &'a [String],
    cells: &'a [String],
    /// Per cell, per metric: its mean over the repeats as written.
    baseline: &'a [Vec<Option<f64>>],
    parameters: &'a [ParameterEffect],
}

/// The profile text a scenario names: a built-in one or a file beside the scenario.
fn profile_text(name: &str, base: &Path, builtin: Option<&'static str>) -> Result<String> {
    match builtin {
        Some(text) => Ok(text.to_string()),
        None => {
            let path = base.join(name);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        }
    }
}

/// The metrics of one run of `scenario` (a capacity search with `capacity`).
fn run_unit(
    point: Option<&SweepPoint>,
    scenario: &ResolvedScenario,
    capacity: Option<&CapacityOptions>,
    metrics: &[String],
) -> Result<Vec<Option<f64>>> {
    let row = match point {
        Some(p) => run_point(p, scenario, capacity)?,
        None => report_row(&Simulation::new(scenario, None)?.run()),
    };
    Ok(metrics
        .iter()
        .map(|m| cell(&row, m).and_then(Cell::as_f64))
        .collect())
}

/// Per cell (in `cells` order), the mean of each metric over the cell's runs.
fn cell_means(
    cells: &[String],
    units: &[(String, Option<SweepPoint>, ResolvedScenario)],
    runs: &[Vec<Option<f64>>],
    metrics: usize,
) -> Vec<Vec<Option<f64>>> {
    cells
        .iter()
        .map(|cell| {
            (0..metrics)
                .map(|k| {
                    let xs: Vec<f64> = units
                        .iter()
                        .zip(runs)
                        .filter(|((label, _, _), _)| label == cell)
                        .filter_map(|(_, r)| r[k])
                        .collect();
                    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
                })
                .collect()
        })
        .collect()
}

/// The cells ordered by a metric, largest first (ties by grid order).
fn ranking(values: &[Option<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (values[a].unwrap_or(f64::MIN), values[b].unwrap_or(f64::MIN));
        y.total_cmp(&x)
    });
    order
}

/// Pairs of cells ordered differently by `a` and `b`.
fn swapped_pairs(a: &[Option<f64>], b: &[Option<f64>]) -> usize {
    let n = a.len().min(b.len());
    let mut swapped = 0;
    for i in 0..n {
        for j in i + 1..n {
            if let (Some(ai), Some(aj), Some(bi), Some(bj)) = (a[i], a[j], b[i], b[j]) {
                let (x, y) = ((ai - aj).signum(), (bi - bj).signum());
                if x != 0.0 && y != 0.0 && x != y {
                    swapped += 1;
                }
            }
        }
    }
    swapped
}

/// The texts of the device and runtime profiles every run of `experiment` uses (an error when
/// its points use different ones).
fn profile_sources(experiment: &Experiment, path: &Path) -> Result<[(Profile, String); 2]> {
    let spec = &experiment.units[0].2.scenario;
    let device_name = spec.device.profile.trim().to_string();
    let runtime_name = spec.serving.runtime.trim().to_string();
    for (_, _, u) in &experiment.units {
        if u.scenario.device.profile.trim() != device_name
            || u.scenario.serving.runtime.trim() != runtime_name
        {
            bail!(
                "{}: its points use different device or runtime profiles; sensitivity varies one \
                 profile of each (make the profile a fixed part of the sweep)",
                path.display()
            );
        }
    }
    Ok([
        (
            Profile::Device,
            profile_text(
                &device_name,
                &spec.base_dir,
                DeviceProfile::builtin_text(&device_name),
            )?,
        ),
        (
            Profile::Runtime,
            profile_text(
                &runtime_name,
                &spec.base_dir,
                RuntimeProfile::builtin_text(&runtime_name),
            )?,
        ),
    ])
}

/// Each variant's scenarios (or why it cannot run), resolved once: variant `None` is the
/// experiment as written; `Some((i, factor))` has parameter `i` of `params` × `factor`, its
/// profile written to a file in `dir`.
fn resolve_variants(
    experiment: &Experiment,
    sources: &[(Profile, String)],
    params: &[(Profile, TaggedParameter)],
    variants: &[Option<(usize, f64)>],
    dir: &Path,
) -> Vec<Result<Vec<ResolvedScenario>, String>> {
    variants
        .iter()
        .enumerate()
        .map(|(v, variant)| {
            let Some((i, factor)) = *variant else {
                return Ok(experiment.units.iter().map(|u| u.2.clone()).collect());
            };
            let (profile, p) = &params[i];
            let text = &sources
                .iter()
                .find(|(q, _)| q == profile)
                .expect("source")
                .1;
            let value = scaled(&p.value, factor).ok_or("not a nonzero number or quantity")?;
            let new_text = with_value(text, &p.path, value).ok_or("not in the profile")?;
            let file = dir.join(format!("{v}.toml"));
            std::fs::write(&file, new_text).map_err(|e| format!("{}: {e}", file.display()))?;
            let file = file.display().to_string();
            experiment
                .units
                .iter()
                .map(|(_, _, u)| {
                    let mut s = u.scenario.clone();
                    match profile {
                        Profile::Device => s.device.profile = file.clone(),
                        Profile::Runtime => s.serving.runtime = file.clone(),
                    }
                    // The temporary file's path would make the output differ from run to run.
                    s.resolve()
                        .map_err(|e| e.to_string().replace(&file, "(the varied profile)"))
                })
                .collect()
        })
        .collect()
}

/// Runs the command.
pub fn run(path: &Path, metrics: &str, jobs: Option<usize>, json: bool) -> Result<ExitCode> {
    let experiment = Experiment::load(path)?;
    let metrics: Vec<String> = metrics
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    if metrics.is_empty() {
        bail!("--metric: name at least one column of a run's row (e.g. {DEFAULT_METRICS})");
    }
    let sources = profile_sources(&experiment, path)?;
    let mut params: Vec<(Profile, TaggedParameter)> = Vec::new();
    for (profile, text) in &sources {
        let found = tagged_parameters(text)
            .map_err(|e| anyhow::anyhow!("the {profile:?} profile of {}: {e}", path.display()))?;
        params.extend(found.into_iter().map(|p| (*profile, p)));
    }
    let dir = std::env::temp_dir().join(format!("infscaler-sensitivity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // Variant 0 is the experiment as written; then (parameter, factor) in order.
    let mut variants: Vec<Option<(usize, f64)>> = vec![None];
    variants.extend((0..params.len()).flat_map(|i| FACTORS.iter().map(move |&f| Some((i, f)))));
    let varied = resolve_variants(&experiment, &sources, &params, &variants, &dir);
    let runnable: Vec<(usize, usize)> = varied
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .flat_map(|(v, _)| (0..experiment.units.len()).map(move |u| (v, u)))
        .collect();
    eprintln!(
        "sensitivity: {} tagged parameters × {} factors, {} run(s) each: {} runs of {}",
        params.len(),
        FACTORS.len(),
        experiment.units.len(),
        runnable.len(),
        path.display()
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .context("starting the thread pool")?;
    let results: Vec<Result<Vec<Option<f64>>, String>> = pool.install(|| {
        runnable
            .par_iter()
            .map(|&(v, u)| {
                let scenario = &varied[v].as_ref().expect("runnable")[u];
                let (_, point, _) = &experiment.units[u];
                run_unit(
                    point.as_ref(),
                    scenario,
                    experiment.capacity.as_ref(),
                    &metrics,
                )
                .map_err(|e| format!("{e:#}"))
            })
            .collect()
    });
    let _ = std::fs::remove_dir_all(&dir);

    // Per variant: its runs in unit order, or the first error.
    let mut per_variant: Vec<Result<Vec<Vec<Option<f64>>>, String>> = varied
        .iter()
        .map(|r| match r {
            Ok(_) => Ok(Vec::new()),
            Err(e) => Err(e.clone()),
        })
        .collect();
    for (&(v, _), result) in runnable.iter().zip(results) {
        if let Ok(runs) = &mut per_variant[v] {
            match result {
                Ok(m) => runs.push(m),
                Err(e) => per_variant[v] = Err(e),
            }
        }
    }
    let cells = experiment.cells();
    let means =
        |runs: &[Vec<Option<f64>>]| cell_means(&cells, &experiment.units, runs, metrics.len());
    let baseline = match &per_variant[0] {
        Ok(runs) => means(runs),
        Err(e) => bail!("{}: {e}", path.display()),
    };
    if let Some(m) = (0..metrics.len()).find(|&k| baseline.iter().all(|c| c[k].is_none())) {
        bail!(
            "--metric: `{}` is not a numeric column of a run's row (e.g. {DEFAULT_METRICS})",
            metrics[m]
        );
    }
    let first = |table: &[Vec<Option<f64>>]| table.iter().map(|c| c[0]).collect::<Vec<_>>();
    let base_first = first(&baseline);
    let base_best = ranking(&base_first).first().copied();
    let mut effects: Vec<ParameterEffect> = params
        .iter()
        .enumerate()
        .map(|(i, (profile, p))| {
            let vs: Vec<Variant> = FACTORS
                .iter()
                .enumerate()
                .map(|(j, &factor)| {
                    let v = 1 + i * FACTORS.len() + j;
                    let value = scaled(&p.value, factor).map(|x| x.to_string());
                    match &per_variant[v] {
                        Err(e) => Variant {
                            factor,
                            value,
                            change: None,
                            best_kept: None,
                            pairs_swapped: None,
                            error: Some(e.clone()),
                        },
                        Ok(runs) => {
                            let table = means(runs);
                            let change = (0..metrics.len())
                                .map(|k| {
                                    let xs: Vec<f64> = table
                                        .iter()
                                        .zip(&baseline)
                                        .filter_map(|(c, b)| relative_change(c[k], b[k]))
                                        .collect();
                                    (!xs.is_empty())
                                        .then(|| xs.iter().sum::<f64>() / xs.len() as f64)
                                })
                                .collect();
                            let several = cells.len() > 1;
                            let ours = first(&table);
                            Variant {
                                factor,
                                value,
                                change: Some(change),
                                best_kept: several
                                    .then(|| ranking(&ours).first().copied() == base_best),
                                pairs_swapped: several.then(|| swapped_pairs(&base_first, &ours)),
                                error: None,
                            }
                        }
                    }
                })
                .collect();
            let max_effect = vs
                .iter()
                .filter_map(|v| v.change.as_ref())
                .flatten()
                .flatten()
                .fold(0.0f64, |a, x| a.max(x.abs()));
            ParameterEffect {
                profile: *profile,
                parameter: p.name.clone(),
                tag: p.tag.clone(),
                value: p.value.to_string(),
                variants: vs,
                max_effect,
            }
        })
        .collect();
    // Largest effect first (a changed comparison before any size of change); ties keep document
    // order (the sort is stable).
    let reorders = |e: &ParameterEffect| {
        e.variants
            .iter()
            .filter_map(|v| v.pairs_swapped)
            .max()
            .unwrap_or(0)
    };
    effects.sort_by(|a, b| {
        reorders(b)
            .cmp(&reorders(a))
            .then(b.max_effect.total_cmp(&a.max_effect))
    });
    if json {
        let out = Output {
            experiment: &experiment.name,
            metrics: &metrics,
            cells: &cells,
            baseline: &baseline,
            parameters: &effects,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!(
            "{}",
            table(&experiment.name, &metrics, &cells, &baseline, &effects)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// (value − base) / |base|; `None` without both or with a base of 0.
fn relative_change(value: Option<f64>, base: Option<f64>) -> Option<f64> {
    let (v, b) = (value?, base?);
    (b != 0.0).then(|| (v - b) / b.abs())
}

fn table(
    name: &str,
    metrics: &[String],
    cells: &[String],
    baseline: &[Vec<Option<f64>>],
    effects: &[ParameterEffect],
) -> String {
    let several = cells.len() > 1;
    let mut s = format!(
        "{name}: each [assumed]/[fitted] profile parameter ×0.5 and ×2, one at a time; the \
         change of each metric against the experiment as written{}, largest effect first\n\n",
        if several {
            format!(
                " (mean over its {} cells), and whether the cells' ranking by {} holds",
                cells.len(),
                metrics[0]
            )
        } else {
            String::new()
        }
    );
    for (cell, values) in cells.iter().zip(baseline) {
        let _ = write!(
            s,
            "as written{}:",
            if cell.is_empty() {
                String::new()
            } else {
                format!(" [{cell}]")
            }
        );
        for (m, b) in metrics.iter().zip(values) {
            let _ = write!(s, "  {m} {}", b.map_or("-".into(), |x| format!("{x:.4}")));
        }
        s.push('\n');
    }
    s.push('\n');
    let mut header = format!("{:<44} {:<26} {:>12}", "parameter", "tag", "value");
    for m in metrics {
        let _ = write!(header, "  {:>21}", truncate(m, 21));
    }
    if several {
        let _ = write!(header, "  {:>17}", "ranking ×0.5 / ×2");
    }
    let _ = writeln!(s, "{header}");
    for e in effects {
        let name = format!(
            "{}:{}",
            match e.profile {
                Profile::Device => "device",
                Profile::Runtime => "runtime",
            },
            e.parameter
        );
        let mut line = format!(
            "{:<44} {:<26} {:>12}",
            truncate(&name, 44),
            truncate(&e.tag, 26),
            truncate(&e.value, 12)
        );
        for k in 0..metrics.len() {
            let cell = |v: &Variant| match &v.change {
                Some(m) => m[k].map_or("-".into(), |x| format!("{:+.1}%", 100.0 * x)),
                None => "n/a".into(),
            };
            let parts: Vec<String> = e.variants.iter().map(cell).collect();
            let _ = write!(line, "  {:>21}", parts.join(" / "));
        }
        if several {
            let parts: Vec<String> = e
                .variants
                .iter()
                .map(|v| match (v.best_kept, v.pairs_swapped) {
                    (Some(true), Some(0)) => "same".to_string(),
                    (Some(kept), Some(n)) => {
                        format!(
                            "{}{n} swap{}",
                            if kept { "" } else { "NEW BEST, " },
                            if n == 1 { "" } else { "s" }
                        )
                    }
                    _ => "n/a".into(),
                })
                .collect();
            let _ = write!(line, "  {:>17}", parts.join(" / "));
        }
        let _ = writeln!(s, "{line}");
        for v in &e.variants {
            if let Some(err) = &v.error {
                let _ = writeln!(s, "    ×{}: not run: {}", v.factor, first_line(err));
            }
        }
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rankings_and_swapped_pairs() {
        let a = [Some(3.0), Some(1.0), Some(2.0)];
        assert_eq!(ranking(&a), vec![0, 2, 1]);
        assert_eq!(swapped_pairs(&a, &a), 0);
        let b = [Some(1.0), Some(3.0), Some(2.0)];
        // (0,1) and (0,2) swap; (1,2) swaps too: 1 < 2 before, 3 > 2 after.
        assert_eq!(swapped_pairs(&a, &b), 3);
        let c = [Some(3.0), Some(2.5), Some(2.0)];
        assert_eq!(swapped_pairs(&a, &c), 1);
        assert_eq!(relative_change(Some(3.0), Some(2.0)), Some(0.5));
        assert_eq!(relative_change(Some(3.0), Some(0.0)), None);
    }
}
