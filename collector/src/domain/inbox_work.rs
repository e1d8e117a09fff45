//! The rules of what a busy support team adds to the inbox: response
//! targets per site and class of complaint, bulk actions on a selection,
//! saved views and canned replies. The store reads and writes; this module
//! decides what is allowed and fills in the defaults.

use heard_shared::{FieldError, Status};
use serde::{Deserialize, Serialize};

use super::inbox::{self, InboxError, MAX_TAG_CHARS};
use crate::store::{
    BulkOutcome, CannedReply, Change, InboxAction, Refusal, SavedView, SlaTarget, Store, StoreError,
};

/// The most complaints one bulk action may change.
pub const MAX_BULK: usize = 100;
/// The longest target, in hours: a year.
pub const MAX_TARGET_HOURS: i64 = 24 * 365;
/// The longest name of a saved view, in characters.
pub const MAX_VIEW_NAME_CHARS: usize = 60;
/// The longest query string a view saves, in characters.
pub const MAX_VIEW_QUERY_CHARS: usize = 2000;
/// The longest title of a canned reply, in characters.
pub const MAX_CANNED_TITLE_CHARS: usize = 80;

/// Why a saved view or canned reply request failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    /// Someone else's shared view; only its creator or an owner removes it.
    #[error("not yours")]
    NotYours,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a complaint's due dates depend on: urgent (a safety category) first,
/// then the severity the shopper chose, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaClass {
    Urgent,
    Serious,
    CostMe,
    Inconvenience,
    Unrated,
}

impl SlaClass {
    pub const ALL: [SlaClass; 5] = [
        Self::Urgent,
        Self::Serious,
        Self::CostMe,
        Self::Inconvenience,
        Self::Unrated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Urgent => "urgent",
            Self::Serious => "serious",
            Self::CostMe => "cost_me",
            Self::Inconvenience => "inconvenience",
            Self::Unrated => "unrated",
        }
    }

    pub fn parse(text: &str) -> Option<SlaClass> {
        Self::ALL.into_iter().find(|class| class.as_str() == text)
    }

    /// What staff read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Urgent => "Urgent (safety)",
            Self::Serious => "Serious",
            Self::CostMe => "Cost them time or money",
            Self::Inconvenience => "Inconvenience",
            Self::Unrated => "No severity given",
        }
    }

    /// First response and resolution, in hours, for a site that has set
    /// nothing. The intake trigger in `0008_inbox_work.sql` states the same
    /// numbers; a test checks they agree.
    pub fn default_hours(self) -> (i64, i64) {
        match self {
            Self::Urgent => (1, 24),
            Self::Serious => (4, 72),
            Self::CostMe => (24, 168),
            Self::Inconvenience | Self::Unrated => (48, 168),
        }
    }
}

/// One class's targets as the site has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub class: SlaClass,
    pub first_response_hours: i64,
    pub resolution_hours: i64,
    /// `true` when these are the defaults, not the site's own.
    #[serde(default)]
    pub default: bool,
}

/// The targets of the merchant's site `site_key`, one per class in
/// [`SlaClass::ALL`] order, defaults filled in.
pub async fn response_targets(
    store: &Store,
    merchant_id: i64,
    site_key: &str,
) -> Result<Vec<Target>, InboxError> {
    let custom = store
        .site_response_targets(merchant_id, site_key)
        .await?
        .ok_or(InboxError::NotFound)?;
    Ok(effective(&custom))
}

/// Sets the site's own targets (classes left out keep the defaults) and
/// recomputes the due dates of its open complaints; answers the targets now
/// in force and how many open complaints were recomputed.
pub async fn set_response_targets(
    store: &Store,
    merchant_id: i64,
    user_id: i64,
    site_key: &str,
    targets: Vec<Target>,
    now: i64,
) -> Result<(Vec<Target>, usize), InboxError> {
    let custom = check_targets(&targets)?;
    let effective = effective(&custom);
    let store_targets = effective.iter().map(store_target).collect();
    let recomputed = store
        .set_site_response_targets(merchant_id, user_id, site_key, custom, store_targets, now)
        .await?
        .ok_or(InboxError::NotFound)?;
    Ok((effective, recomputed))
}

