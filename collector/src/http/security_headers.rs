//! Security headers on every response of the collector's own origin.
//!
//! A handler that sets a stricter header keeps it (receipt pages send
//! `no-referrer`, `no-store` and their own policy, see `html.rs`); this layer
//! only fills in what is missing:
//!
//! - `Content-Security-Policy`: for HTML, no scripts at all (so neither
//!   inline nor injected ones), styles and images from the collector only;
//!   for everything else (JSON, the widget's files), nothing may be loaded by
//!   it. Always `frame-ancestors 'none'`: no page of the collector can be
//!   framed for clickjacking. Browsers ignore a script's own policy, so the
//!   widget's files keep working inside the merchant's page.
//! - `X-Frame-Options: DENY` for browsers without `frame-ancestors`.
//! - `X-Content-Type-Options: nosniff`: a file is only what its type says.
//! - `Referrer-Policy: no-referrer`: links hold private tokens.
//! - `Cross-Origin-Opener-Policy: same-origin` on pages.
//! - `Strict-Transport-Security` when the public address is https.
//!
//! The demo shop (a second listener) is a merchant's page, not the
//! collector's, and does not get these.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;

/// The policy of a page that did not set its own (the same as `html.rs`).
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of anything that is not a page: it may load nothing.
pub const RESOURCE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// One year, the usual HSTS lifetime.
const HSTS: &str = "max-age=31536000";

/// Whether the collector is reached over https (then HSTS is sent).
#[derive(Clone, Copy)]
pub struct Https(pub bool);

/// Adds the missing security headers to `response`.
pub async fn security_headers(
    State(Https(https)): State<Https>,
    mut response: Response,
) -> Response {
    let headers = response.headers_mut();
    let is_page = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("text/html"));
    let policy = if is_page {
        PAGE_POLICY
    } else {
        RESOURCE_POLICY
    };
    set_if_missing(headers, header::CONTENT_SECURITY_POLICY, policy);
    set_if_missing(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_if_missing(headers, header::X_FRAME_OPTIONS, "DENY");
    set_if_missing(headers, header::REFERRER_POLICY, "no-referrer");
    if is_page {
        set_if_missing(
            headers,
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        );
    }
    if https {
        set_if_missing(headers, header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}

fn set_if_missing(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !headers.contains_key(&name) {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
