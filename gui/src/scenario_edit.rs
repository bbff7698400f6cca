//! Pure edits of a [`Scenario`]: switching the policy or workload kind, reading and writing the
//! policy's parameters as a TOML table, the copy of a scenario a GUI run uses, TOML text in and
//! out, and the atomic save.

use std::path::{Path, PathBuf};

use infscaler_results::atomic;
use infscaler_sim::Scenario;
use infscaler_sim::policy::PolicySpec;
use infscaler_sim::time::SimDuration;
use infscaler_sim::units::TimeSpan;
use infscaler_sim::workload::ArrivalSpec;

/// The policy kinds, as `[policy] kind` spells them.
pub const POLICY_KINDS: [&str; 19] = [
    "static",
    "infscaler",
    "infless",
    "spright",
    "knative",
    "odin",
    "lls",
    "random_walk",
    "hill_climb",
    "annealing",
    "pipe_search",
    "shisha",
    "sponge",
    "proteus",
    "accordion",
    "slo_conforming",
    "fastest",
    "bbs",
    "one_stage",
];

/// The systems a comparison runs, in table order (the paper's four).
pub const COMPARED_POLICIES: [&str; 4] = ["infscaler", "infless", "spright", "knative"];

/// The systems a comparison of a pipeline scenario runs (one model cut over execution places:
/// the pipeline-scheduling thesis' systems), in table order.
pub const PIPELINE_POLICIES: [&str; 7] = [
    "odin",
    "lls",
    "shisha",
    "pipe_search",
    "hill_climb",
    "annealing",
    "random_walk",
];

/// The systems a comparison of query streams on execution places runs: Accordion and its four
/// baselines, in table order.
pub const PLACES_POLICIES: [&str; 5] =
    ["accordion", "slo_conforming", "fastest", "bbs", "one_stage"];

/// The systems to compare on `scenario`: the thesis' when its own policy is one of them (a
/// pipeline scenario, or streams on execution places), else the paper's four.
pub fn compared_policies(scenario: &Scenario) -> &'static [&'static str] {
    if PLACES_POLICIES.contains(&scenario.policy.name()) {
        &PLACES_POLICIES
    } else if PIPELINE_POLICIES.contains(&scenario.policy.name()) {
        &PIPELINE_POLICIES
    } else {
        &COMPARED_POLICIES
    }
}

/// The workload kinds, as `[workload] kind` spells them.
pub const WORKLOAD_KINDS: [&str; 5] = ["constant", "poisson", "mmpp", "trace", "azure_functions"];

/// Points of the latency CDF a GUI run asks for when the scenario does not.
pub const CDF_POINTS: usize = 200;

/// Time-series points a GUI run aims for when the scenario sets no interval.
pub const SERIES_POINTS: u64 = 200;

/// Shortest series interval a GUI run sets by itself.
pub const MIN_SERIES_INTERVAL: SimDuration = SimDuration::from_ms(10);

/// The policy of `kind` with every parameter at its default.
pub fn default_policy(kind: &str) -> Result<PolicySpec, String> {
    policy_from_params(kind, toml::Table::new())
}

/// The policy's parameters (its table without `kind`).
pub fn policy_params(policy: &PolicySpec) -> toml::Table {
    let mut table = match toml::Value::try_from(policy) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    table.remove("kind");
    table
}

/// The policy of `kind` with `params` (a `[policy]` table without `kind`); the error is the
/// parser's message (unknown key, wrong type, bad unit).
pub fn policy_from_params(kind: &str, mut params: toml::Table) -> Result<PolicySpec, String> {
    params.insert("kind".into(), toml::Value::String(kind.into()));
    toml::Value::Table(params)
        .try_into::<PolicySpec>()
        .map_err(|e| e.to_string().trim_end().to_string())
}

/// The `kind` of a workload.
pub fn workload_kind(workload: &ArrivalSpec) -> &'static str {
    match workload {
        ArrivalSpec::Constant { .. } => "constant",
        ArrivalSpec::Poisson { .. } => "poisson",
        ArrivalSpec::Mmpp { .. } => "mmpp",
        ArrivalSpec::Trace(_) => "trace",
        ArrivalSpec::AzureFunctions(_) => "azure_functions",
    }
}

