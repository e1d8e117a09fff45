//! The staff inbox's rules: what a list request may ask for, the cursor, the
//! status workflow, and the limits on replies, notes and tags. The store
//! does the reading and writing; this module decides what is allowed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use heard_shared::{FieldError, Mood, Outcome, Severity, Status};

use crate::store::{
    ActionOutcome, AssigneeFilter, ComplaintDetail, InboxAction, InboxFilter, InboxPage,
    InboxPosition, Refusal, Store, StoreError,
};

/// The most complaints one page may hold.
pub const MAX_PAGE: usize = 100;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: usize = 25;
/// The longest reply or internal note, in characters.
pub const MAX_MESSAGE_CHARS: usize = 10_000;
/// The most tags one complaint may carry.
pub const MAX_TAGS: usize = 20;
/// The longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 40;
/// The longest search text, in characters, and the most terms in it.
pub const MAX_QUERY_CHARS: usize = 200;
pub const MAX_QUERY_TERMS: usize = 8;

/// Why an inbox request failed.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("no such complaint")]
    NotFound,
    #[error("a complaint cannot go from {from:?} to {to:?}")]
    Transition { from: Status, to: Status },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A list request as it arrives: every field optional text.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// Comma-separated statuses, or `open` for every unfinished one.
    pub status: Option<String>,
    pub site: Option<String>,
    pub category: Option<String>,
    pub value: Option<String>,
    pub severity: Option<String>,
    pub mood: Option<String>,
    pub outcome: Option<String>,
    pub language: Option<String>,
    /// A staff id, `me` or `none`.
    pub assignee: Option<String>,
    pub tag: Option<String>,
    /// Milliseconds since the epoch: received at or after.
    pub from: Option<i64>,
    /// Milliseconds since the epoch: received before.
    pub to: Option<i64>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    /// `spam` for the spam folder; `inbox` or nothing for the inbox.
    pub folder: Option<String>,
}

/// A page and the cursor of the next, if any.
#[derive(Debug, Clone)]
pub struct ListAnswer {
    pub page: InboxPage,
    pub next_cursor: Option<String>,
}

/// Lists the merchant's complaints.
pub async fn list(
    store: &Store,
    merchant_id: i64,
    user_id: i64,
    request: ListRequest,
    now: i64,
) -> Result<ListAnswer, InboxError> {
    let (filter, after, limit) = parse_list(request, user_id)?;
    let page = store.inbox(merchant_id, filter, after, limit, now).await?;
    let next_cursor = page.next.map(encode_cursor);
    Ok(ListAnswer { page, next_cursor })
}

/// One complaint of the merchant.
pub async fn complaint(
    store: &Store,
    merchant_id: i64,
    reference: &str,
    now: i64,
) -> Result<ComplaintDetail, InboxError> {
    store
        .inbox_complaint(merchant_id, reference, now)
        .await?
        .ok_or(InboxError::NotFound)
}

/// What staff can do to a complaint, before validation.
#[derive(Debug, Clone)]
pub enum Request {
    Acknowledge,
    Assign(Option<i64>),
    Status(Status),
    Tags {
        add: Vec<String>,
        remove: Vec<String>,
    },
    Note(String),
    Reply(String),
}

/// Validates and applies an action by `user_id`; answers the complaint as it now is.
pub async fn act(
    store: &Store,
    merchant_id: i64,
    user_id: i64,
    reference: &str,
    request: Request,
    now: i64,
) -> Result<ComplaintDetail, InboxError> {
    let action = match request {
        Request::Acknowledge => InboxAction::Acknowledge,
        Request::Assign(target) => InboxAction::Assign(target),
        Request::Status(to) => InboxAction::SetStatus {
            to,
            allowed_from: allowed_from(to).to_vec(),
        },
        Request::Tags { add, remove } => InboxAction::Tags {
            add: check_tags("add", &add)?,
            remove: check_tags("remove", &remove)?,
            max: MAX_TAGS,
        },
        Request::Note(body) => InboxAction::Note(check_message(&body)?),
        Request::Reply(body) => InboxAction::Reply(check_message(&body)?),
    };
    match store
        .inbox_act(merchant_id, user_id, reference, action, now)
        .await?
    {
        ActionOutcome::Done(detail) => Ok(*detail),
        ActionOutcome::NotFound => Err(InboxError::NotFound),
        ActionOutcome::Refused(Refusal::Transition { from, to }) => {
            Err(InboxError::Transition { from, to })
        }
        ActionOutcome::Refused(Refusal::UnknownAssignee) => Err(invalid(
            "user_id",
            "unknown",
            "No active staff member of your organisation has this id.",
        )),
        ActionOutcome::Refused(Refusal::TooManyTags { max }) => Err(invalid(
            "add",
            "too_many",
            format!("A complaint can carry at most {max} tags."),
        )),
    }
}

