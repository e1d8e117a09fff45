//! A real out-of-space failure, from the operating system: the running
//! collector is given a file-size limit (`RLIMIT_FSIZE`, set from outside
//! with `prlimit`, as `ulimit -f` or a service manager would), so its writes
//! past it fail with `EFBIG` (and a `SIGXFSZ`, which by default would kill
//! the process). Intake answers the full-disk `503` with `Retry-After`,
//! acknowledges nothing it did not store, and the process stays up; once
//! the limit is lifted, with no restart, intake succeeds again, the search
//! index catches up, and every acknowledged complaint is in the database.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail, ensure};
use heard_e2e::RunningCollector;
use heard_e2e::proof;
use heard_e2e::staff::{PASSWORD, add_owner, api_sign_in};
use heard_e2e::wait::{self, DEADLINE};
use serde_json::{Value, json};

/// Room given past the database file's length when the limit is set: some
/// dozens of complaints' worth.
const ROOM: u64 = 2 * 1024 * 1024;

/// Complaints sent at most before the limit must have bitten.
const MOST_SENT: usize = 3_000;

/// Refusals in a row after which the limit is taken to be reached.
const REFUSED_IN_A_ROW: usize = 20;

const OWNER: &str = "owner@disk-full.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_size_limit_refuses_intake_keeps_the_collector_up_and_it_recovers()
-> anyhow::Result<()> {
    let collector = RunningCollector::start()?;
    add_owner(&collector, "Demo merchant", OWNER)?;
    let http = reqwest::Client::new();
    let (cookie, _csrf) = api_sign_in(&http, &collector, OWNER, PASSWORD).await?;
    let pid = collector_pid(&collector)?;

    // Before: a complaint is acknowledged and found by search.
    let mut acknowledged = Vec::new();
    let before = send(&http, &collector, "before").await?;
    ensure!(before.status == 201, "before the limit: {}", before.body);
    acknowledged.push(before.reference()?);
    let before_word = word("before");
    found_by_search(
        &http,
        &collector,
        &cookie,
        &before_word,
        &before.reference()?,
    )
    .await?;

    // The limit: a little room past the database file and its WAL (the
    // longest files; a file longer than the limit can still be rewritten
    // in place, only not grow).
    let limit = database_and_wal(&collector)? + ROOM;
    set_file_size_limit(pid, &limit.to_string())?;

    // Intake goes on until a write fails, then answers the full-disk 503.
    let mut refused = Vec::new();
    let mut refused_in_a_row = 0;
    let mut sent = 0;
    while refused_in_a_row < REFUSED_IN_A_ROW {
        ensure!(
            sent < MOST_SENT,
            "{sent} complaints were acknowledged under a {limit}-byte file limit"
        );
        let label = format!("during-{sent}");
        let answer = send(&http, &collector, &label).await?;
        sent += 1;
        match answer.status {
            201 => {
                acknowledged.push(answer.reference()?);
                refused_in_a_row = 0;
            }
            503 => {
                ensure!(
                    answer.retry_after.is_some(),
                    "a 503 without Retry-After: {}",
                    answer.body
                );
                ensure!(
                    answer.body["error"].as_str().is_some()
                        && answer.body["message"].as_str().is_some(),
                    "the 503 is not in the error shape: {}",
                    answer.body
                );
                refused.push(label);
                refused_in_a_row += 1;
            }
            other => bail!(
                "under the file limit intake answered {other}: {}\n{}",
                answer.body,
                collector.log_tail()
            ),
        }
    }
    ensure!(
        acknowledged.len() > 1,
        "the limit of {limit} bytes bit at once; the test needs some complaints stored under it"
    );
    eprintln!(
        "under a limit of {limit} bytes: {} acknowledged, {} refused",
        acknowledged.len() - 1,
        refused.len()
    );

    // The process is up and still serves what needs no writing.
    ensure!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the collector exited"
    );
    let health = http.get(collector.endpoint("/healthz")).send().await?;
    ensure!(
        health.status().is_success(),
        "/healthz answered {} under the file limit",
        health.status()
    );

    // Space returns: intake succeeds again without a restart.
    let after = lift_limit_and_send(&http, &collector, pid, "after").await?;
    acknowledged.push(after.reference()?);

    // The search index caught up: the complaint sent after the limit was
    // lifted is found, and so is the one sent before it was set.
    found_by_search(
        &http,
        &collector,
        &cookie,
        &word("after"),
        &after.reference()?,
    )
    .await?;
    found_by_search(
        &http,
        &collector,
        &cookie,
        &before_word,
        &before.reference()?,
    )
    .await?;

    // Every acknowledged complaint is stored, no refused one is, and the
    // database is whole.
    let database = collector.open_database()?;
    for reference in &acknowledged {
        let stored: i64 = database.query_row(
            "SELECT count(*) FROM complaints WHERE reference = ?1",
            [reference],
            |row| row.get(0),
        )?;
        ensure!(
            stored == 1,
            "acknowledged {reference} is stored {stored} times"
        );
    }
    for label in &refused {
        let stored: i64 = database.query_row(
            "SELECT count(*) FROM complaints WHERE description LIKE ?1",
            [format!("{}%", word(label))],
            |row| row.get(0),
        )?;
        ensure!(stored == 0, "the refused complaint {label} was stored");
    }
    let integrity: String = database.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    ensure!(integrity == "ok", "integrity check: {integrity}");
    Ok(())
}

