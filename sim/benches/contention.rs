//! Cost of the max-min solvers and of the fluid activity set, on the shapes the simulator makes:
//! activities on a GPU, two DLAs and a CPU, each also drawing on the shared memory bandwidth.
//!
//! Run with `cargo bench -p infscaler-sim --bench contention`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use infscaler_sim::hardware::contention::{
    FastSolver, ReferenceSolver, SharingProblem, SharingSolver,
};
use infscaler_sim::hardware::fluid::FluidModel;
use infscaler_sim::hardware::fluid::reference::ReferenceFluidModel;
use infscaler_sim::time::SimTime;

/// Resources: 0 = GPU compute, 1 = DLA 0, 2 = DLA 1, 3 = CPU cores, 4 = memory bandwidth.
const ENGINES: usize = 4;
const MEMORY: usize = 4;

/// Activity `i`'s consumption: its engine at coefficient 1 and memory at 0.3–0.65 (so even
/// four activities, one per engine, over-subscribe the memory bandwidth of capacity 1).
fn consumption(i: usize) -> [(usize, f64); 2] {
    [(i % ENGINES, 1.0), (MEMORY, 0.3 + 0.05 * (i % 8) as f64)]
}

/// `n` activities of bound 1; `capacity` for every resource (1 makes it contended; `n` leaves
/// everything under-subscribed, the fast path).
fn problem(n: usize, capacity: f64) -> SharingProblem {
    let mut p =
        SharingProblem::with_capacities(&[capacity; ENGINES + 1]).expect("valid capacities");
    for i in 0..n {
        p.add_variable(1.0, &consumption(i))
            .expect("valid variable");
    }
    p
}

fn bench_solvers(c: &mut Criterion) {
    let mut group = c.benchmark_group("solve");
    for n in [4, 16, 64] {
        let contended = problem(n, 1.0);
        let free = problem(n, n as f64);
        let mut rates = Vec::with_capacity(n);
        let mut fast = FastSolver::new();
        group.bench_with_input(BenchmarkId::new("fast/contended", n), &contended, |b, p| {
            b.iter(|| fast.solve(black_box(p), &mut rates))
        });
        group.bench_with_input(BenchmarkId::new("fast/uncontended", n), &free, |b, p| {
            b.iter(|| fast.solve(black_box(p), &mut rates))
        });
        group.bench_with_input(
            BenchmarkId::new("reference/contended", n),
            &contended,
            |b, p| b.iter(|| ReferenceSolver.solve(black_box(p), &mut rates)),
        );
    }
    group.finish();
}

fn bench_fluid_churn(c: &mut Criterion) {
    // Eight activities run at once; each iteration finishes the earliest and starts a new one
    // at that instant, as a serving loop does: contended (capacity 1, every change a full solve)
    // and uncontended (capacity 8, the fast path), for the lazy model and the reference model
    // (which re-solves and re-advances everything on every change).
    const CONCURRENT: usize = 8;
    let work_ns = |k: usize| 1.0e5 + 3.7e4 * (k % 11) as f64;
    macro_rules! churn {
        ($name:expr, $model:expr) => {{
            let mut model = $model;
            let mut started = 0usize;
            for _ in 0..CONCURRENT {
                model.start(SimTime::ZERO, work_ns(started), 1.0, &consumption(started));
                started += 1;
            }
            c.bench_function($name, |b| {
                b.iter(|| {
                    let (t, id) = model.next_completion().expect("activities are running");
                    model.finish(t, id);
                    model.start(t, work_ns(started), 1.0, &consumption(started));
                    started += 1;
                    black_box(model.generation())
                })
            });
        }};
    }
    churn!(
        "fluid/lazy/contended",
        FluidModel::new(vec![1.0; ENGINES + 1])
    );
    churn!(
        "fluid/reference/contended",
        ReferenceFluidModel::new(vec![1.0; ENGINES + 1])
    );
    churn!(
        "fluid/lazy/uncontended",
        FluidModel::new(vec![8.0; ENGINES + 1])
    );
    churn!(
        "fluid/reference/uncontended",
        ReferenceFluidModel::new(vec![8.0; ENGINES + 1])
    );
}

criterion_group!(benches, bench_solvers, bench_fluid_churn);
criterion_main!(benches);
