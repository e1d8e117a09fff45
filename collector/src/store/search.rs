//! The full-text search index: derived data in its own SQLite file next to
//! the database (`<database>-search`), kept by one indexer thread.
//!
//! Tokenizing text with the trigram tokenizer costs about three quarters of
//! a complaint's write time, so it is kept off the writer thread, which
//! must answer receipts. The writer commits complaints and replies; the
//! indexer, woken after those commits (and every second in case a wake was
//! missed), waits a moment for more commits ([`GATHER`]), reads what is
//! new from the database — everything above its high-water marks — and
//! indexes it in batches, in its own transactions on its own file: under a
//! flood, a hundred complaints and more a transaction, because each
//! transaction of an FTS5 index writes a segment.
//!
//! Indexing is catch-up work that no answer waits on, so the thread runs at
//! a lower priority (`priority::lower_this_thread`): under a flood the
//! acknowledgements get the cores, the indexer falls behind and then
//! indexes the backlog in full batches (fewer, larger segments), right
//! after. It reads a batch from the database in pieces ([`PIECE_BYTES`]),
//! ending each read before indexing it, so an indexer that waits for a
//! core never holds a snapshot of the database. FTS5's automatic merging
//! is off in this index: segments are merged when the indexer has nothing
//! to index ([`merge_while_idle`]), a level at a time, and at once only
//! when a level reaches [`CRISIS_MERGE`] segments — so a flood pays for
//! writing its segments, not for merging them again and again while it
//! lasts.
//!
//! Because the index is derived, it needs no durability of its own: after
//! a crash the indexer continues from the marks stored with the index, and
//! a missing or stale file is rebuilt from scratch.
//!
//! A document's rowid says whose it is: the complaint's id shifted left by
//! [`DOC_SHIFT`] bits, plus 0 for the complaint's own text (description,
//! remedy, answers) and 1, 2, … for its replies and notes. Search reads the
//! file through `ATTACH` on the reader connection (see [`attach`]) and
//! joins `rowid >> DOC_SHIFT` to the complaint's id — from the index alone,
//! never reading a document's text — so the merchant filter stays in the
//! same SQL as before.
//!
//! A shopper's deletion writes a `search_forget` row in its own transaction
//! ([`forget`]); the indexer removes that complaint's documents with
//! `secure_delete` and truncates the index's WAL, and the store waits for
//! it before the deletion is answered.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::watch;

use super::{Store, StoreError};

/// Documents indexed per transaction of the index file.
#[cfg(not(test))]
const BATCH: i64 = 2_000;
/// Small in tests, so that their few complaints take several batches.
#[cfg(test)]
const BATCH: i64 = 4;

/// How long the indexer sleeps when nobody wakes it: a wake missed by a
/// write path that does not ring still gets indexed within this.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How long a wake waits for more commits before indexing, unless someone
/// waits for the index (`Store::search_caught_up`): a complaint is
/// searchable this much later, and a flood is indexed in transactions of a
/// hundred complaints and more instead of one or two.
const GATHER: Duration = Duration::from_millis(100);

/// Bumped when the index's layout changes: an index file of another version
/// is deleted and rebuilt.
const INDEX_VERSION: i64 = 3;

/// Bits of a document's rowid below its complaint's id: room for the
/// complaint's own text and 65 535 replies and notes.
pub(super) const DOC_SHIFT: u32 = 16;
const DOCS_PER_COMPLAINT: i64 = 1 << DOC_SHIFT;

/// The index's own schema. `marks` holds the high-water marks: the last
/// complaint id, reply event id and `search_forget` id handled.
const INDEX_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS marks (
        what  TEXT PRIMARY KEY,
        high  INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO marks (what, high) VALUES ('complaint', 0), ('event', 0), ('forget', 0);
    CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(
        body,
        tokenize = 'trigram'
    );
    INSERT INTO search_text (search_text, rank) VALUES ('secure-delete', 1);
    CREATE VIRTUAL TABLE IF NOT EXISTS search_grams USING fts5(
        grams,
        tokenize = 'unicode61 remove_diacritics 0'
    );
    INSERT INTO search_grams (search_grams, rank) VALUES ('secure-delete', 1);
";

/// The last complaint indexed, by id and reference: a database restored from
/// another copy may reach the same ids with other complaints, and this is
/// how the indexer tells.
const LINEAGE_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS lineage (
        complaint_id  INTEGER PRIMARY KEY,
        reference     TEXT NOT NULL
    );
";

/// The event kinds whose body is searchable.
const SEARCHABLE_EVENTS: &str = "('public_reply', 'internal_note', 'shopper_reply')";

/// How far the index has got: every complaint, reply event and deletion up
/// to these ids is reflected in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchMarks {
    pub complaint: i64,
    pub event: i64,
    pub forget: i64,
}

impl SearchMarks {
    fn covers(&self, target: &SearchMarks) -> bool {
        self.complaint >= target.complaint
            && self.event >= target.event
            && self.forget >= target.forget
    }
}

/// The index file of the database at `database`.
pub(super) fn index_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-search");
    PathBuf::from(name)
}

/// Records, inside the deletion's transaction, that the complaint's
/// documents must leave the index.
pub(super) fn forget(connection: &Connection, complaint_id: i64) -> Result<(), StoreError> {
    connection
        .prepare_cached("INSERT INTO search_forget (complaint_id) VALUES (?1)")?
        .execute([complaint_id])?;
    Ok(())
}

/// Makes the index readable as `search.search_text` on a reader connection
/// (once per connection).
pub(super) fn attach(connection: &Connection) -> Result<(), StoreError> {
    let attached: i64 = connection.query_row(
        "SELECT count(*) FROM pragma_database_list WHERE name = 'search'",
        [],
        |row| row.get(0),
    )?;
    if attached == 0 {
        let database = connection
            .path()
            .filter(|path| !path.is_empty())
            .ok_or_else(|| StoreError::Task("the search index needs a database file".to_owned()))?;
        let index = index_path(Path::new(database));
        connection.execute(
            "ATTACH DATABASE ?1 AS search",
            [index.to_string_lossy().as_ref()],
        )?;
    }
    Ok(())
}

/// Matches below which a search term counts as rare: sorting this many
/// complaints costs less than walking a merchant's list looking for them.
const FEW_MATCHES: i64 = 5_000;

