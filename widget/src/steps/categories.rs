//! Step one: the site's categories as one-click buttons under its invitation.

use std::rc::Rc;

use heard_shared::{Category, SiteConfig};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct CategoriesProps {
    pub site: Rc<SiteConfig>,
    /// The category chosen before going back, if any.
    pub selected: Option<String>,
    pub on_choose: Callback<String>,
}

#[function_component(Categories)]
pub fn categories(props: &CategoriesProps) -> Html {
    let buttons = props.site.visible_categories().map(|category| {
        let chosen = props.selected.as_deref() == Some(category.id.as_str());
        category_button(category, chosen, &props.on_choose)
    });
    html! {
        <div class="heard-step">
            <p class="heard-invitation">{ &props.site.branding.invitation }</p>
            <h3 class="heard-step-title" id="heard-categories-title">{ "What is it about?" }</h3>
            <ul class="heard-categories" aria-labelledby="heard-categories-title">
                { for buttons }
            </ul>
        </div>
    }
}

fn category_button(category: &Category, chosen: bool, on_choose: &Callback<String>) -> Html {
    let id = category.id.clone();
    let onclick = on_choose.reform(move |_: MouseEvent| id.clone());
    let class = classes!(
        "heard-category",
        category.urgent.then_some("heard-urgent"),
        category.suggestion.then_some("heard-suggestion"),
        chosen.then_some("heard-chosen"),
    );
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
                <span class="heard-category-label">{ &category.label }</span>
                if let Some(hint) = &category.hint {
                    <span class="heard-category-hint">{ hint }</span>
                }
            </button>
        </li>
    }
}
