//! Uploaded photos.

use rusqlite::{Connection, params};

use super::StoreError;

/// A checked, re-encoded photo to store.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub id: String,
    pub site_id: i64,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
    pub created_at: i64,
}

pub(super) fn insert(
    connection: &Connection,
    attachment: &NewAttachment,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO attachments (id, site_id, content_type, width, height, bytes, data, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            attachment.id,
            attachment.site_id,
            attachment.content_type,
            attachment.width,
            attachment.height,
            attachment.data.len() as i64,
            attachment.data,
            attachment.created_at,
        ])?;
    Ok(())
}
