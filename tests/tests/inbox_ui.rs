//! The staff inbox in a real Chromium: an owner made with `collector user
//! add --owner` signs in, sees a complaint arrive live, filters, searches in
//! Chinese, works a complaint with the keyboard and the buttons (assign,
//! reply, resolve), and the shopper's status page shows the reply. A
//! complaint made of XSS payloads is shown as text and runs nothing. The
//! list and the complaint page pass axe-core.

use anyhow::{Context, bail, ensure};
use fantoccini::Locator;
use heard_e2e::serial::one_browser_at_a_time;
use heard_e2e::staff::{
    add_owner, as_owner_in_browser, audit_page, click, configure_site, element, press, sign_in,
    submit, type_into, wait_for_list, wait_for_text,
};
use heard_e2e::wait::{self, DEADLINE};
use heard_e2e::{Browser, RunningCollector};
use serde_json::{Value, json};

const OWNER: &str = "owner@demo.example";

fn complaint(description: &str, language: &str) -> Value {
    json!({
        "category": "product",
        "description": description,
        "outcomes": ["fix"],
        "severity": "cost_me",
        "mood": "upset",
        "language": language,
        "page_url": "https://shop.example/soy-milk-maker"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_work_a_complaint_from_arrival_to_resolution() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let mut collector = RunningCollector::start()?;
    add_owner(&collector, "Demo merchant", OWNER)?;
    let browser = Browser::start().await?;
    let mut result = work_a_complaint(&collector, &browser).await;
    if result.is_ok() {
        result = stop_with_the_inbox_open(&mut collector, &browser).await;
    }
    browser.finish("inbox-work", &collector, result).await
}

/// An open inbox holds an event stream; stopping the collector ends it
/// rather than waiting out the shutdown grace period.
async fn stop_with_the_inbox_open(
    collector: &mut RunningCollector,
    browser: &Browser,
) -> anyhow::Result<()> {
    browser.goto(&collector.endpoint("/inbox")).await?;
    element(browser, "table#complaints").await?;
    element(browser, "body[data-live=on]").await?;
    let status = tokio::task::block_in_place(|| collector.terminate())?;
    ensure!(status.success(), "the collector exited with {status}");
    let log = collector.log_tail();
    ensure!(
        !log.contains("still open after the shutdown grace period"),
        "shutdown waited for the event stream:\n{log}"
    );
    Ok(())
}

/// At tablet width (768 px, held upright) the page needs no sideways scrolling.
async fn fits_a_tablet(browser: &Browser, what: &str) -> anyhow::Result<()> {
    browser.client().set_window_size(768, 1024).await?;
    let overflow = browser
        .script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            Vec::new(),
        )
        .await?;
    browser.client().set_window_size(1280, 900).await?;
    ensure!(
        overflow.as_i64() == Some(0),
        "{what} is {overflow} px too wide for a tablet"
    );
    Ok(())
}

async fn work_a_complaint(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    sign_in(browser, collector, OWNER).await?;
    let parcel = submit(
        collector,
        &complaint("The parcel arrived crushed and wet.", "en"),
    )
    .await?;
    let parcel = parcel["reference"]
        .as_str()
        .context("a reference")?
        .to_owned();
    browser.goto(&collector.endpoint("/inbox")).await?;
    wait_for_list(browser, &[&parcel]).await?;
    audit_page(browser, "the inbox list").await?;
    fits_a_tablet(browser, "the inbox list").await?;

    // A complaint arrives while the inbox is open: it appears by itself.
    element(browser, "body[data-live=on]").await?;
    let receipt = submit(
        collector,
        &complaint("豆浆机用了三次就坏了，售后不给修。", "zh"),
    )
    .await?;
    let soy = receipt["reference"]
        .as_str()
        .context("a reference")?
        .to_owned();
    let status_url = receipt["status_url"]
        .as_str()
        .context("a status link")?
        .to_owned();
    wait_for_list(browser, &[&parcel, &soy]).await?;
    element(browser, &format!("tr.fresh[data-reference=\"{soy}\"]")).await?;
    wait_for_text(browser, "#counts", "2 open").await?;

    // Search in Chinese (two characters: shorter than a trigram).
    type_into(browser, "#q", "坏了").await?;
    click(browser, ".search button[type=submit]").await?;
    wait_for_list(browser, &[&soy]).await?;
    let url = browser.client().current_url().await?;
    ensure!(
        url.query().unwrap_or_default().contains("q="),
        "the search is in the address, to share: {url}"
    );

    // Filter with the form: English only.
    browser.goto(&collector.endpoint("/inbox")).await?;
    click(browser, "details.more summary").await?;
    type_into(browser, "#f-language", "en").await?;
    click(browser, "details.more button[type=submit]").await?;
    wait_for_list(browser, &[&parcel]).await?;

    // New complaints may be routed to someone on arrival: take this one
    // off them first, with the assignment form.
    unassign(browser, collector, &parcel).await?;

    // The keyboard: `/` focuses the search, j selects, a assigns to me.
    browser
        .goto(&collector.endpoint("/inbox?language=en"))
        .await?;
    wait_for_list(browser, &[&parcel]).await?;
    press(browser, '/').await?;
    let focused = browser
        .script("return document.activeElement.id;", Vec::new())
        .await?;
    ensure!(
        focused == "q",
        "`/` focused {focused} instead of the search"
    );
    // Shortcuts do not fire while typing: the letters land in the field.
    for key in ['j', 'a', 'e'] {
        press(browser, key).await?;
    }
    let typed = browser
        .script(
            "return [document.getElementById('q').value, \
                     document.querySelectorAll('#rows tr.selected').length];",
            Vec::new(),
        )
        .await?;
    ensure!(
        typed == json!(["jae", 0]),
        "typing in the search box fired shortcuts: {typed}"
    );
    browser
        .script("document.activeElement.blur();", Vec::new())
        .await?;
    press(browser, 'j').await?;
    element(
        browser,
        &format!("tr.selected[data-reference=\"{parcel}\"]"),
    )
    .await?;
    press(browser, 'a').await?;
    wait_for_text(
        browser,
        &format!("tr[data-reference=\"{parcel}\"] .assignee"),
        "Me",
    )
    .await?;
    press(browser, '?').await?;
    element(browser, "dialog#shortcuts[open]").await?;
    press(browser, '\u{e00c}').await?; // Escape closes the help.
    wait::until("the help to close", DEADLINE, || async {
        let open = browser
            .script(
                "return document.getElementById('shortcuts').open;",
                Vec::new(),
            )
            .await?;
        ensure!(open == false, "it is still open");
        Ok(())
    })
    .await?;
    // `r` on the selected row opens it, ready to reply.
    press(browser, 'j').await?;
    press(browser, 'r').await?;
    wait::until(
        "the reply box of the complaint to have focus",
        DEADLINE,
        || async {
            let state = browser
                .script(
                    "return [location.pathname, document.activeElement.id];",
                    Vec::new(),
                )
                .await?;
            ensure!(
                state == json!([format!("/inbox/c/{parcel}"), "reply-body"]),
                "{state}"
            );
            Ok(())
        },
    )
    .await?;

    // The complaint page: assign, reply, resolve with the buttons.
    browser
        .goto(&collector.endpoint(&format!("/inbox/c/{soy}")))
        .await?;
    wait_for_text(browser, "[data-field=description]", "豆浆机用了三次就坏了").await?;
    audit_page(browser, "the complaint page").await?;
    fits_a_tablet(browser, "the complaint page").await?;
    unassign(browser, collector, &soy).await?;
    click(browser, "button[data-action=assign-me]").await?;
    wait_for_text(browser, "[data-field=assignee]", "Assigned to").await?;
    let reply = "我们会给您换一台新的。A new one is on its way.";
    type_into(browser, "#reply-body", reply).await?;
    click(browser, "form[data-action=reply] button[type=submit]").await?;
    wait_for_text(browser, "#timeline", reply).await?;
    wait_for_text(browser, "#timeline .event.public", "Visible to the shopper").await?;
    type_into(browser, "#note-body", "Check batch 42 with the supplier.").await?;
    click(browser, "form[data-action=note] button[type=submit]").await?;
    wait_for_text(browser, "#timeline .event.internal", "Check batch 42").await?;
    click(browser, "button[data-action=resolve]").await?;
    wait_for_text(browser, "[data-field=status]", "Resolved").await?;
    wait_for_text(browser, "#announcer", "Marked resolved").await?;

    // The shopper's status page shows the reply, and never the note.
    browser.goto(&status_url).await?;
    let page = browser.page_text().await?;
    ensure!(
        page.contains(reply),
        "the status page lacks the reply: {page}"
    );
    ensure!(
        !page.contains("batch 42"),
        "the status page shows an internal note"
    );
    Ok(())
}

/// Opens the complaint and assigns it to nobody with the assignment form.
async fn unassign(
    browser: &Browser,
    collector: &RunningCollector,
    reference: &str,
) -> anyhow::Result<()> {
    browser
        .goto(&collector.endpoint(&format!("/inbox/c/{reference}")))
        .await?;
    click(browser, "#assign-to option[value=\"\"]").await?;
    click(browser, "form[data-action=assign] button[type=submit]").await?;
    wait_for_text(browser, "[data-field=assignee]", "Unassigned").await
}

/// What a page would do if a payload ran: set a global, or add an element.
const PAYLOAD: &str = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>\
                       <svg onload=\"window.__pwned=3\"></svg>\"'><b id=injected>x</b>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_made_of_payloads_is_shown_as_text_and_runs_nothing() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    add_owner(&collector, "Demo merchant", OWNER)?;
    // The merchant's own category label is a payload too.
    configure_site(&collector, "demo", |config| {
        if let Some(category) = config["categories"]
            .as_array_mut()
            .and_then(|categories| categories.iter_mut().find(|c| c["id"] == "product"))
        {
            category["label"] = json!(format!("Label {PAYLOAD}"));
        }
    })?;
    let browser = Browser::start().await?;
    let result = payloads_stay_text(&collector, &browser).await;
    browser.finish("inbox-xss", &collector, result).await
}

