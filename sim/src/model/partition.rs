//! Cut points: how a model's operator list splits into partitions.

use std::ops::Range;

/// Splits `n_ops` operators at `cuts` into consecutive ranges of operator indices (0-based,
/// end-exclusive). A cut `x` ends a partition after operator `#x` in the paper's 1-based
/// numbering (`P_x`), so `cuts = [5, 13]` on AlexNet's 24 operators gives `0..5, 5..13, 13..24`.
/// Cuts must increase strictly and lie in `1..n_ops`.
pub fn split(n_ops: usize, cuts: &[usize]) -> Result<Vec<Range<usize>>, String> {
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts {
        if cut <= start || cut >= n_ops {
            return Err(format!(
                "cut {cut} is not allowed: cuts must increase strictly and lie between 1 and {} \
                 (the model has {n_ops} operators; a cut x ends a partition after operator #x)",
                n_ops.saturating_sub(1)
            ));
        }
        ranges.push(start..cut);
        start = cut;
    }
    ranges.push(start..n_ops);
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_follow_the_papers_numbering() {
        assert_eq!(split(24, &[5, 13]).unwrap(), vec![0..5, 5..13, 13..24]);
        assert_eq!(split(24, &[]).unwrap(), vec![0..24]);
        assert!(split(24, &[24]).is_err());
        assert!(split(24, &[5, 5]).is_err());
        assert!(split(24, &[0]).is_err());
    }
}
