//! Static files: the loader script, the built widget bundle and page assets,
//! compressed for every browser that accepts it.
//!
//! Two ways, one per kind of file. The widget's bundle under `/widget/` is
//! large and changes only when it is built, so `cargo xtask build-widget`
//! writes a `.br` (brotli, quality 11) and a `.gz` (gzip -9) beside each
//! file and they are sent as they are: the best ratio at no cost per request.
//! The `www/` files (the loader, the receipt page's and the inbox's scripts
//! and styles) are source files, a few kilobytes each, edited in place and
//! served straight from the source tree; compressed siblings there would go
//! stale at the first edit, so they are compressed as they are sent, at the
//! encoders' fast default levels — which also covers a widget file without a
//! sibling (a debug build's, or one built before the siblings existed).

use std::path::Path;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use tower_http::compression::CompressionLayer;
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
    // `Accept-Encoding: br` gets `name.br` with `Content-Encoding: br`, then
    // gzip likewise; every answer says `Vary: Accept-Encoding`.
    let widget = ServeDir::new(widget_dir)
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .route_service("/widget.js", ServeFile::new(www_dir.join("widget.js")))
        .nest("/widget", shared(widget))
        .nest_service("/assets", ServeDir::new(www_dir.join("assets")))
        // The inbox pages' script and styles (same origin only: no CORS grant).
        .nest_service("/inbox/assets", ServeDir::new(www_dir.join("inbox")))
        // Only these routes: the JSON API and the event stream are not
        // behind it (and its default predicate skips `text/event-stream`
        // and images anyway). A response already encoded — a precompressed
        // file — passes through untouched.
        .layer(CompressionLayer::new().br(true).gzip(true))
        .layer(middleware::map_response(weaken_etag_of_encoded))
        .layer(overriding(header::CACHE_CONTROL, CACHE))
}

fn overriding(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// The file's strong `ETag` (its size and time) names the plain bytes; a
/// compressed answer is another representation, and a strong tag shared with
/// the plain one would let a resumed download (`If-Range` + `Range`, which
/// are answered uncompressed) splice plain bytes onto compressed ones. A weak
/// tag still revalidates (`If-None-Match` compares weakly) but never
/// satisfies `If-Range`.
async fn weaken_etag_of_encoded(mut response: Response) -> Response {
    if response.headers().contains_key(header::CONTENT_ENCODING)
        && let Some(etag) = response.headers().get(header::ETAG)
        && etag.as_bytes().starts_with(b"\"")
        && let Ok(weak) = HeaderValue::from_bytes(&[b"W/", etag.as_bytes()].concat())
    {
        response.headers_mut().insert(header::ETAG, weak);
    }
    response
}
