//! The inbox API through `router().oneshot()`, on a real SQLite file, signed
//! in the way a browser is (session cookie + CSRF token), with two merchants
//! so that every route is also tried across the tenant boundary.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::auth::SessionView;
use super::test_support::{body_bytes, error_code, json_body};
use super::{AppState, router};
use crate::clock::Clock;
use crate::domain::accounts::{Accounts, LIGHT_PASSWORD_PARAMS};
use crate::store::inbox_fixtures::{START, complaint, record, site};
use crate::store::test_support::{TempStore, temp_store};
use crate::store::{NewComplaint, Role, User};

const PUBLIC_URL: &str = "http://heard.test";
const PASSWORD: &str = "correct horse battery staple";
const ACME_OWNER: &str = "owner@acme.example";
const OTHER_OWNER: &str = "owner@other.example";

/// Every inbox route: method, path template, and a valid body for it.
///
/// **Any new inbox route must be added to this table.** The test below checks
/// that each one refuses requests without a session (401), forged cross-site
/// requests on state-changing methods (403), and another merchant's
/// complaint (404); `the_route_table_lists_every_inbox_route` fails when the
/// router has an inbox path this table lacks.
const INBOX_ROUTES: &[(Method, &str, Option<&str>)] = &[
    (Method::GET, "/api/v1/inbox/complaints", None),
    (Method::GET, "/api/v1/inbox/complaints/{reference}", None),
    (
        Method::POST,
        "/api/v1/inbox/complaints/{reference}/acknowledge",
        None,
    ),
    (
        Method::POST,
        "/api/v1/inbox/complaints/{reference}/assign",
        Some(r#"{"user_id": null}"#),
    ),
    (
        Method::POST,
        "/api/v1/inbox/complaints/{reference}/status",
        Some(r#"{"status": "in_progress"}"#),
    ),
    (
        Method::POST,
        "/api/v1/inbox/complaints/{reference}/tags",
        Some(r#"{"add": ["vip"], "remove": []}"#),
    ),
    (
        Method::POST,
        "/api/v1/inbox/complaints/{reference}/notes",
        Some(r#"{"body": "check the batch number"}"#),
    ),
    (
        Method::POST,
        "/api/v1/inbox/complaints/{reference}/replies",
        Some(r#"{"body": "We are sorry; a new one is on its way."}"#),
    ),
];

struct Harness {
    temp: TempStore,
    router: axum::Router,
    accounts: Accounts,
    /// A complaint of Acme's site.
    reference: String,
    acme_site: i64,
}

/// A signed-in browser: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn harness() -> Harness {
    let temp = temp_store();
    let accounts = Accounts::new(temp.store.clone(), LIGHT_PASSWORD_PARAMS).unwrap();
    for (merchant, email) in [("Acme", ACME_OWNER), ("Other", OTHER_OWNER)] {
        accounts
            .create_owner(merchant, email, "Owner", PASSWORD.to_owned(), START)
            .await
            .unwrap();
    }
    let (_, acme_site) = site(&temp.store, "Acme", "acme-shop").await;
    site(&temp.store, "Other", "other-shop").await;
    let reference = record(&temp.store, complaint(acme_site, START, "The kettle leaks")).await;
    let state = AppState::new(
        temp.store.clone(),
        PUBLIC_URL,
        "www".into(),
        "target/widget".into(),
        accounts.clone(),
    )
    .with_clock(Clock::manual(START + 60_000));
    Harness {
        router: router(state),
        temp,
        accounts,
        reference,
        acme_site,
    }
}

impl Harness {
    async fn send(&self, mut request: Request<Body>) -> Response {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40000))));
        self.router.clone().oneshot(request).await.unwrap()
    }

    async fn sign_in(&self, email: &str) -> Session {
        let response = self
            .send(
                Request::builder()
                    .method(Method::POST)
                    .uri("/api/v1/auth/login")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({ "email": email, "password": PASSWORD }).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let view: SessionView = json_body(response).await;
        Session {
            cookie,
            csrf: view.csrf_token,
        }
    }

    async fn user(&self, email: &str) -> User {
        self.temp
            .store
            .credentials_by_email(email)
            .await
            .unwrap()
            .unwrap()
            .user
    }

    /// Adds a staff member to Acme through an invitation and signs them in.
    async fn staff(&self, email: &str, role: Role) -> (User, Session) {
        let owner = self.user(ACME_OWNER).await;
        let (token, _) = self
            .accounts
            .invite(&owner, email, role, START)
            .await
            .unwrap();
        let user = self
            .accounts
            .accept_invite(&token.encode(), "Colleague", PASSWORD.to_owned(), START)
            .await
            .unwrap();
        (user, self.sign_in(email).await)
    }

    /// A same-origin request of a signed-in browser, with its CSRF token.
    async fn call(
        &self,
        method: Method,
        uri: &str,
        session: &Session,
        body: Option<&str>,
    ) -> Response {
        let builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .header(header::ORIGIN, PUBLIC_URL);
        self.send(with_body(builder, body)).await
    }

    async fn timeline_kinds(&self) -> Vec<String> {
        let acme = self.user(ACME_OWNER).await;
        self.temp
            .store
            .inbox_complaint(acme.merchant_id, &self.reference, START)
            .await
            .unwrap()
            .unwrap()
            .timeline
            .into_iter()
            .map(|event| event.kind)
            .collect()
    }
}

fn with_body(builder: axum::http::request::Builder, body: Option<&str>) -> Request<Body> {
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

fn path(template: &str, reference: &str) -> String {
    template.replace("{reference}", reference)
}

/// Percent-encodes a query value (UTF-8 bytes).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn references(list: &Value) -> Vec<String> {
    list["complaints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["reference"].as_str().unwrap().to_owned())
        .collect()
}

// --- the route table ----------------------------------------------------------

#[tokio::test]
async fn every_inbox_route_refuses_strangers() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let other = harness.sign_in(OTHER_OWNER).await;
    for (method, template, body) in INBOX_ROUTES {
        let uri = path(template, &harness.reference);
        let route = format!("{method} {template}");

        // (a) No session: 401, whatever else the request carries.
        let anonymous = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(header::ORIGIN, PUBLIC_URL);
        let response = harness.send(with_body(anonymous, *body)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{route}");
        let forged_cookie = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(header::COOKIE, "heard_session=AAAA");
        let response = harness.send(with_body(forged_cookie, *body)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{route}");

        // (b) Forged cross-site requests on state-changing methods: 403.
        if !method.is_safe() {
            let forgeries = [
                ("foreign Origin", Some("https://evil.example"), None, true),
                ("no CSRF token", Some(PUBLIC_URL), None, false),
                ("cross-site fetch", None, Some("cross-site"), true),
            ];
            for (what, origin, fetch_site, with_token) in forgeries {
                let mut forged = Request::builder()
                    .method(method.clone())
                    .uri(&uri)
                    .header(header::COOKIE, &acme.cookie);
                if let Some(origin) = origin {
                    forged = forged.header(header::ORIGIN, origin);
                }
                if let Some(fetch_site) = fetch_site {
                    forged = forged.header("sec-fetch-site", fetch_site);
                }
                if with_token {
                    forged = forged.header("x-csrf-token", &acme.csrf);
                }
                let response = harness.send(with_body(forged, *body)).await;
                assert_eq!(
                    error_code(response, StatusCode::FORBIDDEN).await,
                    "csrf_failed",
                    "{route}: {what}"
                );
            }
        }

        // (c) Another merchant's complaint: 404, exactly like a made-up one.
        let response = harness.call(method.clone(), &uri, &other, *body).await;
        if template.contains("{reference}") {
            assert_eq!(
                error_code(response, StatusCode::NOT_FOUND).await,
                "not_found",
                "{route}"
            );
            let made_up = path(template, "HRD-0000-0000");
            let response = harness.call(method.clone(), &made_up, &acme, *body).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{route}");
        } else {
            assert_eq!(response.status(), StatusCode::OK, "{route}");
            let list: Value = json_body(response).await;
            assert!(
                !references(&list).contains(&harness.reference),
                "{route} lists another merchant's complaint"
            );
        }
    }
    // Nothing any stranger sent changed the complaint.
    assert_eq!(harness.timeline_kinds().await, ["received"]);

    // The table is complete: the owner of the complaint can use every route.
    for (method, template, body) in INBOX_ROUTES {
        let uri = path(template, &harness.reference);
        let response = harness.call(method.clone(), &uri, &acme, *body).await;
        assert_eq!(response.status(), StatusCode::OK, "{method} {template}");
    }
}

#[test]
fn the_route_table_lists_every_inbox_route() {
    let router_source = include_str!("mod.rs");
    let mut in_router: Vec<&str> = router_source
        .split('"')
        .filter(|literal| literal.starts_with("/api/v1/inbox"))
        .collect();
    in_router.sort();
    in_router.dedup();
    let mut in_table: Vec<&str> = INBOX_ROUTES.iter().map(|(_, path, _)| *path).collect();
    in_table.sort();
    in_table.dedup();
    assert_eq!(
        in_router, in_table,
        "add the new inbox route to INBOX_ROUTES"
    );
}

// --- roles and CSRF -------------------------------------------------------------

#[tokio::test]
async fn a_viewer_reads_but_cannot_act() {
    let harness = harness().await;
    let (_, viewer) = harness.staff("viewer@acme.example", Role::Viewer).await;
    for (method, template, body) in INBOX_ROUTES {
        let uri = path(template, &harness.reference);
        let response = harness.call(method.clone(), &uri, &viewer, *body).await;
        if method.is_safe() {
            assert_eq!(response.status(), StatusCode::OK, "{method} {template}");
        } else {
            assert_eq!(
                error_code(response, StatusCode::FORBIDDEN).await,
                "forbidden",
                "{method} {template}"
            );
        }
    }
    assert_eq!(harness.timeline_kinds().await, ["received"]);
}

#[tokio::test]
async fn an_agent_works_a_complaint_from_acknowledgement_to_resolution() {
    let harness = harness().await;
    let (agent_user, agent) = harness.staff("agent@acme.example", Role::Agent).await;
    let base = format!("/api/v1/inbox/complaints/{}", harness.reference);

    // Without the CSRF token the action is refused, even from the right origin.
    let response = harness
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(format!("{base}/acknowledge"))
                .header(header::COOKIE, &agent.cookie)
                .header(header::ORIGIN, PUBLIC_URL)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "csrf_failed"
    );

    let response = harness
        .call(Method::POST, &format!("{base}/acknowledge"), &agent, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let detail: Value = json_body(response).await;
    assert_eq!(detail["status"], "acknowledged");
    assert!(detail["first_response_at"].is_i64());

    let response = harness
        .call(Method::POST, &format!("{base}/acknowledge"), &agent, None)
        .await;
    assert_eq!(
        error_code(response, StatusCode::CONFLICT).await,
        "invalid_transition"
    );

    let assign = json!({ "user_id": agent_user.id }).to_string();
    let response = harness
        .call(
            Method::POST,
            &format!("{base}/assign"),
            &agent,
            Some(&assign),
        )
        .await;
    let detail: Value = json_body(response).await;
    assert_eq!(detail["assignee"]["user_id"], agent_user.id);

    // Someone of another merchant cannot be assigned.
    let stranger = harness.user(OTHER_OWNER).await;
    let assign = json!({ "user_id": stranger.id }).to_string();
    let response = harness
        .call(
            Method::POST,
            &format!("{base}/assign"),
            &agent,
            Some(&assign),
        )
        .await;
    assert_eq!(
        error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_submission"
    );

    let note = r#"{"body": "Customer called; batch 2291"}"#;
    let response = harness
        .call(Method::POST, &format!("{base}/notes"), &agent, Some(note))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let reply = r#"{"body": "A replacement is on its way."}"#;
    let response = harness
        .call(
            Method::POST,
            &format!("{base}/replies"),
            &agent,
            Some(reply),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let status = r#"{"status": "resolved"}"#;
    let response = harness
        .call(
            Method::POST,
            &format!("{base}/status"),
            &agent,
            Some(status),
        )
        .await;
    let detail: Value = json_body(response).await;
    assert_eq!(detail["status"], "resolved");
    assert!(detail["resolved_at"].is_i64());
    let back = r#"{"status": "received"}"#;
    let response = harness
        .call(Method::POST, &format!("{base}/status"), &agent, Some(back))
        .await;
    assert_eq!(
        error_code(response, StatusCode::CONFLICT).await,
        "invalid_transition"
    );

    let timeline: Vec<(String, bool)> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["kind"].as_str().unwrap().to_owned(),
                event["public"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("received", true),
        ("acknowledged", true),
        ("assigned", false),
        ("internal_note", false),
        ("public_reply", true),
        ("status_changed", true),
    ];
    assert_eq!(
        timeline,
        expected.map(|(kind, public)| (kind.to_owned(), public))
    );

    // Every action is in the owner's audit log.
    let owner = harness.sign_in(ACME_OWNER).await;
    let response = harness
        .call(Method::GET, "/api/v1/audit?limit=100", &owner, None)
        .await;
    let audit: Value = json_body(response).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .filter(|action| action.starts_with("complaint."))
        .collect();
    assert_eq!(
        actions,
        [
            "complaint.status_changed",
            "complaint.replied",
            "complaint.note_added",
            "complaint.assigned",
            "complaint.acknowledged"
        ]
    );
}

// --- limits ---------------------------------------------------------------------

#[tokio::test]
async fn replies_notes_and_tags_have_stated_limits() {
    let harness = harness().await;
    let owner = harness.sign_in(ACME_OWNER).await;
    let base = format!("/api/v1/inbox/complaints/{}", harness.reference);
    for route in ["notes", "replies"] {
        let uri = format!("{base}/{route}");
        let longest = json!({ "body": "字".repeat(10_000) }).to_string();
        let response = harness
            .call(Method::POST, &uri, &owner, Some(&longest))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{route}: 10,000 characters"
        );
        for body in [
            json!({ "body": "字".repeat(10_001) }),
            json!({ "body": "   " }),
        ] {
            let response = harness
                .call(Method::POST, &uri, &owner, Some(&body.to_string()))
                .await;
            assert_eq!(
                error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
                "invalid_submission",
                "{route}"
            );
        }
    }

    let uri = format!("{base}/tags");
    let twenty: Vec<String> = (0..20).map(|n| format!("tag-{n}")).collect();
    let response = harness
        .call(
            Method::POST,
            &uri,
            &owner,
            Some(&json!({ "add": twenty }).to_string()),
        )
        .await;
    let detail: Value = json_body(response).await;
    assert_eq!(detail["tags"].as_array().unwrap().len(), 20);
    for body in [
        json!({ "add": ["one-more"] }),
        json!({ "add": ["x".repeat(41)] }),
        json!({ "add": [""] }),
        json!({ "add": (0..21).map(|n| format!("n{n}")).collect::<Vec<_>>() }),
    ] {
        let response = harness
            .call(Method::POST, &uri, &owner, Some(&body.to_string()))
            .await;
        assert_eq!(
            error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
            "invalid_submission",
            "{body}"
        );
    }
    let response = harness
        .call(
            Method::POST,
            &uri,
            &owner,
            Some(r#"{"remove": ["tag-0"], "add": ["one-more"]}"#),
        )
        .await;
    let detail: Value = json_body(response).await;
    assert!(
        detail["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("one-more"))
    );

    for query in [
        "limit=101",
        "limit=0",
        "limit=ten",
        "cursor=bogus",
        "status=lost",
        "severity=huge",
    ] {
        let response = harness
            .call(
                Method::GET,
                &format!("/api/v1/inbox/complaints?{query}"),
                &owner,
                None,
            )
            .await;
        assert_eq!(
            error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
            "invalid_submission",
            "{query}"
        );
    }
}

// --- list, search and pagination ------------------------------------------------

#[tokio::test]
async fn the_list_filters_searches_cjk_and_pages_with_a_cursor() {
    let harness = harness().await;
    let store = &harness.temp.store;
    let owner = harness.sign_in(ACME_OWNER).await;
    let soy = record(
        store,
        NewComplaint {
            language: "zh".to_owned(),
            ..complaint(harness.acme_site, START + 1, "豆浆机用了三次就坏了")
        },
    )
    .await;
    let late = record(
        store,
        NewComplaint {
            language: "ja".to_owned(),
            category: "delivery".to_owned(),
            ..complaint(harness.acme_site, START + 2, "配達が遅い、もう一週間です")
        },
    )
    .await;
    let safety = record(
        store,
        NewComplaint {
            urgent: true,
            category: "safety".to_owned(),
            ..complaint(harness.acme_site, START - 5, "The child got sick")
        },
    )
    .await;

    let list = |query: String| {
        let owner = &owner;
        let harness = &harness;
        async move {
            let response = harness
                .call(
                    Method::GET,
                    &format!("/api/v1/inbox/complaints?{query}"),
                    owner,
                    None,
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            json_body::<Value>(response).await
        }
    };
    let everything = list(String::new()).await;
    assert_eq!(
        references(&everything)[0],
        safety,
        "safety comes first, though it is the oldest"
    );
    assert_eq!(references(&everything).len(), 4);
    assert!(everything["next_cursor"].is_null());

    assert_eq!(
        references(&list(format!("q={}", encode("豆浆机 坏了"))).await),
        std::slice::from_ref(&soy)
    );
    assert_eq!(
        references(&list(format!("q={}", encode("配達が遅い"))).await),
        std::slice::from_ref(&late)
    );
    assert_eq!(
        references(&list(format!("q={}", encode("遅い"))).await),
        std::slice::from_ref(&late)
    );
    assert_eq!(
        references(&list("q=KETTLE".to_owned()).await),
        std::slice::from_ref(&harness.reference)
    );
    assert_eq!(
        references(&list("category=delivery&language=ja".to_owned()).await),
        [late]
    );
    assert_eq!(
        references(&list("status=open&assignee=none".to_owned()).await).len(),
        4
    );
    assert!(references(&list("assignee=me".to_owned()).await).is_empty());

    // Pages of two, following the cursor, give every complaint exactly once
    // even when a complaint arrives in between.
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = list(query.clone()).await;
        seen.extend(references(&page));
        if seen.len() == 2 {
            record(
                store,
                complaint(harness.acme_site, START + 50, "arrived meanwhile"),
            )
            .await;
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={}", encode(cursor)),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "{seen:?}");
    for reference in references(&everything) {
        assert!(seen.contains(&reference));
    }
}

// --- customer text is data, never markup -----------------------------------------

#[tokio::test]
async fn an_xss_payload_comes_back_as_plain_json_strings() {
    let harness = harness().await;
    let owner = harness.sign_in(ACME_OWNER).await;
    let payload = r#"<script>alert(1)</script><img src=x onerror="alert(2)">&amp;"#;
    let mut answers = std::collections::BTreeMap::new();
    answers.insert("order".to_owned(), payload.to_owned());
    let reference = record(
        &harness.temp.store,
        NewComplaint {
            category_label: payload.to_owned(),
            remedy: Some(payload.to_owned()),
            answers,
            page_url: Some(format!("https://shop.example/?q={payload}")),
            user_agent: Some(payload.to_owned()),
            contact_name: Some(payload.to_owned()),
            callback_window: Some(payload.to_owned()),
            ..complaint(harness.acme_site, START, payload)
        },
    )
    .await;
    let uri = format!("/api/v1/inbox/complaints/{reference}");
    let reply = json!({ "body": payload }).to_string();
    let response = harness
        .call(
            Method::POST,
            &format!("{uri}/replies"),
            &owner,
            Some(&reply),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    for target in [uri.clone(), "/api/v1/inbox/complaints".to_owned()] {
        let response = harness.call(Method::GET, &target, &owner, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let text = String::from_utf8(body_bytes(response).await).unwrap();
        assert!(
            !text.contains("&lt;"),
            "no HTML escaping on the server: {text}"
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        if target == uri {
            assert_eq!(value["description"], payload);
            assert_eq!(value["remedy"], payload);
            assert_eq!(value["category_label"], payload);
            assert_eq!(value["answers"]["order"], payload);
            assert_eq!(value["contact"]["name"], payload);
            assert_eq!(value["user_agent"], payload);
            let last = value["timeline"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .clone();
            assert_eq!(last["body"], payload);
        } else {
            assert!(
                value["complaints"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|row| row["excerpt"] == payload)
            );
        }
    }
}

#[tokio::test]
async fn the_shopper_sees_acknowledgement_status_and_replies_but_never_internal_notes() {
    let harness = harness().await;
    let token = crate::domain::token::ReceiptToken::generate();
    let reference = record(
        &harness.temp.store,
        NewComplaint {
            token_hash: token.hash(),
            ..complaint(harness.acme_site, START, "The lid cracked")
        },
    )
    .await;
    let owner = harness.sign_in(ACME_OWNER).await;
    let base = format!("/api/v1/inbox/complaints/{reference}");
    for (path, body) in [
        ("acknowledge", None),
        (
            "notes",
            Some(r#"{"body": "INTERNAL: supplier batch 7 again"}"#),
        ),
        (
            "replies",
            Some(r#"{"body": "Sorry! <script>alert(1)</script> A new lid is on its way."}"#),
        ),
        ("status", Some(r#"{"status": "resolved"}"#)),
    ] {
        let response = harness
            .call(Method::POST, &format!("{base}/{path}"), &owner, body)
            .await;
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    let response = harness
        .send(
            Request::get(format!("/r/{}", token.encode()))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let page = String::from_utf8(bytes.to_vec()).unwrap();
    let timeline = &page[page.find("data-heard=\"timeline\"").expect("a timeline")..];
    let received = timeline.find("We received your complaint").unwrap();
    let acknowledged = timeline.find("A person has read it").unwrap();
    let replied = timeline.find("Owner replied:").unwrap();
    let resolved = timeline.find("Status: Resolved.").unwrap();
    assert!(
        received < acknowledged && acknowledged < replied && replied < resolved,
        "{timeline}"
    );
    assert!(page.contains("Sorry! &lt;script&gt;alert(1)&lt;/script&gt; A new lid is on its way."));
    assert!(!page.contains("<script>"));
    assert!(
        !page.contains("INTERNAL"),
        "an internal note reached the shopper"
    );
}
