//! The words of the shopper's status page and its forms, in the complaint's
//! language: the `[page]` table of each mail catalog (`i18n/*.toml`), and the
//! labels of what the shopper chose in the widget (outcomes, severity, mood),
//! read from the widget's own catalogs so the page says what the widget said.

use std::collections::HashMap;
use std::sync::OnceLock;

use heard_shared::{Mood, Outcome, Severity};
use serde::Deserialize;

use super::message::{catalog, language_for};
use crate::clock;

/// Every sentence of the status page. Every key is required, so a catalog
/// missing one fails the tests rather than a shopper.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageWords {
    pub title: String,
    pub heading_complaint: String,
    pub heading_suggestion: String,
    pub heading_callback: String,
    pub lead: String,
    pub reference: String,
    pub received: String,
    pub status: String,
    pub looked_after_by: String,
    pub told_us: String,
    pub about: String,
    pub what_happened: String,
    pub wanted: String,
    pub in_your_words: String,
    pub when_to_call: String,
    pub photos: String,
    pub photos_attached: String,
    pub how_bad: String,
    pub how_you_felt: String,
    pub history: String,
    pub event_received: String,
    pub event_acknowledged: String,
    pub event_status: String,
    pub event_reply_from: String,
    pub event_reply: String,
    pub event_your_reply: String,
    pub event_reply_reopened: String,
    pub event_you_resolved: String,
    pub event_you_reopened: String,
    pub event_survey: String,
    pub event_photos: String,
    pub your_turn: String,
    pub action_reply: String,
    pub action_resolve: String,
    pub action_reopen: String,
    pub reopen_until: String,
    pub survey_heading: String,
    pub survey_invitation: String,
    pub survey_take: String,
    pub survey_answers: String,
    pub survey_satisfaction: String,
    pub survey_score: String,
    pub survey_quick: String,
    pub survey_again: String,
    pub survey_comment: String,
    pub yes: String,
    pub no: String,
    pub survey_change: String,
    pub next_heading: String,
    pub next_open: String,
    pub next_resolved_reopen: String,
    pub next_resolved: String,
    pub next_closed: String,
    pub contact_anonymous: String,
    pub contact_given: String,
    pub keep: String,
    pub your_data: String,
    pub your_data_lead: String,
    pub download: String,
    pub delete: String,
    pub delete_note: String,
    pub back: String,
    pub complaint: String,
    pub reply_title: String,
    pub reply_lead: String,
    pub reply_label: String,
    pub reply_hint: String,
    pub reply_send: String,
    pub resolve_title: String,
    pub resolve_lead: String,
    pub resolve_confirm: String,
    pub reopen_title: String,
    pub reopen_lead: String,
    pub reopen_confirm: String,
    pub survey_lead: String,
    pub survey_q_satisfaction: String,
    pub survey_very_unhappy: String,
    pub survey_very_happy: String,
    pub survey_q_quick: String,
    pub survey_q_again: String,
    pub survey_q_comment: String,
    pub survey_send: String,
    pub error_reply_empty: String,
    pub error_reply_too_long: String,
    pub error_survey_incomplete: String,
    pub error_comment_too_long: String,
    pub refused_closed: String,
    pub refused_not_open: String,
    pub refused_not_resolved: String,
    pub refused_window_over: String,
    pub delete_title: String,
    pub delete_lead: String,
    pub delete_download: String,
    pub delete_confirm: String,
    pub delete_keep: String,
    pub deleted_title: String,
    pub deleted_lead: String,
}

/// The widget's catalogs, by the same tags as the mail catalogs.
const WIDGET_CATALOGS: &[(&str, &str)] = &[
    ("en", include_str!("../../../widget/i18n/en.json")),
    ("de", include_str!("../../../widget/i18n/de.json")),
    ("es", include_str!("../../../widget/i18n/es.json")),
    ("fr", include_str!("../../../widget/i18n/fr.json")),
    ("pt", include_str!("../../../widget/i18n/pt.json")),
    ("ja", include_str!("../../../widget/i18n/ja.json")),
    ("ko", include_str!("../../../widget/i18n/ko.json")),
    ("zh-Hans", include_str!("../../../widget/i18n/zh-Hans.json")),
    ("zh-Hant", include_str!("../../../widget/i18n/zh-Hant.json")),
    ("ar", include_str!("../../../widget/i18n/ar.json")),
];

/// A status page's language: its catalog tag and words, and the direction
/// its text runs.
pub struct Page {
    pub language: &'static str,
    pub words: &'static PageWords,
}

impl Page {
    /// The page for a complaint in `tag` (negotiated like the email).
    pub fn for_language(tag: &str) -> Page {
        let language = language_for(tag);
        Page {
            language,
            words: &catalog(language).page,
        }
    }

