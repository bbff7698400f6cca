//! End-to-end tests of `infscaler sweep`, `merge` and `summarize`: the results files are the
//! same at any `--jobs`, across shards and after an interrupted run is resumed; shards merge into
//! the whole sweep; bad axes and columns fail naming them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn infscaler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infscaler"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the infscaler binary runs")
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "infscaler failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infscaler-sweep-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// 2 policies × 2 rates × repeat 2 = 8 runs of 5 simulated seconds on the quickstart.
fn tiny_sweep(dir: &Path, extra_axis: &str) -> String {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let text = format!(
        r#"name = "tiny"
base = '{}'
repeat = 2
[[axes]]
path = "policy.kind"
values = ["static", "infscaler"]
[[axes]]
path = "workload.rate_per_s"
values = [60, 120]
[[axes]]
path = "run.duration"
values = ["5s"]
{extra_axis}"#,
        base.display()
    );
    let path = dir.join("tiny.toml");
    fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn sweep(sweep: &str, out: &Path, extra: &[&str]) -> Output {
    let out = out.to_string_lossy();
    let mut args = vec!["sweep", sweep, "--out", &out];
    args.extend_from_slice(extra);
    infscaler(&args)
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn results_are_identical_at_one_and_two_jobs_and_in_grid_order() {
    let dir = scratch("jobs");
    let s = tiny_sweep(&dir, "");
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    ok(sweep(&s, &a, &["--jobs", "1"]));
    ok(sweep(&s, &b, &["--jobs", "2"]));
    let (ta, tb) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
    assert_eq!(ta, tb, "--jobs 1 and --jobs 2 differ");
    // The tables beside the JSON lines, byte-identical too.
    for ext in ["parquet", "csv"] {
        let (pa, pb) = (a.with_extension(ext), b.with_extension(ext));
        assert_eq!(
            fs::read(&pa).unwrap(),
            fs::read(&pb).unwrap(),
            "{ext} differs between --jobs 1 and 2"
        );
    }
    let csv = lines(&a.with_extension("csv"));
    assert_eq!(csv.len(), 1 + 8, "a header and a line per run");
    assert!(
        csv[0].starts_with("point,point_key,repeat,policy.kind,"),
        "{}",
        csv[0]
    );
    let rows = lines(&a);
    assert_eq!(rows.len(), 8);
    for (i, row) in rows.iter().enumerate() {
        assert!(
            row.starts_with(&format!("{{\"point\":{i},\"point_key\":")),
            "{row}"
        );
        let v: serde_json::Value = serde_json::from_str(row).unwrap();
        assert!(v["completed"].as_u64().unwrap() > 0, "{row}");
    }
    // Point 2 = static, rate 120, repeat 0 (repeat fastest, then the last axis with values).
    let v: serde_json::Value = serde_json::from_str(&rows[2]).unwrap();
    assert_eq!(v["policy.kind"], "static");
    assert_eq!(v["policy"], "static");
    assert_eq!(v["workload.rate_per_s"], 120);
    assert_eq!(v["repeat"], 0);
    assert!(
        !dir.join("a.jsonl.partial").exists(),
        "the partial file is removed at the end"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn two_shards_hold_exactly_the_rows_of_the_whole_sweep() {
    let dir = scratch("shards");
    let s = tiny_sweep(&dir, "");
    let whole = dir.join("whole.jsonl");
    ok(sweep(&s, &whole, &["--jobs", "2"]));
    let (s0, s1) = (dir.join("s0.jsonl"), dir.join("s1.jsonl"));
    ok(sweep(&s, &s0, &["--shard", "0/2", "--jobs", "1"]));
    ok(sweep(&s, &s1, &["--shard", "1/2", "--jobs", "1"]));
    let (l0, l1) = (lines(&s0), lines(&s1));
    assert_eq!((l0.len(), l1.len()), (4, 4));
    // Shard 0 holds points 0, 2, 4, 6 and shard 1 points 1, 3, 5, 7: interleaved, they are the
    // whole file line for line.
    let merged: Vec<String> = l0.into_iter().zip(l1).flat_map(|(a, b)| [a, b]).collect();
    assert_eq!(merged, lines(&whole));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn an_interrupted_sweep_resumes_to_the_same_file() {
    let dir = scratch("resume");
    let s = tiny_sweep(&dir, "");
    let out = dir.join("r.jsonl");
    ok(sweep(&s, &out, &["--jobs", "2"]));
    let full = fs::read(&out).unwrap();
    let rows = lines(&out);
    // Simulate an interruption: half the rows finished (in completion order, not grid order) and
    // a last line cut off mid-write; no final file.
    let partial = dir.join("r.jsonl.partial");
    let mut text = String::new();
    for i in [5, 0, 6, 3] {
        text.push_str(&rows[i]);
        text.push('\n');
    }
    text.push_str(&rows[7][..40]);
    fs::write(&partial, text).unwrap();
    fs::remove_file(&out).unwrap();
    let again = ok(sweep(&s, &out, &["--jobs", "2"]));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("resuming: 4 of 8 runs"), "{stderr}");
    assert_eq!(fs::read(&out).unwrap(), full, "the resumed file differs");
    assert!(!partial.exists());
    // A complete file resumes everything and stays the same.
    let third = ok(sweep(&s, &out, &["--jobs", "1"]));
    assert!(String::from_utf8_lossy(&third.stderr).contains("resuming: 8 of 8 runs"));
    assert_eq!(fs::read(&out).unwrap(), full);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn dry_run_lists_the_points_and_a_bad_axis_fails_naming_it() {
    let dir = scratch("errors");
    let s = tiny_sweep(&dir, "");
    let out = ok(infscaler(&["sweep", &s, "--dry-run", "--shard", "1/2"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1 + 4, "{stdout}");
    assert!(
        stdout
            .contains("policy.kind=\"static\";workload.rate_per_s=60;run.duration=\"5s\";repeat=1")
    );

    let bad = tiny_sweep(
        &dir,
        "[[axes]]\npath = \"policy.nonexistent\"\nvalues = [1]\n",
    );
    let res = sweep(&bad, &dir.join("bad.jsonl"), &[]);
    assert!(!res.status.success());
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(stderr.contains("policy.nonexistent"), "{stderr}");
    assert!(!dir.join("bad.jsonl").exists());

    let res = infscaler(&["sweep", &s, "--shard", "2/2"]);
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("--shard 2/2"));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn results_of_a_changed_sweep_are_not_resumed() {
    let dir = scratch("changed");
    let out = dir.join("tiny.jsonl");
    let spec = tiny_sweep(&dir, "");
    ok(sweep(&spec, &out, &["--jobs", "2"]));
    // The same sweep again resumes every row.
    let again = ok(sweep(&spec, &out, &["--jobs", "2"]));
    assert!(String::from_utf8_lossy(&again.stderr).contains("resuming: 8 of 8"));
    // Another version (one more rate) must not reuse the old rows silently.
    let text = fs::read_to_string(&spec)
        .unwrap()
        .replace("values = [60, 120]", "values = [60, 90, 120]");
    fs::write(&spec, text).unwrap();
    let changed = sweep(&spec, &out, &["--jobs", "2"]);
    assert!(
        !changed.status.success(),
        "a changed sweep resumed old results"
    );
    let err = String::from_utf8_lossy(&changed.stderr);
    assert!(
        err.contains("another version") && err.contains("tiny.jsonl"),
        "{err}"
    );
}

#[test]
fn a_capacity_sweep_gives_each_point_a_capacity() {
    let dir = scratch("capacity");
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let spec = dir.join("cap.toml");
    fs::write(
        &spec,
        format!(
            "name = \"cap\"\nbase = '{}'\n[capacity]\nattainment = 0.95\ntolerance = 0.1\n\
             [[axes]]\npath = \"policy.kind\"\nvalues = [\"static\", \"spright\"]\n\
             [[axes]]\npath = \"run.duration\"\nvalues = [\"5s\"]\n",
            base.display()
        ),
    )
    .unwrap();
    let out = dir.join("cap.jsonl");
    ok(sweep(&spec.to_string_lossy(), &out, &["--jobs", "2"]));
    let rows = lines(&out);
    assert_eq!(rows.len(), 2);
    for row in rows {
        let v: serde_json::Value = serde_json::from_str(&row).unwrap();
        assert!(v["capacity_rps"].as_f64().unwrap() > 0.0, "{v}");
        assert!(v["capacity_probes"].as_u64().unwrap() >= 2, "{v}");
        assert!(v["throughput_rps"].as_f64().unwrap() > 0.0, "{v}");
    }
}

#[test]
fn shards_merge_into_the_whole_sweep_and_summarize_pivots_it() {
    let dir = scratch("merge");
    let s = tiny_sweep(&dir, "");
    let whole = dir.join("whole.parquet");
    ok(sweep(&s, &whole, &["--jobs", "2"]));
    let (s0, s1) = (dir.join("s0.parquet"), dir.join("s1.parquet"));
    ok(sweep(&s, &s0, &["--shard", "0/2", "--jobs", "1"]));
    ok(sweep(&s, &s1, &["--shard", "1/2", "--jobs", "1"]));
    // Shards given in any order merge into the whole sweep, byte for byte.
    let merged = dir.join("merged.parquet");
    let out = ok(infscaler(&[
        "merge",
        &s1.to_string_lossy(),
        &s0.to_string_lossy(),
        "--out",
        &merged.to_string_lossy(),
    ]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("8 rows"));
    assert_eq!(fs::read(&merged).unwrap(), fs::read(&whole).unwrap());
    let merged_csv = dir.join("merged.csv");
    ok(infscaler(&[
        "merge",
        &s0.with_extension("jsonl").to_string_lossy(),
        &s1.to_string_lossy(),
        "--out",
        &merged_csv.to_string_lossy(),
    ]));
    assert_eq!(lines(&merged_csv), lines(&whole.with_extension("csv")));
    // A shard given twice is refused.
    let res = infscaler(&[
        "merge",
        &s0.to_string_lossy(),
        &s0.to_string_lossy(),
        "--out",
        &dir.join("x.parquet").to_string_lossy(),
    ]);
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("is in both"));

    // Two keys and one metric: rates down, policies across, one cell per (rate, policy).
    let out = ok(infscaler(&[
        "summarize",
        &whole.to_string_lossy(),
        "--by",
        "workload.rate_per_s,policy.kind",
        "--metric",
        "completed",
        "--agg",
        "count",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["workload.rate_per_s", "static", "infscaler"],
        "{text}"
    );
    assert_eq!(rows[1], ["60", "2", "2"], "{text}");
    assert_eq!(rows[2], ["120", "2", "2"], "{text}");
    // The mean of the CSV output is the mean of the JSON lines.
    let out = ok(infscaler(&[
        "summarize",
        &whole.with_extension("csv").to_string_lossy(),
        "--by",
        "policy.kind",
        "--metric",
        "completed",
        "--csv",
    ]));
    let csv = String::from_utf8_lossy(&out.stdout);
    let mut static_completed = 0.0;
    for row in lines(&whole.with_extension("jsonl")) {
        let v: serde_json::Value = serde_json::from_str(&row).unwrap();
        if v["policy.kind"] == "static" {
            static_completed += v["completed"].as_f64().unwrap();
        }
    }
    static_completed /= 4.0; // Integer counts: the sum is exact, as is polars' mean.
    let line = csv.lines().nth(1).unwrap();
    assert_eq!(line, format!("static,{static_completed}"), "{csv}");
    let res = infscaler(&["summarize", &whole.to_string_lossy(), "--by", "nope"]);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("\"nope\" is not a column") && err.contains("goodput_rps"),
        "{err}"
    );
    let _ = fs::remove_dir_all(&dir);
}
