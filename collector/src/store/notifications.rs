//! The notification outbox: email to staff and webhook calls, written in the
//! same transaction as their cause and settled by the notify worker.
//!
//! A row is never deleted by delivery. It is `pending` until it is
//! `delivered`, or `dead` after its last attempt; a dead row stays in the
//! merchant's dead-letter list until someone retries it.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::routing::WebhookFormat;
use super::{Store, StoreError};

/// A notification to queue.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub merchant_id: i64,
    pub complaint_id: Option<i64>,
    /// Set for a webhook call.
    pub webhook_id: Option<i64>,
    /// Set for an email to a staff member.
    pub user_id: Option<i64>,
    /// The URL or the address, as it was when queued.
    pub target: String,
    pub event: String,
    pub payload: serde_json::Value,
}

/// A notification whose attempt is due, with what the worker needs to send it.
#[derive(Debug, Clone)]
pub struct DueNotification {
    pub id: i64,
    pub merchant_id: i64,
    /// The Standard Webhooks `webhook-id`: the same on every attempt.
    pub message_id: String,
    pub event: String,
    /// The JSON body, byte for byte what was queued.
    pub payload: String,
    /// Failed attempts so far.
    pub attempts: u32,
    pub created_at: i64,
    pub delivery: Delivery,
}

/// Where a due notification goes, looked up at the time of the attempt.
#[derive(Clone)]
pub enum Delivery {
    Webhook {
        url: String,
        format: WebhookFormat,
        allow_private: bool,
        /// The current secret, then the previous one while it still signs.
        secrets: Vec<Vec<u8>>,
    },
    Email {
        address: String,
        display_name: String,
        language: Option<String>,
    },
    /// The endpoint or the staff member is gone or disabled: why.
    Unreachable(String),
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Delivery::Webhook { url, format, .. } => formatter
                .debug_struct("Webhook")
                .field("url", url)
                .field("format", format)
                .field("secrets", &"<redacted>")
                .finish(),
            Delivery::Email { address, .. } => formatter
                .debug_struct("Email")
                .field("address", address)
                .finish(),
            Delivery::Unreachable(why) => formatter.debug_tuple("Unreachable").field(why).finish(),
        }
    }
}

/// A notification as the dead-letter list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationView {
    pub id: i64,
    /// `webhook` or `email`.
    pub kind: String,
    pub target: String,
    pub event: String,
    pub message_id: String,
    /// The complaint's reference, if it caused the notification.
    pub reference: Option<String>,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// Queues a notification in the caller's transaction; due at once.
pub(super) fn queue(
    connection: &Connection,
    notification: &NewNotification,
    now: i64,
) -> Result<i64, StoreError> {
    let kind = if notification.webhook_id.is_some() {
        "webhook"
    } else {
        "email"
    };
    connection
        .prepare_cached(
            "INSERT INTO notification_outbox (merchant_id, complaint_id, kind, webhook_id, user_id,
                target, event, message_id, payload, state, attempts, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', 0, ?10, ?10)",
        )?
        .execute(params![
            notification.merchant_id,
            notification.complaint_id,
            kind,
            notification.webhook_id,
            notification.user_id,
            notification.target,
            notification.event,
            message_id(),
            notification.payload.to_string(),
            now
        ])?;
    Ok(connection.last_insert_rowid())
}

