//! Collector memory at a million complaints, under load ("Footprint"): the
//! release `collector serve` on a **copy** of the generated inbox store (the
//! kept store is only read), idle after start, then for a fixed time taking
//! intake (the load generator of `load.rs`, against one of the store's
//! sites) and, at the same time, the inbox's list and search requests over
//! HTTP with a signed-in staff session. `VmRSS` is sampled throughout;
//! `VmHWM` is the figure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::bodies::{self, Random};
use crate::load::{self, Target};
use crate::spawned::Spawned;
use crate::stats::{self, RunSummary};

const LISTENING_PREFIX: &str = "heard: collector listening on ";
/// How long the collector runs under load.
pub const SECONDS: u64 = 20;
/// Intake connections (closed loop) and inbox connections beside them.
pub const INTAKE_CONNECTIONS: usize = 32;
pub const INBOX_CONNECTIONS: usize = 4;
/// From the listening line to the idle reading: start-up's background
/// work (the first sweeps) has run by then.
pub const SETTLE: Duration = Duration::from_secs(3);
/// How often `VmRSS` is read during the load.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const OWNER_EMAIL: &str = "bench-owner@bench.example";
/// Only for this throw-away copy.
const OWNER_PASSWORD: &str = "bench password for a throw-away copy";
/// The store's files that are copied (the shared-memory files are not).
const STORE_FILES: &[&str] = &["", "-wal", "-search", "-search-wal"];
/// Search terms, as the inbox section searches (English, Spanish, Chinese
/// with and without a trigram).
const SEARCHES: &[&str] = &[
    "refund",
    "reembolso%20pedido",
    "%E5%8C%85%E8%A3%B9%E6%A0%B9%E6%9C%AC",
    "%E9%80%80%E6%AC%BE",
];

/// What the rows report.
#[derive(Debug, Clone)]
pub struct Memory1m {
    pub complaints: u64,
    /// Whether intake carried solved proof-of-work challenges.
    pub proof_of_work: bool,
    /// The collector as it ships: it limits glibc's malloc to two arenas
    /// itself (`collector/src/main.rs`).
    pub shipped: LoadRun,
    /// The same with glibc's default arenas (`MALLOC_ARENA_MAX` set to
    /// glibc's own default, eight per core, which the collector respects):
    /// what the limit saves, a diagnostic, not how the collector ships.
    pub default_arenas: LoadRun,
    /// The arenas of that run.
    pub default_arena_count: usize,
    /// `/proc/loadavg` before and after: the machine may be shared.
    pub load_before: String,
    pub load_after: String,
}

/// One start of the collector on the copy, idle then under load.
#[derive(Debug, Clone)]
pub struct LoadRun {
    /// `VmRSS` after start and the settle time, before any request.
    pub idle_rss: u64,
    /// `VmHWM` at the end of the load.
    pub peak_rss: u64,
    /// The largest `VmRSS` sampled during the load.
    pub sampled_max_rss: u64,
    pub intake: RunSummary,
    pub inbox_requests: u64,
    pub inbox_errors: u64,
    pub inbox_p50: Duration,
    pub inbox_p99: Duration,
    /// Warnings and errors the collector logged meanwhile.
    pub logged_problems: usize,
}

/// The copy the runs share, and what they need to know about it.
struct Copy {
    collector: PathBuf,
    directory: tempfile::TempDir,
    database: PathBuf,
    site_key: String,
    paths: Vec<String>,
}

