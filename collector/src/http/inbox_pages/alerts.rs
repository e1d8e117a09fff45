//! `GET /inbox/alerts`: what needs a manager's eye beyond single
//! complaints — the open clusters of similar complaints, each with links to
//! its complaints, and (for owners) the notifications that could not be
//! delivered, each with a "Retry now" button. Like every inbox page it only
//! reads: the button is wired by `www/inbox/alerts.js` to the existing
//! `POST /api/v1/notifications/outbox/{id}/retry`, with its owner check,
//! CSRF check and audit entry.

use std::fmt::Write;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::PageStaff;
use super::layout::{ASSETS, Page, render, respond, time, words};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::html::escape;
use crate::store::{ClusterDetail, NotificationView, Role};

/// Open clusters shown, most recent first.
const MAX_CLUSTERS: usize = 50;
/// Dead notifications shown, newest first.
const MAX_DEAD: usize = 100;

/// The page's route, merged into `inbox_pages::router()`; its route table
/// is in `http/clusters_tests.rs`.
pub fn router() -> Router<AppState> {
    Router::new().route("/inbox/alerts", get(page))
}

pub async fn page(
    State(state): State<AppState>,
    PageStaff(staff): PageStaff,
) -> Result<Response, AppError> {
    let now = state.clock.now_millis();
    let window = state.cluster_window_ms;
    let merchant = staff.merchant_id();
    let mut clusters = Vec::new();
    for summary in state
        .store
        .clusters(merchant, true, MAX_CLUSTERS, now, window)
        .await?
    {
        if let Some(detail) = state
            .store
            .cluster(merchant, summary.id, now, window)
            .await?
        {
            clusters.push(detail);
        }
    }
    let owner = staff.role().includes(Role::Owner);
    let dead = if owner {
        state
            .store
            .notifications(merchant, Some("dead".to_owned()), MAX_DEAD)
            .await?
    } else {
        Vec::new()
    };
    let mut main = String::from("<h1>Alerts</h1>\n");
    clusters_section(&mut main, &clusters, window);
    if owner {
        dead_letters_section(&mut main, &dead);
    }
    let _ = writeln!(main, "<script src=\"{ASSETS}/alerts.js\" defer></script>");
    Ok(respond(
        StatusCode::OK,
        render(&Page {
            title: "Alerts",
            kind: "alerts",
            main: &main,
            staff: Some(&staff),
        }),
    ))
}

fn clusters_section(html: &mut String, clusters: &[ClusterDetail], window_ms: i64) {
    let _ = write!(
        html,
        "<section id=\"clusters\" aria-labelledby=\"clusters-title\">\n\
         <h2 id=\"clusters-title\">Clusters of similar complaints</h2>\n\
         <p class=\"muted\">Complaints in the same category with similar words, on any of \
         your sites, less than {} hours apart. Owners are emailed when a cluster reaches its \
         threshold.</p>\n",
        window_ms / 3_600_000
    );
    if clusters.is_empty() {
        html.push_str("<p>No open clusters.</p>\n</section>\n");
        return;
    }
    html.push_str("<ul class=\"clusters\">\n");
    for cluster in clusters {
        let summary = &cluster.summary;
        let _ = write!(
            html,
            "<li id=\"cluster-{id}\" class=\"cluster\">\n<h3>{label}: {size} complaint{plural}{safety}</h3>\n\
             <p>From {first} to {last}. {alerted}</p>\n<ul>\n",
            id = summary.id,
            label = escape(&summary.category_label),
            size = summary.size,
            plural = if summary.size == 1 { "" } else { "s" },
            safety = if summary.safety {
                " <strong class=\"badge safety\">Safety</strong>"
            } else {
                ""
            },
            first = time(summary.first_at),
            last = time(summary.last_at),
            alerted = match summary.alerted_at {
                Some(at) => format!("Owners alerted {}.", time(at)),
                None => "Below the alert threshold so far.".to_owned(),
            },
        );
        for member in &cluster.complaints {
            let _ = writeln!(
                html,
                "<li><a href=\"/inbox/c/{reference}\">{reference}</a> · {site} · {at} · {status}</li>",
                reference = escape(&member.reference),
                site = escape(&member.site_name),
                at = time(member.created_at),
                status = escape(&words(&member.status)),
            );
        }
        html.push_str("</ul>\n</li>\n");
    }
    html.push_str("</ul>\n</section>\n");
}

fn dead_letters_section(html: &mut String, dead: &[NotificationView]) {
    html.push_str(
        "<section id=\"dead-letters\" aria-labelledby=\"dead-title\">\n\
         <h2 id=\"dead-title\">Notifications that could not be delivered</h2>\n",
    );
    if dead.is_empty() {
        html.push_str("<p>Every notification was delivered.</p>\n</section>\n");
        return;
    }
    html.push_str(
        "<table class=\"dead-letters\">\n<thead><tr><th scope=\"col\">To</th>\
         <th scope=\"col\">Event</th><th scope=\"col\">Complaint</th>\
         <th scope=\"col\">Attempts</th><th scope=\"col\">Last error</th>\
         <th scope=\"col\">Gave up</th><th scope=\"col\">Action</th></tr></thead>\n<tbody>\n",
    );
    for row in dead {
        let complaint = row
            .reference
            .as_deref()
            .map_or_else(String::new, |reference| {
                format!("<a href=\"/inbox/c/{0}\">{0}</a>", escape(reference))
            });
        let _ = writeln!(
            html,
            "<tr data-notification=\"{id}\"><td>{kind}: {target}</td><td>{event}</td>\
             <td>{complaint}</td><td>{attempts}</td><td>{error}</td><td>{finished}</td>\
             <td><button type=\"button\" data-action=\"retry-notification\" \
             data-notification=\"{id}\">Retry now</button> \
             <span class=\"retry-result\" role=\"status\"></span></td></tr>",
            id = row.id,
            kind = escape(&row.kind),
            target = escape(&row.target),
            event = escape(&row.event),
            attempts = row.attempts,
            error = escape(row.last_error.as_deref().unwrap_or_default()),
            finished = row.finished_at.map(time).unwrap_or_default(),
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
}
