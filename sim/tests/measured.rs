//! Measured profiles in place of the roofline: a profile file written here, read by a scenario,
//! gives the execution times it holds (interpolated, extrapolated and scaled as
//! `model::measured` documents), and bad files give errors that name the file and field.

use std::path::{Path, PathBuf};

use infscaler_sim::model::cost::{Target, model_plan, plan};
use infscaler_sim::model::measured::{
    FORMAT_VERSION, LatencyStats, LoopSends, MachineInfo, MeasuredModel, MeasuredOperator,
    MeasuredPartition, MeasuredProfile,
};
use infscaler_sim::model::runtime::RuntimeProfile;
use infscaler_sim::model::zoo::{self, ZooOptions};
use infscaler_sim::{ResolvedScenario, Scenario, Simulation};

fn stats(batch: u32, mean_ns: u64) -> LatencyStats {
    LatencyStats {
        batch,
        n: 10,
        mean_ns,
        std_ns: mean_ns / 20,
        min_ns: mean_ns * 9 / 10,
        p50_ns: mean_ns,
        p90_ns: mean_ns * 11 / 10,
        p99_ns: mean_ns * 12 / 10,
        max_ns: mean_ns * 13 / 10,
    }
}

/// A CPU profile of AlexNet (24 operators), measured with 4 threads: the whole model at batch
/// 1 and 4 (100 µs, 220 µs), partition 0..5 at batch 1 (40 µs), operator 0 at batch 1 (15 µs).
/// Far below the roofline of any Xavier engine, so the CPU becomes the fastest.
fn alexnet_profile(ep: &str) -> MeasuredProfile {
    let model = zoo::build("alexnet", &ZooOptions::default()).unwrap();
    let mut operators: Vec<MeasuredOperator> = model
        .operators
        .iter()
        .map(|o| MeasuredOperator {
            name: o.name.clone(),
            kind: o.kind.name().into(),
            flops: o.flops,
            input_elems: o.input_elems,
            output_elems: o.output_elems,
            params: o.params,
            batch: vec![],
        })
        .collect();
    operators[0].batch = vec![stats(1, 15_000)];
    MeasuredProfile {
        format: FORMAT_VERSION,
        machine: MachineInfo {
            gap_ns: 0,
            after_idle_ns: 0,
            wake_ns: 0,
            wake_busy_ns: Vec::new(),
            loop_wake_busy_ns: Vec::new(),
            timer_late_ns: Vec::new(),
            corun_cores: 0,
            loop_sends: Vec::new(),
            cpu_model: "Test CPU".into(),
            cpu_cores: 8,
            ort_version: "1.32.0".into(),
            ep: ep.into(),
            threads: 4,
            date: "2025-01-01T00:00:00Z".into(),
            command: "test".into(),
            warmup: 1,
            iters: 10,
        },
        models: vec![MeasuredModel {
            name: "alexnet".into(),
            seq_len: None,
            operators,
            partitions: vec![
                MeasuredPartition {
                    start: 0,
                    end: 24,
                    batch: vec![stats(1, 100_000), stats(4, 220_000)],
                    after_idle: vec![],
                    corun: vec![],
                },
                MeasuredPartition {
                    start: 0,
                    end: 5,
                    batch: vec![stats(1, 40_000)],
                    after_idle: vec![],
                    corun: vec![],
                },
            ],
        }],
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infscaler-measured-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn scenario(measured: &str, cores: u32) -> String {
    format!(
        r#"
[device]
profile = "xavier-agx"
measured_profile = {measured}
[app]
name = "alexnet"
[slo]
multiplier = 10.0
[workload]
kind = "constant"
rate_per_s = 10.0
[run]
max_requests = 20
[policy]
kind = "static"
[[policy.stages]]
[[policy.stages.partitions]]
instances = {{ cpu = 1 }}
cpu_cores = {cores}
max_batch = 1
"#
    )
}

fn load(dir: &Path, text: &str) -> Result<ResolvedScenario, String> {
    Scenario::parse(text, "s.toml", dir)
        .and_then(|s| s.resolve())
        .map_err(|e| e.to_string())
}

#[test]
fn a_written_profile_gives_the_measured_times() {
    let dir = temp_dir("ok");
    let profile = alexnet_profile("cpu");
    std::fs::write(dir.join("m.toml"), profile.to_toml_string()).unwrap();
    // The file reads back as written.
    assert_eq!(MeasuredProfile::load(&dir.join("m.toml")).unwrap(), profile);
    let r = load(&dir, &scenario("\"m.toml\"", 4)).unwrap();
    let d = &r.device;
    let (cpu, gpu) = (d.cpu(), d.gpu().unwrap());
    let ops = &r.models[0].operators;
    let measured = r.measured.as_deref();
    let t = |o: &[_], b, a, c| plan(o, b, a, c, trt(d).with_measured(measured)).solo_ns();
    let roof = |o: &[_], b, a, c| model_plan(o, b, a, c, trt(d)).solo_ns();

    // Measured batches exactly; batch 2 and 3 on the line between (1, 100 µs) and (4, 220 µs).
    assert_eq!(t(ops, 1, cpu, 4), 100_000);
    assert_eq!(t(ops, 4, cpu, 4), 220_000);
    assert_eq!(t(ops, 2, cpu, 4), 140_000);
    assert_eq!(t(ops, 3, cpu, 4), 180_000);
    // Beyond batch 4: 220 µs × R(8)/R(4), the roofline's ratio.
    let r8 = 220_000.0 * roof(ops, 8, cpu, 4) as f64 / roof(ops, 4, cpu, 4) as f64;
    assert!((t(ops, 8, cpu, 4) as f64 - r8).abs() <= 1.0);
    // Measured with 4 threads, run on 2 cores: scaled by R(2 cores)/R(4 cores).
    let c2 = 100_000.0 * roof(ops, 1, cpu, 2) as f64 / roof(ops, 1, cpu, 4) as f64;
    assert!(c2 > 100_000.0);
    assert!((t(ops, 1, cpu, 2) as f64 - c2).abs() <= 1.0);
    // A measured partition; a slice made of measured and unmeasured operators; a slice with
    // nothing measured keeps the roofline; other accelerators keep the roofline.
    assert_eq!(t(&ops[0..5], 1, cpu, 4), 40_000);
    let mixed = 15_000 + roof(&ops[1..2], 1, cpu, 4) + roof(&ops[2..3], 1, cpu, 4);
    assert!(t(&ops[0..3], 1, cpu, 4).abs_diff(mixed) <= 1);
    assert_eq!(t(&ops[5..24], 1, cpu, 4), roof(&ops[5..24], 1, cpu, 4));
    assert_eq!(t(ops, 1, gpu, 1), roof(ops, 1, gpu, 1));
    // The segments keep the roofline's compute demand and bandwidth rate (bytes per ns).
    let (m, a) = (
        plan(ops, 1, cpu, 4, trt(d).with_measured(measured)),
        model_plan(ops, 1, cpu, 4, trt(d)),
    );
    let rate = |p: &infscaler_sim::model::cost::ExecPlan| {
        p.segments[0].mem_bytes as f64 / p.segments[0].work_ns as f64
    };
    assert_eq!(m.segments[0].compute_demand, a.segments[0].compute_demand);
    assert!((rate(&m) / rate(&a) - 1.0).abs() < 1e-4, "{m:?} vs {a:?}");

    // The CPU is now the fastest engine: the isolated latency is the measurement scaled to all
    // 8 cores of the Xavier's CPU.
    assert_eq!(r.isolated_latency.as_ns(), t(ops, 1, cpu, 8));
    assert!(t(ops, 1, cpu, 8) < 100_000);
    // A run at 10 requests/s on one 4-core CPU instance, batch 1, no contention: every
    // execution takes the measured mean.
    let report = Simulation::new(&r, None).unwrap().run();
    assert_eq!(report.summary.completed, 20);
    let exec_ms = report.summary.stages[0].mean_exec_ms.unwrap();
    assert!((exec_ms - 0.1).abs() < 1e-9, "mean execution {exec_ms} ms");
}

#[test]
fn a_batch_on_an_idle_instance_takes_the_after_idle_time() {
    let dir = temp_dir("idle");
    // The whole model at batch 1: 100 µs back to back, 300 µs after 50 ms of idle time.
    let mut profile = alexnet_profile("cpu");
    profile.machine.after_idle_ns = 50_000_000;
    profile.models[0].partitions[0].after_idle = vec![stats(1, 300_000)];
    std::fs::write(dir.join("m.toml"), profile.to_toml_string()).unwrap();
    assert_eq!(MeasuredProfile::load(&dir.join("m.toml")).unwrap(), profile);
    let mean_exec_ms = |rate: f64| {
        let text =
            scenario("\"m.toml\"", 4).replace("rate_per_s = 10.0", &format!("rate_per_s = {rate}"));
        let r = load(&dir, &text).unwrap();
        let report = Simulation::new(&r, None).unwrap().run();
        assert_eq!(report.summary.completed, 20);
        report.summary.stages[0].mean_exec_ms.unwrap()
    };
    // One request every 100 ms: the instance idles ≥ 50 ms before each batch (but the first,
    // whose instance has been idle since the run began) and each takes the after-idle 300 µs.
    let slow = mean_exec_ms(10.0);
    assert!((0.28..=0.3).contains(&slow), "mean execution {slow} ms");
    // Every 25 ms: idle ≈ 25 ms, half the measured idle time, so about half-way: ≈ 200 µs.
    let half = mean_exec_ms(40.0);
    assert!((0.18..=0.21).contains(&half), "mean execution {half} ms");
    // After-idle times need the idle time they were measured after.
    profile.machine.after_idle_ns = 0;
    std::fs::write(dir.join("m.toml"), profile.to_toml_string()).unwrap();
    let err = load(&dir, &scenario("\"m.toml\"", 4)).unwrap_err();
    assert!(
        err.contains("m.toml") && err.contains("after_idle") && err.contains("after_idle_ns"),
        "{err}"
    );
}

/// The mean execution time of the first stage of `text` (20 requests) with `profile` as its
/// `m.toml` in `dir`, milliseconds.
fn mean_exec_ms_with(dir: &Path, profile: &MeasuredProfile, text: &str) -> f64 {
    std::fs::write(dir.join("m.toml"), profile.to_toml_string()).unwrap();
    let r = load(dir, text).unwrap();
    let report = Simulation::new(&r, None).unwrap().run();
    assert_eq!(report.summary.completed, 20);
    report.summary.stages[0].mean_exec_ms.unwrap()
}

#[test]
fn a_batch_starts_after_the_loop_and_its_thread_wake_and_waits_when_no_core_is_free() {
    let dir = temp_dir("wakeups");
    let mean_exec_ms = |wake_ns: u64, busy_ns: Vec<u64>, text: &str| {
        let mut profile = alexnet_profile("cpu");
        profile.machine.wake_ns = wake_ns;
        profile.machine.loop_wake_busy_ns = busy_ns.clone();
        profile.machine.wake_busy_ns = busy_ns;
        mean_exec_ms_with(&dir, &profile, text)
    };
    // One request every 100 ms on a 4-core instance of the 8-core CPU: a core is always free,
    // so each batch is the measured 100 µs after two 50 µs wake-ups (the loop's, its
    // thread's) and ends when the loop, woken by its thread (50 µs), takes the result.
    let alone = scenario("\"m.toml\"", 4);
    assert!((mean_exec_ms(0, vec![], &alone) - 0.1).abs() < 1e-6);
    assert!((mean_exec_ms(50_000, vec![500_000], &alone) - 0.25).abs() < 1e-6);
    // Three such instances, 10 µs wake-ups and a request every 40 µs: a batch dispatched
    // while two others hold all eight cores finds none free, so the loop or its thread waits
    // for a core. With one second drawn for every such wait, each ends when a batch frees its
    // cores: the run takes that path (its times differ from those without such waits) and
    // finishes in time.
    let crowded = alone
        .replace("rate_per_s = 10.0", "rate_per_s = 25000.0")
        .replace("instances = { cpu = 1 }", "instances = { cpu = 3 }");
    let without = mean_exec_ms(10_000, vec![], &crowded);
    let waiting = mean_exec_ms(10_000, vec![1_000_000_000], &crowded);
    assert!(
        (waiting - without).abs() > 1e-3 && waiting < 1.0,
        "{waiting} ms against {without} ms without waits"
    );
    // With a timer's lateness measured, the loop's wake-up on the arrival takes it (70 µs)
    // instead of the 50 µs of a thread's message.
    let mut profile = alexnet_profile("cpu");
    profile.machine.wake_ns = 50_000;
    profile.machine.timer_late_ns = vec![70_000];
    let exec = mean_exec_ms_with(&dir, &profile, &alone);
    assert!((exec - 0.27).abs() < 1e-6, "{exec} ms");
    // Wake-ups with no core free and timers' lateness need the wake-up with a core free, and
    // must be ascending.
    for field in ["wake_busy_ns", "timer_late_ns"] {
        let mut profile = alexnet_profile("cpu");
        match field {
            "wake_busy_ns" => profile.machine.wake_busy_ns = vec![2, 1],
            _ => profile.machine.timer_late_ns = vec![2, 1],
        }
        for (wake_ns, want) in [(0, "wake_ns"), (1, "ascending")] {
            profile.machine.wake_ns = wake_ns;
            std::fs::write(dir.join("m.toml"), profile.to_toml_string()).unwrap();
            let err = load(&dir, &alone).unwrap_err();
            assert!(
                err.contains("m.toml")
                    && err.contains(&format!("machine.{field}"))
                    && err.contains(want),
                "{err}"
            );
        }
    }
}

#[test]
fn a_cpu_batch_beside_busy_cores_takes_the_corun_time() {
    let dir = temp_dir("corun");
    // The whole model at batch 1: 100 µs alone, 200 µs while other sessions hold 4 cores.
    let mut profile = alexnet_profile("cpu");
    let mean_exec_ms =
        |profile: &MeasuredProfile, text: &str| mean_exec_ms_with(&dir, profile, text);
    let alone = scenario("\"m.toml\"", 4);
    // Two 4-core instances and a request every 40 µs: batches overlap.
    let crowded = alone
        .replace("rate_per_s = 10.0", "rate_per_s = 25000.0")
        .replace("instances = { cpu = 1 }", "instances = { cpu = 2 }");
    let unmeasured = mean_exec_ms(&profile, &crowded);
    profile.machine.corun_cores = 4;
    profile.models[0].partitions[0].corun = vec![stats(1, 200_000)];
    assert_eq!(
        MeasuredProfile::load(&{
            std::fs::write(dir.join("m.toml"), profile.to_toml_string()).unwrap();
            dir.join("m.toml")
        })
        .unwrap(),
        profile
    );
    // A request every 100 ms: every batch runs alone, at the measured 100 µs.
    assert!((mean_exec_ms(&profile, &alone) - 0.1).abs() < 1e-6);
    // Overlapping: a batch that starts while the other instance holds its 4 cores takes 200 µs
    // (the two instances' 8 cores fit the CPU, so nothing else slows them).
    let beside = mean_exec_ms(&profile, &crowded);
    assert!(
        (unmeasured - 0.1).abs() < 1e-6 && beside > 0.12 && beside <= 0.2,
        "{beside} ms beside other batches, {unmeasured} ms without co-run times"
    );
    // Co-run times need the cores the other sessions held.
    profile.machine.corun_cores = 0;
    std::fs::write(dir.join("m.toml"), profile.to_toml_string()).unwrap();
    let err = load(&dir, &alone).unwrap_err();
    assert!(
        err.contains("m.toml") && err.contains("partition[0].corun") && err.contains("corun_cores"),
        "{err}"
    );
}

#[test]
fn a_gpu_profile_applies_to_the_gpu_only() {
    let dir = temp_dir("gpu");
    std::fs::write(dir.join("g.toml"), alexnet_profile("cuda").to_toml_string()).unwrap();
    std::fs::write(dir.join("c.toml"), alexnet_profile("cpu").to_toml_string()).unwrap();
    let r = load(&dir, &scenario("[\"c.toml\", \"g.toml\"]", 4)).unwrap();
    let (d, m) = (&r.device, r.measured.as_deref());
    let ops = &r.models[0].operators;
    assert_eq!(
        plan(ops, 1, d.gpu().unwrap(), 1, trt(d).with_measured(m)).solo_ns(),
        100_000
    );
    assert_eq!(
        plan(ops, 1, d.cpu(), 4, trt(d).with_measured(m)).solo_ns(),
        100_000
    );
    let dla0 = d.accelerator("dla0").unwrap();
    assert_eq!(
        plan(ops, 1, dla0, 1, trt(d).with_measured(m)).solo_ns(),
        model_plan(ops, 1, dla0, 1, trt(d)).solo_ns()
    );
}

/// Writes `profile` (after `edit` on its TOML text) and returns the scenario's error.
fn error_with(tag: &str, profile: &MeasuredProfile, edit: impl Fn(String) -> String) -> String {
    let dir = temp_dir(tag);
    std::fs::write(dir.join("m.toml"), edit(profile.to_toml_string())).unwrap();
    load(&dir, &scenario("\"m.toml\"", 4)).expect_err("the scenario is refused")
}

#[test]
fn bad_profiles_are_refused_naming_the_file_and_field() {
    let p = alexnet_profile("cpu");
    let same = |s: String| s;

    let missing = load(&temp_dir("none"), &scenario("\"nope.toml\"", 4)).unwrap_err();
    assert!(
        missing.contains("s.toml: field `device.measured_profile`"),
        "{missing}"
    );
    assert!(
        missing.contains("nope.toml") && missing.contains("cannot read"),
        "{missing}"
    );

    let unknown = error_with("unknown", &p, |s| {
        s.replace("iters = 10", "iters = 10\nspeed = 1")
    });
    assert!(
        unknown.contains("m.toml") && unknown.contains("unknown field `speed`"),
        "{unknown}"
    );

    let mut q = p.clone();
    q.machine.ep = "rocm".into();
    let ep = error_with("ep", &q, same);
    assert!(
        ep.contains("field `machine.ep`") && ep.contains("rocm"),
        "{ep}"
    );

    let mut q = p.clone();
    q.machine.ep = "tensorrt-dla2".into();
    let no_dla = error_with("dla2", &q, same);
    assert!(no_dla.contains("maps to no accelerator"), "{no_dla}");

    let mut q = p.clone();
    q.models[0].operators[3].flops += 1;
    let changed = error_with("changed", &q, same);
    assert!(
        changed.contains("model[0].operator[3]") && changed.contains("different `alexnet`"),
        "{changed}"
    );

    let mut q = p.clone();
    q.models[0].partitions[0].batch = vec![stats(4, 2), stats(2, 1)];
    let order = error_with("order", &q, same);
    assert!(
        order.contains("model[0].partition[0].batch[1].batch") && order.contains("increase"),
        "{order}"
    );

    let mut q = p.clone();
    q.models[0].partitions[1].end = 30;
    let range = error_with("range", &q, same);
    assert!(
        range.contains("model[0].partition[1]") && range.contains("0..30"),
        "{range}"
    );

    let mut q = p.clone();
    q.models[0].partitions[0].batch[0].p99_ns = 1;
    let stats_order = error_with("stats", &q, same);
    assert!(stats_order.contains("out of order"), "{stats_order}");

    let mut q = p.clone();
    q.models[0].name = "resnet50".into();
    let other = error_with("other", &q, same);
    assert!(other.contains("nothing in it applies"), "{other}");

    let mut q = p.clone();
    q.format = 9;
    let version = error_with("version", &q, same);
    assert!(version.contains("field `format`"), "{version}");

    let dir = temp_dir("twice");
    std::fs::write(dir.join("m.toml"), p.to_toml_string()).unwrap();
    let twice = load(&dir, &scenario("[\"m.toml\", \"m.toml\"]", 4)).unwrap_err();
    assert!(
        twice.contains("device.measured_profile[1]") && twice.contains("measured already"),
        "{twice}"
    );
}

/// `d` under TensorRT.
fn trt(d: &infscaler_sim::hardware::profile::DeviceProfile) -> Target<'_> {
    Target::new(d, RuntimeProfile::tensorrt_ref())
}

/// A profile of [`alexnet_profile`] with 10 µs wake-ups with a core free, the loop's with none
/// free taking `loop_busy_ns`, and every send of the loop holding it for `hold_ns`.
fn with_loop_times(loop_busy_ns: Vec<u64>, hold_ns: Option<u64>) -> MeasuredProfile {
    let mut profile = alexnet_profile("cpu");
    profile.machine.wake_ns = 10_000;
    profile.machine.loop_wake_busy_ns = loop_busy_ns;
    profile.machine.loop_sends = hold_ns
        .map(|ns| LoopSends {
            utilisation: 0.5,
            free_ns: vec![ns],
            busy_ns: vec![ns],
        })
        .into_iter()
        .collect();
    profile
}

#[test]
fn a_send_can_hold_the_loop_and_batches_dispatched_meanwhile_wait_for_it() {
    let dir = temp_dir("sends");
    // Alone, a batch waits for the loop's and its thread's wake-ups (10 µs each), runs its
    // measured 100 µs and ends when the loop wakes (10 µs) to take its result. Held after
    // sending it, the loop runs again when the batch's thread gives its core back at the end:
    // it takes the result with no wake-up.
    let alone = scenario("\"m.toml\"", 4);
    for (hold, want) in [(None, 0.13), (Some(1_000_000), 0.12)] {
        let exec = mean_exec_ms_with(&dir, &with_loop_times(vec![], hold), &alone);
        assert!((exec - want).abs() < 1e-6, "{exec} ms with hold {hold:?}");
    }
    // A request every 40 µs to three instances: each send holds the loop until the batch it
    // sent ends (1 ms drawn, 0.11 ms until the end), so the batches dispatched meanwhile wait
    // about a run for it, but not the 1 ms drawn.
    let crowded = alone
        .replace("rate_per_s = 10.0", "rate_per_s = 25000.0")
        .replace("instances = { cpu = 1 }", "instances = { cpu = 3 }");
    let free = mean_exec_ms_with(&dir, &with_loop_times(vec![], None), &crowded);
    let held = mean_exec_ms_with(&dir, &with_loop_times(vec![], Some(1_000_000)), &crowded);
    assert!(
        held > free + 0.1 && held < free + 0.5,
        "{held} ms held against {free} ms"
    );
    // Levels must ascend in 0–1, and need the wake-up with a core free.
    let mut profile = with_loop_times(vec![], Some(1));
    profile.machine.loop_sends[0].utilisation = 1.5;
    let mut no_wake = with_loop_times(vec![], Some(1));
    no_wake.machine.wake_ns = 0;
    for (profile, field, want) in [
        (profile, "machine.loop_sends[0].utilisation", "0–1"),
        (no_wake, "machine.loop_sends", "wake_ns"),
    ] {
        std::fs::write(dir.join("m.toml"), profile.to_toml_string()).unwrap();
        let err = load(&dir, &alone).unwrap_err();
        assert!(
            err.contains("m.toml") && err.contains(field) && err.contains(want),
            "{err}"
        );
    }
}

#[test]
fn an_instance_thread_holds_its_core_while_it_wakes_the_loop_with_its_result() {
    let dir = temp_dir("reporter");
    // Two one-core stages on a two-core machine, a request every 30 µs: a stage-0 batch that
    // ends while stage 1 runs wakes the loop to take its result with no core free (stage 1
    // holds one, the reporting thread the other), so a loop's wake-up with no core free that
    // lasts until a core frees delays its end. Arrivals wake the loop on a timer, holding no
    // core: only those reports find none free.
    let device = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hwprofiles/hil-host-2core.toml");
    let text = scenario("\"m.toml\"", 1)
        .replace(
            "profile = \"xavier-agx\"",
            &format!("profile = {:?}", device.display().to_string()),
        )
        .replace("rate_per_s = 10.0", "rate_per_s = 33000.0")
        .replace(
            "[[policy.stages]]\n",
            "[[policy.stages]]\ncuts = [5]\n[[policy.stages.partitions]]\ninstances = { cpu = 1 }\ncpu_cores = 1\nmax_batch = 1\n",
        );
    let stage0_exec_ms = |loop_busy_ns| {
        std::fs::write(
            dir.join("m.toml"),
            with_loop_times(loop_busy_ns, None).to_toml_string(),
        )
        .unwrap();
        let r = load(&dir, &text).unwrap();
        let report = Simulation::new(&r, None).unwrap().run();
        assert_eq!(report.summary.completed, 20);
        report.summary.stages[0].mean_exec_ms.unwrap()
    };
    let free = stage0_exec_ms(vec![]);
    let waiting = stage0_exec_ms(vec![2_000_000]);
    assert!(
        waiting > free + 0.01 && waiting < 2.0,
        "{waiting} ms against {free} ms"
    );
}

#[test]
fn the_loop_takes_a_result_and_sends_the_batch_it_starts_without_waking_again() {
    let dir = temp_dir("results");
    let run = |text: &str, wake_ns: u64| {
        let mut profile = alexnet_profile("cpu");
        profile.machine.wake_ns = wake_ns;
        std::fs::write(dir.join("m.toml"), profile.to_toml_string()).unwrap();
        let r = load(&dir, text).unwrap();
        let report = Simulation::new(&r, None).unwrap().run();
        assert_eq!(report.summary.completed, 20);
        report.summary
    };
    // One 4-core instance, a request every 40 µs against its 100 µs runs: after the first,
    // each batch is dispatched when the loop takes the previous one's result, and the loop,
    // awake then, sends it at once. Only the first batch waits for the loop's wake-up on its
    // arrival; every batch waits for its thread's and ends when the loop, woken by that
    // thread, takes its result (10 µs each).
    let queued = scenario("\"m.toml\"", 4).replace("rate_per_s = 10.0", "rate_per_s = 25000.0");
    let exec = run(&queued, 10_000).stages[0].mean_exec_ms.unwrap();
    assert!((exec - (0.12 + 0.01 / 20.0)).abs() < 1e-6, "{exec} ms");
    // Two stages, a request every 100 ms: a batch of stage 1 starts when the transfer from
    // stage 0 ends, after the loop took stage 0's result and slept, so each stage's batch
    // waits for the loop's wake-up, its thread's and the loop's to take its result.
    let two = scenario("\"m.toml\"", 4).replace(
        "[[policy.stages]]\n",
        "[[policy.stages]]\ncuts = [5]\n[[policy.stages.partitions]]\ninstances = { cpu = 1 }\ncpu_cores = 4\nmax_batch = 1\n",
    );
    let (none, woken) = (run(&two, 0), run(&two, 10_000));
    for stage in 0..2 {
        let (a, b) = (
            none.stages[stage].mean_exec_ms.unwrap(),
            woken.stages[stage].mean_exec_ms.unwrap(),
        );
        assert!(
            (b - a - 0.03).abs() < 1e-6,
            "stage {stage}: {b} against {a} ms"
        );
    }
    let (a, b) = (
        none.latency_ms.unwrap().mean,
        woken.latency_ms.unwrap().mean,
    );
    assert!((b - a - 0.06).abs() < 1e-6, "{b} against {a} ms");
}
