//! A child process that announces where it listens on a stdout line (the
//! collector, chromedriver): spawned, its announcement awaited, its stdout
//! drained afterwards so it never blocks on a full pipe, and killed when
//! dropped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

/// Longest wait for the announcement.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Spawned {
    pub child: Child,
}

impl Spawned {
    /// Spawns `command` (its stdout piped, stdin closed) and waits for the
    /// first stdout line starting with `prefix`; returns the process and the
    /// rest of that line, trimmed.
    pub fn start(command: &mut Command, prefix: &'static str) -> anyhow::Result<(Spawned, String)> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {:?}", command.get_program()))?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let (found, announced) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|read| read > 0) {
                if let Some(rest) = line.trim().strip_prefix(prefix) {
                    let _ = found.send(rest.trim().to_owned());
                    let _ = lines.read_to_end(&mut Vec::new());
                    return;
                }
                line.clear();
            }
        });
        let mut spawned = Spawned { child };
        match announced.recv_timeout(ANNOUNCE_TIMEOUT) {
            Ok(rest) => Ok((spawned, rest)),
            Err(_) => {
                let status = spawned.child.try_wait();
                bail!(
                    "{:?} did not print {prefix:?} within {ANNOUNCE_TIMEOUT:?} (exit: {status:?})",
                    command.get_program()
                )
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
