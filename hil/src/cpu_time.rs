//! CPU time of the calling thread: how much of a run's wall time its thread was on a core
//! (the rest it waited for one, or slept).

/// The calling thread's CPU time so far, nanoseconds; `None` where the platform has no
/// per-thread clock.
pub fn thread_cpu_ns() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec the call writes; the clock id is a constant.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::thread_cpu_ns;

    #[test]
    fn a_busy_thread_accrues_cpu_time_a_sleeping_one_does_not() {
        let Some(start) = thread_cpu_ns() else {
            return; // no per-thread clock on this platform
        };
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < std::time::Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let busy = thread_cpu_ns().unwrap() - start;
        std::thread::sleep(std::time::Duration::from_millis(30));
        let slept = thread_cpu_ns().unwrap() - start - busy;
        assert!(busy > 10_000_000, "30 ms of spinning gave {busy} ns of CPU");
        assert!(slept < 10_000_000, "30 ms of sleep gave {slept} ns of CPU");
    }
}
