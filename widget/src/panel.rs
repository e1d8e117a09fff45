//! The open/closed switch shared by the loader's handle and the dialog.
//!
//! The switch is the single source of truth for whether the dialog shows: the
//! loader flips it through [`crate::WidgetHandle`], the dialog flips it on
//! Escape or its close button, and the app re-renders when it changes.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use web_sys::HtmlElement;
use yew::Callback;

/// A cheap, shared handle to the switch. Two handles are equal when they are
/// the same switch, which is what Yew props need.
#[derive(Clone)]
pub struct PanelControl(Rc<Inner>);

struct Inner {
    open: Cell<bool>,
    launcher: Option<HtmlElement>,
    on_change: RefCell<Option<Callback<bool>>>,
}

impl PanelControl {
    pub fn new(launcher: Option<HtmlElement>) -> PanelControl {
        PanelControl(Rc::new(Inner {
            open: Cell::new(false),
            launcher,
            on_change: RefCell::new(None),
        }))
    }

    pub fn is_open(&self) -> bool {
        self.0.open.get()
    }

    /// Opens or closes the dialog. Closing returns focus to the launcher so a
    /// keyboard user continues where they started.
    pub fn set_open(&self, open: bool) {
        if self.0.open.replace(open) == open {
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
        // Clone out of the cell first: the callback re-renders, and a render
        // may subscribe again.
        let on_change = self.0.on_change.borrow().clone();
        if let Some(on_change) = on_change {
            on_change.emit(open);
        }
    }

    /// Sets the one listener told about every change (the app), or removes it.
    pub fn subscribe(&self, listener: Option<Callback<bool>>) {
        *self.0.on_change.borrow_mut() = listener;
    }
}

impl PartialEq for PanelControl {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}
