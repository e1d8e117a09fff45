//! `GET /inbox/insights`: the insights dashboard (issue 7). What a manager
//! wants on Monday morning first — last week against the week before —
//! then volume, handling, satisfaction and root causes for the chosen range
//! and site. Charts are SVG drawn here, each an image with a title
//! (`role="img"`, `aria-labelledby`) and a data table beside it holding the
//! same numbers; no script is needed. Every label is escaped: categories
//! and sites are the merchant's text, terms the shopper's.

use std::fmt::Write;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use heard_shared::FieldError;

use super::layout::{ASSETS, Page, render, respond, words};
use super::{PageStaff, percent_encode};
use crate::domain::insights::{InsightsFilter, InsightsParams};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::html::escape;
use crate::store::{
    CausesFigures, HandlingFigures, MerchantSite, SatisfactionFigures, Scores, VolumeFigures,
    WeekFigures, WeeklySummary,
};

/// The page's route, merged into `inbox_pages::router()`; its route table
/// is in `http/insights_tests.rs`.
pub fn router() -> Router<AppState> {
    Router::new().route("/inbox/insights", get(page))
}

pub async fn page(
    State(state): State<AppState>,
    PageStaff(staff): PageStaff,
    query: Result<Query<InsightsParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let now = state.clock.now_millis();
    let merchant = staff.merchant_id();
    let sites = state.store.merchant_sites(merchant).await?;
    let params = query.map(|Query(params)| params).unwrap_or_default();
    let (filter, errors) = match params.filter(now) {
        Ok(filter) => match &filter.site_key {
            Some(key) if !sites.iter().any(|site| &site.key == key) => (
                InsightsFilter::default_at(now),
                vec![FieldError::new(
                    "site",
                    "unknown_site",
                    "None of your sites has this key.",
                )],
            ),
            _ => (filter, Vec::new()),
        },
        Err(errors) => (InsightsFilter::default_at(now), errors),
    };
    let store = &state.store;
    let summary = store
        .insights_summary(merchant, filter.site_key.clone(), now)
        .await?;
    let volume = store.insights_volume(merchant, filter.clone()).await?;
    let handling = store
        .insights_handling(merchant, filter.clone(), now)
        .await?;
    let satisfaction = store
        .insights_satisfaction(merchant, filter.clone())
        .await?;
    let causes = store.insights_causes(merchant, filter.clone()).await?;

    let mut main = String::with_capacity(32 * 1024);
    let _ = write!(
        main,
        "<link rel=\"stylesheet\" href=\"{ASSETS}/insights.css\">\n\
         <h1>Insights</h1>\n"
    );
    if !errors.is_empty() {
        main.push_str(
            "<div class=\"problems\" role=\"alert\"><p>Some filters could not be used; \
             the last 28 days are shown instead.</p><ul>",
        );
        for error in &errors {
            let _ = write!(
                main,
                "<li>{}: {}</li>",
                escape(&error.field),
                escape(&error.message)
            );
        }
        main.push_str("</ul></div>\n");
    }
    main.push_str(&summary_section(&summary));
    main.push_str(&filter_form(&filter, &sites));
    main.push_str(&volume_section(&volume));
    main.push_str(&handling_section(&handling));
    main.push_str(&satisfaction_section(&satisfaction));
    main.push_str(&causes_section(&causes));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(respond(
        status,
        render(&Page {
            title: "Insights",
            kind: "insights",
            main: &main,
            staff: Some(&staff),
        }),
    ))
}

/// The query string of `filter`, for the CSV links.
fn query_of(filter: &InsightsFilter) -> String {
    let mut query = format!(
        "from={}&to={}&bucket={}",
        filter.from_date(),
        filter.to_date(),
        filter.bucket.as_str()
    );
    if let Some(site) = &filter.site_key {
        let _ = write!(query, "&site={}", percent_encode(site));
    }
    query
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_owned(), |rate| format!("{:.0}%", rate * 100.0))
}

