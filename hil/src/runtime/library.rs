//! Finding `libonnxruntime` without the user setting anything.
//!
//! Order: the `ORT_DYLIB_PATH` environment variable wins (and must then name an existing
//! file); otherwise `.ort/` under the current directory, then under the workspace root (the
//! directory above this crate, fixed at compile time), as `scripts/install-onnxruntime.sh`
//! fills it: `pip install --target .ort onnxruntime` puts the library at
//! `.ort/onnxruntime/capi/libonnxruntime.so.<version>` (the layout of the PyPI wheel).
//! `.ort/lib/` and `.ort/` itself are searched too, for a library copied from an ONNX Runtime
//! release archive.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Environment variable naming the library file; it overrides every other place.
pub const ENV_VAR: &str = "ORT_DYLIB_PATH";

/// The command that installs the library where it is looked for.
pub const INSTALL_COMMAND: &str = "scripts/install-onnxruntime.sh";

/// Project-local folder the install script fills (git-ignored).
pub const LOCAL_DIR: &str = ".ort";

/// Folders under [`LOCAL_DIR`] searched, in order.
const SUBDIRS: &[&str] = &["onnxruntime/capi", "lib", ""];

/// Why the library cannot be found or loaded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LibraryError {
    /// `ORT_DYLIB_PATH` names a file that does not exist.
    #[error(
        "{ENV_VAR} is set to `{}`, which does not exist. Point it at a libonnxruntime shared \
         library, or unset it and run `{INSTALL_COMMAND}` to install one into {LOCAL_DIR}/",
        path.display()
    )]
    EnvPathMissing {
        /// The value of the variable.
        path: PathBuf,
    },
    /// No library in any of the places searched.
    #[error(
        "ONNX Runtime library not found. Looked for {ENV_VAR} (not set) and for {pattern} in:\n{}\n\
         Install it with `{INSTALL_COMMAND}` (pip-installs the `onnxruntime` wheel into \
         {LOCAL_DIR}/ at the workspace root), or set {ENV_VAR} to the library file.",
        searched.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n"),
        pattern = library_prefix()
    )]
    NotFound {
        /// Folders searched, in order.
        searched: Vec<PathBuf>,
    },
    /// The file exists but ONNX Runtime cannot be loaded from it.
    #[error(
        "cannot load ONNX Runtime from `{}`: {reason}. Reinstall it with `{INSTALL_COMMAND}` \
         or point {ENV_VAR} at a working libonnxruntime",
        path.display()
    )]
    Load {
        /// The file.
        path: PathBuf,
        /// What the loader said.
        reason: String,
    },
    /// Another library was loaded earlier in this process; one process holds one.
    #[error(
        "ONNX Runtime is already loaded from `{}` in this process; cannot also load `{}`",
        loaded.display(),
        requested.display()
    )]
    AlreadyLoaded {
        /// The library in use.
        loaded: PathBuf,
        /// The one asked for.
        requested: PathBuf,
    },
}

/// File-name prefix of the library on this platform (`libonnxruntime.so` on Linux).
pub fn library_prefix() -> String {
    format!(
        "{}onnxruntime{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The workspace root as compiled in (the folder above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Finds the library from the process environment, the current directory and the workspace
/// root (see the module documentation).
pub fn locate() -> Result<PathBuf, LibraryError> {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    let ws = workspace_root();
    if !roots.contains(&ws) {
        roots.push(ws);
    }
    locate_in(std::env::var_os(ENV_VAR), &roots)
}

/// [`locate`] with the environment variable's value and the search roots given: the pure
/// part, for tests and callers with their own roots.
pub fn locate_in(env_value: Option<OsString>, roots: &[PathBuf]) -> Result<PathBuf, LibraryError> {
    if let Some(v) = env_value.filter(|v| !v.is_empty()) {
        let path = PathBuf::from(v);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(LibraryError::EnvPathMissing { path })
        };
    }
    let mut searched = Vec::new();
    for root in roots {
        for sub in SUBDIRS {
            let dir = root.join(LOCAL_DIR).join(sub);
            if let Some(found) = library_in(&dir) {
                return Ok(found);
            }
            searched.push(dir);
        }
    }
    Err(LibraryError::NotFound { searched })
}

/// The library in `dir`: `libonnxruntime.so` or, failing that, the highest versioned
/// `libonnxruntime.so.<version>` (the PyPI wheel ships only the versioned name).
fn library_in(dir: &Path) -> Option<PathBuf> {
    let prefix = library_prefix();
    let plain = dir.join(&prefix);
    if plain.is_file() {
        return Some(plain);
    }
    let mut versioned: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let version = name.strip_prefix(&prefix)?.strip_prefix('.')?;
            let parts = version
                .split('.')
                .map(|p| p.parse::<u64>().ok())
                .collect::<Option<Vec<_>>>()?;
            e.path().is_file().then(|| (parts, e.path()))
        })
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("infscaler-hil-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_environment_variable_wins_and_must_exist() {
        let root = scratch("env");
        let lib = root.join("custom.so");
        std::fs::write(&lib, b"x").unwrap();
        assert_eq!(
            locate_in(Some(lib.clone().into()), std::slice::from_ref(&root)),
            Ok(lib)
        );
        let missing = root.join("nope.so");
        let err = locate_in(Some(missing.clone().into()), &[root]).unwrap_err();
        assert_eq!(err, LibraryError::EnvPathMissing { path: missing });
        assert!(err.to_string().contains(INSTALL_COMMAND), "{err}");
    }

    #[test]
    fn finds_the_newest_versioned_library_of_the_wheel_layout() {
        let root = scratch("wheel");
        let capi = root.join(".ort/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        for v in ["1.9.0", "1.32.0", "1.17.3"] {
            std::fs::write(capi.join(format!("{}.{v}", library_prefix())), b"x").unwrap();
        }
        std::fs::write(capi.join("libonnxruntime_providers_shared.so"), b"x").unwrap();
        let found = locate_in(None, &[root]).unwrap();
        assert_eq!(
            found.file_name().unwrap().to_string_lossy(),
            format!("{}.1.32.0", library_prefix())
        );
    }

    #[test]
    fn not_found_lists_every_folder_and_the_install_command() {
        let a = scratch("none-a");
        let b = scratch("none-b");
        let err = locate_in(Some(OsString::new()), &[a.clone(), b.clone()]).unwrap_err();
        let LibraryError::NotFound { searched } = &err else {
            panic!("{err}");
        };
        assert_eq!(searched.len(), 2 * SUBDIRS.len());
        assert_eq!(searched[0], a.join(".ort/onnxruntime/capi"));
        let msg = err.to_string();
        assert!(
            msg.contains(&b.join(".ort/lib").display().to_string()),
            "{msg}"
        );
        assert!(
            msg.contains(INSTALL_COMMAND) && msg.contains(ENV_VAR),
            "{msg}"
        );
    }
}
