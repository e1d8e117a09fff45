//! The clusters API and the alerts page through `router().oneshot()`, on a
//! real SQLite file, signed in as a browser is, with two merchants: every
//! route refuses strangers, hides another merchant's clusters, and escapes
//! what it shows; owners see the dead letters with "Retry now", others not.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;

use super::test_support::{
    ACME_OWNER, OTHER_OWNER, StaffApp, error_code, harness_is_app, json_body, route_literals,
    staff_state, two_owners,
};
use crate::domain::clusters::ClusterPolicy;
use crate::notify::sweeps::sweep_clusters;
use crate::store::Role;
use crate::store::inbox_fixtures::{START, complaint, record, site};
use crate::store::test_support::{TempStore, temp_store};

/// How a route answers without a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// JSON: 401.
    Api,
    /// A page: 303 to the sign-in page.
    Page,
}

/// Every route this module's features add. **A new clusters or alerts
/// route must be added here**; `the_route_table_lists_every_clusters_route`
/// compares it with the router's source. `{id}` is Acme's cluster.
const ROUTES: &[(&str, Access)] = &[
    ("/api/v1/clusters", Access::Api),
    ("/api/v1/clusters/{id}", Access::Api),
    ("/inbox/alerts", Access::Page),
];

struct Harness {
    _temp: TempStore,
    app: StaffApp,
    cluster: i64,
    reference: String,
    dead: i64,
}

harness_is_app!(Harness);

async fn harness() -> Harness {
    let temp = temp_store();
    let store = temp.store.clone();
    let accounts = two_owners(&store).await;
    let (acme, acme_site) = site(&store, "Acme", "acme-shop").await;
    site(&store, "Other", "other-shop").await;
    // A safety complaint: a cluster of one, alerted at once; its label
    // tries to break out of the page.
    let mut sick = complaint(acme_site, START, "A splinter of glass in the kettle");
    sick.category = "safety".to_owned();
    sick.category_label = "<script>alert(1)</script>Safety".to_owned();
    sick.urgent = true;
    let reference = record(&store, sick).await;
    let sweep = sweep_clusters(&store, &ClusterPolicy::default(), START)
        .await
        .unwrap();
    assert_eq!(sweep.alerts.len(), 1);
    let cluster = sweep.alerts[0].0;
    // One of the owner emails could not be delivered.
    let pending = store.due_notifications(START, 10).await.unwrap();
    let dead = pending
        .iter()
        .find(|row| row.merchant_id == acme)
        .unwrap()
        .id;
    store
        .notification_failed(
            dead,
            "<b>550</b> mailbox unavailable".to_owned(),
            None,
            START,
        )
        .await
        .unwrap();
    let state = staff_state(
        &store,
        &accounts,
        concat!(env!("CARGO_MANIFEST_DIR"), "/../www"),
    );
    Harness {
        _temp: temp,
        app: StaffApp::new(state),
        cluster,
        reference,
        dead,
    }
}

impl Harness {
    fn path(&self, template: &str) -> String {
        template.replace("{id}", &self.cluster.to_string())
    }
}

#[test]
fn the_route_table_lists_every_clusters_route() {
    let in_router = route_literals(
        &[
            include_str!("mod.rs"),
            include_str!("inbox_pages/alerts.rs"),
        ],
        |literal| literal.starts_with("/api/v1/clusters") || literal == "/inbox/alerts",
    );
    let mut in_table: Vec<&str> = ROUTES.iter().map(|(path, _)| *path).collect();
    in_table.sort();
    assert_eq!(in_router, in_table, "add the new route to ROUTES");
}

