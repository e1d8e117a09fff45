//! `GET /inbox`: the list, in the API's priority order, with its filters as
//! a GET form (so a view is a shareable URL), search, the counts of open,
//! overdue and due complaints, and a keyset "next page" link.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use heard_shared::{FieldError, Mood, Outcome, Severity, Status};
use serde::Deserialize;

use super::PageStaff;
use super::layout::{Page, render, respond, span, time, words};
use crate::domain::inbox::{self, InboxError, ListRequest};
use crate::domain::inbox_work::MAX_BULK;
use crate::domain::spam;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::html::escape;
use crate::http::staff::Staff;
use crate::store::{
    DUE_SOON_MS, InboxCounts, InboxRow, MerchantSite, Role, SavedView, SpamReason, User,
};

const DAY: i64 = 24 * 60 * 60 * 1000;

/// The values a category's "value orientation" can take (see `shared`).
pub const VALUE_ORIENTATIONS: [&str; 8] = [
    "speed",
    "courtesy",
    "value_for_money",
    "reliability",
    "flexibility",
    "personal_care",
    "convenience",
    "safety",
];

/// The list's query string, as the filter form sends it. Dates are
/// `YYYY-MM-DD` (UTC days; `to` is inclusive).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub site: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub mood: String,
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub assignee: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub cursor: String,
    /// `spam` for the spam folder.
    #[serde(default)]
    pub folder: String,
}

