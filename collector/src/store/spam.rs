//! The spam folder (issue 9): suspected spam is stored and answered like
//! any complaint but kept out of routing, notifications, the inbox and the
//! figures (`spam IS NOT NULL`) until staff restore it. Restoring runs what
//! intake skipped; marking a complaint that got through hides it again.
//!
//! Every function takes the merchant id and filters by it, and each action
//! is one writer job: the change, its timeline event, its audit entry and
//! whatever it queues commit together or not at all.

use std::collections::BTreeMap;

use heard_shared::SubmissionKind;
use rusqlite::{Connection, OptionalExtension, params};

use super::audit::{self, AuditNote};
use super::complaints::{NewComplaint, SpamReason};
use super::inbox::{self, ComplaintDetail};
use super::mail::{self, MailKind, NewMail};
use super::sites::{from_json, parse_enum};
use super::{Store, StoreError};

/// The result of restoring or marking a complaint.
#[derive(Debug, Clone, PartialEq)]
pub enum SpamOutcome {
    Done(Box<ComplaintDetail>),
    /// No complaint with this reference in this merchant.
    NotFound,
    /// Restoring one that is not spam, or marking one that already is;
    /// nothing was written.
    Refused,
}

/// A fresh status link for the acknowledgement a restore queues: its hash
/// goes to `receipt_tokens`, the link itself into the message, as intake
/// does for the first one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreshLink {
    pub token_hash: [u8; 32],
    pub status_url: String,
}

impl Store {
    /// Why the stored complaint is suspected spam, if it is (an idempotent
    /// replay answers from what was stored, not from the retry).
    pub async fn complaint_spam(
        &self,
        complaint_id: i64,
    ) -> Result<Option<SpamReason>, StoreError> {
        self.read(move |connection| spam_of(connection, complaint_id))
            .await
    }

    /// How many complaints wait in the merchant's spam folder.
    pub async fn spam_count(&self, merchant_id: i64) -> Result<i64, StoreError> {
        self.read(move |connection| {
            Ok(connection
                .prepare_cached(
                    "SELECT count(*) FROM complaints INDEXED BY complaints_spam_folder
                     WHERE merchant_id = ?1 AND spam IS NOT NULL",
                )?
                .query_row(params![merchant_id], |row| row.get(0))?)
        })
        .await
    }

    /// "Not spam": the complaint joins the inbox. One intake held back
    /// (honeypot, too fast) is now routed as if it arrived at `now`, its
    /// response targets start at `now`, and the shopper's acknowledgement
    /// is queued with `link` when they gave an address. One staff had
    /// marked was routed and acknowledged at intake: it only comes back.
    pub async fn restore_spam(
        &self,
        merchant_id: i64,
        actor_user_id: i64,
        reference: &str,
        link: FreshLink,
        now: i64,
    ) -> Result<SpamOutcome, StoreError> {
        let reference = reference.to_owned();
        let outcome = self
            .inner
            .writer
            .run(move |connection| {
                restore(
                    connection,
                    merchant_id,
                    actor_user_id,
                    &reference,
                    &link,
                    now,
                )
            })
            .await?;
        self.inner.mail_queued.notify_one();
        Ok(outcome)
    }

    /// "Mark as spam": a complaint that got through leaves the inbox for
    /// the spam folder (reason `staff`). What routing did stays as it was.
    pub async fn mark_spam(
        &self,
        merchant_id: i64,
        actor_user_id: i64,
        reference: &str,
        now: i64,
    ) -> Result<SpamOutcome, StoreError> {
        let reference = reference.to_owned();
        self.inner
            .writer
            .run(move |connection| mark(connection, merchant_id, actor_user_id, &reference, now))
            .await
    }
}

fn spam_of(connection: &Connection, complaint_id: i64) -> Result<Option<SpamReason>, StoreError> {
    let stored: Option<String> = connection
        .prepare_cached("SELECT spam FROM complaints WHERE id = ?1")?
        .query_row(params![complaint_id], |row| row.get(0))
        .optional()?
        .flatten();
    stored.as_deref().map(reason).transpose()
}

