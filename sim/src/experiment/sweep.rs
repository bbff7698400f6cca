//! Sweeps: a base scenario and axes of overrides, expanded into a grid of runs.
//!
//! A sweep file names a base scenario and a list of axes, each a scenario field by its dotted path
//! with the values to try:
//!
//! ```toml
//! name = "policies-vs-rate"
//! base = "../quickstart.toml"      # relative to the sweep file
//! seed = 7                          # optional: replaces the base scenario's seed
//! repeat = 2                        # runs per grid point, each with its own seed (default 1)
//!
//! [[axes]]
//! path = "policy.kind"
//! values = ["infscaler", "knative"]
//!
//! [[axes]]
//! path = "workload.rate_per_s"
//! from = 50
//! to = 200
//! step = 50                         # 50, 100, 150, 200 (inclusive)
//! ```
//!
//! Axes are a list (`[[axes]]`), not a table keyed by path, because the `toml` crate is built
//! without `preserve_order` here and a table's keys would come back sorted: the file's axis order
//! fixes the grid order (the last axis varies fastest), so it must survive parsing.
//!
//! **Values.** `values = [...]` lists them (any TOML value, including inline tables and arrays).
//! `from`, `to`, `step` is an inclusive arithmetic range; with integers it yields integers, with
//! decimals each value is computed as an exact integer count of the range's smallest decimal unit
//! and divided once, so `from = 1.5, to = 3, step = 0.5` gives exactly 1.5, 2.0, 2.5, 3.0 (no
//! accumulated drift). `from`, `to`, `count` (≥ 2) gives `count` floats from `from` to `to`,
//! evenly spaced (`scale = "linear"`, the default) or in constant ratio (`scale = "geometric"`,
//! both ends > 0); the ends are exactly `from` and `to`.
//!
//! **Overrides.** A point's scenario is the base scenario's TOML with each coordinate set at its
//! path; missing tables are created, and a segment may index an existing array
//! (`policy.stages[1].cuts`). Tagged tables (`policy`, `workload`, `serving.service_time`, …) have a
//! `kind` whose other keys belong to that kind, so setting `X.kind` to a kind other than the base's
//! replaces table `X` by `{ kind = value }` plus the keys the point's other axes set under `X`;
//! the base's keys for its own kind are kept when the value equals the base's kind. Each point is
//! then parsed and resolved as any scenario file is, so a bad value gives the usual error naming
//! the field, prefixed with the sweep file and the point's coordinates.
//!
//! **Seeds.** A point's `key` is a canonical string of its coordinates and repeat index
//! (`policy.kind="knative";workload.rate_per_s=100;repeat=1`), and its seed is
//! `RunSeed(base_seed).derive(key)`: a run's seed depends only on its coordinates, never on the
//! order of evaluation, the number of jobs or the shard. A `seed` axis is the exception: its value
//! is the run's seed as written (so a point reproduces `infscaler run --seed N`), derived by the
//! repeat index only when `repeat > 1`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::rng::RunSeed;
use crate::scenario::{ResolvedScenario, Scenario, ScenarioError};

/// Largest grid a sweep may expand to (points × repeat), against typos such as a tiny step.
pub const MAX_POINTS: usize = 10_000_000;

/// A sweep file as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Name of the sweep (default results file: `results/<name>.jsonl`).
    pub name: String,
    /// Path of the base scenario TOML, relative to the sweep file.
    pub base: PathBuf,
    /// Base seed of the sweep; default: the base scenario's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Runs per grid point, each with its own derived seed.
    #[serde(default = "default_repeat")]
    pub repeat: u32,
    /// The axes, in grid order (the last varies fastest).
    #[serde(default)]
    pub axes: Vec<AxisSpec>,
    /// With a `[capacity]` table, each point is a capacity search (`infscaler capacity`) rather
    /// than one run: its row holds `capacity_rps`, `capacity_probes`, `capacity_converged`,
    /// `capacity_min_measured`, `capacity_point_decisions` and the
    /// metrics of the run at the capacity found (the paper's "throughput while satisfying the
    /// latency SLO", Fig. 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::experiment::capacity::CapacityOptions>,
}

fn default_repeat() -> u32 {
    1
}

/// One axis as written: a dotted path and either `values` or a range.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisSpec {
    /// Dotted path of the scenario field, e.g. `workload.rate_per_s` or `policy.stages[0].cuts`.
    pub path: String,
    /// The values, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<toml::Value>>,
    /// First value of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<toml::Value>,
    /// Last value of a range (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<toml::Value>,
    /// Step of an arithmetic range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<toml::Value>,
    /// Number of values of a range, ends included (instead of `step`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Spacing of a `count` range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
}

/// Spacing of a `from`/`to`/`count` range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Equal differences.
    Linear,
    /// Equal ratios (both ends > 0).
    Geometric,
}

