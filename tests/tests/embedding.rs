//! The widget is a good guest on the merchant's page: the page's CSS cannot
//! reach it and its CSS cannot reach the page; it can live inside an element
//! the merchant names; the page can drive it before it has even loaded; and
//! until the shopper reaches for it, it fetches and stores nothing.

use anyhow::{Context, ensure};
use heard_e2e::browser::WIDGET_HOST;
use heard_e2e::serial::one_browser_at_a_time;
use heard_e2e::shopper::{describe_and_send, receipt_reference};
use heard_e2e::wait::{self, DEADLINE};
use heard_e2e::{Browser, RunningCollector};
use serde_json::{Value, json};

/// The computed properties compared between the plain and the hostile page.
const COMPARED: &[&str] = &[
    "background-color",
    "color",
    "font-family",
    "font-size",
    "font-weight",
    "letter-spacing",
    "line-height",
    "text-transform",
    "text-align",
    "padding-top",
    "padding-left",
    "margin-top",
    "border-top-width",
    "border-top-style",
    "border-top-color",
    "border-radius",
    "box-sizing",
    "width",
    "height",
];

/// `COMPARED` of the first match of a selector, inside the widget's shadow
/// root or (with `inside_widget` false) in the page.
const COMPUTED: &str = r#"
const [host, selector, properties, insideWidget] = arguments;
const scope = insideWidget ? document.querySelector(host)?.shadowRoot : document;
const element = scope?.querySelector(selector);
if (!element) return null;
const style = getComputedStyle(element);
return Object.fromEntries(properties.map((name) => [name, style.getPropertyValue(name)]));
"#;

async fn computed(browser: &Browser, selector: &str, inside_widget: bool) -> anyhow::Result<Value> {
    let style = browser
        .script(
            COMPUTED,
            vec![
                json!(WIDGET_HOST),
                json!(selector),
                json!(COMPARED),
                json!(inside_widget),
            ],
        )
        .await?;
    ensure!(!style.is_null(), "nothing matches `{selector}`");
    Ok(style)
}

