//! The follow-up loop, on the store's side: what the shopper does through
//! their link (reply, mark resolved, reopen, answer the survey), the public
//! timeline the status page shows, and the email about every staff status
//! change and reply, queued in the staff action's own writer job.
//!
//! Everything the shopper does is found by the hash of their link (see
//! [`super::shopper::OPENS`]); a hash that opens nothing changes nothing.

use heard_shared::Status;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::mail::MailKind;
use super::shopper::OPENS;
use super::{Store, StoreError};

/// One thing that happened that the shopper may see, as the status page
/// and the JSON view show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShopperEvent {
    pub at: i64,
    /// `received`, `acknowledged`, `status_changed`, `public_reply`,
    /// `shopper_reply` or `survey_received`.
    pub kind: String,
    /// A reply's text (the staff's or the shopper's own).
    pub body: Option<String>,
    /// For a status change: the status before and after.
    pub from: Option<Status>,
    pub status: Option<Status>,
    /// Whether the shopper made this change themselves.
    pub by_shopper: bool,
    /// Whether a status change came from the shopper's reply.
    pub because_of_reply: bool,
    /// The staff member who replied: first name only.
    pub first_name: Option<String>,
    /// How many photos the shopper added to a reply.
    pub photos: u32,
}

/// The shopper's answer to the satisfaction survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Survey {
    /// 1 (very unhappy) to 5 (very happy).
    pub satisfaction: u8,
    pub quick_enough: bool,
    pub would_return: bool,
    pub comment: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A survey answer as the shopper sends it, already checked by the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyAnswer {
    pub satisfaction: u8,
    pub quick_enough: bool,
    pub would_return: bool,
    pub comment: Option<String>,
}

/// Where a complaint stands in the follow-up loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub complaint_id: i64,
    pub status: Status,
    pub resolved_at: Option<i64>,
    /// Who looks after the complaint now: the assignee's first name only.
    /// (Assignment events stay internal; the shopper sees the current
    /// person, not the reshuffles.)
    pub looked_after_by: Option<String>,
    pub survey: Option<Survey>,
    pub timeline: Vec<ShopperEvent>,
}

/// What the shopper can do through their link. Inputs are already checked
/// by the domain; the store checks what depends on the stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopperAction {
    /// Text and the ids of photos uploaded through the same link.
    Reply {
        body: String,
        attachments: Vec<String>,
    },
    Resolve,
    /// Back to in progress, if resolved no longer ago than `window_ms`.
    Reopen {
        window_ms: i64,
    },
    Survey(SurveyAnswer),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopperOutcome {
    Done,
    /// The link opens nothing.
    NotFound,
    Refused(ShopperRefusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopperRefusal {
    /// The complaint is closed: nothing more can be added.
    Closed,
    /// Only an unfinished complaint can be marked resolved.
    NotOpen,
    /// Only a resolved (or closed) complaint can be reopened, and answered
    /// in the survey.
    NotResolved,
    /// Resolved longer ago than the reopening window.
    WindowOver,
    /// The photo at this position is unknown, another site's, or taken.
    UnknownAttachment(usize),
}

impl Store {
    /// The follow-up state of the complaint this link hash opens.
    pub async fn follow_up(&self, token_hash: [u8; 32]) -> Result<Option<FollowUp>, StoreError> {
        self.read(move |connection| follow_up(connection, &token_hash))
            .await
    }

    /// Applies what the shopper did, with its timeline event, in one job.
    pub async fn shopper_act(
        &self,
        token_hash: [u8; 32],
        action: ShopperAction,
        now: i64,
    ) -> Result<ShopperOutcome, StoreError> {
        self.inner
            .writer
            .run(move |connection| act(connection, &token_hash, &action, now))
            .await
    }

    /// Gives a waiting update message its own new link: stores the link's
    /// hash in `receipt_tokens` and the link in the row, in one job. `false`
    /// when the row is gone (sent, or its complaint deleted): then nothing
    /// is stored and nothing may be sent.
    pub async fn mint_mail_link(
        &self,
        mail_id: i64,
        token_hash: [u8; 32],
        status_url: String,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                let updated = connection
                    .prepare_cached(
                        "UPDATE mail_queue SET status_url = ?2
                         WHERE id = ?1 AND status_url IS NULL",
                    )?
                    .execute(params![mail_id, status_url])?;
                if updated == 0 {
                    return Ok(false);
                }
                connection
                    .prepare_cached(
                        "INSERT INTO receipt_tokens (token_hash, complaint_id, created_at)
                         SELECT ?1, complaint_id, ?3 FROM mail_queue WHERE id = ?2",
                    )?
                    .execute(params![token_hash, mail_id, now])?;
                Ok(true)
            })
            .await
    }
}

