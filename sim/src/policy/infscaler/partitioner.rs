//! InfScaler's offline bottleneck-aware partitioning (§IV-A, Eq. 1).
//!
//! The paper's problem, for a model of N operators with complexities c_1 … c_N:
//!
//! ```text
//! argmin_{P_1..P_K}  Σ_k σ(P_k)
//! s.t.  T̂_o + (K−1)·T_p ≤ SLO
//!       P_k = { c_n | n ∈ [p_{k−1}+1, p_k], c_n > mean(C_N) }
//! ```
//!
//! How each symbol is read here:
//! - **c_n** is the operator's FLOPs ([`crate::model::Operator::flops`]) by default; a caller
//!   may pass other complexities to [`solve_with_complexities`] (InfScaler's policy offers the
//!   cost model's predicted operator time, standing in for a measured profile).
//! - **Representative operators**: only operators with c_n strictly above the model's mean
//!   (Σc/N, compared exactly in integers) enter the sets P_k. A partition is a run of
//!   consecutive representative operators; every partition holds at least one (an empty P_k has
//!   no σ, and a partition of small operators alone is what the paper's constraint #1 rules
//!   out), so K ranges over 1..=M for M representative operators.
//! - **σ** is the *population* standard deviation, √(Σ(c−μ)²/n): P_k is the whole set of the
//!   partition's representative complexities, not a sample drawn from a larger one, and the
//!   population form is defined for a single operator (σ = 0) where the sample form (÷ n−1) is
//!   not. Consequence, stated because it matters: singletons cost nothing, so Eq. 1 as written
//!   prefers as many partitions as the SLO allows: K = M for every zoo model at SLO 1.5–3×
//!   (AlexNet 6, ResNet-50 42, BERT-base 36, GPT-2 medium 72), so dozens of functions, each with
//!   its own runtime context in memory. The paper's own configurations never go past three
//!   partitions (Fig. 2: P_5 P_13 P_24), so K is bounded by `max_partitions`, default
//!   [`DEFAULT_MAX_PARTITIONS`] = 3 — a bound taken from the paper's examples, not fitted to a
//!   result; set it high to get Eq. 1 alone.
//! - **T̂_o** is the predicted execution time of the whole model at batch 1 alone on its fastest
//!   accelerator (`cost::plan(..).solo_ns()`, DLA plans including GPU fallback) — the same
//!   prediction the scenario's isolated latency and `stage_slo_budgets` use, so the slack
//!   SLO − T̂_o is exactly the slack the SLO multiplier grants.
//! - **T_p** is generalised from one constant per cut to a per-cut cost: the transport model's
//!   cost of handing the boundary tensor to the next partition with zero-copy tokens,
//!   `TransportSpec::cost(ZeroCopy, bytes, device)` → fixed + work (the steady-state hand-off;
//!   a token fault happens only when no region is free and is left out). The constraint becomes
//!   T̂_o + Σ_cuts T_p(cut) ≤ SLO, which is the paper's (K−1)·T_p when every cut costs the same
//!   (as zero-copy hand-offs do: they do not depend on the tensor's size).
//! - **Cut placement**: between two consecutive representative operators r < r' any cut x in
//!   r+1 ..= r' (paper numbering: x ends a partition after operator #x) gives the same P_k; the
//!   cut goes where the boundary tensor (operator #x's output) is smallest, which also minimises
//!   T_p (costs never decrease with bytes). Ties go to the *latest* such position, so zero-cost
//!   operators that keep the tensor's size (activations, reshapes) stay with the operator that
//!   produced it, as a compiler fusing conv + ReLU would.
//!
//! **Solution** ([`solve`]): exact dynamic programming over the M representative operators.
//! A label at representative j is a partial partition whose last group ends at j, carrying
//! (overhead, K, Σσ); extending it by the group i..=j adds σ(i..=j), one partition and the cost
//! of the cut before i. Labels dominated in all three coordinates are dropped (adding the same
//! extension keeps the order, floating-point addition being monotone), so the kept labels hold
//! every Pareto-optimal partial partition and the optimum is exact. σ of every group comes from
//! integer prefix sums (u128), so equal groups have bit-identical σ. Complexity: at
//! representative j the candidates are the extensions of the fronts at 0..j, at most j·F of
//! them (F: the largest Pareto front at one representative), each checked against a front of
//! at most F labels, so O(M²·F²) time overall (plus sorting) and O(M·F) labels in memory. When
//! every cut costs the same (zero-copy hand-offs do) the overhead is a function of K, so
//! F ≤ min(M, K_max) and the DP is O(M⁴) at worst — about 5·10⁷ steps for the zoo's largest,
//! GPT-2 medium (M = 144 of N = 534 operators); with arbitrary per-cut costs F is bounded by the
//! number of distinct overhead sums below the budget.
//!
//! **Choice among optima**: the least Σσ; objectives within a relative 1e-9 of it count as
//! equal (floating-point sums of the same σ in another order), and among those: fewest
//! partitions, then the least overhead, then the lexicographically smallest list of cut gaps
//! (earliest cuts).

