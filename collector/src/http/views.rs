//! Saved views: a staff member names the list's current filter, for
//! themselves or for everyone of the merchant.
//!
//! Every handler takes [`Staff`]. Anyone of the merchant lists the views
//! they may use; agents and owners save and remove them (viewers change
//! nothing). Another merchant's view, or a colleague's personal one, is 404.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::AppError;
use super::inbox_pages::list::Filters;
use super::json::JsonBody;
use super::staff::Staff;
use crate::domain::inbox::{self, InboxError};
use crate::domain::inbox_work::{self, WorkError};
use crate::store::{Role, SavedView};

#[derive(Debug, Serialize)]
pub struct ViewsView {
    pub views: Vec<SavedView>,
}

pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<ViewsView>, AppError> {
    let views = state
        .store
        .saved_views(staff.merchant_id(), staff.user_id())
        .await?;
    Ok(Json(ViewsView { views }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveBody {
    name: String,
    /// The list page's query string (`status=open&assignee=me`).
    query: String,
    #[serde(default)]
    shared: bool,
}

/// Saves a view. The query is read as the list page reads it and must be
/// one the list accepts; it is stored normalised (empty fields and the
/// page cursor dropped).
pub async fn save(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<SaveBody>,
) -> Result<(StatusCode, Json<SavedView>), AppError> {
    staff.require(Role::Agent)?;
    let now = state.clock.now_millis();
    let query = checked_query(&state, &staff, &body.query, now).await?;
    let view = inbox_work::save_view(
        &state.store,
        staff.merchant_id(),
        staff.user_id(),
        &body.name,
        &query,
        body.shared,
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Serialize)]
pub struct Deleted {
    pub deleted: bool,
}

pub async fn delete(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<Deleted>, AppError> {
    staff.require(Role::Agent)?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    inbox_work::delete_view(
        &state.store,
        staff.merchant_id(),
        staff.user_id(),
        staff.role().includes(Role::Owner),
        id,
        state.clock.now_millis(),
    )
    .await?;
    Ok(Json(Deleted { deleted: true }))
}

/// The list page's reading of `query`, normalised; a filter the list
/// refuses is a `422` naming it.
async fn checked_query(
    state: &AppState,
    staff: &Staff,
    query: &str,
    now: i64,
) -> Result<String, AppError> {
    let query = query.trim().trim_start_matches('?');
    let invalid = |message: String| {
        AppError::Invalid(vec![heard_shared::FieldError::new(
            "query", "invalid", message,
        )])
    };
    let uri: Uri = format!("/inbox?{query}")
        .parse()
        .map_err(|_| invalid("This is not a query string of the list.".to_owned()))?;
    let Query(mut filters) =
        Query::<Filters>::try_from_uri(&uri).map_err(|rejection| invalid(rejection.body_text()))?;
    // A view starts at the first page, wherever it was saved from.
    filters.cursor.clear();
    let mut errors = Vec::new();
    let request = filters.request(Some(1), &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    match inbox::list(
        &state.store,
        staff.merchant_id(),
        staff.user_id(),
        request,
        now,
    )
    .await
    {
        Ok(_) => Ok(filters.query_string()),
        Err(InboxError::Invalid(fields)) => Err(AppError::Invalid(fields)),
        Err(other) => Err(other.into()),
    }
}

impl From<WorkError> for AppError {
    fn from(error: WorkError) -> Self {
        match error {
            WorkError::Invalid(fields) => AppError::Invalid(fields),
            WorkError::NotFound => AppError::NotFound,
            WorkError::NotYours => AppError::Forbidden,
            WorkError::Store(error) => error.into(),
        }
    }
}
