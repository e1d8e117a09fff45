//! The validation rules for a complaint, written once for both sides.

use crate::complaint::{ComplaintSubmission, Contact, Identity, SubmissionKind};
use crate::error::FieldError;
use crate::limits::*;
use crate::site::SiteConfig;

/// Checks a submission against the limits and the site's configuration.
///
/// Returns every problem at once, so the widget can mark all fields in one go.
pub fn validate_submission(
    submission: &ComplaintSubmission,
    site: &SiteConfig,
) -> Result<(), Vec<FieldError>> {
    let mut problems = Vec::new();

    let callback = submission.kind == SubmissionKind::Callback;
    if callback && submission.category.is_empty() {
        // A callback request may come straight from the channel list, before
        // the shopper has said what it is about.
    } else if submission.category.trim().is_empty() {
        problems.push(FieldError::new(
            "category",
            "required",
            "Choose what went wrong.",
        ));
    } else if char_count(&submission.category) > CATEGORY_ID_MAX_CHARS
        || site.category(&submission.category).is_none()
    {
        problems.push(FieldError::new(
            "category",
            "unknown",
            "This category is not offered on this site.",
        ));
    }

    check_text(
        &mut problems,
        "description",
        &submission.description,
        if callback { 0 } else { DESCRIPTION_MIN_CHARS },
        DESCRIPTION_MAX_CHARS,
        "Tell us what happened.",
    );
    if let Some(remedy) = &submission.remedy {
        check_text(&mut problems, "remedy", remedy, 0, REMEDY_MAX_CHARS, "");
    }

    if let Err(problem) = check_language_tag(&submission.language) {
        problems.push(problem);
    }
    if let Some(page_url) = &submission.page_url {
        check_line(&mut problems, "page_url", page_url, PAGE_URL_MAX_CHARS);
        if !(page_url.starts_with("https://") || page_url.starts_with("http://")) {
            problems.push(FieldError::new(
                "page_url",
                "invalid",
                "The page address must start with http:// or https://.",
            ));
        }
    }
    if let Some(user_agent) = &submission.user_agent {
        check_line(
            &mut problems,
            "user_agent",
            user_agent,
            USER_AGENT_MAX_CHARS,
        );
    }

    if submission.answers.len() > MAX_ANSWERS {
        problems.push(FieldError::new(
            "answers",
            "too_many",
            format!("At most {MAX_ANSWERS} answers are accepted."),
        ));
    }
    for (key, value) in &submission.answers {
        let field = format!("answers.{key}");
        if key.is_empty()
            || char_count(key) > ANSWER_KEY_MAX_CHARS
            || !key
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
        {
            problems.push(FieldError::new(
                field,
                "invalid",
                format!(
                    "Question ids are 1 to {ANSWER_KEY_MAX_CHARS} letters, digits, '-' or '_'."
                ),
            ));
        } else {
            check_text(&mut problems, &field, value, 0, ANSWER_VALUE_MAX_CHARS, "");
        }
    }

    if let Some(contact) = &submission.contact {
        check_contact(&mut problems, contact);
    }
    if callback {
        check_callback(&mut problems, submission);
    } else if let Some(request) = &submission.callback {
        // Dropped unless a call is asked for, but never accepted over its limit.
        check_line(
            &mut problems,
            "callback.window",
            &request.window,
            CALLBACK_WINDOW_MAX_CHARS,
        );
    }
    check_attachments(&mut problems, &submission.attachments);
    if let Some(identity) = &submission.identity {
        check_identity(&mut problems, identity);
    }
    if let Some(honeypot) = &submission.honeypot
        && char_count(honeypot) > HONEYPOT_MAX_CHARS
    {
        problems.push(FieldError::new(
            "honeypot",
            "too_long",
            "Leave this field empty.",
        ));
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Checks an `Idempotency-Key` header value.
pub fn validate_idempotency_key(key: &str) -> Result<(), FieldError> {
    let length_ok = (IDEMPOTENCY_KEY_MIN_CHARS..=IDEMPOTENCY_KEY_MAX_CHARS).contains(&key.len());
    if length_ok && key.bytes().all(|byte| byte.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(FieldError::new(
            "Idempotency-Key",
            "invalid",
            format!(
                "The Idempotency-Key header must be {IDEMPOTENCY_KEY_MIN_CHARS} to \
                 {IDEMPOTENCY_KEY_MAX_CHARS} printable ASCII characters, such as a UUID."
            ),
        ))
    }
}

/// Checks one contact email address: a plausible `local@domain`, no spaces or
/// control characters. Whether it receives mail is for the mail server to say.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email
            .chars()
            .all(|character| !character.is_whitespace() && !character.is_control())
}

fn check_contact(problems: &mut Vec<FieldError>, contact: &Contact) {
    if let Some(name) = &contact.name {
        check_line(problems, "contact.name", name, CONTACT_NAME_MAX_CHARS);
    }
    if let Some(email) = contact.email.as_deref().filter(|email| !email.is_empty()) {
        if char_count(email) > EMAIL_MAX_CHARS {
            problems.push(too_long("contact.email", EMAIL_MAX_CHARS));
        } else if !is_plausible_email(email) {
            problems.push(FieldError::new(
                "contact.email",
                "invalid",
                "This does not look like an email address.",
            ));
        }
    }
    if let Some(phone) = contact.phone.as_deref().filter(|phone| !phone.is_empty()) {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let allowed = phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'));
        if char_count(phone) > PHONE_MAX_CHARS {
            problems.push(too_long("contact.phone", PHONE_MAX_CHARS));
        } else if !allowed || digits < 5 {
            problems.push(FieldError::new(
                "contact.phone",
                "invalid",
                "Use digits, spaces and + - ( ) only, with at least 5 digits.",
            ));
        }
    }
    if !contact.is_empty() && !contact.consent {
        problems.push(FieldError::new(
            "contact.consent",
            "required",
            "Tick the box to let us contact you, or leave your contact details out.",
        ));
    }
}

/// True when `tag` has the shape of a BCP 47 language tag (`en`, `zh-Hant-TW`).
///
/// The widget uses this to pick the page's language only when the collector
/// would accept it, instead of failing on a field the shopper cannot fix.
pub fn is_language_tag(tag: &str) -> bool {
    !tag.is_empty()
        && char_count(tag) <= LANGUAGE_TAG_MAX_CHARS
        && tag.split('-').all(|part| {
            (1..=8).contains(&part.len()) && part.bytes().all(|byte| byte.is_ascii_alphanumeric())
        })
}

fn check_callback(problems: &mut Vec<FieldError>, submission: &ComplaintSubmission) {
    let phone_given = submission
        .contact
        .as_ref()
        .and_then(|contact| contact.phone.as_deref())
        .is_some_and(|phone| !phone.trim().is_empty());
    if !phone_given {
        problems.push(FieldError::new(
            "contact.phone",
            "required",
            "Give the number we should call.",
        ));
    }
    match &submission.callback {
        Some(request) if !request.window.trim().is_empty() => {
            check_line(
                problems,
                "callback.window",
                &request.window,
                CALLBACK_WINDOW_MAX_CHARS,
            );
        }
        _ => problems.push(FieldError::new(
            "callback.window",
            "required",
            "Choose when we should call.",
        )),
    }
}

fn check_attachments(problems: &mut Vec<FieldError>, attachments: &[String]) {
    if attachments.len() > MAX_ATTACHMENTS {
        problems.push(FieldError::new(
            "attachments",
            "too_many",
            format!("At most {MAX_ATTACHMENTS} photos can be attached."),
        ));
        return;
    }
    for (index, id) in attachments.iter().enumerate() {
        let well_formed = !id.is_empty()
            && char_count(id) <= ATTACHMENT_ID_MAX_CHARS
            && id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
        if !well_formed || attachments[..index].contains(id) {
            problems.push(FieldError::new(
                format!("attachments.{index}"),
                "invalid",
                "This photo was not uploaded correctly; remove it and add it again.",
            ));
        }
    }
}

fn check_identity(problems: &mut Vec<FieldError>, identity: &Identity) {
    let fields = [
        ("identity.customer_id", &identity.customer_id),
        ("identity.name", &identity.name),
        ("identity.email", &identity.email),
        ("identity.order_number", &identity.order_number),
        ("identity.signature", &identity.signature),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            check_line(problems, field, value, IDENTITY_FIELD_MAX_CHARS);
        }
    }
    if let Some(email) = identity.email.as_deref().filter(|email| !email.is_empty())
        && !is_plausible_email(email)
    {
        problems.push(FieldError::new(
            "identity.email",
            "invalid",
            "This does not look like an email address.",
        ));
    }
}

