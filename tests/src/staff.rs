//! The staff side: accounts made with the real `collector` command line,
//! signing in to the inbox in the browser, complaints sent through the
//! public API while the inbox is open, and axe-core audits of whole pages.

use std::process::Command;

use anyhow::{Context, bail, ensure};
use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use serde_json::Value;

use crate::axe::axe_script;
use crate::browser::Browser;
use crate::collector::{RunningCollector, collector_binary};
use crate::wait::{self, DEADLINE};

/// The password every test owner gets.
pub const PASSWORD: &str = "a long test password, never reused";

/// Runs `collector …args` against the running collector's database.
fn collector_command(collector: &RunningCollector, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(collector_binary())
        .args(args)
        .env("HEARD_DATABASE", collector.database_path())
        .env("HEARD_NEW_PASSWORD", PASSWORD)
        .output()
        .with_context(|| format!("running collector {args:?}"))?;
    if !output.status.success() {
        bail!(
            "collector {args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Creates an owner of `merchant` with [`PASSWORD`], as an operator would:
/// `collector user add --owner`.
pub fn add_owner(collector: &RunningCollector, merchant: &str, email: &str) -> anyhow::Result<()> {
    collector_command(
        collector,
        &[
            "user",
            "add",
            "--owner",
            "--merchant",
            merchant,
            "--email",
            email,
        ],
    )?;
    Ok(())
}

/// Changes a site's configuration with `site show` and `site configure`.
pub fn configure_site(
    collector: &RunningCollector,
    key: &str,
    edit: impl FnOnce(&mut Value),
) -> anyhow::Result<()> {
    let shown = collector_command(collector, &["site", "show", "--key", key])?;
    let mut config: Value = serde_json::from_str(&shown).context("reading `site show`")?;
    edit(&mut config);
    let file = tempfile::Builder::new()
        .suffix(".json")
        .tempfile()
        .context("a temporary file for the site configuration")?;
    std::fs::write(file.path(), config.to_string())?;
    let path = file.path().to_string_lossy().into_owned();
    collector_command(
        collector,
        &["site", "configure", "--key", key, "--file", &path],
    )?;
    Ok(())
}

/// Opens the inbox, which sends a stranger to the sign-in form, signs in
/// there and waits for the list.
pub async fn sign_in(
    browser: &Browser,
    collector: &RunningCollector,
    email: &str,
) -> anyhow::Result<()> {
    browser.goto(&collector.endpoint("/inbox")).await?;
    let url = browser.client().current_url().await?;
    if !url.path().starts_with("/inbox/login") {
        bail!("the inbox did not send a stranger to the sign-in page but to {url}");
    }
    let client = browser.client();
    client
        .find(Locator::Css("#email"))
        .await?
        .send_keys(email)
        .await?;
    client
        .find(Locator::Css("#password"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    client
        .find(Locator::Css("form button[type=submit]"))
        .await?
        .click()
        .await?;
    element(browser, "table#complaints").await?;
    Ok(())
}

/// Waits until `selector` matches in the page.
pub async fn element(
    browser: &Browser,
    selector: &str,
) -> anyhow::Result<fantoccini::elements::Element> {
    wait::until(&format!("`{selector}` in the page"), DEADLINE, || async {
        Ok(browser.client().find(Locator::Css(selector)).await?)
    })
    .await
}

/// Sends a complaint to the demo site through the public API, from the demo
/// shop's origin, as the widget would (with a solved challenge); answers
/// the receipt.
pub async fn submit(collector: &RunningCollector, complaint: &Value) -> anyhow::Result<Value> {
    let http = reqwest::Client::new();
    let url = collector.endpoint("/api/v1/sites/demo/complaints");
    let proof = crate::proof::for_complaints(&http, &url).await?;
    let response = http
        .post(url)
        .header("Origin", collector.demo_shop_url())
        .header(crate::proof::HEADER, proof)
        .json(complaint)
        .send()
        .await
        .context("sending a complaint")?;
    let status = response.status();
    let body: Value = response.json().await.context("reading the receipt")?;
    if status.as_u16() != 201 {
        bail!("the complaint was refused with {status}: {body}");
    }
    Ok(body)
}

/// Audits the whole page with axe-core (WCAG 2.x A/AA and best practices);
/// fails listing every violation.
pub async fn audit_page(browser: &Browser, what: &str) -> anyhow::Result<()> {
    let present = browser
        .script("return typeof window.axe === 'object';", Vec::new())
        .await?;
    if present.as_bool() != Some(true) {
        let path = axe_script();
        let source = std::fs::read_to_string(&path).with_context(|| {
            format!("reading {}; `cargo xtask test` installs it", path.display())
        })?;
        browser.script(&source, Vec::new()).await?;
    }
    let answer = browser
        .client()
        .execute_async(
            r#"const done = arguments[0];
               axe.run(document, {
                 runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
                 resultTypes: ['violations'],
               }).then(
                 (results) => done(results.violations.map((v) =>
                   `${v.id} (${v.impact}): ${v.help}\n` +
                   v.nodes.map((n) => `    at ${JSON.stringify(n.target)}: ${n.failureSummary}`).join('\n'))),
                 (error) => done(['axe failed to run: ' + error]));"#,
            Vec::new(),
        )
        .await
        .with_context(|| format!("running axe-core on {what}"))?;
    let violations: Vec<String> = serde_json::from_value(answer)?;
    if !violations.is_empty() {
        bail!(
            "axe-core found {} accessibility violation(s) in {what}:\n{}",
            violations.len(),
            violations.join("\n")
        );
    }
    Ok(())
}

/// A real key press through WebDriver, sent to whatever has focus.
pub async fn press(browser: &Browser, key: char) -> anyhow::Result<()> {
    let keys = KeyActions::new("keyboard".to_owned())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    browser
        .client()
        .perform_actions(keys)
        .await
        .with_context(|| format!("pressing {key:?}"))
}

/// Clicks the element `selector` matches, once it is there.
///
/// A click that makes the page replace the element (the inbox swaps in
/// what it re-read) can race chromedriver's own bookkeeping after the click
/// and come back as "stale element"; the click was dispatched by then. If
/// it was not, the caller's next wait for the click's effect fails.
pub async fn click(browser: &Browser, selector: &str) -> anyhow::Result<()> {
    match element(browser, selector).await?.click().await {
        Ok(_) => Ok(()),
        Err(error) if error.to_string().contains("stale element") => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Replaces the text of the field `selector` matches.
pub async fn type_into(browser: &Browser, selector: &str, text: &str) -> anyhow::Result<()> {
    let field = element(browser, selector).await?;
    field.clear().await?;
    field.send_keys(text).await?;
    Ok(())
}

/// Waits until the text of `selector` contains `wanted`.
pub async fn wait_for_text(browser: &Browser, selector: &str, wanted: &str) -> anyhow::Result<()> {
    wait::until(
        &format!("`{selector}` to read {wanted:?}"),
        DEADLINE,
        || async {
            let text = browser
                .client()
                .find(Locator::Css(selector))
                .await?
                .text()
                .await?;
            ensure!(text.contains(wanted), "it reads {text:?}");
            Ok(())
        },
    )
    .await
}

/// Waits until the inbox list shows exactly `expected`, in any order.
pub async fn wait_for_list<S: AsRef<str>>(browser: &Browser, expected: &[S]) -> anyhow::Result<()> {
    let mut expected: Vec<String> = expected
        .iter()
        .map(|text| text.as_ref().to_owned())
        .collect();
    expected.sort();
    wait::until(
        &format!("the list to show {expected:?}"),
        DEADLINE,
        || async {
            let mut shown = listed(browser).await?;
            shown.sort();
            ensure!(shown == expected, "it shows {shown:?}");
            Ok(())
        },
    )
    .await
}

/// Runs a browser `scenario` against a fresh collector whose merchant
/// "Demo merchant" has the owner `owner`, one browser at a time; the
/// evidence of a failure is saved under `name`.
pub async fn as_owner_in_browser(
    name: &str,
    owner: &str,
    scenario: impl AsyncFnOnce(&RunningCollector, &Browser) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let _turn = crate::serial::one_browser_at_a_time().await;
    let collector = RunningCollector::start()?;
    add_owner(&collector, "Demo merchant", owner)?;
    let browser = Browser::start().await?;
    let result = scenario(&collector, &browser).await;
    browser.finish(name, &collector, result).await
}

/// Signs `email` in on the JSON API as a browser does; the session cookie
/// and the CSRF token.
pub async fn api_sign_in(
    http: &reqwest::Client,
    collector: &RunningCollector,
    email: &str,
    password: &str,
) -> anyhow::Result<(String, String)> {
    let response = http
        .post(collector.endpoint("/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .context("signing in")?;
    ensure!(
        response.status().as_u16() == 200,
        "sign-in answered {}",
        response.status()
    );
    let cookie = response
        .headers()
        .get("set-cookie")
        .context("no session cookie")?
        .to_str()?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let session: Value = response.json().await?;
    let csrf = session["csrf_token"]
        .as_str()
        .context("no CSRF token")?
        .to_owned();
    Ok((cookie, csrf))
}

/// The references in the inbox list, top to bottom.
pub async fn listed(browser: &Browser) -> anyhow::Result<Vec<String>> {
    let references = browser
        .script(
            "return [...document.querySelectorAll('#rows tr[data-reference]')].map((row) => row.dataset.reference);",
            Vec::new(),
        )
        .await?;
    Ok(serde_json::from_value(references)?)
}
