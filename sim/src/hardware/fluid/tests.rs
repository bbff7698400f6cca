//! Unit tests of the fluid model, and the differential test against the reference model.

use super::completion::*;
use super::load_book::*;
use super::reference::ReferenceFluidModel;
use super::*;
use crate::hardware::contention::ReferenceSolver;
use proptest::prelude::*;

const MS: u64 = 1_000_000;

/// Runs the model to empty, returning `(completion time ns, activity)` in completion order.
fn drain<S: SharingSolver>(model: &mut FluidModel<S>) -> Vec<(u64, ActivityId)> {
    let mut done = Vec::new();
    while let Some((t, id)) = model.next_completion() {
        model.finish(t, id);
        done.push((t.as_ns(), id));
    }
    done
}

#[test]
fn changing_consumption_keeps_work_and_rescales_rates() {
    // Two activities of 10 ms on one resource share it: rate 0.5 each. After 4 ms (2 ms of
    // work done each) the second stops using the resource: the first runs at rate 1 and
    // ends at 4 + 8 = 12 ms, the second at 4 + 8 = 12 ms too, each alone at rate 1.
    let mut m: FluidModel = FluidModel::new(vec![1.0, 1.0]);
    let t0 = SimTime::ZERO;
    let a = m.start(t0, 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
    let b = m.start(t0, 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
    let t4 = SimTime::ZERO + SimDuration::from_ns(4 * MS);
    m.set_consumption(t4, &[a, b], |id| (id == b).then(|| vec![(1, 1.0)]));
    assert_eq!(m.rate(a), Some(1.0));
    assert_eq!(m.rate(b), Some(1.0));
    assert_eq!(m.remaining_work(t4, a), Some(8.0 * MS as f64));
    let done = drain(&mut m);
    assert_eq!(
        done.iter().map(|d| d.0).collect::<Vec<_>>(),
        [12 * MS, 12 * MS]
    );
}

#[test]
fn two_identical_kernels_started_together_finish_together() {
    // GPU capacity 1; a and b each need 10 ms of work at rate 1, so each runs at 0.5 and
    // needs 10 ms / 0.5 = 20 ms. Both end at exactly 20 ms; the tie goes to a (started first).
    let mut m = FluidModel::new(vec![1.0]);
    let a = m.start(SimTime::ZERO, 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
    let b = m.start(SimTime::ZERO, 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
    assert_eq!(m.rate(a), Some(0.5));
    assert_eq!(m.resource_usage(0), 1.0);
    assert_eq!(drain(&mut m), vec![(20 * MS, a), (20 * MS, b)]);
    assert!(m.is_empty());
    assert_eq!(m.resource_usage(0), 0.0);
}

#[test]
fn a_later_kernel_slows_the_first() {
    // a (10 ms work) starts at 0 alone at rate 1; at 5 ms it has 5 ms of work left.
    // b (10 ms work) starts at 5 ms; both run at 0.5. a needs 5 / 0.5 = 10 ms more ⇒ ends at
    // 15 ms, by when b has done 10 × 0.5 = 5 ms of work. b, alone again at rate 1, needs
    // 5 ms more ⇒ ends at 20 ms.
    let mut m = FluidModel::new(vec![1.0]);
    let a = m.start(SimTime::ZERO, 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
    assert_eq!(m.next_completion(), Some((SimTime(10 * MS), a)));
    let b = m.start(SimTime(5 * MS), 10.0 * MS as f64, 1.0, &[(0, 1.0)]);
    assert_eq!(m.remaining_work(SimTime(5 * MS), a), Some(5.0 * MS as f64));
    assert_eq!(m.next_completion(), Some((SimTime(15 * MS), a)));
    m.finish(SimTime(15 * MS), a);
    assert_eq!(m.rate(b), Some(1.0));
    assert_eq!(m.next_completion(), Some((SimTime(20 * MS), b)));
}

#[test]
fn gpu_and_dla_kernels_saturating_memory_bandwidth() {
    // Resources: 0 = GPU (1), 1 = DLA (1), 2 = memory bandwidth (1). Each kernel alone would
    // use 80 % of the bandwidth: 0.8 g + 0.8 d ≤ 1 ⇒ g = d = 0.625.
    // g has 4 ms of work: ends at 4 / 0.625 = 6.4 ms, when d has done 6.4 × 0.625 = 4 ms.
    // d then runs alone at rate 1 (memory 0.8 ≤ 1) and needs 10 − 4 = 6 ms more ⇒ 12.4 ms.
    let mut m = FluidModel::new(vec![1.0, 1.0, 1.0]);
    let g = m.start(SimTime::ZERO, 4.0 * MS as f64, 1.0, &[(0, 1.0), (2, 0.8)]);
    let d = m.start(SimTime::ZERO, 10.0 * MS as f64, 1.0, &[(1, 1.0), (2, 0.8)]);
    assert_eq!(m.rate(g), Some(0.625));
    assert_eq!(m.rate(d), Some(0.625));
    assert!((m.resource_usage(2) - 1.0).abs() < 1e-12);
    assert_eq!(m.resource_usage(0), 0.625);
    let (t, first) = m.next_completion().unwrap();
    assert_eq!((t, first), (SimTime(6_400_000), g));
    m.finish(t, g);
    assert_eq!(m.rate(d), Some(1.0));
    assert!((m.resource_usage(2) - 0.8).abs() < 1e-12);
    assert_eq!(drain(&mut m), vec![(12_400_000, d)]);
}

#[test]
fn completion_rounds_up_to_whole_nanoseconds_and_never_stalls() {
    // Bandwidth capacity 1 shared by three unbounded users of coefficient 0.1:
    // 0.1 r × 3 = 1 ⇒ r = 10/3, so 100 ns of work takes 30 ns. In floating point the
    // coefficients sum to 0.30000000000000004, r = 3.333333333333333 and 100 / r =
    // 30.000000000000004; that is taken as 30 (not rounded up to 31), and all end at 30 ns.
    let mut m = FluidModel::new(vec![1.0]);
    let ids: Vec<_> = (0..3)
        .map(|_| m.start(SimTime::ZERO, 100.0, f64::INFINITY, &[(0, 0.1)]))
        .collect();
    assert_eq!(100.0 / m.rate(ids[0]).unwrap(), 30.000000000000004);
    assert_eq!(
        drain(&mut m),
        ids.iter().map(|&id| (30, id)).collect::<Vec<_>>()
    );
    // 1 ns of work at rate 2/3 (capacity 2, three users): 1.5 ns rounds up to 2 ns.
    let mut m = FluidModel::new(vec![2.0]);
    let ids: Vec<_> = (0..3)
        .map(|_| m.start(SimTime::ZERO, 1.0, 1.0, &[(0, 1.0)]))
        .collect();
    assert_eq!(m.next_completion(), Some((SimTime(2), ids[0])));
}

#[test]
fn generation_moves_on_every_change_so_stale_events_can_be_dropped() {
    let mut m = FluidModel::new(vec![1.0]);
    let g0 = m.generation();
    let a = m.start(SimTime::ZERO, 100.0, 1.0, &[(0, 1.0)]);
    let g1 = m.generation();
    assert!(g1 > g0);
    let b = m.start(SimTime(10), 100.0, 1.0, &[(0, 1.0)]);
    assert!(m.generation() > g1);
    // a: 90 left at 10 ns, now 0.5 ⇒ 10 + 180 = 190 ns.
    assert_eq!(m.next_completion(), Some((SimTime(190), a)));
    let g2 = m.generation();
    m.cancel(SimTime(50), a);
    assert!(m.generation() > g2);
    assert_eq!(m.rate(a), None);
    // b: from 10 to 50 ns at 0.5 = 20 done, 80 left alone at rate 1 ⇒ 50 + 80 = 130 ns.
    assert_eq!(m.next_completion(), Some((SimTime(130), b)));
    let g3 = m.generation();
    m.cancel(SimTime(60), a); // no longer running: nothing happens
    assert_eq!(m.generation(), g3);
}

#[test]
fn slots_are_reused_but_ids_stay_unique_and_ordered() {
    let mut m = FluidModel::new(vec![1.0]);
    let a = m.start(SimTime::ZERO, 10.0, 1.0, &[(0, 1.0)]);
    m.finish(SimTime(10), a);
    let b = m.start(SimTime(10), 10.0, 1.0, &[(0, 1.0)]);
    assert_ne!(a, b);
    assert!(a < b);
    assert_eq!(
        m.rate(a),
        None,
        "a stale id must not see b in the reused slot"
    );
    assert_eq!(m.rate(b), Some(1.0));
}

#[test]
fn zero_capacity_and_unconstrained_activities() {
    // Resource 0 has capacity 0: an activity using it never progresses.
    let mut m = FluidModel::new(vec![0.0, 1.0]);
    let stuck = m.start(SimTime::ZERO, 10.0, 1.0, &[(0, 1.0)]);
    assert_eq!(m.rate(stuck), Some(0.0));
    assert_eq!(m.next_completion(), None);
    // No resource and no bound: infinite rate, done at once. Zero work: done at once too.
    let free = m.start(SimTime(5), 10.0, f64::INFINITY, &[]);
    let empty = m.start(SimTime(5), 0.0, 1.0, &[(1, 1.0)]);
    assert_eq!(m.rate(free), Some(f64::INFINITY));
    assert_eq!(m.resource_usage(1), 1.0);
    assert_eq!(m.next_completion(), Some((SimTime(5), free)));
    m.finish(SimTime(5), free);
    assert_eq!(m.next_completion(), Some((SimTime(5), empty)));
    m.finish(SimTime(5), empty);
    assert_eq!(m.len(), 1);
    m.cancel(SimTime(7), stuck);
    assert!(m.is_empty());
}

#[test]
fn invalid_starts_are_errors() {
    let mut m = FluidModel::new(vec![1.0]);
    assert_eq!(
        m.try_start(SimTime::ZERO, -1.0, 1.0, &[]),
        Err(FluidError::InvalidWork { work_ns: -1.0 })
    );
    assert!(matches!(
        m.try_start(SimTime::ZERO, 1.0, 1.0, &[(3, 1.0)]),
        Err(FluidError::Sharing(SharingError::UnknownResource {
            resource: 3,
            resources: 1
        }))
    ));
    assert!(FluidModel::try_new(vec![f64::NAN]).is_err());
    assert!(m.is_empty());
    assert_eq!(m.generation(), 0);
}

/// One random activity: start time (ns), work (ns at rate 1), bound, consumptions.
type Spec = (u64, f64, f64, Vec<(usize, f64)>);

fn arb_scenario() -> impl Strategy<Value = (Vec<f64>, Vec<Spec>)> {
    (prop::collection::vec(0.5f64..4.0, 1..4), 1usize..24).prop_flat_map(|(caps, n)| {
        let m = caps.len();
        let bound = prop_oneof![1 => Just(f64::INFINITY), 3 => 0.05f64..2.0];
        let spec = (
            0u64..2_000_000,
            1.0f64..1e6,
            bound,
            prop::collection::vec((0..m, 0.05f64..2.0), 1..3),
        );
        (Just(caps), prop::collection::vec(spec, n))
    })
}

/// Drives a model through `specs` (starts in time order, completions as announced) and checks
/// at every instant that no capacity is exceeded and that `resource_usage` is the sum of
/// `coeff × rate`; at every completion that `Σ rate × time` equals the work, within the last
/// rate × 1 ns (the round-up) plus a relative 1e-9. Returns the completion order.
fn run_and_check<S: SharingSolver>(
    mut model: FluidModel<S>,
    caps: &[f64],
    specs: &[Spec],
) -> Result<Vec<(u64, usize)>, TestCaseError> {
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| specs[i].0);
    let mut next_start = 0;
    let mut running: Vec<(ActivityId, usize)> = Vec::new();
    let mut done_work = vec![0.0f64; specs.len()];
    let mut completions = Vec::new();
    let mut now = 0u64;
    for _step in 0..4 * specs.len() + 4 {
        let start_at = order.get(next_start).map(|&i| specs[i].0);
        let completion = model.next_completion();
        let event_at = match (start_at, completion) {
            (None, None) => break,
            (Some(s), None) => s,
            (None, Some((t, _))) => t.as_ns(),
            (Some(s), Some((t, _))) => s.min(t.as_ns()),
        };
        prop_assert!(event_at >= now, "event in the past: {event_at} < {now}");
        // Integrate the constant rates over [now, event_at] and check feasibility.
        let mut usage = vec![0.0; caps.len()];
        for &(id, i) in &running {
            let rate = model.rate(id).unwrap();
            done_work[i] += rate * (event_at - now) as f64;
            for &(j, c) in &specs[i].3 {
                usage[j] += c * rate;
            }
        }
        for (j, &u) in usage.iter().enumerate() {
            prop_assert!(
                u <= caps[j] * (1.0 + 1e-9),
                "resource {j}: {u} > {}",
                caps[j]
            );
            prop_assert!((u - model.resource_usage(j)).abs() <= 1e-9 * caps[j]);
        }
        now = event_at;
        match completion {
            Some((t, id)) if t.as_ns() == event_at => {
                let pos = running.iter().position(|&(r, _)| r == id).unwrap();
                let (_, i) = running.remove(pos);
                let last_rate = model.rate(id).unwrap();
                model.finish(t, id);
                let work = specs[i].1;
                let slack = last_rate * 1.0 + 1e-9 * work;
                prop_assert!(
                    (done_work[i] - work).abs() <= slack,
                    "activity {i}: did {} of {work} (slack {slack})",
                    done_work[i]
                );
                completions.push((now, i));
            }
            _ => {
                let i = order[next_start];
                next_start += 1;
                let (_, work, bound, ref cons) = specs[i];
                let id = model.start(SimTime(now), work, bound, cons);
                running.push((id, i));
            }
        }
    }
    prop_assert!(
        running.is_empty() && next_start == specs.len(),
        "run did not finish"
    );
    Ok(completions)
}

proptest! {
    #[test]
    fn work_is_conserved_and_capacities_hold((caps, specs) in arb_scenario()) {
        let fast = run_and_check(FluidModel::new(caps.clone()), &caps, &specs)?;
        let reference = run_and_check(
            FluidModel::with_solver(caps.clone(), ReferenceSolver).unwrap(), &caps, &specs)?;
        prop_assert_eq!(fast, reference);
    }
}

/// One step of a differential run: what happens next to both models.
#[derive(Clone, Debug)]
enum Op {
    /// Time moves on by `dt` ns (0: the same instant) and an activity starts.
    Start {
        dt: u64,
        work: f64,
        bound: f64,
        consumption: Vec<(usize, f64)>,
    },
    /// Time moves to the next completion, which finishes.
    FinishNext,
    /// Time moves on by `dt` ns and the `k`-th running activity (modulo) is cancelled.
    Cancel { dt: u64, k: usize },
    /// Time moves on by `dt` ns and the `k`-th running activity gets a new consumption.
    Reweigh {
        dt: u64,
        k: usize,
        consumption: Vec<(usize, f64)>,
    },
    /// Both models are asked for every rate, the work left and the next completion.
    Query,
}

/// Work amounts that sit on every edge of the completion rounding: whole numbers, halves,
/// fractions just above a whole number (inside and outside the snap and done tolerances),
/// sub-nanosecond work and arbitrary values.
fn arb_work() -> impl Strategy<Value = f64> {
    let whole = 1u64..3_000_000;
    prop_oneof![
        3 => whole.clone().prop_map(|n| n as f64),
        2 => whole.clone().prop_map(|n| n as f64 + 0.5),
        2 => (whole.clone(), 1e-14f64..1e-3).prop_map(|(n, f)| n as f64 + f * n as f64),
        1 => (whole.clone(), 1e-12f64..1e-6).prop_map(|(n, f)| n as f64 + f),
        1 => (whole, 0.999_999f64..1.0).prop_map(|(n, f)| n as f64 + f),
        1 => 0.0f64..2.0,
        3 => 1.0f64..3e6,
    ]
}

/// A capacity vector (resources 0–2 are engines of capacity 1–3; resource 3 is a bandwidth
/// that binds only sometimes) and a sequence of operations.
fn arb_ops() -> impl Strategy<Value = (Vec<f64>, Vec<Op>)> {
    let caps = (1u32..4, 1u32..4, 1u32..3, 0.5f64..6.0)
        .prop_map(|(a, b, c, bw)| vec![f64::from(a), f64::from(b), f64::from(c), bw]);
    let consumption = (
        0usize..3,
        prop_oneof![3 => Just(1.0), 1 => 0.1f64..1.5],
        prop_oneof![2 => Just(0.0), 1 => 0.05f64..2.0],
    )
        .prop_map(|(engine, c, bw)| {
            let mut v = vec![(engine, c)];
            if bw > 0.0 {
                v.push((3, bw));
            }
            v
        });
    let bound = prop_oneof![8 => Just(1.0), 1 => 0.1f64..1.0, 1 => Just(f64::INFINITY)];
    let dt =
        prop_oneof![3 => Just(0u64), 2 => 1u64..10, 3 => 10u64..2_000_000, 2 => Just(u64::MAX)];
    let op = prop_oneof![
        6 => (dt.clone(), arb_work(), bound, consumption.clone())
            .prop_map(|(dt, work, bound, consumption)| Op::Start { dt, work, bound, consumption }),
        6 => Just(Op::FinishNext),
        1 => (dt.clone(), 0usize..64).prop_map(|(dt, k)| Op::Cancel { dt, k }),
        1 => (dt, 0usize..64, consumption).prop_map(|(dt, k, consumption)| Op::Reweigh { dt, k, consumption }),
        3 => Just(Op::Query),
    ];
    (caps, prop::collection::vec(op, 1..160))
}

/// `now + dt`, but no later than the model's next completion (time never passes a completion
/// that has not been finished, as in a run).
/// A `dt` of `u64::MAX` means one nanosecond before the next completion, where the rounding of a
/// completion is decided.
fn not_past_next(model: &mut FluidModel, now: SimTime, dt: u64) -> SimTime {
    let next = model.next_completion().map(|(t, _)| t);
    if dt == u64::MAX {
        return next.map_or(now, |t| now.max(SimTime(t.as_ns().saturating_sub(1))));
    }
    let later = now + SimDuration::from_ns(dt);
    next.map_or(later, |t| later.min(t))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The lazy model and the reference give the same rates, work left and completions, to
    /// the nanosecond and the bit, whatever the order of starts, finishes, cancels and changes of
    /// consumption (many at one instant), on work amounts at every edge of the rounding.
    #[test]
    fn lazy_model_matches_the_reference_exactly((caps, ops) in arb_ops()) {
        let mut lazy = FluidModel::new(caps.clone());
        let mut reference = ReferenceFluidModel::new(caps.clone());
        let mut running: Vec<ActivityId> = Vec::new();
        let mut now = SimTime::ZERO;
        for op in ops.iter().chain(std::iter::repeat_n(&Op::FinishNext, 200)) {
            match op {
                Op::Start { dt, work, bound, consumption } => {
                    now = not_past_next(&mut lazy, now, *dt);
                    let a = lazy.start(now, *work, *bound, consumption);
                    let b = reference.start(now, *work, *bound, consumption);
                    prop_assert_eq!(a, b);
                    running.push(a);
                }
                Op::FinishNext => {
                    let next = lazy.next_completion();
                    prop_assert_eq!(next, reference.next_completion());
                    let Some((t, id)) = next else { continue };
                    now = t;
                    lazy.finish(t, id);
                    reference.finish(t, id);
                    running.retain(|&r| r != id);
                }
                Op::Cancel { dt, k } => {
                    if running.is_empty() { continue; }
                    now = not_past_next(&mut lazy, now, *dt);
                    let id = running.remove(k % running.len());
                    lazy.cancel(now, id);
                    reference.cancel(now, id);
                }
                Op::Reweigh { dt, k, consumption } => {
                    if running.is_empty() { continue; }
                    now = not_past_next(&mut lazy, now, *dt);
                    let id = running[k % running.len()];
                    lazy.set_consumption(now, &[id], |_| Some(consumption.clone()));
                    reference.set_consumption(now, &[id], |_| Some(consumption.clone()));
                }
                Op::Query => {
                    for &id in &running {
                        prop_assert_eq!(lazy.rate(id).map(f64::to_bits), reference.rate(id).map(f64::to_bits));
                        prop_assert_eq!(
                            lazy.remaining_work(now, id).map(f64::to_bits),
                            reference.remaining_work(now, id).map(f64::to_bits),
                            "work left of {:?} at {}", id, now
                        );
                    }
                    for j in 0..caps.len() {
                        prop_assert_eq!(lazy.resource_usage(j).to_bits(), reference.resource_usage(j).to_bits());
                    }
                    prop_assert_eq!(lazy.next_completion(), reference.next_completion());
                }
            }
        }
        prop_assert!(lazy.is_empty() && reference.is_empty());
    }
}

#[test]
fn round_and_ceil_match_the_library_on_their_edges() {
    let edges = [
        0.0,
        0.25,
        0.49999999999999994,
        0.5,
        0.5000000000000001,
        1.0,
        1.5,
        2.5,
        1e15 + 0.5,
        WHOLE_FROM - 0.5,
        WHOLE_FROM,
        WHOLE_FROM + 2.0,
        1e300,
        f64::MAX,
    ];
    for x in edges {
        assert_eq!(round_nonneg(x).to_bits(), x.round().to_bits(), "round({x})");
        assert_eq!(ceil_nonneg(x).to_bits(), x.ceil().to_bits(), "ceil({x})");
    }
}

proptest! {
    #[test]
    fn round_and_ceil_match_the_library(x in 0.0f64..1e17) {
        prop_assert_eq!(round_nonneg(x).to_bits(), x.round().to_bits());
        prop_assert_eq!(ceil_nonneg(x).to_bits(), x.ceil().to_bits());
    }

    /// A completion that [`stable_completion`] calls stable does not move however many whole
    /// nanoseconds of it have run when it is recomputed.
    #[test]
    fn stable_completions_do_not_move(work in arb_work(), steps in prop::collection::vec(0u64..1000, 1..8)) {
        if stable_completion(work, work) {
            let due = ns_to_completion(work, work, 1.0).unwrap();
            let mut elapsed = 0u64;
            let mut remaining = work;
            for step in steps {
                let step = step.min(due - elapsed);
                remaining = advanced(remaining, 1.0, step as f64);
                elapsed += step;
                prop_assert_eq!(elapsed + ns_to_completion(remaining, work, 1.0).unwrap(), due);
            }
            prop_assert_eq!(advanced(work, 1.0, elapsed as f64), remaining);
        }
    }
}

#[test]
fn the_load_book_decides_sums_exactly_at_capacity_when_every_term_is_dyadic() {
    let mut book = LoadBook::new(2);
    // Eight one-core activities on an eight-core CPU: exactly full, decided without a pass.
    for _ in 0..8 {
        book.add(&[(0, 1.0)], 1.0);
    }
    assert_eq!(book.fits(0, 8.0), Fit::Yes);
    book.add(&[(0, 0.5)], 1.0);
    assert_eq!(book.fits(0, 8.0), Fit::No);
    book.remove(&[(0, 0.5)], 1.0);
    assert_eq!(book.fits(0, 8.0), Fit::Yes);
    // Terms such as 0.1 are not dyadic: a sum at capacity is a close call.
    for _ in 0..10 {
        book.add(&[(1, 0.1)], 1.0);
    }
    assert_eq!(book.fits(1, 1.0), Fit::Unsure);
    assert_eq!(book.fits(1, 2.0), Fit::Yes);
    assert_eq!(book.fits(1, 0.5), Fit::No);
    // An unbounded user never fits.
    book.add(&[(1, 1.0)], f64::INFINITY);
    assert_eq!(book.fits(1, 1e300), Fit::No);
    assert_eq!(dyadic(0.75), Some(805_306_368));
    assert_eq!(dyadic(0.1), None);
    assert_eq!(dyadic(1e6), None);
}

#[test]
fn completions_past_the_end_of_time_saturate() {
    assert_eq!(ns_to_completion(1e300, 1e300, 1e-300), Some(u64::MAX));
    assert_eq!(
        ns_to_completion(1e19, 1e19, 1.0),
        Some(10_000_000_000_000_000_000)
    );
    assert_eq!(
        ns_to_completion(4e18, 4e18, 1.0),
        Some(4_000_000_000_000_000_000)
    );
    assert_eq!(ns_to_completion(10.5, 11.0, 1.0), Some(11));
    assert_eq!(ns_to_completion(10.0, 11.0, 0.0), None);
}

proptest! {
    /// The one-truncation completion rule gives what the snap-or-ceil rule as written gives,
    /// with the standard library's `round` and `ceil`, on every edge of the snap.
    #[test]
    fn completion_rounding_matches_the_rule_as_written(
        n in 0u64..1u64 << 40,
        f in prop_oneof![Just(0.0), 1e-16f64..1e-9, 1e-9f64..0.5, Just(0.5), 0.5f64..1.0],
        rate in prop_oneof![Just(1.0), 0.01f64..4.0],
    ) {
        let ns = n as f64 + f;
        let remaining = ns * rate;
        // Work of 1 ns: its done threshold (about 1e-6 ns) is below every case but the smallest.
        let got = ns_to_completion(remaining, 1.0, rate);
        let q = remaining / rate;
        let nearest = q.round();
        let want = if (q - nearest).abs() <= SNAP_REL_EPS * nearest { nearest } else { q.ceil() };
        if remaining > done_threshold(1.0) {
            prop_assert_eq!(got, Some(want as u64));
            prop_assert_eq!(snap_or_ceil(q), want);
        }
    }
}

proptest! {
    /// The load book never gives a wrong answer: whatever it says Yes or No to is what summing
    /// the running terms in their order says, at capacities on and around that sum, through
    /// starts and removals of whole, dyadic and rough terms and the resets of close calls.
    #[test]
    fn the_load_book_is_sound(
        ops in prop::collection::vec(
            (any::<bool>(), 0usize..16, prop_oneof![Just(1.0), Just(0.5), Just(0.25), 0.0f64..1.0, 1e-9f64..1e-6]),
            1..300,
        ),
    ) {
        let mut book = LoadBook::new(1);
        let mut running: Vec<f64> = Vec::new();
        for (add, k, c) in ops {
            if add || running.is_empty() {
                book.add(&[(0, c)], 1.0);
                running.push(c);
            } else {
                let c = running.swap_remove(k % running.len());
                book.remove(&[(0, c)], 1.0);
            }
            let mut in_order = 0.0;
            for &c in &running {
                if c > 0.0 {
                    in_order += c * 1.0;
                }
            }
            for capacity in [in_order, in_order * (1.0 + 1e-16), in_order * (1.0 - 1e-16),
                             in_order + 1e-12, in_order - 1e-12, in_order * 1.5 + 0.1] {
                match book.fits(0, capacity) {
                    Fit::Yes => prop_assert!(in_order <= capacity, "{in_order} > {capacity}"),
                    Fit::No => prop_assert!(in_order > capacity, "{in_order} <= {capacity}"),
                    Fit::Unsure => book.reset(0, in_order),
                }
            }
        }
    }
}
