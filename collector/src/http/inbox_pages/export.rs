//! `GET /api/v1/inbox/export.csv` and `.json`: every complaint of the
//! current filter (the list's query string), in the list's order, up to
//! [`MAX_EXPORT_ROWS`]. Staff only (401 without a session); the merchant's
//! complaints only.
//!
//! **A CSV cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
//! return gets a leading `'`**, so a spreadsheet shows shopper text as text
//! instead of running it as a formula.

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::list::{Filters, filters};
use crate::clock;
use crate::domain::inbox::{self, MAX_PAGE};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::insights::cell as text_cell;
use crate::http::staff::Staff;
use crate::store::InboxRow;

/// The most complaints one export holds; a longer view is cut here and
/// says so (`X-Heard-Truncated: true`, `"truncated": true` in JSON).
pub const MAX_EXPORT_ROWS: usize = 5000;

#[derive(Serialize)]
struct JsonExport {
    exported_at: String,
    limit: usize,
    truncated: bool,
    complaints: Vec<InboxRow>,
}

pub async fn json(
    State(state): State<AppState>,
    staff: Staff,
    query: Result<Query<Filters>, QueryRejection>,
) -> Result<Response, AppError> {
    let now = state.clock.now_millis();
    let (rows, truncated) = collect(&state, &staff, query, now).await?;
    let body = serde_json::to_vec(&JsonExport {
        exported_at: clock::rfc3339(now),
        limit: MAX_EXPORT_ROWS,
        truncated,
        complaints: rows,
    })
    .map_err(|error| AppError::Internal(error.to_string()))?;
    Ok(download(body, "application/json", "json", truncated))
}

pub async fn csv(
    State(state): State<AppState>,
    staff: Staff,
    query: Result<Query<Filters>, QueryRejection>,
) -> Result<Response, AppError> {
    let now = state.clock.now_millis();
    let (rows, truncated) = collect(&state, &staff, query, now).await?;
    Ok(download(
        to_csv(&rows).into_bytes(),
        "text/csv; charset=utf-8",
        "csv",
        truncated,
    ))
}

/// Every row of the filter, page by page, up to the limit.
async fn collect(
    state: &AppState,
    staff: &Staff,
    query: Result<Query<Filters>, QueryRejection>,
    now: i64,
) -> Result<(Vec<InboxRow>, bool), AppError> {
    let mut filters = filters(query).map_err(AppError::Invalid)?;
    let mut rows = Vec::new();
    loop {
        let mut errors = Vec::new();
        let request = filters.request(Some(MAX_PAGE), &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let answer = inbox::list(
            &state.store,
            staff.merchant_id(),
            staff.user_id(),
            request,
            now,
        )
        .await?;
        rows.extend(answer.page.rows);
        match answer.next_cursor {
            Some(cursor) if rows.len() < MAX_EXPORT_ROWS => filters.cursor = cursor,
            Some(_) => {
                rows.truncate(MAX_EXPORT_ROWS);
                return Ok((rows, true));
            }
            None => {
                let truncated = rows.len() > MAX_EXPORT_ROWS;
                rows.truncate(MAX_EXPORT_ROWS);
                return Ok((rows, truncated));
            }
        }
    }
}

fn download(
    body: Vec<u8>,
    content_type: &'static str,
    extension: &str,
    truncated: bool,
) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"heard-inbox.{extension}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        "x-heard-truncated",
        HeaderValue::from_static(if truncated { "true" } else { "false" }),
    );
    response
}

const COLUMNS: [&str; 22] = [
    "reference",
    "received_at",
    "status",
    "urgent",
    "overdue",
    "site_key",
    "site_name",
    "kind",
    "category",
    "category_label",
    "value_orientation",
    "severity",
    "mood",
    "outcomes",
    "language",
    "assignee_user_id",
    "tags",
    "priority",
    "first_response_at",
    "first_response_due_at",
    "resolution_due_at",
    "description_start",
];

fn to_csv(rows: &[InboxRow]) -> String {
    let mut csv = String::with_capacity(512 + rows.len() * 512);
    csv.push_str(&COLUMNS.join(","));
    csv.push_str("\r\n");
    let time = |millis: Option<i64>| millis.map(clock::rfc3339).unwrap_or_default();
    for row in rows {
        let outcomes: Vec<&str> = row
            .outcomes
            .iter()
            .map(|outcome| outcome.as_str())
            .collect();
        let cells = [
            text_cell(&row.reference),
            text_cell(&clock::rfc3339(row.created_at)),
            text_cell(row.status.as_str()),
            row.urgent.to_string(),
            row.overdue.to_string(),
            text_cell(&row.site_key),
            text_cell(&row.site_name),
            text_cell(row.kind.as_str()),
            text_cell(&row.category),
            text_cell(&row.category_label),
            text_cell(row.value_orientation.as_deref().unwrap_or_default()),
            text_cell(row.severity.map(|value| value.as_str()).unwrap_or_default()),
            text_cell(row.mood.map(|value| value.as_str()).unwrap_or_default()),
            text_cell(&outcomes.join(";")),
            text_cell(&row.language),
            row.assignee_user_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            text_cell(&row.tags.join(";")),
            row.priority.to_string(),
            text_cell(&time(row.first_response_at)),
            text_cell(&time(row.first_response_due_at)),
            text_cell(&time(row.resolution_due_at)),
            text_cell(&row.excerpt),
        ];
        let _ = write!(csv, "{}\r\n", cells.join(","));
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_cells_quoted() {
        assert_eq!(text_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(text_cell("+1 555"), "'+1 555");
        assert_eq!(text_cell("-2+3"), "'-2+3");
        assert_eq!(text_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text_cell("\tcmd"), "'\tcmd");
        assert_eq!(text_cell("a, b\nc"), "\"a, b\nc\"");
        assert_eq!(text_cell("豆浆机坏了"), "豆浆机坏了");
        assert_eq!(text_cell(""), "");
    }
}
