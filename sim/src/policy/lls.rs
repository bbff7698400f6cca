//! LLS, the least-loaded scheduler ODIN is compared with (the thesis cites Paragon [23], T340;
//! ../shared/THESIS.md §3): when a stage slows down, move it whole to the least-loaded execution
//! place, cuts unchanged.
//!
//! [proposed]: the same change detector as ODIN ([`super::pipeline::ChangeDetector`]); the
//! stage moved is the one whose time rose most over its reference; the place it goes to is the
//! EP with the lowest utilisation in the window, EPs hosting no stage first (on a pipeline with
//! a stage on every EP, it then shares an EP with another stage). A change that is a speed-up
//! (interference leaving) only resets the reference: LLS does not move stages back.

use serde::{Deserialize, Serialize};

use super::pipeline::{self, ChangeDetector, PipelineSpec, Tracker};
use super::{Action, Deployment, Observation, Policy, PolicyContext};
use crate::hardware::profile::DeviceProfile;
use crate::model::Model;
use crate::serving::ProcessLayout;
use crate::time::SimDuration;

/// Parameters of `[policy] kind = "lls"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlsSpec {
    /// EPs, interval and change detection (as ODIN's).
    #[serde(flatten)]
    pub pipeline: PipelineSpec,
}

impl LlsSpec {
    /// Checks the parameters; the error is (field, message).
    pub fn validate(
        &self,
        models: &[Model],
        device: &DeviceProfile,
    ) -> Result<(), (String, String)> {
        self.pipeline.validate(models, device)
    }
}

/// The LLS policy.
#[derive(Debug)]
pub struct LlsPolicy {
    spec: LlsSpec,
    tracker: Tracker,
    detector: ChangeDetector,
}

impl LlsPolicy {
    /// LLS with `spec`.
    pub fn new(spec: LlsSpec) -> Self {
        LlsPolicy {
            spec,
            tracker: Tracker::default(),
            detector: ChangeDetector::default(),
        }
    }
}

impl Policy for LlsPolicy {
    fn name(&self) -> &'static str {
        "lls"
    }

    fn process_layout(&self) -> ProcessLayout {
        ProcessLayout::PerInstance
    }

    fn deploy(&mut self, ctx: &PolicyContext<'_>) -> Deployment {
        let (tracker, deployment) = pipeline::deploy(&self.spec.pipeline, ctx);
        self.tracker = tracker;
        deployment
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        Some(self.spec.pipeline.interval.0)
    }

    fn on_tick(&mut self, observation: &Observation, actions: &mut Vec<Action>) {
        let Some((current, times)) = self.tracker.window(observation) else {
            return;
        };
        let Some(ratio) = self.detector.observe(&times, &self.spec.pipeline) else {
            return;
        };
        let (stage, worst) = ratio
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("a pipeline has a stage");
        if worst <= self.spec.pipeline.detect {
            return; // A speed-up: the new times are the reference.
        }
        let utilization =
            |e: usize| observation.accelerators[self.tracker.places.eps[e].accel].utilization;
        let target = (0..self.tracker.places.eps.len())
            .filter(|&e| e != current.eps[stage])
            .min_by(|&x, &y| {
                let hosts = |e: usize| current.eps.contains(&e);
                hosts(x)
                    .cmp(&hosts(y))
                    .then(utilization(x).total_cmp(&utilization(y)))
            });
        let Some(target) = target else { return };
        let mut next = current.clone();
        next.eps[stage] = target;
        next.cores[stage] = self.tracker.places.eps[target].cores;
        self.tracker.go_to(next, actions);
    }
}