/// The workload of `kind` that keeps what carries over from `current`: its mean rate (a
/// rate-based kind from a rate-based kind; MMPP gets a high state at twice the rate and a low one
/// at half) or its trace file and rate scale (between the two trace kinds).
pub fn switch_workload(current: &ArrivalSpec, kind: &str) -> Result<ArrivalSpec, String> {
    if workload_kind(current) == kind {
        return Ok(current.clone());
    }
    // A trace has no rate of its own to carry over: start a rate-based kind at 10 req/s.
    let rate = current.mean_rate_per_s().unwrap_or(10.0);
    let (path, rate_scale) = match current {
        ArrivalSpec::Trace(t) => (t.path.clone(), t.rate_scale),
        ArrivalSpec::AzureFunctions(a) => (a.path.clone(), a.rate_scale),
        _ => (PathBuf::new(), None),
    };
    let mut t = toml::Table::new();
    t.insert("kind".into(), kind.into());
    match kind {
        "constant" | "poisson" => {
            t.insert("rate_per_s".into(), rate.into());
        }
        "mmpp" => {
            t.insert("rate_high_per_s".into(), (rate * 2.0).into());
            t.insert("rate_low_per_s".into(), (rate / 2.0).into());
            t.insert("mean_high_s".into(), 2.0.into());
            t.insert("mean_low_s".into(), 4.0.into());
        }
        "trace" | "azure_functions" => {
            t.insert("path".into(), path.display().to_string().into());
            if let Some(scale) = rate_scale {
                t.insert("rate_scale".into(), scale.into());
            }
        }
        other => {
            return Err(format!(
                "unknown workload kind {other:?}; allowed: {}",
                WORKLOAD_KINDS.join(", ")
            ));
        }
    }
    toml::Value::Table(t)
        .try_into::<ArrivalSpec>()
        .map_err(|e| e.to_string())
}

/// The copy of `scenario` a GUI run uses: with a time series (about [`SERIES_POINTS`] intervals
/// of the run, at least [`MIN_SERIES_INTERVAL`]; 1 s when only `max_requests` bounds the run) and
/// a latency CDF of [`CDF_POINTS`] when the scenario asks for neither. Nothing else changes, so
/// the summary is the one `infscaler run` prints.
pub fn run_copy(scenario: &Scenario) -> Scenario {
    let mut s = scenario.clone();
    if s.run.series_interval.is_none() {
        let interval = match s.run.duration {
            Some(d) => SimDuration::from_ns(d.0.as_ns() / SERIES_POINTS).max(MIN_SERIES_INTERVAL),
            None => SimDuration::from_secs(1),
        };
        s.run.series_interval = Some(TimeSpan(interval));
    }
    if s.run.latency_cdf.is_none() {
        s.run.latency_cdf = Some(CDF_POINTS);
    }
    s
}

/// The scenario as TOML (what Save writes).
pub fn to_toml(scenario: &Scenario) -> Result<String, String> {
    toml::to_string_pretty(scenario).map_err(|e| format!("cannot write the scenario as TOML: {e}"))
}

/// Parses scenario TOML; errors name `origin`. Relative paths resolve against `base_dir`.
pub fn from_toml(text: &str, origin: &str, base_dir: &Path) -> Result<Scenario, String> {
    Scenario::parse(text, origin, base_dir).map_err(|e| e.to_string())
}

/// Reads and parses a scenario file (without checking it against the zoo and devices).
pub fn open(path: &Path) -> Result<Scenario, String> {
    let text = infscaler_sim::input::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the scenario file: {e}", path.display()))?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    from_toml(&text, &path.display().to_string(), &base_dir)
}

/// Saves the scenario to `path` atomically and returns the text written.
pub fn save(scenario: &Scenario, path: &Path) -> Result<String, String> {
    let text = to_toml(scenario)?;
    atomic::write_bytes(path, text.as_bytes())
        .map_err(|e| format!("cannot save {}: {}", path.display(), e.with_causes()))?;
    Ok(text)
}

