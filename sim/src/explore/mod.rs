//! The design space of pipeline configurations, and its exhaustive search over the cost model's
//! predicted stage times (the thesis' reference optimum: ../shared/THESIS.md §1–§3).
//!
//! A configuration splits a model's operators into `S` consecutive stages and maps each stage
//! to a distinct execution place (EP): an accelerator, with the cores it holds on the CPU. Its
//! predicted throughput is that of a pipeline, one over its slowest stage's time alone on its
//! EP at batch 1 ([`crate::model::cost::plan`]); hand-offs between stages are left out, as the
//! thesis' stage-time model does. The space holds `C(N−1, S−1) · E!/(E−S)!` configurations for
//! `N` operators and `E` EPs ([`DesignSpace::size`]); [`DesignSpace::exhaustive`] evaluates
//! every one (stage times computed once per range and EP) and counts them, which is the
//! optimum that the explorers of the adaptive-pipelines work are measured against.
//!
//! With moldable CPU stages ([`CorePools`]) a configuration also says how many cores each stage
//! on a CPU holds, and the space holds every core split as well.

pub mod cores;
pub mod split;

use std::collections::HashMap;

pub use cores::CorePools;

use crate::model::Operator;
use crate::model::cost::{self, Target};

/// An execution place: an accelerator and the CPU cores a stage on it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ep {
    /// Accelerator index in the device profile.
    pub accel: usize,
    /// Cores held on the CPU (1 elsewhere: the launch thread).
    pub cores: u32,
}

/// One point of the design space.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Cut points: stage `k` runs operators `cuts[k-1]..cuts[k]` (0-based, end-exclusive), with
    /// 0 and `N` implied, so `S − 1` of them, increasing.
    pub cuts: Vec<usize>,
    /// The EP of each stage, by index into [`DesignSpace::eps`].
    pub eps: Vec<usize>,
    /// The cores each stage holds: its EP's own on a fixed EP, its share of the CPU on a
    /// moldable one ([`CorePools`]).
    pub cores: Vec<u32>,
}

/// The result of a search.
#[derive(Clone, Debug, PartialEq)]
pub struct Explored {
    /// The best configuration found.
    pub best: Config,
    /// Its slowest stage's predicted time, ns.
    pub bottleneck_ns: u64,
    /// Configurations whose throughput was evaluated.
    pub evaluated: u64,
}

impl Explored {
    /// Predicted throughput of the best configuration, requests per second.
    pub fn throughput_rps(&self) -> f64 {
        1e9 / self.bottleneck_ns.max(1) as f64
    }
}

/// Why a design space cannot be searched.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExploreError {
    /// More stages than operators or EPs, or none.
    #[error(
        "{stages} stage(s) for {ops} operator(s) on {eps} execution place(s): need 1 ≤ stages ≤ both"
    )]
    Stages {
        /// Stages asked for.
        stages: usize,
        /// Operators of the model.
        ops: usize,
        /// EPs given.
        eps: usize,
    },
    /// The space is larger than the search is allowed to enumerate.
    #[error(
        "the design space holds {size:.3e} configurations, more than the {limit} an exhaustive search enumerates"
    )]
    TooLarge {
        /// Configurations in the space.
        size: f64,
        /// The limit.
        limit: u64,
    },
}

/// Most configurations [`DesignSpace::exhaustive`] enumerates.
pub const EXHAUSTIVE_LIMIT: u64 = 100_000_000;

/// A model's operators, the EPs and the number of stages.
pub struct DesignSpace<'a> {
    ops: &'a [Operator],
    eps: Vec<Ep>,
    stages: usize,
    target: Target<'a>,
    pools: CorePools,
    /// Predicted time of operators `i..j` on accelerator `a` with `c` cores, by `(i, j, a, c)`.
    times: HashMap<(usize, usize, usize, u32), u64>,
    /// Every range's time on accelerator `a` with `c` cores, by `(a, c)` ([`DesignSpace::optimum`]).
    dense: HashMap<(usize, u32), Vec<u64>>,
}

