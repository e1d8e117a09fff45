//! Staff accounts through `router().oneshot()`, on a real SQLite file, with a
//! manual clock: every attack on sign-in, sessions and CSRF is a test here.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use heard_shared::ErrorBody;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::auth::{AuditPage, InviteView, SessionView, StaffList, UserEnvelope};
use super::test_support::{body_bytes, error_code, json_body};
use super::{AppState, router};
use crate::clock::Clock;
use crate::domain::accounts::{Accounts, LIGHT_PASSWORD_PARAMS};
use crate::store::test_support::{TempStore, temp_store};
use crate::store::{Role, Store, User};

const PUBLIC_URL: &str = "http://heard.test";
const OWNER: &str = "owner@acme.example";
const PASSWORD: &str = "correct horse battery staple";
const START: i64 = 1_800_000_000_000;
const HOUR: i64 = 60 * 60 * 1000;

struct Harness {
    temp: TempStore,
    router: axum::Router,
    accounts: Accounts,
    clock: Clock,
}

/// A signed-in browser: its cookie and CSRF token.
#[derive(Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

async fn harness() -> Harness {
    harness_at(PUBLIC_URL, temp_store()).await
}

async fn harness_at(public_url: &str, temp: TempStore) -> Harness {
    let clock = Clock::manual(START);
    let accounts = Accounts::new(temp.store.clone(), LIGHT_PASSWORD_PARAMS).unwrap();
    if temp
        .store
        .credentials_by_email(OWNER)
        .await
        .unwrap()
        .is_none()
    {
        accounts
            .create_owner("Acme", OWNER, "Olive Owner", PASSWORD.to_owned(), START)
            .await
            .unwrap();
    }
    let state = AppState::new(
        temp.store.clone(),
        public_url,
        "www".into(),
        "target/widget".into(),
        accounts.clone(),
    )
    .with_clock(clock.clone());
    Harness {
        router: router(state),
        temp,
        accounts,
        clock,
    }
}

