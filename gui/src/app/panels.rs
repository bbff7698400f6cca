//! The app's own panels: the top bar (run controls, progress, export, view tabs), the message bar,
//! the central view, and the keyboard shortcuts.

use egui::{ProgressBar, RichText, Ui};

use super::InfscalerApp;
use crate::state::View;
use crate::views::compare::{SlotState, compare_ui};
use crate::views::editor::{ERROR_COLOR, OK_COLOR};
use crate::views::partitions::{Partitions, partitions_ui};
use crate::views::sweep_browser::sweep_browser_ui;
use crate::views::{
    Command, cdf::cdf_ui, empty_ui, series::series_ui, summary::summary_ui, timeline::timeline_ui,
};

impl InfscalerApp {
    pub(super) fn top_bar_ui(&mut self, ui: &mut Ui, commands: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            ui.heading("infscaler explorer");
            ui.separator();
            let has_doc = self.doc.is_some();
            if ui
                .add_enabled(has_doc, egui::Button::new("▶ Run"))
                .on_hover_text("Run the scenario in the background (Ctrl+R)")
                .clicked()
            {
                commands.push(Command::Run);
            }
            if ui
                .add_enabled(has_doc, egui::Button::new("Compare policies"))
                .on_hover_text(
                    "Run InfScaler, INFless, SPRIGHT and Knative (default parameters) on this \
                     scenario with the same seed (Ctrl+Shift+R)",
                )
                .clicked()
            {
                commands.push(Command::Compare);
            }
            let busy = self.run.is_some()
                || self
                    .compare
                    .iter()
                    .any(|s| matches!(s.state, SlotState::Running(_)));
            if ui
                .add_enabled(busy, egui::Button::new("■ Cancel"))
                .clicked()
            {
                commands.push(Command::Cancel);
            }
            if let Some(job) = &self.run {
                let p = job.progress();
                let fraction = p.map_or(0.0, |p| p.fraction) as f32;
                let text = match p {
                    Some(p) => format!(
                        "{:.0} % · simulated {:.0} s · {} arrivals · {:.0} s",
                        fraction * 100.0,
                        p.sim_time_s,
                        p.arrivals,
                        job.elapsed().as_secs_f64()
                    ),
                    None => "starting".into(),
                };
                ui.add(ProgressBar::new(fraction).desired_width(380.0).text(text))
                    .on_hover_text(&job.label);
            } else if self
                .compare
                .iter()
                .any(|s| matches!(s.state, SlotState::Running(_)))
            {
                let fractions: Vec<f64> = self
                    .compare
                    .iter()
                    .map(|s| match &s.state {
                        SlotState::Running(j) => j.progress().map_or(0.0, |p| p.fraction),
                        _ => 1.0,
                    })
                    .collect();
                let f = (fractions.iter().sum::<f64>() / fractions.len().max(1) as f64) as f32;
                ui.add(
                    ProgressBar::new(f)
                        .desired_width(360.0)
                        .text(format!("comparing 4 systems · {:.0} %", f * 100.0)),
                );
            }
            ui.separator();
            let has_report = self.last.is_some();
            ui.label("Export report:");
            if ui
                .add_enabled(has_report, egui::Button::new("JSON"))
                .clicked()
            {
                commands.push(Command::ExportJson);
            }
            if ui
                .add_enabled(has_report, egui::Button::new("CSV"))
                .clicked()
            {
                commands.push(Command::ExportCsv);
            }
            let label = ui.label("to");
            ui.add(egui::TextEdit::singleline(&mut self.state.export_dir).desired_width(110.0))
                .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            for view in View::ALL {
                ui.selectable_value(&mut self.state.view, view, view.title());
            }
        });
    }

    pub(super) fn messages_ui(&self, ui: &mut Ui, commands: &mut Vec<Command>) {
        for (i, m) in self.messages.iter().enumerate().rev() {
            ui.horizontal(|ui| {
                if ui.small_button("✖").on_hover_text("Dismiss").clicked() {
                    commands.push(Command::Dismiss(i));
                }
                let color = if m.error { ERROR_COLOR } else { OK_COLOR };
                ui.label(RichText::new(&m.text).color(color));
            });
        }
    }

    pub(super) fn view_ui(&mut self, ui: &mut Ui, commands: &mut Vec<Command>) {
        let rects = &mut self.plot_rects;
        let options = &mut self.state.plots;
        match self.state.view {
            View::Compare => compare_ui(ui, &self.compare, rects, commands),
            View::Sweep => {
                sweep_browser_ui(ui, &mut self.sweep, &mut self.state.sweep, rects, commands)
            }
            View::Partitions => {
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(self.doc.is_some(), egui::Button::new("Plan"))
                        .on_hover_text(
                            "Work out the deployment the policy chooses for the edited scenario, \
                             without running it",
                        )
                        .clicked()
                    {
                        commands.push(Command::Plan);
                    }
                    if self.plan_job.is_some() {
                        ui.spinner();
                    }
                    if self.plan.is_some() && self.last.is_some() {
                        ui.separator();
                        if ui.selectable_label(!self.show_plan, "last run").clicked() {
                            commands.push(Command::ShowPlan(false));
                        }
                        if ui.selectable_label(self.show_plan, "plan").clicked() {
                            commands.push(Command::ShowPlan(true));
                        }
                    }
                });
                let view = match (&self.plan, &self.last) {
                    (Some(plan), _) if self.show_plan || self.last.is_none() => {
                        Partitions::of_plan(plan)
                    }
                    (_, Some(outcome)) => Partitions::of_run(outcome),
                    _ => {
                        empty_ui(
                            ui,
                            "Press Plan to see the partitions the policy chooses, or ▶ Run.",
                        );
                        return;
                    }
                };
                partitions_ui(ui, &view, options, rects, commands);
            }
            view => {
                let Some(outcome) = &self.last else {
                    let text = if self.run.is_some() {
                        "Running…"
                    } else {
                        "Press ▶ Run to simulate the scenario."
                    };
                    empty_ui(ui, text);
                    return;
                };
                match view {
                    View::Summary => {
                        egui::ScrollArea::vertical().show(ui, |ui| summary_ui(ui, outcome));
                    }
                    View::Timeline => timeline_ui(ui, outcome, rects, commands),
                    View::Series => {
                        series_ui(ui, outcome, options, &mut self.series_zoom, rects, commands)
                    }
                    View::Cdf => cdf_ui(ui, outcome, options, rects, commands),
                    View::Compare | View::Sweep | View::Partitions => {}
                }
            }
        }
    }

    /// Ctrl+R runs, Ctrl+Shift+R compares, Ctrl+S saves, Escape cancels.
    pub(super) fn shortcuts_ui(&self, ui: &mut Ui, commands: &mut Vec<Command>) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let shortcuts = [
            (
                KeyboardShortcut::new(Modifiers::COMMAND | Modifiers::SHIFT, Key::R),
                Command::Compare,
            ),
            (
                KeyboardShortcut::new(Modifiers::COMMAND, Key::R),
                Command::Run,
            ),
            (
                KeyboardShortcut::new(Modifiers::COMMAND, Key::S),
                Command::Save,
            ),
            (
                KeyboardShortcut::new(Modifiers::NONE, Key::Escape),
                Command::Cancel,
            ),
        ];
        for (shortcut, command) in shortcuts {
            if ui.input_mut(|i| i.consume_shortcut(&shortcut)) {
                commands.push(command);
            }
        }
    }

    /// Asks whether to discard the unsaved edits, while a file waits to be opened.
    pub(super) fn discard_dialog_ui(&self, ui: &mut Ui, commands: &mut Vec<Command>) {
        let Some(path) = &self.discard_for else {
            return;
        };
        let modal = egui::Modal::new(ui.make_persistent_id("discard_edits")).show(ui.ctx(), |ui| {
            ui.heading("Unsaved edits");
            ui.label(format!(
                "The scenario has edits that are not saved. Discard them and open {}?",
                path.display()
            ));
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui.button("Discard edits").clicked() {
                    commands.push(Command::DiscardEdits(true));
                }
                if ui.button("Keep editing").clicked() {
                    commands.push(Command::DiscardEdits(false));
                }
            });
        });
        if modal.should_close() {
            commands.push(Command::DiscardEdits(false));
        }
    }

    pub(super) fn update_title(&mut self, ctx: &egui::Context) {
        let title = match &self.doc {
            Some(d) => format!(
                "infscaler — {}{}",
                d.name(),
                if d.is_dirty() { " •" } else { "" }
            ),
            None => "infscaler".into(),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }
}
