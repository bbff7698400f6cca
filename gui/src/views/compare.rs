//! The comparison: the four systems on the same scenario and seed, each with its default
//! parameters — a side-by-side table and overlaid goodput, p99, memory and CDF plots.

use egui::{Grid, ProgressBar, RichText, Ui};
use egui_plot::{Legend, Line, Plot};

use super::cdf::cdf_plot_ui;
use super::editor::ERROR_COLOR;
use super::{
    Command, PlotRects, empty_ui, fmt_gib, fmt_num, fmt_opt, header_row, palette, plot_heading_ui,
};
use crate::analysis::{RunOutcome, SeriesGroup};
use crate::runner::{Job, JobError};

/// One system of a comparison.
pub struct CompareSlot {
    /// The policy kind.
    pub kind: &'static str,
    /// Where its run is.
    pub state: SlotState,
}

/// Where one system's run is.
pub enum SlotState {
    /// Running.
    Running(Job<RunOutcome>),
    /// Finished.
    Done(Box<RunOutcome>),
    /// Failed or cancelled.
    Failed(String),
}

impl CompareSlot {
    /// Takes the job's result if it has finished; returns whether it did.
    pub fn poll(&mut self) -> bool {
        let SlotState::Running(job) = &mut self.state else {
            return false;
        };
        match job.poll() {
            None => false,
            Some(Ok(outcome)) => {
                self.state = SlotState::Done(Box::new(outcome));
                true
            }
            Some(Err(JobError::Cancelled)) => {
                self.state = SlotState::Failed("cancelled".into());
                true
            }
            Some(Err(JobError::Failed(e))) => {
                self.state = SlotState::Failed(e);
                true
            }
        }
    }

    /// The finished run, if any.
    pub fn outcome(&self) -> Option<&RunOutcome> {
        match &self.state {
            SlotState::Done(o) => Some(o),
            _ => None,
        }
    }
}

/// Draws the comparison.
pub fn compare_ui(
    ui: &mut Ui,
    slots: &[CompareSlot],
    rects: &mut PlotRects,
    commands: &mut Vec<Command>,
) {
    if slots.is_empty() {
        empty_ui(
            ui,
            "Press “Compare policies” to run InfScaler, INFless, SPRIGHT and Knative (default parameters) \
             on this scenario with the same seed; on a pipeline scenario (policy ODIN, LLS or a \
             design-space explorer), the thesis' systems instead.",
        );
        return;
    }
    if let Some(o) = slots.iter().find_map(CompareSlot::outcome) {
        ui.label(
            RichText::new(format!(
                "{} — {} on {}, seed {}",
                o.report.scenario, o.report.app, o.report.device, o.report.seed
            ))
            .strong(),
        );
    }
    Grid::new("compare_table").striped(true).show(ui, |ui| {
        header_row(
            ui,
            &[
                "policy",
                "status",
                "throughput (req/s)",
                "goodput (req/s)",
                "SLO attainment",
                "p50 (ms)",
                "p99 (ms)",
                "dropped",
                "memory peak (GiB)",
                "instances at end",
                "scale-outs",
            ],
        );
        for (i, slot) in slots.iter().enumerate() {
            ui.colored_label(palette(i), slot.kind);
            match &slot.state {
                SlotState::Running(job) => {
                    let f = job.progress().map_or(0.0, |p| p.fraction) as f32;
                    ui.add(ProgressBar::new(f).desired_width(100.0).show_percentage());
                    for _ in 0..9 {
                        ui.label("");
                    }
                }
                SlotState::Failed(e) => {
                    ui.colored_label(ERROR_COLOR, "failed").on_hover_text(e);
                    ui.colored_label(ERROR_COLOR, e);
                    for _ in 0..8 {
                        ui.label("");
                    }
                }
                SlotState::Done(o) => {
                    let r = &o.report;
                    let s = &r.summary;
                    ui.label("done");
                    ui.monospace(fmt_num(s.throughput_rps));
                    ui.monospace(fmt_num(s.goodput_rps));
                    ui.monospace(
                        s.slo_attainment
                            .map_or("-".into(), |a| format!("{:.2} %", a * 100.0)),
                    );
                    ui.monospace(fmt_opt(s.latency_ms.as_ref().map(|l| l.p50)));
                    ui.monospace(fmt_opt(s.latency_ms.as_ref().map(|l| l.p99)));
                    ui.monospace(s.dropped.to_string());
                    ui.monospace(fmt_gib(s.memory_peak_bytes as f64));
                    let inst: u32 = r.partitions.iter().flat_map(|p| p.instances.values()).sum();
                    ui.monospace(inst.to_string());
                    let outs = r.scaling_events.iter().filter(|e| e.delta > 0).count();
                    ui.monospace(outs.to_string());
                }
            }
            ui.end_row();
        }
    });
    let done: Vec<(usize, &CompareSlot, &RunOutcome)> = slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.outcome().map(|o| (i, s, o)))
        .collect();
    if done.is_empty() {
        return;
    }
    ui.add_space(6.0);
    let link = ui.make_persistent_id("compare_time_axis");
    let height = ((ui.available_height() - 60.0) / 2.0).max(150.0);
    ui.columns(2, |cols| {
        let overlaid: [(&str, &str, SeriesGroup, &str, &str); 3] = [
            (
                "Goodput",
                "compare-goodput",
                SeriesGroup::Rates,
                "goodput",
                "req/s",
            ),
            (
                "p99 latency",
                "compare-p99",
                SeriesGroup::Latency,
                "p99",
                "ms",
            ),
            (
                "Memory in use",
                "compare-memory",
                SeriesGroup::Memory,
                "memory",
                "GiB",
            ),
        ];
        for (k, (title, name, group, line, unit)) in overlaid.into_iter().enumerate() {
            let ui = &mut cols[k % 2];
            plot_heading_ui(ui, title, name, commands);
            let rect = ui
                .scope(|ui| {
                    Plot::new(name)
                        .height(height)
                        .legend(Legend::default())
                        .link_axis(link, [true, false])
                        .y_axis_label(unit)
                        .include_y(0.0)
                        .y_grid_spacer(super::nice_grid())
                        .allow_scroll(false)
                        .show(ui, |plot| {
                            for (i, slot, o) in &done {
                                if let Some(l) = o.analysis.lines(group).find(|l| l.name == line) {
                                    plot.line(
                                        Line::new(slot.kind, l.points.clone()).color(palette(*i)),
                                    );
                                }
                            }
                        })
                })
                .response
                .rect;
            rects.insert(name.into(), rect);
        }
        let ui = &mut cols[1];
        plot_heading_ui(ui, "Latency CDF", "compare-cdf", commands);
        let curves: Vec<(&str, &[[f64; 2]], egui::Color32)> = done
            .iter()
            .map(|(i, s, o)| (s.kind, &o.analysis.cdf[..], palette(*i)))
            .collect();
        let slo = done[0].2.report.summary.slo_ms;
        ui.allocate_ui(egui::vec2(ui.available_width(), height), |ui| {
            cdf_plot_ui(ui, "compare-cdf", &curves, slo, false, rects);
        });
    });
}
