//! The app: its state, the background jobs it owns ([`jobs`]), its panels ([`panels`]) and the
//! commands the panels emit, applied after each frame is drawn ([`commands`]).

mod commands;
mod jobs;
mod panels;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use egui::Ui;
use infscaler_sim::Report;

use crate::analysis::RunOutcome;
use crate::document::Document;
use crate::runner::Job;
use crate::scenario_edit::{builtin_scenario_dir, scenario_files};
use crate::state::{Draft, UiState};
use crate::views::PlotRects;
use crate::views::compare::{CompareSlot, SlotState};
use crate::views::editor::{EditorBuffers, EditorContext, editor_ui};
use crate::views::partitions::PlanOutcome;
use crate::views::series::SeriesZoom;
use crate::views::sweep_browser::SweepBrowser;

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
    /// A file to open once the user agrees to discard the unsaved edits.
    discard_for: Option<PathBuf>,
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
            discard_for: None,
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

    /// Draws one frame and applies what the user asked for.
    pub fn frame_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        if self.repaint.is_none() {
            self.repaint = Some(ctx.clone());
        }
        self.poll_jobs();
        self.plot_rects.clear();
        let mut commands = Vec::new();

        if self.discard_for.is_none() {
            self.shortcuts_ui(ui, &mut commands);
        }
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
        self.discard_dialog_ui(ui, &mut commands);

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
