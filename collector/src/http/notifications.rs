//! The notifications API: webhook endpoints (with secret rotation), the
//! outbox with its dead-letter list and "retry now", and the language a
//! staff member reads notifications in.
//!
//! Owners only, except choosing one's own language. A webhook's secret is
//! shown once, when it is created or rotated, and never again.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use heard_shared::FieldError;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use super::routing::refused;
use super::staff::Staff;
use crate::domain::routing;
use crate::notify::email;
use crate::notify::webhook::{self, check_url};
use crate::store::{NotificationView, Role, Webhook, WebhookFormat, WebhookInput};

/// How long the previous secret keeps signing after a rotation: a day, as
/// the Standard Webhooks guidance suggests, for receivers to switch over.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;
/// The most notifications one list answer holds.
pub const MAX_LIST: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    name: String,
    url: String,
    #[serde(default = "standard")]
    format: WebhookFormat,
    /// Let the URL reach loopback, private or link-local addresses.
    #[serde(default)]
    allow_private: bool,
    #[serde(default = "yes")]
    enabled: bool,
}

fn standard() -> WebhookFormat {
    WebhookFormat::Standard
}

fn yes() -> bool {
    true
}

impl WebhookBody {
    fn checked(self) -> Result<WebhookInput, AppError> {
        let mut errors = Vec::new();
        routing::check_name("name", &self.name, &mut errors);
        if let Err(problem) = check_url(&self.url, self.allow_private) {
            let code = match problem {
                webhook::UrlProblem::Private => "private_address",
                webhook::UrlProblem::TooLong => "too_long",
                _ => "invalid",
            };
            errors.push(FieldError::new("url", code, problem.to_string()));
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        Ok(WebhookInput {
            name: self.name,
            url: self.url,
            format: self.format,
            allow_private: self.allow_private,
            enabled: self.enabled,
        })
    }
}

/// An endpoint with its new secret: the only time the secret is shown.
#[derive(Debug, Serialize, Deserialize)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: serde_json::Value,
    /// `whsec_…`: give it to the receiver to verify `webhook-signature`.
    pub secret: String,
}

fn with_secret(webhook: Webhook, secret: &[u8]) -> Result<WebhookWithSecret, AppError> {
    Ok(WebhookWithSecret {
        webhook: serde_json::to_value(webhook)
            .map_err(|error| AppError::Internal(error.to_string()))?,
        secret: webhook::secret_text(secret),
    })
}

pub async fn list_webhooks(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<Webhook>>, AppError> {
    staff.require(Role::Owner)?;
    Ok(Json(state.store.webhooks(staff.merchant_id()).await?))
}

pub async fn create_webhook(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), AppError> {
    staff.require(Role::Owner)?;
    let input = body.checked()?;
    let secret = webhook::new_secret();
    let now = state.clock.now_millis();
    let created = state
        .store
        .add_webhook(staff.merchant_id(), staff.user_id(), input, secret, now)
        .await?
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(with_secret(created, &secret)?)))
}

pub async fn update_webhook(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<Json<Webhook>, AppError> {
    staff.require(Role::Owner)?;
    let input = body.checked()?;
    let now = state.clock.now_millis();
    let updated = state
        .store
        .update_webhook(staff.merchant_id(), staff.user_id(), id, input, now)
        .await?
        .map_err(refused)?;
    Ok(Json(updated))
}

/// A new secret; the old one keeps signing beside it for a day.
pub async fn rotate_secret(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Json<WebhookWithSecret>, AppError> {
    staff.require(Role::Owner)?;
    let secret = webhook::new_secret();
    let now = state.clock.now_millis();
    let rotated = state
        .store
        .rotate_webhook_secret(
            staff.merchant_id(),
            staff.user_id(),
            id,
            secret,
            now + ROTATION_OVERLAP_MS,
            now,
        )
        .await?
        .map_err(refused)?;
    Ok(Json(with_secret(rotated, &secret)?))
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    staff.require(Role::Owner)?;
    let now = state.clock.now_millis();
    state
        .store
        .delete_webhook(staff.merchant_id(), staff.user_id(), id, now)
        .await?
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// `pending`, `delivered` or `dead` (the dead-letter list).
    state: Option<String>,
    limit: Option<usize>,
}

pub async fn list_notifications(
    State(state): State<AppState>,
    staff: Staff,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<NotificationView>>, AppError> {
    staff.require(Role::Owner)?;
    let Query(query) = query?;
    if let Some(wanted) = &query.state
        && !matches!(wanted.as_str(), "pending" | "delivered" | "dead")
    {
        return Err(AppError::Invalid(vec![FieldError::new(
            "state",
            "invalid",
            "state is one of pending, delivered, dead.",
        )]));
    }
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_LIST);
    Ok(Json(
        state
            .store
            .notifications(staff.merchant_id(), query.state, limit)
            .await?,
    ))
}

/// Puts a dead notification back in the queue, due now, with a fresh schedule.
pub async fn retry_notification(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Json<NotificationView>, AppError> {
    staff.require(Role::Owner)?;
    let now = state.clock.now_millis();
    state
        .store
        .retry_notification(staff.merchant_id(), staff.user_id(), id, now)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageBody {
    /// A language tag with a catalog, or `null` for English.
    language: Option<String>,
}

/// Chooses the language of one's own notification email.
pub async fn set_language(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<LanguageBody>,
) -> Result<StatusCode, AppError> {
    let language = match body.language {
        None => None,
        Some(tag) => match email::languages().find(|known| known.eq_ignore_ascii_case(&tag)) {
            Some(known) => Some(known.to_owned()),
            None => {
                return Err(AppError::Invalid(vec![FieldError::new(
                    "language",
                    "unknown",
                    format!(
                        "Notifications are written in {}.",
                        email::languages().collect::<Vec<_>>().join(", ")
                    ),
                )]));
            }
        },
    };
    if state
        .store
        .set_staff_language(staff.merchant_id(), staff.user_id(), language)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound)
    }
}
