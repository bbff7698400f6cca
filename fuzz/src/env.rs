//! The world a harness runs in: the repository (where seeds come from) and a sandbox, a
//! temporary directory with small copies of the files scenarios name, so that a fuzzed scenario
//! that reads a trace or a profile reads a small, known file.
//!
//! The sandbox mirrors the repository's layout: scenarios resolve relative paths against
//! `scenarios/examples/` in it, so `../traces/azure-llm-inference-2023-conv.csv` and
//! `../../hwprofiles/measured/alexnet-cpu-dev2core.toml` (as the repository's scenarios write
//! them) name the sandbox's copies. [`Env::contains`] tells whether a path stays inside it; the
//! scenario harnesses skip inputs naming any other file (`/dev/zero`, `/dev/stdin`, a FIFO or a
//! huge file would make a case unbounded; reading them is not what the fuzzing is for).

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The trace every seed scenario with a `kind = "trace"` workload names.
pub const LLM_TRACE: &str = "azure-llm-inference-2023-conv.csv";
/// A synthetic Azure Functions 2019 day file placed beside it in the sandbox.
pub const FUNCTIONS_DAY: &str = "invocations_per_function_md.anon.d01.csv";
/// Rows of the real LLM trace kept in the sandbox's copy (evenly spread over its hour).
const THINNED_ROWS: usize = 400;

/// The repository and the sandbox.
#[derive(Debug)]
pub struct Env {
    /// The repository's root (where `scenarios/` and `hwprofiles/` are).
    pub repo: PathBuf,
    /// The sandbox's root.
    pub sandbox: PathBuf,
    /// Where scenarios resolve relative paths: `scenarios/examples` in the sandbox.
    pub scenario_dir: PathBuf,
    /// A directory outside the sandbox for harnesses that must hand a reader a file.
    pub scratch: PathBuf,
    /// Paths of the sandbox's files relative to [`Env::scenario_dir`], for the mutations.
    pub sandbox_paths: Vec<String>,
}

static NEXT_ENV: AtomicU64 = AtomicU64::new(0);

/// The repository this crate was built from (its manifest's parent), unless
/// `INFSCALER_REPO` names another.
pub fn default_repo() -> PathBuf {
    match std::env::var_os("INFSCALER_REPO") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    }
}

impl Env {
    /// Creates a sandbox under the system's temporary directory from the repository at `repo`;
    /// it is removed when the `Env` is dropped.
    pub fn new(repo: &Path) -> io::Result<Env> {
        let n = NEXT_ENV.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("infscaler-fuzz-{}-{n}", std::process::id()));
        let sandbox = root.join("sandbox");
        let scratch = root.join("scratch");
        let scenario_dir = sandbox.join("scenarios").join("examples");
        std::fs::create_dir_all(&scenario_dir)?;
        std::fs::create_dir_all(&scratch)?;
        let traces = sandbox.join("scenarios").join("traces");
        std::fs::create_dir_all(&traces)?;

        let mut sandbox_paths = Vec::new();
        let trace = std::fs::read_to_string(repo.join("scenarios/traces").join(LLM_TRACE))
            .unwrap_or_else(|_| "TIMESTAMP,ContextTokens,GeneratedTokens\n".to_string());
        std::fs::write(traces.join(LLM_TRACE), thin_csv(&trace, THINNED_ROWS))?;
        sandbox_paths.push(format!("../traces/{LLM_TRACE}"));
        std::fs::write(traces.join(FUNCTIONS_DAY), functions_day(1440, 6))?;
        sandbox_paths.push(format!("../traces/{FUNCTIONS_DAY}"));

        // Model files that scenarios name as stages (`../models/tiny-cnn.toml`).
        let models = sandbox.join("scenarios").join("models");
        std::fs::create_dir_all(&models)?;
        for path in files_with_extension(&repo.join("scenarios/models"), "toml") {
            let name = path.file_name().expect("a file name");
            std::fs::copy(&path, models.join(name))?;
            sandbox_paths.push(format!("../models/{}", name.to_string_lossy()));
        }