/// Whether one of `terms` (of three characters or more, or one or two CJK
/// letters) has fewer than
/// [`FEW_MATCHES`] documents; counted from the index alone and stopped at
/// the bound, so it costs little even for a common word.
pub(super) fn few_matches(connection: &Connection, terms: &[String]) -> Result<bool, StoreError> {
    for term in terms {
        let table = if term.chars().count() >= 3 {
            "search_text"
        } else if is_short_cjk(term) {
            "search_grams"
        } else {
            continue;
        };
        let matches: i64 = connection
            .prepare_cached(&format!(
                "SELECT count(*) FROM (SELECT rowid FROM search.{table}
                 WHERE {table} MATCH ?1 LIMIT ?2)"
            ))?
            .query_row(params![phrase(term), FEW_MATCHES], |row| row.get(0))?;
        if matches < FEW_MATCHES {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A term as an FTS5 phrase: the whole term, quotes doubled.
pub(super) fn phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// Of the newest [`RECENT_COMPLAINTS`] complaints' documents, those
/// matching all the terms at once from which the list looks for a search's
/// page by walking its complaints in order and checking each (see
/// [`walked_matches`]), instead of finding every match first: a common
/// word ("refund": 356 000 documents of 1.4 million) costs about 100 ms to
/// enumerate, each time it is used, and the page needs only a few dozen.
/// Three in a hundred complaints: a walk of [`WALK_CANDIDATES`] then
/// finds a page.
#[cfg(not(test))]
const MANY_RECENT_MATCHES: i64 = 300;
/// Small in tests, so that their few complaints are walked too.
#[cfg(test)]
const MANY_RECENT_MATCHES: i64 = 2;

/// The newest complaints whose documents tell how common the terms are:
/// counting every match of a common word to decide costs what finding them
/// costs (30 ms to count 30 000), counting among the newest ten thousand
/// complaints a millisecond, and a walk meets the newest complaints first.
#[cfg(not(test))]
const RECENT_COMPLAINTS: i64 = 10_000;
/// Every complaint in tests.
#[cfg(test)]
const RECENT_COMPLAINTS: i64 = 1 << 40;

/// Candidates a walked part of the list checks at most. Checking one costs
/// one small FTS query (tens of microseconds); a walk that needs more than
/// this is given up, and the page is found from the matches instead.
#[cfg(not(test))]
pub(super) const WALK_CANDIDATES: i64 = 1_000;
/// Small in tests, so that walks are also cut short and given up.
#[cfg(test)]
pub(super) const WALK_CANDIDATES: i64 = 8;

/// Whether the list should walk for `terms`: every term of three characters
/// or more, and documents holding all of them together number at least
/// [`MANY_RECENT_MATCHES`] among the newest [`RECENT_COMPLAINTS`]
/// complaints' (counted from the index, stopped at the bound). Terms found
/// together in one document are found together in its complaint, so this
/// never overstates how common a match is; whatever it says, a walk that
/// does not find its page is given up, so the results never depend on it.
pub(super) fn common_terms(connection: &Connection, terms: &[String]) -> Result<bool, StoreError> {
    if terms.is_empty() || terms.iter().any(|term| term.chars().count() < 3) {
        return Ok(false);
    }
    attach(connection)?;
    let newest: Option<i64> = connection
        .prepare_cached("SELECT rowid FROM search.search_text ORDER BY rowid DESC LIMIT 1")?
        .query_row([], |row| row.get(0))
        .optional()?;
    let Some(newest) = newest else {
        return Ok(false);
    };
    let first_recent = ((newest >> DOC_SHIFT) - RECENT_COMPLAINTS + 1).max(0) << DOC_SHIFT;
    let all: Vec<String> = terms.iter().map(|term| phrase(term)).collect();
    let matches: i64 = connection
        .prepare_cached(
            "SELECT count(*) FROM (SELECT rowid FROM search.search_text
             WHERE search_text MATCH ?1 AND rowid >= ?2 LIMIT ?3)",
        )?
        .query_row(
            params![all.join(" AND "), first_recent, MANY_RECENT_MATCHES],
            |row| row.get(0),
        )?;
    Ok(matches >= MANY_RECENT_MATCHES)
}

/// SQL that is true when the complaint whose id is the SQL `id` has a
/// document matching each phrase parameter of `phrases` (terms of three
/// characters or more): rowid-range queries of the index, which FTS5
/// answers by seeking, not by enumerating the term's matches.
///
/// A phrase costs one seek per trigram (seven for "reembolso"), and in a
/// walk most candidates fail. So each term's first trigram is checked
/// first, one seek each: a document matching the phrase holds its first
/// trigram, so a candidate without it fails for certain, and only the few
/// that hold every first trigram are checked for the whole phrases.
pub(super) fn walked_matches(phrases: &[String], id: &str) -> String {
    if phrases.is_empty() {
        return "1".to_owned();
    }
    let within = |query: &str| {
        format!(
            "EXISTS (SELECT 1 FROM search.search_text WHERE search_text MATCH {query}
                 AND rowid BETWEEN ({id} << {DOC_SHIFT}) AND ({id} << {DOC_SHIFT}) + {last})",
            last = DOCS_PER_COMPLAINT - 1
        )
    };
    let first_trigrams = phrases.iter().map(|phrase| within(&first_trigram(phrase)));
    let whole = phrases.iter().map(|phrase| within(phrase));
    first_trigrams
        .chain(whole)
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// SQL for the phrase of the first three characters of the phrase
/// parameter `phrase` (a [`phrase`]: its quotes undone, three characters
/// taken, quoted again). A constant of the statement, computed once.
fn first_trigram(phrase: &str) -> String {
    format!(
        r#"('"' || replace(substr(replace(substr({phrase}, 2, length({phrase}) - 2), '""', '"'), 1, 3), '"', '""') || '"')"#
    )
}

/// Whether a walk over `candidates` (SQL ending in `LIMIT`
/// [`WALK_CANDIDATES`], its parameters among `values`) stopped before the
/// end of them.
pub(super) fn walk_was_cut(
    connection: &Connection,
    candidates: &str,
    values: &[rusqlite::types::Value],
) -> Result<bool, StoreError> {
    // Naming the last parameter binds them all, used or not.
    let last = values.len();
    let seen: i64 = connection
        .prepare(&format!(
            "SELECT count(*) FROM ({candidates}) WHERE ?{last} IS ?{last}"
        ))?
        .query_row(rusqlite::params_from_iter(values), |row| row.get(0))?;
    Ok(seen >= WALK_CANDIDATES)
}

/// The indexer thread and how to reach it.
pub(super) struct Indexer {
    shared: Arc<Shared>,
    marks: watch::Receiver<SearchMarks>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    signal: Mutex<Signal>,
    ring: Condvar,
}

#[derive(Default)]
struct Signal {
    woken: bool,
    /// Someone waits for the index (`Indexer::reach`): no gathering.
    hurry: bool,
    stop: bool,
}

impl Indexer {
    /// Opens (or rebuilds) the index next to `database` and starts the
    /// thread, which catches up with everything already committed.
    pub(super) fn start(database: &Path) -> Result<Indexer, StoreError> {
        let source = open_source(database)?;
        let index = open_index(&index_path(database), &source)?;
        let (publish, marks) = watch::channel(read_marks(&index)?);
        let shared = Arc::new(Shared {
            signal: Mutex::new(Signal {
                woken: true,
                hurry: true,
                stop: false,
            }),
            ring: Condvar::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("heard-indexer".to_owned())
                .spawn(move || {
                    // Indexing is catch-up work nobody's answer waits on
                    // (search may lag; the list never does): a flood's
                    // acknowledgements come first, indexing right after.
                    super::priority::lower_this_thread();
                    run(&source, &index, &shared, &publish)
                })
                .map_err(|error| StoreError::Task(error.to_string()))?
        };
        Ok(Indexer {
            shared,
            marks,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Asks the indexer to look for new work now.
    pub(super) fn wake(&self) {
        if let Ok(mut signal) = self.shared.signal.lock() {
            signal.woken = true;
        }
        self.shared.ring.notify_one();
    }

    /// The marks the index has reached.
    pub(super) fn marks(&self) -> SearchMarks {
        *self.marks.borrow()
    }

    /// Wakes the indexer without letting it gather and waits until its
    /// marks cover `target`.
    pub(super) async fn reach(&self, target: SearchMarks) -> Result<SearchMarks, StoreError> {
        if let Ok(mut signal) = self.shared.signal.lock() {
            signal.woken = true;
            signal.hurry = true;
        }
        self.shared.ring.notify_one();
        let mut marks = self.marks.clone();
        let reached = marks
            .wait_for(|marks| marks.covers(&target))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(*reached)
    }

    /// Finishes the batch in hand and ends the thread.
    pub(super) async fn shutdown(&self) {
        if let Ok(mut signal) = self.shared.signal.lock() {
            signal.stop = true;
        }
        self.shared.ring.notify_one();
        let thread = self.thread.lock().ok().and_then(|mut thread| thread.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Store {
    /// Waits until the search index holds everything committed before this
    /// call: complaints, replies and notes, and deletions. Search may miss a
    /// complaint for the moments between its receipt and its indexing; this
    /// is how a caller (a test, the bench) waits that out.
    pub async fn search_caught_up(&self) -> Result<SearchMarks, StoreError> {
        let target = self.read(committed_marks).await?;
        self.inner.search.reach(target).await
    }

    /// Waits until the search index has removed the words of every
    /// complaint deleted or anonymised before this call, without waiting
    /// for the complaints and replies committed meanwhile: the indexer
    /// handles deletions before its backlog.
    pub async fn search_forgotten(&self) -> Result<SearchMarks, StoreError> {
        let committed = self.read(committed_marks).await?;
        let target = SearchMarks {
            forget: committed.forget,
            ..SearchMarks::default()
        };
        self.inner.search.reach(target).await
    }

    /// How far the search index has got.
    pub fn search_marks(&self) -> SearchMarks {
        self.inner.search.marks()
    }
}

/// The highest ids committed in the database that the index must reach.
fn committed_marks(connection: &Connection) -> Result<SearchMarks, StoreError> {
    Ok(connection.query_row(
        "SELECT (SELECT coalesce(max(id), 0) FROM complaints),
                (SELECT coalesce(max(id), 0) FROM complaint_events),
                (SELECT coalesce(max(id), 0) FROM search_forget)",
        [],
        |row| {
            Ok(SearchMarks {
                complaint: row.get(0)?,
                event: row.get(1)?,
                forget: row.get(2)?,
            })
        },
    )?)
}

/// The indexer's read-only view of the database.
fn open_source(database: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(database, flags)?;
    connection.busy_timeout(Duration::from_secs(5))?;
    Ok(connection)
}

/// Opens the index file, rebuilding it when it is of another version, does
/// not open, or is ahead of the database (a restored backup).
fn open_index(path: &Path, source: &Connection) -> Result<Connection, StoreError> {
    match open_index_as_is(path) {
        Ok(index) => {
            let committed = committed_marks(source)?;
            let marks = read_marks(&index)?;
            let version: i64 = index.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            if version == INDEX_VERSION
                && marks.complaint <= committed.complaint
                && marks.event <= committed.event
                && marks.forget <= committed.forget
                && same_lineage(&index, source)?
            {
                return Ok(index);
            }
            tracing::warn!("the search index does not match the database; rebuilding it");
            drop(index);
        }
        Err(error) => {
            tracing::warn!(%error, "the search index cannot be opened; rebuilding it");
        }
    }
    remove_index_files(path)?;
    open_index_as_is(path)
}

/// Whether the last complaint the index holds is the database's complaint of
/// that id.
fn same_lineage(index: &Connection, source: &Connection) -> Result<bool, StoreError> {
    let last: Option<(i64, String)> = index
        .query_row("SELECT complaint_id, reference FROM lineage", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let Some((id, reference)) = last else {
        return Ok(true);
    };
    let found: Option<String> = source
        .query_row(
            "SELECT reference FROM complaints WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()?;
    Ok(found.as_deref() == Some(reference.as_str()))
}

fn open_index_as_is(path: &Path) -> Result<Connection, StoreError> {
    let index = Connection::open(path)?;
    index.busy_timeout(Duration::from_secs(5))?;
    let mode: String =
        index.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "could not enable WAL mode for the search index (got {mode})"
        )));
    }
    // NORMAL: a crash may lose the last batches, never corrupt the file;
    // what is lost is indexed again from the marks.
    index.pragma_update(None, "synchronous", "NORMAL")?;
    // A deleted complaint's words are overwritten, not left in free pages.
    index.pragma_update(None, "secure_delete", "ON")?;
    let version: i64 = index.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == 0 {
        index.execute_batch(INDEX_SCHEMA)?;
        index.pragma_update(None, "user_version", INDEX_VERSION)?;
    }
    index.execute_batch(LINEAGE_SCHEMA)?;
    for table in TABLES {
        set_option(&index, table, "automerge", 0)?;
        set_option(&index, table, "crisismerge", CRISIS_MERGE)?;
    }
    Ok(index)
}

/// The index's two FTS5 tables.
const TABLES: [&str; 2] = ["search_text", "search_grams"];

/// Segments on one level at which FTS5 merges that level at once, inside the
/// transaction that wrote the last of them: the bound on segments while the
/// indexer is never idle (a flood). FTS5's own default is 16; fewer keeps a
/// search during a flood cheaper (each term is looked up in every segment).
const CRISIS_MERGE: i64 = 8;

/// Sets an FTS5 option of `table` (stored in the index file) when it has
/// another value, so that an unchanged index is not written at each start.
fn set_option(index: &Connection, table: &str, option: &str, value: i64) -> Result<(), StoreError> {
    let current: Option<i64> = index
        .query_row(
            &format!("SELECT v FROM {table}_config WHERE k = ?1"),
            [option],
            |row| row.get(0),
        )
        .optional()?;
    if current != Some(value) {
        index.execute(
            &format!("INSERT INTO {table} ({table}, rank) VALUES (?1, ?2)"),
            params![option, value],
        )?;
    }
    Ok(())
}

fn remove_index_files(path: &Path) -> Result<(), StoreError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(PathBuf::from(name)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(StoreError::Task(format!(
                    "removing the search index: {error}"
                )));
            }
        }
    }
    Ok(())
}

fn read_marks(index: &Connection) -> Result<SearchMarks, StoreError> {
    let mut marks = SearchMarks::default();
    let mut statement = index.prepare_cached("SELECT what, high FROM marks")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let high: i64 = row.get(1)?;
        match row.get_ref(0)?.as_str().unwrap_or_default() {
            "complaint" => marks.complaint = high,
            "event" => marks.event = high,
            "forget" => marks.forget = high,
            _ => {}
        }
    }
    Ok(marks)
}

fn run(
    source: &Connection,
    index: &Connection,
    shared: &Shared,
    publish: &watch::Sender<SearchMarks>,
) {
    loop {
        {
            let Ok(mut signal) = shared.signal.lock() else {
                return;
            };
            if signal.stop {
                return;
            }
            if !signal.woken {
                signal = match shared.ring.wait_timeout(signal, IDLE_POLL) {
                    Ok((signal, _)) => signal,
                    Err(_) => return,
                };
                if signal.stop {
                    return;
                }
            }
            // A commit's wake gathers what the next moments commit too, so
            // a flood is indexed many complaints per transaction of the
            // index, not one or two: each transaction writes a new segment
            // and merges segments, whatever it holds.
            let gathered_until = Instant::now() + GATHER;
            while signal.woken && !signal.hurry && !signal.stop {
                let left = gathered_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                signal = match shared.ring.wait_timeout(signal, left) {
                    Ok((signal, _)) => signal,
                    Err(_) => return,
                };
            }
            if signal.stop {
                return;
            }
            signal.woken = false;
            signal.hurry = false;
        }
        // Work until nothing is left, so a flood is indexed in full batches
        // and a stop request is seen between batches. A long catch-up (a
        // rebuild) publishes its marks only once its segments are merged,
        // so whoever waits for it searches the merged index.
        let mut batches = 0;
        loop {
            match step(source, index) {
                Ok(Some(marks)) => {
                    batches += 1;
                    if batches < TIDY_AFTER_BATCHES {
                        publish.send_replace(marks);
                    }
                    if shared
                        .signal
                        .lock()
                        .map(|signal| signal.stop)
                        .unwrap_or(true)
                    {
                        return;
                    }
                }
                Ok(None) => {
                    if batches >= TIDY_AFTER_BATCHES
                        && let Err(error) = tidy(index)
                    {
                        tracing::warn!(%error, "merging the search index's segments failed");
                    }
                    if let Ok(marks) = read_marks(index) {
                        publish.send_replace(marks);
                    }
                    if let Err(error) = merge_while_idle(index, shared) {
                        tracing::warn!(%error, "merging the search index's segments failed");
                    }
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, "indexing for search failed; retrying");
                    let _ = index.execute_batch("ROLLBACK");
                    break;
                }
            }
        }
    }
}

/// Segments of the index above which [`tidy`] merges them into one.
const MAX_SEGMENTS: i64 = 8;

/// Batches in one catch-up after which the indexer tidies the index: a
/// rebuild, or a backlog of 100 000 documents, not the few documents of
/// each wake in normal running, whose small segments FTS5's own automatic
/// merging keeps few (merging all into one rewrites the whole index).
#[cfg(not(test))]
const TIDY_AFTER_BATCHES: usize = 50;
/// One in tests, so that their small indexes are tidied too.
#[cfg(test)]
const TIDY_AFTER_BATCHES: usize = 1;

/// Merges the index into one segment when it has more than
/// [`MAX_SEGMENTS`]. Each search term is looked up in every segment, so a
/// check of one complaint (a walk of the list, `walked_matches`) costs
/// about 200 µs over the 21 segments a rebuild of a million complaints
/// leaves, and 30 µs over one. Runs when a long catch-up ends (after a
/// rebuild: about 30 s at a million complaints).
fn tidy(index: &Connection) -> Result<(), StoreError> {
    for table in ["search_text", "search_grams"] {
        let segments: i64 = index.query_row(
            &format!("SELECT count(DISTINCT segid) FROM {table}_idx"),
            [],
            |row| row.get(0),
        )?;
        if segments > MAX_SEGMENTS {
            index.execute(
                &format!("INSERT INTO {table} ({table}) VALUES ('optimize')"),
                [],
            )?;
            // The old segments' pages must not linger in the WAL either.
            checkpoint(index)?;
        }
    }
    Ok(())
}

/// Pages of merge work one transaction of [`merge_while_idle`] writes per
/// table (FTS5 leaf pages of about 1 000 bytes): some tens of milliseconds,
/// so new commits wait at most that long for the indexer.
#[cfg(not(test))]
const MERGE_PAGES: i64 = 1_000;
/// Small in tests, so that their small indexes take several transactions.
#[cfg(test)]
const MERGE_PAGES: i64 = 16;

/// Merges the index's segments while the indexer has nothing to index,
/// in transactions of [`MERGE_PAGES`], until no level of either table holds
/// `usermerge` (FTS5's default: 4) segments or more, or until a commit
/// wakes the indexer or a stop is asked for; a merge left halfway is
/// continued at the next idle moment (FTS5 keeps its state in the index).
///
/// FTS5's automatic merging (`automerge`) is off in this index: it merged
/// a little after every transaction, so under a flood every batch paid for
/// merging the batches before it, again and again as levels filled. Here a
/// flood's batches only write segments (bounded by [`CRISIS_MERGE`] a
/// level), and their merging waits until the flood has been indexed, then
/// merges each level in one pass, which writes each document fewer times.
/// `Ok(true)` when it merged anything.
fn merge_while_idle(index: &Connection, shared: &Shared) -> Result<bool, StoreError> {
    let mut merged_any = false;
    loop {
        let mut merged = false;
        for table in TABLES {
            let before = index.total_changes();
            index
                .prepare_cached(&format!(
                    "INSERT INTO {table} ({table}, rank) VALUES ('merge', ?1)"
                ))?
                .execute([MERGE_PAGES])?;
            // FTS5's documented test: fewer than two changes, no merge work.
            merged |= index.total_changes() - before >= 2;
        }
        if !merged {
            return Ok(merged_any);
        }
        merged_any = true;
        let interrupted = shared
            .signal
            .lock()
            .map(|signal| signal.woken || signal.stop)
            .unwrap_or(true);
        if interrupted {
            return Ok(merged_any);
        }
    }
}

/// One batch, in one transaction of the index: deletions, new complaints,
/// and — once those are caught up — new replies and notes. `None`
/// when there was nothing to do.
fn step(source: &Connection, index: &Connection) -> Result<Option<SearchMarks>, StoreError> {
    // The marks are read inside the index's write lock, so two processes on
    // the same database (the server and a command-line tool) never index the
    // same rows twice.
    index.execute_batch("BEGIN IMMEDIATE")?;
    let mut marks = read_marks(index)?;
    // Deletions first: a shopper's deletion is answered once its words have
    // left the index (`Store::search_forgotten`), and a backlog of new
    // complaints (a flood, which this low-priority thread indexes late)
    // must not hold it up. Nothing is lost by the order: the deletion's
    // transaction erased the text (a shopper's deletion also marks the
    // complaint deleted, which indexing skips), so a complaint or reply
    // indexed after its removal has no words left.
    let forgotten = remove_forgotten(source, index, marks.forget)?;
    if let Some(high) = forgotten.high {
        marks.forget = high;
        set_mark(index, "forget", high)?;
    }
    let mut writer = DocumentWriter::new(index)?;
    let complaints = index_complaints(source, index, &mut writer, marks.complaint)?;
    if let Some(high) = complaints.high {
        marks.complaint = high;
        set_mark(index, "complaint", high)?;
    }
    let mut events = Batch::default();
    if !complaints.full {
        events = index_events(source, index, &mut writer, marks.event)?;
        if let Some(high) = events.high {
            marks.event = high;
            set_mark(index, "event", high)?;
        }
    }
    drop(writer);
    index.execute_batch("COMMIT")?;
    if forgotten.high.is_some() {
        // The removed words must not linger in the index's WAL either.
        checkpoint(index)?;
    }
    let done = complaints.high.is_none() && events.high.is_none() && forgotten.high.is_none();
    Ok(if done { None } else { Some(marks) })
}

/// What one kind of batch read: the highest id, if any, and whether it
/// read [`BATCH`] rows (so more may wait).
#[derive(Default)]
struct Batch {
    high: Option<i64>,
    full: bool,
}

fn set_mark(index: &Connection, what: &str, high: i64) -> Result<(), StoreError> {
    index
        .prepare_cached("UPDATE marks SET high = ?2 WHERE what = ?1")?
        .execute(params![what, high])?;
    Ok(())
}

/// Indexes the complaints after `after`.
fn index_complaints(
    source: &Connection,
    index: &Connection,
    writer: &mut DocumentWriter<'_>,
    after: i64,
) -> Result<Batch, StoreError> {
    let mut batch = Batch::default();
    let mut count = 0;
    let mut last_reference = String::new();
    loop {
        let piece = read_piece(
            source,
            "SELECT id, deleted_at IS NULL, concat_ws(char(10), description, remedy,
                    (SELECT group_concat(value, char(10)) FROM json_each(answers))),
                    reference
             FROM complaints WHERE id > ?1 ORDER BY id LIMIT ?2",
            batch.high.unwrap_or(after),
            BATCH - count,
            |row| {
                // A complaint deleted before it was indexed has no words to index.
                let kept: bool = row.get(1)?;
                let body: Option<String> = if kept { row.get(2)? } else { None };
                let reference: String = row.get(3)?;
                Ok((body, reference))
            },
        )?;
        for (id, (body, _)) in &piece.rows {
            if let Some(body) = body {
                writer.insert(id << DOC_SHIFT, body)?;
            }
        }
        if let Some((id, (_, reference))) = piece.rows.last() {
            batch.high = Some(*id);
            last_reference.clone_from(reference);
        }
        count += piece.rows.len() as i64;
        if !piece.more || count == BATCH {
            break;
        }
    }
    if let Some(high) = batch.high {
        index
            .prepare_cached(
                "INSERT OR REPLACE INTO lineage (complaint_id, reference) VALUES (?1, ?2)",
            )?
            .execute(params![high, last_reference])?;
        index
            .prepare_cached("DELETE FROM lineage WHERE complaint_id <> ?1")?
            .execute([high])?;
    }
    batch.full = count == BATCH;
    Ok(batch)
}

