//! Recorder-level tests: counts, rates, warm-up, series and serialisation.

use super::*;

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

fn t_ms(ms: u64) -> SimTime {
    SimTime(ms * MS)
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

fn recorder(series_ms: Option<u64>, warmup_ms: u64, slo_ms: u64) -> Recorder {
    let config = MetricsConfig {
        series_interval: series_ms.map(SimDuration::from_ms),
        warmup: SimDuration::from_ms(warmup_ms),
        latency_cdf_points: 0,
    };
    Recorder::new(
        config,
        &names(&["gpu", "dla0"]),
        2,
        SimDuration::from_ms(slo_ms),
    )
}

#[test]
fn goodput_counts_only_completions_within_the_slo() {
    // SLO 100 ms. Latencies 50, 100 (exactly the SLO: within), 101 and 300 ms over a 1 s window:
    // throughput 4 rps, goodput 2 rps.
    let mut r = recorder(None, 0, 100);
    for (arrive, done) in [(0, 50), (100, 200), (200, 301), (400, 700)] {
        r.arrival(t_ms(arrive));
        r.completion(t_ms(done), t_ms(arrive), r.slo());
    }
    let s = r.finish(t_ms(1000), 0);
    assert_eq!(s.completed, 4);
    assert_eq!(s.completed_within_slo, 2);
    assert_eq!(s.duration_s, 1.0);
    assert_eq!(s.throughput_rps, 4.0);
    assert_eq!(s.goodput_rps, 2.0);
    assert_eq!(s.slo_ms, 100.0);
    let lat = s.latency_ms.expect("four completions");
    assert_eq!(lat.max, 300.0);
    assert_eq!(lat.mean, (50.0 + 100.0 + 101.0 + 300.0) / 4.0);
}

#[test]
fn attainment_counts_drops_as_misses_and_leaves_in_flight_out() {
    // 3 completions within the SLO, 1 over it, 2 drops, 1 still in flight:
    // attainment = 3 / (4 + 2) = 0.5; the in-flight request is in neither term.
    let mut r = recorder(None, 0, 10);
    for i in 0..7 {
        r.arrival(t_ms(i));
    }
    for i in 0..3 {
        r.completion(t_ms(i + 10), t_ms(i), r.slo());
    }
    r.completion(t_ms(100), t_ms(3), r.slo());
    r.drop(t_ms(100), DropReason::QueueFull);
    r.drop(t_ms(101), DropReason::Timeout);
    let s = r.finish(t_ms(200), 1);
    assert_eq!(s.slo_attainment, Some(0.5));
    assert_eq!(s.dropped, 2);
    assert_eq!(s.dropped_by_reason[&DropReason::QueueFull], 1);
    assert_eq!(s.dropped_by_reason[&DropReason::Timeout], 1);
    assert_eq!(s.dropped_by_reason[&DropReason::Cutoff], 0);
    assert_eq!(s.dropped_by_reason.len(), DropReason::ALL.len());
    assert_eq!(s.arrivals, s.completed + s.dropped + s.in_flight);
}

#[test]
fn a_run_without_requests_reports_no_attainment_and_no_latency() {
    let s = recorder(Some(100), 0, 10).finish(t_ms(250), 0);
    assert_eq!(s.slo_attainment, None);
    assert_eq!(s.latency_ms, None);
    assert_eq!(s.throughput_rps, 0.0);
    let series = s.series.expect("series configured");
    assert_eq!(series.points.len(), 3);
    assert!(
        series
            .points
            .iter()
            .all(|p| p.p50_ms.is_none() && p.throughput_rps == 0.0)
    );
}

#[test]
fn warmup_excludes_early_events_and_carries_in_flight_requests_over() {
    // Warm-up 1 s. Before it: 3 arrivals, 1 completion, 1 drop → 1 in flight at warm-up.
    // After it: that request completes (latency 1.5 s, counted), 2 new arrivals, one completes.
    let mut r = recorder(None, 1000, 2000);
    r.arrival(t_ms(0));
    r.arrival(t_ms(100));
    r.arrival(t_ms(200));
    r.completion(t_ms(300), t_ms(0), r.slo());
    r.drop(t_ms(400), DropReason::NoInstance);
    r.stage(
        0,
        StageTimes {
            queue: SimDuration::from_ms(1),
            exec: SimDuration::from_ms(1),
            transfer: SimDuration::ZERO,
            ..StageTimes::default()
        },
    );
    r.batch(0, 8);
    r.completion(t_ms(1700), t_ms(200), r.slo());
    r.arrival(t_ms(1800));
    r.arrival(t_ms(1900));
    r.completion(t_ms(1950), t_ms(1800), r.slo());
    let s = r.finish(t_ms(3000), 1);
    assert_eq!(s.in_flight_at_warmup, 1);
    assert_eq!(s.arrivals, 2);
    assert_eq!(s.completed, 2);
    assert_eq!(s.dropped, 0);
    assert_eq!(
        s.in_flight_at_warmup + s.arrivals,
        s.completed + s.dropped + s.in_flight
    );
    assert_eq!(s.warmup_s, 1.0);
    assert_eq!(s.duration_s, 2.0);
    assert_eq!(s.throughput_rps, 1.0);
    assert_eq!(s.latency_ms.expect("two completions").max, 1500.0);
    assert_eq!(
        s.stages[0].requests, 0,
        "stage record before warm-up is not measured"
    );
    assert_eq!(s.stages[0].batches, 0);
}

#[test]
fn utilization_is_the_time_weighted_mean_over_the_window() {
    // Warm-up 100 ms, end 500 ms (window 400 ms). gpu: 1.0 on [0,200), 0.5 on [200,300),
    // 0 on [300,500] → in the window 1.0·100 + 0.5·100 = 150 busy·ms / 400 ms = 0.375.
    // dla0: 0.25 from 450 ms → 0.25·50 / 400 = 0.03125.
    let mut r = recorder(None, 100, 10);
    r.busy(t_ms(0), 0, 1.0);
    r.busy(t_ms(200), 0, 0.5);
    r.busy(t_ms(300), 0, 0.0);
    r.busy(t_ms(450), 1, 0.25);
    let s = r.finish(t_ms(500), 0);
    assert_eq!(s.utilization["gpu"], 0.375);
    assert_eq!(s.utilization["dla0"], 0.03125);
    assert_eq!(
        s.utilization.keys().collect::<Vec<_>>(),
        ["dla0", "gpu"],
        "keys in name order"
    );
}

#[test]
fn memory_peak_and_mean_are_over_the_window() {
    // Warm-up 100 ms; 8 GiB held on [50,150) (peak before warm-up is not the window's, but the
    // level at warm-up is), then 2 GiB on [150,300), 6 GiB on [300,400], end 400 ms.
    // Peak 8 GiB; mean = (8·50 + 2·150 + 6·100) / 300 = 1300 / 300 GiB.
    const GIB: u64 = 1 << 30;
    let mut r = recorder(None, 100, 10);
    r.memory(t_ms(10), 12 * GIB);
    r.memory(t_ms(50), 8 * GIB);
    r.memory(t_ms(150), 2 * GIB);
    r.memory(t_ms(300), 6 * GIB);
    let s = r.finish(t_ms(400), 0);
    assert_eq!(s.memory_peak_bytes, 8 * GIB);
    let want = (8.0 * 50.0 + 2.0 * 150.0 + 6.0 * 100.0) / 300.0 * GIB as f64;
    assert!(
        (s.memory_mean_bytes - want).abs() <= want * 1e-12,
        "{} vs {want}",
        s.memory_mean_bytes
    );
}

#[test]
fn series_has_one_point_per_interval_and_sums_to_the_totals() {
    // Warm-up 0.5 s, end 11 s: a 10.5 s window in 1 s intervals → ceil(10.5) = 11 points, the
    // last 0.5 s long. One arrival every 7 ms, completed 3 ms later (SLO 2 ms: none within).
    let mut r = recorder(Some(1000), 500, 2);
    let mut t = 0;
    while t + 3 < 11_000 {
        r.arrival(t_ms(t));
        r.busy(t_ms(t), 0, 1.0);
        r.completion(t_ms(t + 3), t_ms(t), r.slo());
        r.busy(t_ms(t + 3), 0, 0.0);
        t += 7;
    }
    let s = r.finish(t_ms(11_000), 0);
    let series = s.series.as_ref().expect("series configured");
    assert_eq!(series.interval_s, 1.0);
    assert_eq!(series.points.len(), 11);
    assert_eq!(series.points[0].time_s, 0.5);
    assert_eq!(series.points[10].time_s, 10.5);
    assert_eq!(series.points[10].duration_s, 0.5);
    let count = |f: fn(&SeriesPoint) -> f64| -> f64 {
        series
            .points
            .iter()
            .map(|p| (f(p) * p.duration_s).round())
            .sum()
    };
    assert_eq!(count(|p| p.throughput_rps), s.completed as f64);
    assert_eq!(count(|p| p.arrivals_rps), s.arrivals as f64);
    assert_eq!(count(|p| p.goodput_rps), 0.0);
    // Busy 3 ms of every 7: the window mean is the duration-weighted mean of the points.
    let weighted: f64 = series
        .points
        .iter()
        .map(|p| p.utilization["gpu"] * p.duration_s)
        .sum();
    assert!((weighted / s.duration_s - s.utilization["gpu"]).abs() < 1e-12);
    assert!((s.utilization["gpu"] - 3.0 / 7.0).abs() < 1e-3);
    assert!(
        series
            .points
            .iter()
            .all(|p| p.p50_ms == Some(3.0) && p.p99_ms == Some(3.0))
    );
}

#[test]
fn events_at_the_exact_end_join_the_last_interval() {
    // Window [0, 2 s] in 1 s intervals: a completion at exactly 2 s belongs to the second point
    // (there is no zero-length third one); one at exactly 1 s opens the second interval.
    let mut r = recorder(Some(1000), 0, 1000);
    r.arrival(t_ms(500));
    r.arrival(t_ms(900));
    r.completion(t_ms(1000), t_ms(500), r.slo());
    r.completion(t_ms(2000), t_ms(900), r.slo());
    let s = r.finish(t_ms(2000), 0);
    let points = s.series.expect("series configured").points;
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].throughput_rps, 0.0);
    assert_eq!(points[1].throughput_rps, 2.0);
    assert_eq!(points[1].p99_ms, Some(1100.0));
}

