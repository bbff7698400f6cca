//! Human units in configuration values: `"16GiB"`, `"137GB/s"`, `"11TFLOPS"`, `"1.1GHz"`,
//! `"250ms"`.
//!
//! Each quantity is a newtype over the SI base unit (bytes, bytes/s, FLOP/s, Hz, ns). It parses
//! from a string with a number and a suffix (space between them optional), deserialises from such
//! a string only, and serialises to a canonical string that parses back to the same value.
//! Negative numbers, NaN, a missing suffix and unknown suffixes are errors that list the allowed
//! suffixes.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::SimDuration;

/// Why a quantity with a unit could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// The text is empty or blank.
    #[error("empty {quantity}; expected a number and a unit, e.g. \"{example}\"")]
    Empty {
        /// What was being parsed ("byte size", "time span", …).
        quantity: &'static str,
        /// An example of a valid value.
        example: &'static str,
    },
    /// No number at the start of the text (this also catches `NaN` and `inf`).
    #[error("invalid {quantity} \"{input}\": expected a number followed by one of: {allowed}")]
    NotANumber {
        /// What was being parsed.
        quantity: &'static str,
        /// The text as given.
        input: String,
        /// The allowed suffixes, comma-separated.
        allowed: String,
    },
    /// The number is negative.
    #[error("invalid {quantity} \"{input}\": must not be negative")]
    Negative {
        /// What was being parsed.
        quantity: &'static str,
        /// The text as given.
        input: String,
    },
    /// A bare number without a unit.
    #[error("invalid {quantity} \"{input}\": missing unit; add one of: {allowed}")]
    MissingUnit {
        /// What was being parsed.
        quantity: &'static str,
        /// The text as given.
        input: String,
        /// The allowed suffixes, comma-separated.
        allowed: String,
    },
    /// A suffix that is not one of the allowed ones.
    #[error("invalid {quantity} \"{input}\": unknown unit \"{suffix}\"; allowed: {allowed}")]
    UnknownUnit {
        /// What was being parsed.
        quantity: &'static str,
        /// The text as given.
        input: String,
        /// The suffix that was not recognised.
        suffix: String,
        /// The allowed suffixes, comma-separated.
        allowed: String,
    },
    /// The value does not fit the target type (more than 2^64 bytes or nanoseconds).
    #[error("invalid {quantity} \"{input}\": too large")]
    TooLarge {
        /// What was being parsed.
        quantity: &'static str,
        /// The text as given.
        input: String,
    },
}

/// A unit suffix and how many base units it stands for.
type UnitTable = &'static [(&'static str, f64)];

