//! Results of infscaler runs, shared by the command line (`infscaler`) and the GUI
//! (`infscaler-gui`): atomic file writes, results tables typed from sweep rows and their files
//! (Parquet, CSV, JSON lines through polars), pivot tables of those files, and the text rendering
//! of a run report. The simulator itself is the crate `infscaler-sim`.

pub mod atomic;
pub mod error;
pub mod files;
pub mod report_text;
pub mod summarize;

pub use error::ResultsError;
pub use files::{Format, Row};
