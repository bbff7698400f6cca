//! Max-min fair sharing of capacities among activities (SimGrid's `lmm` model).
//!
//! The solver knows nothing about GPUs or memory. A [`SharingProblem`] has resources with
//! capacities and variables (activities), each with an upper bound on its rate and a sparse list
//! of `(resource, coefficient)` consumptions. Resource `j` is respected when
//! `Σ_i coeff_ij · rate_i ≤ capacity_j`. The solution is the max-min fair allocation, found by
//! progressive filling: raise every unfrozen rate by the same amount; when a resource saturates,
//! freeze the variables that use it (coefficient > 0); when a variable reaches its bound, freeze
//! it; repeat until every variable is frozen (Bertsekas & Gallager, *Data Networks*, 2nd ed.,
//! §6.5.2; SimGrid `src/kernel/lmm/maxmin.cpp`).
//!
//! Two solvers implement [`SharingSolver`]: [`ReferenceSolver`], written straight from the
//! definition, and [`FastSolver`], which is tested against it and used by the simulator.

use thiserror::Error;

/// Relative tolerance under which a resource counts as saturated or a rate as at its bound.
const SATURATION_REL_TOL: f64 = 1e-12;

/// Why a resource or a variable could not be added to a [`SharingProblem`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SharingError {
    /// A capacity was negative, NaN or infinite.
    #[error("resource capacity must be finite and >= 0, got {capacity}")]
    InvalidCapacity {
        /// The rejected capacity.
        capacity: f64,
    },
    /// A rate bound was negative or NaN.
    #[error("variable rate bound must be >= 0 (infinity allowed), got {bound}")]
    InvalidBound {
        /// The rejected bound.
        bound: f64,
    },
    /// A consumption coefficient was negative, NaN or infinite.
    #[error(
        "consumption coefficient on resource {resource} must be finite and >= 0, got {coefficient}"
    )]
    InvalidCoefficient {
        /// The resource the coefficient applies to.
        resource: usize,
        /// The rejected coefficient.
        coefficient: f64,
    },
    /// A consumption named a resource that the problem does not have.
    #[error(
        "consumption names resource {resource}, but the problem has only {resources} resources"
    )]
    UnknownResource {
        /// The index named.
        resource: usize,
        /// How many resources the problem has.
        resources: usize,
    },
}

/// A max-min sharing problem: resource capacities and variables with bounds and consumptions.
///
/// Consumptions are stored in one flat list, each variable's a span of it, so clearing and
/// refilling a problem allocates nothing once its buffers have grown, and a variable can be
/// removed or changed in place (what a span leaves behind is reclaimed once it is half the list).
#[derive(Debug, Clone)]
pub struct SharingProblem {
    capacities: Vec<f64>,
    bounds: Vec<f64>,
    /// `(start, len)` of each variable's entries in `entries`.
    spans: Vec<(u32, u32)>,
    entries: Vec<(usize, f64)>,
    /// Entries no span covers any more.
    garbage: usize,
    /// The buffer compaction writes into before it is swapped with `entries`: both keep their
    /// capacity, so a problem that lives through a run allocates nothing once they have grown.
    spare: Vec<(usize, f64)>,
}

impl SharingProblem {
    /// An empty problem.
    pub fn new() -> Self {
        Self {
            capacities: Vec::new(),
            bounds: Vec::new(),
            spans: Vec::new(),
            entries: Vec::new(),
            garbage: 0,
            spare: Vec::new(),
        }
    }

    /// A problem with the given resource capacities and no variables.
    pub fn with_capacities(capacities: &[f64]) -> Result<Self, SharingError> {
        let mut p = Self::new();
        for &c in capacities {
            p.add_resource(c)?;
        }
        Ok(p)
    }

    /// Adds a resource of `capacity` (rate units × coefficient) and returns its index.
    pub fn add_resource(&mut self, capacity: f64) -> Result<usize, SharingError> {
        check_capacity(capacity)?;
        self.capacities.push(capacity);
        Ok(self.capacities.len() - 1)
    }

    /// Adds a variable whose rate is at most `bound` (may be `f64::INFINITY`) and which consumes
    /// `coefficient × rate` of each listed resource; returns its index. A resource listed twice
    /// counts with the sum of its coefficients.
    pub fn add_variable(
        &mut self,
        bound: f64,
        consumption: &[(usize, f64)],
    ) -> Result<usize, SharingError> {
        check_variable(bound, consumption, self.capacities.len())?;
        Ok(self.push_variable_unchecked(bound, consumption))
    }

