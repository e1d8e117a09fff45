//! Reading the site's configuration (`GET …/config`) by hand, field by
//! field, rather than through serde's derived readers: with this and the
//! other answers read by hand (`api::parse_receipt`, `api::error_body`,
//! the catalogs), no serde deserializer is left in the wasm at all, which
//! is kilobytes shoppers do not download. A test checks the result against
//! the derived reader.

use heard_shared::{
    Branding, Category, Channel, ChannelKind, SiteConfig, ValueOrientation,
    site::{Question, QuestionKind},
};

use crate::json::{self, JsonObject};

/// The configuration in `body`; `None` when any part of it is not what the
/// collector sends.
pub fn parse_site_config(body: &str) -> Option<SiteConfig> {
    let site = json::object(body)?;
    Some(SiteConfig {
        site_key: site.text("site_key")?,
        name: site.text("name")?,
        languages: site.texts("languages"),
        categories: site
            .objects("categories")
            .iter()
            .map(category)
            .collect::<Option<_>>()?,
        channels: site
            .objects("channels")
            .iter()
            .map(channel)
            .collect::<Option<_>>()?,
        branding: match site.object("branding") {
            Some(branding) => Branding {
                accent_color: branding.text("accent_color")?,
                launcher_label: branding.text("launcher_label")?,
                invitation: branding.text("invitation")?,
            },
            None => Branding::default(),
        },
        response_target_hours: whole(site.number("response_target_hours")),
    })
}

fn category(category: &JsonObject) -> Option<Category> {
    Some(Category {
        id: category.text("id")?,
        label: category.text("label")?,
        hint: category.text("hint"),
        value: match category.text("value") {
            Some(value) => Some(value_orientation(&value)?),
            None => None,
        },
        urgent: category.flag("urgent").unwrap_or(false),
        suggestion: category.flag("suggestion").unwrap_or(false),
        hidden: category.flag("hidden").unwrap_or(false),
        questions: category
            .objects("questions")
            .iter()
            .map(question)
            .collect::<Option<_>>()?,
    })
}

fn question(question: &JsonObject) -> Option<Question> {
    Some(Question {
        id: question.text("id")?,
        label: question.text("label")?,
        kind: match question.text("kind")?.as_str() {
            "text" => QuestionKind::Text,
            "long_text" => QuestionKind::LongText,
            "date" => QuestionKind::Date,
            "order_number" => QuestionKind::OrderNumber,
            "choice" => QuestionKind::Choice,
            "proof" => QuestionKind::Proof,
            _ => return None,
        },
        options: question.texts("options"),
        required: question.flag("required").unwrap_or(false),
        hint: question.text("hint"),
    })
}

fn channel(channel: &JsonObject) -> Option<Channel> {
    Some(Channel {
        kind: match channel.text("kind")?.as_str() {
            "call" => ChannelKind::Call,
            "email" => ChannelKind::Email,
            "chat" => ChannelKind::Chat,
            "callback" => ChannelKind::Callback,
            _ => return None,
        },
        label: channel.text("label")?,
        target: channel.text("target"),
    })
}

fn value_orientation(text: &str) -> Option<ValueOrientation> {
    use ValueOrientation::*;
    [
        Speed,
        Courtesy,
        ValueForMoney,
        Reliability,
        Flexibility,
        PersonalCare,
        Convenience,
        Safety,
    ]
    .into_iter()
    .find(|value| value.as_str() == text)
}

/// A whole number that fits a `u32`, else nothing.
pub fn whole(number: Option<f64>) -> Option<u32> {
    number
        .filter(|number| *number >= 0.0 && *number <= f64::from(u32::MAX) && number.fract() == 0.0)
        .map(|number| number as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both_ways(site: &SiteConfig) {
        let text = serde_json::to_string(site).unwrap();
        let derived: SiteConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(parse_site_config(&text), Some(derived), "{text}");
    }

    #[test]
    fn the_default_site_reads_as_the_derived_reader_reads_it() {
        both_ways(&SiteConfig::with_defaults("demo", "Heard demo shop"));
    }

    #[test]
    fn every_optional_part_reads_as_the_derived_reader_reads_it() {
        let mut site = SiteConfig::with_defaults("demo", "Heard demo shop");
        site.channels = vec![
            Channel {
                kind: ChannelKind::Call,
                label: "Call us".to_owned(),
                target: Some("+44 20 7946 0000".to_owned()),
            },
            Channel {
                kind: ChannelKind::Callback,
                label: "Call me".to_owned(),
                target: None,
            },
        ];
        site.response_target_hours = Some(36);
        site.branding.accent_color = "#123456".to_owned();
        site.categories[0].urgent = true;
        site.categories[0].hidden = true;
        site.categories[1].suggestion = true;
        site.categories[1].value = None;
        site.categories[1].hint = None;
        both_ways(&site);
        site.categories.clear();
        both_ways(&site);
    }

    #[test]
    fn unknown_kinds_and_missing_fields_are_refused_and_branding_defaults() {
        let minimal = r#"{"site_key":"s","name":"S","languages":["en"],"categories":[]}"#;
        let site = parse_site_config(minimal).unwrap();
        assert_eq!(site.branding, Branding::default());
        assert_eq!(site.response_target_hours, None);
        for bad in [
            r#"{"name":"S","languages":[],"categories":[]}"#,
            r#"{"site_key":"s","name":"S","languages":[],"categories":[{"id":"a","label":"A","value":"cheapness"}]}"#,
            r#"{"site_key":"s","name":"S","languages":[],"categories":[{"id":"a","label":"A","questions":[{"id":"q","label":"Q","kind":"essay"}]}]}"#,
            r#"{"site_key":"s","name":"S","languages":[],"categories":[],"channels":[{"kind":"fax","label":"Fax"}]}"#,
            "[]",
        ] {
            assert_eq!(parse_site_config(bad), None, "{bad}");
        }
    }

    #[test]
    fn whole_numbers_only() {
        assert_eq!(whole(Some(24.0)), Some(24));
        assert_eq!(whole(Some(-1.0)), None);
        assert_eq!(whole(Some(1.5)), None);
        assert_eq!(whole(Some(1e12)), None);
        assert_eq!(whole(None), None);
    }
}
