//! The shopper's status page `GET /r/{token}`, in the complaint's language
//! (`lang`, and `dir="rtl"` for Arabic): what they sent, what has happened
//! since, what they can do now (reply, mark resolved, reopen, the survey) and
//! their data. Plain HTML without scripts; it prints cleanly.
//!
//! **Every shopper-, staff- or merchant-supplied string goes through
//! [`escape`]**; the catalogs' sentences are escaped too, before the
//! (already escaped) values are filled into them.

use std::fmt::Write;

use heard_shared::{Status, SubmissionKind};

use super::html::{document_with_direction, escape};
use crate::mail::words::{Page, fill};
use crate::store::{ComplaintRecord, FollowUp, ShopperEvent};

/// The whole page. `reopen_until` is when the shopper's reopening window
/// ends, if it is open now.
pub fn render(
    complaint: &ComplaintRecord,
    follow_up: &FollowUp,
    reopen_until: Option<i64>,
    token: &str,
) -> String {
    let page = Page::for_language(&complaint.language);
    let words = page.words;
    let token = escape(token);
    let reference = escape(&complaint.reference);
    let mut body = String::with_capacity(4096 + complaint.description.len());
    let heading = match complaint.kind {
        SubmissionKind::Complaint => &words.heading_complaint,
        SubmissionKind::Suggestion => &words.heading_suggestion,
        SubmissionKind::Callback => &words.heading_callback,
    };
    let _ = write!(
        body,
        "<main class=\"receipt\">\n<p class=\"site\">{site}</p>\n\
         <h1>{heading}</h1>\n<p class=\"lead\">{lead}</p>\n<dl class=\"facts\">\n\
         <div><dt>{reference_label}</dt><dd class=\"reference\" data-heard=\"reference\">{reference}</dd></div>\n\
         <div><dt>{received}</dt><dd><time datetime=\"{iso}\">{when}</time></dd></div>\n\
         <div><dt>{status_label}</dt><dd data-heard=\"status\">{status}</dd></div>\n",
        site = escape(&complaint.site_name),
        heading = escape(heading),
        lead = escape(&words.lead),
        reference_label = escape(&words.reference),
        received = escape(&words.received),
        iso = crate::clock::rfc3339(complaint.created_at),
        when = escape(&page.time(complaint.created_at)),
        status_label = escape(&words.status),
        status = escape(page.status(follow_up.status)),
    );
    if let Some(name) = &follow_up.looked_after_by {
        let _ = writeln!(
            body,
            "<div><dt>{}</dt><dd data-heard=\"looked-after-by\">{}</dd></div>",
            escape(&words.looked_after_by),
            escape(name)
        );
    }
    let _ = write!(
        body,
        "</dl>\n<section>\n<h2>{told_us}</h2>\n<dl class=\"sent\">\n\
         <div><dt>{about}</dt><dd>{category}</dd></div>\n\
         <div><dt>{what_happened}</dt><dd class=\"text\" data-heard=\"description\">{description}</dd></div>\n",
        told_us = escape(&words.told_us),
        about = escape(&words.about),
        category = escape(&complaint.category_label),
        what_happened = escape(&words.what_happened),
        description = escape(&complaint.description),
    );
    let mut fact = |label: &str, value: &str, hook: &str| {
        let _ = writeln!(
            body,
            "<div><dt>{}</dt><dd{hook}>{}</dd></div>",
            escape(label),
            escape(value)
        );
    };
    if !complaint.outcomes.is_empty() {
        let wanted: Vec<&str> = complaint
            .outcomes
            .iter()
            .map(|outcome| page.outcome(*outcome))
            .collect();
        fact(&words.wanted, &wanted.join(", "), "");
    }
    if let Some(remedy) = &complaint.remedy {
        fact(&words.in_your_words, remedy, " class=\"text\"");
    }
    if let Some(window) = &complaint.callback_window {
        fact(&words.when_to_call, window, "");
    }
    if complaint.photos > 0 {
        let count = complaint.photos.to_string();
        fact(
            &words.photos,
            &fill(&words.photos_attached, &[("count", &count)]),
            " data-heard=\"photos\"",
        );
    }
    if let Some(severity) = complaint.severity {
        fact(&words.how_bad, page.severity(severity), "");
    }
    if let Some(mood) = complaint.mood {
        fact(&words.how_you_felt, page.mood(mood), "");
    }
    body.push_str("</dl>\n</section>\n");
    render_timeline(&mut body, &page, &follow_up.timeline);
    render_actions(&mut body, &page, follow_up, reopen_until, &token);
    let next = match follow_up.status {
        Status::Resolved if reopen_until.is_some() => &words.next_resolved_reopen,
        Status::Resolved => &words.next_resolved,
        Status::Closed => &words.next_closed,
        _ => &words.next_open,
    };
    let contact = if complaint.anonymous {
        &words.contact_anonymous
    } else {
        &words.contact_given
    };
    let _ = write!(
        body,
        "<section>\n<h2>{next_heading}</h2>\n<p>{next} {contact}</p>\n\
         <p class=\"keep\">{keep} <strong>{reference}</strong></p>\n</section>\n\
         <section class=\"actions\" aria-labelledby=\"your-data\">\n<h2 id=\"your-data\">{your_data}</h2>\n\
         <p>{your_data_lead}</p>\n<ul>\n\
         <li><a href=\"/api/v1/receipts/{token}/export\" data-heard=\"export\">{download}</a></li>\n\
         <li><a href=\"/r/{token}/delete\" data-heard=\"delete\">{delete}</a> {delete_note}</li>\n\
         </ul>\n</section>\n</main>\n",
        next_heading = escape(&words.next_heading),
        next = escape(next),
        contact = escape(contact),
        keep = escape(&words.keep),
        your_data = escape(&words.your_data),
        your_data_lead = escape(&words.your_data_lead),
        download = escape(&words.download),
        delete = escape(&words.delete),
        delete_note = escape(&words.delete_note),
    );
    let title = fill(
        &words.title,
        &[
            ("reference", &complaint.reference),
            ("site", &complaint.site_name),
        ],
    );
    document_with_direction(page.language, page.direction(), &title, &body)
}

