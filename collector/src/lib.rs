//! Heard's collector: accepts complaints from the widget, stores them durably
//! in SQLite, answers every shopper with a receipt, and serves the pages
//! between shopper, merchant and staff.
//!
//! Layers: [`http`] (axum) → [`domain`] → [`store`] (rusqlite). Only `http`
//! imports axum; only `store` imports rusqlite.

#![forbid(unsafe_code)]

pub mod clock;
pub mod domain;
pub mod http;
pub mod mail;
pub mod notify;
pub mod random;
pub mod runtime;
pub mod settings;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use settings::Settings;
use store::{Store, StoreError};

/// How long in-flight requests may take to finish after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A pause after a failed `accept` (e.g. out of file descriptors), so the
/// loop does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How long the mail worker may take to finish the message in hand.
const MAIL_STOP_GRACE: Duration = Duration::from_secs(35);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("staff accounts cannot start: {0}")]
    Accounts(#[from] domain::accounts::AccountError),
    #[error("email cannot start: {0}")]
    Mail(#[from] mail::MailError),
    #[error("notifications cannot start: {0}")]
    Notify(#[from] notify::NotifyError),
    #[error("proof of work cannot start: {0}")]
    ProofOfWork(#[from] domain::proof::PolicyError),
}

/// Serves the collector on `listener` until `shutdown` completes, then lets
/// in-flight requests finish (up to a grace period) and closes the database
/// after every queued write is committed.
pub async fn serve(
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let outgoing = mail::Outgoing::from_settings(settings)?;
    let proof_policy = domain::proof::ProofPolicy::from_settings(settings)?;
    let notify_policy = notify::Policy::from_settings(settings);
    let notifier = notify::Notifier::new(
        notify::email::StaffMail::from_settings(settings)?,
        notify_policy.request_timeout,
        &public_url(settings, listener.local_addr()?),
    )?;
    let store = Store::open(&settings.database, settings.max_batch, settings.write_queue)?;
    let public_url = public_url(settings, listener.local_addr()?);
    let accounts = match domain::accounts::Accounts::new(store.clone(), settings.password_params())
    {
        Ok(accounts) => accounts,
        Err(error) => {
            store.shutdown().await;
            return Err(error.into());
        }
    };
    let state = http::AppState::new(
        store.clone(),
        &public_url,
        settings.www_dir.clone(),
        settings.widget_dir.clone(),
        accounts.clone(),
    )
    .with_rate_limits(http::rate_limit::RateLimits::new(
        http::rate_limit::RateLimitPolicy::from_settings(settings),
    ))
    .with_proof_of_work(domain::proof::ProofOfWork::new(proof_policy))
    .with_reopen_window_days(settings.reopen_window_days)
    .with_cluster_window_hours(settings.cluster_window_hours);
    let janitor = tokio::spawn(domain::janitor::run(
        store.clone(),
        accounts,
        clock::Clock::System,
    ));
    let (stop_mail, mail_stop) = watch::channel(false);
    let mailer = tokio::spawn(mail::deliver(
        store.clone(),
        outgoing.links_to(&public_url),
        clock::Clock::System,
        mail::Policy::from_settings(settings),
        mail_stop,
    ));
    let notifications = tokio::spawn(notify::deliver(
        store.clone(),
        notifier,
        clock::Clock::System,
        notify_policy,
        stop_mail.subscribe(),
    ));
    // Escalation, cluster detection and digests: they queue notifications.
    let sweeps = tokio::spawn(notify::sweeps::run(
        store.clone(),
        clock::Clock::System,
        notify::sweeps::SweepPolicy::from_settings(settings),
        stop_mail.subscribe(),
    ));
    // Open inbox streams (server-sent events) end when shutdown begins, so
    // the graceful shutdown does not wait for them.
    let live = state.live.clone();
    let shutdown = async move {
        shutdown.await;
        live.close();
    };
    let result = serve_router(
        http::router(state),
        listener,
        shutdown,
        ClientTimeouts::from_settings(settings),
    )
    .await;
    janitor.abort();
    // The worker finishes the message in hand, so its row is settled before
    // the store closes; anything unsent stays queued for the next start.
    let _ = stop_mail.send(true);
    let mailer_abort = mailer.abort_handle();
    if tokio::time::timeout(MAIL_STOP_GRACE, mailer).await.is_err() {
        mailer_abort.abort();
        tracing::warn!("the mail worker did not stop in time; unsent mail stays queued");
    }
    // A sweep finishes its writer job (its records and notifications
    // commit together), then stops.
    let sweeps_abort = sweeps.abort_handle();
    if tokio::time::timeout(MAIL_STOP_GRACE, sweeps).await.is_err() {
        sweeps_abort.abort();
    }
    // Likewise the notification in hand; the rest stays in the outbox.
    let notifications_abort = notifications.abort_handle();
    if tokio::time::timeout(MAIL_STOP_GRACE, notifications)
        .await
        .is_err()
    {
        notifications_abort.abort();
        tracing::warn!("the notify worker did not stop in time; pending notifications stay queued");
    }
    store.shutdown().await;
    tracing::info!("collector stopped; every acknowledged complaint is on disk");
    result.map_err(ServeError::from)
}

/// Serves the demo shop page (a second origin) until `shutdown` completes.
pub async fn serve_demo_shop(
    settings: &Settings,
    collector_url: &str,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = http::demo::router(settings.www_dir.clone(), collector_url);
    serve_router(
        router,
        listener,
        shutdown,
        ClientTimeouts::from_settings(settings),
    )
    .await
}

/// The collector's public address: the configured one, or `http://{bound address}`.
pub fn public_url(settings: &Settings, bound: SocketAddr) -> String {
    match &settings.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{bound}"),
    }
}

/// How long a client may take to send a request: slow clients (slowloris)
/// are cut off instead of holding a connection and its memory forever.
#[derive(Debug, Clone, Copy)]
struct ClientTimeouts {
    /// For the request line and headers; hyper closes the connection after it.
    header_read: Duration,
    /// For the whole body, counted from the moment the headers are in.
    body_read: Duration,
}

impl ClientTimeouts {
    fn from_settings(settings: &Settings) -> ClientTimeouts {
        ClientTimeouts {
            header_read: settings.header_read_timeout(),
            body_read: settings.body_read_timeout(),
        }
    }
}

/// Accepts connections until `shutdown`, then lets open requests finish (up
/// to [`SHUTDOWN_GRACE`]). Written out rather than `axum::serve` because the
/// header-read timeout needs hyper's own connection builder and timer.
async fn serve_router(
    router: axum::Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    timeouts: ClientTimeouts,
) -> std::io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: keep serving the others.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let body_read = timeouts.body_read;
        // Connection info gives handlers the peer address (rate limits,
        // sign-in throttling); every body gets its deadline.
        let service = tower::ServiceExt::map_request(
            router.clone(),
            move |request: axum::http::Request<hyper::body::Incoming>| {
                let (mut parts, body) = request.into_parts();
                parts.extensions.insert(axum::extract::ConnectInfo(peer));
                // The body marks its deadline as passed; the router answers 408.
                let deadline = http::json::BodyDeadline::new(body_read.as_secs());
                parts.extensions.insert(deadline.clone());
                let body =
                    axum::body::Body::new(slow_body::DeadlineBody::new(body, body_read, deadline));
                axum::http::Request::from_parts(parts, body)
            },
        );
        let connection = builder.serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still open after the shutdown grace period; closing them");
        }
    }
    Ok(())
}

