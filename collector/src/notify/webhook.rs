//! Webhook calls: Standard Webhooks signing, the Slack-compatible body, and
//! the refusal of receivers on private networks.
//!
//! Every call carries `webhook-id` (the same on every attempt),
//! `webhook-timestamp` (seconds, of this attempt) and `webhook-signature`:
//! `v1,` + base64 HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the
//! endpoint's secret; during a rotation both secrets sign, space-separated.
//!
//! **A receiver on a loopback, private, link-local or otherwise internal
//! address is refused unless its endpoint allows it.** The check runs at
//! every attempt on the addresses DNS gives *then* (the client connects only
//! to addresses that passed), so a name that later resolves inward — or a
//! redirect — cannot reach the collector's own network. Redirects are not
//! followed at all.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use sha2::Sha256;

use crate::store::WebhookFormat;

/// The prefix of a secret as the Standard Webhooks libraries expect it.
pub const SECRET_PREFIX: &str = "whsec_";
/// The longest webhook URL accepted.
pub const MAX_URL_CHARS: usize = 2_000;
/// How much of a failing receiver's answer is kept as the error.
const ERROR_BODY_CHARS: usize = 200;

/// `whsec_` + base64 of the secret's bytes.
pub fn secret_text(secret: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", BASE64.encode(secret))
}

/// A fresh 32-byte secret.
pub fn new_secret() -> [u8; 32] {
    let mut secret = [0u8; 32];
    crate::random::fill(&mut secret);
    secret
}

/// `v1,{base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"}`.
pub fn sign(secret: &[u8], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// Every secret's signature, space-separated, as the header carries them.
pub fn signature_header(
    secrets: &[Vec<u8>],
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, message_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a webhook URL is refused when it is saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("The URL is not valid: {0}.")]
    Invalid(String),
    #[error("Only http and https URLs can receive webhooks.")]
    Scheme,
    #[error("The URL cannot carry a user name or password; put credentials in the secret.")]
    Credentials,
    #[error("The URL is longer than {MAX_URL_CHARS} characters.")]
    TooLong,
    #[error(
        "The URL points to a private, loopback or link-local address. \
         Set allow_private if this receiver is on your own network."
    )]
    Private,
}

/// Checks a URL when an endpoint is saved. Names are resolved only when a
/// call is made; an address written in the URL is checked here already.
pub fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url, UrlProblem> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(UrlProblem::TooLong);
    }
    let parsed =
        reqwest::Url::parse(url).map_err(|error| UrlProblem::Invalid(error.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UrlProblem::Scheme);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlProblem::Credentials);
    }
    let host = parsed
        .host()
        .ok_or_else(|| UrlProblem::Invalid("it has no host".to_owned()))?;
    if !allow_private {
        let refused = match host {
            url::Host::Ipv4(address) => is_internal(IpAddr::V4(address)),
            url::Host::Ipv6(address) => is_internal(IpAddr::V6(address)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
        };
        if refused {
            return Err(UrlProblem::Private);
        }
    }
    Ok(parsed)
}

