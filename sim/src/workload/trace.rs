//! Replay of request timestamps read from one column of a CSV file.
//!
//! Reads the Azure LLM inference trace 2023 as published (header
//! `TIMESTAMP,ContextTokens,GeneratedTokens`, timestamps `2023-11-16 18:15:46.6805900`, CRLF line
//! ends) as well as plain numeric columns in s, ms, us or ns. Times become relative to the first
//! arrival (or to the window start); rows out of order are sorted, and
//! [`TimestampTrace::rows_out_of_order`] (and [`TraceReplay::rows_out_of_order`]) says how many
//! were. Blank lines and lines starting with `#` are skipped; fields may be double-quoted.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::arrival::{ArrivalProcess, RequestTokens, RequestValues, WorkloadError, check_positive};
use crate::time::{NS_PER_S, SimDuration, SimTime};

/// `kind = "trace"`: replay the timestamps of one CSV column.
///
/// The window (`start_s`, `end_s`) is in seconds of the original trace, counted from its first
/// arrival, and keeps arrivals with `start_s ≤ t < end_s`; times are then counted from the window
/// start and divided by `rate_scale`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// The CSV file; relative paths are resolved against the scenario file's directory.
    pub path: PathBuf,
    /// Header name of the timestamp column; default: the first column (the header is then
    /// optional: a first line whose first field is not a timestamp is taken as the header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// How timestamps are written; default: detected from the first row (a datetime, else
    /// seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<TimeUnit>,
    /// Window start, seconds from the trace's first arrival; default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_s: Option<f64>,
    /// Window end (exclusive), seconds from the trace's first arrival; default: the whole trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_s: Option<f64>,
    /// Speed-up of the replay: 2.0 = twice as many requests per second (times divided by 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_scale: Option<f64>,
    /// Start the trace again when it is exhausted. The period is the window length
    /// (`end_s - start_s`) when `end_s` is given, else the span of the arrivals plus one mean
    /// gap, so the long-run rate is the trace's.
    #[serde(default)]
    pub loop_trace: bool,
    /// Header name of the column with each request's prompt tokens (read when the app takes
    /// its request sizes from the trace, `app.tokens = "trace"`; default `ContextTokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_column: Option<String>,
    /// Header name of the column with each request's generated tokens (default
    /// `GeneratedTokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_column: Option<String>,
    /// Header name of a column with each request's own objective, in milliseconds (decimal,
    /// > 0): it replaces the scenario's `[slo]` for that request. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_column: Option<String>,
    /// Header name of a column with the network delay each request spent before it reached the
    /// device, in milliseconds (decimal, ≥ 0): it replaces `[slo] network_delay` for that
    /// request. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_column: Option<String>,
}

/// How the timestamps of a trace column are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeUnit {
    /// `YYYY-MM-DD HH:MM:SS[.fraction]` (or `T` between date and time, optional `Z`), read as
    /// UTC; up to 9 fraction digits are kept (ns).
    #[serde(rename = "datetime")]
    Datetime,
    /// Decimal seconds.
    #[serde(rename = "s")]
    Seconds,
    /// Decimal milliseconds.
    #[serde(rename = "ms")]
    Milliseconds,
    /// Decimal microseconds.
    #[serde(rename = "us")]
    Microseconds,
    /// Decimal nanoseconds.
    #[serde(rename = "ns")]
    Nanoseconds,
}

impl TimeUnit {
    /// The power of ten that turns a number in this unit into ns (`None` for datetimes).
    fn ns_exponent(self) -> Option<i32> {
        match self {
            TimeUnit::Datetime => None,
            TimeUnit::Seconds => Some(9),
            TimeUnit::Milliseconds => Some(6),
            TimeUnit::Microseconds => Some(3),
            TimeUnit::Nanoseconds => Some(0),
        }
    }

    /// Parses one field in this unit to absolute ns; `Err` says what was expected.
    fn parse_ns(self, field: &str) -> Result<i64, String> {
        match self.ns_exponent() {
            None => parse_datetime_ns(field).ok_or_else(|| {
                format!("`{field}` is not a datetime `YYYY-MM-DD HH:MM:SS[.fraction]`")
            }),
            Some(exp) => parse_decimal_scaled(field, exp).ok_or_else(|| {
                format!(
                    "`{field}` is not a number of {} (time_unit = \"{}\")",
                    self.name(),
                    self.key()
                )
            }),
        }
    }

    fn key(self) -> &'static str {
        match self {
            TimeUnit::Datetime => "datetime",
            TimeUnit::Seconds => "s",
            TimeUnit::Milliseconds => "ms",
            TimeUnit::Microseconds => "us",
            TimeUnit::Nanoseconds => "ns",
        }
    }

    fn name(self) -> &'static str {
        match self {
            TimeUnit::Datetime => "datetime",
            TimeUnit::Seconds => "seconds",
            TimeUnit::Milliseconds => "milliseconds",
            TimeUnit::Microseconds => "microseconds",
            TimeUnit::Nanoseconds => "nanoseconds",
        }
    }
}

