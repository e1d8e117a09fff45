//! Writing shopper email: the language catalogs (`i18n/*.toml`, one file per
//! language) and the message with its plain-text and HTML parts.
//!
//! **Shopper input never becomes a header.** The recipient is a parsed
//! [`Address`] (which refuses CR, LF and spaces), the subject holds only the
//! reference and the merchant's site name with control characters removed,
//! and lettre encodes every header it writes. The shopper's name and words go
//! in the body alone, escaped in the HTML part.

use std::sync::OnceLock;

use heard_shared::Status;
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use serde::Deserialize;

use super::words::PageWords;
use crate::clock;
use crate::store::{MailKind, MailUpdate, QueuedMail};

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
    subject_update: String,
    subject_reply: String,
    update_acknowledged: String,
    update_status: String,
    update_waiting: String,
    update_resolved: String,
    update_reply: String,
    update_reply_anonymous: String,
    reply_hint: String,
    survey_invitation: String,
    status_received: String,
    status_acknowledged: String,
    status_in_progress: String,
    status_waiting_for_you: String,
    status_resolved: String,
    status_closed: String,
    /// The status page's words (`[page]`).
    pub page: PageWords,
}

impl Catalog {
    /// A status's name in this language.
    pub fn status(&self, status: Status) -> &str {
        match status {
            Status::Received => &self.status_received,
            Status::Acknowledged => &self.status_acknowledged,
            Status::InProgress => &self.status_in_progress,
            Status::WaitingForYou => &self.status_waiting_for_you,
            Status::Resolved => &self.status_resolved,
            Status::Closed => &self.status_closed,
        }
    }
}

/// Every language with a catalog, by its BCP 47 tag; English first.
pub(super) const CATALOGS: &[(&str, &str)] = &[
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
    let staff = mail
        .update
        .as_ref()
        .and_then(|update| update.first_name.as_deref())
        .unwrap_or_default();
    let status = mail
        .update
        .as_ref()
        .and_then(|update| update.status)
        .map_or("", |status| words.status(status));
    let fill = |template: &str| {
        template
            .replace("{reference}", &one_line(&mail.reference))
            .replace("{site}", &one_line(&mail.site_name))
            .replace("{staff}", &one_line(staff))
            .replace("{status}", status)
            .replace(
                "{name}",
                &one_line(mail.contact_name.as_deref().unwrap_or_default()),
            )
    };
    let greeting = match mail.contact_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => fill(&words.greeting),
        _ => words.greeting_anonymous.clone(),
    };
    let received = clock::human(mail.complaint_created_at);
    let summary = match mail.kind {
        MailKind::Update => String::new(),
        MailKind::Acknowledgement | MailKind::Recovery => summary(&mail.description),
    };
    let footer = match mail.kind {
        MailKind::Acknowledgement | MailKind::Update => words.closing.clone(),
        MailKind::Recovery => format!("{}\n{}", words.closing, words.not_you),
    };
    let (subject, intro, quote, after) = match (mail.kind, &mail.update) {
        (MailKind::Acknowledgement, _) => (
            fill(&words.subject_acknowledgement),
            fill(&words.acknowledgement),
            None,
            Vec::new(),
        ),
        (MailKind::Recovery, _) => (
            fill(&words.subject_recovery),
            fill(&words.recovery),
            None,
            Vec::new(),
        ),
        (MailKind::Update, update) => update_words(words, update.as_ref(), &fill, staff),
    };

    let mut text = format!("{greeting}\n\n{intro}\n");
    if let Some(quote) = &quote {
        for line in quote.lines() {
            text.push_str(&format!("> {line}\n"));
        }
    }
    for paragraph in &after {
        text.push_str(&format!("\n{paragraph}\n"));
    }
    text.push_str(&format!(
        "\n{}: {}\n{}: {received}\n{}: {}\n",
        words.reference, mail.reference, words.received, words.about, mail.category_label
    ));
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
         <p>{}</p>\n<p>{}</p>\n",
        escape(&subject),
        escape(&greeting),
        escape(&intro),
    );
    if let Some(quote) = &quote {
        html.push_str(&format!(
            "<blockquote style=\"white-space:pre-wrap\">{}</blockquote>\n",
            escape(quote)
        ));
    }
    for paragraph in &after {
        html.push_str(&format!("<p>{}</p>\n", escape(paragraph)));
    }
    html.push_str(&format!(
        "<table>\n\
         <tr><th style=\"text-align:start\">{}</th><td><strong>{}</strong></td></tr>\n\
         <tr><th style=\"text-align:start\">{}</th><td>{}</td></tr>\n\
         <tr><th style=\"text-align:start\">{}</th><td>{}</td></tr>\n</table>\n",
        escape(&words.reference),
        escape(&mail.reference),
        escape(&words.received),
        escape(&received),
        escape(&words.about),
        escape(&mail.category_label),
    ));
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
        subject,
        text,
        html,
    }
}

/// An update's subject, opening sentence, quoted reply and what follows:
/// what to do when the shop waits for the shopper, and the survey
/// invitation when the complaint is resolved.
fn update_words(
    words: &Catalog,
    update: Option<&MailUpdate>,
    fill: &dyn Fn(&str) -> String,
    staff: &str,
) -> (String, String, Option<String>, Vec<String>) {
    let kind = update.map_or("", |update| update.event_kind.as_str());
    if kind == "public_reply" {
        let intro = if staff.trim().is_empty() {
            fill(&words.update_reply_anonymous)
        } else {
            fill(&words.update_reply)
        };
        let quote = update.and_then(|update| update.body.clone());
        return (
            fill(&words.subject_reply),
            intro,
            quote,
            vec![words.reply_hint.clone()],
        );
    }
    let subject = fill(&words.subject_update);
    if kind == "acknowledged" {
        return (subject, fill(&words.update_acknowledged), None, Vec::new());
    }
    let intro = fill(&words.update_status);
    let after = match update.and_then(|update| update.status) {
        Some(Status::WaitingForYou) => vec![fill(&words.update_waiting)],
        Some(Status::Resolved) => {
            vec![fill(&words.update_resolved), fill(&words.survey_invitation)]
        }
        _ => Vec::new(),
    };
    (subject, intro, None, after)
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
            update: None,
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

    fn update(language: &str, event_kind: &str, status: Option<Status>) -> QueuedMail {
        QueuedMail {
            kind: MailKind::Update,
            update: Some(MailUpdate {
                event_kind: event_kind.to_owned(),
                status,
                body: Some("<script>x</script>\nSecond line".to_owned()),
                first_name: Some("Ana\r\nBcc: z@evil.example".to_owned()),
            }),
            ..queued(language)
        }
    }

    #[test]
    fn updates_quote_the_reply_escaped_and_invite_the_survey_on_resolution() {
        let reply = render(&update("ar", "public_reply", None));
        assert!(reply.html.contains("dir=\"rtl\""));
        assert!(reply.html.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(!reply.html.contains("<script>"));
        assert!(reply.text.contains("> <script>x</script>\n> Second line"));
        assert!(!reply.subject.contains('\n') && !reply.subject.contains('\r'));
        for (tag, _) in CATALOGS {
            let resolved = render(&update(tag, "status_changed", Some(Status::Resolved)));
            let words = catalog(tag);
            assert!(resolved.text.contains(&words.status_resolved), "{tag}");
            assert!(
                resolved.text.contains(words.survey_invitation.trim()),
                "{tag}: the survey invitation"
            );
            let waiting = render(&update(tag, "status_changed", Some(Status::InProgress)));
            assert!(
                !waiting.text.contains(words.survey_invitation.trim()),
                "{tag}"
            );
        }
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
