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
    /// Per resource, its sums and counts (one record, so an update touches one cache line).
    resources: Vec<ResourceLoad>,
    /// How many resources fail.
    pub(super) failing: u32,
    /// Resources to look at again before the next answer.
    pub(super) stale: Vec<u32>,
}

/// One resource's entry in the [`LoadBook`].
#[derive(Debug, Clone, Copy, Default)]
struct ResourceLoad {
    /// Running sum of the finite terms.
    sum: f64,
    /// Bound on `|sum − Σ exact terms|`: each addition or subtraction adds `ε · |result|`.
    err: f64,
    /// Sum of the dyadic terms in units of 2⁻³⁰, exact.
    dyadic_units: u64,
    /// Number of terms with a positive coefficient.
    terms: u32,
    /// Number of those terms that are infinite (an unbounded activity).
    infinite: u32,
    /// Number of finite terms that are not [`dyadic`].
    rough: u32,
    /// Whether the resource failed the test when last looked at.
    fails: bool,
    /// Whether the resource is in `stale`.
    is_stale: bool,
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
            resources: vec![ResourceLoad::default(); resources],
            failing: 0,
            stale: Vec::new(),
        }
    }

    pub(super) fn mark_stale(&mut self, j: usize) {
        let r = &mut self.resources[j];
        if !r.is_stale {
            r.is_stale = true;
            self.stale.push(j as u32);
        }
    }

    /// Takes resource `j` off the stale list's flags (the caller holds the list).
    pub(super) fn unmark_stale(&mut self, j: usize) {
        self.resources[j].is_stale = false;
    }

    pub(super) fn add(&mut self, consumption: &[(usize, f64)], bound: f64) {
        for &(j, c) in consumption {
            if c > 0.0 {
                self.mark_stale(j);
                let r = &mut self.resources[j];
                r.terms += 1;
                let term = c * bound;
                if term == f64::INFINITY {
                    r.infinite += 1;
                } else {
                    match dyadic(term) {
                        Some(units) => r.dyadic_units += units,
                        None => r.rough += 1,
                    }
                    let s = r.sum + term;
                    r.sum = s;
                    r.err += s.abs() * f64::EPSILON;
                }
            }
        }
    }

    pub(super) fn remove(&mut self, consumption: &[(usize, f64)], bound: f64) {
        for &(j, c) in consumption {
            if c > 0.0 {
                self.mark_stale(j);
                let r = &mut self.resources[j];
                r.terms -= 1;
                let term = c * bound;
                if term == f64::INFINITY {
                    r.infinite -= 1;
                } else {
                    match dyadic(term) {
                        Some(units) => r.dyadic_units -= units,
                        None => r.rough -= 1,
                    }
                    let s = r.sum - term;
                    r.sum = s;
                    r.err += s.abs() * f64::EPSILON;
                }
                if r.terms == 0 {
                    r.sum = 0.0;
                    r.err = 0.0;
                }
            }
        }
    }

    /// What the sums say of resource `j` at `capacity`. A sum of `n` non-negative terms in any
    /// order is within `(n − 1) · ε/2 · Σ` of the exact sum; the margin here is larger still,
    /// and a case inside it is [`Fit::Unsure`].
    pub(super) fn fits(&self, j: usize, capacity: f64) -> Fit {
        let r = &self.resources[j];
        if r.infinite > 0 {
            return Fit::No;
        }
        if r.rough == 0 && r.dyadic_units < DYADIC_EXACT_BELOW {
            // Every term a multiple of 2⁻³⁰ and their sum below 2²²: every partial sum, in any
            // order, is exact, and equal to the integer count of units (typically engines
            // whose running kernels claim 1, ½ or whole cores: sums exactly at capacity).
            let exact = r.dyadic_units as f64 * DYADIC_UNIT;
            return if exact <= capacity { Fit::Yes } else { Fit::No };
        }
        let slack = (f64::from(r.terms) + 8.0) * 2.0 * f64::EPSILON;
        if (r.sum + r.err) * (1.0 + slack) <= capacity {
            Fit::Yes
        } else if (r.sum - r.err) * (1.0 - slack) > capacity {
            Fit::No
        } else {
            Fit::Unsure
        }
    }

    /// Replaces resource `j`'s running sum by one just recomputed in full (`exact`, the sum of
    /// `terms` non-negative terms).
    pub(super) fn reset(&mut self, j: usize, exact: f64) {
        let r = &mut self.resources[j];
        r.sum = exact;
        r.err = exact * f64::from(r.terms) * f64::EPSILON;
    }

    /// Records whether resource `j` fails the test.
    pub(super) fn set_fails(&mut self, j: usize, fails: bool) {
        let r = &mut self.resources[j];
        if r.fails != fails {
            r.fails = fails;
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
