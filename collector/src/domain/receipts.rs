//! What a shopper can do with their complaint through its private link, and
//! how a lost link is recovered.
//!
//! **Nothing here tells a stranger whether a complaint exists.** A link that
//! opens nothing — random, malformed, deleted — is simply not found, and
//! recovery answers the same whether or not reference and email match: the
//! new link goes only to the address on file, never to the screen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use heard_shared::validate::is_plausible_email;
use heard_shared::{Reference, Status};
use serde_json::{Value, json};

use super::intake::status_url;
use super::token::ReceiptToken;
use crate::clock;
use crate::store::{ComplaintRecord, FollowUp, ShopperEvent, Store, StoreError, Survey};

/// Recovery requests one client address may make per window.
pub const RECOVERY_PER_ADDRESS: u32 = 5;
/// Recovery requests for one reference per window, from anywhere: the
/// shopper's inbox is not to be flooded.
pub const RECOVERY_PER_REFERENCE: u32 = 3;
/// The rate-limit window, in ms.
pub const RECOVERY_WINDOW_MS: i64 = 15 * 60 * 1000;

/// The complaint a link opens, if any.
pub async fn open(store: &Store, token: &str) -> Result<Option<ComplaintRecord>, StoreError> {
    match ReceiptToken::parse(token) {
        Some(token) => store.complaint_by_token_hash(token.hash()).await,
        None => Ok(None),
    }
}

/// The complaint as its shopper sees it on the status page.
pub fn shopper_view(complaint: &ComplaintRecord) -> Value {
    json!({
        "reference": complaint.reference,
        "site": complaint.site_name,
        "kind": complaint.kind,
        "status": complaint.status,
        "status_label": complaint.status.label(),
        "created_at": clock::rfc3339(complaint.created_at),
        "category": complaint.category,
        "category_label": complaint.category_label,
        "description": complaint.description,
        "remedy": complaint.remedy,
        "outcomes": complaint.outcomes,
        "severity": complaint.severity,
        "mood": complaint.mood,
        "language": complaint.language,
        "callback_window": complaint.callback_window,
        "photos": complaint.photos,
        "anonymous": complaint.anonymous,
    })
}

/// The status page's JSON twin: [`shopper_view`] with what has happened,
/// the survey answer, and what the shopper can do now.
pub fn follow_up_view(
    complaint: &ComplaintRecord,
    follow_up: &FollowUp,
    reopen_window_ms: i64,
    now: i64,
) -> Value {
    let mut view = shopper_view(complaint);
    let open = !matches!(follow_up.status, Status::Resolved | Status::Closed);
    let reopen_until = super::followup::reopen_until(follow_up, reopen_window_ms, now);
    if let Value::Object(fields) = &mut view {
        // The summary columns and the timeline are written in one job; the
        // follow-up read is the later one, so its status wins.
        fields.insert("status".to_owned(), json!(follow_up.status));
        fields.insert("status_label".to_owned(), json!(follow_up.status.label()));
        fields.insert(
            "resolved_at".to_owned(),
            json!(follow_up.resolved_at.map(clock::rfc3339)),
        );
        fields.insert(
            "looked_after_by".to_owned(),
            json!(follow_up.looked_after_by),
        );
        fields.insert("timeline".to_owned(), timeline_json(&follow_up.timeline));
        fields.insert("survey".to_owned(), survey_json(follow_up.survey.as_ref()));
        fields.insert(
            "actions".to_owned(),
            json!({
                "reply": follow_up.status != Status::Closed,
                "resolve": open,
                "reopen_until": reopen_until.map(clock::rfc3339),
                "survey": follow_up.status == Status::Resolved,
            }),
        );
    }
    view
}

fn timeline_json(timeline: &[ShopperEvent]) -> Value {
    Value::Array(
        timeline
            .iter()
            .map(|event| {
                json!({
                    "at": clock::rfc3339(event.at),
                    "kind": event.kind,
                    "by": if event.by_shopper
                        || matches!(
                            event.kind.as_str(),
                            "received" | "shopper_reply" | "survey_received"
                        ) { "you" } else { "shop" },
                    "from": event.from,
                    "status": event.status,
                    "because_of_reply": event.because_of_reply,
                    "first_name": event.first_name,
                    "body": event.body,
                    "photos": event.photos,
                })
            })
            .collect(),
    )
}

fn survey_json(survey: Option<&Survey>) -> Value {
    survey.map_or(Value::Null, |survey| {
        json!({
            "satisfaction": survey.satisfaction,
            "quick_enough": survey.quick_enough,
            "would_return": survey.would_return,
            "comment": survey.comment,
            "answered_at": clock::rfc3339(survey.created_at),
            "changed_at": clock::rfc3339(survey.updated_at),
        })
    })
}

