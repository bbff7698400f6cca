//! Moldable CPU stages: how stages on one CPU share its cores (the thesis' "task moldability",
//! Pipe-Search's third move, "change a CPU stage by ±1 core": ../shared/THESIS.md §1).
//!
//! A *pool* is one CPU offered as several interchangeable execution places (slots). The stages
//! placed on its slots each hold 1 or more of its cores, together at most all of them; an EP
//! outside every pool is fixed: a stage on it holds the EP's own cores ([`super::Ep::cores`]).
//! Since a pool's slots are interchangeable, a configuration is kept in one *canonical* form:
//! the stages on a pool, in stage order, take its first slots in order. So two configurations
//! differing only by which slot a stage sits on are one configuration, counted once.

/// The CPU pools of a set of EPs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorePools {
    /// Per EP: the pool it is a slot of (`None`: fixed).
    pool_of: Vec<Option<usize>>,
    /// Per pool: its slots (EP indices, increasing) and its cores.
    pools: Vec<(Vec<usize>, u32)>,
}

impl CorePools {
    /// No pools: every one of `eps` EPs is fixed.
    pub fn fixed(eps: usize) -> Self {
        CorePools {
            pool_of: vec![None; eps],
            pools: Vec::new(),
        }
    }

    /// Pools from each EP's pool key (`Some(k)`: a slot of the pool keyed `k`, e.g. the CPU's
    /// accelerator index) and each pool's cores (`cores(k)`).
    pub fn new(keys: &[Option<usize>], cores: impl Fn(usize) -> u32) -> Self {
        let mut pools: Vec<(usize, Vec<usize>, u32)> = Vec::new();
        let pool_of = keys
            .iter()
            .enumerate()
            .map(|(e, key)| {
                let key = (*key)?;
                let p = match pools.iter().position(|(k, _, _)| *k == key) {
                    Some(p) => p,
                    None => {
                        pools.push((key, Vec::new(), cores(key)));
                        pools.len() - 1
                    }
                };
                pools[p].1.push(e);
                Some(p)
            })
            .collect();
        CorePools {
            pool_of,
            pools: pools.into_iter().map(|(_, s, c)| (s, c)).collect(),
        }
    }

    /// Whether some EP is a slot of a pool.
    pub fn any(&self) -> bool {
        !self.pools.is_empty()
    }

    /// Pools.
    pub fn count(&self) -> usize {
        self.pools.len()
    }

    /// The pool EP `e` is a slot of (`None`: fixed).
    pub fn pool_of(&self, e: usize) -> Option<usize> {
        self.pool_of.get(e).copied().flatten()
    }

    /// Cores of pool `p`.
    pub fn capacity(&self, p: usize) -> u32 {
        self.pools[p].1
    }

    /// Cores of pool `p` that no stage of `eps`/`cores` holds, leaving out stage `except`.
    pub fn free(&self, p: usize, eps: &[usize], cores: &[u32], except: Option<usize>) -> u32 {
        let held: u32 = (0..eps.len())
            .filter(|&k| Some(k) != except && self.pool_of(eps[k]) == Some(p))
            .map(|k| cores[k])
            .sum();
        self.capacity(p).saturating_sub(held)
    }

    /// `eps` in canonical form: the stages on each pool, in stage order, on its first slots in
    /// order (fixed EPs unchanged).
    pub fn canonical(&self, eps: &[usize]) -> Vec<usize> {
        let mut used = vec![0usize; self.pools.len()];
        eps.iter()
            .map(|&e| match self.pool_of(e) {
                Some(p) => {
                    let slot = self.pools[p].0[used[p].min(self.pools[p].0.len() - 1)];
                    used[p] += 1;
                    slot
                }
                None => e,
            })
            .collect()
    }

    /// Whether `eps` is in canonical form.
    pub fn is_canonical(&self, eps: &[usize]) -> bool {
        self.canonical(eps) == eps
    }

    /// Every way the stages of `eps` may hold cores, lexicographic: a fixed EP's stage holds
    /// `fixed(e)`; the stages on one pool hold 1 or more each, together at most its cores.
    pub fn splits(&self, eps: &[usize], fixed: impl Fn(usize) -> u32) -> Vec<Vec<u32>> {
        let mut out = Vec::new();
        let mut current: Vec<u32> = eps
            .iter()
            .map(|&e| {
                if self.pool_of(e).is_some() {
                    0
                } else {
                    fixed(e)
                }
            })
            .collect();
        let mut left: Vec<u32> = self.pools.iter().map(|(_, c)| *c).collect();
        self.split_from(eps, 0, &mut current, &mut left, &mut out);
        out
    }

