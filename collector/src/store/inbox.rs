//! The staff inbox: listing, one complaint with its timeline, and the actions
//! staff take. Every function takes the merchant id and filters by it in SQL,
//! so another merchant's complaint is simply not found.
//!
//! Every action writes its `complaint_events` row and its `audit_log` entry in
//! the same writer job as the change itself.

use std::collections::BTreeMap;

use heard_shared::{Mood, Outcome, Severity, Status, SubmissionKind};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde::Serialize;

use super::StoreError;
use super::audit::{self, AuditNote};
use super::followup::{self, Survey};
use super::sites::{from_json, parse_enum};

const HOUR: i64 = 60 * 60 * 1000;

/// What the inbox list may be narrowed to. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboxFilter {
    /// Any of these statuses; empty means every status.
    pub statuses: Vec<Status>,
    pub site_key: Option<String>,
    pub category: Option<String>,
    pub value_orientation: Option<String>,
    pub severity: Option<Severity>,
    pub mood: Option<Mood>,
    pub outcome: Option<Outcome>,
    pub language: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    pub tag: Option<String>,
    /// Received at or after (ms since the epoch).
    pub created_from: Option<i64>,
    /// Received before (ms since the epoch).
    pub created_before: Option<i64>,
    /// Every term must occur in the complaint's text, a reply or a note.
    pub terms: Vec<String>,
    /// The spam folder instead of the inbox: only suspected spam, newest
    /// first. Otherwise suspected spam is left out of every list.
    pub spam_folder: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Nobody,
    User(i64),
}

/// A place in the inbox order: the keyset a page continues after. `as_of`
/// is the moment the first page was computed at; later pages use it too, so
/// the waiting-time part of the priority does not shift between pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxPosition {
    pub as_of: i64,
    pub score: i64,
    pub created_at: i64,
    pub id: i64,
}

/// One line of the inbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxRow {
    pub reference: String,
    pub site_key: String,
    pub site_name: String,
    pub kind: SubmissionKind,
    pub status: Status,
    pub urgent: bool,
    pub outcomes: Vec<Outcome>,
    pub severity: Option<Severity>,
    pub mood: Option<Mood>,
    pub value_orientation: Option<String>,
    pub category: String,
    pub category_label: String,
    pub language: String,
    /// The start of the description.
    pub excerpt: String,
    pub assignee_user_id: Option<i64>,
    pub tags: Vec<String>,
    /// The computed priority the list is ordered by (higher first).
    pub priority: i64,
    pub overdue: bool,
    pub created_at: i64,
    pub first_response_at: Option<i64>,
    pub first_response_due_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    /// Why it is suspected spam (`honeypot`, `too_fast`, `staff`); only in
    /// the spam folder.
    pub spam: Option<String>,
    #[serde(skip)]
    pub id: i64,
}

/// A page of the inbox and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxPage {
    pub rows: Vec<InboxRow>,
    pub next: Option<InboxPosition>,
}

/// One complaint as staff see it: what the shopper wants first, then the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplaintDetail {
    pub reference: String,
    pub status: Status,
    pub urgent: bool,
    pub outcomes: Vec<Outcome>,
    pub severity: Option<Severity>,
    pub mood: Option<Mood>,
    pub value_orientation: Option<String>,
    pub remedy: Option<String>,
    pub kind: SubmissionKind,
    pub category: String,
    pub category_label: String,
    pub description: String,
    pub answers: BTreeMap<String, String>,
    pub language: String,
    pub site_key: String,
    pub site_name: String,
    pub page_url: Option<String>,
    pub user_agent: Option<String>,
    pub callback_window: Option<String>,
    pub attachments: Vec<AttachmentMeta>,
    /// Present only when the shopper gave contact details (with consent).
    pub contact: Option<Contact>,
    /// The identity the merchant's page passed in, and whether its signature held.
    pub identity: Option<serde_json::Value>,
    pub identity_verified: bool,
    pub assignee: Option<Assignee>,
    pub tags: Vec<String>,
    pub priority: i64,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub first_response_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub first_response_due_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    /// Everything that happened, oldest first.
    pub timeline: Vec<TimelineEvent>,
    /// The shopper's answer to the satisfaction survey, once given.
    pub survey: Option<Survey>,
    /// Why it waits in the spam folder (`honeypot`, `too_fast`, `staff`);
    /// `None` once restored, and for everything else.
    pub spam: Option<String>,
    #[serde(skip)]
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachmentMeta {
    pub id: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub bytes: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignee {
    pub user_id: i64,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    /// Whether the shopper sees it.
    pub public: bool,
    /// `None` for the shopper or the system.
    pub actor_user_id: Option<i64>,
    pub actor_name: Option<String>,
    pub body: Option<String>,
    pub data: serde_json::Value,
}

/// A change staff make to a complaint. Inputs are already validated by the
/// domain; the store checks what depends on the stored state.
#[derive(Debug, Clone, PartialEq)]
pub enum InboxAction {
    Acknowledge,
    /// Assign to a staff member of the same merchant, or unassign.
    Assign(Option<i64>),
    /// Move to `to`, allowed only from one of `allowed_from`.
    SetStatus {
        to: Status,
        allowed_from: Vec<Status>,
    },
    Tags {
        add: Vec<String>,
        remove: Vec<String>,
        max: usize,
    },
    Note(String),
    Reply(String),
}

/// The result of an action.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    Done(Box<ComplaintDetail>),
    /// No complaint with this reference in this merchant.
    NotFound,
    /// Refused because of the complaint's state; nothing was written.
    Refused(Refusal),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The status cannot go from `from` to `to` (acknowledging is `to` acknowledged).
    Transition {
        from: Status,
        to: Status,
    },
    /// No enabled staff member of this merchant has that id.
    UnknownAssignee,
    TooManyTags {
        max: usize,
    },
}

/// The merchant's complaints matching `filter`, in priority order, after
/// `after` when given.
pub(super) fn list(
    connection: &Connection,
    merchant_id: i64,
    filter: &InboxFilter,
    as_of: i64,
    after: Option<InboxPosition>,
    limit: usize,
) -> Result<InboxPage, StoreError> {
    // A search for common terms first walks the list checking complaint by
    // complaint (`store/search.rs`); when that walk is not enough to be
    // sure of the page, the page is found from the terms' matches instead.
    if !filter.spam_folder
        && super::search::common_terms(connection, &filter.terms)?
        && let Some(page) = list_with(connection, merchant_id, filter, as_of, after, limit, true)?
    {
        return Ok(page);
    }
    list_with(connection, merchant_id, filter, as_of, after, limit, false)?
        .ok_or_else(|| StoreError::Task("the inbox list gave up without walking".to_owned()))
}

