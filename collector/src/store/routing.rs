//! Teams, routing rules and webhook endpoints, and routing a new complaint
//! inside its own transaction.
//!
//! Every function that reads or changes a merchant's teams, rules or
//! endpoints takes `merchant_id` and filters by it in SQL. [`route`] is
//! called by `complaints::record` right after the complaint is inserted, in
//! the same savepoint: the assignment, the priority, the tags, the timeline
//! events and the notification rows commit together with the complaint or
//! not at all.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use heard_shared::{Mood, Severity};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::complaints::{NewComplaint, SiteFacts};
use super::notifications::{self, NewNotification};
use super::sites::{from_json, to_json};
use super::{Store, StoreError};
use crate::domain::routing::{
    self, Actions, Assign, Conditions, Decision, Facts, Priority, Recipient, Rule, RuleInput,
    Target,
};

/// The name of the team created for a merchant that has none.
pub const DEFAULT_TEAM_NAME: &str = "Everyone";

/// How a team picks the member who gets the next complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    RoundRobin,
    LeastLoaded,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastLoaded => "least_loaded",
        }
    }

    fn parse(text: &str) -> Result<Strategy, StoreError> {
        match text {
            "round_robin" => Ok(Strategy::RoundRobin),
            "least_loaded" => Ok(Strategy::LeastLoaded),
            other => Err(StoreError::Corrupt(format!(
                "unknown team strategy {other:?}"
            ))),
        }
    }
}

/// A team and its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub strategy: Strategy,
    pub is_default: bool,
    pub members: Vec<TeamMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamMember {
    pub user_id: i64,
    pub display_name: String,
    pub is_lead: bool,
}

/// A team as a client sends it.
#[derive(Debug, Clone)]
pub struct TeamInput {
    pub name: String,
    pub strategy: Strategy,
    pub is_default: bool,
}

/// The format of a webhook's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The Standard Webhooks JSON event.
    Standard,
    /// A Slack-compatible `{"text": …}` message.
    Slack,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Standard => "standard",
            WebhookFormat::Slack => "slack",
        }
    }

    pub(super) fn parse(text: &str) -> Result<WebhookFormat, StoreError> {
        match text {
            "standard" => Ok(WebhookFormat::Standard),
            "slack" => Ok(WebhookFormat::Slack),
            other => Err(StoreError::Corrupt(format!(
                "unknown webhook format {other:?}"
            ))),
        }
    }
}

/// A webhook endpoint as the API shows it: never its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub format: WebhookFormat,
    pub allow_private: bool,
    pub enabled: bool,
    /// Until when the previous secret still signs, after a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<i64>,
}

/// A webhook endpoint as a client sends it; the URL is already checked.
#[derive(Debug, Clone)]
pub struct WebhookInput {
    pub name: String,
    pub url: String,
    pub format: WebhookFormat,
    pub allow_private: bool,
    pub enabled: bool,
}

/// Why a routing change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The rule, team, endpoint or member is not the merchant's.
    NotFound,
    /// A rule names something that is not the merchant's: the field and id.
    Unknown { field: &'static str, id: i64 },
    /// A team of this name exists already.
    DuplicateName,
    /// The merchant has reached a limit.
    TooMany { max: usize },
    /// A reorder did not list every rule exactly once.
    IncompleteOrder,
    /// Rules still send work to this team or endpoint.
    InUse,
}

/// The most teams and webhook endpoints one merchant may keep.
pub const MAX_TEAMS: usize = 100;
pub const MAX_WEBHOOKS: usize = 20;

// --- routing a new complaint ----------------------------------------------

/// Routes the complaint stored as `complaint_id` (one restored from the
/// spam folder): evaluates the merchant's rules, assigns, sets priority and
/// tags, writes the timeline events and queues the notifications — all in
/// the caller's transaction.
pub(super) fn route(
    connection: &Connection,
    complaint_id: i64,
    complaint: &NewComplaint,
) -> Result<(), StoreError> {
    let site = SiteFacts::read(connection, complaint.site_id)?;
    let reference: String = connection
        .prepare_cached("SELECT reference FROM complaints WHERE id = ?1")?
        .query_row(params![complaint_id], |row| row.get(0))?;
    let routing = decide(connection, &site, complaint)?;
    execute_cached(
        connection,
        "UPDATE complaints SET team_id = ?2, assignee_user_id = ?3,
            escalated_at = coalesce(?4, escalated_at)
         WHERE id = ?1",
        params![
            complaint_id,
            routing.team_id,
            routing.assignee,
            routing.escalated_at(complaint.created_at)
        ],
    )?;
    let routed = Routed {
        merchant_id: site.merchant_id,
        complaint_id,
        reference: &reference,
        site_name: &site.name,
    };
    finish(connection, &routed, complaint, &routing)
}

/// Where a complaint goes, decided before it is inserted, so that intake
/// writes its team, assignee and escalation with the row itself.
pub(super) struct Routing {
    rules: Rc<Vec<Rule>>,
    facts: Facts,
    decision: Decision,
    pub team_id: Option<i64>,
    pub assignee: Option<i64>,
}

impl Routing {
    /// When the complaint was escalated by a rule, if it was.
    pub(super) fn escalated_at(&self, now: i64) -> Option<i64> {
        self.decision.escalate.then_some(now)
    }
}

/// Evaluates the merchant's rules (read once per writer batch) for
/// `complaint` and resolves the team and assignee they name.
pub(super) fn decide(
    connection: &Connection,
    site: &SiteFacts,
    complaint: &NewComplaint,
) -> Result<Routing, StoreError> {
    let rules = batch_rules(connection, site.merchant_id)?;
    let facts = facts(complaint, site.key.clone());
    let decision = routing::evaluate(&rules, &facts);
    let (team_id, assignee) = resolve_target(
        connection,
        site.merchant_id,
        decision.target,
        complaint.created_at,
    )?;
    Ok(Routing {
        rules,
        facts,
        decision,
        team_id,
        assignee,
    })
}

/// Which complaint is being routed, and where it was sent from.
pub(super) struct Routed<'a> {
    pub merchant_id: i64,
    pub complaint_id: i64,
    pub reference: &'a str,
    pub site_name: &'a str,
}

/// What the rules see of a complaint.
fn facts(complaint: &NewComplaint, site_key: String) -> Facts {
    let mut text = complaint.description.clone();
    for part in complaint.remedy.iter().chain(complaint.answers.values()) {
        text.push('\n');
        text.push_str(part);
    }
    Facts {
        site_key,
        category: complaint.category.clone(),
        value_orientation: complaint.value_orientation.clone(),
        urgent: complaint.urgent,
        severity: complaint.severity,
        mood: complaint.mood,
        outcomes: complaint.outcomes.clone(),
        language: complaint.language.clone(),
        text,
        contact_given: complaint.contact_email.is_some() || complaint.contact_phone.is_some(),
        received_at: complaint.created_at,
    }
}

