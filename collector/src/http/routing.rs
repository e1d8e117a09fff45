//! The routing API: rules (list, create, change, delete, reorder, dry run)
//! and teams with their members.
//!
//! Owners only: every handler takes [`Staff`] (session + CSRF) and requires
//! the owner role. Everything is looked up within the signed-in merchant, so
//! another merchant's rule or team answers 404 like one that does not exist.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use heard_shared::{FieldError, Mood, Outcome, Severity};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use super::staff::Staff;
use crate::domain::routing::{
    self, Actions, Conditions, Decision, Facts, Matching, Priority, Recipient, Rule, RuleInput,
    Target,
};
use crate::store::{Refused, Role, Strategy, Team, TeamInput};

/// Body limit of the routing API: a rule with every list full is ~30 KB.
pub const ROUTING_BODY_BYTES: usize = 64 * 1024;
/// The longest sample text a dry run takes, in characters.
pub const MAX_SAMPLE_TEXT_CHARS: usize = 10_000;

/// A rule as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct RuleView {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub matching: Matching,
    pub conditions: Conditions,
    pub actions: Actions,
}

impl From<Rule> for RuleView {
    fn from(rule: Rule) -> Self {
        RuleView {
            id: rule.id,
            name: rule.name,
            enabled: rule.enabled,
            matching: if rule.stop {
                Matching::First
            } else {
                Matching::Continue
            },
            conditions: rule.conditions,
            actions: rule.actions,
        }
    }
}

pub async fn list_rules(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<RuleView>>, AppError> {
    staff.require(Role::Owner)?;
    let rules = state.store.routing_rules(staff.merchant_id()).await?;
    Ok(Json(rules.into_iter().map(RuleView::from).collect()))
}

pub async fn create_rule(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(input): JsonBody<RuleInput>,
) -> Result<(StatusCode, Json<RuleView>), AppError> {
    staff.require(Role::Owner)?;
    routing::check_rule(&input).map_err(AppError::Invalid)?;
    let now = state.clock.now_millis();
    let rule = state
        .store
        .add_routing_rule(staff.merchant_id(), staff.user_id(), input, now)
        .await?
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(rule.into())))
}

pub async fn update_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    JsonBody(input): JsonBody<RuleInput>,
) -> Result<Json<RuleView>, AppError> {
    staff.require(Role::Owner)?;
    routing::check_rule(&input).map_err(AppError::Invalid)?;
    let now = state.clock.now_millis();
    let rule = state
        .store
        .update_routing_rule(staff.merchant_id(), staff.user_id(), id, input, now)
        .await?
        .map_err(refused)?;
    Ok(Json(rule.into()))
}

pub async fn delete_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    staff.require(Role::Owner)?;
    let now = state.clock.now_millis();
    state
        .store
        .delete_routing_rule(staff.merchant_id(), staff.user_id(), id, now)
        .await?
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// Every rule id of the merchant, in the new order.
    ids: Vec<i64>,
}

pub async fn reorder_rules(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<OrderBody>,
) -> Result<Json<Vec<RuleView>>, AppError> {
    staff.require(Role::Owner)?;
    let now = state.clock.now_millis();
    let rules = state
        .store
        .reorder_routing_rules(staff.merchant_id(), staff.user_id(), body.ids, now)
        .await?
        .map_err(refused)?;
    Ok(Json(rules.into_iter().map(RuleView::from).collect()))
}

/// A made-up complaint to try the rules on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleComplaint {
    /// A site key of the merchant.
    site: String,
    category: String,
    #[serde(default)]
    value_orientation: Option<String>,
    /// The category is marked urgent (safety or health).
    #[serde(default)]
    urgent: bool,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    mood: Option<Mood>,
    #[serde(default)]
    outcomes: Vec<Outcome>,
    #[serde(default = "english")]
    language: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    contact_given: bool,
    /// When it arrives, ms since the epoch; now when absent.
    #[serde(default)]
    received_at: Option<i64>,
}

fn english() -> String {
    "en".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    complaint: SampleComplaint,
    /// Rules to try instead of the saved ones (e.g. an edited rule before
    /// it is saved), in order. Their ids are their positions, from 1.
    #[serde(default)]
    rules: Option<Vec<RuleInput>>,
}

