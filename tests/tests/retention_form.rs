//! The merchant's retention (issue 9) set where owners set it — the form on
//! `/inbox/sites` — in a real Chromium against the real collector: a saved
//! value survives a reload and the API agrees, a value outside the allowed
//! range is refused with the reason beside the field and changes nothing,
//! an empty field means "keep forever", and an agent gets neither the form
//! nor, through the API with their own session and CSRF token, the change.
//! Each state of the page passes axe-core.

use anyhow::{Context, ensure};
use heard_e2e::staff::{
    PASSWORD, api_sign_in, as_owner_in_browser, audit_page, click, element, sign_in, type_into,
    wait_for_text,
};
use heard_e2e::{Browser, RunningCollector};
use serde_json::{Value, json};

const OWNER: &str = "owner@demo.example";
const AGENT: &str = "agent@demo.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sets_the_retention_on_the_sites_page() -> anyhow::Result<()> {
    as_owner_in_browser("retention-form", OWNER, retention_form).await
}

/// A JSON API session of its own, signed in as a browser does.
struct ApiSession {
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl ApiSession {
    async fn sign_in(collector: &RunningCollector, email: &str) -> anyhow::Result<ApiSession> {
        let http = reqwest::Client::new();
        let (cookie, csrf) = api_sign_in(&http, collector, email, PASSWORD).await?;
        Ok(ApiSession { http, cookie, csrf })
    }

    /// `GET /api/v1/retention`: what the collector stored, whatever the
    /// page shows.
    async fn retention(&self, collector: &RunningCollector) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(collector.endpoint("/api/v1/retention"))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .context("reading the retention")?;
        ensure!(
            response.status().as_u16() == 200,
            "GET /api/v1/retention answered {}",
            response.status()
        );
        let view: Value = response.json().await?;
        Ok(view["retention_days"].clone())
    }
}

/// The value in the form's field, as the page was rendered.
async fn field_value(browser: &Browser) -> anyhow::Result<String> {
    Ok(element(browser, "#retention-days")
        .await?
        .prop("value")
        .await?
        .unwrap_or_default())
}

/// Types `days` into the form and saves it.
async fn save(browser: &Browser, days: &str) -> anyhow::Result<()> {
    type_into(browser, "#retention-days", days).await?;
    click(browser, "form#retention button[type=submit]").await
}

async fn retention_form(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    sign_in(browser, collector, OWNER).await?;
    let api = ApiSession::sign_in(collector, OWNER).await?;
    let sites = collector.endpoint("/inbox/sites");
    browser.goto(&sites).await?;
    // A new merchant keeps everything: the field is empty.
    ensure!(
        field_value(browser).await?.is_empty(),
        "a new merchant shows a retention"
    );
    ensure!(api.retention(collector).await? == Value::Null);
    audit_page(browser, "the sites page with the retention form").await?;

    // A value in range is saved, survives a reload, and the API agrees.
    save(browser, "90").await?;
    wait_for_text(browser, "#announcer", "The retention is saved.").await?;
    browser.goto(&sites).await?;
    let shown = field_value(browser).await?;
    ensure!(shown == "90", "after a reload the field reads {shown:?}");
    ensure!(api.retention(collector).await? == json!(90));

    // Below the range: the reason beside the field and in the alert, and
    // nothing changed.
    save(browser, "5").await?;
    wait_for_text(browser, "#error-retention_days", "between 30 and 3650 days").await?;
    wait_for_text(browser, "#retention-errors", "between 30 and 3650 days").await?;
    let alert_shown = browser
        .script(
            "return !document.getElementById('retention-errors').hidden;",
            Vec::new(),
        )
        .await?;
    ensure!(alert_shown == json!(true), "the error box stays hidden");
    audit_page(browser, "the retention form showing its error").await?;
    ensure!(api.retention(collector).await? == json!(90));
    // Above it, too.
    save(browser, "3651").await?;
    wait_for_text(browser, "#error-retention_days", "between 30 and 3650 days").await?;
    ensure!(api.retention(collector).await? == json!(90));
    browser.goto(&sites).await?;
    let shown = field_value(browser).await?;
    ensure!(
        shown == "90",
        "a refused value shows after a reload: {shown:?}"
    );

    // A good value clears the error; an empty field keeps everything again.
    save(browser, "3650").await?;
    wait_for_text(browser, "#announcer", "The retention is saved.").await?;
    ensure!(api.retention(collector).await? == json!(3650));
    save(browser, "").await?;
    wait_for_text(browser, "#announcer", "Complaints are kept forever.").await?;
    ensure!(api.retention(collector).await? == Value::Null);
    save(browser, "30").await?;
    wait_for_text(browser, "#announcer", "The retention is saved.").await?;
    ensure!(api.retention(collector).await? == json!(30));

    not_for_agents(collector, browser, &api).await
}

/// An agent of the same merchant: no form, and the API refuses the change
/// even with the agent's own valid session and CSRF token.
async fn not_for_agents(
    collector: &RunningCollector,
    browser: &Browser,
    owner: &ApiSession,
) -> anyhow::Result<()> {
    add_agent(collector, owner).await?;
    click(browser, "button[data-action=sign-out]").await?;
    element(browser, "body[data-page=login]").await?;
    sign_in(browser, collector, AGENT).await?;
    browser.goto(&collector.endpoint("/inbox/sites")).await?;
    wait_for_text(browser, "main", "Only owners can change").await?;
    let forms = browser
        .script(
            "return document.querySelectorAll('form#retention, #retention-days').length;",
            Vec::new(),
        )
        .await?;
    ensure!(forms == json!(0), "an agent sees the retention form");
    audit_page(browser, "the sites page refusing an agent").await?;
    // What the form's script would send, from the agent's page.
    let answer = browser
        .client()
        .execute_async(
            r#"const done = arguments[0];
               const csrf = document.querySelector('meta[name="heard-csrf"]').content;
               fetch('/api/v1/retention', {
                 method: 'PUT',
                 credentials: 'same-origin',
                 headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
                 body: JSON.stringify({ retention_days: 365 }),
               }).then(
                 async (response) => done([response.status, await response.json()]),
                 (error) => done([0, String(error)]));"#,
            Vec::new(),
        )
        .await
        .context("the agent's PUT /api/v1/retention")?;
    ensure!(
        answer[0] == json!(403),
        "an agent changing the retention got {answer}"
    );
    // The agent reads it (everyone of the merchant may), unchanged.
    let agent = ApiSession::sign_in(collector, AGENT).await?;
    ensure!(agent.retention(collector).await? == json!(30));
    Ok(())
}

/// Invites an agent through the owner's API session and accepts the
/// invitation as the invitee does.
async fn add_agent(collector: &RunningCollector, owner: &ApiSession) -> anyhow::Result<()> {
    let response = owner
        .http
        .post(collector.endpoint("/api/v1/staff/invites"))
        .header("Cookie", &owner.cookie)
        .header("X-CSRF-Token", &owner.csrf)
        .json(&json!({ "email": AGENT, "role": "agent" }))
        .send()
        .await
        .context("inviting an agent")?;
    ensure!(
        response.status().as_u16() == 201,
        "the invitation answered {}",
        response.status()
    );
    let invite: Value = response.json().await?;
    let accept = invite["accept_path"].as_str().context("an accept path")?;
    let response = reqwest::Client::new()
        .post(collector.endpoint(accept))
        .json(&json!({ "display_name": "Ada Agent", "password": PASSWORD }))
        .send()
        .await
        .context("accepting the invitation")?;
    ensure!(
        response.status().as_u16() == 201,
        "accepting the invitation answered {}",
        response.status()
    );
    Ok(())
}
