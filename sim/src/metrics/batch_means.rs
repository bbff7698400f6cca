//! Batch means of the SLO outcome, in the order requests finish: the data for a confidence
//! interval on the attainment that holds when outcomes are correlated.
//!
//! Late requests come in clusters (a busy period delays every request in it), so n outcomes hold
//! far fewer than n independent samples and an interval that assumes independence (Wilson's) is
//! too narrow. The method of batch means (Law & Kelton, *Simulation Modeling and Analysis*,
//! §9.5.3) cuts the sequence into k consecutive batches; when batches are long compared with the
//! correlation, their means are nearly independent and a Student-t interval on them is valid.
//! The batch length is not known in advance, so it doubles as the run goes (Fishman's
//! "LABATCH" idea in its simplest form): at most [`MAX_BATCHES`] batches are kept, and when they
//! are all full, neighbours merge and the batch length doubles. Memory stays constant.

/// Most batches kept; after the first merge there are always at least half as many.
pub const MAX_BATCHES: usize = 40;

/// Batch sums of a 0/1 sequence, with the batch length doubling to keep at most
/// [`MAX_BATCHES`] batches.
#[derive(Clone, Debug, Default)]
pub struct BatchMeans {
    /// Successes per complete batch.
    sums: Vec<u64>,
    /// Outcomes per batch.
    length: u64,
    /// The batch being filled: successes and outcomes so far.
    current_sum: u64,
    current_len: u64,
}

impl BatchMeans {
    /// An empty sequence.
    pub fn new() -> Self {
        BatchMeans {
            sums: Vec::with_capacity(MAX_BATCHES),
            length: 1,
            current_sum: 0,
            current_len: 0,
        }
    }

    /// The next outcome.
    pub fn record(&mut self, success: bool) {
        self.current_sum += u64::from(success);
        self.current_len += 1;
        if self.current_len < self.length {
            return;
        }
        self.sums.push(self.current_sum);
        self.current_sum = 0;
        self.current_len = 0;
        if self.sums.len() == MAX_BATCHES {
            for i in 0..MAX_BATCHES / 2 {
                self.sums[i] = self.sums[2 * i] + self.sums[2 * i + 1];
            }
            self.sums.truncate(MAX_BATCHES / 2);
            self.length *= 2;
        }
    }

    /// The means of the complete batches, in order (the incomplete last batch is left out);
    /// empty until there are at least half of [`MAX_BATCHES`].
    pub fn means(&self) -> Vec<f64> {
        if self.sums.len() < MAX_BATCHES / 2 {
            return Vec::new();
        }
        self.sums
            .iter()
            .map(|&s| s as f64 / self.length as f64)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_double_and_keep_every_outcome() {
        let mut b = BatchMeans::new();
        for i in 0..1000u64 {
            b.record(i % 10 != 0);
        }
        let means = b.means();
        // 1000 outcomes: batches of 32 after five doublings (40 × 16 < 1000 ≤ 40 × 32 ... ),
        // between 20 and 40 of them.
        assert!((MAX_BATCHES / 2..MAX_BATCHES).contains(&means.len()));
        assert_eq!(b.length, 32);
        let covered = means.len() as u64 * b.length;
        assert_eq!(covered + b.current_len, 1000);
        let successes: f64 = means.iter().map(|m| m * b.length as f64).sum();
        assert_eq!(successes as u64 + b.current_sum, 900);
        // Too few outcomes for 20 batches: none.
        let mut few = BatchMeans::new();
        (0..19).for_each(|_| few.record(true));
        assert!(few.means().is_empty());
        few.record(false);
        assert_eq!(few.means().len(), 20);
    }
}
