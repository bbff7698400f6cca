//! The deployment a policy chooses for a scenario, without running it (`infscaler plan`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::cost;
use crate::scenario::ResolvedScenario;
use crate::simulation::SimError;

/// A policy's initial deployment with the cost model's view of each partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanReport {
    /// Scenario name.
    pub scenario: String,
    /// App name.
    pub app: String,
    /// Policy name.
    pub policy: String,
    /// Device profile name.
    pub device: String,
    /// The latency objective, ms.
    pub slo_ms: f64,
    /// Transport between partitions.
    pub transport: String,
    /// Partitions in pipeline order.
    pub partitions: Vec<PlannedPartition>,
}

/// One partition of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedPartition {
    /// App stage.
    pub stage: usize,
    /// Model name.
    pub model: String,
    /// First operator (1-based, the paper's numbering).
    pub first_op: usize,
    /// Last operator (1-based, inclusive).
    pub last_op: usize,
    /// Its computational complexity: FLOPs per sample.
    pub flops: u64,
    /// Predicted batch-1 latency alone on each accelerator, ms (DLA plans include GPU fallback).
    pub predicted_ms: BTreeMap<String, f64>,
    /// Instances deployed per accelerator.
    pub instances: BTreeMap<String, u32>,
}

/// Asks the scenario's policy for its initial deployment and describes it.
pub fn plan(scenario: &ResolvedScenario) -> Result<PlanReport, SimError> {
    let mut policy = scenario.scenario.policy.build();
    let ctx = scenario.policy_context();
    let deployment = policy.deploy(&ctx);
    let bad = |message: String| SimError::Deployment {
        policy: policy.name(),
        message,
    };
    let device = &scenario.device;
    let mut partitions = Vec::new();
    for (k, (stage, ops)) in deployment
        .partitions(&scenario.models, device.accelerators.len())
        .map_err(bad)?
        .into_iter()
        .enumerate()
    {
        let model = &scenario.models[stage];
        let slice = &model.operators[ops.clone()];
        let target = match scenario.partition_runtimes.get(k) {
            Some(Some(own)) => cost::Target {
                runtime: own,
                ..ctx.target()
            },
            _ => ctx.target(),
        };
        let predicted_ms = device
            .accelerators
            .iter()
            .enumerate()
            .map(|(a, acc)| {
                (
                    acc.name.clone(),
                    cost::plan(slice, 1, a, acc.cores, target).solo_ns() as f64 / 1e6,
                )
            })
            .collect();
        partitions.push(PlannedPartition {
            stage,
            model: model.name.clone(),
            first_op: ops.start + 1,
            last_op: ops.end,
            flops: slice.iter().map(|o| o.flops).sum(),
            predicted_ms,
            instances: BTreeMap::new(),
        });
    }
    for inst in &deployment.instances {
        let name = device.accelerators[inst.accelerator].name.clone();
        *partitions[inst.partition]
            .instances
            .entry(name)
            .or_insert(0) += 1;
    }
    Ok(PlanReport {
        scenario: scenario.name.clone(),
        app: scenario.app_name.clone(),
        policy: policy.name().to_string(),
        device: device.name.clone(),
        slo_ms: scenario.slo.as_ms_f64(),
        transport: deployment.transport.name().to_string(),
        partitions,
    })
}
