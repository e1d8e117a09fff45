//! Complaints and their idempotency records.

use std::collections::BTreeMap;
use std::sync::Arc;

use heard_shared::{Mood, Outcome, Severity, Status, SubmissionKind};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};

use super::mail::{self, NewMail};
use super::site_cache;
use super::sites::{Site, from_json, parse_enum, to_json};
use super::{Store, StoreError};
use crate::random;

/// A complaint ready to store. Everything has been validated.
#[derive(Debug, Clone)]
pub struct NewComplaint {
    pub site_id: i64,
    /// SHA-256 of the status-page token.
    pub token_hash: [u8; 32],
    pub category: String,
    pub category_label: String,
    pub value_orientation: Option<String>,
    pub urgent: bool,
    pub description: String,
    pub remedy: Option<String>,
    pub outcomes: Vec<Outcome>,
    pub severity: Option<Severity>,
    pub mood: Option<Mood>,
    pub language: String,
    pub page_url: Option<String>,
    pub user_agent: Option<String>,
    pub answers: BTreeMap<String, String>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub created_at: i64,
    pub idempotency: Option<IdempotencyRecord>,
    pub kind: SubmissionKind,
    pub callback_window: Option<String>,
    /// The identity as JSON, without its signature.
    pub identity: Option<String>,
    pub identity_verified: bool,
    /// Uploaded photos this complaint claims, by id.
    pub attachments: Vec<String>,
    /// The acknowledgement email, queued in the complaint's own transaction
    /// (never for a replayed retry, which was acknowledged the first time).
    pub acknowledgement: Option<NewMail>,
    /// Why intake suspects spam, if it does.
    pub spam: Option<SpamReason>,
    /// The proof of work this complaint came with, spent in its transaction.
    pub proof: Option<SpentProof>,
}

/// Why a complaint is suspected spam.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpamReason {
    /// The widget's hidden field was filled in.
    Honeypot,
    /// The form was sent faster than a person can fill it in.
    TooFast,
    /// Staff marked a complaint that got through as spam.
    Staff,
}

impl SpamReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Honeypot => "honeypot",
            Self::TooFast => "too_fast",
            Self::Staff => "staff",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "honeypot" => Some(Self::Honeypot),
            "too_fast" => Some(Self::TooFast),
            "staff" => Some(Self::Staff),
            _ => None,
        }
    }
}

/// A proof-of-work solution, remembered until its challenge expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpentProof {
    pub salt: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// What makes a retried submission find its first answer again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub key_hash: [u8; 32],
    pub request_hash: [u8; 32],
    /// The status token XOR a pad derived from the key.
    pub wrapped_token: [u8; 32],
}

/// The result of [`super::Store::record_complaint`].
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub complaint: ComplaintRecord,
    /// Set when this was a retry of an earlier request: the wrapped token
    /// stored with it, so the same receipt link can be rebuilt.
    pub replay_of: Option<[u8; 32]>,
}

/// A stored complaint, as the shopper's receipt shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintRecord {
    pub id: i64,
    pub site_id: i64,
    pub site_name: String,
    pub reference: String,
    pub status: Status,
    pub category: String,
    pub category_label: String,
    pub description: String,
    pub remedy: Option<String>,
    pub outcomes: Vec<Outcome>,
    pub severity: Option<Severity>,
    pub mood: Option<Mood>,
    pub language: String,
    pub page_url: Option<String>,
    pub anonymous: bool,
    pub created_at: i64,
    pub kind: SubmissionKind,
    pub callback_window: Option<String>,
    /// How many photos are attached.
    pub photos: u32,
}

/// One thing that happened to a complaint that the shopper may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicEvent {
    pub at: i64,
    /// `received`, `acknowledged`, `status_changed` or `public_reply`.
    pub kind: String,
    /// A reply's text.
    pub body: Option<String>,
    /// For a status change: the new status.
    pub status: Option<Status>,
    /// Who replied: the staff member's first name only.
    pub first_name: Option<String>,
}

