//! Human-readable rendering of a run report.

use std::fmt::Write;

use infscaler_sim::units::ByteSize;
use infscaler_sim::{Report, ResolvedScenario};

/// The report as an aligned text table.
pub fn report(r: &Report, scenario: &ResolvedScenario) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let _ = writeln!(out, "infscaler · {} · app {} on {} · policy {} · seed {}", r.scenario, r.app, r.device, r.policy, r.seed);
    let slo_note = match scenario.scenario.slo.multiplier {
        Some(m) => format!("{m} × isolated {:.2} ms", r.isolated_latency_ms),
        None => format!("absolute; isolated latency {:.2} ms", r.isolated_latency_ms),
    };
    let _ = writeln!(out, "SLO {:.2} ms ({slo_note}) · transport {} · simulated {:.1} s\n", s.slo_ms, r.transport, s.duration_s);
    let _ = writeln!(out, "  arrivals   {:>10}     throughput    {:>10.2} req/s", s.arrivals, s.throughput_rps);
    let _ = writeln!(out, "  completed  {:>10}     goodput       {:>10.2} req/s", s.completed, s.goodput_rps);
    let _ = writeln!(out, "  dropped    {:>10}     SLO attained  {:>10.2} %", s.dropped, 100.0 * s.slo_attainment);
    let _ = writeln!(out, "  in flight  {:>10}", s.in_flight);
    if !s.dropped_by_reason.is_empty() {
        let reasons: Vec<String> = s.dropped_by_reason.iter().map(|(k, v)| format!("{} {v}", serde_plain(k))).collect();
        let _ = writeln!(out, "  drops by reason: {}", reasons.join(", "));
    }
    let l = &s.latency_ms;
    let _ = writeln!(out, "\n  latency ms   p50 {:.2}   p90 {:.2}   p99 {:.2}   max {:.2}   mean {:.2}", l.p50, l.p90, l.p99, l.max, l.mean);
    let _ = writeln!(
        out,
        "  memory       peak {}   mean {}   (limit {})",
        ByteSize(s.memory_peak_bytes),
        ByteSize(s.memory_mean_bytes),
        ByteSize(scenario.memory_limit_bytes)
    );
    let util: Vec<String> = s.utilization.iter().map(|(name, u)| format!("{name} {:.1} %", 100.0 * u)).collect();
    let _ = writeln!(out, "  utilisation  {}", util.join("   "));
    let _ = writeln!(out, "\n  {:<3} {:<18} {:>9}  {:<18} {:>9} {:>9} {:>11} {:>7}", "#", "partition", "ops", "instances", "queue ms", "exec ms", "transfer ms", "batch");
    for (i, p) in r.partitions.iter().enumerate() {
        let inst: Vec<String> = p.instances.iter().map(|(a, n)| format!("{a}×{n}")).collect();
        let st = s.stages.get(i);
        let _ = writeln!(
            out,
            "  {:<3} {:<18} {:>9}  {:<18} {:>9.3} {:>9.3} {:>11.3} {:>7.2}",
            i,
            p.model,
            format!("{}-{}", p.first_op, p.last_op),
            if inst.is_empty() { "none".to_string() } else { inst.join(" ") },
            st.map_or(0.0, |x| x.queue_ms),
            st.map_or(0.0, |x| x.exec_ms),
            st.map_or(0.0, |x| x.transfer_ms),
            st.map_or(0.0, |x| x.batch_mean),
        );
    }
    if r.refused_instances > 0 {
        let _ = writeln!(out, "\n  warning: {} instance(s) did not fit in memory and were not started", r.refused_instances);
    }
    out
}

/// The snake_case name serde gives a unit enum variant.
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|j| j.as_str().map(str::to_string)).unwrap_or_default()
}
