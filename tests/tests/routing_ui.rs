//! The routing page in a real Chromium: an owner creates a team and joins
//! it, writes a rule "product complaints → the team, tagged", tries it on a
//! sample complaint before saving (and sees it match while nothing is
//! stored yet), saves it; a complaint sent through the public API then
//! carries the tag and the team. The page passes axe-core.

use anyhow::{Context, ensure};
use heard_e2e::staff::{
    as_owner_in_browser, audit_page, click, element, sign_in, submit, type_into, wait_for_text,
};
use heard_e2e::wait::{self, DEADLINE};
use heard_e2e::{Browser, RunningCollector};
use serde_json::json;

const OWNER: &str = "owner@demo.example";
const TAG: &str = "crushed-parcel";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_tests_a_rule_before_saving_it_and_new_complaints_follow_it() -> anyhow::Result<()>
{
    as_owner_in_browser("routing-ui", OWNER, route_a_complaint).await
}

async fn route_a_complaint(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    sign_in(browser, collector, OWNER).await?;
    click(browser, "nav a[href=\"/inbox/routing\"]").await?;
    element(browser, "#no-rules").await?;

    // A team, with the owner in it.
    type_into(browser, "#team-new-name", "Shipping").await?;
    click(browser, "#team-new button[type=submit]").await?;
    wait_for_text(browser, "#routing-notice", "The team “Shipping” is added").await?;
    click(
        browser,
        "li.team[data-team-name=\"Shipping\"] form[data-action=\"member-add\"] button[type=submit]",
    )
    .await?;
    element(
        browser,
        "li.team[data-team-name=\"Shipping\"] li[data-member]",
    )
    .await?;
    let team_id: i64 = element(browser, "li.team[data-team-name=\"Shipping\"]")
        .await?
        .attr("data-team")
        .await?
        .context("the team's id")?
        .parse()?;

    // A rule naming a team that is not the merchant's is refused, with the
    // API's reason beside the editor.
    let stranger = json!({
        "name": "Somebody else's team",
        "actions": { "assign": { "kind": "team", "team_id": team_id + 1000 } },
    });
    type_into(browser, "#rule-new-json", &stranger.to_string()).await?;
    click(browser, "#rule-new button[type=submit]").await?;
    wait_for_text(browser, "#rule-new .alert", "is not one of your teams").await?;

    // A new rule, tried on a sample complaint before it is saved.
    let rule = json!({
        "name": "Product to shipping",
        "matching": "first",
        "conditions": { "categories": ["product"] },
        "actions": { "assign": { "kind": "team", "team_id": team_id }, "tags": [TAG] },
    });
    type_into(browser, "#rule-new-json", &rule.to_string()).await?;
    type_into(browser, "#sample-category", "delivery").await?;
    click(browser, "#rule-test button[type=submit]").await?;
    wait_for_text(browser, "#test-result", "No rule matched.").await?;
    type_into(browser, "#sample-category", "product").await?;
    type_into(browser, "#sample-text", "The parcel arrived crushed.").await?;
    click(browser, "#rule-test button[type=submit]").await?;
    wait_for_text(browser, "#test-matched", "Matched: Product to shipping").await?;
    wait_for_text(browser, "#test-actions", "Assigned to team Shipping").await?;
    wait_for_text(browser, "#test-actions", &format!("Tags: {TAG}")).await?;
    let saved: i64 =
        collector
            .open_database()?
            .query_row("SELECT COUNT(*) FROM routing_rules", [], |row| row.get(0))?;
    ensure!(saved == 0, "the test saved {saved} rule(s)");

    // Saved, it is listed in words.
    click(browser, "#rule-new button[type=submit]").await?;
    wait_for_text(
        browser,
        "#rules li.rule .rule-summary",
        &format!("When the category is product, assign to team Shipping, tag {TAG}."),
    )
    .await?;
    audit_page(browser, "the routing page").await?;

    // A complaint through the public API follows the rule.
    let receipt = submit(
        collector,
        &json!({
            "category": "product",
            "description": "The parcel arrived crushed and the kettle inside is dented.",
            "outcomes": ["fix"],
            "severity": "cost_me",
            "mood": "upset",
            "language": "en",
            "page_url": "https://shop.example/kettle"
        }),
    )
    .await?;
    let reference = receipt["reference"]
        .as_str()
        .context("a reference")?
        .to_owned();
    let page = collector.endpoint(&format!("/inbox/c/{reference}"));
    wait::until("the complaint page to show the tag", DEADLINE, || async {
        browser.goto(&page).await?;
        let tags = element(browser, "ul.tags").await?.text().await?;
        ensure!(tags.contains(TAG), "its tags read {tags:?}");
        Ok(())
    })
    .await?;
    let assignee = element(browser, ".assignee").await?.text().await?;
    ensure!(
        assignee.starts_with("Assigned to"),
        "the team's only member gets it: {assignee:?}"
    );
    let stored_team: Option<i64> = collector.open_database()?.query_row(
        "SELECT team_id FROM complaints WHERE reference = ?1",
        [&reference],
        |row| row.get(0),
    )?;
    ensure!(
        stored_team == Some(team_id),
        "the complaint went to team {stored_team:?}, not {team_id}"
    );

    // The sample can start from that complaint; a second rule, moved above
    // the first, then matches first.
    browser.goto(&collector.endpoint("/inbox/routing")).await?;
    let other_rule = json!({
        "name": "Upset shoppers first",
        "matching": "continue",
        "conditions": { "moods": ["upset"] },
        "actions": { "priority": "high" },
    });
    type_into(browser, "#rule-new-json", &other_rule.to_string()).await?;
    click(browser, "#rule-new button[type=submit]").await?;
    wait_for_text(
        browser,
        "#rules li.rule:nth-child(2) .rule-name",
        "Upset shoppers first",
    )
    .await?;
    click(
        browser,
        "#rules li.rule:nth-child(2) button[data-action=\"rule-up\"]",
    )
    .await?;
    wait_for_text(browser, "#routing-notice", "new order").await?;
    wait_for_text(
        browser,
        "#rules li.rule:nth-child(1) .rule-name",
        "Upset shoppers first",
    )
    .await?;
    type_into(browser, "#sample-reference", &reference).await?;
    click(browser, "button[data-action=\"sample-fill\"]").await?;
    wait::until("the sample to be filled", DEADLINE, || async {
        let category = element(browser, "#sample-category")
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        ensure!(category == "product", "the category reads {category:?}");
        Ok(())
    })
    .await?;
    click(browser, "#rule-test button[type=submit]").await?;
    wait_for_text(
        browser,
        "#test-matched",
        "Matched: Upset shoppers first, Product to shipping",
    )
    .await?;
    wait_for_text(browser, "#test-actions", "Priority: high").await?;
    Ok(())
}
