//! The follow-up loop in a real Chromium against the real collector: a
//! shopper complains through the widget on the demo shop, opens the status
//! link from the receipt, sees a staff reply sent through the inbox API,
//! replies on the page with a photo (no JavaScript: the page has none; the
//! form posts multipart), sees the complaint resolved, and answers the
//! survey; the staff API then shows the reply, its photo and the stored
//! answers. Every page state passes axe-core.

use anyhow::{Context, bail, ensure};
use fantoccini::Locator;
use heard_e2e::serial::one_browser_at_a_time;
use heard_e2e::shopper::{describe_and_send, open_widget, receipt_reference};
use heard_e2e::staff::{PASSWORD, add_owner, api_sign_in, audit_page, element};
use heard_e2e::wait::{self, DEADLINE};
use heard_e2e::{Browser, RunningCollector};
use serde_json::{Value, json};

const OWNER: &str = "owner@demo.example";

/// A 16 × 16 orange PNG: the photo the shopper adds to their reply.
const LABEL_PNG: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\
      \x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x90\x91\x68\
      \x36\x00\x00\x00\x16\x49\x44\x41\x54\x78\xda\x63\x38\x11\xa0\x41\
      \x12\x62\x18\xd5\x30\xaa\x61\xf8\x6a\x00\x00\xbf\xc6\x40\x10\x05\
      \x99\x4d\x80\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

/// A signed-in staff member talking to the inbox's JSON API as a browser
/// would: the session cookie and the CSRF token.
struct StaffApi<'a> {
    collector: &'a RunningCollector,
    client: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl<'a> StaffApi<'a> {
    async fn sign_in(collector: &'a RunningCollector, email: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::new();
        let (cookie, csrf) = api_sign_in(&client, collector, email, PASSWORD).await?;
        Ok(StaffApi {
            collector,
            client,
            cookie,
            csrf,
        })
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(self.collector.endpoint(path))
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("POST {path} answered {status}: {body}");
        }
        Ok(body)
    }

    async fn complaint(&self, reference: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .get(
                self.collector
                    .endpoint(&format!("/api/v1/inbox/complaints/{reference}")),
            )
            .header("Cookie", &self.cookie)
            .send()
            .await?;
        ensure!(response.status().is_success(), "{}", response.status());
        Ok(response.json().await?)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_follows_up_on_the_status_page_until_the_survey() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    add_owner(&collector, "Demo merchant", OWNER)?;
    let browser = Browser::start().await?;
    let result = follow_up(&collector, &browser).await;
    if result.is_err() {
        match browser.save_evidence("follow-up").await {
            Ok(path) => eprintln!("screenshot of the failure: {}", path.display()),
            Err(error) => eprintln!("could not save a screenshot: {error:#}"),
        }
    }
    let closed = browser.close().await;
    result.with_context(|| format!("collector log:\n{}", collector.log_tail()))?;
    closed
}

/// Waits until the page's visible text contains every one of `wanted`.
async fn wait_for_text(browser: &Browser, wanted: &[&str]) -> anyhow::Result<()> {
    wait::until(
        &format!("the page to show {wanted:?}"),
        DEADLINE,
        || async {
            let text = browser.page_text().await?;
            for piece in wanted {
                ensure!(text.contains(piece), "the page reads: {text}");
            }
            Ok(())
        },
    )
    .await
}

async fn click(browser: &Browser, selector: &str) -> anyhow::Result<()> {
    element(browser, selector).await?.click().await?;
    Ok(())
}