/// A sweep error: the sweep file, where in it, and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SweepError {
    /// The sweep file itself is unreadable or malformed; `field` is empty for syntax errors.
    #[error("{file}: {}{message}", if field.is_empty() { String::new() } else { format!("field `{field}`: ") })]
    Spec {
        /// The sweep file.
        file: String,
        /// Dotted path in the sweep file, e.g. `axes[1].step`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The base scenario cannot be read or parsed.
    #[error("{file}: base scenario: {error}")]
    Base {
        /// The sweep file.
        file: String,
        /// The scenario's error.
        error: Box<ScenarioError>,
    },
    /// One point's scenario is invalid.
    #[error("{file}: point {index} ({coords}): {error}")]
    Point {
        /// The sweep file.
        file: String,
        /// Grid index of the point.
        index: usize,
        /// The point's coordinates, `path=value, …`.
        coords: String,
        /// The scenario's error, naming the field.
        error: Box<ScenarioError>,
    },
    /// `--shard I/N` is out of range.
    #[error("shard {index}/{count}: need 0 ≤ I < N")]
    Shard {
        /// I.
        index: usize,
        /// N.
        count: usize,
    },
}

/// One run of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// Position in the grid (0-based; repeats of one grid point are consecutive).
    pub index: usize,
    /// The coordinate on every axis, in axis order.
    pub coords: Vec<(String, toml::Value)>,
    /// Repeat index, `0..repeat`.
    pub repeat: u32,
    /// Canonical string of the coordinates and repeat index (see the module docs).
    pub key: String,
    /// The run's seed.
    pub seed: u64,
}

