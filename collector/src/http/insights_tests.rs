//! The insights API and dashboard through `router().oneshot()`, on a real
//! SQLite file, signed in as a browser is, with two merchants: every route
//! refuses strangers and lets viewers read, shows each merchant only its own
//! figures, checks its parameters with field errors, and escapes what it
//! shows (HTML) or exports (CSV).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use heard_shared::ErrorBody;
use serde_json::Value;

use super::test_support::{
    ACME_OWNER, OTHER_OWNER, StaffApp, body_bytes, error_body, error_code, harness_is_app,
    json_body, route_literals, staff_state, two_owners,
};
use crate::store::Role;
use crate::store::inbox_fixtures::{START, complaint, record, site};
use crate::store::test_support::{TempStore, temp_store};

/// A label a merchant could type that tries to break out of the page and
/// to run as a spreadsheet formula.
const HOSTILE_LABEL: &str = "=HYPERLINK(\"http://evil.example\")<b>x</b>";

/// How a route answers without a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Api,
    Csv,
    Page,
}

/// Every insights route. **A new insights route must be added here**;
/// `the_route_table_lists_every_insights_route` compares it with the sources.
const ROUTES: &[(&str, Access)] = &[
    ("/api/v1/insights/volume", Access::Api),
    ("/api/v1/insights/volume.csv", Access::Csv),
    ("/api/v1/insights/handling", Access::Api),
    ("/api/v1/insights/handling.csv", Access::Csv),
    ("/api/v1/insights/satisfaction", Access::Api),
    ("/api/v1/insights/satisfaction.csv", Access::Csv),
    ("/api/v1/insights/causes", Access::Api),
    ("/api/v1/insights/causes.csv", Access::Csv),
    ("/api/v1/insights/summary", Access::Api),
    ("/inbox/insights", Access::Page),
];

struct Harness {
    _temp: TempStore,
    app: StaffApp,
}

harness_is_app!(Harness);

async fn harness() -> Harness {
    let temp = temp_store();
    let store = temp.store.clone();
    let accounts = two_owners(&store).await;
    let (_, acme_site) = site(&store, "Acme", "acme-shop").await;
    let (_, other_site) = site(&store, "Other", "other-shop").await;
    for text in ["The kettle lid <script>", "Kettle lid again"] {
        let mut new = complaint(acme_site, START, text);
        new.category_label = HOSTILE_LABEL.to_owned();
        record(&store, new).await;
    }
    for text in [
        "Other shop kettle",
        "Other shop kettle",
        "Other shop kettle",
    ] {
        record(&store, complaint(other_site, START, text)).await;
    }
    let state = staff_state(
        &store,
        &accounts,
        concat!(env!("CARGO_MANIFEST_DIR"), "/../www"),
    );
    Harness {
        _temp: temp,
        app: StaffApp::new(state),
    }
}

#[test]
fn the_route_table_lists_every_insights_route() {
    let in_sources = route_literals(
        &[
            include_str!("mod.rs"),
            include_str!("insights.rs"),
            include_str!("inbox_pages/insights.rs"),
        ],
        |literal| {
            (literal.starts_with("/api/v1/insights/") || literal == "/inbox/insights")
                && !literal.contains('?')
                && !literal.contains('{')
        },
    );
    let mut in_table: Vec<&str> = ROUTES.iter().map(|(path, _)| *path).collect();
    in_table.sort();
    assert_eq!(in_sources, in_table, "add the new route to ROUTES");
}

#[tokio::test]
async fn every_insights_route_refuses_strangers_and_lets_viewers_read() {
    let harness = harness().await;
    let viewer = harness.colleague("viewer@acme.example", Role::Viewer).await;
    for (uri, access) in ROUTES {
        for cookie in [None, Some("heard_session=AAAA")] {
            let mut request = Request::get(*uri);
            if let Some(cookie) = cookie {
                request = request.header(header::COOKIE, cookie);
            }
            let response = harness.send(request.body(Body::empty()).unwrap()).await;
            match access {
                Access::Api | Access::Csv => assert_eq!(
                    error_code(response, StatusCode::UNAUTHORIZED).await,
                    "not_signed_in",
                    "{uri}"
                ),
                Access::Page => {
                    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{uri}");
                    let location = response.headers()[header::LOCATION].to_str().unwrap();
                    assert!(location.starts_with("/inbox/login"), "{location}");
                }
            }
        }
        let response = harness.get(uri, &viewer).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-store",
            "{uri}"
        );
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
        let expected = match access {
            Access::Api => "application/json",
            Access::Csv => "text/csv; charset=utf-8",
            Access::Page => "text/html; charset=utf-8",
        };
        assert_eq!(content_type, expected, "{uri}");
    }
}