/// What a dry run decided, with the names of the rules that matched.
#[derive(Debug, Serialize)]
pub struct TestView {
    /// The rules that matched, in order.
    pub matched: Vec<MatchedRule>,
    pub target: Target,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub notify: Vec<Recipient>,
    pub webhooks: Vec<i64>,
    pub escalate: bool,
    /// The safety default applied (urgent, owners told).
    pub safety: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MatchedRule {
    pub id: i64,
    pub name: String,
}

/// Runs the rules on a sample complaint and shows what they would do,
/// changing nothing.
pub async fn test_rules(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<TestBody>,
) -> Result<Json<TestView>, AppError> {
    staff.require(Role::Owner)?;
    let merchant_id = staff.merchant_id();
    let sample = body.complaint;
    if sample.text.chars().count() > MAX_SAMPLE_TEXT_CHARS {
        return Err(AppError::Invalid(vec![FieldError::new(
            "complaint.text",
            "too_long",
            format!("The sample text can be at most {MAX_SAMPLE_TEXT_CHARS} characters."),
        )]));
    }
    if !state
        .store
        .merchant_has_site(merchant_id, &sample.site)
        .await?
    {
        return Err(AppError::Invalid(vec![FieldError::new(
            "complaint.site",
            "unknown",
            "None of your sites has this key.",
        )]));
    }
    let rules = match body.rules {
        Some(inputs) => {
            let mut rules = Vec::new();
            for (index, input) in inputs.into_iter().enumerate() {
                routing::check_rule(&input).map_err(|errors| {
                    AppError::Invalid(
                        errors
                            .into_iter()
                            .map(|error| FieldError {
                                field: format!("rules[{index}].{}", error.field),
                                ..error
                            })
                            .collect(),
                    )
                })?;
                rules.push(Rule {
                    id: index as i64 + 1,
                    name: input.name.trim().to_owned(),
                    enabled: input.enabled,
                    stop: input.matching == Matching::First,
                    conditions: input.conditions,
                    actions: input.actions,
                });
            }
            rules
        }
        None => state.store.routing_rules(merchant_id).await?,
    };
    let facts = Facts {
        site_key: sample.site,
        category: sample.category,
        value_orientation: sample.value_orientation,
        urgent: sample.urgent,
        severity: sample.severity,
        mood: sample.mood,
        outcomes: sample.outcomes,
        language: sample.language,
        text: sample.text,
        contact_given: sample.contact_given,
        received_at: sample
            .received_at
            .unwrap_or_else(|| state.clock.now_millis()),
    };
    let decision = routing::evaluate(&rules, &facts);
    let matched = decision
        .matched
        .iter()
        .filter_map(|id| rules.iter().find(|rule| rule.id == *id))
        .map(|rule| MatchedRule {
            id: rule.id,
            name: rule.name.clone(),
        })
        .collect();
    let Decision {
        target,
        priority,
        tags,
        notify,
        webhooks,
        escalate,
        safety,
        ..
    } = decision;
    Ok(Json(TestView {
        matched,
        target,
        priority,
        tags,
        notify,
        webhooks,
        escalate,
        safety,
    }))
}

// --- teams ---------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    name: String,
    #[serde(default = "round_robin")]
    strategy: Strategy,
    /// Make this the team that gets complaints no rule assigns.
    #[serde(default)]
    is_default: bool,
}

fn round_robin() -> Strategy {
    Strategy::RoundRobin
}

impl TeamBody {
    fn checked(self) -> Result<TeamInput, AppError> {
        let mut errors = Vec::new();
        routing::check_name("name", &self.name, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        Ok(TeamInput {
            name: self.name,
            strategy: self.strategy,
            is_default: self.is_default,
        })
    }
}

pub async fn list_teams(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<Team>>, AppError> {
    staff.require(Role::Owner)?;
    Ok(Json(state.store.teams(staff.merchant_id()).await?))
}

pub async fn create_team(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(body): JsonBody<TeamBody>,
) -> Result<(StatusCode, Json<Team>), AppError> {
    staff.require(Role::Owner)?;
    let input = body.checked()?;
    let now = state.clock.now_millis();
    let team = state
        .store
        .save_team(staff.merchant_id(), staff.user_id(), None, input, now)
        .await?
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(team)))
}

pub async fn update_team(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<TeamBody>,
) -> Result<Json<Team>, AppError> {
    staff.require(Role::Owner)?;
    let input = body.checked()?;
    let now = state.clock.now_millis();
    let team = state
        .store
        .save_team(staff.merchant_id(), staff.user_id(), Some(id), input, now)
        .await?
        .map_err(refused)?;
    Ok(Json(team))
}

pub async fn delete_team(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    staff.require(Role::Owner)?;
    let now = state.clock.now_millis();
    state
        .store
        .delete_team(staff.merchant_id(), staff.user_id(), id, now)
        .await?
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    #[serde(default)]
    is_lead: bool,
}

/// Adds a staff member to the team, or changes whether they lead it.
pub async fn put_member(
    State(state): State<AppState>,
    staff: Staff,
    Path((team_id, user_id)): Path<(i64, i64)>,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<Json<Team>, AppError> {
    staff.require(Role::Owner)?;
    let now = state.clock.now_millis();
    let team = state
        .store
        .put_team_member(
            staff.merchant_id(),
            staff.user_id(),
            team_id,
            user_id,
            body.is_lead,
            now,
        )
        .await?
        .map_err(refused)?;
    Ok(Json(team))
}

pub async fn remove_member(
    State(state): State<AppState>,
    staff: Staff,
    Path((team_id, user_id)): Path<(i64, i64)>,
) -> Result<Json<Team>, AppError> {
    staff.require(Role::Owner)?;
    let now = state.clock.now_millis();
    let team = state
        .store
        .remove_team_member(staff.merchant_id(), staff.user_id(), team_id, user_id, now)
        .await?
        .map_err(refused)?;
    Ok(Json(team))
}

/// A refused routing change as the client sees it.
pub fn refused(refusal: Refused) -> AppError {
    let field = |field: &str, code: &str, message: String| {
        AppError::Invalid(vec![FieldError::new(field, code, message)])
    };
    match refusal {
        Refused::NotFound => AppError::NotFound,
        Refused::Unknown { field: name, id } => field(
            name,
            "unknown",
            format!("{id} is not one of your teams, staff or webhooks."),
        ),
        Refused::DuplicateName => field(
            "name",
            "taken",
            "Another team already has this name.".to_owned(),
        ),
        Refused::TooMany { max } => field(
            "",
            "too_many",
            format!("You can keep at most {max} of these."),
        ),
        Refused::IncompleteOrder => field(
            "ids",
            "invalid",
            "List every one of your rules exactly once.".to_owned(),
        ),
        Refused::InUse => field(
            "id",
            "in_use",
            "Rules still use this; change those rules first.".to_owned(),
        ),
    }
}
