//! The design space as the explorers walk it: its sizes, the one move primitive that links
//! neighbouring configurations, random points, and the computational hints (layer weights and
//! EP speeds) that seed Pipe-Search and Shisha.

use rand::Rng;

use crate::explore::Ep;
use crate::model::Operator;
use crate::model::cost::{self, Target};
use crate::rng::SimRng;

/// A pipeline as the policies track it: the cuts (paper numbering) and each stage's EP (index
/// into the EPs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pipeline {
    /// Cut points, `stages − 1` of them, increasing.
    pub cuts: Vec<usize>,
    /// Each stage's EP.
    pub eps: Vec<usize>,
}

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
    /// batch 1 (the ranking Shisha seeds from; it captures a DLA's fallback to the GPU).
    pub speeds: Vec<f64>,
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
        Space {
            ops: weights.len(),
            eps: speeds.len(),
            stages,
            weights,
            speeds,
            prefix,
        }
    }

    /// The space of `stages`-stage pipelines of `ops` on `eps`, with the cost model's hints:
    /// each operator's FLOPs, and each EP's speed from the model's predicted time alone on it
    /// at batch 1.
    pub fn from_cost(ops: &[Operator], eps: &[Ep], stages: usize, target: Target<'_>) -> Self {
        let weights: Vec<f64> = ops.iter().map(|o| o.flops as f64).collect();
        let total: f64 = weights.iter().sum();
        let speeds = eps
            .iter()
            .map(|ep| {
                let ns = cost::plan(ops, 1, ep.accel, ep.cores, target).solo_ns();
                total / (ns.max(1) as f64 * 1e-9)
            })
            .collect();
        Space::new(weights, speeds, stages)
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

    /// Configurations in the space: `C(N−1, S−1) · E!/(E−S)!`.
    pub fn size(&self) -> f64 {
        crate::explore::space_size(self.ops, self.eps, self.stages)
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
            .map(|k| self.stage_weight(p, k) / self.speeds[p.eps[k]].max(f64::MIN_POSITIVE))
            .fold(0.0, f64::max)
    }

    /// A configuration drawn uniformly: `S − 1` distinct cuts and `S` distinct EPs.
    pub fn random(&self, rng: &mut SimRng) -> Pipeline {
        // Cuts: a uniform (S−1)-subset of 1..N by partial Fisher–Yates over the candidates.
        let mut candidates: Vec<usize> = (1..self.ops).collect();
        let mut cuts = partial_shuffle(&mut candidates, self.stages - 1, rng).to_vec();
        cuts.sort_unstable();
        let mut eps: Vec<usize> = (0..self.eps).collect();
        let eps = partial_shuffle(&mut eps, self.stages, rng).to_vec();
        Pipeline { cuts, eps }
    }

    /// Every configuration one move away from `p`, in a fixed order: a boundary layer moved to
    /// the neighbouring stage (each cut one operator earlier or later), two stages' EPs
    /// swapped, or one stage moved to an EP no stage uses. (The thesis' third move, a CPU
    /// stage's core count, is not one here: a CPU EP is a fixed group of cores,
    /// `device.cpu_groups`.)
    pub fn neighbours(&self, p: &Pipeline) -> Vec<Pipeline> {
        let mut out = Vec::new();
        for k in 0..p.cuts.len() {
            for earlier in [true, false] {
                if let Some(next) = self.move_cut(p, k, earlier) {
                    out.push(next);
                }
            }
        }
        for i in 0..self.stages {
            for j in i + 1..self.stages {
                let mut eps = p.eps.clone();
                eps.swap(i, j);
                out.push(Pipeline {
                    cuts: p.cuts.clone(),
                    eps,
                });
            }
        }
        for i in 0..self.stages {
            for e in (0..self.eps).filter(|e| !p.eps.contains(e)) {
                let mut eps = p.eps.clone();
                eps[i] = e;
                out.push(Pipeline {
                    cuts: p.cuts.clone(),
                    eps,
                });
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
        let mut cuts = p.cuts.clone();
        cuts[k] = cut;
        Some(Pipeline {
            cuts,
            eps: p.eps.clone(),
        })
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

    /// The cuts that best balance the weights over the EPs `eps` (in stage order): the split
    /// whose largest stage weight over its EP's speed is least (exact, by dynamic programming
    /// over prefix sums).
    pub fn balanced(&self, eps: &[usize]) -> Pipeline {
        let (n, s) = (self.ops, eps.len());
        // best[k][j]: least bottleneck of the first j operators in k + 1 stages; from[k][j]: the
        // start of stage k in it.
        let mut best = vec![vec![f64::INFINITY; n + 1]; s];
        let mut from = vec![vec![0usize; n + 1]; s];
        let time = |i: usize, j: usize, k: usize| {
            (self.prefix[j] - self.prefix[i]) / self.speeds[eps[k]].max(f64::MIN_POSITIVE)
        };
        for (j, b) in best[0].iter_mut().enumerate().skip(1) {
            *b = time(0, j, 0);
        }
        for k in 1..s {
            for j in k + 1..=n {
                for i in k..j {
                    let t = best[k - 1][i].max(time(i, j, k));
                    if t < best[k][j] {
                        best[k][j] = t;
                        from[k][j] = i;
                    }
                }
            }
        }
        let mut cuts = vec![0; s - 1];
        let mut j = n;
        for k in (1..s).rev() {
            j = from[k][j];
            cuts[k - 1] = j;
        }
        Pipeline {
            cuts,
            eps: eps.to_vec(),
        }
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
                    };
                    best = best.min(s.hint_s(&p));
                }
            }
            assert_eq!(s.hint_s(&got), best, "{eps:?}");
        }
        assert_eq!(s.arrangements().len(), 6);
    }

    #[test]
    fn a_layer_moves_only_between_adjacent_stages_and_never_empties_one() {
        let s = space();
        let p = Pipeline {
            cuts: vec![1, 4],
            eps: vec![0, 1, 2],
        };
        assert_eq!(s.move_layer(&p, 1, 0).unwrap().cuts, [2, 4]);
        assert_eq!(s.move_layer(&p, 1, 2).unwrap().cuts, [1, 3]);
        assert_eq!(s.move_layer(&p, 0, 1), None, "stage 0 holds one layer");
        assert_eq!(s.move_layer(&p, 0, 2), None, "not adjacent");
    }
}
