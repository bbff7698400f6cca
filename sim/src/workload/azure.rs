//! Replay of one function of the Azure Functions 2019 trace (Shahrad et al., "Serverless in the
//! Wild", USENIX ATC 2020; github.com/Azure/AzurePublicDataset, `AzureFunctionsDataset2019.md`).
//!
//! Files `invocations_per_function_md.anon.dXX.csv` hold one day each: header
//! `HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440`, then one row per function with its
//! invocation count in each minute of the day (REFERENCE.md §6). Only counts per minute are
//! known, so each minute's count is spread within that minute ([`Spread`]). The file is streamed
//! line by line (a real day is ~50k rows) and only the window's columns are parsed.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::arrival::{ArrivalProcess, WorkloadError, check_positive};
use crate::rng::SimRng;
use crate::time::{NS_PER_S, SimTime};

/// Columns before the per-minute counts, as named in the header of every day file.
const KEY_COLUMNS: [&str; 4] = ["HashOwner", "HashApp", "HashFunction", "Trigger"];
/// One minute, ns.
const MINUTE_NS: u64 = 60 * NS_PER_S;
/// Most invocations one minute of a day file may count: a replay holds a minute's arrival
/// times in memory (8 bytes each), so a count of billions would exhaust it. The busiest
/// functions of the 2019 trace are orders of magnitude below.
pub const MAX_COUNT_PER_MINUTE: u32 = 10_000_000;

/// `kind = "azure_functions"`: replay one function's per-minute invocation counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureFunctionsSpec {
    /// An `invocations_per_function_md.anon.dXX.csv` file; relative paths are resolved against
    /// the scenario file's directory.
    pub path: PathBuf,
    /// `HashFunction` of the row to replay; default: the row with the most invocations in the
    /// window (the first such row on a tie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// `HashApp` of the row, needed only when `function` appears in more than one app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// First and last minute to replay, inclusive, as the header labels them (1..=1440);
    /// default: the whole day. Times count from the start of the first minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_minutes: Option<(u32, u32)>,
    /// Speed-up of the replay: 2.0 = twice as many requests per second (times divided by 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_scale: Option<f64>,
    /// How a minute's invocations are placed within it.
    #[serde(default)]
    pub spread: Spread,
    /// Start the window again when it is exhausted (period: the window's length / `rate_scale`).
    #[serde(default)]
    pub loop_trace: bool,
}

/// How the invocations counted in one minute are placed within that minute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// Independent uniform times within the minute, from the process's seeded stream: what a
    /// Poisson process gives once its count in the minute is known.
    #[default]
    Uniform,
    /// Evenly spaced: the k-th of n at (k + ½)/n of the minute.
    Even,
}

/// One row of a day file, restricted to a window of minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionCounts {
    /// `HashOwner` of the row.
    pub owner: String,
    /// `HashApp` of the row.
    pub app: String,
    /// `HashFunction` of the row.
    pub function: String,
    /// `Trigger` of the row (http, timer, event, queue, storage, orchestration, others).
    pub trigger: String,
    /// Invocations in each minute of the window, in order.
    pub counts_per_minute: Vec<u32>,
}

impl FunctionCounts {
    /// Invocations in the whole window.
    pub fn total(&self) -> u64 {
        self.counts_per_minute.iter().map(|&c| u64::from(c)).sum()
    }
}

