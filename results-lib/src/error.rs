//! The errors of this crate.

use std::error::Error as _;
use std::io;
use std::path::PathBuf;

use crate::files::Format;

/// What can go wrong reading, writing or summarising results.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// A file-system operation on `path` failed (`action`: "creating", "writing", …).
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done, as a verb.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Renaming a written temporary file over its destination failed.
    #[error("renaming {} to {}", from.display(), to.display())]
    Rename {
        /// The temporary file.
        from: PathBuf,
        /// The destination.
        to: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The extension of `path` names no results format.
    #[error(
        "{}: unknown results format {}; allowed extensions: {}",
        path.display(),
        extension.as_ref().map_or("(no extension)".to_string(), |e| format!(".{e}")),
        Format::ALLOWED_EXTENSIONS
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Its extension without the dot, if it has one.
        extension: Option<String>,
    },
    /// Reading a results file failed.
    #[error("reading {} as {format}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The format of its extension.
        format: Format,
        /// The cause.
        #[source]
        source: Box<ResultsError>,
    },
    /// Writing a results file failed.
    #[error("writing {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<ResultsError>,
    },
    /// A line of a JSON lines file is not a JSON object of scalar values.
    #[error("line {line}")]
    JsonLine {
        /// The line number, from 1.
        line: usize,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A column asked for is not in the table.
    #[error("{role} {name:?} is not a column; the columns are: {}", available.join(", "))]
    MissingColumn {
        /// What the column was asked for as (`--by`, `--metric`).
        role: &'static str,
        /// The column asked for.
        name: String,
        /// The table's columns, in order.
        available: Vec<String>,
    },
    /// A metric column holds neither numbers nor booleans.
    #[error("--metric {name:?} is not numeric (its type is {dtype})")]
    NotNumeric {
        /// The column.
        name: String,
        /// Its type, as polars names it.
        dtype: String,
    },
    /// A pivot table was asked for without a key column or without a metric.
    #[error("need at least one --by column and one --metric")]
    NothingToPivot,
    /// Serialising a row as JSON failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// polars failed.
    #[error(transparent)]
    Polars(#[from] polars::error::PolarsError),
}

impl ResultsError {
    /// An [`ResultsError::Io`] error.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ResultsError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The message followed by that of each cause, joined by `: ` (what `anyhow` prints with
    /// `{:#}`), for front ends that show an error on one line.
    pub fn with_causes(&self) -> String {
        let mut s = self.to_string();
        let mut cause = self.source();
        while let Some(c) = cause {
            s.push_str(": ");
            s.push_str(&c.to_string());
            cause = c.source();
        }
        s
    }
}