/// The prompt-token column of the Azure LLM inference trace 2023.
pub const DEFAULT_CONTEXT_COLUMN: &str = "ContextTokens";
/// The generated-token column of the Azure LLM inference trace 2023.
pub const DEFAULT_GENERATED_COLUMN: &str = "GeneratedTokens";

/// Arrival timestamps read from a CSV column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampTrace {
    /// Sorted arrival times in ns, relative to the first (so `times_ns[0] == 0`).
    pub times_ns: Vec<u64>,
    /// Each arrival's size, in the order of `times_ns`, when token columns were read.
    pub tokens: Option<Vec<RequestTokens>>,
    /// Each arrival's own objective, ns, in the order of `times_ns`, when an objective column
    /// was read.
    pub objectives_ns: Option<Vec<u64>>,
    /// Each arrival's network delay, ns, in the order of `times_ns`, when a delay column was
    /// read.
    pub delays_ns: Option<Vec<u64>>,
    /// How the column was read (given, or detected from its first row).
    pub time_unit: TimeUnit,
    /// Rows that came earlier than the row before them; the trace was sorted when > 0.
    pub rows_out_of_order: usize,
}

impl TimestampTrace {
    /// Time from the first to the last arrival, ns.
    pub fn span_ns(&self) -> u64 {
        self.times_ns.last().copied().unwrap_or(0)
    }
}

/// Reads the timestamps of `column` (default: the first) of the CSV file at `path`.
pub fn read_timestamp_csv(
    path: &Path,
    column: Option<&str>,
    time_unit: Option<TimeUnit>,
) -> Result<TimestampTrace, WorkloadError> {
    read_trace_csv(path, column, time_unit, RequestColumns::default())
}

/// Reads the CSV file at `path` as [`parse_trace_csv`] parses it.
pub fn read_trace_csv(
    path: &Path,
    column: Option<&str>,
    time_unit: Option<TimeUnit>,
    columns: RequestColumns<'_>,
) -> Result<TimestampTrace, WorkloadError> {
    let text = crate::input::read_to_string(path).map_err(|source| WorkloadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_trace_csv(&text, path, column, time_unit, columns)
}

/// Parses CSV `text` as [`read_timestamp_csv`] does; `path` is only used in error messages.
pub fn parse_timestamp_csv(
    text: &str,
    path: &Path,
    column: Option<&str>,
    time_unit: Option<TimeUnit>,
) -> Result<TimestampTrace, WorkloadError> {
    parse_trace_csv(text, path, column, time_unit, RequestColumns::default())
}

/// The header names of a trace's two size columns: prompt tokens, generated tokens.
#[derive(Clone, Copy, Debug)]
pub struct TokenColumns<'a> {
    /// Prompt (context) tokens.
    pub context: &'a str,
    /// Generated tokens.
    pub generated: &'a str,
}

/// The per-request columns of a trace to read beside its timestamps, by header name.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestColumns<'a> {
    /// Each request's size (two columns).
    pub tokens: Option<TokenColumns<'a>>,
    /// Each request's own objective, milliseconds.
    pub objective: Option<&'a str>,
    /// Each request's network delay before the device, milliseconds.
    pub delay: Option<&'a str>,
}

impl RequestColumns<'_> {
    fn any(&self) -> bool {
        self.tokens.is_some() || self.objective.is_some() || self.delay.is_some()
    }
}

