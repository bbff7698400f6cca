//! Results files: rows of a sweep as Parquet, CSV or JSON lines, through polars.
//!
//! A row is an ordered list of `(column, cell)` pairs ([`infscaler_sim::report::row::Cell`]). A table's
//! columns are the union of its rows' columns in first-seen order; a column's type is the
//! narrowest that holds all its cells: booleans, integers, floats (integers and floats mixed), or
//! strings (anything else mixed: every cell as text). A missing or null cell is null.
//!
//! The format of a file is its extension: `.parquet`, `.csv` or `.jsonl`. Every write is atomic.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use polars::prelude::*;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use infscaler_sim::report::row::Cell;

use crate::{ResultsError, atomic};

/// One results row: `(column, cell)` in column order.
pub type Row = Vec<(String, Cell)>;

/// A results file format, chosen by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet (zstd-compressed).
    Parquet,
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// The extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    /// The extensions of the formats, as error messages list them.
    pub const ALLOWED_EXTENSIONS: &str = ".parquet, .csv, .jsonl";

    /// The format of `path`, by its extension.
    pub fn of(path: &Path) -> Result<Format, ResultsError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("parquet") => Ok(Format::Parquet),
            Some("csv") => Ok(Format::Csv),
            Some("jsonl") => Ok(Format::Jsonl),
            _ => Err(ResultsError::UnknownFormat {
                path: path.to_path_buf(),
                extension: path.extension().map(|e| e.to_string_lossy().into_owned()),
            }),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// A row deserialised from a JSON object with its keys in file order.
struct OrderedRow(Row);

impl<'de> Deserialize<'de> for OrderedRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = OrderedRow;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of scalar values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedRow, A::Error> {
                let mut row = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some((k, v)) = map.next_entry::<String, Cell>()? {
                    row.push((k, v));
                }
                Ok(OrderedRow(row))
            }
        }
        d.deserialize_map(RowVisitor)
    }
}

/// Parses one JSON line into a row, keeping its key order.
pub fn parse_row(line: &str) -> Result<Row, serde_json::Error> {
    serde_json::from_str::<OrderedRow>(line).map(|r| r.0)
}

/// One row as a JSON object with its keys in column order.
pub fn json_line(row: &[(String, Cell)]) -> Result<String, ResultsError> {
    let mut s = String::from("{");
    for (i, (k, v)) in row.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::to_string(k)?);
        s.push(':');
        s.push_str(&serde_json::to_string(v)?);
    }
    s.push('}');
    Ok(s)
}

/// The cell a CSV field stands for: a boolean, an integer, a float (written with a point, an
/// exponent, or as inf/NaN), else text — so an integer too large for i64 stays text, exactly.
fn parse_cell(s: &str) -> Cell {
    match s {
        "" => Cell::Null,
        "true" => Cell::Bool(true),
        "false" => Cell::Bool(false),
        _ => {
            if let Ok(i) = s.parse::<i64>() {
                Cell::Int(i)
            } else if let Ok(x) = s.parse::<f64>()
                && (s.contains(['.', 'e', 'E']) || x.is_nan() || x.is_infinite())
            {
                Cell::Float(x)
            } else {
                Cell::Str(s.to_string())
            }
        }
    }
}

/// The narrowest column type holding a set of cells.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Empty,
    Bool,
    Int,
    Float,
    Text,
}

fn kind(cell: &Cell) -> Kind {
    match cell {
        Cell::Null => Kind::Empty,
        Cell::Bool(_) => Kind::Bool,
        Cell::Int(_) => Kind::Int,
        Cell::Float(_) => Kind::Float,
        Cell::Str(_) => Kind::Text,
    }
}

