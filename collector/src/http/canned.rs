//! Canned replies per merchant and language: owners write them, agents
//! insert them into a reply on the complaint page (and adapt them there
//! before sending).
//!
//! Every handler takes [`Staff`]. Anyone of the merchant reads them; only
//! owners add, change or remove one. Another merchant's reply is 404.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use super::staff::Staff;
use super::views::Deleted;
use crate::domain::inbox_work::{self, CannedRequest};
use crate::store::{CannedReply, Role};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Replies in this language (then its primary language) come first.
    language: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CannedView {
    pub canned_replies: Vec<CannedReply>,
}

pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<ListQuery>,
) -> Result<Json<CannedView>, AppError> {
    let canned_replies =
        inbox_work::canned_replies(&state.store, staff.merchant_id(), query.language.as_deref())
            .await?;
    Ok(Json(CannedView { canned_replies }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedBody {
    language: String,
    title: String,
    body: String,
}

impl From<CannedBody> for CannedRequest {
    fn from(body: CannedBody) -> Self {
        CannedRequest {
            language: body.language,
            title: body.title,
            body: body.body,
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<CannedBody>,
) -> Result<(StatusCode, Json<CannedReply>), AppError> {
    staff.require(Role::Owner)?;
    let reply = inbox_work::save_canned_reply(
        &state.store,
        staff.merchant_id(),
        staff.user_id(),
        None,
        body.into(),
        state.clock.now_millis(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CannedBody>,
) -> Result<Json<CannedReply>, AppError> {
    staff.require(Role::Owner)?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let reply = inbox_work::save_canned_reply(
        &state.store,
        staff.merchant_id(),
        staff.user_id(),
        Some(id),
        body.into(),
        state.clock.now_millis(),
    )
    .await?;
    Ok(Json(reply))
}

pub async fn delete(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<Deleted>, AppError> {
    staff.require(Role::Owner)?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    match state
        .store
        .delete_canned_reply(
            staff.merchant_id(),
            staff.user_id(),
            id,
            state.clock.now_millis(),
        )
        .await?
    {
        crate::store::Change::Done(()) => Ok(Json(Deleted { deleted: true })),
        _ => Err(AppError::NotFound),
    }
}
