//! Routing rules: what they may say, and what they decide for a complaint.
//!
//! A merchant keeps an ordered list of rules. Each has conditions (all given
//! conditions must hold; within one list any value may match) and actions
//! (assign, priority, tags, email, webhooks, escalate), and says whether
//! evaluation stops at it when it matches ("first match") or continues
//! ("all matches"). [`evaluate`] is a pure function of the rules and the
//! complaint's [`Facts`]; the store applies its [`Decision`] inside the
//! complaint's own transaction, and the dry-run endpoint shows it unapplied.
//!
//! **Defaults that need no setup:** a safety or health complaint is always
//! urgent and its owners are notified at once, whatever the rules say; a
//! complaint no rule assigns goes to the merchant's default team.

use heard_shared::{FieldError, Mood, Outcome, Severity};
use serde::{Deserialize, Serialize};

/// The most rules one merchant may keep.
pub const MAX_RULES: usize = 100;
/// The longest rule, team or webhook name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The most values in one condition list (sites, categories, keywords…).
pub const MAX_CONDITION_VALUES: usize = 50;
/// The longest keyword or other condition value, in characters.
pub const MAX_CONDITION_VALUE_CHARS: usize = 100;
/// The most tags, recipients or webhooks in one rule's actions.
pub const MAX_ACTION_VALUES: usize = 20;
/// The longest tag a rule adds (the inbox's own limit).
pub const MAX_TAG_CHARS: usize = crate::domain::inbox::MAX_TAG_CHARS;

/// The conditions of a rule. An empty list or an absent value places no
/// condition, so `{}` matches every complaint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    /// Site keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<String>,
    /// Category ids, e.g. `product`, `safety`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Value orientations, e.g. `reliability`, `speed`, `safety`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<Severity>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moods: Vec<Mood>,
    /// Matches when the shopper wants any of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<Outcome>,
    /// Language tags; `zh` matches `zh-Hans` and `zh-Hant`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// Matches when the text holds any of these, ignoring case. Latin words
    /// match whole words ("late" does not match "chocolate"); Chinese and
    /// Japanese, which have no spaces, match anywhere.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// `true`: the shopper left an email or phone; `false`: they did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_given: Option<bool>,
    /// The time of day the complaint arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<Hours>,
}

/// Hours `[from, to)` of the day at `utc_offset_minutes` from UTC; when
/// `from > to` the span wraps midnight (22 → 6 is the night).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub from: u8,
    pub to: u8,
    #[serde(default)]
    pub utc_offset_minutes: i32,
}

/// What a matching rule does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Actions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign: Option<Assign>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Staff to email.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<Recipient>,
    /// Webhook endpoint ids to call.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<i64>,
    /// Marks the complaint escalated and tells the owners.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub escalate: bool,
}

/// Who gets the complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Assign {
    /// One staff member.
    User { user_id: i64 },
    /// A member of the team, chosen by the team's strategy.
    Team { team_id: i64 },
}

/// A priority a rule sets; the highest of all matching rules wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    /// The stored base priority the inbox orders by (severity and mood are
    /// added to it; see the `complaints_inbox_insert` trigger).
    pub fn base(self) -> i64 {
        match self {
            Priority::Low => -500,
            Priority::Normal => 0,
            Priority::High => 500,
            Priority::Urgent => 1000,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// Whom an email notification goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipient {
    /// Every enabled owner of the merchant.
    Owners,
    /// Whoever the complaint was assigned to by routing.
    Assignee,
    User {
        user_id: i64,
    },
    /// Every member of the team.
    Team {
        team_id: i64,
    },
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    /// `true`: evaluation ends here when this rule matches.
    pub stop: bool,
    pub conditions: Conditions,
    pub actions: Actions,
}

/// A rule as a client sends it, before it is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `"first"` (stop at this rule when it matches) or `"continue"`.
    #[serde(default)]
    pub matching: Matching,
    #[serde(default)]
    pub conditions: Conditions,
    #[serde(default)]
    pub actions: Actions,
}

