//! Suspected spam (issue 9): what intake treats as a bot's submission, and
//! how the inbox names the reason. Suspected spam is never dropped: it is
//! stored and answered like any complaint, and waits in the spam folder
//! until staff restore it.

use heard_shared::ComplaintSubmission;
use heard_shared::limits::MIN_FILL_MS;

use super::intake::status_url;
use super::token::ReceiptToken;
use crate::store::{ComplaintDetail, FreshLink, SpamOutcome, SpamReason, Store, StoreError};

/// Why a restore or a mark was not done.
#[derive(Debug, thiserror::Error)]
pub enum SpamError {
    #[error("no such complaint")]
    NotFound,
    #[error("this complaint is not in the spam folder")]
    NotSpam,
    #[error("this complaint is already in the spam folder")]
    AlreadySpam,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why `submission` looks like a bot's, if it does: the hidden field the
/// widget draws for form fillers has text in it, or the form was sent
/// faster than a person can choose a category and write a description.
/// API clients send neither field and are never suspected here.
pub fn classify(submission: &ComplaintSubmission) -> Option<SpamReason> {
    let honeypot_filled = submission
        .honeypot
        .as_deref()
        .is_some_and(|text| !text.trim().is_empty());
    if honeypot_filled {
        return Some(SpamReason::Honeypot);
    }
    if submission.fill_ms.is_some_and(|ms| ms < MIN_FILL_MS) {
        return Some(SpamReason::TooFast);
    }
    None
}

/// The reason in words, as the inbox shows it.
pub fn describe(reason: SpamReason) -> String {
    match reason {
        SpamReason::Honeypot => "hidden field filled in".to_owned(),
        SpamReason::TooFast => format!("sent in under {} seconds", MIN_FILL_MS.div_ceil(1_000)),
        SpamReason::Staff => "marked as spam by staff".to_owned(),
    }
}

/// "Not spam — restore" by staff member `user_id`. The acknowledgement
/// it may queue carries a status link of its own, minted here like the
/// receipt's (the first link was never sent anywhere but the receipt).
pub async fn restore(
    store: &Store,
    public_url: &str,
    merchant_id: i64,
    user_id: i64,
    reference: &str,
    now: i64,
) -> Result<ComplaintDetail, SpamError> {
    let token = ReceiptToken::generate();
    let link = FreshLink {
        token_hash: token.hash(),
        status_url: status_url(public_url, &token),
    };
    match store
        .restore_spam(merchant_id, user_id, reference, link, now)
        .await?
    {
        SpamOutcome::Done(detail) => Ok(*detail),
        SpamOutcome::NotFound => Err(SpamError::NotFound),
        SpamOutcome::Refused => Err(SpamError::NotSpam),
    }
}

/// "Mark as spam" by staff member `user_id`: reversible by [`restore`].
pub async fn mark(
    store: &Store,
    merchant_id: i64,
    user_id: i64,
    reference: &str,
    now: i64,
) -> Result<ComplaintDetail, SpamError> {
    match store
        .mark_spam(merchant_id, user_id, reference, now)
        .await?
    {
        SpamOutcome::Done(detail) => Ok(*detail),
        SpamOutcome::NotFound => Err(SpamError::NotFound),
        SpamOutcome::Refused => Err(SpamError::AlreadySpam),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission(honeypot: Option<&str>, fill_ms: Option<u32>) -> ComplaintSubmission {
        let mut submission: ComplaintSubmission = serde_json::from_str(
            r#"{"category":"product","description":"Kettle broke","language":"en"}"#,
        )
        .unwrap();
        submission.honeypot = honeypot.map(str::to_owned);
        submission.fill_ms = fill_ms;
        submission
    }

    #[test]
    fn a_filled_honeypot_is_spam_whatever_the_time() {
        assert_eq!(
            classify(&submission(Some("http://cheap.example"), Some(60_000))),
            Some(SpamReason::Honeypot)
        );
        assert_eq!(
            classify(&submission(Some("x"), Some(10))),
            Some(SpamReason::Honeypot),
            "the honeypot is the stronger sign and wins"
        );
    }

    #[test]
    fn an_empty_or_blank_honeypot_is_not_spam() {
        assert_eq!(classify(&submission(Some(""), Some(30_000))), None);
        assert_eq!(classify(&submission(Some(" \t\n"), None)), None);
    }

    #[test]
    fn a_form_sent_faster_than_the_minimum_is_too_fast() {
        assert_eq!(
            classify(&submission(None, Some(MIN_FILL_MS - 1))),
            Some(SpamReason::TooFast)
        );
        assert_eq!(
            classify(&submission(None, Some(0))),
            Some(SpamReason::TooFast)
        );
        assert_eq!(classify(&submission(None, Some(MIN_FILL_MS))), None);
    }

    #[test]
    fn an_api_client_without_either_field_is_not_suspected() {
        assert_eq!(classify(&submission(None, None)), None);
    }

    #[test]
    fn every_reason_has_words() {
        assert_eq!(describe(SpamReason::Honeypot), "hidden field filled in");
        assert_eq!(describe(SpamReason::TooFast), "sent in under 3 seconds");
        assert_eq!(describe(SpamReason::Staff), "marked as spam by staff");
    }
}
