//! The only module that talks HTTP: the collector endpoints the widget
//! uses, through the browser's `fetch`.
//!
//! Requests carry no cookies (`credentials: "omit"`): the widget is anonymous
//! and must not ride on anything the shopper's browser holds for the collector.

use crate::site_config::{parse_site_config, whole};
use heard_shared::proof::{ALGORITHM, Challenge, PROOF_HEADER};
use heard_shared::{
    API_VERSION, ErrorBody, FieldError, IDEMPOTENCY_KEY_HEADER, Outcome, Receipt, ReceiptSummary,
    SiteConfig, Status,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestCredentials, RequestInit, RequestMode, Response};

/// How long the widget waits for the collector before telling the shopper
/// their complaint was not sent.
const TIMEOUT_MILLISECONDS: u32 = 20_000;

/// Why a call did not give the expected answer, sorted by what the widget
/// should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No HTTP answer at all: offline, blocked, or no answer within the
    /// timeout. Nothing is known to be stored; keep it and retry.
    NotSent,
    /// The collector (or a proxy in front of it) is overloaded or failing:
    /// `429`, `503` or another `5xx`. Nothing was stored; retry after
    /// `retry_after_ms` when the answer said (`Retry-After`), else back off.
    Busy { retry_after_ms: Option<u32> },
    /// The collector refused the request with its error shape (`4xx`):
    /// retrying the same request will not help.
    Refused(ErrorBody),
    /// Some other answer, e.g. a proxy's HTML error page with a `4xx`.
    Unexpected(u16),
    /// The collector wants a proof of work and kept refusing the ones sent
    /// (see `delivery`), or its challenge could not be solved. Nothing was
    /// stored; a later attempt fetches a fresh challenge.
    NoProof,
}

impl ApiError {
    /// True when sending the same request again later may succeed, so the
    /// complaint belongs in the outbox.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ApiError::NotSent | ApiError::Busy { .. } | ApiError::NoProof
        )
    }
}

/// The longest `Retry-After` the widget honours; a larger value (or a
/// misconfigured proxy) must not park a complaint for hours.
pub const MAX_RETRY_AFTER_MS: u32 = 300_000;

/// `GET {collector}/api/v1/sites/{site_key}/config`.
pub async fn site_config(collector: &str, site_key: &str) -> Result<SiteConfig, ApiError> {
    let url = endpoint(collector, site_key, "config");
    let answer = call(&url, "GET", None, &[]).await?;
    interpret(
        answer.status,
        answer.retry_after.as_deref(),
        &answer.body,
        parse_site_config,
    )
}

/// `POST {collector}/api/v1/sites/{site_key}/complaints` with an
/// `Idempotency-Key` and, when the collector asks for one, a solved
/// challenge in `Heard-Proof`; answers with the receipt once the complaint
/// is stored.
pub async fn send_complaint(
    collector: &str,
    site_key: &str,
    body: &str,
    idempotency_key: &str,
    proof: Option<&str>,
) -> Result<Receipt, ApiError> {
    let url = endpoint(collector, site_key, "complaints");
    let mut headers = vec![
        ("Content-Type", "application/json"),
        (IDEMPOTENCY_KEY_HEADER, idempotency_key),
    ];
    headers.extend(proof.map(|proof| (PROOF_HEADER, proof)));
    let answer = call(&url, "POST", Some(&JsValue::from_str(body)), &headers).await?;
    interpret(
        answer.status,
        answer.retry_after.as_deref(),
        &answer.body,
        parse_receipt,
    )
}

