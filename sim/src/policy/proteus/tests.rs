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
    let s = solve(&p, 20.0).unwrap();
    assert!(s.feasible);
    assert_eq!(s.assignment.iter().flatten().count(), 1);
    assert_eq!(s.accuracy, 78.0);
    // 50 req/s: the accurate variant on both (60 req/s).
    let s = solve(&p, 50.0).unwrap();
    assert_eq!(s.assignment, vec![Some(1), Some(1)]);
    assert_eq!(s.variant_rates(2), vec![0.0, 50.0]);
    // 100 req/s: 30 at 78 % and 70 at 70 %, not 100 at 70 %.
    let s = solve(&p, 100.0).unwrap();
    assert_eq!(s.variant_rates(2), vec![70.0, 30.0]);
    assert!((s.accuracy - (30.0 * 78.0 + 70.0 * 70.0) / 100.0).abs() < 1e-9);
    // 300 req/s cannot be carried: the most capacity (the fast variant on both), full.
    let s = solve(&p, 300.0).unwrap();
    assert!(!s.feasible);
    assert_eq!(s.assignment, vec![Some(0), Some(0)]);
    assert_eq!(s.rates, vec![100.0, 100.0]);
}

#[test]
fn memory_binds() {
    // Room for 3 bytes: two accurate instances (4) do not fit; at 50 req/s the best that fits
    // is one accurate and one fast (30 at 78 %, 20 at 70 %).
    let s = solve(&two_by_two(3), 50.0).unwrap();
    assert_eq!(s.variant_rates(2), vec![20.0, 30.0]);
    // Room for nothing.
    assert!(solve(&two_by_two(0), 50.0).is_none());
}

/// The exact answer by brute force: every assignment, and every split of the load into whole
/// requests per second among its engines within their capacities.
fn brute_force(p: &Problem, rate: u32) -> Option<f64> {
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
        // Every split of `rate` whole units among the hosted instances.
        let mut split = vec![0u32; hosted.len()];
        loop {
            let total: u32 = split.iter().sum();
            let fits = split
                .iter()
                .zip(&hosted)
                .all(|(&y, (_, c))| f64::from(y) <= c.capacity_rps);
            if total == rate && fits {
                let acc = split
                    .iter()
                    .zip(&hosted)
                    .map(|(&y, (v, _))| f64::from(y) * p.accuracy[*v])
                    .sum::<f64>()
                    / f64::from(rate);
                best = Some(best.map_or(acc, |b: f64| b.max(acc)));
            }
            let mut k = 0;
            loop {
                if k == split.len() {
                    break;
                }
                split[k] += 1;
                if split[k] <= rate {
                    break;
                }
                split[k] = 0;
                k += 1;
            }
            if k == split.len() {
                break;
            }
        }
    }
    best
}

#[test]
fn solve_is_optimal_on_small_cases_by_brute_force() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
    for case in 0..60 {
        let engines = rng.random_range(1..=3);
        let variants = rng.random_range(1..=3);
        let problem = Problem {
            accuracy: (0..variants)
                .map(|_| f64::from(rng.random_range(50..90u32)))
                .collect(),
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
        let rate = rng.random_range(1..12u32);
        let exact = brute_force(&problem, rate);
        let solved = solve(&problem, f64::from(rate));
        match (exact, solved) {
            (Some(exact), Some(s)) => {
                assert!(s.feasible, "case {case}: {problem:?} at {rate}");
                assert!(
                    (s.accuracy - exact).abs() < 1e-9,
                    "case {case}: solve {} vs brute force {exact}: {problem:?} at {rate}",
                    s.accuracy
                );
                let carried: f64 = s.rates.iter().sum();
                assert!((carried - f64::from(rate)).abs() < 1e-9);
            }
            (None, Some(s)) => assert!(!s.feasible, "case {case}: {problem:?} at {rate}"),
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
