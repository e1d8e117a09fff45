//! The README's table of limits quotes the numbers in `limits.rs`; this keeps
//! them from drifting apart.

use heard_shared::limits::*;

fn readme_row(what: &str) -> String {
    let readme = include_str!("../../README.md");
    readme
        .lines()
        .find(|line| line.starts_with(&format!("| {what} |")))
        .unwrap_or_else(|| panic!("README.md has no limits row for {what}"))
        .to_owned()
}

#[test]
fn the_readme_states_the_enforced_limits() {
    let expectations: &[(&str, &[usize])] = &[
        ("request body", &[MAX_SUBMISSION_BYTES]),
        (
            "`description` (required)",
            &[DESCRIPTION_MIN_CHARS, DESCRIPTION_MAX_CHARS],
        ),
        ("`remedy`", &[REMEDY_MAX_CHARS]),
        ("`category`", &[CATEGORY_ID_MAX_CHARS]),
        ("`language`", &[LANGUAGE_TAG_MAX_CHARS]),
        ("`page_url`", &[PAGE_URL_MAX_CHARS]),
        ("`user_agent`", &[USER_AGENT_MAX_CHARS]),
        (
            "`answers`",
            &[MAX_ANSWERS, ANSWER_KEY_MAX_CHARS, ANSWER_VALUE_MAX_CHARS],
        ),
        ("`contact.name`", &[CONTACT_NAME_MAX_CHARS]),
        ("`contact.email`", &[EMAIL_MAX_CHARS]),
        ("`contact.phone`", &[PHONE_MAX_CHARS]),
        (
            "`Idempotency-Key` header",
            &[IDEMPOTENCY_KEY_MIN_CHARS, IDEMPOTENCY_KEY_MAX_CHARS],
        ),
        ("`attachments`", &[MAX_ATTACHMENTS]),
        (
            "photo upload",
            &[MAX_ATTACHMENT_BYTES, MAX_ATTACHMENT_PIXELS as usize],
        ),
        ("`callback.window`", &[CALLBACK_WINDOW_MAX_CHARS]),
        ("`identity` fields", &[IDENTITY_FIELD_MAX_CHARS]),
        (
            "`Heard-Proof` header",
            &[PROOF_HEADER_MAX_BYTES, CHALLENGE_LIFETIME_SECONDS as usize],
        ),
    ];
    for (what, numbers) in expectations {
        let row = readme_row(what);
        let quoted: Vec<usize> = row
            .split(|character: char| !character.is_ascii_digit())
            .filter_map(|word| word.parse().ok())
            .collect();
        for number in *numbers {
            assert!(
                quoted.contains(number),
                "README row {row:?} does not state {number}"
            );
        }
    }
}