impl<'a> DesignSpace<'a> {
    /// The space of `stages`-stage pipelines of `ops` on `eps`, timed with `target`.
    pub fn new(
        ops: &'a [Operator],
        eps: Vec<Ep>,
        stages: usize,
        target: Target<'a>,
    ) -> Result<Self, ExploreError> {
        if stages == 0 || stages > ops.len() || stages > eps.len() {
            return Err(ExploreError::Stages {
                stages,
                ops: ops.len(),
                eps: eps.len(),
            });
        }
        Ok(DesignSpace {
            ops,
            pools: CorePools::fixed(eps.len()),
            eps,
            stages,
            target,
            times: HashMap::new(),
            dense: HashMap::new(),
        })
    }

    /// The same space with moldable CPU stages: EPs that are slots of a pool share its cores
    /// (`pools` must describe as many EPs as the space has).
    pub fn with_pools(mut self, pools: CorePools) -> Self {
        self.pools = pools;
        self
    }

    /// The EPs.
    pub fn eps(&self) -> &[Ep] {
        &self.eps
    }

    /// Configurations in the space: `C(N−1, S−1) · E!/(E−S)!` without pools; with them, the
    /// EP factor counts canonical slot orders and core splits ([`CorePools::assignments`]).
    pub fn size(&self) -> f64 {
        pooled_space_size(self.ops.len(), &self.pools, self.stages)
    }

    /// Predicted time of operators `start..end` alone on EP `e` at batch 1 with its own cores,
    /// ns (memoised).
    pub fn stage_ns(&mut self, start: usize, end: usize, e: usize) -> u64 {
        self.stage_ns_with(start, end, e, self.eps[e].cores)
    }

    /// Predicted time of operators `start..end` alone on EP `e` at batch 1 holding `cores`
    /// cores, ns (memoised).
    pub fn stage_ns_with(&mut self, start: usize, end: usize, e: usize, cores: u32) -> u64 {
        let (ops, accel, target) = (self.ops, self.eps[e].accel, self.target);
        *self
            .times
            .entry((start, end, accel, cores))
            .or_insert_with(|| cost::plan(&ops[start..end], 1, accel, cores, target).solo_ns())
    }

    /// The cores a stage on each of `eps` holds when none is moldable: each EP's own.
    pub fn own_cores(&self, eps: &[usize]) -> Vec<u32> {
        eps.iter().map(|&e| self.eps[e].cores).collect()
    }

    /// The slowest stage's predicted time of `config`, ns.
    pub fn bottleneck_ns(&mut self, config: &Config) -> u64 {
        let n = self.ops.len();
        let bounds: Vec<usize> = std::iter::once(0)
            .chain(config.cuts.iter().copied())
            .chain(std::iter::once(n))
            .collect();
        (0..self.stages)
            .map(|k| self.stage_ns_with(bounds[k], bounds[k + 1], config.eps[k], config.cores[k]))
            .max()
            .unwrap_or(0)
    }

    /// Evaluates every configuration; the best is the one with the smallest bottleneck, the
    /// first in enumeration order (cuts lexicographic, then EP arrangements lexicographic, then
    /// core splits lexicographic) on ties. With pools, only canonical arrangements count.
    pub fn exhaustive(&mut self) -> Result<Explored, ExploreError> {
        let size = self.size();
        if size > EXHAUSTIVE_LIMIT as f64 {
            return Err(ExploreError::TooLarge {
                size,
                limit: EXHAUSTIVE_LIMIT,
            });
        }
        let eps = &self.eps;
        let assignments: Vec<(Vec<usize>, Vec<u32>)> =
            arrangements(self.eps.len(), self.stages, usize::MAX)
                .into_iter()
                .filter(|a| self.pools.is_canonical(a))
                .flat_map(|a| {
                    let splits = self.pools.splits(&a, |e| eps[e].cores);
                    splits.into_iter().map(move |c| (a.clone(), c))
                })
                .collect();
        let n = self.ops.len();
        let mut cuts: Vec<usize> = (1..self.stages).collect();
        let mut best: Option<(u64, Config)> = None;
        let mut evaluated = 0u64;
        loop {
            for (eps, cores) in &assignments {
                let config = Config {
                    cuts: cuts.clone(),
                    eps: eps.clone(),
                    cores: cores.clone(),
                };
                let t = self.bottleneck_ns(&config);
                evaluated += 1;
                if best.as_ref().is_none_or(|(b, _)| t < *b) {
                    best = Some((t, config));
                }
            }
            if !next_combination(&mut cuts, n) {
                break;
            }
        }
        let (bottleneck_ns, best) = best.expect("a non-empty space");
        Ok(Explored {
            best,
            bottleneck_ns,
            evaluated,
        })
    }
}

