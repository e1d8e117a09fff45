//! `GET /healthz`: the process is up and its database answers.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use super::error::AppError;

pub async fn health(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ok" })))
}
