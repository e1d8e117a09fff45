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
