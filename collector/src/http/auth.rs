//! Staff sign-in, sessions, password change, invitations, staff management
//! and the audit log: `/api/v1/auth/*`, `/api/v1/staff*`, `/api/v1/audit`.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use super::staff::{Staff, check_same_origin, cleared_cookie, session_cookie, session_token};
use crate::clock;
use crate::domain::accounts::LoginAttempt;
use crate::store::{AuditEntry, Role, User};

/// The largest request body these endpoints read.
pub const STAFF_BODY_BYTES: usize = 16 * 1024;

/// How many audit entries one page holds at most.
const MAX_AUDIT_PAGE: usize = 200;

/// A staff member as the API shows them.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        UserView {
            id: user.id,
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            disabled: user.disabled,
            created_at: clock::rfc3339(user.created_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SessionView {
    pub user: UserView,
    /// Send it back as `X-CSRF-Token` on every state-changing request.
    pub csrf_token: String,
    pub expires_at: String,
}

#[derive(Deserialize)]
pub struct LoginBody {
    email: String,
    password: String,
}

/// The client's address, when the server was started with connection info
/// (`serve` is; `oneshot` tests may add it): the peer, or — when the peer is
/// one of the `trusted_proxies` — the client it forwarded for, exactly as the
/// site API's rate limits see it.
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| state.rate_limits.client(address.ip(), &parts.headers)),
        ))
    }
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response, AppError> {
    // Login CSRF (signing a victim into the attacker's account) is refused too.
    check_same_origin(&headers, &state.public_origin)?;
    let attempt = LoginAttempt {
        email: body.email,
        password: body.password,
        address,
        previous: session_token(&headers),
    };
    let now = state.clock.now_millis();
    let (token, signed_in) = state.accounts.login(attempt, now).await?;
    let max_age = (signed_in.session_expires_at - now) / 1000;
    let view = SessionView {
        user: UserView::from(&signed_in.user),
        csrf_token: token.csrf_token(),
        expires_at: clock::rfc3339(signed_in.session_expires_at),
    };
    let cookie = session_cookie(&token, max_age, state.secure_cookies);
    Ok(([(header::SET_COOKIE, cookie)], Json(view)).into_response())
}

pub async fn logout(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    let now = state.clock.now_millis();
    state
        .accounts
        .logout(staff.session_token(), &staff.user, now)
        .await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cleared_cookie(state.secure_cookies))],
    )
        .into_response())
}

pub async fn me(staff: Staff) -> Json<SessionView> {
    Json(SessionView {
        user: UserView::from(&staff.user),
        csrf_token: staff.csrf_token(),
        expires_at: clock::rfc3339(staff.session_expires_at),
    })
}

#[derive(Deserialize)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<StatusCode, AppError> {
    let now = state.clock.now_millis();
    state
        .accounts
        .change_password(
            &staff.user,
            staff.session_token(),
            body.current_password,
            body.new_password,
            now,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, Deserialize)]
pub struct StaffList {
    pub staff: Vec<UserView>,
}

pub async fn list_staff(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<StaffList>, AppError> {
    let users = state.accounts.staff(&staff.user).await?;
    Ok(Json(StaffList {
        staff: users.iter().map(UserView::from).collect(),
    }))
}

#[derive(Deserialize)]
pub struct InviteBody {
    email: String,
    role: Role,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InviteView {
    pub email: String,
    pub role: Role,
    /// Shown once: the one-time secret of the invitation link.
    pub token: String,
    /// Where the invitee posts `{display_name, password}`.
    pub accept_path: String,
    pub expires_at: String,
}

pub async fn invite(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<InviteBody>,
) -> Result<(StatusCode, Json<InviteView>), AppError> {
    staff.require(Role::Owner)?;
    let now = state.clock.now_millis();
    let (token, expires_at) = state
        .accounts
        .invite(&staff.user, &body.email, body.role, now)
        .await?;
    let token = token.encode();
    Ok((
        StatusCode::CREATED,
        Json(InviteView {
            email: crate::domain::accounts::normalise_email(&body.email),
            role: body.role,
            accept_path: format!("/api/v1/staff/invites/{token}/accept"),
            token,
            expires_at: clock::rfc3339(expires_at),
        }),
    ))
}

#[derive(Deserialize)]
pub struct AcceptBody {
    display_name: String,
    password: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UserEnvelope {
    pub user: UserView,
}

/// Needs no session: the invitation token is the credential. The new
/// member signs in afterwards like everyone else.
pub async fn accept_invite(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AcceptBody>,
) -> Result<(StatusCode, Json<UserEnvelope>), AppError> {
    check_same_origin(&headers, &state.public_origin)?;
    let now = state.clock.now_millis();
    let user = state
        .accounts
        .accept_invite(&token, &body.display_name, body.password, now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UserEnvelope {
            user: UserView::from(&user),
        }),
    ))
}

pub async fn disable(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<UserEnvelope>, AppError> {
    staff.require(Role::Owner)?;
    let target = staff_id(&id)?;
    let now = state.clock.now_millis();
    let user = state.accounts.disable(&staff.user, target, now).await?;
    Ok(Json(UserEnvelope {
        user: UserView::from(&user),
    }))
}

#[derive(Deserialize)]
pub struct RoleBody {
    role: Role,
}

pub async fn set_role(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Json<UserEnvelope>, AppError> {
    staff.require(Role::Owner)?;
    let target = staff_id(&id)?;
    let now = state.clock.now_millis();
    let user = state
        .accounts
        .set_role(&staff.user, target, body.role, now)
        .await?;
    Ok(Json(UserEnvelope {
        user: UserView::from(&user),
    }))
}

pub async fn remove(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    staff.require(Role::Owner)?;
    let target = staff_id(&id)?;
    let now = state.clock.now_millis();
    state.accounts.remove(&staff.user, target, now).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub id: i64,
    pub user_id: Option<i64>,
    pub action: String,
    pub detail: serde_json::Value,
    pub at: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> Self {
        AuditEntryView {
            id: entry.id,
            user_id: entry.user_id,
            action: entry.action,
            detail: entry.detail,
            at: clock::rfc3339(entry.at),
        }
    }
}

/// Owner only: newest first; pass the last id seen as `before` for the next page.
pub async fn audit(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    staff.require(Role::Owner)?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_AUDIT_PAGE);
    let entries = state
        .accounts
        .audit_log(&staff.user, query.before, limit)
        .await?;
    Ok(Json(AuditPage {
        entries: entries.into_iter().map(AuditEntryView::from).collect(),
    }))
}

/// A staff id from the path; anything that is not one is simply not found.
fn staff_id(text: &str) -> Result<i64, AppError> {
    text.parse().map_err(|_| AppError::NotFound)
}
