//! The app: its panels, the background jobs it owns, and the commands the panels emit, applied
//! after each frame is drawn.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use egui::{ProgressBar, RichText, Ui};
use infscaler_sim::Report;

use crate::analysis::RunOutcome;
use crate::document::Document;
use crate::export;
use crate::runner::{Job, JobError};
use crate::scenario_edit::{builtin_scenario_dir, scenario_files};
use crate::simulate;
use crate::state::{Draft, UiState, View};
use crate::views::compare::{CompareSlot, SlotState, compare_ui};
use crate::views::editor::{ERROR_COLOR, EditorBuffers, EditorContext, OK_COLOR, editor_ui};
use crate::views::partitions::{Partitions, PlanOutcome, partitions_ui};
use crate::views::sweep_browser::{SweepBrowser, sweep_browser_ui};
use crate::views::{
    Command, PlotRects,
    cdf::cdf_ui,
    empty_ui,
    series::{SeriesZoom, series_ui},
    summary::summary_ui,
    timeline::timeline_ui,
};

/// Where a PNG export went, or why it failed (from the screenshot callback).
type PngResult = Result<PathBuf, String>;

/// How long a scenario must stay unchanged before it is checked.
const CHECK_AFTER: Duration = Duration::from_millis(300);

/// Most messages kept in the message bar.
const MAX_MESSAGES: usize = 6;

/// A line in the message bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// An error (red) or a note.
    pub error: bool,
    /// The text.
    pub text: String,
}

/// The infscaler explorer.
pub struct InfscalerApp {
    state: UiState,
    doc: Option<Document>,
    builtins: Vec<PathBuf>,
    /// The built-ins' canonical paths, to tell which one is open.
    builtins_canonical: Vec<Option<PathBuf>>,
    buffers: EditorBuffers,
    check: Option<Job<()>>,
    checked_toml: String,
    /// An edit not checked yet, and when the scenario last changed.
    check_pending: Option<(String, Instant)>,
    check_result: Option<Result<(), String>>,
    run: Option<Job<RunOutcome>>,
    last: Option<RunOutcome>,
    series_zoom: SeriesZoom,
    compare: Vec<CompareSlot>,
    plan_job: Option<Job<PlanOutcome>>,
    plan: Option<PlanOutcome>,
    show_plan: bool,
    sweep: SweepBrowser,
    messages: Vec<Message>,
    plot_rects: PlotRects,
    png_sender: Sender<PngResult>,
    png_done: Receiver<PngResult>,
    repaint: Option<egui::Context>,
    title: String,
}

impl InfscalerApp {
    /// The app as eframe starts it: the state of the last session (if storage has one), and the
    /// scenario file given on the command line, if any.
    pub fn new(cc: &eframe::CreationContext<'_>, scenario: Option<PathBuf>) -> Self {
        let state = cc
            .storage
            .and_then(|s| eframe::get_value::<UiState>(s, eframe::APP_KEY))
            .unwrap_or_default();
        Self::with_state(state, scenario, Some(cc.egui_ctx.clone()))
    }