fn yes() -> bool {
    true
}

/// Whether evaluation continues after a rule that matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matching {
    #[default]
    First,
    Continue,
}

/// Everything about a complaint that a rule can look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub site_key: String,
    pub category: String,
    pub value_orientation: Option<String>,
    /// The category is marked urgent (safety or health).
    pub urgent: bool,
    pub severity: Option<Severity>,
    pub mood: Option<Mood>,
    pub outcomes: Vec<Outcome>,
    pub language: String,
    /// Description, remedy and guided answers.
    pub text: String,
    pub contact_given: bool,
    /// When it arrived, ms since the epoch.
    pub received_at: i64,
}

impl Facts {
    /// A safety or health complaint: always urgent, owners told at once.
    pub fn is_safety(&self) -> bool {
        self.urgent
            || self.value_orientation.as_deref() == Some("safety")
            || self.category == "safety"
    }
}

/// Where routing sends the complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    User {
        user_id: i64,
    },
    Team {
        team_id: i64,
    },
    /// No rule assigned it: the merchant's default team.
    DefaultTeam,
}

/// What the rules decided for one complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The ids of the rules that matched, in order.
    pub matched: Vec<i64>,
    pub target: Target,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub notify: Vec<Recipient>,
    pub webhooks: Vec<i64>,
    pub escalate: bool,
    /// The safety default applied.
    pub safety: bool,
}

/// Runs `rules` in order against `facts`, then adds the defaults.
///
/// The first matching rule that assigns decides the assignee; the highest
/// priority of all matching rules wins; tags, recipients and webhooks are
/// collected from every matching rule without repeats.
pub fn evaluate(rules: &[Rule], facts: &Facts) -> Decision {
    let mut decision = Decision {
        matched: Vec::new(),
        target: Target::DefaultTeam,
        priority: None,
        tags: Vec::new(),
        notify: Vec::new(),
        webhooks: Vec::new(),
        escalate: false,
        safety: false,
    };
    let mut assigned = false;
    for rule in rules.iter().filter(|rule| rule.enabled) {
        if !matches(&rule.conditions, facts) {
            continue;
        }
        decision.matched.push(rule.id);
        let actions = &rule.actions;
        if !assigned && let Some(assign) = actions.assign {
            decision.target = match assign {
                Assign::User { user_id } => Target::User { user_id },
                Assign::Team { team_id } => Target::Team { team_id },
            };
            assigned = true;
        }
        decision.priority = decision.priority.max(actions.priority);
        push_new(&mut decision.tags, actions.tags.iter().cloned());
        push_new(&mut decision.notify, actions.notify.iter().copied());
        push_new(&mut decision.webhooks, actions.webhooks.iter().copied());
        decision.escalate |= actions.escalate;
        if rule.stop {
            break;
        }
    }
    if facts.is_safety() {
        decision.safety = true;
        decision.priority = Some(Priority::Urgent);
        push_new(&mut decision.notify, [Recipient::Owners]);
    }
    if decision.escalate {
        push_new(&mut decision.notify, [Recipient::Owners]);
    }
    decision
}

/// Whether every condition given holds for `facts`.
pub fn matches(conditions: &Conditions, facts: &Facts) -> bool {
    let any = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
    any(&conditions.sites, &facts.site_key)
        && any(&conditions.categories, &facts.category)
        && (conditions.values.is_empty()
            || facts
                .value_orientation
                .as_deref()
                .is_some_and(|value| conditions.values.iter().any(|v| v == value)))
        && (conditions.severities.is_empty()
            || facts
                .severity
                .is_some_and(|severity| conditions.severities.contains(&severity)))
        && (conditions.moods.is_empty()
            || facts
                .mood
                .is_some_and(|mood| conditions.moods.contains(&mood)))
        && (conditions.outcomes.is_empty()
            || facts
                .outcomes
                .iter()
                .any(|outcome| conditions.outcomes.contains(outcome)))
        && (conditions.languages.is_empty()
            || conditions
                .languages
                .iter()
                .any(|tag| language_matches(tag, &facts.language)))
        && (conditions.keywords.is_empty() || {
            let text = facts.text.to_lowercase();
            conditions
                .keywords
                .iter()
                .any(|keyword| contains_keyword(&text, &keyword.to_lowercase()))
        })
        && conditions
            .contact_given
            .is_none_or(|wanted| wanted == facts.contact_given)
        && conditions
            .hours
            .is_none_or(|hours| hours.contains(facts.received_at))
}

