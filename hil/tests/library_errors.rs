//! A missing or wrong library gives a clear error. Its own test binary (process): a process
//! loads ONNX Runtime once, and these tests must not find it loaded.

use infscaler_hil::runtime::library::{self, LibraryError};
use infscaler_hil::runtime::{Runtime, RuntimeError};

#[test]
fn a_missing_or_wrong_library_names_the_file_and_the_fix() {
    let dir = std::env::temp_dir().join(format!("infscaler-hil-badlib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let missing = dir.join("libonnxruntime.so.9.9.9");
    let err = Runtime::from_library(&missing)
        .err()
        .expect("loading a missing file fails");
    let msg = err.to_string();
    assert!(
        matches!(err, RuntimeError::Library(LibraryError::Load { .. })),
        "{msg}"
    );
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    assert!(msg.contains(library::INSTALL_COMMAND), "{msg}");

    let wrong = dir.join("libonnxruntime.so");
    std::fs::write(&wrong, b"not a shared library").unwrap();
    let err = Runtime::from_library(&wrong)
        .err()
        .expect("loading a non-library fails");
    let msg = err.to_string();
    assert!(
        matches!(err, RuntimeError::Library(LibraryError::Load { .. })),
        "{msg}"
    );
    assert!(msg.contains(&wrong.display().to_string()), "{msg}");
    assert!(msg.contains("ORT_DYLIB_PATH"), "{msg}");

    // ORT_DYLIB_PATH naming a missing file is an error, not a silent fall-back to .ort/.
    let err =
        library::locate_in(Some(missing.clone().into()), &[library::workspace_root()]).unwrap_err();
    assert_eq!(err, LibraryError::EnvPathMissing { path: missing });
}
