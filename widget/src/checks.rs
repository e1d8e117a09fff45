//! Checking the form as the shopper types, with the shared rules, and
//! saying what is wrong in the shopper's language.
//!
//! The shared validator sees the submission exactly as it would be sent, so
//! the widget can never accept what the collector refuses; the guided
//! questions add their own typed checks on top.

use std::collections::BTreeMap;

use heard_shared::{FieldError, SiteConfig, SubmissionKind, validate_submission};

use crate::i18n::Texts;
use crate::state::{Draft, Form, Step};
use crate::submission::{PageContext, build_submission};

/// Every problem with the form as it stands, shown or not.
pub fn problems(
    draft: &Draft,
    page: &PageContext,
    site: &SiteConfig,
    language: &str,
) -> Vec<FieldError> {
    let submission = build_submission(draft, page, site, language);
    let mut problems = validate_submission(&submission, site)
        .err()
        .unwrap_or_default();
    let questions = draft
        .category
        .as_deref()
        .and_then(|id| site.category(id))
        .filter(|_| draft.kind != SubmissionKind::Callback)
        .map(|category| category.questions.as_slice())
        .unwrap_or_default();
    for question in questions {
        if let Err(code) = question.check_answer(draft.answer(&question.id)) {
            problems.push(FieldError::new(
                format!("answers.{}", question.id),
                code,
                "",
            ));
        }
    }
    problems
}

/// The step an input lives on, so Next checks only what is on screen and
/// Send can take the shopper back to what needs a look.
pub fn step_of(field: &str, kind: SubmissionKind) -> Step {
    if kind == SubmissionKind::Callback {
        return Step::Callback;
    }
    if field.starts_with("answers.") {
        Step::Questions
    } else if matches!(
        field,
        "category" | "description" | "remedy" | "outcomes" | "severity" | "mood"
    ) {
        Step::Details
    } else {
        Step::Send
    }
}

/// The problems to show now, one per input: those the shopper has touched,
/// then whatever the collector refused.
pub fn visible(form: &Form, problems: &[FieldError]) -> BTreeMap<String, FieldError> {
    let mut shown = BTreeMap::new();
    for problem in problems
        .iter()
        .filter(|problem| form.touched.contains(&problem.field))
        .chain(&form.refused)
    {
        shown
            .entry(problem.field.clone())
            .or_insert_with(|| problem.clone());
    }
    shown
}

/// A problem in the shopper's language: the catalog's words for this input
/// and code, else for the code, else the rule's own English message.
pub fn message(texts: &Texts, problem: &FieldError) -> String {
    let field = if problem.field.starts_with("answers.") {
        "answer"
    } else {
        problem.field.as_str()
    };
    let specific = format!("error.{field}.{}", problem.code);
    if let Some(text) = texts.lookup(&specific) {
        return text.to_owned();
    }
    // The shared rules speak English and often more precisely (with limits)
    // than the catalog's general words.
    if texts.language == "en" && !problem.message.is_empty() {
        return problem.message.clone();
    }
    texts
        .lookup(&format!("error.{}", problem.code))
        .map(str::to_owned)
        .unwrap_or_else(|| texts.get("error.invalid"))
}

#[cfg(test)]
mod tests {
    use heard_shared::Outcome;

    use super::*;
    use crate::state::Action;

    fn site() -> SiteConfig {
        SiteConfig::with_defaults("demo", "Demo")
    }

    fn product_form() -> Form {
        Form::default().apply(Action::ChooseCategory {
            id: "product".to_owned(),
            with_questions: true,
            suggestion: false,
        })
    }

    #[test]
    fn typed_answers_are_checked_by_their_question() {
        let form = product_form()
            .apply(Action::Answer("order_number".to_owned(), "x".to_owned()))
            .apply(Action::Answer(
                "purchase_date".to_owned(),
                "2026-02-30".to_owned(),
            ))
            .apply(Action::EditDescription("Broken".to_owned()));
        let found = problems(&form.draft, &PageContext::default(), &site(), "en");
        let fields: Vec<&str> = found.iter().map(|problem| problem.field.as_str()).collect();
        assert_eq!(fields, ["answers.order_number", "answers.purchase_date"]);
        assert_eq!(
            step_of(fields[0], SubmissionKind::Complaint),
            Step::Questions
        );
    }

    #[test]
    fn problems_show_only_once_touched_and_speak_the_catalog() {
        let form = product_form().apply(Action::EditContact(
            crate::state::ContactField::Email,
            "not-an-email".to_owned(),
        ));
        let found = problems(&form.draft, &PageContext::default(), &site(), "en");
        assert!(visible(&form, &found).is_empty(), "nothing touched yet");

        let form = form.apply(Action::Touch(vec!["contact.email".to_owned()]));
        let shown = visible(&form, &found);
        assert_eq!(
            shown.keys().collect::<Vec<_>>(),
            ["contact.email"],
            "description and consent are not touched yet"
        );
        let texts = Texts::english();
        assert_eq!(
            message(&texts, &shown["contact.email"]),
            "This does not look like an email address."
        );
        let answer = FieldError::new("answers.order_number", "invalid_order_number", "");
        assert!(message(&texts, &answer).starts_with("Enter the number"));
    }

    #[test]
    fn a_complete_short_complaint_has_no_problems() {
        let form = product_form()
            .apply(Action::EditDescription("Lid cracked".to_owned()))
            .apply(Action::SetOutcome(Outcome::Fix, true));
        assert!(problems(&form.draft, &PageContext::default(), &site(), "en").is_empty());
    }
}
