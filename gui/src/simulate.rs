//! The jobs the GUI starts: a run of the edited scenario, a comparison of the four systems on it,
//! and the check of a scenario while it is being edited.

use std::time::Instant;

use infscaler_sim::{Cancelled, Scenario, Simulation};

use crate::analysis::{Analysis, RunOutcome};
use crate::runner::{Job, JobError, Reporter};
use crate::scenario_edit::{
    PIPELINE_POLICIES, PLACES_POLICIES, compared_policies, default_policy, policy_from_params,
    policy_params, run_copy,
};

/// Runs `scenario` (its GUI run copy: with a series and a CDF) to the end, reporting progress.
pub fn run(scenario: &Scenario, reporter: &Reporter) -> Result<RunOutcome, JobError> {
    let started = Instant::now();
    let resolved = run_copy(scenario)
        .resolve()
        .map_err(|e| JobError::Failed(e.to_string()))?;
    let plan = infscaler_sim::experiment::plan::plan(&resolved).ok();
    let sim = Simulation::new(&resolved, None).map_err(|e| JobError::Failed(e.to_string()))?;
    let report = sim
        .run_observed(&mut |p| reporter.observe(p))
        .map_err(|Cancelled| JobError::Cancelled)?;
    let accelerators: Vec<String> = resolved
        .device
        .accelerators
        .iter()
        .map(|a| a.name.clone())
        .collect();
    let analysis = Analysis::of(&report, &accelerators);
    Ok(RunOutcome {
        report,
        models: resolved.models,
        accelerators,
        plan,
        analysis,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// Starts a run of `scenario` in the background.
pub fn start_run(scenario: &Scenario, repaint: Option<egui::Context>) -> Job<RunOutcome> {
    let scenario = scenario.clone();
    let label = format!(
        "run {} ({})",
        scenario.name.as_deref().unwrap_or("scenario"),
        scenario.policy.name()
    );
    Job::spawn(label, repaint, move |r| run(&scenario, r))
}

/// The scenario with the policy of `kind` at its defaults (same seed and everything else); from
/// one pipeline policy to another, the execution places (`eps`) and window (`interval`) carry
/// over, so the systems share their ground.
pub fn with_policy(scenario: &Scenario, kind: &str) -> Result<Scenario, String> {
    let mut s = scenario.clone();
    let pipelines = |k: &str| PIPELINE_POLICIES.contains(&k);
    s.policy = if pipelines(kind) && pipelines(scenario.policy.name()) {
        let own = policy_params(&scenario.policy);
        // Moldable CPU stages are the explorers' (ODIN and LLS keep fixed EPs).
        let explorer = !["odin", "lls"].contains(&kind);
        let shared: toml::Table = ["eps", "interval", "cpu_stages"]
            .iter()
            .filter(|&&k| k != "cpu_stages" || explorer)
            .filter_map(|&k| Some((k.to_string(), own.get(k)?.clone())))
            .collect();
        policy_from_params(kind, shared)?
    } else if PLACES_POLICIES.contains(&kind) && PLACES_POLICIES.contains(&scenario.policy.name()) {
        // Accordion's baselines share its places, period and target (not its priorities).
        let own = policy_params(&scenario.policy);
        let shared: toml::Table = ["accelerator", "places", "period", "target"]
            .iter()
            .filter_map(|&k| Some((k.to_string(), own.get(k)?.clone())))
            .collect();
        policy_from_params(kind, shared)?
    } else {
        default_policy(kind)?
    };
    Ok(s)
}

/// Starts one run per compared system ([`compared_policies`]), in parallel, each with the
/// policy's default parameters (the scenario's own `eps`, `interval` and, for the explorers,
/// `cpu_stages` kept for pipeline policies) on the same scenario and seed.
pub fn start_compare(
    scenario: &Scenario,
    repaint: Option<egui::Context>,
) -> Vec<(&'static str, Job<RunOutcome>)> {
    compared_policies(scenario)
        .iter()
        .map(|&kind| {
            let scenario = with_policy(scenario, kind);
            let job = Job::spawn(format!("compare: {kind}"), repaint.clone(), move |r| {
                run(&scenario.map_err(JobError::Failed)?, r)
            });
            (kind, job)
        })
        .collect()
}

/// Starts a check of `scenario` against the zoo, the devices and its files (a trace file is read,
/// which may take a moment, hence a job).
pub fn start_check(scenario: &Scenario, repaint: Option<egui::Context>) -> Job<()> {
    let scenario = scenario.clone();
    Job::spawn("check", repaint, move |_| {
        scenario
            .resolve()
            .map(|_| ())
            .map_err(|e| JobError::Failed(e.to_string()))
    })
}

/// Starts working out the deployment the scenario's policy chooses (no run).
pub fn start_plan(
    scenario: &Scenario,
    repaint: Option<egui::Context>,
) -> Job<crate::views::partitions::PlanOutcome> {
    let scenario = scenario.clone();
    Job::spawn("plan", repaint, move |_| {
        let resolved = scenario
            .resolve()
            .map_err(|e| JobError::Failed(e.to_string()))?;
        let plan = infscaler_sim::experiment::plan::plan(&resolved)
            .map_err(|e| JobError::Failed(e.to_string()))?;
        Ok(crate::views::partitions::PlanOutcome {
            plan,
            accelerators: resolved
                .device
                .accelerators
                .iter()
                .map(|a| a.name.clone())
                .collect(),
            models: resolved.models,
        })
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn comparing_a_moldable_search_keeps_its_cpu_stages_for_the_explorers_only() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../scenarios/examples/pipe-search-moldable-server.toml"),
        )
        .unwrap();
        let scenario = Scenario::parse(&text, "moldable.toml", Path::new(".")).unwrap();
        let hill = with_policy(&scenario, "hill_climb").unwrap();
        assert_eq!(
            policy_params(&hill.policy).get("cpu_stages"),
            Some(&4.into())
        );
        let odin = with_policy(&scenario, "odin").unwrap();
        assert_eq!(policy_params(&odin.policy).get("cpu_stages"), None);
        assert!(odin.resolve().is_ok() && hill.resolve().is_ok());
    }
}
