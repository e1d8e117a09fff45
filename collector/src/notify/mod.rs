//! Notifications to staff and to webhooks: the delivery worker.
//!
//! **A notification is written to the outbox in the same transaction as its
//! cause** (routing a new complaint, see `store::routing`), so it exists
//! exactly when its cause does. This worker reads due rows, makes one
//! attempt each — a signed webhook call ([`webhook`]) or an email
//! ([`email`]) — and records the result: delivered, or failed with the next
//! attempt from the Standard Webhooks [`schedule`] (or the receiver's
//! `Retry-After`), or dead after the last attempt. Dead rows stay visible in
//! the dead-letter list until someone retries them. Rows survive restarts;
//! delivery is at least once, with the same `webhook-id` on every attempt so
//! receivers can drop repeats.
//!
//! The triggers time and patterns raise — SLA escalation, clusters of
//! similar complaints, the owners' digests — run in [`sweeps`] and queue
//! rows through `store::notifications` the same way; this worker sends
//! them like any other, with [`email_alerts`] writing their email.

pub mod email;
pub mod email_alerts;
pub mod schedule;
pub mod sweeps;
#[cfg(test)]
mod sweeps_tests;
#[cfg(test)]
mod tests;
pub mod webhook;

use std::time::Duration;

use tokio::sync::watch;

use self::email::StaffMail;
use self::schedule::Schedule;
use crate::clock::Clock;
use crate::settings::Settings;
use crate::store::{Delivery, DueNotification, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the webhook client cannot start: {0}")]
    Client(#[from] reqwest::Error),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
}

/// When to look at the outbox and how to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// How often the outbox is read.
    pub poll: Duration,
    pub schedule: Schedule,
    /// How long a webhook receiver may take to answer.
    pub request_timeout: Duration,
    /// Notifications taken per round.
    pub batch: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            poll: Duration::from_secs(1),
            schedule: Schedule::default(),
            request_timeout: Duration::from_secs(15),
            batch: 32,
        }
    }
}

impl Policy {
    pub fn from_settings(settings: &Settings) -> Policy {
        Policy {
            schedule: Schedule::new(&settings.notify_retry_delays_ms),
            request_timeout: Duration::from_millis(settings.notify_request_timeout_ms.max(1)),
            ..Policy::default()
        }
    }
}

/// How notifications leave: the webhook client and staff email.
#[derive(Clone)]
pub struct Notifier {
    webhooks: webhook::Sender,
    staff_mail: StaffMail,
    /// The collector's public address, for links in email.
    public_url: String,
}

impl Notifier {
    pub fn new(
        staff_mail: StaffMail,
        request_timeout: Duration,
        public_url: &str,
    ) -> Result<Notifier, NotifyError> {
        Ok(Notifier {
            webhooks: webhook::Sender::new(request_timeout)?,
            staff_mail,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }
}

/// Delivers due notifications until `stop` turns true. The attempt in hand
/// is finished first, so its row is settled before the store closes.
pub async fn deliver(
    store: Store,
    notifier: Notifier,
    clock: Clock,
    policy: Policy,
    mut stop: watch::Receiver<bool>,
) {
    let mut warned = false;
    while !*stop.borrow() {
        let full = match deliver_due(&store, &notifier, &clock, &policy, &mut warned).await {
            Ok(taken) => taken >= policy.batch,
            Err(error) => {
                tracing::warn!(%error, "reading the notification outbox failed");
                false
            }
        };
        if full {
            continue;
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(policy.poll) => {}
        }
    }
}

/// One round: an attempt for each due notification, all at once, so a slow
/// or stalled receiver does not hold up an owner's safety email. Answers
/// how many were taken; returns when every attempt is settled.
pub async fn deliver_due(
    store: &Store,
    notifier: &Notifier,
    clock: &Clock,
    policy: &Policy,
    warned: &mut bool,
) -> Result<usize, StoreError> {
    let with_email = notifier.staff_mail.configured();
    let due = store
        .deliverable_notifications(clock.now_millis(), policy.batch, with_email)
        .await?;
    if !with_email && !*warned && store.email_notification_waiting().await? {
        tracing::warn!(
            "staff email is waiting but no smtp_host is configured; \
             it stays queued until one is"
        );
        *warned = true;
    }
    let taken = due.len();
    let mut attempts = tokio::task::JoinSet::new();
    for notification in due {
        let (store, notifier, clock, schedule) = (
            store.clone(),
            notifier.clone(),
            clock.clone(),
            policy.schedule.clone(),
        );
        attempts.spawn(async move {
            let outcome = attempt(&notifier, &notification, clock.now_millis()).await;
            settle(
                &store,
                &schedule,
                &notification,
                outcome,
                clock.now_millis(),
            )
            .await
        });
    }
    let mut first_error = None;
    while let Some(joined) = attempts.join_next().await {
        let settled = joined.map_err(|error| StoreError::Task(error.to_string()))?;
        if let Err(error) = settled {
            first_error.get_or_insert(error);
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(taken),
    }
}

/// Records one attempt's outcome: delivered, retry later, or dead.
async fn settle(
    store: &Store,
    schedule: &Schedule,
    notification: &DueNotification,
    outcome: Result<(), (String, Option<Duration>, bool)>,
    now: i64,
) -> Result<(), StoreError> {
    match outcome {
        Ok(()) => {
            store.notification_delivered(notification.id, now).await?;
            tracing::info!(
                id = notification.id,
                message_id = %notification.message_id,
                "notification delivered"
            );
        }
        Err((error, retry_after, final_failure)) => {
            let failures = notification.attempts + 1;
            let retry_at = if final_failure {
                None
            } else {
                schedule.retry_at(now, failures, retry_after, schedule::jitter())
            };
            if retry_at.is_none() {
                tracing::error!(id = notification.id, failures, %error, "notification is dead; it waits in the dead-letter list");
            } else {
                tracing::warn!(id = notification.id, failures, %error, "notification failed; will retry");
            }
            store
                .notification_failed(notification.id, error, retry_at, now)
                .await?;
        }
    }
    Ok(())
}

/// One attempt. On failure: the error, the receiver's `Retry-After`, and
/// whether retrying cannot help (the endpoint or person is gone).
async fn attempt(
    notifier: &Notifier,
    notification: &DueNotification,
    now: i64,
) -> Result<(), (String, Option<Duration>, bool)> {
    match &notification.delivery {
        Delivery::Unreachable(why) => Err((why.clone(), None, true)),
        Delivery::Webhook {
            url,
            format,
            allow_private,
            secrets,
        } => {
            let call = webhook::Call {
                url,
                format: *format,
                allow_private: *allow_private,
                secrets,
                message_id: &notification.message_id,
                payload: &notification.payload,
                now,
            };
            notifier
                .webhooks
                .send(&call)
                .await
                .map(|_| ())
                .map_err(|failure| (failure.message, failure.retry_after, false))
        }
        Delivery::Email {
            address,
            display_name,
            language,
        } => {
            let (subject, body) = email::render(
                &notification.payload,
                language.as_deref(),
                &notifier.public_url,
            );
            notifier
                .staff_mail
                .send(address, display_name, &subject, body)
                .await
                .map_err(|error| (error, None, false))
        }
    }
}