/// Suffixes of [`ByteSize`], in bytes. Binary (`KiB` = 1024) and decimal (`kB` = 1000).
const BYTE_UNITS: UnitTable = &[
    ("B", 1.0),
    ("kB", 1e3),
    ("KB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
    ("KiB", 1024.0),
    ("MiB", 1_048_576.0),
    ("GiB", 1_073_741_824.0),
    ("TiB", 1_099_511_627_776.0),
];

/// Suffixes of [`ByteRate`], in bytes per second.
const BYTE_RATE_UNITS: UnitTable = &[
    ("B/s", 1.0),
    ("kB/s", 1e3),
    ("KB/s", 1e3),
    ("MB/s", 1e6),
    ("GB/s", 1e9),
    ("TB/s", 1e12),
    ("KiB/s", 1024.0),
    ("MiB/s", 1_048_576.0),
    ("GiB/s", 1_073_741_824.0),
];

/// Suffixes of [`FlopRate`], in operations per second. `OPS` forms are for integer (INT8)
/// operations, counted like FLOPs.
const FLOP_RATE_UNITS: UnitTable = &[
    ("FLOPS", 1.0),
    ("FLOP/s", 1.0),
    ("MFLOPS", 1e6),
    ("MFLOP/s", 1e6),
    ("GFLOPS", 1e9),
    ("GFLOP/s", 1e9),
    ("TFLOPS", 1e12),
    ("TFLOP/s", 1e12),
    ("OPS", 1.0),
    ("GOPS", 1e9),
    ("TOPS", 1e12),
];

/// Suffixes of [`Frequency`], in hertz.
const FREQUENCY_UNITS: UnitTable = &[("Hz", 1.0), ("kHz", 1e3), ("MHz", 1e6), ("GHz", 1e9)];

/// Suffixes of [`TimeSpan`], in nanoseconds.
const TIME_UNITS: UnitTable = &[
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("min", 60e9),
    ("h", 3600e9),
];

fn allowed(units: UnitTable) -> String {
    units.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
}

/// Parses `"<number><space?><suffix>"` into base units (number × the suffix's factor).
fn parse_scaled(
    text: &str,
    quantity: &'static str,
    example: &'static str,
    units: UnitTable,
) -> Result<f64, UnitError> {
    let input = text.trim();
    if input.is_empty() {
        return Err(UnitError::Empty { quantity, example });
    }
    let split = input
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map_or(input.len(), |(i, _)| i);
    let (number, suffix) = input.split_at(split);
    let suffix = suffix.trim_start();
    let value: f64 = number.parse().map_err(|_| UnitError::NotANumber {
        quantity,
        input: input.to_owned(),
        allowed: allowed(units),
    })?;
    if !value.is_finite() {
        return Err(UnitError::NotANumber {
            quantity,
            input: input.to_owned(),
            allowed: allowed(units),
        });
    }
    if value < 0.0 || number.starts_with('-') {
        return Err(UnitError::Negative {
            quantity,
            input: input.to_owned(),
        });
    }
    if suffix.is_empty() {
        return Err(UnitError::MissingUnit {
            quantity,
            input: input.to_owned(),
            allowed: allowed(units),
        });
    }
    let factor = units
        .iter()
        .find(|(s, _)| *s == suffix)
        .map(|&(_, f)| f)
        .ok_or_else(|| UnitError::UnknownUnit {
            quantity,
            input: input.to_owned(),
            suffix: suffix.to_owned(),
            allowed: allowed(units),
        })?;
    let scaled = value * factor;
    if !scaled.is_finite() {
        return Err(UnitError::TooLarge {
            quantity,
            input: input.to_owned(),
        });
    }
    Ok(scaled)
}

/// Converts a non-negative finite float to `u64`, rounding to nearest; `None` if it overflows.
fn to_u64(x: f64) -> Option<u64> {
    let r = x.round();
    // 2^64 is exactly representable; anything at or above it does not fit.
    (r < 18_446_744_073_709_551_616.0).then_some(r as u64)
}

/// Writes `x` in the largest of `units` (given largest first) that represents it exactly:
/// `(x / factor) * factor == x`, so the text parses back to the same `f64`.
fn fmt_rate(f: &mut fmt::Formatter<'_>, x: f64, units: &[(&str, f64)]) -> fmt::Result {
    for &(suffix, factor) in units {
        let v = x / factor;
        if x >= factor && v * factor == x {
            return write!(f, "{v}{suffix}");
        }
    }
    let (base, _) = units[units.len() - 1];
    write!(f, "{x}{base}")
}

/// Writes a whole number of base units in the largest unit (largest first) that divides it.
fn fmt_integer(f: &mut fmt::Formatter<'_>, x: u64, units: &[(&str, u64)]) -> fmt::Result {
    for &(suffix, factor) in units {
        if x >= factor && x.is_multiple_of(factor) {
            return write!(f, "{}{suffix}", x / factor);
        }
    }
    write!(f, "{x}{}", units[units.len() - 1].0)
}

/// Implements `Display` via `fmt`, `Serialize` as that string, and `Deserialize` from a string
/// via `FromStr`, for a unit newtype.
macro_rules! string_serde {
    ($ty:ident, $expecting:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

/// An amount of memory or storage in bytes: `"16GiB"`, `"512 MiB"`, `"1.5GB"`, `"4096B"`.
///
/// Binary suffixes (KiB, MiB, GiB, TiB) are powers of 1024; decimal ones (kB/KB, MB, GB, TB) are
/// powers of 1000. Fractions are rounded to the nearest byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        let bytes = parse_scaled(s, "byte size", "16GiB", BYTE_UNITS)?;
        to_u64(bytes)
            .map(ByteSize)
            .ok_or_else(|| UnitError::TooLarge {
                quantity: "byte size",
                input: s.trim().to_owned(),
            })
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_integer(
            f,
            self.0,
            &[
                ("TiB", 1 << 40),
                ("GiB", 1 << 30),
                ("MiB", 1 << 20),
                ("KiB", 1 << 10),
                ("TB", 1_000_000_000_000),
                ("GB", 1_000_000_000),
                ("MB", 1_000_000),
                ("kB", 1_000),
                ("B", 1),
            ],
        )
    }
}

string_serde!(
    ByteSize,
    "a byte size string with a unit, e.g. \"16GiB\" (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)"
);

/// A data rate in bytes per second: `"137GB/s"`, `"59.7 GB/s"`, `"800MiB/s"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct ByteRate(pub f64);

impl ByteRate {
    /// The rate in bytes per second.
    pub fn bytes_per_s(self) -> f64 {
        self.0
    }
}

impl FromStr for ByteRate {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        parse_scaled(s, "byte rate", "137GB/s", BYTE_RATE_UNITS).map(ByteRate)
    }
}

