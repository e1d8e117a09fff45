//! The HTTP tests' shared helpers, written once for every test module:
//! reading responses, signing staff in as a browser does ([`StaffApp`]),
//! and finding the routes a router source names.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use heard_shared::{ErrorBody, FieldError};
use http_body_util::BodyExt;
use tokio::sync::watch;
use tower::ServiceExt;

use super::auth::SessionView;
use super::{AppState, router};
use crate::clock::Clock;
use crate::domain::accounts::{Accounts, LIGHT_PASSWORD_PARAMS};
use crate::domain::demo::demo_site;
use crate::domain::proof::{ProofOfWork, ProofPolicy};
use crate::mail::sink::{Received, Sink};
use crate::mail::{Outgoing, Policy, deliver};
use crate::store::inbox_fixtures::{START, site};
use crate::store::test_support::TempStore;
use crate::store::{Role, Store, User, WebhookFormat, WebhookInput};

/// The collector's address in the staff tests.
pub const PUBLIC_URL: &str = "http://heard.test";
/// Every staff member's password in the staff tests.
pub const PASSWORD: &str = "correct horse battery staple";
/// The owners of the two merchants of the staff tests ([`two_owners`]).
pub const ACME_OWNER: &str = "owner@acme.example";
pub const OTHER_OWNER: &str = "owner@other.example";

/// Accounts on `store`, with the merchants Acme ([`ACME_OWNER`]) and Other
/// ([`OTHER_OWNER`]).
pub async fn two_owners(store: &Store) -> Accounts {
    let accounts = Accounts::new(store.clone(), LIGHT_PASSWORD_PARAMS).unwrap();
    for (merchant, email) in [("Acme", ACME_OWNER), ("Other", OTHER_OWNER)] {
        accounts
            .create_owner(merchant, email, "Owner", PASSWORD.to_owned(), START)
            .await
            .unwrap();
    }
    accounts
}

/// [`two_owners`], each merchant with a site: Acme's `acme-shop` and
/// Other's `other-shop`. Answers the accounts and Acme's merchant and site ids.
pub async fn two_shops(store: &Store) -> (Accounts, i64, i64) {
    let accounts = two_owners(store).await;
    let (acme, acme_site) = site(store, "Acme", "acme-shop").await;
    site(store, "Other", "other-shop").await;
    (accounts, acme, acme_site)
}

/// A webhook named "Receiver" of `merchant` and a routing rule that calls
/// it: `rule` is the rule's JSON without the webhook, which is added to its
/// actions. Both are made by `actor` at [`START`]; answers the webhook's and
/// the rule's ids.
pub async fn rule_calling_a_webhook(
    store: &Store,
    merchant: i64,
    actor: i64,
    mut rule: serde_json::Value,
) -> (i64, i64) {
    let webhook = store
        .add_webhook(
            merchant,
            actor,
            WebhookInput {
                name: "Receiver".to_owned(),
                url: "https://hooks.example.com/a".to_owned(),
                format: WebhookFormat::Standard,
                allow_private: false,
                enabled: true,
            },
            [9; 32],
            START,
        )
        .await
        .unwrap()
        .unwrap();
    rule["actions"]["webhooks"] = serde_json::json!([webhook.id]);
    let rule = store
        .add_routing_rule(
            merchant,
            actor,
            serde_json::from_value(rule).unwrap(),
            START,
        )
        .await
        .unwrap()
        .unwrap();
    (webhook.id, rule.id)
}

/// What the staff tests serve: pages from `www`, the clock a minute after
/// [`START`].
pub fn staff_state(store: &Store, accounts: &Accounts, www: &str) -> AppState {
    AppState::new(
        store.clone(),
        PUBLIC_URL,
        www.into(),
        "target/widget".into(),
        accounts.clone(),
    )
    .with_clock(Clock::manual(START + 60_000))
    .with_proof_of_work(ProofOfWork::new(LIGHT_PROOF_POLICY))
}

/// Lets a test module's `Harness`, which holds its [`StaffApp`] in `app`,
/// be used as the app itself.
macro_rules! harness_is_app {
    ($harness:ty) => {
        impl std::ops::Deref for $harness {
            type Target = $crate::http::test_support::StaffApp;
            fn deref(&self) -> &Self::Target {
                &self.app
            }
        }
    };
}
pub(crate) use harness_is_app;

/// A signed-in browser: its session cookie and CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// The whole router, reached as a browser at one address reaches it, with
/// the accounts and store behind it.
pub struct StaffApp {
    pub router: axum::Router,
    pub accounts: Accounts,
    pub store: Store,
}

impl StaffApp {
    pub fn new(state: AppState) -> StaffApp {
        StaffApp {
            accounts: state.accounts.clone(),
            store: state.store.clone(),
            router: router(state),
        }
    }