impl DesignSpace<'_> {
    /// The optimum without enumerating the configurations: for every canonical EP arrangement,
    /// a dynamic programme over the stages, the operators they cover and the cores the pooled
    /// stages hold so far gives the least bottleneck exactly (a stage's time depends only on its
    /// operators, EP and cores). The same optimum as [`DesignSpace::exhaustive`] where both run,
    /// possibly another configuration of equal bottleneck; it also serves spaces far too large
    /// to enumerate, such as a 32-core CPU split four ways. Returns the configuration and its
    /// bottleneck, ns.
    pub fn optimum(&mut self) -> (Config, u64) {
        let (n, s) = (self.ops.len(), self.stages);
        let pools = self.pools.clone();
        let mut best: Option<(u64, Config)> = None;
        for eps in arrangements(self.eps.len(), s, usize::MAX) {
            if !pools.is_canonical(&eps) {
                continue;
            }
            // Each stage's core options and its times with each, by cores.
            let options: Vec<Vec<u32>> = eps
                .iter()
                .map(|&e| match pools.pool_of(e) {
                    Some(p) => (1..=pools.capacity(p)).collect(),
                    None => vec![self.eps[e].cores],
                })
                .collect();
            for (&e, cores) in eps.iter().zip(&options) {
                for &c in cores {
                    self.dense(self.eps[e].accel, c);
                }
            }
            let tables: Vec<Vec<Option<&Vec<u64>>>> = eps
                .iter()
                .zip(&options)
                .map(|(&e, cores)| {
                    let most = cores.iter().copied().max().unwrap_or(0) as usize;
                    let mut by_cores = vec![None; most + 1];
                    for &c in cores {
                        by_cores[c as usize] = self.dense.get(&(self.eps[e].accel, c));
                    }
                    by_cores
                })
                .collect();
            let time = |i: usize, j: usize, k: usize, c: u32| {
                tables[k][c as usize].expect("filled above")[i * (n + 1) + j]
            };
            let Some((v, cuts, cores)) = split::min_max_split(n, &eps, &pools, &options, time)
            else {
                continue;
            };
            if best.as_ref().is_none_or(|(b, _)| v < *b) {
                best = Some((v, Config { cuts, eps, cores }));
            }
        }
        let (v, config) = best.expect("a non-empty space");
        (config, v)
    }

    /// Fills the table of every operator range's time on `accel` with `cores` cores, indexed
    /// `start · (N + 1) + end`.
    fn dense(&mut self, accel: usize, cores: u32) {
        if self.dense.contains_key(&(accel, cores)) {
            return;
        }
        let n = self.ops.len();
        let mut table = vec![u64::MAX; (n + 1) * (n + 1)];
        for i in 0..n {
            for j in i + 1..=n {
                table[i * (n + 1) + j] =
                    cost::plan(&self.ops[i..j], 1, accel, cores, self.target).solo_ns();
            }
        }
        self.dense.insert((accel, cores), table);
    }
}

/// Configurations of `stages` stages over `ops` operators on EPs with `pools`:
/// `C(N−1, S−1)` cut choices times [`CorePools::assignments`].
pub fn pooled_space_size(ops: usize, pools: &CorePools, stages: usize) -> f64 {
    let n = ops as f64;
    let choose = (0..stages.saturating_sub(1))
        .fold(1.0, |acc, k| acc * (n - 1.0 - k as f64) / (k as f64 + 1.0));
    choose * pools.assignments(stages)
}

