//! The acknowledgement receipt: proof the complaint is stored, and how to
//! follow it.

use std::rc::Rc;

use heard_shared::{Outcome, Receipt, SubmissionKind};
use yew::prelude::*;

use crate::i18n::Texts;
use crate::page;
use crate::remember::{self, Remembered};

#[derive(Properties, PartialEq)]
pub struct ReceiptProps {
    pub receipt: Receipt,
    /// The collector's base URL, for a status link given as a path.
    pub collector: AttrValue,
    /// The language dates are written in.
    pub language: String,
    pub texts: Rc<Texts>,
    /// The site's key: a remembered complaint is kept under it.
    pub site_key: AttrValue,
    /// What was sent: the title thanks for a complaint, a suggestion or a
    /// callback request.
    pub kind: SubmissionKind,
    pub on_start_over: Callback<()>,
    pub on_done: Callback<()>,
}

/// How much of the description the receipt repeats.
const EXCERPT_CHARS: usize = 160;

#[function_component(ReceiptView)]
pub fn receipt_view(props: &ReceiptProps) -> Html {
    let t = &props.texts;
    let receipt = &props.receipt;
    let summary = &receipt.summary;
    let received = page::local_time(&receipt.created_at, &props.language);
    let status_link = status_link(&props.collector, &receipt.status_url);
    let outcomes = outcome_labels(t, &summary.outcomes);
    let on_start_over = props.on_start_over.reform(|_: MouseEvent| ());
    let on_done = props.on_done.reform(|_: MouseEvent| ());
    let title = match props.kind {
        SubmissionKind::Complaint => "receipt.title",
        SubmissionKind::Suggestion => "receipt.title.suggestion",
        SubmissionKind::Callback => "receipt.title.callback",
    };
    let description = excerpt(&summary.description, EXCERPT_CHARS);
    let reference_text = use_node_ref();
    // `u32` states share the app's instantiation of the hook: less wasm.
    let copy_note = use_state(|| NOT_COPIED);
    let remembered =
        use_state(|| u32::from(remember::is_remembered(&props.site_key, &receipt.reference)));
    let link_text = use_node_ref();

    html! {
        <div class="heard-step heard-receipt">
            <h3 class="heard-receipt-title heard-step-title" tabindex="-1">{ t.get(title) }</h3>
            <p class="heard-muted">{ t.get("receipt.reference") }</p>
            <div class="heard-copy-row">
                <p class="heard-reference" data-heard="reference" ref={reference_text.clone()}>{ &receipt.reference }</p>
                { copy_button(&copy_note, &receipt.reference, reference_text, t.get("receipt.copy.reference"), "copy-reference") }
            </div>
            // One live region for both copy buttons, so a screen reader hears
            // what happened.
            <p class="heard-copy-status" role="status" data-heard="copy-status">
                { match *copy_note {
                    COPIED => t.get("receipt.copied"),
                    SELECTED => t.get("receipt.copy.selected"),
                    _ => String::new(),
                } }
            </p>
            <p class="heard-muted">
                { t.get("receipt.received") }{ " " }
                <time datetime={receipt.created_at.clone()}>{ received }</time>
            </p>

            <dl class="heard-summary">
                if !summary.category_label.is_empty() {
                    <dt>{ t.get("receipt.about") }</dt>
                    <dd>{ &summary.category_label }</dd>
                }
                if !description.is_empty() {
                    <dt>{ t.get("receipt.what_happened") }</dt>
                    <dd>{ description }</dd>
                }
                if !outcomes.is_empty() {
                    <dt>{ t.get("receipt.asked_for") }</dt>
                    <dd>{ outcomes }</dd>
                }
            </dl>

            <h4 class="heard-next-title">{ t.get("receipt.next_title") }</h4>
            <p>{ next_steps(t, receipt.response_target_hours) }</p>
            if let Some(href) = status_link {
                <p>
                    <a
                        class="heard-button heard-primary"
                        data-heard="status-link"
                        href={href.clone()}
                        target="_blank"
                        rel="noopener"
                    >
                        { t.get("receipt.follow") }
                        <span class="heard-visually-hidden">{ " " }{ t.get("channel.new_tab") }</span>
                    </a>
                </p>
                <div class="heard-copy-row">
                    <p class="heard-link-text" dir="ltr" ref={link_text.clone()}>{ href.clone() }</p>
                    { copy_button(&copy_note, &href, link_text, t.get("receipt.copy.link"), "copy-link") }
                </div>
                <p class="heard-muted">{ t.get("receipt.keep") }</p>
                { remember_box(t, &remembered, Remembered {
                    reference: receipt.reference.clone(),
                    status_url: href,
                    site_key: props.site_key.to_string(),
                    created_at: receipt.created_at.clone(),
                }) }
            }

            <div class="heard-actions">
                <button type="button" class="heard-button heard-secondary" data-heard="start-over" onclick={on_start_over}>
                    { t.get("receipt.again") }
                </button>
                <button type="button" class="heard-button" data-heard="done" onclick={on_done}>
                    { t.get("receipt.done") }
                </button>
            </div>
        </div>
    }
}

