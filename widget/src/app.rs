//! The dialog: loads the site's configuration, shows one step at a time,
//! sends the complaint and keeps focus where a keyboard user expects it.

use std::cell::RefCell;
use std::rc::Rc;

use heard_shared::{ErrorBody, SiteConfig, validate_submission};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Element, HtmlElement, KeyboardEvent, Node};
use yew::prelude::*;

use crate::api::{self, ApiError};
use crate::page;
use crate::panel::PanelControl;
use crate::receipt::ReceiptView;
use crate::state::{Action, Field, FieldErrors, Form, FormState, Step};
use crate::steps::categories::Categories;
use crate::steps::details::Details;
use crate::submission::{build_submission, choose_language};

#[derive(Properties, PartialEq)]
pub struct AppProps {
    pub site_key: AttrValue,
    /// The collector's base URL, without a trailing slash.
    pub collector: AttrValue,
    pub panel: PanelControl,
}

/// The site's configuration as the dialog knows it.
#[derive(Debug, Clone, PartialEq)]
enum Config {
    Loading,
    Ready(Rc<SiteConfig>),
    Failed,
}

/// Where focus goes after the next render. Focus is moved on purpose only:
/// when the dialog opens, when the step changes, and when something needs
/// the shopper's attention.
#[derive(Debug, Clone, PartialEq)]
enum FocusTarget {
    Title,
    Field(Field),
    Category(String),
    Receipt,
}

const TITLE_ID: &str = "heard-title";

