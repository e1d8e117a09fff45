//! Email to staff: the message, in the staff member's language (English when
//! none is set or it has no catalog), and its SMTP transport.
//!
//! The body holds what the outbox row holds — facts about the complaint and
//! what routing did — never the shopper's words or contact details, which
//! staff read in the inbox.

use std::sync::OnceLock;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use super::email_alerts::labelled_line;
use crate::mail::MailError;
use crate::settings::Settings;

/// The words of one language; every key is required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub(super) subject_new: String,
    pub(super) subject_urgent: String,
    pub(super) subject_safety: String,
    pub(super) intro: String,
    pub(super) intro_safety: String,
    pub(super) reference: String,
    pub(super) site: String,
    pub(super) category: String,
    pub(super) severity: String,
    pub(super) mood: String,
    pub(super) priority: String,
    pub(super) assigned: String,
    pub(super) team: String,
    pub(super) escalated: String,
    pub(super) rules: String,
    pub(super) open: String,
    pub(super) footer: String,
    pub(super) escalation: super::email_alerts::EscalationWords,
    pub(super) cluster: super::email_alerts::ClusterWords,
    pub(super) digest: super::email_alerts::DigestWords,
}

/// Every language with a catalog, by BCP 47 tag; English first.
const CATALOGS: &[(&str, &str)] = &[
    ("en", include_str!("i18n/en.toml")),
    ("de", include_str!("i18n/de.toml")),
    ("es", include_str!("i18n/es.toml")),
    ("fr", include_str!("i18n/fr.toml")),
    ("zh-Hans", include_str!("i18n/zh-Hans.toml")),
];

/// The languages staff email is written in.
pub fn languages() -> impl Iterator<Item = &'static str> {
    CATALOGS.iter().map(|(tag, _)| *tag)
}

fn catalogs() -> &'static Vec<(&'static str, Catalog)> {
    static PARSED: OnceLock<Vec<(&'static str, Catalog)>> = OnceLock::new();
    PARSED.get_or_init(|| {
        CATALOGS
            .iter()
            .map(|(tag, text)| {
                let catalog = toml::from_str(text)
                    .unwrap_or_else(|error| panic!("notify/i18n/{tag}.toml: {error}"));
                (*tag, catalog)
            })
            .collect()
    })
}

/// The catalog for `language`: exact tag, then its primary subtag (`zh`
/// finds `zh-Hans`, `de-AT` finds `de`), else English.
pub fn catalog(language: Option<&str>) -> &'static Catalog {
    let all = catalogs();
    let english = &all[0].1;
    let Some(language) = language else {
        return english;
    };
    let lower = language.to_ascii_lowercase();
    let primary = lower.split('-').next().unwrap_or_default();
    all.iter()
        .find(|(tag, _)| tag.eq_ignore_ascii_case(&lower))
        .or_else(|| {
            all.iter()
                .find(|(tag, _)| tag.split('-').next() == Some(primary))
        })
        .map_or(english, |(_, catalog)| catalog)
}

/// Subject and plain-text body for the stored event.
pub fn render(payload: &str, language: Option<&str>, public_url: &str) -> (String, String) {
    let words = catalog(language);
    let event: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    if let Some(rendered) = super::email_alerts::render(&event, words, public_url) {
        return rendered;
    }
    let data = &event["data"];
    let text = |value: &serde_json::Value| -> String {
        value
            .as_str()
            .unwrap_or_default()
            .chars()
            .filter(|character| !character.is_control())
            .collect()
    };
    let reference = text(&data["reference"]);
    let site = text(&data["site"]["name"]);
    let fill = |template: &str| {
        template
            .replace("{reference}", &reference)
            .replace("{site}", &site)
    };
    let safety = data["safety"].as_bool() == Some(true);
    let subject = if safety {
        fill(&words.subject_safety)
    } else if data["priority"].as_str() == Some("urgent") {
        fill(&words.subject_urgent)
    } else {
        fill(&words.subject_new)
    };
    let mut body = String::new();
    body.push_str(if safety {
        &words.intro_safety
    } else {
        &words.intro
    });
    body.push_str("\n\n");
    let mut line = |label: &str, value: String| labelled_line(&mut body, label, &value);
    line(&words.reference, reference.clone());
    line(&words.site, site.clone());
    line(&words.category, text(&data["category_label"]));
    line(&words.severity, text(&data["severity"]));
    line(&words.mood, text(&data["mood"]));
    line(&words.priority, text(&data["priority"]));
    line(&words.team, text(&data["team"]["name"]));
    line(&words.assigned, text(&data["assignee"]["name"]));
    let rules: Vec<String> = data["rules"]
        .as_array()
        .map(|rules| rules.iter().map(|rule| text(&rule["name"])).collect())
        .unwrap_or_default();
    line(&words.rules, rules.join(", "));
    if data["escalated"].as_bool() == Some(true) {
        body.push_str(&format!("\n{}\n", words.escalated));
    }
    body.push_str(&format!(
        "\n{}\n{public_url}/api/v1/inbox/complaints/{reference}\n\n-- \n{}\n",
        words.open,
        fill(&words.footer)
    ));
    (subject, body)
}