    /// Adds a variable already checked with [`check_variable`].
    pub(crate) fn push_variable_unchecked(
        &mut self,
        bound: f64,
        consumption: &[(usize, f64)],
    ) -> usize {
        self.bounds.push(bound);
        self.spans
            .push((self.entries.len() as u32, consumption.len() as u32));
        self.entries.extend_from_slice(consumption);
        self.bounds.len() - 1
    }

    /// Removes variable `i`, moving the last variable into its place (as `Vec::swap_remove`).
    ///
    /// # Panics
    /// If there is no variable `i`.
    pub fn swap_remove_variable(&mut self, i: usize) {
        self.bounds.swap_remove(i);
        let (_, len) = self.spans.swap_remove(i);
        self.garbage += len as usize;
        self.compact_if_wasteful();
    }

    /// Replaces the consumption of variable `i` (already checked with [`check_variable`]).
    pub(crate) fn set_consumption_unchecked(&mut self, i: usize, consumption: &[(usize, f64)]) {
        let (start, len) = self.spans[i];
        if consumption.len() <= len as usize {
            let start = start as usize;
            self.entries[start..start + consumption.len()].copy_from_slice(consumption);
            self.garbage += len as usize - consumption.len();
            self.spans[i] = (start as u32, consumption.len() as u32);
        } else {
            self.garbage += len as usize;
            self.spans[i] = (self.entries.len() as u32, consumption.len() as u32);
            self.entries.extend_from_slice(consumption);
        }
        self.compact_if_wasteful();
    }

    /// Rewrites `entries` in variable order once more than half of it is garbage.
    fn compact_if_wasteful(&mut self) {
        if self.garbage <= 64 || 2 * self.garbage <= self.entries.len() {
            return;
        }
        let entries = &mut self.spare;
        entries.clear();
        for span in &mut self.spans {
            let (start, len) = (span.0 as usize, span.1 as usize);
            span.0 = entries.len() as u32;
            entries.extend_from_slice(&self.entries[start..start + len]);
        }
        std::mem::swap(&mut self.entries, &mut self.spare);
        self.garbage = 0;
    }

    /// Removes every variable, keeping the resources and the buffers.
    pub fn clear_variables(&mut self) {
        self.bounds.clear();
        self.entries.clear();
        self.spans.clear();
        self.garbage = 0;
    }

    /// Number of resources.
    pub fn num_resources(&self) -> usize {
        self.capacities.len()
    }

    /// Number of variables.
    pub fn num_variables(&self) -> usize {
        self.bounds.len()
    }

    /// Capacity of resource `j`.
    pub fn capacity(&self, j: usize) -> f64 {
        self.capacities[j]
    }

    /// All capacities, indexed by resource.
    pub fn capacities(&self) -> &[f64] {
        &self.capacities
    }

    /// Rate bound of variable `i`.
    pub fn bound(&self, i: usize) -> f64 {
        self.bounds[i]
    }

    /// The `(resource, coefficient)` consumptions of variable `i`, as given.
    pub fn consumption(&self, i: usize) -> &[(usize, f64)] {
        let (start, len) = self.spans[i];
        &self.entries[start as usize..(start + len) as usize]
    }

    /// `Σ_i coeff_ij · rate_i` for every resource `j`, written into `usage` (zero coefficients
    /// are skipped, so an unconstrained variable at an infinite rate adds nothing).
    pub fn usage(&self, rates: &[f64], usage: &mut Vec<f64>) {
        usage.clear();
        usage.resize(self.capacities.len(), 0.0);
        for (i, &rate) in rates.iter().enumerate().take(self.num_variables()) {
            for &(j, c) in self.consumption(i) {
                if c > 0.0 {
                    usage[j] += c * rate;
                }
            }
        }
    }
}

impl Default for SharingProblem {
    fn default() -> Self {
        Self::new()
    }
}

fn check_capacity(capacity: f64) -> Result<(), SharingError> {
    if capacity.is_finite() && capacity >= 0.0 {
        Ok(())
    } else {
        Err(SharingError::InvalidCapacity { capacity })
    }
}