pub fn measure(collector: &Path, store: &Path) -> anyhow::Result<Memory1m> {
    let load_before = crate::browser::load_average();
    let source = store.join("inbox.sqlite3");
    if !source.is_file() {
        bail!(
            "no generated store at {} (the inbox section builds it)",
            source.display()
        );
    }
    let directory = tempfile::Builder::new()
        .prefix("heard-bench-1m-")
        .tempdir()?;
    let database = directory.path().join("heard.sqlite3");
    for suffix in STORE_FILES {
        let from = with_suffix(&source, suffix);
        if from.is_file() {
            std::fs::copy(&from, with_suffix(&database, suffix))
                .with_context(|| format!("copying {}", from.display()))?;
        }
    }
    let (merchant, site_key, complaints, references) = prepare_copy(&database)?;
    catch_up(&database)?;
    let mut paths: Vec<String> = vec![
        "/api/v1/inbox/complaints".to_owned(),
        "/api/v1/inbox/complaints?status=open".to_owned(),
    ];
    paths.extend(
        SEARCHES
            .iter()
            .map(|query| format!("/api/v1/inbox/complaints?q={query}")),
    );
    paths.extend(
        references
            .iter()
            .map(|reference| format!("/api/v1/inbox/complaints/{reference}")),
    );
    let copy = Copy {
        collector: collector
            .canonicalize()
            .with_context(|| format!("no collector binary at {}", collector.display()))?,
        directory,
        database,
        site_key,
        paths,
    };
    // Through the CLI, as an operator creates the first owner.
    let added = copy
        .command(&[
            "user",
            "add",
            "--owner",
            "--merchant",
            &merchant,
            "--email",
            OWNER_EMAIL,
        ])
        .env("HEARD_NEW_PASSWORD", OWNER_PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !added.success() {
        bail!("`collector user add` on the copy failed ({added})");
    }
    // The diagnostic first: the first start on the copy has been the
    // slower one (less work done, less memory), and the shipped figure
    // should not be flattered by that.
    let default_arena_count = 8 * std::thread::available_parallelism().map_or(1, usize::from);
    let default_arenas = copy.run(
        &format!("MALLOC_ARENA_MAX={default_arena_count}"),
        Some(default_arena_count),
    )?;
    let shipped = copy.run("as shipped", None)?;
    Ok(Memory1m {
        complaints,
        proof_of_work: true,
        shipped,
        default_arenas,
        default_arena_count,
        load_before,
        load_after: crate::browser::load_average(),
    })
}

impl Copy {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.collector);
        command
            .args(args)
            .current_dir(self.directory.path())
            .env("HEARD_DATABASE", &self.database)
            .env("RUST_LOG", "warn")
            .env_remove("MALLOC_ARENA_MAX")
            // Proof of work stays required; the generator solves the
            // lightest challenges, as in the intake runs.
            .env(
                "HEARD_PROOF_OF_WORK_BASE_MAXNUMBER",
                crate::collector::BENCH_BASE_MAXNUMBER,
            );
        command
    }

    /// Starts the collector, reads it idle, loads it, stops it.
    fn run(&self, name: &str, arenas: Option<usize>) -> anyhow::Result<LoadRun> {
        let log = self
            .directory
            .path()
            .join(format!("collector-{}.log", arenas.unwrap_or(0)));
        let mut command = self.command(&["serve"]);
        command
            .env("HEARD_LISTEN", "127.0.0.1:0")
            .stderr(std::fs::File::create(&log)?);
        if let Some(arenas) = arenas {
            command.env("MALLOC_ARENA_MAX", arenas.to_string());
        }
        let (process, url) = Spawned::start(&mut command, LISTENING_PREFIX)?;
        let address: std::net::SocketAddr = url
            .trim_start_matches("http://")
            .parse()
            .with_context(|| format!("unexpected listening address {url}"))?;
        let pid = process.pid();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let health = runtime.block_on(get(&mut None, address, "/healthz", None))?;
        if health != StatusCode::OK {
            bail!("the 1M collector's /healthz answered {health}");
        }
        std::thread::sleep(SETTLE);
        let idle_rss = status_bytes(pid, "VmRSS:")?;

        let cookie = runtime.block_on(sign_in(address))?;
        let mut random = Random::new(0x0031_4d31);
        let bodies: Vec<Bytes> = (0..500)
            .map(|_| serde_json::to_vec(&bodies::submission(&mut random)).map(Bytes::from))
            .collect::<Result<_, _>>()?;
        let target = Arc::new(Target::new(
            address,
            format!("/api/v1/sites/{}/complaints", self.site_key),
            bodies,
            format!("bench-1m-{pid}"),
        ));

        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut largest = 0;
                while !stop.load(Ordering::Relaxed) {
                    largest = largest.max(status_bytes(pid, "VmRSS:").unwrap_or(0));
                    std::thread::sleep(SAMPLE_EVERY);
                }
                largest
            })
        };
        let duration = Duration::from_secs(SECONDS);
        let (intake, inbox) = runtime.block_on(async {
            tokio::join!(
                load::closed_loop(Arc::clone(&target), INTAKE_CONNECTIONS, duration),
                inbox_loop(address, &cookie, &self.paths, duration)
            )
        });
        let peak_rss = status_bytes(pid, "VmHWM:")?;
        stop.store(true, Ordering::Relaxed);
        let sampled_max_rss = sampler.join().unwrap_or(0);
        terminate(process)?;
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let problems: Vec<&str> = log
            .lines()
            .filter(|line| line.contains("WARN") || line.contains("ERROR"))
            .collect();
        let logged_problems = problems.len();
        if let Some(first) = problems.first() {
            println!("bench: 1M store, collector {name}, first of its warnings: {first}");
        }

        let (inbox_requests, inbox_errors, inbox_p50, inbox_p99) = inbox;
        if intake.acknowledged == 0 || inbox_requests == 0 {
            bail!(
                "the 1M collector ({name}) acknowledged {} complaints ({} errors) and answered {inbox_requests} inbox requests ({inbox_errors} errors)",
                intake.acknowledged,
                intake.errors
            );
        }
        println!(
            "bench: 1M store, collector {name}: idle VmRSS {:.1} MiB; under load ({SECONDS} s): {:.0} complaints/s ({} errors), {} inbox requests (p50 {}, p99 {}, {} errors), {logged_problems} warnings logged; VmHWM {:.1} MiB, largest VmRSS sampled {:.1} MiB",
            mebibytes(idle_rss),
            intake.per_second(),
            intake.errors,
            inbox_requests,
            stats::millis(inbox_p50),
            stats::millis(inbox_p99),
            inbox_errors,
            mebibytes(peak_rss),
            mebibytes(sampled_max_rss)
        );
        Ok(LoadRun {
            idle_rss,
            peak_rss,
            sampled_max_rss,
            intake,
            inbox_requests,
            inbox_errors,
            inbox_p50,
            inbox_p99,
            logged_problems,
        })
    }
}