/// `msg_` and 24 random bytes in URL-safe base64: unique, unguessable,
/// within the spec's allowed characters.
fn message_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    crate::random::fill(&mut bytes);
    format!(
        "msg_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// `with_email: false` leaves staff email out, so while no SMTP server is
/// configured the email that waits for one neither fills every batch (and
/// keeps the worker from sleeping) nor holds the webhooks behind it.
fn due(
    connection: &Connection,
    now: i64,
    limit: usize,
    with_email: bool,
) -> Result<Vec<DueNotification>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT o.id, o.merchant_id, o.message_id, o.event, o.payload, o.attempts, o.created_at,
                o.kind,
                w.url, w.format, w.allow_private, w.enabled, w.secret, w.previous_secret,
                w.previous_secret_until,
                u.email, u.display_name, u.language, u.disabled
         FROM notification_outbox o
         LEFT JOIN webhook_endpoints w ON w.id = o.webhook_id AND w.merchant_id = o.merchant_id
         LEFT JOIN users u ON u.id = o.user_id AND u.merchant_id = o.merchant_id
         WHERE o.state = 'pending' AND o.next_attempt_at <= ?1 AND (?3 OR o.kind = 'webhook')
         ORDER BY o.next_attempt_at, o.id
         LIMIT ?2",
    )?;
    let rows = statement.query_map(params![now, limit as i64, with_email], |row| {
        due_from_row(row, now)
    })?;
    let mut list = Vec::new();
    for row in rows {
        list.push(row??);
    }
    Ok(list)
}

fn due_from_row(row: &Row<'_>, now: i64) -> rusqlite::Result<Result<DueNotification, StoreError>> {
    let kind: String = row.get(7)?;
    let delivery = if kind == "webhook" {
        match row.get::<_, Option<String>>(8)? {
            None => Delivery::Unreachable("the webhook endpoint was deleted".to_owned()),
            Some(_) if !row.get::<_, bool>(11)? => {
                Delivery::Unreachable("the webhook endpoint is disabled".to_owned())
            }
            Some(url) => {
                let format = match WebhookFormat::parse(&row.get::<_, String>(9)?) {
                    Ok(format) => format,
                    Err(error) => return Ok(Err(error)),
                };
                let mut secrets = vec![row.get::<_, Vec<u8>>(12)?];
                if let (Some(previous), Some(until)) = (
                    row.get::<_, Option<Vec<u8>>>(13)?,
                    row.get::<_, Option<i64>>(14)?,
                ) && until > now
                {
                    secrets.push(previous);
                }
                Delivery::Webhook {
                    url,
                    format,
                    allow_private: row.get(10)?,
                    secrets,
                }
            }
        }
    } else {
        match row.get::<_, Option<String>>(15)? {
            None => Delivery::Unreachable("the staff member was removed".to_owned()),
            Some(_) if row.get::<_, bool>(18)? => {
                Delivery::Unreachable("the staff member is disabled".to_owned())
            }
            Some(address) => Delivery::Email {
                address,
                display_name: row.get(16)?,
                language: row.get(17)?,
            },
        }
    };
    Ok(Ok(DueNotification {
        id: row.get(0)?,
        merchant_id: row.get(1)?,
        message_id: row.get(2)?,
        event: row.get(3)?,
        payload: row.get(4)?,
        attempts: row.get(5)?,
        created_at: row.get(6)?,
        delivery,
    }))
}

fn view_from_row(row: &Row<'_>) -> rusqlite::Result<NotificationView> {
    Ok(NotificationView {
        id: row.get(0)?,
        kind: row.get(1)?,
        target: row.get(2)?,
        event: row.get(3)?,
        message_id: row.get(4)?,
        reference: row.get(5)?,
        state: row.get(6)?,
        attempts: row.get(7)?,
        next_attempt_at: row.get(8)?,
        last_error: row.get(9)?,
        created_at: row.get(10)?,
        finished_at: row.get(11)?,
    })
}

const VIEW_SQL: &str = "SELECT o.id, o.kind, o.target, o.event, o.message_id, c.reference,
        o.state, o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.finished_at
     FROM notification_outbox o LEFT JOIN complaints c ON c.id = o.complaint_id";

fn list(
    connection: &Connection,
    merchant_id: i64,
    state: Option<&str>,
    limit: usize,
) -> Result<Vec<NotificationView>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "{VIEW_SQL} WHERE o.merchant_id = ?1 AND (?2 IS NULL OR o.state = ?2)
         ORDER BY o.id DESC LIMIT ?3"
    ))?;
    let rows = statement.query_map(params![merchant_id, state, limit as i64], view_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn one(
    connection: &Connection,
    merchant_id: i64,
    id: i64,
) -> Result<Option<NotificationView>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "{VIEW_SQL} WHERE o.merchant_id = ?1 AND o.id = ?2"
        ))?
        .query_row(params![merchant_id, id], view_from_row)
        .optional()?)
}