        for sub in ["", "runtimes", "measured"] {
            let from = repo.join("hwprofiles").join(sub);
            let to = sandbox.join("hwprofiles").join(sub);
            std::fs::create_dir_all(&to)?;
            for path in files_with_extension(&from, "toml") {
                let name = path.file_name().expect("a file name");
                std::fs::copy(&path, to.join(name))?;
                let rel = Path::new("../../hwprofiles").join(sub).join(name);
                sandbox_paths.push(rel.to_string_lossy().into_owned());
            }
        }
        Ok(Env {
            repo: repo.to_path_buf(),
            sandbox,
            scenario_dir,
            scratch,
            sandbox_paths,
        })
    }

    /// Whether `path`, as a scenario names it (relative to [`Env::scenario_dir`]), stays inside
    /// the sandbox: relative, and never above the sandbox's root. Also checked trimmed, as some
    /// fields are trimmed before use.
    pub fn contains(&self, path: &str) -> bool {
        [path, path.trim()].iter().all(|p| {
            let mut depth: i64 = 2; // scenarios/examples
            for c in Path::new(p).components() {
                match c {
                    Component::Normal(_) => depth += 1,
                    Component::CurDir => {}
                    Component::ParentDir => {
                        depth -= 1;
                        if depth < 0 {
                            return false;
                        }
                    }
                    Component::RootDir | Component::Prefix(_) => return false,
                }
            }
            true
        })
    }
}

/// Removes the sandboxes a process `pid` created (for a supervisor whose worker died before it
/// could remove its own).
pub fn remove_sandboxes_of(pid: u32) {
    let prefix = format!("infscaler-fuzz-{pid}-");
    for entry in std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(root) = self.sandbox.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// The files directly in `dir` whose name ends in `.ext`, sorted.
pub fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

/// The files under `dir` (recursively) whose name ends in `.ext`, sorted.
pub fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = files_with_extension(dir, ext);
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for sub in subdirs {
        out.extend(files_under(&sub, ext));
    }
    out
}

/// The header and `rows` rows of a CSV spread evenly over it (first and last rows kept), so that
/// a smaller copy spans the same time.
pub fn thin_csv(text: &str, rows: usize) -> String {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return String::new();
    };
    let body: Vec<&str> = lines.collect();
    let mut out = format!("{header}\n");
    if body.is_empty() {
        return out;
    }
    let step = (body.len() / rows.max(1)).max(1);
    for (i, line) in body.iter().enumerate() {
        if i % step == 0 || i + 1 == body.len() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A synthetic Azure Functions 2019 day file: the header with `minutes` minute columns and
/// `functions` rows of made-up counts (some minutes idle, one busy function).
pub fn functions_day(minutes: usize, functions: usize) -> String {
    let mut out = String::from("HashOwner,HashApp,HashFunction,Trigger");
    for m in 1..=minutes {
        out.push_str(&format!(",{m}"));
    }
    out.push('\n');
    let triggers = ["http", "timer", "queue", "event"];
    for f in 0..functions {
        out.push_str(&format!(
            "owner{},app{},func{f},{}",
            f % 3,
            f % 4,
            triggers[f % triggers.len()]
        ));
        for m in 0..minutes {
            let count = match f {
                0 => (m * 7 + 3) % 11,
                1 => usize::from(m % 60 == 0),
                2 => 0,
                _ => (m * (f + 1)) % (5 * f + 1),
            };
            out.push_str(&format!(",{count}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_contained_only_inside_the_sandbox() {
        let env = Env::new(&default_repo()).unwrap();
        for ok in [
            "../traces/x.csv",
            "../../hwprofiles/measured/a.toml",
            "x.toml",
            "./a/../b",
            " ../traces/x.csv ",
            "xavier-agx",
            "",
        ] {
            assert!(env.contains(ok), "{ok}");
        }
        for bad in [
            "/dev/zero",
            " /dev/zero",
            "../../../x",
            "a/../../../../etc/passwd",
        ] {
            assert!(!env.contains(bad), "{bad}");
        }
        assert!(
            env.scenario_dir
                .join(format!("../traces/{LLM_TRACE}"))
                .is_file()
        );
        assert!(
            env.scenario_dir
                .join(format!("../traces/{FUNCTIONS_DAY}"))
                .is_file()
        );
        let root = env.sandbox.clone();
        drop(env);
        assert!(!root.exists());
    }

    #[test]
    fn thinning_keeps_the_header_and_the_ends() {
        let text = "H\n1\n2\n3\n4\n5\n6\n7\n";
        assert_eq!(thin_csv(text, 3), "H\n1\n3\n5\n7\n");
    }
}
