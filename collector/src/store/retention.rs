//! Retention per merchant (issue 9): a merchant may choose that finished
//! complaints lose the shopper's text, photos and contact details some days
//! after they were finished.
//!
//! The rule: a complaint is anonymised when its merchant has
//! `retention_days` set, it is finished (resolved or closed), and it was
//! finished (`resolved_at`) at least that many days ago. An open complaint
//! keeps everything however old it is, since someone is still working on it;
//! reopening clears `resolved_at` and so starts the clock again. The erasing
//! itself is `shopper::erase`, the shopper's own deletion's code, so both
//! remove exactly the same things; retention marks `anonymized_at` and
//! writes a staff-only `anonymized` timeline event and one audit entry per
//! merchant and batch.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::audit::{self, AuditNote};
use super::{Store, StoreError, shopper};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What one batch anonymised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anonymized {
    /// References of the complaints anonymised, in the order done.
    pub references: Vec<String>,
}

impl Store {
    /// The merchant's retention in days; `None` keeps everything.
    pub async fn retention_days(&self, merchant_id: i64) -> Result<Option<u32>, StoreError> {
        self.read(move |connection| days(connection, merchant_id))
            .await
    }

    /// Sets (or with `None` clears) the merchant's retention, with its
    /// audit entry in the same job. Check the range first
    /// (`domain::retention::check_days`); the schema refuses others too.
    pub async fn set_retention_days(
        &self,
        merchant_id: i64,
        user_id: i64,
        retention_days: Option<u32>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                let before = days(connection, merchant_id)?;
                connection
                    .prepare_cached("UPDATE merchants SET retention_days = ?2 WHERE id = ?1")?
                    .execute(params![merchant_id, retention_days])?;
                audit::record(
                    connection,
                    merchant_id,
                    &AuditNote::new(
                        Some(user_id),
                        "retention.changed",
                        json!({ "from": before, "to": retention_days }),
                    ),
                    now,
                )
            })
            .await
    }

    /// Anonymises at most `limit` complaints that are due at `now`, in one
    /// writer job (so one bounded transaction). Call it until it answers
    /// fewer than `limit`, then [`Store::finish_anonymizing`].
    pub async fn anonymize_due(&self, now: i64, limit: usize) -> Result<Anonymized, StoreError> {
        let done = self
            .inner
            .writer
            .run(move |connection| anonymize_due(connection, now, limit))
            .await?;
        if !done.references.is_empty() {
            self.inner.search.wake();
        }
        Ok(done)
    }

    /// After anonymising: truncates the WAL (the erased text is then in no
    /// file of the database; `secure_delete` zeroed the freed pages) and
    /// waits until the search index has forgotten the complaints too.
    pub async fn finish_anonymizing(&self) -> Result<(), StoreError> {
        self.inner.writer.checkpoint().await?;
        self.search_forgotten().await?;
        Ok(())
    }
}

fn days(connection: &Connection, merchant_id: i64) -> Result<Option<u32>, StoreError> {
    let days: Option<Option<u32>> = connection
        .prepare_cached("SELECT retention_days FROM merchants WHERE id = ?1")?
        .query_row([merchant_id], |row| row.get(0))
        .optional()?;
    Ok(days.flatten())
}

