//! A webhook is never lost: the real collector calls a real receiver on
//! loopback, which refuses the first attempt; the collector is killed with
//! SIGKILL before the retry and, once restarted, delivers the same signed
//! message (same `webhook-id`) from its outbox. A loopback receiver must be
//! allowed explicitly.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use heard_e2e::RunningCollector;
use heard_e2e::collector::collector_binary;
use heard_e2e::proof;
use heard_e2e::staff::api_sign_in;
use heard_e2e::wait;
use heard_shared::{ComplaintSubmission, Receipt};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const OWNER: &str = "owner@demo.example";
const PASSWORD: &str = "webhooks e2e password, long enough";
/// The first retry of the Standard Webhooks schedule is 5 s (+ jitter) after
/// the first failure; the restart fits well inside this.
const RETRY_WITHIN: Duration = Duration::from_secs(40);

/// One request the receiver saw.
#[derive(Debug, Clone)]
struct Seen {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// A hand-written HTTP/1.1 receiver on `127.0.0.1:0`: answers 500 to the
/// first `failures` requests, then 204.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(failures: usize) -> anyhow::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hooks/heard", listener.local_addr()?);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let _ = serve_one(stream, recorded, failures).await;
                });
            }
        });
        Ok(Receiver { url, seen, task })
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("receiver lock").clone()
    }
}

async fn serve_one(
    mut stream: TcpStream,
    seen: Arc<Mutex<Vec<Seen>>>,
    failures: usize,
) -> anyhow::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            bail!("the connection closed before the headers ended");
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let headers: BTreeMap<String, String> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .context("no content-length")?
        .parse()?;
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            bail!("the connection closed inside the body");
        }
        body.extend_from_slice(&chunk[..read]);
    }
    let number = {
        let mut seen = seen.lock().expect("receiver lock");
        seen.push(Seen { headers, body });
        seen.len()
    };
    let status = if number <= failures {
        "500 Internal Server Error"
    } else {
        "204 No Content"
    };
    stream
        .write_all(
            format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    stream.shutdown().await?;
    Ok(())
}

/// The Standard Webhooks check, written from the specification.
fn signature_verifies(secret: &str, seen: &Seen) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|key| STANDARD.decode(key).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(seen.headers["webhook-id"].as_bytes());
    mac.update(b".");
    mac.update(seen.headers["webhook-timestamp"].as_bytes());
    mac.update(b".");
    mac.update(&seen.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    seen.headers["webhook-signature"]
        .split(' ')
        .any(|signature| signature == expected)
}

/// A signed-in owner of the demo merchant, talking to the API as a script.
struct Owner {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Owner {
    async fn create_and_sign_in(collector: &RunningCollector) -> anyhow::Result<Owner> {
        let output = Command::new(collector_binary())
            .args([
                "user",
                "add",
                "--owner",
                "--merchant",
                "Demo merchant",
                "--email",
                OWNER,
            ])
            .env("HEARD_DATABASE", collector.database_path())
            .env("HEARD_NEW_PASSWORD", PASSWORD)
            .output()
            .context("running collector user add")?;
        ensure!(
            output.status.success(),
            "collector user add failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let http = reqwest::Client::new();
        let (cookie, csrf) = api_sign_in(&http, collector, OWNER, PASSWORD).await?;
        Ok(Owner {
            http,
            base: collector.url().to_owned(),
            cookie,
            csrf,
        })
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}

/// (state, attempts) of every outbox row, read from the database file.
fn outbox(collector: &RunningCollector) -> anyhow::Result<Vec<(String, i64)>> {
    let database = collector.open_database()?;
    let mut statement =
        database.prepare("SELECT state, attempts FROM notification_outbox ORDER BY id")?;
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_delivered_after_a_hard_kill_between_attempts() -> anyhow::Result<()> {
    let mut collector = RunningCollector::start()?;
    let receiver = Receiver::start(1).await?;
    let owner = Owner::create_and_sign_in(&collector).await?;

    // A loopback receiver is refused unless the owner allows it.
    let endpoint = json!({ "name": "Receiver", "url": receiver.url });
    let (status, refused) = owner
        .post("/api/v1/notifications/webhooks", endpoint.clone())
        .await?;
    ensure!(
        status == 422,
        "a loopback URL was answered {status}: {refused}"
    );
    ensure!(
        refused["fields"][0]["code"] == "private_address",
        "refused for the wrong reason: {refused}"
    );
    let mut allowed = endpoint;
    allowed["allow_private"] = json!(true);
    let (status, created) = owner
        .post("/api/v1/notifications/webhooks", allowed)
        .await?;
    ensure!(status == 201, "creating the webhook: {status} {created}");
    let secret = created["secret"].as_str().context("no secret")?.to_owned();
    let rule = json!({
        "name": "Every complaint to the receiver",
        "actions": { "webhooks": [created["id"]] }
    });
    let (status, body) = owner.post("/api/v1/routing/rules", rule).await?;
    ensure!(status == 201, "creating the rule: {status} {body}");

    let submission = ComplaintSubmission {
        category: "product".to_owned(),
        description: "The webhook e2e kettle leaks".to_owned(),
        language: "en".to_owned(),
        ..ComplaintSubmission::default()
    };
    let http = reqwest::Client::new();
    let complaints = collector.endpoint("/api/v1/sites/demo/complaints");
    let receipt: Receipt = http
        .post(&complaints)
        .header(
            proof::HEADER,
            proof::for_complaints(&http, &complaints).await?,
        )
        .json(&submission)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;

    // The first attempt fails, and the failure is on disk…
    wait::until(
        "the failed first attempt to be recorded",
        RETRY_WITHIN,
        || async {
            let rows = outbox(&collector)?;
            ensure!(
                receiver.seen().len() == 1,
                "{} requests so far",
                receiver.seen().len()
            );
            ensure!(rows == [("pending".to_owned(), 1)], "outbox: {rows:?}");
            Ok(())
        },
    )
    .await?;
    // …then the collector dies before it can retry.
    collector.kill_hard()?;
    ensure!(receiver.seen().len() == 1, "a retry came before the kill");
    collector.restart()?;

    wait::until(
        "the webhook to be delivered after the restart",
        RETRY_WITHIN,
        || async {
            let rows = outbox(&collector)?;
            ensure!(rows == [("delivered".to_owned(), 1)], "outbox: {rows:?}");
            Ok(())
        },
    )
    .await
    .with_context(|| format!("collector log:\n{}", collector.log_tail()))?;

    let seen = receiver.seen();
    ensure!(seen.len() == 2, "{} requests", seen.len());
    ensure!(
        seen[0].headers["webhook-id"] == seen[1].headers["webhook-id"],
        "the id changed between attempts"
    );
    ensure!(
        seen[0].body == seen[1].body,
        "the body changed between attempts"
    );
    for attempt in &seen {
        ensure!(
            signature_verifies(&secret, attempt),
            "a signature does not verify"
        );
        ensure!(
            !signature_verifies("whsec_AAAA", attempt),
            "any key verifies"
        );
    }
    let event: Value = serde_json::from_slice(&seen[1].body)?;
    ensure!(event["type"] == "complaint.received", "{event}");
    ensure!(
        event["data"]["reference"] == receipt.reference.as_str(),
        "{event}"
    );
    ensure!(
        !String::from_utf8_lossy(&seen[1].body).contains("kettle leaks"),
        "the shopper's words left the collector"
    );
    Ok(())
}