mod slow_body {
    //! A request body with a deadline for all of it, not just for each
    //! piece: a client dribbling a byte now and then is cut off too.

    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use axum::body::Bytes;
    use http_body::{Body, Frame, SizeHint};

    use crate::http::json::BodyDeadline;

    pub(super) struct DeadlineBody {
        inner: hyper::body::Incoming,
        deadline: Pin<Box<tokio::time::Sleep>>,
        limit: Duration,
        /// Told when the deadline passes, so the answer is a 408.
        passed: BodyDeadline,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the request body did not arrive within {0} seconds")]
    pub(super) struct BodyTooSlow(u64);

    impl DeadlineBody {
        pub(super) fn new(
            inner: hyper::body::Incoming,
            limit: Duration,
            passed: BodyDeadline,
        ) -> DeadlineBody {
            DeadlineBody {
                inner,
                deadline: Box::pin(tokio::time::sleep(limit)),
                limit,
                passed,
            }
        }
    }

    impl Body for DeadlineBody {
        type Data = Bytes;
        type Error = Box<dyn std::error::Error + Send + Sync>;

        fn poll_frame(
            self: Pin<&mut Self>,
            context: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            let this = self.get_mut();
            if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(context) {
                return Poll::Ready(frame.map(|result| result.map_err(Into::into)));
            }
            if this.deadline.as_mut().poll(context).is_ready() {
                this.passed.expire();
                return Poll::Ready(Some(Err(BodyTooSlow(this.limit.as_secs()).into())));
            }
            Poll::Pending
        }

        fn is_end_stream(&self) -> bool {
            self.inner.is_end_stream()
        }

        fn size_hint(&self) -> SizeHint {
            self.inner.size_hint()
        }
    }
}
