//! The "Intake", "Inbox at scale", "Footprint" and "Widget speed" sections
//! of BENCHMARKS.md, as Markdown.

mod memory_1m;
mod widget_speed;

pub use widget_speed::render_widget_speed;

use std::fmt;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::browser::WidgetSpeed;
use crate::footprint_1m::Memory1m;
use crate::inbox::{InboxFigures, QueryKind};
use crate::raw::RawSummary;
use crate::stats::{RunSummary, millis, per_second};

/// The command that reproduces every figure.
pub const COMMAND: &str = "cargo xtask bench";

/// Targets from issue 8.
const TARGET_PER_SECOND: f64 = 10_000.0;
const TARGET_P99: Duration = Duration::from_millis(50);
const TARGET_RATIO: f64 = 0.3;

/// What the report says about the machine it ran on.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_bytes: u64,
    pub date: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let days = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            / 86_400;
        Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu: proc_field(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".to_owned()),
            memory_bytes: proc_field(&meminfo, "MemTotal")
                .and_then(|total| total.trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kilobytes| kilobytes * 1024),
            date: civil_date(days),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} cores ({}), {:.1} GiB memory, {}",
            self.cores,
            self.cpu,
            self.memory_bytes as f64 / (1u64 << 30) as f64,
            self.date
        )
    }
}

/// Everything one run measured.
pub struct Figures {
    pub machine: Machine,
    pub seconds: u64,
    /// Distinct request bodies, and their mean size in bytes.
    pub bodies: usize,
    pub mean_body: usize,
    pub closed: Vec<(usize, RunSummary)>,
    pub open_rate: u64,
    pub open_connections: usize,
    pub open: RunSummary,
    pub acknowledged: u64,
    pub stored: u64,
    pub raw: RawSummary,
    /// The raw loop with the inbox trigger's full-text insert removed, when
    /// the schema has one.
    pub raw_without_search: Option<RawSummary>,
    pub commit_median: Duration,
    pub commit_p99: Duration,
    pub commits: usize,
    pub max_batch: usize,
    pub binary_bytes: u64,
    pub startup: Duration,
    pub startups: usize,
    pub peak_rss: u64,
    /// Complaints acknowledged but not yet searchable when the last run
    /// ended, and how long the indexer then took to index them.
    pub index_backlog: u64,
    pub index_catch_up: Duration,
    /// Complaints the cluster sweep had not compared yet when the runs
    /// stopped, and how long it took to compare them.
    pub sweep_backlog: u64,
    pub sweep_catch_up: Duration,
    /// SIGTERM to exit, after the intake runs.
    pub stop_after_load: Duration,
    /// The inbox over a generated store, unless skipped.
    pub inbox: Option<InboxFigures>,
    /// The collector on a copy of that store under load, unless skipped.
    pub memory_1m: Option<Memory1m>,
    /// The widget in headless Chromium.
    pub widget_speed: Option<WidgetSpeed>,
}

/// Both sections, each starting with its `## ` heading.
pub fn render(figures: &Figures) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_intake(&mut out, figures);
    if let Some(inbox) = &figures.inbox {
        out.push_str(&render_inbox(inbox));
    }
    let _ = write_footprint(&mut out, figures);
    if let Some(speed) = &figures.widget_speed {
        out.push_str(&render_widget_speed(speed));
    }
    out
}

/// The million-complaint rows and their notes alone.
pub fn render_memory_1m(memory: &Memory1m) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = memory_1m::write_rows(&mut out, memory);
    out.push('\n');
    let _ = memory_1m::write_notes(&mut out, memory);
    out
}

/// The "Inbox at scale" section alone.
pub fn render_inbox(inbox: &InboxFigures) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_inbox(&mut out, inbox);
    out
}

