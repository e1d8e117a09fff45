//! The form's screens: choose what went wrong (or another channel), the
//! category's own questions, what happened and what would make it right,
//! then contact and sending; or a callback request. Each screen is a plain
//! view function of a [`StepContext`]; the app owns state and callbacks.

pub mod callback;
pub mod categories;
pub mod details;
pub mod fields;
pub mod questions;
pub mod send;

use std::collections::BTreeMap;
use std::rc::Rc;

use heard_shared::{FieldError, SiteConfig};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::i18n::Texts;
use crate::state::{Action, Form, FormState, Problem};

/// Everything a screen needs to draw itself and report what the shopper did.
#[derive(Clone)]
pub struct StepContext {
    pub texts: Rc<Texts>,
    pub site: Rc<SiteConfig>,
    pub form: Rc<Form>,
    /// The problems to show now, by input path.
    pub shown: Rc<BTreeMap<String, FieldError>>,
    pub dispatch: Callback<Action>,
    /// Checks this step and moves on, or points at what needs a look.
    pub on_next: Callback<()>,
    pub on_back: Callback<()>,
    /// Checks everything and sends; given what the honeypot holds.
    pub on_submit: Callback<String>,
    /// Photos need to reach the collector themselves.
    pub collector: AttrValue,
    pub site_key: AttrValue,
    /// The chosen language's tag, for what is shown as attached.
    pub language: String,
    /// The complaints remembered on this device, shown under the categories.
    pub earlier: crate::earlier::Rows,
    /// Draws the app again, after the list changed.
    pub redraw: Callback<()>,
}

impl StepContext {
    /// The label of a category: the catalog's words for a default category
    /// the merchant did not rename, else the merchant's own label.
    pub fn category_label(&self, id: &str) -> String {
        match self
            .site
            .categories
            .iter()
            .find(|category| category.id == id)
        {
            Some(category) => self
                .texts
                .default_or(&format!("category.{id}.label"), &category.label),
            None => id.to_owned(),
        }
    }

    /// The heading, progress, the step's body and its Back / Next (or Send)
    /// buttons, as one form so Enter in a text input moves on.
    pub fn frame(&self, title_key: &str, body: Html) -> Html {
        let t = &self.texts;
        let form = &self.form;
        let last = form.is_last_step();
        let onsubmit = {
            let (on_next, on_submit) = (self.on_next.clone(), self.on_submit.clone());
            Callback::from(move |event: SubmitEvent| {
                event.prevent_default();
                if last {
                    // Read from the page, not from input events: a bot may
                    // set the value by script without firing any.
                    let honeypot = event
                        .target_unchecked_into::<web_sys::Element>()
                        .query_selector("[data-heard=honeypot]")
                        .ok()
                        .flatten()
                        .map(|input| input.unchecked_into::<web_sys::HtmlInputElement>().value())
                        .unwrap_or_default();
                    on_submit.emit(honeypot);
                } else {
                    on_next.emit(());
                }
            })
        };
        let on_back = self.on_back.reform(|_: MouseEvent| ());
        let progress = form.progress().map(|(current, total)| {
            t.format(
                "step.progress",
                &[
                    ("current", &current.to_string()),
                    ("total", &total.to_string()),
                ],
            )
        });
        let about = form
            .draft
            .category
            .as_deref()
            .filter(|_| form.step != crate::state::Step::Callback)
            .map(|id| self.category_label(id));
        let sending = form.state == FormState::Sending;
        let primary = if !last {
            html! {
                <button type="submit" class="heard-button heard-primary" data-heard="next">
                    { t.get("nav.next") }
                </button>
            }
        } else {
            let label = match &form.state {
                FormState::Sending => t.get("submit.sending"),
                FormState::Failed(Problem::NotSent) => t.get("submit.retry"),
                _ => match form.draft.kind {
                    heard_shared::SubmissionKind::Suggestion => t.get("submit.suggestion"),
                    heard_shared::SubmissionKind::Callback => t.get("submit.callback"),
                    heard_shared::SubmissionKind::Complaint => t.get("submit.send"),
                },
            };
            // aria-disabled rather than disabled: a disabled button drops
            // keyboard focus to the page while the complaint is on its way.
            html! {
                <button
                    type="submit"
                    class="heard-button heard-primary"
                    data-heard="submit"
                    aria-disabled={sending.then_some("true")}
                >
                    { label }
                </button>
            }
        };
        html! {
            <form class="heard-step" novalidate=true {onsubmit}>
                <div class="heard-step-head">
                    if let Some(progress) = progress {
                        <p class="heard-muted heard-progress">{ progress }</p>
                    }
                    <h3 class="heard-step-title" tabindex="-1">{ t.get(title_key) }</h3>
                    if let Some(about) = about {
                        <p class="heard-muted heard-about">{ t.get("nav.about") }{ " " }<strong>{ about }</strong></p>
                    }
                </div>
                { body }
                if last {
                    { Self::honeypot() }
                    { self.notices() }
                }
                <div class="heard-actions">
                    <button type="button" class="heard-button heard-secondary" data-heard="back" onclick={on_back}>
                        { t.get("nav.back") }
                    </button>
                    { primary }
                </div>
            </form>
        }
    }

    /// The input only bots fill in: off-screen by its class (not
    /// `display: none`, which bots recognise), out of the Tab order, hidden
    /// from assistive technology, and named like a field bots like to fill.
    /// Its label is not translated: people never see it.
    fn honeypot() -> Html {
        // Fixed markup with nothing from outside in it, as one string: a
        // fraction of the wasm the `html!` tree for it would cost.
        Html::from_html_unchecked(AttrValue::Static(
            r#"<div class="heard-trap" aria-hidden="true"><label>Leave this empty <input type="text" name="website" tabindex="-1" autocomplete="off" data-heard="honeypot"></label></div>"#,
        ))
    }

    /// Problems that belong to no input, and the sending status, in regions
    /// that are always in the page so screen readers announce what appears.
    fn notices(&self) -> Html {
        let t = &self.texts;
        let form = &self.form;
        let problem = match &form.state {
            FormState::Failed(Problem::NotSent) => Some(t.get("problem.not_sent")),
            FormState::Failed(Problem::Refused(message)) => Some(message.clone()),
            _ => None,
        };
        let others = form.refused.iter().filter(|problem| {
            !fields::SHOWN_ON_INPUTS
                .iter()
                .any(|prefix| problem.field.starts_with(prefix))
        });
        html! {
            <>
                <div class="heard-notices" role="alert">
                    if let Some(problem) = problem {
                        <p class="heard-error" data-heard="error">{ problem }</p>
                    }
                    { for others.map(|problem| html! {
                        <p class="heard-error" data-heard="error">{ crate::checks::message(t, problem) }</p>
                    }) }
                </div>
                <p class="heard-muted" role="status">
                    { if form.state == FormState::Sending { t.get("status.sending") } else { String::new() } }
                </p>
            </>
        }
    }
}
