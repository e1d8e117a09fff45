//! Clusters of similar complaints: found by a sweep right after intake
//! commits, stored, alerted to the owners, listed in the inbox.
//!
//! The sweep works in two halves so the writer thread — the one that
//! answers receipts — does only cheap SQL: [`Store::cluster_candidates`]
//! compares each new complaint with its merchant's recent ones on a read
//! connection (the text similarity, the costly part), and
//! [`Store::apply_clusters`] then joins, creates and alerts in one writer
//! job, in complaint order, from the database as it is at that moment.
//! Only this sweep writes clusters, so nothing changes them in between.
//!
//! The sweep task runs the first half on a thread of its own
//! ([`ClusterComparer`], `heard-clusters`) at background priority, with its
//! own read connection: under a flood the writer, which every receipt waits
//! for, gets the processor first, and the comparisons catch up right after.
//! A batch is read in one short read transaction — the new complaints, the
//! earlier ones each is compared with, their fingerprints or words — and
//! compared once it has ended: a background thread starved inside a read
//! transaction would keep the WAL from being checkpointed past it.
//!
//! The halves overlap ([`ClusterBatch::in_flight`]): while a batch's writer
//! job waits for its group commit, the next batch is read and compared,
//! with the in-flight batch's complaints and fingerprints from memory, its
//! rows not being committed yet (the stored rows stand for the complaints
//! up to where that batch began). The next one's writer job applies it only
//! if the cursor is where the in-flight one left it: a batch is done only
//! once its own writer job committed, so a failed commit, a stop or a crash
//! between two leaves the cursor at the last batch done, and the sweep
//! reads on from there, skipping and repeating nothing.
//!
//! A pair is compared only as far as the threshold needs
//! ([`Fingerprint::probe`]: most pairs are decided by a table lookup per
//! shingle, and a merge stops once the threshold is out of reach). In the writer job, the clusters
//! of all the earlier complaints a new one is similar to are read in one
//! statement (`clusters_of`), not one lookup each, and kept for the rest of
//! the job (`Memberships`): the next complaints are similar to mostly the
//! same ones.
//!
//! Each complaint is fingerprinted once: the read half computes the new
//! complaint's fingerprint, the writer job stores it in
//! `cluster_fingerprints` (migration 0017), and later complaints are
//! compared with the stored ones. The earlier complaints are found in that
//! table's covering index, the last 200 of the merchant and category by id,
//! so a new complaint costs one text read and one fingerprint, whatever the
//! flood around it. A complaint with no stored fingerprint — its words were
//! erased or changed (a trigger cleared it), it was restored from spam, or
//! the sweep passed it before fingerprints were stored — is fingerprinted
//! from its text when it is next compared, and that is stored too.
//!
//! A complaint suspected of spam is left out when the sweep passes it, and
//! new complaints after it are not compared with it. "Not spam"
//! (`store/spam.rs`) queues it in `cluster_rechecks` (migration 0019), in
//! the restore's own writer job. The read half takes that queue first, up
//! to the cursor and a batch at a time, by its primary key (an empty queue
//! costs one lookup per batch): each restored complaint is compared with
//! the earlier complaints a new one would be, and with the later ones up to
//! the cursor, which were compared while it was spam; the ones after the
//! cursor find it themselves, by its row in `cluster_fingerprints`. The
//! writer job takes it off the queue — if another sweep took it first, it
//! does nothing — and places it as a new complaint, unless it is deleted or
//! spam again by now (dropped) or a complaint that came after the restore
//! already put it in a cluster; an alert follows the usual rule. Rechecks
//! do not move the cursor. One restored before the sweep reached it is
//! compared as a new complaint, and its queue row goes in that writer job;
//! one the read half had as spam stays queued, for the next sweep.
//!
//! Every query takes the merchant id; a cluster never links two merchants'
//! complaints, and the owners alerted are the merchant's own.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use tokio::sync::oneshot;

use super::notifications::{self, NewNotification};
use super::{Store, StoreError, connection, priority};
use crate::domain::clusters::{AlertKind, ClusterPolicy, Fingerprint, alert_due};

/// The most recent members a cluster's detail lists (its `size` counts all).
pub const MAX_MEMBERS_SHOWN: usize = 500;
/// The most recent members an alert email names.
const ALERT_MEMBERS: usize = 50;

/// A new complaint and the earlier ones it is similar to.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidates {
    pub complaint_id: i64,
    /// Earlier complaints similar enough, with their similarity.
    pub similar: Vec<(i64, f64)>,
    /// The new complaint's fingerprint, stored by the writer job; `None`
    /// when it is left out (deleted, or suspected spam).
    pub fingerprint: Option<Fingerprint>,
    /// Earlier complaints' fingerprints computed from their text, because
    /// none was stored: stored by the writer job too.
    pub computed: Vec<(i64, Fingerprint)>,
    /// In a safety category (`urgent`, fixed at intake): a cluster of its
    /// own even with nothing similar. Any other complaint with nothing
    /// similar costs the writer job no read.
    pub safety: bool,
    /// A complaint restored from spam after the sweep passed it, taken from
    /// `cluster_rechecks` and compared with its neighbours on both sides:
    /// the writer job takes it off that queue and does not move the cursor.
    pub recheck: bool,
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSweep {
    /// New complaints looked at.
    pub examined: usize,
    /// Complaints restored from spam taken off `cluster_rechecks`.
    pub rechecked: usize,
    /// Alerts queued: the cluster and why.
    pub alerts: Vec<(i64, AlertKind)>,
}

/// A cluster as the inbox lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSummary {
    pub id: i64,
    pub category: String,
    /// The category's label on the newest member.
    pub category_label: String,
    pub safety: bool,
    pub size: i64,
    pub first_at: i64,
    pub last_at: i64,
    pub alerted_at: Option<i64>,
    /// A complaint arriving now could still join it.
    pub active: bool,
}

/// A member complaint, without the shopper's words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterMember {
    pub reference: String,
    pub site_key: String,
    pub site_name: String,
    pub status: String,
    pub created_at: i64,
    pub similarity: f64,
}

/// A cluster with its most recent [`MAX_MEMBERS_SHOWN`] complaints, oldest
/// first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterDetail {
    #[serde(flatten)]
    pub summary: ClusterSummary,
    pub complaints: Vec<ClusterMember>,
}

/// The text compared: what happened and the guided answers (not the wished
/// remedy, which is the same few words for unrelated complaints).
fn compared_text(description: &str, answers: &str) -> String {
    let mut text = description.to_owned();
    if let Ok(serde_json::Value::Object(answers)) = serde_json::from_str(answers) {
        for value in answers.values() {
            if let Some(answer) = value.as_str() {
                text.push('\n');
                text.push_str(answer);
            }
        }
    }
    text
}

/// A complaint the sweep has not compared yet.
struct Fresh {
    id: i64,
    merchant_id: i64,
    category: String,
    created_at: i64,
    description: String,
    answers: String,
    /// Deleted by the shopper, or suspected spam: compared with nothing.
    left_out: bool,
    safety: bool,
}

/// The name of the `sweep_cursors` row that says where stored fingerprints
/// begin: complaints the sweep passed up to it (before migration 0017) have
/// no row in `cluster_fingerprints`, and are read from `complaints`. It is
/// set by the first batch applied, not by the migration, so a cursor moved
/// past complaints by hand before that (as the benchmark does for its
/// generated store) still leaves them comparable; complaints a cursor moved
/// by hand skips later have no row and are not compared.
const FINGERPRINTED_AFTER: &str = "cluster_fingerprints";

const FRESH_COLUMNS: &str = "id, merchant_id, category, created_at, description, answers,
    deleted_at IS NOT NULL OR spam IS NOT NULL, urgent";

fn fresh_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Fresh> {
    Ok(Fresh {
        id: row.get(0)?,
        merchant_id: row.get(1)?,
        category: row.get(2)?,
        created_at: row.get(3)?,
        description: row.get(4)?,
        answers: row.get(5)?,
        left_out: row.get(6)?,
        safety: row.get(7)?,
    })
}

/// A comparable new complaint of a batch, as the complaints after it need
/// it: they compare with it from memory, because its writer job may not
/// have stored its row in `cluster_fingerprints` yet.
#[derive(Debug, Clone, PartialEq)]
struct Recent {
    id: i64,
    merchant_id: i64,
    category: String,
    created_at: i64,
}

impl Recent {
    fn of(fresh: &Fresh) -> Recent {
        Recent {
            id: fresh.id,
            merchant_id: fresh.merchant_id,
            category: fresh.category.clone(),
            created_at: fresh.created_at,
        }
    }
}

/// What the read half found for one writer job: a batch of new
/// complaints, or of complaints restored from spam.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterBatch {
    /// The cursor the batch was read after. Its writer job applies it only
    /// on top of that: a batch read while the one before it waited for its
    /// commit is dropped if that commit never came.
    after: i64,
    /// Where stored fingerprints begin, as the batch was read.
    unstored_up_to: i64,
    /// Each complaint and what it is similar to, in complaint order.
    pub found: Vec<Candidates>,
    /// The comparable new complaints, oldest first.
    recent: Vec<Recent>,
}

/// A batch of new complaints whose writer job may not have committed yet,
/// as the next batch needs it to be read and compared in the meantime
/// ([`ClusterBatch::in_flight`]).
#[derive(Debug, Clone)]
pub struct InFlight {
    /// The cursor it was read after: the stored rows stand for the
    /// complaints up to it, its `recent` for those after it.
    after: i64,
    /// The last complaint the batch holds: the cursor its writer job
    /// moves to, after which the next batch begins.
    last: i64,
    unstored_up_to: i64,
    recent: Vec<Recent>,
    /// Its new complaints' fingerprints and those it computed for earlier
    /// ones from their words: none is stored before its writer job commits.
    known: HashMap<i64, Fingerprint>,
}

