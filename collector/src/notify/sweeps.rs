//! The timers that turn time passing into notifications: SLA escalation,
//! cluster detection and the owners' digests. Each sweep writes its
//! notifications to the outbox in the same writer job as its record, and
//! the delivery worker ([`super::deliver`]) sends them like any other.
//!
//! Clusters are looked for every [`SweepPolicy::poll`] (seconds), right
//! after intake committed the complaints, so a pattern is known at once
//! while the receipt never waits for the comparison. Escalation and digests
//! are checked every [`SweepPolicy::slow_every_ms`]: their steps are
//! minutes or hours apart. Time comes from the injectable [`Clock`].

use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::domain::clusters::ClusterPolicy;
use crate::domain::digest::DigestPolicy;
use crate::domain::escalation::EscalationPolicy;
use crate::settings::Settings;
use crate::store::{ClusterSweep, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct SweepPolicy {
    /// How often new complaints are compared for clusters.
    pub poll: Duration,
    /// How often (by the clock) escalation and digests are checked.
    pub slow_every_ms: i64,
    pub escalation: EscalationPolicy,
    pub clusters: ClusterPolicy,
    pub digest: DigestPolicy,
}

impl Default for SweepPolicy {
    fn default() -> Self {
        SweepPolicy {
            poll: Duration::from_secs(2),
            slow_every_ms: 60_000,
            escalation: EscalationPolicy::default(),
            clusters: ClusterPolicy::default(),
            digest: DigestPolicy::default(),
        }
    }
}

impl SweepPolicy {
    pub fn from_settings(settings: &Settings) -> SweepPolicy {
        SweepPolicy {
            escalation: EscalationPolicy::from_minutes(&settings.escalation_delays_minutes),
            clusters: ClusterPolicy {
                window_ms: i64::from(settings.cluster_window_hours.max(1)) * 3_600_000,
                threshold: settings.cluster_threshold.max(1) as usize,
                ..ClusterPolicy::default()
            },
            digest: DigestPolicy::new(settings.digest_hour, settings.digest_weekday),
            ..SweepPolicy::default()
        }
    }
}

/// Compares every complaint not yet compared, batch by batch.
pub async fn sweep_clusters(
    store: &Store,
    policy: &ClusterPolicy,
    now: i64,
) -> Result<ClusterSweep, StoreError> {
    sweep_clusters_until(store, policy, now, || false).await
}

/// [`sweep_clusters`], stopping between batches once `stopping` says so: a
/// long catch-up after a flood must not hold up a shutdown (the cursor is
/// saved with each batch, so the next start goes on from there).
async fn sweep_clusters_until(
    store: &Store,
    policy: &ClusterPolicy,
    now: i64,
    stopping: impl Fn() -> bool,
) -> Result<ClusterSweep, StoreError> {
    let mut total = ClusterSweep::default();
    while !stopping() {
        let found = store.cluster_candidates(policy).await?;
        let full = found.len() >= policy.batch;
        let sweep = store.apply_clusters(policy, found, now).await?;
        total.examined += sweep.examined;
        total.alerts.extend(sweep.alerts);
        if !full || sweep.examined == 0 {
            break;
        }
    }
    Ok(total)
}

/// Runs the sweeps until `stop` turns true.
pub async fn run(store: Store, clock: Clock, policy: SweepPolicy, mut stop: watch::Receiver<bool>) {
    let mut last_slow: Option<i64> = None;
    while !*stop.borrow() {
        let now = clock.now_millis();
        match sweep_clusters_until(&store, &policy.clusters, now, || *stop.borrow()).await {
            Ok(sweep) if !sweep.alerts.is_empty() => {
                tracing::info!(
                    alerts = sweep.alerts.len(),
                    "clusters of similar complaints alerted"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "the cluster sweep failed"),
        }
        if last_slow.is_none_or(|last| now - last >= policy.slow_every_ms) {
            last_slow = Some(now);
            match store.escalate_overdue(&policy.escalation, now).await {
                Ok(steps) if !steps.is_empty() => {
                    tracing::info!(steps = steps.len(), "overdue complaints escalated");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "the escalation sweep failed"),
            }
            match store.queue_due_digests(policy.digest, now).await {
                Ok(queued) if !queued.is_empty() => {
                    tracing::info!(digests = queued.len(), "digests queued");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "queueing digests failed"),
            }
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(policy.poll) => {}
        }
    }
}
