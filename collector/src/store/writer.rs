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

use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

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
        let result = match connection.execute_batch("SAVEPOINT job") {
            Ok(()) => {
                let result = work(connection);
                if result.is_ok() {
                    match connection.execute_batch("RELEASE job") {
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
    ) -> Result<Writer, StoreError> {
        let (sender, receiver) = mpsc::channel(queue);
        let thread = std::thread::Builder::new()
            .name("heard-writer".to_owned())
            .spawn(move || run(connection, receiver, max_batch))
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

fn run(connection: Connection, mut receiver: mpsc::Receiver<Message>, max_batch: usize) {
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
            commit_batch(&connection, &mut batch);
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

fn commit_batch(connection: &Connection, batch: &mut Vec<Box<dyn Job>>) {
    let outcome = match connection.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {
            let mut rolled_back = None;
            for job in batch.iter_mut() {
                job.apply(connection);
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
