//! Cost of finding a pipeline's optimum over the cost model's stage times: the exhaustive
//! enumeration against the dynamic programme (`DesignSpace::optimum`) on a space both can do,
//! and the programme alone on moldable spaces far too large to enumerate (the server's 32 cores
//! as four stages; the Xavier's CPU as two stages beside its GPU and DLAs). Each iteration
//! starts from a fresh space, so the stage-time tables it builds are counted.
//!
//! Run with `cargo bench -p infscaler-sim --bench design_space`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use infscaler_sim::explore::{CorePools, DesignSpace, Ep};
use infscaler_sim::hardware::profile::DeviceProfile;
use infscaler_sim::model::cost::Target;
use infscaler_sim::model::runtime::RuntimeProfile;
use infscaler_sim::model::zoo;
use infscaler_sim::policy::pipeline::Places;

/// Every accelerator of `device` as an EP, its CPU as `cpu_stages` slots sharing its cores
/// (fixed and holding them all when 1).
fn eps(device: &DeviceProfile, cpu_stages: u32) -> (Vec<Ep>, CorePools) {
    let all: Vec<usize> = (0..device.accelerators.len()).collect();
    let places = Places::moldable(device, &all, cpu_stages);
    (places.eps, places.pools)
}

fn bench_optimum(c: &mut Criterion) {
    let rt = RuntimeProfile::tensorrt();
    let xavier = DeviceProfile::builtin("xavier-agx").expect("built in");
    let server = DeviceProfile::builtin("server-32core").expect("built in");
    let alexnet = zoo::build("alexnet", &Default::default()).expect("in the zoo");
    let resnet50 = zoo::build("resnet50", &Default::default()).expect("in the zoo");
    let mut group = c.benchmark_group("design_space");
    group.sample_size(10);

    let (fixed, _) = eps(&xavier, 1);
    let target = Target::new(&xavier, &rt);
    group.bench_function("exhaustive/alexnet-xavier-3-stages", |b| {
        b.iter(|| {
            let mut space = DesignSpace::new(&alexnet.operators, fixed.clone(), 3, target)
                .expect("a valid space");
            black_box(space.exhaustive().expect("small enough"))
        })
    });
    group.bench_function("optimum/alexnet-xavier-3-stages", |b| {
        b.iter(|| {
            let mut space = DesignSpace::new(&alexnet.operators, fixed.clone(), 3, target)
                .expect("a valid space");
            black_box(space.optimum())
        })
    });
    for (name, device, cpu_stages, stages) in [
        ("optimum/resnet50-server-4-moldable", &server, 4, 4),
        ("optimum/resnet50-xavier-5-moldable", &xavier, 2, 5),
    ] {
        let (eps, pools) = eps(device, cpu_stages);
        let target = Target::new(device, &rt);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut space = DesignSpace::new(&resnet50.operators, eps.clone(), stages, target)
                    .expect("a valid space")
                    .with_pools(pools.clone());
                black_box(space.optimum())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_optimum);
criterion_main!(benches);
