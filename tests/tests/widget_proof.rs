//! The widget against the collector's spam defences (issue 9), in a real
//! Chromium on the demo shop: it solves the proof-of-work challenge the
//! collector requires, and its hidden honeypot input catches a bot that
//! fills in every field, while people never reach it from the keyboard.

use anyhow::{Context, ensure};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use heard_e2e::browser::WIDGET_HOST;
use heard_e2e::serial::one_browser_at_a_time;
use heard_e2e::shopper::{describe_and_send, open_widget, receipt_reference, screen};
use heard_e2e::wait::{self, DEADLINE};
use heard_e2e::{Browser, RunningCollector};
use serde_json::Value;

/// WebDriver's code for the Tab key.
const TAB: char = '\u{e004}';

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_solves_the_challenge_the_collector_requires() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;

    // The collector really requires a proof: without one, a complaint is
    // refused. So a complaint the widget gets stored was sent with a proof
    // the collector checked.
    let refused = reqwest::Client::new()
        .post(collector.endpoint("/api/v1/sites/demo/complaints"))
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", "widget-proof-no-proof-0001")
        .body(r#"{"category":"product","description":"No proof attached","language":"en"}"#)
        .send()
        .await?;
    let status = refused.status().as_u16();
    let body: Value = refused.json().await?;
    ensure!(
        status == 422 && body["error"] == "proof_required",
        "a complaint without a proof was answered {status} {body}"
    );

    let browser = Browser::start().await?;
    let result = async {
        open_widget(&browser, &format!("{}/", collector.demo_shop_url())).await?;
        browser
            .click_in_widget(r#"button[data-heard="category"][data-category="product"]"#)
            .await?;
        let description = format!(
            "The kettle's lid will not close (proof {})",
            std::process::id()
        );
        describe_and_send(&browser, &description).await?;
        let reference = receipt_reference(&browser).await?;
        ensure!(
            collector.stored_description(&reference)?.as_deref() == Some(description.as_str()),
            "the complaint {reference} is not stored with the shopper's words"
        );
        // Exactly one proof was spent, by this complaint.
        let spent: i64 = collector.open_database()?.query_row(
            "SELECT count(*) FROM spent_proofs",
            [],
            |row| row.get(0),
        )?;
        ensure!(spent == 1, "{spent} proofs were spent for one complaint");
        Ok(())
    }
    .await;
    browser.finish("widget-proof", &collector, result).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_fills_the_honeypot_lands_in_spam_and_people_never_tab_to_it()
-> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = async {
        open_widget(&browser, &format!("{}/", collector.demo_shop_url())).await?;
        browser
            .click_in_widget(r#"button[data-heard="category"][data-category="product"]"#)
            .await?;
        // The product flow asks its own optional questions first.
        browser
            .click_in_widget(r#"button[data-heard="next"]"#)
            .await?;
        browser
            .type_in_widget(
                r#"textarea[data-heard="description"]"#,
                "Cheap watches at a great price, visit our site",
            )
            .await?;
        browser
            .click_in_widget(r#"button[data-heard="next"]"#)
            .await?;
        browser
            .widget_element(r#"button[data-heard="submit"]"#)
            .await?;

        // A person pressing Tab through the last step never lands on it,
        // in either direction.
        browser
            .click_in_widget(r#"input[data-heard="contact-name"]"#)
            .await?;
        let mut visited = Vec::new();
        for key_press in 0..40 {
            let backwards = key_press >= 20;
            press_tab(&browser, backwards).await?;
            visited.push(focused_hook(&browser).await?);
        }
        ensure!(
            !visited.iter().any(|hook| hook == "honeypot"),
            "Tab reached the honeypot: {visited:?}"
        );
        ensure!(
            visited.iter().any(|hook| hook == "submit"),
            "Tab never reached the Send button either, so this proved nothing: {visited:?}"
        );
        // It is in the page, where a bot finds it, and hidden from people.
        let hidden: Value = browser
            .script(
                "const input = document.querySelector(arguments[0]).shadowRoot\
                   .querySelector('[data-heard=\"honeypot\"]');\
                 const box = input.getBoundingClientRect();\
                 return { name: input.name, tabindex: input.getAttribute('tabindex'),\
                   hidden: input.closest('[aria-hidden=\"true\"]') !== null,\
                   display: getComputedStyle(input).display,\
                   offscreen: box.bottom <= 0 || box.right <= 0 };",
                vec![serde_json::json!(WIDGET_HOST)],
            )
            .await?;
        ensure!(
            hidden["name"] == "website"
                && hidden["tabindex"] == "-1"
                && hidden["hidden"] == true
                && hidden["display"] != "none"
                && hidden["offscreen"] == true,
            "the honeypot is not drawn the way people miss it and bots find it: {hidden}"
        );

        // A bot sets every input's value by script, the hidden one too, and sends.
        browser
            .script(
                "document.querySelector(arguments[0]).shadowRoot\
                   .querySelector('[data-heard=\"honeypot\"]').value = 'https://cheap.example/';",
                vec![serde_json::json!(WIDGET_HOST)],
            )
            .await?;
        browser
            .click_in_widget(r#"button[data-heard="submit"]"#)
            .await?;
        // Suspected spam is stored and answered like any complaint.
        let reference = receipt_reference(&browser).await?;
        let spam = wait::until("the complaint to be stored", DEADLINE, || async {
            let spam: Option<String> = collector.open_database()?.query_row(
                "SELECT spam FROM complaints WHERE reference = ?1",
                [&reference],
                |row| row.get(0),
            )?;
            Ok(spam)
        })
        .await?;
        ensure!(
            spam.as_deref() == Some("honeypot"),
            "the bot's complaint {reference} is filed as {spam:?}, not as honeypot spam; \
             the form showed {}",
            screen(&browser).await?
        );
        Ok(())
    }
    .await;
    browser
        .finish("widget-honeypot", &collector, result)
        .await
        .context("the honeypot scenario")
}

/// Presses Tab (with Shift when `backwards`) on whatever has focus.
async fn press_tab(browser: &Browser, backwards: bool) -> anyhow::Result<()> {
    const SHIFT: char = '\u{e008}';
    let mut keys = KeyActions::new("keyboard".to_owned());
    if backwards {
        keys = keys.then(KeyAction::Down { value: SHIFT });
    }
    keys = keys
        .then(KeyAction::Down { value: TAB })
        .then(KeyAction::Up { value: TAB });
    if backwards {
        keys = keys.then(KeyAction::Up { value: SHIFT });
    }
    browser.client().perform_actions(keys).await?;
    Ok(())
}

/// The `data-heard` hook (or tag name) of what has focus inside the widget.
async fn focused_hook(browser: &Browser) -> anyhow::Result<String> {
    let hook = browser
        .script(
            "const active = document.querySelector(arguments[0]).shadowRoot.activeElement;\
             return active ? (active.getAttribute('data-heard') || active.tagName) : 'outside';",
            vec![serde_json::json!(WIDGET_HOST)],
        )
        .await?;
    Ok(hook.as_str().unwrap_or_default().to_owned())
}
