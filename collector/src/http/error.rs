//! The one error type every handler returns, and its JSON shape.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use heard_shared::{ErrorBody, FieldError};

use heard_shared::limits::MAX_ATTACHMENT_PIXELS;

use crate::domain::accounts::AccountError;
use crate::domain::intake::IntakeError;
use crate::domain::photos::PhotoError;
use crate::domain::proof::ProofRefusal;
use crate::store::StoreError;

/// Everything a request can fail with. 4xx carry a message the client can act
/// on; 5xx are logged in full and shown to the client only in general terms.
#[derive(Debug)]
pub enum AppError {
    UnknownSite,
    OriginNotAllowed,
    NotFound,
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType,
    MalformedJson(String),
    MalformedBody(String),
    NotAPhoto,
    Photo(PhotoError),
    UnprocessableJson(String),
    Invalid(Vec<FieldError>),
    BadHeader(FieldError),
    IdempotencyConflict,
    Unavailable {
        retry_after_seconds: u32,
    },
    NotSignedIn,
    InvalidCredentials,
    WrongPassword,
    TooManyAttempts {
        retry_after_seconds: u64,
    },
    CsrfFailed,
    Forbidden,
    LastOwner,
    EmailTaken,
    InviteUnusable,
    /// 429: too many lost-link recovery requests.
    RateLimited {
        retry_after_seconds: u64,
    },
    /// 409: the complaint's status does not allow this change.
    StatusConflict(String),
    /// 422 or 409: the complaint's proof of work (`Heard-Proof`) was
    /// refused; `site_key` names the site whose challenge to fetch instead.
    Proof {
        refusal: ProofRefusal,
        site_key: String,
    },
    /// 408: the request body did not arrive within the body-read timeout.
    RequestTimeout {
        seconds: u64,
    },
    Internal(String),
}

impl AppError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            AppError::UnknownSite => (
                StatusCode::NOT_FOUND,
                "unknown_site",
                "No site has this key. Check the data-site attribute of the script tag.".to_owned(),
            ),
            AppError::OriginNotAllowed => (
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "This site does not accept complaints from this web address.".to_owned(),
            ),
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "There is nothing at this address.".to_owned(),
            ),
            AppError::PayloadTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The request body is larger than the limit of {limit} bytes."),
            ),
            AppError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the request body as JSON with Content-Type: application/json.".to_owned(),
            ),
            AppError::MalformedJson(detail) => (
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("The request body is not valid JSON: {detail}"),
            ),
            AppError::MalformedBody(detail) => (
                StatusCode::BAD_REQUEST,
                "malformed_body",
                format!("The request body could not be read: {detail}"),
            ),
            AppError::NotAPhoto | AppError::Photo(PhotoError::NotAPhoto) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not_a_photo",
                "This file is not a photo we can take. Send a JPEG, PNG or WebP image.".to_owned(),
            ),
            AppError::Photo(PhotoError::TooManyPixels { width, height }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_many_pixels",
                format!(
                    "The photo is {width}×{height} pixels; the limit is {MAX_ATTACHMENT_PIXELS} pixels. \
                     Send a smaller photo."
                ),
            ),
            AppError::Photo(PhotoError::Undecodable(_)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unreadable_photo",
                "The photo could not be read; it may be damaged. Try another photo.".to_owned(),
            ),
            AppError::UnprocessableJson(detail) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_submission",
                format!("The request body does not have the expected fields: {detail}"),
            ),
            AppError::Invalid(fields) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_submission",
                match fields.as_slice() {
                    [only] => only.message.clone(),
                    _ => format!("{} fields need attention.", fields.len()),
                },
            ),
            AppError::BadHeader(field) => (
                StatusCode::BAD_REQUEST,
                "invalid_header",
                field.message.clone(),
            ),
            AppError::IdempotencyConflict => (
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "This Idempotency-Key was already used for a different request. \
                 Use a new key for a new complaint."
                    .to_owned(),
            ),
            AppError::Unavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The service is busy. Nothing was stored; please try again shortly.".to_owned(),
            ),
            AppError::NotSignedIn => (
                StatusCode::UNAUTHORIZED,
                "not_signed_in",
                "Sign in to continue; your session is missing or has ended.".to_owned(),
            ),
            AppError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The email or password is wrong.".to_owned(),
            ),
            AppError::WrongPassword => (
                StatusCode::FORBIDDEN,
                "wrong_password",
                "The current password is wrong.".to_owned(),
            ),
            AppError::TooManyAttempts {
                retry_after_seconds,
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("Too many failed sign-ins. Try again in {retry_after_seconds} seconds."),
            ),
            AppError::CsrfFailed => (
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "This request did not come from the collector's own pages \
                 (missing or wrong X-CSRF-Token, or a foreign Origin)."
                    .to_owned(),
            ),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Your role does not allow this.".to_owned(),
            ),
            AppError::LastOwner => (
                StatusCode::CONFLICT,
                "last_owner",
                "This is the last owner; make someone else an owner first.".to_owned(),
            ),
            AppError::EmailTaken => (
                StatusCode::CONFLICT,
                "email_taken",
                "A staff account with this email already exists.".to_owned(),
            ),
            AppError::InviteUnusable => (
                StatusCode::NOT_FOUND,
                "invite_unusable",
                "This invitation link is unknown, already used or expired. \
                 Ask an owner for a new one."
                    .to_owned(),
            ),
            AppError::StatusConflict(message) => {
                (StatusCode::CONFLICT, "invalid_transition", message.clone())
            }
            AppError::RateLimited {
                retry_after_seconds,
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("Too many requests. Try again in {retry_after_seconds} seconds."),
            ),
            AppError::Proof { refusal, site_key } => {
                let fetch = format!(
                    "Fetch a new challenge from GET /api/v1/sites/{site_key}/challenge, solve it, \
                     and send the solution in the Heard-Proof header."
                );
                match refusal {
                    ProofRefusal::Required => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "proof_required",
                        format!("This site asks every complaint for a proof of work. {fetch}"),
                    ),
                    ProofRefusal::Invalid => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "proof_invalid",
                        format!(
                            "The Heard-Proof header is not a solution to a challenge of this \
                             site. {fetch}"
                        ),
                    ),
                    ProofRefusal::Expired => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "proof_expired",
                        format!("The challenge of this proof of work has expired. {fetch}"),
                    ),
                    ProofRefusal::Used => (
                        StatusCode::CONFLICT,
                        "proof_used",
                        format!(
                            "This proof of work was already used by another complaint; each \
                             challenge is good for one complaint. {fetch}"
                        ),
                    ),
                }
            }
            AppError::RequestTimeout { seconds } => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "The request body did not arrive within {seconds} seconds. \
                     Nothing was stored; send it again."
                ),
            ),
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side. Nothing was stored; please try again."
                    .to_owned(),
            ),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        let (status, code, message) = self.parts();
        let retry_after = match self {
            AppError::Unavailable {
                retry_after_seconds,
            } => Some(u64::from(retry_after_seconds)),
            AppError::TooManyAttempts {
                retry_after_seconds,
            }
            | AppError::RateLimited {
                retry_after_seconds,
            } => Some(retry_after_seconds),
            _ => None,
        };
        let fields = match self {
            AppError::Invalid(fields) => fields,
            AppError::BadHeader(field) => vec![field],
            AppError::Proof { refusal, .. } => vec![FieldError::new(
                heard_shared::proof::PROOF_HEADER,
                match refusal {
                    ProofRefusal::Required => "required",
                    ProofRefusal::Invalid => "invalid",
                    ProofRefusal::Expired => "expired",
                    ProofRefusal::Used => "used",
                },
                message.clone(),
            )],
            _ => Vec::new(),
        };
        let body = ErrorBody {
            error: code.to_owned(),
            message,
            fields,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(retry_after_seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        response
    }
}

