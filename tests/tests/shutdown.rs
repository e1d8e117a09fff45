//! Stopping the collector the polite way (SIGTERM, as a service manager does)
//! lets requests in flight finish, and every complaint it acknowledged is on
//! disk afterwards, in a database that passes SQLite's own integrity check.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, ensure};
use heard_e2e::RunningCollector;
use heard_e2e::proof;
use heard_e2e::wait::DEADLINE;
use heard_shared::{ComplaintSubmission, IDEMPOTENCY_KEY_HEADER, Receipt};
use tokio::sync::{Mutex, Notify};

const SENDERS: usize = 8;
const TERMINATE_AFTER: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_requests_and_loses_nothing() -> anyhow::Result<()> {
    let mut collector = RunningCollector::start()?;
    let url = collector.endpoint("/api/v1/sites/demo/complaints");
    let http = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let enough = Arc::new(Notify::new());

    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (http, url) = (http.clone(), url.clone());
        let (next, acknowledged, enough) = (
            Arc::clone(&next),
            Arc::clone(&acknowledged),
            Arc::clone(&enough),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let number = next.fetch_add(1, Ordering::SeqCst);
                let submission = ComplaintSubmission {
                    category: "delivery".to_owned(),
                    description: format!("Shutdown check #{number}: the parcel is a week late."),
                    language: "en".to_owned(),
                    ..ComplaintSubmission::default()
                };
                // Once the collector stops accepting, there is no challenge either.
                let Ok(proof) = proof::for_complaints(&http, &url).await else {
                    return;
                };
                let sent = http
                    .post(&url)
                    .header(
                        IDEMPOTENCY_KEY_HEADER,
                        format!("shutdown-{}-{number}", std::process::id()),
                    )
                    .header(proof::HEADER, proof)
                    .json(&submission)
                    .send()
                    .await;
                // Once the collector stops accepting, the rest are simply not acknowledged.
                let Ok(response) = sent else { return };
                if response.status() != reqwest::StatusCode::CREATED {
                    return;
                }
                let Ok(receipt) = response.json::<Receipt>().await else {
                    return;
                };
                let mut acknowledged = acknowledged.lock().await;
                acknowledged.push(receipt.reference);
                if acknowledged.len() == TERMINATE_AFTER {
                    enough.notify_one();
                }
            }
        }));
    }

    tokio::time::timeout(DEADLINE, enough.notified())
        .await
        .with_context(|| format!("waiting for {TERMINATE_AFTER} acknowledged complaints"))?;
    let status = tokio::task::spawn_blocking(move || {
        let status = collector.terminate();
        (collector, status)
    })
    .await?;
    let (collector, status) = status;
    let status = status?;
    for sender in senders {
        sender.await.context("a sender panicked")?;
    }
    ensure!(
        status.success(),
        "the collector exited with {status} after SIGTERM:\n{}",
        collector.log_tail()
    );
    ensure!(
        collector
            .log_tail()
            .contains("every acknowledged complaint is on disk"),
        "the collector did not report a clean stop:\n{}",
        collector.log_tail()
    );

    let database = collector.open_database()?;
    let integrity: String = database.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    assert_eq!(integrity, "ok");
    let acknowledged = acknowledged.lock().await.clone();
    let mut missing = Vec::new();
    for reference in &acknowledged {
        let found: i64 = database.query_row(
            "SELECT count(*) FROM complaints WHERE reference = ?1",
            [reference],
            |row| row.get(0),
        )?;
        if found != 1 {
            missing.push(reference.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged complaints are missing after SIGTERM: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
    Ok(())
}
