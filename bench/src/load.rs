//! The loopback load generator: keep-alive HTTP/1.1 connections, each
//! posting complaints one after another (closed loop), or posting on a fixed
//! schedule (open loop) so that a slow answer cannot slow down the offered
//! load and hide its own latency.
//!
//! Each complaint carries a solved proof-of-work challenge, fetched on the
//! same connection before the complaint is due — as the widget fetches and
//! solves one while the shopper writes — so the challenge request and the
//! check of its solution are part of the collector's measured work, while
//! the latency is the complaint's own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use heard_collector::domain::proof::solve;
use heard_shared::Challenge;
use heard_shared::proof::{PROOF_HEADER, Proof};

use crate::stats::RunSummary;

/// Longest wait for one answer; a request over it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to post and what: bodies are reused round-robin, each request gets
/// an Idempotency-Key of its own, so every request is a new complaint.
pub struct Target {
    pub address: SocketAddr,
    pub path: String,
    pub bodies: Vec<Bytes>,
    /// Distinguishes this run's keys from any earlier run's.
    pub key_prefix: String,
    /// The site's challenge endpoint, beside its complaints endpoint.
    challenge_path: String,
    next: AtomicU64,
}

impl Target {
    pub fn new(
        address: SocketAddr,
        path: String,
        bodies: Vec<Bytes>,
        key_prefix: String,
    ) -> Target {
        let site = path.strip_suffix("/complaints").unwrap_or(&path);
        Target {
            address,
            challenge_path: format!("{site}/challenge"),
            path,
            bodies,
            key_prefix,
            next: AtomicU64::new(0),
        }
    }

    fn request(&self, proof: &str) -> Request<Full<Bytes>> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let body = self.bodies[(number % self.bodies.len() as u64) as usize].clone();
        Request::post(self.path.as_str())
            .header(header::HOST, self.address.to_string())
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", format!("{}-{number}", self.key_prefix))
            .header(PROOF_HEADER, proof)
            .body(Full::new(body))
            .expect("a request built from valid parts")
    }

    fn challenge_request(&self) -> Request<Full<Bytes>> {
        Request::get(self.challenge_path.as_str())
            .header(header::HOST, self.address.to_string())
            .body(Full::new(Bytes::new()))
            .expect("a request built from valid parts")
    }
}

/// `connections` connections, each sending its next request as soon as the
/// previous one is answered, for `duration`.
pub async fn closed_loop(
    target: Arc<Target>,
    connections: usize,
    duration: Duration,
) -> RunSummary {
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let target = Arc::clone(&target);
            tokio::spawn(async move {
                let mut client = Client::default();
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    client.prepare(&target).await;
                    let sent = Instant::now();
                    let acknowledged = client.post(&target).await;
                    tally.record(acknowledged, sent.elapsed());
                }
                tally
            })
        })
        .collect();
    gather(workers, started).await
}

/// `rate` requests per second for `duration`, spread over at most
/// `connections` connections. Latency counts from when each request was due,
/// so queueing in the generator (all connections busy) is charged too. A
/// request still unsent at three times `duration` is given up and counted
/// as an error, so an overloaded collector cannot make the run last for ever.
pub async fn open_loop(
    target: Arc<Target>,
    rate: u64,
    duration: Duration,
    connections: usize,
) -> RunSummary {
    let total = rate * duration.as_millis() as u64 / 1000;
    let interval = Duration::from_secs(1).as_nanos() as u64 / rate.max(1);
    let scheduled = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let give_up = started + duration * 3;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let target = Arc::clone(&target);
            let scheduled = Arc::clone(&scheduled);
            tokio::spawn(async move {
                let mut client = Client::default();
                let mut tally = Tally::default();
                loop {
                    let number = scheduled.fetch_add(1, Ordering::Relaxed);
                    if number >= total {
                        break;
                    }
                    if Instant::now() > give_up {
                        tally.errors += 1;
                        continue;
                    }
                    let due = started + Duration::from_nanos(number * interval);
                    client.prepare(&target).await;
                    tokio::time::sleep_until(due.into()).await;
                    let acknowledged = client.post(&target).await;
                    tally.record(acknowledged, due.elapsed());
                }
                tally
            })
        })
        .collect();
    gather(workers, started).await
}

/// One keep-alive connection, opened on first use and again after a
/// failure, and the solved challenge for its next complaint.
#[derive(Default)]
struct Client {
    sender: Option<SendRequest<Full<Bytes>>>,
    proof: Option<String>,
}

impl Client {
    /// Fetches and solves the challenge for the next complaint, unless one
    /// is in hand; a failure leaves none, and the complaint counts as an error.
    async fn prepare(&mut self, target: &Target) {
        if self.proof.is_some() {
            return;
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, self.try_challenge(target)).await {
            Ok(Ok(proof)) => self.proof = Some(proof),
            _ => self.sender = None,
        }
    }

    /// Posts the target's next complaint; true when it was answered `201`.
    async fn post(&mut self, target: &Target) -> bool {
        let Some(proof) = self.proof.take() else {
            return false;
        };
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.try_post(target, &proof)).await;
        let acknowledged = matches!(result, Ok(Ok(StatusCode::CREATED)));
        if !matches!(result, Ok(Ok(_))) {
            // A timed-out or broken connection is not reused.
            self.sender = None;
        }
        acknowledged
    }

    async fn try_challenge(&mut self, target: &Target) -> anyhow::Result<String> {
        let sender = match &mut self.sender {
            Some(sender) => sender,
            None => self.sender.insert(connect(target.address).await?),
        };
        sender.ready().await?;
        let response = sender.send_request(target.challenge_request()).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::ensure!(
            status == StatusCode::OK,
            "the challenge was answered {status}"
        );
        let challenge: Challenge = serde_json::from_slice(&body)?;
        let number =
            solve(&challenge).ok_or_else(|| anyhow::anyhow!("the challenge has no solution"))?;
        Ok(Proof {
            salt: challenge.salt,
            number,
            signature: challenge.signature,
        }
        .header_value())
    }

    async fn try_post(&mut self, target: &Target, proof: &str) -> anyhow::Result<StatusCode> {
        let sender = match &mut self.sender {
            Some(sender) => sender,
            None => self.sender.insert(connect(target.address).await?),
        };
        sender.ready().await?;
        let response = sender.send_request(target.request(proof)).await?;
        let status = response.status();
        // Read the receipt to the end, as a widget would, so the connection
        // can carry the next request.
        response.into_body().collect().await?;
        Ok(status)
    }
}

async fn connect(address: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
}

impl Tally {
    fn record(&mut self, acknowledged: bool, latency: Duration) {
        if acknowledged {
            self.latencies.push(latency);
        } else {
            self.errors += 1;
        }
    }
}

async fn gather(workers: Vec<tokio::task::JoinHandle<Tally>>, started: Instant) -> RunSummary {
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        match worker.await {
            Ok(tally) => {
                latencies.extend(tally.latencies);
                errors += tally.errors;
            }
            Err(_) => errors += 1,
        }
    }
    RunSummary::new(latencies, errors, started.elapsed())
}
