//! How every connection is opened: WAL, full durability, foreign keys.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// How long a connection waits for a lock before giving up.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The one read-write connection, owned by the writer thread.
pub(super) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "could not enable WAL mode (got {mode})"
        )));
    }
    // FULL: a commit is on disk before the writer reports it, so a receipt is
    // never shown for a complaint that a power cut could still take back.
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted text is overwritten, not left in free pages: a shopper's
    // deletion must really remove their words from the file.
    connection.pragma_update(None, "secure_delete", "ON")?;
    // Once the WAL restarts from its start, a file grown past the writer's
    // bound during a flood is cut back to it (`writer.rs`, "The WAL's
    // bound").
    connection.pragma_update(None, "journal_size_limit", super::writer::WAL_LIMIT)?;
    Ok(connection)
}

/// A read-only connection for queries that run beside the writer.
///
/// Its page cache stays SQLite's default (2 000 KiB per database, the
/// attached search index too) and memory-mapped I/O stays off, on purpose:
/// mapped pages of the database would count in the collector's resident
/// memory, reads through the OS page cache do not; and in WAL mode a
/// reader's cache is dropped whenever the database changed since its last
/// read, which under intake is nearly every read, so a larger cache would
/// buy little. At most [`super::readers::READERS`] such connections exist;
/// what bounds the collector's memory under load is described in
/// BENCHMARKS.md, "Footprint".
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

/// True for SQLite's "busy" and "locked" answers.
pub(super) fn is_lock_error(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl StoreError {
    /// True when the database stayed locked by another process (or a
    /// connection outside the writer) longer than [`BUSY_TIMEOUT`]: nothing
    /// was written, and trying again later is the right answer, not a 500.
    pub fn is_locked(&self) -> bool {
        match self {
            StoreError::Sqlite(error) => is_lock_error(error),
            StoreError::Locked => true,
            _ => false,
        }
    }
}

/// SQLite's own ceiling for `max_page_count`: no limit in practice.
const NO_PAGE_LIMIT: u64 = 0xFFFF_FFFE;

impl super::Store {
    /// Caps the database at `bytes` (whole pages, never below its current
    /// size), or lifts the cap with `None`; answers the cap now in force, in
    /// bytes. Writes beyond it fail with [`StoreError::Full`] and store
    /// nothing, as on a full disk, which is how tests make one.
    pub async fn limit_size(&self, bytes: Option<u64>) -> Result<u64, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                let page_size: i64 =
                    connection.query_row("PRAGMA page_size", [], |row| row.get(0))?;
                let page_size = u64::try_from(page_size).unwrap_or(4096).max(1);
                let pages = bytes.map_or(NO_PAGE_LIMIT, |bytes| (bytes / page_size).max(1));
                let in_force: i64 = connection.query_row(
                    &format!("PRAGMA max_page_count = {pages}"),
                    [],
                    |row| row.get(0),
                )?;
                Ok(u64::try_from(in_force).unwrap_or(0) * page_size)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use heard_shared::SiteConfig;

    use crate::store::test_support::temp_store;
    use crate::store::{NewSite, StoreError};

    fn site(number: usize) -> NewSite {
        let key = format!("site-{number:05}");
        NewSite {
            merchant: "Filler".to_owned(),
            // Long names fill pages quickly.
            name: format!("{key} {}", "x".repeat(2_000)),
            config: SiteConfig::with_defaults(&key, "Filler"),
            key,
            allowed_origins: vec!["https://shop.example".to_owned()],
        }
    }

    /// The options `.cargo/config.toml` gives the bundled SQLite's build:
    /// neither a global mutex around every allocation (memory statistics)
    /// nor one around every page fetched (shared page caches), which the
    /// background threads' idle scheduling class depends on
    /// (`store/priority.rs`).
    #[test]
    fn sqlite_is_built_without_the_process_wide_locks() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        let options: Vec<String> = connection
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|option| option == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options
                .iter()
                .any(|option| option == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|option| option == "ENABLE_FTS5"),
            "{options:?}"
        );
    }

    #[tokio::test]
    async fn a_full_database_refuses_writes_keeps_what_it_acknowledged_and_recovers() {
        let temp = temp_store();
        let store = &temp.store;
        let size = store.limit_size(Some(0)).await.unwrap();
        store.limit_size(Some(size + 512 * 1024)).await.unwrap();

        // Many writers at once, so refusals land inside shared batches
        // (where SQLite may roll back the whole transaction).
        let mut acknowledged = BTreeSet::new();
        let mut refused = BTreeSet::new();
        let mut number = 0;
        while refused.len() < 50 {
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let store = store.clone();
                let this = number;
                number += 1;
                tasks.push(tokio::spawn(async move {
                    (this, store.add_site(site(this)).await)
                }));
            }
            for task in tasks {
                match task.await.unwrap() {
                    (this, Ok(_)) => {
                        acknowledged.insert(format!("site-{this:05}"));
                    }
                    (this, Err(StoreError::Full)) => {
                        refused.insert(format!("site-{this:05}"));
                    }
                    (this, Err(other)) => panic!("site {this}: {other}"),
                }
            }
            assert!(number < 2_000, "the limit never bit");
        }
        assert!(!acknowledged.is_empty());

        // Exactly what was acknowledged is there; nothing refused is.
        let stored: BTreeSet<String> = store
            .sites()
            .await
            .unwrap()
            .into_iter()
            .map(|site| site.key)
            .filter(|key| key.starts_with("site-"))
            .collect();
        assert_eq!(stored, acknowledged);
        let path = temp.directory.path().join("heard.sqlite3");
        let check = rusqlite::Connection::open(&path).unwrap();
        let integrity: String = check
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");

        // Space returns: writes succeed again, with no restart.
        store.limit_size(None).await.unwrap();
        let again = refused.iter().next().unwrap().clone();
        let number: usize = again.trim_start_matches("site-").parse().unwrap();
        store.add_site(site(number)).await.unwrap();
        assert!(store.site_by_key(&again).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_write_lock_held_elsewhere_is_reported_as_locked_and_stores_nothing() {
        let temp = temp_store();
        let store = &temp.store;
        let path = temp.directory.path().join("heard.sqlite3");
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();

        // Waits out the busy timeout, then fails as "locked", which HTTP
        // answers with 503.
        let error = store.add_site(site(1)).await.unwrap_err();
        assert!(error.is_locked(), "{error:?}");
        assert!(!StoreError::Full.is_locked());
        assert!(!StoreError::Task("something else".to_owned()).is_locked());

        other.execute_batch("ROLLBACK").unwrap();
        assert!(store.site_by_key("site-00001").await.unwrap().is_none());
        store.add_site(site(1)).await.unwrap();
        assert!(store.site_by_key("site-00001").await.unwrap().is_some());
    }
}