/// Whether an address is one a webhook must not reach without permission:
/// loopback, private (RFC 1918, unique local), link-local, shared (CGNAT),
/// unspecified, broadcast, multicast or reserved — and IPv4 addresses of
/// those kinds wrapped in IPv6.
pub fn is_internal(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let segments = v6.segments();
            // 64:ff9b::/96, NAT64: the IPv4 address is the last 32 bits.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., high, low] = segments;
                return is_internal_v4(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                // Deprecated site-local fec0::/10.
                || (segments[0] & 0xffc0) == 0xfec0
                // IPv4-compatible ::a.b.c.d (deprecated).
                || (segments[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified())
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || a == 0
        // 100.64.0.0/10, shared address space (carrier-grade NAT).
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24, IETF protocol assignments.
        || (a == 192 && b == 0 && v4.octets()[2] == 0)
        // 198.18.0.0/15, benchmarking.
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4, reserved.
        || a >= 240
}

/// A resolver that hands the HTTP client only public addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|address| !is_internal(address.ip()))
                .collect();
            if public.is_empty() {
                return Err(Box::new(Refusal(format!(
                    "{host} resolves only to private, loopback or link-local addresses \
                     ({}); the endpoint does not allow them",
                    all.iter()
                        .map(|address| address.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[derive(Debug)]
struct Refusal(String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// A failed call: what to record, and when the receiver asked us to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl Failure {
    fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            retry_after: None,
        }
    }
}

/// One webhook call to make.
pub struct Call<'a> {
    pub url: &'a str,
    pub format: WebhookFormat,
    pub allow_private: bool,
    pub secrets: &'a [Vec<u8>],
    pub message_id: &'a str,
    /// The stored Standard Webhooks event, as JSON text.
    pub payload: &'a str,
    /// This attempt's time, ms since the epoch.
    pub now: i64,
}

/// Makes webhook calls: one client that reaches only public addresses, one
/// for endpoints that allow private ones.
#[derive(Clone)]
pub struct Sender {
    public_only: reqwest::Client,
    anywhere: reqwest::Client,
}

impl Sender {
    /// Clients that give up on a receiver after `timeout`.
    pub fn new(timeout: Duration) -> Result<Sender, reqwest::Error> {
        let builder = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
        };
        Ok(Sender {
            public_only: builder().dns_resolver(Arc::new(PublicOnly)).build()?,
            anywhere: builder().build()?,
        })
    }

    /// Calls the receiver once; `Ok` when it answered 2xx.
    pub async fn send(&self, call: &Call<'_>) -> Result<u16, Failure> {
        let url = check_url(call.url, call.allow_private)
            .map_err(|problem| Failure::new(problem.to_string()))?;
        let body = match call.format {
            WebhookFormat::Standard => call.payload.to_owned(),
            WebhookFormat::Slack => slack_body(call.payload),
        };
        let timestamp = call.now.div_euclid(1000);
        let signature = signature_header(call.secrets, call.message_id, timestamp, body.as_bytes());
        let client = if call.allow_private {
            &self.anywhere
        } else {
            &self.public_only
        };
        let response = client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, "Heard-Webhooks/1")
            .header("webhook-id", call.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|error| Failure::new(describe(&error)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| retry_after(text, call.now));
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text
            .chars()
            .filter(|character| !character.is_control())
            .take(ERROR_BODY_CHARS)
            .collect();
        Err(Failure {
            message: format!("the receiver answered {status}: {excerpt}"),
            retry_after,
        })
    }
}

/// `Retry-After` as seconds (`120`) or as an HTTP date (`Wed, 21 Oct 2026
/// 07:28:00 GMT`, counted from `now`, ms since the epoch); `None` when it is
/// neither.
pub fn retry_after(value: &str, now: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let wait_ms = (date.unix_timestamp_nanos() / 1_000_000) as i64 - now;
    Some(Duration::from_millis(wait_ms.max(0) as u64))
}

/// A transport error in words, with its causes (the resolver's refusal is
/// one of them).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "the receiver did not answer in time".to_owned();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A Slack-compatible message (`{"text": …}`) for the stored event.
pub fn slack_body(payload: &str) -> String {
    let event: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    let data = &event["data"];
    let text_of = |value: &serde_json::Value| value.as_str().unwrap_or("").to_owned();
    let mut text = String::new();
    if data["safety"].as_bool() == Some(true) {
        text.push_str(":rotating_light: *Safety complaint* ");
    } else if data["priority"].as_str() == Some("urgent") {
        text.push_str(":warning: *Urgent complaint* ");
    } else {
        text.push_str("*New complaint* ");
    }
    text.push_str(&format!(
        "{} on {}: {}",
        slack_escape(&text_of(&data["reference"])),
        slack_escape(&text_of(&data["site"]["name"])),
        slack_escape(&text_of(&data["category_label"])),
    ));
    let particulars: Vec<String> = ["severity", "mood"]
        .iter()
        .filter_map(|key| data[*key].as_str().map(slack_escape))
        .collect();
    if !particulars.is_empty() {
        text.push_str(&format!(" ({})", particulars.join(", ")));
    }
    if let Some(name) = data["assignee"]["name"].as_str() {
        text.push_str(&format!(". Assigned to {}", slack_escape(name)));
    } else if let Some(name) = data["team"]["name"].as_str() {
        text.push_str(&format!(". Sent to team {}", slack_escape(name)));
    }
    if data["escalated"].as_bool() == Some(true) {
        text.push_str(". Escalated");
    }
    text.push('.');
    serde_json::json!({ "text": text }).to_string()
}

/// Slack's three control characters in message text.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_specs_example() {
        // The example from the Standard Webhooks specification.
        let secret = BASE64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let both = signature_header(
            &[secret.clone(), vec![1, 2, 3]],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
        );
        assert!(both.starts_with("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,"));
        assert_eq!(
            secret_text(&secret),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        );
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        assert_eq!(retry_after(" 120 ", 0), Some(Duration::from_secs(120)));
        // 2026-11-23 07:28:00 UTC, asked 30 seconds before.
        let at = 1_795_418_880_000;
        assert_eq!(
            retry_after("Mon, 23 Nov 2026 07:28:00 GMT", at - 30_000),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Mon, 23 Nov 2026 07:28:00 GMT", at + 5_000),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(retry_after("soon", 0), None);
        assert_eq!(retry_after("-5", 0), None);
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "ff02::1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_checked_when_saved() {
        assert!(check_url("https://hooks.example.com/heard", false).is_ok());
        assert_eq!(
            check_url("ftp://example.com/", false).unwrap_err(),
            UrlProblem::Scheme
        );
        assert_eq!(
            check_url("https://user:pw@example.com/", false).unwrap_err(),
            UrlProblem::Credentials
        );
        for private in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost/hook",
            "http://api.localhost./hook",
            "http://10.0.0.8/",
        ] {
            assert_eq!(
                check_url(private, false).unwrap_err(),
                UrlProblem::Private,
                "{private}"
            );
            assert!(check_url(private, true).is_ok(), "{private}");
        }
        assert!(matches!(
            check_url("not a url", false),
            Err(UrlProblem::Invalid(_))
        ));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(check_url(&long, false).unwrap_err(), UrlProblem::TooLong);
    }

    #[tokio::test]
    async fn a_name_that_resolves_inward_is_refused_after_resolution() {
        // `localhost` passes no address check before resolution here: the
        // refusal comes from the addresses DNS returns.
        let refused = PublicOnly
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost resolves to loopback only");
        assert!(refused.to_string().contains("private"), "{refused}");
    }

    #[test]
    fn the_slack_body_summarises_without_markup_injection() {
        let payload = serde_json::json!({
            "type": "complaint.received",
            "data": {
                "reference": "HRD-AAAA-BBBB",
                "site": {"name": "<!channel> Shop & Co"},
                "category_label": "Safety or health",
                "severity": "serious",
                "mood": "furious",
                "safety": true,
                "priority": "urgent",
                "team": {"name": "Everyone"},
                "escalated": true
            }
        })
        .to_string();
        let body: serde_json::Value = serde_json::from_str(&slack_body(&payload)).unwrap();
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("HRD-AAAA-BBBB"), "{text}");
        assert!(text.contains("&lt;!channel&gt; Shop &amp; Co"), "{text}");
        assert!(text.contains("(serious, furious)"), "{text}");
        assert!(text.contains("team Everyone"), "{text}");
        assert!(!text.contains("<!channel>"), "{text}");
    }
}
