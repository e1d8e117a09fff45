//! The merchant's retention (issue 9): `GET`/`PUT /api/v1/retention`.
//! Everyone of the merchant reads it; only owners change it (CSRF via
//! [`Staff`]), with an audit entry. `retention_days` is a whole number of
//! days in the allowed range, or `null` to keep everything forever.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use super::staff::Staff;
use crate::domain::retention::{self, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};
use crate::store::Role;
use heard_shared::FieldError;

/// The one sentence that explains the setting, on the page and in the API.
pub const EXPLANATION: &str = "Finished complaints lose their text, photos and contact details \
     this many days after they were resolved or closed; counts and figures stay. Open complaints \
     keep everything.";

#[derive(Debug, Serialize)]
pub struct RetentionView {
    /// `null`: complaints are kept forever.
    pub retention_days: Option<u32>,
    pub min_days: u32,
    pub max_days: u32,
    pub explanation: &'static str,
}

fn view(retention_days: Option<u32>) -> RetentionView {
    RetentionView {
        retention_days,
        min_days: MIN_RETENTION_DAYS,
        max_days: MAX_RETENTION_DAYS,
        explanation: EXPLANATION,
    }
}

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<RetentionView>, AppError> {
    let days = state.store.retention_days(staff.merchant_id()).await?;
    Ok(Json(view(days)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// Required, so that `{}` cannot switch retention off by accident:
    /// a number of days, or `null` for forever.
    retention_days: serde_json::Value,
}

pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<RetentionBody>,
) -> Result<Json<RetentionView>, AppError> {
    staff.require(Role::Owner)?;
    let days = match &body.retention_days {
        serde_json::Value::Null => None,
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(days) => Some(days),
            None => return Err(not_a_number()),
        },
        _ => return Err(not_a_number()),
    };
    let days = retention::check_days(days).map_err(|error| AppError::Invalid(vec![error]))?;
    state
        .store
        .set_retention_days(
            staff.merchant_id(),
            staff.user_id(),
            days,
            state.clock.now_millis(),
        )
        .await?;
    Ok(Json(view(days)))
}

fn not_a_number() -> AppError {
    AppError::Invalid(vec![FieldError {
        field: "retention_days".to_owned(),
        code: "invalid".to_owned(),
        message: "Give the number of days as a whole number, or null to keep complaints forever."
            .to_owned(),
    }])
}
