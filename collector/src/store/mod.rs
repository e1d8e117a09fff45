//! Durable storage in one SQLite file. The only module that imports rusqlite.
//!
//! **Writes go through one writer thread that commits in batches** (group
//! commit): many complaints share one transaction and one fsync, so intake does
//! not collapse to one fsync per request. Reads use a small pool of read-only
//! connections, which WAL mode lets run beside the writer.

mod attachments;
mod complaints;
mod connection;
mod migrations;
mod sites;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

pub use attachments::NewAttachment;
pub use complaints::{ComplaintRecord, IdempotencyRecord, NewComplaint, Recorded};
pub use migrations::latest_version;
pub use sites::{NewSite, Secret, Site};
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
    #[error("the store is shutting down")]
    Closed,
    #[error("the same Idempotency-Key was used with a different request")]
    IdempotencyConflict,
    #[error("attachment number {0} is unknown or already used")]
    UnknownAttachment(usize),
    #[error("a site with the key {0:?} already exists")]
    DuplicateSite(String),
    #[error("a background task failed: {0}")]
    Task(String),
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Writer,
}

/// How many idle read connections are kept.
const IDLE_READERS: usize = 8;

impl Store {
    /// Opens (creating if needed) the database, applies pending migrations and
    /// starts the writer thread.
    pub fn open(path: &Path, max_batch: usize, write_queue: usize) -> Result<Store, StoreError> {
        let mut connection = connection::open_writer(path)?;
        migrations::apply(&mut connection)?;
        let writer = Writer::start(connection, max_batch.max(1), write_queue.max(1))?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                readers: Mutex::new(Vec::new()),
                writer,
            }),
        })
    }

    /// Finishes every write already queued, then stops the writer. Later
    /// writes fail with [`StoreError::Closed`].
    pub async fn shutdown(&self) {
        self.inner.writer.shutdown().await;
    }

    /// Runs `work` on a read-only connection on the blocking thread pool.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let pooled = inner
                .readers
                .lock()
                .map(|mut idle| idle.pop())
                .unwrap_or(None);
            let connection = match pooled {
                Some(connection) => connection,
                None => connection::open_reader(&inner.path)?,
            };
            let result = work(&connection);
            if let Ok(mut idle) = inner.readers.lock()
                && idle.len() < IDLE_READERS
            {
                idle.push(connection);
            }
            result
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
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

    // --- complaints -------------------------------------------------------

    /// Stores a complaint; answers only after it is committed to disk.
    pub async fn record_complaint(&self, complaint: NewComplaint) -> Result<Recorded, StoreError> {
        self.inner
            .writer
            .run(move |connection| complaints::record(connection, &complaint))
            .await
    }

    /// Stores an uploaded photo, not yet claimed by a complaint.
    pub async fn add_attachment(&self, attachment: NewAttachment) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |connection| attachments::insert(connection, &attachment))
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
