//! InfScaler's online asymmetric auto-scaling: Algorithm 1 of the paper, SLO-violation
//! detection, and a scale-in the paper does not describe.
//!
//! **Algorithm 1** ([`Autoscaler::scale_out`]), on each detected SLO unsatisfaction:
//! k* = argmax_k B_k (ties: the lowest k); for each accelerator m in k*'s affinity order, if
//! U^m + r_{k*}^m < R^m (every resource: the compute share on m and the device-wide unified
//! memory), scale k* out on m, B_{k*} ← B_{k*}·S_{k*}/(S_{k*}+1), U^m += r, S_{k*} += 1, stop.
//! If no accelerator fits, nothing happens: the paper's loop does not go on to the next-largest
//! B_k, and neither does this one. Since every partition starts with S_k = 1, B_k = B_k⁰/S_k at
//! all times (the updates telescope); [`Autoscaler::sync`] uses that to follow instance counts
//! the simulation changed on its own (a refused instance).
//!
//! **Detection** ([`Detector`]; the paper says only "SLO unsatisfaction detected"): a policy
//! window is violated when fewer than `attainment_target` of the requests that finished in it
//! (completed or dropped) completed within the SLO, or when none finished while requests wait.
//! A violation triggers Algorithm 1 only when the window is *settled* — no instance was cold-
//! starting at its start or its end and no scale-out was issued at its start — so one violation
//! is not answered twice while the previous scale-out starts (the cooldown), and, with
//! `ignore_while_draining`, only when the backlog did not shrink over the window without drops
//! (a shrinking backlog means capacity already exceeds demand and the late completions are the
//! backlog's; a backlog pinned at the queue's capacity shrinks by chance while it drops, which
//! is no recovery).
//!
//! **Scale-in** (the paper is silent): after `scale_in_windows` consecutive *calm* windows (no
//! violation, no drop, nothing starting), remove one instance of the partition whose bottleneck
//! indicator after removal, B_k·S_k/(S_k−1), is smallest (ties: the highest k), among those
//! with S_k ≥ 2 whose mean concurrency over the window spread over one instance fewer stays
//! below `scale_in_utilization`. It is the inverse of the scale-out update, it never goes below
//! one instance per partition, and the gap between the violation trigger and the calm run plus
//! the utilisation bound is the hysteresis. The instance removed is the one on the slowest
//! accelerator (last in affinity order) the partition occupies. Each scale action restarts the
//! calm count.

use crate::policy::Observation;

/// Resource use of one instance: what Algorithm 1's r_k^m holds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// Share of the accelerator's compute.
    pub compute: f64,
    /// Unified memory, bytes.
    pub memory_bytes: u64,
}

/// U^m and R^m: compute per accelerator, memory for the whole device.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    /// Compute share in use per accelerator.
    pub compute_used: Vec<f64>,
    /// Cap on the compute share per accelerator.
    pub compute_cap: Vec<f64>,
    /// Unified memory in use, bytes.
    pub memory_used: u64,
    /// Cap on unified memory, bytes.
    pub memory_cap: u64,
}

impl Resources {
    /// Algorithm 1, line 4: U^m + r^m < R^m for every resource.
    pub fn fits(&self, m: usize, u: &Usage) -> bool {
        self.compute_used[m] + u.compute < self.compute_cap[m]
            && self.memory_used.saturating_add(u.memory_bytes) < self.memory_cap
    }

    /// Records an instance on `m` (line 6).
    pub fn add(&mut self, m: usize, u: &Usage) {
        self.compute_used[m] += u.compute;
        self.memory_used += u.memory_bytes;
    }

    /// Forgets an instance on `m`.
    pub fn remove(&mut self, m: usize, u: &Usage) {
        self.compute_used[m] = (self.compute_used[m] - u.compute).max(0.0);
        self.memory_used = self.memory_used.saturating_sub(u.memory_bytes);
    }
}

/// The state of Algorithm 1: bottleneck indicators B_k and instance counts S_k.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoscaler {
    initial: Vec<f64>,
    b: Vec<f64>,
    s: Vec<u32>,
}

