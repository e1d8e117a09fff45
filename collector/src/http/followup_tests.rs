//! The follow-up loop through the router, on a real SQLite file with a real
//! SMTP sink: staff act through the store's inbox actions (the inbox API's
//! own tests cover its HTTP side), the shopper through their link.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use heard_shared::{Receipt, Status};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::router;
use super::test_support::{SinkMail, body_bytes, demo_state, error_code, json_body, solved_proof};
use crate::clock::{self, Clock};
use crate::domain::accounts::{Accounts, LIGHT_PASSWORD_PARAMS};
use crate::store::test_support::{TempStore, temp_store};
use crate::store::{ActionOutcome, ComplaintDetail, InboxAction, InboxFilter, User};

const SHOP: &str = "https://shop.example";
const PUBLIC_URL: &str = "http://heard.test";
const DAY: i64 = 24 * 60 * 60 * 1000;

struct Harness {
    temp: TempStore,
    router: axum::Router,
    mail: SinkMail,
    clock: Clock,
    staff: User,
}

async fn harness() -> Harness {
    harness_with_window(14).await
}

async fn harness_with_window(reopen_window_days: u32) -> Harness {
    let temp = temp_store();
    let clock = Clock::manual(clock::now_millis());
    let state = demo_state(&temp, SHOP, PUBLIC_URL)
        .await
        .with_clock(clock.clone())
        .with_reopen_window_days(reopen_window_days);
    let accounts = Accounts::new(temp.store.clone(), LIGHT_PASSWORD_PARAMS).unwrap();
    let staff = accounts
        .create_owner(
            "Demo merchant",
            "ana@demo.example",
            "Ana María López",
            "correct horse battery staple".to_owned(),
            clock.now_millis(),
        )
        .await
        .unwrap();
    let mail = SinkMail::start(&temp.store, Some(PUBLIC_URL)).await;
    Harness {
        router: router(state),
        temp,
        mail,
        clock,
        staff,
    }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    async fn receipt(&self, body: &Value) -> Receipt {
        let response = self
            .send(
                Request::post("/api/v1/sites/demo/complaints")
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::ORIGIN, SHOP)
                    .header("Heard-Proof", solved_proof(&self.router, "demo").await)
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        json_body(response).await
    }

    async fn get(&self, path: &str) -> Response {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// A JSON POST as the status page's own origin would send it.
    async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ORIGIN, PUBLIC_URL)
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// A form POST from `origin`.
    async fn form(&self, path: &str, origin: &str, body: &str) -> Response {
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ORIGIN, origin)
                .body(Body::from(body.to_owned()))
                .unwrap(),
        )
        .await
    }

    /// What staff do, through the inbox's store action.
    async fn staff_act(&self, reference: &str, action: InboxAction) -> ComplaintDetail {
        match self
            .temp
            .store
            .inbox_act(
                self.staff.merchant_id,
                self.staff.id,
                reference,
                action,
                self.clock.now_millis(),
            )
            .await
            .unwrap()
        {
            ActionOutcome::Done(detail) => *detail,
            other => panic!("staff action refused: {other:?}"),
        }
    }

    async fn set_status(&self, reference: &str, to: Status) -> ComplaintDetail {
        self.staff_act(
            reference,
            InboxAction::SetStatus {
                to,
                allowed_from: crate::domain::inbox::allowed_from(to).to_vec(),
            },
        )
        .await
    }

    /// Staff reply to the shopper and wait for their answer.
    async fn ask_shopper(&self, reference: &str, message: &str) -> ComplaintDetail {
        self.staff_act(reference, InboxAction::Reply(message.into()))
            .await;
        self.set_status(reference, Status::WaitingForYou).await
    }

    async fn detail(&self, reference: &str) -> ComplaintDetail {
        self.temp
            .store
            .inbox_complaint(self.staff.merchant_id, reference, self.clock.now_millis())
            .await
            .unwrap()
            .unwrap()
    }

    async fn view(&self, token: &str) -> Value {
        let response = self.get(&format!("/api/v1/receipts/{token}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        json_body(response).await
    }

    async fn page(&self, token: &str) -> String {
        let response = self.get(&format!("/r/{token}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        String::from_utf8(body_bytes(response).await).unwrap()
    }
}

fn complaint(language: &str, email: Option<&str>) -> Value {
    let mut body = json!({
        "category": "product",
        "description": "The kettle leaks.",
        "outcomes": ["fix"],
        "language": language,
    });
    if let Some(email) = email {
        body["contact"] = json!({ "name": "Jonas", "email": email, "consent": true });
    }
    body
}

fn token_of(receipt: &Receipt) -> String {
    receipt.status_url.rsplit('/').next().unwrap().to_owned()
}

fn link_in(text: &str) -> String {
    let start = text.find("http://heard.test/r/").expect("a status link");
    text[start..start + "http://heard.test/r/".len() + 43].to_owned()
}

fn kinds(view: &Value) -> Vec<String> {
    view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn staff_replies_and_status_changes_email_the_shopper_in_their_language_with_fresh_links() {
    let harness = harness().await;
    let receipt = harness
        .receipt(&complaint("de", Some("jonas@example.de")))
        .await;
    let reference = &receipt.reference;
    harness.mail.settled().await; // the acknowledgement
    harness.staff_act(reference, InboxAction::Acknowledge).await;
    harness
        .staff_act(
            reference,
            InboxAction::Reply(
                "Ein neuer Kocher ist unterwegs.\r\nBcc: victim@evil.example".into(),
            ),
        )
        .await;
    harness
        .staff_act(reference, InboxAction::Note("internal only".into()))
        .await;
    harness.set_status(reference, Status::Resolved).await;

    let mail = harness.mail.settled().await;
    assert_eq!(
        mail.len(),
        4,
        "acknowledgement, acknowledged, reply, resolved"
    );
    let updates = &mail[1..];
    let mut links = vec![receipt.status_url.clone()];
    for message in updates {
        assert_eq!(message.to, ["<jonas@example.de>"]);
        assert!(message.subject().contains(reference.as_str()));
        let headers = message.headers();
        assert!(
            headers
                .iter()
                .all(|(name, _)| !name.eq_ignore_ascii_case("bcc")),
            "{headers:?}"
        );
        let parts = message.parts();
        assert!(parts[1].1.contains("lang=\"de\""));
        assert!(!parts[0].1.contains("internal only"));
        let link = link_in(&parts[0].1);
        assert!(
            parts[1].1.contains(&link),
            "the HTML part has the same link"
        );
        assert!(
            !links.contains(&link),
            "every message has a link of its own"
        );
        links.push(link.clone());
        // The link opens the complaint.
        let page = harness
            .page(link.strip_prefix("http://heard.test/r/").unwrap())
            .await;
        assert!(page.contains(reference.as_str()));
    }
    assert!(
        updates[0].parts()[0]
            .1
            .contains("hat Ihre Nachricht gelesen"),
        "{}",
        updates[0].parts()[0].1
    );
    assert!(
        updates[1]
            .subject()
            .starts_with("Heard demo shop hat geantwortet"),
        "{}",
        updates[1].subject()
    );
    let reply = &updates[1].parts()[0].1;
    assert!(reply.contains("Ana von"), "first name only: {reply}");
    assert!(!reply.contains("López"));
    assert!(
        reply.contains("> Ein neuer Kocher ist unterwegs."),
        "{reply}"
    );
    let resolved = &updates[2].parts()[0].1;
    assert!(resolved.contains("Erledigt"), "{resolved}");
    assert!(
        resolved.contains("Drei kurze Fragen"),
        "the survey invitation: {resolved}"
    );
}

#[tokio::test]
async fn without_an_email_address_nothing_is_queued() {
    let harness = harness().await;
    let receipt = harness.receipt(&complaint("en", None)).await;
    harness
        .ask_shopper(&receipt.reference, "We are on it.")
        .await;
    assert!(harness.temp.store.mail_states().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_deleted_complaint_gets_no_update_and_mints_no_link() {
    let harness = harness().await;
    let receipt = harness
        .receipt(&complaint("en", Some("jonas@example.de")))
        .await;
    harness.mail.settled().await;
    let token = token_of(&receipt);
    // The worker may not run between the reply and the deletion; either way
    // nothing about the deleted complaint may be sent afterwards.
    harness
        .staff_act(&receipt.reference, InboxAction::Reply("Sorry!".into()))
        .await;
    let response = harness
        .post(&format!("/api/v1/receipts/{token}/delete"), &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let sent = harness.mail.settled().await;
    assert!(sent.len() <= 2);
    for message in &sent[1..] {
        let link = link_in(&message.parts()[0].1);
        let response = harness.get(link.strip_prefix(PUBLIC_URL).unwrap()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_shopper_reply_puts_a_waiting_complaint_back_in_progress_and_staff_see_it() {
    let harness = harness().await;
    let receipt = harness.receipt(&complaint("en", None)).await;
    let token = token_of(&receipt);
    harness
        .ask_shopper(&receipt.reference, "Could you send a photo of the label?")
        .await;

    let upload = harness
        .send(
            Request::post(format!("/api/v1/receipts/{token}/attachments"))
                .header(header::CONTENT_TYPE, "image/jpeg")
                .body(Body::from(crate::domain::photos::tests::jpeg(40, 30)))
                .unwrap(),
        )
        .await;
    assert_eq!(upload.status(), StatusCode::CREATED);
    let photo: Value = json_body(upload).await;
    let response = harness
        .post(
            &format!("/api/v1/receipts/{token}/replies"),
            &json!({ "body": "  Here it is: <b>LOT 42</b>  ", "attachments": [photo["id"]] }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let view: Value = json_body(response).await;
    assert_eq!(view["status"], "in_progress");
    let timeline = view["timeline"].as_array().unwrap();
    let last = &timeline[timeline.len() - 1];
    assert_eq!(last["kind"], "status_changed");
    assert_eq!(last["because_of_reply"], true);
    let reply = &timeline[timeline.len() - 2];
    assert_eq!(reply["kind"], "shopper_reply");
    assert_eq!(reply["by"], "you");
    assert_eq!(reply["body"], "Here it is: <b>LOT 42</b>");
    assert_eq!(reply["photos"], 1);

    let page = harness.page(&token).await;
    assert!(page.contains("Here it is: &lt;b&gt;LOT 42&lt;/b&gt;"));
    assert!(!page.contains("<b>LOT 42"));
    assert!(page.contains("Your reply put it back with the shop"));

    let detail = harness.detail(&receipt.reference).await;
    assert_eq!(detail.status, Status::InProgress);
    let shopper_reply = detail
        .timeline
        .iter()
        .find(|event| event.kind == "shopper_reply")
        .expect("the staff timeline shows the shopper's reply");
    assert_eq!(shopper_reply.actor_user_id, None);
    assert!(shopper_reply.public);
    assert_eq!(
        shopper_reply.body.as_deref(),
        Some("Here it is: <b>LOT 42</b>")
    );
    assert_eq!(detail.attachments.len(), 1);
    assert_eq!(detail.attachments[0].id, photo["id"].as_str().unwrap());

    // The inbox search finds the shopper's words, once indexed.
    harness.temp.store.search_caught_up().await.unwrap();
    let found = harness
        .temp
        .store
        .inbox(
            harness.staff.merchant_id,
            InboxFilter {
                terms: vec!["LOT 42".to_owned()],
                ..InboxFilter::default()
            },
            None,
            10,
            harness.clock.now_millis(),
        )
        .await
        .unwrap();
    assert_eq!(found.rows.len(), 1);
    assert_eq!(found.rows[0].reference, receipt.reference);

    // The photo is claimed: it cannot be attached again.
    let again = harness
        .post(
            &format!("/api/v1/receipts/{token}/replies"),
            &json!({ "body": "again", "attachments": [photo["id"]] }),
        )
        .await;
    assert_eq!(
        error_code(again, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_submission"
    );
    assert_eq!(
        kinds(&harness.view(&token).await)
            .iter()
            .filter(|kind| *kind == "shopper_reply")
            .count(),
        1,
        "a refused reply leaves nothing behind"
    );

    // Deleting the complaint takes the reply's words and its photo too.
    let response = harness
        .post(&format!("/api/v1/receipts/{token}/delete"), &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let detail = harness.detail(&receipt.reference).await;
    assert!(detail.attachments.is_empty());
    assert!(
        detail
            .timeline
            .iter()
            .filter(|event| event.kind == "shopper_reply")
            .all(|event| event.body.is_none())
    );
}

#[tokio::test]
async fn the_shopper_resolves_and_reopens_only_within_the_window() {
    let harness = harness().await;
    let receipt = harness.receipt(&complaint("en", None)).await;
    let token = token_of(&receipt);
    let reopen = format!("/api/v1/receipts/{token}/reopen");
    let resolve = format!("/api/v1/receipts/{token}/resolve");

    let early = harness.post(&reopen, &json!({})).await;
    assert_eq!(
        error_code(early, StatusCode::CONFLICT).await,
        "invalid_transition"
    );

    let response = harness.post(&resolve, &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = json_body(response).await;
    assert_eq!(view["status"], "resolved");
    assert_eq!(view["actions"]["resolve"], false);
    assert!(view["actions"]["reopen_until"].is_string());
    let twice = harness.post(&resolve, &json!({})).await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);

    harness.clock.advance(13 * DAY);
    let response = harness.post(&reopen, &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = json_body(response).await;
    assert_eq!(view["status"], "in_progress");
    assert_eq!(view["resolved_at"], Value::Null);

    // Staff resolve it; 14 days later the shopper may no longer reopen it.
    harness
        .set_status(&receipt.reference, Status::Resolved)
        .await;
    harness.clock.advance(14 * DAY + 1);
    let late = harness.post(&reopen, &json!({})).await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    let view = harness.view(&token).await;
    assert_eq!(view["status"], "resolved");
    assert_eq!(view["actions"]["reopen_until"], Value::Null);
    assert!(!harness.page(&token).await.contains("data-heard=\"reopen\""));

    let detail = harness.detail(&receipt.reference).await;
    let by_shopper: Vec<_> = detail
        .timeline
        .iter()
        .filter(|event| event.kind == "status_changed" && event.data["by"] == "shopper")
        .map(|event| event.data["to"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(by_shopper, ["resolved", "in_progress"]);
}

#[tokio::test]
async fn the_survey_is_stored_once_changeable_until_closed_and_outlives_deletion_only_as_counts() {
    let harness = harness().await;
    let receipt = harness.receipt(&complaint("en", None)).await;
    let token = token_of(&receipt);
    let survey = format!("/api/v1/receipts/{token}/survey");
    let answer = json!({
        "satisfaction": 4, "quick_enough": false, "would_return": true,
        "comment": "Took a week, but <i>fine</i>."
    });

    let early = harness.post(&survey, &answer).await;
    assert_eq!(early.status(), StatusCode::CONFLICT);
    assert!(!harness.page(&token).await.contains("take-survey"));

    harness
        .set_status(&receipt.reference, Status::Resolved)
        .await;
    assert!(
        harness
            .page(&token)
            .await
            .contains("data-heard=\"take-survey\"")
    );
    for bad in [
        json!({ "satisfaction": 0, "quick_enough": true, "would_return": true }),
        json!({ "satisfaction": 6, "quick_enough": true, "would_return": true }),
        json!({ "satisfaction": 3, "would_return": true }),
        json!({ "satisfaction": 3, "quick_enough": true, "would_return": true,
                "comment": "x".repeat(2_001) }),
    ] {
        let response = harness.post(&survey, &bad).await;
        assert_eq!(
            error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
            "invalid_submission",
            "{bad}"
        );
    }
    let response = harness.post(&survey, &answer).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = json_body(response).await;
    assert_eq!(view["survey"]["satisfaction"], 4);
    assert_eq!(view["survey"]["quick_enough"], false);
    assert!(kinds(&view).contains(&"survey_received".to_owned()));
    let page = harness.page(&token).await;
    assert!(page.contains("data-heard=\"survey-answers\""));
    assert!(page.contains("Took a week, but &lt;i&gt;fine&lt;/i&gt;."));

    // One answer per complaint: a second one replaces the first.
    harness.clock.advance(60_000);
    let mut changed = answer.clone();
    changed["satisfaction"] = json!(5);
    let response = harness.post(&survey, &changed).await;
    assert_eq!(response.status(), StatusCode::OK);
    let detail = harness.detail(&receipt.reference).await;
    let stored = detail.survey.expect("staff see the answer");
    assert_eq!(stored.satisfaction, 5);
    assert!(stored.updated_at > stored.created_at);
    let export: Value = json_body(
        harness
            .get(&format!("/api/v1/receipts/{token}/export"))
            .await,
    )
    .await;
    assert_eq!(export["survey"]["satisfaction"], 5);
    assert_eq!(export["survey"]["comment"], "Took a week, but <i>fine</i>.");

    harness.set_status(&receipt.reference, Status::Closed).await;
    let closed = harness.post(&survey, &answer).await;
    assert_eq!(closed.status(), StatusCode::CONFLICT);

    let response = harness
        .post(&format!("/api/v1/receipts/{token}/delete"), &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let kept = harness
        .detail(&receipt.reference)
        .await
        .survey
        .expect("the anonymous answers stay");
    assert_eq!(kept.satisfaction, 5);
    assert_eq!(kept.comment, None, "the shopper's words go");
}

#[tokio::test]
async fn replies_are_checked_like_staff_replies() {
    let harness = harness().await;
    let receipt = harness.receipt(&complaint("en", None)).await;
    let token = token_of(&receipt);
    let replies = format!("/api/v1/receipts/{token}/replies");
    for bad in [
        json!({ "body": "   " }),
        json!({ "body": "x".repeat(10_001) }),
        json!({ "body": "ok", "attachments": ["a", "b", "c", "d", "e", "f"] }),
        json!({ "body": "ok", "attachments": ["att_unknown"] }),
    ] {
        let response = harness.post(&replies, &bad).await;
        assert_eq!(
            error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
            "invalid_submission"
        );
    }
    let response = harness
        .post(&replies, &json!({ "body": "长".repeat(10_000) }))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "10,000 characters fit"
    );
    harness.set_status(&receipt.reference, Status::Closed).await;
    let closed = harness.post(&replies, &json!({ "body": "hello?" })).await;
    assert_eq!(closed.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_no_javascript_forms_are_same_origin_and_redirect_back() {
    let harness = harness().await;
    let receipt = harness.receipt(&complaint("en", None)).await;
    let token = token_of(&receipt);

    let page = harness.get(&format!("/r/{token}/reply")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[header::REFERRER_POLICY], "same-origin");
    let html = String::from_utf8(body_bytes(page).await).unwrap();
    assert!(html.contains(&format!("action=\"/r/{token}/reply\"")));

    let forged = harness
        .form(
            &format!("/r/{token}/reply"),
            "https://evil.example",
            "body=hi",
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let sent = harness
        .form(
            &format!("/r/{token}/reply"),
            PUBLIC_URL,
            "body=The+lid+%3Cscript%3E+is+cracked",
        )
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        sent.headers()[header::LOCATION],
        format!("/r/{token}#history").as_str()
    );
    assert!(
        harness
            .page(&token)
            .await
            .contains("The lid &lt;script&gt; is cracked")
    );

    // An empty reply shows the form again with the problem, keeping nothing
    // unescaped.
    let empty = harness
        .form(&format!("/r/{token}/reply"), PUBLIC_URL, "body=+")
        .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8(body_bytes(empty).await).unwrap();
    assert!(html.contains("data-heard=\"form-error\""));

    let resolved = harness
        .form(&format!("/r/{token}/resolve"), PUBLIC_URL, "")
        .await;
    assert_eq!(resolved.status(), StatusCode::SEE_OTHER);
    let survey = harness
        .form(
            &format!("/r/{token}/survey"),
            PUBLIC_URL,
            "satisfaction=2&quick_enough=no&would_return=yes&comment=%3Cb%3Eslow%3C%2Fb%3E",
        )
        .await;
    assert_eq!(survey.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        survey.headers()[header::LOCATION],
        format!("/r/{token}#survey").as_str()
    );
    let form =
        String::from_utf8(body_bytes(harness.get(&format!("/r/{token}/survey")).await).await)
            .unwrap();
    assert!(
        form.contains("value=\"2\" checked"),
        "the stored answer is preselected"
    );
    assert!(form.contains("&lt;b&gt;slow&lt;/b&gt;"));
    let reopened = harness
        .form(&format!("/r/{token}/reopen"), PUBLIC_URL, "")
        .await;
    assert_eq!(reopened.status(), StatusCode::SEE_OTHER);
    assert_eq!(harness.view(&token).await["status"], "in_progress");
}

#[tokio::test]
async fn the_page_names_who_looks_after_it_by_first_name_and_hides_notes() {
    let harness = harness().await;
    let receipt = harness.receipt(&complaint("en", None)).await;
    let token = token_of(&receipt);
    harness
        .staff_act(
            &receipt.reference,
            InboxAction::Assign(Some(harness.staff.id)),
        )
        .await;
    harness
        .staff_act(
            &receipt.reference,
            InboxAction::Note("customer seems upset".into()),
        )
        .await;
    let page = harness.page(&token).await;
    assert!(page.contains("<dd data-heard=\"looked-after-by\">Ana</dd>"));
    assert!(!page.contains("López"));
    assert!(!page.contains("customer seems upset"));
    let view = harness.view(&token).await;
    assert_eq!(view["looked_after_by"], "Ana");
    assert_eq!(
        kinds(&view),
        ["received"],
        "assignments and notes stay internal"
    );

    harness
        .staff_act(&receipt.reference, InboxAction::Assign(None))
        .await;
    assert_eq!(harness.view(&token).await["looked_after_by"], Value::Null);
    assert!(!harness.page(&token).await.contains("looked-after-by"));
}

/// Every follow-up route, with a body that would succeed.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/r/{token}/reply", ""),
    ("GET", "/r/{token}/resolve", ""),
    ("GET", "/r/{token}/reopen", ""),
    ("GET", "/r/{token}/survey", ""),
    ("FORM", "/r/{token}/reply", "body=hello"),
    ("FORM", "/r/{token}/resolve", ""),
    ("FORM", "/r/{token}/reopen", ""),
    (
        "FORM",
        "/r/{token}/survey",
        "satisfaction=3&quick_enough=yes&would_return=yes",
    ),
    (
        "POST",
        "/api/v1/receipts/{token}/replies",
        r#"{"body":"hello"}"#,
    ),
    ("POST", "/api/v1/receipts/{token}/resolve", "{}"),
    ("POST", "/api/v1/receipts/{token}/reopen", "{}"),
    (
        "POST",
        "/api/v1/receipts/{token}/survey",
        r#"{"satisfaction":3,"quick_enough":true,"would_return":true}"#,
    ),
    ("PHOTO", "/api/v1/receipts/{token}/attachments", ""),
];

#[tokio::test]
async fn tokens_that_open_nothing_reveal_and_change_nothing_on_every_route() {
    let harness = harness().await;
    let first = harness.receipt(&complaint("en", None)).await;
    let second = harness.receipt(&complaint("en", None)).await;
    let deleted = harness.receipt(&complaint("en", None)).await;
    let deleted_token = token_of(&deleted);
    let response = harness
        .post(
            &format!("/api/v1/receipts/{deleted_token}/delete"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    harness.set_status(&first.reference, Status::Resolved).await;
    let before = harness.detail(&first.reference).await;

    let random = crate::domain::token::ReceiptToken::generate().encode();
    let strangers = [
        random.as_str(),
        "not-a-token",
        first.reference.as_str(),
        deleted_token.as_str(),
        "%00",
    ];
    for token in strangers {
        for (method, template, body) in ROUTES {
            let path = template.replace("{token}", token);
            let response = match *method {
                "GET" => harness.get(&path).await,
                "FORM" => harness.form(&path, PUBLIC_URL, body).await,
                "PHOTO" => {
                    harness
                        .send(
                            Request::post(&path)
                                .header(header::CONTENT_TYPE, "image/jpeg")
                                .body(Body::from(crate::domain::photos::tests::jpeg(8, 8)))
                                .unwrap(),
                        )
                        .await
                }
                _ => {
                    harness
                        .post(&path, &serde_json::from_str(body).unwrap())
                        .await
                }
            };
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{method} {template} with {token:?}"
            );
            let text = String::from_utf8(body_bytes(response).await).unwrap();
            assert!(!text.contains(&first.reference), "{method} {template}");
        }
    }
    // The second complaint's link acts on the second complaint alone.
    let second_token = token_of(&second);
    for (method, template, body) in ROUTES.iter().filter(|(method, ..)| *method == "POST") {
        let path = template.replace("{token}", &second_token);
        let response = harness
            .post(&path, &serde_json::from_str(body).unwrap())
            .await;
        assert_ne!(
            response.status(),
            StatusCode::NOT_FOUND,
            "{method} {template}"
        );
    }
    let after = harness.detail(&first.reference).await;
    assert_eq!(before.timeline, after.timeline);
    assert_eq!(before.status, after.status);
    assert_eq!(after.survey, None);
    assert!(kinds(&harness.view(&second_token).await).contains(&"shopper_reply".to_owned()));
}

#[tokio::test]
async fn the_status_page_and_its_forms_speak_the_complaints_language() {
    let harness = harness().await;
    let german = harness.receipt(&complaint("de-AT", None)).await;
    let token = token_of(&german);
    harness
        .ask_shopper(&german.reference, "Wir kümmern uns.")
        .await;
    let page = harness.page(&token).await;
    assert!(page.contains("<html lang=\"de\" dir=\"ltr\">"), "{page}");
    assert!(page.contains("Wir haben Ihre Beschwerde erhalten"));
    assert!(
        page.contains("Wartet auf Ihre Antwort"),
        "the status in German"
    );
    assert!(page.contains("Ana hat geantwortet:"));
    assert!(page.contains("Antworten oder etwas ergänzen"));
    assert!(!page.contains("What has happened"));

    let form = harness
        .form(&format!("/r/{token}/reply"), PUBLIC_URL, "body=")
        .await;
    assert_eq!(form.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8(body_bytes(form).await).unwrap();
    assert!(html.contains("Bitte schreiben Sie zuerst etwas."), "{html}");
    assert!(html.contains("Antwort senden"));

    let confirm = harness.get(&format!("/r/{token}/delete")).await;
    let html = String::from_utf8(body_bytes(confirm).await).unwrap();
    assert!(html.contains(&format!("Beschwerde {} löschen?", german.reference)));
    let deleted = harness
        .form(&format!("/r/{token}/delete"), PUBLIC_URL, "confirm=yes")
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let html = String::from_utf8(body_bytes(deleted).await).unwrap();
    assert!(html.contains("Ihre Beschwerde ist gelöscht"));

    let arabic = harness.receipt(&complaint("ar", None)).await;
    let page = harness.page(&token_of(&arabic)).await;
    assert!(page.contains("<html lang=\"ar\" dir=\"rtl\">"));
    assert!(page.contains("وصلتنا شكواك"));
    let survey = harness
        .get(&format!("/r/{}/survey", token_of(&arabic)))
        .await;
    let html = String::from_utf8(body_bytes(survey).await).unwrap();
    assert!(html.contains("dir=\"rtl\""));
}

/// A `multipart/form-data` body as a browser sends the reply form: the text,
/// then one part per chosen file (an empty, nameless part when none is).
fn multipart(body: &str, files: &[(&str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "----heard-test-boundary-7MA4YWxkTrZu0gW";
    let mut data =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\n{body}\r\n")
            .into_bytes();
    for (name, content_type, bytes) in files {
        data.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"{name}\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        data.extend_from_slice(bytes);
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), data)
}

#[tokio::test]
async fn the_reply_form_carries_photos_without_javascript() {
    let harness = harness().await;
    let receipt = harness.receipt(&complaint("en", None)).await;
    let token = token_of(&receipt);
    let path = format!("/r/{token}/reply");
    let page = harness.get(&path).await;
    let html = String::from_utf8(body_bytes(page).await).unwrap();
    assert!(html.contains("enctype=\"multipart/form-data\""));
    assert!(html.contains("type=\"file\""));

    let send = |content_type: String, data: Vec<u8>, origin: &'static str| {
        Request::post(path.clone())
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ORIGIN, origin)
            .body(Body::from(data))
            .unwrap()
    };
    // A file that is not a photo is refused, and nothing is stored.
    let (content_type, data) = multipart(
        "Here is the label",
        &[("label.svg", "image/svg+xml", b"<svg/>".to_vec())],
    );
    let refused = harness.send(send(content_type, data, PUBLIC_URL)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8(body_bytes(refused).await).unwrap();
    assert!(html.contains("data-heard=\"form-error\""));
    assert!(html.contains("Here is the label"), "the text is kept");
    assert!(!kinds(&harness.view(&token).await).contains(&"shopper_reply".to_owned()));

    // From another origin: refused before anything is read.
    let (content_type, data) = multipart("hi", &[]);
    let forged = harness
        .send(send(content_type, data, "https://evil.example"))
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let (content_type, data) = multipart(
        "Here is the label",
        &[
            (
                "label.jpg",
                "image/jpeg",
                crate::domain::photos::tests::jpeg(64, 48),
            ),
            ("", "application/octet-stream", Vec::new()),
        ],
    );
    let sent = harness.send(send(content_type, data, PUBLIC_URL)).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let view = harness.view(&token).await;
    let reply = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["kind"] == "shopper_reply")
        .unwrap()
        .clone();
    assert_eq!(reply["body"], "Here is the label");
    assert_eq!(reply["photos"], 1, "the empty file part is no photo");
    let detail = harness.detail(&receipt.reference).await;
    assert_eq!(detail.attachments.len(), 1);
    assert_eq!(detail.attachments[0].content_type, "image/jpeg");
    assert!(harness.page(&token).await.contains("Photos added: 1"));
}

#[tokio::test]
async fn the_reopening_window_is_the_configured_one() {
    let harness = harness_with_window(1).await;
    let receipt = harness.receipt(&complaint("en", None)).await;
    let token = token_of(&receipt);
    harness
        .set_status(&receipt.reference, Status::Resolved)
        .await;
    harness.clock.advance(DAY + 1);
    let late = harness
        .post(&format!("/api/v1/receipts/{token}/reopen"), &json!({}))
        .await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
}
