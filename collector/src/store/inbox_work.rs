//! What a busy support team adds to the inbox: each site's response targets
//! (and the due dates of its open complaints that follow them), bulk
//! actions on a selection of complaints, saved views and canned replies.
//!
//! Like `inbox.rs`, every function takes the merchant id and filters by it
//! in SQL; a site key or a reference of another merchant is not found.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::audit::{self, AuditNote};
use super::inbox::{self, ActionOutcome, InboxAction, Refusal};
use super::{Store, StoreError};

const HOUR: i64 = 60 * 60 * 1000;

/// The targets of one class of complaint, in hours after receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaTarget {
    /// `urgent`, `serious`, `cost_me`, `inconvenience` or `unrated`.
    pub class: String,
    pub first_response_hours: i64,
    pub resolution_hours: i64,
}

/// How a bulk action ended. Anything but `Done` wrote nothing at all.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkOutcome {
    /// Every complaint was changed; how many.
    Done(usize),
    /// This reference is not one of the merchant's complaints.
    NotFound(String),
    /// This complaint's state refused the action.
    Refused(String, Refusal),
}

impl Store {
    /// The targets the merchant's site `site_key` has set (classes without
    /// a row keep the defaults); `None` when the merchant has no such site.
    pub async fn site_response_targets(
        &self,
        merchant_id: i64,
        site_key: &str,
    ) -> Result<Option<Vec<SlaTarget>>, StoreError> {
        let site_key = site_key.to_owned();
        self.read(move |connection| {
            let Some(site_id) = site_id(connection, merchant_id, &site_key)? else {
                return Ok(None);
            };
            custom_targets(connection, site_id).map(Some)
        })
        .await
    }

    /// Replaces the site's own targets with `custom` and moves the due
    /// dates of its open complaints to `effective` (every class, defaults
    /// filled in), with an audit entry, in one writer job. Answers how many
    /// open complaints were recomputed; `None` when the merchant has no
    /// such site.
    pub async fn set_site_response_targets(
        &self,
        merchant_id: i64,
        actor_user_id: i64,
        site_key: &str,
        custom: Vec<SlaTarget>,
        effective: Vec<SlaTarget>,
        now: i64,
    ) -> Result<Option<usize>, StoreError> {
        let site_key = site_key.to_owned();
        self.inner
            .writer
            .run(move |connection| {
                let Some(site_id) = site_id(connection, merchant_id, &site_key)? else {
                    return Ok(None);
                };
                connection
                    .prepare_cached("DELETE FROM site_response_targets WHERE site_id = ?1")?
                    .execute(params![site_id])?;
                for target in &custom {
                    connection
                        .prepare_cached(
                            "INSERT INTO site_response_targets
                                (site_id, class, first_response_hours, resolution_hours)
                             VALUES (?1, ?2, ?3, ?4)",
                        )?
                        .execute(params![
                            site_id,
                            target.class,
                            target.first_response_hours,
                            target.resolution_hours
                        ])?;
                }
                let mut recomputed = 0;
                for target in &effective {
                    // The class expression is the trigger's (0008_inbox_work.sql).
                    recomputed += connection
                        .prepare_cached(
                            "UPDATE complaints SET
                                first_response_due_at = created_at + ?4 * ?6,
                                resolution_due_at = created_at + ?5 * ?6
                             WHERE merchant_id = ?1 AND site_id = ?2
                               AND status NOT IN ('resolved', 'closed')
                               AND (CASE
                                   WHEN urgent THEN 'urgent'
                                   WHEN severity IN ('serious', 'cost_me', 'inconvenience')
                                       THEN severity
                                   ELSE 'unrated' END) = ?3",
                        )?
                        .execute(params![
                            merchant_id,
                            site_id,
                            target.class,
                            target.first_response_hours,
                            target.resolution_hours,
                            HOUR
                        ])?;
                }
                let detail = serde_json::json!({
                    "site": site_key,
                    "targets": custom,
                    "recomputed": recomputed,
                });
                audit::record(
                    connection,
                    merchant_id,
                    &AuditNote::new(Some(actor_user_id), "site.response_targets_changed", detail),
                    now,
                )?;
                Ok(Some(recomputed))
            })
            .await
    }

