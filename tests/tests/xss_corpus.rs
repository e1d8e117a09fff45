//! Stored XSS, with a corpus: every payload of `tests/xss/payloads.txt`
//! travels in complaints (description, remedy, answers, page address, user
//! agent, contact name) and in the site's category labels, and a real
//! Chromium renders the staff inbox list, each complaint's page and each
//! shopper's status page. Nothing may run or be parsed as markup: no
//! `window.__xss`, no element with id `xss`, no inline event handler, no
//! `javascript:` link — and every field reads, as text, exactly what was sent.
//! Every one of those pages carries a CSP without inline script.
//!
//! The corpus is batched (about two dozen payloads per complaint) so the
//! whole of it is rendered in a few dozen page loads.

use anyhow::{Context, bail, ensure};
use heard_e2e::serial::one_browser_at_a_time;
use heard_e2e::staff::{add_owner, configure_site, element, sign_in, submit};
use heard_e2e::{Browser, RunningCollector, workspace_root};
use serde_json::{Map, Value, json};

const OWNER: &str = "owner@xss.example";

/// Payloads per complaint: the list page shows 25 complaints, and the corpus
/// must fit in one page of it.
const PER_COMPLAINT: usize = 24;

/// Field limits the batches respect (see the README's limits table).
const REMEDY_MAX: usize = 1_000;
const PAGE_URL_MAX: usize = 2_048;
const USER_AGENT_MAX: usize = 512;
const CONTACT_NAME_MAX: usize = 200;
const MAX_ANSWERS: usize = 20;
const IDENTITY_FIELD_MAX: usize = 200;

const PAGE_URL_PREFIX: &str = "https://shop.example/?q=";

/// What a page would show if a payload had run or had been parsed as markup.
const EVIDENCE: &str = r#"
const hits = [];
if (window.__xss !== undefined) hits.push('window.__xss = ' + String(window.__xss));
for (const e of document.querySelectorAll('[id="xss" i]')) hits.push('an element with id xss: ' + e.outerHTML.slice(0, 120));
for (const e of document.querySelectorAll('*')) {
  for (const a of e.attributes) {
    if (a.name.toLowerCase().startsWith('on')) hits.push('an inline handler ' + a.name + ' on <' + e.tagName.toLowerCase() + '>');
  }
}
for (const e of document.querySelectorAll(arguments[0])) {
  hits.push('an injected element: ' + e.outerHTML.slice(0, 120));
}
return hits;
"#;

/// Elements and attributes no page of the collector has, which only injected
/// markup could bring (scripts with a body are looked for separately in
/// pages, which load their own scripts by `src`).
const INJECTED: &str = "[href*='script:' i], [src*='script:' i], [action*='script:' i], \
    [href^='data:' i], [src^='data:' i], [background], [style*='javascript:' i], body style, \
    animate, set, handler, \
    [formaction], [xlink\\:href], [srcdoc], iframe, object, embed, base, meta[http-equiv=refresh i], \
    plaintext, xmp, noembed, frameset, isindex, bgsound, marquee, script:not([src])";

/// The same signs, looked for in a document parsed from unescaped markup
/// (`DOMParser` runs nothing): how many payloads would leave a trace.
const RAW_EVIDENCE: &str = r#"
const payloads = arguments[0];
const undetected = [];
for (const payload of payloads) {
  const doc = new DOMParser().parseFromString('<!DOCTYPE html><body><p>' + payload + '</p>', 'text/html');
  let seen = doc.querySelector('[id="xss" i], ' + arguments[1]) !== null;
  for (const e of doc.querySelectorAll('*')) {
    for (const a of e.attributes) if (a.name.toLowerCase().startsWith('on')) seen = true;
  }
  if (!seen) undetected.push(payload);
}
return undetected;
"#;

