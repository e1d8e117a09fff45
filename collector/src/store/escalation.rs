//! SLA escalation in the store: finds complaints whose first response or
//! resolution is overdue and takes the steps that are due (see
//! `domain::escalation`), each in the same writer job as its record in
//! `sla_escalations`, its `escalated` timeline event and its notification
//! rows. The primary key of `sla_escalations` makes a step happen once.
//!
//! A complaint stops escalating the moment it is answered (for the first
//! response) or resolved: the sweep's query no longer finds it.

use rusqlite::{Connection, OptionalExtension, params};

use super::notifications::{self, NewNotification};
use super::routing::ids;
use super::{Store, StoreError};
use crate::domain::escalation::{EscalationPolicy, Level, Target};

/// One step taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub reference: String,
    pub target: Target,
    pub level: Level,
    /// The staff members told.
    pub recipients: Vec<i64>,
}

/// An overdue promise with its next steps.
struct Overdue {
    complaint_id: i64,
    merchant_id: i64,
    target: Target,
    due_at: i64,
    last_step: u8,
}

fn overdue(
    connection: &Connection,
    policy: &EscalationPolicy,
    now: i64,
) -> Result<Vec<Overdue>, StoreError> {
    let mut found = Vec::new();
    for target in Target::ALL {
        // Only promises whose next step's delay has passed: every row
        // returned has work, so the batch limit never starves the rest.
        let (due, done) = match target {
            Target::FirstResponse => ("first_response_due_at", "first_response_at"),
            Target::Resolution => ("resolution_due_at", "resolved_at"),
        };
        let sql = format!(
            "WITH open AS (
                SELECT c.id, c.merchant_id, c.{due} AS due_at,
                    (SELECT coalesce(max(step), 0) FROM sla_escalations e
                     WHERE e.complaint_id = c.id AND e.target = ?1) AS last_step
                FROM complaints c
                WHERE c.{done} IS NULL AND c.{due} < ?2 AND c.{due} >= ?7
                  AND c.deleted_at IS NULL AND c.status NOT IN ('resolved', 'closed')
                  AND c.spam IS NULL
            )
            SELECT id, merchant_id, due_at, last_step FROM open
            WHERE last_step < 3
              AND ?2 - due_at >= (CASE last_step WHEN 0 THEN ?3 WHEN 1 THEN ?4 ELSE ?5 END)
            ORDER BY due_at, id LIMIT ?6"
        );
        let mut statement = connection.prepare_cached(&sql)?;
        let rows = statement.query_map(
            params![
                target.as_str(),
                now,
                policy.delays_ms[0],
                policy.delays_ms[1],
                policy.delays_ms[2],
                policy.batch as i64,
                policy.oldest_breach(now)
            ],
            |row| {
                Ok(Overdue {
                    complaint_id: row.get(0)?,
                    merchant_id: row.get(1)?,
                    target,
                    due_at: row.get(2)?,
                    last_step: row.get::<_, u8>(3)?,
                })
            },
        )?;
        for row in rows {
            found.push(row?);
        }
    }
    Ok(found)
}

/// Who a level tells, for this complaint: enabled staff of its merchant.
fn recipients(
    connection: &Connection,
    merchant_id: i64,
    complaint_id: i64,
    level: Level,
) -> Result<Vec<i64>, StoreError> {
    match level {
        Level::Assignee => {
            let assignee = ids(
                connection,
                "SELECT u.id FROM complaints c JOIN users u ON u.id = c.assignee_user_id
                 WHERE c.id = ?1 AND u.merchant_id = ?2 AND u.disabled = 0",
                params![complaint_id, merchant_id],
            )?;
            if !assignee.is_empty() {
                return Ok(assignee);
            }
            // Nobody has taken it: the team whose queue it waits in.
            ids(
                connection,
                "SELECT u.id FROM complaints c JOIN team_members m ON m.team_id = c.team_id
                 JOIN teams t ON t.id = m.team_id AND t.merchant_id = ?2
                 JOIN users u ON u.id = m.user_id
                 WHERE c.id = ?1 AND u.merchant_id = ?2 AND u.disabled = 0
                   AND u.role IN ('owner', 'agent')
                 ORDER BY u.id",
                params![complaint_id, merchant_id],
            )
        }
        // The leads of the complaint's team; with no team, of the teams
        // its assignee belongs to.
        Level::TeamLead => ids(
            connection,
            "SELECT DISTINCT u.id FROM complaints c
             JOIN team_members m ON m.is_lead = 1 AND (m.team_id = c.team_id OR (c.team_id IS NULL
                 AND m.team_id IN (SELECT team_id FROM team_members WHERE user_id = c.assignee_user_id)))
             JOIN teams t ON t.id = m.team_id AND t.merchant_id = ?2
             JOIN users u ON u.id = m.user_id
             WHERE c.id = ?1 AND u.merchant_id = ?2 AND u.disabled = 0
             ORDER BY u.id",
            params![complaint_id, merchant_id],
        ),
        Level::Owners => ids(
            connection,
            "SELECT id FROM users WHERE merchant_id = ?1 AND role = 'owner' AND disabled = 0
             ORDER BY id",
            params![merchant_id],
        ),
    }
}