#[function_component(App)]
pub fn app(props: &AppProps) -> Html {
    let rerender = use_force_update();
    let dialog = use_node_ref();
    let wrapper = use_node_ref();
    let pending_focus = use_mut_ref(|| props.panel.is_open().then_some(FocusTarget::Title));
    let config = use_state(|| Config::Loading);
    let config_attempt = use_state(|| 0_u32);
    let form = use_reducer(Form::default);

    use_effect_with(props.panel.clone(), {
        let pending_focus = pending_focus.clone();
        move |panel: &PanelControl| {
            panel.subscribe(Some(Callback::from(move |open: bool| {
                if open {
                    *pending_focus.borrow_mut() = Some(FocusTarget::Title);
                }
                rerender.force_update();
            })));
            let panel = panel.clone();
            move || panel.subscribe(None)
        }
    });

    use_effect_with(
        (
            props.collector.clone(),
            props.site_key.clone(),
            *config_attempt,
        ),
        {
            let config = config.clone();
            move |(collector, site_key, _): &(AttrValue, AttrValue, u32)| {
                config.set(Config::Loading);
                let (collector, site_key) = (collector.clone(), site_key.clone());
                spawn_local(async move {
                    config.set(match api::site_config(&collector, &site_key).await {
                        Ok(site) => Config::Ready(Rc::new(site)),
                        Err(_) => Config::Failed,
                    });
                });
            }
        },
    );

    // Set through the CSS object model, not a style attribute, so a page with
    // a strict Content-Security-Policy still gets the merchant's colour.
    let accent = match &*config {
        Config::Ready(site) => accent_color(&site.branding.accent_color).map(str::to_owned),
        _ => None,
    };
    use_effect_with(accent, {
        let wrapper = wrapper.clone();
        move |accent: &Option<String>| {
            if let (Some(accent), Some(element)) = (accent, wrapper.cast::<HtmlElement>()) {
                let _ = element.style().set_property("--heard-accent", accent);
            }
        }
    });

    use_effect({
        let dialog = dialog.clone();
        let pending_focus = pending_focus.clone();
        move || {
            let target = pending_focus.borrow_mut().take();
            if let (Some(target), Some(dialog)) = (target, dialog.cast::<Element>()) {
                move_focus(&dialog, &target);
            }
        }
    });

    if !props.panel.is_open() {
        return html! { <div class="heard" ref={wrapper}></div> };
    }

    let close = {
        let panel = props.panel.clone();
        Callback::from(move |_: ()| panel.set_open(false))
    };
    let on_keydown = {
        let close = close.clone();
        let dialog = dialog.clone();
        Callback::from(move |event: KeyboardEvent| match event.key().as_str() {
            "Escape" => {
                event.prevent_default();
                event.stop_propagation();
                close.emit(());
            }
            "Tab" => {
                if let Some(dialog) = dialog.cast::<Element>() {
                    keep_tab_inside(&event, &dialog);
                }
            }
            _ => {}
        })
    };

    let body = match &*config {
        Config::Loading => html! {
            <p class="heard-muted" role="status">{ "Loading…" }</p>
        },
        Config::Failed => {
            let retry = {
                let config_attempt = config_attempt.clone();
                Callback::from(move |_: MouseEvent| config_attempt.set(*config_attempt + 1))
            };
            html! {
                <div class="heard-step">
                    <p class="heard-error" role="alert" data-heard="error">
                        { "Sorry, the complaint form could not be loaded. Check your connection and try again." }
                    </p>
                    <div class="heard-actions">
                        <button type="button" class="heard-button" onclick={retry}>{ "Try again" }</button>
                    </div>
                </div>
            }
        }
        Config::Ready(site) => {
            let steps = Steps {
                props,
                site,
                form: &form,
                pending_focus: &pending_focus,
                close: &close,
            };
            steps.view()
        }
    };

    let (title, shop) = match &*config {
        Config::Ready(site) => (
            site.branding.launcher_label.clone(),
            Some(site.name.clone()),
        ),
        _ => ("Something wrong?".to_owned(), None),
    };
    let on_close_click = close.reform(|_: MouseEvent| ());

    html! {
        <div class="heard" ref={wrapper}>
            <div
                class="heard-panel"
                role="dialog"
                aria-modal="true"
                aria-labelledby={TITLE_ID}
                data-heard="dialog"
                ref={dialog}
                onkeydown={on_keydown}
            >
                <header class="heard-header">
                    <div class="heard-heading">
                        if let Some(shop) = shop {
                            <p class="heard-shop">{ shop }</p>
                        }
                        <h2 id={TITLE_ID} class="heard-title" tabindex="-1">{ title }</h2>
                    </div>
                    <button
                        type="button"
                        class="heard-close"
                        data-heard="close"
                        aria-label="Close"
                        onclick={on_close_click}
                    >
                        <span aria-hidden="true">{ "×" }</span>
                    </button>
                </header>
                <div class="heard-body">{ body }</div>
            </div>
        </div>
    }
}

/// The steps of a loaded form and their callbacks, split from [`app`] only
/// to keep each function readable.
struct Steps<'a> {
    props: &'a AppProps,
    site: &'a Rc<SiteConfig>,
    form: &'a UseReducerHandle<Form>,
    pending_focus: &'a Rc<RefCell<Option<FocusTarget>>>,
    close: &'a Callback<()>,
}