/// Text read from the main database per piece of a batch, at most (plus
/// one row): the piece is read, its read transaction ended, and only then
/// indexed. This thread runs at a lower priority (`priority.rs`), so under
/// a flood it may wait long for a core between two steps; a read
/// transaction open meanwhile would keep the main database's WAL from
/// being checkpointed past its snapshot.
#[cfg(not(test))]
const PIECE_BYTES: usize = 256 << 10;
/// A few rows in tests, so that their batches are read in several pieces.
#[cfg(test)]
const PIECE_BYTES: usize = 200;

/// Rows of a piece: each row's id and what `row` made of it; `more` when
/// the piece was cut at [`PIECE_BYTES`] before `limit` rows.
struct Piece<T> {
    rows: Vec<(i64, T)>,
    more: bool,
}

/// Reads rows by `sql` (id first; `?1` the id to start after, `?2` the
/// most rows) until `limit` rows or [`PIECE_BYTES`] of their text.
fn read_piece<T: Measured>(
    source: &Connection,
    sql: &str,
    after: i64,
    limit: i64,
    mut row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Piece<T>, StoreError> {
    let mut statement = source.prepare_cached(sql)?;
    let mut rows = statement.query(params![after, limit])?;
    let mut piece = Piece {
        rows: Vec::new(),
        more: false,
    };
    let mut bytes = 0;
    while let Some(next) = rows.next()? {
        let value = row(next)?;
        bytes += value.text_len();
        piece.rows.push((next.get(0)?, value));
        if bytes >= PIECE_BYTES {
            piece.more = (piece.rows.len() as i64) < limit;
            break;
        }
    }
    Ok(piece)
}

/// The size of a row's text, for [`read_piece`]'s budget.
trait Measured {
    fn text_len(&self) -> usize;
}

impl<T> Measured for (Option<String>, T) {
    fn text_len(&self) -> usize {
        self.0.as_ref().map_or(0, String::len)
    }
}

/// Writes documents into the index: its text for the trigram index, and
/// its Chinese, Japanese and Korean characters and pairs of neighbours (if
/// any) for terms of one or two of them, which trigrams cannot find. Holds
/// its statements and its grams buffer for a whole batch.
struct DocumentWriter<'index> {
    text: rusqlite::CachedStatement<'index>,
    grams: rusqlite::CachedStatement<'index>,
    buffer: String,
}

