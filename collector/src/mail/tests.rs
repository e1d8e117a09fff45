//! The delivery worker against the test SMTP sink: retries, parking, and a
//! queue that survives a restart. Time for backoff comes from a manual clock;
//! the worker polls every few milliseconds, and tests poll with deadlines.

use std::future::Future;
use std::time::{Duration, Instant};

use heard_shared::ComplaintSubmission;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::sink::Sink;
use super::{Outgoing, Policy, deliver};
use crate::clock::Clock;
use crate::domain::demo::demo_site;
use crate::domain::intake;
use crate::store::{MailState, Site, Store};

const START: i64 = 1_800_000_000_000;

fn policy() -> Policy {
    Policy {
        poll: Duration::from_millis(20),
        first_retry_ms: 60_000,
        max_retry_ms: 600_000,
        max_attempts: 3,
        batch: 32,
    }
}

struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    fn start(store: &Store, outgoing: Outgoing, clock: &Clock) -> Worker {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(deliver(
            store.clone(),
            outgoing,
            clock.clone(),
            policy(),
            stopped,
        ));
        Worker { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
    }
}

/// An SMTP server that is "down": it answers every connection with 421 and
/// hangs up. Holding the port (rather than closing it) keeps another test's
/// sink from being handed the same port.
struct Down {
    port: u16,
    task: JoinHandle<()>,
}

impl Drop for Down {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn smtp_down() -> Down {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream
                .write_all(b"421 service not available, try later\r\n")
                .await;
        }
    });
    Down { port, task }
}

async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn states(store: &Store) -> Vec<MailState> {
    store.mail_states().await.unwrap()
}

async fn site(store: &Store) -> Site {
    store.add_site(demo_site(vec![])).await.unwrap()
}

fn with_email(language: &str) -> ComplaintSubmission {
    serde_json::from_value(serde_json::json!({
        "category": "product",
        "description": "Der Wasserkocher ist nach drei Tagen kaputt.",
        "language": language,
        "contact": { "name": "Jonas", "email": "jonas@example.de", "consent": true }
    }))
    .unwrap()
}

#[test]
fn backoff_doubles_up_to_its_limit_and_parks_at_the_last_attempt() {
    let policy = policy();
    assert_eq!(policy.retry_at(0, 1, 0.0), Some(30_000));
    assert_eq!(policy.retry_at(0, 1, 0.999_999), Some(59_999));
    assert_eq!(policy.retry_at(0, 2, 0.0), Some(60_000));
    let long = Policy {
        max_attempts: 40,
        ..policy
    };
    assert_eq!(
        long.retry_at(0, 30, 0.0),
        Some(300_000),
        "capped at max_retry_ms"
    );
    assert_eq!(policy.retry_at(0, 3, 0.5), None);
}

#[tokio::test]
async fn queued_mail_survives_a_restart_and_arrives_exactly_once() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("heard.sqlite3");
    let clock = Clock::manual(START);

    // SMTP is down: one attempt fails and the message stays queued.
    let store = Store::open(&path, 64, 1024).unwrap();
    let site = site(&store).await;
    let accepted = intake::submit(
        &store,
        "http://heard.test",
        &site,
        with_email("de"),
        None,
        None,
    )
    .await
    .unwrap();
    let down = smtp_down().await;
    let worker = Worker::start(&store, Outgoing::loopback(down.port), &clock);
    let failed = eventually("a failed attempt", || async {
        let states = states(&store).await;
        (states.len() == 1 && states[0].attempts == 1).then(|| states[0].clone())
    })
    .await;
    assert!(!failed.parked);
    assert!(failed.next_attempt_at > START, "the retry waits");
    worker.stop().await;
    store.shutdown().await;

    // Restarted with a working server: nothing goes before the retry is due…
    let sink = Sink::start().await;
    let store = Store::open(&path, 64, 1024).unwrap();
    let worker = Worker::start(&store, Outgoing::loopback(sink.port), &clock);
    store.mail_queued().notify_one();
    assert_eq!(states(&store).await.len(), 1);
    assert!(sink.received().is_empty());

    // …and once it is, the message arrives, and only once.
    clock.advance(10 * 60_000);
    store.mail_queued().notify_one();
    let received = sink.wait_for(1).await;
    eventually("the delivered row to be removed", || async {
        states(&store).await.is_empty().then_some(())
    })
    .await;
    store.mail_queued().notify_one();
    worker.stop().await;
    assert_eq!(sink.received().len(), 1, "{received:?}");
    assert_eq!(received[0].to, ["<jonas@example.de>"]);
    let text = received[0].parts()[0].1.clone();
    assert!(text.contains(&accepted.receipt.status_url), "{text}");
    store.shutdown().await;
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_parked_not_dropped() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(&directory.path().join("heard.sqlite3"), 64, 1024).unwrap();
    let clock = Clock::manual(START);
    let site = site(&store).await;
    intake::submit(
        &store,
        "http://heard.test",
        &site,
        with_email("en"),
        None,
        None,
    )
    .await
    .unwrap();
    let down = smtp_down().await;
    let worker = Worker::start(&store, Outgoing::loopback(down.port), &clock);
    for attempt in 1..=3 {
        eventually("the next failed attempt", || async {
            let states = states(&store).await;
            (states[0].attempts == attempt).then_some(())
        })
        .await;
        clock.advance(policy().max_retry_ms);
        store.mail_queued().notify_one();
    }
    let parked = states(&store).await;
    assert_eq!(parked.len(), 1, "a parked message is kept");
    assert!(parked[0].parked);
    assert_eq!(parked[0].attempts, 3);
    assert!(parked[0].last_error.is_some());

    // Parked means parked: later rounds leave it alone.
    clock.advance(24 * 3_600_000);
    store.mail_queued().notify_one();
    tokio::time::sleep(policy().poll * 3).await;
    assert_eq!(states(&store).await[0].attempts, 3);
    worker.stop().await;
    store.shutdown().await;
}

#[tokio::test]
async fn without_an_smtp_server_mail_waits_in_the_queue() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(&directory.path().join("heard.sqlite3"), 64, 1024).unwrap();
    let site = site(&store).await;
    intake::submit(
        &store,
        "http://heard.test",
        &site,
        with_email("en"),
        None,
        None,
    )
    .await
    .unwrap();
    let unconfigured = Outgoing::from_settings(&crate::Settings::default()).unwrap();
    let worker = Worker::start(&store, unconfigured, &Clock::manual(START));
    store.mail_queued().notify_one();
    tokio::time::sleep(policy().poll * 3).await;
    worker.stop().await;
    let states = states(&store).await;
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].attempts, 0, "not even tried");
    store.shutdown().await;
}
