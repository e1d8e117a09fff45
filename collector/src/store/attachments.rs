//! Uploaded photos.

use rusqlite::{Connection, params};

use super::StoreError;

/// A checked, re-encoded photo to store.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub id: String,
    pub site_id: i64,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
    pub created_at: i64,
}

/// Deletes photos no complaint claimed that were uploaded before `cutoff`
/// (milliseconds since the epoch); returns how many.
pub(super) fn delete_unclaimed(connection: &Connection, cutoff: i64) -> Result<usize, StoreError> {
    Ok(connection.execute(
        "DELETE FROM attachments WHERE complaint_id IS NULL AND created_at < ?1",
        [cutoff],
    )?)
}

pub(super) fn insert(
    connection: &Connection,
    attachment: &NewAttachment,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO attachments (id, site_id, content_type, width, height, bytes, data, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            attachment.id,
            attachment.site_id,
            attachment.content_type,
            attachment.width,
            attachment.height,
            attachment.data.len() as i64,
            attachment.data,
            attachment.created_at,
        ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use heard_shared::SiteConfig;

    use super::*;
    use crate::store::NewSite;
    use crate::store::test_support::temp_store;

    #[tokio::test]
    async fn only_old_unclaimed_photos_are_swept() {
        let temp = temp_store();
        let site = temp
            .store
            .add_site(NewSite {
                merchant: "m".to_owned(),
                key: "s".to_owned(),
                name: "Shop".to_owned(),
                allowed_origins: vec![],
                config: SiteConfig::with_defaults("s", "Shop"),
            })
            .await
            .unwrap();
        for (id, created_at) in [("att_old", 1_000), ("att_new", 5_000)] {
            temp.store
                .add_attachment(NewAttachment {
                    id: id.to_owned(),
                    site_id: site.id,
                    content_type: "image/jpeg".to_owned(),
                    width: 1,
                    height: 1,
                    data: vec![1, 2, 3],
                    created_at,
                })
                .await
                .unwrap();
        }
        assert_eq!(
            temp.store
                .delete_unclaimed_attachments(2_000)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            temp.store
                .delete_unclaimed_attachments(2_000)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            temp.store
                .delete_unclaimed_attachments(9_000)
                .await
                .unwrap(),
            1
        );
    }
}
