//! The panels and views of the app. Each `*_ui` function draws from data it is handed and reports
//! what the user asked for as [`Command`]s, which the app applies after the frame is drawn.

pub mod cdf;
pub mod compare;
pub mod editor;
pub mod parameters;
pub mod partitions;
pub mod series;
pub mod summary;
pub mod sweep_browser;
pub mod timeline;
pub mod toml_form;

use std::collections::HashMap;
use std::path::PathBuf;

use egui::{Color32, Rect, RichText, Ui};

/// Something the user asked for, applied by the app after drawing.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Open a scenario file.
    Open(PathBuf),
    /// Save the scenario to the file it came from.
    Save,
    /// Save the scenario to another file (and keep editing that one).
    SaveAs(PathBuf),
    /// Drop the edits: reopen the file.
    Revert,
    /// Answer the question whether to discard unsaved edits (`true`: discard and go on).
    DiscardEdits(bool),
    /// Replace the scenario by this TOML text.
    ApplyToml(String),
    /// Run the scenario.
    Run,
    /// Run the four systems on the scenario.
    Compare,
    /// Work out the policy's deployment of the scenario without running it.
    Plan,
    /// Show the plan (`true`) or the last run (`false`) in the partition view.
    ShowPlan(bool),
    /// Cancel the running jobs.
    Cancel,
    /// Export the current report as JSON.
    ExportJson,
    /// Export the current report as one CSV row.
    ExportCsv,
    /// Export the named plot as PNG.
    ExportPlot(String),
    /// Load a sweep results file.
    LoadSweep(PathBuf),
    /// Forget the message at this index.
    Dismiss(usize),
}

/// A text field that edits a parsed value, as kept between frames: the text of the value the
/// edit started from, the text being edited, and the parser's complaint while it does not parse.
#[derive(Clone, Debug, Default)]
pub struct ParsedText {
    /// The value's text when the edit started (or last parsed).
    pub from: String,
    /// The text as typed.
    pub text: String,
    /// Why the text does not parse, if it does not.
    pub error: Option<String>,
}

impl ParsedText {
    /// The state kept under `id`, started afresh from `current` (the value's text now) when
    /// there is none or the value changed elsewhere since.
    pub fn load(ui: &Ui, id: egui::Id, current: String) -> Self {
        let kept = ui.data_mut(|d| d.get_temp::<(String, String, Option<String>)>(id));
        match kept {
            Some((from, text, error)) if from == current => ParsedText { from, text, error },
            _ => ParsedText {
                from: current.clone(),
                text: current,
                error: None,
            },
        }
    }

    /// Keeps the state under `id` for the next frame.
    pub fn store(self, ui: &Ui, id: egui::Id) {
        ui.data_mut(|d| d.insert_temp(id, (self.from, self.text, self.error)));
    }
}

/// Screen rectangles of the plots drawn this frame, by export name.
pub type PlotRects = HashMap<String, Rect>;

/// Colour of interference windows in the plots: gold, apart from every [`palette`] colour.
const INTERFERENCE_COLOR: Color32 = Color32::from_rgb(255, 215, 0);

/// Marks the windows of the report's interferers (`[[interference]]`) on a time-axis plot: a
/// solid line where each starts, a dashed one where it ends, named after what it takes.
pub fn interference_ui(plot: &mut egui_plot::PlotUi<'_>, report: &infscaler_sim::report::Report) {
    for i in &report.interference {
        let name = format!("interference: {}", i.what);
        for &[start, end] in &i.windows_s {
            plot.vline(
                egui_plot::VLine::new(name.clone(), start)
                    .color(INTERFERENCE_COLOR)
                    .width(1.5),
            );
            plot.vline(
                egui_plot::VLine::new(name.clone(), end)
                    .color(INTERFERENCE_COLOR)
                    .style(egui_plot::LineStyle::dashed_dense()),
            );
        }
    }
}

/// Colour of repartitioning switches in the plots: magenta, apart from every [`palette`]
/// colour and from interference's gold.
const RECONFIGURATION_COLOR: Color32 = Color32::from_rgb(230, 0, 230);

/// Marks when each repartitioning of the report switched layouts (dotted), named after its
/// cuts and placement.
pub fn reconfigurations_ui(
    plot: &mut egui_plot::PlotUi<'_>,
    report: &infscaler_sim::report::Report,
) {
    for r in &report.reconfigurations {
        if let Some(at) = r.switched_s {
            let name = format!(
                "repartition: cuts {:?} on {}",
                r.cuts,
                r.placement.join(", ")
            );
            plot.vline(
                egui_plot::VLine::new(name, at)
                    .color(RECONFIGURATION_COLOR)
                    .style(egui_plot::LineStyle::dotted_dense()),
            );
        }
    }
}

