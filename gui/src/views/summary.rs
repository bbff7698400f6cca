//! The summary of the last run: the metrics `infscaler run` prints, per-stage breakdowns and the
//! final deployment.

use egui::{Grid, RichText, Ui};
use infscaler_sim::metrics::DropReason;

use super::{fmt_gib, fmt_num, fmt_opt, header_row};
use crate::analysis::RunOutcome;

/// Draws the summary of `outcome`.
pub fn summary_ui(ui: &mut Ui, outcome: &RunOutcome) {
    let r = &outcome.report;
    let s = &r.summary;
    ui.heading(format!(
        "{} — {} on {} ({})",
        r.scenario, r.app, r.device, r.policy
    ));
    ui.label(
        RichText::new(format!(
            "seed {} · transport {} · {} events in {:.2} s wall time",
            r.seed, r.transport, r.events_processed, outcome.wall_s
        ))
        .weak(),
    );
    ui.add_space(6.0);
    ui.columns(2, |cols| {
        Grid::new("summary")
            .num_columns(2)
            .striped(true)
            .show(&mut cols[0], |ui| {
                let mut row = |name: &str, value: String| {
                    ui.label(name);
                    ui.monospace(value);
                    ui.end_row();
                };
                row("Arrivals", s.arrivals.to_string());
                row("Completed", s.completed.to_string());
                row("Dropped", s.dropped.to_string());
                row("In flight", s.in_flight.to_string());
                row("Throughput (req/s)", fmt_num(s.throughput_rps));
                row("Goodput (req/s)", fmt_num(s.goodput_rps));
                row(
                    "SLO attainment",
                    s.slo_attainment
                        .map_or("-".into(), |a| format!("{:.2} %", a * 100.0)),
                );
                row("SLO (ms)", fmt_num(s.slo_ms));
                row("Isolated latency (ms)", fmt_num(r.isolated_latency_ms));
                let lat = s.latency_ms.as_ref();
                row("Latency p50 (ms)", fmt_opt(lat.map(|l| l.p50)));
                row("Latency p90 (ms)", fmt_opt(lat.map(|l| l.p90)));
                row("Latency p99 (ms)", fmt_opt(lat.map(|l| l.p99)));
                row("Latency max (ms)", fmt_opt(lat.map(|l| l.max)));
                row("Latency mean (ms)", fmt_opt(lat.map(|l| l.mean)));
                row("Memory peak (GiB)", fmt_gib(s.memory_peak_bytes as f64));
                row("Memory mean (GiB)", fmt_gib(s.memory_mean_bytes));
                for (acc, u) in &s.utilization {
                    row(&format!("Utilisation {acc}"), format!("{:.1} %", u * 100.0));
                }
                let outs = r.scaling_events.iter().filter(|e| e.delta > 0).count();
                row("Scale-outs", outs.to_string());
                row("Scale-ins", (r.scaling_events.len() - outs).to_string());
                row("Refused instances", r.refused_instances.to_string());
                for i in &r.interference {
                    row(
                        "Interference",
                        format!("{}: {} window(s), {:.1} s", i.what, i.windows, i.active_s),
                    );
                }
                row("Measured window (s)", fmt_num(s.duration_s));
            });
        let ui = &mut cols[1];
        ui.strong("Dropped by reason");
        Grid::new("drops")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for reason in DropReason::ALL {
                    ui.label(drop_reason(reason));
                    ui.monospace(
                        s.dropped_by_reason
                            .get(&reason)
                            .copied()
                            .unwrap_or(0)
                            .to_string(),
                    );
                    ui.end_row();
                }
            });
        ui.add_space(8.0);
        ui.strong("Stages");
        Grid::new("stages")
            .num_columns(7)
            .striped(true)
            .show(ui, |ui| {
                header_row(
                    ui,
                    &[
                        "#",
                        "requests",
                        "batch",
                        "queue ms",
                        "exec ms",
                        "blocked ms",
                        "hand-off ms",
                    ],
                );
                for (i, st) in s.stages.iter().enumerate() {
                    ui.label(i.to_string());
                    ui.monospace(st.requests.to_string());
                    ui.monospace(fmt_opt(st.mean_batch_size));
                    ui.monospace(fmt_opt(st.mean_queue_ms));
                    ui.monospace(fmt_opt(st.mean_exec_ms));
                    ui.monospace(fmt_opt(st.mean_blocked_ms));
                    ui.monospace(fmt_opt(st.mean_transfer_ms));
                    ui.end_row();
                }
            });
        if !r.streams.is_empty() {
            ui.add_space(8.0);
            streams_ui(ui, &r.streams);
        }
        ui.add_space(8.0);
        ui.strong("Deployment at the end");
        Grid::new("deployment")
            .num_columns(3)
            .striped(true)
            .show(ui, |ui| {
                header_row(ui, &["partition", "operators", "instances"]);
                for (i, p) in r.partitions.iter().enumerate() {
                    ui.label(format!("P{i} {}", p.model));
                    ui.monospace(format!("#{}–#{}", p.first_op, p.last_op));
                    let inst: Vec<String> = p
                        .instances
                        .iter()
                        .map(|(a, n)| format!("{a}×{n}"))
                        .collect();
                    ui.monospace(if inst.is_empty() {
                        "-".into()
                    } else {
                        inst.join(" ")
                    });
                    ui.end_row();
                }
            });
    });
}

/// The report's name of a drop reason.
pub fn drop_reason(reason: DropReason) -> &'static str {
    match reason {
        DropReason::QueueFull => "queue_full",
        DropReason::OutOfMemory => "out_of_memory",
        DropReason::NoInstance => "no_instance",
        DropReason::Timeout => "timeout",
        DropReason::Cutoff => "cutoff",
    }
}

/// Each query stream's figures (a scenario with `[[streams]]`).
fn streams_ui(ui: &mut Ui, streams: &[infscaler_sim::report::StreamReport]) {
    ui.strong("Streams");
    Grid::new("streams")
        .num_columns(7)
        .striped(true)
        .show(ui, |ui| {
            header_row(
                ui,
                &[
                    "stream", "SLO ms", "arrivals", "dropped", "attained", "p99 ms", "accuracy",
                ],
            );
            for st in streams {
                ui.label(&st.name).on_hover_text(&st.app);
                ui.monospace(fmt_num(st.slo_ms));
                ui.monospace(st.arrivals.to_string());
                ui.monospace(st.dropped.to_string());
                ui.monospace(
                    st.slo_attainment
                        .map_or("-".into(), |a| format!("{:.2} %", a * 100.0)),
                );
                ui.monospace(fmt_opt(st.latency_ms.as_ref().map(|l| l.p99)));
                ui.monospace(
                    st.accuracy
                        .as_ref()
                        .and_then(|a| a.served_percent)
                        .map_or("-".into(), |a| format!("{a:.2} %")),
                );
                ui.end_row();
            }
        });
}