fn check_language_tag(tag: &str) -> Result<(), FieldError> {
    if is_language_tag(tag) {
        Ok(())
    } else {
        Err(FieldError::new(
            "language",
            "invalid",
            "The language must be a language tag such as en or zh-Hant.",
        ))
    }
}

/// Multi-line free text: trimmed length within bounds, no control characters
/// other than line breaks and tabs.
fn check_text(
    problems: &mut Vec<FieldError>,
    field: &str,
    text: &str,
    min_chars: usize,
    max_chars: usize,
    required_message: &str,
) {
    let length = char_count(text.trim());
    if length < min_chars {
        problems.push(FieldError::new(field, "required", required_message));
    } else if char_count(text) > max_chars {
        problems.push(too_long(field, max_chars));
    } else if text
        .chars()
        .any(|character| character.is_control() && !matches!(character, '\n' | '\r' | '\t'))
    {
        problems.push(control_characters(field));
    }
}

/// One-line text: within bounds and no control characters at all, so it can
/// never break out of a header or a log line.
fn check_line(problems: &mut Vec<FieldError>, field: &str, text: &str, max_chars: usize) {
    if char_count(text) > max_chars {
        problems.push(too_long(field, max_chars));
    } else if text.chars().any(char::is_control) {
        problems.push(control_characters(field));
    }
}

