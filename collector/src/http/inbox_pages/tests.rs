//! The inbox pages, the event stream and the export through
//! `router().oneshot()`, on a real SQLite file, with two merchants so every
//! route is also tried across the tenant boundary.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use heard_shared::SiteConfig;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::http::auth::SessionView;
use crate::http::test_support::{
    ACME_OWNER, OTHER_OWNER, PASSWORD, PUBLIC_URL, Session, body_bytes, json_body, route_literals,
    session_cookie, solved_proof, staff_state, two_owners,
};
use crate::http::{AppState, router};
use crate::store::inbox_fixtures::{START, complaint, record};
use crate::store::test_support::{TempStore, temp_store};
use crate::store::{NewAttachment, NewComplaint, NewSite};

const SHOP: &str = "https://shop.example";
/// The photo of Acme's complaint.
const PHOTO: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// A 1×1 PNG, as the collector stores photos after re-encoding them.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Who may use a route without a session.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Access {
    /// Anyone (the sign-in page).
    Public,
    /// A page: without a session, 303 to the sign-in page.
    Page,
    /// JSON or a download: without a session, 401 like the rest of the API.
    Api,
}

/// Every route of `inbox_pages::router()`. **A new route there must be
/// added here**; `the_route_table_lists_every_page_route` compares them.
const PAGE_ROUTES: &[(&str, Access)] = &[
    ("/inbox/login", Access::Public),
    ("/inbox", Access::Page),
    ("/inbox/c/{reference}", Access::Page),
    ("/inbox/c/{reference}/photos/{photo}", Access::Api),
    ("/inbox/staff", Access::Page),
    ("/inbox/audit", Access::Page),
    ("/inbox/account", Access::Page),
    ("/inbox/join/{token}", Access::Public),
    ("/inbox/canned", Access::Page),
    ("/inbox/sites", Access::Page),
    ("/inbox/sites/{site_key}", Access::Page),
    ("/inbox/routing", Access::Page),
    ("/api/v1/inbox/events", Access::Api),
    ("/api/v1/inbox/export.csv", Access::Api),
    ("/api/v1/inbox/export.json", Access::Api),
];

struct Harness {
    temp: TempStore,
    state: AppState,
    /// A complaint of Acme's site, and one of Other's.
    reference: String,
    other_reference: String,
    acme_site: i64,
}

async fn add_site(temp: &TempStore, merchant: &str, key: &str) -> i64 {
    temp.store
        .add_site(NewSite {
            merchant: merchant.to_owned(),
            key: key.to_owned(),
            name: format!("{merchant} shop"),
            allowed_origins: vec![SHOP.to_owned()],
            config: SiteConfig::with_defaults(key, &format!("{merchant} shop")),
        })
        .await
        .unwrap()
        .id
}

async fn harness() -> Harness {
    let temp = temp_store();
    let accounts = two_owners(&temp.store).await;
    let acme_site = add_site(&temp, "Acme", "acme-shop").await;
    let other_site = add_site(&temp, "Other", "other-shop").await;
    temp.store
        .add_attachment(NewAttachment {
            id: PHOTO.to_owned(),
            site_id: acme_site,
            content_type: "image/png".to_owned(),
            width: 1,
            height: 1,
            data: PNG.to_vec(),
            created_at: START,
        })
        .await
        .unwrap();
    let reference = record(
        &temp.store,
        NewComplaint {
            attachments: vec![PHOTO.to_owned()],
            ..complaint(acme_site, START, "The kettle leaks")
        },
    )
    .await;
    let other_reference = record(
        &temp.store,
        complaint(other_site, START, "Other merchant's secret complaint"),
    )
    .await;
    let state = staff_state(&temp.store, &accounts, "www");
    Harness {
        temp,
        state,
        reference,
        other_reference,
        acme_site,
    }
}