impl Hours {
    /// Whether `at` (ms since the epoch) falls in these hours.
    pub fn contains(&self, at: i64) -> bool {
        let local_seconds = at.div_euclid(1000) + i64::from(self.utc_offset_minutes) * 60;
        let hour = local_seconds.div_euclid(3600).rem_euclid(24) as u8;
        if self.from <= self.to {
            self.from <= hour && hour < self.to
        } else {
            hour >= self.from || hour < self.to
        }
    }
}

/// `zh` matches `zh`, `zh-Hans`, `zh-Hant`; `zh-Hant` matches only itself
/// and its own subtags. Case is ignored.
fn language_matches(rule: &str, language: &str) -> bool {
    let rule = rule.to_ascii_lowercase();
    let language = language.to_ascii_lowercase();
    language == rule
        || language
            .strip_prefix(&rule)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// `keyword` occurs in `text` (both lower-cased); an ASCII letter or digit at
/// the keyword's edge must not continue into a neighbouring ASCII letter or
/// digit, so Latin keywords match whole words while CJK matches anywhere.
fn contains_keyword(text: &str, keyword: &str) -> bool {
    if keyword.is_empty() {
        return false;
    }
    let word = |character: Option<char>| character.is_some_and(|c| c.is_ascii_alphanumeric());
    let first = keyword.chars().next();
    let last = keyword.chars().next_back();
    text.match_indices(keyword).any(|(start, found)| {
        let before = text[..start].chars().next_back();
        let after = text[start + found.len()..].chars().next();
        let joins_before = word(first) && word(before);
        let joins_after = word(last) && word(after);
        !joins_before && !joins_after
    })
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, items: impl IntoIterator<Item = T>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// Checks a rule's shape and limits; ids it names are checked by the store
/// against the merchant's own teams, staff and webhooks.
pub fn check_rule(input: &RuleInput) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    check_name("name", &input.name, &mut errors);
    let conditions = &input.conditions;
    for (field, list) in [
        ("conditions.sites", &conditions.sites),
        ("conditions.categories", &conditions.categories),
        ("conditions.values", &conditions.values),
        ("conditions.languages", &conditions.languages),
        ("conditions.keywords", &conditions.keywords),
    ] {
        check_values(
            field,
            list,
            MAX_CONDITION_VALUES,
            MAX_CONDITION_VALUE_CHARS,
            &mut errors,
        );
    }
    if let Some(hours) = conditions.hours {
        if hours.from > 23 || hours.to > 24 || hours.from == hours.to {
            errors.push(FieldError::new(
                "conditions.hours",
                "invalid",
                "Hours run from 0–23 to 1–24, and from and to must differ.",
            ));
        }
        if hours.utc_offset_minutes.abs() > 14 * 60 {
            errors.push(FieldError::new(
                "conditions.hours.utc_offset_minutes",
                "invalid",
                "The offset from UTC is at most 14 hours (840 minutes) either way.",
            ));
        }
    }
    let actions = &input.actions;
    check_values(
        "actions.tags",
        &actions.tags,
        MAX_ACTION_VALUES,
        MAX_TAG_CHARS,
        &mut errors,
    );
    if actions.notify.len() > MAX_ACTION_VALUES {
        errors.push(too_many("actions.notify", MAX_ACTION_VALUES));
    }
    if actions.webhooks.len() > MAX_ACTION_VALUES {
        errors.push(too_many("actions.webhooks", MAX_ACTION_VALUES));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A name is 1–100 characters without control characters.
pub fn check_name(field: &str, name: &str, errors: &mut Vec<FieldError>) {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "invalid",
            "A name cannot be empty or hold control characters.",
        ));
    } else if trimmed.chars().count() > MAX_NAME_CHARS {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("A name can be at most {MAX_NAME_CHARS} characters."),
        ));
    }
}

