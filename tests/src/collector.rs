//! The real collector binary, started as `collector serve --demo` on free
//! ports with a throw-away database.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use reqwest::Url;
use tempfile::TempDir;

use crate::pipes::{LogTail, forward_lines};
use crate::wait::DEADLINE;
use crate::{path_from_env, target_dir, workspace_root};

const LISTENING_PREFIX: &str = "heard: collector listening on ";
const DEMO_SHOP_PREFIX: &str = "heard: demo shop on ";

/// A running `collector serve --demo`. Dropping it kills the process; the
/// database lives in a temporary directory that survives restarts and is
/// removed with this value.
///
/// Starting blocks the calling thread until the collector announces its URLs
/// (at most [`DEADLINE`]); call it from a multi-threaded Tokio runtime or from
/// a plain thread.
pub struct RunningCollector {
    process: Option<CollectorProcess>,
    /// The log of the run before the last kill, for failure messages.
    killed_run_log: String,
    data_dir: TempDir,
    /// `127.0.0.1:0` at first, then the ports actually bound, so a restart
    /// answers on the same URLs and receipts' status links keep working.
    collector_listen: String,
    demo_shop_listen: String,
    url: Url,
    demo_shop_url: Url,
}

struct CollectorProcess {
    child: Child,
    /// The collector's stderr, where its logs go.
    log: LogTail,
}

impl RunningCollector {
    /// Starts the collector on free ports with a fresh, empty database.
    pub fn start() -> anyhow::Result<RunningCollector> {
        let data_dir = tempfile::Builder::new()
            .prefix("heard-e2e-")
            .tempdir()
            .context("creating a temporary directory for the database")?;
        let placeholder = Url::parse("http://127.0.0.1/").expect("a valid URL");
        let mut collector = RunningCollector {
            process: None,
            killed_run_log: String::new(),
            data_dir,
            collector_listen: "127.0.0.1:0".to_owned(),
            demo_shop_listen: "127.0.0.1:0".to_owned(),
            url: placeholder.clone(),
            demo_shop_url: placeholder,
        };
        collector.launch()?;
        Ok(collector)
    }

    /// The collector's base URL, e.g. `http://127.0.0.1:40123`, without a trailing slash.
    pub fn url(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    /// The demo shop's base URL: a different origin from the collector.
    pub fn demo_shop_url(&self) -> &str {
        self.demo_shop_url.as_str().trim_end_matches('/')
    }

    /// `path` (which starts with `/`) on the collector.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url())
    }

    /// Resolves a link the collector handed out, absolute or relative.
    pub fn resolve(&self, link: &str) -> anyhow::Result<Url> {
        self.url
            .join(link)
            .with_context(|| format!("resolving {link:?} against {}", self.url))
    }