/// Checks a variable's bound and consumptions against a problem with `resources` resources.
pub(crate) fn check_variable(
    bound: f64,
    consumption: &[(usize, f64)],
    resources: usize,
) -> Result<(), SharingError> {
    if bound.is_nan() || bound < 0.0 {
        return Err(SharingError::InvalidBound { bound });
    }
    for &(resource, coefficient) in consumption {
        if resource >= resources {
            return Err(SharingError::UnknownResource {
                resource,
                resources,
            });
        }
        if !(coefficient.is_finite() && coefficient >= 0.0) {
            return Err(SharingError::InvalidCoefficient {
                resource,
                coefficient,
            });
        }
    }
    Ok(())
}

/// Computes the max-min fair rates of a [`SharingProblem`].
pub trait SharingSolver {
    /// Writes the max-min fair rate of every variable into `rates` (resized to
    /// `problem.num_variables()`). A variable with an infinite bound that uses no resource with a
    /// positive coefficient gets an infinite rate.
    fn solve(&mut self, problem: &SharingProblem, rates: &mut Vec<f64>);

    /// As [`SharingSolver::solve`], for a caller that knows some resource cannot carry every
    /// variable at its bound (so a solver's shortcut for the other case would be wasted work).
    fn solve_oversubscribed(&mut self, problem: &SharingProblem, rates: &mut Vec<f64>) {
        self.solve(problem, rates);
    }
}

/// Progressive filling written straight from the definition: slow (every round recomputes every
/// resource's usage from scratch) and obviously correct. Used to test [`FastSolver`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceSolver;

impl SharingSolver for ReferenceSolver {
    fn solve(&mut self, problem: &SharingProblem, rates: &mut Vec<f64>) {
        let n = problem.num_variables();
        let m = problem.num_resources();
        rates.clear();
        rates.resize(n, 0.0);
        let mut frozen = vec![false; n];
        // coeff[i][j]: the dense coefficient matrix, duplicates summed.
        let mut coeff = vec![vec![0.0; m]; n];
        for (i, row) in coeff.iter_mut().enumerate() {
            for &(j, c) in problem.consumption(i) {
                row[j] += c;
            }
        }
        // Σ_i coeff_ij · rate_i, from scratch.
        let used = |j: usize, rates: &[f64]| -> f64 {
            (0..n)
                .filter(|&i| coeff[i][j] > 0.0)
                .map(|i| coeff[i][j] * rates[i])
                .sum()
        };
        // Each round freezes at least one variable, so n rounds suffice; the guard catches a bug.
        for _round in 0..=n {
            if frozen.iter().all(|&f| f) {
                return;
            }
            // The common increase `delta`: the largest step that keeps every resource and every
            // bound respected.
            let mut delta = (0..m)
                .filter_map(|j| {
                    let unfrozen_coeff: f64 =
                        (0..n).filter(|&i| !frozen[i]).map(|i| coeff[i][j]).sum();
                    let headroom = (problem.capacity(j) - used(j, rates)).max(0.0);
                    (unfrozen_coeff > 0.0).then(|| headroom / unfrozen_coeff)
                })
                .fold(f64::INFINITY, f64::min);
            for i in (0..n).filter(|&i| !frozen[i]) {
                delta = delta.min(problem.bound(i) - rates[i]);
            }
            if delta == f64::INFINITY {
                // Only unconstrained variables with infinite bounds are left.
                for (rate, is_frozen) in rates.iter_mut().zip(&mut frozen) {
                    if !*is_frozen {
                        *rate = f64::INFINITY;
                        *is_frozen = true;
                    }
                }
                return;
            }
            for i in (0..n).filter(|&i| !frozen[i]) {
                rates[i] += delta;
            }
            // Freeze variables at their bound and every user of a saturated resource.
            let saturated: Vec<bool> = (0..m)
                .map(|j| used(j, rates) >= problem.capacity(j) * (1.0 - SATURATION_REL_TOL))
                .collect();
            for i in 0..n {
                if frozen[i] {
                    continue;
                }
                let bound = problem.bound(i);
                if rates[i] >= bound * (1.0 - SATURATION_REL_TOL) {
                    rates[i] = bound;
                    frozen[i] = true;
                } else if (0..m).any(|j| coeff[i][j] > 0.0 && saturated[j]) {
                    frozen[i] = true;
                }
            }
        }
        assert!(
            frozen.iter().all(|&f| f),
            "progressive filling did not terminate"
        );
    }
}

