//! Staff accounts: passwords, sign-in, sessions, invitations and the owner's
//! powers over staff.
//!
//! Passwords are hashed with Argon2id into PHC strings, on the blocking pool
//! and a few at a time, so a burst of sign-ins cannot starve the server.
//! Sign-in takes the same work for an unknown email (it verifies against a
//! dummy hash) and answers with the same error. Failures earn growing delays
//! per email and per client address, stored in the database. Every time is
//! passed in as `now` (ms since the epoch) so tests move a clock, not sleep.

use std::net::IpAddr;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use heard_shared::FieldError;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::domain::token::digest;
use crate::random;
use crate::store::{
    AuditEntry, AuditNote, NewInvite, NewSession, NewUser, Role, StaffChange, Store, StoreError,
    Throttle, User,
};

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

const MINUTE_MS: i64 = 60 * 1000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Argon2id cost. The defaults follow the OWASP recommendation (19 MiB,
/// 2 passes, 1 lane); tests pass the smallest legal values, so the real
/// algorithm still runs, only cheaper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        PasswordParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The cheapest parameters Argon2id accepts (8 KiB, one pass): the real
/// algorithm, for tests and throwaway demos where the default cost would only
/// make them slow. Never for real accounts.
pub const LIGHT_PASSWORD_PARAMS: PasswordParams = PasswordParams {
    memory_kib: 8,
    iterations: 1,
    parallelism: 1,
};

/// Session lifetimes and sign-in throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountPolicy {
    /// A session unused this long is over.
    pub idle_ms: i64,
    /// A session is over this long after sign-in, however busy.
    pub absolute_ms: i64,
    /// `last_seen_at` is written at most this often per session.
    pub touch_every_ms: i64,
    /// How long an invitation link works.
    pub invite_ms: i64,
    pub per_email: Throttle,
    /// Looser than per email: an office may share one address.
    pub per_address: Throttle,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        AccountPolicy {
            idle_ms: 12 * HOUR_MS,
            absolute_ms: 7 * 24 * HOUR_MS,
            touch_every_ms: MINUTE_MS,
            invite_ms: 72 * HOUR_MS,
            per_email: Throttle {
                free_failures: 5,
                first_delay_ms: 30 * 1000,
                max_delay_ms: HOUR_MS,
                forget_after_ms: 24 * HOUR_MS,
            },
            per_address: Throttle {
                free_failures: 20,
                first_delay_ms: 30 * 1000,
                max_delay_ms: HOUR_MS,
                forget_after_ms: HOUR_MS,
            },
        }
    }
}

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Unknown email, wrong password or disabled account: one answer for all,
    /// so sign-in does not reveal which addresses have accounts.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    #[error("too many failed sign-ins; try again in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("{}", .0.message)]
    Invalid(FieldError),
    #[error("this needs a role the staff member does not have")]
    Forbidden,
    #[error("no such staff member")]
    NoSuchUser,
    #[error("the last owner cannot be removed or disabled")]
    LastOwner,
    #[error("a staff account with this email already exists")]
    EmailTaken,
    #[error("the invitation is unknown, used or expired")]
    InviteUnusable,
    #[error("no merchant is called {0:?}")]
    UnknownMerchant(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl From<StoreError> for AccountError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::DuplicateEmail => AccountError::EmailTaken,
            StoreError::NoSuchUser => AccountError::NoSuchUser,
            StoreError::LastOwner => AccountError::LastOwner,
            StoreError::InviteUnusable => AccountError::InviteUnusable,
            other => AccountError::Store(other),
        }
    }
}

/// 256 random bits: a session cookie or an invitation link. Never stored;
/// the database keeps a hash whose domain depends on the use.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken([u8; 32]);

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SecretToken(<redacted>)")
    }
}

impl SecretToken {
    pub fn generate() -> SecretToken {
        let mut bytes = [0u8; 32];
        random::fill(&mut bytes);
        SecretToken(bytes)
    }

