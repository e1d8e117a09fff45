//! Turning the form into the wire type the collector accepts.
//!
//! Everything the widget fills in on the shopper's behalf (language, page
//! address, browser) is made valid here, so the shared rules can only ever
//! complain about what the shopper typed — things they can fix.

use std::collections::BTreeMap;

use heard_shared::limits::{PAGE_URL_MAX_CHARS, USER_AGENT_MAX_CHARS};
use heard_shared::validate::is_language_tag;
use heard_shared::{ComplaintSubmission, SiteConfig};

use crate::state::Draft;

/// What the widget learns from the page it runs on (see [`crate::page`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageContext {
    /// `<html lang>`.
    pub document_language: Option<String>,
    /// `navigator.language`.
    pub browser_language: Option<String>,
    /// `location.href`.
    pub page_url: Option<String>,
    /// `navigator.userAgent`.
    pub user_agent: Option<String>,
}

/// Builds the submission from the form, trimming the shopper's text at the
/// ends only.
pub fn build_submission(
    draft: &Draft,
    page: &PageContext,
    site: &SiteConfig,
) -> ComplaintSubmission {
    let remedy = draft.remedy.trim();
    ComplaintSubmission {
        category: draft.category.clone().unwrap_or_default(),
        description: draft.description.trim().to_owned(),
        outcomes: draft.outcomes.clone(),
        remedy: (!remedy.is_empty()).then(|| remedy.to_owned()),
        severity: None,
        mood: None,
        language: choose_language(page, site),
        page_url: page.page_url.as_deref().and_then(page_url_for_submission),
        user_agent: page
            .user_agent
            .as_deref()
            .map(|agent| clip(agent, USER_AGENT_MAX_CHARS))
            .filter(|agent| !agent.is_empty()),
        answers: BTreeMap::new(),
        contact: None,
        ..ComplaintSubmission::default()
    }
}

/// The page's declared language, else the browser's, else the site's first,
/// taking only well-formed tags. `en_US`-style tags are repaired on the way.
pub fn choose_language(page: &PageContext, site: &SiteConfig) -> String {
    let page_candidates = [&page.document_language, &page.browser_language]
        .into_iter()
        .flatten()
        .map(|tag| tag.trim().replace('_', "-"));
    page_candidates
        .chain(site.languages.iter().cloned())
        .find(|tag| is_language_tag(tag))
        .unwrap_or_else(|| "en".to_owned())
}

/// The page address as the collector accepts it: http(s) only, and within the
/// length limit, dropping the query and fragment of an over-long address
/// rather than the whole address.
pub fn page_url_for_submission(url: &str) -> Option<String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return None;
    }
    let fits = |candidate: &str| {
        candidate.chars().count() <= PAGE_URL_MAX_CHARS && !candidate.chars().any(char::is_control)
    };
    if fits(url) {
        return Some(url.to_owned());
    }
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    fits(without_query).then(|| without_query.to_owned())
}

/// Formats 16 random bytes as a version 4 UUID, for browsers without
/// `crypto.randomUUID` (it needs a secure context; merchants' pages may not be).
pub fn uuid_v4_from_bytes(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

fn clip(text: &str, max_chars: usize) -> String {
    text.chars()
        .filter(|character| !character.is_control())
        .take(max_chars)
        .collect()
}

#[cfg(test)]
mod tests {
    use heard_shared::limits::DESCRIPTION_MAX_CHARS;
    use heard_shared::{Outcome, validate_submission};

    use super::*;

    fn site() -> SiteConfig {
        let mut site = SiteConfig::with_defaults("demo", "Heard demo shop");
        site.languages = vec!["de".to_owned(), "en".to_owned()];
        site
    }

    fn page() -> PageContext {
        PageContext {
            document_language: Some("en-GB".to_owned()),
            browser_language: Some("fr".to_owned()),
            page_url: Some("https://shop.example/kettle?colour=red".to_owned()),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".to_owned()),
        }
    }

    fn draft() -> Draft {
        Draft {
            category: Some("product".to_owned()),
            description: "  The kettle stopped working.\n".to_owned(),
            outcomes: vec![Outcome::Fix],
            remedy: "   ".to_owned(),
        }
    }

    #[test]
    fn a_typical_form_becomes_a_valid_submission() {
        let submission = build_submission(&draft(), &page(), &site());
        assert_eq!(submission.category, "product");
        assert_eq!(submission.description, "The kettle stopped working.");
        assert_eq!(submission.outcomes, [Outcome::Fix]);
        assert_eq!(submission.remedy, None, "a blank remedy is left out");
        assert_eq!(submission.language, "en-GB");
        assert_eq!(
            submission.page_url.as_deref(),
            Some("https://shop.example/kettle?colour=red")
        );
        assert!(submission.contact.is_none(), "anonymous by default");
        assert_eq!(validate_submission(&submission, &site()), Ok(()));
    }

    #[test]
    fn the_submission_serialises_to_the_documented_json() {
        let mut with_remedy = draft();
        with_remedy.remedy = " A replacement ".to_owned();
        let json = serde_json::to_value(build_submission(&with_remedy, &page(), &site())).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "category": "product",
                "description": "The kettle stopped working.",
                "outcomes": ["fix"],
                "remedy": "A replacement",
                "language": "en-GB",
                "page_url": "https://shop.example/kettle?colour=red",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            })
        );
    }

    #[test]
    fn only_what_the_shopper_typed_can_fail_validation() {
        let hostile_page = PageContext {
            document_language: Some("<script>".to_owned()),
            browser_language: Some("en_US".to_owned()),
            page_url: Some(format!(
                "https://shop.example/?q={}",
                "x".repeat(PAGE_URL_MAX_CHARS)
            )),
            user_agent: Some(format!("agent\u{0}{}", "y".repeat(USER_AGENT_MAX_CHARS))),
        };
        let submission = build_submission(&draft(), &hostile_page, &site());
        assert_eq!(submission.language, "en-US");
        assert_eq!(
            submission.page_url.as_deref(),
            Some("https://shop.example/")
        );
        assert_eq!(validate_submission(&submission, &site()), Ok(()));

        let mut too_long = draft();
        too_long.description = "x".repeat(DESCRIPTION_MAX_CHARS + 1);
        let problems = validate_submission(
            &build_submission(&too_long, &hostile_page, &site()),
            &site(),
        )
        .unwrap_err();
        let fields: Vec<&str> = problems
            .iter()
            .map(|problem| problem.field.as_str())
            .collect();
        assert_eq!(fields, ["description"]);
    }

    #[test]
    fn language_falls_back_from_page_to_browser_to_site() {
        let mut page = page();
        page.document_language = None;
        assert_eq!(choose_language(&page, &site()), "fr");
        page.browser_language = Some(String::new());
        assert_eq!(choose_language(&page, &site()), "de");
        let mut no_languages = site();
        no_languages.languages.clear();
        assert_eq!(choose_language(&page, &no_languages), "en");
    }

    #[test]
    fn pages_that_are_not_http_are_left_out() {
        assert_eq!(page_url_for_submission("file:///home/shop.html"), None);
        assert_eq!(page_url_for_submission("about:blank"), None);
        let long_path = format!("https://shop.example/{}", "p".repeat(PAGE_URL_MAX_CHARS));
        assert_eq!(page_url_for_submission(&long_path), None);
    }

    #[test]
    fn random_bytes_become_a_version_4_uuid() {
        let uuid = uuid_v4_from_bytes([0xff; 16]);
        assert_eq!(uuid, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(heard_shared::validate::validate_idempotency_key(&uuid).is_ok());
        assert_eq!(
            uuid_v4_from_bytes([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
    }
}
