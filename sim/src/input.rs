//! Reading the user's input files with a size cap.
//!
//! Every file a scenario names (the scenario itself, traces, profiles, model files, `.onnx`
//! models, sweep files) is read through this module, so that a path naming an endless or
//! enormous file (`/dev/zero`, a mistaken multi-gigabyte dump) stops with an error that says
//! which file, how large the cap is and how to raise it, instead of filling memory.
//!
//! The cap is [`DEFAULT_MAX_INPUT_BYTES`] unless the environment variable [`MAX_INPUT_ENV`]
//! gives another (a size with a unit: `4GiB`, `500MB`), or the program sets one with
//! [`set_max_input_bytes`] (the CLI's `--max-input-size`).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::units::ByteSize;

/// The cap when nothing else is set: 1 GiB, above every file the project itself reads (the
/// largest zoo model as ONNX, VGG-19 in FP32, is 548 MiB: `infscaler models export vgg19`). A
/// larger `.onnx` (protobuf holds up to 2 GiB) needs the cap raised.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 1 << 30;

/// Environment variable that sets the cap (a size with a unit: `4GiB`, `500MB`, `1048576B`).
pub const MAX_INPUT_ENV: &str = "INFSCALER_MAX_INPUT_BYTES";

/// The cap set by the program; 0 when none is.
static OVERRIDE: AtomicU64 = AtomicU64::new(0);

/// Sets the cap for the rest of the process (overrides [`MAX_INPUT_ENV`]); 0 unsets it.
pub fn set_max_input_bytes(bytes: u64) {
    OVERRIDE.store(bytes, Ordering::Relaxed);
}

/// The cap in force: the program's, else [`MAX_INPUT_ENV`]'s, else the default. An unreadable
/// environment value is an error naming the variable.
pub fn max_input_bytes() -> io::Result<u64> {
    let set = OVERRIDE.load(Ordering::Relaxed);
    if set > 0 {
        return Ok(set);
    }
    match std::env::var(MAX_INPUT_ENV) {
        Err(_) => Ok(DEFAULT_MAX_INPUT_BYTES),
        Ok(text) => match text.trim().parse::<ByteSize>() {
            Ok(ByteSize(b)) if b > 0 => Ok(b),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{MAX_INPUT_ENV}=`{text}` is not a size: give a byte count greater than 0, \
                     such as 4GiB, 500MB or 1048576B"
                ),
            )),
        },
    }
}

fn too_large(cap: u64, size: Option<u64>) -> io::Error {
    let what = match size {
        Some(s) => format!("is {}", ByteSize(s)),
        None => "goes on".to_string(),
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the file {what}, past the input size cap of {} (raise it with --max-input-size or \
             {MAX_INPUT_ENV}, e.g. {MAX_INPUT_ENV}=8GiB)",
            ByteSize(cap)
        ),
    )
}

/// A reader of at most `cap` bytes of `inner` that fails, instead of ending, past the cap.
#[derive(Debug)]
pub struct CappedReader<R> {
    inner: io::Take<R>,
    cap: u64,
}

impl<R: Read> CappedReader<R> {
    /// Reads `inner` up to `cap` bytes.
    pub fn new(inner: R, cap: u64) -> Self {
        CappedReader {
            inner: inner.take(cap.saturating_add(1)),
            cap,
        }
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.inner.limit() == 0 {
            return Err(too_large(self.cap, None));
        }
        Ok(n)
    }
}

/// Opens `path` for reading through the cap: a regular file larger than the cap fails at once,
/// anything else (a pipe, a device) fails when it passes the cap.
pub fn open(path: &Path) -> io::Result<BufReader<CappedReader<File>>> {
    let cap = max_input_bytes()?;
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a directory, not a file",
        ));
    }
    if meta.is_file() && meta.len() > cap {
        return Err(too_large(cap, Some(meta.len())));
    }
    Ok(BufReader::new(CappedReader::new(file, cap)))
}

/// The bytes of `path`, read through the cap.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    open(path)?.read_to_end(&mut out)?;
    Ok(out)
}

/// The text of `path` (UTF-8), read through the cap.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let mut out = String::new();
    open(path)?.read_to_string(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_stream_stops_at_the_cap_with_an_error() {
        let mut r = CappedReader::new(io::repeat(0), 1000);
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert!(out.len() <= 1001);
        assert!(err.to_string().contains("input size cap of 1kB"), "{err}");
        assert!(err.to_string().contains(MAX_INPUT_ENV), "{err}");
    }

    #[test]
    fn a_stream_within_the_cap_reads_whole() {
        let data = vec![7u8; 1000];
        let mut out = Vec::new();
        CappedReader::new(&data[..], 1000)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn dev_zero_is_refused() {
        let path = Path::new("/dev/zero");
        if !path.exists() {
            return;
        }
        let mut out = Vec::new();
        let err = CappedReader::new(File::open(path).unwrap(), 1 << 20)
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(err.to_string().contains("goes on"), "{err}");
        assert!(out.len() <= (1 << 20) + 1);
    }

    #[test]
    fn a_directory_is_named_as_one() {
        let err = read(&std::env::temp_dir()).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
    }
}
