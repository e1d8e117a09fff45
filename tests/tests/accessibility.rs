//! axe-core audits every screen of the widget a shopper can reach on the
//! main path — the launcher, the category list, each later step, a step
//! showing an error, and the receipt — in a real Chromium, and fails on any
//! violation of WCAG 2.2 A/AA or axe's best practices.

use std::time::Instant;

use anyhow::bail;
use heard_e2e::axe::audit_widget;
use heard_e2e::serial::one_browser_at_a_time;
use heard_e2e::shopper::{open_widget, receipt_reference, screen};
use heard_e2e::wait::{DEADLINE, POLL_INTERVAL};
use heard_e2e::{Browser, RunningCollector};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_of_the_widget_passes_axe_core() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = walk_and_audit(&collector, &browser).await;
    browser.finish("accessibility", &collector, result).await
}

async fn walk_and_audit(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    browser
        .goto(&format!("{}/", collector.demo_shop_url()))
        .await?;
    browser
        .widget_element(r#"button[data-heard="launcher"]"#)
        .await?;
    audit_widget(browser, "the closed launcher").await?;

    browser
        .click_in_widget(r#"button[data-heard="launcher"]"#)
        .await?;
    browser
        .widget_element(r#"button[data-heard="category"]"#)
        .await?;
    audit_widget(browser, "the category step").await?;

    browser
        .click_in_widget(r#"button[data-heard="category"][data-category="product"]"#)
        .await?;
    let started = Instant::now();
    let mut audited: Vec<Value> = Vec::new();
    let mut error_audited = false;
    let mut last_state = Value::Null;
    loop {
        if started.elapsed() > DEADLINE * 3 {
            bail!("gave up walking the form; screens audited: {audited:#?}");
        }
        let state = screen(browser).await?;
        // Clicking "next" re-renders; an unchanged screen is not handled twice.
        if state == last_state {
            tokio::time::sleep(POLL_INTERVAL).await;
            continue;
        }
        if !audited.contains(&state["screen"]) {
            audit_widget(browser, &format!("the step {}", state["screen"])).await?;
            audited.push(state["screen"].clone());
        }
        if state["description"].as_str() == Some("") {
            if !error_audited {
                // Moving on without saying what happened shows an error.
                let button = if state["submit"] == true {
                    "submit"
                } else {
                    "next"
                };
                browser
                    .click_in_widget(&format!(r#"button[data-heard="{button}"]"#))
                    .await?;
                browser.widget_element(r#"[data-heard="error"]"#).await?;
                audit_widget(browser, "a step showing an error").await?;
                error_audited = true;
            }
            browser
                .type_in_widget(
                    r#"textarea[data-heard="description"]"#,
                    "The handle came off the first time I lifted the kettle.",
                )
                .await?;
            continue;
        }
        if state["fix"] == false {
            browser
                .click_in_widget(r#"input[data-heard="outcome"][value="fix"]"#)
                .await?;
            continue;
        }
        if state["submit"] == true {
            browser
                .click_in_widget(r#"button[data-heard="submit"]"#)
                .await?;
            break;
        }
        if state["next"] == true {
            browser
                .click_in_widget(r#"button[data-heard="next"]"#)
                .await?;
        }
        last_state = state;
    }
    receipt_reference(browser).await?;
    audit_widget(browser, "the receipt").await?;
    if !error_audited {
        bail!("no step asked for a description, so no error state was audited");
    }
    Ok(())
}

/// The paths off the main road get the same audit: a callback request from
/// the channel list, the softer suggestion path, and the whole dialog in a
/// right-to-left language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_suggestion_and_right_to_left_screens_pass_axe_core() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = audit_side_paths(&collector, &browser).await;
    browser
        .finish("accessibility-side-paths", &collector, result)
        .await
}

async fn audit_side_paths(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    // A callback request: its own step, then a receipt of its own.
    open_widget(browser, &format!("{}/", collector.demo_shop_url())).await?;
    browser
        .click_in_widget(r#"[data-heard="channel"][data-kind="callback"]"#)
        .await?;
    browser
        .widget_element(r#"select[data-heard="callback-window"]"#)
        .await?;
    audit_widget(browser, "the callback step").await?;
    browser
        .type_in_widget(r#"input[data-heard="contact-phone"]"#, "+44 20 7946 0000")
        .await?;
    browser
        .click_in_widget(r#"input[data-heard="consent"]"#)
        .await?;
    browser
        .click_in_widget(r#"select[data-heard="callback-window"] option:nth-child(2)"#)
        .await?;
    browser
        .click_in_widget(r#"button[data-heard="submit"]"#)
        .await?;
    let reference = receipt_reference(browser).await?;
    audit_widget(browser, "the callback receipt").await?;
    let kind: String = collector.open_database()?.query_row(
        "SELECT kind FROM complaints WHERE reference = ?1",
        [&reference],
        |row| row.get(0),
    )?;
    assert_eq!(
        kind, "callback",
        "the callback request {reference} is stored as one"
    );

    // The softer suggestion path.
    open_widget(browser, &format!("{}/", collector.demo_shop_url())).await?;
    browser
        .click_in_widget(r#"button[data-heard="suggestion"]"#)
        .await?;
    browser
        .widget_element(r#"textarea[data-heard="description"]"#)
        .await?;
    audit_widget(browser, "the suggestion step").await?;

    // Right to left: the same dialog in Arabic.
    open_widget(browser, &format!("{}/", collector.demo_shop_url())).await?;
    browser
        .click_in_widget(r#"select[data-heard="language"] option[value="ar"]"#)
        .await?;
    browser
        .widget_element(r#"[data-heard="dialog"][dir="rtl"], [dir="rtl"] [data-heard="dialog"]"#)
        .await?;
    audit_widget(browser, "the category step in Arabic").await?;
    Ok(())
}
