//! `GET /r/{token}`: the shopper's private receipt page, plain HTML that works
//! without JavaScript.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::AppState;
use super::error::AppError;
use super::html::{document, escape, private_page};
use heard_shared::SubmissionKind;

use crate::clock;
use crate::domain::token::ReceiptToken;
use crate::store::ComplaintRecord;

pub async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    // A malformed token and an unknown one get the same answer.
    let complaint = match ReceiptToken::parse(&token) {
        Some(token) => state.store.complaint_by_token_hash(token.hash()).await?,
        None => None,
    };
    Ok(match complaint {
        Some(complaint) => private_page(StatusCode::OK, render(&complaint)),
        None => private_page(StatusCode::NOT_FOUND, not_found()),
    })
}

fn render(complaint: &ComplaintRecord) -> String {
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
    let _ = write!(
        body,
        "</dl>\n</section>\n<section>\n<h2>What happens next</h2>\n\
         <p>Someone will read your complaint and answer on this page. {contact}</p>\n\
         <p class=\"keep\">To come back later, bookmark this page or keep reference <strong>{reference}</strong>.</p>\n\
         </section>\n</main>\n"
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
