//! Merging duplicate complaints and linking related ones, always within one
//! merchant: every lookup filters on `complaints.merchant_id`, so another
//! merchant's reference is simply not found.
//!
//! A merge closes the duplicate through the same `act` as a status change
//! (its event, the shopper's update mail, its audit entry), points it at the
//! primary, and writes a `merged` event on both timelines and an audit
//! entry, in one writer job inside a savepoint of its own.

use heard_shared::Status;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::audit::{self, AuditNote};
use super::inbox::{self, ActionOutcome, InboxAction};
use super::{Store, StoreError};

/// A complaint next to the one being read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelatedComplaint {
    pub reference: String,
    pub status: String,
    /// The start of its description.
    pub excerpt: String,
}

/// What a complaint is merged into, what was merged into it, and what it is
/// linked with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Related {
    pub merged_into: Option<RelatedComplaint>,
    pub merged_from: Vec<RelatedComplaint>,
    pub linked: Vec<RelatedComplaint>,
}

/// Why a merge or link was refused; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationRefusal {
    /// Both references name the same complaint.
    SameComplaint,
    /// The duplicate was merged already.
    AlreadyMerged,
    /// The primary is itself merged into another; merge into that one.
    IntoMerged,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RelationOutcome {
    Done(Box<Related>),
    /// One of the references is not the merchant's complaint.
    NotFound,
    Refused(RelationRefusal),
}

const EXCERPT_CHARS: i64 = 120;

impl Store {
    /// The complaints related to the merchant's complaint `reference`;
    /// `None` when there is no such complaint.
    pub async fn related_complaints(
        &self,
        merchant_id: i64,
        reference: &str,
    ) -> Result<Option<Related>, StoreError> {
        let reference = reference.to_owned();
        self.read(move |connection| {
            let Some(found) = find(connection, merchant_id, &reference)? else {
                return Ok(None);
            };
            related(connection, merchant_id, found.id).map(Some)
        })
        .await
    }

    /// Merges the merchant's complaint `duplicate` into `primary`.
    pub async fn merge_complaints(
        &self,
        merchant_id: i64,
        actor_user_id: i64,
        duplicate: &str,
        primary: &str,
        now: i64,
    ) -> Result<RelationOutcome, StoreError> {
        let (duplicate, primary) = (duplicate.to_owned(), primary.to_owned());
        let outcome = self
            .inner
            .writer
            .run(move |connection| {
                connection.execute_batch("SAVEPOINT merge")?;
                let outcome = merge(
                    connection,
                    merchant_id,
                    actor_user_id,
                    &duplicate,
                    &primary,
                    now,
                );
                match outcome {
                    Ok(RelationOutcome::Done(related)) => {
                        connection.execute_batch("RELEASE merge")?;
                        Ok(RelationOutcome::Done(related))
                    }
                    Ok(other) => {
                        connection.execute_batch("ROLLBACK TO merge; RELEASE merge")?;
                        Ok(other)
                    }
                    Err(error) => Err(error),
                }
            })
            .await?;
        // Closing the duplicate may have queued mail to its shopper.
        self.inner.mail_queued.notify_one();
        Ok(outcome)
    }

