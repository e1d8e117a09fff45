//! The complaint form: what the shopper has entered, where they are in it,
//! and every way it can change.
//!
//! This is plain data and a reducer so the whole flow is tested natively,
//! without a browser. Nothing the shopper typed is ever dropped here except
//! by [`Action::StartOver`] after a receipt: going back, choosing another
//! category or switching to a callback keeps every answer.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use heard_shared::{
    ErrorBody, FieldError, Identity, Mood, Outcome, Receipt, Severity, SubmissionKind,
};
use yew::Reducible;

use crate::photos::Photo;

/// Which screen of the form is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Step {
    #[default]
    Categories,
    /// The chosen category's own guided questions.
    Questions,
    /// What happened, how bad, how it feels, what would make it right.
    Details,
    /// Optional contact, what is attached automatically, and sending.
    Send,
    /// "Please call me": a number and a time.
    Callback,
}

/// What the shopper has chosen and typed so far, exactly as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    pub category: Option<String>,
    pub kind: SubmissionKind,
    /// Answers by question id, for every category visited: going to another
    /// category and back finds them again. Only the chosen category's are sent.
    pub answers: BTreeMap<String, String>,
    pub description: String,
    pub severity: Option<Severity>,
    pub mood: Option<Mood>,
    /// Kept in [`Outcome::ALL`] order, without repeats.
    pub outcomes: Vec<Outcome>,
    pub remedy: String,
    pub contact: ContactDraft,
    pub callback_window: String,
    pub photos: Rc<Vec<Photo>>,
    /// Who the merchant's page says the shopper is; sent only with a complaint.
    pub identity: Option<Identity>,
}

/// Contact details as typed; empty means not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactDraft {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub consent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactField {
    Name,
    Email,
    Phone,
}

impl ContactField {
    /// The submission path the shared rules use for this input.
    pub fn path(self) -> &'static str {
        match self {
            Self::Name => "contact.name",
            Self::Email => "contact.email",
            Self::Phone => "contact.phone",
        }
    }
}

/// Values the merchant's page passes in with `prefill` or `identify`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefill {
    pub description: Option<String>,
    pub order_number: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
}

impl Draft {
    pub fn has_outcome(&self, outcome: Outcome) -> bool {
        self.outcomes.contains(&outcome)
    }

    pub fn answer(&self, question_id: &str) -> &str {
        self.answers.get(question_id).map_or("", String::as_str)
    }

    fn set_outcome(&mut self, outcome: Outcome, chosen: bool) {
        self.outcomes.retain(|existing| *existing != outcome);
        if chosen {
            self.outcomes.push(outcome);
            self.outcomes
                .sort_by_key(|outcome| Outcome::ALL.iter().position(|o| o == outcome));
        }
    }

    /// Fills only what the shopper has not typed themselves.
    fn prefill(&mut self, values: Prefill) {
        let fill = |slot: &mut String, value: Option<String>| {
            if let Some(value) = value.filter(|value| !value.trim().is_empty())
                && slot.trim().is_empty()
            {
                *slot = value;
            }
        };
        fill(&mut self.description, values.description);
        fill(
            self.answers.entry("order_number".to_owned()).or_default(),
            values.order_number,
        );
        self.answers.retain(|_, value| !value.is_empty());
        fill(&mut self.contact.email, values.email);
        fill(&mut self.contact.name, values.name);
        fill(&mut self.contact.phone, values.phone);
    }
}

/// Where the complaint stands on its way to the collector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FormState {
    #[default]
    Editing,
    Sending,
    Sent(Receipt),
    /// Saved on this device after a failed send; retried automatically.
    Queued,
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

/// The whole form, driven by [`Action`]s through Yew's `use_reducer`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Form {
    pub step: Step,
    /// The steps after the categories for the chosen flow, in order.
    pub flow: Vec<Step>,
    pub draft: Draft,
    pub state: FormState,
    /// Inputs whose problems are shown: the shopper left them once, or
    /// pressed Next or Send. Before that, no input shouts at a shopper who
    /// has not finished typing.
    pub touched: BTreeSet<String>,
    /// What the collector refused, by input, until the shopper edits it.
    pub refused: Vec<FieldError>,
    /// Made on the first send of this complaint and reused by every retry,
    /// so the collector stores the complaint once however often it is sent.
    pub idempotency_key: Option<String>,
    /// When the form was first shown to the shopper, in milliseconds since
    /// the Unix epoch.
    pub shown_at_ms: Option<f64>,
    /// How long the form was open before the first send of this complaint.
    /// Kept with the key: a retry under the same key sends the same body.
    pub fill_ms: Option<u32>,
}

impl Form {
    /// True when pressing send should do nothing: a send is under way, done,
    /// or left to the outbox.
    pub fn is_busy_or_done(&self) -> bool {
        matches!(
            self.state,
            FormState::Sending | FormState::Sent(_) | FormState::Queued
        )
    }

