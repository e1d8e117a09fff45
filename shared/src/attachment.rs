//! Photos a shopper attaches to a complaint.
//!
//! The widget uploads each photo first, with
//! `POST /api/v1/sites/{site_key}/attachments` (the raw image as the body,
//! `Content-Type: image/jpeg`, `image/png` or `image/webp`), and sends the
//! returned ids in [`crate::ComplaintSubmission::attachments`].

use serde::{Deserialize, Serialize};

/// The answer to a successful upload (`201`). The collector has checked the
/// real file type by its content, re-encoded the image (dropping metadata such
/// as GPS position) and stored it; `width`, `height` and `bytes` describe the
/// stored copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentReceipt {
    /// Unguessable id to list in the complaint's `attachments`.
    pub id: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// The content types the upload endpoint accepts.
pub const ACCEPTED_IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];
