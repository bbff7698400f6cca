//! InfScaler (Li et al.): bottleneck-aware partitioning, asymmetric auto-scaling (Algorithm 1)
//! and token-based tensor sharing over unified memory. (Being written: this is the interface.)

pub mod partitioner;

use serde::{Deserialize, Serialize};

use super::{Deployment, Policy, PolicyContext};

/// Parameters of `[policy] kind = "infscaler"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfScalerSpec {}

impl InfScalerSpec {
    /// Checks the parameters; the error is (field below `policy.`, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        Ok(())
    }
}

/// The InfScaler policy.
#[derive(Clone, Debug)]
pub struct InfScalerPolicy {
    #[allow(dead_code)]
    spec: InfScalerSpec,
}

impl InfScalerPolicy {
    /// A policy with these parameters.
    pub fn new(spec: InfScalerSpec) -> Self {
        InfScalerPolicy { spec }
    }
}

impl Policy for InfScalerPolicy {
    fn name(&self) -> &'static str {
        "infscaler"
    }
    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        super::whole_models_on_gpu(ctx)
    }
}
