//! Property tests for the shared validator and receipt references: arbitrary
//! submissions never panic, and whatever is accepted keeps every limit the
//! README states. `cargo fuzz` needs a nightly toolchain, so the fuzzing of
//! issue 9 is done with proptest on stable: a few hundred cases per property
//! in CI, as many as `PROPTEST_CASES` says in `cargo xtask fuzz`.

use std::collections::BTreeMap;

use heard_shared::limits::*;
use heard_shared::validate::{is_language_tag, validate_idempotency_key};
use heard_shared::{
    CallbackRequest, ComplaintSubmission, Contact, Identity, Mood, Outcome, Reference, Severity,
    SiteConfig, SubmissionKind, validate_submission,
};
use proptest::prelude::*;

/// Cases per property: bounded for CI, `PROPTEST_CASES` overrides.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // A failure is reported with its shrunk input in the test output;
        // no regression files are written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Characters a shopper types: letters, spaces, punctuation the rules look
/// at, and any printable Unicode scalar (multi-byte, so bytes and chars differ).
fn clean_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => prop::char::range('a', 'z'),
        2 => prop::sample::select(vec!['A', 'Z', '0', '9', '-', '_', '@', '.', '+', '(', ')', '/', ':', ' ', '<', '"']),
        2 => any::<char>().prop_filter("printable", |c| !c.is_control()),
    ]
}

/// Characters an attacker adds: line breaks, controls, odd spaces.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        1 => clean_char(),
        1 => prop::sample::select(vec![' ', '\n', '\r', '\t', '\u{0}', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}', '\u{a0}', '\u{2028}', '\u{feff}']),
        1 => any::<char>(),
    ]
}

/// A string of up to `max_chars` characters (callers pass a limit plus a
/// few): mostly clean and short, sometimes at or just past the limit,
/// sometimes full of control characters.
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(clean_char(), 1..=12.min(max_chars.max(1))),
        1 => prop::collection::vec(clean_char(), 0..=max_chars),
        1 => (max_chars.saturating_sub(3)..=max_chars, clean_char())
            .prop_map(|(length, fill)| vec![fill; length]),
        1 => prop::collection::vec(hostile_char(), 0..=12.min(max_chars)),
    ]
    .prop_map(|chars| chars.into_iter().collect())
}

/// Mostly absent, as most optional fields are.
fn optional(strategy: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.3, strategy)
}

/// A page address: mostly with an http(s) scheme, so the length rules are
/// reached too.
fn page_url() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["https://", "http://", "ftp://", "javascript:", ""]),
        text(PAGE_URL_MAX_CHARS + 2),
    )
        .prop_map(|(scheme, rest)| format!("{scheme}{rest}"))
}

fn contact() -> impl Strategy<Value = Contact> {
    (
        optional(text(CONTACT_NAME_MAX_CHARS + 2)),
        optional(prop_oneof![
            text(EMAIL_MAX_CHARS + 2),
            (text(20), text(EMAIL_MAX_CHARS))
                .prop_map(|(local, domain)| format!("{local}@{domain}")),
        ]),
        optional(prop_oneof![text(PHONE_MAX_CHARS + 2), "[0-9 +().-]{0,44}",]),
        any::<bool>(),
    )
        .prop_map(|(name, email, phone, consent)| Contact {
            name,
            email,
            phone,
            consent,
        })
}

fn identity() -> impl Strategy<Value = Identity> {
    let field = || optional(text(IDENTITY_FIELD_MAX_CHARS + 2));
    (field(), field(), field(), field(), field()).prop_map(
        |(customer_id, name, email, order_number, signature)| Identity {
            customer_id,
            name,
            email,
            order_number,
            signature,
        },
    )
}

fn answers() -> impl Strategy<Value = BTreeMap<String, String>> {
    let key = prop_oneof![
        3 => "[a-z0-9_-]{1,8}",
        1 => text(ANSWER_KEY_MAX_CHARS + 2),
    ];
    prop_oneof![
        4 => prop::collection::btree_map(key.clone(), text(ANSWER_VALUE_MAX_CHARS + 2), 0..=2),
        1 => prop::collection::btree_map(key, text(ANSWER_VALUE_MAX_CHARS + 2), 0..=MAX_ANSWERS + 2),
    ]
}

fn attachments() -> impl Strategy<Value = Vec<String>> {
    let id = prop_oneof![
        3 => "att_[A-Za-z0-9]{1,12}",
        1 => text(ATTACHMENT_ID_MAX_CHARS + 2),
    ];
    prop_oneof![
        4 => prop::collection::vec(id.clone(), 0..=1),
        1 => prop::collection::vec(id, 0..=MAX_ATTACHMENTS + 2),
    ]
}

