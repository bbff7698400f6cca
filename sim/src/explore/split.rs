//! The min–max split: how to cut `N` operators into consecutive stages on given EPs, and how
//! many cores each pooled stage holds, so that the slowest stage is fastest. One dynamic
//! programme over the stages, the operators they cover and the cores the pooled stages hold so
//! far (one mixed-radix digit per pool), exact for any stage time that depends only on the
//! stage's operators, EP and cores. The exhaustive optimum ([`super::DesignSpace::optimum`]) runs
//! it on the cost model's times, the explorers' seeds ([`crate::policy::search::Space`]) on the
//! hints' weight over speed.

use super::CorePools;

/// The best split of `n` operators over the stages on `eps` (in stage order): stage `k`
/// holds one of `options[k]` cores (ascending; the stages on a pool together at most its
/// cores) and takes `time(i, j, k, cores)` for operators `i..j`. Returns the least bottleneck,
/// the cuts and each stage's cores; on equal bottlenecks the earliest cuts and the fewest
/// cores win. `None` when no split fits (more stages than operators, or than a pool's cores).
pub fn min_max_split<T: Copy + PartialOrd>(
    n: usize,
    eps: &[usize],
    pools: &CorePools,
    options: &[Vec<u32>],
    time: impl Fn(usize, usize, usize, u32) -> T,
) -> Option<(T, Vec<usize>, Vec<u32>)> {
    let s = eps.len();
    if s == 0 || s > n {
        return None;
    }
    let caps: Vec<usize> = (0..pools.count())
        .map(|p| pools.capacity(p) as usize)
        .collect();
    let mut radix = Vec::with_capacity(caps.len());
    let mut states = 1;
    for c in &caps {
        radix.push(states);
        states *= c + 1;
    }
    // The state after stage k holds `c` more cores, if its pool has them.
    let add = |u: usize, k: usize, c: u32| match pools.pool_of(eps[k]) {
        Some(p) if u / radix[p] % (caps[p] + 1) + c as usize > caps[p] => None,
        Some(p) => Some(u + c as usize * radix[p]),
        None => Some(u),
    };
    // best[(k, j, u)]: least bottleneck of operators 0..j in stages 0..=k holding pooled cores
    // u; from: the start of stage k, its cores and u before it.
    let at = |k: usize, j: usize, u: usize| (k * (n + 1) + j) * states + u;
    let mut best: Vec<Option<T>> = vec![None; s * (n + 1) * states];
    let mut from = vec![(0usize, 0u32, 0usize); s * (n + 1) * states];
    for k in 0..s {
        // Every later stage needs an operator.
        for j in k + 1..=n - (s - 1 - k) {
            let starts = if k == 0 { 0..1 } else { k..j };
            for i in starts {
                for u_prev in 0..if k == 0 { 1 } else { states } {
                    let before = if k == 0 {
                        None
                    } else {
                        match best[at(k - 1, i, u_prev)] {
                            Some(b) => Some(b),
                            None => continue,
                        }
                    };
                    for &c in &options[k] {
                        let Some(u) = add(u_prev, k, c) else { break };
                        let t = time(i, j, k, c);
                        let v = match before {
                            Some(b) if b > t => b,
                            _ => t,
                        };
                        if best[at(k, j, u)].is_none_or(|old| v < old) {
                            best[at(k, j, u)] = Some(v);
                            from[at(k, j, u)] = (i, c, u_prev);
                        }
                    }
                }
            }
        }
    }
    let (mut u, v) = (0..states)
        .filter_map(|u| Some((u, best[at(s - 1, n, u)]?)))
        .fold(None, |acc: Option<(usize, T)>, (u, v)| match acc {
            Some((_, b)) if b <= v => acc,
            _ => Some((u, v)),
        })?;
    let (mut cuts, mut cores) = (vec![0; s - 1], vec![0; s]);
    let mut j = n;
    for k in (0..s).rev() {
        let (i, c, u_prev) = from[at(k, j, u)];
        cores[k] = c;
        if k > 0 {
            cuts[k - 1] = i;
        }
        (j, u) = (i, u_prev);
    }
    Some((v, cuts, cores))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_the_brute_force_optimum_with_and_without_a_pool() {
        let w = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0];
        let sum = |i: usize, j: usize| w[i..j].iter().sum::<f64>();
        // Fixed EPs of speeds 1, 2, 1.5.
        let speeds = [1.0, 2.0, 1.5];
        let fixed = CorePools::fixed(3);
        let options = vec![vec![1]; 3];
        let (v, cuts, _) = min_max_split(7, &[0, 1, 2], &fixed, &options, |i, j, k, _| {
            sum(i, j) / speeds[k]
        })
        .unwrap();
        let mut brute = f64::INFINITY;
        for a in 1..7 {
            for b in a + 1..7 {
                let t = (sum(0, a) / 1.0).max(sum(a, b) / 2.0).max(sum(b, 7) / 1.5);
                brute = brute.min(t);
            }
        }
        assert_eq!(v, brute);
        let at = |c: &[usize]| {
            (sum(0, c[0]) / 1.0)
                .max(sum(c[0], c[1]) / 2.0)
                .max(sum(c[1], 7) / 1.5)
        };
        assert_eq!(at(&cuts), brute);

        // Two stages on a 4-core pool, a stage's speed its cores.
        let pool = CorePools::new(&[Some(0), Some(0)], |_| 4);
        let options = vec![vec![1, 2, 3, 4]; 2];
        let (v, cuts, cores) = min_max_split(7, &[0, 1], &pool, &options, |i, j, _, c| {
            sum(i, j) / f64::from(c)
        })
        .unwrap();
        let mut brute = f64::INFINITY;
        for a in 1..7 {
            for c0 in 1..=3u32 {
                for c1 in 1..=4 - c0 {
                    let t = (sum(0, a) / f64::from(c0)).max(sum(a, 7) / f64::from(c1));
                    brute = brute.min(t);
                }
            }
        }
        assert_eq!(v, brute);
        assert!(cores[0] + cores[1] <= 4);
        assert_eq!(
            (sum(0, cuts[0]) / f64::from(cores[0])).max(sum(cuts[0], 7) / f64::from(cores[1])),
            brute
        );
        // More stages than a pool has cores, or than operators: no split.
        let tiny = CorePools::new(&[Some(0), Some(0)], |_| 1);
        assert!(min_max_split(7, &[0, 1], &tiny, &[vec![1], vec![1]], |_, _, _, _| 1).is_none());
        assert!(min_max_split(1, &[0, 1], &fixed, &[vec![1], vec![1]], |_, _, _, _| 1).is_none());
    }
}
