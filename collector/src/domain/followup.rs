//! The follow-up loop, as the shopper lives it through their private link:
//! they reply (with photos, under the widget's rules), which puts a complaint
//! that waited for them back in progress; they mark it resolved, or reopen it
//! within the window after resolution; and they answer the satisfaction
//! survey once it is resolved (changeable until the shop closes it).
//!
//! A link that opens nothing changes nothing and is simply not found.

use heard_shared::limits::MAX_ATTACHMENTS;
use heard_shared::{AttachmentReceipt, FieldError};

use super::attachments::{self, UploadError};
use super::inbox::MAX_MESSAGE_CHARS;
use super::photos::PhotoError;
use super::token::ReceiptToken;
use crate::store::{
    ComplaintRecord, FollowUp, ShopperAction, ShopperOutcome, ShopperRefusal, Store, StoreError,
    SurveyAnswer,
};

/// The survey's optional comment.
pub const MAX_SURVEY_COMMENT_CHARS: usize = 2_000;
/// Photos on one reply: as many as on the complaint itself.
pub const MAX_REPLY_PHOTOS: usize = MAX_ATTACHMENTS;

#[derive(Debug, thiserror::Error)]
pub enum FollowUpError {
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("no such complaint")]
    NotFound,
    #[error("refused in the complaint's state: {0:?}")]
    Refused(ShopperRefusal),
    #[error(transparent)]
    Photo(#[from] PhotoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A survey answer as it arrives.
#[derive(Debug, Clone, Default)]
pub struct SurveyRequest {
    pub satisfaction: Option<i64>,
    pub quick_enough: Option<bool>,
    pub would_return: Option<bool>,
    pub comment: Option<String>,
}

/// The complaint a link opens and where it stands.
pub async fn open(
    store: &Store,
    token: &str,
) -> Result<Option<(ComplaintRecord, FollowUp)>, StoreError> {
    let Some(token) = ReceiptToken::parse(token) else {
        return Ok(None);
    };
    let Some(complaint) = store.complaint_by_token_hash(token.hash()).await? else {
        return Ok(None);
    };
    Ok(store
        .follow_up(token.hash())
        .await?
        .map(|follow_up| (complaint, follow_up)))
}

/// Until when the shopper may reopen, if the complaint is finished and the
/// window is still open at `now`.
pub fn reopen_until(follow_up: &FollowUp, window_ms: i64, now: i64) -> Option<i64> {
    use heard_shared::Status::{Closed, Resolved};
    if !matches!(follow_up.status, Resolved | Closed) {
        return None;
    }
    let until = follow_up.resolved_at? + window_ms;
    (now <= until).then_some(until)
}

/// Checks a reply before anything is stored: 1–10,000 characters (as a
/// staff reply), trimmed, and at most [`MAX_REPLY_PHOTOS`] photos.
pub fn check_reply(body: &str, photos: usize) -> Result<String, FollowUpError> {
    let body = body.trim();
    let mut errors = Vec::new();
    if body.is_empty() {
        errors.push(FieldError::new(
            "body",
            "required",
            "Write something first.",
        ));
    } else if body.chars().count() > MAX_MESSAGE_CHARS {
        errors.push(FieldError::new(
            "body",
            "too_long",
            format!("A reply can be at most {MAX_MESSAGE_CHARS} characters."),
        ));
    }
    if photos > MAX_REPLY_PHOTOS {
        errors.push(FieldError::new(
            "attachments",
            "too_many",
            format!("A reply can carry at most {MAX_REPLY_PHOTOS} photos."),
        ));
    }
    if errors.is_empty() {
        Ok(body.to_owned())
    } else {
        Err(FollowUpError::Invalid(errors))
    }
}

/// A reply from the shopper (see [`check_reply`]) with the ids of photos
/// uploaded through this link.
pub async fn reply(
    store: &Store,
    token: &str,
    body: &str,
    attachments: Vec<String>,
    now: i64,
) -> Result<(), FollowUpError> {
    let body = check_reply(body, attachments.len())?;
    let action = ShopperAction::Reply { body, attachments };
    match act(store, token, action, now).await {
        Err(FollowUpError::Store(StoreError::UnknownAttachment(index))) => {
            Err(FollowUpError::Invalid(vec![FieldError::new(
                format!("attachments[{index}]"),
                "unknown",
                "This photo is unknown or already used. Upload it again.",
            )]))
        }
        other => other,
    }
}

pub async fn resolve(store: &Store, token: &str, now: i64) -> Result<(), FollowUpError> {
    act(store, token, ShopperAction::Resolve, now).await
}

pub async fn reopen(
    store: &Store,
    token: &str,
    window_ms: i64,
    now: i64,
) -> Result<(), FollowUpError> {
    act(store, token, ShopperAction::Reopen { window_ms }, now).await
}

/// Satisfaction 1–5, two yes/no answers, and an optional comment of at
/// most [`MAX_SURVEY_COMMENT_CHARS`]. One answer per complaint: answering
/// again replaces it, until the complaint is closed.
pub async fn survey(
    store: &Store,
    token: &str,
    request: SurveyRequest,
    now: i64,
) -> Result<(), FollowUpError> {
    let mut errors = Vec::new();
    let satisfaction = match request.satisfaction {
        Some(value @ 1..=5) => value as u8,
        Some(_) => {
            errors.push(FieldError::new(
                "satisfaction",
                "out_of_range",
                "Choose from 1 to 5.",
            ));
            0
        }
        None => {
            errors.push(FieldError::new(
                "satisfaction",
                "required",
                "Choose from 1 to 5.",
            ));
            0
        }
    };
    let mut yes_no = |field: &str, value: Option<bool>| {
        value.unwrap_or_else(|| {
            errors.push(FieldError::new(field, "required", "Answer yes or no."));
            false
        })
    };
    let quick_enough = yes_no("quick_enough", request.quick_enough);
    let would_return = yes_no("would_return", request.would_return);
    let comment = request
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|comment| !comment.is_empty())
        .map(str::to_owned);
    if comment
        .as_ref()
        .is_some_and(|comment| comment.chars().count() > MAX_SURVEY_COMMENT_CHARS)
    {
        errors.push(FieldError::new(
            "comment",
            "too_long",
            format!("A comment can be at most {MAX_SURVEY_COMMENT_CHARS} characters."),
        ));
    }
    if !errors.is_empty() {
        return Err(FollowUpError::Invalid(errors));
    }
    let answer = SurveyAnswer {
        satisfaction,
        quick_enough,
        would_return,
        comment,
    };
    act(store, token, ShopperAction::Survey(answer), now).await
}

/// Checks, re-encodes and stores a photo for a reply on the complaint this
/// link opens, unclaimed until the reply names it (like the widget's
/// uploads, the janitor removes it if no reply does within a day).
pub async fn upload_photo(
    store: &Store,
    token: &str,
    bytes: Vec<u8>,
    now: i64,
) -> Result<AttachmentReceipt, FollowUpError> {
    let Some((complaint, _)) = open(store, token).await? else {
        return Err(FollowUpError::NotFound);
    };
    attachments::store_photo(store, complaint.site_id, bytes, now)
        .await
        .map_err(|error| match error {
            UploadError::Photo(problem) => problem.into(),
            UploadError::Store(error) => error.into(),
        })
}

async fn act(
    store: &Store,
    token: &str,
    action: ShopperAction,
    now: i64,
) -> Result<(), FollowUpError> {
    let Some(token) = ReceiptToken::parse(token) else {
        return Err(FollowUpError::NotFound);
    };
    match store.shopper_act(token.hash(), action, now).await? {
        ShopperOutcome::Done => Ok(()),
        ShopperOutcome::NotFound => Err(FollowUpError::NotFound),
        ShopperOutcome::Refused(refusal) => Err(FollowUpError::Refused(refusal)),
    }
}
