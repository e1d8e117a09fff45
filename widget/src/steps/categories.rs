//! Step one: the site's categories as one-click buttons under its
//! invitation, the softer suggestion path, and the merchant's other channels.

use heard_shared::{Category, Channel, ChannelKind};
use yew::prelude::*;

use super::StepContext;
use crate::state::Action;

pub fn view(ctx: &StepContext) -> Html {
    let t = &ctx.texts;
    let default_invitation = heard_shared::Branding::default().invitation;
    let invitation = if ctx.site.branding.invitation == default_invitation {
        t.get("invitation")
    } else {
        ctx.site.branding.invitation.clone()
    };
    let buttons = ctx
        .site
        .visible_categories()
        .map(|category| category_button(ctx, category));
    let suggestion = ctx
        .site
        .visible_categories()
        .find(|category| category.suggestion)
        .map(|category| {
            let action = choose(category);
            let onclick = ctx.dispatch.reform(move |_: MouseEvent| action.clone());
            html! {
                <p>
                    <button type="button" class="heard-link" data-heard="suggestion" {onclick}>
                        { t.get("step.categories.suggestion") }
                    </button>
                </p>
            }
        });
    let channels: Vec<Html> = ctx
        .site
        .channels
        .iter()
        .filter_map(|channel| channel_link(ctx, channel))
        .collect();
    html! {
        <div class="heard-step">
            <p class="heard-invitation">{ invitation }</p>
            <h3 class="heard-step-title" id="heard-categories-title" tabindex="-1">
                { t.get("step.categories.title") }
            </h3>
            <ul class="heard-categories" aria-labelledby="heard-categories-title">
                { for buttons }
            </ul>
            { for suggestion }
            if !channels.is_empty() {
                <h3 class="heard-step-title" id="heard-channels-title">{ t.get("channels.title") }</h3>
                <ul class="heard-channels" aria-labelledby="heard-channels-title">
                    { for channels.into_iter().map(|link| html! { <li>{ link }</li> }) }
                </ul>
            }
            { crate::earlier::view(&ctx.earlier, &ctx.site_key, &ctx.language, t, &ctx.redraw) }
        </div>
    }
}

fn choose(category: &Category) -> Action {
    Action::ChooseCategory {
        id: category.id.clone(),
        with_questions: !category.questions.is_empty(),
        suggestion: category.suggestion,
    }
}

fn category_button(ctx: &StepContext, category: &Category) -> Html {
    let chosen = ctx.form.draft.category.as_deref() == Some(category.id.as_str());
    let action = choose(category);
    let onclick = ctx.dispatch.reform(move |_: MouseEvent| action.clone());
    let class = classes!(
        "heard-category",
        category.urgent.then_some("heard-urgent"),
        category.suggestion.then_some("heard-suggestion"),
        chosen.then_some("heard-chosen"),
    );
    let label = ctx.category_label(&category.id);
    let hint = category.hint.as_ref().map(|hint| {
        ctx.texts
            .default_or(&format!("category.{}.hint", category.id), hint)
    });
    html! {
        <li>
            <button
                type="button"
                {class}
                data-heard="category"
                data-category={category.id.clone()}
                aria-current={chosen.then_some("true")}
                {onclick}
            >
                <span class="heard-category-label">
                    { label }
                    if category.urgent {
                        <span class="heard-urgent-tag">{ " — " }{ ctx.texts.get("category.urgent") }</span>
                    }
                </span>
                if let Some(hint) = hint {
                    <span class="heard-category-hint">{ hint }</span>
                }
            </button>
        </li>
    }
}

/// One alternative channel: a real link for call, email and chat, a button
/// for the callback form. Targets that are not what their kind promises
/// (e.g. a `javascript:` chat link) are not shown.
fn channel_link(ctx: &StepContext, channel: &Channel) -> Option<Html> {
    let t = &ctx.texts;
    let kind = match channel.kind {
        ChannelKind::Call => "call",
        ChannelKind::Email => "email",
        ChannelKind::Chat => "chat",
        ChannelKind::Callback => "callback",
    };
    let label = if channel.label.trim().is_empty() {
        t.get(&format!("channel.{kind}"))
    } else {
        channel.label.clone()
    };
    if channel.kind == ChannelKind::Callback {
        let onclick = ctx.dispatch.reform(|_: MouseEvent| Action::StartCallback);
        return Some(html! {
            <button type="button" class="heard-button heard-secondary heard-channel" data-heard="channel" data-kind={kind} {onclick}>
                { label }
            </button>
        });
    }
    let href = channel_href(channel.kind, channel.target.as_deref()?)?;
    let new_tab = channel.kind == ChannelKind::Chat;
    Some(html! {
        <a
            class="heard-button heard-secondary heard-channel"
            data-heard="channel"
            data-kind={kind}
            {href}
            target={new_tab.then_some("_blank")}
            rel={new_tab.then_some("noopener")}
        >
            { label }
            if new_tab {
                <span class="heard-visually-hidden">{ " " }{ t.get("channel.new_tab") }</span>
            }
        </a>
    })
}

/// The link for a channel's target: `tel:` with the digits and `+` only,
/// `mailto:` for a plausible address, http(s) for chats.
pub fn channel_href(kind: ChannelKind, target: &str) -> Option<String> {
    let target = target.trim();
    match kind {
        ChannelKind::Call => {
            let number: String = target
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect();
            (number.chars().filter(char::is_ascii_digit).count() >= 3)
                .then(|| format!("tel:{number}"))
        }
        ChannelKind::Email => {
            heard_shared::validate::is_plausible_email(target).then(|| format!("mailto:{target}"))
        }
        ChannelKind::Chat => (target.starts_with("https://") || target.starts_with("http://"))
            .then(|| target.to_owned()),
        ChannelKind::Callback => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_links_are_only_what_their_kind_promises() {
        assert_eq!(
            channel_href(ChannelKind::Call, "+1 (555) 0100"),
            Some("tel:+15550100".to_owned())
        );
        assert_eq!(
            channel_href(ChannelKind::Email, "care@shop.example"),
            Some("mailto:care@shop.example".to_owned())
        );
        assert_eq!(channel_href(ChannelKind::Email, "not an address"), None);
        assert_eq!(
            channel_href(ChannelKind::Chat, "https://wa.me/15550100"),
            Some("https://wa.me/15550100".to_owned())
        );
        assert_eq!(channel_href(ChannelKind::Chat, "javascript:alert(1)"), None);
        assert_eq!(channel_href(ChannelKind::Call, "call us"), None);
    }
}