impl SweepPoint {
    /// The coordinates as `path=value, …` (for messages).
    pub fn coords_text(&self) -> String {
        let mut s = self
            .coords
            .iter()
            .map(|(p, v)| format!("{p}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push_str(&format!("repeat={}", self.repeat));
        s
    }
}

/// One path segment: a key, optionally followed by array indices.
#[derive(Clone, Debug, PartialEq)]
struct Segment {
    key: String,
    indices: Vec<usize>,
}

#[derive(Clone, Debug)]
struct Axis {
    path: String,
    segments: Vec<Segment>,
    values: Vec<toml::Value>,
}

/// A loaded sweep: the spec, the base scenario's TOML and the expanded axes.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The sweep file as written.
    pub spec: SweepSpec,
    /// The sweep file (for messages).
    pub origin: String,
    /// The base scenario's path (relative paths inside it resolve against its directory).
    pub base_path: PathBuf,
    /// The seed every point's seed derives from.
    pub base_seed: u64,
    base: toml::Table,
    axes: Vec<Axis>,
    repeat: u32,
}

impl Sweep {
    /// A fingerprint of what the sweep runs: its axes, repeats and seed, and the base scenario's
    /// content. Results files carry it so that a resume never mixes rows of another version of
    /// the sweep or of its base scenario. (FNV-1a over a canonical rendering; stable across runs.)
    pub fn fingerprint(&self) -> String {
        let text = format!(
            "{}\n{:?}\n{}\n{}",
            toml::to_string(&self.base).unwrap_or_default(),
            self.spec.axes,
            self.repeat,
            self.base_seed
        );
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// Reads a sweep file and its base scenario.
    pub fn load(path: &Path) -> Result<Sweep, SweepError> {
        let origin = path.display().to_string();
        let text = crate::input::read_to_string(path).map_err(|e| SweepError::Spec {
            file: origin.clone(),
            field: String::new(),
            message: format!("cannot read the sweep file: {e}"),
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Sweep::parse(&text, &origin, &dir)
    }

    /// Parses sweep TOML text; `origin` names it in errors, `dir` anchors the base path.
    pub fn parse(text: &str, origin: &str, dir: &Path) -> Result<Sweep, SweepError> {
        let err = |field: &str, message: String| SweepError::Spec {
            file: origin.to_string(),
            field: field.to_string(),
            message,
        };
        let spec: SweepSpec =
            toml::from_str(text).map_err(|e| err("", e.to_string().trim_end().to_string()))?;
        if spec.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        if spec.repeat == 0 {
            return Err(err("repeat", "must be at least 1".into()));
        }
        let mut axes: Vec<Axis> = Vec::with_capacity(spec.axes.len());
        for (i, a) in spec.axes.iter().enumerate() {
            let field = |f: &str| format!("axes[{i}].{f}");
            let segments = parse_path(&a.path).map_err(|m| err(&field("path"), m))?;
            if axes.iter().any(|b| b.path == a.path) {
                return Err(err(
                    &field("path"),
                    format!("`{}` is already an axis", a.path),
                ));
            }
            let values = axis_values(a).map_err(|(f, m)| err(&field(f), m))?;
            if values.is_empty() {
                return Err(err(&field("values"), "give at least one value".into()));
            }
            if a.path == "seed"
                && let Some(v) = values.iter().find(|v| v.as_integer().is_none_or(|i| i < 0))
            {
                return Err(err(
                    &field("values"),
                    format!("{v} is not a seed: seeds are integers ≥ 0"),
                ));
            }
            axes.push(Axis {
                path: a.path.clone(),
                segments,
                values,
            });
        }
        let total = axes
            .iter()
            .try_fold(spec.repeat as usize, |n, a| n.checked_mul(a.values.len()));
        if total.is_none_or(|n| n > MAX_POINTS) {
            return Err(err(
                "axes",
                format!("the grid has more than {MAX_POINTS} runs"),
            ));
        }

        let base_path = dir.join(&spec.base);
        let base_origin = base_path.display().to_string();
        let base_err = |message: String| SweepError::Base {
            file: origin.to_string(),
            error: Box::new(ScenarioError {
                file: base_origin.clone(),
                field: String::new(),
                message,
            }),
        };
        let base_text = crate::input::read_to_string(&base_path)
            .map_err(|e| base_err(format!("cannot read the scenario file: {e}")))?;
        let base: toml::Table = toml::from_str(&base_text)
            .map_err(|e| base_err(e.to_string().trim_end().to_string()))?;
        // The base must be a valid scenario on its own (for its seed, and to fail early).
        let base_dir = base_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let parsed =
            Scenario::parse(&base_text, &base_origin, &base_dir).map_err(|e| SweepError::Base {
                file: origin.to_string(),
                error: Box::new(e),
            })?;
        let base_seed = spec.seed.unwrap_or(parsed.seed);
        let repeat = spec.repeat;
        Ok(Sweep {
            spec,
            origin: origin.to_string(),
            base_path,
            base_seed,
            base,
            axes,
            repeat,
        })
    }

    /// The sweep's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The axis paths, in order (the axis columns of a results row).
    pub fn axis_paths(&self) -> Vec<&str> {
        self.axes.iter().map(|a| a.path.as_str()).collect()
    }

    /// The values of the axis at `path`, if the sweep has one.
    pub fn axis_values(&self, path: &str) -> Option<&[toml::Value]> {
        self.axes
            .iter()
            .find(|a| a.path == path)
            .map(|a| a.values.as_slice())
    }

    /// The base scenario's value at the dotted `path`, if it has one.
    pub fn base_value(&self, path: &str) -> Option<&toml::Value> {
        let mut keys = path.split('.');
        let mut v = self.base.get(keys.next()?)?;
        for k in keys {
            v = v.as_table()?.get(k)?;
        }
        Some(v)
    }

    /// Sets the base scenario's value at the dotted `path` (missing tables are created), as if
    /// the base file said so; points override it as they override the file. The fingerprint
    /// follows. An error names the path when it does not lead through tables.
    pub fn set_base_value(&mut self, path: &str, value: toml::Value) -> Result<(), String> {
        let segments = parse_path(path)?;
        *walk(&mut self.base, &segments, path)? = value;
        Ok(())
    }

    /// Number of runs: the product of the axes' lengths × repeat.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product::<usize>() * self.repeat as usize
    }

    /// Whether the grid is empty (never, for a parsed sweep).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The point at grid index `index` (< `len()`): mixed-radix digits, last axis fastest, and
    /// the repeat index fastest of all.
    pub fn point(&self, index: usize) -> SweepPoint {
        let mut rest = index;
        let repeat = (rest % self.repeat as usize) as u32;
        rest /= self.repeat as usize;
        let mut coords = Vec::with_capacity(self.axes.len());
        for axis in self.axes.iter().rev() {
            let n = axis.values.len();
            coords.push((axis.path.clone(), axis.values[rest % n].clone()));
            rest /= n;
        }
        coords.reverse();
        let mut key = String::new();
        for (p, v) in &coords {
            key.push_str(&format!("{p}={v};"));
        }
        key.push_str(&format!("repeat={repeat}"));
        let seed = match coords.iter().find(|(p, _)| p == "seed") {
            Some((_, v)) => {
                let s = v.as_integer().map(|i| i as u64).unwrap_or(0);
                if self.repeat > 1 {
                    RunSeed(s).derive(&format!("repeat={repeat}")).0
                } else {
                    s
                }
            }
            None => RunSeed(self.base_seed).derive(&key).0,
        };
        SweepPoint {
            index,
            coords,
            repeat,
            key,
            seed,
        }
    }

    /// Every point, in grid order.
    pub fn points(&self) -> Vec<SweepPoint> {
        (0..self.len()).map(|i| self.point(i)).collect()
    }

    /// Every `count`-th point starting at `index` (0-based, `index < count`): shards `0..count`
    /// partition the grid.
    pub fn points_for_shard(
        &self,
        index: usize,
        count: usize,
    ) -> Result<Vec<SweepPoint>, SweepError> {
        if count == 0 || index >= count {
            return Err(SweepError::Shard { index, count });
        }
        Ok((index..self.len())
            .step_by(count)
            .map(|i| self.point(i))
            .collect())
    }

    /// The base scenario's TOML with the point's coordinates applied (see the module docs).
    pub fn point_table(&self, point: &SweepPoint) -> Result<toml::Table, String> {
        apply_overrides(&self.base, &self.axes, point)
    }

    /// The point's scenario, parsed and resolved; errors name the sweep file, the point and the
    /// field.
    pub fn scenario(&self, point: &SweepPoint) -> Result<ResolvedScenario, SweepError> {
        // Line numbers in parse errors refer to the overridden scenario, not the base file.
        let base_origin = format!("{} with the point's overrides", self.base_path.display());
        let point_err = |e: ScenarioError| SweepError::Point {
            file: self.origin.clone(),
            index: point.index,
            coords: point.coords_text(),
            error: Box::new(e),
        };
        let table = self.point_table(point).map_err(|message| {
            point_err(ScenarioError {
                file: base_origin.clone(),
                field: String::new(),
                message,
            })
        })?;
        let text = toml::to_string(&table).map_err(|e| {
            point_err(ScenarioError {
                file: base_origin.clone(),
                field: String::new(),
                message: e.to_string(),
            })
        })?;
        let base_dir = self
            .base_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut scenario = Scenario::parse(&text, &base_origin, &base_dir).map_err(point_err)?;
        scenario.seed = point.seed;
        scenario.resolve().map_err(point_err)
    }
}

/// Splits `a.b[0].c` into segments; errors say what is malformed.
fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    if path.trim().is_empty() {
        return Err("must not be empty".into());
    }
    path.split('.')
        .map(|part| {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            let ok_key = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok_key {
                return Err(format!(
                    "`{path}` is not a dotted path of keys (letters, digits, `_`, `-`) with optional `[index]`"
                ));
            }
            let mut indices = Vec::new();
            while !rest.is_empty() {
                let close = rest.find(']').filter(|_| rest.starts_with('['));
                let idx = close.and_then(|c| rest[1..c].parse::<usize>().ok().map(|i| (i, c)));
                match idx {
                    Some((i, c)) => {
                        indices.push(i);
                        rest = &rest[c + 1..];
                    }
                    None => return Err(format!("`{path}`: malformed index in `{part}`")),
                }
            }
            Ok(Segment {
                key: key.to_string(),
                indices,
            })
        })
        .collect()
}

/// The values of an axis; errors are (field below the axis, message).
fn axis_values(a: &AxisSpec) -> Result<Vec<toml::Value>, (&'static str, String)> {
    use toml::Value;
    let range = a.from.is_some() || a.to.is_some() || a.step.is_some() || a.count.is_some();
    match (&a.values, range) {
        (Some(_), true) => {
            return Err((
                "values",
                "give either `values` or a range (`from`, `to`, `step` or `count`), not both"
                    .into(),
            ));
        }
        (Some(v), false) => {
            if a.scale.is_some() {
                return Err(("scale", "only applies to a `count` range".into()));
            }
            return Ok(v.clone());
        }
        (None, false) => {
            return Err((
                "values",
                "missing: give `values = [...]` or a range (`from`, `to` and `step` or `count`)"
                    .into(),
            ));
        }
        (None, true) => {}
    }
    let (Some(from), Some(to)) = (&a.from, &a.to) else {
        let f = if a.from.is_none() { "from" } else { "to" };
        return Err((f, "missing: a range needs `from` and `to`".into()));
    };
    let num = |f: &'static str, v: &Value| -> Result<f64, (&'static str, String)> {
        match v {
            Value::Integer(i) => Ok(*i as f64),
            Value::Float(x) if x.is_finite() => Ok(*x),
            _ => Err((f, format!("{v} is not a finite number"))),
        }
    };
    let (f, t) = (num("from", from)?, num("to", to)?);
    match (&a.step, a.count) {
        (Some(_), Some(_)) => Err(("count", "give either `step` or `count`, not both".into())),
        (None, None) => Err(("step", "missing: a range needs `step` or `count`".into())),
        (Some(step), None) => {
            if a.scale.is_some() {
                return Err(("scale", "only applies to a `count` range".into()));
            }
            let s = num("step", step)?;
            if s == 0.0 || (t - f) * s < 0.0 {
                return Err((
                    "step",
                    format!(
                        "{step} does not lead from {from} to {to}: it must be non-zero and point towards `to`"
                    ),
                ));
            }
            if let (Value::Integer(fi), Value::Integer(ti), Value::Integer(si)) = (from, to, step) {
                let n = (ti - fi) / si;
                if n as usize >= MAX_POINTS {
                    return Err(("step", format!("more than {MAX_POINTS} values")));
                }
                return Ok((0..=n).map(|k| Value::Integer(fi + k * si)).collect());
            }
            decimal_range(f, t, s).ok_or((
                "step",
                format!("{from}..{to} by {step}: use at most 9 decimals, and fewer than {MAX_POINTS} values"),
            ))
        }
        (None, Some(count)) => {
            if count < 2 {
                return Err((
                    "count",
                    "must be at least 2 (both ends are included)".into(),
                ));
            }
            let last = f64::from(count - 1);
            let geometric = a.scale == Some(Scale::Geometric);
            if geometric && !(f > 0.0 && t > 0.0) {
                return Err((
                    "scale",
                    "a geometric range needs `from` and `to` > 0".into(),
                ));
            }
            Ok((0..count)
                .map(|k| {
                    let x = if k == 0 {
                        f
                    } else if k == count - 1 {
                        t
                    } else if geometric {
                        f * (t / f).powf(f64::from(k) / last)
                    } else {
                        f + (t - f) * f64::from(k) / last
                    };
                    Value::Float(x)
                })
                .collect())
        }
    }
}

/// An inclusive decimal range computed exactly: every bound is scaled by the smallest power of
/// ten that makes it an integer, values are integers `F + k·S`, and each is divided by the scale
/// once (so it is the double nearest to the decimal, as if written in the file).
fn decimal_range(from: f64, to: f64, step: f64) -> Option<Vec<toml::Value>> {
    let scale = (0..=9).map(|e| 10f64.powi(e)).find(|m| {
        [from, to, step]
            .iter()
            .all(|x| ((x * m).round() - x * m).abs() <= 1e-9 * (x * m).abs().max(1.0))
    })?;
    let (fi, ti, si) = (
        (from * scale).round() as i128,
        (to * scale).round() as i128,
        (step * scale).round() as i128,
    );
    let n = (ti - fi) / si;
    if n < 0 || n as usize >= MAX_POINTS {
        return None;
    }
    Some(
        (0..=n)
            .map(|k| toml::Value::Float((fi + k * si) as f64 / scale))
            .collect(),
    )
}

/// Applies a point's coordinates to a copy of the base table: `kind` axes first (replacing their
/// table when the kind changes), then the others in axis order.
fn apply_overrides(
    base: &toml::Table,
    axes: &[Axis],
    point: &SweepPoint,
) -> Result<toml::Table, String> {
    let mut table = base.clone();
    let is_kind = |a: &Axis| {
        a.segments.len() >= 2
            && a.segments
                .last()
                .is_some_and(|s| s.key == "kind" && s.indices.is_empty())
    };
    let pairs: Vec<(&Axis, &toml::Value)> = axes
        .iter()
        .zip(point.coords.iter().map(|(_, v)| v))
        .collect();
    for (axis, value) in pairs.iter().filter(|(a, _)| is_kind(a)) {
        let parent = &axis.segments[..axis.segments.len() - 1];
        let slot = walk(&mut table, parent, &axis.path)?;
        let same = slot
            .as_table()
            .and_then(|t| t.get("kind"))
            .is_some_and(|k| k == *value);
        if !same {
            let mut t = toml::Table::new();
            t.insert("kind".into(), (*value).clone());
            *slot = toml::Value::Table(t);
        }
    }
    for (axis, value) in pairs.iter().filter(|(a, _)| !is_kind(a)) {
        let slot = walk(&mut table, &axis.segments, &axis.path)?;
        *slot = (*value).clone();
    }
    Ok(table)
}

/// The value at `segments` below `table`, creating missing tables (an empty table where the last
/// key is missing, to be overwritten).
fn walk<'a>(
    table: &'a mut toml::Table,
    segments: &[Segment],
    path: &str,
) -> Result<&'a mut toml::Value, String> {
    let (first, rest) = segments.split_first().expect("a path has a segment");
    let mut here = first.key.clone();
    let slot = table
        .entry(first.key.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let mut slot = index_into(slot, first, &mut here, path)?;
    for seg in rest {
        let toml::Value::Table(t) = slot else {
            return Err(format!(
                "axis `{path}`: `{here}` is a {}, not a table",
                slot.type_str()
            ));
        };
        here.push('.');
        here.push_str(&seg.key);
        let next = t
            .entry(seg.key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        slot = index_into(next, seg, &mut here, path)?;
    }
    Ok(slot)
}

/// Follows a segment's array indices (which must exist).
fn index_into<'a>(
    mut slot: &'a mut toml::Value,
    seg: &Segment,
    here: &mut String,
    path: &str,
) -> Result<&'a mut toml::Value, String> {
    for &i in &seg.indices {
        here.push_str(&format!("[{i}]"));
        slot = match slot {
            toml::Value::Array(a) => {
                let len = a.len();
                a.get_mut(i).ok_or_else(|| {
                    format!(
                        "axis `{path}`: `{here}` is out of range (the array has {len} elements)"
                    )
                })?
            }
            other => {
                return Err(format!(
                    "axis `{path}`: `{here}` indexes a {}, not an array",
                    other.type_str()
                ));
            }
        };
    }
    Ok(slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicySpec;
    use crate::workload::ArrivalSpec;
    use toml::Value;

    fn scenarios_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
    }

    /// A sweep over the shipped quickstart scenario.
    fn sweep(body: &str) -> Result<Sweep, SweepError> {
        let text = format!("name = \"t\"\nbase = \"quickstart.toml\"\n{body}");
        Sweep::parse(&text, "t.toml", &scenarios_dir())
    }

    fn values(body: &str) -> Vec<Value> {
        let s = sweep(&format!("[[axes]]\npath = \"slo.multiplier\"\n{body}")).unwrap();
        s.points()
            .into_iter()
            .map(|p| p.coords[0].1.clone())
            .collect()
    }

    fn spec_error(body: &str) -> (String, String) {
        match sweep(body) {
            Err(SweepError::Spec { field, message, .. }) => (field, message),
            other => panic!("expected a sweep-file error, got {other:?}"),
        }
    }

    const TWO_AXES: &str = r#"
