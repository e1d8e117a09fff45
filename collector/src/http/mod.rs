//! The HTTP layer: extractors, handlers and the router. The only module that
//! imports axum.

pub mod assets;
pub mod attachments;
pub mod auth;
pub mod canned;
pub mod challenge;
pub mod clusters;
pub mod complaints;
pub mod demo;
pub mod error;
pub mod followup;
pub mod health;
pub mod html;
pub mod inbox;
pub mod inbox_pages;
pub mod inbox_work;
pub mod insights;
pub mod json;
pub mod live;
pub mod notifications;
pub mod rate_limit;
pub mod receipts;
pub mod relations;
pub mod retention;
pub mod routing;
pub mod security_headers;
pub mod site_access;
pub mod site_settings;
pub mod sites;
pub mod spam;
pub mod staff;
pub mod status_page;
pub mod views;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{delete, get, post, put};
use axum::{Router, middleware};
use heard_shared::limits::{MAX_ATTACHMENT_BYTES, MAX_SUBMISSION_BYTES};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use self::error::AppError;
use self::json::BodyLimit;
use self::rate_limit::RateLimits;
use crate::clock::Clock;
use crate::domain::accounts::Accounts;
use crate::domain::live::LiveFeed;
use crate::domain::proof::ProofOfWork;
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
    /// Shared, not owned: the state is cloned for every request's extractors.
    pub www_dir: Arc<Path>,
    pub widget_dir: Arc<Path>,
    pub accounts: Accounts,
    /// Whether session cookies are `Secure`: when `public_url` is https.
    pub secure_cookies: bool,
    /// "Now" for sessions and sign-in delays; tests use a manual clock.
    pub clock: Clock,
    /// Counts lost-link recovery requests per client and per reference.
    pub recovery: RecoveryLimiter,
    /// Token buckets per client and per site on the public site API.
    pub rate_limits: RateLimits,
    /// New complaints, announced to open inboxes (server-sent events).
    pub live: LiveFeed,
    /// How long after resolution the shopper may reopen, in ms.
    pub reopen_window_ms: i64,
    /// How far apart similar complaints may be and still form a cluster.
    pub cluster_window_ms: i64,
    /// Proof-of-work challenges: their difficulty and the load behind it.
    pub proof: ProofOfWork,
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
            www_dir: Arc::from(www_dir),
            widget_dir: Arc::from(widget_dir),
            accounts,
            clock: Clock::System,
            recovery: RecoveryLimiter::default(),
            rate_limits: RateLimits::default(),
            live: LiveFeed::default(),
            reopen_window_ms: i64::from(DEFAULT_REOPEN_WINDOW_DAYS) * DAY_MS,
            cluster_window_ms: crate::domain::clusters::ClusterPolicy::default().window_ms,
            proof: ProofOfWork::default(),
        }
    }

    /// The same state issuing and checking challenges with `proof`.
    pub fn with_proof_of_work(self, proof: ProofOfWork) -> AppState {
        AppState { proof, ..self }
    }

    /// The same state letting shoppers reopen for `days` after resolution.
    pub fn with_reopen_window_days(self, days: u32) -> AppState {
        AppState {
            reopen_window_ms: i64::from(days) * DAY_MS,
            ..self
        }
    }

    /// The same state with clusters `hours` wide (issue 6).
    pub fn with_cluster_window_hours(self, hours: u32) -> AppState {
        AppState {
            cluster_window_ms: i64::from(hours.max(1)) * 3_600_000,
            ..self
        }
    }

    /// The same state with these rate limits (the defaults otherwise).
    pub fn with_rate_limits(self, rate_limits: RateLimits) -> AppState {
        AppState {
            rate_limits,
            ..self
        }
    }

    /// The same state reading time from `clock`.
    pub fn with_clock(self, clock: Clock) -> AppState {
        AppState { clock, ..self }
    }
}

/// The reopening window when none is configured (as in `Settings`).
const DEFAULT_REOPEN_WINDOW_DAYS: u32 = 14;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Recovery requests and the shopper's forms are a few short fields.
const RECOVERY_BODY_BYTES: usize = 4 * 1024;

