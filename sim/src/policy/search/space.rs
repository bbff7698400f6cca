//! The design space as the explorers walk it: its sizes, the one move primitive that links
//! neighbouring configurations, random points, and the computational hints (layer weights and
//! EP speeds) that seed Pipe-Search and Shisha.

use std::collections::HashSet;

use rand::Rng;

use crate::explore::{CorePools, Ep};
use crate::model::Operator;
use crate::model::cost::{self, Target};
use crate::rng::SimRng;

/// A pipeline as the policies track it: the cuts (paper numbering), each stage's EP (index
/// into the EPs) and the cores each stage holds. The same point as the exhaustive search's.
pub type Pipeline = crate::explore::Config;

/// Most EP arrangements a seeding enumerates (`E!/(E−S)!` grows fast past a handful of EPs).
pub const ARRANGEMENT_LIMIT: usize = 5040;

/// A model cut into `stages` stages on `eps` execution places, with its hints.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    /// Operators of the model.
    pub ops: usize,
    /// Execution places.
    pub eps: usize,
    /// Stages of every configuration (one EP each).
    pub stages: usize,
    /// Each operator's weight, floating-point operations. The thesis' Eq. 2.1 weighs a
    /// convolution `H×W×C×R×S×K` over its *input* H×W, which overstates a strided one by the
    /// stride squared; the operator's FLOPs count its output positions (twice, multiply and add:
    /// a constant factor that balancing ignores). [proposed]
    pub weights: Vec<f64>,
    /// Each EP's speed, FLOP/s: the model's FLOPs over its predicted time alone on the EP at
    /// batch 1 (the ranking Shisha seeds from; it captures a DLA's fallback to the GPU), with
    /// all the cores the EP has.
    pub speeds: Vec<f64>,
    /// How stages share CPU cores (moldable CPU stages); none by default.
    pub pools: CorePools,
    /// Each EP's own cores (a pooled slot's: its CPU's).
    pub cores: Vec<u32>,
    /// Each pooled EP's speed holding `c` cores, at `c − 1` (empty for a fixed EP).
    pub core_speeds: Vec<Vec<f64>>,
    /// Prefix sums of `weights`.
    prefix: Vec<f64>,
}

impl Space {
    /// The space of `stages`-stage pipelines of a model whose operators weigh `weights` on EPs
    /// of `speeds`.
    pub fn new(weights: Vec<f64>, speeds: Vec<f64>, stages: usize) -> Self {
        let mut prefix = Vec::with_capacity(weights.len() + 1);
        prefix.push(0.0);
        for w in &weights {
            prefix.push(prefix[prefix.len() - 1] + w);
        }
        let eps = speeds.len();
        Space {
            ops: weights.len(),
            eps,
            stages,
            weights,
            speeds,
            pools: CorePools::fixed(eps),
            cores: vec![1; eps],
            core_speeds: vec![Vec::new(); eps],
            prefix,
        }
    }

    /// The space of `stages`-stage pipelines of `ops` on `eps` (their CPU stages moldable as
    /// `pools` say), with the cost model's hints: each operator's FLOPs, and each EP's speed
    /// from the model's predicted time alone on it at batch 1 (a pooled EP's at every core
    /// count).
    pub fn from_cost(
        ops: &[Operator],
        eps: &[Ep],
        pools: CorePools,
        stages: usize,
        target: Target<'_>,
    ) -> Self {
        let weights: Vec<f64> = ops.iter().map(|o| o.flops as f64).collect();
        let total: f64 = weights.iter().sum();
        // A pool's slots share an accelerator: each (accelerator, cores) is planned once.
        let mut planned = std::collections::HashMap::new();
        let mut speed = |accel: usize, cores: u32| {
            *planned.entry((accel, cores)).or_insert_with(|| {
                let ns = cost::plan(ops, 1, accel, cores, target).solo_ns();
                total / (ns.max(1) as f64 * 1e-9)
            })
        };
        let speeds = eps.iter().map(|ep| speed(ep.accel, ep.cores)).collect();
        let core_speeds = (0..eps.len())
            .map(|e| match pools.pool_of(e) {
                Some(_) => (1..=eps[e].cores).map(|c| speed(eps[e].accel, c)).collect(),
                None => Vec::new(),
            })
            .collect();
        Space {
            pools,
            cores: eps.iter().map(|ep| ep.cores).collect(),
            core_speeds,
            ..Space::new(weights, speeds, stages)
        }
    }

    /// EP `e`'s speed holding `cores` cores (a fixed EP's own speed whatever `cores`).
    pub fn speed(&self, e: usize, cores: u32) -> f64 {
        match self.core_speeds[e].get(cores.max(1) as usize - 1) {
            Some(&s) => s,
            None => self.speeds[e],
        }
    }

