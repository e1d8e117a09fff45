//! The inbox at scale: a store of a million complaints, generated in bulk
//! through the collector's own schema (its migrations, its triggers), then
//! the queries staff run — the default page, filtered pages, full-text
//! search, one complaint — timed through the same `Store` functions the
//! HTTP handlers call.
//!
//! The generated store is kept under `target/bench/` and reused by the next
//! run while its generator version matches, because building it (and its
//! search index) is most of the section's time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use heard_collector::domain::insights::{Bucket, InsightsFilter};
use heard_collector::store::{AssigneeFilter, InboxFilter, NewSite, Store};
use heard_shared::{SiteConfig, Status};
use rusqlite::{Connection, params};

use crate::bodies::{CHINESE, ENGLISH, Random, SPANISH};
use crate::stats;

/// Bump when the generated data changes, so an old store is rebuilt.
const GENERATOR_VERSION: u32 = 2;

/// The merchants, their sites, and their share of the complaints (percent).
const MERCHANTS: &[(&str, &[&str], u64)] = &[
    (
        "Northwind Home",
        &["northwind", "northwind-outlet", "northwind-es"],
        60,
    ),
    ("Tienda Sol", &["tienda-sol", "tienda-sol-b2b"], 25),
    ("Lotus Market", &["lotus"], 10),
    ("Corner Books", &["corner-books"], 5),
];
/// Staff per merchant; complaints are assigned among them.
const AGENTS: usize = 12;
/// The complaints span this many days before `NOW`.
const SPAN_DAYS: i64 = 730;
const DAY: i64 = 86_400_000;
/// The moment the queries are computed at (ms since the epoch).
pub const NOW: i64 = 1_800_000_000_000;
/// What shoppers ask for, as intake stores it (a JSON list).
const OUTCOMES: [&str; 5] = [
    "[\"fix\"]",
    "[\"compensation\"]",
    "[\"apology\"]",
    "[\"heard\"]",
    "[\"fix\", \"compensation\"]",
];
/// Rows per transaction while generating.
const GENERATE_BATCH: u64 = 50_000;

/// Runs per query; detail runs pick a different complaint each time.
const PAGE_RUNS: usize = 200;
const SEARCH_RUNS: usize = 40;
const DETAIL_RUNS: usize = 500;
/// Runs of each insights figure: each reads a whole date range.
const INSIGHTS_RUNS: usize = 10;
/// The page size of the inbox's default request (`domain::inbox::DEFAULT_PAGE`).
const PAGE: usize = heard_collector::domain::inbox::DEFAULT_PAGE;

pub const TARGET_PAGE: Duration = Duration::from_millis(20);
pub const TARGET_SEARCH: Duration = Duration::from_millis(50);
/// Our own bar for one dashboard figure (the insights issue asks for "fast"
/// without a number): a manager's dashboard of five figures in about a second.
pub const TARGET_INSIGHTS: Duration = Duration::from_millis(250);

/// What the section reports.
#[derive(Debug, Clone)]
pub struct InboxFigures {
    pub complaints: u64,
    pub events: u64,
    /// Complaints of the merchant every query runs for.
    pub measured_merchant: u64,
    pub mean_description_chars: u64,
    /// Generating the database, or `None` when a kept one was reused.
    pub generated_in: Option<Duration>,
    /// Building the search index from scratch by the indexer thread, or
    /// `None` when a kept one was reused.
    pub indexed_in: Option<Duration>,
    pub database_bytes: u64,
    pub index_bytes: u64,
    pub queries: Vec<QueryFigure>,
    /// Resident memory of this process with the store open and warm after
    /// the queries: the store's share of a collector serving the inbox.
    pub store_rss: u64,
}

#[derive(Debug, Clone)]
pub struct QueryFigure {
    pub name: &'static str,
    pub kind: QueryKind,
    pub runs: usize,
    pub p50: Duration,
    pub p95: Duration,
    /// Rows on the page (or matches found, for search).
    pub rows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    Page,
    Search,
    Detail,
    Insights,
}

