//! `GET /inbox/routing`: an owner's routing — the ordered rules, each
//! summarised in words with its JSON to edit; a form that tries the rules
//! being edited (saved or not) on a sample complaint; the teams with their
//! members; the webhook endpoints.
//!
//! Like every inbox page it only reads. `www/inbox/routing.js` makes every
//! change through the owner-only routing and notifications API
//! (`http/routing.rs`, `http/notifications.rs`), which checks the rules and
//! answers field errors the script shows beside the rule. Other staff get a
//! 403 page.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::PageStaff;
use super::layout::{ASSETS, Page, render, respond, words};
use crate::domain::routing::{Assign, Conditions, Hours, Recipient, Rule};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::html::escape;
use crate::http::staff::Staff;
use crate::store::{MerchantSite, Role, Team, User, Webhook};

/// Severities and moods a sample complaint can have, as the API spells them.
const SEVERITIES: [&str; 3] = ["inconvenience", "cost_me", "serious"];
const MOODS: [&str; 4] = ["calm", "annoyed", "upset", "furious"];

/// What the page shows by name instead of by id.
struct Names<'a> {
    users: HashMap<i64, &'a str>,
    teams: HashMap<i64, &'a str>,
    webhooks: HashMap<i64, &'a str>,
}

impl Names<'_> {
    fn user(&self, id: i64) -> String {
        self.users
            .get(&id)
            .map_or_else(|| format!("staff member {id}"), |name| (*name).to_owned())
    }

    fn team(&self, id: i64) -> String {
        self.teams
            .get(&id)
            .map_or_else(|| format!("team {id}"), |name| format!("team {name}"))
    }

    fn webhook(&self, id: i64) -> String {
        self.webhooks
            .get(&id)
            .map_or_else(|| format!("webhook {id}"), |name| format!("webhook {name}"))
    }
}

pub async fn page(
    State(state): State<AppState>,
    PageStaff(staff): PageStaff,
) -> Result<Response, AppError> {
    if !staff.role().includes(Role::Owner) {
        let main = "<h1>Routing</h1>\n<p>Only owners can change the routing rules, teams \
                    and webhooks.</p>\n";
        return Ok(page_response(StatusCode::FORBIDDEN, main, &staff));
    }
    let merchant = staff.merchant_id();
    let rules = state.store.routing_rules(merchant).await?;
    let teams = state.store.teams(merchant).await?;
    let webhooks = state.store.webhooks(merchant).await?;
    let users: Vec<User> = state
        .store
        .users(merchant)
        .await?
        .into_iter()
        .filter(|user| !user.disabled)
        .collect();
    let sites = state.store.merchant_sites(merchant).await?;
    let names = Names {
        users: users
            .iter()
            .map(|user| (user.id, user.display_name.as_str()))
            .collect(),
        teams: teams
            .iter()
            .map(|team| (team.id, team.name.as_str()))
            .collect(),
        webhooks: webhooks
            .iter()
            .map(|hook| (hook.id, hook.name.as_str()))
            .collect(),
    };

    let mut main = String::with_capacity(16 * 1024);
    main.push_str(
        "<h1>Routing</h1>\n\
         <p id=\"routing-notice\" class=\"notice\" role=\"status\" hidden></p>\n",
    );
    rules_section(&mut main, &rules, &names);
    test_section(&mut main, &sites);
    teams_section(&mut main, &teams, &users);
    webhooks_section(&mut main, &webhooks);
    let _ = writeln!(main, "<script src=\"{ASSETS}/routing.js\" defer></script>");
    Ok(page_response(StatusCode::OK, &main, &staff))
}

