//! Backups and restores of the one database file.
//!
//! **A backup is a consistent copy taken while the collector runs**: `VACUUM
//! INTO` on a connection that only reads, so it sees one snapshot (every
//! complaint committed before it started, none half-written) and never
//! blocks the writer, which keeps appending to the WAL meanwhile. The copy is
//! written beside its destination, checked with `PRAGMA integrity_check`,
//! synced, and only then renamed into place: a file at the destination is
//! always a whole, checked backup. Photos live in the same file, so one copy
//! holds everything.
//!
//! **A restore needs the collector stopped.** It refuses while any other
//! connection has the database open (it cannot take SQLite's exclusive
//! lock), checks the copy before touching anything, and keeps the database
//! it replaces beside it (`….before-restore-{time}`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::migrations::latest_version;

/// How long a restore waits for the database lock before calling it in use.
const LOCK_WAIT: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; choose a new file name (backups are never overwritten)")]
    DestinationExists(PathBuf),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error(
        "the database is in use: stop the collector (and any other program using {0}) before restoring"
    )]
    InUse(PathBuf),
    #[error("{path} failed its integrity check: {detail}")]
    Damaged { path: PathBuf, detail: String },
    #[error("{path} has schema version {found}, newer than this collector knows ({known})")]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a checked database file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub schema_version: usize,
    pub complaints: i64,
    pub bytes: u64,
}

/// Copies the database at `database` to `destination` (a new file) while
/// the collector may be running, and checks the copy.
pub fn backup(database: &Path, destination: &Path) -> Result<Summary, BackupError> {
    if !database.is_file() {
        return Err(BackupError::Missing(database.to_owned()));
    }
    if destination.exists() {
        return Err(BackupError::DestinationExists(destination.to_owned()));
    }
    let partial = sibling(destination, ".partial");
    remove_if_present(&partial)?;
    let result = copy_checked(database, &partial).and_then(|summary| {
        sync(&partial)?;
        if destination.exists() {
            return Err(BackupError::DestinationExists(destination.to_owned()));
        }
        std::fs::rename(&partial, destination).map_err(io("renaming", &partial))?;
        sync_directory(destination)?;
        Ok(summary)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Replaces the database at `database` with the backup `from`, after
/// checking it; the replaced database is kept beside it under a name ending
/// in `.before-restore-{label}`, which is returned with the summary.
pub fn restore(
    database: &Path,
    from: &Path,
    label: &str,
) -> Result<(Summary, Option<PathBuf>), BackupError> {
    if !from.is_file() {
        return Err(BackupError::Missing(from.to_owned()));
    }
    // Check the copy first, read-only: nothing changes if it is bad.
    let summary = check(&open_read_only(from)?, from)?;

    let staged = sibling(database, ".restoring");
    remove_if_present(&staged)?;
    let result = std::fs::copy(from, &staged)
        .map_err(io("copying to", &staged))
        .and_then(|_| sync(&staged))
        .and_then(|()| replace(database, &staged, label));
    if result.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    Ok((summary, result?))
}

/// Puts `staged` in the place of `database`, keeping the old one aside.
fn replace(database: &Path, staged: &Path, label: &str) -> Result<Option<PathBuf>, BackupError> {
    let kept = if database.exists() {
        let kept = sibling(database, &format!(".before-restore-{label}"));
        if kept.exists() {
            return Err(BackupError::DestinationExists(kept));
        }
        // Hold SQLite's exclusive lock while the file is set aside: a
        // running collector (any open connection) makes this fail.
        let lock = lock_exclusively(database)?;
        // Fold the WAL into the file, so the kept copy is complete alone.
        lock.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        std::fs::rename(database, &kept).map_err(io("setting aside", database))?;
        for suffix in ["-wal", "-shm"] {
            let companion = sibling(database, suffix);
            if companion.exists() {
                std::fs::rename(&companion, sibling(&kept, suffix))
                    .map_err(io("setting aside", &companion))?;
            }
        }
        std::fs::rename(staged, database).map_err(io("renaming", staged))?;
        drop(lock);
        Some(kept)
    } else {
        std::fs::rename(staged, database).map_err(io("renaming", staged))?;
        None
    };
    // The search index is derived from the database it sat beside; the
    // indexer builds a fresh one for the restored database on the next start.
    for suffix in ["-search", "-search-wal", "-search-shm"] {
        remove_if_present(&sibling(database, suffix))?;
    }
    sync_directory(database)?;
    Ok(kept)
}

/// Checks a database file: integrity, and a schema this build knows.
pub fn verify(path: &Path) -> Result<Summary, BackupError> {
    if !path.is_file() {
        return Err(BackupError::Missing(path.to_owned()));
    }
    check(&open_read_only(path)?, path)
}

fn copy_checked(database: &Path, partial: &Path) -> Result<Summary, BackupError> {
    // A read-only connection: VACUUM INTO reads one snapshot of this file
    // and writes the other.
    let source = open_read_only(database)?;
    source.busy_timeout(Duration::from_secs(5))?;
    let target = partial
        .to_str()
        .ok_or_else(|| BackupError::Io {
            action: "naming",
            path: partial.to_owned(),
            source: std::io::Error::other("the path is not valid UTF-8"),
        })?
        .to_owned();
    source.execute("VACUUM INTO ?1", [target])?;
    drop(source);
    check(&open_read_only(partial)?, partial)
}

fn check(connection: &Connection, path: &Path) -> Result<Summary, BackupError> {
    let damaged = |detail: String| BackupError::Damaged {
        path: path.to_owned(),
        detail,
    };
    let mut statement = connection
        .prepare("PRAGMA integrity_check")
        .map_err(|error| damaged(error.to_string()))?;
    let problems: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|error| damaged(error.to_string()))?;
    if problems != ["ok"] {
        return Err(damaged(problems.join("; ")));
    }
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let schema_version = usize::try_from(version).unwrap_or(0);
    if schema_version > latest_version() {
        return Err(BackupError::TooNew {
            path: path.to_owned(),
            found: schema_version,
            known: latest_version(),
        });
    }
    if schema_version == 0 {
        return Err(damaged("it holds no Heard schema".to_owned()));
    }
    let complaints =
        connection.query_row("SELECT count(*) FROM complaints", [], |row| row.get(0))?;
    let bytes = std::fs::metadata(path).map_err(io("reading", path))?.len();
    Ok(Summary {
        schema_version,
        complaints,
        bytes,
    })
}

fn open_read_only(path: &Path) -> Result<Connection, BackupError> {
    Ok(Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?)
}

/// A connection holding the database's exclusive lock until dropped.
fn lock_exclusively(database: &Path) -> Result<Connection, BackupError> {
    let connection = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(LOCK_WAIT)?;
    let locked = connection
        .pragma_update(None, "locking_mode", "EXCLUSIVE")
        .and_then(|()| connection.execute_batch("BEGIN EXCLUSIVE; COMMIT"));
    match locked {
        Ok(()) => Ok(connection),
        Err(error) if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
            Err(BackupError::InUse(database.to_owned()))
        }
        Err(error) => Err(error.into()),
    }
}

/// `path` with `suffix` added to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

fn remove_if_present(path: &Path) -> Result<(), BackupError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(io("removing", path)(error))
        }
        _ => Ok(()),
    }
}