    /// The app with a given state. The scenario is `scenario` if given, else the draft of the
    /// state, else the built-in quickstart. `repaint` is woken by background jobs.
    pub fn with_state(
        state: UiState,
        scenario: Option<PathBuf>,
        repaint: Option<egui::Context>,
    ) -> Self {
        let builtins = scenario_files(&builtin_scenario_dir());
        let (png_sender, png_done) = mpsc::channel();
        let mut app = InfscalerApp {
            state,
            doc: None,
            builtins_canonical: builtins.iter().map(|p| p.canonicalize().ok()).collect(),
            builtins,
            buffers: EditorBuffers::default(),
            check: None,
            checked_toml: String::new(),
            check_pending: None,
            check_result: None,
            run: None,
            last: None,
            series_zoom: SeriesZoom::default(),
            compare: Vec::new(),
            plan_job: None,
            plan: None,
            show_plan: false,
            sweep: SweepBrowser::default(),
            messages: Vec::new(),
            plot_rects: PlotRects::new(),
            png_sender,
            png_done,
            repaint,
            title: String::new(),
        };
        if let Some(path) = scenario {
            app.open(&path);
        } else if let Some(draft) = app.state.draft.clone() {
            match Document::from_draft(
                &draft.toml,
                draft.path.as_deref().map(Path::new),
                &draft.saved_toml,
            ) {
                Ok(doc) => app.doc = Some(doc),
                Err(e) => app.error(format!(
                    "the scenario of the last session no longer parses: {e}"
                )),
            }
        } else if let Some(quickstart) = app
            .builtins
            .iter()
            .find(|p| p.ends_with("quickstart.toml"))
            .cloned()
        {
            app.open(&quickstart);
        }
        if !app.state.sweep.path.is_empty() && Path::new(&app.state.sweep.path).is_file() {
            let path = PathBuf::from(&app.state.sweep.path);
            app.sweep.load(path, app.repaint.clone());
        }
        app
    }

    /// The scenario being edited.
    pub fn document(&self) -> Option<&Document> {
        self.doc.as_ref()
    }

    /// The scenario being edited, to change it.
    pub fn document_mut(&mut self) -> Option<&mut Document> {
        self.doc.as_mut()
    }

    /// The report of the last finished run.
    pub fn last_report(&self) -> Option<&Report> {
        self.last.as_ref().map(|o| &o.report)
    }

    /// The comparison's systems and their reports (those finished).
    pub fn compare_reports(&self) -> Vec<(&'static str, Option<&Report>)> {
        self.compare
            .iter()
            .map(|s| (s.kind, s.outcome().map(|o| &o.report)))
            .collect()
    }

    /// Whether a run, a comparison or a file read is under way.
    pub fn is_busy(&self) -> bool {
        self.run.is_some()
            || self.plan_job.is_some()
            || self.sweep.loading.is_some()
            || self
                .compare
                .iter()
                .any(|s| matches!(s.state, SlotState::Running(_)))
    }

    /// The message bar's lines, oldest first.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The persisted state.
    pub fn state(&self) -> &UiState {
        &self.state
    }

    fn error(&mut self, text: impl Into<String>) {
        self.push(Message {
            error: true,
            text: text.into(),
        });
    }

    fn note(&mut self, text: impl Into<String>) {
        self.push(Message {
            error: false,
            text: text.into(),
        });
    }

    fn push(&mut self, m: Message) {
        self.messages.push(m);
        if self.messages.len() > MAX_MESSAGES {
            self.messages.remove(0);
        }
    }

    fn open(&mut self, path: &Path) {
        match Document::open(path) {
            Ok(doc) => {
                self.note(format!("Opened {}", path.display()));
                self.state.scenario_path = path.display().to_string();
                self.doc = Some(doc);
                self.buffers.reset_raw();
            }
            Err(e) => self.error(e),
        }
    }

    // ----- jobs -----------------------------------------------------------------------------

