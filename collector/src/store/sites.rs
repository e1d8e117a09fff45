//! Merchants and their sites.
//!
//! Every function here or elsewhere that writes the `sites` table calls
//! `site_cache::note_site_written` in its writer job, so the public API's
//! kept sites are forgotten (`site_cache.rs`).

use heard_shared::SiteConfig;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;
use super::site_cache::note_site_written;
use crate::{clock, random};

/// A merchant's website, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub id: i64,
    pub merchant_id: i64,
    pub key: String,
    pub name: String,
    /// Origins allowed to embed the widget and post complaints.
    pub allowed_origins: Vec<String>,
    pub config: SiteConfig,
    /// Keys the HMAC with which the merchant's server vouches for identities.
    pub identity_secret: Secret,
}

/// Secret bytes that never appear in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(<redacted>)")
    }
}

/// A site to create.
#[derive(Debug, Clone)]
pub struct NewSite {
    /// The merchant (tenant) that owns it; created when new.
    pub merchant: String,
    pub key: String,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub config: SiteConfig,
}

const COLUMNS: &str = "id, merchant_id, site_key, name, allowed_origins, config, identity_secret";

pub(super) fn by_key(connection: &Connection, site_key: &str) -> Result<Option<Site>, StoreError> {
    connection
        .prepare_cached(&format!("SELECT {COLUMNS} FROM sites WHERE site_key = ?1"))?
        .query_row([site_key], from_row)
        .optional()?
        .transpose()
}

pub(super) fn by_id(connection: &Connection, site_id: i64) -> Result<Option<Site>, StoreError> {
    connection
        .prepare_cached(&format!("SELECT {COLUMNS} FROM sites WHERE id = ?1"))?
        .query_row([site_id], from_row)
        .optional()?
        .transpose()
}

pub(super) fn all(connection: &Connection) -> Result<Vec<Site>, StoreError> {
    let mut statement =
        connection.prepare(&format!("SELECT {COLUMNS} FROM sites ORDER BY site_key"))?;
    let rows = statement.query_map([], from_row)?;
    rows.map(|row| row?).collect()
}

pub(super) fn insert(connection: &Connection, site: &NewSite) -> Result<Site, StoreError> {
    if by_key(connection, &site.key)?.is_some() {
        return Err(StoreError::DuplicateSite(site.key.clone()));
    }
    let now = clock::now_millis();
    let merchant_id = merchant_id(connection, &site.merchant, now)?;
    connection.execute(
        "INSERT INTO sites (merchant_id, site_key, name, allowed_origins, config, created_at, updated_at,
                            identity_secret)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
        params![
            merchant_id,
            site.key,
            site.name,
            to_json(&site.allowed_origins)?,
            to_json(&site.config)?,
            now,
            new_secret(),
        ],
    )?;
    note_site_written();
    by_key(connection, &site.key)?.ok_or_else(|| StoreError::Corrupt("site vanished".to_owned()))
}

/// Replaces a site's configuration (and its name, which the configuration
/// carries); `None` when no site has this key.
pub(super) fn configure(
    connection: &Connection,
    site_key: &str,
    config: &SiteConfig,
) -> Result<Option<Site>, StoreError> {
    let updated = connection.execute(
        "UPDATE sites SET name = ?2, config = ?3, updated_at = ?4 WHERE site_key = ?1",
        params![site_key, config.name, to_json(config)?, clock::now_millis()],
    )?;
    note_site_written();
    if updated == 0 {
        return Ok(None);
    }
    by_key(connection, site_key)
}

pub(super) fn upsert(connection: &Connection, site: &NewSite) -> Result<Site, StoreError> {
    let updated = connection.execute(
        "UPDATE sites SET allowed_origins = ?2, updated_at = ?3 WHERE site_key = ?1",
        params![
            site.key,
            to_json(&site.allowed_origins)?,
            clock::now_millis()
        ],
    )?;
    note_site_written();
    if updated == 0 {
        return insert(connection, site);
    }
    by_key(connection, &site.key)?.ok_or_else(|| StoreError::Corrupt("site vanished".to_owned()))
}

fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 32];
    random::fill(&mut secret);
    secret
}

pub(super) fn merchant_id(
    connection: &Connection,
    name: &str,
    now: i64,
) -> Result<i64, StoreError> {
    connection.execute(
        "INSERT INTO merchants (name, created_at) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
        params![name, now],
    )?;
    Ok(
        connection.query_row("SELECT id FROM merchants WHERE name = ?1", [name], |row| {
            row.get(0)
        })?,
    )
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<Site, StoreError>> {
    let key: String = row.get(2)?;
    let name: String = row.get(3)?;
    let origins: String = row.get(4)?;
    let config: String = row.get(5)?;
    let identity_secret: Option<Vec<u8>> = row.get(6)?;
    let id = row.get(0)?;
    let merchant_id = row.get(1)?;
    Ok((|| {
        let mut config: SiteConfig = from_json(&config)?;
        // The row is the truth for the key and name; the JSON holds the rest.
        config.site_key.clone_from(&key);
        config.name.clone_from(&name);
        Ok(Site {
            id,
            merchant_id,
            key,
            name,
            allowed_origins: from_json(&origins)?,
            config,
            identity_secret: Secret(
                identity_secret
                    .ok_or_else(|| StoreError::Corrupt("site without a secret".to_owned()))?,
            ),
        })
    })())
}

pub(super) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// An enum stored as its serde name (`"serious"`, `"complaint"`).
pub(super) fn parse_enum<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|error| StoreError::Corrupt(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::temp_store;

    fn new_site(key: &str, origins: &[&str]) -> NewSite {
        NewSite {
            merchant: "Acme".to_owned(),
            key: key.to_owned(),
            name: "Acme shop".to_owned(),
            allowed_origins: origins.iter().map(|origin| origin.to_string()).collect(),
            config: SiteConfig::with_defaults(key, "Acme shop"),
        }
    }

    #[tokio::test]
    async fn sites_round_trip_and_keys_are_unique() {
        let temp = temp_store();
        let site = temp
            .store
            .add_site(new_site("acme", &["https://acme.example"]))
            .await
            .unwrap();
        assert_eq!(site.allowed_origins, ["https://acme.example"]);
        assert_eq!(
            temp.store.site_by_key("acme").await.unwrap(),
            Some(site.clone())
        );
        assert_eq!(temp.store.site_by_key("nope").await.unwrap(), None);

        let duplicate = temp
            .store
            .add_site(new_site("acme", &[]))
            .await
            .unwrap_err();
        assert!(matches!(duplicate, StoreError::DuplicateSite(_)));

        let second = temp.store.add_site(new_site("acme-2", &[])).await.unwrap();
        assert_eq!(second.merchant_id, site.merchant_id, "same merchant reused");
    }

    #[tokio::test]
    async fn a_new_configuration_replaces_the_old_one() {
        let temp = temp_store();
        temp.store.add_site(new_site("acme", &[])).await.unwrap();
        let mut config = SiteConfig::with_defaults("acme", "Acme kitchens");
        config.categories.swap(0, 1);
        config.categories[0].label = "Late or missing".to_owned();
        let site = temp
            .store
            .configure_site("acme", config.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(site.name, "Acme kitchens");
        assert_eq!(site.config.categories[0].label, "Late or missing");
        assert_eq!(
            temp.store
                .site_by_key("acme")
                .await
                .unwrap()
                .unwrap()
                .config,
            site.config
        );
        assert!(
            temp.store
                .configure_site("nope", config)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn upsert_replaces_origins_of_an_existing_site() {
        let temp = temp_store();
        temp.store
            .upsert_site(new_site("demo", &["http://a"]))
            .await
            .unwrap();
        let updated = temp
            .store
            .upsert_site(new_site("demo", &["http://b"]))
            .await
            .unwrap();
        assert_eq!(updated.allowed_origins, ["http://b"]);
        assert_eq!(temp.store.sites().await.unwrap().len(), 1);
    }
}