    /// The cores stages on `eps` hold by default: a fixed EP's own; a pool's cores split evenly
    /// over the stages on it (the earlier stages take the remainder). [proposed]
    pub fn even_cores(&self, eps: &[usize]) -> Vec<u32> {
        let mut seen = Vec::new();
        eps.iter()
            .map(|&e| match self.pools.pool_of(e) {
                None => self.cores[e],
                Some(p) => {
                    let on = eps
                        .iter()
                        .filter(|&&f| self.pools.pool_of(f) == Some(p))
                        .count() as u32;
                    let before = seen.iter().filter(|&&q| q == p).count() as u32;
                    seen.push(p);
                    let capacity = self.pools.capacity(p);
                    capacity / on + u32::from(before < capacity % on)
                }
            })
            .collect()
    }

    /// Shisha's seed: the `S` fastest EPs, and over their orders the cuts that best balance
    /// weight over speed ([`Space::balanced`]), the order whose predicted bottleneck is least.
    pub fn ranked_balanced(&self) -> Pipeline {
        let mut ranked: Vec<usize> = (0..self.eps).collect();
        ranked.sort_by(|&a, &b| self.speeds[b].total_cmp(&self.speeds[a]));
        ranked.truncate(self.stages);
        let orders: Vec<Vec<usize>> = arrangements(ranked.len(), ranked.len())
            .iter()
            .map(|order| order.iter().map(|&k| ranked[k]).collect())
            .collect();
        self.distinct(orders)
            .iter()
            .map(|eps| self.balanced(eps))
            .min_by(|a, b| self.hint_s(a).total_cmp(&self.hint_s(b)))
            .expect("at least one EP")
    }

    /// `orders` of EPs without those that repeat an earlier one's speeds stage by stage (on
    /// equally fast EPs they balance alike), in their order.
    pub fn distinct(&self, orders: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
        let mut seen = std::collections::HashSet::new();
        orders
            .into_iter()
            .filter(|eps| {
                seen.insert(
                    eps.iter()
                        .map(|&e| self.speeds[e].to_bits())
                        .collect::<Vec<u64>>(),
                )
            })
            .collect()
    }

    /// Configurations in the space: `C(N−1, S−1) · E!/(E−S)!`, with pools counting canonical
    /// slot orders and core splits ([`CorePools::assignments`]).
    pub fn size(&self) -> f64 {
        crate::explore::pooled_space_size(self.ops, &self.pools, self.stages)
    }

    /// The operators of stage `k` of `p`.
    pub fn stage_ops(&self, p: &Pipeline, k: usize) -> std::ops::Range<usize> {
        let start = if k == 0 { 0 } else { p.cuts[k - 1] };
        let end = p.cuts.get(k).copied().unwrap_or(self.ops);
        start..end
    }

    /// The weight of stage `k` of `p`.
    pub fn stage_weight(&self, p: &Pipeline, k: usize) -> f64 {
        let r = self.stage_ops(p, k);
        self.prefix[r.end] - self.prefix[r.start]
    }

    /// The hint's predicted bottleneck: the largest stage weight over its EP's speed, s.
    pub fn hint_s(&self, p: &Pipeline) -> f64 {
        (0..self.stages)
            .map(|k| {
                self.stage_weight(p, k) / self.speed(p.eps[k], p.cores[k]).max(f64::MIN_POSITIVE)
            })
            .fold(0.0, f64::max)
    }

    /// A configuration drawn at random: `S − 1` distinct cuts and `S` distinct EPs, uniformly;
    /// the stages on a pool then hold a core split drawn uniformly. (With pools this is not
    /// uniform over the space: a configuration using more of a pool's interchangeable slots has
    /// more draws that lead to it.)
    pub fn random(&self, rng: &mut SimRng) -> Pipeline {
        // Cuts: a uniform (S−1)-subset of 1..N by partial Fisher–Yates over the candidates.
        let mut candidates: Vec<usize> = (1..self.ops).collect();
        let mut cuts = partial_shuffle(&mut candidates, self.stages - 1, rng).to_vec();
        cuts.sort_unstable();
        let mut eps: Vec<usize> = (0..self.eps).collect();
        let eps = self
            .pools
            .canonical(partial_shuffle(&mut eps, self.stages, rng));
        let mut cores = self.even_cores(&eps);
        for p in 0..self.pools.count() {
            let on: Vec<usize> = (0..eps.len())
                .filter(|&k| self.pools.pool_of(eps[k]) == Some(p))
                .collect();
            if on.is_empty() {
                continue;
            }
            // A uniform split: m distinct partial sums in 1..=C, as differences.
            let mut sums: Vec<usize> = (1..=self.pools.capacity(p) as usize).collect();
            let mut sums = partial_shuffle(&mut sums, on.len(), rng).to_vec();
            sums.sort_unstable();
            let mut before = 0;
            for (&k, &sum) in on.iter().zip(&sums) {
                cores[k] = (sum - before) as u32;
                before = sum;
            }
        }
        Pipeline { cuts, eps, cores }
    }

