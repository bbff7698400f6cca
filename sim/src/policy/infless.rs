//! INFless (Yang et al., ASPLOS'22): whole-model instances with built-in batching, per-instance resource configurations and LSTH keep-alive / pre-warming. (Being written: this is the interface.)

use serde::{Deserialize, Serialize};

use super::{Deployment, Policy, PolicyContext};

/// Parameters of `[policy] kind = "infless"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfLessSpec {}

impl InfLessSpec {
    /// Checks the parameters; the error is (field below `policy.`, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        Ok(())
    }
}

/// The infless policy.
#[derive(Clone, Debug)]
pub struct InfLessPolicy {
    #[allow(dead_code)]
    spec: InfLessSpec,
}

impl InfLessPolicy {
    /// A policy with these parameters.
    pub fn new(spec: InfLessSpec) -> Self {
        InfLessPolicy { spec }
    }
}

impl Policy for InfLessPolicy {
    fn name(&self) -> &'static str {
        "infless"
    }
    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        super::whole_models_on_gpu(ctx)
    }
}