/// Progressive filling over levels, with reusable scratch buffers (no allocation per solve once
/// they have grown) and a fast path for the common case where nothing is over-subscribed.
///
/// Every unfrozen variable has the same rate, the current *level* `L`. Resource `j` saturates
/// at `L_j = (capacity_j − frozen_usage_j) / unfrozen_coeff_j`; the next level is the smallest
/// of those and of the smallest unfrozen bound. One pass over the unfrozen variables then freezes
/// those at their bound and the users of saturated resources, and finds the next smallest bound.
/// A solve costs `O(nnz)` on the fast path and `O(rounds × (resources + nnz))` otherwise, where
/// a round saturates at least one resource or bound (one to three rounds on the simulator's
/// shapes). Nothing is sorted and no index is built.
#[derive(Debug, Clone, Default)]
pub struct FastSolver {
    /// Per resource: usage at full bounds, then capacity already taken by frozen variables.
    frozen_usage: Vec<f64>,
    /// Per resource: sum of the coefficients of its unfrozen users.
    unfrozen_coeff: Vec<f64>,
    /// Per resource: number of consumption entries with a positive coefficient from unfrozen
    /// variables (an integer, so "no users left" is exact where `unfrozen_coeff` may not be).
    unfrozen_users: Vec<u32>,
    /// Per resource: saturated at the current level.
    saturated: Vec<bool>,
    /// Indices of the unfrozen variables.
    unfrozen: Vec<u32>,
}

impl FastSolver {
    /// A solver with empty scratch buffers.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SharingSolver for FastSolver {
    fn solve(&mut self, problem: &SharingProblem, rates: &mut Vec<f64>) {
        self.solve_with(problem, rates, true);
    }

    fn solve_oversubscribed(&mut self, problem: &SharingProblem, rates: &mut Vec<f64>) {
        self.solve_with(problem, rates, false);
    }
}

impl FastSolver {
    /// Progressive filling; `fast_path`: first test whether every variable fits at its bound.
    fn solve_with(&mut self, problem: &SharingProblem, rates: &mut Vec<f64>, fast_path: bool) {
        let n = problem.num_variables();
        let m = problem.num_resources();
        rates.clear();
        rates.resize(n, 0.0);
        reset(&mut self.frozen_usage, m, 0.0);
        reset(&mut self.unfrozen_coeff, m, 0.0);
        reset(&mut self.unfrozen_users, m, 0);

        // One pass: usage at full bounds (for the fast path), and the per-resource sums for
        // the slow path.
        let mut min_bound = f64::INFINITY;
        for (i, rate) in rates.iter_mut().enumerate() {
            let bound = problem.bound(i);
            *rate = bound;
            min_bound = min_bound.min(bound);
            for &(j, c) in problem.consumption(i) {
                if c > 0.0 {
                    if fast_path {
                        self.frozen_usage[j] += c * bound;
                    }
                    self.unfrozen_coeff[j] += c;
                    self.unfrozen_users[j] += 1;
                }
            }
        }
        // Fast path: if every resource can carry every variable at its bound, rates = bounds.
        if fast_path
            && self
                .frozen_usage
                .iter()
                .zip(problem.capacities())
                .all(|(&u, &cap)| u <= cap)
        {
            return;
        }

        self.frozen_usage.iter_mut().for_each(|u| *u = 0.0);
        reset(&mut self.saturated, m, false);
        self.unfrozen.clear();
        self.unfrozen.extend(0..n as u32);
        let mut level = 0.0_f64;
        while !self.unfrozen.is_empty() {
            // The next level: the first resource to saturate or the smallest unfrozen bound.
            let mut level_res = f64::INFINITY;
            let mut bottleneck = usize::MAX;
            for j in 0..m {
                if self.unfrozen_users[j] > 0 {
                    let headroom = (problem.capacity(j) - self.frozen_usage[j]).max(0.0);
                    let level_j = headroom / self.unfrozen_coeff[j].max(f64::MIN_POSITIVE);
                    if level_j < level_res {
                        level_res = level_j;
                        bottleneck = j;
                    }
                }
            }
            level = level.max(level_res.min(min_bound));
            if level == f64::INFINITY {
                // Only unconstrained variables with infinite bounds are left.
                for &i in &self.unfrozen {
                    rates[i as usize] = f64::INFINITY;
                }
                return;
            }
            // Saturated resources (the bottleneck always counts, so rounding cannot stall).
            let saturation_level = level * (1.0 + SATURATION_REL_TOL);
            for j in 0..m {
                let headroom = (problem.capacity(j) - self.frozen_usage[j]).max(0.0);
                self.saturated[j] = self.unfrozen_users[j] > 0
                    && (j == bottleneck && level_res <= level
                        || headroom <= saturation_level * self.unfrozen_coeff[j]);
            }
            // Freeze variables at their bound (rate = bound) and users of saturated resources
            // (rate = level); the rest stay unfrozen and give the next smallest bound.
            // Freezing a variable at `level` leaves every other resource's saturation level
            // unchanged, and a bound within the tolerance of `level` changes it negligibly, so
            // the saturation flags stay valid through the pass.
            min_bound = f64::INFINITY;
            let mut k = 0;
            while k < self.unfrozen.len() {
                let i = self.unfrozen[k] as usize;
                let bound = problem.bound(i);
                let consumption = problem.consumption(i);
                let rate = if bound <= saturation_level {
                    bound
                } else if consumption
                    .iter()
                    .any(|&(j, c)| c > 0.0 && self.saturated[j])
                {
                    level
                } else {
                    min_bound = min_bound.min(bound);
                    k += 1;
                    continue;
                };
                rates[i] = rate;
                for &(j, c) in consumption {
                    if c > 0.0 {
                        self.frozen_usage[j] += c * rate;
                        self.unfrozen_coeff[j] -= c;
                        self.unfrozen_users[j] -= 1;
                    }
                }
                self.unfrozen.swap_remove(k);
            }
        }
    }
}

