//! The partition view (the paper's Fig. 2): each model's per-operator FLOPs as bars coloured by
//! partition, the cut points as vertical lines, and the instances of each partition at the start
//! (the policy's plan) and, after a run, at its end. It shows the last run, or the plan of the
//! edited scenario (`infscaler plan`) without running it.

use std::collections::BTreeMap;

use egui::{Color32, Grid, RichText, Ui};
use egui_plot::{Bar, BarChart, Legend, LineStyle, Plot, PlotPoint, Text, VLine};
use infscaler_sim::experiment::plan::PlanReport;
use infscaler_sim::model::Model;

use super::{Command, PlotRects, fmt_num, header_row, palette, plot_heading_ui};
use crate::analysis::RunOutcome;
use crate::state::PlotOptions;

/// A policy's plan of a scenario, without a run.
#[derive(Clone, Debug)]
pub struct PlanOutcome {
    /// The plan.
    pub plan: PlanReport,
    /// The app's models.
    pub models: Vec<Model>,
    /// The device's accelerators in profile order.
    pub accelerators: Vec<String>,
}

/// One partition as the view shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionRow {
    /// App stage.
    pub stage: usize,
    /// Model name.
    pub model: String,
    /// First and last operator, 1-based.
    pub ops: (usize, usize),
    /// Instances per accelerator at the start.
    pub start: BTreeMap<String, u32>,
    /// Instances per accelerator at the end of the run (`None` for a plan).
    pub end: Option<BTreeMap<String, u32>>,
    /// The cost model's batch-1 latency alone on each accelerator, ms.
    pub predicted_ms: BTreeMap<String, f64>,
}

/// What the partition view draws.
pub struct Partitions<'a> {
    /// What this is, e.g. "plan of infscaler" or "run of static".
    pub title: String,
    /// The app's models.
    pub models: &'a [Model],
    /// The device's accelerators.
    pub accelerators: &'a [String],
    /// Every partition, in pipeline order.
    pub rows: Vec<PartitionRow>,
}

impl<'a> Partitions<'a> {
    /// The partitions of a finished run: its final deployment, the plan's start.
    pub fn of_run(outcome: &'a RunOutcome) -> Self {
        let timeline_start = outcome.analysis.timeline.as_ref().ok().map(|t| t.initial());
        let rows = outcome
            .report
            .partitions
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let planned = outcome.plan.as_ref().and_then(|pl| pl.partitions.get(i));
                let start = match (planned, &timeline_start) {
                    (Some(pp), _) => pp.instances.clone(),
                    (None, Some(t)) => t
                        .iter()
                        .filter(|((part, _), _)| *part == i)
                        .map(|((_, acc), n)| (acc.clone(), *n))
                        .collect(),
                    (None, None) => BTreeMap::new(),
                };
                PartitionRow {
                    stage: p.stage,
                    model: p.model.clone(),
                    ops: (p.first_op, p.last_op),
                    start,
                    end: Some(p.instances.clone()),
                    predicted_ms: planned
                        .map(|pp| pp.predicted_ms.clone())
                        .unwrap_or_default(),
                }
            })
            .collect();
        Partitions {
            title: format!(
                "Run of {} ({}): instances at the start -> at the end",
                outcome.report.policy, outcome.report.scenario
            ),
            models: &outcome.models,
            accelerators: &outcome.accelerators,
            rows,
        }
    }

    /// The partitions of a plan.
    pub fn of_plan(plan: &'a PlanOutcome) -> Self {
        Partitions {
            title: format!(
                "Plan of {} ({}, not run): the initial deployment",
                plan.plan.policy, plan.plan.scenario
            ),
            models: &plan.models,
            accelerators: &plan.accelerators,
            rows: plan
                .plan
                .partitions
                .iter()
                .map(|p| PartitionRow {
                    stage: p.stage,
                    model: p.model.clone(),
                    ops: (p.first_op, p.last_op),
                    start: p.instances.clone(),
                    end: None,
                    predicted_ms: p.predicted_ms.clone(),
                })
                .collect(),
        }
    }
}

/// Draws the partitions.
pub fn partitions_ui(
    ui: &mut Ui,
    view: &Partitions<'_>,
    options: &mut PlotOptions,
    rects: &mut PlotRects,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(&view.title).strong());
        ui.checkbox(&mut options.log_flops, "Logarithmic FLOPs axis");
    });
    let stages = view.models.len().max(1);
    let height = ((ui.available_height() - 160.0) / stages as f32).clamp(160.0, 400.0);
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (stage, model) in view.models.iter().enumerate() {
            let name = format!("partitions-{stage}-{}", model.name);
            plot_heading_ui(
                ui,
                &format!(
                    "Stage {stage}: {} — {} operators, {} GFLOPs per sample",
                    model.name,
                    model.operators.len(),
                    fmt_num(model.total_flops() as f64 / 1e9)
                ),
                &name,
                commands,
            );
            let parts: Vec<(usize, &PartitionRow)> = view
                .rows
                .iter()
                .enumerate()
                .filter(|(_, p)| p.stage == stage)
                .collect();
            let rect = ui
                .scope(|ui| stage_plot_ui(ui, &name, model, &parts, options.log_flops, height))
                .response
                .rect;
            rects.insert(name, rect);
        }
        ui.add_space(6.0);
        partition_table_ui(ui, view);
    });
}