fn check_targets(targets: &[Target]) -> Result<Vec<SlaTarget>, InboxError> {
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        let field = |name: &str| format!("targets[{index}].{name}");
        if seen.contains(&target.class) {
            errors.push(FieldError::new(
                field("class"),
                "duplicate",
                format!("{} is listed twice.", target.class.label()),
            ));
        }
        seen.push(target.class);
        for (name, hours) in [
            ("first_response_hours", target.first_response_hours),
            ("resolution_hours", target.resolution_hours),
        ] {
            if !(1..=MAX_TARGET_HOURS).contains(&hours) {
                errors.push(FieldError::new(
                    field(name),
                    "out_of_range",
                    format!("A target is between 1 and {MAX_TARGET_HOURS} hours."),
                ));
            }
        }
        if target.resolution_hours < target.first_response_hours {
            errors.push(FieldError::new(
                field("resolution_hours"),
                "before_first_response",
                "Resolution cannot be due before the first response.",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(InboxError::Invalid(errors));
    }
    Ok(targets
        .iter()
        .filter(|target| !target.default)
        .map(store_target)
        .collect())
}

fn store_target(target: &Target) -> SlaTarget {
    SlaTarget {
        class: target.class.as_str().to_owned(),
        first_response_hours: target.first_response_hours,
        resolution_hours: target.resolution_hours,
    }
}

fn effective(custom: &[SlaTarget]) -> Vec<Target> {
    SlaClass::ALL
        .into_iter()
        .map(
            |class| match custom.iter().find(|target| target.class == class.as_str()) {
                Some(target) => Target {
                    class,
                    first_response_hours: target.first_response_hours,
                    resolution_hours: target.resolution_hours,
                    default: false,
                },
                None => {
                    let (first_response_hours, resolution_hours) = class.default_hours();
                    Target {
                        class,
                        first_response_hours,
                        resolution_hours,
                        default: true,
                    }
                }
            },
        )
        .collect()
}

/// What a bulk action does to each complaint of the selection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BulkRequest {
    /// Assign to a staff member, or unassign with `null`.
    Assign {
        user_id: Option<i64>,
    },
    SetStatus {
        status: Status,
    },
    AddTag {
        tag: String,
    },
}

/// Applies `request` to every complaint in `references` (each a complaint
/// of this merchant), all or nothing. Answers how many were changed.
pub async fn bulk(
    store: &Store,
    merchant_id: i64,
    user_id: i64,
    references: Vec<String>,
    request: BulkRequest,
    now: i64,
) -> Result<usize, InboxError> {
    let mut unique: Vec<String> = Vec::with_capacity(references.len());
    for reference in references {
        let reference = reference.trim().to_owned();
        if !unique.contains(&reference) {
            unique.push(reference);
        }
    }
    if unique.is_empty() {
        return Err(invalid(
            "references",
            "required",
            "Select at least one complaint.",
        ));
    }
    if unique.len() > MAX_BULK {
        return Err(invalid(
            "references",
            "too_many",
            format!("A bulk action changes at most {MAX_BULK} complaints."),
        ));
    }
    let action = match request {
        BulkRequest::Assign { user_id } => InboxAction::Assign(user_id),
        BulkRequest::SetStatus { status } => InboxAction::SetStatus {
            to: status,
            allowed_from: inbox::allowed_from(status).to_vec(),
        },
        BulkRequest::AddTag { tag } => {
            let tag = tag.trim().to_owned();
            if tag.is_empty()
                || tag.chars().count() > MAX_TAG_CHARS
                || tag.chars().any(char::is_control)
            {
                return Err(invalid(
                    "tag",
                    "invalid",
                    format!("A tag is 1 to {MAX_TAG_CHARS} characters."),
                ));
            }
            InboxAction::Tags {
                add: vec![tag],
                remove: Vec::new(),
                max: inbox::MAX_TAGS,
            }
        }
    };
    match store
        .inbox_bulk(merchant_id, user_id, unique, action, now)
        .await?
    {
        BulkOutcome::Done(count) => Ok(count),
        BulkOutcome::NotFound(_) => Err(InboxError::NotFound),
        BulkOutcome::Refused(_, Refusal::Transition { from, to }) => {
            Err(InboxError::Transition { from, to })
        }
        BulkOutcome::Refused(_, Refusal::UnknownAssignee) => Err(invalid(
            "user_id",
            "unknown",
            "No active staff member of your organisation has this id.",
        )),
        BulkOutcome::Refused(reference, Refusal::TooManyTags { max }) => Err(invalid(
            "tag",
            "too_many",
            format!("{reference} already carries {max} tags."),
        )),
    }
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> InboxError {
    InboxError::Invalid(vec![FieldError::new(field, code, message)])
}

/// Saves a view of the list under `name`. `query` is the list page's query
/// string, already checked by the caller against the list's filters.
pub async fn save_view(
    store: &Store,
    merchant_id: i64,
    user_id: i64,
    name: &str,
    query: &str,
    shared: bool,
    now: i64,
) -> Result<SavedView, WorkError> {
    let name = one_line("name", name, MAX_VIEW_NAME_CHARS)?;
    let query = query.trim().trim_start_matches('?');
    if query.chars().count() > MAX_VIEW_QUERY_CHARS || query.chars().any(char::is_control) {
        return Err(work_invalid(
            "query",
            "invalid",
            format!("A view's filter is at most {MAX_VIEW_QUERY_CHARS} characters."),
        ));
    }
    match store
        .save_view(merchant_id, user_id, name, query.to_owned(), shared, now)
        .await?
    {
        Change::Done(view) => Ok(view),
        Change::Taken => Err(work_invalid(
            "name",
            "taken",
            "A view with this name exists already.",
        )),
        Change::NotFound | Change::NotYours => Err(WorkError::NotFound),
    }
}

/// Removes a view: one's own; a shared one only by its creator or an owner.
pub async fn delete_view(
    store: &Store,
    merchant_id: i64,
    user_id: i64,
    is_owner: bool,
    id: i64,
    now: i64,
) -> Result<(), WorkError> {
    match store
        .delete_view(merchant_id, user_id, is_owner, id, now)
        .await?
    {
        Change::Done(()) => Ok(()),
        Change::NotYours => Err(WorkError::NotYours),
        Change::NotFound | Change::Taken => Err(WorkError::NotFound),
    }
}

/// A canned reply as staff write it.
#[derive(Debug, Clone, Deserialize)]
pub struct CannedRequest {
    pub language: String,
    pub title: String,
    pub body: String,
}

/// Adds a canned reply (`id` `None`) or replaces the merchant's reply `id`.
pub async fn save_canned_reply(
    store: &Store,
    merchant_id: i64,
    user_id: i64,
    id: Option<i64>,
    request: CannedRequest,
    now: i64,
) -> Result<CannedReply, WorkError> {
    let mut errors = Vec::new();
    let language = request.language.trim();
    let language_ok = !language.is_empty()
        && language.len() <= heard_shared::limits::LANGUAGE_TAG_MAX_CHARS
        && language
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '-');
    if !language_ok {
        errors.push(FieldError::new(
            "language",
            "invalid",
            "A language is a tag such as en, zh-Hans or pt-BR.",
        ));
    }
    let title = one_line("title", &request.title, MAX_CANNED_TITLE_CHARS);
    let body = request.body.trim();
    let body_chars = body.chars().count();
    if body_chars == 0 || body_chars > inbox::MAX_MESSAGE_CHARS {
        errors.push(FieldError::new(
            "body",
            "length",
            format!(
                "A canned reply is 1 to {} characters.",
                inbox::MAX_MESSAGE_CHARS
            ),
        ));
    }
    let title = match title {
        Ok(title) => Some(title),
        Err(WorkError::Invalid(fields)) => {
            errors.extend(fields);
            None
        }
        Err(other) => return Err(other),
    };
    let Some(title) = title.filter(|_| errors.is_empty()) else {
        return Err(WorkError::Invalid(errors));
    };
    match store
        .save_canned_reply(
            merchant_id,
            user_id,
            id,
            language.to_owned(),
            title,
            body.to_owned(),
            now,
        )
        .await?
    {
        Change::Done(reply) => Ok(reply),
        Change::Taken => Err(work_invalid(
            "title",
            "taken",
            "A canned reply with this title exists already in this language.",
        )),
        Change::NotFound | Change::NotYours => Err(WorkError::NotFound),
    }
}

/// The merchant's canned replies, those in `language` (or its primary
/// language, `zh` for `zh-Hans`) first.
pub async fn canned_replies(
    store: &Store,
    merchant_id: i64,
    language: Option<&str>,
) -> Result<Vec<CannedReply>, WorkError> {
    let mut replies = store.canned_replies(merchant_id).await?;
    if let Some(language) = language {
        replies.sort_by_key(|reply| language_rank(&reply.language, language));
    }
    Ok(replies)
}

/// 0 for the same language, 1 for the same primary language, 2 otherwise
/// (case-insensitive, as language tags are).
pub fn language_rank(tag: &str, wanted: &str) -> u8 {
    let primary = |tag: &str| {
        tag.split('-')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    if tag.eq_ignore_ascii_case(wanted) {
        0
    } else if primary(tag) == primary(wanted) {
        1
    } else {
        2
    }
}

/// Trims `text` and checks it is one line of 1 to `max` characters.
fn one_line(field: &str, text: &str, max: usize) -> Result<String, WorkError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 || chars > max || text.chars().any(char::is_control) {
        return Err(work_invalid(
            field,
            "invalid",
            format!("{} is one line of 1 to {max} characters.", capital(field)),
        ));
    }
    Ok(text.to_owned())
}

fn capital(field: &str) -> String {
    let mut chars = field.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn work_invalid(field: &str, code: &str, message: impl Into<String>) -> WorkError {
    WorkError::Invalid(vec![FieldError::new(field, code, message)])
}

/// The most origins one site may allow.
pub const MAX_ALLOWED_ORIGINS: usize = 20;

/// Checks a site's new settings as an owner sends them: every origin is
/// `scheme://host[:port]` (http or https, no path), and the configuration
/// passes the shared site rules (its errors keep their field names, under
/// `config.`). The configuration keeps the site's own key.
pub fn check_site_settings(
    site_key: &str,
    allowed_origins: &[String],
    mut config: heard_shared::SiteConfig,
) -> Result<(Vec<String>, heard_shared::SiteConfig), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut origins: Vec<String> = Vec::new();
    if allowed_origins.len() > MAX_ALLOWED_ORIGINS {
        errors.push(FieldError::new(
            "allowed_origins",
            "too_many",
            format!("A site allows at most {MAX_ALLOWED_ORIGINS} origins."),
        ));
    }
    for (index, origin) in allowed_origins.iter().enumerate() {
        let origin = origin.trim().to_ascii_lowercase();
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
        if !host_ok {
            errors.push(FieldError::new(
                format!("allowed_origins[{index}]"),
                "invalid",
                "Write an origin as scheme://host[:port], e.g. https://shop.example, with no path.",
            ));
        } else if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    config.site_key = site_key.to_owned();
    config.name = config.name.trim().to_owned();
    if let Err(problems) = heard_shared::site_rules::validate_site_config(&config) {
        errors.extend(problems.into_iter().map(|problem| FieldError {
            field: format!("config.{}", problem.field),
            ..problem
        }));
    }
    if errors.is_empty() {
        Ok((origins, config))
    } else {
        Err(errors)
    }
}
