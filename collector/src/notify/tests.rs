//! The delivery worker against real receivers on loopback: an HTTP server
//! that fails, times out, asks to be left alone with `Retry-After` and then
//! accepts, and the SMTP sink. Time between attempts comes from a manual
//! clock; each round is one call of `deliver_due`, so nothing sleeps for
//! the schedule's minutes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::email::StaffMail;
use super::schedule::Schedule;
use super::{Notifier, Policy, deliver, deliver_due, webhook};
use crate::clock::Clock;
use crate::mail::sink::Sink;
use crate::store::inbox_fixtures::{START, complaint, record, site};
use crate::store::routing_fixtures::staff;
use crate::store::test_support::{TempStore, temp_store};
use crate::store::{NotificationView, Role, Store, WebhookFormat, WebhookInput};

/// Whom the audit log names for changes made directly through the store.
const ACTOR: i64 = 1;

/// What the receiver does with one request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Answers 200, but only after this long: longer than the timeout.
    Stall(Duration),
    TooManyRequests {
        retry_after_seconds: u64,
    },
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A webhook receiver on `127.0.0.1:0` that answers from a script, then 200.
struct Receiver {
    url: String,
    script: Script,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(answers: &[Answer]) -> Receiver {
        let script = Script::default();
        script
            .answers
            .lock()
            .unwrap()
            .extend(answers.iter().copied());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/heard", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hooks/heard", post(receive))
            .with_state(script.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, script, task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.script.seen.lock().unwrap().clone()
    }
}

async fn receive(State(script): State<Script>, headers: HeaderMap, body: Bytes) -> Response {
    script.seen.lock().unwrap().push(Seen {
        headers,
        body: body.to_vec(),
    });
    let answer = script.answers.lock().unwrap().pop_front();
    match answer {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(Answer::Status(code)) => StatusCode::from_u16(code).unwrap().into_response(),
        Some(Answer::Stall(how_long)) => {
            tokio::time::sleep(how_long).await;
            StatusCode::OK.into_response()
        }
        Some(Answer::TooManyRequests {
            retry_after_seconds,
        }) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after_seconds.to_string())],
            "slow down",
        )
            .into_response(),
    }
}

/// Verifies `webhook-signature` the way the Standard Webhooks specification
/// describes it, written here from the spec rather than through
/// `webhook::sign`: strip `whsec_`, base64-decode the key, HMAC-SHA256 over
/// `{id}.{timestamp}.{body}`, base64, compare with each `v1,` signature.
fn signature_verifies(secret: &str, seen: &Seen) -> bool {
    let header = |name: &str| seen.headers[name].to_str().unwrap().to_owned();
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        header("webhook-id"),
        header("webhook-timestamp"),
        String::from_utf8(seen.body.clone()).unwrap()
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    header("webhook-signature")
        .split(' ')
        .filter_map(|signature| signature.strip_prefix("v1,"))
        .any(|signature| signature == expected)
}

struct Setup {
    temp: TempStore,
    merchant: i64,
    site_id: i64,
    clock: Clock,
}

async fn setup() -> Setup {
    let temp = temp_store();
    let (merchant, site_id) = site(&temp.store, "Acme", "acme").await;
    staff(&temp.store, merchant, "owner@acme.example", Role::Owner).await;
    Setup {
        temp,
        merchant,
        site_id,
        clock: Clock::manual(START),
    }
}

impl Setup {
    fn store(&self) -> &Store {
        &self.temp.store
    }

    /// A webhook endpoint and a rule that calls it for every complaint; the
    /// endpoint's id and secret.
    async fn webhook(&self, url: &str, allow_private: bool) -> (i64, [u8; 32]) {
        let secret = webhook::new_secret();
        let endpoint = self
            .store()
            .add_webhook(
                self.merchant,
                ACTOR,
                WebhookInput {
                    name: "Receiver".to_owned(),
                    url: url.to_owned(),
                    format: WebhookFormat::Standard,
                    allow_private,
                    enabled: true,
                },
                secret,
                START,
            )
            .await
            .unwrap()
            .unwrap();
        let input = serde_json::from_value(serde_json::json!({
            "name": "Everything to the receiver",
            "actions": {"webhooks": [endpoint.id]}
        }))
        .unwrap();
        self.store()
            .add_routing_rule(self.merchant, ACTOR, input, START)
            .await
            .unwrap()
            .unwrap();
        (endpoint.id, secret)
    }

