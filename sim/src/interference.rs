//! Interference: background work that takes part of an engine, CPU cores or memory bandwidth
//! for windows of a run (co-located applications, as ODIN and the thesis' systems face them).
//!
//! Each `[[interference]]` entry of a scenario is, during each of its windows, one fluid
//! activity on the engines ([`crate::engines`]) beside the serving system's work, shared max-min
//! fairly with it as any other activity is:
//! - `on = "gpu"` / `"dla0"` / … with `share`: it uses that fraction of the engine at full rate.
//!   On a GPU it is another process, so the serving processes' kernels time-slice with it
//!   (`process_switch_overhead`), as a co-located CUDA application's would; on a DLA it also
//!   couples to the GPU as the DLA's own work does (`gpu_interference`).
//! - `on = "cpu"` with `cores`: it holds that many cores.
//! - `on = "memory"` with `bandwidth_gb_per_s`: it moves that many bytes through unified memory.
//!
//! Max-min fairness means an interferer gets its full amount only while the resource has room
//! or the serving work asks for no more than its fair share; under contention both slow down,
//! as co-located processes do. Windows are fixed, periodic or random (exponential gaps and
//! lengths drawn from the run's `interference` stream, one per entry, so they are the same for
//! every policy at one seed). The report lists them.

use serde::{Deserialize, Serialize};

use crate::engines::ComputeWork;
use crate::hardware::AcceleratorKind;
use crate::hardware::profile::DeviceProfile;
use crate::rng::{RunSeed, SimRng};
use crate::time::{SimDuration, SimTime};
use crate::units::TimeSpan;

/// One `[[interference]]` entry as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterferenceSpec {
    /// What it takes: an accelerator by its device-profile name (`gpu`, `dla0`, `cpu`, …) or
    /// `memory` (the unified memory's bandwidth).
    pub on: String,
    /// On a GPU or DLA: the fraction of the engine it uses at full rate, in (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// On the CPU: the cores it holds, in (0, the CPU's cores].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<f64>,
    /// On `memory`: the bandwidth it uses, GB/s (10⁹ bytes per second), in (0, the device's
    /// achievable bandwidth].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_gb_per_s: Option<f64>,
    /// When.
    pub when: WindowSpec,
}

/// When an interferer runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowSpec {
    /// Once, from `start` for `duration`.
    Fixed {
        /// Start, from the beginning of the run.
        start: TimeSpan,
        /// Length.
        duration: TimeSpan,
    },
    /// From `start`, for `duration` every `period`.
    Periodic {
        /// First start.
        start: TimeSpan,
        /// Length of each window.
        duration: TimeSpan,
        /// Time between starts (at least `duration`).
        period: TimeSpan,
    },
    /// Windows of exponential length (mean `mean_duration`) after exponential gaps (mean
    /// `mean_gap`), from the start of the run.
    Random {
        /// Mean idle time before each window.
        mean_gap: TimeSpan,
        /// Mean length of a window.
        mean_duration: TimeSpan,
    },
}

/// What an interferer takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// A fraction of an engine (GPU, DLA) or cores of the CPU: accelerator index and amount
    /// in the engine's fluid units.
    Engine {
        /// Accelerator index.
        accel: usize,
        /// Share (GPU, DLA) or cores (CPU).
        amount: f64,
    },
    /// Memory bandwidth, bytes per ns.
    Memory {
        /// Bytes per nanosecond.
        bytes_per_ns: f64,
    },
}

/// A checked `[[interference]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Interference {
    /// What it takes.
    pub target: Target,
    /// What it takes as the report says it (`0.5 of gpu`, `2 cores of cpu`, `20 GB/s of
    /// memory`).
    pub what: String,
    /// When.
    pub when: WindowSpec,
}

/// Process id of interferer `k` on a GPU: above any serving process's.
const PROCESS_BASE: u32 = u32::MAX / 2;

