//! `POST /api/v1/sites/{site_key}/complaints`: complaint intake.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use heard_shared::{ComplaintSubmission, FieldError, IDEMPOTENCY_KEY_HEADER};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use crate::domain::intake;
use crate::domain::live::Arrival;
use crate::store::Site;

/// Set on the answer to a retried request that found its first receipt.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub async fn create(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    headers: HeaderMap,
    JsonBody(submission): JsonBody<ComplaintSubmission>,
) -> Result<Response, AppError> {
    let idempotency_key = match headers.get(IDEMPOTENCY_KEY_HEADER) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            AppError::BadHeader(FieldError::new(
                IDEMPOTENCY_KEY_HEADER,
                "invalid",
                "The Idempotency-Key header must be printable ASCII, such as a UUID.",
            ))
        })?),
    };
    let accepted = intake::submit(
        &state.store,
        &state.public_url,
        &site,
        submission,
        idempotency_key,
        None,
    )
    .await?;
    tracing::info!(site = %site.key, reference = %accepted.receipt.reference, replayed = accepted.replayed, "complaint accepted");
    if !accepted.replayed && !accepted.spam {
        state.live.publish(Arrival {
            merchant_id: site.merchant_id,
            reference: accepted.receipt.reference.clone(),
        });
    }

    let mut response = (StatusCode::CREATED, Json(accepted.receipt)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if accepted.replayed {
        headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}
