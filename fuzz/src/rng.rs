//! A small deterministic generator (SplitMix64) and a stable hash (FNV-1a).
//!
//! Both are written out here rather than taken from a crate so that a case's input depends only
//! on this file: the same `--seed` and case number give the same bytes in every version of the
//! dependencies, which is what makes `infscaler-fuzz case` and the regression tests reproducible.

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014).
#[derive(Clone, Debug)]
pub struct Rng(u64);

/// One SplitMix64 output step: a bijective mix of 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a, 64 bits: a hash that never changes between versions.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(mix(seed ^ 0x9e37_79b9_7f4a_7c15))
    }

    /// The generator of case `case` of the stream `stream` (a harness) under `seed`.
    pub fn for_case(seed: u64, stream: &str, case: u64) -> Self {
        Rng::new(mix(seed ^ fnv1a(stream.as_bytes())) ^ mix(case.wrapping_add(1)))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A uniform integer in `0..n` (`n` > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        (self.next_u64() % n as u64) as usize
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den < num
    }

    /// A uniformly chosen element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// A small count, most often 1: `1 + ⌊geometric⌋` capped at `max`.
    pub fn small_count(&mut self, max: usize) -> usize {
        let mut n = 1;
        while n < max && self.chance(1, 2) {
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_stable() {
        // Pinned: regression inputs and `case` reproductions depend on these exact numbers.
        assert_eq!(fnv1a(b"scenario"), 0xde42_17cc_72f4_d0cf);
        let mut r = Rng::for_case(1, "scenario", 0);
        let first = r.next_u64();
        assert_eq!(Rng::for_case(1, "scenario", 0).next_u64(), first);
        assert_ne!(Rng::for_case(1, "scenario", 1).next_u64(), first);
        assert_ne!(Rng::for_case(2, "scenario", 0).next_u64(), first);
    }
}