    fn split_from(
        &self,
        eps: &[usize],
        k: usize,
        current: &mut Vec<u32>,
        left: &mut [u32],
        out: &mut Vec<Vec<u32>>,
    ) {
        if k == eps.len() {
            out.push(current.clone());
            return;
        }
        let Some(p) = self.pool_of(eps[k]) else {
            return self.split_from(eps, k + 1, current, left, out);
        };
        // Leave one core for every later stage on the same pool.
        let later = eps[k + 1..]
            .iter()
            .filter(|&&e| self.pool_of(e) == Some(p))
            .count() as u32;
        for c in 1..=left[p].saturating_sub(later) {
            current[k] = c;
            left[p] -= c;
            self.split_from(eps, k + 1, current, left, out);
            left[p] += c;
        }
        current[k] = 0;
    }

    /// Configurations of the EP side alone: ways to give `stages` stages distinct EPs, a pool's
    /// slots counted once per canonical form, times the ways the pooled stages hold cores.
    /// Without pools, `E!/(E−S)!`.
    pub fn assignments(&self, stages: usize) -> f64 {
        let e = self.pool_of.len();
        if !self.any() {
            return (0..stages).fold(1.0, |acc, k| acc * (e as f64 - k as f64));
        }
        // Exponential generating function: a fixed EP holds 0 or 1 stage (1 + x); a pool of k
        // slots and C cores holds m ≤ k stages in one canonical slot order with C(C, m) core
        // splits (m parts ≥ 1 summing to at most C: m-subsets of 1..=C as partial sums). The
        // count is S! times the coefficient of x^S in the product.
        let mut poly = vec![0.0f64; stages + 1];
        poly[0] = 1.0;
        let mut multiply = |factor: &[f64]| {
            let mut next = vec![0.0; stages + 1];
            for (i, a) in poly.iter().enumerate() {
                for (j, b) in factor.iter().enumerate().take(stages + 1 - i) {
                    next[i + j] += a * b;
                }
            }
            poly = next;
        };
        for _ in (0..e).filter(|&e| self.pool_of(e).is_none()) {
            multiply(&[1.0, 1.0]);
        }
        for (slots, cores) in &self.pools {
            let most = slots.len().min(*cores as usize).min(stages);
            let factor: Vec<f64> = (0..=most)
                .map(|m| choose(u64::from(*cores), m as u64) / factorial(m))
                .collect();
            multiply(&factor);
        }
        poly[stages] * factorial(stages)
    }
}

fn factorial(n: usize) -> f64 {
    (1..=n).fold(1.0, |acc, k| acc * k as f64)
}

fn choose(n: u64, k: u64) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EPs 0 (GPU) and 3 (DLA) fixed; 1 and 2 slots of a 4-core CPU.
    fn pools() -> CorePools {
        CorePools::new(&[None, Some(7), Some(7), None], |_| 4)
    }

    #[test]
    fn slots_are_canonical_in_stage_order() {
        let p = pools();
        assert_eq!(p.canonical(&[2, 0, 1]), [1, 0, 2]);
        assert_eq!(p.canonical(&[2, 0]), [1, 0]);
        assert_eq!(p.canonical(&[3, 2]), [3, 1]);
        assert!(p.is_canonical(&[1, 3, 2]));
        assert!(!p.is_canonical(&[2, 3, 1]));
        assert_eq!(p.free(0, &[1, 0, 2], &[1, 1, 2], None), 1);
        assert_eq!(p.free(0, &[1, 0, 2], &[1, 1, 2], Some(2)), 3);
    }

    #[test]
    fn core_splits_fill_a_pool_at_most_and_each_stage_holds_one() {
        let p = pools();
        let all = p.splits(&[1, 0, 2], |_| 1);
        // Pairs (a, b), a, b ≥ 1, a + b ≤ 4: C(4, 2) = 6.
        assert_eq!(all.len(), 6);
        assert!(all.iter().all(|c| c[1] == 1 && c[0] >= 1 && c[2] >= 1));
        assert!(all.iter().all(|c| c[0] + c[2] <= 4));
        assert_eq!(all[0], [1, 1, 1]);
        assert_eq!(p.splits(&[0, 3], |e| e as u32 + 1), [[1, 4]]);
    }

    #[test]
    fn assignments_count_the_canonical_configurations_by_brute_force() {
        let p = pools();
        for stages in 1..=4 {
            let arrangements = super::super::arrangements(4, stages, usize::MAX);
            let brute: usize = arrangements
                .iter()
                .filter(|a| p.is_canonical(a))
                .map(|a| p.splits(a, |_| 1).len())
                .sum();
            assert_eq!(p.assignments(stages), brute as f64, "{stages} stages");
        }
        // Without pools: E!/(E−S)!.
        assert_eq!(CorePools::fixed(5).assignments(3), 60.0);
    }
}
