//! An owner's settings of their merchant's sites, from the inbox:
//! `GET`/`PUT /api/v1/inbox/sites/{site_key}` — the name, allowed origins
//! and widget configuration (categories and their questions, languages,
//! channels, branding, the promised response time), plus the exact embed
//! snippet. Everyone of the merchant reads; only owners change (CSRF via
//! [`Staff`]). Another merchant's site is 404.

use axum::Json;
use axum::extract::{Path, State};
use heard_shared::SiteConfig;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use super::staff::Staff;
use crate::domain::inbox_work;
use crate::store::{Role, Site};

#[derive(Debug, Serialize)]
pub struct SiteView {
    pub site_key: String,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub config: SiteConfig,
    /// The script tag to paste into the shop's pages, exactly.
    pub embed_snippet: String,
}

/// The tag a merchant pastes into their pages for `site_key`.
pub fn embed_snippet(public_url: &str, site_key: &str) -> String {
    format!("<script src=\"{public_url}/widget.js\" data-site=\"{site_key}\" async></script>")
}

fn view(state: &AppState, site: Site) -> SiteView {
    SiteView {
        embed_snippet: embed_snippet(&state.public_url, &site.key),
        site_key: site.key,
        name: site.name,
        allowed_origins: site.allowed_origins,
        config: site.config,
    }
}

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_key): Path<String>,
) -> Result<Json<SiteView>, AppError> {
    let site = state
        .store
        .merchant_site(staff.merchant_id(), &site_key)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(view(&state, site)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    allowed_origins: Vec<String>,
    /// The whole widget configuration; its `site_key` is ignored.
    config: SiteConfig,
}

pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path(site_key): Path<String>,
    JsonBody(body): JsonBody<SettingsBody>,
) -> Result<Json<SiteView>, AppError> {
    staff.require(Role::Owner)?;
    // Another merchant's site is 404 before its settings are judged.
    state
        .store
        .merchant_site(staff.merchant_id(), &site_key)
        .await?
        .ok_or(AppError::NotFound)?;
    let (origins, config) =
        inbox_work::check_site_settings(&site_key, &body.allowed_origins, body.config)
            .map_err(AppError::Invalid)?;
    let site = state
        .store
        .update_site_settings(
            staff.merchant_id(),
            staff.user_id(),
            &site_key,
            origins,
            config,
            state.clock.now_millis(),
        )
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(view(&state, site)))
}