    /// `rtl` for Arabic, `ltr` otherwise.
    pub fn direction(&self) -> &'static str {
        if self.language == "ar" { "rtl" } else { "ltr" }
    }

    /// A status's name, as the email names it.
    pub fn status(&self, status: heard_shared::Status) -> &'static str {
        catalog(self.language).status(status)
    }

    pub fn outcome(&self, outcome: Outcome) -> &'static str {
        let key = match outcome {
            Outcome::Heard => "outcome.heard",
            Outcome::Apology => "outcome.apology",
            Outcome::Fix => "outcome.fix",
            Outcome::Compensation => "outcome.compensation",
        };
        self.widget_label(key).unwrap_or(outcome.label())
    }

    pub fn severity(&self, severity: Severity) -> &'static str {
        let key = match severity {
            Severity::Inconvenience => "severity.inconvenience",
            Severity::CostMe => "severity.cost_me",
            Severity::Serious => "severity.serious",
        };
        self.widget_label(key).unwrap_or(severity.label())
    }

    pub fn mood(&self, mood: Mood) -> &'static str {
        let key = match mood {
            Mood::Calm => "mood.calm",
            Mood::Annoyed => "mood.annoyed",
            Mood::Upset => "mood.upset",
            Mood::Furious => "mood.furious",
        };
        self.widget_label(key).unwrap_or(mood.label())
    }

    /// A time: English as `23 Nov 2026, 07:45 UTC`, other languages in the
    /// numeric form every reader parses (`2026-11-23 07:45 UTC`).
    pub fn time(&self, millis: i64) -> String {
        if self.language == "en" {
            clock::human(millis)
        } else {
            let iso = clock::rfc3339(millis);
            format!("{} {} UTC", &iso[..10], &iso[11..16])
        }
    }

    /// A sentence the widget says too (`photos.add`, `photos.error.…`), so
    /// the page words a photo problem the way the widget does.
    pub fn widget_words(&self, key: &str) -> &'static str {
        self.widget_label(key).unwrap_or_default()
    }

    fn widget_label(&self, key: &str) -> Option<&'static str> {
        widget_catalog(self.language)
            .get(key)
            .or_else(|| widget_catalog("en").get(key))
            .map(String::as_str)
    }
}

/// Fills `{name}` placeholders; values must already be escaped for HTML.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

fn widget_catalog(language: &str) -> &'static HashMap<String, String> {
    static PARSED: OnceLock<Vec<(&'static str, HashMap<String, String>)>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        WIDGET_CATALOGS
            .iter()
            .map(|(tag, text)| {
                let words = serde_json::from_str(text)
                    .unwrap_or_else(|error| panic!("widget catalog {tag} is broken: {error}"));
                (*tag, words)
            })
            .collect()
    });
    parsed
        .iter()
        .find(|(tag, _)| *tag == language)
        .map_or(&parsed[0].1, |(_, words)| words)
}

#[cfg(test)]
mod tests {
    use super::super::message::CATALOGS;
    use super::*;

    #[test]
    fn every_language_has_the_page_words_and_the_widget_labels() {
        for (tag, _) in CATALOGS {
            let page = Page::for_language(tag);
            assert_eq!(page.language, *tag);
            assert!(page.words.title.contains("{reference}"), "{tag}");
            for key in [
                "outcome.heard",
                "outcome.apology",
                "outcome.fix",
                "outcome.compensation",
                "severity.inconvenience",
                "severity.cost_me",
                "severity.serious",
                "mood.calm",
                "mood.annoyed",
                "mood.upset",
                "mood.furious",
                "photos.add",
                "photos.hint",
                "photos.full",
                "photos.error.not_a_photo",
                "photos.error.too_large",
                "photos.error.refused",
            ] {
                assert!(widget_catalog(tag).contains_key(key), "{tag} lacks {key}");
            }
        }
        assert_eq!(Page::for_language("ar").direction(), "rtl");
        assert_eq!(
            Page::for_language("de-CH").outcome(Outcome::Fix),
            widget_catalog("de")["outcome.fix"]
        );
        assert_eq!(Page::for_language("ja").time(0), "1970-01-01 00:00 UTC");
    }

    /// Every sentence of every mail catalog, `[page]` included, keeps the
    /// English placeholders: a lost `{count}` would show a sentence with a
    /// hole, a stray one would show braces.
    #[test]
    fn every_catalog_keeps_the_english_placeholders() {
        fn sentences(text: &str) -> Vec<(String, Vec<String>)> {
            let table: toml::Table = toml::from_str(text).unwrap();
            let mut found = Vec::new();
            let mut visit = |prefix: &str, table: &toml::Table| {
                for (key, value) in table {
                    if let Some(text) = value.as_str() {
                        let mut holes: Vec<String> = text
                            .split('{')
                            .skip(1)
                            .filter_map(|rest| rest.split_once('}'))
                            .map(|(name, _)| name.to_owned())
                            .collect();
                        holes.sort();
                        found.push((format!("{prefix}{key}"), holes));
                    }
                }
            };
            visit("", &table);
            if let Some(page) = table.get("page").and_then(toml::Value::as_table) {
                visit("page.", page);
            }
            found.sort();
            found
        }
        let english = sentences(CATALOGS[0].1);
        for (tag, text) in CATALOGS {
            assert_eq!(sentences(text), english, "{tag}");
        }
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(fill("{score} of 5", &[("score", "4")]), "4 of 5");
    }
}