impl ClusterBatch {
    /// Complaints restored from spam, a batch of their own.
    pub fn rechecks(&self) -> bool {
        self.found.first().is_some_and(|found| found.recheck)
    }

    /// What the next batch needs of this one to be read before this one's
    /// writer job commits; `None` for a batch of rechecks or an empty one,
    /// after which the next is read from what is committed.
    pub fn in_flight(&self) -> Option<InFlight> {
        let last = self.found.last()?.complaint_id;
        if self.rechecks() {
            return None;
        }
        let mut known = HashMap::new();
        for found in &self.found {
            for (other, fingerprint) in &found.computed {
                known.insert(*other, fingerprint.clone());
            }
            if let Some(fingerprint) = &found.fingerprint {
                known.insert(found.complaint_id, fingerprint.clone());
            }
        }
        Some(InFlight {
            after: self.after,
            last,
            unstored_up_to: self.unstored_up_to,
            recent: self.recent.clone(),
            known,
        })
    }
}

/// A complaint of a batch as read, with the ones it is to be compared with.
struct Read {
    complaint: Fresh,
    recheck: bool,
    around: Vec<i64>,
}

/// Everything one batch compares, read in one read transaction.
struct Gathered {
    after: i64,
    unstored_up_to: i64,
    complaints: Vec<Read>,
    /// The stored fingerprints of the complaints compared with.
    stored: HashMap<i64, Fingerprint>,
    /// The words of those with none stored: fingerprinted when first
    /// compared, and then stored by the writer job.
    words: HashMap<i64, String>,
}

impl Gathered {
    fn new(after: i64, unstored_up_to: i64) -> Gathered {
        Gathered {
            after,
            unstored_up_to,
            complaints: Vec::new(),
            stored: HashMap::new(),
            words: HashMap::new(),
        }
    }

    /// Reads what comparing with `others` needs and memory does not hold:
    /// each one's stored fingerprint, or its words when none is stored.
    fn read_fingerprints(
        &mut self,
        connection: &Connection,
        others: &[i64],
        in_memory: &HashMap<i64, Fingerprint>,
    ) -> Result<(), StoreError> {
        for &other in others {
            // This batch's own complaints are compared from memory.
            if other > self.after
                || in_memory.contains_key(&other)
                || self.stored.contains_key(&other)
                || self.words.contains_key(&other)
            {
                continue;
            }
            let stored: Option<Option<Vec<u8>>> = connection
                .prepare_cached(
                    "SELECT shingles FROM cluster_fingerprints WHERE complaint_id = ?1",
                )?
                .query_row(params![other], |row| row.get(0))
                .optional()?;
            if let Some(fingerprint) = stored
                .flatten()
                .as_deref()
                .and_then(Fingerprint::from_bytes)
            {
                self.stored.insert(other, fingerprint);
                continue;
            }
            let words: Option<(String, String)> = connection
                .prepare_cached("SELECT description, answers FROM complaints WHERE id = ?1")?
                .query_row(params![other], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            if let Some((description, answers)) = words {
                self.words
                    .insert(other, compared_text(&description, &answers));
            }
        }
        Ok(())
    }
}

/// The read half of a sweep's batch, from what is committed: the
/// complaints restored from spam waiting to be rechecked, else the new ones
/// after the cursor.
fn candidates(connection: &Connection, policy: &ClusterPolicy) -> Result<ClusterBatch, StoreError> {
    let read = connection.unchecked_transaction()?;
    let cursor = cursor(connection)?;
    // Until the first sweep of this build has applied a batch, everything
    // the sweep has passed is from before the fingerprints were stored.
    let unstored_up_to = named_cursor(connection, FINGERPRINTED_AFTER)?.unwrap_or(cursor);
    // Complaints restored from spam behind the cursor are a batch of their
    // own, before the new ones: rare, and compared with both sides.
    let mut gathered = rechecks(connection, policy, cursor, unstored_up_to)?;
    if gathered.complaints.is_empty() {
        gathered = fresh(connection, policy, cursor, unstored_up_to, None)?;
    }
    // The read ends before the comparisons: a reader starved at background
    // priority while it compares would keep the WAL from being checkpointed.
    read.commit()?;
    Ok(compared(policy, gathered, HashMap::new()))
}

/// The read half of the batch after `in_flight`, read while that one's
/// writer job waits for its commit: the new complaints after it, compared
/// with its complaints from memory. `None` while complaints restored from
/// spam wait up to it: they go first, from what is committed.
fn candidates_after(
    connection: &Connection,
    policy: &ClusterPolicy,
    in_flight: InFlight,
) -> Result<Option<ClusterBatch>, StoreError> {
    let read = connection.unchecked_transaction()?;
    let waiting: bool = connection
        .prepare_cached(RECHECKS_WAITING_SQL)?
        .query_row(params![in_flight.last], |row| row.get(0))?;
    if waiting {
        return Ok(None);
    }
    let gathered = fresh(
        connection,
        policy,
        in_flight.last,
        in_flight.unstored_up_to,
        Some(&in_flight),
    )?;
    read.commit()?;
    Ok(Some(compared(policy, gathered, in_flight.known)))
}

const RECHECKS_WAITING_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM cluster_rechecks WHERE complaint_id <= ?1)";

/// The next new complaints after `after`, each with the earlier ones it is
/// to be compared with; with the batch before them in memory when its
/// writer job may not have committed yet.
fn fresh(
    connection: &Connection,
    policy: &ClusterPolicy,
    after: i64,
    unstored_up_to: i64,
    in_flight: Option<&InFlight>,
) -> Result<Gathered, StoreError> {
    let mut gathered = Gathered::new(after, unstored_up_to);
    let fresh: Vec<Fresh> = connection
        .prepare_cached(&format!(
            "SELECT {FRESH_COLUMNS} FROM complaints WHERE id > ?1 ORDER BY id LIMIT ?2"
        ))?
        .query_map(params![after, policy.batch as i64], fresh_from_row)?
        .collect::<Result<_, _>>()?;
    let empty = HashMap::new();
    let in_memory = in_flight.map_or(&empty, |in_flight| &in_flight.known);
    // The comparable complaints after those the stored rows stand for:
    // the batch in flight's, then this batch's so far.
    let mut recent: Vec<Recent> = in_flight
        .map(|in_flight| in_flight.recent.clone())
        .unwrap_or_default();
    let stored_up_to = in_flight.map_or(after, |in_flight| in_flight.after);
    for complaint in fresh {
        let around = if complaint.left_out {
            Vec::new()
        } else {
            let new = Recent::of(&complaint);
            let around = earlier(
                connection,
                policy,
                &recent,
                &new,
                stored_up_to,
                unstored_up_to,
            )?;
            recent.push(new);
            around
        };
        gathered.read_fingerprints(connection, &around, in_memory)?;
        gathered.complaints.push(Read {
            complaint,
            recheck: false,
            around,
        });
    }
    Ok(gathered)
}

/// Compares each complaint gathered with the ones listed for it, after the
/// read has ended; `known` holds the fingerprints of the batch in flight.
fn compared(
    policy: &ClusterPolicy,
    gathered: Gathered,
    mut known: HashMap<i64, Fingerprint>,
) -> ClusterBatch {
    let Gathered {
        after,
        unstored_up_to,
        complaints,
        mut stored,
        mut words,
    } = gathered;
    let mut found = Vec::with_capacity(complaints.len());
    let mut recent = Vec::new();
    for Read {
        complaint,
        recheck,
        around,
    } in complaints
    {
        let mut candidates = Candidates {
            complaint_id: complaint.id,
            similar: Vec::new(),
            fingerprint: None,
            computed: Vec::new(),
            safety: complaint.safety,
            recheck,
        };
        if !complaint.left_out {
            let fingerprint = Fingerprint::of(
                &compared_text(&complaint.description, &complaint.answers),
                policy.max_text_chars,
            );
            if !fingerprint.is_empty() {
                let mut batch = Fingerprints {
                    known: &mut known,
                    stored: &mut stored,
                    words: &mut words,
                };
                (candidates.similar, candidates.computed) =
                    compare(policy, &fingerprint, &around, &mut batch);
            }
            known.insert(complaint.id, fingerprint.clone());
            candidates.fingerprint = Some(fingerprint);
            if !recheck {
                recent.push(Recent::of(&complaint));
            }
        }
        found.push(candidates);
    }
    ClusterBatch {
        after,
        unstored_up_to,
        found,
        recent,
    }
}

/// The fingerprints a batch compares with: those at hand (the batch's own
/// and those it used already), the stored ones read, and the words of
/// those with none stored.
struct Fingerprints<'a> {
    known: &'a mut HashMap<i64, Fingerprint>,
    stored: &'a mut HashMap<i64, Fingerprint>,
    words: &'a mut HashMap<i64, String>,
}

/// What [`compare`] found: the similar complaints with their similarity,
/// and the fingerprints it computed from text.
type Compared = (Vec<(i64, f64)>, Vec<(i64, Fingerprint)>);

/// Compares a fingerprint with each of `others`: the similar ones with
/// their similarity, and the fingerprints computed from text because none
/// was stored. Each one's fingerprint is taken (or computed) once per batch,
/// however many new ones it is compared with.
fn compare(
    policy: &ClusterPolicy,
    fingerprint: &Fingerprint,
    others: &[i64],
    batch: &mut Fingerprints<'_>,
) -> Compared {
    let probe = fingerprint.probe();
    let mut similar = Vec::new();
    let mut computed = Vec::new();
    for &other in others {
        let other_one = match batch.known.entry(other) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                if let Some(stored) = batch.stored.remove(&other) {
                    entry.insert(stored)
                } else if let Some(words) = batch.words.remove(&other) {
                    let found = Fingerprint::of(&words, policy.max_text_chars);
                    computed.push((other, found.clone()));
                    entry.insert(found)
                } else {
                    // Gone between the lists and their reading.
                    continue;
                }
            }
        };
        if let Some(value) = probe.similarity_at_least(other_one, policy.min_similarity) {
            similar.push((other, value));
        }
    }
    (similar, computed)
}

