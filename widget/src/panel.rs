//! The bridge between the loader's handle and the dialog: whether the dialog
//! shows, what the page asked for (a category, prefilled values, who the
//! shopper is), and the events the page listens to.
//!
//! The switch is the single source of truth for whether the dialog shows: the
//! loader flips it through [`crate::WidgetHandle`], the dialog flips it on
//! Escape or its close button, and the app re-renders when anything changes.
//! Requests from the page are queued here because they may come before the
//! app has drawn itself or loaded the site's configuration.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use heard_shared::Identity;
use wasm_bindgen::JsValue;
use web_sys::HtmlElement;
use yew::Callback;

use crate::state::Prefill;

/// What the merchant's page asked for through the handle.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Open straight at this category's flow.
    Category(String),
    Prefill(Prefill),
    Identify(Identity),
}

/// A cheap, shared handle to the bridge. Two handles are equal when they are
/// the same bridge, which is what Yew props need.
#[derive(Clone)]
pub struct PanelControl(Rc<Inner>);

struct Inner {
    open: Cell<bool>,
    /// Drawn in place inside the merchant's element: always open, no close.
    inline: bool,
    launcher: Option<HtmlElement>,
    on_event: Option<js_sys::Function>,
    on_change: RefCell<Option<Callback<()>>>,
    commands: RefCell<Vec<Command>>,
}

impl PanelControl {
    pub fn new(
        launcher: Option<HtmlElement>,
        inline: bool,
        on_event: Option<js_sys::Function>,
    ) -> PanelControl {
        PanelControl(Rc::new(Inner {
            open: Cell::new(inline),
            inline,
            launcher,
            on_event,
            on_change: RefCell::new(None),
            commands: RefCell::new(Vec::new()),
        }))
    }

    pub fn is_open(&self) -> bool {
        self.0.open.get()
    }

    pub fn is_inline(&self) -> bool {
        self.0.inline
    }

    pub fn launcher(&self) -> Option<&HtmlElement> {
        self.0.launcher.as_ref()
    }

    /// Opens or closes the dialog. Closing returns focus to the launcher so a
    /// keyboard user continues where they started. Inline forms stay open.
    pub fn set_open(&self, open: bool) {
        if self.0.inline || self.0.open.replace(open) == open {
            return;
        }
        if let Some(launcher) = &self.0.launcher {
            // Attribute errors only happen on detached or exotic elements;
            // the dialog still works without the hint.
            let _ = launcher.set_attribute("aria-expanded", if open { "true" } else { "false" });
            if !open {
                let _ = launcher.focus();
            }
        }
        self.emit(if open { "opened" } else { "closed" }, &JsValue::UNDEFINED);
        self.notify();
    }

    /// Queues a request from the page for the app to carry out.
    pub fn send(&self, command: Command) {
        self.0.commands.borrow_mut().push(command);
        self.notify();
    }

    /// The requests not yet carried out, oldest first.
    pub fn take_commands(&self) -> Vec<Command> {
        std::mem::take(&mut *self.0.commands.borrow_mut())
    }

    /// Calls the page's `on_event(name, detail)`, if it gave one. A throwing
    /// listener is the page's problem and must not break the dialog.
    pub fn emit(&self, name: &str, detail: &JsValue) {
        if let Some(listener) = &self.0.on_event {
            let _ = listener.call2(&JsValue::NULL, &JsValue::from_str(name), detail);
        }
    }

    /// Sets the one listener told about every change (the app), or removes it.
    pub fn subscribe(&self, listener: Option<Callback<()>>) {
        *self.0.on_change.borrow_mut() = listener;
    }

    fn notify(&self) {
        // Clone out of the cell first: the callback re-renders, and a render
        // may subscribe again.
        let on_change = self.0.on_change.borrow().clone();
        if let Some(on_change) = on_change {
            on_change.emit(());
        }
    }
}

impl PartialEq for PanelControl {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}