/// The list; with `walk`, every search term is checked complaint by
/// complaint as each part is walked in order, and `None` says the walk
/// ended before the page was certain.
pub(super) fn list_with(
    connection: &Connection,
    merchant_id: i64,
    filter: &InboxFilter,
    as_of: i64,
    after: Option<InboxPosition>,
    limit: usize,
    walk: bool,
) -> Result<Option<InboxPage>, StoreError> {
    let mut sql = SqlBuilder::default();
    let as_of_p = sql.bind(Value::Integer(as_of));
    let merchant_p = sql.bind(Value::Integer(merchant_id));
    let mut conditions = vec![format!("c.merchant_id = {merchant_p}")];
    // Suspected spam stays out of the inbox until restored; the spam
    // folder is the one place it shows (issue 9). Kept apart from the
    // search clause below.
    conditions.push(if filter.spam_folder {
        "c.spam IS NOT NULL".to_owned()
    } else {
        "c.spam IS NULL".to_owned()
    });
    if !filter.statuses.is_empty() {
        let list: Vec<String> = filter
            .statuses
            .iter()
            .map(|status| sql.bind(Value::Text(status.as_str().to_owned())))
            .collect();
        conditions.push(format!("c.status IN ({})", list.join(", ")));
    }
    let mut equal = |column: &str, value: Option<String>| {
        if let Some(value) = value {
            let parameter = sql.bind(Value::Text(value));
            conditions.push(format!("{column} = {parameter}"));
        }
    };
    equal("s.site_key", filter.site_key.clone());
    equal("c.category", filter.category.clone());
    equal("c.value_orientation", filter.value_orientation.clone());
    equal("c.severity", filter.severity.map(|v| v.as_str().to_owned()));
    equal("c.mood", filter.mood.map(|v| v.as_str().to_owned()));
    equal("c.language", filter.language.clone());
    if let Some(outcome) = filter.outcome {
        let parameter = sql.bind(Value::Text(outcome.as_str().to_owned()));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM json_each(c.outcomes) WHERE json_each.value = {parameter})"
        ));
    }
    match filter.assignee {
        Some(AssigneeFilter::Nobody) => conditions.push("c.assignee_user_id IS NULL".to_owned()),
        Some(AssigneeFilter::User(user_id)) => {
            let parameter = sql.bind(Value::Integer(user_id));
            conditions.push(format!("c.assignee_user_id = {parameter}"));
        }
        None => {}
    }
    if let Some(tag) = &filter.tag {
        let parameter = sql.bind(Value::Text(tag.clone()));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM complaint_tags t WHERE t.complaint_id = c.id AND t.tag = {parameter})"
        ));
    }
    if let Some(from) = filter.created_from {
        let parameter = sql.bind(Value::Integer(from));
        conditions.push(format!("c.created_at >= {parameter}"));
    }
    if let Some(before) = filter.created_before {
        let parameter = sql.bind(Value::Integer(before));
        conditions.push(format!("c.created_at < {parameter}"));
    }
    if !filter.terms.is_empty() {
        // The index lives in its own file (`store/search.rs`).
        super::search::attach(connection)?;
    }
    // Terms checked complaint by complaint while walking (`walk`): the
    // parameters of their phrases.
    let mut walked_terms = Vec::new();
    for term in &filter.terms {
        // The trigram index needs three characters; shorter terms (common in
        // Chinese and Japanese: 坏了, 遅い) are looked up in the grams index,
        // and any other short term scans the same rows with LIKE.
        if walk {
            walked_terms.push(sql.bind(Value::Text(super::search::phrase(term))));
        } else if term.chars().count() >= 3 {
            let parameter = sql.bind(Value::Text(super::search::phrase(term)));
            conditions.push(format!(
                "c.id IN (SELECT rowid >> {shift} FROM search.search_text WHERE search_text MATCH {parameter})",
                shift = super::search::DOC_SHIFT
            ));
        } else if super::search::is_short_cjk(term) {
            // One or two Chinese, Japanese or Korean letters: one token of
            // the grams index (`store/search.rs`).
            let parameter = sql.bind(Value::Text(super::search::phrase(term)));
            conditions.push(format!(
                "c.id IN (SELECT rowid >> {shift} FROM search.search_grams WHERE search_grams MATCH {parameter})",
                shift = super::search::DOC_SHIFT
            ));
        } else {
            let parameter = sql.bind(Value::Text(format!("%{}%", escape_like(term))));
            conditions.push(format!(
                "c.id IN (SELECT rowid >> {shift} FROM search.search_text WHERE body LIKE {parameter} ESCAPE '\\')",
                shift = super::search::DOC_SHIFT
            ));
        }
    }
    // The order is computed in two parts, so a page reads a few thousand
    // index entries rather than every complaint of the merchant (issue 8):
    // finished complaints all score -1 and follow in `created_at` order
    // (one index range, read newest first and stopped after one page);
    // open ones score at least 0, computed from the covering partial index
    // `complaints_open_order` alone. Only the page's rows are then read in
    // full.
    let wants = |finished: bool| {
        filter.statuses.is_empty()
            || filter
                .statuses
                .iter()
                .any(|status| matches!(status, Status::Resolved | Status::Closed) == finished)
    };
    let limit_p = sql.bind(Value::Integer(limit as i64 + 1));
    let conditions = conditions.join(" AND ");
    let mut parts = Vec::new();
    // With `walk`: each walked part's candidates (open or not), to tell
    // afterwards whether the walk saw all of them.
    let mut walked_parts: Vec<(bool, String)> = Vec::new();
    const WALK: i64 = super::search::WALK_CANDIDATES;
    let keyset = match after {
        Some(position) => {
            let score = sql.bind(Value::Integer(position.score));
            let created_at = sql.bind(Value::Integer(position.created_at));
            let id = sql.bind(Value::Integer(position.id));
            format!("WHERE (score, created_at, id) < ({score}, {created_at}, {id})")
        }
        None => String::new(),
    };
    // Past the last open complaint, the open part is not read at all.
    // Always the partial index, even when another index matches more of
    // the filter: the open complaints are the few, and SQLite (with no
    // statistics) would otherwise guess, e.g. every unassigned complaint.
    if filter.spam_folder {
        // The spam folder is newest first: every row scores -1 and the
        // page is one range of `complaints_spam_folder`.
        let continues = match after {
            Some(position) => {
                let created_at = sql.bind(Value::Integer(position.created_at));
                let id = sql.bind(Value::Integer(position.id));
                format!("AND (c.created_at, c.id) < ({created_at}, {id})")
            }
            None => String::new(),
        };
        parts.push(format!(
            "SELECT * FROM (
                SELECT c.id, c.created_at, -1 AS score
                FROM complaints c INDEXED BY complaints_spam_folder JOIN sites s ON s.id = c.site_id
                WHERE {conditions} {continues}
                ORDER BY c.created_at DESC, c.id DESC
                LIMIT {limit_p}
            )"
        ));
    } else if wants(false) && after.is_none_or(|position| position.score >= 0) {
        let open = format!(
            "SELECT c.id, c.created_at, {score} AS score
             FROM complaints c INDEXED BY complaints_open_order JOIN sites s ON s.id = c.site_id
             WHERE {conditions} AND c.status NOT IN ('resolved', 'closed')",
            score = score_sql(&as_of_p),
        );
        if walk {
            // The open complaints in the page's order first (from the
            // index alone), then checked one by one until a page is found.
            let candidates = format!(
                "SELECT * FROM ({open}) {keyset}
                 ORDER BY score DESC, created_at DESC, id DESC LIMIT {WALK}"
            );
            parts.push(format!(
                "SELECT * FROM (SELECT * FROM ({candidates}) AS o WHERE {matched} LIMIT {limit_p})",
                matched = super::search::walked_matches(&walked_terms, "o.id"),
            ));
            walked_parts.push((true, candidates));
        } else {
            parts.push(open);
        }
    }
    // A search with few matches (an order number, a name) starts the
    // finished part from the matches (the unary `+` keeps SQLite off the
    // merchant's indexes, which would walk every finished complaint newest
    // first looking for a rare match); a common word walks them newest
    // first and stops after a page. The merchant filter applies either way.
    let finished_conditions = if !walk && super::search::few_matches(connection, &filter.terms)? {
        conditions.replacen("c.merchant_id =", "+c.merchant_id =", 1)
    } else {
        conditions.clone()
    };
    if wants(true) && !filter.spam_folder {
        let continues = match after {
            Some(position) if position.score < 0 => {
                let created_at = sql.bind(Value::Integer(position.created_at));
                let id = sql.bind(Value::Integer(position.id));
                format!("AND (c.created_at, c.id) < ({created_at}, {id})")
            }
            _ => String::new(),
        };
        if walk {
            let candidates = format!(
                "SELECT c.id, c.created_at, -1 AS score
                 FROM complaints c JOIN sites s ON s.id = c.site_id
                 WHERE {finished_conditions} AND c.status IN ('resolved', 'closed') {continues}
                 ORDER BY c.created_at DESC, c.id DESC
                 LIMIT {WALK}"
            );
            parts.push(format!(
                "SELECT * FROM (SELECT * FROM ({candidates}) AS f WHERE {matched} LIMIT {limit_p})",
                matched = super::search::walked_matches(&walked_terms, "f.id"),
            ));
            walked_parts.push((false, candidates));
        } else {
            parts.push(format!(
                "SELECT * FROM (
                    SELECT c.id, c.created_at, -1 AS score
                    FROM complaints c JOIN sites s ON s.id = c.site_id
                    WHERE {finished_conditions} AND c.status IN ('resolved', 'closed') {continues}
                    ORDER BY c.created_at DESC, c.id DESC
                    LIMIT {limit_p}
                )"
            ));
        }
    }
    if parts.is_empty() {
        return Ok(Some(InboxPage {
            rows: Vec::new(),
            next: None,
        }));
    }
    let query = format!(
        "WITH page AS (
            SELECT id, score FROM ({parts}) {keyset}
            ORDER BY score DESC, created_at DESC, id DESC
            LIMIT {limit_p}
        )
        SELECT c.id, c.reference, s.site_key, s.name, c.kind, c.status, c.urgent,
            c.outcomes, c.severity, c.mood, c.value_orientation, c.category,
            c.category_label, c.language, substr(c.description, 1, 200),
            c.assignee_user_id,
            (SELECT group_concat(tag, char(31)) FROM complaint_tags t WHERE t.complaint_id = c.id),
            c.created_at, c.first_response_at, c.first_response_due_at,
            c.resolution_due_at,
            page.score, c.spam
        FROM page JOIN complaints c ON c.id = page.id JOIN sites s ON s.id = c.site_id
        ORDER BY page.score DESC, c.created_at DESC, c.id DESC",
        parts = parts.join(" UNION ALL "),
    );
    let mut statement = connection.prepare(&query)?;
    let rows = statement.query_map(params_from_iter(&sql.values), |row| {
        Ok(inbox_row(row, as_of))
    })?;
    let mut rows = rows
        .map(|row| row.map_err(StoreError::from).and_then(|row| row))
        .collect::<Result<Vec<_>, _>>()?;
    // A walked part is certain when it gave every row it could to the page
    // (the page is full up to its rows: open ones rank first), or when the
    // walk saw all of its candidates.
    for (open, candidates) in &walked_parts {
        let found = rows
            .iter()
            .filter(|row| (row.priority >= 0) == *open)
            .count();
        let page_full_through_part = if *open {
            found > limit
        } else {
            rows.len() > limit
        };
        if !page_full_through_part
            && super::search::walk_was_cut(connection, candidates, &sql.values)?
        {
            return Ok(None);
        }
    }
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| InboxPosition {
            as_of,
            score: last.priority,
            created_at: last.created_at,
            id: last.id,
        })
    } else {
        None
    };
    Ok(Some(InboxPage { rows, next }))
}

