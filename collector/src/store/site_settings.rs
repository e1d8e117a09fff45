//! An owner's changes to their merchant's sites from the inbox: the name,
//! the allowed origins and the widget configuration, with an audit entry in
//! the same job. Every query filters on the merchant, so another merchant's
//! site key is simply not found.

use heard_shared::SiteConfig;
use rusqlite::params;

use super::audit::{self, AuditNote};
use super::site_cache::note_site_written;
use super::sites::{self, Site, to_json};
use super::{Store, StoreError};

impl Store {
    /// The merchant's site `site_key`, or `None`.
    pub async fn merchant_site(
        &self,
        merchant_id: i64,
        site_key: &str,
    ) -> Result<Option<Site>, StoreError> {
        let site_key = site_key.to_owned();
        self.read(move |connection| {
            Ok(
                sites::by_key(connection, &site_key)?
                    .filter(|site| site.merchant_id == merchant_id),
            )
        })
        .await
    }

    /// Replaces the merchant's site's allowed origins and configuration (its
    /// name is the configuration's), with an audit entry; `None` when the
    /// merchant has no such site. The caller has checked both.
    pub async fn update_site_settings(
        &self,
        merchant_id: i64,
        actor_user_id: i64,
        site_key: &str,
        allowed_origins: Vec<String>,
        config: SiteConfig,
        now: i64,
    ) -> Result<Option<Site>, StoreError> {
        let site_key = site_key.to_owned();
        self.inner
            .writer
            .run(move |connection| {
                let updated = connection
                    .prepare_cached(
                        "UPDATE sites SET name = ?3, allowed_origins = ?4, config = ?5, updated_at = ?6
                         WHERE merchant_id = ?1 AND site_key = ?2",
                    )?
                    .execute(params![
                        merchant_id,
                        site_key,
                        config.name,
                        to_json(&allowed_origins)?,
                        to_json(&config)?,
                        now
                    ])?;
                note_site_written();
                if updated == 0 {
                    return Ok(None);
                }
                audit::record(
                    connection,
                    merchant_id,
                    &AuditNote::new(
                        Some(actor_user_id),
                        "site.settings_changed",
                        serde_json::json!({
                            "site": site_key,
                            "name": config.name,
                            "allowed_origins": allowed_origins,
                            "categories": config.categories.len(),
                            "languages": config.languages,
                        }),
                    ),
                    now,
                )?;
                sites::by_key(connection, &site_key)
            })
            .await
    }
}
