//! Insights (issue 7): the figures of the dashboard and of
//! `/api/v1/insights/…`, computed with SQL over the store on read-only
//! connections. Every query filters on `complaints.merchant_id` first (the
//! `complaints_merchant_created` index), then on the creation range and,
//! when given, one of the merchant's sites. Percentiles and recurring terms
//! are finished in Rust (`domain/insights.rs`); everything else is counted
//! by SQLite.
//!
//! The `insights_*` methods are plain `Store` methods so the benchmark can
//! time each one on a large store.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};
use serde::Serialize;

use super::{Store, StoreError};
use crate::domain::insights::{
    Bucket, DAY_MS, EXAMPLES_PER_TERM, FAST_RESOLUTION_MS, InsightsFilter, MAX_TEXTS_FOR_TERMS,
    TERMS_PER_CATEGORY, format_date, percentile, terms,
};

/// How many clusters "top clusters" lists.
const TOP_CLUSTERS: usize = 5;

/// Counts per time bucket, overall and by each dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeFigures {
    pub bucket: Bucket,
    /// Each bucket's first day, `YYYY-MM-DD`.
    pub buckets: Vec<String>,
    /// Complaints per bucket.
    pub totals: Vec<i64>,
    pub total: i64,
    /// `site`, `category`, `value_orientation`, `severity`, `mood`,
    /// `outcome`, `channel`, `language`, in this order.
    pub dimensions: Vec<Dimension>,
}

/// One way of splitting the volume.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dimension {
    pub name: &'static str,
    /// Largest first.
    pub rows: Vec<DimensionRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DimensionRow {
    pub key: String,
    /// What the merchant named it (sites, categories); the key otherwise.
    pub label: String,
    pub total: i64,
    /// Per bucket, in the order of [`VolumeFigures::buckets`].
    pub counts: Vec<i64>,
}

/// How fast complaints are handled, and what is left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandlingFigures {
    pub complaints: i64,
    pub time_to_acknowledge: Durations,
    pub time_to_first_response: Durations,
    pub time_to_resolution: Durations,
    pub first_response_sla: Compliance,
    pub resolution_sla: Compliance,
    pub reopen: Reopen,
    /// The open complaints now (the site filter applies, the range does not).
    pub backlog: Backlog,
}

/// Durations in ms: how many, their median and 90th percentile (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Durations {
    pub count: i64,
    pub median_ms: Option<i64>,
    pub p90_ms: Option<i64>,
}

/// Complaints whose target has come (met, or passed unmet) and how many met it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Compliance {
    pub due: i64,
    pub met: i64,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reopen {
    /// Complaints resolved or closed at least once.
    pub resolved: i64,
    /// Of those, reopened at least once.
    pub reopened: i64,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backlog {
    pub open: i64,
    pub median_age_ms: Option<i64>,
    pub p90_age_ms: Option<i64>,
    pub oldest_age_ms: Option<i64>,
    /// Open complaints aged under 1 day, 1–3 days, 3–7 days, over 7 days.
    pub ages: Vec<AgeBand>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgeBand {
    pub label: &'static str,
    pub count: i64,
}

/// Survey answers after resolution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SatisfactionFigures {
    pub overall: Scores,
    /// How many answers gave each score, 1 to 5.
    pub distribution: [i64; 5],
    pub by_category: Vec<Scores>,
    pub by_team: Vec<Scores>,
    /// `fast` (resolved within a day) and `slow`.
    pub by_speed: Vec<Scores>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    pub key: String,
    pub label: String,
    pub responses: i64,
    pub average_satisfaction: Option<f64>,
    pub quick_enough: i64,
    /// Would buy again.
    pub recovered: i64,
    /// `recovered / responses`: the recovery rate.
    pub recovery_rate: Option<f64>,
}

/// What keeps coming back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CausesFigures {
    /// How many complaints' text was read (the newest ones, at most
    /// `MAX_TEXTS_FOR_TERMS`).
    pub complaints_read: i64,
    pub categories: Vec<CategoryTerms>,
    pub clusters: Vec<TopCluster>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryTerms {
    pub category: String,
    pub label: String,
    pub complaints: i64,
    /// Terms found in at least two complaints, most frequent first.
    pub terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Term {
    pub term: String,
    /// How many complaints use it.
    pub complaints: i64,
    /// References of the newest of them.
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopCluster {
    pub id: i64,
    pub category: String,
    pub label: String,
    pub safety: bool,
    pub size: i64,
    pub first_at: i64,
    pub last_at: i64,
    /// References of its newest members.
    pub examples: Vec<String>,
}

/// Last week against the week before (weeks start on Monday, UTC).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeeklySummary {
    pub last_week: WeekFigures,
    pub week_before: WeekFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekFigures {
    /// `YYYY-MM-DD` of its Monday.
    pub starts: String,
    pub complaints: i64,
    /// Complaints of that week that missed a response or resolution target.
    pub overdue: i64,
    /// Survey answers received that week, and how many would buy again.
    pub responses: i64,
    pub recovered: i64,
    pub recovery_rate: Option<f64>,
    /// The value customers stood up for most, and how often.
    pub top_value: Option<(String, i64)>,
    pub top_cluster: Option<TopCluster>,
}

impl Store {
    /// Complaints per bucket, by site, category, value, severity, mood,
    /// wanted outcome, channel and language.
    pub async fn insights_volume(
        &self,
        merchant_id: i64,
        filter: InsightsFilter,
    ) -> Result<VolumeFigures, StoreError> {
        self.read(move |connection| volume(connection, merchant_id, &filter))
            .await
    }

    /// Response and resolution times, target compliance, reopening, backlog.
    pub async fn insights_handling(
        &self,
        merchant_id: i64,
        filter: InsightsFilter,
        now: i64,
    ) -> Result<HandlingFigures, StoreError> {
        self.read(move |connection| handling(connection, merchant_id, &filter, now))
            .await
    }

    /// Survey scores and the recovery rate, by category, team and speed.
    pub async fn insights_satisfaction(
        &self,
        merchant_id: i64,
        filter: InsightsFilter,
    ) -> Result<SatisfactionFigures, StoreError> {
        self.read(move |connection| satisfaction(connection, merchant_id, &filter))
            .await
    }

    /// Recurring terms per category and the largest clusters.
    pub async fn insights_causes(
        &self,
        merchant_id: i64,
        filter: InsightsFilter,
    ) -> Result<CausesFigures, StoreError> {
        self.read(move |connection| causes(connection, merchant_id, &filter))
            .await
    }

    /// The Monday-morning summary at `now`, over all the merchant's sites
    /// or `site_key`'s.
    pub async fn insights_summary(
        &self,
        merchant_id: i64,
        site_key: Option<String>,
        now: i64,
    ) -> Result<WeeklySummary, StoreError> {
        self.read(move |connection| summary(connection, merchant_id, site_key, now))
            .await
    }
}

/// The filter every query starts with: `?1` merchant, `?2`..`?3` the
/// creation range, `?4` the site key or NULL. Use `c` for complaints.
/// Suspected spam (`spam IS NOT NULL`) counts nowhere until restored.
const SCOPE: &str =
    "c.merchant_id = ?1 AND c.created_at >= ?2 AND c.created_at < ?3 AND c.spam IS NULL
    AND (?4 IS NULL OR c.site_id = (SELECT s4.id FROM sites s4
                                    WHERE s4.merchant_id = ?1 AND s4.site_key = ?4))";

fn scope_params(merchant_id: i64, filter: &InsightsFilter) -> Vec<Value> {
    vec![
        Value::Integer(merchant_id),
        Value::Integer(filter.from),
        Value::Integer(filter.to),
        filter.site_key.clone().map_or(Value::Null, Value::Text),
    ]
}

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The dimensions of the volume figures, in their order; `outcome` counts
/// a complaint once per wanted outcome.
const DIMENSIONS: [&str; 8] = [
    "site",
    "category",
    "value_orientation",
    "severity",
    "mood",
    "outcome",
    "channel",
    "language",
];

/// Whole UTC days of the range come from the daily counts
/// (`insights_daily`, kept by triggers: a year is a few tens of thousands
/// of small rows); the partial days at either end from the covering index
/// `complaints_insights`, counted entry by entry. Decoding every entry of
/// a year (hundreds of thousands) took about 300 ms even from the index.
fn volume(
    connection: &Connection,
    merchant_id: i64,
    filter: &InsightsFilter,
) -> Result<VolumeFigures, StoreError> {
    let starts = filter.bucket.starts(filter.from, filter.to);
    let mut sites: Vec<(i64, String, String)> = Vec::new();
    {
        let mut statement = connection
            .prepare_cached("SELECT id, site_key, name FROM sites WHERE merchant_id = ?1")?;
        let mut rows = statement.query([merchant_id])?;
        while let Some(row) = rows.next()? {
            sites.push((row.get(0)?, row.get(1)?, row.get(2)?));
        }
    }
    let mut count = VolumeCount::new(&starts, sites);
    let first_day = filter.from.div_euclid(DAY_MS) + i64::from(filter.from.rem_euclid(DAY_MS) != 0);
    let end_day = filter.to.div_euclid(DAY_MS);
    if first_day < end_day {
        if filter.from < first_day * DAY_MS {
            count.scan(
                connection,
                merchant_id,
                filter,
                filter.from,
                first_day * DAY_MS,
            )?;
        }
        count.days(connection, merchant_id, filter, first_day, end_day)?;
        if end_day * DAY_MS < filter.to {
            count.scan(connection, merchant_id, filter, end_day * DAY_MS, filter.to)?;
        }
    } else {
        count.scan(connection, merchant_id, filter, filter.from, filter.to)?;
    }
    let VolumeCount {
        totals, tallies, ..
    } = count;
    let dimensions = DIMENSIONS
        .iter()
        .zip(tallies)
        .map(|(name, tally)| {
            let mut rows: Vec<DimensionRow> =
                tally.rows.into_iter().filter(|row| row.total > 0).collect();
            rows.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)));
            Dimension { name, rows }
        })
        .collect();
    Ok(VolumeFigures {
        bucket: filter.bucket,
        buckets: starts.iter().map(|start| format_date(*start)).collect(),
        total: totals.iter().sum(),
        totals,
        dimensions,
    })
}

