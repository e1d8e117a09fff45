//! Durable storage in one SQLite file. The only module that imports rusqlite.
//!
//! **Writes go through one writer thread that commits in batches** (group
//! commit): many complaints share one transaction and one fsync, so intake does
//! not collapse to one fsync per request. Reads use a small pool of read-only
//! connections, which WAL mode lets run beside the writer.

mod attachments;
mod audit;
pub mod backup;
mod clusters;
mod complaints;
mod connection;
mod digest;
mod escalation;
mod followup;
mod inbox;
mod inbox_live;
mod inbox_work;
mod insights;
mod mail;
mod migrations;
mod notifications;
pub mod priority;
mod proofs;
mod readers;
mod relations;
mod retention;
mod routing;
mod search;
mod sessions;
mod shopper;
mod site_cache;
mod site_settings;
mod sites;
mod spam;
mod users;
mod writer;

use std::path::Path;
use std::sync::Arc;

use heard_shared::SiteConfig;
use rusqlite::Connection;
use tokio::sync::Notify;

pub use attachments::NewAttachment;
pub use audit::{AuditEntry, AuditNote};
pub use clusters::{
    Candidates, ClusterBatch, ClusterComparer, ClusterDetail, ClusterMember, ClusterSummary,
    ClusterSweep, InFlight,
};
pub use complaints::{
    ComplaintRecord, INSERT_COMPLAINT, IdempotencyRecord, NewComplaint, PublicEvent, Recorded,
    SpamReason, SpentProof,
};
pub use digest::{DigestFigures, Satisfaction, TopCluster};
pub use escalation::Escalation;
pub use followup::{
    FollowUp, ShopperAction, ShopperEvent, ShopperOutcome, ShopperRefusal, Survey, SurveyAnswer,
};
#[cfg(test)]
pub(crate) use inbox::fixtures as inbox_fixtures;
pub use inbox::{
    ActionOutcome, Assignee, AssigneeFilter, AttachmentMeta, ComplaintDetail, Contact, InboxAction,
    InboxFilter, InboxPage, InboxPosition, InboxRow, Refusal, TimelineEvent,
};
pub use inbox_live::{DUE_SOON_MS, InboxCounts, MerchantSite};
pub use inbox_work::{BulkOutcome, CannedReply, Change, SavedView, SlaTarget};
pub use insights::{
    AgeBand, Backlog, CategoryTerms, CausesFigures, Compliance, Dimension, DimensionRow, Durations,
    HandlingFigures, Reopen, SatisfactionFigures, Scores, Term, TopCluster as InsightsCluster,
    VolumeFigures, WeekFigures, WeeklySummary,
};
pub use mail::{MailKind, MailState, MailUpdate, NewMail, QueuedMail};
pub use migrations::latest_version;
pub use notifications::{Delivery, DueNotification, NotificationView};
pub use relations::{Related, RelatedComplaint, RelationOutcome, RelationRefusal};
pub use retention::Anonymized;
#[cfg(test)]
pub(crate) use routing::fixtures as routing_fixtures;
pub use routing::{
    MAX_TEAMS, MAX_WEBHOOKS, Refused, Strategy, Team, TeamInput, TeamMember, Webhook,
    WebhookFormat, WebhookInput,
};
pub use search::SearchMarks;
pub use sessions::{NewSession, SessionRecord, Swept, Throttle};
pub use shopper::{ComplaintExport, ExportedPhoto};
pub use sites::{NewSite, Secret, Site};
pub use spam::{FreshLink, SpamOutcome};
pub use users::{Credentials, NewInvite, NewUser, Role, StaffChange, User};
use writer::Writer;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the database schema is version {found}, newer than this build knows ({known})")]
    SchemaTooNew { found: usize, known: usize },
    #[error("the write queue is full")]
    Busy,
    /// The disk (or the database's size limit) is full; nothing was stored.
    #[error("the database is out of space")]
    Full,
    /// Another connection held the database past the busy timeout; nothing
    /// was written and the caller may retry.
    #[error("the database stayed locked by another connection")]
    Locked,
    #[error("the store is shutting down")]
    Closed,
    #[error("the same Idempotency-Key was used with a different request")]
    IdempotencyConflict,
    /// The complaint's proof of work was already used by another complaint.
    #[error("this proof of work was already used")]
    ProofSpent,
    /// The site changed after the request was judged by it: judge it again.
    #[error("the site changed while the request was handled")]
    SiteChanged,
    #[error("attachment number {0} is unknown or already used")]
    UnknownAttachment(usize),
    #[error("a site with the key {0:?} already exists")]
    DuplicateSite(String),
    #[error("a staff account with this email already exists")]
    DuplicateEmail,
    #[error("no such staff member in this merchant")]
    NoSuchUser,
    #[error("the merchant's last owner cannot be removed or disabled")]
    LastOwner,
    #[error("the invitation is unknown, used or expired")]
    InviteUnusable,
    #[error("a background task failed: {0}")]
    Task(String),
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    readers: Arc<readers::Readers>,
    writer: Writer,
    /// Rung after a commit that queued mail, so the mail worker need not wait
    /// for its next poll.
    mail_queued: Arc<Notify>,
    /// The thread that keeps the search index (`search.rs`) off the
    /// writer's path.
    search: search::Indexer,
    /// The sites the public API resolves, forgotten by the writer on change.
    sites: Arc<site_cache::SiteCache>,
}

