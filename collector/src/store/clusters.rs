//! Clusters of similar complaints: found by a sweep right after intake
//! commits, stored, alerted to the owners, listed in the inbox.
//!
//! The sweep works in two halves so the writer thread — the one that
//! answers receipts — does only cheap SQL: [`Store::cluster_candidates`]
//! compares each new complaint with its merchant's recent ones on a read
//! connection (the text similarity, the costly part), and
//! [`Store::apply_clusters`] then joins, creates and alerts in one writer
//! job, in complaint order, from the database as it is at that moment.
//! Only this sweep writes clusters, so nothing changes them in between.
//!
//! Every query takes the merchant id; a cluster never links two merchants'
//! complaints, and the owners alerted are the merchant's own.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::notifications::{self, NewNotification};
use super::{Store, StoreError};
use crate::domain::clusters::{AlertKind, ClusterPolicy, Fingerprint, alert_due};

/// The most recent members a cluster's detail lists (its `size` counts all).
pub const MAX_MEMBERS_SHOWN: usize = 500;
/// The most recent members an alert email names.
const ALERT_MEMBERS: usize = 50;

/// A new complaint and the earlier ones it is similar to.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidates {
    pub complaint_id: i64,
    /// Earlier complaints similar enough, with their similarity.
    pub similar: Vec<(i64, f64)>,
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSweep {
    /// New complaints looked at.
    pub examined: usize,
    /// Alerts queued: the cluster and why.
    pub alerts: Vec<(i64, AlertKind)>,
}

/// A cluster as the inbox lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSummary {
    pub id: i64,
    pub category: String,
    /// The category's label on the newest member.
    pub category_label: String,
    pub safety: bool,
    pub size: i64,
    pub first_at: i64,
    pub last_at: i64,
    pub alerted_at: Option<i64>,
    /// A complaint arriving now could still join it.
    pub active: bool,
}

/// A member complaint, without the shopper's words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterMember {
    pub reference: String,
    pub site_key: String,
    pub site_name: String,
    pub status: String,
    pub created_at: i64,
    pub similarity: f64,
}

/// A cluster with its most recent [`MAX_MEMBERS_SHOWN`] complaints, oldest
/// first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterDetail {
    #[serde(flatten)]
    pub summary: ClusterSummary,
    pub complaints: Vec<ClusterMember>,
}

/// The text compared: what happened and the guided answers (not the wished
/// remedy, which is the same few words for unrelated complaints).
fn compared_text(description: &str, answers: &str) -> String {
    let mut text = description.to_owned();
    if let Ok(serde_json::Value::Object(answers)) = serde_json::from_str(answers) {
        for value in answers.values() {
            if let Some(answer) = value.as_str() {
                text.push('\n');
                text.push_str(answer);
            }
        }
    }
    text
}

/// A complaint the sweep has not compared yet.
struct Fresh {
    id: i64,
    merchant_id: i64,
    category: String,
    created_at: i64,
    description: String,
    answers: String,
    /// Deleted by the shopper, or suspected spam: compared with nothing.
    left_out: bool,
}

