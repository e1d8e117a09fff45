//! What the inbox pages need beside the list itself: the merchant's sites
//! with their categories (for the filter form), the counts shown above the
//! list, and a complaint's photos. Like every inbox query, each takes the merchant id and filters
//! on it in SQL.

use rusqlite::{Connection, OptionalExtension, params};

use super::sites::from_json;
use super::{Store, StoreError};

const HOUR: i64 = 60 * 60 * 1000;

/// How far ahead "due soon" looks.
pub const DUE_SOON_MS: i64 = 4 * HOUR;

/// One of the merchant's sites, as the filter form offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantSite {
    pub key: String,
    pub name: String,
    /// Category ids and labels, in the site's order (hidden ones too: old
    /// complaints may carry them).
    pub categories: Vec<(String, String)>,
}

/// The numbers above the inbox list, over every open complaint of the merchant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxCounts {
    pub open: i64,
    pub unassigned: i64,
    /// Open safety complaints.
    pub urgent: i64,
    /// A first response or resolution target already missed.
    pub overdue: i64,
    /// Not overdue, but a target falls within [`DUE_SOON_MS`].
    pub due_soon: i64,
}

impl Store {
    /// The merchant's sites, by key.
    pub async fn merchant_sites(&self, merchant_id: i64) -> Result<Vec<MerchantSite>, StoreError> {
        self.read(move |connection| merchant_sites(connection, merchant_id))
            .await
    }

    /// A photo of the merchant's complaint `reference`: its content type
    /// and bytes. Another merchant's complaint, or a photo of another
    /// complaint, is `None`.
    pub async fn complaint_photo(
        &self,
        merchant_id: i64,
        reference: &str,
        photo_id: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let (reference, photo_id) = (reference.to_owned(), photo_id.to_owned());
        self.read(move |connection| {
            Ok(connection
                .prepare_cached(
                    "SELECT a.content_type, a.data FROM attachments a
                     JOIN complaints c ON c.id = a.complaint_id
                     WHERE c.merchant_id = ?1 AND c.reference = ?2 AND a.id = ?3",
                )?
                .query_row(params![merchant_id, reference, photo_id], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?)
        })
        .await
    }

    /// Counts of the merchant's open complaints at `now`.
    pub async fn inbox_counts(
        &self,
        merchant_id: i64,
        now: i64,
    ) -> Result<InboxCounts, StoreError> {
        self.read(move |connection| counts(connection, merchant_id, now))
            .await
    }
}

#[derive(serde::Deserialize)]
struct ConfigCategories {
    #[serde(default)]
    categories: Vec<CategoryLabel>,
}

#[derive(serde::Deserialize)]
struct CategoryLabel {
    id: String,
    label: String,
}

fn merchant_sites(
    connection: &Connection,
    merchant_id: i64,
) -> Result<Vec<MerchantSite>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT site_key, name, config FROM sites WHERE merchant_id = ?1 ORDER BY site_key",
    )?;
    let rows = statement.query_map([merchant_id], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    let mut sites = Vec::new();
    for row in rows {
        let (key, name, config) = row?;
        let config: ConfigCategories = from_json(&config)?;
        sites.push(MerchantSite {
            key,
            name,
            categories: config
                .categories
                .into_iter()
                .map(|category| (category.id, category.label))
                .collect(),
        });
    }
    Ok(sites)
}

fn counts(connection: &Connection, merchant_id: i64, now: i64) -> Result<InboxCounts, StoreError> {
    // The same rule as the list's `overdue` flag: an unanswered complaint
    // past its first-response target, or any open one past its resolution target.
    let overdue = "((first_response_at IS NULL AND ?2 > first_response_due_at) \
                   OR ?2 > resolution_due_at)";
    let due_soon = "((first_response_at IS NULL AND first_response_due_at <= ?2 + ?3) \
                    OR resolution_due_at <= ?2 + ?3)";
    let query = format!(
        "SELECT count(*),
            coalesce(sum(assignee_user_id IS NULL), 0),
            coalesce(sum(urgent != 0), 0),
            coalesce(sum(CASE WHEN {overdue} THEN 1 ELSE 0 END), 0),
            coalesce(sum(CASE WHEN NOT {overdue} AND {due_soon} THEN 1 ELSE 0 END), 0)
         FROM complaints
         WHERE merchant_id = ?1 AND status NOT IN ('resolved', 'closed') AND spam IS NULL"
    );
    Ok(connection.prepare_cached(&query)?.query_row(
        params![merchant_id, now, DUE_SOON_MS],
        |row| {
            Ok(InboxCounts {
                open: row.get(0)?,
                unassigned: row.get(1)?,
                urgent: row.get(2)?,
                overdue: row.get(3)?,
                due_soon: row.get(4)?,
            })
        },
    )?)
}

#[cfg(test)]
mod tests {
    use heard_shared::{Severity, Status};

    use super::*;
    use crate::store::inbox_fixtures::{START, complaint, record, site};
    use crate::store::test_support::temp_store;
    use crate::store::{InboxAction, NewComplaint};

    #[tokio::test]
    async fn counts_cover_only_the_merchants_open_complaints() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (other, foreign) = site(store, "Other", "other").await;
        // Targets come from the insert trigger: an urgent complaint wants a
        // first answer within an hour, a serious one within four, others 48.
        record(
            store,
            NewComplaint {
                urgent: true,
                ..complaint(shop, START, "late and urgent")
            },
        )
        .await;
        record(
            store,
            NewComplaint {
                severity: Some(Severity::Serious),
                ..complaint(shop, START, "due soon")
            },
        )
        .await;
        record(store, complaint(shop, START, "plenty of time")).await;
        let finished = record(
            store,
            NewComplaint {
                urgent: true,
                ..complaint(shop, START, "resolved")
            },
        )
        .await;
        store
            .inbox_act(
                merchant,
                1,
                &finished,
                InboxAction::SetStatus {
                    to: Status::Resolved,
                    allowed_from: vec![Status::Received],
                },
                START,
            )
            .await
            .unwrap();
        record(
            store,
            NewComplaint {
                urgent: true,
                ..complaint(foreign, START, "another merchant's")
            },
        )
        .await;

        let counts = store
            .inbox_counts(merchant, START + 2 * HOUR)
            .await
            .unwrap();
        assert_eq!(
            counts,
            InboxCounts {
                open: 3,
                unassigned: 3,
                urgent: 1,
                overdue: 1,
                due_soon: 1,
            }
        );
        assert_eq!(
            store
                .inbox_counts(other, START + 2 * HOUR)
                .await
                .unwrap()
                .open,
            1
        );
    }

    #[tokio::test]
    async fn a_merchant_sees_only_its_own_sites() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, _) = site(store, "Acme", "shop").await;
        site(store, "Acme", "outlet").await;
        site(store, "Other", "other").await;
        let sites = store.merchant_sites(merchant).await.unwrap();
        let keys: Vec<&str> = sites.iter().map(|site| site.key.as_str()).collect();
        assert_eq!(keys, ["outlet", "shop"]);
        assert!(
            sites[0]
                .categories
                .iter()
                .any(|(id, label)| id == "product" && !label.is_empty())
        );
    }
}
