//! Nothing lost: a complaint sent while the collector is down is kept in the
//! shopper's browser, the shopper is told so plainly, and it reaches the
//! collector exactly once when the collector is back — while the page stays
//! open, and on the next page view.

use anyhow::{Context, ensure};
use heard_e2e::serial::one_browser_at_a_time;
use heard_e2e::shopper::describe_and_send;
use heard_e2e::wait::{self, DEADLINE};
use heard_e2e::{Browser, RunningCollector};
use serde_json::json;

/// The widget's retries back off up to a minute; the collector is down only
/// for a few seconds here, so a couple of retries fit in this.
const RETRIED_WITHIN: std::time::Duration = std::time::Duration::from_secs(45);

/// The widget's outbox key for the demo site (see `widget/src/outbox.rs`).
const OUTBOX_KEY: &str = "heard.outbox.demo";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_sent_while_the_collector_is_down_arrives_once_it_is_back() -> anyhow::Result<()>
{
    let _turn = one_browser_at_a_time().await;
    let mut collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = async {
        let description = format!("Sent while down: the lid cracked ({})", std::process::id());
        complain_while_down(&browser, &mut collector, &description).await?;

        collector.restart()?;
        // The page is still open: the widget retries by itself and shows the receipt.
        let reference = browser
            .widget_element_within(r#"[data-heard="reference"]"#, RETRIED_WITHIN)
            .await?
            .text()
            .await?;
        ensure!(
            reference.starts_with("HRD-"),
            "the receipt shows {reference:?}"
        );
        ensure_stored_once(&collector, &description).await?;
        ensure_outbox_empty(&browser).await
    }
    .await;
    browser
        .finish("nothing-lost-same-page", &collector, result)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_saved_on_one_page_view_is_sent_on_the_next() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let mut collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = async {
        let description = format!("Sent on the next visit: no parcel ({})", std::process::id());
        complain_while_down(&browser, &mut collector, &description).await?;

        // The shopper leaves; the page that kept the complaint is gone.
        browser.goto("about:blank").await?;
        collector.restart()?;
        ensure!(
            count_stored(&collector, &description)? == 0,
            "nothing should have reached the collector while it was down"
        );

        // The next page view with the widget sends it without any click.
        browser
            .goto(&format!("{}/", collector.demo_shop_url()))
            .await?;
        wait::until(
            "the saved complaint to be sent on page load",
            RETRIED_WITHIN,
            || async {
                let stored = count_stored(&collector, &description)?;
                ensure!(stored > 0, "not stored yet");
                Ok(())
            },
        )
        .await?;
        ensure_stored_once(&collector, &description).await?;
        ensure_outbox_empty(&browser).await
    }
    .await;
    browser
        .finish("nothing-lost-next-page", &collector, result)
        .await
}

/// Opens the widget while the collector is up (so the widget and the site's
/// configuration are loaded), kills the collector, sends, and checks the
/// shopper is told the complaint is saved and the browser really keeps it.
async fn complain_while_down(
    browser: &Browser,
    collector: &mut RunningCollector,
    description: &str,
) -> anyhow::Result<()> {
    browser
        .goto(&format!("{}/", collector.demo_shop_url()))
        .await?;
    let stored_before = browser
        .script("return Object.keys(localStorage);", Vec::new())
        .await?;
    ensure!(
        stored_before == json!([]),
        "stored before any failure: {stored_before}"
    );
    browser
        .click_in_widget(r#"button[data-heard="launcher"]"#)
        .await?;
    browser
        .click_in_widget(r#"button[data-heard="category"][data-category="product"]"#)
        .await?;

    collector.kill_hard()?;
    describe_and_send(browser, description).await?;

    let notice = browser.widget_element(r#"[data-heard="queued"]"#).await?;
    let text = notice.text().await?;
    ensure!(
        text.to_lowercase().contains("saved"),
        "the shopper should be told plainly the complaint is saved: {text:?}"
    );
    let kept = wait::until(
        "the complaint to be kept in localStorage",
        DEADLINE,
        || async {
            let kept = browser
                .script(
                    "return localStorage.getItem(arguments[0]);",
                    vec![json!(OUTBOX_KEY)],
                )
                .await?;
            kept.as_str()
                .map(str::to_owned)
                .context("nothing under the outbox key yet")
        },
    )
    .await?;
    ensure!(
        kept.contains(description),
        "the outbox should hold the complaint: {kept}"
    );
    Ok(())
}

fn count_stored(collector: &RunningCollector, description: &str) -> anyhow::Result<i64> {
    Ok(collector.open_database()?.query_row(
        "SELECT COUNT(*) FROM complaints WHERE description = ?1",
        [description],
        |row| row.get(0),
    )?)
}

async fn ensure_stored_once(collector: &RunningCollector, description: &str) -> anyhow::Result<()> {
    let stored = count_stored(collector, description)?;
    ensure!(stored == 1, "stored {stored} times, not exactly once");
    Ok(())
}

/// Once sent, the browser keeps nothing of the complaint.
async fn ensure_outbox_empty(browser: &Browser) -> anyhow::Result<()> {
    wait::until("the outbox to be emptied", DEADLINE, || async {
        let kept = browser
            .script(
                "return localStorage.getItem(arguments[0]);",
                vec![json!(OUTBOX_KEY)],
            )
            .await?;
        ensure!(kept.is_null(), "still kept: {kept}");
        Ok(())
    })
    .await
}