/// Queues an update email about `event_id` to the complaint's contact
/// address, if it has one. Intake stores an address only when the shopper
/// consented to be contacted, so an address here is consent. Called inside
/// the staff action's job, so the message commits with its cause.
pub(super) fn queue_update(
    connection: &Connection,
    complaint_id: i64,
    event_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    let recipient: Option<String> = connection
        .prepare_cached(
            "SELECT contact_email FROM complaints WHERE id = ?1 AND deleted_at IS NULL",
        )?
        .query_row([complaint_id], |row| row.get(0))
        .optional()?
        .flatten();
    let Some(recipient) = recipient.filter(|address| !address.trim().is_empty()) else {
        return Ok(());
    };
    connection
        .prepare_cached(
            "INSERT INTO mail_queue
             (complaint_id, kind, recipient, status_url, event_id, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?5)",
        )?
        .execute(params![
            complaint_id,
            MailKind::Update.as_str(),
            recipient,
            event_id,
            now
        ])?;
    Ok(())
}

/// The survey answer of a complaint, for staff and the shopper.
pub(super) fn survey(
    connection: &Connection,
    complaint_id: i64,
) -> Result<Option<Survey>, StoreError> {
    Ok(connection
        .prepare_cached(
            "SELECT satisfaction, quick_enough, would_return, comment, created_at, updated_at
             FROM complaint_surveys WHERE complaint_id = ?1",
        )?
        .query_row([complaint_id], |row| {
            Ok(Survey {
                satisfaction: row.get(0)?,
                quick_enough: row.get(1)?,
                would_return: row.get(2)?,
                comment: row.get(3)?,
                created_at: row.get(4)?,
                updated_at: row.get(5)?,
            })
        })
        .optional()?)
}