/// The rest of routing once the complaint's row carries its team and
/// assignee: priority, tags, timeline events and notifications.
pub(super) fn finish(
    connection: &Connection,
    routed: &Routed<'_>,
    complaint: &NewComplaint,
    routing: &Routing,
) -> Result<(), StoreError> {
    let Routed {
        merchant_id,
        complaint_id,
        reference,
        site_name,
    } = *routed;
    let Routing {
        rules,
        facts,
        decision,
        team_id,
        assignee,
    } = routing;
    let (team_id, assignee) = (*team_id, *assignee);
    let now = complaint.created_at;
    if let Some(priority) = decision.priority {
        // The trigger stored urgent (1000) + severity + mood; the rule's
        // priority replaces the first part and keeps the rest.
        execute_cached(
        connection,
            "UPDATE complaints SET priority = ?2 + priority - (CASE WHEN urgent THEN 1000 ELSE 0 END)
             WHERE id = ?1",
            params![complaint_id, priority.base()],
        )?;
        if priority == Priority::Urgent {
            execute_cached(
                connection,
                "UPDATE complaints SET
                    first_response_due_at = min(first_response_due_at, created_at + 3600000),
                    resolution_due_at = min(resolution_due_at, created_at + 86400000)
                 WHERE id = ?1",
                params![complaint_id],
            )?;
        }
    }
    let rule_ids: Vec<i64> = decision.matched.clone();
    if assignee.is_some() {
        let data = serde_json::json!({
            "from": null, "to": assignee, "team_id": team_id, "rules": rule_ids,
        });
        event(connection, complaint_id, now, "assigned", &data)?;
    }
    if !decision.tags.is_empty() {
        let mut insert = connection.prepare_cached(
            "INSERT OR IGNORE INTO complaint_tags (complaint_id, tag) VALUES (?1, ?2)",
        )?;
        for tag in &decision.tags {
            insert.execute(params![complaint_id, tag])?;
        }
        let data = serde_json::json!({ "added": decision.tags, "removed": [], "rules": rule_ids });
        event(connection, complaint_id, now, "tagged", &data)?;
    }

    let recipients = recipients(connection, merchant_id, &decision.notify, assignee)?;
    if recipients.is_empty() && decision.webhooks.is_empty() {
        return Ok(());
    }
    let payload = payload(
        connection,
        merchant_id,
        reference,
        site_name,
        complaint,
        facts,
        decision,
        rules,
        team_id,
        assignee,
    )?;
    for user_id in recipients {
        let email: String = connection
            .prepare_cached("SELECT email FROM users WHERE id = ?1")?
            .query_row(params![user_id], |row| row.get(0))?;
        notifications::queue(
            connection,
            &NewNotification {
                merchant_id,
                complaint_id: Some(complaint_id),
                webhook_id: None,
                user_id: Some(user_id),
                target: email,
                event: "complaint.received".to_owned(),
                payload: payload.clone(),
            },
            now,
        )?;
    }
    for webhook_id in &decision.webhooks {
        let url: Option<String> = connection
            .prepare_cached(
                "SELECT url FROM webhook_endpoints
                 WHERE id = ?1 AND merchant_id = ?2 AND enabled = 1",
            )?
            .query_row(params![webhook_id, merchant_id], |row| row.get(0))
            .optional()?;
        // A rule may still name an endpoint that was disabled since.
        let Some(url) = url else { continue };
        notifications::queue(
            connection,
            &NewNotification {
                merchant_id,
                complaint_id: Some(complaint_id),
                webhook_id: Some(*webhook_id),
                user_id: None,
                target: url,
                event: "complaint.received".to_owned(),
                payload: payload.clone(),
            },
            now,
        )?;
    }
    Ok(())
}

/// The team and the staff member the decision sends the complaint to. A
/// named person who is no longer an enabled agent or owner of the merchant,
/// or a team that is gone, falls back to the default team's queue.
fn resolve_target(
    connection: &Connection,
    merchant_id: i64,
    target: Target,
    now: i64,
) -> Result<(Option<i64>, Option<i64>), StoreError> {
    match target {
        Target::User { user_id } => {
            if can_work(connection, merchant_id, user_id)? {
                return Ok((None, Some(user_id)));
            }
        }
        Target::Team { team_id } => {
            let exists: Option<i64> = connection
                .prepare_cached("SELECT id FROM teams WHERE id = ?1 AND merchant_id = ?2")?
                .query_row(params![team_id, merchant_id], |row| row.get(0))
                .optional()?;
            if exists.is_some() {
                let member = pick_member(connection, merchant_id, team_id)?;
                return Ok((Some(team_id), member));
            }
        }
        Target::DefaultTeam => {}
    }
    // The default team is a shared queue: the complaint waits there for a
    // member to take it (a rule can assign within it instead).
    Ok((Some(default_team(connection, merchant_id, now)?), None))
}

