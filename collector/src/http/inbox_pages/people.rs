//! The pages around the inbox: the staff list (owners invite, change roles
//! and disable from it), the audit log (owners), the staff member's own
//! account (password change), and the page an invitation link opens. Like
//! every inbox page they only read; the script acts through `/api/v1/auth`
//! and `/api/v1/staff`.

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::PageStaff;
use super::layout::{Page, render, respond, time};
use super::list::capitalised;
use crate::domain::accounts::MIN_PASSWORD_CHARS;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::html::escape;
use crate::http::staff::Staff;
use crate::store::{Role, User};

/// Audit entries on one page.
const AUDIT_PAGE: usize = 100;

const ROLES: [Role; 3] = [Role::Owner, Role::Agent, Role::Viewer];

/// `GET /inbox/staff`: everyone of the merchant; owners get the controls.
pub async fn staff_page(
    State(state): State<AppState>,
    PageStaff(staff): PageStaff,
) -> Result<Response, AppError> {
    let people = state.accounts.staff(&staff.user).await?;
    let owner = staff.role().includes(Role::Owner);
    let mut main = String::from("<h1>Staff</h1>\n");
    if owner {
        main.push_str(
            "<section aria-labelledby=\"invite-title\">\n<h2 id=\"invite-title\">Invite someone</h2>\n\
             <form class=\"inline\" data-action=\"invite\">\
             <label for=\"invite-email\">Email address</label>\
             <input id=\"invite-email\" name=\"email\" type=\"email\" required autocomplete=\"off\">\
             <label for=\"invite-role\">Role</label><select id=\"invite-role\" name=\"role\">\
             <option value=\"agent\">Agent: works complaints</option>\
             <option value=\"viewer\">Viewer: reads only</option>\
             <option value=\"owner\">Owner: everything, staff too</option></select>\
             <button type=\"submit\">Create invitation link</button></form>\n\
             <p id=\"invite-result\" class=\"invite-result\" hidden>Send this one-time link to \
             <span id=\"invite-for\"></span> yourself (valid 72 hours): \
             <output id=\"invite-link\"></output></p>\n</section>\n",
        );
    }
    main.push_str(
        "<table class=\"people\" id=\"people\">\n<caption>Everyone who can sign in to this inbox</caption>\n\
         <thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Email</th>\
         <th scope=\"col\">Role</th><th scope=\"col\">Status</th></tr></thead>\n<tbody>\n",
    );
    for person in &people {
        row(&mut main, person, &staff, owner);
    }
    main.push_str("</tbody>\n</table>\n");
    Ok(page(StatusCode::OK, "Staff", "staff", &main, &staff))
}

fn row(html: &mut String, person: &User, staff: &Staff, owner: bool) {
    let myself = person.id == staff.user_id();
    let _ = write!(
        html,
        "<tr data-user=\"{id}\"><td>{name}{me}</td><td>{email}</td><td>",
        id = person.id,
        name = escape(&person.display_name),
        me = if myself { " (you)" } else { "" },
        email = escape(&person.email),
    );
    if owner && !person.disabled {
        let _ = write!(
            html,
            "<form class=\"inline\" data-action=\"role\" data-user=\"{id}\">\
             <label class=\"visually-hidden\" for=\"role-{id}\">Role of {name}</label>\
             <select id=\"role-{id}\" name=\"role\">",
            id = person.id,
            name = escape(&person.display_name),
        );
        for role in ROLES {
            let selected = if role == person.role { " selected" } else { "" };
            let _ = write!(
                html,
                "<option value=\"{0}\"{selected}>{1}</option>",
                role.as_str(),
                capitalised(role.as_str())
            );
        }
        html.push_str("</select><button type=\"submit\">Change role</button></form>");
    } else {
        html.push_str(&capitalised(person.role.as_str()));
    }
    html.push_str("</td><td>");
    if person.disabled {
        html.push_str("Disabled");
    } else if owner && !myself {
        let _ = write!(
            html,
            "Active <button type=\"button\" class=\"secondary\" data-action=\"disable\" \
             data-user=\"{}\">Disable {}</button>",
            person.id,
            escape(&person.display_name)
        );
    } else {
        html.push_str("Active");
    }
    html.push_str("</td></tr>\n");
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
}