/// Reads a receipt by hand, not through serde: the derived reader for it
/// and its summary costs shoppers more wasm than this.
pub fn parse_receipt(body: &str) -> Option<Receipt> {
    let receipt = crate::json::object(body)?;
    let summary = receipt.object("summary")?;
    let mut outcomes = Vec::new();
    for text in summary.texts("outcomes") {
        outcomes.push(
            *Outcome::ALL
                .iter()
                .find(|outcome| outcome.as_str() == text)?,
        );
    }
    Some(Receipt {
        reference: receipt.text("reference")?,
        created_at: receipt.text("created_at")?,
        status: Status::parse(&receipt.text("status")?)?,
        status_url: receipt.text("status_url")?,
        summary: ReceiptSummary {
            category: summary.text("category")?,
            category_label: summary.text("category_label")?,
            description: summary.text("description")?,
            outcomes,
            anonymous: summary.flag("anonymous")?,
        },
        response_target_hours: whole(receipt.number("response_target_hours")),
    })
}

/// `GET {collector}/api/v1/sites/{site_key}/challenge`: a proof-of-work
/// challenge for one complaint. `None` when the collector answers `404`: it
/// predates proofs of work, and complaints go without one.
pub async fn challenge(collector: &str, site_key: &str) -> Result<Option<Challenge>, ApiError> {
    let answer = call(
        &endpoint(collector, site_key, "challenge"),
        "GET",
        None,
        &[],
    )
    .await?;
    match answer.status {
        404 => Ok(None),
        200..=299 => parse_challenge(&answer.body)
            .map(Some)
            .ok_or(ApiError::Unexpected(answer.status)),
        status => Err(failure(status, answer.retry_after.as_deref(), &answer.body)),
    }
}

/// Reads a challenge by hand, not through serde: a derive here costs
/// shoppers more wasm than this.
pub fn parse_challenge(body: &str) -> Option<Challenge> {
    let fields = crate::json::object(body)?;
    let maxnumber = fields.number("maxnumber")?;
    Some(Challenge {
        algorithm: fields.text("algorithm").filter(|name| name == ALGORITHM)?,
        challenge: fields.text("challenge")?,
        salt: fields.text("salt")?,
        // Whole and within what a float holds exactly; anything else is not ours.
        maxnumber: ((0.0..=9e15).contains(&maxnumber) && maxnumber.fract() == 0.0)
            .then_some(maxnumber as u64)?,
        signature: fields.text("signature")?,
    })
}

/// `GET {collector}/widget/i18n/{tag}.json`: one language's flat catalog of
/// texts, fetched only when the shopper's language is not English.
pub async fn catalog(
    collector: &str,
    tag: &str,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    let url = crate::i18n::catalog_url(collector, tag);
    let answer = call(&url, "GET", None, &[]).await?;
    interpret(
        answer.status,
        answer.retry_after.as_deref(),
        &answer.body,
        crate::i18n::parse_catalog,
    )
}

/// Where an earlier complaint stands, as "your earlier complaints" shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptStatus {
    /// `received`, `acknowledged`, `in_progress`, `waiting_for_you`,
    /// `resolved` or `closed`.
    pub status: String,
    /// The collector's English words for it, for a status this widget
    /// version has no words for.
    pub status_label: String,
}

impl ReceiptStatus {
    /// Reads the two fields from the receipt's JSON view by hand, not
    /// through serde: a derive here costs shoppers more wasm than this.
    pub fn parse(body: &str) -> Option<ReceiptStatus> {
        let view = crate::json::object(body)?;
        Some(ReceiptStatus {
            status: view.text("status")?,
            status_label: view.text("status_label").unwrap_or_default(),
        })
    }
}

/// `GET {collector}/api/v1/receipts/{token}`: where an earlier complaint
/// stands. `None` when it no longer exists (deleted, or the token is wrong).
pub async fn receipt_status(
    collector: &str,
    token: &str,
) -> Result<Option<ReceiptStatus>, ApiError> {
    let answer = call(&receipt_url(collector, token), "GET", None, &[]).await?;
    match answer.status {
        404 => Ok(None),
        200..=299 => ReceiptStatus::parse(&answer.body)
            .map(Some)
            .ok_or(ApiError::Unexpected(answer.status)),
        status => Err(ApiError::Unexpected(status)),
    }
}

