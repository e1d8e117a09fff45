//! What goes over the wire for the static files (issue 8): the widget's
//! precompressed siblings chosen by `Accept-Encoding`, the `www/` files
//! compressed as they are sent, the plain bytes for a client that asks for
//! nothing, and the event stream and the JSON API left alone. Through the
//! whole router, so the layers around the assets are the real ones.

use std::io::{Read, Write};
use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;

use super::test_support::{ACME_OWNER, StaffApp, body_bytes, staff_state, two_owners};
use crate::domain::live::Arrival;
use crate::store::test_support::{TempStore, temp_store};

/// The repository's `www/`: the real loader and inbox files, which are
/// source files (the built widget is never read here).
fn www_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../www")
}

/// A widget directory as `cargo xtask build-widget` leaves it, made here:
/// a wasm and its glue with `.br` and `.gz` siblings, and a catalog with
/// none (as a debug build leaves every file).
struct Harness {
    app: StaffApp,
    state: super::AppState,
    widget: tempfile::TempDir,
    _temp: TempStore,
}

const WASM: &str = "heard_widget_bg.wasm";
const GLUE: &str = "heard_widget.js";
const CATALOG: &str = "i18n/fr.json";

/// Bytes that compress about as a wasm module does: repeated structure with
/// variation, not one byte over and over.
fn wasm_like() -> Vec<u8> {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend((0..120_000u32).map(|i| ((i % 253) ^ (i / 1009) ^ (i % 7 * 31)) as u8));
    bytes
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut compressed = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut compressed, 4096, 11, 22);
        writer.write_all(bytes).unwrap();
    }
    compressed
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut plain)
        .expect("valid brotli");
    plain
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut plain)
        .expect("valid gzip");
    plain
}

async fn harness() -> Harness {
    let temp = temp_store();
    let accounts = two_owners(&temp.store).await;
    let widget = tempfile::tempdir().expect("widget directory");
    let root = widget.path();
    std::fs::create_dir(root.join("i18n")).unwrap();
    let glue = "export function mount(host) { host.append('Heard'); }\n".repeat(40);
    for (name, bytes) in [(WASM, wasm_like()), (GLUE, glue.into_bytes())] {
        std::fs::write(root.join(format!("{name}.br")), brotli(&bytes)).unwrap();
        std::fs::write(root.join(format!("{name}.gz")), gzip(&bytes)).unwrap();
        std::fs::write(root.join(name), bytes).unwrap();
    }
    std::fs::write(
        root.join(CATALOG),
        r#"{"title":"Un problème ?","send":"Envoyer","cancel":"Annuler","close":"Fermer"}"#
            .repeat(4),
    )
    .unwrap();
    let mut state = staff_state(&temp.store, &accounts, "www");
    state.www_dir = www_dir().into();
    state.widget_dir = root.into();
    Harness {
        app: StaffApp::new(state.clone()),
        state,
        widget,
        _temp: temp,
    }
}

impl Harness {
    async fn fetch(&self, uri: &str, accept_encoding: Option<&str>) -> Response {
        let mut request = Request::get(uri);
        if let Some(accepted) = accept_encoding {
            request = request.header(header::ACCEPT_ENCODING, accepted);
        }
        let response = self.app.send(request.body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        response
    }

    fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.widget.path().join(name)).unwrap()
    }
}

fn encoding(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap())
}

fn varies_by_encoding(headers: &HeaderMap) -> bool {
    headers.get_all(header::VARY).iter().any(|value| {
        value
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    })
}

/// The headers every widget file keeps, compressed or not.
fn assert_widget_headers(headers: &HeaderMap, content_type: &str) {
    assert_eq!(headers[header::CONTENT_TYPE], content_type);
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=300");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(headers["cross-origin-resource-policy"], "cross-origin");
    assert!(varies_by_encoding(headers), "{headers:?}");
}

