//! Human-readable rendering of a run report.

use std::fmt::Write;

use infscaler_sim::report::PartitionReport;
use infscaler_sim::serving::QueueOrder;
use infscaler_sim::{Report, ResolvedScenario};

/// The report as an aligned text table.
pub fn report(r: &Report, scenario: &ResolvedScenario) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "infscaler · {} · app {} on {} · policy {} · seed {}",
        r.scenario, r.app, r.device, r.policy, r.seed
    );
    if r.interrupted {
        let _ = writeln!(
            out,
            "INTERRUPTED (Ctrl-C) after {:.3} simulated s: figures cover the run up to there; \
             requests still in the system are counted in flight",
            s.warmup_s + s.duration_s
        );
    }
    let slo_column = match &scenario.scenario.workload {
        infscaler_sim::workload::ArrivalSpec::Trace(t) => t.slo_column.as_deref(),
        _ => None,
    };
    let slo_note = match (
        scenario.scenario.slo.multiplier,
        scenario.scenario.slo.per_request,
    ) {
        _ if slo_column.is_some() => format!(
            "the mean; each request's own from the trace column `{}`; isolated latency {:.2} ms",
            slo_column.unwrap_or_default(),
            r.isolated_latency_ms
        ),
        (_, Some(per_request)) => format!(
            "the mean; each request's own, drawn {per_request}; isolated latency {:.2} ms",
            r.isolated_latency_ms
        ),
        (Some(m), None) => format!("{m} × isolated {:.2} ms", r.isolated_latency_ms),
        (None, None) => format!("absolute; isolated latency {:.2} ms", r.isolated_latency_ms),
    };
    let of_stream = match r.streams.first() {
        Some(own) => format!(
            " of stream {}; the figures are all streams', each stream's at the end",
            own.name
        ),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "SLO {:.2} ms ({slo_note}){of_stream} · transport {} · simulated {:.1} s",
        s.slo_ms, r.transport, s.duration_s
    );
    let edf = scenario.scenario.serving.queue_order == QueueOrder::Edf;
    if let Some(delay) = &scenario.scenario.slo.network_delay {
        let _ = writeln!(
            out,
            "network delay before arrival: {delay} (mean {:.2} ms), counted against each \
             request's SLO; latencies are from arrival at the device",
            delay.mean().as_ms_f64()
        );
    }
    if edf {
        let _ = writeln!(
            out,
            "queues: earliest deadline first (arrival + the SLO left to each request)"
        );
    }
    if let Some(sizing) = &scenario.sizing {
        let source = if sizing.fixed.is_some() {
            "every request"
        } else {
            "requests sized from the trace; the reference (median) request"
        };
        let own = if sizing.fixed.is_none() && scenario.scenario.slo.multiplier.is_some() {
            "; each request's SLO is for its own size"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "tokens: {source} has {} prompt and {} generated{own}",
            sizing.reference.context, sizing.reference.generated
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "  arrivals   {:>10}     throughput    {:>10.2} req/s",
        s.arrivals, s.throughput_rps
    );
    let _ = writeln!(
        out,
        "  completed  {:>10}     goodput       {:>10.2} req/s",
        s.completed, s.goodput_rps
    );
    let attained = s
        .slo_attainment
        .map_or("-".to_string(), |a| format!("{:.2} %", 100.0 * a));
    let _ = writeln!(
        out,
        "  dropped    {:>10}     SLO attained  {:>12}",
        s.dropped, attained
    );
    let _ = writeln!(out, "  in flight  {:>10}", s.in_flight);
    if s.dropped > 0 {
        let reasons: Vec<String> = s
            .dropped_by_reason
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{} {v}", serde_plain(k)))
            .collect();
        let _ = writeln!(out, "  drops by reason: {}", reasons.join(", "));
    }
    match &s.latency_ms {
        Some(l) => {
            let _ = writeln!(
                out,
                "\n  latency ms   p50 {:.2}   p90 {:.2}   p99 {:.2}   max {:.2}   mean {:.2}",
                l.p50, l.p90, l.p99, l.max, l.mean
            );
        }
        None => {
            let _ = writeln!(
                out,
                "\n  latency ms   no request completed in the measured window"
            );
        }
    }
    let _ = writeln!(
        out,
        "  memory       peak {}   mean {}   (limit {})",
        human_bytes(s.memory_peak_bytes as f64),
        human_bytes(s.memory_mean_bytes),
        human_bytes(scenario.memory_limit_bytes as f64)
    );
    let util: Vec<String> = s
        .utilization
        .iter()
        .map(|(name, u)| format!("{name} {:.1} %", 100.0 * u))
        .collect();
    let _ = writeln!(out, "  utilisation  {}", util.join("   "));
    let _ = writeln!(
        out,
        "\n  {:<3} {:<18} {:>9}  {:<18} {:>9} {:>9} {:>10} {:>11} {:>7}",
        "#",
        "partition",
        "ops",
        "instances",
        "queue ms",
        "exec ms",
        "blocked ms",
        "transfer ms",
        "batch"
    );
    // Partitions retired by repartitionings are counted below the table, not listed; the
    // others in pipeline order.
    let mut rows: Vec<(usize, &PartitionReport)> = r
        .partitions
        .iter()
        .enumerate()
        .filter(|(_, p)| p.retired_s.is_none() && !p.building)
        .collect();
    rows.sort_by_key(|(_, p)| (p.stage, p.first_op));
    for (i, p) in rows {
        let inst: Vec<String> = p
            .instances
            .iter()
            .map(|(a, n)| format!("{a}×{n}"))
            .collect();
        let st = s.stages.get(i);
        let _ = writeln!(
            out,
            "  {:<3} {:<18} {:>9}  {:<18} {:>9.3} {:>9.3} {:>10.3} {:>11.3} {:>7.2}",
            i,
            p.model,
            format!("{}-{}", p.first_op, p.last_op),
            if inst.is_empty() {
                "none".to_string()
            } else {
                inst.join(" ")
            },
            st.and_then(|x| x.mean_queue_ms).unwrap_or(0.0),
            st.and_then(|x| x.mean_exec_ms).unwrap_or(0.0),
            st.and_then(|x| x.mean_blocked_ms).unwrap_or(0.0),
            st.and_then(|x| x.mean_transfer_ms).unwrap_or(0.0),
            st.and_then(|x| x.mean_batch_size).unwrap_or(0.0),
        );
    }
    if !r.reconfigurations.is_empty() || r.refused_reconfigurations > 0 {
        let retired = r
            .partitions
            .iter()
            .filter(|p| p.retired_s.is_some())
            .count();
        let built: u32 = r.reconfigurations.iter().map(|c| c.built).sum();
        let pending = r
            .reconfigurations
            .iter()
            .filter(|c| c.switched_s.is_none())
            .count();
        let _ = writeln!(
            out,
            "\n  repartitioning: {} layout(s) applied ({pending} still building at the end), {} refused · {built} instance(s) built · {retired} partition(s) retired and drained (in --json)",
            r.reconfigurations.len(),
            r.refused_reconfigurations
        );
    }
    if let Some(last) = r.resizes.last() {
        let to: Vec<String> = [
            last.cpu_cores.map(|c| format!("{c} core(s)")),
            last.compute_share.map(|s| format!("share {s:.2}")),
            last.max_batch.map(|b| format!("batches of at most {b}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let _ = writeln!(
            out,
            "\n  resizes: {} in place (in --json); the last at {:.1} s: partition {} on {} to {}",
            r.resizes.len(),
            last.time_s,
            last.partition,
            last.accelerator,
            to.join(", "),
        );
    }
    if !r.scaling_events.is_empty() {
        let outs = r.scaling_events.iter().filter(|e| e.delta > 0).count();
        let ins = r.scaling_events.len() - outs;
        let note = if r.reconfigurations.is_empty() {
            ""
        } else {
            " (instances repartitionings switched included)"
        };
        let _ = writeln!(
            out,
            "\n  scaling: {outs} scale-out(s), {ins} scale-in(s){note}"
        );
    }
    if let Some(search) = &r.search {
        let converged = match search.converged_s {
            Some(t) => format!("converged at {t:.1} s"),
            None => "still searching at the end".to_string(),
        };
        let _ = writeln!(
            out,
            "\n  search ({}): {} configuration(s) measured ({} of {:.3e}){}, {converged}; best {:.1} req/s: cuts {:?} on {}{}",
            search.explorer,
            search.configurations,
            share(search.configurations as f64 / search.space_size.max(1.0)),
            search.space_size,
            if search.refused > 0 {
                format!(", {} refused", search.refused)
            } else {
                String::new()
            },
            search.best_throughput_rps,
            search.best_cuts,
            search.best_placement.join(" → "),
            if search.best_cores.is_empty() {
                String::new()
            } else {
                format!(", cores {:?}", search.best_cores)
            },
        );
    }
    if let Some(a) = &r.accuracy {
        let pct = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{x:.2} %"));
        let _ = writeln!(
            out,
            "\n  accuracy ({}): served {} · best of the family {:.2} % · drop {}",
            a.metric.name(),
            pct(a.served_percent),
            a.best_percent,
            a.drop_points
                .map_or("–".to_string(), |d| format!("{d:.2} points")),
        );
        if a.variants.len() > 1 {
            for v in &a.variants {
                let _ = writeln!(
                    out,
                    "    {:<20} {:>7.3} %  completed {:>8}  within SLO {:>8}  final share {:>5.1} %",
                    v.model,
                    v.percent,
                    v.tally.completed,
                    v.tally.within_slo,
                    v.weight * 100.0
                );
            }
        }
    }
    if !r.streams.is_empty() {
        let _ = writeln!(
            out,
            "\n  {:<16} {:<22} {:>9} {:>9} {:>9} {:>8} {:>9} {:>10} {:>10} {:>9}",
            "stream",
            "app",
            "SLO ms",
            "arrivals",
            "completed",
            "dropped",
            "attained",
            "p50 ms",
            "p99 ms",
            "accuracy"
        );
        for st in &r.streams {
            let ms = |q: fn(&infscaler_sim::metrics::LatencyMs) -> f64| {
                st.latency_ms
                    .as_ref()
                    .map_or("-".to_string(), |l| format!("{:.2}", q(l)))
            };
            let _ = writeln!(
                out,
                "  {:<16} {:<22} {:>9.2} {:>9} {:>9} {:>8} {:>9} {:>10} {:>10} {:>9}",
                st.name,
                st.app,
                st.slo_ms,
                st.arrivals,
                st.completed,
                st.dropped,
                st.slo_attainment
                    .map_or("-".to_string(), |a| format!("{:.2} %", 100.0 * a)),
                ms(|l| l.p50),
                ms(|l| l.p99),
                st.accuracy
                    .as_ref()
                    .and_then(|a| a.served_percent)
                    .map_or("-".to_string(), |a| format!("{a:.2} %")),
            );
        }
    }
    if !r.tensor_sharing.is_empty() {
        let regions: u64 = r.tensor_sharing.iter().map(|p| p.regions).sum();
        let bytes: u64 = r
            .tensor_sharing
            .iter()
            .map(|p| p.regions * p.region_bytes)
            .sum();
        let faults: u64 = r.tensor_sharing.iter().map(|p| p.faults).sum();
        let reuses: u64 = r.tensor_sharing.iter().map(|p| p.reuses).sum();
        let _ = writeln!(
            out,
            "  tensor sharing: {regions} region(s), {} · {faults} token fault(s), {reuses} reuse(s)",
            human_bytes(bytes as f64)
        );
    }
    for i in &r.interference {
        let _ = writeln!(
            out,
            "  interference: {} in {} window(s), {:.1} s in all",
            i.what, i.windows, i.active_s
        );
    }
    if r.refused_instances > 0 {
        let _ = writeln!(
            out,
            "\n  warning: {} instance(s) did not fit in memory and were not started",
            r.refused_instances
        );
    }
    out
}

/// The snake_case name serde gives a unit enum variant.
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Bytes in the largest binary unit that keeps the number at or above 1, two decimals.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// A policy's deployment plan as a table.
pub fn plan(p: &infscaler_sim::experiment::plan::PlanReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan · {} · app {} on {} · policy {} · SLO {:.2} ms · transport {}\n",
        p.scenario, p.app, p.device, p.policy, p.slo_ms, p.transport
    );
    let accs: Vec<&String> = p
        .partitions
        .first()
        .map(|x| x.predicted_ms.keys().collect())
        .unwrap_or_default();
    let head: Vec<String> = accs
        .iter()
        .map(|a| format!("{:>10}", format!("{a} ms")))
        .collect();
    let _ = writeln!(
        out,
        "  {:<3} {:<18} {:>9} {:>10} {}  instances",
        "#",
        "partition",
        "ops",
        "GFLOPs",
        head.join("")
    );
    for (i, part) in p.partitions.iter().enumerate() {
        let times: Vec<String> = part
            .predicted_ms
            .values()
            .map(|t| format!("{t:>10.3}"))
            .collect();
        let inst: Vec<String> = part
            .instances
            .iter()
            .map(|(a, n)| format!("{a}×{n}"))
            .collect();
        let _ = writeln!(
            out,
            "  {:<3} {:<18} {:>9} {:>10.3} {}  {}",
            i,
            part.model,
            format!("{}-{}", part.first_op, part.last_op),
            part.flops as f64 / 1e9,
            times.join(""),
            if inst.is_empty() {
                "none".to_string()
            } else {
                inst.join(" ")
            }
        );
    }
    out
}

/// A share as a percentage, in scientific notation when it is too small for three decimals.
fn share(x: f64) -> String {
    let pct = 100.0 * x;
    if pct > 0.0 && pct < 0.001 {
        format!("{pct:.2e} %")
    } else {
        format!("{pct:.3} %")
    }
}
