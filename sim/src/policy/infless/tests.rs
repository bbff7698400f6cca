//! Tests of the INFless policy: regimes, LSTH decisions on hand-made observations, and
//! end-to-end runs.

use super::*;
use crate::policy::PartitionObservation;
use crate::units::TimeSpan;

#[test]
fn regimes_follow_alpha() {
    // R_min = 100, R_max = 300, α = 0.8: release below 0.8·100 + 0.2·300 = 140.
    let (r_min, r_max) = (100.0, 300.0);
    assert_eq!(regime(139.0, r_min, r_max, 0.8, 0.03), Regime::Release);
    assert_eq!(regime(140.0, r_min, r_max, 0.8, 0.03), Regime::Share);
    assert_eq!(regime(300.0, r_min, r_max, 0.8, 0.03), Regime::Share);
    // Above R_max: add only when R − R_max > 3 % of R: 309 − 300 = 9 ≤ 9.27 → share;
    // 310 − 300 = 10 > 9.3 → add.
    assert_eq!(regime(309.0, r_min, r_max, 0.8, 0.03), Regime::Share);
    assert_eq!(regime(310.0, r_min, r_max, 0.8, 0.03), Regime::Add);
    // Share: r_i = r_up − (R_max − R)/(R_max − R_min)·(r_up − r_low); at R = 200 with
    // r_up = 150, r_low = 50: 150 − (100/200)·100 = 100.
    let c = config::candidate(0, 4, 4, 0, 26_666_667, SimDuration::from_ms(100)).unwrap();
    let c = ResourceConfig {
        r_up: 150.0,
        r_low: 50.0,
        ..c
    };
    assert!((proportional_share(&c, 200.0, r_min, r_max) - 100.0).abs() < 1e-9);
    assert!((proportional_share(&c, 300.0, r_min, r_max) - 150.0).abs() < 1e-9);
}

/// A one-function policy deployed on alexnet, Xavier AGX, SLO 3 × isolated.
fn deployed(spec: InfLessSpec) -> (InfLessPolicy, usize) {
    let device = DeviceProfile::builtin("xavier-agx").unwrap();
    let model = crate::model::zoo::build("alexnet", &Default::default()).unwrap();
    let transport = crate::serving::transport::TransportSpec::default();
    let models = vec![model];
    let ctx = PolicyContext {
        memory_limit_bytes: 8 << 30,
        ..PolicyContext::roofline(&device, &models, &transport, SimDuration::from_ms(6))
    };
    let mut policy = InfLessPolicy::new(spec);
    let d = policy.deploy(&ctx);
    assert_eq!(d.instances.len(), 1, "one pre-warmed instance");
    (policy, device.accelerators.len())
}

/// An observation at `t` seconds after a 1-s window with `arrivals`, nothing queued, and the
/// instances the policy believes in.
fn observe(policy: &InfLessPolicy, n_acc: usize, t: u64, arrivals: u64) -> Observation {
    let mut instances = vec![0u32; n_acc];
    for c in policy.instances(0) {
        instances[c.accelerator] += 1;
    }
    Observation {
        now: SimTime::ZERO + SimDuration::from_secs(t),
        window: SimDuration::from_secs(1),
        partitions: vec![PartitionObservation {
            window_arrivals: arrivals,
            instances,
            ..Default::default()
        }],
        memory_limit_bytes: 8 << 30,
        ..Default::default()
    }
}

fn lsth_spec() -> InfLessSpec {
    InfLessSpec {
        // No scaling decisions within these tests: LSTH alone.
        scale_interval: TimeSpan(SimDuration::from_secs(1000)),
        ..Default::default()
    }
}

