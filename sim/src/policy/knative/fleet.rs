//! One KPA per function, driven from a policy's observations as Knative's multiscaler drives its
//! deciders: metrics arrive every 1 s (`scrapeTickInterval`, `pkg/autoscaler/metrics/
//! collector.go`), the deciders tick every 2 s (`tickInterval`, `pkg/autoscaler/scaling/
//! multiscaler.go`), and a revision at zero scale is decided at once when the activator reports
//! demand (`MultiScaler.Poke`).

use super::config::KpaConfig;
use super::kpa::{Decision, Kpa};
use crate::policy::{Action, Observation};
use crate::serving::InstanceConfig;
use crate::time::{SimDuration, SimTime};

/// The decider's period, `tickInterval` in `pkg/autoscaler/scaling/multiscaler.go`.
pub const DECISION_INTERVAL: SimDuration = SimDuration::from_secs(2);

/// One KPA per partition, driven from the policy's 1 s ticks: every tick records each
/// partition's mean concurrency over the tick as its 1 s bucket; every 2 s (and at once for a
/// partition at zero scale that sees demand) each KPA decides, and the difference between its
/// desired scale and the partition's pods (ready or starting, as a Deployment counts replicas)
/// becomes `ScaleOut`/`ScaleIn` actions on one accelerator.
#[derive(Clone, Debug)]
pub struct KpaFleet {
    kpas: Vec<Kpa>,
    accelerator: usize,
    instance: InstanceConfig,
    next_decision: SimTime,
    decisions: Vec<Option<Decision>>,
}

impl KpaFleet {
    /// `partitions` autoscalers with `config`, placing pods on `accelerator` with `instance`.
    pub fn new(
        partitions: usize,
        config: &KpaConfig,
        accelerator: usize,
        instance: InstanceConfig,
    ) -> Self {
        KpaFleet {
            kpas: (0..partitions).map(|_| Kpa::new(config.clone())).collect(),
            accelerator,
            instance,
            next_decision: SimTime::ZERO + DECISION_INTERVAL,
            decisions: vec![None; partitions],
        }
    }

    /// The autoscalers, by global partition index.
    pub fn kpas(&self) -> &[Kpa] {
        &self.kpas
    }

    /// The latest decision of each partition's KPA (`None` before its first).
    pub fn decisions(&self) -> &[Option<Decision>] {
        &self.decisions
    }

    /// Records this tick's metrics and answers the scaling actions.
    pub fn on_tick(&mut self, obs: &Observation, actions: &mut Vec<Action>) {
        let now = obs.now;
        let periodic = now >= self.next_decision;
        if periodic {
            while self.next_decision <= now {
                self.next_decision += DECISION_INTERVAL;
            }
        }
        for (p, (kpa, po)) in self.kpas.iter_mut().zip(&obs.partitions).enumerate() {
            let pods = po.total_instances();
            let starting: u32 = po.starting.iter().sum();
            let ready = pods.saturating_sub(starting);
            let concurrency = po.window_mean_concurrency;
            // Pods are scraped every second; with none, only the activator reports, and only
            // while it holds requests.
            if pods > 0 || concurrency > 0.0 {
                kpa.record(now, concurrency);
            }
            if !(periodic || kpa.wants_poke(concurrency)) {
                continue;
            }
            let decision = kpa.decide(now, ready);
            self.decisions[p] = Some(decision);
            let desired = decision.desired;
            if desired > pods {
                for _ in pods..desired {
                    actions.push(Action::ScaleOut {
                        partition: p,
                        accelerator: self.accelerator,
                        config: self.instance,
                    });
                }
            } else {
                // Fewer replicas: the simulation retires the youngest pod first, so pods still
                // starting go before ready ones, as a ReplicaSet deletes not-ready pods first.
                for _ in desired..pods {
                    actions.push(Action::ScaleIn {
                        partition: p,
                        accelerator: self.accelerator,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::knative::kpa::tests::{cc10, s};

    #[test]
    fn fleet_turns_decisions_into_actions_every_two_seconds() {
        use crate::policy::PartitionObservation;
        let obs = |now: u64, conc: f64, pods: u32, starting: u32| Observation {
            now: s(now),
            window: SimDuration::from_secs(1),
            partitions: vec![PartitionObservation {
                window_mean_concurrency: conc,
                instances: vec![0, pods],
                starting: vec![0, starting],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut fleet = KpaFleet::new(1, &cc10(), 1, InstanceConfig::default());
        let mut actions = Vec::new();
        // t = 1: no decision yet.
        fleet.on_tick(&obs(1, 21.0, 1, 0), &mut actions);
        assert!(actions.is_empty());
        // t = 2: both buckets 21 → ceil(21/7) = 3 pods; 1 exists → 2 scale-outs on accelerator 1.
        fleet.on_tick(&obs(2, 21.0, 1, 0), &mut actions);
        assert_eq!(actions.len(), 2);
        assert!(actions.iter().all(|a| matches!(
            a,
            Action::ScaleOut {
                partition: 0,
                accelerator: 1,
                ..
            }
        )));
        actions.clear();
        // t = 4, 3 pods of which 2 still starting: desired 3 counts them → nothing.
        fleet.on_tick(&obs(3, 21.0, 3, 2), &mut actions);
        fleet.on_tick(&obs(4, 21.0, 3, 2), &mut actions);
        assert!(actions.is_empty());
    }
}
