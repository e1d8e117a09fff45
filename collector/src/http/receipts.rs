//! The shopper's side of a complaint: the private receipt page `GET /r/{token}`
//! (plain HTML that works without JavaScript and prints cleanly), its JSON
//! twin under `/api/v1/receipts/{token}`, the download of everything stored
//! (`…/export`), deletion (`…/delete`, and a no-JS confirmation page at
//! `/r/{token}/delete`), and lost-link recovery (`POST
//! /api/v1/sites/{site_key}/receipts/recover` and the form at `/recover`).
//!
//! A token that opens nothing — malformed, unknown, deleted — is always a
//! plain 404. State-changing requests must come from the collector's own
//! origin (or from no browser at all); no cookies are involved.

use std::fmt::Write;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::AppState;
use super::auth::ClientAddress;
use super::error::AppError;
use super::html::{document, escape, private_page};
use super::json::JsonBody;
use super::staff::check_same_origin;
use heard_shared::SubmissionKind;

use crate::clock;
use crate::domain::receipts;
use crate::domain::token::ReceiptToken;
use crate::store::{ComplaintRecord, PublicEvent, Site};

/// What every recovery request is told, whether or not anything matched.
pub const RECOVERY_ANSWER: &str = "If this reference and email address belong to a complaint, \
    we have sent a new private link to that address. It may take a few minutes to arrive; \
    check your spam folder too.";

pub async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    Ok(match receipts::open(&state.store, &token).await? {
        Some(complaint) => {
            let timeline = state.store.public_timeline(complaint.id).await?;
            private_page(StatusCode::OK, render(&complaint, &timeline, &token))
        }
        None => private_page(StatusCode::NOT_FOUND, not_found()),
    })
}

/// `GET /api/v1/receipts/{token}`: the complaint as the status page shows it.
pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let complaint = receipts::open(&state.store, &token)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(private_json(
        StatusCode::OK,
        receipts::shopper_view(&complaint),
    ))
}

/// `GET /api/v1/receipts/{token}/export`: everything stored, as a download.
pub async fn export(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let document = receipts::export(&state.store, &token)
        .await?
        .ok_or(AppError::NotFound)?;
    let reference = document["reference"].as_str().unwrap_or("complaint");
    let disposition = format!("attachment; filename=\"heard-{reference}.json\"");
    let mut response = private_json(StatusCode::OK, document.clone());
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `POST /api/v1/receipts/{token}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    check_same_origin(&headers, &state.public_origin)?;
    if !receipts::delete(&state.store, &token, state.clock.now_millis()).await? {
        return Err(AppError::NotFound);
    }
    Ok(private_json(
        StatusCode::OK,
        serde_json::json!({ "deleted": true }),
    ))
}

/// `GET /r/{token}/delete`: asks before deleting, and offers the download first.
pub async fn confirm_delete(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Some(complaint) = receipts::open(&state.store, &token).await? else {
        return Ok(private_page(StatusCode::NOT_FOUND, not_found()));
    };
    let token = escape(&token);
    let body = format!(
        "<main class=\"receipt\">\n<p class=\"site\">{site}</p>\n\
         <h1>Delete complaint {reference}?</h1>\n\
         <p class=\"lead\">Deleting removes what you wrote, your answers, your photos and your \
         contact details for good. The shop keeps only anonymous counts (the kind of problem, \
         dates and status) so it can see how often things go wrong. Every link to this \
         complaint stops working.</p>\n\
         <p>You can <a href=\"/api/v1/receipts/{token}/export\">download a copy of everything</a> first.</p>\n\
         <form method=\"post\" action=\"/r/{token}/delete\" class=\"actions\">\n\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\n\
         <button type=\"submit\" class=\"danger\" data-heard=\"confirm-delete\">Yes, delete it for good</button>\n\
         <a href=\"/r/{token}\">No, keep it</a>\n</form>\n</main>\n",
        site = escape(&complaint.site_name),
        reference = escape(&complaint.reference),
    );
    Ok(form_page(
        StatusCode::OK,
        document("en", "Delete your complaint?", &body),
    ))
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /r/{token}/delete`: the no-JavaScript form's target.
pub async fn delete_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DeleteForm>,
) -> Result<Response, AppError> {
    check_same_origin(&headers, &state.public_origin)?;
    if form.confirm != "yes" {
        // Only the confirmation page's button says yes; anything else asks
        // again. A well-formed token is URL-safe base64, so it is safe in a
        // Location header; anything else is simply not found.
        return Ok(match ReceiptToken::parse(&token) {
            Some(token) => Redirect::to(&format!("/r/{}/delete", token.encode())).into_response(),
            None => private_page(StatusCode::NOT_FOUND, not_found()),
        });
    }
    if !receipts::delete(&state.store, &token, state.clock.now_millis()).await? {
        return Ok(private_page(StatusCode::NOT_FOUND, not_found()));
    }
    Ok(private_page(
        StatusCode::OK,
        document(
            "en",
            "Complaint deleted",
            "<main class=\"receipt\">\n<h1 data-heard=\"deleted\">Your complaint is deleted</h1>\n\
             <p class=\"lead\">What you wrote, your photos and your contact details are gone. \
             This link no longer opens anything. Thank you for telling us — it still counts.</p>\n</main>\n",
        ),
    ))
}

