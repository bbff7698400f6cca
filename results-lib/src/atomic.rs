//! Atomic file writes: a file appears whole or not at all, so an interrupted command never leaves
//! a truncated result behind.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::ResultsError;

/// `path` with `suffix` appended to its whole name (`r.jsonl` + `.partial` → `r.jsonl.partial`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes `path` through `<path>.tmp`: `fill` writes the content, which is synced to disk and
/// renamed over `path`. Creates missing parent folders. On error the temporary file is removed
/// and `path` is left as it was.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), ResultsError>,
) -> Result<(), ResultsError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| ResultsError::io("creating", dir, e))?;
    }
    let tmp = with_suffix(path, ".tmp");
    let written = (|| -> Result<(), ResultsError> {
        let file = File::create(&tmp).map_err(|e| ResultsError::io("creating", &tmp, e))?;
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| ResultsError::io("writing", &tmp, e.into_error()))?;
        file.sync_all()
            .map_err(|e| ResultsError::io("syncing", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|source| ResultsError::Rename {
            from: tmp.clone(),
            to: path.to_path_buf(),
            source,
        })
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all(); // Best effort: makes the rename durable on Unix.
    }
    Ok(())
}

/// Writes `lines`, each followed by a newline, to `path` atomically.
pub fn write_lines(path: &Path, lines: &[&str]) -> Result<(), ResultsError> {
    write_with(path, |w| {
        for l in lines {
            w.write_all(l.as_bytes())
                .and_then(|()| w.write_all(b"\n"))
                .map_err(|e| ResultsError::io("writing", path, e))?;
        }
        Ok(())
    })
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    write_with(path, |w| {
        w.write_all(bytes)
            .map_err(|e| ResultsError::io("writing", path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "infscaler-results-atomic-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_write_creates_folders_and_leaves_no_temporary_file() {
        let dir = scratch("ok");
        let path = dir.join("a/b/r.txt");
        write_lines(&path, &["x", "y"]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "x\ny\n");
        write_bytes(&path, b"z").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "z");
        assert!(!with_suffix(&path, ".tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_fill_keeps_the_old_file_and_removes_the_temporary_one() {
        let dir = scratch("fail");
        let path = dir.join("r.txt");
        write_bytes(&path, b"old").unwrap();
        let err = write_with(&path, |w| {
            w.write_all(b"half").unwrap();
            Err(ResultsError::NothingToPivot)
        })
        .unwrap_err();
        assert!(matches!(err, ResultsError::NothingToPivot));
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert!(!with_suffix(&path, ".tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_file() {
        let dir = scratch("rename");
        fs::create_dir_all(dir.join("taken/inside")).unwrap();
        // A non-empty folder where the file must go.
        let err = write_bytes(&dir.join("taken"), b"x").unwrap_err();
        assert!(matches!(err, ResultsError::Rename { .. }), "{err}");
        assert!(!dir.join("taken.tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_io_error_names_the_path() {
        let dir = scratch("io");
        fs::create_dir_all(&dir).unwrap();
        // A file where a folder must be.
        let blocker = dir.join("file");
        fs::write(&blocker, b"").unwrap();
        let err = write_bytes(&blocker.join("r.txt"), b"x").unwrap_err();
        let message = err.with_causes();
        assert!(
            message.starts_with(&format!("creating {}: ", blocker.display())),
            "{message}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
