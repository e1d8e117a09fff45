//! What a busy support team does in the inbox beyond one complaint at a
//! time, in a real Chromium against the real collector: ticking complaints
//! with the mouse and with `x`, then tagging them and changing their status
//! in one go from the bulk bar; a bulk action the workflow refuses changes
//! nothing and says why. The list with its bulk bar passes axe-core.

use anyhow::{Context, ensure};
use heard_e2e::staff::{
    as_owner_in_browser, audit_page, click, element, listed, press, sign_in, submit, type_into,
    wait_for_list, wait_for_text,
};
use heard_e2e::wait::{self, DEADLINE};
use heard_e2e::{Browser, RunningCollector};
use serde_json::{Value, json};

const OWNER: &str = "owner@demo.example";

fn complaint(description: &str) -> Value {
    json!({
        "category": "product",
        "description": description,
        "outcomes": ["compensation"],
        "severity": "inconvenience",
        "mood": "annoyed",
        "language": "en"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_tag_and_move_a_selection_of_complaints_at_once() -> anyhow::Result<()> {
    as_owner_in_browser("inbox-bulk", OWNER, bulk_actions).await
}

/// The statuses shown in the list, by reference.
async fn statuses(browser: &Browser) -> anyhow::Result<Vec<(String, String)>> {
    let rows = browser
        .script(
            "return [...document.querySelectorAll('#rows tr[data-reference]')].map((row) => \
               [row.dataset.reference, row.querySelector('td.status span').className]);",
            Vec::new(),
        )
        .await?;
    Ok(serde_json::from_value(rows)?)
}

/// The tags shown in the list on the row of `reference`.
async fn tags(browser: &Browser, reference: &str) -> anyhow::Result<Vec<String>> {
    let tags = browser
        .script(
            "return [...document.querySelectorAll(`#rows tr[data-reference=\"${arguments[0]}\"] .tags li`)]\
               .map((item) => item.textContent);",
            vec![json!(reference)],
        )
        .await?;
    Ok(serde_json::from_value(tags)?)
}

async fn bulk_actions(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    sign_in(browser, collector, OWNER).await?;
    let mut references = Vec::new();
    let mut status_links = Vec::new();
    for description in [
        "The courier left the parcel in the rain.",
        "The courier never rang the bell.",
        "The box was opened before it reached me.",
    ] {
        let receipt = submit(collector, &complaint(description)).await?;
        references.push(
            receipt["reference"]
                .as_str()
                .context("a reference")?
                .to_owned(),
        );
        status_links.push(
            receipt["status_url"]
                .as_str()
                .context("a status link")?
                .to_owned(),
        );
    }
    browser.goto(&collector.endpoint("/inbox")).await?;
    wait::until("the three complaints in the list", DEADLINE, || async {
        ensure!(listed(browser).await?.len() == 3, "not yet");
        Ok(())
    })
    .await?;
    let order = listed(browser).await?;
    element(browser, "form#bulk").await?;
    wait_for_text(browser, "#bulk-count", "No complaint selected.").await?;

    // The keyboard: j selects a row, x ticks it; twice.
    press(browser, 'j').await?;
    press(browser, 'x').await?;
    press(browser, 'j').await?;
    press(browser, 'x').await?;
    wait_for_text(browser, "#bulk-count", "2 complaints selected.").await?;
    for (reference, ticked) in order.iter().zip([true, true, false]) {
        let checked = browser
            .script(
                "return document.querySelector(`#rows tr[data-reference=\"${arguments[0]}\"] input.pick`).checked;",
                vec![json!(reference)],
            )
            .await?;
        ensure!(checked == json!(ticked), "{reference} ticked: {checked}");
    }
    // `x` again unticks the selected row.
    press(browser, 'x').await?;
    wait_for_text(browser, "#bulk-count", "1 complaint selected.").await?;
    press(browser, 'x').await?;
    wait_for_text(browser, "#bulk-count", "2 complaints selected.").await?;
    audit_page(browser, "the inbox list with two complaints ticked").await?;

    // Tag the two; Enter in the tag field means "add tag", not the first button.
    type_into(browser, "#bulk-tag", "courier\n").await?;
    wait_for_text(browser, "#bulk-count", "No complaint selected.").await?;
    wait::until("the tag on the two ticked rows", DEADLINE, || async {
        for (reference, tagged) in order.iter().zip([true, true, false]) {
            let shown = tags(browser, reference).await?;
            ensure!(
                shown.contains(&"courier".to_owned()) == tagged,
                "{reference} shows {shown:?}"
            );
        }
        Ok(())
    })
    .await?;

    // Everything on the page, then a status for all of them.
    click(browser, "#pick-all").await?;
    wait_for_text(browser, "#bulk-count", "3 complaints selected.").await?;
    element(browser, "#bulk-status")
        .await?
        .select_by_value("in_progress")
        .await?;
    click(browser, "#bulk button[value=set_status]").await?;
    wait::until("every complaint in progress", DEADLINE, || async {
        let shown = statuses(browser).await?;
        ensure!(
            shown.len() == 3
                && shown
                    .iter()
                    .all(|(_, status)| status == "status-in_progress"),
            "the list shows {shown:?}"
        );
        Ok(())
    })
    .await?;

    // Resolve one on its own (untick the others with the mouse), then ask
    // to move all three to "waiting for you": the workflow refuses the
    // resolved one, the page says why, and nothing changed — not even the
    // two that could have moved.
    let first = order.first().context("a first row")?;
    click(browser, "#pick-all").await?;
    wait_for_text(browser, "#bulk-count", "3 complaints selected.").await?;
    for reference in order.iter().skip(1) {
        click(
            browser,
            &format!("#rows tr[data-reference=\"{reference}\"] input.pick"),
        )
        .await?;
    }
    wait_for_text(browser, "#bulk-count", "1 complaint selected.").await?;
    element(browser, "#bulk-status")
        .await?
        .select_by_value("resolved")
        .await?;
    click(browser, "#bulk button[value=set_status]").await?;
    wait::until("the first complaint resolved", DEADLINE, || async {
        let shown = statuses(browser).await?;
        ensure!(
            shown
                .iter()
                .any(|(reference, status)| reference == first && status == "status-resolved"),
            "the list shows {shown:?}"
        );
        Ok(())
    })
    .await?;
    let before = statuses(browser).await?;
    click(browser, "#pick-all").await?;
    element(browser, "#bulk-status")
        .await?
        .select_by_value("waiting_for_you")
        .await?;
    click(browser, "#bulk button[value=set_status]").await?;
    wait_for_text(browser, ".form-error", "cannot become waiting_for_you").await?;
    let after = statuses(browser).await?;
    let mut before_sorted = before.clone();
    before_sorted.sort();
    let mut after_sorted = after;
    after_sorted.sort();
    ensure!(
        before_sorted == after_sorted,
        "a refused bulk action changed the list: {before_sorted:?} → {after_sorted:?}"
    );
    // The three are still ticked, to try something else.
    wait_for_text(browser, "#bulk-count", "3 complaints selected.").await?;

    saved_views(collector, browser, &order).await?;
    canned_replies(collector, browser, &order[1]).await?;
    let duplicate = order[2].clone();
    let link = &status_links[references
        .iter()
        .position(|reference| *reference == duplicate)
        .context("the duplicate's receipt")?];
    merge_and_link(collector, browser, &order[1], &duplicate, link).await?;
    site_settings(collector, browser).await
}

/// The owner's site page: the exact embed snippet with a copy button, the
/// settings with errors beside their fields, and the response targets.
async fn site_settings(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    browser.goto(&collector.endpoint("/inbox/sites")).await?;
    click(browser, "#sites a[href=\"/inbox/sites/demo\"]").await?;
    let snippet = element(browser, "#embed-snippet").await?.text().await?;
    ensure!(
        snippet
            == format!(
                "<script src=\"{}/widget.js\" data-site=\"demo\" async></script>",
                collector.url().trim_end_matches('/')
            ),
        "the snippet reads {snippet:?}"
    );
    click(browser, "button[data-action=copy-snippet]").await?;
    wait_for_text(browser, "#announcer", "snippet is").await?;
    audit_page(browser, "the site settings page").await?;

    // A bad origin and an empty name: both named beside their fields.
    type_into(browser, "#site-origins", "shop.example/path").await?;
    type_into(browser, "#site-name", " ").await?;
    click(browser, "#site-settings button[type=submit]").await?;
    wait_for_text(browser, "#error-allowed_origins", "allowed_origins[0]").await?;
    wait_for_text(browser, "#error-config-name", "config.name").await?;
    // JSON that does not parse is caught before it is sent.
    type_into(browser, "#site-config", "{ not json").await?;
    click(browser, "#site-settings button[type=submit]").await?;
    wait_for_text(browser, "#error-config", "config").await?;

    browser
        .goto(&collector.endpoint("/inbox/sites/demo"))
        .await?;
    type_into(browser, "#site-name", "Heard kettle shop").await?;
    click(browser, "#site-settings button[type=submit]").await?;
    wait_for_text(browser, "#announcer", "The settings are saved.").await?;
    let config: Value = reqwest::get(collector.endpoint("/api/v1/sites/demo/config"))
        .await?
        .json()
        .await?;
    ensure!(
        config["name"] == "Heard kettle shop",
        "the public config: {config}"
    );

    let first = element(browser, "input[name=\"inconvenience.first\"]").await?;
    first.clear().await?;
    first.send_keys("2").await?;
    click(browser, "#targets button[type=submit]").await?;
    wait_for_text(browser, "#announcer", "response targets are saved").await?;
    browser
        .goto(&collector.endpoint("/inbox/sites/demo"))
        .await?;
    let value = element(browser, "input[name=\"inconvenience.first\"]")
        .await?
        .prop("value")
        .await?;
    ensure!(value.as_deref() == Some("2"), "the target reads {value:?}");
    Ok(())
}

/// Links two complaints, then merges one as a duplicate of the other: each
/// page shows the other, and the duplicate's shopper link still opens.
async fn merge_and_link(
    collector: &RunningCollector,
    browser: &Browser,
    primary: &str,
    duplicate: &str,
    duplicate_link: &str,
) -> anyhow::Result<()> {
    browser
        .goto(&collector.endpoint(&format!("/inbox/c/{duplicate}")))
        .await?;
    type_into(browser, "#link-with", primary).await?;
    click(browser, "form[data-action=link] button[type=submit]").await?;
    wait_for_text(browser, "#related", &format!("{primary} (")).await?;
    wait_for_text(browser, "#timeline", &format!("linked it with {primary}")).await?;

    type_into(browser, "#merge-into", primary).await?;
    click(browser, "form[data-action=merge] button[type=submit]").await?;
    wait_for_text(
        browser,
        "[data-field=merged-into]",
        &format!("Merged as a duplicate into {primary}"),
    )
    .await?;
    wait_for_text(browser, "#complaint [data-field=status]", "Closed").await?;
    audit_page(browser, "a merged complaint").await?;

    click(browser, &format!("#related a[href=\"/inbox/c/{primary}\"]")).await?;
    wait_for_text(browser, "#related", "Merged into this one").await?;
    wait_for_text(browser, "#related", duplicate).await?;
    wait_for_text(
        browser,
        "#timeline",
        &format!("merged the duplicate {duplicate} into it"),
    )
    .await?;

    // The duplicate's shopper still opens their page, which says it is closed.
    let page = reqwest::get(collector.resolve(duplicate_link)?)
        .await
        .context("opening the duplicate's status link")?;
    ensure!(
        page.status().as_u16() == 200,
        "the status link answered {}",
        page.status()
    );
    Ok(())
}

/// Saves the current filter as a shared view, opens it from its link, and
/// removes it.
async fn saved_views(
    collector: &RunningCollector,
    browser: &Browser,
    order: &[String],
) -> anyhow::Result<()> {
    browser
        .goto(&collector.endpoint("/inbox?tag=courier"))
        .await?;
    let couriers = [order[0].clone(), order[1].clone()];
    wait_for_list(browser, &couriers).await?;
    type_into(browser, "#view-name", "Courier trouble").await?;
    click(browser, "#save-view input[name=shared]").await?;
    click(browser, "#save-view button[type=submit]").await?;
    wait_for_text(browser, "#views ul", "Courier trouble").await?;
    wait_for_text(browser, "#views ul", "Shared").await?;

    browser.goto(&collector.endpoint("/inbox")).await?;
    wait_for_list(browser, order).await?;
    click(browser, "#views a[href=\"/inbox?tag=courier\"]").await?;
    wait_for_list(browser, &couriers).await?;
    audit_page(browser, "the list with a saved view").await?;

    click(browser, "#views button[data-action=delete-view]").await?;
    wait_for_text(browser, "#views", "No saved views yet.").await?;
    Ok(())
}

/// An owner writes a canned reply; on a complaint it goes into the reply
/// box, is adapted and sent.
async fn canned_replies(
    collector: &RunningCollector,
    browser: &Browser,
    reference: &str,
) -> anyhow::Result<()> {
    browser.goto(&collector.endpoint("/inbox/canned")).await?;
    type_into(browser, "#canned-language-new", "en").await?;
    type_into(browser, "#canned-title-new", "Courier apology").await?;
    type_into(
        browser,
        "#canned-body-new",
        "We are sorry the courier let you down.",
    )
    .await?;
    click(browser, "form[data-canned=\"\"] button[type=submit]").await?;
    wait_for_text(browser, "#canned", "Courier apology").await?;
    audit_page(browser, "the canned replies page").await?;

    browser
        .goto(&collector.endpoint(&format!("/inbox/c/{reference}")))
        .await?;
    type_into(browser, "#reply-body", "Hello. ").await?;
    element(browser, "#canned-pick")
        .await?
        .select_by_index(1)
        .await?;
    click(browser, "button[data-action=insert-canned]").await?;
    let text = browser
        .script(
            "return document.getElementById('reply-body').value;",
            Vec::new(),
        )
        .await?;
    ensure!(
        text == json!("Hello. We are sorry the courier let you down."),
        "the reply box holds {text}"
    );
    audit_page(browser, "a complaint with canned replies").await?;
    click(browser, "form[data-action=reply] button[type=submit]").await?;
    wait_for_text(
        browser,
        "#timeline",
        "We are sorry the courier let you down.",
    )
    .await?;
    Ok(())
}
