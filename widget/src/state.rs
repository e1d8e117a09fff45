//! The complaint form: what the shopper has entered, where they are in it,
//! and every way it can change.
//!
//! This is plain data and a reducer so the whole flow is tested natively,
//! without a browser. Nothing the shopper typed is ever dropped here except
//! by [`Action::StartOver`] after a receipt.

use std::rc::Rc;

use heard_shared::{ErrorBody, FieldError, Outcome, Receipt};
use yew::Reducible;

/// Which screen of the form is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Step {
    #[default]
    Categories,
    Details,
}

/// What the shopper has chosen and typed so far, exactly as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub category: Option<String>,
    pub description: String,
    /// Kept in [`Outcome::ALL`] order, without repeats.
    pub outcomes: Vec<Outcome>,
    pub remedy: String,
}

impl Draft {
    pub fn has_outcome(&self, outcome: Outcome) -> bool {
        self.outcomes.contains(&outcome)
    }

    fn set_outcome(&mut self, outcome: Outcome, chosen: bool) {
        self.outcomes.retain(|existing| *existing != outcome);
        if chosen {
            self.outcomes.push(outcome);
            self.outcomes
                .sort_by_key(|outcome| Outcome::ALL.iter().position(|o| o == outcome));
        }
    }
}

/// Where the complaint stands on its way to the collector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FormState {
    #[default]
    Editing,
    Sending,
    Sent(Receipt),
    Failed(Problem),
}

/// Why the last send did not end in a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No answer came back, so the complaint was not stored (or we cannot
    /// know). Retrying with the same idempotency key is always safe.
    NotSent,
    /// The collector answered and explained why it refused.
    Refused(String),
}

/// The inputs a collector problem can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Category,
    Description,
    Outcomes,
    Remedy,
}

impl Field {
    /// The submission path the shared validation rules and the collector use.
    pub fn from_path(path: &str) -> Option<Field> {
        match path {
            "category" => Some(Field::Category),
            "description" => Some(Field::Description),
            "outcomes" => Some(Field::Outcomes),
            "remedy" => Some(Field::Remedy),
            _ => None,
        }
    }
}

/// Validation problems arranged for display: one message per input, and the
/// rest (things the shopper did not type, such as the page address) together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    pub category: Option<String>,
    pub description: Option<String>,
    pub outcomes: Option<String>,
    pub remedy: Option<String>,
    pub other: Vec<String>,
}

impl FieldErrors {
    /// Arranges problems from [`heard_shared::validate_submission`] or from a
    /// collector's error body. The first problem of each input wins.
    pub fn from_problems(problems: &[FieldError]) -> FieldErrors {
        let mut errors = FieldErrors::default();
        for problem in problems {
            let message = problem.message.clone();
            match Field::from_path(&problem.field) {
                Some(field) => {
                    errors.slot(field).get_or_insert(message);
                }
                None => errors.other.push(message),
            }
        }
        errors
    }

    pub fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::Category => self.category.as_deref(),
            Field::Description => self.description.as_deref(),
            Field::Outcomes => self.outcomes.as_deref(),
            Field::Remedy => self.remedy.as_deref(),
        }
    }

    /// The input to move focus to, in the order the form shows them.
    pub fn first_invalid(&self) -> Option<Field> {
        [
            Field::Category,
            Field::Description,
            Field::Outcomes,
            Field::Remedy,
        ]
        .into_iter()
        .find(|field| self.get(*field).is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.first_invalid().is_none() && self.other.is_empty()
    }

    fn clear(&mut self, field: Field) {
        *self.slot(field) = None;
    }

    fn slot(&mut self, field: Field) -> &mut Option<String> {
        match field {
            Field::Category => &mut self.category,
            Field::Description => &mut self.description,
            Field::Outcomes => &mut self.outcomes,
            Field::Remedy => &mut self.remedy,
        }
    }
}

/// The whole form, driven by [`Action`]s through Yew's `use_reducer`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pub step: Step,
    pub draft: Draft,
    pub state: FormState,
    pub errors: FieldErrors,
    /// Made on the first send of this complaint and reused by every retry,
    /// so the collector stores the complaint once however often it is sent.
    pub idempotency_key: Option<String>,
}