/// The complaints restored from spam that the sweep had passed, from
/// `cluster_rechecks` (its primary key: nothing is read when the queue is
/// empty), at most a batch. One after the cursor is not taken: it is still
/// new, and compared as such. Each is compared with the earlier complaints
/// a new one would be, and with the later ones up to the cursor, which were
/// compared while it was spam. Those after the cursor find it themselves:
/// it has a row in `cluster_fingerprints` by then (the restore's trigger
/// wrote it, or this recheck's writer job does). One read as deleted or
/// spam again is passed on without a fingerprint, for the writer job to
/// drop from the queue.
const RECHECKS_SQL: &str = "SELECT complaint_id FROM cluster_rechecks WHERE complaint_id <= ?1
    ORDER BY complaint_id LIMIT ?2";

fn rechecks(
    connection: &Connection,
    policy: &ClusterPolicy,
    cursor: i64,
    unstored_up_to: i64,
) -> Result<Gathered, StoreError> {
    let mut gathered = Gathered::new(cursor, unstored_up_to);
    let ids: Vec<i64> = connection
        .prepare_cached(RECHECKS_SQL)?
        .query_map(params![cursor, policy.batch as i64], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        let restored = connection
            .prepare_cached(&format!(
                "SELECT {FRESH_COLUMNS} FROM complaints WHERE id = ?1"
            ))?
            .query_row(params![id], fresh_from_row)
            .optional()?;
        // Gone, and its queue row with it (`ON DELETE CASCADE`).
        let Some(restored) = restored else {
            continue;
        };
        let around = if restored.left_out {
            Vec::new()
        } else {
            let mut around = earlier(
                connection,
                policy,
                &[],
                &Recent::of(&restored),
                id - 1,
                unstored_up_to,
            )?;
            around.extend(later(
                connection,
                policy,
                &restored,
                cursor,
                unstored_up_to,
            )?);
            around
        };
        gathered.read_fingerprints(connection, &around, &HashMap::new())?;
        gathered.complaints.push(Read {
            complaint: restored,
            recheck: true,
            around,
        });
    }
    Ok(gathered)
}

/// The later complaints a restored one is compared with, oldest first: the
/// first [`ClusterPolicy::max_candidates`] of its merchant and category
/// after it up to the sweep's cursor, within the window on either side of
/// it, neither deleted nor spam; those with a stored row (from the covering
/// index alone) and, for one restored from before fingerprints were
/// stored, those the sweep passed then, from `complaints`. (The window does
/// not end the walk of the index, which is in id order: a complaint
/// restored long after it arrived walks its merchant and category's later
/// ones. Restores are few.)
const LATER_SQL: &str = "SELECT complaint_id FROM cluster_fingerprints
    WHERE merchant_id = ?1 AND category = ?2 AND complaint_id > ?3 AND complaint_id <= ?4
      AND created_at BETWEEN ?5 AND ?6
    ORDER BY complaint_id LIMIT ?7";

fn later(
    connection: &Connection,
    policy: &ClusterPolicy,
    restored: &Fresh,
    cursor: i64,
    unstored_up_to: i64,
) -> Result<Vec<i64>, StoreError> {
    let since = restored.created_at - policy.window_ms;
    let until = restored.created_at + policy.window_ms;
    let wanted = policy.max_candidates as i64;
    let mut ids: Vec<i64> = connection
        .prepare_cached(LATER_SQL)?
        .query_map(
            params![
                restored.merchant_id,
                restored.category,
                restored.id,
                cursor,
                since,
                until,
                wanted
            ],
            |row| row.get(0),
        )?
        .collect::<Result<_, _>>()?;
    if restored.id < unstored_up_to {
        let unstored = connection
            .prepare_cached(
                "SELECT id FROM complaints
                 WHERE merchant_id = ?1 AND category = ?2 AND id > ?3 AND id <= ?4
                   AND created_at BETWEEN ?5 AND ?6 AND deleted_at IS NULL AND spam IS NULL
                 ORDER BY id LIMIT ?7",
            )?
            .query_map(
                params![
                    restored.merchant_id,
                    restored.category,
                    restored.id,
                    unstored_up_to.min(cursor),
                    since,
                    until,
                    wanted
                ],
                |row| row.get::<_, i64>(0),
            )?
            .collect::<Result<Vec<i64>, _>>()?;
        // One the sweep has fingerprinted since is in both lists.
        ids.extend(unstored);
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(policy.max_candidates);
    }
    Ok(ids)
}

/// The earlier complaints a new one is compared with, most recent first:
/// the last [`ClusterPolicy::max_candidates`] of its merchant and category
/// within the window, neither deleted nor spam. They are the comparable
/// complaints in memory (this batch's earlier ones, and the batch in
/// flight's), then those with a stored row up to `stored_up_to` (from the
/// covering index alone), then — only when those may not be the most
/// recent — the ones the sweep passed before fingerprints were stored,
/// from `complaints`. The rows stand for the complaints up to
/// `stored_up_to`, memory for those after it: a row written after it (a
/// restore's) is the recheck queue's to compare.
fn earlier(
    connection: &Connection,
    policy: &ClusterPolicy,
    recent: &[Recent],
    new: &Recent,
    stored_up_to: i64,
    unstored_up_to: i64,
) -> Result<Vec<i64>, StoreError> {
    let since = new.created_at - policy.window_ms;
    let mut ids: Vec<i64> = recent
        .iter()
        .rev()
        .filter(|other| {
            other.merchant_id == new.merchant_id
                && other.category == new.category
                && other.created_at >= since
        })
        .map(|other| other.id)
        .take(policy.max_candidates)
        .collect();
    let wanted = policy.max_candidates - ids.len();
    if wanted == 0 {
        return Ok(ids);
    }
    let mut stored: Vec<i64> = connection
        .prepare_cached(
            "SELECT complaint_id FROM cluster_fingerprints
             WHERE merchant_id = ?1 AND category = ?2 AND complaint_id <= ?3 AND created_at >= ?4
             ORDER BY complaint_id DESC LIMIT ?5",
        )?
        .query_map(
            params![
                new.merchant_id,
                new.category,
                stored_up_to,
                since,
                wanted as i64
            ],
            |row| row.get(0),
        )?
        .collect::<Result<_, _>>()?;
    // Every unstored complaint has an id up to `unstored_up_to`: when the
    // stored ones fill the list with larger ids, none of those is needed.
    let complete = stored.len() == wanted && stored.last().is_some_and(|&id| id > unstored_up_to);
    if unstored_up_to > 0 && !complete {
        let unstored = connection
            .prepare_cached(
                "SELECT id FROM complaints
                 WHERE merchant_id = ?1 AND category = ?2 AND id <= ?3
                   AND created_at >= ?4 AND deleted_at IS NULL AND spam IS NULL
                 ORDER BY id DESC LIMIT ?5",
            )?
            .query_map(
                params![
                    new.merchant_id,
                    new.category,
                    unstored_up_to.min(stored_up_to),
                    since,
                    wanted as i64
                ],
                |row| row.get::<_, i64>(0),
            )?
            .collect::<Result<Vec<i64>, _>>()?;
        // One the sweep has fingerprinted since is in both lists.
        stored.extend(unstored);
        stored.sort_unstable_by(|a, b| b.cmp(a));
        stored.dedup();
        stored.truncate(wanted);
    }
    ids.extend(stored);
    Ok(ids)
}

fn cursor(connection: &Connection) -> Result<i64, StoreError> {
    Ok(named_cursor(connection, "clusters")?.unwrap_or(0))
}

fn named_cursor(connection: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(connection
        .prepare_cached("SELECT value FROM sweep_cursors WHERE name = ?1")?
        .query_row(params![name], |row| row.get(0))
        .optional()?)
}

/// Keeps a complaint's fingerprint (`None`: not known) in the writer job,
/// with a row if the complaint may still be compared (neither deleted nor
/// spam), and the fingerprint only if its words were not anonymised since
/// they were read: a fingerprint never outlives the words it came from.
fn keep(
    connection: &Connection,
    complaint_id: i64,
    fingerprint: Option<&Fingerprint>,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO cluster_fingerprints
                (complaint_id, merchant_id, category, created_at, shingles)
             SELECT id, merchant_id, category, created_at,
                CASE WHEN anonymized_at IS NULL THEN ?2 END
             FROM complaints WHERE id = ?1 AND deleted_at IS NULL AND spam IS NULL
             ON CONFLICT (complaint_id) DO UPDATE
                SET shingles = coalesce(excluded.shingles, shingles)",
        )?
        .execute(params![
            complaint_id,
            fingerprint.map(Fingerprint::to_bytes)
        ])?;
    Ok(())
}

/// The facts of a complaint the cluster needs.
struct Member {
    merchant_id: i64,
    category: String,
    safety: bool,
    created_at: i64,
}

fn member(connection: &Connection, complaint_id: i64) -> Result<Option<Member>, StoreError> {
    Ok(connection
        .prepare_cached(
            "SELECT merchant_id, category, urgent, created_at FROM complaints WHERE id = ?1",
        )?
        .query_row(params![complaint_id], |row| {
            Ok(Member {
                merchant_id: row.get(0)?,
                category: row.get(1)?,
                safety: row.get(2)?,
                created_at: row.get(3)?,
            })
        })
        .optional()?)
}