fn stage_plot_ui(
    ui: &mut Ui,
    name: &str,
    model: &Model,
    parts: &[(usize, &PartitionRow)],
    log: bool,
    height: f32,
) {
    let y = move |flops: u64| {
        let m = flops as f64 / 1e6;
        if log { m.max(1.0).log10() } else { m }
    };
    let top = model
        .operators
        .iter()
        .map(|o| y(o.flops))
        .fold(0.0, f64::max);
    Plot::new(name)
        .height(height)
        .legend(Legend::default())
        .x_axis_label("operator (paper numbering)")
        .y_axis_label(if log { "log10 MFLOPs" } else { "MFLOPs" })
        .include_y(0.0)
        .include_y(top * 1.25)
        .allow_scroll(false)
        .show(ui, |plot| {
            for (g, p) in parts {
                let (first, last) = p.ops;
                let bars: Vec<Bar> = (first..=last)
                    .filter_map(|n| model.operators.get(n.wrapping_sub(1)).map(|op| (n, op)))
                    .map(|(n, op)| {
                        Bar::new(n as f64, y(op.flops)).width(0.8).name(format!(
                            "#{n} {} ({}): {} MFLOPs",
                            op.name,
                            op.kind.name(),
                            fmt_num(op.flops as f64 / 1e6)
                        ))
                    })
                    .collect();
                plot.bar_chart(
                    BarChart::new(format!("P{g} #{first}–#{last}"), bars).color(palette(*g)),
                );
                let label = RichText::new(instances_label(&p.start, p.end.as_ref()))
                    .color(palette(*g))
                    .size(15.0)
                    .strong();
                let mid = (first + last) as f64 / 2.0;
                // Neighbouring partitions' labels at two heights, so narrow ones do not overlap.
                let height = top * if g % 2 == 0 { 1.17 } else { 1.07 };
                plot.text(Text::new("", PlotPoint::new(mid, height), label));
            }
            for (_, p) in parts.iter().skip(1) {
                let cut = p.ops.0 - 1;
                plot.vline(
                    VLine::new(format!("cut after #{cut}"), cut as f64 + 0.5)
                        .color(Color32::GRAY)
                        .style(LineStyle::dashed_dense()),
                );
            }
        });
}

/// `gpu×1` or, when the end differs from the start, `gpu×1 -> gpu×2 dla0×1`.
pub fn instances_label(
    start: &BTreeMap<String, u32>,
    end: Option<&BTreeMap<String, u32>>,
) -> String {
    match end {
        Some(end) if fmt_instances(end) != fmt_instances(start) => {
            format!("{} -> {}", fmt_instances(start), fmt_instances(end))
        }
        _ => fmt_instances(start),
    }
}

/// `gpu×2 dla0×1`, or `none`.
fn fmt_instances(m: &BTreeMap<String, u32>) -> String {
    let v: Vec<String> = m
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(a, n)| format!("{a}×{n}"))
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(" ")
    }
}

fn partition_table_ui(ui: &mut Ui, view: &Partitions<'_>) {
    ui.strong("Partitions");
    Grid::new("partition_table").striped(true).show(ui, |ui| {
        let mut header = vec!["partition", "operators", "GFLOPs"];
        let predicted: Vec<String> = view
            .accelerators
            .iter()
            .map(|a| format!("{a} ms"))
            .collect();
        header.extend(predicted.iter().map(String::as_str));
        header.push("at start");
        if view.rows.iter().any(|r| r.end.is_some()) {
            header.push("at end");
        }
        header_row(ui, &header);
        for (i, p) in view.rows.iter().enumerate() {
            ui.colored_label(palette(i), format!("P{i} {}", p.model));
            ui.monospace(format!("#{}–#{}", p.ops.0, p.ops.1));
            let flops: u64 = view
                .models
                .get(p.stage)
                .map(|m| {
                    m.operators
                        .iter()
                        .skip(p.ops.0.saturating_sub(1))
                        .take((p.ops.1 + 1).saturating_sub(p.ops.0))
                        .map(|o| o.flops)
                        .sum()
                })
                .unwrap_or(0);
            ui.monospace(fmt_num(flops as f64 / 1e9));
            for a in view.accelerators {
                ui.monospace(p.predicted_ms.get(a).map_or("-".into(), |ms| fmt_num(*ms)));
            }
            ui.monospace(fmt_instances(&p.start));
            if let Some(end) = &p.end {
                ui.monospace(fmt_instances(end));
            }
            ui.end_row();
        }
    });
    ui.label(
        RichText::new(
            "Predicted: the cost model's batch-1 latency of the partition alone on each engine \
             (DLA plans include their GPU fallback).",
        )
        .small()
        .weak(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_labels_show_a_change_only_when_there_is_one() {
        let m = |v: &[(&str, u32)]| -> BTreeMap<String, u32> {
            v.iter().map(|(a, n)| (a.to_string(), *n)).collect()
        };
        let start = m(&[("gpu", 1)]);
        assert_eq!(instances_label(&start, None), "gpu×1");
        assert_eq!(
            instances_label(&start, Some(&m(&[("gpu", 1), ("cpu", 0)]))),
            "gpu×1"
        );
        assert_eq!(
            instances_label(&start, Some(&m(&[("dla0", 1), ("gpu", 2)]))),
            "gpu×1 -> dla0×1 gpu×2"
        );
        assert_eq!(instances_label(&m(&[]), None), "none");
    }
}
