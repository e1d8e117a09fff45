//! The Heard complaint widget.
//!
//! `www/widget.js`, the loader a merchant embeds with one script tag, imports
//! the JS glue generated from this crate and calls [`mount`] with a container
//! inside its shadow root. Everything the shopper sees after clicking the
//! launcher is drawn from here.
//!
//! Code map: [`app`] is the dialog and the flow between steps; [`steps`] and
//! [`receipt`] draw the screens; [`state`] holds the form and how it changes;
//! [`submission`] turns the form into the wire type; [`api`] alone talks HTTP;
//! [`page`] alone reads the host page and browser; [`panel`] is the open/closed
//! switch shared with the loader.

pub mod api;
pub mod app;
pub mod page;
pub mod panel;
pub mod receipt;
pub mod state;
pub mod steps;
pub mod submission;

use wasm_bindgen::prelude::wasm_bindgen;
use web_sys::{Element, HtmlElement};
use yew::{AppHandle, AttrValue, Renderer};

use crate::app::{App, AppProps};
use crate::panel::PanelControl;

/// What the loader holds after mounting: opens and closes the dialog.
#[wasm_bindgen]
pub struct WidgetHandle {
    panel: PanelControl,
    // Kept so the app lives as long as the loader holds the handle.
    _app: AppHandle<App>,
}

#[wasm_bindgen]
impl WidgetHandle {
    /// Shows the dialog and moves focus into it.
    pub fn open(&self) {
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
}

/// Draws the widget into `root` (closed) and returns its handle.
///
/// `collector` is the collector's base URL without a trailing slash, e.g.
/// `https://heard.example`. `launcher`, when given, is the button that opens
/// the dialog: the widget keeps its `aria-expanded` true to the dialog and
/// returns focus to it on close.
#[wasm_bindgen]
pub fn mount(
    root: Element,
    site_key: String,
    collector: String,
    launcher: Option<HtmlElement>,
) -> WidgetHandle {
    let panel = PanelControl::new(launcher);
    let props = AppProps {
        site_key: AttrValue::from(site_key),
        collector: AttrValue::from(collector.trim_end_matches('/').to_owned()),
        panel: panel.clone(),
    };
    let app = Renderer::<App>::with_root_and_props(root, props).render();
    WidgetHandle { panel, _app: app }
}