impl Store {
    /// Stores a complaint judged by `site` (as [`Store::site`] gave it), and
    /// its acknowledgement email in the same transaction; answers only after
    /// it is committed to disk. Refused with [`StoreError::SiteChanged`],
    /// storing nothing, when the site has changed since it was read.
    pub async fn record_complaint_for(
        &self,
        site: Arc<Site>,
        complaint: NewComplaint,
    ) -> Result<Recorded, StoreError> {
        let queues_mail = complaint.acknowledgement.is_some();
        let sites = Arc::clone(&self.inner.sites);
        let recorded = self
            .inner
            .writer
            .run(move |connection| {
                if complaint.site_id != site.id
                    || !site_cache::still_current(&sites, connection, &site)?
                {
                    return Err(StoreError::SiteChanged);
                }
                let facts = SiteFacts {
                    merchant_id: site.merchant_id,
                    key: site.key.clone(),
                    name: site.name.clone(),
                };
                record_for(connection, &complaint, &facts)
            })
            .await?;
        if queues_mail && recorded.replay_of.is_none() {
            self.inner.mail_queued.notify_one();
        }
        self.inner.search.wake();
        Ok(recorded)
    }
}

/// References are random; a collision is rare, so a few attempts suffice.
const REFERENCE_ATTEMPTS: usize = 8;

pub(super) fn record(
    connection: &Connection,
    complaint: &NewComplaint,
) -> Result<Recorded, StoreError> {
    let site = SiteFacts::read(connection, complaint.site_id)?;
    record_for(connection, complaint, &site)
}

/// What storing a complaint needs to know of its site, read once per
/// complaint (or taken from the site the request was judged by).
#[derive(Debug, Clone)]
pub(super) struct SiteFacts {
    pub merchant_id: i64,
    pub key: String,
    pub name: String,
}

impl SiteFacts {
    pub(super) fn read(connection: &Connection, site_id: i64) -> Result<SiteFacts, StoreError> {
        Ok(connection
            .prepare_cached("SELECT merchant_id, site_key, name FROM sites WHERE id = ?1")?
            .query_row(params![site_id], |row| {
                Ok(SiteFacts {
                    merchant_id: row.get(0)?,
                    key: row.get(1)?,
                    name: row.get(2)?,
                })
            })?)
    }
}

/// Stores `complaint` for `site`, routes it and queues its acknowledgement.
/// The answer is built from what was inserted, not read back: the row is
/// exactly what this job wrote, and the triggers change none of the
/// receipt's columns.
pub(super) fn record_for(
    connection: &Connection,
    complaint: &NewComplaint,
    site: &SiteFacts,
) -> Result<Recorded, StoreError> {
    if let Some(idempotency) = &complaint.idempotency
        && let Some(replay) = replay(connection, complaint.site_id, idempotency)?
    {
        return Ok(replay);
    }
    if let Some(proof) = &complaint.proof {
        spend_proof(connection, proof)?;
    }

    // Suspected spam is stored and answered, but nobody is notified of it
    // (it may carry someone else's address) until staff restore it.
    // Otherwise the complaint is routed in its own savepoint: the team and
    // assignee are written with the row, the rest right after it.
    let routing = match complaint.spam {
        None => Some(super::routing::decide(connection, site, complaint)?),
        Some(_) => None,
    };
    let mut attempts = 0;
    let (id, reference) = loop {
        attempts += 1;
        let reference = random::reference().to_string();
        match insert(connection, complaint, &reference, routing.as_ref()) {
            Ok(id) => break (id, reference),
            Err(error) if attempts < REFERENCE_ATTEMPTS && is_reference_collision(&error) => {
                tracing::warn!("receipt reference collision; drawing another");
            }
            Err(error) => return Err(error.into()),
        }
    };

    claim_attachments(connection, complaint, id)?;
    if let Some(routing) = &routing {
        let routed = super::routing::Routed {
            merchant_id: site.merchant_id,
            complaint_id: id,
            reference: &reference,
            site_name: &site.name,
        };
        super::routing::finish(connection, &routed, complaint, routing)?;
        if let Some(acknowledgement) = &complaint.acknowledgement {
            mail::queue(connection, id, acknowledgement, complaint.created_at)?;
        }
    }
    if let Some(idempotency) = &complaint.idempotency {
        connection
            .prepare_cached(
                "INSERT INTO idempotency_keys
                 (site_id, key_hash, request_hash, complaint_id, wrapped_token, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                complaint.site_id,
                idempotency.key_hash,
                idempotency.request_hash,
                id,
                idempotency.wrapped_token,
                complaint.created_at
            ])?;
    }
    Ok(Recorded {
        complaint: inserted(id, reference, &site.name, complaint),
        replay_of: None,
    })
}