/// The scenario files under `dir` (recursively, sorted), leaving out sweeps and anything else that
/// does not parse as a scenario.
pub fn scenario_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml")
                && std::fs::read_to_string(&path)
                    .is_ok_and(|text| Scenario::parse(&text, "", Path::new("")).is_ok())
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Where the built-in scenarios are: `scenarios/` in the working directory, else in the source
/// tree this binary was built from.
pub fn builtin_scenario_dir() -> PathBuf {
    let here = PathBuf::from("scenarios");
    if here.is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quickstart() -> Scenario {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        open(&dir.join("quickstart.toml")).expect("quickstart parses")
    }

    #[test]
    fn every_policy_kind_has_defaults_that_validate() {
        let s = quickstart();
        for kind in POLICY_KINDS {
            let policy = default_policy(kind).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(policy.name(), kind);
            let mut s = s.clone();
            s.policy = policy;
            match kind {
                // The pipeline policies cut one model; the quickstart app has three.
                "odin" | "lls" | "random_walk" | "hill_climb" | "annealing" | "pipe_search"
                | "shisha" => {
                    let e = s.resolve().unwrap_err().to_string();
                    assert!(e.contains("cuts one model"), "{kind}: {e}");
                }
                "sponge" => {
                    let e = s.resolve().unwrap_err().to_string();
                    assert!(e.contains("scales one model"), "{kind}: {e}");
                }
                "proteus" => {
                    let e = s.resolve().unwrap_err().to_string();
                    assert!(e.contains("family's variants"), "{kind}: {e}");
                }
                _ => {
                    s.resolve().unwrap_or_else(|e| panic!("{kind}: {e}"));
                }
            }
        }
    }

    #[test]
    fn policy_params_round_trip_and_bad_ones_are_errors() {
        let policy = default_policy("infscaler").unwrap();
        let mut params = policy_params(&policy);
        assert!(!params.contains_key("kind"));
        assert_eq!(policy_from_params("infscaler", params.clone()), Ok(policy));
        params.insert("scale_in_windows".into(), 7.into());
        let changed = policy_from_params("infscaler", params.clone()).unwrap();
        assert_eq!(
            policy_params(&changed)["scale_in_windows"].as_integer(),
            Some(7)
        );
        params.insert("no_such_knob".into(), true.into());
        let err = policy_from_params("infscaler", params).unwrap_err();
        assert!(err.contains("no_such_knob"), "{err}");
    }

    #[test]
    fn switching_workloads_keeps_the_rate() {
        let poisson = ArrivalSpec::Poisson { rate_per_s: 40.0 };
        assert_eq!(
            switch_workload(&poisson, "constant").unwrap(),
            ArrivalSpec::Constant { rate_per_s: 40.0 }
        );
        let mmpp = switch_workload(&poisson, "mmpp").unwrap();
        // Mean of 80/s for 2 s and 20/s for 4 s: 40/s.
        assert_eq!(
            switch_workload(&mmpp, "poisson").unwrap(),
            ArrivalSpec::Poisson { rate_per_s: 40.0 }
        );
        let trace = switch_workload(&poisson, "trace").unwrap();
        assert_eq!(workload_kind(&trace), "trace");
        assert!(switch_workload(&poisson, "weibull").is_err());
    }

    #[test]
    fn edited_scenario_round_trips_through_toml() {
        let mut s = quickstart();
        s.seed = 42;
        s.slo.multiplier = Some(3.0);
        s.workload = ArrivalSpec::Constant { rate_per_s: 12.5 };
        s.run.duration = Some("7s".parse().unwrap());
        s.device.profile = "orin-agx".into();
        s.device.memory_cap = Some("8GiB".parse().unwrap());
        s.policy = default_policy("knative").unwrap();
        let text = to_toml(&s).unwrap();
        let back = from_toml(&text, "edited.toml", Path::new("")).unwrap();
        assert_eq!(to_toml(&back).unwrap(), text, "the text is a fixed point");
        assert_eq!(back.seed, 42);
        assert_eq!(back.slo.multiplier, Some(3.0));
        assert_eq!(back.workload, s.workload);
        assert_eq!(back.run.duration, s.run.duration);
        assert_eq!(back.device.profile, "orin-agx");
        assert_eq!(back.device.memory_cap, s.device.memory_cap);
        assert_eq!(back.policy, s.policy);
        back.resolve().expect("the edited scenario is valid");
    }

    #[test]
    fn save_is_atomic_and_reopens_to_the_same_scenario() {
        let dir = std::env::temp_dir().join(format!("infscaler-gui-save-{}", std::process::id()));
        let path = dir.join("nested/edited.toml");
        let s = quickstart();
        let text = save(&s, &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != "edited.toml")
            .collect();
        assert!(leftovers.is_empty(), "temporary file left behind");
        assert_eq!(to_toml(&open(&path).unwrap()).unwrap(), text);
        // A directory where the file should go: an error, not a panic.
        let err = save(&s, &dir).unwrap_err();
        assert!(err.contains("cannot save"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn run_copy_adds_a_series_and_a_cdf_only_when_missing() {
        let mut s = quickstart();
        s.run.series_interval = None;
        s.run.duration = Some("30s".parse().unwrap());
        let r = run_copy(&s);
        assert_eq!(r.run.series_interval, Some("150ms".parse().unwrap()));
        assert_eq!(r.run.latency_cdf, Some(CDF_POINTS));
        s.run.duration = Some("1s".parse().unwrap());
        assert_eq!(
            run_copy(&s).run.series_interval,
            Some(TimeSpan(MIN_SERIES_INTERVAL))
        );
        s.run.series_interval = Some("2s".parse().unwrap());
        s.run.latency_cdf = Some(10);
        let r = run_copy(&s);
        assert_eq!(r.run.series_interval, Some("2s".parse().unwrap()));
        assert_eq!(r.run.latency_cdf, Some(10));
    }

    #[test]
    fn builtin_scenarios_are_found_and_sweeps_left_out() {
        let files = scenario_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"));
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"quickstart.toml".to_string()), "{names:?}");
        assert!(
            !names.contains(&"fig5-capacity.toml".to_string()),
            "a sweep: {names:?}"
        );
    }
}
