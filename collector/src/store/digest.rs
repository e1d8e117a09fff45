//! The owners' digests in the store: the figures of a period, and queueing
//! one email per owner in the same writer job that records the period in
//! `digests` — whose primary key makes each period's digest happen once.
//!
//! Figures only: counts, the survey's averages, clusters by category and
//! size, value orientations. No shopper words, no contact details.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::notifications::{self, NewNotification};
use super::{Store, StoreError, clusters};
use crate::domain::digest::{DigestKind, DigestPolicy};

/// What a digest says about one merchant's period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DigestFigures {
    /// Complaints received in the period.
    pub new: i64,
    /// Open complaints past their first-response or resolution target at
    /// the end of the period.
    pub overdue: i64,
    /// Complaints resolved in the period.
    pub resolved: i64,
    /// Survey answers received in the period; absent when there were none.
    pub satisfaction: Option<Satisfaction>,
    pub top_clusters: Vec<TopCluster>,
    /// The value orientations of the period's complaints, most frequent first.
    pub top_value_orientations: Vec<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Satisfaction {
    pub answers: i64,
    /// Average score, 1 to 5.
    pub average: f64,
    /// Shoppers who found the answer quick enough, in percent.
    pub quick_enough_percent: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopCluster {
    pub id: i64,
    pub category_label: String,
    pub size: i64,
    pub safety: bool,
}

fn count(
    connection: &Connection,
    sql: &str,
    parameters: impl rusqlite::Params,
) -> Result<i64, StoreError> {
    Ok(connection
        .prepare_cached(sql)?
        .query_row(parameters, |row| row.get(0))?)
}

fn figures(
    connection: &Connection,
    merchant_id: i64,
    start: i64,
    end: i64,
    top: usize,
) -> Result<DigestFigures, StoreError> {
    let new = count(
        connection,
        // Suspected spam (`spam IS NOT NULL`) counts nowhere until restored.
        "SELECT count(*) FROM complaints WHERE merchant_id = ?1 AND created_at >= ?2 AND created_at < ?3
           AND spam IS NULL",
        params![merchant_id, start, end],
    )?;
    let overdue = count(
        connection,
        "SELECT count(*) FROM complaints WHERE merchant_id = ?1 AND created_at < ?2
           AND deleted_at IS NULL AND spam IS NULL AND status NOT IN ('resolved', 'closed')
           AND ((first_response_at IS NULL AND first_response_due_at < ?2)
                OR (resolved_at IS NULL AND resolution_due_at < ?2))",
        params![merchant_id, end],
    )?;
    let resolved = count(
        connection,
        "SELECT count(*) FROM complaints WHERE merchant_id = ?1 AND resolved_at >= ?2 AND resolved_at < ?3
           AND spam IS NULL",
        params![merchant_id, start, end],
    )?;
    let (answers, average, quick): (i64, Option<f64>, Option<f64>) = connection
        .prepare_cached(
            "SELECT count(*), avg(s.satisfaction), avg(s.quick_enough)
             FROM complaint_surveys s JOIN complaints c ON c.id = s.complaint_id
             WHERE c.merchant_id = ?1 AND s.updated_at >= ?2 AND s.updated_at < ?3
               AND c.spam IS NULL",
        )?
        .query_row(params![merchant_id, start, end], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    let satisfaction = (answers > 0).then(|| Satisfaction {
        answers,
        average: (average.unwrap_or_default() * 10.0).round() / 10.0,
        quick_enough_percent: (quick.unwrap_or_default() * 100.0).round() as i64,
    });
    let top_clusters = clusters::top(connection, merchant_id, start, end, top)?
        .into_iter()
        .map(|cluster| TopCluster {
            id: cluster.id,
            category_label: cluster.category_label,
            size: cluster.size,
            safety: cluster.safety,
        })
        .collect();
    let top_value_orientations = connection
        .prepare_cached(
            "SELECT value_orientation, count(*) AS n FROM complaints
             WHERE merchant_id = ?1 AND created_at >= ?2 AND created_at < ?3 AND spam IS NULL
               AND value_orientation IS NOT NULL AND value_orientation <> ''
             GROUP BY value_orientation ORDER BY n DESC, value_orientation LIMIT ?4",
        )?
        .query_map(params![merchant_id, start, end, top as i64], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    Ok(DigestFigures {
        new,
        overdue,
        resolved,
        satisfaction,
        top_clusters,
        top_value_orientations,
    })
}

/// A digest ready to queue: computed on a read connection.
struct Prepared {
    merchant_id: i64,
    kind: DigestKind,
    period_end: i64,
    payload: serde_json::Value,
}

/// The digests due at `now` that were not queued yet, for every merchant
/// with a site older than the period's end, with their figures.
fn prepare_due(
    connection: &Connection,
    policy: &DigestPolicy,
    now: i64,
) -> Result<Vec<Prepared>, StoreError> {
    let mut prepared = Vec::new();
    for kind in DigestKind::ALL {
        let end = policy.period_end(kind, now);
        let start = end - kind.length_ms();
        let merchants: Vec<(i64, String)> = connection
            .prepare_cached(
                "SELECT m.id, m.name FROM merchants m
                 WHERE EXISTS (SELECT 1 FROM sites s WHERE s.merchant_id = m.id AND s.created_at < ?1)
                   AND NOT EXISTS (SELECT 1 FROM digests d
                                   WHERE d.merchant_id = m.id AND d.kind = ?2 AND d.period_end = ?1)
                 ORDER BY m.id",
            )?
            .query_map(params![end, kind.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (merchant_id, merchant_name) in merchants {
            let figures = figures(connection, merchant_id, start, end, policy.top)?;
            prepared.push(Prepared {
                merchant_id,
                kind,
                period_end: end,
                payload: serde_json::json!({
                    "type": kind.event(),
                    "timestamp": crate::clock::rfc3339(now),
                    "data": {
                        "merchant": merchant_name,
                        "period": kind.as_str(),
                        "from": crate::clock::rfc3339(start),
                        "to": crate::clock::rfc3339(end),
                        "figures": figures,
                    }
                }),
            });
        }
    }
    Ok(prepared)
}

/// Records each period and queues one email per enabled owner; a period
/// already recorded (by an earlier sweep) queues nothing.
fn queue_prepared(
    connection: &Connection,
    prepared: &[Prepared],
    now: i64,
) -> Result<Vec<(i64, DigestKind, usize)>, StoreError> {
    let mut queued = Vec::new();
    for digest in prepared {
        let recorded = connection
            .prepare_cached(
                "INSERT OR IGNORE INTO digests (merchant_id, kind, period_end, queued_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                digest.merchant_id,
                digest.kind.as_str(),
                digest.period_end,
                now
            ])?;
        if recorded == 0 {
            continue;
        }
        let owners: Vec<(i64, String)> = connection
            .prepare_cached(
                "SELECT id, email FROM users
                 WHERE merchant_id = ?1 AND role = 'owner' AND disabled = 0 ORDER BY id",
            )?
            .query_map(params![digest.merchant_id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        for (user_id, email) in &owners {
            notifications::queue(
                connection,
                &NewNotification {
                    merchant_id: digest.merchant_id,
                    complaint_id: None,
                    webhook_id: None,
                    user_id: Some(*user_id),
                    target: email.clone(),
                    event: digest.kind.event().to_owned(),
                    payload: digest.payload.clone(),
                },
                now,
            )?;
        }
        queued.push((digest.merchant_id, digest.kind, owners.len()));
    }
    Ok(queued)
}

impl Store {
    /// Queues every digest due at `now` that was not queued before;
    /// answers (merchant, kind, owners emailed) for each. The figures are
    /// counted on a read connection, so the writer only records and queues.
    pub async fn queue_due_digests(
        &self,
        policy: DigestPolicy,
        now: i64,
    ) -> Result<Vec<(i64, DigestKind, usize)>, StoreError> {
        let prepared = self
            .read(move |connection| prepare_due(connection, &policy, now))
            .await?;
        if prepared.is_empty() {
            return Ok(Vec::new());
        }
        self.inner
            .writer
            .run(move |connection| queue_prepared(connection, &prepared, now))
            .await
    }

    /// The figures a digest of `[start, end)` would hold for the merchant.
    pub async fn digest_figures(
        &self,
        merchant_id: i64,
        start: i64,
        end: i64,
    ) -> Result<DigestFigures, StoreError> {
        self.read(move |connection| figures(connection, merchant_id, start, end, 3))
            .await
    }
}
