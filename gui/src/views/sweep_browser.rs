//! The sweep browser: a results file (Parquet, CSV or JSONL, as `infscaler sweep` writes them)
//! as a pivot table — rows labelled by some columns, one column spread across, one metric
//! aggregated — with a grouped bar chart. The pivoting is `infscaler summarize`'s.

use std::path::{Path, PathBuf};

use egui::{ComboBox, Grid, RichText, TextEdit, Ui};
use egui_plot::{Bar, BarChart, Legend, Plot};
use infscaler_results::files;
use infscaler_results::summarize::{Agg, Pivot, fmt_value, pivot};
use polars::prelude::DataFrame;

use super::editor::ERROR_COLOR;
use super::{Command, PlotRects, empty_ui, palette, plot_heading_ui};
use crate::runner::{Job, JobError};
use crate::state::SweepChoice;

/// A loaded results file.
pub struct SweepTable {
    /// The file.
    pub path: PathBuf,
    /// Its rows, typed as the CLI types them.
    pub df: DataFrame,
    /// Every column, in file order, with whether it is numeric (a metric).
    pub columns: Vec<(String, bool)>,
}

impl SweepTable {
    /// Reads a results file.
    pub fn read(path: &Path) -> Result<SweepTable, String> {
        let df = files::read(path).map_err(|e| e.with_causes())?;
        let columns = df
            .columns()
            .iter()
            .map(|c| {
                let numeric = c.dtype().is_primitive_numeric()
                    || c.dtype() == &polars::prelude::DataType::Boolean;
                (c.name().to_string(), numeric)
            })
            .collect();
        Ok(SweepTable {
            path: path.to_path_buf(),
            df,
            columns,
        })
    }

    /// The sweep's axis columns: those between `repeat` and `scenario` in a sweep's rows, less a
    /// capacity sweep's `capacity_*` results.
    pub fn axes(&self) -> Vec<String> {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
        let start = names
            .iter()
            .position(|n| *n == "repeat")
            .map_or(0, |i| i + 1);
        let end = names
            .iter()
            .position(|n| *n == "scenario")
            .unwrap_or(names.len());
        names
            .get(start..end.max(start))
            .unwrap_or_default()
            .iter()
            .filter(|s| !s.starts_with("capacity_"))
            .map(|s| s.to_string())
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.columns.iter().any(|(n, _)| n == name)
    }

    fn is_numeric(&self, name: &str) -> bool {
        self.columns.iter().any(|(n, num)| n == name && *num)
    }

    /// A sensible first pivot: the sweep's axes that vary (the last across), capacity or goodput
    /// (or the first metric).
    pub fn default_choice(&self, path: &str) -> SweepChoice {
        let mut keys: Vec<String> = self
            .axes()
            .into_iter()
            .filter(|a| {
                self.df
                    .column(a)
                    .ok()
                    .and_then(|c| c.n_unique().ok())
                    .is_some_and(|n| n > 1)
            })
            .collect();
        if keys.is_empty() {
            keys = ["app", "policy"]
                .into_iter()
                .filter(|k| self.has(k))
                .map(String::from)
                .collect();
        }
        let column_key = if keys.len() >= 2 { keys.pop() } else { None };
        let metric = ["capacity_rps", "goodput_rps"]
            .into_iter()
            .find(|m| self.is_numeric(m))
            .map(String::from)
            .or_else(|| {
                self.columns
                    .iter()
                    .find(|(n, num)| *num && !keys.contains(n))
                    .map(|(n, _)| n.clone())
            })
            .unwrap_or_default();
        SweepChoice {
            path: path.to_string(),
            row_keys: keys,
            column_key,
            metric,
            agg: Agg::Mean,
        }
    }

    /// Whether `choice` names columns this table has.
    pub fn fits(&self, choice: &SweepChoice) -> bool {
        !choice.row_keys.is_empty()
            && choice.row_keys.iter().all(|k| self.has(k))
            && choice.column_key.as_ref().is_none_or(|k| self.has(k))
            && self.is_numeric(&choice.metric)
    }
}

/// The sweep browser's non-persisted part: the loaded table and the pivot of the current choice.
#[derive(Default)]
pub struct SweepBrowser {
    /// A file being read.
    pub loading: Option<Job<SweepTable>>,
    /// The loaded file.
    pub table: Option<SweepTable>,
    /// The pivot of `pivot_of`, or why it failed.
    pivot: Option<Result<Pivot, String>>,
    pivot_of: Option<SweepChoice>,
}

