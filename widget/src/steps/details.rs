//! Step two: what happened (required), what would make it right, and sending.

use heard_shared::Outcome;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::state::{Form, FormState, Problem};

#[derive(Properties, PartialEq)]
pub struct DetailsProps {
    /// The chosen category as the shopper read it.
    pub category_label: AttrValue,
    pub form: Form,
    pub on_back: Callback<()>,
    pub on_description: Callback<String>,
    pub on_outcome: Callback<(Outcome, bool)>,
    pub on_remedy: Callback<String>,
    pub on_submit: Callback<()>,
}

const DESCRIPTION_ERROR_ID: &str = "heard-description-error";
const OUTCOMES_ERROR_ID: &str = "heard-outcomes-error";
const REMEDY_ERROR_ID: &str = "heard-remedy-error";
const CATEGORY_ERROR_ID: &str = "heard-category-error";

#[function_component(Details)]
pub fn details(props: &DetailsProps) -> Html {
    let form = &props.form;
    let errors = &form.errors;
    let sending = form.state == FormState::Sending;

    let onsubmit = props
        .on_submit
        .reform(|event: SubmitEvent| event.prevent_default());
    let on_back = props.on_back.reform(|_: MouseEvent| ());
    let on_description = props
        .on_description
        .reform(|event: InputEvent| event.target_unchecked_into::<HtmlTextAreaElement>().value());
    let on_remedy = props
        .on_remedy
        .reform(|event: InputEvent| event.target_unchecked_into::<HtmlInputElement>().value());

    let outcomes = Outcome::ALL.into_iter().map(|outcome| {
        let onchange = props.on_outcome.reform(move |event: Event| {
            (
                outcome,
                event.target_unchecked_into::<HtmlInputElement>().checked(),
            )
        });
        html! {
            <label class="heard-check">
                <input
                    type="checkbox"
                    name="outcome"
                    data-heard="outcome"
                    value={outcome.as_str()}
                    checked={form.draft.has_outcome(outcome)}
                    {onchange}
                />
                <span>{ outcome.label() }</span>
            </label>
        }
    });

    let submit_label = match &form.state {
        FormState::Sending => "Sending…",
        FormState::Failed(Problem::NotSent) => "Try again",
        _ => "Send",
    };

    html! {
        <form class="heard-step" novalidate=true {onsubmit}>
            <div class="heard-chosen-category">
                <p>
                    <span class="heard-muted">{ "About: " }</span>
                    <strong>{ &props.category_label }</strong>
                </p>
                <button
                    type="button"
                    class="heard-button heard-secondary"
                    data-heard="back"
                    aria-describedby={errors.category.as_ref().map(|_| CATEGORY_ERROR_ID)}
                    onclick={on_back}
                >
                    { "Back" }
                </button>
            </div>
            { field_error(CATEGORY_ERROR_ID, errors.category.as_deref()) }

            <div class="heard-field">
                <label for="heard-description">
                    { "What happened?" }
                    <span class="heard-muted">{ " (required)" }</span>
                </label>
                <textarea
                    id="heard-description"
                    data-heard="description"
                    rows="5"
                    required=true
                    aria-invalid={errors.description.as_ref().map(|_| "true")}
                    aria-describedby={errors.description.as_ref().map(|_| DESCRIPTION_ERROR_ID)}
                    value={form.draft.description.clone()}
                    oninput={on_description}
                />
                { field_error(DESCRIPTION_ERROR_ID, errors.description.as_deref()) }
            </div>

            <fieldset
                class="heard-field heard-outcomes"
                aria-describedby={errors.outcomes.as_ref().map(|_| OUTCOMES_ERROR_ID)}
            >
                <legend>{ "What would make this right?" }</legend>
                <p class="heard-muted">{ "Choose any that fit." }</p>
                { for outcomes }
                { field_error(OUTCOMES_ERROR_ID, errors.outcomes.as_deref()) }
            </fieldset>

            <div class="heard-field">
                <label for="heard-remedy">
                    { "In your own words" }
                    <span class="heard-muted">{ " (optional)" }</span>
                </label>
                <input
                    id="heard-remedy"
                    type="text"
                    data-heard="remedy"
                    aria-invalid={errors.remedy.as_ref().map(|_| "true")}
                    aria-describedby={errors.remedy.as_ref().map(|_| REMEDY_ERROR_ID)}
                    value={form.draft.remedy.clone()}
                    oninput={on_remedy}
                />
                { field_error(REMEDY_ERROR_ID, errors.remedy.as_deref()) }
            </div>

            <p class="heard-muted heard-privacy">
                { "You stay anonymous: we do not ask who you are." }
            </p>

            // Always in the page so that screen readers announce what appears in it.
            <div class="heard-notices" role="alert">
                { problem_notice(&form.state) }
                { for errors.other.iter().map(|message| html! {
                    <p class="heard-error" data-heard="error">{ message }</p>
                }) }
            </div>
            <p class="heard-muted" role="status">
                { if sending { "Sending your complaint…" } else { "" } }
            </p>

            <div class="heard-actions">
                // aria-disabled rather than disabled: a disabled button drops
                // keyboard focus to the page while the complaint is on its way.
                <button
                    type="submit"
                    class="heard-button heard-primary"
                    data-heard="submit"
                    aria-disabled={sending.then_some("true")}
                >
                    { submit_label }
                </button>
            </div>
        </form>
    }
}

fn field_error(id: &'static str, message: Option<&str>) -> Html {
    match message {
        Some(message) => html! {
            <p {id} class="heard-error" data-heard="error" aria-live="polite">{ message }</p>
        },
        None => Html::default(),
    }
}

fn problem_notice(state: &FormState) -> Html {
    let message = match state {
        FormState::Failed(Problem::NotSent) => {
            "Your complaint was not sent: we could not reach the shop's complaint service. \
             Nothing you wrote is lost. Check your connection and press Try again."
                .to_owned()
        }
        FormState::Failed(Problem::Refused(message)) => message.clone(),
        _ => return Html::default(),
    };
    html! { <p class="heard-error" data-heard="error">{ message }</p> }
}
