//! Attacks on the public intake, written as tests: floods (rate limits),
//! spoofed client addresses, token guessing on the status link, JSON of the
//! wrong shape, pages without their security headers, slow clients.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use tower::ServiceExt;

use super::rate_limit::{RateLimitPolicy, RateLimits};
use super::router;
use super::test_support::{demo_state, error_body, solved_proof};
use crate::clock::Clock;
use crate::domain::buckets::Rate;
use crate::store::test_support::{TempStore, temp_store};

const SHOP: &str = "https://shop.example";
const PUBLIC_URL: &str = "http://heard.test";
const UNLIMITED: Rate = Rate {
    burst: 0,
    per_minute: 0,
};

struct Harness {
    temp: TempStore,
    router: axum::Router,
    clock: Clock,
}

async fn harness(policy: RateLimitPolicy) -> Harness {
    let temp = temp_store();
    let clock = Clock::manual(1_700_000_000_000);
    let state = demo_state(&temp, SHOP, PUBLIC_URL)
        .await
        .with_clock(clock.clone())
        .with_rate_limits(RateLimits::new(policy));
    Harness {
        router: router(state),
        temp,
        clock,
    }
}

fn policy(per_client: Rate, per_site: Rate) -> RateLimitPolicy {
    RateLimitPolicy {
        per_client,
        per_site,
        per_link_client: UNLIMITED,
        trusted_proxies: Vec::new(),
        exempt: vec!["127.0.0.1".parse().unwrap()],
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

impl Harness {
    /// Sends `request` as if it came over a connection from `peer`.
    async fn send_from(&self, peer: IpAddr, mut request: Request<Body>) -> Response {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer, 40_000)));
        self.router.clone().oneshot(request).await.unwrap()
    }

    async fn config_from(&self, peer: IpAddr, forwarded_for: Option<&str>) -> Response {
        let mut request = Request::get("/api/v1/sites/demo/config").header(header::ORIGIN, SHOP);
        if let Some(forwarded_for) = forwarded_for {
            request = request.header("x-forwarded-for", forwarded_for);
        }
        self.send_from(peer, request.body(Body::empty()).unwrap())
            .await
    }

    async fn complaint_from(&self, peer: IpAddr, number: usize) -> Response {
        let body = json!({
            "category": "product",
            "description": format!("Complaint number {number} about the kettle."),
            "outcomes": ["fix"],
            "language": "en",
        });
        let request = Request::post("/api/v1/sites/demo/complaints")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, SHOP)
            .header("Idempotency-Key", format!("flood-key-{number:04}"))
            .header("Heard-Proof", solved_proof(&self.router, "demo").await)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send_from(peer, request).await
    }

    fn count_complaints(&self) -> i64 {
        let path = self.temp.directory.path().join("heard.sqlite3");
        let connection = rusqlite::Connection::open(path).unwrap();
        connection
            .query_row("SELECT count(*) FROM complaints", [], |row| row.get(0))
            .unwrap()
    }
}

/// The answer to a request over the limit: the shared error shape, a
/// `Retry-After` the widget can read (CORS grant and exposed header).
async fn assert_rate_limited(response: Response, retry_after: &str) {
    assert_eq!(response.headers()[header::RETRY_AFTER], retry_after);
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        SHOP
    );
    let exposed = response.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(exposed.contains("retry-after"), "{exposed}");
    let error = error_body(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(error.error, "too_many_requests");
    assert!(error.message.contains(retry_after), "{}", error.message);
}

