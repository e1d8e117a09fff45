//! Staff accounts and invitations. Every query that reads or changes a
//! merchant's staff takes the merchant's id: tenant isolation lives here, in
//! the `WHERE` clauses, not only in the handlers. The exceptions are the
//! lookups that *establish* who is asking — by email at sign-in and by token
//! hash when an invitation is accepted — and they return the merchant.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::audit::{self, AuditNote};

/// What a staff member may do. Owners manage staff and sites; agents work
/// complaints; viewers only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Agent,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "owner" => Some(Role::Owner),
            "agent" => Some(Role::Agent),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// Whether this role includes everything `needed` may do.
    pub fn includes(self, needed: Role) -> bool {
        fn rank(role: Role) -> u8 {
            match role {
                Role::Viewer => 0,
                Role::Agent => 1,
                Role::Owner => 2,
            }
        }
        rank(self) >= rank(needed)
    }
}

/// A staff member, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub merchant_id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
}

/// A staff member with the stored password hash, for verifying a password.
#[derive(Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Credentials")
            .field("user", &self.user)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

/// A staff member to create. `email` must already be normalised.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub merchant_id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// An invitation to create. `token_hash` is the SHA-256 the link's token
/// is looked up by.
#[derive(Debug, Clone)]
pub struct NewInvite {
    pub token_hash: [u8; 32],
    pub merchant_id: i64,
    pub email: String,
    pub role: Role,
    pub invited_by: i64,
    pub expires_at: i64,
}

const COLUMNS: &str = "id, merchant_id, email, display_name, role, disabled, created_at, \
                       password_changed_at, password_hash";

pub(super) fn by_email(
    connection: &Connection,
    email: &str,
) -> Result<Option<Credentials>, StoreError> {
    connection
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE email = ?1"))?
        .query_row([email], from_row)
        .optional()?
        .transpose()
}

pub(super) fn by_id(
    connection: &Connection,
    merchant_id: i64,
    user_id: i64,
) -> Result<Option<User>, StoreError> {
    Ok(credentials_by_id(connection, merchant_id, user_id)?.map(|credentials| credentials.user))
}

pub(super) fn credentials_by_id(
    connection: &Connection,
    merchant_id: i64,
    user_id: i64,
) -> Result<Option<Credentials>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM users WHERE merchant_id = ?1 AND id = ?2"
        ))?
        .query_row(params![merchant_id, user_id], from_row)
        .optional()?
        .transpose()
}

pub(super) fn list(connection: &Connection, merchant_id: i64) -> Result<Vec<User>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE merchant_id = ?1 ORDER BY id"
    ))?;
    let rows = statement.query_map([merchant_id], from_row)?;
    rows.map(|row| Ok(row??.user)).collect()
}

pub(super) fn insert(
    connection: &Connection,
    user: &NewUser,
    now: i64,
) -> Result<User, StoreError> {
    if by_email(connection, &user.email)?.is_some() {
        return Err(StoreError::DuplicateEmail);
    }
    connection.execute(
        "INSERT INTO users (merchant_id, email, display_name, role, password_hash, disabled,
                            created_at, password_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)",
        params![
            user.merchant_id,
            user.email,
            user.display_name,
            user.role.as_str(),
            user.password_hash,
            now
        ],
    )?;
    by_id(connection, user.merchant_id, connection.last_insert_rowid())?
        .ok_or_else(|| StoreError::Corrupt("user vanished".to_owned()))
}

pub(super) fn set_password(
    connection: &Connection,
    merchant_id: i64,
    user_id: i64,
    password_hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    let changed = connection.execute(
        "UPDATE users SET password_hash = ?3, password_changed_at = ?4
         WHERE merchant_id = ?1 AND id = ?2",
        params![merchant_id, user_id, password_hash, now],
    )?;
    if changed == 0 {
        return Err(StoreError::NoSuchUser);
    }
    Ok(())
}

/// What an owner does to another staff member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffChange {
    Disable,
    Remove,
    /// A new role; the sessions stay, since every request reads the role afresh.
    SetRole(Role),
}