/// The search index's own writes refused: a complaint is acknowledged and
/// the limit is set at once, inside the 100 ms in which the indexer gathers
/// commits before it writes, so the indexer's write fails with `EFBIG` too
/// (tried again with a new complaint in the rare case the indexer was
/// quicker); once the limit is lifted, the index takes that complaint and
/// the next ones, with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_index_catches_up_after_its_writes_were_refused() -> anyhow::Result<()> {
    let collector = RunningCollector::start()?;
    add_owner(&collector, "Demo merchant", OWNER)?;
    let http = reqwest::Client::new();
    let (cookie, _csrf) = api_sign_in(&http, &collector, OWNER, PASSWORD).await?;
    let pid = collector_pid(&collector)?;

    let mut pending = None;
    for attempt in 0..5 {
        let label = format!("pending-{attempt}");
        let answer = send(&http, &collector, &label).await?;
        ensure!(answer.status == 201, "before the limit: {}", answer.body);
        // No file may grow at all.
        set_file_size_limit(pid, "4096")?;
        let refused = wait::until(
            "the indexer's write to be refused",
            std::time::Duration::from_secs(3),
            || async {
                ensure!(
                    collector.log_tail().contains("indexing for search failed"),
                    "not yet"
                );
                Ok(())
            },
        )
        .await;
        if refused.is_ok() {
            pending = Some((label, answer.reference()?));
            break;
        }
        set_file_size_limit(pid, "unlimited")?;
    }
    let (label, reference) = pending.context("the indexer was never refused a write")?;
    let refused = send(&http, &collector, "refused").await?;
    ensure!(
        refused.status == 503,
        "under the limit intake answered {}: {}",
        refused.status,
        refused.body
    );
    ensure!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the collector exited"
    );

    let after = lift_limit_and_send(&http, &collector, pid, "recovered").await?;
    found_by_search(
        &http,
        &collector,
        &cookie,
        &word("recovered"),
        &after.reference()?,
    )
    .await?;
    found_by_search(&http, &collector, &cookie, &word(&label), &reference).await?;
    Ok(())
}

/// One complaint's answer.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

impl Answer {
    fn reference(&self) -> anyhow::Result<String> {
        Ok(self.body["reference"]
            .as_str()
            .with_context(|| format!("no reference in {}", self.body))?
            .to_owned())
    }
}

