//! Staff sessions and sign-in throttling.
//!
//! A session is found by the SHA-256 of its token (the token itself is never
//! stored). Failed sign-ins are counted per subject (`email:…`, `ip:…`) in
//! the database, so the delays they earn survive a restart.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::users::{Role, User};

/// A session row joined with its staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user: User,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// A session to create at sign-in.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: [u8; 32],
    pub user_id: i64,
    /// The user's merchant, for the audit entry.
    pub merchant_id: i64,
    pub expires_at: i64,
}

/// How failed sign-ins for one kind of subject turn into delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Failures allowed before the first delay.
    pub free_failures: u32,
    /// The first delay; each further failure doubles it.
    pub first_delay_ms: i64,
    /// The longest delay.
    pub max_delay_ms: i64,
    /// A subject whose last failure is older than this starts again from zero.
    pub forget_after_ms: i64,
}

impl Throttle {
    /// How long a subject is locked out after its `failures`-th failure.
    pub fn delay_after(&self, failures: u32) -> i64 {
        if failures < self.free_failures {
            return 0;
        }
        let doublings = (failures - self.free_failures).min(32);
        self.first_delay_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.max_delay_ms)
    }
}

pub(super) fn insert(
    connection: &Connection,
    session: &NewSession,
    now: i64,
) -> Result<(), StoreError> {
    connection.execute(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?3, ?4)",
        params![session.id_hash, session.user_id, now, session.expires_at],
    )?;
    Ok(())
}

pub(super) fn by_hash(
    connection: &Connection,
    id_hash: &[u8; 32],
) -> Result<Option<SessionRecord>, StoreError> {
    let row = connection
        .prepare_cached(
            "SELECT u.id, u.merchant_id, u.email, u.display_name, u.role, u.disabled,
                    u.created_at, u.password_changed_at,
                    s.created_at, s.last_seen_at, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = ?1",
        )?
        .query_row([id_hash], |row| {
            Ok((
                User {
                    id: row.get(0)?,
                    merchant_id: row.get(1)?,
                    email: row.get(2)?,
                    display_name: row.get(3)?,
                    role: Role::Viewer,
                    disabled: row.get(5)?,
                    created_at: row.get(6)?,
                    password_changed_at: row.get(7)?,
                },
                row.get::<_, String>(4)?,
                row.get(8)?,
                row.get(9)?,
                row.get(10)?,
            ))
        })
        .optional()?;
    let Some((user, role, created_at, last_seen_at, expires_at)) = row else {
        return Ok(None);
    };
    let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?;
    Ok(Some(SessionRecord {
        user: User { role, ..user },
        created_at,
        last_seen_at,
        expires_at,
    }))
}

pub(super) fn touch(
    connection: &Connection,
    id_hash: &[u8; 32],
    now: i64,
) -> Result<(), StoreError> {
    connection.execute(
        "UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1 AND last_seen_at < ?2",
        params![id_hash, now],
    )?;
    Ok(())
}

pub(super) fn delete(connection: &Connection, id_hash: &[u8; 32]) -> Result<bool, StoreError> {
    Ok(connection.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])? > 0)
}

/// Ends every session of `user_id` except `keep`.
pub(super) fn delete_others(
    connection: &Connection,
    user_id: i64,
    keep: &[u8; 32],
) -> Result<usize, StoreError> {
    Ok(connection.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND id_hash != ?2",
        params![user_id, keep],
    )?)
}

/// Removes `user_id`'s sessions that are past either limit, so they do not
/// pile up for someone who never logs out.
pub(super) fn delete_dead(
    connection: &Connection,
    user_id: i64,
    now: i64,
    idle_ms: i64,
) -> Result<(), StoreError> {
    connection.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND (expires_at <= ?2 OR last_seen_at <= ?3)",
        params![user_id, now, now.saturating_sub(idle_ms)],
    )?;
    Ok(())
}

/// How many expired rows a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: usize,
    pub attempts: usize,
    pub invites: usize,
}

/// Removes every session past either limit, failure counts that are both
/// unlocked and forgotten, and invitations past their end (used or not), so
/// these tables hold only what can still matter.
pub(super) fn sweep(
    connection: &Connection,
    now: i64,
    idle_ms: i64,
    forget_after_ms: i64,
) -> Result<Swept, StoreError> {
    Ok(Swept {
        sessions: connection.execute(
            "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2",
            params![now, now.saturating_sub(idle_ms)],
        )?,
        attempts: connection.execute(
            "DELETE FROM login_attempts WHERE locked_until <= ?1 AND last_failure_at <= ?2",
            params![now, now.saturating_sub(forget_after_ms)],
        )?,
        invites: connection.execute("DELETE FROM invites WHERE expires_at <= ?1", [now])?,
    })
}

