//! Fuzzing the public surface with proptest, through the real router: the
//! intake endpoint gets arbitrary bytes, arbitrary JSON and mutations of a
//! valid complaint; the status-link routes get arbitrary tokens. Every answer
//! is a created complaint or a 4xx in the shared error shape — never a 5xx,
//! never a panic. (`cargo fuzz` needs nightly; see SECURITY.md.)
//!
//! Case counts are small for CI; `PROPTEST_CASES` raises them, which
//! `cargo xtask fuzz` does.

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use heard_shared::limits::MAX_SUBMISSION_BYTES;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::router;
use super::test_support::{body_bytes, demo_state, solved_proof};
use crate::domain::token::ReceiptToken;
use crate::store::test_support::{TempStore, temp_store};

const SHOP: &str = "https://shop.example";
const PUBLIC_URL: &str = "http://heard.test";
const COMPLAINTS: &str = "/api/v1/sites/demo/complaints";

/// Cases per property: bounded for CI (each valid case commits to SQLite),
/// `PROPTEST_CASES` overrides.
fn config(ci_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(ci_cases);
    Config {
        cases,
        // Failures are reported with their minimal input in the test output;
        // no regression files are written into the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

/// The router over a fresh store, and a runtime to drive it from
/// proptest's synchronous closures.
struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _temp: TempStore,
}

impl Harness {
    fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let temp = temp_store();
        let router = runtime.block_on(async { router(demo_state(&temp, SHOP, PUBLIC_URL).await) });
        Harness {
            runtime,
            router,
            _temp: temp,
        }
    }

    /// Sends `request`; answers the status and the body.
    fn send(&self, request: Request<Body>) -> (StatusCode, Option<HeaderValue>, Vec<u8>) {
        self.runtime.block_on(async {
            let response: Response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
            (status, content_type, body_bytes(response).await)
        })
    }

    fn post_complaint(
        &self,
        body: Vec<u8>,
        content_type: &str,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Option<HeaderValue>, Vec<u8>) {
        // A real solved proof, so that the intake's own checks are reached.
        let proof = self.runtime.block_on(solved_proof(&self.router, "demo"));
        let mut request = Request::post(COMPLAINTS)
            .header(header::ORIGIN, SHOP)
            .header(header::CONTENT_TYPE, content_type)
            .header("Heard-Proof", proof);
        if let Some(key) = idempotency_key.and_then(|key| HeaderValue::from_str(key).ok()) {
            request = request.header("Idempotency-Key", key);
        }
        self.send(request.body(Body::from(body)).unwrap())
    }
}

/// A created complaint, or a refusal the client can read: 4xx with the
/// shared `{error, message}` JSON body.
fn assert_created_or_refused(
    what: &str,
    (status, content_type, body): (StatusCode, Option<HeaderValue>, Vec<u8>),
) -> Result<(), TestCaseError> {
    prop_assert!(
        status == StatusCode::CREATED || status.is_client_error(),
        "{what} got {status}: {}",
        String::from_utf8_lossy(&body)
    );
    if status.is_client_error() {
        prop_assert_eq!(
            content_type.as_ref().and_then(|value| value.to_str().ok()),
            Some("application/json"),
            "{} got {} without the JSON error shape: {}",
            what,
            status,
            String::from_utf8_lossy(&body)
        );
        let error: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        prop_assert!(
            error["error"].as_str().is_some_and(|code| !code.is_empty())
                && error["message"]
                    .as_str()
                    .is_some_and(|text| !text.is_empty()),
            "{what} got {status} with a body that is not the error shape: {error}"
        );
    }
    Ok(())
}

/// Field names the intake knows, and a few it does not.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "category", "description", "outcomes", "remedy", "severity", "mood", "language",
            "page_url", "user_agent", "answers", "contact", "kind", "callback", "attachments",
            "identity", "name", "email", "phone", "consent", "window", "signature",
        ])
        .prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |number| number.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "product",
            "en",
            "fix",
            "callback",
            "serious",
            "https://x.example/"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

fn valid_complaint() -> Map<String, Value> {
    let value = json!({
        "category": "product",
        "description": "The kettle stopped working after three uses.",
        "outcomes": ["fix"],
        "language": "en",
        "page_url": "https://shop.example/kettle",
        "contact": { "name": "Ana", "email": "ana@example.com", "consent": true },
        "answers": { "order_number": "A-1" },
    });
    match value {
        Value::Object(fields) => fields,
        _ => unreachable!("a JSON object literal"),
    }
}

/// A valid complaint with some fields replaced, removed or added.
fn mutated_complaint() -> impl Strategy<Value = Value> {
    prop::collection::vec((field_name(), prop::option::of(json_value())), 1..5).prop_map(
        |changes| {
            let mut fields = valid_complaint();
            for (name, value) in changes {
                match value {
                    Some(value) => fields.insert(name, value),
                    None => fields.remove(&name),
                };
            }
            Value::Object(fields)
        },
    )
}

