//! `GET /inbox/sites` and `GET /inbox/sites/{site_key}`: an owner's
//! settings of each site — name, allowed origins, languages, the rest of
//! the widget configuration as JSON (categories and their questions,
//! channels, branding, the promised response time), the response targets
//! per class, and the exact embed snippet with a copy button; on the list,
//! the merchant's retention. The page
//! only reads; the script saves through `PUT /api/v1/inbox/sites/{key}` and
//! `PUT …/response-targets`, and shows their field errors beside the fields.
//! Other staff get a 403 page; another merchant's site is the inbox's 404.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::PageStaff;
use super::layout::{self, Page, render, respond};
use crate::domain::inbox::InboxError;
use crate::domain::inbox_work::{self, MAX_TARGET_HOURS, SlaClass};
use crate::domain::retention::{MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::html::escape;
use crate::http::retention::EXPLANATION;
use crate::http::site_settings::embed_snippet;
use crate::http::staff::Staff;
use crate::store::Role;

/// The list of the merchant's sites.
pub async fn list_page(
    State(state): State<AppState>,
    PageStaff(staff): PageStaff,
) -> Result<Response, AppError> {
    if let Some(refusal) = owners_only(&staff) {
        return Ok(refusal);
    }
    let sites = state.store.merchant_sites(staff.merchant_id()).await?;
    let mut html = String::from("<h1>Sites</h1>\n<ul class=\"sites\" id=\"sites\">\n");
    for site in &sites {
        let _ = writeln!(
            html,
            "<li><a href=\"/inbox/sites/{key}\">{name}</a> <span class=\"muted\">({key})</span></li>",
            key = escape(&site.key),
            name = escape(&site.name),
        );
    }
    html.push_str("</ul>\n");
    retention_form(
        &mut html,
        state.store.retention_days(staff.merchant_id()).await?,
    );
    Ok(page(StatusCode::OK, "Sites", &html, &staff))
}

/// One site's settings.
pub async fn site_page(
    State(state): State<AppState>,
    PageStaff(staff): PageStaff,
    Path(site_key): Path<String>,
) -> Result<Response, AppError> {
    if let Some(refusal) = owners_only(&staff) {
        return Ok(refusal);
    }
    let Some(site) = state
        .store
        .merchant_site(staff.merchant_id(), &site_key)
        .await?
    else {
        return Ok(layout::not_found(&staff));
    };
    let targets =
        match inbox_work::response_targets(&state.store, staff.merchant_id(), &site.key).await {
            Ok(targets) => targets,
            Err(InboxError::NotFound) => return Ok(layout::not_found(&staff)),
            Err(other) => return Err(other.into()),
        };
    // Everything of the configuration but what has a field of its own.
    let mut rest = serde_json::to_value(&site.config).unwrap_or_default();
    if let Some(object) = rest.as_object_mut() {
        for own_field in ["site_key", "name", "languages"] {
            object.remove(own_field);
        }
    }
    let rest = serde_json::to_string_pretty(&rest).unwrap_or_default();
    let snippet = embed_snippet(&state.public_url, &site.key);

    let mut html = String::with_capacity(8192 + rest.len());
    let _ = write!(
        html,
        "<p class=\"crumbs\"><a href=\"/inbox/sites\">← Sites</a></p>\n\
         <h1>{name} <span class=\"muted\">({key})</span></h1>\n\
         <section aria-labelledby=\"embed-title\">\n<h2 id=\"embed-title\">Embed on your shop</h2>\n\
         <p id=\"embed-help\">Paste this tag into every page of the shop, just before <code>&lt;/body&gt;</code>.</p>\n\
         <pre class=\"snippet\"><code id=\"embed-snippet\" aria-describedby=\"embed-help\">{snippet}</code></pre>\n\
         <button type=\"button\" data-action=\"copy-snippet\">Copy the snippet</button>\n</section>\n",
        name = escape(&site.name),
        key = escape(&site.key),
        snippet = escape(&snippet),
    );
    let _ = write!(
        html,
        "<form class=\"site-settings\" id=\"site-settings\" data-action=\"site-settings\" \
         data-site=\"{key}\" novalidate>\n<h2>Settings</h2>\n\
         <div class=\"alert\" role=\"alert\" id=\"settings-errors\" hidden></div>\n\
         <p><label for=\"site-name\">Name shoppers know the shop by</label>\
         <input id=\"site-name\" name=\"name\" type=\"text\" required value=\"{name}\" \
         aria-describedby=\"error-config-name\"><span class=\"field-error\" id=\"error-config-name\" \
         data-field=\"config.name\"></span></p>\n\
         <p><label for=\"site-origins\">Allowed origins, one a line (e.g. https://shop.example)</label>\
         <textarea id=\"site-origins\" name=\"origins\" rows=\"3\" aria-describedby=\"error-allowed_origins\">{origins}</textarea>\
         <span class=\"field-error\" id=\"error-allowed_origins\" data-field=\"allowed_origins\"></span></p>\n\
         <p><label for=\"site-languages\">Languages, the default first (e.g. en, de, zh-Hans)</label>\
         <input id=\"site-languages\" name=\"languages\" type=\"text\" value=\"{languages}\" \
         aria-describedby=\"error-config-languages\"><span class=\"field-error\" id=\"error-config-languages\" \
         data-field=\"config.languages\"></span></p>\n\
         <p><label for=\"site-config\">Categories and their questions, channels, branding and the \
         promised response time (JSON)</label>\
         <textarea id=\"site-config\" name=\"config\" rows=\"18\" spellcheck=\"false\" class=\"code\" \
         aria-describedby=\"error-config\">{rest}</textarea>\
         <span class=\"field-error\" id=\"error-config\" data-field=\"config\"></span></p>\n\
         <button type=\"submit\">Save settings</button>\n</form>\n",
        key = escape(&site.key),
        name = escape(&site.name),
        origins = escape(&site.allowed_origins.join("\n")),
        languages = escape(&site.config.languages.join(", ")),
        rest = escape(&rest),
    );
    let _ = write!(
        html,
        "<form class=\"targets\" id=\"targets\" data-action=\"targets\" data-site=\"{key}\">\n\
         <h2>Response targets</h2>\n\
         <p>Hours after a complaint arrives by which it is answered for the first time, and \
         resolved. Changing them moves the due dates of the site's open complaints.</p>\n\
         <div class=\"alert\" role=\"alert\" id=\"targets-errors\" hidden></div>\n\
         <table><thead><tr><th scope=\"col\">Complaint</th><th scope=\"col\">First response (h)</th>\
         <th scope=\"col\">Resolution (h)</th></tr></thead><tbody>\n",
        key = escape(&site.key),
    );
    for target in &targets {
        let class = target.class.as_str();
        let (default_first, default_resolution) = target.class.default_hours();
        let _ = writeln!(
            html,
            "<tr data-class=\"{class}\" data-default-first=\"{default_first}\" \
             data-default-resolution=\"{default_resolution}\"><th scope=\"row\">{label}</th>\
             <td><input type=\"number\" min=\"1\" max=\"{MAX_TARGET_HOURS}\" name=\"{class}.first\" \
             value=\"{first}\" aria-label=\"{label}: first response, hours (default {default_first})\"></td>\
             <td><input type=\"number\" min=\"1\" max=\"{MAX_TARGET_HOURS}\" name=\"{class}.resolution\" \
             value=\"{resolution}\" aria-label=\"{label}: resolution, hours (default {default_resolution})\"></td></tr>",
            label = escape(label(target.class)),
            first = target.first_response_hours,
            resolution = target.resolution_hours,
        );
    }
    html.push_str(
        "</tbody></table>\n<button type=\"submit\">Save response targets</button>\n</form>\n",
    );
    let title = format!("Site {}", site.name);
    Ok(page(StatusCode::OK, &title, &html, &staff))
}

/// The merchant's retention (issue 9), for all its sites at once; the
/// script saves it through `PUT /api/v1/retention`.
fn retention_form(html: &mut String, days: Option<u32>) {
    let value = days.map(|days| days.to_string()).unwrap_or_default();
    let _ = write!(
        html,
        "<form class=\"retention\" id=\"retention\" data-action=\"retention\" novalidate>\n\
         <h2>Retention</h2>\n<p id=\"retention-help\">{explanation} Leave it empty to keep \
         complaints forever.</p>\n\
         <div class=\"alert\" role=\"alert\" id=\"retention-errors\" hidden></div>\n\
         <p><label for=\"retention-days\">Days to keep finished complaints ({MIN_RETENTION_DAYS}–{MAX_RETENTION_DAYS})</label>\
         <input id=\"retention-days\" name=\"retention_days\" type=\"number\" min=\"{MIN_RETENTION_DAYS}\" \
         max=\"{MAX_RETENTION_DAYS}\" value=\"{value}\" aria-describedby=\"retention-help error-retention_days\">\
         <span class=\"field-error\" id=\"error-retention_days\" data-field=\"retention_days\"></span></p>\n\
         <button type=\"submit\">Save retention</button>\n</form>\n",
        explanation = escape(EXPLANATION),
    );
}

fn label(class: SlaClass) -> &'static str {
    class.label()
}

fn owners_only(staff: &Staff) -> Option<Response> {
    if staff.role().includes(Role::Owner) {
        return None;
    }
    let main = "<h1>Sites</h1>\n<p>Only owners can change the sites' settings.</p>\n";
    Some(page(StatusCode::FORBIDDEN, "Sites", main, staff))
}

fn page(status: StatusCode, title: &str, main: &str, staff: &Staff) -> Response {
    respond(
        status,
        render(&Page {
            title,
            kind: "sites",
            main,
            staff: Some(staff),
        }),
    )
}
