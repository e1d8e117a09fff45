//! Merging duplicates and linking related complaints, through the inbox's
//! JSON API. Every handler takes [`Staff`]; agents and owners change, anyone
//! of the merchant reads. Both complaints must be the merchant's: another
//! merchant's reference, in the path or the body, is 404 and changes nothing.

use axum::Json;
use axum::extract::{Path, State};
use heard_shared::FieldError;
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use super::staff::Staff;
use crate::store::{Related, RelationOutcome, RelationRefusal, Role};

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
) -> Result<Json<Related>, AppError> {
    state
        .store
        .related_complaints(staff.merchant_id(), &reference)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The primary complaint's reference.
    into: String,
}

/// Merges the complaint in the path (the duplicate) into `into`; answers
/// what the duplicate is now related to.
pub async fn merge(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
    JsonBody(body): JsonBody<MergeBody>,
) -> Result<Json<Related>, AppError> {
    staff.require(Role::Agent)?;
    let outcome = state
        .store
        .merge_complaints(
            staff.merchant_id(),
            staff.user_id(),
            &reference,
            body.into.trim(),
            state.clock.now_millis(),
        )
        .await?;
    answer(outcome, "into")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// The other complaint's reference.
    with: String,
    /// `false` removes the link.
    #[serde(default = "yes")]
    linked: bool,
}

fn yes() -> bool {
    true
}

pub async fn link(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
    JsonBody(body): JsonBody<LinkBody>,
) -> Result<Json<Related>, AppError> {
    staff.require(Role::Agent)?;
    let outcome = state
        .store
        .link_complaints(
            staff.merchant_id(),
            staff.user_id(),
            &reference,
            body.with.trim(),
            body.linked,
            state.clock.now_millis(),
        )
        .await?;
    answer(outcome, "with")
}

fn answer(outcome: RelationOutcome, field: &str) -> Result<Json<Related>, AppError> {
    let refused = |code: &str, message: &str| {
        Err(AppError::Invalid(vec![FieldError::new(
            field, code, message,
        )]))
    };
    match outcome {
        RelationOutcome::Done(related) => Ok(Json(*related)),
        RelationOutcome::NotFound => Err(AppError::NotFound),
        RelationOutcome::Refused(RelationRefusal::SameComplaint) => refused(
            "same",
            "A complaint cannot be merged or linked with itself.",
        ),
        RelationOutcome::Refused(RelationRefusal::AlreadyMerged) => {
            refused("already_merged", "This complaint is merged already.")
        }
        RelationOutcome::Refused(RelationRefusal::IntoMerged) => refused(
            "into_merged",
            "That complaint is itself merged into another; merge into that one.",
        ),
    }
}