    /// One round of the worker at the clock's current time.
    async fn round(&self, notifier: &Notifier, policy: &Policy) -> usize {
        deliver_due(self.store(), notifier, &self.clock, policy, &mut false)
            .await
            .unwrap()
    }

    async fn outbox(&self) -> Vec<NotificationView> {
        self.store()
            .notifications(self.merchant, None, 50)
            .await
            .unwrap()
    }
}

fn notifier(timeout: Duration) -> Notifier {
    let mail = StaffMail::from_settings(&crate::Settings::default()).unwrap();
    Notifier::new(mail, timeout, "https://heard.test").unwrap()
}

fn policy(schedule: Schedule, timeout: Duration) -> Policy {
    Policy {
        poll: Duration::from_millis(20),
        schedule,
        request_timeout: timeout,
        batch: 32,
    }
}

#[tokio::test]
async fn a_webhook_survives_failures_a_timeout_and_429_and_arrives_signed_with_one_id() {
    let setup = setup().await;
    let receiver = Receiver::start(&[
        Answer::Status(500),
        Answer::Status(503),
        Answer::Stall(Duration::from_secs(3)),
        Answer::TooManyRequests {
            retry_after_seconds: 7,
        },
    ])
    .await;
    let timeout = Duration::from_millis(400);
    let (endpoint, first_secret) = setup.webhook(&receiver.url, true).await;
    let notifier = notifier(timeout);
    let policy = policy(Schedule::default(), timeout);
    let reference = record(
        setup.store(),
        complaint(setup.site_id, START, "The kettle leaks"),
    )
    .await;

    // Attempt 1, at once: 500.
    assert_eq!(setup.round(&notifier, &policy).await, 1);
    assert_eq!(receiver.seen().len(), 1);
    // Not due before the spec's 5 seconds.
    setup.clock.advance(4_999);
    assert_eq!(setup.round(&notifier, &policy).await, 0);
    // Attempt 2 within the jitter (at most a fifth more): 503.
    setup.clock.advance(1_001 + 1_000);
    assert_eq!(setup.round(&notifier, &policy).await, 1);
    assert_eq!(receiver.seen().len(), 2);

    // The owner rotates the secret between attempts: both sign from now on.
    let rotated = webhook::new_secret();
    setup
        .store()
        .rotate_webhook_secret(
            setup.merchant,
            ACTOR,
            endpoint,
            rotated,
            START + 86_400_000,
            START,
        )
        .await
        .unwrap()
        .unwrap();

    // Attempt 3 after 5 minutes: the receiver stalls past the timeout.
    setup.clock.advance(4 * 60_000);
    assert_eq!(setup.round(&notifier, &policy).await, 0, "not yet due");
    setup.clock.advance(2 * 60_000 + 1);
    assert_eq!(setup.round(&notifier, &policy).await, 1);
    let stalled = setup.outbox().await;
    assert!(
        stalled[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("in time"),
        "{stalled:?}"
    );
    // Attempt 4 after 30 minutes: 429 with Retry-After: 7.
    setup.clock.advance(36 * 60_000 + 1);
    assert_eq!(setup.round(&notifier, &policy).await, 1);
    assert_eq!(receiver.seen().len(), 4);
    // Retry-After replaces the 2-hour delay: due in exactly 7 seconds.
    setup.clock.advance(6_999);
    assert_eq!(setup.round(&notifier, &policy).await, 0);
    setup.clock.advance(1);
    assert_eq!(setup.round(&notifier, &policy).await, 1);

    let seen = receiver.seen();
    assert!(seen.len() >= 5, "{}", seen.len());
    let last = seen.last().unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(payload["type"], "complaint.received");
    assert_eq!(payload["data"]["reference"], reference.as_str());
    let ids: Vec<&str> = seen
        .iter()
        .map(|seen| seen.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert!(ids[0].starts_with("msg_"), "{}", ids[0]);
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert!(
        seen.iter().all(|seen| seen.body == last.body),
        "the same body every time"
    );
    assert_eq!(
        last.headers["webhook-timestamp"],
        (setup.clock.now_millis() / 1000).to_string().as_str()
    );
    let first = webhook::secret_text(&first_secret);
    let second = webhook::secret_text(&rotated);
    assert!(signature_verifies(&first, &seen[0]));
    assert!(!signature_verifies(&second, &seen[0]));
    assert!(
        signature_verifies(&first, last),
        "the old secret still signs"
    );
    assert!(signature_verifies(&second, last), "and so does the new one");
    assert!(!signature_verifies("whsec_AAAA", last));

    let rows = setup.outbox().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "delivered");
    assert_eq!(rows[0].attempts, 4);
    assert_eq!(rows[0].message_id, ids[0]);
    // Nothing is due any more.
    setup.clock.advance(86_400_000);
    assert_eq!(setup.round(&notifier, &policy).await, 0);
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_is_dead_then_retried_by_hand() {
    let setup = setup().await;
    let receiver = Receiver::start(&[Answer::Status(500); 3]).await;
    setup.webhook(&receiver.url, true).await;
    let timeout = Duration::from_secs(5);
    let notifier = notifier(timeout);
    let policy = policy(Schedule::new(&[1_000, 1_000]), timeout);
    record(setup.store(), complaint(setup.site_id, START, "Broken")).await;
    for _ in 0..3 {
        assert_eq!(setup.round(&notifier, &policy).await, 1);
        setup.clock.advance(1_300);
    }
    let dead = setup
        .store()
        .notifications(setup.merchant, Some("dead".to_owned()), 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].attempts, 3);
    assert!(dead[0].last_error.as_deref().unwrap().contains("500"));
    setup.clock.advance(86_400_000);
    assert_eq!(
        setup.round(&notifier, &policy).await,
        0,
        "the dead stay put"
    );

    // Another merchant cannot retry it; the owner can.
    let (other, _) = site(setup.store(), "Other", "other").await;
    assert!(
        setup
            .store()
            .retry_notification(other, ACTOR, dead[0].id, setup.clock.now_millis())
            .await
            .unwrap()
            .is_none()
    );
    let retried = setup
        .store()
        .retry_notification(setup.merchant, ACTOR, dead[0].id, setup.clock.now_millis())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retried.state, "pending");
    assert_eq!(setup.round(&notifier, &policy).await, 1);
    assert_eq!(setup.outbox().await[0].state, "delivered");
    assert_eq!(receiver.seen().len(), 4);
}

