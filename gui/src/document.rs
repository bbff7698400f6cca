//! The scenario being edited: the parsed scenario, the file it belongs to, and its text as last
//! opened or saved, which tells whether there are unsaved edits.

use std::path::{Path, PathBuf};

use infscaler_sim::Scenario;

use crate::scenario_edit::{self, from_toml, to_toml};

/// The scenario being edited.
#[derive(Clone, Debug)]
pub struct Document {
    /// The scenario with the user's edits.
    pub scenario: Scenario,
    /// The file it was opened from or last saved to.
    pub path: Option<PathBuf>,
    /// Its TOML when last opened or saved (empty for a scenario never saved).
    pub saved_toml: String,
}

impl Document {
    /// Opens a scenario file.
    pub fn open(path: &Path) -> Result<Document, String> {
        let scenario = scenario_edit::open(path)?;
        let saved_toml = to_toml(&scenario)?;
        Ok(Document {
            scenario,
            path: Some(path.to_path_buf()),
            saved_toml,
        })
    }

    /// A document from TOML text: the edited text, the file it belongs to and the text last saved
    /// there (the persisted draft of a previous session).
    pub fn from_draft(
        toml: &str,
        path: Option<&Path>,
        saved_toml: &str,
    ) -> Result<Document, String> {
        let (origin, base_dir) = match path {
            Some(p) => (
                p.display().to_string(),
                p.parent().map(Path::to_path_buf).unwrap_or_default(),
            ),
            None => ("<draft>".to_string(), PathBuf::new()),
        };
        Ok(Document {
            scenario: from_toml(toml, &origin, &base_dir)?,
            path: path.map(Path::to_path_buf),
            saved_toml: saved_toml.to_string(),
        })
    }

    /// The scenario's TOML now.
    pub fn toml(&self) -> String {
        to_toml(&self.scenario).unwrap_or_default()
    }

    /// Whether the scenario differs from the file.
    pub fn is_dirty(&self) -> bool {
        self.toml() != self.saved_toml
    }

    /// Replaces the scenario by one parsed from `text` (paths still relative to its file).
    pub fn apply_toml(&mut self, text: &str) -> Result<(), String> {
        let origin = self.scenario.origin.clone();
        let base_dir = self.scenario.base_dir.clone();
        self.scenario = from_toml(text, &origin, &base_dir)?;
        Ok(())
    }

    /// Saves to the document's file.
    pub fn save(&mut self) -> Result<PathBuf, String> {
        let path = self
            .path
            .clone()
            .ok_or_else(|| "this scenario has no file yet: use Save as".to_string())?;
        self.save_as(&path)?;
        Ok(path)
    }

    /// Saves to `path`, which becomes the document's file. Relative paths inside the scenario
    /// (a trace, a measured profile) are written as they are: they resolve against the new file's
    /// directory from now on.
    pub fn save_as(&mut self, path: &Path) -> Result<(), String> {
        self.saved_toml = scenario_edit::save(&self.scenario, path)?;
        self.path = Some(path.to_path_buf());
        self.scenario.origin = path.display().to_string();
        self.scenario.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(())
    }

    /// A short name for titles and export files.
    pub fn name(&self) -> String {
        self.scenario
            .name
            .clone()
            .or_else(|| {
                self.path
                    .as_ref()
                    .and_then(|p| p.file_stem())
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "scenario".into())
    }
}
