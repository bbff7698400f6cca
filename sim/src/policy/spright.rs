//! SPRIGHT (Qi et al., SIGCOMM'22): whole functions scaled Knative-style, descriptors passed through shared memory, no cold starts. (Being written: this is the interface.)

use serde::{Deserialize, Serialize};

use super::{Deployment, Policy, PolicyContext};

/// Parameters of `[policy] kind = "spright"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SprightSpec {}

impl SprightSpec {
    /// Checks the parameters; the error is (field below `policy.`, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        Ok(())
    }
}

/// The spright policy.
#[derive(Clone, Debug)]
pub struct SprightPolicy {
    #[allow(dead_code)]
    spec: SprightSpec,
}

impl SprightPolicy {
    /// A policy with these parameters.
    pub fn new(spec: SprightSpec) -> Self {
        SprightPolicy { spec }
    }
}

impl Policy for SprightPolicy {
    fn name(&self) -> &'static str {
        "spright"
    }
    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        super::whole_models_on_gpu(ctx)
    }
}
