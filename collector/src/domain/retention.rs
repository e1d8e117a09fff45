//! Retention per merchant (issue 9): the allowed range, and the janitor's
//! sweep that anonymises what is due in bounded batches (see
//! `store/retention.rs` for the rule and what is erased).

use heard_shared::FieldError;

use crate::store::{Store, StoreError};

/// The shortest retention an owner may choose: a month leaves time to
/// handle a complaint's aftermath (a chargeback, a reopened case).
pub const MIN_RETENTION_DAYS: u32 = 30;
/// The longest: ten years. Beyond that, keep everything (no retention).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Complaints anonymised per writer job: small enough that the job never
/// holds the writer for long, whatever the backlog.
pub const BATCH: usize = 200;

/// Checks an owner's choice; `None` (keep everything) is always allowed.
pub fn check_days(days: Option<i64>) -> Result<Option<u32>, FieldError> {
    match days {
        None => Ok(None),
        Some(days)
            if (i64::from(MIN_RETENTION_DAYS)..=i64::from(MAX_RETENTION_DAYS)).contains(&days) =>
        {
            Ok(Some(days as u32))
        }
        Some(_) => Err(FieldError {
            field: "retention_days".to_owned(),
            code: "invalid".to_owned(),
            message: format!(
                "Keep complaints between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS} days, \
                 or choose to keep them forever."
            ),
        }),
    }
}

