//! Running the real `collector` binary: creating the bench site, starting
//! `serve` on a free loopback port, reading its peak memory, stopping it.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const LISTENING_PREFIX: &str = "heard: collector listening on ";

/// The bench collector's `proof_of_work_base_maxnumber`. The collector's
/// share of proof of work (issuing, checking, remembering the spent proof)
/// does not depend on the difficulty; the generator's does, so the lowest
/// difficulty keeps the generator from measuring itself.
pub const BENCH_BASE_MAXNUMBER: &str = "1";
/// Longest wait for the listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for a graceful stop before the process is killed: generous,
/// because the stop after the intake runs is itself a figure (background
/// work the collector finishes before it exits).
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// The collector binary and the database it runs on.
pub struct Setup {
    pub binary: PathBuf,
    pub database: PathBuf,
    /// Where the collector runs and writes its log.
    pub directory: PathBuf,
}

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .current_dir(&self.directory)
            .env("HEARD_DATABASE", &self.database)
            // The collector's own default, spelled out so an inherited
            // RUST_LOG cannot change what the benchmark measures.
            .env("RUST_LOG", "info,tower_http=warn");
        command
    }

    /// `collector site add --key bench --name Bench` on the database.
    pub fn add_site(&self, key: &str) -> anyhow::Result<()> {
        let output = self
            .command(&["site", "add", "--key", key, "--name", "Bench"])
            .stdin(Stdio::null())
            .output()
            .context("running `collector site add`")?;
        if !output.status.success() {
            bail!(
                "`collector site add` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// Starts `collector serve` on 127.0.0.1:0 and waits for its listening line.
    pub fn start(&self) -> anyhow::Result<Running> {
        let log = self.directory.join("collector.log");
        let log_file = std::fs::File::create(&log).context("creating the collector log")?;
        let started = Instant::now();
        let mut child = self
            .command(&["serve"])
            .env("HEARD_LISTEN", "127.0.0.1:0")
            // Every complaint carries a real, solved challenge, but a light
            // one: at a shopper's difficulty the generator's one thread
            // would be the bottleneck (see BENCHMARKS.md, intake).
            .env("HEARD_PROOF_OF_WORK_BASE_MAXNUMBER", BENCH_BASE_MAXNUMBER)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let (found, listening) = mpsc::channel();
        // Reads the listening line, then keeps draining stdout so the
        // collector never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|read| read > 0) {
                if let Some(url) = line.trim().strip_prefix(LISTENING_PREFIX) {
                    let _ = found.send(url.to_owned());
                    let _ = lines.read_to_end(&mut Vec::new());
                    return;
                }
                line.clear();
            }
        });
        let mut running = Running {
            child,
            url: String::new(),
            startup: Duration::ZERO,
        };
        match listening.recv_timeout(START_TIMEOUT) {
            Ok(url) => {
                running.startup = started.elapsed();
                running.url = url;
                Ok(running)
            }
            Err(_) => {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                bail!(
                    "the collector did not report listening within {START_TIMEOUT:?}; its log:\n{log}"
                )
            }
        }
    }
}

/// A started collector; killed if dropped without [`Running::stop`].
pub struct Running {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// From spawning the process to its listening line.
    pub startup: Duration,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's peak resident memory so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .context("reading /proc/PID/status (Linux only)")?;
        vm_hwm_bytes(&status).context("no VmHWM line in /proc/PID/status")
    }

    /// CPU time the collector has used so far: all of it, and the writer
    /// thread's share.
    pub fn cpu(&self) -> anyhow::Result<CpuTime> {
        let process = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .context("reading /proc/PID/stat (Linux only)")?;
        let mut writer = Duration::ZERO;
        for task in std::fs::read_dir(format!("/proc/{}/task", self.pid()))? {
            let stat = std::fs::read_to_string(task?.path().join("stat")).unwrap_or_default();
            if stat_comm(&stat) == Some(WRITER_THREAD) {
                writer += stat_cpu(&stat).unwrap_or_default();
            }
        }
        Ok(CpuTime {
            total: stat_cpu(&process).context("unreadable /proc/PID/stat")?,
            writer,
        })
    }

    /// Asks the collector to stop (SIGTERM: it finishes queued writes), and
    /// kills it if it has not stopped in time.
    /// Stops the collector with SIGTERM; how long it took to exit.
    pub fn stop(mut self) -> anyhow::Result<Duration> {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .is_ok_and(|status| status.success());
        let started = Instant::now();
        let deadline = started + STOP_TIMEOUT;
        while terminated && Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!("the collector did not stop within {STOP_TIMEOUT:?} and was killed")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The collector's writer thread, by the name it gives it.
const WRITER_THREAD: &str = "heard-writer";
/// `USER_HZ`: the unit of the times in /proc/PID/stat, 100 on every Linux
/// architecture this runs on.
const TICKS_PER_SECOND: u64 = 100;

/// CPU time (user + system) used by a process, and by its writer thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    pub total: Duration,
    pub writer: Duration,
}

/// The CPU time this process (the load generator) has used so far.
pub fn own_cpu() -> Duration {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| stat_cpu(&stat))
        .unwrap_or_default()
}

/// The CPU time the whole machine has been busy so far, all cores together:
/// every column of the `cpu` line of /proc/stat but idle and I/O wait (and
/// guest time, which `user` and `nice` already include).
pub fn machine_busy() -> Duration {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| busy_ticks(&stat))
        .map(|ticks| Duration::from_secs_f64(ticks as f64 / TICKS_PER_SECOND as f64))
        .unwrap_or_default()
}

/// The busy ticks of the first (all cores) line of /proc/stat.
fn busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let busy = [0, 1, 2, 5, 6, 7];
    Some(busy.iter().filter_map(|&column| ticks.get(column)).sum())
}

/// The thread or process name in a /proc stat line: `PID (NAME) STATE …`.
fn stat_comm(stat: &str) -> Option<&str> {
    let start = stat.find('(')?;
    let end = stat.rfind(')')?;
    stat.get(start + 1..end)
}

/// utime + stime from a /proc stat line (fields 14 and 15; the name may
/// hold spaces, so count from the closing parenthesis).
fn stat_cpu(stat: &str) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis(
        (user + system) * 1000 / TICKS_PER_SECOND,
    ))
}

/// `VmHWM:   12345 kB` from the text of `/proc/PID/status`, in bytes.
pub fn vm_hwm_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_memory_is_read_from_proc_status() {
        let status =
            "Name:\tcollector\nVmPeak:\t  900000 kB\nVmHWM:\t   41236 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(vm_hwm_bytes(status), Some(41236 * 1024));
        assert_eq!(vm_hwm_bytes("Name:\tx\n"), None);
    }

    #[test]
    fn the_machine_is_busy_in_every_column_but_idle_and_io_wait() {
        let stat = "cpu  600 40 80 5000 90 3 7 2 11 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(busy_ticks(stat), Some(600 + 40 + 80 + 3 + 7 + 2));
        assert_eq!(busy_ticks("intr 1 2 3\n"), None);
        assert!(
            machine_busy() > Duration::ZERO,
            "this machine has been busy"
        );
    }

    #[test]
    fn cpu_time_is_read_from_proc_stat() {
        let stat =
            "4242 (heard writer) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 1 1";
        assert_eq!(stat_comm(stat), Some("heard writer"));
        assert_eq!(stat_cpu(stat), Some(Duration::from_secs(3)));
    }
}