/// Disables, removes or re-roles `target` in `merchant_id` (ending their
/// sessions unless only the role changes) and records it, refusing to leave
/// the merchant without an enabled owner.
/// Runs in one writer job, so the last-owner check and the change are atomic.
pub(super) fn change(
    connection: &Connection,
    merchant_id: i64,
    target: i64,
    change: StaffChange,
    note: &AuditNote,
    now: i64,
) -> Result<User, StoreError> {
    let user = by_id(connection, merchant_id, target)?.ok_or(StoreError::NoSuchUser)?;
    let stays_owner = change == StaffChange::SetRole(Role::Owner);
    if user.role == Role::Owner && !user.disabled && !stays_owner {
        let other_owners: i64 = connection.query_row(
            "SELECT count(*) FROM users
             WHERE merchant_id = ?1 AND role = 'owner' AND disabled = 0 AND id != ?2",
            params![merchant_id, target],
            |row| row.get(0),
        )?;
        if other_owners == 0 {
            return Err(StoreError::LastOwner);
        }
    }
    if !matches!(change, StaffChange::SetRole(_)) {
        connection.execute("DELETE FROM sessions WHERE user_id = ?1", [target])?;
    }
    let mut changed = user;
    match change {
        StaffChange::Disable => {
            connection.execute(
                "UPDATE users SET disabled = 1 WHERE merchant_id = ?1 AND id = ?2",
                params![merchant_id, target],
            )?;
            changed.disabled = true;
        }
        StaffChange::SetRole(role) => {
            connection.execute(
                "UPDATE users SET role = ?3 WHERE merchant_id = ?1 AND id = ?2",
                params![merchant_id, target, role.as_str()],
            )?;
            changed.role = role;
        }
        StaffChange::Remove => {
            connection.execute(
                "DELETE FROM users WHERE merchant_id = ?1 AND id = ?2",
                params![merchant_id, target],
            )?;
            changed.disabled = true;
        }
    }
    audit::record(connection, merchant_id, note, now)?;
    Ok(changed)
}

pub(super) fn insert_invite(
    connection: &Connection,
    invite: &NewInvite,
    now: i64,
) -> Result<(), StoreError> {
    if by_email(connection, &invite.email)?.is_some() {
        return Err(StoreError::DuplicateEmail);
    }
    connection.execute(
        "INSERT INTO invites (token_hash, merchant_id, email, role, invited_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            invite.token_hash,
            invite.merchant_id,
            invite.email,
            invite.role.as_str(),
            invite.invited_by,
            now,
            invite.expires_at
        ],
    )?;
    Ok(())
}