#[tokio::test]
async fn a_receiver_on_a_private_address_is_refused_unless_allowed() {
    let setup = setup().await;
    let receiver = Receiver::start(&[]).await;
    // Stored directly, as if the address had been public when it was saved.
    setup.webhook(&receiver.url, false).await;
    let notifier = notifier(Duration::from_secs(5));
    let policy = policy(Schedule::new(&[]), Duration::from_secs(5));
    record(setup.store(), complaint(setup.site_id, START, "Hello")).await;
    assert_eq!(setup.round(&notifier, &policy).await, 1);
    let rows = setup.outbox().await;
    assert_eq!(rows[0].state, "dead");
    assert!(
        rows[0].last_error.as_deref().unwrap().contains("private"),
        "{rows:?}"
    );
    assert!(receiver.seen().is_empty(), "no request may reach it");
}

#[tokio::test]
async fn a_safety_complaint_emails_every_owner_at_once_in_their_language() {
    let setup = setup().await;
    let store = setup.store();
    let second = staff(store, setup.merchant, "zweite@acme.example", Role::Owner).await;
    staff(store, setup.merchant, "agent@acme.example", Role::Agent).await;
    store
        .set_staff_language(setup.merchant, second, Some("de".to_owned()))
        .await
        .unwrap();
    let sink = Sink::start().await;
    let notifier = Notifier::new(
        StaffMail::loopback(sink.port),
        Duration::from_secs(5),
        "https://heard.test",
    )
    .unwrap();
    let policy = policy(Schedule::default(), Duration::from_secs(5));
    let mut sick = complaint(setup.site_id, START, "My child was sick after the yoghurt");
    sick.category = "safety".to_owned();
    sick.urgent = true;
    let reference = record(store, sick).await;

    // The worker, as `serve()` runs it: it finds the rows without being told.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(deliver(
        store.clone(),
        notifier,
        setup.clock.clone(),
        policy,
        stopped,
    ));
    let mut received = sink.wait_for(2).await;
    stop.send(true).unwrap();
    worker.await.unwrap();

    received.sort_by(|a, b| a.to.cmp(&b.to));
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].to, ["<owner@acme.example>"]);
    // (The sink's RFC 2047 decoding drops the space between encoded words.)
    let subject = received[0].subject();
    assert!(subject.starts_with("Safety complaint"), "{subject}");
    assert!(subject.contains(&reference), "{subject}");
    assert!(subject.ends_with("Shop acme: act now"), "{subject}");
    assert_eq!(received[1].to, ["<zweite@acme.example>"]);
    assert!(
        received[1].subject().starts_with("Sicherheitsbeschwerde"),
        "{}",
        received[1].subject()
    );
    assert!(received[0].data.contains(&reference));
    assert!(
        !received[0].data.contains("yoghurt"),
        "no shopper words in mail"
    );
    let rows = setup.outbox().await;
    assert!(rows.iter().all(|row| row.state == "delivered"), "{rows:?}");
}