fn can_work(connection: &Connection, merchant_id: i64, user_id: i64) -> Result<bool, StoreError> {
    Ok(connection
        .prepare_cached(
            "SELECT 1 FROM users WHERE id = ?1 AND merchant_id = ?2 AND disabled = 0
               AND role IN ('owner', 'agent')",
        )?
        .query_row(params![user_id, merchant_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The merchant's default team, created (empty) the first time it is needed.
fn default_team(connection: &Connection, merchant_id: i64, now: i64) -> Result<i64, StoreError> {
    let existing: Option<i64> = connection
        .prepare_cached("SELECT id FROM teams WHERE merchant_id = ?1 AND is_default = 1")?
        .query_row(params![merchant_id], |row| row.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    // A team the merchant already called "Everyone" becomes the default.
    let named: Option<i64> = connection
        .prepare_cached("SELECT id FROM teams WHERE merchant_id = ?1 AND name = ?2")?
        .query_row(params![merchant_id, DEFAULT_TEAM_NAME], |row| row.get(0))
        .optional()?;
    if let Some(id) = named {
        execute_cached(
            connection,
            "UPDATE teams SET is_default = 1 WHERE id = ?1",
            params![id],
        )?;
        return Ok(id);
    }
    execute_cached(
        connection,
        "INSERT INTO teams (merchant_id, name, strategy, is_default, created_at)
         VALUES (?1, ?2, 'round_robin', 1, ?3)",
        params![merchant_id, DEFAULT_TEAM_NAME, now],
    )?;
    Ok(connection.last_insert_rowid())
}

/// The eligible pool of `pick_member` as a common table expression over
/// (?1 team, ?2 merchant, ?3 is the default team): the team's members, or
/// every agent and owner for an empty default team.
const POOL: &str = "WITH members AS (
        SELECT u.id FROM team_members m JOIN users u ON u.id = m.user_id
        WHERE m.team_id = ?1 AND u.merchant_id = ?2 AND u.disabled = 0
          AND u.role IN ('owner', 'agent')
    ), pool AS (
        SELECT id FROM members
        UNION ALL
        SELECT id FROM users
        WHERE ?3 AND merchant_id = ?2 AND disabled = 0 AND role IN ('owner', 'agent')
          AND NOT EXISTS (SELECT 1 FROM team_members WHERE team_id = ?1)
    )";

/// The least-loaded member of [`POOL`]: the fewest open complaints assigned,
/// ties to the lowest id. A complaint in the spam folder — suspected at
/// intake, or marked by staff, which keeps its assignee — is nobody's
/// work and does not count. The count reads `complaints_merchant_assignee`
/// alone, which holds `spam` for it (migration 0019).
fn least_loaded_sql() -> String {
    format!(
        "{POOL} SELECT pool.id FROM pool
         ORDER BY (SELECT count(*) FROM complaints c
                   WHERE c.merchant_id = ?2 AND c.assignee_user_id = pool.id
                     AND c.status NOT IN ('resolved', 'closed') AND c.spam IS NULL), pool.id
         LIMIT 1"
    )
}

/// The member who gets the next complaint, chosen in SQL inside the
/// complaint's transaction so that two complaints in one batch see each
/// other's assignment. Only enabled agents and owners are eligible; the
/// default team with no members shares work among all of them.
fn pick_member(
    connection: &Connection,
    merchant_id: i64,
    team_id: i64,
) -> Result<Option<i64>, StoreError> {
    let (strategy, is_default, last): (String, bool, Option<i64>) = connection
        .prepare_cached(
            "SELECT strategy, is_default, last_assigned_user_id FROM teams
             WHERE id = ?1 AND merchant_id = ?2",
        )?
        .query_row(params![team_id, merchant_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    let chosen: Option<i64> = match Strategy::parse(&strategy)? {
        Strategy::RoundRobin => connection
            .prepare_cached(&format!(
                "{POOL} SELECT id FROM pool ORDER BY id <= ?4, id LIMIT 1"
            ))?
            .query_row(
                params![team_id, merchant_id, is_default, last.unwrap_or(0)],
                |row| row.get(0),
            )
            .optional()?,
        Strategy::LeastLoaded => connection
            .prepare_cached(&least_loaded_sql())?
            .query_row(params![team_id, merchant_id, is_default], |row| row.get(0))
            .optional()?,
    };
    if let Some(user_id) = chosen {
        execute_cached(
            connection,
            "UPDATE teams SET last_assigned_user_id = ?2 WHERE id = ?1",
            params![team_id, user_id],
        )?;
    }
    Ok(chosen)
}

/// The staff to email, without repeats: enabled members of the merchant only.
fn recipients(
    connection: &Connection,
    merchant_id: i64,
    notify: &[Recipient],
    assignee: Option<i64>,
) -> Result<Vec<i64>, StoreError> {
    let mut users: Vec<i64> = Vec::new();
    let mut add = |ids: Vec<i64>| {
        for id in ids {
            if !users.contains(&id) {
                users.push(id);
            }
        }
    };
    for recipient in notify {
        let ids: Vec<i64> = match *recipient {
            Recipient::Owners => ids(
                connection,
                "SELECT id FROM users WHERE merchant_id = ?1 AND role = 'owner' AND disabled = 0
                 ORDER BY id",
                params![merchant_id],
            )?,
            Recipient::Assignee => assignee.into_iter().collect(),
            Recipient::User { user_id } => ids(
                connection,
                "SELECT id FROM users WHERE merchant_id = ?1 AND id = ?2 AND disabled = 0",
                params![merchant_id, user_id],
            )?,
            Recipient::Team { team_id } => ids(
                connection,
                "SELECT u.id FROM team_members m JOIN teams t ON t.id = m.team_id
                 JOIN users u ON u.id = m.user_id
                 WHERE t.id = ?2 AND t.merchant_id = ?1 AND u.merchant_id = ?1
                   AND u.disabled = 0 ORDER BY u.id",
                params![merchant_id, team_id],
            )?,
        };
        add(ids);
    }
    Ok(users)
}

/// Runs one statement through the connection's statement cache: intake
/// routes every complaint with the same few statements.
fn execute_cached(
    connection: &Connection,
    sql: &str,
    parameters: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    Ok(connection.prepare_cached(sql)?.execute(parameters)?)
}

/// The ids `sql` selects (first column).
pub(super) fn ids(
    connection: &Connection,
    sql: &str,
    parameters: impl rusqlite::Params,
) -> Result<Vec<i64>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    let rows = statement.query_map(parameters, |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn event(
    connection: &Connection,
    complaint_id: i64,
    at: i64,
    kind: &str,
    data: &serde_json::Value,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO complaint_events (complaint_id, at, actor_user_id, kind, public, body, data)
             VALUES (?1, ?2, NULL, ?3, 0, NULL, ?4)",
        )?
        .execute(params![complaint_id, at, kind, data.to_string()])?;
    Ok(())
}

/// The notification's body: facts about the complaint and what routing did
/// — never the shopper's words or contact details, which stay in the inbox.
#[allow(clippy::too_many_arguments)]
fn payload(
    connection: &Connection,
    merchant_id: i64,
    reference: &str,
    site_name: &str,
    complaint: &NewComplaint,
    facts: &Facts,
    decision: &Decision,
    rules: &[Rule],
    team_id: Option<i64>,
    assignee: Option<i64>,
) -> Result<serde_json::Value, StoreError> {
    let team = match team_id {
        Some(id) => connection
            .prepare_cached("SELECT name FROM teams WHERE id = ?1 AND merchant_id = ?2")?
            .query_row(params![id, merchant_id], |row| row.get::<_, String>(0))
            .optional()?
            .map(|name| serde_json::json!({ "id": id, "name": name })),
        None => None,
    };
    let assignee = match assignee {
        Some(id) => connection
            .prepare_cached("SELECT display_name FROM users WHERE id = ?1 AND merchant_id = ?2")?
            .query_row(params![id, merchant_id], |row| row.get::<_, String>(0))
            .optional()?
            .map(|name| serde_json::json!({ "id": id, "name": name })),
        None => None,
    };
    let matched: Vec<serde_json::Value> = rules
        .iter()
        .filter(|rule| decision.matched.contains(&rule.id))
        .map(|rule| serde_json::json!({ "id": rule.id, "name": rule.name }))
        .collect();
    Ok(serde_json::json!({
        "type": "complaint.received",
        "timestamp": crate::clock::rfc3339(complaint.created_at),
        "data": {
            "reference": reference,
            "site": { "key": facts.site_key, "name": site_name },
            "category": complaint.category,
            "category_label": complaint.category_label,
            "value_orientation": complaint.value_orientation,
            "severity": complaint.severity.map(Severity::as_str),
            "mood": complaint.mood.map(Mood::as_str),
            "outcomes": complaint.outcomes,
            "language": complaint.language,
            "contact_given": facts.contact_given,
            "safety": decision.safety,
            "priority": decision.priority.map(Priority::as_str),
            "escalated": decision.escalate,
            "team": team,
            "assignee": assignee,
            "tags": decision.tags,
            "rules": matched,
            "received_at": crate::clock::rfc3339(complaint.created_at),
        }
    }))
}

// --- rules -------------------------------------------------------------------

thread_local! {
    /// The rules read during the writer's current batch, per merchant:
    /// `None` outside a batch (and on every other thread), so nothing is
    /// kept across transactions. A job that writes rules forgets them, and
    /// so does the writer after a job that failed.
    static BATCH_RULES: RefCell<Option<HashMap<i64, Rc<Vec<Rule>>>>> =
        const { RefCell::new(None) };
}

/// The writer opens a batch (or starts it over after a failed job).
pub(super) fn open_batch_rules() {
    BATCH_RULES.with_borrow_mut(|rules| *rules = Some(HashMap::new()));
}

/// The writer's batch has ended.
pub(super) fn close_batch_rules() {
    BATCH_RULES.with_borrow_mut(|rules| *rules = None);
}

/// Forgets the batch's rules after a change to them.
fn forget_batch_rules() {
    BATCH_RULES.with_borrow_mut(|rules| {
        if let Some(rules) = rules {
            rules.clear();
        }
    });
}

/// The merchant's rules, read once per writer batch: intake routes every
/// complaint of a batch with them.
fn batch_rules(connection: &Connection, merchant_id: i64) -> Result<Rc<Vec<Rule>>, StoreError> {
    if let Some(kept) = BATCH_RULES.with_borrow(|rules| rules.as_ref()?.get(&merchant_id).cloned())
    {
        return Ok(kept);
    }
    let read = Rc::new(rules(connection, merchant_id)?);
    BATCH_RULES.with_borrow_mut(|rules| {
        if let Some(rules) = rules {
            rules.insert(merchant_id, Rc::clone(&read));
        }
    });
    Ok(read)
}

/// The merchant's rules in order.
pub(super) fn rules(connection: &Connection, merchant_id: i64) -> Result<Vec<Rule>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT id, name, enabled, stop, conditions, actions FROM routing_rules
         WHERE merchant_id = ?1 ORDER BY position, id",
    )?;
    let rows = statement.query_map(params![merchant_id], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, bool>(2)?,
            row.get::<_, bool>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, String>(5)?,
        ))
    })?;
    let mut rules = Vec::new();
    for row in rows {
        let (id, name, enabled, stop, conditions, actions) = row?;
        rules.push(Rule {
            id,
            name,
            enabled,
            stop,
            conditions: from_json::<Conditions>(&conditions)?,
            actions: from_json::<Actions>(&actions)?,
        });
    }
    Ok(rules)
}

/// Every id a rule names must be the merchant's own.
fn check_references(
    connection: &Connection,
    merchant_id: i64,
    actions: &Actions,
) -> Result<Option<Refused>, StoreError> {
    let exists = |sql: &str, id: i64| -> Result<bool, StoreError> {
        Ok(connection
            .prepare_cached(sql)?
            .query_row(params![id, merchant_id], |_| Ok(()))
            .optional()?
            .is_some())
    };
    const TEAM: &str = "SELECT 1 FROM teams WHERE id = ?1 AND merchant_id = ?2";
    const USER: &str = "SELECT 1 FROM users WHERE id = ?1 AND merchant_id = ?2";
    const WEBHOOK: &str = "SELECT 1 FROM webhook_endpoints WHERE id = ?1 AND merchant_id = ?2";
    match actions.assign {
        Some(Assign::Team { team_id }) if !exists(TEAM, team_id)? => {
            return Ok(Some(Refused::Unknown {
                field: "actions.assign.team_id",
                id: team_id,
            }));
        }
        Some(Assign::User { user_id }) if !exists(USER, user_id)? => {
            return Ok(Some(Refused::Unknown {
                field: "actions.assign.user_id",
                id: user_id,
            }));
        }
        _ => {}
    }
    for recipient in &actions.notify {
        match *recipient {
            Recipient::Team { team_id } if !exists(TEAM, team_id)? => {
                return Ok(Some(Refused::Unknown {
                    field: "actions.notify",
                    id: team_id,
                }));
            }
            Recipient::User { user_id } if !exists(USER, user_id)? => {
                return Ok(Some(Refused::Unknown {
                    field: "actions.notify",
                    id: user_id,
                }));
            }
            _ => {}
        }
    }
    for webhook_id in &actions.webhooks {
        if !exists(WEBHOOK, *webhook_id)? {
            return Ok(Some(Refused::Unknown {
                field: "actions.webhooks",
                id: *webhook_id,
            }));
        }
    }
    Ok(None)
}

fn insert_rule(
    connection: &Connection,
    merchant_id: i64,
    input: &RuleInput,
    now: i64,
) -> Result<Result<Rule, Refused>, StoreError> {
    let count: i64 = connection.query_row(
        "SELECT count(*) FROM routing_rules WHERE merchant_id = ?1",
        params![merchant_id],
        |row| row.get(0),
    )?;
    if count as usize >= routing::MAX_RULES {
        return Ok(Err(Refused::TooMany {
            max: routing::MAX_RULES,
        }));
    }
    if let Some(refused) = check_references(connection, merchant_id, &input.actions)? {
        return Ok(Err(refused));
    }
    connection.execute(
        "INSERT INTO routing_rules
            (merchant_id, position, name, enabled, conditions, actions, stop, created_at, updated_at)
         VALUES (?1, (SELECT coalesce(max(position), 0) + 1 FROM routing_rules WHERE merchant_id = ?1),
                 ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            merchant_id,
            input.name.trim(),
            input.enabled,
            to_json(&input.conditions)?,
            to_json(&input.actions)?,
            input.matching == routing::Matching::First,
            now
        ],
    )?;
    let id = connection.last_insert_rowid();
    rule_by_id(connection, merchant_id, id).map(|rule| rule.ok_or(Refused::NotFound))
}

fn update_rule(
    connection: &Connection,
    merchant_id: i64,
    id: i64,
    input: &RuleInput,
    now: i64,
) -> Result<Result<Rule, Refused>, StoreError> {
    if let Some(refused) = check_references(connection, merchant_id, &input.actions)? {
        return Ok(Err(refused));
    }
    let changed = connection.execute(
        "UPDATE routing_rules SET name = ?3, enabled = ?4, conditions = ?5, actions = ?6,
            stop = ?7, updated_at = ?8
         WHERE id = ?1 AND merchant_id = ?2",
        params![
            id,
            merchant_id,
            input.name.trim(),
            input.enabled,
            to_json(&input.conditions)?,
            to_json(&input.actions)?,
            input.matching == routing::Matching::First,
            now
        ],
    )?;
    if changed == 0 {
        return Ok(Err(Refused::NotFound));
    }
    rule_by_id(connection, merchant_id, id).map(|rule| rule.ok_or(Refused::NotFound))
}

fn rule_by_id(
    connection: &Connection,
    merchant_id: i64,
    id: i64,
) -> Result<Option<Rule>, StoreError> {
    Ok(rules(connection, merchant_id)?
        .into_iter()
        .find(|rule| rule.id == id))
}

/// Puts the merchant's rules in the order of `ids`, which must name each
/// of them exactly once.
fn reorder_rules(
    connection: &Connection,
    merchant_id: i64,
    ids: &[i64],
) -> Result<Result<Vec<Rule>, Refused>, StoreError> {
    let mut current: Vec<i64> = rules(connection, merchant_id)?
        .iter()
        .map(|rule| rule.id)
        .collect();
    let mut wanted = ids.to_vec();
    current.sort_unstable();
    wanted.sort_unstable();
    if current != wanted {
        return Ok(Err(Refused::IncompleteOrder));
    }
    let mut update = connection.prepare_cached(
        "UPDATE routing_rules SET position = ?3 WHERE id = ?1 AND merchant_id = ?2",
    )?;
    for (position, id) in ids.iter().enumerate() {
        update.execute(params![id, merchant_id, position as i64 + 1])?;
    }
    Ok(Ok(rules(connection, merchant_id)?))
}

// --- teams ---------------------------------------------------------------------

fn teams(connection: &Connection, merchant_id: i64) -> Result<Vec<Team>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT id, name, strategy, is_default FROM teams WHERE merchant_id = ?1 ORDER BY name, id",
    )?;
    let rows = statement.query_map(params![merchant_id], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, bool>(3)?,
        ))
    })?;
    let mut teams = Vec::new();
    for row in rows {
        let (id, name, strategy, is_default) = row?;
        teams.push(Team {
            id,
            name,
            strategy: Strategy::parse(&strategy)?,
            is_default,
            members: members(connection, id)?,
        });
    }
    Ok(teams)
}

