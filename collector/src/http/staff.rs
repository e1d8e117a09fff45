//! The `Staff` extractor: who is signed in, and the CSRF check.
//!
//! **Every handler that takes [`Staff`] is protected against cross-site
//! requests**: for any method other than GET/HEAD/OPTIONS the extractor
//! demands an `X-CSRF-Token` header equal to the session's token and refuses
//! an `Origin` (or `Sec-Fetch-Site`) that is not the collector's own, so a
//! new state-changing endpoint cannot forget the check.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

use super::AppState;
use super::error::AppError;
use crate::domain::accounts::{SecretToken, same_secret};
use crate::store::{Role, User};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "heard_session";
/// The header that carries the CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct Staff {
    pub user: User,
    pub session_expires_at: i64,
    token: SecretToken,
}

impl Staff {
    pub fn user_id(&self) -> i64 {
        self.user.id
    }

    pub fn merchant_id(&self) -> i64 {
        self.user.merchant_id
    }

    pub fn role(&self) -> Role {
        self.user.role
    }

    /// 403 `forbidden` unless the staff member's role includes `role`.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.user.role.includes(role) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// The session token (from the cookie), for logout and password change.
    pub fn session_token(&self) -> &SecretToken {
        &self.token
    }

    pub fn csrf_token(&self) -> String {
        self.token.csrf_token()
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = session_token(&parts.headers).ok_or(AppError::NotSignedIn)?;
        let now = state.clock.now_millis();
        let signed_in = state
            .accounts
            .session(&token, now)
            .await?
            .ok_or(AppError::NotSignedIn)?;
        if !parts.method.is_safe() {
            check_same_origin(&parts.headers, &state.public_origin)?;
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            if !same_secret(presented, &token.csrf_token()) {
                tracing::info!(
                    user = signed_in.user.id,
                    "refused a request without the right CSRF token"
                );
                return Err(AppError::CsrfFailed);
            }
        }
        Ok(Staff {
            user: signed_in.user,
            session_expires_at: signed_in.session_expires_at,
            token,
        })
    }
}

/// The session token from the `Cookie` header(s), if well-formed.
pub fn session_token(headers: &HeaderMap) -> Option<SecretToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("heard_session="))
        .find_map(SecretToken::parse)
}

/// 403 `csrf_failed` when the browser says the request came from another
/// origin. Requests without these headers (curl, servers) carry no ambient
/// cookies from a browser and pass; the CSRF token still guards sessions.
pub fn check_same_origin(headers: &HeaderMap, public_origin: &str) -> Result<(), AppError> {
    if let Some(origin) = headers.get(header::ORIGIN)
        && origin.as_bytes() != public_origin.as_bytes()
    {
        tracing::info!(
            ?origin,
            "refused a state-changing request from a foreign origin"
        );
        return Err(AppError::CsrfFailed);
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && !(site == "same-origin" || site == "none")
    {
        return Err(AppError::CsrfFailed);
    }
    Ok(())
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Strict, whole site,
/// `Secure` when the collector is reached over https (never on plain http,
/// where the browser would drop it and local use would break).
pub fn session_cookie(token: &SecretToken, max_age_seconds: i64, secure: bool) -> HeaderValue {
    cookie(&token.encode(), max_age_seconds, secure)
}

/// `Set-Cookie` that makes the browser forget the session.
pub fn cleared_cookie(secure: bool) -> HeaderValue {
    cookie("", 0, secure)
}

fn cookie(value: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_seconds}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("heard_session="))
}