impl Steps<'_> {
    fn view(&self) -> Html {
        let form = self.form;
        let focus_next = |target: FocusTarget| {
            let pending_focus = self.pending_focus.clone();
            move || *pending_focus.borrow_mut() = Some(target.clone())
        };

        if let FormState::Sent(receipt) = &form.state {
            let language = choose_language(&page::context(), self.site);
            let on_start_over = {
                let form = form.clone();
                let focus = focus_next(FocusTarget::Title);
                Callback::from(move |()| {
                    focus();
                    form.dispatch(Action::StartOver);
                })
            };
            return html! {
                <ReceiptView
                    receipt={receipt.clone()}
                    collector={self.props.collector.clone()}
                    {language}
                    {on_start_over}
                    on_done={self.close.clone()}
                />
            };
        }

        match form.step {
            Step::Categories => {
                let on_choose = {
                    let form = form.clone();
                    let focus = focus_next(FocusTarget::Field(Field::Description));
                    Callback::from(move |id: String| {
                        focus();
                        form.dispatch(Action::ChooseCategory(id));
                    })
                };
                html! {
                    <Categories
                        site={self.site.clone()}
                        selected={form.draft.category.clone()}
                        {on_choose}
                    />
                }
            }
            Step::Details => {
                let chosen = form.draft.category.clone().unwrap_or_default();
                let category_label = self
                    .site
                    .category(&chosen)
                    .map_or_else(|| chosen.clone(), |category| category.label.clone());
                let on_back = {
                    let form = form.clone();
                    let focus = focus_next(FocusTarget::Category(chosen));
                    Callback::from(move |()| {
                        focus();
                        form.dispatch(Action::Back);
                    })
                };
                let dispatch = |make: fn(String) -> Action| {
                    let form = form.clone();
                    Callback::from(move |text: String| form.dispatch(make(text)))
                };
                let on_outcome = {
                    let form = form.clone();
                    Callback::from(move |(outcome, chosen)| {
                        form.dispatch(Action::SetOutcome(outcome, chosen))
                    })
                };
                html! {
                    <Details
                        {category_label}
                        form={(**form).clone()}
                        {on_back}
                        on_description={dispatch(Action::EditDescription)}
                        {on_outcome}
                        on_remedy={dispatch(Action::EditRemedy)}
                        on_submit={self.submit()}
                    />
                }
            }
        }
    }

    /// Checks the complaint with the shared rules, then sends it once; the
    /// collector's answer becomes a receipt or messages on the inputs.
    fn submit(&self) -> Callback<()> {
        let form = self.form.clone();
        let site = self.site.clone();
        let pending_focus = self.pending_focus.clone();
        let collector = self.props.collector.clone();
        let site_key = self.props.site_key.clone();
        Callback::from(move |()| {
            if form.is_busy_or_done() {
                return;
            }
            let submission = build_submission(&form.draft, &page::context(), &site);
            if let Err(problems) = validate_submission(&submission, &site) {
                *pending_focus.borrow_mut() = FieldErrors::from_problems(&problems)
                    .first_invalid()
                    .map(FocusTarget::Field);
                form.dispatch(Action::Invalid(problems));
                return;
            }
            let idempotency_key = form
                .idempotency_key
                .clone()
                .unwrap_or_else(page::new_idempotency_key);
            form.dispatch(Action::Send {
                idempotency_key: idempotency_key.clone(),
            });

            let dispatcher = form.dispatcher();
            let pending_focus = pending_focus.clone();
            let (collector, site_key) = (collector.clone(), site_key.clone());
            spawn_local(async move {
                let answer =
                    api::send_complaint(&collector, &site_key, &submission, &idempotency_key).await;
                let (focus, action) = answer_to_action(answer);
                *pending_focus.borrow_mut() = focus;
                dispatcher.dispatch(action);
            });
        })
    }
}

/// What the collector's answer does to the form, and where focus goes.
fn answer_to_action(
    answer: Result<heard_shared::Receipt, ApiError>,
) -> (Option<FocusTarget>, Action) {
    match answer {
        Ok(receipt) => (Some(FocusTarget::Receipt), Action::Stored(receipt)),
        Err(ApiError::Refused(body)) => {
            let focus = FieldErrors::from_problems(&body.fields)
                .first_invalid()
                .map(FocusTarget::Field);
            (focus, Action::Refused(body))
        }
        Err(ApiError::Network) => (None, Action::NotSent),
        Err(ApiError::Unexpected(status)) => (
            None,
            Action::Refused(ErrorBody {
                error: "unexpected".to_owned(),
                message: unexpected_answer_message(status),
                fields: Vec::new(),
            }),
        ),
    }
}

/// Said when the collector's answer is not one it would give, e.g. a proxy's
/// error page. Retrying is safe: the idempotency key prevents a duplicate.
pub fn unexpected_answer_message(status: u16) -> String {
    format!(
        "The complaint service had a problem (error {status}), so your complaint may not have \
         been stored. Please send it again: it will not be stored twice."
    )
}

