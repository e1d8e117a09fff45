//! A small SMTP server for tests: it speaks just enough SMTP (EHLO/HELO,
//! MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT) on `127.0.0.1:0` and keeps
//! every message it accepts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent, dot-unstuffed, lines joined with CRLF.
    pub data: String,
}

impl Received {
    /// The header block (unfolded), before the first empty line.
    pub fn headers(&self) -> Vec<(String, String)> {
        let block = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in block.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line.trim_start());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        headers
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The subject with RFC 2047 encoded words (`=?utf-8?b?…?=`) decoded.
    pub fn subject(&self) -> String {
        let raw = self.header("Subject").unwrap_or_default();
        let mut decoded = String::new();
        for word in raw.split_whitespace() {
            let lower = word.to_ascii_lowercase();
            if lower.starts_with("=?utf-8?b?") && word.ends_with("?=") {
                let payload = &word[10..word.len() - 2];
                let bytes = STANDARD.decode(payload).unwrap_or_default();
                decoded.push_str(&String::from_utf8_lossy(&bytes));
            } else {
                if !decoded.is_empty() {
                    decoded.push(' ');
                }
                decoded.push_str(word);
            }
        }
        decoded
    }

    /// Every base64 body part, decoded, with its content type.
    pub fn parts(&self) -> Vec<(String, String)> {
        let mut parts = Vec::new();
        for chunk in self.data.split("\r\n--").skip(1) {
            let Some((head, body)) = chunk.split_once("\r\n\r\n") else {
                continue;
            };
            let head_lower = head.to_ascii_lowercase();
            if !head_lower.contains("content-transfer-encoding: base64") {
                continue;
            }
            let content_type = head_lower
                .lines()
                .find_map(|line| line.strip_prefix("content-type: "))
                .unwrap_or_default()
                .to_owned();
            let encoded: String = body
                .lines()
                .take_while(|line| !line.starts_with("--"))
                .collect();
            let bytes = STANDARD.decode(encoded.trim()).unwrap_or_default();
            parts.push((content_type, String::from_utf8_lossy(&bytes).into_owned()));
        }
        parts
    }
}

/// The running sink; stops when dropped.
pub struct Sink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink {
    pub async fn start() -> Sink {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts on a given address (a port some sender already knows).
    pub async fn start_on(address: &str) -> Sink {
        let listener = TcpListener::bind(address)
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&received);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, Arc::clone(&store)));
            }
        });
        Sink {
            port,
            received,
            task,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("sink lock").clone()
    }

    /// Waits (polling, up to 10 s) until at least `count` messages arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} messages, the sink has {}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn session(stream: TcpStream, received: Arc<Mutex<Vec<Received>>>) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    let mut reply = async |text: &str| writer.write_all(text.as_bytes()).await.is_ok();
    if !reply("220 sink.heard.test ESMTP test sink\r\n").await {
        return;
    }
    let mut from = String::new();
    let mut to = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250 sink.heard.test\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = line[10..].trim().to_owned();
            to.clear();
            "250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(line[8..].trim().to_owned());
            "250 OK\r\n"
        } else if upper == "DATA" {
            if !reply("354 end with <CRLF>.<CRLF>\r\n").await {
                return;
            }
            let mut data = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "." {
                    break;
                }
                data.push(line.strip_prefix('.').map_or(line.clone(), str::to_owned));
            }
            received.lock().expect("sink lock").push(Received {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data: data.join("\r\n"),
            });
            "250 OK queued\r\n"
        } else if upper == "QUIT" {
            let _ = reply("221 bye\r\n").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK\r\n"
        } else {
            "502 not implemented\r\n"
        };
        if !reply(answer).await {
            return;
        }
    }
}