fn members(connection: &Connection, team_id: i64) -> Result<Vec<TeamMember>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT u.id, u.display_name, m.is_lead FROM team_members m JOIN users u ON u.id = m.user_id
         WHERE m.team_id = ?1 ORDER BY u.display_name, u.id",
    )?;
    let rows = statement.query_map(params![team_id], |row| {
        Ok(TeamMember {
            user_id: row.get(0)?,
            display_name: row.get(1)?,
            is_lead: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn team(connection: &Connection, merchant_id: i64, id: i64) -> Result<Option<Team>, StoreError> {
    Ok(teams(connection, merchant_id)?
        .into_iter()
        .find(|team| team.id == id))
}

fn save_team(
    connection: &Connection,
    merchant_id: i64,
    id: Option<i64>,
    input: &TeamInput,
    now: i64,
) -> Result<Result<Team, Refused>, StoreError> {
    let name = input.name.trim();
    let clash: Option<i64> = connection
        .prepare_cached("SELECT id FROM teams WHERE merchant_id = ?1 AND name = ?2")?
        .query_row(params![merchant_id, name], |row| row.get(0))
        .optional()?;
    if clash.is_some_and(|other| Some(other) != id) {
        return Ok(Err(Refused::DuplicateName));
    }
    if input.is_default {
        connection.execute(
            "UPDATE teams SET is_default = 0 WHERE merchant_id = ?1",
            params![merchant_id],
        )?;
    }
    let id = match id {
        Some(id) => {
            let changed = connection.execute(
                "UPDATE teams SET name = ?3, strategy = ?4,
                    is_default = CASE WHEN ?5 THEN 1 ELSE is_default END
                 WHERE id = ?1 AND merchant_id = ?2",
                params![
                    id,
                    merchant_id,
                    name,
                    input.strategy.as_str(),
                    input.is_default
                ],
            )?;
            if changed == 0 {
                return Ok(Err(Refused::NotFound));
            }
            id
        }
        None => {
            let count: i64 = connection.query_row(
                "SELECT count(*) FROM teams WHERE merchant_id = ?1",
                params![merchant_id],
                |row| row.get(0),
            )?;
            if count as usize >= MAX_TEAMS {
                return Ok(Err(Refused::TooMany { max: MAX_TEAMS }));
            }
            connection.execute(
                "INSERT INTO teams (merchant_id, name, strategy, is_default, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    merchant_id,
                    name,
                    input.strategy.as_str(),
                    input.is_default,
                    now
                ],
            )?;
            connection.last_insert_rowid()
        }
    };
    team(connection, merchant_id, id).map(|team| team.ok_or(Refused::NotFound))
}

/// Whether any rule of the merchant has actions for which `check` holds.
fn rules_mention(
    connection: &Connection,
    merchant_id: i64,
    check: impl Fn(&Actions) -> bool,
) -> Result<bool, StoreError> {
    Ok(rules(connection, merchant_id)?
        .iter()
        .any(|rule| check(&rule.actions)))
}

fn delete_team(
    connection: &Connection,
    merchant_id: i64,
    id: i64,
) -> Result<Result<(), Refused>, StoreError> {
    if team(connection, merchant_id, id)?.is_none() {
        return Ok(Err(Refused::NotFound));
    }
    let used = rules_mention(connection, merchant_id, |actions| {
        actions.assign == Some(Assign::Team { team_id: id })
            || actions.notify.contains(&Recipient::Team { team_id: id })
    })?;
    if used {
        return Ok(Err(Refused::InUse));
    }
    connection.execute("DELETE FROM team_members WHERE team_id = ?1", params![id])?;
    connection.execute(
        "UPDATE complaints SET team_id = NULL WHERE team_id = ?1 AND merchant_id = ?2",
        params![id, merchant_id],
    )?;
    connection.execute(
        "DELETE FROM teams WHERE id = ?1 AND merchant_id = ?2",
        params![id, merchant_id],
    )?;
    Ok(Ok(()))
}

fn put_member(
    connection: &Connection,
    merchant_id: i64,
    team_id: i64,
    user_id: i64,
    is_lead: bool,
    now: i64,
) -> Result<Result<Team, Refused>, StoreError> {
    let user_known: Option<i64> = connection
        .prepare_cached("SELECT id FROM users WHERE id = ?1 AND merchant_id = ?2")?
        .query_row(params![user_id, merchant_id], |row| row.get(0))
        .optional()?;
    if team(connection, merchant_id, team_id)?.is_none() || user_known.is_none() {
        return Ok(Err(Refused::NotFound));
    }
    connection.execute(
        "INSERT INTO team_members (team_id, user_id, is_lead, added_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (team_id, user_id) DO UPDATE SET is_lead = excluded.is_lead",
        params![team_id, user_id, is_lead, now],
    )?;
    team(connection, merchant_id, team_id).map(|team| team.ok_or(Refused::NotFound))
}

fn remove_member(
    connection: &Connection,
    merchant_id: i64,
    team_id: i64,
    user_id: i64,
) -> Result<Result<Team, Refused>, StoreError> {
    if team(connection, merchant_id, team_id)?.is_none() {
        return Ok(Err(Refused::NotFound));
    }
    let removed = connection.execute(
        "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2",
        params![team_id, user_id],
    )?;
    if removed == 0 {
        return Ok(Err(Refused::NotFound));
    }
    team(connection, merchant_id, team_id).map(|team| team.ok_or(Refused::NotFound))
}

// --- webhook endpoints ------------------------------------------------------

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<(Webhook, String)> {
    Ok((
        Webhook {
            id: row.get(0)?,
            name: row.get(1)?,
            url: row.get(2)?,
            format: WebhookFormat::Standard,
            allow_private: row.get(4)?,
            enabled: row.get(5)?,
            previous_secret_until: row.get(6)?,
        },
        row.get(3)?,
    ))
}

const WEBHOOK_COLUMNS: &str =
    "id, name, url, format, allow_private, enabled, previous_secret_until";

fn webhooks(connection: &Connection, merchant_id: i64) -> Result<Vec<Webhook>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints WHERE merchant_id = ?1 ORDER BY id"
    ))?;
    let rows = statement.query_map(params![merchant_id], webhook_from_row)?;
    let mut list = Vec::new();
    for row in rows {
        let (mut webhook, format) = row?;
        webhook.format = WebhookFormat::parse(&format)?;
        list.push(webhook);
    }
    Ok(list)
}