/// The volume figure while counting.
struct VolumeCount<'a> {
    starts: &'a [i64],
    /// The merchant's sites: id, key, name.
    sites: Vec<(i64, String, String)>,
    totals: Vec<i64>,
    /// One per dimension, in the order of [`DIMENSIONS`].
    tallies: Vec<VolumeTally>,
    /// The distinct `outcomes` lists (a handful), each parsed once.
    outcome_lists: Vec<(String, Vec<String>)>,
    /// The bucket of the last entry counted: entries come in time order.
    slot: usize,
}

impl<'a> VolumeCount<'a> {
    fn new(starts: &'a [i64], sites: Vec<(i64, String, String)>) -> VolumeCount<'a> {
        VolumeCount {
            starts,
            sites,
            totals: vec![0; starts.len()],
            tallies: (0..DIMENSIONS.len())
                .map(|_| VolumeTally::new(starts.len()))
                .collect(),
            outcome_lists: Vec::new(),
            slot: 0,
        }
    }

    fn slot_of(&mut self, at: i64) -> Result<usize, StoreError> {
        self.slot = bucket_slot(self.starts, self.slot, at)
            .ok_or_else(|| StoreError::Corrupt(format!("{at} is outside the range")))?;
        Ok(self.slot)
    }

    /// Counts `complaints` for the site `site_id` (by its key and name).
    fn count_site(&mut self, site_id: i64, slot: usize, complaints: i64) -> Result<(), StoreError> {
        let (_, key, name) = self
            .sites
            .iter()
            .find(|(id, _, _)| *id == site_id)
            .ok_or_else(|| StoreError::Corrupt(format!("site {site_id} of another merchant")))?;
        self.tallies[0].count(key, name, slot, complaints);
        Ok(())
    }

    /// Counts the complaints created in `[from, to)` one by one, from the
    /// covering index.
    fn scan(
        &mut self,
        connection: &Connection,
        merchant_id: i64,
        filter: &InsightsFilter,
        from: i64,
        to: i64,
    ) -> Result<(), StoreError> {
        let mut statement = connection.prepare_cached(&format!(
            "SELECT c.created_at, c.site_id, c.category, c.category_label, c.value_orientation,
                 c.severity, c.mood, c.outcomes, c.kind, c.language
             FROM complaints c INDEXED BY complaints_insights WHERE {SCOPE}"
        ))?;
        let part = InsightsFilter {
            from,
            to,
            ..filter.clone()
        };
        let mut rows = statement.query(params_from_iter(scope_params(merchant_id, &part)))?;
        while let Some(row) = rows.next()? {
            let slot = self.slot_of(row.get(0)?)?;
            self.totals[slot] += 1;
            let text = |column: usize| -> Result<Option<&str>, StoreError> {
                row.get_ref(column)?
                    .as_str_or_null()
                    .map_err(|error| StoreError::Corrupt(error.to_string()))
            };
            let given = |column: usize| -> Result<&str, StoreError> {
                text(column)?.ok_or_else(|| StoreError::Corrupt(format!("column {column} is NULL")))
            };
            self.count_site(row.get(1)?, slot, 1)?;
            let tallies = &mut self.tallies;
            // The newest label of a category is the one shown.
            tallies[1].count_relabelled(given(2)?, given(3)?, slot, 1);
            let value = text(4)?.unwrap_or("none");
            tallies[2].count(value, value, slot, 1);
            let severity = text(5)?.unwrap_or("unrated");
            tallies[3].count(severity, severity, slot, 1);
            let mood = text(6)?.unwrap_or("unrated");
            tallies[4].count(mood, mood, slot, 1);
            let kind = given(8)?;
            tallies[6].count(kind, kind, slot, 1);
            let language = given(9)?;
            tallies[7].count(language, language, slot, 1);
            let list = given(7)?;
            let position = match self.outcome_lists.iter().position(|(raw, _)| raw == list) {
                Some(position) => position,
                None => {
                    let outcomes: Vec<String> = serde_json::from_str(list)
                        .map_err(|error| StoreError::Corrupt(format!("outcomes: {error}")))?;
                    self.outcome_lists.push((list.to_owned(), outcomes));
                    self.outcome_lists.len() - 1
                }
            };
            for outcome in &self.outcome_lists[position].1 {
                self.tallies[5].count(outcome, outcome, slot, 1);
            }
        }
        Ok(())
    }

    /// Adds the daily counts of the whole days `[first_day, end_day)`.
    fn days(
        &mut self,
        connection: &Connection,
        merchant_id: i64,
        filter: &InsightsFilter,
        first_day: i64,
        end_day: i64,
    ) -> Result<(), StoreError> {
        let mut statement = connection.prepare_cached(
            "SELECT day, site_id, dimension, key, label, complaints FROM insights_daily
             WHERE merchant_id = ?1 AND day >= ?2 AND day < ?3 AND complaints > 0
               AND (?4 IS NULL OR site_id = (SELECT s4.id FROM sites s4
                                             WHERE s4.merchant_id = ?1 AND s4.site_key = ?4))",
        )?;
        let mut rows =
            statement.query(params![merchant_id, first_day, end_day, filter.site_key])?;
        while let Some(row) = rows.next()? {
            let slot = self.slot_of(row.get::<_, i64>(0)? * DAY_MS)?;
            let complaints: i64 = row.get(5)?;
            let text = |column: usize| -> Result<&str, StoreError> {
                row.get_ref(column)?
                    .as_str()
                    .map_err(|error| StoreError::Corrupt(error.to_string()))
            };
            let (key, label) = (text(3)?, text(4)?);
            let dimension = match text(2)? {
                "category" => 1,
                "value_orientation" => 2,
                "severity" => 3,
                "mood" => 4,
                "outcome" => 5,
                "channel" => {
                    // Every complaint has one channel: the totals and the
                    // sites are counted from it.
                    self.totals[slot] += complaints;
                    self.count_site(row.get(1)?, slot, complaints)?;
                    6
                }
                "language" => 7,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "daily counts of an unknown dimension {other}"
                    )));
                }
            };
            if dimension == 1 {
                self.tallies[1].count_relabelled(key, label, slot, complaints);
            } else {
                self.tallies[dimension].count(key, label, slot, complaints);
            }
        }
        Ok(())
    }
}