#[tokio::test]
async fn staff_email_waits_while_no_smtp_server_is_configured() {
    let setup = setup().await;
    let notifier = notifier(Duration::from_secs(5));
    let policy = policy(Schedule::new(&[]), Duration::from_secs(5));
    let mut sick = complaint(setup.site_id, START, "Sick");
    sick.urgent = true;
    record(setup.store(), sick).await;
    assert_eq!(setup.round(&notifier, &policy).await, 0, "nothing to send");
    let rows = setup.outbox().await;
    assert_eq!(rows[0].state, "pending");
    assert_eq!(rows[0].attempts, 0, "not counted as a failure");
}

/// More waiting email than a batch once kept the worker from ever sleeping
/// (every round was "full") and held back the webhooks queued after it.
#[tokio::test]
async fn waiting_email_neither_fills_the_batch_nor_holds_back_webhooks() {
    let setup = setup().await;
    let notifier = notifier(Duration::from_secs(5));
    let policy = policy(Schedule::new(&[]), Duration::from_secs(5));
    for number in 0..(policy.batch + 8) {
        let mut sick = complaint(setup.site_id, START, &format!("Sick {number}"));
        sick.urgent = true;
        record(setup.store(), sick).await;
    }
    let receiver = Receiver::start(&[]).await;
    setup.webhook(&receiver.url, true).await;
    record(setup.store(), complaint(setup.site_id, START, "Later")).await;
    assert_eq!(setup.round(&notifier, &policy).await, 1, "only the webhook");
    assert_eq!(receiver.seen().len(), 1);
    let rows = setup.outbox().await;
    let pending = rows.iter().filter(|row| row.state == "pending").count();
    assert_eq!(
        pending,
        policy.batch + 8,
        "every email still waits: {rows:?}"
    );
    assert!(rows.iter().any(|row| row.state == "delivered"), "{rows:?}");
    assert_eq!(setup.round(&notifier, &policy).await, 0);
}

#[test]
fn an_operator_shortens_the_schedule_through_settings() {
    let settings = crate::Settings::default()
        .with_environment(|name| match name {
            "HEARD_NOTIFY_RETRY_DELAYS_MS" => Some("500, 1000,2000".to_owned()),
            "HEARD_NOTIFY_REQUEST_TIMEOUT_MS" => Some("2500".to_owned()),
            _ => None,
        })
        .unwrap();
    let policy = Policy::from_settings(&settings);
    assert_eq!(policy.schedule, Schedule::new(&[500, 1_000, 2_000]));
    assert_eq!(policy.request_timeout, Duration::from_millis(2_500));
    assert_eq!(
        Policy::from_settings(&crate::Settings::default()).schedule,
        Schedule::default(),
        "the default is the Standard Webhooks schedule"
    );
    let error = crate::Settings::default()
        .with_environment(|name| (name == "HEARD_NOTIFY_RETRY_DELAYS_MS").then(|| "5s".to_owned()))
        .unwrap_err()
        .to_string();
    assert!(error.contains("HEARD_NOTIFY_RETRY_DELAYS_MS"), "{error}");
}
