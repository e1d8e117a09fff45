//! The single writer thread and its group commit.
//!
//! Callers queue jobs; the thread takes every job waiting (up to `max_batch`),
//! runs each inside its own savepoint of one transaction, commits once, and
//! only then answers each caller. One job failing rolls back its savepoint
//! alone; a failed commit fails every job in the batch, so nothing is ever
//! reported stored that is not on disk.
//!
//! A full disk (or the `max_page_count` limit) fails a job with
//! [`StoreError::Full`]. SQLite may then roll back the whole transaction on
//! its own; the writer notices (the connection is back in autocommit), runs
//! no further job of that batch outside a transaction, and fails them all.
//!
//! The writer also keeps two caches honest (issue 8): it forgets the kept
//! sites (`site_cache.rs`) after a job that wrote `sites`, after that
//! transaction ends, and when another process has committed since its last
//! batch (`PRAGMA data_version`); and it opens and closes the batch's
//! routing rules (`routing::batch_rules`), which live for one batch only.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;
use super::routing;
use super::site_cache::{self, SiteCache};

pub(super) struct Writer {
    sender: mpsc::Sender<Message>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

enum Message {
    Job(Box<dyn Job>),
    /// Copies the WAL into the database file and truncates it, after the
    /// jobs queued before it have committed.
    Checkpoint(oneshot::Sender<Result<(), StoreError>>),
    Stop(oneshot::Sender<()>),
}

/// A unit of work with a typed answer, erased so one queue carries them all.
trait Job: Send {
    /// Runs the work inside the open transaction and keeps its result.
    fn apply(&mut self, connection: &Connection);
    /// Whether the work failed for want of space.
    fn ran_out_of_space(&self) -> bool;
    /// Whether the work failed (its savepoint was rolled back).
    fn failed(&self) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), BatchFailure>);
}

struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn apply(&mut self, connection: &Connection) {
        let Some(work) = self.work.take() else { return };
        let result = match execute_cached(connection, "SAVEPOINT job") {
            Ok(()) => {
                let result = work(connection);
                if result.is_ok() {
                    match execute_cached(connection, "RELEASE job") {
                        Ok(()) => result,
                        Err(error) => Err(error.into()),
                    }
                } else {
                    // The job's own error is the answer. If its savepoint
                    // cannot be undone (SQLite may already have rolled the
                    // whole transaction back), nothing of the batch may be
                    // committed: roll it all back, and the batch fails.
                    if connection
                        .execute_batch("ROLLBACK TO job; RELEASE job")
                        .is_err()
                    {
                        let _ = connection.execute_batch("ROLLBACK");
                    }
                    result
                }
            }
            Err(error) => Err(error.into()),
        };
        self.result = Some(result.map_err(full_when_out_of_space));
    }

    fn ran_out_of_space(&self) -> bool {
        matches!(self.result, Some(Err(StoreError::Full)))
    }

    fn failed(&self) -> bool {
        matches!(self.result, Some(Err(_)))
    }

    fn finish(self: Box<Self>, commit: Result<(), BatchFailure>) {
        let answer = match (commit, self.result) {
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Task("a write job was never run".to_owned())),
            (Err(BatchFailure::Full), _) => Err(StoreError::Full),
            (Err(BatchFailure::Locked), _) => Err(StoreError::Locked),
            (Err(BatchFailure::Failed(message)), _) => {
                Err(StoreError::Task(format!("commit failed: {message}")))
            }
        };
        // The caller may have gone away (client disconnected); the data is
        // committed either way, which is what matters.
        let _ = self.reply.send(answer);
    }
}