fn anonymize_due(
    connection: &Connection,
    now: i64,
    limit: usize,
) -> Result<Anonymized, StoreError> {
    // Merchant by merchant, each a range of the partial index
    // `complaints_retention` (0015_retention.sql), which holds exactly the
    // finished complaints that still have their text: the merchants that
    // keep everything cost nothing.
    let merchants: Vec<(i64, i64)> = connection
        .prepare_cached(
            "SELECT id, retention_days FROM merchants
             WHERE retention_days IS NOT NULL ORDER BY id",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut due: Vec<(i64, i64, String, i64)> = Vec::new();
    for (merchant_id, retention_days) in merchants {
        let left = limit.saturating_sub(due.len());
        if left == 0 {
            break;
        }
        let cutoff = now - retention_days * DAY_MS;
        let mut statement = connection.prepare_cached(
            "SELECT id, reference FROM complaints
             WHERE merchant_id = ?1 AND anonymized_at IS NULL AND deleted_at IS NULL
               AND status IN ('resolved', 'closed')
               AND coalesce(resolved_at, created_at) <= ?2
             ORDER BY coalesce(resolved_at, created_at), id
             LIMIT ?3",
        )?;
        let rows = statement.query_map(params![merchant_id, cutoff, left as i64], |row| {
            Ok((row.get(0)?, merchant_id, row.get(1)?, retention_days))
        })?;
        for row in rows {
            due.push(row?);
        }
    }
    let mut done = Anonymized::default();
    let mut per_merchant: Vec<(i64, i64, Vec<String>)> = Vec::new();
    for (id, merchant_id, reference, retention_days) in due {
        shopper::erase(connection, id)?;
        connection
            .prepare_cached("UPDATE complaints SET anonymized_at = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        connection
            .prepare_cached(
                "INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, data)
                 VALUES (?1, ?2, NULL, 'anonymized', 0, ?3)",
            )?
            .execute(params![
                id,
                now,
                json!({ "days": retention_days }).to_string()
            ])?;
        match per_merchant.last_mut() {
            Some((merchant, _, references)) if *merchant == merchant_id => {
                references.push(reference.clone());
            }
            _ => per_merchant.push((merchant_id, retention_days, vec![reference.clone()])),
        }
        done.references.push(reference);
    }
    for (merchant_id, retention_days, references) in per_merchant {
        audit::record(
            connection,
            merchant_id,
            &AuditNote::new(
                None,
                "complaints.anonymized",
                json!({
                    "reason": format!("anonymised by retention after {retention_days} days"),
                    "days": retention_days,
                    "references": references,
                }),
            ),
            now,
        )?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use heard_shared::Status;

    use super::*;
    use crate::domain::insights::InsightsFilter;
    use crate::store::inbox_fixtures::{START, complaint, record, site};
    use crate::store::test_support::temp_store;
    use crate::store::{ActionOutcome, InboxAction, NewComplaint, NewUser, Role};

    const MINUTE: i64 = 60 * 1000;

    async fn staff(store: &Store, merchant_id: i64, email: &str) -> i64 {
        store
            .add_user(
                NewUser {
                    merchant_id,
                    email: email.to_owned(),
                    display_name: "Owner".to_owned(),
                    role: Role::Owner,
                    password_hash: "not a real hash".to_owned(),
                },
                AuditNote::new(None, "test.user", json!({})),
                START,
            )
            .await
            .unwrap()
            .id
    }

    async fn finish(store: &Store, merchant: i64, user: i64, reference: &str, at: i64) {
        let outcome = store
            .inbox_act(
                merchant,
                user,
                reference,
                InboxAction::SetStatus {
                    to: Status::Resolved,
                    allowed_from: Status::ALL.to_vec(),
                },
                at,
            )
            .await
            .unwrap();
        assert!(matches!(outcome, ActionOutcome::Done(_)), "{outcome:?}");
    }

    fn with_contact(site_id: i64, at: i64, words: &str) -> NewComplaint {
        NewComplaint {
            contact_name: Some(format!("Name {words}")),
            contact_email: Some("shopper@example.com".to_owned()),
            remedy: Some(format!("Remedy {words}")),
            page_url: Some("https://shop.example/kettle".to_owned()),
            user_agent: Some("Agent/1.0".to_owned()),
            ..complaint(site_id, at, &format!("Description {words}"))
        }
    }

    #[tokio::test]
    async fn only_finished_complaints_past_the_window_of_a_merchant_with_retention_lose_their_text()
    {
        let temp = temp_store();
        let store = &temp.store;
        let (acme, shop) = site(store, "Acme", "shop").await;
        let (other, foreign) = site(store, "Other", "other").await;
        let owner = staff(store, acme, "owner@acme.example").await;
        let other_owner = staff(store, other, "owner@other.example").await;

        // Finished exactly 30 days before the sweep: due. Finished a minute
        // later: not yet. Received long ago but still open: kept.
        let due = record(store, with_contact(shop, START, "due")).await;
        let inside = record(store, with_contact(shop, START, "inside")).await;
        let open = record(store, with_contact(shop, START, "open")).await;
        let foreign_done = record(store, with_contact(foreign, START, "foreign")).await;
        finish(store, acme, owner, &due, START + MINUTE).await;
        finish(store, acme, owner, &inside, START + 2 * MINUTE).await;
        finish(store, other, other_owner, &foreign_done, START + MINUTE).await;

        assert_eq!(store.retention_days(acme).await.unwrap(), None);
        store
            .set_retention_days(acme, owner, Some(30), START)
            .await
            .unwrap();
        assert_eq!(store.retention_days(acme).await.unwrap(), Some(30));

        let filter = InsightsFilter::default_at(START + 31 * DAY_MS);
        let volume_before = store.insights_volume(acme, filter.clone()).await.unwrap();
        let handling_before = store
            .insights_handling(acme, filter.clone(), START + 31 * DAY_MS)
            .await
            .unwrap();

        let sweep_at = START + MINUTE + 30 * DAY_MS;
        let done = store.anonymize_due(sweep_at, 100).await.unwrap();
        assert_eq!(done.references, vec![due.clone()]);
        // Nothing more is due at the same moment: the sweep stops.
        assert!(
            store
                .anonymize_due(sweep_at, 100)
                .await
                .unwrap()
                .references
                .is_empty()
        );
        store.finish_anonymizing().await.unwrap();

        let erased = store.complaint_by_reference(&due).await.unwrap().unwrap();
        assert!(erased.description.is_empty());
        assert_eq!(erased.remedy, None);
        assert_eq!(erased.page_url, None);
        assert!(erased.anonymous, "the contact details are gone");
        // What counts stays.
        assert_eq!(erased.category, "product");
        assert_eq!(erased.status, Status::Resolved);
        let detail = store
            .inbox_complaint(acme, &due, sweep_at)
            .await
            .unwrap()
            .unwrap();
        let event = detail.timeline.last().unwrap();
        assert_eq!(event.kind, "anonymized");
        assert!(!event.public);
        assert_eq!(event.data["days"], 30);

        for (reference, words) in [
            (&inside, "inside"),
            (&open, "open"),
            (&foreign_done, "foreign"),
        ] {
            let kept = store
                .complaint_by_reference(reference)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                kept.description,
                format!("Description {words}"),
                "{reference}"
            );
            assert!(!kept.anonymous);
        }

        // The counts and figures are the same as before.
        assert_eq!(
            store.insights_volume(acme, filter.clone()).await.unwrap(),
            volume_before
        );
        assert_eq!(
            store
                .insights_handling(acme, filter, START + 31 * DAY_MS)
                .await
                .unwrap(),
            handling_before
        );

        // A minute later the second one is due too; the open one never is,
        // and the merchant without retention keeps everything.
        let later = store
            .anonymize_due(sweep_at + MINUTE + 365 * DAY_MS, 100)
            .await
            .unwrap();
        assert_eq!(later.references, vec![inside.clone()]);

        // The audit log says what happened, one entry per batch.
        let audit = store.audit_entries(acme, None, 10).await.unwrap();
        let anonymized: Vec<_> = audit
            .iter()
            .filter(|entry| entry.action == "complaints.anonymized")
            .collect();
        assert_eq!(anonymized.len(), 2);
        assert_eq!(
            anonymized[1].detail["reason"],
            "anonymised by retention after 30 days"
        );
        assert_eq!(anonymized[1].detail["references"], json!([due]));
        assert!(
            audit
                .iter()
                .any(|entry| entry.action == "retention.changed" && entry.detail["to"] == 30)
        );
        assert!(
            store
                .audit_entries(other, None, 10)
                .await
                .unwrap()
                .iter()
                .all(|entry| entry.action != "complaints.anonymized")
        );
    }

    #[tokio::test]
    async fn batches_are_bounded_and_reopening_starts_the_clock_again() {
        let temp = temp_store();
        let store = &temp.store;
        let (acme, shop) = site(store, "Acme", "shop").await;
        let owner = staff(store, acme, "owner@acme.example").await;
        let mut references = Vec::new();
        for number in 0..5 {
            let reference =
                record(store, complaint(shop, START, &format!("number {number}"))).await;
            finish(store, acme, owner, &reference, START).await;
            references.push(reference);
        }
        // The last one was reopened a day later: open again, it keeps its text.
        let reopened = store
            .inbox_act(
                acme,
                owner,
                &references[4],
                InboxAction::SetStatus {
                    to: Status::InProgress,
                    allowed_from: vec![Status::Resolved],
                },
                START + DAY_MS,
            )
            .await
            .unwrap();
        assert!(matches!(reopened, ActionOutcome::Done(_)), "{reopened:?}");
        store
            .set_retention_days(acme, owner, Some(30), START)
            .await
            .unwrap();
        let now = START + 40 * DAY_MS;
        assert_eq!(
            store.anonymize_due(now, 2).await.unwrap().references.len(),
            2
        );
        assert_eq!(
            store.anonymize_due(now, 2).await.unwrap().references.len(),
            2
        );
        assert!(
            store
                .anonymize_due(now, 2)
                .await
                .unwrap()
                .references
                .is_empty()
        );
        let kept = store
            .complaint_by_reference(&references[4])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.description, "number 4");

        // Clearing the retention stops it for what finishes later.
        finish(store, acme, owner, &references[4], now).await;
        store
            .set_retention_days(acme, owner, None, now)
            .await
            .unwrap();
        assert!(
            store
                .anonymize_due(now + 400 * DAY_MS, 10)
                .await
                .unwrap()
                .references
                .is_empty()
        );
    }

    #[tokio::test]
    async fn the_schema_refuses_a_retention_out_of_range() {
        let temp = temp_store();
        let store = &temp.store;
        let (acme, _) = site(store, "Acme", "shop").await;
        let owner = staff(store, acme, "owner@acme.example").await;
        for days in [0, 29, 3651] {
            assert!(
                store
                    .set_retention_days(acme, owner, Some(days), START)
                    .await
                    .is_err(),
                "{days}"
            );
        }
        assert_eq!(store.retention_days(acme).await.unwrap(), None);
    }
}
