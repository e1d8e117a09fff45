//! The inbox API through `router().oneshot()`, on a real SQLite file, signed
//! in the way a browser is (session cookie + CSRF token), with two merchants
//! so that every route is also tried across the tenant boundary.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::test_support::{
    ACME_OWNER, OTHER_OWNER, PASSWORD, PUBLIC_URL, Session, StaffApp, body_bytes, error_code,
    harness_is_app, json_body, route_literals, staff_state, two_owners, with_body,
};
use crate::store::inbox_fixtures::{START, complaint, record, site};
use crate::store::test_support::{TempStore, temp_store};
use crate::store::{NewComplaint, Role, User};

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
    (
        Method::POST,
        "/api/v1/inbox/bulk",
        Some(r#"{"references": ["{reference}"], "action": "add_tag", "tag": "vip"}"#),
    ),
    (
        Method::GET,
        "/api/v1/inbox/sites/{site_key}/response-targets",
        None,
    ),
    (
        Method::PUT,
        "/api/v1/inbox/sites/{site_key}/response-targets",
        Some(
            r#"{"targets": [{"class": "serious", "first_response_hours": 2, "resolution_hours": 10}]}"#,
        ),
    ),
    (Method::GET, "/api/v1/inbox/sites/{site_key}", None),
    (
        Method::PUT,
        "/api/v1/inbox/sites/{site_key}",
        Some(
            r#"{"allowed_origins": ["https://shop.example"], "config": {"site_key": "ignored", "name": "Acme shop", "languages": ["en", "de"], "categories": [{"id": "product", "label": "Product problem"}]}}"#,
        ),
    ),
    (Method::GET, "/api/v1/inbox/views", None),
    (
        Method::POST,
        "/api/v1/inbox/views",
        Some(r#"{"name": "Mine", "query": "status=open&assignee=me", "shared": false}"#),
    ),
    (Method::DELETE, "/api/v1/inbox/views/{view_id}", None),
    (Method::GET, "/api/v1/inbox/canned-replies", None),
    (
        Method::POST,
        "/api/v1/inbox/canned-replies",
        Some(r#"{"language": "en", "title": "Sorry", "body": "We are sorry."}"#),
    ),
    (
        Method::PUT,
        "/api/v1/inbox/canned-replies/{canned_id}",
        Some(r#"{"language": "en", "title": "Thanks", "body": "Thank you for telling us."}"#),
    ),
    (
        Method::DELETE,
        "/api/v1/inbox/canned-replies/{canned_id}",
        None,
    ),
    (
        Method::GET,
        "/api/v1/inbox/complaints/{reference}/related",
        None,
    ),
    (
        Method::POST,
        "/api/v1/inbox/complaints/{reference}/links",
        Some(r#"{"with": "{second}"}"#),
    ),
    (
        Method::POST,
        "/api/v1/inbox/complaints/{reference}/merge",
        Some(r#"{"into": "{second}"}"#),
    ),
    // Marked as spam first, so the restore that follows has one to restore.
    (
        Method::POST,
        "/api/v1/inbox/complaints/{reference}/spam",
        None,
    ),
    (
        Method::POST,
        "/api/v1/inbox/complaints/{reference}/restore",
        None,
    ),
];

/// The ids of the saved view and the canned reply every harness gives Acme
/// (the first rows of their tables).
const ACME_VIEW: &str = "1";
const ACME_CANNED: &str = "1";

struct Harness {
    temp: TempStore,
    app: StaffApp,
    /// A complaint of Acme's site.
    reference: String,
    acme_site: i64,
}

harness_is_app!(Harness);

async fn harness() -> Harness {
    let temp = temp_store();
    let accounts = two_owners(&temp.store).await;
    let (_, acme_site) = site(&temp.store, "Acme", "acme-shop").await;
    site(&temp.store, "Other", "other-shop").await;
    let reference = record(&temp.store, complaint(acme_site, START, "The kettle leaks")).await;
    let acme_owner = temp
        .store
        .credentials_by_email(ACME_OWNER)
        .await
        .unwrap()
        .unwrap()
        .user;
    let view = temp
        .store
        .save_view(
            acme_owner.merchant_id,
            acme_owner.id,
            "Shared".to_owned(),
            "status=open".to_owned(),
            true,
            START,
        )
        .await
        .unwrap();
    assert!(matches!(view, crate::store::Change::Done(view) if view.id.to_string() == ACME_VIEW));
    let canned = temp
        .store
        .save_canned_reply(
            acme_owner.merchant_id,
            acme_owner.id,
            None,
            "en".to_owned(),
            "Hello".to_owned(),
            "Hello, and thank you.".to_owned(),
            START,
        )
        .await
        .unwrap();
    assert!(
        matches!(canned, crate::store::Change::Done(reply) if reply.id.to_string() == ACME_CANNED)
    );
    let state = staff_state(&temp.store, &accounts, "www");
    Harness {
        app: StaffApp::new(state),
        temp,
        reference,
        acme_site,
    }
}

impl Harness {
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

/// Fills in a route's path: the complaint `reference`, and Acme's site
/// (or, for a made-up reference, a made-up site).
fn path(template: &str, reference: &str) -> String {
    let (site_key, view, canned) = if reference == MADE_UP {
        ("no-such-site", "999999", "999999")
    } else {
        ("acme-shop", ACME_VIEW, ACME_CANNED)
    };
    template
        .replace("{reference}", reference)
        .replace("{site_key}", site_key)
        .replace("{view_id}", view)
        .replace("{canned_id}", canned)
}

/// A reference (and site) no merchant has.
const MADE_UP: &str = "HRD-0000-0000";

/// A route's body with the complaint `reference` filled in (bulk actions
/// name their complaints in the body), and `second` for the other
/// complaint of a merge or link.
fn fill(body: Option<&str>, reference: &str, second: &str) -> Option<String> {
    body.map(|body| {
        body.replace("{reference}", reference)
            .replace("{second}", second)
    })
}

/// Whether the route names a merchant's object (in its path or body), so
/// another merchant gets 404 rather than their own empty list.
fn names_an_object(template: &str, body: Option<&str>) -> bool {
    template.contains('{') || body.is_some_and(|body| body.contains("{reference}"))
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
    // Another of Acme's complaints, to merge and link with.
    let second = record(
        &harness.temp.store,
        complaint(harness.acme_site, START + 1, "My kettle leaks too"),
    )
    .await;
    for (method, template, table_body) in INBOX_ROUTES {
        let uri = path(template, &harness.reference);
        let route = format!("{method} {template}");
        let filled = fill(*table_body, &harness.reference, &second);
        let body = &filled.as_deref();

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
        if names_an_object(template, *table_body) {
            assert_eq!(
                error_code(response, StatusCode::NOT_FOUND).await,
                "not_found",
                "{route}"
            );
            let made_up = path(template, MADE_UP);
            let made_up_body = fill(*table_body, MADE_UP, &second);
            let response = harness
                .call(method.clone(), &made_up, &acme, made_up_body.as_deref())
                .await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{route}");
        } else {
            assert!(response.status().is_success(), "{route}");
            let list: Value = json_body(response).await;
            if list.get("complaints").is_some() {
                assert!(
                    !references(&list).contains(&harness.reference),
                    "{route} lists another merchant's complaint"
                );
            }
            assert!(
                !list.to_string().contains("Hello, and thank you.")
                    && !list.to_string().contains("\"Shared\""),
                "{route} shows another merchant's views or canned replies: {list}"
            );
        }
    }
    // Nothing any stranger sent changed the complaints.
    assert_eq!(harness.timeline_kinds().await, ["received"]);
    let acme_user = harness.user(ACME_OWNER).await;
    let untouched = harness
        .temp
        .store
        .inbox_complaint(acme_user.merchant_id, &second, START)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.timeline.len(), 1);

    // The table is complete: the owner of the complaint can use every route.
    for (method, template, body) in INBOX_ROUTES {
        let uri = path(template, &harness.reference);
        let body = fill(*body, &harness.reference, &second);
        let response = harness
            .call(method.clone(), &uri, &acme, body.as_deref())
            .await;
        assert!(
            response.status().is_success(),
            "{method} {template}: {}",
            response.status()
        );
    }
}

#[test]
fn the_route_table_lists_every_inbox_route() {
    let in_router = route_literals(&[include_str!("mod.rs")], |literal| {
        literal.starts_with("/api/v1/inbox")
    });
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
        let body = fill(*body, &harness.reference, MADE_UP);
        let response = harness
            .call(method.clone(), &uri, &viewer, body.as_deref())
            .await;
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

    // Search reads the index, which follows intake by moments.
    store.search_caught_up().await.unwrap();
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

// --- response targets and bulk actions ---------------------------------------------

#[tokio::test]
async fn only_owners_change_response_targets_and_bad_ones_name_the_field() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let (_, agent) = harness.staff("agent@acme.example", Role::Agent).await;
    let uri = "/api/v1/inbox/sites/acme-shop/response-targets";
    let body =
        r#"{"targets": [{"class": "unrated", "first_response_hours": 1, "resolution_hours": 2}]}"#;

    let response = harness.call(Method::PUT, uri, &agent, Some(body)).await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
    let response = harness.call(Method::GET, uri, &agent, None).await;
    let view: Value = json_body(response).await;
    assert!(
        view["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["default"] == true)
    );

    let bad =
        r#"{"targets": [{"class": "unrated", "first_response_hours": 9, "resolution_hours": 2}]}"#;
    let response = harness.call(Method::PUT, uri, &acme, Some(bad)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = json_body(response).await;
    assert_eq!(error["fields"][0]["field"], "targets[0].resolution_hours");
    let unknown =
        r#"{"targets": [{"class": "whenever", "first_response_hours": 1, "resolution_hours": 2}]}"#;
    let response = harness.call(Method::PUT, uri, &acme, Some(unknown)).await;
    assert!(response.status().is_client_error());

    // Every open complaint of the site is recomputed: here the one.
    let response = harness.call(Method::PUT, uri, &acme, Some(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = json_body(response).await;
    assert_eq!(view["recomputed"], 1);
    let unrated = view["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["class"] == "unrated")
        .unwrap()
        .clone();
    assert_eq!(unrated["first_response_hours"], 1);
    assert_eq!(unrated["default"], false);
}

#[tokio::test]
async fn a_bulk_action_over_http_changes_the_whole_selection_or_nothing() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let second = record(
        &harness.temp.store,
        complaint(harness.acme_site, START + 1, "The lid is loose"),
    )
    .await;
    let body = |action: &str, references: &[&str]| {
        let mut body = serde_json::from_str::<Value>(action).unwrap();
        body["references"] = json!(references);
        body.to_string()
    };

    // A reference that is not Acme's: 404, and the first one is untouched.
    let response = harness
        .call(
            Method::POST,
            "/api/v1/inbox/bulk",
            &acme,
            Some(&body(
                r#"{"action": "set_status", "status": "in_progress"}"#,
                &[&harness.reference, MADE_UP],
            )),
        )
        .await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    assert_eq!(harness.timeline_kinds().await, ["received"]);

    // An unknown action is a 4xx with the usual error shape.
    let response = harness
        .call(
            Method::POST,
            "/api/v1/inbox/bulk",
            &acme,
            Some(&body(r#"{"action": "explode"}"#, &[&harness.reference])),
        )
        .await;
    assert!(response.status().is_client_error());

    let response = harness
        .call(
            Method::POST,
            "/api/v1/inbox/bulk",
            &acme,
            Some(&body(
                r#"{"action": "set_status", "status": "in_progress"}"#,
                &[&harness.reference, &second],
            )),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = json_body(response).await;
    assert_eq!(view["changed"], 2);
    assert_eq!(
        harness.timeline_kinds().await,
        ["received", "status_changed"]
    );
}

// --- saved views and canned replies ------------------------------------------------

/// The (name, query) of the views `session` may use.
async fn views(harness: &Harness, session: &Session) -> Vec<(String, String)> {
    let response = harness
        .call(Method::GET, "/api/v1/inbox/views", session, None)
        .await;
    let list: Value = json_body(response).await;
    list["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|view| {
            (
                view["name"].as_str().unwrap().to_owned(),
                view["query"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn views_are_personal_or_shared_and_only_their_makers_or_owners_remove_them() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let (_, agent) = harness.staff("agent@acme.example", Role::Agent).await;
    let (_, colleague) = harness.staff("colleague@acme.example", Role::Agent).await;
    let save = |name: &str, query: &str, shared: bool| {
        json!({ "name": name, "query": query, "shared": shared }).to_string()
    };

    // Stored as the list reads it: empty fields and the cursor dropped.
    let response = harness
        .call(
            Method::POST,
            "/api/v1/inbox/views",
            &agent,
            Some(&save(
                "My open",
                "?status=open&q=&cursor=abc&tag=vip",
                false,
            )),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let personal: Value = json_body(response).await;
    assert_eq!(personal["query"], "status=open&tag=vip");
    // A filter the list refuses is refused here too; so is a taken name.
    for (name, query) in [("Bad", "severity=terrible"), ("My open", "status=open")] {
        let response = harness
            .call(
                Method::POST,
                "/api/v1/inbox/views",
                &agent,
                Some(&save(name, query, false)),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}"
        );
    }
    let response = harness
        .call(
            Method::POST,
            "/api/v1/inbox/views",
            &agent,
            Some(&save("Team: safety", "status=open&severity=serious", true)),
        )
        .await;
    let shared: Value = json_body(response).await;

    // The colleague sees the shared views, not the agent's own.
    let seen = views(&harness, &colleague).await;
    assert!(seen.contains(&(
        "Team: safety".to_owned(),
        "status=open&severity=serious".to_owned()
    )));
    assert!(!seen.iter().any(|(name, _)| name == "My open"));
    assert!(
        views(&harness, &agent)
            .await
            .iter()
            .any(|(name, _)| name == "My open")
    );

    // Another's personal view does not exist for the colleague; another's
    // shared view is not theirs to remove; the owner may.
    let personal_uri = format!("/api/v1/inbox/views/{}", personal["id"]);
    let shared_uri = format!("/api/v1/inbox/views/{}", shared["id"]);
    let response = harness
        .call(Method::DELETE, &personal_uri, &colleague, None)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = harness
        .call(Method::DELETE, &shared_uri, &colleague, None)
        .await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
    let response = harness.call(Method::DELETE, &shared_uri, &acme, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !views(&harness, &agent)
            .await
            .iter()
            .any(|(name, _)| name == "Team: safety")
    );

    let acme_user = harness.user(ACME_OWNER).await;
    let audit = harness
        .temp
        .store
        .audit_entries(acme_user.merchant_id, None, 100)
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "view.saved").count(), 3);
    assert!(actions.contains(&"view.deleted"));
}

#[tokio::test]
async fn owners_write_canned_replies_and_agents_get_theirs_in_the_complaints_language_first() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let other = harness.sign_in(OTHER_OWNER).await;
    let (_, agent) = harness.staff("agent@acme.example", Role::Agent).await;
    let reply = |language: &str, title: &str, body: &str| {
        json!({ "language": language, "title": title, "body": body }).to_string()
    };
    let uri = "/api/v1/inbox/canned-replies";

    let response = harness
        .call(Method::POST, uri, &agent, Some(&reply("en", "Hi", "Hello")))
        .await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
    for (language, title, body) in [
        ("zh-Hans", "道歉", "非常抱歉给您带来不便。"),
        ("zh-Hant", "道歉", "非常抱歉給您帶來不便。"),
        ("de", "Entschuldigung", "Es tut uns leid."),
    ] {
        let response = harness
            .call(
                Method::POST,
                uri,
                &acme,
                Some(&reply(language, title, body)),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{language}");
    }
    // Bad fields are named; a title is unique per language.
    for (body, field) in [
        (reply("en", "", "x"), "title"),
        (reply("en", "Ok", ""), "body"),
        (reply("e n", "Ok", "x"), "language"),
        (reply("de", "Entschuldigung", "again"), "title"),
    ] {
        let response = harness.call(Method::POST, uri, &acme, Some(&body)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error: Value = json_body(response).await;
        assert_eq!(error["fields"][0]["field"], field, "{body}");
    }

    let response = harness
        .call(
            Method::GET,
            &format!("{uri}?language=zh-Hans"),
            &agent,
            None,
        )
        .await;
    let list: Value = json_body(response).await;
    let languages: Vec<&str> = list["canned_replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reply| reply["language"].as_str().unwrap())
        .collect();
    assert_eq!(languages, ["zh-Hans", "zh-Hant", "de", "en"]);

    // Another merchant can neither see nor change them.
    let response = harness.call(Method::GET, uri, &other, None).await;
    let list: Value = json_body(response).await;
    assert_eq!(list["canned_replies"], json!([]));
    let response = harness
        .call(
            Method::PUT,
            &format!("{uri}/{ACME_CANNED}"),
            &other,
            Some(&reply("en", "Mine now", "x")),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = harness
        .call(
            Method::PUT,
            &format!("{uri}/{ACME_CANNED}"),
            &acme,
            Some(&reply("en", "Hello again", "Hello, once more.")),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = json_body(response).await;
    assert_eq!(changed["body"], "Hello, once more.");
}

// --- site settings -------------------------------------------------------------------

#[tokio::test]
async fn owners_change_a_sites_settings_with_errors_named_per_field() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let (_, agent) = harness.staff("agent@acme.example", Role::Agent).await;
    let uri = "/api/v1/inbox/sites/acme-shop";

    let response = harness.call(Method::GET, uri, &agent, None).await;
    let site: Value = json_body(response).await;
    assert_eq!(
        site["embed_snippet"],
        format!("<script src=\"{PUBLIC_URL}/widget.js\" data-site=\"acme-shop\" async></script>")
    );
    let mut config = site["config"].clone();
    config["name"] = json!("Acme kettles");
    let body =
        json!({ "allowed_origins": ["https://kettles.example"], "config": config }).to_string();
    let response = harness.call(Method::PUT, uri, &agent, Some(&body)).await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "forbidden"
    );

    // Every problem at once, each under its field.
    let mut bad = config.clone();
    bad["name"] = json!("");
    bad["languages"] = json!([]);
    let body = json!({ "allowed_origins": ["kettles.example/shop"], "config": bad }).to_string();
    let response = harness.call(Method::PUT, uri, &acme, Some(&body)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = json_body(response).await;
    let fields: Vec<&str> = error["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"allowed_origins[0]"), "{fields:?}");
    assert!(fields.contains(&"config.name"), "{fields:?}");
    assert!(fields.contains(&"config.languages"), "{fields:?}");

    let body =
        json!({ "allowed_origins": ["https://Kettles.example"], "config": config }).to_string();
    let response = harness.call(Method::PUT, uri, &acme, Some(&body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The public widget configuration follows at once; so does CORS.
    let response = harness
        .send(
            Request::builder()
                .uri("/api/v1/sites/acme-shop/config")
                .header(header::ORIGIN, "https://kettles.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://kettles.example"
    );
    let public: Value = json_body(response).await;
    assert_eq!(public["name"], "Acme kettles");
    assert_eq!(public["site_key"], "acme-shop");

    let acme_user = harness.user(ACME_OWNER).await;
    let audit = harness
        .temp
        .store
        .audit_entries(acme_user.merchant_id, None, 20)
        .await
        .unwrap();
    assert_eq!(audit[0].action, "site.settings_changed");
}