#[tokio::test]
async fn a_browser_accepting_brotli_gets_the_wasms_brotli_sibling() {
    let harness = harness().await;
    let response = harness
        .fetch(&format!("/widget/{WASM}"), Some("gzip, deflate, br, zstd"))
        .await;
    assert_eq!(encoding(response.headers()), Some("br"));
    assert_widget_headers(response.headers(), "application/wasm");
    let etag = response.headers()[header::ETAG]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        etag.starts_with("W/\""),
        "a compressed answer's tag is weak: {etag}"
    );
    let body = body_bytes(response).await;
    // The sibling itself, not a recompression of the plain file.
    assert_eq!(body, harness.file(&format!("{WASM}.br")));
    assert_eq!(unbrotli(&body), harness.file(WASM));
    assert!(body.len() * 2 < harness.file(WASM).len());

    // The weak tag still revalidates: the browser's next check is a 304.
    let response = harness
        .app
        .send(
            Request::get(format!("/widget/{WASM}"))
                .header(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")
                .header(header::IF_NONE_MATCH, &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn a_client_accepting_only_gzip_gets_the_gzip_sibling() {
    let harness = harness().await;
    for name in [WASM, GLUE] {
        let response = harness
            .fetch(&format!("/widget/{name}"), Some("gzip"))
            .await;
        assert_eq!(encoding(response.headers()), Some("gzip"), "{name}");
        assert!(varies_by_encoding(response.headers()), "{name}");
        let body = body_bytes(response).await;
        assert_eq!(body, harness.file(&format!("{name}.gz")), "{name}");
        assert_eq!(gunzip(&body), harness.file(name), "{name}");
    }
}

#[tokio::test]
async fn a_client_asking_for_no_encoding_gets_the_plain_bytes() {
    let harness = harness().await;
    for accepted in [None, Some("identity")] {
        let response = harness.fetch(&format!("/widget/{WASM}"), accepted).await;
        assert_eq!(encoding(response.headers()), None, "{accepted:?}");
        assert_widget_headers(response.headers(), "application/wasm");
        let etag = response.headers()[header::ETAG].to_str().unwrap();
        assert!(
            etag.starts_with('"'),
            "the plain file's tag stays strong: {etag}"
        );
        assert_eq!(
            body_bytes(response).await,
            harness.file(WASM),
            "{accepted:?}"
        );
    }
}

#[tokio::test]
async fn a_widget_file_without_siblings_is_compressed_as_it_is_sent() {
    let harness = harness().await;
    let response = harness
        .fetch(&format!("/widget/{CATALOG}"), Some("br"))
        .await;
    assert_eq!(encoding(response.headers()), Some("br"));
    assert_widget_headers(response.headers(), "application/json");
    let body = body_bytes(response).await;
    assert_eq!(unbrotli(&body), harness.file(CATALOG));
}

#[tokio::test]
async fn the_loader_goes_out_gzip_within_its_two_kilobytes() {
    let harness = harness().await;
    let loader = std::fs::read(www_dir().join("widget.js")).unwrap();
    let response = harness.fetch("/widget.js", Some("gzip")).await;
    let headers = response.headers();
    assert_eq!(encoding(headers), Some("gzip"));
    assert!(varies_by_encoding(headers));
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=300");
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let body = body_bytes(response).await;
    assert!(
        body.len() < 2048,
        "the loader is {} bytes gzip on the wire ({} raw)",
        body.len(),
        loader.len()
    );
    assert_eq!(gunzip(&body), loader);

    // And brotli for the browsers that take it; plain for those that do not.
    let response = harness.fetch("/widget.js", Some("br")).await;
    assert_eq!(encoding(response.headers()), Some("br"));
    assert_eq!(unbrotli(&body_bytes(response).await), loader);
    let response = harness.fetch("/widget.js", None).await;
    assert_eq!(encoding(response.headers()), None);
    assert!(varies_by_encoding(response.headers()));
    assert_eq!(body_bytes(response).await, loader);
}

#[tokio::test]
async fn the_pages_assets_are_compressed_as_they_are_sent() {
    let harness = harness().await;
    for (uri, file) in [
        ("/inbox/assets/inbox.js", "inbox/inbox.js"),
        ("/inbox/assets/inbox.css", "inbox/inbox.css"),
        ("/assets/receipt.css", "assets/receipt.css"),
    ] {
        let plain = std::fs::read(www_dir().join(file)).unwrap();
        let response = harness.fetch(uri, Some("gzip, br")).await;
        assert_eq!(encoding(response.headers()), Some("br"), "{uri}");
        assert!(varies_by_encoding(response.headers()), "{uri}");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=300",
            "{uri}"
        );
        let body = body_bytes(response).await;
        assert!(body.len() < plain.len() / 2, "{uri}: {} bytes", body.len());
        assert_eq!(unbrotli(&body), plain, "{uri}");
    }
}

#[tokio::test]
async fn the_event_stream_and_the_json_api_are_not_compressed() {
    let harness = harness().await;
    let acme = harness.app.sign_in(ACME_OWNER).await;
    let merchant_id = harness.app.user(ACME_OWNER).await.merchant_id;

    let response = harness
        .app
        .send(
            Request::get("/api/v1/auth/me")
                .header(header::COOKIE, &acme.cookie)
                .header(header::ACCEPT_ENCODING, "gzip, br")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(encoding(response.headers()), None);
    let me: serde_json::Value = serde_json::from_slice(&body_bytes(response).await).unwrap();
    assert_eq!(me["user"]["email"], ACME_OWNER, "{me}");

    let stream = harness
        .app
        .send(
            Request::get("/api/v1/inbox/events")
                .header(header::COOKIE, &acme.cookie)
                .header(header::ACCEPT_ENCODING, "gzip, br")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()[header::CONTENT_TYPE], "text/event-stream");
    assert_eq!(encoding(stream.headers()), None);
    // An event arrives as readable text at once: nothing holds it back to
    // fill a compressor's block.
    harness.state.live.publish(Arrival {
        merchant_id,
        reference: "HRD-7K3Q-9M2X".to_owned(),
    });
    let mut body = stream.into_body();
    let event = loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(20), body.frame())
            .await
            .expect("an event within the deadline")
            .expect("the stream ended")
            .expect("the stream failed");
        if let Ok(data) = frame.into_data() {
            let text = String::from_utf8(data.to_vec()).expect("plain text");
            if text.contains("data:") {
                break text;
            }
        }
    };
    assert!(event.contains("event: complaint"), "{event}");
    assert!(event.contains("HRD-7K3Q-9M2X"), "{event}");
}
