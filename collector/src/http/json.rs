//! A JSON body extractor whose every rejection has the shared error shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::AppError;

/// Like `axum::Json`, but refuses with [`AppError`]: 415 without a JSON
/// content type, 413 past the route's body limit (checked while reading, so an
/// oversize body is never read whole), 400 for broken JSON, 422 for JSON of
/// the wrong shape.
pub struct JsonBody<T>(pub T);

/// The route's body limit, repeated in 413 messages.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(AppError::UnsupportedMediaType);
        }
        let limit = request.extensions().get::<BodyLimit>().map(|limit| limit.0);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge {
                        limit: limit.unwrap_or_default(),
                    }
                } else {
                    AppError::MalformedJson(rejection.body_text())
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|error| {
                if error.is_data() {
                    AppError::UnprocessableJson(error.to_string())
                } else {
                    AppError::MalformedJson(error.to_string())
                }
            })
    }
}
