//! Seeded random streams: one independent ChaCha stream per named component.
//!
//! A stream's seed is derived from the run seed and the component's name, so adding a component
//! never shifts the numbers another component draws, and results do not depend on `rand`'s
//! `StdRng` algorithm, which may change between releases.

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

/// The random generator every component draws from.
pub type SimRng = ChaCha12Rng;

/// The seed of a run, from which every named stream derives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunSeed(pub u64);

impl RunSeed {
    /// An independent generator for the component called `name`.
    pub fn stream(self, name: &str) -> SimRng {
        let mut seed = [0u8; 32];
        let a = splitmix64(self.0 ^ fnv1a64(name.as_bytes()));
        let b = splitmix64(a);
        let c = splitmix64(b);
        let d = splitmix64(c);
        for (chunk, word) in seed.chunks_exact_mut(8).zip([a, b, c, d]) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        SimRng::from_seed(seed)
    }

    /// A derived seed for a sub-run identified by `key` (used by sweeps and repetitions).
    pub fn derive(self, key: &str) -> RunSeed {
        RunSeed(splitmix64(self.0.wrapping_add(fnv1a64(key.as_bytes()))))
    }
}

/// FNV-1a, 64-bit: a stable hash of a component name (std's hasher is not stable across releases).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA 2014): spreads nearby inputs far apart.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let seed = RunSeed(42);
        let a1: u64 = seed.stream("arrivals").random();
        let a2: u64 = seed.stream("arrivals").random();
        let b: u64 = seed.stream("service").random();
        let other: u64 = RunSeed(43).stream("arrivals").random();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, other);
    }

    #[test]
    fn stream_values_are_pinned() {
        // Guards against an accidental change of generator, of its version's output or of the
        // seed derivation: results files of earlier runs must stay reproducible. The values were
        // recorded once; a change here invalidates every committed result.
        let firsts: Vec<u64> = [(1, "x"), (1, "arrivals"), (42, "service")]
            .into_iter()
            .map(|(seed, name)| RunSeed(seed).stream(name).random())
            .collect();
        assert_eq!(
            firsts,
            [
                13_875_926_661_815_428_176,
                16_229_339_291_625_533_565,
                12_991_137_331_464_965_400
            ]
        );
        assert_eq!(RunSeed(7).derive("rate=10").0, 18_245_687_983_557_360_701);
    }
}
