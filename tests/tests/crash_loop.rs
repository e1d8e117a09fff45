//! The real collector killed with SIGKILL at random moments under load, many
//! times over. Shoppers upload a photo and send a safety complaint with it
//! (which notifies the merchant's owners through the outbox); after each
//! restart every complaint acknowledged so far is stored with its photo and
//! its outbox rows, and SQLite's `integrity_check` and `foreign_key_check`
//! find nothing.
//!
//! The moment of each kill is random: after a random number of receipts
//! in that round, while other senders are mid-request. The seed is printed;
//! `HEARD_CRASH_SEED` replays a run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use heard_e2e::RunningCollector;
use heard_e2e::proof;
use heard_e2e::staff::add_owner;
use heard_e2e::wait::DEADLINE;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify};

/// Kills per run: enough to hit many different moments, few enough to keep
/// the test within a minute on two cores.
const ROUNDS: usize = 75;
/// Concurrent shoppers.
const SENDERS: usize = 6;
/// A round's kill comes after between 1 and this many receipts.
const MOST_RECEIPTS_BEFORE_KILL: u64 = 30;

/// A complaint whose receipt came back, and the photo it carries.
#[derive(Debug, Clone)]
struct Acknowledged {
    reference: String,
    photo_id: String,
    photo_bytes: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_complaints_photos_and_notifications_survive_repeated_kills()
-> anyhow::Result<()> {
    let seed = std::env::var("HEARD_CRASH_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(seed_from_clock);
    eprintln!("crash loop seed: {seed} (set HEARD_CRASH_SEED={seed} to replay)");
    let mut random = XorShift(seed | 1);

    let mut collector = RunningCollector::start()?;
    // An owner to notify: a safety complaint always notifies the owners.
    add_owner(&collector, "Demo merchant", "owner@crash.example")?;
    let photo = Arc::new(small_png());
    let http = reqwest::Client::new();
    let mut acknowledged: Vec<Acknowledged> = Vec::new();
    let mut stored_before = 0;

    for round in 0..ROUNDS {
        let kill_after = 1 + random.next() % MOST_RECEIPTS_BEFORE_KILL;
        let this_round = Arc::new(Mutex::new(Vec::<Acknowledged>::new()));
        let receipts = Arc::new(AtomicUsize::new(0));
        let enough = Arc::new(Notify::new());
        let mut senders = Vec::new();
        for sender in 0..SENDERS {
            let shopper = Shopper {
                http: http.clone(),
                base: collector.url().to_owned(),
                photo: Arc::clone(&photo),
                name: format!("r{round}s{sender}"),
            };
            let (this_round, receipts, enough) = (
                Arc::clone(&this_round),
                Arc::clone(&receipts),
                Arc::clone(&enough),
            );
            senders.push(tokio::spawn(async move {
                for number in 0.. {
                    let Some(ack) = shopper.complain(number).await? else {
                        // The collector is gone; nothing more is acknowledged.
                        return anyhow::Ok(());
                    };
                    this_round.lock().await.push(ack);
                    if receipts.fetch_add(1, Ordering::SeqCst) + 1 == kill_after as usize {
                        enough.notify_one();
                    }
                }
                Ok(())
            }));
        }
        let waited = tokio::time::timeout(DEADLINE, enough.notified()).await;
        collector.kill_hard()?;
        for sender in senders {
            sender.await.context("a sender panicked")??;
        }
        waited.with_context(|| {
            format!("round {round}: no {kill_after} receipts within {DEADLINE:?}")
        })?;
        acknowledged.extend(this_round.lock().await.iter().cloned());

        collector.restart()?;
        let stored = check_everything_is_there(&collector, &acknowledged)
            .with_context(|| format!("after kill {} (seed {seed})", round + 1))?;
        ensure!(
            stored >= stored_before,
            "complaints went missing: {stored} stored, {stored_before} before"
        );
        stored_before = stored;
    }
    eprintln!(
        "{ROUNDS} kills: {} complaints acknowledged, {stored_before} stored",
        acknowledged.len()
    );
    Ok(())
}

/// One shopper: uploads a photo, then sends a complaint with it.
struct Shopper {
    http: reqwest::Client,
    base: String,
    photo: Arc<Vec<u8>>,
    name: String,
}

impl Shopper {
    /// `Ok(None)` when the collector went away before acknowledging.
    async fn complain(&self, number: usize) -> anyhow::Result<Option<Acknowledged>> {
        let Ok(response) = self
            .http
            .post(format!("{}/api/v1/sites/demo/attachments", self.base))
            .header("content-type", "image/png")
            .body(self.photo.as_ref().clone())
            .send()
            .await
        else {
            return Ok(None);
        };
        let Some(upload) = created(response, "a photo upload").await? else {
            return Ok(None);
        };
        let photo_id = upload["id"]
            .as_str()
            .context("an attachment id")?
            .to_owned();
        let photo_bytes = upload["bytes"].as_i64().context("an attachment size")?;

        let complaint = json!({
            "category": "safety",
            "description": format!("Crash loop {} #{number}: the charger got hot and smelled of smoke.", self.name),
            "outcomes": ["fix"],
            "language": "en",
            "attachments": [photo_id],
        });
        let complaints = format!("{}/api/v1/sites/demo/complaints", self.base);
        // No challenge: the collector went away.
        let Ok(proof) = proof::for_complaints(&self.http, &complaints).await else {
            return Ok(None);
        };
        let Ok(response) = self
            .http
            .post(&complaints)
            .header(
                "Idempotency-Key",
                format!("crash-{}-{number:05}", self.name),
            )
            .header(proof::HEADER, proof)
            .json(&complaint)
            .send()
            .await
        else {
            return Ok(None);
        };
        let Some(receipt) = created(response, "a complaint").await? else {
            return Ok(None);
        };
        Ok(Some(Acknowledged {
            reference: receipt["reference"]
                .as_str()
                .context("a reference")?
                .to_owned(),
            photo_id,
            photo_bytes,
        }))
    }
}

/// The body of a `201`; `None` when the answer was cut off by the kill or
/// was a `503` (the writer queue full); an error for any other answer.
async fn created(response: reqwest::Response, what: &str) -> anyhow::Result<Option<Value>> {
    let status = response.status();
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return Ok(None);
    }
    if status != reqwest::StatusCode::CREATED {
        let body = response.text().await.unwrap_or_default();
        bail!("{what} was answered {status}: {body}");
    }
    Ok(response.json::<Value>().await.ok())
}

/// Every acknowledged complaint is stored with its photo (all its bytes)
/// and at least one notification; the database is intact. Answers how
/// many complaints are stored.
fn check_everything_is_there(
    collector: &RunningCollector,
    acknowledged: &[Acknowledged],
) -> anyhow::Result<i64> {
    let database = collector.open_database()?;
    let integrity: Vec<String> = database
        .prepare("PRAGMA integrity_check")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    ensure!(integrity == ["ok"], "integrity_check: {integrity:?}");
    let broken_keys: i64 = database
        .prepare("PRAGMA foreign_key_check")?
        .query_map([], |_| Ok(()))?
        .count() as i64;
    ensure!(broken_keys == 0, "{broken_keys} rows break a foreign key");

    let mut problems = Vec::new();
    let mut complaint = database.prepare("SELECT id FROM complaints WHERE reference = ?1")?;
    let mut photo = database
        .prepare("SELECT complaint_id, bytes, length(data) FROM attachments WHERE id = ?1")?;
    let mut outbox =
        database.prepare("SELECT count(*) FROM notification_outbox WHERE complaint_id = ?1")?;
    for ack in acknowledged {
        let id: Option<i64> = complaint.query_row([&ack.reference], |row| row.get(0)).ok();
        let Some(id) = id else {
            problems.push(format!("{} is missing", ack.reference));
            continue;
        };
        let stored: Option<(Option<i64>, i64, i64)> = photo
            .query_row([&ack.photo_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .ok();
        match stored {
            Some((Some(owner), bytes, length))
                if owner == id && bytes == ack.photo_bytes && length == bytes => {}
            other => problems.push(format!(
                "{}'s photo {} is not stored whole with it: {other:?}",
                ack.reference, ack.photo_id
            )),
        }
        let notifications: i64 = outbox.query_row([id], |row| row.get(0))?;
        if notifications == 0 {
            problems.push(format!(
                "{} has no notification in the outbox",
                ack.reference
            ));
        }
    }
    ensure!(
        problems.is_empty(),
        "{} problem(s) among {} acknowledged complaints:\n{}",
        problems.len(),
        acknowledged.len(),
        problems.join("\n")
    );
    Ok(database.query_row("SELECT count(*) FROM complaints", [], |row| row.get(0))?)
}

/// A real 16×16 PNG, written here: zlib-compressed rows and CRC'd chunks.
fn small_png() -> Vec<u8> {
    use std::io::Write;

    const SIDE: u32 = 16;
    let mut rows = Vec::new();
    for y in 0..SIDE {
        rows.push(0u8); // filter: none
        for x in 0..SIDE {
            rows.extend_from_slice(&[(x * 16) as u8, (y * 16) as u8, 120]);
        }
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&rows).expect("compressing into memory");
    let pixels = zlib.finish().expect("compressing into memory");

    let mut header = Vec::new();
    header.extend_from_slice(&SIDE.to_be_bytes());
    header.extend_from_slice(&SIDE.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", header), (b"IDAT", pixels), (b"IEND", Vec::new())] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(&data);
        png.extend_from_slice(kind);
        png.extend_from_slice(&data);
        png.extend_from_slice(&crc.sum().to_be_bytes());
    }
    png
}

fn seed_from_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15)
}

/// A small, reproducible source of randomness for the kill moments.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
