//! A form over a TOML table: a checkbox per boolean, a number field per number, a text field per
//! string, a collapsible section per sub-table, and TOML text for arrays (a static deployment's
//! `[[stages]]` reads as it would in the scenario file). Policies are edited this way, so every
//! parameter of every policy is editable without a form written per policy.

use egui::{Color32, DragValue, RichText, TextEdit, Ui};

use super::ParsedText;

/// Edits `table` in place; returns whether anything changed.
pub fn toml_table_ui(ui: &mut Ui, table: &mut toml::Table, id_salt: &str) -> bool {
    let mut changed = false;
    egui::Grid::new(id_salt)
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (key, value) in table.iter_mut() {
                if matches!(value, toml::Value::Array(_) | toml::Value::Table(_)) {
                    continue;
                }
                let label = ui.label(key.as_str());
                changed |= scalar_ui(ui, value, label.id);
                ui.end_row();
            }
        });
    for (key, value) in table.iter_mut() {
        let id = format!("{id_salt}.{key}");
        match value {
            toml::Value::Table(sub) => {
                egui::CollapsingHeader::new(key.as_str())
                    .id_salt(&id)
                    .default_open(true)
                    .show(ui, |ui| changed |= toml_table_ui(ui, sub, &id));
            }
            toml::Value::Array(_) => {
                let label = ui.label(RichText::new(key.as_str()).strong());
                let id = ui.make_persistent_id(&id);
                changed |= toml_text_ui(ui, key, value, id, label.id);
            }
            _ => {}
        }
    }
    changed
}

/// One scalar; `label` names the field for screen readers.
fn scalar_ui(ui: &mut Ui, value: &mut toml::Value, label: egui::Id) -> bool {
    match value {
        toml::Value::Boolean(b) => ui.checkbox(b, "").labelled_by(label).changed(),
        toml::Value::Integer(i) => ui
            .add(DragValue::new(i).speed(0.1))
            .labelled_by(label)
            .changed(),
        toml::Value::Float(x) => {
            let speed = (x.abs() * 0.01).max(0.001);
            ui.add(DragValue::new(x).speed(speed).max_decimals(6))
                .labelled_by(label)
                .changed()
        }
        toml::Value::String(s) => ui
            .add(TextEdit::singleline(s).desired_width(140.0))
            .labelled_by(label)
            .changed(),
        other => {
            ui.label(other.to_string());
            false
        }
    }
}

/// An array edited as the TOML it is in a file (`key = [...]`, or `[[key]]` tables); the value
/// changes when the text parses, and the parser's complaint shows until it does.
fn toml_text_ui(
    ui: &mut Ui,
    key: &str,
    value: &mut toml::Value,
    id: egui::Id,
    label: egui::Id,
) -> bool {
    let current = to_text(key, value);
    let mut field = ParsedText::load(ui, id, current);
    let mut changed = false;
    let edit = ui
        .add(
            TextEdit::multiline(&mut field.text)
                .code_editor()
                .desired_rows(2)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label);
    if edit.changed() {
        match parse_entry(key, &field.text) {
            Ok(v) => {
                field.from = to_text(key, &v);
                *value = v;
                (field.error, changed) = (None, true);
            }
            Err(e) => field.error = Some(e),
        }
    }
    if let Some(e) = &field.error {
        ui.colored_label(Color32::from_rgb(230, 70, 70), e);
    }
    field.store(ui, id);
    changed
}

/// `key` and its value as a TOML document (`key = [1, 2]`, or `[[key]]` sections).
pub fn to_text(key: &str, value: &toml::Value) -> String {
    let mut t = toml::Table::new();
    t.insert(key.to_string(), value.clone());
    toml::to_string(&t).unwrap_or_else(|_| format!("{key} = {value}"))
}

/// The value of `key` in a TOML document.
pub fn parse_entry(key: &str, text: &str) -> Result<toml::Value, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    if table.len() > 1 {
        let others: Vec<&String> = table.keys().filter(|k| *k != key).collect();
        return Err(format!("only `{key}` belongs here, not {others:?}"));
    }
    table
        .remove(key)
        .ok_or_else(|| format!("give `{key}` (e.g. `{key} = []`)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip_through_their_toml_text() {
        let cuts = toml::Value::Array(vec![5.into(), 13.into()]);
        let text = to_text("cuts", &cuts);
        assert_eq!(text.trim(), "cuts = [5, 13]");
        assert_eq!(parse_entry("cuts", &text).unwrap(), cuts);

        let stages: toml::Table = toml::from_str(
            "[[stages]]\ncuts = [80]\n[[stages.partitions]]\ninstances = { gpu = 1 }\n",
        )
        .unwrap();
        let stages = stages["stages"].clone();
        let text = to_text("stages", &stages);
        assert!(text.contains("[[stages]]"), "{text}");
        assert_eq!(parse_entry("stages", &text).unwrap(), stages);
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!(parse_entry("cuts", "cuts = [5,").is_err());
        assert!(parse_entry("cuts", "").unwrap_err().contains("give `cuts`"));
        assert!(parse_entry("cuts", "cuts = [1]\nother = 2").is_err());
    }
}
