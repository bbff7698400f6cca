//! Markdown and number formatting shared by the sections of the report.

use infscaler_results::summarize::fmt_value;

use super::Results;
use super::stats::{Stat, mean_of};

/// Bytes in a MiB.
pub const MIB: f64 = (1u64 << 20) as f64;

/// Display name of a policy kind.
pub fn system(kind: &str) -> &str {
    match kind {
        "infscaler" => "InfScaler",
        "infless" => "INFless",
        "spright" => "SPRIGHT",
        "knative" => "Knative",
        "static" => "static",
        other => other,
    }
}

/// A fraction as a signed percentage, `+12.3 %`.
pub fn pct(x: f64) -> String {
    format!("{:+.1} %", x * 100.0)
}

/// `ours / theirs` with two decimals, `-` when either is missing or `theirs` is 0.
pub fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

/// One of the paper's claims beside ours: a row of the summary tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// What is claimed.
    pub claim: String,
    /// The paper's number, as shown.
    pub paper: String,
    /// Ours, as shown (`-` when there is none).
    pub ours: String,
    /// The number ours stands for: a gain or change as a fraction, a time in ms, 1 or 0 for a
    /// yes or no.
    pub value: Option<f64>,
    /// Ours over the paper's, as shown (`-` when not a ratio).
    pub ratio: String,
    /// Whether the claim holds here (`None`: nothing to judge).
    pub holds: Option<bool>,
}

impl Claim {
    /// A claimed gain or change (`paper`, ours `value`, shown as `ours`): the ratio compares
    /// `1 + ours` with `1 + paper` (the table's note says so), and the claim's direction holds
    /// when ours has the paper's sign and is at least [`NEGLIGIBLE`] in size (a +0.02 % "gain"
    /// is no gain).
    pub fn gain(claim: &str, paper: f64, value: Option<f64>, ours: &str) -> Claim {
        Claim {
            claim: claim.to_string(),
            paper: pct(paper),
            ours: ours.to_string(),
            value,
            ratio: ratio(value.map(|g| 1.0 + g), Some(1.0 + paper)),
            holds: value.map(|o| o.abs() >= NEGLIGIBLE && (o > 0.0) == (paper > 0.0)),
        }
    }

    /// A claimed yes: ours is `value` (`None`: nothing to judge).
    pub fn yes(claim: &str, value: Option<bool>) -> Claim {
        Claim {
            claim: claim.to_string(),
            paper: "yes".into(),
            ours: holds(value).to_string(),
            value: value.map(|v| f64::from(u8::from(v))),
            ratio: "-".into(),
            holds: value,
        }
    }

    /// `| claim | paper | ours | ours / paper | holds? |`.
    pub fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} |",
            self.claim,
            self.paper,
            self.ours,
            self.ratio,
            holds(self.holds)
        )
    }
}

/// The smallest gain or change that counts as one: 1 %.
pub const NEGLIGIBLE: f64 = 0.01;

/// The "holds?" cell of a claim: `yes`, `no`, or `-` when there is nothing to judge.
pub fn holds(verdict: Option<bool>) -> &'static str {
    match verdict {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

/// A cell's mean or, over several repeats that differ, `mean [min–max]`.
pub fn with_range(s: Stat) -> String {
    let (lo, hi) = (fmt_value(s.min), fmt_value(s.max));
    if s.n > 1 && lo != hi {
        format!("{} [{lo}–{hi}]", fmt_value(s.mean))
    } else {
        fmt_value(s.mean)
    }
}

/// `InfScaler m, INFless m, …`: each system's mean of the values `values(system)` gives.
pub fn per_system_means<S: AsRef<str>>(systems: &[S], values: impl Fn(&str) -> Vec<f64>) -> String {
    systems
        .iter()
        .map(|s| {
            let s = s.as_ref();
            format!("{} {}", system(s), fmt_value(mean_of(&values(s))))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a`, `a and b`, `a, b and c`.
pub fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => format!(
            "{} and {}",
            init.iter()
                .map(|s| s.as_ref())
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}

/// The line that names an experiment's sweep file and data.
pub fn source_line(r: &Results) -> String {
    format!(
        "Sweep `scenarios/paper/{}` ({} rows: `{}`).\n",
        r.figure.sweep,
        r.rows.len(),
        r.csv
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_the_range_over_repeats() {
        let s = Stat {
            mean: Some(2.0),
            min: Some(1.0),
            max: Some(3.0),
            n: 3,
        };
        assert_eq!(with_range(s), "2 [1–3]");
        let s = Stat {
            mean: Some(2.5),
            min: Some(0.125),
            max: Some(30.0),
            n: 2,
        };
        assert_eq!(with_range(s), "2.500 [0.1250–30]");
        assert_eq!(with_range(Stat { n: 1, ..s }), "2.500");
    }

    #[test]
    fn a_claimed_gain_holds_only_in_its_direction_and_beyond_a_negligible_size() {
        let verdict = |ours: f64| Claim::gain("c", 0.165, Some(ours), "x").holds;
        assert_eq!(verdict(0.05), Some(true));
        assert_eq!(verdict(0.0002), Some(false));
        assert_eq!(verdict(-0.3), Some(false));
        let memory = Claim::gain("c", -0.315, Some(-0.069), "-6.9 %");
        assert_eq!(memory.row(), "| c | -31.5 % | -6.9 % | 1.36 | yes |");
        assert!(Claim::gain("c", -0.315, None, "-").row().ends_with("| - |"));
        assert_eq!(
            Claim::yes("c", Some(false)).row(),
            "| c | yes | no | - | no |"
        );
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(and_list::<&str>(&[]), "");
        assert_eq!(and_list(&["LT"]), "LT");
        assert_eq!(and_list(&["LT", "VU"]), "LT and VU");
        assert_eq!(and_list(&["TM", "LT", "VU"]), "TM, LT and VU");
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50");
        assert_eq!(ratio(Some(3.0), Some(0.0)), "-");
        assert_eq!(pct(0.1234), "+12.3 %");
    }
}
