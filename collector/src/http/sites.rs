//! `GET /api/v1/sites/{site_key}/config`: what the widget needs to draw itself.

use std::sync::Arc;

use axum::Json;
use axum::extract::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::store::Site;

pub async fn config(Extension(site): Extension<Arc<Site>>) -> Response {
    let mut response = Json(site.config.clone()).into_response();
    // Short enough that a merchant's change shows within a minute.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}