fn rules_section(html: &mut String, rules: &[Rule], names: &Names<'_>) {
    html.push_str(
        "<section id=\"rules-section\" aria-labelledby=\"rules-title\">\n\
         <h2 id=\"rules-title\">Rules</h2>\n\
         <p class=\"muted\">Every new complaint goes through the rules from the top. A \
         <em>first match</em> rule ends the evaluation when it matches; a <em>continue</em> \
         rule lets the next rules add to it. Safety complaints are always urgent and \
         owners are always told.</p>\n",
    );
    if rules.is_empty() {
        html.push_str("<p id=\"no-rules\">No rules yet: complaints go to the default team.</p>\n");
    }
    html.push_str("<ol class=\"rules\" id=\"rules\">\n");
    for (index, rule) in rules.iter().enumerate() {
        let json = serde_json::to_string_pretty(&RuleJson::from(rule)).unwrap_or_default();
        let _ = write!(
            html,
            "<li class=\"rule\" data-rule=\"{id}\" id=\"rule-{id}\">\n\
             <h3 class=\"rule-name\">{name}{disabled}</h3>\n\
             <p class=\"rule-summary\"><span class=\"badge\">{matching}</span> When {when}, \
             {then}.</p>\n\
             <div class=\"rule-buttons\">\
             <button type=\"button\" data-action=\"rule-up\" data-rule=\"{id}\"{up}>Move up\
             <span class=\"visually-hidden\"> {name}</span></button> \
             <button type=\"button\" data-action=\"rule-down\" data-rule=\"{id}\"{down}>Move down\
             <span class=\"visually-hidden\"> {name}</span></button> \
             <button type=\"button\" data-action=\"rule-delete\" data-rule=\"{id}\">Delete\
             <span class=\"visually-hidden\"> {name}</span></button></div>\n\
             <details>\n<summary>Edit <span class=\"visually-hidden\">{name}</span></summary>\n\
             <form class=\"rule-form\" data-action=\"rule-save\" data-rule=\"{id}\" novalidate>\n\
             <div class=\"alert\" role=\"alert\" hidden></div>\n\
             <p><label for=\"rule-json-{id}\">The rule (JSON)</label>\
             <textarea id=\"rule-json-{id}\" name=\"rule\" rows=\"12\" spellcheck=\"false\" \
             class=\"code\" data-rule-json=\"{id}\">{json}</textarea></p>\n\
             <button type=\"submit\">Save the rule</button>\n</form>\n</details>\n</li>\n",
            id = rule.id,
            name = escape(&rule.name),
            disabled = if rule.enabled {
                ""
            } else {
                " <span class=\"badge\">disabled</span>"
            },
            matching = if rule.stop { "First match" } else { "Continue" },
            when = escape(&conditions_in_words(&rule.conditions)),
            then = escape(&actions_in_words(rule, names)),
            up = if index == 0 { " disabled" } else { "" },
            down = if index + 1 == rules.len() {
                " disabled"
            } else {
                ""
            },
            json = escape(&json),
        );
    }
    html.push_str("</ol>\n");
    html.push_str(
        "<form class=\"rule-form\" id=\"rule-new\" data-action=\"rule-create\" novalidate>\n\
         <h3>A new rule</h3>\n\
         <p class=\"muted\" id=\"rule-new-help\">Conditions: <code>sites</code>, \
         <code>categories</code>, <code>values</code>, <code>severities</code>, \
         <code>moods</code>, <code>outcomes</code>, <code>languages</code>, \
         <code>keywords</code>, <code>contact_given</code>, <code>hours</code>. Actions: \
         <code>assign</code> (<code>{\"kind\": \"team\", \"team_id\": …}</code> or \
         <code>{\"kind\": \"user\", \"user_id\": …}</code>), <code>priority</code>, \
         <code>tags</code>, <code>notify</code>, <code>webhooks</code>, <code>escalate</code>. \
         The test below tries this rule too, after the saved ones, before you save it.</p>\n\
         <div class=\"alert\" role=\"alert\" hidden></div>\n\
         <p><label for=\"rule-new-json\">The new rule (JSON)</label>\
         <textarea id=\"rule-new-json\" name=\"rule\" rows=\"12\" spellcheck=\"false\" \
         class=\"code\" aria-describedby=\"rule-new-help\" placeholder=\"{&quot;name&quot;: \
         &quot;Deliveries to the shipping team&quot;, &quot;matching&quot;: &quot;first&quot;, \
         &quot;conditions&quot;: {&quot;categories&quot;: [&quot;delivery&quot;]}, \
         &quot;actions&quot;: {&quot;assign&quot;: {&quot;kind&quot;: &quot;team&quot;, \
         &quot;team_id&quot;: 1}, &quot;tags&quot;: [&quot;shipping&quot;]}}\"></textarea></p>\n\
         <button type=\"submit\">Add the rule</button>\n</form>\n</section>\n",
    );
}