    /// "Step 2 of 3" within the chosen flow, counting the categories first.
    pub fn progress(&self) -> Option<(usize, usize)> {
        let index = self.flow.iter().position(|step| *step == self.step)?;
        Some((index + 2, self.flow.len() + 1))
    }

    /// True on the flow's last step, where the button sends.
    pub fn is_last_step(&self) -> bool {
        self.flow.last() == Some(&self.step)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A category was chosen: its flow starts, with the questions step only
    /// when it has questions.
    ChooseCategory {
        id: String,
        with_questions: bool,
        suggestion: bool,
    },
    StartCallback,
    Next,
    Back,
    /// Jumps to a step of the current flow, e.g. to an input that needs a look.
    GoTo(Step),
    Answer(String, String),
    EditDescription(String),
    SetSeverity(Severity),
    SetMood(Mood),
    SetOutcome(Outcome, bool),
    EditRemedy(String),
    EditContact(ContactField, String),
    SetConsent(bool),
    EditCallbackWindow(String),
    SetPhotos(Rc<Vec<Photo>>),
    /// Show the problems of these inputs from now on.
    Touch(Vec<String>),
    Prefill(Prefill),
    Identify(Identity),
    /// The form is on the shopper's screen (the first time counts).
    Shown(f64),
    /// Sending starts; the key and the fill time are used only if this
    /// complaint has none yet.
    Send {
        idempotency_key: String,
        fill_ms: u32,
    },
    Stored(Receipt),
    Refused(ErrorBody),
    NotSent,
    /// The send failed for a reason worth retrying and the outbox has it.
    Queued,
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
            self.fill_ms = None;
        }
        self
    }

    fn edited(&mut self, path: &str) {
        self.refused.retain(|problem| problem.field != path);
    }

    fn apply_inner(mut self, action: Action) -> Form {
        match action {
            Action::ChooseCategory {
                id,
                with_questions,
                suggestion,
            } => {
                self.draft.category = Some(id);
                self.draft.kind = if suggestion {
                    SubmissionKind::Suggestion
                } else {
                    SubmissionKind::Complaint
                };
                self.edited("category");
                self.flow = if with_questions {
                    vec![Step::Questions, Step::Details, Step::Send]
                } else {
                    vec![Step::Details, Step::Send]
                };
                self.step = self.flow[0];
            }
            Action::StartCallback => {
                self.draft.kind = SubmissionKind::Callback;
                self.flow = vec![Step::Callback];
                self.step = Step::Callback;
            }
            Action::Next => {
                if let Some(index) = self.flow.iter().position(|step| *step == self.step)
                    && let Some(next) = self.flow.get(index + 1)
                {
                    self.step = *next;
                }
            }
            Action::Back => {
                let index = self.flow.iter().position(|step| *step == self.step);
                match index {
                    Some(index) if index > 0 => self.step = self.flow[index - 1],
                    _ => {
                        if self.draft.kind == SubmissionKind::Callback {
                            self.draft.kind = SubmissionKind::Complaint;
                        }
                        self.step = Step::Categories;
                    }
                }
            }
            Action::GoTo(step) => {
                if self.flow.contains(&step) {
                    self.step = step;
                }
            }
            Action::Answer(id, value) => {
                self.edited(&format!("answers.{id}"));
                if value.is_empty() {
                    self.draft.answers.remove(&id);
                } else {
                    self.draft.answers.insert(id, value);
                }
            }
            Action::EditDescription(text) => {
                self.draft.description = text;
                self.edited("description");
            }
            Action::SetSeverity(severity) => self.draft.severity = Some(severity),
            Action::SetMood(mood) => self.draft.mood = Some(mood),
            Action::SetOutcome(outcome, chosen) => {
                self.draft.set_outcome(outcome, chosen);
                self.edited("outcomes");
            }
            Action::EditRemedy(text) => {
                self.draft.remedy = text;
                self.edited("remedy");
            }
            Action::EditContact(field, text) => {
                match field {
                    ContactField::Name => self.draft.contact.name = text,
                    ContactField::Email => self.draft.contact.email = text,
                    ContactField::Phone => self.draft.contact.phone = text,
                }
                self.edited(field.path());
            }
            Action::SetConsent(consent) => {
                self.draft.contact.consent = consent;
                self.edited("contact.consent");
            }
            Action::EditCallbackWindow(window) => {
                self.draft.callback_window = window;
                self.edited("callback.window");
            }
            Action::SetPhotos(photos) => {
                self.draft.photos = photos;
                self.refused
                    .retain(|problem| !problem.field.starts_with("attachments"));
            }
            Action::Touch(paths) => self.touched.extend(paths),
            Action::Prefill(values) => self.draft.prefill(values),
            Action::Identify(identity) => {
                self.draft.prefill(Prefill {
                    order_number: identity.order_number.clone(),
                    email: identity.email.clone(),
                    name: identity.name.clone(),
                    ..Prefill::default()
                });
                self.draft.identity = Some(identity);
            }
            Action::Shown(now_ms) => {
                self.shown_at_ms.get_or_insert(now_ms);
            }
            Action::Send {
                idempotency_key,
                fill_ms,
            } => {
                if !self.is_busy_or_done() {
                    self.idempotency_key.get_or_insert(idempotency_key);
                    self.fill_ms.get_or_insert(fill_ms);
                    self.refused.clear();
                    self.state = FormState::Sending;
                }
            }
            Action::Stored(receipt) => {
                self.refused.clear();
                self.state = FormState::Sent(receipt);
            }
            Action::Refused(body) => {
                self.touched
                    .extend(body.fields.iter().map(|problem| problem.field.clone()));
                self.refused = body.fields;
                self.state = FormState::Failed(Problem::Refused(body.message));
            }
            Action::NotSent => self.state = FormState::Failed(Problem::NotSent),
            Action::Queued => self.state = FormState::Queued,
            Action::StartOver => {
                // The page's identity still describes the same shopper.
                let identity = self.draft.identity.take();
                let mut fresh = Form::default();
                if let Some(identity) = identity {
                    fresh = fresh.apply(Action::Identify(identity));
                }
                return fresh;
            }
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

    fn product() -> Action {
        Action::ChooseCategory {
            id: "product".to_owned(),
            with_questions: true,
            suggestion: false,
        }
    }

    fn typed() -> Vec<Action> {
        vec![
            product(),
            Action::Answer("order_number".to_owned(), "A-1029".to_owned()),
            Action::Next,
            Action::EditDescription("It broke after three uses.".to_owned()),
            Action::SetSeverity(Severity::CostMe),
            Action::SetMood(Mood::Upset),
            Action::SetOutcome(Outcome::Compensation, true),
            Action::SetOutcome(Outcome::Heard, true),
            Action::EditRemedy("A new one".to_owned()),
        ]
    }

    #[test]
    fn a_flow_walks_its_steps_and_back_to_the_categories() {
        let form = run(typed());
        assert_eq!(form.step, Step::Details);
        assert_eq!(form.progress(), Some((3, 4)));
        let form = form.apply(Action::Next);
        assert_eq!(form.step, Step::Send);
        assert!(form.is_last_step());
        let form = form.apply(Action::Next);
        assert_eq!(form.step, Step::Send, "Next on the last step stays");
        let form = form
            .apply(Action::Back)
            .apply(Action::Back)
            .apply(Action::Back);
        assert_eq!(form.step, Step::Categories);

        let no_questions = run([Action::ChooseCategory {
            id: "suggestion".to_owned(),
            with_questions: false,
            suggestion: true,
        }]);
        assert_eq!(no_questions.step, Step::Details);
        assert_eq!(no_questions.draft.kind, SubmissionKind::Suggestion);
        assert_eq!(no_questions.progress(), Some((2, 3)));
    }

    #[test]
    fn going_back_and_elsewhere_keeps_everything_typed() {
        let mut actions = typed();
        actions.extend([
            Action::Back,
            Action::Back,
            Action::ChooseCategory {
                id: "delivery".to_owned(),
                with_questions: true,
                suggestion: false,
            },
            Action::Answer("delivery_status".to_owned(), "late".to_owned()),
            Action::StartCallback,
            Action::Back,
            product(),
        ]);
        let form = run(actions);
        assert_eq!(form.step, Step::Questions);
        assert_eq!(form.draft.kind, SubmissionKind::Complaint);
        assert_eq!(form.draft.answer("order_number"), "A-1029");
        assert_eq!(form.draft.answer("delivery_status"), "late");
        assert_eq!(form.draft.description, "It broke after three uses.");
        assert_eq!(form.draft.remedy, "A new one");
        assert_eq!(form.draft.mood, Some(Mood::Upset));
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
    fn the_idempotency_key_is_made_once_and_reused_until_an_edit() {
        let mut actions = typed();
        actions.push(Action::Send {
            idempotency_key: "first-key-123".to_owned(),
            fill_ms: 9_000,
        });
        actions.push(Action::NotSent);
        let failed = run(actions.clone());
        assert_eq!(failed.state, FormState::Failed(Problem::NotSent));
        assert_eq!(failed.idempotency_key.as_deref(), Some("first-key-123"));

        let mut retried = actions.clone();
        retried.push(Action::Send {
            idempotency_key: "second-key-456".to_owned(),
            fill_ms: 9_000,
        });
        let retried = run(retried);
        assert_eq!(retried.state, FormState::Sending);
        assert_eq!(retried.idempotency_key.as_deref(), Some("first-key-123"));

        actions.push(Action::EditDescription(
            "It broke after two uses.".to_owned(),
        ));
        assert_eq!(run(actions).idempotency_key, None);
    }

    #[test]
    fn the_fill_time_is_measured_once_and_kept_with_the_key() {
        let mut actions = vec![Action::Shown(1_000.0)];
        actions.extend(typed());
        actions.push(Action::Shown(5_000.0));
        actions.push(Action::Send {
            idempotency_key: "first-key-123".to_owned(),
            fill_ms: 12_000,
        });
        actions.push(Action::NotSent);
        let failed = run(actions.clone());
        assert_eq!(
            failed.shown_at_ms,
            Some(1_000.0),
            "the first showing counts"
        );
        assert_eq!(failed.fill_ms, Some(12_000));

        // Sending again under the same key sends the same body.
        let mut again = actions.clone();
        again.push(Action::Send {
            idempotency_key: "second-key-456".to_owned(),
            fill_ms: 30_000,
        });
        assert_eq!(run(again).fill_ms, Some(12_000));

        // An edit makes a new complaint, timed at its own send.
        actions.push(Action::EditRemedy("Another one".to_owned()));
        let edited = run(actions);
        assert_eq!((edited.idempotency_key, edited.fill_ms), (None, None));
        assert_eq!(edited.shown_at_ms, Some(1_000.0));

        // A new complaint after a receipt is timed from when it is shown.
        let fresh = failed
            .apply(Action::Stored(receipt()))
            .apply(Action::StartOver);
        assert_eq!(fresh.shown_at_ms, None);
        assert_eq!(
            fresh.apply(Action::Shown(8_000.0)).shown_at_ms,
            Some(8_000.0)
        );
    }

    #[test]
    fn a_queued_complaint_waits_for_its_receipt() {
        let mut actions = typed();
        actions.push(Action::Send {
            idempotency_key: "first-key-123".to_owned(),
            fill_ms: 9_000,
        });
        actions.push(Action::Queued);
        let queued = run(actions.clone());
        assert!(queued.is_busy_or_done());
        let again = queued.clone().apply(Action::Send {
            idempotency_key: "other-key-456".to_owned(),
            fill_ms: 9_000,
        });
        assert_eq!(again, queued, "a second send while queued does nothing");
        actions.push(Action::Stored(receipt()));
        assert_eq!(run(actions).state, FormState::Sent(receipt()));
    }

    #[test]
    fn prefill_and_identity_never_overwrite_what_was_typed() {
        let form = run([
            Action::EditContact(ContactField::Email, "mine@example.org".to_owned()),
            Action::Prefill(Prefill {
                description: Some("From the page".to_owned()),
                email: Some("page@example.org".to_owned()),
                order_number: Some("A-77".to_owned()),
                ..Prefill::default()
            }),
            Action::Identify(Identity {
                customer_id: Some("c-9".to_owned()),
                name: Some("Ana".to_owned()),
                email: Some("known@example.org".to_owned()),
                ..Identity::default()
            }),
        ]);
        assert_eq!(form.draft.contact.email, "mine@example.org");
        assert_eq!(form.draft.contact.name, "Ana");
        assert_eq!(form.draft.description, "From the page");
        assert_eq!(form.draft.answer("order_number"), "A-77");
        assert_eq!(
            form.draft.identity.as_ref().unwrap().customer_id.as_deref(),
            Some("c-9")
        );
        // The shopper can still clear a prefilled field.
        let cleared = form.apply(Action::EditContact(ContactField::Name, String::new()));
        assert_eq!(cleared.draft.contact.name, "");
        // A new complaint after a receipt keeps who the page says they are.
        let fresh = cleared.apply(Action::StartOver);
        assert_eq!(fresh.draft.contact.name, "Ana");
        assert_eq!(fresh.draft.description, "");
    }

    #[test]
    fn collector_refusals_show_until_their_input_is_edited() {
        let body = ErrorBody {
            error: "invalid_submission".to_owned(),
            message: "Some answers need another look.".to_owned(),
            fields: vec![
                FieldError::new("description", "too_long", "Too long."),
                FieldError::new("page_url", "invalid", "Bad page address."),
            ],
        };
        let mut actions = typed();
        actions.push(Action::Send {
            idempotency_key: "first-key-123".to_owned(),
            fill_ms: 9_000,
        });
        actions.push(Action::Refused(body));
        let form = run(actions);
        assert_eq!(
            form.state,
            FormState::Failed(Problem::Refused(
                "Some answers need another look.".to_owned()
            ))
        );
        assert_eq!(form.refused.len(), 2);
        let edited = form.apply(Action::EditDescription("Shorter.".to_owned()));
        assert_eq!(edited.refused.len(), 1);
        assert_eq!(edited.refused[0].field, "page_url");
    }
}