fn write_inbox(out: &mut String, inbox: &InboxFigures) -> fmt::Result {
    writeln!(out, "## Inbox at scale")?;
    writeln!(out)?;
    paragraph(
        out,
        &format!(
            "A generated store of {} complaints ({} timeline events) in the \
             collector's own schema: four merchants with one to three sites \
             each, descriptions of one to five sentences (mean {} characters) \
             in English, Chinese and Spanish, order numbers in two of five, \
             every status (most complaints older than a month finished), \
             severities, moods, twelve agents a merchant, response and \
             resolution times, replies on two in five. Every query runs for \
             the largest merchant ({} complaints) through the `Store` \
             functions the inbox's HTTP handlers call (`Store::inbox`, \
             `Store::inbox_complaint`: a reader connection from the pool on \
             the blocking thread pool), a page of {} rows, repeated; the \
             database is warm in the OS page cache, as on a server that \
             serves the inbox all day. The insights rows time the dashboard's \
             figures (`Store::insights_*`, as the insights API calls them) \
             over the dashboard's default 28 days and the volume over a \
             year; their 250 ms bar is ours (the insights issue asks for \
             \"fast\" without a number).",
            group_digits(inbox.complaints),
            group_digits(inbox.events),
            inbox.mean_description_chars,
            group_digits(inbox.measured_merchant),
            inbox.queries.first().map_or(0, |query| query.rows),
        ),
    )?;
    writeln!(
        out,
        "| query | runs | p50 | p95 | rows | target (p95) | state |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---|")?;
    for query in &inbox.queries {
        let target = query.kind.target();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | ≤ {} | {} |",
            query.name,
            query.runs,
            millis(query.p50),
            millis(query.p95),
            query.rows,
            millis(target),
            verdict_at_most(query.p95, target)
        )?;
    }
    writeln!(out)?;
    let searches = inbox
        .queries
        .iter()
        .filter(|query| query.kind == QueryKind::Search)
        .count();
    let generated = match (inbox.generated_in, inbox.indexed_in) {
        (Some(generated), Some(indexed)) => format!(
            "Generating the database took {:.1} s (bulk inserts in large \
             transactions through the schema's triggers, durability off); the \
             indexer thread then built the search index from scratch in {:.1} s \
             ({} complaints/s), as it would for an existing database on its \
             first start.",
            generated.as_secs_f64(),
            indexed.as_secs_f64(),
            group_digits(per_second(inbox.complaints, indexed).round() as u64)
        ),
        _ => "The store was generated by an earlier run with the same generator \
              and reused."
            .to_owned(),
    };
    paragraph(
        out,
        &format!(
            "{generated} The database file is {:.0} MiB, the search index \
             (`<database>-search`) {:.0} MiB. Rows for the {searches} searches \
             are the first page of matches. Resident memory of the bench \
             process with this store open and warm after the queries (the \
             store's readers and indexer, SQLite's page caches, no HTTP): \
             {:.1} MiB — the database itself stays in the OS page cache, \
             not in the process.",
            inbox.database_bytes as f64 / (1u64 << 20) as f64,
            inbox.index_bytes as f64 / (1u64 << 20) as f64,
            inbox.store_rss as f64 / (1u64 << 20) as f64,
        ),
    )
}

