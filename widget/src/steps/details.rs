//! What happened (the one required answer), and in plain words how bad it
//! is, how the shopper feels and what would make it right. A suggestion asks
//! only for the idea.

use heard_shared::{Mood, Outcome, Severity, SubmissionKind};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::StepContext;
use super::fields::{self, Choice, InputKind, TextField};
use crate::photos::Photos;
use crate::state::Action;

/// Categories where a photo helps: things that can be seen.
const PHOTO_CATEGORIES: [&str; 3] = ["product", "safety", "suggestion"];

pub fn view(ctx: &StepContext) -> Html {
    let t = &ctx.texts;
    let draft = &ctx.form.draft;
    let suggestion = draft.kind == SubmissionKind::Suggestion;
    let (label_key, hint_key, title_key) = if suggestion {
        (
            "description.label.suggestion",
            "description.hint.suggestion",
            "step.details.title.suggestion",
        )
    } else {
        (
            "description.label",
            "description.hint",
            "step.details.title",
        )
    };
    let description = fields::text_field(
        ctx,
        TextField {
            path: "description".to_owned(),
            hook: "description",
            label: t.get(label_key),
            hint: Some(t.get(hint_key)),
            required: true,
            kind: InputKind::LongText,
            autocomplete: None,
            question: None,
            value: draft.description.clone(),
            on_input: ctx.dispatch.reform(Action::EditDescription),
        },
    );
    let category = draft.category.as_deref().unwrap_or_default();
    let known = ctx
        .texts
        .english_text(&format!("category.{category}.label"))
        .is_some();
    let photos = (PHOTO_CATEGORIES.contains(&category) || !known).then(|| {
        let on_change = ctx.dispatch.reform(Action::SetPhotos);
        html! {
            <div class="heard-field">
                <p class="heard-muted">{ t.get("photos.hint") }</p>
                <Photos
                    collector={ctx.collector.clone()}
                    site_key={ctx.site_key.clone()}
                    photos={draft.photos.clone()}
                    {on_change}
                />
            </div>
        }
    });
    let body = html! {
        <>
            { description }
            if !suggestion {
                { severity(ctx) }
                { mood(ctx) }
                { outcomes(ctx) }
                { fields::text_field(ctx, TextField {
                    path: "remedy".to_owned(),
                    hook: "remedy",
                    label: t.get("remedy.label"),
                    hint: None,
                    required: false,
                    kind: InputKind::Text,
                    autocomplete: Some("off"),
                    question: None,
                    value: draft.remedy.clone(),
                    on_input: ctx.dispatch.reform(Action::EditRemedy),
                }) }
            }
            { for photos }
        </>
    };
    ctx.frame(title_key, body)
}

fn severity(ctx: &StepContext) -> Html {
    let choices = Severity::ALL
        .iter()
        .map(|severity| Choice {
            value: severity.as_str().to_owned(),
            label: ctx.texts.get(&format!("severity.{}", severity.as_str())),
        })
        .collect();
    let on_pick = ctx.dispatch.reform(|value: String| {
        let severity = Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str() == value)
            .unwrap_or(Severity::Inconvenience);
        Action::SetSeverity(severity)
    });
    fields::radio_group(
        ctx,
        "severity",
        "severity",
        None,
        ctx.texts.get("severity.legend"),
        None,
        choices,
        ctx.form.draft.severity.map(Severity::as_str),
        false,
        on_pick,
    )
}

fn mood(ctx: &StepContext) -> Html {
    let choices = Mood::ALL
        .iter()
        .map(|mood| Choice {
            value: mood.as_str().to_owned(),
            label: ctx.texts.get(&format!("mood.{}", mood.as_str())),
        })
        .collect();
    let on_pick = ctx.dispatch.reform(|value: String| {
        let mood = Mood::ALL
            .into_iter()
            .find(|mood| mood.as_str() == value)
            .unwrap_or(Mood::Calm);
        Action::SetMood(mood)
    });
    html! {
        <div class="heard-moods">
            { fields::radio_group(
                ctx,
                "mood",
                "mood",
                None,
                ctx.texts.get("mood.legend"),
                None,
                choices,
                ctx.form.draft.mood.map(Mood::as_str),
                false,
                on_pick,
            ) }
        </div>
    }
}

fn outcomes(ctx: &StepContext) -> Html {
    let id = fields::input_id("outcomes");
    let boxes = Outcome::ALL.into_iter().map(|outcome| {
        let onchange = ctx.dispatch.reform(move |event: Event| {
            Action::SetOutcome(
                outcome,
                event.target_unchecked_into::<HtmlInputElement>().checked(),
            )
        });
        html! {
            <label class="heard-check">
                <input
                    type="checkbox"
                    name="outcome"
                    data-heard="outcome"
                    data-field={(outcome == Outcome::ALL[0]).then_some("outcomes")}
                    value={outcome.as_str()}
                    checked={ctx.form.draft.has_outcome(outcome)}
                    {onchange}
                />
                <span>{ ctx.texts.get(&format!("outcome.{}", outcome.as_str())) }</span>
            </label>
        }
    });
    let has_problem = ctx.shown.contains_key("outcomes");
    html! {
        <fieldset
            class="heard-field heard-choices"
            aria-describedby={fields::describedby(&id, true, has_problem)}
        >
            <legend>{ ctx.texts.get("outcome.legend") }</legend>
            { fields::hint(&id, Some(&ctx.texts.get("outcome.hint"))) }
            { for boxes }
            { fields::problem_slot(ctx, &id, "outcomes") }
        </fieldset>
    }
}