#[tokio::test]
async fn each_merchant_sees_only_its_own_figures() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let other = harness.sign_in(OTHER_OWNER).await;
    let volume: Value = json_body(harness.get("/api/v1/insights/volume", &acme).await).await;
    assert_eq!(volume["figures"]["total"], 2);
    assert_eq!(volume["from"], "2026-12-19");
    assert_eq!(volume["to"], "2027-01-15");
    let sites: Vec<&str> = volume["figures"]["dimensions"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["key"].as_str().unwrap())
        .collect();
    assert_eq!(sites, vec!["acme-shop"]);
    let volume: Value = json_body(harness.get("/api/v1/insights/volume", &other).await).await;
    assert_eq!(volume["figures"]["total"], 3);
    // "kettle" recurs in both merchants' complaints; each counts its own.
    let causes: Value = json_body(harness.get("/api/v1/insights/causes", &acme).await).await;
    let terms = &causes["figures"]["categories"][0]["terms"];
    assert_eq!(terms[0]["term"], "kettle");
    assert_eq!(terms[0]["complaints"], 2);
    let handling: Value = json_body(harness.get("/api/v1/insights/handling", &other).await).await;
    assert_eq!(handling["figures"]["complaints"], 3);
    assert_eq!(handling["figures"]["backlog"]["open"], 3);
    // Another merchant's site is not a site of this one.
    let response = harness
        .get("/api/v1/insights/volume?site=other-shop", &acme)
        .await;
    let error = error_body(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error.fields[0].field, "site");
    let site: Value = json_body(
        harness
            .get("/api/v1/insights/volume?site=acme-shop&bucket=day", &acme)
            .await,
    )
    .await;
    assert_eq!(site["figures"]["total"], 2);
    assert_eq!(site["figures"]["buckets"].as_array().unwrap().len(), 28);
}

#[tokio::test]
async fn bad_parameters_are_422_with_field_errors() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let cases = [
        ("from=2027-13-01", "from", "invalid_date"),
        ("to=yesterday", "to", "invalid_date"),
        ("bucket=hour", "bucket", "invalid_bucket"),
        ("from=2027-01-10&to=2027-01-01", "from", "after_to"),
        ("from=2025-01-01&to=2027-01-01", "from", "range_too_long"),
        ("site=nowhere", "site", "unknown_site"),
    ];
    for name in ["volume", "handling.csv", "summary"] {
        for (query, field, code) in cases {
            let response = harness
                .get(&format!("/api/v1/insights/{name}?{query}"), &acme)
                .await;
            let error: ErrorBody = error_body(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(error.fields.len(), 1, "{name}?{query}");
            assert_eq!(error.fields[0].field, field, "{name}?{query}");
            assert_eq!(error.fields[0].code, code, "{name}?{query}");
        }
    }
    // The most a range may cover is accepted.
    let response = harness
        .get(
            "/api/v1/insights/volume?from=2026-01-15&to=2027-01-15",
            &acme,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // The page shows the problem and falls back to the default range.
    let (status, html) = harness.text("/inbox/insights?bucket=hour", &acme).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("Choose day, week or month."));
}

#[tokio::test]
async fn csv_exports_are_neutralised_and_quoted() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let response = harness
        .get(
            "/api/v1/insights/volume.csv?from=2027-01-11&to=2027-01-24",
            &acme,
        )
        .await;
    assert!(
        response.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("heard-volume-2027-01-11-2027-01-24.csv")
    );
    let csv = String::from_utf8(body_bytes(response).await).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], "dimension,key,label,total,2027-01-11,2027-01-18");
    assert_eq!(lines[1], "all,all,All complaints,2,2,0");
    assert_eq!(lines[2], "site,acme-shop,Shop acme-shop,2,2,0");
    assert!(
        lines.contains(
            &"category,product,\"'=HYPERLINK(\"\"http://evil.example\"\")<b>x</b>\",2,2,0"
        ),
        "{csv}"
    );
    let (_, causes) = harness.text("/api/v1/insights/causes.csv", &acme).await;
    assert!(
        causes.starts_with("kind,category,category_label,term_or_cluster,complaints,examples\r\n")
    );
    assert!(causes.contains(",kettle,2,"), "{causes}");
    assert!(causes.contains(",lid,2,"), "{causes}");
    let (_, satisfaction) = harness
        .text("/api/v1/insights/satisfaction.csv", &acme)
        .await;
    assert!(
        satisfaction.contains("overall,all,All complaints,0,,0,0,\r\n"),
        "{satisfaction}"
    );
}

#[tokio::test]
async fn the_dashboard_draws_accessible_charts_and_escapes_labels() {
    let harness = harness().await;
    let acme = harness.sign_in(ACME_OWNER).await;
    let (status, html) = harness
        .text("/inbox/insights?site=acme-shop&bucket=day", &acme)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("<b>x</b>"), "a label was not escaped");
    assert!(!html.contains("<script>"), "a term was not escaped");
    assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"));
    assert!(html.contains("role=\"img\" aria-labelledby=\"volume-chart-title\""));
    assert!(html.contains("<title id=\"volume-chart-title\">"));
    assert!(html.contains("/api/v1/insights/volume.csv?from=2026-12-19&amp;to=2027-01-15&amp;bucket=day&amp;site=acme-shop"));
    assert!(html.contains("<option value=\"acme-shop\" selected>"));
    assert!(!html.contains("other-shop"));
    // Every chart has its title element and a table beside it.
    let charts = html.matches("role=\"img\"").count();
    assert!(charts >= 4);
    assert_eq!(html.matches("<title id=").count(), charts);
    assert_eq!(html.matches("<div class=\"chart-pair\">").count(), charts);
}