fn join(a: Kind, b: Kind) -> Kind {
    match (a, b) {
        (Kind::Empty, k) | (k, Kind::Empty) => k,
        (a, b) if a == b => a,
        (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => Kind::Float,
        _ => Kind::Text,
    }
}

/// The table of `rows` (see the module documentation for columns and types).
pub fn frame(rows: &[Row]) -> Result<DataFrame, ResultsError> {
    let mut names: Vec<&str> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for row in rows {
        for (k, _) in row {
            if !index.contains_key(k.as_str()) {
                index.insert(k, names.len());
                names.push(k);
            }
        }
    }
    // cells[c][r]: the cell of column c in row r.
    let mut cells: Vec<Vec<Option<&Cell>>> = vec![vec![None; rows.len()]; names.len()];
    for (r, row) in rows.iter().enumerate() {
        for (k, v) in row {
            cells[index[k.as_str()]][r] = Some(v);
        }
    }
    let columns = names
        .iter()
        .zip(&cells)
        .map(|(&name, col)| column(name, col))
        .collect();
    Ok(DataFrame::new(rows.len(), columns)?)
}

fn column(name: &str, cells: &[Option<&Cell>]) -> Column {
    let k = cells
        .iter()
        .flatten()
        .fold(Kind::Empty, |acc, c| join(acc, kind(c)));
    let name = PlSmallStr::from(name);
    match k {
        Kind::Bool => Column::new(
            name,
            cells
                .iter()
                .map(|c| match c {
                    Some(Cell::Bool(b)) => Some(*b),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Kind::Int => Column::new(
            name,
            cells
                .iter()
                .map(|c| match c {
                    Some(Cell::Int(i)) => Some(*i),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Kind::Float => Column::new(
            name,
            cells
                .iter()
                .map(|c| match c {
                    Some(Cell::Int(i)) => Some(*i as f64),
                    Some(Cell::Float(x)) => Some(*x),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Kind::Text | Kind::Empty => Column::new(
            name,
            cells
                .iter()
                .map(|c| match c {
                    None | Some(Cell::Null) => None,
                    Some(other) => Some(other.to_string()),
                })
                .collect::<Vec<_>>(),
        ),
    }
}

/// The rows of a table (nulls dropped from each row, but for columns of nulls only), the
/// inverse of [`frame`].
pub fn rows(df: &DataFrame) -> Result<Vec<Row>, ResultsError> {
    let mut out: Vec<Row> = vec![Vec::with_capacity(df.width()); df.height()];
    for col in df.columns() {
        let name = col.name().to_string();
        let cells: Vec<Cell> = match col.dtype() {
            DataType::Boolean => col
                .bool()?
                .iter()
                .map(|v| v.map_or(Cell::Null, Cell::Bool))
                .collect(),
            DataType::Float32 | DataType::Float64 => col
                .cast(&DataType::Float64)?
                .f64()?
                .iter()
                .map(|v| v.map_or(Cell::Null, Cell::Float))
                .collect(),
            dt if dt.is_integer() => col
                .cast(&DataType::Int64)?
                .i64()?
                .iter()
                .map(|v| v.map_or(Cell::Null, Cell::Int))
                .collect(),
            _ => col
                .cast(&DataType::String)?
                .str()?
                .iter()
                .map(|v| v.map_or(Cell::Null, |s| Cell::Str(s.to_string())))
                .collect(),
        };
        // A column with no value at all keeps its nulls, so that it survives a round trip
        // (a sweep's table read back and merged has the columns it was written with).
        let all_null = cells.iter().all(|c| *c == Cell::Null);
        for (row, cell) in out.iter_mut().zip(cells) {
            if all_null || cell != Cell::Null {
                row.push((name.clone(), cell));
            }
        }
    }
    Ok(out)
}

/// Writes `df` to `path` atomically, in the format of its extension.
pub fn write(df: &mut DataFrame, path: &Path) -> Result<(), ResultsError> {
    let format = Format::of(path)?;
    atomic::write_with(path, |w| {
        match format {
            Format::Parquet => {
                ParquetWriter::new(&mut *w)
                    .with_compression(ParquetCompression::Zstd(None))
                    .finish(df)?;
            }
            Format::Csv => CsvWriter::new(&mut *w).include_header(true).finish(df)?,
            Format::Jsonl => {
                for row in rows(df)? {
                    writeln!(w, "{}", json_line(&row)?)
                        .map_err(|e| ResultsError::io("writing", path, e))?;
                }
            }
        }
        Ok(())
    })
    .map_err(|source| ResultsError::Write {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// Reads a results file in the format of its extension.
pub fn read(path: &Path) -> Result<DataFrame, ResultsError> {
    let format = Format::of(path)?;
    read_as(path, format).map_err(|source| ResultsError::Read {
        path: path.to_path_buf(),
        format,
        source: Box::new(source),
    })
}

fn read_as(path: &Path, format: Format) -> Result<DataFrame, ResultsError> {
    let open = || File::open(path).map_err(|e| ResultsError::io("opening", path, e));
    match format {
        Format::Parquet => Ok(ParquetReader::new(open()?).finish()?),
        Format::Csv => {
            // Every column as text, then typed by this module's rule, so that a table reads
            // back as it was written (polars' inference would make a big seed an i64 error).
            let text = CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .try_into_reader_with_file_path(Some(path.to_path_buf()))?
                .finish()?;
            let rows: Vec<Row> = rows(&text)?
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|(k, v)| match v {
                            Cell::Str(s) => (k, parse_cell(&s)),
                            other => (k, other),
                        })
                        .collect()
                })
                .collect();
            frame(&rows)
        }
        Format::Jsonl => {
            let mut rows = Vec::new();
            for (n, line) in BufReader::new(open()?).lines().enumerate() {
                let line = line.map_err(|e| ResultsError::io("reading", path, e))?;
                if line.trim().is_empty() {
                    continue;
                }
                rows.push(parse_row(&line).map_err(|source| ResultsError::JsonLine {
                    line: n + 1,
                    source,
                })?);
            }
            frame(&rows)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[(&str, Cell)]) -> Row {
        cells
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn column_types_are_the_narrowest_that_hold_every_cell() {
        let rows = vec![
            row(&[
                ("a", Cell::Int(1)),
                ("b", Cell::Int(2)),
                ("c", Cell::Str("x".into())),
                ("d", Cell::Bool(true)),
            ]),
            row(&[
                ("a", Cell::Int(3)),
                ("b", Cell::Float(2.5)),
                ("c", Cell::Int(7)),
                ("e", Cell::Null),
            ]),
        ];
        let df = frame(&rows).unwrap();
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        assert_eq!(df.column("a").unwrap().dtype(), &DataType::Int64);
        assert_eq!(df.column("b").unwrap().dtype(), &DataType::Float64);
        assert_eq!(df.column("c").unwrap().dtype(), &DataType::String);
        assert_eq!(df.column("d").unwrap().dtype(), &DataType::Boolean);
        assert_eq!(df.column("d").unwrap().null_count(), 1);
        let back = rows_of_text(&df);
        assert_eq!(back[1][2], ("c".to_string(), Cell::Str("7".into())));
        assert_eq!(back[1][1], ("b".to_string(), Cell::Float(2.5)));
    }

    fn rows_of_text(df: &DataFrame) -> Vec<Row> {
        rows(df).unwrap()
    }

    #[test]
    fn json_lines_keep_key_order() {
        let r = parse_row(r#"{"z":1,"a":2.5,"m":"s","n":null,"b":true}"#).unwrap();
        let keys: Vec<&str> = r.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m", "n", "b"]);
        assert_eq!(
            json_line(&r).unwrap(),
            r#"{"z":1,"a":2.5,"m":"s","n":null,"b":true}"#
        );
    }

    #[test]
    fn every_format_round_trips_and_rewrites_identically() {
        let dir = std::env::temp_dir().join(format!("infscaler-results-{}", std::process::id()));
        let rows = vec![
            row(&[
                ("point", Cell::Int(0)),
                ("policy", Cell::Str("infscaler".into())),
                ("goodput_rps", Cell::Float(12.25)),
                ("ok", Cell::Bool(true)),
                // A u64 seed: text, exactly, in every format.
                ("seed", Cell::Str("15527378574686069864".into())),
            ]),
            row(&[
                ("point", Cell::Int(1)),
                ("policy", Cell::Str("knative, \"quoted\"".into())),
                ("goodput_rps", Cell::Float(0.1)),
            ]),
        ];
        for format in [Format::Jsonl, Format::Parquet, Format::Csv] {
            let path = dir.join(format!("r.{format}"));
            write(&mut frame(&rows).unwrap(), &path).unwrap();
            let first = std::fs::read(&path).unwrap();
            let back = rows_of_text(&read(&path).unwrap());
            assert_eq!(back, rows, "{format}");
            write(&mut frame(&rows).unwrap(), &path).unwrap();
            assert_eq!(
                std::fs::read(&path).unwrap(),
                first,
                "{format} is deterministic"
            );
        }
        let err = read(&dir.join("r.txt")).unwrap_err().to_string();
        assert!(err.contains(".parquet, .csv, .jsonl"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn read_errors_name_the_file_and_the_line() {
        let dir =
            std::env::temp_dir().join(format!("infscaler-results-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.jsonl");
        let err = read(&missing).unwrap_err();
        assert!(matches!(err, ResultsError::Read { .. }), "{err:?}");
        assert!(
            err.with_causes().starts_with(&format!(
                "reading {0} as jsonl: opening {0}: ",
                missing.display()
            )),
            "{}",
            err.with_causes()
        );
        let bad = dir.join("bad.jsonl");
        std::fs::write(&bad, "{\"a\":1}\n\n[1]\n").unwrap();
        let err = read(&bad).unwrap_err().with_causes();
        assert!(
            err.starts_with(&format!("reading {} as jsonl: line 3: ", bad.display())),
            "{err}"
        );
        let err = Format::of(Path::new("r")).unwrap_err().to_string();
        assert_eq!(
            err,
            "r: unknown results format (no extension); allowed extensions: .parquet, .csv, .jsonl"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
