//! A complaint that was acknowledged is never lost: not when the collector is
//! killed mid-stream, and not when the shopper's widget retries.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use heard_e2e::RunningCollector;
use heard_e2e::proof;
use heard_e2e::wait::{self, DEADLINE};
use heard_shared::{ComplaintSubmission, IDEMPOTENCY_KEY_HEADER, Receipt};
use tokio::sync::{Mutex, Notify};

/// Complaints offered in total; the collector dies part-way through.
const COMPLAINTS: usize = 300;
/// Concurrent senders, like many shoppers at once.
const SENDERS: usize = 8;
/// The collector is killed as soon as this many receipts have come back.
const KILL_AFTER: usize = 100;

/// One complaint and the receipt that acknowledged it.
#[derive(Clone)]
struct Acknowledged {
    idempotency_key: String,
    submission: ComplaintSubmission,
    receipt: Receipt,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_complaints_survive_a_hard_kill_and_retries_do_not_duplicate()
-> anyhow::Result<()> {
    let mut collector = RunningCollector::start()?;
    let submit_url = collector.endpoint("/api/v1/sites/demo/complaints");
    let run = unique_run_id();
    let http = reqwest::Client::new();

    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(Mutex::new(Vec::<Acknowledged>::new()));
    let enough_acknowledged = Arc::new(Notify::new());
    let mut senders: Vec<tokio::task::JoinHandle<anyhow::Result<()>>> = Vec::new();
    for _ in 0..SENDERS {
        let (http, url, run) = (http.clone(), submit_url.clone(), run.clone());
        let (next, acknowledged, enough_acknowledged) = (
            Arc::clone(&next),
            Arc::clone(&acknowledged),
            Arc::clone(&enough_acknowledged),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let number = next.fetch_add(1, Ordering::SeqCst);
                if number >= COMPLAINTS {
                    return Ok(());
                }
                let idempotency_key = format!("durability-{run}-{number:04}");
                let submission = complaint(&format!(
                    "Durability check {run} #{number}: the kettle stopped heating after a week."
                ));
                // Without a challenge the collector is gone too.
                let Ok(proof) = proof::for_complaints(&http, &url).await else {
                    return Ok(());
                };
                let Ok(response) = http
                    .post(&url)
                    .header(IDEMPOTENCY_KEY_HEADER, &idempotency_key)
                    .header(proof::HEADER, proof)
                    .json(&submission)
                    .send()
                    .await
                else {
                    // The collector is gone: this complaint was never
                    // acknowledged, and neither will the rest be.
                    return Ok(());
                };
                let status = response.status();
                if status != reqwest::StatusCode::CREATED {
                    // A killed process answers nothing, so this came from a live collector.
                    let body = response.text().await.unwrap_or_default();
                    bail!("complaint {number} was answered {status}: {body}");
                }
                // A receipt cut off by the kill was not acknowledged.
                let Ok(receipt) = response.json::<Receipt>().await else {
                    return Ok(());
                };
                let mut acknowledged = acknowledged.lock().await;
                acknowledged.push(Acknowledged {
                    idempotency_key,
                    submission,
                    receipt,
                });
                if acknowledged.len() == KILL_AFTER {
                    enough_acknowledged.notify_one();
                }
            }
        }));
    }

    let waited = tokio::time::timeout(DEADLINE, enough_acknowledged.notified()).await;
    collector.kill_hard()?;
    let mut problems = Vec::new();
    for sender in senders {
        if let Err(problem) = sender.await.context("a sender task panicked")? {
            problems.push(format!("{problem:#}"));
        }
    }
    ensure!(problems.is_empty(), "submissions failed: {problems:#?}");
    waited.with_context(|| {
        format!("gave up after {DEADLINE:?} waiting for {KILL_AFTER} acknowledged complaints")
    })?;
    let acknowledged = acknowledged.lock().await.clone();
    ensure!(
        acknowledged.len() < COMPLAINTS,
        "all {COMPLAINTS} complaints were acknowledged before the kill, so nothing was in flight"
    );

    collector.restart()?;

    // Every acknowledged reference is on disk.
    let stored = stored_references(&collector)?;
    let missing: Vec<&str> = acknowledged
        .iter()
        .map(|ack| ack.receipt.reference.as_str())
        .filter(|reference| !stored.contains(*reference))
        .collect();
    ensure!(
        missing.is_empty(),
        "{} of {} acknowledged complaints are missing after the restart: {missing:?}",
        missing.len(),
        acknowledged.len()
    );

    // Every acknowledged status link still answers, with the reference on the page.
    for ack in &acknowledged {
        let url = collector.resolve(&ack.receipt.status_url)?;
        let response = http.get(url.clone()).send().await?;
        let status = response.status();
        let page = response.text().await?;
        ensure!(status == reqwest::StatusCode::OK, "{url} answered {status}");
        ensure!(
            page.contains(&ack.receipt.reference),
            "the status page {url} does not show {}",
            ack.receipt.reference
        );
    }

    // A widget retrying after the crash gets the same receipt, not a second complaint.
    let rows_before = count_complaints(&collector)?;
    // Rows beyond the acknowledged ones were committed while their answers were in flight.
    eprintln!(
        "{} of {COMPLAINTS} acknowledged before the kill; {rows_before} stored",
        acknowledged.len()
    );
    for ack in acknowledged.iter().step_by(acknowledged.len().div_ceil(5)) {
        let response = http
            .post(&submit_url)
            .header(IDEMPOTENCY_KEY_HEADER, &ack.idempotency_key)
            .header(
                proof::HEADER,
                proof::for_complaints(&http, &submit_url).await?,
            )
            .json(&ack.submission)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            bail!(
                "resending {} answered {status}: {}",
                ack.idempotency_key,
                response.text().await?
            );
        }
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let receipt: Receipt = response.json().await?;
        assert_eq!(
            replayed.as_deref(),
            Some("true"),
            "a retry answers with the first receipt and says so"
        );
        assert_eq!(
            receipt.reference, ack.receipt.reference,
            "a retry with the same Idempotency-Key must get the same reference"
        );
    }
    assert_eq!(
        count_complaints(&collector)?,
        rows_before,
        "retries must not add complaints"
    );
    Ok(())
}

