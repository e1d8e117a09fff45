//! The insights API (issue 7): `GET /api/v1/insights/{volume, handling,
//! satisfaction, causes, summary}` as JSON, and the first four as CSV
//! (`…/{name}.csv`). Any signed-in staff member of the merchant may read
//! them, viewers too; every figure is the merchant's own (the store filters
//! on `merchant_id`). Parameters (`from`, `to`, `site`, `bucket`) are
//! checked by `domain::insights`; a bad one is a 422 with field errors.

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use heard_shared::FieldError;
use serde::Serialize;

use super::AppState;
use super::error::AppError;
use super::staff::Staff;
use crate::domain::insights::{InsightsFilter, InsightsParams};
use crate::store::{
    CausesFigures, Compliance, Durations, HandlingFigures, SatisfactionFigures, Scores, StoreError,
    VolumeFigures, WeeklySummary,
};

/// The filter the query asks for, checked against the merchant's sites.
pub async fn filter_for(
    state: &AppState,
    staff: &Staff,
    query: Result<Query<InsightsParams>, QueryRejection>,
) -> Result<InsightsFilter, AppError> {
    let Query(params) = query?;
    let filter = params
        .filter(state.clock.now_millis())
        .map_err(AppError::Invalid)?;
    if let Some(key) = &filter.site_key {
        let sites = state.store.merchant_sites(staff.merchant_id()).await?;
        if !sites.iter().any(|site| &site.key == key) {
            return Err(AppError::Invalid(vec![FieldError::new(
                "site",
                "unknown_site",
                "None of your sites has this key.",
            )]));
        }
    }
    Ok(filter)
}

/// A figure with the filter it was computed for.
#[derive(Debug, Serialize)]
pub struct Figures<T> {
    pub from: String,
    pub to: String,
    pub site: Option<String>,
    pub figures: T,
}

fn wrap<T>(filter: &InsightsFilter, figures: T) -> Json<Figures<T>> {
    Json(Figures {
        from: filter.from_date(),
        to: filter.to_date(),
        site: filter.site_key.clone(),
        figures,
    })
}

/// A report of the API: how the store computes it for a merchant.
pub trait Insight: Serialize + Sized + Send + 'static {
    fn compute(
        state: &AppState,
        merchant_id: i64,
        filter: &InsightsFilter,
    ) -> impl Future<Output = Result<Self, StoreError>> + Send;
}

/// A report with a CSV form: its file name's word and its table.
pub trait CsvInsight: Insight {
    const NAME: &'static str;
    fn to_csv(&self) -> String;
}

impl Insight for VolumeFigures {
    async fn compute(
        state: &AppState,
        merchant_id: i64,
        filter: &InsightsFilter,
    ) -> Result<Self, StoreError> {
        state
            .store
            .insights_volume(merchant_id, filter.clone())
            .await
    }
}

impl Insight for HandlingFigures {
    async fn compute(
        state: &AppState,
        merchant_id: i64,
        filter: &InsightsFilter,
    ) -> Result<Self, StoreError> {
        let now = state.clock.now_millis();
        state
            .store
            .insights_handling(merchant_id, filter.clone(), now)
            .await
    }
}

impl Insight for SatisfactionFigures {
    async fn compute(
        state: &AppState,
        merchant_id: i64,
        filter: &InsightsFilter,
    ) -> Result<Self, StoreError> {
        state
            .store
            .insights_satisfaction(merchant_id, filter.clone())
            .await
    }
}

impl Insight for CausesFigures {
    async fn compute(
        state: &AppState,
        merchant_id: i64,
        filter: &InsightsFilter,
    ) -> Result<Self, StoreError> {
        state
            .store
            .insights_causes(merchant_id, filter.clone())
            .await
    }
}

/// Last week against the week before; only `site` applies.
impl Insight for WeeklySummary {
    async fn compute(
        state: &AppState,
        merchant_id: i64,
        filter: &InsightsFilter,
    ) -> Result<Self, StoreError> {
        let now = state.clock.now_millis();
        state
            .store
            .insights_summary(merchant_id, filter.site_key.clone(), now)
            .await
    }
}

