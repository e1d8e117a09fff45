//! Another process holds the database's write lock (an operator's `sqlite3`
//! shell in the middle of a transaction, a backup tool, a stuck script): the
//! real collector keeps answering. Intake waits a bounded time, then
//! answers `503` with `Retry-After` — never `500` — stores nothing it did
//! not acknowledge, and accepts complaints again once the lock is released.
//! Reading (status pages) goes on meanwhile: WAL readers are not blocked.

use anyhow::{Context, ensure};
use heard_e2e::RunningCollector;
use heard_e2e::proof;
use serde_json::{Value, json};

fn complaint(number: usize) -> Value {
    json!({
        "category": "product",
        "description": format!("Locked database check #{number}: the kettle leaks."),
        "outcomes": ["fix"],
        "language": "en",
    })
}

async fn send(
    http: &reqwest::Client,
    collector: &RunningCollector,
    number: usize,
) -> anyhow::Result<reqwest::Response> {
    let url = collector.endpoint("/api/v1/sites/demo/complaints");
    let proof = proof::for_complaints(http, &url).await?;
    http.post(url)
        .header("Idempotency-Key", format!("locked-database-{number:04}"))
        .header(proof::HEADER, proof)
        .json(&complaint(number))
        .send()
        .await
        .context("sending a complaint")
}

fn stored(collector: &RunningCollector, number: usize) -> anyhow::Result<i64> {
    let needle = format!("Locked database check #{number}:%");
    Ok(collector.open_database()?.query_row(
        "SELECT count(*) FROM complaints WHERE description LIKE ?1",
        [needle],
        |row| row.get(0),
    )?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_gets_503_with_retry_after_then_recovers() -> anyhow::Result<()> {
    let collector = RunningCollector::start()?;
    let http = reqwest::Client::new();

    // Before: a complaint goes through, and its status page opens.
    let response = send(&http, &collector, 1).await?;
    ensure!(
        response.status() == 201,
        "before the lock: {}",
        response.status()
    );
    let receipt: Value = response.json().await?;
    let status_url = collector.resolve(receipt["status_url"].as_str().context("a link")?)?;

    // This test process takes the write lock, as another program would.
    let locker = rusqlite::Connection::open(collector.database_path())?;
    locker.execute_batch("BEGIN IMMEDIATE")?;

    let response = send(&http, &collector, 2).await?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    ensure!(
        status == 503,
        "while another process holds the write lock, intake answered {status}: {body}\n{}",
        collector.log_tail()
    );
    ensure!(
        retry_after
            .as_deref()
            .and_then(|value| value.parse::<u64>().ok())
            .is_some(),
        "a 503 without a Retry-After in seconds: {retry_after:?}"
    );
    ensure!(
        body["error"].as_str().is_some() && body["message"].as_str().is_some(),
        "the 503 is not in the error shape: {body}"
    );

    // Reading goes on while the lock is held.
    let page = http.get(status_url.clone()).send().await?;
    ensure!(
        page.status() == 200,
        "the status page answered {}",
        page.status()
    );

    // The lock goes: the same complaint, retried as the widget does, is stored once.
    locker.execute_batch("ROLLBACK")?;
    drop(locker);
    ensure!(
        stored(&collector, 2)? == 0,
        "a refused complaint was stored"
    );
    let response = send(&http, &collector, 2).await?;
    ensure!(
        response.status() == 201,
        "after the lock went, intake answered {}",
        response.status()
    );
    ensure!(
        stored(&collector, 2)? == 1,
        "the retried complaint is not stored once"
    );
    Ok(())
}