impl Store {
    /// Opens (creating if needed) the database, applies pending migrations and
    /// starts the writer thread.
    pub fn open(path: &Path, max_batch: usize, write_queue: usize) -> Result<Store, StoreError> {
        let mut connection = connection::open_writer(path)?;
        migrations::apply(&mut connection)?;
        let sites = Arc::new(site_cache::SiteCache::new());
        let writer = Writer::start(
            connection,
            max_batch.max(1),
            write_queue.max(1),
            Arc::clone(&sites),
        )?;
        let search = search::Indexer::start(path)?;
        Ok(Store {
            inner: Arc::new(Inner {
                readers: Arc::new(readers::Readers::new(path)),
                writer,
                mail_queued: Arc::new(Notify::new()),
                search,
                sites,
            }),
        })
    }

    /// Finishes every write already queued, then stops the writer. Later
    /// writes fail with [`StoreError::Closed`].
    pub async fn shutdown(&self) {
        self.inner.writer.shutdown().await;
        self.inner.search.shutdown().await;
    }

    /// Runs `work` on a read-only connection on the blocking thread pool.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.readers.run(work).await
    }

    /// Answers when the database can be read.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|connection| Ok(connection.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    // --- sites -----------------------------------------------------------

    pub async fn site_by_key(&self, site_key: &str) -> Result<Option<Site>, StoreError> {
        let site_key = site_key.to_owned();
        self.read(move |connection| sites::by_key(connection, &site_key))
            .await
    }

    pub async fn site_by_id(&self, site_id: i64) -> Result<Option<Site>, StoreError> {
        self.read(move |connection| sites::by_id(connection, site_id))
            .await
    }

    pub async fn sites(&self) -> Result<Vec<Site>, StoreError> {
        self.read(sites::all).await
    }

    /// Creates a site, and its merchant when none of that name exists yet.
    pub async fn add_site(&self, site: NewSite) -> Result<Site, StoreError> {
        self.inner
            .writer
            .run(move |connection| sites::insert(connection, &site))
            .await
    }

    /// Creates the site, or replaces its allowed origins when it exists.
    pub async fn upsert_site(&self, site: NewSite) -> Result<Site, StoreError> {
        self.inner
            .writer
            .run(move |connection| sites::upsert(connection, &site))
            .await
    }

    /// Replaces a site's configuration; `None` when no site has this key.
    /// Check it with `heard_shared::site_rules::validate_site_config` first.
    pub async fn configure_site(
        &self,
        site_key: &str,
        config: SiteConfig,
    ) -> Result<Option<Site>, StoreError> {
        let site_key = site_key.to_owned();
        self.inner
            .writer
            .run(move |connection| sites::configure(connection, &site_key, &config))
            .await
    }

    // --- complaints -------------------------------------------------------

    /// Stores a complaint, and its acknowledgement email in the same
    /// transaction; answers only after it is committed to disk.
    pub async fn record_complaint(&self, complaint: NewComplaint) -> Result<Recorded, StoreError> {
        let queues_mail = complaint.acknowledgement.is_some();
        let recorded = self
            .inner
            .writer
            .run(move |connection| complaints::record(connection, &complaint))
            .await?;
        if queues_mail && recorded.replay_of.is_none() {
            self.inner.mail_queued.notify_one();
        }
        self.inner.search.wake();
        Ok(recorded)
    }

    /// Stores an uploaded photo, not yet claimed by a complaint.
    pub async fn add_attachment(&self, attachment: NewAttachment) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| attachments::insert(connection, &attachment))
            .await
    }

    /// Removes expired sessions, forgotten sign-in failures and ended
    /// invitations (see `sessions::sweep`).
    pub async fn sweep_expired_access(
        &self,
        now: i64,
        idle_ms: i64,
        forget_after_ms: i64,
    ) -> Result<Swept, StoreError> {
        self.inner
            .writer
            .run(move |connection| sessions::sweep(connection, now, idle_ms, forget_after_ms))
            .await
    }

    /// Removes uploads that no complaint claimed before `cutoff` (ms since
    /// the epoch): a shopper who gave up, or someone using the endpoint as
    /// free storage.
    pub async fn delete_unclaimed_attachments(&self, cutoff: i64) -> Result<usize, StoreError> {
        self.inner
            .writer
            .run(move |connection| attachments::delete_unclaimed(connection, cutoff))
            .await
    }

    /// What the shopper may see of a complaint's history, oldest first.
    pub async fn public_timeline(&self, complaint_id: i64) -> Result<Vec<PublicEvent>, StoreError> {
        self.read(move |connection| complaints::public_timeline(connection, complaint_id))
            .await
    }

    pub async fn complaint_by_token_hash(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<ComplaintRecord>, StoreError> {
        self.read(move |connection| complaints::by_token_hash(connection, &token_hash))
            .await
    }

    pub async fn complaint_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<ComplaintRecord>, StoreError> {
        let reference = reference.to_owned();
        self.read(move |connection| complaints::by_reference(connection, &reference))
            .await
    }

    // --- the shopper's own complaint: recovery, export, deletion ----------

    /// See [`shopper::recover`]: a new link's hash and its email, in one
    /// transaction, only when reference and email match.
    pub async fn recover_link(
        &self,
        site_id: Option<i64>,
        reference: String,
        email: String,
        token_hash: [u8; 32],
        status_url: String,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sent = self
            .inner
            .writer
            .run(move |connection| {
                shopper::recover(
                    connection,
                    site_id,
                    &reference,
                    &email,
                    &token_hash,
                    &status_url,
                    now,
                )
            })
            .await?;
        if sent {
            self.inner.mail_queued.notify_one();
        }
        Ok(sent)
    }

    /// Everything stored about the complaint this link opens, beyond its
    /// [`ComplaintRecord`].
    pub async fn export_complaint(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<ComplaintExport>, StoreError> {
        self.read(move |connection| {
            Ok(shopper::export(connection, &token_hash)?.map(|(_, export)| export))
        })
        .await
    }

    /// Deletes the shopper's words and identity, then checkpoints the WAL so
    /// they are gone from every file. `false` when the link opens nothing.
    pub async fn delete_complaint(
        &self,
        token_hash: [u8; 32],
        now: i64,
    ) -> Result<bool, StoreError> {
        let deleted = self
            .inner
            .writer
            .run(move |connection| shopper::delete(connection, &token_hash, now))
            .await?;
        if deleted {
            self.inner.writer.checkpoint().await?;
            // The index file holds the words too: wait until they are gone
            // from it (and its WAL), not for the index's backlog.
            self.search_forgotten().await?;
        }
        Ok(deleted)
    }

    // --- mail queue -----------------------------------------------------------

    /// Rings when new mail was committed.
    pub fn mail_queued(&self) -> Arc<Notify> {
        Arc::clone(&self.inner.mail_queued)
    }

    /// Unparked messages whose next attempt is due at `now`.
    pub async fn due_mail(&self, now: i64, limit: usize) -> Result<Vec<QueuedMail>, StoreError> {
        self.read(move |connection| mail::due(connection, now, limit))
            .await
    }

    /// Every queued message's delivery state, oldest first.
    pub async fn mail_states(&self) -> Result<Vec<MailState>, StoreError> {
        self.read(mail::states).await
    }

    pub async fn mail_delivered(&self, id: i64) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| mail::delivered(connection, id))
            .await
    }

    /// Counts a failed attempt; `retry_at: None` parks the message.
    pub async fn mail_failed(
        &self,
        id: i64,
        error: String,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| mail::failed(connection, id, &error, retry_at, now))
            .await
    }

    // --- staff accounts -----------------------------------------------------
    //
    // Everything here that touches one merchant's staff takes `merchant_id`
    // and filters by it in SQL. Sign-in (by email), session lookup (by token
    // hash) and invitation acceptance (by token hash) are how a request
    // learns its merchant in the first place.

    pub async fn merchant_id_by_name(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let name = name.to_owned();
        self.read(move |connection| users::merchant_id(connection, &name))
            .await
    }

    /// The merchant named `name`, created if it does not exist yet.
    pub async fn ensure_merchant(&self, name: &str, now: i64) -> Result<i64, StoreError> {
        let name = name.to_owned();
        self.inner
            .writer
            .run(move |connection| sites::merchant_id(connection, &name, now))
            .await
    }

    /// The account with this (normalised) email, in any merchant: sign-in.
    pub async fn credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<Credentials>, StoreError> {
        let email = email.to_owned();
        self.read(move |connection| users::by_email(connection, &email))
            .await
    }

    pub async fn credentials(
        &self,
        merchant_id: i64,
        user_id: i64,
    ) -> Result<Option<Credentials>, StoreError> {
        self.read(move |connection| users::credentials_by_id(connection, merchant_id, user_id))
            .await
    }

    pub async fn user(&self, merchant_id: i64, user_id: i64) -> Result<Option<User>, StoreError> {
        self.read(move |connection| users::by_id(connection, merchant_id, user_id))
            .await
    }

    pub async fn users(&self, merchant_id: i64) -> Result<Vec<User>, StoreError> {
        self.read(move |connection| users::list(connection, merchant_id))
            .await
    }

    /// Creates an account and records `note`, in one transaction.
    pub async fn add_user(
        &self,
        user: NewUser,
        note: AuditNote,
        now: i64,
    ) -> Result<User, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                let created = users::insert(connection, &user, now)?;
                let mut note = note;
                note.detail["user_id"] = created.id.into();
                audit::record(connection, created.merchant_id, &note, now)?;
                Ok(created)
            })
            .await
    }

    /// Disables or removes a staff member of `merchant_id` (never the last
    /// enabled owner) and ends their sessions.
    pub async fn change_staff(
        &self,
        merchant_id: i64,
        target: i64,
        change: StaffChange,
        note: AuditNote,
        now: i64,
    ) -> Result<User, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                users::change(connection, merchant_id, target, change, &note, now)
            })
            .await
    }

    /// Stores a new password hash and ends every other session of the user.
    pub async fn change_password(
        &self,
        merchant_id: i64,
        user_id: i64,
        password_hash: String,
        keep_session: [u8; 32],
        note: AuditNote,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                users::set_password(connection, merchant_id, user_id, &password_hash, now)?;
                sessions::delete_others(connection, user_id, &keep_session)?;
                audit::record(connection, merchant_id, &note, now)
            })
            .await
    }

    pub async fn add_invite(
        &self,
        invite: NewInvite,
        note: AuditNote,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                users::insert_invite(connection, &invite, now)?;
                audit::record(connection, invite.merchant_id, &note, now)
            })
            .await
    }

    /// The email of an unused, unexpired invitation.
    pub async fn invite_email(
        &self,
        token_hash: [u8; 32],
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |connection| users::invite_email(connection, &token_hash, now))
            .await
    }

    /// Uses an invitation once to create its account.
    pub async fn accept_invite(
        &self,
        token_hash: [u8; 32],
        display_name: String,
        password_hash: String,
        now: i64,
    ) -> Result<User, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                users::accept_invite(connection, &token_hash, &display_name, &password_hash, now)
            })
            .await
    }

    // --- sessions and sign-in throttling ------------------------------------

    /// Starts a session after a successful sign-in: clears the email's
    /// failures, ends the session the browser presented (if any) and the
    /// user's dead sessions, and records the sign-in.
    pub async fn start_session(
        &self,
        session: NewSession,
        replaces: Option<[u8; 32]>,
        clear_subject: String,
        idle_ms: i64,
        note: AuditNote,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                if let Some(old) = replaces {
                    sessions::delete(connection, &old)?;
                }
                sessions::delete_dead(connection, session.user_id, now, idle_ms)?;
                sessions::insert(connection, &session, now)?;
                sessions::clear_failures(connection, &clear_subject)?;
                audit::record(connection, session.merchant_id, &note, now)
            })
            .await
    }

    pub async fn session(&self, id_hash: [u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        self.read(move |connection| sessions::by_hash(connection, &id_hash))
            .await
    }

    pub async fn touch_session(&self, id_hash: [u8; 32], now: i64) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| sessions::touch(connection, &id_hash, now))
            .await
    }

    /// Ends a session, recording why when `audit` is given.
    pub async fn end_session(
        &self,
        id_hash: [u8; 32],
        audit: Option<(i64, AuditNote)>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                let ended = sessions::delete(connection, &id_hash)?;
                if let Some((merchant_id, note)) = &audit {
                    audit::record(connection, *merchant_id, note, now)?;
                }
                Ok(ended)
            })
            .await
    }

    /// When the earliest of `subjects` may try to sign in again, if later than `now`.
    pub async fn login_locked_until(
        &self,
        subjects: Vec<String>,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.read(move |connection| sessions::locked_until(connection, &subjects, now))
            .await
    }

    /// Counts a failed sign-in against each subject, and records it in the
    /// merchant's audit log when the account exists.
    pub async fn record_login_failure(
        &self,
        subjects: Vec<(String, Throttle)>,
        audit: Option<(i64, AuditNote)>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                for (subject, throttle) in &subjects {
                    sessions::record_failure(connection, subject, throttle, now)?;
                }
                if let Some((merchant_id, note)) = &audit {
                    audit::record(connection, *merchant_id, note, now)?;
                }
                Ok(())
            })
            .await
    }

    // --- staff inbox ---------------------------------------------------------
    //
    // Every inbox call takes `merchant_id` and filters by it in SQL.

    /// A page of the merchant's complaints in inbox order, computed as of
    /// `after.as_of` when continuing, else as of `now`.
    pub async fn inbox(
        &self,
        merchant_id: i64,
        filter: InboxFilter,
        after: Option<InboxPosition>,
        limit: usize,
        now: i64,
    ) -> Result<InboxPage, StoreError> {
        let as_of = after.map_or(now, |position| position.as_of);
        self.read(move |connection| {
            inbox::list(connection, merchant_id, &filter, as_of, after, limit)
        })
        .await
    }

    pub async fn inbox_complaint(
        &self,
        merchant_id: i64,
        reference: &str,
        now: i64,
    ) -> Result<Option<ComplaintDetail>, StoreError> {
        let reference = reference.to_owned();
        self.read(move |connection| inbox::detail(connection, merchant_id, &reference, now))
            .await
    }

    /// Applies a staff action, its timeline event and its audit entry in one job.
    pub async fn inbox_act(
        &self,
        merchant_id: i64,
        actor_user_id: i64,
        reference: &str,
        action: InboxAction,
        now: i64,
    ) -> Result<ActionOutcome, StoreError> {
        let reference = reference.to_owned();
        let outcome = self
            .inner
            .writer
            .run(move |connection| {
                inbox::act(
                    connection,
                    merchant_id,
                    actor_user_id,
                    &reference,
                    &action,
                    now,
                )
            })
            .await?;
        // Replies and notes are searchable.
        self.inner.search.wake();
        // Status changes and replies may have queued mail to the shopper.
        self.inner.mail_queued.notify_one();
        Ok(outcome)
    }

    // --- audit log ----------------------------------------------------------

    pub async fn audit_entries(
        &self,
        merchant_id: i64,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |connection| audit::list(connection, merchant_id, before, limit))
            .await
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A store on a fresh temporary file (real SQLite, real WAL), removed on drop.
    pub struct TempStore {
        pub store: Store,
        pub directory: tempfile::TempDir,
    }

    pub fn temp_store() -> TempStore {
        let directory = tempfile::tempdir().expect("temporary directory");
        let store =
            Store::open(&directory.path().join("heard.sqlite3"), 64, 1024).expect("open store");
        TempStore { store, directory }
    }
}