fn write_intake(out: &mut String, figures: &Figures) -> fmt::Result {
    let machine = &figures.machine;
    let (best_connections, best) = figures
        .closed
        .iter()
        .max_by(|left, right| left.1.per_second().total_cmp(&right.1.per_second()))
        .map(|(connections, run)| (*connections, run.clone()))
        .unwrap_or_default();
    let raw_per_second = per_second(figures.raw.rows, figures.raw.elapsed);
    let ratio = if raw_per_second > 0.0 {
        best.per_second() / raw_per_second
    } else {
        0.0
    };

    writeln!(out, "## Intake")?;
    writeln!(out)?;
    paragraph(
        out,
        &format!(
            "Complaints the real `collector serve` (release build) acknowledged with \
         `201` — each committed with `synchronous=FULL` before the answer — when \
         driven over loopback HTTP/1.1 by `bench/` (keep-alive connections, one \
         `Idempotency-Key` per request, so every request is a new complaint). \
         Bodies are {} distinct `ComplaintSubmission`s, mean {} bytes of JSON: \
         every category of the default taxonomy, descriptions of 100–1500 \
         characters in English, Chinese and Spanish, outcomes, severity, mood, \
         contact details with consent on about a third. Each run lasts {} s on \
         the same collector and database, which grows as the runs go.",
            group_digits(figures.bodies as u64),
            group_digits(figures.mean_body as u64),
            figures.seconds
        ),
    )?;
    paragraph(
        out,
        &format!(
            "Every complaint carries a solved proof-of-work challenge: each connection \
         fetches a challenge (`GET …/challenge`) and solves it before its next \
         complaint is due, as the widget does while the shopper writes, so the \
         challenge request, the check of the solution and the spent proof written \
         with the complaint are the collector's measured work, and the latency is \
         the complaint's own. The bench collector runs with \
         `proof_of_work_base_maxnumber = {}` instead of the default 100 000: the \
         collector's share does not depend on the difficulty, the solver's does, \
         and at a shopper's difficulty (50 000 hashes per complaint) the \
         generator's one thread would be what is measured. A real flood pays that \
         work on the flooder's machines.",
            crate::collector::BENCH_BASE_MAXNUMBER
        ),
    )?;
    writeln!(
        out,
        "| load | acknowledged/s | p50 | p99 | max | errors | cores busy: collector (its writer) / generator / rest of the machine |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|")?;
    for (connections, run) in &figures.closed {
        writeln!(
            out,
            "| closed loop, {connections} connection{} | {} | {} | {} | {} | {} | {} |",
            if *connections == 1 { "" } else { "s" },
            group_digits(run.per_second().round() as u64),
            millis(run.p50),
            millis(run.p99),
            millis(run.max),
            run.errors,
            cores(run)
        )?;
    }
    let open = &figures.open;
    writeln!(
        out,
        "| open loop, {} /s offered over ≤ {} connections | {} | {} | {} | {} | {} | {} |",
        group_digits(figures.open_rate),
        figures.open_connections,
        group_digits(open.per_second().round() as u64),
        millis(open.p50),
        millis(open.p99),
        millis(open.max),
        open.errors,
        cores(open)
    )?;
    writeln!(
        out,
        "| raw SQLite: bare rusqlite loop, {} rows a transaction | {} rows/s | | | | | 1 thread, alone |",
        figures.max_batch,
        group_digits(raw_per_second.round() as u64)
    )?;
    if let Some(without) = &figures.raw_without_search {
        writeln!(
            out,
            "| raw SQLite, the same without the full-text (trigram) insert, for comparison | {} rows/s | | | | | 1 thread |",
            group_digits(per_second(without.rows, without.elapsed).round() as u64)
        )?;
    }
    writeln!(
        out,
        "| one durable commit of one row (fsync), {} in a row | | {} | {} | | | 1 thread |",
        figures.commits,
        millis(figures.commit_median),
        millis(figures.commit_p99)
    )?;
    writeln!(out)?;
    paragraph(
        out,
        &format!(
            "Open-loop latency counts from when each request was due, not when it \
         was sent, so a backlog in the generator is charged to the collector \
         too; a request still unsent at three times the run length is given \
         up and counted as an error. After the runs the database held {} complaints for {} \
         acknowledgements (every `201` is on disk). The raw loop wrote {} rows \
         in {} transactions into a fresh database built from the collector's \
         own migration files (same tables and indexes, WAL, `synchronous=FULL`), \
         each row a complaint plus its idempotency record and its spent proof \
         of work, as intake writes them — without HTTP, JSON, validation, hashing, savepoints or reading \
         the row back.",
            group_digits(figures.stored),
            group_digits(figures.acknowledged),
            group_digits(figures.raw.rows),
            figures.raw.transactions
        ),
    )?;
    paragraph(
        out,
        &format!(
            "Search and clusters follow intake: when the last run stopped, {} \
             acknowledged complaints were not yet in the search index, and \
             the indexer had indexed them {} later; {} had not yet been \
             compared for clusters, and the sweep had compared them {} \
             later. Both run in the idle scheduling class (on the cores \
             intake leaves idle), so a flood is acknowledged first. The complaints were listed in the inbox \
             all along; only search and cluster alerts saw them late.",
            group_digits(figures.index_backlog),
            millis(figures.index_catch_up),
            group_digits(figures.sweep_backlog),
            millis(figures.sweep_catch_up)
        ),
    )?;
    writeln!(out, "| target (issue 8) | measured | state |")?;
    writeln!(out, "|---|---:|---|")?;
    writeln!(
        out,
        "| ≥ 10 000 durable complaints/s | {}/s ({best_connections} connections) | {} |",
        group_digits(best.per_second().round() as u64),
        verdict_at_least(best.per_second(), TARGET_PER_SECOND)
    )?;
    let p99_state = if open.errors > 0 || open.per_second() < 0.95 * figures.open_rate as f64 {
        format!(
            "**missed**: only {}/s of {}/s were acknowledged ({} errors)",
            group_digits(open.per_second().round() as u64),
            group_digits(figures.open_rate),
            open.errors
        )
    } else {
        verdict_at_most(open.p99, TARGET_P99)
    };
    writeln!(
        out,
        "| p99 ≤ 50 ms at {} /s | {} | {} |",
        group_digits(figures.open_rate),
        millis(open.p99),
        p99_state
    )?;
    writeln!(
        out,
        "| ≥ 0.3 × the raw SQLite limit | {ratio:.2} × ({} of {}/s) | {} |",
        group_digits(best.per_second().round() as u64),
        group_digits(raw_per_second.round() as u64),
        verdict_at_least(ratio, TARGET_RATIO)
    )?;
    writeln!(out)?;
    paragraph(
        out,
        &format!(
            "What bounds each figure. With one connection every complaint waits \
         for its own commit: one fsync (the \"one durable commit\" row) plus \
         the writer's work for one row and the HTTP round trip. With more \
         connections the single writer thread commits everything queued (up \
         to {} jobs) in one transaction and one fsync, so the fsync is shared. \
         The writer no longer indexes text for search: the indexer thread \
         does, in its own file, after each commit, and the \"cores busy\" \
         column shows the writer taking a minority of the collector's CPU; \
         the rest is the request side (HTTP, JSON, validation and the domain \
         work done per complaint), the indexer and the cluster comparisons, \
         which share the two cores with the load generator and with whatever \
         else the machine runs (the last figure of the column: on a shared \
         machine every figure above falls with it). The raw loop (the same writes on one \
         thread, {} rows a transaction, nothing else running) shows the \
         writer's SQLite ceiling. Past the knee, more connections only add \
         queueing, which shows in p99 and max; an open-loop rate above the \
         closed-loop peak cannot be served, so its backlog, and its p99, grow \
         for the whole run. The load generator runs on one thread of the same \
         two cores (its share is in the column too). See \"Intake: where \
         the time goes\" below for a profile.",
            figures.max_batch, figures.max_batch
        ),
    )?;
    paragraph(
        out,
        &format!(
            "Measured on {} by `{COMMAND}`: {} cores ({}), {:.1} GiB memory; the \
         temporary databases live in the system temp directory.",
            machine.date,
            machine.cores,
            machine.cpu,
            machine.memory_bytes as f64 / (1u64 << 30) as f64
        ),
    )
}

