//! The sizes of a run's requests: where each request's tokens come from, and the latency
//! objective a request of that size gets.

use std::sync::Arc;

use super::RequestTokens;
use crate::model::tokens::TokenModel;
use crate::time::SimDuration;

/// How a run's requests are sized (only for apps whose stages depend on the size, with
/// `app.tokens = "trace"` or `app.generated_tokens`).
#[derive(Clone, Debug)]
pub struct Sizing {
    /// The app's stages at every size.
    pub model: Arc<TokenModel>,
    /// Every request's size, when they do not come from the trace.
    pub fixed: Option<RequestTokens>,
    /// The reference request: the component-wise median of the trace's requests (or the fixed
    /// size). The policies' planning models and the scenario's SLO are for it.
    pub reference: RequestTokens,
    /// Isolated batch-1 time of each stage that does not depend on the size, ns.
    pub fixed_stage_ns: Vec<u64>,
    /// The objective: relative (× the request's own isolated latency) or absolute.
    pub objective: Objective,
}

/// A latency objective.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Objective {
    /// This multiple of each request's isolated latency.
    Multiplier(f64),
    /// The same latency for every request.
    Absolute(SimDuration),
}

impl Sizing {
    /// The isolated batch-1 latency of a request of `tokens`.
    pub fn isolated(&self, tokens: RequestTokens) -> SimDuration {
        SimDuration::from_ns(self.model.isolated_ns(tokens, &self.fixed_stage_ns))
    }

    /// The latency objective of a request of `tokens`.
    pub fn slo(&self, tokens: RequestTokens) -> SimDuration {
        match self.objective {
            Objective::Absolute(slo) => slo,
            Objective::Multiplier(m) => {
                SimDuration::from_secs_f64(self.isolated(tokens).as_secs_f64() * m)
            }
        }
    }

    /// The size of a request whose arrival process says `from_trace` (the trace's, or the
    /// fixed size).
    pub fn tokens(&self, from_trace: Option<RequestTokens>) -> RequestTokens {
        self.fixed.or(from_trace).unwrap_or(self.reference)
    }
}

/// The component-wise medians (lower middle) of `sizes`; `None` when empty.
pub fn median_tokens(sizes: &[RequestTokens]) -> Option<RequestTokens> {
    let median = |mut v: Vec<u32>| {
        v.sort_unstable();
        v.get((v.len().max(1) - 1) / 2).copied()
    };
    Some(RequestTokens {
        context: median(sizes.iter().map(|t| t.context).collect())?,
        generated: median(sizes.iter().map(|t| t.generated).collect())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_are_per_column() {
        let t = |context, generated| RequestTokens { context, generated };
        assert_eq!(
            median_tokens(&[t(10, 300), t(500, 1), t(20, 40)]),
            Some(t(20, 40))
        );
        assert_eq!(median_tokens(&[t(1, 2), t(3, 4)]), Some(t(1, 2)));
        assert_eq!(median_tokens(&[]), None);
    }
}
