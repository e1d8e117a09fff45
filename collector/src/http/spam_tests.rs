//! Suspected spam (issue 9) through `router().oneshot()` on a real SQLite
//! file: complaints posted to the public API with a filled honeypot or a
//! too-short fill time are answered `201` like any other, wait in the spam
//! folder, and stay out of the inbox, its counts, search, the export, the
//! figures, the sweeps and every notification until staff restore them.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use super::test_support::{
    ACME_OWNER, OTHER_OWNER, PUBLIC_URL, StaffApp, error_code, harness_is_app, json_body,
    rule_calling_a_webhook, solved_proof, staff_state, two_shops,
};
use crate::domain::escalation::EscalationPolicy;
use crate::domain::insights::InsightsFilter;
use crate::store::Role;
use crate::store::inbox_fixtures::START;
use crate::store::test_support::{TempStore, temp_store};

/// Whom the audit log names for the routing set up through the store.
const ACTOR: i64 = 1;

struct Harness {
    temp: TempStore,
    app: StaffApp,
    acme: i64,
}

harness_is_app!(Harness);

/// Acme with a rule that tags and calls a webhook for every kettle
/// complaint, so "routed" and "notified" are visible; and Other.
async fn harness() -> Harness {
    let temp = temp_store();
    let (accounts, acme, _) = two_shops(&temp.store).await;
    let rule = json!({
        "name": "Kettles", "conditions": {"keywords": ["kettle"]},
        "actions": {"tags": ["kettles"]}
    });
    rule_calling_a_webhook(&temp.store, acme, ACTOR, rule).await;
    let state = staff_state(&temp.store, &accounts, "www");
    Harness {
        app: StaffApp::new(state),
        temp,
        acme,
    }
}