impl Harness {
    async fn send(&self, mut request: Request<Body>) -> Response {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40000))));
        router(self.state.clone()).oneshot(request).await.unwrap()
    }

    async fn post_login(&self, email: &str, password: &str, origin: Option<&str>) -> Response {
        let body = format!(
            "email={}&password={}&next=%2Finbox%2Fc%2F{}",
            super::percent_encode(email),
            super::percent_encode(password),
            self.reference
        );
        let mut request = Request::post("/inbox/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// Signs in through the sign-in form, as a browser does.
    async fn sign_in(&self, email: &str) -> Session {
        let response = self.post_login(email, PASSWORD, Some(PUBLIC_URL)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let cookie = session_cookie(&response);
        let response = self
            .send(
                Request::get("/api/v1/auth/me")
                    .header(header::COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let view: SessionView = json_body(response).await;
        Session {
            cookie,
            csrf: view.csrf_token,
        }
    }

    async fn get(&self, uri: &str, session: Option<&Session>) -> Response {
        let mut request = Request::get(uri);
        if let Some(session) = session {
            request = request.header(header::COOKIE, &session.cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn page(&self, uri: &str, session: &Session) -> (StatusCode, String) {
        let response = self.get(uri, Some(session)).await;
        let status = response.status();
        (status, text(response).await)
    }

    async fn submit(&self, site_key: &str, body: Value) -> String {
        let response = self
            .send(
                Request::post(format!("/api/v1/sites/{site_key}/complaints"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::ORIGIN, SHOP)
                    .header(
                        "Heard-Proof",
                        solved_proof(&router(self.state.clone()), site_key).await,
                    )
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let receipt: Value = json_body(response).await;
        receipt["reference"].as_str().unwrap().to_owned()
    }
}

async fn text(response: Response) -> String {
    String::from_utf8(body_bytes(response).await).unwrap()
}

fn path(template: &str, reference: &str) -> String {
    let site_key = if reference == "HRD-0000-0000" {
        "no-such-site"
    } else {
        "acme-shop"
    };
    template
        .replace("{reference}", reference)
        .replace("{photo}", PHOTO)
        .replace("{site_key}", site_key)
}

// --- the route table ----------------------------------------------------------

#[test]
fn the_route_table_lists_every_page_route() {
    let source = include_str!("mod.rs");
    let start = source.find("pub fn router()").unwrap();
    let end = start + source[start..].find("\n}\n").unwrap();
    let in_router = route_literals(&[&source[start..end]], |literal| {
        literal.starts_with("/inbox") || literal.starts_with("/api/v1/inbox")
    });
    let mut in_table: Vec<&str> = PAGE_ROUTES.iter().map(|(path, _)| *path).collect();
    in_table.sort();
    assert_eq!(in_router, in_table, "add the new route to PAGE_ROUTES");
}

#[tokio::test]
async fn every_page_route_refuses_strangers_and_hides_other_merchants() {
    let harness = harness().await;
    let other = harness.sign_in(OTHER_OWNER).await;
    for (template, access) in PAGE_ROUTES {
        let uri = path(template, &harness.reference);
        // No session, and a made-up session.
        for cookie in [None, Some("heard_session=AAAA")] {
            let mut request = Request::get(&uri);
            if let Some(cookie) = cookie {
                request = request.header(header::COOKIE, cookie);
            }
            let response = harness.send(request.body(Body::empty()).unwrap()).await;
            match access {
                Access::Public => assert_eq!(response.status(), StatusCode::OK, "{template}"),
                Access::Page => {
                    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{template}");
                    let location = response.headers()[header::LOCATION].to_str().unwrap();
                    assert!(
                        location.starts_with("/inbox/login"),
                        "{template}: {location}"
                    );
                }
                Access::Api => {
                    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{template}");
                }
            }
        }
        // Another merchant: a complaint page is a 404 exactly like a made-up
        // reference; lists and exports never mention the complaint.
        if template.contains("{reference}") || template.contains("{site_key}") {
            let (status, body) = harness.page(&uri, &other).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{template}");
            assert!(!body.contains("kettle"), "{template}");
            let made_up = path(template, "HRD-0000-0000");
            let (status, made_up_body) = harness.page(&made_up, &other).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(
                body.replace("HRD-0000-0000", ""),
                made_up_body.replace("HRD-0000-0000", "")
            );
        } else if *access != Access::Public && !template.ends_with("/events") {
            let (status, body) = harness.page(&uri, &other).await;
            assert_eq!(status, StatusCode::OK, "{template}");
            assert!(!body.contains(&harness.reference), "{template}");
            assert!(!body.contains(ACME_OWNER), "{template}");
            if template.starts_with("/inbox?")
                || *template == "/inbox"
                || template.contains("export")
            {
                assert!(body.contains(&harness.other_reference), "{template}");
            }
        }
    }
}

#[tokio::test]
async fn a_page_sends_the_stranger_to_sign_in_and_back() {
    let harness = harness().await;
    let response = harness
        .get(&format!("/inbox/c/{}", harness.reference), None)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("/inbox/login?next=%2Finbox%2Fc%2F{}", harness.reference).as_str()
    );
    // Signing in on that form comes back to the complaint.
    let response = harness
        .post_login(ACME_OWNER, PASSWORD, Some(PUBLIC_URL))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("/inbox/c/{}", harness.reference).as_str()
    );
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
}

// --- sign-in --------------------------------------------------------------------

#[tokio::test]
async fn sign_in_errors_are_shown_on_the_page() {
    let harness = harness().await;
    let response = harness
        .post_login(ACME_OWNER, "not the password", Some(PUBLIC_URL))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let page = text(response).await;
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(page.contains("The email address or the password is wrong"));
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(
        page.contains("value=\"owner@acme.example\""),
        "the email is kept"
    );

    // A form posted from another site signs nobody in.
    let response = harness
        .post_login(ACME_OWNER, PASSWORD, Some("https://evil.example"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::SET_COOKIE).is_none());

    // Missing fields are a clear 422, not a bare rejection.
    let response = harness
        .send(
            Request::post("/inbox/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("email=x"))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text(response)
            .await
            .contains("Enter your email address and your password")
    );
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_a_clear_message() {
    let harness = harness().await;
    let mut throttled = None;
    for _ in 0..30 {
        let response = harness
            .post_login(ACME_OWNER, "wrong password!", Some(PUBLIC_URL))
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = throttled.expect("sign-in was never throttled");
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let page = text(response).await;
    assert!(page.contains("Too many failed sign-ins"), "{page}");
    assert!(page.contains("role=\"alert\""));
    // Even the right password waits now.
    let response = harness
        .post_login(ACME_OWNER, PASSWORD, Some(PUBLIC_URL))
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_sign_in_page_does_not_follow_links_elsewhere() {
    let harness = harness().await;
    let response = harness
        .get("/inbox/login?next=https%3A%2F%2Fevil.example%2F", None)
        .await;
    let page = text(response).await;
    assert!(page.contains("name=\"next\" value=\"/inbox\""), "{page}");
    assert!(!page.contains("evil.example"));
}

// --- the pages --------------------------------------------------------------------

#[tokio::test]
async fn the_pages_escape_shopper_and_merchant_text_and_allow_only_our_script() {
    let harness = harness().await;
    let payload = "<script>window.pwned=1</script><img src=x onerror=alert(1)>\"'";
    let mut answers = std::collections::BTreeMap::new();
    answers.insert(payload.to_owned(), payload.to_owned());
    let reference = record(
        &harness.temp.store,
        NewComplaint {
            category_label: payload.to_owned(),
            remedy: Some(payload.to_owned()),
            page_url: Some(format!("javascript:{payload}")),
            user_agent: Some(payload.to_owned()),
            contact_name: Some(payload.to_owned()),
            answers,
            ..complaint(harness.acme_site, START, payload)
        },
    )
    .await;
    let acme = harness.sign_in(ACME_OWNER).await;
    for uri in ["/inbox".to_owned(), format!("/inbox/c/{reference}")] {
        let response = harness.get(&uri, Some(&acme)).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let page = text(response).await;
        assert!(!page.contains("<script>window"), "{uri}");
        assert!(!page.contains("<img src=x"), "{uri}");
        assert!(
            page.contains("&lt;script&gt;window.pwned=1&lt;/script&gt;"),
            "{uri}"
        );
        assert!(!page.contains("href=\"javascript:"), "{uri}");
        // Exactly one script element: ours.
        assert_eq!(page.matches("<script").count(), 1, "{uri}");
        assert!(page.contains("<script src=\"/inbox/assets/inbox.js\" defer></script>"));
    }
}

#[tokio::test]
async fn the_complaint_page_puts_what_the_shopper_wants_first_and_marks_internal_notes() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    for (path, body) in [
        ("notes", json!({ "body": "Batch 42 is faulty" })),
        ("replies", json!({ "body": "A new kettle is on its way." })),
    ] {
        let response = harness
            .send(
                Request::post(format!(
                    "/api/v1/inbox/complaints/{}/{path}",
                    harness.reference
                ))
                .header(header::COOKIE, &acme.cookie)
                .header("x-csrf-token", &acme.csrf)
                .header(header::ORIGIN, PUBLIC_URL)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (status, page) = harness
        .page(&format!("/inbox/c/{}", harness.reference), &acme)
        .await;
    assert_eq!(status, StatusCode::OK);
    let wants = page.find("What the shopper wants").unwrap();
    let happened = page.find("What happened").unwrap();
    let timeline = page.find("Timeline").unwrap();
    assert!(wants < happened && happened < timeline);
    assert!(page.contains(&format!(
        "<meta name=\"heard-csrf\" content=\"{}\">",
        acme.csrf
    )));
    let note = page.find("Batch 42 is faulty").unwrap();
    let note_item = page[..note].rfind("<li").unwrap();
    assert!(page[note_item..note].contains("event internal"));
    assert!(page[note_item..note].contains("Internal: only staff see this"));
    let reply = page.find("A new kettle is on its way.").unwrap();
    let reply_item = page[..reply].rfind("<li").unwrap();
    assert!(page[reply_item..reply].contains("Visible to the shopper"));
}

#[tokio::test]
async fn bad_filters_are_explained_on_the_page() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    for (query, field) in [
        ("status=lost", "status"),
        ("from=2026-13-01", "from"),
        ("mood=ecstatic", "mood"),
    ] {
        let (status, page) = harness.page(&format!("/inbox?{query}"), &acme).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(page.contains("role=\"alert\""), "{query}");
        assert!(
            page.contains(&format!("<strong>{field}</strong>")),
            "{query}"
        );
    }
    // Good filters narrow the list; the form keeps them for sharing.
    harness.temp.store.search_caught_up().await.unwrap();
    let (status, page) = harness.page("/inbox?status=resolved&q=kettle", &acme).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains(&harness.reference));
    assert!(page.contains("<option value=\"resolved\" selected>"));
    let (_, page) = harness.page("/inbox?q=kettle&status=open", &acme).await;
    assert!(page.contains(&harness.reference));
}

#[tokio::test]
async fn staff_see_the_photos_of_their_own_merchants_complaints_only() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let (_, page) = harness
        .page(&format!("/inbox/c/{}", harness.reference), &acme)
        .await;
    let url = format!("/inbox/c/{}/photos/{PHOTO}", harness.reference);
    assert!(page.contains(&format!("<img src=\"{url}\"")), "{page}");
    let response = harness.get(&url, Some(&acme)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(
        response.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff"
    );
    assert!(
        response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(body_bytes(response).await, PNG);
    // The photo's id under another complaint of the same merchant is not found.
    let second = record(
        &harness.temp.store,
        complaint(harness.acme_site, START, "Another kettle"),
    )
    .await;
    let response = harness
        .get(&format!("/inbox/c/{second}/photos/{PHOTO}"), Some(&acme))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

// --- staff, audit, account, joining ---------------------------------------------

#[tokio::test]
async fn owners_manage_staff_and_read_the_audit_log_others_only_read() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let (status, page) = harness.page("/inbox/staff", &acme).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-action=\"invite\""));
    assert!(page.contains(ACME_OWNER));
    assert!(!page.contains(OTHER_OWNER));
    assert!(
        page.contains("href=\"/inbox/audit\""),
        "owners see the audit link"
    );

    // An invitation, as the page's script makes it, and the page its link opens.
    let response = harness
        .send(
            Request::post("/api/v1/staff/invites")
                .header(header::COOKIE, &acme.cookie)
                .header("x-csrf-token", &acme.csrf)
                .header(header::ORIGIN, PUBLIC_URL)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({ "email": "agent@acme.example", "role": "viewer" }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let invite: Value = json_body(response).await;
    let token = invite["token"].as_str().unwrap();
    let response = harness.get(&format!("/inbox/join/{token}"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let join = text(response).await;
    assert!(join.contains(&format!("data-token=\"{token}\"")));
    let response = harness
        .send(
            Request::post(format!("/api/v1/staff/invites/{token}/accept"))
                .header(header::ORIGIN, PUBLIC_URL)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({ "display_name": "Vera <b>Viewer</b>", "password": PASSWORD })
                        .to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let viewer = harness.sign_in("agent@acme.example").await;
    let (status, page) = harness.page("/inbox/staff", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Vera &lt;b&gt;Viewer&lt;/b&gt; (you)"),
        "{page}"
    );
    assert!(!page.contains("data-action=\"invite\""));
    assert!(!page.contains("data-action=\"disable\""));
    assert!(!page.contains("href=\"/inbox/audit\""));
    let (status, _) = harness.page("/inbox/audit", &viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Viewers get no actions on a complaint either.
    let (_, page) = harness
        .page(&format!("/inbox/c/{}", harness.reference), &viewer)
        .await;
    assert!(!page.contains("data-action=\"reply\""));
    // Nor a bulk bar or boxes to tick in the list, which owners have, with
    // their colleagues (escaped) to assign to.
    let (_, list) = harness.page("/inbox", &viewer).await;
    assert!(list.contains(&format!("data-reference=\"{}\"", harness.reference)));
    assert!(!list.contains("id=\"bulk\""));
    assert!(!list.contains("class=\"pick\""));
    let (_, list) = harness.page("/inbox", &acme).await;
    assert!(list.contains(&format!(
        "data-action=\"bulk\" aria-label=\"Act on the selected complaints\" data-max=\"{}\"",
        crate::domain::inbox_work::MAX_BULK
    )));
    assert!(list.contains(&format!(
        "<input type=\"checkbox\" class=\"pick\" value=\"{0}\" aria-label=\"Select {0}\">",
        harness.reference
    )));
    assert!(
        list.contains(">Vera &lt;b&gt;Viewer&lt;/b&gt;</option>"),
        "{list}"
    );
    assert!(!list.contains(&harness.other_reference));

    let (status, audit) = harness.page("/inbox/audit", &acme).await;
    assert_eq!(status, StatusCode::OK);
    assert!(audit.contains("<td>invite_created</td>"), "{audit}");
    assert!(audit.contains("<td>invite_accepted</td>"), "{audit}");
    let (status, account) = harness.page("/inbox/account", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(account.contains("data-action=\"password\""));
}

// --- export -------------------------------------------------------------------------

#[tokio::test]
async fn the_export_holds_the_filter_and_neutralises_formulas() {
    let harness = harness().await;
    let formula = record(
        &harness.temp.store,
        NewComplaint {
            category_label: "@SUM(1+1)".to_owned(),
            ..complaint(
                harness.acme_site,
                START,
                "=HYPERLINK(\"http://evil\",\"x\")",
            )
        },
    )
    .await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let response = harness.get("/api/v1/inbox/export.csv", Some(&acme)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    assert_eq!(response.headers()["x-heard-truncated"], "false");
    let csv = text(response).await;
    assert!(csv.starts_with("reference,received_at,status"));
    assert!(csv.contains(&harness.reference));
    assert!(!csv.contains(&harness.other_reference));
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""),
        "{csv}"
    );
    assert!(csv.contains(",'@SUM(1+1),"), "{csv}");
    assert!(!csv.contains(",=") && !csv.contains(",@"), "{csv}");

    harness.temp.store.search_caught_up().await.unwrap();
    let response = harness
        .get("/api/v1/inbox/export.json?q=HYPERLINK", Some(&acme))
        .await;
    let export: Value = json_body(response).await;
    let references: Vec<&str> = export["complaints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["reference"].as_str().unwrap())
        .collect();
    assert_eq!(references, [formula.as_str()]);
    assert_eq!(export["truncated"], false);

    let response = harness
        .get("/api/v1/inbox/export.csv?severity=dreadful", Some(&acme))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

// --- live events ------------------------------------------------------------------

/// Fails instead of hanging when a stream never delivers what a test
/// waits for (a deadline for failing, not a sleep that a pass depends on).
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(20), future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

/// The next `data:` payload of an event stream, skipping keep-alive comments.
async fn next_event(body: &mut Body) -> String {
    loop {
        let frame = within("an event", body.frame())
            .await
            .expect("the stream ended")
            .expect("the stream failed");
        if let Ok(data) = frame.into_data() {
            let text = String::from_utf8(data.to_vec()).unwrap();
            if text.contains("data:") {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn the_event_stream_carries_only_the_staff_members_own_merchants_complaints() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let other = harness.sign_in(OTHER_OWNER).await;
    let acme_stream = harness.get("/api/v1/inbox/events", Some(&acme)).await;
    assert_eq!(acme_stream.status(), StatusCode::OK);
    assert_eq!(
        acme_stream.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut acme_body = acme_stream.into_body();
    let mut other_body = harness
        .get("/api/v1/inbox/events", Some(&other))
        .await
        .into_body();

    let submission = |description: &str| {
        json!({
            "category": "product",
            "description": description,
            "outcomes": ["fix"],
            "language": "en"
        })
    };
    // Another merchant's complaint first: Acme's stream must skip it.
    let theirs = harness
        .submit("other-shop", submission("Their blender is loud"))
        .await;
    let ours = harness
        .submit("acme-shop", submission("Our kettle is loud"))
        .await;

    let event = next_event(&mut acme_body).await;
    assert!(event.contains("event: complaint"), "{event}");
    assert!(event.contains(&ours), "{event}");
    assert!(!event.contains(&theirs), "{event}");
    assert!(!event.contains("kettle"), "events carry no shopper text");
    let event = next_event(&mut other_body).await;
    assert!(event.contains(&theirs), "{event}");

    // Signing out ends the stream at the next event: a signed-out browser
    // hears nothing more.
    let response = harness
        .send(
            Request::post("/api/v1/auth/logout")
                .header(header::COOKIE, &acme.cookie)
                .header("x-csrf-token", &acme.csrf)
                .header(header::ORIGIN, PUBLIC_URL)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    harness
        .submit("acme-shop", submission("Another loud kettle"))
        .await;
    assert!(
        within("the end of the stream", acme_body.frame())
            .await
            .is_none(),
        "the stream of a signed-out browser ends"
    );

    harness.state.live.close();
    assert!(
        within("the end of the stream", other_body.frame())
            .await
            .is_none(),
        "closing the feed ends the stream"
    );
}

// --- saved views and canned replies ------------------------------------------------

#[tokio::test]
async fn views_and_canned_replies_are_shown_escaped_and_only_to_their_merchant() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let other = harness.sign_in(OTHER_OWNER).await;
    let owner = harness
        .temp
        .store
        .credentials_by_email(ACME_OWNER)
        .await
        .unwrap()
        .unwrap()
        .user;
    let payload = "<img src=x onerror=alert(1)>";
    harness
        .temp
        .store
        .save_view(
            owner.merchant_id,
            owner.id,
            format!("Urgent {payload}"),
            "status=open&tag=%3Cb%3E".to_owned(),
            true,
            START,
        )
        .await
        .unwrap();
    for (language, title) in [("de", "Entschuldigung"), ("en", "Sorry")] {
        harness
            .temp
            .store
            .save_canned_reply(
                owner.merchant_id,
                owner.id,
                None,
                language.to_owned(),
                title.to_owned(),
                format!("{title} \"quoted\" {payload}"),
                START,
            )
            .await
            .unwrap();
    }

    let (_, list) = harness.page("/inbox?status=open", &acme).await;
    assert!(
        list.contains("Urgent &lt;img src=x onerror=alert(1)&gt;"),
        "{list}"
    );
    assert!(
        list.contains("href=\"/inbox?status=open&amp;tag=%3Cb%3E\""),
        "{list}"
    );
    assert!(list.contains("data-action=\"save-view\" data-query=\"status=open\""));
    assert!(!list.contains(payload));

    // The complaint (in English) offers the English reply first, its text
    // escaped inside the attribute.
    let (_, page) = harness
        .page(&format!("/inbox/c/{}", harness.reference), &acme)
        .await;
    let english = page.find(">Sorry (en)<").expect("the English reply");
    let german = page
        .find(">Entschuldigung (de)<")
        .expect("the German reply");
    assert!(english < german);
    assert!(
        page.contains("data-body=\"Sorry &quot;quoted&quot; &lt;img src=x onerror=alert(1)&gt;\"")
    );
    assert!(!page.contains(payload));

    let (status, canned) = harness.page("/inbox/canned", &acme).await;
    assert_eq!(status, StatusCode::OK);
    assert!(canned.contains("data-action=\"save-canned\""));
    assert!(canned.contains("data-action=\"delete-canned\""));
    assert!(!canned.contains(payload));

    // Another merchant sees none of it.
    let (_, list) = harness.page("/inbox", &other).await;
    assert!(!list.contains("Urgent"));
    let (_, canned) = harness.page("/inbox/canned", &other).await;
    assert!(!canned.contains("Entschuldigung"));
}

// --- site settings -------------------------------------------------------------------

#[tokio::test]
async fn owners_get_the_site_settings_with_the_exact_snippet_others_a_refusal() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let (status, list) = harness.page("/inbox/sites", &acme).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("href=\"/inbox/sites/acme-shop\""));
    assert!(!list.contains("other-shop"));
    let (status, page) = harness.page("/inbox/sites/acme-shop", &acme).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(
            "<code id=\"embed-snippet\" aria-describedby=\"embed-help\">&lt;script \
         src=&quot;http://heard.test/widget.js&quot; data-site=&quot;acme-shop&quot; \
         async&gt;&lt;/script&gt;</code>"
        ),
        "{page}"
    );
    assert!(page.contains("data-action=\"copy-snippet\""));
    assert!(page.contains("data-action=\"site-settings\" data-site=\"acme-shop\""));
    assert!(page.contains("<tr data-class=\"urgent\" data-default-first=\"1\""));
    assert!(page.contains("name=\"urgent.first\" value=\"1\""));
    assert!(page.contains("&quot;categories&quot;"));

    // An agent (invited, signed in) gets a refusal, not the settings.
    let owner = harness
        .temp
        .store
        .credentials_by_email(ACME_OWNER)
        .await
        .unwrap()
        .unwrap()
        .user;
    let accounts = harness.state.accounts.clone();
    let (token, _) = accounts
        .invite(
            &owner,
            "agent@acme.example",
            crate::store::Role::Agent,
            START,
        )
        .await
        .unwrap();
    accounts
        .accept_invite(&token.encode(), "Agent", PASSWORD.to_owned(), START)
        .await
        .unwrap();
    let agent = harness.sign_in("agent@acme.example").await;
    for uri in ["/inbox/sites", "/inbox/sites/acme-shop"] {
        let (status, page) = harness.page(uri, &agent).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert!(!page.contains("embed-snippet"), "{uri}");
    }
}

#[tokio::test]
async fn a_complaint_past_its_sites_target_is_marked_overdue_and_rises_to_the_top() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let serious = record(
        &harness.temp.store,
        NewComplaint {
            severity: Some(heard_shared::Severity::Serious),
            mood: Some(heard_shared::Mood::Furious),
            ..complaint(harness.acme_site, START, "The kettle burnt the counter")
        },
    )
    .await;
    // The fixture's complaint is a calm inconvenience: the serious one leads.
    let order = |list: &str| -> Vec<String> {
        list.match_indices("<tr class=\"row")
            .map(|(at, _)| {
                let rest = &list[at..];
                let start = rest.find("data-reference=\"").unwrap() + 16;
                rest[start..start + rest[start..].find('"').unwrap()].to_owned()
            })
            .collect()
    };
    let (_, list) = harness.page("/inbox", &acme).await;
    assert_eq!(order(&list), [serious.clone(), harness.reference.clone()]);

    // The site answers inconveniences within the hour.
    let response = harness
        .send(
            Request::put("/api/v1/inbox/sites/acme-shop/response-targets")
                .header(header::COOKIE, &acme.cookie)
                .header("x-csrf-token", &acme.csrf)
                .header(header::ORIGIN, PUBLIC_URL)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({ "targets": [{ "class": "inconvenience",
                        "first_response_hours": 1, "resolution_hours": 24 }] })
                    .to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, list) = harness.page("/inbox", &acme).await;
    assert_eq!(order(&list), [serious.clone(), harness.reference.clone()]);
    assert!(!list.contains("badge overdue"));

    // An hour later it is overdue, marked so, and on top; the serious one
    // (four hours) is not yet.
    harness.state.clock.advance(60 * 60 * 1000);
    let (_, list) = harness.page("/inbox", &acme).await;
    assert_eq!(order(&list), [harness.reference.clone(), serious.clone()]);
    assert!(list.contains("<tr class=\"row overdue\""), "{list}");
    assert_eq!(
        list.matches("<span class=\"badge overdue\">Overdue</span>")
            .count(),
        1
    );
    let (_, page) = harness
        .page(&format!("/inbox/c/{}", harness.reference), &acme)
        .await;
    assert!(page.contains("First answer overdue by"), "{page}");
}

// --- the routing page -------------------------------------------------------------

#[tokio::test]
async fn owners_get_the_routing_page_escaped_and_only_their_own_others_a_refusal() {
    use axum::http::Method;

    use crate::http::test_support::StaffApp;
    use crate::store::Role;

    let harness = harness().await;
    let app = StaffApp::new(harness.state.clone());
    let acme = app.sign_in(ACME_OWNER).await;
    let created = |response: Response| async move {
        assert_eq!(response.status(), StatusCode::CREATED);
        json_body::<Value>(response).await
    };
    let team = created(
        app.call(
            Method::POST,
            "/api/v1/routing/teams",
            &acme,
            Some(&json!({ "name": "Ship <b>ping</b>" }).to_string()),
        )
        .await,
    )
    .await;
    let team_id = team["id"].as_i64().unwrap();
    let rule = json!({
        "name": "<script>alert('rule')</script>",
        "matching": "continue",
        "conditions": { "categories": ["delivery"], "keywords": ["late"] },
        "actions": { "assign": { "kind": "team", "team_id": team_id }, "tags": ["<i>late</i>"] },
    });
    created(
        app.call(
            Method::POST,
            "/api/v1/routing/rules",
            &acme,
            Some(&rule.to_string()),
        )
        .await,
    )
    .await;
    created(
        app.call(
            Method::POST,
            "/api/v1/notifications/webhooks",
            &acme,
            Some(&json!({ "name": "Chat \"ops\"", "url": "https://hooks.example/in" }).to_string()),
        )
        .await,
    )
    .await;

    let (status, page) = app.text("/inbox/routing", &acme).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("href=\"/inbox/routing\""),
        "owners get the link"
    );
    assert!(page.contains("/inbox/assets/routing.js"));
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<b>ping"), "{page}");
    assert!(!page.contains("<i>late"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&#39;rule&#39;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains(
            "When the category is delivery and the text mentions “late”, assign to team \
             Ship &lt;b&gt;ping&lt;/b&gt;, tag &lt;i&gt;late&lt;/i&gt;."
        ),
        "{page}"
    );
    assert!(page.contains("<span class=\"badge\">Continue</span>"));
    assert!(page.contains("data-team-name=\"Ship &lt;b&gt;ping&lt;/b&gt;\""));
    assert!(page.contains("Chat &quot;ops&quot;"));
    assert!(page.contains("<option value=\"acme-shop\">"));
    assert!(!page.contains("whsec_"), "the secret is never on the page");

    // The editor holds exactly what the API takes back: saved unchanged, the
    // rule stays the same.
    let rule_id = page
        .split("data-rule-json=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let start = page.find("data-rule-json=").unwrap();
    let start = start + page[start..].find('>').unwrap() + 1;
    let end = start + page[start..].find("</textarea>").unwrap();
    let editor = page[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let response = app
        .call(
            Method::PUT,
            &format!("/api/v1/routing/rules/{rule_id}"),
            &acme,
            Some(&editor),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{editor}");
    let saved: Value = json_body(response).await;
    assert_eq!(saved["name"], rule["name"]);
    assert_eq!(saved["matching"], rule["matching"]);
    assert_eq!(saved["conditions"], rule["conditions"]);
    assert_eq!(saved["actions"], rule["actions"]);

    // Another merchant's owner sees none of it.
    let other = app.sign_in(OTHER_OWNER).await;
    let (status, page) = app.text("/inbox/routing", &other).await;
    assert_eq!(status, StatusCode::OK);
    for theirs in ["alert(", "Ship &lt;b", "ops&quot;", "acme-shop", ACME_OWNER] {
        assert!(!page.contains(theirs), "{theirs}");
    }

    // An agent gets a refusal and no link.
    let agent = app.colleague("agent@acme.example", Role::Agent).await;
    let (status, page) = app.text("/inbox/routing", &agent).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!page.contains("alert("));
    assert!(!page.contains("routing.js"));
    let (_, list) = app.text("/inbox", &agent).await;
    assert!(!list.contains("href=\"/inbox/routing\""));
}