#[test]
fn stage_means_and_batch_sizes() {
    let mut r = recorder(None, 0, 10);
    r.tick(t_ms(1));
    r.stage(
        1,
        StageTimes {
            queue: SimDuration::from_ms(2),
            exec: SimDuration::from_ms(4),
            transfer: SimDuration::from_ms(1),
            ..StageTimes::default()
        },
    );
    r.stage(
        1,
        StageTimes {
            queue: SimDuration::from_ms(4),
            exec: SimDuration::from_ms(4),
            transfer: SimDuration::from_ms(0),
            ..StageTimes::default()
        },
    );
    r.batch(1, 2);
    let s = r.finish(t_ms(10), 0);
    assert_eq!(s.stages.len(), 2);
    assert_eq!(s.stages[0].mean_queue_ms, None);
    assert_eq!(s.stages[1].mean_queue_ms, Some(3.0));
    assert_eq!(s.stages[1].mean_exec_ms, Some(4.0));
    assert_eq!(s.stages[1].mean_transfer_ms, Some(0.5));
    assert_eq!(s.stages[1].mean_batch_size, Some(2.0));
}

fn busy_run() -> Summary {
    let mut r = recorder(Some(250), 100, 20);
    for i in 0..200u64 {
        let t = t_ms(i * 5);
        r.arrival(t);
        r.memory(t, 1_000_000 + i * 4096);
        r.busy(t, (i % 2) as usize, 0.5);
        if i % 10 == 9 {
            r.drop(t, DropReason::OutOfMemory);
        } else {
            r.stage(
                0,
                StageTimes {
                    queue: SimDuration::from_us(300 + i),
                    exec: SimDuration::from_ms(3),
                    transfer: SimDuration::ZERO,
                    ..StageTimes::default()
                },
            );
            r.batch(0, 1 + (i % 4) as u32);
            r.completion(t + SimDuration::from_us(1_000 * (i % 4) + 7), t, r.slo());
        }
    }
    r.finish(t_ms(1003), 0)
}

