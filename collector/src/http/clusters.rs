//! The clusters API: the merchant's clusters of similar complaints
//! (`GET /api/v1/clusters`) and one with its complaints
//! (`GET /api/v1/clusters/{id}`). Any signed-in staff member of the
//! merchant may read them; another merchant's cluster is a plain 404.
//! Clusters are found and alerted by the sweep (`notify::sweeps`); this
//! API only reads.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::staff::Staff;
use crate::store::{ClusterDetail, ClusterSummary};

/// The most clusters one list answer holds.
pub const MAX_CLUSTERS: usize = 200;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterQuery {
    /// Only clusters a new complaint could still join.
    #[serde(default)]
    active: bool,
    limit: Option<usize>,
}

pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    query: Result<Query<ClusterQuery>, QueryRejection>,
) -> Result<Json<Vec<ClusterSummary>>, AppError> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_CLUSTERS);
    Ok(Json(
        state
            .store
            .clusters(
                staff.merchant_id(),
                query.active,
                limit,
                state.clock.now_millis(),
                state.cluster_window_ms,
            )
            .await?,
    ))
}

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Json<ClusterDetail>, AppError> {
    state
        .store
        .cluster(
            staff.merchant_id(),
            id,
            state.clock.now_millis(),
            state.cluster_window_ms,
        )
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}