/// Reads the row of `function` (in `app`, if given; default: the busiest row within `minutes`)
/// from a day file, keeping minutes `minutes.0..=minutes.1` (default: all).
pub fn read_function_counts(
    path: &Path,
    function: Option<&str>,
    app: Option<&str>,
    minutes: Option<(u32, u32)>,
) -> Result<FunctionCounts, WorkloadError> {
    let read_err = |source| WorkloadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let parse_err = |line: usize, message: String| WorkloadError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut reader = crate::input::open(path).map_err(read_err)?;
    let mut line = String::new();

    if reader.read_line(&mut line).map_err(read_err)? == 0 {
        return Err(parse_err(
            1,
            "the file is empty; expected the header".into(),
        ));
    }
    let minutes_in_file = check_header(trim_line(&line)).map_err(|m| parse_err(1, m))?;
    let (first, last) = minutes.unwrap_or((1, minutes_in_file));
    if last > minutes_in_file {
        return Err(WorkloadError::invalid(
            "day_minutes",
            format!("[{first}, {last}]"),
            format!(
                "must lie within the file's minutes 1..={minutes_in_file} ({})",
                path.display()
            ),
        ));
    }
    let columns = KEY_COLUMNS.len() + minutes_in_file as usize;
    let window = (KEY_COLUMNS.len() + first as usize - 1)..(KEY_COLUMNS.len() + last as usize);

    let mut best: Option<FunctionCounts> = None;
    let mut best_line = 0;
    let mut rows = 0usize;
    let mut line_no = 1;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(read_err)? == 0 {
            break;
        }
        line_no += 1;
        let row = trim_line(&line);
        if row.is_empty() {
            continue;
        }
        rows += 1;
        let fields: Vec<&str> = row.split(',').collect();
        if fields.len() != columns {
            return Err(parse_err(
                line_no,
                format!(
                    "has {} columns; the header has {columns} (4 keys and {minutes_in_file} minutes)",
                    fields.len()
                ),
            ));
        }
        let selected = match function {
            Some(f) => fields[2] == f && app.is_none_or(|a| fields[1] == a),
            None => true,
        };
        if !selected {
            continue;
        }
        let counts = fields[window.clone()]
            .iter()
            .zip(first..)
            .map(|(field, minute)| {
                let count = field.trim().parse::<u32>().map_err(|_| {
                    parse_err(
                        line_no,
                        format!(
                            "minute {minute}: `{field}` is not an invocation count \
                             (a whole number ≥ 0)"
                        ),
                    )
                })?;
                if count > MAX_COUNT_PER_MINUTE {
                    return Err(parse_err(
                        line_no,
                        format!(
                            "minute {minute}: {count} invocations is more than a replay holds \
                             (at most {MAX_COUNT_PER_MINUTE} a minute)"
                        ),
                    ));
                }
                Ok(count)
            })
            .collect::<Result<Vec<u32>, _>>()?;
        let candidate = FunctionCounts {
            owner: fields[0].to_string(),
            app: fields[1].to_string(),
            function: fields[2].to_string(),
            trigger: fields[3].to_string(),
            counts_per_minute: counts,
        };
        match (&best, function) {
            (Some(previous), Some(f)) => {
                return Err(WorkloadError::invalid(
                    "function",
                    format!("\"{f}\""),
                    format!(
                        "is in more than one app of {} (HashApp {} on line {best_line}, {} on \
                         line {line_no}); set workload.app to choose",
                        path.display(),
                        previous.app,
                        candidate.app
                    ),
                ));
            }
            (Some(previous), None) if previous.total() >= candidate.total() => {}
            _ => {
                best = Some(candidate);
                best_line = line_no;
            }
        }
    }

    let Some(best) = best else {
        let message = match function {
            Some(f) => format!(
                "no row with HashFunction = \"{f}\"{} among its {rows} rows",
                app.map_or(String::new(), |a| format!(" and HashApp = \"{a}\""))
            ),
            None => "no function rows after the header".to_string(),
        };
        return Err(WorkloadError::Unusable {
            path: path.to_path_buf(),
            message,
        });
    };
    if best.total() == 0 {
        return Err(WorkloadError::Unusable {
            path: path.to_path_buf(),
            message: format!(
                "function {} (line {best_line}) has no invocations in minutes {first}..={last}",
                best.function
            ),
        });
    }
    Ok(best)
}

/// A line without its line end (LF or CRLF) and without a leading byte-order mark.
fn trim_line(line: &str) -> &str {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    line.trim_end_matches(['\n', '\r'])
}

/// Checks the header's key columns and consecutive minute labels 1..=N; returns N.
fn check_header(header: &str) -> Result<u32, String> {
    let fields: Vec<&str> = header.split(',').map(str::trim).collect();
    let expected = "expected `HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440`";
    if fields.len() <= KEY_COLUMNS.len() || fields[..KEY_COLUMNS.len()] != KEY_COLUMNS {
        return Err(format!(
            "not an Azure Functions 2019 invocations header; {expected}"
        ));
    }
    for (i, label) in fields[KEY_COLUMNS.len()..].iter().enumerate() {
        if label.parse::<usize>() != Ok(i + 1) {
            return Err(format!(
                "column {} is labelled `{label}`, not minute {}; {expected}",
                KEY_COLUMNS.len() + i + 1,
                i + 1
            ));
        }
    }
    u32::try_from(fields.len() - KEY_COLUMNS.len())
        .map_err(|_| "too many minute columns".to_string())
}

