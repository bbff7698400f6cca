//! The results row of a report: the flat schema of sweep tables (docs/metrics.md).
//!
//! A row is an ordered list of `(column, cell)` pairs; `infscaler-results` turns rows into
//! Parquet, CSV and JSON-lines tables.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Report;

/// One results row: `(column, cell)` in column order.
pub type Row = Vec<(String, Cell)>;

/// One cell of a results row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    /// No value (e.g. no latency when nothing completed).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

impl Cell {
    /// The cell's number: an integer or a float as it is, a boolean as 0 or 1; `None` for text
    /// and empty cells.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(x) => Some(*x),
            Cell::Bool(b) => Some(f64::from(u8::from(*b))),
            Cell::Null | Cell::Str(_) => None,
        }
    }

    /// The cell of a TOML value (tables, arrays and dates as their TOML text).
    pub fn from_toml(v: &toml::Value) -> Cell {
        match v {
            toml::Value::String(s) => Cell::Str(s.clone()),
            toml::Value::Integer(i) => Cell::Int(*i),
            toml::Value::Float(x) => Cell::Float(*x),
            toml::Value::Boolean(b) => Cell::Bool(*b),
            other => Cell::Str(other.to_string()),
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str(""),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x}"),
            Cell::Str(s) => f.write_str(s),
        }
    }
}

/// The cell of `column` in `row`, if the row has that column.
pub fn cell<'a>(row: &'a [(String, Cell)], column: &str) -> Option<&'a Cell> {
    row.iter().find(|(k, _)| k == column).map(|(_, c)| c)
}

/// An integer cell, or a float one beyond `i64`.
pub fn int(n: u64) -> Cell {
    i64::try_from(n).map_or(Cell::Float(n as f64), Cell::Int)
}

/// A float cell, or null.
pub fn opt(x: Option<f64>) -> Cell {
    x.map_or(Cell::Null, Cell::Float)
}

/// A run's report flattened into the results columns, in the shared column order: identity
/// (`scenario, app, policy, device, transport, seed` — the seed as text, exactly), then the metrics (docs/metrics.md), with
/// one `utilization_<accelerator>` column per accelerator in name order. `instances_total` counts
/// the live instances at the end; `scale_outs`/`scale_ins` count the policy's scaling events.
pub fn report_row(report: &Report) -> Row {
    let s = &report.summary;
    let lat = |f: fn(&crate::metrics::LatencyMs) -> f64| opt(s.latency_ms.as_ref().map(f));
    let mut row: Vec<(String, Cell)> = vec![
        ("scenario".into(), Cell::Str(report.scenario.clone())),
        ("app".into(), Cell::Str(report.app.clone())),
        ("policy".into(), Cell::Str(report.policy.clone())),
        ("device".into(), Cell::Str(report.device.clone())),
        ("transport".into(), Cell::Str(report.transport.clone())),
        // Text: a 64-bit seed does not fit a signed column, and a float would round it.
        ("seed".into(), Cell::Str(report.seed.to_string())),
        ("arrivals".into(), int(s.arrivals)),
        ("completed".into(), int(s.completed)),
        ("dropped".into(), int(s.dropped)),
        ("in_flight".into(), int(s.in_flight)),
        ("throughput_rps".into(), Cell::Float(s.throughput_rps)),
        ("goodput_rps".into(), Cell::Float(s.goodput_rps)),
        ("slo_attainment".into(), opt(s.slo_attainment)),
        ("slo_ms".into(), Cell::Float(s.slo_ms)),
        ("latency_p50_ms".into(), lat(|l| l.p50)),
        ("latency_p90_ms".into(), lat(|l| l.p90)),
        ("latency_p99_ms".into(), lat(|l| l.p99)),
        ("latency_max_ms".into(), lat(|l| l.max)),
        ("latency_mean_ms".into(), lat(|l| l.mean)),
        ("memory_peak_bytes".into(), int(s.memory_peak_bytes)),
        ("memory_mean_bytes".into(), Cell::Float(s.memory_mean_bytes)),
    ];
    for (name, u) in &s.utilization {
        row.push((format!("utilization_{name}"), Cell::Float(*u)));
    }
    let instances: u64 = report
        .partitions
        .iter()
        .flat_map(|p| p.instances.values())
        .map(|&n| u64::from(n))
        .sum();
    // Mean time of one hand-off between partitions (every stage but the last hands its tensors
    // on), weighted by the requests each stage measured: the paper's Fig. 6 quantity.
    let handoffs = &s.stages[..s.stages.len().saturating_sub(1)];
    let (sum, n) = handoffs
        .iter()
        .fold((0.0, 0u64), |(sum, n), st| match st.mean_transfer_ms {
            Some(ms) => (sum + ms * st.requests as f64, n + st.requests),
            None => (sum, n),
        });
    row.push((
        "handoff_mean_ms".into(),
        opt((n > 0).then(|| sum / n as f64)),
    ));
    let outs = report.scaling_events.iter().filter(|e| e.delta > 0).count() as u64;
    let ins = report.scaling_events.iter().filter(|e| e.delta < 0).count() as u64;
    row.extend([
        ("instances_total".into(), int(instances)),
        ("scale_outs".into(), int(outs)),
        ("scale_ins".into(), int(ins)),
        ("refused_instances".into(), int(report.refused_instances)),
        (
            "isolated_latency_ms".into(),
            Cell::Float(report.isolated_latency_ms),
        ),
    ]);
    let accuracy = report.accuracy.as_ref();
    row.extend([
        (
            "served_accuracy_pct".into(),
            opt(accuracy.and_then(|a| a.served_percent)),
        ),
        (
            "accuracy_drop_pts".into(),
            opt(accuracy.and_then(|a| a.drop_points)),
        ),
    ]);
    // With several streams, each stream's figures (its name in the column's).
    for st in &report.streams {
        let p99 = opt(st.latency_ms.as_ref().map(|l| l.p99));
        row.extend([
            (format!("stream_{}_arrivals", st.name), int(st.arrivals)),
            (
                format!("stream_{}_goodput_rps", st.name),
                Cell::Float(st.goodput_rps),
            ),
            (
                format!("stream_{}_slo_attainment", st.name),
                opt(st.slo_attainment),
            ),
            (format!("stream_{}_latency_p99_ms", st.name), p99),
            (
                format!("stream_{}_served_accuracy_pct", st.name),
                opt(st.accuracy.as_ref().and_then(|a| a.served_percent)),
            ),
        ]);
    }
    row
}