/// The inbox priority at `as_of`: the stored part (urgent, severity, mood),
/// plus 500 when a target is missed (never enough to pass an urgent
/// complaint), plus an hour a point of waiting (at most 9, so it never
/// outweighs a step of mood). Finished complaints sink to the bottom.
fn score_sql(as_of: &str) -> String {
    format!(
        "CASE WHEN c.status IN ('resolved', 'closed') THEN -1 ELSE
            c.priority
            + CASE WHEN (c.first_response_at IS NULL AND {as_of} > c.first_response_due_at)
                     OR {as_of} > c.resolution_due_at THEN 500 ELSE 0 END
            + min(max(({as_of} - c.created_at) / {HOUR}, 0), 9)
         END"
    )
}

fn inbox_row(row: &Row<'_>, as_of: i64) -> Result<InboxRow, StoreError> {
    let tags: Option<String> = row.get(16)?;
    let mut tags: Vec<String> = tags
        .map(|tags| tags.split('\u{1f}').map(str::to_owned).collect())
        .unwrap_or_default();
    tags.sort();
    let status: Status = parse_enum(&row.get::<_, String>(5)?)?;
    let first_response_at: Option<i64> = row.get(18)?;
    let first_response_due_at: Option<i64> = row.get(19)?;
    let resolution_due_at: Option<i64> = row.get(20)?;
    Ok(InboxRow {
        id: row.get(0)?,
        reference: row.get(1)?,
        site_key: row.get(2)?,
        site_name: row.get(3)?,
        kind: parse_enum(&row.get::<_, String>(4)?)?,
        status,
        urgent: row.get(6)?,
        outcomes: from_json(&row.get::<_, String>(7)?)?,
        severity: optional_enum(row.get(8)?)?,
        mood: optional_enum(row.get(9)?)?,
        value_orientation: row.get(10)?,
        category: row.get(11)?,
        category_label: row.get(12)?,
        language: row.get(13)?,
        excerpt: row.get(14)?,
        assignee_user_id: row.get(15)?,
        tags,
        created_at: row.get(17)?,
        overdue: is_overdue(
            status,
            first_response_at,
            first_response_due_at,
            resolution_due_at,
            as_of,
        ),
        first_response_at,
        first_response_due_at,
        resolution_due_at,
        priority: row.get(21)?,
        spam: row.get(22)?,
    })
}