    /// Links (or, with `linked` false, unlinks) two of the merchant's
    /// complaints. Linking twice, or unlinking what is not linked, changes
    /// nothing and writes nothing.
    pub async fn link_complaints(
        &self,
        merchant_id: i64,
        actor_user_id: i64,
        reference: &str,
        other: &str,
        linked: bool,
        now: i64,
    ) -> Result<RelationOutcome, StoreError> {
        let (reference, other) = (reference.to_owned(), other.to_owned());
        self.inner
            .writer
            .run(move |connection| {
                let (Some(one), Some(two)) = (
                    find(connection, merchant_id, &reference)?,
                    find(connection, merchant_id, &other)?,
                ) else {
                    return Ok(RelationOutcome::NotFound);
                };
                if one.id == two.id {
                    return Ok(RelationOutcome::Refused(RelationRefusal::SameComplaint));
                }
                let (low, high) = (one.id.min(two.id), one.id.max(two.id));
                let changed = if linked {
                    connection
                        .prepare_cached(
                            "INSERT OR IGNORE INTO complaint_links
                                (complaint_id, related_id, created_by, created_at)
                             VALUES (?1, ?2, ?3, ?4)",
                        )?
                        .execute(params![low, high, actor_user_id, now])?
                } else {
                    connection
                        .prepare_cached(
                            "DELETE FROM complaint_links WHERE complaint_id = ?1 AND related_id = ?2",
                        )?
                        .execute(params![low, high])?
                };
                if changed > 0 {
                    for (this, that) in [(&one, &two), (&two, &one)] {
                        let data = if linked {
                            serde_json::json!({ "with": that.reference })
                        } else {
                            serde_json::json!({ "with": that.reference, "removed": true })
                        };
                        event(connection, this.id, actor_user_id, "linked", &data, now)?;
                    }
                    let action = if linked { "complaint.linked" } else { "complaint.unlinked" };
                    audit::record(
                        connection,
                        merchant_id,
                        &AuditNote::new(
                            Some(actor_user_id),
                            action,
                            serde_json::json!({ "reference": one.reference, "with": two.reference }),
                        ),
                        now,
                    )?;
                }
                Ok(RelationOutcome::Done(Box::new(related(
                    connection,
                    merchant_id,
                    one.id,
                )?)))
            })
            .await
    }
}

struct Found {
    id: i64,
    reference: String,
    status: String,
    merged_into_id: Option<i64>,
}

fn find(
    connection: &Connection,
    merchant_id: i64,
    reference: &str,
) -> Result<Option<Found>, StoreError> {
    Ok(connection
        .prepare_cached(
            "SELECT id, reference, status, merged_into_id FROM complaints
             WHERE merchant_id = ?1 AND reference = ?2",
        )?
        .query_row(params![merchant_id, reference], |row| {
            Ok(Found {
                id: row.get(0)?,
                reference: row.get(1)?,
                status: row.get(2)?,
                merged_into_id: row.get(3)?,
            })
        })
        .optional()?)
}

fn merge(
    connection: &Connection,
    merchant_id: i64,
    actor_user_id: i64,
    duplicate: &str,
    primary: &str,
    now: i64,
) -> Result<RelationOutcome, StoreError> {
    let (Some(duplicate), Some(primary)) = (
        find(connection, merchant_id, duplicate)?,
        find(connection, merchant_id, primary)?,
    ) else {
        return Ok(RelationOutcome::NotFound);
    };
    if duplicate.id == primary.id {
        return Ok(RelationOutcome::Refused(RelationRefusal::SameComplaint));
    }
    if duplicate.merged_into_id.is_some() {
        return Ok(RelationOutcome::Refused(RelationRefusal::AlreadyMerged));
    }
    if primary.merged_into_id.is_some() {
        return Ok(RelationOutcome::Refused(RelationRefusal::IntoMerged));
    }
    if duplicate.status != Status::Closed.as_str() {
        let close = InboxAction::SetStatus {
            to: Status::Closed,
            allowed_from: Status::ALL
                .into_iter()
                .filter(|status| *status != Status::Closed)
                .collect(),
        };
        match inbox::act(
            connection,
            merchant_id,
            actor_user_id,
            &duplicate.reference,
            &close,
            now,
        )? {
            ActionOutcome::Done(_) => {}
            ActionOutcome::NotFound => return Ok(RelationOutcome::NotFound),
            ActionOutcome::Refused(_) => {
                return Ok(RelationOutcome::Refused(RelationRefusal::AlreadyMerged));
            }
        }
    }
    // Whatever was merged into the duplicate now points at the primary too,
    // so a pointer is never more than one step.
    connection
        .prepare_cached(
            "UPDATE complaints SET merged_into_id = ?2, updated_at = ?3
             WHERE merchant_id = ?4 AND (id = ?1 OR merged_into_id = ?1)",
        )?
        .execute(params![duplicate.id, primary.id, now, merchant_id])?;
    connection
        .prepare_cached("UPDATE complaints SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![primary.id, now])?;
    event(
        connection,
        duplicate.id,
        actor_user_id,
        "merged",
        &serde_json::json!({ "into": primary.reference }),
        now,
    )?;
    event(
        connection,
        primary.id,
        actor_user_id,
        "merged",
        &serde_json::json!({ "from": duplicate.reference }),
        now,
    )?;
    audit::record(
        connection,
        merchant_id,
        &AuditNote::new(
            Some(actor_user_id),
            "complaint.merged",
            serde_json::json!({ "reference": duplicate.reference, "into": primary.reference }),
        ),
        now,
    )?;
    Ok(RelationOutcome::Done(Box::new(related(
        connection,
        merchant_id,
        duplicate.id,
    )?)))
}

/// A staff-only timeline event.
fn event(
    connection: &Connection,
    complaint_id: i64,
    actor_user_id: i64,
    kind: &str,
    data: &serde_json::Value,
    now: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
             VALUES (?1, ?2, ?3, ?4, 0, NULL, ?5)",
        )?
        .execute(params![complaint_id, now, actor_user_id, kind, data.to_string()])?;
    Ok(())
}