use std::cmp::Ordering;

use crate::model::Model;
use crate::model::cost;
use crate::policy::PolicyContext;
use crate::serving::transport::TransportKind;
use crate::time::SimDuration;

/// Default bound on K: the most partitions of one model in the paper's examples (Fig. 2,
/// P_5 P_13 P_24 of AlexNet).
pub const DEFAULT_MAX_PARTITIONS: usize = 3;

/// Objectives within this relative distance of the optimum count as equal.
pub const OBJECTIVE_TOLERANCE: f64 = 1e-9;

/// Cut points (the paper's 1-based numbering, see `model::partition::split`) of InfScaler's
/// bottleneck-aware partitioning of `model` under the latency budget `slo` for this model:
/// FLOPs complexities, zero-copy per-cut overheads, at most [`DEFAULT_MAX_PARTITIONS`].
pub fn bottleneck_cuts(model: &Model, ctx: &PolicyContext<'_>, slo: SimDuration) -> Vec<usize> {
    bottleneck_partition(model, ctx, slo, Some(DEFAULT_MAX_PARTITIONS)).cuts
}

/// [`bottleneck_cuts`] for partitions that will hand tensors over with `transport`: each cut's
/// T_p is that transport's cost for the boundary tensor, so the plan fits the SLO on the data
/// plane it will actually run on (e.g. Knative's HTTP hops).
pub fn bottleneck_cuts_over(
    model: &Model,
    ctx: &PolicyContext<'_>,
    slo: SimDuration,
    transport: TransportKind,
) -> Vec<usize> {
    let flops: Vec<u64> = model.operators.iter().map(|o| o.flops).collect();
    solve_over(
        model,
        &flops,
        ctx,
        slo,
        Some(DEFAULT_MAX_PARTITIONS),
        transport,
    )
    .cuts
}

/// The partitioning and the figures behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct BottleneckPlan {
    /// Cut points, paper numbering (a cut x ends a partition after operator #x).
    pub cuts: Vec<usize>,
    /// The representative operators (complexity above the model's mean), 0-based.
    pub representative: Vec<usize>,
    /// Σ_k σ(P_k) of the chosen partitions.
    pub objective: f64,
    /// T̂_o: the model alone at batch 1 on its fastest accelerator, ns.
    pub predicted_ns: u64,
    /// Σ over the cuts of T_p(cut), ns.
    pub overhead_ns: u64,
    /// The latency budget the plan was made for, ns.
    pub slo_ns: u64,
}

impl BottleneckPlan {
    /// Number of partitions K.
    pub fn partitions(&self) -> usize {
        self.cuts.len() + 1
    }
}