async fn follow_up(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    // The widget on the demo shop, across a real cross-origin boundary.
    open_widget(browser, &format!("{}/", collector.demo_shop_url())).await?;
    browser
        .click_in_widget(r#"button[data-heard="category"][data-category="product"]"#)
        .await?;
    let description = format!(
        "The kettle's lid will not close (run {})",
        std::process::id()
    );
    describe_and_send(browser, &description).await?;
    let reference = receipt_reference(browser).await?;
    let status_url = browser
        .widget_element(r#"a[data-heard="status-link"]"#)
        .await?
        .prop("href")
        .await?
        .context("the status link has no href")?;
    let token = status_url
        .rsplit('/')
        .next()
        .context("a status link ends in its token")?
        .to_owned();

    browser.goto(&status_url).await?;
    wait_for_text(browser, &[&reference, &description]).await?;
    audit_page(browser, "the status page of a new complaint").await?;

    // Staff answer through the inbox API and ask the shopper for something.
    let staff = StaffApi::sign_in(collector, OWNER).await?;
    let inbox = format!("/api/v1/inbox/complaints/{reference}");
    let staff_reply = "Sorry about that! Could you tell us the batch number on the base?";
    staff
        .post(&format!("{inbox}/replies"), json!({ "body": staff_reply }))
        .await?;
    staff
        .post(
            &format!("{inbox}/status"),
            json!({ "status": "waiting_for_you" }),
        )
        .await?;
    browser.goto(&status_url).await?;
    wait_for_text(browser, &[staff_reply, "Waiting for you"]).await?;
    audit_page(browser, "the status page with a staff reply").await?;

    // The shopper replies on the page: a plain form, no JavaScript.
    click(browser, r#"a[data-heard="reply"]"#).await?;
    let body = element(browser, "textarea#body").await?;
    audit_page(browser, "the reply form").await?;
    let shopper_reply = "The batch number is B-1207 <i>under</i> the base.";
    body.send_keys(shopper_reply).await?;
    // A photo of the label, chosen in the form's file field: chromedriver
    // hands the path to a real `<input type=file>`.
    let files = tempfile::tempdir()?;
    let label = files.path().join("label.png");
    std::fs::write(&label, LABEL_PNG)?;
    element(browser, r#"input[data-heard="reply-photos"]"#)
        .await?
        .send_keys(&label.to_string_lossy())
        .await?;
    click(browser, r#"button[data-heard="send-reply"]"#).await?;
    wait::until(
        "the form to redirect back to the status page",
        DEADLINE,
        || async {
            let url = browser.client().current_url().await?;
            ensure!(
                url.path() == format!("/r/{token}"),
                "the browser is at {url}"
            );
            Ok(())
        },
    )
    .await?;
    wait_for_text(
        browser,
        &[
            shopper_reply,
            "Your reply put it back with the shop",
            "Photos added: 1",
        ],
    )
    .await?;

    // Staff see the shopper's reply in their timeline; the complaint is back
    // in progress.
    let detail = staff.complaint(&reference).await?;
    ensure!(detail["status"] == "in_progress", "{detail}");
    let replied = detail["timeline"]
        .as_array()
        .context("a timeline")?
        .iter()
        .any(|event| event["kind"] == "shopper_reply" && event["body"] == shopper_reply);
    ensure!(
        replied,
        "the staff timeline lacks the shopper's reply: {detail}"
    );
    let photos = detail["attachments"].as_array().context("attachments")?;
    ensure!(
        photos.len() == 1 && photos[0]["width"] == 16,
        "the reply's photo is stored, re-encoded: {photos:?}"
    );

    // Staff resolve it; the page invites the survey.
    staff
        .post(&format!("{inbox}/status"), json!({ "status": "resolved" }))
        .await?;
    browser.goto(&status_url).await?;
    element(browser, r#"a[data-heard="take-survey"]"#).await?;
    audit_page(browser, "the status page of a resolved complaint").await?;
    click(browser, r#"a[data-heard="take-survey"]"#).await?;
    element(browser, r#"form[data-heard="survey-form"]"#).await?;
    audit_page(browser, "the survey form").await?;
    click(browser, r#"input[name="satisfaction"][value="4"]"#).await?;
    click(browser, r#"input[name="quick_enough"][value="no"]"#).await?;
    click(browser, r#"input[name="would_return"][value="yes"]"#).await?;
    let comment = "Friendly, but it took a week.";
    browser
        .client()
        .find(Locator::Css("textarea#comment"))
        .await?
        .send_keys(comment)
        .await?;
    click(browser, r#"button[data-heard="send-survey"]"#).await?;
    element(browser, r#"[data-heard="survey-answers"]"#).await?;
    wait_for_text(browser, &["4 of 5", comment]).await?;
    audit_page(browser, "the status page with the survey answered").await?;

    // Stored: the staff API and the shopper's JSON view agree.
    let detail = staff.complaint(&reference).await?;
    let survey = &detail["survey"];
    ensure!(
        survey["satisfaction"] == 4
            && survey["quick_enough"] == false
            && survey["would_return"] == true
            && survey["comment"] == comment,
        "the staff detail shows {survey}"
    );
    let view: Value = reqwest::get(collector.endpoint(&format!("/api/v1/receipts/{token}")))
        .await?
        .json()
        .await?;
    ensure!(view["survey"]["satisfaction"] == 4, "{view}");
    ensure!(view["status"] == "resolved", "{view}");
    Ok(())
}
