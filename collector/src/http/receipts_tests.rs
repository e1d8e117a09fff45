//! The shopper's side through the router: acknowledgement email received by
//! a real SMTP sink, lost-link recovery, the JSON view, export and deletion.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use heard_shared::Receipt;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::router;
use super::test_support::{SinkMail, demo_state, json_body, solved_proof};
use crate::store::test_support::{TempStore, temp_store};

const SHOP: &str = "https://shop.example";
const PUBLIC_URL: &str = "http://heard.test";

struct Harness {
    temp: TempStore,
    router: axum::Router,
    mail: SinkMail,
}

async fn harness() -> Harness {
    let temp = temp_store();
    let state = demo_state(&temp, SHOP, PUBLIC_URL).await;
    let mail = SinkMail::start(&temp.store, None).await;
    Harness {
        router: router(state),
        temp,
        mail,
    }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    async fn submit(&self, body: &Value) -> Response {
        self.send(
            Request::post("/api/v1/sites/demo/complaints")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ORIGIN, SHOP)
                .header("Heard-Proof", solved_proof(&self.router, "demo").await)
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    async fn receipt(&self, body: &Value) -> Receipt {
        let response = self.submit(body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        json_body(response).await
    }

    async fn get(&self, path: &str) -> Response {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn post(&self, path: &str, origin: Option<&str>, body: &Value) -> Response {
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    async fn recover(&self, reference: &str, email: &str) -> Response {
        self.post(
            "/api/v1/sites/demo/receipts/recover",
            Some(SHOP),
            &json!({ "reference": reference, "email": email }),
        )
        .await
    }
}

fn with_contact(language: &str, description: &str) -> Value {
    json!({
        "category": "product",
        "description": description,
        "outcomes": ["fix"],
        "language": language,
        "contact": { "name": "Jonas", "email": "jonas@example.de", "consent": true }
    })
}

async fn body_text(response: Response) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn token_of(receipt: &Receipt) -> String {
    receipt.status_url.rsplit('/').next().unwrap().to_owned()
}

fn link_in(text: &str) -> String {
    let start = text.find("http://heard.test/r/").expect("a status link");
    text[start..start + "http://heard.test/r/".len() + 43].to_owned()
}

#[tokio::test]
async fn a_german_complaint_gets_a_german_acknowledgement_with_its_link_in_both_parts() {
    let harness = harness().await;
    let receipt = harness
        .receipt(&with_contact("de", "Der Wasserkocher <b>leckt</b>."))
        .await;
    let mail = harness.mail.sink.wait_for(1).await;
    let message = &mail[0];
    assert_eq!(message.to, ["<jonas@example.de>"]);
    assert!(
        message
            .subject()
            .starts_with("Wir haben Ihre Nachricht erhalten"),
        "{}",
        message.subject()
    );
    assert!(message.subject().contains(&receipt.reference));
    let content_type = message.header("Content-Type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    let parts = message.parts();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts[0].0.starts_with("text/plain"));
    assert!(parts[1].0.starts_with("text/html"));
    for (_, body) in &parts {
        assert!(body.contains(&receipt.status_url), "{body}");
        assert!(body.contains(&receipt.reference));
    }
    assert!(parts[1].1.contains("&lt;b&gt;leckt&lt;/b&gt;"));
    assert!(parts[1].1.contains("lang=\"de\""));
}

#[tokio::test]
async fn contact_fields_with_line_breaks_are_refused_and_nothing_is_queued() {
    let harness = harness().await;
    let mut bad_email = with_contact("en", "Broken");
    bad_email["contact"]["email"] = json!("jonas@example.de\r\nBcc: victim@evil.example");
    let mut bad_name = with_contact("en", "Broken");
    bad_name["contact"]["name"] = json!("Jonas\r\nBcc: victim@evil.example");
    for body in [bad_email, bad_name] {
        let response = harness.submit(&body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(harness.temp.store.mail_states().await.unwrap().is_empty());
    }
    // A clean complaint afterwards produces one message with clean headers.
    harness.receipt(&with_contact("en", "Broken")).await;
    let mail = harness.mail.settled().await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, ["<jonas@example.de>"]);
    assert!(mail[0].header("Bcc").is_none());
    assert!(!mail[0].data.contains("victim@evil.example"));
}

#[tokio::test]
async fn no_contact_or_no_consent_means_no_email() {
    let harness = harness().await;
    let mut anonymous = with_contact("en", "Broken");
    anonymous.as_object_mut().unwrap().remove("contact");
    harness.receipt(&anonymous).await;
    harness.receipt(&with_contact("en", "Broken too")).await;
    assert_eq!(harness.mail.settled().await.len(), 1);
}

#[tokio::test]
async fn recovery_answers_the_same_and_emails_a_new_working_link_only_on_a_match() {
    let harness = harness().await;
    let receipt = harness.receipt(&with_contact("fr", "Colis perdu")).await;
    assert_eq!(harness.mail.settled().await.len(), 1);

    let matching = harness
        .recover(&receipt.reference.to_lowercase(), " JONAS@example.de ")
        .await;
    let wrong_email = harness
        .recover(&receipt.reference, "someone@example.com")
        .await;
    let unknown = harness.recover("HRD-7K3Q-9M2X", "jonas@example.de").await;
    let mut answers = Vec::new();
    for response in [matching, wrong_email, unknown] {
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        answers.push(body_text(response).await);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1], answers[2]);
    assert!(!answers[0].contains("/r/"), "the link is never shown");

    let mail = harness.mail.settled().await;
    assert_eq!(mail.len(), 2, "only the matching request sent mail");
    let recovered = &mail[1];
    assert_eq!(recovered.to, ["<jonas@example.de>"]);
    assert!(
        recovered.subject().starts_with("Votre lien"),
        "{}",
        recovered.subject()
    );
    let new_link = link_in(&recovered.parts()[0].1);
    assert_ne!(new_link, receipt.status_url, "a new token");
    for link in [&new_link, &receipt.status_url] {
        let path = link.strip_prefix(PUBLIC_URL).unwrap();
        assert_eq!(harness.get(path).await.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn recovery_is_rate_limited_per_reference_with_retry_after() {
    let harness = harness().await;
    let reference = "HRD-7K3Q-9M2X";
    for _ in 0..crate::domain::receipts::RECOVERY_PER_REFERENCE {
        let response = harness.recover(reference, "a@example.com").await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let limited = harness.recover(reference, "a@example.com").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
}

#[tokio::test]
async fn the_no_javascript_recovery_form_gives_the_same_answer() {
    let harness = harness().await;
    let receipt = harness.receipt(&with_contact("en", "Late")).await;
    let page = harness.get("/recover").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[header::REFERRER_POLICY], "same-origin");
    assert!(body_text(page).await.contains("action=\"/recover\""));

    let form = |reference: &str| {
        Request::post("/recover")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, PUBLIC_URL)
            .body(Body::from(format!(
                "reference={reference}&email=jonas%40example.de"
            )))
            .unwrap()
    };
    let hit = harness.send(form(&receipt.reference)).await;
    let miss = harness.send(form("HRD-7K3Q-9M2X")).await;
    assert_eq!(hit.status(), StatusCode::ACCEPTED);
    assert_eq!(miss.status(), StatusCode::ACCEPTED);
    assert_eq!(body_text(hit).await, body_text(miss).await);
    assert_eq!(harness.mail.settled().await.len(), 2);

    let foreign = Request::post("/recover")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from("reference=x&email=y%40z.example"))
        .unwrap();
    assert_eq!(harness.send(foreign).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_json_view_and_export_show_the_shoppers_complaint() {
    let harness = harness().await;
    let mut body = with_contact("en", "Kettle leaks");
    body["answers"] = json!({ "order": "A-1001" });
    let receipt = harness.receipt(&body).await;
    let token = token_of(&receipt);

    let view = harness.get(&format!("/api/v1/receipts/{token}")).await;
    assert_eq!(view.status(), StatusCode::OK);
    assert_eq!(view.headers()[header::CACHE_CONTROL], "no-store");
    let view: Value = json_body(view).await;
    assert_eq!(view["reference"], receipt.reference.as_str());
    assert_eq!(view["description"], "Kettle leaks");
    assert!(
        view.get("contact").is_none(),
        "the view is what the page shows"
    );

    let export = harness
        .get(&format!("/api/v1/receipts/{token}/export"))
        .await;
    assert_eq!(export.status(), StatusCode::OK);
    let disposition = export.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"heard-{}.json\"", receipt.reference)
    );
    let export: Value = json_body(export).await;
    assert_eq!(export["contact"]["email"], "jonas@example.de");
    assert_eq!(export["answers"]["order"], "A-1001");
    assert_eq!(export["description"], "Kettle leaks");

    let page = body_text(harness.get(&format!("/r/{token}")).await).await;
    assert!(page.contains(&format!("/api/v1/receipts/{token}/export")));
    assert!(page.contains(&format!("/r/{token}/delete")));
}

#[tokio::test]
async fn deletion_removes_the_words_from_every_database_file_and_closes_every_link() {
    let harness = harness().await;
    let marker = "PLANTED-MARKER-Zq8vK2";
    let mut body = with_contact("en", &format!("The blender {marker} broke"));
    body["contact"]["name"] = json!(format!("Name{marker}"));
    body["answers"] = json!({ "order": format!("Order{marker}") });
    let receipt = harness.receipt(&body).await;
    let token = token_of(&receipt);
    harness.mail.settled().await;
    // A second link from recovery must die too.
    harness
        .recover(&receipt.reference, "jonas@example.de")
        .await;
    let recovered = link_in(&harness.mail.settled().await[1].parts()[0].1);
    assert!(
        !files_holding(&harness, marker).is_empty(),
        "the search must see the marker before deletion"
    );
    // The search index, a file of its own, holds the words too.
    harness.temp.store.search_caught_up().await.unwrap();
    assert!(
        files_holding(&harness, marker)
            .iter()
            .any(|file| file.contains("-search")),
        "the index file must hold the marker before deletion"
    );

    // A foreign origin cannot delete.
    let foreign = harness
        .post(
            &format!("/api/v1/receipts/{token}/delete"),
            Some("https://evil.example"),
            &json!({}),
        )
        .await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);

    let confirm = harness.get(&format!("/r/{token}/delete")).await;
    assert_eq!(confirm.status(), StatusCode::OK);
    assert!(body_text(confirm).await.contains("method=\"post\""));
    let deleted = harness
        .send(
            Request::post(format!("/r/{token}/delete"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ORIGIN, PUBLIC_URL)
                .body(Body::from("confirm=yes"))
                .unwrap(),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);

    for path in [
        format!("/r/{token}"),
        format!("/api/v1/receipts/{token}"),
        format!("/api/v1/receipts/{token}/export"),
        recovered.strip_prefix(PUBLIC_URL).unwrap().to_owned(),
    ] {
        assert_eq!(
            harness.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let again = harness
        .post(
            &format!("/api/v1/receipts/{token}/delete"),
            Some(PUBLIC_URL),
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    // The anonymous counts stay.
    let kept = harness
        .temp
        .store
        .complaint_by_reference(&receipt.reference)
        .await
        .unwrap()
        .expect("the anonymous row stays");
    assert_eq!(kept.category, "product");
    assert_eq!(kept.language, "en");
    assert!(kept.description.is_empty());
    assert!(kept.anonymous);

    // The words are in no file of the database: not the main file, not the WAL.
    assert_eq!(files_holding(&harness, marker), Vec::<String>::new());
}

/// The database files (main, `-wal`, `-shm`, and the search index's) that
/// contain `marker`.
fn files_holding(harness: &Harness, marker: &str) -> Vec<String> {
    let mut holding = Vec::new();
    for entry in std::fs::read_dir(harness.temp.directory.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if bytes
            .windows(marker.len())
            .any(|window| window == marker.as_bytes())
        {
            holding.push(path.display().to_string());
        }
    }
    holding
}

#[tokio::test]
async fn tokens_that_are_random_malformed_or_references_reveal_nothing() {
    let harness = harness().await;
    let receipt = harness.receipt(&with_contact("en", "Secret words")).await;
    let other = harness.receipt(&with_contact("en", "Other words")).await;
    let random = crate::domain::token::ReceiptToken::generate().encode();
    for token in [random.as_str(), receipt.reference.as_str(), "short", "%00"] {
        for path in [
            format!("/r/{token}"),
            format!("/r/{token}/delete"),
            format!("/api/v1/receipts/{token}"),
            format!("/api/v1/receipts/{token}/export"),
        ] {
            let response = harness.get(&path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(!body_text(response).await.contains("Secret words"));
        }
    }
    // Another complaint's token opens that complaint, never this one.
    let view: Value = json_body(
        harness
            .get(&format!("/api/v1/receipts/{}", token_of(&other)))
            .await,
    )
    .await;
    assert_eq!(view["reference"], other.reference.as_str());
    assert_ne!(view["description"], "Secret words");
}

#[tokio::test]
async fn a_complaint_that_is_rolled_back_queues_no_mail() {
    let harness = harness().await;
    let mut body = with_contact("en", "With a photo that does not exist");
    body["attachments"] = json!(["no-such-photo"]);
    let response = harness.submit(&body).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(harness.temp.store.mail_states().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_delete_form_without_confirmation_asks_again() {
    let harness = harness().await;
    let receipt = harness.receipt(&with_contact("en", "Keep me")).await;
    let token = token_of(&receipt);
    for (token, status) in [
        (token.as_str(), StatusCode::SEE_OTHER),
        ("bad%0D%0Atoken", StatusCode::NOT_FOUND),
    ] {
        let response = harness
            .send(
                Request::post(format!("/r/{token}/delete"))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::ORIGIN, PUBLIC_URL)
                    .body(Body::from("confirm=no"))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), status, "{token}");
    }
    let view = harness.get(&format!("/api/v1/receipts/{token}")).await;
    assert_eq!(view.status(), StatusCode::OK, "nothing was deleted");
}
