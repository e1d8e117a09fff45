//! "Please call me": a phone number, a time window, optionally a name and a
//! line about what it is about. Stored and answered like a complaint.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::StepContext;
use super::fields::{self, InputKind, TextField};
use crate::state::Action;
use crate::submission::PageContext;

/// The windows offered, as catalog keys; the shopper's wording is sent.
pub const WINDOWS: [&str; 5] = [
    "callback.window.asap",
    "callback.window.morning",
    "callback.window.afternoon",
    "callback.window.evening",
    "callback.window.weekend",
];

pub fn view(ctx: &StepContext, page: &PageContext) -> Html {
    let t = &ctx.texts;
    let draft = &ctx.form.draft;
    let id = fields::input_id("callback.window");
    let problem = ctx.shown.contains_key("callback.window");
    let chosen = draft.callback_window.clone();
    let options = WINDOWS.iter().map(|key| {
        let text = t.get(key);
        let selected = text == chosen;
        html! { <option value={text.clone()} {selected}>{ text }</option> }
    });
    let onchange = ctx.dispatch.reform(|event: Event| {
        Action::EditCallbackWindow(event.target_unchecked_into::<HtmlSelectElement>().value())
    });
    let onblur = fields::touch(ctx, "callback.window");
    let body = html! {
        <>
            <p class="heard-muted">{ t.get("step.callback.intro") }</p>
            { super::send::contact_inputs(ctx, true) }
            <div class="heard-field">
                <label for={id.clone()}>
                    { t.get("callback.window") }
                    <span class="heard-muted">{ " " }{ t.get("field.required") }</span>
                </label>
                <select
                    id={id.clone()}
                    data-heard="callback-window"
                    data-field="callback.window"
                    required=true
                    aria-invalid={problem.then_some("true")}
                    aria-describedby={fields::describedby(&id, false, problem)}
                    {onchange}
                    {onblur}
                >
                    <option value="" selected={chosen.is_empty()}>{ t.get("question.choose") }</option>
                    { for options }
                </select>
                { fields::problem_slot(ctx, &id, "callback.window") }
            </div>
            { fields::text_field(ctx, TextField {
                path: "description".to_owned(),
                hook: "description",
                label: t.get("callback.about"),
                hint: None,
                required: false,
                kind: InputKind::LongText,
                autocomplete: None,
                question: None,
                value: draft.description.clone(),
                on_input: ctx.dispatch.reform(Action::EditDescription),
            }) }
            { super::send::attached(ctx, page) }
        </>
    };
    ctx.frame("step.callback.title", body)
}