/// A duration as a person reads it: minutes, hours or days.
fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "—".to_owned();
    };
    let minutes = ms as f64 / 60_000.0;
    if minutes < 90.0 {
        format!("{minutes:.0} min")
    } else if minutes < 48.0 * 60.0 {
        format!("{:.1} h", minutes / 60.0)
    } else {
        format!("{:.1} days", minutes / (24.0 * 60.0))
    }
}

fn summary_section(summary: &WeeklySummary) -> String {
    let last = &summary.last_week;
    let before = &summary.week_before;
    let mut html = String::new();
    let _ = write!(
        html,
        "<section class=\"monday\" aria-labelledby=\"monday-title\">\n\
         <h2 id=\"monday-title\">Last week (from {}) against the week before (from {})</h2>\n\
         <table class=\"figures\"><thead><tr><th scope=\"col\">Figure</th>\
         <th scope=\"col\">Last week</th><th scope=\"col\">Week before</th></tr></thead><tbody>\n",
        escape(&last.starts),
        escape(&before.starts)
    );
    let row = |html: &mut String, name: &str, last: String, before: String| {
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\">{name}</th><td>{last}</td><td>{before}</td></tr>"
        );
    };
    row(
        &mut html,
        "Complaints",
        last.complaints.to_string(),
        before.complaints.to_string(),
    );
    row(
        &mut html,
        "Missed a response or resolution target",
        last.overdue.to_string(),
        before.overdue.to_string(),
    );
    let recovery = |week: &WeekFigures| {
        format!(
            "{} ({} of {} answers)",
            percent(week.recovery_rate),
            week.recovered,
            week.responses
        )
    };
    row(
        &mut html,
        "Would buy again (recovery rate)",
        recovery(last),
        recovery(before),
    );
    let value = |week: &WeekFigures| {
        week.top_value.as_ref().map_or_else(
            || "—".to_owned(),
            |(value, count)| format!("{} ({count})", escape(&words(value))),
        )
    };
    row(
        &mut html,
        "What customers valued most",
        value(last),
        value(before),
    );
    let cluster = |week: &WeekFigures| {
        week.top_cluster.as_ref().map_or_else(
            || "—".to_owned(),
            |cluster| {
                let link = cluster
                    .examples
                    .first()
                    .map_or_else(String::new, |reference| {
                        format!(
                            " <a href=\"/inbox/c/{}\">newest: {}</a>",
                            percent_encode(reference),
                            escape(reference)
                        )
                    });
                format!(
                    "{} similar complaints about {}{}{link}",
                    cluster.size,
                    escape(&cluster.label),
                    if cluster.safety { " (safety)" } else { "" }
                )
            },
        )
    };
    row(&mut html, "Largest cluster", cluster(last), cluster(before));
    html.push_str("</tbody></table>\n</section>\n");
    html
}

fn filter_form(filter: &InsightsFilter, sites: &[MerchantSite]) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<form class=\"insights-filter\" method=\"get\" action=\"/inbox/insights\" \
         aria-labelledby=\"filter-title\">\n<h2 id=\"filter-title\">Range and site</h2>\n\
         <label for=\"from\">First day</label> \
         <input type=\"date\" id=\"from\" name=\"from\" value=\"{from}\">\n\
         <label for=\"to\">Last day</label> \
         <input type=\"date\" id=\"to\" name=\"to\" value=\"{to}\">\n\
         <label for=\"site\">Site</label> <select id=\"site\" name=\"site\">\
         <option value=\"\">All sites</option>",
        from = escape(&filter.from_date()),
        to = escape(&filter.to_date()),
    );
    for site in sites {
        let selected = if filter.site_key.as_deref() == Some(site.key.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            html,
            "<option value=\"{}\"{selected}>{}</option>",
            escape(&site.key),
            escape(&site.name)
        );
    }
    html.push_str(
        "</select>\n<label for=\"bucket\">Group by</label> <select id=\"bucket\" name=\"bucket\">",
    );
    for (value, label) in [("day", "Day"), ("week", "Week"), ("month", "Month")] {
        let selected = if filter.bucket.as_str() == value {
            " selected"
        } else {
            ""
        };
        let _ = write!(html, "<option value=\"{value}\"{selected}>{label}</option>");
    }
    let query = escape(&query_of(filter));
    let _ = write!(
        html,
        "</select>\n<button type=\"submit\">Show</button>\n</form>\n\
         <p class=\"downloads\">Download as CSV: \
         <a href=\"/api/v1/insights/volume.csv?{query}\">volume</a>, \
         <a href=\"/api/v1/insights/handling.csv?{query}\">handling</a>, \
         <a href=\"/api/v1/insights/satisfaction.csv?{query}\">satisfaction</a>, \
         <a href=\"/api/v1/insights/causes.csv?{query}\">causes</a>.</p>\n"
    );
    html
}

