//! The merchant's retention through `router().oneshot()`, signed in as a
//! browser is, with two merchants: everyone reads, only owners change, the
//! range is checked, another merchant's setting is never touched, and the
//! sites page offers the form.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use super::test_support::{
    ACME_OWNER, OTHER_OWNER, StaffApp, error_body, error_code, harness_is_app, json_body,
    route_literals, staff_state, two_owners,
};
use crate::store::Role;
use crate::store::test_support::{TempStore, temp_store};

/// Every route of the retention API. **A new one must be added here**;
/// `the_route_table_lists_every_retention_route` compares it with the router.
const ROUTES: &[&str] = &["/api/v1/retention"];

struct Harness {
    _temp: TempStore,
    app: StaffApp,
}

harness_is_app!(Harness);

async fn harness() -> Harness {
    let temp = temp_store();
    let accounts = two_owners(&temp.store).await;
    let app = StaffApp::new(staff_state(&temp.store, &accounts, "www"));
    Harness { _temp: temp, app }
}

fn put(days: &Value) -> String {
    json!({ "retention_days": days }).to_string()
}

#[test]
fn the_route_table_lists_every_retention_route() {
    let in_router = route_literals(&[include_str!("mod.rs")], |literal| {
        literal.starts_with("/api/v1/retention")
    });
    assert_eq!(in_router, ROUTES.to_vec(), "add the new route to ROUTES");
}

#[tokio::test]
async fn strangers_and_forged_requests_change_nothing() {
    let harness = harness().await;
    for method in [Method::GET, Method::PUT] {
        let response = harness
            .send(
                Request::builder()
                    .method(method.clone())
                    .uri(ROUTES[0])
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(put(&json!(90))))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method}");
    }
    // A signed-in owner's cookie without the CSRF token: refused.
    let owner = harness.sign_in(ACME_OWNER).await;
    let forged = harness
        .send(
            Request::put(ROUTES[0])
                .header(header::COOKIE, &owner.cookie)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(put(&json!(90))))
                .unwrap(),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let view: Value = json_body(harness.get(ROUTES[0], &owner).await).await;
    assert_eq!(view["retention_days"], Value::Null);
}

#[tokio::test]
async fn owners_set_it_for_their_merchant_only_and_others_only_read() {
    let harness = harness().await;
    let owner = harness.sign_in(ACME_OWNER).await;
    let other = harness.sign_in(OTHER_OWNER).await;
    let agent = harness.colleague("agent@acme.example", Role::Agent).await;
    let viewer = harness.colleague("viewer@acme.example", Role::Viewer).await;

    let saved = harness
        .call(Method::PUT, ROUTES[0], &owner, Some(&put(&json!(90))))
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let saved: Value = json_body(saved).await;
    assert_eq!(saved["retention_days"], 90);
    assert_eq!(saved["min_days"], 30);
    assert_eq!(saved["max_days"], 3650);

    for session in [&agent, &viewer] {
        let refused = harness
            .call(Method::PUT, ROUTES[0], session, Some(&put(&json!(30))))
            .await;
        assert_eq!(
            error_code(refused, StatusCode::FORBIDDEN).await,
            "forbidden"
        );
        let read: Value = json_body(harness.get(ROUTES[0], session).await).await;
        assert_eq!(read["retention_days"], 90);
    }
    // The other merchant's setting is its own.
    let theirs: Value = json_body(harness.get(ROUTES[0], &other).await).await;
    assert_eq!(theirs["retention_days"], Value::Null);
    let acme = harness.user(ACME_OWNER).await.merchant_id;
    let other_id = harness.user(OTHER_OWNER).await.merchant_id;
    assert_eq!(harness.store.retention_days(acme).await.unwrap(), Some(90));
    assert_eq!(harness.store.retention_days(other_id).await.unwrap(), None);

    // The change is in the audit log.
    let audit = harness.store.audit_entries(acme, None, 20).await.unwrap();
    let change = audit
        .iter()
        .find(|entry| entry.action == "retention.changed")
        .expect("an audit entry");
    assert_eq!(change.detail, json!({ "from": null, "to": 90 }));

    // `null` keeps everything again.
    let cleared = harness
        .call(Method::PUT, ROUTES[0], &owner, Some(&put(&Value::Null)))
        .await;
    assert_eq!(cleared.status(), StatusCode::OK);
    assert_eq!(harness.store.retention_days(acme).await.unwrap(), None);
}

#[tokio::test]
async fn days_out_of_range_or_not_a_number_are_refused_with_the_field() {
    let harness = harness().await;
    let owner = harness.sign_in(ACME_OWNER).await;
    for days in [
        json!(0),
        json!(29),
        json!(3651),
        json!(-30),
        json!(90.5),
        json!("90"),
        json!([90]),
    ] {
        let response = harness
            .call(Method::PUT, ROUTES[0], &owner, Some(&put(&days)))
            .await;
        let error = error_body(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error.fields[0].field, "retention_days", "{days}");
    }
    // The field is required: `{}` must not switch retention off by accident.
    for body in ["{}", r#"{"retention_days": 90, "extra": 1}"#] {
        let response = harness
            .call(Method::PUT, ROUTES[0], &owner, Some(body))
            .await;
        assert_eq!(
            error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
            "invalid_submission",
            "{body}"
        );
    }
    for days in [30, 3650] {
        let response = harness
            .call(Method::PUT, ROUTES[0], &owner, Some(&put(&json!(days))))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{days}");
    }
}

#[tokio::test]
async fn the_sites_page_offers_owners_the_setting_in_plain_words() {
    let harness = harness().await;
    let owner = harness.sign_in(ACME_OWNER).await;
    harness
        .call(Method::PUT, ROUTES[0], &owner, Some(&put(&json!(365))))
        .await;
    let (status, page) = harness.text("/inbox/sites", &owner).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-action=\"retention\""), "{page}");
    assert!(page.contains("value=\"365\""), "{page}");
    assert!(
        page.contains("lose their text, photos and contact details"),
        "{page}"
    );
}
