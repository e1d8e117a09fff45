//! The HTTP layer: extractors, handlers and the router. The only module that
//! imports axum.

pub mod assets;
pub mod attachments;
pub mod complaints;
pub mod demo;
pub mod error;
pub mod health;
pub mod html;
pub mod json;
pub mod receipts;
pub mod site_access;
pub mod sites;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::routing::get;
use axum::{Router, middleware};
use heard_shared::limits::{MAX_ATTACHMENT_BYTES, MAX_SUBMISSION_BYTES};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use self::error::AppError;
use self::json::BodyLimit;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The collector's public address without a trailing slash, e.g.
    /// `https://heard.example.com`; receipt links start with it.
    pub public_url: Arc<str>,
    /// The origin part of `public_url`: the collector's own pages may call the API.
    pub public_origin: Arc<str>,
    pub www_dir: PathBuf,
    pub widget_dir: PathBuf,
}

impl AppState {
    pub fn new(store: Store, public_url: &str, www_dir: PathBuf, widget_dir: PathBuf) -> AppState {
        let public_url = public_url.trim_end_matches('/');
        AppState {
            store,
            public_origin: Arc::from(origin_of(public_url)),
            public_url: Arc::from(public_url),
            www_dir,
            widget_dir,
        }
    }
}

/// Every route the collector answers, at a glance.
pub fn router(state: AppState) -> Router {
    let site_api = Router::new()
        .route(
            "/api/v1/sites/{site_key}/config",
            get(sites::config).options(site_access::preflight),
        )
        .route(
            "/api/v1/sites/{site_key}/complaints",
            axum::routing::post(complaints::create)
                .options(site_access::preflight)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(MAX_SUBMISSION_BYTES))
                .layer::<_, std::convert::Infallible>(Extension(BodyLimit(MAX_SUBMISSION_BYTES))),
        )
        .route(
            "/api/v1/sites/{site_key}/attachments",
            axum::routing::post(attachments::upload)
                .options(site_access::preflight)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(MAX_ATTACHMENT_BYTES)),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            site_access::site_access,
        ));

    Router::new()
        .route("/healthz", get(health::health))
        .route("/r/{token}", get(receipts::page))
        .merge(site_api)
        .merge(assets::router(&state.www_dir, &state.widget_dir))
        .fallback(|| async { AppError::NotFound })
        .with_state(state)
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str)
                    .unwrap_or("unmatched");
                tracing::info_span!("request", method = %request.method(), route)
            }),
        )
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
}

/// `scheme://host[:port]` of a URL, or the URL itself when it has no path.
fn origin_of(url: &str) -> &str {
    match url.find("://") {
        Some(scheme_end) => {
            let rest = &url[scheme_end + 3..];
            let host_end = rest
                .find('/')
                .map_or(url.len(), |index| scheme_end + 3 + index);
            &url[..host_end]
        }
        None => url,
    }
}

#[cfg(test)]
mod tests;
