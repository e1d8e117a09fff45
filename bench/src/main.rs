//! `heard-bench`: intake and footprint figures for BENCHMARKS.md, measured on
//! this machine in one run. `cargo xtask bench` builds the collector and this
//! binary in release, runs it, and splices its report into BENCHMARKS.md.
//!
//! ```text
//! heard-bench --collector target/release/collector --report target/bench/report.md [--seconds 5]
//!             [--inbox-store DIR] [--inbox-complaints 1000000] [--only inbox|widget|memory|intake]
//!             [--www DIR] [--widget-dir DIR] [--chromium PATH] [--chromedriver PATH]
//! ```
//!
//! Everything is bounded: a fixed list of runs of fixed length, a timeout on
//! every request, loopback only, a temporary database removed at the end.

// A command-line program: its progress and summary on stdout are its interface.
#![allow(clippy::print_stdout)]

mod bodies;
mod browser;
mod chromedriver;
mod collector;
mod demo_shop;
mod footprint_1m;
mod inbox;
mod load;
mod raw;
mod report;
mod spawned;
mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::body::Bytes;

use crate::bodies::Random;
use crate::collector::{Running, Setup};
use crate::load::Target;
use crate::report::{Figures, Machine};
use crate::stats::{CpuUse, RunSummary};

/// Closed-loop connection counts, in the order they run.
const CONCURRENCY: &[usize] = &[1, 8, 32, 128, 256];
/// The open-loop rate the p99 target is stated at.
const OPEN_LOOP_RATE: u64 = 5_000;
/// Connections the open-loop run may spread its requests over.
const OPEN_LOOP_CONNECTIONS: usize = 256;
/// Distinct bodies; requests reuse them round-robin with fresh keys.
const BODIES: usize = 2_000;
/// The writer's default batch (settings `max_batch`), used by the raw loop.
const MAX_BATCH: usize = 512;
/// Starts timed for the start-up figure (the median is reported).
const STARTS: usize = 5;
/// The raw loop stops here even if time is left.
const RAW_MAX_ROWS: u64 = 2_000_000;
const SITE_KEY: &str = "bench";
/// Single-row commits timed for the fsync figure.
const COMMITS: usize = 200;

struct Options {
    collector: PathBuf,
    report: PathBuf,
    seconds: u64,
    /// Where the generated inbox store is kept between runs.
    inbox_store: PathBuf,
    /// Complaints in the generated store; 0 skips the inbox section.
    inbox_complaints: u64,
    /// Only the inbox section (for working on it; the report is not written).
    only_inbox: bool,
    /// Only the widget-speed section (likewise).
    only_widget: bool,
    /// Only the collector's memory on the kept million-complaint store.
    only_memory: bool,
    /// Only the intake section and the footprint it measures (the report
    /// is written, without the inbox, memory at 1M and widget sections).
    only_intake: bool,
    /// What the widget-speed section runs: the loader and demo shop, the
    /// built widget, the browser.
    www: PathBuf,
    widget_dir: PathBuf,
    chromium: PathBuf,
    chromedriver: PathBuf,
}

impl Options {
    fn browser_paths(&self) -> browser::Paths {
        browser::Paths {
            collector: self.collector.clone(),
            www: self.www.clone(),
            widget: self.widget_dir.clone(),
            chromium: self.chromium.clone(),
            chromedriver: self.chromedriver.clone(),
        }
    }
}

fn main() -> anyhow::Result<()> {
    let options = parse_options(std::env::args().skip(1))?;
    if options.only_inbox {
        let figures = inbox::measure(&options.inbox_store, options.inbox_complaints)?;
        println!("{}", report::render_inbox(&figures));
        return Ok(());
    }
    if options.only_memory {
        let memory = footprint_1m::measure(&options.collector, &options.inbox_store)?;
        println!("{}", report::render_memory_1m(&memory));
        return Ok(());
    }
    if options.only_widget {
        let speed = browser::measure(&options.browser_paths())?;
        println!("{}", report::render_widget_speed(&speed));
        return Ok(());
    }
    let figures = measure(&options)?;
    let markdown = report::render(&figures);
    if let Some(parent) = options.report.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&options.report, &markdown)
        .with_context(|| format!("writing {}", options.report.display()))?;
    println!("{markdown}");
    Ok(())
}

