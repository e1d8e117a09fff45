//! `collector backup` under load and `collector restore`: the copy holds
//! every complaint acknowledged before the backup began, passes SQLite's
//! integrity check, and a collector restored from it serves them.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Context, bail, ensure};
use heard_e2e::RunningCollector;
use heard_e2e::collector::collector_binary;
use heard_e2e::proof;
use heard_e2e::wait::{self, DEADLINE};
use heard_shared::{ComplaintSubmission, IDEMPOTENCY_KEY_HEADER, Receipt};
use tokio::sync::Mutex;

/// Shoppers sending at once while the backup runs.
const SENDERS: usize = 4;
/// Acknowledged complaints before the backup starts.
const BEFORE_BACKUP: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_holds_every_acknowledged_complaint_and_restores() -> anyhow::Result<()>
{
    let mut collector = RunningCollector::start()?;
    let submit_url = collector.endpoint("/api/v1/sites/demo/complaints");
    let http = reqwest::Client::new();

    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(Mutex::new(Vec::<Receipt>::new()));
    let mut senders: Vec<tokio::task::JoinHandle<anyhow::Result<()>>> = Vec::new();
    for _ in 0..SENDERS {
        let (http, url) = (http.clone(), submit_url.clone());
        let (stop, next, acknowledged) = (
            Arc::clone(&stop),
            Arc::clone(&next),
            Arc::clone(&acknowledged),
        );
        senders.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let number = next.fetch_add(1, Ordering::SeqCst);
                let proof = proof::for_complaints(&http, &url).await?;
                let response = http
                    .post(&url)
                    .header(IDEMPOTENCY_KEY_HEADER, format!("backup-test-{number:05}"))
                    .header(proof::HEADER, proof)
                    .json(&complaint(number))
                    .send()
                    .await?;
                let status = response.status();
                if status != reqwest::StatusCode::CREATED {
                    bail!(
                        "complaint {number} was answered {status}: {}",
                        response.text().await?
                    );
                }
                acknowledged.lock().await.push(response.json().await?);
            }
            Ok(())
        }));
    }

    wait::until(
        &format!("{BEFORE_BACKUP} acknowledged complaints"),
        DEADLINE,
        || async {
            let count = acknowledged.lock().await.len();
            ensure!(count >= BEFORE_BACKUP, "{count} so far");
            Ok(())
        },
    )
    .await?;
    let before: Vec<Receipt> = acknowledged.lock().await.clone();

    // The backup runs while the senders keep going.
    let backups = tempfile::tempdir()?;
    let copy = backups.path().join("heard-backup.sqlite3");
    let database = collector.database_path();
    let (database_arg, copy_arg) = (database.clone(), copy.clone());
    let output = tokio::task::spawn_blocking(move || {
        run_collector(&database_arg, &["backup", "--to", path_text(&copy_arg)])
    })
    .await??;
    ensure!(
        output.status.success(),
        "collector backup failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let during = acknowledged.lock().await.len();
    stop.store(true, Ordering::SeqCst);
    for sender in senders {
        sender.await.context("a sender panicked")??;
    }
    let after = acknowledged.lock().await.len();
    ensure!(
        during > before.len(),
        "the senders made no progress while the backup ran, so it was not under load"
    );

    // Every complaint acknowledged before the backup began is in the copy,
    // and the copy is sound.
    let copied = references_in(&copy)?;
    let missing: Vec<&str> = before
        .iter()
        .map(|receipt| receipt.reference.as_str())
        .filter(|reference| !copied.contains(*reference))
        .collect();
    ensure!(missing.is_empty(), "missing from the backup: {missing:?}");
    let check = rusqlite::Connection::open(&copy)?;
    let integrity: String = check.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    ensure!(
        integrity == "ok",
        "integrity_check of the backup: {integrity}"
    );
    drop(check);

    // A restore into a running collector's database is refused.
    let (database_arg, copy_arg) = (database.clone(), copy.clone());
    let output = tokio::task::spawn_blocking(move || {
        run_collector(&database_arg, &["restore", "--from", path_text(&copy_arg)])
    })
    .await??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        !output.status.success() && stderr.contains("in use"),
        "a restore while the collector runs must be refused; it said: {stderr}"
    );
    ensure!(
        references_in(&database)?.len() >= after,
        "the refused restore changed the live database"
    );

    // Stopped, the collector's database is replaced by the backup.
    collector.terminate()?;
    let (database_arg, copy_arg) = (database.clone(), copy.clone());
    let output = tokio::task::spawn_blocking(move || {
        run_collector(&database_arg, &["restore", "--from", path_text(&copy_arg)])
    })
    .await??;
    ensure!(
        output.status.success(),
        "collector restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    collector.restart()?;
    ensure!(
        references_in(&database)? == copied,
        "the restored database holds exactly the backup's complaints"
    );

    // The restored collector serves the complaints by their status links.
    for receipt in before.iter().step_by(7) {
        let url = collector.resolve(&receipt.status_url)?;
        let response = http.get(url.clone()).send().await?;
        let status = response.status();
        let page = response.text().await?;
        ensure!(status == reqwest::StatusCode::OK, "{url} answered {status}");
        ensure!(
            page.contains(&receipt.reference),
            "the page {url} does not show {}",
            receipt.reference
        );
    }
    // And takes new ones.
    let response = http
        .post(&submit_url)
        .header(
            proof::HEADER,
            proof::for_complaints(&http, &submit_url).await?,
        )
        .json(&complaint(1_000_000))
        .send()
        .await?;
    ensure!(
        response.status() == reqwest::StatusCode::CREATED,
        "after the restore a complaint was answered {}",
        response.status()
    );
    Ok(())
}

fn run_collector(database: &Path, args: &[&str]) -> anyhow::Result<Output> {
    Command::new(collector_binary())
        .args(args)
        .env("HEARD_DATABASE", database)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running collector {args:?}"))
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn references_in(database: &Path) -> anyhow::Result<BTreeSet<String>> {
    let connection = rusqlite::Connection::open_with_flags(
        database,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let mut statement = connection.prepare("SELECT reference FROM complaints")?;
    let references = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(references)
}

fn complaint(number: usize) -> ComplaintSubmission {
    ComplaintSubmission {
        category: "product".to_owned(),
        description: format!("Backup check #{number}: the blender lid cracked on day two."),
        language: "en".to_owned(),
        ..ComplaintSubmission::default()
    }
}
