//! On a 360-px-wide phone, and at 200% zoom on a laptop (a 640-px-wide CSS
//! viewport), the widget is a full-width sheet with nothing cut off sideways
//! and touch targets at least 44 px tall, on every step of the main path.

use anyhow::ensure;
use heard_e2e::browser::WIDGET_HOST;
use heard_e2e::serial::one_browser_at_a_time;
use heard_e2e::shopper::{describe_and_send, open_widget, receipt_reference};
use heard_e2e::{Browser, RunningCollector};
use serde_json::json;

/// Measures the open widget: the dialog's box against the viewport, whether
/// anything inside is wider than the dialog, and the smallest visible control.
const MEASURE: &str = r#"
const root = document.querySelector(arguments[0]).shadowRoot;
const dialog = root.querySelector('[data-heard="dialog"]');
const box = dialog.getBoundingClientRect();
const controls = [...root.querySelectorAll('button, input[type=checkbox], input[type=radio], select, a[href]')]
  .filter((element) => element.getClientRects().length > 0)
  .map((element) => {
    // A checkbox or radio counts through its label, which is what a finger hits.
    const target = element.closest('label') || element;
    const rect = target.getBoundingClientRect();
    return { hook: element.getAttribute('data-heard') || element.tagName, height: rect.height };
  });
const smallest = controls.reduce((low, control) => (control.height < low.height ? control : low), { height: 1e9 });
return {
  viewport: document.documentElement.clientWidth,
  left: box.left, right: box.right,
  overflow: dialog.scrollWidth - dialog.clientWidth,
  smallest,
};
"#;

async fn check_screen(browser: &Browser, width: f64, what: &str) -> anyhow::Result<()> {
    let measured = browser.script(MEASURE, vec![json!(WIDGET_HOST)]).await?;
    let viewport = measured["viewport"].as_f64().unwrap_or_default();
    let (left, right) = (
        measured["left"].as_f64().unwrap_or(-1.0),
        measured["right"].as_f64().unwrap_or(-1.0),
    );
    ensure!(
        viewport <= width,
        "{what}: the viewport is {viewport} px, not at most {width}"
    );
    ensure!(
        left >= 0.0 && right <= viewport + 0.5,
        "{what}: the dialog spills off screen: {measured}"
    );
    if width <= 480.0 {
        ensure!(
            right - left >= viewport - 1.0,
            "{what}: on a phone the dialog is a full-width sheet: {measured}"
        );
    }
    ensure!(
        measured["overflow"].as_f64() == Some(0.0),
        "{what}: content is cut off sideways: {measured}"
    );
    let smallest = measured["smallest"]["height"].as_f64().unwrap_or_default();
    ensure!(
        smallest >= 44.0 - 0.5,
        "{what}: a touch target is under 44 px: {measured}"
    );
    Ok(())
}

async fn walk(collector: &RunningCollector, browser: &Browser, width: u32) -> anyhow::Result<()> {
    browser.client().set_window_size(width, 800).await?;
    let width = f64::from(width);
    open_widget(browser, &format!("{}/", collector.demo_shop_url())).await?;
    check_screen(browser, width, "the category step").await?;
    browser
        .click_in_widget(r#"button[data-heard="category"][data-category="delivery"]"#)
        .await?;
    browser
        .widget_element(r#"[data-heard="next"], [data-heard="submit"]"#)
        .await?;
    check_screen(browser, width, "the first step after the category").await?;
    describe_and_send(
        browser,
        "The parcel was promised for Monday and came on Friday.",
    )
    .await?;
    receipt_reference(browser).await?;
    check_screen(browser, width, "the receipt").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_fits_a_360_px_phone_and_a_200_percent_zoom() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let mut result = walk(&collector, &browser, 360).await;
    if result.is_ok() {
        // 200% zoom on a 1280-px laptop lays out like a 640-px-wide window.
        result = walk(&collector, &browser, 640).await;
    }
    browser.finish("small-screens", &collector, result).await
}