/// Ordered choices of `k` distinct items of `0..n`, in lexicographic order, the first `limit`.
pub fn arrangements(n: usize, k: usize, limit: usize) -> Vec<Vec<usize>> {
    fn go(n: usize, k: usize, limit: usize, current: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if out.len() >= limit {
            return;
        }
        if current.len() == k {
            out.push(current.clone());
            return;
        }
        for x in 0..n {
            if !current.contains(&x) {
                current.push(x);
                go(n, k, limit, current, out);
                current.pop();
            }
        }
    }
    let mut out = Vec::new();
    go(n, k, limit, &mut Vec::with_capacity(k), &mut out);
    out
}

/// The next increasing sequence of cut points in `1..n` after `cuts`, in lexicographic order;
/// `false` when `cuts` was the last.
fn next_combination(cuts: &mut [usize], n: usize) -> bool {
    let k = cuts.len();
    for i in (0..k).rev() {
        // Position i may go up to n − (k − i).
        if cuts[i] < n - (k - i) {
            cuts[i] += 1;
            for j in i + 1..k {
                cuts[j] = cuts[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::profile::DeviceProfile;
    use crate::model::runtime::RuntimeProfile;

    fn xavier_eps(d: &DeviceProfile) -> Vec<Ep> {
        d.accelerators
            .iter()
            .enumerate()
            .map(|(accel, a)| Ep {
                accel,
                cores: if a.kind == crate::hardware::AcceleratorKind::Cpu {
                    4
                } else {
                    1
                },
            })
            .collect()
    }

    #[test]
    fn the_space_has_the_thesis_size_and_the_search_counts_every_configuration() {
        let d = DeviceProfile::builtin("xavier-agx").unwrap();
        let rt = RuntimeProfile::tensorrt();
        let model = crate::model::zoo::build("alexnet", &Default::default()).unwrap();
        let mut space =
            DesignSpace::new(&model.operators, xavier_eps(&d), 3, Target::new(&d, &rt)).unwrap();
        // C(23, 2) · 4!/1! = 253 · 24.
        assert_eq!(space.size(), 253.0 * 24.0);
        let found = space.exhaustive().unwrap();
        assert_eq!(found.evaluated, 253 * 24);
        assert_eq!(found.best.cuts.len(), 2);
    }

    #[test]
    fn exhaustive_search_equals_a_brute_force_over_every_cut_and_mapping() {
        let d = DeviceProfile::builtin("xavier-agx").unwrap();
        let rt = RuntimeProfile::tensorrt();
        let model = crate::model::zoo::build("squeezenet1_1", &Default::default()).unwrap();
        let ops = &model.operators[..20];
        let eps = xavier_eps(&d);
        let target = Target::new(&d, &rt);
        let mut space = DesignSpace::new(ops, eps.clone(), 2, target).unwrap();
        let found = space.exhaustive().unwrap();
        // Brute force, written independently: every cut c and every ordered pair of EPs, each
        // stage planned from scratch.
        let time = |a: usize, b: usize, e: usize| {
            cost::plan(&ops[a..b], 1, eps[e].accel, eps[e].cores, target).solo_ns()
        };
        let mut best = u64::MAX;
        let mut count = 0;
        for c in 1..ops.len() {
            for e0 in 0..eps.len() {
                for e1 in (0..eps.len()).filter(|&e| e != e0) {
                    best = best.min(time(0, c, e0).max(time(c, ops.len(), e1)));
                    count += 1;
                }
            }
        }
        assert_eq!(found.bottleneck_ns, best);
        assert_eq!(found.evaluated, count);
        assert_eq!(space.bottleneck_ns(&found.best), best);
    }

    #[test]
    fn the_dynamic_programme_finds_the_exhaustive_optimum() {
        let d = DeviceProfile::builtin("xavier-agx").unwrap();
        let rt = RuntimeProfile::tensorrt();
        let target = Target::new(&d, &rt);
        for (model, stages) in [("alexnet", 3), ("squeezenet1_1", 2), ("resnet18", 4)] {
            let model = crate::model::zoo::build(model, &Default::default()).unwrap();
            let ops = &model.operators[..model.operators.len().min(40)];
            let mut space = DesignSpace::new(ops, xavier_eps(&d), stages, target).unwrap();
            let found = space.exhaustive().unwrap();
            let (config, ns) = space.optimum();
            assert_eq!(ns, found.bottleneck_ns, "{}", model.name);
            assert_eq!(space.bottleneck_ns(&config), ns, "{}", model.name);
        }
    }

    /// The Xavier's CPU as two slots sharing its 8 cores, beside the GPU and the two DLAs.
    fn pooled_xavier(d: &DeviceProfile) -> (Vec<Ep>, CorePools) {
        let cpu = d.cpu();
        let mut eps = vec![
            Ep {
                accel: cpu,
                cores: 8
            };
            2
        ];
        let mut keys = vec![Some(cpu); 2];
        for accel in (0..d.accelerators.len()).filter(|&a| a != cpu) {
            eps.push(Ep { accel, cores: 1 });
            keys.push(None);
        }
        (eps, CorePools::new(&keys, |_| 8))
    }

    #[test]
    fn with_moldable_cpu_stages_every_search_finds_the_brute_force_optimum() {
        let d = DeviceProfile::builtin("xavier-agx").unwrap();
        let rt = RuntimeProfile::tensorrt();
        let target = Target::new(&d, &rt);
        let model = crate::model::zoo::build("squeezenet1_1", &Default::default()).unwrap();
        let ops = &model.operators[..12];
        let (eps, pools) = pooled_xavier(&d);
        let mut space = DesignSpace::new(ops, eps.clone(), 3, target)
            .unwrap()
            .with_pools(pools);
        let found = space.exhaustive().unwrap();
        assert_eq!(found.evaluated as f64, space.size());
        let (config, ns) = space.optimum();
        assert_eq!(ns, found.bottleneck_ns);
        assert_eq!(space.bottleneck_ns(&config), ns);
        // Brute force, written independently: every pair of cuts, every ordered choice of
        // three distinct EPs (slots not merged), every core count 1..=8 on a CPU stage with the
        // two CPU stages' together at most 8.
        let cpu = d.cpu();
        let time = |a: usize, b: usize, e: usize, c: u32| {
            cost::plan(&ops[a..b], 1, eps[e].accel, c, target).solo_ns()
        };
        let mut best = u64::MAX;
        for x in 1..ops.len() {
            for y in x + 1..ops.len() {
                let bounds = [0, x, y, ops.len()];
                for arrangement in arrangements(eps.len(), 3, usize::MAX) {
                    let on_cpu: Vec<usize> = (0..3)
                        .filter(|&k| eps[arrangement[k]].accel == cpu)
                        .collect();
                    for c0 in 1..=8u32 {
                        for c1 in 1..=8u32 {
                            if on_cpu.len() == 2 && c0 + c1 > 8 {
                                continue;
                            }
                            let t = (0..3)
                                .map(|k| {
                                    let c = match on_cpu.iter().position(|&q| q == k) {
                                        Some(0) => c0,
                                        Some(_) => c1,
                                        None => 1,
                                    };
                                    time(bounds[k], bounds[k + 1], arrangement[k], c)
                                })
                                .max()
                                .unwrap();
                            best = best.min(t);
                        }
                    }
                }
            }
        }
        assert_eq!(found.bottleneck_ns, best);
    }

    #[test]
    fn impossible_and_oversized_spaces_are_errors() {
        let d = DeviceProfile::builtin("xavier-agx").unwrap();
        let rt = RuntimeProfile::tensorrt();
        let model = crate::model::zoo::build("resnet152", &Default::default()).unwrap();
        let target = Target::new(&d, &rt);
        assert!(matches!(
            DesignSpace::new(&model.operators, xavier_eps(&d), 5, target),
            Err(ExploreError::Stages { .. })
        ));
        // C(514, 3) · 24 ≈ 5.4·10⁸.
        let mut space = DesignSpace::new(&model.operators, xavier_eps(&d), 4, target).unwrap();
        assert!(matches!(
            space.exhaustive(),
            Err(ExploreError::TooLarge { .. })
        ));
        let mut cuts = vec![1, 2];
        let mut seen = 1;
        while next_combination(&mut cuts, 5) {
            seen += 1;
        }
        // C(4, 2) cut pairs in 1..5.
        assert_eq!(seen, 6);
        assert_eq!(arrangements(3, 2, usize::MAX).len(), 6);
        assert_eq!(arrangements(4, 4, 5).len(), 5);
    }
}