/// Clears `v` and fills it with `len` copies of `value`, keeping its allocation.
fn reset<T: Copy>(v: &mut Vec<T>, len: usize, value: T) {
    v.clear();
    v.resize(len, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Solves `problem` with both solvers, checks they agree, and returns the fast solution.
    fn solve_both(problem: &SharingProblem) -> Vec<f64> {
        let mut fast = Vec::new();
        let mut reference = Vec::new();
        FastSolver::new().solve(problem, &mut fast);
        ReferenceSolver.solve(problem, &mut reference);
        assert_rates_close(&fast, &reference);
        fast
    }

    /// `|a − b| ≤ 1e-9 · max(|a|, |b|) + 1e-12` for every pair (infinities must match exactly).
    fn assert_rates_close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            if x.is_infinite() || y.is_infinite() {
                assert_eq!(x, y, "variable {i}: {a:?} vs {b:?}");
            } else {
                assert!(
                    (x - y).abs() <= 1e-9 * x.abs().max(y.abs()) + 1e-12,
                    "variable {i}: {a:?} vs {b:?}"
                );
            }
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
    }

    /// The optimality check. `rates` is the max-min fair allocation iff
    /// 1. it is feasible: `0 ≤ rate_i ≤ bound_i` and `Σ_i coeff_ij · rate_i ≤ capacity_j`; and
    /// 2. every variable has a bottleneck: either `rate_i = bound_i`, or some resource `j` with
    ///    `coeff_ij > 0` is saturated (`Σ_k coeff_kj · rate_k = capacity_j`) and `rate_i` is the
    ///    largest rate among the variables with a positive coefficient on `j`.
    ///
    /// This is the bottleneck condition of Bertsekas & Gallager, *Data Networks* (2nd ed.,
    /// §6.5.2), for positive coefficients. It suffices: raising a rate that is below its bound
    /// needs room on its saturated resource `j`, so some other user of `j`, whose rate is no
    /// larger, must drop. It is necessary: progressive filling freezes a variable exactly when it
    /// reaches its bound or a resource it uses saturates, and users of `j` frozen earlier are
    /// lower. Equalities are checked to a relative 1e-9 (+1e-12 absolute).
    fn check_max_min(problem: &SharingProblem, rates: &[f64]) -> Result<(), String> {
        let tol = |x: f64| 1e-9 * x.abs() + 1e-12;
        let mut usage = Vec::new();
        problem.usage(rates, &mut usage);
        for (j, (&u, &cap)) in usage.iter().zip(problem.capacities()).enumerate() {
            if u > cap + tol(cap) {
                return Err(format!("resource {j} over capacity: {u} > {cap}"));
            }
        }
        for (i, &rate) in rates.iter().enumerate() {
            let bound = problem.bound(i);
            if rate.is_nan() || rate < 0.0 || rate > bound + tol(bound) {
                return Err(format!("variable {i}: rate {rate} outside [0, {bound}]"));
            }
            if rate == bound || (bound - rate).abs() <= tol(bound) {
                continue;
            }
            let has_bottleneck = problem.consumption(i).iter().any(|&(j, c)| {
                let saturated = usage[j] >= problem.capacity(j) - tol(problem.capacity(j));
                let largest = (0..problem.num_variables())
                    .filter(|&k| {
                        problem
                            .consumption(k)
                            .iter()
                            .any(|&(jj, cc)| jj == j && cc > 0.0)
                    })
                    .all(|k| rates[k] <= rate + tol(rate));
                c > 0.0 && saturated && largest
            });
            if !has_bottleneck {
                return Err(format!(
                    "variable {i} (rate {rate}, bound {bound}) has no bottleneck"
                ));
            }
        }
        Ok(())
    }

    #[test]
    fn two_compute_bound_kernels_on_one_gpu_share_it_equally() {
        // GPU compute capacity 1; kernels a, b each use 1 per unit rate, bound 1.
        // a + b ≤ 1, max-min fair ⇒ a = b = 0.5.
        let mut p = SharingProblem::with_capacities(&[1.0]).unwrap();
        p.add_variable(1.0, &[(0, 1.0)]).unwrap();
        p.add_variable(1.0, &[(0, 1.0)]).unwrap();
        let rates = solve_both(&p);
        assert_eq!(rates, vec![0.5, 0.5]);
        check_max_min(&p, &rates).unwrap();
    }

    #[test]
    fn gpu_and_dla_share_memory_bandwidth() {
        // Resources: 0 = GPU compute (1), 1 = DLA (1), 2 = memory bandwidth (1).
        // Each kernel alone would use 80 % of bandwidth: g uses (GPU 1, mem 0.8), d (DLA 1, mem 0.8).
        // Engines alone allow g, d ≤ 1; memory: 0.8 g + 0.8 d ≤ 1 ⇒ g = d = 1 / 1.6 = 0.625.
        let mut p = SharingProblem::with_capacities(&[1.0, 1.0, 1.0]).unwrap();
        p.add_variable(1.0, &[(0, 1.0), (2, 0.8)]).unwrap();
        p.add_variable(1.0, &[(1, 1.0), (2, 0.8)]).unwrap();
        let rates = solve_both(&p);
        assert!(
            close(rates[0], 0.625) && close(rates[1], 0.625),
            "{rates:?}"
        );
        check_max_min(&p, &rates).unwrap();
    }

    #[test]
    fn a_kernel_bound_elsewhere_leaves_bandwidth_to_the_other() {
        // As above, but the GPU is shared with a compute-only kernel c (GPU 1, no memory):
        // GPU: g + c ≤ 1; memory: 0.8 g + 0.8 d ≤ 1.
        // Level 0.5 saturates the GPU first (g = c = 0.5; memory then 0.4 + 0.8 d).
        // d alone rises until 0.4 + 0.8 d = 1 ⇒ d = 0.75: it takes the slack g leaves.
        let mut p = SharingProblem::with_capacities(&[1.0, 1.0, 1.0]).unwrap();
        p.add_variable(1.0, &[(0, 1.0), (2, 0.8)]).unwrap();
        p.add_variable(1.0, &[(1, 1.0), (2, 0.8)]).unwrap();
        p.add_variable(1.0, &[(0, 1.0)]).unwrap();
        let rates = solve_both(&p);
        assert!(
            close(rates[0], 0.5) && close(rates[1], 0.75) && close(rates[2], 0.5),
            "{rates:?}"
        );
        check_max_min(&p, &rates).unwrap();
    }

    #[test]
    fn a_bound_freezes_a_variable_and_the_rest_take_the_slack() {
        // One resource of capacity 1, three users with coefficient 1; a's bound is 0.1.
        // Level 0.1 freezes a; then b = c rise until 0.1 + 2 b = 1 ⇒ b = c = 0.45.
        let mut p = SharingProblem::with_capacities(&[1.0]).unwrap();
        p.add_variable(0.1, &[(0, 1.0)]).unwrap();
        p.add_variable(f64::INFINITY, &[(0, 1.0)]).unwrap();
        p.add_variable(f64::INFINITY, &[(0, 1.0)]).unwrap();
        let rates = solve_both(&p);
        assert!(
            close(rates[0], 0.1) && close(rates[1], 0.45) && close(rates[2], 0.45),
            "{rates:?}"
        );
        check_max_min(&p, &rates).unwrap();
    }

    #[test]
    fn under_subscribed_problems_run_everything_at_its_bound() {
        // Capacity 1; 0.3·a + 0.4·b = 0.3 + 0.4 = 0.7 ≤ 1 at a = b = 1 ⇒ rates = bounds.
        let mut p = SharingProblem::with_capacities(&[1.0]).unwrap();
        p.add_variable(1.0, &[(0, 0.3)]).unwrap();
        p.add_variable(1.0, &[(0, 0.4)]).unwrap();
        assert_eq!(solve_both(&p), vec![1.0, 1.0]);
    }

    #[test]
    fn degenerate_inputs_have_well_defined_rates() {
        // 0: zero-capacity resource; 1: capacity 2.
        // a uses resource 0 ⇒ a = 0. b has only a zero coefficient and no bound ⇒ b = ∞.
        // c uses nothing, bound 3 ⇒ c = 3. d, e share resource 1 (coefficient 1, no bound) ⇒ 1 each.
        let mut p = SharingProblem::with_capacities(&[0.0, 2.0]).unwrap();
        p.add_variable(5.0, &[(0, 1.0), (1, 1.0)]).unwrap();
        p.add_variable(f64::INFINITY, &[(1, 0.0)]).unwrap();
        p.add_variable(3.0, &[]).unwrap();
        p.add_variable(f64::INFINITY, &[(1, 1.0)]).unwrap();
        p.add_variable(f64::INFINITY, &[(1, 1.0)]).unwrap();
        let rates = solve_both(&p);
        assert_eq!(rates[0], 0.0);
        assert_eq!(rates[1], f64::INFINITY);
        assert_eq!(rates[2], 3.0);
        assert!(close(rates[3], 1.0) && close(rates[4], 1.0), "{rates:?}");
        check_max_min(&p, &rates).unwrap();
        // No variables at all.
        let empty = SharingProblem::with_capacities(&[1.0]).unwrap();
        assert!(solve_both(&empty).is_empty());
    }

    #[test]
    fn invalid_inputs_are_rejected_with_the_field_named() {
        let mut p = SharingProblem::new();
        assert!(matches!(
            p.add_resource(-1.0),
            Err(SharingError::InvalidCapacity { .. })
        ));
        assert!(matches!(
            p.add_resource(f64::INFINITY),
            Err(SharingError::InvalidCapacity { .. })
        ));
        p.add_resource(1.0).unwrap();
        assert!(matches!(
            p.add_variable(f64::NAN, &[]),
            Err(SharingError::InvalidBound { .. })
        ));
        let err = p.add_variable(1.0, &[(1, 1.0)]).unwrap_err();
        assert_eq!(
            err,
            SharingError::UnknownResource {
                resource: 1,
                resources: 1
            }
        );
        assert!(err.to_string().contains("resource 1"));
        assert!(matches!(
            p.add_variable(1.0, &[(0, -0.5)]),
            Err(SharingError::InvalidCoefficient { resource: 0, .. })
        ));
        assert_eq!(p.num_variables(), 0);
        let i = p.add_variable(2.0, &[(0, 0.5)]).unwrap();
        assert_eq!((i, p.bound(i), p.consumption(i)), (0, 2.0, &[(0, 0.5)][..]));
    }

    #[test]
    fn fast_solver_reuses_its_buffers_across_problem_sizes() {
        let mut solver = FastSolver::new();
        let mut rates = Vec::new();
        for n in [8, 2, 16, 1] {
            let mut p = SharingProblem::with_capacities(&[1.0, 1.0]).unwrap();
            for i in 0..n {
                p.add_variable(1.0, &[(i % 2, 1.0), (1 - i % 2, 0.1)])
                    .unwrap();
            }
            solver.solve(&p, &mut rates);
            let mut reference = Vec::new();
            ReferenceSolver.solve(&p, &mut reference);
            assert_rates_close(&rates, &reference);
        }
    }

    #[test]
    fn the_optimality_check_rejects_allocations_that_are_not_max_min() {
        // a + b ≤ 1: (0.4, 0.5) is feasible but neither has a bottleneck (the resource has slack);
        // (0.3, 0.7) saturates it but a is not the largest user; (0.6, 0.6) is infeasible.
        let mut p = SharingProblem::with_capacities(&[1.0]).unwrap();
        p.add_variable(1.0, &[(0, 1.0)]).unwrap();
        p.add_variable(1.0, &[(0, 1.0)]).unwrap();
        assert!(check_max_min(&p, &[0.4, 0.5]).is_err());
        assert!(check_max_min(&p, &[0.3, 0.7]).is_err());
        assert!(check_max_min(&p, &[0.6, 0.6]).is_err());
        assert!(check_max_min(&p, &[0.5, 0.5]).is_ok());
    }

    /// A random problem: 1–5 resources (sometimes of zero capacity), 0–40 variables with bounds
    /// sometimes infinite or zero and 0–3 consumptions, coefficients sometimes zero.
    fn arb_problem() -> impl Strategy<Value = SharingProblem> {
        let capacity = prop_oneof![1 => Just(0.0), 9 => 0.1f64..10.0];
        (prop::collection::vec(capacity, 1..6), 0usize..40).prop_flat_map(|(caps, n)| {
            let m = caps.len();
            let bound = prop_oneof![3 => Just(f64::INFINITY), 1 => Just(0.0), 12 => 0.01f64..5.0];
            let coeff = prop_oneof![1 => Just(0.0), 9 => 0.01f64..3.0];
            let var = (bound, prop::collection::vec((0..m, coeff), 0..4));
            prop::collection::vec(var, n).prop_map(move |vars| {
                let mut p = SharingProblem::with_capacities(&caps).unwrap();
                for (bound, consumption) in vars {
                    p.add_variable(bound, &consumption).unwrap();
                }
                p
            })
        })
    }

    proptest! {
        /// Removing and changing variables in place keeps every variable's bound and
        /// consumption what a problem built afresh would hold, through compactions.
        #[test]
        fn variables_removed_and_changed_in_place_read_back_as_built_afresh(
            ops in prop::collection::vec((0u8..3, 0usize..64, prop::collection::vec((0usize..3, 0.0f64..2.0), 0..5)), 1..400),
        ) {
            let mut p = SharingProblem::with_capacities(&[1.0, 1.0, 1.0]).unwrap();
            let mut mirror: Vec<(f64, Vec<(usize, f64)>)> = Vec::new();
            for (k, (op, i, consumption)) in ops.into_iter().enumerate() {
                match op {
                    0 => {
                        p.add_variable(k as f64, &consumption).unwrap();
                        mirror.push((k as f64, consumption));
                    }
                    1 if !mirror.is_empty() => {
                        let i = i % mirror.len();
                        p.swap_remove_variable(i);
                        mirror.swap_remove(i);
                    }
                    2 if !mirror.is_empty() => {
                        let i = i % mirror.len();
                        p.set_consumption_unchecked(i, &consumption);
                        mirror[i].1 = consumption;
                    }
                    _ => {}
                }
                prop_assert_eq!(p.num_variables(), mirror.len());
                for (i, (bound, consumption)) in mirror.iter().enumerate() {
                    prop_assert_eq!(p.bound(i), *bound);
                    prop_assert_eq!(p.consumption(i), &consumption[..]);
                }
                prop_assert!(p.entries.len() <= 2 * (64 + mirror.iter().map(|m| m.1.len()).sum::<usize>()) + 8);
            }
        }
    }

    proptest! {
        #[test]
        fn fast_solver_matches_reference_and_is_max_min_fair(p in arb_problem()) {
            let mut fast = Vec::new();
            let mut reference = Vec::new();
            FastSolver::new().solve(&p, &mut fast);
            ReferenceSolver.solve(&p, &mut reference);
            assert_rates_close(&fast, &reference);
            check_max_min(&p, &fast).map_err(TestCaseError::fail)?;
            check_max_min(&p, &reference).map_err(TestCaseError::fail)?;
            // Where some resource cannot carry every variable at its bound, skipping the
            // fast-path test gives the same rates, bit for bit.
            let mut at_bounds = vec![0.0; p.num_resources()];
            for i in 0..p.num_variables() {
                for &(j, c) in p.consumption(i) {
                    if c > 0.0 {
                        at_bounds[j] += c * p.bound(i);
                    }
                }
            }
            if at_bounds.iter().zip(p.capacities()).any(|(&u, &cap)| u > cap) {
                let mut skipped = Vec::new();
                FastSolver::new().solve_oversubscribed(&p, &mut skipped);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                prop_assert_eq!(bits(&skipped), bits(&fast));
            }
        }
    }
}
