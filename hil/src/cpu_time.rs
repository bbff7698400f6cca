//! CPU time of the calling thread: how much of a run's wall time its thread was on a core
//! (the rest it waited for one, or slept); and the whole machine's CPU time by kind, whose
//! `steal` share says how much a hypervisor took from a virtual machine's CPUs.

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

/// The machine's CPU time since boot, all CPUs together, in clock ticks (Linux `/proc/stat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MachineCpu {
    /// Ticks the CPUs ran something (user, nice, system, interrupts).
    pub busy: u64,
    /// Ticks idle (waiting for I/O included).
    pub idle: u64,
    /// Ticks a hypervisor ran something else on the CPUs this machine was given.
    pub steal: u64,
}

impl MachineCpu {
    /// The counters now; `None` where `/proc/stat` is not there or not as expected.
    pub fn read() -> Option<MachineCpu> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// The counters of `/proc/stat`'s first (`cpu`) line.
    pub fn parse(stat: &str) -> Option<MachineCpu> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal [guest guest_nice: inside user]
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        if v.len() < 4 {
            return None;
        }
        Some(MachineCpu {
            busy: at(0) + at(1) + at(2) + at(5) + at(6),
            idle: at(3) + at(4),
            steal: at(7),
        })
    }

    /// Of the CPU time from `self` to `later`: the shares busy and stolen (`None`: no time).
    pub fn shares_until(&self, later: &MachineCpu) -> Option<(f64, f64)> {
        let busy = later.busy.saturating_sub(self.busy) as f64;
        let idle = later.idle.saturating_sub(self.idle) as f64;
        let steal = later.steal.saturating_sub(self.steal) as f64;
        let total = busy + idle + steal;
        (total > 0.0).then(|| (busy / total, steal / total))
    }
}

#[cfg(test)]
mod tests {
    use super::{MachineCpu, thread_cpu_ns};

    #[test]
    fn machine_cpu_shares_come_from_proc_stat() {
        let a = MachineCpu::parse("cpu  100 0 20 500 5 1 2 10 0 0\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(
            a,
            MachineCpu {
                busy: 123,
                idle: 505,
                steal: 10
            }
        );
        let b = MachineCpu::parse("cpu  160 0 30 530 5 1 2 40 0 0\n").unwrap();
        // 70 busy, 30 idle, 30 stolen of 130.
        let (busy, steal) = a.shares_until(&b).unwrap();
        assert!((busy - 70.0 / 130.0).abs() < 1e-12 && (steal - 30.0 / 130.0).abs() < 1e-12);
        assert_eq!(a.shares_until(&a), None);
        assert_eq!(MachineCpu::parse("intr 1 2 3"), None);
    }

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
