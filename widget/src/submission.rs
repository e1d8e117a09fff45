//! Turning the form into the wire type the collector accepts.
//!
//! Everything the widget fills in on the shopper's behalf (language, page
//! address, browser) is made valid here, so the shared rules can only ever
//! complain about what the shopper typed — things they can fix.

use heard_shared::limits::{HONEYPOT_MAX_CHARS, PAGE_URL_MAX_CHARS, USER_AGENT_MAX_CHARS};
use heard_shared::{CallbackRequest, ComplaintSubmission, Contact, SiteConfig, SubmissionKind};

use crate::i18n;
use crate::state::Draft;

/// What the widget learns from the page it runs on (see [`crate::page`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageContext {
    /// `<html lang>`.
    pub document_language: Option<String>,
    /// `navigator.languages`, the shopper's order.
    pub browser_languages: Vec<String>,
    /// `location.href`.
    pub page_url: Option<String>,
    /// `navigator.userAgent`.
    pub user_agent: Option<String>,
}

/// Builds the submission from the form in `language`, trimming the
/// shopper's text at the ends only. Answers to other categories' questions,
/// visited and left, stay behind.
pub fn build_submission(
    draft: &Draft,
    page: &PageContext,
    site: &SiteConfig,
    language: &str,
) -> ComplaintSubmission {
    let callback = draft.kind == SubmissionKind::Callback;
    // Only a complaint asks how bad, how it feels and what would make it
    // right; answers left from a complaint flow visited earlier stay behind.
    let complaint = draft.kind == SubmissionKind::Complaint;
    let category = draft.category.clone().unwrap_or_default();
    let answers = match site.category(&category) {
        Some(chosen) if !callback => chosen
            .questions
            .iter()
            .filter_map(|question| {
                let answer = draft.answer(&question.id).trim();
                (!answer.is_empty()).then(|| (question.id.clone(), answer.to_owned()))
            })
            .collect(),
        _ => Default::default(),
    };
    let remedy = draft.remedy.trim();
    let text = |value: &str| Some(value.trim().to_owned()).filter(|value| !value.is_empty());
    let contact = Contact {
        name: text(&draft.contact.name),
        email: text(&draft.contact.email),
        phone: text(&draft.contact.phone),
        consent: draft.contact.consent,
    };
    ComplaintSubmission {
        category,
        description: draft.description.trim().to_owned(),
        outcomes: if complaint {
            draft.outcomes.clone()
        } else {
            Vec::new()
        },
        remedy: (!remedy.is_empty() && complaint).then(|| remedy.to_owned()),
        severity: draft.severity.filter(|_| complaint),
        mood: draft.mood.filter(|_| complaint),
        language: language.to_owned(),
        page_url: page.page_url.as_deref().and_then(page_url_for_submission),
        user_agent: browser_for_submission(page),
        answers,
        contact: (!contact.is_empty()).then_some(contact),
        kind: draft.kind,
        callback: callback.then(|| CallbackRequest {
            window: draft.callback_window.trim().to_owned(),
        }),
        attachments: if callback {
            Vec::new()
        } else {
            draft.photos.iter().map(|photo| photo.id.clone()).collect()
        },
        identity: draft.identity.clone(),
        // Filled in when sent: see `honeypot_for_submission` and `fill_ms`.
        honeypot: None,
        fill_ms: None,
    }
}

/// What the hidden honeypot input held when Send was pressed, as sent:
/// nothing when empty (people never see it), else a bot's text clipped so
/// that even a long one is stored, as spam, rather than refused.
pub fn honeypot_for_submission(value: &str) -> Option<String> {
    Some(clip(value, HONEYPOT_MAX_CHARS)).filter(|text| !text.is_empty())
}

/// Milliseconds from `shown_at_ms` (when the form was shown) to `now_ms`,
/// saturating: a clock set back gives 0, a form left open for weeks the
/// largest `u32`.
pub fn fill_ms(shown_at_ms: Option<f64>, now_ms: f64) -> Option<u32> {
    // `as` saturates, and maps NaN to 0.
    shown_at_ms.map(|shown| (now_ms - shown) as u32)
}

/// The widget's language for this page and site: see [`i18n::negotiate`].
pub fn choose_language(page: &PageContext, site: &SiteConfig) -> String {
    i18n::negotiate(
        &site.languages,
        page.document_language.as_deref(),
        &page.browser_languages,
    )
}

