//! What a sensitivity analysis runs: the experiment (one scenario, or the points of a sweep), the
//! `[assumed]`/`[fitted]` parameters of its device and runtime profiles, and the variants — the
//! experiment as written, then each parameter ×0.5 and ×2 — with every variant's scenarios
//! resolved (or why it cannot run).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use infscaler_sim::experiment::capacity::CapacityOptions;
use infscaler_sim::experiment::sensitivity::{
    TaggedParameter, scaled, tagged_parameters, with_value,
};
use infscaler_sim::experiment::sweep::{Sweep, SweepPoint};
use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::model::runtime::RuntimeProfile;
use infscaler_sim::{ResolvedScenario, Scenario};

/// The factors each parameter is multiplied by.
pub const FACTORS: [f64; 2] = [0.5, 2.0];

/// Which profile a parameter belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    Device,
    Runtime,
}

impl Profile {
    /// `device` or `runtime`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Device => "device",
            Profile::Runtime => "runtime",
        }
    }
}

/// One run of the experiment: the cell it belongs to, its sweep point, its scenario.
pub struct Unit {
    /// The point's coordinates but the seed (`""` for a single scenario); repeats share it.
    pub cell: String,
    /// The sweep point (`None` for a single scenario, run at its own seed).
    pub point: Option<SweepPoint>,
    /// The scenario as written.
    pub scenario: ResolvedScenario,
}

/// What is run for each variant: one scenario, or every point of a sweep.
pub struct Experiment {
    /// The scenario's or the sweep's name.
    pub name: String,
    /// The runs.
    pub units: Vec<Unit>,
    /// A sweep's capacity search, run at each point.
    pub capacity: Option<CapacityOptions>,
    /// What the runs depend on besides the profiles (the sweep's or scenario's content).
    pub fingerprint: String,
}