fn apply(
    connection: &Connection,
    policy: &ClusterPolicy,
    batch: &ClusterBatch,
    now: i64,
) -> Result<ClusterSweep, StoreError> {
    let mut sweep = ClusterSweep::default();
    let start = cursor(connection)?;
    // A batch read while the one before it waited for its commit compared
    // its complaints with that one's from memory: without that commit (it
    // failed, or never came), it applies nothing, and the next sweep reads
    // on from the cursor.
    if start < batch.after {
        tracing::debug!(
            cursor = start,
            after = batch.after,
            "a cluster batch read ahead of a commit that never came was dropped"
        );
        return Ok(sweep);
    }
    let found = &batch.found;
    // The first batch this build applies marks where stored fingerprints
    // begin (see `candidates`).
    connection
        .prepare_cached("INSERT OR IGNORE INTO sweep_cursors (name, value) VALUES (?1, ?2)")?
        .execute(params![FINGERPRINTED_AFTER, start])?;
    // A new complaint restored between the two halves is queued for a
    // recheck it does not need; one look per batch, so that an empty queue
    // costs the new complaints nothing.
    let queued = found.iter().any(|candidates| !candidates.recheck)
        && connection
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM cluster_rechecks WHERE complaint_id > ?1)",
            )?
            .query_row(params![start], |row| row.get::<_, bool>(0))?;
    let mut last = None;
    let mut memberships = Memberships::default();
    for candidates in found {
        if candidates.recheck {
            recheck(
                connection,
                policy,
                candidates,
                now,
                &mut sweep,
                &mut memberships,
            )?;
            continue;
        }
        // A sweep that lost a race with itself must not apply twice.
        if candidates.complaint_id <= start {
            continue;
        }
        sweep.examined += 1;
        last = Some(candidates.complaint_id);
        if queued && candidates.fingerprint.is_some() {
            connection
                .prepare_cached("DELETE FROM cluster_rechecks WHERE complaint_id = ?1")?
                .execute(params![candidates.complaint_id])?;
        }
        for (other, fingerprint) in &candidates.computed {
            keep(connection, *other, Some(fingerprint))?;
        }
        keep(
            connection,
            candidates.complaint_id,
            candidates.fingerprint.as_ref(),
        )?;
        if candidates.similar.is_empty() && !candidates.safety {
            continue;
        }
        if let Some(alert) = place(connection, policy, candidates, now, &mut memberships)? {
            sweep.alerts.push(alert);
        }
    }
    // One write of the cursor per batch, in the same transaction as the
    // clusters it moves past.
    if let Some(last) = last {
        connection
            .prepare_cached(
                "INSERT INTO sweep_cursors (name, value) VALUES ('clusters', ?1)
                 ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
            )?
            .execute(params![last])?;
    }
    Ok(sweep)
}

/// A complaint restored from spam, in the writer job: taken off
/// `cluster_rechecks` (if another sweep took it first, nothing more), its
/// fingerprint kept and the complaint placed as a new one is — unless it
/// is deleted or spam again by now (dropped, compared with nothing), or a
/// complaint that came after the restore already put it in a cluster.
/// Rechecks leave the cursor where it is.
fn recheck(
    connection: &Connection,
    policy: &ClusterPolicy,
    candidates: &Candidates,
    now: i64,
    sweep: &mut ClusterSweep,
    memberships: &mut Memberships,
) -> Result<(), StoreError> {
    let id = candidates.complaint_id;
    // One read as deleted or spam leaves the queue only if it still is:
    // restored again since, it stays for the next sweep to compare.
    let taken = connection
        .prepare_cached(
            "DELETE FROM cluster_rechecks WHERE complaint_id = ?1 AND (?2 OR EXISTS (
                SELECT 1 FROM complaints
                WHERE id = ?1 AND (deleted_at IS NOT NULL OR spam IS NOT NULL)))",
        )?
        .execute(params![id, candidates.fingerprint.is_some()])?;
    if taken == 0 {
        return Ok(());
    }
    sweep.rechecked += 1;
    for (other, fingerprint) in &candidates.computed {
        keep(connection, *other, Some(fingerprint))?;
    }
    let Some(fingerprint) = &candidates.fingerprint else {
        return Ok(());
    };
    let comparable: bool = connection
        .prepare_cached("SELECT deleted_at IS NULL AND spam IS NULL FROM complaints WHERE id = ?1")?
        .query_row(params![id], |row| row.get(0))
        .optional()?
        .unwrap_or(false);
    if !comparable {
        return Ok(());
    }
    keep(connection, id, Some(fingerprint))?;
    let member: bool = connection
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM cluster_members WHERE complaint_id = ?1)")?
        .query_row(params![id], |row| row.get(0))?;
    if member || (candidates.similar.is_empty() && !candidates.safety) {
        return Ok(());
    }
    if let Some(alert) = place(connection, policy, candidates, now, memberships)? {
        sweep.alerts.push(alert);
    }
    Ok(())
}

/// Puts one complaint in a cluster if it belongs in one; the alert queued.
fn place(
    connection: &Connection,
    policy: &ClusterPolicy,
    candidates: &Candidates,
    now: i64,
    memberships: &mut Memberships,
) -> Result<Option<(i64, AlertKind)>, StoreError> {
    let id = candidates.complaint_id;
    let Some(complaint) = member(connection, id)? else {
        return Ok(None);
    };
    if candidates.similar.is_empty() && !complaint.safety {
        return Ok(None);
    }
    let since = complaint.created_at - policy.window_ms;
    // The active cluster of the most similar earlier complaint, if any.
    let mut by_similarity = candidates.similar.clone();
    by_similarity.sort_by(|a, b| b.1.total_cmp(&a.1));
    let clusters_of = memberships.clusters_of(connection, &by_similarity)?;
    let joined: Option<i64> = by_similarity.iter().find_map(|(other, _)| {
        clusters_of
            .get(other)
            .filter(|cluster| {
                cluster.merchant_id == complaint.merchant_id && cluster.last_at >= since
            })
            .map(|cluster| cluster.id)
    });
    let cluster_id = match joined {
        Some(cluster_id) => cluster_id,
        None => {
            connection
                .prepare_cached(
                    "INSERT INTO clusters (merchant_id, category, safety, size, first_at, last_at,
                        created_at)
                     VALUES (?1, ?2, ?3, 0, ?4, ?4, ?5)",
                )?
                .execute(params![
                    complaint.merchant_id,
                    complaint.category,
                    complaint.safety,
                    complaint.created_at,
                    now
                ])?;
            connection.last_insert_rowid()
        }
    };
    // The complaint, then the similar ones that are in no cluster yet
    // (adding one changes no other's membership, so the clusters read above
    // still say which are taken).
    let added = add_member(connection, cluster_id, id, 1.0, now)?;
    memberships.added(id, cluster_id, added);
    for (other, value) in &by_similarity {
        if !clusters_of.contains_key(other) {
            let added = add_member(connection, cluster_id, *other, *value, now)?;
            memberships.added(*other, cluster_id, added);
        }
    }
    let (size, alerted_size, safety, last_at): (i64, i64, bool, i64) = connection
        .prepare_cached("SELECT size, alerted_size, safety, last_at FROM clusters WHERE id = ?1")?
        .query_row(params![cluster_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?;
    // Only a cluster never alerted needs its members within the window
    // counted, and only up to the threshold `alert_due` compares them
    // with: counting every member read each one's complaint row, for every
    // complaint that joined a large cluster.
    let recent: i64 = if alerted_size == 0 {
        let enough = policy.threshold.max(policy.safety_threshold).max(1);
        connection
            .prepare_cached(
                "SELECT count(*) FROM (
                    SELECT 1 FROM cluster_members m JOIN complaints c ON c.id = m.complaint_id
                    WHERE m.cluster_id = ?1 AND c.created_at >= ?2 LIMIT ?3)",
            )?
            .query_row(
                params![cluster_id, last_at - policy.window_ms, enough as i64],
                |row| row.get(0),
            )?
    } else {
        0
    };
    let Some(kind) = alert_due(
        policy,
        safety,
        size as usize,
        recent as usize,
        alerted_size as usize,
    ) else {
        return Ok(None);
    };
    connection
        .prepare_cached("UPDATE clusters SET alerted_size = size, alerted_at = ?2 WHERE id = ?1")?
        .execute(params![cluster_id, now])?;
    alert_owners(
        connection,
        complaint.merchant_id,
        cluster_id,
        kind,
        policy,
        now,
    )?;
    Ok(Some((cluster_id, kind)))
}

/// The cluster a complaint belongs to, as [`place`] needs it.
#[derive(Clone)]
struct ClusterOf {
    id: i64,
    merchant_id: i64,
    last_at: i64,
}

/// The clusters of the complaints one writer job has looked at, kept for
/// the length of the job: under a flood each new complaint is similar to
/// dozens of the same earlier ones, whose clusters were read again for
/// every one of them. Only the sweep writes clusters, and it does so in
/// this job ([`Memberships::added`]), so what is kept stays true.
#[derive(Default)]
struct Memberships {
    /// A complaint's cluster; `None`: in none.
    of: HashMap<i64, Option<i64>>,
    /// A cluster's facts, forgotten when a member is added (its `last_at`
    /// may move).
    clusters: HashMap<i64, ClusterOf>,
}

