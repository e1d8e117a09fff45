//! `GET /inbox/c/{reference}`: one complaint. What the shopper wants comes
//! first (outcome, severity, mood, what they value), then what happened,
//! photos, the page and browser, contact, the whole timeline, and the
//! actions. Another merchant's reference is the same 404 as a made-up one.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use heard_shared::Status;

use super::PageStaff;
use super::layout::{self, Page, render, respond, span, time};
use super::list::capitalised;
use crate::domain::inbox::{self, InboxError, MAX_MESSAGE_CHARS, allowed_from};
use crate::domain::spam;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::html::escape;
use crate::http::staff::Staff;
use crate::store::{CannedReply, ComplaintDetail, Related, Role, SpamReason, TimelineEvent, User};

pub async fn page(
    State(state): State<AppState>,
    PageStaff(staff): PageStaff,
    Path(reference): Path<String>,
) -> Result<Response, AppError> {
    let now = state.clock.now_millis();
    let detail = match inbox::complaint(&state.store, staff.merchant_id(), &reference, now).await {
        Ok(detail) => detail,
        Err(InboxError::NotFound) => return Ok(layout::not_found(&staff)),
        Err(other) => return Err(other.into()),
    };
    let people = state.store.users(staff.merchant_id()).await?;
    let canned = state.store.canned_replies(staff.merchant_id()).await?;
    let related = state
        .store
        .related_complaints(staff.merchant_id(), &detail.reference)
        .await?
        .unwrap_or_default();
    let main = ComplaintView {
        staff: &staff,
        detail: &detail,
        people: &people,
        canned: &canned,
        related: &related,
        now,
    }
    .render();
    let title = format!("Complaint {}", detail.reference);
    Ok(respond(
        StatusCode::OK,
        render(&Page {
            title: &title,
            kind: "complaint",
            main: &main,
            staff: Some(&staff),
        }),
    ))
}