/// [`bottleneck_cuts`] with FLOPs complexities and an optional bound on K, with its figures.
pub fn bottleneck_partition(
    model: &Model,
    ctx: &PolicyContext<'_>,
    slo: SimDuration,
    max_partitions: Option<usize>,
) -> BottleneckPlan {
    let flops: Vec<u64> = model.operators.iter().map(|o| o.flops).collect();
    solve_with_complexities(model, &flops, ctx, slo, max_partitions)
}

/// The fastest accelerator for `model` at batch 1 and the predicted time there, ns.
pub fn predicted_execution(model: &Model, ctx: &PolicyContext<'_>) -> (usize, u64) {
    cost::fastest_solo(&model.operators, ctx.target())
}

/// Indices (0-based) of the operators whose complexity is strictly above the mean, compared
/// exactly: c_n · N > Σc.
pub fn representative_ops(complexities: &[u64]) -> Vec<usize> {
    let n = complexities.len() as u128;
    let total: u128 = complexities.iter().map(|&c| u128::from(c)).sum();
    (0..complexities.len())
        .filter(|&i| u128::from(complexities[i]) * n > total)
        .collect()
}

/// Eq. 1 for `model` with the given per-operator `complexities` (one per operator).
pub fn solve_with_complexities(
    model: &Model,
    complexities: &[u64],
    ctx: &PolicyContext<'_>,
    slo: SimDuration,
    max_partitions: Option<usize>,
) -> BottleneckPlan {
    solve_over(
        model,
        complexities,
        ctx,
        slo,
        max_partitions,
        TransportKind::ZeroCopy,
    )
}

/// [`solve_with_complexities`] with each cut costed by `transport`.
pub fn solve_over(
    model: &Model,
    complexities: &[u64],
    ctx: &PolicyContext<'_>,
    slo: SimDuration,
    max_partitions: Option<usize>,
    transport: TransportKind,
) -> BottleneckPlan {
    debug_assert_eq!(complexities.len(), model.operators.len());
    let (fastest, predicted_ns) = predicted_execution(model, ctx);
    let bpe = ctx.device.accelerators[fastest].precision.bytes_per_elem();
    let reps = representative_ops(complexities);
    let mut plan = BottleneckPlan {
        cuts: Vec::new(),
        representative: reps.clone(),
        objective: 0.0,
        predicted_ns,
        overhead_ns: 0,
        slo_ns: slo.as_ns(),
    };
    if reps.is_empty() {
        return plan;
    }
    // Per gap between consecutive representatives: the cut with the smallest boundary tensor
    // (ties: the latest), and its transport cost.
    let gaps: Vec<(usize, u64)> = reps
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            // Boundary operator (0-based) o in a..b; the cut is x = o + 1.
            let o = (a..b)
                .rev()
                .min_by_key(|&o| model.operators[o].output_elems)
                .unwrap_or(a);
            let bytes = model.operators[o].output_bytes(bpe);
            let c = ctx.transport.cost(transport, bytes, ctx.device);
            (o + 1, c.fixed_ns + c.work_ns)
        })
        .collect();
    let rep_c: Vec<u64> = reps.iter().map(|&i| complexities[i]).collect();
    let gap_cost: Vec<u64> = gaps.iter().map(|g| g.1).collect();
    let problem = Problem {
        complexities: &rep_c,
        gap_cost_ns: &gap_cost,
        budget_ns: slo.as_ns().saturating_sub(predicted_ns),
        max_groups: max_partitions.unwrap_or(usize::MAX),
    };
    let sol = solve(&problem);
    plan.cuts = sol.cut_gaps.iter().map(|&g| gaps[g].0).collect();
    plan.objective = sol.objective;
    plan.overhead_ns = sol.overhead_ns;
    plan
}

/// Eq. 1 over the representative operators alone.
#[derive(Clone, Copy, Debug)]
pub struct Problem<'a> {
    /// Complexities of the M representative operators, in model order.
    pub complexities: &'a [u64],
    /// Cost of a cut in gap g (between representatives g and g+1), ns; M−1 entries.
    pub gap_cost_ns: &'a [u64],
    /// SLO − T̂_o: the most the cuts may cost together, ns.
    pub budget_ns: u64,
    /// Largest K allowed (≥ 1 is implied: one partition is always allowed).
    pub max_groups: usize,
}

