//! The timers that turn time passing into notifications: SLA escalation,
//! cluster detection and the owners' digests. Each sweep writes its
//! notifications to the outbox in the same writer job as its record, and
//! the delivery worker ([`super::deliver`]) sends them like any other.
//!
//! Clusters are looked for every [`SweepPolicy::poll`] (seconds), right
//! after intake committed the complaints, so a pattern is known at once
//! while the receipt never waits for the comparison. The task compares on
//! a thread of its own at background priority ([`ClusterComparer`]), so
//! under a flood the comparisons yield the processor to intake and catch up
//! right after; while one batch's writer job waits for its commit, the next
//! batch is compared. Complaints restored from spam after the sweep passed them
//! are compared first, in batches of their own (`store/clusters.rs`).
//! Escalation and digests are checked every
//! [`SweepPolicy::slow_every_ms`]: their steps are minutes or hours apart.
//! Time comes from the injectable [`Clock`].

use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::domain::clusters::ClusterPolicy;
use crate::domain::digest::DigestPolicy;
use crate::domain::escalation::EscalationPolicy;
use crate::settings::Settings;
use crate::store::{ClusterBatch, ClusterComparer, ClusterSweep, Store, StoreError};

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

/// Compares every complaint not yet compared, and every one restored from
/// spam since the sweep passed it, batch by batch.
pub async fn sweep_clusters(
    store: &Store,
    policy: &ClusterPolicy,
    now: i64,
) -> Result<ClusterSweep, StoreError> {
    sweep_clusters_until(store, None, policy, now, || false).await
}

/// [`sweep_clusters`], stopping between batches once `stopping` says so: a
/// long catch-up after a flood must not hold up a shutdown (the cursor is
/// saved with each batch, so the next start goes on from there). Compares
/// on `comparer`'s thread if there is one, else on the read pool.
///
/// The two halves overlap: while a full batch's writer job waits for its
/// commit, the next batch is read and compared, with the complaints of the
/// one in flight from memory. It is applied only after that commit, and its
/// writer job applies nothing unless the one before it committed: a batch
/// is done only once its own writer job has committed, so a stop or a crash
/// between two leaves the cursor at the last one done.
async fn sweep_clusters_until(
    store: &Store,
    comparer: Option<&ClusterComparer>,
    policy: &ClusterPolicy,
    now: i64,
    stopping: impl Fn() -> bool,
) -> Result<ClusterSweep, StoreError> {
    let mut total = ClusterSweep::default();
    let mut read_ahead: Option<ClusterBatch> = None;
    while !stopping() {
        let batch = match read_ahead.take() {
            Some(batch) => batch,
            None => store.cluster_candidates(comparer, policy).await?,
        };
        let full = batch.found.len() >= policy.batch;
        // Complaints restored from spam come as batches of their own, before
        // the new ones: the new ones follow once the queue is empty.
        let rechecks = batch.rechecks();
        // Only a full batch of new ones has more behind it to read ahead.
        let in_flight = if full { batch.in_flight() } else { None };
        let (sweep, next) = match in_flight {
            Some(in_flight) => {
                let (sweep, next) = tokio::join!(
                    store.apply_clusters(policy, batch, now),
                    store.cluster_candidates_after(comparer, policy, in_flight)
                );
                (sweep?, next)
            }
            None => (store.apply_clusters(policy, batch, now).await?, Ok(None)),
        };
        total.examined += sweep.examined;
        total.rechecked += sweep.rechecked;
        total.alerts.extend(sweep.alerts);
        // A batch that took nothing (another sweep took it, the one before
        // it did not commit, or a recheck waits for its complaint's latest
        // restore) ends this wake's work.
        let done = if rechecks {
            sweep.rechecked == 0
        } else {
            !full || sweep.examined == 0
        };
        if done {
            break;
        }
        read_ahead = next?;
    }
    Ok(total)
}

/// Runs the sweeps until `stop` turns true.
pub async fn run(store: Store, clock: Clock, policy: SweepPolicy, mut stop: watch::Receiver<bool>) {
    let mut last_slow: Option<i64> = None;
    let comparer = match store.cluster_comparer().await {
        Ok(comparer) => Some(comparer),
        Err(error) => {
            tracing::warn!(%error, "cluster comparisons run on the read pool");
            None
        }
    };
    while !*stop.borrow() {
        let now = clock.now_millis();
        let swept = sweep_clusters_until(&store, comparer.as_ref(), &policy.clusters, now, || {
            *stop.borrow()
        })
        .await;
        match swept {
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
    if let Some(comparer) = comparer {
        comparer.close().await;
    }
}
