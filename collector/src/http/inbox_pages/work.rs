//! The parts of the inbox pages a busy team works with beyond one complaint:
//! the saved views above the list, the canned-reply picker in the reply
//! form, a complaint's related complaints (merges and links), and
//! `GET /inbox/canned`, where owners write canned replies (and
//! everyone reads them). Like every page these only read; the script saves
//! and removes through `/api/v1/inbox/views` and `/api/v1/inbox/canned-replies`.

use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::PageStaff;
use super::layout::{Page, render, respond, time};
use crate::domain::inbox::MAX_MESSAGE_CHARS;
use crate::domain::inbox_work::{self, MAX_CANNED_TITLE_CHARS, MAX_VIEW_NAME_CHARS, language_rank};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::html::escape;
use crate::http::staff::Staff;
use crate::store::{CannedReply, Related, RelatedComplaint, Role, SavedView};

/// The saved views as links, each with a remove button for whoever may
/// remove it, and (for agents and owners) a form that saves the current
/// filter, `query`, under a name.
pub fn views_panel(staff: &Staff, views: &[SavedView], query: &str) -> String {
    let can_act = staff.role().includes(Role::Agent);
    let mut html = String::with_capacity(1024 + views.len() * 256);
    html.push_str(
        "<section class=\"views\" id=\"views\" aria-labelledby=\"views-title\">\n\
         <h2 id=\"views-title\">Saved views</h2>\n",
    );
    if views.is_empty() {
        html.push_str("<p class=\"muted\">No saved views yet.</p>\n");
    } else {
        html.push_str("<ul>");
        for view in views {
            let href = if view.query.is_empty() {
                "/inbox".to_owned()
            } else {
                format!("/inbox?{}", view.query)
            };
            let _ = write!(
                html,
                "<li data-view=\"{id}\"><a href=\"{href}\">{name}</a>{shared}",
                id = view.id,
                href = escape(&href),
                name = escape(&view.name),
                shared = if view.shared {
                    " <span class=\"badge\">Shared</span>"
                } else {
                    ""
                },
            );
            let may_remove = can_act
                && (!view.shared
                    || view.created_by == staff.user_id()
                    || staff.role().includes(Role::Owner));
            if may_remove {
                let _ = write!(
                    html,
                    " <button type=\"button\" class=\"link\" data-action=\"delete-view\" \
                     data-view=\"{}\" aria-label=\"Remove the view {}\">Remove</button>",
                    view.id,
                    escape(&view.name)
                );
            }
            html.push_str("</li>");
        }
        html.push_str("</ul>\n");
    }
    if can_act {
        let _ = writeln!(
            html,
            "<form class=\"inline save-view\" id=\"save-view\" data-action=\"save-view\" \
             data-query=\"{query}\">\
             <label for=\"view-name\">Save this view as</label> \
             <input id=\"view-name\" name=\"name\" type=\"text\" maxlength=\"{MAX_VIEW_NAME_CHARS}\" required> \
             <label><input type=\"checkbox\" name=\"shared\" value=\"1\"> Share with everyone</label> \
             <button type=\"submit\">Save view</button></form>",
            query = escape(query),
        );
    }
    html.push_str("</section>\n");
    html
}

/// A picker that puts a canned reply into the reply box (the complaint's
/// language first); nothing when the merchant has none.
pub fn canned_picker(replies: &[CannedReply], language: &str) -> String {
    if replies.is_empty() {
        return String::new();
    }
    let mut replies: Vec<&CannedReply> = replies.iter().collect();
    replies.sort_by_key(|reply| language_rank(&reply.language, language));
    let mut html = String::with_capacity(512 + replies.len() * 512);
    html.push_str(
        "<p class=\"canned\"><label for=\"canned-pick\">Canned reply</label> \
         <select id=\"canned-pick\"><option value=\"\">Choose one…</option>",
    );
    for reply in replies {
        let _ = write!(
            html,
            "<option value=\"{id}\" data-body=\"{body}\" lang=\"{language}\">{title} ({language})</option>",
            id = reply.id,
            body = escape(&reply.body),
            language = escape(&reply.language),
            title = escape(&reply.title),
        );
    }
    html.push_str(
        "</select> <button type=\"button\" data-action=\"insert-canned\">Insert into the reply</button></p>\n",
    );
    html
}

/// `GET /inbox/canned`: the merchant's canned replies; owners add, change
/// and remove them here.
pub async fn canned_page(
    State(state): State<AppState>,
    PageStaff(staff): PageStaff,
) -> Result<Response, AppError> {
    let replies = inbox_work::canned_replies(&state.store, staff.merchant_id(), None).await?;
    let owner = staff.role().includes(Role::Owner);
    let mut html = String::with_capacity(4096 + replies.len() * 1024);
    html.push_str(
        "<h1>Canned replies</h1>\n<p>Agents insert these into a reply on a complaint's page \
         and adapt them before sending; replies in the complaint's language come first.</p>\n\
         <section id=\"canned\" aria-label=\"Canned replies\">\n",
    );
    if replies.is_empty() {
        html.push_str("<p class=\"muted\">None yet.</p>\n");
    }
    for reply in &replies {
        let _ = write!(
            html,
            "<article class=\"canned-reply\" data-canned=\"{id}\">\n<h2>{title} \
             <span class=\"muted\">({language})</span></h2>\n\
             <p class=\"body\" dir=\"auto\" lang=\"{language}\">{body}</p>\n\
             <p class=\"muted\">Changed {changed}</p>\n",
            id = reply.id,
            title = escape(&reply.title),
            language = escape(&reply.language),
            body = escape(&reply.body),
            changed = time(reply.updated_at),
        );
        if owner {
            html.push_str("<details><summary>Change</summary>\n");
            html.push_str(&canned_form(Some(reply)));
            let _ = write!(
                html,
                "</details>\n<button type=\"button\" data-action=\"delete-canned\" data-canned=\"{}\" \
                 aria-label=\"Remove {}\">Remove</button>\n",
                reply.id,
                escape(&reply.title)
            );
        }
        html.push_str("</article>\n");
    }
    html.push_str("</section>\n");
    if owner {
        html.push_str("<h2>Add a canned reply</h2>\n");
        html.push_str(&canned_form(None));
    }
    Ok(respond(
        StatusCode::OK,
        render(&Page {
            title: "Canned replies",
            kind: "canned",
            main: &html,
            staff: Some(&staff),
        }),
    ))
}