impl Writer {
    pub(super) fn start(
        connection: Connection,
        max_batch: usize,
        queue: usize,
        sites: Arc<SiteCache>,
    ) -> Result<Writer, StoreError> {
        let (sender, receiver) = mpsc::channel(queue);
        let thread = std::thread::Builder::new()
            .name("heard-writer".to_owned())
            .spawn(move || run(connection, receiver, max_batch, sites))
            .map_err(|error| StoreError::Task(error.to_string()))?;
        Ok(Writer {
            sender,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `work` and waits until it is committed (or has failed).
    pub(super) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = TypedJob {
            work: Some(work),
            result: None,
            reply,
        };
        self.sender
            .try_send(Message::Job(Box::new(job)))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => StoreError::Busy,
                mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
            })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Waits for the jobs queued so far, then checkpoints the WAL with
    /// `TRUNCATE`, so text just deleted is no longer in the `-wal` file.
    pub(super) async fn checkpoint(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Message::Checkpoint(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Lets every queued job finish, then ends the thread.
    pub(super) async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.sender.send(Message::Stop(done)).await.is_ok() {
            let _ = finished.await;
        }
        let thread = self.thread.lock().ok().and_then(|mut thread| thread.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn run(
    connection: Connection,
    mut receiver: mpsc::Receiver<Message>,
    max_batch: usize,
    sites: Arc<SiteCache>,
) {
    // Each job runs in a savepoint, and SQLite saves every page a savepoint
    // first changes in a statement journal. Past 64 KiB that journal spills
    // to a temporary file and is never truncated until the transaction
    // ends, so a batch wrote every page twice, once with a `pwrite` of its
    // own (28% of intake's writer work in a profile). In memory it is
    // truncated whenever a job's savepoint is released.
    if let Err(error) = connection.pragma_update(None, "temp_store", "MEMORY") {
        tracing::warn!(%error, "the writer's statement journals stay in temporary files");
    }
    let mut caches = Caches {
        sites,
        data_version: data_version(&connection).ok(),
    };
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    let mut stop = None;
    let mut checkpoints = Vec::new();
    while stop.is_none() {
        let Some(first) = receiver.blocking_recv() else {
            break;
        };
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Job(job) => batch.push(job),
                Message::Checkpoint(reply) => {
                    checkpoints.push(reply);
                    break;
                }
                Message::Stop(done) => {
                    stop = Some(done);
                    break;
                }
            }
            if batch.len() < max_batch {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            commit_batch(&connection, &mut batch, &mut caches);
        }
        for reply in checkpoints.drain(..) {
            let _ = reply.send(checkpoint(&connection));
        }
    }
    drop(receiver);
    if let Err((_, error)) = connection.close() {
        tracing::error!(%error, "closing the database failed");
    }
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

/// Runs a statement without parameters through the statement cache: the
/// writer opens and releases a savepoint for every job.
fn execute_cached(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// What the writer keeps true about the caches beside the database.
struct Caches {
    sites: Arc<SiteCache>,
    /// `PRAGMA data_version` at the last batch: it changes only when
    /// another connection (another process) has committed.
    data_version: Option<i64>,
}

impl Caches {
    /// At the start of a batch, inside its transaction.
    fn open_batch(&mut self, connection: &Connection) {
        let now = data_version(connection).ok();
        if now.is_none() || now != self.data_version {
            self.sites.settle();
        }
        self.data_version = now;
        routing::open_batch_rules();
    }

    /// After each job; `true` when the job changed a site.
    fn after_job(&self, job: &dyn Job) -> bool {
        if job.failed() {
            // Rules read by a job whose savepoint was rolled back may be
            // rules that job itself wrote.
            routing::open_batch_rules();
        }
        let wrote_sites = site_cache::take_site_written();
        if wrote_sites {
            self.sites.changed_uncommitted();
        }
        wrote_sites
    }

    /// After the transaction ended, committed or not.
    fn close_batch(&self, sites_changed: bool) {
        routing::close_batch_rules();
        if sites_changed {
            self.sites.settle();
        }
    }
}

fn data_version(connection: &Connection) -> rusqlite::Result<i64> {
    connection
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |row| row.get(0))
}

/// Readers between transactions do not block a checkpoint, but one in the
/// middle of a read can; a few short waits let it finish.
fn checkpoint(connection: &Connection) -> Result<(), StoreError> {
    for _ in 0..50 {
        let busy: i64 =
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(StoreError::Task(
        "the WAL checkpoint stayed busy".to_owned(),
    ))
}

/// Why a whole batch failed.
#[derive(Debug, Clone)]
enum BatchFailure {
    /// Out of space: the disk, or the database's page limit.
    Full,
    /// Another connection held the lock past the busy timeout.
    Locked,
    Failed(String),
}

impl From<rusqlite::Error> for BatchFailure {
    fn from(error: rusqlite::Error) -> Self {
        if is_out_of_space(&error) {
            BatchFailure::Full
        } else if super::connection::is_lock_error(&error) {
            BatchFailure::Locked
        } else {
            BatchFailure::Failed(error.to_string())
        }
    }
}

fn is_out_of_space(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

fn full_when_out_of_space(error: StoreError) -> StoreError {
    match error {
        StoreError::Sqlite(error) if is_out_of_space(&error) => StoreError::Full,
        other => other,
    }
}

fn commit_batch(connection: &Connection, batch: &mut Vec<Box<dyn Job>>, caches: &mut Caches) {
    let mut sites_changed = false;
    let outcome = match connection.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {
            caches.open_batch(connection);
            let mut rolled_back = None;
            for job in batch.iter_mut() {
                job.apply(connection);
                sites_changed |= caches.after_job(job.as_ref());
                // SQLite may roll back the whole transaction after SQLITE_FULL
                // or an I/O error: the jobs before this one are gone too, and
                // the next would run (and commit) outside any transaction.
                if connection.is_autocommit() {
                    rolled_back = Some(if job.ran_out_of_space() {
                        BatchFailure::Full
                    } else {
                        BatchFailure::Failed("SQLite rolled the transaction back".to_owned())
                    });
                    break;
                }
            }
            if let Some(failure) = rolled_back {
                Err(failure)
            } else {
                connection.execute_batch("COMMIT").map_err(|error| {
                    let _ = connection.execute_batch("ROLLBACK");
                    BatchFailure::from(error)
                })
            }
        }
        Err(error) => Err(BatchFailure::from(error)),
    };
    caches.close_batch(sites_changed);
    match &outcome {
        Ok(()) => {}
        Err(BatchFailure::Full) => {
            tracing::warn!(
                jobs = batch.len(),
                "the database is out of space; the batch was refused"
            );
        }
        Err(BatchFailure::Locked) => {
            tracing::warn!(
                jobs = batch.len(),
                "the database stayed locked by another connection; the batch was refused"
            );
        }
        Err(BatchFailure::Failed(message)) => {
            tracing::error!(jobs = batch.len(), %message, "group commit failed");
        }
    }
    for job in batch.drain(..) {
        job.finish(outcome.clone());
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_support::temp_store;

    #[tokio::test]
    async fn the_writer_keeps_statement_journals_in_memory() {
        let temp = temp_store();
        let temp_store: i64 = temp
            .store
            .inner
            .writer
            .run(|connection| Ok(connection.query_row("PRAGMA temp_store", [], |row| row.get(0))?))
            .await
            .unwrap();
        assert_eq!(temp_store, 2, "MEMORY");
    }
}