impl QueryKind {
    pub fn target(self) -> Duration {
        match self {
            QueryKind::Search => TARGET_SEARCH,
            QueryKind::Insights => TARGET_INSIGHTS,
            QueryKind::Page | QueryKind::Detail => TARGET_PAGE,
        }
    }
}

/// Builds (or reuses) the store of `complaints` complaints in `directory`
/// and times the inbox's queries on it.
pub fn measure(directory: &Path, complaints: u64) -> anyhow::Result<InboxFigures> {
    std::fs::create_dir_all(directory)?;
    let database = directory.join("inbox.sqlite3");
    let stamp = directory.join("generated");
    let wanted = format!("{GENERATOR_VERSION} {complaints}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let reuse = std::fs::read_to_string(&stamp).is_ok_and(|found| found.trim() == wanted);
    let mut generated_in = None;
    let mut indexed_in = None;
    if !reuse {
        for suffix in ["", "-wal", "-shm", "-search", "-search-wal", "-search-shm"] {
            let _ = std::fs::remove_file(with_suffix(&database, suffix));
        }
        let _ = std::fs::remove_file(&stamp);
        let started = Instant::now();
        runtime.block_on(create_sites(&database))?;
        generate(&database, complaints)?;
        generated_in = Some(started.elapsed());
        println!(
            "bench: generated {complaints} complaints in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    // Opening the store starts the indexer, which builds the index of a new
    // database from scratch; wait for it to catch up.
    let store = Store::open(&database, 512, 4096)?;
    let started = Instant::now();
    runtime.block_on(store.search_caught_up())?;
    if !reuse {
        indexed_in = Some(started.elapsed());
        println!(
            "bench: the indexer built the search index in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        std::fs::write(&stamp, &wanted)?;
    }

    let counts = Connection::open(&database)?;
    let complaints_stored: u64 =
        counts.query_row("SELECT count(*) FROM complaints", [], |row| row.get(0))?;
    let events: u64 = counts.query_row("SELECT count(*) FROM complaint_events", [], |row| {
        row.get(0)
    })?;
    let (merchant_id, measured_merchant): (i64, u64) = counts.query_row(
        "SELECT merchant_id, count(*) FROM complaints GROUP BY merchant_id ORDER BY 2 DESC LIMIT 1",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let mean_description_chars: f64 = counts.query_row(
        "SELECT avg(length(description)) FROM (SELECT description FROM complaints LIMIT 20000)",
        [],
        |row| row.get(0),
    )?;
    let agent: i64 = counts.query_row(
        "SELECT id FROM users WHERE merchant_id = ?1 ORDER BY id LIMIT 1",
        [merchant_id],
        |row| row.get(0),
    )?;
    let site_key: String = counts.query_row(
        "SELECT site_key FROM sites WHERE merchant_id = ?1 ORDER BY id LIMIT 1",
        [merchant_id],
        |row| row.get(0),
    )?;
    let references: Vec<String> = counts
        .prepare(
            "SELECT reference FROM complaints WHERE merchant_id = ?1 AND id % 101 = 0 LIMIT ?2",
        )?
        .query_map(params![merchant_id, DETAIL_RUNS as i64], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    // An order number that occurs in exactly one complaint's answers.
    let order: String = counts.query_row(
        "SELECT json_extract(answers, '$.order') FROM complaints
         WHERE merchant_id = ?1 AND json_extract(answers, '$.order') IS NOT NULL
         ORDER BY id DESC LIMIT 1",
        [merchant_id],
        |row| row.get(0),
    )?;
    drop(counts);

    let open = vec![
        Status::Received,
        Status::Acknowledged,
        Status::InProgress,
        Status::WaitingForYou,
    ];
    let pages: Vec<(&'static str, InboxFilter)> = vec![
        (
            "default page: every status, inbox order",
            InboxFilter::default(),
        ),
        (
            "open complaints",
            InboxFilter {
                statuses: open.clone(),
                ..InboxFilter::default()
            },
        ),
        (
            "one agent's open complaints",
            InboxFilter {
                statuses: open.clone(),
                assignee: Some(AssigneeFilter::User(agent)),
                ..InboxFilter::default()
            },
        ),
        (
            "one site, serious, unassigned",
            InboxFilter {
                site_key: Some(site_key),
                severity: Some(heard_shared::Severity::Serious),
                assignee: Some(AssigneeFilter::Nobody),
                ..InboxFilter::default()
            },
        ),
        (
            "resolved, received in one month",
            InboxFilter {
                statuses: vec![Status::Resolved],
                created_from: Some(NOW - 60 * DAY),
                created_before: Some(NOW - 30 * DAY),
                ..InboxFilter::default()
            },
        ),
    ];
    let searches: Vec<(&'static str, &str)> = vec![
        ("search: an order number (one match)", order.as_str()),
        ("search: a common English word", "refund"),
        ("search: two Spanish words", "reembolso pedido"),
        ("search: Chinese, four characters", "包裹根本"),
        ("search: Chinese, two characters (CJK grams index)", "退款"),
    ];

    let mut queries = Vec::new();
    for (name, filter) in pages {
        queries.push(time_page(
            &runtime,
            &store,
            merchant_id,
            name,
            &filter,
            PAGE_RUNS,
        )?);
    }
    // The second page continues from the first page's cursor.
    queries.push(time_second_page(&runtime, &store, merchant_id)?);
    for (name, query) in searches {
        let filter = InboxFilter {
            terms: heard_collector::domain::inbox::search_terms(query),
            ..InboxFilter::default()
        };
        let mut figure = time_page(&runtime, &store, merchant_id, name, &filter, SEARCH_RUNS)?;
        figure.kind = QueryKind::Search;
        queries.push(figure);
    }
    queries.push(time_details(&runtime, &store, merchant_id, &references)?);
    queries.extend(time_insights(&runtime, &store, merchant_id)?);
    let store_rss = resident_bytes();
    runtime.block_on(store.shutdown());

    Ok(InboxFigures {
        complaints: complaints_stored,
        events,
        measured_merchant,
        mean_description_chars: mean_description_chars.round() as u64,
        generated_in,
        indexed_in,
        database_bytes: file_size(&database),
        index_bytes: file_size(&with_suffix(&database, "-search")),
        queries,
        store_rss,
    })
}

fn time_page(
    runtime: &tokio::runtime::Runtime,
    store: &Store,
    merchant_id: i64,
    name: &'static str,
    filter: &InboxFilter,
    runs: usize,
) -> anyhow::Result<QueryFigure> {
    let mut times = Vec::with_capacity(runs);
    let mut rows = 0;
    for _ in 0..runs {
        let filter = filter.clone();
        let started = Instant::now();
        let page = runtime.block_on(store.inbox(merchant_id, filter, None, PAGE, NOW))?;
        times.push(started.elapsed());
        rows = page.rows.len();
    }
    Ok(figure(name, QueryKind::Page, times, rows))
}

fn time_second_page(
    runtime: &tokio::runtime::Runtime,
    store: &Store,
    merchant_id: i64,
) -> anyhow::Result<QueryFigure> {
    let first =
        runtime.block_on(store.inbox(merchant_id, InboxFilter::default(), None, PAGE, NOW))?;
    let after = first.next.context("the first page has a next page")?;
    let mut times = Vec::with_capacity(PAGE_RUNS);
    let mut rows = 0;
    for _ in 0..PAGE_RUNS {
        let started = Instant::now();
        let page = runtime.block_on(store.inbox(
            merchant_id,
            InboxFilter::default(),
            Some(after),
            PAGE,
            NOW,
        ))?;
        times.push(started.elapsed());
        rows = page.rows.len();
    }
    Ok(figure(
        "default order, second page (cursor)",
        QueryKind::Page,
        times,
        rows,
    ))
}

fn time_details(
    runtime: &tokio::runtime::Runtime,
    store: &Store,
    merchant_id: i64,
    references: &[String],
) -> anyhow::Result<QueryFigure> {
    let mut times = Vec::with_capacity(references.len());
    for reference in references {
        let started = Instant::now();
        let detail = runtime.block_on(store.inbox_complaint(merchant_id, reference, NOW))?;
        times.push(started.elapsed());
        detail.with_context(|| format!("{reference} is not found"))?;
    }
    Ok(figure(
        "one complaint with its timeline",
        QueryKind::Detail,
        times,
        1,
    ))
}

/// The dashboard's figures over the last 28 days (its default) and the
/// volume over a year, through the same `Store` calls the insights API makes.
fn time_insights(
    runtime: &tokio::runtime::Runtime,
    store: &Store,
    merchant_id: i64,
) -> anyhow::Result<Vec<QueryFigure>> {
    let last = |days: i64, bucket: Bucket| InsightsFilter {
        from: NOW - days * DAY,
        to: NOW,
        site_key: None,
        bucket,
    };
    let four_weeks = last(28, Bucket::Week);
    let mut figures = Vec::new();
    let mut time = |name: &'static str,
                    run: &mut dyn FnMut() -> anyhow::Result<usize>|
     -> anyhow::Result<()> {
        let mut times = Vec::with_capacity(INSIGHTS_RUNS);
        let mut rows = 0;
        for _ in 0..INSIGHTS_RUNS {
            let started = Instant::now();
            rows = run()?;
            times.push(started.elapsed());
        }
        figures.push(figure(name, QueryKind::Insights, times, rows));
        Ok(())
    };
    time("insights: volume, 28 days by week", &mut || {
        let figures = runtime.block_on(store.insights_volume(merchant_id, four_weeks.clone()))?;
        Ok(figures.total as usize)
    })?;
    time("insights: volume, a year by month", &mut || {
        let figures =
            runtime.block_on(store.insights_volume(merchant_id, last(365, Bucket::Month)))?;
        Ok(figures.total as usize)
    })?;
    time("insights: handling times, 28 days", &mut || {
        runtime.block_on(store.insights_handling(merchant_id, four_weeks.clone(), NOW))?;
        Ok(1)
    })?;
    time("insights: satisfaction and recovery, 28 days", &mut || {
        runtime.block_on(store.insights_satisfaction(merchant_id, four_weeks.clone()))?;
        Ok(1)
    })?;
    time("insights: recurring terms, 28 days", &mut || {
        runtime.block_on(store.insights_causes(merchant_id, four_weeks.clone()))?;
        Ok(1)
    })?;
    time("insights: Monday summary", &mut || {
        runtime.block_on(store.insights_summary(merchant_id, None, NOW))?;
        Ok(1)
    })?;
    Ok(figures)
}

fn figure(
    name: &'static str,
    kind: QueryKind,
    mut times: Vec<Duration>,
    rows: usize,
) -> QueryFigure {
    times.sort_unstable();
    let figure = QueryFigure {
        name,
        kind,
        runs: times.len(),
        p50: stats::percentile(&times, 50.0).unwrap_or_default(),
        p95: stats::percentile(&times, 95.0).unwrap_or_default(),
        rows,
    };
    println!(
        "bench: inbox: {name}: p50 {}, p95 {} ({} runs, {rows} rows)",
        stats::millis(figure.p50),
        stats::millis(figure.p95),
        figure.runs
    );
    figure
}

/// The merchants and sites, through the store like `collector site add`.
async fn create_sites(database: &Path) -> anyhow::Result<()> {
    let store = Store::open(database, 64, 1024)?;
    for (merchant, sites, _) in MERCHANTS {
        for key in *sites {
            store
                .add_site(NewSite {
                    merchant: (*merchant).to_owned(),
                    key: (*key).to_owned(),
                    name: format!("{merchant} ({key})"),
                    allowed_origins: vec![format!("https://{key}.example")],
                    config: SiteConfig::with_defaults(key, merchant),
                })
                .await?;
        }
    }
    store.shutdown().await;
    Ok(())
}

/// Inserts `count` complaints (and their staff, timelines and replies) in
/// large transactions. The schema's triggers fill in the inbox columns and
/// the "received" event, as for a complaint from intake; the work state
/// (status, assignee, response and resolution times) is then written as
/// staff would have left it. Durability is off while generating: the file
/// is a fixture, made again if anything goes wrong.
fn generate(database: &Path, count: u64) -> anyhow::Result<()> {
    let connection = Connection::open(database)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "OFF")?;
    connection.pragma_update(None, "cache_size", -262_144)?;
    let mut sites: Vec<(i64, i64, u64)> = Vec::new();
    for (merchant, keys, share) in MERCHANTS {
        for key in *keys {
            let (site, merchant_id): (i64, i64) = connection.query_row(
                "SELECT id, merchant_id FROM sites WHERE site_key = ?1",
                [key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            sites.push((site, merchant_id, share / keys.len() as u64));
        }
        let _ = merchant;
    }
    let mut agents: Vec<(i64, Vec<i64>)> = Vec::new();
    for (merchant, _, _) in MERCHANTS {
        let merchant_id: i64 = connection.query_row(
            "SELECT id FROM merchants WHERE name = ?1",
            [merchant],
            |row| row.get(0),
        )?;
        let mut ids = Vec::new();
        for number in 0..AGENTS {
            connection.execute(
                "INSERT INTO users (merchant_id, email, display_name, role, password_hash,
                     created_at, password_changed_at)
                 VALUES (?1, ?2, ?3, 'agent', '!', 0, 0)",
                params![
                    merchant_id,
                    format!("agent{number}@m{merchant_id}.example"),
                    format!("Agent {number}")
                ],
            )?;
            ids.push(connection.last_insert_rowid());
        }
        agents.push((merchant_id, ids));
    }

    let categories = heard_shared::site::default_categories();
    let mut random = Random::new(0x1_000_000);
    let mut insert = connection.prepare(
        "INSERT INTO complaints (site_id, reference, token_hash, status, category,
             category_label, value_orientation, urgent, description, remedy, outcomes,
             severity, mood, language, answers, created_at, kind)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 'complaint')",
    )?;
    let mut work = connection.prepare(
        "UPDATE complaints SET assignee_user_id = ?2, first_response_at = ?3, resolved_at = ?4,
             updated_at = ?5
         WHERE id = ?1",
    )?;
    let mut event = connection.prepare(
        "INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let severities = ["serious", "cost_me", "inconvenience"];
    let moods = ["furious", "upset", "annoyed", "calm"];
    let replies_en = [
        "We are sorry. A replacement is on its way; you will get the tracking number today.",
        "Thank you for telling us. The refund has been issued and should arrive within five days.",
        "We have asked the courier to investigate and will write again tomorrow.",
    ];
    let replies_zh = [
        "非常抱歉，我们已经为您安排了退款，请留意到账通知。",
        "我们会给您换一台新的，今天会发出。",
    ];
    let replies_es = [
        "Lo sentimos mucho. Le hemos enviado un reembolso completo.",
        "Le enviaremos un producto nuevo esta semana.",
    ];

    let mut written = 0;
    let mut id_guess: i64 =
        connection.query_row("SELECT coalesce(max(id), 0) FROM complaints", [], |row| {
            row.get(0)
        })?;
    while written < count {
        let transaction = connection.unchecked_transaction()?;
        let batch = GENERATE_BATCH.min(count - written);
        for _ in 0..batch {
            let roll = random.between(0, 99) as u64;
            let mut acc = 0;
            let (site_id, merchant_id) = sites
                .iter()
                .find(|(_, _, share)| {
                    acc += share;
                    roll < acc
                })
                .map(|(site, merchant, _)| (*site, *merchant))
                .unwrap_or((sites[0].0, sites[0].1));
            id_guess += 1;
            // Spread over two years, denser towards now (a growing shop):
            // the density rises linearly from the oldest day to today.
            let uniform = random.between(0, 1_000_000) as f64 / 1_000_000.0;
            let age = ((1.0 - uniform.sqrt()) * (SPAN_DAYS * DAY) as f64) as i64;
            let created_at = NOW - age - random.between(0, 3_600_000) as i64;
            let category = random.pick(&categories);
            let (language, sentences, separator, replies): (&str, &[&str], &str, &[&str]) =
                match random.between(0, 9) {
                    0..=4 => ("en", ENGLISH, " ", &replies_en),
                    5..=7 => ("zh-Hans", CHINESE, "", &replies_zh),
                    _ => ("es", SPANISH, " ", &replies_es),
                };
            let sentences_wanted = random.between(1, 5);
            let mut description = String::new();
            for _ in 0..sentences_wanted {
                if !description.is_empty() {
                    description.push_str(separator);
                }
                description.push_str(random.pick::<&str>(sentences));
            }
            let answers = if random.chance(40) {
                format!("{{\"order\": \"A-{:07}\"}}", id_guess)
            } else {
                "{}".to_owned()
            };
            let status = status_for(&mut random, age);
            let urgent = category.id == "safety" || random.chance(1);
            insert.execute(params![
                site_id,
                format!(
                    "HRD-{:04X}-{:04X}",
                    (id_guess >> 16) & 0xFFFF,
                    id_guess & 0xFFFF
                ),
                random.bytes32().to_vec(),
                status.as_str(),
                category.id,
                category.label,
                random.chance(60).then_some("reliability"),
                urgent,
                description,
                random.chance(20).then_some("A full refund, please."),
                *random.pick(&OUTCOMES),
                random.chance(80).then(|| *random.pick(&severities)),
                random.chance(70).then(|| *random.pick(&moods)),
                language,
                answers,
                created_at,
            ])?;
            let id = connection.last_insert_rowid();
            id_guess = id;
            if status == Status::Received {
                continue;
            }
            let staff = &agents
                .iter()
                .find(|(merchant, _)| *merchant == merchant_id)
                .map(|(_, ids)| ids.clone())
                .unwrap_or_default();
            let agent = (!staff.is_empty() && random.chance(85)).then(|| *random.pick(staff));
            let responded = created_at + random.between(600_000, 30 * 3_600_000) as i64;
            let finished = matches!(status, Status::Resolved | Status::Closed);
            let resolved =
                finished.then(|| responded + random.between(3_600_000, 5 * 86_400_000) as i64);
            work.execute(params![
                id,
                agent,
                responded,
                resolved,
                resolved.unwrap_or(responded)
            ])?;
            event.execute(params![
                id,
                responded,
                agent,
                "acknowledged",
                1,
                None::<String>,
                "{}"
            ])?;
            if random.chance(40) {
                event.execute(params![
                    id,
                    responded + 1,
                    agent,
                    "public_reply",
                    1,
                    random.pick(replies),
                    "{}"
                ])?;
            }
            if let Some(resolved) = resolved {
                event.execute(params![
                    id,
                    resolved,
                    agent,
                    "status_changed",
                    1,
                    None::<String>,
                    format!(
                        "{{\"from\": \"in_progress\", \"to\": \"{}\"}}",
                        status.as_str()
                    )
                ])?;
            }
        }
        transaction.commit()?;
        written += batch;
    }
    drop(insert);
    drop(work);
    drop(event);
    // No ANALYZE: the collector never runs it, so the plans measured are
    // the plans a real database gets.
    connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

/// Complaints older than a month are almost all finished; the last week's
/// are mostly still being worked.
fn status_for(random: &mut Random, age: i64) -> Status {
    let roll = random.between(0, 199);
    let open_share = if age > 30 * DAY {
        1
    } else if age > 7 * DAY {
        50
    } else {
        140
    };
    if roll < open_share {
        *random.pick(&[
            Status::Received,
            Status::Acknowledged,
            Status::InProgress,
            Status::WaitingForYou,
        ])
    } else if roll % 2 == 0 {
        Status::Resolved
    } else {
        Status::Closed
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |metadata| metadata.len())
}

/// `VmRSS` of this process, in bytes (0 when unreadable).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kilobytes| kilobytes * 1024)
}