fn too_long(field: &str, max_chars: usize) -> FieldError {
    FieldError::new(
        field,
        "too_long",
        format!("This is too long: at most {max_chars} characters."),
    )
}

fn control_characters(field: &str) -> FieldError {
    FieldError::new(
        field,
        "invalid",
        "This contains characters that are not allowed.",
    )
}

fn char_count(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::complaint::Outcome;

    fn site() -> SiteConfig {
        SiteConfig::with_defaults("demo", "Demo shop")
    }

    fn submission() -> ComplaintSubmission {
        ComplaintSubmission {
            category: "product".to_owned(),
            description: "The kettle stopped working after three uses.".to_owned(),
            outcomes: vec![Outcome::Fix],
            remedy: None,
            severity: None,
            mood: None,
            language: "en".to_owned(),
            page_url: Some("https://shop.example/kettle".to_owned()),
            user_agent: Some("Mozilla/5.0".to_owned()),
            answers: BTreeMap::new(),
            contact: None,
            ..ComplaintSubmission::default()
        }
    }

    fn codes(result: Result<(), Vec<FieldError>>) -> Vec<(String, String)> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| (problem.field, problem.code))
            .collect()
    }

    fn pair(field: &str, code: &str) -> Vec<(String, String)> {
        vec![(field.to_owned(), code.to_owned())]
    }

    #[test]
    fn a_plain_complaint_is_valid() {
        assert_eq!(validate_submission(&submission(), &site()), Ok(()));
    }

    #[test]
    fn description_accepts_the_limit_and_rejects_one_past_it() {
        let mut at_limit = submission();
        at_limit.description = "字".repeat(DESCRIPTION_MAX_CHARS);
        assert_eq!(validate_submission(&at_limit, &site()), Ok(()));

        let mut past_limit = submission();
        past_limit.description = "字".repeat(DESCRIPTION_MAX_CHARS + 1);
        assert_eq!(
            codes(validate_submission(&past_limit, &site())),
            pair("description", "too_long")
        );
    }

    #[test]
    fn blank_description_is_required() {
        let mut blank = submission();
        blank.description = " \n\t ".to_owned();
        assert_eq!(
            codes(validate_submission(&blank, &site())),
            pair("description", "required")
        );
    }

    #[test]
    fn remedy_accepts_the_limit_and_rejects_one_past_it() {
        let mut at_limit = submission();
        at_limit.remedy = Some("a".repeat(REMEDY_MAX_CHARS));
        assert_eq!(validate_submission(&at_limit, &site()), Ok(()));
        let mut past_limit = submission();
        past_limit.remedy = Some("a".repeat(REMEDY_MAX_CHARS + 1));
        assert_eq!(
            codes(validate_submission(&past_limit, &site())),
            pair("remedy", "too_long")
        );
    }

    #[test]
    fn one_line_fields_accept_the_limit_and_reject_one_past_it() {
        type Setter = fn(&mut ComplaintSubmission, String);
        let cases: [(&str, usize, Setter); 3] = [
            ("page_url", PAGE_URL_MAX_CHARS, |s, v| {
                s.page_url = Some(format!("https://{v}")[..v.len()].to_owned())
            }),
            ("user_agent", USER_AGENT_MAX_CHARS, |s, v| {
                s.user_agent = Some(v)
            }),
            ("contact.name", CONTACT_NAME_MAX_CHARS, |s, v| {
                s.contact = Some(Contact {
                    name: Some(v),
                    consent: true,
                    ..Contact::default()
                })
            }),
        ];
        for (field, limit, set) in cases {
            let mut at_limit = submission();
            set(&mut at_limit, "x".repeat(limit));
            assert_eq!(
                validate_submission(&at_limit, &site()),
                Ok(()),
                "{field} at its limit"
            );
            let mut past_limit = submission();
            set(&mut past_limit, "x".repeat(limit + 1));
            assert_eq!(
                codes(validate_submission(&past_limit, &site())),
                pair(field, "too_long")
            );
        }
    }

    #[test]
    fn answers_accept_the_limits_and_reject_past_them() {
        let mut at_limit = submission();
        at_limit.answers = (0..MAX_ANSWERS)
            .map(|index| (format!("q{index}"), "v".repeat(ANSWER_VALUE_MAX_CHARS)))
            .collect();
        assert_eq!(validate_submission(&at_limit, &site()), Ok(()));

        let mut too_many = at_limit.clone();
        too_many.answers.insert("extra".to_owned(), String::new());
        assert_eq!(
            codes(validate_submission(&too_many, &site())),
            pair("answers", "too_many")
        );

        let mut too_long_value = submission();
        too_long_value
            .answers
            .insert("order".to_owned(), "v".repeat(ANSWER_VALUE_MAX_CHARS + 1));
        assert_eq!(
            codes(validate_submission(&too_long_value, &site())),
            pair("answers.order", "too_long")
        );

        let mut bad_key = submission();
        bad_key
            .answers
            .insert("k".repeat(ANSWER_KEY_MAX_CHARS + 1), String::new());
        assert_eq!(
            codes(validate_submission(&bad_key, &site()))[0].1,
            "invalid"
        );
    }

    #[test]
    fn unknown_or_hidden_category_is_refused() {
        let mut unknown = submission();
        unknown.category = "spaceship".to_owned();
        assert_eq!(
            codes(validate_submission(&unknown, &site())),
            pair("category", "unknown")
        );

        let mut config = site();
        config.categories[0].hidden = true;
        assert_eq!(
            codes(validate_submission(&submission(), &config)),
            pair("category", "unknown")
        );
    }

    #[test]
    fn contact_needs_consent_and_plausible_values() {
        let mut without_consent = submission();
        without_consent.contact = Some(Contact {
            email: Some("ana@example.com".to_owned()),
            ..Contact::default()
        });
        assert_eq!(
            codes(validate_submission(&without_consent, &site())),
            pair("contact.consent", "required")
        );

        let mut bad = submission();
        bad.contact = Some(Contact {
            email: Some("ana@example.com\r\nBcc: x@evil".to_owned()),
            phone: Some("call me".to_owned()),
            consent: true,
            ..Contact::default()
        });
        assert_eq!(
            codes(validate_submission(&bad, &site())),
            vec![
                ("contact.email".to_owned(), "invalid".to_owned()),
                ("contact.phone".to_owned(), "invalid".to_owned())
            ]
        );

        let mut email_at_limit = submission();
        let local = "a".repeat(EMAIL_MAX_CHARS - "@example.com".len());
        email_at_limit.contact = Some(Contact {
            email: Some(format!("{local}@example.com")),
            consent: true,
            ..Contact::default()
        });
        assert_eq!(validate_submission(&email_at_limit, &site()), Ok(()));
        let mut email_past_limit = submission();
        email_past_limit.contact = Some(Contact {
            email: Some(format!("a{local}@example.com")),
            consent: true,
            ..Contact::default()
        });
        assert_eq!(
            codes(validate_submission(&email_past_limit, &site())),
            pair("contact.email", "too_long")
        );
    }

    #[test]
    fn control_characters_are_refused_but_line_breaks_are_fine() {
        let mut multi_line = submission();
        multi_line.description = "first line\nsecond line\r\n\tindented".to_owned();
        assert_eq!(validate_submission(&multi_line, &site()), Ok(()));

        let mut nul = submission();
        nul.description = "hidden\u{0}text".to_owned();
        assert_eq!(
            codes(validate_submission(&nul, &site())),
            pair("description", "invalid")
        );
    }

    #[test]
    fn language_tags_are_checked() {
        for good in ["en", "zh-Hant", "pt-BR", "zh-Hant-TW"] {
            let mut ok = submission();
            ok.language = good.to_owned();
            assert_eq!(validate_submission(&ok, &site()), Ok(()), "{good}");
        }
        for bad in [
            "",
            "en_US",
            "en--US",
            "<script>",
            &"a".repeat(LANGUAGE_TAG_MAX_CHARS + 1),
        ] {
            let mut wrong = submission();
            wrong.language = bad.to_owned();
            assert_eq!(
                codes(validate_submission(&wrong, &site())),
                pair("language", "invalid"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_callback_needs_a_phone_and_a_window_but_no_category_or_text() {
        let mut callback = submission();
        callback.kind = SubmissionKind::Callback;
        callback.category = String::new();
        callback.description = String::new();
        assert_eq!(
            codes(validate_submission(&callback, &site())),
            vec![
                ("contact.phone".to_owned(), "required".to_owned()),
                ("callback.window".to_owned(), "required".to_owned())
            ]
        );
        callback.contact = Some(Contact {
            phone: Some("+44 20 7946 0000".to_owned()),
            consent: true,
            ..Contact::default()
        });
        callback.callback = Some(crate::CallbackRequest {
            window: "c".repeat(CALLBACK_WINDOW_MAX_CHARS),
        });
        assert_eq!(validate_submission(&callback, &site()), Ok(()));
        callback.callback = Some(crate::CallbackRequest {
            window: "c".repeat(CALLBACK_WINDOW_MAX_CHARS + 1),
        });
        assert_eq!(
            codes(validate_submission(&callback, &site())),
            pair("callback.window", "too_long")
        );
        // Another kind drops the window, but not past its limit (the API
        // fuzz found one accepted).
        callback.kind = SubmissionKind::Complaint;
        callback.category = "product".to_owned();
        callback.description = "The kettle never came.".to_owned();
        assert_eq!(
            codes(validate_submission(&callback, &site())),
            pair("callback.window", "too_long")
        );
        callback.callback = Some(crate::CallbackRequest {
            window: "c".repeat(CALLBACK_WINDOW_MAX_CHARS),
        });
        assert_eq!(validate_submission(&callback, &site()), Ok(()));
    }

    #[test]
    fn attachments_accept_the_limit_and_reject_past_it_and_duplicates() {
        let mut at_limit = submission();
        at_limit.attachments = (0..MAX_ATTACHMENTS)
            .map(|index| format!("att_{index}"))
            .collect();
        assert_eq!(validate_submission(&at_limit, &site()), Ok(()));

        let mut too_many = at_limit.clone();
        too_many.attachments.push("att_extra".to_owned());
        assert_eq!(
            codes(validate_submission(&too_many, &site())),
            pair("attachments", "too_many")
        );

        let mut duplicate = submission();
        duplicate.attachments = vec!["att_a".to_owned(), "att_a".to_owned()];
        assert_eq!(
            codes(validate_submission(&duplicate, &site())),
            pair("attachments.1", "invalid")
        );

        let mut malformed = submission();
        malformed.attachments = vec!["../etc/passwd".to_owned()];
        assert_eq!(
            codes(validate_submission(&malformed, &site())),
            pair("attachments.0", "invalid")
        );
    }

    #[test]
    fn identity_fields_are_checked() {
        let mut identified = submission();
        identified.identity = Some(Identity {
            email: Some("ana@example.com".to_owned()),
            customer_id: Some("c".repeat(IDENTITY_FIELD_MAX_CHARS)),
            ..Identity::default()
        });
        assert_eq!(validate_submission(&identified, &site()), Ok(()));
        identified.identity = Some(Identity {
            email: Some("not an email".to_owned()),
            name: Some("n".repeat(IDENTITY_FIELD_MAX_CHARS + 1)),
            ..Identity::default()
        });
        assert_eq!(
            codes(validate_submission(&identified, &site())),
            vec![
                ("identity.name".to_owned(), "too_long".to_owned()),
                ("identity.email".to_owned(), "invalid".to_owned())
            ]
        );
    }

    #[test]
    fn idempotency_keys_are_checked() {
        assert!(validate_idempotency_key("0f8b2c1e-5d4a-4e0b-9a57-2f1d3c4b5a69").is_ok());
        assert!(validate_idempotency_key(&"k".repeat(IDEMPOTENCY_KEY_MAX_CHARS)).is_ok());
        assert!(validate_idempotency_key(&"k".repeat(IDEMPOTENCY_KEY_MAX_CHARS + 1)).is_err());
        assert!(validate_idempotency_key(&"k".repeat(IDEMPOTENCY_KEY_MIN_CHARS - 1)).is_err());
        assert!(validate_idempotency_key("has space in it").is_err());
    }
}