/// The bucket of `created_at` among `starts` (ascending, each bucket ending
/// where the next begins): `guess` when it still holds (the index hands
/// the range over in time order), else found by bisection.
fn bucket_slot(starts: &[i64], guess: usize, created_at: i64) -> Option<usize> {
    let holds = |slot: usize| {
        starts.get(slot).is_some_and(|start| *start <= created_at)
            && starts.get(slot + 1).is_none_or(|next| created_at < *next)
    };
    if holds(guess) {
        return Some(guess);
    }
    starts
        .partition_point(|start| *start <= created_at)
        .checked_sub(1)
}

/// The rows of one dimension while counting. A dimension has a handful of
/// values, so a key is found by comparing it with each (most differ in
/// length at once), which costs less than hashing it on every entry.
struct VolumeTally {
    width: usize,
    rows: Vec<DimensionRow>,
}

impl VolumeTally {
    fn new(width: usize) -> VolumeTally {
        VolumeTally {
            width,
            rows: Vec::new(),
        }
    }

    fn row(&mut self, key: &str, label: &str) -> &mut DimensionRow {
        let position = match self.rows.iter().position(|row| row.key == key) {
            Some(position) => position,
            None => {
                self.rows.push(DimensionRow {
                    key: key.to_owned(),
                    label: label.to_owned(),
                    total: 0,
                    counts: vec![0; self.width],
                });
                self.rows.len() - 1
            }
        };
        &mut self.rows[position]
    }

    fn count(&mut self, key: &str, label: &str, slot: usize, complaints: i64) {
        let row = self.row(key, label);
        row.counts[slot] += complaints;
        row.total += complaints;
    }

    /// Counts `key`, whose label is whatever the latest entry counted says.
    fn count_relabelled(&mut self, key: &str, label: &str, slot: usize, complaints: i64) {
        let row = self.row(key, label);
        if row.label != label {
            label.clone_into(&mut row.label);
        }
        row.counts[slot] += complaints;
        row.total += complaints;
    }
}

/// The values of a one-column query, sorted ascending.
fn sorted_values(
    connection: &Connection,
    sql: &str,
    params: Vec<Value>,
) -> Result<Vec<i64>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut values = statement
        .query_map(params_from_iter(params), |row| row.get::<_, i64>(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    values.sort_unstable();
    Ok(values)
}

fn durations(sorted: &[i64]) -> Durations {
    Durations {
        count: sorted.len() as i64,
        median_ms: percentile(sorted, 50),
        p90_ms: percentile(sorted, 90),
    }
}

/// One pass over the range, finished in Rust, from the covering index
/// `complaints_insights` alone: every time and target of each complaint,
/// and what its timeline says (first acknowledgement, ever resolved, ever
/// reopened), which the `complaints_handling_events` trigger keeps in the
/// complaint's own columns as each event is written.
fn handling(
    connection: &Connection,
    merchant_id: i64,
    filter: &InsightsFilter,
    now: i64,
) -> Result<HandlingFigures, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT c.created_at, c.first_response_at, c.resolved_at,
             c.first_response_due_at, c.resolution_due_at, c.acknowledged_at,
             c.resolved_at IS NOT NULL OR c.resolved_once, c.reopened
         FROM complaints c INDEXED BY complaints_insights WHERE {SCOPE}"
    ))?;
    let mut rows = statement.query(params_from_iter(scope_params(merchant_id, filter)))?;
    let mut complaints = 0;
    let (mut acknowledge, mut first_response, mut resolution) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut first_response_sla, mut resolution_sla) =
        (Compliance::default(), Compliance::default());
    let (mut resolved, mut reopened) = (0, 0);
    while let Some(row) = rows.next()? {
        complaints += 1;
        let created_at: i64 = row.get(0)?;
        let first_response_at: Option<i64> = row.get(1)?;
        let resolved_at: Option<i64> = row.get(2)?;
        let acknowledged_at: Option<i64> = row.get(5)?;
        if let Some(at) = acknowledged_at {
            acknowledge.push(at - created_at);
        }
        if let Some(at) = first_response_at {
            first_response.push(at - created_at);
        }
        if let Some(at) = resolved_at {
            resolution.push(at - created_at);
        }
        first_response_sla.count(first_response_at, row.get(3)?, now);
        resolution_sla.count(resolved_at, row.get(4)?, now);
        resolved += i64::from(row.get::<_, bool>(6)?);
        reopened += i64::from(row.get::<_, bool>(7)?);
    }
    for values in [&mut acknowledge, &mut first_response, &mut resolution] {
        values.sort_unstable();
    }
    Ok(HandlingFigures {
        complaints,
        time_to_acknowledge: durations(&acknowledge),
        time_to_first_response: durations(&first_response),
        time_to_resolution: durations(&resolution),
        first_response_sla: first_response_sla.finish(),
        resolution_sla: resolution_sla.finish(),
        reopen: Reopen {
            resolved,
            reopened,
            rate: rate(reopened, resolved),
        },
        backlog: backlog(connection, merchant_id, filter.site_key.clone(), now)?,
    })
}

impl Compliance {
    /// Counts a target `due` once it is met (`done` by then) or has passed.
    fn count(&mut self, done: Option<i64>, due: Option<i64>, now: i64) {
        let Some(due) = due else { return };
        match done {
            Some(done) => {
                self.due += 1;
                self.met += i64::from(done <= due);
            }
            None if due < now => self.due += 1,
            None => {}
        }
    }

    fn finish(self) -> Compliance {
        Compliance {
            rate: rate(self.met, self.due),
            ..self
        }
    }
}