impl Memberships {
    /// [`clusters_of`], reading only the complaints not looked at yet.
    fn clusters_of(
        &mut self,
        connection: &Connection,
        similar: &[(i64, f64)],
    ) -> Result<HashMap<i64, ClusterOf>, StoreError> {
        let unknown: Vec<(i64, f64)> = similar
            .iter()
            .filter(|(id, _)| !self.of.contains_key(id))
            .copied()
            .collect();
        let found = clusters_of(connection, &unknown)?;
        for (id, _) in &unknown {
            self.of.insert(*id, found.get(id).map(|cluster| cluster.id));
        }
        for cluster in found.into_values() {
            self.clusters.insert(cluster.id, cluster);
        }
        let mut clusters = HashMap::with_capacity(similar.len());
        for (id, _) in similar {
            let Some(Some(cluster_id)) = self.of.get(id).copied() else {
                continue;
            };
            let cluster = match self.clusters.entry(cluster_id) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => entry.insert(
                    connection
                        .prepare_cached(
                            "SELECT id, merchant_id, last_at FROM clusters WHERE id = ?1",
                        )?
                        .query_row(params![cluster_id], |row| {
                            Ok(ClusterOf {
                                id: row.get(0)?,
                                merchant_id: row.get(1)?,
                                last_at: row.get(2)?,
                            })
                        })?,
                ),
            };
            clusters.insert(*id, cluster.clone());
        }
        Ok(clusters)
    }

    /// After [`add_member`]: the complaint is in the cluster if it was
    /// added, and in one not known here if it was in one already.
    fn added(&mut self, complaint_id: i64, cluster_id: i64, added: bool) {
        if added {
            self.of.insert(complaint_id, Some(cluster_id));
        } else {
            self.of.remove(&complaint_id);
        }
        self.clusters.remove(&cluster_id);
    }
}

