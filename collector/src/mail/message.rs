//! Writing shopper email: the language catalogs (`i18n/*.toml`, one file per
//! language) and the message with its plain-text and HTML parts.
//!
//! **Shopper input never becomes a header.** The recipient is a parsed
//! [`Address`] (which refuses CR, LF and spaces), the subject holds only the
//! reference and the merchant's site name with control characters removed,
//! and lettre encodes every header it writes. The shopper's name and words go
//! in the body alone, escaped in the HTML part.

use std::sync::OnceLock;

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use serde::Deserialize;

use crate::clock;
use crate::store::{MailKind, QueuedMail};

/// The words of one language. Every key is required, so a catalog missing a
/// sentence fails the tests rather than a shopper.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    subject_acknowledgement: String,
    subject_recovery: String,
    greeting: String,
    greeting_anonymous: String,
    acknowledgement: String,
    recovery: String,
    reference: String,
    received: String,
    about: String,
    summary: String,
    link: String,
    closing: String,
    not_you: String,
}

/// Every language with a catalog, by its BCP 47 tag; English first.
const CATALOGS: &[(&str, &str)] = &[
    ("en", include_str!("i18n/en.toml")),
    ("de", include_str!("i18n/de.toml")),
    ("es", include_str!("i18n/es.toml")),
    ("fr", include_str!("i18n/fr.toml")),
    ("pt", include_str!("i18n/pt.toml")),
    ("ja", include_str!("i18n/ja.toml")),
    ("ko", include_str!("i18n/ko.toml")),
    ("zh-Hans", include_str!("i18n/zh-Hans.toml")),
    ("zh-Hant", include_str!("i18n/zh-Hant.toml")),
    ("ar", include_str!("i18n/ar.toml")),
];

/// How much of the shopper's description the email repeats.
const SUMMARY_CHARS: usize = 280;

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("the recipient address is not valid: {0}")]
    Recipient(String),
    #[error("the message could not be built: {0}")]
    Build(String),
}

/// A message's words, before they become MIME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub language: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The catalog language that serves `tag` best: exact, then Chinese script
/// by region, then the primary language, then English.
pub fn language_for(tag: &str) -> &'static str {
    let lower = tag.trim().to_ascii_lowercase().replace('_', "-");
    if let Some((known, _)) = CATALOGS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(&lower))
    {
        return known;
    }
    let primary = lower.split('-').next().unwrap_or_default();
    if primary == "zh" {
        let traditional = lower
            .split('-')
            .skip(1)
            .any(|part| matches!(part, "hant" | "tw" | "hk" | "mo"));
        return if traditional { "zh-Hant" } else { "zh-Hans" };
    }
    CATALOGS
        .iter()
        .find(|(known, _)| *known == primary)
        .map_or("en", |(known, _)| known)
}

/// The parsed catalog of a language returned by [`language_for`].
pub fn catalog(language: &str) -> &'static Catalog {
    static PARSED: OnceLock<Vec<(&'static str, Catalog)>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        CATALOGS
            .iter()
            .map(|(tag, text)| {
                let catalog = toml::from_str(text)
                    .unwrap_or_else(|error| panic!("mail catalog {tag} is broken: {error}"));
                (*tag, catalog)
            })
            .collect()
    });
    parsed
        .iter()
        .find(|(tag, _)| *tag == language)
        .map_or(&parsed[0].1, |(_, catalog)| catalog)
}

/// The subject and both bodies of `mail`, in its complaint's language.
pub fn render(mail: &QueuedMail) -> Rendered {
    let language = language_for(&mail.language);
    let words = catalog(language);
    let fill = |template: &str| {
        template
            .replace("{reference}", &one_line(&mail.reference))
            .replace("{site}", &one_line(&mail.site_name))
            .replace(
                "{name}",
                &one_line(mail.contact_name.as_deref().unwrap_or_default()),
            )
    };
    let (subject, intro) = match mail.kind {
        MailKind::Acknowledgement => (&words.subject_acknowledgement, &words.acknowledgement),
        MailKind::Recovery => (&words.subject_recovery, &words.recovery),
    };
    let greeting = match mail.contact_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => fill(&words.greeting),
        _ => words.greeting_anonymous.clone(),
    };
    let intro = fill(intro);
    let received = clock::human(mail.complaint_created_at);
    let summary = summary(&mail.description);
    let footer = match mail.kind {
        MailKind::Acknowledgement => words.closing.clone(),
        MailKind::Recovery => format!("{}\n{}", words.closing, words.not_you),
    };

    let mut text = format!(
        "{greeting}\n\n{intro}\n\n{}: {}\n{}: {received}\n{}: {}\n",
        words.reference, mail.reference, words.received, words.about, mail.category_label
    );
    if !summary.is_empty() {
        text.push_str(&format!("{}:\n{summary}\n", words.summary));
    }
    text.push_str(&format!(
        "\n{}\n{}\n\n{footer}\n",
        words.link, mail.status_url
    ));

    let direction = if language == "ar" { "rtl" } else { "ltr" };
    let mut html = format!(
        "<!doctype html>\n<html lang=\"{language}\" dir=\"{direction}\">\n<head><meta charset=\"utf-8\">\
         <title>{}</title></head>\n<body style=\"font-family:sans-serif;line-height:1.5\">\n\
         <p>{}</p>\n<p>{}</p>\n<table>\n\
         <tr><th style=\"text-align:start\">{}</th><td><strong>{}</strong></td></tr>\n\
         <tr><th style=\"text-align:start\">{}</th><td>{}</td></tr>\n\
         <tr><th style=\"text-align:start\">{}</th><td>{}</td></tr>\n</table>\n",
        escape(&fill(subject)),
        escape(&greeting),
        escape(&intro),
        escape(&words.reference),
        escape(&mail.reference),
        escape(&words.received),
        escape(&received),
        escape(&words.about),
        escape(&mail.category_label),
    );
    if !summary.is_empty() {
        html.push_str(&format!(
            "<p>{}:</p>\n<blockquote style=\"white-space:pre-wrap\">{}</blockquote>\n",
            escape(&words.summary),
            escape(&summary)
        ));
    }
    html.push_str(&format!(
        "<p>{}<br>\n<a href=\"{url}\">{url}</a></p>\n<p>{}</p>\n</body>\n</html>\n",
        escape(&words.link),
        escape(&footer).replace('\n', "<br>\n"),
        url = escape(&mail.status_url),
    ));
    Rendered {
        language,
        subject: fill(subject),
        text,
        html,
    }
}