#[test]
fn keep_alive_releases_the_last_instance_after_its_window() {
    let (mut p, n) = deployed(lsth_spec());
    let mut actions = Vec::new();
    // t = 1..5: 10 arrivals per window. First window: 9 zero gaps (its first gap has no
    // start); then 10 per window (one gap of 0 s since the previous window was active, 9
    // within): 49 idle times, all in bin 0 (< 1 s). Head and tail are bin 0: pre-warm =
    // 0 × 0.9 = 0, keep-alive = 1 s × 1.1 = 1.1 s (both histograms alike, so γ mixes equals).
    for t in 1..=5 {
        p.on_tick(&observe(&p, n, t, 10), &mut actions);
    }
    assert!(actions.is_empty());
    assert_eq!(p.functions[0].lsth.long_term().total(), 49);
    let w = p.functions[0].lsth.windows();
    assert_eq!(w.prewarm, SimDuration::ZERO);
    assert_eq!(w.keep_alive, SimDuration::from_ms(1100));
    // t = 6: idle 1 s < 1.1 s: kept. t = 7: idle 2 s ≥ 1.1 s: released (scale to zero).
    p.on_tick(&observe(&p, n, 6, 0), &mut actions);
    assert!(actions.is_empty());
    p.on_tick(&observe(&p, n, 7, 0), &mut actions);
    assert_eq!(actions.len(), 1);
    assert!(matches!(actions[0], Action::ScaleIn { partition: 0, .. }));
    assert!(p.instances(0).is_empty());
    // A request at zero scale starts an instance at the next dispatcher tick.
    actions.clear();
    p.on_tick(&observe(&p, n, 8, 1), &mut actions);
    assert!(matches!(
        actions[..],
        [Action::ScaleOut { partition: 0, .. }]
    ));
}

#[test]
fn prewarm_starts_an_instance_ahead_of_the_predicted_invocation() {
    let (mut p, n) = deployed(lsth_spec());
    let mut actions = Vec::new();
    // One request every 6 s (t = 1, 7, 13, 19): three gaps of 5 idle windows = 5 s (bin 5).
    // pre-warm = 5 s × 0.9 = 4.5 s; keep-alive = 6 s × 1.1 = 6.6 s.
    for t in 1..=19 {
        let arrivals = u64::from((t - 1) % 6 == 0);
        p.on_tick(&observe(&p, n, t, arrivals), &mut actions);
    }
    let w = p.functions[0].lsth.windows();
    assert_eq!(w.prewarm, SimDuration::from_ms(4500));
    assert_eq!(w.keep_alive, SimDuration::from_ms(6600));
    actions.clear();
    // t = 20: idle 1 s < 4.5 s: unloaded until the pre-warm time.
    p.on_tick(&observe(&p, n, 20, 0), &mut actions);
    assert!(matches!(actions[..], [Action::ScaleIn { .. }]));
    actions.clear();
    for t in 21..=23 {
        p.on_tick(&observe(&p, n, t, 0), &mut actions);
    }
    assert!(actions.is_empty());
    // t = 24: idle 5 s ≥ 4.5 s: pre-warmed.
    p.on_tick(&observe(&p, n, 24, 0), &mut actions);
    assert!(matches!(actions[..], [Action::ScaleOut { .. }]));
    actions.clear();
    // t = 25: idle 6 s < 6.6 s kept; t = 26: idle 7 s ≥ 6.6 s released.
    p.on_tick(&observe(&p, n, 25, 0), &mut actions);
    assert!(actions.is_empty());
    p.on_tick(&observe(&p, n, 26, 0), &mut actions);
    assert!(matches!(actions[..], [Action::ScaleIn { .. }]));
}

#[test]
fn release_regime_waits_inactive_periods_and_keeps_one() {
    let spec = InfLessSpec {
        scale_interval: TimeSpan(SimDuration::from_secs(1)),
        ..Default::default()
    };
    let (mut p, n) = deployed(spec);
    let mut actions = Vec::new();
    // Heavy load grows the function: R = 2000 rps > R_max.
    p.on_tick(&observe(&p, n, 1, 2000), &mut actions);
    let grown = p.instances(0).len();
    assert!(grown > 1, "scaled up to {grown}");
    actions.clear();
    // Then 1 rps: release regime; nothing for two periods, releases on the third
    // (inactiveNum = 3), down to one instance (R = 1 is covered by any one).
    for t in 2..=3 {
        p.on_tick(&observe(&p, n, t, 1), &mut actions);
        assert!(actions.is_empty());
    }
    p.on_tick(&observe(&p, n, 4, 1), &mut actions);
    assert_eq!(actions.len(), grown - 1);
    assert_eq!(p.instances(0).len(), 1);
}

fn run(text: &str) -> crate::report::Report {
    let r = crate::scenario::Scenario::parse(text, "t", std::path::Path::new("."))
        .unwrap()
        .resolve()
        .unwrap();
    crate::simulation::Simulation::new(&r, None).unwrap().run()
}

