//! The latency CDF: the fraction of completed requests within each latency, with the SLO marked.

use egui::{Color32, Ui};
use egui_plot::{Legend, Line, LineStyle, Plot, VLine};

use super::{Command, PlotRects, empty_ui, palette, plot_heading_ui};
use crate::analysis::RunOutcome;
use crate::state::PlotOptions;

/// Draws the CDF of `outcome`.
pub fn cdf_ui(
    ui: &mut Ui,
    outcome: &RunOutcome,
    options: &mut PlotOptions,
    rects: &mut PlotRects,
    commands: &mut Vec<Command>,
) {
    if outcome.analysis.cdf.is_empty() {
        empty_ui(
            ui,
            "No latency CDF: nothing completed in the measured window.",
        );
        return;
    }
    ui.checkbox(&mut options.log_latency, "Logarithmic latency axis");
    plot_heading_ui(ui, "Latency CDF", "latency-cdf", commands);
    let curves = [(
        outcome.report.policy.as_str(),
        &outcome.analysis.cdf[..],
        palette(0),
    )];
    cdf_plot_ui(
        ui,
        "latency-cdf",
        &curves,
        outcome.report.summary.slo_ms,
        options.log_latency,
        rects,
    );
}

/// One plot of CDF curves (name, (latency ms, fraction), colour), the SLO as a vertical line; with `log`, the
/// latency axis shows log10(ms).
pub fn cdf_plot_ui(
    ui: &mut Ui,
    name: &str,
    curves: &[(&str, &[[f64; 2]], Color32)],
    slo_ms: f64,
    log: bool,
    rects: &mut PlotRects,
) {
    let x = move |ms: f64| if log { ms.max(1e-3).log10() } else { ms };
    let rect = ui
        .scope(|ui| {
            Plot::new(name)
                .legend(Legend::default())
                .x_axis_label(if log {
                    "latency (ms, log scale)"
                } else {
                    "latency (ms)"
                })
                .y_axis_label("fraction of requests")
                .include_y(0.0)
                .include_y(1.0)
                .allow_scroll(false)
                .x_axis_formatter(move |mark, _| {
                    let v = if log {
                        10f64.powf(mark.value)
                    } else {
                        mark.value
                    };
                    super::fmt_num(v)
                })
                .show(ui, |plot| {
                    for (label, pts, color) in curves {
                        // A step line: the fraction holds until the next latency.
                        let mut steps = Vec::with_capacity(pts.len() * 2 + 1);
                        let mut prev = 0.0;
                        for p in pts.iter() {
                            steps.push([x(p[0]), prev]);
                            steps.push([x(p[0]), p[1]]);
                            prev = p[1];
                        }
                        plot.line(
                            Line::new(label.to_string(), steps)
                                .color(*color)
                                .allow_band(false),
                        );
                    }
                    plot.vline(
                        VLine::new(format!("SLO {} ms", super::fmt_num(slo_ms)), x(slo_ms))
                            .color(Color32::from_rgb(200, 60, 60))
                            .style(LineStyle::dashed_dense()),
                    );
                })
        })
        .response
        .rect;
    rects.insert(name.into(), rect);
}
