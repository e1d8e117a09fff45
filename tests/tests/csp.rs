//! The widget works on a shop with a strict Content-Security-Policy — the one
//! the README tells merchants to use — and triggers no violation at all.
//!
//! `www/demo/csp.html` sets the policy in a `<meta>` tag and loads
//! `csp-watch.js` before the widget; that script records every
//! `securitypolicyviolation` event, which this test reads at the end.

use anyhow::ensure;
use heard_e2e::serial::one_browser_at_a_time;
use heard_e2e::shopper::{describe_and_send, receipt_reference};
use heard_e2e::{Browser, RunningCollector};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_complaint_flow_works_under_a_strict_csp_without_violations() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = async {
        browser
            .goto(&format!("{}/csp.html", collector.demo_shop_url()))
            .await?;
        let policy = browser
            .script(
                r#"return document.querySelector('meta[http-equiv="Content-Security-Policy"]').content;"#,
                Vec::new(),
            )
            .await?;
        ensure!(
            policy.as_str().is_some_and(|policy| policy.contains(collector.url())
                && !policy.contains("unsafe-inline")),
            "the page must carry the strict policy naming this collector: {policy}"
        );

        browser
            .click_in_widget(r#"button[data-heard="launcher"]"#)
            .await?;
        browser
            .click_in_widget(r#"button[data-heard="category"][data-category="product"]"#)
            .await?;
        let description = format!("Strict CSP: the lid cracked ({})", std::process::id());
        describe_and_send(&browser, &description).await?;
        let reference = receipt_reference(&browser).await?;
        let stored = collector.stored_description(&reference)?;
        ensure!(stored.as_deref() == Some(description.as_str()), "stored {stored:?} for {reference}");

        let violations = browser
            .script("return window.heardViolations;", Vec::new())
            .await?;
        ensure!(
            violations == json!([]),
            "the widget caused Content-Security-Policy violations: {violations:#}"
        );
        Ok(())
    }
    .await;
    browser.finish("csp", &collector, result).await
}