/// The clusters the given complaints are members of, in one statement: a
/// complaint is similar to dozens of earlier ones under a flood, and one
/// lookup each was most of the writer job's share of the sweep.
fn clusters_of(
    connection: &Connection,
    similar: &[(i64, f64)],
) -> Result<HashMap<i64, ClusterOf>, StoreError> {
    if similar.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = serde_json::Value::from(similar.iter().map(|(id, _)| *id).collect::<Vec<i64>>());
    let mut statement = connection.prepare_cached(
        "SELECT m.complaint_id, k.id, k.merchant_id, k.last_at
         FROM json_each(?1) AS wanted
         JOIN cluster_members m ON m.complaint_id = wanted.value
         JOIN clusters k ON k.id = m.cluster_id",
    )?;
    let rows = statement.query_map(params![ids.to_string()], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            ClusterOf {
                id: row.get(1)?,
                merchant_id: row.get(2)?,
                last_at: row.get(3)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds a member, keeps the cluster's size and times, and writes the
/// complaint's timeline event; `false` if it was in a cluster already.
fn add_member(
    connection: &Connection,
    cluster_id: i64,
    complaint_id: i64,
    similarity: f64,
    now: i64,
) -> Result<bool, StoreError> {
    let added = connection
        .prepare_cached(
            "INSERT OR IGNORE INTO cluster_members (cluster_id, complaint_id, similarity, added_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![cluster_id, complaint_id, similarity, now])?;
    if added == 0 {
        return Ok(false);
    }
    connection
        .prepare_cached(
            "UPDATE clusters SET size = size + 1,
                first_at = min(first_at, (SELECT created_at FROM complaints WHERE id = ?2)),
                last_at = max(last_at, (SELECT created_at FROM complaints WHERE id = ?2))
             WHERE id = ?1",
        )?
        .execute(params![cluster_id, complaint_id])?;
    let data = serde_json::json!({ "cluster_id": cluster_id, "similarity": similarity });
    connection
        .prepare_cached(
            "INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
             VALUES (?1, ?2, NULL, 'clustered', 0, NULL, ?3)",
        )?
        .execute(params![complaint_id, now, data.to_string()])?;
    Ok(true)
}

/// Queues an email to every enabled owner of the merchant: the cluster's
/// facts and its complaints' references, never the shopper's words.
fn alert_owners(
    connection: &Connection,
    merchant_id: i64,
    cluster_id: i64,
    kind: AlertKind,
    policy: &ClusterPolicy,
    now: i64,
) -> Result<(), StoreError> {
    let Some(detail) = detail(
        connection,
        merchant_id,
        cluster_id,
        now,
        policy.window_ms,
        ALERT_MEMBERS,
    )?
    else {
        return Ok(());
    };
    let complaints: Vec<serde_json::Value> = detail
        .complaints
        .iter()
        .map(|member| {
            serde_json::json!({
                "reference": member.reference,
                "site": { "key": member.site_key, "name": member.site_name },
                "received_at": crate::clock::rfc3339(member.created_at),
            })
        })
        .collect();
    let payload = serde_json::json!({
        "type": kind.event(),
        "timestamp": crate::clock::rfc3339(now),
        "data": {
            "cluster_id": cluster_id,
            "category": detail.summary.category,
            "category_label": detail.summary.category_label,
            "safety": detail.summary.safety,
            "size": detail.summary.size,
            "window_hours": policy.window_ms / 3_600_000,
            "first_at": crate::clock::rfc3339(detail.summary.first_at),
            "last_at": crate::clock::rfc3339(detail.summary.last_at),
            "complaints": complaints,
        }
    });
    let owners: Vec<(i64, String)> = connection
        .prepare_cached(
            "SELECT id, email FROM users WHERE merchant_id = ?1 AND role = 'owner' AND disabled = 0
             ORDER BY id",
        )?
        .query_map(params![merchant_id], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (user_id, email) in owners {
        notifications::queue(
            connection,
            &NewNotification {
                merchant_id,
                complaint_id: None,
                webhook_id: None,
                user_id: Some(user_id),
                target: email,
                event: kind.event().to_owned(),
                payload: payload.clone(),
            },
            now,
        )?;
    }
    Ok(())
}

const SUMMARY_SQL: &str = "SELECT k.id, k.category,
        coalesce((SELECT c.category_label FROM cluster_members m
                  JOIN complaints c ON c.id = m.complaint_id
                  WHERE m.cluster_id = k.id ORDER BY c.created_at DESC LIMIT 1), k.category),
        k.safety, k.size, k.first_at, k.last_at, k.alerted_at
     FROM clusters k";

fn summary_from_row(
    row: &rusqlite::Row<'_>,
    now: i64,
    window_ms: i64,
) -> rusqlite::Result<ClusterSummary> {
    let last_at: i64 = row.get(6)?;
    Ok(ClusterSummary {
        id: row.get(0)?,
        category: row.get(1)?,
        category_label: row.get(2)?,
        safety: row.get(3)?,
        size: row.get(4)?,
        first_at: row.get(5)?,
        last_at,
        alerted_at: row.get(7)?,
        active: last_at + window_ms > now,
    })
}

fn list(
    connection: &Connection,
    merchant_id: i64,
    active_only: bool,
    limit: usize,
    now: i64,
    window_ms: i64,
) -> Result<Vec<ClusterSummary>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "{SUMMARY_SQL} WHERE k.merchant_id = ?1 AND (NOT ?2 OR k.last_at + ?4 > ?3)
         ORDER BY k.last_at DESC, k.id DESC LIMIT ?5"
    ))?;
    let rows = statement.query_map(
        params![merchant_id, active_only, now, window_ms, limit as i64],
        |row| summary_from_row(row, now, window_ms),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn detail(
    connection: &Connection,
    merchant_id: i64,
    cluster_id: i64,
    now: i64,
    window_ms: i64,
    limit: usize,
) -> Result<Option<ClusterDetail>, StoreError> {
    let summary = connection
        .prepare_cached(&format!(
            "{SUMMARY_SQL} WHERE k.merchant_id = ?1 AND k.id = ?2"
        ))?
        .query_row(params![merchant_id, cluster_id], |row| {
            summary_from_row(row, now, window_ms)
        })
        .optional()?;
    let Some(summary) = summary else {
        return Ok(None);
    };
    let complaints = connection
        .prepare_cached(
            "SELECT c.reference, s.site_key, s.name, c.status, c.created_at, m.similarity
             FROM cluster_members m JOIN complaints c ON c.id = m.complaint_id
             JOIN sites s ON s.id = c.site_id
             WHERE m.cluster_id = ?1 AND c.merchant_id = ?2 AND c.spam IS NULL
             ORDER BY c.created_at DESC, c.id DESC LIMIT ?3",
        )?
        .query_map(params![cluster_id, merchant_id, limit as i64], |row| {
            Ok(ClusterMember {
                reference: row.get(0)?,
                site_key: row.get(1)?,
                site_name: row.get(2)?,
                status: row.get(3)?,
                created_at: row.get(4)?,
                similarity: row.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut complaints: Vec<ClusterMember> = complaints;
    complaints.reverse();
    Ok(Some(ClusterDetail {
        summary,
        complaints,
    }))
}

/// The merchant's clusters with the most members, among those active in
/// `[since, until)`: for the digest.
pub(super) fn top(
    connection: &Connection,
    merchant_id: i64,
    since: i64,
    until: i64,
    limit: usize,
) -> Result<Vec<ClusterSummary>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "{SUMMARY_SQL} WHERE k.merchant_id = ?1 AND k.last_at >= ?2 AND k.first_at < ?3
         ORDER BY k.size DESC, k.last_at DESC LIMIT ?4"
    ))?;
    let rows = statement.query_map(params![merchant_id, since, until, limit as i64], |row| {
        summary_from_row(row, until, 0)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The first half of the sweep on a thread of its own, at background
/// priority ([`priority::lower_this_thread`]), with a read connection of its
/// own.
///
/// The comparisons are most of the sweep's work, and nobody waits for them:
/// on the shared blocking pool they took an equal share of a busy machine
/// from the writer, which every acknowledgement waits for. On this thread a
/// flood is acknowledged first and compared right after; when the machine
/// is not saturated the thread gets every idle moment, so alerts still go
/// out within the sweep's cadence.
pub struct ClusterComparer {
    /// Closed by [`ClusterComparer::close`] or on drop: the thread finishes
    /// the batch in hand and ends.
    jobs: Option<mpsc::Sender<ComparerJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A read half to run on the comparer's connection; it answers its caller.
type ComparerJob = Box<dyn FnOnce(&Connection) + Send>;

impl ClusterComparer {
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = oneshot::channel();
        let job: ComparerJob = Box::new(move |connection| {
            // A sweep that stopped waiting has nothing to be told.
            let _ = answer.send(work(connection));
        });
        self.jobs
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)?;
        answered.await.map_err(|_| StoreError::Closed)?
    }

    /// Ends the thread once the batch in hand is compared, and waits for it.
    pub async fn close(mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Store {
    /// Starts the sweep's [`ClusterComparer`] on the database's file; fails
    /// for a database without one (in memory).
    pub async fn cluster_comparer(&self) -> Result<ClusterComparer, StoreError> {
        let path = self
            .read(|connection| Ok(connection.path().map(PathBuf::from)))
            .await?
            .filter(|path| !path.as_os_str().is_empty())
            .ok_or_else(|| StoreError::Task("the database has no file to open".to_owned()))?;
        let reader = connection::open_reader(&path)?;
        let (jobs, received) = mpsc::channel::<ComparerJob>();
        let thread = std::thread::Builder::new()
            .name("heard-clusters".to_owned())
            .spawn(move || {
                priority::lower_this_thread();
                for job in received {
                    job(&reader);
                }
            })
            .map_err(|error| StoreError::Task(error.to_string()))?;
        Ok(ClusterComparer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// The first half of a cluster sweep, from what is committed: the
    /// complaints restored from spam waiting to be rechecked, else the new
    /// complaints since the sweep's cursor, and what each is similar to.
    /// On `comparer`'s thread if there is one, else on the read pool.
    pub async fn cluster_candidates(
        &self,
        comparer: Option<&ClusterComparer>,
        policy: &ClusterPolicy,
    ) -> Result<ClusterBatch, StoreError> {
        let policy = policy.clone();
        self.read_half(comparer, move |connection| candidates(connection, &policy))
            .await
    }

    /// The first half for the batch after `in_flight`, while that one's
    /// writer job waits for its commit: the new complaints after it,
    /// compared with its own from memory. `None` when complaints restored
    /// from spam wait to be rechecked: read them with
    /// [`Store::cluster_candidates`] once `in_flight` is applied.
    pub async fn cluster_candidates_after(
        &self,
        comparer: Option<&ClusterComparer>,
        policy: &ClusterPolicy,
        in_flight: InFlight,
    ) -> Result<Option<ClusterBatch>, StoreError> {
        let policy = policy.clone();
        self.read_half(comparer, move |connection| {
            candidates_after(connection, &policy, in_flight)
        })
        .await
    }

    async fn read_half<T: Send + 'static>(
        &self,
        comparer: Option<&ClusterComparer>,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match comparer {
            Some(comparer) => comparer.run(work).await,
            None => self.read(work).await,
        }
    }

    /// The second half, in one writer job: clusters joined or created,
    /// timeline events, alerts queued, the cursor moved past them. A batch
    /// read after one in flight applies nothing unless that one committed.
    pub async fn apply_clusters(
        &self,
        policy: &ClusterPolicy,
        batch: ClusterBatch,
        now: i64,
    ) -> Result<ClusterSweep, StoreError> {
        if batch.found.is_empty() {
            return Ok(ClusterSweep::default());
        }
        let policy = policy.clone();
        self.inner
            .writer
            .run(move |connection| apply(connection, &policy, &batch, now))
            .await
    }

    /// The merchant's clusters, most recent first.
    pub async fn clusters(
        &self,
        merchant_id: i64,
        active_only: bool,
        limit: usize,
        now: i64,
        window_ms: i64,
    ) -> Result<Vec<ClusterSummary>, StoreError> {
        self.read(move |connection| {
            list(connection, merchant_id, active_only, limit, now, window_ms)
        })
        .await
    }

    /// One of the merchant's clusters with its complaints; `None` for an
    /// unknown id or another merchant's cluster.
    pub async fn cluster(
        &self,
        merchant_id: i64,
        cluster_id: i64,
        now: i64,
        window_ms: i64,
    ) -> Result<Option<ClusterDetail>, StoreError> {
        self.read(move |connection| {
            detail(
                connection,
                merchant_id,
                cluster_id,
                now,
                window_ms,
                MAX_MEMBERS_SHOWN,
            )
        })
        .await
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! What the sweep's tests and the spam folder's share: a dairy with
    //! its owner, complaints about sour milk that are alike, and a sweep.

    use super::ClusterSweep;
    use crate::domain::clusters::ClusterPolicy;
    use crate::notify::sweeps::sweep_clusters;
    use crate::store::inbox_fixtures::{START, complaint, record, site};
    use crate::store::routing_fixtures::staff;
    use crate::store::test_support::{TempStore, temp_store};
    use crate::store::{Role, Store};

    pub const HOUR: i64 = 3_600_000;
    /// Four complaints alike: any three are a cluster to alert.
    pub const MILK: [&str; 4] = [
        "The milk tasted sour and my child got a stomach ache",
        "Sour milk! My child had a stomach ache after drinking it",
        "The milk was sour and my child had a stomach ache",
        "Sour milk again, and a stomach ache for my child",
    ];
    /// Like none of them.
    pub const PARCEL: &str = "The delivery driver was rude and left the parcel in the rain";

    /// A store with the merchant "Dairy", its site and its owner, who
    /// hears of its clusters: (store, merchant, site, owner).
    pub async fn dairy() -> (TempStore, i64, i64, i64) {
        let temp = temp_store();
        let (merchant, site_id) = site(&temp.store, "Dairy", "dairy").await;
        let owner = staff(&temp.store, merchant, "owner@dairy.example", Role::Owner).await;
        (temp, merchant, site_id, owner)
    }

    /// Records `text` on the site at `START + hours`; its reference.
    pub async fn complain_at(store: &Store, site_id: i64, hours: i64, text: &str) -> String {
        record(store, complaint(site_id, START + hours * HOUR, text)).await
    }

    /// A sweep at `START + hours`, by the default policy.
    pub async fn sweep(store: &Store, hours: i64) -> ClusterSweep {
        sweep_clusters(store, &ClusterPolicy::default(), START + hours * HOUR)
            .await
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{HOUR, MILK, PARCEL, complain_at, dairy, sweep};
    use super::*;
    use crate::notify::sweeps::sweep_clusters;
    use crate::store::inbox_fixtures::{START, complaint, record, site};
    use crate::store::test_support::temp_store;

    /// Runs `work` as a writer job: what the tests read and change by hand.
    async fn sql<T: Send + 'static>(
        store: &Store,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> T {
        store
            .inner
            .writer
            .run(move |connection| Ok(work(connection)?))
            .await
            .unwrap()
    }

    async fn id_of(store: &Store, reference: &str) -> i64 {
        let reference = reference.to_owned();
        sql(store, move |connection| {
            connection.query_row(
                "SELECT id FROM complaints WHERE reference = ?1",
                [reference],
                |row| row.get(0),
            )
        })
        .await
    }

    /// The first column of the row `query` finds for `key`; `None` without
    /// a row.
    async fn value<T: rusqlite::types::FromSql + Send + 'static>(
        store: &Store,
        query: &'static str,
        key: impl rusqlite::ToSql + Send + 'static,
    ) -> Option<T> {
        sql(store, move |connection| {
            connection
                .query_row(query, [key], |row| row.get(0))
                .optional()
        })
        .await
    }

    /// The complaint's row in `cluster_fingerprints` (`None`: no row) and
    /// its stored shingles.
    async fn stored(store: &Store, id: i64) -> Option<Option<Vec<u8>>> {
        let query = "SELECT shingles FROM cluster_fingerprints WHERE complaint_id = ?1";
        value(store, query, id).await
    }

    async fn cluster_of(store: &Store, id: i64) -> Option<i64> {
        let query = "SELECT cluster_id FROM cluster_members WHERE complaint_id = ?1";
        value(store, query, id).await
    }

    fn bytes(text: &str) -> Vec<u8> {
        Fingerprint::of(text, ClusterPolicy::default().max_text_chars).to_bytes()
    }

    /// Records `text` at `START + hours`; its id.
    async fn complain(store: &Store, site_id: i64, hours: i64, text: &str) -> i64 {
        id_of(store, &complain_at(store, site_id, hours, text).await).await
    }

    #[tokio::test]
    async fn each_complaint_is_fingerprinted_once_and_compared_by_what_is_stored() {
        let (temp, _, site_id, _) = dairy().await;
        let store = &temp.store;
        let first = complain(store, site_id, 0, MILK[0]).await;
        let second = complain(store, site_id, 1, MILK[1]).await;
        assert_eq!(sweep(store, 2).await.examined, 2);
        assert_eq!(stored(store, first).await, Some(Some(bytes(MILK[0]))));
        assert_eq!(stored(store, second).await, Some(Some(bytes(MILK[1]))));
        let milk = cluster_of(store, first).await.expect("the two are alike");
        assert_eq!(cluster_of(store, second).await, Some(milk));

        // The sweep compares with the stored fingerprint, not the text: with
        // the second's fingerprint made a parcel's, a parcel complaint
        // joins the milk cluster through it.
        let parcel = bytes(PARCEL);
        sql(store, move |connection| {
            connection.execute(
                "UPDATE cluster_fingerprints SET shingles = ?2 WHERE complaint_id = ?1",
                params![second, parcel],
            )
        })
        .await;
        let rude = complain(
            store,
            site_id,
            2,
            "The rude delivery driver left the parcel out in the rain",
        )
        .await;
        sweep(store, 3).await;
        assert_eq!(cluster_of(store, rude).await, Some(milk));
        // By their words, the two are not alike.
        let policy = ClusterPolicy::default();
        let words = Fingerprint::of(MILK[1], policy.max_text_chars).similarity(&Fingerprint::of(
            "The rude delivery driver left the parcel out in the rain",
            policy.max_text_chars,
        ));
        assert!(words < policy.min_similarity, "{words}");
    }

    #[tokio::test]
    async fn a_complaint_without_a_stored_fingerprint_is_fingerprinted_from_its_words() {
        let (temp, _, site_id, _) = dairy().await;
        let store = &temp.store;
        // Complaints the sweep passed before fingerprints were stored (as
        // a store from before migration 0017 has them): no rows, and no
        // mark of where stored fingerprints begin.
        let old: Vec<i64> = vec![
            complain(store, site_id, 0, MILK[0]).await,
            complain(store, site_id, 1, MILK[1]).await,
            complain(store, site_id, 1, PARCEL).await,
        ];
        sql(store, |connection| {
            connection.execute_batch(
                "INSERT INTO sweep_cursors (name, value)
                 VALUES ('clusters', (SELECT max(id) FROM complaints))
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
        })
        .await;
        let new = complain(store, site_id, 2, MILK[2]).await;
        let swept = sweep(store, 3).await;
        assert_eq!(swept.examined, 1);
        assert_eq!(swept.alerts.len(), 1, "three alike: {swept:?}");
        let milk = cluster_of(store, new).await.unwrap();
        assert_eq!(cluster_of(store, old[0]).await, Some(milk));
        assert_eq!(cluster_of(store, old[1]).await, Some(milk));
        assert_eq!(cluster_of(store, old[2]).await, None);
        // Each one compared is fingerprinted from its words and kept.
        assert_eq!(stored(store, old[0]).await, Some(Some(bytes(MILK[0]))));
        assert_eq!(stored(store, old[2]).await, Some(Some(bytes(PARCEL))));
        assert_eq!(stored(store, new).await, Some(Some(bytes(MILK[2]))));

        // A row whose fingerprint is not known (its words changed) is
        // computed again when it is next compared.
        sql(store, move |connection| {
            connection.execute(
                "UPDATE cluster_fingerprints SET shingles = NULL WHERE complaint_id = ?1",
                [new],
            )
        })
        .await;
        let last = complain(store, site_id, 3, MILK[3]).await;
        sweep(store, 4).await;
        assert_eq!(cluster_of(store, last).await, Some(milk));
        assert_eq!(stored(store, new).await, Some(Some(bytes(MILK[2]))));
    }

    #[tokio::test]
    async fn the_most_recent_are_compared_whether_stored_or_from_before() {
        let (temp, _, site_id, _) = dairy().await;
        let store = &temp.store;
        let in_category = |category: &str, hours: i64, text: &str| {
            let mut new = complaint(site_id, START + hours * HOUR, text);
            new.category = category.to_owned();
            new
        };
        // By hand, a store upgraded mid-life: fingerprints are stored for
        // complaints after `from_before[2]`, and for one before it that
        // was compared since.
        let mut from_before = Vec::new();
        for (category, text) in [
            ("product", MILK[0]),
            ("delivery", PARCEL),
            ("delivery", MILK[1]),
        ] {
            let reference = record(store, in_category(category, 0, text)).await;
            from_before.push(id_of(store, &reference).await);
        }
        let stored_after = id_of(
            store,
            &record(store, in_category("product", 1, PARCEL)).await,
        )
        .await;
        let (parcel, upgraded) = (bytes(PARCEL), from_before[2]);
        let compared_since = from_before[1];
        sql(store, move |connection| {
            connection.execute(
                "INSERT INTO sweep_cursors (name, value) VALUES ('clusters', ?1), (?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![stored_after, FINGERPRINTED_AFTER, upgraded],
            )?;
            for id in [compared_since, stored_after] {
                connection.execute(
                    "INSERT INTO cluster_fingerprints
                        (complaint_id, merchant_id, category, created_at, shingles)
                     SELECT id, merchant_id, category, created_at, ?2 FROM complaints
                     WHERE id = ?1",
                    params![id, parcel],
                )?;
            }
            Ok(())
        })
        .await;
        // One candidate: the most recent earlier complaint of the category.
        let policy = ClusterPolicy {
            max_candidates: 1,
            ..ClusterPolicy::default()
        };
        let product = id_of(
            store,
            &record(store, in_category("product", 2, MILK[1])).await,
        )
        .await;
        let delivery = id_of(
            store,
            &record(store, in_category("delivery", 2, MILK[2])).await,
        )
        .await;
        sweep_clusters(store, &policy, START + 3 * HOUR)
            .await
            .unwrap();
        // Product: the stored one is the most recent; the one from before,
        // though alike, is not compared at all.
        assert_eq!(cluster_of(store, product).await, None);
        assert_eq!(stored(store, from_before[0]).await, None);
        // Delivery: the most recent is from before and has no row, while an
        // older one has: the one from before is compared.
        let cluster = cluster_of(store, delivery).await;
        assert!(cluster.is_some());
        assert_eq!(cluster_of(store, from_before[2]).await, cluster);
        assert_eq!(
            stored(store, from_before[2]).await,
            Some(Some(bytes(MILK[1])))
        );
    }

    /// The nice values of this process's threads with the comparer's name.
    #[cfg(target_os = "linux")]
    fn comparer_nice_values() -> Vec<i32> {
        let mut values = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim_end() != "heard-clusters" {
                continue;
            }
            // After the command in parentheses: state is field 3, nice 19.
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            let Some((_, fields)) = stat.rsplit_once(") ") else {
                continue;
            };
            if let Some(nice) = fields.split(' ').nth(16) {
                values.push(nice.parse().unwrap());
            }
        }
        values
    }

    #[tokio::test]
    async fn the_comparer_thread_finds_what_the_read_pool_finds_at_background_priority() {
        let (temp, _, site_id, _) = dairy().await;
        let store = &temp.store;
        for (hours, text) in [(0, MILK[0]), (1, PARCEL), (1, MILK[1]), (2, MILK[2])] {
            complain(store, site_id, hours, text).await;
        }
        let policy = ClusterPolicy::default();
        let comparer = store.cluster_comparer().await.unwrap();
        let on_thread = store
            .cluster_candidates(Some(&comparer), &policy)
            .await
            .unwrap();
        let on_pool = store.cluster_candidates(None, &policy).await.unwrap();
        assert_eq!(on_thread, on_pool);
        assert_eq!(on_thread.found.len(), 4);
        assert_eq!(on_thread.found[3].similar.len(), 2, "{on_thread:?}");
        // Its thread has lowered its priority (other tests' comparers may
        // be starting at the same moment: each gets there).
        #[cfg(target_os = "linux")]
        {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let values = comparer_nice_values();
                if !values.is_empty()
                    && values.iter().all(|&nice| nice >= priority::BACKGROUND_NICE)
                {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "{values:?}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        // Its thread ends when closed; the writer applies what it found.
        comparer.close().await;
        let swept = store
            .apply_clusters(&policy, on_thread, START + 3 * HOUR)
            .await
            .unwrap();
        assert_eq!(swept.examined, 4);
        assert_eq!(swept.alerts.len(), 1);
    }

    #[tokio::test]
    async fn erasing_a_complaints_words_erases_its_fingerprint() {
        let (temp, merchant, site_id, _) = dairy().await;
        let store = &temp.store;
        let deleted = complaint(site_id, START, MILK[0]);
        let token = deleted.token_hash;
        let deleted = id_of(store, &record(store, deleted).await).await;
        let anonymized = complain(store, site_id, 0, MILK[1]).await;
        let spam = complain(store, site_id, 0, MILK[2]).await;
        sweep(store, 1).await;
        for id in [deleted, anonymized, spam] {
            assert!(matches!(stored(store, id).await, Some(Some(_))), "{id}");
        }

        // The shopper deletes theirs: the row goes with the words.
        assert!(store.delete_complaint(token, START + HOUR).await.unwrap());
        assert_eq!(stored(store, deleted).await, None);

        // Retention anonymises one (resolved long ago, by hand): it may
        // still be compared, but its fingerprint is gone, and stays gone
        // when it is next compared.
        sql(store, move |connection| {
            connection.execute(
                "UPDATE merchants SET retention_days = 30 WHERE id = ?1",
                [merchant],
            )?;
            connection.execute(
                "UPDATE complaints SET status = 'resolved', resolved_at = ?2 WHERE id = ?1",
                params![anonymized, START - 31 * 24 * HOUR],
            )
        })
        .await;
        let done = store.anonymize_due(START + HOUR, 10).await.unwrap();
        assert_eq!(done.references.len(), 1);
        assert_eq!(stored(store, anonymized).await, Some(None));
        let later = complain(store, site_id, 47, MILK[1]).await;
        sweep(store, 48).await;
        assert_eq!(stored(store, anonymized).await, Some(None));
        assert_eq!(
            cluster_of(store, later).await,
            cluster_of(store, spam).await
        );

        // Marked as spam: compared with nothing; restored: compared again,
        // fingerprinted from its words when first needed.
        sql(store, move |connection| {
            connection.execute("UPDATE complaints SET spam = 'staff' WHERE id = ?1", [spam])
        })
        .await;
        assert_eq!(stored(store, spam).await, None);
        sql(store, move |connection| {
            connection.execute("UPDATE complaints SET spam = NULL WHERE id = ?1", [spam])
        })
        .await;
        assert_eq!(stored(store, spam).await, Some(None));
        complain(store, site_id, 48, MILK[3]).await;
        sweep(store, 49).await;
        assert_eq!(stored(store, spam).await, Some(Some(bytes(MILK[2]))));
    }

    #[tokio::test]
    async fn the_recheck_queue_and_the_later_complaints_are_read_from_indexes_alone() {
        let temp = temp_store();
        let plans: Vec<Vec<String>> = temp
            .store
            .read(|connection| {
                let mut plans = Vec::new();
                for (sql, parameters) in [(RECHECKS_SQL, 2), (LATER_SQL, 7)] {
                    let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let values = vec![1_i64; parameters];
                    let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
                        row.get::<_, String>(3)
                    })?;
                    plans.push(rows.collect::<Result<_, _>>()?);
                }
                Ok(plans)
            })
            .await
            .unwrap();
        // The queue by its primary key (an empty queue is one page), the
        // later complaints as one range of the covering index, no sort.
        assert_eq!(
            plans[0],
            ["SEARCH cluster_rechecks USING INTEGER PRIMARY KEY (rowid<?)"]
        );
        assert_eq!(
            plans[1],
            [
                "SEARCH cluster_fingerprints USING COVERING INDEX cluster_fingerprints_recent \
                 (merchant_id=? AND category=? AND complaint_id>? AND complaint_id<?)"
            ]
        );
    }

    /// The sweep's cursor: the last complaint a committed batch passed.
    async fn cursor_of(store: &Store) -> i64 {
        let query = "SELECT value FROM sweep_cursors WHERE name = ?1";
        value(store, query, "clusters").await.unwrap_or(0)
    }

    /// A cluster's size, its member rows and its members' `clustered`
    /// events: equal when no member was counted twice.
    async fn counted(store: &Store, cluster: i64) -> (i64, i64, i64) {
        sql(store, move |connection| {
            connection.query_row(
                "SELECT size,
                    (SELECT count(*) FROM cluster_members WHERE cluster_id = ?1),
                    (SELECT count(*) FROM complaint_events
                     WHERE kind = 'clustered' AND data ->> 'cluster_id' = ?1)
                 FROM clusters WHERE id = ?1",
                [cluster],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
        })
        .await
    }

    #[tokio::test]
    async fn a_batch_read_ahead_applies_only_on_top_of_the_one_before_and_a_restart_resumes() {
        let (temp, _, site_id, _) = dairy().await;
        let store = &temp.store;
        let mut ids = Vec::new();
        for (hours, text) in [
            (0, MILK[0]),
            (0, PARCEL),
            (1, MILK[1]),
            (1, MILK[2]),
            (2, MILK[3]),
            (2, PARCEL),
        ] {
            ids.push(complain(store, site_id, hours, text).await);
        }
        let policy = ClusterPolicy {
            batch: 2,
            ..ClusterPolicy::default()
        };
        let first = store.cluster_candidates(None, &policy).await.unwrap();
        let in_flight = first.in_flight().expect("a batch of new complaints");
        let second = store
            .cluster_candidates_after(None, &policy, in_flight)
            .await
            .unwrap()
            .expect("no recheck waits");
        // Read before the first batch's writer job: its milk is compared
        // from memory, nothing of it being stored yet.
        let read: Vec<i64> = second
            .found
            .iter()
            .map(|found| found.complaint_id)
            .collect();
        assert_eq!(read, ids[2..4]);
        assert_eq!(stored(store, ids[0]).await, None);
        let similar = |index: usize| -> Vec<i64> {
            second.found[index]
                .similar
                .iter()
                .map(|(other, _)| *other)
                .collect()
        };
        assert_eq!(similar(0), [ids[0]], "{second:?}");
        assert_eq!(similar(1), [ids[2], ids[0]], "{second:?}");

        // The first batch's writer job never commits (it failed, or the
        // process died): the second, read ahead of it, applies nothing.
        let dropped = store
            .apply_clusters(&policy, second.clone(), START + 3 * HOUR)
            .await
            .unwrap();
        assert_eq!(dropped, ClusterSweep::default());
        assert_eq!(cursor_of(store).await, 0);
        assert_eq!(cluster_of(store, ids[2]).await, None);
        assert_eq!(stored(store, ids[2]).await, None);

        // On top of the first, it applies: the third alike alerts.
        let applied = store
            .apply_clusters(&policy, first, START + 3 * HOUR)
            .await
            .unwrap();
        assert_eq!((applied.examined, applied.alerts.len()), (2, 0));
        let third = store
            .cluster_candidates_after(None, &policy, second.in_flight().unwrap())
            .await
            .unwrap()
            .expect("no recheck waits");
        let applied = store
            .apply_clusters(&policy, second, START + 3 * HOUR)
            .await
            .unwrap();
        assert_eq!((applied.examined, applied.alerts.len()), (2, 1));
        assert_eq!(cursor_of(store).await, ids[3]);

        // The process dies while the third's writer job waits: a batch is
        // done only once committed, so the next start reads it again.
        drop(third);
        store.shutdown().await;
        let store = Store::open(&temp.directory.path().join("heard.sqlite3"), 64, 1024).unwrap();
        let store = &store;
        let swept = sweep_clusters(store, &policy, START + 4 * HOUR)
            .await
            .unwrap();
        assert_eq!((swept.examined, swept.alerts.len()), (2, 0), "{swept:?}");
        assert_eq!(cursor_of(store).await, ids[5]);
        // Nothing skipped, nothing counted twice.
        let milk = cluster_of(store, ids[0]).await.unwrap();
        for id in [ids[2], ids[3], ids[4]] {
            assert_eq!(cluster_of(store, id).await, Some(milk), "{id}");
        }
        assert_eq!(counted(store, milk).await, (4, 4, 4));
        let parcel = cluster_of(store, ids[1]).await.unwrap();
        assert_eq!(cluster_of(store, ids[5]).await, Some(parcel));
        assert_eq!(counted(store, parcel).await, (2, 2, 2));
        for id in ids {
            assert!(matches!(stored(store, id).await, Some(Some(_))), "{id}");
        }
        store.shutdown().await;
    }

    /// Every complaint's cluster, named by its first member, and the
    /// alerts by the same names: two stores given the same complaints
    /// compare equal when they clustered and alerted alike.
    async fn clustering(
        store: &Store,
        ids: &[i64],
        alerts: &[(i64, AlertKind)],
    ) -> (Vec<Option<i64>>, Vec<(i64, AlertKind)>) {
        let mut first_member = HashMap::new();
        let mut named = Vec::new();
        for &id in ids {
            let cluster = cluster_of(store, id).await;
            named.push(cluster.map(|cluster| *first_member.entry(cluster).or_insert(id)));
        }
        let alerts = alerts
            .iter()
            .map(|(cluster, kind)| (first_member[cluster], *kind))
            .collect();
        (named, alerts)
    }

    #[tokio::test]
    async fn batches_read_ahead_of_their_predecessors_commit_cluster_as_one_batch_does() {
        let rude = "The rude delivery driver left the parcel out in the rain";
        // (merchant, hours, text, suspected spam)
        let stream = [
            ("Dairy", 0, MILK[0], false),
            ("Dairy", 0, PARCEL, false),
            ("Other", 1, MILK[1], false),
            ("Dairy", 1, MILK[1], false),
            ("Dairy", 2, MILK[3], true),
            ("Dairy", 2, MILK[2], false),
            ("Dairy", 2, rude, false),
            ("Other", 3, MILK[2], false),
            ("Dairy", 3, MILK[3], false),
            ("Dairy", 40, MILK[2], false),
            ("Dairy", 60, MILK[0], false),
            ("Dairy", 61, MILK[1], false),
        ];
        let mut outcomes = Vec::new();
        for batch in [100, 1, 2, 3] {
            let temp = temp_store();
            let store = &temp.store;
            let dairy = site(store, "Dairy", "dairy").await.1;
            let other = site(store, "Other", "other").await.1;
            let mut ids = Vec::new();
            for (merchant, hours, text, spam) in stream {
                let site_id = if merchant == "Dairy" { dairy } else { other };
                let mut new = complaint(site_id, START + hours * HOUR, text);
                if spam {
                    new.spam = Some(crate::store::SpamReason::TooFast);
                }
                ids.push(id_of(store, &record(store, new).await).await);
            }
            let policy = ClusterPolicy {
                batch,
                ..ClusterPolicy::default()
            };
            let swept = sweep_clusters(store, &policy, START + 62 * HOUR)
                .await
                .unwrap();
            assert_eq!(swept.examined, stream.len(), "batches of {batch}");
            outcomes.push((batch, clustering(store, &ids, &swept.alerts).await, ids));
        }
        // In one batch: the dairy's milk (not the suspected one) and its
        // parcels, the other merchant's milk apart. The milk cluster lives
        // on: its complaint at 40 hours moved its last one, so those at 60
        // and 61 hours, more than the window after the first, join it too
        // (the writer job keeps the clusters it has looked at: a kept
        // cluster's times must move with it), and it has doubled.
        let (_, (clusters, alerts), ids) = &outcomes[0];
        let expected = [
            Some(ids[0]),
            Some(ids[1]),
            Some(ids[2]),
            Some(ids[0]),
            None,
            Some(ids[0]),
            Some(ids[1]),
            Some(ids[2]),
            Some(ids[0]),
            Some(ids[0]),
            Some(ids[0]),
            Some(ids[0]),
        ];
        assert_eq!(clusters, &expected);
        assert_eq!(
            alerts,
            &[(ids[0], AlertKind::Detected), (ids[0], AlertKind::Grew)]
        );
        for (batch, outcome, _) in &outcomes[1..] {
            assert_eq!(outcome, &outcomes[0].1, "batches of {batch}");
        }
    }
}
