//! `GET /api/v1/sites/{site_key}/challenge`: a fresh proof-of-work
//! challenge for the site (see [`crate::domain::proof`]).
//!
//! Routed with the site's other public endpoints, so it has their CORS
//! rules and rate limits. Every answer is new and single-use: `no-store`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::store::Site;

pub async fn issue(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
) -> Response {
    let challenge = state.proof.issue(
        site.id,
        &site.key,
        &site.identity_secret.0,
        state.clock.now_millis(),
    );
    let mut response = Json(challenge).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