    /// The SQLite database file the collector writes to.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.path().join("heard.sqlite3")
    }

    /// Opens the collector's database read-only, as an outside observer.
    pub fn open_database(&self) -> anyhow::Result<rusqlite::Connection> {
        let path = self.database_path();
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {} read-only", path.display()))
    }

    /// The stored description of the complaint with this reference, if any.
    pub fn stored_description(&self, reference: &str) -> anyhow::Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .open_database()?
            .query_row(
                "SELECT description FROM complaints WHERE reference = ?1",
                [reference],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Pulls the plug: SIGKILL, with no chance to flush or shut down cleanly.
    pub fn kill_hard(&mut self) -> anyhow::Result<ExitStatus> {
        let mut process = self
            .process
            .take()
            .ok_or_else(|| anyhow!("the collector is not running"))?;
        // `Child::kill` sends SIGKILL on Unix.
        process.child.kill().context("killing the collector")?;
        let status = process
            .child
            .wait()
            .context("reaping the killed collector")?;
        self.killed_run_log = process.log.finish();
        Ok(status)
    }

    /// Asks the collector to stop, as a service manager would: SIGTERM, then
    /// waits (at most [`DEADLINE`]) for it to exit by itself.
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let mut process = self
            .process
            .take()
            .ok_or_else(|| anyhow!("the collector is not running"))?;
        let pid = process.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .context("running kill -TERM")?;
        if !sent.success() {
            bail!("kill -TERM {pid} failed ({sent})");
        }
        let started = Instant::now();
        let status = loop {
            if let Some(status) = process
                .child
                .try_wait()
                .context("waiting for the collector")?
            {
                break status;
            }
            if started.elapsed() > DEADLINE {
                let _ = process.child.kill();
                bail!("the collector did not exit within {DEADLINE:?} of SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        self.killed_run_log = process.log.finish();
        Ok(status)
    }

    /// Starts the collector again on the same database and ports, killing it
    /// hard first if it is still running.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        if self.process.is_some() {
            self.kill_hard()?;
        }
        self.launch()
    }

    /// The collector's most recent log lines, for failure messages: those of
    /// the running process, or of the one killed last.
    pub fn log_tail(&self) -> String {
        match &self.process {
            Some(process) => process.log.text(),
            None => self.killed_run_log.clone(),
        }
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        let binary = collector_binary();
        if !binary.is_file() {
            bail!(
                "the collector binary {} does not exist; run `cargo build -p heard-collector` \
                 or set HEARD_COLLECTOR_BIN",
                binary.display()
            );
        }
        let www_dir = path_from_env("HEARD_WWW_DIR", || workspace_root().join("www"));
        let widget_dir = path_from_env("HEARD_WIDGET_DIR", || target_dir().join("widget"));

        let mut child = Command::new(&binary)
            .args(["serve", "--demo"])
            .env("HEARD_LISTEN", &self.collector_listen)
            .env("HEARD_DEMO_SHOP_LISTEN", &self.demo_shop_listen)
            .env("HEARD_DATABASE", self.database_path())
            .env("HEARD_WWW_DIR", &www_dir)
            .env("HEARD_WIDGET_DIR", &widget_dir)
            // Real challenges, solved by the tests and the widget, but light
            // ones: the scenarios measure the collector, not the solver.
            .env("HEARD_PROOF_OF_WORK_BASE_MAXNUMBER", "2000")
            // Links must point at this collector, whatever the caller's environment says.
            .env_remove("HEARD_PUBLIC_URL")
            .current_dir(self.data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = forward_lines(child.stdout.take().expect("stdout is piped"));
        let log = LogTail::capture(child.stderr.take().expect("stderr is piped"));
        let mut process = CollectorProcess { child, log };

        match read_urls(&stdout) {
            Ok((url, demo_shop_url)) => {
                self.collector_listen = host_and_port(&url)?;
                self.demo_shop_listen = host_and_port(&demo_shop_url)?;
                self.url = url;
                self.demo_shop_url = demo_shop_url;
                self.process = Some(process);
                Ok(())
            }
            Err(error) => {
                let _ = process.child.kill();
                let status = process.child.wait();
                let log = process.log.finish();
                Err(error.context(format!(
                    "starting {} (exit: {status:?}); its log:\n{log}",
                    binary.display()
                )))
            }
        }
    }
}

impl Drop for RunningCollector {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.child.kill();
            let _ = process.child.wait();
            if std::thread::panicking() {
                if !self.killed_run_log.is_empty() {
                    eprintln!(
                        "--- log of the killed collector ---\n{}",
                        self.killed_run_log
                    );
                }
                eprintln!("--- collector log ---\n{}", process.log.finish());
            }
        }
    }
}

/// `HEARD_COLLECTOR_BIN`, or the debug build in the target directory.
pub fn collector_binary() -> PathBuf {
    path_from_env("HEARD_COLLECTOR_BIN", || {
        target_dir().join("debug").join("collector")
    })
}

/// Waits for the two `heard: …` lines; returns the collector's and the demo shop's URLs.
fn read_urls(stdout: &Receiver<String>) -> anyhow::Result<(Url, Url)> {
    let deadline = Instant::now() + DEADLINE;
    let mut collector = None;
    let mut demo_shop = None;
    while collector.is_none() || demo_shop.is_none() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let line = match stdout.recv_timeout(remaining) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => bail!(
                "gave up after {DEADLINE:?} waiting for the lines {LISTENING_PREFIX:?}… and \
                 {DEMO_SHOP_PREFIX:?}… on the collector's stdout"
            ),
            Err(RecvTimeoutError::Disconnected) => {
                bail!("the collector closed its stdout before announcing its URLs")
            }
        };
        if let Some(url) = line.strip_prefix(LISTENING_PREFIX) {
            collector = Some(parse_url(url)?);
        } else if let Some(url) = line.strip_prefix(DEMO_SHOP_PREFIX) {
            demo_shop = Some(parse_url(url)?);
        }
    }
    Ok((
        collector.expect("the loop ends once both are set"),
        demo_shop.expect("the loop ends once both are set"),
    ))
}

fn parse_url(text: &str) -> anyhow::Result<Url> {
    Url::parse(text.trim()).with_context(|| format!("the collector announced a bad URL {text:?}"))
}

fn host_and_port(url: &Url) -> anyhow::Result<String> {
    let host = url.host_str().ok_or_else(|| anyhow!("{url} has no host"))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| anyhow!("{url} has no port"))?;
    Ok(format!("{host}:{port}"))
}
