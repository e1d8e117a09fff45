//! Static files: the loader script, the built widget bundle and page assets.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// How long browsers may cache the loader and bundle, in seconds. Short, so a
/// fixed widget reaches every shop quickly.
const CACHE: &str = "public, max-age=300";

/// `/widget.js`, `/widget/*`, `/assets/*` and `/inbox/assets/*`.
pub fn router<S: Clone + Send + Sync + 'static>(www_dir: &Path, widget_dir: &Path) -> Router<S> {
    // The loader imports the bundle as an ES module and fetches the wasm and
    // CSS from the shop's origin, which needs a CORS grant. They are public
    // files, the same for everyone, so any origin may read them.
    let shared = |service| {
        Router::new()
            .fallback_service(service)
            .layer(overriding(header::CACHE_CONTROL, CACHE))
            .layer(overriding(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .layer(overriding(
                HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin",
            ))
    };
    Router::new()
        .route_service("/widget.js", ServeFile::new(www_dir.join("widget.js")))
        .nest("/widget", shared(ServeDir::new(widget_dir)))
        .nest_service("/assets", ServeDir::new(www_dir.join("assets")))
        // The inbox pages' script and styles (same origin only: no CORS grant).
        .nest_service("/inbox/assets", ServeDir::new(www_dir.join("inbox")))
        .layer(overriding(header::CACHE_CONTROL, CACHE))
}

fn overriding(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}