fn parse_options(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let mut collector = None;
    let mut report = None;
    let mut seconds = 5;
    let mut inbox_store = PathBuf::from("target/bench/inbox-store");
    let mut inbox_complaints = 1_000_000;
    let mut only_inbox = false;
    let mut only_widget = false;
    let mut only_memory = false;
    let mut only_intake = false;
    let mut www = PathBuf::from("www");
    let mut widget_dir = PathBuf::from("target/widget");
    let mut chromium = PathBuf::from("/usr/bin/chromium");
    let mut chromedriver = PathBuf::from("/usr/bin/chromedriver");
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--collector" => collector = Some(PathBuf::from(value()?)),
            "--report" => report = Some(PathBuf::from(value()?)),
            "--seconds" => {
                seconds = value()?.parse().context("--seconds takes a whole number")?;
                if !(1..=60).contains(&seconds) {
                    bail!("--seconds must be between 1 and 60");
                }
            }
            "--inbox-store" => inbox_store = PathBuf::from(value()?),
            "--inbox-complaints" => {
                inbox_complaints = value()?
                    .parse()
                    .context("--inbox-complaints takes a whole number")?;
            }
            "--www" => www = PathBuf::from(value()?),
            "--widget-dir" => widget_dir = PathBuf::from(value()?),
            "--chromium" => chromium = PathBuf::from(value()?),
            "--chromedriver" => chromedriver = PathBuf::from(value()?),
            "--only" => match value()?.as_str() {
                "inbox" => only_inbox = true,
                "widget" => only_widget = true,
                "memory" => only_memory = true,
                "intake" => only_intake = true,
                _ => bail!("--only takes `inbox`, `widget`, `memory` or `intake`"),
            },
            _ => bail!(
                "unknown argument {arg:?}\nusage: heard-bench --collector PATH --report PATH [--seconds N] [--inbox-store DIR] [--inbox-complaints N] [--only inbox|widget|memory|intake] [--www DIR] [--widget-dir DIR] [--chromium PATH] [--chromedriver PATH]"
            ),
        }
    }
    if only_inbox || only_widget || only_memory {
        return Ok(Options {
            collector: collector.unwrap_or_else(|| PathBuf::from("target/release/collector")),
            report: report.unwrap_or_default(),
            seconds,
            inbox_store,
            inbox_complaints: inbox_complaints.max(1),
            only_inbox,
            only_widget,
            only_memory,
            only_intake: false,
            www,
            widget_dir,
            chromium,
            chromedriver,
        });
    }
    Ok(Options {
        collector: collector.context("--collector PATH is required")?,
        report: report.context("--report PATH is required")?,
        seconds,
        inbox_store,
        inbox_complaints: if only_intake { 0 } else { inbox_complaints },
        only_inbox,
        only_widget,
        only_memory,
        only_intake,
        www,
        widget_dir,
        chromium,
        chromedriver,
    })
}