/// `GET /inbox/audit`: every staff action, newest first (owners only).
pub async fn audit_page(
    State(state): State<AppState>,
    PageStaff(staff): PageStaff,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    if !staff.role().includes(Role::Owner) {
        let main = "<h1>Audit log</h1>\n<p>Only owners can read the audit log.</p>\n";
        return Ok(page(
            StatusCode::FORBIDDEN,
            "Audit log",
            "audit",
            main,
            &staff,
        ));
    }
    let before = query.ok().and_then(|Query(query)| query.before);
    let entries = state
        .accounts
        .audit_log(&staff.user, before, AUDIT_PAGE)
        .await?;
    let people = state.accounts.staff(&staff.user).await?;
    let mut main = String::from(
        "<h1>Audit log</h1>\n<table class=\"audit\">\n<caption>What staff did, newest first</caption>\n\
         <thead><tr><th scope=\"col\">When</th><th scope=\"col\">Who</th>\
         <th scope=\"col\">What</th><th scope=\"col\">Details</th></tr></thead>\n<tbody>\n",
    );
    for entry in &entries {
        let who = match entry.user_id {
            Some(id) => people.iter().find(|person| person.id == id).map_or_else(
                || format!("Staff #{id}"),
                |person| person.display_name.clone(),
            ),
            None => "Heard".to_owned(),
        };
        let _ = writeln!(
            main,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            time(entry.at),
            escape(&who),
            escape(&entry.action),
            escape(&entry.detail.to_string()),
        );
    }
    main.push_str("</tbody>\n</table>\n");
    if entries.len() == AUDIT_PAGE
        && let Some(last) = entries.last()
    {
        let _ = writeln!(
            main,
            "<nav class=\"pages\" aria-label=\"Older entries\"><a rel=\"next\" href=\"/inbox/audit?before={}\">Older entries</a></nav>",
            last.id
        );
    }
    Ok(page(StatusCode::OK, "Audit log", "audit", &main, &staff))
}

/// `GET /inbox/account`: the staff member's own account.
pub async fn account_page(PageStaff(staff): PageStaff) -> Response {
    let main = format!(
        "<h1>Your account</h1>\n<dl class=\"facts\"><div><dt>Name</dt><dd>{name}</dd></div>\
         <div><dt>Email</dt><dd>{email}</dd></div><div><dt>Role</dt><dd>{role}</dd></div></dl>\n\
         <section aria-labelledby=\"password-title\">\n<h2 id=\"password-title\">Change your password</h2>\n\
         <p>Your other sessions end when you change it.</p>\n\
         <form class=\"stacked\" data-action=\"password\">\
         <input type=\"text\" name=\"username\" autocomplete=\"username\" value=\"{email}\" hidden>\
         <label for=\"current-password\">Current password</label>\
         <input id=\"current-password\" name=\"current_password\" type=\"password\" \
         autocomplete=\"current-password\" required>\
         <label for=\"new-password\">New password <span class=\"muted\">(at least {MIN_PASSWORD_CHARS} characters)</span></label>\
         <input id=\"new-password\" name=\"new_password\" type=\"password\" \
         autocomplete=\"new-password\" minlength=\"{MIN_PASSWORD_CHARS}\" required>\
         <button type=\"submit\">Change password</button></form>\n</section>\n",
        name = escape(&staff.user.display_name),
        email = escape(&staff.user.email),
        role = escape(&capitalised(staff.role().as_str())),
    );
    page(StatusCode::OK, "Your account", "account", &main, &staff)
}

/// `GET /inbox/join/{token}`: where an invitation link leads. The token is
/// checked when the form is sent (`POST /api/v1/staff/invites/{token}/accept`);
/// the page itself reveals nothing about it.
pub async fn join_page(Path(token): Path<String>) -> Response {
    let main = format!(
        "<div class=\"signin\">\n<h1>Join the inbox</h1>\n\
         <p>Choose the name your colleagues see and a password.</p>\n\
         <form class=\"stacked\" data-action=\"join\" data-token=\"{token}\">\
         <label for=\"display-name\">Your name</label>\
         <input id=\"display-name\" name=\"display_name\" type=\"text\" autocomplete=\"name\" required>\
         <label for=\"join-password\">Password <span class=\"muted\">(at least {MIN_PASSWORD_CHARS} characters)</span></label>\
         <input id=\"join-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" \
         minlength=\"{MIN_PASSWORD_CHARS}\" required>\
         <button type=\"submit\">Create my account</button></form>\n</div>\n",
        token = escape(&token),
    );
    respond(
        StatusCode::OK,
        render(&Page {
            title: "Join",
            kind: "join",
            main: &main,
            staff: None,
        }),
    )
}

fn page(status: StatusCode, title: &str, kind: &str, main: &str, staff: &Staff) -> Response {
    respond(
        status,
        render(&Page {
            title,
            kind,
            main,
            staff: Some(staff),
        }),
    )
}
