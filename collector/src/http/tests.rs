//! HTTP tests through `router().oneshot()`, on a real SQLite file.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use heard_shared::limits::MAX_SUBMISSION_BYTES;
use heard_shared::{Receipt, SiteConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::router;
use super::test_support::{
    assert_origin_refused, body_bytes, demo_state, error_body, json_body, solved_proof,
};
use crate::store::test_support::{TempStore, temp_store};

const SHOP: &str = "https://shop.example";
const PUBLIC_URL: &str = "http://heard.test";

struct Harness {
    temp: TempStore,
    router: axum::Router,
}

async fn harness() -> Harness {
    let temp = temp_store();
    let state = demo_state(&temp, SHOP, PUBLIC_URL).await;
    Harness {
        router: router(state),
        temp,
    }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    async fn post_complaint(&self, body: &Value, key: Option<&str>) -> Response {
        let mut request = Request::post("/api/v1/sites/demo/complaints")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, SHOP)
            .header("Heard-Proof", solved_proof(&self.router, "demo").await);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }
}

fn complaint() -> Value {
    json!({
        "category": "product",
        "description": "The soy-milk maker failed after three uses.",
        "outcomes": ["fix"],
        "language": "en",
        "page_url": "https://shop.example/soy-milk-maker"
    })
}

#[tokio::test]
async fn a_complaint_is_stored_and_answered_with_a_receipt() {
    let harness = harness().await;
    let response = harness.post_complaint(&complaint(), None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        SHOP
    );
    let exposed = response.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap();
    assert!(exposed.contains("retry-after"), "{exposed}");
    let receipt: Receipt = json_body(response).await;
    assert!(heard_shared::Reference::parse(&receipt.reference).is_some());
    assert!(receipt.status_url.starts_with("http://heard.test/r/"));
    assert_eq!(receipt.summary.category_label, "Product problem");
    let stored = harness
        .temp
        .store
        .complaint_by_reference(&receipt.reference)
        .await
        .unwrap();
    assert_eq!(
        stored.unwrap().description,
        "The soy-milk maker failed after three uses."
    );
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_same_receipt_and_stores_nothing_twice() {
    let harness = harness().await;
    let key = "6f1e0a3c-7f4e-4b8c-9d2a-0e5b1c3d4f6a";
    let first = harness.post_complaint(&complaint(), Some(key)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Receipt = json_body(first).await;

    let retry = harness.post_complaint(&complaint(), Some(key)).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Receipt = json_body(retry).await;
    assert_eq!(retry, first);
    assert_eq!(count_complaints(&harness), 1);
}

#[tokio::test]
async fn a_retry_with_the_same_key_and_a_different_body_is_rejected() {
    let harness = harness().await;
    let key = "0b7c7e86-1c9a-4d5e-8f20-3a4b5c6d7e8f";
    assert_eq!(
        harness
            .post_complaint(&complaint(), Some(key))
            .await
            .status(),
        StatusCode::CREATED
    );
    let mut different = complaint();
    different["description"] = json!("Something else entirely");
    let response = harness.post_complaint(&different, Some(key)).await;
    assert_eq!(
        error_body(response, StatusCode::CONFLICT).await.error,
        "idempotency_conflict"
    );
    assert_eq!(count_complaints(&harness), 1);
}

#[tokio::test]
async fn an_unknown_site_is_404() {
    let harness = harness().await;
    for (method, path) in [
        (Method::GET, "/api/v1/sites/nope/config"),
        (Method::POST, "/api/v1/sites/nope/complaints"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(complaint().to_string()))
            .unwrap();
        let response = harness.send(request).await;
        assert_eq!(
            error_body(response, StatusCode::NOT_FOUND).await.error,
            "unknown_site"
        );
    }
}

#[tokio::test]
async fn an_oversize_body_is_413_and_nothing_is_stored() {
    let harness = harness().await;
    let mut huge = complaint();
    huge["description"] = json!("x".repeat(MAX_SUBMISSION_BYTES));
    let response = harness.post_complaint(&huge, None).await;
    let error = error_body(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(error.error, "payload_too_large");
    assert!(error.message.contains(&MAX_SUBMISSION_BYTES.to_string()));
    assert_eq!(count_complaints(&harness), 0);
}

#[tokio::test]
async fn a_disallowed_origin_gets_no_cors_grant() {
    let harness = harness().await;
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/v1/sites/demo/complaints")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::empty())
        .unwrap();
    let response = harness.send(preflight).await;
    assert_origin_refused(response).await;

    let post = Request::post("/api/v1/sites/demo/complaints")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from(complaint().to_string()))
        .unwrap();
    let response = harness.send(post).await;
    assert_origin_refused(response).await;
    assert_eq!(count_complaints(&harness), 0);
}

#[tokio::test]
async fn an_allowed_origin_gets_a_preflight_grant() {
    let harness = harness().await;
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/v1/sites/demo/complaints")
        .header(header::ORIGIN, SHOP)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type, idempotency-key",
        )
        .body(Body::empty())
        .unwrap();
    let response = harness.send(preflight).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], SHOP);
    assert!(
        headers[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("idempotency-key")
    );
}