/// The JSON view of the complaint with status token `token`.
pub fn receipt_url(collector: &str, token: &str) -> String {
    format!(
        "{}/api/{API_VERSION}/receipts/{}",
        collector.trim_end_matches('/'),
        encode_path_segment(token)
    )
}

/// The URL of one site endpoint; the site key is percent-encoded because it
/// comes from the merchant's page.
pub fn endpoint(collector: &str, site_key: &str, tail: &str) -> String {
    format!(
        "{}/api/{API_VERSION}/sites/{}/{tail}",
        collector.trim_end_matches('/'),
        encode_path_segment(site_key)
    )
}

/// Reads an answer: the expected JSON on success, otherwise the failure
/// classified by what the widget should do next. `retry_after` is the
/// answer's `Retry-After` header, if the browser let us see it.
pub fn interpret<T>(
    status: u16,
    retry_after: Option<&str>,
    body: &str,
    read: fn(&str) -> Option<T>,
) -> Result<T, ApiError> {
    match status {
        200..=299 => read(body).ok_or(ApiError::Unexpected(status)),
        _ => Err(failure(status, retry_after, body)),
    }
}

/// A failed answer (not `2xx`) classified. Apart from [`interpret`], which
/// is generic, so one copy serves every answer type.
fn failure(status: u16, retry_after: Option<&str>, body: &str) -> ApiError {
    match status {
        429 | 500..=599 => ApiError::Busy {
            retry_after_ms: retry_after.and_then(parse_retry_after),
        },
        _ => match error_body(body) {
            Some(error) => ApiError::Refused(error),
            None => ApiError::Unexpected(status),
        },
    }
}

/// Reads the collector's error shape `{error, message, fields}` by hand, not
/// through serde: a derive here costs shoppers more wasm than this.
pub fn error_body(body: &str) -> Option<ErrorBody> {
    let object = crate::json::object(body)?;
    Some(ErrorBody {
        error: object.text("error")?,
        message: object.text("message")?,
        fields: object
            .objects("fields")
            .iter()
            .filter_map(|field| {
                Some(FieldError::new(
                    field.text("field")?,
                    &field.text("code")?,
                    field.text("message")?,
                ))
            })
            .collect(),
    })
}

/// `Retry-After` in its delta-seconds form, capped at [`MAX_RETRY_AFTER_MS`].
/// The HTTP-date form is not parsed (the collector never sends it); the
/// widget's own backoff applies instead.
pub fn parse_retry_after(value: &str) -> Option<u32> {
    let seconds: u32 = value.trim().parse().ok()?;
    Some(seconds.saturating_mul(1000).min(MAX_RETRY_AFTER_MS))
}

fn encode_path_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// What came back over HTTP, before interpretation.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

async fn call(
    url: &str,
    method: &str,
    body: Option<&JsValue>,
    headers: &[(&str, &str)],
) -> Result<Answer, ApiError> {
    // A rejected fetch (offline, CORS, DNS) and an abort by the timeout look
    // the same to the shopper: nothing was sent.
    send(url, method, body, headers)
        .await
        .map_err(|_| ApiError::NotSent)
}

/// One request; the body is text or bytes (a `Uint8Array`), as the browser
/// takes it.
async fn send(
    url: &str,
    method: &str,
    body: Option<&JsValue>,
    headers: &[(&str, &str)],
) -> Result<Answer, JsValue> {
    let window = web_sys::window().ok_or(JsValue::NULL)?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_mode(RequestMode::Cors);
    // Anonymous: nothing the browser holds for the collector rides along.
    init.set_credentials(RequestCredentials::Omit);
    init.set_signal(timeout_signal().as_ref());
    let header_list = Headers::new()?;
    for (name, value) in headers {
        header_list.set(name, value)?;
    }
    init.set_headers(&header_list);
    if let Some(body) = body {
        init.set_body(body);
    }
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    // Cross-origin, this is readable only if the collector exposes it.
    let retry_after = response.headers().get("Retry-After").ok().flatten();
    let text = JsFuture::from(response.text()?).await?;
    Ok(Answer {
        status: response.status(),
        retry_after,
        body: text.as_string().unwrap_or_default(),
    })
}

