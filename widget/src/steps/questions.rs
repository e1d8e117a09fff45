//! The chosen category's own guided questions, each with the input its kind
//! needs, checked as the shopper types.

use heard_shared::site::{Question, QuestionKind};
use yew::prelude::*;

use super::StepContext;
use super::fields::{self, Choice, InputKind, TextField};
use crate::state::Action;

pub fn view(ctx: &StepContext) -> Html {
    let questions = ctx
        .form
        .draft
        .category
        .as_deref()
        .and_then(|id| ctx.site.category(id))
        .map(|category| category.questions.clone())
        .unwrap_or_default();
    let body = html! {
        <>
            <p class="heard-muted">{ ctx.texts.get("step.questions.intro") }</p>
            { for questions.iter().map(|question| question_input(ctx, question)) }
        </>
    };
    ctx.frame("step.questions.title", body)
}

/// The wording of a question: the catalog's for a default question the
/// merchant did not reword, else the merchant's own label and hint.
fn wording(ctx: &StepContext, question: &Question) -> (String, Option<String>) {
    let t = &ctx.texts;
    let label_key = format!("question.{}.label", question.id);
    let label = t.default_or(&label_key, &question.label);
    let hint = if t.english_text(&label_key) == Some(question.label.as_str()) {
        t.lookup(&format!("question.{}.hint", question.id))
            .map(str::to_owned)
    } else {
        question.hint.clone()
    };
    (label, hint)
}

fn option_label(ctx: &StepContext, question: &Question, option: &str) -> String {
    let key = match question.kind {
        QuestionKind::Proof => format!("proof.option.{option}"),
        _ => format!("question.{}.option.{option}", question.id),
    };
    ctx.texts
        .lookup(&key)
        .map_or_else(|| option.replace('_', " "), str::to_owned)
}

fn question_input(ctx: &StepContext, question: &Question) -> Html {
    let (label, hint) = wording(ctx, question);
    let id = question.id.clone();
    let on_input = ctx
        .dispatch
        .reform(move |value: String| Action::Answer(id.clone(), value));
    let path = format!("answers.{}", question.id);
    let value = ctx.form.draft.answer(&question.id).to_owned();
    let kind = match &question.kind {
        QuestionKind::Choice | QuestionKind::Proof => {
            let choices = question
                .options()
                .into_iter()
                .map(|option| Choice {
                    value: option.to_owned(),
                    label: option_label(ctx, question, option),
                })
                .collect();
            return fields::radio_group(
                ctx,
                &path,
                "question",
                Some(&question.id),
                label,
                hint,
                choices,
                Some(value.as_str()),
                question.required,
                on_input,
            );
        }
        QuestionKind::LongText => InputKind::LongText,
        QuestionKind::Date => InputKind::Date,
        QuestionKind::Text | QuestionKind::OrderNumber => InputKind::Text,
    };
    fields::text_field(
        ctx,
        TextField {
            path,
            hook: "question",
            label,
            hint,
            required: question.required,
            kind,
            autocomplete: Some("off"),
            question: Some(question.id.clone()),
            value,
            on_input,
        },
    )
}