/// The optimum of a [`Problem`].
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// Gaps cut, increasing (gap g lies between representatives g and g+1).
    pub cut_gaps: Vec<usize>,
    /// Σ_k σ(P_k).
    pub objective: f64,
    /// Σ of the cut costs, ns.
    pub overhead_ns: u64,
}

/// Population standard deviation of every run of representatives, from integer sums.
struct SigmaTable {
    m: usize,
    sigma: Vec<f64>,
}

impl SigmaTable {
    fn new(c: &[u64]) -> Self {
        let m = c.len();
        let mut sigma = vec![0.0; m * m];
        for i in 0..m {
            let (mut s1, mut s2) = (0u128, 0u128);
            for (j, &cj) in c.iter().enumerate().skip(i) {
                s1 += u128::from(cj);
                s2 += u128::from(cj) * u128::from(cj);
                let n = (j - i + 1) as u128;
                // n²·Var = n·Σc² − (Σc)², exact and ≥ 0.
                let num = n * s2 - s1 * s1;
                sigma[i * m + j] = (num as f64).sqrt() / n as f64;
            }
        }
        SigmaTable { m, sigma }
    }

    /// σ of representatives i..=j.
    fn get(&self, i: usize, j: usize) -> f64 {
        self.sigma[i * self.m + j]
    }
}

/// σ (population) of one group, as the DP computes it.
pub fn group_sigma(c: &[u64]) -> f64 {
    SigmaTable::new(c).get(0, c.len().saturating_sub(1))
}

/// A partial partition ending at some representative.
#[derive(Clone, Copy, Debug)]
struct Label {
    overhead: u64,
    groups: usize,
    objective: f64,
    /// (representative where the previous group ended, index of its label) or none.
    prev: Option<(usize, usize)>,
}

/// Solves a [`Problem`] exactly (see the module documentation for the rule among optima).
/// With no representatives the answer is one partition.
pub fn solve(p: &Problem<'_>) -> Solution {
    let m = p.complexities.len();
    if m == 0 {
        return Solution {
            cut_gaps: Vec::new(),
            objective: 0.0,
            overhead_ns: 0,
        };
    }
    let sigma = SigmaTable::new(p.complexities);
    let max_groups = p.max_groups.clamp(1, m);
    let mut labels: Vec<Vec<Label>> = Vec::with_capacity(m);
    for j in 0..m {
        let mut cands = vec![Label {
            overhead: 0,
            groups: 1,
            objective: sigma.get(0, j),
            prev: None,
        }];
        for i in 1..=j {
            // Group i..=j after a partition ending at i−1, cut in gap i−1.
            let s = sigma.get(i, j);
            for (li, l) in labels[i - 1].iter().enumerate() {
                let overhead = l.overhead + p.gap_cost_ns[i - 1];
                if overhead > p.budget_ns || l.groups + 1 > max_groups {
                    continue;
                }
                cands.push(Label {
                    overhead,
                    groups: l.groups + 1,
                    objective: l.objective + s,
                    prev: Some((i - 1, li)),
                });
            }
        }
        let front = pareto(cands, &labels);
        labels.push(front);
    }
    let finals = &labels[m - 1];
    let best = finals
        .iter()
        .map(|l| l.objective)
        .fold(f64::INFINITY, f64::min);
    let tol = OBJECTIVE_TOLERANCE * best.abs().max(1.0);
    let mut chosen: Option<(usize, Vec<usize>)> = None;
    for (li, l) in finals.iter().enumerate() {
        if l.objective > best + tol {
            continue;
        }
        let gaps = cut_gaps(&labels, m - 1, li);
        let better = match &chosen {
            None => true,
            Some((ci, cg)) => {
                let c = &finals[*ci];
                (l.groups, l.overhead, &gaps) < (c.groups, c.overhead, cg)
            }
        };
        if better {
            chosen = Some((li, gaps));
        }
    }
    let (li, cut_gaps) = chosen.expect("one partition is always feasible");
    let l = finals[li];
    Solution {
        cut_gaps,
        objective: l.objective,
        overhead_ns: l.overhead,
    }
}