fn is_overdue(
    status: Status,
    first_response_at: Option<i64>,
    first_response_due_at: Option<i64>,
    resolution_due_at: Option<i64>,
    now: i64,
) -> bool {
    if matches!(status, Status::Resolved | Status::Closed) {
        return false;
    }
    let response_missed =
        first_response_at.is_none() && first_response_due_at.is_some_and(|due| now > due);
    response_missed || resolution_due_at.is_some_and(|due| now > due)
}

/// One complaint of the merchant, with its timeline.
pub(super) fn detail(
    connection: &Connection,
    merchant_id: i64,
    reference: &str,
    now: i64,
) -> Result<Option<ComplaintDetail>, StoreError> {
    let as_of = "?3";
    let query = format!(
        "SELECT c.id, c.reference, c.status, c.urgent, c.outcomes, c.severity, c.mood,
            c.value_orientation, c.remedy, c.kind, c.category, c.category_label,
            c.description, c.answers, c.language, s.site_key, s.name, c.page_url,
            c.user_agent, c.callback_window, c.contact_name, c.contact_email,
            c.contact_phone, c.identity, c.identity_verified, c.assignee_user_id,
            u.display_name, c.created_at, c.updated_at, c.first_response_at,
            c.resolved_at, c.first_response_due_at, c.resolution_due_at,
            {score}, c.spam
         FROM complaints c
         JOIN sites s ON s.id = c.site_id
         LEFT JOIN users u ON u.id = c.assignee_user_id AND u.merchant_id = c.merchant_id
         WHERE c.merchant_id = ?1 AND c.reference = ?2",
        score = score_sql(as_of),
    );
    let found = connection
        .prepare_cached(&query)?
        .query_row(params![merchant_id, reference, now], |row| {
            Ok(detail_row(row))
        })
        .optional()?
        .transpose()?;
    let Some(mut detail) = found else {
        return Ok(None);
    };
    detail.attachments = attachments(connection, detail.id)?;
    detail.tags = tags(connection, detail.id)?;
    detail.timeline = timeline(connection, detail.id)?;
    detail.survey = followup::survey(connection, detail.id)?;
    Ok(Some(detail))
}

fn detail_row(row: &Row<'_>) -> Result<ComplaintDetail, StoreError> {
    let contact_name: Option<String> = row.get(20)?;
    let contact_email: Option<String> = row.get(21)?;
    let contact_phone: Option<String> = row.get(22)?;
    let contact = (contact_name.is_some() || contact_email.is_some() || contact_phone.is_some())
        .then_some(Contact {
            name: contact_name,
            email: contact_email,
            phone: contact_phone,
        });
    let identity: Option<String> = row.get(23)?;
    let assignee_id: Option<i64> = row.get(25)?;
    let assignee_name: Option<String> = row.get(26)?;
    Ok(ComplaintDetail {
        id: row.get(0)?,
        reference: row.get(1)?,
        status: parse_enum(&row.get::<_, String>(2)?)?,
        urgent: row.get(3)?,
        outcomes: from_json(&row.get::<_, String>(4)?)?,
        severity: optional_enum(row.get(5)?)?,
        mood: optional_enum(row.get(6)?)?,
        value_orientation: row.get(7)?,
        remedy: row.get(8)?,
        kind: parse_enum(&row.get::<_, String>(9)?)?,
        category: row.get(10)?,
        category_label: row.get(11)?,
        description: row.get(12)?,
        answers: from_json(&row.get::<_, String>(13)?)?,
        language: row.get(14)?,
        site_key: row.get(15)?,
        site_name: row.get(16)?,
        page_url: row.get(17)?,
        user_agent: row.get(18)?,
        callback_window: row.get(19)?,
        contact,
        identity: identity.as_deref().map(from_json).transpose()?,
        identity_verified: row.get(24)?,
        assignee: assignee_id.map(|user_id| Assignee {
            user_id,
            display_name: assignee_name.unwrap_or_default(),
        }),
        created_at: row.get(27)?,
        updated_at: row.get(28)?,
        first_response_at: row.get(29)?,
        resolved_at: row.get(30)?,
        first_response_due_at: row.get(31)?,
        resolution_due_at: row.get(32)?,
        priority: row.get(33)?,
        spam: row.get(34)?,
        attachments: Vec::new(),
        tags: Vec::new(),
        timeline: Vec::new(),
        survey: None,
    })
}