    /// Takes the results of finished jobs and starts a check of the scenario if it changed.
    fn poll_jobs(&mut self) {
        if let Some(job) = &mut self.run
            && let Some(result) = job.poll()
        {
            let label = job.label.clone();
            self.run = None;
            match result {
                Ok(outcome) => {
                    let s = &outcome.report.summary;
                    self.note(format!(
                        "{label}: {} completed, {:.1} req/s in {:.2} s",
                        s.completed, s.throughput_rps, outcome.wall_s
                    ));
                    self.last = Some(outcome);
                    self.series_zoom = SeriesZoom::default();
                    self.show_plan = false;
                }
                Err(JobError::Cancelled) => self.note(format!("{label}: cancelled")),
                Err(JobError::Failed(e)) => self.error(format!("{label} failed: {e}")),
            }
        }
        if let Some(job) = &mut self.plan_job
            && let Some(result) = job.poll()
        {
            self.plan_job = None;
            match result {
                Ok(plan) => {
                    self.plan = Some(plan);
                    self.show_plan = true;
                }
                Err(e) => self.error(format!("plan failed: {e}")),
            }
        }
        let mut finished = Vec::new();
        for slot in &mut self.compare {
            if slot.poll()
                && let SlotState::Failed(e) = &slot.state
                && e != "cancelled"
            {
                finished.push(format!("compare {}: {e}", slot.kind));
            }
        }
        for e in finished {
            self.error(e);
        }
        if let Some(e) = self.sweep.poll(&mut self.state.sweep) {
            self.error(e);
        }
        while let Ok(r) = self.png_done.try_recv() {
            match r {
                Ok(path) => self.note(format!("Saved {}", path.display())),
                Err(e) => self.error(format!("PNG export failed: {e}")),
            }
        }
        if let Some(doc) = &self.doc {
            let toml = doc.toml();
            // Checked once the scenario has stayed the same for CHECK_AFTER (a drag of a number
            // changes it every frame, and a check may read a trace file); at once when a scenario
            // is first opened.
            if toml == self.checked_toml {
                self.check_pending = None;
            } else {
                let now = Instant::now();
                let settled = match &self.check_pending {
                    Some((pending, since)) if *pending == toml => now - *since >= CHECK_AFTER,
                    _ => self.checked_toml.is_empty(),
                };
                if settled {
                    self.check = Some(simulate::start_check(&doc.scenario, self.repaint.clone()));
                    self.checked_toml = toml;
                    self.check_pending = None;
                } else {
                    if self.check_pending.as_ref().is_none_or(|(p, _)| *p != toml) {
                        self.check_pending = Some((toml, now));
                    }
                    if let Some(ctx) = &self.repaint {
                        ctx.request_repaint_after(CHECK_AFTER);
                    }
                }
                self.check_result = None;
            }
        }
        if let Some(job) = &mut self.check
            && let Some(r) = job.poll()
        {
            self.check = None;
            self.check_result = Some(r.map_err(|e| e.to_string()));
        }
    }

    // ----- commands -------------------------------------------------------------------------