#[tokio::test]
async fn a_flooding_client_gets_429_with_retry_after_and_nothing_more_is_stored() {
    let harness = harness(policy(
        Rate {
            burst: 3,
            per_minute: 6,
        },
        UNLIMITED,
    ))
    .await;
    let flooder = ip("198.51.100.7");
    for number in 0..3 {
        let response = harness.complaint_from(flooder, number).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    for number in 3..20 {
        assert_rate_limited(harness.complaint_from(flooder, number).await, "10").await;
    }
    assert_eq!(harness.count_complaints(), 3);

    // Someone else is served meanwhile.
    let response = harness.complaint_from(ip("198.51.100.8"), 100).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // The bucket refills at its rate: one token ten seconds later.
    harness.clock.advance(4_000);
    assert_rate_limited(harness.complaint_from(flooder, 20).await, "6").await;
    harness.clock.advance(6_000);
    let response = harness.complaint_from(flooder, 21).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_rate_limited(harness.complaint_from(flooder, 22).await, "10").await;
    assert_eq!(harness.count_complaints(), 5);
}

#[tokio::test]
async fn an_untrusted_peer_cannot_escape_its_limit_with_x_forwarded_for() {
    let harness = harness(policy(
        Rate {
            burst: 2,
            per_minute: 1,
        },
        UNLIMITED,
    ))
    .await;
    let attacker = ip("203.0.113.66");
    for round in 0..10 {
        // A new made-up address every time, and once the exempt one.
        let claimed = if round == 5 {
            "127.0.0.1".to_owned()
        } else {
            format!("192.0.2.{round}")
        };
        let response = harness.config_from(attacker, Some(&claimed)).await;
        if round < 2 {
            assert_eq!(response.status(), StatusCode::OK, "round {round}");
        } else {
            assert_rate_limited(response, "60").await;
        }
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let mut policy = policy(
        Rate {
            burst: 2,
            per_minute: 1,
        },
        UNLIMITED,
    );
    let proxy = ip("10.0.0.1");
    // Proxies in a network, as load balancers often are.
    policy.trusted_proxies = vec!["10.0.0.0/24".parse().unwrap()];
    let harness = harness(policy).await;
    for _ in 0..2 {
        let response = harness.config_from(proxy, Some("203.0.113.1")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_rate_limited(harness.config_from(proxy, Some("203.0.113.1")).await, "60").await;
    // A client prepending a fake address to the proxy's list gains nothing:
    // the proxy appended the real one on the right.
    assert_rate_limited(
        harness
            .config_from(proxy, Some("198.18.0.1, 203.0.113.1"))
            .await,
        "60",
    )
    .await;
    let response = harness.config_from(proxy, Some("203.0.113.2")).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Through two proxies of the network, the same client.
    let response = harness
        .config_from(proxy, Some("203.0.113.2, 10.0.0.9"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_rate_limited(
        harness
            .config_from(ip("10.0.0.9"), Some("203.0.113.2"))
            .await,
        "60",
    )
    .await;
}

#[tokio::test]
async fn the_site_limit_holds_for_all_clients_together() {
    let harness = harness(policy(
        UNLIMITED,
        Rate {
            burst: 4,
            per_minute: 2,
        },
    ))
    .await;
    for client in 1..=4 {
        let response = harness
            .config_from(ip(&format!("198.51.100.{client}")), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_rate_limited(harness.config_from(ip("198.51.100.5"), None).await, "30").await;
    harness.clock.advance(30_000);
    let response = harness.config_from(ip("198.51.100.6"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn exempt_clients_and_unknown_sites_use_no_bucket() {
    let harness = harness(policy(
        Rate {
            burst: 1,
            per_minute: 1,
        },
        Rate {
            burst: 1,
            per_minute: 1,
        },
    ))
    .await;
    for _ in 0..5 {
        let response = harness.config_from(ip("127.0.0.1"), None).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // An unknown site is a 404 before any bucket is touched…
    let stranger = ip("198.51.100.9");
    for _ in 0..3 {
        let request = Request::get("/api/v1/sites/no-such-site/config")
            .body(Body::empty())
            .unwrap();
        let response = harness.send_from(stranger, request).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    // …so the stranger's first real request still has its token.
    let response = harness.config_from(stranger, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = harness.config_from(stranger, None).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response.headers().get(header::RETRY_AFTER),
        Some(&HeaderValue::from_static("60"))
    );
}

// --- security headers -------------------------------------------------------

/// Every GET route of the collector's router, with a path that reaches it
/// (`{token}` is a live status link), and a path nothing answers.
const GET_ROUTES: &[&str] = &[
    "/healthz",
    "/r/{token}",
    "/r/{token}/delete",
    "/r/not-a-token",
    "/recover",
    "/api/v1/receipts/{token}",
    "/api/v1/receipts/{token}/export",
    "/api/v1/sites/demo/config",
    "/api/v1/sites/no-such-site/config",
    "/api/v1/auth/me",
    "/api/v1/staff",
    "/api/v1/audit",
    "/api/v1/inbox/complaints",
    "/api/v1/inbox/events",
    "/api/v1/inbox/export.csv",
    "/inbox",
    "/inbox/login",
    "/inbox/c/HRD-7K3Q-9M2X",
    "/widget.js",
    "/assets/receipt.css",
    "/widget/no-such-file.js",
    "/no/such/page",
];

async fn headers_harness(public_url: &str) -> (Harness, String) {
    let temp = temp_store();
    let mut state = demo_state(&temp, SHOP, public_url).await;
    state.www_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../www")
        .into();
    let harness = Harness {
        router: router(state),
        temp,
        clock: Clock::System,
    };
    let response = harness.complaint_from(ip("127.0.0.1"), 1).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let receipt: heard_shared::Receipt = super::test_support::json_body(response).await;
    let token = receipt.status_url.rsplit('/').next().unwrap().to_owned();
    (harness, token)
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_pages_run_no_scripts() {
    let (harness, token) = headers_harness(PUBLIC_URL).await;
    let mut pages = 0;
    for route in GET_ROUTES {
        let path = route.replace("{token}", &token);
        let request = Request::get(&path).body(Body::empty()).unwrap();
        let response = harness.send_from(ip("127.0.0.1"), request).await;
        let headers = response.headers();
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert!(!policy.contains("unsafe-eval"), "{path}: {policy}");
        assert!(policy.starts_with("default-src 'none'"), "{path}: {policy}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        // Links hold tokens: never sent to another origin.
        let referrer = headers[header::REFERRER_POLICY].to_str().unwrap();
        assert!(
            ["no-referrer", "same-origin"].contains(&referrer),
            "{path}: {referrer}"
        );
        assert!(
            headers.get(header::STRICT_TRANSPORT_SECURITY).is_none(),
            "{path}: no HSTS over http"
        );
        let is_page = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| value.to_str().unwrap().starts_with("text/html"));
        if is_page {
            pages += 1;
            // Scripts, if any, only from the collector's own files.
            let scripts = policy
                .split(';')
                .map(str::trim)
                .find_map(|directive| directive.strip_prefix("script-src "));
            if let Some(sources) = scripts {
                assert_eq!(sources.trim(), "'self'", "{path}: {policy}");
            }
            if route.starts_with("/r/") || *route == "/recover" {
                assert!(scripts.is_none(), "{path}: {policy}");
            }
            assert_eq!(
                headers["cross-origin-opener-policy"], "same-origin",
                "{path}"
            );
        }
        if route.starts_with("/r/{token}") {
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            // The receipt page keeps its own, stricter headers.
            assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{path}");
            assert_eq!(headers["x-robots-tag"], "noindex, nofollow", "{path}");
        }
    }
    assert!(
        pages >= 3,
        "the receipt, deletion and recovery pages are pages"
    );

    // The answer to a POST gets them too.
    let response = harness.complaint_from(ip("127.0.0.1"), 2).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()[header::CONTENT_SECURITY_POLICY],
        super::security_headers::RESOURCE_POLICY
    );
}

#[tokio::test]
async fn over_https_browsers_are_told_to_stay_on_https() {
    let (harness, _) = headers_harness("https://heard.example").await;
    let request = Request::get("/healthz").body(Body::empty()).unwrap();
    let response = harness.send_from(ip("127.0.0.1"), request).await;
    assert_eq!(
        response.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000"
    );
}

// --- a full disk ------------------------------------------------------------

#[tokio::test]
async fn a_full_disk_answers_503_acknowledges_nothing_and_recovers_by_itself() {
    let harness = harness(policy(UNLIMITED, UNLIMITED)).await;
    let shopper = ip("198.51.100.20");
    let response = harness.complaint_from(shopper, 1).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // No room for one more page: once the free space in the pages it has
    // is used, intake refuses.
    let store = &harness.temp.store;
    store.limit_size(Some(0)).await.unwrap();
    let mut stored = 1;
    let mut number = 2;
    let refused = loop {
        let response = harness.complaint_from(shopper, number).await;
        if response.status() != StatusCode::CREATED {
            break response;
        }
        stored += 1;
        number += 1;
        assert!(number < 500, "the size limit never bit");
    };
    for (attempt, response) in [refused, harness.complaint_from(shopper, number).await]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("60")),
            "attempt {attempt}: {:?}",
            response.status()
        );
        let error = error_body(response, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(error.error, "unavailable");
        assert!(
            error.message.contains("Nothing was stored"),
            "{}",
            error.message
        );
    }
    assert_eq!(harness.count_complaints(), stored);
    // Reading still works while full.
    let response = harness.config_from(shopper, None).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Space returns: the widget's retry (same Idempotency-Key) is stored once.
    store.limit_size(None).await.unwrap();
    let response = harness.complaint_from(shopper, number).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get("idempotent-replayed").is_none());
    assert_eq!(harness.count_complaints(), stored + 1);
}

// --- the status link ----------------------------------------------------------

impl Harness {
    /// `GET path` from `peer`, forwarded for `forwarded_for` when given.
    async fn get_from(&self, peer: IpAddr, forwarded_for: Option<&str>, path: &str) -> Response {
        let mut request = Request::get(path);
        if let Some(forwarded_for) = forwarded_for {
            request = request.header("x-forwarded-for", forwarded_for);
        }
        self.send_from(peer, request.body(Body::empty()).unwrap())
            .await
    }
}

fn link_policy(per_link_client: Rate) -> RateLimitPolicy {
    RateLimitPolicy {
        per_link_client,
        ..policy(UNLIMITED, UNLIMITED)
    }
}

fn guessed_token() -> String {
    crate::domain::token::ReceiptToken::generate().encode()
}

#[tokio::test]
async fn the_status_link_limit_trips_for_one_client_and_not_another() {
    let harness = harness(link_policy(Rate {
        burst: 3,
        per_minute: 6,
    }))
    .await;
    let guesser = ip("203.0.113.7");
    let token = guessed_token();
    for path in [
        format!("/r/{token}"),
        format!("/api/v1/receipts/{token}"),
        "/recover".to_owned(),
    ] {
        let response = harness.get_from(guesser, None, &path).await;
        assert_ne!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    // The page answers with a small page, the API with the JSON error.
    let page = harness
        .get_from(guesser, None, &format!("/r/{token}/delete"))
        .await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(page.headers()[header::RETRY_AFTER], "10");
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let text = String::from_utf8(super::test_support::body_bytes(page).await).unwrap();
    assert!(text.contains("Try again in 10 seconds"), "{text}");
    let api = harness
        .get_from(guesser, None, &format!("/api/v1/receipts/{token}/export"))
        .await;
    assert_eq!(api.headers()[header::RETRY_AFTER], "10");
    let error = error_body(api, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(error.error, "too_many_requests");
    // The follow-up pages share the bucket.
    for path in [format!("/r/{token}/reply"), format!("/r/{token}/survey")] {
        let response = harness.get_from(guesser, None, &path).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
    }

    // Someone else is not affected, nor is the site API.
    let shopper = ip("198.51.100.20");
    let response = harness
        .get_from(shopper, None, &format!("/r/{token}"))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        harness.config_from(guesser, None).await.status(),
        StatusCode::OK
    );
    // Ten seconds later the guesser has one more try.
    harness.clock.advance(10_000);
    let response = harness
        .get_from(guesser, None, &format!("/r/{token}"))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = harness
        .get_from(guesser, None, &format!("/r/{token}"))
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn guessing_tokens_at_speed_gets_429_before_it_gets_far() {
    // The default limit: 60 at once, then 60 a minute.
    let harness = harness(RateLimitPolicy {
        exempt: Vec::new(),
        ..RateLimitPolicy::from_settings(&crate::Settings::default())
    })
    .await;
    let guesser = ip("203.0.113.8");
    let mut answered = 0;
    for _ in 0..1_000 {
        let response = harness
            .get_from(
                guesser,
                None,
                &format!("/api/v1/receipts/{}", guessed_token()),
            )
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            continue;
        }
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        answered += 1;
    }
    assert_eq!(answered, 60, "only the burst is looked up");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_shopper_has_their_own_status_link_bucket() {
    let mut policy = link_policy(Rate {
        burst: 1,
        per_minute: 1,
    });
    policy.trusted_proxies = vec!["10.0.0.0/24".parse().unwrap()];
    let harness = harness(policy).await;
    let proxy = ip("10.0.0.1");
    let path = format!("/r/{}", guessed_token());
    let first = harness.get_from(proxy, Some("203.0.113.1"), &path).await;
    assert_eq!(first.status(), StatusCode::NOT_FOUND);
    let again = harness.get_from(proxy, Some("203.0.113.1"), &path).await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    let other = harness.get_from(proxy, Some("203.0.113.2"), &path).await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    // An untrusted peer's made-up addresses all share the peer's bucket.
    let spoofer = ip("198.51.100.9");
    assert_eq!(
        harness
            .get_from(spoofer, Some("192.0.2.1"), &path)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        harness
            .get_from(spoofer, Some("192.0.2.2"), &path)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

// --- JSON of the wrong shape ---------------------------------------------------

#[tokio::test]
async fn a_complaint_sent_as_an_array_is_refused_and_nothing_is_stored() {
    let harness = harness(policy(UNLIMITED, UNLIMITED)).await;
    let fields = json!({
        "category": "product",
        "description": "The kettle leaks from the bottom.",
        "outcomes": ["fix"],
        "language": "en",
    });
    let mut with_array_identity = fields.clone();
    with_array_identity["identity"] = json!([null, null]);
    for (body, field) in [
        (
            json!([
                "product",
                "The kettle leaks from the bottom.",
                ["fix"],
                null,
                null,
                null,
                null,
                "en"
            ]),
            "",
        ),
        (with_array_identity, "identity: "),
    ] {
        let request = Request::post("/api/v1/sites/demo/complaints")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, SHOP)
            .header("Heard-Proof", solved_proof(&harness.router, "demo").await)
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = harness.send_from(ip("198.51.100.30"), request).await;
        let error = error_body(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error.error, "invalid_submission");
        assert!(
            error
                .message
                .contains(&format!("{field}invalid type: sequence")),
            "{}",
            error.message
        );
    }
    assert_eq!(harness.count_complaints(), 0);
    // The same fields as an object are a complaint.
    let request = Request::post("/api/v1/sites/demo/complaints")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, SHOP)
        .header("Heard-Proof", solved_proof(&harness.router, "demo").await)
        .body(Body::from(fields.to_string()))
        .unwrap();
    let response = harness.send_from(ip("198.51.100.30"), request).await;
    let status = response.status();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{:?}",
        error_body(response, status).await
    );
}

// --- slow clients -----------------------------------------------------------

mod slow_clients {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use crate::Settings;
    use crate::domain::demo::demo_site;
    use crate::store::Store;

    /// How long the test lets an attacker try before calling the server
    /// defenceless; far beyond the one-second timeouts under test.
    const GIVE_UP: Duration = Duration::from_secs(20);
    /// The attacker's pace: one byte this often.
    const DRIBBLE: Duration = Duration::from_millis(100);

    struct Running {
        address: std::net::SocketAddr,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        server: tokio::task::JoinHandle<()>,
        _directory: tempfile::TempDir,
    }

    async fn serve_with_short_timeouts() -> Running {
        let directory = tempfile::tempdir().unwrap();
        let database = directory.path().join("heard.sqlite3");
        let store = Store::open(&database, 8, 64).unwrap();
        store
            .add_site(demo_site(vec!["https://shop.example".to_owned()]))
            .await
            .unwrap();
        store.shutdown().await;
        let settings = Settings {
            database,
            header_read_timeout_seconds: 1,
            body_read_timeout_seconds: 1,
            password_hash_memory_kib: 64,
            password_hash_iterations: 1,
            ..Settings::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            crate::serve(&settings, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Running {
            address,
            stop: Some(stop),
            server,
            _directory: directory,
        }
    }

    /// Sends `head` and then `dribble` a byte at a time until the server
    /// closes the connection; answers what the server said, if anything.
    async fn dribble(address: std::net::SocketAddr, head: &str, dribble: &[u8]) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let attack = async {
            for byte in dribble.iter().cycle() {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                let mut buffer = [0u8; 1024];
                match tokio::time::timeout(DRIBBLE, stream.read(&mut buffer)).await {
                    Ok(Ok(0) | Err(_)) => break,
                    Ok(Ok(read)) => answer.extend_from_slice(&buffer[..read]),
                    Err(_) => {}
                }
            }
        };
        tokio::time::timeout(GIVE_UP, attack)
            .await
            .expect("the server never cut the slow client off");
        String::from_utf8_lossy(&answer).into_owned()
    }

    async fn get_health(address: std::net::SocketAddr) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: heard.test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_clients_are_cut_off_while_others_are_served() {
        let mut running = serve_with_short_timeouts().await;
        let address = running.address;

        // Headers that never end, a byte at a time (slowloris).
        let headers = tokio::spawn(dribble(
            address,
            "GET /healthz HTTP/1.1\r\nHost: heard.test\r\n",
            b"X-Padding: slowly\r\n",
        ));
        // A body that never ends.
        let body = tokio::spawn(dribble(
            address,
            "POST /api/v1/sites/demo/complaints HTTP/1.1\r\nHost: heard.test\r\n\
             Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{\"description\":\"",
            b"a",
        ));
        // Meanwhile, everyone else is served.
        for _ in 0..3 {
            let answer = get_health(address).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }

        let cut_headers = headers.await.unwrap();
        // hyper closes the connection without an answer, or with a 408.
        assert!(
            cut_headers.is_empty() || cut_headers.starts_with("HTTP/1.1 408"),
            "{cut_headers}"
        );
        let cut_body = body.await.unwrap();
        // A body that never ends is a 408 with the JSON error, and the
        // connection is closed (the dribbling ended because the server hung up).
        assert!(cut_body.starts_with("HTTP/1.1 408"), "{cut_body}");
        let lower = cut_body.to_ascii_lowercase();
        assert!(lower.contains("\r\nconnection: close\r\n"), "{cut_body}");
        assert!(
            lower.contains("content-type: application/json"),
            "{cut_body}"
        );
        assert!(
            cut_body.contains("\"error\":\"request_timeout\""),
            "{cut_body}"
        );
        assert!(
            cut_body.contains("did not arrive within 1 seconds"),
            "{cut_body}"
        );
        // Every response passes the security headers, a 408 too.
        assert!(
            lower.contains("x-content-type-options: nosniff"),
            "{cut_body}"
        );

        // An idle keep-alive connection is closed too.
        let mut idle = TcpStream::connect(address).await.unwrap();
        let mut buffer = [0u8; 16];
        let read = tokio::time::timeout(GIVE_UP, idle.read(&mut buffer))
            .await
            .expect("an idle connection was kept open");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

        let answer = get_health(address).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let _ = running.stop.take().unwrap().send(());
        running.server.await.unwrap();
    }
}