fn measure(options: &Options) -> anyhow::Result<Figures> {
    let run_length = Duration::from_secs(options.seconds);
    let machine = Machine::detect();
    println!("bench: {machine}");
    let directory = tempfile::Builder::new().prefix("heard-bench-").tempdir()?;
    let setup = Setup {
        binary: options
            .collector
            .canonicalize()
            .with_context(|| format!("no collector binary at {}", options.collector.display()))?,
        database: directory.path().join("intake.sqlite3"),
        directory: directory.path().to_owned(),
    };
    let binary_bytes = std::fs::metadata(&setup.binary)?.len();

    let mut random = Random::new(0x48_4541_5244);
    let submissions: Vec<_> = (0..BODIES)
        .map(|_| bodies::submission(&mut random))
        .collect();
    let bodies: Vec<Bytes> = submissions
        .iter()
        .map(|submission| serde_json::to_vec(submission).map(Bytes::from))
        .collect::<Result<_, _>>()?;
    let mean_body = bodies.iter().map(Bytes::len).sum::<usize>() / bodies.len();

    setup.add_site(SITE_KEY)?;

    let mut startups = Vec::new();
    for _ in 0..STARTS {
        let running = setup.start()?;
        startups.push(running.startup);
        running.stop()?;
    }
    startups.sort_unstable();
    let startup = stats::percentile(&startups, 50.0).unwrap_or_default();
    println!(
        "bench: start-up to listening, median of {STARTS}: {}",
        stats::millis(startup)
    );

    let running = setup.start()?;
    let address: SocketAddr = running
        .url
        .trim_start_matches("http://")
        .parse()
        .with_context(|| format!("unexpected listening address {}", running.url))?;
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let target = Arc::new(Target::new(
        address,
        format!("/api/v1/sites/{SITE_KEY}/complaints"),
        bodies,
        format!("bench-{nonce:x}"),
    ));
    // One thread for the load generator: the collector gets the rest of the
    // machine, and the generator's own cost stays bounded and visible.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut closed = Vec::new();
    for &connections in CONCURRENCY {
        let summary = watched(&running, || {
            runtime.block_on(load::closed_loop(
                Arc::clone(&target),
                connections,
                run_length,
            ))
        })?;
        println!(
            "bench: closed loop, {connections:>3} connections: {:>8.0}/s acknowledged, p50 {}, p99 {}, max {}, {} errors; cores: collector {:.2} (writer {:.2}), generator {:.2}",
            summary.per_second(),
            stats::millis(summary.p50),
            stats::millis(summary.p99),
            stats::millis(summary.max),
            summary.errors,
            summary.cpu.collector,
            summary.cpu.writer,
            summary.cpu.generator
        );
        closed.push((connections, summary));
    }
    let open = watched(&running, || {
        runtime.block_on(load::open_loop(
            Arc::clone(&target),
            OPEN_LOOP_RATE,
            run_length,
            OPEN_LOOP_CONNECTIONS,
        ))
    })?;
    println!(
        "bench: open loop at {OPEN_LOOP_RATE}/s: {:.0}/s acknowledged, p50 {}, p99 {}, max {}, {} errors; cores: collector {:.2} (writer {:.2}), generator {:.2}",
        open.per_second(),
        stats::millis(open.p50),
        stats::millis(open.p99),
        stats::millis(open.max),
        open.errors,
        open.cpu.collector,
        open.cpu.writer,
        open.cpu.generator
    );
    // Search follows intake through the indexer thread: how far behind was
    // it when the flood stopped, and how long until it caught up?
    let lag = follow_up_lag(&setup.database)?;
    println!(
        "bench: search index at the end of the runs: {} complaints behind, caught up {} later",
        lag.index_backlog,
        stats::millis(lag.index_catch_up)
    );
    println!(
        "bench: cluster sweep at the end of the runs: {} complaints behind, caught up {} later",
        lag.sweep_backlog,
        stats::millis(lag.sweep_catch_up)
    );
    let peak_rss = running.peak_rss()?;
    let stop_after_load = running.stop()?;
    println!(
        "bench: graceful stop after the runs: {}",
        stats::millis(stop_after_load)
    );
    drop(runtime);

    // Every 201 must be a row on disk: count them after the collector stopped.
    let acknowledged: u64 =
        closed.iter().map(|(_, run)| run.acknowledged).sum::<u64>() + open.acknowledged;
    let stored: u64 = rusqlite::Connection::open(&setup.database)?.query_row(
        "SELECT count(*) FROM complaints",
        [],
        |row| row.get(0),
    )?;
    if stored < acknowledged {
        bail!("{acknowledged} complaints were acknowledged but only {stored} are stored");
    }

    let commits = raw::commit_latencies(&directory.path().join("commits.sqlite3"), COMMITS)?;
    let commit_median = stats::percentile(&commits, 50.0).unwrap_or_default();
    let commit_p99 = stats::percentile(&commits, 99.0).unwrap_or_default();
    println!(
        "bench: one durable commit: median {}, p99 {}",
        stats::millis(commit_median),
        stats::millis(commit_p99)
    );

    println!("bench: raw SQLite loop, batches of {MAX_BATCH}…");
    let raw_started = Instant::now();
    let raw = raw::insert_loop(
        &directory.path().join("raw.sqlite3"),
        &submissions,
        MAX_BATCH,
        run_length,
        RAW_MAX_ROWS,
        false,
    )?
    .context("the raw loop measured nothing")?;
    println!(
        "bench: raw SQLite: {:.0} rows/s ({} rows in {} transactions, {:.1} s)",
        stats::per_second(raw.rows, raw.elapsed),
        raw.rows,
        raw.transactions,
        raw_started.elapsed().as_secs_f64()
    );

    // The same loop without the full-text insert in the inbox trigger: what
    // the search index costs each write.
    let raw_without_search = raw::insert_loop(
        &directory.path().join("raw-without-search.sqlite3"),
        &submissions,
        MAX_BATCH,
        run_length,
        RAW_MAX_ROWS,
        true,
    )?;
    if let Some(without) = &raw_without_search {
        println!(
            "bench: raw SQLite without the full-text insert: {:.0} rows/s",
            stats::per_second(without.rows, without.elapsed)
        );
    }

    // Last: generating a million complaints would disturb the intake runs.
    let inbox = if options.inbox_complaints > 0 {
        Some(inbox::measure(
            &options.inbox_store,
            options.inbox_complaints,
        )?)
    } else {
        None
    };
    // The collector's memory on a copy of that store, under load.
    let memory_1m = if options.inbox_complaints > 0 {
        Some(footprint_1m::measure(&setup.binary, &options.inbox_store)?)
    } else {
        None
    };
    let widget_speed = if options.only_intake {
        None
    } else {
        Some(browser::measure(&options.browser_paths())?)
    };

    Ok(Figures {
        inbox,
        memory_1m,
        widget_speed,
        index_backlog: lag.index_backlog,
        index_catch_up: lag.index_catch_up,
        sweep_backlog: lag.sweep_backlog,
        sweep_catch_up: lag.sweep_catch_up,
        stop_after_load,
        machine,
        seconds: options.seconds,
        bodies: BODIES,
        mean_body,
        closed,
        open_rate: OPEN_LOOP_RATE,
        open_connections: OPEN_LOOP_CONNECTIONS,
        open,
        acknowledged,
        stored,
        raw,
        raw_without_search,
        commit_median,
        commit_p99,
        commits: COMMITS,
        max_batch: MAX_BATCH,
        binary_bytes,
        startup,
        startups: STARTS,
        peak_rss,
    })
}