#[tokio::test]
async fn every_clusters_route_refuses_strangers_and_hides_other_merchants() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let other = harness.sign_in(OTHER_OWNER).await;
    for (template, access) in ROUTES {
        let uri = harness.path(template);
        // No session, and a made-up one.
        for cookie in [None, Some("heard_session=AAAA")] {
            let mut request = Request::get(&uri);
            if let Some(cookie) = cookie {
                request = request.header(header::COOKIE, cookie);
            }
            let response = harness.send(request.body(Body::empty()).unwrap()).await;
            match access {
                Access::Api => assert_eq!(
                    error_code(response, StatusCode::UNAUTHORIZED).await,
                    "not_signed_in",
                    "{template}"
                ),
                Access::Page => {
                    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{template}");
                    let location = response.headers()[header::LOCATION].to_str().unwrap();
                    assert!(location.starts_with("/inbox/login"), "{location}");
                }
            }
        }
        // A page on another site that makes the signed-in browser ask: the
        // answer carries no CORS grant, so that page cannot read it, and it
        // is never cached.
        let response = harness
            .send(
                Request::get(&uri)
                    .header(header::COOKIE, &acme.cookie)
                    .header(header::ORIGIN, "https://evil.example")
                    .header("sec-fetch-site", "cross-site")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert!(
            !response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            "{template}"
        );
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-store",
            "{template}"
        );

        // Another merchant: Acme's cluster does not exist for them.
        let (status, body) = harness.text(&uri, &other).await;
        if template.contains("{id}") {
            assert_eq!(status, StatusCode::NOT_FOUND, "{template}");
            let made_up = harness.text("/api/v1/clusters/999999", &other).await;
            assert_eq!((status, body.clone()), made_up, "the same as a made-up id");
        } else {
            assert_eq!(status, StatusCode::OK, "{template}");
        }
        assert!(!body.contains(&harness.reference), "{template}: {body}");
        assert!(!body.contains("Safety"), "{template}: {body}");
    }
    let (_, list) = harness.text("/api/v1/clusters", &other).await;
    assert_eq!(list, "[]");
}

#[tokio::test]
async fn staff_read_clusters_and_only_owners_see_dead_letters_with_retry() {
    let harness = harness().await;
    let owner = harness.sign_in(ACME_OWNER).await;

    let response = harness.get("/api/v1/clusters?active=true", &owner).await;
    assert_eq!(response.status(), StatusCode::OK);
    let list: Value = json_body(response).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], harness.cluster);
    assert_eq!(list[0]["safety"], true);
    assert_eq!(list[0]["size"], 1);
    assert_eq!(list[0]["active"], true);
    let response = harness.get("/api/v1/clusters?color=red", &owner).await;
    assert_eq!(
        error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_submission"
    );
    let response = harness
        .get(&format!("/api/v1/clusters/{}", harness.cluster), &owner)
        .await;
    let detail: Value = json_body(response).await;
    assert_eq!(
        detail["complaints"][0]["reference"],
        harness.reference.as_str()
    );
    assert_eq!(detail["complaints"][0]["site_key"], "acme-shop");
    assert!(
        !detail.to_string().contains("kettle"),
        "the API lists complaints, not the shopper's words"
    );

    let (status, page) = harness.text("/inbox/alerts", &owner).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("id=\"cluster-{}\"", harness.cluster)),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"/inbox/c/{}\"", harness.reference)));
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;Safety"),
        "{page}"
    );
    assert!(!page.contains("<script>alert(1)"), "escaped");
    assert!(page.contains(&format!(
        "data-action=\"retry-notification\" data-notification=\"{}\"",
        harness.dead
    )));
    assert!(
        page.contains("&lt;b&gt;550&lt;/b&gt; mailbox unavailable"),
        "{page}"
    );
    assert!(page.contains("<script src=\"/inbox/assets/alerts.js\" defer></script>"));

    // Agents and viewers see the clusters; the outbox is owners' business.
    for (email, role) in [
        ("agent@acme.example", Role::Agent),
        ("viewer@acme.example", Role::Viewer),
    ] {
        let session = harness.colleague(email, role).await;
        let (status, page) = harness.text("/inbox/alerts", &session).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(&harness.reference), "{role:?}");
        assert!(!page.contains("dead-letters"), "{role:?}");
        assert!(!page.contains("Retry now"), "{role:?}");
        let response = harness.get("/api/v1/clusters", &session).await;
        assert_eq!(response.status(), StatusCode::OK, "{role:?}");
    }
}

#[tokio::test]
async fn the_retry_button_script_calls_the_retry_api_with_the_csrf_token() {
    let script = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/inbox/alerts.js"),
    )
    .unwrap();
    assert!(script.contains("'/api/v1/notifications/outbox/'"));
    assert!(script.contains("'X-CSRF-Token': csrf"));
    assert!(
        !script.contains("innerHTML"),
        "text goes in with textContent"
    );
    // And the page's route serves it from the inbox assets.
    let harness = harness().await;
    let response = harness
        .send(
            Request::get("/inbox/assets/alerts.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}