/// The stored complaint as [`by_id`] would read it right after the insert.
fn inserted(
    id: i64,
    reference: String,
    site_name: &str,
    complaint: &NewComplaint,
) -> ComplaintRecord {
    ComplaintRecord {
        id,
        site_id: complaint.site_id,
        site_name: site_name.to_owned(),
        reference,
        status: Status::Received,
        category: complaint.category.clone(),
        category_label: complaint.category_label.clone(),
        description: complaint.description.clone(),
        remedy: complaint.remedy.clone(),
        outcomes: complaint.outcomes.clone(),
        severity: complaint.severity,
        mood: complaint.mood,
        language: complaint.language.clone(),
        page_url: complaint.page_url.clone(),
        anonymous: complaint.contact_name.is_none()
            && complaint.contact_email.is_none()
            && complaint.contact_phone.is_none(),
        created_at: complaint.created_at,
        kind: complaint.kind,
        callback_window: complaint.callback_window.clone(),
        photos: u32::try_from(complaint.attachments.len()).unwrap_or(u32::MAX),
    }
}

/// Remembers a proof as used; a second use of the same salt is refused.
fn spend_proof(connection: &Connection, proof: &SpentProof) -> Result<(), StoreError> {
    let inserted = connection
        .prepare_cached(
            "INSERT INTO spent_proofs (salt, expires_at) VALUES (?1, ?2)
             ON CONFLICT (salt) DO NOTHING",
        )?
        .execute(params![proof.salt, proof.expires_at])?;
    if inserted == 0 {
        return Err(StoreError::ProofSpent);
    }
    Ok(())
}

/// Links the complaint's photos to it. A photo belongs to one complaint of
/// the site it was uploaded to; any other id is refused, and the savepoint
/// undoes the whole complaint.
fn claim_attachments(
    connection: &Connection,
    complaint: &NewComplaint,
    id: i64,
) -> Result<(), StoreError> {
    let mut claim = connection.prepare_cached(
        "UPDATE attachments SET complaint_id = ?1
         WHERE id = ?2 AND site_id = ?3 AND complaint_id IS NULL",
    )?;
    for (index, attachment) in complaint.attachments.iter().enumerate() {
        if claim.execute(params![id, attachment, complaint.site_id])? != 1 {
            return Err(StoreError::UnknownAttachment(index));
        }
    }
    Ok(())
}