async fn payloads_stay_text(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    let receipt = submit(
        collector,
        &json!({
            "category": "product",
            "description": format!("Description {PAYLOAD}"),
            "remedy": format!("Remedy {PAYLOAD}"),
            "outcomes": ["fix"],
            "language": "en",
            "answers": { "order": format!("Answer {PAYLOAD}") },
            "page_url": format!("https://shop.example/?q={PAYLOAD}"),
            "user_agent": format!("Agent {PAYLOAD}"),
            "contact": {
                "name": format!("Name {PAYLOAD}"),
                "email": "shopper@example.com",
                "consent": true
            }
        }),
    )
    .await?;
    let reference = receipt["reference"]
        .as_str()
        .context("a reference")?
        .to_owned();
    sign_in(browser, collector, OWNER).await?;
    wait_for_list(browser, &[&reference]).await?;
    nothing_ran(browser, "the list").await?;
    let row = browser
        .client()
        .find(Locator::Css(&format!("tr[data-reference=\"{reference}\"]")))
        .await?
        .text()
        .await?;
    ensure!(
        row.contains("<script>window.__pwned=2</script>") && row.contains("Label <img"),
        "the list does not show the payload as text: {row}"
    );

    browser
        .goto(&collector.endpoint(&format!("/inbox/c/{reference}")))
        .await?;
    element(browser, "#complaint").await?;
    nothing_ran(browser, "the complaint page").await?;
    for (field, prefix) in [
        ("description", "Description"),
        ("remedy", "Remedy"),
        ("answer", "Answer"),
        ("page-url", "https://shop.example/?q="),
        ("user-agent", "Agent"),
        ("contact-name", "Name"),
        ("category", "Label"),
    ] {
        let shown = browser
            .client()
            .find(Locator::Css(&format!("[data-field=\"{field}\"]")))
            .await?
            .text()
            .await?;
        let expected = format!(
            "{prefix}{}{PAYLOAD}",
            if prefix.ends_with('=') { "" } else { " " }
        );
        ensure!(
            shown == expected,
            "{field} is not shown as the text sent: {shown:?}"
        );
    }

    // Acting re-renders the page from the server: still nothing runs.
    click(browser, "button[data-action=acknowledge]").await?;
    wait_for_text(browser, "[data-field=status]", "Acknowledged").await?;
    nothing_ran(browser, "the complaint page after an action").await?;
    Ok(())
}