/// The open complaints' ages, from the covering partial index the inbox
/// order reads (`complaints_open_order`: open, not spam), never the table.
fn backlog(
    connection: &Connection,
    merchant_id: i64,
    site_key: Option<String>,
    now: i64,
) -> Result<Backlog, StoreError> {
    let ages = sorted_values(
        connection,
        "SELECT ?2 - c.created_at FROM complaints c INDEXED BY complaints_open_order
             WHERE c.merchant_id = ?1
               AND c.status NOT IN ('resolved', 'closed') AND c.spam IS NULL
               AND (?3 IS NULL OR c.site_id = (SELECT s.id FROM sites s
                                               WHERE s.merchant_id = ?1 AND s.site_key = ?3))",
        vec![
            Value::Integer(merchant_id),
            Value::Integer(now),
            site_key.map_or(Value::Null, Value::Text),
        ],
    )?;
    let band = |label: &'static str, low: i64, high: i64| AgeBand {
        label,
        count: ages
            .iter()
            .filter(|age| **age >= low && **age < high)
            .count() as i64,
    };
    Ok(Backlog {
        open: ages.len() as i64,
        median_age_ms: percentile(&ages, 50),
        p90_age_ms: percentile(&ages, 90),
        oldest_age_ms: ages.last().copied(),
        ages: vec![
            band("under 1 day", i64::MIN, DAY_MS),
            band("1–3 days", DAY_MS, 3 * DAY_MS),
            band("3–7 days", 3 * DAY_MS, 7 * DAY_MS),
            band("over 7 days", 7 * DAY_MS, i64::MAX),
        ],
    })
}

/// One pass over the surveyed complaints of the range, grouped in Rust;
/// the range from the covering index `complaints_insights`, each complaint's
/// survey by its primary key.
fn satisfaction(
    connection: &Connection,
    merchant_id: i64,
    filter: &InsightsFilter,
) -> Result<SatisfactionFigures, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT c.category, c.category_label, t.id, t.name,
             CASE WHEN c.resolved_at IS NULL THEN 2
                  WHEN c.resolved_at - c.created_at <= {FAST_RESOLUTION_MS} THEN 0
                  ELSE 1 END,
             v.satisfaction, v.quick_enough, v.would_return
         FROM complaints c INDEXED BY complaints_insights
             JOIN complaint_surveys v ON v.complaint_id = c.id
             LEFT JOIN teams t ON t.id = c.team_id AND t.merchant_id = ?1
         WHERE {SCOPE}"
    ))?;
    let mut rows = statement.query(params_from_iter(scope_params(merchant_id, filter)))?;
    let mut overall = Tally::new("all", "All complaints");
    let mut distribution = [0; 5];
    let mut by_category: HashMap<String, Tally> = HashMap::new();
    let mut by_team: HashMap<String, Tally> = HashMap::new();
    let mut by_speed = [
        Tally::new("fast", "Resolved within a day"),
        Tally::new("slow", "Resolved after more than a day"),
        Tally::new("unresolved", "Not resolved"),
    ];
    while let Some(row) = rows.next()? {
        let answer = (
            row.get::<_, i64>(5)?,
            row.get::<_, bool>(6)?,
            row.get::<_, bool>(7)?,
        );
        overall.add(answer);
        if let Some(slot) = distribution.get_mut((answer.0 - 1) as usize) {
            *slot += 1;
        }
        let category: String = row.get(0)?;
        by_category
            .entry(category.clone())
            .or_insert_with(|| Tally::new(&category, ""))
            .label_once(row.get(1)?)
            .add(answer);
        let team: Option<i64> = row.get(2)?;
        let (key, label) = match team {
            Some(id) => (id.to_string(), row.get::<_, String>(3)?),
            None => ("none".to_owned(), "No team".to_owned()),
        };
        by_team
            .entry(key.clone())
            .or_insert_with(|| Tally::new(&key, &label))
            .add(answer);
        let speed: usize = row.get(4)?;
        if let Some(tally) = by_speed.get_mut(speed) {
            tally.add(answer);
        }
    }
    let sorted = |tallies: Vec<Tally>| -> Vec<Scores> {
        let mut scores: Vec<Scores> = tallies
            .into_iter()
            .filter(|tally| tally.responses > 0)
            .map(Tally::finish)
            .collect();
        scores.sort_by(|a, b| {
            b.responses
                .cmp(&a.responses)
                .then_with(|| a.key.cmp(&b.key))
        });
        scores
    };
    Ok(SatisfactionFigures {
        overall: overall.finish(),
        distribution,
        by_category: sorted(by_category.into_values().collect()),
        by_team: sorted(by_team.into_values().collect()),
        by_speed: sorted(by_speed.into()),
    })
}

/// Survey answers being counted for one group.
struct Tally {
    key: String,
    label: String,
    responses: i64,
    score_sum: i64,
    quick_enough: i64,
    recovered: i64,
}

impl Tally {
    fn new(key: &str, label: &str) -> Tally {
        Tally {
            key: key.to_owned(),
            label: label.to_owned(),
            responses: 0,
            score_sum: 0,
            quick_enough: 0,
            recovered: 0,
        }
    }

    fn label_once(&mut self, label: String) -> &mut Tally {
        if self.label.is_empty() {
            self.label = label;
        }
        self
    }

    fn add(&mut self, (score, quick_enough, would_return): (i64, bool, bool)) {
        self.responses += 1;
        self.score_sum += score;
        self.quick_enough += i64::from(quick_enough);
        self.recovered += i64::from(would_return);
    }

    fn finish(self) -> Scores {
        Scores {
            average_satisfaction: (self.responses > 0)
                .then(|| self.score_sum as f64 / self.responses as f64),
            recovery_rate: rate(self.recovered, self.responses),
            key: self.key,
            label: self.label,
            responses: self.responses,
            quick_enough: self.quick_enough,
            recovered: self.recovered,
        }
    }
}

fn causes(
    connection: &Connection,
    merchant_id: i64,
    filter: &InsightsFilter,
) -> Result<CausesFigures, StoreError> {
    struct Tally {
        label: String,
        complaints: i64,
        /// term → (complaints using it, newest references first)
        terms: HashMap<String, (i64, Vec<String>)>,
    }
    let mut params = scope_params(merchant_id, filter);
    params.push(Value::Integer(MAX_TEXTS_FOR_TERMS as i64));
    let mut statement = connection.prepare_cached(&format!(
        "SELECT c.category, c.category_label, c.reference,
             concat_ws(char(10), c.description, c.remedy)
         FROM complaints c WHERE {SCOPE}
         ORDER BY c.created_at DESC, c.id DESC LIMIT ?5"
    ))?;
    let mut rows = statement.query(params_from_iter(params))?;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut read = 0;
    while let Some(row) = rows.next()? {
        read += 1;
        let category: String = row.get(0)?;
        let reference: String = row.get(2)?;
        let text: String = row.get::<_, Option<String>>(3)?.unwrap_or_default();
        let tally = tallies.entry(category).or_insert_with(|| Tally {
            label: String::new(),
            complaints: 0,
            terms: HashMap::new(),
        });
        if tally.label.is_empty() {
            tally.label = row.get(1)?;
        }
        tally.complaints += 1;
        for term in terms(&text) {
            let entry = tally.terms.entry(term).or_insert((0, Vec::new()));
            entry.0 += 1;
            if entry.1.len() < EXAMPLES_PER_TERM {
                entry.1.push(reference.clone());
            }
        }
    }
    let mut categories: Vec<CategoryTerms> = tallies
        .into_iter()
        .map(|(category, tally)| {
            let mut terms: Vec<Term> = tally
                .terms
                .into_iter()
                .filter(|(_, (count, _))| *count >= 2)
                .map(|(term, (complaints, examples))| Term {
                    term,
                    complaints,
                    examples,
                })
                .collect();
            terms.sort_by(|a, b| {
                b.complaints
                    .cmp(&a.complaints)
                    .then_with(|| a.term.cmp(&b.term))
            });
            terms.truncate(TERMS_PER_CATEGORY);
            CategoryTerms {
                category,
                label: tally.label,
                complaints: tally.complaints,
                terms,
            }
        })
        .collect();
    categories.sort_by(|a, b| {
        b.complaints
            .cmp(&a.complaints)
            .then_with(|| a.category.cmp(&b.category))
    });
    Ok(CausesFigures {
        complaints_read: read,
        categories,
        clusters: top_clusters(connection, merchant_id, filter, TOP_CLUSTERS)?,
    })
}