/// Parses CSV `text` as [`parse_timestamp_csv`] does, and also each row's values of the
/// per-request `columns` (which then need a header line naming them).
pub fn parse_trace_csv<'a>(
    text: &str,
    path: &Path,
    column: Option<&str>,
    time_unit: Option<TimeUnit>,
    columns: RequestColumns<'a>,
) -> Result<TimestampTrace, WorkloadError> {
    let parse_err = |line: usize, message: String| WorkloadError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .peekable();

    // Which column, and whether the first line is a header.
    let (column_index, header_line) = match column {
        Some(name) => {
            let Some((line_no, header)) = lines.next() else {
                return Err(unusable(path, "the file has no header line".into()));
            };
            let names = split_fields(header);
            match names.iter().position(|n| *n == name) {
                Some(i) => (i, Some(line_no)),
                None => {
                    return Err(WorkloadError::InvalidField {
                        field: "column",
                        value: format!("\"{name}\""),
                        allowed: format!(
                            "is not a column of {} (line {line_no} has {})",
                            path.display(),
                            names.join(", ")
                        ),
                    });
                }
            }
        }
        None => (0, None),
    };
    let header_line = match header_line {
        Some(line) => Some(line),
        None => match lines.peek() {
            // No column named: the first line is a header if its field is not a timestamp.
            Some(&(line_no, first)) => {
                let field = nth_field(first, column_index).unwrap_or("");
                let is_timestamp = match time_unit {
                    Some(unit) => unit.parse_ns(field).is_ok(),
                    None => detect_unit(field).is_some(),
                };
                if is_timestamp {
                    None
                } else {
                    lines.next();
                    Some(line_no)
                }
            }
            None => None,
        },
    };

    let find = |name: &str, field: &'static str, what: &str| {
        find_column(text, path, header_line, name, field, what)
    };
    let token_indices = columns
        .tokens
        .map(|c| {
            let what = format!(
                "request sizes are read from the columns `{}` and `{}`",
                c.context, c.generated
            );
            Ok::<_, WorkloadError>((
                find(c.context, "context_column", &what)?,
                find(c.generated, "generated_column", &what)?,
                c,
            ))
        })
        .transpose()?;
    // A one-column value: its index and name, where the spec names it.
    let single = |name: Option<&'a str>, field: &'static str, what: &str| {
        name.map(|name| {
            let what = format!("{what} are read from the column `{name}`");
            find(name, field, &what).map(|i| (i, name))
        })
        .transpose()
    };
    let objective_index = single(columns.objective, "slo_column", "request objectives")?;
    let delay_index = single(columns.delay, "delay_column", "network delays")?;
    let millis = |line_no: usize, line: &str, (index, name): (usize, &str), least: &str| {
        let field = nth_field(line, index)
            .ok_or_else(|| parse_err(line_no, format!("has no column {} ({name})", index + 1)))?;
        match parse_decimal_scaled(field, 6) {
            Some(ns) if ns > 0 || (ns == 0 && least == "≥ 0") => Ok(ns as u64),
            _ => Err(parse_err(
                line_no,
                format!("{name} `{field}` is not a number of milliseconds {least}"),
            )),
        }
    };
    let mut sizes: Vec<RequestTokens> = Vec::new();
    let mut objectives_ns: Vec<u64> = Vec::new();
    let mut delays_ns: Vec<u64> = Vec::new();
    let mut unit = time_unit;
    let mut absolute_ns: Vec<i64> = Vec::with_capacity(text.len() / 32);
    for (line_no, line) in lines {
        if let Some((ci, gi, columns)) = token_indices {
            let count = |index: usize, name: &str| -> Result<u32, WorkloadError> {
                let field = nth_field(line, index).ok_or_else(|| {
                    parse_err(line_no, format!("has no column {} ({name})", index + 1))
                })?;
                field.parse::<u32>().map_err(|_| {
                    parse_err(
                        line_no,
                        format!("{name} `{field}` is not a whole number of tokens ≥ 0"),
                    )
                })
            };
            sizes.push(RequestTokens {
                context: count(ci, columns.context)?,
                generated: count(gi, columns.generated)?,
            });
        }
        if let Some(column) = objective_index {
            objectives_ns.push(millis(line_no, line, column, "> 0")?);
        }
        if let Some(column) = delay_index {
            delays_ns.push(millis(line_no, line, column, "≥ 0")?);
        }
        let field = nth_field(line, column_index).ok_or_else(|| {
            parse_err(
                line_no,
                format!("has no column {} (the timestamp column)", column_index + 1),
            )
        })?;
        let unit = *unit.get_or_insert_with(|| detect_unit(field).unwrap_or(TimeUnit::Seconds));
        let t = unit.parse_ns(field).map_err(|m| parse_err(line_no, m))?;
        absolute_ns.push(t);
    }
    // No rows: `unit` is still set when `time_unit` was given.
    let Some(unit) = unit.filter(|_| !absolute_ns.is_empty()) else {
        let after = header_line.map_or(String::new(), |l| format!(" after the header (line {l})"));
        return Err(unusable(path, format!("no timestamps{after}")));
    };

    let rows_out_of_order = absolute_ns.windows(2).filter(|w| w[1] < w[0]).count();
    if rows_out_of_order > 0 {
        if columns.any() {
            // Per-request values travel with their rows; equal times keep their file order.
            let mut order: Vec<usize> = (0..absolute_ns.len()).collect();
            order.sort_by_key(|&i| absolute_ns[i]);
            absolute_ns = permuted(&absolute_ns, &order);
            sizes = permuted(&sizes, &order);
            objectives_ns = permuted(&objectives_ns, &order);
            delays_ns = permuted(&delays_ns, &order);
        } else {
            absolute_ns.sort_unstable();
        }
    }
    let first = absolute_ns[0];
    let times_ns = absolute_ns
        .iter()
        .map(|&t| t.abs_diff(first))
        .collect::<Vec<u64>>();
    Ok(TimestampTrace {
        times_ns,
        tokens: token_indices.map(|_| sizes),
        objectives_ns: objective_index.map(|_| objectives_ns),
        delays_ns: delay_index.map(|_| delays_ns),
        time_unit: unit,
        rows_out_of_order,
    })
}

/// `values` in the `order` of indices (empty stays empty: a column not read).
fn permuted<T: Copy>(values: &[T], order: &[usize]) -> Vec<T> {
    if values.is_empty() {
        return Vec::new();
    }
    order.iter().map(|&i| values[i]).collect()
}