fn attachments(
    connection: &Connection,
    complaint_id: i64,
) -> Result<Vec<AttachmentMeta>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT id, content_type, width, height, bytes, created_at FROM attachments
         WHERE complaint_id = ?1 ORDER BY created_at, id",
    )?;
    let rows = statement.query_map([complaint_id], |row| {
        Ok(AttachmentMeta {
            id: row.get(0)?,
            content_type: row.get(1)?,
            width: row.get(2)?,
            height: row.get(3)?,
            bytes: row.get(4)?,
            created_at: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn tags(connection: &Connection, complaint_id: i64) -> Result<Vec<String>, StoreError> {
    let mut statement = connection
        .prepare_cached("SELECT tag FROM complaint_tags WHERE complaint_id = ?1 ORDER BY tag")?;
    let rows = statement.query_map([complaint_id], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn timeline(connection: &Connection, complaint_id: i64) -> Result<Vec<TimelineEvent>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT e.id, e.at, e.kind, e.public, e.actor_user_id, u.display_name, e.body, e.data
         FROM complaint_events e LEFT JOIN users u ON u.id = e.actor_user_id
         WHERE e.complaint_id = ?1 ORDER BY e.id",
    )?;
    let rows = statement.query_map([complaint_id], |row| {
        Ok((
            TimelineEvent {
                id: row.get(0)?,
                at: row.get(1)?,
                kind: row.get(2)?,
                public: row.get(3)?,
                actor_user_id: row.get(4)?,
                actor_name: row.get(5)?,
                body: row.get(6)?,
                data: serde_json::Value::Null,
            },
            row.get::<_, String>(7)?,
        ))
    })?;
    rows.map(|row| {
        let (mut event, data) = row?;
        event.data = from_json(&data)?;
        Ok(event)
    })
    .collect()
}

/// Applies `action` to the merchant's complaint, writing its timeline event
/// and audit entry; answers with the complaint as it now is.
pub(super) fn act(
    connection: &Connection,
    merchant_id: i64,
    actor_user_id: i64,
    reference: &str,
    action: &InboxAction,
    now: i64,
) -> Result<ActionOutcome, StoreError> {
    let current: Option<(i64, String, Option<i64>)> = connection
        .prepare_cached(
            "SELECT id, status, assignee_user_id FROM complaints
             WHERE merchant_id = ?1 AND reference = ?2",
        )?
        .query_row(params![merchant_id, reference], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((id, status, assignee)) = current else {
        return Ok(ActionOutcome::NotFound);
    };
    let status: Status = parse_enum(&status)?;
    let event = |kind: &str, public: bool, body: Option<&str>, data: serde_json::Value| {
        event(
            connection,
            id,
            now,
            actor_user_id,
            kind,
            public,
            body,
            &data,
        )
    };
    let audit_action: &'static str;
    let mut audit_detail = serde_json::json!({ "reference": reference });
    match action {
        InboxAction::Acknowledge => {
            if status != Status::Received {
                return Ok(ActionOutcome::Refused(Refusal::Transition {
                    from: status,
                    to: Status::Acknowledged,
                }));
            }
            set_status(connection, id, Status::Acknowledged, now)?;
            connection.execute(
                "UPDATE complaints SET first_response_at = coalesce(first_response_at, ?2)
                 WHERE id = ?1",
                params![id, now],
            )?;
            event("acknowledged", true, None, serde_json::json!({}))?;
            followup::queue_update(connection, id, connection.last_insert_rowid(), now)?;
            audit_action = "complaint.acknowledged";
        }
        InboxAction::Assign(target) => {
            if let Some(target) = target {
                let exists: Option<i64> = connection
                    .prepare_cached(
                        "SELECT id FROM users WHERE id = ?1 AND merchant_id = ?2 AND disabled = 0",
                    )?
                    .query_row(params![target, merchant_id], |row| row.get(0))
                    .optional()?;
                if exists.is_none() {
                    return Ok(ActionOutcome::Refused(Refusal::UnknownAssignee));
                }
            }
            connection.execute(
                "UPDATE complaints SET assignee_user_id = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, target, now],
            )?;
            let data = serde_json::json!({ "from": assignee, "to": target });
            event("assigned", false, None, data.clone())?;
            audit_action = "complaint.assigned";
            audit_detail["from"] = data["from"].clone();
            audit_detail["to"] = data["to"].clone();
        }
        InboxAction::SetStatus { to, allowed_from } => {
            if !allowed_from.contains(&status) {
                return Ok(ActionOutcome::Refused(Refusal::Transition {
                    from: status,
                    to: *to,
                }));
            }
            set_status(connection, id, *to, now)?;
            let data = serde_json::json!({ "from": status.as_str(), "to": to.as_str() });
            event("status_changed", true, None, data.clone())?;
            followup::queue_update(connection, id, connection.last_insert_rowid(), now)?;
            audit_action = "complaint.status_changed";
            audit_detail["from"] = data["from"].clone();
            audit_detail["to"] = data["to"].clone();
        }
        InboxAction::Tags { add, remove, max } => {
            let mut current = tags(connection, id)?;
            current.retain(|tag| !remove.contains(tag));
            for tag in add {
                if !current.contains(tag) {
                    current.push(tag.clone());
                }
            }
            if current.len() > *max {
                return Ok(ActionOutcome::Refused(Refusal::TooManyTags { max: *max }));
            }
            for tag in remove {
                connection
                    .prepare_cached(
                        "DELETE FROM complaint_tags WHERE complaint_id = ?1 AND tag = ?2",
                    )?
                    .execute(params![id, tag])?;
            }
            for tag in add {
                connection
                    .prepare_cached(
                        "INSERT OR IGNORE INTO complaint_tags (complaint_id, tag) VALUES (?1, ?2)",
                    )?
                    .execute(params![id, tag])?;
            }
            connection.execute(
                "UPDATE complaints SET updated_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            let data = serde_json::json!({ "added": add, "removed": remove });
            event("tagged", false, None, data.clone())?;
            audit_action = "complaint.tagged";
            audit_detail["added"] = data["added"].clone();
            audit_detail["removed"] = data["removed"].clone();
        }
        InboxAction::Note(body) => {
            connection.execute(
                "UPDATE complaints SET updated_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            event("internal_note", false, Some(body), serde_json::json!({}))?;
            audit_action = "complaint.note_added";
            audit_detail["chars"] = body.chars().count().into();
        }
        InboxAction::Reply(body) => {
            connection.execute(
                "UPDATE complaints SET updated_at = ?2,
                    first_response_at = coalesce(first_response_at, ?2)
                 WHERE id = ?1",
                params![id, now],
            )?;
            event("public_reply", true, Some(body), serde_json::json!({}))?;
            followup::queue_update(connection, id, connection.last_insert_rowid(), now)?;
            audit_action = "complaint.replied";
            audit_detail["chars"] = body.chars().count().into();
        }
    }
    audit::record(
        connection,
        merchant_id,
        &AuditNote::new(Some(actor_user_id), audit_action, audit_detail),
        now,
    )?;
    let detail = detail(connection, merchant_id, reference, now)?
        .ok_or_else(|| StoreError::Corrupt("complaint vanished".to_owned()))?;
    Ok(ActionOutcome::Done(Box::new(detail)))
}

/// Changes the status; resolving stamps `resolved_at`, reopening clears it.
fn set_status(connection: &Connection, id: i64, to: Status, now: i64) -> Result<(), StoreError> {
    connection.execute(
        "UPDATE complaints SET status = ?2, updated_at = ?3,
            resolved_at = CASE
                WHEN ?2 IN ('resolved', 'closed') THEN coalesce(resolved_at, ?3)
                ELSE NULL END
         WHERE id = ?1",
        params![id, to.as_str(), now],
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn event(
    connection: &Connection,
    complaint_id: i64,
    at: i64,
    actor_user_id: i64,
    kind: &str,
    public: bool,
    body: Option<&str>,
    data: &serde_json::Value,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            complaint_id,
            at,
            actor_user_id,
            kind,
            public,
            body,
            data.to_string()
        ])?;
    Ok(())
}

#[derive(Default)]
struct SqlBuilder {
    values: Vec<Value>,
}

impl SqlBuilder {
    /// Adds a parameter and answers its placeholder.
    fn bind(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("?{}", self.values.len())
    }
}

fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

fn optional_enum<T: serde::de::DeserializeOwned>(
    text: Option<String>,
) -> Result<Option<T>, StoreError> {
    text.as_deref().map(parse_enum).transpose()
}

/// Complaints for tests of the inbox, here and in `http::inbox_tests`.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};

    use heard_shared::{Mood, Outcome, Severity, SiteConfig, SubmissionKind};

    use crate::store::{NewComplaint, NewSite, Store};

    pub const START: i64 = 1_800_000_000_000;

    /// A plain complaint on `site_id`, received at `created_at`.
    pub fn complaint(site_id: i64, created_at: i64, description: &str) -> NewComplaint {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mut token_hash = [0u8; 32];
        token_hash[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        NewComplaint {
            site_id,
            token_hash,
            category: "product".to_owned(),
            category_label: "Product problem".to_owned(),
            value_orientation: Some("reliability".to_owned()),
            urgent: false,
            description: description.to_owned(),
            remedy: None,
            outcomes: vec![Outcome::Fix],
            severity: Some(Severity::Inconvenience),
            mood: Some(Mood::Calm),
            language: "en".to_owned(),
            page_url: None,
            user_agent: None,
            answers: BTreeMap::new(),
            contact_name: None,
            contact_email: None,
            contact_phone: None,
            created_at,
            idempotency: None,
            kind: SubmissionKind::Complaint,
            callback_window: None,
            identity: None,
            identity_verified: false,
            attachments: Vec::new(),
            acknowledgement: None,
            spam: None,
            proof: None,
        }
    }

    /// A site of the merchant named `merchant` (created when new); its id.
    pub async fn site(store: &Store, merchant: &str, key: &str) -> (i64, i64) {
        let site = store
            .add_site(NewSite {
                merchant: merchant.to_owned(),
                key: key.to_owned(),
                name: format!("Shop {key}"),
                allowed_origins: vec![],
                config: SiteConfig::with_defaults(key, "Shop"),
            })
            .await
            .unwrap();
        (site.merchant_id, site.id)
    }

    /// Stores `complaint`; its reference.
    pub async fn record(store: &Store, complaint: NewComplaint) -> String {
        store
            .record_complaint(complaint)
            .await
            .unwrap()
            .complaint
            .reference
    }
}

#[cfg(test)]
mod tests {
    use heard_shared::{Mood, Outcome, Severity, Status};

    use super::fixtures::{START, complaint, record, site};
    use super::*;
    use crate::store::test_support::temp_store;
    use crate::store::{NewComplaint, NewUser, Role, Store};

    const MINUTE: i64 = 60 * 1000;

    async fn references(
        store: &Store,
        merchant_id: i64,
        filter: InboxFilter,
        now: i64,
    ) -> Vec<String> {
        store
            .inbox(merchant_id, filter, None, 100, now)
            .await
            .unwrap()
            .rows
            .into_iter()
            .map(|row| row.reference)
            .collect()
    }

    async fn staff(store: &Store, merchant_id: i64, email: &str) -> i64 {
        store
            .add_user(
                NewUser {
                    merchant_id,
                    email: email.to_owned(),
                    display_name: "Agent".to_owned(),
                    role: Role::Agent,
                    password_hash: "not a real hash".to_owned(),
                },
                AuditNote::new(None, "test.user", serde_json::json!({})),
                START,
            )
            .await
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn complaints_stored_before_the_inbox_get_a_timeline_and_search_text() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("old.sqlite3");
        let mut connection = Connection::open(&path).unwrap();
        for sql in [
            include_str!("migrations/0001_initial.sql"),
            include_str!("migrations/0002_attachments_kinds_identity.sql"),
            include_str!("migrations/0003_staff.sql"),
        ] {
            connection.execute_batch(sql).unwrap();
        }
        connection.pragma_update(None, "user_version", 3).unwrap();
        connection
            .execute_batch(
                "INSERT INTO merchants (id, name, created_at) VALUES (7, 'm', 0);
                 INSERT INTO sites (id, merchant_id, site_key, name, allowed_origins, config,
                                    created_at, updated_at)
                 VALUES (3, 7, 'old', 'Old shop', '[]', '{}', 0, 0);
                 INSERT INTO complaints (site_id, reference, token_hash, category,
                     category_label, urgent, description, outcomes, severity, mood,
                     language, answers, created_at)
                 VALUES (3, 'HRD-OLD1-OLD1', x'01', 'safety', 'Safety', 1,
                     '豆浆机漏电', '[\"fix\"]', 'serious', 'furious', 'zh',
                     '{\"batch\": \"B-2291\"}', 1000);",
            )
            .unwrap();

        super::super::migrations::apply(&mut connection).unwrap();
        let page = list(&connection, 7, &InboxFilter::default(), 2000, None, 10).unwrap();
        assert_eq!(page.rows.len(), 1);
        assert_eq!(page.rows[0].priority, 1000 + 300 + 40);
        let old = detail(&connection, 7, "HRD-OLD1-OLD1", 2000)
            .unwrap()
            .unwrap();
        assert_eq!(old.timeline.len(), 1);
        assert_eq!(old.timeline[0].kind, "received");
        assert_eq!(old.first_response_due_at, Some(1000 + HOUR));
        assert_eq!(detail(&connection, 8, "HRD-OLD1-OLD1", 2000).unwrap(), None);
        drop(connection);

        // The search index of an upgraded database is built from scratch by
        // the indexer when the store opens.
        let store = Store::open(&path, 8, 64).unwrap();
        store.search_caught_up().await.unwrap();
        let mut found = Vec::new();
        for term in ["豆浆机", "b-2291", "漏电", "kettle"] {
            let filter = InboxFilter {
                terms: vec![term.to_owned()],
                ..Default::default()
            };
            let page = store.inbox(7, filter, None, 10, 2000).await.unwrap();
            found.push(page.rows.len());
        }
        assert_eq!(found, [1, 1, 1, 0]);
        store.shutdown().await;
    }

    #[tokio::test]
    async fn every_filter_narrows_the_list_and_never_leaves_the_merchant() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (_, outlet) = site(store, "Acme", "outlet").await;
        let (_, foreign) = site(store, "Other", "other").await;
        let plain = record(store, complaint(shop, START, "plain")).await;
        let delivery = record(
            store,
            NewComplaint {
                category: "delivery".to_owned(),
                value_orientation: Some("speed".to_owned()),
                severity: Some(Severity::CostMe),
                mood: Some(Mood::Furious),
                outcomes: vec![Outcome::Compensation],
                language: "zh".to_owned(),
                ..complaint(outlet, START + MINUTE, "late")
            },
        )
        .await;
        record(store, complaint(foreign, START, "someone else's")).await;
        let agent = staff(store, merchant, "agent@acme.example").await;
        let now = START + 2 * MINUTE;
        assert!(matches!(
            store
                .inbox_act(
                    merchant,
                    agent,
                    &delivery,
                    InboxAction::Assign(Some(agent)),
                    now
                )
                .await
                .unwrap(),
            ActionOutcome::Done(_)
        ));
        store
            .inbox_act(
                merchant,
                agent,
                &plain,
                InboxAction::Tags {
                    add: vec!["vip".to_owned()],
                    remove: vec![],
                    max: 20,
                },
                now,
            )
            .await
            .unwrap();
        store
            .inbox_act(merchant, agent, &plain, InboxAction::Acknowledge, now)
            .await
            .unwrap();

        let all = references(store, merchant, InboxFilter::default(), now).await;
        assert_eq!(all.len(), 2, "only the merchant's own complaints: {all:?}");
        let only =
            |filter: InboxFilter| async move { references(store, merchant, filter, now).await };
        let just_delivery = vec![delivery.clone()];
        let just_plain = vec![plain.clone()];
        let cases: Vec<(InboxFilter, &Vec<String>)> = vec![
            (
                InboxFilter {
                    statuses: vec![Status::Received],
                    ..Default::default()
                },
                &just_delivery,
            ),
            (
                InboxFilter {
                    statuses: vec![Status::Acknowledged],
                    ..Default::default()
                },
                &just_plain,
            ),
            (
                InboxFilter {
                    site_key: Some("outlet".to_owned()),
                    ..Default::default()
                },
                &just_delivery,
            ),
            (
                InboxFilter {
                    category: Some("product".to_owned()),
                    ..Default::default()
                },
                &just_plain,
            ),
            (
                InboxFilter {
                    value_orientation: Some("speed".to_owned()),
                    ..Default::default()
                },
                &just_delivery,
            ),
            (
                InboxFilter {
                    severity: Some(Severity::Inconvenience),
                    ..Default::default()
                },
                &just_plain,
            ),
            (
                InboxFilter {
                    mood: Some(Mood::Furious),
                    ..Default::default()
                },
                &just_delivery,
            ),
            (
                InboxFilter {
                    outcome: Some(Outcome::Compensation),
                    ..Default::default()
                },
                &just_delivery,
            ),
            (
                InboxFilter {
                    language: Some("en".to_owned()),
                    ..Default::default()
                },
                &just_plain,
            ),
            (
                InboxFilter {
                    assignee: Some(AssigneeFilter::User(agent)),
                    ..Default::default()
                },
                &just_delivery,
            ),
            (
                InboxFilter {
                    assignee: Some(AssigneeFilter::Nobody),
                    ..Default::default()
                },
                &just_plain,
            ),
            (
                InboxFilter {
                    tag: Some("vip".to_owned()),
                    ..Default::default()
                },
                &just_plain,
            ),
            (
                InboxFilter {
                    created_from: Some(START + 1),
                    ..Default::default()
                },
                &just_delivery,
            ),
            (
                InboxFilter {
                    created_before: Some(START + 1),
                    ..Default::default()
                },
                &just_plain,
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(&only(filter.clone()).await, expected, "filter {filter:?}");
        }
        // Another merchant sees none of these.
        let (other, _) = site(store, "Other", "other2").await;
        assert_eq!(
            references(store, other, InboxFilter::default(), now)
                .await
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn safety_comes_first_then_severity_mood_and_waiting_time() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let now = START + 30 * MINUTE;
        let calm_safety = record(
            store,
            NewComplaint {
                urgent: true,
                category: "safety".to_owned(),
                severity: Some(Severity::Inconvenience),
                mood: Some(Mood::Calm),
                ..complaint(shop, START + 20 * MINUTE, "child ill after drinking")
            },
        )
        .await;
        let furious_serious = record(
            store,
            NewComplaint {
                severity: Some(Severity::Serious),
                mood: Some(Mood::Furious),
                ..complaint(shop, START + 25 * MINUTE, "lost a day's work")
            },
        )
        .await;
        let upset_serious = record(
            store,
            NewComplaint {
                severity: Some(Severity::Serious),
                mood: Some(Mood::Upset),
                ..complaint(shop, START + 26 * MINUTE, "serious but calmer")
            },
        )
        .await;
        let newer_small = record(store, complaint(shop, START + 10 * MINUTE, "newer")).await;
        // Waited four hours longer than `newer_small`, same priority otherwise.
        let waiting_small = record(store, complaint(shop, START - 4 * 60 * MINUTE, "older")).await;
        let finished = record(
            store,
            NewComplaint {
                urgent: true,
                ..complaint(shop, START, "resolved safety case")
            },
        )
        .await;
        store
            .inbox_act(
                merchant,
                1,
                &finished,
                InboxAction::SetStatus {
                    to: Status::Resolved,
                    allowed_from: vec![Status::Received],
                },
                now,
            )
            .await
            .unwrap();

        let order = references(store, merchant, InboxFilter::default(), now).await;
        assert_eq!(
            order,
            [
                calm_safety,
                furious_serious,
                upset_serious,
                waiting_small,
                newer_small,
                finished
            ]
        );
    }

    #[tokio::test]
    async fn keyset_pages_are_stable_while_complaints_arrive() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let mut originals = Vec::new();
        for index in 0..7 {
            // Equal priorities and some equal times: the id breaks ties.
            let at = START + (index / 2) * MINUTE;
            originals.push(record(store, complaint(shop, at, &format!("n{index}"))).await);
        }
        let now = START + 10 * MINUTE;
        let first = store
            .inbox(merchant, InboxFilter::default(), None, 3, now)
            .await
            .unwrap();
        assert_eq!(first.rows.len(), 3);
        // New complaints arrive between pages: newer, older and urgent ones.
        record(store, complaint(shop, now + MINUTE, "brand new")).await;
        record(
            store,
            complaint(shop, START - MINUTE, "late arrival, old time"),
        )
        .await;
        record(
            store,
            NewComplaint {
                urgent: true,
                ..complaint(shop, now + 2 * MINUTE, "urgent")
            },
        )
        .await;
        let mut seen: Vec<String> = first.rows.iter().map(|row| row.reference.clone()).collect();
        let mut next = first.next;
        while let Some(position) = next {
            let page = store
                .inbox(
                    merchant,
                    InboxFilter::default(),
                    Some(position),
                    3,
                    now + 99 * MINUTE,
                )
                .await
                .unwrap();
            seen.extend(page.rows.iter().map(|row| row.reference.clone()));
            next = page.next;
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "no complaint twice: {seen:?}");
        for reference in &originals {
            assert!(seen.contains(reference), "{reference} was skipped");
        }
        // The original seven come in the order the first page promised.
        let positions: Vec<usize> = originals
            .iter()
            .rev()
            .map(|reference| seen.iter().position(|seen| seen == reference).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|pair| pair[0] < pair[1]),
            "{positions:?}"
        );
    }

    #[tokio::test]
    async fn search_finds_chinese_japanese_and_latin_text_and_replies() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (_, foreign) = site(store, "Other", "other").await;
        let soy = record(
            store,
            NewComplaint {
                language: "zh".to_owned(),
                ..complaint(shop, START, "豆浆机用了三次就坏了，售后不给修")
            },
        )
        .await;
        let delivery = record(
            store,
            NewComplaint {
                language: "ja".to_owned(),
                ..complaint(shop, START, "配達が遅いです。まだ届きません")
            },
        )
        .await;
        let mut answers = BTreeMap::new();
        answers.insert("order".to_owned(), "Order A-99817".to_owned());
        let parcel = record(
            store,
            NewComplaint {
                answers,
                remedy: Some("Refund the shipping".to_owned()),
                ..complaint(shop, START, "The parcel arrived crushed")
            },
        )
        .await;
        record(store, complaint(foreign, START, "豆浆机 坏了 parcel")).await;
        // The index is kept off the writer's path: wait for it, not a while.
        store.search_caught_up().await.unwrap();
        let search = |query: &str| {
            let filter = InboxFilter {
                terms: query.split_whitespace().map(str::to_owned).collect(),
                ..Default::default()
            };
            async move { references(store, merchant, filter, START).await }
        };
        assert_eq!(search("豆浆机 坏了").await, std::slice::from_ref(&soy));
        assert_eq!(search("坏").await, std::slice::from_ref(&soy));
        assert_eq!(search("配達が遅い").await, std::slice::from_ref(&delivery));
        assert_eq!(search("遅い").await, std::slice::from_ref(&delivery));
        assert_eq!(
            search("PARCEL crushed").await,
            std::slice::from_ref(&parcel)
        );
        assert_eq!(
            search("a-99817").await,
            std::slice::from_ref(&parcel),
            "answers are searched"
        );
        assert_eq!(
            search("shipping").await,
            std::slice::from_ref(&parcel),
            "the remedy is searched"
        );
        assert!(search("9%").await.is_empty(), "LIKE wildcards are literal");
        assert!(search("\"quoted").await.is_empty());

        store
            .inbox_act(
                merchant,
                1,
                &soy,
                InboxAction::Reply("我们会给您换一台新的".to_owned()),
                START,
            )
            .await
            .unwrap();
        store.search_caught_up().await.unwrap();
        assert_eq!(search("换一台").await, [soy]);
    }

    #[tokio::test]
    async fn actions_write_the_timeline_and_the_audit_log_and_check_the_state() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (other, _) = site(store, "Other", "other").await;
        let reference = record(store, complaint(shop, START, "broken")).await;
        let agent = staff(store, merchant, "agent@acme.example").await;
        let stranger = staff(store, other, "agent@other.example").await;
        let at = START + MINUTE;
        let done = |outcome: ActionOutcome| match outcome {
            ActionOutcome::Done(detail) => *detail,
            other => panic!("expected success, got {other:?}"),
        };

        // Another merchant cannot see or touch it.
        assert_eq!(
            store.inbox_complaint(other, &reference, at).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .inbox_act(other, stranger, &reference, InboxAction::Acknowledge, at)
                .await
                .unwrap(),
            ActionOutcome::NotFound
        );

        let detail = done(
            store
                .inbox_act(merchant, agent, &reference, InboxAction::Acknowledge, at)
                .await
                .unwrap(),
        );
        assert_eq!(detail.status, Status::Acknowledged);
        assert_eq!(detail.first_response_at, Some(at));
        assert_eq!(
            store
                .inbox_act(merchant, agent, &reference, InboxAction::Acknowledge, at)
                .await
                .unwrap(),
            ActionOutcome::Refused(Refusal::Transition {
                from: Status::Acknowledged,
                to: Status::Acknowledged
            })
        );
        assert_eq!(
            store
                .inbox_act(
                    merchant,
                    agent,
                    &reference,
                    InboxAction::Assign(Some(stranger)),
                    at
                )
                .await
                .unwrap(),
            ActionOutcome::Refused(Refusal::UnknownAssignee)
        );
        let many: Vec<String> = (0..3).map(|n| format!("t{n}")).collect();
        assert_eq!(
            store
                .inbox_act(
                    merchant,
                    agent,
                    &reference,
                    InboxAction::Tags {
                        add: many,
                        remove: vec![],
                        max: 2
                    },
                    at
                )
                .await
                .unwrap(),
            ActionOutcome::Refused(Refusal::TooManyTags { max: 2 })
        );
        done(
            store
                .inbox_act(
                    merchant,
                    agent,
                    &reference,
                    InboxAction::Assign(Some(agent)),
                    at,
                )
                .await
                .unwrap(),
        );
        done(
            store
                .inbox_act(
                    merchant,
                    agent,
                    &reference,
                    InboxAction::Note("call back Monday".to_owned()),
                    at,
                )
                .await
                .unwrap(),
        );
        let detail = done(
            store
                .inbox_act(
                    merchant,
                    agent,
                    &reference,
                    InboxAction::SetStatus {
                        to: Status::Resolved,
                        allowed_from: vec![Status::Acknowledged],
                    },
                    at + MINUTE,
                )
                .await
                .unwrap(),
        );
        assert_eq!(detail.resolved_at, Some(at + MINUTE));
        assert_eq!(detail.assignee.as_ref().map(|a| a.user_id), Some(agent));
        let kinds: Vec<(&str, bool)> = detail
            .timeline
            .iter()
            .map(|event| (event.kind.as_str(), event.public))
            .collect();
        assert_eq!(
            kinds,
            [
                ("received", true),
                ("acknowledged", true),
                ("assigned", false),
                ("internal_note", false),
                ("status_changed", true)
            ]
        );
        let audit: Vec<String> = store
            .audit_entries(merchant, None, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.action)
            .filter(|action| action.starts_with("complaint."))
            .collect();
        assert_eq!(
            audit,
            [
                "complaint.status_changed",
                "complaint.note_added",
                "complaint.assigned",
                "complaint.acknowledged"
            ],
            "refused actions leave no entry"
        );
        assert!(
            store
                .audit_entries(other, None, 50)
                .await
                .unwrap()
                .iter()
                .all(|entry| !entry.action.starts_with("complaint.")),
        );
    }

    /// The list reads open and finished complaints in two parts (issue 8);
    /// every page, continued by cursor, must still be exactly one sort of
    /// all of them by score, time and id.
    #[tokio::test]
    async fn pages_in_two_parts_follow_one_order_across_the_open_and_finished_boundary() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (_, foreign) = site(store, "Other", "other").await;
        for number in 0..40_i64 {
            let mut new = complaint(shop, START - number * 37 * MINUTE, "order check");
            new.severity =
                [Some(Severity::Serious), None, Some(Severity::CostMe)][number as usize % 3];
            new.mood = [Some(Mood::Furious), Some(Mood::Calm)][number as usize % 2];
            record(store, new).await;
            record(store, complaint(foreign, START, "not ours")).await;
        }
        let database = Connection::open(temp.directory.path().join("heard.sqlite3")).unwrap();
        database
            .execute_batch(
                "UPDATE complaints SET status = CASE id % 4 WHEN 0 THEN 'resolved'
                     WHEN 1 THEN 'closed' WHEN 2 THEN 'in_progress' ELSE status END,
                     first_response_at = CASE WHEN id % 5 = 0 THEN created_at END",
            )
            .unwrap();
        let as_of = START + 3 * HOUR;
        let expected: Vec<String> = database
            .prepare(&format!(
                "SELECT c.reference FROM complaints c WHERE c.merchant_id = ?2
                 ORDER BY {} DESC, c.created_at DESC, c.id DESC",
                score_sql("?1")
            ))
            .unwrap()
            .query_map(params![as_of, merchant], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(expected.len(), 40);

        for limit in [1, 3, 7, 40] {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .inbox(merchant, InboxFilter::default(), after, limit, as_of)
                    .await
                    .unwrap();
                seen.extend(page.rows.into_iter().map(|row| row.reference));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            assert_eq!(seen, expected, "pages of {limit}");
        }
        // Only finished, or only open: the other part is not read.
        let finished = InboxFilter {
            statuses: vec![Status::Resolved, Status::Closed],
            ..InboxFilter::default()
        };
        assert_eq!(references(store, merchant, finished, as_of).await.len(), 20);
        let open = InboxFilter {
            statuses: vec![Status::Received, Status::InProgress],
            ..InboxFilter::default()
        };
        assert_eq!(references(store, merchant, open, as_of).await.len(), 20);
    }
}
