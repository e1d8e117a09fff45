//! Spent proofs of work (`spent_proofs`): written by `complaints::record` in
//! the complaint's transaction, removed here once their challenge expired.
//! After that a replay is refused as expired, so the row holds nothing more.

use rusqlite::{Connection, params};

use super::{Store, StoreError};

impl Store {
    /// Forgets the spent proofs whose challenge expired before `now` (Unix
    /// seconds); answers how many.
    pub async fn delete_expired_proofs(&self, now: i64) -> Result<usize, StoreError> {
        self.inner
            .writer
            .run(move |connection| delete_expired(connection, now))
            .await
    }

    /// How many spent proofs are remembered.
    pub async fn spent_proof_count(&self) -> Result<i64, StoreError> {
        self.read(|connection| {
            Ok(connection.query_row("SELECT count(*) FROM spent_proofs", [], |row| row.get(0))?)
        })
        .await
    }
}

fn delete_expired(connection: &Connection, now: i64) -> Result<usize, StoreError> {
    Ok(connection
        .prepare_cached("DELETE FROM spent_proofs WHERE expires_at <= ?1")?
        .execute(params![now])?)
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use crate::store::test_support::temp_store;

    #[tokio::test]
    async fn expired_proofs_are_forgotten_and_live_ones_kept() {
        let temp = temp_store();
        let store = &temp.store;
        let now = 1_800_000_000;
        for (salt, expires_at) in [("a.1.2", now - 1), ("b.1.2", now), ("c.1.2", now + 1)] {
            store
                .inner
                .writer
                .run(move |connection| {
                    connection.execute(
                        "INSERT INTO spent_proofs (salt, expires_at) VALUES (?1, ?2)",
                        params![salt, expires_at],
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
        }
        assert_eq!(store.spent_proof_count().await.unwrap(), 3);
        assert_eq!(store.delete_expired_proofs(now).await.unwrap(), 2);
        assert_eq!(store.spent_proof_count().await.unwrap(), 1);
        assert_eq!(store.delete_expired_proofs(now).await.unwrap(), 0);
    }
}
