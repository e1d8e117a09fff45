//! The staff inbox as server-rendered pages: sign-in, the list, one
//! complaint; plus the live event stream and the export of a filter.
//!
//! Pages only read. Every change goes through the inbox's JSON API
//! (`http/inbox.rs`), called by `www/inbox/inbox.js` with the CSRF token the
//! page carries in a `<meta>`. Every piece of shopper or merchant text is
//! escaped here with [`super::html::escape`]; the script inserts text only
//! with `textContent`, or whole fragments these pages rendered.
//!
//! A page answers 303 to the sign-in page when nobody is signed in; the
//! JSON routes here (events, export) keep the API's 401.

pub mod alerts;
pub mod complaint;
pub mod export;
pub mod insights;
pub mod layout;
pub mod list;
pub mod login;
pub mod people;
pub mod routing;
pub mod sites;
pub mod work;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::AppError;
use super::live;
use super::staff::Staff;

/// The sign-in form is two short fields.
const LOGIN_BODY_BYTES: usize = 8 * 1024;

/// The inbox pages and their JSON companions. **A new route here also goes
/// into `PAGE_ROUTES` in `tests.rs`**, which checks every one refuses
/// strangers and hides other merchants' complaints.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/inbox/login",
            get(login::page)
                .post(login::submit)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(LOGIN_BODY_BYTES)),
        )
        .route("/inbox", get(list::page))
        .route("/inbox/c/{reference}", get(complaint::page))
        .route("/inbox/c/{reference}/photos/{photo}", get(complaint::photo))
        .route("/inbox/staff", get(people::staff_page))
        .route("/inbox/audit", get(people::audit_page))
        .route("/inbox/account", get(people::account_page))
        .route("/inbox/join/{token}", get(people::join_page))
        .route("/inbox/canned", get(work::canned_page))
        .route("/inbox/sites", get(sites::list_page))
        .route("/inbox/sites/{site_key}", get(sites::site_page))
        .route("/inbox/routing", get(routing::page))
        .route("/api/v1/inbox/events", get(live::events))
        .route("/api/v1/inbox/export.csv", get(export::csv))
        .route("/api/v1/inbox/export.json", get(export::json))
        .merge(alerts::router())
        .merge(insights::router())
}

/// A signed-in staff member on a page; without a session the browser is
/// sent to the sign-in page, which comes back here afterwards.
pub struct PageStaff(pub Staff);

impl FromRequestParts<AppState> for PageStaff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Staff::from_request_parts(parts, state).await {
            Ok(staff) => Ok(PageStaff(staff)),
            Err(AppError::NotSignedIn) => {
                let here = parts
                    .extensions
                    .get::<OriginalUri>()
                    .map_or_else(|| parts.uri.clone(), |OriginalUri(uri)| uri.clone());
                let wanted = here.path_and_query().map_or("/inbox", |path| path.as_str());
                Err(to_sign_in(wanted))
            }
            Err(other) => Err(other.into_response()),
        }
    }
}

/// 303 to the sign-in page, which returns to `wanted` afterwards.
pub fn to_sign_in(wanted: &str) -> Response {
    let location = if wanted == "/inbox" {
        "/inbox/login".to_owned()
    } else {
        format!("/inbox/login?next={}", percent_encode(wanted))
    };
    see_other(&location)
}

/// 303 See Other to a path of the collector.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Percent-encodes everything but unreserved characters (for query values).
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests;
