//! The routing and notifications API through `router().oneshot()`, on a real
//! SQLite file, signed in as a browser is (session cookie + CSRF token),
//! with two merchants so every route is also tried across the tenant line.

use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use super::test_support::{
    ACME_OWNER, OTHER_OWNER, PUBLIC_URL, StaffApp, error_body, error_code, first_field_error,
    harness_is_app, json_body, route_literals, rule_calling_a_webhook, staff_state, two_shops,
    with_body,
};
use crate::store::Role;
use crate::store::inbox_fixtures::{START, complaint, record};
use crate::store::test_support::{TempStore, temp_store};

/// Whom the audit log names for changes made directly through the store.
const ACTOR: i64 = 1;

/// What another merchant's owner gets from a route aimed at Acme's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stranger {
    /// 404, exactly like an id that does not exist.
    NotFound,
    /// Their own (empty or separate) collection: 2xx, nothing of Acme's.
    OwnCollection,
    /// 422: Acme's ids or site keys are unknown to them.
    Unknown,
}

/// Every routing and notifications route: method, path (as in `mod.rs`), a
/// valid body, and what a stranger gets. `{id}` is Acme's rule, team,
/// webhook or notification, by the path's resource; `{user_id}` Acme's agent.
///
/// **Any new route under `/api/v1/routing` or `/api/v1/notifications` must
/// be added here**; `the_route_table_lists_every_routing_route` checks.
const ROUTES: &[(Method, &str, Option<&str>, Stranger)] = &[
    (
        Method::GET,
        "/api/v1/routing/rules",
        None,
        Stranger::OwnCollection,
    ),
    (
        Method::POST,
        "/api/v1/routing/rules",
        Some(r#"{"name": "Everything"}"#),
        Stranger::OwnCollection,
    ),
    (
        Method::POST,
        "/api/v1/routing/rules/order",
        Some(r#"{"ids": [{rule}]}"#),
        Stranger::Unknown,
    ),
    (
        Method::POST,
        "/api/v1/routing/rules/test",
        Some(r#"{"complaint": {"site": "acme-shop", "category": "product"}}"#),
        Stranger::Unknown,
    ),
    (
        Method::PUT,
        "/api/v1/routing/rules/{id}",
        Some(r#"{"name": "Renamed"}"#),
        Stranger::NotFound,
    ),
    (
        Method::DELETE,
        "/api/v1/routing/rules/{id}",
        None,
        Stranger::NotFound,
    ),
    (
        Method::GET,
        "/api/v1/routing/teams",
        None,
        Stranger::OwnCollection,
    ),
    (
        Method::POST,
        "/api/v1/routing/teams",
        Some(r#"{"name": "Night shift", "strategy": "least_loaded"}"#),
        Stranger::OwnCollection,
    ),
    (
        Method::PUT,
        "/api/v1/routing/teams/{id}",
        Some(r#"{"name": "Renamed"}"#),
        Stranger::NotFound,
    ),
    (
        Method::DELETE,
        "/api/v1/routing/teams/{id}",
        None,
        Stranger::NotFound,
    ),
    (
        Method::PUT,
        "/api/v1/routing/teams/{id}/members/{user_id}",
        Some(r#"{"is_lead": true}"#),
        Stranger::NotFound,
    ),
    (
        Method::DELETE,
        "/api/v1/routing/teams/{id}/members/{user_id}",
        None,
        Stranger::NotFound,
    ),
    (
        Method::GET,
        "/api/v1/notifications/webhooks",
        None,
        Stranger::OwnCollection,
    ),
    (
        Method::POST,
        "/api/v1/notifications/webhooks",
        Some(r#"{"name": "Chat", "url": "https://hooks.example.com/b"}"#),
        Stranger::OwnCollection,
    ),
    (
        Method::PUT,
        "/api/v1/notifications/webhooks/{id}",
        Some(r#"{"name": "Chat", "url": "https://hooks.example.com/c"}"#),
        Stranger::NotFound,
    ),
    (
        Method::DELETE,
        "/api/v1/notifications/webhooks/{id}",
        None,
        Stranger::NotFound,
    ),
    (
        Method::POST,
        "/api/v1/notifications/webhooks/{id}/rotate",
        None,
        Stranger::NotFound,
    ),
    (
        Method::GET,
        "/api/v1/notifications/outbox",
        None,
        Stranger::OwnCollection,
    ),
    (
        Method::POST,
        "/api/v1/notifications/outbox/{id}/retry",
        None,
        Stranger::NotFound,
    ),
    (
        Method::PUT,
        "/api/v1/notifications/language",
        Some(r#"{"language": "de"}"#),
        Stranger::OwnCollection,
    ),
];

struct Harness {
    temp: TempStore,
    app: StaffApp,
    acme: i64,
    /// Acme's objects that strangers aim at.
    rule: i64,
    team: i64,
    agent: i64,
    webhook: i64,
    dead: i64,
}

harness_is_app!(Harness);

async fn harness() -> Harness {
    let temp = temp_store();
    let (accounts, acme, acme_site) = two_shops(&temp.store).await;
    let store = &temp.store;
    let agent =
        crate::store::routing_fixtures::staff(store, acme, "agent@acme.example", Role::Agent).await;
    let team = store
        .save_team(
            acme,
            ACTOR,
            None,
            crate::store::TeamInput {
                name: "Couriers".to_owned(),
                strategy: crate::store::Strategy::RoundRobin,
                is_default: false,
            },
            START,
        )
        .await
        .unwrap()
        .unwrap();
    store
        .put_team_member(acme, ACTOR, team.id, agent, false, START)
        .await
        .unwrap()
        .unwrap();
    let (webhook, rule) = rule_calling_a_webhook(
        store,
        acme,
        ACTOR,
        json!({"name": "Parcels", "conditions": {"keywords": ["parcel"]}}),
    )
    .await;
    record(store, complaint(acme_site, START, "Where is my parcel?")).await;
    let pending = store.due_notifications(START, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    let dead = pending[0].id;
    store
        .notification_failed(dead, "the receiver answered 500".to_owned(), None, START)
        .await
        .unwrap();
    let state = staff_state(&temp.store, &accounts, "www");
    Harness {
        app: StaffApp::new(state),
        temp,
        acme,
        rule,
        team: team.id,
        agent,
        webhook,
        dead,
    }
}

impl Harness {
    /// The path with Acme's ids filled in.
    fn path(&self, template: &str) -> String {
        let id = if template.contains("/rules/") {
            self.rule
        } else if template.contains("/teams/") {
            self.team
        } else if template.contains("/webhooks/") {
            self.webhook
        } else {
            self.dead
        };
        template
            .replace("{id}", &id.to_string())
            .replace("{user_id}", &self.agent.to_string())
    }

    fn body(&self, body: Option<&str>) -> Option<String> {
        body.map(|body| body.replace("{rule}", &self.rule.to_string()))
    }
}

#[tokio::test]
async fn every_routing_route_refuses_strangers() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let other = harness.sign_in(OTHER_OWNER).await;
    for (method, template, body, stranger) in ROUTES {
        let uri = harness.path(template);
        let body = harness.body(*body);
        let body = body.as_deref();
        let route = format!("{method} {template}");

        // No session: 401, with or without a forged cookie.
        let anonymous = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(header::ORIGIN, PUBLIC_URL);
        let response = harness.send(with_body(anonymous, body)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{route}");
        let forged = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(header::COOKIE, "heard_session=AAAA");
        let response = harness.send(with_body(forged, body)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{route}");

        // Forged cross-site requests: 403 csrf_failed.
        if !method.is_safe() {
            for (what, origin, fetch_site, with_token) in [
                ("foreign Origin", Some("https://evil.example"), None, true),
                ("no CSRF token", Some(PUBLIC_URL), None, false),
                ("cross-site fetch", None, Some("cross-site"), true),
            ] {
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
                let response = harness.send(with_body(forged, body)).await;
                assert_eq!(
                    error_code(response, StatusCode::FORBIDDEN).await,
                    "csrf_failed",
                    "{route}: {what}"
                );
            }
        }

        // Another merchant's owner.
        let response = harness.call(method.clone(), &uri, &other, body).await;
        match stranger {
            Stranger::NotFound => assert_eq!(
                error_code(response, StatusCode::NOT_FOUND).await,
                "not_found",
                "{route}"
            ),
            Stranger::Unknown => assert_eq!(
                error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
                "invalid_submission",
                "{route}"
            ),
            Stranger::OwnCollection => {
                assert!(
                    response.status().is_success(),
                    "{route}: {}",
                    response.status()
                );
                let bytes = super::test_support::body_bytes(response).await;
                let text = String::from_utf8_lossy(&bytes);
                for secret in ["Parcels", "Couriers", "hooks.example.com/a", "Receiver"] {
                    assert!(
                        !text.contains(secret),
                        "{route} shows Acme's {secret}: {text}"
                    );
                }
            }
        }
    }

    // Nothing a stranger sent changed Acme's rules, teams, webhooks or outbox.
    let store = &harness.temp.store;
    let rules = store.routing_rules(harness.acme).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].name, "Parcels");
    let teams = store.teams(harness.acme).await.unwrap();
    let couriers = teams.iter().find(|team| team.id == harness.team).unwrap();
    assert_eq!(couriers.name, "Couriers");
    assert_eq!(couriers.members.len(), 1);
    assert!(!couriers.members[0].is_lead);
    assert!(teams.iter().all(|team| team.name != "Renamed"));
    let webhooks = store.webhooks(harness.acme).await.unwrap();
    assert_eq!(webhooks[0].url, "https://hooks.example.com/a");
    assert_eq!(webhooks[0].previous_secret_until, None, "not rotated");
    let outbox = store.notifications(harness.acme, None, 10).await.unwrap();
    assert_eq!(outbox[0].state, "dead");
}

#[test]
fn the_route_table_lists_every_routing_route() {
    let in_router = route_literals(&[include_str!("mod.rs")], |literal| {
        literal.starts_with("/api/v1/routing") || literal.starts_with("/api/v1/notifications")
    });
    let mut in_table: Vec<&str> = ROUTES.iter().map(|(_, path, ..)| *path).collect();
    in_table.sort();
    in_table.dedup();
    assert_eq!(in_router, in_table, "add the new route to ROUTES");
}

#[tokio::test]
async fn agents_and_viewers_cannot_change_routing() {
    let harness = harness().await;
    for (email, role) in [
        ("agent2@acme.example", Role::Agent),
        ("viewer@acme.example", Role::Viewer),
    ] {
        let session = harness.colleague(email, role).await;
        for (method, template, body, _) in ROUTES {
            let uri = harness.path(template);
            let body = harness.body(*body);
            let response = harness
                .call(method.clone(), &uri, &session, body.as_deref())
                .await;
            if template.ends_with("/language") {
                assert_eq!(
                    response.status(),
                    StatusCode::NO_CONTENT,
                    "{role:?}: own language"
                );
            } else {
                assert_eq!(
                    error_code(response, StatusCode::FORBIDDEN).await,
                    "forbidden",
                    "{role:?} {method} {template}"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_owner_sets_up_routing_tries_it_and_retries_a_dead_notification() {
    let harness = harness().await;
    let owner = harness.sign_in(ACME_OWNER).await;
    let call = |method: Method, uri: &str, body: Option<Value>| {
        let body = body.map(|body| body.to_string());
        let uri = uri.to_owned();
        let owner = &owner;
        let harness = &harness;
        async move { harness.call(method, &uri, owner, body.as_deref()).await }
    };

    // A webhook: the secret is shown once, in the Standard Webhooks form.
    let response = call(
        Method::POST,
        "/api/v1/notifications/webhooks",
        Some(json!({"name": "Chat", "url": "https://chat.example.com/in", "format": "slack"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = json_body(response).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(created["format"], "slack");
    let chat = created["id"].as_i64().unwrap();
    let listed: Value =
        json_body(call(Method::GET, "/api/v1/notifications/webhooks", None).await).await;
    assert!(
        !listed.to_string().contains(&secret[6..]),
        "the list never shows secrets"
    );
    let rotated: Value = json_body(
        call(
            Method::POST,
            &format!("/api/v1/notifications/webhooks/{chat}/rotate"),
            None,
        )
        .await,
    )
    .await;
    assert_ne!(rotated["secret"], secret.as_str());
    assert_eq!(
        rotated["previous_secret_until"],
        START + 60_000 + super::notifications::ROTATION_OVERLAP_MS
    );

    // A private address is refused unless the owner allows it.
    let private = json!({"name": "Local", "url": "http://192.168.1.20/hook"});
    let error = error_body(
        call(
            Method::POST,
            "/api/v1/notifications/webhooks",
            Some(private.clone()),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error.fields[0].field, "url");
    assert_eq!(error.fields[0].code, "private_address");
    let mut allowed = private;
    allowed["allow_private"] = json!(true);
    let response = call(
        Method::POST,
        "/api/v1/notifications/webhooks",
        Some(allowed),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // A team and a rule that uses it; the team cannot go while the rule does.
    let team: Value = json_body(
        call(
            Method::POST,
            "/api/v1/routing/teams",
            Some(json!({"name": "Safety desk", "strategy": "least_loaded"})),
        )
        .await,
    )
    .await;
    let team_id = team["id"].as_i64().unwrap();
    let response = call(
        Method::PUT,
        &format!("/api/v1/routing/teams/{team_id}/members/{}", harness.agent),
        Some(json!({"is_lead": true})),
    )
    .await;
    let team: Value = json_body(response).await;
    assert_eq!(team["members"][0]["is_lead"], true);
    let duplicate = call(
        Method::POST,
        "/api/v1/routing/teams",
        Some(json!({"name": "Safety desk"})),
    )
    .await;
    assert_eq!(
        first_field_error(duplicate, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .code,
        "taken"
    );

    let response = call(
        Method::POST,
        "/api/v1/routing/rules",
        Some(json!({
            "name": "Night safety", "matching": "continue",
            "conditions": {"categories": ["safety"], "hours": {"from": 22, "to": 6}},
            "actions": {"assign": {"kind": "team", "team_id": team_id}, "escalate": true,
                        "webhooks": [chat]}
        })),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let night: Value = json_body(response).await;
    assert_eq!(night["matching"], "continue");
    let in_use = call(
        Method::DELETE,
        &format!("/api/v1/routing/teams/{team_id}"),
        None,
    )
    .await;
    assert_eq!(
        first_field_error(in_use, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .code,
        "in_use"
    );

    // Bad rules are refused with the field named.
    let bad = call(
        Method::POST,
        "/api/v1/routing/rules",
        Some(json!({"name": "x", "conditions": {"hours": {"from": 30, "to": 2}}})),
    )
    .await;
    assert_eq!(
        first_field_error(bad, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .field,
        "conditions.hours"
    );
    let unknown_field = call(
        Method::POST,
        "/api/v1/routing/rules",
        Some(json!({"name": "x", "conditions": {"colour": ["red"]}})),
    )
    .await;
    assert!(unknown_field.status().is_client_error());

    // Reorder: the night rule first.
    let night_id = night["id"].as_i64().unwrap();
    let order: Value = json_body(
        call(
            Method::POST,
            "/api/v1/routing/rules/order",
            Some(json!({"ids": [night_id, harness.rule]})),
        )
        .await,
    )
    .await;
    assert_eq!(order[0]["name"], "Night safety");

    // Dry run at 23:00 UTC on a safety complaint, changing nothing.
    let night_time = 1_795_474_800_000_i64; // 2026-11-23 23:00 UTC
    let tried: Value = json_body(
        call(
            Method::POST,
            "/api/v1/routing/rules/test",
            Some(json!({"complaint": {
                "site": "acme-shop", "category": "safety", "urgent": true,
                "text": "a parcel of spoiled milk", "received_at": night_time
            }})),
        )
        .await,
    )
    .await;
    assert_eq!(
        tried["matched"],
        json!([{"id": night_id, "name": "Night safety"}, {"id": harness.rule, "name": "Parcels"}])
    );
    assert_eq!(tried["target"], json!({"kind": "team", "team_id": team_id}));
    assert_eq!(tried["priority"], "urgent");
    assert_eq!(tried["safety"], true);
    assert_eq!(tried["escalate"], true);
    assert_eq!(tried["notify"], json!([{"kind": "owners"}]));
    // An edited rule, tried before it is saved.
    let draft: Value = json_body(
        call(
            Method::POST,
            "/api/v1/routing/rules/test",
            Some(json!({
                "complaint": {"site": "acme-shop", "category": "delivery", "text": "late"},
                "rules": [{"name": "Draft", "conditions": {"keywords": ["late"]},
                           "actions": {"tags": ["slow"]}}]
            })),
        )
        .await,
    )
    .await;
    assert_eq!(draft["matched"], json!([{"id": 1, "name": "Draft"}]));
    assert_eq!(draft["tags"], json!(["slow"]));
    assert_eq!(draft["target"], json!({"kind": "default_team"}));
    assert!(
        harness
            .temp
            .store
            .notifications(harness.acme, Some("pending".to_owned()), 10)
            .await
            .unwrap()
            .is_empty(),
        "a dry run queues nothing"
    );

    // The dead-letter list, and "retry now".
    let dead: Value =
        json_body(call(Method::GET, "/api/v1/notifications/outbox?state=dead", None).await).await;
    assert_eq!(dead.as_array().unwrap().len(), 1);
    assert_eq!(dead[0]["last_error"], "the receiver answered 500");
    assert_eq!(dead[0]["kind"], "webhook");
    assert!(dead[0]["reference"].as_str().unwrap().starts_with("HRD-"));
    let retried: Value = json_body(
        call(
            Method::POST,
            &format!("/api/v1/notifications/outbox/{}/retry", harness.dead),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(retried["state"], "pending");
    assert_eq!(retried["attempts"], 0);
    let again = call(
        Method::POST,
        &format!("/api/v1/notifications/outbox/{}/retry", harness.dead),
        None,
    )
    .await;
    assert_eq!(
        again.status(),
        StatusCode::NOT_FOUND,
        "only dead ones are retried"
    );
    let bad_state = call(Method::GET, "/api/v1/notifications/outbox?state=lost", None).await;
    assert_eq!(bad_state.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Every change is in the merchant's audit log, with who made it.
    let owner_id = harness
        .temp
        .store
        .credentials_by_email(ACME_OWNER)
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let entries = harness
        .temp
        .store
        .audit_entries(harness.acme, None, 100)
        .await
        .unwrap();
    for action in [
        "webhook.created",
        "webhook.secret_rotated",
        "routing.team_created",
        "routing.team_member_set",
        "routing.rule_created",
        "routing.rules_reordered",
        "notification.retried",
    ] {
        assert!(
            entries
                .iter()
                .any(|entry| entry.action == action && entry.user_id == Some(owner_id)),
            "no {action} entry by the owner"
        );
    }
    let rotated_entry = entries
        .iter()
        .find(|entry| entry.action == "webhook.secret_rotated")
        .unwrap();
    assert!(
        !format!("{:?}", rotated_entry.detail).contains(&secret[6..]),
        "the audit log never holds a secret"
    );

    // One's own language for notification email.
    let unknown = call(
        Method::PUT,
        "/api/v1/notifications/language",
        Some(json!({"language": "tlh"})),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[test]
fn the_readme_states_the_routing_limits() {
    use crate::domain::routing::{
        MAX_ACTION_VALUES, MAX_CONDITION_VALUE_CHARS, MAX_CONDITION_VALUES, MAX_NAME_CHARS,
        MAX_RULES, MAX_TAG_CHARS,
    };
    use crate::notify::webhook::MAX_URL_CHARS;
    use crate::store::{MAX_TEAMS, MAX_WEBHOOKS};
    let readme = include_str!("../../../README.md");
    let row = |what: &str| -> Vec<usize> {
        let line = readme
            .lines()
            .find(|line| line.starts_with(&format!("| {what} |")))
            .unwrap_or_else(|| panic!("README.md has no routing limit row for {what}"));
        line.split(|character: char| !character.is_ascii_digit())
            .filter_map(|word| word.parse().ok())
            .collect()
    };
    for (what, numbers) in [
        ("rules per merchant", vec![MAX_RULES]),
        ("teams per merchant", vec![MAX_TEAMS]),
        ("webhook endpoints per merchant", vec![MAX_WEBHOOKS]),
        ("rule, team or endpoint name", vec![MAX_NAME_CHARS]),
        (
            "values in one condition list",
            vec![MAX_CONDITION_VALUES, MAX_CONDITION_VALUE_CHARS],
        ),
        (
            "tags, recipients or webhooks in one rule",
            vec![MAX_ACTION_VALUES, MAX_TAG_CHARS],
        ),
        ("webhook URL", vec![MAX_URL_CHARS]),
        (
            "dry-run sample text",
            vec![super::routing::MAX_SAMPLE_TEXT_CHARS],
        ),
        (
            "routing request body",
            vec![super::routing::ROUTING_BODY_BYTES],
        ),
    ] {
        let quoted = row(what);
        for number in numbers {
            assert!(
                quoted.contains(&number),
                "README row {what:?} does not state {number}"
            );
        }
    }
}
