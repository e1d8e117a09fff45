//! A shopper attaches photos to a complaint in a real Chromium: the browser
//! shrinks them, uploads them across origins, shows previews, lets one be
//! removed, and the stored complaint holds exactly the photos that remained.

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use heard_e2e::browser::WIDGET_HOST;
use heard_e2e::wait::{self, DEADLINE};
use heard_e2e::{Browser, RunningCollector, shopper};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_attaches_photos_removes_one_and_the_complaint_keeps_the_rest()
-> anyhow::Result<()> {
    let files = tempfile::Builder::new()
        .prefix("heard-e2e-photos-")
        .tempdir()?;
    let collector = RunningCollector::start()?;
    let browser = Browser::start().await?;
    let result = photo_flow(&collector, &browser, files.path()).await;
    if result.is_err() {
        match browser.save_evidence("photos").await {
            Ok(path) => eprintln!("screenshot of the failure: {}", path.display()),
            Err(error) => eprintln!("could not save a screenshot: {error:#}"),
        }
    }
    let closed = browser.close().await;
    result.with_context(|| format!("collector log:\n{}", collector.log_tail()))?;
    closed
}

async fn photo_flow(
    collector: &RunningCollector,
    browser: &Browser,
    files: &Path,
) -> anyhow::Result<()> {
    // A wide photo larger than the widget's 1600-pixel limit, a small one, and
    // a text file dressed up as a photo.
    let wide = write_file(files, "wide-shelf.png", &png(2000, 1000))?;
    let small = write_file(files, "small-label.png", &png(300, 200))?;
    let fake = write_file(
        files,
        "not-really.jpg",
        b"this is a shopping list, not a photo",
    )?;

    browser
        .goto(&format!("{}/", collector.demo_shop_url()))
        .await?;
    browser
        .click_in_widget(r#"button[data-heard="launcher"]"#)
        .await?;
    browser
        .click_in_widget(r#"button[data-heard="category"][data-category="product"]"#)
        .await?;
    walk_to_the_photos(browser).await?;

    // chromedriver uploads every newline-separated path through one real
    // `<input type=file multiple>`.
    let input = browser
        .widget_element(r#"input[data-heard="photo-input"]"#)
        .await?;
    let paths = [&wide, &small, &fake]
        .map(|path| path.display().to_string())
        .join("\n");
    input
        .send_keys(&paths)
        .await
        .context("choosing the files")?;

    wait::until(
        "two photos uploaded and the fake one refused",
        DEADLINE,
        || async {
            let states = photo_states(browser).await?;
            ensure!(
                states
                    == [
                        ("wide-shelf.png".to_owned(), "uploaded".to_owned()),
                        ("small-label.png".to_owned(), "uploaded".to_owned()),
                        ("not-really.jpg".to_owned(), "failed".to_owned()),
                    ],
                "the photo list reads {states:?}"
            );
            Ok(())
        },
    )
    .await?;
    let refusal = browser
        .widget_element(r#"[data-heard="photo"][data-state="failed"]"#)
        .await?
        .text()
        .await?;
    ensure!(
        refusal.contains("This file is not a photo we can read"),
        "the refused file says why: {refusal:?}"
    );
    let preview = browser
        .widget_element(r#"[data-heard="photo"][data-state="uploaded"] img"#)
        .await?
        .attr("src")
        .await?
        .unwrap_or_default();
    ensure!(
        preview.starts_with("blob:"),
        "the preview shows the shrunk photo from memory, not {preview:?}"
    );

    browser
        .click_in_widget(
            r#"button[data-heard="photo-remove"][aria-label="Remove photo small-label.png"]"#,
        )
        .await?;
    // The removed row took the focused button with it; focus goes on from
    // the "Add photos" control rather than falling out of the dialog.
    wait::until("focus to move to the photo input", DEADLINE, || async {
        let focused = browser
            .client()
            .execute(
                "const active = document.querySelector(arguments[0]).shadowRoot.activeElement; \
                 return active ? active.getAttribute('data-heard') : null;",
                vec![serde_json::json!(WIDGET_HOST)],
            )
            .await?;
        ensure!(
            focused == serde_json::json!("photo-input"),
            "focus is on {focused}"
        );
        Ok(())
    })
    .await?;
    browser
        .click_in_widget(
            r#"button[data-heard="photo-remove"][aria-label="Remove photo not-really.jpg"]"#,
        )
        .await?;
    wait::until("only the wide photo to remain", DEADLINE, || async {
        let states = photo_states(browser).await?;
        ensure!(
            states == [("wide-shelf.png".to_owned(), "uploaded".to_owned())],
            "the photo list reads {states:?}"
        );
        Ok(())
    })
    .await?;

    shopper::describe_and_send(
        browser,
        "The shelf arrived with a cracked corner, see the photo.",
    )
    .await?;
    let reference = browser
        .widget_element(r#"[data-heard="reference"]"#)
        .await?
        .text()
        .await?
        .trim()
        .to_owned();

    let database = collector.open_database()?;
    let attached: i64 = database.query_row(
        "SELECT count(*) FROM attachments \
         WHERE complaint_id = (SELECT id FROM complaints WHERE reference = ?1)",
        [&reference],
        |row| row.get(0),
    )?;
    assert_eq!(
        attached, 1,
        "complaint {reference} holds exactly the photo that was not removed"
    );
    let size: (i64, i64) = database.query_row(
        "SELECT width, height FROM attachments \
         WHERE complaint_id = (SELECT id FROM complaints WHERE reference = ?1)",
        [&reference],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    assert_eq!(
        size,
        (1600, 800),
        "the 2000 × 1000 photo was shrunk to 1600 pixels on its long side, keeping its shape"
    );
    Ok(())
}

/// Presses "Next" through the product flow's optional questions until the
/// step with the photo input shows; the questions before it may change.
async fn walk_to_the_photos(browser: &Browser) -> anyhow::Result<()> {
    wait::until("the step with the photo input", DEADLINE, || async {
        let state = shopper::screen(browser).await?;
        let screen = state["screen"].as_str().unwrap_or_default();
        if screen.contains("photo-input:") {
            return Ok(());
        }
        if state["next"] == serde_json::Value::Bool(true) {
            browser
                .click_in_widget(r#"button[data-heard="next"]"#)
                .await?;
        }
        anyhow::bail!("the form shows {screen}")
    })
    .await
}

/// Each listed photo's file name and `data-state`, in the order shown.
async fn photo_states(browser: &Browser) -> anyhow::Result<Vec<(String, String)>> {
    let listed = browser
        .client()
        .execute(
            "const root = document.querySelector(arguments[0]).shadowRoot; \
             return [...root.querySelectorAll('[data-heard=\"photo\"]')].map(item => \
               [item.querySelector('.heard-photo-name').textContent, item.dataset.state]);",
            vec![serde_json::json!(WIDGET_HOST)],
        )
        .await?;
    Ok(serde_json::from_value(listed)?)
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A valid RGB PNG of a diagonal gradient. Written by hand, with "stored"
/// (uncompressed) deflate blocks, so the test needs no image library.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::with_capacity((height * (1 + 3 * width)) as usize);
    for y in 0..height {
        raw.push(0); // filter type: none
        for x in 0..width {
            raw.extend_from_slice(&[(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]);
        }
    }

    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of uncompressed deflate blocks (at most 65 535 bytes each).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (index, block) in blocks.iter().enumerate() {
        let last = u8::from(index + 1 == blocks.len());
        let length = block.len() as u16;
        out.push(last);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1_u32, 0_u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

#[test]
fn the_hand_written_png_pieces_match_their_standards() {
    // The CRC every PNG's IEND chunk carries, and the Adler-32 of "Wikipedia"
    // from the zlib specification's usual example.
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
}