impl SweepBrowser {
    /// Takes a finished read; returns an error to show, if the read failed.
    pub fn poll(&mut self, choice: &mut SweepChoice) -> Option<String> {
        let job = self.loading.as_mut()?;
        let result = job.poll()?;
        self.loading = None;
        match result {
            Ok(table) => {
                let path = table.path.display().to_string();
                if !table.fits(choice) || choice.path != path {
                    *choice = table.default_choice(&path);
                }
                self.table = Some(table);
                self.pivot = None;
                self.pivot_of = None;
                None
            }
            Err(JobError::Cancelled) => None,
            Err(JobError::Failed(e)) => Some(e),
        }
    }

    /// Starts reading `path`.
    pub fn load(&mut self, path: PathBuf, repaint: Option<egui::Context>) {
        self.loading = Some(Job::spawn("read results", repaint, move |_| {
            SweepTable::read(&path).map_err(JobError::Failed)
        }));
    }

    /// The pivot of `choice`, computed once per choice.
    fn pivot(&mut self, choice: &SweepChoice) -> Option<&Result<Pivot, String>> {
        let table = self.table.as_ref()?;
        if self.pivot_of.as_ref() != Some(choice) {
            let mut by = choice.row_keys.clone();
            by.extend(choice.column_key.clone());
            let result = if choice.row_keys.is_empty() {
                Err("pick at least one row key".to_string())
            } else {
                pivot(
                    &table.df,
                    &by,
                    std::slice::from_ref(&choice.metric),
                    choice.agg,
                )
                .map_err(|e| e.with_causes())
            };
            self.pivot = Some(result);
            self.pivot_of = Some(choice.clone());
        }
        self.pivot.as_ref()
    }
}

/// Draws the sweep browser.
pub fn sweep_browser_ui(
    ui: &mut Ui,
    browser: &mut SweepBrowser,
    choice: &mut SweepChoice,
    rects: &mut PlotRects,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        let label = ui.label("Results file");
        let field = ui
            .add(
                TextEdit::singleline(&mut choice.path)
                    .hint_text("results/NAME.parquet | .csv | .jsonl")
                    .desired_width(380.0),
            )
            .labelled_by(label.id);
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Load").clicked() || enter) && !choice.path.trim().is_empty() {
            commands.push(Command::LoadSweep(PathBuf::from(choice.path.trim())));
        }
        if browser.loading.is_some() {
            ui.spinner();
        }
    });
    let Some(table) = &browser.table else {
        empty_ui(
            ui,
            "Load the results of `infscaler sweep` (results/<name>.parquet, .csv or .jsonl).",
        );
        return;
    };
    ui.label(
        RichText::new(format!(
            "{}: {} rows × {} columns",
            table.path.display(),
            table.df.height(),
            table.columns.len()
        ))
        .weak(),
    );
    choice_ui(ui, table, choice);
    let Some(result) = browser.pivot(choice) else {
        return;
    };
    let p = match result {
        Ok(p) => p,
        Err(e) => {
            ui.colored_label(ERROR_COLOR, e);
            return;
        }
    };
    ui.separator();
    ui.strong(&p.caption);
    let table_height = (ui.available_height() * 0.45).max(120.0);
    egui::ScrollArea::both()
        .id_salt("pivot_table")
        .max_height(table_height)
        .show(ui, |ui| pivot_table_ui(ui, p));
    ui.separator();
    plot_heading_ui(ui, "Pivot chart", "sweep-pivot", commands);
    let rect = ui
        .scope(|ui| {
            pivot_chart(p).show(ui, |plot| {
                let n = p.columns.len().max(1) as f64;
                let width = 0.8 / n;
                for (c, column) in p.columns.iter().enumerate() {
                    let bars: Vec<Bar> = p
                        .rows
                        .iter()
                        .enumerate()
                        .filter_map(|(r, (labels, cells))| {
                            let v = cells.get(c).copied().flatten()?;
                            let x = r as f64 - 0.4 + width * (c as f64 + 0.5);
                            Some(Bar::new(x, v).width(width * 0.95).name(format!(
                                "{} · {column}: {}",
                                labels.join(" / "),
                                fmt_value(Some(v))
                            )))
                        })
                        .collect();
                    plot.bar_chart(BarChart::new(column.clone(), bars).color(palette(c)));
                }
            })
        })
        .response
        .rect;
    rects.insert("sweep-pivot".into(), rect);
}

