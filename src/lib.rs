//! The `infscaler` package's library: the parts of the command line that other front ends (the
//! GUI) reuse — results files through polars, their pivot tables, atomic writes and the text
//! rendering of a report. The simulator itself is the crate `infscaler-sim`.

pub mod atomic;
pub mod results;
pub mod summarize;
pub mod table;
