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

use std::io::Write;
use std::path::Path;

use anyhow::{Context, ensure};
use heard_e2e::{path_from_env, target_dir, workspace_root};

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