/// The corpus, comments and blank lines left out.
fn payloads() -> anyhow::Result<Vec<String>> {
    let path = workspace_root().join("tests/xss/payloads.txt");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let payloads: Vec<String> = text
        .lines()
        .filter(|line| !line.starts_with("# ") && !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    ensure!(
        payloads.len() >= 300,
        "the corpus holds only {} payloads",
        payloads.len()
    );
    Ok(payloads)
}

/// As many of `batch`, starting at `start` and wrapping around, as fit in
/// `max_chars` when joined by spaces after `prefix`.
fn fill(batch: &[String], start: usize, prefix: &str, max_chars: usize) -> String {
    let mut text = prefix.to_owned();
    for offset in 0..batch.len() {
        let payload = &batch[(start + offset) % batch.len()];
        let separator = if text.len() > prefix.len() { " " } else { "" };
        if text.chars().count() + separator.len() + payload.chars().count() > max_chars {
            continue;
        }
        text.push_str(separator);
        text.push_str(payload);
    }
    text
}

/// One complaint carrying `batch` in every text field.
fn complaint(batch: &[String], category: &str) -> Value {
    let answers: Map<String, Value> = batch
        .iter()
        .take(MAX_ANSWERS)
        .enumerate()
        .map(|(index, payload)| (format!("q{index}"), json!(payload)))
        .collect();
    json!({
        "category": category,
        "description": batch.join("\n"),
        "remedy": fill(batch, 0, "", REMEDY_MAX),
        "outcomes": ["fix"],
        "language": "en",
        "answers": answers,
        "page_url": fill(batch, 4, PAGE_URL_PREFIX, PAGE_URL_MAX),
        "user_agent": fill(batch, 8, "", USER_AGENT_MAX),
        "contact": {
            "name": fill(batch, 16, "", CONTACT_NAME_MAX),
            "email": email(batch),
            "consent": true
        },
        "identity": {
            "name": fill(batch, 12, "", IDENTITY_FIELD_MAX),
            "order_number": fill(batch, 20, "", IDENTITY_FIELD_MAX)
        }
    })
}

/// An address the validator accepts (no spaces, something after the last
/// `@`) whose local part is a payload of the batch.
fn email(batch: &[String]) -> String {
    let local = batch
        .iter()
        .find(|payload| !payload.contains(char::is_whitespace) && payload.len() <= 200)
        .map_or("shopper", String::as_str);
    format!("{local}@x.example")
}

/// A complaint as sent, with what the receipt said.
struct Sent {
    reference: String,
    status_url: String,
    body: Value,
    label: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_payload_of_the_corpus_runs_in_the_inbox_or_the_status_page() -> anyhow::Result<()> {
    let _turn = one_browser_at_a_time().await;
    let corpus = payloads()?;
    let collector = RunningCollector::start()?;
    add_owner(&collector, "Demo merchant", OWNER)?;

    // Every category label of the site is a payload too, spread over the corpus.
    let mut labels: Vec<(String, String)> = Vec::new();
    configure_site(&collector, "demo", |config| {
        if let Some(categories) = config["categories"].as_array_mut() {
            for (index, category) in categories.iter_mut().enumerate() {
                let label = format!("Label {}", corpus[(index * 37 + 5) % corpus.len()]);
                category["label"] = json!(label);
                if let Some(id) = category["id"].as_str() {
                    labels.push((id.to_owned(), label));
                }
            }
        }
    })?;
    ensure!(!labels.is_empty(), "the demo site has no categories");

    let mut sent = Vec::new();
    for (index, batch) in corpus.chunks(PER_COMPLAINT).enumerate() {
        let (category, label) = &labels[index % labels.len()];
        let body = complaint(batch, category);
        let receipt = submit(&collector, &body)
            .await
            .with_context(|| format!("sending batch {index}"))?;
        sent.push(Sent {
            reference: receipt["reference"]
                .as_str()
                .context("a reference")?
                .to_owned(),
            status_url: receipt["status_url"]
                .as_str()
                .context("a status link")?
                .to_owned(),
            body,
            label: label.clone(),
        });
    }

    let browser = Browser::start().await?;
    let result = async {
        the_detector_sees_raw_payloads(&browser, &corpus).await?;
        render_everything(&collector, &browser, &sent).await
    }
    .await;
    browser.finish("xss-corpus", &collector, result).await
}

/// Guards the guard: inserted without escaping, nearly every payload leaves
/// a sign [`EVIDENCE`] looks for. The rest are aimed at other contexts
/// (attribute values, template engines, URLs) and stay plain text in HTML.
async fn the_detector_sees_raw_payloads(
    browser: &Browser,
    corpus: &[String],
) -> anyhow::Result<()> {
    browser.goto("about:blank").await?;
    let undetected: Vec<String> = serde_json::from_value(
        browser
            .script(RAW_EVIDENCE, vec![json!(corpus), json!(INJECTED)])
            .await?,
    )?;
    ensure!(
        undetected.len() * 5 < corpus.len(),
        "{} of {} payloads would leave no trace even unescaped, so the check proves little: {undetected:#?}",
        undetected.len(),
        corpus.len()
    );
    Ok(())
}

async fn render_everything(
    collector: &RunningCollector,
    browser: &Browser,
    sent: &[Sent],
) -> anyhow::Result<()> {
    sign_in(browser, collector, OWNER).await?;
    let cookies = session_cookies(browser).await?;

    let list_url = collector.endpoint("/inbox");
    browser.goto(&list_url).await?;
    element(browser, "table#complaints").await?;
    nothing_ran(browser, "the inbox list").await?;
    for complaint in sent {
        let row = browser
            .script(
                "const row = document.querySelector(`tr[data-reference=\"${arguments[0]}\"]`); \
                 return row ? { text: row.textContent, excerpt: row.querySelector('.excerpt')?.textContent ?? null } : null;",
                vec![json!(complaint.reference)],
            )
            .await?;
        ensure!(!row.is_null(), "{} is not in the list", complaint.reference);
        let description = text_of(&complaint.body, "description");
        let excerpt: String = description.chars().take(200).collect();
        ensure!(
            row["excerpt"].as_str().map(str::trim) == Some(excerpt.trim()),
            "the list's excerpt of {} is not the text sent: {}",
            complaint.reference,
            row["excerpt"]
        );
        ensure!(
            row["text"]
                .as_str()
                .is_some_and(|text| text.contains(&complaint.label)),
            "the list does not show the category label {:?} as text",
            complaint.label
        );
    }
    expect_csp(collector, &list_url, Some(&cookies)).await?;

    for complaint in sent {
        let url = collector.endpoint(&format!("/inbox/c/{}", complaint.reference));
        browser.goto(&url).await?;
        element(browser, "#complaint").await?;
        nothing_ran(browser, &format!("the page of {}", complaint.reference)).await?;
        complaint_page_shows_text(browser, complaint).await?;
    }
    expect_csp(
        collector,
        &collector.endpoint(&format!("/inbox/c/{}", sent[0].reference)),
        Some(&cookies),
    )
    .await?;

    for complaint in sent {
        let url = collector.resolve(&complaint.status_url)?.to_string();
        browser.goto(&url).await?;
        element(browser, "[data-heard=description]").await?;
        nothing_ran(
            browser,
            &format!("the status page of {}", complaint.reference),
        )
        .await?;
        let shown = browser
            .script(
                "return { description: document.querySelector('[data-heard=description]').textContent, \
                          sent: document.querySelector('dl.sent')?.textContent ?? '' };",
                Vec::new(),
            )
            .await?;
        ensure!(
            shown["description"].as_str() == Some(text_of(&complaint.body, "description").trim()),
            "the status page of {} does not show the description as text: {}",
            complaint.reference,
            shown["description"]
        );
        let listed = shown["sent"].as_str().unwrap_or_default();
        for wanted in [
            complaint.label.as_str(),
            text_of(&complaint.body, "remedy").trim(),
        ] {
            ensure!(
                listed.contains(wanted),
                "the status page of {} does not show {wanted:?} as text",
                complaint.reference
            );
        }
    }
    expect_csp(
        collector,
        collector.resolve(&sent[0].status_url)?.as_ref(),
        None,
    )
    .await
}

/// Each field of the complaint page holds exactly the text that was sent.
async fn complaint_page_shows_text(browser: &Browser, complaint: &Sent) -> anyhow::Result<()> {
    let shown = browser
        .script(
            "const one = (field) => document.querySelector(`[data-field=\"${field}\"]`)?.textContent ?? null; \
             return { description: one('description'), remedy: one('remedy'), page_url: one('page-url'), \
                      user_agent: one('user-agent'), contact_name: one('contact-name'), category: one('category'), \
                      contact_email: one('contact-email'), identity: one('identity'), \
                      answers: [...document.querySelectorAll('[data-field=answer]')].map((e) => e.textContent) };",
            Vec::new(),
        )
        .await?;
    let body = &complaint.body;
    let expected = [
        ("description", text_of(body, "description")),
        ("remedy", text_of(body, "remedy")),
        ("page_url", text_of(body, "page_url")),
        ("user_agent", text_of(body, "user_agent")),
        (
            "contact_name",
            body["contact"]["name"].as_str().unwrap_or(""),
        ),
        (
            "contact_email",
            body["contact"]["email"].as_str().unwrap_or(""),
        ),
        ("category", complaint.label.as_str()),
    ];
    for (field, wanted) in expected {
        ensure!(
            shown[field].as_str() == Some(wanted.trim()),
            "{field} of {} is not shown as the text sent:\n  sent  {wanted:?}\n  shown {}",
            complaint.reference,
            shown[field]
        );
    }
    let identity = shown["identity"].as_str().unwrap_or_default();
    for field in ["name", "order_number"] {
        // The page shows the identity as its JSON text, strings quoted.
        let sent = serde_json::to_string(body["identity"][field].as_str().unwrap_or_default())?;
        ensure!(
            identity.contains(&sent),
            "the identity of {} does not show its {field} as the text sent:\n  sent  {sent:?}\n  shown {identity:?}",
            complaint.reference
        );
    }
    let mut answers: Vec<String> = serde_json::from_value(shown["answers"].clone())?;
    let mut wanted: Vec<String> = body["answers"]
        .as_object()
        .map(|answers| {
            answers
                .values()
                .filter_map(Value::as_str)
                .map(|text| text.trim().to_owned())
                .collect()
        })
        .unwrap_or_default();
    answers.sort();
    wanted.sort();
    ensure!(
        answers == wanted,
        "the answers of {} are not shown as the text sent: {answers:?}",
        complaint.reference
    );
    Ok(())
}

fn text_of<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field].as_str().unwrap_or("")
}