    fn apply(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::Open(path) => self.open(&path),
            Command::Save => {
                if let Some(doc) = &mut self.doc {
                    match doc.save() {
                        Ok(path) => self.note(format!("Saved {}", path.display())),
                        Err(e) => self.error(e),
                    }
                }
            }
            Command::SaveAs(path) => {
                if let Some(doc) = &mut self.doc {
                    match doc.save_as(&path) {
                        Ok(()) => {
                            self.state.scenario_path = path.display().to_string();
                            self.note(format!("Saved {}", path.display()));
                        }
                        Err(e) => self.error(e),
                    }
                }
            }
            Command::Revert => {
                if let Some(path) = self.doc.as_ref().and_then(|d| d.path.clone()) {
                    self.open(&path);
                }
            }
            Command::ApplyToml(text) => {
                if let Some(doc) = &mut self.doc {
                    match doc.apply_toml(&text) {
                        Ok(()) => self.buffers.reset_raw(),
                        Err(e) => self.error(e),
                    }
                }
            }
            Command::Run => {
                if let Some(doc) = &self.doc {
                    if let Some(old) = &self.run {
                        old.cancel();
                    }
                    self.run = Some(simulate::start_run(&doc.scenario, self.repaint.clone()));
                    if matches!(self.state.view, View::Compare | View::Sweep) {
                        self.state.view = View::Summary;
                    }
                }
            }
            Command::Compare => {
                if let Some(scenario) = self.doc.as_ref().map(|d| d.scenario.clone()) {
                    self.cancel_compare();
                    self.compare = simulate::start_compare(&scenario, self.repaint.clone())
                        .into_iter()
                        .map(|(kind, job)| CompareSlot {
                            kind,
                            state: SlotState::Running(job),
                        })
                        .collect();
                    self.state.view = View::Compare;
                }
            }
            Command::Plan => {
                if let Some(doc) = &self.doc {
                    self.plan_job = Some(simulate::start_plan(&doc.scenario, self.repaint.clone()));
                }
            }
            Command::ShowPlan(show) => self.show_plan = show,
            Command::Cancel => {
                if let Some(job) = &self.run {
                    job.cancel();
                }
                self.cancel_compare();
            }
            Command::ExportJson => self.export_report("json"),
            Command::ExportCsv => self.export_report("csv"),
            Command::ExportPlot(name) => self.export_plot(ctx, &name),
            Command::LoadSweep(path) => {
                self.state.sweep.path = path.display().to_string();
                self.sweep.load(path, self.repaint.clone());
            }
            Command::Dismiss(i) => {
                if i < self.messages.len() {
                    self.messages.remove(i);
                }
            }
        }
    }

    fn cancel_compare(&mut self) {
        for slot in &self.compare {
            if let SlotState::Running(job) = &slot.state {
                job.cancel();
            }
        }
    }

    fn export_stem(report: &Report) -> String {
        format!("{}-{}-seed{}", report.scenario, report.policy, report.seed)
    }

    fn export_report(&mut self, ext: &str) {
        let Some(report) = self.last_report() else {
            self.error("Nothing to export: run the scenario first");
            return;
        };
        let path = export::export_path(
            Path::new(&self.state.export_dir),
            &Self::export_stem(report),
            ext,
        );
        let result = if ext == "json" {
            export::write_report_json(report, &path)
        } else {
            export::write_report_csv(report, &path)
        };
        match result {
            Ok(()) => self.note(format!("Saved {}", path.display())),
            Err(e) => self.error(e),
        }
    }

    fn export_plot(&mut self, ctx: &egui::Context, name: &str) {
        let Some(&rect) = self.plot_rects.get(name) else {
            self.error(format!("The plot {name} is not on screen"));
            return;
        };
        let stem = match self.last_report() {
            Some(r) if !name.starts_with("sweep") => format!("{}-{name}", Self::export_stem(r)),
            _ => name.to_string(),
        };
        let path = export::export_path(Path::new(&self.state.export_dir), &stem, "png");
        let pixels_per_point = ctx.pixels_per_point();
        let done = self.png_sender.clone();
        let wake = ctx.clone();
        ctx.request_screenshot(move |image| {
            let result =
                export::write_plot_png(&image, rect, pixels_per_point, &path).map(|()| path);
            let _ = done.send(result);
            wake.request_repaint();
        });
    }

    // ----- drawing --------------------------------------------------------------------------

    fn top_bar_ui(&mut self, ui: &mut Ui, commands: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            ui.heading("infscaler explorer");
            ui.separator();
            let has_doc = self.doc.is_some();
            if ui
                .add_enabled(has_doc, egui::Button::new("▶ Run"))
                .on_hover_text("Run the scenario in the background (Ctrl+R)")
                .clicked()
            {
                commands.push(Command::Run);
            }
            if ui
                .add_enabled(has_doc, egui::Button::new("Compare policies"))
                .on_hover_text(
                    "Run InfScaler, INFless, SPRIGHT and Knative (default parameters) on this \
                     scenario with the same seed (Ctrl+Shift+R)",
                )
                .clicked()
            {
                commands.push(Command::Compare);
            }
            let busy = self.run.is_some()
                || self
                    .compare
                    .iter()
                    .any(|s| matches!(s.state, SlotState::Running(_)));
            if ui
                .add_enabled(busy, egui::Button::new("■ Cancel"))
                .clicked()
            {
                commands.push(Command::Cancel);
            }
            if let Some(job) = &self.run {
                let p = job.progress();
                let fraction = p.map_or(0.0, |p| p.fraction) as f32;
                let text = match p {
                    Some(p) => format!(
                        "{:.0} % · simulated {:.0} s · {} arrivals · {:.0} s",
                        fraction * 100.0,
                        p.sim_time_s,
                        p.arrivals,
                        job.elapsed().as_secs_f64()
                    ),
                    None => "starting".into(),
                };
                ui.add(ProgressBar::new(fraction).desired_width(380.0).text(text))
                    .on_hover_text(&job.label);
            } else if self
                .compare
                .iter()
                .any(|s| matches!(s.state, SlotState::Running(_)))
            {
                let fractions: Vec<f64> = self
                    .compare
                    .iter()
                    .map(|s| match &s.state {
                        SlotState::Running(j) => j.progress().map_or(0.0, |p| p.fraction),
                        _ => 1.0,
                    })
                    .collect();
                let f = (fractions.iter().sum::<f64>() / fractions.len().max(1) as f64) as f32;
                ui.add(
                    ProgressBar::new(f)
                        .desired_width(360.0)
                        .text(format!("comparing 4 systems · {:.0} %", f * 100.0)),
                );
            }
            ui.separator();
            let has_report = self.last.is_some();
            ui.label("Export report:");
            if ui
                .add_enabled(has_report, egui::Button::new("JSON"))
                .clicked()
            {
                commands.push(Command::ExportJson);
            }
            if ui
                .add_enabled(has_report, egui::Button::new("CSV"))
                .clicked()
            {
                commands.push(Command::ExportCsv);
            }
            let label = ui.label("to");
            ui.add(egui::TextEdit::singleline(&mut self.state.export_dir).desired_width(110.0))
                .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            for view in View::ALL {
                ui.selectable_value(&mut self.state.view, view, view.title());
            }
        });
    }

    fn messages_ui(&self, ui: &mut Ui, commands: &mut Vec<Command>) {
        for (i, m) in self.messages.iter().enumerate().rev() {
            ui.horizontal(|ui| {
                if ui.small_button("✖").on_hover_text("Dismiss").clicked() {
                    commands.push(Command::Dismiss(i));
                }
                let color = if m.error { ERROR_COLOR } else { OK_COLOR };
                ui.label(RichText::new(&m.text).color(color));
            });
        }
    }

    fn view_ui(&mut self, ui: &mut Ui, commands: &mut Vec<Command>) {
        let rects = &mut self.plot_rects;
        let options = &mut self.state.plots;
        match self.state.view {
            View::Compare => compare_ui(ui, &self.compare, rects, commands),
            View::Sweep => {
                sweep_browser_ui(ui, &mut self.sweep, &mut self.state.sweep, rects, commands)
            }
            View::Partitions => {
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(self.doc.is_some(), egui::Button::new("Plan"))
                        .on_hover_text(
                            "Work out the deployment the policy chooses for the edited scenario, \
                             without running it",
                        )
                        .clicked()
                    {
                        commands.push(Command::Plan);
                    }
                    if self.plan_job.is_some() {
                        ui.spinner();
                    }
                    if self.plan.is_some() && self.last.is_some() {
                        ui.separator();
                        if ui.selectable_label(!self.show_plan, "last run").clicked() {
                            commands.push(Command::ShowPlan(false));
                        }
                        if ui.selectable_label(self.show_plan, "plan").clicked() {
                            commands.push(Command::ShowPlan(true));
                        }
                    }
                });
                let view = match (&self.plan, &self.last) {
                    (Some(plan), _) if self.show_plan || self.last.is_none() => {
                        Partitions::of_plan(plan)
                    }
                    (_, Some(outcome)) => Partitions::of_run(outcome),
                    _ => {
                        empty_ui(
                            ui,
                            "Press Plan to see the partitions the policy chooses, or ▶ Run.",
                        );
                        return;
                    }
                };
                partitions_ui(ui, &view, options, rects, commands);
            }
            view => {
                let Some(outcome) = &self.last else {
                    let text = if self.run.is_some() {
                        "Running…"
                    } else {
                        "Press ▶ Run to simulate the scenario."
                    };
                    empty_ui(ui, text);
                    return;
                };
                match view {
                    View::Summary => {
                        egui::ScrollArea::vertical().show(ui, |ui| summary_ui(ui, outcome));
                    }
                    View::Timeline => timeline_ui(ui, outcome, rects, commands),
                    View::Series => {
                        series_ui(ui, outcome, options, &mut self.series_zoom, rects, commands)
                    }
                    View::Cdf => cdf_ui(ui, outcome, options, rects, commands),
                    View::Compare | View::Sweep | View::Partitions => {}
                }
            }
        }
    }

    /// Ctrl+R runs, Ctrl+Shift+R compares, Ctrl+S saves, Escape cancels.
    fn shortcuts(&self, ui: &mut Ui, commands: &mut Vec<Command>) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let shortcuts = [
            (
                KeyboardShortcut::new(Modifiers::COMMAND | Modifiers::SHIFT, Key::R),
                Command::Compare,
            ),
            (
                KeyboardShortcut::new(Modifiers::COMMAND, Key::R),
                Command::Run,
            ),
            (
                KeyboardShortcut::new(Modifiers::COMMAND, Key::S),
                Command::Save,
            ),
            (
                KeyboardShortcut::new(Modifiers::NONE, Key::Escape),
                Command::Cancel,
            ),
        ];
        for (shortcut, command) in shortcuts {
            if ui.input_mut(|i| i.consume_shortcut(&shortcut)) {
                commands.push(command);
            }
        }
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let title = match &self.doc {
            Some(d) => format!(
                "infscaler — {}{}",
                d.name(),
                if d.is_dirty() { " •" } else { "" }
            ),
            None => "infscaler".into(),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    /// Draws one frame and applies what the user asked for.
    pub fn frame_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        if self.repaint.is_none() {
            self.repaint = Some(ctx.clone());
        }
        self.poll_jobs();
        self.plot_rects.clear();
        let mut commands = Vec::new();

        self.shortcuts(ui, &mut commands);
        egui::Panel::top("top_bar").show(ui, |ui| {
            self.top_bar_ui(ui, &mut commands);
        });
        if !self.messages.is_empty() {
            egui::Panel::bottom("messages").show(ui, |ui| {
                self.messages_ui(ui, &mut commands);
            });
        }
        egui::Panel::left("editor")
            .resizable(true)
            .default_size(360.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    let open = self
                        .doc
                        .as_ref()
                        .and_then(|d| d.path.as_ref())
                        .and_then(|p| p.canonicalize().ok());
                    let cx = EditorContext {
                        builtins: &self.builtins,
                        current_builtin: open.and_then(|open| {
                            self.builtins_canonical
                                .iter()
                                .position(|c| c.as_ref() == Some(&open))
                        }),
                        check: if self.check.is_some() {
                            None
                        } else {
                            self.check_result.as_ref()
                        },
                    };
                    editor_ui(
                        ui,
                        self.doc.as_mut(),
                        &mut self.state.scenario_path,
                        &mut self.buffers,
                        &cx,
                        &mut commands,
                    );
                });
            });
        egui::CentralPanel::default().show(ui, |ui| self.view_ui(ui, &mut commands));

        for c in commands {
            self.apply(&ctx, c);
        }
        self.update_title(&ctx);
        if self.is_busy() {
            // Keep the progress bar moving even between the workers' own repaint requests.
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }
}

impl eframe::App for InfscalerApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.state.draft = self.doc.as_ref().map(|d| Draft {
            toml: d.toml(),
            path: d.path.as_ref().map(|p| p.display().to_string()),
            saved_toml: d.saved_toml.clone(),
        });
        eframe::set_value(storage, eframe::APP_KEY, &self.state);
    }
}