/// Anonymises everything due at `now`, batch after batch, then truncates
/// the WAL and waits for the search index, so the text is in no file any
/// more. Answers how many complaints were anonymised.
pub async fn sweep(store: &Store, now: i64) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let done = store.anonymize_due(now, BATCH).await?;
        total += done.references.len();
        if done.references.len() < BATCH {
            break;
        }
    }
    if total > 0 {
        store.finish_anonymizing().await?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use heard_shared::Status;

    use super::*;
    use crate::domain::accounts::{Accounts, LIGHT_PASSWORD_PARAMS};
    use crate::domain::insights::InsightsFilter;
    use crate::domain::janitor;
    use crate::store::inbox_fixtures::{START, complaint, record, site};
    use crate::store::test_support::temp_store;
    use crate::store::{
        ActionOutcome, AuditNote, InboxAction, NewAttachment, NewComplaint, NewUser, Role,
    };

    const DAY: i64 = 24 * 60 * 60 * 1000;
    const MARKER: &str = "RETENTION-MARKER-p7Wq3Zx";

    #[test]
    fn the_range_is_checked_and_forever_is_always_allowed() {
        assert_eq!(check_days(None), Ok(None));
        assert_eq!(check_days(Some(30)), Ok(Some(30)));
        assert_eq!(check_days(Some(3650)), Ok(Some(3650)));
        for days in [i64::MIN, -1, 0, 29, 3651, i64::MAX] {
            let error = check_days(Some(days)).unwrap_err();
            assert_eq!(error.field, "retention_days");
        }
    }

    /// The files of the database directory (main, `-wal`, the search
    /// index and its `-wal`) whose bytes contain `marker`.
    fn files_holding(directory: &Path, marker: &str) -> Vec<String> {
        let mut holding = Vec::new();
        for entry in std::fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            if bytes
                .windows(marker.len())
                .any(|window| window == marker.as_bytes())
            {
                holding.push(path.display().to_string());
            }
        }
        holding
    }

    #[tokio::test]
    async fn the_janitor_removes_a_planted_marker_from_every_database_file_and_keeps_the_counts() {
        let temp = temp_store();
        let store = &temp.store;
        let directory = temp.directory.path();
        let accounts = Accounts::new(store.clone(), LIGHT_PASSWORD_PARAMS).unwrap();
        let (acme, shop) = site(store, "Acme", "shop").await;
        let owner = store
            .add_user(
                NewUser {
                    merchant_id: acme,
                    email: "owner@acme.example".to_owned(),
                    display_name: "Owner".to_owned(),
                    role: Role::Owner,
                    password_hash: "not a real hash".to_owned(),
                },
                AuditNote::new(None, "test.user", serde_json::json!({})),
                START,
            )
            .await
            .unwrap()
            .id;

        // The marker in the photo's stored bytes, the words, the answers,
        // the contact details, a staff reply and an internal note.
        let mut photo = b"\x89PNG\r\n\x1a\n".to_vec();
        photo.extend_from_slice(MARKER.as_bytes());
        store
            .add_attachment(NewAttachment {
                id: "photo-with-marker".to_owned(),
                site_id: shop,
                content_type: "image/png".to_owned(),
                width: 1,
                height: 1,
                data: photo,
                created_at: START,
            })
            .await
            .unwrap();
        let marked = NewComplaint {
            contact_name: Some(format!("Name {MARKER}")),
            contact_email: Some(format!("{MARKER}@example.com")),
            contact_phone: Some("+49 30 1234567".to_owned()),
            remedy: Some(format!("Remedy {MARKER}")),
            answers: BTreeMap::from([("order".to_owned(), format!("Order {MARKER}"))]),
            attachments: vec!["photo-with-marker".to_owned()],
            ..complaint(shop, START, &format!("The kettle {MARKER} leaks"))
        };
        let status_link = marked.token_hash;
        let reference = record(store, marked).await;
        // Another complaint, still open, keeps its words.
        let open = record(store, complaint(shop, START, "Still being worked on")).await;
        for action in [
            InboxAction::Reply(format!("We are sorry, {MARKER}")),
            InboxAction::Note(format!("Internal {MARKER}")),
            InboxAction::SetStatus {
                to: Status::Resolved,
                allowed_from: Status::ALL.to_vec(),
            },
        ] {
            let outcome = store
                .inbox_act(acme, owner, &reference, action, START + DAY)
                .await
                .unwrap();
            assert!(matches!(outcome, ActionOutcome::Done(_)), "{outcome:?}");
        }
        assert!(
            store
                .complaint_by_token_hash(status_link)
                .await
                .unwrap()
                .is_some()
        );
        store.search_caught_up().await.unwrap();
        let before = files_holding(directory, MARKER);
        assert!(
            before.iter().any(|file| file.contains("-search")),
            "the index must hold the marker first: {before:?}"
        );
        assert!(
            before.iter().any(|file| !file.contains("-search")),
            "the database must hold the marker first: {before:?}"
        );

        store
            .set_retention_days(acme, owner, Some(30), START)
            .await
            .unwrap();
        let now = START + 40 * DAY;
        let filter = InsightsFilter::default_at(now);
        let volume = store.insights_volume(acme, filter.clone()).await.unwrap();
        let handling = store
            .insights_handling(acme, filter.clone(), now)
            .await
            .unwrap();

        // Not yet due 29 days after resolution: nothing changes.
        janitor::sweep(store, &accounts, START + DAY + 29 * DAY).await;
        assert!(!files_holding(directory, MARKER).is_empty());

        janitor::sweep(store, &accounts, now).await;
        assert_eq!(files_holding(directory, MARKER), Vec::<String>::new());

        // The status link opens nothing any more.
        assert!(
            store
                .complaint_by_token_hash(status_link)
                .await
                .unwrap()
                .is_none()
        );
        let connection = rusqlite::Connection::open(directory.join("heard.sqlite3")).unwrap();
        let photos: i64 = connection
            .query_row("SELECT count(*) FROM attachments", [], |row| row.get(0))
            .unwrap();
        assert_eq!(photos, 0);
        let erased = store
            .complaint_by_reference(&reference)
            .await
            .unwrap()
            .unwrap();
        assert!(erased.description.is_empty());
        assert_eq!(erased.status, Status::Resolved);
        let kept = store.complaint_by_reference(&open).await.unwrap().unwrap();
        assert_eq!(kept.description, "Still being worked on");
        // The timeline keeps its events without their text.
        let detail = store
            .inbox_complaint(acme, &reference, now)
            .await
            .unwrap()
            .unwrap();
        let kinds: Vec<&str> = detail
            .timeline
            .iter()
            .map(|event| event.kind.as_str())
            .collect();
        assert!(
            kinds.contains(&"public_reply") && kinds.contains(&"anonymized"),
            "{kinds:?}"
        );
        assert!(detail.timeline.iter().all(|event| event.body.is_none()));

        assert_eq!(
            store.insights_volume(acme, filter.clone()).await.unwrap(),
            volume
        );
        assert_eq!(
            store.insights_handling(acme, filter, now).await.unwrap(),
            handling
        );
        // A second sweep finds nothing more to do.
        assert_eq!(sweep(store, now + DAY).await.unwrap(), 0);
    }
}