/// The latest time any of `subjects` is locked out until, if later than `now`.
pub(super) fn locked_until(
    connection: &Connection,
    subjects: &[String],
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let mut statement =
        connection.prepare_cached("SELECT locked_until FROM login_attempts WHERE subject = ?1")?;
    let mut latest = None;
    for subject in subjects {
        let until: Option<i64> = statement
            .query_row([subject], |row| row.get(0))
            .optional()?;
        if let Some(until) = until.filter(|until| *until > now) {
            latest = Some(latest.map_or(until, |latest: i64| latest.max(until)));
        }
    }
    Ok(latest)
}

/// Counts one failure for `subject` and sets its lockout by `throttle`.
pub(super) fn record_failure(
    connection: &Connection,
    subject: &str,
    throttle: &Throttle,
    now: i64,
) -> Result<(), StoreError> {
    let previous: Option<(u32, i64)> = connection
        .query_row(
            "SELECT failures, last_failure_at FROM login_attempts WHERE subject = ?1",
            [subject],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let failures = match previous {
        Some((failures, last)) if now.saturating_sub(last) < throttle.forget_after_ms => {
            failures.saturating_add(1)
        }
        _ => 1,
    };
    let locked_until = now.saturating_add(throttle.delay_after(failures));
    connection.execute(
        "INSERT INTO login_attempts (subject, failures, last_failure_at, locked_until)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(subject) DO UPDATE SET
             failures = excluded.failures,
             last_failure_at = excluded.last_failure_at,
             locked_until = excluded.locked_until",
        params![subject, failures, now, locked_until],
    )?;
    Ok(())
}

pub(super) fn clear_failures(connection: &Connection, subject: &str) -> Result<(), StoreError> {
    connection.execute("DELETE FROM login_attempts WHERE subject = ?1", [subject])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::test_support::temp_store;
    use crate::store::{AuditNote, NewUser};

    const NOW: i64 = 1_800_000_000_000;

    const THROTTLE: Throttle = Throttle {
        free_failures: 2,
        first_delay_ms: 1000,
        max_delay_ms: 4000,
        forget_after_ms: 60_000,
    };

    #[tokio::test]
    async fn failures_lock_out_then_are_forgotten() {
        let temp = temp_store();
        let store = &temp.store;
        let subject = || vec![("email:a@b.example".to_owned(), THROTTLE)];
        let locked = || store.login_locked_until(vec!["email:a@b.example".to_owned()], NOW);
        store
            .record_login_failure(subject(), None, NOW)
            .await
            .unwrap();
        assert_eq!(locked().await.unwrap(), None);
        store
            .record_login_failure(subject(), None, NOW)
            .await
            .unwrap();
        assert_eq!(locked().await.unwrap(), Some(NOW + 1000));
        for _ in 0..5 {
            store
                .record_login_failure(subject(), None, NOW)
                .await
                .unwrap();
        }
        assert_eq!(locked().await.unwrap(), Some(NOW + 4000), "capped");
        // Long after the last failure the count starts again.
        let later = NOW + 60_000;
        store
            .record_login_failure(subject(), None, later)
            .await
            .unwrap();
        assert_eq!(
            store
                .login_locked_until(vec!["email:a@b.example".to_owned()], later)
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn sessions_are_found_by_hash_and_end_with_their_user() {
        let temp = temp_store();
        let store = &temp.store;
        let merchant_id = store.ensure_merchant("Acme", NOW).await.unwrap();
        let user = store
            .add_user(
                NewUser {
                    merchant_id,
                    email: "a@acme.example".to_owned(),
                    display_name: "A".to_owned(),
                    role: Role::Agent,
                    password_hash: "h".to_owned(),
                },
                AuditNote::new(None, "test", json!({})),
                NOW,
            )
            .await
            .unwrap();
        for hash in [[7u8; 32], [8u8; 32]] {
            let session = NewSession {
                id_hash: hash,
                user_id: user.id,
                merchant_id,
                expires_at: NOW + 10_000,
            };
            let note = AuditNote::new(Some(user.id), "login", json!({}));
            store
                .start_session(session, None, "email:x".to_owned(), 5000, note, NOW)
                .await
                .unwrap();
        }
        let found = store.session([7; 32]).await.unwrap().unwrap();
        assert_eq!((found.user.id, found.user.role), (user.id, Role::Agent));
        assert_eq!((found.last_seen_at, found.expires_at), (NOW, NOW + 10_000));
        store.touch_session([7; 32], NOW + 100).await.unwrap();
        assert_eq!(
            store.session([7; 32]).await.unwrap().unwrap().last_seen_at,
            NOW + 100
        );

        store
            .change_password(
                merchant_id,
                user.id,
                "h2".to_owned(),
                [7; 32],
                AuditNote::new(Some(user.id), "password_changed", json!({})),
                NOW,
            )
            .await
            .unwrap();
        assert!(
            store.session([7; 32]).await.unwrap().is_some(),
            "the current one stays"
        );
        assert!(
            store.session([8; 32]).await.unwrap().is_none(),
            "others end"
        );
        assert!(store.end_session([7; 32], None, NOW).await.unwrap());
        assert!(store.session([7; 32]).await.unwrap().is_none());
    }
}
