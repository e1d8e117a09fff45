//! A shopper complains through the widget on the demo shop, in a real
//! Chromium, across a real cross-origin boundary.

use anyhow::{Context, ensure};
use heard_e2e::serial::one_browser_at_a_time;
use heard_e2e::wait::{self, DEADLINE};
use heard_e2e::{Browser, RunningCollector};
use heard_shared::Reference;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_complains_through_the_widget_and_follows_the_receipt() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = shopper_flow(&collector, &browser).await;
    if result.is_err() {
        match browser.save_evidence("shopper-flow").await {
            Ok(path) => eprintln!("screenshot of the failure: {}", path.display()),
            Err(error) => eprintln!("could not save a screenshot: {error:#}"),
        }
    }
    let closed = browser.close().await;
    result.with_context(|| format!("collector log:\n{}", collector.log_tail()))?;
    closed
}

async fn shopper_flow(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    // The shop is served from its own origin, so every call the widget makes
    // to the collector is a real cross-origin request.
    browser
        .goto(&format!("{}/", collector.demo_shop_url()))
        .await?;

    browser
        .click_in_widget(r#"button[data-heard="launcher"]"#)
        .await?;
    browser.widget_element(r#"[data-heard="dialog"]"#).await?;
    browser
        .click_in_widget(r#"button[data-heard="category"][data-category="product"]"#)
        .await?;
    // The product flow asks its own optional questions first.
    browser
        .click_in_widget(r#"button[data-heard="next"]"#)
        .await?;
    let description = format!(
        "The blender's lid cracked on the first use <b>&</b> 'quotes' (check {})",
        std::process::id()
    );
    browser
        .type_in_widget(r#"textarea[data-heard="description"]"#, &description)
        .await?;
    browser
        .click_in_widget(r#"input[data-heard="outcome"][value="fix"]"#)
        .await?;
    // Contact stays optional: the last step only shows what is attached.
    browser
        .click_in_widget(r#"button[data-heard="next"]"#)
        .await?;
    browser
        .click_in_widget(r#"button[data-heard="submit"]"#)
        .await?;

    // The receipt is shown only after the complaint is stored.
    let reference_element = browser
        .widget_element(r#"[data-heard="reference"]"#)
        .await?;
    let reference = reference_element.text().await?.trim().to_owned();
    let parsed = Reference::parse(&reference)
        .with_context(|| format!("the widget shows {reference:?}, not a valid reference"))?;
    assert_eq!(
        parsed.to_string(),
        reference,
        "the widget shows the reference in its canonical HRD-XXXX-XXXX form"
    );

    // The copy button says what it did, in a live region: copied, or (where
    // the browser refuses) selected for the shopper to copy.
    browser
        .click_in_widget(r#"button[data-heard="copy-reference"]"#)
        .await?;
    let note = wait::until("the copy button to report", DEADLINE, || async {
        let text = browser
            .widget_element(r#"[data-heard="copy-status"]"#)
            .await?
            .text()
            .await?;
        ensure!(!text.trim().is_empty(), "the copy status is still empty");
        Ok(text.trim().to_owned())
    })
    .await?;
    ensure!(
        note == "Copied." || note.starts_with("Selected:"),
        "the copy status reads {note:?}"
    );
    let selected = browser
        .script("return window.getSelection().toString();", vec![])
        .await?;
    assert_eq!(
        selected.as_str().map(str::trim),
        Some(reference.as_str()),
        "copying also selects the reference, so a keyboard copy works too"
    );

    assert_eq!(
        collector.stored_description(&reference)?.as_deref(),
        Some(description.as_str()),
        "the complaint {reference} is stored with the shopper's words"
    );

    // The private status link opens a page that shows the complaint.
    let status_link = browser
        .widget_element(r#"a[data-heard="status-link"]"#)
        .await?;
    let href = status_link
        .prop("href")
        .await?
        .context("the status link has no href")?;
    browser.goto(&href).await?;
    // The description holds markup characters: showing it verbatim in the
    // page's visible text proves the page escaped it instead of interpreting it.
    wait::until(
        &format!("the status page {href} to show {reference} and the description"),
        DEADLINE,
        || async {
            let text = browser.page_text().await?;
            ensure!(
                text.contains(&reference) && text.contains(&description),
                "the page reads: {text}"
            );
            Ok(())
        },
    )
    .await
}