impl Store {
    /// Pending notifications whose next attempt is due at `now`.
    pub async fn due_notifications(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<DueNotification>, StoreError> {
        self.read(move |connection| due(connection, now, limit, true))
            .await
    }

    /// The due notifications the worker can send now: without staff email
    /// when `with_email` is false (no SMTP server configured).
    pub async fn deliverable_notifications(
        &self,
        now: i64,
        limit: usize,
        with_email: bool,
    ) -> Result<Vec<DueNotification>, StoreError> {
        self.read(move |connection| due(connection, now, limit, with_email))
            .await
    }

    /// Whether any staff email is pending (sent or not yet due).
    pub async fn email_notification_waiting(&self) -> Result<bool, StoreError> {
        self.read(|connection| {
            Ok(connection.query_row(
                "SELECT EXISTS (SELECT 1 FROM notification_outbox INDEXED BY notification_outbox_due
                                WHERE state = 'pending' AND kind = 'email')",
                [],
                |row| row.get(0),
            )?)
        })
        .await
    }

    /// When the earliest pending notification is due, if any.
    pub async fn next_notification_at(&self) -> Result<Option<i64>, StoreError> {
        self.read(|connection| {
            Ok(connection.query_row(
                "SELECT min(next_attempt_at) FROM notification_outbox WHERE state = 'pending'",
                [],
                |row| row.get(0),
            )?)
        })
        .await
    }

    pub async fn notification_delivered(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                connection.execute(
                    "UPDATE notification_outbox SET state = 'delivered', finished_at = ?2,
                        last_error = NULL
                     WHERE id = ?1 AND state = 'pending'",
                    params![id, now],
                )?;
                Ok(())
            })
            .await
    }

    /// Counts a failed attempt; `retry_at: None` makes the notification dead.
    pub async fn notification_failed(
        &self,
        id: i64,
        error: String,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                connection.execute(
                    "UPDATE notification_outbox SET attempts = attempts + 1, last_error = ?2,
                        next_attempt_at = coalesce(?3, next_attempt_at),
                        state = CASE WHEN ?3 IS NULL THEN 'dead' ELSE 'pending' END,
                        finished_at = CASE WHEN ?3 IS NULL THEN ?4 ELSE NULL END
                     WHERE id = ?1 AND state = 'pending'",
                    params![id, error, retry_at, now],
                )?;
                Ok(())
            })
            .await
    }

    /// The merchant's notifications, newest first, optionally in one state.
    pub async fn notifications(
        &self,
        merchant_id: i64,
        state: Option<String>,
        limit: usize,
    ) -> Result<Vec<NotificationView>, StoreError> {
        self.read(move |connection| list(connection, merchant_id, state.as_deref(), limit))
            .await
    }

    /// Puts a dead notification back in the queue, due at once with a fresh
    /// retry schedule; `None` when the merchant has no dead one by that id.
    pub async fn retry_notification(
        &self,
        merchant_id: i64,
        actor: i64,
        id: i64,
        now: i64,
    ) -> Result<Option<NotificationView>, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                let changed = connection.execute(
                    "UPDATE notification_outbox SET state = 'pending', attempts = 0,
                        next_attempt_at = ?3, finished_at = NULL
                     WHERE id = ?1 AND merchant_id = ?2 AND state = 'dead'",
                    params![id, merchant_id, now],
                )?;
                if changed == 0 {
                    return Ok(None);
                }
                let note = super::AuditNote::new(
                    Some(actor),
                    "notification.retried",
                    serde_json::json!({ "notification_id": id }),
                );
                super::audit::record(connection, merchant_id, &note, now)?;
                one(connection, merchant_id, id)
            })
            .await
    }
}
