//! The frame of every inbox page: head, header bar, the live region, the
//! shortcut help, and the headers (a CSP that allows exactly one script,
//! `/inbox/assets/inbox.js`, and no inline code).

use std::fmt::Write;

use axum::http::StatusCode;
use axum::response::Response;

use super::super::html::{escape, private_html};
use super::super::staff::Staff;
use crate::clock;
use crate::store::Role;

/// The content security policy of the inbox pages: the one script file
/// from the collector, no inline script or style, no plugins, no framing;
/// `connect-src 'self'` for the JSON API and the event stream.
const INBOX_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// Where the page's script and styles are served from (`www/inbox/`).
pub const ASSETS: &str = "/inbox/assets";

/// A page: what goes in `<title>`, what the body says, and for whom.
pub struct Page<'a> {
    pub title: &'a str,
    /// `data-page` on `<body>`: tells the script which shortcuts apply.
    pub kind: &'a str,
    /// Markup, already escaped.
    pub main: &'a str,
    /// `None` on the sign-in page.
    pub staff: Option<&'a Staff>,
}

/// The whole HTML document.
pub fn render(page: &Page<'_>) -> String {
    let mut html = String::with_capacity(page.main.len() + 4096);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex, nofollow\">\n"
    );
    if let Some(staff) = page.staff {
        // The CSRF token for the script's API calls; readable only by
        // same-origin code, like the page itself.
        let _ = write!(
            html,
            "<meta name=\"heard-csrf\" content=\"{}\">\n<meta name=\"heard-user\" content=\"{}\">\n",
            escape(&staff.csrf_token()),
            staff.user_id(),
        );
    }
    let _ = write!(
        html,
        "<title>{title} · Heard inbox</title>\n\
         <link rel=\"stylesheet\" href=\"{ASSETS}/inbox.css\">\n\
         <script src=\"{ASSETS}/inbox.js\" defer></script>\n</head>\n\
         <body data-page=\"{kind}\">\n<a class=\"skip\" href=\"#main\">Skip to the content</a>\n",
        title = escape(page.title),
        kind = escape(page.kind),
    );
    if let Some(staff) = page.staff {
        let _ = write!(
            html,
            "<header class=\"bar\">\n<a class=\"brand\" href=\"/inbox\">Heard inbox</a>\n\
             <nav aria-label=\"Inbox sections\"><ul class=\"sections\">\
             <li><a href=\"/inbox\">Complaints</a></li><li><a href=\"/inbox/insights\">Insights</a></li><li><a href=\"/inbox/canned\">Canned replies</a></li>\
             <li><a href=\"/inbox/staff\">Staff</a></li>{audit}\
             <li><a href=\"/inbox/account\">Your account</a></li></ul></nav>\n\
             <p class=\"who\">Signed in as {name} <span class=\"role\">({role})</span></p>\n\
             <div class=\"bar-actions\">\
             <button type=\"button\" data-action=\"help\" aria-haspopup=\"dialog\">Shortcuts <kbd>?</kbd></button>\
             <button type=\"button\" data-action=\"sign-out\">Sign out</button></div>\n</header>\n",
            name = escape(&staff.user.display_name),
            role = escape(staff.role().as_str()),
            audit = if staff.role().includes(Role::Owner) {
                "<li><a href=\"/inbox/audit\">Audit log</a></li><li><a href=\"/inbox/sites\">Sites</a></li><li><a href=\"/inbox/routing\">Routing</a></li>"
            } else {
                ""
            },
        );
    }
    let _ = write!(
        html,
        "<main id=\"main\" tabindex=\"-1\">\n{main}</main>\n\
         <div id=\"announcer\" class=\"visually-hidden\" role=\"status\" aria-live=\"polite\"></div>\n",
        main = page.main,
    );
    if page.staff.is_some() {
        html.push_str(SHORTCUTS_DIALOG);
    }
    html.push_str("</body>\n</html>\n");
    html
}

/// The help dialog listing the keyboard shortcuts (opened with `?`).
const SHORTCUTS_DIALOG: &str = "<dialog id=\"shortcuts\" aria-labelledby=\"shortcuts-title\">\n\
<h2 id=\"shortcuts-title\">Keyboard shortcuts</h2>\n\
<p>Shortcuts do nothing while you type in a field.</p>\n\
<dl class=\"keys\">\n\
<div><dt><kbd>j</kbd> / <kbd>k</kbd></dt><dd>Next / previous complaint in the list, or entry in the timeline</dd></div>\n\
<div><dt><kbd>Enter</kbd></dt><dd>Open the selected complaint</dd></div>\n\
<div><dt><kbd>a</kbd></dt><dd>Assign the complaint to me</dd></div>\n\
<div><dt><kbd>r</kbd></dt><dd>Reply to the shopper</dd></div>\n\
<div><dt><kbd>e</kbd></dt><dd>Mark the complaint resolved</dd></div>\n\
<div><dt><kbd>x</kbd></dt><dd>Select or unselect the complaint for a bulk action</dd></div>\n\
<div><dt><kbd>/</kbd></dt><dd>Search</dd></div>\n\
<div><dt><kbd>?</kbd></dt><dd>Show this help</dd></div>\n\
</dl>\n\
<form method=\"dialog\"><button type=\"submit\">Close</button></form>\n\
</dialog>\n";

/// A private inbox page: never cached or indexed, and locked down by CSP.
pub fn respond(status: StatusCode, html: String) -> Response {
    // `same-origin`, not `no-referrer`: with no referrer at all, Chromium
    // sends `Origin: null` on the sign-in form, which the same-origin check
    // must refuse. Other sites still learn nothing (no search terms leak).
    private_html(status, html, "same-origin", INBOX_POLICY)
}

/// `23 Nov 2026, 05:12 UTC` inside a `<time>` element.
pub fn time(millis: i64) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        clock::rfc3339(millis),
        escape(&clock::human(millis))
    )
}

/// How far `at` lies from `now`, for people: "3 h", "2 d", "12 min".
pub fn span(at: i64, now: i64) -> String {
    let minutes = (at - now).abs() / 60_000;
    if minutes < 60 {
        format!("{minutes} min")
    } else if minutes < 48 * 60 {
        format!("{} h", minutes / 60)
    } else {
        format!("{} d", minutes / (24 * 60))
    }
}

/// `in_progress` → `in progress`: wire values as words.
pub fn words(value: &str) -> String {
    value.replace('_', " ")
}

/// A page saying there is nothing here: the same for a made-up reference
/// and another merchant's.
pub fn not_found(staff: &Staff) -> Response {
    let main = "<h1>Not found</h1>\n<p>There is no complaint at this address in your inbox.</p>\n\
                <p><a href=\"/inbox\">Back to the inbox</a></p>\n";
    respond(
        StatusCode::NOT_FOUND,
        render(&Page {
            title: "Not found",
            kind: "error",
            main,
            staff: Some(staff),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        let hour = 3_600_000;
        assert_eq!(span(0, 5 * 60_000), "5 min");
        assert_eq!(span(3 * hour, 0), "3 h");
        assert_eq!(span(0, 72 * hour), "3 d");
    }
}