/// The widget's look on one page: the launcher closed, then the open dialog
/// and a category button. Also returns how the page's own `page_selector`
/// looked before and after the widget opened.
async fn widget_look(browser: &Browser, url: &str, page_selector: &str) -> anyhow::Result<Look> {
    browser.goto(url).await?;
    browser
        .widget_element(r#"button[data-heard="launcher"]"#)
        .await?;
    let page_before = computed(browser, page_selector, false).await?;
    let host = computed(browser, "[data-heard-host]", false).await?;
    let launcher = computed(browser, r#"[data-heard="launcher"]"#, true).await?;
    browser
        .click_in_widget(r#"button[data-heard="launcher"]"#)
        .await?;
    let category = r#"button[data-heard="category"][data-category="product"]"#;
    browser.widget_element(category).await?;
    let dialog = computed(browser, r#"[data-heard="dialog"]"#, true).await?;
    let category = computed(browser, category, true).await?;
    let page_after = computed(browser, page_selector, false).await?;
    Ok(Look {
        host,
        launcher,
        dialog,
        category,
        page_before,
        page_after,
    })
}

struct Look {
    host: Value,
    launcher: Value,
    dialog: Value,
    category: Value,
    page_before: Value,
    page_after: Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_page_css_does_not_reach_the_widget_and_the_widget_leaves_the_page_alone()
-> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = async {
        let shop = collector.demo_shop_url();
        let plain = widget_look(&browser, &format!("{shop}/"), "button.buy").await?;
        let hostile =
            widget_look(&browser, &format!("{shop}/hostile.html"), "#page-marker").await?;

        for (part, on_plain, on_hostile) in [
            ("launcher", &plain.launcher, &hostile.launcher),
            ("dialog", &plain.dialog, &hostile.dialog),
            ("category button", &plain.category, &hostile.category),
        ] {
            ensure!(
                on_plain == on_hostile,
                "the hostile page changed the widget's {part}:\n plain:   {on_plain}\n hostile: {on_hostile}"
            );
        }
        // The host element itself is a `div`, and the page's `div` rules are
        // `!important`: the host must still have no border and no background.
        ensure!(
            hostile.host["border-top-style"] == "none"
                && hostile.host["background-color"] == "rgba(0, 0, 0, 0)",
            "the page's div rules styled the widget's host: {}",
            hostile.host
        );
        ensure!(
            plain.page_before == plain.page_after,
            "opening the widget restyled the demo shop's button:\n before: {}\n after:  {}",
            plain.page_before,
            plain.page_after
        );
        ensure!(
            hostile.page_before == hostile.page_after,
            "opening the widget restyled the hostile page's paragraph:\n before: {}\n after:  {}",
            hostile.page_before,
            hostile.page_after
        );
        ensure!(
            hostile.page_before["color"] == "rgb(12, 34, 56)",
            "the page's own rule should still style its paragraph: {}",
            hostile.page_before
        );
        Ok(())
    }
    .await;
    browser
        .finish("embedding-hostile", &collector, result)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_mode_renders_the_form_inside_the_named_element() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = async {
        browser
            .goto(&format!("{}/inline.html", collector.demo_shop_url()))
            .await?;
        // No click: inline, the form is part of the page.
        browser
            .widget_element(r#"button[data-heard="category"][data-category="product"]"#)
            .await?;
        let placement = browser
            .script(
                r#"const host = document.querySelector(arguments[0]);
                   const root = host.shadowRoot;
                   const form = root.querySelector('[data-heard="dialog"]').getBoundingClientRect();
                   const after = document.querySelector('#after-form').getBoundingClientRect();
                   return {
                     parent: host.parentElement.id,
                     launcher: !!root.querySelector('[data-heard="launcher"]'),
                     close: !!root.querySelector('[data-heard="close"]'),
                     position: getComputedStyle(root.querySelector('[data-heard="dialog"]')).position,
                     formAboveNextParagraph: form.bottom <= after.top + 1 && form.height > 0,
                   };"#,
                vec![json!(WIDGET_HOST)],
            )
            .await?;
        ensure!(
            placement["parent"] == "complain-here",
            "the widget's host is not inside #complain-here: {placement}"
        );
        ensure!(
            placement["launcher"] == false && placement["close"] == false,
            "inline mode draws no launcher and no close button: {placement}"
        );
        ensure!(
            placement["position"] != "fixed" && placement["formAboveNextParagraph"] == true,
            "the inline form should sit in the page's flow, before the next paragraph: {placement}"
        );

        browser
            .click_in_widget(r#"button[data-heard="category"][data-category="product"]"#)
            .await?;
        let description = format!("Inline form: the kettle whistles off-key ({})", std::process::id());
        describe_and_send(&browser, &description).await?;
        let reference = receipt_reference(&browser).await?;
        let stored = collector.stored_description(&reference)?;
        ensure!(stored.as_deref() == Some(description.as_str()), "stored {stored:?} for {reference}");
        Ok(())
    }
    .await;
    browser.finish("embedding-inline", &collector, result).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_queued_before_the_loader_arrives_are_honoured() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = async {
        browser
            .goto(&format!("{}/queue.html", collector.demo_shop_url()))
            .await?;
        // The page called Heard('open', {category: 'delivery'}) before the
        // loader existed: the dialog opens by itself, past the category list,
        // with the order number the page prefilled.
        browser.widget_element(r#"[data-heard="dialog"]"#).await?;
        let order_number = browser
            .widget_element(r#"[data-heard="question"][data-question="order_number"]"#)
            .await?;
        wait::until("the prefilled order number", DEADLINE, || async {
            let value = order_number.prop("value").await?.unwrap_or_default();
            ensure!(value == "A-10023", "the order number reads {value:?}");
            Ok(())
        })
        .await?;
        let categories_shown = browser
            .script(
                r#"return !!document.querySelector(arguments[0]).shadowRoot
                     .querySelector('[data-heard="category"]');"#,
                vec![json!(WIDGET_HOST)],
            )
            .await?;
        ensure!(
            categories_shown == false,
            "Heard('open', {{category}}) should skip the category list"
        );

        // The launcher took the page's data- attributes.
        let launcher = browser
            .script(
                r#"const button = document.querySelector(arguments[0]).shadowRoot
                     .querySelector('[data-heard="launcher"]');
                   const box = button.getBoundingClientRect();
                   return { label: button.textContent, background: getComputedStyle(button).backgroundColor,
                            left: box.left < window.innerWidth / 2 };"#,
                vec![json!(WIDGET_HOST)],
            )
            .await?;
        ensure!(
            launcher["label"] == "Problem with this order?"
                && launcher["background"] == "rgb(91, 42, 134)"
                && launcher["left"] == true,
            "the launcher ignores data-label, data-color or data-position: {launcher}"
        );

        let description = format!("Queued open: the parcel never came ({})", std::process::id());
        describe_and_send(&browser, &description).await?;
        let reference = receipt_reference(&browser).await?;
        // The listener registered through the stub heard about it, and so did window.
        let seen = wait::until("the page's submitted listener to run", DEADLINE, || async {
            let seen = browser.script("return window.heardSeen;", Vec::new()).await?;
            ensure!(seen.as_array().is_some_and(|seen| !seen.is_empty()), "seen: {seen}");
            Ok(seen)
        })
        .await?;
        ensure!(
            seen == json!([reference]),
            "Heard('on', 'submitted') got {seen}, the receipt shows {reference}"
        );
        let category: String = collector.open_database()?.query_row(
            "SELECT category FROM complaints WHERE description = ?1",
            [&description],
            |row| row.get(0),
        )?;
        ensure!(category == "delivery", "stored under {category:?}");
        Ok(())
    }
    .await;
    browser.finish("embedding-queue", &collector, result).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_fetched_or_stored_before_the_shopper_reaches_for_the_widget()
-> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = async {
        browser
            .goto(&format!("{}/", collector.demo_shop_url()))
            .await?;
        browser
            .widget_element(r#"button[data-heard="launcher"]"#)
            .await?;
        let collector_origin = collector.url().to_owned();
        let traces = r#"
            const origin = arguments[0];
            return {
              fetched: performance.getEntriesByType('resource')
                .map((entry) => entry.name)
                .filter((name) => name.startsWith(origin)),
              cookie: document.cookie,
              stored: Object.keys(localStorage).concat(Object.keys(sessionStorage))
                .filter((key) => key.toLowerCase().includes('heard')),
            };"#;
        let before = browser
            .script(traces, vec![json!(collector_origin)])
            .await?;
        ensure!(
            before["fetched"] == json!([format!("{collector_origin}/widget.js")]),
            "before any interaction only the loader may be fetched: {before}"
        );
        ensure!(
            before["cookie"] == "" && before["stored"] == json!([]),
            "before any interaction nothing may be stored: {before}"
        );

        // Reaching for the launcher loads the widget — and still stores nothing.
        browser
            .click_in_widget(r#"button[data-heard="launcher"]"#)
            .await?;
        browser
            .widget_element(r#"button[data-heard="category"]"#)
            .await?;
        let after = browser
            .script(traces, vec![json!(collector_origin)])
            .await?;
        let fetched = after["fetched"]
            .as_array()
            .context("resource entries")?
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>();
        ensure!(
            fetched.iter().any(|name| name.ends_with(".wasm")),
            "opening should load the wasm: {after}"
        );
        ensure!(
            after["cookie"] == "" && after["stored"] == json!([]),
            "opening the widget must not store anything: {after}"
        );
        Ok(())
    }
    .await;
    browser
        .finish("embedding-untouched", &collector, result)
        .await
}
