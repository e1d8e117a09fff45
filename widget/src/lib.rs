//! The Heard complaint widget.
//!
//! `www/widget.js`, the loader a merchant embeds with one script tag, imports
//! the JS glue generated from this crate and calls [`mount`] with a container
//! inside its shadow root. Everything the shopper sees after clicking the
//! launcher is drawn from here.
//!
//! Code map: [`app`] is the dialog and the flow between steps; [`steps`] and
//! [`receipt`] draw the screens; [`state`] holds the form and how it changes;
//! [`checks`] validates it as the shopper types; [`submission`] turns the form
//! into the wire type; [`i18n`] holds the words and picks the language;
//! [`api`] alone talks HTTP; [`outbox`] keeps what could not be sent;
//! [`remember`] keeps the complaints the shopper chose to remember and
//! [`earlier`] lists them;
//! [`proof`] solves the collector's proof-of-work challenge and [`prover`]
//! schedules that while the shopper types;
//! [`photos`] attaches pictures; [`page`] alone reads the host page and
//! browser; [`panel`] is the bridge to the loader's handle.
//!
//! Test hooks (`data-heard` attributes) that browser tests and the loader rely
//! on; keep them stable:
//!
//! | hook | element |
//! |---|---|
//! | `launcher` | the loader's button (drawn by `www/widget.js`) |
//! | `dialog` | the dialog (or the inline form's container) |
//! | `close` | the dialog's close button (absent inline) |
//! | `language` | `select`: the language switch, when the site offers several |
//! | `category` + `data-category=<id>` | one category button |
//! | `suggestion` | "rather make a suggestion?" button |
//! | `channel` + `data-kind=call\|email\|chat\|callback` | one alternative channel |
//! | `question` + `data-question=<id>` | a guided question's input (each radio of a choice) |
//! | `description` | `textarea`: what happened |
//! | `severity` + `value=inconvenience\|cost_me\|serious` | radio: how bad |
//! | `mood` + `value=calm\|annoyed\|upset\|furious` | radio: how it feels |
//! | `outcome` + `value=heard\|apology\|fix\|compensation` | checkbox: what would make it right |
//! | `remedy` | in the shopper's own words |
//! | `contact-name`, `contact-email`, `contact-phone` | optional contact inputs |
//! | `consent` | checkbox: consent to be contacted |
//! | `callback-window` | `select`: when to call back |
//! | `next`, `back` | step navigation |
//! | `submit` | sends (the last step's primary button) |
//! | `honeypot` | the hidden input only bots fill in (on the last step) |
//! | `queued` | "saved on this device" notice |
//! | `error` | any problem shown to the shopper |
//! | `reference`, `status-link`, `start-over`, `done` | on the receipt |
//! | `copy-reference`, `copy-link` | the receipt's copy buttons |
//! | `copy-status` | the live region saying what a copy button did |
//! | `remember` | checkbox on the receipt: remember it on this device |
//! | `earlier` | the "your earlier complaints" list, when there are any |
//! | `earlier-item` + `data-reference=<ref>`, `earlier-status`, `earlier-link`, `forget` | one remembered complaint |
//! | `forget-all` | forgets every remembered complaint |

pub mod api;
pub mod app;
pub mod checks;
pub mod delivery;
pub mod earlier;
pub mod i18n;
pub mod json;
pub mod outbox;
pub mod page;
pub mod panel;
pub mod photos;
pub mod proof;
pub mod prover;
pub mod receipt;
pub mod remember;
pub mod site_config;
pub mod state;
pub mod steps;
pub mod submission;

use heard_shared::Identity;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlElement};
use yew::{AppHandle, AttrValue, Renderer};

use crate::app::{App, AppProps};
use crate::panel::{Command, PanelControl};
use crate::state::Prefill;

/// What the loader holds after mounting: opens and closes the dialog, and
/// passes in what the merchant's page knows.
#[wasm_bindgen]
pub struct WidgetHandle {
    panel: PanelControl,
    // Kept so the app lives as long as the loader holds the handle.
    _app: AppHandle<App>,
}

#[wasm_bindgen]
impl WidgetHandle {
    /// Shows the dialog and moves focus into it; with a category id the
    /// site offers, straight at that category's questions.
    pub fn open(&self, category: Option<String>) {
        if let Some(category) = category.filter(|id| !id.is_empty()) {
            self.panel.send(Command::Category(category));
        }
        self.panel.set_open(true);
    }

    /// Hides the dialog and gives focus back to the launcher.
    pub fn close(&self) {
        self.panel.set_open(false);
    }

    /// Opens the dialog when closed and closes it when open.
    pub fn toggle(&self) {
        self.panel.set_open(!self.panel.is_open());
    }

    /// True while the dialog is shown.
    #[wasm_bindgen(js_name = isOpen)]
    pub fn is_open(&self) -> bool {
        self.panel.is_open()
    }

    /// Fills `{description, order_number, email, name, phone}` into the form
    /// where the shopper has not typed anything yet.
    pub fn prefill(&self, values: JsValue) {
        self.panel.send(Command::Prefill(Prefill {
            description: text_field(&values, "description"),
            order_number: text_field(&values, "order_number"),
            email: text_field(&values, "email"),
            name: text_field(&values, "name"),
            phone: text_field(&values, "phone"),
        }));
    }

    /// Records who the page says the shopper is:
    /// `{customer_id, name, email, order_number, signature}`. It prefills the
    /// contact inputs (the shopper can still clear them) and travels with
    /// the complaint only if the shopper sends one.
    pub fn identify(&self, values: JsValue) {
        self.panel.send(Command::Identify(Identity {
            customer_id: text_field(&values, "customer_id"),
            name: text_field(&values, "name"),
            email: text_field(&values, "email"),
            order_number: text_field(&values, "order_number"),
            signature: text_field(&values, "signature"),
        }));
    }
}

/// Draws the widget into `root` (closed, unless inline) and returns its handle.
///
/// `collector` is the collector's base URL without a trailing slash, e.g.
/// `https://heard.example`. `launcher`, when given, is the button that opens
/// the dialog: the widget keeps its `aria-expanded` true to the dialog and
/// returns focus to it on close. `options` is an object with optional
/// `inline: bool` (draw the form in place: no floating panel, no close
/// button) and `on_event: Function`, called as `on_event(name, detail)` with
/// `"opened"`, `"closed"` and `"submitted"` (detail `{reference}`).
#[wasm_bindgen]
pub fn mount(
    root: Element,
    site_key: String,
    collector: String,
    launcher: Option<HtmlElement>,
    options: JsValue,
) -> WidgetHandle {
    let inline = property(&options, "inline").as_bool().unwrap_or(false);
    let on_event = property(&options, "on_event")
        .dyn_into::<js_sys::Function>()
        .ok();
    let panel = PanelControl::new(launcher, inline, on_event);
    let props = AppProps {
        site_key: AttrValue::from(site_key),
        collector: AttrValue::from(collector.trim_end_matches('/').to_owned()),
        panel: panel.clone(),
    };
    let app = Renderer::<App>::with_root_and_props(root, props).render();
    WidgetHandle { panel, _app: app }
}

fn property(object: &JsValue, name: &str) -> JsValue {
    if object.is_object() {
        js_sys::Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// A non-empty string property; anything else the page passes is ignored.
fn text_field(object: &JsValue, name: &str) -> Option<String> {
    property(object, name)
        .as_string()
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}
