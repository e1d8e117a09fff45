//! Accepting a complaint: validate, store durably, answer with a receipt.

use std::sync::Arc;

use heard_shared::validate::validate_idempotency_key;
use heard_shared::{
    ComplaintSubmission, FieldError, Identity, Receipt, ReceiptSummary, SubmissionKind,
    validate_submission,
};

use super::identity;
use super::spam;
use super::token::{ReceiptToken, idempotency_key_hash, request_hash};
use crate::clock;
use crate::store::{
    ComplaintRecord, IdempotencyRecord, MailKind, NewComplaint, NewMail, Site, SpentProof, Store,
    StoreError,
};

/// How a callback request without a category is labelled.
const CALLBACK_LABEL: &str = "Callback request";

/// Why a submission was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the complaint is not valid")]
    Invalid(Vec<FieldError>),
    #[error("{}", .0.message)]
    BadIdempotencyKey(FieldError),
    #[error("this Idempotency-Key was already used for a different complaint")]
    IdempotencyConflict,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for IntakeError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::IdempotencyConflict => IntakeError::IdempotencyConflict,
            StoreError::UnknownAttachment(index) => IntakeError::Invalid(vec![FieldError::new(
                format!("attachments.{index}"),
                "unknown",
                "This photo was not found or is already part of another complaint; add it again.",
            )]),
            other => IntakeError::Store(other),
        }
    }
}

/// An accepted complaint.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub receipt: Receipt,
    /// True when this answered a retry of an earlier, identical request.
    pub replayed: bool,
    /// True when the complaint waits in the spam folder: nobody is told of it.
    pub spam: bool,
}

/// Validates and stores a complaint for `site`. Returns only after the
/// complaint is committed, so the receipt is never shown for a complaint that
/// is not on disk.
pub async fn submit(
    store: &Store,
    public_url: &str,
    site: &Site,
    submission: ComplaintSubmission,
    idempotency_key: Option<&str>,
    proof: Option<SpentProof>,
) -> Result<Accepted, IntakeError> {
    accept(
        store,
        public_url,
        Judge::Read(site),
        submission,
        idempotency_key,
        proof,
    )
    .await
}

/// [`submit`] for a site as [`Store::site`] keeps it: the writer checks
/// that the site has not changed since, and refuses with
/// [`StoreError::SiteChanged`] (nothing stored) when it has, so that the
/// caller judges the complaint again against the site as it is now.
pub async fn submit_for_kept_site(
    store: &Store,
    public_url: &str,
    site: &Arc<Site>,
    submission: ComplaintSubmission,
    idempotency_key: Option<&str>,
    proof: Option<SpentProof>,
) -> Result<Accepted, IntakeError> {
    accept(
        store,
        public_url,
        Judge::Kept(site),
        submission,
        idempotency_key,
        proof,
    )
    .await
}

