//! The insights dashboard in a real Chromium against the real collector:
//! complaints sent through the public API show up in its figures and
//! recurring terms (a Chinese one too), the CSV links answer, and the whole
//! page — SVG charts, their data tables, the filter form — passes axe-core.

use anyhow::{Context, ensure};
use heard_e2e::staff::{as_owner_in_browser, audit_page, click, element, sign_in, submit};
use heard_e2e::{Browser, RunningCollector};
use serde_json::{Value, json};

const OWNER: &str = "owner@demo.example";

fn complaint(description: &str) -> Value {
    json!({
        "category": "product",
        "description": description,
        "outcomes": ["fix"],
        "severity": "inconvenience",
        "mood": "annoyed",
        "language": "en"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_insights_dashboard_shows_the_figures_and_passes_axe() -> anyhow::Result<()> {
    as_owner_in_browser("insights", OWNER, dashboard).await
}

async fn dashboard(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    sign_in(browser, collector, OWNER).await?;
    let mut references = Vec::new();
    for description in [
        "The kettle lid broke on the first day.",
        "Kettle lid cracked, 质量太差",
        "质量太差了, the handle fell off",
    ] {
        let receipt = submit(collector, &complaint(description)).await?;
        references.push(
            receipt["reference"]
                .as_str()
                .context("a reference")?
                .to_owned(),
        );
    }
    // The dashboard is one link away from the inbox.
    browser.goto(&collector.endpoint("/inbox")).await?;
    click(browser, "nav a[href='/inbox/insights']").await?;
    element(browser, "#volume-chart-title").await?;
    let text = browser.page_text().await?;
    ensure!(
        text.contains("Complaints per week (3 in all)"),
        "the volume chart does not count the three complaints: {text}"
    );
    for term in ["kettle", "lid", "质量", "太差"] {
        let found = browser
            .script(
                "return [...document.querySelectorAll('table.figures th[scope=row]')]\
                   .some((cell) => cell.textContent === arguments[0]);",
                vec![json!(term)],
            )
            .await?;
        ensure!(
            found == json!(true),
            "the term {term:?} is not listed: {text}"
        );
    }
    // A term links to its complaints.
    let linked = browser
        .script(
            "return document.querySelector(`a[href=\"/inbox/c/${arguments[0]}\"]`) !== null;",
            vec![json!(references[2])],
        )
        .await?;
    ensure!(linked == json!(true), "no link to {}", references[2]);
    // Each chart is an image with a title and has a table beside it.
    let charts = browser
        .script(
            "return [...document.querySelectorAll('svg[role=img]')].map((svg) => \
               [svg.getAttribute('aria-labelledby'), \
                document.getElementById(svg.getAttribute('aria-labelledby'))?.tagName, \
                svg.parentElement.querySelector('table') !== null]);",
            Vec::new(),
        )
        .await?;
    let charts: Vec<(String, String, bool)> = serde_json::from_value(charts)?;
    ensure!(charts.len() >= 4, "too few charts: {charts:?}");
    for (id, tag, table) in &charts {
        ensure!(
            tag == "title" && *table,
            "chart {id} lacks its title or table"
        );
    }
    audit_page(browser, "the insights dashboard").await?;

    // Another range by day through the form, then the CSV behind it.
    click(browser, "#bucket").await?;
    browser
        .script(
            "document.getElementById('bucket').value = 'day'; \
             document.querySelector('form.insights-filter').submit();",
            Vec::new(),
        )
        .await?;
    element(browser, "#bucket option[value=day][selected]").await?;
    let csv_link = browser
        .script(
            "return document.querySelector('a[href^=\"/api/v1/insights/volume.csv\"]').href;",
            Vec::new(),
        )
        .await?;
    let csv_link = csv_link.as_str().context("a CSV link")?.to_owned();
    ensure!(csv_link.contains("bucket=day"), "{csv_link}");
    let cookie = browser
        .client()
        .get_named_cookie("heard_session")
        .await
        .context("the session cookie")?;
    let csv = reqwest::Client::new()
        .get(&csv_link)
        .header("Cookie", format!("heard_session={}", cookie.value()))
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        csv.lines()
            .nth(1)
            .is_some_and(|line| line.starts_with("all,all,All complaints,3,")),
        "the CSV does not count the three complaints: {csv}"
    );
    audit_page(browser, "the insights dashboard by day").await?;
    Ok(())
}