/// Where staff email goes: an SMTP server, or nowhere yet (it waits).
#[derive(Clone)]
pub struct StaffMail {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl StaffMail {
    /// The same SMTP server and sender as shopper email.
    pub fn from_settings(settings: &Settings) -> Result<StaffMail, MailError> {
        let (transport, from) = crate::mail::smtp(settings)?;
        Ok(StaffMail { transport, from })
    }

    /// Plain SMTP to `127.0.0.1:port`, for tests.
    #[cfg(test)]
    pub fn loopback(port: u16) -> StaffMail {
        StaffMail::from_settings(&crate::mail::loopback_settings(port))
            .expect("loopback SMTP settings")
    }

    pub fn configured(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends one message; the error in words when it was not accepted.
    pub async fn send(
        &self,
        address: &str,
        display_name: &str,
        subject: &str,
        body: String,
    ) -> Result<(), String> {
        let Some(transport) = &self.transport else {
            return Err("no smtp_host is configured".to_owned());
        };
        let to = Mailbox::new(
            Some(display_name.to_owned()),
            address
                .parse()
                .map_err(|error: lettre::address::AddressError| error.to_string())?,
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(body),
            )
            .map_err(|error| error.to_string())?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_parses_and_languages_fall_back() {
        assert_eq!(catalogs().len(), CATALOGS.len());
        assert_eq!(catalog(Some("de-AT")).team, "Team");
        assert_eq!(catalog(Some("zh")).team, "团队");
        assert_eq!(catalog(Some("ZH-hans")).team, "团队");
        assert_eq!(catalog(Some("xx")).priority, "Priority");
        assert_eq!(catalog(None).priority, "Priority");
    }

    #[test]
    fn the_email_holds_the_facts_in_the_readers_language() {
        let payload = serde_json::json!({
            "type": "complaint.received",
            "data": {
                "reference": "HRD-AAAA-BBBB",
                "site": {"name": "Dairy\r\nBcc: evil@example.com"},
                "category_label": "Safety or health",
                "severity": "serious",
                "safety": true,
                "priority": "urgent",
                "team": {"id": 1, "name": "Everyone"},
                "rules": [{"id": 3, "name": "Night shift"}],
                "escalated": true
            }
        })
        .to_string();
        let (subject, body) = render(&payload, None, "https://heard.example");
        assert_eq!(
            subject,
            "Safety complaint HRD-AAAA-BBBB — DairyBcc: evil@example.com: act now"
        );
        assert!(!subject.contains('\n'));
        assert!(body.contains("Reference: HRD-AAAA-BBBB\n"), "{body}");
        assert!(body.contains("Matched rules: Night shift\n"), "{body}");
        assert!(body.contains("This complaint was escalated."), "{body}");
        assert!(
            body.contains("https://heard.example/api/v1/inbox/complaints/HRD-AAAA-BBBB"),
            "{body}"
        );
        let (subject, body) = render(&payload, Some("zh-Hans"), "https://heard.example");
        assert!(subject.starts_with("安全投诉 HRD-AAAA-BBBB"), "{subject}");
        assert!(body.contains("编号: HRD-AAAA-BBBB"), "{body}");
    }
}