/// "What has happened": every public event, oldest first.
fn render_timeline(body: &mut String, page: &Page, timeline: &[ShopperEvent]) {
    if timeline.is_empty() {
        return;
    }
    let words = page.words;
    let _ = write!(
        body,
        "<section aria-labelledby=\"history\">\n<h2 id=\"history\">{}</h2>\n\
         <ol class=\"timeline\" data-heard=\"timeline\">\n",
        escape(&words.history)
    );
    for event in timeline {
        let status = event
            .status
            .map(|status| escape(page.status(status)))
            .unwrap_or_default();
        let what = match (event.kind.as_str(), event.status) {
            ("received", _) => escape(&words.event_received),
            ("acknowledged", _) => escape(&words.event_acknowledged),
            ("status_changed", Some(_)) if event.because_of_reply => {
                fill(&escape(&words.event_reply_reopened), &[("status", &status)])
            }
            ("status_changed", Some(Status::Resolved)) if event.by_shopper => {
                escape(&words.event_you_resolved)
            }
            ("status_changed", Some(_)) if event.by_shopper => {
                fill(&escape(&words.event_you_reopened), &[("status", &status)])
            }
            ("status_changed", Some(_)) => {
                fill(&escape(&words.event_status), &[("status", &status)])
            }
            ("public_reply", _) => match &event.first_name {
                Some(name) => fill(
                    &escape(&words.event_reply_from),
                    &[("staff", &escape(name))],
                ),
                None => escape(&words.event_reply),
            },
            ("shopper_reply", _) => escape(&words.event_your_reply),
            ("survey_received", _) => escape(&words.event_survey),
            _ => continue,
        };
        let class = if event.kind == "shopper_reply" || event.by_shopper {
            " class=\"yours\""
        } else {
            ""
        };
        let _ = write!(
            body,
            "<li{class} data-heard=\"event-{kind}\"><time datetime=\"{iso}\">{when}</time> <span>{what}</span>",
            kind = escape(&event.kind),
            iso = crate::clock::rfc3339(event.at),
            when = escape(&page.time(event.at)),
        );
        if let Some(reply) = event
            .body
            .as_deref()
            .filter(|_| matches!(event.kind.as_str(), "public_reply" | "shopper_reply"))
        {
            let hook = if event.kind == "public_reply" {
                "reply"
            } else {
                "your-reply"
            };
            let _ = write!(
                body,
                "<blockquote class=\"text\" data-heard=\"{hook}\">{}</blockquote>",
                escape(reply)
            );
        }
        if event.photos > 0 {
            let _ = write!(
                body,
                "<p class=\"photos\">{}</p>",
                fill(
                    &escape(&words.event_photos),
                    &[("count", &event.photos.to_string())]
                )
            );
        }
        body.push_str("</li>\n");
    }
    body.push_str("</ol>\n</section>\n");
}