/// The user agent as sent (and shown before sending): without control
/// characters and within the limit.
pub fn browser_for_submission(page: &PageContext) -> Option<String> {
    page.user_agent
        .as_deref()
        .map(|agent| clip(agent, USER_AGENT_MAX_CHARS))
        .filter(|agent| !agent.is_empty())
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
    use heard_shared::{Identity, Outcome, Severity, validate_submission};

    use super::*;
    use crate::state::ContactDraft;

    fn site() -> SiteConfig {
        let mut site = SiteConfig::with_defaults("demo", "Heard demo shop");
        site.languages = vec!["de".to_owned(), "en".to_owned()];
        site
    }

    fn page() -> PageContext {
        PageContext {
            document_language: Some("en-GB".to_owned()),
            browser_languages: vec!["fr".to_owned()],
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
            ..Draft::default()
        }
    }

    #[test]
    fn a_typical_form_becomes_a_valid_submission() {
        let submission = build_submission(&draft(), &page(), &site(), "en");
        assert_eq!(submission.category, "product");
        assert_eq!(submission.description, "The kettle stopped working.");
        assert_eq!(submission.outcomes, [Outcome::Fix]);
        assert_eq!(submission.remedy, None, "a blank remedy is left out");
        assert_eq!(submission.language, "en");
        assert_eq!(
            submission.page_url.as_deref(),
            Some("https://shop.example/kettle?colour=red")
        );
        assert!(submission.contact.is_none(), "anonymous by default");
        assert_eq!(validate_submission(&submission, &site()), Ok(()));
    }

    #[test]
    fn a_filled_honeypot_is_sent_clipped_and_an_empty_one_not_at_all() {
        assert_eq!(honeypot_for_submission(""), None);
        let mut submission = build_submission(&draft(), &page(), &site(), "en");
        submission.honeypot = honeypot_for_submission(&"https://cheap.example/".repeat(100));
        let sent = submission.honeypot.clone().unwrap();
        assert_eq!(sent.chars().count(), HONEYPOT_MAX_CHARS);
        assert!(sent.starts_with("https://cheap.example/"));
        assert_eq!(validate_submission(&submission, &site()), Ok(()));
    }

    #[test]
    fn the_fill_time_saturates_at_both_ends() {
        assert_eq!(fill_ms(None, 5_000.0), None);
        assert_eq!(fill_ms(Some(1_000.0), 4_500.0), Some(3_500));
        assert_eq!(fill_ms(Some(9_000.0), 4_500.0), Some(0), "clock set back");
        assert_eq!(fill_ms(Some(0.0), 1e15), Some(u32::MAX));
        assert_eq!(fill_ms(Some(f64::NAN), 1.0), Some(0));
    }

    #[test]
    fn the_submission_serialises_to_the_documented_json() {
        let mut full = draft();
        full.remedy = " A replacement ".to_owned();
        full.severity = Some(Severity::CostMe);
        full.answers
            .insert("order_number".to_owned(), " A-1029 ".to_owned());
        // Answers to another category's questions are not sent.
        full.answers
            .insert("delivery_status".to_owned(), "late".to_owned());
        full.contact = ContactDraft {
            email: "ana@example.org".to_owned(),
            consent: true,
            ..ContactDraft::default()
        };
        let json = serde_json::to_value(build_submission(&full, &page(), &site(), "de")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "category": "product",
                "description": "The kettle stopped working.",
                "outcomes": ["fix"],
                "remedy": "A replacement",
                "severity": "cost_me",
                "language": "de",
                "page_url": "https://shop.example/kettle?colour=red",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
                "answers": {"order_number": "A-1029"},
                "contact": {"email": "ana@example.org", "consent": true},
            })
        );
    }

    #[test]
    fn a_callback_request_needs_only_a_phone_and_a_time() {
        let callback = Draft {
            kind: SubmissionKind::Callback,
            contact: ContactDraft {
                phone: "+44 20 7946 0000".to_owned(),
                consent: true,
                ..ContactDraft::default()
            },
            callback_window: "Weekdays, 9:00–12:00".to_owned(),
            outcomes: vec![Outcome::Fix],
            identity: Some(Identity {
                customer_id: Some("c-1".to_owned()),
                ..Identity::default()
            }),
            ..Draft::default()
        };
        let submission = build_submission(&callback, &page(), &site(), "en");
        assert_eq!(submission.kind, SubmissionKind::Callback);
        assert!(submission.outcomes.is_empty());
        assert_eq!(
            submission.identity.unwrap().customer_id.as_deref(),
            Some("c-1")
        );
        let submission = build_submission(&callback, &page(), &site(), "en");
        assert_eq!(validate_submission(&submission, &site()), Ok(()));

        let mut no_time = callback;
        no_time.callback_window.clear();
        let problems =
            validate_submission(&build_submission(&no_time, &page(), &site(), "en"), &site())
                .unwrap_err();
        assert_eq!(problems[0].field, "callback.window");
    }

    #[test]
    fn a_suggestion_leaves_out_what_only_a_complaint_asks() {
        let mut suggestion = draft();
        suggestion.kind = SubmissionKind::Suggestion;
        suggestion.severity = Some(Severity::Serious);
        suggestion.remedy = "A refund".to_owned();
        let submission = build_submission(&suggestion, &page(), &site(), "en");
        assert_eq!(submission.kind, SubmissionKind::Suggestion);
        assert!(submission.outcomes.is_empty());
        assert_eq!((submission.severity, submission.remedy), (None, None));
    }

    #[test]
    fn only_what_the_shopper_typed_can_fail_validation() {
        let hostile_page = PageContext {
            document_language: Some("<script>".to_owned()),
            browser_languages: vec!["en_US".to_owned()],
            page_url: Some(format!(
                "https://shop.example/?q={}",
                "x".repeat(PAGE_URL_MAX_CHARS)
            )),
            user_agent: Some(format!("agent\u{0}{}", "y".repeat(USER_AGENT_MAX_CHARS))),
        };
        let language = choose_language(&hostile_page, &site());
        assert_eq!(language, "en");
        let submission = build_submission(&draft(), &hostile_page, &site(), &language);
        assert_eq!(
            submission.page_url.as_deref(),
            Some("https://shop.example/")
        );
        assert_eq!(validate_submission(&submission, &site()), Ok(()));

        let mut too_long = draft();
        too_long.description = "x".repeat(DESCRIPTION_MAX_CHARS + 1);
        let problems = validate_submission(
            &build_submission(&too_long, &hostile_page, &site(), "en"),
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
    fn language_follows_the_page_then_the_browser_then_the_site() {
        let mut page = page();
        page.document_language = None;
        page.browser_languages = vec!["fr".to_owned(), "en-US".to_owned()];
        assert_eq!(choose_language(&page, &site()), "en");
        page.browser_languages.clear();
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
