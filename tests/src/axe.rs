//! Accessibility audits with axe-core, run inside the page under test.
//!
//! `cargo xtask test` installs axe-core from npm into `<target>/npm` and says
//! where through `HEARD_AXE_SCRIPT`; the script is injected with WebDriver, so
//! the page's own Content-Security-Policy (if any) does not apply to it.

use std::path::PathBuf;

use anyhow::{Context, bail, ensure};

use crate::browser::{Browser, WIDGET_HOST};
use crate::wait::{self, DEADLINE};
use crate::{path_from_env, target_dir};

/// `HEARD_AXE_SCRIPT`, or where the xtask installs axe-core.
pub fn axe_script() -> PathBuf {
    path_from_env("HEARD_AXE_SCRIPT", || {
        target_dir()
            .join("npm")
            .join("node_modules")
            .join("axe-core")
            .join("axe.min.js")
    })
}

/// Audits the widget as it is on screen now — the shadow host and everything
/// in its shadow root — against WCAG 2.x A and AA (2.2 included) and axe's
/// best practices. Fails listing every violation, with the elements at fault.
pub async fn audit_widget(browser: &Browser, what: &str) -> anyhow::Result<()> {
    settle(browser, what).await?;
    inject(browser).await?;
    let answer = browser
        .client()
        .execute_async(
            r#"const [host, done] = arguments;
               axe.run({ include: [[host]] }, {
                 runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
                 resultTypes: ['violations'],
               }).then(
                 (results) => done(results.violations.map((v) =>
                   `${v.id} (${v.impact}): ${v.help}\n` +
                   v.nodes.map((n) => `    at ${JSON.stringify(n.target)}: ${n.failureSummary}`).join('\n'))),
                 (error) => done(['axe failed to run: ' + error]));"#,
            vec![serde_json::json!(WIDGET_HOST)],
        )
        .await
        .with_context(|| format!("running axe-core on {what}"))?;
    let violations: Vec<String> = serde_json::from_value(answer)
        .with_context(|| format!("reading axe-core's answer for {what}"))?;
    if !violations.is_empty() {
        bail!(
            "axe-core found {} accessibility violation(s) in {what}:\n{}",
            violations.len(),
            violations.join("\n")
        );
    }
    Ok(())
}

/// Waits for the widget's transitions (a dialog fading in) to finish: axe
/// measures colours as they are, and half-faded text fails contrast.
async fn settle(browser: &Browser, what: &str) -> anyhow::Result<()> {
    wait::until(
        &format!("{what} to finish animating"),
        DEADLINE,
        || async {
            let running = browser
                .script(
                    "const root = document.querySelector(arguments[0])?.shadowRoot; \
                     return root ? root.getAnimations().filter((a) => a.playState === 'running').length : 0;",
                    vec![serde_json::json!(WIDGET_HOST)],
                )
                .await?;
            ensure!(running == 0, "{running} animation(s) still running");
            Ok(())
        },
    )
    .await
}

/// Adds axe-core to the page once.
async fn inject(browser: &Browser) -> anyhow::Result<()> {
    let present = browser
        .client()
        .execute("return typeof window.axe === 'object';", Vec::new())
        .await?;
    if present.as_bool() == Some(true) {
        return Ok(());
    }
    let path = axe_script();
    let source = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {}; `cargo xtask test` installs it (npm install --prefix <target>/npm \
             axe-core@4), or set HEARD_AXE_SCRIPT",
            path.display()
        )
    })?;
    browser
        .client()
        .execute(&source, Vec::new())
        .await
        .context("injecting axe-core into the page")?;
    Ok(())
}