/// The whole message: `From`, `To`, `Subject`, and a multipart/alternative
/// body with the plain-text part first.
pub fn build(mail: &QueuedMail, from: &Mailbox) -> Result<Message, MessageError> {
    let recipient = mail
        .recipient
        .parse()
        .map_err(|error: lettre::address::AddressError| {
            MessageError::Recipient(error.to_string())
        })?;
    let rendered = render(mail);
    let part = |content_type: ContentType, body: String| {
        SinglePart::builder()
            .header(content_type)
            // Base64 keeps long lines and every script intact on any relay.
            .header(ContentTransferEncoding::Base64)
            .body(body)
    };
    Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, recipient))
        .subject(rendered.subject)
        .multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, rendered.text))
                .singlepart(part(ContentType::TEXT_HTML, rendered.html)),
        )
        .map_err(|error| MessageError::Build(error.to_string()))
}

/// The category and the start of what the shopper wrote.
fn summary(description: &str) -> String {
    let description = description.trim();
    if description.chars().count() <= SUMMARY_CHARS {
        return description.to_owned();
    }
    let mut short: String = description.chars().take(SUMMARY_CHARS).collect();
    short.push('…');
    short
}

/// Text for a header or a one-line slot: control characters become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect()
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 16);
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(language: &str) -> QueuedMail {
        QueuedMail {
            id: 1,
            kind: MailKind::Acknowledgement,
            recipient: "ana@example.com".to_owned(),
            status_url: "http://heard.test/r/abc".to_owned(),
            attempts: 0,
            reference: "HRD-7K3Q-9M2X".to_owned(),
            site_name: "Demo\r\nBcc: x@evil.example".to_owned(),
            language: language.to_owned(),
            category_label: "Product problem".to_owned(),
            description: "<b>Broke</b> & leaked".to_owned(),
            contact_name: Some("Ana\r\nBcc: y@evil.example".to_owned()),
            complaint_created_at: 1_795_410_729_123,
        }
    }

    #[test]
    fn every_catalog_parses_and_languages_are_negotiated() {
        for (tag, _) in CATALOGS {
            assert!(!catalog(tag).subject_acknowledgement.is_empty(), "{tag}");
        }
        assert_eq!(language_for("de-AT"), "de");
        assert_eq!(language_for("zh-TW"), "zh-Hant");
        assert_eq!(language_for("zh-Hant-HK"), "zh-Hant");
        assert_eq!(language_for("zh"), "zh-Hans");
        assert_eq!(language_for("ZH-hans"), "zh-Hans");
        assert_eq!(language_for("pt-BR"), "pt");
        assert_eq!(language_for("xx"), "en");
    }

    #[test]
    fn html_is_escaped_and_headers_stay_on_one_line() {
        let rendered = render(&queued("de"));
        assert!(
            rendered.subject.starts_with("Wir haben"),
            "{}",
            rendered.subject
        );
        assert!(!rendered.subject.contains('\n') && !rendered.subject.contains('\r'));
        assert!(
            rendered
                .html
                .contains("&lt;b&gt;Broke&lt;/b&gt; &amp; leaked")
        );
        assert!(!rendered.html.contains("<b>Broke"));
        assert!(rendered.text.contains("http://heard.test/r/abc"));

        let message = build(&queued("de"), &"Heard <heard@example.com>".parse().unwrap())
            .unwrap()
            .formatted();
        let message = String::from_utf8(message).unwrap();
        let headers = message.split("\r\n\r\n").next().unwrap();
        assert!(
            !headers.to_ascii_lowercase().contains("\r\nbcc:"),
            "{headers}"
        );
    }

    #[test]
    fn a_recipient_with_a_line_break_is_refused() {
        let mut mail = queued("en");
        mail.recipient = "ana@example.com\r\nBcc: x@evil.example".to_owned();
        let from = "Heard <heard@example.com>".parse().unwrap();
        assert!(matches!(
            build(&mail, &from),
            Err(MessageError::Recipient(_))
        ));
    }
}
