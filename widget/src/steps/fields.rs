//! Labelled inputs that show their own problems accessibly: each has a
//! visible label, its hint and problem tied to it by `aria-describedby`,
//! `aria-invalid` while wrong, and a live region so the problem is read out
//! the moment it appears.

use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::StepContext;
use crate::checks;
use crate::state::Action;

/// Input paths whose problems show beside their input; anything else is
/// listed above the Send button.
pub const SHOWN_ON_INPUTS: [&str; 9] = [
    "answers.",
    "description",
    "remedy",
    "outcomes",
    "severity",
    "mood",
    "contact.",
    "callback.",
    "category",
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Text,
    Email,
    Tel,
    Date,
    LongText,
}

/// One text-like input.
pub struct TextField {
    /// The submission path, e.g. `contact.email` or `answers.order_number`.
    pub path: String,
    /// The `data-heard` hook.
    pub hook: &'static str,
    pub label: String,
    pub hint: Option<String>,
    pub required: bool,
    pub kind: InputKind,
    pub autocomplete: Option<&'static str>,
    /// For guided questions: `data-question`.
    pub question: Option<String>,
    pub value: String,
    pub on_input: Callback<String>,
}

/// The element id for an input path.
pub fn input_id(path: &str) -> String {
    format!("heard-{}", path.replace('.', "-"))
}

pub fn text_field(ctx: &StepContext, field: TextField) -> Html {
    let t = &ctx.texts;
    let id = input_id(&field.path);
    let problem = ctx.shown.get(&field.path);
    let describedby = describedby(&id, field.hint.is_some(), problem.is_some());
    let onblur = touch(ctx, &field.path);
    let label = html! {
        <label for={id.clone()}>
            { &field.label }
            <span class="heard-muted">
                { " " }{ t.get(if field.required { "field.required" } else { "field.optional" }) }
            </span>
        </label>
    };
    let invalid = problem.map(|_| "true");
    let input = if field.kind == InputKind::LongText {
        let oninput = field.on_input.reform(|event: InputEvent| {
            event.target_unchecked_into::<HtmlTextAreaElement>().value()
        });
        html! {
            <textarea
                id={id.clone()}
                rows="4"
                data-heard={field.hook}
                data-question={field.question.clone()}
                data-field={field.path.clone()}
                required={field.required}
                aria-invalid={invalid}
                aria-describedby={describedby}
                value={field.value.clone()}
                {oninput}
                {onblur}
            />
        }
    } else {
        let oninput = field
            .on_input
            .reform(|event: InputEvent| event.target_unchecked_into::<HtmlInputElement>().value());
        // Date pickers report only on change in some browsers.
        let onchange = field
            .on_input
            .reform(|event: Event| event.target_unchecked_into::<HtmlInputElement>().value());
        let (kind, inputmode) = match field.kind {
            InputKind::Email => ("email", None),
            InputKind::Tel => ("tel", Some("tel")),
            InputKind::Date => ("date", None),
            _ => ("text", None),
        };
        html! {
            <input
                id={id.clone()}
                type={kind}
                {inputmode}
                data-heard={field.hook}
                data-question={field.question.clone()}
                data-field={field.path.clone()}
                autocomplete={field.autocomplete}
                required={field.required}
                aria-invalid={invalid}
                aria-describedby={describedby}
                value={field.value.clone()}
                {oninput}
                {onchange}
                {onblur}
            />
        }
    };
    html! {
        <div class="heard-field">
            { label }
            { hint(&id, field.hint.as_deref()) }
            { input }
            { problem_slot(ctx, &id, &field.path) }
        </div>
    }
}

/// One radio choice in a [`radio_group`].
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// A group of radios: a fieldset whose legend names the question.
#[allow(clippy::too_many_arguments)]
pub fn radio_group(
    ctx: &StepContext,
    path: &str,
    hook: &'static str,
    question: Option<&str>,
    legend: String,
    hint_text: Option<String>,
    choices: Vec<Choice>,
    selected: Option<&str>,
    required: bool,
    on_pick: Callback<String>,
) -> Html {
    let id = input_id(path);
    let problem = ctx.shown.get(path);
    let describedby = describedby(&id, hint_text.is_some(), problem.is_some());
    let radios = choices.into_iter().enumerate().map(|(index, choice)| {
        let value = choice.value.clone();
        let onchange = on_pick.reform(move |_: Event| value.clone());
        html! {
            <label class="heard-check">
                <input
                    type="radio"
                    name={id.clone()}
                    data-heard={hook}
                    data-question={question.map(str::to_owned)}
                    data-field={(index == 0).then(|| path.to_owned())}
                    value={choice.value.clone()}
                    checked={selected == Some(choice.value.as_str())}
                    {onchange}
                />
                <span>{ choice.label }</span>
            </label>
        }
    });
    html! {
        <fieldset class="heard-field heard-choices" aria-describedby={describedby}>
            <legend>
                { legend }
                <span class="heard-muted">
                    { " " }{ ctx.texts.get(if required { "field.required" } else { "field.optional" }) }
                </span>
            </legend>
            { hint(&id, hint_text.as_deref()) }
            { for radios }
            { problem_slot(ctx, &id, path) }
        </fieldset>
    }
}

pub fn hint(id: &str, text: Option<&str>) -> Html {
    match text {
        Some(text) => {
            html! { <p id={format!("{id}-hint")} class="heard-muted heard-hint">{ text }</p> }
        }
        None => Html::default(),
    }
}

/// The problem of `path`, if shown, in a live region that is always there.
pub fn problem_slot(ctx: &StepContext, id: &str, path: &str) -> Html {
    let message = ctx
        .shown
        .get(path)
        .map(|problem| checks::message(&ctx.texts, problem));
    html! {
        <div id={format!("{id}-error")} class="heard-error-slot" aria-live="polite">
            if let Some(message) = message {
                <p class="heard-error" data-heard="error">{ message }</p>
            }
        </div>
    }
}

pub fn describedby(id: &str, has_hint: bool, has_problem: bool) -> Option<String> {
    let parts: Vec<String> = [
        has_hint.then(|| format!("{id}-hint")),
        has_problem.then(|| format!("{id}-error")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Leaving an input starts showing its problems (and then live, as typed),
/// but only once something was typed: an empty required input complains on
/// Next or Send instead. A message appearing on blur moves the page under
/// the pointer, and the click that caused the blur would miss its target.
pub fn touch(ctx: &StepContext, path: &str) -> Callback<FocusEvent> {
    let path = path.to_owned();
    let dispatch = ctx.dispatch.clone();
    Callback::from(move |event: FocusEvent| {
        // `value` is read structurally, so this works for inputs, text areas
        // and selects alike.
        let value = event.target_unchecked_into::<HtmlInputElement>().value();
        if !value.trim().is_empty() {
            dispatch.emit(Action::Touch(vec![path.clone()]));
        }
    })
}