/// The largest merchant, one of its sites, the store's complaint count and
/// a few of the merchant's references. The cluster sweep's cursor is moved
/// past the generated complaints (the generator writes rows, not sweeps),
/// as a collector that kept up with its intake would have it: otherwise
/// the first start would compare a million old complaints.
fn prepare_copy(database: &Path) -> anyhow::Result<(String, String, u64, Vec<String>)> {
    let connection = rusqlite::Connection::open(database)?;
    let (merchant_id, merchant): (i64, String) = connection.query_row(
        "SELECT m.id, m.name FROM merchants m
         WHERE m.id = (SELECT merchant_id FROM complaints
                       GROUP BY merchant_id ORDER BY count(*) DESC LIMIT 1)",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let site_key: String = connection.query_row(
        "SELECT site_key FROM sites WHERE merchant_id = ?1 ORDER BY id LIMIT 1",
        [merchant_id],
        |row| row.get(0),
    )?;
    let complaints: u64 =
        connection.query_row("SELECT count(*) FROM complaints", [], |row| row.get(0))?;
    let references = connection
        .prepare(
            "SELECT reference FROM complaints WHERE merchant_id = ?1 AND id % 997 = 0 LIMIT 20",
        )?
        .query_map([merchant_id], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    connection.execute(
        "INSERT INTO sweep_cursors (name, value)
         VALUES ('clusters', (SELECT coalesce(max(id), 0) FROM complaints))
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [],
    )?;
    Ok((merchant, site_key, complaints, references))
}

/// Migrates the copy and brings its search index up to date before any
/// measured run, through the store as the collector opens it: a kept store
/// from an older build would otherwise have its index rebuilt (minutes at a
/// million) during the runs, and the figures would be those of the rebuild.
fn catch_up(database: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store = heard_collector::store::Store::open(database, 512, 4096)?;
    let marks = runtime.block_on(store.search_caught_up());
    runtime.block_on(store.shutdown());
    marks?;
    Ok(())
}

/// Signs the owner in; the session cookie (`name=value`).
async fn sign_in(address: std::net::SocketAddr) -> anyhow::Result<String> {
    let mut sender = connect(address).await?;
    let body = serde_json::json!({ "email": OWNER_EMAIL, "password": OWNER_PASSWORD });
    let request = Request::post("/api/v1/auth/login")
        .header(header::HOST, address.to_string())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::to_owned);
    match cookie {
        Some(cookie) if status == StatusCode::OK => Ok(cookie),
        _ => bail!("signing in on the 1M copy failed: {status}"),
    }
}