impl CsvInsight for VolumeFigures {
    const NAME: &'static str = "volume";
    fn to_csv(&self) -> String {
        volume_to_csv(self)
    }
}

impl CsvInsight for HandlingFigures {
    const NAME: &'static str = "handling";
    fn to_csv(&self) -> String {
        handling_to_csv(self)
    }
}

impl CsvInsight for SatisfactionFigures {
    const NAME: &'static str = "satisfaction";
    fn to_csv(&self) -> String {
        satisfaction_to_csv(self)
    }
}

impl CsvInsight for CausesFigures {
    const NAME: &'static str = "causes";
    fn to_csv(&self) -> String {
        causes_to_csv(self)
    }
}

/// `GET /api/v1/insights/{name}`: the report `T` as JSON.
pub async fn figures<T: Insight>(
    State(state): State<AppState>,
    staff: Staff,
    query: Result<Query<InsightsParams>, QueryRejection>,
) -> Result<Json<Figures<T>>, AppError> {
    let filter = filter_for(&state, &staff, query).await?;
    let figures = T::compute(&state, staff.merchant_id(), &filter).await?;
    Ok(wrap(&filter, figures))
}

/// `GET /api/v1/insights/{name}.csv`: the report `T` as a CSV download.
pub async fn csv<T: CsvInsight>(
    State(state): State<AppState>,
    staff: Staff,
    query: Result<Query<InsightsParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let filter = filter_for(&state, &staff, query).await?;
    let figures = T::compute(&state, staff.merchant_id(), &filter).await?;
    Ok(download(T::NAME, &filter, figures.to_csv()))
}

/// The API's routes: every report as JSON, and all but the summary as CSV.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/insights/volume", get(figures::<VolumeFigures>))
        .route("/api/v1/insights/volume.csv", get(csv::<VolumeFigures>))
        .route("/api/v1/insights/handling", get(figures::<HandlingFigures>))
        .route("/api/v1/insights/handling.csv", get(csv::<HandlingFigures>))
        .route(
            "/api/v1/insights/satisfaction",
            get(figures::<SatisfactionFigures>),
        )
        .route(
            "/api/v1/insights/satisfaction.csv",
            get(csv::<SatisfactionFigures>),
        )
        .route("/api/v1/insights/causes", get(figures::<CausesFigures>))
        .route("/api/v1/insights/causes.csv", get(csv::<CausesFigures>))
        .route("/api/v1/insights/summary", get(figures::<WeeklySummary>))
}