repeat = 2
[[axes]]
path = "policy.kind"
values = ["infscaler", "knative", "spright"]
[[axes]]
path = "workload.rate_per_s"
from = 50
to = 200
step = 50
"#;

    #[test]
    fn grid_is_the_product_in_axis_order_with_repeats_fastest() {
        let s = sweep(TWO_AXES).unwrap();
        // 3 policies × 4 rates (50, 100, 150, 200) × 2 repeats.
        assert_eq!(s.len(), 24);
        let pts = s.points();
        let c = |i: usize| {
            let p = &pts[i];
            (
                p.coords[0].1.as_str().unwrap().to_string(),
                p.coords[1].1.as_integer().unwrap(),
                p.repeat,
            )
        };
        assert_eq!(c(0), ("infscaler".into(), 50, 0));
        assert_eq!(c(1), ("infscaler".into(), 50, 1));
        assert_eq!(c(2), ("infscaler".into(), 100, 0));
        // index 8 = policy 1 (8 = 1·8 + 0·2 + 0).
        assert_eq!(c(8), ("knative".into(), 50, 0));
        assert_eq!(c(23), ("spright".into(), 200, 1));
        assert!(pts.iter().enumerate().all(|(i, p)| p.index == i));
        assert_eq!(
            pts[3].key,
            "policy.kind=\"infscaler\";workload.rate_per_s=100;repeat=1"
        );
        assert_eq!(s.axis_paths(), ["policy.kind", "workload.rate_per_s"]);
    }

    #[test]
    fn ranges_are_inclusive_and_exact() {
        let ints: Vec<i64> = values("from = 50\nto = 200\nstep = 50")
            .iter()
            .map(|v| v.as_integer().unwrap())
            .collect();
        assert_eq!(ints, [50, 100, 150, 200]);
        let down: Vec<i64> = values("from = 10\nto = 1\nstep = -4")
            .iter()
            .map(|v| v.as_integer().unwrap())
            .collect();
        assert_eq!(down, [10, 6, 2], "the last value not past `to`");
        let f = |body: &str| -> Vec<f64> {
            values(body).iter().map(|v| v.as_float().unwrap()).collect()
        };
        assert_eq!(f("from = 1.5\nto = 3.0\nstep = 0.5"), [1.5, 2.0, 2.5, 3.0]);
        // Accumulating 0.1 three times gives 0.30000000000000004; the range gives the literal.
        assert_eq!(f("from = 0.1\nto = 0.3\nstep = 0.1"), [0.1, 0.2, 0.3]);
        assert_eq!(
            f("from = 0.0\nto = 1.0\ncount = 5"),
            [0.0, 0.25, 0.5, 0.75, 1.0]
        );
        // Geometric 1 → 1000 in 4: ratio 10; ends exact, inner values within rounding.
        let g = f("from = 1\nto = 1000\ncount = 4\nscale = \"geometric\"");
        assert_eq!((g[0], g[3]), (1.0, 1000.0));
        assert!(
            (g[1] - 10.0).abs() < 1e-12 && (g[2] - 100.0).abs() < 1e-12,
            "{g:?}"
        );
    }

    #[test]
    fn malformed_axes_name_the_field() {
        let axis = |rest: &str| format!("[[axes]]\npath = \"slo.multiplier\"\n{rest}");
        assert_eq!(
            spec_error(&axis("from = 1\nto = 2\nstep = 0")).0,
            "axes[0].step"
        );
        assert_eq!(
            spec_error(&axis("from = 1\nto = 2\nstep = -1")).0,
            "axes[0].step"
        );
        assert_eq!(
            spec_error(&axis("values = [2]\nfrom = 1\nto = 2\nstep = 1")).0,
            "axes[0].values"
        );
        assert_eq!(spec_error(&axis("from = 1\nto = 2")).0, "axes[0].step");
        assert_eq!(
            spec_error(&axis("from = 1\nto = 2\ncount = 1")).0,
            "axes[0].count"
        );
        assert_eq!(spec_error(&axis("values = []")).0, "axes[0].values");
        assert_eq!(
            spec_error("[[axes]]\npath = \"policy..kind\"\nvalues = [1]").0,
            "axes[0].path"
        );
        assert_eq!(
            spec_error("[[axes]]\npath = \"seed\"\nvalues = [-1]").0,
            "axes[0].values"
        );
        let (field, msg) = spec_error("repeat = 2\nrepaet = 3");
        assert_eq!(field, "");
        assert!(msg.contains("repaet"), "{msg}");
        assert_eq!(spec_error("repeat = 0").0, "repeat");
    }

    #[test]
    fn overrides_follow_the_kind_rule_and_create_tables() {
        let s = sweep(
            r#"
[[axes]]
path = "policy.kind"
values = ["static", "infscaler"]
[[axes]]
path = "policy.stages[1].cuts"
values = [[60]]
[[axes]]
path = "workload.kind"
values = ["constant"]
[[axes]]
path = "workload.rate_per_s"
values = [80.0]
[[axes]]
path = "serving.service_time.cv"
values = [0.1]
"#,
        )
        .unwrap();
        // Point 0: static is the base's own kind, so its stages stay and get the new cuts.
        let p0 = s.points()[0].clone();
        let t = s.point_table(&p0).unwrap();
        assert_eq!(
            t["policy"]["stages"][1]["cuts"],
            Value::Array(vec![Value::Integer(60)])
        );
        assert_eq!(t["policy"]["stages"].as_array().unwrap().len(), 2);
        // workload: a new kind, so only {kind, rate_per_s}; the poisson table is gone.
        assert_eq!(
            t["workload"].as_table().unwrap().keys().collect::<Vec<_>>(),
            ["kind", "rate_per_s"]
        );
        // serving.service_time did not exist: created.
        assert_eq!(t["serving"]["service_time"]["cv"], Value::Float(0.1));
        // The base's other keys for its own policy kind stay.
        assert_eq!(t["policy"]["transport"], Value::from("zero_copy"));
        // Point 1: infscaler replaces the policy table; the stages index then has nothing to
        // index, which is an error naming the axis.
        let p1 = s.points()[1].clone();
        let err = s.point_table(&p1).unwrap_err();
        assert!(err.contains("policy.stages[1].cuts"), "{err}");
    }

    #[test]
    fn a_point_resolves_to_its_overridden_scenario() {
        let s = sweep(
            r#"
[[axes]]
path = "policy.kind"
values = ["infscaler"]
[[axes]]
path = "policy.max_partitions"
values = [2]
[[axes]]
path = "workload.rate_per_s"
values = [80.5]
"#,
        )
        .unwrap();
        let p = s.point(0);
        let r = s.scenario(&p).unwrap();
        match &r.scenario.policy {
            PolicySpec::Infscaler(spec) => assert_eq!(spec.max_partitions, Some(2)),
            other => panic!("expected infscaler, got {other:?}"),
        }
        assert_eq!(
            r.scenario.workload,
            ArrivalSpec::Poisson { rate_per_s: 80.5 }
        );
        assert_eq!(r.scenario.seed, p.seed);
        assert_eq!(r.name, "quickstart");
    }

    #[test]
    fn axes_reach_into_a_query_stream_by_its_index() {
        let text = r#"
name = "t"
base = "examples/streams-xavier.toml"
[[axes]]
path = "streams[0].workload.rate_high_per_s"
values = [123.0]
[[axes]]
path = "streams[0].slo.latency"
values = ["90ms"]
"#;
        let s = Sweep::parse(text, "t.toml", &scenarios_dir()).unwrap();
        let r = s.scenario(&s.point(0)).unwrap();
        match &r.scenario.streams[0].workload {
            ArrivalSpec::Mmpp {
                rate_high_per_s, ..
            } => assert_eq!(*rate_high_per_s, 123.0),
            other => panic!("expected mmpp, got {other:?}"),
        }
        assert_eq!(r.streams[1].name, "detector");
        assert_eq!(r.streams[1].slo, crate::time::SimDuration::from_ms(90));
        let text = text.replace("streams[0].slo", "streams[2].slo");
        let s = Sweep::parse(&text, "t.toml", &scenarios_dir()).unwrap();
        let e = s.scenario(&s.point(0)).unwrap_err().to_string();
        assert!(e.contains("`streams[2]` is out of range"), "{e}");
    }

    #[test]
    fn bad_axis_paths_and_values_give_errors_naming_them() {
        let err = |body: &str| {
            let s = sweep(body).unwrap();
            s.scenario(&s.point(0)).unwrap_err().to_string()
        };
        let e = err("[[axes]]\npath = \"policy.nonexistent\"\nvalues = [1]");
        assert!(e.contains("t.toml: point 0 (policy.nonexistent=1"), "{e}");
        assert!(e.contains("nonexistent"), "{e}");
        let e = err("[[axes]]\npath = \"workload.rate_per_s\"\nvalues = [-5.0]");
        assert!(e.contains("field `workload.rate_per_s`"), "{e}");
        let e = err("[[axes]]\npath = \"workload.rate_per_s.x\"\nvalues = [1]");
        assert!(
            e.contains("`workload.rate_per_s` is a float, not a table"),
            "{e}"
        );
        let e = err("[[axes]]\npath = \"policy.stages[7].cuts\"\nvalues = [[1]]");
        assert!(e.contains("`policy.stages[7]` is out of range"), "{e}");
    }

    #[test]
    fn seeds_depend_only_on_coordinates() {
        let s = sweep(TWO_AXES).unwrap();
        let forward = s.points();
        let backward: Vec<SweepPoint> = (0..s.len()).rev().map(|i| s.point(i)).collect();
        for p in &backward {
            assert_eq!(*p, forward[p.index]);
        }
        let mut seeds: Vec<u64> = forward.iter().map(|p| p.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        assert_eq!(seeds.len(), forward.len(), "two points share a seed");
        // Adding a value to an axis shifts indices but not the seeds of the existing points.
        let wider = sweep(&TWO_AXES.replace("to = 200", "to = 300")).unwrap();
        for p in &forward {
            let q = wider.points().into_iter().find(|q| q.key == p.key).unwrap();
            assert_eq!(q.seed, p.seed, "{}", p.key);
        }
        // A different base seed changes every seed.
        let other = sweep(&format!("seed = 99\n{TWO_AXES}")).unwrap();
        assert!(
            other
                .points()
                .iter()
                .zip(&forward)
                .all(|(a, b)| a.seed != b.seed)
        );
        // A seed axis is the run's seed as written (repeat 1).
        let s = sweep("[[axes]]\npath = \"seed\"\nvalues = [5, 6]").unwrap();
        assert_eq!(
            s.points().iter().map(|p| p.seed).collect::<Vec<_>>(),
            [5, 6]
        );
    }

    #[test]
    fn shards_partition_the_grid() {
        let s = sweep(TWO_AXES).unwrap();
        for n in 1..=7 {
            let mut seen: Vec<SweepPoint> = (0..n)
                .flat_map(|i| s.points_for_shard(i, n).unwrap())
                .collect();
            seen.sort_by_key(|p| p.index);
            assert_eq!(seen, s.points(), "{n} shards");
        }
        assert_eq!(
            s.points_for_shard(1, 3)
                .unwrap()
                .iter()
                .map(|p| p.index)
                .collect::<Vec<_>>(),
            [1, 4, 7, 10, 13, 16, 19, 22]
        );
        assert!(s.points_for_shard(2, 2).is_err());
        assert!(s.points_for_shard(0, 0).is_err());
    }
    #[test]
    fn the_base_can_be_changed_after_loading_and_the_fingerprint_follows() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let text = "name = \"t\"\nbase = \"paper/poisson-base.toml\"\n[[axes]]\npath = \"policy.kind\"\nvalues = [\"infscaler\", \"spright\"]";
        let mut sweep = Sweep::parse(text, "<test>", &dir).unwrap();
        let before = sweep.fingerprint();
        assert_eq!(
            sweep.base_value("policy.kind").and_then(|v| v.as_str()),
            Some("infscaler")
        );
        assert_eq!(sweep.axis_values("policy.kind").map(<[_]>::len), Some(2));
        assert_eq!(sweep.axis_values("app.name"), None);
        sweep
            .set_base_value("policy.resource_share", "load_share".into())
            .unwrap();
        assert_ne!(sweep.fingerprint(), before);
        // The point of the base's kind keeps the new key; a point of another kind replaces
        // the policy table, so the key does not reach it.
        let tables: Vec<toml::Table> = sweep
            .points()
            .iter()
            .map(|p| sweep.point_table(p).unwrap())
            .collect();
        assert_eq!(
            tables[0]["policy"]["resource_share"].as_str(),
            Some("load_share")
        );
        assert!(tables[1]["policy"].get("resource_share").is_none());
        assert!(sweep.set_base_value("run.duration.x", 1.into()).is_err());
    }
}
