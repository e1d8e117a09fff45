//! The staff inbox's JSON API: the list, one complaint, and the actions.
//!
//! Every handler takes [`Staff`], so each needs a session and every POST is
//! CSRF-checked. Viewers read; agents and owners act. Complaints are found
//! by reference *within the signed-in merchant*, so another merchant's
//! reference answers 404 exactly like one that does not exist.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use heard_shared::{FieldError, Status};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use super::staff::Staff;
use crate::domain::inbox::{self, InboxError, ListRequest, Request};
use crate::store::{ComplaintDetail, InboxRow, Role};

/// Body limit of the inbox's POSTs: a 10,000-character reply is at most
/// 40 KB of UTF-8, more with JSON escapes.
pub const INBOX_BODY_BYTES: usize = 96 * 1024;

/// The list's query string. Everything is text here and parsed by the
/// domain, so a bad value gets a field error in the usual shape.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    site: Option<String>,
    category: Option<String>,
    value: Option<String>,
    severity: Option<String>,
    mood: Option<String>,
    outcome: Option<String>,
    language: Option<String>,
    assignee: Option<String>,
    tag: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
    folder: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ListView {
    pub complaints: Vec<InboxRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ListView>, AppError> {
    let Query(query) = query?;
    let mut errors = Vec::new();
    let request = ListRequest {
        status: query.status,
        site: query.site,
        category: query.category,
        value: query.value,
        severity: query.severity,
        mood: query.mood,
        outcome: query.outcome,
        language: query.language,
        assignee: query.assignee,
        tag: query.tag,
        from: number("from", query.from, &mut errors),
        to: number("to", query.to, &mut errors),
        q: query.q,
        cursor: query.cursor,
        limit: number("limit", query.limit, &mut errors),
        folder: query.folder,
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let now = state.clock.now_millis();
    let answer = inbox::list(
        &state.store,
        staff.merchant_id(),
        staff.user_id(),
        request,
        now,
    )
    .await?;
    Ok(Json(ListView {
        complaints: answer.page.rows,
        next_cursor: answer.next_cursor,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
) -> Result<Json<ComplaintDetail>, AppError> {
    let now = state.clock.now_millis();
    let detail = inbox::complaint(&state.store, staff.merchant_id(), &reference, now).await?;
    Ok(Json(detail))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
) -> Result<Json<ComplaintDetail>, AppError> {
    act(&state, &staff, &reference, Request::Acknowledge).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// The staff member, or `null` to unassign.
    user_id: Option<i64>,
}

pub async fn assign(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
    JsonBody(body): JsonBody<AssignBody>,
) -> Result<Json<ComplaintDetail>, AppError> {
    act(&state, &staff, &reference, Request::Assign(body.user_id)).await
}

#[derive(Debug, Deserialize)]
pub struct StatusBody {
    status: Status,
}

pub async fn set_status(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<ComplaintDetail>, AppError> {
    act(&state, &staff, &reference, Request::Status(body.status)).await
}

#[derive(Debug, Deserialize)]
pub struct TagsBody {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

pub async fn tags(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
    JsonBody(body): JsonBody<TagsBody>,
) -> Result<Json<ComplaintDetail>, AppError> {
    let request = Request::Tags {
        add: body.add,
        remove: body.remove,
    };
    act(&state, &staff, &reference, request).await
}

#[derive(Debug, Deserialize)]
pub struct MessageBody {
    body: String,
}

/// An internal note: staff only, never shown to the shopper.
pub async fn note(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
    JsonBody(body): JsonBody<MessageBody>,
) -> Result<Json<ComplaintDetail>, AppError> {
    act(&state, &staff, &reference, Request::Note(body.body)).await
}

/// A public reply: shown to the shopper on their status page.
pub async fn reply(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
    JsonBody(body): JsonBody<MessageBody>,
) -> Result<Json<ComplaintDetail>, AppError> {
    act(&state, &staff, &reference, Request::Reply(body.body)).await
}

/// Every action: agents and owners only (403 for viewers), then the domain.
async fn act(
    state: &AppState,
    staff: &Staff,
    reference: &str,
    request: Request,
) -> Result<Json<ComplaintDetail>, AppError> {
    staff.require(Role::Agent)?;
    let now = state.clock.now_millis();
    let detail = inbox::act(
        &state.store,
        staff.merchant_id(),
        staff.user_id(),
        reference,
        request,
        now,
    )
    .await?;
    Ok(Json(detail))
}

fn number<T: std::str::FromStr>(
    field: &str,
    value: Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let value = value.filter(|text| !text.is_empty())?;
    match value.parse() {
        Ok(number) => Some(number),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "invalid",
                format!("{field} must be a whole number."),
            ));
            None
        }
    }
}

impl From<InboxError> for AppError {
    fn from(error: InboxError) -> Self {
        match error {
            InboxError::Invalid(fields) => AppError::Invalid(fields),
            InboxError::NotFound => AppError::NotFound,
            InboxError::Transition { from, to } => AppError::StatusConflict(format!(
                "A complaint that is {} cannot become {}.",
                from.as_str(),
                to.as_str()
            )),
            InboxError::Store(error) => error.into(),
        }
    }
}