fn replay(
    connection: &Connection,
    site_id: i64,
    idempotency: &IdempotencyRecord,
) -> Result<Option<Recorded>, StoreError> {
    let earlier: Option<(Vec<u8>, i64, Vec<u8>)> = connection
        .prepare_cached(
            "SELECT request_hash, complaint_id, wrapped_token FROM idempotency_keys
             WHERE site_id = ?1 AND key_hash = ?2",
        )?
        .query_row(params![site_id, idempotency.key_hash], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((request_hash, complaint_id, wrapped_token)) = earlier else {
        return Ok(None);
    };
    if request_hash != idempotency.request_hash {
        return Err(StoreError::IdempotencyConflict);
    }
    let wrapped_token: [u8; 32] = wrapped_token
        .try_into()
        .map_err(|_| StoreError::Corrupt("wrapped token has the wrong length".to_owned()))?;
    let complaint = by_id(connection, complaint_id)?
        .ok_or_else(|| StoreError::Corrupt("idempotency key points at no complaint".to_owned()))?;
    Ok(Some(Recorded {
        complaint,
        replay_of: Some(wrapped_token),
    }))
}

/// The insert of a new complaint, over `?1`…`?28` in [`insert`]'s order,
/// with its inbox columns written from them (see [`insert`]). Public so
/// that the bench's raw SQLite loop writes the same rows the same way.
pub const INSERT_COMPLAINT: &str = "INSERT INTO complaints (
        site_id, reference, token_hash, status, category, category_label,
        value_orientation, urgent, description, remedy, outcomes, severity, mood,
        language, page_url, user_agent, answers, contact_name, contact_email,
        contact_phone, created_at, kind, callback_window, identity, identity_verified,
        spam, team_id, assignee_user_id, escalated_at,
        merchant_id, priority, first_response_due_at, resolution_due_at, updated_at)
     VALUES (?1, ?2, ?3, 'received', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
             ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25,
             ?26, ?27, ?28,
             (SELECT merchant_id FROM sites WHERE id = ?1),
             (CASE WHEN ?7 THEN 1000 ELSE 0 END)
                + (CASE ?11 WHEN 'serious' THEN 300 WHEN 'cost_me' THEN 200
                       WHEN 'inconvenience' THEN 100 ELSE 0 END)
                + (CASE ?12 WHEN 'furious' THEN 40 WHEN 'upset' THEN 30
                       WHEN 'annoyed' THEN 20 WHEN 'calm' THEN 10 ELSE 0 END),
             ?20 + 3600000 * coalesce(
                (SELECT first_response_hours FROM site_response_targets
                 WHERE site_id = ?1 AND class = (CASE
                     WHEN ?7 THEN 'urgent'
                     WHEN ?11 = 'serious' OR ?11 = 'cost_me' OR ?11 = 'inconvenience' THEN ?11
                     ELSE 'unrated' END)),
                CASE
                    WHEN ?7 THEN 1
                    WHEN ?11 = 'serious' THEN 4
                    WHEN ?11 = 'cost_me' THEN 24
                    ELSE 48 END),
             ?20 + 3600000 * coalesce(
                (SELECT resolution_hours FROM site_response_targets
                 WHERE site_id = ?1 AND class = (CASE
                     WHEN ?7 THEN 'urgent'
                     WHEN ?11 = 'serious' OR ?11 = 'cost_me' OR ?11 = 'inconvenience' THEN ?11
                     ELSE 'unrated' END)),
                CASE
                    WHEN ?7 THEN 24
                    WHEN ?11 = 'serious' THEN 72
                    ELSE 168 END),
             ?20)";

/// Inserts the complaint with its inbox columns: merchant, priority, due
/// dates (from the site's targets, else the defaults). The expressions are
/// those of the `complaints_inbox_derive` trigger (migration 0020), which
/// derives them for an insert that leaves them out; written here, they
/// cost no second write of the row and its index entries. The severity is
/// compared three times rather than with `IN (…)`: SQLite builds a
/// temporary b-tree for an `IN` list of more than two constants, each time
/// the statement runs.
fn insert(
    connection: &Connection,
    complaint: &NewComplaint,
    reference: &str,
    routing: Option<&super::routing::Routing>,
) -> rusqlite::Result<i64> {
    let json = |value: Result<String, StoreError>| {
        value.map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
    };
    connection
        .prepare_cached(INSERT_COMPLAINT)?
        .execute(params![
            complaint.site_id,
            reference,
            complaint.token_hash,
            complaint.category,
            complaint.category_label,
            complaint.value_orientation,
            complaint.urgent,
            complaint.description,
            complaint.remedy,
            json(to_json(&complaint.outcomes))?,
            complaint.severity.map(Severity::as_str),
            complaint.mood.map(Mood::as_str),
            complaint.language,
            complaint.page_url,
            complaint.user_agent,
            json(to_json(&complaint.answers))?,
            complaint.contact_name,
            complaint.contact_email,
            complaint.contact_phone,
            complaint.created_at,
            complaint.kind.as_str(),
            complaint.callback_window,
            complaint.identity,
            complaint.identity_verified,
            complaint.spam.map(SpamReason::as_str),
            routing.and_then(|routing| routing.team_id),
            routing.and_then(|routing| routing.assignee),
            routing.and_then(|routing| routing.escalated_at(complaint.created_at)),
        ])?;
    Ok(connection.last_insert_rowid())
}

fn is_reference_collision(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, Some(message))
            if failure.code == ErrorCode::ConstraintViolation
                && message.contains("complaints.reference")
    )
}