impl Harness {
    /// Posts a kettle complaint to Acme's public API with a solved proof,
    /// `extra` merged into the body; asserts `201` and answers the reference.
    async fn post(&self, description: &str, extra: Value) -> String {
        let mut body = json!({
            "category": "product",
            "description": description,
            "outcomes": ["fix"],
            "language": "en",
            "contact": {"email": "ana@example.com", "consent": true},
        });
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let response = self
            .send(
                Request::post("/api/v1/sites/acme-shop/complaints")
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("Heard-Proof", solved_proof(&self.router, "acme-shop").await)
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let receipt: Value = json_body(response).await;
        receipt["reference"].as_str().unwrap().to_owned()
    }

    /// The references of `GET /api/v1/inbox/complaints?{query}` as the owner.
    async fn listed(&self, query: &str) -> Vec<String> {
        let owner = self.sign_in(ACME_OWNER).await;
        let response = self
            .get(&format!("/api/v1/inbox/complaints?{query}"), &owner)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let list: Value = json_body(response).await;
        references(&list["complaints"])
    }

    /// One number about the complaint `reference`, read from the database
    /// file: `?1` is the complaint's id.
    fn count(&self, sql: &str, reference: &str) -> i64 {
        let connection =
            rusqlite::Connection::open(self.temp.directory.path().join("heard.sqlite3")).unwrap();
        let id: i64 = connection
            .query_row(
                "SELECT id FROM complaints WHERE reference = ?1",
                [reference],
                |row| row.get(0),
            )
            .unwrap();
        connection.query_row(sql, [id], |row| row.get(0)).unwrap()
    }

    fn outbox(&self, reference: &str) -> i64 {
        self.count(
            "SELECT count(*) FROM notification_outbox WHERE complaint_id = ?1",
            reference,
        )
    }

    fn mail(&self, reference: &str) -> i64 {
        self.count(
            "SELECT count(*) FROM mail_queue WHERE complaint_id = ?1",
            reference,
        )
    }
}

fn references(rows: &Value) -> Vec<String> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| row["reference"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn suspected_spam_is_answered_and_kept_out_of_everything_staff_see() {
    let harness = harness().await;
    let person = harness
        .post("My kettle leaks at the base.", json!({"fill_ms": 45_000}))
        .await;
    let honeypot = harness
        .post(
            "Cheap kettle deals at our shop",
            json!({"honeypot": "http://deals.example", "fill_ms": 40_000}),
        )
        .await;
    let too_fast = harness
        .post("Buy kettle followers now", json!({"fill_ms": 300}))
        .await;
    harness.store.search_caught_up().await.unwrap();

    // The spam folder holds both, newest first, each with its reason.
    let owner = harness.sign_in(ACME_OWNER).await;
    let folder: Value = json_body(
        harness
            .get("/api/v1/inbox/complaints?folder=spam", &owner)
            .await,
    )
    .await;
    assert_eq!(
        references(&folder["complaints"]),
        [too_fast.clone(), honeypot.clone()]
    );
    assert_eq!(folder["complaints"][0]["spam"], "too_fast");
    assert_eq!(folder["complaints"][1]["spam"], "honeypot");
    assert_eq!(harness.store.spam_count(harness.acme).await.unwrap(), 2);

    // Every view of the inbox shows only the person's complaint.
    for query in [
        "",
        "status=open",
        "status=received",
        "assignee=none",
        "category=product",
        "outcome=fix",
        "language=en",
        "q=kettle",
        "q=deals",
        "tag=kettles",
    ] {
        let expected: Vec<String> = if query == "q=deals" {
            Vec::new()
        } else {
            vec![person.clone()]
        };
        assert_eq!(harness.listed(query).await, expected, "{query}");
    }
    // Search finds spam only inside the folder.
    assert_eq!(
        harness.listed("folder=spam&q=deals").await,
        std::slice::from_ref(&honeypot)
    );
    let bad = harness
        .get("/api/v1/inbox/complaints?folder=junk", &owner)
        .await;
    assert_eq!(
        error_code(bad, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_submission"
    );

    // The export, the counts and the figures.
    let export: Value = json_body(harness.get("/api/v1/inbox/export.json", &owner).await).await;
    assert_eq!(
        references(&export["complaints"]),
        std::slice::from_ref(&person)
    );
    let counts = harness
        .store
        .inbox_counts(harness.acme, START)
        .await
        .unwrap();
    assert_eq!(counts.open, 1);
    let now = crate::clock::now_millis();
    let volume = harness
        .store
        .insights_volume(harness.acme, InsightsFilter::default_at(now))
        .await
        .unwrap();
    assert_eq!(volume.total, 1);

    // Nobody was told of the spam: no webhook, no acknowledgement.
    assert_eq!(harness.outbox(&person), 1);
    assert_eq!(harness.mail(&person), 1);
    for spam in [&honeypot, &too_fast] {
        assert_eq!(harness.outbox(spam), 0, "{spam}");
        assert_eq!(harness.mail(spam), 0, "{spam}");
    }

    // Long past every response target, only the person's complaint escalates.
    let due = harness.count(
        "SELECT first_response_due_at FROM complaints WHERE id = ?1",
        &honeypot,
    );
    let escalated = harness
        .store
        .escalate_overdue(&EscalationPolicy::default(), due + 2 * 24 * 60 * 60 * 1000)
        .await
        .unwrap();
    assert!(!escalated.is_empty());
    assert!(
        escalated
            .iter()
            .all(|escalation| escalation.reference == person)
    );
}

#[tokio::test]
async fn restoring_routes_the_complaint_and_sends_the_acknowledgement() {
    let harness = harness().await;
    let spam = harness
        .post(
            "My kettle leaks",
            json!({"honeypot": "x", "fill_ms": 9_000}),
        )
        .await;
    assert_eq!(harness.mail(&spam), 0, "no acknowledgement yet");

    let agent = harness.colleague("agent@acme.example", Role::Agent).await;
    let restore = format!("/api/v1/inbox/complaints/{spam}/restore");
    let response = harness.call(Method::POST, &restore, &agent, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let detail: Value = json_body(response).await;
    assert_eq!(detail["spam"], Value::Null);
    // Routing ran: the rule's tag, its webhook, the timeline.
    assert_eq!(detail["tags"], json!(["kettles"]));
    assert_eq!(harness.outbox(&spam), 1);
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"spam_restored"), "{kinds:?}");
    assert!(kinds.contains(&"tagged"), "{kinds:?}");
    assert_eq!(
        harness.count(
            "SELECT count(*) FROM audit_log WHERE action = 'complaint.spam_restored'
               AND json_extract(detail, '$.reference') = (SELECT reference FROM complaints WHERE id = ?1)",
            &spam,
        ),
        1
    );

    // The shopper's acknowledgement is queued now (the staff clock runs
    // ahead of the mail worker's, so the queue is read, not delivered),
    // with a fresh link that opens the complaint.
    let connection =
        rusqlite::Connection::open(harness.temp.directory.path().join("heard.sqlite3")).unwrap();
    let (kind, recipient, link): (String, String, String) = connection
        .query_row(
            "SELECT m.kind, m.recipient, m.status_url FROM mail_queue m
             JOIN complaints c ON c.id = m.complaint_id WHERE c.reference = ?1",
            [&spam],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(kind, "acknowledgement");
    assert_eq!(recipient, "ana@example.com");
    let token = link.trim_start_matches(&format!("{PUBLIC_URL}/r/"));
    let status = harness
        .send(
            Request::get(format!("/api/v1/receipts/{token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status.status(), StatusCode::OK);

    // It is in the inbox and out of the folder; a second restore is refused.
    assert_eq!(harness.listed("").await, std::slice::from_ref(&spam));
    assert!(harness.listed("folder=spam").await.is_empty());
    let again = harness.call(Method::POST, &restore, &agent, None).await;
    assert_eq!(
        error_code(again, StatusCode::CONFLICT).await,
        "invalid_transition"
    );
    assert_eq!(harness.outbox(&spam), 1, "routed once");
}

#[tokio::test]
async fn viewers_may_look_and_strangers_find_nothing() {
    let harness = harness().await;
    let spam = harness.post("Kettle offer", json!({"fill_ms": 10})).await;
    let restore = format!("/api/v1/inbox/complaints/{spam}/restore");
    let mark = format!("/api/v1/inbox/complaints/{spam}/spam");

    let viewer = harness.colleague("viewer@acme.example", Role::Viewer).await;
    let (status, page) = harness.text(&format!("/inbox/c/{spam}"), &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Suspected spam: sent in under 3 seconds"));
    assert!(!page.contains("data-action=\"restore-spam\""));
    for path in [&restore, &mark] {
        let response = harness.call(Method::POST, path, &viewer, None).await;
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "forbidden"
        );
    }

    let stranger = harness.sign_in(OTHER_OWNER).await;
    for path in [&restore, &mark] {
        let response = harness.call(Method::POST, path, &stranger, None).await;
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "not_found"
        );
    }
    let (status, _) = harness.text("/inbox?folder=spam", &stranger).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(harness.store.spam_count(harness.acme).await.unwrap(), 1);
    let other: Value = json_body(
        harness
            .get("/api/v1/inbox/complaints?folder=spam", &stranger)
            .await,
    )
    .await;
    assert!(references(&other["complaints"]).is_empty());
}

#[tokio::test]
async fn marking_as_spam_hides_a_complaint_until_it_is_restored() {
    let harness = harness().await;
    let reference = harness
        .post("The kettle switch broke", json!({"fill_ms": 60_000}))
        .await;
    assert_eq!(harness.outbox(&reference), 1);
    assert_eq!(harness.mail(&reference), 1);
    let owner = harness.sign_in(ACME_OWNER).await;

    let mark = format!("/api/v1/inbox/complaints/{reference}/spam");
    let marked: Value = json_body(harness.call(Method::POST, &mark, &owner, None).await).await;
    assert_eq!(marked["spam"], "staff");
    assert!(harness.listed("").await.is_empty());
    assert_eq!(
        harness.listed("folder=spam").await,
        std::slice::from_ref(&reference)
    );
    let (status, list_page) = harness.text("/inbox?folder=spam", &owner).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list_page.contains("Spam (1)"));
    assert!(list_page.contains("Suspected spam: marked as spam by staff"));
    let twice = harness.call(Method::POST, &mark, &owner, None).await;
    assert_eq!(
        error_code(twice, StatusCode::CONFLICT).await,
        "invalid_transition"
    );

    let restore = format!("/api/v1/inbox/complaints/{reference}/restore");
    let restored = harness.call(Method::POST, &restore, &owner, None).await;
    assert_eq!(restored.status(), StatusCode::OK);
    assert_eq!(harness.listed("").await, std::slice::from_ref(&reference));
    // Routed and acknowledged at intake already: nothing happens twice.
    assert_eq!(harness.outbox(&reference), 1);
    assert_eq!(harness.mail(&reference), 1);
    let (_, list_page) = harness.text("/inbox", &owner).await;
    assert!(list_page.contains("Spam (0)"));
}