/// The accent colour when it is a plain `#rgb` or `#rrggbb` colour; anything
/// else is ignored rather than passed into CSS.
pub fn accent_color(text: &str) -> Option<&str> {
    let digits = text.strip_prefix('#')?;
    (matches!(digits.len(), 3 | 6) && digits.bytes().all(|byte| byte.is_ascii_hexdigit()))
        .then_some(text)
}

fn move_focus(dialog: &Element, target: &FocusTarget) {
    match target {
        FocusTarget::Title => page::focus_first(dialog, ".heard-title"),
        FocusTarget::Receipt => page::focus_first(dialog, ".heard-receipt-title"),
        FocusTarget::Field(field) => page::focus_first(dialog, field_selector(*field)),
        FocusTarget::Category(id) => {
            let chosen = page::focusable_controls(dialog)
                .into_iter()
                .find(|control| {
                    control.get_attribute("data-category").as_deref() == Some(id.as_str())
                });
            match chosen {
                Some(button) => {
                    let _ = button.focus();
                }
                None => page::focus_first(dialog, ".heard-title"),
            }
        }
    }
}

fn field_selector(field: Field) -> &'static str {
    match field {
        Field::Category => "[data-heard=\"back\"]",
        Field::Description => "[data-heard=\"description\"]",
        Field::Outcomes => "[data-heard=\"outcome\"]",
        Field::Remedy => "[data-heard=\"remedy\"]",
    }
}

/// A modal dialog keeps keyboard focus inside itself: Tab from the last
/// control wraps to the first, Shift+Tab from the first wraps to the last.
fn keep_tab_inside(event: &KeyboardEvent, dialog: &Element) {
    let controls = page::focusable_controls(dialog);
    let (Some(first), Some(last)) = (controls.first(), controls.last()) else {
        return;
    };
    let target = event
        .target()
        .and_then(|target| target.dyn_into::<Node>().ok());
    let is = |control: &HtmlElement| control.is_same_node(target.as_ref());
    let inside_controls = controls.iter().any(is);
    let wrap_to = if event.shift_key() {
        (is(first) || !inside_controls).then_some(last)
    } else {
        (is(last) || !inside_controls).then_some(first)
    };
    if let Some(control) = wrap_to {
        event.prevent_default();
        let _ = control.focus();
    }
}

#[cfg(test)]
mod tests {
    use heard_shared::FieldError;

    use super::*;

    #[test]
    fn only_plain_hex_colours_reach_css() {
        assert_eq!(accent_color("#1f5fbf"), Some("#1f5fbf"));
        assert_eq!(accent_color("#FFF"), Some("#FFF"));
        for bad in [
            "1f5fbf",
            "#1f5fbg",
            "red",
            "#12345",
            "#1f5fbf; color: red",
            "",
            "#",
        ] {
            assert_eq!(accent_color(bad), None, "{bad}");
        }
    }

    #[test]
    fn refusals_focus_the_first_input_they_name() {
        let body = ErrorBody {
            error: "invalid_submission".to_owned(),
            message: "Check the form.".to_owned(),
            fields: vec![
                FieldError::new("remedy", "too_long", "Too long."),
                FieldError::new("description", "required", "Tell us."),
            ],
        };
        let (focus, action) = answer_to_action(Err(ApiError::Refused(body.clone())));
        assert_eq!(focus, Some(FocusTarget::Field(Field::Description)));
        assert_eq!(action, Action::Refused(body));
    }

    #[test]
    fn network_failures_and_strange_answers_keep_the_form() {
        assert_eq!(
            answer_to_action(Err(ApiError::Network)),
            (None, Action::NotSent)
        );
        let (focus, action) = answer_to_action(Err(ApiError::Unexpected(502)));
        assert_eq!(focus, None);
        let Action::Refused(body) = action else {
            panic!("expected a refusal, got {action:?}")
        };
        assert!(body.message.contains("error 502"));
        assert!(body.fields.is_empty());
    }
}