/// The largest clusters active in the range (on the site, when one is given).
fn top_clusters(
    connection: &Connection,
    merchant_id: i64,
    filter: &InsightsFilter,
    limit: usize,
) -> Result<Vec<TopCluster>, StoreError> {
    let mut params = scope_params(merchant_id, filter);
    params.push(Value::Integer(limit as i64));
    let mut statement = connection.prepare_cached(
        "SELECT k.id, k.category, k.safety, k.size, k.first_at, k.last_at,
             coalesce((SELECT c.category_label FROM complaints c
                       WHERE c.merchant_id = ?1 AND c.category = k.category
                       ORDER BY c.created_at DESC LIMIT 1), k.category)
         FROM clusters k
         WHERE k.merchant_id = ?1 AND k.last_at >= ?2 AND k.first_at < ?3
           AND (?4 IS NULL OR EXISTS (
                SELECT 1 FROM cluster_members m JOIN complaints c ON c.id = m.complaint_id
                WHERE m.cluster_id = k.id AND c.merchant_id = ?1
                  AND c.site_id = (SELECT s.id FROM sites s
                                   WHERE s.merchant_id = ?1 AND s.site_key = ?4)))
         ORDER BY k.size DESC, k.last_at DESC, k.id
         LIMIT ?5",
    )?;
    let clusters = statement
        .query_map(params_from_iter(params), |row| {
            Ok(TopCluster {
                id: row.get(0)?,
                category: row.get(1)?,
                safety: row.get(2)?,
                size: row.get(3)?,
                first_at: row.get(4)?,
                last_at: row.get(5)?,
                label: row.get(6)?,
                examples: Vec::new(),
            })
        })?
        .collect::<Result<Vec<TopCluster>, _>>()?;
    let mut members = connection.prepare_cached(
        "SELECT c.reference FROM cluster_members m JOIN complaints c ON c.id = m.complaint_id
         WHERE m.cluster_id = ?1 AND c.merchant_id = ?2 AND c.spam IS NULL
         ORDER BY c.created_at DESC, c.id DESC LIMIT ?3",
    )?;
    clusters
        .into_iter()
        .map(|mut cluster| {
            cluster.examples = members
                .query_map(
                    rusqlite::params![cluster.id, merchant_id, EXAMPLES_PER_TERM as i64],
                    |row| row.get(0),
                )?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(cluster)
        })
        .collect()
}