/// Every route the collector answers, at a glance.
pub fn router(state: AppState) -> Router {
    let secure = state.secure_cookies;
    let site_api = Router::new()
        .route(
            "/api/v1/sites/{site_key}/config",
            get(sites::config).options(site_access::preflight),
        )
        .route(
            "/api/v1/sites/{site_key}/challenge",
            get(challenge::issue).options(site_access::preflight),
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
        // Runs after site_access (layers run outside in), so a 429 keeps the CORS grant.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::rate_limit,
        ))
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
        .route("/api/v1/inbox/bulk", post(inbox_work::bulk))
        .route(
            "/api/v1/inbox/sites/{site_key}/response-targets",
            get(inbox_work::targets).put(inbox_work::set_targets),
        )
        .route(
            "/api/v1/inbox/complaints/{reference}/related",
            get(relations::show),
        )
        .route(
            "/api/v1/inbox/complaints/{reference}/merge",
            post(relations::merge),
        )
        .route(
            "/api/v1/inbox/complaints/{reference}/links",
            post(relations::link),
        )
        .route(
            "/api/v1/inbox/complaints/{reference}/restore",
            post(spam::restore),
        )
        .route(
            "/api/v1/inbox/complaints/{reference}/spam",
            post(spam::mark),
        )
        .route(
            "/api/v1/inbox/sites/{site_key}",
            get(site_settings::show).put(site_settings::update),
        )
        .route("/api/v1/inbox/views", get(views::list).post(views::save))
        .route("/api/v1/inbox/views/{view_id}", delete(views::delete))
        .route(
            "/api/v1/inbox/canned-replies",
            get(canned::list).post(canned::create),
        )
        .route(
            "/api/v1/inbox/canned-replies/{canned_id}",
            put(canned::update).delete(canned::delete),
        )
        .layer(DefaultBodyLimit::max(inbox::INBOX_BODY_BYTES))
        .layer(Extension(BodyLimit(inbox::INBOX_BODY_BYTES)))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));

    // Routing rules, teams, webhooks and the notification outbox: owners
    // only (`Staff` + role check in each handler). A new route here also goes
    // into the table of `routing_tests::every_routing_route_refuses_strangers`.
    let routing_api = Router::new()
        .route(
            "/api/v1/routing/rules",
            get(routing::list_rules).post(routing::create_rule),
        )
        .route("/api/v1/routing/rules/order", post(routing::reorder_rules))
        .route("/api/v1/routing/rules/test", post(routing::test_rules))
        .route(
            "/api/v1/routing/rules/{id}",
            put(routing::update_rule).delete(routing::delete_rule),
        )
        .route(
            "/api/v1/routing/teams",
            get(routing::list_teams).post(routing::create_team),
        )
        .route(
            "/api/v1/routing/teams/{id}",
            put(routing::update_team).delete(routing::delete_team),
        )
        .route(
            "/api/v1/routing/teams/{id}/members/{user_id}",
            put(routing::put_member).delete(routing::remove_member),
        )
        .route(
            "/api/v1/notifications/webhooks",
            get(notifications::list_webhooks).post(notifications::create_webhook),
        )
        .route(
            "/api/v1/notifications/webhooks/{id}",
            put(notifications::update_webhook).delete(notifications::delete_webhook),
        )
        .route(
            "/api/v1/notifications/webhooks/{id}/rotate",
            post(notifications::rotate_secret),
        )
        .route(
            "/api/v1/notifications/outbox",
            get(notifications::list_notifications),
        )
        .route(
            "/api/v1/notifications/outbox/{id}/retry",
            post(notifications::retry_notification),
        )
        .route(
            "/api/v1/notifications/language",
            put(notifications::set_language),
        )
        .layer(DefaultBodyLimit::max(routing::ROUTING_BODY_BYTES))
        .layer(Extension(BodyLimit(routing::ROUTING_BODY_BYTES)))
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
        .route("/r/{token}", get(receipts::page))
        .layer(DefaultBodyLimit::max(RECOVERY_BODY_BYTES))
        // One bucket per client on every status-link route: token guessing is slow.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::link_rate_limit,
        ));

    // The follow-up loop through the same link: the shopper's replies,
    // resolve, reopen and the survey, as JSON and as no-JS form pages.
    // POSTs are same-origin checked in the handlers.
    let follow_up = Router::new()
        .route("/r/{token}/reply", get(followup::reply_page))
        .route(
            "/r/{token}/resolve",
            get(followup::resolve_page).post(followup::resolve_form),
        )
        .route(
            "/r/{token}/reopen",
            get(followup::reopen_page).post(followup::reopen_form),
        )
        .route(
            "/r/{token}/survey",
            get(followup::survey_page).post(followup::survey_form),
        )
        .route("/api/v1/receipts/{token}/replies", post(followup::reply))
        .route("/api/v1/receipts/{token}/resolve", post(followup::resolve))
        .route("/api/v1/receipts/{token}/reopen", post(followup::reopen))
        .route("/api/v1/receipts/{token}/survey", post(followup::survey))
        .layer(DefaultBodyLimit::max(followup::FOLLOW_UP_BODY_BYTES))
        .layer(Extension(BodyLimit(followup::FOLLOW_UP_BODY_BYTES)))
        .route(
            "/api/v1/receipts/{token}/attachments",
            post(followup::upload)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(MAX_ATTACHMENT_BYTES)),
        )
        .route(
            "/r/{token}/reply",
            post(followup::reply_form).layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(
                followup::REPLY_FORM_BYTES,
            )),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::link_rate_limit,
        ));

    // Clusters of similar complaints: read-only, any staff of the merchant.
    // A new route here also goes into the table of `clusters_tests`.
    let clusters_api = Router::new()
        .route("/api/v1/clusters", get(clusters::list))
        .route("/api/v1/clusters/{id}", get(clusters::show))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));

    // The merchant's retention: everyone of the merchant reads, owners
    // change. Its routes are in the table of `retention_tests`.
    let retention_api = Router::new()
        .route(
            "/api/v1/retention",
            get(retention::show).put(retention::update),
        )
        .layer(DefaultBodyLimit::max(inbox::INBOX_BODY_BYTES))
        .layer(Extension(BodyLimit(inbox::INBOX_BODY_BYTES)))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));

    // Insights: read-only figures, any staff of the merchant (viewers too).
    // The routes are in `insights::routes`; a new one also goes into the
    // table of `insights_tests`.
    let insights_api = insights::routes().layer(SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ));

    Router::new()
        .route("/healthz", get(health::health))
        .merge(shopper_pages)
        .merge(follow_up)
        .merge(site_api)
        .merge(staff_api)
        .merge(inbox_api)
        .merge(routing_api)
        .merge(clusters_api)
        .merge(insights_api)
        .merge(retention_api)
        // The inbox pages, their event stream and export (routes in inbox_pages/mod.rs).
        .merge(inbox_pages::router())
        .merge(assets::router(&state.www_dir, &state.widget_dir))
        .fallback(|| async { AppError::NotFound })
        .with_state(state)
        // A body cut off at its deadline (see `lib.rs`) is a 408, whatever
        // the handler's extractor made of it (inside the trace, so the log
        // shows the 408).
        .layer(middleware::from_fn(json::answer_late_bodies))
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
        // Outermost, so errors and the fallback get them too.
        .layer(middleware::map_response_with_state(
            security_headers::Https(secure),
            security_headers::security_headers,
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
mod abuse_tests;
#[cfg(test)]
mod assets_tests;
#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod clusters_tests;
#[cfg(test)]
mod followup_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod inbox_tests;
#[cfg(test)]
mod insights_tests;
#[cfg(test)]
mod proof_tests;
#[cfg(test)]
mod receipts_tests;
#[cfg(test)]
mod retention_tests;
#[cfg(test)]
mod routing_tests;
#[cfg(test)]
mod spam_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