/// The collector answers health checks again after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_collector_answers_health_checks() -> anyhow::Result<()> {
    let mut collector = RunningCollector::start()?;
    collector.kill_hard()?;
    collector.restart()?;
    let http = reqwest::Client::new();
    let url = collector.endpoint("/healthz");
    wait::until(&format!("{url} to answer 200"), DEADLINE, || async {
        let status = http.get(&url).send().await?.status();
        ensure!(status == reqwest::StatusCode::OK, "answered {status}");
        Ok(())
    })
    .await
}

fn complaint(description: &str) -> ComplaintSubmission {
    ComplaintSubmission {
        category: "product".to_owned(),
        description: description.to_owned(),
        outcomes: Vec::new(),
        remedy: None,
        severity: None,
        mood: None,
        language: "en".to_owned(),
        page_url: None,
        user_agent: None,
        answers: Default::default(),
        contact: None,
        ..ComplaintSubmission::default()
    }
}

fn stored_references(collector: &RunningCollector) -> anyhow::Result<BTreeSet<String>> {
    let database = collector.open_database()?;
    let mut statement = database.prepare("SELECT reference FROM complaints")?;
    let references = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(references)
}

fn count_complaints(collector: &RunningCollector) -> anyhow::Result<i64> {
    let database = collector.open_database()?;
    Ok(database.query_row("SELECT COUNT(*) FROM complaints", [], |row| row.get(0))?)
}

/// Distinguishes this run's idempotency keys and descriptions from any other's.
fn unique_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    format!("{:x}-{}", nanos, std::process::id())
}