impl Filters {
    /// The filter fields as `(name, value)`, without the cursor.
    fn fields(&self) -> [(&'static str, &str); 14] {
        [
            ("folder", &self.folder),
            ("status", &self.status),
            ("site", &self.site),
            ("category", &self.category),
            ("value", &self.value),
            ("severity", &self.severity),
            ("mood", &self.mood),
            ("outcome", &self.outcome),
            ("language", &self.language),
            ("assignee", &self.assignee),
            ("tag", &self.tag),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ]
    }

    /// The non-empty filters as a query string (`a=b&c=d`), without the cursor.
    pub fn query_string(&self) -> String {
        self.fields()
            .iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(name, value)| format!("{name}={}", super::percent_encode(value.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn is_filtered(&self) -> bool {
        self.fields()
            .iter()
            .any(|(name, value)| *name != "folder" && !value.trim().is_empty())
    }

    /// The domain's list request; date errors are collected in `errors`.
    pub fn request(&self, limit: Option<usize>, errors: &mut Vec<FieldError>) -> ListRequest {
        let text = |value: &str| Some(value.trim().to_owned()).filter(|value| !value.is_empty());
        ListRequest {
            status: text(&self.status),
            site: text(&self.site),
            category: text(&self.category),
            value: text(&self.value),
            severity: text(&self.severity),
            mood: text(&self.mood),
            outcome: text(&self.outcome),
            language: text(&self.language),
            assignee: text(&self.assignee),
            tag: text(&self.tag),
            from: day_start("from", &self.from, errors),
            to: day_start("to", &self.to, errors).map(|start| start + DAY),
            q: text(&self.q),
            cursor: text(&self.cursor),
            limit,
            folder: text(&self.folder),
        }
    }
}

/// The query string as [`Filters`]; a malformed one is a field error.
pub fn filters(query: Result<Query<Filters>, QueryRejection>) -> Result<Filters, Vec<FieldError>> {
    query
        .map(|Query(filters)| filters)
        .map_err(|rejection| vec![FieldError::new("query", "invalid", rejection.body_text())])
}

pub async fn page(
    State(state): State<AppState>,
    PageStaff(staff): PageStaff,
    query: Result<Query<Filters>, QueryRejection>,
) -> Result<Response, AppError> {
    let now = state.clock.now_millis();
    let merchant = staff.merchant_id();
    let sites = state.store.merchant_sites(merchant).await?;
    let people = state.store.users(merchant).await?;
    let counts = state.store.inbox_counts(merchant, now).await?;
    let spam = state.store.spam_count(merchant).await?;
    let views = state.store.saved_views(merchant, staff.user_id()).await?;
    let (filters, answer) = match filters(query) {
        Ok(filters) => {
            let mut errors = Vec::new();
            let request = filters.request(None, &mut errors);
            let answer = if errors.is_empty() {
                inbox::list(&state.store, merchant, staff.user_id(), request, now).await
            } else {
                Err(InboxError::Invalid(errors))
            };
            (filters, answer)
        }
        Err(errors) => (Filters::default(), Err(InboxError::Invalid(errors))),
    };
    let (status, rows, next, problems) = match answer {
        Ok(answer) => (StatusCode::OK, answer.page.rows, answer.next_cursor, None),
        Err(InboxError::Invalid(fields)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Vec::new(),
            None,
            Some(fields),
        ),
        Err(other) => return Err(other.into()),
    };
    let view = ListView {
        staff: &staff,
        filters: &filters,
        sites: &sites,
        people: &people,
        counts,
        spam,
        views: &views,
        rows: &rows,
        next: next.as_deref(),
        problems: problems.as_deref(),
        now,
    };
    let main = view.render();
    Ok(respond(
        status,
        render(&Page {
            title: "Inbox",
            kind: "list",
            main: &main,
            staff: Some(&staff),
        }),
    ))
}

struct ListView<'a> {
    staff: &'a Staff,
    filters: &'a Filters,
    sites: &'a [MerchantSite],
    people: &'a [User],
    counts: InboxCounts,
    /// How many complaints wait in the spam folder.
    spam: i64,
    views: &'a [SavedView],
    rows: &'a [InboxRow],
    next: Option<&'a str>,
    problems: Option<&'a [FieldError]>,
    now: i64,
}

impl ListView<'_> {
    fn render(&self) -> String {
        let mut html = String::with_capacity(16 * 1024);
        html.push_str(if self.spam_folder() {
            "<h1>Spam</h1>\n"
        } else {
            "<h1>Inbox</h1>\n"
        });
        html.push_str(&self.folders());
        html.push_str(&counts(&self.counts));
        html.push_str(&super::work::views_panel(
            self.staff,
            self.views,
            &self.filters.query_string(),
        ));
        html.push_str(&self.filter_form());
        if let Some(problems) = self.problems {
            html.push_str(
                "<div class=\"alert\" role=\"alert\"><p>These filters cannot be used:</p><ul>",
            );
            for problem in problems {
                let _ = write!(
                    html,
                    "<li><strong>{}</strong>: {}</li>",
                    escape(&problem.field),
                    escape(&problem.message)
                );
            }
            html.push_str("</ul></div>\n");
        }
        // Filled by the script when complaints arrive while the page is open.
        html.push_str(
            "<div class=\"live-news\" id=\"live-news\" hidden>\
             <p><span id=\"live-count\"></span> \
             <button type=\"button\" data-action=\"show-new\">Show them</button></p></div>\n",
        );
        if self.can_act() {
            html.push_str(&self.bulk_bar());
        }
        html.push_str(&self.table());
        let query = self.filters.query_string();
        let joiner = if query.is_empty() { "" } else { "&" };
        html.push_str("<nav class=\"pages\" aria-label=\"More complaints\">");
        if !self.filters.cursor.is_empty() {
            let _ = write!(
                html,
                "<a href=\"/inbox{}{}\">First page</a> ",
                if query.is_empty() { "" } else { "?" },
                escape(&query)
            );
        }
        if let Some(next) = self.next {
            let _ = write!(
                html,
                "<a rel=\"next\" href=\"/inbox?{}{joiner}cursor={}\">Next page</a>",
                escape(&query),
                super::percent_encode(next)
            );
        }
        html.push_str("</nav>\n");
        let _ = writeln!(
            html,
            "<p class=\"export\">Export every complaint of this view (up to {limit}): \
             <a href=\"/api/v1/inbox/export.csv{query}\" download>CSV</a> · \
             <a href=\"/api/v1/inbox/export.json{query}\" download>JSON</a></p>",
            limit = super::export::MAX_EXPORT_ROWS,
            query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", escape(&query))
            },
        );
        html
    }

    fn filter_form(&self) -> String {
        let filters = self.filters;
        let mut html = String::with_capacity(8 * 1024);
        html.push_str(
            "<form class=\"filters\" method=\"get\" action=\"/inbox\" role=\"search\" \
             aria-label=\"Search and filter\">\n<div class=\"search\">\
             <label for=\"q\">Search complaints, replies and notes</label>",
        );
        if self.spam_folder() {
            // Searching and filtering stay in the spam folder.
            html.push_str("<input type=\"hidden\" name=\"folder\" value=\"spam\">");
        }
        let _ = writeln!(
            html,
            "<input id=\"q\" name=\"q\" type=\"search\" value=\"{}\" maxlength=\"{}\" \
             aria-keyshortcuts=\"/\"><button type=\"submit\">Search</button></div>",
            escape(&filters.q),
            inbox::MAX_QUERY_CHARS,
        );
        let open = if filters.is_filtered() && !only_searching(filters) {
            " open"
        } else {
            ""
        };
        let _ = write!(
            html,
            "<details class=\"more\"{open}><summary>Filters</summary>\n<div class=\"grid\">\n"
        );

        let mut statuses = vec![("open".to_owned(), "Open (not finished)".to_owned())];
        statuses.extend(
            Status::ALL
                .iter()
                .map(|status| (status.as_str().to_owned(), capitalised(status.as_str()))),
        );
        html.push_str(&select(
            "status",
            "Status",
            &filters.status,
            "Any status",
            &statuses,
        ));

        let sites: Vec<(String, String)> = self
            .sites
            .iter()
            .map(|site| (site.key.clone(), site.name.clone()))
            .collect();
        html.push_str(&select("site", "Site", &filters.site, "Every site", &sites));

        let mut categories: BTreeMap<String, String> = BTreeMap::new();
        for site in self.sites {
            for (id, label) in &site.categories {
                categories
                    .entry(id.clone())
                    .or_insert_with(|| label.clone());
            }
        }
        let categories: Vec<(String, String)> = categories.into_iter().collect();
        html.push_str(&select(
            "category",
            "Category",
            &filters.category,
            "Any category",
            &categories,
        ));
        html.push_str(&select(
            "value",
            "What they value",
            &filters.value,
            "Anything",
            &options(&VALUE_ORIENTATIONS),
        ));
        let severities: Vec<&str> = Severity::ALL.iter().map(|value| value.as_str()).collect();
        html.push_str(&select(
            "severity",
            "Severity",
            &filters.severity,
            "Any severity",
            &options(&severities),
        ));
        let moods: Vec<&str> = Mood::ALL.iter().map(|value| value.as_str()).collect();
        html.push_str(&select(
            "mood",
            "Mood",
            &filters.mood,
            "Any mood",
            &options(&moods),
        ));
        let outcomes: Vec<&str> = Outcome::ALL.iter().map(|value| value.as_str()).collect();
        html.push_str(&select(
            "outcome",
            "Wants",
            &filters.outcome,
            "Anything",
            &options(&outcomes),
        ));
        let mut assignees = vec![
            ("me".to_owned(), "Me".to_owned()),
            ("none".to_owned(), "Nobody (unassigned)".to_owned()),
        ];
        assignees.extend(
            self.people
                .iter()
                .filter(|person| person.id != self.staff.user_id())
                .map(|person| (person.id.to_string(), person.display_name.clone())),
        );
        html.push_str(&select(
            "assignee",
            "Assigned to",
            &filters.assignee,
            "Anyone or nobody",
            &assignees,
        ));
        html.push_str(&input(
            "language",
            "Language (e.g. en, zh)",
            "text",
            &filters.language,
        ));
        html.push_str(&input("tag", "Tag", "text", &filters.tag));
        html.push_str(&input("from", "Received from", "date", &filters.from));
        html.push_str(&input("to", "Received until", "date", &filters.to));
        html.push_str(
            "</div>\n<p class=\"form-actions\"><button type=\"submit\">Apply filters</button> \
             <a href=\"/inbox\">Clear all</a></p>\n</details>\n</form>\n",
        );
        html
    }

    /// Agents and owners act on complaints; viewers only read. In the spam
    /// folder a complaint is restored one at a time, from its page.
    fn can_act(&self) -> bool {
        self.staff.role().includes(Role::Agent) && !self.spam_folder()
    }

    fn spam_folder(&self) -> bool {
        self.filters.folder.trim() == "spam"
    }

    /// The inbox and the spam folder (issue 9), the current one marked.
    fn folders(&self) -> String {
        let current = |here: bool| if here { " aria-current=\"page\"" } else { "" };
        format!(
            "<nav class=\"folders\" aria-label=\"Folders\"><ul>\
             <li><a href=\"/inbox\"{inbox}>Inbox</a></li>\
             <li><a href=\"/inbox?folder=spam\" id=\"spam-folder\"{spam_current}>Spam ({spam})</a></li>\
             </ul></nav>\n",
            inbox = current(!self.spam_folder()),
            spam_current = current(self.spam_folder()),
            spam = self.spam,
        )
    }

    /// The bar that acts on the complaints ticked in the list (`x` ticks
    /// the selected row). A page holds at most as many rows as one bulk
    /// action may change, so "select all" never exceeds it.
    fn bulk_bar(&self) -> String {
        let mut html = String::with_capacity(2048);
        let _ = write!(
            html,
            "<form class=\"bulk\" id=\"bulk\" data-action=\"bulk\" \
             aria-label=\"Act on the selected complaints\" data-max=\"{MAX_BULK}\">\n\
             <p class=\"picked\"><label><input type=\"checkbox\" id=\"pick-all\"> All on this page</label> \
             <span id=\"bulk-count\" aria-live=\"polite\">No complaint selected.</span></p>\n\
             <div class=\"bulk-actions\">\
             <label for=\"bulk-assignee\">Assign to</label> <select id=\"bulk-assignee\" name=\"user_id\">\
             <option value=\"{me}\">Me</option><option value=\"\">Nobody</option>",
            me = self.staff.user_id(),
        );
        for person in self.people {
            if person.id != self.staff.user_id() && !person.disabled {
                let _ = write!(
                    html,
                    "<option value=\"{}\">{}</option>",
                    person.id,
                    escape(&person.display_name)
                );
            }
        }
        html.push_str(
            "</select> <button type=\"submit\" name=\"action\" value=\"assign\">Assign</button>\n\
             <label for=\"bulk-status\">Status</label> <select id=\"bulk-status\" name=\"status\">",
        );
        for status in Status::ALL
            .iter()
            .filter(|status| **status != Status::Received)
        {
            let _ = write!(
                html,
                "<option value=\"{}\">{}</option>",
                status.as_str(),
                escape(&capitalised(status.as_str()))
            );
        }
        let _ = write!(
            html,
            "</select> <button type=\"submit\" name=\"action\" value=\"set_status\">Set status</button>\n\
             <label for=\"bulk-tag\">Tag</label> <input id=\"bulk-tag\" name=\"tag\" type=\"text\" maxlength=\"{}\"> \
             <button type=\"submit\" name=\"action\" value=\"add_tag\">Add tag</button></div>\n</form>\n",
            inbox::MAX_TAG_CHARS
        );
        html
    }

    fn table(&self) -> String {
        let mut html = String::with_capacity(self.rows.len() * 1024 + 512);
        let _ = write!(
            html,
            "<table class=\"complaints\" id=\"complaints\">\n\
             <caption>{caption}</caption>\n<thead><tr>{pick}\
             <th scope=\"col\">Complaint</th><th scope=\"col\">Wants</th>\
             <th scope=\"col\">Status</th><th scope=\"col\">Received</th>\
             <th scope=\"col\">Due</th></tr></thead>\n<tbody id=\"rows\">\n",
            pick = if self.can_act() {
                "<th scope=\"col\" class=\"pick\"><span class=\"visually-hidden\">Selected</span></th>"
            } else {
                ""
            },
            caption = if self.spam_folder() {
                "Suspected spam, newest first"
            } else {
                "Complaints, most urgent first"
            },
        );
        if self.rows.is_empty() {
            let _ = writeln!(
                html,
                "<tr class=\"empty\"><td colspan=\"{}\">No complaints match this view.</td></tr>",
                if self.can_act() { 6 } else { 5 }
            );
        }
        for row in self.rows {
            html.push_str(&self.row(row));
        }
        html.push_str("</tbody>\n</table>\n");
        html
    }

    fn row(&self, row: &InboxRow) -> String {
        let mut classes = vec!["row"];
        if row.urgent {
            classes.push("urgent");
        }
        if row.overdue {
            classes.push("overdue");
        }
        let mut html = String::with_capacity(1024);
        let _ = writeln!(
            html,
            "<tr class=\"{}\" data-reference=\"{reference}\">",
            classes.join(" "),
            reference = escape(&row.reference),
        );
        if self.can_act() {
            let _ = write!(
                html,
                "<td class=\"pick\"><input type=\"checkbox\" class=\"pick\" \
                 value=\"{reference}\" aria-label=\"Select {reference}\"></td>",
                reference = escape(&row.reference),
            );
        }
        let _ = write!(
            html,
            "<td class=\"what\"><a class=\"open\" href=\"/inbox/c/{reference}\">{reference}</a>",
            reference = escape(&row.reference),
        );
        if row.urgent {
            html.push_str(" <span class=\"badge safety\">Safety</span>");
        }
        if let Some(reason) = row.spam.as_deref() {
            let words = SpamReason::parse(reason).map_or_else(|| reason.to_owned(), spam::describe);
            let _ = write!(
                html,
                " <span class=\"badge spam\">Suspected spam: {}</span>",
                escape(&words)
            );
        }
        if row.kind.as_str() != "complaint" {
            let _ = write!(
                html,
                " <span class=\"badge kind\">{}</span>",
                escape(&capitalised(row.kind.as_str()))
            );
        }
        let _ = write!(
            html,
            "<div class=\"label\">{label} · <span class=\"site\">{site}</span> · \
             {language}</div><p class=\"excerpt\" dir=\"auto\" lang=\"{language}\">{excerpt}</p>",
            label = escape(&row.category_label),
            site = escape(&row.site_name),
            language = escape(&row.language),
            excerpt = escape(&row.excerpt),
        );
        if !row.tags.is_empty() {
            html.push_str("<ul class=\"tags\" aria-label=\"Tags\">");
            for tag in &row.tags {
                let _ = write!(html, "<li>{}</li>", escape(tag));
            }
            html.push_str("</ul>");
        }
        html.push_str("</td>\n<td class=\"wants\">");
        let outcomes: Vec<String> = row
            .outcomes
            .iter()
            .map(|outcome| capitalised(outcome.as_str()))
            .collect();
        let _ = write!(html, "{}<div class=\"feel\">", escape(&outcomes.join(", ")));
        if let Some(severity) = row.severity {
            let _ = write!(
                html,
                "<span class=\"severity {0}\">{1}</span> ",
                severity.as_str(),
                escape(&capitalised(severity.as_str()))
            );
        }
        if let Some(mood) = row.mood {
            let _ = write!(
                html,
                "<span class=\"mood {0}\">{1}</span>",
                mood.as_str(),
                escape(&capitalised(mood.as_str()))
            );
        }
        html.push_str("</div></td>\n");
        let assignee = match row.assignee_user_id {
            None => "Unassigned".to_owned(),
            Some(id) if id == self.staff.user_id() => "Me".to_owned(),
            Some(id) => self
                .people
                .iter()
                .find(|person| person.id == id)
                .map_or_else(
                    || format!("Staff #{id}"),
                    |person| person.display_name.clone(),
                ),
        };
        let _ = write!(
            html,
            "<td class=\"status\"><span class=\"status-{status}\">{status_words}</span>\
             <div class=\"assignee\">{assignee}</div></td>\n<td>{received}</td>\n<td>{due}</td>\n</tr>\n",
            status = row.status.as_str(),
            status_words = escape(&capitalised(row.status.as_str())),
            assignee = escape(&assignee),
            received = time(row.created_at),
            due = due_badge(row, self.now),
        );
        html
    }
}

/// "Overdue", "Due in 3 h", or nothing once finished.
fn due_badge(row: &InboxRow, now: i64) -> String {
    if matches!(row.status, Status::Resolved | Status::Closed) {
        return "<span class=\"muted\">Finished</span>".to_owned();
    }
    if row.overdue {
        return "<span class=\"badge overdue\">Overdue</span>".to_owned();
    }
    let due = match (row.first_response_at, row.first_response_due_at) {
        (None, Some(due)) => Some(("Answer", due)),
        _ => row.resolution_due_at.map(|due| ("Resolve", due)),
    };
    match due {
        Some((what, due)) => {
            let soon = if due - now <= DUE_SOON_MS {
                " soon"
            } else {
                ""
            };
            format!(
                "<span class=\"badge due{soon}\">{what} within {}</span>",
                span(due, now)
            )
        }
        None => String::new(),
    }
}

fn counts(counts: &InboxCounts) -> String {
    format!(
        "<section class=\"counts\" aria-labelledby=\"counts-title\" id=\"counts\">\
         <h2 id=\"counts-title\" class=\"visually-hidden\">Open complaints at a glance</h2><ul>\
         <li><a href=\"/inbox?status=open\"><strong>{open}</strong> open</a></li>\
         <li class=\"{urgent_class}\"><strong>{urgent}</strong> safety</li>\
         <li class=\"{overdue_class}\"><strong>{overdue}</strong> overdue</li>\
         <li><strong>{due_soon}</strong> due soon</li>\
         <li><a href=\"/inbox?status=open&amp;assignee=none\"><strong>{unassigned}</strong> unassigned</a></li>\
         </ul></section>\n",
        open = counts.open,
        urgent = counts.urgent,
        overdue = counts.overdue,
        due_soon = counts.due_soon,
        unassigned = counts.unassigned,
        urgent_class = if counts.urgent > 0 { "alarm" } else { "" },
        overdue_class = if counts.overdue > 0 { "alarm" } else { "" },
    )
}

fn only_searching(filters: &Filters) -> bool {
    filters
        .fields()
        .iter()
        .all(|(name, value)| matches!(*name, "q" | "folder") || value.trim().is_empty())
}

fn options(values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|value| ((*value).to_owned(), capitalised(value)))
        .collect()
}