/// What the shopper may see, oldest first. Staff appear by first name only.
pub(super) fn public_events(
    connection: &Connection,
    complaint_id: i64,
) -> Result<Vec<ShopperEvent>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT e.at, e.kind, e.body, json_extract(e.data, '$.from'), json_extract(e.data, '$.to'),
                json_extract(e.data, '$.by') = 'shopper',
                json_extract(e.data, '$.because') = 'reply',
                actor.display_name, coalesce(json_extract(e.data, '$.photos'), 0)
         FROM complaint_events e
         LEFT JOIN users actor ON actor.id = e.actor_user_id
         WHERE e.complaint_id = ?1 AND e.public = 1
         ORDER BY e.id",
    )?;
    let rows = statement.query_map([complaint_id], |row| {
        // An assignment's from and to are user ids, a status change's are
        // statuses.
        let status = |value: Value| match value {
            Value::Text(text) => Status::parse(&text),
            _ => None,
        };
        let from = status(row.get(3)?);
        let to = status(row.get(4)?);
        let name: Option<String> = row.get(7)?;
        Ok(ShopperEvent {
            at: row.get(0)?,
            kind: row.get(1)?,
            body: row.get(2)?,
            from,
            status: to,
            by_shopper: row.get::<_, Option<bool>>(5)?.unwrap_or(false),
            because_of_reply: row.get::<_, Option<bool>>(6)?.unwrap_or(false),
            first_name: name.and_then(first_name),
            photos: row.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn follow_up(
    connection: &Connection,
    token_hash: &[u8; 32],
) -> Result<Option<FollowUp>, StoreError> {
    let found: Option<(i64, String, Option<i64>, Option<String>)> = connection
        .prepare_cached(&format!(
            "SELECT c.id, c.status, c.resolved_at, u.display_name FROM complaints c
             LEFT JOIN users u ON u.id = c.assignee_user_id AND u.merchant_id = c.merchant_id
                 AND u.disabled = 0
             WHERE {OPENS}"
        ))?
        .query_row([token_hash], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let Some((complaint_id, status, resolved_at, assignee)) = found else {
        return Ok(None);
    };
    Ok(Some(FollowUp {
        complaint_id,
        status: parse_status(&status)?,
        resolved_at,
        looked_after_by: assignee.and_then(first_name),
        survey: survey(connection, complaint_id)?,
        timeline: public_events(connection, complaint_id)?,
    }))
}

fn act(
    connection: &Connection,
    token_hash: &[u8; 32],
    action: &ShopperAction,
    now: i64,
) -> Result<ShopperOutcome, StoreError> {
    let found: Option<(i64, i64, String, Option<i64>)> = connection
        .prepare_cached(&format!(
            "SELECT c.id, c.site_id, c.status, c.resolved_at FROM complaints c WHERE {OPENS}"
        ))?
        .query_row([token_hash], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let Some((id, site_id, status, resolved_at)) = found else {
        return Ok(ShopperOutcome::NotFound);
    };
    let status = parse_status(&status)?;
    let refuse = |refusal| Ok(ShopperOutcome::Refused(refusal));
    match action {
        ShopperAction::Reply { body, attachments } => {
            if status == Status::Closed {
                return refuse(ShopperRefusal::Closed);
            }
            let data = serde_json::json!({ "photos": attachments.len() });
            let event_id = event(connection, id, now, "shopper_reply", Some(body), &data)?;
            for (index, attachment) in attachments.iter().enumerate() {
                let claimed = connection
                    .prepare_cached(
                        "UPDATE attachments SET complaint_id = ?2, event_id = ?3
                         WHERE id = ?1 AND site_id = ?4 AND complaint_id IS NULL",
                    )?
                    .execute(params![attachment, id, event_id, site_id])?;
                if claimed != 1 {
                    // The writer rolls this job's savepoint back.
                    return Err(StoreError::UnknownAttachment(index));
                }
            }
            touch(connection, id, now)?;
            if status == Status::WaitingForYou {
                change_status(connection, id, status, Status::InProgress, true, now)?;
            }
        }
        ShopperAction::Resolve => {
            if !is_open(status) {
                return refuse(if status == Status::Closed {
                    ShopperRefusal::Closed
                } else {
                    ShopperRefusal::NotOpen
                });
            }
            change_status(connection, id, status, Status::Resolved, false, now)?;
        }
        ShopperAction::Reopen { window_ms } => {
            if is_open(status) {
                return refuse(ShopperRefusal::NotResolved);
            }
            if resolved_at.is_none_or(|resolved_at| now - resolved_at > *window_ms) {
                return refuse(ShopperRefusal::WindowOver);
            }
            change_status(connection, id, status, Status::InProgress, false, now)?;
        }
        ShopperAction::Survey(answer) => {
            match status {
                Status::Resolved => {}
                Status::Closed => return refuse(ShopperRefusal::Closed),
                _ => return refuse(ShopperRefusal::NotResolved),
            }
            let changed = connection
                .prepare_cached(
                    "INSERT INTO complaint_surveys
                     (complaint_id, satisfaction, quick_enough, would_return, comment,
                      created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                     ON CONFLICT (complaint_id) DO UPDATE SET
                        satisfaction = excluded.satisfaction,
                        quick_enough = excluded.quick_enough,
                        would_return = excluded.would_return,
                        comment = excluded.comment,
                        updated_at = excluded.updated_at
                     RETURNING created_at < updated_at",
                )?
                .query_row(
                    params![
                        id,
                        answer.satisfaction,
                        answer.quick_enough,
                        answer.would_return,
                        answer.comment,
                        now
                    ],
                    |row| row.get::<_, bool>(0),
                )?;
            let data = serde_json::json!({
                "satisfaction": answer.satisfaction,
                "changed": changed,
            });
            event(connection, id, now, "survey_received", None, &data)?;
            touch(connection, id, now)?;
        }
    }
    Ok(ShopperOutcome::Done)
}

fn is_open(status: Status) -> bool {
    !matches!(status, Status::Resolved | Status::Closed)
}

/// A status change by the shopper: the complaint's summary columns and the
/// event that is their source of truth, together.
fn change_status(
    connection: &Connection,
    id: i64,
    from: Status,
    to: Status,
    because_of_reply: bool,
    now: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "UPDATE complaints SET status = ?2, updated_at = ?3,
                resolved_at = CASE WHEN ?2 IN ('resolved', 'closed')
                    THEN coalesce(resolved_at, ?3) ELSE NULL END
             WHERE id = ?1",
        )?
        .execute(params![id, to.as_str(), now])?;
    let mut data = serde_json::json!({ "from": from.as_str(), "to": to.as_str(), "by": "shopper" });
    if because_of_reply {
        data["because"] = "reply".into();
    }
    event(connection, id, now, "status_changed", None, &data)?;
    Ok(())
}

fn touch(connection: &Connection, id: i64, now: i64) -> Result<(), StoreError> {
    connection
        .prepare_cached("UPDATE complaints SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// A public event by the shopper (no staff actor); answers its id.
fn event(
    connection: &Connection,
    complaint_id: i64,
    at: i64,
    kind: &str,
    body: Option<&str>,
    data: &serde_json::Value,
) -> Result<i64, StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
             VALUES (?1, ?2, NULL, ?3, 1, ?4, ?5)",
        )?
        .execute(params![complaint_id, at, kind, body, data.to_string()])?;
    Ok(connection.last_insert_rowid())
}

fn first_name(display_name: String) -> Option<String> {
    display_name.split_whitespace().next().map(str::to_owned)
}

fn parse_status(text: &str) -> Result<Status, StoreError> {
    Status::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown status {text:?}")))
}
