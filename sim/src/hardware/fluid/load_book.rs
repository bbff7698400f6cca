//! The load book: per resource, whether every running activity fits at its bound, kept up to
//! date as activities come and go.

/// Per resource, `Σ coefficient × bound` over the running activities, kept up to date as they
/// come and go, with a bound on how far the running sum may be from the exact one, and whether
/// the resource passes the solver's fast-path test (`Σ coefficient × bound ≤ capacity`, summed
/// in activity order).
///
/// The book answers that test without a pass over the activities; only a sum within its error
/// bound of the capacity needs the pass. A resource is looked at again only when its terms
/// changed, or when the last answer needed the pass (the order of the activities may change).
#[derive(Debug, Clone, Default)]
pub(super) struct LoadBook {
    /// Running sum of the finite terms.
    pub(super) sum: Vec<f64>,
    /// Bound on `|sum − Σ exact terms|`: each addition or subtraction adds `ε · |result|`.
    pub(super) err: Vec<f64>,
    /// Number of terms with a positive coefficient.
    pub(super) terms: Vec<u32>,
    /// Number of those terms that are infinite (an unbounded activity).
    pub(super) infinite: Vec<u32>,
    /// Number of finite terms that are not [`dyadic`].
    pub(super) rough: Vec<u32>,
    /// Sum of the dyadic terms in units of 2⁻³⁰, exact.
    pub(super) dyadic_units: Vec<u64>,
    /// Whether the resource failed the test when last looked at.
    pub(super) fails: Vec<bool>,
    /// How many resources fail.
    pub(super) failing: u32,
    /// Whether the resource is in `stale`.
    pub(super) is_stale: Vec<bool>,
    /// Resources to look at again before the next answer.
    pub(super) stale: Vec<u32>,
}

/// What the load book's sums say of one resource's fast-path test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fit {
    Yes,
    No,
    Unsure,
}

impl LoadBook {
    pub(super) fn new(resources: usize) -> Self {
        Self {
            sum: vec![0.0; resources],
            err: vec![0.0; resources],
            terms: vec![0; resources],
            infinite: vec![0; resources],
            rough: vec![0; resources],
            dyadic_units: vec![0; resources],
            fails: vec![false; resources],
            failing: 0,
            is_stale: vec![false; resources],
            stale: Vec::new(),
        }
    }

    pub(super) fn mark_stale(&mut self, j: usize) {
        if !self.is_stale[j] {
            self.is_stale[j] = true;
            self.stale.push(j as u32);
        }
    }

    pub(super) fn add(&mut self, consumption: &[(usize, f64)], bound: f64) {
        for &(j, c) in consumption {
            if c > 0.0 {
                self.mark_stale(j);
                self.terms[j] += 1;
                let term = c * bound;
                if term == f64::INFINITY {
                    self.infinite[j] += 1;
                } else {
                    match dyadic(term) {
                        Some(units) => self.dyadic_units[j] += units,
                        None => self.rough[j] += 1,
                    }
                    let s = self.sum[j] + term;
                    self.sum[j] = s;
                    self.err[j] += s.abs() * f64::EPSILON;
                }
            }
        }
    }

    pub(super) fn remove(&mut self, consumption: &[(usize, f64)], bound: f64) {
        for &(j, c) in consumption {
            if c > 0.0 {
                self.mark_stale(j);
                self.terms[j] -= 1;
                let term = c * bound;
                if term == f64::INFINITY {
                    self.infinite[j] -= 1;
                } else {
                    match dyadic(term) {
                        Some(units) => self.dyadic_units[j] -= units,
                        None => self.rough[j] -= 1,
                    }
                    let s = self.sum[j] - term;
                    self.sum[j] = s;
                    self.err[j] += s.abs() * f64::EPSILON;
                }
                if self.terms[j] == 0 {
                    self.sum[j] = 0.0;
                    self.err[j] = 0.0;
                }
            }
        }
    }

    /// What the sums say of resource `j` at `capacity`. A sum of `n` non-negative terms in any
    /// order is within `(n − 1) · ε/2 · Σ` of the exact sum; the margin here is larger still,
    /// and a case inside it is [`Fit::Unsure`].
    pub(super) fn fits(&self, j: usize, capacity: f64) -> Fit {
        if self.infinite[j] > 0 {
            return Fit::No;
        }
        if self.rough[j] == 0 && self.dyadic_units[j] < DYADIC_EXACT_BELOW {
            // Every term a multiple of 2⁻³⁰ and their sum below 2²²: every partial sum, in any
            // order, is exact, and equal to the integer count of units (typically engines
            // whose running kernels claim 1, ½ or whole cores: sums exactly at capacity).
            let exact = self.dyadic_units[j] as f64 * DYADIC_UNIT;
            return if exact <= capacity { Fit::Yes } else { Fit::No };
        }
        let slack = (f64::from(self.terms[j]) + 8.0) * 2.0 * f64::EPSILON;
        if (self.sum[j] + self.err[j]) * (1.0 + slack) <= capacity {
            Fit::Yes
        } else if (self.sum[j] - self.err[j]) * (1.0 - slack) > capacity {
            Fit::No
        } else {
            Fit::Unsure
        }
    }

    /// Replaces resource `j`'s running sum by one just recomputed in full (`exact`, the sum of
    /// `terms` non-negative terms).
    pub(super) fn reset(&mut self, j: usize, exact: f64) {
        self.sum[j] = exact;
        self.err[j] = exact * f64::from(self.terms[j]) * f64::EPSILON;
    }

    /// Records whether resource `j` fails the test.
    pub(super) fn set_fails(&mut self, j: usize, fails: bool) {
        if self.fails[j] != fails {
            self.fails[j] = fails;
            if fails {
                self.failing += 1;
            } else {
                self.failing -= 1;
            }
        }
    }
}

/// 2⁻³⁰, the unit of [`dyadic`] terms.
pub(super) const DYADIC_UNIT: f64 = 1.0 / 1_073_741_824.0;
/// Sums of dyadic units below 2⁵² (2²² in value) are exact in `f64` whatever the order.
pub(super) const DYADIC_EXACT_BELOW: u64 = 1 << 52;

/// `term` in units of 2⁻³⁰ if it is a whole number of them below 2¹⁶ (1, 0.5, 3 …), else `None`.
pub(super) fn dyadic(term: f64) -> Option<u64> {
    if term.is_nan() || term >= 65_536.0 {
        return None;
    }
    // Below 2⁴⁶ units: the conversion to an integer is exact when `units` is whole.
    let units = term * (1.0 / DYADIC_UNIT);
    let whole = units as i64;
    (whole as f64 == units).then_some(whole as u64)
}
