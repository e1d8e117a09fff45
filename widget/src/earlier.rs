//! "Your earlier complaints": the complaints the shopper chose to remember
//! on this device for this site ([`crate::remember`]), each with where it
//! stands now, a link to its status page and a "Forget" button, plus
//! "Forget all".
//!
//! Statuses are fetched once each time the dialog opens, one after another.
//! A complaint the collector no longer knows (deleted: `404`) is dropped from
//! the list and from storage; any other failure (offline, a busy collector)
//! only says the status is unavailable. The list sits under the categories
//! and nothing here blocks a new complaint.
//!
//! The rows live in the app's own `use_mut_ref` and are redrawn with its
//! `use_force_update`, not in a component of their own: less wasm for
//! shoppers.

use std::cell::RefCell;
use std::rc::Rc;

use heard_shared::Status;
use wasm_bindgen_futures::spawn_local;
use web_sys::Element;
use yew::prelude::*;

use crate::api;
use crate::i18n::Texts;
use crate::page;
use crate::remember::{self, Remembered};

/// What the widget knows about one remembered complaint's status.
#[derive(Debug, Clone, PartialEq)]
pub enum Known {
    Checking,
    Status(api::ReceiptStatus),
    Unavailable,
}

/// One line of the list.
pub type Row = (Remembered, Known);

/// The list as the app holds it, shared with the task fetching statuses.
pub type Rows = Rc<RefCell<Vec<Row>>>;

/// The rows with the answer for `reference` applied: a status, or the row
/// dropped when the complaint is gone (`None`).
pub fn learned(rows: &mut Vec<Row>, reference: &str, known: Option<Known>) {
    match known {
        Some(known) => {
            if let Some(row) = rows.iter_mut().find(|row| row.0.reference == reference) {
                row.1 = known;
            }
        }
        None => rows.retain(|row| row.0.reference != reference),
    }
}

/// Reads this site's remembered complaints into `rows` (during the render
/// that opens the dialog, so no redraw yet), then asks for each one's
/// status, one after another, redrawing after each answer. A complaint the
/// collector no longer has is forgotten.
pub fn refresh(rows: Rows, collector: AttrValue, site_key: AttrValue, redraw: Callback<()>) {
    let entries = remember::load(&site_key);
    *rows.borrow_mut() = entries
        .iter()
        .map(|entry| (entry.clone(), Known::Checking))
        .collect();
    if entries.is_empty() {
        return;
    }
    spawn_local(async move {
        for entry in entries {
            let answer = match entry.token() {
                Some(token) => api::receipt_status(&collector, token).await,
                None => Ok(None),
            };
            let known = match answer {
                Ok(Some(status)) => Some(Known::Status(status)),
                Ok(None) => {
                    remember::forget(&site_key, &entry.reference);
                    None
                }
                Err(_) => Some(Known::Unavailable),
            };
            learned(&mut rows.borrow_mut(), &entry.reference, known);
            redraw.emit(());
        }
    });
}

