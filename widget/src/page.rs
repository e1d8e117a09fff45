//! The only module that reads the host page and the browser: language,
//! address, user agent, random keys, focus and local time.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlElement};

use crate::submission::{PageContext, uuid_v4_from_bytes};

/// Reads what a complaint records about where it was made.
pub fn context() -> PageContext {
    let Some(window) = web_sys::window() else {
        return PageContext::default();
    };
    let navigator = window.navigator();
    let document_language = window
        .document()
        .and_then(|document| document.document_element())
        .and_then(|html| html.get_attribute("lang"));
    let mut browser_languages: Vec<String> = navigator
        .languages()
        .iter()
        .filter_map(|tag| tag.as_string())
        .collect();
    if browser_languages.is_empty() {
        browser_languages.extend(navigator.language());
    }
    PageContext {
        document_language,
        browser_languages,
        page_url: window.location().href().ok(),
        user_agent: navigator.user_agent().ok(),
    }
}

/// A fresh idempotency key: `crypto.randomUUID()` where the page is a secure
/// context, else a version 4 UUID from `crypto.getRandomValues`.
pub fn new_idempotency_key() -> String {
    let Some(crypto) = web_sys::window().and_then(|window| window.crypto().ok()) else {
        return fallback_key();
    };
    if js_sys::Reflect::has(&crypto, &JsValue::from_str("randomUUID")).unwrap_or(false) {
        return crypto.random_uuid();
    }
    let mut bytes = [0u8; 16];
    if crypto.get_random_values_with_u8_array(&mut bytes).is_ok() {
        uuid_v4_from_bytes(bytes)
    } else {
        fallback_key()
    }
}

/// Moves focus to the first element under `container` matching `selector`.
pub fn focus_first(container: &Element, selector: &str) {
    if let Some(element) = container
        .query_selector(selector)
        .ok()
        .flatten()
        .and_then(|element| element.dyn_into::<HtmlElement>().ok())
    {
        let _ = element.focus();
    }
}

/// The focusable controls under `container`, in document order; the dialog
/// keeps Tab inside them.
pub fn focusable_controls(container: &Element) -> Vec<HtmlElement> {
    let Ok(list) = container.query_selector_all("button, a[href], input, textarea, select") else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|index| list.item(index))
        .filter_map(|node| node.dyn_into::<HtmlElement>().ok())
        // Out of the Tab order on purpose (the honeypot): never a place
        // the dialog wraps focus to.
        .filter(|element| !element.has_attribute("disabled") && element.tab_index() >= 0)
        .collect()
}

/// An RFC 3339 time as the shopper reads dates, e.g. "23 Nov 2026, 10:04".
pub fn local_time(rfc3339: &str, language: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_str(rfc3339));
    if date.get_time().is_nan() {
        return rfc3339.to_owned();
    }
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    // Called through `Reflect::apply` so that a tag Intl does not know (it
    // throws a RangeError) falls back to the browser's own locale.
    let format = |locale: JsValue| -> Option<String> {
        let method = js_sys::Reflect::get(&date, &"toLocaleString".into()).ok()?;
        let method: js_sys::Function = method.dyn_into().ok()?;
        let arguments = js_sys::Array::of2(&locale, &options);
        js_sys::Reflect::apply(&method, &date, &arguments)
            .ok()?
            .as_string()
    };
    format(JsValue::from_str(language))
        .or_else(|| format(JsValue::UNDEFINED))
        .unwrap_or_else(|| rfc3339.to_owned())
}

/// Waits `milliseconds` without blocking the page, for retry backoff.
pub async fn sleep_ms(milliseconds: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                i32::try_from(milliseconds).unwrap_or(i32::MAX),
            );
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Milliseconds since the Unix epoch, as the outbox records them.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Without any browser randomness the time still makes keys distinct enough
/// for one shopper's retries, which is all a key has to do.
fn fallback_key() -> String {
    format!("heard-{}", js_sys::Date::now() as u64)
}

/// Copies `text` for the shopper: selects `shown` (the element showing it),
/// so the text is highlighted and a keyboard copy works whatever happens,
/// then hands `text` to `navigator.clipboard.writeText` where the browser
/// has it, else asks the browser to copy the selection. False when neither
/// was possible and the shopper has to copy the selection themselves.
pub fn copy_text(text: &str, shown: &Element) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let call = |target: &JsValue, name: &str, argument: &JsValue| -> Option<JsValue> {
        let method = js_sys::Reflect::get(target, &name.into()).ok()?;
        let method: js_sys::Function = method.dyn_into().ok()?;
        method.call1(target, argument).ok()
    };
    if let Some(selection) = call(&window, "getSelection", &JsValue::UNDEFINED) {
        call(&selection, "selectAllChildren", shown);
    }
    let clipboard = js_sys::Reflect::get(&window.navigator(), &"clipboard".into())
        .unwrap_or(JsValue::UNDEFINED);
    if call(&clipboard, "writeText", &JsValue::from_str(text)).is_some() {
        return true;
    }
    window
        .document()
        .and_then(|document| call(&document, "execCommand", &"copy".into()))
        .and_then(|copied| copied.as_bool())
        .unwrap_or(false)
}