const SELECT: &str = "SELECT c.id, c.site_id, s.name, c.reference, c.status, c.category,
        c.category_label, c.description, c.remedy, c.outcomes, c.severity, c.mood,
        c.language, c.page_url,
        (c.contact_name IS NULL AND c.contact_email IS NULL AND c.contact_phone IS NULL),
        c.created_at, c.kind, c.callback_window,
        (SELECT count(*) FROM attachments a WHERE a.complaint_id = c.id)
    FROM complaints c JOIN sites s ON s.id = c.site_id";

fn by_id(connection: &Connection, id: i64) -> Result<Option<ComplaintRecord>, StoreError> {
    one(connection, &format!("{SELECT} WHERE c.id = ?1"), id)
}

/// The public part of a complaint's timeline, oldest first. Internal notes,
/// tags and assignments are never public.
pub(super) fn public_timeline(
    connection: &Connection,
    complaint_id: i64,
) -> Result<Vec<PublicEvent>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT e.at, e.kind, e.body, json_extract(e.data, '$.to'), u.display_name
         FROM complaint_events e LEFT JOIN users u ON u.id = e.actor_user_id
         WHERE e.complaint_id = ?1 AND e.public = 1
         ORDER BY e.id",
    )?;
    let rows = statement.query_map([complaint_id], |row| {
        let status: Option<String> = row.get(3)?;
        let name: Option<String> = row.get(4)?;
        Ok(PublicEvent {
            at: row.get(0)?,
            kind: row.get(1)?,
            body: row.get(2)?,
            status: status.as_deref().and_then(Status::parse),
            first_name: name.and_then(|name| name.split_whitespace().next().map(str::to_owned)),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn by_token_hash(
    connection: &Connection,
    token_hash: &[u8; 32],
) -> Result<Option<ComplaintRecord>, StoreError> {
    one(
        connection,
        &format!("{SELECT} WHERE {}", super::shopper::OPENS),
        token_hash,
    )
}

pub(super) fn by_reference(
    connection: &Connection,
    reference: &str,
) -> Result<Option<ComplaintRecord>, StoreError> {
    one(
        connection,
        &format!("{SELECT} WHERE c.reference = ?1"),
        reference,
    )
}

fn one(
    connection: &Connection,
    sql: &str,
    parameter: impl rusqlite::ToSql,
) -> Result<Option<ComplaintRecord>, StoreError> {
    connection
        .prepare_cached(sql)?
        .query_row([parameter], from_row)
        .optional()?
        .transpose()
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<ComplaintRecord, StoreError>> {
    let status: String = row.get(4)?;
    let outcomes: String = row.get(9)?;
    let severity: Option<String> = row.get(10)?;
    let mood: Option<String> = row.get(11)?;
    let kind: String = row.get(16)?;
    let record = (|| {
        Ok(ComplaintRecord {
            id: row.get(0)?,
            site_id: row.get(1)?,
            site_name: row.get(2)?,
            reference: row.get(3)?,
            status: Status::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown status {status:?}")))?,
            category: row.get(5)?,
            category_label: row.get(6)?,
            description: row.get(7)?,
            remedy: row.get(8)?,
            outcomes: from_json(&outcomes)?,
            severity: severity.as_deref().map(parse_enum).transpose()?,
            mood: mood.as_deref().map(parse_enum).transpose()?,
            language: row.get(12)?,
            page_url: row.get(13)?,
            anonymous: row.get(14)?,
            created_at: row.get(15)?,
            kind: parse_enum(&kind)?,
            callback_window: row.get(17)?,
            photos: row.get(18)?,
        })
    })();
    Ok(record)
}

/// Reads a snake_case enum stored as text, through its serde name.
#[cfg(test)]
pub(super) mod tests {
    use heard_shared::SiteConfig;

    use super::*;
    use crate::store::NewSite;
    use crate::store::test_support::temp_store;

    pub(in crate::store) fn complaint(site_id: i64, token_byte: u8) -> NewComplaint {
        NewComplaint {
            site_id,
            token_hash: [token_byte; 32],
            category: "product".to_owned(),
            category_label: "Product problem".to_owned(),
            value_orientation: Some("reliability".to_owned()),
            urgent: false,
            description: "Broke after three uses".to_owned(),
            remedy: None,
            outcomes: vec![Outcome::Fix, Outcome::Apology],
            severity: Some(Severity::CostMe),
            mood: Some(Mood::Upset),
            language: "en".to_owned(),
            page_url: None,
            user_agent: None,
            answers: BTreeMap::new(),
            contact_name: None,
            contact_email: None,
            contact_phone: None,
            created_at: 1_700_000_000_000,
            idempotency: None,
            kind: SubmissionKind::Complaint,
            callback_window: None,
            identity: None,
            identity_verified: false,
            attachments: Vec::new(),
            acknowledgement: None,
            spam: None,
            proof: None,
        }
    }

    async fn site(store: &Store) -> i64 {
        store
            .add_site(NewSite {
                merchant: "m".to_owned(),
                key: "s".to_owned(),
                name: "Shop".to_owned(),
                allowed_origins: vec![],
                config: SiteConfig::with_defaults("s", "Shop"),
            })
            .await
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn the_answer_built_from_the_insert_is_the_stored_complaint() {
        let temp = temp_store();
        let site_id = site(&temp.store).await;
        let full = NewComplaint {
            remedy: Some("A new kettle".to_owned()),
            page_url: Some("https://shop.example/kettle".to_owned()),
            contact_email: Some("ana@example.com".to_owned()),
            kind: SubmissionKind::Callback,
            callback_window: Some("mornings".to_owned()),
            severity: None,
            mood: Some(Mood::Calm),
            ..complaint(site_id, 1)
        };
        for (token, new) in [(1, full), (2, complaint(site_id, 2))] {
            let recorded = temp.store.record_complaint(new).await.unwrap().complaint;
            let stored = temp
                .store
                .complaint_by_token_hash([token; 32])
                .await
                .unwrap()
                .unwrap();
            assert_eq!(recorded, stored);
        }
    }

    #[tokio::test]
    async fn a_recorded_complaint_is_found_by_token_hash_and_reference() {
        let temp = temp_store();
        let site_id = site(&temp.store).await;
        let recorded = temp
            .store
            .record_complaint(complaint(site_id, 1))
            .await
            .unwrap();
        assert_eq!(recorded.replay_of, None);
        let stored = recorded.complaint;
        assert_eq!(stored.outcomes, [Outcome::Fix, Outcome::Apology]);
        assert_eq!(stored.severity, Some(Severity::CostMe));
        assert_eq!(stored.status, Status::Received);
        assert!(stored.anonymous);
        assert_eq!(
            temp.store.complaint_by_token_hash([1; 32]).await.unwrap(),
            Some(stored.clone())
        );
        assert_eq!(
            temp.store
                .complaint_by_reference(&stored.reference)
                .await
                .unwrap(),
            Some(stored)
        );
        assert_eq!(
            temp.store.complaint_by_token_hash([2; 32]).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn idempotent_replay_returns_the_first_complaint_and_conflicts_are_refused() {
        let temp = temp_store();
        let site_id = site(&temp.store).await;
        let idempotency = IdempotencyRecord {
            key_hash: [7; 32],
            request_hash: [8; 32],
            wrapped_token: [9; 32],
        };
        let first = NewComplaint {
            idempotency: Some(idempotency.clone()),
            ..complaint(site_id, 1)
        };
        let original = temp.store.record_complaint(first.clone()).await.unwrap();
        let retry = NewComplaint {
            token_hash: [3; 32],
            ..first.clone()
        };
        let replayed = temp.store.record_complaint(retry).await.unwrap();
        assert_eq!(replayed.complaint, original.complaint);
        assert_eq!(replayed.replay_of, Some([9; 32]));

        let conflicting = NewComplaint {
            token_hash: [4; 32],
            idempotency: Some(IdempotencyRecord {
                request_hash: [0; 32],
                ..idempotency
            }),
            ..first
        };
        let error = temp.store.record_complaint(conflicting).await.unwrap_err();
        assert!(matches!(error, StoreError::IdempotencyConflict));
    }

    #[tokio::test]
    async fn a_failed_job_does_not_spoil_its_batch() {
        let temp = temp_store();
        let site_id = site(&temp.store).await;
        // Same token hash twice: the second violates UNIQUE(token_hash).
        let (first, second, third) = tokio::join!(
            temp.store.record_complaint(complaint(site_id, 5)),
            temp.store.record_complaint(complaint(site_id, 5)),
            temp.store.record_complaint(complaint(site_id, 6)),
        );
        assert!(first.is_ok());
        assert!(second.is_err());
        assert!(third.is_ok());
        assert!(
            temp.store
                .complaint_by_token_hash([6; 32])
                .await
                .unwrap()
                .is_some()
        );
    }

    /// Intake's insert writes the inbox columns as the trigger that derives
    /// them for any other insert does: for every urgency, severity and mood,
    /// on a site with its own targets for some classes (the defaults for the
    /// rest) and on a site with none.
    #[test]
    fn intake_writes_the_inbox_columns_the_trigger_would_derive() {
        let directory = tempfile::tempdir().unwrap();
        let mut connection = Connection::open(directory.path().join("c.sqlite3")).unwrap();
        crate::store::migrations::apply(&mut connection).unwrap();
        connection
            .execute_batch(
                "INSERT INTO merchants (id, name, created_at) VALUES (7, 'm', 0);
                 INSERT INTO sites (id, merchant_id, site_key, name, allowed_origins, config,
                                    created_at, updated_at)
                 VALUES (3, 7, 's', 'Shop', '[]', '{}', 0, 0),
                        (4, 7, 't', 'Other shop', '[]', '{}', 0, 0);
                 INSERT INTO site_response_targets VALUES (3, 'urgent', 2, 5);
                 INSERT INTO site_response_targets VALUES (3, 'cost_me', 3, 30);
                 INSERT INTO site_response_targets VALUES (3, 'unrated', 6, 60);",
            )
            .unwrap();
        let columns = |id: i64| -> Vec<Option<i64>> {
            connection
                .query_row(
                    "SELECT merchant_id, priority, first_response_due_at, resolution_due_at,
                            updated_at,
                            (SELECT count(*) FROM complaint_events
                             WHERE complaint_id = ?1 AND kind = 'received')
                     FROM complaints WHERE id = ?1",
                    [id],
                    |row| (0..6).map(|column| row.get(column)).collect(),
                )
                .unwrap()
        };
        let severities = Severity::ALL.map(Some).into_iter().chain([None]);
        let mut checked = 0;
        for (number, (site, urgent, severity, mood)) in [3, 4]
            .into_iter()
            .flat_map(|site| [false, true].map(move |urgent| (site, urgent)))
            .flat_map(|(site, urgent)| {
                severities
                    .clone()
                    .map(move |severity| (site, urgent, severity))
            })
            .flat_map(|(site, urgent, severity)| {
                Mood::ALL
                    .map(Some)
                    .into_iter()
                    .chain([None])
                    .map(move |mood| (site, urgent, severity, mood))
            })
            .enumerate()
        {
            let new = NewComplaint {
                urgent,
                severity,
                mood,
                created_at: 1_700_000_000_000 + number as i64,
                ..complaint(site, number as u8)
            };
            let by_intake = insert(&connection, &new, &format!("HRD-A{number}"), None).unwrap();
            connection
                .execute(
                    "INSERT INTO complaints (site_id, reference, token_hash, category,
                         category_label, urgent, description, outcomes, severity, mood,
                         language, answers, created_at)
                     SELECT site_id, 'HRD-B' || ?2, randomblob(32), category, category_label,
                         urgent, description, outcomes, severity, mood, language, answers,
                         created_at
                     FROM complaints WHERE id = ?1",
                    params![by_intake, number],
                )
                .unwrap();
            let by_trigger = connection.last_insert_rowid();
            let derived = columns(by_trigger);
            assert!(
                derived.iter().all(Option::is_some),
                "the trigger derived every column: {derived:?}"
            );
            assert_eq!(
                columns(by_intake),
                derived,
                "site {site}, urgent {urgent}, severity {severity:?}, mood {mood:?}"
            );
            checked += 1;
        }
        assert_eq!(checked, 2 * 2 * 4 * 5);
    }
}