/// The gaps cut by label `li` ending at representative `j`.
fn cut_gaps(labels: &[Vec<Label>], mut j: usize, mut li: usize) -> Vec<usize> {
    let mut gaps = Vec::new();
    while let Some((pj, pl)) = labels[j][li].prev {
        gaps.push(pj);
        j = pj;
        li = pl;
    }
    gaps.reverse();
    gaps
}

/// Keeps the labels no other label dominates (≤ in overhead, groups and objective); among
/// labels equal in all three, the one with the lexicographically smallest cut list.
fn pareto(mut cands: Vec<Label>, labels: &[Vec<Label>]) -> Vec<Label> {
    cands.sort_by(|a, b| {
        a.overhead
            .cmp(&b.overhead)
            .then(a.groups.cmp(&b.groups))
            .then(a.objective.total_cmp(&b.objective))
    });
    let mut front: Vec<Label> = Vec::new();
    for c in cands {
        // Sorted: only an earlier (kept) label can dominate c.
        let mut dominated = false;
        for k in front.iter_mut() {
            if k.groups <= c.groups && k.objective <= c.objective {
                if k.overhead == c.overhead && k.groups == c.groups && k.objective == c.objective {
                    // Full tie: keep the earlier cut list.
                    if lex_cmp(labels, &c, k) == Ordering::Less {
                        *k = c;
                    }
                }
                dominated = true;
                break;
            }
        }
        if !dominated {
            front.push(c);
        }
    }
    front
}

