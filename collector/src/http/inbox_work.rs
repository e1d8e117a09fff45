//! What a busy support team adds to the inbox's JSON API: each site's
//! response targets, and bulk actions on a selection of complaints.
//!
//! Every handler takes [`Staff`] (a session; CSRF on every change). Anyone
//! of the merchant reads the targets, only owners change them; agents and
//! owners run bulk actions. Another merchant's site or complaint answers 404.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use super::staff::Staff;
use crate::domain::inbox_work::{self, BulkRequest, Target};
use crate::store::Role;

#[derive(Debug, Serialize)]
pub struct TargetsView {
    pub site_key: String,
    /// One entry per class, defaults filled in.
    pub targets: Vec<Target>,
    /// After a change: how many open complaints got new due dates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recomputed: Option<usize>,
}

pub async fn targets(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_key): Path<String>,
) -> Result<Json<TargetsView>, AppError> {
    let targets =
        inbox_work::response_targets(&state.store, staff.merchant_id(), &site_key).await?;
    Ok(Json(TargetsView {
        site_key,
        targets,
        recomputed: None,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsBody {
    /// The site's own targets; a class left out (or marked `default`) keeps
    /// the default hours.
    targets: Vec<Target>,
}

pub async fn set_targets(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_key): Path<String>,
    JsonBody(body): JsonBody<TargetsBody>,
) -> Result<Json<TargetsView>, AppError> {
    staff.require(Role::Owner)?;
    let now = state.clock.now_millis();
    let (targets, recomputed) = inbox_work::set_response_targets(
        &state.store,
        staff.merchant_id(),
        staff.user_id(),
        &site_key,
        body.targets,
        now,
    )
    .await?;
    Ok(Json(TargetsView {
        site_key,
        targets,
        recomputed: Some(recomputed),
    }))
}

#[derive(Debug, Deserialize)]
pub struct BulkBody {
    /// At most [`inbox_work::MAX_BULK`] references of the merchant's complaints.
    references: Vec<String>,
    #[serde(flatten)]
    action: BulkRequest,
}

#[derive(Debug, Serialize)]
pub struct BulkView {
    /// How many complaints were changed: all of the selection.
    pub changed: usize,
}

pub async fn bulk(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<BulkBody>,
) -> Result<Json<BulkView>, AppError> {
    staff.require(Role::Agent)?;
    let now = state.clock.now_millis();
    let changed = inbox_work::bulk(
        &state.store,
        staff.merchant_id(),
        staff.user_id(),
        body.references,
        body.action,
        now,
    )
    .await?;
    Ok(Json(BulkView { changed }))
}
