//! Driving the widget the way a shopper does, without tying every scenario
//! to the exact number of steps a category's guided flow has today.

use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::browser::{Browser, WIDGET_HOST};
use crate::wait::{self, DEADLINE};

/// What the open form shows now, read in one round trip.
const FORM_STATE: &str = r#"
const root = document.querySelector(arguments[0])?.shadowRoot;
const visible = (selector) => {
  const element = root?.querySelector(selector);
  return !!element && element.getClientRects().length > 0 ? element : null;
};
const description = visible('textarea[data-heard="description"]');
const fix = visible('input[data-heard="outcome"][value="fix"]');
const hooks = [...(root?.querySelectorAll('[data-heard]') ?? [])]
  .filter((element) => element.getClientRects().length > 0)
  .map((element) => element.getAttribute('data-heard') + ':' + (element.id || element.getAttribute('name') || ''));
const headings = [...(root?.querySelectorAll('h1, h2, h3, legend') ?? [])].map((element) => element.textContent);
return {
  screen: headings.join('|') + '#' + hooks.join(','),
  description: description ? description.value : null,
  fix: fix ? fix.checked : null,
  submit: !!visible('button[data-heard="submit"]'),
  next: !!visible('button[data-heard="next"]'),
};
"#;

/// Opens `page` (a shop page with the widget), clicks the launcher and waits
/// for the category step.
pub async fn open_widget(browser: &Browser, page: &str) -> anyhow::Result<()> {
    browser.goto(page).await?;
    browser
        .click_in_widget(r#"button[data-heard="launcher"]"#)
        .await?;
    browser
        .widget_element(r#"button[data-heard="category"]"#)
        .await?;
    Ok(())
}

/// From a chosen category to pressing Send: types `description` where the
/// form asks what happened, asks for a fix, and moves on through the steps.
/// Optional questions are left unanswered, as a hurried shopper would.
pub async fn describe_and_send(browser: &Browser, description: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    // Clicking "next" re-renders; an unchanged screen is not handled twice.
    let mut last_state = Value::Null;
    loop {
        if started.elapsed() > DEADLINE * 2 {
            bail!("gave up walking the form to its Send button; it last showed {last_state}");
        }
        let state = screen(browser).await?;
        if state == last_state {
            tokio::time::sleep(wait::POLL_INTERVAL).await;
            continue;
        }
        if state["description"].as_str() == Some("") {
            browser
                .type_in_widget(r#"textarea[data-heard="description"]"#, description)
                .await?;
            continue;
        }
        if state["fix"] == Value::Bool(false) {
            browser
                .click_in_widget(r#"input[data-heard="outcome"][value="fix"]"#)
                .await?;
            continue;
        }
        if state["submit"] == Value::Bool(true) {
            return browser
                .click_in_widget(r#"button[data-heard="submit"]"#)
                .await;
        }
        if state["next"] == Value::Bool(true) {
            browser
                .click_in_widget(r#"button[data-heard="next"]"#)
                .await?;
        }
        last_state = state;
    }
}

/// What the open form shows now: `screen` (headings and visible hooks, which
/// identify a step), `description` (its text, or null when not shown), `fix`
/// (whether that outcome is ticked, or null), and whether `submit` and
/// `next` are shown.
pub async fn screen(browser: &Browser) -> anyhow::Result<Value> {
    browser
        .client()
        .execute(FORM_STATE, vec![serde_json::json!(WIDGET_HOST)])
        .await
        .context("reading the form's state")
}

/// Waits for the receipt and returns the reference it shows.
pub async fn receipt_reference(browser: &Browser) -> anyhow::Result<String> {
    let element = browser
        .widget_element(r#"[data-heard="reference"]"#)
        .await?;
    Ok(element.text().await?.trim().to_owned())
}
