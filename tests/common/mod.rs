//! Helpers shared by the end-to-end tests: golden files.

use std::fs;
use std::path::{Path, PathBuf};

/// Whether this run rewrites the golden files instead of checking them.
pub fn blessing() -> bool {
    std::env::var_os("INFSCALER_BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Checks `actual` against the golden file `path` (or writes it when blessing). On a mismatch
/// the actual output is kept beside it as `<file>.actual` for a diff.
pub fn check_golden(path: &Path, actual: &[u8]) -> Result<(), String> {
    if blessing() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, actual).unwrap();
        return Ok(());
    }
    let expected = fs::read(path).map_err(|e| {
        format!(
            "{}: {e}; run with INFSCALER_BLESS=1 to create it",
            path.display()
        )
    })?;
    let actual_path = PathBuf::from(format!("{}.actual", path.display()));
    if expected == actual {
        let _ = fs::remove_file(&actual_path);
        return Ok(());
    }
    fs::write(&actual_path, actual).unwrap();
    let first_diff = String::from_utf8_lossy(&expected)
        .lines()
        .zip(String::from_utf8_lossy(actual).lines())
        .enumerate()
        .find(|(_, (e, a))| e != a)
        .map(|(i, (e, a))| {
            format!(
                "first difference at line {}:\n  golden: {e}\n  actual: {a}",
                i + 1
            )
        })
        .unwrap_or_else(|| "the outputs differ in length".to_string());
    Err(format!(
        "{} differs from this build's output (kept in {}); {first_diff}\n\
         if the change is intended, rerun with INFSCALER_BLESS=1 and commit the new file",
        path.display(),
        actual_path.display()
    ))
}
