//! The spam folder's actions (issue 9): `POST
//! /api/v1/inbox/complaints/{reference}/restore` ("Not spam") and `…/spam`
//! ("Mark as spam"). Like every inbox action they take [`Staff`] (session
//! and CSRF check), need an agent or owner (viewers may only look), and
//! find the complaint within the signed-in merchant: another merchant's
//! reference is a plain 404. The folder itself is the list's
//! `folder=spam` (`http/inbox.rs`).

use axum::Json;
use axum::extract::{Path, State};

use super::AppState;
use super::error::AppError;
use super::staff::Staff;
use crate::domain::live::Arrival;
use crate::domain::spam::{self, SpamError};
use crate::store::{ComplaintDetail, Role};

/// Restores suspected spam to the inbox; `409` when it is not spam. Open
/// inboxes hear of it as of a new arrival.
pub async fn restore(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
) -> Result<Json<ComplaintDetail>, AppError> {
    staff.require(Role::Agent)?;
    let detail = spam::restore(
        &state.store,
        &state.public_url,
        staff.merchant_id(),
        staff.user_id(),
        &reference,
        state.clock.now_millis(),
    )
    .await?;
    state.live.publish(Arrival {
        merchant_id: staff.merchant_id(),
        reference: detail.reference.clone(),
    });
    Ok(Json(detail))
}

/// Moves a complaint that got through to the spam folder; `409` when it
/// is there already.
pub async fn mark(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
) -> Result<Json<ComplaintDetail>, AppError> {
    staff.require(Role::Agent)?;
    let detail = spam::mark(
        &state.store,
        staff.merchant_id(),
        staff.user_id(),
        &reference,
        state.clock.now_millis(),
    )
    .await?;
    Ok(Json(detail))
}

impl From<SpamError> for AppError {
    fn from(error: SpamError) -> Self {
        match error {
            SpamError::NotFound => AppError::NotFound,
            SpamError::NotSpam => {
                AppError::StatusConflict("This complaint is not in the spam folder.".to_owned())
            }
            SpamError::AlreadySpam => {
                AppError::StatusConflict("This complaint is already in the spam folder.".to_owned())
            }
            SpamError::Store(error) => error.into(),
        }
    }
}
