//! The raw SQLite limit: the rows intake writes (a complaint, through
//! intake's own insert statement, its idempotency record and its spent
//! proof of work), inserted by a bare rusqlite loop into the collector's
//! own schema — its migration files, so the same tables, indexes and
//! triggers — with the same durability (WAL, `synchronous=FULL`) and batch
//! size; an acknowledgement email row too when the shopper left an address,
//! as intake queues one. No HTTP, no validation, no savepoints, no read-back:
//! what is left is SQLite and the disk.

use std::path::Path;
use std::time::{Duration, Instant};

use heard_collector::store::INSERT_COMPLAINT;
use heard_shared::ComplaintSubmission;
use heard_shared::limits::CHALLENGE_LIFETIME_SECONDS;
use rusqlite::{Connection, params};

use crate::bodies::Random;

/// The collector's migrations, every `migrations/NNNN_*.sql` file in order,
/// each through `include_str!` (the list is written by `build.rs`).
const MIGRATIONS: &[&str] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// What the loop measured.
#[derive(Debug, Clone)]
pub struct RawSummary {
    pub rows: u64,
    pub transactions: u64,
    pub elapsed: Duration,
}

/// Inserts rows made from `submissions` in transactions of `batch` rows
/// until `duration` has passed or `max_rows` are written.
pub fn insert_loop(
    path: &Path,
    submissions: &[ComplaintSubmission],
    batch: usize,
    duration: Duration,
    max_rows: u64,
    without_search: bool,
) -> anyhow::Result<Option<RawSummary>> {
    let connection = Connection::open(path)?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "WAL mode refused: {mode}");
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        connection.execute_batch(&format!("BEGIN; {sql}; COMMIT;"))?;
        connection.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    if without_search && !drop_search_insert(&connection)? {
        return Ok(None);
    }
    connection.execute_batch(
        "INSERT INTO merchants (id, name, created_at) VALUES (1, 'Bench merchant', 0);
         INSERT INTO sites (id, merchant_id, site_key, name, allowed_origins, config, created_at, updated_at)
         VALUES (1, 1, 'bench', 'Bench', '[]', '{}', 0, 0);",
    )?;

    // Prepared outside the timed loop: the JSON columns, as intake writes them.
    let rows: Vec<(&ComplaintSubmission, String, String)> = submissions
        .iter()
        .map(|submission| {
            (
                submission,
                serde_json::to_string(&submission.outcomes).unwrap_or_default(),
                serde_json::to_string(&submission.answers).unwrap_or_default(),
            )
        })
        .collect();
    // Intake queues an acknowledgement email in the complaint's transaction
    // when the shopper left an address, once the schema has a mail queue.
    let queues_mail: bool = connection.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'mail_queue'",
        [],
        |row| row.get(0),
    )?;
    let mut random = Random::new(0x5eed);
    let mut written: u64 = 0;
    let mut transactions = 0;
    let started = Instant::now();
    let created_at = 1_790_000_000_000_i64;
    while started.elapsed() < duration && written < max_rows {
        connection.execute_batch("BEGIN IMMEDIATE")?;
        {
            // Intake's own statement: the same columns, the inbox's derived
            // ones (merchant, priority, due dates) written by the insert.
            let mut complaint = connection.prepare_cached(INSERT_COMPLAINT)?;
            let mut idempotency = connection.prepare_cached(
                "INSERT INTO idempotency_keys
                 (site_id, key_hash, request_hash, complaint_id, wrapped_token, created_at)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            )?;
            // Every bench complaint carries a proof of work, which intake
            // spends in the complaint's transaction: its salt is 32 hex
            // characters, the time it was issued and the time it expires.
            let mut proof = connection
                .prepare_cached("INSERT INTO spent_proofs (salt, expires_at) VALUES (?1, ?2)")?;
            for _ in 0..batch {
                let (submission, outcomes, answers) = &rows[(written % rows.len() as u64) as usize];
                let contact = submission.contact.as_ref();
                let at = created_at + written as i64;
                complaint.execute(params![
                    1,
                    reference(written),
                    random.bytes32(),
                    submission.category,
                    submission.category,
                    None::<String>,
                    false,
                    submission.description,
                    submission.remedy,
                    outcomes,
                    submission.severity.map(|severity| severity.as_str()),
                    submission.mood.map(|mood| mood.as_str()),
                    submission.language,
                    submission.page_url,
                    submission.user_agent,
                    answers,
                    contact.and_then(|contact| contact.name.as_deref()),
                    contact.and_then(|contact| contact.email.as_deref()),
                    contact.and_then(|contact| contact.phone.as_deref()),
                    at,
                    "complaint",
                    None::<String>,
                    None::<String>,
                    false,
                    None::<String>,
                    None::<i64>,
                    None::<i64>,
                    None::<i64>,
                ])?;
                let id = connection.last_insert_rowid();
                let issued = at / 1000;
                let expires = issued + CHALLENGE_LIFETIME_SECONDS;
                let salt = format!("{}.{issued}.{expires}", hex(&random.bytes32()[..16]));
                proof.execute(params![salt, expires])?;
                idempotency.execute(params![
                    random.bytes32(),
                    random.bytes32(),
                    id,
                    random.bytes32(),
                    at
                ])?;
                if let Some(email) = contact.and_then(|contact| contact.email.as_deref())
                    && queues_mail
                {
                    connection
                        .prepare_cached(
                            "INSERT INTO mail_queue
                             (complaint_id, kind, recipient, status_url, next_attempt_at, created_at)
                             VALUES (?1, 'acknowledgement', ?2, ?3, ?4, ?4)",
                        )?
                        .execute(params![id, email, status_url(&mut random), at])?;
                }
                written += 1;
            }
        }
        connection.execute_batch("COMMIT")?;
        transactions += 1;
    }
    let elapsed = started.elapsed();
    Ok(Some(RawSummary {
        rows: written,
        transactions,
        elapsed,
    }))
}

