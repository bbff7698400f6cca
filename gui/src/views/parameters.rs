//! The form of a scenario's key parameters: name, app, device and memory cap, SLO, workload,
//! seed and run length. Fields with units are text that must parse (`"60s"`, `"8GiB"`).

use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;

use egui::{ComboBox, DragValue, TextEdit, Ui};
use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::units::{ByteSize, TimeSpan};
use infscaler_sim::workload::ArrivalSpec;
use infscaler_sim::workload::app::BUILTIN_APPS;

use super::ParsedText;
use super::editor::ERROR_COLOR;
use crate::document::Document;
use crate::scenario_edit::{WORKLOAD_KINDS, switch_workload, workload_kind};

/// The key parameters of the scenario as a form.
pub fn parameters_ui(ui: &mut Ui, doc: &mut Document) {
    let s = &mut doc.scenario;
    egui::Grid::new("parameters")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let label = ui.label("Name");
            let mut name = s.name.clone().unwrap_or_default();
            if ui
                .add(TextEdit::singleline(&mut name).desired_width(160.0))
                .labelled_by(label.id)
                .changed()
            {
                s.name = (!name.is_empty()).then_some(name);
            }
            ui.end_row();

            let label = ui.label("App");
            app_ui(ui, s, label.id);
            ui.end_row();

            let label = ui.label("Device");
            let mut builtin = DeviceProfile::builtin_names().contains(&s.device.profile.as_str());
            ui.horizontal(|ui| {
                ComboBox::from_id_salt("device_profile")
                    .selected_text(if builtin {
                        s.device.profile.clone()
                    } else {
                        "file…".into()
                    })
                    .show_ui(ui, |ui| {
                        for name in DeviceProfile::builtin_names() {
                            ui.selectable_value(&mut s.device.profile, name.to_string(), *name);
                        }
                        if ui.selectable_label(!builtin, "profile file…").clicked() && builtin {
                            s.device.profile = "hwprofiles/".into();
                            builtin = false;
                        }
                    })
                    .response
                    .labelled_by(label.id);
            });
            ui.end_row();
            if !builtin {
                let label = ui.label("Profile file");
                ui.add(TextEdit::singleline(&mut s.device.profile).desired_width(160.0))
                    .labelled_by(label.id);
                ui.end_row();
            }

            let label = ui.label("Memory cap");
            parsed_field_ui::<ByteSize>(
                ui,
                "memory_cap",
                &mut s.device.memory_cap,
                true,
                "device's",
                label.id,
            );
            ui.end_row();

            slo_ui(ui, s);

            workload_ui(ui, &mut s.workload);

            let label = ui.label("Seed");
            let mut seed = Some(s.seed);
            if parsed_field_ui(ui, "seed", &mut seed, false, "1", label.id)
                && let Some(seed) = seed
            {
                s.seed = seed;
            }
            ui.end_row();

            let label = ui.label("Duration");
            parsed_field_ui::<TimeSpan>(ui, "duration", &mut s.run.duration, true, "60s", label.id);
            ui.end_row();

            let label = ui.label("Max requests");
            parsed_field_ui::<u64>(
                ui,
                "max_requests",
                &mut s.run.max_requests,
                true,
                "none",
                label.id,
            );
            ui.end_row();

            let label = ui.label("Warm-up");
            let mut warmup = Some(s.run.warmup);
            if parsed_field_ui(ui, "warmup", &mut warmup, false, "0s", label.id)
                && let Some(w) = warmup
            {
                s.run.warmup = w;
            }
            ui.end_row();
        });
}

fn app_ui(ui: &mut Ui, s: &mut infscaler_sim::Scenario, label: egui::Id) {
    if let Some(stages) = &s.app.stages {
        ui.label(format!("stages: {}", stages.join(" -> ")))
            .on_hover_text("An explicit pipeline: edit it in the scenario TOML");
        return;
    }
    let current = s.app.name.clone().unwrap_or_default();
    ComboBox::from_id_salt("app")
        .selected_text(&current)
        .show_ui(ui, |ui| {
            for app in BUILTIN_APPS {
                let r = ui
                    .selectable_label(current == app.name, app.name)
                    .on_hover_text(format!("{} ({})", app.description, app.stages.join(" -> ")));
                if r.clicked() {
                    s.app.name = Some(app.name.to_string());
                }
            }
            ui.separator();
            for model in infscaler_sim::model::zoo::names() {
                if ui.selectable_label(current == model, model).clicked() {
                    s.app.name = Some(model.to_string());
                }
            }
        })
        .response
        .labelled_by(label);
}

