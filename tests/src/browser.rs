//! A real headless Chromium, driven through chromedriver with WebDriver.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tempfile::TempDir;

use crate::collector::RunningCollector;
use crate::pipes::{LogTail, forward_lines};
use crate::wait::{self, DEADLINE};
use crate::{path_from_env, target_dir};

/// The element the widget's script creates to hold its open shadow root.
pub const WIDGET_HOST: &str = "[data-heard-host]";

const STARTED_PREFIX: &str = "ChromeDriver was started successfully on port ";

/// How long chromedriver gets to close Chromium before it is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A chromedriver process with one browser session. Prefer [`Browser::close`];
/// dropping also asks chromedriver to quit its browsers, then kills it.
pub struct Browser {
    client: Client,
    chromedriver: Child,
    port: u16,
    log: LogTail,
    /// A fresh profile per browser, so no state leaks between tests.
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver on a port of its own choosing and opens a headless Chromium.
    pub async fn start() -> anyhow::Result<Browser> {
        let chromedriver_path = path_from_env("CHROMEDRIVER", || "/usr/bin/chromedriver".into());
        let chromium_path = path_from_env("CHROMIUM", || "/usr/bin/chromium".into());
        let profile = tempfile::Builder::new()
            .prefix("heard-e2e-chromium-")
            .tempdir()
            .context("creating a Chromium profile directory")?;

        let mut chromedriver = Command::new(&chromedriver_path)
            // Port 0: chromedriver binds a free port and says which.
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", chromedriver_path.display()))?;
        let stdout = forward_lines(chromedriver.stdout.take().expect("stdout is piped"));
        let mut log = LogTail::capture(chromedriver.stderr.take().expect("stderr is piped"));

        // Blocks this thread briefly; chromedriver announces its port within milliseconds.
        let port = match read_port(&stdout) {
            Ok(port) => port,
            Err(error) => {
                let _ = chromedriver.kill();
                let _ = chromedriver.wait();
                return Err(error.context(format!("chromedriver's log:\n{}", log.finish())));
            }
        };
        match connect(port, &chromium_path, &profile).await {
            Ok(client) => Ok(Browser {
                client,
                chromedriver,
                port,
                log,
                _profile: profile,
            }),
            Err(error) => {
                shut_down(&mut chromedriver, port);
                Err(error.context(format!("chromedriver's log:\n{}", log.finish())))
            }
        }
    }

    /// The WebDriver session.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("opening {url}"))
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> anyhow::Result<String> {
        let body = self.client.find(Locator::Css("body")).await?;
        Ok(body.text().await?)
    }

    /// Waits until `selector` matches inside the widget's shadow root and
    /// returns the first match.
    pub async fn widget_element(&self, selector: &str) -> anyhow::Result<Element> {
        self.widget_element_within(selector, DEADLINE).await
    }

    /// [`Browser::widget_element`] with a deadline of the caller's choosing,
    /// for things that wait on the widget's own timers (retries).
    pub async fn widget_element_within(
        &self,
        selector: &str,
        deadline: Duration,
    ) -> anyhow::Result<Element> {
        wait::until(
            &format!("`{selector}` inside the widget's shadow root"),
            deadline,
            || self.find_in_widget(selector),
        )
        .await
    }

    /// Waits until `selector` inside the widget can be clicked, and clicks it
    /// with a real WebDriver click (not a synthetic JavaScript event).
    pub async fn click_in_widget(&self, selector: &str) -> anyhow::Result<()> {
        wait::until(
            &format!("`{selector}` inside the widget to accept a click"),
            DEADLINE,
            || async {
                let element = self.find_in_widget(selector).await?;
                element.click().await?;
                Ok(())
            },
        )
        .await
    }

    /// Types `text` into `selector` inside the widget with real key presses.
    pub async fn type_in_widget(&self, selector: &str, text: &str) -> anyhow::Result<()> {
        let element = self.widget_element(selector).await?;
        element
            .send_keys(text)
            .await
            .with_context(|| format!("typing into `{selector}`"))
    }