/// The statuses a complaint may move to `to` from. The workflow runs
/// received → acknowledged → in progress ⇄ waiting for you → resolved →
/// closed; work can be finished from any open state, and a resolved or
/// closed complaint can be reopened (back to in progress). Nothing goes back
/// to received, and only a received complaint is acknowledged.
pub fn allowed_from(to: Status) -> &'static [Status] {
    use Status::*;
    match to {
        Received => &[],
        Acknowledged => &[Received],
        InProgress => &[Received, Acknowledged, WaitingForYou, Resolved, Closed],
        WaitingForYou => &[Received, Acknowledged, InProgress],
        Resolved => &[Received, Acknowledged, InProgress, WaitingForYou],
        Closed => &[Received, Acknowledged, InProgress, WaitingForYou, Resolved],
    }
}

fn parse_list(
    request: ListRequest,
    user_id: i64,
) -> Result<(InboxFilter, Option<InboxPosition>, usize), InboxError> {
    let mut errors = Vec::new();
    let mut filter = InboxFilter::default();
    if let Some(status) = request.status.as_deref().filter(|text| !text.is_empty()) {
        for part in status.split(',').map(str::trim) {
            if part == "open" {
                filter.statuses.extend([
                    Status::Received,
                    Status::Acknowledged,
                    Status::InProgress,
                    Status::WaitingForYou,
                ]);
            } else {
                match Status::parse(part) {
                    Some(status) => filter.statuses.push(status),
                    None => errors.push(FieldError::new(
                        "status",
                        "invalid",
                        format!("Unknown status {part:?}."),
                    )),
                }
            }
        }
    }
    let text = |value: Option<String>| value.filter(|text| !text.is_empty());
    filter.site_key = text(request.site);
    filter.category = text(request.category);
    filter.value_orientation = text(request.value);
    filter.language = text(request.language);
    filter.tag = text(request.tag).map(|tag| tag.trim().to_owned());
    filter.severity = parse_enum::<Severity>("severity", request.severity, &mut errors);
    filter.mood = parse_enum::<Mood>("mood", request.mood, &mut errors);
    filter.outcome = parse_enum::<Outcome>("outcome", request.outcome, &mut errors);
    filter.assignee = match text(request.assignee).as_deref() {
        None => None,
        Some("me") => Some(AssigneeFilter::User(user_id)),
        Some("none") => Some(AssigneeFilter::Nobody),
        Some(id) => match id.parse::<i64>() {
            Ok(id) => Some(AssigneeFilter::User(id)),
            Err(_) => {
                errors.push(FieldError::new(
                    "assignee",
                    "invalid",
                    "Give a staff id, \"me\" or \"none\".",
                ));
                None
            }
        },
    };
    filter.created_from = request.from;
    filter.created_before = request.to;
    filter.spam_folder = match text(request.folder).as_deref() {
        None | Some("inbox") => false,
        Some("spam") => true,
        Some(_) => {
            errors.push(FieldError::new(
                "folder",
                "invalid",
                "The folder is \"inbox\" or \"spam\".",
            ));
            false
        }
    };
    if let Some(query) = text(request.q) {
        if query.chars().count() > MAX_QUERY_CHARS {
            errors.push(FieldError::new(
                "q",
                "too_long",
                format!("Search for at most {MAX_QUERY_CHARS} characters."),
            ));
        }
        filter.terms = search_terms(&query);
        if filter.terms.len() > MAX_QUERY_TERMS {
            errors.push(FieldError::new(
                "q",
                "too_many",
                format!("Search for at most {MAX_QUERY_TERMS} words."),
            ));
        }
    }
    let limit = request.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        errors.push(FieldError::new(
            "limit",
            "invalid",
            format!("The limit is between 1 and {MAX_PAGE}."),
        ));
    }
    let after = match text(request.cursor) {
        None => None,
        Some(cursor) => match decode_cursor(&cursor) {
            Some(position) => Some(position),
            None => {
                errors.push(FieldError::new(
                    "cursor",
                    "invalid",
                    "This cursor is not one the inbox gave out; start from the first page.",
                ));
                None
            }
        },
    };
    if errors.is_empty() {
        Ok((filter, after, limit))
    } else {
        Err(InboxError::Invalid(errors))
    }
}