impl AzureFunctionsSpec {
    /// Checks the numbers of the spec (the file is checked by [`AzureFunctionsSpec::build`]).
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if self.path.as_os_str().is_empty() {
            return Err(WorkloadError::invalid(
                "path",
                "\"\"",
                "must name an invocations_per_function_md.anon.dXX.csv file",
            ));
        }
        if let Some((first, last)) = self.day_minutes
            && (first == 0 || first > last)
        {
            return Err(WorkloadError::invalid(
                "day_minutes",
                format!("[{first}, {last}]"),
                "must be [first, last] minutes with 1 ≤ first ≤ last ≤ 1440 (inclusive)",
            ));
        }
        if let Some(scale) = self.rate_scale {
            check_positive("rate_scale", scale)?;
        }
        Ok(())
    }

    /// Reads the chosen row (relative paths against `base_dir`) and builds its replay, which
    /// draws from `rng` when `spread = "uniform"`.
    pub fn build(&self, base_dir: &Path, rng: SimRng) -> Result<AzureReplay, WorkloadError> {
        self.validate()?;
        let path = base_dir.join(&self.path);
        let counts = read_function_counts(
            &path,
            self.function.as_deref(),
            self.app.as_deref(),
            self.day_minutes,
        )?;
        Ok(AzureReplay::new(
            counts.counts_per_minute,
            self.spread,
            self.rate_scale.unwrap_or(1.0),
            self.loop_trace,
            rng,
        ))
    }
}

/// Emits a function's invocations minute by minute, in time order.
#[derive(Debug)]
pub struct AzureReplay {
    counts_per_minute: Vec<u32>,
    spread: Spread,
    rate_scale: f64,
    loop_trace: bool,
    rng: SimRng,
    /// Index of the next minute to fill `pending_ns` from.
    next_minute: usize,
    /// Completed passes over the window.
    passes: u64,
    /// Unscaled times of the current minute, ns from the first pass's start, sorted.
    pending_ns: Vec<u64>,
    pending_index: usize,
}

impl AzureReplay {
    /// A replay of `counts_per_minute` (which must not be all zero when looping).
    fn new(
        counts_per_minute: Vec<u32>,
        spread: Spread,
        rate_scale: f64,
        loop_trace: bool,
        rng: SimRng,
    ) -> Self {
        AzureReplay {
            counts_per_minute,
            spread,
            rate_scale,
            loop_trace,
            rng,
            next_minute: 0,
            passes: 0,
            pending_ns: Vec::new(),
            pending_index: 0,
        }
    }

    /// Invocations in one pass over the window.
    pub fn arrivals_per_pass(&self) -> u64 {
        self.counts_per_minute.iter().map(|&c| u64::from(c)).sum()
    }

    /// Fills `pending_ns` with the next minute's invocations; `None` when the replay is over.
    fn fill_next_minute(&mut self) -> Option<()> {
        if self.next_minute == self.counts_per_minute.len() {
            if !self.loop_trace {
                return None;
            }
            self.passes += 1;
            self.next_minute = 0;
        }
        let minutes_before = self
            .passes
            .checked_mul(self.counts_per_minute.len() as u64)?
            .checked_add(self.next_minute as u64)?;
        let minute_start_ns = minutes_before.checked_mul(MINUTE_NS)?;
        let n = u64::from(self.counts_per_minute[self.next_minute]);
        self.next_minute += 1;
        self.pending_ns.clear();
        self.pending_index = 0;
        match self.spread {
            Spread::Uniform => {
                for _ in 0..n {
                    let offset = self.rng.random_range(0..MINUTE_NS);
                    self.pending_ns.push(minute_start_ns.checked_add(offset)?);
                }
                self.pending_ns.sort_unstable();
            }
            Spread::Even => {
                for k in 0..n {
                    // (2k + 1)/(2n) of a minute: < 60 s, so no overflow in u128 or in the result.
                    let offset =
                        (u128::from(2 * k + 1) * u128::from(MINUTE_NS) / u128::from(2 * n)) as u64;
                    self.pending_ns.push(minute_start_ns.checked_add(offset)?);
                }
            }
        }
        Some(())
    }
}

