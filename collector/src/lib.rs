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
pub mod random;
pub mod settings;
pub mod store;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

pub use settings::Settings;
use store::{Store, StoreError};

/// How long in-flight requests may take to finish after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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
    );
    let janitor = tokio::spawn(domain::janitor::run(
        store.clone(),
        accounts,
        clock::Clock::System,
    ));
    let (stop_mail, mail_stop) = watch::channel(false);
    let mailer = tokio::spawn(mail::deliver(
        store.clone(),
        outgoing,
        clock::Clock::System,
        mail::Policy::from_settings(settings),
        mail_stop,
    ));
    let result = serve_router(http::router(state), listener, shutdown).await;
    janitor.abort();
    // The worker finishes the message in hand, so its row is settled before
    // the store closes; anything unsent stays queued for the next start.
    let _ = stop_mail.send(true);
    let mailer_abort = mailer.abort_handle();
    if tokio::time::timeout(MAIL_STOP_GRACE, mailer).await.is_err() {
        mailer_abort.abort();
        tracing::warn!("the mail worker did not stop in time; unsent mail stays queued");
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
    serve_router(router, listener, shutdown).await
}

/// The collector's public address: the configured one, or `http://{bound address}`.
pub fn public_url(settings: &Settings, bound: SocketAddr) -> String {
    match &settings.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{bound}"),
    }
}

async fn serve_router(
    router: axum::Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (began, beginning) = oneshot::channel();
    let signal = async move {
        shutdown.await;
        let _ = began.send(());
    };
    // Connection info gives handlers the peer address (sign-in throttling).
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service)
        .with_graceful_shutdown(signal)
        .into_future();
    let grace_over = async {
        if beginning.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = grace_over => {
            tracing::warn!("requests still open after the shutdown grace period; closing them");
            Ok(())
        }
    }
}