    /// Reads a token; `None` for anything but 32 bytes of URL-safe base64.
    pub fn parse(text: &str) -> Option<SecretToken> {
        if text.len() != 43 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        Some(SecretToken(bytes.try_into().ok()?))
    }

    /// The text form (43 characters).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the `sessions` table stores and looks up.
    pub fn session_hash(&self) -> [u8; 32] {
        digest(&[b"heard/session\0", &self.0])
    }

    /// The session's CSRF token. Derived, not stored: only the holder of the
    /// (HttpOnly) cookie can compute it, `GET /auth/me` can hand it out again
    /// after a page reload, and a copy of the database reveals nothing.
    pub fn csrf_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest(&[b"heard/csrf\0", &self.0]))
    }

    /// What the `invites` table stores and looks up.
    pub fn invite_hash(&self) -> [u8; 32] {
        digest(&[b"heard/invite\0", &self.0])
    }
}

/// Compares two strings in time that depends only on their lengths.
pub fn same_secret(left: &str, right: &str) -> bool {
    use subtle::ConstantTimeEq;
    left.len() == right.len() && bool::from(left.as_bytes().ct_eq(right.as_bytes()))
}

/// The form every email is stored and looked up in.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks a normalised email address: one `@` with text either side, no
/// spaces or control characters, at most 254 characters.
pub fn check_email(email: &str) -> Result<(), AccountError> {
    let plausible = email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if plausible {
        Ok(())
    } else {
        Err(AccountError::Invalid(FieldError::new(
            "email",
            "invalid",
            "Enter an email address such as name@example.com.",
        )))
    }
}

/// The password rules: 12 to 1024 characters, and not the email address.
pub fn check_password(password: &str, email: &str) -> Result<(), AccountError> {
    let length = password.chars().count();
    let problem = if length < MIN_PASSWORD_CHARS {
        Some((
            "too_short",
            format!("Use at least {MIN_PASSWORD_CHARS} characters."),
        ))
    } else if length > MAX_PASSWORD_CHARS {
        Some((
            "too_long",
            format!("Use at most {MAX_PASSWORD_CHARS} characters."),
        ))
    } else if normalise_email(password) == normalise_email(email) {
        Some((
            "invalid",
            "The password must not be the email address.".to_owned(),
        ))
    } else {
        None
    };
    match problem {
        Some((code, message)) => Err(AccountError::Invalid(FieldError::new(
            "password", code, message,
        ))),
        None => Ok(()),
    }
}

/// A display name: 1 to 100 characters, no control characters.
pub fn check_display_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    let length = name.chars().count();
    if length == 0 || length > MAX_DISPLAY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AccountError::Invalid(FieldError::new(
            "display_name",
            "invalid",
            format!("Enter a name of 1 to {MAX_DISPLAY_NAME_CHARS} characters."),
        )));
    }
    Ok(name.to_owned())
}

/// A signed-in staff member, as the session says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub user: User,
    pub session_expires_at: i64,
}

/// What sign-in needs.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    pub email: String,
    pub password: String,
    /// The client's address, for per-address throttling.
    pub address: Option<IpAddr>,
    /// The session cookie the browser already had: ended at sign-in, so a
    /// planted session id never survives a login (session fixation).
    pub previous: Option<SecretToken>,
}

/// Staff accounts over a store; cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    hasher: Arc<Hasher>,
    policy: AccountPolicy,
}

struct Hasher {
    argon2: Argon2<'static>,
    /// The hash of a random password with the current parameters: verified
    /// against when the email is unknown, so that costs the same.
    dummy: String,
    /// Argon2 holds `memory_kib` per running hash; at most this many run.
    permits: Semaphore,
}

impl Accounts {
    pub fn new(store: Store, params: PasswordParams) -> Result<Accounts, AccountError> {
        Self::with_policy(store, params, AccountPolicy::default())
    }

    pub fn with_policy(
        store: Store,
        params: PasswordParams,
        policy: AccountPolicy,
    ) -> Result<Accounts, AccountError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|error| AccountError::Hashing(error.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy = hash_with(&argon2, &SecretToken::generate().encode())?;
        let parallel = std::thread::available_parallelism().map_or(2, |count| count.get());
        Ok(Accounts {
            store,
            hasher: Arc::new(Hasher {
                argon2,
                dummy,
                permits: Semaphore::new(parallel),
            }),
            policy,
        })
    }

