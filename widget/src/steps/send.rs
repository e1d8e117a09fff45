//! The last step: optional contact with explicit consent, what the widget
//! attaches on its own (shown before it is sent), and the Send button.

use heard_shared::limits::PAGE_URL_MAX_CHARS;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::StepContext;
use super::fields::{self, InputKind, TextField};
use crate::i18n;
use crate::state::{Action, ContactField};
use crate::submission::{PageContext, browser_for_submission, page_url_for_submission};

pub fn view(ctx: &StepContext, page: &PageContext) -> Html {
    let t = &ctx.texts;
    let body = html! {
        <>
            <fieldset class="heard-field heard-contact">
                <legend>{ t.get("contact.title") }</legend>
                <p class="heard-muted">{ t.get("contact.hint") }</p>
                { contact_inputs(ctx, false) }
            </fieldset>
            { attached(ctx, page) }
        </>
    };
    ctx.frame("step.send.title", body)
}

/// Name, email and phone (phone first and required for a callback), and the
/// consent box, which only matters once something is typed.
pub fn contact_inputs(ctx: &StepContext, callback: bool) -> Html {
    let t = &ctx.texts;
    let contact = &ctx.form.draft.contact;
    let input = |field: ContactField, label_key: &str, kind, autocomplete, value: &str| {
        let hook = match field {
            ContactField::Name => "contact-name",
            ContactField::Email => "contact-email",
            ContactField::Phone => "contact-phone",
        };
        fields::text_field(
            ctx,
            TextField {
                path: field.path().to_owned(),
                hook,
                label: t.get(label_key),
                hint: None,
                required: callback && field == ContactField::Phone,
                kind,
                autocomplete: Some(autocomplete),
                question: None,
                value: value.to_owned(),
                on_input: ctx
                    .dispatch
                    .reform(move |text| Action::EditContact(field, text)),
            },
        )
    };
    let phone_key = if callback {
        "callback.phone"
    } else {
        "contact.phone"
    };
    let consent_id = fields::input_id("contact.consent");
    let consent_problem = ctx.shown.contains_key("contact.consent");
    let on_consent = ctx.dispatch.reform(|event: Event| {
        Action::SetConsent(event.target_unchecked_into::<HtmlInputElement>().checked())
    });
    html! {
        <>
            if callback {
                { input(ContactField::Phone, phone_key, InputKind::Tel, "tel", &contact.phone) }
                { input(ContactField::Name, "contact.name", InputKind::Text, "name", &contact.name) }
            } else {
                { input(ContactField::Name, "contact.name", InputKind::Text, "name", &contact.name) }
                { input(ContactField::Email, "contact.email", InputKind::Email, "email", &contact.email) }
                { input(ContactField::Phone, phone_key, InputKind::Tel, "tel", &contact.phone) }
            }
            <div class="heard-field">
                <label class="heard-check">
                    <input
                        id={consent_id.clone()}
                        type="checkbox"
                        data-heard="consent"
                        data-field="contact.consent"
                        checked={contact.consent}
                        aria-invalid={consent_problem.then_some("true")}
                        aria-describedby={fields::describedby(&consent_id, false, consent_problem)}
                        onchange={on_consent}
                    />
                    <span>{ t.get("contact.consent") }</span>
                </label>
                { fields::problem_slot(ctx, &consent_id, "contact.consent") }
            </div>
        </>
    }
}

/// What the widget sends without being asked, shown so nothing is a surprise.
pub fn attached(ctx: &StepContext, page: &PageContext) -> Html {
    let t = &ctx.texts;
    let none = t.get("attached.none");
    let page_url = page
        .page_url
        .as_deref()
        .and_then(page_url_for_submission)
        .map(|url| crate::receipt::excerpt(&url, PAGE_URL_MAX_CHARS.min(120)))
        .unwrap_or_else(|| none.clone());
    let browser = browser_for_submission(page).unwrap_or(none);
    html! {
        <details class="heard-attached" open=true>
            <summary>{ t.get("attached.title") }</summary>
            <dl>
                <dt>{ t.get("attached.page") }</dt>
                <dd class="heard-wrap">{ page_url }</dd>
                <dt>{ t.get("attached.language") }</dt>
                <dd>{ i18n::native_name(&ctx.language) }</dd>
                <dt>{ t.get("attached.browser") }</dt>
                <dd class="heard-wrap">{ browser }</dd>
            </dl>
        </details>
    }
}