/// A query string of the wrong shape: 422, one field error named `query`.
impl From<axum::extract::rejection::QueryRejection> for AppError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        AppError::Invalid(vec![FieldError::new(
            "query",
            "invalid",
            rejection.body_text(),
        )])
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Busy => AppError::Unavailable {
                retry_after_seconds: 1,
            },
            StoreError::Closed => AppError::Unavailable {
                retry_after_seconds: 5,
            },
            // Logged by the writer; the widget keeps the complaint and retries.
            StoreError::Full => AppError::Unavailable {
                retry_after_seconds: 60,
            },
            StoreError::IdempotencyConflict => AppError::IdempotencyConflict,
            // Another process held the database past the busy timeout;
            // nothing was stored, so the client may simply retry.
            locked if locked.is_locked() => {
                tracing::warn!(error = %locked, "the database stayed locked; answering 503");
                AppError::Unavailable {
                    retry_after_seconds: 2,
                }
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<IntakeError> for AppError {
    fn from(error: IntakeError) -> Self {
        match error {
            IntakeError::Invalid(fields) => AppError::Invalid(fields),
            IntakeError::BadIdempotencyKey(field) => AppError::BadHeader(field),
            IntakeError::IdempotencyConflict => AppError::IdempotencyConflict,
            IntakeError::Store(error) => error.into(),
        }
    }
}

impl From<AccountError> for AppError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::InvalidCredentials => AppError::InvalidCredentials,
            AccountError::RateLimited {
                retry_after_seconds,
            } => AppError::TooManyAttempts {
                retry_after_seconds,
            },
            AccountError::WrongPassword => AppError::WrongPassword,
            AccountError::Invalid(field) => AppError::Invalid(vec![field]),
            AccountError::Forbidden => AppError::Forbidden,
            AccountError::NoSuchUser | AccountError::UnknownMerchant(_) => AppError::NotFound,
            AccountError::LastOwner => AppError::LastOwner,
            AccountError::EmailTaken => AppError::EmailTaken,
            AccountError::InviteUnusable => AppError::InviteUnusable,
            AccountError::Store(error) => error.into(),
            AccountError::Hashing(detail) => AppError::Internal(detail),
        }
    }
}
