//! Email to shoppers: the messages ([`message`]) and the delivery worker.
//!
//! **A message is queued in the same transaction as its cause** (the
//! complaint, the recovery request, a staff status change or reply) and
//! removed only after the SMTP server has accepted it, so a crash, a restart
//! or an SMTP outage delays mail but never loses it. An update gets its own
//! new status link just before its first attempt. Failed attempts are retried with exponential backoff and
//! jitter; after `max_attempts` a message is parked, kept for an operator.
//! Delivery is at least once: a crash between the server's "250 OK" and the
//! row's deletion sends that one message again after the restart.

pub mod message;
#[cfg(test)]
pub(crate) mod sink;
#[cfg(test)]
mod tests;
pub mod words;

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::domain::intake::status_url;
use crate::domain::token::ReceiptToken;
use crate::settings::{Settings, SmtpTls};
use crate::store::{QueuedMail, Store};

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("smtp_from is not a valid mailbox: {0}")]
    From(String),
    #[error("the SMTP settings are not usable: {0}")]
    Transport(String),
}

/// The SMTP transport `settings` describe (none without `smtp_host`) and
/// the sender: shopper mail and staff mail (`notify::email`) share both.
pub(crate) fn smtp(
    settings: &Settings,
) -> Result<(Option<AsyncSmtpTransport<Tokio1Executor>>, Mailbox), MailError> {
    let from = settings
        .smtp_from
        .parse()
        .map_err(|error: lettre::address::AddressError| MailError::From(error.to_string()))?;
    let Some(host) = settings.smtp_host.as_deref() else {
        return Ok((None, from));
    };
    let builder = match settings.smtp_tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|error| MailError::Transport(error.to_string()))?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            .map_err(|error| MailError::Transport(error.to_string()))?,
    };
    let mut builder = builder.port(settings.smtp_port).timeout(Some(SMTP_TIMEOUT));
    if let Some(username) = &settings.smtp_username {
        let password = settings
            .smtp_password
            .as_ref()
            .map(|password| password.0.clone())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(username.clone(), password));
    }
    Ok((Some(builder.build()), from))
}

/// Plain SMTP to `127.0.0.1:port`, for tests.
#[cfg(test)]
pub(crate) fn loopback_settings(port: u16) -> Settings {
    Settings {
        smtp_host: Some("127.0.0.1".to_owned()),
        smtp_port: port,
        smtp_tls: SmtpTls::None,
        smtp_from: "Heard <heard@heard.test>".to_owned(),
        ..Settings::default()
    }
}

/// Where mail goes: an SMTP server, or nowhere yet (mail waits in the queue).
#[derive(Clone)]
pub struct Outgoing {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    /// The collector's public address: the links minted for update
    /// messages start with it.
    public_url: String,
}

impl Outgoing {
    /// The transport `settings` describe; without `smtp_host`, none.
    pub fn from_settings(settings: &Settings) -> Result<Outgoing, MailError> {
        let (transport, from) = smtp(settings)?;
        Ok(Outgoing {
            transport,
            from,
            public_url: settings.public_url.clone().unwrap_or_default(),
        })
    }

    /// The same transport, minting links under `public_url` (the address
    /// `serve` worked out, which may come from the bound port).
    pub fn links_to(self, public_url: &str) -> Outgoing {
        Outgoing {
            public_url: public_url.trim_end_matches('/').to_owned(),
            ..self
        }
    }

    /// Plain SMTP to `127.0.0.1:port`, for tests.
    #[cfg(test)]
    pub fn loopback(port: u16) -> Outgoing {
        Outgoing::from_settings(&loopback_settings(port)).expect("loopback SMTP settings")
    }
}

/// When to look at the queue and how to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How often the queue is read when nothing rings.
    pub poll: Duration,
    /// The delay after the first failure, in ms; it doubles with each one.
    pub first_retry_ms: i64,
    /// The longest delay between attempts, in ms.
    pub max_retry_ms: i64,
    /// Attempts before a message is parked.
    pub max_attempts: u32,
    /// Messages taken per round.
    pub batch: usize,
}