fn related(connection: &Connection, merchant_id: i64, id: i64) -> Result<Related, StoreError> {
    let select = |sql: &str| -> Result<Vec<RelatedComplaint>, StoreError> {
        let mut statement = connection.prepare_cached(sql)?;
        let rows = statement.query_map(params![merchant_id, id, EXCERPT_CHARS], |row| {
            Ok(RelatedComplaint {
                reference: row.get(0)?,
                status: row.get(1)?,
                excerpt: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let merged_into = select(
        "SELECT p.reference, p.status, substr(p.description, 1, ?3) FROM complaints d
         JOIN complaints p ON p.id = d.merged_into_id
         WHERE d.id = ?2 AND d.merchant_id = ?1 AND p.merchant_id = ?1",
    )?
    .into_iter()
    .next();
    let merged_from = select(
        "SELECT d.reference, d.status, substr(d.description, 1, ?3) FROM complaints d
         WHERE d.merged_into_id = ?2 AND d.merchant_id = ?1 ORDER BY d.id",
    )?;
    let linked = select(
        "SELECT c.reference, c.status, substr(c.description, 1, ?3) FROM complaint_links l
         JOIN complaints c ON c.id = CASE WHEN l.complaint_id = ?2 THEN l.related_id
                                          ELSE l.complaint_id END
         WHERE (l.complaint_id = ?2 OR l.related_id = ?2) AND c.merchant_id = ?1
         ORDER BY c.id",
    )?;
    Ok(Related {
        merged_into,
        merged_from,
        linked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::inbox_fixtures::{START, complaint, record, site};
    use crate::store::test_support::temp_store;

    async fn kinds(store: &Store, merchant: i64, reference: &str) -> Vec<(String, bool)> {
        store
            .inbox_complaint(merchant, reference, START)
            .await
            .unwrap()
            .unwrap()
            .timeline
            .into_iter()
            .map(|event| (event.kind, event.public))
            .collect()
    }

    #[tokio::test]
    async fn a_merge_closes_the_duplicate_points_it_at_the_primary_and_stays_in_the_merchant() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (other, other_shop) = site(store, "Other", "other-shop").await;
        let primary = record(store, complaint(shop, START, "The kettle leaks")).await;
        let duplicate = record(store, complaint(shop, START + 1, "Kettle leaking again")).await;
        let earlier = record(store, complaint(shop, START + 2, "Leaks, a third time")).await;
        let theirs = record(store, complaint(other_shop, START, "Other's kettle")).await;

        // Another merchant's complaint, on either side: not found, nothing written.
        for (dup, into, asker) in [
            (&duplicate, &theirs, merchant),
            (&theirs, &primary, merchant),
            (&duplicate, &primary, other),
        ] {
            let outcome = store
                .merge_complaints(asker, 1, dup, into, START + 5)
                .await
                .unwrap();
            assert_eq!(outcome, RelationOutcome::NotFound);
        }
        assert_eq!(kinds(store, merchant, &duplicate).await.len(), 1);
        assert_eq!(kinds(store, other, &theirs).await.len(), 1);
        assert_eq!(
            store
                .merge_complaints(merchant, 1, &primary, &primary, START)
                .await
                .unwrap(),
            RelationOutcome::Refused(RelationRefusal::SameComplaint)
        );

        // `earlier` into `duplicate`, then `duplicate` into `primary`: both
        // end up pointing at the primary.
        store
            .merge_complaints(merchant, 7, &earlier, &duplicate, START + 6)
            .await
            .unwrap();
        let RelationOutcome::Done(related) = store
            .merge_complaints(merchant, 7, &duplicate, &primary, START + 7)
            .await
            .unwrap()
        else {
            panic!("the merge was refused");
        };
        assert_eq!(related.merged_into.unwrap().reference, primary);
        let detail = store
            .inbox_complaint(merchant, &duplicate, START + 7)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(detail.status, Status::Closed);
        // The shopper sees the status change; the pointer is staff business.
        assert_eq!(
            kinds(store, merchant, &duplicate).await,
            [
                ("received".to_owned(), true),
                ("merged".to_owned(), false),
                ("status_changed".to_owned(), true),
                ("merged".to_owned(), false),
            ]
        );
        let of_primary = store
            .related_complaints(merchant, &primary)
            .await
            .unwrap()
            .unwrap();
        let merged: Vec<&str> = of_primary
            .merged_from
            .iter()
            .map(|c| c.reference.as_str())
            .collect();
        assert_eq!(merged, [duplicate.as_str(), earlier.as_str()]);
        assert_eq!(
            kinds(store, merchant, &primary).await.last().unwrap(),
            &("merged".to_owned(), false)
        );
        // Merged once is enough; and nothing merges into a merged one.
        assert_eq!(
            store
                .merge_complaints(merchant, 7, &duplicate, &primary, START)
                .await
                .unwrap(),
            RelationOutcome::Refused(RelationRefusal::AlreadyMerged)
        );
        let fresh = record(store, complaint(shop, START + 8, "Yet another")).await;
        assert_eq!(
            store
                .merge_complaints(merchant, 7, &fresh, &duplicate, START)
                .await
                .unwrap(),
            RelationOutcome::Refused(RelationRefusal::IntoMerged)
        );
        assert_eq!(kinds(store, merchant, &fresh).await.len(), 1);
        // Other merchants never see any of it.
        assert_eq!(
            store.related_complaints(other, &primary).await.unwrap(),
            None
        );

        let audit = store.audit_entries(merchant, None, 50).await.unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|entry| entry.action == "complaint.merged")
                .count(),
            2
        );
    }

    #[tokio::test]
    async fn links_show_on_both_sides_and_come_off_again() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (_, other_shop) = site(store, "Other", "other-shop").await;
        let one = record(store, complaint(shop, START, "Late parcel")).await;
        let two = record(store, complaint(shop, START + 1, "Also late")).await;
        let theirs = record(store, complaint(other_shop, START, "Their parcel")).await;

        assert_eq!(
            store
                .link_complaints(merchant, 3, &one, &theirs, true, START)
                .await
                .unwrap(),
            RelationOutcome::NotFound
        );
        for _ in 0..2 {
            store
                .link_complaints(merchant, 3, &one, &two, true, START + 1)
                .await
                .unwrap();
        }
        let linked = |reference: String| async move {
            store
                .related_complaints(merchant, &reference)
                .await
                .unwrap()
                .unwrap()
                .linked
                .into_iter()
                .map(|c| c.reference)
                .collect::<Vec<_>>()
        };
        assert_eq!(linked(one.clone()).await, std::slice::from_ref(&two));
        assert_eq!(linked(two.clone()).await, std::slice::from_ref(&one));
        // Linking twice wrote one event per side.
        assert_eq!(kinds(store, merchant, &two).await.len(), 2);

        store
            .link_complaints(merchant, 3, &two, &one, false, START + 2)
            .await
            .unwrap();
        assert!(linked(one.clone()).await.is_empty());
        assert_eq!(kinds(store, merchant, &one).await.len(), 3);
        let audit = store.audit_entries(merchant, None, 50).await.unwrap();
        let actions: Vec<&str> = audit.iter().map(|entry| entry.action.as_str()).collect();
        assert_eq!(
            actions
                .iter()
                .filter(|a| a.starts_with("complaint."))
                .count(),
            2,
            "{actions:?}"
        );
    }
}