impl<'index> DocumentWriter<'index> {
    fn new(index: &'index Connection) -> Result<Self, StoreError> {
        Ok(DocumentWriter {
            text: index.prepare_cached("INSERT INTO search_text (rowid, body) VALUES (?1, ?2)")?,
            grams: index
                .prepare_cached("INSERT INTO search_grams (rowid, grams) VALUES (?1, ?2)")?,
            buffer: String::new(),
        })
    }

    fn insert(&mut self, rowid: i64, body: &str) -> Result<(), StoreError> {
        self.text.execute(params![rowid, body])?;
        // Most text has no CJK letter at all: ASCII is checked at a glance.
        if body.is_ascii() {
            return Ok(());
        }
        self.buffer.clear();
        push_cjk_grams(&mut self.buffer, body);
        if !self.buffer.is_empty() {
            self.grams.execute(params![rowid, self.buffer])?;
        }
        Ok(())
    }
}

/// Indexes one document (see [`DocumentWriter`]).
#[cfg(test)]
fn insert_document(index: &Connection, rowid: i64, body: &str) -> Result<(), StoreError> {
    DocumentWriter::new(index)?.insert(rowid, body)
}

/// Whether `character` is a Chinese, Japanese or Korean letter: Han
/// ideographs, kana and Hangul, all of which FTS5's `unicode61` tokenizer
/// keeps inside tokens (they are letters to Unicode).
pub(super) fn is_cjk(character: char) -> bool {
    matches!(character as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF
        | 0x3041..=0x3096 | 0x309D..=0x309F
        | 0x30A1..=0x30FA | 0x30FC..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9D
        | 0xAC00..=0xD7A3 | 0x1100..=0x11FF | 0x3131..=0x318E)
}