fn test_section(html: &mut String, sites: &[MerchantSite]) {
    html.push_str(
        "<section id=\"test-section\" aria-labelledby=\"test-title\">\n\
         <h2 id=\"test-title\">Test against a sample complaint</h2>\n\
         <p class=\"muted\">Tries the rules as they stand in the editors above — edited \
         or new, saved or not — and changes nothing.</p>\n\
         <form id=\"rule-test\" data-action=\"rule-test\" novalidate>\n\
         <div class=\"alert\" role=\"alert\" hidden></div>\n\
         <p><label for=\"sample-reference\">Start from one of your complaints \
         (its reference)</label> <input id=\"sample-reference\" type=\"text\" \
         autocomplete=\"off\" placeholder=\"HRD-…\"> <button type=\"button\" \
         data-action=\"sample-fill\">Fill the sample</button></p>\n\
         <input type=\"hidden\" id=\"sample-value\" name=\"value_orientation\">\
         <input type=\"hidden\" id=\"sample-outcomes\" name=\"outcomes\">\n\
         <p><label for=\"sample-site\">Site</label><select id=\"sample-site\" name=\"site\">",
    );
    let mut categories: Vec<(&str, &str)> = Vec::new();
    for site in sites {
        let _ = write!(
            html,
            "<option value=\"{key}\">{name}</option>",
            key = escape(&site.key),
            name = escape(&site.name),
        );
        for (id, label) in &site.categories {
            if !categories.iter().any(|(known, _)| known == id) {
                categories.push((id, label));
            }
        }
    }
    html.push_str(
        "</select></p>\n<p><label for=\"sample-category\">Category</label>\
         <input id=\"sample-category\" name=\"category\" type=\"text\" list=\"sample-categories\" \
         required></p>\n<datalist id=\"sample-categories\">",
    );
    for (id, label) in categories {
        let _ = write!(
            html,
            "<option value=\"{id}\">{label}</option>",
            id = escape(id),
            label = escape(label),
        );
    }
    html.push_str(
        "</datalist>\n<p><label for=\"sample-severity\">Severity</label>\
         <select id=\"sample-severity\" name=\"severity\"><option value=\"\">Not given</option>",
    );
    for severity in SEVERITIES {
        let _ = write!(
            html,
            "<option value=\"{severity}\">{}</option>",
            words(severity)
        );
    }
    html.push_str(
        "</select></p>\n<p><label for=\"sample-mood\">Mood</label>\
         <select id=\"sample-mood\" name=\"mood\"><option value=\"\">Not given</option>",
    );
    for mood in MOODS {
        let _ = write!(html, "<option value=\"{mood}\">{mood}</option>");
    }
    html.push_str(
        "</select></p>\n<p><label for=\"sample-language\">Language</label>\
         <input id=\"sample-language\" name=\"language\" type=\"text\" value=\"en\"></p>\n\
         <p><label for=\"sample-text\">What the shopper wrote</label>\
         <textarea id=\"sample-text\" name=\"text\" rows=\"3\"></textarea></p>\n\
         <p><input id=\"sample-urgent\" name=\"urgent\" type=\"checkbox\"> \
         <label for=\"sample-urgent\">The category is marked urgent (safety or health)</label></p>\n\
         <p><input id=\"sample-contact\" name=\"contact_given\" type=\"checkbox\"> \
         <label for=\"sample-contact\">The shopper left an email or phone</label></p>\n\
         <button type=\"submit\">Test the rules</button>\n</form>\n\
         <div id=\"test-result\" class=\"test-result\" role=\"status\" aria-live=\"polite\"></div>\n\
         </section>\n",
    );
}