impl Autoscaler {
    /// One instance per partition, B_k = the given initial indicators ΣP_k.
    pub fn new(bottleneck: Vec<f64>) -> Self {
        let s = vec![1; bottleneck.len()];
        Autoscaler {
            initial: bottleneck.clone(),
            b: bottleneck,
            s,
        }
    }

    /// The current B_k.
    pub fn bottleneck(&self) -> &[f64] {
        &self.b
    }

    /// The current S_k.
    pub fn instances(&self) -> &[u32] {
        &self.s
    }

    /// Adopts observed instance counts where they differ from S_k (an instance the simulation
    /// refused, or one that ended): S_k ← observed (at least 1), B_k ← B_k⁰/S_k.
    pub fn sync(&mut self, observed: &[u32]) {
        for (k, &n) in observed.iter().enumerate().take(self.s.len()) {
            let n = n.max(1);
            if n != self.s[k] {
                self.s[k] = n;
                self.b[k] = self.initial[k] / f64::from(n);
            }
        }
    }

    /// k* = argmax B_k, ties to the lowest k.
    pub fn target(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (k, &b) in self.b.iter().enumerate() {
            if best.is_none_or(|j| b > self.b[j]) {
                best = Some(k);
            }
        }
        best
    }

    /// Algorithm 1 once: scales k* out on the first accelerator of `affinity[k*]` where its
    /// `usage(k*, m)` fits `res`, updating B, S and `res`. Returns (k*, m), or `None` if no
    /// accelerator fits (then nothing changes).
    pub fn scale_out(
        &mut self,
        affinity: &[Vec<usize>],
        usage: impl Fn(usize, usize) -> Usage,
        res: &mut Resources,
    ) -> Option<(usize, usize)> {
        let k = self.target()?;
        for &m in affinity.get(k)? {
            let u = usage(k, m);
            if res.fits(m, &u) {
                let s = f64::from(self.s[k]);
                self.b[k] = self.b[k] * s / (s + 1.0);
                res.add(m, &u);
                self.s[k] += 1;
                return Some((k, m));
            }
        }
        None
    }

    /// The partition to scale in: among those with S_k ≥ 2 that `allowed` accepts, the least
    /// B_k·S_k/(S_k−1) (ties: the highest k).
    pub fn scale_in_candidate(&self, allowed: impl Fn(usize) -> bool) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for k in 0..self.b.len() {
            if self.s[k] < 2 || !allowed(k) {
                continue;
            }
            let s = f64::from(self.s[k]);
            let after = self.b[k] * s / (s - 1.0);
            if best.is_none_or(|(_, v)| after <= v) {
                best = Some((k, after));
            }
        }
        best.map(|(k, _)| k)
    }

    /// Removes one instance of `k` (S_k ≥ 2): B_k ← B_k·S_k/(S_k−1), S_k −= 1.
    pub fn scale_in(&mut self, k: usize) {
        if self.s[k] < 2 {
            return;
        }
        let s = f64::from(self.s[k]);
        self.b[k] = self.b[k] * s / (s - 1.0);
        self.s[k] -= 1;
    }
}

/// Detection parameters (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DetectorParams {
    /// A window is violated below this fraction of finished requests within the SLO.
    pub attainment_target: f64,
    /// Ignore a violation while the backlog shrinks.
    pub ignore_while_draining: bool,
}

/// What one window says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An SLO unsatisfaction to act on.
    Violation,
    /// Nothing to act on; `calm` consecutive calm windows so far (0: this one was not calm).
    Quiet {
        /// Consecutive calm windows ending with this one.
        calm: u32,
    },
}

/// Turns observations into SLO-unsatisfaction events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detector {
    calm: u32,
    prev_queued: u64,
    prev_starting: bool,
    scaled_at_prev: bool,
}