/// The site a complaint is judged by, and how the store may trust it.
#[derive(Clone, Copy)]
enum Judge<'a> {
    /// Read for this request: stored without a check.
    Read(&'a Site),
    /// Kept in memory: the writer checks it is still current.
    Kept(&'a Arc<Site>),
}

async fn accept(
    store: &Store,
    public_url: &str,
    judge: Judge<'_>,
    submission: ComplaintSubmission,
    idempotency_key: Option<&str>,
    proof: Option<SpentProof>,
) -> Result<Accepted, IntakeError> {
    let site: &Site = match judge {
        Judge::Read(site) => site,
        Judge::Kept(site) => site,
    };
    if let Some(key) = idempotency_key {
        validate_idempotency_key(key).map_err(IntakeError::BadIdempotencyKey)?;
    }
    validate_submission(&submission, &site.config).map_err(IntakeError::Invalid)?;
    let submission = normalize(submission);
    let suspected = spam::classify(&submission);

    let token = ReceiptToken::generate();
    let idempotency = idempotency_key.map(|key| {
        let canonical = serde_json::to_vec(&submission).unwrap_or_default();
        IdempotencyRecord {
            key_hash: idempotency_key_hash(site.id, key),
            request_hash: request_hash(&canonical),
            wrapped_token: token.wrap(site.id, key),
        }
    });
    let link = status_url(public_url, &token);
    let mut complaint = new_complaint(site, submission, &token, idempotency, &link);
    complaint.proof = proof;
    complaint.spam = suspected;
    let recorded = match judge {
        Judge::Read(_) => store.record_complaint(complaint).await?,
        Judge::Kept(site) => {
            store
                .record_complaint_for(Arc::clone(site), complaint)
                .await?
        }
    };

    let (token, replayed) = match (recorded.replay_of, idempotency_key) {
        (Some(wrapped), Some(key)) => (ReceiptToken::unwrap(&wrapped, site.id, key), true),
        _ => (token, false),
    };
    // A replay answers for the complaint as stored, which staff may have
    // restored or marked since.
    let spam = if replayed {
        store.complaint_spam(recorded.complaint.id).await?.is_some()
    } else {
        suspected.is_some()
    };
    Ok(Accepted {
        receipt: receipt(&recorded.complaint, &token, public_url, site),
        replayed,
        spam,
    })
}

/// The link a shopper follows to their complaint's status page.
pub fn status_url(public_url: &str, token: &ReceiptToken) -> String {
    format!("{}/r/{}", public_url.trim_end_matches('/'), token.encode())
}

fn receipt(
    complaint: &ComplaintRecord,
    token: &ReceiptToken,
    public_url: &str,
    site: &Site,
) -> Receipt {
    Receipt {
        reference: complaint.reference.clone(),
        created_at: clock::rfc3339(complaint.created_at),
        status: complaint.status,
        status_url: status_url(public_url, token),
        summary: ReceiptSummary {
            category: complaint.category.clone(),
            category_label: complaint.category_label.clone(),
            description: complaint.description.clone(),
            outcomes: complaint.outcomes.clone(),
            anonymous: complaint.anonymous,
        },
        response_target_hours: site.config.response_target_hours,
    }
}

/// Trims what the shopper typed, drops empty optional fields, and keeps
/// contact details only when the shopper consented to be contacted.
fn normalize(mut submission: ComplaintSubmission) -> ComplaintSubmission {
    fn present(text: Option<String>) -> Option<String> {
        text.map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
    }
    submission.description = submission.description.trim().to_owned();
    submission.remedy = present(submission.remedy);
    submission.outcomes.sort();
    submission.outcomes.dedup();
    submission
        .answers
        .retain(|_, value| !value.trim().is_empty());
    if let Some(callback) = &mut submission.callback {
        callback.window = callback.window.trim().to_owned();
    }
    if submission.kind != SubmissionKind::Callback {
        submission.callback = None;
    }
    submission.contact = submission
        .contact
        .filter(|contact| contact.consent && !contact.is_empty());
    if let Some(contact) = &mut submission.contact {
        contact.name = present(contact.name.take());
        contact.email = present(contact.email.take());
        contact.phone = present(contact.phone.take());
    }
    submission
}

fn new_complaint(
    site: &Site,
    submission: ComplaintSubmission,
    token: &ReceiptToken,
    idempotency: Option<IdempotencyRecord>,
    status_url: &str,
) -> NewComplaint {
    let category = site.config.category(&submission.category);
    let contact = submission.contact.unwrap_or_default();
    // `normalize` kept the contact only with consent, so an address here is
    // one the shopper asked us to use.
    let acknowledgement = contact.email.as_ref().map(|email| NewMail {
        kind: MailKind::Acknowledgement,
        recipient: email.clone(),
        status_url: status_url.to_owned(),
    });
    let identity_verified = submission
        .identity
        .as_ref()
        .is_some_and(|identity| identity::is_verified(&site.identity_secret.0, identity));
    // The signature has done its job; what is kept is who, and whether vouched for.
    let identity = submission.identity.map(|identity| {
        let unsigned = Identity {
            signature: None,
            ..identity
        };
        serde_json::to_string(&unsigned).unwrap_or_default()
    });
    let category_label = match category {
        Some(category) => category.label.clone(),
        None if submission.kind == SubmissionKind::Callback => CALLBACK_LABEL.to_owned(),
        None => submission.category.clone(),
    };
    NewComplaint {
        site_id: site.id,
        token_hash: token.hash(),
        category_label,
        value_orientation: category
            .and_then(|category| category.value)
            .map(|value| value.as_str().to_owned()),
        urgent: category.is_some_and(|category| category.urgent),
        category: submission.category,
        description: submission.description,
        remedy: submission.remedy,
        outcomes: submission.outcomes,
        severity: submission.severity,
        mood: submission.mood,
        language: submission.language,
        page_url: submission.page_url,
        user_agent: submission.user_agent,
        answers: submission.answers,
        contact_name: contact.name,
        contact_email: contact.email,
        contact_phone: contact.phone,
        created_at: clock::now_millis(),
        idempotency,
        kind: submission.kind,
        callback_window: submission.callback.map(|callback| callback.window),
        identity,
        identity_verified,
        attachments: submission.attachments,
        acknowledgement,
        spam: None,
        proof: None,
    }
}

#[cfg(test)]
mod tests {
    use heard_shared::{Contact, Outcome, SiteConfig};

    use super::*;
    use crate::store::NewSite;
    use crate::store::test_support::temp_store;

    fn submission() -> ComplaintSubmission {
        serde_json::from_str(
            r#"{"category":"product","description":"  Kettle broke  ","language":"en",
                "outcomes":["fix","heard","fix"]}"#,
        )
        .unwrap()
    }

    async fn demo_site(store: &Store) -> Site {
        store
            .add_site(NewSite {
                merchant: "Demo".to_owned(),
                key: "demo".to_owned(),
                name: "Demo shop".to_owned(),
                allowed_origins: vec![],
                config: SiteConfig::with_defaults("demo", "Demo shop"),
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_accepted_complaint_gets_a_receipt_whose_link_finds_it() {
        let temp = temp_store();
        let site = demo_site(&temp.store).await;
        let accepted = submit(
            &temp.store,
            "http://heard.test/",
            &site,
            submission(),
            None,
            None,
        )
        .await
        .unwrap();
        let receipt = accepted.receipt;
        assert!(!accepted.replayed);
        assert!(heard_shared::Reference::parse(&receipt.reference).is_some());
        assert_eq!(receipt.summary.description, "Kettle broke");
        assert_eq!(receipt.summary.outcomes, [Outcome::Heard, Outcome::Fix]);
        assert_eq!(receipt.response_target_hours, Some(24));

        let token_text = receipt
            .status_url
            .strip_prefix("http://heard.test/r/")
            .unwrap();
        let token = ReceiptToken::parse(token_text).unwrap();
        let stored = temp
            .store
            .complaint_by_token_hash(token.hash())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.reference, receipt.reference);
    }

    #[tokio::test]
    async fn the_same_key_and_body_return_the_same_receipt() {
        let temp = temp_store();
        let site = demo_site(&temp.store).await;
        let key = Some("3b7a1f52-1111-4a4a-8888-0123456789ab");
        let first = submit(&temp.store, "http://h", &site, submission(), key, None)
            .await
            .unwrap();
        let again = submit(&temp.store, "http://h", &site, submission(), key, None)
            .await
            .unwrap();
        assert!(again.replayed);
        assert_eq!(again.receipt, first.receipt);

        let mut different = submission();
        different.description = "Something else".to_owned();
        let conflict = submit(&temp.store, "http://h", &site, different, key, None)
            .await
            .unwrap_err();
        assert!(matches!(conflict, IntakeError::IdempotencyConflict));
    }

    #[tokio::test]
    async fn contact_without_consent_is_refused_and_never_stored() {
        let temp = temp_store();
        let site = demo_site(&temp.store).await;
        let mut with_contact = submission();
        with_contact.contact = Some(Contact {
            email: Some("ana@example.com".to_owned()),
            ..Contact::default()
        });
        let error = submit(&temp.store, "http://h", &site, with_contact, None, None)
            .await
            .unwrap_err();
        let IntakeError::Invalid(fields) = error else {
            panic!("expected a validation error, got {error:?}")
        };
        assert_eq!(fields[0].field, "contact.consent");
    }

    #[tokio::test]
    async fn suspected_spam_is_stored_and_its_replay_says_so() {
        let temp = temp_store();
        let site = demo_site(&temp.store).await;
        let key = Some("3b7a1f52-2222-4a4a-8888-0123456789ab");
        let mut bot = submission();
        bot.honeypot = Some("http://deals.example".to_owned());
        let first = submit(&temp.store, "http://h", &site, bot.clone(), key, None)
            .await
            .unwrap();
        assert!(first.spam);
        let again = submit(&temp.store, "http://h", &site, bot, key, None)
            .await
            .unwrap();
        assert!(again.replayed);
        assert!(again.spam, "the replay answers from the stored complaint");

        let mut quick = submission();
        quick.fill_ms = Some(900);
        let quick = submit(&temp.store, "http://h", &site, quick, None, None)
            .await
            .unwrap();
        assert!(quick.spam);
        let mut person = submission();
        person.fill_ms = Some(30_000);
        person.honeypot = Some("  ".to_owned());
        let person = submit(&temp.store, "http://h", &site, person, None, None)
            .await
            .unwrap();
        assert!(!person.spam);
        assert_eq!(temp.store.spam_count(site.merchant_id).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_bad_idempotency_key_is_refused() {
        let temp = temp_store();
        let site = demo_site(&temp.store).await;
        let error = submit(
            &temp.store,
            "http://h",
            &site,
            submission(),
            Some("short"),
            None,
        )
        .await
        .unwrap_err();
        assert!(matches!(error, IntakeError::BadIdempotencyKey(_)));
    }
}
