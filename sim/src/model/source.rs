//! Where a stage's model comes from: the zoo, a model file, or an `.onnx` file.
//!
//! A stage of `app.stages` is a zoo name (`resnet50`) or a path, relative to the scenario's
//! folder: a model file ([`super::file`], `.toml`) or an ONNX model (`.onnx`, read by
//! [`super::onnx::import`]). Files are read once per process and kept while unchanged, so a
//! sweep or a capacity search over a large `.onnx` reads it once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::layers::Network;
use super::zoo::{self, ZooOptions};

/// The origin of a stage's model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ModelSource {
    /// A zoo model, by name.
    Zoo(String),
    /// A model file (TOML layer graph).
    File(PathBuf),
    /// An ONNX model.
    Onnx(PathBuf),
}

impl ModelSource {
    /// The source a stage names; relative paths are taken from `base_dir`.
    pub fn of_stage(stage: &str, base_dir: &Path) -> Self {
        if !super::file::names_a_file(stage) {
            return ModelSource::Zoo(stage.to_string());
        }
        let path = base_dir.join(stage);
        if stage.to_ascii_lowercase().ends_with(".onnx") {
            ModelSource::Onnx(path)
        } else {
            ModelSource::File(path)
        }
    }

    /// The file it reads, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ModelSource::Zoo(_) => None,
            ModelSource::File(p) | ModelSource::Onnx(p) => Some(p),
        }
    }

    /// The model's layer graph (`opts` shapes zoo models only: a file holds fixed shapes).
    pub fn network(&self, opts: &ZooOptions) -> Result<Arc<Network>, String> {
        match self {
            ModelSource::Zoo(name) => zoo::build_network(name, opts)
                .map(Arc::new)
                .map_err(|e| e.to_string()),
            ModelSource::File(path) => {
                cached(path, || super::file::load(path).map_err(|e| e.to_string()))
            }
            ModelSource::Onnx(path) => cached(path, || {
                super::onnx::import::import_file(path)
                    .map(|m| m.network)
                    .map_err(|e| e.to_string())
            }),
        }
    }
}

impl std::fmt::Display for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::Zoo(name) => write!(f, "zoo model `{name}`"),
            ModelSource::File(p) => write!(f, "model file `{}`", p.display()),
            ModelSource::Onnx(p) => write!(f, "ONNX model `{}`", p.display()),
        }
    }
}

/// A file's identity for the cache: path, length and modification time.
type FileKey = (PathBuf, u64, Option<SystemTime>);

/// Networks read from files, by identity. Bounded by the number of distinct files a process
/// names (a handful), so it is never pruned.
static CACHE: Mutex<Option<HashMap<FileKey, Arc<Network>>>> = Mutex::new(None);

fn cached(
    path: &Path,
    read: impl FnOnce() -> Result<Network, String>,
) -> Result<Arc<Network>, String> {
    let key = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => (path.to_path_buf(), m.len(), m.modified().ok()),
        // Not a plain file (missing, a pipe): read it, uncached, for the reader's own error.
        _ => return read().map(Arc::new),
    };
    if let Some(net) = CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .get(&key)
    {
        return Ok(net.clone());
    }
    let net = Arc::new(read()?);
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(key, net.clone());
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_name_the_zoo_or_a_file_under_the_scenarios_folder() {
        let base = Path::new("/s");
        assert_eq!(
            ModelSource::of_stage("resnet50", base),
            ModelSource::Zoo("resnet50".into())
        );
        assert_eq!(
            ModelSource::of_stage("m/net.toml", base),
            ModelSource::File("/s/m/net.toml".into())
        );
        assert_eq!(
            ModelSource::of_stage("net.ONNX", base),
            ModelSource::Onnx("/s/net.ONNX".into())
        );
        assert_eq!(
            ModelSource::of_stage("/abs/net.onnx", base),
            ModelSource::Onnx("/abs/net.onnx".into())
        );
    }

    #[test]
    fn a_changed_file_is_read_again() {
        let dir = std::env::temp_dir().join(format!("infscaler-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.toml");
        let one = "format = 1\nname = \"a\"\ninput_shape = [4]\n[[layers]]\nname = \"r\"\nlayer = { kind = \"activation\", function = \"relu\" }\n";
        std::fs::write(&path, one).unwrap();
        let src = ModelSource::File(path.clone());
        assert_eq!(src.network(&ZooOptions::default()).unwrap().name(), "a");
        std::fs::write(&path, one.replace("\"a\"", "\"bb\"")).unwrap();
        assert_eq!(src.network(&ZooOptions::default()).unwrap().name(), "bb");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