fn teams_section(html: &mut String, teams: &[Team], users: &[User]) {
    html.push_str(
        "<section id=\"teams-section\" aria-labelledby=\"teams-title\">\n\
         <h2 id=\"teams-title\">Teams</h2>\n",
    );
    if teams.is_empty() {
        html.push_str("<p>No teams yet.</p>\n");
    }
    html.push_str("<ul class=\"teams\" id=\"teams\">\n");
    for team in teams {
        let _ = write!(
            html,
            "<li class=\"team\" data-team=\"{id}\" data-team-name=\"{name}\">\n\
             <h3>{name}{default} <span class=\"muted\">({strategy}, id {id})</span></h3>\n\
             <form class=\"inline\" data-action=\"team-rename\" data-team=\"{id}\" \
             data-strategy=\"{strategy_value}\" data-default=\"{is_default}\" novalidate>\
             <div class=\"alert\" role=\"alert\" hidden></div>\
             <label for=\"team-name-{id}\">New name</label> \
             <input id=\"team-name-{id}\" name=\"name\" type=\"text\" value=\"{name}\" required> \
             <button type=\"submit\">Rename</button> \
             <button type=\"button\" data-action=\"team-delete\" data-team=\"{id}\">Delete the team\
             <span class=\"visually-hidden\"> {name}</span></button></form>\n\
             <ul class=\"members\">\n",
            id = team.id,
            name = escape(&team.name),
            default = if team.is_default {
                " <span class=\"badge\">default</span>"
            } else {
                ""
            },
            strategy = escape(&words(team.strategy.as_str())),
            strategy_value = team.strategy.as_str(),
            is_default = team.is_default,
        );
        if team.members.is_empty() {
            html.push_str("<li>No members yet.</li>\n");
        }
        for member in &team.members {
            let _ = writeln!(
                html,
                "<li data-member=\"{user}\">{name}{lead} \
                 <button type=\"button\" data-action=\"member-lead\" data-team=\"{team}\" \
                 data-user=\"{user}\" data-lead=\"{make_lead}\">{lead_label}\
                 <span class=\"visually-hidden\"> ({name})</span></button> \
                 <button type=\"button\" data-action=\"member-remove\" data-team=\"{team}\" \
                 data-user=\"{user}\">Remove<span class=\"visually-hidden\"> {name} from \
                 {team_name}</span></button></li>",
                user = member.user_id,
                team = team.id,
                team_name = escape(&team.name),
                name = escape(&member.display_name),
                lead = if member.is_lead {
                    " <span class=\"badge\">lead</span>"
                } else {
                    ""
                },
                make_lead = !member.is_lead,
                lead_label = if member.is_lead {
                    "No longer lead"
                } else {
                    "Make lead"
                },
            );
        }
        html.push_str("</ul>\n");
        let others: Vec<&User> = users
            .iter()
            .filter(|user| !team.members.iter().any(|member| member.user_id == user.id))
            .collect();
        if !others.is_empty() {
            let _ = write!(
                html,
                "<form class=\"inline\" data-action=\"member-add\" data-team=\"{id}\">\
                 <div class=\"alert\" role=\"alert\" hidden></div>\
                 <label for=\"member-{id}\">Add to {name}</label> \
                 <select id=\"member-{id}\" name=\"user\">",
                id = team.id,
                name = escape(&team.name),
            );
            for user in others {
                let _ = write!(
                    html,
                    "<option value=\"{}\">{}</option>",
                    user.id,
                    escape(&user.display_name)
                );
            }
            let _ = writeln!(
                html,
                "</select> <input id=\"member-lead-{id}\" name=\"is_lead\" type=\"checkbox\"> \
                 <label for=\"member-lead-{id}\">as lead</label> \
                 <button type=\"submit\">Add the member</button></form>",
                id = team.id,
            );
        }
        html.push_str("</li>\n");
    }
    html.push_str(
        "</ul>\n<form class=\"inline\" id=\"team-new\" data-action=\"team-create\" novalidate>\n\
         <h3>A new team</h3>\n<div class=\"alert\" role=\"alert\" hidden></div>\n\
         <p><label for=\"team-new-name\">Name</label> \
         <input id=\"team-new-name\" name=\"name\" type=\"text\" required></p>\n\
         <p><label for=\"team-new-strategy\">Who in the team gets a complaint</label> \
         <select id=\"team-new-strategy\" name=\"strategy\">\
         <option value=\"round_robin\">Each member in turn (round robin)</option>\
         <option value=\"least_loaded\">The member with the fewest open complaints</option>\
         </select></p>\n\
         <p><input id=\"team-new-default\" name=\"is_default\" type=\"checkbox\"> \
         <label for=\"team-new-default\">The default team: it gets complaints no rule \
         assigns</label></p>\n\
         <button type=\"submit\">Add the team</button>\n</form>\n</section>\n",
    );
}