fn check_values(
    field: &str,
    values: &[String],
    max_values: usize,
    max_chars: usize,
    errors: &mut Vec<FieldError>,
) {
    if values.len() > max_values {
        errors.push(too_many(field, max_values));
        return;
    }
    for value in values {
        let trimmed = value.trim();
        if trimmed.is_empty() || trimmed.chars().any(char::is_control) || trimmed != value {
            errors.push(FieldError::new(
                field,
                "invalid",
                "Values cannot be empty, padded with spaces or hold control characters.",
            ));
            return;
        }
        if value.chars().count() > max_chars {
            errors.push(FieldError::new(
                field,
                "too_long",
                format!("Each value can be at most {max_chars} characters."),
            ));
            return;
        }
    }
}

fn too_many(field: &str, max: usize) -> FieldError {
    FieldError::new(field, "too_many", format!("Name at most {max} here."))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23 14:00 UTC.
    const AFTERNOON: i64 = 1_795_442_400_000;

    fn facts() -> Facts {
        Facts {
            site_key: "shop".to_owned(),
            category: "delivery".to_owned(),
            value_orientation: Some("speed".to_owned()),
            urgent: false,
            severity: Some(Severity::CostMe),
            mood: Some(Mood::Annoyed),
            outcomes: vec![Outcome::Compensation],
            language: "zh-Hans".to_owned(),
            text: "The parcel was LATE again, 包裹又迟到了".to_owned(),
            contact_given: true,
            received_at: AFTERNOON,
        }
    }

    fn rule(id: i64, stop: bool, conditions: Conditions, actions: Actions) -> Rule {
        Rule {
            id,
            name: format!("rule {id}"),
            enabled: true,
            stop,
            conditions,
            actions,
        }
    }

    #[test]
    fn empty_conditions_match_everything_and_each_condition_can_refuse() {
        let facts = facts();
        assert!(matches(&Conditions::default(), &facts));
        let refusing = [
            Conditions {
                sites: vec!["other".to_owned()],
                ..Conditions::default()
            },
            Conditions {
                categories: vec!["product".to_owned()],
                ..Conditions::default()
            },
            Conditions {
                values: vec!["courtesy".to_owned()],
                ..Conditions::default()
            },
            Conditions {
                severities: vec![Severity::Serious],
                ..Conditions::default()
            },
            Conditions {
                moods: vec![Mood::Furious],
                ..Conditions::default()
            },
            Conditions {
                outcomes: vec![Outcome::Apology],
                ..Conditions::default()
            },
            Conditions {
                languages: vec!["de".to_owned()],
                ..Conditions::default()
            },
            Conditions {
                keywords: vec!["broken".to_owned()],
                ..Conditions::default()
            },
            Conditions {
                contact_given: Some(false),
                ..Conditions::default()
            },
            Conditions {
                hours: Some(Hours {
                    from: 22,
                    to: 6,
                    utc_offset_minutes: 0,
                }),
                ..Conditions::default()
            },
        ];
        for conditions in refusing {
            assert!(!matches(&conditions, &facts), "{conditions:?}");
        }
        let accepting = Conditions {
            sites: vec!["shop".to_owned(), "other".to_owned()],
            categories: vec!["delivery".to_owned()],
            values: vec!["speed".to_owned()],
            severities: vec![Severity::CostMe, Severity::Serious],
            moods: vec![Mood::Annoyed],
            outcomes: vec![Outcome::Compensation, Outcome::Fix],
            languages: vec!["zh".to_owned()],
            keywords: vec!["late".to_owned()],
            contact_given: Some(true),
            hours: Some(Hours {
                from: 9,
                to: 17,
                utc_offset_minutes: 0,
            }),
        };
        assert!(matches(&accepting, &facts));
    }

    #[test]
    fn keywords_match_whole_latin_words_and_cjk_anywhere() {
        assert!(contains_keyword("the parcel was late", "late"));
        assert!(!contains_keyword("i love chocolate", "late"));
        assert!(contains_keyword("late!", "late"));
        assert!(contains_keyword("包裹又迟到了", "迟到"));
        assert!(contains_keyword("配達が遅い", "遅い"));
        assert!(contains_keyword("it was 迟到", "迟到"));
        let mut facts = facts();
        facts.text = "Mould in the YOGHURT".to_owned();
        let conditions = Conditions {
            keywords: vec!["yoghurt".to_owned()],
            ..Conditions::default()
        };
        assert!(matches(&conditions, &facts), "case is ignored");
    }

    #[test]
    fn hours_wrap_midnight_and_follow_the_offset() {
        let night = Hours {
            from: 22,
            to: 6,
            utc_offset_minutes: 0,
        };
        assert!(!night.contains(AFTERNOON));
        assert!(night.contains(AFTERNOON + 9 * 3_600_000)); // 23:00
        assert!(night.contains(AFTERNOON + 15 * 3_600_000)); // 05:00
        assert!(!night.contains(AFTERNOON + 16 * 3_600_000)); // 06:00
        // 14:00 UTC is 22:00 at UTC+8.
        let night_in_shanghai = Hours {
            utc_offset_minutes: 480,
            ..night
        };
        assert!(night_in_shanghai.contains(AFTERNOON));
        // Times before 1970 still land on the right hour.
        assert!(night.contains(-3_600_000)); // 23:00 on 31 Dec 1969
    }

    #[test]
    fn languages_match_by_prefix_subtag() {
        assert!(language_matches("zh", "zh-Hans"));
        assert!(language_matches("ZH-hant", "zh-Hant"));
        assert!(!language_matches("zh-Hant", "zh-Hans"));
        assert!(!language_matches("z", "zh"));
    }

    #[test]
    fn first_match_stops_and_continue_collects() {
        let tag = |name: &str| Actions {
            tags: vec![name.to_owned()],
            ..Actions::default()
        };
        let assign_team = |team_id, priority| Actions {
            assign: Some(Assign::Team { team_id }),
            priority: Some(priority),
            tags: vec!["shared".to_owned()],
            webhooks: vec![7],
            ..Actions::default()
        };
        let rules = vec![
            rule(
                1,
                false,
                Conditions::default(),
                assign_team(10, Priority::Low),
            ),
            rule(
                2,
                false,
                Conditions::default(),
                assign_team(20, Priority::High),
            ),
            rule(3, true, Conditions::default(), tag("third")),
            rule(4, true, Conditions::default(), tag("never")),
        ];
        let decision = evaluate(&rules, &facts());
        assert_eq!(decision.matched, [1, 2, 3]);
        assert_eq!(decision.target, Target::Team { team_id: 10 });
        assert_eq!(decision.priority, Some(Priority::High));
        assert_eq!(decision.tags, ["shared", "third"]);
        assert_eq!(decision.webhooks, [7]);
        assert!(!decision.safety);
        assert!(decision.notify.is_empty());
    }

    #[test]
    fn disabled_and_unmatched_rules_do_nothing_and_the_default_team_remains() {
        let mut disabled = rule(
            1,
            true,
            Conditions::default(),
            Actions {
                assign: Some(Assign::User { user_id: 5 }),
                ..Actions::default()
            },
        );
        disabled.enabled = false;
        let unmatched = rule(
            2,
            true,
            Conditions {
                categories: vec!["staff".to_owned()],
                ..Conditions::default()
            },
            Actions {
                escalate: true,
                ..Actions::default()
            },
        );
        let decision = evaluate(&[disabled, unmatched], &facts());
        assert!(decision.matched.is_empty());
        assert_eq!(decision.target, Target::DefaultTeam);
        assert_eq!(decision.priority, None);
        assert!(!decision.escalate);
    }

    #[test]
    fn safety_is_urgent_and_tells_the_owners_even_against_the_rules() {
        let mut facts = facts();
        facts.category = "safety".to_owned();
        facts.value_orientation = Some("safety".to_owned());
        facts.urgent = true;
        let calming = rule(
            1,
            true,
            Conditions::default(),
            Actions {
                priority: Some(Priority::Low),
                assign: Some(Assign::User { user_id: 3 }),
                ..Actions::default()
            },
        );
        let decision = evaluate(&[calming], &facts);
        assert!(decision.safety);
        assert_eq!(decision.priority, Some(Priority::Urgent));
        assert_eq!(decision.notify, [Recipient::Owners]);
        assert_eq!(decision.target, Target::User { user_id: 3 });
        // With no rules at all.
        let decision = evaluate(&[], &facts);
        assert_eq!(decision.target, Target::DefaultTeam);
        assert_eq!(decision.notify, [Recipient::Owners]);
    }

    #[test]
    fn escalation_tells_the_owners_once() {
        let escalate = rule(
            1,
            false,
            Conditions::default(),
            Actions {
                escalate: true,
                notify: vec![Recipient::Owners, Recipient::Assignee],
                ..Actions::default()
            },
        );
        let decision = evaluate(&[escalate], &facts());
        assert!(decision.escalate);
        assert_eq!(decision.notify, [Recipient::Owners, Recipient::Assignee]);
    }

    #[test]
    fn rules_round_trip_as_json_and_refuse_unknown_fields() {
        let text = r#"{
            "name": "Night safety",
            "matching": "continue",
            "conditions": {"categories": ["safety"], "hours": {"from": 22, "to": 6}},
            "actions": {"assign": {"kind": "team", "team_id": 4}, "priority": "urgent",
                        "notify": [{"kind": "owners"}, {"kind": "user", "user_id": 9}],
                        "webhooks": [2], "escalate": true}
        }"#;
        let input: RuleInput = serde_json::from_str(text).unwrap();
        assert_eq!(input.matching, Matching::Continue);
        assert!(input.enabled);
        assert_eq!(input.actions.assign, Some(Assign::Team { team_id: 4 }));
        check_rule(&input).unwrap();
        let stored = serde_json::to_string(&input.conditions).unwrap();
        assert_eq!(
            serde_json::from_str::<Conditions>(&stored).unwrap(),
            input.conditions
        );
        assert!(serde_json::from_str::<RuleInput>(r#"{"name": "x", "when": {}}"#).is_err());
        assert!(
            serde_json::from_str::<RuleInput>(r#"{"name": "x", "conditions": {"colour": []}}"#)
                .is_err()
        );
    }

    #[test]
    fn limits_are_checked() {
        let base: RuleInput = serde_json::from_str(r#"{"name": "ok"}"#).unwrap();
        check_rule(&base).unwrap();
        let mut bad = base.clone();
        bad.name = " ".to_owned();
        assert_eq!(check_rule(&bad).unwrap_err()[0].field, "name");
        let mut bad = base.clone();
        bad.conditions.keywords = vec!["k".to_owned(); MAX_CONDITION_VALUES + 1];
        assert_eq!(check_rule(&bad).unwrap_err()[0].code, "too_many");
        let mut bad = base.clone();
        bad.conditions.keywords = vec![" padded".to_owned()];
        assert_eq!(
            check_rule(&bad).unwrap_err()[0].field,
            "conditions.keywords"
        );
        let mut bad = base.clone();
        bad.conditions.hours = Some(Hours {
            from: 25,
            to: 3,
            utc_offset_minutes: 0,
        });
        assert_eq!(check_rule(&bad).unwrap_err()[0].field, "conditions.hours");
        let mut bad = base;
        bad.actions.tags = vec!["t".repeat(MAX_TAG_CHARS + 1)];
        assert_eq!(check_rule(&bad).unwrap_err()[0].code, "too_long");
    }
}
