//! The acknowledgement receipt: proof the complaint is stored, and how to
//! follow it.

use heard_shared::{Outcome, Receipt};
use yew::prelude::*;

use crate::page;

#[derive(Properties, PartialEq)]
pub struct ReceiptProps {
    pub receipt: Receipt,
    /// The collector's base URL, for a status link given as a path.
    pub collector: AttrValue,
    /// The language dates are written in.
    pub language: String,
    pub on_start_over: Callback<()>,
    pub on_done: Callback<()>,
}

/// How much of the description the receipt repeats.
const EXCERPT_CHARS: usize = 160;

#[function_component(ReceiptView)]
pub fn receipt_view(props: &ReceiptProps) -> Html {
    let receipt = &props.receipt;
    let summary = &receipt.summary;
    let received = page::local_time(&receipt.created_at, &props.language);
    let status_link = status_link(&props.collector, &receipt.status_url);
    let outcomes = outcome_labels(&summary.outcomes);
    let on_start_over = props.on_start_over.reform(|_: MouseEvent| ());
    let on_done = props.on_done.reform(|_: MouseEvent| ());

    html! {
        <div class="heard-step heard-receipt">
            <h3 class="heard-receipt-title heard-step-title" tabindex="-1">
                { "Thank you. We have your complaint." }
            </h3>
            <p class="heard-muted">{ "Your reference" }</p>
            <p class="heard-reference" data-heard="reference">{ &receipt.reference }</p>
            <p class="heard-muted">
                { "Received " }
                <time datetime={receipt.created_at.clone()}>{ received }</time>
            </p>

            <dl class="heard-summary">
                <dt>{ "About" }</dt>
                <dd>{ &summary.category_label }</dd>
                <dt>{ "What happened" }</dt>
                <dd>{ excerpt(&summary.description, EXCERPT_CHARS) }</dd>
                if !outcomes.is_empty() {
                    <dt>{ "You asked for" }</dt>
                    <dd>{ outcomes }</dd>
                }
            </dl>

            <h4 class="heard-next-title">{ "What happens next" }</h4>
            <p>{ next_steps(receipt.response_target_hours) }</p>
            if let Some(href) = status_link {
                <p>
                    <a
                        class="heard-button heard-primary"
                        data-heard="status-link"
                        {href}
                        target="_blank"
                        rel="noopener"
                    >
                        { "Follow your complaint" }
                        <span class="heard-visually-hidden">{ " (opens in a new tab)" }</span>
                    </a>
                </p>
                <p class="heard-muted">
                    { "Keep the reference and the link: the link is private, so share it only with people you trust." }
                </p>
            }

            <div class="heard-actions">
                <button type="button" class="heard-button heard-secondary" data-heard="start-over" onclick={on_start_over}>
                    { "Tell us something else" }
                </button>
                <button type="button" class="heard-button" data-heard="done" onclick={on_done}>
                    { "Done" }
                </button>
            </div>
        </div>
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
pub fn next_steps(response_target_hours: Option<u32>) -> String {
    let when = match response_target_hours {
        Some(0 | 1) => "within an hour".to_owned(),
        Some(hours) if hours % 24 == 0 && hours > 24 => format!("within {} days", hours / 24),
        Some(hours) => format!("within {hours} hours"),
        None => "as soon as they can".to_owned(),
    };
    format!(
        "A person will read your complaint and answer {when}. You can check where it stands at any time."
    )
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

fn outcome_labels(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .map(|outcome| outcome.label())
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
        assert!(next_steps(Some(24)).contains("within 24 hours"));
        assert!(next_steps(Some(72)).contains("within 3 days"));
        assert!(next_steps(Some(1)).contains("within an hour"));
        assert!(next_steps(None).contains("as soon as they can"));
    }

    #[test]
    fn excerpts_cut_long_text_on_character_boundaries() {
        assert_eq!(excerpt("  short  ", 10), "short");
        assert_eq!(excerpt("水壶坏了三次", 3), "水壶坏…");
        assert_eq!(
            outcome_labels(&[Outcome::Apology, Outcome::Fix]),
            "An apology; A fix, repair or replacement"
        );
    }
}