/// The index of column `name` in the header at line `header_line`; `field` is the spec's key
/// that named it and `what` says what the column is read for.
fn find_column(
    text: &str,
    path: &Path,
    header_line: Option<usize>,
    name: &str,
    field: &'static str,
    what: &str,
) -> Result<usize, WorkloadError> {
    let Some(line_no) = header_line else {
        return Err(unusable(
            path,
            format!("{what}, but the file has no header line to name columns by"),
        ));
    };
    let header = text.lines().nth(line_no - 1).unwrap_or("");
    let names = split_fields(header);
    names
        .iter()
        .position(|n| *n == name)
        .ok_or_else(|| WorkloadError::InvalidField {
            field,
            value: format!("\"{name}\""),
            allowed: format!(
                "is not a column of {} (line {line_no} has {})",
                path.display(),
                names.join(", ")
            ),
        })
}

fn unusable(path: &Path, message: String) -> WorkloadError {
    WorkloadError::Unusable {
        path: path.to_path_buf(),
        message,
    }
}

/// The unit of a field when none is given: a datetime if it parses as one, else seconds if it is
/// a number.
fn detect_unit(field: &str) -> Option<TimeUnit> {
    if parse_datetime_ns(field).is_some() {
        Some(TimeUnit::Datetime)
    } else if parse_decimal_scaled(field, 9).is_some() {
        Some(TimeUnit::Seconds)
    } else {
        None
    }
}

/// The `index`-th comma-separated field of `line`, trimmed and without surrounding quotes.
fn nth_field(line: &str, index: usize) -> Option<&str> {
    let mut in_quotes = false;
    let mut field = 0;
    let mut start = 0;
    for (i, b) in line.bytes().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                if field == index {
                    return Some(clean_field(&line[start..i]));
                }
                field += 1;
                start = i + 1;
            }
            _ => {}
        }
    }
    (field == index).then(|| clean_field(&line[start..]))
}

fn split_fields(line: &str) -> Vec<&str> {
    (0..).map_while(|i| nth_field(line, i)).collect::<Vec<_>>()
}

fn clean_field(raw: &str) -> &str {
    let t = raw.trim();
    t.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(t)
}