#[derive(Deserialize)]
pub struct RecoverBody {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    email: String,
}

/// `POST /api/v1/sites/{site_key}/receipts/recover`: always 202, the same body.
pub async fn recover(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    ClientAddress(address): ClientAddress,
    JsonBody(body): JsonBody<RecoverBody>,
) -> Result<Response, AppError> {
    recover_link(&state, Some(site.id), address, &body).await?;
    let mut response = (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "status": "accepted", "message": RECOVERY_ANSWER })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /recover`: the no-JavaScript form.
pub async fn recover_page() -> Response {
    form_page(StatusCode::OK, recover_document(None))
}

/// `POST /recover`: the form's target; the same answer as the API.
pub async fn recover_form(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(body): Form<RecoverBody>,
) -> Result<Response, AppError> {
    check_same_origin(&headers, &state.public_origin)?;
    match recover_link(&state, None, address, &body).await {
        Ok(()) => Ok(form_page(
            StatusCode::ACCEPTED,
            recover_document(Some(RECOVERY_ANSWER)),
        )),
        Err(AppError::RateLimited {
            retry_after_seconds,
        }) => {
            let minutes = retry_after_seconds.div_ceil(60);
            let mut response = form_page(
                StatusCode::TOO_MANY_REQUESTS,
                recover_document(Some(&format!(
                    "Too many requests for now. Please try again in {minutes} minutes."
                ))),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            Ok(response)
        }
        Err(other) => Err(other),
    }
}

async fn recover_link(
    state: &AppState,
    site_id: Option<i64>,
    address: Option<std::net::IpAddr>,
    body: &RecoverBody,
) -> Result<(), AppError> {
    let now = state.clock.now_millis();
    let address = address.map_or_else(|| "unknown".to_owned(), |address| address.to_string());
    state
        .recovery
        .check(&address, &body.reference, now)
        .map_err(|retry_after_seconds| AppError::RateLimited {
            retry_after_seconds,
        })?;
    let sent = receipts::recover(
        &state.store,
        &state.public_url,
        site_id,
        &body.reference,
        &body.email,
        now,
    )
    .await?;
    // Logged without the address or reference typed, which may be a guess.
    tracing::info!(matched = sent, "lost-link recovery requested");
    Ok(())
}

fn recover_document(notice: Option<&str>) -> String {
    let notice = notice.map_or_else(String::new, |notice| {
        format!(
            "<p class=\"notice\" role=\"status\" data-heard=\"recovery-answer\">{}</p>\n",
            escape(notice)
        )
    });
    document(
        "en",
        "Lost your link?",
        &format!(
            "<main class=\"receipt\">\n<h1>Lost the link to your complaint?</h1>\n{notice}\
             <p class=\"lead\">Enter your reference and the email address you gave with your \
             complaint. We will email a new private link to that address; it is never shown here.</p>\n\
             <form method=\"post\" action=\"/recover\" class=\"stacked\">\n\
             <label for=\"reference\">Reference</label>\n\
             <input id=\"reference\" name=\"reference\" required autocomplete=\"off\" \
             placeholder=\"HRD-XXXX-XXXX\" maxlength=\"40\">\n\
             <label for=\"email\">Email address</label>\n\
             <input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"email\" maxlength=\"254\">\n\
             <button type=\"submit\">Email me my link</button>\n</form>\n</main>\n"
        ),
    )
}

/// A private page whose forms post back to the collector. Its referrer
/// policy is `same-origin`, not `no-referrer`: under `no-referrer` browsers
/// send `Origin: null` with a form post, and the same-origin check could not
/// tell the collector's own form from a stranger's. `same-origin` still
/// sends nothing to any other site.
fn form_page(status: StatusCode, html: String) -> Response {
    let mut response = private_page(status, html);
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// JSON that is private to the shopper: never cached, never indexed.
fn private_json(status: StatusCode, value: serde_json::Value) -> Response {
    let mut response = (status, Json(value)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    response
}

/// "What has happened": every public event, oldest first, as text.
fn render_timeline(body: &mut String, timeline: &[PublicEvent]) {
    if timeline.is_empty() {
        return;
    }
    body.push_str(
        "<section aria-labelledby=\"history\">\n<h2 id=\"history\">What has happened</h2>\n\
         <ol class=\"timeline\" data-heard=\"timeline\">\n",
    );
    for event in timeline {
        let what = match (event.kind.as_str(), event.status) {
            ("received", _) => "We received your complaint.".to_owned(),
            ("acknowledged", _) => "A person has read it and is on it.".to_owned(),
            ("status_changed", Some(status)) => format!("Status: {}.", status.label()),
            ("public_reply", _) => match &event.first_name {
                Some(name) => format!("{} replied:", escape(name)),
                None => "We replied:".to_owned(),
            },
            _ => continue,
        };
        let _ = write!(
            body,
            "<li><time datetime=\"{iso}\">{human}</time> <span>{what}</span>",
            iso = clock::rfc3339(event.at),
            human = clock::human(event.at),
        );
        if let Some(reply) = event
            .body
            .as_deref()
            .filter(|_| event.kind == "public_reply")
        {
            let _ = write!(
                body,
                "<blockquote class=\"text\" data-heard=\"reply\">{}</blockquote>",
                escape(reply)
            );
        }
        body.push_str("</li>\n");
    }
    body.push_str("</ol>\n</section>\n");
}

fn render(complaint: &ComplaintRecord, timeline: &[PublicEvent], token: &str) -> String {
    let mut body = String::with_capacity(2048 + complaint.description.len());
    let reference = escape(&complaint.reference);
    let _ = write!(
        body,
        "<main class=\"receipt\">\n<p class=\"site\">{site}</p>\n\
         <h1>{heading}</h1>\n\
         <p class=\"lead\">Thank you for telling us. A person reads every complaint. \
         Keep this page: its address is private to you, and it shows where your complaint stands.</p>\n\
         <dl class=\"facts\">\n\
         <div><dt>Reference</dt><dd class=\"reference\" data-heard=\"reference\">{reference}</dd></div>\n\
         <div><dt>Received</dt><dd><time datetime=\"{iso}\">{human}</time></dd></div>\n\
         <div><dt>Status</dt><dd data-heard=\"status\">{status}</dd></div>\n\
         </dl>\n<section>\n<h2>What you told us</h2>\n<dl class=\"sent\">\n\
         <div><dt>About</dt><dd>{category}</dd></div>\n\
         <div><dt>What happened</dt><dd class=\"text\" data-heard=\"description\">{description}</dd></div>\n",
        site = escape(&complaint.site_name),
        heading = match complaint.kind {
            SubmissionKind::Complaint => "We have your complaint",
            SubmissionKind::Suggestion => "We have your suggestion",
            SubmissionKind::Callback => "We will call you back",
        },
        iso = clock::rfc3339(complaint.created_at),
        human = clock::human(complaint.created_at),
        status = complaint.status.label(),
        category = escape(&complaint.category_label),
        description = escape(&complaint.description),
    );
    if !complaint.outcomes.is_empty() {
        let wanted: Vec<&str> = complaint
            .outcomes
            .iter()
            .map(|outcome| outcome.label())
            .collect();
        let _ = writeln!(
            body,
            "<div><dt>What would make it right</dt><dd>{}</dd></div>",
            escape(&wanted.join(", "))
        );
    }
    if let Some(remedy) = &complaint.remedy {
        let _ = writeln!(
            body,
            "<div><dt>In your words</dt><dd class=\"text\">{}</dd></div>",
            escape(remedy)
        );
    }
    if let Some(window) = &complaint.callback_window {
        let _ = writeln!(
            body,
            "<div><dt>When to call</dt><dd>{}</dd></div>",
            escape(window)
        );
    }
    if complaint.photos > 0 {
        let _ = writeln!(
            body,
            "<div><dt>Photos</dt><dd data-heard=\"photos\">{} attached</dd></div>",
            complaint.photos
        );
    }
    if let Some(severity) = complaint.severity {
        let _ = writeln!(
            body,
            "<div><dt>How bad</dt><dd>{}</dd></div>",
            severity.label()
        );
    }
    if let Some(mood) = complaint.mood {
        let _ = writeln!(
            body,
            "<div><dt>How you felt</dt><dd>{}</dd></div>",
            mood.label()
        );
    }
    let contact = if complaint.anonymous {
        "You left no contact details, so check this page for our answer."
    } else {
        "We will also contact you the way you asked."
    };
    body.push_str("</dl>\n</section>\n");
    render_timeline(&mut body, timeline);
    let _ = write!(
        body,
        "<section>\n<h2>What happens next</h2>\n\
         <p>Someone will read your complaint and answer on this page. {contact}</p>\n\
         <p class=\"keep\">To come back later, bookmark this page or keep reference <strong>{reference}</strong>.</p>\n\
         </section>\n\
         <section class=\"actions\" aria-labelledby=\"your-data\">\n<h2 id=\"your-data\">Your data</h2>\n\
         <p>This complaint is yours. To keep a paper copy, use your browser's Print command.</p>\n\
         <ul>\n\
         <li><a href=\"/api/v1/receipts/{token}/export\" data-heard=\"export\">Download everything we hold about it (JSON)</a></li>\n\
         <li><a href=\"/r/{token}/delete\" data-heard=\"delete\">Delete it…</a> (you will be asked to confirm)</li>\n\
         </ul>\n</section>\n</main>\n",
        token = escape(token),
    );
    document(
        "en",
        &format!(
            "Complaint {} — {}",
            complaint.reference, complaint.site_name
        ),
        &body,
    )
}

fn not_found() -> String {
    document(
        "en",
        "Receipt not found",
        "<main class=\"receipt\">\n<h1>We could not find this receipt</h1>\n\
         <p class=\"lead\">The link may be incomplete. Copy the whole link from your receipt \
         and try again.</p>\n</main>\n",
    )
}
