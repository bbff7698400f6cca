//! The app driven headless through its accessibility tree (egui_kittest): what a user clicks and
//! types, and what they then see. Background runs are waited for by stepping the harness until the
//! app is idle, with a bound on the number of steps; nothing asserts on wall time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use egui::accesskit::Role;
use egui_kittest::kittest::{By, NodeT, Queryable};
use egui_kittest::{Harness, Node};
use infscaler_gui::InfscalerApp;
use infscaler_gui::state::{UiState, View};

/// Most frames a test waits for background work (each frame sleeps 20 ms: a two-minute bound).
const MAX_WAIT_STEPS: usize = 6000;

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("infscaler-gui-tests-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// The built-in quickstart scenario with a short run (2 s of simulated time), written to `dir`.
fn short_scenario(dir: &Path) -> PathBuf {
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/quickstart.toml");
    let text = std::fs::read_to_string(quickstart).expect("quickstart.toml");
    let text = text
        .replace("duration = \"30s\"", "duration = \"2s\"")
        .replace("warmup = \"2s\"", "warmup = \"200ms\"");
    assert!(
        text.contains("duration = \"2s\""),
        "quickstart changed shape"
    );
    let path = dir.join("short.toml");
    std::fs::write(&path, text).expect("write the scenario");
    path
}

/// Example `name` with 3 s of arrivals after a 200 ms warm-up (from 60 s and 2 s) and the
/// `edits` (each must apply), written to `dir`.
fn shortened_example(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/examples/{name}.toml"));
    let mut text = std::fs::read_to_string(example).expect("the example");
    let short = [
        ("duration = \"60s\"", "duration = \"3s\""),
        ("warmup = \"2s\"", "warmup = \"200ms\""),
    ];
    for (from, to) in short.iter().chain(edits) {
        assert!(text.contains(from), "{name} changed shape: no {from}");
        text = text.replacen(from, to, 1);
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write the scenario");
    path
}

/// The app on `scenario` after a click on Run and the run's end.
fn run_to_end(scenario: PathBuf) -> Harness<'static, InfscalerApp> {
    let mut h = harness(Some(scenario));
    h.run_steps(2);
    h.get_by_label("▶ Run").click();
    h.step();
    wait_idle(&mut h);
    h
}

fn harness(scenario: Option<PathBuf>) -> Harness<'static, InfscalerApp> {
    Harness::builder()
        .with_size([1500.0, 950.0])
        .build_eframe(move |cc| {
            InfscalerApp::with_state(UiState::default(), scenario, Some(cc.egui_ctx.clone()))
        })
}

/// Picks `kind` from the Policy menu.
fn pick_policy(h: &mut Harness<'_, InfscalerApp>, kind: &str) {
    h.get_by_label("Policy").click();
    h.run_steps(2);
    h.get_by_label(kind).click();
    h.run_steps(2);
}