    /// Applies `action` to every complaint in `references`, all or nothing,
    /// in one writer job: each complaint gets its own timeline event and
    /// audit entry exactly as a single action would write them.
    pub async fn inbox_bulk(
        &self,
        merchant_id: i64,
        actor_user_id: i64,
        references: Vec<String>,
        action: InboxAction,
        now: i64,
    ) -> Result<BulkOutcome, StoreError> {
        let outcome = self
            .inner
            .writer
            .run(move |connection| {
                // A savepoint of our own inside the job's: a refusal is an
                // answer, not an error, so the writer would keep the changes
                // made to the complaints before it.
                connection.execute_batch("SAVEPOINT bulk")?;
                let outcome = bulk(
                    connection,
                    merchant_id,
                    actor_user_id,
                    &references,
                    &action,
                    now,
                );
                match outcome {
                    Ok(BulkOutcome::Done(count)) => {
                        connection.execute_batch("RELEASE bulk")?;
                        Ok(BulkOutcome::Done(count))
                    }
                    Ok(refused) => {
                        connection.execute_batch("ROLLBACK TO bulk; RELEASE bulk")?;
                        Ok(refused)
                    }
                    Err(error) => Err(error),
                }
            })
            .await?;
        // Status changes may have queued mail to the shopper.
        self.inner.mail_queued.notify_one();
        Ok(outcome)
    }
}

/// A named list filter: the list page's query string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedView {
    pub id: i64,
    pub name: String,
    /// The list page's query string, e.g. `status=open&assignee=me`.
    pub query: String,
    /// Shared with everyone of the merchant, or the creator's own.
    pub shared: bool,
    pub created_by: i64,
}

/// A reply text staff insert and adapt, per language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CannedReply {
    pub id: i64,
    pub language: String,
    pub title: String,
    pub body: String,
    pub updated_at: i64,
}

/// How saving or removing a view or a canned reply ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    Done(T),
    /// Not the merchant's, or another person's personal view.
    NotFound,
    /// The name (title) is taken in that scope.
    Taken,
    /// Someone else's shared view, and the asker is not an owner.
    NotYours,
}