/// A decimal number (`12`, `-3.25`, `1.5e3`) times 10^`exp10`, rounded to an integer; `None` if
/// malformed or out of the i64 range. Exact: no binary floating point on the way.
fn parse_decimal_scaled(s: &str, exp10: i32) -> Option<i64> {
    let (negative, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut digits: i128 = 0;
    let mut significant = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        if digits > 0 || b != b'0' {
            significant += 1;
        }
        if significant > 36 {
            return None;
        }
        digits = digits * 10 + i128::from(b - b'0');
    }
    let shift = exponent.checked_add(exp10)? - frac_part.len() as i32;
    let scaled = if shift >= 0 {
        digits.checked_mul(10i128.checked_pow(shift as u32)?)?
    } else {
        match 10i128.checked_pow(shift.unsigned_abs()) {
            // Round half away from zero (digits ≥ 0 here; the divisor is even).
            Some(divisor) => (digits / divisor) + i128::from(digits % divisor >= divisor / 2),
            // Below 10^-38 of the unit: digits < 10^36, so it rounds to zero.
            None => 0,
        }
    };
    let signed = if negative { -scaled } else { scaled };
    i64::try_from(signed).ok()
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (also `T` between date and time and an optional `Z`), as ns
/// since 1970-01-01 00:00:00 UTC; `None` if malformed or outside the i64 range (years 1677 to
/// 2262). Fraction digits past the ninth are dropped.
fn parse_datetime_ns(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut frac_ns: i64 = 0;
    if b.len() > 19 {
        let frac = s[19..].strip_prefix('.')?;
        if frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        for (i, c) in frac.bytes().take(9).enumerate() {
            frac_ns += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
        }
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3_600 + minute * 60 + second);
    // Outside 1677-09-21 … 2262-04-11 the ns do not fit an i64.
    secs.checked_mul(NS_PER_S as i64)?.checked_add(frac_ns)
}

fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
/// Date Algorithms", `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl TraceSpec {
    /// Checks the numbers of the spec (the file is checked by [`TraceSpec::build`]).
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if self.path.as_os_str().is_empty() {
            return Err(WorkloadError::invalid(
                "path",
                "\"\"",
                "must name a CSV file",
            ));
        }
        if let Some(column) = self.column.as_ref().filter(|c| c.trim().is_empty()) {
            return Err(WorkloadError::invalid(
                "column",
                format!("\"{column}\""),
                "must name a column of the header, or be left out for the first column",
            ));
        }
        for (field, name) in [
            ("context_column", &self.context_column),
            ("generated_column", &self.generated_column),
            ("slo_column", &self.slo_column),
            ("delay_column", &self.delay_column),
        ] {
            if let Some(name) = name.as_ref().filter(|c| c.trim().is_empty()) {
                return Err(WorkloadError::invalid(
                    field,
                    format!("\"{name}\""),
                    "must name a column of the header",
                ));
            }
        }
        if let Some(start_s) = self.start_s.filter(|s| !(s.is_finite() && *s >= 0.0)) {
            return Err(WorkloadError::invalid(
                "start_s",
                start_s,
                "must be a finite number of seconds ≥ 0",
            ));
        }
        if let Some(end_s) = self.end_s {
            let start_s = self.start_s.unwrap_or(0.0);
            if !(end_s.is_finite() && end_s > start_s) {
                return Err(WorkloadError::invalid(
                    "end_s",
                    end_s,
                    format!("must be a finite number of seconds > workload.start_s ({start_s})"),
                ));
            }
        }
        if let Some(scale) = self.rate_scale {
            check_positive("rate_scale", scale)?;
        }
        Ok(())
    }

    /// The size columns to read: given when either is named (the other then has its default).
    pub fn token_columns(&self) -> Option<TokenColumns<'_>> {
        (self.context_column.is_some() || self.generated_column.is_some()).then(|| TokenColumns {
            context: self
                .context_column
                .as_deref()
                .unwrap_or(DEFAULT_CONTEXT_COLUMN),
            generated: self
                .generated_column
                .as_deref()
                .unwrap_or(DEFAULT_GENERATED_COLUMN),
        })
    }

    /// Every per-request column the spec names.
    pub fn request_columns(&self) -> RequestColumns<'_> {
        RequestColumns {
            tokens: self.token_columns(),
            objective: self.slo_column.as_deref(),
            delay: self.delay_column.as_deref(),
        }
    }

    /// Reads the trace (relative paths against `base_dir`) and builds its replay.
    pub fn build(&self, base_dir: &Path) -> Result<TraceReplay, WorkloadError> {
        self.validate()?;
        let path = base_dir.join(&self.path);
        let trace = read_trace_csv(
            &path,
            self.column.as_deref(),
            self.time_unit,
            self.request_columns(),
        )?;
        self.replay(&trace, &path)
    }

    /// The replay of an already-read `trace` (read from `path`, named in errors).
    pub fn replay(
        &self,
        trace: &TimestampTrace,
        path: &Path,
    ) -> Result<TraceReplay, WorkloadError> {
        self.validate()?;
        let secs_to_ns = |s: f64| (s * NS_PER_S as f64).round() as u64;
        let start_ns = self.start_s.map_or(0, secs_to_ns);
        let end_ns = self.end_s.map(secs_to_ns);
        let scale = self.rate_scale.unwrap_or(1.0);
        let scaled = |t_ns: u64| (t_ns as f64 / scale).round() as u64;
        let in_window = |t: u64| t >= start_ns && end_ns.is_none_or(|end| t < end);
        let times_ns: Vec<u64> = trace
            .times_ns
            .iter()
            .copied()
            .filter(|&t| in_window(t))
            .map(|t| scaled(t - start_ns))
            .collect();
        // A per-request column, cut to the window.
        fn windowed<T: Copy>(
            times_ns: &[u64],
            values: Option<&Vec<T>>,
            in_window: impl Fn(u64) -> bool,
        ) -> Option<Vec<T>> {
            values.map(|values| {
                times_ns
                    .iter()
                    .zip(values)
                    .filter(|&(&t, _)| in_window(t))
                    .map(|(_, &v)| v)
                    .collect()
            })
        }
        let tokens = windowed(&trace.times_ns, trace.tokens.as_ref(), in_window);
        let objectives_ns = windowed(&trace.times_ns, trace.objectives_ns.as_ref(), in_window);
        let delays_ns = windowed(&trace.times_ns, trace.delays_ns.as_ref(), in_window);
        let (Some(&first), Some(&last)) = (times_ns.first(), times_ns.last()) else {
            return Err(unusable(
                path,
                format!(
                    "no arrivals in the window workload.start_s = {} s to workload.end_s = {}; \
                     the trace spans 0 s to {:.3} s",
                    self.start_s.unwrap_or(0.0),
                    self.end_s.map_or("(end)".to_string(), |e| format!("{e} s")),
                    trace.span_ns() as f64 / NS_PER_S as f64
                ),
            ));
        };
        let period_ns = if !self.loop_trace {
            None
        } else if let Some(end_ns) = end_ns {
            Some(scaled(end_ns - start_ns))
        } else if times_ns.len() >= 2 {
            // Saturates for a span near u64::MAX ns: the replay then ends after one pass.
            Some(last.saturating_add((last - first) / (times_ns.len() as u64 - 1)))
        } else {
            Some(0)
        };
        if period_ns == Some(0) {
            return Err(WorkloadError::invalid(
                "loop_trace",
                true,
                "needs a window (workload.end_s) or a trace whose arrivals span a positive time",
            ));
        }
        Ok(TraceReplay {
            times_ns,
            tokens,
            objectives_ns,
            delays_ns,
            period_ns,
            rows_out_of_order: trace.rows_out_of_order,
            next_index: 0,
            cycle_offset_ns: 0,
        })
    }
}

