//! Getting a complaint to the collector, whatever the network does.
//!
//! A send that fails for a reason worth retrying (offline, timeout, `429`,
//! `5xx`) goes into the [`outbox`] with its idempotency key and is retried
//! with backoff while the page is open; complaints left from earlier page
//! views are sent when the widget mounts. The key makes every retry the same
//! single stored complaint. Every attempt carries a proof of work of its
//! own ([`crate::prover`]): the first one prepared while the shopper typed,
//! the others fetched and solved when needed.

use heard_shared::{ComplaintSubmission, ErrorBody, Receipt};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use yew::{AttrValue, Callback};

use crate::api::{self, ApiError};
use crate::outbox::{self, Pending};
use crate::page;
use crate::panel::PanelControl;
use crate::prover::{Prover, with_fresh_proofs};

/// Where a complaint goes and who hears how it went.
#[derive(Clone)]
pub struct Delivery {
    pub collector: AttrValue,
    pub site_key: AttrValue,
    pub panel: PanelControl,
    /// The proof of work prepared when the dialog opened.
    pub prover: Prover,
}

/// How one complaint's journey ended, for the form.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Stored(Receipt),
    /// Saved in the outbox; retries continue in the background.
    Queued,
    Refused(ErrorBody),
    /// An answer the collector would not give, e.g. a proxy's page.
    Unexpected(u16),
}

impl Delivery {
    /// Sends `submission` and reports to `report`: once with the first
    /// answer, and once more with the receipt if it had to be queued.
    pub fn send(&self, submission: ComplaintSubmission, key: String, report: Callback<Outcome>) {
        let delivery = self.clone();
        // Serialised once: every attempt and the outbox copy send this text.
        let submission = crate::json::to_string(&submission);
        spawn_local(async move {
            match delivery.attempt(&submission, &key).await {
                Err(problem) if problem.is_retryable() => {
                    outbox::save(
                        &delivery.site_key,
                        &Pending {
                            idempotency_key: key.clone(),
                            submission: submission.clone(),
                            saved_at_ms: page::now_ms(),
                        },
                    );
                    report.emit(Outcome::Queued);
                    let outcome = delivery.retry(&submission, &key, problem).await;
                    report.emit(outcome);
                }
                first => report.emit(delivery.settle(first, &key)),
            }
        });
    }

    /// Sends what earlier page views left in the outbox, once each. Entries
    /// the collector refuses can never be stored, so they are dropped; the
    /// rest wait for the next page view.
    pub fn flush_outbox(&self) {
        let delivery = self.clone();
        spawn_local(async move {
            for pending in outbox::pending(&delivery.site_key) {
                let answer = delivery
                    .attempt(&pending.submission, &pending.idempotency_key)
                    .await;
                if !matches!(&answer, Err(problem) if problem.is_retryable()) {
                    outbox::remove(&delivery.site_key, &pending.idempotency_key);
                }
            }
        });
    }

    /// One attempt: a proof of work (each attempt its own, since a proof is
    /// spent by the complaint it comes with), then the complaint, under the
    /// same key every time.
    async fn attempt(&self, submission: &str, key: &str) -> Result<Receipt, ApiError> {
        with_fresh_proofs(
            || self.prover.take(&self.collector, &self.site_key),
            |proof| async move {
                api::send_complaint(
                    &self.collector,
                    &self.site_key,
                    submission,
                    key,
                    proof.as_deref(),
                )
                .await
            },
        )
        .await
    }

    /// Tries again with backoff until an answer that is not worth retrying.
    async fn retry(&self, submission: &str, key: &str, first: ApiError) -> Outcome {
        let mut problem = first;
        let mut attempt = 0;
        loop {
            let wait = match problem {
                ApiError::Busy {
                    retry_after_ms: Some(milliseconds),
                } => milliseconds.max(outbox::retry_delay_ms(attempt)),
                _ => outbox::retry_delay_ms(attempt),
            };
            page::sleep_ms(wait).await;
            attempt = attempt.saturating_add(1);
            match self.attempt(submission, key).await {
                Err(again) if again.is_retryable() => problem = again,
                answer => return self.settle(answer, key),
            }
        }
    }

    /// A final answer: forget the outbox copy and tell the page.
    fn settle(&self, answer: Result<Receipt, ApiError>, key: &str) -> Outcome {
        outbox::remove(&self.site_key, key);
        match answer {
            Ok(receipt) => {
                let detail = js_sys::Object::new();
                let _ = js_sys::Reflect::set(
                    &detail,
                    &JsValue::from_str("reference"),
                    &JsValue::from_str(&receipt.reference),
                );
                self.panel.emit("submitted", &detail);
                Outcome::Stored(receipt)
            }
            Err(ApiError::Refused(body)) => Outcome::Refused(body),
            Err(ApiError::Unexpected(status)) => Outcome::Unexpected(status),
            // Only reached for a retryable error the caller chose not to retry.
            Err(ApiError::NotSent | ApiError::Busy { .. } | ApiError::NoProof) => {
                Outcome::Unexpected(0)
            }
        }
    }
}