/// No payload ran: no global set, no element injected, no image or SVG
/// element created from the text.
async fn nothing_ran(browser: &Browser, what: &str) -> anyhow::Result<()> {
    let found = browser
        .script(
            "return { pwned: window.__pwned === undefined ? null : window.__pwned, \
                      injected: document.querySelectorAll('#injected, main img, main svg, main script').length };",
            Vec::new(),
        )
        .await?;
    if found["pwned"] != Value::Null || found["injected"] != 0 {
        bail!("a payload ran in {what}: {found}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_invites_an_agent_who_joins_through_the_link() -> anyhow::Result<()> {
    as_owner_in_browser("inbox-invite", OWNER, invite_and_join).await
}

async fn invite_and_join(collector: &RunningCollector, browser: &Browser) -> anyhow::Result<()> {
    sign_in(browser, collector, OWNER).await?;
    click(browser, "nav a[href=\"/inbox/staff\"]").await?;
    type_into(browser, "#invite-email", "agent@demo.example").await?;
    click(browser, "form[data-action=invite] button[type=submit]").await?;
    wait_for_text(browser, "#invite-link", "/inbox/join/").await?;
    audit_page(browser, "the staff page").await?;
    let link = element(browser, "#invite-link").await?.text().await?;

    // The invitee opens the link (signed out) and chooses a name and password.
    click(browser, "button[data-action=sign-out]").await?;
    element(browser, "body[data-page=login]").await?;
    browser.goto(&link).await?;
    type_into(browser, "#display-name", "Ada Agent").await?;
    type_into(browser, "#join-password", heard_e2e::staff::PASSWORD).await?;
    click(browser, "form[data-action=join] button[type=submit]").await?;
    element(browser, "body[data-page=login]").await?;
    sign_in(browser, collector, "agent@demo.example").await?;
    wait_for_text(browser, ".who", "Ada Agent").await?;
    // An agent sees the staff list but cannot invite, and has no audit log.
    browser.goto(&collector.endpoint("/inbox/staff")).await?;
    wait_for_text(browser, "#people", "Ada Agent (you)").await?;
    let controls = browser
        .script(
            "return document.querySelectorAll('form[data-action=invite], a[href=\"/inbox/audit\"]').length;",
            Vec::new(),
        )
        .await?;
    ensure!(controls == 0, "an agent sees owner controls");
    Ok(())
}