fn reason(text: &str) -> Result<SpamReason, StoreError> {
    SpamReason::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown spam {text:?}")))
}

/// The merchant's complaint: its id and why it is spam.
fn find(
    connection: &Connection,
    merchant_id: i64,
    reference: &str,
) -> Result<Option<(i64, Option<SpamReason>)>, StoreError> {
    let found: Option<(i64, Option<String>)> = connection
        .prepare_cached(
            "SELECT id, spam FROM complaints WHERE merchant_id = ?1 AND reference = ?2",
        )?
        .query_row(params![merchant_id, reference], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    found
        .map(|(id, spam)| Ok((id, spam.as_deref().map(reason).transpose()?)))
        .transpose()
}

fn restore(
    connection: &Connection,
    merchant_id: i64,
    actor_user_id: i64,
    reference: &str,
    link: &FreshLink,
    now: i64,
) -> Result<SpamOutcome, StoreError> {
    let Some((id, spam)) = find(connection, merchant_id, reference)? else {
        return Ok(SpamOutcome::NotFound);
    };
    let Some(spam) = spam else {
        return Ok(SpamOutcome::Refused);
    };
    connection
        .prepare_cached("UPDATE complaints SET spam = NULL, updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    event(connection, id, actor_user_id, "spam_restored", spam, now)?;
    // The cluster sweep may have passed it while it was spam: it is queued
    // for the sweep to compare with the complaints around it.
    connection
        .prepare_cached(
            "INSERT OR IGNORE INTO cluster_rechecks (complaint_id, queued_at) VALUES (?1, ?2)",
        )?
        .execute(params![id, now])?;
    audit::record(
        connection,
        merchant_id,
        &AuditNote::new(
            Some(actor_user_id),
            "complaint.spam_restored",
            serde_json::json!({ "reference": reference, "reason": spam.as_str() }),
        ),
        now,
    )?;
    if spam != SpamReason::Staff {
        let stored = stored_complaint(connection, id, now)?;
        // The same rules as at intake, on the stored complaint, in this job.
        super::routing::route(connection, id, &stored)?;
        // The promise to answer starts when staff can first see it; the
        // due dates (routing may have shortened them) move by the wait.
        connection
            .prepare_cached(
                "UPDATE complaints SET
                    first_response_due_at = first_response_due_at + (?2 - created_at),
                    resolution_due_at = resolution_due_at + (?2 - created_at)
                 WHERE id = ?1 AND ?2 > created_at",
            )?
            .execute(params![id, now])?;
        // Intake keeps an address only with consent, and a shopper's
        // deletion clears it: an address here is one to write to.
        if let Some(recipient) = stored.contact_email {
            connection
                .prepare_cached(
                    "INSERT INTO receipt_tokens (token_hash, complaint_id, created_at)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![link.token_hash, id, now])?;
            mail::queue(
                connection,
                id,
                &NewMail {
                    kind: MailKind::Acknowledgement,
                    recipient,
                    status_url: link.status_url.clone(),
                },
                now,
            )?;
        }
    }
    done(connection, merchant_id, reference, now)
}

fn mark(
    connection: &Connection,
    merchant_id: i64,
    actor_user_id: i64,
    reference: &str,
    now: i64,
) -> Result<SpamOutcome, StoreError> {
    let Some((id, spam)) = find(connection, merchant_id, reference)? else {
        return Ok(SpamOutcome::NotFound);
    };
    if spam.is_some() {
        return Ok(SpamOutcome::Refused);
    }
    connection
        .prepare_cached("UPDATE complaints SET spam = 'staff', updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    event(
        connection,
        id,
        actor_user_id,
        "marked_spam",
        SpamReason::Staff,
        now,
    )?;
    audit::record(
        connection,
        merchant_id,
        &AuditNote::new(
            Some(actor_user_id),
            "complaint.marked_spam",
            serde_json::json!({ "reference": reference }),
        ),
        now,
    )?;
    done(connection, merchant_id, reference, now)
}

fn done(
    connection: &Connection,
    merchant_id: i64,
    reference: &str,
    now: i64,
) -> Result<SpamOutcome, StoreError> {
    let detail = inbox::detail(connection, merchant_id, reference, now)?
        .ok_or_else(|| StoreError::Corrupt("complaint vanished".to_owned()))?;
    Ok(SpamOutcome::Done(Box::new(detail)))
}

/// A staff event on the timeline; the shopper never sees it.
fn event(
    connection: &Connection,
    complaint_id: i64,
    actor_user_id: i64,
    kind: &str,
    reason: SpamReason,
    now: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, data)
             VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        )?
        .execute(params![
            complaint_id,
            now,
            actor_user_id,
            kind,
            serde_json::json!({ "reason": reason.as_str() }).to_string()
        ])?;
    Ok(())
}

/// The stored complaint as routing reads a new one, arriving at `now`.
fn stored_complaint(
    connection: &Connection,
    id: i64,
    now: i64,
) -> Result<NewComplaint, StoreError> {
    connection
        .prepare_cached(
            "SELECT site_id, category, category_label, value_orientation, urgent, description,
                remedy, outcomes, severity, mood, language, page_url, answers,
                contact_name, contact_email, contact_phone, kind, callback_window
             FROM complaints WHERE id = ?1",
        )?
        .query_row(params![id], |row| {
            let outcomes: String = row.get(7)?;
            let severity: Option<String> = row.get(8)?;
            let mood: Option<String> = row.get(9)?;
            let answers: String = row.get(12)?;
            let kind: String = row.get(16)?;
            Ok((|| {
                Ok(NewComplaint {
                    site_id: row.get(0)?,
                    token_hash: [0; 32],
                    category: row.get(1)?,
                    category_label: row.get(2)?,
                    value_orientation: row.get(3)?,
                    urgent: row.get(4)?,
                    description: row.get(5)?,
                    remedy: row.get(6)?,
                    outcomes: from_json(&outcomes)?,
                    severity: severity.as_deref().map(parse_enum).transpose()?,
                    mood: mood.as_deref().map(parse_enum).transpose()?,
                    language: row.get(10)?,
                    page_url: row.get(11)?,
                    user_agent: None,
                    answers: from_json::<BTreeMap<String, String>>(&answers)?,
                    contact_name: row.get(13)?,
                    contact_email: row.get(14)?,
                    contact_phone: row.get(15)?,
                    created_at: now,
                    idempotency: None,
                    kind: parse_enum::<SubmissionKind>(&kind)?,
                    callback_window: row.get(17)?,
                    identity: None,
                    identity_verified: false,
                    attachments: Vec::new(),
                    acknowledgement: None,
                    spam: None,
                    proof: None,
                })
            })())
        })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clusters::{AlertKind, ClusterPolicy};
    use crate::notify::sweeps::sweep_clusters;
    use crate::store::Role;
    use crate::store::clusters::fixtures::{HOUR, MILK, complain_at, dairy, sweep};
    use crate::store::inbox_fixtures::{START, complaint, record, site};
    use crate::store::routing_fixtures::staff;
    use crate::store::test_support::temp_store;

    fn link() -> FreshLink {
        FreshLink {
            token_hash: [9; 32],
            status_url: "http://collector.example/r/fresh".to_owned(),
        }
    }

    /// The complaint ids queued for the cluster sweep, with when.
    async fn rechecks(store: &Store) -> Vec<(String, i64)> {
        store
            .read(|connection| {
                let mut statement = connection.prepare(
                    "SELECT c.reference, r.queued_at FROM cluster_rechecks r
                     JOIN complaints c ON c.id = r.complaint_id ORDER BY r.complaint_id",
                )?;
                let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn restoring_queues_the_complaint_for_the_cluster_sweep_and_a_refusal_does_not() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, site_id) = site(store, "Acme", "acme").await;
        let owner = staff(store, merchant, "owner@acme.example", Role::Owner).await;
        let mut suspected = complaint(site_id, START, "The kettle leaks");
        suspected.spam = Some(SpamReason::Honeypot);
        let suspected = record(store, suspected).await;
        let marked = record(store, complaint(site_id, START, "The lid is cracked")).await;
        let plain = record(store, complaint(site_id, START, "The box was wet")).await;
        let outcome = store.mark_spam(merchant, owner, &marked, START + 1).await;
        assert!(matches!(outcome, Ok(SpamOutcome::Done(_))), "{outcome:?}");
        assert!(rechecks(store).await.is_empty(), "marking queues nothing");

        for (reference, at) in [(&suspected, START + 10), (&marked, START + 20)] {
            let outcome = store
                .restore_spam(merchant, owner, reference, link(), at)
                .await;
            assert!(matches!(outcome, Ok(SpamOutcome::Done(_))), "{outcome:?}");
        }
        // Not spam, or another merchant's: refused, nothing queued.
        let refused = store
            .restore_spam(merchant, owner, &plain, link(), START + 30)
            .await;
        assert_eq!(refused.unwrap(), SpamOutcome::Refused);
        let (other, _) = site(store, "Other", "other").await;
        let elsewhere = store
            .restore_spam(other, owner, &suspected, link(), START + 40)
            .await;
        assert_eq!(elsewhere.unwrap(), SpamOutcome::NotFound);

        assert_eq!(
            rechecks(store).await,
            [(suspected, START + 10), (marked, START + 20)]
        );
    }

    async fn cluster_of(store: &Store, reference: &str) -> Option<i64> {
        let reference = reference.to_owned();
        store
            .read(move |connection| {
                Ok(connection
                    .query_row(
                        "SELECT m.cluster_id FROM cluster_members m
                         JOIN complaints c ON c.id = m.complaint_id WHERE c.reference = ?1",
                        [reference],
                        |row| row.get::<_, i64>(0),
                    )
                    .optional()?)
            })
            .await
            .unwrap()
    }

    async fn size_of(store: &Store, cluster: i64) -> i64 {
        store
            .read(move |connection| {
                Ok(connection.query_row(
                    "SELECT size FROM clusters WHERE id = ?1",
                    [cluster],
                    |row| row.get(0),
                )?)
            })
            .await
            .unwrap()
    }

    /// Records `text` at `START + hours` as suspected spam; its reference.
    async fn suspected(store: &Store, site_id: i64, hours: i64, text: &str) -> String {
        let mut new = complaint(site_id, START + hours * HOUR, text);
        new.spam = Some(SpamReason::TooFast);
        record(store, new).await
    }

    async fn restored(store: &Store, merchant: i64, owner: i64, reference: &str, hours: i64) {
        let outcome = store
            .restore_spam(merchant, owner, reference, link(), START + hours * HOUR)
            .await;
        assert!(matches!(outcome, Ok(SpamOutcome::Done(_))), "{outcome:?}");
    }

    async fn marked(store: &Store, merchant: i64, owner: i64, reference: &str, hours: i64) {
        let outcome = store
            .mark_spam(merchant, owner, reference, START + hours * HOUR)
            .await;
        assert!(matches!(outcome, Ok(SpamOutcome::Done(_))), "{outcome:?}");
    }

    #[tokio::test]
    async fn a_complaint_restored_after_the_sweep_passed_it_joins_its_cluster() {
        let (temp, merchant, site_id, owner) = dairy().await;
        let store = &temp.store;
        let first = complain_at(store, site_id, 0, MILK[0]).await;
        complain_at(store, site_id, 1, MILK[1]).await;
        sweep(store, 1).await;
        let cluster = cluster_of(store, &first).await;
        assert!(cluster.is_some(), "the first two are a cluster");
        let suspected = suspected(store, site_id, 2, MILK[2]).await;
        assert_eq!(sweep(store, 2).await.examined, 1);
        assert_eq!(cluster_of(store, &suspected).await, None);
        restored(store, merchant, owner, &suspected, 3).await;
        let swept = sweep(store, 3).await;
        assert_eq!((swept.examined, swept.rechecked), (0, 1));
        assert_eq!(
            cluster_of(store, &suspected).await,
            cluster,
            "restored, it joins"
        );
        assert!(rechecks(store).await.is_empty(), "the sweep took it");
        // Taken once: the next sweep has nothing to do.
        let again = sweep(store, 4).await;
        assert_eq!((again.examined, again.rechecked), (0, 0));
    }

    #[tokio::test]
    async fn a_restored_complaint_that_brings_later_ones_to_the_threshold_alerts_and_new_ones_follow()
     {
        let (temp, merchant, site_id, owner) = dairy().await;
        let store = &temp.store;
        // The suspected one is the earliest: the two after it found no row
        // to compare with, and are a cluster of two, below the threshold.
        let suspected = suspected(store, site_id, 0, MILK[0]).await;
        let second = record(store, complaint(site_id, START + HOUR, MILK[1])).await;
        record(store, complaint(site_id, START + 2 * HOUR, MILK[2])).await;
        let swept = sweep(store, 2).await;
        assert_eq!((swept.examined, swept.alerts.len()), (3, 0), "{swept:?}");
        let cluster = cluster_of(store, &second).await.expect("the later two");
        assert_eq!(size_of(store, cluster).await, 2);

        // Restored, then an unrelated new one arrives: one sweep, in
        // batches of one, compares the restored one with the later ones
        // (the third member: detected), then goes on to the new one.
        restored(store, merchant, owner, &suspected, 3).await;
        let parcel = record(
            store,
            complaint(
                site_id,
                START + 3 * HOUR,
                "The delivery driver was rude and left the parcel in the rain",
            ),
        )
        .await;
        let policy = ClusterPolicy {
            batch: 1,
            ..ClusterPolicy::default()
        };
        let swept = sweep_clusters(store, &policy, START + 4 * HOUR)
            .await
            .unwrap();
        assert_eq!((swept.rechecked, swept.examined), (1, 1), "{swept:?}");
        assert_eq!(swept.alerts, [(cluster, AlertKind::Detected)]);
        assert_eq!(cluster_of(store, &suspected).await, Some(cluster));
        assert_eq!(cluster_of(store, &parcel).await, None);
        assert_eq!(size_of(store, cluster).await, 3);
        let alerts: Vec<(String, String)> = store
            .notifications(merchant, None, 50)
            .await
            .unwrap()
            .into_iter()
            .filter(|row| row.event.starts_with("cluster."))
            .map(|row| (row.event, row.target))
            .collect();
        assert_eq!(
            alerts,
            [(
                AlertKind::Detected.event().to_owned(),
                "owner@dairy.example".to_owned()
            )]
        );
        // A fourth joins without an alert: the next is when it doubles.
        let fourth = record(store, complaint(site_id, START + 4 * HOUR, MILK[3])).await;
        let swept = sweep(store, 5).await;
        assert_eq!((swept.examined, swept.alerts.len()), (1, 0), "{swept:?}");
        assert_eq!(cluster_of(store, &fourth).await, Some(cluster));
        assert_eq!(size_of(store, cluster).await, 4);
        assert!(rechecks(store).await.is_empty());
    }

    #[tokio::test]
    async fn a_recheck_of_a_complaint_deleted_or_spam_again_is_dropped_without_joining() {
        let (temp, merchant, site_id, owner) = dairy().await;
        let store = &temp.store;
        let first = complain_at(store, site_id, 0, MILK[0]).await;
        complain_at(store, site_id, 1, MILK[1]).await;
        let again_spam = suspected(store, site_id, 2, MILK[2]).await;
        let mut deleted = complaint(site_id, START + 2 * HOUR, MILK[3]);
        deleted.spam = Some(SpamReason::Honeypot);
        let token = deleted.token_hash;
        let deleted = record(store, deleted).await;
        let raced = suspected(store, site_id, 2, MILK[2]).await;
        assert_eq!(sweep(store, 2).await.examined, 5);
        let cluster = cluster_of(store, &first).await.expect("the first two");
        for reference in [&again_spam, &deleted, &raced] {
            restored(store, merchant, owner, reference, 3).await;
        }
        // Spam again, and deleted by the shopper, before the sweep reads
        // them.
        marked(store, merchant, owner, &again_spam, 4).await;
        assert!(
            store
                .delete_complaint(token, START + 4 * HOUR)
                .await
                .unwrap()
        );
        // Read as restored, marked as spam again before the writer job.
        let policy = ClusterPolicy::default();
        let batch = store.cluster_candidates(None, &policy).await.unwrap();
        let found = &batch.found;
        assert_eq!(found.len(), 3);
        assert!(batch.rechecks() && found.iter().all(|found| found.recheck));
        let raced_found = found.iter().find(|found| found.fingerprint.is_some());
        assert!(
            raced_found.is_some_and(|found| !found.similar.is_empty()),
            "{found:?}"
        );
        marked(store, merchant, owner, &raced, 5).await;
        let swept = store
            .apply_clusters(&policy, batch, START + 5 * HOUR)
            .await
            .unwrap();
        assert_eq!((swept.rechecked, swept.examined), (3, 0));
        assert!(swept.alerts.is_empty());
        for reference in [&again_spam, &deleted, &raced] {
            assert_eq!(cluster_of(store, reference).await, None, "{reference}");
        }
        assert_eq!(size_of(store, cluster).await, 2);
        assert!(rechecks(store).await.is_empty(), "dropped from the queue");
    }

    #[tokio::test]
    async fn a_recheck_read_as_spam_and_restored_again_before_the_writer_job_stays_queued() {
        let (temp, merchant, site_id, owner) = dairy().await;
        let store = &temp.store;
        let first = complain_at(store, site_id, 0, MILK[0]).await;
        complain_at(store, site_id, 1, MILK[1]).await;
        let suspected = suspected(store, site_id, 2, MILK[2]).await;
        sweep(store, 2).await;
        restored(store, merchant, owner, &suspected, 3).await;
        marked(store, merchant, owner, &suspected, 4).await;
        let policy = ClusterPolicy::default();
        let batch = store.cluster_candidates(None, &policy).await.unwrap();
        assert_eq!(batch.found.len(), 1);
        assert_eq!(batch.found[0].fingerprint, None, "read as spam");
        restored(store, merchant, owner, &suspected, 5).await;
        let swept = store
            .apply_clusters(&policy, batch, START + 5 * HOUR)
            .await
            .unwrap();
        assert_eq!(swept.rechecked, 0);
        assert_eq!(rechecks(store).await.len(), 1, "still queued");
        // The next sweep reads it as it is now.
        let swept = sweep(store, 6).await;
        assert_eq!(swept.rechecked, 1);
        assert_eq!(
            cluster_of(store, &suspected).await,
            cluster_of(store, &first).await
        );
        assert!(rechecks(store).await.is_empty());
    }

    #[tokio::test]
    async fn a_complaint_restored_while_the_sweep_read_it_as_spam_is_rechecked_and_found_later() {
        let (temp, merchant, site_id, owner) = dairy().await;
        let store = &temp.store;
        let first = record(store, complaint(site_id, START, MILK[0])).await;
        let suspected = suspected(store, site_id, 1, MILK[1]).await;
        // The read half has it as spam; the restore commits before the
        // writer job, which moves the cursor past it and leaves it queued.
        let policy = ClusterPolicy::default();
        let batch = store.cluster_candidates(None, &policy).await.unwrap();
        assert_eq!(batch.found.len(), 2);
        restored(store, merchant, owner, &suspected, 2).await;
        let swept = store
            .apply_clusters(&policy, batch, START + 2 * HOUR)
            .await
            .unwrap();
        assert_eq!((swept.examined, swept.rechecked), (2, 0));
        assert_eq!(cluster_of(store, &suspected).await, None);
        assert_eq!(rechecks(store).await.len(), 1);
        // The next sweep rechecks it: it joins the earlier one, and is
        // stored for later complaints to be compared with.
        let swept = sweep(store, 3).await;
        assert_eq!((swept.examined, swept.rechecked), (0, 1));
        let cluster = cluster_of(store, &first).await;
        assert!(cluster.is_some());
        assert_eq!(cluster_of(store, &suspected).await, cluster);
        let reference = suspected.clone();
        let fingerprinted: bool = store
            .read(move |connection| {
                Ok(connection.query_row(
                    "SELECT f.shingles IS NOT NULL FROM cluster_fingerprints f
                     JOIN complaints c ON c.id = f.complaint_id WHERE c.reference = ?1",
                    [reference],
                    |row| row.get(0),
                )?)
            })
            .await
            .unwrap();
        assert!(fingerprinted);
        let later = record(store, complaint(site_id, START + 3 * HOUR, MILK[2])).await;
        let swept = sweep(store, 4).await;
        assert_eq!(swept.alerts.len(), 1, "the third: {swept:?}");
        assert_eq!(cluster_of(store, &later).await, cluster);
    }

    #[tokio::test]
    async fn a_restored_complaint_is_compared_with_its_own_merchants_complaints_only() {
        let (temp, merchant, site_id, owner) = dairy().await;
        let store = &temp.store;
        let (_, other_site) = site(store, "Other", "other").await;
        // Another merchant's cluster on both sides of it.
        let theirs = record(store, complaint(other_site, START, MILK[0])).await;
        let suspected = suspected(store, site_id, 1, MILK[1]).await;
        record(store, complaint(other_site, START + 2 * HOUR, MILK[2])).await;
        sweep(store, 2).await;
        assert!(cluster_of(store, &theirs).await.is_some());
        restored(store, merchant, owner, &suspected, 3).await;
        let found = store
            .cluster_candidates(None, &ClusterPolicy::default())
            .await
            .unwrap()
            .found;
        assert_eq!(found.len(), 1);
        assert!(found[0].recheck && found[0].similar.is_empty(), "{found:?}");
        let swept = sweep(store, 3).await;
        assert_eq!((swept.rechecked, swept.alerts.len()), (1, 0));
        assert_eq!(cluster_of(store, &suspected).await, None);
    }

    #[tokio::test]
    async fn a_restored_complaint_from_before_fingerprints_were_stored_finds_the_later_ones() {
        let (temp, merchant, site_id, owner) = dairy().await;
        let store = &temp.store;
        let suspected = suspected(store, site_id, 0, MILK[0]).await;
        let later = [
            record(store, complaint(site_id, START + HOUR, MILK[1])).await,
            record(store, complaint(site_id, START + 2 * HOUR, MILK[2])).await,
        ];
        // Passed by a sweep from before migration 0017 (as a store upgraded
        // then has them): no fingerprint rows, no mark of where they begin.
        store
            .inner
            .writer
            .run(|connection| {
                connection.execute(
                    "INSERT INTO sweep_cursors (name, value)
                     VALUES ('clusters', (SELECT max(id) FROM complaints))
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    [],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        restored(store, merchant, owner, &suspected, 3).await;
        let swept = sweep(store, 3).await;
        assert_eq!((swept.rechecked, swept.examined), (1, 0));
        assert_eq!(swept.alerts.len(), 1, "three alike: {swept:?}");
        let cluster = cluster_of(store, &suspected).await;
        assert!(cluster.is_some());
        for reference in &later {
            assert_eq!(cluster_of(store, reference).await, cluster, "{reference}");
        }
    }

    #[tokio::test]
    async fn a_new_complaint_restored_before_the_sweep_reached_it_is_compared_once() {
        let (temp, merchant, site_id, owner) = dairy().await;
        let store = &temp.store;
        let first = record(store, complaint(site_id, START, MILK[0])).await;
        let suspected = suspected(store, site_id, 1, MILK[1]).await;
        // Restored before the sweep read it: compared as a new complaint,
        // and its queue row goes with that.
        restored(store, merchant, owner, &suspected, 1).await;
        let swept = sweep(store, 2).await;
        assert_eq!((swept.examined, swept.rechecked), (2, 0));
        assert!(cluster_of(store, &first).await.is_some());
        assert_eq!(
            cluster_of(store, &suspected).await,
            cluster_of(store, &first).await
        );
        assert!(rechecks(store).await.is_empty());
    }
}