fn slo_ui(ui: &mut Ui, s: &mut infscaler_sim::Scenario) {
    if let Some(per_request) = s.slo.per_request {
        ui.label("SLO");
        ui.horizontal(|ui| {
            ui.label(format!("per request: {per_request}"));
            if ui
                .button("one for all")
                .on_hover_text("One objective for every request: 2 × the isolated latency")
                .clicked()
            {
                s.slo.per_request = None;
                s.slo.multiplier = Some(2.0);
            }
        });
        ui.end_row();
        return;
    }
    if let Some(level) = s.slo.level {
        ui.label("SLO");
        ui.horizontal(|ui| {
            ui.label(format!("{level:?} ({} ×)", level.multiplier()).to_lowercase());
            if ui
                .button("as a multiplier")
                .on_hover_text("Edit the level's multiplier of the isolated latency")
                .clicked()
            {
                s.slo.level = None;
                s.slo.multiplier = Some(level.multiplier());
            }
        });
        ui.end_row();
        return;
    }
    let label = ui.label("SLO multiplier");
    ui.horizontal(|ui| {
        let mut absolute = s.slo.latency.is_some();
        if let Some(m) = &mut s.slo.multiplier {
            ui.add(
                DragValue::new(m)
                    .speed(0.05)
                    .range(0.1..=100.0)
                    .suffix(" ×"),
            )
            .labelled_by(label.id);
        }
        if ui
            .checkbox(&mut absolute, "absolute")
            .on_hover_text("An absolute latency instead of a multiple of the isolated latency")
            .changed()
        {
            if absolute {
                s.slo.multiplier = None;
                s.slo.latency = Some("100ms".parse().unwrap_or_default());
            } else {
                s.slo.latency = None;
                s.slo.multiplier = Some(2.0);
            }
        }
    });
    ui.end_row();
    if s.slo.latency.is_some() {
        let label = ui.label("SLO latency");
        parsed_field_ui::<TimeSpan>(
            ui,
            "slo_latency",
            &mut s.slo.latency,
            false,
            "100ms",
            label.id,
        );
        ui.end_row();
    }
}

fn workload_ui(ui: &mut Ui, w: &mut ArrivalSpec) {
    let label = ui.label("Workload");
    let kind = workload_kind(w);
    ComboBox::from_id_salt("workload_kind")
        .selected_text(kind)
        .show_ui(ui, |ui| {
            for k in WORKLOAD_KINDS {
                if ui.selectable_label(k == kind, k).clicked()
                    && let Ok(new) = switch_workload(w, k)
                {
                    *w = new;
                }
            }
        })
        .response
        .labelled_by(label.id);
    ui.end_row();
    let number = |ui: &mut Ui, name: &str, x: &mut f64, suffix: &str| {
        let label = ui.label(name);
        let speed = (x.abs() * 0.01).max(0.01);
        ui.add(
            DragValue::new(x)
                .speed(speed)
                .range(0.0..=f64::MAX)
                .suffix(suffix),
        )
        .labelled_by(label.id);
        ui.end_row();
    };
    match w {
        ArrivalSpec::Constant { rate_per_s } | ArrivalSpec::Poisson { rate_per_s } => {
            number(ui, "Rate", rate_per_s, " req/s");
        }
        ArrivalSpec::Mmpp {
            rate_high_per_s,
            rate_low_per_s,
            mean_high_s,
            mean_low_s,
        } => {
            number(ui, "High rate", rate_high_per_s, " req/s");
            number(ui, "Low rate", rate_low_per_s, " req/s");
            number(ui, "Mean high time", mean_high_s, " s");
            number(ui, "Mean low time", mean_low_s, " s");
        }
        ArrivalSpec::Trace(t) => {
            trace_path_ui(ui, &mut t.path);
            let mut scale = t.rate_scale.unwrap_or(1.0);
            number(ui, "Rate scale", &mut scale, " ×");
            t.rate_scale = (scale != 1.0).then_some(scale);
            ui.label("Loop");
            ui.checkbox(&mut t.loop_trace, "replay again when done");
            ui.end_row();
        }
        ArrivalSpec::AzureFunctions(a) => {
            trace_path_ui(ui, &mut a.path);
            let mut scale = a.rate_scale.unwrap_or(1.0);
            number(ui, "Rate scale", &mut scale, " ×");
            a.rate_scale = (scale != 1.0).then_some(scale);
            ui.label("Loop");
            ui.checkbox(&mut a.loop_trace, "replay again when done");
            ui.end_row();
        }
    }
}

fn trace_path_ui(ui: &mut Ui, path: &mut PathBuf) {
    let label = ui.label("Trace file");
    let mut text = path.display().to_string();
    if ui
        .add(TextEdit::singleline(&mut text).desired_width(160.0))
        .labelled_by(label.id)
        .on_hover_text("Relative to the scenario file's directory")
        .changed()
    {
        *path = PathBuf::from(text);
    }
    ui.end_row();
}

/// A text field for a value with a text form (`"60s"`, `"16GiB"`, a seed): the value changes
/// when the text parses; until then the text stays as typed, with the parser's complaint beside
/// it. Empty text is `None` when `optional`. Returns whether the value changed.
fn parsed_field_ui<T>(
    ui: &mut Ui,
    id_salt: &str,
    value: &mut Option<T>,
    optional: bool,
    hint: &str,
    label: egui::Id,
) -> bool
where
    T: FromStr + Display,
    T::Err: Display,
{
    let id = ui.make_persistent_id(("parsed_field", id_salt));
    let current = value.as_ref().map(ToString::to_string).unwrap_or_default();
    let mut field = ParsedText::load(ui, id, current);
    let ParsedText { from, text, error } = &mut field;
    let mut changed = false;
    ui.horizontal(|ui| {
        let r = ui
            .add(
                TextEdit::singleline(text)
                    .hint_text(hint)
                    .desired_width(110.0),
            )
            .labelled_by(label);
        if r.changed() {
            let trimmed = text.trim();
            if trimmed.is_empty() && optional {
                *value = None;
                (*from, *error, changed) = (String::new(), None, true);
            } else {
                match trimmed.parse::<T>() {
                    Ok(v) => {
                        *from = v.to_string();
                        *value = Some(v);
                        (*error, changed) = (None, true);
                    }
                    Err(e) => *error = Some(e.to_string()),
                }
            }
        }
        if let Some(e) = error {
            ui.colored_label(ERROR_COLOR, "✖").on_hover_text(e.as_str());
        }
    });
    field.store(ui, id);
    changed
}
