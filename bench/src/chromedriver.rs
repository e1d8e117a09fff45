//! Headless Chromium through chromedriver: the process, and the few W3C
//! WebDriver commands the widget-speed section needs — a session with a
//! fresh profile, navigation, scripts, chromedriver's Chrome DevTools
//! Protocol passthrough (`goog/cdp/execute`) and its performance log (the
//! DevTools network events, which see cross-origin bytes that the page's
//! Resource Timing hides).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;

use crate::spawned::Spawned;

const STARTED_PREFIX: &str = "ChromeDriver was started successfully on port ";
/// Longest wait for chromedriver to be ready, and for one command.
const DEADLINE: Duration = Duration::from_secs(60);

/// A running chromedriver; asked to shut down (which closes its browsers)
/// and reaped when dropped.
pub struct Chromedriver {
    process: Spawned,
    port: u16,
    runtime: tokio::runtime::Runtime,
}

impl Chromedriver {
    /// Starts `chromedriver --port=0` and waits for the port it chose.
    pub fn start(chromedriver: &Path) -> anyhow::Result<Chromedriver> {
        let (process, announced) = Spawned::start(
            Command::new(chromedriver)
                .arg("--port=0")
                .stderr(Stdio::null()),
            STARTED_PREFIX,
        )?;
        let port = announced
            .trim_end_matches('.')
            .parse()
            .with_context(|| format!("chromedriver announced a bad port: {announced:?}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let driver = Chromedriver {
            process,
            port,
            runtime,
        };
        let started = Instant::now();
        loop {
            let status = driver.call(Method::GET, "/status", None);
            if status.is_ok_and(|status| status["ready"].as_bool() == Some(true)) {
                return Ok(driver);
            }
            if started.elapsed() > DEADLINE {
                bail!("chromedriver did not report ready within {DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens a headless Chromium with a fresh, empty profile (so an empty
    /// HTTP cache) and the performance log on.
    pub fn session(&self, chromium: &Path) -> anyhow::Result<Session<'_>> {
        let profile = tempfile::Builder::new()
            .prefix("heard-bench-chromium-")
            .tempdir()?;
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            // Nothing but the pages under test on the network.
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            "--window-size=1280,900".to_owned(),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "args": args,
                        "binary": chromium.display().to_string(),
                        "perfLoggingPrefs": { "enableNetwork": true, "enablePage": false },
                    },
                    "goog:loggingPrefs": { "performance": "ALL" },
                    "timeouts": { "script": 60_000, "pageLoad": 60_000 },
                }
            }
        });
        let created = self
            .call(Method::POST, "/session", Some(capabilities))
            .with_context(|| format!("opening a Chromium session ({})", chromium.display()))?;
        let id = created["sessionId"]
            .as_str()
            .context("chromedriver answered a new session without an id")?
            .to_owned();
        Ok(Session {
            driver: self,
            id,
            _profile: profile,
        })
    }

    /// One WebDriver command; its `value`, or the error chromedriver gave.
    fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let port = self.port;
        let answer = self.runtime.block_on(async move {
            tokio::time::timeout(DEADLINE, request(port, method, path, body)).await
        });
        let answer = answer.with_context(|| format!("chromedriver did not answer {path}"))??;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            bail!(
                "chromedriver: {error}: {}",
                value["message"].as_str().unwrap_or_default()
            );
        }
        Ok(value)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.call(Method::GET, "/shutdown", None);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.process.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Dropping `process` kills it.
    }
}

async fn request(
    port: u16,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("connecting to chromedriver")?;
    tokio::spawn(connection);
    let body = body.map(|body| body.to_string()).unwrap_or_default();
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    let bytes = response.into_body().collect().await?.to_bytes();
    serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "chromedriver answered {path} with something other than JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

/// One browser with its own profile; closed when dropped.
pub struct Session<'a> {
    driver: &'a Chromedriver,
    id: String,
    _profile: TempDir,
}

impl Session<'_> {
    /// Navigates and waits for the page's `load` event.
    pub fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.command(Method::POST, "url", json!({ "url": url }))
            .with_context(|| format!("opening {url}"))?;
        Ok(())
    }

    /// Runs `script` as a function body that calls its last argument with
    /// the result, and returns that result.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.command(
            Method::POST,
            "execute/async",
            json!({ "script": script, "args": args }),
        )
    }

    /// A Chrome DevTools Protocol command on the current page.
    pub fn cdp(&self, command: &str, params: Value) -> anyhow::Result<Value> {
        self.command(
            Method::POST,
            "goog/cdp/execute",
            json!({ "cmd": command, "params": params }),
        )
        .with_context(|| format!("CDP {command}"))
    }

    /// The DevTools events logged since the last call (the log is drained),
    /// each as `{"method": …, "params": …}`.
    pub fn performance_log(&self) -> anyhow::Result<Vec<Value>> {
        let entries = self.command(Method::POST, "se/log", json!({ "type": "performance" }))?;
        let entries = entries.as_array().cloned().unwrap_or_default();
        Ok(entries
            .iter()
            .filter_map(|entry| entry["message"].as_str())
            .filter_map(|message| serde_json::from_str::<Value>(message).ok())
            .map(|message| message["message"].clone())
            .collect())
    }

    fn command(&self, method: Method, command: &str, body: Value) -> anyhow::Result<Value> {
        self.driver.call(
            method,
            &format!("/session/{}/{command}", self.id),
            Some(body),
        )
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .call(Method::DELETE, &format!("/session/{}", self.id), None);
    }
}
