//! Numbered, append-only schema migrations, tracked in `PRAGMA user_version`.
//!
//! Never edit a migration that has shipped: add the next number instead.

use rusqlite::Connection;

use super::StoreError;

/// Every migration in order; migration `n` (1-based) brings the schema to version `n`.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_initial.sql")];

/// Applies the migrations this database has not seen yet, each in its own transaction.
pub(super) fn apply(connection: &mut Connection) -> Result<(), StoreError> {
    let current: usize =
        connection.pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0))? as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: MIGRATIONS.len(),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", (index + 1) as i64)?;
        transaction.commit()?;
        tracing::info!(version = index + 1, "applied database migration");
    }
    Ok(())
}

/// The schema version this build writes.
pub fn latest_version() -> usize {
    MIGRATIONS.len()
}
