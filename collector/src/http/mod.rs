//! The HTTP layer: extractors, handlers and the router. The only module that
//! imports axum.

pub mod assets;
pub mod attachments;
pub mod auth;
pub mod complaints;
pub mod demo;
pub mod error;
pub mod health;
pub mod html;
pub mod inbox;
pub mod json;
pub mod receipts;
pub mod site_access;
pub mod sites;
pub mod staff;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{delete, get, post};
use axum::{Router, middleware};
use heard_shared::limits::{MAX_ATTACHMENT_BYTES, MAX_SUBMISSION_BYTES};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use self::error::AppError;
use self::json::BodyLimit;
use crate::clock::Clock;
use crate::domain::accounts::Accounts;
use crate::domain::receipts::RecoveryLimiter;
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
    pub accounts: Accounts,
    /// Whether session cookies are `Secure`: when `public_url` is https.
    pub secure_cookies: bool,
    /// "Now" for sessions and sign-in delays; tests use a manual clock.
    pub clock: Clock,
    /// Counts lost-link recovery requests per client and per reference.
    pub recovery: RecoveryLimiter,
}

impl AppState {
    pub fn new(
        store: Store,
        public_url: &str,
        www_dir: PathBuf,
        widget_dir: PathBuf,
        accounts: Accounts,
    ) -> AppState {
        let public_url = public_url.trim_end_matches('/');
        AppState {
            store,
            public_origin: Arc::from(origin_of(public_url)),
            secure_cookies: public_url.starts_with("https://"),
            public_url: Arc::from(public_url),
            www_dir,
            widget_dir,
            accounts,
            clock: Clock::System,
            recovery: RecoveryLimiter::default(),
        }
    }

    /// The same state reading time from `clock`.
    pub fn with_clock(self, clock: Clock) -> AppState {
        AppState { clock, ..self }
    }
}

/// Recovery requests and the shopper's forms are a few short fields.
const RECOVERY_BODY_BYTES: usize = 4 * 1024;

/// Every route the collector answers, at a glance.
pub fn router(state: AppState) -> Router {
    let site_api = Router::new()
        .route(
            "/api/v1/sites/{site_key}/config",
            get(sites::config).options(site_access::preflight),
        )
        .route(
            "/api/v1/sites/{site_key}/complaints",
            post(complaints::create)
                .options(site_access::preflight)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(MAX_SUBMISSION_BYTES))
                .layer::<_, std::convert::Infallible>(Extension(BodyLimit(MAX_SUBMISSION_BYTES))),
        )
        .route(
            "/api/v1/sites/{site_key}/receipts/recover",
            post(receipts::recover)
                .options(site_access::preflight)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(RECOVERY_BODY_BYTES))
                .layer::<_, std::convert::Infallible>(Extension(BodyLimit(RECOVERY_BODY_BYTES))),
        )
        .route(
            "/api/v1/sites/{site_key}/attachments",
            post(attachments::upload)
                .options(site_access::preflight)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(MAX_ATTACHMENT_BYTES)),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            site_access::site_access,
        ));

    // Staff accounts. CSRF is enforced by the `Staff` extractor (and by
    // `check_same_origin` on the two endpoints that have no session yet).
    let staff_api = Router::new()
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/me", get(auth::me))
        .route("/api/v1/auth/password", post(auth::change_password))
        .route("/api/v1/staff", get(auth::list_staff))
        .route("/api/v1/staff/invites", post(auth::invite))
        .route(
            "/api/v1/staff/invites/{token}/accept",
            post(auth::accept_invite),
        )
        .route("/api/v1/staff/{id}/disable", post(auth::disable))
        .route("/api/v1/staff/{id}/role", post(auth::set_role))
        .route("/api/v1/staff/{id}", delete(auth::remove))
        .route("/api/v1/audit", get(auth::audit))
        .layer(DefaultBodyLimit::max(auth::STAFF_BODY_BYTES))
        .layer(Extension(BodyLimit(auth::STAFF_BODY_BYTES)))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));

    // The staff inbox. Every handler takes `Staff`: a session is required and
    // every POST is CSRF-checked. A new route here also goes into the route
    // table of `inbox_tests::every_inbox_route_refuses_strangers`.
    let inbox_api = Router::new()
        .route("/api/v1/inbox/complaints", get(inbox::list))
        .route("/api/v1/inbox/complaints/{reference}", get(inbox::show))
        .route(
            "/api/v1/inbox/complaints/{reference}/acknowledge",
            post(inbox::acknowledge),
        )
        .route(
            "/api/v1/inbox/complaints/{reference}/assign",
            post(inbox::assign),
        )
        .route(
            "/api/v1/inbox/complaints/{reference}/status",
            post(inbox::set_status),
        )
        .route(
            "/api/v1/inbox/complaints/{reference}/tags",
            post(inbox::tags),
        )
        .route(
            "/api/v1/inbox/complaints/{reference}/notes",
            post(inbox::note),
        )
        .route(
            "/api/v1/inbox/complaints/{reference}/replies",
            post(inbox::reply),
        )
        .layer(DefaultBodyLimit::max(inbox::INBOX_BODY_BYTES))
        .layer(Extension(BodyLimit(inbox::INBOX_BODY_BYTES)))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));

    // The shopper's own complaint, opened by its private link, and lost-link
    // recovery. POSTs are same-origin checked in the handlers.
    let shopper_pages = Router::new()
        .route(
            "/r/{token}/delete",
            get(receipts::confirm_delete).post(receipts::delete_form),
        )
        .route(
            "/recover",
            get(receipts::recover_page).post(receipts::recover_form),
        )
        .route("/api/v1/receipts/{token}", get(receipts::show))
        .route("/api/v1/receipts/{token}/export", get(receipts::export))
        .route("/api/v1/receipts/{token}/delete", post(receipts::delete))
        .layer(DefaultBodyLimit::max(RECOVERY_BODY_BYTES));

    Router::new()
        .route("/healthz", get(health::health))
        .route("/r/{token}", get(receipts::page))
        .merge(shopper_pages)
        .merge(site_api)
        .merge(staff_api)
        .merge(inbox_api)
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
mod auth_tests;
#[cfg(test)]
mod inbox_tests;
#[cfg(test)]
mod receipts_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