fn candidates(
    connection: &Connection,
    policy: &ClusterPolicy,
) -> Result<Vec<Candidates>, StoreError> {
    let cursor = cursor(connection)?;
    let mut fresh = connection.prepare_cached(
        "SELECT id, merchant_id, category, created_at, description, answers,
            deleted_at IS NOT NULL OR spam IS NOT NULL
         FROM complaints WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let fresh: Vec<Fresh> = fresh
        .query_map(params![cursor, policy.batch as i64], |row| {
            Ok(Fresh {
                id: row.get(0)?,
                merchant_id: row.get(1)?,
                category: row.get(2)?,
                created_at: row.get(3)?,
                description: row.get(4)?,
                answers: row.get(5)?,
                left_out: row.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut earlier = connection.prepare_cached(
        "SELECT id, description, answers FROM complaints
         WHERE merchant_id = ?1 AND category = ?2 AND id < ?3 AND created_at >= ?4
           AND deleted_at IS NULL AND spam IS NULL
         ORDER BY id DESC LIMIT ?5",
    )?;
    let mut list = Vec::with_capacity(fresh.len());
    // During a flood the fresh complaints of one category share most of their
    // earlier neighbours: each text is fingerprinted once per batch, not once
    // per comparison.
    let mut fingerprints: HashMap<i64, Fingerprint> = HashMap::new();
    for new in fresh {
        let mut similar = Vec::new();
        let fingerprint = Fingerprint::of(
            &compared_text(&new.description, &new.answers),
            policy.max_text_chars,
        );
        if !new.left_out && !fingerprint.is_empty() {
            let rows = earlier.query_map(
                params![
                    new.merchant_id,
                    new.category,
                    new.id,
                    new.created_at - policy.window_ms,
                    policy.max_candidates as i64
                ],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                },
            )?;
            for row in rows {
                let (other, description, answers) = row?;
                let value =
                    fingerprint.similarity(fingerprints.entry(other).or_insert_with(|| {
                        Fingerprint::of(
                            &compared_text(&description, &answers),
                            policy.max_text_chars,
                        )
                    }));
                if value >= policy.min_similarity {
                    similar.push((other, value));
                }
            }
        }
        fingerprints.insert(new.id, fingerprint);
        list.push(Candidates {
            complaint_id: new.id,
            similar,
        });
    }
    Ok(list)
}

fn cursor(connection: &Connection) -> Result<i64, StoreError> {
    Ok(connection
        .prepare_cached("SELECT value FROM sweep_cursors WHERE name = 'clusters'")?
        .query_row([], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The facts of a complaint the cluster needs.
struct Member {
    merchant_id: i64,
    category: String,
    safety: bool,
    created_at: i64,
}

fn member(connection: &Connection, complaint_id: i64) -> Result<Option<Member>, StoreError> {
    Ok(connection
        .prepare_cached(
            "SELECT merchant_id, category, urgent, created_at FROM complaints WHERE id = ?1",
        )?
        .query_row(params![complaint_id], |row| {
            Ok(Member {
                merchant_id: row.get(0)?,
                category: row.get(1)?,
                safety: row.get(2)?,
                created_at: row.get(3)?,
            })
        })
        .optional()?)
}

fn apply(
    connection: &Connection,
    policy: &ClusterPolicy,
    found: &[Candidates],
    now: i64,
) -> Result<ClusterSweep, StoreError> {
    let mut sweep = ClusterSweep::default();
    let start = cursor(connection)?;
    for candidates in found {
        // A sweep that lost a race with itself must not apply twice.
        if candidates.complaint_id <= start {
            continue;
        }
        sweep.examined += 1;
        connection
            .prepare_cached(
                "INSERT INTO sweep_cursors (name, value) VALUES ('clusters', ?1)
                 ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
            )?
            .execute(params![candidates.complaint_id])?;
        if let Some(alert) = place(connection, policy, candidates, now)? {
            sweep.alerts.push(alert);
        }
    }
    Ok(sweep)
}

/// Puts one complaint in a cluster if it belongs in one; the alert queued.
fn place(
    connection: &Connection,
    policy: &ClusterPolicy,
    candidates: &Candidates,
    now: i64,
) -> Result<Option<(i64, AlertKind)>, StoreError> {
    let id = candidates.complaint_id;
    let Some(complaint) = member(connection, id)? else {
        return Ok(None);
    };
    if candidates.similar.is_empty() && !complaint.safety {
        return Ok(None);
    }
    let since = complaint.created_at - policy.window_ms;
    // The active cluster of the most similar earlier complaint, if any.
    let mut by_similarity = candidates.similar.clone();
    by_similarity.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut joined: Option<i64> = None;
    for (other, _) in &by_similarity {
        let cluster: Option<i64> = connection
            .prepare_cached(
                "SELECT k.id FROM cluster_members m JOIN clusters k ON k.id = m.cluster_id
                 WHERE m.complaint_id = ?1 AND k.merchant_id = ?2 AND k.last_at >= ?3",
            )?
            .query_row(params![other, complaint.merchant_id, since], |row| {
                row.get(0)
            })
            .optional()?;
        if cluster.is_some() {
            joined = cluster;
            break;
        }
    }
    let cluster_id = match joined {
        Some(cluster_id) => cluster_id,
        None => {
            connection
                .prepare_cached(
                    "INSERT INTO clusters (merchant_id, category, safety, size, first_at, last_at,
                        created_at)
                     VALUES (?1, ?2, ?3, 0, ?4, ?4, ?5)",
                )?
                .execute(params![
                    complaint.merchant_id,
                    complaint.category,
                    complaint.safety,
                    complaint.created_at,
                    now
                ])?;
            connection.last_insert_rowid()
        }
    };
    // The complaint, then the similar ones that are in no cluster yet.
    add_member(connection, cluster_id, id, 1.0, now)?;
    for (other, value) in &by_similarity {
        let taken: Option<i64> = connection
            .prepare_cached("SELECT cluster_id FROM cluster_members WHERE complaint_id = ?1")?
            .query_row(params![other], |row| row.get(0))
            .optional()?;
        if taken.is_none() {
            add_member(connection, cluster_id, *other, *value, now)?;
        }
    }
    let (size, recent, alerted_size, safety): (i64, i64, i64, bool) = connection
        .prepare_cached(
            "SELECT k.size,
                (SELECT count(*) FROM cluster_members m JOIN complaints c ON c.id = m.complaint_id
                 WHERE m.cluster_id = k.id AND c.created_at >= k.last_at - ?2),
                k.alerted_size, k.safety
             FROM clusters k WHERE k.id = ?1",
        )?
        .query_row(params![cluster_id, policy.window_ms], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?;
    let Some(kind) = alert_due(
        policy,
        safety,
        size as usize,
        recent as usize,
        alerted_size as usize,
    ) else {
        return Ok(None);
    };
    connection
        .prepare_cached("UPDATE clusters SET alerted_size = size, alerted_at = ?2 WHERE id = ?1")?
        .execute(params![cluster_id, now])?;
    alert_owners(
        connection,
        complaint.merchant_id,
        cluster_id,
        kind,
        policy,
        now,
    )?;
    Ok(Some((cluster_id, kind)))
}

/// Adds a member, keeps the cluster's size and times, and writes the
/// complaint's timeline event.
fn add_member(
    connection: &Connection,
    cluster_id: i64,
    complaint_id: i64,
    similarity: f64,
    now: i64,
) -> Result<(), StoreError> {
    let added = connection
        .prepare_cached(
            "INSERT OR IGNORE INTO cluster_members (cluster_id, complaint_id, similarity, added_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![cluster_id, complaint_id, similarity, now])?;
    if added == 0 {
        return Ok(());
    }
    connection
        .prepare_cached(
            "UPDATE clusters SET size = size + 1,
                first_at = min(first_at, (SELECT created_at FROM complaints WHERE id = ?2)),
                last_at = max(last_at, (SELECT created_at FROM complaints WHERE id = ?2))
             WHERE id = ?1",
        )?
        .execute(params![cluster_id, complaint_id])?;
    let data = serde_json::json!({ "cluster_id": cluster_id, "similarity": similarity });
    connection
        .prepare_cached(
            "INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
             VALUES (?1, ?2, NULL, 'clustered', 0, NULL, ?3)",
        )?
        .execute(params![complaint_id, now, data.to_string()])?;
    Ok(())
}

/// Queues an email to every enabled owner of the merchant: the cluster's
/// facts and its complaints' references, never the shopper's words.
fn alert_owners(
    connection: &Connection,
    merchant_id: i64,
    cluster_id: i64,
    kind: AlertKind,
    policy: &ClusterPolicy,
    now: i64,
) -> Result<(), StoreError> {
    let Some(detail) = detail(
        connection,
        merchant_id,
        cluster_id,
        now,
        policy.window_ms,
        ALERT_MEMBERS,
    )?
    else {
        return Ok(());
    };
    let complaints: Vec<serde_json::Value> = detail
        .complaints
        .iter()
        .map(|member| {
            serde_json::json!({
                "reference": member.reference,
                "site": { "key": member.site_key, "name": member.site_name },
                "received_at": crate::clock::rfc3339(member.created_at),
            })
        })
        .collect();
    let payload = serde_json::json!({
        "type": kind.event(),
        "timestamp": crate::clock::rfc3339(now),
        "data": {
            "cluster_id": cluster_id,
            "category": detail.summary.category,
            "category_label": detail.summary.category_label,
            "safety": detail.summary.safety,
            "size": detail.summary.size,
            "window_hours": policy.window_ms / 3_600_000,
            "first_at": crate::clock::rfc3339(detail.summary.first_at),
            "last_at": crate::clock::rfc3339(detail.summary.last_at),
            "complaints": complaints,
        }
    });
    let owners: Vec<(i64, String)> = connection
        .prepare_cached(
            "SELECT id, email FROM users WHERE merchant_id = ?1 AND role = 'owner' AND disabled = 0
             ORDER BY id",
        )?
        .query_map(params![merchant_id], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (user_id, email) in owners {
        notifications::queue(
            connection,
            &NewNotification {
                merchant_id,
                complaint_id: None,
                webhook_id: None,
                user_id: Some(user_id),
                target: email,
                event: kind.event().to_owned(),
                payload: payload.clone(),
            },
            now,
        )?;
    }
    Ok(())
}

const SUMMARY_SQL: &str = "SELECT k.id, k.category,
        coalesce((SELECT c.category_label FROM cluster_members m
                  JOIN complaints c ON c.id = m.complaint_id
                  WHERE m.cluster_id = k.id ORDER BY c.created_at DESC LIMIT 1), k.category),
        k.safety, k.size, k.first_at, k.last_at, k.alerted_at
     FROM clusters k";

fn summary_from_row(
    row: &rusqlite::Row<'_>,
    now: i64,
    window_ms: i64,
) -> rusqlite::Result<ClusterSummary> {
    let last_at: i64 = row.get(6)?;
    Ok(ClusterSummary {
        id: row.get(0)?,
        category: row.get(1)?,
        category_label: row.get(2)?,
        safety: row.get(3)?,
        size: row.get(4)?,
        first_at: row.get(5)?,
        last_at,
        alerted_at: row.get(7)?,
        active: last_at + window_ms > now,
    })
}

fn list(
    connection: &Connection,
    merchant_id: i64,
    active_only: bool,
    limit: usize,
    now: i64,
    window_ms: i64,
) -> Result<Vec<ClusterSummary>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "{SUMMARY_SQL} WHERE k.merchant_id = ?1 AND (NOT ?2 OR k.last_at + ?4 > ?3)
         ORDER BY k.last_at DESC, k.id DESC LIMIT ?5"
    ))?;
    let rows = statement.query_map(
        params![merchant_id, active_only, now, window_ms, limit as i64],
        |row| summary_from_row(row, now, window_ms),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn detail(
    connection: &Connection,
    merchant_id: i64,
    cluster_id: i64,
    now: i64,
    window_ms: i64,
    limit: usize,
) -> Result<Option<ClusterDetail>, StoreError> {
    let summary = connection
        .prepare_cached(&format!(
            "{SUMMARY_SQL} WHERE k.merchant_id = ?1 AND k.id = ?2"
        ))?
        .query_row(params![merchant_id, cluster_id], |row| {
            summary_from_row(row, now, window_ms)
        })
        .optional()?;
    let Some(summary) = summary else {
        return Ok(None);
    };
    let complaints = connection
        .prepare_cached(
            "SELECT c.reference, s.site_key, s.name, c.status, c.created_at, m.similarity
             FROM cluster_members m JOIN complaints c ON c.id = m.complaint_id
             JOIN sites s ON s.id = c.site_id
             WHERE m.cluster_id = ?1 AND c.merchant_id = ?2 AND c.spam IS NULL
             ORDER BY c.created_at DESC, c.id DESC LIMIT ?3",
        )?
        .query_map(params![cluster_id, merchant_id, limit as i64], |row| {
            Ok(ClusterMember {
                reference: row.get(0)?,
                site_key: row.get(1)?,
                site_name: row.get(2)?,
                status: row.get(3)?,
                created_at: row.get(4)?,
                similarity: row.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut complaints: Vec<ClusterMember> = complaints;
    complaints.reverse();
    Ok(Some(ClusterDetail {
        summary,
        complaints,
    }))
}

/// The merchant's clusters with the most members, among those active in
/// `[since, until)`: for the digest.
pub(super) fn top(
    connection: &Connection,
    merchant_id: i64,
    since: i64,
    until: i64,
    limit: usize,
) -> Result<Vec<ClusterSummary>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "{SUMMARY_SQL} WHERE k.merchant_id = ?1 AND k.last_at >= ?2 AND k.first_at < ?3
         ORDER BY k.size DESC, k.last_at DESC LIMIT ?4"
    ))?;
    let rows = statement.query_map(params![merchant_id, since, until, limit as i64], |row| {
        summary_from_row(row, until, 0)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Store {
    /// The first half of a cluster sweep, on a read connection: the new
    /// complaints since the sweep's cursor and what each is similar to.
    pub async fn cluster_candidates(
        &self,
        policy: &ClusterPolicy,
    ) -> Result<Vec<Candidates>, StoreError> {
        let policy = policy.clone();
        self.read(move |connection| candidates(connection, &policy))
            .await
    }

    /// The second half, in one writer job: clusters joined or created,
    /// timeline events, alerts queued, the cursor moved past them.
    pub async fn apply_clusters(
        &self,
        policy: &ClusterPolicy,
        found: Vec<Candidates>,
        now: i64,
    ) -> Result<ClusterSweep, StoreError> {
        if found.is_empty() {
            return Ok(ClusterSweep::default());
        }
        let policy = policy.clone();
        self.inner
            .writer
            .run(move |connection| apply(connection, &policy, &found, now))
            .await
    }

    /// The merchant's clusters, most recent first.
    pub async fn clusters(
        &self,
        merchant_id: i64,
        active_only: bool,
        limit: usize,
        now: i64,
        window_ms: i64,
    ) -> Result<Vec<ClusterSummary>, StoreError> {
        self.read(move |connection| {
            list(connection, merchant_id, active_only, limit, now, window_ms)
        })
        .await
    }

    /// One of the merchant's clusters with its complaints; `None` for an
    /// unknown id or another merchant's cluster.
    pub async fn cluster(
        &self,
        merchant_id: i64,
        cluster_id: i64,
        now: i64,
        window_ms: i64,
    ) -> Result<Option<ClusterDetail>, StoreError> {
        self.read(move |connection| {
            detail(
                connection,
                merchant_id,
                cluster_id,
                now,
                window_ms,
                MAX_MEMBERS_SHOWN,
            )
        })
        .await
    }
}
