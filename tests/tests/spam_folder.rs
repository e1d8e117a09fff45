//! The spam folder in a real Chromium (issue 9): a complaint posted with
//! the widget's hidden field filled in is answered like any other but waits
//! in the inbox's Spam folder with its reason; its page says why, and
//! "Not spam — restore", pressed with the keyboard alone, puts it in the
//! inbox list. The folder and the complaint page pass axe-core.

use anyhow::ensure;
use heard_e2e::staff::{
    as_owner_in_browser, audit_page, click, element, sign_in, submit, wait_for_list, wait_for_text,
};
use heard_e2e::wait::{self, DEADLINE};
use serde_json::{Value, json};

const OWNER: &str = "owner@demo.example";

fn complaint(description: &str, extra: Value) -> Value {
    let mut body = json!({
        "category": "product",
        "description": description,
        "outcomes": ["fix"],
        "language": "en",
    });
    for (key, value) in extra.as_object().into_iter().flatten() {
        body[key] = value.clone();
    }
    body
}

fn reference(receipt: &Value) -> anyhow::Result<String> {
    Ok(receipt["reference"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no reference in {receipt}"))?
        .to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspected_spam_waits_in_its_folder_until_restored() -> anyhow::Result<()> {
    as_owner_in_browser("spam-folder", OWNER, async |collector, browser| {
        sign_in(browser, collector, OWNER).await?;
        let person = reference(
            &submit(
                collector,
                &complaint("The kettle lid will not close.", json!({"fill_ms": 42_000})),
            )
            .await?,
        )?;
        let spam = reference(
            &submit(
                collector,
                &complaint(
                    "Best kettle prices online",
                    json!({"honeypot": "https://deals.example", "fill_ms": 30_000}),
                ),
            )
            .await?,
        )?;

        // The inbox shows only the person's complaint and counts the spam.
        browser.goto(&collector.endpoint("/inbox")).await?;
        wait_for_list(browser, &[&person]).await?;
        wait_for_text(browser, "#spam-folder", "Spam (1)").await?;

        // The folder lists the spam with its reason.
        click(browser, "#spam-folder").await?;
        wait_for_list(browser, &[&spam]).await?;
        wait_for_text(
            browser,
            "#rows .badge.spam",
            "Suspected spam: hidden field filled in",
        )
        .await?;
        audit_page(browser, "the spam folder").await?;

        // Its page says why, and restoring takes the keyboard alone.
        browser
            .goto(&collector.endpoint(&format!("/inbox/c/{spam}")))
            .await?;
        wait_for_text(
            browser,
            "#spam-banner h2",
            "Suspected spam: hidden field filled in",
        )
        .await?;
        audit_page(browser, "a suspected spam complaint").await?;
        element(browser, "button[data-action=restore-spam]")
            .await?
            .send_keys("\u{E007}")
            .await?;
        wait::until("the banner to go", DEADLINE, || async {
            let gone = browser
                .script(
                    "return document.getElementById('spam-banner') === null \
                     && document.querySelector('[data-kind=spam_restored]') !== null;",
                    Vec::new(),
                )
                .await?;
            ensure!(gone.as_bool() == Some(true), "the banner is still there");
            Ok(())
        })
        .await?;

        // Now it is in the inbox, and the folder is empty.
        browser.goto(&collector.endpoint("/inbox")).await?;
        wait_for_list(browser, &[&person, &spam]).await?;
        wait_for_text(browser, "#spam-folder", "Spam (0)").await?;
        Ok(())
    })
    .await
}