/// The opt-in: off until the shopper ticks it; unticking forgets again.
fn remember_box(t: &Texts, remembered: &UseStateHandle<u32>, entry: Remembered) -> Html {
    let onchange = {
        let remembered = remembered.clone();
        Callback::from(move |event: Event| {
            let checked = event
                .target_unchecked_into::<web_sys::HtmlInputElement>()
                .checked();
            if checked {
                remember::remember(entry.clone());
            } else {
                remember::forget(&entry.site_key, &entry.reference);
            }
            remembered.set(u32::from(checked));
        })
    };
    html! {
        <div class="heard-field heard-remember">
            <label class="heard-check">
                <input
                    type="checkbox"
                    data-heard="remember"
                    checked={**remembered == 1}
                    aria-describedby="heard-remember-hint"
                    {onchange}
                />
                <span>{ t.get("remember.label") }</span>
            </label>
            <p class="heard-muted" id="heard-remember-hint">{ t.get("remember.hint") }</p>
        </div>
    }
}

/// What the last press of a copy button achieved, as `copy_note` holds it.
const NOT_COPIED: u32 = 0;
const COPIED: u32 = 1;
/// Only selected: the shopper copies it with the keyboard.
const SELECTED: u32 = 2;

/// A button that copies `text` (see [`page::copy_text`]); `shown` is the
/// element showing it.
fn copy_button(
    copy_note: &UseStateHandle<u32>,
    text: &str,
    shown: NodeRef,
    label: String,
    hook: &'static str,
) -> Html {
    let onclick = {
        let copy_note = copy_note.clone();
        let text = text.to_owned();
        Callback::from(move |_: MouseEvent| {
            if let Some(element) = shown.cast::<web_sys::Element>() {
                let copied = page::copy_text(&text, &element);
                copy_note.set(if copied { COPIED } else { SELECTED });
            }
        })
    };
    html! {
        <button type="button" class="heard-button heard-secondary heard-copy" data-heard={hook} {onclick}>
            { label }
        </button>
    }
}

/// The status page's address: absolute http(s) links as given, paths joined to
/// the collector; anything else (e.g. `javascript:`) is not shown.
pub fn status_link(collector: &str, status_url: &str) -> Option<String> {
    if status_url.starts_with("https://") || status_url.starts_with("http://") {
        Some(status_url.to_owned())
    } else if status_url.starts_with('/') && !status_url.starts_with("//") {
        Some(format!("{}{status_url}", collector.trim_end_matches('/')))
    } else {
        None
    }
}

/// The promise of a first answer, in plain words.
pub fn next_steps(texts: &Texts, response_target_hours: Option<u32>) -> String {
    let when = match response_target_hours {
        Some(0 | 1) => texts.get("receipt.when.hour"),
        Some(hours) if hours % 24 == 0 && hours > 24 => {
            texts.format("receipt.when.days", &[("days", &(hours / 24).to_string())])
        }
        Some(hours) => texts.format("receipt.when.hours", &[("hours", &hours.to_string())]),
        None => texts.get("receipt.when.soon"),
    };
    texts.format("receipt.next", &[("when", &when)])
}

/// The start of a text, cut at a character boundary with an ellipsis.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    format!("{}…", cut.trim_end())
}

fn outcome_labels(texts: &Texts, outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .map(|outcome| texts.get(&format!("outcome.{}", outcome.as_str())))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_links_are_absolute_and_only_http() {
        let collector = "https://heard.example";
        assert_eq!(
            status_link(collector, "/s/abc123").as_deref(),
            Some("https://heard.example/s/abc123")
        );
        assert_eq!(
            status_link("http://127.0.0.1:4000/", "/s/abc").as_deref(),
            Some("http://127.0.0.1:4000/s/abc")
        );
        assert_eq!(
            status_link(collector, "https://status.example/s/1").as_deref(),
            Some("https://status.example/s/1")
        );
        for hostile in [
            "javascript:alert(1)",
            "//evil.example/x",
            "data:text/html,x",
            "",
        ] {
            assert_eq!(status_link(collector, hostile), None, "{hostile}");
        }
    }

    #[test]
    fn next_steps_state_the_promise() {
        let texts = Texts::english();
        assert!(next_steps(&texts, Some(24)).contains("within 24 hours"));
        assert!(next_steps(&texts, Some(72)).contains("within 3 days"));
        assert!(next_steps(&texts, Some(1)).contains("within an hour"));
        assert!(next_steps(&texts, None).contains("as soon as they can"));
    }

    #[test]
    fn excerpts_cut_long_text_on_character_boundaries() {
        assert_eq!(excerpt("  short  ", 10), "short");
        assert_eq!(excerpt("水壶坏了三次", 3), "水壶坏…");
        assert_eq!(
            outcome_labels(&Texts::english(), &[Outcome::Apology, Outcome::Fix]),
            "An apology; A fix, repair or replacement"
        );
    }
}