/// The form that adds a reply (`None`) or changes one.
fn canned_form(reply: Option<&CannedReply>) -> String {
    let (id, language, title, body) = match reply {
        Some(reply) => (
            reply.id.to_string(),
            reply.language.as_str(),
            reply.title.as_str(),
            reply.body.as_str(),
        ),
        None => (String::new(), "", "", ""),
    };
    let suffix = if id.is_empty() { "new" } else { id.as_str() };
    format!(
        "<form class=\"canned-form\" data-action=\"save-canned\" data-canned=\"{id}\">\n\
         <p><label for=\"canned-language-{suffix}\">Language (e.g. en, zh-Hans)</label>\
         <input id=\"canned-language-{suffix}\" name=\"language\" type=\"text\" maxlength=\"35\" \
         required value=\"{language}\"></p>\n\
         <p><label for=\"canned-title-{suffix}\">Title</label>\
         <input id=\"canned-title-{suffix}\" name=\"title\" type=\"text\" \
         maxlength=\"{MAX_CANNED_TITLE_CHARS}\" required value=\"{title}\"></p>\n\
         <p><label for=\"canned-body-{suffix}\">Text</label>\
         <textarea id=\"canned-body-{suffix}\" name=\"body\" rows=\"4\" maxlength=\"{MAX_MESSAGE_CHARS}\" \
         required>{body}</textarea></p>\n\
         <button type=\"submit\">Save canned reply</button>\n</form>\n",
        language = escape(language),
        title = escape(title),
        body = escape(body),
    )
}

/// What the complaint is merged into, what was merged into it, what it is
/// linked with; and, for agents and owners, the forms to merge and link.
pub fn related_section(staff: &Staff, related: &Related) -> String {
    let can_act = staff.role().includes(Role::Agent);
    let mut html = String::with_capacity(2048);
    html.push_str(
        "<section class=\"related\" id=\"related\" aria-labelledby=\"related-title\">\n\
         <h2 id=\"related-title\">Related complaints</h2>\n",
    );
    if let Some(primary) = &related.merged_into {
        let _ = writeln!(
            html,
            "<p class=\"merged-into\" data-field=\"merged-into\">Merged as a duplicate into {}.</p>",
            complaint_link(primary)
        );
    }
    let mut list = |title: &str, items: &[RelatedComplaint], unlink: bool| {
        if items.is_empty() {
            return;
        }
        let _ = write!(html, "<h3>{title}</h3><ul class=\"related-list\">");
        for item in items {
            let _ = write!(html, "<li>{}", complaint_link(item));
            if unlink && can_act {
                let _ = write!(
                    html,
                    " <button type=\"button\" class=\"link\" data-action=\"unlink\" data-with=\"{0}\" \
                     aria-label=\"Remove link with {0}\">Remove link</button>",
                    escape(&item.reference)
                );
            }
            html.push_str("</li>");
        }
        html.push_str("</ul>\n");
    };
    list("Merged into this one", &related.merged_from, false);
    list("Linked", &related.linked, true);
    if related.merged_into.is_none() && related.merged_from.is_empty() && related.linked.is_empty()
    {
        html.push_str("<p class=\"muted\">None.</p>\n");
    }
    if can_act {
        html.push_str(
            "<form class=\"inline\" data-action=\"link\"><label for=\"link-with\">Link a related \
             complaint (its reference)</label><input id=\"link-with\" name=\"with\" type=\"text\" \
             maxlength=\"40\" required autocomplete=\"off\"><button type=\"submit\">Link</button></form>\n",
        );
        if related.merged_into.is_none() {
            html.push_str(
                "<form class=\"inline\" data-action=\"merge\"><label for=\"merge-into\">Merge this \
                 complaint as a duplicate into (reference)</label><input id=\"merge-into\" name=\"into\" \
                 type=\"text\" maxlength=\"40\" required autocomplete=\"off\">\
                 <button type=\"submit\">Merge and close this one</button></form>\n",
            );
        }
    }
    html.push_str("</section>\n");
    html
}

fn complaint_link(complaint: &RelatedComplaint) -> String {
    format!(
        "<a href=\"/inbox/c/{reference}\">{reference}</a> <span class=\"status-{status}\">({status_words})</span> \
         <span class=\"excerpt\" dir=\"auto\">{excerpt}</span>",
        reference = escape(&complaint.reference),
        status = escape(&complaint.status),
        status_words = escape(&super::list::capitalised(&complaint.status)),
        excerpt = escape(&complaint.excerpt),
    )
}
