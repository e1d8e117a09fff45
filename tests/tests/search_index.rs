//! The search index is derived data kept off the receipt path: after the
//! collector is killed hard, the restarted collector brings its index file
//! up to every complaint the database holds, Latin and Chinese text alike.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, ensure};
use heard_e2e::RunningCollector;
use heard_e2e::proof;
use heard_e2e::wait::{self, DEADLINE};
use rusqlite::{Connection, OpenFlags};
use serde_json::json;
use tokio::sync::Mutex;

/// Complaints sent before the kill, by this many senders at once.
const COMPLAINTS: usize = 120;
const SENDERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_search_index_catches_up_after_a_hard_kill() -> anyhow::Result<()> {
    let mut collector = RunningCollector::start()?;
    let url = collector.endpoint("/api/v1/sites/demo/complaints");
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    let http = reqwest::Client::new();

    // Long texts, so the indexer has real work when the kill comes.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let (http, url, acknowledged) = (http.clone(), url.clone(), Arc::clone(&acknowledged));
        senders.push(tokio::spawn(async move {
            for number in (sender..COMPLAINTS).step_by(SENDERS) {
                let word = format!("kettle{run:x}n{number}z");
                let description = format!(
                    "{word}: 豆浆机用了三次就坏了，保修期内商家不给换。{}",
                    "The lid cracked and the base leaks. ".repeat(30)
                );
                let response = http
                    .post(&url)
                    .header(proof::HEADER, proof::for_complaints(&http, &url).await?)
                    .json(&json!({
                        "category": "product",
                        "description": description,
                        "outcomes": [],
                        "language": "en",
                    }))
                    .send()
                    .await?;
                ensure!(response.status() == 201, "answered {}", response.status());
                let receipt: serde_json::Value = response.json().await?;
                let reference = receipt["reference"].as_str().context("a reference")?;
                acknowledged.lock().await.push((reference.to_owned(), word));
            }
            anyhow::Ok(())
        }));
    }
    for sender in senders {
        sender.await.context("a sender panicked")??;
    }
    collector.kill_hard()?;
    let behind = index_marks(&collector)?;
    let stored = max_complaint_id(&collector)?;
    eprintln!("killed with the index at complaint {behind} of {stored}");

    collector.restart()?;
    wait::until(
        "the index to reach every stored complaint",
        DEADLINE,
        || async {
            let reached = index_marks(&collector)?;
            ensure!(reached >= stored, "at {reached} of {stored}");
            Ok(())
        },
    )
    .await?;

    let database = collector.open_database()?;
    let index = open_index(&collector)?;
    let acknowledged = acknowledged.lock().await.clone();
    ensure!(acknowledged.len() == COMPLAINTS);
    for (reference, word) in &acknowledged {
        let id: i64 = database.query_row(
            "SELECT id FROM complaints WHERE reference = ?1",
            [reference],
            |row| row.get(0),
        )?;
        let found: Vec<i64> = index
            .prepare("SELECT rowid >> 16 FROM search_text WHERE search_text MATCH ?1")?
            .query_map([format!("\"{word}\"")], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        ensure!(found == [id], "{word} found {found:?}, not [{id}]");
    }
    // Chinese is found by the same index, once per complaint.
    let chinese: i64 = index.query_row(
        "SELECT count(*) FROM search_text WHERE search_text MATCH '\"保修期内\"'",
        [],
        |row| row.get(0),
    )?;
    ensure!(
        chinese as usize >= COMPLAINTS,
        "保修期内 found {chinese} times"
    );
    Ok(())
}

fn open_index(collector: &RunningCollector) -> anyhow::Result<Connection> {
    let mut path = collector.database_path().into_os_string();
    path.push("-search");
    Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening the search index {path:?}"))
}

/// The last complaint the index holds.
fn index_marks(collector: &RunningCollector) -> anyhow::Result<i64> {
    Ok(open_index(collector)?.query_row(
        "SELECT high FROM marks WHERE what = 'complaint'",
        [],
        |row| row.get(0),
    )?)
}

fn max_complaint_id(collector: &RunningCollector) -> anyhow::Result<i64> {
    Ok(collector.open_database()?.query_row(
        "SELECT coalesce(max(id), 0) FROM complaints",
        [],
        |row| row.get(0),
    )?)
}
