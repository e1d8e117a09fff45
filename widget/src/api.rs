//! The only module that talks HTTP: the two collector endpoints the widget
//! uses, through the browser's `fetch`.
//!
//! Requests carry no cookies (`credentials: "omit"`): the widget is anonymous
//! and must not ride on anything the shopper's browser holds for the collector.

use heard_shared::{
    API_VERSION, ComplaintSubmission, ErrorBody, IDEMPOTENCY_KEY_HEADER, Receipt, SiteConfig,
};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestCredentials, RequestInit, RequestMode, Response};

/// How long the widget waits for the collector before telling the shopper
/// their complaint was not sent.
const TIMEOUT_MILLISECONDS: u32 = 20_000;

/// Why a call did not give the expected answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No HTTP answer at all: offline, blocked, timed out.
    Network,
    /// The collector answered with its error shape.
    Refused(ErrorBody),
    /// Some other answer, e.g. a proxy's error page.
    Unexpected(u16),
}

/// `GET {collector}/api/v1/sites/{site_key}/config`.
pub async fn site_config(collector: &str, site_key: &str) -> Result<SiteConfig, ApiError> {
    let url = endpoint(collector, site_key, "config");
    let (status, body) = call(&url, "GET", None, &[]).await?;
    interpret(status, &body)
}

/// `POST {collector}/api/v1/sites/{site_key}/complaints` with an
/// `Idempotency-Key`, answering with the receipt once the complaint is stored.
pub async fn send_complaint(
    collector: &str,
    site_key: &str,
    submission: &ComplaintSubmission,
    idempotency_key: &str,
) -> Result<Receipt, ApiError> {
    let url = endpoint(collector, site_key, "complaints");
    // Serialising plain strings and enums cannot fail.
    let body = serde_json::to_string(submission).unwrap_or_default();
    let headers = [
        ("Content-Type", "application/json"),
        (IDEMPOTENCY_KEY_HEADER, idempotency_key),
    ];
    let (status, text) = call(&url, "POST", Some(&body), &headers).await?;
    interpret(status, &text)
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

/// Reads an answer: the expected JSON on success, the collector's error shape
/// otherwise.
pub fn interpret<T: DeserializeOwned>(status: u16, body: &str) -> Result<T, ApiError> {
    if (200..300).contains(&status) {
        serde_json::from_str(body).map_err(|_| ApiError::Unexpected(status))
    } else {
        match serde_json::from_str::<ErrorBody>(body) {
            Ok(error) => Err(ApiError::Refused(error)),
            Err(_) => Err(ApiError::Unexpected(status)),
        }
    }
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

async fn call(
    url: &str,
    method: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<(u16, String), ApiError> {
    send(url, method, body, headers)
        .await
        .map_err(|_| ApiError::Network)
}

async fn send(
    url: &str,
    method: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<(u16, String), JsValue> {
    let window = web_sys::window().ok_or(JsValue::NULL)?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    init.set_signal(timeout_signal().as_ref());
    let header_list = Headers::new()?;
    for (name, value) in headers {
        header_list.set(name, value)?;
    }
    init.set_headers(&header_list);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    let text = JsFuture::from(response.text()?).await?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
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

#[cfg(test)]
mod tests {
    use heard_shared::FieldError;

    use super::*;

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
            r#"{"site_key":"demo","name":"Demo","languages":["en"],"categories":[]}"#,
        )
        .unwrap();
        assert_eq!(config.site_key, "demo");

        let refused = interpret::<Receipt>(
            422,
            r#"{"error":"invalid_submission","message":"Check the form.",
                "fields":[{"field":"description","code":"required","message":"Tell us."}]}"#,
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
    fn answers_that_are_not_ours_are_unexpected() {
        assert_eq!(
            interpret::<Receipt>(502, "<html>Bad gateway</html>"),
            Err(ApiError::Unexpected(502))
        );
        assert_eq!(
            interpret::<Receipt>(201, "{}"),
            Err(ApiError::Unexpected(201))
        );
    }
}