/// Fails when the page shows any sign of a payload having run or become markup.
async fn nothing_ran(browser: &Browser, what: &str) -> anyhow::Result<()> {
    let hits: Vec<String> =
        serde_json::from_value(browser.script(EVIDENCE, vec![json!(INJECTED)]).await?)?;
    if !hits.is_empty() {
        bail!(
            "a payload ran or became markup in {what}:\n{}",
            hits.join("\n")
        );
    }
    Ok(())
}

/// The browser's cookies for the collector, as a `Cookie` header.
async fn session_cookies(browser: &Browser) -> anyhow::Result<String> {
    let cookies = browser.client().get_all_cookies().await?;
    Ok(cookies
        .iter()
        .map(|cookie| format!("{}={}", cookie.name(), cookie.value()))
        .collect::<Vec<_>>()
        .join("; "))
}

/// The page at `url` answers 200 with a CSP that allows no inline script.
async fn expect_csp(
    collector: &RunningCollector,
    url: &str,
    cookies: Option<&str>,
) -> anyhow::Result<()> {
    let mut request = reqwest::Client::new().get(url);
    if let Some(cookies) = cookies {
        request = request.header("Cookie", cookies);
    }
    let response = request.send().await.with_context(|| format!("GET {url}"))?;
    ensure!(
        response.status().as_u16() == 200,
        "GET {url} answered {}; log:\n{}",
        response.status(),
        collector.log_tail()
    );
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .with_context(|| format!("{url} has no Content-Security-Policy"))?
        .to_owned();
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|directive| directive.starts_with("script-src"))
        .or_else(|| {
            csp.split(';')
                .map(str::trim)
                .find(|directive| directive.starts_with("default-src"))
        })
        .with_context(|| format!("the CSP of {url} does not restrict scripts: {csp}"))?;
    ensure!(
        !script_src.contains("'unsafe-inline'") && !script_src.contains("'unsafe-eval'"),
        "the CSP of {url} allows inline script: {csp}"
    );
    Ok(())
}