impl ArrivalProcess for AzureReplay {
    fn next_arrival(&mut self) -> Option<SimTime> {
        while self.pending_index == self.pending_ns.len() {
            self.fill_next_minute()?;
        }
        let t_ns = self.pending_ns[self.pending_index];
        self.pending_index += 1;
        if self.rate_scale == 1.0 {
            Some(SimTime(t_ns))
        } else {
            // Dividing by a positive constant and rounding keeps the order.
            Some(SimTime((t_ns as f64 / self.rate_scale).round() as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RunSeed;
    use crate::workload::ArrivalSpec;

    /// A test row: (HashApp, HashFunction, [(minute (1-based), count)]); other minutes are 0.
    type Row<'a> = (&'a str, &'a str, &'a [(usize, u32)]);

    /// A day file in the published layout, in a fresh temporary folder; removed on drop.
    struct DayFile {
        dir: PathBuf,
        path: PathBuf,
    }

    impl DayFile {
        fn new(name: &str, rows: &[Row]) -> Self {
            let mut text = KEY_COLUMNS.join(",");
            for minute in 1..=1440 {
                text.push_str(&format!(",{minute}"));
            }
            text.push_str("\r\n");
            for (app, function, counts) in rows {
                let mut per_minute = vec![0u32; 1440];
                for &(minute, count) in counts.iter() {
                    per_minute[minute - 1] = count;
                }
                text.push_str(&format!("owner0,{app},{function},http"));
                for c in per_minute {
                    text.push_str(&format!(",{c}"));
                }
                text.push_str("\r\n");
            }
            Self::from_text(name, &text)
        }

        fn from_text(name: &str, text: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "infscaler-azure-test-{}-{name}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join("invocations_per_function_md.anon.d01.csv");
            std::fs::write(&path, text).expect("write day file");
            DayFile { dir, path }
        }
    }

    impl Drop for DayFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn spec(
        function: Option<&str>,
        minutes: Option<(u32, u32)>,
        spread: Spread,
    ) -> AzureFunctionsSpec {
        AzureFunctionsSpec {
            path: PathBuf::from("invocations_per_function_md.anon.d01.csv"),
            function: function.map(str::to_string),
            app: None,
            day_minutes: minutes,
            rate_scale: None,
            spread,
            loop_trace: false,
        }
    }

    fn drain(p: &mut dyn ArrivalProcess) -> Vec<u64> {
        std::iter::from_fn(|| p.next_arrival())
            .map(SimTime::as_ns)
            .collect()
    }

    fn per_minute(times_ns: &[u64], minutes: usize) -> Vec<u32> {
        let mut counts = vec![0u32; minutes];
        for &t in times_ns {
            counts[(t / MINUTE_NS) as usize] += 1;
        }
        counts
    }

    const BUSY: &[(usize, u32)] = &[(1, 5), (2, 0), (3, 17), (600, 3), (601, 250), (1440, 2)];

    #[test]
    fn counts_per_minute_are_preserved_exactly() {
        let day = DayFile::new(
            "counts",
            &[("appA", "quiet", &[(2, 1)]), ("appB", "busy", BUSY)],
        );
        for spread in [Spread::Uniform, Spread::Even] {
            let s = spec(None, None, spread);
            let mut p = s
                .build(&day.dir, RunSeed(1).stream("arrivals"))
                .expect("builds");
            let times = drain(&mut p);
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "sorted");
            let counts = per_minute(&times, 1440);
            for minute in 1..=1440 {
                let expected = BUSY
                    .iter()
                    .find(|(m, _)| *m == minute)
                    .map_or(0, |(_, c)| *c);
                assert_eq!(counts[minute - 1], expected, "minute {minute} ({spread:?})");
            }
        }
        // Even spread: 5 invocations in minute 1 at 6, 18, 30, 42, 54 s.
        let s = spec(Some("busy"), Some((1, 1)), Spread::Even);
        let mut p = s.build(&day.dir, RunSeed(1).stream("a")).expect("builds");
        let times = drain(&mut p);
        assert_eq!(times, [6, 18, 30, 42, 54].map(|s| s * NS_PER_S).to_vec());
    }

    #[test]
    fn window_selection_scale_and_loop() {
        let day = DayFile::new("window", &[("appB", "busy", BUSY)]);
        // Minutes 600..=601 → 3 then 250 invocations, counted from the start of minute 600.
        let mut s = spec(Some("busy"), Some((600, 601)), Spread::Uniform);
        let times = drain(&mut s.build(&day.dir, RunSeed(2).stream("a")).expect("builds"));
        assert_eq!(per_minute(&times, 2), vec![3, 250]);
        // Twice the rate: the same invocations within 60 s.
        s.rate_scale = Some(2.0);
        let fast = drain(&mut s.build(&day.dir, RunSeed(2).stream("a")).expect("builds"));
        assert_eq!(fast.len(), 253);
        assert!(fast.iter().all(|&t| t <= MINUTE_NS));
        assert_eq!(fast.iter().filter(|&&t| t < MINUTE_NS / 2).count(), 3);
        // Looping repeats the window every 2 minutes / 2 = 60 s.
        s.loop_trace = true;
        let mut p = s.build(&day.dir, RunSeed(2).stream("a")).expect("builds");
        let looped: Vec<u64> = (0..253 * 3)
            .map(|_| p.next_arrival().expect("loops").as_ns())
            .collect();
        assert!(looped.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(
            looped[253..].iter().filter(|&&t| t < 2 * MINUTE_NS).count(),
            253
        );
    }

    #[test]
    fn function_is_chosen_by_name_or_by_volume_in_the_window() {
        let day = DayFile::new(
            "select",
            &[
                ("appA", "steady", &[(10, 40), (11, 40)]),
                ("appB", "spiky", &[(600, 500)]),
                ("appC", "steady", &[(10, 1)]),
            ],
        );
        let path = &day.path;
        let busiest = read_function_counts(path, None, None, None).expect("reads");
        assert_eq!(busiest.function, "spiky");
        assert_eq!(busiest.total(), 500);
        let early = read_function_counts(path, None, None, Some((1, 60))).expect("reads");
        assert_eq!((early.app.as_str(), early.total()), ("appA", 80));
        let chosen = read_function_counts(path, Some("steady"), Some("appC"), None).expect("reads");
        assert_eq!(chosen.total(), 1);
        assert_eq!(chosen.counts_per_minute.len(), 1440);

        let msg = read_function_counts(path, Some("steady"), None, None)
            .expect_err("ambiguous")
            .to_string();
        assert!(
            msg.starts_with("workload.function") && msg.contains("workload.app"),
            "{msg}"
        );
        let msg = read_function_counts(path, Some("nope"), None, None)
            .expect_err("missing")
            .to_string();
        assert!(
            msg.contains("no row with HashFunction = \"nope\"") && msg.contains("3 rows"),
            "{msg}"
        );
        let msg = read_function_counts(path, Some("spiky"), None, Some((1, 60)))
            .expect_err("silent window")
            .to_string();
        assert!(msg.contains("no invocations in minutes 1..=60"), "{msg}");
    }

    #[test]
    fn same_seed_same_arrivals() {
        let day = DayFile::new("seed", &[("appB", "busy", BUSY)]);
        let s = ArrivalSpec::AzureFunctions(spec(None, Some((600, 601)), Spread::Uniform));
        let run = |seed| {
            drain(
                s.build(&day.dir, RunSeed(seed).stream("arrivals"))
                    .expect("ok")
                    .as_mut(),
            )
        };
        assert_eq!(run(4), run(4));
        assert_ne!(run(4), run(5));
    }

    #[test]
    fn malformed_files_are_rejected_naming_the_line() {
        let day = DayFile::new("short", &[("appA", "f", &[(1, 1)])]);
        let text = std::fs::read_to_string(&day.path).expect("read back");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // A third line missing its last minute.
        let short = lines[1]
            .rsplit_once(',')
            .expect("has columns")
            .0
            .to_string();
        lines.push(short);
        let bad = DayFile::from_text("short-row", &lines.join("\n"));
        let err = read_function_counts(&bad.path, None, None, None).expect_err("short row");
        assert!(
            matches!(err, WorkloadError::Parse { line: 3, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(":3:") && msg.contains("1443 columns") && msg.contains("1444"),
            "{msg}"
        );

        let bad_count = text.replacen(",1,0,0", ",x,0,0", 1);
        let bad = DayFile::from_text("bad-count", &bad_count);
        let msg = read_function_counts(&bad.path, None, None, None)
            .expect_err("bad count")
            .to_string();
        assert!(
            msg.contains(":2:") && msg.contains("minute 1") && msg.contains("`x`"),
            "{msg}"
        );

        let bad = DayFile::from_text("bad-header", "HashOwner,HashApp,Function,Trigger,1\n");
        let msg = read_function_counts(&bad.path, None, None, None)
            .expect_err("bad header")
            .to_string();
        assert!(msg.contains(":1:") && msg.contains("HashFunction"), "{msg}");

        let s = spec(None, Some((1, 2000)), Spread::Even);
        let msg = s
            .build(&day.dir, RunSeed(1).stream("a"))
            .expect_err("window past the day")
            .to_string();
        assert!(
            msg.starts_with("workload.day_minutes") && msg.contains("1..=1440"),
            "{msg}"
        );
        let s = spec(None, Some((5, 4)), Spread::Even);
        assert!(
            s.validate()
                .expect_err("reversed")
                .to_string()
                .starts_with("workload.day_minutes")
        );
        let msg = spec(None, None, Spread::Even)
            .build(Path::new("/nonexistent-dir"), RunSeed(1).stream("a"))
            .expect_err("missing file")
            .to_string();
        assert!(
            msg.starts_with("cannot read trace file") && msg.contains("/nonexistent-dir/"),
            "{msg}"
        );
    }
}