/// The list under the categories, or nothing when it is empty.
pub fn view(
    rows: &Rows,
    site_key: &AttrValue,
    language: &str,
    t: &Texts,
    redraw: &Callback<()>,
) -> Html {
    let list = rows.borrow();
    if list.is_empty() {
        return Html::default();
    }
    // Forgetting removes the button that has focus: focus moves to the
    // list's heading, or to the categories' when the list is gone.
    let forget = |reference: Option<String>| {
        let (rows, redraw, site_key) = (rows.clone(), redraw.clone(), site_key.clone());
        Callback::from(move |event: MouseEvent| {
            let mut list = rows.borrow_mut();
            match &reference {
                Some(reference) => {
                    remember::forget(&site_key, reference);
                    learned(&mut list, reference, None);
                }
                None => {
                    remember::forget_all(&site_key);
                    list.clear();
                }
            }
            let heading = if list.is_empty() {
                "#heard-categories-title"
            } else {
                "#heard-earlier-title"
            };
            drop(list);
            if let Some(step) = event
                .target_unchecked_into::<Element>()
                .closest(".heard-step")
                .ok()
                .flatten()
            {
                page::focus_first(&step, heading);
            }
            redraw.emit(());
        })
    };
    let items = list.iter().map(|(entry, known)| {
        html! {
            <li class="heard-earlier-item" data-heard="earlier-item" data-reference={entry.reference.clone()}>
                <span class="heard-earlier-reference" dir="ltr">{ &entry.reference }</span>
                <time class="heard-muted" datetime={entry.created_at.clone()}>
                    { page::local_time(&entry.created_at, language) }
                </time>
                <span class="heard-earlier-status" data-heard="earlier-status">{ status_words(t, known) }</span>
                <a href={entry.status_url.clone()} target="_blank" rel="noopener" data-heard="earlier-link">
                    { t.get("earlier.open") }
                    <span class="heard-visually-hidden">{ " " }{ &entry.reference }{ " " }{ t.get("channel.new_tab") }</span>
                </a>
                <button type="button" class="heard-link" data-heard="forget" onclick={forget(Some(entry.reference.clone()))}>
                    { t.get("remember.forget") }
                    <span class="heard-visually-hidden">{ " " }{ &entry.reference }</span>
                </button>
            </li>
        }
    });
    html! {
        <div class="heard-earlier" data-heard="earlier">
            <h3 class="heard-step-title" id="heard-earlier-title" tabindex="-1">{ t.get("earlier.title") }</h3>
            <ul class="heard-earlier-list" aria-labelledby="heard-earlier-title">
                { for items }
            </ul>
            <button type="button" class="heard-link" data-heard="forget-all" onclick={forget(None)}>
                { t.get("earlier.forget_all") }
            </button>
        </div>
    }
}

/// The status in the shopper's language; a status newer than this widget
/// shows the collector's own words.
pub fn status_words(texts: &Texts, known: &Known) -> String {
    match known {
        Known::Checking => texts.get("earlier.checking"),
        Known::Unavailable => texts.get("earlier.unavailable"),
        Known::Status(answer) => match Status::parse(&answer.status) {
            Some(status) => texts.get(&status_key(status)),
            None if !answer.status_label.is_empty() => answer.status_label.clone(),
            None => answer.status.clone(),
        },
    }
}

fn status_key(status: Status) -> String {
    format!("earlier.status.{}", status.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_words_in_english() {
        let texts = Texts::english();
        for status in Status::ALL {
            let key = status_key(status);
            assert!(
                texts.english_text(&key).is_some(),
                "{key} is not in en.json"
            );
        }
        let answer = |status: &str, label: &str| {
            Known::Status(api::ReceiptStatus {
                status: status.to_owned(),
                status_label: label.to_owned(),
            })
        };
        assert_eq!(
            status_words(&texts, &answer("waiting_for_you", "x")),
            "Waiting for your answer"
        );
        assert_eq!(
            status_words(&texts, &answer("escalated", "Escalated")),
            "Escalated"
        );
        assert_eq!(
            status_words(&texts, &Known::Unavailable),
            "Status not available right now"
        );
    }

    #[test]
    fn answers_update_their_row_and_a_gone_complaint_leaves_the_list() {
        let entry = |reference: &str| Remembered {
            reference: reference.to_owned(),
            status_url: "https://heard.example/r/abc".to_owned(),
            site_key: "demo".to_owned(),
            created_at: String::new(),
        };
        let mut rows = vec![
            (entry("HRD-AAAA-AAAA"), Known::Checking),
            (entry("HRD-BBBB-BBBB"), Known::Checking),
        ];
        learned(&mut rows, "HRD-BBBB-BBBB", Some(Known::Unavailable));
        assert_eq!(rows[1].1, Known::Unavailable);
        learned(&mut rows, "HRD-AAAA-AAAA", None);
        assert_eq!(rows, vec![(entry("HRD-BBBB-BBBB"), Known::Unavailable)]);
        learned(&mut rows, "HRD-CCCC-CCCC", Some(Known::Unavailable));
        assert_eq!(rows.len(), 1);
    }
}
