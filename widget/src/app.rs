//! The dialog: loads the site's configuration and the shopper's language,
//! shows one step at a time, sends the complaint and keeps focus where a
//! keyboard user expects it.

use std::cell::RefCell;
use std::rc::Rc;

use heard_shared::{ErrorBody, FieldError, SiteConfig};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Element, HtmlElement, HtmlSelectElement, KeyboardEvent, Node};
use yew::prelude::*;

use crate::api;
use crate::checks;
use crate::delivery::{self, Delivery};
use crate::earlier;
use crate::i18n::{self, Texts};
use crate::page;
use crate::panel::{Command, PanelControl};
use crate::prover::Prover;
use crate::receipt::ReceiptView;
use crate::state::{Action, Form, FormState, Step};
use crate::steps::{self, StepContext};
use crate::submission::{
    PageContext, build_submission, choose_language, fill_ms, honeypot_for_submission,
};

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
pub enum FocusTarget {
    Title,
    /// The first input of the step now shown.
    FirstField,
    /// The input for this submission path.
    Field(String),
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
    // Starts closed so a dialog open from the start (inline) counts as opening.
    let was_open = use_mut_ref(|| false);
    let pending_category = use_mut_ref(|| None::<String>);
    let config = use_state(|| Config::Loading);
    let config_attempt = use_state(|| 0_u32);
    let form = use_reducer(Form::default);
    let chosen_language = use_state(|| None::<String>);
    let texts = use_state(|| Rc::new(Texts::english()));
    let earlier = use_mut_ref(Vec::new);
    let redraw = {
        let rerender = rerender.clone();
        Callback::from(move |()| rerender.force_update())
    };
    let page_context = use_memo((), |()| page::context());
    let prover = use_memo((), |()| Prover::default());
    let delivery = Delivery {
        collector: props.collector.clone(),
        site_key: props.site_key.clone(),
        panel: props.panel.clone(),
        prover: (*prover).clone(),
    };