fn webhook(
    connection: &Connection,
    merchant_id: i64,
    id: i64,
) -> Result<Option<Webhook>, StoreError> {
    Ok(webhooks(connection, merchant_id)?
        .into_iter()
        .find(|webhook| webhook.id == id))
}

fn insert_webhook(
    connection: &Connection,
    merchant_id: i64,
    input: &WebhookInput,
    secret: &[u8; 32],
    now: i64,
) -> Result<Result<Webhook, Refused>, StoreError> {
    let count: i64 = connection.query_row(
        "SELECT count(*) FROM webhook_endpoints WHERE merchant_id = ?1",
        params![merchant_id],
        |row| row.get(0),
    )?;
    if count as usize >= MAX_WEBHOOKS {
        return Ok(Err(Refused::TooMany { max: MAX_WEBHOOKS }));
    }
    connection.execute(
        "INSERT INTO webhook_endpoints
            (merchant_id, name, url, format, allow_private, enabled, secret, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            merchant_id,
            input.name.trim(),
            input.url,
            input.format.as_str(),
            input.allow_private,
            input.enabled,
            secret.as_slice(),
            now
        ],
    )?;
    let id = connection.last_insert_rowid();
    webhook(connection, merchant_id, id).map(|webhook| webhook.ok_or(Refused::NotFound))
}

fn update_webhook(
    connection: &Connection,
    merchant_id: i64,
    id: i64,
    input: &WebhookInput,
    now: i64,
) -> Result<Result<Webhook, Refused>, StoreError> {
    let changed = connection.execute(
        "UPDATE webhook_endpoints SET name = ?3, url = ?4, format = ?5, allow_private = ?6,
            enabled = ?7, updated_at = ?8
         WHERE id = ?1 AND merchant_id = ?2",
        params![
            id,
            merchant_id,
            input.name.trim(),
            input.url,
            input.format.as_str(),
            input.allow_private,
            input.enabled,
            now
        ],
    )?;
    if changed == 0 {
        return Ok(Err(Refused::NotFound));
    }
    webhook(connection, merchant_id, id).map(|webhook| webhook.ok_or(Refused::NotFound))
}

/// A new signing secret; the old one keeps signing until `previous_until`.
fn rotate_webhook(
    connection: &Connection,
    merchant_id: i64,
    id: i64,
    secret: &[u8; 32],
    previous_until: i64,
    now: i64,
) -> Result<Result<Webhook, Refused>, StoreError> {
    let changed = connection.execute(
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = ?4,
            secret = ?3, updated_at = ?5
         WHERE id = ?1 AND merchant_id = ?2",
        params![id, merchant_id, secret.as_slice(), previous_until, now],
    )?;
    if changed == 0 {
        return Ok(Err(Refused::NotFound));
    }
    webhook(connection, merchant_id, id).map(|webhook| webhook.ok_or(Refused::NotFound))
}

fn delete_webhook(
    connection: &Connection,
    merchant_id: i64,
    id: i64,
) -> Result<Result<(), Refused>, StoreError> {
    if webhook(connection, merchant_id, id)?.is_none() {
        return Ok(Err(Refused::NotFound));
    }
    if rules_mention(connection, merchant_id, |actions| {
        actions.webhooks.contains(&id)
    })? {
        return Ok(Err(Refused::InUse));
    }
    connection.execute(
        "DELETE FROM webhook_endpoints WHERE id = ?1 AND merchant_id = ?2",
        params![id, merchant_id],
    )?;
    Ok(Ok(()))
}

fn site_key_exists(
    connection: &Connection,
    merchant_id: i64,
    site_key: &str,
) -> Result<bool, StoreError> {
    Ok(connection
        .prepare_cached("SELECT 1 FROM sites WHERE site_key = ?1 AND merchant_id = ?2")?
        .query_row(params![site_key, merchant_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Writes the audit entry of a routing change that was made; a refused
/// change leaves none. In the change's own job, so both commit together.
fn audited<T>(
    connection: &Connection,
    merchant_id: i64,
    actor: i64,
    now: i64,
    action: &'static str,
    result: Result<T, Refused>,
    detail: impl FnOnce(&T) -> serde_json::Value,
) -> Result<Result<T, Refused>, StoreError> {
    if let Ok(done) = &result {
        super::audit::record(
            connection,
            merchant_id,
            &super::AuditNote::new(Some(actor), action, detail(done)),
            now,
        )?;
    }
    Ok(result)
}

impl Store {
    /// Runs `change` in one writer job and, when it was made, its audit
    /// entry (`action`, `detail`) in the same job, so both commit together.
    async fn audited_change<T: Send + 'static>(
        &self,
        merchant_id: i64,
        actor: i64,
        now: i64,
        action: &'static str,
        change: impl FnOnce(&Connection) -> Result<Result<T, Refused>, StoreError> + Send + 'static,
        detail: impl FnOnce(&T) -> serde_json::Value + Send + 'static,
    ) -> Result<Result<T, Refused>, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                let result = change(connection)?;
                // Every change of a rule comes through here.
                forget_batch_rules();
                audited(connection, merchant_id, actor, now, action, result, detail)
            })
            .await
    }
}

/// Every change below takes the merchant, the acting staff member and the
/// time, and writes its audit entry in the same job.
impl Store {
    // --- routing rules ------------------------------------------------------

    pub async fn routing_rules(&self, merchant_id: i64) -> Result<Vec<Rule>, StoreError> {
        self.read(move |connection| rules(connection, merchant_id))
            .await
    }

    /// Whether `site_key` names one of the merchant's sites (dry runs).
    pub async fn merchant_has_site(
        &self,
        merchant_id: i64,
        site_key: &str,
    ) -> Result<bool, StoreError> {
        let site_key = site_key.to_owned();
        self.read(move |connection| site_key_exists(connection, merchant_id, &site_key))
            .await
    }

    /// Adds a rule at the end of the list. Check it with
    /// [`routing::check_rule`] first.
    pub async fn add_routing_rule(
        &self,
        merchant_id: i64,
        actor: i64,
        input: RuleInput,
        now: i64,
    ) -> Result<Result<Rule, Refused>, StoreError> {
        self.audited_change(
            merchant_id,
            actor,
            now,
            "routing.rule_created",
            move |connection| insert_rule(connection, merchant_id, &input, now),
            |rule| serde_json::json!({ "rule_id": rule.id, "name": rule.name }),
        )
        .await
    }

