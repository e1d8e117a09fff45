//! `/inbox/login`: the sign-in form, posted as a plain form so it works
//! before any script has loaded. The same accounts rules as
//! `POST /api/v1/auth/login` apply (throttling, session renewal); errors
//! are shown on the page, announced to screen readers.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::layout::{Page, render, respond};
use super::see_other;
use crate::domain::accounts::LoginAttempt;
use crate::http::AppState;
use crate::http::auth::ClientAddress;
use crate::http::error::AppError;
use crate::http::html::escape;
use crate::http::staff::{Staff, check_same_origin, session_cookie, session_token};

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `GET /inbox/login`: the form, or straight on when already signed in.
pub async fn page(Query(query): Query<LoginQuery>, signed_in: Result<Staff, AppError>) -> Response {
    let next = safe_next(query.next.as_deref());
    if signed_in.is_ok() {
        return see_other(next);
    }
    form(StatusCode::OK, next, "", None)
}

/// `POST /inbox/login`: signs in and goes on to the page asked for.
pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    // A cross-site form must not sign the victim into the attacker's account.
    if check_same_origin(&headers, &state.public_origin).is_err() {
        return form(
            StatusCode::FORBIDDEN,
            "/inbox",
            "",
            Some(
                "This sign-in form was sent from another site. Open the inbox directly and sign in there.",
            ),
        );
    }
    let Ok(Form(body)) = body else {
        return form(
            StatusCode::UNPROCESSABLE_ENTITY,
            "/inbox",
            "",
            Some("Enter your email address and your password."),
        );
    };
    let next = safe_next(body.next.as_deref()).to_owned();
    let attempt = LoginAttempt {
        email: body.email.clone(),
        password: body.password,
        address,
        previous: session_token(&headers),
    };
    let now = state.clock.now_millis();
    match state
        .accounts
        .login(attempt, now)
        .await
        .map_err(AppError::from)
    {
        Ok((token, signed_in)) => {
            let max_age = (signed_in.session_expires_at - now) / 1000;
            let mut response = see_other(&next);
            response.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&token, max_age, state.secure_cookies),
            );
            response
        }
        Err(AppError::InvalidCredentials) => form(
            StatusCode::UNAUTHORIZED,
            &next,
            &body.email,
            Some("The email address or the password is wrong, or the account is disabled."),
        ),
        Err(AppError::TooManyAttempts {
            retry_after_seconds,
        }) => {
            let message = format!(
                "Too many failed sign-ins. For your safety, wait {} before trying again.",
                wait_words(retry_after_seconds)
            );
            let mut response = form(
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                &body.email,
                Some(&message),
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Err(other) => {
            tracing::error!(error = ?other, "sign-in failed");
            form(
                StatusCode::SERVICE_UNAVAILABLE,
                &next,
                &body.email,
                Some("Signing in is not possible right now. Try again in a minute."),
            )
        }
    }
}

/// Where to go after signing in: a page of the inbox, nothing else (an
/// open redirect would let a link send staff to a look-alike site).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(next)
            if (next == "/inbox" || next.starts_with("/inbox/") || next.starts_with("/inbox?"))
                && !next.starts_with("/inbox/login")
                && next.chars().all(|c| c.is_ascii_graphic()) =>
        {
            next
        }
        _ => "/inbox",
    }
}

fn wait_words(seconds: u64) -> String {
    match seconds {
        0 | 1 => "a second".to_owned(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

fn form(status: StatusCode, next: &str, email: &str, error: Option<&str>) -> Response {
    let (alert, invalid) = match error {
        Some(message) => (
            format!(
                "<div class=\"alert\" role=\"alert\" id=\"login-error\"><p>{}</p></div>\n",
                escape(message)
            ),
            " aria-invalid=\"true\" aria-describedby=\"login-error\"",
        ),
        None => (String::new(), ""),
    };
    let main = format!(
        "<div class=\"signin\">\n<h1>Sign in to the inbox</h1>\n{alert}\
         <form method=\"post\" action=\"/inbox/login\" class=\"stacked\">\n\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\n\
         <label for=\"email\">Email address</label>\n\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required \
         value=\"{email}\"{invalid}>\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required{invalid}>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n</div>\n",
        next = escape(next),
        email = escape(email),
    );
    respond(
        status,
        render(&Page {
            title: "Sign in",
            kind: "login",
            main: &main,
            staff: None,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inbox_pages_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/inbox/c/HRD-1234-5678")),
            "/inbox/c/HRD-1234-5678"
        );
        assert_eq!(safe_next(Some("/inbox?status=open")), "/inbox?status=open");
        for hostile in [
            "https://evil.example/inbox",
            "//evil.example",
            "/inboxes",
            "/inbox/login?next=/inbox",
            "/inbox/\r\nSet-Cookie: x",
            "/r/token",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/inbox", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/inbox");
    }
}