fn webhooks_section(html: &mut String, webhooks: &[Webhook]) {
    html.push_str(
        "<section id=\"webhooks-section\" aria-labelledby=\"webhooks-title\">\n\
         <h2 id=\"webhooks-title\">Webhooks</h2>\n\
         <p class=\"muted\">Rules call these endpoints by id. The signing secret is shown \
         once, when the endpoint is added or its secret rotated.</p>\n\
         <div id=\"webhook-secret\" class=\"secret\" role=\"status\" hidden></div>\n",
    );
    if webhooks.is_empty() {
        html.push_str("<p>No webhook endpoints yet.</p>\n");
    } else {
        html.push_str(
            "<table class=\"webhooks\" id=\"webhooks\">\n<thead><tr><th scope=\"col\">Name</th>\
             <th scope=\"col\">URL</th><th scope=\"col\">Format</th>\
             <th scope=\"col\">Private addresses</th><th scope=\"col\">Actions</th></tr></thead>\n\
             <tbody>\n",
        );
        for hook in webhooks {
            let _ = writeln!(
                html,
                "<tr data-webhook=\"{id}\"><td>{name} <span class=\"muted\">(id {id}){off}</span></td>\
                 <td><code>{url}</code></td><td>{format}</td><td>{private}</td>\
                 <td><button type=\"button\" data-action=\"webhook-rotate\" data-webhook=\"{id}\">\
                 Rotate the secret<span class=\"visually-hidden\"> of {name}</span></button> \
                 <button type=\"button\" data-action=\"webhook-delete\" data-webhook=\"{id}\">\
                 Delete<span class=\"visually-hidden\"> {name}</span></button></td></tr>",
                id = hook.id,
                name = escape(&hook.name),
                off = if hook.enabled { "" } else { ", disabled" },
                url = escape(&hook.url),
                format = hook.format.as_str(),
                private = if hook.allow_private {
                    "allowed"
                } else {
                    "refused"
                },
            );
        }
        html.push_str("</tbody>\n</table>\n");
    }
    html.push_str(
        "<form class=\"inline\" id=\"webhook-new\" data-action=\"webhook-create\" novalidate>\n\
         <h3>A new endpoint</h3>\n<div class=\"alert\" role=\"alert\" hidden></div>\n\
         <p><label for=\"webhook-new-name\">Name</label> \
         <input id=\"webhook-new-name\" name=\"name\" type=\"text\" required></p>\n\
         <p><label for=\"webhook-new-url\">URL (https)</label> \
         <input id=\"webhook-new-url\" name=\"url\" type=\"url\" required></p>\n\
         <p><label for=\"webhook-new-format\">Format</label> \
         <select id=\"webhook-new-format\" name=\"format\">\
         <option value=\"standard\">Standard Webhooks (JSON event)</option>\
         <option value=\"slack\">Slack message</option></select></p>\n\
         <p><input id=\"webhook-new-private\" name=\"allow_private\" type=\"checkbox\"> \
         <label for=\"webhook-new-private\">Allow private and loopback addresses</label></p>\n\
         <button type=\"submit\">Add the endpoint</button>\n</form>\n</section>\n",
    );
}

/// A rule as the editor holds it: what `PUT /api/v1/routing/rules/{id}`
/// takes back.
#[derive(Serialize)]
struct RuleJson<'a> {
    name: &'a str,
    enabled: bool,
    matching: &'static str,
    conditions: &'a Conditions,
    actions: &'a crate::domain::routing::Actions,
}

impl<'a> From<&'a Rule> for RuleJson<'a> {
    fn from(rule: &'a Rule) -> Self {
        RuleJson {
            name: &rule.name,
            enabled: rule.enabled,
            matching: if rule.stop { "first" } else { "continue" },
            conditions: &rule.conditions,
            actions: &rule.actions,
        }
    }
}