impl Store {
    /// The views `user_id` may use: their own and the merchant's shared
    /// ones, shared first, each by name.
    pub async fn saved_views(
        &self,
        merchant_id: i64,
        user_id: i64,
    ) -> Result<Vec<SavedView>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT id, name, query, owner_user_id IS NULL, created_by FROM saved_views
                 WHERE merchant_id = ?1 AND (owner_user_id IS NULL OR owner_user_id = ?2)
                 ORDER BY owner_user_id IS NOT NULL, name, id",
            )?;
            let rows = statement.query_map(params![merchant_id, user_id], view_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Saves a view, personal or shared, with an audit entry.
    pub async fn save_view(
        &self,
        merchant_id: i64,
        user_id: i64,
        name: String,
        query: String,
        shared: bool,
        now: i64,
    ) -> Result<Change<SavedView>, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                let owner = if shared { None } else { Some(user_id) };
                let taken: Option<i64> = connection
                    .prepare_cached(
                        "SELECT id FROM saved_views WHERE merchant_id = ?1
                         AND coalesce(owner_user_id, 0) = coalesce(?2, 0) AND name = ?3",
                    )?
                    .query_row(params![merchant_id, owner, name], |row| row.get(0))
                    .optional()?;
                if taken.is_some() {
                    return Ok(Change::Taken);
                }
                connection
                    .prepare_cached(
                        "INSERT INTO saved_views
                            (merchant_id, owner_user_id, created_by, name, query, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![merchant_id, owner, user_id, name, query, now])?;
                let view = SavedView {
                    id: connection.last_insert_rowid(),
                    name,
                    query,
                    shared,
                    created_by: user_id,
                };
                let detail = serde_json::json!({
                    "id": view.id, "name": view.name, "shared": shared,
                });
                audit::record(
                    connection,
                    merchant_id,
                    &AuditNote::new(Some(user_id), "view.saved", detail),
                    now,
                )?;
                Ok(Change::Done(view))
            })
            .await
    }

    /// Removes a view: one's own, or a shared one one created; owners
    /// remove any shared view.
    pub async fn delete_view(
        &self,
        merchant_id: i64,
        user_id: i64,
        is_owner: bool,
        id: i64,
        now: i64,
    ) -> Result<Change<()>, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                let view = connection
                    .prepare_cached(
                        "SELECT id, name, query, owner_user_id IS NULL, created_by FROM saved_views
                         WHERE merchant_id = ?1 AND id = ?2
                           AND (owner_user_id IS NULL OR owner_user_id = ?3)",
                    )?
                    .query_row(params![merchant_id, id, user_id], view_row)
                    .optional()?;
                let Some(view) = view else {
                    return Ok(Change::NotFound);
                };
                if view.shared && view.created_by != user_id && !is_owner {
                    return Ok(Change::NotYours);
                }
                connection
                    .prepare_cached("DELETE FROM saved_views WHERE id = ?1")?
                    .execute(params![id])?;
                let detail = serde_json::json!({
                    "id": id, "name": view.name, "shared": view.shared,
                });
                audit::record(
                    connection,
                    merchant_id,
                    &AuditNote::new(Some(user_id), "view.deleted", detail),
                    now,
                )?;
                Ok(Change::Done(()))
            })
            .await
    }

    /// The merchant's canned replies, by language and title.
    pub async fn canned_replies(&self, merchant_id: i64) -> Result<Vec<CannedReply>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT id, language, title, body, updated_at FROM canned_replies
                 WHERE merchant_id = ?1 ORDER BY language, title, id",
            )?;
            let rows = statement.query_map(params![merchant_id], canned_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Adds a canned reply (`id` `None`) or replaces one, with an audit entry.
    #[allow(clippy::too_many_arguments)]
    pub async fn save_canned_reply(
        &self,
        merchant_id: i64,
        user_id: i64,
        id: Option<i64>,
        language: String,
        title: String,
        body: String,
        now: i64,
    ) -> Result<Change<CannedReply>, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                if let Some(id) = id {
                    let exists: Option<i64> = connection
                        .prepare_cached(
                            "SELECT id FROM canned_replies WHERE merchant_id = ?1 AND id = ?2",
                        )?
                        .query_row(params![merchant_id, id], |row| row.get(0))
                        .optional()?;
                    if exists.is_none() {
                        return Ok(Change::NotFound);
                    }
                }
                let taken: Option<i64> = connection
                    .prepare_cached(
                        "SELECT id FROM canned_replies
                         WHERE merchant_id = ?1 AND language = ?2 AND title = ?3",
                    )?
                    .query_row(params![merchant_id, language, title], |row| row.get(0))
                    .optional()?;
                if taken.is_some_and(|taken| Some(taken) != id) {
                    return Ok(Change::Taken);
                }
                let id = match id {
                    Some(id) => {
                        connection
                            .prepare_cached(
                                "UPDATE canned_replies SET language = ?3, title = ?4, body = ?5,
                                    updated_by = ?6, updated_at = ?7
                                 WHERE merchant_id = ?1 AND id = ?2",
                            )?
                            .execute(params![
                                merchant_id,
                                id,
                                language,
                                title,
                                body,
                                user_id,
                                now
                            ])?;
                        id
                    }
                    None => {
                        connection
                            .prepare_cached(
                                "INSERT INTO canned_replies
                                    (merchant_id, language, title, body, updated_by, updated_at)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            )?
                            .execute(params![merchant_id, language, title, body, user_id, now])?;
                        connection.last_insert_rowid()
                    }
                };
                let detail = serde_json::json!({ "id": id, "language": language, "title": title });
                audit::record(
                    connection,
                    merchant_id,
                    &AuditNote::new(Some(user_id), "canned_reply.saved", detail),
                    now,
                )?;
                Ok(Change::Done(CannedReply {
                    id,
                    language,
                    title,
                    body,
                    updated_at: now,
                }))
            })
            .await
    }

    /// Removes one of the merchant's canned replies, with an audit entry.
    pub async fn delete_canned_reply(
        &self,
        merchant_id: i64,
        user_id: i64,
        id: i64,
        now: i64,
    ) -> Result<Change<()>, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                let title: Option<String> = connection
                    .prepare_cached(
                        "SELECT title FROM canned_replies WHERE merchant_id = ?1 AND id = ?2",
                    )?
                    .query_row(params![merchant_id, id], |row| row.get(0))
                    .optional()?;
                let Some(title) = title else {
                    return Ok(Change::NotFound);
                };
                connection
                    .prepare_cached(
                        "DELETE FROM canned_replies WHERE merchant_id = ?1 AND id = ?2",
                    )?
                    .execute(params![merchant_id, id])?;
                audit::record(
                    connection,
                    merchant_id,
                    &AuditNote::new(
                        Some(user_id),
                        "canned_reply.deleted",
                        serde_json::json!({ "id": id, "title": title }),
                    ),
                    now,
                )?;
                Ok(Change::Done(()))
            })
            .await
    }
}

