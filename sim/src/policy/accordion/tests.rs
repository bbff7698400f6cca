use super::allocation::{Rule, allocate};
use super::predictor::{Predictor, StreamLoad};

/// Streams whose one stage takes `base_ms[s]` / places at batch 1 (and b times that at batch
/// b, up to 4), each with a goal of `goal_ms[s]`, at most 4 places.
fn predictor(base_ms: &[f64], goal_ms: &[f64]) -> Predictor {
    let time_s = base_ms
        .iter()
        .map(|&t| {
            (1..=4)
                .map(|p| (1..=4).map(|b| t * b as f64 / p as f64 / 1e3).collect())
                .collect()
        })
        .collect();
    Predictor::new(
        time_s,
        goal_ms.iter().map(|g| g / 1e3).collect(),
        vec![1; base_ms.len()],
    )
}

fn waiting(queued: u64, head_age_ms: f64, held: u32) -> StreamLoad {
    StreamLoad {
        queued,
        in_service: 0,
        head_age_s: head_age_ms / 1e3,
        held,
    }
}

const IDLE: StreamLoad = StreamLoad {
    queued: 0,
    in_service: 0,
    head_age_s: 0.0,
    held: 0,
};

#[test]
fn the_predictor_waits_for_the_running_batch_then_every_waiting_one() {
    let p = predictor(&[40.0], &[90.0]);
    // Four waiting at batch 4 (max): one batch of 160 ms / places, after half the running one.
    let load = StreamLoad {
        queued: 4,
        in_service: 1,
        head_age_s: 0.01,
        held: 2,
    };
    let residual = 0.5 * 0.040 / 2.0;
    let expect = |places: f64| (0.01 + residual + 0.160 / places).max(residual + 0.160 / places);
    assert!((p.latency_s(0, &load, 1) - expect(1.0)).abs() < 1e-12);
    assert!((p.latency_s(0, &load, 4) - expect(4.0)).abs() < 1e-12);
    // 90 ms is met with 3 places (10 + 10 + 53 ms), not with 2 (10 + 10 + 80).
    assert_eq!(p.needed(0, &load, 4), Some(3));
    assert_eq!(p.latency_s(0, &waiting(1, 0.0, 0), 0), f64::INFINITY);
    assert_eq!(p.latency_s(0, &IDLE, 0), 0.0);
}

/// A small deterministic generator of loads (no dependency for a test).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn a_donation_never_makes_the_donor_miss_its_goal_in_the_prediction() {
    let mut rng = Lcg(7);
    let mut donations = 0;
    for case in 0..2000 {
        let n = 2 + rng.next(3) as usize;
        let base: Vec<f64> = (0..n).map(|_| 5.0 + rng.next(60) as f64).collect();
        let goal: Vec<f64> = (0..n).map(|_| 20.0 + rng.next(150) as f64).collect();
        let p = predictor(&base, &goal);
        // Holdings that fit the pool of 4.
        let mut left = 4;
        let loads: Vec<StreamLoad> = (0..n)
            .map(|_| {
                let held = rng.next(u64::from(left) + 1) as u32;
                left -= held;
                let queued = rng.next(4);
                let in_service = u64::from(held > 0 && rng.next(2) == 1);
                StreamLoad {
                    queued,
                    in_service,
                    head_age_s: if queued > 0 {
                        rng.next(30) as f64 / 1e3
                    } else {
                        0.0
                    },
                    held,
                }
            })
            .collect();
        let high: Vec<bool> = (0..n).map(|_| rng.next(3) == 0).collect();
        let alloc = allocate(Rule::Accordion, &p, &loads, &high, 4);
        assert!(alloc.iter().sum::<u32>() <= 4, "case {case}: {alloc:?}");
        for (d, load) in loads.iter().enumerate() {
            if !load.busy() || alloc[d] >= load.held {
                continue;
            }
            donations += 1;
            let before = p.latency_s(d, load, load.held);
            let after = p.latency_s(d, load, alloc[d]);
            assert!(
                before > p.goal_s(d) || after <= p.goal_s(d),
                "case {case}: stream {d} gave {} → {} places and went from {before} to {after} \
                 s against {} s ({loads:?} → {alloc:?})",
                load.held,
                alloc[d],
                p.goal_s(d)
            );
            // A donor late already keeps a place.
            assert!(alloc[d] >= 1, "case {case}: {loads:?} → {alloc:?}");
        }
    }
    assert!(
        donations > 100,
        "only {donations} donations: the test checks little"
    );
}