    /// Every configuration one move away from `p`, in a fixed order and without repeats:
    /// - a boundary layer moved to the neighbouring stage (each cut one operator earlier or
    ///   later);
    /// - two stages swapped between their EPs (each takes the other's EP and cores);
    /// - one stage moved to an EP no stage uses (on a pool it takes the pool's free cores, and
    ///   needs one);
    /// - the thesis' third move, a CPU stage on a pool with one core more (a free one, or one
    ///   from another stage on the pool) or one fewer.
    pub fn neighbours(&self, p: &Pipeline) -> Vec<Pipeline> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut push = |mut next: Pipeline| {
            next.eps = self.pools.canonical(&next.eps);
            if next != *p && seen.insert(next.clone()) {
                out.push(next);
            }
        };
        for k in 0..p.cuts.len() {
            for earlier in [true, false] {
                if let Some(next) = self.move_cut(p, k, earlier) {
                    push(next);
                }
            }
        }
        for i in 0..self.stages {
            for j in i + 1..self.stages {
                let mut next = p.clone();
                next.eps.swap(i, j);
                next.cores.swap(i, j);
                push(next);
            }
        }
        for i in 0..self.stages {
            for e in (0..self.eps).filter(|e| !p.eps.contains(e)) {
                let cores = match self.pools.pool_of(e) {
                    None => self.cores[e],
                    Some(q) if self.pools.pool_of(p.eps[i]) == Some(q) => continue,
                    Some(q) => match self.pools.free(q, &p.eps, &p.cores, Some(i)) {
                        0 => continue,
                        free => free,
                    },
                };
                let mut next = p.clone();
                next.eps[i] = e;
                next.cores[i] = cores;
                push(next);
            }
        }
        for i in 0..self.stages {
            let Some(q) = self.pools.pool_of(p.eps[i]) else {
                continue;
            };
            if self.pools.free(q, &p.eps, &p.cores, None) > 0 {
                let mut next = p.clone();
                next.cores[i] += 1;
                push(next);
            }
            for j in (0..self.stages).filter(|&j| j != i) {
                if self.pools.pool_of(p.eps[j]) == Some(q) && p.cores[j] > 1 {
                    let mut next = p.clone();
                    next.cores[i] += 1;
                    next.cores[j] -= 1;
                    push(next);
                }
            }
            if p.cores[i] > 1 {
                let mut next = p.clone();
                next.cores[i] -= 1;
                push(next);
            }
        }
        out
    }

    /// A neighbour of `p` drawn uniformly (`p` itself when it has none: one stage, one EP).
    pub fn random_neighbour(&self, p: &Pipeline, rng: &mut SimRng) -> Pipeline {
        let mut all = self.neighbours(p);
        if all.is_empty() {
            return p.clone();
        }
        let k = rng.random_range(0..all.len());
        all.swap_remove(k)
    }

    /// `p` with cut `k` one operator earlier (stage `k` gives its last layer to stage `k+1`)
    /// or later (stage `k+1` gives its first layer to stage `k`); `None` if a stage would be
    /// left empty.
    pub fn move_cut(&self, p: &Pipeline, k: usize, earlier: bool) -> Option<Pipeline> {
        let low = if k == 0 { 0 } else { p.cuts[k - 1] };
        let high = p.cuts.get(k + 1).copied().unwrap_or(self.ops);
        let cut = if earlier {
            p.cuts[k].checked_sub(1)?
        } else {
            p.cuts[k] + 1
        };
        if cut <= low || cut >= high {
            return None;
        }
        let mut next = p.clone();
        next.cuts[k] = cut;
        Some(next)
    }

    /// `p` with one layer moved from stage `from` to the adjacent stage `to`; `None` if they are
    /// not adjacent or `from` would be left empty.
    pub fn move_layer(&self, p: &Pipeline, from: usize, to: usize) -> Option<Pipeline> {
        if to == from + 1 {
            self.move_cut(p, from, true)
        } else if to + 1 == from {
            self.move_cut(p, to, false)
        } else {
            None
        }
    }

    /// The cuts, and the cores of the stages on a pool, that best balance the weights over the
    /// EPs `eps` (in stage order, put in canonical form): the configuration whose largest stage
    /// weight over its EP's speed (with its cores) is least. Exact, by dynamic programming over
    /// prefix sums and, with pools, the cores held so far (on equal bottlenecks the earliest
    /// cut and the fewest cores win).
    pub fn balanced(&self, eps: &[usize]) -> Pipeline {
        let eps = self.pools.canonical(eps);
        let options: Vec<Vec<u32>> = eps
            .iter()
            .map(|&e| match self.pools.pool_of(e) {
                Some(p) => (1..=self.pools.capacity(p)).collect(),
                None => vec![self.cores[e]],
            })
            .collect();
        let time = |i: usize, j: usize, k: usize, c: u32| {
            (self.prefix[j] - self.prefix[i]) / self.speed(eps[k], c).max(f64::MIN_POSITIVE)
        };
        let (_, cuts, cores) =
            crate::explore::split::min_max_split(self.ops, &eps, &self.pools, &options, time)
                .expect("a space has at most as many stages as operators and cores");
        Pipeline { cuts, eps, cores }
    }

    /// Ordered choices of `S` distinct EPs, lexicographic, at most [`ARRANGEMENT_LIMIT`].
    pub fn arrangements(&self) -> Vec<Vec<usize>> {
        arrangements(self.eps, self.stages)
    }
}

