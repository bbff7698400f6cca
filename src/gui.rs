//! `infscaler gui`: starts the interactive app, the separate binary `infscaler-gui` (crate
//! `gui/`), so that this binary never links the GUI toolkit.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

/// The GUI's executable name.
const GUI_BINARY: &str = "infscaler-gui";

/// Where to look for the GUI: `INFSCALER_GUI` if set, then beside this executable (where cargo
/// builds and installs both), then on the `PATH`.
fn gui_candidates() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("INFSCALER_GUI") {
        candidates.push(PathBuf::from(path));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join(GUI_BINARY));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(GUI_BINARY)));
    }
    candidates
}

/// Starts the GUI on `scenario` (if given) and waits for it to close.
pub fn run(scenario: Option<&Path>) -> Result<ExitCode> {
    let candidates = gui_candidates();
    let Some(binary) = candidates.iter().find(|p| p.is_file()) else {
        let looked: Vec<String> = candidates
            .iter()
            .take(3)
            .map(|p| format!("  {}", p.display()))
            .collect();
        bail!(
            "the GUI ({GUI_BINARY}) is not built; looked in:\n{}\n  … and the rest of PATH\n\
             build it with `cargo build --release -p infscaler-gui` (beside this binary), or \
             run it directly with `cargo run --release -p infscaler-gui`; INFSCALER_GUI=PATH \
             names another executable",
            looked.join("\n")
        );
    };
    let mut command = Command::new(binary);
    if let Some(path) = scenario {
        command.arg(path);
    }
    let status = command
        .status()
        .with_context(|| format!("starting {}", binary.display()))?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(status.code().map_or(1, |c| c.clamp(1, 255) as u8))
    })
}
