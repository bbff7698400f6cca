//! The time-series view: rates, latency percentiles, memory and utilisation over the run, four
//! plots with linked time axes.

use egui::Ui;
use egui_plot::{HLine, Legend, Line, LineStyle, Plot};

use super::{Command, PlotRects, empty_ui, palette, plot_heading_ui};
use crate::analysis::{RunOutcome, SeriesGroup};
use crate::state::PlotOptions;

/// Draws the time series of `outcome`.
pub fn series_ui(
    ui: &mut Ui,
    outcome: &RunOutcome,
    options: &mut PlotOptions,
    rects: &mut PlotRects,
    commands: &mut Vec<Command>,
) {
    let a = &outcome.analysis;
    if a.series.is_empty() {
        empty_ui(ui, "This report has no time series.");
        return;
    }
    ui.checkbox(&mut options.show_arrivals, "Show arrival and drop rates");
    let slo_ms = outcome.report.summary.slo_ms;
    let link = ui.make_persistent_id("series_time_axis");
    let height = ((ui.available_height() - 110.0) / 4.0).max(120.0);
    let plots: [(SeriesGroup, &str, &str, &str); 4] = [
        (
            SeriesGroup::Rates,
            "Throughput and goodput",
            "series-rates",
            "req/s",
        ),
        (
            SeriesGroup::Latency,
            "Latency percentiles",
            "series-latency",
            "ms",
        ),
        (SeriesGroup::Memory, "Memory in use", "series-memory", "GiB"),
        (
            SeriesGroup::Utilization,
            "Utilisation",
            "series-utilization",
            "%",
        ),
    ];
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (group, title, name, unit) in plots {
            plot_heading_ui(ui, title, name, commands);
            let mut plot = Plot::new(name);
            if group == SeriesGroup::Utilization {
                plot = plot.include_y(100.0).x_axis_label("time (s)");
            }
            let response = plot
                .height(height)
                .legend(Legend::default())
                .link_axis(link, [true, false])
                .link_cursor(link, [true, false])
                .y_axis_label(unit)
                .include_y(0.0)
                .allow_scroll(false)
                .show(ui, |plot| {
                    for (i, line) in a.lines(group).enumerate() {
                        let optional = matches!(line.name.as_str(), "arrivals" | "dropped");
                        if optional && !options.show_arrivals {
                            continue;
                        }
                        let mut l = Line::new(line.name.clone(), line.points.clone())
                            .color(palette(i));
                        if optional {
                            l = l.style(LineStyle::dashed_loose());
                        }
                        plot.line(l);
                    }
                    if group == SeriesGroup::Latency {
                        plot.hline(
                            HLine::new("SLO", slo_ms)
                                .color(egui::Color32::from_rgb(200, 60, 60))
                                .style(LineStyle::dashed_dense()),
                        );
                    }
                })
                .response;
            rects.insert(name.into(), response.rect);
        }
        ui.label(
            egui::RichText::new(format!(
                "One point per {} s interval (lines of more than {} points are thinned, peaks kept).",
                outcome
                    .report
                    .summary
                    .series
                    .as_ref()
                    .map_or(0.0, |s| s.interval_s),
                crate::downsample::MAX_PLOT_POINTS
            ))
            .small()
            .weak(),
        );
    });
}
