//! The time-series view: rates, latency percentiles, memory and utilisation over the run (and,
//! with several query streams, each stream's goodput, SLO violations and p99 latency), plots
//! with linked time axes. Zoomed out, each line draws its overview (at most
//! [`MAX_PLOT_POINTS`] points); zoomed in, the points of the visible range are thinned anew, so
//! detail comes back as one zooms without ever drawing more than that many points a line.

use egui::Ui;
use egui_plot::{HLine, Legend, Line, LineStyle, Plot};

use super::{Command, PlotRects, empty_ui, palette, plot_heading_ui};
use crate::analysis::{RunOutcome, SeriesGroup, SeriesLine};
use crate::downsample::{MAX_PLOT_POINTS, visible};
use crate::state::PlotOptions;

/// The visible time range of the series plots and the lines thinned for it (recomputed only when
/// the range changes).
#[derive(Default)]
pub struct SeriesZoom {
    /// The x range shown in the last frame.
    range: Option<(f64, f64)>,
    /// The range `lines` were thinned for.
    cached_for: Option<(f64, f64)>,
    /// Per line of the analysis, in order: its points in `cached_for`.
    lines: Vec<Vec<[f64; 2]>>,
}

impl SeriesZoom {
    /// The points to draw of line `i` of `all`.
    fn points<'a>(&'a mut self, all: &'a [SeriesLine], i: usize) -> &'a [[f64; 2]] {
        let line = &all[i];
        let (Some((x0, x1)), Some(first), Some(last)) =
            (self.range, line.full.first(), line.full.last())
        else {
            return &line.points;
        };
        if line.full.len() <= MAX_PLOT_POINTS || (x0 <= first[0] && x1 >= last[0]) {
            return &line.points;
        }
        if self.cached_for != Some((x0, x1)) || self.lines.len() != all.len() {
            self.lines = all
                .iter()
                .map(|l| visible(&l.full, x0, x1, MAX_PLOT_POINTS))
                .collect();
            self.cached_for = Some((x0, x1));
        }
        &self.lines[i]
    }
}

/// Draws the time series of `outcome`.
pub fn series_ui(
    ui: &mut Ui,
    outcome: &RunOutcome,
    options: &mut PlotOptions,
    zoom: &mut SeriesZoom,
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
    let mut plots: Vec<(SeriesGroup, &str, &str, &str)> = vec![
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
    if a.lines(SeriesGroup::StreamGoodput).next().is_some() {
        plots.push((
            SeriesGroup::StreamGoodput,
            "Goodput per stream",
            "series-stream-goodput",
            "req/s",
        ));
        plots.push((
            SeriesGroup::StreamViolations,
            "SLO violations per stream",
            "series-stream-violations",
            "%",
        ));
        plots.push((
            SeriesGroup::StreamLatency,
            "p99 latency per stream",
            "series-stream-latency",
            "ms",
        ));
    }
    let height = ((ui.available_height() - 110.0) / plots.len() as f32).max(120.0);
    let mut shown_range = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        for &(group, title, name, unit) in &plots {
            plot_heading_ui(ui, title, name, commands);
            let mut plot = Plot::new(name)
                .height(height)
                .legend(Legend::default())
                .link_axis(link, [true, false])
                .link_cursor(link, [true, false])
                .y_axis_label(unit)
                // One width for every plot: the linked time axes line up, and labels fit.
                .y_axis_min_width(44.0)
                .include_y(0.0)
                .y_grid_spacer(super::nice_grid())
                .allow_scroll(false);
            if group == *plots.last().map(|p| &p.0).expect("plots") {
                plot = plot.x_axis_label("time (s)");
            }
            if matches!(
                group,
                SeriesGroup::Utilization | SeriesGroup::StreamViolations
            ) {
                plot = plot.include_y(100.0);
            }
            let shown = ui.scope(|ui| {
                plot.show(ui, |plot| {
                    let lines = a
                        .series
                        .iter()
                        .enumerate()
                        .filter(|(_, l)| l.group == group);
                    for (k, (i, line)) in lines.enumerate() {
                        let optional = matches!(line.name.as_str(), "arrivals" | "dropped");
                        if optional && !options.show_arrivals {
                            continue;
                        }
                        let points = zoom.points(&a.series, i).to_vec();
                        let mut l = Line::new(line.name.clone(), points).color(palette(k));
                        if optional {
                            l = l.style(LineStyle::dashed_loose());
                        }
                        plot.line(l);
                    }
                    super::interference_ui(plot, &outcome.report);
                    super::reconfigurations_ui(plot, &outcome.report);
                    if group == SeriesGroup::Latency {
                        plot.hline(
                            HLine::new("SLO", slo_ms)
                                .color(egui::Color32::from_rgb(200, 60, 60))
                                .style(LineStyle::dashed_dense()),
                        );
                    }
                })
            });
            let bounds = shown.inner.transform.bounds();
            shown_range = Some((bounds.min()[0], bounds.max()[0]));
            rects.insert(name.into(), shown.response.rect);
        }
        let interval = outcome
            .report
            .summary
            .series
            .as_ref()
            .map_or(0.0, |s| s.interval_s);
        ui.label(
            egui::RichText::new(format!(
                "One point per {interval} s interval, at its middle; a line of more than \
                 {MAX_PLOT_POINTS} points in view is thinned to that many, peaks kept."
            ))
            .small()
            .weak(),
        );
    });
    zoom.range = shown_range;
}