impl Harness {
    async fn send(&self, mut request: Request<Body>) -> Response {
        if request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none()
        {
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40000))));
        }
        self.router.clone().oneshot(request).await.unwrap()
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    async fn login(&self, email: &str, password: &str) -> Response {
        self.send(json_request(
            Method::POST,
            "/api/v1/auth/login",
            &json!({ "email": email, "password": password }),
        ))
        .await
    }

    async fn sign_in(&self, email: &str) -> Session {
        self.sign_in_with(email, PASSWORD).await
    }

    async fn sign_in_with(&self, email: &str, password: &str) -> Session {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = cookie_pair(&response);
        let view: SessionView = json_body(response).await;
        Session {
            cookie,
            csrf: view.csrf_token,
        }
    }

    /// A same-origin request of a signed-in browser, with its CSRF token.
    async fn call(
        &self,
        method: Method,
        uri: &str,
        session: &Session,
        body: Option<Value>,
    ) -> Response {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .header(header::ORIGIN, PUBLIC_URL);
        let body = match body {
            Some(body) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    async fn me(&self, session: &Session) -> StatusCode {
        self.call(Method::GET, "/api/v1/auth/me", session, None)
            .await
            .status()
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

    /// Adds a staff member to the owner's merchant through an invitation.
    async fn add_staff(&self, email: &str, role: Role) -> User {
        let owner = self.user(OWNER).await;
        self.add_staff_of(&owner, email, role).await
    }

    async fn add_staff_of(&self, owner: &User, email: &str, role: Role) -> User {
        let (token, _) = self
            .accounts
            .invite(owner, email, role, self.now())
            .await
            .unwrap();
        self.accounts
            .accept_invite(
                &token.encode(),
                "Colleague",
                PASSWORD.to_owned(),
                self.now(),
            )
            .await
            .unwrap()
    }

    async fn audit_actions(&self) -> Vec<String> {
        let owner = self.user(OWNER).await;
        self.temp
            .store
            .audit_entries(owner.merchant_id, None, 500)
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.action)
            .collect()
    }
}

fn json_request(method: Method, uri: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn set_cookie(response: &Response) -> String {
    response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned()
}

/// `heard_session=…` from a response's `Set-Cookie`.
fn cookie_pair(response: &Response) -> String {
    set_cookie(response).split(';').next().unwrap().to_owned()
}

// --- sign-in ---------------------------------------------------------------

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_returns_the_csrf_token() {
    let harness = harness().await;
    let response = harness.login(OWNER, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let cookie = set_cookie(&response);
    assert!(cookie.starts_with("heard_session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=604800"] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http must work: {cookie}");
    let session = Session {
        cookie: cookie_pair(&response),
        csrf: String::new(),
    };
    let view: SessionView = json_body(response).await;
    assert_eq!(view.user.email, OWNER);
    assert_eq!(view.user.role, Role::Owner);
    assert_eq!(view.csrf_token.len(), 43);

    let me = harness
        .call(Method::GET, "/api/v1/auth/me", &session, None)
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let again: SessionView = json_body(me).await;
    assert_eq!(
        again.csrf_token, view.csrf_token,
        "a reload gets the same token"
    );
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_collector_is_served_over_https() {
    let harness = harness_at("https://heard.example", temp_store()).await;
    let response = harness.login(OWNER, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie(&response).contains("; Secure"));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let harness = harness().await;
    let wrong = harness.login(OWNER, "not the password at all").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    let wrong = body_bytes(wrong).await;
    let unknown = harness
        .login("nobody@acme.example", "not the password at all")
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_bytes(unknown).await, wrong);
    let error: ErrorBody = serde_json::from_slice(&wrong).unwrap();
    assert_eq!(error.error, "invalid_credentials");
}

#[tokio::test]
async fn the_email_is_matched_without_regard_to_case_or_spaces() {
    let harness = harness().await;
    let response = harness.login("  Owner@ACME.example ", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn login_from_a_foreign_origin_is_refused() {
    let harness = harness().await;
    let mut request = json_request(
        Method::POST,
        "/api/v1/auth/login",
        &json!({ "email": OWNER, "password": PASSWORD }),
    );
    request
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let response = harness.send(request).await;
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "csrf_failed"
    );
}

#[tokio::test]
async fn login_renews_the_session_and_the_old_token_dies() {
    let harness = harness().await;
    let first = harness.sign_in(OWNER).await;
    // The browser signs in again, presenting its old (perhaps planted) cookie.
    let mut request = json_request(
        Method::POST,
        "/api/v1/auth/login",
        &json!({ "email": OWNER, "password": PASSWORD }),
    );
    request
        .headers_mut()
        .insert(header::COOKIE, first.cookie.parse().unwrap());
    let response = harness.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = Session {
        cookie: cookie_pair(&response),
        csrf: json_body::<SessionView>(response).await.csrf_token,
    };
    assert_ne!(second.cookie, first.cookie);
    assert_ne!(second.csrf, first.csrf);
    assert_eq!(harness.me(&first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(harness.me(&second).await, StatusCode::OK);
}

#[tokio::test]
async fn requests_without_a_valid_session_are_401() {
    let harness = harness().await;
    let forged = Session {
        cookie: format!("heard_session={}", "A".repeat(43)),
        csrf: String::new(),
    };
    let garbage = Session {
        cookie: "heard_session=<script>".to_owned(),
        csrf: String::new(),
    };
    for (method, uri) in [
        (Method::GET, "/api/v1/auth/me"),
        (Method::GET, "/api/v1/staff"),
        (Method::GET, "/api/v1/audit"),
        (Method::POST, "/api/v1/auth/logout"),
    ] {
        let response = harness
            .send(
                Request::builder()
                    .method(method.clone())
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            "not_signed_in",
            "{uri}"
        );
        for session in [&forged, &garbage] {
            let response = harness.call(method.clone(), uri, session, None).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{uri}");
        }
    }
}

// --- session lifetime --------------------------------------------------------

#[tokio::test]
async fn a_session_left_idle_for_12_hours_ends() {
    let harness = harness().await;
    let session = harness.sign_in(OWNER).await;
    harness.clock.advance(11 * HOUR);
    assert_eq!(
        harness.me(&session).await,
        StatusCode::OK,
        "use keeps it alive"
    );
    harness.clock.advance(11 * HOUR);
    assert_eq!(harness.me(&session).await, StatusCode::OK);
    harness.clock.advance(12 * HOUR);
    assert_eq!(harness.me(&session).await, StatusCode::UNAUTHORIZED);
    // Gone for good, not only refused while idle.
    harness.clock.advance(-12 * HOUR);
    assert_eq!(harness.me(&session).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_busy_session_still_ends_after_7_days() {
    let harness = harness().await;
    let session = harness.sign_in(OWNER).await;
    for _ in 0..27 {
        harness.clock.advance(6 * HOUR);
        assert_eq!(harness.me(&session).await, StatusCode::OK);
    }
    harness.clock.advance(6 * HOUR);
    assert_eq!(harness.me(&session).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let harness = harness().await;
    let session = harness.sign_in(OWNER).await;
    let response = harness
        .call(Method::POST, "/api/v1/auth/logout", &session, None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookie(&response);
    assert!(cleared.starts_with("heard_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // Replaying the old cookie (e.g. copied before logout) no longer works.
    assert_eq!(harness.me(&session).await, StatusCode::UNAUTHORIZED);
    assert!(harness.audit_actions().await.contains(&"logout".to_owned()));
}

// --- password change ---------------------------------------------------------

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions() {
    let harness = harness().await;
    let laptop = harness.sign_in(OWNER).await;
    let stolen = harness.sign_in(OWNER).await;
    let new_password = "a much better passphrase";

    let wrong = harness
        .call(
            Method::POST,
            "/api/v1/auth/password",
            &laptop,
            Some(json!({ "current_password": "guessing wrong!!", "new_password": new_password })),
        )
        .await;
    assert_eq!(
        error_code(wrong, StatusCode::FORBIDDEN).await,
        "wrong_password"
    );
    let weak = harness
        .call(
            Method::POST,
            "/api/v1/auth/password",
            &laptop,
            Some(json!({ "current_password": PASSWORD, "new_password": "short" })),
        )
        .await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        harness.me(&stolen).await,
        StatusCode::OK,
        "nothing changed yet"
    );

    let changed = harness
        .call(
            Method::POST,
            "/api/v1/auth/password",
            &laptop,
            Some(json!({ "current_password": PASSWORD, "new_password": new_password })),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(harness.me(&laptop).await, StatusCode::OK);
    assert_eq!(harness.me(&stolen).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        harness.login(OWNER, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    harness.sign_in_with(OWNER, new_password).await;
    let actions = harness.audit_actions().await;
    assert!(actions.contains(&"password_changed".to_owned()));
    assert!(actions.contains(&"password_change_failed".to_owned()));
}

#[tokio::test]
async fn the_password_may_not_be_the_email() {
    let harness = harness().await;
    let session = harness.sign_in(OWNER).await;
    let response = harness
        .call(
            Method::POST,
            "/api/v1/auth/password",
            &session,
            Some(json!({ "current_password": PASSWORD, "new_password": "OWNER@acme.example" })),
        )
        .await;
    let error: ErrorBody = {
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        json_body(response).await
    };
    assert_eq!(error.fields[0].field, "password");
}

// --- CSRF ------------------------------------------------------------------

#[tokio::test]
async fn a_state_change_without_the_csrf_token_is_refused() {
    let harness = harness().await;
    let session = harness.sign_in(OWNER).await;
    let missing = Session {
        csrf: String::new(),
        ..session.clone()
    };
    let response = harness
        .call(Method::POST, "/api/v1/auth/logout", &missing, None)
        .await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "csrf_failed"
    );
    assert_eq!(
        harness.me(&session).await,
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn a_state_change_with_a_wrong_or_borrowed_csrf_token_is_refused() {
    let harness = harness().await;
    let victim = harness.sign_in(OWNER).await;
    harness.add_staff("agent@acme.example", Role::Agent).await;
    let attacker = harness.sign_in("agent@acme.example").await;
    for csrf in [
        "A".repeat(43),
        attacker.csrf.clone(),
        victim.csrf[..42].to_owned(),
    ] {
        let forged = Session {
            csrf,
            ..victim.clone()
        };
        let response = harness
            .call(
                Method::POST,
                "/api/v1/staff/invites",
                &forged,
                Some(json!({ "email": "mole@evil.example", "role": "owner" })),
            )
            .await;
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "csrf_failed"
        );
    }
    let owner = harness.user(OWNER).await;
    let entries = harness
        .temp
        .store
        .audit_entries(owner.merchant_id, None, 500)
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .all(|entry| !entry.detail.to_string().contains("mole@evil.example")),
        "no invitation was made"
    );
}

#[tokio::test]
async fn a_cross_origin_state_change_is_refused_even_with_the_token() {
    let harness = harness().await;
    let session = harness.sign_in(OWNER).await;
    for (name, value) in [
        (header::ORIGIN.as_str(), "https://evil.example"),
        (header::ORIGIN.as_str(), "null"),
        (header::ORIGIN.as_str(), "http://heard.test.evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let mut request = Request::post("/api/v1/auth/logout")
            .header(header::COOKIE, &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .body(Body::empty())
            .unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
        let response = harness.send(request).await;
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "csrf_failed",
            "{name}: {value}"
        );
    }
    assert_eq!(harness.me(&session).await, StatusCode::OK);
}

// --- throttling --------------------------------------------------------------

#[tokio::test]
async fn repeated_failures_for_one_email_earn_a_429_with_retry_after() {
    let harness = harness().await;
    for _ in 0..5 {
        let response = harness.login(OWNER, "wrong password guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password is not checked now.
    let response = harness.login(OWNER, PASSWORD).await;
    assert_eq!(response.headers()[header::RETRY_AFTER], "30");
    assert_eq!(
        error_code(response, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_attempts"
    );
    harness.clock.advance(30_000);
    // The next failure doubles the delay.
    let response = harness.login(OWNER, "wrong password guess").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = harness.login(OWNER, PASSWORD).await;
    assert_eq!(response.headers()[header::RETRY_AFTER], "60");
    harness.clock.advance(60_000);
    harness.sign_in(OWNER).await;
    // Success clears the email's count.
    let response = harness.login(OWNER, "wrong password guess").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    harness.sign_in(OWNER).await;
}

#[tokio::test]
async fn unknown_emails_are_throttled_like_known_ones() {
    let harness = harness().await;
    for _ in 0..5 {
        harness.login("ghost@acme.example", "whatever12345").await;
    }
    let response = harness.login("ghost@acme.example", "whatever12345").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn one_address_spraying_many_emails_is_throttled() {
    let harness = harness().await;
    for attempt in 0..20 {
        let response = harness
            .login(&format!("guess{attempt}@acme.example"), "password123456")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = harness.login(OWNER, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another address is not affected.
    let mut request = json_request(
        Method::POST,
        "/api/v1/auth/login",
        &json!({ "email": OWNER, "password": PASSWORD }),
    );
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([198, 51, 100, 7], 5000))));
    assert_eq!(harness.send(request).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_lockout_survives_a_restart() {
    let harness = harness().await;
    for _ in 0..5 {
        harness.login(OWNER, "wrong password guess").await;
    }
    let Harness { temp, .. } = harness;
    temp.store.shutdown().await;
    let path = temp.directory.path().join("heard.sqlite3");
    let reopened = TempStore {
        store: Store::open(&path, 64, 1024).unwrap(),
        directory: temp.directory,
    };
    let harness = harness_at(PUBLIC_URL, reopened).await;
    let response = harness.login(OWNER, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

// --- roles, tenants, owners --------------------------------------------------

#[tokio::test]
async fn agents_and_viewers_cannot_use_owner_endpoints() {
    let harness = harness().await;
    let target = harness.add_staff("target@acme.example", Role::Viewer).await;
    for (email, role) in [
        ("agent@acme.example", Role::Agent),
        ("viewer@acme.example", Role::Viewer),
    ] {
        harness.add_staff(email, role).await;
        let session = harness.sign_in(email).await;
        let invite = harness
            .call(
                Method::POST,
                "/api/v1/staff/invites",
                &session,
                Some(json!({ "email": "friend@acme.example", "role": "owner" })),
            )
            .await;
        assert_eq!(error_code(invite, StatusCode::FORBIDDEN).await, "forbidden");
        for (method, uri) in [
            (Method::POST, format!("/api/v1/staff/{}/disable", target.id)),
            (Method::DELETE, format!("/api/v1/staff/{}", target.id)),
            (Method::GET, "/api/v1/audit".to_owned()),
        ] {
            let response = harness.call(method, &uri, &session, None).await;
            assert_eq!(
                error_code(response, StatusCode::FORBIDDEN).await,
                "forbidden",
                "{uri}"
            );
        }
        // Seeing colleagues is fine for every role.
        let list = harness
            .call(Method::GET, "/api/v1/staff", &session, None)
            .await;
        assert_eq!(list.status(), StatusCode::OK);
    }
    let target = harness.user("target@acme.example").await;
    assert!(!target.disabled);
}

#[tokio::test]
async fn another_merchants_staff_is_not_found() {
    let harness = harness().await;
    let rival_owner = harness
        .accounts
        .create_owner(
            "Rival",
            "owner@rival.example",
            "Rita",
            PASSWORD.to_owned(),
            harness.now(),
        )
        .await
        .unwrap();
    let rival_agent = harness
        .add_staff_of(&rival_owner, "agent@rival.example", Role::Agent)
        .await;
    let session = harness.sign_in(OWNER).await;
    for (method, uri) in [
        (
            Method::POST,
            format!("/api/v1/staff/{}/disable", rival_agent.id),
        ),
        (Method::DELETE, format!("/api/v1/staff/{}", rival_agent.id)),
        (Method::DELETE, format!("/api/v1/staff/{}", rival_owner.id)),
        (Method::DELETE, "/api/v1/staff/not-a-number".to_owned()),
    ] {
        let response = harness.call(method, &uri, &session, None).await;
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "not_found",
            "{uri}"
        );
    }
    let list: StaffList = json_body(
        harness
            .call(Method::GET, "/api/v1/staff", &session, None)
            .await,
    )
    .await;
    assert_eq!(list.staff.len(), 1, "only Acme's own staff");
    let audit: AuditPage = json_body(
        harness
            .call(Method::GET, "/api/v1/audit", &session, None)
            .await,
    )
    .await;
    assert!(
        audit
            .entries
            .iter()
            .all(|entry| !entry.detail.to_string().contains("rival")),
        "no other merchant's entries"
    );
    let agent = harness.user("agent@rival.example").await;
    assert!(!agent.disabled);
}

#[tokio::test]
async fn the_last_owner_cannot_be_disabled_or_removed() {
    let harness = harness().await;
    let owner = harness.user(OWNER).await;
    let session = harness.sign_in(OWNER).await;
    for (method, uri) in [
        (Method::POST, format!("/api/v1/staff/{}/disable", owner.id)),
        (Method::DELETE, format!("/api/v1/staff/{}", owner.id)),
    ] {
        let response = harness.call(method, &uri, &session, None).await;
        assert_eq!(
            error_code(response, StatusCode::CONFLICT).await,
            "last_owner"
        );
    }
    assert_eq!(harness.me(&session).await, StatusCode::OK);

    // With a second owner, the first may go; then the second is the last.
    let second = harness.add_staff("second@acme.example", Role::Owner).await;
    let response = harness
        .call(
            Method::DELETE,
            &format!("/api/v1/staff/{}", owner.id),
            &session,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(harness.me(&session).await, StatusCode::UNAUTHORIZED);
    let second_session = harness.sign_in("second@acme.example").await;
    let response = harness
        .call(
            Method::POST,
            &format!("/api/v1/staff/{}/disable", second.id),
            &second_session,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_last_owner_cannot_be_demoted_and_roles_take_effect_at_once() {
    let harness = harness().await;
    let owner = harness.user(OWNER).await;
    let session = harness.sign_in(OWNER).await;
    async fn set_role(harness: &Harness, session: &Session, id: i64, role: &str) -> Response {
        let uri = format!("/api/v1/staff/{id}/role");
        let body = json!({ "role": role });
        harness.call(Method::POST, &uri, session, Some(body)).await
    }
    let demote = |id: i64, role: &'static str| set_role(&harness, &session, id, role);
    let response = demote(owner.id, "agent").await;
    assert_eq!(
        error_code(response, StatusCode::CONFLICT).await,
        "last_owner"
    );
    assert_eq!(demote(owner.id, "owner").await.status(), StatusCode::OK);

    let agent = harness.add_staff("agent@acme.example", Role::Agent).await;
    let agent_session = harness.sign_in("agent@acme.example").await;
    let response = demote(agent.id, "viewer").await;
    assert_eq!(response.status(), StatusCode::OK);
    let changed: UserEnvelope = json_body(response).await;
    assert_eq!(changed.user.role, Role::Viewer);
    let me: SessionView = json_body(
        harness
            .call(Method::GET, "/api/v1/auth/me", &agent_session, None)
            .await,
    )
    .await;
    assert_eq!(
        me.user.role,
        Role::Viewer,
        "no sign-in needed to lose rights"
    );
    assert_eq!(
        demote(agent.id, "emperor").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert!(
        harness
            .audit_actions()
            .await
            .contains(&"role_changed".to_owned())
    );
}

#[tokio::test]
async fn a_disabled_member_is_signed_out_and_cannot_sign_in() {
    let harness = harness().await;
    let agent = harness.add_staff("agent@acme.example", Role::Agent).await;
    let agent_session = harness.sign_in("agent@acme.example").await;
    let owner_session = harness.sign_in(OWNER).await;
    let response = harness
        .call(
            Method::POST,
            &format!("/api/v1/staff/{}/disable", agent.id),
            &owner_session,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let disabled: UserEnvelope = json_body(response).await;
    assert!(disabled.user.disabled);
    assert_eq!(harness.me(&agent_session).await, StatusCode::UNAUTHORIZED);
    let response = harness.login("agent@acme.example", PASSWORD).await;
    assert_eq!(
        error_code(response, StatusCode::UNAUTHORIZED).await,
        "invalid_credentials"
    );
}

// --- invitations -------------------------------------------------------------

#[tokio::test]
async fn an_invitation_works_once() {
    let harness = harness().await;
    let session = harness.sign_in(OWNER).await;
    let response = harness
        .call(
            Method::POST,
            "/api/v1/staff/invites",
            &session,
            Some(json!({ "email": "New.Agent@Acme.example", "role": "agent" })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let invite: InviteView = json_body(response).await;
    assert_eq!(invite.email, "new.agent@acme.example");
    assert_eq!(invite.role, Role::Agent);
    let accept = |body: Value| json_request(Method::POST, &invite.accept_path, &body);

    let weak = harness
        .send(accept(
            json!({ "display_name": "Nia", "password": "short" }),
        ))
        .await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let first = harness
        .send(accept(
            json!({ "display_name": "Nia", "password": PASSWORD }),
        ))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let created: UserEnvelope = json_body(first).await;
    assert_eq!(created.user.role, Role::Agent);
    let again = harness
        .send(accept(
            json!({ "display_name": "Mallory", "password": PASSWORD }),
        ))
        .await;
    assert_eq!(
        error_code(again, StatusCode::NOT_FOUND).await,
        "invite_unusable"
    );
    harness.sign_in("new.agent@acme.example").await;

    let taken = harness
        .call(
            Method::POST,
            "/api/v1/staff/invites",
            &session,
            Some(json!({ "email": "new.agent@acme.example", "role": "viewer" })),
        )
        .await;
    assert_eq!(error_code(taken, StatusCode::CONFLICT).await, "email_taken");
}

#[tokio::test]
async fn an_invitation_expires_after_72_hours_and_forged_tokens_fail() {
    let harness = harness().await;
    let session = harness.sign_in(OWNER).await;
    let response = harness
        .call(
            Method::POST,
            "/api/v1/staff/invites",
            &session,
            Some(json!({ "email": "late@acme.example", "role": "viewer" })),
        )
        .await;
    let invite: InviteView = json_body(response).await;
    harness.clock.advance(72 * HOUR);
    let body = json!({ "display_name": "Late", "password": PASSWORD });
    let late = harness
        .send(json_request(Method::POST, &invite.accept_path, &body))
        .await;
    assert_eq!(
        error_code(late, StatusCode::NOT_FOUND).await,
        "invite_unusable"
    );
    for token in ["A".repeat(43), "short".to_owned()] {
        let forged = harness
            .send(json_request(
                Method::POST,
                &format!("/api/v1/staff/invites/{token}/accept"),
                &body,
            ))
            .await;
        assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    }
}

// --- audit -------------------------------------------------------------------

#[tokio::test]
async fn owner_actions_are_in_the_audit_log() {
    let harness = harness().await;
    harness.login(OWNER, "wrong password guess").await;
    let session = harness.sign_in(OWNER).await;
    let response = harness
        .call(
            Method::POST,
            "/api/v1/staff/invites",
            &session,
            Some(json!({ "email": "agent@acme.example", "role": "agent" })),
        )
        .await;
    let invite: InviteView = json_body(response).await;
    harness
        .send(json_request(
            Method::POST,
            &invite.accept_path,
            &json!({ "display_name": "Agent", "password": PASSWORD }),
        ))
        .await;
    let agent = harness.user("agent@acme.example").await;
    harness
        .call(
            Method::POST,
            &format!("/api/v1/staff/{}/disable", agent.id),
            &session,
            None,
        )
        .await;
    harness
        .call(
            Method::DELETE,
            &format!("/api/v1/staff/{}", agent.id),
            &session,
            None,
        )
        .await;

    let page: AuditPage = json_body(
        harness
            .call(Method::GET, "/api/v1/audit", &session, None)
            .await,
    )
    .await;
    let actions: Vec<&str> = page
        .entries
        .iter()
        .map(|entry| entry.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "staff_removed",
            "staff_disabled",
            "invite_accepted",
            "invite_created",
            "login",
            "login_failed",
            "owner_created",
        ]
    );
    let serialized = serde_json::to_string(&page.entries).unwrap();
    assert!(!serialized.contains(&invite.token), "no secrets in the log");
    assert!(!serialized.contains(PASSWORD));

    let older: AuditPage = json_body(
        harness
            .call(
                Method::GET,
                &format!("/api/v1/audit?limit=2&before={}", page.entries[1].id),
                &session,
                None,
            )
            .await,
    )
    .await;
    let older: Vec<&str> = older
        .entries
        .iter()
        .map(|entry| entry.action.as_str())
        .collect();
    assert_eq!(older, ["invite_accepted", "invite_created"]);
}