/// Splits a search into terms on whitespace; every term must match. Chinese
/// and Japanese are written without spaces, so a term is also a phrase.
pub fn search_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for term in query.split_whitespace() {
        if !terms.iter().any(|seen| seen == term) {
            terms.push(term.to_owned());
        }
    }
    terms
}

fn parse_enum<T: serde::de::DeserializeOwned>(
    field: &str,
    value: Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let value = value.filter(|text| !text.is_empty())?;
    match serde_json::from_value(serde_json::Value::String(value.clone())) {
        Ok(parsed) => Some(parsed),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "invalid",
                format!("Unknown {field} {value:?}."),
            ));
            None
        }
    }
}

/// The cursor is opaque to clients: `v1.as_of.score.created_at.id`, base64url.
pub fn encode_cursor(position: InboxPosition) -> String {
    let text = format!(
        "v1.{}.{}.{}.{}",
        position.as_of, position.score, position.created_at, position.id
    );
    URL_SAFE_NO_PAD.encode(text)
}

pub fn decode_cursor(cursor: &str) -> Option<InboxPosition> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('.');
    if parts.next()? != "v1" {
        return None;
    }
    let mut number = || parts.next()?.parse::<i64>().ok();
    let position = InboxPosition {
        as_of: number()?,
        score: number()?,
        created_at: number()?,
        id: number()?,
    };
    parts.next().is_none().then_some(position)
}

fn check_message(body: &str) -> Result<String, InboxError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(invalid("body", "required", "Write something first."));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(invalid(
            "body",
            "too_long",
            format!("A message can be at most {MAX_MESSAGE_CHARS} characters."),
        ));
    }
    Ok(body.to_owned())
}

/// Tags are trimmed; each is 1–40 characters without control characters, and
/// one request names at most 20.
fn check_tags(field: &str, tags: &[String]) -> Result<Vec<String>, InboxError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(
            field,
            "too_many",
            format!("Name at most {MAX_TAGS} tags at once."),
        ));
    }
    let mut checked: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().any(char::is_control) {
            return Err(invalid(
                field,
                "invalid",
                "A tag cannot be empty or hold control characters.",
            ));
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(invalid(
                field,
                "too_long",
                format!("A tag can be at most {MAX_TAG_CHARS} characters."),
            ));
        }
        if !checked.iter().any(|seen| seen == tag) {
            checked.push(tag.to_owned());
        }
    }
    Ok(checked)
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> InboxError {
    InboxError::Invalid(vec![FieldError::new(field, code, message)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_the_round_trip_and_garbage_is_refused() {
        let position = InboxPosition {
            as_of: 1_800_000_000_000,
            score: -1,
            created_at: 1_799_999_000_000,
            id: 42,
        };
        assert_eq!(decode_cursor(&encode_cursor(position)), Some(position));
        assert_eq!(decode_cursor("not a cursor"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("v1.1.2.3")), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("v1.1.2.3.4.5")), None);
    }

    #[test]
    fn the_workflow_never_goes_back_to_received_and_reopens_to_in_progress() {
        for status in Status::ALL {
            assert!(
                !allowed_from(status).contains(&status),
                "{status:?} to itself"
            );
        }
        assert!(allowed_from(Status::Received).is_empty());
        assert_eq!(allowed_from(Status::Acknowledged), [Status::Received]);
        assert!(allowed_from(Status::InProgress).contains(&Status::Closed));
        assert!(!allowed_from(Status::WaitingForYou).contains(&Status::Closed));
    }

    #[test]
    fn tags_and_messages_are_limited() {
        assert_eq!(
            check_tags("add", &[" vip ".to_owned(), "vip".to_owned()]).unwrap(),
            ["vip"]
        );
        assert!(check_tags("add", &["x".repeat(41)]).is_err());
        assert!(check_tags("add", &["".to_owned()]).is_err());
        assert!(check_tags("add", &vec!["t".to_owned(); 21]).is_err());
        assert!(check_message("  ").is_err());
        assert!(check_message(&"字".repeat(10_000)).is_ok());
        assert!(check_message(&"字".repeat(10_001)).is_err());
    }

    #[test]
    fn search_splits_on_whitespace_and_keeps_cjk_phrases_whole() {
        assert_eq!(search_terms("豆浆机  坏了"), ["豆浆机", "坏了"]);
        assert_eq!(search_terms("配達が遅い"), ["配達が遅い"]);
        assert_eq!(search_terms("late late parcel"), ["late", "parcel"]);
    }
}
