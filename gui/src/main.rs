//! `infscaler-gui [SCENARIO.toml]`: the infscaler explorer window.

use std::path::PathBuf;
use std::process::ExitCode;

use infscaler_gui::InfscalerApp;

const USAGE: &str = "usage: infscaler-gui [SCENARIO.toml]\n\n\
Opens the infscaler explorer on SCENARIO.toml (default: the scenario of the last session, else \
scenarios/quickstart.toml).";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let scenario = args.next().map(PathBuf::from);
    if args.next().is_some() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    if scenario
        .as_deref()
        .is_some_and(|a| a == "-h" || a == "--help")
    {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("infscaler")
            .with_inner_size([1440.0, 900.0])
            .with_min_inner_size([900.0, 600.0]),
        ..Default::default()
    };
    let result = eframe::run_native(
        "infscaler",
        options,
        Box::new(move |cc| Ok(Box::new(InfscalerApp::new(cc, scenario)))),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("infscaler-gui: {e}");
            if std::env::var_os("DISPLAY").is_none()
                && std::env::var_os("WAYLAND_DISPLAY").is_none()
            {
                eprintln!(
                    "there is no display: on a headless machine run it under Xvfb, e.g. \
                     `xvfb-run -a infscaler-gui` (gui/README.md lists the packages)"
                );
            }
            ExitCode::FAILURE
        }
    }
}