fn submission() -> impl Strategy<Value = ComplaintSubmission> {
    let category = prop_oneof![
        3 => prop::sample::select(vec!["product", "delivery", "staff", "billing", "website", "safety", "no_such_category"])
            .prop_map(str::to_owned),
        1 => text(CATEGORY_ID_MAX_CHARS + 2),
    ];
    let language = prop_oneof![
        3 => prop::sample::select(vec!["en", "zh-Hant-TW", "pt-BR", "de"]).prop_map(str::to_owned),
        1 => text(LANGUAGE_TAG_MAX_CHARS + 2),
    ];
    let kind = prop_oneof![
        4 => Just(SubmissionKind::Complaint),
        1 => Just(SubmissionKind::Suggestion),
        1 => Just(SubmissionKind::Callback),
    ];
    (
        (
            category,
            text(DESCRIPTION_MAX_CHARS + 2),
            prop::collection::vec(prop::sample::select(Outcome::ALL.to_vec()), 0..6),
            optional(text(REMEDY_MAX_CHARS + 2)),
            prop::option::of(prop::sample::select(Severity::ALL.to_vec())),
            prop::option::of(prop::sample::select(Mood::ALL.to_vec())),
            language,
        ),
        (
            optional(page_url()),
            optional(text(USER_AGENT_MAX_CHARS + 2)),
            answers(),
            prop::option::weighted(0.3, contact()),
            kind,
            prop::option::weighted(0.5, text(CALLBACK_WINDOW_MAX_CHARS + 2)),
            attachments(),
            prop::option::weighted(0.2, identity()),
            prop::option::weighted(0.05, text(HONEYPOT_MAX_CHARS + 2)),
            prop::option::of(any::<u32>()),
        ),
    )
        .prop_map(
            |(
                (category, description, outcomes, remedy, severity, mood, language),
                (
                    page_url,
                    user_agent,
                    answers,
                    contact,
                    kind,
                    callback,
                    attachments,
                    identity,
                    honeypot,
                    fill_ms,
                ),
            )| ComplaintSubmission {
                category,
                description,
                outcomes,
                remedy,
                severity,
                mood,
                language,
                page_url,
                user_agent,
                answers,
                contact,
                kind,
                callback: callback.map(|window| CallbackRequest { window }),
                attachments,
                identity,
                honeypot,
                fill_ms,
            },
        )
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn one_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// Free text may hold line breaks and tabs, nothing else of the controls.
fn free_text(text: &str) -> bool {
    !text
        .chars()
        .any(|character| character.is_control() && !matches!(character, '\n' | '\r' | '\t'))
}

/// Every limit the README states, for an accepted submission.
fn assert_within_limits(submission: &ComplaintSubmission, site: &SiteConfig) {
    let callback = submission.kind == SubmissionKind::Callback;
    if !(callback && submission.category.is_empty()) {
        assert!(chars(&submission.category) <= CATEGORY_ID_MAX_CHARS);
        assert!(site.category(&submission.category).is_some());
    }
    let description = chars(submission.description.trim());
    assert!(callback || description >= DESCRIPTION_MIN_CHARS);
    assert!(chars(&submission.description) <= DESCRIPTION_MAX_CHARS);
    assert!(free_text(&submission.description));
    if let Some(remedy) = &submission.remedy {
        assert!(chars(remedy) <= REMEDY_MAX_CHARS && free_text(remedy));
    }
    assert!(chars(&submission.language) <= LANGUAGE_TAG_MAX_CHARS);
    assert!(is_language_tag(&submission.language));
    if let Some(url) = &submission.page_url {
        assert!(chars(url) <= PAGE_URL_MAX_CHARS && one_line(url));
        assert!(url.starts_with("https://") || url.starts_with("http://"));
    }
    if let Some(agent) = &submission.user_agent {
        assert!(chars(agent) <= USER_AGENT_MAX_CHARS && one_line(agent));
    }
    assert!(submission.answers.len() <= MAX_ANSWERS);
    for (key, value) in &submission.answers {
        assert!(!key.is_empty() && chars(key) <= ANSWER_KEY_MAX_CHARS);
        assert!(
            key.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
        );
        assert!(chars(value) <= ANSWER_VALUE_MAX_CHARS && free_text(value));
    }
    if let Some(contact) = &submission.contact {
        if let Some(name) = &contact.name {
            assert!(chars(name) <= CONTACT_NAME_MAX_CHARS && one_line(name));
        }
        if let Some(email) = contact.email.as_deref().filter(|email| !email.is_empty()) {
            assert!(chars(email) <= EMAIL_MAX_CHARS && email.contains('@'));
            assert!(!email.chars().any(|c| c.is_whitespace() || c.is_control()));
        }
        if let Some(phone) = contact.phone.as_deref().filter(|phone| !phone.is_empty()) {
            assert!(chars(phone) <= PHONE_MAX_CHARS);
            assert!(phone.chars().filter(char::is_ascii_digit).count() >= 5);
        }
        assert!(contact.is_empty() || contact.consent);
    }
    if callback {
        let phone = submission
            .contact
            .as_ref()
            .and_then(|contact| contact.phone.as_deref())
            .unwrap_or("");
        assert!(!phone.trim().is_empty());
        let window = &submission.callback.as_ref().expect("a window").window;
        assert!(!window.trim().is_empty() && chars(window) <= CALLBACK_WINDOW_MAX_CHARS);
        assert!(one_line(window));
    }
    assert!(submission.attachments.len() <= MAX_ATTACHMENTS);
    for (index, id) in submission.attachments.iter().enumerate() {
        assert!(!id.is_empty() && chars(id) <= ATTACHMENT_ID_MAX_CHARS);
        assert!(!submission.attachments[..index].contains(id));
    }
    if let Some(identity) = &submission.identity {
        for value in [
            &identity.customer_id,
            &identity.name,
            &identity.email,
            &identity.order_number,
            &identity.signature,
        ]
        .into_iter()
        .flatten()
        {
            assert!(chars(value) <= IDENTITY_FIELD_MAX_CHARS && one_line(value));
        }
    }
    if let Some(honeypot) = &submission.honeypot {
        assert!(chars(honeypot) <= HONEYPOT_MAX_CHARS);
    }
}

/// Guards the properties above against passing vacuously: a fair share of
/// generated submissions is accepted, and a fair share refused.
#[test]
fn the_generator_reaches_both_verdicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let site = SiteConfig::with_defaults("demo", "Demo shop");
    let mut runner = TestRunner::deterministic();
    let strategy = submission();
    let mut accepted = 0;
    for _ in 0..400 {
        let submission = strategy.new_tree(&mut runner).unwrap().current();
        if validate_submission(&submission, &site).is_ok() {
            accepted += 1;
        }
    }
    assert!((20..=380).contains(&accepted), "{accepted} of 400 accepted");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn accepted_submissions_keep_every_limit(submission in submission()) {
        let site = SiteConfig::with_defaults("demo", "Demo shop");
        match validate_submission(&submission, &site) {
            Ok(()) => assert_within_limits(&submission, &site),
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for problem in problems {
                    prop_assert!(!problem.field.is_empty() && !problem.code.is_empty());
                }
            }
        }
    }

    #[test]
    fn validation_survives_a_json_round_trip(submission in submission()) {
        // What the widget sends is what the collector judges: the verdict
        // does not change through the wire format.
        let site = SiteConfig::with_defaults("demo", "Demo shop");
        let json = serde_json::to_string(&submission).unwrap();
        let parsed: ComplaintSubmission = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&parsed, &submission);
        prop_assert_eq!(
            validate_submission(&parsed, &site).is_ok(),
            validate_submission(&submission, &site).is_ok()
        );
    }

    #[test]
    fn idempotency_keys_are_accepted_only_within_their_limits(key in text(IDEMPOTENCY_KEY_MAX_CHARS + 2)) {
        if validate_idempotency_key(&key).is_ok() {
            prop_assert!((IDEMPOTENCY_KEY_MIN_CHARS..=IDEMPOTENCY_KEY_MAX_CHARS).contains(&key.len()));
            prop_assert!(key.bytes().all(|byte| byte.is_ascii_graphic()));
        }
    }

    #[test]
    fn any_text_parses_as_a_reference_only_when_its_check_symbol_fits(input in text(24)) {
        if let Some(reference) = Reference::parse(&input) {
            // What parses prints in the canonical form, which parses back to itself.
            let printed = reference.to_string();
            prop_assert_eq!(printed.len(), "HRD-XXXX-XXXX".len());
            prop_assert_eq!(Reference::parse(&printed), Some(reference));
        }
    }

    #[test]
    fn generated_references_survive_how_people_retype_them(
        seed in any::<u32>(),
        lower in any::<bool>(),
        separator in prop::sample::select(vec!["-", " ", "", "\t"]),
        prefix in any::<bool>(),
    ) {
        let mut state = seed;
        let reference = Reference::generate(|| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state
        });
        let text = reference.to_string();
        let symbols = text.trim_start_matches("HRD-").replace('-', separator);
        let mut typed = if prefix { format!("HRD{separator}{symbols}") } else { symbols };
        if lower {
            typed = typed.to_lowercase();
        }
        prop_assert_eq!(Reference::parse(&typed), Some(reference));
    }
}
