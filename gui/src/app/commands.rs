//! Applying what the panels asked for.

use std::path::Path;

use infscaler_sim::Report;

use super::InfscalerApp;
use crate::export;
use crate::simulate;
use crate::state::View;
use crate::views::Command;
use crate::views::compare::{CompareSlot, SlotState};

impl InfscalerApp {
    pub(super) fn apply(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::Open(path) => self.open_unless_dirty(path),
            Command::Save => {
                if let Some(doc) = &mut self.doc {
                    match doc.save() {
                        Ok(path) => self.note(format!("Saved {}", path.display())),
                        Err(e) => self.error(e),
                    }
                }
            }
            Command::SaveAs(path) => {
                if let Some(doc) = &mut self.doc {
                    match doc.save_as(&path) {
                        Ok(()) => {
                            self.state.scenario_path = path.display().to_string();
                            self.note(format!("Saved {}", path.display()));
                        }
                        Err(e) => self.error(e),
                    }
                }
            }
            Command::Revert => {
                if let Some(path) = self.doc.as_ref().and_then(|d| d.path.clone()) {
                    self.open_unless_dirty(path);
                }
            }
            Command::DiscardEdits(discard) => {
                if let Some(path) = self.discard_for.take()
                    && discard
                {
                    self.open(&path);
                }
            }
            Command::ApplyToml(text) => {
                if let Some(doc) = &mut self.doc {
                    match doc.apply_toml(&text) {
                        Ok(()) => self.buffers.reset_raw(),
                        Err(e) => self.error(e),
                    }
                }
            }
            Command::Run => {
                if let Some(doc) = &self.doc {
                    if let Some(old) = &self.run {
                        old.cancel();
                    }
                    self.run = Some(simulate::start_run(&doc.scenario, self.repaint.clone()));
                    if matches!(self.state.view, View::Compare | View::Sweep) {
                        self.state.view = View::Summary;
                    }
                }
            }
            Command::Compare => {
                if let Some(scenario) = self.doc.as_ref().map(|d| d.scenario.clone()) {
                    self.cancel_compare();
                    self.compare = simulate::start_compare(&scenario, self.repaint.clone())
                        .into_iter()
                        .map(|(kind, job)| CompareSlot {
                            kind,
                            state: SlotState::Running(job),
                        })
                        .collect();
                    self.state.view = View::Compare;
                }
            }
            Command::Plan => {
                if let Some(doc) = &self.doc {
                    self.plan_job = Some(simulate::start_plan(&doc.scenario, self.repaint.clone()));
                }
            }
            Command::ShowPlan(show) => self.show_plan = show,
            Command::Cancel => {
                if let Some(job) = &self.run {
                    job.cancel();
                }
                self.cancel_compare();
            }
            Command::ExportJson => self.export_report("json"),
            Command::ExportCsv => self.export_report("csv"),
            Command::ExportPlot(name) => self.export_plot(ctx, &name),
            Command::LoadSweep(path) => {
                self.state.sweep.path = path.display().to_string();
                self.sweep.load(path, self.repaint.clone());
            }
            Command::Dismiss(i) => {
                if i < self.messages.len() {
                    self.messages.remove(i);
                }
            }
        }
    }

    /// Opens `path`, or, when the scenario has unsaved edits, asks first.
    fn open_unless_dirty(&mut self, path: std::path::PathBuf) {
        if self.doc.as_ref().is_some_and(|d| d.is_dirty()) {
            self.discard_for = Some(path);
        } else {
            self.open(&path);
        }
    }

    fn cancel_compare(&mut self) {
        for slot in &self.compare {
            if let SlotState::Running(job) = &slot.state {
                job.cancel();
            }
        }
    }

    fn export_stem(report: &Report) -> String {
        format!("{}-{}-seed{}", report.scenario, report.policy, report.seed)
    }

    fn export_report(&mut self, ext: &str) {
        let Some(report) = self.last_report() else {
            self.error("Nothing to export: run the scenario first");
            return;
        };
        let path = export::export_path(
            Path::new(&self.state.export_dir),
            &Self::export_stem(report),
            ext,
        );
        let result = if ext == "json" {
            export::write_report_json(report, &path)
        } else {
            export::write_report_csv(report, &path)
        };
        match result {
            Ok(()) => self.note(format!("Saved {}", path.display())),
            Err(e) => self.error(e),
        }
    }

    fn export_plot(&mut self, ctx: &egui::Context, name: &str) {
        let Some(&rect) = self.plot_rects.get(name) else {
            self.error(format!("The plot {name} is not on screen"));
            return;
        };
        let stem = match self.last_report() {
            Some(r) if !name.starts_with("sweep") => format!("{}-{name}", Self::export_stem(r)),
            _ => name.to_string(),
        };
        let path = export::export_path(Path::new(&self.state.export_dir), &stem, "png");
        let pixels_per_point = ctx.pixels_per_point();
        let done = self.png_sender.clone();
        let wake = ctx.clone();
        ctx.request_screenshot(move |image| {
            let result =
                export::write_plot_png(&image, rect, pixels_per_point, &path).map(|()| path);
            let _ = done.send(result);
            wake.request_repaint();
        });
    }
}
