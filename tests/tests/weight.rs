//! Weight budgets on the built files. Shoppers pay for every byte on every
//! shop, so the budgets are tests: sizes are deterministic for a given build,
//! and a change that breaks one fails here, not in a merchant's page speed
//! report. This test only reads; BENCHMARKS.md records the figures.
//!
//! - `www/widget.js`, the loader every page with the widget downloads:
//!   at most 2 KB gzip.
//! - What the first open fetches — the wasm, its JS glue and the CSS from
//!   `HEARD_WIDGET_DIR` (`cargo xtask build-widget`). The target is 150 KB
//!   brotli. The widget meets it, and this test is a ratchet a little above
//!   the current size, never above the target: it stops growth. Lower the
//!   ratchet as the widget slims; never raise it without saying why in
//!   BENCHMARKS.md. It was raised by 3 072 bytes, to the target itself, for
//!   the opt-in "your earlier complaints" list (issue 4), after the build
//!   started minifying the CSS (−1 045 bytes): measured + 1.5 KB would have
//!   been over the target, so the target caps it.
//!
//! The budgets are what the collector itself sends (issue 8): one test asks
//! a running collector for the same files as a browser does and checks the
//! bytes on the wire — the widget's precompressed siblings, the loader
//! compressed as it is sent.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, ensure};
use heard_e2e::{RunningCollector, path_from_env, target_dir, workspace_root};

const LOADER_BUDGET_GZIP: usize = 2 * 1024;
/// The target from the widget issue: see the module comment.
const FIRST_OPEN_TARGET_BROTLI: usize = 150 * 1024;
/// What the first open may weigh today: the target itself. Measured
/// 153 259 bytes with the proof-of-work solver, the honeypot and the fill
/// time (issue 9), which paid for themselves (see BENCHMARKS.md): 341 bytes
/// are left below the target.
const FIRST_OPEN_RATCHET_BROTLI: usize = FIRST_OPEN_TARGET_BROTLI;

/// What the loader fetches when the widget first opens.
const FIRST_OPEN_FILES: &[&str] = &["heard_widget_bg.wasm", "heard_widget.js", "widget.css"];

/// What Chromium sends with every request.
const BROWSER_ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

#[test]
fn the_loader_stays_within_two_kilobytes_gzip() -> anyhow::Result<()> {
    let www = path_from_env("HEARD_WWW_DIR", || workspace_root().join("www"));
    let loader = read(&www.join("widget.js"))?;
    let compressed = gzip(&loader)?;
    ensure!(
        compressed <= LOADER_BUDGET_GZIP,
        "www/widget.js is {compressed} bytes gzip ({} raw), over its {LOADER_BUDGET_GZIP}-byte budget",
        loader.len()
    );
    Ok(())
}

#[test]
fn the_first_open_does_not_grow_past_its_ratchet() -> anyhow::Result<()> {
    let dir = path_from_env("HEARD_WIDGET_DIR", || target_dir().join("widget"));
    let mut total = 0;
    let mut parts = Vec::new();
    for name in FIRST_OPEN_FILES {
        let bytes = read(&dir.join(name))?;
        let compressed = brotli(&bytes)?;
        parts.push(format!(
            "{name}: {compressed} bytes brotli ({} raw)",
            bytes.len()
        ));
        total += compressed;
    }
    ensure!(
        total <= FIRST_OPEN_RATCHET_BROTLI,
        "the first open fetches {total} bytes brotli, over its {FIRST_OPEN_RATCHET_BROTLI}-byte \
         ratchet (target {FIRST_OPEN_TARGET_BROTLI}):\n{}",
        parts.join("\n")
    );
    if total > FIRST_OPEN_TARGET_BROTLI {
        eprintln!(
            "first open: {total} bytes brotli, {} over the {FIRST_OPEN_TARGET_BROTLI}-byte target",
            total - FIRST_OPEN_TARGET_BROTLI
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_sends_what_the_budgets_measure() -> anyhow::Result<()> {
    let www = path_from_env("HEARD_WWW_DIR", || workspace_root().join("www"));
    let dir = path_from_env("HEARD_WIDGET_DIR", || target_dir().join("widget"));
    let collector = RunningCollector::start()?;
    // Built without reqwest's decompression: the bytes read are the bytes sent.
    let http = reqwest::Client::new();

    let loader = read(&www.join("widget.js"))?;
    let (encoding, wire) = fetch(&http, &collector.endpoint("/widget.js"), "gzip").await?;
    ensure!(
        encoding.as_deref() == Some("gzip"),
        "the loader came back {encoding:?} to a client accepting gzip"
    );
    ensure!(
        wire.len() <= LOADER_BUDGET_GZIP,
        "the loader is {} bytes gzip on the wire, over its {LOADER_BUDGET_GZIP}-byte budget",
        wire.len()
    );
    ensure!(
        gunzip(&wire)? == loader,
        "the gzip loader is not www/widget.js"
    );

    let mut total = 0;
    let mut parts = Vec::new();
    for name in FIRST_OPEN_FILES {
        let url = collector.endpoint(&format!("/widget/{name}"));
        let (encoding, wire) = fetch(&http, &url, BROWSER_ACCEPT_ENCODING).await?;
        ensure!(
            encoding.as_deref() == Some("br"),
            "{name} came back {encoding:?} to a browser accepting brotli"
        );
        let sibling = dir.join(format!("{name}.br"));
        let precompressed = read(&sibling)?;
        ensure!(
            wire == precompressed,
            "{name}: the collector compressed it itself instead of sending {}",
            sibling.display()
        );
        ensure!(
            unbrotli(&wire)? == read(&dir.join(name))?,
            "{name}: the brotli sibling is stale; rebuild the widget (cargo xtask build-widget)"
        );
        parts.push(format!("{name}: {} bytes on the wire", wire.len()));
        total += wire.len();
    }
    ensure!(
        total <= FIRST_OPEN_RATCHET_BROTLI,
        "the first open sends {total} bytes, over its {FIRST_OPEN_RATCHET_BROTLI}-byte ratchet:\n{}",
        parts.join("\n")
    );
    Ok(())
}

/// `GET url` with `Accept-Encoding: accept_encoding`: the `Content-Encoding`
/// and the body exactly as sent.
async fn fetch(
    http: &reqwest::Client,
    url: &str,
    accept_encoding: &str,
) -> anyhow::Result<(Option<String>, Vec<u8>)> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT_ENCODING, accept_encoding)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    ensure!(
        response.status() == reqwest::StatusCode::OK,
        "GET {url}: {}",
        response.status()
    );
    let vary = response
        .headers()
        .get(reqwest::header::VARY)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    ensure!(
        vary.contains("accept-encoding"),
        "GET {url}: no Vary: Accept-Encoding"
    );
    let encoding = response
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    Ok((encoding, response.bytes().await?.to_vec()))
}

fn gunzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut plain)?;
    Ok(plain)
}

fn unbrotli(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut plain = Vec::new();
    brotli::Decompressor::new(bytes, 4096).read_to_end(&mut plain)?;
    Ok(plain)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| {
        format!(
            "reading {}; build the widget first (cargo xtask build-widget)",
            path.display()
        )
    })
}

/// Gzip at the highest level, as a server precompressing static files would.
fn gzip(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

/// Brotli at quality 11 with a 4 MB window, what `brotli -q 11` produces.
fn brotli(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut compressed = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut compressed, 4096, 11, 22);
        writer.write_all(bytes)?;
    }
    Ok(compressed.len())
}