/// Everything stored about the complaint a link opens, as one JSON document:
/// what the status page shows, plus the guided answers, contact details,
/// identity, browser, page and the photos themselves (base64).
pub async fn export(store: &Store, token: &str) -> Result<Option<Value>, StoreError> {
    let Some(token) = ReceiptToken::parse(token) else {
        return Ok(None);
    };
    let Some(complaint) = store.complaint_by_token_hash(token.hash()).await? else {
        return Ok(None);
    };
    let Some(stored) = store.export_complaint(token.hash()).await? else {
        return Ok(None);
    };
    let follow_up = store.follow_up(token.hash()).await?;
    let mut document = shopper_view(&complaint);
    let identity: Option<Value> = stored
        .identity
        .as_deref()
        .and_then(|identity| serde_json::from_str(identity).ok());
    let photos: Vec<Value> = stored
        .photos
        .iter()
        .map(|photo| {
            json!({
                "id": photo.id,
                "content_type": photo.content_type,
                "width": photo.width,
                "height": photo.height,
                "uploaded_at": clock::rfc3339(photo.created_at),
                "data_base64": STANDARD.encode(&photo.data),
            })
        })
        .collect();
    if let Value::Object(fields) = &mut document {
        fields.insert("page_url".to_owned(), json!(complaint.page_url));
        fields.insert("answers".to_owned(), json!(stored.answers));
        fields.insert(
            "contact".to_owned(),
            json!({
                "name": stored.contact_name,
                "email": stored.contact_email,
                "phone": stored.contact_phone,
            }),
        );
        fields.insert("user_agent".to_owned(), json!(stored.user_agent));
        fields.insert("identity".to_owned(), json!(identity));
        fields.insert(
            "identity_verified".to_owned(),
            json!(stored.identity_verified),
        );
        fields.insert("photo_files".to_owned(), Value::Array(photos));
        if let Some(follow_up) = &follow_up {
            fields.insert("status".to_owned(), json!(follow_up.status));
            fields.insert("timeline".to_owned(), timeline_json(&follow_up.timeline));
            fields.insert("survey".to_owned(), survey_json(follow_up.survey.as_ref()));
        }
        fields.insert(
            "exported_at".to_owned(),
            json!(clock::rfc3339(clock::now_millis())),
        );
    }
    Ok(Some(document))
}

/// Deletes the shopper's words, photos, contact details and identity; the
/// link (and every other link to it) stops working. `false` when the link
/// opened nothing.
pub async fn delete(store: &Store, token: &str, now: i64) -> Result<bool, StoreError> {
    match ReceiptToken::parse(token) {
        Some(token) => store.delete_complaint(token.hash(), now).await,
        None => Ok(false),
    }
}

/// Emails a new status link for `reference` to its contact address when
/// `email` is that address. The caller answers the same either way; the
/// result is for logs and tests only.
///
/// A new token is issued rather than the old one revealed (it is not stored)
/// or replaced: replacing would break the link the shopper may still have on
/// another device, and keeping it costs nothing, since whoever asks for
/// recovery gets no link on screen — it goes to the address on file.
pub async fn recover(
    store: &Store,
    public_url: &str,
    site_id: Option<i64>,
    reference: &str,
    email: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let email = email.trim();
    let Some(reference) = Reference::parse(reference) else {
        return Ok(false);
    };
    if !is_plausible_email(email) {
        return Ok(false);
    }
    let token = ReceiptToken::generate();
    store
        .recover_link(
            site_id,
            reference.to_string(),
            email.to_owned(),
            token.hash(),
            status_url(public_url, &token),
            now,
        )
        .await
}

/// Fixed-window counters for recovery requests, per client address and per
/// reference. In memory: a restart forgets them, which costs at most one
/// more window of requests.
#[derive(Clone, Default)]
pub struct RecoveryLimiter {
    windows: Arc<Mutex<HashMap<String, (i64, u32)>>>,
}

impl RecoveryLimiter {
    /// Counts a request; `Err(seconds)` to wait when either limit is spent.
    /// The reference is counted as typed, normalised, so spelling variants
    /// share one counter.
    pub fn check(&self, address: &str, reference: &str, now: i64) -> Result<(), u64> {
        let reference = Reference::parse(reference).map_or_else(
            || reference.trim().to_ascii_uppercase(),
            |parsed| parsed.to_string(),
        );
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        windows.retain(|_, (start, _)| now - *start < RECOVERY_WINDOW_MS);
        let keys = [
            (format!("ip:{address}"), RECOVERY_PER_ADDRESS),
            (format!("ref:{reference}"), RECOVERY_PER_REFERENCE),
        ];
        for (key, limit) in &keys {
            if let Some((start, count)) = windows.get(key)
                && *count >= *limit
            {
                let wait_ms = (start + RECOVERY_WINDOW_MS - now).max(1000);
                return Err(((wait_ms + 999) / 1000) as u64);
            }
        }
        for (key, _) in keys {
            windows.entry(key).or_insert((now, 0)).1 += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_per_address_and_per_reference() {
        let limiter = RecoveryLimiter::default();
        let reference = "HRD-7K3Q-9M2X";
        for index in 0..RECOVERY_PER_REFERENCE {
            assert!(
                limiter
                    .check(&format!("10.0.0.{index}"), reference, 0)
                    .is_ok()
            );
        }
        let wait = limiter.check("10.0.0.99", reference, 1000).unwrap_err();
        assert_eq!(wait, 899);
        for index in 0..RECOVERY_PER_ADDRESS {
            assert!(limiter.check("10.9.9.9", &format!("REF{index}"), 0).is_ok());
        }
        assert!(limiter.check("10.9.9.9", "another", 0).is_err());
        assert!(
            limiter
                .check("10.9.9.9", "another", RECOVERY_WINDOW_MS)
                .is_ok()
        );
    }
}