fn pivot_chart(p: &Pivot) -> Plot<'static> {
    let labels: Vec<String> = p.rows.iter().map(|(l, _)| l.join(" / ")).collect();
    Plot::new("sweep_pivot_chart")
        .legend(Legend::default())
        .allow_scroll(false)
        .include_y(0.0)
        .x_axis_formatter(move |mark, _| {
            let x = mark.value.round();
            if (mark.value - x).abs() > 1e-6 || x < 0.0 {
                return String::new();
            }
            labels.get(x as usize).cloned().unwrap_or_default()
        })
}

fn choice_ui(ui: &mut Ui, table: &SweepTable, choice: &mut SweepChoice) {
    ui.horizontal_wrapped(|ui| {
        let keys = if choice.row_keys.is_empty() {
            "pick…".to_string()
        } else {
            choice.row_keys.join(", ")
        };
        let label = ui.label("Rows");
        ComboBox::from_id_salt("pivot_rows")
            .selected_text(keys)
            .height(400.0)
            .show_ui(ui, |ui| {
                for (name, _) in &table.columns {
                    let mut on = choice.row_keys.contains(name);
                    if ui.checkbox(&mut on, name).changed() {
                        if on {
                            choice.row_keys.push(name.clone());
                        } else {
                            choice.row_keys.retain(|k| k != name);
                        }
                    }
                }
            })
            .response
            .labelled_by(label.id);
        let label = ui.label("Columns");
        ComboBox::from_id_salt("pivot_columns")
            .selected_text(choice.column_key.clone().unwrap_or("(none)".into()))
            .height(400.0)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut choice.column_key, None, "(none)");
                for (name, _) in &table.columns {
                    ui.selectable_value(&mut choice.column_key, Some(name.clone()), name);
                }
            })
            .response
            .labelled_by(label.id);
        let label = ui.label("Metric");
        ComboBox::from_id_salt("pivot_metric")
            .selected_text(&choice.metric)
            .height(400.0)
            .show_ui(ui, |ui| {
                for (name, _) in table.columns.iter().filter(|(_, numeric)| *numeric) {
                    ui.selectable_value(&mut choice.metric, name.clone(), name);
                }
            })
            .response
            .labelled_by(label.id);
        let label = ui.label("Aggregate");
        ComboBox::from_id_salt("pivot_agg")
            .selected_text(choice.agg.name())
            .show_ui(ui, |ui| {
                for a in Agg::ALL {
                    ui.selectable_value(&mut choice.agg, a, a.name());
                }
            })
            .response
            .labelled_by(label.id);
    });
}

fn pivot_table_ui(ui: &mut Ui, p: &Pivot) {
    Grid::new("pivot").striped(true).show(ui, |ui| {
        for k in &p.row_keys {
            ui.label(RichText::new(k).strong());
        }
        for c in &p.columns {
            ui.label(RichText::new(c).strong());
        }
        ui.end_row();
        for (labels, cells) in &p.rows {
            for l in labels {
                ui.label(l);
            }
            for c in cells {
                ui.monospace(fmt_value(*c));
            }
            ui.end_row();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(name: &str) -> SweepTable {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../results/paper/data")
            .join(name);
        SweepTable::read(&path).expect("a committed results file")
    }

    #[test]
    fn the_first_pivot_spreads_the_varying_axes() {
        // Fig. 5: apps × SLO down, systems across; the capacity, not the columns of its search.
        // Its runtime is an axis of one value: left out.
        let fig5 = paper("fig5-pytorch.csv");
        assert_eq!(
            fig5.axes(),
            [
                "app.name",
                "slo.multiplier",
                "policy.kind",
                "serving.runtime"
            ]
        );
        let c = fig5.default_choice("fig5-pytorch.csv");
        assert_eq!(c.row_keys, ["app.name", "slo.multiplier"]);
        assert_eq!(c.column_key.as_deref(), Some("policy.kind"));
        assert_eq!(c.metric, "capacity_rps");
        assert!(fig5.fits(&c));

        // Fig. 7 also sweeps run.duration, over one value: left out.
        let fig7 = paper("fig7-pytorch.csv");
        let c = fig7.default_choice("fig7-pytorch.csv");
        assert_eq!(c.row_keys, ["policy.kind"]);
        assert_eq!(c.column_key.as_deref(), Some("workload.rate_per_s"));
        assert_eq!(c.metric, "goodput_rps");
    }

    #[test]
    fn a_choice_naming_missing_columns_does_not_fit() {
        let fig5 = paper("fig5-pytorch.csv");
        let mut c = fig5.default_choice("fig5-pytorch.csv");
        c.metric = "app".into(); // text, not a metric
        assert!(!fig5.fits(&c));
        c.metric = "no_such_column".into();
        assert!(!fig5.fits(&c));
    }
}