fn download(name: &str, filter: &InsightsFilter, csv: String) -> Response {
    let mut response = (StatusCode::OK, csv).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Only the name, dates and the fixed words: nothing a shopper wrote.
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"heard-{name}-{}-{}.csv\"",
        filter.from_date(),
        filter.to_date()
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A text cell: neutralised against spreadsheet formulas (labels are the
/// merchant's text, terms the shopper's), then quoted when needed. The
/// inbox's CSV export (`inbox_pages/export.rs`) writes its cells with it too.
pub fn cell(text: &str) -> String {
    let neutral = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

fn number<T: ToString>(value: Option<T>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

fn line(csv: &mut String, cells: &[String]) {
    let _ = write!(csv, "{}\r\n", cells.join(","));
}

/// One row per dimension value, one column per bucket.
pub fn volume_to_csv(figures: &VolumeFigures) -> String {
    let mut csv = String::new();
    let mut head = vec![
        "dimension".to_owned(),
        "key".to_owned(),
        "label".to_owned(),
        "total".to_owned(),
    ];
    head.extend(figures.buckets.iter().map(|bucket| cell(bucket)));
    line(&mut csv, &head);
    let mut all = vec![
        "all".to_owned(),
        "all".to_owned(),
        "All complaints".to_owned(),
        figures.total.to_string(),
    ];
    all.extend(figures.totals.iter().map(i64::to_string));
    line(&mut csv, &all);
    for dimension in &figures.dimensions {
        for row in &dimension.rows {
            let mut cells = vec![
                dimension.name.to_owned(),
                cell(&row.key),
                cell(&row.label),
                row.total.to_string(),
            ];
            cells.extend(row.counts.iter().map(i64::to_string));
            line(&mut csv, &cells);
        }
    }
    csv
}

/// One row per measure: a count and, where they apply, median, p90, rate.
pub fn handling_to_csv(figures: &HandlingFigures) -> String {
    let mut csv = String::new();
    line(
        &mut csv,
        &["measure", "count", "median_ms", "p90_ms", "met", "rate"].map(str::to_owned),
    );
    let duration = |csv: &mut String, name: &str, value: &Durations| {
        line(
            csv,
            &[
                name.to_owned(),
                value.count.to_string(),
                number(value.median_ms),
                number(value.p90_ms),
                String::new(),
                String::new(),
            ],
        );
    };
    let compliance = |csv: &mut String, name: &str, value: &Compliance| {
        line(
            csv,
            &[
                name.to_owned(),
                value.due.to_string(),
                String::new(),
                String::new(),
                value.met.to_string(),
                number(value.rate),
            ],
        );
    };
    line(
        &mut csv,
        &[
            "complaints".to_owned(),
            figures.complaints.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ],
    );
    duration(
        &mut csv,
        "time_to_acknowledge",
        &figures.time_to_acknowledge,
    );
    duration(
        &mut csv,
        "time_to_first_response",
        &figures.time_to_first_response,
    );
    duration(&mut csv, "time_to_resolution", &figures.time_to_resolution);
    compliance(&mut csv, "first_response_sla", &figures.first_response_sla);
    compliance(&mut csv, "resolution_sla", &figures.resolution_sla);
    line(
        &mut csv,
        &[
            "reopened".to_owned(),
            figures.reopen.resolved.to_string(),
            String::new(),
            String::new(),
            figures.reopen.reopened.to_string(),
            number(figures.reopen.rate),
        ],
    );
    let backlog = &figures.backlog;
    line(
        &mut csv,
        &[
            "backlog_age".to_owned(),
            backlog.open.to_string(),
            number(backlog.median_age_ms),
            number(backlog.p90_age_ms),
            String::new(),
            String::new(),
        ],
    );
    for band in &backlog.ages {
        line(
            &mut csv,
            &[
                cell(&format!("backlog {}", band.label)),
                band.count.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        );
    }
    csv
}

/// One row per group: overall, each category, each team, fast and slow.
pub fn satisfaction_to_csv(figures: &SatisfactionFigures) -> String {
    let mut csv = String::new();
    line(
        &mut csv,
        &[
            "group",
            "key",
            "label",
            "responses",
            "average_satisfaction",
            "quick_enough",
            "would_buy_again",
            "recovery_rate",
        ]
        .map(str::to_owned),
    );
    let groups: [(&str, &[Scores]); 4] = [
        ("overall", std::slice::from_ref(&figures.overall)),
        ("category", &figures.by_category),
        ("team", &figures.by_team),
        ("speed", &figures.by_speed),
    ];
    for (group, rows) in groups {
        for row in rows {
            line(
                &mut csv,
                &[
                    group.to_owned(),
                    cell(&row.key),
                    cell(&row.label),
                    row.responses.to_string(),
                    number(row.average_satisfaction),
                    row.quick_enough.to_string(),
                    row.recovered.to_string(),
                    number(row.recovery_rate),
                ],
            );
        }
    }
    csv
}

/// One row per recurring term, then one per top cluster.
pub fn causes_to_csv(figures: &CausesFigures) -> String {
    let mut csv = String::new();
    line(
        &mut csv,
        &[
            "kind",
            "category",
            "category_label",
            "term_or_cluster",
            "complaints",
            "examples",
        ]
        .map(str::to_owned),
    );
    for category in &figures.categories {
        for term in &category.terms {
            line(
                &mut csv,
                &[
                    "term".to_owned(),
                    cell(&category.category),
                    cell(&category.label),
                    cell(&term.term),
                    term.complaints.to_string(),
                    cell(&term.examples.join(" ")),
                ],
            );
        }
    }
    for cluster in &figures.clusters {
        line(
            &mut csv,
            &[
                "cluster".to_owned(),
                cell(&cluster.category),
                cell(&cluster.label),
                cluster.id.to_string(),
                cluster.size.to_string(),
                cell(&cluster.examples.join(" ")),
            ],
        );
    }
    csv
}
