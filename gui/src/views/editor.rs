//! The left panel: open, pick, save a scenario and edit its key parameters (app, device, memory
//! cap, SLO, workload, seed, duration, policy and its parameters), or its whole TOML text.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use egui::{Color32, ComboBox, DragValue, RichText, TextEdit, Ui};
use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::units::{ByteSize, TimeSpan};
use infscaler_sim::workload::app::BUILTIN_APPS;
use infscaler_sim::workload::arrival::ArrivalSpec;

use super::Command;
use super::toml_form::toml_table_ui;
use crate::document::Document;
use crate::scenario_edit::{
    POLICY_KINDS, WORKLOAD_KINDS, policy_from_params, policy_params, switch_workload, workload_kind,
};

/// Red for errors.
pub const ERROR_COLOR: Color32 = Color32::from_rgb(230, 70, 70);
/// Green for "all good".
pub const OK_COLOR: Color32 = Color32::from_rgb(80, 180, 90);

/// Edit buffers that outlive a frame: text being typed that does not parse yet.
#[derive(Default)]
pub struct EditorBuffers {
    /// TOML of the policy `policy_params` was taken from.
    policy_synced: String,
    /// The policy's parameters being edited.
    policy_params: toml::Table,
    /// Why the edited parameters do not make a policy.
    policy_error: Option<String>,
    /// TOML of the scenario `raw_text` was taken from.
    raw_synced: String,
    /// The whole scenario's TOML being edited.
    raw_text: String,
    /// The Save as path field.
    pub save_as: String,
}

impl EditorBuffers {
    /// Forgets the edited TOML text (it was applied, or the scenario was replaced): the text
    /// shows the scenario again from the next frame.
    pub fn reset_raw(&mut self) {
        self.raw_text.clear();
        self.raw_synced.clear();
    }
}

/// What the editor shows besides the document.
pub struct EditorContext<'a> {
    /// Built-in scenario files.
    pub builtins: &'a [PathBuf],
    /// Which of them is open, if one is.
    pub current_builtin: Option<usize>,
    /// The check of the scenario: `None` while it runs.
    pub check: Option<&'a Result<(), String>>,
}

/// Draws the scenario panel.
pub fn editor_ui(
    ui: &mut Ui,
    doc: Option<&mut Document>,
    path_field: &mut String,
    buffers: &mut EditorBuffers,
    cx: &EditorContext<'_>,
    commands: &mut Vec<Command>,
) {
    file_ui(ui, doc.as_deref(), path_field, buffers, cx, commands);
    let Some(doc) = doc else {
        ui.label(RichText::new("Open a scenario file or pick a built-in one.").weak());
        return;
    };
    ui.separator();
    match cx.check {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("checking…");
            });
        }
        Some(Ok(())) => {
            ui.colored_label(OK_COLOR, "✔ scenario is valid");
        }
        Some(Err(e)) => {
            ui.colored_label(ERROR_COLOR, format!("✖ {e}"));
        }
    }
    ui.separator();
    egui::CollapsingHeader::new("Parameters")
        .default_open(true)
        .show(ui, |ui| parameters_ui(ui, doc));
    egui::CollapsingHeader::new("Serving policy")
        .default_open(true)
        .show(ui, |ui| policy_ui(ui, doc, buffers));
    egui::CollapsingHeader::new("Scenario TOML")
        .default_open(false)
        .show(ui, |ui| raw_toml_ui(ui, doc, buffers, commands));
}

