//! Knative Serving's KPA autoscaler over the partitioned functions, HTTP between functions, scale to zero. (Being written: this is the interface.)

use serde::{Deserialize, Serialize};

use super::{Deployment, Policy, PolicyContext};

/// Parameters of `[policy] kind = "knative"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnativeSpec {}

impl KnativeSpec {
    /// Checks the parameters; the error is (field below `policy.`, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        Ok(())
    }
}

/// The knative policy.
#[derive(Clone, Debug)]
pub struct KnativePolicy {
    #[allow(dead_code)]
    spec: KnativeSpec,
}

impl KnativePolicy {
    /// A policy with these parameters.
    pub fn new(spec: KnativeSpec) -> Self {
        KnativePolicy { spec }
    }
}

impl Policy for KnativePolicy {
    fn name(&self) -> &'static str {
        "knative"
    }
    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        super::whole_models_on_gpu(ctx)
    }
}
