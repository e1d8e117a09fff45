//! Housekeeping that runs beside the server: what has expired is removed, so
//! tables hold only what can still matter and nothing grows without bound.

use std::time::Duration;

use super::accounts::Accounts;
use super::attachments;
use super::retention;
use crate::clock::Clock;
use crate::store::Store;

/// How often the janitor sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// Sweeps once now, then every [`SWEEP_EVERY`], until the task is aborted.
pub async fn run(store: Store, accounts: Accounts, clock: Clock) {
    let mut ticks = tokio::time::interval(SWEEP_EVERY);
    loop {
        ticks.tick().await;
        sweep(&store, &accounts, clock.now_millis()).await;
    }
}

/// One sweep: unclaimed photos, then expired sessions, forgotten sign-in
/// failures and ended invitations, spent proofs of work that expired, then
/// complaints past their merchant's retention (anonymised). A failure is
/// logged and retried next time.
pub async fn sweep(store: &Store, accounts: &Accounts, now: i64) {
    match attachments::sweep_unclaimed(store, now).await {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "deleted photos no complaint claimed"),
        Err(error) => tracing::warn!(%error, "could not sweep unclaimed photos"),
    }
    let policy = accounts.policy();
    let forget_after = policy
        .per_email
        .forget_after_ms
        .max(policy.per_address.forget_after_ms);
    match store
        .sweep_expired_access(now, policy.idle_ms, forget_after)
        .await
    {
        Ok(swept) if swept == Default::default() => {}
        Ok(swept) => tracing::info!(
            sessions = swept.sessions,
            attempts = swept.attempts,
            invites = swept.invites,
            "removed expired sign-in data"
        ),
        Err(error) => tracing::warn!(%error, "could not sweep expired sign-in data"),
    }
    // A spent proof is kept until its challenge expires; later a replay
    // is refused as expired anyway.
    match store.delete_expired_proofs(now.div_euclid(1000)).await {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "forgot spent proofs of work that expired"),
        Err(error) => tracing::warn!(%error, "could not sweep spent proofs of work"),
    }
    match retention::sweep(store, now).await {
        Ok(0) => {}
        Ok(anonymized) => tracing::info!(anonymized, "anonymised complaints past retention"),
        Err(error) => tracing::warn!(%error, "could not anonymise complaints past retention"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::accounts::{LIGHT_PASSWORD_PARAMS, LoginAttempt};
    use crate::store::Role;
    use crate::store::test_support::temp_store;

    const HOUR: i64 = 60 * 60 * 1000;
    const PASSWORD: &str = "correct horse battery staple";

    fn count(path: &std::path::Path, table: &str) -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    }

    #[tokio::test]
    async fn expired_sign_in_data_goes_and_live_data_stays() {
        let temp = temp_store();
        let database = temp.directory.path().join("heard.sqlite3");
        let accounts = Accounts::new(temp.store.clone(), LIGHT_PASSWORD_PARAMS).unwrap();
        let start = 1_800_000_000_000;
        let owner = accounts
            .create_owner(
                "Acme",
                "owner@acme.example",
                "Owner",
                PASSWORD.to_owned(),
                start,
            )
            .await
            .unwrap();
        let attempt = |password: &str| LoginAttempt {
            email: "owner@acme.example".to_owned(),
            password: password.to_owned(),
            address: None,
            previous: None,
        };
        accounts.login(attempt(PASSWORD), start).await.unwrap();
        assert!(
            accounts
                .login(attempt("wrong password!"), start)
                .await
                .is_err()
        );
        accounts
            .invite(&owner, "agent@acme.example", Role::Agent, start)
            .await
            .unwrap();
        assert_eq!(
            (count(&database, "sessions"), count(&database, "invites")),
            (1, 1)
        );
        assert!(count(&database, "login_attempts") >= 1);

        // An hour later everything is still live.
        sweep(&temp.store, &accounts, start + HOUR).await;
        assert_eq!(count(&database, "sessions"), 1);
        assert_eq!(count(&database, "invites"), 1);
        assert!(count(&database, "login_attempts") >= 1);

        // Eight days later the session, the invitation and the failures are over.
        sweep(&temp.store, &accounts, start + 8 * 24 * HOUR).await;
        assert_eq!(count(&database, "sessions"), 0);
        assert_eq!(count(&database, "invites"), 0);
        assert_eq!(count(&database, "login_attempts"), 0);
        // The account itself is not touched.
        assert_eq!(count(&database, "users"), 1);
    }
}