/// Runs one load run and adds how many cores the collector, its writer
/// thread and the load generator kept busy meanwhile.
fn watched(running: &Running, run: impl FnOnce() -> RunSummary) -> anyhow::Result<RunSummary> {
    let machine_before = collector::machine_busy();
    let collector_before = running.cpu()?;
    let generator_before = collector::own_cpu();
    let mut summary = run();
    let collector_after = running.cpu()?;
    let generator_after = collector::own_cpu();
    let machine_after = collector::machine_busy();
    let seconds = summary.elapsed.as_secs_f64().max(f64::EPSILON);
    let cores =
        |before: Duration, after: Duration| after.saturating_sub(before).as_secs_f64() / seconds;
    let collector = cores(collector_before.total, collector_after.total);
    let generator = cores(generator_before, generator_after);
    summary.cpu = CpuUse {
        collector,
        writer: cores(collector_before.writer, collector_after.writer),
        generator,
        others: (cores(machine_before, machine_after) - collector - generator).max(0.0),
    };
    Ok(summary)
}

/// How far the work that follows intake was behind when the runs stopped —
/// the search index and the cluster sweep, both catching up after each
/// commit on background threads — and how long each then took to catch up.
struct Lag {
    index_backlog: u64,
    index_catch_up: Duration,
    sweep_backlog: u64,
    sweep_catch_up: Duration,
}

fn follow_up_lag(database: &std::path::Path) -> anyhow::Result<Lag> {
    let mut index_path = database.as_os_str().to_owned();
    index_path.push("-search");
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let index = rusqlite::Connection::open_with_flags(&index_path, flags)
        .with_context(|| format!("opening the search index {index_path:?}"))?;
    let source = rusqlite::Connection::open_with_flags(database, flags)?;
    let stored: i64 =
        source.query_row("SELECT coalesce(max(id), 0) FROM complaints", [], |row| {
            row.get(0)
        })?;
    let indexed = || -> anyhow::Result<i64> {
        Ok(index.query_row(
            "SELECT high FROM marks WHERE what = 'complaint'",
            [],
            |row| row.get(0),
        )?)
    };
    let swept = || -> anyhow::Result<i64> {
        Ok(source.query_row(
            "SELECT coalesce(max(value), 0) FROM sweep_cursors WHERE name = 'clusters'",
            [],
            |row| row.get(0),
        )?)
    };
    let index_backlog = u64::try_from(stored - indexed()?).unwrap_or(0);
    let sweep_backlog = u64::try_from(stored - swept()?).unwrap_or(0);
    let started = Instant::now();
    let (mut index_catch_up, mut sweep_catch_up) = (None, None);
    while index_catch_up.is_none() || sweep_catch_up.is_none() {
        if started.elapsed() > Duration::from_secs(300) {
            bail!("the search index or the cluster sweep did not catch up within five minutes");
        }
        if index_catch_up.is_none() && indexed()? >= stored {
            index_catch_up = Some(started.elapsed());
        }
        if sweep_catch_up.is_none() && swept()? >= stored {
            sweep_catch_up = Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(Lag {
        index_backlog,
        index_catch_up: index_catch_up.unwrap_or_default(),
        sweep_backlog,
        sweep_catch_up: sweep_catch_up.unwrap_or_default(),
    })
}
