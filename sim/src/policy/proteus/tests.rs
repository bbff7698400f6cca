use super::*;
use rand::{Rng, SeedableRng};

fn choice(capacity_rps: f64, memory_bytes: u64) -> Option<Choice> {
    Some(Choice {
        capacity_rps,
        batch: 1,
        memory_bytes,
    })
}

/// Two variants (70 %, 78 %) on two engines: the fast one carries 100 req/s on either, the
/// accurate one 30.
fn two_by_two(memory_bytes: u64) -> Problem {
    Problem {
        accuracy: vec![70.0, 78.0],
        stream_of: vec![0, 0],
        choices: vec![
            vec![choice(100.0, 1), choice(30.0, 2)],
            vec![choice(100.0, 1), choice(30.0, 2)],
        ],
        memory_bytes,
    }
}

#[test]
fn the_most_accurate_split_that_carries_the_load() {
    let p = two_by_two(u64::MAX);
    // 20 req/s: the accurate variant on one engine.
    let s = solve(&p, &[20.0]).unwrap();
    assert!(s.feasible);
    assert_eq!(s.assignment.iter().flatten().count(), 1);
    assert_eq!(s.accuracy, 78.0);
    // 50 req/s: the accurate variant on both (60 req/s).
    let s = solve(&p, &[50.0]).unwrap();
    assert_eq!(s.assignment, vec![Some(1), Some(1)]);
    assert_eq!(s.variant_rates(2), vec![0.0, 50.0]);
    // 100 req/s: 30 at 78 % and 70 at 70 %, not 100 at 70 %.
    let s = solve(&p, &[100.0]).unwrap();
    assert_eq!(s.variant_rates(2), vec![70.0, 30.0]);
    assert!((s.accuracy - (30.0 * 78.0 + 70.0 * 70.0) / 100.0).abs() < 1e-9);
    // 300 req/s cannot be carried: the most capacity (the fast variant on both), full.
    let s = solve(&p, &[300.0]).unwrap();
    assert!(!s.feasible);
    assert_eq!(s.assignment, vec![Some(0), Some(0)]);
    assert_eq!(s.rates, vec![100.0, 100.0]);
}

#[test]
fn memory_binds() {
    // Room for 3 bytes: two accurate instances (4) do not fit; at 50 req/s the best that fits
    // is one accurate and one fast (30 at 78 %, 20 at 70 %).
    let s = solve(&two_by_two(3), &[50.0]).unwrap();
    assert_eq!(s.variant_rates(2), vec![20.0, 30.0]);
    // Room for nothing.
    assert!(solve(&two_by_two(0), &[50.0]).is_none());
}

/// The exact answer by brute force: every assignment, and every split of each stream's load
/// into whole requests per second among its engines within their capacities; the request-
/// weighted accuracy of the best, `None` where no assignment carries every stream.
fn brute_force(p: &Problem, rates: &[u32]) -> Option<f64> {
    let engines = p.choices.len();
    let variants = p.accuracy.len();
    let mut best: Option<f64> = None;
    let assignments = (variants + 1).pow(engines as u32);
    for code in 0..assignments {
        let digits: Vec<usize> = (0..engines)
            .map(|e| code / (variants + 1).pow(e as u32) % (variants + 1))
            .collect();
        let hosted: Option<Vec<(usize, Choice)>> = digits
            .iter()
            .enumerate()
            .filter(|(_, d)| **d > 0)
            .map(|(e, &d)| p.choices[e][d - 1].map(|c| (d - 1, c)))
            .collect();
        let Some(hosted) = hosted else { continue };
        let memory: u64 = hosted.iter().map(|(_, c)| c.memory_bytes).sum();
        if hosted.is_empty() || memory > p.memory_bytes {
            continue;
        }
        // The streams' instances are disjoint: each stream's best split on its own.
        let mut total = Some(0.0);
        for (stream, &rate) in rates.iter().enumerate() {
            let own: Vec<(usize, Choice)> = hosted
                .iter()
                .copied()
                .filter(|(v, _)| p.stream_of[*v] == stream)
                .collect();
            let best_split = best_split(p, &own, rate);
            total = total.zip(best_split).map(|(t, b)| t + b);
        }
        if let Some(total) = total {
            let acc = total / f64::from(rates.iter().sum::<u32>());
            best = Some(best.map_or(acc, |b: f64| b.max(acc)));
        }
    }
    best
}

/// The most Σ accuracy × rate of any split of `rate` whole units among `hosted` within their
/// capacities; `None` where none fits.
fn best_split(p: &Problem, hosted: &[(usize, Choice)], rate: u32) -> Option<f64> {
    let mut best = None;
    let mut split = vec![0u32; hosted.len()];
    loop {
        let total: u32 = split.iter().sum();
        let fits = split
            .iter()
            .zip(hosted)
            .all(|(&y, (_, c))| f64::from(y) <= c.capacity_rps);
        if total == rate && fits {
            let acc = split
                .iter()
                .zip(hosted)
                .map(|(&y, (v, _))| f64::from(y) * p.accuracy[*v])
                .sum::<f64>();
            best = Some(best.map_or(acc, |b: f64| b.max(acc)));
        }
        let mut k = 0;
        loop {
            if k == split.len() {
                return best;
            }
            split[k] += 1;
            if split[k] <= rate {
                break;
            }
            split[k] = 0;
            k += 1;
        }
    }
}