/// Replays a trace's arrival times, once or in a loop.
#[derive(Clone, Debug)]
pub struct TraceReplay {
    /// Sorted times of one pass, ns.
    times_ns: Vec<u64>,
    /// Each arrival's size, in the order of `times_ns`, when the trace has token columns.
    tokens: Option<Vec<RequestTokens>>,
    /// Each arrival's own objective, ns, when the trace has an objective column.
    objectives_ns: Option<Vec<u64>>,
    /// Each arrival's network delay, ns, when the trace has a delay column.
    delays_ns: Option<Vec<u64>>,
    /// Time between the starts of two passes when looping.
    period_ns: Option<u64>,
    rows_out_of_order: usize,
    next_index: usize,
    cycle_offset_ns: u64,
}

impl TraceReplay {
    /// Arrivals in one pass of the trace.
    pub fn arrivals_per_pass(&self) -> usize {
        self.times_ns.len()
    }

    /// Each arrival's size in one pass, when the trace was read with token columns.
    pub fn tokens(&self) -> Option<&[RequestTokens]> {
        self.tokens.as_deref()
    }

    /// The mean of the objectives of one pass, when the trace has an objective column.
    pub fn mean_objective(&self) -> Option<SimDuration> {
        let values = self.objectives_ns.as_ref().filter(|v| !v.is_empty())?;
        let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
        Some(SimDuration::from_ns((sum / values.len() as u128) as u64))
    }

    /// Rows of the file that were out of time order (the trace was sorted when > 0), for the
    /// caller to report.
    pub fn rows_out_of_order(&self) -> usize {
        self.rows_out_of_order
    }
}

impl ArrivalProcess for TraceReplay {
    fn next_arrival(&mut self) -> Option<SimTime> {
        if self.next_index == self.times_ns.len() {
            self.cycle_offset_ns = self.cycle_offset_ns.checked_add(self.period_ns?)?;
            self.next_index = 0;
        }
        let t = self.times_ns[self.next_index].checked_add(self.cycle_offset_ns)?;
        self.next_index += 1;
        Some(SimTime(t))
    }