fn view_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SavedView> {
    Ok(SavedView {
        id: row.get(0)?,
        name: row.get(1)?,
        query: row.get(2)?,
        shared: row.get(3)?,
        created_by: row.get(4)?,
    })
}

fn canned_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CannedReply> {
    Ok(CannedReply {
        id: row.get(0)?,
        language: row.get(1)?,
        title: row.get(2)?,
        body: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

fn bulk(
    connection: &Connection,
    merchant_id: i64,
    actor_user_id: i64,
    references: &[String],
    action: &InboxAction,
    now: i64,
) -> Result<BulkOutcome, StoreError> {
    for reference in references {
        match inbox::act(
            connection,
            merchant_id,
            actor_user_id,
            reference,
            action,
            now,
        )? {
            ActionOutcome::Done(_) => {}
            ActionOutcome::NotFound => return Ok(BulkOutcome::NotFound(reference.clone())),
            ActionOutcome::Refused(refusal) => {
                return Ok(BulkOutcome::Refused(reference.clone(), refusal));
            }
        }
    }
    Ok(BulkOutcome::Done(references.len()))
}

fn site_id(
    connection: &Connection,
    merchant_id: i64,
    site_key: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(connection
        .prepare_cached("SELECT id FROM sites WHERE merchant_id = ?1 AND site_key = ?2")?
        .query_row(params![merchant_id, site_key], |row| row.get(0))
        .optional()?)
}

fn custom_targets(connection: &Connection, site_id: i64) -> Result<Vec<SlaTarget>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT class, first_response_hours, resolution_hours
         FROM site_response_targets WHERE site_id = ?1 ORDER BY class",
    )?;
    let rows = statement.query_map(params![site_id], |row| {
        Ok(SlaTarget {
            class: row.get(0)?,
            first_response_hours: row.get(1)?,
            resolution_hours: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use heard_shared::{Severity, Status};

    use super::*;
    use crate::domain::inbox::InboxError;
    use crate::domain::inbox_work::{self as rules, BulkRequest, SlaClass, Target};
    use crate::store::inbox_fixtures::{START, complaint, record, site};
    use crate::store::test_support::temp_store;
    use crate::store::{InboxFilter, NewComplaint, NewUser, Role};

    fn with_class(site_id: i64, created_at: i64, class: SlaClass) -> NewComplaint {
        let base = complaint(site_id, created_at, class.as_str());
        match class {
            SlaClass::Urgent => NewComplaint {
                urgent: true,
                category: "safety".to_owned(),
                ..base
            },
            SlaClass::Serious => NewComplaint {
                severity: Some(Severity::Serious),
                ..base
            },
            SlaClass::CostMe => NewComplaint {
                severity: Some(Severity::CostMe),
                ..base
            },
            SlaClass::Inconvenience => base,
            SlaClass::Unrated => NewComplaint {
                severity: None,
                ..base
            },
        }
    }

    async fn due(store: &Store, merchant: i64, reference: &str) -> (i64, i64) {
        let detail = store
            .inbox_complaint(merchant, reference, START)
            .await
            .unwrap()
            .unwrap();
        (
            detail.first_response_due_at.unwrap() - detail.created_at,
            detail.resolution_due_at.unwrap() - detail.created_at,
        )
    }

    async fn agent(store: &Store, merchant_id: i64, email: &str) -> i64 {
        store
            .add_user(
                NewUser {
                    merchant_id,
                    email: email.to_owned(),
                    display_name: "Agent".to_owned(),
                    role: Role::Agent,
                    password_hash: "not a real hash".to_owned(),
                },
                AuditNote::new(None, "test.user", serde_json::json!({})),
                START,
            )
            .await
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn intake_uses_the_default_targets_the_domain_states() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        for class in SlaClass::ALL {
            let reference = record(store, with_class(shop, START, class)).await;
            let (first, resolution) = class.default_hours();
            assert_eq!(
                due(store, merchant, &reference).await,
                (first * HOUR, resolution * HOUR),
                "{class:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_sites_targets_set_new_due_dates_and_move_open_ones() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (_, second_shop) = site(store, "Acme", "second").await;
        let (other, _) = site(store, "Other", "other-shop").await;
        let owner = agent(store, merchant, "owner@acme.example").await;
        let open = record(store, with_class(shop, START, SlaClass::Serious)).await;
        let unrated = record(store, with_class(shop, START, SlaClass::Unrated)).await;
        let finished = record(store, with_class(shop, START, SlaClass::Serious)).await;
        let elsewhere = record(store, with_class(second_shop, START, SlaClass::Serious)).await;
        store
            .inbox_act(
                merchant,
                owner,
                &finished,
                InboxAction::SetStatus {
                    to: Status::Resolved,
                    allowed_from: vec![Status::Received],
                },
                START,
            )
            .await
            .unwrap();

        let serious = Target {
            class: SlaClass::Serious,
            first_response_hours: 2,
            resolution_hours: 10,
            default: false,
        };
        // Another merchant cannot see or change this site's targets.
        assert!(matches!(
            rules::set_response_targets(store, other, owner, "shop", vec![serious.clone()], START)
                .await,
            Err(InboxError::NotFound)
        ));
        assert!(matches!(
            rules::response_targets(store, other, "shop").await,
            Err(InboxError::NotFound)
        ));
        assert_eq!(due(store, merchant, &open).await, (4 * HOUR, 72 * HOUR));

        let (targets, recomputed) =
            rules::set_response_targets(store, merchant, owner, "shop", vec![serious], START + 1)
                .await
                .unwrap();
        // The open serious and the unrated one (same defaults as before) move;
        // the resolved one and the other site's do not.
        assert_eq!(recomputed, 2);
        assert_eq!(targets.len(), SlaClass::ALL.len());
        assert!(
            targets
                .iter()
                .all(|t| t.default == (t.class != SlaClass::Serious))
        );
        assert_eq!(due(store, merchant, &open).await, (2 * HOUR, 10 * HOUR));
        assert_eq!(
            due(store, merchant, &unrated).await,
            (48 * HOUR, 168 * HOUR)
        );
        assert_eq!(due(store, merchant, &finished).await, (4 * HOUR, 72 * HOUR));
        assert_eq!(
            due(store, merchant, &elsewhere).await,
            (4 * HOUR, 72 * HOUR)
        );

        // A new complaint gets them at intake.
        let new = record(store, with_class(shop, START + 5, SlaClass::Serious)).await;
        assert_eq!(due(store, merchant, &new).await, (2 * HOUR, 10 * HOUR));
        assert_eq!(
            rules::response_targets(store, merchant, "shop")
                .await
                .unwrap(),
            targets
        );

        // Reset to defaults: no rows left, due dates back.
        rules::set_response_targets(store, merchant, owner, "shop", vec![], START + 2)
            .await
            .unwrap();
        assert_eq!(due(store, merchant, &new).await, (4 * HOUR, 72 * HOUR));

        let audit = store.audit_entries(merchant, None, 50).await.unwrap();
        let changes: Vec<_> = audit
            .iter()
            .filter(|entry| entry.action == "site.response_targets_changed")
            .collect();
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().all(|entry| entry.user_id == Some(owner)));
        assert!(
            store
                .audit_entries(other, None, 50)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn targets_are_checked() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, _) = site(store, "Acme", "shop").await;
        let target = |first_response_hours, resolution_hours| Target {
            class: SlaClass::Urgent,
            first_response_hours,
            resolution_hours,
            default: false,
        };
        for targets in [
            vec![target(0, 5)],
            vec![target(5, 4)],
            vec![target(1, rules::MAX_TARGET_HOURS + 1)],
            vec![target(1, 2), target(1, 3)],
        ] {
            let answer =
                rules::set_response_targets(store, merchant, 1, "shop", targets, START).await;
            assert!(matches!(answer, Err(InboxError::Invalid(_))), "{answer:?}");
        }
        assert!(
            store
                .site_response_targets(merchant, "shop")
                .await
                .unwrap()
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_missed_target_lifts_a_small_complaint_above_a_serious_one() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let owner = agent(store, merchant, "owner@acme.example").await;
        let small = Target {
            class: SlaClass::Inconvenience,
            first_response_hours: 1,
            resolution_hours: 2,
            default: false,
        };
        rules::set_response_targets(store, merchant, owner, "shop", vec![small], START)
            .await
            .unwrap();
        let small = record(store, with_class(shop, START, SlaClass::Inconvenience)).await;
        let serious = record(store, with_class(shop, START, SlaClass::Serious)).await;
        let order = |now| async move {
            store
                .inbox(merchant, InboxFilter::default(), None, 10, now)
                .await
                .unwrap()
                .rows
                .into_iter()
                .map(|row| (row.reference, row.overdue))
                .collect::<Vec<_>>()
        };
        // Within its hour the serious complaint comes first.
        assert_eq!(
            order(START + HOUR - 1).await,
            [(serious.clone(), false), (small.clone(), false)]
        );
        // A minute past the small one's first-response target it is overdue
        // and on top; the serious one (due in four hours) is not.
        assert_eq!(
            order(START + HOUR + 60_000).await,
            [(small.clone(), true), (serious.clone(), false)]
        );
        // Answered, it is no longer overdue until its resolution target.
        store
            .inbox_act(
                merchant,
                owner,
                &small,
                InboxAction::Reply("On its way.".to_owned()),
                START + HOUR + 120_000,
            )
            .await
            .unwrap();
        assert_eq!(
            order(START + HOUR + 180_000).await,
            [(serious.clone(), false), (small.clone(), false)]
        );
        assert_eq!(
            order(START + 2 * HOUR + 1).await,
            [(small, true), (serious, false)]
        );
    }

    #[tokio::test]
    async fn a_bulk_action_changes_all_or_nothing_and_never_another_merchant() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (other, other_shop) = site(store, "Other", "other-shop").await;
        let actor = agent(store, merchant, "agent@acme.example").await;
        let colleague = agent(store, merchant, "colleague@acme.example").await;
        let stranger = agent(store, other, "agent@other.example").await;
        let mut mine = Vec::new();
        for n in 0..3 {
            mine.push(record(store, complaint(shop, START + n, "mine")).await);
        }
        let theirs = record(store, complaint(other_shop, START, "theirs")).await;
        let events = |reference: String, merchant: i64| async move {
            store
                .inbox_complaint(merchant, &reference, START)
                .await
                .unwrap()
                .unwrap()
                .timeline
                .len()
        };

        // Another merchant's reference in the selection: 404, nothing changed.
        let mut selection = mine.clone();
        selection.insert(1, theirs.clone());
        let answer = rules::bulk(
            store,
            merchant,
            actor,
            selection,
            BulkRequest::AddTag {
                tag: "vip".to_owned(),
            },
            START,
        )
        .await;
        assert!(matches!(answer, Err(InboxError::NotFound)), "{answer:?}");
        for reference in &mine {
            assert_eq!(events(reference.clone(), merchant).await, 1);
        }
        assert_eq!(events(theirs.clone(), other).await, 1);

        // A refusal on the last one undoes the first two.
        rules::bulk(
            store,
            merchant,
            actor,
            vec![mine[2].clone()],
            BulkRequest::SetStatus {
                status: Status::Closed,
            },
            START,
        )
        .await
        .unwrap();
        let answer = rules::bulk(
            store,
            merchant,
            actor,
            mine.clone(),
            BulkRequest::SetStatus {
                status: Status::WaitingForYou,
            },
            START,
        )
        .await;
        assert!(
            matches!(answer, Err(InboxError::Transition { .. })),
            "{answer:?}"
        );
        assert_eq!(events(mine[0].clone(), merchant).await, 1);

        // Assigning to a staff member of another merchant is refused.
        let answer = rules::bulk(
            store,
            merchant,
            actor,
            mine.clone(),
            BulkRequest::Assign {
                user_id: Some(stranger),
            },
            START,
        )
        .await;
        assert!(matches!(answer, Err(InboxError::Invalid(_))), "{answer:?}");

        // Too many, or none.
        let many: Vec<String> = (0..=rules::MAX_BULK).map(|n| format!("HRD-{n}")).collect();
        for selection in [many, Vec::new()] {
            let answer = rules::bulk(
                store,
                merchant,
                actor,
                selection,
                BulkRequest::AddTag {
                    tag: "x".to_owned(),
                },
                START,
            )
            .await;
            assert!(matches!(answer, Err(InboxError::Invalid(_))), "{answer:?}");
        }

        // The whole selection, duplicates counted once: each complaint gets
        // its event and audit entry.
        let mut selection = mine.clone();
        selection.push(mine[0].clone());
        let changed = rules::bulk(
            store,
            merchant,
            actor,
            selection,
            BulkRequest::Assign {
                user_id: Some(colleague),
            },
            START + 10,
        )
        .await
        .unwrap();
        assert_eq!(changed, 3);
        for reference in &mine {
            let detail = store
                .inbox_complaint(merchant, reference, START + 10)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(detail.assignee.unwrap().user_id, colleague);
            assert_eq!(detail.timeline.last().unwrap().kind, "assigned");
        }
        let audit = store.audit_entries(merchant, None, 50).await.unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|entry| entry.action == "complaint.assigned" && entry.user_id == Some(actor))
                .count(),
            3
        );
    }
}