fn scenario(app: &str, rate: f64, extra: &str) -> String {
    format!(
        r#"
name = "infless-test"
seed = 3
[device]
profile = "xavier-agx"
{extra}
[app]
name = "{app}"
[slo]
multiplier = 3.0
[workload]
kind = "poisson"
rate_per_s = {rate}
[run]
duration = "30s"
warmup = "5s"
[policy]
kind = "infless"
scale_interval = "2s"
"#
    )
}

fn instances(rep: &crate::report::Report) -> u32 {
    rep.partitions
        .iter()
        .flat_map(|p| p.instances.values())
        .sum()
}

#[test]
fn meets_the_slo_at_low_load_on_one_and_two_model_apps() {
    for app in ["resnet50", "tm"] {
        let rep = run(&scenario(app, 20.0, ""));
        assert_eq!(rep.policy, "infless");
        assert_eq!(rep.summary.dropped, 0, "{app}");
        let att = rep.summary.slo_attainment.unwrap();
        assert!(att >= 0.99, "{app}: attainment {att}");
    }
}

#[test]
fn scales_up_under_higher_load() {
    // ResNet-50, SLO 3 × isolated: one pre-warmed instance suffices at 20 rps; at 400 rps the
    // greedy scale-up adds instances. Each is a container of its own, so their kernels
    // time-slice the GPU (REFERENCE.md §8g): a kernel-bound model gains no throughput, each
    // batch takes about twice as long — the replication INFless relies on does not pay here.
    let low = run(&scenario("resnet50", 20.0, ""));
    let high = run(&scenario("resnet50", 400.0, ""));
    assert_eq!(instances(&low), 1);
    assert!(instances(&high) > instances(&low), "{:?}", high.partitions);
    let exec = |r: &crate::report::Report| r.summary.stages[0].mean_exec_ms.unwrap();
    assert!(
        exec(&high) > 1.5 * exec(&low),
        "{} vs {}",
        exec(&high),
        exec(&low)
    );
}

#[test]
fn memory_never_exceeds_the_cap() {
    // A 4 GiB cap under overload (each GPU instance is a TensorRT process of ~1.1 GiB): scale-up
    // stops at the memory check.
    let cap = "memory_cap = \"4GiB\"";
    for app in ["resnet50", "tm"] {
        let rep = run(&scenario(app, 600.0, cap));
        assert!(rep.summary.memory_peak_bytes <= 4 << 30, "{app}");
        assert!(instances(&rep) >= 1 || rep.summary.completed > 0);
    }
}

#[test]
fn spec_parses_with_defaults_and_rejects_unknown_keys() {
    let spec: InfLessSpec = toml::from_str("alpha = 0.7\n[lsth]\ngamma = 0.3").unwrap();
    assert_eq!(spec.alpha, 0.7);
    assert_eq!(spec.lsth.gamma, 0.3);
    assert_eq!(spec.max_batch, 16);
    assert!(toml::from_str::<InfLessSpec>("alhpa = 0.7").is_err());
    let bad = InfLessSpec {
        lsth: LsthSpec {
            gamma: 1.5,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(bad.validate().unwrap_err().0, "lsth.gamma");
    assert!(InfLessSpec::default().validate().is_ok());
}

#[test]
fn an_instance_costs_what_its_process_does_not_hold_yet() {
    use crate::model::cost::Residency;
    for layout in [ProcessLayout::PerInstance, ProcessLayout::PerPartition] {
        let (mut p, n) = deployed(InfLessSpec {
            process_layout: Some(layout),
            ..lsth_spec()
        });
        assert_eq!(p.process_layout(), layout);
        let c = p.instances(0)[0];
        let (device, runtime) = (p.device.clone().unwrap(), p.runtime.clone().unwrap());
        let fp = crate::model::cost::footprint(
            &p.functions[0].ops,
            c.batch,
            c.accelerator,
            cost::Target::new(&device, &runtime),
        );
        let joining = fp.marginal(Residency {
            process: true,
            weights: true,
        });
        let shared = layout == ProcessLayout::PerPartition;
        // After the deployment the policy counts its own instance.
        let expected = if shared { joining } else { fp.total() };
        assert_eq!(p.footprint(0, &c, &[]), expected);
        // At a tick it counts the observed ones: none live, so the next instance starts a
        // process — unless this tick already placed one there.
        let mut obs = observe(&p, n, 1, 0);
        obs.partitions[0].live = vec![0; n];
        p.on_tick(&obs, &mut Vec::new());
        assert_eq!(p.footprint(0, &c, &[]), fp.total());
        assert_eq!(p.footprint(0, &c, &[c]), expected);
    }
}