#[test]
fn summary_round_trips_through_json_with_stable_keys() {
    let s = busy_run();
    let json = serde_json::to_string(&s).expect("summary serialises");
    let back: Summary = serde_json::from_str(&json).expect("summary deserialises");
    assert_eq!(back, s);
    assert_eq!(serde_json::to_string(&back).expect("serialises"), json);
    let keys = [
        "\"arrivals\"",
        "\"completed\"",
        "\"completed_within_slo\"",
        "\"dropped\"",
        "\"dropped_by_reason\"",
        "\"in_flight\"",
        "\"in_flight_at_warmup\"",
        "\"warmup_s\"",
        "\"duration_s\"",
        "\"throughput_rps\"",
        "\"goodput_rps\"",
        "\"slo_attainment\"",
        "\"slo_ms\"",
        "\"latency_ms\"",
        "\"stages\"",
        "\"memory_peak_bytes\"",
        "\"memory_mean_bytes\"",
        "\"utilization\"",
        "\"series\"",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            json.find(k)
                .unwrap_or_else(|| panic!("{k} missing from {json}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "keys out of order: {json}"
    );
    assert!(json.contains("\"dropped_by_reason\":{\"queue_full\":0,\"out_of_memory\":18,"));
}

#[test]
fn same_events_give_byte_identical_json() {
    let a = serde_json::to_string(&busy_run()).expect("serialises");
    let b = serde_json::to_string(&busy_run()).expect("serialises");
    assert_eq!(a, b);
}

#[test]
fn recorder_memory_does_not_grow_with_the_number_of_requests() {
    // One million completions over 100 s with latencies cycling through 1..=1000 ms. The
    // histograms' bucket counts after the first thousand (which already span the value range)
    // and after all million are the same; the series holds one entry per closed interval.
    let mut r = recorder(Some(1000), 0, 500);
    let n: u64 = 1_000_000;
    let step_ns = 100 * S / n;
    let mut buckets_after_first_thousand = (0, 0);
    for i in 0..n {
        let now = SimTime(1000 * MS + i * step_ns);
        let latency_ns = (1 + i % 1000) * MS;
        r.arrival(now);
        r.completion(now, SimTime(now.as_ns() - latency_ns), r.slo());
        if i + 1 == 1000 {
            buckets_after_first_thousand = (
                r.latency.bucket_count(),
                r.series.as_ref().map_or(0, |s| s.current_latency_held().1),
            );
        }
    }
    assert_eq!(r.latency.bucket_count(), buckets_after_first_thousand.0);
    let series = r.series.as_ref().expect("series configured");
    // The open interval holds at most WindowLatency::RAW_LIMIT raw values, and past them a
    // histogram no larger than the whole run's.
    let (raw, buckets) = series.current_latency_held();
    assert!(
        raw <= crate::metrics::WindowLatency::RAW_LIMIT,
        "{raw} raw values held"
    );
    assert!(buckets <= buckets_after_first_thousand.1.max(r.latency.bucket_count()));
    assert!(
        series.closed_len() <= 102,
        "one entry per closed 1 s interval, got {}",
        series.closed_len()
    );
    assert_eq!(r.stages.len(), 2);
    let s = r.finish(SimTime(102 * S), 0);
    assert_eq!(s.completed, n);
    assert_eq!(s.series.expect("series configured").points.len(), 102);
}

#[test]
fn validate_names_the_problem() {
    let run = SimDuration::from_secs(10);
    let ok = MetricsConfig {
        series_interval: Some(SimDuration::from_ms(100)),
        warmup: SimDuration::from_secs(1),
        latency_cdf_points: 0,
    };
    assert_eq!(ok.validate(run), Ok(()));
    let zero = MetricsConfig {
        series_interval: Some(SimDuration::ZERO),
        ..ok
    };
    assert_eq!(
        zero.validate(run),
        Err(MetricsConfigError::ZeroSeriesInterval)
    );
    let long_warmup = MetricsConfig { warmup: run, ..ok };
    assert!(matches!(
        long_warmup.validate(run),
        Err(MetricsConfigError::WarmupNotShorterThanRun { .. })
    ));
    let tiny = MetricsConfig {
        series_interval: Some(SimDuration::from_ns(1)),
        ..ok
    };
    let err = tiny.validate(run).expect_err("9e9 points");
    assert!(err.to_string().contains("at most 1000000"), "{err}");
}
