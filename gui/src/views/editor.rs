//! The left panel: open, pick and save a scenario, the check of it, its key parameters
//! ([`super::parameters`]), its policy with every parameter, and its whole TOML text.

use std::path::{Path, PathBuf};

use egui::{Color32, ComboBox, RichText, TextEdit, Ui};

use super::Command;
use super::toml_form::toml_table_ui;
use crate::document::Document;
use crate::scenario_edit::{POLICY_KINDS, policy_from_params, policy_params};

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
        .show(ui, |ui| super::parameters::parameters_ui(ui, doc));
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