/// "category is delivery or product and the text mentions “late”".
fn conditions_in_words(conditions: &Conditions) -> String {
    let mut parts = Vec::new();
    let quoted = |values: &[String]| {
        values
            .iter()
            .map(|value| format!("“{value}”"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let wire = |values: Vec<String>| values.join(" or ");
    if !conditions.sites.is_empty() {
        parts.push(format!("the site is {}", conditions.sites.join(" or ")));
    }
    if !conditions.categories.is_empty() {
        parts.push(format!(
            "the category is {}",
            conditions.categories.join(" or ")
        ));
    }
    if !conditions.values.is_empty() {
        parts.push(format!("the value is {}", conditions.values.join(" or ")));
    }
    if !conditions.severities.is_empty() {
        parts.push(format!(
            "the severity is {}",
            wire(conditions.severities.iter().map(wire_word).collect())
        ));
    }
    if !conditions.moods.is_empty() {
        parts.push(format!(
            "the mood is {}",
            wire(conditions.moods.iter().map(wire_word).collect())
        ));
    }
    if !conditions.outcomes.is_empty() {
        parts.push(format!(
            "the shopper wants {}",
            wire(conditions.outcomes.iter().map(wire_word).collect())
        ));
    }
    if !conditions.languages.is_empty() {
        parts.push(format!(
            "the language is {}",
            conditions.languages.join(" or ")
        ));
    }
    if !conditions.keywords.is_empty() {
        parts.push(format!(
            "the text mentions {}",
            quoted(&conditions.keywords)
        ));
    }
    match conditions.contact_given {
        Some(true) => parts.push("the shopper left contact details".to_owned()),
        Some(false) => parts.push("the shopper left no contact details".to_owned()),
        None => {}
    }
    if let Some(hours) = conditions.hours {
        parts.push(hours_in_words(hours));
    }
    if parts.is_empty() {
        "any complaint arrives".to_owned()
    } else {
        parts.join(" and ")
    }
}

fn hours_in_words(hours: Hours) -> String {
    let offset = hours.utc_offset_minutes;
    let sign = if offset < 0 { '-' } else { '+' };
    format!(
        "it arrives between {:02}:00 and {:02}:00 (UTC{sign}{:02}:{:02})",
        hours.from,
        hours.to,
        offset.abs() / 60,
        offset.abs() % 60
    )
}

/// "assign to team Shipping, tag late, email the owners".
fn actions_in_words(rule: &Rule, names: &Names<'_>) -> String {
    let actions = &rule.actions;
    let mut parts = Vec::new();
    match actions.assign {
        Some(Assign::User { user_id }) => parts.push(format!("assign to {}", names.user(user_id))),
        Some(Assign::Team { team_id }) => parts.push(format!("assign to {}", names.team(team_id))),
        None => {}
    }
    if let Some(priority) = actions.priority {
        parts.push(format!("set the priority {}", priority.as_str()));
    }
    if !actions.tags.is_empty() {
        parts.push(format!("tag {}", actions.tags.join(", ")));
    }
    if !actions.notify.is_empty() {
        let whom: Vec<String> = actions
            .notify
            .iter()
            .map(|recipient| match recipient {
                Recipient::Owners => "the owners".to_owned(),
                Recipient::Assignee => "the assignee".to_owned(),
                Recipient::User { user_id } => names.user(*user_id),
                Recipient::Team { team_id } => names.team(*team_id),
            })
            .collect();
        parts.push(format!("email {}", whom.join(", ")));
    }
    if !actions.webhooks.is_empty() {
        let hooks: Vec<String> = actions
            .webhooks
            .iter()
            .map(|id| names.webhook(*id))
            .collect();
        parts.push(format!("call {}", hooks.join(", ")));
    }
    if actions.escalate {
        parts.push("escalate it".to_owned());
    }
    if parts.is_empty() {
        "do nothing".to_owned()
    } else {
        parts.join(", ")
    }
}

/// `CostMe` → `cost me`: a wire value as words.
fn wire_word(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => words(&text),
        _ => String::new(),
    }
}

fn page_response(status: StatusCode, main: &str, staff: &Staff) -> Response {
    respond(
        status,
        render(&Page {
            title: "Routing",
            kind: "routing",
            main,
            staff: Some(staff),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_hours_read_as_words() {
        let conditions = Conditions {
            categories: vec!["delivery".to_owned()],
            keywords: vec!["late".to_owned()],
            hours: Some(Hours {
                from: 22,
                to: 6,
                utc_offset_minutes: -90,
            }),
            ..Conditions::default()
        };
        assert_eq!(
            conditions_in_words(&conditions),
            "the category is delivery and the text mentions “late” and it arrives between \
             22:00 and 06:00 (UTC-01:30)"
        );
        assert_eq!(
            conditions_in_words(&Conditions::default()),
            "any complaint arrives"
        );
    }
}
