//! The partition view (the paper's Fig. 2): each model's per-operator FLOPs as bars coloured by
//! partition, the cut points as vertical lines, and the instances of each partition at the start
//! (the policy's plan) and at the end of the run.

use std::collections::BTreeMap;

use egui::{Color32, Grid, RichText, Ui};
use egui_plot::{Bar, BarChart, Legend, LineStyle, Plot, PlotPoint, Text, VLine};

use super::{Command, PlotRects, fmt_num, palette, plot_heading_ui};
use crate::analysis::RunOutcome;
use crate::state::PlotOptions;

/// Draws the partitions of `outcome`'s models.
pub fn partitions_ui(
    ui: &mut Ui,
    outcome: &RunOutcome,
    options: &mut PlotOptions,
    rects: &mut PlotRects,
    commands: &mut Vec<Command>,
) {
    let report = &outcome.report;
    let initial = initial_instances(outcome);
    ui.checkbox(&mut options.log_flops, "Logarithmic FLOPs axis");
    let stages = outcome.models.len().max(1);
    let height = ((ui.available_height() - 160.0) / stages as f32).clamp(160.0, 400.0);
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (stage, model) in outcome.models.iter().enumerate() {
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
            let parts: Vec<(usize, &infscaler_sim::report::PartitionReport)> = report
                .partitions
                .iter()
                .enumerate()
                .filter(|(_, p)| p.stage == stage)
                .collect();
            let log = options.log_flops;
            let y = move |flops: u64| {
                let m = flops as f64 / 1e6;
                if log { (m.max(1.0)).log10() } else { m }
            };
            let top = model
                .operators
                .iter()
                .map(|o| y(o.flops))
                .fold(0.0, f64::max);
            let rect = ui
                .scope(|ui| {
                    Plot::new(&name)
                        .height(height)
                        .legend(Legend::default())
                        .x_axis_label("operator (paper numbering)")
                        .y_axis_label(if log { "log10 MFLOPs" } else { "MFLOPs" })
                        .include_y(0.0)
                        .include_y(top * 1.25)
                        .allow_scroll(false)
                        .show(ui, |plot| {
                            for (g, p) in &parts {
                                let bars: Vec<Bar> = (p.first_op..=p.last_op)
                                    .filter_map(|n| model.operators.get(n - 1).map(|op| (n, op)))
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
                                    BarChart::new(
                                        format!("P{g} #{}–#{}", p.first_op, p.last_op),
                                        bars,
                                    )
                                    .color(palette(*g)),
                                );
                                let mid = (p.first_op + p.last_op) as f64 / 2.0;
                                plot.text(Text::new(
                                    format!("P{g} label"),
                                    PlotPoint::new(mid, top * 1.15),
                                    RichText::new(instances_label(initial.get(g), &p.instances))
                                        .color(palette(*g))
                                        .size(15.0)
                                        .strong(),
                                ));
                            }
                            for (_, p) in parts.iter().skip(1) {
                                plot.vline(
                                    VLine::new(
                                        format!("cut after #{}", p.first_op - 1),
                                        p.first_op as f64 - 0.5,
                                    )
                                    .color(Color32::GRAY)
                                    .style(LineStyle::dashed_dense()),
                                );
                            }
                        })
                })
                .response
                .rect;
            rects.insert(name, rect);
        }
        ui.add_space(6.0);
        partition_table_ui(ui, outcome, &initial);
    });
}

/// Instances per partition at the start: the plan when there is one, else the timeline.
fn initial_instances(outcome: &RunOutcome) -> BTreeMap<usize, BTreeMap<String, u32>> {
    if let Some(plan) = &outcome.plan {
        return plan
            .partitions
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.instances.clone()))
            .collect();
    }
    let mut out: BTreeMap<usize, BTreeMap<String, u32>> = BTreeMap::new();
    if let Ok(t) = &outcome.analysis.timeline {
        for ((p, acc), n) in t.initial() {
            out.entry(p).or_default().insert(acc, n);
        }
    }
    out
}

/// `gpu×1 -> gpu×2 dla0×1`: instances at the start and at the end.
fn instances_label(start: Option<&BTreeMap<String, u32>>, end: &BTreeMap<String, u32>) -> String {
    let fmt = |m: &BTreeMap<String, u32>| {
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
    };
    match start {
        Some(s) if s != end => format!("{} -> {}", fmt(s), fmt(end)),
        _ => fmt(end),
    }
}

fn partition_table_ui(
    ui: &mut Ui,
    outcome: &RunOutcome,
    initial: &BTreeMap<usize, BTreeMap<String, u32>>,
) {
    let accs = &outcome.accelerators;
    ui.strong("Partitions");
    Grid::new("partition_table").striped(true).show(ui, |ui| {
        let mut header = vec!["partition", "operators", "GFLOPs"];
        let predicted: Vec<String> = accs.iter().map(|a| format!("{a} ms")).collect();
        header.extend(predicted.iter().map(String::as_str));
        header.extend(["at start", "at end"]);
        for h in header {
            ui.label(RichText::new(h).small().strong());
        }
        ui.end_row();
        for (i, p) in outcome.report.partitions.iter().enumerate() {
            ui.colored_label(palette(i), format!("P{i} {}", p.model));
            ui.monospace(format!("#{}–#{}", p.first_op, p.last_op));
            let flops: u64 = outcome
                .models
                .get(p.stage)
                .map(|m| {
                    m.operators
                        .iter()
                        .skip(p.first_op.saturating_sub(1))
                        .take(p.last_op + 1 - p.first_op)
                        .map(|o| o.flops)
                        .sum()
                })
                .unwrap_or(0);
            ui.monospace(fmt_num(flops as f64 / 1e9));
            let plan = outcome.plan.as_ref().and_then(|pl| pl.partitions.get(i));
            for a in accs {
                ui.monospace(
                    plan.and_then(|pp| pp.predicted_ms.get(a))
                        .map_or("-".into(), |ms| fmt_num(*ms)),
                );
            }
            ui.monospace(instances_label(
                None,
                initial.get(&i).unwrap_or(&BTreeMap::new()),
            ));
            ui.monospace(instances_label(None, &p.instances));
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
