//! `POST /api/v1/sites/{site_key}/complaints`: complaint intake.
//!
//! The proof of work in `Heard-Proof` is checked here, before anything is
//! stored: its shape, its signature for this site and its expiry. It is
//! *spent* by the store in the complaint's own transaction, after the
//! idempotency check, so a retry of a stored complaint (same
//! `Idempotency-Key`, same body) gets its first receipt even though its
//! proof is spent — provided the proof has not expired meanwhile; a client
//! retrying later solves a new challenge and keeps the key.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use heard_shared::proof::PROOF_HEADER;
use heard_shared::{ComplaintSubmission, FieldError, IDEMPOTENCY_KEY_HEADER};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use crate::domain::intake::{self, IntakeError};
use crate::domain::live::Arrival;
use crate::domain::proof::ProofRefusal;
use crate::store::{Site, StoreError};

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
    let refused = |refusal| AppError::Proof {
        refusal,
        site_key: site.key.clone(),
    };
    let proof = state
        .proof
        .check(
            &site.key,
            &site.identity_secret.0,
            headers.get(PROOF_HEADER).map(HeaderValue::as_bytes),
            state.clock.now_millis(),
        )
        .map_err(refused)?;
    let accepted = intake::submit(
        &state.store,
        &state.public_url,
        &site,
        submission,
        idempotency_key,
        proof,
    )
    .await
    .map_err(|error| match error {
        IntakeError::Store(StoreError::ProofSpent) => refused(ProofRefusal::Used),
        other => other.into(),
    })?;
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