/// Every CJK letter of `text` and every pair of neighbouring ones, as
/// words separated by spaces: "发货太慢" gives "发 发货 货 货太 太 太慢 慢".
/// A term of one or two CJK letters is then one token of this text.
#[cfg(test)]
fn cjk_grams(text: &str) -> String {
    let mut grams = String::new();
    push_cjk_grams(&mut grams, text);
    grams
}

/// [`cjk_grams`] appended to `grams`.
fn push_cjk_grams(grams: &mut String, text: &str) {
    let mut previous: Option<char> = None;
    for character in text.chars() {
        if !is_cjk(character) {
            previous = None;
            continue;
        }
        if let Some(before) = previous {
            grams.push(before);
            grams.push(character);
            grams.push(' ');
        }
        grams.push(character);
        grams.push(' ');
        previous = Some(character);
    }
}

/// A term the grams index answers: one or two CJK letters.
pub(super) fn is_short_cjk(term: &str) -> bool {
    let count = term.chars().count();
    (1..=2).contains(&count) && term.chars().all(is_cjk)
}

/// Indexes replies and notes after event `after`; the highest id read.
fn index_events(
    source: &Connection,
    index: &Connection,
    writer: &mut DocumentWriter<'_>,
    after: i64,
) -> Result<Batch, StoreError> {
    // The next free rowid among the complaint's documents.
    let mut next = index.prepare_cached(
        "SELECT coalesce(max(rowid) + 1, ?1 + 1) FROM search_text WHERE rowid BETWEEN ?1 AND ?2",
    )?;
    let mut batch = Batch::default();
    let mut count = 0;
    loop {
        let piece = read_piece(
            source,
            &format!(
                "SELECT e.id,
                        CASE WHEN e.kind IN {SEARCHABLE_EVENTS} AND c.deleted_at IS NULL THEN e.body END,
                        e.complaint_id
                 FROM complaint_events e JOIN complaints c ON c.id = e.complaint_id
                 WHERE e.id > ?1 ORDER BY e.id LIMIT ?2"
            ),
            batch.high.unwrap_or(after),
            BATCH - count,
            |row| Ok((row.get::<_, Option<String>>(1)?, row.get::<_, i64>(2)?)),
        )?;
        for (id, (body, complaint_id)) in &piece.rows {
            let Some(body) = body else { continue };
            let first = complaint_id << DOC_SHIFT;
            let rowid: i64 = next
                .query_row(params![first, first + DOCS_PER_COMPLAINT - 1], |row| {
                    row.get(0)
                })?;
            if rowid < first + DOCS_PER_COMPLAINT {
                writer.insert(rowid, body)?;
            } else {
                tracing::warn!(
                    event = id,
                    "a complaint has too many replies to index them all"
                );
            }
        }
        if let Some((id, _)) = piece.rows.last() {
            batch.high = Some(*id);
        }
        count += piece.rows.len() as i64;
        if !piece.more || count == BATCH {
            break;
        }
    }
    batch.full = count == BATCH;
    Ok(batch)
}