/// The notification's body: facts, never the shopper's words.
fn payload(
    connection: &Connection,
    item: &Overdue,
    level: Level,
    now: i64,
) -> Result<(String, serde_json::Value), StoreError> {
    connection
        .prepare_cached(
            "SELECT c.reference, s.site_key, s.name, c.category, c.category_label, c.severity,
                c.status, u.id, u.display_name, t.id, t.name
             FROM complaints c JOIN sites s ON s.id = c.site_id
             LEFT JOIN users u ON u.id = c.assignee_user_id AND u.merchant_id = c.merchant_id
             LEFT JOIN teams t ON t.id = c.team_id AND t.merchant_id = c.merchant_id
             WHERE c.id = ?1 AND c.merchant_id = ?2",
        )?
        .query_row(params![item.complaint_id, item.merchant_id], |row| {
            let reference: String = row.get(0)?;
            let assignee = row
                .get::<_, Option<i64>>(7)?
                .map(|id| -> rusqlite::Result<_> {
                    Ok(serde_json::json!({ "id": id, "name": row.get::<_, String>(8)? }))
                })
                .transpose()?;
            let team = row
                .get::<_, Option<i64>>(9)?
                .map(|id| -> rusqlite::Result<_> {
                    Ok(serde_json::json!({ "id": id, "name": row.get::<_, String>(10)? }))
                })
                .transpose()?;
            let body = serde_json::json!({
                "type": "complaint.escalated",
                "timestamp": crate::clock::rfc3339(now),
                "data": {
                    "reference": reference,
                    "site": { "key": row.get::<_, String>(1)?, "name": row.get::<_, String>(2)? },
                    "category": row.get::<_, String>(3)?,
                    "category_label": row.get::<_, String>(4)?,
                    "severity": row.get::<_, Option<String>>(5)?,
                    "status": row.get::<_, String>(6)?,
                    "assignee": assignee,
                    "team": team,
                    "overdue": item.target.as_str(),
                    "due_at": crate::clock::rfc3339(item.due_at),
                    "overdue_minutes": (now - item.due_at) / 60_000,
                    "level": level.as_str(),
                    "step": level.step(),
                }
            });
            Ok((reference, body))
        })
        .map_err(StoreError::from)
}

/// Takes one step: its record, its timeline event, its notifications.
/// `None` when the step was already taken.
fn take_step(
    connection: &Connection,
    item: &Overdue,
    level: Level,
    now: i64,
) -> Result<Option<Escalation>, StoreError> {
    let inserted = connection
        .prepare_cached(
            "INSERT OR IGNORE INTO sla_escalations (complaint_id, target, step, at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            item.complaint_id,
            item.target.as_str(),
            level.step(),
            now
        ])?;
    if inserted == 0 {
        return Ok(None);
    }
    let people = recipients(connection, item.merchant_id, item.complaint_id, level)?;
    let data = serde_json::json!({
        "target": item.target.as_str(),
        "step": level.step(),
        "level": level.as_str(),
        "to": people,
        "due_at": item.due_at,
        "by": "sla",
    });
    connection
        .prepare_cached(
            "INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
             VALUES (?1, ?2, NULL, 'escalated', 0, NULL, ?3)",
        )?
        .execute(params![item.complaint_id, now, data.to_string()])?;
    connection
        .prepare_cached(
            "UPDATE complaints SET escalated_at = coalesce(escalated_at, ?2) WHERE id = ?1",
        )?
        .execute(params![item.complaint_id, now])?;
    let (reference, body) = payload(connection, item, level, now)?;
    for user_id in &people {
        let email: String = connection
            .prepare_cached("SELECT email FROM users WHERE id = ?1 AND merchant_id = ?2")?
            .query_row(params![user_id, item.merchant_id], |row| row.get(0))?;
        notifications::queue(
            connection,
            &NewNotification {
                merchant_id: item.merchant_id,
                complaint_id: Some(item.complaint_id),
                webhook_id: None,
                user_id: Some(*user_id),
                target: email,
                event: "complaint.escalated".to_owned(),
                payload: body.clone(),
            },
            now,
        )?;
    }
    Ok(Some(Escalation {
        reference,
        target: item.target,
        level,
        recipients: people,
    }))
}

/// Whether the promise is still broken: found on a read connection, it
/// may have been kept since (an answer, a resolution, a deletion).
fn still_overdue(connection: &Connection, item: &Overdue, now: i64) -> Result<bool, StoreError> {
    let (due, done) = match item.target {
        Target::FirstResponse => ("first_response_due_at", "first_response_at"),
        Target::Resolution => ("resolution_due_at", "resolved_at"),
    };
    Ok(connection
        .prepare_cached(&format!(
            "SELECT 1 FROM complaints
             WHERE id = ?1 AND {done} IS NULL AND {due} < ?2 AND deleted_at IS NULL
               AND spam IS NULL AND status NOT IN ('resolved', 'closed')"
        ))?
        .query_row(params![item.complaint_id, now], |_| Ok(()))
        .optional()?
        .is_some())
}

fn escalate(
    connection: &Connection,
    policy: &EscalationPolicy,
    found: &[Overdue],
    now: i64,
) -> Result<Vec<Escalation>, StoreError> {
    let mut taken = Vec::new();
    for item in found {
        if !still_overdue(connection, item, now)? {
            continue;
        }
        for level in policy.due_levels(item.due_at, item.last_step, now) {
            if let Some(step) = take_step(connection, item, level, now)? {
                taken.push(step);
            }
        }
    }
    Ok(taken)
}

impl Store {
    /// Takes every escalation step due at `now` (up to the policy's batch
    /// of complaints per promise, breaches within its horizon), in one
    /// writer job.
    pub async fn escalate_overdue(
        &self,
        policy: &EscalationPolicy,
        now: i64,
    ) -> Result<Vec<Escalation>, StoreError> {
        // Finding the overdue promises is a read; the writer only re-checks
        // each one and takes its steps.
        let policy = policy.clone();
        let reading = policy.clone();
        let found = self
            .read(move |connection| overdue(connection, &reading, now))
            .await?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        self.inner
            .writer
            .run(move |connection| escalate(connection, &policy, &found, now))
            .await
    }
}