/// A signal that aborts the request after the timeout, where the browser has
/// `AbortSignal.timeout` (older ones wait as long as the network does).
fn timeout_signal() -> Option<AbortSignal> {
    let constructor =
        js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("AbortSignal")).ok()?;
    js_sys::Reflect::has(&constructor, &JsValue::from_str("timeout"))
        .unwrap_or(false)
        .then(|| AbortSignal::timeout_with_u32(TIMEOUT_MILLISECONDS))
}

/// `POST {collector}/api/v1/sites/{site_key}/attachments` with one photo's
/// bytes as the body, answering with the stored attachment's receipt.
///
/// Placed before the tests (not after them) to keep clippy's item order.
pub async fn upload_attachment(
    collector: &str,
    site_key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<String, crate::photos::UploadProblem> {
    let url = endpoint(collector, site_key, "attachments");
    let body = js_sys::Uint8Array::from(bytes.as_slice());
    let answer = send(&url, "POST", Some(&body), &[("Content-Type", content_type)]).await;
    match answer {
        Ok(answer) => crate::photos::UploadProblem::interpret(answer.status, &answer.body),
        // Offline, blocked or timed out: nothing was stored, so retrying is safe.
        Err(_) => Err(crate::photos::UploadProblem::Network),
    }
}

#[cfg(test)]
mod tests {
    use heard_shared::FieldError;

    use super::*;

    #[test]
    fn the_status_is_read_from_the_receipt_view() {
        let body = r#"{"reference":"HRD-AAAA-AAAA","status":"in_progress","status_label":"In progress","photos":2,"remedy":null}"#;
        assert_eq!(
            ReceiptStatus::parse(body),
            Some(ReceiptStatus {
                status: "in_progress".to_owned(),
                status_label: "In progress".to_owned(),
            })
        );
        assert_eq!(ReceiptStatus::parse(r#"{"status":3}"#), None);
        assert_eq!(ReceiptStatus::parse(r#"[{"status":"closed"}]"#), None);
        assert_eq!(ReceiptStatus::parse("<html>"), None);
    }

    #[test]
    fn receipt_urls_encode_the_token() {
        assert_eq!(
            receipt_url("https://heard.example/", "abc_DEF-123"),
            "https://heard.example/api/v1/receipts/abc_DEF-123"
        );
        assert_eq!(
            receipt_url("https://heard.example", "../x"),
            "https://heard.example/api/v1/receipts/..%2Fx"
        );
    }

    #[test]
    fn endpoints_are_built_from_the_base_and_an_encoded_site_key() {
        assert_eq!(
            endpoint("https://heard.example/", "demo", "config"),
            "https://heard.example/api/v1/sites/demo/config"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8080", "a b/../c", "complaints"),
            "http://127.0.0.1:8080/api/v1/sites/a%20b%2F..%2Fc/complaints"
        );
    }

    #[test]
    fn success_bodies_parse_and_error_bodies_become_refusals() {
        let config: SiteConfig = interpret(
            200,
            None,
            r#"{"site_key":"demo","name":"Demo","languages":["en"],"categories":[]}"#,
            parse_site_config,
        )
        .unwrap();
        assert_eq!(config.site_key, "demo");

        let refused = interpret(
            422,
            None,
            r#"{"error":"invalid_submission","message":"Check the form.",
                "fields":[{"field":"description","code":"required","message":"Tell us."}]}"#,
            parse_receipt,
        );
        assert_eq!(
            refused,
            Err(ApiError::Refused(ErrorBody {
                error: "invalid_submission".to_owned(),
                message: "Check the form.".to_owned(),
                fields: vec![FieldError::new("description", "required", "Tell us.")],
            }))
        );
    }

    #[test]
    fn challenges_are_read_as_the_collector_writes_them() {
        let challenge = Challenge {
            algorithm: ALGORITHM.to_owned(),
            challenge: "ab".repeat(32),
            salt: "0a1b.1795000000.1795007200".to_owned(),
            maxnumber: 100_000,
            signature: "cd".repeat(32),
        };
        let text = serde_json::to_string(&challenge).unwrap();
        assert_eq!(parse_challenge(&text), Some(challenge));
        for bad in [
            text.replace("SHA-256", "SHA-1"),
            text.replace("100000", "1.5"),
            text.replace("100000", "-1"),
            text.replace("\"salt\"", "\"pepper\""),
            "[]".to_owned(),
        ] {
            assert_eq!(parse_challenge(&bad), None, "{bad}");
        }
    }

    #[test]
    fn receipts_read_by_hand_match_the_derived_reader() {
        let full = r#"{"reference":"HRD-7K3Q-9M2X","created_at":"2026-11-23T10:00:00Z",
            "status":"received","status_url":"https://heard.example/r/abc",
            "summary":{"category":"product","category_label":"Product problem",
              "description":"Broken <b>","outcomes":["fix","apology"],"anonymous":false},
            "response_target_hours":24}"#;
        let lean = r#"{"reference":"HRD-7K3Q-9M2X","created_at":"2026-11-23T10:00:00Z",
            "status":"in_progress","status_url":"/r/abc","unknown":1,
            "summary":{"category":"x","category_label":"X","description":"d","anonymous":true}}"#;
        for body in [full, lean] {
            let derived: Receipt = serde_json::from_str(body).unwrap();
            assert_eq!(parse_receipt(body), Some(derived));
        }
        assert_eq!(parse_receipt(r#"{"reference":"HRD-7K3Q-9M2X"}"#), None);
        let unknown_outcome = full.replace("\"apology\"", "\"money\"");
        assert_eq!(parse_receipt(&unknown_outcome), None);
    }

    #[test]
    fn answers_that_are_not_ours_are_unexpected() {
        assert_eq!(
            interpret(404, None, "<html>Not found</html>", parse_receipt),
            Err(ApiError::Unexpected(404))
        );
        assert_eq!(
            interpret(201, None, "{}", parse_receipt),
            Err(ApiError::Unexpected(201))
        );
        assert!(!ApiError::Unexpected(404).is_retryable());
    }

    #[test]
    fn overload_and_server_failures_are_busy_and_retryable() {
        let busy_body = r#"{"error":"unavailable","message":"Too busy."}"#;
        assert_eq!(
            interpret(503, Some("5"), busy_body, parse_receipt),
            Err(ApiError::Busy {
                retry_after_ms: Some(5_000)
            })
        );
        assert_eq!(
            interpret(429, Some(" 1 "), "", parse_receipt),
            Err(ApiError::Busy {
                retry_after_ms: Some(1_000)
            })
        );
        // A proxy's bad gateway page carries no usable Retry-After.
        let bad_gateway = interpret(502, None, "<html>Bad gateway</html>", parse_receipt);
        assert_eq!(
            bad_gateway,
            Err(ApiError::Busy {
                retry_after_ms: None
            })
        );
        assert!(bad_gateway.unwrap_err().is_retryable());
        assert!(ApiError::NotSent.is_retryable());
    }

    #[test]
    fn retry_after_takes_seconds_and_is_capped() {
        assert_eq!(parse_retry_after("0"), Some(0));
        assert_eq!(parse_retry_after("120"), Some(120_000));
        assert_eq!(parse_retry_after("86400"), Some(MAX_RETRY_AFTER_MS));
        assert_eq!(parse_retry_after("4294967295"), Some(MAX_RETRY_AFTER_MS));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-3"), None);
    }
}
