//! `POST /api/v1/sites/{site_key}/attachments`: photo uploads.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use heard_shared::attachment::ACCEPTED_IMAGE_TYPES;
use heard_shared::limits::MAX_ATTACHMENT_BYTES;

use super::AppState;
use super::error::AppError;
use crate::domain::attachments::{self, UploadError};
use crate::store::Site;

/// The body is the raw image; its declared type must be one we accept, but
/// only its content decides (the domain sniffs and re-encodes it).
pub async fn upload(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    request: Request,
) -> Result<Response, AppError> {
    let bytes = photo_bytes(request).await?;
    let receipt = attachments::upload(&state.store, &site, bytes)
        .await
        .map_err(|error| match error {
            UploadError::Photo(problem) => AppError::Photo(problem),
            UploadError::Store(error) => error.into(),
        })?;
    tracing::info!(site = %site.key, id = %receipt.id, bytes = receipt.bytes, "photo stored");
    Ok((StatusCode::CREATED, Json(receipt)).into_response())
}

/// The body of a photo upload: refused unless its declared type is one we
/// accept, and past [`MAX_ATTACHMENT_BYTES`] (checked while reading). Only
/// the content decides what it is: the domain sniffs and re-encodes it.
pub async fn photo_bytes(request: Request) -> Result<Vec<u8>, AppError> {
    let declared = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if !declared.is_some_and(|declared| ACCEPTED_IMAGE_TYPES.contains(&declared.as_str())) {
        return Err(AppError::NotAPhoto);
    }
    let bytes = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge {
                    limit: MAX_ATTACHMENT_BYTES,
                }
            } else {
                AppError::MalformedBody(rejection.body_text())
            }
        })?;
    Ok(bytes.to_vec())
}
