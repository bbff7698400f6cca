//! `infscaler gui`: starts the interactive app, the separate binary `infscaler-gui` (crate
//! `gui/`), so that this binary never links the GUI toolkit.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

/// The GUI's executable name.
const GUI_BINARY: &str = "infscaler-gui";

/// The GUI's executable: `INFSCALER_GUI` if set (it must name a file), else the first of
/// beside this executable (where cargo builds and installs both) and each folder of the `PATH`.
fn find_gui() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("INFSCALER_GUI") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("INFSCALER_GUI={}: no such file", path.display());
        }
        return Ok(path);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(GUI_BINARY)));
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|dir| dir.join(GUI_BINARY))
                .collect()
        })
        .unwrap_or_default();
    if let Some(found) = beside.iter().chain(&on_path).find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    bail!(
        "the GUI ({GUI_BINARY}) is not built: it is neither beside this binary ({}) nor on the \
         PATH.\nBuild it there with `cargo build --release -p infscaler-gui`, run it directly with \
         `cargo run --release -p infscaler-gui`, or name it with INFSCALER_GUI=PATH",
        beside.map_or_else(|| "?".to_string(), |p| p.display().to_string())
    )
}

/// Starts the GUI on `scenario` (if given) and waits for it to close.
pub fn run(scenario: Option<&Path>) -> Result<ExitCode> {
    let binary = find_gui()?;
    let mut command = Command::new(&binary);
    if let Some(path) = scenario {
        command.arg(path);
    }
    let status = command
        .status()
        .with_context(|| format!("starting {}", binary.display()))?;
    // The GUI's own exit status, so that scripts see its failures.
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(status.code().map_or(1, |c| c.clamp(1, 255) as u8))
    })
}