#[test]
fn solve_is_optimal_on_small_cases_by_brute_force() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
    for case in 0..90 {
        // One stream in the first 60 cases, two after.
        let streams = if case < 60 { 1 } else { 2 };
        let engines = rng.random_range(1..=3);
        let variants = rng.random_range(streams..=3);
        let stream_of: Vec<usize> = (0..variants).map(|v| v * streams / variants).collect();
        let problem = Problem {
            accuracy: (0..variants)
                .map(|_| f64::from(rng.random_range(50..90u32)))
                .collect(),
            stream_of,
            choices: (0..engines)
                .map(|_| {
                    (0..variants)
                        .map(|_| {
                            rng.random_bool(0.85).then(|| Choice {
                                capacity_rps: f64::from(rng.random_range(1..8u32)),
                                batch: 1,
                                memory_bytes: rng.random_range(1..4),
                            })
                        })
                        .collect()
                })
                .collect(),
            memory_bytes: rng.random_range(2..8),
        };
        let rates: Vec<u32> = (0..streams).map(|_| rng.random_range(1..12u32)).collect();
        let exact = brute_force(&problem, &rates);
        let as_f64: Vec<f64> = rates.iter().map(|&r| f64::from(r)).collect();
        let solved = solve(&problem, &as_f64);
        match (exact, solved) {
            (Some(exact), Some(s)) => {
                assert!(s.feasible, "case {case}: {problem:?} at {rates:?}");
                assert!(
                    (s.accuracy - exact).abs() < 1e-9,
                    "case {case}: solve {} vs brute force {exact}: {problem:?} at {rates:?}",
                    s.accuracy
                );
                // Each stream's rate carried by its own variants.
                let by_variant = s.variant_rates(variants);
                for (stream, &rate) in rates.iter().enumerate() {
                    let carried: f64 = (0..variants)
                        .filter(|&v| problem.stream_of[v] == stream)
                        .map(|v| by_variant[v])
                        .sum();
                    assert!((carried - f64::from(rate)).abs() < 1e-9, "case {case}");
                }
            }
            (None, Some(s)) => assert!(!s.feasible, "case {case}: {problem:?} at {rates:?}"),
            (None, None) => {}
            (Some(_), None) => panic!("case {case}: brute force found a solution"),
        }
    }
}

/// The example scenario, with `policy` in place of its own.
fn example(policy: &str) -> crate::Report {
    crate::policy::run_example("proteus-resnet-xavier", "kind = \"proteus\"", policy)
}

#[test]
fn on_the_example_proteus_trades_accuracy_for_load_between_the_extremes() {
    let r = example("kind = \"proteus\"");
    let a = r.accuracy.as_ref().expect("a family app reports accuracy");
    let served = a.served_percent.expect("requests completed");
    // Between the fastest and the most accurate variant, and it used more than one.
    assert!(served > 69.758 && served < 78.312, "{served}");
    assert!(
        a.variants.iter().filter(|v| v.tally.completed > 0).count() >= 2,
        "{:?}",
        a.variants
    );
    // Per-variant tallies add up to the summary.
    let completed: u64 = a.variants.iter().map(|v| v.tally.completed).sum();
    assert_eq!(completed, r.summary.completed);
    // It changed its plan as the load changed.
    assert!(!r.scaling_events.is_empty());
}

#[test]
fn over_two_streams_each_streams_load_goes_to_its_own_variants() {
    let r = crate::policy::run_example(
        "proteus-streams-xavier",
        "kind = \"proteus\"",
        "kind = \"proteus\"",
    );
    let [classify, detect] = &r.streams[..] else {
        panic!("two streams: {:?}", r.streams);
    };
    for (stream, family) in [(classify, "resnet"), (detect, "yolov3")] {
        let a = stream.accuracy.as_ref().expect("a family reports accuracy");
        // Its variants are its family's, and they served all it completed.
        let members = crate::model::accuracy::family(family)
            .expect("a family")
            .members;
        assert!(
            a.variants
                .iter()
                .all(|v| members.contains(&v.model.as_str()))
        );
        let completed: u64 = a.variants.iter().map(|v| v.tally.completed).sum();
        assert_eq!(completed, stream.completed, "{family}");
        let served = a.served_percent.expect("served");
        assert!(served >= a.variants[0].percent && served <= a.best_percent);
        assert!(stream.slo_attainment.expect("finished") > 0.9, "{stream:?}");
    }
    // Both streams had engines: each completed most of what arrived.
    assert!(detect.completed * 10 > detect.arrivals * 9, "{detect:?}");
    // The per-stream figures add up to the run's.
    assert_eq!(classify.completed + detect.completed, r.summary.completed);
    // The engines moved as the detector's bursts came and went.
    assert!(r.scaling_events.len() > 4);
}
