//! The Gantt view: one row per instance lane of each accelerator, a bar per instance coloured by
//! its partition, ▲ scale-outs and ▼ scale-ins, the interference windows and the switches of
//! repartitionings; below it, live instances per accelerator.

use egui::{Color32, Ui};
use egui_plot::{Bar, BarChart, Legend, Line, MarkerShape, Plot, Points};

use super::{Command, PlotRects, empty_ui, palette, plot_heading_ui};
use crate::analysis::RunOutcome;
use crate::gantt::Timeline;

/// Draws the timeline of `outcome`.
pub fn timeline_ui(
    ui: &mut Ui,
    outcome: &RunOutcome,
    rects: &mut PlotRects,
    commands: &mut Vec<Command>,
) {
    let t = match &outcome.analysis.timeline {
        Ok(t) => t,
        Err(e) => {
            ui.colored_label(super::editor::ERROR_COLOR, format!("No timeline: {e}"));
            return;
        }
    };
    if t.bars.is_empty() {
        empty_ui(ui, "No instance ran.");
        return;
    }
    let report = &outcome.report;
    let labels: Vec<String> = report
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| format!("P{i} {} #{}–#{}", p.model, p.first_op, p.last_op))
        .collect();
    let rows = lane_rows(t);
    let outs = report.scaling_events.iter().filter(|e| e.delta > 0).count();
    ui.label(format!(
        "{} instances over the run, {} scale-outs, {} scale-ins",
        t.bars.len(),
        outs,
        report.scaling_events.len() - outs
    ));
    let height = (ui.available_height() * 0.62).max(200.0);
    plot_heading_ui(ui, "Instances per accelerator", "timeline", commands);
    let row_names: Vec<String> = rows.iter().map(|(name, _)| name.clone()).collect();
    let rect = ui
        .scope(|ui| {
            Plot::new("timeline")
                .height(height)
                .legend(Legend::default())
                .x_axis_label("time (s)")
                .allow_scroll(false)
                .y_axis_formatter(move |mark, _| {
                    let y = mark.value.round();
                    if (mark.value - y).abs() > 1e-6 || y < 0.0 {
                        return String::new();
                    }
                    row_names.get(y as usize).cloned().unwrap_or_default()
                })
                .y_axis_min_width(60.0)
                .include_x(0.0)
                .include_x(t.end_s)
                .include_y(-0.5)
                .include_y(rows.len() as f64 - 0.5)
                .show(ui, |plot| {
                    super::interference_ui(plot, report);
                    super::reconfigurations_ui(plot, report);
                    for (p, label) in labels.iter().enumerate() {
                        let bars: Vec<Bar> = t
                            .bars
                            .iter()
                            .filter(|b| b.partition == p)
                            .map(|b| {
                                let y = row_of(&rows, &b.accelerator, b.lane);
                                Bar::new(y, (b.end_s - b.start_s).max(1e-9))
                                    .base_offset(b.start_s)
                                    .width(0.8)
                                    .horizontal()
                                    .name(format!(
                                        "{label}\n{} lane {}: {:.2}–{:.2} s",
                                        b.accelerator, b.lane, b.start_s, b.end_s
                                    ))
                            })
                            .collect();
                        if !bars.is_empty() {
                            plot.bar_chart(
                                BarChart::new(label.clone(), bars)
                                    .color(palette(p))
                                    .horizontal(),
                            );
                        }
                    }
                    for (name, shape, color, delta) in [
                        (
                            "scale-out",
                            MarkerShape::Up,
                            Color32::from_rgb(40, 170, 60),
                            1,
                        ),
                        (
                            "scale-in",
                            MarkerShape::Down,
                            Color32::from_rgb(220, 50, 50),
                            -1,
                        ),
                    ] {
                        let pts: Vec<[f64; 2]> = t
                            .marks
                            .iter()
                            .filter(|m| m.delta.signum() == delta)
                            .map(|m| [m.time_s, row_of(&rows, &m.accelerator, m.lane)])
                            .collect();
                        if !pts.is_empty() {
                            plot.points(
                                Points::new(name, pts)
                                    .shape(shape)
                                    .radius(5.0)
                                    .filled(true)
                                    .color(color),
                            );
                        }
                    }
                })
        })
        .response
        .rect;
    rects.insert("timeline".into(), rect);

    ui.add_space(4.0);
    plot_heading_ui(ui, "Live instances", "instances", commands);
    let most = t
        .counts
        .values()
        .flat_map(|steps| steps.iter().map(|p| p[1]))
        .fold(0.0, f64::max);
    let rect = ui
        .scope(|ui| {
            Plot::new("instance_counts")
                .legend(Legend::default())
                .x_axis_label("time (s)")
                .y_axis_label("instances")
                .include_y(0.0)
                .include_y(most + 0.5)
                .y_grid_spacer(super::nice_grid())
                .show(ui, |plot| {
                    for (i, (acc, _)) in t.lanes.iter().enumerate() {
                        if let Some(steps) = t.counts.get(acc)
                            && steps.iter().any(|p| p[1] > 0.0)
                        {
                            plot.line(
                                Line::new(acc.clone(), steps.clone())
                                    .color(palette(i + 4))
                                    .allow_band(false)
                                    .width(2.0),
                            );
                        }
                    }
                })
        })
        .response
        .rect;
    rects.insert("instances".into(), rect);
}

/// The plot rows top to bottom: (label, accelerator) per lane; an accelerator with no instance
/// keeps one empty row so that every engine of the device shows.
fn lane_rows(t: &Timeline) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for (acc, lanes) in t.lanes.iter().rev() {
        for lane in (0..(*lanes).max(1)).rev() {
            let label = if *lanes <= 1 {
                acc.clone()
            } else {
                format!("{acc} #{lane}")
            };
            rows.push((label, acc.clone()));
        }
    }
    rows
}

/// The y of an accelerator's lane.
fn row_of(rows: &[(String, String)], acc: &str, lane: usize) -> f64 {
    // Rows of one accelerator are consecutive, highest lane first.
    let first = rows.iter().position(|(_, a)| a == acc).unwrap_or(0);
    let count = rows.iter().filter(|(_, a)| a == acc).count().max(1);
    (first + count - 1 - lane.min(count - 1)) as f64
}