    fn last_request(&self) -> RequestValues {
        let Some(i) = self.next_index.checked_sub(1) else {
            return RequestValues::default();
        };
        RequestValues {
            tokens: self.tokens.as_ref().and_then(|v| v.get(i).copied()),
            objective: self
                .objectives_ns
                .as_ref()
                .and_then(|v| v.get(i).map(|&ns| SimDuration::from_ns(ns))),
            network_delay: self
                .delays_ns
                .as_ref()
                .and_then(|v| v.get(i).map(|&ns| SimDuration::from_ns(ns))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_TRACE: &str = "azure-llm-inference-2023-conv.csv";

    /// The shared real trace: `shared/traces/` beside the checkout or above it, or under
    /// `$INFSCALER_SHARED_DIR/traces/`.
    /// The copy of the real trace shipped with the scenarios.
    fn real_trace_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/traces")
            .join(REAL_TRACE)
    }

    fn parse(text: &str, column: Option<&str>, unit: Option<TimeUnit>) -> TimestampTrace {
        parse_timestamp_csv(text, Path::new("t.csv"), column, unit).expect("parses")
    }

    fn spec(path: &str) -> TraceSpec {
        TraceSpec {
            path: PathBuf::from(path),
            column: None,
            time_unit: None,
            start_s: None,
            end_s: None,
            rate_scale: None,
            loop_trace: false,
            context_column: None,
            generated_column: None,
            slo_column: None,
            delay_column: None,
        }
    }

    fn drain(replay: &mut TraceReplay) -> Vec<u64> {
        std::iter::from_fn(|| replay.next_arrival())
            .map(SimTime::as_ns)
            .collect()
    }

    #[test]
    fn datetimes_are_exact_to_the_nanosecond() {
        assert_eq!(parse_datetime_ns("1970-01-01 00:00:00"), Some(0));
        // `date -u -d @1700092800` = Thu Nov 16 00:00:00 UTC 2023.
        assert_eq!(
            parse_datetime_ns("2023-11-16 00:00:00.5"),
            Some(1_700_092_800 * NS_PER_S as i64 + 500_000_000)
        );
        assert_eq!(
            parse_datetime_ns("2023-11-16T18:15:46.6805900Z"),
            Some((1_700_092_800 + 18 * 3600 + 15 * 60 + 46) * NS_PER_S as i64 + 680_590_000)
        );
        assert_eq!(
            parse_datetime_ns("2024-02-29 00:00:00"),
            Some(1_709_164_800 * 1_000_000_000)
        );
        for bad in [
            "2023-02-29 00:00:00",
            "2023-13-01 00:00:00",
            "2023-11-16 24:00:00",
            "2023-11-16 18:15:46.",
            "2023-11-16 18:15:46,5",
            "2023/11/16 18:15:46",
            "18:15:46",
        ] {
            assert_eq!(parse_datetime_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn decimals_are_exact_in_every_unit() {
        assert_eq!(parse_decimal_scaled("1.5", 9), Some(1_500_000_000));
        assert_eq!(
            parse_decimal_scaled("1700092800.123456789", 9),
            Some(1_700_092_800_123_456_789)
        );
        assert_eq!(parse_decimal_scaled("2.5e-3", 9), Some(2_500_000));
        assert_eq!(parse_decimal_scaled("-7", 6), Some(-7_000_000));
        assert_eq!(parse_decimal_scaled(".25", 3), Some(250));
        assert_eq!(parse_decimal_scaled("0.0000000015", 9), Some(2));
        assert_eq!(parse_decimal_scaled("1e20", 9), None);
        for bad in ["", ".", "1.2.3", "abc", "1e", "--1", "1,5"] {
            assert_eq!(parse_decimal_scaled(bad, 9), None, "{bad}");
        }
    }

    #[test]
    fn numeric_columns_with_units_and_headers() {
        let t = parse("0.5\n1.25\n3\n", None, None);
        assert_eq!(t.times_ns, vec![0, 750_000_000, 2_500_000_000]);
        assert_eq!(t.time_unit, TimeUnit::Seconds);
        let t = parse(
            "id,arrival_ms\n7,1000\n8,1002.5\n",
            Some("arrival_ms"),
            Some(TimeUnit::Milliseconds),
        );
        assert_eq!(t.times_ns, vec![0, 2_500_000]);
        let t = parse("time_us\n10\n\n40\n", None, Some(TimeUnit::Microseconds));
        assert_eq!(t.times_ns, vec![0, 30_000]);
        let t = parse(
            "\"t\"\r\n\"5\"\r\n\"6\"\r\n",
            None,
            Some(TimeUnit::Nanoseconds),
        );
        assert_eq!(t.times_ns, vec![0, 1]);
    }

    #[test]
    fn unsorted_rows_are_sorted_and_counted() {
        let t = parse("t\n5\n3\n4\n9\n1\n", None, None);
        assert_eq!(
            t.times_ns,
            vec![
                0,
                2_000_000_000,
                3_000_000_000,
                4_000_000_000,
                8_000_000_000
            ]
        );
        assert_eq!(t.rows_out_of_order, 2);
        let replay = spec("t.csv").replay(&t, Path::new("t.csv")).expect("ok");
        assert_eq!(replay.rows_out_of_order(), 2);
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let err = parse_timestamp_csv("t\n1\n2\nabc\n", Path::new("x.csv"), None, None)
            .expect_err("bad row");
        assert!(
            matches!(err, WorkloadError::Parse { line: 4, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.starts_with("x.csv:4:") && msg.contains("abc"), "{msg}");

        let err = parse_timestamp_csv(
            "TIMESTAMP,N\n2023-11-16 18:15:46.6805900,1\n2023-11-16 18:15:4x,2\n",
            Path::new("x.csv"),
            None,
            None,
        )
        .expect_err("bad datetime");
        assert!(err.to_string().starts_with("x.csv:3:"), "{err}");
        assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");

        let err = parse_timestamp_csv("a,b\n1,2\n", Path::new("x.csv"), Some("c"), None)
            .expect_err("no such column");
        let msg = err.to_string();
        assert!(
            msg.starts_with("workload.column") && msg.contains("a, b"),
            "{msg}"
        );

        let err = parse_timestamp_csv("a,b\n1,2\n3\n", Path::new("x.csv"), Some("b"), None)
            .expect_err("short row");
        assert!(err.to_string().starts_with("x.csv:3:"), "{err}");

        let err = parse_timestamp_csv("time\n", Path::new("x.csv"), None, None).expect_err("empty");
        assert!(err.to_string().contains("no timestamps"), "{err}");

        let err = spec("surely/missing/trace.csv")
            .build(Path::new("/nonexistent-dir"))
            .expect_err("missing file");
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot read trace file")
                && msg.contains("/nonexistent-dir/surely/missing/trace.csv"),
            "{msg}"
        );
    }

    #[test]
    fn bad_window_and_scale_are_rejected() {
        let mut s = spec("t.csv");
        s.start_s = Some(10.0);
        s.end_s = Some(5.0);
        assert!(
            s.validate()
                .expect_err("window")
                .to_string()
                .starts_with("workload.end_s")
        );
        let mut s = spec("t.csv");
        s.rate_scale = Some(0.0);
        assert!(
            s.validate()
                .expect_err("scale")
                .to_string()
                .starts_with("workload.rate_scale")
        );
        let mut s = spec("t.csv");
        s.start_s = Some(-1.0);
        assert!(
            s.validate()
                .expect_err("start")
                .to_string()
                .starts_with("workload.start_s")
        );
    }

    #[test]
    fn window_scale_and_loop() {
        let trace = parse("s\n100\n101\n102.5\n104\n110\n", None, None);
        let path = Path::new("t.csv");
        // Window [1 s, 4 s) of the trace → arrivals at 1, 2.5 s → 0, 1.5 s from the window start.
        let mut s = spec("t.csv");
        s.start_s = Some(1.0);
        s.end_s = Some(4.0);
        assert_eq!(
            drain(&mut s.replay(&trace, path).expect("ok")),
            vec![0, 1_500_000_000]
        );
        // Twice the rate: half the times.
        s.rate_scale = Some(2.0);
        assert_eq!(
            drain(&mut s.replay(&trace, path).expect("ok")),
            vec![0, 750_000_000]
        );
        // Looping with a window: period (4 - 1) s / 2.
        s.loop_trace = true;
        let mut replay = s.replay(&trace, path).expect("ok");
        let times: Vec<u64> = (0..5)
            .map(|_| replay.next_arrival().expect("loops").as_ns())
            .collect();
        assert_eq!(
            times,
            vec![0, 750_000_000, 1_500_000_000, 2_250_000_000, 3_000_000_000]
        );
        // Looping without a window: period = span + mean gap = 10 + 10/4 s.
        let mut s = spec("t.csv");
        s.loop_trace = true;
        let mut replay = s.replay(&trace, path).expect("ok");
        let times: Vec<u64> = (0..6)
            .map(|_| replay.next_arrival().expect("loops").as_ns())
            .collect();
        assert_eq!(times[5], 12_500_000_000);
        // An empty window is an error that says what the trace spans.
        let mut s = spec("t.csv");
        s.start_s = Some(20.0);
        let msg = s.replay(&trace, path).expect_err("empty").to_string();
        assert!(
            msg.contains("no arrivals") && msg.contains("10.000 s"),
            "{msg}"
        );
    }

    #[test]
    fn real_azure_llm_trace_loads() {
        let path = real_trace_path();
        let trace = read_timestamp_csv(&path, None, None).expect("real trace parses");
        assert_eq!(trace.times_ns.len(), 19_366);
        assert_eq!(trace.time_unit, TimeUnit::Datetime);
        assert_eq!(trace.rows_out_of_order, 0);
        assert_eq!(trace.times_ns[0], 0);
        // First row 18:15:46.6805900, last 19:14:08.4025270 → 3,501.722 s.
        assert_eq!(trace.span_ns(), 3_501_721_937_000);
        let named = read_timestamp_csv(&path, Some("TIMESTAMP"), Some(TimeUnit::Datetime))
            .expect("named column");
        assert_eq!(named, trace);

        let dir = path.parent().expect("in a folder");
        let mut s = spec(REAL_TRACE);
        let full = drain(&mut s.build(dir).expect("builds"));
        assert_eq!(full, trace.times_ns);
        s.rate_scale = Some(2.0);
        let fast = drain(&mut s.build(dir).expect("builds"));
        assert_eq!(fast.len(), 19_366);
        assert_eq!(*fast.last().expect("arrivals"), 3_501_721_937_000 / 2);

        let mut s = spec(REAL_TRACE);
        s.start_s = Some(600.0);
        s.end_s = Some(1200.0);
        let window = drain(&mut s.build(dir).expect("builds"));
        let inside: Vec<u64> = trace
            .times_ns
            .iter()
            .filter(|&&t| (600 * NS_PER_S..1200 * NS_PER_S).contains(&t))
            .map(|t| t - 600 * NS_PER_S)
            .collect();
        assert!(!inside.is_empty());
        assert_eq!(window, inside);
        assert!(window.iter().all(|&t| t < 600 * NS_PER_S));
    }

    #[test]
    fn objective_and_delay_columns_travel_with_their_rows_and_window() {
        let text = "t,slo,hop\n0,100,1.5\n3,30,0\n1,50.25,2\n2,70,0\n";
        let columns = RequestColumns {
            tokens: None,
            objective: Some("slo"),
            delay: Some("hop"),
        };
        let trace =
            parse_trace_csv(text, Path::new("t.csv"), Some("t"), None, columns).expect("parses");
        assert_eq!(trace.rows_out_of_order, 1);
        let ms = |v: f64| (v * 1e6) as u64;
        assert_eq!(
            trace.objectives_ns,
            Some(vec![ms(100.0), ms(50.25), ms(70.0), ms(30.0)])
        );
        assert_eq!(trace.delays_ns, Some(vec![ms(1.5), ms(2.0), 0, 0]));
        // The window [1 s, 3 s) keeps the second and third arrivals, with their values.
        let mut window = spec("t.csv");
        window.start_s = Some(1.0);
        window.end_s = Some(3.0);
        let mut replay = window.replay(&trace, Path::new("t.csv")).expect("replays");
        assert_eq!(replay.last_request(), RequestValues::default());
        assert_eq!(
            replay.mean_objective(),
            Some(SimDuration::from_ns(ms(60.125)))
        );
        assert_eq!(replay.next_arrival(), Some(SimTime(0)));
        let first = replay.last_request();
        assert_eq!(first.objective, Some(SimDuration::from_ns(ms(50.25))));
        assert_eq!(first.network_delay, Some(SimDuration::from_ms(2)));
        assert_eq!(first.tokens, None);
        assert_eq!(replay.next_arrival(), Some(SimTime(NS_PER_S)));
        assert_eq!(
            replay.last_request().objective,
            Some(SimDuration::from_ms(70))
        );
        // No header: the columns cannot be found.
        let e = parse_trace_csv("0\n1\n", Path::new("t.csv"), None, None, columns)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column `slo`") && e.contains("no header line"),
            "{e}"
        );
    }
}