    /// Saves a screenshot and the widget's markup to `<target>/e2e/<name>.png`
    /// and `.html`, so a failure on CI can be looked at afterwards; returns
    /// the screenshot's path.
    pub async fn save_evidence(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = target_dir().join("e2e");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let png = dir.join(format!("{name}.png"));
        std::fs::write(&png, self.client.screenshot().await?)
            .with_context(|| format!("writing {}", png.display()))?;
        let markup = self
            .client
            .execute(
                "const host = document.querySelector(arguments[0]); \
                 return document.documentElement.outerHTML + '\\n<!-- shadow root -->\\n' + \
                 (host && host.shadowRoot ? host.shadowRoot.innerHTML : '(none)');",
                vec![serde_json::json!(WIDGET_HOST)],
            )
            .await?;
        let html = dir.join(format!("{name}.html"));
        std::fs::write(&html, markup.as_str().unwrap_or_default())
            .with_context(|| format!("writing {}", html.display()))?;
        Ok(png)
    }

    /// Runs `script` in the page as a function body (`arguments` holds
    /// `args`) and returns what it returns.
    pub async fn script(
        &self,
        script: &str,
        args: Vec<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        self.client
            .execute(script, args)
            .await
            .context("running a script in the page")
    }

    /// Ends a scenario: when `result` failed, saves evidence as `name` and
    /// adds the collector's log to the error; always closes the browser.
    pub async fn finish(
        self,
        name: &str,
        collector: &RunningCollector,
        result: anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        if result.is_err() {
            match self.save_evidence(name).await {
                Ok(path) => eprintln!("screenshot of the failure: {}", path.display()),
                Err(error) => eprintln!("could not save a screenshot: {error:#}"),
            }
        }
        let closed = self.close().await;
        result.with_context(|| format!("collector log:\n{}", collector.log_tail()))?;
        closed
    }

    /// Ends the session (Chromium closes) and stops chromedriver.
    pub async fn close(self) -> anyhow::Result<()> {
        let result = self.client.clone().close().await;
        drop(self);
        result.context("ending the WebDriver session")
    }

    async fn find_in_widget(&self, selector: &str) -> anyhow::Result<Element> {
        let host = self.client.find(Locator::Css(WIDGET_HOST)).await?;
        let root = host.shadow_root().await?;
        Ok(root.find(Locator::Css(selector)).await?)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- chromedriver log ---\n{}", self.log.text());
        }
        shut_down(&mut self.chromedriver, self.port);
    }
}

/// Waits for chromedriver's "started successfully" line and returns its port.
fn read_port(stdout: &Receiver<String>) -> anyhow::Result<u16> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let line = match stdout.recv_timeout(remaining) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                bail!("gave up after {DEADLINE:?} waiting for chromedriver to announce its port")
            }
            Err(RecvTimeoutError::Disconnected) => {
                bail!("chromedriver exited before announcing its port")
            }
        };
        if let Some(rest) = line.strip_prefix(STARTED_PREFIX) {
            let digits = rest.trim().trim_end_matches('.');
            return digits
                .parse()
                .with_context(|| format!("chromedriver announced a bad port in {line:?}"));
        }
    }
}

/// Waits for chromedriver to be ready, then opens a session.
async fn connect(port: u16, chromium: &Path, profile: &TempDir) -> anyhow::Result<Client> {
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait::until(
        "chromedriver's /status to report ready",
        DEADLINE,
        || async {
            let status: serde_json::Value = http
                .get(format!("{base}/status"))
                .send()
                .await?
                .json()
                .await?;
            match status["value"]["ready"].as_bool() {
                Some(true) => Ok(()),
                _ => Err(anyhow!("not ready yet: {status}")),
            }
        },
    )
    .await?;

    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        // Without these, Chromium keeps trying to reach the network.
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        format!("--user-data-dir={}", profile.path().display()),
        "--window-size=1280,900".to_owned(),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "args": args,
            "binary": chromium.display().to_string(),
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&base)
        .await
        .with_context(|| format!("opening a Chromium session ({})", chromium.display()))
}

/// Asks chromedriver to quit, which closes the browsers it started, then
/// reaps it, killing it if it takes too long.
fn shut_down(chromedriver: &mut Child, port: u16) {
    request_shutdown(port);
    wait_or_kill(chromedriver);
}

/// `GET /shutdown`, written by hand so it also works in `Drop`, outside any runtime.
fn request_shutdown(port: u16) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(SHUTDOWN_GRACE));
    let request =
        format!("GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
}

fn wait_or_kill(child: &mut Child) {
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
