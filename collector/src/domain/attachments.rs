//! Accepting a photo upload: check, re-encode, store, answer with its id.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use heard_shared::AttachmentReceipt;

use super::photos::{self, PhotoError};
use crate::store::{NewAttachment, Site, Store, StoreError};
use crate::{clock, random};

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Photo(#[from] PhotoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks and stores one photo for `site`.
pub async fn upload(
    store: &Store,
    site: &Site,
    bytes: Vec<u8>,
) -> Result<AttachmentReceipt, UploadError> {
    store_photo(store, site.id, bytes, clock::now_millis()).await
}

/// Re-encodes `bytes` and stores the photo, unclaimed, for the site
/// `site_id`. Decoding is CPU work, so it runs on the blocking pool, away
/// from the request threads.
pub async fn store_photo(
    store: &Store,
    site_id: i64,
    bytes: Vec<u8>,
    now: i64,
) -> Result<AttachmentReceipt, UploadError> {
    let photo = tokio::task::spawn_blocking(move || photos::reencode(&bytes))
        .await
        .map_err(|error| StoreError::Task(error.to_string()))??;
    let id = new_id();
    let receipt = AttachmentReceipt {
        id: id.clone(),
        content_type: photo.content_type.to_owned(),
        width: photo.width,
        height: photo.height,
        bytes: photo.data.len() as u64,
    };
    store
        .add_attachment(NewAttachment {
            id,
            site_id,
            content_type: photo.content_type.to_owned(),
            width: photo.width,
            height: photo.height,
            data: photo.data,
            created_at: now,
        })
        .await?;
    Ok(receipt)
}

/// How long an uploaded photo waits for its complaint before it is deleted.
pub const UNCLAIMED_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Deletes photos no complaint claimed within [`UNCLAIMED_LIFETIME`] of `now`.
pub async fn sweep_unclaimed(store: &Store, now: i64) -> Result<usize, StoreError> {
    store
        .delete_unclaimed_attachments(now - UNCLAIMED_LIFETIME.as_millis() as i64)
        .await
}

/// `att_` and 128 random bits: knowing an id is what lets a complaint claim it.
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    random::fill(&mut bytes);
    format!("att_{}", URL_SAFE_NO_PAD.encode(bytes))
}
