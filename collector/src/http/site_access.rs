//! Resolves the site named in the path and applies its cross-origin rules.
//!
//! **Only a site's allowed origins get a CORS grant**, and a browser request
//! from any other origin is refused outright (403), so a copied script tag on
//! a stranger's page cannot post complaints into a merchant's inbox. Requests
//! without an `Origin` header (servers, curl) carry no cookies and pass.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use crate::store::Site;

#[derive(Deserialize)]
pub struct SitePath {
    site_key: String,
}

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

pub async fn site_access(
    State(state): State<AppState>,
    Path(path): Path<SitePath>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    // Kept in memory once read (`store/site_cache.rs`).
    let site = state
        .store
        .site(&path.site_key)
        .await?
        .ok_or(AppError::UnknownSite)?;
    let origin = request.headers().get(header::ORIGIN).cloned();
    if let Some(origin) = &origin
        && !origin_allowed(&site, &state.public_origin, origin)
    {
        tracing::info!(site = %site.key, origin = ?origin, "refused a request from an origin the site does not allow");
        return Err(AppError::OriginNotAllowed);
    }
    let preflight = request.method() == Method::OPTIONS;
    request.extensions_mut().insert(site);
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        grant(response.headers_mut(), origin, preflight);
    }
    Ok(response)
}

/// Answers a preflight request; [`site_access`] adds the grant.
pub async fn preflight() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

pub(super) fn origin_allowed(site: &Site, public_origin: &str, origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    origin == public_origin || site.allowed_origins.iter().any(|allowed| allowed == origin)
}

fn grant(headers: &mut HeaderMap, origin: HeaderValue, preflight: bool) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    // The widget backs off by Retry-After and notes replayed receipts; a
    // cross-origin script sees only the headers named here.
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after, idempotent-replayed"),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, idempotency-key, heard-proof"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
    }
}
