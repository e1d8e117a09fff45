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

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::AppState;
use super::auth::ClientAddress;
use super::error::AppError;
use super::html::{document, document_with_direction, escape, private_page};
use super::json::JsonBody;
use super::staff::check_same_origin;
use super::status_page;

use crate::domain::token::ReceiptToken;
use crate::domain::{followup, receipts};
use crate::mail::words::{Page, fill};
use crate::store::Site;

/// What every recovery request is told, whether or not anything matched.
pub const RECOVERY_ANSWER: &str = "If this reference and email address belong to a complaint, \
    we have sent a new private link to that address. It may take a few minutes to arrive; \
    check your spam folder too.";

pub async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    Ok(match followup::open(&state.store, &token).await? {
        Some((complaint, follow_up)) => {
            let reopen_until = followup::reopen_until(
                &follow_up,
                state.reopen_window_ms,
                state.clock.now_millis(),
            );
            private_page(
                StatusCode::OK,
                status_page::render(&complaint, &follow_up, reopen_until, &token),
            )
        }
        None => private_page(StatusCode::NOT_FOUND, not_found()),
    })
}

/// `GET /api/v1/receipts/{token}`: the complaint as the status page shows it.
///
/// The widget reads it from the shop's page for "your earlier complaints", so
/// a request from one of **the complaint's own site's** allowed origins gets a
/// CORS grant (no credentials: the token is the credential); any other origin
/// gets the same answer without a grant, which its script cannot read.
pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (complaint, follow_up) = followup::open(&state.store, &token)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut response = private_json(
        StatusCode::OK,
        receipts::follow_up_view(
            &complaint,
            &follow_up,
            state.reopen_window_ms,
            state.clock.now_millis(),
        ),
    );
    if let Some(origin) = headers.get(header::ORIGIN) {
        let site = state.store.site_by_id(complaint.site_id).await?;
        let allowed = origin.to_str().is_ok_and(|origin| {
            site.is_some_and(|site| site.allowed_origins.iter().any(|allowed| allowed == origin))
        });
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if allowed {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
    }
    Ok(response)
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
    let page = Page::for_language(&complaint.language);
    let words = page.words;
    let token = escape(&token);
    let title = fill(&words.delete_title, &[("reference", &complaint.reference)]);
    let body = format!(
        "<main class=\"receipt\">\n<p class=\"site\">{site}</p>\n<h1>{heading}</h1>\n\
         <p class=\"lead\">{lead}</p>\n\
         <p><a href=\"/api/v1/receipts/{token}/export\">{download}</a></p>\n\
         <form method=\"post\" action=\"/r/{token}/delete\" class=\"actions\">\n\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\n\
         <button type=\"submit\" class=\"danger\" data-heard=\"confirm-delete\">{confirm}</button>\n\
         <a href=\"/r/{token}\">{keep}</a>\n</form>\n</main>\n",
        site = escape(&complaint.site_name),
        heading = escape(&title),
        lead = escape(&words.delete_lead),
        download = escape(&words.delete_download),
        confirm = escape(&words.delete_confirm),
        keep = escape(&words.delete_keep),
    );
    Ok(form_page(
        StatusCode::OK,
        document_with_direction(page.language, page.direction(), &title, &body),
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
    // The language is read before the deletion; the answer is in it.
    let Some(complaint) = receipts::open(&state.store, &token).await? else {
        return Ok(private_page(StatusCode::NOT_FOUND, not_found()));
    };
    if !receipts::delete(&state.store, &token, state.clock.now_millis()).await? {
        return Ok(private_page(StatusCode::NOT_FOUND, not_found()));
    }
    let page = Page::for_language(&complaint.language);
    let words = page.words;
    Ok(private_page(
        StatusCode::OK,
        document_with_direction(
            page.language,
            page.direction(),
            &words.deleted_title,
            &format!(
                "<main class=\"receipt\">\n<h1 data-heard=\"deleted\">{}</h1>\n\
                 <p class=\"lead\">{}</p>\n</main>\n",
                escape(&words.deleted_title),
                escape(&words.deleted_lead)
            ),
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
pub(super) fn form_page(status: StatusCode, html: String) -> Response {
    let mut response = private_page(status, html);
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// JSON that is private to the shopper: never cached, never indexed.
pub(super) fn private_json(status: StatusCode, value: serde_json::Value) -> Response {
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

pub(super) fn not_found() -> String {
    document(
        "en",
        "Receipt not found",
        "<main class=\"receipt\">\n<h1>We could not find this receipt</h1>\n\
         <p class=\"lead\">The link may be incomplete. Copy the whole link from your receipt \
         and try again.</p>\n</main>\n",
    )
}