/// The word that marks the complaint labelled `label`, for search and for
/// finding it in the database.
fn word(label: &str) -> String {
    format!("diskfull{}z", label.replace('-', "x"))
}

/// Lifts the file-size limit and sends complaints until one is
/// acknowledged: space has returned, and intake works without a restart.
async fn lift_limit_and_send(
    http: &reqwest::Client,
    collector: &RunningCollector,
    pid: u32,
    label: &str,
) -> anyhow::Result<Answer> {
    set_file_size_limit(pid, "unlimited")?;
    wait::until("intake to succeed again", DEADLINE, || async {
        let answer = send(http, collector, label).await?;
        ensure!(
            answer.status == 201,
            "answered {}: {}",
            answer.status,
            answer.body
        );
        Ok(answer)
    })
    .await
}

/// Sends a complaint long enough to fill space quickly.
async fn send(
    http: &reqwest::Client,
    collector: &RunningCollector,
    label: &str,
) -> anyhow::Result<Answer> {
    let url = collector.endpoint("/api/v1/sites/demo/complaints");
    let proof = proof::for_complaints(http, &url).await?;
    let response = http
        .post(&url)
        .header(proof::HEADER, proof)
        .json(&json!({
            "category": "product",
            "description": format!(
                "{}: the kettle leaks. {}",
                word(label),
                "The base is wet after every use and the switch sparks. ".repeat(40)
            ),
            "outcomes": ["fix"],
            "language": "en",
        }))
        .send()
        .await
        .context("sending a complaint")?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let body = response.json().await.unwrap_or(Value::Null);
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// Waits until the inbox's search for `word` lists `reference`.
async fn found_by_search(
    http: &reqwest::Client,
    collector: &RunningCollector,
    cookie: &str,
    word: &str,
    reference: &str,
) -> anyhow::Result<()> {
    wait::until(&format!("search to find {reference}"), DEADLINE, || async {
        let response = http
            .get(collector.endpoint("/api/v1/inbox/complaints"))
            .query(&[("q", word)])
            .header("cookie", cookie)
            .send()
            .await?;
        ensure!(
            response.status() == 200,
            "search answered {}",
            response.status()
        );
        let page: Value = response.json().await?;
        let listed: Vec<&str> = page["complaints"]
            .as_array()
            .context("no complaints in the answer")?
            .iter()
            .filter_map(|row| row["reference"].as_str())
            .collect();
        ensure!(listed == [reference], "listed {listed:?}");
        Ok(())
    })
    .await
}

/// The collector's process: the one whose working directory is its data
/// directory (the harness starts it there).
fn collector_pid(collector: &RunningCollector) -> anyhow::Result<u32> {
    let directory = collector
        .database_path()
        .parent()
        .context("the database has a directory")?
        .canonicalize()?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if std::fs::read_link(entry.path().join("cwd")).ok() == Some(directory.clone()) {
            found.push(pid);
        }
    }
    match found.as_slice() {
        [pid] => Ok(*pid),
        other => bail!("processes working in {}: {other:?}", directory.display()),
    }
}

/// The longer of the database file and its WAL.
fn database_and_wal(collector: &RunningCollector) -> anyhow::Result<u64> {
    let database = collector.database_path();
    let mut wal = database.clone().into_os_string();
    wal.push("-wal");
    let length = |path: &Path| std::fs::metadata(path).map_or(0, |metadata| metadata.len());
    Ok(length(&database).max(length(Path::new(&wal))))
}

/// Sets the soft file-size limit of process `pid` (`unlimited` lifts it),
/// keeping the hard limit unlimited so that it can be raised again without
/// privileges.
fn set_file_size_limit(pid: u32, soft: &str) -> anyhow::Result<()> {
    let status = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--fsize={soft}:unlimited"),
        ])
        .status()
        .context("running prlimit (util-linux)")?;
    ensure!(status.success(), "prlimit --fsize={soft} failed: {status}");
    Ok(())
}