fn write_footprint(out: &mut String, figures: &Figures) -> fmt::Result {
    writeln!(out, "## Footprint")?;
    writeln!(out)?;
    writeln!(out, "| what | measured | bounded by |")?;
    writeln!(out, "|---|---:|---|")?;
    writeln!(
        out,
        "| release binary (`target/release/collector`) | {} B ({:.1} MiB) | the code linked in (axum, SQLite bundled, image codecs, Argon2); `profile.release`, thin LTO, not stripped |",
        group_digits(figures.binary_bytes),
        figures.binary_bytes as f64 / (1u64 << 20) as f64
    )?;
    writeln!(
        out,
        "| start-up, process spawn to the listening line (median of {}) | {} | opening the database, migrations check, binding the port: no network, no warm-up |",
        figures.startups,
        millis(figures.startup)
    )?;
    writeln!(
        out,
        "| peak memory (`VmHWM`) over every intake run | {:.1} MiB | per-connection buffers at 256 connections, the write queue, SQLite's page caches (writer and readers) |",
        figures.peak_rss as f64 / (1u64 << 20) as f64
    )?;
    writeln!(
        out,
        "| graceful stop after the intake runs (SIGTERM to exit) | {} | finishing queued writes and the background workers' current sweep before exiting |",
        millis(figures.stop_after_load)
    )?;
    if let Some(memory) = &figures.memory_1m {
        memory_1m::write_rows(out, memory)?;
    }
    writeln!(out)?;
    if let Some(memory) = &figures.memory_1m {
        memory_1m::write_notes(out, memory)?;
    }
    paragraph(
        out,
        &format!(
            "Same run as \"Intake\": measured on {} by `{COMMAND}`.",
            figures.machine.date
        ),
    )
}