impl Detector {
    /// Judges the window that `obs` closes.
    pub fn observe(&mut self, obs: &Observation, p: &DetectorParams) -> Verdict {
        let starting = obs
            .partitions
            .iter()
            .any(|q| q.starting.iter().any(|&n| n > 0));
        let queued: u64 = obs.partitions.iter().map(|q| q.queued).sum();
        let finished = obs.window_completed + obs.window_dropped;
        let violated = if finished > 0 {
            (obs.window_within_slo as f64) < p.attainment_target * finished as f64
        } else {
            queued > 0
        };
        let settled = !starting && !self.prev_starting && !self.scaled_at_prev;
        let draining =
            p.ignore_while_draining && queued < self.prev_queued && obs.window_dropped == 0;
        self.prev_queued = queued;
        self.prev_starting = starting;
        self.scaled_at_prev = false;
        if violated || starting || obs.window_dropped > 0 {
            self.calm = 0;
        } else {
            self.calm += 1;
        }
        if violated && settled && !draining {
            Verdict::Violation
        } else {
            Verdict::Quiet { calm: self.calm }
        }
    }

    /// Records that a scale action was issued at this tick: the next window is not settled and
    /// the calm count restarts.
    pub fn note_scaled(&mut self) {
        self.scaled_at_prev = true;
        self.calm = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PartitionObservation;

    fn res(cap: f64, n: usize, mem_cap: u64) -> Resources {
        Resources {
            compute_used: vec![0.0; n],
            compute_cap: vec![cap; n],
            memory_used: 0,
            memory_cap: mem_cap,
        }
    }

    #[test]
    fn scales_the_largest_bottleneck_first_and_updates_b_by_the_formula() {
        // B = [6, 9, 4]: k* = 1 (9). After one scale-out B_1 = 9·1/2 = 4.5, S_1 = 2; now
        // k* = 0 (6) → B_0 = 3; then k* = 1 (4.5) → B_1 = 4.5·2/3 = 3, S_1 = 3; then B = [3, 3,
        // 4] → k* = 2 → 4·1/2 = 2; then [3, 3, 2] → tie, lowest k = 0 → 3·2/3 = 2, S_0 = 3.
        let mut a = Autoscaler::new(vec![6.0, 9.0, 4.0]);
        let aff = vec![vec![0]; 3];
        let mut r = res(100.0, 1, u64::MAX);
        let u = |_, _| Usage {
            compute: 1.0,
            memory_bytes: 1,
        };
        let picks: Vec<usize> = (0..5)
            .map(|_| a.scale_out(&aff, u, &mut r).unwrap().0)
            .collect();
        assert_eq!(picks, vec![1, 0, 1, 2, 0]);
        assert_eq!(a.bottleneck(), &[2.0, 3.0, 2.0]);
        assert_eq!(a.instances(), &[3, 3, 2]);
        assert_eq!(r.compute_used, vec![5.0]);
        assert_eq!(r.memory_used, 5);
    }

    #[test]
    fn follows_affinity_order_and_never_exceeds_a_cap() {
        // One partition, affinity [2, 0, 1], compute share 0.4 everywhere, cap 1: accelerator
        // 2 takes two (0.4, 0.8; a third would make 1.2 ≥ 1), then 0 takes two, then 1 two,
        // then nothing fits and nothing changes.
        let mut a = Autoscaler::new(vec![1.0]);
        let aff = vec![vec![2, 0, 1]];
        let mut r = res(1.0, 3, u64::MAX);
        let u = |_, _| Usage {
            compute: 0.4,
            memory_bytes: 0,
        };
        let placed: Vec<usize> = std::iter::from_fn(|| a.scale_out(&aff, u, &mut r).map(|x| x.1))
            .take(10)
            .collect();
        assert_eq!(placed, vec![2, 2, 0, 0, 1, 1]);
        assert!(r.compute_used.iter().all(|&c| c < 1.0));
        let before = a.clone();
        assert_eq!(a.scale_out(&aff, u, &mut r), None);
        assert_eq!(a, before);
        // Memory is device-wide: cap 10 bytes, 4 per instance → two fit (4, 8), a third (12)
        // does not, on any accelerator.
        let mut a = Autoscaler::new(vec![1.0]);
        let mut r = res(100.0, 3, 10);
        let m = |_, _| Usage {
            compute: 0.0,
            memory_bytes: 4,
        };
        assert_eq!(a.scale_out(&aff, m, &mut r), Some((0, 2)));
        assert_eq!(a.scale_out(&aff, m, &mut r), Some((0, 2)));
        assert_eq!(a.scale_out(&aff, m, &mut r), None);
        assert!(r.memory_used < r.memory_cap);
    }

    #[test]
    fn does_not_fall_back_to_the_next_largest_bottleneck() {
        // k* = 0 fits nowhere; partition 1 would fit, but Algorithm 1 does not try it.
        let mut a = Autoscaler::new(vec![10.0, 5.0]);
        let aff = vec![vec![0], vec![1]];
        let mut r = res(1.0, 2, u64::MAX);
        r.compute_used[0] = 0.9;
        let u = |_, _| Usage {
            compute: 0.2,
            memory_bytes: 0,
        };
        assert_eq!(a.scale_out(&aff, u, &mut r), None);
        assert_eq!(a.instances(), &[1, 1]);
    }

    #[test]
    fn scale_in_inverts_the_update_and_keeps_one_instance() {
        // B⁰ = [8, 6]; after scale-outs S = [2, 3]: B = [4, 2]. Scale-in candidates: partition
        // 0 → 4·2/1 = 8, partition 1 → 2·3/2 = 3 → partition 1, B_1 = 3, S_1 = 2. Next:
        // 0 → 8, 1 → 3·2/1 = 6 → partition 1 again, B_1 = 6, S_1 = 1. Then only 0: B_0 = 8.
        let mut a = Autoscaler::new(vec![8.0, 6.0]);
        a.sync(&[2, 3]);
        assert_eq!(a.bottleneck(), &[4.0, 2.0]);
        let mut order = Vec::new();
        while let Some(k) = a.scale_in_candidate(|_| true) {
            a.scale_in(k);
            order.push(k);
        }
        assert_eq!(order, vec![1, 1, 0]);
        assert_eq!(a.bottleneck(), &[8.0, 6.0]);
        assert_eq!(a.instances(), &[1, 1]);
        a.scale_in(0);
        assert_eq!(a.instances(), &[1, 1]);
    }

    fn window(completed: u64, within: u64, queued: u64, starting: u32) -> Observation {
        Observation {
            window_completed: completed,
            window_within_slo: within,
            partitions: vec![PartitionObservation {
                queued,
                instances: vec![1],
                starting: vec![starting],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn detection_waits_for_settled_windows_and_counts_calm_ones() {
        let p = DetectorParams {
            attainment_target: 0.99,
            ignore_while_draining: true,
        };
        let mut d = Detector::default();
        // 98/100 within the SLO < 0.99: a violation.
        assert_eq!(d.observe(&window(100, 98, 5, 0), &p), Verdict::Violation);
        d.note_scaled();
        // The window after a scale-out is not settled, nor one with an instance starting, nor
        // the one after that.
        assert_eq!(
            d.observe(&window(100, 50, 9, 1), &p),
            Verdict::Quiet { calm: 0 }
        );
        assert_eq!(
            d.observe(&window(100, 50, 9, 0), &p),
            Verdict::Quiet { calm: 0 }
        );
        // Settled, violated, backlog grew: act.
        assert_eq!(d.observe(&window(100, 50, 12, 0), &p), Verdict::Violation);
        // Violated but the backlog shrank (12 → 3): catching up, no action.
        assert_eq!(
            d.observe(&window(100, 50, 3, 0), &p),
            Verdict::Quiet { calm: 0 }
        );
        // Nothing finished while requests wait: violated.
        assert_eq!(d.observe(&window(0, 0, 3, 0), &p), Verdict::Violation);
        // Calm windows count up; idle ones (nothing at all) are calm too.
        assert_eq!(
            d.observe(&window(100, 100, 0, 0), &p),
            Verdict::Quiet { calm: 1 }
        );
        assert_eq!(
            d.observe(&window(0, 0, 0, 0), &p),
            Verdict::Quiet { calm: 2 }
        );
        assert_eq!(
            d.observe(&window(100, 99, 0, 0), &p),
            Verdict::Quiet { calm: 3 }
        );
        d.note_scaled();
        assert_eq!(
            d.observe(&window(100, 100, 0, 0), &p),
            Verdict::Quiet { calm: 1 }
        );
    }
}
