//! `cargo xtask fuzz [--cases N]`: the property tests that fuzz the
//! validator, the intake's request parsing, the image check and the status
//! tokens, run with many more cases than CI gives them.
//!
//! `cargo xtask fuzz --api [--seconds N]`: schemathesis (from PyPI, into a
//! virtualenv under `target/`) against a real collector, driven by
//! `collector/openapi.json`: no 5xx, every request the description calls
//! invalid refused, status codes and content types as documented. Not in CI:
//! it needs PyPI and runs for minutes. The hooks in `xtask/fuzz_hooks.py`
//! solve a real proof-of-work challenge for most complaints (the collector
//! runs with a low base difficulty), so the fuzz reaches the body's
//! validation, while some requests keep a missing, malformed, unsolved or
//! spent proof; the run fails unless some complaints got past the proof
//! check.
//!
//! `cargo fuzz` needs a nightly toolchain, which this project does not use;
//! proptest runs on stable and shrinks a failure to a small input.

use std::collections::BTreeMap;
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

/// The proof-of-work difficulty of the fuzz's collector while calm: low
/// enough that the hooks solve a challenge in Python in milliseconds.
const API_PROOF_BASE_MAXNUMBER: &str = "2000";

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
    let tally = work.join("intake-tally.tsv");
    let result = cmd::run(
        Command::new(&schemathesis)
            .current_dir(&work)
            .env(
                "SCHEMATHESIS_HOOKS",
                root.join("xtask").join("fuzz_hooks.py"),
            )
            // No `__pycache__` beside the hooks in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("HEARD_FUZZ_URL", &url)
            .env("HEARD_FUZZ_TALLY", &tally)
            .arg("run")
            .arg(root.join("collector/openapi.json"))
            .args(["--url", &url, "--checks", API_CHECKS])
            .args(["--max-time", &seconds.to_string(), "--no-color"]),
    );
    collector.stop();
    // The tally is printed whatever schemathesis found.
    let reached = check_tally(&tally);
    result.and(reached)
}

/// Prints what intake answered, by the kind of proof sent, and the fields
/// the body's validation refused behind a solved proof; fails when a spent
/// proof stored another complaint, or unless complaints with a solved proof
/// were both stored and refused by that validation: the fuzz got past the
/// proof check.
fn check_tally(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the hooks' tally {}", path.display()))?;
    // "{proof} {status} {error}" and "{field}:{code}" → how many answers.
    let mut answers = BTreeMap::<&str, u64>::new();
    let mut fields = BTreeMap::<&str, u64>::new();
    for line in text.lines() {
        let (count, answer) = line
            .split_once('\t')
            .with_context(|| format!("{}: not a tally line: {line:?}", path.display()))?;
        let count: u64 = count
            .parse()
            .with_context(|| format!("{}: not a count: {line:?}", path.display()))?;
        let (answer, refused) = match answer.split_once(" [") {
            Some((answer, refused)) => (answer, refused.trim_end_matches(']')),
            None => (answer, ""),
        };
        *answers.entry(answer).or_default() += count;
        if answer == "solved 422 invalid_submission" {
            for field in refused.split(", ").filter(|field| !field.is_empty()) {
                *fields.entry(field).or_default() += count;
            }
        }
    }
    eprintln!("xtask: intake answers by the proof sent (solved, generated, mutated, reused):");
    for (answer, count) in &answers {
        eprintln!("    {count:>6}  {answer}");
    }
    eprintln!("xtask: fields the body's validation refused behind a solved proof:");
    for (field, count) in &fields {
        eprintln!("    {count:>6}  {field}");
    }
    if let Some(twice) = answers.get("reused 201") {
        bail!("{twice} complaints were stored with a proof another complaint had spent");
    }
    let stored = answers.get("solved 201").copied().unwrap_or(0);
    let refused_by_validation: u64 = fields.values().sum();
    if stored == 0 || refused_by_validation == 0 {
        bail!(
            "with a solved proof, {stored} complaints were stored and {refused_by_validation} \
             field errors came from the body's validation: the fuzz did not get past the proof \
             check"
        );
    }
    Ok(())
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
            .env(
                "HEARD_PROOF_OF_WORK_BASE_MAXNUMBER",
                API_PROOF_BASE_MAXNUMBER,
            )
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

#[cfg(test)]
mod tests {
    use super::check_tally;

    fn tally(lines: &str) -> anyhow::Result<()> {
        let file = tempfile::NamedTempFile::new()?;
        std::fs::write(file.path(), lines)?;
        check_tally(file.path())
    }

    #[test]
    fn the_tally_passes_only_when_solved_proofs_reached_the_body() {
        let reached = "3\tsolved 201\n\
                       7\tsolved 422 invalid_submission [category:unknown, description:invalid]\n\
                       5\tmutated 422 proof_required [Heard-Proof:required]\n";
        tally(reached).unwrap();
        // Refused at the proof check only, or never stored: not enough.
        let proofs_only = "12\tgenerated 422 proof_invalid [Heard-Proof:invalid]\n\
                           5\tmutated 422 proof_required [Heard-Proof:required]\n";
        assert!(tally(proofs_only).is_err());
        let never_stored = "7\tsolved 422 invalid_submission [category:unknown]\n";
        assert!(tally(never_stored).is_err());
        let never_refused = "3\tsolved 201\n1\tsolved 400 malformed_json\n";
        assert!(tally(never_refused).is_err());
        assert!(tally("not a tally\n").is_err());
        // A spent proof answered by a replayed receipt is fine; by a new one, not.
        tally(&format!(
            "{reached}2\treused 201 replayed\n4\treused 409 proof_used\n"
        ))
        .unwrap();
        assert!(tally(&format!("{reached}1\treused 201\n")).is_err());
    }
}