impl Form {
    /// True when pressing send should do nothing: a send is under way or done.
    pub fn is_busy_or_done(&self) -> bool {
        matches!(self.state, FormState::Sending | FormState::Sent(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    ChooseCategory(String),
    Back,
    EditDescription(String),
    SetOutcome(Outcome, bool),
    EditRemedy(String),
    /// The shared rules found problems before sending.
    Invalid(Vec<FieldError>),
    /// Sending starts; the key is used only if this complaint has none yet.
    Send {
        idempotency_key: String,
    },
    Stored(Receipt),
    Refused(ErrorBody),
    NotSent,
    /// After a receipt: a fresh, empty complaint with a new key to come.
    StartOver,
}

impl Reducible for Form {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        Rc::new(self.as_ref().clone().apply(action))
    }
}

impl Form {
    /// The reducer as a plain function of owned values, which keeps it easy
    /// to test.
    pub fn apply(mut self, action: Action) -> Form {
        let draft_before = self.draft.clone();
        self = self.apply_inner(action);
        // An edited complaint is a different request: retrying it under the
        // old key would be refused as a conflict, so it gets a fresh key.
        if self.draft != draft_before && !self.is_busy_or_done() {
            self.idempotency_key = None;
        }
        self
    }

    fn apply_inner(mut self, action: Action) -> Form {
        match action {
            Action::ChooseCategory(id) => {
                self.draft.category = Some(id);
                self.errors.clear(Field::Category);
                self.step = Step::Details;
            }
            Action::Back => self.step = Step::Categories,
            Action::EditDescription(text) => {
                self.draft.description = text;
                self.errors.clear(Field::Description);
            }
            Action::SetOutcome(outcome, chosen) => {
                self.draft.set_outcome(outcome, chosen);
                self.errors.clear(Field::Outcomes);
            }
            Action::EditRemedy(text) => {
                self.draft.remedy = text;
                self.errors.clear(Field::Remedy);
            }
            Action::Invalid(problems) => {
                self.errors = FieldErrors::from_problems(&problems);
                if !self.is_busy_or_done() {
                    self.state = FormState::Editing;
                }
            }
            Action::Send { idempotency_key } => {
                if !self.is_busy_or_done() {
                    self.idempotency_key.get_or_insert(idempotency_key);
                    self.errors = FieldErrors::default();
                    self.state = FormState::Sending;
                }
            }
            Action::Stored(receipt) => {
                self.errors = FieldErrors::default();
                self.state = FormState::Sent(receipt);
            }
            Action::Refused(body) => {
                self.errors = FieldErrors::from_problems(&body.fields);
                self.state = FormState::Failed(Problem::Refused(body.message));
            }
            Action::NotSent => self.state = FormState::Failed(Problem::NotSent),
            Action::StartOver => return Form::default(),
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use heard_shared::{ReceiptSummary, Status};

    use super::*;

    fn receipt() -> Receipt {
        Receipt {
            reference: "HRD-7K3Q-9M2X".to_owned(),
            created_at: "2026-11-23T10:00:00Z".to_owned(),
            status: Status::Received,
            status_url: "/status/secret".to_owned(),
            summary: ReceiptSummary {
                category: "product".to_owned(),
                category_label: "Product problem".to_owned(),
                description: "Broken".to_owned(),
                outcomes: vec![],
                anonymous: true,
            },
            response_target_hours: Some(24),
        }
    }

    fn run(actions: impl IntoIterator<Item = Action>) -> Form {
        actions.into_iter().fold(Form::default(), Form::apply)
    }

    fn typed() -> Vec<Action> {
        vec![
            Action::ChooseCategory("product".to_owned()),
            Action::EditDescription("It broke after three uses.".to_owned()),
            Action::SetOutcome(Outcome::Compensation, true),
            Action::SetOutcome(Outcome::Heard, true),
            Action::EditRemedy("A new one".to_owned()),
        ]
    }

    #[test]
    fn an_edit_after_a_failed_send_gets_a_fresh_key() {
        let mut actions = typed();
        actions.push(Action::Send {
            idempotency_key: "first-key-123".to_owned(),
        });
        actions.push(Action::NotSent);
        let unchanged = run(actions.clone());
        assert_eq!(unchanged.idempotency_key.as_deref(), Some("first-key-123"));

        actions.push(Action::EditDescription(
            "It broke after two uses.".to_owned(),
        ));
        let edited = run(actions);
        assert_eq!(edited.idempotency_key, None);
    }

    #[test]
    fn back_and_another_category_keep_what_was_typed() {
        let mut actions = typed();
        actions.push(Action::Back);
        let form = run(actions.clone());
        assert_eq!(form.step, Step::Categories);
        assert_eq!(form.draft.description, "It broke after three uses.");

        actions.push(Action::ChooseCategory("delivery".to_owned()));
        let form = run(actions);
        assert_eq!(form.step, Step::Details);
        assert_eq!(form.draft.category.as_deref(), Some("delivery"));
        assert_eq!(form.draft.remedy, "A new one");
    }

    #[test]
    fn outcomes_stay_in_display_order_without_repeats() {
        let mut actions = typed();
        actions.push(Action::SetOutcome(Outcome::Heard, true));
        actions.push(Action::SetOutcome(Outcome::Apology, true));
        assert_eq!(
            run(actions.clone()).draft.outcomes,
            [Outcome::Heard, Outcome::Apology, Outcome::Compensation]
        );
        actions.push(Action::SetOutcome(Outcome::Heard, false));
        assert_eq!(
            run(actions).draft.outcomes,
            [Outcome::Apology, Outcome::Compensation]
        );
    }

    #[test]
    fn the_idempotency_key_is_made_once_and_reused_on_retry() {
        let mut actions = typed();
        actions.push(Action::Send {
            idempotency_key: "first-key-123".to_owned(),
        });
        actions.push(Action::NotSent);
        let failed = run(actions.clone());
        assert_eq!(failed.state, FormState::Failed(Problem::NotSent));
        assert_eq!(failed.draft.description, "It broke after three uses.");

        actions.push(Action::Send {
            idempotency_key: "second-key-456".to_owned(),
        });
        let retried = run(actions.clone());
        assert_eq!(retried.state, FormState::Sending);
        assert_eq!(retried.idempotency_key.as_deref(), Some("first-key-123"));

        actions.push(Action::Stored(receipt()));
        actions.push(Action::StartOver);
        assert_eq!(run(actions), Form::default());
    }

    #[test]
    fn sending_twice_or_after_a_receipt_does_nothing() {
        let mut actions = typed();
        actions.push(Action::Send {
            idempotency_key: "first-key-123".to_owned(),
        });
        let sending = run(actions.clone());
        assert_eq!(
            sending.clone().apply(Action::Send {
                idempotency_key: "x".repeat(9)
            }),
            sending
        );

        actions.push(Action::Stored(receipt()));
        let sent = run(actions);
        assert_eq!(sent.state, FormState::Sent(receipt()));
        assert_eq!(
            sent.clone().apply(Action::Send {
                idempotency_key: "x".repeat(9)
            }),
            sent
        );
    }

    #[test]
    fn collector_field_problems_land_on_their_inputs() {
        let body = ErrorBody {
            error: "invalid_submission".to_owned(),
            message: "Some answers need another look.".to_owned(),
            fields: vec![
                FieldError::new("description", "too_long", "Too long."),
                FieldError::new("description", "invalid", "Second problem, not shown."),
                FieldError::new("remedy", "invalid", "Bad remedy."),
                FieldError::new("page_url", "invalid", "Bad page address."),
            ],
        };
        let mut actions = typed();
        actions.push(Action::Send {
            idempotency_key: "first-key-123".to_owned(),
        });
        actions.push(Action::Refused(body));
        let form = run(actions);
        assert_eq!(
            form.state,
            FormState::Failed(Problem::Refused(
                "Some answers need another look.".to_owned()
            ))
        );
        assert_eq!(form.errors.description.as_deref(), Some("Too long."));
        assert_eq!(form.errors.remedy.as_deref(), Some("Bad remedy."));
        assert_eq!(form.errors.other, ["Bad page address."]);
        assert_eq!(form.errors.first_invalid(), Some(Field::Description));

        // Editing an input clears its own message and leaves the others.
        let edited = form.apply(Action::EditDescription("Shorter.".to_owned()));
        assert_eq!(edited.errors.description, None);
        assert_eq!(edited.errors.first_invalid(), Some(Field::Remedy));
    }

    #[test]
    fn local_validation_marks_fields_without_sending() {
        let problems = vec![FieldError::new(
            "description",
            "required",
            "Tell us what happened.",
        )];
        let form = run([
            Action::ChooseCategory("product".to_owned()),
            Action::Invalid(problems),
        ]);
        assert_eq!(form.state, FormState::Editing);
        assert_eq!(
            form.errors.description.as_deref(),
            Some("Tell us what happened.")
        );
        assert!(form.idempotency_key.is_none());
        assert!(!form.errors.is_empty());
    }
}