/// The trigger that files a new complaint for the inbox, and the statement
/// in it that adds the complaint's text to the full-text index.
const INBOX_TRIGGER: &str = "complaints_inbox_insert";
const SEARCH_INSERT: &str = "INSERT INTO complaint_text";

/// Recreates the inbox trigger without its full-text insert, to measure what
/// the search index costs. False when the schema has no such statement.
fn drop_search_insert(connection: &Connection) -> anyhow::Result<bool> {
    let sql: Option<String> = connection
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
            [INBOX_TRIGGER],
            |row| row.get(0),
        )
        .ok();
    let Some(sql) = sql else { return Ok(false) };
    let Some(without) = without_statement(&sql, SEARCH_INSERT) else {
        return Ok(false);
    };
    connection.execute_batch(&format!("DROP TRIGGER {INBOX_TRIGGER}; {without};"))?;
    Ok(true)
}

/// `sql` without the statement that starts with `start` (up to its `;`).
fn without_statement(sql: &str, start: &str) -> Option<String> {
    let begin = sql.find(start)?;
    let end = begin + sql[begin..].find(';')? + 1;
    Some(format!("{}{}", &sql[..begin], &sql[end..]))
}

/// How long one durable commit of one small row takes on this disk (WAL,
/// `synchronous=FULL`): the floor under every acknowledgement, and the
/// figure group commit spreads over a batch. `count` commits, sorted.
pub fn commit_latencies(path: &Path, count: usize) -> anyhow::Result<Vec<Duration>> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection
        .execute_batch("CREATE TABLE commits (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)")?;
    let mut insert = connection.prepare("INSERT INTO commits (at) VALUES (?1)")?;
    let mut latencies = Vec::with_capacity(count);
    for number in 0..count {
        let started = Instant::now();
        insert.execute([number as i64])?;
        latencies.push(started.elapsed());
    }
    latencies.sort_unstable();
    Ok(latencies)
}

/// A status link as the acknowledgement email carries it.
fn status_url(random: &mut Random) -> String {
    format!("http://127.0.0.1:8080/r/{}", hex(&random.bytes32()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A unique, random-looking receipt reference for row `number`: multiplying
/// by an odd constant is a bijection modulo 2^40, so references never collide
/// yet land all over the unique index, as random ones do.
fn reference(number: u64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut value = number.wrapping_mul(0x9E37_79B9_7F4B) & ((1 << 40) - 1);
    let mut letters = [0u8; 8];
    for letter in letters.iter_mut().rev() {
        *letter = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    let letters = String::from_utf8_lossy(&letters);
    format!("HRD-{}-{}", &letters[..4], &letters[4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loop writes what intake writes: the inbox's derived columns,
    /// the `received` event, the idempotency row, the spent proof.
    #[test]
    fn the_loop_writes_the_rows_intake_writes() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("raw.sqlite3");
        let mut random = Random::new(7);
        let submissions: Vec<_> = (0..20)
            .map(|_| crate::bodies::submission(&mut random))
            .collect();
        let summary = insert_loop(&path, &submissions, 8, Duration::from_secs(60), 24, false)
            .unwrap()
            .unwrap();
        assert_eq!((summary.rows, summary.transactions), (24, 3));
        let connection = Connection::open(&path).unwrap();
        let (rows, filed, received, keys, proofs): (i64, i64, i64, i64, i64) = connection
            .query_row(
                "SELECT count(*),
                        count(*) FILTER (WHERE merchant_id = 1 AND priority IS NOT NULL
                            AND first_response_due_at > created_at
                            AND resolution_due_at >= first_response_due_at
                            AND updated_at = created_at),
                        (SELECT count(*) FROM complaint_events WHERE kind = 'received'),
                        (SELECT count(*) FROM idempotency_keys),
                        (SELECT count(*) FROM spent_proofs WHERE length(salt) > 32)
                 FROM complaints",
                [],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!((rows, filed, received, keys, proofs), (24, 24, 24, 24, 24));
    }

    #[test]
    fn a_statement_is_cut_out_of_a_trigger() {
        let trigger = "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 1; \
                       INSERT INTO complaint_text (b) VALUES (concat_ws(char(10), NEW.b)); END";
        assert_eq!(
            without_statement(trigger, SEARCH_INSERT).as_deref(),
            Some("CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 1;  END")
        );
        assert_eq!(
            without_statement("BEGIN SELECT 1; END", SEARCH_INSERT),
            None
        );
    }

    #[test]
    fn references_are_unique_and_shaped_like_receipts() {
        let references: std::collections::HashSet<String> = (0..10_000).map(reference).collect();
        assert_eq!(references.len(), 10_000);
        let one = reference(1);
        assert_eq!(one.len(), 13);
        assert!(one.starts_with("HRD-"));
    }
}