#[test]
fn high_priority_streams_are_served_first_whatever_their_slack() {
    // Both need 3 of the 4 places; the low-priority stream 0 has less slack (older query).
    let p = predictor(&[100.0, 100.0], &[45.0, 45.0]);
    let loads = [waiting(1, 10.0, 0), waiting(1, 0.0, 0)];
    let needed = |s: usize| p.needed(s, &loads[s], 4);
    assert_eq!((needed(0), needed(1)), (Some(3), Some(3)));
    let alloc = allocate(Rule::Accordion, &p, &loads, &[false, true], 4);
    assert_eq!(alloc, [1, 3]);
    // Without priorities, the least slack first.
    let alloc = allocate(Rule::Accordion, &p, &loads, &[false, false], 4);
    assert_eq!(alloc, [3, 1]);
}

#[test]
fn accordion_takes_places_from_a_pipeline_that_can_spare_them() {
    // Stream 0 holds all 4 and needs 1 (a 10 ms query against 90 ms); stream 1 arrives needing
    // 2 (100 ms against 90 ms: 50 ms with 2).
    let p = predictor(&[10.0, 100.0], &[90.0, 90.0]);
    let loads = [waiting(1, 0.0, 4), waiting(1, 0.0, 0)];
    let alloc = allocate(Rule::Accordion, &p, &loads, &[false, false], 4);
    assert_eq!(alloc[1], 2, "{alloc:?}");
    assert!(alloc[0] >= 1 && alloc.iter().sum::<u32>() == 4, "{alloc:?}");
    // SLO-Conforming never takes: stream 0 shrinks to its need (1), stream 1 takes what that
    // frees, and the rest stays free.
    let alloc = allocate(Rule::SloConforming, &p, &loads, &[false, false], 4);
    assert_eq!(alloc, [1, 2]);
    // Fastest keeps what stream 0 holds: stream 1 waits.
    let alloc = allocate(Rule::Fastest, &p, &loads, &[false, false], 4);
    assert_eq!(alloc, [4, 0]);
}

#[test]
fn each_baseline_keeps_its_defining_rule() {
    let p = predictor(&[40.0, 40.0, 40.0], &[100.0, 100.0, 100.0]);
    let mut rng = Lcg(3);
    for case in 0..500 {
        let mut left = 4;
        let loads: Vec<StreamLoad> = (0..3)
            .map(|_| {
                let held = rng.next(u64::from(left) + 1) as u32;
                left -= held;
                waiting(rng.next(5), rng.next(80) as f64, held)
            })
            .collect();
        let high = [false; 3];
        // 1-Stage: one place per stream, never more (an idle one may keep its place parked).
        let one = allocate(Rule::OneStage, &p, &loads, &high, 2);
        for (s, l) in loads.iter().enumerate() {
            assert!(
                one[s] <= 1 && (l.busy() || one[s] <= l.held),
                "case {case}: {one:?}"
            );
        }
        assert!(one.iter().sum::<u32>() <= 2);
        // SLO-Conforming and BBS: never more than the fewest places that meet the goal, and
        // never fewer than a stream held, up to that.
        for rule in [Rule::SloConforming, Rule::Bbs] {
            let a = allocate(rule, &p, &loads, &high, 4);
            for (s, l) in loads.iter().enumerate() {
                let need = p.needed(s, l, 4).unwrap_or(4);
                let floor = if l.busy() { l.held.min(need) } else { 0 };
                assert!(
                    a[s] <= need && a[s] >= floor,
                    "case {case}: {loads:?} → {a:?}"
                );
            }
        }
        // Fastest: a stream with work keeps what it held; the oldest waiting query's stream
        // takes every place left.
        let f = allocate(Rule::Fastest, &p, &loads, &high, 4);
        for (s, l) in loads.iter().enumerate() {
            assert!(
                !l.busy() || f[s] >= l.held,
                "case {case}: {loads:?} → {f:?}"
            );
        }
        if loads.iter().any(|l| l.busy()) {
            assert_eq!(f.iter().sum::<u32>(), 4, "case {case}: {loads:?} → {f:?}");
        }
    }
    // Alone, Fastest gives a query every place.
    let alone = [waiting(1, 0.0, 0), IDLE, IDLE];
    assert_eq!(
        allocate(Rule::Fastest, &p, &alone, &[false; 3], 4),
        [4, 0, 0]
    );
}

