//! The audit log: who did what, per merchant. Entries are written in the same
//! transaction as the action they describe, so the log cannot miss an action
//! that happened or record one that did not.

use rusqlite::{Connection, params};

use super::StoreError;

/// An entry to write alongside an action.
#[derive(Debug, Clone)]
pub struct AuditNote {
    /// The staff member acting; `None` for the command line.
    pub user_id: Option<i64>,
    pub action: &'static str,
    /// A JSON object with the particulars (never a password or token).
    pub detail: serde_json::Value,
}

impl AuditNote {
    pub fn new(user_id: Option<i64>, action: &'static str, detail: serde_json::Value) -> Self {
        AuditNote {
            user_id,
            action,
            detail,
        }
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub user_id: Option<i64>,
    pub action: String,
    pub detail: serde_json::Value,
    pub at: i64,
}

pub(super) fn record(
    connection: &Connection,
    merchant_id: i64,
    note: &AuditNote,
    now: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO audit_log (merchant_id, user_id, action, detail, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            merchant_id,
            note.user_id,
            note.action,
            note.detail.to_string(),
            now
        ])?;
    Ok(())
}

/// The merchant's entries, newest first, older than `before` (an entry id)
/// when given: keyset pagination.
pub(super) fn list(
    connection: &Connection,
    merchant_id: i64,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT id, user_id, action, detail, at FROM audit_log
         WHERE merchant_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
    )?;
    let rows = statement.query_map(
        params![merchant_id, before.unwrap_or(i64::MAX), limit as i64],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Option<i64>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
            ))
        },
    )?;
    rows.map(|row| {
        let (id, user_id, action, detail, at) = row?;
        Ok(AuditEntry {
            id,
            user_id,
            action,
            detail: serde_json::from_str(&detail)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?,
            at,
        })
    })
    .collect()
}