/// `text` as a Markdown paragraph wrapped at 76 columns, then a blank line.
fn paragraph(out: &mut String, text: &str) -> fmt::Result {
    let mut column = 0;
    for word in text.split_whitespace() {
        let width = word.chars().count();
        if column > 0 && column + 1 + width > 76 {
            out.push('\n');
            column = 0;
        } else if column > 0 {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += width;
    }
    writeln!(out)?;
    writeln!(out)
}

/// "1.62 (0.48) / 0.35 / 0.02": average cores busy during a run.
fn cores(run: &RunSummary) -> String {
    format!(
        "{:.2} ({:.2}) / {:.2} / {:.2}",
        run.cpu.collector, run.cpu.writer, run.cpu.generator, run.cpu.others
    )
}

fn verdict_at_least(measured: f64, target: f64) -> String {
    if measured >= target {
        format!("met, {:.0}% above", (measured / target - 1.0) * 100.0)
    } else {
        format!(
            "**missed**: {:.0}% of the target",
            measured / target * 100.0
        )
    }
}

fn verdict_at_most(measured: Duration, target: Duration) -> String {
    if measured <= target {
        format!("met, {} to spare", millis(target - measured))
    } else {
        format!("**missed**, {} over", millis(measured - target))
    }
}

/// `7773936` as `7 773 936`, as BENCHMARKS.md writes large numbers.
pub fn group_digits(bytes: u64) -> String {
    let digits = bytes.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(digit);
    }
    grouped
}

/// The value of `name: value` in a /proc text file.
fn proc_field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().to_owned())
}

/// `YYYY-MM-DD` (UTC) for a count of days since 1970-01-01, by counting in
/// 400-year eras of the proleptic Gregorian calendar.
pub fn civil_date(days_since_epoch: u64) -> String {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a year.
    let days = days_since_epoch + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_counted_from_the_epoch() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(59), "1970-03-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(20_780), "2026-11-23");
    }

    #[test]
    fn large_numbers_are_grouped_by_thousands() {
        assert_eq!(group_digits(7_773_936), "7 773 936");
        assert_eq!(group_digits(512), "512");
        assert_eq!(group_digits(1_000), "1 000");
    }

    #[test]
    fn verdicts_say_by_how_much() {
        assert_eq!(verdict_at_least(12_000.0, 10_000.0), "met, 20% above");
        assert_eq!(
            verdict_at_most(Duration::from_millis(20), Duration::from_millis(50)),
            "met, 30.0 ms to spare"
        );
        assert_eq!(verdict_at_least(0.15, 0.3), "**missed**: 50% of the target");
    }

    #[test]
    fn paragraphs_wrap_between_words() {
        let mut out = String::new();
        paragraph(&mut out, &"word ".repeat(20)).unwrap();
        assert_eq!(
            out,
            format!("{}\n{}\n\n", ["word"; 15].join(" "), ["word"; 5].join(" "))
        );
    }

    #[test]
    fn proc_fields_are_found_by_name() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\n";
        assert_eq!(
            proc_field(cpuinfo, "model name").as_deref(),
            Some("Example CPU @ 2.0GHz")
        );
    }
}
