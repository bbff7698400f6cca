//! Taking the results of the app's background jobs, once a frame.

use std::time::Instant;

use super::{CHECK_AFTER, InfscalerApp};
use crate::runner::JobError;
use crate::simulate;
use crate::views::compare::SlotState;
use crate::views::series::SeriesZoom;

impl InfscalerApp {
    /// Takes the results of finished jobs and starts a check of the scenario if it changed.
    pub(super) fn poll_jobs(&mut self) {
        if let Some(job) = &mut self.run
            && let Some(result) = job.poll()
        {
            let label = job.label.clone();
            self.run = None;
            match result {
                Ok(outcome) => {
                    let s = &outcome.report.summary;
                    self.note(format!(
                        "{label}: {} completed, {:.1} req/s in {:.2} s",
                        s.completed, s.throughput_rps, outcome.wall_s
                    ));
                    self.last = Some(outcome);
                    self.series_zoom = SeriesZoom::default();
                    self.show_plan = false;
                }
                Err(JobError::Cancelled) => self.note(format!("{label}: cancelled")),
                Err(JobError::Failed(e)) => self.error(format!("{label} failed: {e}")),
            }
        }
        if let Some(job) = &mut self.plan_job
            && let Some(result) = job.poll()
        {
            self.plan_job = None;
            match result {
                Ok(plan) => {
                    self.plan = Some(plan);
                    self.show_plan = true;
                }
                Err(e) => self.error(format!("plan failed: {e}")),
            }
        }
        let mut finished = Vec::new();
        for slot in &mut self.compare {
            if slot.poll()
                && let SlotState::Failed(e) = &slot.state
                && e != "cancelled"
            {
                finished.push(format!("compare {}: {e}", slot.kind));
            }
        }
        for e in finished {
            self.error(e);
        }
        if let Some(e) = self.sweep.poll(&mut self.state.sweep) {
            self.error(e);
        }
        while let Ok(r) = self.png_done.try_recv() {
            match r {
                Ok(path) => self.note(format!("Saved {}", path.display())),
                Err(e) => self.error(format!("PNG export failed: {e}")),
            }
        }
        if let Some(doc) = &self.doc {
            let toml = doc.toml();
            // Checked once the scenario has stayed the same for CHECK_AFTER (a drag of a number
            // changes it every frame, and a check may read a trace file); at once when a scenario
            // is first opened.
            if toml == self.checked_toml {
                self.check_pending = None;
            } else {
                let now = Instant::now();
                let settled = match &self.check_pending {
                    Some((pending, since)) if *pending == toml => now - *since >= CHECK_AFTER,
                    _ => self.checked_toml.is_empty(),
                };
                if settled {
                    self.check = Some(simulate::start_check(&doc.scenario, self.repaint.clone()));
                    self.checked_toml = toml;
                    self.check_pending = None;
                } else {
                    if self.check_pending.as_ref().is_none_or(|(p, _)| *p != toml) {
                        self.check_pending = Some((toml, now));
                    }
                    if let Some(ctx) = &self.repaint {
                        ctx.request_repaint_after(CHECK_AFTER);
                    }
                }
                self.check_result = None;
            }
        }
        if let Some(job) = &mut self.check
            && let Some(r) = job.poll()
        {
            self.check = None;
            self.check_result = Some(r.map_err(|e| e.to_string()));
        }
    }
}
