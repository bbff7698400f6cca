//! The tornado chart of a sensitivity analysis: one row per parameter (the top ones, in rank
//! order, largest effect at the top), labelled with its profile, path and tag, and two bars, ×0.5
//! and ×2. One panel: the relative change of the first metric (for a sweep, the mean over its
//! cells). A sweep of several cells adds a panel for its comparison: the share of the pairs of
//! cells whose order by the first metric swapped (×0.5 drawn to the left, ×2 to the right).

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::effects::{Analysis, ParameterEffect, VariantEffect, truncate};
use crate::figures::{self, Area, FONT, PALETTE};

/// Width of the parameter labels, pixels.
const LABEL_WIDTH: u32 = 460;
/// Width of one panel, pixels.
const PANEL_WIDTH: u32 = 470;
/// Height of one parameter's row, pixels.
const ROW_HEIGHT: u32 = 30;

/// A panel: its title, x-axis text and each shown parameter's (×0.5, ×2) bar lengths.
struct Panel {
    title: String,
    x_desc: String,
    bars: Vec<[Option<f64>; 2]>,
}

/// The label of a parameter's row: `device:memory.bandwidth [assumed]`, and the factors that
/// did not run.
fn label(e: &ParameterEffect) -> String {
    let missing: Vec<String> = e
        .variants
        .iter()
        .filter(|v| v.change.is_none())
        .map(|v| format!("×{}", v.factor))
        .collect();
    format!(
        "{} [{}]{}",
        truncate(&e.name(), 44),
        truncate(&e.tag, 22),
        if missing.is_empty() {
            String::new()
        } else {
            format!(" ({} not run)", missing.join(", "))
        }
    )
}

/// Draws the chart of the `top` parameters of `a` into `path`.
pub fn draw(path: &Path, a: &Analysis, top: usize) -> Result<()> {
    let shown: Vec<&ParameterEffect> = a.parameters.iter().take(top).collect();
    let metric = &a.metrics[0];
    let several = a.cells.len() > 1;
    let change = |v: &VariantEffect| v.change.as_ref().and_then(|c| c[0]);
    let mut panels = vec![Panel {
        title: format!("{}: change of {metric}", a.experiment),
        x_desc: if several {
            format!("mean relative change over the {} cells", a.cells.len())
        } else {
            "relative change".to_string()
        },
        bars: shown
            .iter()
            .map(|e| [change(&e.variants[0]), change(&e.variants[1])])
            .collect(),
    }];
    if several {
        let pairs = (a.cells.len() * (a.cells.len() - 1) / 2) as f64;
        let share = |v: &VariantEffect| v.pairs_swapped.map(|n| n as f64 / pairs);
        panels.push(Panel {
            title: format!("ranking of the cells by {metric}"),
            x_desc: "share of cell pairs swapped (×0.5 left, ×2 right)".to_string(),
            bars: shown
                .iter()
                .map(|e| [share(&e.variants[0]).map(|x| -x), share(&e.variants[1])])
                .collect(),
        });
    }
    let labels: Vec<String> = shown.iter().map(|e| label(e)).collect();
    let height = 110 + ROW_HEIGHT * shown.len().max(1) as u32;
    let width = LABEL_WIDTH + PANEL_WIDTH * panels.len() as u32;
    figures::draw_whole(path, (width, height), |root| {
        let (left, right) = root.split_horizontally(LABEL_WIDTH);
        let areas = right.split_evenly((1, panels.len()));
        let mut rows_px = Vec::new();
        for (area, panel) in areas.iter().zip(&panels) {
            rows_px = paint_panel(area, panel, shown.len())?;
        }
        let style = TextStyle::from((FONT, 14).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (text, y) in labels.iter().zip(rows_px) {
            left.draw(&Text::new(
                text.clone(),
                (LABEL_WIDTH as i32 - 8, y),
                &style,
            ))?;
        }
        Ok(())
    })
}

/// Paints one panel; returns the pixel row of each parameter's centre line.
fn paint_panel(area: &Area<'_>, panel: &Panel, n: usize) -> Result<Vec<i32>> {
    let limit = panel
        .bars
        .iter()
        .flatten()
        .flatten()
        .fold(0.0f64, |m, x| m.max(x.abs()));
    let limit = if limit > 0.0 { limit * 1.15 } else { 0.01 };
    let rows = n.max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 17))
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(0)
        .build_cartesian_2d(-limit..limit, -0.5..rows - 0.5)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(7)
        .x_desc(panel.x_desc.as_str())
        .x_label_formatter(&|x| format!("{:+.0}%", x * 100.0 + 0.0))
        .light_line_style(WHITE)
        .label_style((FONT, 13))
        .draw()?;
    // Parameter r (0: the largest effect) on row n−1−r, at the top.
    let y = |r: usize| rows - 1.0 - r as f64;
    for (j, (name, offset)) in [("×0.5", 0.04), ("×2", -0.38)].into_iter().enumerate() {
        let color = PALETTE[j];
        chart
            .draw_series(panel.bars.iter().enumerate().filter_map(|(r, b)| {
                b[j].map(|x| {
                    let y0 = y(r) + offset;
                    Rectangle::new([(0.0, y0), (x, y0 + 0.34)], color.filled())
                })
            }))?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart.draw_series(LineSeries::new(
        [(0.0, -0.5), (0.0, rows - 0.5)],
        BLACK.stroke_width(1),
    ))?;
    chart
        .configure_series_labels()
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    Ok((0..n)
        .map(|r| chart.backend_coord(&(0.0, y(r))).1)
        .collect())
}