/// A colour per partition (or policy), distinct for the first dozen and repeating after.
pub fn palette(i: usize) -> Color32 {
    const COLORS: [Color32; 12] = [
        Color32::from_rgb(31, 119, 180),
        Color32::from_rgb(255, 127, 14),
        Color32::from_rgb(44, 160, 44),
        Color32::from_rgb(214, 39, 40),
        Color32::from_rgb(148, 103, 189),
        Color32::from_rgb(140, 86, 75),
        Color32::from_rgb(227, 119, 194),
        Color32::from_rgb(127, 127, 127),
        Color32::from_rgb(188, 189, 34),
        Color32::from_rgb(23, 190, 207),
        Color32::from_rgb(57, 59, 121),
        Color32::from_rgb(173, 73, 74),
    ];
    COLORS[i % COLORS.len()]
}

/// A plot's heading with its PNG export button.
pub fn plot_heading_ui(ui: &mut Ui, title: &str, export_name: &str, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.strong(title);
        if ui
            .small_button("Save PNG")
            .on_hover_text(format!("Export this plot as {export_name}.png"))
            .clicked()
        {
            commands.push(Command::ExportPlot(export_name.to_string()));
        }
    });
}

/// A grid's row of column headings.
pub fn header_row(ui: &mut Ui, headings: &[&str]) {
    for h in headings {
        ui.label(RichText::new(*h).small().strong());
    }
    ui.end_row();
}

/// What a view shows when there is nothing to draw yet.
pub fn empty_ui(ui: &mut Ui, text: &str) {
    ui.add_space(20.0);
    ui.vertical_centered(|ui| ui.label(RichText::new(text).weak()));
}

/// Grid steps of 1, 2 or 5 × 10^k (egui_plot's default steps by powers of ten, which leaves a
/// short axis, say 0–75 ms, with no label but 0): the smallest such step at least `base`, and the
/// next two at least four times the one before.
pub fn nice_steps(base: f64) -> [f64; 3] {
    let next = |at_least: f64| {
        let at_least = at_least.max(f64::MIN_POSITIVE);
        let power = 10f64.powf(at_least.log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * power)
            .find(|s| *s >= at_least * (1.0 - 1e-9))
            .unwrap_or(10.0 * power)
    };
    let small = next(base);
    let medium = next(small * 4.0);
    [small, medium, next(medium * 4.0)]
}

/// The y grid of [`nice_steps`] for a plot.
pub fn nice_grid() -> Box<dyn Fn(egui_plot::GridInput) -> Vec<egui_plot::GridMark>> {
    egui_plot::uniform_grid_spacer(|input| nice_steps(input.base_step_size))
}

/// A number for a table: integers as such, others with about four significant digits.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{x:.digits$}")
}

/// [`fmt_num`] of an optional value, `-` for none.
pub fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), fmt_num)
}

/// Bytes as GiB.
pub fn fmt_gib(bytes: f64) -> String {
    format!("{:.3}", bytes / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_steps_are_1_2_5_and_nest() {
        assert_eq!(nice_steps(1.0), [1.0, 5.0, 20.0]);
        assert_eq!(nice_steps(1.3), [2.0, 10.0, 50.0]);
        assert_eq!(nice_steps(0.03), [0.05, 0.2, 1.0]);
        for base in [0.001, 0.7, 3.0, 42.0, 999.0] {
            let [a, b, c] = nice_steps(base);
            assert!(a >= base && b >= 4.0 * a && c >= 4.0 * b, "{base}");
            let whole = |x: f64| (x - x.round()).abs() < 1e-9;
            assert!(whole(b / a) && whole(c / b), "{base}: steps nest");
        }
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_num(150.0), "150");
        assert_eq!(fmt_num(149.8734), "149.9");
        assert_eq!(fmt_num(0.0123456), "0.01235");
        assert_eq!(fmt_opt(None), "-");
        assert_eq!(fmt_gib(1073741824.0), "1.000");
    }
}

#[cfg(test)]
mod glyph_tests {
    use egui::{FontFamily, FontId};

    /// Every non-ASCII character on a code line of the GUI's sources (labels, headings, hover
    /// texts) has a glyph in the bundled fonts, so nothing draws as a box.
    #[test]
    fn every_symbol_the_ui_writes_has_a_glyph() {
        let ctx = egui::Context::default();
        let mut output = ctx.run_ui(egui::RawInput::default(), |_| {});
        output.textures_delta.clear();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut missing = Vec::new();
        let mut dirs = vec![src];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                    for c in line.chars().filter(|c| !c.is_ascii()) {
                        for family in [FontFamily::Proportional, FontFamily::Monospace] {
                            let font = FontId::new(14.0, family.clone());
                            if !ctx.fonts_mut(|f| f.has_glyph(&font, c)) {
                                missing.push(format!("{c:?} ({family:?}) in {}", path.display()));
                            }
                        }
                    }
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "no glyph for: {missing:#?}");
    }
}