/// Steps until no background work is left (runs, comparisons, file reads), then a few frames
/// more so that the results are drawn.
fn wait_idle(h: &mut Harness<'_, InfscalerApp>) {
    for _ in 0..MAX_WAIT_STEPS {
        h.step();
        if !h.state().is_busy() {
            h.run_steps(3);
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("background work did not finish within {MAX_WAIT_STEPS} frames");
}

/// The text of a label node.
fn text(n: &Node<'_>) -> String {
    n.accesskit_node()
        .value()
        .or_else(|| n.accesskit_node().label())
        .unwrap_or_default()
}

/// The text of the first label after the label `name` in the tree: the value beside a name in
/// a two-column grid.
fn value_after(h: &Harness<'_, InfscalerApp>, name: &str) -> String {
    let labels: Vec<String> = h
        .query_all(By::new().role(Role::Label))
        .map(|n| text(&n))
        .collect();
    let i = labels
        .iter()
        .position(|l| l == name)
        .unwrap_or_else(|| panic!("no label {name:?} among {labels:?}"));
    labels
        .get(i + 1)
        .cloned()
        .unwrap_or_else(|| panic!("nothing after {name:?}"))
}

#[test]
fn pick_a_policy_run_and_see_a_summary_with_throughput() {
    let dir = scratch("run");
    let mut h = harness(Some(short_scenario(&dir)));
    h.run_steps(2);
    assert_eq!(
        h.state().document().map(|d| d.scenario.policy.name()),
        Some("static")
    );

    pick_policy(&mut h, "infscaler");
    assert_eq!(
        h.state().document().map(|d| d.scenario.policy.name()),
        Some("infscaler"),
        "picking from the Policy menu changes the scenario"
    );

    h.get_by_label("▶ Run").click();
    h.step();
    assert!(h.state().is_busy(), "the run goes to the background");
    wait_idle(&mut h);

    let report = h.state().last_report().expect("the run finished");
    assert_eq!(report.policy, "infscaler");
    let shown: f64 = value_after(&h, "Throughput (req/s)")
        .parse()
        .expect("a number beside the throughput");
    assert!(shown > 0.0, "throughput shown: {shown}");
    assert!((shown - report.summary.throughput_rps).abs() <= 0.05 * shown);
    let completed: u64 = value_after(&h, "Completed").parse().expect("a count");
    assert!(completed > 0);
    assert_eq!(completed, report.summary.completed);

    // The other views draw from the same run without trouble.
    for view in ["Timeline", "Time series", "Latency CDF", "Partitions"] {
        h.get_by_label(view).click();
        h.run_steps(2);
    }
    assert_eq!(h.state().state().view, View::Partitions);
    assert!(
        h.query_by_label_contains("Stage 1: resnet50").is_some(),
        "the partition view shows the second stage"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn interference_windows_show_in_the_summary_and_the_time_plots() {
    let dir = scratch("interference");
    let path = shortened_example(
        &dir,
        "interference-gpu",
        &[(
            "start = \"15s\", duration = \"10s\", period = \"30s\"",
            "start = \"1s\", duration = \"1s\", period = \"30s\"",
        )],
    );
    let mut h = run_to_end(path);
    let report = h.state().last_report().expect("the run finished");
    assert_eq!(report.interference[0].windows_s, [[1.0, 2.0]]);
    assert_eq!(
        value_after(&h, "Interference"),
        "0.7 of gpu: 1 window(s), 1.0 s"
    );
    // The time plots draw the windows without trouble.
    for view in ["Timeline", "Time series"] {
        h.get_by_label(view).click();
        h.run_steps(2);
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn each_stream_has_a_row_in_the_summary() {
    let dir = scratch("streams");
    let path = shortened_example(&dir, "streams-xavier", &[]);
    let h = run_to_end(path);
    let report = h.state().last_report().expect("the run finished");
    assert_eq!(report.streams.len(), 2);
    // The streams' table: a row per stream, its objective next to its name.
    assert_eq!(value_after(&h, "detector"), "150");
    let own_slo = report.streams[0].slo_ms;
    assert!(own_slo > 0.0 && own_slo < 150.0, "{own_slo}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn streams_on_places_plot_each_stream_over_time_and_compare_accordion_with_its_baselines() {
    let dir = scratch("accordion");
    let path = shortened_example(&dir, "accordion-server", &[]);
    let mut h = run_to_end(path);
    let report = h.state().last_report().expect("the run finished");
    assert_eq!(report.streams.len(), 3);
    let points = &report.summary.series.as_ref().expect("a series").points;
    assert!(points.iter().all(|p| p.streams.len() == 3));
    h.get_by_label("Time series").click();
    h.run_steps(2);
    for heading in [
        "Goodput per stream",
        "SLO violations per stream",
        "p99 latency per stream",
    ] {
        assert!(h.query_by_label(heading).is_some(), "no plot {heading}");
    }
    h.get_by_label("Compare policies").click();
    h.step();
    wait_idle(&mut h);
    let rows = h.state().compare_reports();
    let kinds: Vec<&str> = rows.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        ["accordion", "slo_conforming", "fastest", "bbs", "one_stage"]
    );
    for (kind, report) in &rows {
        let report = report.unwrap_or_else(|| panic!("{kind} did not finish"));
        assert_eq!(report.streams.len(), 3, "{kind}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn compare_runs_the_four_systems_side_by_side() {
    let dir = scratch("compare");
    let mut h = harness(Some(short_scenario(&dir)));
    h.run_steps(2);
    h.get_by_label("Compare policies").click();
    h.step();
    assert_eq!(h.state().state().view, View::Compare);
    wait_idle(&mut h);

    let rows = h.state().compare_reports();
    let kinds: Vec<&str> = rows.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, ["infscaler", "infless", "spright", "knative"]);
    for (kind, report) in &rows {
        let report = report.unwrap_or_else(|| panic!("{kind} did not finish"));
        assert_eq!(report.policy, *kind);
        assert_eq!(report.seed, 1, "same seed for every system");
        assert!(report.summary.arrivals > 0);
    }
    // Four rows in the table, one per system (the plots' legends name them too), each finished.
    for kind in kinds {
        assert!(
            h.query_all_by_label(kind).next().is_some(),
            "no row for {kind}"
        );
    }
    assert_eq!(h.query_all_by_label("done").count(), 4);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_bad_scenario_file_shows_its_error_and_the_app_goes_on() {
    let dir = scratch("bad");
    let good = short_scenario(&dir);
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[device]\nprofile = \"xavier-agx\"\n[app]\nname = \"tm\"\n[slo]\nmultiplier = 2.0\n\
         [workload]\nkind = \"poisson\"\nrate = 5.0\n",
    )
    .unwrap();
    let mut h = harness(Some(good.clone()));
    h.run_steps(2);

    h.get_by_label("Scenario file")
        .set_text_value_accesskit(&bad.display().to_string());
    h.step();
    h.get_by_label("Open").click();
    h.run_steps(3);
    let message = h.state().messages().last().expect("a message").clone();
    assert!(message.error, "{message:?}");
    assert!(message.text.contains("bad.toml"), "{}", message.text);
    assert!(message.text.contains("rate"), "{}", message.text);
    assert!(
        h.query_by_label_contains("unknown field").is_some(),
        "the error is on screen"
    );
    // The scenario that was open stays open.
    assert_eq!(
        h.state().document().and_then(|d| d.path.clone()),
        Some(good)
    );

    // A file that does not exist: an error too, not a crash.
    h.get_by_label("Scenario file")
        .set_text_value_accesskit(&dir.join("missing.toml").display().to_string());
    h.step();
    h.get_by_label("Open").click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("cannot read the scenario file")
            .is_some()
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_scenario_that_parses_but_is_invalid_fails_its_check_and_its_run_with_a_message() {
    let dir = scratch("invalid");
    let path = dir.join("zero-rate.toml");
    let text = std::fs::read_to_string(short_scenario(&dir))
        .unwrap()
        .replace("rate_per_s = 150.0", "rate_per_s = -3.0");
    std::fs::write(&path, text).unwrap();
    let mut h = harness(Some(path));
    for _ in 0..200 {
        h.step();
        if h.query_all_by_label_contains("workload.rate_per_s")
            .next()
            .is_some()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        h.query_all_by_label_contains("workload.rate_per_s")
            .next()
            .is_some(),
        "the check names the field"
    );
    h.get_by_label("▶ Run").click();
    h.step();
    wait_idle(&mut h);
    assert!(h.state().last_report().is_none());
    let last = h.state().messages().last().expect("a message");
    assert!(last.error && last.text.contains("rate_per_s"), "{last:?}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn edit_in_the_form_then_save_as_writes_the_edited_toml() {
    let dir = scratch("save");
    let mut h = harness(Some(short_scenario(&dir)));
    h.run_steps(2);
    h.get_by_label("Duration")
        .set_text_value_accesskit("1500ms");
    h.step();
    h.get_by_label("Seed").set_text_value_accesskit("77");
    h.step();
    // Text that is not a duration leaves the scenario as it was.
    h.get_by_label("Warm-up").set_text_value_accesskit("soon");
    h.step();
    let doc = h.state().document().unwrap();
    assert_eq!(doc.scenario.run.duration, Some("1.5s".parse().unwrap()));
    assert_eq!(doc.scenario.seed, 77);
    assert_eq!(doc.scenario.run.warmup, "200ms".parse().unwrap());
    assert!(doc.is_dirty());

    let target = dir.join("saved/edited.toml");
    h.get_by_label("New file")
        .set_text_value_accesskit(&target.display().to_string());
    h.step();
    h.get_by_label("Save as").click();
    h.run_steps(2);
    let saved = std::fs::read_to_string(&target).expect("the file was written");
    assert!(
        saved.contains("duration = \"1.500s\"") || saved.contains("duration = \"1.5s\""),
        "{saved}"
    );
    assert!(saved.contains("seed = 77"), "{saved}");
    let doc = h.state().document().unwrap();
    assert_eq!(doc.path.as_deref(), Some(target.as_path()));
    assert!(!doc.is_dirty());
    std::fs::remove_dir_all(dir).ok();
}

/// An in-memory eframe storage.
#[derive(Default)]
struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn ui_state_and_unsaved_edits_survive_a_restart_but_results_do_not() {
    use eframe::App as _;
    let dir = scratch("persist");
    let path = short_scenario(&dir);
    let mut h = harness(Some(path.clone()));
    h.run_steps(2);
    h.get_by_label("Seed").set_text_value_accesskit("5");
    h.step();
    h.get_by_label("Sweep results").click();
    h.run_steps(2);
    let mut storage = MemoryStorage::default();
    h.state_mut().save(&mut storage);
    let stored = storage
        .0
        .get(eframe::APP_KEY)
        .expect("state stored")
        .clone();
    assert!(
        !stored.contains("throughput"),
        "no results in the stored state"
    );

    let state: UiState = eframe::get_value(&storage, eframe::APP_KEY).expect("state reads back");
    let again = InfscalerApp::with_state(state, None, None);
    assert_eq!(again.state().view, View::Sweep);
    let doc = again.document().expect("the draft is reopened");
    assert_eq!(doc.scenario.seed, 5);
    assert_eq!(doc.path.as_deref(), Some(path.as_path()));
    assert!(doc.is_dirty(), "the edit is still unsaved");
    assert!(again.last_report().is_none());
    std::fs::remove_dir_all(dir).ok();
}

/// A fresh app on the sweep browser, `path` loaded and the load finished.
fn harness_with_results(path: &Path) -> Harness<'static, InfscalerApp> {
    let mut h = harness(None);
    h.run_steps(2);
    h.get_by_label("Sweep results").click();
    h.run_steps(2);
    h.get_by_label("Results file")
        .set_text_value_accesskit(&path.display().to_string());
    h.step();
    h.get_by_label("Load").click();
    h.step();
    wait_idle(&mut h);
    h
}

#[test]
fn a_sweep_results_file_is_browsed_as_a_pivot_table() {
    let fig5 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/paper/data/fig5-pytorch.csv");
    let h = harness_with_results(&fig5);

    // The sweep's axes: apps × SLO multipliers down, systems across, capacity as the metric.
    let caption =
        "mean of capacity_rps by app.name × slo.multiplier (rows) × policy.kind (columns)";
    assert!(
        h.query_by_label(caption).is_some(),
        "no pivot caption; messages: {:?}",
        h.state().messages()
    );
    let choice = &h.state().state().sweep;
    assert_eq!(choice.row_keys, ["app.name", "slo.multiplier"]);
    assert_eq!(choice.column_key.as_deref(), Some("policy.kind"));
    for system in ["infscaler", "infless", "spright", "knative"] {
        assert!(
            h.query_all_by_label(system).next().is_some(),
            "no {system} column"
        );
    }
    // One row per app and SLO: the five apps' names label the rows.
    for app in ["tm", "lt", "pt", "lpr", "vu"] {
        assert!(
            h.query_all_by_label(app).next().is_some(),
            "no row for {app}"
        );
    }
}

#[test]
fn an_unreadable_results_file_is_an_error_message() {
    let dir = scratch("sweep-bad");
    let bad = dir.join("results.parquet");
    std::fs::write(&bad, "this is not parquet").unwrap();
    let h = harness_with_results(&bad);
    let last = h.state().messages().last().expect("a message").clone();
    assert!(last.error, "{last:?}");
    assert!(last.text.contains("results.parquet"), "{}", last.text);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_partition_view_shows_a_plan_without_a_run() {
    let dir = scratch("plan");
    let mut h = harness(Some(short_scenario(&dir)));
    h.run_steps(2);
    pick_policy(&mut h, "infscaler");
    h.get_by_label("Partitions").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Press Plan").is_some());
    h.get_by_label("Plan").click();
    h.step();
    wait_idle(&mut h);
    assert!(h.state().last_report().is_none(), "nothing was run");
    assert!(
        h.query_by_label_contains("Plan of infscaler").is_some(),
        "messages: {:?}",
        h.state().messages()
    );
    assert!(
        h.query_by_label_contains("Stage 0: ssd_mobilenet_v1")
            .is_some()
    );
    assert!(h.query_by_label_contains("Stage 1: resnet50").is_some());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_edit_is_checked_once_it_settles() {
    let dir = scratch("recheck");
    let mut h = harness(Some(short_scenario(&dir)));
    let settle = |h: &mut Harness<'_, InfscalerApp>, what: &str| {
        for _ in 0..300 {
            h.step();
            if h.query_all_by_label_contains(what).next().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "{what:?} never showed; messages: {:?}",
            h.state().messages()
        );
    };
    settle(&mut h, "scenario is valid");
    h.get_by_label("Duration").set_text_value_accesskit("0s");
    h.step();
    settle(&mut h, "run.duration");
    h.get_by_label("Duration").set_text_value_accesskit("1s");
    h.step();
    settle(&mut h, "scenario is valid");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_whole_toml_can_be_edited_and_bad_toml_is_refused() {
    let dir = scratch("toml");
    let mut h = harness(Some(short_scenario(&dir)));
    h.run_steps(2);
    // Far down the scenario panel: clicked through the accessibility tree, not the pointer.
    h.get_by_label("Scenario TOML").click_accesskit();
    h.run_steps(2);
    let text = h.state().document().unwrap().toml();
    let edited = text.replace("queue_capacity = 1024", "queue_capacity = 7");
    assert_ne!(edited, text, "the scenario's TOML lists queue_capacity");
    h.get_by_label("TOML").set_text_value_accesskit(&edited);
    h.step();
    h.get_by_label("Apply").click_accesskit();
    h.run_steps(2);
    assert_eq!(
        h.state()
            .document()
            .unwrap()
            .scenario
            .serving
            .queue_capacity,
        7
    );

    h.get_by_label("TOML")
        .set_text_value_accesskit(&edited.replace("[serving]", "[serving"));
    h.step();
    h.get_by_label("Apply").click_accesskit();
    h.run_steps(2);
    let last = h.state().messages().last().expect("a message");
    assert!(last.error, "{last:?}");
    assert_eq!(
        h.state()
            .document()
            .unwrap()
            .scenario
            .serving
            .queue_capacity,
        7
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn opening_another_file_asks_before_discarding_edits() {
    let dir = scratch("discard");
    let first = short_scenario(&dir);
    let second = dir.join("second.toml");
    std::fs::copy(&first, &second).unwrap();
    let mut h = harness(Some(first.clone()));
    h.run_steps(2);
    h.get_by_label("Seed").set_text_value_accesskit("99");
    h.step();
    let open = |h: &mut Harness<'_, InfscalerApp>| {
        h.get_by_label("Scenario file")
            .set_text_value_accesskit(&second.display().to_string());
        h.step();
        h.get_by_label("Open").click();
        // The dialog's first frame only sizes it (egui areas): it shows from the next.
        h.run_steps(3);
    };

    open(&mut h);
    assert!(
        h.query_by_label("Unsaved edits").is_some(),
        "no question asked"
    );
    h.get_by_label("Keep editing").click();
    h.run_steps(2);
    let doc = h.state().document().unwrap();
    assert_eq!(
        (doc.path.as_deref(), doc.scenario.seed),
        (Some(first.as_path()), 99)
    );
    assert!(h.query_by_label("Unsaved edits").is_none());

    open(&mut h);
    h.get_by_label("Discard edits").click();
    h.run_steps(2);
    let doc = h.state().document().unwrap();
    assert_eq!(doc.path.as_deref(), Some(second.as_path()));
    assert_eq!(doc.scenario.seed, 1);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn compare_on_a_pipeline_scenario_runs_the_thesis_systems_on_its_places() {
    let dir = scratch("compare-pipeline");
    let path = dir.join("pipeline.toml");
    std::fs::write(
        &path,
        "name = \"pipeline\"\nseed = 1\n[device]\nprofile = \"xavier-agx\"\ncpu_groups = 4\n[app]\nname = \"alexnet\"\n\
         [slo]\nmultiplier = 5.0\n[workload]\nkind = \"poisson\"\nrate_per_s = 50.0\n[run]\nduration = \"3s\"\n\
         [policy]\nkind = \"odin\"\neps = [\"cpu0\", \"cpu1\", \"gpu\"]\n",
    )
    .unwrap();
    let mut h = harness(Some(path));
    h.run_steps(2);
    h.get_by_label("Compare policies").click();
    h.step();
    wait_idle(&mut h);
    let rows = h.state().compare_reports();
    let kinds: Vec<&str> = rows.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [
            "odin",
            "lls",
            "shisha",
            "pipe_search",
            "hill_climb",
            "annealing",
            "random_walk"
        ]
    );
    for (kind, report) in &rows {
        let report = report.unwrap_or_else(|| panic!("{kind} did not finish"));
        assert_eq!(report.policy, *kind);
        // Every system kept the scenario's three places: three stages, none elsewhere.
        let places: std::collections::BTreeSet<&str> = report
            .partitions
            .iter()
            .flat_map(|p| p.instances.keys().map(String::as_str))
            .collect();
        assert!(
            places.iter().all(|a| ["cpu0", "cpu1", "gpu"].contains(a)),
            "{kind}: {places:?}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}
