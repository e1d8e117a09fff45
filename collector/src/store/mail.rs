//! The mail queue: messages to shoppers, written in the transaction of their
//! cause and removed only once delivered.

use rusqlite::{Connection, params};

use super::StoreError;

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// "We have your complaint": sent once, when a complaint with an email
    /// address and consent is stored.
    Acknowledgement,
    /// A fresh status link for a shopper who lost theirs.
    Recovery,
    /// A staff status change or reply (see [`MailUpdate`]). Its link is
    /// minted when it is first sent.
    Update,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Acknowledgement => "acknowledgement",
            MailKind::Recovery => "recovery",
            MailKind::Update => "update",
        }
    }

    fn parse(text: &str) -> Result<MailKind, StoreError> {
        match text {
            "acknowledgement" => Ok(MailKind::Acknowledgement),
            "recovery" => Ok(MailKind::Recovery),
            "update" => Ok(MailKind::Update),
            other => Err(StoreError::Corrupt(format!("unknown mail kind {other:?}"))),
        }
    }
}

/// A message to queue beside the write that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub kind: MailKind,
    pub recipient: String,
    /// The private status link the message carries.
    pub status_url: String,
}

/// What an update message is about: the event that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailUpdate {
    /// `acknowledged`, `status_changed` or `public_reply`.
    pub event_kind: String,
    /// The new status, for a status change.
    pub status: Option<heard_shared::Status>,
    /// The staff reply's text.
    pub body: Option<String>,
    /// The staff member's first name.
    pub first_name: Option<String>,
}

/// A queued message with what is needed to write it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMail {
    pub id: i64,
    pub kind: MailKind,
    pub recipient: String,
    /// Empty for an update whose link is not minted yet
    /// ([`crate::store::Store::mint_mail_link`]).
    pub status_url: String,
    pub attempts: u32,
    pub reference: String,
    pub site_name: String,
    pub language: String,
    pub category_label: String,
    pub description: String,
    pub contact_name: Option<String>,
    pub complaint_created_at: i64,
    /// For [`MailKind::Update`]: what happened.
    pub update: Option<MailUpdate>,
}

/// A row of the queue as an operator sees it (no link, no text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailState {
    pub id: i64,
    pub kind: MailKind,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub parked: bool,
    pub last_error: Option<String>,
}

pub(super) fn queue(
    connection: &Connection,
    complaint_id: i64,
    mail: &NewMail,
    now: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO mail_queue
             (complaint_id, kind, recipient, status_url, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?
        .execute(params![
            complaint_id,
            mail.kind.as_str(),
            mail.recipient,
            mail.status_url,
            now
        ])?;
    Ok(())
}

pub(super) fn due(
    connection: &Connection,
    now: i64,
    limit: usize,
) -> Result<Vec<QueuedMail>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT m.id, m.kind, m.recipient, coalesce(m.status_url, ''), m.attempts, c.reference,
                s.name, c.language, c.category_label, c.description, c.contact_name, c.created_at,
                e.kind, json_extract(e.data, '$.to'), e.body, u.display_name
         FROM mail_queue m
         JOIN complaints c ON c.id = m.complaint_id
         JOIN sites s ON s.id = c.site_id
         LEFT JOIN complaint_events e ON e.id = m.event_id
         LEFT JOIN users u ON u.id = e.actor_user_id
         WHERE m.parked_at IS NULL AND m.next_attempt_at <= ?1
         ORDER BY m.next_attempt_at, m.id
         LIMIT ?2",
    )?;
    let rows = statement.query_map(params![now, limit as i64], |row| {
        let kind: String = row.get(1)?;
        Ok((
            kind,
            QueuedMail {
                id: row.get(0)?,
                kind: MailKind::Acknowledgement,
                recipient: row.get(2)?,
                status_url: row.get(3)?,
                attempts: row.get(4)?,
                reference: row.get(5)?,
                site_name: row.get(6)?,
                language: row.get(7)?,
                category_label: row.get(8)?,
                description: row.get(9)?,
                contact_name: row.get(10)?,
                complaint_created_at: row.get(11)?,
                update: match row.get::<_, Option<String>>(12)? {
                    Some(event_kind) => Some(MailUpdate {
                        event_kind,
                        status: row
                            .get::<_, Option<String>>(13)
                            .ok()
                            .flatten()
                            .as_deref()
                            .and_then(heard_shared::Status::parse),
                        body: row.get(14)?,
                        first_name: row
                            .get::<_, Option<String>>(15)?
                            .and_then(|name| name.split_whitespace().next().map(str::to_owned)),
                    }),
                    None => None,
                },
            },
        ))
    })?;
    let mut due = Vec::new();
    for row in rows {
        let (kind, mut mail) = row?;
        mail.kind = MailKind::parse(&kind)?;
        due.push(mail);
    }
    Ok(due)
}

/// The SMTP server took the message: the row, and the link in it, go.
pub(super) fn delivered(connection: &Connection, id: i64) -> Result<(), StoreError> {
    connection
        .prepare_cached("DELETE FROM mail_queue WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Records a failed attempt; `next_attempt_at: None` parks the row for good.
pub(super) fn failed(
    connection: &Connection,
    id: i64,
    error: &str,
    next_attempt_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "UPDATE mail_queue SET attempts = attempts + 1, last_error = ?2,
                 next_attempt_at = coalesce(?3, next_attempt_at),
                 parked_at = CASE WHEN ?3 IS NULL THEN ?4 END
             WHERE id = ?1",
        )?
        .execute(params![id, error, next_attempt_at, now])?;
    Ok(())
}

pub(super) fn states(connection: &Connection) -> Result<Vec<MailState>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT id, kind, attempts, next_attempt_at, parked_at IS NOT NULL, last_error
         FROM mail_queue ORDER BY id",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(1)?,
            MailState {
                id: row.get(0)?,
                kind: MailKind::Acknowledgement,
                attempts: row.get(2)?,
                next_attempt_at: row.get(3)?,
                parked: row.get(4)?,
                last_error: row.get(5)?,
            },
        ))
    })?;
    let mut states = Vec::new();
    for row in rows {
        let (kind, mut state) = row?;
        state.kind = MailKind::parse(&kind)?;
        states.push(state);
    }
    Ok(states)
}
