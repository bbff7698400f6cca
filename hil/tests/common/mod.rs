//! Helpers shared by the integration tests.
#![allow(dead_code)]

use infscaler_hil::runtime::{HostTensor, Runtime, SessionConfig};

/// The runtime, with a message that says how to get the library when it is missing.
pub fn runtime() -> &'static Runtime {
    match Runtime::get() {
        Ok(rt) => rt,
        Err(e) => panic!("{e}\n(scripts/test.sh installs it before running the tests)"),
    }
}

/// CPU, one thread per operator: the test machines are small and run tests in parallel.
pub fn cpu() -> SessionConfig {
    SessionConfig {
        intra_threads: Some(1),
        ..SessionConfig::default()
    }
}

/// A deterministic input in [-1, 1).
pub fn input(shape: &[usize]) -> HostTensor {
    HostTensor::from_fn(shape, |i| ((i * 7919) % 2000) as f32 / 1000.0 - 1.0)
}

/// Asserts `a` and `b` agree within `atol + rtol · |b|` element-wise.
pub fn assert_close(a: &HostTensor, b: &HostTensor, atol: f32, rtol: f32) {
    assert_eq!(a.shape, b.shape);
    for (i, (x, y)) in a.data.iter().zip(&b.data).enumerate() {
        assert!(
            (x - y).abs() <= atol + rtol * y.abs(),
            "element {i}: {x} vs {y}"
        );
    }
}