/// A bar chart as an accessible SVG image: `title` names it for screen
/// readers (`<title>` + `aria-labelledby`); the data table beside it holds
/// the same numbers.
fn bar_chart(id: &str, title: &str, bars: &[(String, i64)]) -> String {
    const WIDTH: usize = 640;
    const HEIGHT: i64 = 160;
    const LABEL_SPACE: i64 = 40;
    let max = bars
        .iter()
        .map(|(_, value)| *value)
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = if bars.is_empty() {
        WIDTH
    } else {
        WIDTH / bars.len()
    };
    let bar_width = (slot * 7 / 10).max(2);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}-title\" \
         viewBox=\"0 0 {WIDTH} {total}\" preserveAspectRatio=\"xMinYMin meet\">\
         <title id=\"{id}-title\">{title}</title>",
        id = escape(id),
        total = HEIGHT + LABEL_SPACE,
        title = escape(title),
    );
    for (index, (label, value)) in bars.iter().enumerate() {
        let height = value * HEIGHT / max;
        let x = index * slot + (slot - bar_width) / 2;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{bar_width}\" height=\"{height}\"></rect>",
            y = HEIGHT - height,
        );
        if bars.len() <= 16 {
            let _ = write!(
                svg,
                "<text x=\"{cx}\" y=\"{ty}\" text-anchor=\"middle\">{label}</text>\
                 <text x=\"{cx}\" y=\"{vy}\" text-anchor=\"middle\" class=\"value\">{value}</text>",
                cx = x + bar_width / 2,
                ty = HEIGHT + 16,
                vy = HEIGHT + 32,
                label = escape(&shorten(label)),
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Chart labels are short; the table beside the chart has the full text.
fn shorten(label: &str) -> String {
    let mut short: String = label.chars().take(12).collect();
    if label.chars().count() > 12 {
        short.push('…');
    }
    short
}

/// A table of already-escaped cells, with a caption and column headings.
fn table(caption: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<table class=\"figures\"><caption>{}</caption><thead><tr>",
        escape(caption)
    );
    for heading in head {
        let _ = write!(html, "<th scope=\"col\">{}</th>", escape(heading));
    }
    html.push_str("</tr></thead><tbody>\n");
    if rows.is_empty() {
        let _ = writeln!(
            html,
            "<tr><td colspan=\"{}\">Nothing in this range.</td></tr>",
            head.len()
        );
    }
    for row in rows {
        html.push_str("<tr>");
        for (index, cell) in row.iter().enumerate() {
            if index == 0 {
                let _ = write!(html, "<th scope=\"row\">{cell}</th>");
            } else {
                let _ = write!(html, "<td>{cell}</td>");
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table>\n");
    html
}

fn chart_with_table(id: &str, title: &str, head: &[&str], bars: &[(String, i64)]) -> String {
    let rows: Vec<Vec<String>> = bars
        .iter()
        .map(|(label, value)| vec![escape(label), value.to_string()])
        .collect();
    format!(
        "<div class=\"chart-pair\">\n{}{}</div>\n",
        bar_chart(id, title, bars),
        table(title, head, &rows)
    )
}

fn volume_section(volume: &VolumeFigures) -> String {
    let mut html = String::from(
        "<section aria-labelledby=\"volume-title\">\n<h2 id=\"volume-title\">Volume</h2>\n",
    );
    let bars: Vec<(String, i64)> = volume
        .buckets
        .iter()
        .cloned()
        .zip(volume.totals.iter().copied())
        .collect();
    html.push_str(&chart_with_table(
        "volume-chart",
        &format!(
            "Complaints per {} ({} in all)",
            volume.bucket.as_str(),
            volume.total
        ),
        &["Starting", "Complaints"],
        &bars,
    ));
    let titles = [
        ("site", "By site"),
        ("category", "By category"),
        ("value_orientation", "By what customers value"),
        ("severity", "By severity"),
        ("mood", "By mood"),
        ("outcome", "By what they want"),
        ("channel", "By channel"),
        ("language", "By language"),
    ];
    for dimension in &volume.dimensions {
        let title = titles
            .iter()
            .find(|(name, _)| *name == dimension.name)
            .map_or(dimension.name, |(_, title)| title);
        let human = |row: &crate::store::DimensionRow| {
            if row.label == row.key {
                words(&row.label)
            } else {
                row.label.clone()
            }
        };
        if dimension.name == "value_orientation" || dimension.name == "category" {
            let bars: Vec<(String, i64)> = dimension
                .rows
                .iter()
                .map(|row| (human(row), row.total))
                .collect();
            html.push_str(&chart_with_table(
                &format!("{}-chart", dimension.name),
                title,
                &["Value", "Complaints"],
                &bars,
            ));
        } else {
            let mut head = vec!["Value", "Total"];
            head.extend(volume.buckets.iter().map(String::as_str));
            let rows: Vec<Vec<String>> = dimension
                .rows
                .iter()
                .map(|row| {
                    let mut cells = vec![escape(&human(row)), row.total.to_string()];
                    cells.extend(row.counts.iter().map(i64::to_string));
                    cells
                })
                .collect();
            html.push_str(&table(title, &head, &rows));
        }
    }
    html.push_str("</section>\n");
    html
}

fn handling_section(handling: &HandlingFigures) -> String {
    let mut html = String::from(
        "<section aria-labelledby=\"handling-title\">\n<h2 id=\"handling-title\">Handling</h2>\n",
    );
    let times = [
        ("Time to acknowledge", &handling.time_to_acknowledge),
        ("Time to first response", &handling.time_to_first_response),
        ("Time to resolution", &handling.time_to_resolution),
    ];
    let rows: Vec<Vec<String>> = times
        .iter()
        .map(|(name, value)| {
            vec![
                (*name).to_owned(),
                value.count.to_string(),
                duration(value.median_ms),
                duration(value.p90_ms),
            ]
        })
        .collect();
    html.push_str(&table(
        &format!("Response times ({} complaints)", handling.complaints),
        &["Measure", "Complaints", "Median", "90th percentile"],
        &rows,
    ));
    let promises = [
        ("First response in time", &handling.first_response_sla),
        ("Resolution in time", &handling.resolution_sla),
    ];
    let mut rows: Vec<Vec<String>> = promises
        .iter()
        .map(|(name, value)| {
            vec![
                (*name).to_owned(),
                value.due.to_string(),
                value.met.to_string(),
                percent(value.rate),
            ]
        })
        .collect();
    rows.push(vec![
        "Reopened after resolution".to_owned(),
        handling.reopen.resolved.to_string(),
        handling.reopen.reopened.to_string(),
        percent(handling.reopen.rate),
    ]);
    html.push_str(&table(
        "Targets and reopening",
        &["Measure", "Complaints", "Met / reopened", "Share"],
        &rows,
    ));
    let backlog = &handling.backlog;
    let bars: Vec<(String, i64)> = backlog
        .ages
        .iter()
        .map(|band| (band.label.to_owned(), band.count))
        .collect();
    html.push_str(&chart_with_table(
        "backlog-chart",
        &format!(
            "Open now: {} complaints, median age {}, oldest {}",
            backlog.open,
            duration(backlog.median_age_ms),
            duration(backlog.oldest_age_ms)
        ),
        &["Age", "Open complaints"],
        &bars,
    ));
    html.push_str("</section>\n");
    html
}

fn scores_rows(rows: &[Scores]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| {
            vec![
                escape(&row.label),
                row.responses.to_string(),
                row.average_satisfaction
                    .map_or_else(|| "—".to_owned(), |average| format!("{average:.1}")),
                row.recovered.to_string(),
                percent(row.recovery_rate),
            ]
        })
        .collect()
}

fn satisfaction_section(satisfaction: &SatisfactionFigures) -> String {
    let mut html = String::from(
        "<section aria-labelledby=\"satisfaction-title\">\n\
         <h2 id=\"satisfaction-title\">Satisfaction and recovery</h2>\n",
    );
    let overall = &satisfaction.overall;
    let _ = writeln!(
        html,
        "<p>{} survey answers; {} would buy again: a recovery rate of {}.</p>",
        overall.responses,
        overall.recovered,
        percent(overall.recovery_rate)
    );
    let bars: Vec<(String, i64)> = satisfaction
        .distribution
        .iter()
        .enumerate()
        .map(|(index, count)| (format!("{} of 5", index + 1), *count))
        .collect();
    html.push_str(&chart_with_table(
        "scores-chart",
        "Satisfaction scores",
        &["Score", "Answers"],
        &bars,
    ));
    let head = [
        "Group",
        "Answers",
        "Average score",
        "Would buy again",
        "Recovery rate",
    ];
    html.push_str(&table(
        "Fast (within a day) and slow resolutions",
        &head,
        &scores_rows(&satisfaction.by_speed),
    ));
    html.push_str(&table(
        "By category",
        &head,
        &scores_rows(&satisfaction.by_category),
    ));
    html.push_str(&table(
        "By team",
        &head,
        &scores_rows(&satisfaction.by_team),
    ));
    html.push_str("</section>\n");
    html
}

fn links(references: &[String]) -> String {
    references
        .iter()
        .map(|reference| {
            format!(
                "<a href=\"/inbox/c/{}\">{}</a>",
                percent_encode(reference),
                escape(reference)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn causes_section(causes: &CausesFigures) -> String {
    let mut html = String::from(
        "<section aria-labelledby=\"causes-title\">\n<h2 id=\"causes-title\">Root causes</h2>\n",
    );
    let rows: Vec<Vec<String>> = causes
        .clusters
        .iter()
        .map(|cluster| {
            vec![
                escape(&cluster.label),
                cluster.size.to_string(),
                if cluster.safety { "yes" } else { "no" }.to_owned(),
                links(&cluster.examples),
            ]
        })
        .collect();
    html.push_str(&table(
        "Largest clusters of similar complaints",
        &["Category", "Complaints", "Safety", "Newest complaints"],
        &rows,
    ));
    let _ = writeln!(
        html,
        "<p>Recurring words in the newest {} complaints of the range.</p>",
        causes.complaints_read
    );
    for category in &causes.categories {
        let rows: Vec<Vec<String>> = category
            .terms
            .iter()
            .map(|term| {
                vec![
                    escape(&term.term),
                    term.complaints.to_string(),
                    links(&term.examples),
                ]
            })
            .collect();
        html.push_str(&table(
            &format!("{} ({} complaints)", category.label, category.complaints),
            &["Term", "Complaints", "Newest complaints"],
            &rows,
        ));
    }
    html.push_str("</section>\n");
    html
}