/// Ordered choices of `k` distinct items of `0..n`, lexicographic, at most
/// [`ARRANGEMENT_LIMIT`].
pub fn arrangements(n: usize, k: usize) -> Vec<Vec<usize>> {
    crate::explore::arrangements(n, k, ARRANGEMENT_LIMIT)
}

/// Moves `k` uniformly chosen items of `items` to its front (partial Fisher–Yates) and returns
/// them.
fn partial_shuffle<'a>(items: &'a mut [usize], k: usize, rng: &mut SimRng) -> &'a [usize] {
    for i in 0..k.min(items.len()) {
        let j = rng.random_range(i..items.len());
        items.swap(i, j);
    }
    &items[..k.min(items.len())]
}

/// `items` in a uniformly random order (Fisher–Yates).
pub fn shuffle<T>(items: &mut [T], rng: &mut SimRng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::rng::RunSeed;

    fn space() -> Space {
        Space::new(vec![1.0, 4.0, 2.0, 2.0, 6.0, 1.0], vec![1.0, 2.0, 1.0], 3)
    }

    #[test]
    fn neighbours_are_one_move_away_and_valid() {
        let s = space();
        let p = Pipeline {
            cuts: vec![1, 4],
            eps: vec![0, 1, 2],
            cores: vec![1; 3],
        };
        let all = s.neighbours(&p);
        // Cut 1 may go to 2 only (not 0); cut 4 to 3 or 5; three swaps; no unused EP.
        assert_eq!(all.len(), 3 + 3);
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        for n in &all {
            assert!(n.cuts.windows(2).all(|w| w[0] < w[1]));
            assert!(n.cuts[0] >= 1 && *n.cuts.last().unwrap() < s.ops);
            let eps: HashSet<_> = n.eps.iter().collect();
            assert_eq!(eps.len(), 3);
        }
        let two = Space::new(vec![1.0; 6], vec![1.0; 4], 2);
        let q = Pipeline {
            cuts: vec![3],
            eps: vec![0, 1],
            cores: vec![1; 2],
        };
        // Two cut moves, one swap, 2 stages × 2 unused EPs.
        assert_eq!(two.neighbours(&q).len(), 2 + 1 + 4);
    }

    #[test]
    fn random_points_cover_the_space_uniformly_enough_and_are_reproducible() {
        let s = Space::new(vec![1.0; 5], vec![1.0; 3], 2);
        // C(4, 1) · 3 · 2 = 24.
        assert_eq!(s.size(), 24.0);
        let mut rng = RunSeed(3).stream("t");
        let seen: HashSet<Pipeline> = (0..2000).map(|_| s.random(&mut rng)).collect();
        assert_eq!(seen.len(), 24);
        let a: Vec<_> = (0..5)
            .map(|_| s.random(&mut RunSeed(9).stream("t")))
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn the_balanced_split_is_the_brute_force_optimum() {
        let s = space();
        for eps in s.arrangements() {
            let got = s.balanced(&eps);
            let mut best = f64::INFINITY;
            for a in 1..s.ops {
                for b in a + 1..s.ops {
                    let p = Pipeline {
                        cuts: vec![a, b],
                        eps: eps.clone(),
                        cores: vec![1; 3],
                    };
                    best = best.min(s.hint_s(&p));
                }
            }
            assert_eq!(s.hint_s(&got), best, "{eps:?}");
        }
        assert_eq!(s.arrangements().len(), 6);
    }

    /// Five operators, two stages; EPs 0 and 1 slots of a 3-core CPU, EP 2 fixed.
    fn pooled() -> Space {
        Space {
            pools: CorePools::new(&[Some(0), Some(0), None], |_| 3),
            cores: vec![3, 3, 1],
            core_speeds: vec![vec![1.0, 1.8, 2.4], vec![1.0, 1.8, 2.4], Vec::new()],
            ..Space::new(vec![1.0, 3.0, 2.0, 2.0, 1.0], vec![2.4, 2.4, 4.0], 2)
        }
    }

    /// A configuration of `s` is canonical and holds its cores within bounds.
    fn assert_valid(s: &Space, p: &Pipeline) {
        assert!(s.pools.is_canonical(&p.eps), "{p:?}");
        let eps: HashSet<_> = p.eps.iter().collect();
        assert_eq!(eps.len(), s.stages, "{p:?}");
        assert!(
            p.cuts.windows(2).all(|w| w[0] < w[1]) && p.cuts[0] >= 1,
            "{p:?}"
        );
        for (k, &e) in p.eps.iter().enumerate() {
            match s.pools.pool_of(e) {
                Some(_) => assert!(p.cores[k] >= 1, "{p:?}"),
                None => assert_eq!(p.cores[k], s.cores[e], "{p:?}"),
            }
        }
        let held: u32 = (0..s.stages)
            .filter(|&k| s.pools.pool_of(p.eps[k]).is_some())
            .map(|k| p.cores[k])
            .sum();
        assert!(held <= 3, "{p:?}");
    }

    #[test]
    fn with_moldable_cpu_stages_the_moves_reach_every_configuration_and_no_other() {
        let s = pooled();
        // Cuts C(4, 1) = 4; EP side: CPU+CPU with (1,1), (1,2), (2,1); CPU with 1, 2 or 3
        // cores then the fixed EP, or the other way round: 3 + 3 + 3 = 9.
        assert_eq!(s.size(), 4.0 * 9.0);
        let start = s.balanced(&[2, 0]);
        assert_valid(&s, &start);
        let mut reached = HashSet::from([start.clone()]);
        let mut frontier = vec![start];
        while let Some(p) = frontier.pop() {
            for n in s.neighbours(&p) {
                assert_valid(&s, &n);
                if reached.insert(n.clone()) {
                    frontier.push(n);
                }
            }
        }
        assert_eq!(reached.len() as f64, s.size());
        let mut rng = RunSeed(4).stream("t");
        let drawn: HashSet<Pipeline> = (0..3000).map(|_| s.random(&mut rng)).collect();
        assert_eq!(drawn, reached);
        // The third move: a CPU stage gives a core to the other, takes a free one, or frees one.
        let p = Pipeline {
            cuts: vec![2],
            eps: vec![0, 1],
            cores: vec![1, 1],
        };
        let core_moves: Vec<Vec<u32>> = s
            .neighbours(&p)
            .into_iter()
            .filter(|n| n.cuts == p.cuts && n.eps == p.eps)
            .map(|n| n.cores)
            .collect();
        assert_eq!(core_moves, [vec![2, 1], vec![1, 2]]);
        assert_eq!(s.even_cores(&[0, 1]), [2, 1]);
        // The balanced seed chooses cores with cuts: the brute-force optimum of the hint.
        for eps in [vec![0, 1], vec![2, 0], vec![1, 2]] {
            let got = s.balanced(&eps);
            assert_valid(&s, &got);
            let best = reached
                .iter()
                .filter(|p| p.eps == s.pools.canonical(&eps))
                .map(|p| s.hint_s(p))
                .fold(f64::INFINITY, f64::min);
            assert_eq!(s.hint_s(&got), best, "{eps:?}");
        }
    }

    #[test]
    fn a_layer_moves_only_between_adjacent_stages_and_never_empties_one() {
        let s = space();
        let p = Pipeline {
            cuts: vec![1, 4],
            eps: vec![0, 1, 2],
            cores: vec![1; 3],
        };
        assert_eq!(s.move_layer(&p, 1, 0).unwrap().cuts, [2, 4]);
        assert_eq!(s.move_layer(&p, 1, 2).unwrap().cuts, [1, 3]);
        assert_eq!(s.move_layer(&p, 0, 1), None, "stage 0 holds one layer");
        assert_eq!(s.move_layer(&p, 0, 2), None, "not adjacent");
    }
}