/// `GET /inbox/c/{reference}/photos/{photo}`: one photo of the complaint,
/// for staff of its merchant. Photos were decoded and re-encoded at upload,
/// so the stored type is one of three image types; the answer is locked down
/// anyway (sandboxed, no sniffing, same-origin only, never cached).
pub async fn photo(
    State(state): State<AppState>,
    staff: Staff,
    Path((reference, photo)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (content_type, data) = state
        .store
        .complaint_photo(staff.merchant_id(), &reference, &photo)
        .await?
        .ok_or(AppError::NotFound)?;
    let content_type = match content_type.as_str() {
        "image/jpeg" => "image/jpeg",
        "image/png" => "image/png",
        "image/webp" => "image/webp",
        _ => return Err(AppError::NotFound),
    };
    let mut response = (StatusCode::OK, data).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

struct ComplaintView<'a> {
    staff: &'a Staff,
    detail: &'a ComplaintDetail,
    people: &'a [User],
    canned: &'a [CannedReply],
    related: &'a Related,
    now: i64,
}

impl ComplaintView<'_> {
    fn render(&self) -> String {
        let detail = self.detail;
        let mut html = String::with_capacity(16 * 1024 + detail.description.len());
        let _ = write!(
            html,
            "<p class=\"crumbs\"><a href=\"/inbox\">← Inbox</a></p>\n\
             <article class=\"complaint\" id=\"complaint\" data-reference=\"{reference}\" \
             data-status=\"{status}\">\n<header class=\"head\">\n<h1 tabindex=\"-1\">Complaint \
             <span class=\"reference\">{reference}</span></h1>\n<p class=\"badges\">",
            reference = escape(&detail.reference),
            status = detail.status.as_str(),
        );
        if detail.urgent {
            html.push_str("<span class=\"badge safety\">Safety: answer first</span> ");
        }
        let _ = write!(
            html,
            "<span class=\"badge status-{status}\" data-field=\"status\">{status_words}</span> \
             <span class=\"assignee\" data-field=\"assignee\">{assignee}</span> {due}</p>\n\
             <p class=\"meta\">{kind} · received {received} on <span class=\"site\">{site}</span></p>\n\
             </header>\n",
            status = detail.status.as_str(),
            status_words = escape(&capitalised(detail.status.as_str())),
            assignee = escape(&match &detail.assignee {
                Some(assignee) => format!("Assigned to {}", assignee.display_name),
                None => "Unassigned".to_owned(),
            }),
            due = self.due(),
            kind = escape(&capitalised(detail.kind.as_str())),
            received = time(detail.created_at),
            site = escape(&detail.site_name),
        );
        self.spam_banner(&mut html);
        self.wants(&mut html);
        self.what_happened(&mut html);
        self.photos(&mut html);
        self.context(&mut html);
        self.contact(&mut html);
        html.push_str(&super::work::related_section(self.staff, self.related));
        self.timeline(&mut html);
        self.actions(&mut html);
        html.push_str("</article>\n");
        html
    }

    /// Suspected spam says so first, and why; agents and owners can put it
    /// back in the inbox from here (issue 9).
    fn spam_banner(&self, html: &mut String) {
        let Some(reason) = self.detail.spam.as_deref() else {
            return;
        };
        let words = SpamReason::parse(reason).map_or_else(|| reason.to_owned(), spam::describe);
        let _ = write!(
            html,
            "<section class=\"spam-banner\" id=\"spam-banner\" aria-labelledby=\"spam-title\">\n\
             <h2 id=\"spam-title\">Suspected spam: {words}</h2>\n\
             <p>Nobody was notified and it is left out of the inbox, its counts and the \
             figures. If a person sent it, restore it: it is then routed and the shopper's \
             acknowledgement is sent.</p>\n",
            words = escape(&words),
        );
        if self.staff.role().includes(Role::Agent) {
            html.push_str(
                "<p><button type=\"button\" data-action=\"restore-spam\">Not spam — restore</button></p>\n",
            );
        }
        html.push_str("</section>\n");
    }

    fn due(&self) -> String {
        let detail = self.detail;
        if matches!(detail.status, Status::Resolved | Status::Closed) {
            return String::new();
        }
        let response_due = detail
            .first_response_due_at
            .filter(|_| detail.first_response_at.is_none());
        let (what, due) = match (response_due, detail.resolution_due_at) {
            (Some(due), _) => ("First answer", due),
            (None, Some(due)) => ("Resolution", due),
            (None, None) => return String::new(),
        };
        if due < self.now {
            format!(
                "<span class=\"badge overdue\">{what} overdue by {}</span>",
                span(due, self.now)
            )
        } else {
            format!(
                "<span class=\"badge due\">{what} due within {}</span>",
                span(due, self.now)
            )
        }
    }

    fn wants(&self, html: &mut String) {
        let detail = self.detail;
        html.push_str(
            "<section class=\"wants\" aria-labelledby=\"wants-title\">\n\
             <h2 id=\"wants-title\">What the shopper wants</h2>\n<dl class=\"facts\">\n",
        );
        let outcomes: Vec<String> = detail
            .outcomes
            .iter()
            .map(|outcome| capitalised(outcome.as_str()))
            .collect();
        fact(
            html,
            "Outcome",
            "outcomes",
            &if outcomes.is_empty() {
                "Not said".to_owned()
            } else {
                outcomes.join(", ")
            },
        );
        fact(
            html,
            "Severity",
            "severity",
            &detail.severity.map_or_else(
                || "Not said".to_owned(),
                |value| capitalised(value.as_str()),
            ),
        );
        fact(
            html,
            "Mood",
            "mood",
            &detail.mood.map_or_else(
                || "Not said".to_owned(),
                |value| capitalised(value.as_str()),
            ),
        );
        fact(
            html,
            "What they value",
            "value",
            &detail
                .value_orientation
                .as_deref()
                .map_or_else(|| "Not known".to_owned(), capitalised),
        );
        html.push_str("</dl>\n");
        if let Some(remedy) = &detail.remedy {
            let _ = write!(
                html,
                "<h3>The remedy they propose</h3>\n<p class=\"text\" dir=\"auto\" data-field=\"remedy\">{}</p>\n",
                escape(remedy)
            );
        }
        html.push_str("</section>\n");
    }

    fn what_happened(&self, html: &mut String) {
        let detail = self.detail;
        let _ = write!(
            html,
            "<section aria-labelledby=\"happened-title\">\n<h2 id=\"happened-title\">What happened</h2>\n\
             <p class=\"category\">Category: <span data-field=\"category\">{label}</span> \
             <span class=\"muted\">({id})</span></p>\n\
             <p class=\"text description\" dir=\"auto\" lang=\"{language}\" data-field=\"description\">{description}</p>\n",
            label = escape(&detail.category_label),
            id = escape(&detail.category),
            language = escape(&detail.language),
            description = escape(&detail.description),
        );
        if !detail.answers.is_empty() {
            html.push_str("<h3>Their answers</h3>\n<dl class=\"answers\">\n");
            for (question, answer) in &detail.answers {
                let _ = writeln!(
                    html,
                    "<div><dt>{}</dt><dd dir=\"auto\" data-field=\"answer\">{}</dd></div>",
                    escape(question),
                    escape(answer)
                );
            }
            html.push_str("</dl>\n");
        }
        if let Some(window) = &detail.callback_window {
            let _ = writeln!(
                html,
                "<p>Call back: <span data-field=\"callback\">{}</span></p>",
                escape(window)
            );
        }
        html.push_str("</section>\n");
    }

    fn photos(&self, html: &mut String) {
        let attachments = &self.detail.attachments;
        if attachments.is_empty() {
            return;
        }
        html.push_str(
            "<section aria-labelledby=\"photos-title\">\n<h2 id=\"photos-title\">Photos</h2>\n\
             <ul class=\"photos\">\n",
        );
        let reference = escape(&self.detail.reference);
        for (index, photo) in attachments.iter().enumerate() {
            let url = format!("/inbox/c/{reference}/photos/{}", escape(&photo.id));
            let _ = writeln!(
                html,
                "<li><a href=\"{url}\"><img src=\"{url}\" width=\"{width}\" height=\"{height}\" \
                 loading=\"lazy\" alt=\"Photo {number} from the shopper\"></a>\
                 <p class=\"muted\">{width} × {height} px, {kb} KB, {at}</p></li>",
                number = index + 1,
                width = photo.width,
                height = photo.height,
                kb = (photo.bytes + 1023) / 1024,
                at = time(photo.created_at),
            );
        }
        html.push_str("</ul>\n</section>\n");
    }

    fn context(&self, html: &mut String) {
        let detail = self.detail;
        html.push_str(
            "<section aria-labelledby=\"context-title\">\n\
             <h2 id=\"context-title\">Page and browser</h2>\n<dl class=\"facts\">\n",
        );
        // The page address is shown as text, never as a link: it came from
        // the shopper's browser and could be any scheme.
        fact(
            html,
            "Page",
            "page-url",
            detail.page_url.as_deref().unwrap_or("Not sent"),
        );
        fact(
            html,
            "Browser",
            "user-agent",
            detail.user_agent.as_deref().unwrap_or("Not sent"),
        );
        fact(html, "Language", "language", &detail.language);
        let identity = match (&detail.identity, detail.identity_verified) {
            (None, _) => "None given".to_owned(),
            (Some(identity), verified) => format!(
                "{} ({})",
                identity,
                if verified {
                    "vouched for by your site"
                } else {
                    "not verified"
                }
            ),
        };
        fact(html, "Customer identity", "identity", &identity);
        html.push_str("</dl>\n</section>\n");
    }

    fn contact(&self, html: &mut String) {
        html.push_str(
            "<section aria-labelledby=\"contact-title\">\n<h2 id=\"contact-title\">Contact</h2>\n",
        );
        match &self.detail.contact {
            None => html.push_str("<p>The shopper left no contact details.</p>\n"),
            Some(contact) => {
                html.push_str("<dl class=\"facts\">\n");
                fact(
                    html,
                    "Name",
                    "contact-name",
                    contact.name.as_deref().unwrap_or("Not given"),
                );
                fact(
                    html,
                    "Email",
                    "contact-email",
                    contact.email.as_deref().unwrap_or("Not given"),
                );
                fact(
                    html,
                    "Phone",
                    "contact-phone",
                    contact.phone.as_deref().unwrap_or("Not given"),
                );
                html.push_str("</dl>\n");
            }
        }
        html.push_str("</section>\n");
    }

    fn timeline(&self, html: &mut String) {
        html.push_str(
            "<section aria-labelledby=\"timeline-title\">\n<h2 id=\"timeline-title\">Timeline</h2>\n\
             <ol class=\"timeline\" id=\"timeline\">\n",
        );
        for event in &self.detail.timeline {
            self.event(html, event);
        }
        html.push_str("</ol>\n</section>\n");
    }

    fn event(&self, html: &mut String, event: &TimelineEvent) {
        let who = event
            .actor_name
            .as_deref()
            .unwrap_or(if event.kind == "received" {
                "The shopper"
            } else {
                "Heard"
            });
        let what = match event.kind.as_str() {
            "received" => "sent the complaint".to_owned(),
            "acknowledged" => "acknowledged it".to_owned(),
            "assigned" => match event.data["to"].as_i64() {
                Some(id) => format!("assigned it to {}", self.person(id)),
                None => "unassigned it".to_owned(),
            },
            "status_changed" => format!(
                "changed the status from {} to {}",
                capitalised(event.data["from"].as_str().unwrap_or("?")),
                capitalised(event.data["to"].as_str().unwrap_or("?"))
            ),
            "public_reply" => "replied to the shopper".to_owned(),
            "internal_note" => "wrote an internal note".to_owned(),
            "tagged" => {
                let list = |key: &str| -> Vec<String> {
                    event.data[key]
                        .as_array()
                        .map(|tags| {
                            tags.iter()
                                .filter_map(|tag| tag.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let (added, removed) = (list("added"), list("removed"));
                let mut parts = Vec::new();
                if !added.is_empty() {
                    parts.push(format!("added the tags {}", added.join(", ")));
                }
                if !removed.is_empty() {
                    parts.push(format!("removed the tags {}", removed.join(", ")));
                }
                if parts.is_empty() {
                    "changed the tags".to_owned()
                } else {
                    parts.join(" and ")
                }
            }
            "merged" => match (event.data["into"].as_str(), event.data["from"].as_str()) {
                (Some(into), _) => format!("merged it as a duplicate into {into}"),
                (None, Some(from)) => format!("merged the duplicate {from} into it"),
                _ => "merged it".to_owned(),
            },
            "linked" => {
                let with = event.data["with"].as_str().unwrap_or("?");
                if event.data["removed"].as_bool() == Some(true) {
                    format!("removed the link with {with}")
                } else {
                    format!("linked it with {with}")
                }
            }
            "marked_spam" => "moved it to the spam folder".to_owned(),
            "spam_restored" => "said it is not spam and restored it to the inbox".to_owned(),
            "anonymized" => match event.data["days"].as_i64() {
                Some(days) => format!(
                    "removed its text, photos and contact details: the merchant keeps finished complaints for {days} days"
                ),
                None => "removed its text, photos and contact details".to_owned(),
            },
            other => layout::words(other),
        };
        let (class, marker) = match (event.kind.as_str(), event.public) {
            ("internal_note", _) => ("internal", "Internal: only staff see this"),
            ("public_reply", _) => ("public", "Visible to the shopper"),
            (_, true) => ("", "The shopper sees this"),
            (_, false) => ("", "Staff only"),
        };
        let _ = write!(
            html,
            "<li class=\"event {class}\" data-kind=\"{kind}\" tabindex=\"-1\">\
             <p class=\"when\">{at} · <span class=\"marker\">{marker}</span></p>\
             <p><strong>{who}</strong> {what}</p>",
            kind = escape(&event.kind),
            at = time(event.at),
            who = escape(who),
            what = escape(&what),
        );
        if let Some(body) = &event.body {
            let _ = write!(
                html,
                "<p class=\"text body\" dir=\"auto\">{}</p>",
                escape(body)
            );
        }
        html.push_str("</li>\n");
    }

    fn person(&self, id: i64) -> String {
        if id == self.staff.user_id() {
            return "me".to_owned();
        }
        self.people
            .iter()
            .find(|person| person.id == id)
            .map_or_else(
                || format!("staff #{id}"),
                |person| person.display_name.clone(),
            )
    }

    fn actions(&self, html: &mut String) {
        let detail = self.detail;
        html.push_str(
            "<section class=\"actions\" aria-labelledby=\"actions-title\">\n\
             <h2 id=\"actions-title\">Work on it</h2>\n",
        );
        if !self.staff.role().includes(Role::Agent) {
            html.push_str(
                "<p>You can read complaints; an owner can let you work on them.</p>\n</section>\n",
            );
            return;
        }
        html.push_str(
            "<noscript><p class=\"alert\">The actions need JavaScript.</p></noscript>\n\
             <div class=\"quick\">",
        );
        if detail.status == Status::Received {
            html.push_str(
                "<button type=\"button\" data-action=\"acknowledge\">Acknowledge</button> ",
            );
        }
        let mine = detail
            .assignee
            .as_ref()
            .is_some_and(|assignee| assignee.user_id == self.staff.user_id());
        if !mine {
            html.push_str(
                "<button type=\"button\" data-action=\"assign-me\" aria-keyshortcuts=\"a\">Assign to me</button> ",
            );
        }
        if allowed_from(Status::Resolved).contains(&detail.status) {
            html.push_str(
                "<button type=\"button\" data-action=\"resolve\" aria-keyshortcuts=\"e\">Mark resolved</button> ",
            );
        }
        if detail.spam.is_none() {
            html.push_str(
                "<button type=\"button\" data-action=\"mark-spam\">Mark as spam</button>",
            );
        }
        html.push_str("</div>\n");

        // Assign to anyone.
        html.push_str(
            "<form class=\"inline\" data-action=\"assign\">\
             <label for=\"assign-to\">Assign to</label><select id=\"assign-to\" name=\"user_id\">\
             <option value=\"\">Nobody</option>",
        );
        let current = detail.assignee.as_ref().map(|assignee| assignee.user_id);
        for person in self
            .people
            .iter()
            .filter(|person| !person.disabled && person.role.includes(Role::Agent))
        {
            let selected = if current == Some(person.id) {
                " selected"
            } else {
                ""
            };
            let _ = write!(
                html,
                "<option value=\"{}\"{selected}>{}</option>",
                person.id,
                escape(&person.display_name)
            );
        }
        html.push_str("</select><button type=\"submit\">Assign</button></form>\n");

        // Any status the workflow allows from here.
        let reachable: Vec<Status> = Status::ALL
            .into_iter()
            .filter(|to| allowed_from(*to).contains(&detail.status))
            .collect();
        if !reachable.is_empty() {
            html.push_str(
                "<form class=\"inline\" data-action=\"status\">\
                 <label for=\"set-status\">Status</label><select id=\"set-status\" name=\"status\">",
            );
            for status in reachable {
                let _ = write!(
                    html,
                    "<option value=\"{}\">{}</option>",
                    status.as_str(),
                    escape(&capitalised(status.as_str()))
                );
            }
            html.push_str("</select><button type=\"submit\">Change status</button></form>\n");
        }

        // Tags.
        html.push_str("<div class=\"tag-editor\"><h3>Tags</h3>");
        if detail.tags.is_empty() {
            html.push_str("<p class=\"muted\">No tags yet.</p>");
        } else {
            html.push_str("<ul class=\"tags\">");
            for tag in &detail.tags {
                let _ = write!(
                    html,
                    "<li>{tag} <button type=\"button\" class=\"link\" data-action=\"remove-tag\" \
                     data-tag=\"{tag}\" aria-label=\"Remove the tag {tag}\">×</button></li>",
                    tag = escape(tag)
                );
            }
            html.push_str("</ul>");
        }
        let _ = writeln!(
            html,
            "<form class=\"inline\" data-action=\"tags\"><label for=\"add-tags\">Add tags \
             <span class=\"muted\">(separate with commas)</span></label>\
             <input id=\"add-tags\" name=\"add\" type=\"text\" maxlength=\"{}\">\
             <button type=\"submit\">Add</button></form></div>",
            (inbox::MAX_TAG_CHARS + 2) * inbox::MAX_TAGS,
        );

        // The two ways to write, marked so they cannot be confused.
        let _ = write!(
            html,
            "<form class=\"message public\" data-action=\"reply\">\n\
             <h3 id=\"reply-title\">Reply to the shopper</h3>\n\
             <p class=\"marker\" id=\"reply-help\">Visible to the shopper on their status page, and \
             emailed to them if they gave an address.</p>\n{canned}\
             <label for=\"reply-body\" class=\"visually-hidden\">Your reply to the shopper</label>\n\
             <textarea id=\"reply-body\" name=\"body\" rows=\"5\" maxlength=\"{MAX_MESSAGE_CHARS}\" \
             required aria-describedby=\"reply-help\" aria-keyshortcuts=\"r\"></textarea>\n\
             <button type=\"submit\">Send reply to shopper</button>\n</form>\n\
             <form class=\"message internal\" data-action=\"note\">\n\
             <h3 id=\"note-title\">Internal note</h3>\n\
             <p class=\"marker\" id=\"note-help\">Only staff see this. The shopper never does.</p>\n\
             <label for=\"note-body\" class=\"visually-hidden\">Your internal note</label>\n\
             <textarea id=\"note-body\" name=\"body\" rows=\"3\" maxlength=\"{MAX_MESSAGE_CHARS}\" \
             required aria-describedby=\"note-help\"></textarea>\n\
             <button type=\"submit\">Save internal note</button>\n</form>\n",
            canned = super::work::canned_picker(self.canned, &self.detail.language),
        );
        html.push_str("</section>\n");
    }
}

/// One `<div><dt>…</dt><dd>…</dd></div>` of a fact list, `value` escaped.
fn fact(html: &mut String, label: &str, field: &str, value: &str) {
    let _ = writeln!(
        html,
        "<div><dt>{label}</dt><dd dir=\"auto\" data-field=\"{field}\">{}</dd></div>",
        escape(value)
    );
}
