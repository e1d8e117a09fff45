//! `cargo xtask fuzz [--cases N]`: the property tests that fuzz the
//! validator, the intake's request parsing, the image check and the status
//! tokens, run with many more cases than CI gives them.
//!
//! `cargo xtask fuzz --api [--seconds N]`: schemathesis (from PyPI, into a
//! virtualenv under `target/`) against a real collector, driven by
//! `collector/openapi.json`: no 5xx, every request the description calls
//! invalid refused, status codes and content types as documented. Not in CI:
//! it needs PyPI and runs for minutes.
//!
//! `cargo fuzz` needs a nightly toolchain, which this project does not use;
//! proptest runs on stable and shrinks a failure to a small input.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

use crate::{cmd, target_dir};

/// Cases per property when `--cases` is not given: minutes, not seconds.
const DEFAULT_CASES: u32 = 20_000;

/// How long schemathesis runs when `--seconds` is not given.
const DEFAULT_API_SECONDS: u32 = 120;

/// The checks schemathesis applies to every answer.
const API_CHECKS: &str = "not_a_server_error,negative_data_rejection,\
                          status_code_conformance,content_type_conformance";

const USAGE: &str = "usage: cargo xtask fuzz [--cases N] | cargo xtask fuzz --api [--seconds N]";

/// Runs the fuzzing properties, or with `--api` schemathesis.
pub fn run(root: &Path, options: &[&str]) -> anyhow::Result<()> {
    match options {
        [] => properties(root, DEFAULT_CASES),
        ["--cases", number] => properties(root, parse_number(number)?),
        ["--api"] => api(root, DEFAULT_API_SECONDS),
        ["--api", "--seconds", number] => api(root, parse_number(number)?),
        _ => bail!(USAGE),
    }
}

fn parse_number(text: &str) -> anyhow::Result<u32> {
    text.parse()
        .with_context(|| format!("wanted a number, not {text:?}; {USAGE}"))
}

/// Runs every fuzzing property with `PROPTEST_CASES` set.
fn properties(root: &Path, cases: u32) -> anyhow::Result<()> {
    let cases = cases.to_string();
    let targets: [&[&str]; 2] = [
        &[
            "test",
            "--package",
            "heard-shared",
            "--test",
            "validate_props",
        ],
        &[
            "test",
            "--package",
            "heard-collector",
            "--lib",
            "--",
            "fuzz_tests",
            "photos_props",
        ],
    ];
    let mut tally = cmd::Tally::default();
    for args in targets {
        let mut command = cmd::cargo(root, args);
        command.env("PROPTEST_CASES", &cases);
        cmd::run_tests(&mut command, &mut tally)?;
    }
    eprintln!(
        "xtask: fuzzing passed: {} properties, {cases} cases each",
        tally.passed
    );
    Ok(())
}

/// Builds the collector, starts it with the demo site on a fresh database,
/// and points schemathesis at it for `seconds`.
fn api(root: &Path, seconds: u32) -> anyhow::Result<()> {
    let schemathesis = install_schemathesis(root)?;
    cmd::run(&mut cmd::cargo(
        root,
        &[
            "build",
            "--package",
            "heard-collector",
            "--bin",
            "collector",
        ],
    ))?;
    let work = target_dir(root).join("fuzz-api");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("clearing {}", work.display()))?;
    }
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let mut collector = Collector::start(root, &work)?;
    let url = match collector.url() {
        Ok(url) => url,
        Err(error) => {
            collector.stop();
            return Err(error);
        }
    };
    let result = cmd::run(
        Command::new(&schemathesis)
            .current_dir(&work)
            .arg("run")
            .arg(root.join("collector/openapi.json"))
            .args(["--url", &url, "--checks", API_CHECKS])
            .args(["--max-time", &seconds.to_string(), "--no-color"]),
    );
    collector.stop();
    result
}

/// `target/schemathesis/bin/schemathesis`, installed from PyPI when missing.
fn install_schemathesis(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = target_dir(root).join("schemathesis");
    let binary = venv.join("bin").join("schemathesis");
    if !binary.is_file() {
        cmd::run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        cmd::run(Command::new(venv.join("bin").join("pip")).args([
            "install",
            "--quiet",
            "schemathesis>=4,<5",
        ]))?;
    }
    Ok(binary)
}

/// The debug collector with the demo site, on a free port.
struct Collector {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Collector {
    fn start(root: &Path, work: &Path) -> anyhow::Result<Collector> {
        let binary = target_dir(root).join("debug").join("collector");
        let mut child = Command::new(&binary)
            .args(["serve", "--demo"])
            .env("HEARD_LISTEN", "127.0.0.1:0")
            .env("HEARD_DEMO_SHOP_LISTEN", "127.0.0.1:0")
            .env("HEARD_DATABASE", work.join("heard.sqlite3"))
            .env("HEARD_WWW_DIR", root.join("www"))
            .env("HEARD_WIDGET_DIR", target_dir(root).join("widget"))
            .env_remove("HEARD_PUBLIC_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = BufReader::new(child.stdout.take().context("stdout is piped")?);
        Ok(Collector { child, stdout })
    }

    /// Reads stdout until the collector says where it listens.
    fn url(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                bail!("the collector exited before saying where it listens");
            }
            if let Some(url) = line.trim().strip_prefix("heard: collector listening on ") {
                return Ok(url.to_owned());
            }
        }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