/// What the shopper can do now: reply, mark resolved, reopen; and the
/// survey, invited once resolved and shown once answered.
fn render_actions(
    body: &mut String,
    page: &Page,
    follow_up: &FollowUp,
    reopen_until: Option<i64>,
    token: &str,
) {
    let words = page.words;
    let status = follow_up.status;
    let mut actions = Vec::new();
    if status != Status::Closed {
        actions.push(format!(
            "<li><a href=\"/r/{token}/reply\" data-heard=\"reply\">{}</a></li>",
            escape(&words.action_reply)
        ));
    }
    if !matches!(status, Status::Resolved | Status::Closed) {
        actions.push(format!(
            "<li><a href=\"/r/{token}/resolve\" data-heard=\"resolve\">{}</a></li>",
            escape(&words.action_resolve)
        ));
    }
    if let Some(until) = reopen_until {
        let date = format!(
            "<time datetime=\"{}\">{}</time>",
            crate::clock::rfc3339(until),
            escape(&page.time(until))
        );
        actions.push(format!(
            "<li><a href=\"/r/{token}/reopen\" data-heard=\"reopen\">{}</a> {}</li>",
            escape(&words.action_reopen),
            fill(&escape(&words.reopen_until), &[("date", &date)])
        ));
    }
    if !actions.is_empty() {
        let _ = write!(
            body,
            "<section aria-labelledby=\"your-turn\">\n<h2 id=\"your-turn\">{}</h2>\n\
             <ul class=\"links\">\n{}\n</ul>\n</section>\n",
            escape(&words.your_turn),
            actions.join("\n")
        );
    }
    match (&follow_up.survey, status) {
        (None, Status::Resolved) => {
            let _ = write!(
                body,
                "<section aria-labelledby=\"survey\" class=\"survey\">\n<h2 id=\"survey\">{}</h2>\n\
                 <p>{}</p>\n<p><a href=\"/r/{token}/survey\" data-heard=\"take-survey\">{}</a></p>\n</section>\n",
                escape(&words.survey_heading),
                escape(&words.survey_invitation),
                escape(&words.survey_take),
            );
        }
        (Some(survey), _) => {
            let yes_no = |answer: bool| escape(if answer { &words.yes } else { &words.no });
            let _ = write!(
                body,
                "<section aria-labelledby=\"survey\" class=\"survey\">\n<h2 id=\"survey\">{heading}</h2>\n\
                 <dl class=\"facts\" data-heard=\"survey-answers\">\n\
                 <div><dt>{satisfaction}</dt><dd data-heard=\"survey-satisfaction\">{score}</dd></div>\n\
                 <div><dt>{quick}</dt><dd>{quick_answer}</dd></div>\n\
                 <div><dt>{again}</dt><dd>{again_answer}</dd></div>\n",
                heading = escape(&words.survey_answers),
                satisfaction = escape(&words.survey_satisfaction),
                score = fill(
                    &escape(&words.survey_score),
                    &[("score", &survey.satisfaction.to_string())]
                ),
                quick = escape(&words.survey_quick),
                quick_answer = yes_no(survey.quick_enough),
                again = escape(&words.survey_again),
                again_answer = yes_no(survey.would_return),
            );
            if let Some(comment) = &survey.comment {
                let _ = writeln!(
                    body,
                    "<div><dt>{}</dt><dd class=\"text\">{}</dd></div>",
                    escape(&words.survey_comment),
                    escape(comment)
                );
            }
            body.push_str("</dl>\n");
            if status == Status::Resolved {
                let _ = writeln!(
                    body,
                    "<p><a href=\"/r/{token}/survey\" data-heard=\"change-survey\">{}</a></p>",
                    escape(&words.survey_change)
                );
            }
            body.push_str("</section>\n");
        }
        (None, _) => {}
    }
}