impl fmt::Display for ByteRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_rate(
            f,
            self.0,
            &[
                ("TB/s", 1e12),
                ("GB/s", 1e9),
                ("MB/s", 1e6),
                ("kB/s", 1e3),
                ("B/s", 1.0),
            ],
        )
    }
}

string_serde!(
    ByteRate,
    "a byte rate string with a unit, e.g. \"137GB/s\" (B/s, kB/s, MB/s, GB/s, TB/s, KiB/s, MiB/s, GiB/s)"
);

/// A compute rate in operations per second: `"11TFLOPS"`, `"5.3 TFLOP/s"`, or `"22 TOPS"` for
/// integer (INT8) operations, which count the same as FLOPs here.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct FlopRate(pub f64);

impl FlopRate {
    /// The rate in operations per second.
    pub fn flops_per_s(self) -> f64 {
        self.0
    }
}

impl FromStr for FlopRate {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        parse_scaled(s, "compute rate", "11TFLOPS", FLOP_RATE_UNITS).map(FlopRate)
    }
}

impl fmt::Display for FlopRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_rate(
            f,
            self.0,
            &[
                ("TFLOPS", 1e12),
                ("GFLOPS", 1e9),
                ("MFLOPS", 1e6),
                ("FLOPS", 1.0),
            ],
        )
    }
}

string_serde!(
    FlopRate,
    "a compute rate string with a unit, e.g. \"11TFLOPS\" (FLOPS, FLOP/s, MFLOPS, GFLOPS, TFLOPS, OPS, GOPS, TOPS)"
);

/// A clock frequency in hertz: `"1.1GHz"`, `"1377MHz"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Frequency(pub f64);

impl Frequency {
    /// The frequency in hertz.
    pub fn hz(self) -> f64 {
        self.0
    }
}

impl FromStr for Frequency {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        parse_scaled(s, "frequency", "1377MHz", FREQUENCY_UNITS).map(Frequency)
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_rate(
            f,
            self.0,
            &[("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3), ("Hz", 1.0)],
        )
    }
}

string_serde!(
    Frequency,
    "a frequency string with a unit, e.g. \"1377MHz\" (Hz, kHz, MHz, GHz)"
);

/// A span of time: `"250ms"`, `"1.5s"`, `"30us"`, `"100ns"`, `"2min"`, `"1h"`. Rounded to the
/// nearest nanosecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeSpan(pub SimDuration);

impl TimeSpan {
    /// The span in nanoseconds.
    pub fn as_ns(self) -> u64 {
        self.0.as_ns()
    }
}

impl From<TimeSpan> for SimDuration {
    fn from(t: TimeSpan) -> SimDuration {
        t.0
    }
}

impl FromStr for TimeSpan {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        let ns = parse_scaled(s, "time span", "250ms", TIME_UNITS)?;
        to_u64(ns)
            .map(|ns| TimeSpan(SimDuration::from_ns(ns)))
            .ok_or_else(|| UnitError::TooLarge {
                quantity: "time span",
                input: s.trim().to_owned(),
            })
    }
}

impl fmt::Display for TimeSpan {
    /// The largest unit that shows the span exactly with at most three decimals: `1.5s`,
    /// `250ms`, `2min`, `90s`, `17ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_ns();
        // (suffix, ns per unit, decimal digits allowed: only for power-of-ten units)
        const UNITS: [(&str, u64, u32); 5] = [
            ("h", 3_600_000_000_000, 0),
            ("min", 60_000_000_000, 0),
            ("s", 1_000_000_000, 3),
            ("ms", 1_000_000, 3),
            ("us", 1_000, 3),
        ];
        for (suffix, per, max_decimals) in UNITS {
            if ns < per {
                continue;
            }
            let (whole, rem) = (ns / per, ns % per);
            if rem == 0 {
                return write!(f, "{whole}{suffix}");
            }
            if max_decimals > 0 {
                let digits = per.ilog10();
                let frac = format!("{rem:0width$}", width = digits as usize);
                let frac = frac.trim_end_matches('0');
                if frac.len() as u32 <= max_decimals {
                    return write!(f, "{whole}.{frac}{suffix}");
                }
            }
        }
        write!(f, "{ns}ns")
    }
}