fn file_ui(
    ui: &mut Ui,
    doc: Option<&Document>,
    path_field: &mut String,
    buffers: &mut EditorBuffers,
    cx: &EditorContext<'_>,
    commands: &mut Vec<Command>,
) {
    ui.heading("Scenario");
    ui.horizontal(|ui| {
        let label = ui.label("Scenario file");
        let field = ui
            .add(
                TextEdit::singleline(path_field)
                    .hint_text("path/to/scenario.toml")
                    .desired_width(ui.available_width() - 60.0),
            )
            .labelled_by(label.id);
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Open").clicked() || enter) && !path_field.trim().is_empty() {
            commands.push(Command::Open(PathBuf::from(path_field.trim())));
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("Built-in");
        ComboBox::from_id_salt("builtin_scenarios")
            .selected_text(
                cx.current_builtin
                    .and_then(|i| cx.builtins.get(i))
                    .map_or("pick…".into(), |p| short_path(p)),
            )
            .width(ui.available_width() - 8.0)
            .show_ui(ui, |ui| {
                for (i, path) in cx.builtins.iter().enumerate() {
                    if ui
                        .selectable_label(cx.current_builtin == Some(i), short_path(path))
                        .clicked()
                    {
                        commands.push(Command::Open(path.clone()));
                    }
                }
            })
            .response
            .labelled_by(label.id);
    });
    let Some(doc) = doc else {
        return;
    };
    ui.horizontal(|ui| {
        let file = doc
            .path
            .as_deref()
            .map_or("(no file)".to_string(), |p| p.display().to_string());
        ui.label(RichText::new(file).monospace().small());
        if doc.is_dirty() {
            ui.label(RichText::new("• unsaved").color(Color32::from_rgb(230, 160, 40)));
        }
    });
    ui.horizontal(|ui| {
        if ui
            .add_enabled(doc.path.is_some(), egui::Button::new("Save"))
            .clicked()
        {
            commands.push(Command::Save);
        }
        if ui
            .add_enabled(doc.path.is_some(), egui::Button::new("Revert"))
            .clicked()
        {
            commands.push(Command::Revert);
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("New file");
        ui.add(
            TextEdit::singleline(&mut buffers.save_as)
                .hint_text("new.toml")
                .desired_width(ui.available_width() - 70.0),
        )
        .labelled_by(label.id);
        if ui
            .add_enabled(
                !buffers.save_as.trim().is_empty(),
                egui::Button::new("Save as"),
            )
            .on_hover_text("Save the scenario to this file and go on editing it there")
            .clicked()
        {
            commands.push(Command::SaveAs(PathBuf::from(buffers.save_as.trim())));
        }
    });
}

/// The last two components of a path.
fn short_path(p: &Path) -> String {
    let parts: Vec<String> = p
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

fn parameters_ui(ui: &mut Ui, doc: &mut Document) {
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
    // (the value the text shows, the text, the parse error)
    let (mut from, mut text, mut error) = ui
        .data_mut(|d| d.get_temp::<(String, String, Option<String>)>(id))
        .unwrap_or_else(|| (current.clone(), current.clone(), None));
    if from != current {
        (from, text, error) = (current.clone(), current, None);
    }
    let mut changed = false;
    ui.horizontal(|ui| {
        let r = ui
            .add(
                TextEdit::singleline(&mut text)
                    .hint_text(hint)
                    .desired_width(110.0),
            )
            .labelled_by(label);
        if r.changed() {
            let trimmed = text.trim();
            if trimmed.is_empty() && optional {
                *value = None;
                (from, error, changed) = (String::new(), None, true);
            } else {
                match trimmed.parse::<T>() {
                    Ok(v) => {
                        from = v.to_string();
                        *value = Some(v);
                        (error, changed) = (None, true);
                    }
                    Err(e) => error = Some(e.to_string()),
                }
            }
        }
        if let Some(e) = &error {
            ui.colored_label(ERROR_COLOR, "✖").on_hover_text(e);
        }
    });
    ui.data_mut(|d| d.insert_temp(id, (from, text, error)));
    changed
}

fn policy_ui(ui: &mut Ui, doc: &mut Document, buffers: &mut EditorBuffers) {
    let s = &mut doc.scenario;
    let synced = toml::to_string(&s.policy).unwrap_or_default();
    if synced != buffers.policy_synced {
        buffers.policy_params = policy_params(&s.policy);
        buffers.policy_synced = synced;
        buffers.policy_error = None;
    }
    let kind = s.policy.name();
    ui.horizontal(|ui| {
        let label = ui.label("Policy");
        ComboBox::from_id_salt("policy_kind")
            .selected_text(kind)
            .show_ui(ui, |ui| {
                for k in POLICY_KINDS {
                    if ui.selectable_label(k == kind, k).clicked()
                        && k != kind
                        && let Ok(p) = crate::scenario_edit::default_policy(k)
                    {
                        s.policy = p;
                    }
                }
            })
            .response
            .labelled_by(label.id);
    });
    if s.policy.name() != kind {
        // Switched kinds: the form shows the new policy from the next frame.
        return;
    }
    ui.label(RichText::new(policy_blurb(kind)).small().weak());
    let changed = toml_table_ui(ui, &mut buffers.policy_params, &format!("policy.{kind}"));
    if changed {
        match policy_from_params(kind, buffers.policy_params.clone()) {
            Ok(p) => {
                buffers.policy_synced = toml::to_string(&p).unwrap_or_default();
                s.policy = p;
                buffers.policy_error = None;
            }
            Err(e) => buffers.policy_error = Some(e),
        }
    }
    if let Some(e) = &buffers.policy_error {
        ui.colored_label(ERROR_COLOR, format!("✖ not applied: {e}"));
    }
    if buffers.policy_params.is_empty() {
        ui.label(RichText::new("(every parameter at its default)").weak());
    }
}

/// One line on what a policy is (the README's Policies table, shortened).
fn policy_blurb(kind: &str) -> &'static str {
    match kind {
        "static" => "The deployment written in the scenario: cuts, instances, batching.",
        "infscaler" => {
            "InfScaler: bottleneck-aware partitions, asymmetric scale-out across GPU/DLA/CPU."
        }
        "infless" => {
            "INFless: whole models, per-instance batch/threads/GPU share, LSTH keep-alive."
        }
        "spright" => "SPRIGHT: whole models scaled by Knative's KPA, shared-memory hand-offs.",
        "knative" => "Knative: KPA over InfScaler-style partitions, HTTP, cold starts.",
        _ => "",
    }
}

fn raw_toml_ui(
    ui: &mut Ui,
    doc: &mut Document,
    buffers: &mut EditorBuffers,
    commands: &mut Vec<Command>,
) {
    let current = doc.toml();
    let untouched = buffers.raw_text == buffers.raw_synced;
    if current != buffers.raw_synced && untouched {
        buffers.raw_text = current.clone();
        buffers.raw_synced = current.clone();
    }
    ui.label(
        RichText::new("Everything the form does not show (serving, transport, drain …).")
            .small()
            .weak(),
    );
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!untouched, egui::Button::new("Apply"))
            .clicked()
        {
            commands.push(Command::ApplyToml(buffers.raw_text.clone()));
        }
        if ui
            .add_enabled(!untouched, egui::Button::new("Discard"))
            .clicked()
        {
            buffers.raw_text = current.clone();
            buffers.raw_synced = current;
        }
    });
    egui::ScrollArea::vertical()
        .id_salt("raw_toml")
        .max_height(400.0)
        .show(ui, |ui| {
            let label = ui.label(RichText::new("TOML").small());
            ui.add(
                TextEdit::multiline(&mut buffers.raw_text)
                    .code_editor()
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(label.id);
        });
}