#[tokio::test]
async fn malformed_json_is_400_with_the_error_shape() {
    let harness = harness().await;
    let request = Request::post("/api/v1/sites/demo/complaints")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"category\": \"product\", "))
        .unwrap();
    let error = error_body(harness.send(request).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error.error, "malformed_json");
}

#[tokio::test]
async fn wrong_content_type_is_415_and_wrong_shape_is_422() {
    let harness = harness().await;
    let request = Request::post("/api/v1/sites/demo/complaints")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(complaint().to_string()))
        .unwrap();
    let error = error_body(
        harness.send(request).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(error.error, "unsupported_media_type");

    let response = harness.post_complaint(&json!({"category": 7}), None).await;
    assert_eq!(
        error_body(response, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .error,
        "invalid_submission"
    );
}

#[tokio::test]
async fn validation_failures_name_every_field() {
    let harness = harness().await;
    let mut invalid = complaint();
    invalid["description"] = json!("   ");
    invalid["category"] = json!("spaceship");
    let error = error_body(
        harness.post_complaint(&invalid, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = error
        .fields
        .iter()
        .map(|field| field.field.as_str())
        .collect();
    assert_eq!(fields, ["category", "description"]);
}

#[tokio::test]
async fn a_bad_idempotency_key_is_400() {
    let harness = harness().await;
    let response = harness.post_complaint(&complaint(), Some("tiny")).await;
    let error = error_body(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(error.error, "invalid_header");
    assert_eq!(error.fields[0].field, "Idempotency-Key");
}

#[tokio::test]
async fn the_site_config_is_served_to_allowed_origins() {
    let harness = harness().await;
    let request = Request::get("/api/v1/sites/demo/config")
        .header(header::ORIGIN, SHOP)
        .body(Body::empty())
        .unwrap();
    let response = harness.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        SHOP
    );
    let config: SiteConfig = json_body(response).await;
    assert_eq!(config.site_key, "demo");
    assert_eq!(config.categories.len(), 8);
}

#[tokio::test]
async fn the_receipt_page_shows_the_complaint_escaped_and_private() {
    let harness = harness().await;
    let mut hostile = complaint();
    hostile["description"] = json!("<script>alert('x')</script> the lid \"melted\"");
    let receipt: Receipt = json_body(harness.post_complaint(&hostile, None).await).await;
    let path = receipt.status_url.strip_prefix(PUBLIC_URL).unwrap();

    let response = harness
        .send(Request::get(path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(headers["x-robots-tag"], "noindex, nofollow");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let html = String::from_utf8(body_bytes(response).await).unwrap();
    assert!(html.contains(&receipt.reference));
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; the lid &quot;melted&quot;")
    );
    assert!(!html.contains("<script>"));
}

#[tokio::test]
async fn unknown_and_malformed_receipt_tokens_get_the_same_404() {
    let harness = harness().await;
    let mut pages = Vec::new();
    for path in [
        "/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/r/not-a-token",
    ] {
        let response = harness
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        pages.push(body_bytes(response).await);
    }
    assert_eq!(pages[0], pages[1]);
}

#[tokio::test]
async fn health_answers_and_unknown_paths_are_json_404() {
    let harness = harness().await;
    let response = harness
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let response = harness
        .send(Request::get("/nowhere").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        error_body(response, StatusCode::NOT_FOUND).await.error,
        "not_found"
    );
}

fn count_complaints(harness: &Harness) -> i64 {
    let path = harness.temp.directory.path().join("heard.sqlite3");
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .query_row("SELECT count(*) FROM complaints", [], |row| row.get(0))
        .unwrap()
}

// --- photos ---------------------------------------------------------------

impl Harness {
    async fn upload(&self, content_type: &str, body: Vec<u8>) -> Response {
        let request = Request::post("/api/v1/sites/demo/attachments")
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ORIGIN, SHOP)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    async fn uploaded_id(&self) -> String {
        let response = self
            .upload("image/jpeg", crate::domain::photos::tests::jpeg(40, 30))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        json_body::<heard_shared::AttachmentReceipt>(response)
            .await
            .id
    }

    fn query_one(&self, sql: &str, reference: &str) -> i64 {
        let path = self.temp.directory.path().join("heard.sqlite3");
        let connection = rusqlite::Connection::open(path).unwrap();
        connection
            .query_row(sql, [reference], |row| row.get(0))
            .unwrap()
    }
}

#[tokio::test]
async fn a_photo_is_stored_re_encoded_and_claimed_by_its_complaint() {
    let harness = harness().await;
    let response = harness
        .upload("image/jpeg", crate::domain::photos::tests::jpeg(40, 30))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        SHOP
    );
    let photo: heard_shared::AttachmentReceipt = json_body(response).await;
    assert!(photo.id.starts_with("att_") && photo.id.len() >= 26);
    assert_eq!(
        (photo.width, photo.height, photo.content_type.as_str()),
        (40, 30, "image/jpeg")
    );

    let mut with_photo = complaint();
    with_photo["attachments"] = json!([photo.id]);
    let receipt: Receipt = json_body(harness.post_complaint(&with_photo, None).await).await;
    let claimed = harness.query_one(
        "SELECT count(*) FROM attachments a JOIN complaints c ON c.id = a.complaint_id
         WHERE c.reference = ?1",
        &receipt.reference,
    );
    assert_eq!(claimed, 1);

    // The receipt page says a photo came with it.
    let path = receipt.status_url.strip_prefix(PUBLIC_URL).unwrap();
    let html = body_bytes(
        harness
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await,
    )
    .await;
    assert!(String::from_utf8(html).unwrap().contains("1 attached"));
}

#[tokio::test]
async fn a_photo_cannot_be_claimed_twice_or_invented() {
    let harness = harness().await;
    let id = harness.uploaded_id().await;
    let mut first = complaint();
    first["attachments"] = json!([id]);
    assert_eq!(
        harness.post_complaint(&first, None).await.status(),
        StatusCode::CREATED
    );

    let mut second = complaint();
    second["description"] = json!("Another complaint reusing the photo");
    second["attachments"] = json!([id]);
    let error = error_body(
        harness.post_complaint(&second, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error.fields[0].field, "attachments.0");
    assert_eq!(
        count_complaints(&harness),
        1,
        "the refused complaint left nothing behind"
    );

    let mut invented = complaint();
    invented["attachments"] = json!(["att_AAAAAAAAAAAAAAAAAAAAAA"]);
    let error = error_body(
        harness.post_complaint(&invented, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error.fields[0].code, "unknown");
}

#[tokio::test]
async fn a_photo_uploaded_to_one_site_cannot_be_claimed_by_another() {
    let harness = harness().await;
    let id = harness.uploaded_id().await;
    harness
        .temp
        .store
        .add_site(crate::store::NewSite {
            merchant: "Other merchant".to_owned(),
            key: "other".to_owned(),
            name: "Other shop".to_owned(),
            allowed_origins: vec![],
            config: SiteConfig::with_defaults("other", "Other shop"),
        })
        .await
        .unwrap();
    let mut stolen = complaint();
    stolen["attachments"] = json!([id]);
    let request = Request::post("/api/v1/sites/other/complaints")
        .header(header::CONTENT_TYPE, "application/json")
        .header("Heard-Proof", solved_proof(&harness.router, "other").await)
        .body(Body::from(stolen.to_string()))
        .unwrap();
    let error = error_body(
        harness.send(request).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error.fields[0].field, "attachments.0");
}

#[tokio::test]
async fn uploads_that_are_not_photos_are_refused_with_clear_errors() {
    let harness = harness().await;
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let error = error_body(
        harness.upload("image/svg+xml", svg.clone()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(error.error, "not_a_photo");
    // Lying about the type does not help: the content decides.
    let error = error_body(
        harness.upload("image/jpeg", svg).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(error.error, "not_a_photo");

    let broken = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0, 0];
    let error = error_body(
        harness.upload("image/jpeg", broken).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error.error, "unreadable_photo");

    let huge = vec![0xFF; heard_shared::limits::MAX_ATTACHMENT_BYTES + 1];
    let error = error_body(
        harness.upload("image/jpeg", huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(error.error, "payload_too_large");
    assert_eq!(
        harness.query_one("SELECT count(*) FROM attachments WHERE ?1 = ?1", ""),
        0
    );
}

// --- callbacks and identities -----------------------------------------------

#[tokio::test]
async fn a_callback_request_gets_a_receipt_and_keeps_its_window() {
    let harness = harness().await;
    let callback = json!({
        "kind": "callback",
        "category": "",
        "description": "",
        "language": "en",
        "contact": { "phone": "+44 20 7946 0000", "consent": true },
        "callback": { "window": "weekdays 17:00-19:00" }
    });
    let response = harness.post_complaint(&callback, None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let receipt: Receipt = json_body(response).await;
    assert_eq!(receipt.summary.category_label, "Callback request");
    let path = receipt.status_url.strip_prefix(PUBLIC_URL).unwrap();
    let html = String::from_utf8(
        body_bytes(
            harness
                .send(Request::get(path).body(Body::empty()).unwrap())
                .await,
        )
        .await,
    )
    .unwrap();
    assert!(html.contains("We will call you back"));
    assert!(html.contains("weekdays 17:00-19:00"));
}

#[tokio::test]
async fn only_identities_signed_with_the_site_secret_are_marked_verified() {
    let harness = harness().await;
    let site = harness
        .temp
        .store
        .site_by_key("demo")
        .await
        .unwrap()
        .unwrap();
    let genuine = crate::domain::identity::sign(&site.identity_secret.0, "cust-42");
    let forged = crate::domain::identity::sign(b"a guess", "cust-42");
    for (signature, verified) in [(genuine, 1), (forged, 0)] {
        let mut identified = complaint();
        identified["description"] = json!(format!("identity check {signature}"));
        identified["identity"] =
            json!({ "customer_id": "cust-42", "email": "ana@example.com", "signature": signature });
        let receipt: Receipt = json_body(harness.post_complaint(&identified, None).await).await;
        let stored = harness.query_one(
            "SELECT identity_verified FROM complaints WHERE reference = ?1",
            &receipt.reference,
        );
        assert_eq!(stored, verified);
        let kept_signature = harness.query_one(
            "SELECT instr(identity, 'signature') FROM complaints WHERE reference = ?1",
            &receipt.reference,
        );
        assert_eq!(kept_signature, 0, "the signature itself is not stored");
    }
}

#[tokio::test]
async fn a_merchants_new_categories_reach_the_widget_and_bind_intake() {
    let harness = harness().await;
    let mut config = SiteConfig::with_defaults("demo", "Heard demo shop");
    config.categories.reverse();
    config.categories[0].label = "Ideas and anything else".to_owned();
    let product = config
        .categories
        .iter_mut()
        .find(|category| category.id == "product")
        .unwrap();
    product.hidden = true;
    heard_shared::site_rules::validate_site_config(&config).unwrap();
    harness
        .temp
        .store
        .configure_site("demo", config)
        .await
        .unwrap()
        .unwrap();

    let request = Request::get("/api/v1/sites/demo/config")
        .body(Body::empty())
        .unwrap();
    let served: SiteConfig = json_body(harness.send(request).await).await;
    assert_eq!(served.categories[0].label, "Ideas and anything else");
    assert_eq!(served.visible_categories().count(), 7);

    // A hidden category is no longer offered, so intake refuses it.
    let error = error_body(
        harness.post_complaint(&complaint(), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error.fields[0].field, "category");
}