/// [`INBOX_CONNECTIONS`] keep-alive connections, each requesting the next of
/// `paths` as soon as the previous answer is read, for `duration`:
/// requests, errors, p50 and p99.
async fn inbox_loop(
    address: std::net::SocketAddr,
    cookie: &str,
    paths: &[String],
    duration: Duration,
) -> (u64, u64, Duration, Duration) {
    let deadline = Instant::now() + duration;
    let workers: Vec<_> = (0..INBOX_CONNECTIONS)
        .map(|worker| {
            let cookie = cookie.to_owned();
            let paths = paths.to_vec();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut next = worker;
                let mut sender = None;
                while Instant::now() < deadline {
                    let path = &paths[next % paths.len()];
                    next += 1;
                    let sent = Instant::now();
                    let answered = tokio::time::timeout(
                        REQUEST_TIMEOUT,
                        get(&mut sender, address, path, Some(&cookie)),
                    )
                    .await;
                    match answered {
                        Ok(Ok(StatusCode::OK)) => latencies.push(sent.elapsed()),
                        Ok(Ok(_)) => errors += 1,
                        // A failed or timed-out connection is not reused.
                        _ => {
                            errors += 1;
                            sender = None;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        match worker.await {
            Ok((more, failed)) => {
                latencies.extend(more);
                errors += failed;
            }
            Err(_) => errors += 1,
        }
    }
    latencies.sort_unstable();
    (
        latencies.len() as u64,
        errors,
        stats::percentile(&latencies, 50.0).unwrap_or_default(),
        stats::percentile(&latencies, 99.0).unwrap_or_default(),
    )
}

/// One GET on the keep-alive connection in `sender` (opened when there is
/// none), its body read to the end.
async fn get(
    sender: &mut Option<SendRequest<Full<Bytes>>>,
    address: std::net::SocketAddr,
    path: &str,
    cookie: Option<&str>,
) -> anyhow::Result<StatusCode> {
    let sender = match sender {
        Some(sender) => sender,
        None => sender.insert(connect(address).await?),
    };
    sender.ready().await?;
    let mut request = Request::get(path).header(header::HOST, address.to_string());
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = sender
        .send_request(request.body(Full::new(Bytes::new()))?)
        .await?;
    let status = response.status();
    response.into_body().collect().await?;
    Ok(status)
}

async fn connect(address: std::net::SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// SIGTERM, then waits for the collector to finish its queued writes.
fn terminate(mut process: Spawned) -> anyhow::Result<()> {
    let _ = Command::new("kill")
        .args(["-TERM", &process.pid().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if process.child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("the 1M collector did not stop within two minutes of SIGTERM")
}

/// A `Vm…:   12345 kB` line of `/proc/PID/status`, in bytes.
fn status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/PID/status (Linux only)")?;
    parse_status_bytes(&status, field).with_context(|| format!("no {field} in /proc/{pid}/status"))
}

fn parse_status_bytes(status: &str, field: &str) -> Option<u64> {
    let kilobytes: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kilobytes * 1024)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

pub fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_lines_are_read_by_field() {
        let status = "Name:\tcollector\nVmHWM:\t   41236 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(parse_status_bytes(status, "VmRSS:"), Some(40_000 * 1024));
        assert_eq!(parse_status_bytes(status, "VmHWM:"), Some(41_236 * 1024));
        assert_eq!(parse_status_bytes(status, "VmSwap:"), None);
    }
}
