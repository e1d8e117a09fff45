//! Numbered, append-only schema migrations, tracked in `PRAGMA user_version`.
//!
//! Never edit a migration that has shipped: add the next number instead.

use rusqlite::Connection;

use super::StoreError;

/// Every migration in order; migration `n` (1-based) brings the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_attachments_kinds_identity.sql"),
    include_str!("migrations/0003_staff.sql"),
    include_str!("migrations/0004_inbox.sql"),
    include_str!("migrations/0005_mail.sql"),
    include_str!("migrations/0006_followup.sql"),
    include_str!("migrations/0007_routing.sql"),
    include_str!("migrations/0008_inbox_work.sql"),
    include_str!("migrations/0009_search_index.sql"),
    include_str!("migrations/0010_escalation_clusters.sql"),
    include_str!("migrations/0011_inbox_order_index.sql"),
    include_str!("migrations/0012_insights.sql"),
    include_str!("migrations/0013_spam_and_proofs.sql"),
    include_str!("migrations/0014_spam_folder.sql"),
    include_str!("migrations/0015_retention.sql"),
    include_str!("migrations/0016_insights_rollups.sql"),
    include_str!("migrations/0017_cluster_fingerprints.sql"),
    include_str!("migrations/0018_inbox_spam_index.sql"),
    include_str!("migrations/0019_assignee_load_spam.sql"),
    include_str!("migrations/0020_inbox_columns_at_insert.sql"),
];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_upgrades_and_keeps_its_sites() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("old.sqlite3");
        let mut connection = Connection::open(&path).unwrap();
        connection.execute_batch(MIGRATIONS[0]).unwrap();
        connection.pragma_update(None, "user_version", 1).unwrap();
        connection
            .execute_batch(
                "INSERT INTO merchants (id, name, created_at) VALUES (1, 'm', 0);
                 INSERT INTO sites (merchant_id, site_key, name, allowed_origins, config, created_at, updated_at)
                 VALUES (1, 'old', 'Old shop', '[]', '{}', 0, 0);",
            )
            .unwrap();

        apply(&mut connection).unwrap();
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version as usize, latest_version());
        let secret: Vec<u8> = connection
            .query_row(
                "SELECT identity_secret FROM sites WHERE site_key = 'old'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(secret.len(), 32, "existing sites get a secret of their own");
        // Applying again is a no-op.
        apply(&mut connection).unwrap();
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let mut connection = Connection::open(directory.path().join("new.sqlite3")).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(
            apply(&mut connection),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }
}