/// Bytes a client might send: random, or JSON cut short or spliced.
fn body_bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    let valid = serde_json::to_vec(&Value::Object(valid_complaint())).unwrap();
    let cut = valid.clone();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        (0..valid.len()).prop_map(move |end| cut[..end].to_vec()),
        (
            0..valid.len(),
            prop::collection::vec(any::<u8>(), 1..8),
            0..4usize
        )
            .prop_map(move |(at, bytes, removed)| {
                let mut spliced = valid.clone();
                let end = (at + removed).min(spliced.len());
                spliced.splice(at..end, bytes);
                spliced
            }),
        // Deep nesting: the parser's recursion limit, not the stack, must stop it.
        (1..2_000usize).prop_map(|depth| {
            let mut nested = "[".repeat(depth).into_bytes();
            nested.extend(std::iter::repeat_n(b']', depth));
            nested
        }),
    ]
}

#[test]
fn arbitrary_bytes_to_the_intake_are_refused_never_a_5xx() {
    let harness = Harness::new();
    let content_type = prop::sample::select(vec![
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "",
    ]);
    let key = prop::option::of("[ -~]{0,140}");
    TestRunner::new(config(96))
        .run(
            &(body_bytes_strategy(), content_type, key),
            |(body, content_type, key)| {
                assert_created_or_refused(
                    "arbitrary bytes",
                    harness.post_complaint(body, content_type, key.as_deref()),
                )
            },
        )
        .unwrap();
}

#[test]
fn arbitrary_json_to_the_intake_is_refused_never_a_5xx() {
    let harness = Harness::new();
    TestRunner::new(config(96))
        .run(&json_value(), |value| {
            assert_created_or_refused(
                &format!("{value}"),
                harness.post_complaint(
                    serde_json::to_vec(&value).unwrap(),
                    "application/json",
                    None,
                ),
            )
        })
        .unwrap();
}

#[test]
fn mutated_complaints_are_created_or_refused_never_a_5xx() {
    let harness = Harness::new();
    let created = std::cell::Cell::new(0);
    let refused = std::cell::Cell::new(0);
    TestRunner::new(config(128))
        .run(&(mutated_complaint(), any::<u64>()), |(value, key)| {
            let answer = harness.post_complaint(
                serde_json::to_vec(&value).unwrap(),
                "application/json",
                Some(&format!("fuzz-key-{key:016x}")),
            );
            if answer.0 == StatusCode::CREATED {
                created.set(created.get() + 1);
            } else {
                refused.set(refused.get() + 1);
            }
            assert_created_or_refused(&format!("{value}"), answer)
        })
        .unwrap();
    // Both verdicts were reached, so neither branch passed vacuously.
    let (created, refused) = (created.get(), refused.get());
    assert!(
        created > 0 && refused > 0,
        "{created} created, {refused} refused"
    );
}

#[test]
fn an_oversized_body_is_refused_with_413() {
    let harness = Harness::new();
    let mut fields = valid_complaint();
    fields.insert(
        "description".to_owned(),
        Value::from("x".repeat(MAX_SUBMISSION_BYTES)),
    );
    let (status, content_type, _) = harness.post_complaint(
        serde_json::to_vec(&Value::Object(fields)).unwrap(),
        "application/json",
        None,
    );
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(content_type.unwrap(), "application/json");
}

/// Percent-encodes everything but unreserved characters, so any text can be
/// one path segment.
fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// Tokens: random text, text of a token's length and alphabet, and real
/// tokens with one character changed.
fn token_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,60}",
        "[A-Za-z0-9_=+/-]{43}",
        (any::<[u8; 32]>(), 0..43usize, "[A-Za-z0-9_-]").prop_map(|(bytes, at, symbol)| {
            let mut text = URL_SAFE_NO_PAD.encode(bytes);
            text.replace_range(at..at + 1, &symbol);
            text
        }),
    ]
}

#[test]
fn any_text_parses_as_a_token_only_in_its_one_canonical_form() {
    TestRunner::new(config(1_000))
        .run(&token_text(), |text| {
            if let Some(token) = ReceiptToken::parse(&text) {
                prop_assert_eq!(token.encode(), text);
            }
            Ok(())
        })
        .unwrap();
    TestRunner::new(config(256))
        .run(&any::<[u8; 32]>(), |bytes| {
            // Every 32 bytes make a token, which reads back as the same link.
            let text = URL_SAFE_NO_PAD.encode(bytes);
            let token = ReceiptToken::parse(&text);
            prop_assert!(token.is_some(), "{text} did not parse");
            prop_assert_eq!(token.map(|token| token.encode()), Some(text));
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_status_links_answer_404_never_a_5xx() {
    let harness = Harness::new();
    let pages = prop::sample::select(vec![
        "/r/{}",
        "/r/{}/reply",
        "/r/{}/resolve",
        "/r/{}/delete",
        "/api/v1/receipts/{}",
        "/api/v1/receipts/{}/export",
    ]);
    TestRunner::new(config(128))
        .run(&(pages, token_text()), |(page, token)| {
            let path = page.replace("{}", &path_segment(&token));
            let (status, _, body) = harness.send(Request::get(&path).body(Body::empty()).unwrap());
            prop_assert!(
                status.is_client_error(),
                "GET {path} got {status}: {}",
                String::from_utf8_lossy(&body)
            );
            Ok(())
        })
        .unwrap();
}