/// Removes every document of the complaints deleted after `after`.
fn remove_forgotten(
    source: &Connection,
    index: &Connection,
    after: i64,
) -> Result<Batch, StoreError> {
    let forgotten: Vec<(i64, i64)> = source
        .prepare_cached(
            "SELECT id, complaint_id FROM search_forget WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?
        .query_map(params![after, BATCH], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut remove =
        index.prepare_cached("DELETE FROM search_text WHERE rowid BETWEEN ?1 AND ?2")?;
    let mut remove_grams =
        index.prepare_cached("DELETE FROM search_grams WHERE rowid BETWEEN ?1 AND ?2")?;
    for (_, complaint_id) in &forgotten {
        let first = complaint_id << DOC_SHIFT;
        remove.execute(params![first, first + DOCS_PER_COMPLAINT - 1])?;
        remove_grams.execute(params![first, first + DOCS_PER_COMPLAINT - 1])?;
    }
    Ok(Batch {
        high: forgotten.last().map(|(id, _)| *id),
        full: forgotten.len() as i64 == BATCH,
    })
}

/// Truncates the index's WAL, retrying while a reader is in the middle of
/// a query.
fn checkpoint(index: &Connection) -> Result<(), StoreError> {
    for _ in 0..50 {
        let busy: i64 = index.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(StoreError::Task(
        "the search index's WAL checkpoint stayed busy".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::inbox_fixtures::{START, complaint, record, site};
    use crate::store::test_support::temp_store;
    use heard_shared::Severity;

    use crate::store::{InboxAction, InboxFilter};

    async fn search(store: &Store, merchant: i64, query: &str) -> Vec<String> {
        let filter = InboxFilter {
            terms: query.split_whitespace().map(str::to_owned).collect(),
            ..InboxFilter::default()
        };
        let page = store
            .inbox(merchant, filter, None, 50, START)
            .await
            .unwrap();
        page.rows.into_iter().map(|row| row.reference).collect()
    }

    fn index_documents(database: &Path) -> i64 {
        let index = Connection::open(index_path(database)).unwrap();
        index
            .query_row("SELECT count(*) FROM search_text", [], |row| row.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn the_indexer_catches_up_after_commits_and_reports_its_marks() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (other, foreign) = site(store, "Other", "other").await;
        let kettle = record(
            store,
            complaint(shop, START, "The kettle whistles 豆浆机坏了"),
        )
        .await;
        record(
            store,
            complaint(foreign, START, "Another kettle 豆浆机坏了"),
        )
        .await;

        let marks = store.search_caught_up().await.unwrap();
        assert!(marks.complaint >= 2, "{marks:?}");
        assert_eq!(store.search_marks(), marks);
        assert_eq!(
            search(store, merchant, "kettle").await,
            std::slice::from_ref(&kettle)
        );
        assert_eq!(
            search(store, merchant, "豆浆机").await,
            std::slice::from_ref(&kettle)
        );
        assert_eq!(
            search(store, merchant, "坏了").await,
            std::slice::from_ref(&kettle)
        );
        assert_eq!(search(store, other, "whistles").await, Vec::<String>::new());

        // Staff replies and notes are indexed too, after their own commit.
        store
            .inbox_act(
                merchant,
                1,
                &kettle,
                InboxAction::Note("配達が遅い".to_owned()),
                START,
            )
            .await
            .unwrap();
        let later = store.search_caught_up().await.unwrap();
        assert!(later.event > marks.event);
        assert_eq!(search(store, merchant, "配達が遅い").await, [kettle]);
    }

    /// Every page of `filter`, following the cursor, walked or not.
    fn all_pages(
        connection: &Connection,
        merchant: i64,
        filter: &InboxFilter,
        walk: bool,
    ) -> Vec<Option<Vec<String>>> {
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page =
                crate::store::inbox::list_with(connection, merchant, filter, START, after, 3, walk)
                    .unwrap();
            let Some(page) = page else {
                pages.push(None);
                return pages;
            };
            pages.push(Some(
                page.rows.iter().map(|row| row.reference.clone()).collect(),
            ));
            match page.next {
                Some(next) => after = Some(next),
                None => return pages,
            }
        }
    }

    #[tokio::test]
    async fn walking_the_list_for_common_terms_finds_the_pages_every_match_gives() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let (_, foreign) = site(store, "Other", "other").await;
        // Open and finished complaints of every priority; every third
        // mentions the kettle, and the other merchant's kettles never count.
        let mut references = Vec::new();
        for number in 0..30_i64 {
            let text = if number % 3 == 0 {
                format!("Kettle number{number} leaks")
            } else {
                format!("Toaster number{number} burns")
            };
            let mut new = complaint(shop, START - number * 3_600_000, &text);
            new.urgent = number % 7 == 0;
            new.severity =
                Some([Severity::Serious, Severity::Inconvenience][(number % 2) as usize]);
            references.push(record(store, new).await);
            record(store, complaint(foreign, START, "Kettle elsewhere")).await;
        }
        let finished: Vec<String> = references.iter().skip(1).step_by(2).cloned().collect();
        store
            .inner
            .writer
            .run(move |connection| {
                for reference in &finished {
                    connection.execute(
                        "UPDATE complaints SET status = 'resolved' WHERE reference = ?1",
                        [reference],
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
        store.search_caught_up().await.unwrap();

        let filter = |terms: &[&str]| InboxFilter {
            terms: terms.iter().map(|term| (*term).to_owned()).collect(),
            ..InboxFilter::default()
        };
        let (kettle, both, toaster, numbered) = store
            .read(move |connection| {
                attach(connection)?;
                let compare = |terms: &[&str]| {
                    let walked = all_pages(connection, merchant, &filter(terms), true);
                    let found = all_pages(connection, merchant, &filter(terms), false);
                    (walked, found)
                };
                Ok((
                    compare(&["kettle"]),
                    compare(&["kettle", "leaks"]),
                    compare(&["toaster"]),
                    // Every candidate holds "num" (the first trigram, checked
                    // first), few hold "number1".
                    compare(&["number1", "kettle"]),
                ))
            })
            .await
            .unwrap();
        for (walked, found) in [&kettle, &both, &toaster, &numbered] {
            assert!(found.iter().all(Option::is_some), "{found:?}");
            // A walk either gives the page that finding every match gives,
            // or gives up (the list then finds the matches).
            for (walked, found) in walked.iter().zip(found) {
                if let Some(walked) = walked {
                    assert_eq!(Some(walked), found.as_ref());
                }
            }
        }
        let pages =
            |pages: &[Option<Vec<String>>]| -> usize { pages.iter().flatten().map(Vec::len).sum() };
        assert_eq!(pages(&kettle.1), 10);
        assert_eq!(pages(&both.1), 10);
        assert_eq!(pages(&toaster.1), 20);
        assert_eq!(pages(&numbered.1), 3);
        // The toaster is in two of three candidates: walking finds its first
        // page; the kettle, in one of three, is given up on within eight.
        assert!(toaster.0[0].is_some());
        assert!(kettle.0.iter().any(Option::is_none), "{kettle:?}");
        // Through the store, every page is the one every match gives.
        let through_store = search(store, merchant, "kettle").await;
        assert_eq!(through_store.len(), 10);
    }

    #[test]
    fn the_first_trigram_of_a_phrase_is_its_first_three_characters_quoted() {
        let connection = Connection::open_in_memory().unwrap();
        for term in [
            "pedido",
            "a\"bcd",
            "\"\"\"x",
            "ab\"",
            "坏了吗啊",
            "Ñandú",
            "abc",
        ] {
            let trigram: String = connection
                .query_row(
                    &format!("SELECT {}", first_trigram("?1")),
                    [phrase(term)],
                    |row| row.get(0),
                )
                .unwrap();
            let first: String = term.chars().take(3).collect();
            assert_eq!(trigram, phrase(&first), "{term}");
        }
    }

    #[test]
    fn cjk_letters_and_their_neighbours_become_words() {
        assert_eq!(cjk_grams("发货太慢"), "发 发货 货 货太 太 太慢 慢 ");
        assert_eq!(
            cjk_grams("Kettle 坏了! 配達が"),
            "坏 坏了 了 配 配達 達 達が が "
        );
        assert_eq!(cjk_grams("한국 no"), "한 한국 국 ");
        assert!(cjk_grams("plain text, ٣٤").is_empty());
        assert!(is_short_cjk("退款") && is_short_cjk("坏") && is_short_cjk("遅い"));
        assert!(!is_short_cjk("退款了") && !is_short_cjk("a退") && !is_short_cjk("ab"));
    }

    #[tokio::test]
    async fn short_cjk_terms_find_what_a_substring_scan_finds() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let texts = [
            "豆浆机用了三次就坏了",
            "退款还没到账，坏透了",
            "配達が遅いです",
            "배송이 너무 늦어요",
            "Refund 退 款 split by spaces",
            "ｶﾀｶﾅ halfwidth",
        ];
        for text in texts {
            record(store, complaint(shop, START, text)).await;
        }
        let replied = record(store, complaint(shop, START, "No CJK here")).await;
        store
            .inbox_act(
                merchant,
                1,
                &replied,
                InboxAction::Note("已经退款".to_owned()),
                START,
            )
            .await
            .unwrap();
        store.search_caught_up().await.unwrap();
        for term in [
            "坏", "坏了", "退款", "退", "遅い", "배송", "늦", "ｶﾀ", "款s", "了，",
        ] {
            let pattern = format!("%{term}%");
            let mut scanned: Vec<String> = store
                .read(move |connection| {
                    attach(connection)?;
                    let mut statement = connection.prepare(
                        "SELECT DISTINCT c.reference FROM search.search_text t
                         JOIN complaints c ON c.id = t.rowid >> 16 WHERE t.body LIKE ?1",
                    )?;
                    let references = statement
                        .query_map([pattern], |row| row.get(0))?
                        .collect::<Result<Vec<String>, _>>()?;
                    Ok(references)
                })
                .await
                .unwrap();
            let mut found = search(store, merchant, term).await;
            scanned.sort();
            found.sort();
            assert_eq!(found, scanned, "{term}");
        }
        assert_eq!(search(store, merchant, "退款").await.len(), 2);
    }

    #[test]
    fn tidying_merges_many_segments_into_one_and_keeps_every_document() {
        let directory = tempfile::tempdir().unwrap();
        let index = open_index_as_is(&directory.path().join("heard.sqlite3-search")).unwrap();
        let segments = |index: &Connection| -> i64 {
            index
                .query_row(
                    "SELECT count(DISTINCT segid) FROM search_text_idx",
                    [],
                    |row| row.get(0),
                )
                .unwrap()
        };
        // One segment per transaction, none merged on the way (automatic
        // merging is off in this index; crisis merging too, here).
        for table in TABLES {
            set_option(&index, table, "crisismerge", 64).unwrap();
        }
        for number in 0..12_i64 {
            insert_document(
                &index,
                number << DOC_SHIFT,
                &format!("kettle {number} 坏了"),
            )
            .unwrap();
        }
        assert_eq!(segments(&index), 12);
        tidy(&index).unwrap();
        assert_eq!(segments(&index), 1);
        assert_eq!(found(&index, "search_text", "kettle"), 12);
        assert_eq!(found(&index, "search_grams", "坏了"), 12);
    }

    /// Documents of `table` that match `term` as a phrase.
    fn found(index: &Connection, table: &str, term: &str) -> i64 {
        index
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE {table} MATCH ?1"),
                [phrase(term)],
                |row| row.get(0),
            )
            .unwrap()
    }

    /// Segments of `table`.
    fn segments_of(index: &Connection, table: &str) -> i64 {
        index
            .query_row(
                &format!("SELECT count(DISTINCT segid) FROM {table}_idx"),
                [],
                |row| row.get(0),
            )
            .unwrap()
    }

    fn idle_signal() -> Shared {
        Shared {
            signal: Mutex::new(Signal::default()),
            ring: Condvar::new(),
        }
    }

    #[test]
    fn batches_only_write_segments_and_idle_moments_merge_them() {
        let directory = tempfile::tempdir().unwrap();
        let index = open_index_as_is(&directory.path().join("heard.sqlite3-search")).unwrap();
        for table in TABLES {
            let automerge: i64 = index
                .query_row(
                    &format!("SELECT v FROM {table}_config WHERE k = 'automerge'"),
                    [],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(automerge, 0, "{table}");
        }
        // A flood: one transaction per batch, each a segment; FTS5's
        // automatic merging would have merged four of them already.
        let batch = |first: i64| {
            index.execute_batch("BEGIN").unwrap();
            for number in first..first + 3 {
                insert_document(
                    &index,
                    number << DOC_SHIFT,
                    &format!("kettle number{number} 坏了"),
                )
                .unwrap();
            }
            index.execute_batch("COMMIT").unwrap();
        };
        for first in (0..21).step_by(3) {
            batch(first);
        }
        assert_eq!(segments_of(&index, "search_text"), 7);
        assert_eq!(segments_of(&index, "search_grams"), 7);
        // At CRISIS_MERGE segments a level is merged at once, so a flood
        // that never leaves the indexer idle still keeps segments few.
        batch(21);
        assert!(segments_of(&index, "search_text") < CRISIS_MERGE);

        // Idle: both tables merged; a second idle moment has nothing left.
        for table in TABLES {
            set_option(&index, table, "crisismerge", 64).unwrap();
        }
        for first in (24..45).step_by(3) {
            batch(first);
        }
        let before = segments_of(&index, "search_text");
        assert!(before >= 7, "{before}");
        assert!(merge_while_idle(&index, &idle_signal()).unwrap());
        for table in TABLES {
            assert!(segments_of(&index, table) < 4, "{table}");
        }
        assert!(!merge_while_idle(&index, &idle_signal()).unwrap());
        assert_eq!(found(&index, "search_text", "kettle"), 45);
        assert_eq!(found(&index, "search_text", "number17"), 1);
        assert_eq!(found(&index, "search_grams", "坏了"), 45);
    }

    #[test]
    fn a_wake_interrupts_merging_after_one_transaction() {
        let directory = tempfile::tempdir().unwrap();
        let index = open_index_as_is(&directory.path().join("heard.sqlite3-search")).unwrap();
        // More than one transaction of merging (MERGE_PAGES) can finish.
        for table in TABLES {
            set_option(&index, table, "crisismerge", 64).unwrap();
        }
        // Letters a simple generator draws: thousands of distinct trigrams.
        let mut state: u64 = 1;
        let mut letters = |count: usize| -> String {
            (0..count)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    char::from(b'a' + ((state >> 33) % 26) as u8)
                })
                .collect()
        };
        for number in 0..8_i64 {
            insert_document(&index, number << DOC_SHIFT, &letters(2_000)).unwrap();
        }
        assert_eq!(segments_of(&index, "search_text"), 8);
        let woken = idle_signal();
        woken.signal.lock().unwrap().woken = true;
        let pages = |index: &Connection| -> i64 {
            index
                .query_row("SELECT count(*) FROM search_text_data", [], |row| {
                    row.get(0)
                })
                .unwrap()
        };
        let before = pages(&index);
        assert!(merge_while_idle(&index, &woken).unwrap());
        // Merging began (one transaction) and stopped for the wake.
        assert!(segments_of(&index, "search_text") > 1);
        assert!(pages(&index) > before);
        assert!(merge_while_idle(&index, &idle_signal()).unwrap());
        assert_eq!(segments_of(&index, "search_text"), 1);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_indexer_thread_yields_to_intake() {
        let temp = temp_store();
        temp.store.search_caught_up().await.unwrap();
        // Every store of the tests running at once has its indexer; this
        // one has run its loop, so at least it has lowered its priority.
        let nice = |stat: &str| -> i32 {
            let fields = stat.rsplit_once(')').unwrap().1;
            fields.split_whitespace().nth(16).unwrap().parse().unwrap()
        };
        let own = nice(&std::fs::read_to_string("/proc/thread-self/stat").unwrap());
        let lowered = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|name| name.trim() == "heard-indexer")
            })
            .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
            .filter(|stat| nice(stat) >= crate::store::priority::BACKGROUND_NICE.max(own))
            .count();
        assert!(lowered >= 1);
    }

    #[tokio::test]
    async fn a_lost_or_stale_index_is_rebuilt_from_the_database() {
        let temp = temp_store();
        let path = temp.directory.path().join("heard.sqlite3");
        let (merchant, shop) = site(&temp.store, "Acme", "shop").await;
        let mut references = Vec::new();
        for number in 0..5 {
            let text = format!("Blender number{number} sparks");
            references.push(record(&temp.store, complaint(shop, START, &text)).await);
        }
        temp.store.search_caught_up().await.unwrap();
        temp.store.shutdown().await;
        assert_eq!(index_documents(&path), 5);

        // Lost: the file is gone; the next start builds it again.
        remove_index_files(&index_path(&path)).unwrap();
        let store = Store::open(&path, 8, 64).unwrap();
        store.search_caught_up().await.unwrap();
        assert_eq!(
            search(&store, merchant, "number3").await,
            std::slice::from_ref(&references[3])
        );
        store.shutdown().await;

        // Stale: an index ahead of the database (as after restoring an older
        // backup) would answer with complaints that are not there.
        let index = Connection::open(index_path(&path)).unwrap();
        index
            .execute("UPDATE marks SET high = 1000 WHERE what = 'complaint'", [])
            .unwrap();
        drop(index);
        let store = Store::open(&path, 8, 64).unwrap();
        let marks = store.search_caught_up().await.unwrap();
        assert!(marks.complaint < 1000, "{marks:?}");
        assert_eq!(search(&store, merchant, "sparks").await.len(), 5);
        store.shutdown().await;
        assert_eq!(index_documents(&path), 5);

        // Another copy of the database, with the same ids but other
        // complaints: the index's words belong to neither.
        let index = Connection::open(index_path(&path)).unwrap();
        index
            .execute(
                "INSERT INTO search_text (rowid, body) VALUES ((1 << 16) + 999, 'phantom words')",
                [],
            )
            .unwrap();
        drop(index);
        let database = Connection::open(&path).unwrap();
        database
            .execute(
                "UPDATE complaints SET reference = 'HRD-ZZZZ-ZZZZ'
                 WHERE id = (SELECT max(id) FROM complaints)",
                [],
            )
            .unwrap();
        drop(database);
        let store = Store::open(&path, 8, 64).unwrap();
        store.search_caught_up().await.unwrap();
        assert!(search(&store, merchant, "phantom").await.is_empty());
        assert_eq!(search(&store, merchant, "sparks").await.len(), 5);
        store.shutdown().await;
    }

    #[tokio::test]
    async fn deletions_are_removed_before_a_backlog_is_indexed() {
        let temp = temp_store();
        let path = temp.directory.path().join("heard.sqlite3");
        let (merchant, shop) = site(&temp.store, "Acme", "shop").await;
        let mut doomed = complaint(shop, START, "Toaster MARKER-Zk4 burnt");
        doomed.token_hash = [42; 32];
        record(&temp.store, doomed).await;
        for number in 0..(3 * BATCH) {
            let text = format!("Kettle number{number} leaks");
            record(&temp.store, complaint(shop, START, &text)).await;
        }
        assert!(temp.store.delete_complaint([42; 32], START).await.unwrap());
        temp.store.shutdown().await;

        // The index lost: every complaint is a backlog, and a deletion waits.
        remove_index_files(&index_path(&path)).unwrap();
        let source = open_source(&path).unwrap();
        let index = open_index(&index_path(&path), &source).unwrap();
        let first = step(&source, &index).unwrap().unwrap();
        assert_eq!(first.forget, 1, "{first:?}");
        assert_eq!(first.complaint, BATCH, "{first:?}");
        while step(&source, &index).unwrap().is_some() {}
        let marker: i64 = index
            .query_row(
                "SELECT count(*) FROM search_text WHERE body LIKE '%MARKER-Zk4%'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(marker, 0);
        drop((source, index));

        let store = Store::open(&path, 8, 64).unwrap();
        store.search_caught_up().await.unwrap();
        assert!(search(&store, merchant, "MARKER-Zk4").await.is_empty());
        assert_eq!(
            search(&store, merchant, "kettle").await.len() as i64,
            3 * BATCH
        );
        store.shutdown().await;
    }

    #[tokio::test]
    async fn a_deleted_complaint_leaves_the_index() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, shop) = site(store, "Acme", "shop").await;
        let mut doomed = complaint(shop, START, "Toaster MARKER-Qx7 burnt");
        doomed.token_hash = [42; 32];
        let reference = record(store, doomed).await;
        store
            .inbox_act(
                merchant,
                1,
                &reference,
                InboxAction::Reply("Sorry MARKER-Qx7".to_owned()),
                START,
            )
            .await
            .unwrap();
        store.search_caught_up().await.unwrap();
        assert_eq!(search(store, merchant, "MARKER-Qx7").await, [reference]);

        assert!(store.delete_complaint([42; 32], START).await.unwrap());
        // Answered only once the index has forgotten it.
        assert!(search(store, merchant, "MARKER-Qx7").await.is_empty());
        let index =
            Connection::open(index_path(&temp.directory.path().join("heard.sqlite3"))).unwrap();
        let left: i64 = index
            .query_row(
                "SELECT count(*) FROM search_text WHERE body LIKE '%MARKER-Qx7%'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }
}
