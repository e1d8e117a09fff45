//! Staff email for what time and patterns raise, rather than a new
//! complaint: an overdue complaint's escalation step, a cluster of similar
//! complaints, the owners' daily and weekly digests. Same rules as
//! [`super::email`]: the reader's language, facts only, no header built
//! from anything but control-free text.

use serde::Deserialize;

use super::email::Catalog;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationWords {
    subject_first_response: String,
    subject_resolution: String,
    intro_assignee: String,
    intro_team_lead: String,
    intro_owners: String,
    first_response_due: String,
    resolution_due: String,
    overdue_minutes: String,
    status: String,
    nobody: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterWords {
    subject: String,
    subject_safety: String,
    subject_grew: String,
    intro: String,
    complaints: String,
    open: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestWords {
    subject_daily: String,
    subject_weekly: String,
    period: String,
    new: String,
    overdue: String,
    resolved: String,
    satisfaction: String,
    answers: String,
    quick_enough: String,
    clusters: String,
    value_orientations: String,
    none: String,
    open: String,
    footer: String,
}

/// Text from the payload with control characters removed, so nothing in it
/// can break a header line.
fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.chars().filter(|c| !c.is_control()).collect(),
        serde_json::Value::Number(number) => number.to_string(),
        _ => String::new(),
    }
}

/// `label: value` on its own line of `body`; nothing when `value` is empty.
pub(super) fn labelled_line(body: &mut String, label: &str, value: &str) {
    if !value.is_empty() {
        body.push_str(&format!("{label}: {value}\n"));
    }
}

/// Subject and body for the event types this module knows; `None` for the
/// others.
pub fn render(
    event: &serde_json::Value,
    words: &Catalog,
    public_url: &str,
) -> Option<(String, String)> {
    match event["type"].as_str()? {
        "complaint.escalated" => Some(escalation(&event["data"], words, public_url)),
        "cluster.detected" | "cluster.grew" => Some(cluster(event, words, public_url)),
        "digest.daily" | "digest.weekly" => Some(digest(event, words, public_url)),
        _ => None,
    }
}

fn escalation(data: &serde_json::Value, words: &Catalog, public_url: &str) -> (String, String) {
    let own = &words.escalation;
    let reference = text(&data["reference"]);
    let site = text(&data["site"]["name"]);
    let fill = |template: &str| {
        template
            .replace("{reference}", &reference)
            .replace("{site}", &site)
    };
    let first_response = data["overdue"].as_str() == Some("first_response");
    let subject = fill(if first_response {
        &own.subject_first_response
    } else {
        &own.subject_resolution
    });
    let mut body = match data["level"].as_str() {
        Some("team_lead") => own.intro_team_lead.clone(),
        Some("owners") => own.intro_owners.clone(),
        _ => own.intro_assignee.clone(),
    };
    body.push_str("\n\n");
    let mut line = |label: &str, value: String| labelled_line(&mut body, label, &value);
    line(&words.reference, reference.clone());
    line(&words.site, site.clone());
    line(&words.category, text(&data["category_label"]));
    line(&words.severity, text(&data["severity"]));
    line(&own.status, text(&data["status"]));
    let due_label = if first_response {
        &own.first_response_due
    } else {
        &own.resolution_due
    };
    line(due_label, text(&data["due_at"]));
    line(&own.overdue_minutes, text(&data["overdue_minutes"]));
    line(&words.team, text(&data["team"]["name"]));
    let assignee = text(&data["assignee"]["name"]);
    line(
        &words.assigned,
        if assignee.is_empty() {
            own.nobody.clone()
        } else {
            assignee
        },
    );
    body.push_str(&format!(
        "\n{}\n{public_url}/inbox/c/{reference}\n\n-- \n{}\n",
        words.open,
        fill(&words.footer)
    ));
    (subject, body)
}

fn cluster(event: &serde_json::Value, words: &Catalog, public_url: &str) -> (String, String) {
    let own = &words.cluster;
    let data = &event["data"];
    let size = text(&data["size"]);
    let category = text(&data["category_label"]);
    let fill = |template: &str| {
        template
            .replace("{size}", &size)
            .replace("{category}", &category)
            .replace("{hours}", &text(&data["window_hours"]))
    };
    let subject = if event["type"].as_str() == Some("cluster.grew") {
        fill(&own.subject_grew)
    } else if data["safety"].as_bool() == Some(true) {
        fill(&own.subject_safety)
    } else {
        fill(&own.subject)
    };
    let mut body = fill(&own.intro);
    body.push_str(&format!("\n\n{}:\n", own.complaints));
    for complaint in data["complaints"].as_array().into_iter().flatten() {
        let reference = text(&complaint["reference"]);
        body.push_str(&format!(
            "- {reference} ({}, {}) {public_url}/inbox/c/{reference}\n",
            text(&complaint["site"]["name"]),
            text(&complaint["received_at"]),
        ));
    }
    body.push_str(&format!(
        "\n{}\n{public_url}/inbox/alerts#cluster-{}\n\n-- \n{}\n",
        own.open,
        text(&data["cluster_id"]),
        words.digest.footer
    ));
    (subject, body)
}