fn sync(path: &Path) -> Result<(), BackupError> {
    File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(io("syncing", path))
}

/// Makes a rename in `path`'s directory durable.
fn sync_directory(path: &Path) -> Result<(), BackupError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    {
        File::open(directory)
            .and_then(|file| file.sync_all())
            .map_err(io("syncing", directory))?;
    }
    #[cfg(not(unix))]
    let _ = directory;
    Ok(())
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{TempStore, temp_store};
    use crate::store::{NewSite, Store};

    fn site(key: &str) -> NewSite {
        NewSite {
            merchant: "Backups".to_owned(),
            key: key.to_owned(),
            name: key.to_owned(),
            allowed_origins: Vec::new(),
            config: heard_shared::SiteConfig::with_defaults(key, key),
        }
    }

    #[tokio::test]
    async fn a_backup_taken_while_open_is_whole_and_a_restore_brings_it_back() {
        let TempStore { store, directory } = temp_store();
        let database = directory.path().join("heard.sqlite3");
        store.add_site(site("before")).await.unwrap();

        let copy = directory.path().join("copy.sqlite3");
        let summary = backup(&database, &copy).unwrap();
        assert_eq!(summary.schema_version, latest_version());
        assert!(!sibling(&copy, ".partial").exists());
        // Never over an existing file.
        assert!(matches!(
            backup(&database, &copy),
            Err(BackupError::DestinationExists(_))
        ));

        store.add_site(site("after")).await.unwrap();
        // While the store is open, a restore refuses and changes nothing.
        assert!(matches!(
            restore(&database, &copy, "test"),
            Err(BackupError::InUse(_))
        ));
        assert!(store.site_by_key("after").await.unwrap().is_some());
        assert!(!sibling(&database, ".restoring").exists());
        // Stopped: the writer and the idle readers are closed.
        store.shutdown().await;
        drop(store);

        assert!(sibling(&database, "-search").exists());
        let (restored, kept) = restore(&database, &copy, "test").unwrap();
        assert_eq!(restored, summary);
        // The old database's search index went with it.
        assert!(!sibling(&database, "-search").exists());
        let kept = kept.unwrap();
        let store = Store::open(&database, 8, 64).unwrap();
        assert!(store.site_by_key("before").await.unwrap().is_some());
        assert!(store.site_by_key("after").await.unwrap().is_none());
        store.shutdown().await;
        // The replaced database is kept whole, with the later site.
        let old = Store::open(&kept, 8, 64).unwrap();
        assert!(old.site_by_key("after").await.unwrap().is_some());
        old.shutdown().await;
    }

    #[test]
    fn a_damaged_or_foreign_file_is_never_restored() {
        let directory = tempfile::tempdir().unwrap();
        let database = directory.path().join("heard.sqlite3");
        std::fs::write(&database, b"the current database").unwrap();

        let garbage = directory.path().join("garbage.sqlite3");
        std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
        assert!(matches!(
            restore(&database, &garbage, "x"),
            Err(BackupError::Damaged { .. })
        ));
        let empty = directory.path().join("empty.sqlite3");
        Connection::open(&empty)
            .unwrap()
            .execute_batch("CREATE TABLE unrelated (x)")
            .unwrap();
        assert!(matches!(
            restore(&database, &empty, "x"),
            Err(BackupError::Damaged { .. })
        ));
        // The database was not touched.
        assert_eq!(std::fs::read(&database).unwrap(), b"the current database");
        assert!(!sibling(&database, ".before-restore-x").exists());
    }
}