impl InterferenceSpec {
    /// Checks the entry against `device`; errors name the field (relative to the entry) and
    /// what is allowed.
    pub fn resolve(&self, device: &DeviceProfile) -> Result<Interference, (String, String)> {
        fn err<T>(f: &str, m: String) -> Result<T, (String, String)> {
            Err((f.to_string(), m))
        }
        let given = [
            ("share", self.share),
            ("cores", self.cores),
            ("bandwidth_gb_per_s", self.bandwidth_gb_per_s),
        ];
        let amount = |field: &str| -> Result<f64, (String, String)> {
            if let Some((other, _)) = given.iter().find(|(f, v)| *f != field && v.is_some()) {
                return err(
                    other,
                    format!(
                        "does not apply to `on = \"{}\"`, which takes `{field}`",
                        self.on
                    ),
                );
            }
            match given
                .iter()
                .find(|(f, _)| *f == field)
                .and_then(|(_, v)| *v)
            {
                Some(v) if v.is_finite() && v > 0.0 => Ok(v),
                Some(v) => err(field, format!("{v} is not allowed: it must be above 0")),
                None => err(
                    field,
                    format!("is missing: `on = \"{}\"` needs it", self.on),
                ),
            }
        };
        let (target, what) = if self.on == "memory" {
            let gb = amount("bandwidth_gb_per_s")?;
            let most = device.memory.achievable_bytes_per_s / 1e9;
            if gb > most {
                return err(
                    "bandwidth_gb_per_s",
                    format!("{gb} is more than the device's achievable {most:.1} GB/s"),
                );
            }
            (
                Target::Memory { bytes_per_ns: gb },
                format!("{gb} GB/s of memory"),
            )
        } else {
            let Some(accel) = device.accelerators.iter().position(|a| a.name == self.on) else {
                let names: Vec<&str> = device
                    .accelerators
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect();
                return err(
                    "on",
                    format!(
                        "`{}` is not an accelerator of {} ({}) nor `memory`",
                        self.on,
                        device.name,
                        names.join(", ")
                    ),
                );
            };
            let a = &device.accelerators[accel];
            let (amount, what) = if a.kind == AcceleratorKind::Cpu {
                let cores = amount("cores")?;
                if cores > f64::from(a.cores) {
                    return err(
                        "cores",
                        format!("{cores} is more than the CPU's {} cores", a.cores),
                    );
                }
                (cores, format!("{cores} cores of {}", self.on))
            } else {
                let share = amount("share")?;
                if share > 1.0 {
                    return err(
                        "share",
                        format!("{share} is not allowed: at most 1 (the whole engine)"),
                    );
                }
                (share, format!("{share} of {}", self.on))
            };
            (Target::Engine { accel, amount }, what)
        };
        let positive = |f: &str, t: TimeSpan| {
            if t.as_ns() == 0 {
                err(f, "must be longer than 0".into())
            } else {
                Ok(())
            }
        };
        match self.when {
            WindowSpec::Fixed { duration, .. } => positive("when.duration", duration)?,
            WindowSpec::Periodic {
                duration, period, ..
            } => {
                positive("when.duration", duration)?;
                if period < duration {
                    return err(
                        "when.period",
                        "must be at least `when.duration` (windows of one entry do not overlap)"
                            .into(),
                    );
                }
            }
            WindowSpec::Random {
                mean_gap,
                mean_duration,
            } => {
                positive("when.mean_gap", mean_gap)?;
                positive("when.mean_duration", mean_duration)?;
            }
        }
        Ok(Interference {
            target,
            what,
            when: self.when,
        })
    }
}

impl Interference {
    /// The fluid work of window `[start, end)` of interferer `index`: more than it can do in
    /// the window (its rate is at most 1), so it runs until cancelled at `end`.
    pub fn work(&self, index: usize, start: SimTime, end: SimTime, cpu: usize) -> ComputeWork {
        let work_ns = end.saturating_since(start).as_ns().saturating_mul(4).max(1);
        let (accel, demand, mem_bytes) = match self.target {
            Target::Engine { accel, amount } => (accel, amount, 0),
            Target::Memory { bytes_per_ns } => (cpu, 0.0, (bytes_per_ns * work_ns as f64) as u64),
        };
        ComputeWork {
            accel,
            work_ns,
            factor: 1.0,
            compute_demand: demand,
            slice_demand: demand,
            host_demand: 0.0,
            mem_bytes,
            process: PROCESS_BASE + index as u32,
        }
    }
}

/// The windows of one interferer, drawn as the run reaches them.
#[derive(Debug)]
pub struct Windows {
    when: WindowSpec,
    rng: SimRng,
    /// Windows given so far.
    count: u64,
}

impl Windows {
    /// The windows of interferer `index` of a run seeded `seed`.
    pub fn new(when: WindowSpec, seed: RunSeed, index: usize) -> Self {
        Windows {
            when,
            rng: seed.stream(&format!("interference-{index}")),
            count: 0,
        }
    }

