//! A form over a TOML table: a checkbox per boolean, a number field per number, a text field per
//! string, a collapsible section per sub-table, and TOML text for arrays. Policies are edited this
//! way, so every parameter of every policy is editable without a form written per policy.

use egui::{Color32, DragValue, TextEdit, Ui};

/// Edits `table` in place; returns whether anything changed.
pub fn toml_table_ui(ui: &mut Ui, table: &mut toml::Table, id_salt: &str) -> bool {
    let mut changed = false;
    egui::Grid::new(id_salt)
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (key, value) in table.iter_mut() {
                if let toml::Value::Table(sub) = value {
                    ui.label(key.as_str());
                    let id = format!("{id_salt}.{key}");
                    egui::CollapsingHeader::new(format!("{} keys", sub.len()))
                        .id_salt(&id)
                        .show(ui, |ui| changed |= toml_table_ui(ui, sub, &id));
                    ui.end_row();
                    continue;
                }
                let label = ui.label(key.as_str());
                let id = ui.make_persistent_id(format!("{id_salt}.{key}"));
                changed |= value_ui(ui, value, id, label.id);
                ui.end_row();
            }
        });
    changed
}

/// One scalar (or an array, as TOML text); `label` names the field for screen readers.
fn value_ui(ui: &mut Ui, value: &mut toml::Value, id: egui::Id, label: egui::Id) -> bool {
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
        other => toml_text_ui(ui, other, id, label),
    }
}

/// An array (or date) edited as its TOML text; the value changes when the text parses.
fn toml_text_ui(ui: &mut Ui, value: &mut toml::Value, id: egui::Id, label: egui::Id) -> bool {
    let current = value.to_string();
    // (the value the text was made from, the text being edited)
    let (mut from, mut text) = ui
        .data_mut(|d| d.get_temp::<(String, String)>(id))
        .unwrap_or_else(|| (current.clone(), current.clone()));
    if from != current {
        from = current.clone();
        text = current.clone();
    }
    let mut changed = false;
    ui.vertical(|ui| {
        let edit = ui
            .add(
                TextEdit::multiline(&mut text)
                    .code_editor()
                    .desired_rows(1)
                    .desired_width(220.0),
            )
            .labelled_by(label);
        if edit.changed() {
            match parse_value(&text) {
                Ok(v) => {
                    from = v.to_string();
                    *value = v;
                    changed = true;
                }
                Err(e) => {
                    ui.colored_label(Color32::from_rgb(220, 60, 60), e);
                }
            }
        }
    });
    ui.data_mut(|d| d.insert_temp(id, (from, text)));
    changed
}

/// A TOML value from its text (`[1, 2]`, `{ gpu = 1 }`, `"x"`, `3.5`).
pub fn parse_value(text: &str) -> Result<toml::Value, String> {
    let table: toml::Table =
        toml::from_str(&format!("v = {text}")).map_err(|e| e.message().to_string())?;
    table
        .get("v")
        .cloned()
        .ok_or_else(|| "no value".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_from_their_toml_text() {
        assert_eq!(parse_value("[5, 13]").unwrap().to_string(), "[5, 13]");
        let v = parse_value("[{ cuts = [80], partitions = [] }]").unwrap();
        assert_eq!(v.as_array().map(Vec::len), Some(1));
        assert!(parse_value("[5,").is_err());
    }
}
