//! Experiments: a grid of scenarios ([`sweep`]), each point measured one way — one run, or a
//! search for the highest rate that keeps the SLO ([`capacity`]) — into a results row whose
//! metric columns are the report's ([`crate::report::row`]); and [`plan`], what a policy deploys
//! before anything runs.

pub mod capacity;
pub mod plan;
pub mod sensitivity;
pub mod sweep;

use crate::report::Report;
use crate::report::row::{Cell, Row, int, report_row};
use crate::scenario::ResolvedScenario;
use crate::simulation::{SimError, Simulation};

use capacity::{CapacityError, CapacityOptions, find_capacity};
use sweep::SweepPoint;

/// Why a grid point gave no row.
#[derive(Debug, thiserror::Error)]
pub enum PointError {
    /// A run could not be set up.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The capacity search could not run.
    #[error(transparent)]
    Capacity(#[from] CapacityError),
}

/// Measures one grid point of a sweep on its `scenario` (the point's overrides applied) and
/// returns its row: one run at the point's seed, or with `capacity` a capacity search whose
/// every probe runs at the point's seed.
///
/// Columns: `point`, `point_key`, `repeat`, one per axis (named by its dotted path; a `seed`
/// axis is the identity column `seed`), for a capacity search `capacity_rps`,
/// `capacity_probes`, `capacity_converged`, `capacity_min_measured` (the fewest requests a
/// probe measured) and `capacity_point_decisions` (probes whose attainment interval held the
/// target after every extension, decided on the point estimate), then the report's columns
/// ([`report_row`]) — of the run, or of the probe at the capacity found (the last probe when
/// none passed).
pub fn run_point(
    point: &SweepPoint,
    scenario: &ResolvedScenario,
    capacity: Option<&CapacityOptions>,
) -> Result<Row, PointError> {
    let mut row = point_columns(point);
    let report = match capacity {
        None => Some(Simulation::new(scenario, Some(point.seed))?.run()),
        Some(options) => {
            // One run per probe, in the order the search records its probes.
            let mut reports: Vec<Report> = Vec::new();
            let result = find_capacity(scenario, options, |s| {
                let report = Simulation::new(s, Some(point.seed))?.run();
                reports.push(report.clone());
                Ok(report)
            })?;
            debug_assert_eq!(reports.len(), result.probes.len());
            let chosen = reports
                .iter()
                .zip(&result.probes)
                .position(|(_, probe)| probe.passed && probe.rate_per_s == result.capacity_rps)
                .or(reports.len().checked_sub(1));
            row.push(("capacity_rps".into(), Cell::Float(result.capacity_rps)));
            row.push(("capacity_probes".into(), int(result.probes.len() as u64)));
            row.push(("capacity_converged".into(), Cell::Bool(result.converged)));
            let fewest = result.probes.iter().map(|p| p.measured).min().unwrap_or(0);
            row.push(("capacity_min_measured".into(), int(fewest)));
            let by_point = result
                .probes
                .iter()
                .filter(|p| !p.decided_by_interval)
                .count();
            row.push(("capacity_point_decisions".into(), int(by_point as u64)));
            chosen.map(|i| reports.swap_remove(i))
        }
    };
    if let Some(report) = report {
        row.extend(report_row(&report));
    }
    Ok(row)
}

/// The columns that identify a grid point: `point`, `point_key`, `repeat`, then one per axis.
fn point_columns(point: &SweepPoint) -> Row {
    let mut row = vec![
        ("point".into(), int(point.index as u64)),
        ("point_key".into(), Cell::Str(point.key.clone())),
        ("repeat".into(), int(u64::from(point.repeat))),
    ];
    row.extend(
        point
            .coords
            .iter()
            .filter(|(p, _)| p != "seed")
            .map(|(p, v)| (p.clone(), Cell::from_toml(v))),
    );
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::sweep::Sweep;

    fn sweep(axes: &str) -> Sweep {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let text = format!("name = \"t\"\nbase = \"quickstart.toml\"\n{axes}");
        Sweep::parse(&text, "<test>", &dir).unwrap()
    }

    fn point_row(p: &SweepPoint, report: &Report) -> Row {
        let mut row = point_columns(p);
        row.extend(report_row(report));
        row
    }

    #[test]
    fn rows_follow_the_column_contract() {
        let s = sweep(
            "[[axes]]\npath = \"run.duration\"\nvalues = [\"3s\"]\n[[axes]]\npath = \"workload.rate_per_s\"\nvalues = [40]",
        );
        let p = s.point(0);
        let report = crate::Simulation::new(&s.scenario(&p).unwrap(), None)
            .unwrap()
            .run();
        let row = point_row(&p, &report);
        let names: Vec<&str> = row.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[..11],
            [
                "point",
                "point_key",
                "repeat",
                "run.duration",
                "workload.rate_per_s",
                "scenario",
                "app",
                "policy",
                "device",
                "transport",
                "seed"
            ]
        );
        assert!(names.contains(&"utilization_gpu") && names.contains(&"utilization_dla1"));
        assert_eq!(names.last(), Some(&"accuracy_drop_pts"));
        let get = |n: &str| row.iter().find(|(k, _)| k == n).unwrap().1.clone();
        assert_eq!(
            get("seed"),
            Cell::Str(p.seed.to_string()),
            "the seed, exactly, as text"
        );
        assert_eq!(get("completed"), Cell::Int(report.summary.completed as i64));
        assert_eq!(get("workload.rate_per_s"), Cell::Int(40));
        // The quickstart's static deployment: 1 (detector) + 1 + 2 (classifier halves), no scaling.
        assert_eq!(get("instances_total"), Cell::Int(4));
        assert_eq!(get("scale_outs"), Cell::Int(0));
        // Zero-copy hand-offs on the eBPF path with free regions cost the token hand-off (30 µs
        // by default); any token fault (lazy region allocation) adds a little on average.
        let Cell::Float(handoff) = get("handoff_mean_ms") else {
            panic!("handoff_mean_ms is not a number")
        };
        assert!((0.0299..0.040).contains(&handoff), "hand-off {handoff} ms");
        assert_eq!(
            serde_json::to_string(&[Cell::Null, Cell::Float(0.5), Cell::Str("a".into())]).unwrap(),
            "[null,0.5,\"a\"]"
        );
    }

    #[test]
    fn a_run_point_is_the_point_columns_then_the_report() {
        let s = sweep("[[axes]]\npath = \"run.duration\"\nvalues = [\"3s\"]");
        let p = s.point(0);
        let scenario = s.scenario(&p).unwrap();
        let row = run_point(&p, &scenario, None).unwrap();
        let report = Simulation::new(&scenario, Some(p.seed)).unwrap().run();
        assert_eq!(row, point_row(&p, &report));
    }
}