string_serde!(
    TimeSpan,
    "a time span string with a unit, e.g. \"250ms\" (ns, us, µs, ms, s, min, h)"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_take_binary_and_decimal_suffixes() {
        assert_eq!("16GiB".parse::<ByteSize>(), Ok(ByteSize(16 << 30)));
        assert_eq!("512 MiB".parse::<ByteSize>(), Ok(ByteSize(512 << 20)));
        assert_eq!("1.5GB".parse::<ByteSize>(), Ok(ByteSize(1_500_000_000)));
        assert_eq!("4096B".parse::<ByteSize>(), Ok(ByteSize(4096)));
        assert_eq!(" 2 kB ".parse::<ByteSize>(), Ok(ByteSize(2000)));
        assert_eq!("0B".parse::<ByteSize>(), Ok(ByteSize(0)));
    }

    #[test]
    fn byte_sizes_reject_bad_input_with_the_allowed_suffixes() {
        let missing = "4096".parse::<ByteSize>().unwrap_err();
        assert!(matches!(missing, UnitError::MissingUnit { .. }));
        assert!(missing.to_string().contains("GiB"), "{missing}");
        let unknown = "16Gb".parse::<ByteSize>().unwrap_err();
        assert!(matches!(unknown, UnitError::UnknownUnit { ref suffix, .. } if suffix == "Gb"));
        assert!(unknown.to_string().contains("KiB, MiB, GiB"), "{unknown}");
        assert!(matches!(
            "-1GiB".parse::<ByteSize>(),
            Err(UnitError::Negative { .. })
        ));
        assert!(matches!(
            "NaN GB".parse::<ByteSize>(),
            Err(UnitError::NotANumber { .. })
        ));
        assert!(matches!(
            "GB".parse::<ByteSize>(),
            Err(UnitError::NotANumber { .. })
        ));
        assert!(matches!(
            "1.2.3GB".parse::<ByteSize>(),
            Err(UnitError::NotANumber { .. })
        ));
        assert!(matches!(
            "".parse::<ByteSize>(),
            Err(UnitError::Empty { .. })
        ));
        assert!(matches!(
            "100000000TiB".parse::<ByteSize>(),
            Err(UnitError::TooLarge { .. })
        ));
    }

    #[test]
    fn byte_sizes_display_canonically_and_round_trip() {
        assert_eq!(ByteSize(32 << 30).to_string(), "32GiB");
        assert_eq!(ByteSize(1_500_000_000).to_string(), "1500MB");
        assert_eq!(ByteSize(4097).to_string(), "4097B");
        for b in [0, 1, 1023, 1024, 1_000_000, 3 << 20, 12_345_678_901] {
            let s = ByteSize(b).to_string();
            assert_eq!(s.parse::<ByteSize>(), Ok(ByteSize(b)), "{s}");
        }
    }

    #[test]
    fn byte_rates_parse_and_round_trip() {
        assert_eq!("137GB/s".parse::<ByteRate>(), Ok(ByteRate(137e9)));
        assert_eq!("59.7 GB/s".parse::<ByteRate>(), Ok(ByteRate(59.7e9)));
        assert_eq!(
            "800MiB/s".parse::<ByteRate>(),
            Ok(ByteRate(800.0 * 1_048_576.0))
        );
        assert!(matches!(
            "137GB".parse::<ByteRate>(),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            "137".parse::<ByteRate>(),
            Err(UnitError::MissingUnit { .. })
        ));
        assert!(matches!(
            "-5GB/s".parse::<ByteRate>(),
            Err(UnitError::Negative { .. })
        ));
        for x in [
            137e9,
            59.7e9,
            204.8e9,
            800.0 * 1_048_576.0,
            1.0,
            0.0,
            123.456,
        ] {
            let s = ByteRate(x).to_string();
            assert_eq!(s.parse::<ByteRate>(), Ok(ByteRate(x)), "{s}");
        }
        assert_eq!(ByteRate(137e9).to_string(), "137GB/s");
    }

    #[test]
    fn flop_rates_accept_flops_and_int8_ops() {
        assert_eq!("11TFLOPS".parse::<FlopRate>(), Ok(FlopRate(11e12)));
        assert_eq!("5.3 TFLOP/s".parse::<FlopRate>(), Ok(FlopRate(5.3e12)));
        assert_eq!("22 TOPS".parse::<FlopRate>(), Ok(FlopRate(22e12)));
        assert_eq!("290GFLOPS".parse::<FlopRate>(), Ok(FlopRate(290e9)));
        assert!(matches!(
            "11 TFLOP".parse::<FlopRate>(),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            "-1TOPS".parse::<FlopRate>(),
            Err(UnitError::Negative { .. })
        ));
        assert!(matches!(
            "11".parse::<FlopRate>(),
            Err(UnitError::MissingUnit { .. })
        ));
        let s = FlopRate(11.264e12).to_string();
        assert_eq!(s.parse::<FlopRate>(), Ok(FlopRate(11.264e12)), "{s}");
    }

    #[test]
    fn frequencies_parse_and_round_trip() {
        assert_eq!("1.1GHz".parse::<Frequency>(), Ok(Frequency(1.1e9)));
        assert_eq!("1377MHz".parse::<Frequency>(), Ok(Frequency(1377e6)));
        assert!(matches!(
            "1377mhz".parse::<Frequency>(),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            "1377".parse::<Frequency>(),
            Err(UnitError::MissingUnit { .. })
        ));
        assert_eq!(Frequency(1377e6).to_string(), "1.377GHz");
        assert_eq!("1.377GHz".parse::<Frequency>(), Ok(Frequency(1377e6)));
    }

    #[test]
    fn time_spans_parse_to_nanoseconds() {
        let ns = |s: &str| s.parse::<TimeSpan>().map(TimeSpan::as_ns);
        assert_eq!(ns("250ms"), Ok(250_000_000));
        assert_eq!(ns("1.5s"), Ok(1_500_000_000));
        assert_eq!(ns("30us"), Ok(30_000));
        assert_eq!(ns("30µs"), Ok(30_000));
        assert_eq!(ns("100ns"), Ok(100));
        assert_eq!(ns("2min"), Ok(120_000_000_000));
        assert_eq!(ns("1h"), Ok(3_600_000_000_000));
        assert!(matches!(ns("250"), Err(UnitError::MissingUnit { .. })));
        assert!(matches!(ns("250 sec"), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(ns("-1s"), Err(UnitError::Negative { .. })));
        assert!(matches!(ns("1e3s"), Err(UnitError::UnknownUnit { .. })));
    }

    #[test]
    fn time_spans_display_exactly_and_round_trip() {
        let show = |ns: u64| TimeSpan(SimDuration::from_ns(ns)).to_string();
        assert_eq!(show(1_500_000_000), "1.5s");
        assert_eq!(show(250_000_000), "250ms");
        assert_eq!(show(120_000_000_000), "2min");
        assert_eq!(show(90_000_000_000), "90s");
        assert_eq!(show(17), "17ns");
        assert_eq!(show(0), "0ns");
        for ns in [
            0,
            1,
            999,
            1_234,
            1_234_567,
            1_500_000_000,
            86_400_000_000_123,
        ] {
            let s = show(ns);
            assert_eq!(s.parse::<TimeSpan>().map(TimeSpan::as_ns), Ok(ns), "{s}");
        }
    }

    #[test]
    fn serde_reads_strings_only_and_writes_canonical_strings() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Cfg {
            size: ByteSize,
            rate: ByteRate,
            peak: FlopRate,
            clock: Frequency,
            delay: TimeSpan,
        }
        let text = r#"{"size":"16GiB","rate":"137GB/s","peak":"11TFLOPS","clock":"1377MHz","delay":"250ms"}"#;
        let cfg: Cfg = serde_json::from_str(text).unwrap();
        assert_eq!(cfg.size, ByteSize(16 << 30));
        assert_eq!(cfg.delay.as_ns(), 250_000_000);
        let back = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<Cfg>(&back).unwrap(), cfg);
        assert!(back.contains("\"16GiB\""), "{back}");

        let err = serde_json::from_str::<ByteSize>("4096")
            .unwrap_err()
            .to_string();
        assert!(err.contains("GiB"), "{err}");
        let err = serde_json::from_str::<ByteRate>("\"5 parsecs\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("GB/s"), "{err}");
    }
}