/// `value_for_money` → `Value for money`.
pub fn capitalised(value: &str) -> String {
    let words = words(value);
    let mut characters = words.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => words,
    }
}

fn select(
    name: &str,
    label: &str,
    current: &str,
    any: &str,
    choices: &[(String, String)],
) -> String {
    let mut html = format!(
        "<div class=\"field\"><label for=\"f-{name}\">{label}</label>\
         <select id=\"f-{name}\" name=\"{name}\"><option value=\"\">{any}</option>"
    );
    for (value, text) in choices {
        let selected = if value == current { " selected" } else { "" };
        let _ = write!(
            html,
            "<option value=\"{}\"{selected}>{}</option>",
            escape(value),
            escape(text)
        );
    }
    html.push_str("</select></div>\n");
    html
}

fn input(name: &str, label: &str, kind: &str, current: &str) -> String {
    format!(
        "<div class=\"field\"><label for=\"f-{name}\">{label}</label>\
         <input id=\"f-{name}\" name=\"{name}\" type=\"{kind}\" value=\"{}\"></div>\n",
        escape(current)
    )
}

/// Midnight UTC of a `YYYY-MM-DD` day, in ms since the epoch.
fn day_start(field: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match parse_day(text) {
        Some(days) => Some(days * DAY),
        None => {
            errors.push(FieldError::new(
                field,
                "invalid",
                format!("{field} must be a date like 2026-11-23."),
            ));
            None
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian `YYYY-MM-DD`.
fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm), shifted so March starts the year.
    let shifted = if month <= 2 { year - 1 } else { year };
    let era = shifted.div_euclid(400);
    let year_of_era = shifted - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_counted_from_the_epoch() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2000-03-01"), Some(11_017));
        assert_eq!(parse_day("2026-11-23"), Some(20_780));
        assert_eq!(parse_day("2024-02-29"), Some(19_782));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-1",
            "yesterday",
            "1969-12-31",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_query_string_keeps_only_what_is_set() {
        let filters = Filters {
            status: "open".to_owned(),
            q: "豆浆 & co".to_owned(),
            cursor: "abc".to_owned(),
            ..Filters::default()
        };
        assert_eq!(
            filters.query_string(),
            "status=open&q=%E8%B1%86%E6%B5%86%20%26%20co"
        );
    }
}