impl Experiment {
    /// A scenario file, or a sweep file (a table with `base` or `axes`).
    pub fn load(path: &Path) -> Result<Experiment> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let is_sweep = toml::from_str::<toml::Table>(&text)
            .map(|t| t.contains_key("base") || t.contains_key("axes"))
            .unwrap_or(false);
        if is_sweep {
            let sweep = Sweep::load(path)?;
            return Experiment::of_sweep(&sweep, &sweep.points());
        }
        let resolved = Scenario::load(path)?;
        Ok(Experiment {
            name: resolved.name.clone(),
            fingerprint: fnv(&format!("{:?}", resolved.scenario)),
            units: vec![Unit {
                cell: String::new(),
                point: None,
                scenario: resolved,
            }],
            capacity: None,
        })
    }

    /// The `points` of `sweep`.
    pub fn of_sweep(sweep: &Sweep, points: &[SweepPoint]) -> Result<Experiment> {
        let units = points
            .iter()
            .map(|p| {
                let cell = p
                    .coords
                    .iter()
                    .filter(|(k, _)| k != "seed")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                Ok(Unit {
                    cell,
                    point: Some(p.clone()),
                    scenario: sweep.scenario(p)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let keys: Vec<&str> = points.iter().map(|p| p.key.as_str()).collect();
        Ok(Experiment {
            name: sweep.name().to_string(),
            units,
            capacity: sweep.spec.capacity.clone(),
            fingerprint: fnv(&format!(
                "{}\n{:?}\n{keys:?}",
                sweep.fingerprint(),
                sweep.spec.capacity
            )),
        })
    }

    /// The cells' labels, in grid order, each once.
    pub fn cells(&self) -> Vec<String> {
        let mut cells: Vec<String> = Vec::new();
        for u in &self.units {
            if !cells.contains(&u.cell) {
                cells.push(u.cell.clone());
            }
        }
        cells
    }
}

/// FNV-1a of `text`, as 16 hex digits (stable across runs and platforms).
pub fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The experiment, its tagged parameters and every variant's scenarios.
pub struct Plan {
    /// The experiment as written.
    pub experiment: Experiment,
    /// The tagged parameters, device profile's first, each in document order.
    pub params: Vec<(Profile, TaggedParameter)>,
    /// Variant 0 is the experiment as written; then `(parameter, factor)` for every parameter
    /// and factor of [`FACTORS`], in that order.
    pub variants: Vec<Option<(usize, f64)>>,
    /// Per variant: its scenarios, one per unit, or why it cannot run.
    pub resolved: Vec<Result<Vec<ResolvedScenario>, String>>,
    /// Changes when anything a run depends on changes: the experiment and the profiles' texts.
    pub fingerprint: String,
    _profiles: TempDir,
}

impl Plan {
    /// The plan of `experiment`, varying every tagged parameter or, with `only = (profile, n)`,
    /// the first `n` of that profile; `origin` names it in errors.
    pub fn new(
        experiment: Experiment,
        origin: &str,
        only: Option<(Profile, usize)>,
    ) -> Result<Plan> {
        let sources = profile_sources(&experiment, origin)?;
        let mut params: Vec<(Profile, TaggedParameter)> = Vec::new();
        for (profile, text) in &sources {
            let found = tagged_parameters(text)
                .map_err(|e| anyhow::anyhow!("the {} profile of {origin}: {e}", profile.name()))?;
            params.extend(found.into_iter().map(|p| (*profile, p)));
        }
        if let Some((profile, n)) = only {
            params = params
                .into_iter()
                .filter(|p| p.0 == profile)
                .take(n)
                .collect();
        }
        let mut variants: Vec<Option<(usize, f64)>> = vec![None];
        variants.extend((0..params.len()).flat_map(|i| FACTORS.iter().map(move |&f| Some((i, f)))));
        let dir = std::env::temp_dir().join(format!(
            "infscaler-sensitivity-{}-{}",
            std::process::id(),
            fnv(origin)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let profiles = TempDir(dir);
        let resolved = resolve_variants(&experiment, &sources, &params, &variants, &profiles.0);
        let fingerprint = fnv(&format!(
            "{}\n{}\n{}",
            experiment.fingerprint, sources[0].1, sources[1].1
        ));
        Ok(Plan {
            experiment,
            params,
            variants,
            resolved,
            fingerprint,
            _profiles: profiles,
        })
    }

    /// How files and reports name variant `v`: `as written`, `device:memory.bandwidth ×0.5`.
    pub fn label(&self, v: usize) -> String {
        match self.variants[v] {
            None => "as written".to_string(),
            Some((i, factor)) => {
                let (profile, p) = &self.params[i];
                format!("{}:{} ×{factor}", profile.name(), p.name)
            }
        }
    }

    /// The variant of parameter `i` × `FACTORS[j]`.
    pub fn variant_of(i: usize, j: usize) -> usize {
        1 + i * FACTORS.len() + j
    }
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

/// The texts of the device and runtime profiles every run of `experiment` uses (an error when
/// its points use different ones).
fn profile_sources(experiment: &Experiment, origin: &str) -> Result<[(Profile, String); 2]> {
    let Some(first) = experiment.units.first() else {
        bail!("{origin}: nothing to run");
    };
    let spec = &first.scenario.scenario;
    let device_name = spec.device.profile.trim().to_string();
    let runtime_name = spec.serving.runtime.trim().to_string();
    for u in &experiment.units {
        if u.scenario.scenario.device.profile.trim() != device_name
            || u.scenario.scenario.serving.runtime.trim() != runtime_name
        {
            bail!(
                "{origin}: its points use different device or runtime profiles; sensitivity \
                 varies one profile of each (make the profile a fixed part of the sweep)"
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

/// Each variant's scenarios (or why it cannot run), resolved once; a varied profile is written
/// to a file in `dir`.
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
                return Ok(experiment
                    .units
                    .iter()
                    .map(|u| u.scenario.clone())
                    .collect());
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
                .map(|u| {
                    let mut s = u.scenario.scenario.clone();
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