fn summary(
    connection: &Connection,
    merchant_id: i64,
    site_key: Option<String>,
    now: i64,
) -> Result<WeeklySummary, StoreError> {
    let this_week = Bucket::Week.start_of(now);
    let week = |from: i64| -> Result<WeekFigures, StoreError> {
        let filter = InsightsFilter {
            from,
            to: from + 7 * DAY_MS,
            site_key: site_key.clone(),
            bucket: Bucket::Week,
        };
        let mut with_now = scope_params(merchant_id, &filter);
        with_now.push(Value::Integer(now));
        let (complaints, overdue): (i64, i64) = connection
            .prepare_cached(&format!(
                "SELECT count(*), coalesce(sum(
                    coalesce(c.first_response_at, ?5) > c.first_response_due_at
                    OR coalesce(c.resolved_at, ?5) > c.resolution_due_at), 0)
                 FROM complaints c WHERE {SCOPE}"
            ))?
            .query_row(params_from_iter(with_now), |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
        // Answers received that week, whenever their complaint came in;
        // CROSS JOIN keeps the week's answers (complaint_surveys_updated,
        // 0012_insights.sql) the outer loop, not all the merchant's complaints.
        let (responses, recovered): (i64, i64) = connection
            .prepare_cached(
                "SELECT count(*), coalesce(sum(v.would_return), 0)
                 FROM complaint_surveys v CROSS JOIN complaints c ON c.id = v.complaint_id
                 WHERE c.merchant_id = ?1 AND v.updated_at >= ?2 AND v.updated_at < ?3
                   AND c.spam IS NULL
                   AND (?4 IS NULL OR c.site_id = (SELECT s.id FROM sites s
                                                   WHERE s.merchant_id = ?1 AND s.site_key = ?4))",
            )?
            .query_row(
                params_from_iter(scope_params(merchant_id, &filter)),
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
        let top_value: Option<(String, i64)> = connection
            .prepare_cached(&format!(
                "SELECT c.value_orientation, count(*) AS n FROM complaints c
                 WHERE {SCOPE} AND c.value_orientation IS NOT NULL
                 GROUP BY c.value_orientation ORDER BY n DESC, c.value_orientation LIMIT 1"
            ))?
            .query_map(
                params_from_iter(scope_params(merchant_id, &filter)),
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .next()
            .transpose()?;
        Ok(WeekFigures {
            starts: format_date(from),
            complaints,
            overdue,
            responses,
            recovered,
            recovery_rate: rate(recovered, responses),
            top_value,
            top_cluster: top_clusters(connection, merchant_id, &filter, 1)?.pop(),
        })
    };
    Ok(WeeklySummary {
        last_week: week(this_week - 7 * DAY_MS)?,
        week_before: week(this_week - 14 * DAY_MS)?,
    })
}

#[cfg(test)]
mod tests {
    use heard_shared::Outcome;
    use rusqlite::params;

    use super::*;
    use crate::store::inbox_fixtures::{complaint, record, site};
    use crate::store::test_support::temp_store;

    const HOUR: i64 = 3_600_000;
    /// Monday 2026-11-16, 00:00 UTC.
    const T0: i64 = 1_794_787_200_000;
    const NOW: i64 = T0 + 14 * DAY_MS;

    struct Made {
        c: Vec<String>,
        acme: i64,
        other: i64,
    }

    /// A data set whose true figures these tests know: six complaints of
    /// Acme on two sites over two weeks, handled and surveyed by direct
    /// SQL, and one complaint of Other that must never be counted.
    async fn data_set(store: &Store) -> Made {
        let (acme, site_a) = site(store, "Acme", "acme-a").await;
        let (_, site_b) = site(store, "Acme", "acme-b").await;
        let (other, other_site) = site(store, "Other", "other").await;
        let plan: [(i64, i64, &str, &str, &str, &str); 6] = [
            (
                site_a,
                T0 + HOUR,
                "product",
                "reliability",
                "en",
                "The kettle handle broke",
            ),
            (
                site_a,
                T0 + DAY_MS + HOUR,
                "product",
                "reliability",
                "en",
                "Kettle handle cracked again",
            ),
            (
                site_b,
                T0 + 2 * DAY_MS,
                "delivery",
                "speed",
                "zh-Hans",
                "发货太慢，包裹还没到",
            ),
            (
                site_b,
                T0 + 8 * DAY_MS,
                "delivery",
                "speed",
                "zh-Hans",
                "发货太慢了",
            ),
            (
                site_a,
                T0 + 9 * DAY_MS,
                "delivery",
                "speed",
                "en",
                "Parcel late, 发货 slow",
            ),
            (
                site_b,
                T0 + 13 * DAY_MS + 20 * HOUR,
                "staff",
                "courtesy",
                "en",
                "Rude on the phone",
            ),
        ];
        let mut c = Vec::new();
        for (index, (site_id, at, category, value, language, text)) in plan.into_iter().enumerate()
        {
            let mut new = complaint(site_id, at, text);
            new.category = category.to_owned();
            new.category_label = format!("Label of {category}");
            new.value_orientation = Some(value.to_owned());
            new.language = language.to_owned();
            if index == 1 {
                new.outcomes = vec![Outcome::Fix, Outcome::Compensation];
            }
            c.push(record(store, new).await);
        }
        let mut noise = complaint(other_site, T0 + HOUR, "发货太慢 kettle handle");
        noise.category = "delivery".to_owned();
        let noise = record(store, noise).await;
        let c2 = c.clone();
        store
            .inner
            .writer
            .run(move |connection| {
                let id = |reference: &str| -> i64 {
                    connection
                        .query_row(
                            "SELECT id FROM complaints WHERE reference = ?1",
                            [reference],
                            |row| row.get(0),
                        )
                        .unwrap()
                };
                let team = |merchant: i64, name: &str| -> i64 {
                    connection
                        .execute(
                            "INSERT INTO teams (merchant_id, name, created_at) VALUES (?1, ?2, ?3)",
                            params![merchant, name, T0],
                        )
                        .unwrap();
                    connection.last_insert_rowid()
                };
                let team_x = team(acme, "Team <X>");
                let team_y = team(acme, "Team Y");
                let event = |complaint: i64, at: i64, kind: &str, data: &str| {
                    connection
                        .execute(
                            "INSERT INTO complaint_events (complaint_id, at, kind, public, data)
                             VALUES (?1, ?2, ?3, 1, ?4)",
                            params![complaint, at, kind, data],
                        )
                        .unwrap();
                };
                let set = |complaint: i64, status: &str, first: Option<i64>, resolved: Option<i64>, team: Option<i64>| {
                    connection
                        .execute(
                            "UPDATE complaints SET status = ?2, first_response_at = ?3,
                                 resolved_at = ?4, team_id = ?5 WHERE id = ?1",
                            params![complaint, status, first, resolved, team],
                        )
                        .unwrap();
                };
                let survey = |complaint: i64, score: i64, quick: i64, again: i64, at: i64| {
                    connection
                        .execute(
                            "INSERT INTO complaint_surveys (complaint_id, satisfaction, quick_enough,
                                 would_return, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                            params![complaint, score, quick, again, at],
                        )
                        .unwrap();
                };
                let resolved = r#"{"from":"in_progress","to":"resolved"}"#;
                let (c1, c2, c3, c4) = (id(&c2[0]), id(&c2[1]), id(&c2[2]), id(&c2[3]));
                // 1: acknowledged after 1 h, resolved after 10 h: fast.
                event(c1, T0 + 2 * HOUR, "acknowledged", "{}");
                event(c1, T0 + 11 * HOUR, "status_changed", resolved);
                set(c1, "resolved", Some(T0 + 2 * HOUR), Some(T0 + 11 * HOUR), Some(team_x));
                survey(c1, 5, 1, 1, T0 + DAY_MS);
                // 2: acknowledged after 3 h, resolved after 72 h: slow.
                let at2 = T0 + DAY_MS + HOUR;
                event(c2, at2 + 3 * HOUR, "acknowledged", "{}");
                event(c2, at2 + 72 * HOUR, "status_changed", resolved);
                set(c2, "resolved", Some(at2 + 3 * HOUR), Some(at2 + 72 * HOUR), Some(team_x));
                survey(c2, 2, 0, 0, T0 + 5 * DAY_MS);
                // 3: a reply after 30 h, never acknowledged, not resolved.
                let at3 = T0 + 2 * DAY_MS;
                event(c3, at3 + 30 * HOUR, "public_reply", "{}");
                set(c3, "in_progress", Some(at3 + 30 * HOUR), None, None);
                // 4: acknowledged after 5 h, resolved after 12 h, reopened.
                let at4 = T0 + 8 * DAY_MS;
                event(c4, at4 + 5 * HOUR, "acknowledged", "{}");
                event(c4, at4 + 12 * HOUR, "status_changed", resolved);
                event(c4, at4 + 20 * HOUR, "status_changed", r#"{"from":"resolved","to":"in_progress","by":"shopper"}"#);
                set(c4, "in_progress", Some(at4 + 5 * HOUR), None, Some(team_y));
                survey(c4, 4, 1, 1, T0 + 9 * DAY_MS);
                // 5 and 6 are untouched. A cluster of 3 and 4.
                connection
                    .execute(
                        "INSERT INTO clusters (merchant_id, category, safety, size, first_at, last_at, created_at)
                         VALUES (?1, 'delivery', 0, 2, ?2, ?3, ?3)",
                        params![acme, at3, at4],
                    )
                    .unwrap();
                let cluster = connection.last_insert_rowid();
                for member in [c3, c4] {
                    connection
                        .execute(
                            "INSERT INTO cluster_members (cluster_id, complaint_id, similarity, added_at)
                             VALUES (?1, ?2, 1.0, ?3)",
                            params![cluster, member, at4],
                        )
                        .unwrap();
                }
                // Other merchant: handled, surveyed, clustered — never counted for Acme.
                let n = id(&noise);
                event(n, T0 + 2 * HOUR, "acknowledged", "{}");
                set(n, "resolved", Some(T0 + 2 * HOUR), Some(T0 + 3 * HOUR), None);
                survey(n, 1, 0, 0, T0 + DAY_MS);
                connection
                    .execute(
                        "INSERT INTO clusters (merchant_id, category, safety, size, first_at, last_at, created_at)
                         VALUES (?1, 'delivery', 0, 10, ?2, ?2, ?2)",
                        params![other, T0 + HOUR],
                    )
                    .unwrap();
                Ok(())
            })
            .await
            .unwrap();
        Made { c, acme, other }
    }

    fn two_weeks(bucket: Bucket, site: Option<&str>) -> InsightsFilter {
        InsightsFilter {
            from: T0,
            to: T0 + 14 * DAY_MS,
            site_key: site.map(str::to_owned),
            bucket,
        }
    }

    fn dimension<'a>(figures: &'a VolumeFigures, name: &str) -> Vec<(&'a str, i64, Vec<i64>)> {
        figures
            .dimensions
            .iter()
            .find(|dimension| dimension.name == name)
            .unwrap()
            .rows
            .iter()
            .map(|row| (row.key.as_str(), row.total, row.counts.clone()))
            .collect()
    }

    #[tokio::test]
    async fn volume_counts_each_bucket_and_dimension_of_one_merchant() {
        let temp = temp_store();
        let made = data_set(&temp.store).await;
        let figures = temp
            .store
            .insights_volume(made.acme, two_weeks(Bucket::Week, None))
            .await
            .unwrap();
        assert_eq!(figures.buckets, vec!["2026-11-16", "2026-11-23"]);
        assert_eq!(figures.totals, vec![3, 3]);
        assert_eq!(figures.total, 6);
        assert_eq!(
            dimension(&figures, "site"),
            vec![("acme-a", 3, vec![2, 1]), ("acme-b", 3, vec![1, 2])]
        );
        assert_eq!(
            dimension(&figures, "category"),
            vec![
                ("delivery", 3, vec![1, 2]),
                ("product", 2, vec![2, 0]),
                ("staff", 1, vec![0, 1])
            ]
        );
        assert_eq!(
            dimension(&figures, "value_orientation"),
            vec![
                ("speed", 3, vec![1, 2]),
                ("reliability", 2, vec![2, 0]),
                ("courtesy", 1, vec![0, 1])
            ]
        );
        assert_eq!(
            dimension(&figures, "outcome"),
            vec![("fix", 6, vec![3, 3]), ("compensation", 1, vec![1, 0])]
        );
        assert_eq!(
            dimension(&figures, "language"),
            vec![("en", 4, vec![2, 2]), ("zh-Hans", 2, vec![1, 1])]
        );
        assert_eq!(
            dimension(&figures, "channel"),
            vec![("complaint", 6, vec![3, 3])]
        );
        assert_eq!(
            dimension(&figures, "severity"),
            vec![("inconvenience", 6, vec![3, 3])]
        );
        assert_eq!(dimension(&figures, "mood"), vec![("calm", 6, vec![3, 3])]);

        // By day, one site, a shorter range.
        let days = temp
            .store
            .insights_volume(
                made.acme,
                InsightsFilter {
                    from: T0,
                    to: T0 + 3 * DAY_MS,
                    site_key: Some("acme-a".to_owned()),
                    bucket: Bucket::Day,
                },
            )
            .await
            .unwrap();
        assert_eq!(days.totals, vec![1, 1, 0]);
        // Another merchant's site key selects nothing of Acme's.
        let foreign = temp
            .store
            .insights_volume(made.acme, two_weeks(Bucket::Week, Some("other")))
            .await
            .unwrap();
        assert_eq!(foreign.total, 0);
        let other = temp
            .store
            .insights_volume(made.other, two_weeks(Bucket::Month, None))
            .await
            .unwrap();
        assert_eq!(other.buckets, vec!["2026-11-01"]);
        assert_eq!(other.totals, vec![1]);
    }

    /// The volume figure as counted from every complaint of the range, one
    /// by one: what the daily counts must always agree with.
    async fn volume_by_scanning(
        store: &Store,
        merchant_id: i64,
        filter: InsightsFilter,
    ) -> VolumeFigures {
        store
            .read(move |connection| {
                let starts = filter.bucket.starts(filter.from, filter.to);
                let mut sites = Vec::new();
                let mut statement = connection
                    .prepare("SELECT id, site_key, name FROM sites WHERE merchant_id = ?1")?;
                let mut rows = statement.query([merchant_id])?;
                while let Some(row) = rows.next()? {
                    sites.push((row.get(0)?, row.get(1)?, row.get(2)?));
                }
                let mut count = VolumeCount::new(&starts, sites);
                count.scan(connection, merchant_id, &filter, filter.from, filter.to)?;
                let dimensions = DIMENSIONS
                    .iter()
                    .zip(count.tallies)
                    .map(|(name, tally)| {
                        let mut rows = tally.rows;
                        rows.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)));
                        Dimension { name, rows }
                    })
                    .collect();
                Ok(VolumeFigures {
                    bucket: filter.bucket,
                    buckets: starts.iter().map(|start| format_date(*start)).collect(),
                    total: count.totals.iter().sum(),
                    totals: count.totals,
                    dimensions,
                })
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_daily_counts_follow_every_change_and_agree_with_counting_complaints() {
        let temp = temp_store();
        let made = data_set(&temp.store).await;
        let ranges = || {
            vec![
                two_weeks(Bucket::Week, None),
                // Partial days at both ends, by day, on one site.
                InsightsFilter {
                    from: T0 + 5 * HOUR,
                    to: T0 + 9 * DAY_MS + 2 * HOUR,
                    site_key: Some("acme-a".to_owned()),
                    bucket: Bucket::Day,
                },
                // Less than a day.
                InsightsFilter {
                    from: T0 + 13 * DAY_MS + HOUR,
                    to: T0 + 13 * DAY_MS + 23 * HOUR,
                    site_key: None,
                    bucket: Bucket::Day,
                },
                InsightsFilter {
                    from: T0 - 3 * HOUR,
                    to: NOW + 2 * HOUR,
                    site_key: None,
                    bucket: Bucket::Month,
                },
            ]
        };
        let agree = |stage: &'static str| {
            let store = temp.store.clone();
            let acme = made.acme;
            async move {
                for filter in ranges() {
                    let fast = store.insights_volume(acme, filter.clone()).await.unwrap();
                    let counted = volume_by_scanning(&store, acme, filter.clone()).await;
                    assert_eq!(fast, counted, "{stage}: {filter:?}");
                }
            }
        };
        agree("as stored").await;

        // Suspected spam leaves the figures, and comes back when restored;
        // a complaint recategorised, moved to another day and another site
        // is counted where it is now.
        let total = |figures: VolumeFigures| figures.total;
        let before = total(
            temp.store
                .insights_volume(made.acme, two_weeks(Bucket::Week, None))
                .await
                .unwrap(),
        );
        let (first, second) = (made.c[0].clone(), made.c[1].clone());
        temp.store
            .inner
            .writer
            .run(move |connection| {
                connection.execute(
                    "UPDATE complaints SET spam = 'staff' WHERE reference = ?1",
                    [&first],
                )?;
                connection.execute(
                    "UPDATE complaints SET category = 'staff', category_label = 'Renamed staff',
                         created_at = created_at + 30 * 3600000,
                         site_id = (SELECT id FROM sites WHERE site_key = 'acme-b'),
                         outcomes = '[\"apology\"]', severity = NULL
                     WHERE reference = ?1",
                    [&second],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        agree("after changes").await;
        let changed = temp
            .store
            .insights_volume(made.acme, two_weeks(Bucket::Week, None))
            .await
            .unwrap();
        assert_eq!(changed.total, before - 1);
        assert_eq!(
            dimension(&changed, "category")
                .iter()
                .find(|(key, _, _)| *key == "staff")
                .map(|(_, total, _)| *total),
            Some(2)
        );
        let staff_label = changed.dimensions[1]
            .rows
            .iter()
            .find(|row| row.key == "staff")
            .map(|row| row.label.clone());
        // The label shown is the newest complaint's (the sixth's, not the
        // recategorised one's).
        assert_eq!(staff_label.as_deref(), Some("Label of staff"));

        let first = made.c[0].clone();
        temp.store
            .inner
            .writer
            .run(move |connection| {
                connection.execute(
                    "UPDATE complaints SET spam = NULL WHERE reference = ?1",
                    [&first],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        agree("after restoring").await;
        let restored = temp
            .store
            .insights_volume(made.acme, two_weeks(Bucket::Week, None))
            .await
            .unwrap();
        assert_eq!(restored.total, before);
    }

    #[tokio::test]
    async fn handling_knows_medians_percentiles_targets_reopening_and_backlog() {
        let temp = temp_store();
        let made = data_set(&temp.store).await;
        let figures = temp
            .store
            .insights_handling(made.acme, two_weeks(Bucket::Week, None), NOW)
            .await
            .unwrap();
        assert_eq!(figures.complaints, 6);
        let hours = |durations: Durations| {
            (
                durations.count,
                durations.median_ms.map(|ms| ms / HOUR),
                durations.p90_ms.map(|ms| ms / HOUR),
            )
        };
        assert_eq!(hours(figures.time_to_acknowledge), (3, Some(3), Some(5)));
        assert_eq!(
            hours(figures.time_to_first_response),
            (4, Some(3), Some(30))
        );
        assert_eq!(hours(figures.time_to_resolution), (2, Some(10), Some(72)));
        // First response: 1–4 answered in time, 5 overdue, 6 not yet due.
        assert_eq!(
            (
                figures.first_response_sla.due,
                figures.first_response_sla.met
            ),
            (5, 4)
        );
        assert_eq!(figures.first_response_sla.rate, Some(0.8));
        // Resolution: 1 and 2 in time, 3 overdue; 4, 5 and 6 not yet due.
        assert_eq!(
            (figures.resolution_sla.due, figures.resolution_sla.met),
            (3, 2)
        );
        assert_eq!((figures.reopen.resolved, figures.reopen.reopened), (3, 1));
        let backlog = &figures.backlog;
        assert_eq!(backlog.open, 4);
        assert_eq!(backlog.median_age_ms, Some(5 * DAY_MS));
        assert_eq!(backlog.p90_age_ms, Some(12 * DAY_MS));
        assert_eq!(backlog.oldest_age_ms, Some(12 * DAY_MS));
        let bands: Vec<i64> = backlog.ages.iter().map(|band| band.count).collect();
        assert_eq!(bands, vec![1, 0, 2, 1]);

        let site_b = temp
            .store
            .insights_handling(made.acme, two_weeks(Bucket::Week, Some("acme-b")), NOW)
            .await
            .unwrap();
        assert_eq!(site_b.complaints, 3);
        assert_eq!(hours(site_b.time_to_first_response), (2, Some(5), Some(30)));
        assert_eq!(site_b.backlog.open, 3);

        let other = temp
            .store
            .insights_handling(made.other, two_weeks(Bucket::Week, None), NOW)
            .await
            .unwrap();
        assert_eq!(other.complaints, 1);
        assert_eq!(hours(other.time_to_resolution), (1, Some(2), Some(2)));
        assert_eq!(other.backlog.open, 0);
    }

    #[tokio::test]
    async fn satisfaction_gives_the_recovery_rate_by_category_team_and_speed() {
        let temp = temp_store();
        let made = data_set(&temp.store).await;
        let figures = temp
            .store
            .insights_satisfaction(made.acme, two_weeks(Bucket::Week, None))
            .await
            .unwrap();
        let overall = &figures.overall;
        assert_eq!(
            (overall.responses, overall.quick_enough, overall.recovered),
            (3, 2, 2)
        );
        assert_eq!(overall.recovery_rate, Some(2.0 / 3.0));
        assert_eq!(overall.average_satisfaction, Some(11.0 / 3.0));
        assert_eq!(figures.distribution, [0, 1, 0, 1, 1]);
        let split = |rows: &[Scores]| -> Vec<(String, i64, i64)> {
            rows.iter()
                .map(|row| (row.label.clone(), row.responses, row.recovered))
                .collect()
        };
        assert_eq!(
            split(&figures.by_category),
            vec![
                ("Label of product".to_owned(), 2, 1),
                ("Label of delivery".to_owned(), 1, 1)
            ]
        );
        assert_eq!(
            split(&figures.by_team),
            vec![("Team <X>".to_owned(), 2, 1), ("Team Y".to_owned(), 1, 1)]
        );
        let speed: Vec<(String, i64, i64)> = figures
            .by_speed
            .iter()
            .map(|row| (row.key.clone(), row.responses, row.recovered))
            .collect();
        assert_eq!(
            speed,
            vec![
                ("fast".to_owned(), 1, 1),
                ("slow".to_owned(), 1, 0),
                ("unresolved".to_owned(), 1, 1)
            ]
        );
        let other = temp
            .store
            .insights_satisfaction(made.other, two_weeks(Bucket::Week, None))
            .await
            .unwrap();
        assert_eq!((other.overall.responses, other.overall.recovered), (1, 0));
    }

    #[tokio::test]
    async fn causes_find_recurring_terms_in_chinese_and_english_and_the_top_cluster() {
        let temp = temp_store();
        let made = data_set(&temp.store).await;
        let figures = temp
            .store
            .insights_causes(made.acme, two_weeks(Bucket::Week, None))
            .await
            .unwrap();
        assert_eq!(figures.complaints_read, 6);
        let terms = |category: &str| -> Vec<(String, i64, Vec<String>)> {
            figures
                .categories
                .iter()
                .find(|row| row.category == category)
                .unwrap()
                .terms
                .iter()
                .map(|term| (term.term.clone(), term.complaints, term.examples.clone()))
                .collect()
        };
        let c = &made.c;
        assert_eq!(
            terms("delivery"),
            vec![
                (
                    "发货".to_owned(),
                    3,
                    vec![c[4].clone(), c[3].clone(), c[2].clone()]
                ),
                ("太慢".to_owned(), 2, vec![c[3].clone(), c[2].clone()]),
                ("货太".to_owned(), 2, vec![c[3].clone(), c[2].clone()]),
            ]
        );
        assert_eq!(
            terms("product"),
            vec![
                ("handle".to_owned(), 2, vec![c[1].clone(), c[0].clone()]),
                ("kettle".to_owned(), 2, vec![c[1].clone(), c[0].clone()]),
            ]
        );
        assert_eq!(terms("staff"), vec![]);
        assert_eq!(figures.clusters.len(), 1);
        assert_eq!(figures.clusters[0].size, 2);
        assert_eq!(figures.clusters[0].label, "Label of delivery");
        assert_eq!(
            figures.clusters[0].examples,
            vec![c[3].clone(), c[2].clone()]
        );
        // The cluster has no member on site A.
        let site_a = temp
            .store
            .insights_causes(made.acme, two_weeks(Bucket::Week, Some("acme-a")))
            .await
            .unwrap();
        assert!(site_a.clusters.is_empty());
        assert_eq!(site_a.complaints_read, 3);
    }

    #[tokio::test]
    async fn the_monday_summary_compares_last_week_with_the_week_before() {
        let temp = temp_store();
        let made = data_set(&temp.store).await;
        let summary = temp
            .store
            .insights_summary(made.acme, None, NOW + HOUR)
            .await
            .unwrap();
        let last = &summary.last_week;
        assert_eq!(last.starts, "2026-11-23");
        assert_eq!((last.complaints, last.overdue), (3, 1));
        assert_eq!((last.responses, last.recovered), (1, 1));
        assert_eq!(last.top_value, Some(("speed".to_owned(), 2)));
        assert_eq!(
            last.top_cluster.as_ref().map(|cluster| cluster.size),
            Some(2)
        );
        let before = &summary.week_before;
        assert_eq!(before.starts, "2026-11-16");
        assert_eq!((before.complaints, before.overdue), (3, 1));
        assert_eq!((before.responses, before.recovered), (2, 1));
        assert_eq!(before.recovery_rate, Some(0.5));
        assert_eq!(before.top_value, Some(("reliability".to_owned(), 2)));
    }
}
