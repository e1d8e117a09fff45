//! The pool of read-only connections that reads run on.
//!
//! **The pool never holds more than [`READERS`] connections, and a read
//! waits (asynchronously) for a free one rather than opening another.**
//! Opening a connection is cheap, but its first statement parses the whole
//! schema (every table, index and trigger): under a flood of intake the old
//! pool, which opened a connection whenever its idle ones were taken and
//! dropped the extras afterwards, spent about a sixth of the collector's CPU
//! re-reading the schema. Bounding the pool also bounds the blocking
//! threads that reads occupy, so a flood does not become hundreds of
//! threads queueing for two cores.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::StoreError;
use super::connection;

/// How many read connections may exist at once. Reads are short (a page of
/// the inbox, a site, a receipt); the longest (insights over a year) take
/// seconds, so the pool is wide enough that a few of those leave the
/// short ones room.
pub(super) const READERS: usize = 16;

/// Read-only connections, opened on first need and then reused.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection that may exist.
    permits: Arc<Semaphore>,
}

impl Readers {
    pub(super) fn new(path: &Path) -> Readers {
        Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(READERS)),
        }
    }

    /// Runs `work` on a read connection on the blocking thread pool, after
    /// waiting for a free one.
    pub(super) async fn run<T, F>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            // Held until the connection is back in the pool.
            let _permit = permit;
            let pooled = readers.idle.lock().map(|mut idle| idle.pop()).ok();
            let connection = match pooled.flatten() {
                Some(connection) => connection,
                None => connection::open_reader(&readers.path)?,
            };
            let result = work(&connection);
            if let Ok(mut idle) = readers.idle.lock() {
                idle.push(connection);
            }
            result
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::store::test_support::temp_store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_reads_reuses_at_most_the_pools_connections() {
        let temp = temp_store();
        let readers = Arc::new(Readers::new(&temp.directory.path().join("heard.sqlite3")));
        let busy = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut reads = Vec::new();
        for _ in 0..(READERS * 8) {
            let readers = Arc::clone(&readers);
            let (busy, most) = (Arc::clone(&busy), Arc::clone(&most));
            reads.push(tokio::spawn(async move {
                readers
                    .run(move |connection| {
                        let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        // A real query, long enough for the reads to overlap.
                        let rows: i64 = connection.query_row(
                            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
                             WHERE i < 20000) SELECT count(*) FROM n",
                            [],
                            |row| row.get(0),
                        )?;
                        busy.fetch_sub(1, Ordering::SeqCst);
                        Ok(rows)
                    })
                    .await
            }));
        }
        for read in reads {
            assert_eq!(read.await.unwrap().unwrap(), 20000);
        }
        assert!(most.load(Ordering::SeqCst) <= READERS);
        let idle = readers.idle.lock().unwrap().len();
        assert!(
            (1..=READERS).contains(&idle),
            "{idle} connections were kept"
        );
    }
}
