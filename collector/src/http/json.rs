//! A JSON body extractor whose every rejection has the shared error shape,
//! and the answer to a body that arrives too slowly (`408`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::AppError;

mod strict;

/// Like `axum::Json`, but refuses with [`AppError`]: 415 without a JSON
/// content type, 413 past the route's body limit (checked while reading, so an
/// oversize body is never read whole), 400 for broken JSON, 422 for JSON of
/// the wrong shape.
pub struct JsonBody<T>(pub T);

/// The route's body limit, repeated in 413 messages.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(AppError::UnsupportedMediaType);
        }
        let limit = request.extensions().get::<BodyLimit>().map(|limit| limit.0);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge {
                        limit: limit.unwrap_or_default(),
                    }
                } else {
                    AppError::MalformedJson(rejection.body_text())
                }
            })?;
        from_slice(&bytes).map(JsonBody)
    }
}

/// Reads `bytes` as a `T`, refusing an array where an object is expected
/// (see `json/strict.rs`): 400 for broken JSON, 422 for the wrong shape, with the
/// path of the field that is wrong (`identity`, `answers.order`).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(strict::Strict(&mut reader)).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if !inner.is_data() {
            AppError::MalformedJson(inner.to_string())
        } else if path == "." {
            AppError::UnprocessableJson(inner.to_string())
        } else {
            AppError::UnprocessableJson(format!("{path}: {inner}"))
        }
    })?;
    // Trailing characters after the value.
    reader
        .end()
        .map_err(|error| AppError::MalformedJson(error.to_string()))?;
    Ok(value)
}

/// Put on every request by the accept loop (`lib.rs`), which gives each body
/// a deadline for all of it: whether that deadline passed before the body
/// was read, and how long it was.
#[derive(Debug, Clone)]
pub struct BodyDeadline {
    expired: Arc<AtomicBool>,
    seconds: u64,
}

impl BodyDeadline {
    pub fn new(seconds: u64) -> BodyDeadline {
        BodyDeadline {
            expired: Arc::new(AtomicBool::new(false)),
            seconds,
        }
    }

    /// Called by the body when its deadline passes.
    pub fn expire(&self) {
        self.expired.store(true, Ordering::Relaxed);
    }

    pub fn expired(&self) -> bool {
        self.expired.load(Ordering::Relaxed)
    }
}

/// Middleware: a request whose body missed its deadline is answered `408
/// request_timeout` with `Connection: close`, whatever the handler's
/// extractor (JSON, form, multipart, bytes) made of the cut-off body; the
/// handler stored nothing, since its body never arrived whole.
pub async fn answer_late_bodies(request: Request, next: Next) -> Response {
    let deadline = request.extensions().get::<BodyDeadline>().cloned();
    let response = next.run(request).await;
    match deadline {
        Some(deadline) if deadline.expired() => {
            let mut late = AppError::RequestTimeout {
                seconds: deadline.seconds,
            }
            .into_response();
            late.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            late
        }
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use heard_shared::ComplaintSubmission;
    use serde_json::{Value, json};

    use super::*;

    fn complaint() -> Value {
        json!({
            "category": "product",
            "description": "The kettle leaks from the bottom.",
            "outcomes": ["fix"],
            "language": "en",
        })
    }

    fn read(body: &Value) -> Result<ComplaintSubmission, AppError> {
        from_slice(body.to_string().as_bytes())
    }

    fn refusal(body: &Value) -> String {
        match read(body) {
            Err(AppError::UnprocessableJson(message)) => message,
            other => panic!("expected a 422 for {body}, got {other:?}"),
        }
    }

    #[test]
    fn objects_are_read_as_before() {
        let mut body = complaint();
        body["identity"] = json!({ "customer_id": "c-1", "email": "a@example.com" });
        body["contact"] = json!({ "name": "Ada", "email": "ada@example.com", "consent": true });
        body["callback"] = json!({ "window": "mornings" });
        body["answers"] = json!({ "order": "A-1" });
        let read = read(&body).unwrap();
        assert_eq!(read.identity.unwrap().customer_id.as_deref(), Some("c-1"));
        assert_eq!(read.contact.unwrap().name.as_deref(), Some("Ada"));
        assert_eq!(read.callback.unwrap().window, "mornings");
        assert_eq!(read.answers["order"], "A-1");
        // `null` for an optional object is still "absent".
        let mut body = complaint();
        body["identity"] = Value::Null;
        assert!(read_ok(&body).identity.is_none());
    }

    fn read_ok(body: &Value) -> ComplaintSubmission {
        read(body).unwrap()
    }

    #[test]
    fn an_array_where_an_object_belongs_is_refused_with_its_field() {
        // The whole complaint as an array of its fields, in order.
        let whole = json!(["product", "The kettle leaks from the bottom.", ["fix"]]);
        let message = refusal(&whole);
        assert!(message.contains("invalid type: sequence"), "{message}");
        assert!(message.contains("JSON object"), "{message}");

        for (field, array) in [
            ("identity", json!([null, null])),
            (
                "identity",
                json!(["c-1", "Ada", "ada@example.com", "A-1", null, null]),
            ),
            ("contact", json!(["Ada", "ada@example.com", null, true])),
            ("callback", json!(["mornings"])),
        ] {
            let mut body = complaint();
            body[field] = array.clone();
            let message = refusal(&body);
            assert!(
                message.starts_with(&format!("{field}: invalid type: sequence")),
                "{field} = {array}: {message}"
            );
        }
    }

    #[test]
    fn arrays_where_arrays_belong_and_broken_json_are_unchanged() {
        let mut body = complaint();
        body["attachments"] = json!(["photo-1"]);
        assert_eq!(read_ok(&body).attachments, vec!["photo-1".to_owned()]);
        assert!(matches!(
            from_slice::<ComplaintSubmission>(b"{\"category\": "),
            Err(AppError::MalformedJson(_))
        ));
        assert!(matches!(
            from_slice::<ComplaintSubmission>(format!("{} x", complaint()).as_bytes()),
            Err(AppError::MalformedJson(_))
        ));
        // A wrong type deeper in still names its path.
        let mut body = complaint();
        body["contact"] = json!({ "name": 7, "consent": true });
        let message = refusal(&body);
        assert!(
            message.starts_with("contact.name: invalid type"),
            "{message}"
        );
    }
}