    pub async fn update_routing_rule(
        &self,
        merchant_id: i64,
        actor: i64,
        id: i64,
        input: RuleInput,
        now: i64,
    ) -> Result<Result<Rule, Refused>, StoreError> {
        self.audited_change(
            merchant_id,
            actor,
            now,
            "routing.rule_changed",
            move |connection| update_rule(connection, merchant_id, id, &input, now),
            |rule| serde_json::json!({ "rule_id": rule.id, "name": rule.name }),
        )
        .await
    }

    pub async fn delete_routing_rule(
        &self,
        merchant_id: i64,
        actor: i64,
        id: i64,
        now: i64,
    ) -> Result<Result<(), Refused>, StoreError> {
        self.audited_change(
            merchant_id,
            actor,
            now,
            "routing.rule_deleted",
            move |connection| {
                let deleted = connection.execute(
                    "DELETE FROM routing_rules WHERE id = ?1 AND merchant_id = ?2",
                    params![id, merchant_id],
                )? == 1;
                Ok(if deleted {
                    Ok(())
                } else {
                    Err(Refused::NotFound)
                })
            },
            move |()| serde_json::json!({ "rule_id": id }),
        )
        .await
    }

    pub async fn reorder_routing_rules(
        &self,
        merchant_id: i64,
        actor: i64,
        ids: Vec<i64>,
        now: i64,
    ) -> Result<Result<Vec<Rule>, Refused>, StoreError> {
        let detail = serde_json::json!({ "rule_ids": ids });
        self.audited_change(
            merchant_id,
            actor,
            now,
            "routing.rules_reordered",
            move |connection| reorder_rules(connection, merchant_id, &ids),
            |_| detail,
        )
        .await
    }

    // --- teams --------------------------------------------------------------

    pub async fn teams(&self, merchant_id: i64) -> Result<Vec<Team>, StoreError> {
        self.read(move |connection| teams(connection, merchant_id))
            .await
    }

    /// Creates a team (`id: None`) or changes one.
    pub async fn save_team(
        &self,
        merchant_id: i64,
        actor: i64,
        id: Option<i64>,
        input: TeamInput,
        now: i64,
    ) -> Result<Result<Team, Refused>, StoreError> {
        let action = if id.is_some() {
            "routing.team_changed"
        } else {
            "routing.team_created"
        };
        self.audited_change(
            merchant_id,
            actor,
            now,
            action,
            move |connection| save_team(connection, merchant_id, id, &input, now),
            |team| {
                serde_json::json!({
                    "team_id": team.id, "name": team.name,
                    "strategy": team.strategy.as_str(), "is_default": team.is_default,
                })
            },
        )
        .await
    }

    pub async fn delete_team(
        &self,
        merchant_id: i64,
        actor: i64,
        id: i64,
        now: i64,
    ) -> Result<Result<(), Refused>, StoreError> {
        self.audited_change(
            merchant_id,
            actor,
            now,
            "routing.team_deleted",
            move |connection| delete_team(connection, merchant_id, id),
            move |()| serde_json::json!({ "team_id": id }),
        )
        .await
    }

    pub async fn put_team_member(
        &self,
        merchant_id: i64,
        actor: i64,
        team_id: i64,
        user_id: i64,
        is_lead: bool,
        now: i64,
    ) -> Result<Result<Team, Refused>, StoreError> {
        self.audited_change(
            merchant_id,
            actor,
            now,
            "routing.team_member_set",
            move |connection| put_member(connection, merchant_id, team_id, user_id, is_lead, now),
            move |_| serde_json::json!({ "team_id": team_id, "user_id": user_id, "is_lead": is_lead }),
        )
        .await
    }

    pub async fn remove_team_member(
        &self,
        merchant_id: i64,
        actor: i64,
        team_id: i64,
        user_id: i64,
        now: i64,
    ) -> Result<Result<Team, Refused>, StoreError> {
        self.audited_change(
            merchant_id,
            actor,
            now,
            "routing.team_member_removed",
            move |connection| remove_member(connection, merchant_id, team_id, user_id),
            move |_| serde_json::json!({ "team_id": team_id, "user_id": user_id }),
        )
        .await
    }

    // --- webhook endpoints --------------------------------------------------

    pub async fn webhooks(&self, merchant_id: i64) -> Result<Vec<Webhook>, StoreError> {
        self.read(move |connection| webhooks(connection, merchant_id))
            .await
    }

    pub async fn add_webhook(
        &self,
        merchant_id: i64,
        actor: i64,
        input: WebhookInput,
        secret: [u8; 32],
        now: i64,
    ) -> Result<Result<Webhook, Refused>, StoreError> {
        self.audited_change(
            merchant_id,
            actor,
            now,
            "webhook.created",
            move |connection| insert_webhook(connection, merchant_id, &input, &secret, now),
            webhook_detail,
        )
        .await
    }

    pub async fn update_webhook(
        &self,
        merchant_id: i64,
        actor: i64,
        id: i64,
        input: WebhookInput,
        now: i64,
    ) -> Result<Result<Webhook, Refused>, StoreError> {
        self.audited_change(
            merchant_id,
            actor,
            now,
            "webhook.changed",
            move |connection| update_webhook(connection, merchant_id, id, &input, now),
            webhook_detail,
        )
        .await
    }

    /// A new signing secret; the old one keeps signing until `previous_until`.
    pub async fn rotate_webhook_secret(
        &self,
        merchant_id: i64,
        actor: i64,
        id: i64,
        secret: [u8; 32],
        previous_until: i64,
        now: i64,
    ) -> Result<Result<Webhook, Refused>, StoreError> {
        self.audited_change(
            merchant_id,
            actor,
            now,
            "webhook.secret_rotated",
            move |connection| {
                rotate_webhook(connection, merchant_id, id, &secret, previous_until, now)
            },
            webhook_detail,
        )
        .await
    }

    pub async fn delete_webhook(
        &self,
        merchant_id: i64,
        actor: i64,
        id: i64,
        now: i64,
    ) -> Result<Result<(), Refused>, StoreError> {
        self.audited_change(
            merchant_id,
            actor,
            now,
            "webhook.deleted",
            move |connection| delete_webhook(connection, merchant_id, id),
            move |()| serde_json::json!({ "webhook_id": id }),
        )
        .await
    }

    /// The language a staff member reads notifications in (`None`: English).
    pub async fn set_staff_language(
        &self,
        merchant_id: i64,
        user_id: i64,
        language: Option<String>,
    ) -> Result<bool, StoreError> {
        self.inner
            .writer
            .run(move |connection| {
                Ok(connection.execute(
                    "UPDATE users SET language = ?3 WHERE id = ?1 AND merchant_id = ?2",
                    params![user_id, merchant_id, language],
                )? == 1)
            })
            .await
    }
}