    pub fn policy(&self) -> &AccountPolicy {
        &self.policy
    }

    /// Signs in: checks the throttles, verifies the password (against a
    /// dummy hash for an unknown email), and on success starts a fresh
    /// session, ending the one the browser presented.
    pub async fn login(
        &self,
        attempt: LoginAttempt,
        now: i64,
    ) -> Result<(SecretToken, SignedIn), AccountError> {
        let email = normalise_email(&attempt.email);
        let email_subject = format!("email:{email}");
        let address_subject = match attempt.address {
            Some(address) => format!("ip:{address}"),
            None => "ip:unknown".to_owned(),
        };
        let locked = self
            .store
            .login_locked_until(vec![email_subject.clone(), address_subject.clone()], now)
            .await?;
        if let Some(until) = locked {
            return Err(rate_limited(until, now));
        }
        if attempt.password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(AccountError::InvalidCredentials);
        }
        let credentials = self.store.credentials_by_email(&email).await?;
        let stored_hash = credentials
            .as_ref()
            .map(|found| found.password_hash.clone());
        let matches = self.verify(attempt.password, stored_hash).await?;
        let user = match credentials {
            Some(credentials) if matches && !credentials.user.disabled => credentials.user,
            other => {
                let audit = other.map(|credentials| {
                    (
                        credentials.user.merchant_id,
                        AuditNote::new(
                            Some(credentials.user.id),
                            "login_failed",
                            json!({ "address": address_subject }),
                        ),
                    )
                });
                self.store
                    .record_login_failure(
                        vec![
                            (email_subject, self.policy.per_email),
                            (address_subject, self.policy.per_address),
                        ],
                        audit,
                        now,
                    )
                    .await?;
                return Err(AccountError::InvalidCredentials);
            }
        };
        let token = SecretToken::generate();
        let expires_at = now.saturating_add(self.policy.absolute_ms);
        self.store
            .start_session(
                NewSession {
                    id_hash: token.session_hash(),
                    user_id: user.id,
                    merchant_id: user.merchant_id,
                    expires_at,
                },
                attempt.previous.map(|previous| previous.session_hash()),
                email_subject,
                self.policy.idle_ms,
                AuditNote::new(
                    Some(user.id),
                    "login",
                    json!({ "address": address_subject }),
                ),
                now,
            )
            .await?;
        Ok((
            token,
            SignedIn {
                user,
                session_expires_at: expires_at,
            },
        ))
    }

    /// The staff member behind a session token, if the session is live: not
    /// past its absolute end, used within the idle limit, and its account
    /// enabled. A dead session is deleted on sight.
    pub async fn session(
        &self,
        token: &SecretToken,
        now: i64,
    ) -> Result<Option<SignedIn>, AccountError> {
        let id_hash = token.session_hash();
        let Some(record) = self.store.session(id_hash).await? else {
            return Ok(None);
        };
        let idle = now.saturating_sub(record.last_seen_at);
        if now >= record.expires_at || idle >= self.policy.idle_ms || record.user.disabled {
            self.store.end_session(id_hash, None, now).await?;
            return Ok(None);
        }
        if idle >= self.policy.touch_every_ms {
            self.store.touch_session(id_hash, now).await?;
        }
        Ok(Some(SignedIn {
            user: record.user,
            session_expires_at: record.expires_at,
        }))
    }

    /// Ends the session for good.
    pub async fn logout(
        &self,
        token: &SecretToken,
        user: &User,
        now: i64,
    ) -> Result<(), AccountError> {
        let note = AuditNote::new(Some(user.id), "logout", json!({}));
        self.store
            .end_session(token.session_hash(), Some((user.merchant_id, note)), now)
            .await?;
        Ok(())
    }

    /// Changes the user's password after checking the current one (a wrong
    /// one counts as a failed sign-in), and ends their other sessions.
    pub async fn change_password(
        &self,
        user: &User,
        session: &SecretToken,
        current: String,
        new: String,
        now: i64,
    ) -> Result<(), AccountError> {
        let subject = format!("email:{}", user.email);
        if let Some(until) = self
            .store
            .login_locked_until(vec![subject.clone()], now)
            .await?
        {
            return Err(rate_limited(until, now));
        }
        let credentials = self
            .store
            .credentials(user.merchant_id, user.id)
            .await?
            .ok_or(AccountError::NoSuchUser)?;
        if current.chars().count() > MAX_PASSWORD_CHARS
            || !self
                .verify(current, Some(credentials.password_hash))
                .await?
        {
            let note = AuditNote::new(Some(user.id), "password_change_failed", json!({}));
            self.store
                .record_login_failure(
                    vec![(subject, self.policy.per_email)],
                    Some((user.merchant_id, note)),
                    now,
                )
                .await?;
            return Err(AccountError::WrongPassword);
        }
        check_password(&new, &user.email)?;
        let hash = self.hash(new).await?;
        let note = AuditNote::new(Some(user.id), "password_changed", json!({}));
        self.store
            .change_password(
                user.merchant_id,
                user.id,
                hash,
                session.session_hash(),
                note,
                now,
            )
            .await?;
        Ok(())
    }

    /// Creates an owner from the command line, and the merchant if it is new.
    pub async fn create_owner(
        &self,
        merchant: &str,
        email: &str,
        display_name: &str,
        password: String,
        now: i64,
    ) -> Result<User, AccountError> {
        let email = normalise_email(email);
        check_email(&email)?;
        let display_name = check_display_name(display_name)?;
        check_password(&password, &email)?;
        let hash = self.hash(password).await?;
        let merchant_id = self.store.ensure_merchant(merchant, now).await?;
        let note = AuditNote::new(
            None,
            "owner_created",
            json!({ "email": email, "by": "command line" }),
        );
        Ok(self
            .store
            .add_user(
                NewUser {
                    merchant_id,
                    email,
                    display_name,
                    role: Role::Owner,
                    password_hash: hash,
                },
                note,
                now,
            )
            .await?)
    }

    /// The staff of a merchant, for the command line.
    pub async fn staff_of_merchant(&self, merchant: &str) -> Result<Vec<User>, AccountError> {
        let merchant_id = self
            .store
            .merchant_id_by_name(merchant)
            .await?
            .ok_or_else(|| AccountError::UnknownMerchant(merchant.to_owned()))?;
        Ok(self.store.users(merchant_id).await?)
    }

    /// The actor's colleagues (any role may see who they work with).
    pub async fn staff(&self, actor: &User) -> Result<Vec<User>, AccountError> {
        Ok(self.store.users(actor.merchant_id).await?)
    }

    /// Owner only: a one-time link for `email` to join with `role`.
    /// Returns the token (shown once) and when it expires.
    pub async fn invite(
        &self,
        actor: &User,
        email: &str,
        role: Role,
        now: i64,
    ) -> Result<(SecretToken, i64), AccountError> {
        require_owner(actor)?;
        let email = normalise_email(email);
        check_email(&email)?;
        let token = SecretToken::generate();
        let expires_at = now.saturating_add(self.policy.invite_ms);
        let note = AuditNote::new(
            Some(actor.id),
            "invite_created",
            json!({ "email": email, "role": role }),
        );
        self.store
            .add_invite(
                NewInvite {
                    token_hash: token.invite_hash(),
                    merchant_id: actor.merchant_id,
                    email,
                    role,
                    invited_by: actor.id,
                    expires_at,
                },
                note,
                now,
            )
            .await?;
        Ok((token, expires_at))
    }

    /// Uses an invitation (once, before it expires) to create the account.
    pub async fn accept_invite(
        &self,
        token: &str,
        display_name: &str,
        password: String,
        now: i64,
    ) -> Result<User, AccountError> {
        let token = SecretToken::parse(token).ok_or(AccountError::InviteUnusable)?;
        let email = self
            .store
            .invite_email(token.invite_hash(), now)
            .await?
            .ok_or(AccountError::InviteUnusable)?;
        let display_name = check_display_name(display_name)?;
        check_password(&password, &email)?;
        let hash = self.hash(password).await?;
        Ok(self
            .store
            .accept_invite(token.invite_hash(), display_name, hash, now)
            .await?)
    }

    /// Owner only: disables a staff member of the same merchant and ends
    /// their sessions.
    pub async fn disable(&self, actor: &User, target: i64, now: i64) -> Result<User, AccountError> {
        self.change(actor, target, StaffChange::Disable, "staff_disabled", now)
            .await
    }

    /// Owner only: removes a staff member of the same merchant.
    pub async fn remove(&self, actor: &User, target: i64, now: i64) -> Result<(), AccountError> {
        self.change(actor, target, StaffChange::Remove, "staff_removed", now)
            .await
            .map(drop)
    }

    /// Owner only: gives a staff member of the same merchant another role
    /// (never demoting the last enabled owner).
    pub async fn set_role(
        &self,
        actor: &User,
        target: i64,
        role: Role,
        now: i64,
    ) -> Result<User, AccountError> {
        require_owner(actor)?;
        let note = AuditNote::new(
            Some(actor.id),
            "role_changed",
            json!({ "target": target, "role": role }),
        );
        Ok(self
            .store
            .change_staff(
                actor.merchant_id,
                target,
                StaffChange::SetRole(role),
                note,
                now,
            )
            .await?)
    }

    /// Owner only: the merchant's audit log, newest first.
    pub async fn audit_log(
        &self,
        actor: &User,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, AccountError> {
        require_owner(actor)?;
        Ok(self
            .store
            .audit_entries(actor.merchant_id, before, limit)
            .await?)
    }

    async fn change(
        &self,
        actor: &User,
        target: i64,
        change: StaffChange,
        action: &'static str,
        now: i64,
    ) -> Result<User, AccountError> {
        require_owner(actor)?;
        let note = AuditNote::new(Some(actor.id), action, json!({ "target": target }));
        Ok(self
            .store
            .change_staff(actor.merchant_id, target, change, note, now)
            .await?)
    }

    async fn hash(&self, password: String) -> Result<String, AccountError> {
        let hasher = Arc::clone(&self.hasher);
        let _permit = self
            .hasher
            .permits
            .acquire()
            .await
            .map_err(|error| AccountError::Hashing(error.to_string()))?;
        tokio::task::spawn_blocking(move || hash_with(&hasher.argon2, &password))
            .await
            .map_err(|error| AccountError::Hashing(error.to_string()))?
    }

    /// Verifies `password` against `stored`, or against the dummy hash when
    /// there is no account, so both paths do the same work.
    async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, AccountError> {
        let hasher = Arc::clone(&self.hasher);
        let _permit = self
            .hasher
            .permits
            .acquire()
            .await
            .map_err(|error| AccountError::Hashing(error.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let real = stored.is_some();
            let phc = stored.unwrap_or_else(|| hasher.dummy.clone());
            let parsed = PasswordHash::new(&phc)
                .map_err(|error| AccountError::Hashing(error.to_string()))?;
            let matches = hasher
                .argon2
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            Ok(real && matches)
        })
        .await
        .map_err(|error| AccountError::Hashing(error.to_string()))?
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &str) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    random::fill(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|error| AccountError::Hashing(error.to_string()))?;
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| AccountError::Hashing(error.to_string()))
}

fn require_owner(actor: &User) -> Result<(), AccountError> {
    if actor.role == Role::Owner && !actor.disabled {
        Ok(())
    } else {
        Err(AccountError::Forbidden)
    }
}

fn rate_limited(until: i64, now: i64) -> AccountError {
    let wait_ms = until.saturating_sub(now).max(0);
    AccountError::RateLimited {
        retry_after_seconds: (wait_ms as u64).div_ceil(1000).max(1),
    }
}

#[cfg(test)]
mod tests;