    pub async fn send(&self, mut request: Request<Body>) -> Response {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40000))));
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Signs in with [`PASSWORD`]; asserts it worked.
    pub async fn sign_in(&self, email: &str) -> Session {
        let response = self
            .send(
                Request::post("/api/v1/auth/login")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        serde_json::json!({ "email": email, "password": PASSWORD }).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = session_cookie(&response);
        let view: SessionView = json_body(response).await;
        Session {
            cookie,
            csrf: view.csrf_token,
        }
    }

    /// The staff member with this email.
    pub async fn user(&self, email: &str) -> User {
        self.store
            .credentials_by_email(email)
            .await
            .unwrap()
            .unwrap()
            .user
    }

    /// A staff member of Acme with `role`, invited by [`ACME_OWNER`], signed in.
    pub async fn colleague(&self, email: &str, role: Role) -> Session {
        let owner = self.user(ACME_OWNER).await;
        let (token, _) = self
            .accounts
            .invite(&owner, email, role, START)
            .await
            .unwrap();
        self.accounts
            .accept_invite(&token.encode(), "Colleague", PASSWORD.to_owned(), START)
            .await
            .unwrap();
        self.sign_in(email).await
    }

    /// A same-origin request of a signed-in browser, with its CSRF token.
    pub async fn call(
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

    /// `GET uri` with the session's cookie.
    pub async fn get(&self, uri: &str, session: &Session) -> Response {
        self.send(
            Request::get(uri)
                .header(header::COOKIE, &session.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// [`StaffApp::get`]'s status and body as text.
    pub async fn text(&self, uri: &str, session: &Session) -> (StatusCode, String) {
        let response = self.get(uri, session).await;
        let status = response.status();
        (
            status,
            String::from_utf8(body_bytes(response).await).unwrap(),
        )
    }
}

/// The `name=value` of the cookie a sign-in set.
pub fn session_cookie(response: &Response) -> String {
    response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Shopper mail delivered to a real SMTP sink while a test runs (polling
/// every 20 ms); delivery stops when this is dropped.
pub struct SinkMail {
    pub sink: Sink,
    store: Store,
    stop: watch::Sender<bool>,
}

impl SinkMail {
    /// Delivers `store`'s queue; links in mail start with `public_url`
    /// (none: the settings' default, empty).
    pub async fn start(store: &Store, public_url: Option<&str>) -> SinkMail {
        let sink = Sink::start().await;
        let outgoing = Outgoing::loopback(sink.port);
        let outgoing = match public_url {
            Some(url) => outgoing.links_to(url),
            None => outgoing,
        };
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(deliver(
            store.clone(),
            outgoing,
            Clock::System,
            Policy {
                poll: Duration::from_millis(20),
                ..Policy::default()
            },
            stopped,
        ));
        SinkMail {
            sink,
            store: store.clone(),
            stop,
        }
    }

    /// Waits until the queue is empty (everything sent), then returns what
    /// the sink holds.
    pub async fn settled(&self) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.store.mail_states().await.unwrap().is_empty() {
            assert!(Instant::now() < deadline, "mail still queued");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.sink.received()
    }
}

impl Drop for SinkMail {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The request with `body` as JSON, or empty.
pub fn with_body(builder: axum::http::request::Builder, body: Option<&str>) -> Request<Body> {
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// The string literals of `sources` that `keep` accepts, sorted, each once:
/// the routes a router source names, for the tests' route tables.
pub fn route_literals<'a>(sources: &[&'a str], keep: impl Fn(&str) -> bool) -> Vec<&'a str> {
    let mut found: Vec<&str> = sources
        .iter()
        .flat_map(|source| source.split('"'))
        .filter(|literal| keep(literal))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The demo site, allowing `shop`, served at `public_url` from `temp`'s store.
pub async fn demo_state(temp: &TempStore, shop: &str, public_url: &str) -> AppState {
    temp.store
        .add_site(demo_site(vec![shop.to_owned()]))
        .await
        .unwrap();
    AppState::new(
        temp.store.clone(),
        public_url,
        "www".into(),
        "target/widget".into(),
        Accounts::new(temp.store.clone(), LIGHT_PASSWORD_PARAMS).unwrap(),
    )
    .with_proof_of_work(ProofOfWork::new(LIGHT_PROOF_POLICY))
}

/// Proofs required, as in production, but a hundred times lighter: the
/// tests solve real challenges without spending their time on it.
pub const LIGHT_PROOF_POLICY: ProofPolicy = ProofPolicy {
    base_maxnumber: 1_000,
    ..ProofPolicy::DEFAULT
};

/// Fetches a challenge for `site_key` through `router`, as the widget does,
/// solves it, and answers the `Heard-Proof` header's value.
pub async fn solved_proof(router: &axum::Router, site_key: &str) -> String {
    let response = router
        .clone()
        .oneshot(
            Request::get(format!("/api/v1/sites/{site_key}/challenge"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let challenge: heard_shared::Challenge = json_body(response).await;
    heard_shared::proof::Proof {
        number: crate::domain::proof::solve(&challenge).expect("the challenge has a solution"),
        salt: challenge.salt,
        signature: challenge.signature,
    }
    .header_value()
}

pub async fn body_bytes(response: Response) -> Vec<u8> {
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

/// The body as `T`; the panic shows the body when it is not.
pub async fn json_body<T: serde::de::DeserializeOwned>(response: Response) -> T {
    let bytes = body_bytes(response).await;
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&bytes)))
}

/// Asserts the status and the shared error shape, and returns the error.
pub async fn error_body(response: Response, status: StatusCode) -> ErrorBody {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let error: ErrorBody = json_body(response).await;
    assert!(!error.message.is_empty());
    error
}

/// [`error_body`]'s machine-readable code.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    error_body(response, status).await.error
}

/// [`error_body`]'s first field error.
pub async fn first_field_error(response: Response, status: StatusCode) -> FieldError {
    error_body(response, status)
        .await
        .fields
        .into_iter()
        .next()
        .expect("the error names a field")
}

/// Asserts a site API answer to a foreign origin: `403 origin_not_allowed`,
/// without a CORS grant.
pub async fn assert_origin_refused(response: Response) {
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "origin_not_allowed"
    );
}