/// Uses the invitation behind `token_hash` (unused and unexpired, else
/// [`StoreError::InviteUnusable`]) to create its account.
pub(super) fn accept_invite(
    connection: &Connection,
    token_hash: &[u8; 32],
    display_name: &str,
    password_hash: &str,
    now: i64,
) -> Result<User, StoreError> {
    let invite: Option<(i64, String, String)> = connection
        .query_row(
            "SELECT merchant_id, email, role FROM invites
             WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![token_hash, now],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let (merchant_id, email, role) = invite.ok_or(StoreError::InviteUnusable)?;
    let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?;
    connection.execute(
        "UPDATE invites SET used_at = ?2 WHERE token_hash = ?1",
        params![token_hash, now],
    )?;
    let user = insert(
        connection,
        &NewUser {
            merchant_id,
            email,
            display_name: display_name.to_owned(),
            role,
            password_hash: password_hash.to_owned(),
        },
        now,
    )?;
    let note = AuditNote::new(
        Some(user.id),
        "invite_accepted",
        serde_json::json!({ "email": user.email, "role": role }),
    );
    audit::record(connection, merchant_id, &note, now)?;
    Ok(user)
}

pub(super) fn merchant_id(connection: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(connection
        .query_row("SELECT id FROM merchants WHERE name = ?1", [name], |row| {
            row.get(0)
        })
        .optional()?)
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<Credentials, StoreError>> {
    let role: String = row.get(4)?;
    let Some(parsed) = Role::parse(&role) else {
        return Ok(Err(StoreError::Corrupt(format!("unknown role {role:?}"))));
    };
    Ok(Ok(Credentials {
        user: User {
            id: row.get(0)?,
            merchant_id: row.get(1)?,
            email: row.get(2)?,
            display_name: row.get(3)?,
            role: parsed,
            disabled: row.get(5)?,
            created_at: row.get(6)?,
            password_changed_at: row.get(7)?,
        },
        password_hash: row.get(8)?,
    }))
}

/// The email of a usable (unused, unexpired) invitation.
pub(super) fn invite_email(
    connection: &Connection,
    token_hash: &[u8; 32],
    now: i64,
) -> Result<Option<String>, StoreError> {
    Ok(connection
        .query_row(
            "SELECT email FROM invites WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![token_hash, now],
            |row| row.get(0),
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::test_support::temp_store;
    use crate::store::{AuditNote, Store};

    const NOW: i64 = 1_800_000_000_000;

    async fn add(store: &Store, merchant: &str, email: &str, role: Role) -> User {
        let merchant_id = store.ensure_merchant(merchant, NOW).await.unwrap();
        store
            .add_user(
                NewUser {
                    merchant_id,
                    email: email.to_owned(),
                    display_name: email.to_owned(),
                    role,
                    password_hash: "$argon2id$placeholder".to_owned(),
                },
                AuditNote::new(None, "owner_created", json!({})),
                NOW,
            )
            .await
            .unwrap()
    }

    fn note() -> AuditNote {
        AuditNote::new(None, "test", json!({}))
    }

    #[tokio::test]
    async fn staff_queries_never_cross_merchants() {
        let temp = temp_store();
        let store = &temp.store;
        let acme = add(store, "Acme", "a@acme.example", Role::Owner).await;
        let rival = add(store, "Rival", "r@rival.example", Role::Owner).await;
        let rival_agent = add(store, "Rival", "agent@rival.example", Role::Agent).await;
        assert_ne!(acme.merchant_id, rival.merchant_id);

        assert_eq!(store.user(acme.merchant_id, rival.id).await.unwrap(), None);
        assert_eq!(
            store.user(rival.merchant_id, rival.id).await.unwrap(),
            Some(rival.clone())
        );
        assert_eq!(
            store.users(acme.merchant_id).await.unwrap(),
            std::slice::from_ref(&acme)
        );
        assert_eq!(store.users(rival.merchant_id).await.unwrap().len(), 2);
        for change in [StaffChange::Disable, StaffChange::Remove] {
            let refused = store
                .change_staff(acme.merchant_id, rival_agent.id, change, note(), NOW)
                .await
                .unwrap_err();
            assert!(matches!(refused, StoreError::NoSuchUser));
        }
        let untouched = store.user(rival.merchant_id, rival_agent.id).await.unwrap();
        assert!(!untouched.unwrap().disabled);
        let acme_log = store
            .audit_entries(acme.merchant_id, None, 100)
            .await
            .unwrap();
        assert_eq!(acme_log.len(), 1, "only Acme's own creation");
    }

    #[tokio::test]
    async fn an_email_belongs_to_one_account_across_merchants() {
        let temp = temp_store();
        add(&temp.store, "Acme", "same@example.com", Role::Owner).await;
        let merchant_id = temp.store.ensure_merchant("Rival", NOW).await.unwrap();
        let error = temp
            .store
            .add_user(
                NewUser {
                    merchant_id,
                    email: "same@example.com".to_owned(),
                    display_name: "Twin".to_owned(),
                    role: Role::Owner,
                    password_hash: "x".to_owned(),
                },
                note(),
                NOW,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::DuplicateEmail));
    }

    #[tokio::test]
    async fn the_last_enabled_owner_stays() {
        let temp = temp_store();
        let store = &temp.store;
        let first = add(store, "Acme", "first@acme.example", Role::Owner).await;
        let second = add(store, "Acme", "second@acme.example", Role::Owner).await;
        let disabled = store
            .change_staff(
                first.merchant_id,
                second.id,
                StaffChange::Disable,
                note(),
                NOW,
            )
            .await
            .unwrap();
        assert!(disabled.disabled);
        // A disabled owner does not count as the other owner.
        let refused = store
            .change_staff(
                first.merchant_id,
                first.id,
                StaffChange::Remove,
                note(),
                NOW,
            )
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::LastOwner));
        // Removing the disabled owner is fine.
        store
            .change_staff(
                first.merchant_id,
                second.id,
                StaffChange::Remove,
                note(),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(store.users(first.merchant_id).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_invitation_is_used_once_and_only_before_it_expires() {
        let temp = temp_store();
        let store = &temp.store;
        let owner = add(store, "Acme", "owner@acme.example", Role::Owner).await;
        for (hash, email) in [
            ([1u8; 32], "one@acme.example"),
            ([2u8; 32], "two@acme.example"),
        ] {
            store
                .add_invite(
                    NewInvite {
                        token_hash: hash,
                        merchant_id: owner.merchant_id,
                        email: email.to_owned(),
                        role: Role::Viewer,
                        invited_by: owner.id,
                        expires_at: NOW + 1000,
                    },
                    note(),
                    NOW,
                )
                .await
                .unwrap();
        }
        let joined = store
            .accept_invite([1; 32], "One".to_owned(), "h".to_owned(), NOW)
            .await
            .unwrap();
        assert_eq!(
            (joined.role, joined.merchant_id),
            (Role::Viewer, owner.merchant_id)
        );
        let reused = store
            .accept_invite([1; 32], "Again".to_owned(), "h".to_owned(), NOW)
            .await
            .unwrap_err();
        assert!(matches!(reused, StoreError::InviteUnusable));
        assert_eq!(store.invite_email([2; 32], NOW + 1000).await.unwrap(), None);
        let expired = store
            .accept_invite([2; 32], "Two".to_owned(), "h".to_owned(), NOW + 1000)
            .await
            .unwrap_err();
        assert!(matches!(expired, StoreError::InviteUnusable));
    }
}
