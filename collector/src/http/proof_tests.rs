//! Proof of work on the site API, attacked as tests (issue 9): every way a
//! client could get a complaint in without solving a challenge of this
//! site, once, in time — and the retries that must still work.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use heard_shared::limits::{CHALLENGE_LIFETIME_SECONDS, PROOF_HEADER_MAX_BYTES};
use heard_shared::proof::Proof;
use heard_shared::{Challenge, ErrorBody, Receipt, SiteConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::router;
use super::test_support::{
    LIGHT_PROOF_POLICY, assert_origin_refused, demo_state, error_body, json_body,
};
use crate::clock::Clock;
use crate::domain::accounts::{Accounts, LIGHT_PASSWORD_PARAMS};
use crate::domain::proof::{ProofOfWork, ProofPolicy, solve};
use crate::store::NewSite;
use crate::store::test_support::{TempStore, temp_store};

const SHOP: &str = "https://shop.example";
const PUBLIC_URL: &str = "http://heard.test";
const START: i64 = 1_800_000_000_000;

struct Harness {
    temp: TempStore,
    router: axum::Router,
    clock: Clock,
}

async fn harness_with(policy: ProofPolicy) -> Harness {
    let temp = temp_store();
    let clock = Clock::manual(START);
    let state = demo_state(&temp, SHOP, PUBLIC_URL)
        .await
        .with_clock(clock.clone())
        .with_proof_of_work(ProofOfWork::new(policy));
    // A second merchant's site on the same shop origin.
    temp.store
        .add_site(NewSite {
            merchant: "Other merchant".to_owned(),
            key: "other".to_owned(),
            name: "Other shop".to_owned(),
            allowed_origins: vec![SHOP.to_owned()],
            config: SiteConfig::with_defaults("other", "Other shop"),
        })
        .await
        .unwrap();
    Harness {
        router: router(state),
        temp,
        clock,
    }
}

async fn harness() -> Harness {
    harness_with(LIGHT_PROOF_POLICY).await
}

fn complaint(text: &str) -> Value {
    json!({
        "category": "product",
        "description": text,
        "outcomes": ["fix"],
        "language": "en",
    })
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    async fn challenge(&self, site_key: &str) -> Challenge {
        let response = self
            .send(
                Request::get(format!("/api/v1/sites/{site_key}/challenge"))
                    .header(header::ORIGIN, SHOP)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        json_body(response).await
    }

    /// A fresh challenge of `site_key`, solved.
    async fn proof(&self, site_key: &str) -> Proof {
        let challenge = self.challenge(site_key).await;
        Proof {
            number: solve(&challenge).unwrap(),
            salt: challenge.salt,
            signature: challenge.signature,
        }
    }

    /// Posts `body` to the demo site with these raw headers.
    async fn post(&self, body: &Value, headers: &[(&str, HeaderValue)]) -> Response {
        let mut request = Request::post("/api/v1/sites/demo/complaints")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, SHOP);
        for (name, value) in headers {
            request = request.header(*name, value.clone());
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    async fn post_with(&self, body: &Value, proof: &str) -> Response {
        self.post(
            body,
            &[("Heard-Proof", HeaderValue::from_str(proof).unwrap())],
        )
        .await
    }

    async fn post_keyed(&self, body: &Value, proof: &str, key: &str) -> Response {
        self.post(
            body,
            &[
                ("Heard-Proof", HeaderValue::from_str(proof).unwrap()),
                ("Idempotency-Key", HeaderValue::from_str(key).unwrap()),
            ],
        )
        .await
    }

    fn count(&self, table: &str) -> i64 {
        let path = self.temp.directory.path().join("heard.sqlite3");
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    }
}

/// Asserts a refusal of the proof: the status, the code, the field, and a
/// message that tells the client where to get a new challenge.
async fn assert_refused(response: Response, status: StatusCode, code: &str) -> ErrorBody {
    let error = error_body(response, status).await;
    assert_eq!(error.error, code, "{}", error.message);
    assert_eq!(error.fields.len(), 1);
    assert_eq!(error.fields[0].field, "Heard-Proof");
    assert!(
        error.message.contains("/api/v1/sites/demo/challenge"),
        "{}",
        error.message
    );
    error
}

#[tokio::test]
async fn a_solved_challenge_lets_a_complaint_in_and_is_spent_with_it() {
    let harness = harness().await;
    let proof = harness.proof("demo").await;
    let response = harness
        .post_with(&complaint("The kettle leaks."), &proof.header_value())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(harness.count("complaints"), 1);
    assert_eq!(harness.count("spent_proofs"), 1);
}

#[tokio::test]
async fn a_complaint_without_a_proof_is_refused_and_told_where_to_get_one() {
    let harness = harness().await;
    let response = harness.post(&complaint("No proof at all."), &[]).await;
    let error = assert_refused(response, StatusCode::UNPROCESSABLE_ENTITY, "proof_required").await;
    assert_eq!(error.fields[0].code, "required");
    assert_eq!(harness.count("complaints"), 0);
}

#[tokio::test]
async fn garbled_and_oversized_proofs_are_invalid() {
    let harness = harness().await;
    let proof = harness.proof("demo").await;
    let genuine = proof.header_value();
    // Leading zeros keep the number, so only the length is wrong here.
    let oversized = format!(
        "{}:{}{}:{}",
        proof.salt,
        "0".repeat(PROOF_HEADER_MAX_BYTES),
        proof.number,
        proof.signature
    );
    for value in [
        HeaderValue::from_static("nonsense"),
        HeaderValue::from_static("a.1.2:7"),
        HeaderValue::from_static("zz.1.2:7:00"),
        HeaderValue::from_str(&genuine.replace(':', ";")).unwrap(),
        HeaderValue::from_str(&oversized).unwrap(),
        HeaderValue::from_bytes(b"\xff\xfe:1:\xff").unwrap(),
    ] {
        let response = harness
            .post(&complaint("Garbled."), &[("Heard-Proof", value.clone())])
            .await;
        assert_refused(response, StatusCode::UNPROCESSABLE_ENTITY, "proof_invalid").await;
    }
    assert_eq!(harness.count("complaints"), 0);
    // The genuine proof was not used up by any of that.
    let response = harness.post_with(&complaint("Garbled."), &genuine).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_proof_for_another_site_a_forged_signature_or_a_wrong_number_is_invalid() {
    let harness = harness().await;
    // Solved, but for the other merchant's site.
    let other = harness.proof("other").await;
    let response = harness
        .post_with(&complaint("Other site."), &other.header_value())
        .await;
    assert_refused(response, StatusCode::UNPROCESSABLE_ENTITY, "proof_invalid").await;

    // One hex digit of the signature changed.
    let mut forged = harness.proof("demo").await;
    let flipped = if forged.signature.starts_with('0') {
        "1"
    } else {
        "0"
    };
    forged.signature.replace_range(0..1, flipped);
    let response = harness
        .post_with(&complaint("Forged."), &forged.header_value())
        .await;
    assert_refused(response, StatusCode::UNPROCESSABLE_ENTITY, "proof_invalid").await;

    // The right challenge, the wrong number (a client that did not solve).
    let mut unsolved = harness.proof("demo").await;
    unsolved.number = (unsolved.number + 1) % (LIGHT_PROOF_POLICY.base_maxnumber + 1);
    let response = harness
        .post_with(&complaint("Guessed."), &unsolved.header_value())
        .await;
    assert_refused(response, StatusCode::UNPROCESSABLE_ENTITY, "proof_invalid").await;

    // A salt with a later expiry than the one signed.
    let mut stretched = harness.proof("demo").await;
    let (random, rest) = stretched.salt.split_once('.').unwrap();
    let issued: i64 = rest.split('.').next().unwrap().parse().unwrap();
    stretched.salt = format!(
        "{random}.{issued}.{}",
        issued + 10 * CHALLENGE_LIFETIME_SECONDS
    );
    let response = harness
        .post_with(&complaint("Stretched."), &stretched.header_value())
        .await;
    assert_refused(response, StatusCode::UNPROCESSABLE_ENTITY, "proof_invalid").await;

    assert_eq!(harness.count("complaints"), 0);
    assert_eq!(harness.count("spent_proofs"), 0);
}

#[tokio::test]
async fn a_proof_expires_with_its_challenge() {
    let harness = harness().await;
    let late = harness.proof("demo").await.header_value();
    // A second before the end a proof still does.
    let in_time = harness.proof("demo").await.header_value();
    harness
        .clock
        .advance(CHALLENGE_LIFETIME_SECONDS * 1000 - 1000);
    let response = harness
        .post_with(&complaint("Just in time."), &in_time)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    harness.clock.advance(1000);
    let response = harness.post_with(&complaint("Too late."), &late).await;
    assert_refused(response, StatusCode::UNPROCESSABLE_ENTITY, "proof_expired").await;
    assert_eq!(harness.count("complaints"), 1);
}

#[tokio::test]
async fn a_spent_proof_replayed_by_another_request_is_refused_and_stores_nothing() {
    let harness = harness().await;
    let proof = harness.proof("demo").await.header_value();
    let first = harness
        .post_keyed(&complaint("The first complaint."), &proof, "key-first")
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    // The same proof with another body, with another key, and with none.
    let response = harness
        .post_keyed(&complaint("A second complaint."), &proof, "key-second")
        .await;
    let error = assert_refused(response, StatusCode::CONFLICT, "proof_used").await;
    assert_eq!(error.fields[0].code, "used");
    let response = harness
        .post_with(&complaint("The first complaint."), &proof)
        .await;
    assert_refused(response, StatusCode::CONFLICT, "proof_used").await;
    assert_eq!(harness.count("complaints"), 1);
    assert_eq!(harness.count("idempotency_keys"), 1);
}

#[tokio::test]
async fn a_retry_with_the_same_key_gets_its_first_receipt_though_the_proof_is_spent() {
    let harness = harness().await;
    let proof = harness.proof("demo").await.header_value();
    let body = complaint("The answer to this one was lost on the way.");
    let first = harness.post_keyed(&body, &proof, "key-retry").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Receipt = json_body(first).await;

    let retry = harness.post_keyed(&body, &proof, "key-retry").await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Receipt = json_body(retry).await;
    assert_eq!(retry, first);
    assert_eq!(harness.count("complaints"), 1);
    assert_eq!(harness.count("spent_proofs"), 1);

    // Hours later the proof has expired: the retry must solve a new
    // challenge, and with it still finds its first receipt.
    harness.clock.advance(CHALLENGE_LIFETIME_SECONDS * 1000);
    let late = harness.post_keyed(&body, &proof, "key-retry").await;
    assert_refused(late, StatusCode::UNPROCESSABLE_ENTITY, "proof_expired").await;
    let fresh = harness.proof("demo").await.header_value();
    let late = harness.post_keyed(&body, &fresh, "key-retry").await;
    assert_eq!(late.status(), StatusCode::CREATED);
    assert_eq!(late.headers()["idempotent-replayed"], "true");
    assert_eq!(json_body::<Receipt>(late).await, first);
    assert_eq!(harness.count("complaints"), 1);
    // The replay spent nothing: the fresh proof still admits a new complaint.
    let other = harness
        .post_with(&complaint("A new complaint with it."), &fresh)
        .await;
    assert_eq!(other.status(), StatusCode::CREATED);
    assert_eq!(harness.count("complaints"), 2);
}

#[tokio::test]
async fn a_refused_submission_does_not_use_up_its_proof() {
    let harness = harness().await;
    let proof = harness.proof("demo").await.header_value();
    let response = harness
        .post_with(&json!({"category": "product", "description": ""}), &proof)
        .await;
    assert_eq!(
        error_body(response, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .error,
        "invalid_submission"
    );
    let response = harness.post_with(&complaint("Corrected."), &proof).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn difficulty_rises_with_the_challenges_of_the_last_minute_and_falls_back() {
    let harness = harness_with(ProofPolicy {
        base_maxnumber: 50,
        calm_per_minute: 4,
        max_factor: 8,
        required: true,
    })
    .await;
    let mut maxnumbers = Vec::new();
    for _ in 0..40 {
        maxnumbers.push(harness.challenge("demo").await.maxnumber);
    }
    assert_eq!(maxnumbers[0], 50);
    assert_eq!(maxnumbers[7], 100, "8 a minute is twice calm");
    assert_eq!(maxnumbers[15], 200);
    assert_eq!(maxnumbers[31], 400);
    assert_eq!(maxnumbers[39], 400, "capped at 8×");
    // Harder challenges are still solvable and accepted.
    let hard = harness.challenge("demo").await;
    assert_eq!(hard.maxnumber, 400);
    let proof = Proof {
        number: solve(&hard).unwrap(),
        salt: hard.salt,
        signature: hard.signature,
    };
    let response = harness
        .post_with(&complaint("Under load."), &proof.header_value())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // The other site was not made harder by this one's load.
    assert_eq!(harness.challenge("other").await.maxnumber, 50);
    // Half a minute on the load is still there; a minute on it is gone.
    harness.clock.advance(30_000);
    assert_eq!(harness.challenge("demo").await.maxnumber, 400);
    harness.clock.advance(30_000);
    assert_eq!(harness.challenge("demo").await.maxnumber, 50);
}

#[tokio::test]
async fn challenges_are_never_cached_and_granted_to_allowed_origins_only() {
    let harness = harness().await;
    let response = harness
        .send(
            Request::get("/api/v1/sites/demo/challenge")
                .header(header::ORIGIN, SHOP)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        SHOP
    );
    let first: Challenge = json_body(response).await;
    let second = harness.challenge("demo").await;
    assert_ne!(first.salt, second.salt, "every challenge is new");

    let response = harness
        .send(
            Request::get("/api/v1/sites/demo/challenge")
                .header(header::ORIGIN, "https://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_origin_refused(response).await;
    let response = harness
        .send(
            Request::get("/api/v1/sites/nope/challenge")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        error_body(response, StatusCode::NOT_FOUND).await.error,
        "unknown_site"
    );

    // The widget may send the proof header cross-origin.
    let preflight = harness
        .send(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/api/v1/sites/demo/complaints")
                .header(header::ORIGIN, SHOP)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .header(
                    header::ACCESS_CONTROL_REQUEST_HEADERS,
                    "content-type, heard-proof",
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    let allowed = preflight.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap();
    assert!(allowed.contains("heard-proof"), "{allowed}");
}

#[tokio::test]
async fn without_the_requirement_complaints_need_no_proof() {
    let harness = harness_with(ProofPolicy {
        required: false,
        ..LIGHT_PROOF_POLICY
    })
    .await;
    let response = harness.post(&complaint("No proof needed."), &[]).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(harness.count("spent_proofs"), 0);
}

#[tokio::test]
async fn the_janitor_forgets_spent_proofs_once_they_expired() {
    let harness = harness().await;
    let proof = harness.proof("demo").await.header_value();
    let response = harness.post_with(&complaint("Swept later."), &proof).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let accounts = Accounts::new(harness.temp.store.clone(), LIGHT_PASSWORD_PARAMS).unwrap();
    let sweep = |at: i64| crate::domain::janitor::sweep(&harness.temp.store, &accounts, at);

    sweep(harness.clock.now_millis() + CHALLENGE_LIFETIME_SECONDS * 1000 - 1000).await;
    assert_eq!(harness.count("spent_proofs"), 1, "still live: kept");
    sweep(harness.clock.now_millis() + CHALLENGE_LIFETIME_SECONDS * 1000).await;
    assert_eq!(harness.count("spent_proofs"), 0, "expired: forgotten");
    // And the replay after that is refused as expired, not let in.
    harness.clock.advance(CHALLENGE_LIFETIME_SECONDS * 1000);
    let response = harness
        .post_with(&complaint("Replayed late."), &proof)
        .await;
    assert_refused(response, StatusCode::UNPROCESSABLE_ENTITY, "proof_expired").await;
    assert_eq!(harness.count("complaints"), 1);
}

#[tokio::test]
async fn the_settings_choose_the_policy_and_unusable_ones_stop_the_start() {
    let settings = crate::Settings::default()
        .with_environment(|name| match name {
            "HEARD_PROOF_OF_WORK_REQUIRED" => Some("false".to_owned()),
            "HEARD_PROOF_OF_WORK_BASE_MAXNUMBER" => Some("2000".to_owned()),
            "HEARD_PROOF_OF_WORK_CALM_PER_MINUTE" => Some("30".to_owned()),
            "HEARD_PROOF_OF_WORK_MAX_FACTOR" => Some("8".to_owned()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        ProofPolicy::from_settings(&settings),
        Ok(ProofPolicy {
            required: false,
            base_maxnumber: 2000,
            calm_per_minute: 30,
            max_factor: 8,
        })
    );
    assert_eq!(
        ProofPolicy::from_settings(&crate::Settings::default()),
        Ok(ProofPolicy::DEFAULT)
    );

    // A difficulty no phone could meet refuses to start, naming the setting.
    let directory = tempfile::tempdir().unwrap();
    let settings = crate::Settings {
        database: directory.path().join("heard.sqlite3"),
        proof_of_work_base_maxnumber: 0,
        ..crate::Settings::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = crate::serve(&settings, listener, async {})
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("proof_of_work_base_maxnumber"), "{error}");
    assert!(
        !settings.database.exists(),
        "nothing was opened before the settings were checked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_proof_sent_with_many_complaints_at_once_admits_exactly_one() {
    let harness = std::sync::Arc::new(harness().await);
    let proof = harness.proof("demo").await.header_value();
    let sends: Vec<_> = (0..8)
        .map(|number| {
            let (harness, proof) = (std::sync::Arc::clone(&harness), proof.clone());
            tokio::spawn(async move {
                harness
                    .post_keyed(
                        &complaint(&format!("Racing complaint {number}.")),
                        &proof,
                        &format!("key-race-{number}"),
                    )
                    .await
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for send in sends {
        statuses.push(send.await.unwrap());
    }
    let created = statuses
        .iter()
        .filter(|status| **status == StatusCode::CREATED)
        .count();
    let used = statuses
        .iter()
        .filter(|status| **status == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, used), (1, 7), "{statuses:?}");
    assert_eq!(harness.count("complaints"), 1);
    assert_eq!(harness.count("idempotency_keys"), 1);
}