impl Policy {
    pub fn from_settings(settings: &Settings) -> Policy {
        Policy {
            max_attempts: settings.mail_max_attempts.max(1),
            ..Policy::default()
        }
    }

    /// When to try again after the `attempts`-th failure (1-based), or
    /// `None` to park. `jitter` in `[0, 1)` spreads retries over the upper
    /// half of the delay so a recovering server is not hit all at once.
    pub fn retry_at(&self, now: i64, attempts: u32, jitter: f64) -> Option<i64> {
        if attempts >= self.max_attempts {
            return None;
        }
        let doubling = 1_i64 << attempts.saturating_sub(1).min(30);
        let delay = self
            .first_retry_ms
            .saturating_mul(doubling)
            .min(self.max_retry_ms);
        let half = delay / 2;
        Some(now + half + (half as f64 * jitter.clamp(0.0, 1.0)) as i64)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            poll: Duration::from_secs(5),
            first_retry_ms: 60_000,
            max_retry_ms: 6 * 3_600_000,
            max_attempts: 10,
            batch: 32,
        }
    }
}

/// Delivers queued mail until `stop` turns true. A message being sent when
/// it does is finished first, so its row is settled before the store closes.
pub async fn deliver(
    store: Store,
    outgoing: Outgoing,
    clock: Clock,
    policy: Policy,
    mut stop: watch::Receiver<bool>,
) {
    let queued = store.mail_queued();
    let mut warned = false;
    while !*stop.borrow() {
        match &outgoing.transport {
            Some(transport) => {
                if let Err(error) = deliver_due(&store, transport, &outgoing, &clock, &policy).await
                {
                    tracing::warn!(%error, "reading the mail queue failed");
                }
            }
            None if !warned => {
                if let Ok(waiting) = store.due_mail(i64::MAX, 1).await
                    && !waiting.is_empty()
                {
                    tracing::warn!(
                        "shopper email is waiting but no smtp_host is configured; \
                         it stays queued until one is"
                    );
                    warned = true;
                }
            }
            None => {}
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = queued.notified() => {}
            () = tokio::time::sleep(policy.poll) => {}
        }
    }
}

async fn deliver_due(
    store: &Store,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    outgoing: &Outgoing,
    clock: &Clock,
    policy: &Policy,
) -> Result<(), crate::store::StoreError> {
    for mut mail in store.due_mail(clock.now_millis(), policy.batch).await? {
        if mail.status_url.is_empty() {
            // An update gets a link of its own before its first attempt;
            // retries reuse it. No row: its complaint was deleted meanwhile.
            let token = ReceiptToken::generate();
            let url = status_url(&outgoing.public_url, &token);
            if !store
                .mint_mail_link(mail.id, token.hash(), url.clone(), clock.now_millis())
                .await?
            {
                continue;
            }
            mail.status_url = url;
        }
        match send(transport, &outgoing.from, &mail).await {
            Ok(()) => {
                store.mail_delivered(mail.id).await?;
                tracing::info!(id = mail.id, kind = mail.kind.as_str(), reference = %mail.reference, "mail delivered");
            }
            Err(error) => {
                let now = clock.now_millis();
                let attempts = mail.attempts + 1;
                let retry_at = policy.retry_at(now, attempts, jitter());
                if retry_at.is_none() {
                    tracing::error!(id = mail.id, attempts, %error, "mail parked after its last attempt");
                } else {
                    tracing::warn!(id = mail.id, attempts, %error, "mail delivery failed; will retry");
                }
                store.mail_failed(mail.id, error, retry_at, now).await?;
            }
        }
    }
    Ok(())
}

async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    mail: &QueuedMail,
) -> Result<(), String> {
    let message = message::build(mail, from).map_err(|error| error.to_string())?;
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|error| error.to_string())
}

fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    crate::random::fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}