/// What the audit log keeps of an endpoint: never its secret.
fn webhook_detail(webhook: &Webhook) -> serde_json::Value {
    serde_json::json!({
        "webhook_id": webhook.id, "name": webhook.name, "url": webhook.url,
        "format": webhook.format.as_str(), "allow_private": webhook.allow_private,
        "enabled": webhook.enabled,
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::store::{AuditNote, NewUser, Role, Store};

    /// A staff member of `merchant_id`; their id.
    pub async fn staff(store: &Store, merchant_id: i64, email: &str, role: Role) -> i64 {
        store
            .add_user(
                NewUser {
                    merchant_id,
                    email: email.to_owned(),
                    display_name: email.split('@').next().unwrap_or(email).to_owned(),
                    role,
                    password_hash: "not-a-real-hash".to_owned(),
                },
                AuditNote::new(None, "user.created", serde_json::json!({})),
                0,
            )
            .await
            .unwrap()
            .id
    }
}

#[cfg(test)]
mod tests {
    use heard_shared::Status;

    use super::fixtures::staff;
    use super::*;
    use crate::store::inbox_fixtures::{START, complaint, record, site};
    use crate::store::test_support::temp_store;
    use crate::store::{InboxAction, Role, SpamOutcome, SpamReason};

    /// Whom the audit log names for changes made here (it keeps only the id).
    const ACTOR: i64 = 1;

    async fn rule(store: &Store, merchant_id: i64, json: serde_json::Value) -> Rule {
        let input: RuleInput = serde_json::from_value(json).unwrap();
        routing::check_rule(&input).unwrap();
        store
            .add_routing_rule(merchant_id, ACTOR, input, START)
            .await
            .unwrap()
            .unwrap()
    }

    /// (assignee, team, priority, escalated) of the complaint.
    async fn routed(store: &Store, reference: &str) -> (Option<i64>, Option<i64>, i64, bool) {
        let reference = reference.to_owned();
        store
            .read(move |connection| {
                Ok(connection.query_row(
                    "SELECT assignee_user_id, team_id, priority, escalated_at IS NOT NULL
                     FROM complaints WHERE reference = ?1",
                    params![reference],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )?)
            })
            .await
            .unwrap()
    }

    /// (kind, target, user_id, webhook_id, payload) of every outbox row.
    async fn outbox(store: &Store) -> Vec<(String, String, Option<i64>, Option<i64>, String)> {
        store
            .read(|connection| {
                let mut statement = connection.prepare(
                    "SELECT kind, target, user_id, webhook_id, payload FROM notification_outbox
                     ORDER BY id",
                )?;
                let rows = statement.query_map([], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn with_no_setup_complaints_wait_in_the_default_teams_queue() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, site_id) = site(store, "Acme", "acme").await;
        staff(store, merchant, "owner@acme.example", Role::Owner).await;
        let reference = record(store, complaint(site_id, START, "The lid")).await;
        let (assignee, team, priority, escalated) = routed(store, &reference).await;
        let teams = store.teams(merchant).await.unwrap();
        assert_eq!(teams.len(), 1);
        assert_eq!(teams[0].name, DEFAULT_TEAM_NAME);
        assert!(teams[0].is_default);
        assert_eq!(team, Some(teams[0].id));
        assert_eq!(assignee, None, "waits for a member to take it");
        assert_eq!(priority, 100 + 10, "inconvenience + calm, untouched");
        assert!(!escalated);
        assert!(
            outbox(store).await.is_empty(),
            "nothing to notify by default"
        );
        let detail = store
            .inbox_complaint(merchant, &reference, START)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            detail.timeline.len(),
            1,
            "only 'received': nobody was assigned"
        );
    }

    #[tokio::test]
    async fn a_rule_shares_work_round_robin_and_an_empty_default_team_means_every_agent_and_owner()
    {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, site_id) = site(store, "Acme", "acme").await;
        let owner = staff(store, merchant, "owner@acme.example", Role::Owner).await;
        let agent = staff(store, merchant, "agent@acme.example", Role::Agent).await;
        staff(store, merchant, "viewer@acme.example", Role::Viewer).await;
        let default = store
            .save_team(
                merchant,
                ACTOR,
                None,
                TeamInput {
                    name: "Front desk".to_owned(),
                    strategy: Strategy::RoundRobin,
                    is_default: true,
                },
                START,
            )
            .await
            .unwrap()
            .unwrap();
        rule(
            store,
            merchant,
            serde_json::json!({"name": "Share", "actions": {"assign": {"kind": "team", "team_id": default.id}}}),
        )
        .await;
        let mut assignees = Vec::new();
        for minute in 0..4 {
            let reference = record(
                store,
                complaint(site_id, START + minute * 60_000, "The lid"),
            )
            .await;
            let (assignee, team, _, _) = routed(store, &reference).await;
            assert_eq!(team, Some(default.id));
            assignees.push(assignee.unwrap());
        }
        assert_eq!(
            assignees,
            [owner, agent, owner, agent],
            "viewers get no work"
        );
        let reference = record(store, complaint(site_id, START, "Timeline")).await;
        let detail = store
            .inbox_complaint(merchant, &reference, START)
            .await
            .unwrap()
            .unwrap();
        let kinds: Vec<&str> = detail
            .timeline
            .iter()
            .map(|event| event.kind.as_str())
            .collect();
        assert_eq!(kinds, ["received", "assigned"]);
        assert_eq!(
            store.teams(merchant).await.unwrap().len(),
            1,
            "no second default"
        );
    }

    #[tokio::test]
    async fn a_safety_complaint_is_urgent_and_queues_email_to_every_owner_without_the_shoppers_words()
     {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, site_id) = site(store, "Dairy", "dairy").await;
        let first = staff(store, merchant, "first@dairy.example", Role::Owner).await;
        let second = staff(store, merchant, "second@dairy.example", Role::Owner).await;
        staff(store, merchant, "agent@dairy.example", Role::Agent).await;
        // Another merchant's owner must never hear of it.
        let (other, _) = site(store, "Other", "other").await;
        staff(store, other, "owner@other.example", Role::Owner).await;

        let mut sick = complaint(site_id, START, "My child was sick after the yoghurt");
        sick.category = "safety".to_owned();
        sick.value_orientation = Some("safety".to_owned());
        sick.urgent = true;
        sick.contact_email = Some("parent@example.com".to_owned());
        let reference = record(store, sick).await;
        let (_, _, priority, _) = routed(store, &reference).await;
        assert!(priority >= 1000, "{priority}");

        let rows = outbox(store).await;
        let recipients: Vec<(String, Option<i64>)> = rows
            .iter()
            .map(|(kind, target, user, _, _)| {
                assert_eq!(kind, "email");
                (target.clone(), *user)
            })
            .collect();
        assert_eq!(
            recipients,
            [
                ("first@dairy.example".to_owned(), Some(first)),
                ("second@dairy.example".to_owned(), Some(second)),
            ]
        );
        let payload: serde_json::Value = serde_json::from_str(&rows[0].4).unwrap();
        assert_eq!(payload["data"]["reference"], reference.as_str());
        assert_eq!(payload["data"]["safety"], true);
        assert_eq!(payload["data"]["priority"], "urgent");
        assert!(!rows[0].4.contains("yoghurt"), "{}", rows[0].4);
        assert!(!rows[0].4.contains("parent@"), "{}", rows[0].4);
    }

    #[tokio::test]
    async fn rules_assign_least_loaded_tag_prioritise_escalate_and_call_webhooks() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, site_id) = site(store, "Acme", "acme").await;
        let owner = staff(store, merchant, "owner@acme.example", Role::Owner).await;
        let busy = staff(store, merchant, "busy@acme.example", Role::Agent).await;
        let free = staff(store, merchant, "free@acme.example", Role::Agent).await;
        let team = least_loaded_team(store, merchant, &[busy, free]).await;
        let hook = store
            .add_webhook(
                merchant,
                ACTOR,
                WebhookInput {
                    name: "Slack".to_owned(),
                    url: "https://hooks.example.com/x".to_owned(),
                    format: WebhookFormat::Slack,
                    allow_private: false,
                    enabled: true,
                },
                [7; 32],
                START,
            )
            .await
            .unwrap()
            .unwrap();
        rule(
            store,
            merchant,
            serde_json::json!({
                "name": "Late parcels", "matching": "continue",
                "conditions": {"keywords": ["parcel"]},
                "actions": {"assign": {"kind": "team", "team_id": team.id}, "priority": "high",
                            "tags": ["delivery"], "webhooks": [hook.id],
                            "notify": [{"kind": "assignee"}]}
            }),
        )
        .await;
        rule(
            store,
            merchant,
            serde_json::json!({
                "name": "Furious", "conditions": {"moods": ["furious"]},
                "actions": {"escalate": true, "tags": ["angry"]}
            }),
        )
        .await;
        // `busy` already has two open complaints; a resolved one does not count.
        for (index, description) in ["one", "two", "three"].into_iter().enumerate() {
            let reference = record(store, complaint(site_id, START, description)).await;
            store
                .inbox_act(
                    merchant,
                    owner,
                    &reference,
                    InboxAction::Assign(Some(busy)),
                    START,
                )
                .await
                .unwrap();
            if index == 2 {
                store
                    .inbox_act(
                        merchant,
                        owner,
                        &reference,
                        InboxAction::SetStatus {
                            to: Status::Resolved,
                            allowed_from: Status::ALL.to_vec(),
                        },
                        START,
                    )
                    .await
                    .unwrap();
            }
        }
        let mut late = complaint(site_id, START, "The PARCEL never came");
        late.mood = Some(Mood::Furious);
        let reference = record(store, late).await;
        let (assignee, routed_team, priority, escalated) = routed(store, &reference).await;
        assert_eq!(assignee, Some(free));
        assert_eq!(routed_team, Some(team.id));
        assert_eq!(priority, 500 + 100 + 40, "high + inconvenience + furious");
        assert!(escalated);
        let detail = store
            .inbox_complaint(merchant, &reference, START)
            .await
            .unwrap()
            .unwrap();
        let tags = serde_json::to_value(&detail).unwrap()["tags"].clone();
        assert_eq!(tags, serde_json::json!(["angry", "delivery"]));

        let rows = outbox(store).await;
        let kinds: Vec<(&str, &str)> = rows
            .iter()
            .map(|(kind, target, ..)| (kind.as_str(), target.as_str()))
            .collect();
        // The assignee (rule 1), the owners (escalation), then the webhook.
        assert_eq!(
            kinds,
            [
                ("email", "free@acme.example"),
                ("email", "owner@acme.example"),
                ("webhook", "https://hooks.example.com/x"),
            ]
        );
        let payload: serde_json::Value = serde_json::from_str(&rows[2].4).unwrap();
        assert_eq!(payload["data"]["team"]["name"], "Couriers");
        assert_eq!(payload["data"]["assignee"]["id"], free);
        assert_eq!(payload["data"]["rules"][1]["name"], "Furious");
    }

    /// A least-loaded team "Couriers" of `members`.
    async fn least_loaded_team(store: &Store, merchant: i64, members: &[i64]) -> Team {
        let team = store
            .save_team(
                merchant,
                ACTOR,
                None,
                TeamInput {
                    name: "Couriers".to_owned(),
                    strategy: Strategy::LeastLoaded,
                    is_default: false,
                },
                START,
            )
            .await
            .unwrap()
            .unwrap();
        for &member in members {
            store
                .put_team_member(merchant, ACTOR, team.id, member, false, START)
                .await
                .unwrap()
                .unwrap();
        }
        team
    }

    /// A least-loaded team of `members` that a rule sends every complaint
    /// mentioning "parcel" to.
    async fn least_loaded_parcel_team(store: &Store, merchant: i64, members: &[i64]) -> i64 {
        let team = least_loaded_team(store, merchant, members).await;
        rule(
            store,
            merchant,
            serde_json::json!({
                "name": "Parcels", "conditions": {"keywords": ["parcel"]},
                "actions": {"assign": {"kind": "team", "team_id": team.id}}
            }),
        )
        .await;
        team.id
    }

    #[tokio::test]
    async fn spam_assigned_to_someone_is_not_their_load_for_least_loaded_routing() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, site_id) = site(store, "Acme", "acme").await;
        let owner = staff(store, merchant, "owner@acme.example", Role::Owner).await;
        let busy = staff(store, merchant, "busy@acme.example", Role::Agent).await;
        let spammed = staff(store, merchant, "spammed@acme.example", Role::Agent).await;
        let team = least_loaded_parcel_team(store, merchant, &[busy, spammed]).await;
        let assign = |reference: String, to: i64| async move {
            store
                .inbox_act(
                    merchant,
                    owner,
                    &reference,
                    InboxAction::Assign(Some(to)),
                    START,
                )
                .await
                .unwrap();
            reference
        };
        // `busy` has one real open complaint.
        let real = record(store, complaint(site_id, START, "The lid")).await;
        assign(real, busy).await;
        // `spammed` had three, which staff then marked as spam (they keep
        // their assignee), and one suspected at intake was assigned to them.
        for description in ["Cheap pills", "Win a prize", "Click here"] {
            let reference = record(store, complaint(site_id, START, description)).await;
            let reference = assign(reference, spammed).await;
            let marked = store
                .mark_spam(merchant, owner, &reference, START)
                .await
                .unwrap();
            assert!(matches!(marked, SpamOutcome::Done(_)), "{marked:?}");
        }
        let mut suspected = complaint(site_id, START, "Buy followers");
        suspected.spam = Some(SpamReason::TooFast);
        assign(record(store, suspected).await, spammed).await;
        let spam_assigned: i64 = store
            .read(move |connection| {
                Ok(connection.query_row(
                    "SELECT count(*) FROM complaints
                     WHERE assignee_user_id = ?1 AND spam IS NOT NULL
                       AND status NOT IN ('resolved', 'closed')",
                    params![spammed],
                    |row| row.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(spam_assigned, 4, "the spam is open and still assigned");

        let reference = record(store, complaint(site_id, START, "My parcel is lost")).await;
        let (assignee, routed_team, ..) = routed(store, &reference).await;
        assert_eq!(routed_team, Some(team));
        assert_eq!(
            assignee,
            Some(spammed),
            "no real work beats one open complaint"
        );
        // Then `busy` and `spammed` are even, and the tie goes to the first.
        let reference = record(store, complaint(site_id, START, "Another parcel")).await;
        assert_eq!(routed(store, &reference).await.0, Some(busy));
    }

    #[tokio::test]
    async fn the_least_loaded_count_is_a_search_of_one_covering_index() {
        let temp = temp_store();
        let store = &temp.store;
        let plan: Vec<String> = store
            .read(|connection| {
                let mut statement =
                    connection.prepare(&format!("EXPLAIN QUERY PLAN {}", least_loaded_sql()))?;
                let rows = statement.query_map(params![1, 1, true], |row| row.get(3))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        // The count per member is one range of the index, with no row read.
        let counts: Vec<&str> = plan
            .iter()
            .map(String::as_str)
            .filter(|line| line.contains("complaints"))
            .collect();
        assert_eq!(
            counts,
            [
                "SEARCH c USING COVERING INDEX complaints_merchant_assignee \
              (merchant_id=? AND assignee_user_id=?)"
            ],
            "{plan:#?}"
        );
    }

    #[tokio::test]
    async fn a_complaint_that_is_refused_leaves_no_notification_behind() {
        let temp = temp_store();
        let store = &temp.store;
        let (merchant, site_id) = site(store, "Dairy", "dairy").await;
        staff(store, merchant, "owner@dairy.example", Role::Owner).await;
        let mut sick = complaint(site_id, START, "Sick");
        sick.urgent = true;
        sick.attachments = vec!["no-such-photo".to_owned()];
        assert!(store.record_complaint(sick).await.is_err());
        assert!(outbox(store).await.is_empty());
        assert!(store.teams(merchant).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn rules_cannot_name_another_merchants_team_staff_or_webhook() {
        let temp = temp_store();
        let store = &temp.store;
        let (acme, _) = site(store, "Acme", "acme").await;
        let (other, _) = site(store, "Other", "other").await;
        let stranger = staff(store, other, "owner@other.example", Role::Owner).await;
        let their_team = store
            .save_team(
                other,
                ACTOR,
                None,
                TeamInput {
                    name: "Theirs".to_owned(),
                    strategy: Strategy::RoundRobin,
                    is_default: false,
                },
                START,
            )
            .await
            .unwrap()
            .unwrap();
        for (actions, field) in [
            (
                serde_json::json!({"assign": {"kind": "team", "team_id": their_team.id}}),
                "actions.assign.team_id",
            ),
            (
                serde_json::json!({"assign": {"kind": "user", "user_id": stranger}}),
                "actions.assign.user_id",
            ),
            (
                serde_json::json!({"notify": [{"kind": "team", "team_id": their_team.id}]}),
                "actions.notify",
            ),
            (serde_json::json!({"webhooks": [999]}), "actions.webhooks"),
        ] {
            let input: RuleInput =
                serde_json::from_value(serde_json::json!({"name": "x", "actions": actions}))
                    .unwrap();
            let refused = store
                .add_routing_rule(acme, ACTOR, input, START)
                .await
                .unwrap();
            assert!(
                matches!(refused, Err(Refused::Unknown { field: found, .. }) if found == field),
                "{refused:?}"
            );
        }
        assert!(store.teams(acme).await.unwrap().is_empty());
        assert_eq!(
            store
                .delete_team(acme, ACTOR, their_team.id, START)
                .await
                .unwrap(),
            Err(Refused::NotFound)
        );
    }

    #[tokio::test]
    async fn rules_keep_their_order_and_reordering_must_name_every_rule() {
        let temp = temp_store();
        let store = &temp.store;
        let (acme, _) = site(store, "Acme", "acme").await;
        let first = rule(store, acme, serde_json::json!({"name": "first"})).await;
        let second = rule(store, acme, serde_json::json!({"name": "second"})).await;
        let names = |rules: Vec<Rule>| rules.into_iter().map(|rule| rule.name).collect::<Vec<_>>();
        assert_eq!(
            names(store.routing_rules(acme).await.unwrap()),
            ["first", "second"]
        );
        let reordered = store
            .reorder_routing_rules(acme, ACTOR, vec![second.id, first.id], START)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(names(reordered), ["second", "first"]);
        assert_eq!(
            store
                .reorder_routing_rules(acme, ACTOR, vec![second.id], START)
                .await
                .unwrap(),
            Err(Refused::IncompleteOrder)
        );
    }
}
