//! InfScaler's offline bottleneck-aware partitioning (§IV-A, Eq. 1). (Being written.)

use crate::model::Model;
use crate::policy::PolicyContext;
use crate::time::SimDuration;

/// Cut points (the paper's 1-based numbering, see `model::partition::split`) of InfScaler's
/// bottleneck-aware partitioning of `model` under the latency budget `slo` for this model.
pub fn bottleneck_cuts(_model: &Model, _ctx: &PolicyContext<'_>, _slo: SimDuration) -> Vec<usize> {
    Vec::new()
}