fn digest(event: &serde_json::Value, words: &Catalog, public_url: &str) -> (String, String) {
    let own = &words.digest;
    let data = &event["data"];
    let figures = &data["figures"];
    let merchant = text(&data["merchant"]);
    let subject = if data["period"].as_str() == Some("weekly") {
        &own.subject_weekly
    } else {
        &own.subject_daily
    }
    .replace("{merchant}", &merchant);
    let mut body = format!(
        "{}: {} – {}\n\n",
        own.period,
        text(&data["from"]),
        text(&data["to"])
    );
    for (label, key) in [
        (&own.new, "new"),
        (&own.overdue, "overdue"),
        (&own.resolved, "resolved"),
    ] {
        body.push_str(&format!("{label}: {}\n", text(&figures[key])));
    }
    let satisfaction = &figures["satisfaction"];
    if satisfaction.is_object() {
        body.push_str(&format!(
            "{}: {} ({} {}, {}% {})\n",
            own.satisfaction,
            text(&satisfaction["average"]),
            text(&satisfaction["answers"]),
            own.answers,
            text(&satisfaction["quick_enough_percent"]),
            own.quick_enough,
        ));
    }
    body.push_str(&format!("\n{}:\n", own.clusters));
    let clusters = figures["top_clusters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if clusters.is_empty() {
        body.push_str(&format!("- {}\n", own.none));
    }
    for cluster in &clusters {
        body.push_str(&format!(
            "- {}: {}{}\n",
            text(&cluster["category_label"]),
            text(&cluster["size"]),
            if cluster["safety"].as_bool() == Some(true) {
                " (!)"
            } else {
                ""
            }
        ));
    }
    body.push_str(&format!("\n{}:\n", own.value_orientations));
    let orientations = figures["top_value_orientations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if orientations.is_empty() {
        body.push_str(&format!("- {}\n", own.none));
    }
    for pair in &orientations {
        body.push_str(&format!("- {}: {}\n", text(&pair[0]), text(&pair[1])));
    }
    body.push_str(&format!(
        "\n{}\n{public_url}/inbox\n\n-- \n{}\n",
        own.open, own.footer
    ));
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::super::email::{catalog, render as render_any};

    #[test]
    fn an_escalation_email_says_what_is_overdue_for_whom_in_the_readers_language() {
        let payload = serde_json::json!({
            "type": "complaint.escalated",
            "data": {
                "reference": "HRD-AAAA-BBBB",
                "site": {"name": "Dairy\r\nBcc: evil@example.com"},
                "category_label": "Product problem",
                "status": "received",
                "overdue": "first_response",
                "due_at": "2026-11-23T05:00:00.000Z",
                "overdue_minutes": 61,
                "level": "team_lead",
                "team": {"id": 1, "name": "Everyone"},
                "assignee": null
            }
        })
        .to_string();
        let (subject, body) = render_any(&payload, None, "https://heard.example");
        assert_eq!(
            subject,
            "Overdue: no answer yet to HRD-AAAA-BBBB — DairyBcc: evil@example.com"
        );
        assert!(body.starts_with("A complaint in your team"), "{body}");
        assert!(body.contains("Overdue by (minutes): 61\n"), "{body}");
        assert!(body.contains("Assigned to: nobody yet\n"), "{body}");
        assert!(
            body.contains("https://heard.example/inbox/c/HRD-AAAA-BBBB"),
            "{body}"
        );
        let (subject, _) = render_any(&payload, Some("zh-Hans"), "https://heard.example");
        assert!(subject.starts_with("已超时"), "{subject}");
    }

    #[test]
    fn a_cluster_alert_lists_its_complaints_and_a_digest_its_figures() {
        let cluster = serde_json::json!({
            "type": "cluster.detected",
            "data": {
                "cluster_id": 7, "category_label": "Food", "safety": false, "size": 3,
                "window_hours": 48,
                "complaints": [
                    {"reference": "HRD-1111-1111", "site": {"name": "North"}, "received_at": "t1"},
                    {"reference": "HRD-2222-2222", "site": {"name": "South"}, "received_at": "t2"}
                ]
            }
        });
        let (subject, body) = super::render(&cluster, catalog(None), "https://h.example").unwrap();
        assert_eq!(subject, "3 similar complaints about Food");
        assert!(body.contains("within 48 hours"), "{body}");
        assert!(
            body.contains("- HRD-2222-2222 (South, t2) https://h.example/inbox/c/HRD-2222-2222\n"),
            "{body}"
        );
        assert!(
            body.contains("https://h.example/inbox/alerts#cluster-7"),
            "{body}"
        );
        let digest = serde_json::json!({
            "type": "digest.weekly",
            "data": {
                "merchant": "Acme", "period": "weekly", "from": "a", "to": "b",
                "figures": {
                    "new": 12, "overdue": 2, "resolved": 9,
                    "satisfaction": {"answers": 4, "average": 4.5, "quick_enough_percent": 75},
                    "top_clusters": [{"id": 7, "category_label": "Food", "size": 3, "safety": true}],
                    "top_value_orientations": [["reliability", 5]]
                }
            }
        });
        let (subject, body) =
            super::render(&digest, catalog(Some("de")), "https://h.example").unwrap();
        assert_eq!(subject, "Wöchentliche Beschwerdeübersicht — Acme");
        assert!(body.contains("Neue Beschwerden: 12\n"), "{body}");
        assert!(
            body.contains("Zufriedenheit (1–5): 4.5 (4 Antworten, 75% schnell genug)"),
            "{body}"
        );
        assert!(body.contains("- Food: 3 (!)\n"), "{body}");
        assert!(body.contains("- reliability: 5\n"), "{body}");
        assert!(
            super::render(
                &serde_json::json!({"type": "complaint.received"}),
                catalog(None),
                ""
            )
            .is_none()
        );
    }
}