    use_effect_with(props.panel.clone(), move |panel: &PanelControl| {
        panel.subscribe(Some(Callback::from(move |()| rerender.force_update())));
        let panel = panel.clone();
        move || panel.subscribe(None)
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

    // Complaints an earlier page view could not send go out now.
    use_effect_with((props.collector.clone(), props.site_key.clone()), {
        let delivery = delivery.clone();
        move |_: &(AttrValue, AttrValue)| delivery.flush_outbox()
    });

    let site = match &*config {
        Config::Ready(site) => Some(site.clone()),
        _ => None,
    };
    let language = site.as_ref().map_or_else(
        || "en".to_owned(),
        |site| {
            (*chosen_language)
                .clone()
                .filter(|tag| offered_languages(site).contains(&tag.as_str()))
                .unwrap_or_else(|| choose_language(&page_context, site))
        },
    );

    // One catalog at a time, fetched when chosen; English is built in.
    use_effect_with((language.clone(), props.collector.clone()), {
        let texts = texts.clone();
        move |(language, collector): &(String, AttrValue)| {
            if language == "en" {
                texts.set(Rc::new(Texts::english()));
            } else if texts.language != *language {
                let (language, collector) = (language.clone(), collector.clone());
                spawn_local(async move {
                    // Without its catalog the shopper still reads English.
                    if let Ok(catalog) = api::catalog(&collector, &language).await {
                        texts.set(Rc::new(Texts::english().with_catalog(&language, catalog)));
                    }
                });
            }
        }
    });

    // Set through the CSS object model, not a style attribute, so a page with
    // a strict Content-Security-Policy still gets the merchant's colour. The
    // launcher is the loader's, but it reads the same custom property.
    let accent = site
        .as_ref()
        .and_then(|site| accent_color(&site.branding.accent_color).map(str::to_owned));
    use_effect_with(accent, {
        let wrapper = wrapper.clone();
        let panel = props.panel.clone();
        move |accent: &Option<String>| {
            if let Some(accent) = accent {
                let targets = [wrapper.cast::<HtmlElement>(), panel.launcher().cloned()];
                for element in targets.into_iter().flatten() {
                    let _ = element.style().set_property("--heard-accent", accent);
                }
            }
        }
    });

    // What the page asked for through the handle, once the form can do it.
    use_effect({
        let panel = props.panel.clone();
        let form = form.clone();
        let pending_category = pending_category.clone();
        let pending_focus = pending_focus.clone();
        let site = site.clone();
        move || {
            for command in panel.take_commands() {
                match command {
                    Command::Category(id) => *pending_category.borrow_mut() = Some(id),
                    Command::Prefill(values) => form.dispatch(Action::Prefill(values)),
                    Command::Identify(identity) => form.dispatch(Action::Identify(identity)),
                }
            }
            if let Some(site) = site {
                let requested = pending_category.borrow_mut().take();
                if let Some(category) = requested.and_then(|id| site.category(&id).cloned())
                    && !form.is_busy_or_done()
                {
                    *pending_focus.borrow_mut() = Some(FocusTarget::FirstField);
                    form.dispatch(Action::ChooseCategory {
                        id: category.id.clone(),
                        with_questions: !category.questions.is_empty(),
                        suggestion: category.suggestion,
                    });
                }
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

    let open = props.panel.is_open();
    if open && !was_open.replace(open) {
        // The fill time counts from the moment the form is first on screen.
        form.dispatch(Action::Shown(page::now_ms()));
        *pending_focus.borrow_mut() = Some(FocusTarget::Title);
        // The first moment a complaint could be sent: a proof of work is
        // fetched and solved while the shopper writes.
        delivery.prover.prepare(&props.collector, &props.site_key);
        // Complaints remembered on this device, with their statuses: read
        // again each time the dialog opens.
        earlier::refresh(
            earlier.clone(),
            props.collector.clone(),
            props.site_key.clone(),
            redraw.clone(),
        );
    }
    *was_open.borrow_mut() = open;
    let t = (*texts).clone();
    let direction = if i18n::is_rtl(&language) {
        "rtl"
    } else {
        "ltr"
    };
    if !open {
        return html! { <div class="heard" ref={wrapper} dir={direction} lang={language}></div> };
    }

    let inline = props.panel.is_inline();
    let close = {
        let panel = props.panel.clone();
        Callback::from(move |_: ()| panel.set_open(false))
    };
    let on_keydown = {
        let close = close.clone();
        let dialog = dialog.clone();
        Callback::from(move |event: KeyboardEvent| {
            if inline {
                return;
            }
            match event.key().as_str() {
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
            }
        })
    };

    let body = match &*config {
        Config::Loading => html! {
            <p class="heard-muted" role="status">{ t.get("dialog.loading") }</p>
        },
        Config::Failed => {
            let retry = {
                let config_attempt = config_attempt.clone();
                Callback::from(move |_: MouseEvent| config_attempt.set(*config_attempt + 1))
            };
            html! {
                <div class="heard-step">
                    <p class="heard-error" role="alert" data-heard="error">
                        { t.get("dialog.load_failed") }
                    </p>
                    <div class="heard-actions">
                        <button type="button" class="heard-button" onclick={retry}>{ t.get("dialog.retry") }</button>
                    </div>
                </div>
            }
        }
        Config::Ready(site) => Screens {
            props,
            site: site.clone(),
            form: &form,
            texts: t.clone(),
            language: language.clone(),
            page: page_context.clone(),
            pending_focus: &pending_focus,
            close: &close,
            delivery: &delivery,
            earlier: &earlier,
            redraw: &redraw,
        }
        .view(),
    };

    let (title, shop) = match &site {
        Some(site)
            if site.branding.launcher_label != heard_shared::Branding::default().launcher_label =>
        {
            (
                site.branding.launcher_label.clone(),
                Some(site.name.clone()),
            )
        }
        Some(site) => (t.get("launcher.label"), Some(site.name.clone())),
        None => (t.get("launcher.label"), None),
    };
    let languages = site
        .as_ref()
        .map(|site| offered_languages(site))
        .unwrap_or_default();
    let language_switch = (languages.len() > 1).then(|| {
        let onchange = {
            let chosen_language = chosen_language.clone();
            Callback::from(move |event: Event| {
                let tag = event.target_unchecked_into::<HtmlSelectElement>().value();
                chosen_language.set(Some(tag));
            })
        };
        html! {
            <label class="heard-language">
                <span class="heard-visually-hidden">{ t.get("language.label") }</span>
                <select data-heard="language" {onchange}>
                    { for languages.iter().map(|tag| html! {
                        <option value={*tag} lang={*tag} selected={*tag == language}>{ i18n::native_name(tag) }</option>
                    }) }
                </select>
            </label>
        }
    });
    let on_close_click = close.reform(|_: MouseEvent| ());
    let panel_class = classes!("heard-panel", inline.then_some("heard-inline"));

    html! {
        <div class="heard" ref={wrapper} dir={direction} lang={language.clone()}>
            <div
                class={panel_class}
                role={if inline { "region" } else { "dialog" }}
                aria-modal={(!inline).then_some("true")}
                aria-labelledby={TITLE_ID}
                data-heard="dialog"
                ref={dialog}
                onkeydown={on_keydown}
            >
                // A div: a <header> here would be a second banner landmark on the shop's page.
                <div class="heard-header">
                    <div class="heard-heading">
                        if let Some(shop) = shop {
                            <p class="heard-shop">{ shop }</p>
                        }
                        <h2 id={TITLE_ID} class="heard-title" tabindex="-1">{ title }</h2>
                    </div>
                    { for language_switch }
                    if !inline {
                        <button
                            type="button"
                            class="heard-close"
                            data-heard="close"
                            aria-label={t.get("dialog.close")}
                            onclick={on_close_click}
                        >
                            <span aria-hidden="true">{ "×" }</span>
                        </button>
                    }
                </div>
                // The photos component reads the texts from context.
                <ContextProvider<Texts> context={(*t).clone()}>
                    <div class="heard-body">{ body }</div>
                </ContextProvider<Texts>>
            </div>
        </div>
    }
}

/// The site's languages the widget has catalogs for, in the site's order.
fn offered_languages(site: &SiteConfig) -> Vec<&'static str> {
    let mut offered = Vec::new();
    for tag in site
        .languages
        .iter()
        .filter_map(|tag| i18n::supported_match(tag))
    {
        if !offered.contains(&tag) {
            offered.push(tag);
        }
    }
    offered
}

/// The screens of a loaded form and their callbacks, split from [`app`] only
/// to keep each function readable.
struct Screens<'a> {
    props: &'a AppProps,
    site: Rc<SiteConfig>,
    form: &'a UseReducerHandle<Form>,
    texts: Rc<Texts>,
    language: String,
    page: Rc<PageContext>,
    pending_focus: &'a Rc<RefCell<Option<FocusTarget>>>,
    close: &'a Callback<()>,
    delivery: &'a Delivery,
    earlier: &'a earlier::Rows,
    redraw: &'a Callback<()>,
}

impl Screens<'_> {
    fn view(&self) -> Html {
        let form = self.form;
        let t = &self.texts;
        // A new, empty complaint is on screen from now: its fill time counts
        // from here.
        let start_over = {
            let pending_focus = self.pending_focus.clone();
            let form = form.clone();
            Callback::from(move |()| {
                *pending_focus.borrow_mut() = Some(FocusTarget::Title);
                form.dispatch(Action::StartOver);
                form.dispatch(Action::Shown(page::now_ms()));
            })
        };
        match &form.state {
            FormState::Sent(receipt) => {
                return html! {
                    <ReceiptView
                        receipt={receipt.clone()}
                        collector={self.props.collector.clone()}
                        language={self.language.clone()}
                        texts={self.texts.clone()}
                        site_key={self.props.site_key.clone()}
                        kind={form.draft.kind}
                        on_start_over={start_over}
                        on_done={self.close.clone()}
                    />
                };
            }
            FormState::Queued => {
                let on_done = self.close.reform(|_: MouseEvent| ());
                return html! {
                    <div class="heard-step heard-queued">
                        <p class="heard-step-title heard-queued-title" role="status" data-heard="queued" tabindex="-1">
                            { t.get("status.queued") }
                        </p>
                        <p class="heard-muted">{ t.get("status.queued.detail") }</p>
                        if !self.props.panel.is_inline() {
                            <div class="heard-actions">
                                <button type="button" class="heard-button" data-heard="done" onclick={on_done}>
                                    { t.get("receipt.done") }
                                </button>
                            </div>
                        }
                    </div>
                };
            }
            _ => {}
        }

        let problems = checks::problems(&form.draft, &self.page, &self.site, &self.language);
        let shown = Rc::new(checks::visible(form, &problems));
        let dispatch = {
            let form = form.clone();
            let pending_focus = self.pending_focus.clone();
            let step = form.step;
            let category = form.draft.category.clone();
            let first_step = form.flow.first().copied();
            Callback::from(move |action: Action| {
                let focus = match &action {
                    Action::ChooseCategory { .. } | Action::StartCallback => {
                        Some(FocusTarget::FirstField)
                    }
                    Action::Back if Some(step) == first_step => Some(
                        category
                            .clone()
                            .map_or(FocusTarget::Title, FocusTarget::Category),
                    ),
                    Action::Back => Some(FocusTarget::FirstField),
                    _ => None,
                };
                if focus.is_some() {
                    *pending_focus.borrow_mut() = focus;
                }
                form.dispatch(action);
            })
        };
        let ctx = StepContext {
            texts: self.texts.clone(),
            site: self.site.clone(),
            form: Rc::new((**form).clone()),
            shown,
            dispatch: dispatch.clone(),
            on_next: self.next(&problems),
            on_back: dispatch.reform(|()| Action::Back),
            on_submit: self.submit(problems),
            collector: self.props.collector.clone(),
            site_key: self.props.site_key.clone(),
            language: self.language.clone(),
            earlier: self.earlier.clone(),
            redraw: self.redraw.clone(),
        };
        match form.step {
            Step::Categories => steps::categories::view(&ctx),
            Step::Questions => steps::questions::view(&ctx),
            Step::Details => steps::details::view(&ctx),
            Step::Send => steps::send::view(&ctx, &self.page),
            Step::Callback => steps::callback::view(&ctx, &self.page),
        }
    }

    /// Checks what is on this step and moves on, or shows what needs a look.
    fn next(&self, problems: &[FieldError]) -> Callback<()> {
        let form = self.form.clone();
        let pending_focus = self.pending_focus.clone();
        let here: Vec<String> = problems
            .iter()
            .filter(|problem| checks::step_of(&problem.field, form.draft.kind) == form.step)
            .map(|problem| problem.field.clone())
            .collect();
        Callback::from(move |()| {
            if let Some(first) = here.first() {
                *pending_focus.borrow_mut() = Some(FocusTarget::Field(first.clone()));
                form.dispatch(Action::Touch(here.clone()));
            } else {
                *pending_focus.borrow_mut() = Some(FocusTarget::FirstField);
                form.dispatch(Action::Next);
            }
        })
    }

    /// Checks the whole complaint with the shared rules, then sends it once;
    /// the collector's answer becomes a receipt, a queued notice or messages
    /// on the inputs.
    fn submit(&self, problems: Vec<FieldError>) -> Callback<String> {
        let form = self.form.clone();
        let pending_focus = self.pending_focus.clone();
        let delivery = self.delivery.clone();
        let submission = build_submission(&form.draft, &self.page, &self.site, &self.language);
        let texts = self.texts.clone();
        Callback::from(move |honeypot: String| {
            if form.is_busy_or_done() {
                return;
            }
            if !problems.is_empty() {
                let kind = form.draft.kind;
                let position = |field: &str| {
                    let step = checks::step_of(field, kind);
                    form.flow.iter().position(|candidate| *candidate == step)
                };
                let first = problems
                    .iter()
                    .min_by_key(|problem| position(&problem.field))
                    .map(|problem| problem.field.clone());
                form.dispatch(Action::Touch(
                    problems
                        .iter()
                        .map(|problem| problem.field.clone())
                        .collect(),
                ));
                if let Some(first) = first {
                    form.dispatch(Action::GoTo(checks::step_of(&first, kind)));
                    *pending_focus.borrow_mut() = Some(FocusTarget::Field(first));
                }
                return;
            }
            let idempotency_key = form
                .idempotency_key
                .clone()
                .unwrap_or_else(page::new_idempotency_key);
            let fill_ms = form
                .fill_ms
                .or_else(|| fill_ms(form.shown_at_ms, page::now_ms()))
                .unwrap_or(0);
            form.dispatch(Action::Send {
                idempotency_key: idempotency_key.clone(),
                fill_ms,
            });
            let mut submission = submission.clone();
            submission.fill_ms = form.shown_at_ms.map(|_| fill_ms);
            submission.honeypot = honeypot_for_submission(&honeypot);
            let report = {
                let dispatcher = form.dispatcher();
                let pending_focus = pending_focus.clone();
                let texts = texts.clone();
                Callback::from(move |outcome: delivery::Outcome| {
                    let (focus, action) = outcome_to_action(outcome, &texts);
                    if focus.is_some() {
                        *pending_focus.borrow_mut() = focus;
                    }
                    dispatcher.dispatch(action);
                })
            };
            delivery.send(submission, idempotency_key, report);
        })
    }
}

/// What the end of a send does to the form, and where focus goes.
fn outcome_to_action(outcome: delivery::Outcome, texts: &Texts) -> (Option<FocusTarget>, Action) {
    match outcome {
        delivery::Outcome::Stored(receipt) => (Some(FocusTarget::Receipt), Action::Stored(receipt)),
        delivery::Outcome::Queued => (Some(FocusTarget::Receipt), Action::Queued),
        delivery::Outcome::Refused(body) => {
            let focus = body
                .fields
                .first()
                .map(|problem| FocusTarget::Field(problem.field.clone()));
            (focus, Action::Refused(body))
        }
        delivery::Outcome::Unexpected(status) => (
            None,
            Action::Refused(ErrorBody {
                error: "unexpected".to_owned(),
                message: texts.format("problem.unexpected", &[("status", &status.to_string())]),
                fields: Vec::new(),
            }),
        ),
    }
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
        FocusTarget::Receipt => {
            page::focus_first(dialog, ".heard-receipt-title, .heard-queued-title")
        }
        FocusTarget::FirstField => page::focus_first(
            dialog,
            ".heard-body input, .heard-body textarea, .heard-body select, .heard-body .heard-category",
        ),
        FocusTarget::Field(path) => {
            page::focus_first(dialog, &format!("[data-field=\"{}\"]", css_safe(path)))
        }
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

/// Paths are ids the widget or the merchant chose; anything that could break
/// out of the attribute selector is dropped.
fn css_safe(path: &str) -> String {
    path.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect()
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
            fields: vec![FieldError::new("description", "required", "Tell us.")],
        };
        let (focus, action) =
            outcome_to_action(delivery::Outcome::Refused(body.clone()), &Texts::english());
        assert_eq!(focus, Some(FocusTarget::Field("description".to_owned())));
        assert_eq!(action, Action::Refused(body));
    }

    #[test]
    fn queued_and_strange_answers_keep_the_form() {
        let texts = Texts::english();
        assert_eq!(
            outcome_to_action(delivery::Outcome::Queued, &texts).1,
            Action::Queued
        );
        let (focus, action) = outcome_to_action(delivery::Outcome::Unexpected(404), &texts);
        assert_eq!(focus, None);
        let Action::Refused(body) = action else {
            panic!("expected a refusal, got {action:?}")
        };
        assert!(body.message.contains("(404)"));
        assert!(body.fields.is_empty());
    }

    #[test]
    fn selectors_are_built_from_safe_characters_only() {
        assert_eq!(css_safe("answers.order_number"), "answers.order_number");
        assert_eq!(css_safe("a\"]x"), "ax");
    }
}
