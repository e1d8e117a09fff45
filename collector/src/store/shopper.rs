//! What the shopper can do with their own complaint through its status
//! link: recover a lost link, export everything, delete it.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::mail::{self, MailKind, NewMail};
use super::sites::from_json;

/// Everything stored about one complaint, for the shopper's download.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintExport {
    pub answers: BTreeMap<String, String>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub user_agent: Option<String>,
    /// The identity the shop vouched for, as stored (JSON).
    pub identity: Option<String>,
    pub identity_verified: bool,
    pub photos: Vec<ExportedPhoto>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExportedPhoto {
    pub id: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
    pub created_at: i64,
}

/// The complaint a status-link hash opens: the first link or a recovered one.
pub(super) const OPENS: &str = "c.deleted_at IS NULL AND (c.token_hash = ?1
    OR c.id IN (SELECT complaint_id FROM receipt_tokens WHERE token_hash = ?1))";

/// When `reference` (of `site_id`, if given) has `email` as its contact
/// address, stores a new link's hash and queues a message to the address on
/// file. Answers whether it did; callers must not show the answer.
pub(super) fn recover(
    connection: &Connection,
    site_id: Option<i64>,
    reference: &str,
    email: &str,
    token_hash: &[u8; 32],
    status_url: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let found: Option<(i64, Option<String>)> = connection
        .prepare_cached(
            "SELECT id, contact_email FROM complaints
             WHERE reference = ?1 AND deleted_at IS NULL AND (?2 IS NULL OR site_id = ?2)",
        )?
        .query_row(params![reference, site_id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let Some((complaint_id, Some(on_file))) = found else {
        return Ok(false);
    };
    if !on_file.trim().eq_ignore_ascii_case(email.trim()) {
        return Ok(false);
    }
    connection
        .prepare_cached(
            "INSERT INTO receipt_tokens (token_hash, complaint_id, created_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![token_hash, complaint_id, now])?;
    mail::queue(
        connection,
        complaint_id,
        &NewMail {
            kind: MailKind::Recovery,
            recipient: on_file,
            status_url: status_url.to_owned(),
        },
        now,
    )?;
    Ok(true)
}

pub(super) fn export(
    connection: &Connection,
    token_hash: &[u8; 32],
) -> Result<Option<(i64, ComplaintExport)>, StoreError> {
    let row: Option<(i64, String, ComplaintExport)> = connection
        .prepare_cached(&format!(
            "SELECT c.id, c.answers, c.contact_name, c.contact_email, c.contact_phone,
                    c.user_agent, c.identity, c.identity_verified
             FROM complaints c WHERE {OPENS}"
        ))?
        .query_row([token_hash], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                ComplaintExport {
                    answers: BTreeMap::new(),
                    contact_name: row.get(2)?,
                    contact_email: row.get(3)?,
                    contact_phone: row.get(4)?,
                    user_agent: row.get(5)?,
                    identity: row.get(6)?,
                    identity_verified: row.get(7)?,
                    photos: Vec::new(),
                },
            ))
        })
        .optional()?;
    let Some((id, answers, mut export)) = row else {
        return Ok(None);
    };
    export.answers = from_json(&answers)?;
    let mut photos = connection.prepare_cached(
        "SELECT id, content_type, width, height, data, created_at FROM attachments
         WHERE complaint_id = ?1 ORDER BY created_at, id",
    )?;
    for photo in photos.query_map([id], |row| {
        Ok(ExportedPhoto {
            id: row.get(0)?,
            content_type: row.get(1)?,
            width: row.get(2)?,
            height: row.get(3)?,
            data: row.get(4)?,
            created_at: row.get(5)?,
        })
    })? {
        export.photos.push(photo?);
    }
    Ok(Some((id, export)))
}

/// Removes what the shopper wrote and who they are; keeps the anonymous
/// counts (category, value, severity, mood, kind, language, times, status).
/// Every status link stops working. `false` when the hash opens nothing.
pub(super) fn delete(
    connection: &Connection,
    token_hash: &[u8; 32],
    now: i64,
) -> Result<bool, StoreError> {
    let id: Option<i64> = connection
        .prepare_cached(&format!("SELECT c.id FROM complaints c WHERE {OPENS}"))?
        .query_row([token_hash], |row| row.get(0))
        .optional()?;
    let Some(id) = id else { return Ok(false) };
    erase(connection, id)?;
    connection
        .prepare_cached("UPDATE complaints SET deleted_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(true)
}

/// The one eraser, shared by the shopper's deletion and retention
/// (`retention.rs`): the complaint's words, contact details, identity,
/// photos, status links, waiting mail and survey comment go, the event
/// bodies of its timeline are cleared, and the search index is told to
/// forget it. What stays is what counts and figures need. The caller marks
/// why (`deleted_at` or `anonymized_at`) and checkpoints the WAL afterwards.
pub(super) fn erase(connection: &Connection, id: i64) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "UPDATE complaints SET description = '', remedy = NULL, answers = '{}',
                 contact_name = NULL, contact_email = NULL, contact_phone = NULL,
                 page_url = NULL, user_agent = NULL, callback_window = NULL,
                 identity = NULL, identity_verified = 0,
                 token_hash = randomblob(32)
             WHERE id = ?1",
        )?
        .execute([id])?;
    for sql in [
        "DELETE FROM attachments WHERE complaint_id = ?1",
        "DELETE FROM receipt_tokens WHERE complaint_id = ?1",
        "DELETE FROM mail_queue WHERE complaint_id = ?1",
        "DELETE FROM idempotency_keys WHERE complaint_id = ?1",
        "UPDATE complaint_events SET body = NULL WHERE complaint_id = ?1",
        // The survey's three answers stay as anonymous counts; its words go.
        "UPDATE complaint_surveys SET comment = NULL WHERE complaint_id = ?1",
    ] {
        connection.prepare_cached(sql)?.execute([id])?;
    }
    super::search::forget(connection, id)
}
