//! PNG figures of `reproduce paper` and `sensitivity` (plotters, bitmap backend; text in the bundled
//! Ubuntu Light font so that no system font is needed). Figures are written atomically: drawn to
//! a temporary file and renamed.

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Colours of the systems, in the order figures list them.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// The family name the bundled font is registered under.
pub const FONT: &str = "sans-serif";

fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        )
        .map_err(|_| anyhow!("the bundled font does not parse"));
    });
    result
}

/// One series of a grouped bar chart: a name and one value per group (`None`: no bar).
pub struct Bars {
    /// Legend text.
    pub name: String,
    /// One value per group.
    pub values: Vec<Option<f64>>,
}

/// One series of a line chart: a name and its points in x order.
pub struct Line {
    /// Legend text.
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

/// A drawing area of a figure.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws a figure of `panels` side by side into `path` (PNG), `panel_size` pixels each.
pub fn draw(
    path: &Path,
    panels: usize,
    panel_size: (u32, u32),
    paint: impl FnOnce(&[Area<'_>]) -> Result<()>,
) -> Result<()> {
    let size = (panel_size.0 * panels as u32, panel_size.1);
    draw_whole(path, size, |root| paint(&root.split_evenly((1, panels))))
}

/// [`draw`] into `dir/name`; nothing without a folder (a report computed for its claims only).
pub fn draw_in(
    dir: Option<&Path>,
    name: &str,
    panels: usize,
    panel_size: (u32, u32),
    paint: impl FnOnce(&[Area<'_>]) -> Result<()>,
) -> Result<()> {
    match dir {
        Some(dir) => draw(&dir.join(name), panels, panel_size, paint),
        None => Ok(()),
    }
}

/// Draws a figure of `size` pixels into `path` (PNG), `paint` laying out the whole area.
pub fn draw_whole(
    path: &Path,
    size: (u32, u32),
    paint: impl FnOnce(&Area<'_>) -> Result<()>,
) -> Result<()> {
    register_font()?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("figure");
    // The extension must stay .png for the encoder; the dot prefix hides the partial file.
    let tmp = path.with_file_name(format!(".{stem}.tmp.png"));
    {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE)?;
        paint(&root)?;
        root.present()
            .with_context(|| format!("writing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

fn tick_label(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
        labels[i as usize].clone()
    } else {
        String::new()
    }
}

/// A grouped bar chart: one group per label, one bar per series in each group. With `log_y`
/// the y axis is logarithmic (bars start at the bottom of the axis).
pub fn grouped_bars(
    area: &Area<'_>,
    title: &str,
    groups: &[String],
    series: &[Bars],
    y_label: &str,
    log_y: bool,
) -> Result<()> {
    let values = series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied());
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (if v > 0.0 { lo.min(v) } else { lo }, hi.max(v))
    });
    let hi = if hi > 0.0 { hi } else { 1.0 };
    let x_range = -0.5..(groups.len().max(1) as f64 - 0.5);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64);
    if log_y {
        let lo = if lo.is_finite() { lo } else { hi / 10.0 };
        let floor = 10f64.powf(lo.log10().floor());
        let ceil = 10f64.powf(hi.log10().ceil());
        let chart = builder.build_cartesian_2d(x_range, (floor..ceil).log_scale())?;
        paint_bars(chart, groups, series, y_label, floor)
    } else {
        let chart = builder.build_cartesian_2d(x_range, 0.0..hi * 1.5)?;
        paint_bars(chart, groups, series, y_label, 0.0)
    }
}

/// The mesh, bars (from `floor` up) and legend of [`grouped_bars`], for a linear or log y axis.
fn paint_bars<'a, Y>(
    mut chart: ChartContext<'a, BitMapBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    groups: &[String],
    series: &[Bars],
    y_label: &str,
    floor: f64,
) -> Result<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let label_style = (FONT, 14);
    let n = groups.len().max(1);
    let width = 0.8 / series.len().max(1) as f64;
    let bar = |i: usize, s: usize| -> (f64, f64) {
        let x0 = i as f64 - 0.4 + s as f64 * width;
        (x0, x0 + width * 0.9)
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_formatter(&|x| tick_label(groups, *x))
        .y_desc(y_label)
        .label_style(label_style)
        .draw()?;
    for (s, ser) in series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        chart
            .draw_series(ser.values.iter().enumerate().filter_map(|(i, v)| {
                let (x0, x1) = bar(i, s);
                v.filter(|v| *v > floor)
                    .map(|v| Rectangle::new([(x0, floor), (x1, v)], color.filled()))
            }))?
            .label(ser.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .label_font(label_style)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    Ok(())
}

/// A line chart with markers, one line per series.
pub fn lines(
    area: &Area<'_>,
    title: &str,
    series: &[Line],
    x_label: &str,
    y_label: &str,
) -> Result<()> {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (x_hi, y_hi) = all.fold((0.0f64, 0.0f64), |(x, y), p| (x.max(p.0), y.max(p.1)));
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..(x_hi * 1.05).max(1e-9), 0.0..(y_hi * 1.15).max(1e-9))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style((FONT, 14))
        .draw()?;
    for (s, ser) in series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                ser.points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(ser.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
            });
        chart.draw_series(
            ser.points
                .iter()
                .map(|&p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}