#[test]
fn spare_places_go_to_the_waiting_stream_with_the_least_slack() {
    // Each needs 1 place; the two spare ones go to the stream with the older query.
    let p = predictor(&[20.0, 20.0], &[100.0, 100.0]);
    let loads = [waiting(1, 30.0, 0), waiting(1, 0.0, 0)];
    let alloc = allocate(Rule::Accordion, &p, &loads, &[false, false], 4);
    assert_eq!(alloc.iter().sum::<u32>(), 4, "{alloc:?}");
    assert!(alloc[0] > alloc[1], "{alloc:?}");
    // SLO-Conforming leaves them free.
    assert_eq!(
        allocate(Rule::SloConforming, &p, &loads, &[false, false], 4),
        [1, 1]
    );
}

#[test]
fn an_idle_stream_keeps_one_place_parked_until_another_needs_it() {
    let p = predictor(&[20.0, 100.0], &[100.0, 60.0]);
    let idle_with = |held| StreamLoad { held, ..IDLE };
    // Nothing else to do: one of its three places stays parked.
    for rule in [Rule::Accordion, Rule::SloConforming, Rule::OneStage] {
        let alloc = allocate(rule, &p, &[idle_with(3), IDLE], &[false, false], 4);
        assert_eq!(alloc, [1, 0], "{rule:?}");
    }
    // Stream 1 needs two places (100 ms / 2 = 50 ms against 60 ms): the pool has three once
    // stream 0 parks one, and every place once Fastest takes that too.
    let busy = [idle_with(4), waiting(1, 0.0, 0)];
    assert_eq!(
        allocate(Rule::SloConforming, &p, &busy, &[false, false], 4),
        [1, 2]
    );
    assert_eq!(
        allocate(Rule::Fastest, &p, &busy, &[false, false], 4),
        [0, 4]
    );
    let full = [
        idle_with(1),
        StreamLoad {
            held: 3,
            ..waiting(1, 0.0, 0)
        },
    ];
    assert_eq!(
        allocate(Rule::Fastest, &p, &full, &[false, false], 4),
        [0, 4]
    );
}

/// The example with `kind` in place of Accordion, for 20 s.
fn example(kind: &str) -> crate::Report {
    let policy = if kind == "accordion" {
        "kind = \"accordion\"\n".to_string()
    } else {
        // Its high_priority line commented out.
        format!("kind = \"{kind}\"\n#")
    };
    let short = "[run]\nduration = \"20s\"\nwarmup = \"2s\"\n[policy]\n";
    crate::policy::run_example(
        "accordion-server",
        "[run]\nduration = \"60s\"\nwarmup = \"2s\"\n\n[policy]\nkind = \"accordion\"\n",
        &format!("{short}{policy}"),
    )
}

#[test]
fn no_rule_ever_holds_more_places_than_the_pool_and_every_query_is_served() {
    for kind in ["accordion", "slo_conforming", "fastest", "bbs", "one_stage"] {
        let r = example(kind);
        assert_eq!(r.summary.completed, r.summary.arrivals, "{kind}");
        // Replay the resizes: after each tick's, the streams' cores fit the 32 of the CPU.
        let mut cores = [8u32; 3];
        let mut holds = 0;
        for (k, e) in r.resizes.iter().enumerate() {
            cores[e.partition] = e.cpu_cores.expect("places are cores");
            holds += usize::from(cores[e.partition] == 0);
            let tick_done = r.resizes.get(k + 1).is_none_or(|n| n.time_s > e.time_s);
            if tick_done {
                assert!(
                    cores.iter().sum::<u32>() <= 32,
                    "{kind} at {} s: {cores:?}",
                    e.time_s
                );
            }
            assert_eq!(cores[e.partition] % 8, 0, "{kind}: whole places");
        }
        // 1-Stage's three streams keep the one place each they start with; the others move.
        assert_eq!(r.resizes.is_empty(), kind == "one_stage", "{kind}");
        assert_eq!(r.refused_reconfigurations, 0, "{kind}");
        // Fastest makes streams wait with no place at all.
        if kind == "fastest" {
            assert!(holds > 0, "{kind}");
        }
    }
}