    /// The next window starting at or after `after` (the end of the previous one, or the start
    /// of the run), or `None` when there is none.
    pub fn next(&mut self, after: SimTime) -> Option<(SimTime, SimTime)> {
        use rand_distr::{Distribution, Exp1};
        let k = self.count;
        self.count += 1;
        let window = match self.when {
            WindowSpec::Fixed { start, duration } => (k == 0).then(|| {
                (
                    SimTime::ZERO + start.0,
                    SimTime::ZERO + start.0 + duration.0,
                )
            }),
            WindowSpec::Periodic {
                start,
                duration,
                period,
            } => {
                let offset = period
                    .0
                    .as_ns()
                    .checked_mul(k)?
                    .checked_add(start.0.as_ns())?;
                let s = SimTime::ZERO + SimDuration::from_ns(offset);
                Some((s, s + duration.0))
            }
            WindowSpec::Random {
                mean_gap,
                mean_duration,
            } => {
                let mut draw = |mean: TimeSpan| {
                    let x: f64 = Exp1.sample(&mut self.rng);
                    SimDuration::from_ns(((x * mean.as_ns() as f64).round() as u64).max(1))
                };
                let s = after + draw(mean_gap);
                Some((s, s + draw(mean_duration)))
            }
        };
        window.map(|(s, e)| (s.max(after), e.max(s.max(after))))
    }
}

/// The interference of a run as the report shows it: one entry per `[[interference]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InterferenceReport {
    /// What it took (`0.5 of gpu`, `2 cores of cpu`, `20 GB/s of memory`).
    pub what: String,
    /// Its windows that started during the run, `[start, end]` in seconds (the first
    /// [`MAX_REPORTED_WINDOWS`]).
    pub windows_s: Vec<[f64; 2]>,
    /// How many windows started.
    pub windows: u64,
    /// Their total length within the run, seconds.
    pub active_s: f64,
}

/// Windows listed per interferer in a report; more are counted, not listed.
pub const MAX_REPORTED_WINDOWS: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> InterferenceSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn entries_are_checked_against_the_device() {
        let d = DeviceProfile::builtin("xavier-agx").unwrap();
        let ok = spec(
            "on = \"gpu\"\nshare = 0.5\nwhen = { kind = \"fixed\", start = \"1s\", duration = \"2s\" }",
        );
        assert!(matches!(
            ok.resolve(&d).unwrap().target,
            Target::Engine { amount: 0.5, .. }
        ));
        let bad = |text: &str, field: &str| {
            let (f, m) = spec(text).resolve(&d).unwrap_err();
            assert_eq!(f, field, "{m}");
        };
        let when = "when = { kind = \"fixed\", start = \"1s\", duration = \"2s\" }";
        bad(&format!("on = \"tpu\"\nshare = 0.5\n{when}"), "on");
        bad(&format!("on = \"gpu\"\ncores = 2.0\n{when}"), "cores");
        bad(&format!("on = \"gpu\"\nshare = 1.5\n{when}"), "share");
        bad(&format!("on = \"cpu\"\ncores = 99.0\n{when}"), "cores");
        bad(
            &format!("on = \"memory\"\nbandwidth_gb_per_s = 1000.0\n{when}"),
            "bandwidth_gb_per_s",
        );
        bad(
            "on = \"gpu\"\nshare = 0.5\nwhen = { kind = \"periodic\", start = \"0s\", duration = \"2s\", period = \"1s\" }",
            "when.period",
        );
    }

    #[test]
    fn windows_are_fixed_periodic_or_drawn_per_seed() {
        let s = |ms: u64| SimTime::ZERO + SimDuration::from_ms(ms);
        let span = |ms: u64| TimeSpan(SimDuration::from_ms(ms));
        let mut w = Windows::new(
            WindowSpec::Periodic {
                start: span(100),
                duration: span(10),
                period: span(50),
            },
            RunSeed(1),
            0,
        );
        assert_eq!(w.next(SimTime::ZERO), Some((s(100), s(110))));
        assert_eq!(w.next(s(110)), Some((s(150), s(160))));
        let random = WindowSpec::Random {
            mean_gap: span(100),
            mean_duration: span(10),
        };
        let draw = |seed| {
            let mut w = Windows::new(random, RunSeed(seed), 0);
            let a = w.next(SimTime::ZERO).unwrap();
            (a, w.next(a.1).unwrap())
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        let (a, b) = draw(3);
        assert!(a.0 < a.1 && a.1 <= b.0 && b.0 < b.1);
    }
}