/// Compares the cut lists of two labels ending at the same representative.
fn lex_cmp(labels: &[Vec<Label>], a: &Label, b: &Label) -> Ordering {
    let list = |l: &Label| {
        let mut gaps = match l.prev {
            Some((pj, pl)) => {
                let mut g = cut_gaps(labels, pj, pl);
                g.push(pj);
                g
            }
            None => Vec::new(),
        };
        gaps.shrink_to_fit();
        gaps
    };
    list(a).cmp(&list(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::profile::DeviceProfile;
    use crate::model::{OpKind, Operator};
    use crate::serving::transport::TransportSpec;
    use proptest::prelude::*;

    /// Every cut set over the M−1 gaps, scored and chosen by the same rule as [`solve`].
    fn brute_force(p: &Problem<'_>) -> Vec<(Vec<usize>, f64, u64)> {
        let m = p.complexities.len();
        let mut feasible = Vec::new();
        for mask in 0u32..(1 << (m - 1)) {
            let gaps: Vec<usize> = (0..m - 1).filter(|g| mask & (1 << g) != 0).collect();
            let overhead: u64 = gaps.iter().map(|&g| p.gap_cost_ns[g]).sum();
            if overhead > p.budget_ns || gaps.len() + 1 > p.max_groups.max(1) {
                continue;
            }
            let mut objective = 0.0;
            let mut start = 0;
            for end in gaps.iter().map(|&g| g + 1).chain([m]) {
                objective += group_sigma(&p.complexities[start..end]);
                start = end;
            }
            feasible.push((gaps, objective, overhead));
        }
        feasible
    }

    fn check_against_brute_force(p: &Problem<'_>) {
        let all = brute_force(p);
        let best = all.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
        let tol = OBJECTIVE_TOLERANCE * best.abs().max(1.0);
        let min_k = all
            .iter()
            .filter(|s| s.1 <= best + tol)
            .map(|s| s.0.len())
            .min()
            .unwrap();
        let tied: Vec<_> = all
            .iter()
            .filter(|s| s.1 <= best + tol && s.0.len() == min_k)
            .collect();
        let min_over = tied.iter().map(|s| s.2).min().unwrap();
        let tied: Vec<_> = tied.into_iter().filter(|s| s.2 == min_over).collect();
        let sol = solve(p);
        assert!(
            (sol.objective - best).abs() <= tol,
            "{sol:?} vs best {best}"
        );
        assert_eq!(sol.cut_gaps.len(), min_k, "{sol:?}");
        assert_eq!(sol.overhead_ns, min_over);
        assert!(sol.overhead_ns <= p.budget_ns);
        // Where the rule leaves several cut sets, any of them is an optimum; where it leaves
        // one, it must be that one.
        if tied.len() == 1 {
            assert_eq!(sol.cut_gaps, tied[0].0);
        } else {
            assert!(tied.iter().any(|s| s.0 == sol.cut_gaps));
        }
    }

    proptest! {
        #[test]
        fn dp_equals_brute_force_on_random_small_problems(
            c in prop::collection::vec(1u64..40, 1..11),
            costs in prop::collection::vec(1u64..5, 10),
            budget in 0u64..25,
            max_groups in 1usize..12,
        ) {
            let gap_cost = &costs[..c.len() - 1];
            let p = Problem { complexities: &c, gap_cost_ns: gap_cost, budget_ns: budget, max_groups };
            check_against_brute_force(&p);
        }

        #[test]
        fn dp_equals_brute_force_with_equal_cut_costs_and_large_complexities(
            c in prop::collection::vec(1u64..5_000_000_000, 1..11),
            budget in 0u64..12,
        ) {
            // Zero-copy: every cut costs the same, so the budget bounds K alone.
            let gap_cost = vec![1; c.len() - 1];
            let p = Problem { complexities: &c, gap_cost_ns: &gap_cost, budget_ns: budget, max_groups: usize::MAX };
            check_against_brute_force(&p);
            let sol = solve(&p);
            prop_assert!(sol.cut_gaps.len() as u64 <= budget);
        }
    }

    #[test]
    fn hand_computed_case() {
        // Complexities 10, 12, 100, 30: population σ of {10, 12} = 1, of {100} = 0, of {30} = 0,
        // of {12, 100} = 44, of {10, 12, 100} = √(Σ(c−40.67)²/3) = 41.0 …
        // Budget for one cut (costs 1 each, budget 1): the best single cut is after 12:
        // σ{10,12} + σ{100,30} = 1 + 35 = 36; after 10: 0 + σ{12,100,30} = 37.9; after 100:
        // σ{10,12,100} + 0 = 41.0. So gap 1, objective 36.
        let c = [10, 12, 100, 30];
        let p = Problem {
            complexities: &c,
            gap_cost_ns: &[1, 1, 1],
            budget_ns: 1,
            max_groups: usize::MAX,
        };
        let sol = solve(&p);
        assert_eq!(sol.cut_gaps, vec![1]);
        assert!((sol.objective - 36.0).abs() < 1e-12);
        // Budget 2: two cuts; {10,12}{100}{30} = 1 beats {10}{12}{100,30} = 35 and
        // {10}{12,100}{30} = 44. Budget 3: all singletons, objective 0, K = 4.
        let p2 = Problem { budget_ns: 2, ..p };
        assert_eq!(solve(&p2).cut_gaps, vec![1, 2]);
        let p3 = Problem { budget_ns: 3, ..p };
        assert_eq!(solve(&p3).cut_gaps, vec![0, 1, 2]);
        assert_eq!(solve(&p3).objective, 0.0);
        // Equal complexities: σ = 0 for any grouping, so the tie-break keeps one partition.
        let flat = [7, 7, 7];
        let p4 = Problem {
            complexities: &flat,
            gap_cost_ns: &[1, 1],
            budget_ns: 10,
            max_groups: usize::MAX,
        };
        assert!(solve(&p4).cut_gaps.is_empty());
        // max_groups = 2 with budget 3 gives the best single cut again.
        let p5 = Problem {
            max_groups: 2,
            ..p3
        };
        assert_eq!(solve(&p5).cut_gaps, vec![1]);
    }

    fn op(name: &str, flops: u64, out: u64) -> Operator {
        Operator {
            name: name.into(),
            kind: OpKind::Conv,
            flops,
            input_elems: out,
            output_elems: out,
            params: 1000,
        }
    }

    #[test]
    fn representatives_are_strictly_above_the_mean_and_cuts_sit_at_the_smallest_tensor() {
        // FLOPs 100, 1, 1, 100, 1, 100: mean 50.5, representatives #1, #4, #6 (0-based 0, 3, 5).
        // Between #1 and #4 the outputs of #1..#3 are 50, 20, 20: the smallest is 20, tied
        // between #2 and #3 → the latest, cut 3. Between #4 and #6: #4 → 10, #5 → 10 → cut 5.
        let m = Model {
            name: "toy".into(),
            input_shape: vec![1],
            operators: vec![
                op("a", 300_000_000, 50),
                op("b", 1, 20),
                op("c", 1, 20),
                op("d", 200_000_000, 10),
                op("e", 1, 10),
                op("f", 400_000_000, 5),
            ],
        };
        let d = DeviceProfile::builtin("xavier-agx").unwrap();
        let t = TransportSpec::default();
        let models = [m.clone()];
        // A generous SLO: every representative alone (σ = 0 each).
        let c = PolicyContext::roofline(&d, &models, &t, SimDuration::from_secs(1));
        let plan = bottleneck_partition(&m, &c, c.slo, None);
        assert_eq!(plan.representative, vec![0, 3, 5]);
        assert_eq!(plan.cuts, vec![3, 5]);
        assert_eq!(plan.objective, 0.0);
        // Two zero-copy hand-offs at 30 µs each (TransportSpec's default token hand-off).
        assert_eq!(plan.overhead_ns, 60_000);
        assert_eq!(bottleneck_cuts(&m, &c, c.slo), plan.cuts);
        // max_partitions 1: whole.
        assert!(bottleneck_partition(&m, &c, c.slo, Some(1)).cuts.is_empty());
        // Room for one hand-off only (SLO = T̂_o + 30 µs): {300M}{200M, 400M} has σ = 100M,
        // {300M, 200M}{400M} has σ = 50M → cut in the second gap, at 5.
        let one = SimDuration::from_ns(plan.predicted_ns + 30_000);
        let p1 = bottleneck_partition(&m, &c, one, None);
        assert_eq!(p1.cuts, vec![5]);
        assert!((p1.objective - 50e6).abs() < 1e-3);
        // 1 ns short of that: no cut.
        let none = SimDuration::from_ns(plan.predicted_ns + 29_999);
        assert!(bottleneck_partition(&m, &c, none, None).cuts.is_empty());
    }

    #[test]
    fn respects_the_slo_bound_on_the_zoo() {
        let d = DeviceProfile::builtin("xavier-agx").unwrap();
        let t = TransportSpec::default();
        for name in ["alexnet", "resnet50", "bert_base"] {
            let m = crate::model::zoo::build(name, &Default::default()).unwrap();
            let models = [m.clone()];
            for mult in [1.0, 1.5, 2.0, 3.0] {
                let (_, t_o) = predicted_execution(
                    &m,
                    &PolicyContext::roofline(&d, &models, &t, SimDuration::ZERO),
                );
                let slo = SimDuration::from_ns((t_o as f64 * mult) as u64);
                let c = PolicyContext::roofline(&d, &models, &t, slo);
                let plan = bottleneck_partition(&m, &c, slo, None);
                if mult == 1.0 {
                    assert!(plan.cuts.is_empty(), "{name}: no slack, no cut");
                }
                assert!(plan.predicted_ns + plan.overhead_ns <= slo.as_ns().max(t_o));
                assert!(crate::model::partition::split(m.operators.len(), &plan.cuts).is_ok());
            }
        }
    }
}
