//! The UI state kept between launches (eframe storage). Everything here is plain data with a
//! default, so a state saved by an older version still loads; thread handles, loaded tables and
//! results live in the app, never here.

use infscaler_results::summarize::Agg;
use serde::{Deserialize, Serialize};

/// The views of the central panel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum View {
    /// The run's summary table.
    #[default]
    Summary,
    /// Instances per accelerator over time (Gantt).
    Timeline,
    /// Throughput, goodput, latency, memory and utilisation over time.
    Series,
    /// The latency CDF.
    Cdf,
    /// Per-operator FLOPs with the cut points and instances of each partition.
    Partitions,
    /// The four systems on the same scenario.
    Compare,
    /// A sweep results file as a pivot table.
    Sweep,
}

impl View {
    /// Every view, in tab order.
    pub const ALL: [View; 7] = [
        View::Summary,
        View::Timeline,
        View::Series,
        View::Cdf,
        View::Partitions,
        View::Compare,
        View::Sweep,
    ];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            View::Summary => "Summary",
            View::Timeline => "Timeline",
            View::Series => "Time series",
            View::Cdf => "Latency CDF",
            View::Partitions => "Partitions",
            View::Compare => "Compare",
            View::Sweep => "Sweep results",
        }
    }
}

/// The choices of the sweep browser.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepChoice {
    /// The results file (Parquet, CSV or JSONL).
    pub path: String,
    /// Columns that label the rows.
    pub row_keys: Vec<String>,
    /// Column spread across the table (none: one value column).
    pub column_key: Option<String>,
    /// The aggregated metric.
    pub metric: String,
    /// How a group's values are combined.
    pub agg: Agg,
}

/// Plot options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlotOptions {
    /// Show the arrival and drop rates beside throughput and goodput.
    pub show_arrivals: bool,
    /// Per-operator FLOPs on a log scale.
    pub log_flops: bool,
    /// Latency CDF with a log latency axis.
    pub log_latency: bool,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            show_arrivals: true,
            log_flops: false,
            log_latency: false,
        }
    }
}

/// Everything persisted between launches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiState {
    /// The scenario path field.
    pub scenario_path: String,
    /// The edited scenario as TOML (restored on the next launch, unsaved edits included), and
    /// the file it came from.
    pub draft: Option<Draft>,
    /// The view shown.
    pub view: View,
    /// Where exports go.
    pub export_dir: String,
    /// The sweep browser's choices.
    pub sweep: SweepChoice,
    /// Plot options.
    pub plots: PlotOptions,
}

/// An edited scenario as kept between launches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Draft {
    /// The scenario's TOML.
    pub toml: String,
    /// The file it was opened from or saved to, if any.
    pub path: Option<String>,
    /// The file's text when last opened or saved (tells unsaved edits).
    pub saved_toml: String,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            scenario_path: String::new(),
            draft: None,
            view: View::default(),
            export_dir: "results/gui".into(),
            sweep: SweepChoice::default(),
            plots: PlotOptions::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_or_partial_state_loads_with_defaults() {
        let state: UiState = serde_json::from_str(r#"{"view":"Compare","unknown":1}"#).unwrap();
        assert_eq!(state.view, View::Compare);
        assert_eq!(state.export_dir, "results/gui");
        assert!(state.plots.show_arrivals);
    }

    #[test]
    fn state_round_trips() {
        let state = UiState {
            scenario_path: "scenarios/quickstart.toml".into(),
            draft: Some(Draft {
                toml: "seed = 1".into(),
                path: Some("a.toml".into()),
                saved_toml: String::new(),
            }),
            view: View::Sweep,
            export_dir: "out".into(),
            sweep: SweepChoice {
                path: "r.parquet".into(),
                row_keys: vec!["app".into()],
                column_key: Some("policy".into()),
                metric: "goodput_rps".into(),
                agg: Agg::Max,
            },
            plots: PlotOptions::default(),
        };
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<UiState>(&text).unwrap(), state);
    }
}
