//! A site's public configuration: what the widget needs to draw itself.

use serde::{Deserialize, Serialize};

/// Answer of `GET /api/v1/sites/{site_key}/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteConfig {
    pub site_key: String,
    /// The shop's name as shoppers know it.
    pub name: String,
    /// Languages the merchant supports, as BCP 47 tags; the first is the default.
    pub languages: Vec<String>,
    /// The categories a shopper chooses from, in display order.
    pub categories: Vec<Category>,
    /// Ways to reach the merchant besides the guided form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub branding: Branding,
    /// The merchant's promise of a first answer, in hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_target_hours: Option<u32>,
}

impl SiteConfig {
    /// A new site with the default taxonomy, every language the widget
    /// speaks (English first, as the default), and the guided form only.
    pub fn with_defaults(site_key: &str, name: &str) -> SiteConfig {
        SiteConfig {
            site_key: site_key.to_owned(),
            name: name.to_owned(),
            languages: WIDGET_LANGUAGES
                .iter()
                .map(|tag| (*tag).to_owned())
                .collect(),
            categories: default_categories(),
            channels: Vec::new(),
            branding: Branding::default(),
            response_target_hours: Some(24),
        }
    }

    /// The visible category with this id.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories
            .iter()
            .find(|category| category.id == id && !category.hidden)
    }

    /// The categories a shopper can choose, in order.
    pub fn visible_categories(&self) -> impl Iterator<Item = &Category> {
        self.categories.iter().filter(|category| !category.hidden)
    }
}

/// The languages the widget has catalogs for, as BCP 47 tags. A shopper
/// reads the first of these the site offers that matches their page or
/// browser; merchants narrow the list in their site configuration.
pub const WIDGET_LANGUAGES: [&str; 10] = [
    "en", "zh-Hans", "zh-Hant", "es", "fr", "de", "ja", "ko", "pt", "ar",
];

/// One kind of complaint a shopper can choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Stable id recorded with each complaint, e.g. `product`.
    pub id: String,
    /// What the shopper reads, e.g. "Product problem".
    pub label: String,
    /// A short hint under the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The value the customer holds when complaining about this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ValueOrientation>,
    /// Always urgent: never left in a queue (safety and health).
    #[serde(default, skip_serializing_if = "is_false")]
    pub urgent: bool,
    /// The softer path for shoppers who would rather not "complain".
    #[serde(default, skip_serializing_if = "is_false")]
    pub suggestion: bool,
    /// Hidden categories stay valid for old complaints but are not offered.
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
    /// The short guided questions asked for this category, in order. Their
    /// answers travel in `ComplaintSubmission::answers`, keyed by question id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<Question>,
}

/// One guided question. The widget takes the wording of the default
/// questions from its language catalogs by `id`; `label` and `hint` are what
/// a merchant's own questions show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// Stable id, also the key of the answer: letters, digits, `-` and `_`.
    pub id: String,
    pub label: String,
    pub kind: QuestionKind,
    /// The option ids of a `choice` question; ignored for other kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Most questions are optional: the brief asks nothing that is not needed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What kind of answer a question takes, which decides its input and checks.
///
/// A plain string on the wire rather than a tagged enum: serde's tagged and
/// flattened forms cost the widget kilobytes of code that shoppers download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    Text,
    LongText,
    /// A calendar date, answered as `YYYY-MM-DD`.
    Date,
    /// An order, invoice or membership number as printed on a receipt.
    OrderNumber,
    /// One of the question's `options`.
    Choice,
    /// Proof of purchase, where an invoice is only one of the alternatives
    /// (the cautionary case of the lost invoice in the brief).
    Proof,
}

/// The proof-of-purchase alternatives a `Proof` question offers.
pub const PROOF_OPTIONS: [&str; 6] = [
    "invoice",
    "warranty_card",
    "receipt_photo",
    "order_number",
    "membership_number",
    "none",
];

impl Question {
    /// The choices a shopper picks from, for choice and proof questions.
    pub fn options(&self) -> Vec<&str> {
        match self.kind {
            QuestionKind::Choice => self.options.iter().map(String::as_str).collect(),
            QuestionKind::Proof => PROOF_OPTIONS.to_vec(),
            _ => Vec::new(),
        }
    }

    /// Checks one answer as the shopper types it. An empty answer is fine
    /// unless the question is required. Returns an error code:
    /// `required`, `too_long`, `invalid_date`, `invalid_order_number` or
    /// `unknown_option`.
    pub fn check_answer(&self, answer: &str) -> Result<(), &'static str> {
        let answer = answer.trim();
        if answer.is_empty() {
            return if self.required {
                Err("required")
            } else {
                Ok(())
            };
        }
        if answer.chars().count() > crate::limits::ANSWER_VALUE_MAX_CHARS {
            return Err("too_long");
        }
        match self.kind {
            QuestionKind::Date if !is_calendar_date(answer) => Err("invalid_date"),
            QuestionKind::OrderNumber if !is_order_number(answer) => Err("invalid_order_number"),
            QuestionKind::Choice | QuestionKind::Proof if !self.options().contains(&answer) => {
                Err("unknown_option")
            }
            _ => Ok(()),
        }
    }
}

/// `YYYY-MM-DD` with a real month and a day that month can have.
pub fn is_calendar_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return false;
    };
    let number = |part: &str, digits: usize| {
        (part.len() == digits && part.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    let (Some(year), Some(month), Some(day)) = (number(year, 4), number(month, 2), number(day, 2))
    else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

/// 3 to 40 characters of letters, digits, spaces and `- _ # / .`, with at
/// least one digit: order, invoice and membership numbers as printed.
pub fn is_order_number(text: &str) -> bool {
    (3..=40).contains(&text.chars().count())
        && text.chars().any(|c| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '#' | '/' | '.'))
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The value a complaint reveals (its "value orientation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueOrientation {
    Speed,
    Courtesy,
    ValueForMoney,
    Reliability,
    Flexibility,
    PersonalCare,
    Convenience,
    Safety,
}

impl ValueOrientation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Speed => "speed",
            Self::Courtesy => "courtesy",
            Self::ValueForMoney => "value_for_money",
            Self::Reliability => "reliability",
            Self::Flexibility => "flexibility",
            Self::PersonalCare => "personal_care",
            Self::Convenience => "convenience",
            Self::Safety => "safety",
        }
    }
}

/// A way to reach the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub kind: ChannelKind,
    pub label: String,
    /// A phone number, an email address or a chat URL, depending on `kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Call,
    Email,
    Chat,
    Callback,
}

/// How the widget looks on this site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    /// The accent colour as `#rrggbb`.
    pub accent_color: String,
    /// The launcher's text.
    pub launcher_label: String,
    /// The invitation at the top of the form.
    pub invitation: String,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            accent_color: "#1f5fbf".to_owned(),
            launcher_label: "Something wrong?".to_owned(),
            invitation: "Something not right? Tell us — we read every message.".to_owned(),
        }
    }
}

/// The default complaint taxonomy from the product brief; merchants edit it.
pub fn default_categories() -> Vec<Category> {
    let category = |id: &str, label: &str, hint: &str, value: Option<ValueOrientation>| Category {
        id: id.to_owned(),
        label: label.to_owned(),
        hint: Some(hint.to_owned()),
        value,
        urgent: false,
        suggestion: false,
        hidden: false,
        questions: default_questions(id),
    };
    use ValueOrientation::*;
    vec![
        category(
            "product",
            "Product problem",
            "Faulty, broken or not as described",
            Some(Reliability),
        ),
        category(
            "delivery",
            "Delivery or waiting",
            "Late, missing, or kept waiting",
            Some(Speed),
        ),
        category(
            "staff",
            "Staff or service attitude",
            "How you were treated",
            Some(Courtesy),
        ),
        category(
            "billing",
            "Price, billing or refund",
            "Charges, refunds, what you paid",
            Some(ValueForMoney),
        ),
        category(
            "policy",
            "Policy or rules",
            "A rule that got in your way",
            Some(Flexibility),
        ),
        category(
            "website",
            "Website or app",
            "Something on this site did not work",
            Some(Convenience),
        ),
        Category {
            urgent: true,
            ..category(
                "safety",
                "Safety or health",
                "Someone could be or was hurt",
                Some(Safety),
            )
        },
        Category {
            suggestion: true,
            ..category(
                "suggestion",
                "Suggestion or other",
                "An idea, or anything else",
                None,
            )
        },
    ]
}

/// The guided questions of a default category, from the brief's taxonomy
/// table. All optional, so the shortest path stays one description long.
pub fn default_questions(category_id: &str) -> Vec<Question> {
    use QuestionKind::*;
    let question = |id: &str, label: &str, kind: QuestionKind| Question {
        id: id.to_owned(),
        label: label.to_owned(),
        kind,
        options: Vec::new(),
        required: false,
        hint: None,
    };
    let choice_question = |id: &str, label: &str, options: &[&str]| Question {
        options: options.iter().map(|option| (*option).to_owned()).collect(),
        ..question(id, label, Choice)
    };
    match category_id {
        "product" => vec![
            question("product", "Which product?", Text),
            question("order_number", "Order number", OrderNumber),
            question("purchase_date", "When did you buy it?", Date),
            question("proof", "What proof of purchase do you have?", Proof),
        ],
        "delivery" => vec![
            question("order_number", "Order number", OrderNumber),
            question("promised_date", "When was it promised?", Date),
            question("actual_date", "When did it arrive?", Date),
            choice_question(
                "delivery_status",
                "Where is it now?",
                &["not_arrived", "late", "damaged", "incomplete", "wrong_item"],
            ),
        ],
        "staff" => vec![
            question("where", "Where did it happen?", Text),
            question("when", "When did it happen?", Date),
            question("staff_name", "Name of the person", Text),
        ],
        "billing" => vec![
            question("order_number", "Order number", OrderNumber),
            question("amount", "Amount charged", Text),
            question("expected", "What did you expect to pay or get back?", Text),
        ],
        "policy" => vec![
            question("rule", "Which rule?", Text),
            question("need", "What do you need?", LongText),
        ],
        "website" => vec![
            question("page", "Which page or screen?", Text),
            choice_question(
                "device",
                "Which device?",
                &["phone", "tablet", "computer", "other"],
            ),
        ],
        "safety" => vec![
            choice_question(
                "anyone_hurt",
                "Was anyone hurt?",
                &["yes", "no", "not_sure"],
            ),
            question("product", "Which product?", Text),
            question("batch", "Batch or lot number", Text),
        ],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_taxonomy_matches_the_brief() {
        let config = SiteConfig::with_defaults("demo", "Demo shop");
        let ids: Vec<&str> = config.categories.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "product",
                "delivery",
                "staff",
                "billing",
                "policy",
                "website",
                "safety",
                "suggestion"
            ]
        );
        let safety = config.category("safety").unwrap();
        assert!(safety.urgent);
        assert_eq!(safety.value, Some(ValueOrientation::Safety));
        assert!(config.category("suggestion").unwrap().suggestion);
        let product = config.category("product").unwrap();
        assert!(
            product
                .questions
                .iter()
                .any(|q| q.kind == QuestionKind::Proof)
        );
        assert!(config.categories.iter().all(|c| c.questions.len() <= 6));
    }

    #[test]
    fn answers_are_checked_by_their_kind() {
        let order = Question {
            id: "order_number".to_owned(),
            label: "Order".to_owned(),
            kind: QuestionKind::OrderNumber,
            options: Vec::new(),
            required: false,
            hint: None,
        };
        assert_eq!(order.check_answer(""), Ok(()));
        assert_eq!(order.check_answer("#A-10293"), Ok(()));
        assert_eq!(order.check_answer("abc"), Err("invalid_order_number"));
        let required = Question {
            required: true,
            ..order.clone()
        };
        assert_eq!(required.check_answer("  "), Err("required"));
        let date = Question {
            kind: QuestionKind::Date,
            ..order.clone()
        };
        assert_eq!(date.check_answer("2024-02-29"), Ok(()));
        assert_eq!(date.check_answer("2023-02-29"), Err("invalid_date"));
        assert_eq!(date.check_answer("29/02/2024"), Err("invalid_date"));
        let proof = Question {
            kind: QuestionKind::Proof,
            ..order
        };
        assert_eq!(proof.check_answer("warranty_card"), Ok(()));
        assert_eq!(proof.check_answer("receipt?"), Err("unknown_option"));
    }

    #[test]
    fn questions_serialise_with_a_flat_kind() {
        let question = &default_questions("website")[1];
        let json = serde_json::to_value(question).unwrap();
        assert_eq!(json["kind"], "choice");
        assert_eq!(json["options"][0], "phone");
        let back: Question = serde_json::from_value(json).unwrap();
        assert_eq!(&back, question);
    }

    #[test]
    fn hidden_categories_are_not_offered() {
        let mut config = SiteConfig::with_defaults("demo", "Demo shop");
        config.categories[0].hidden = true;
        assert!(config.category("product").is_none());
        assert_eq!(config.visible_categories().count(), 7);
    }

    #[test]
    fn old_clients_without_optional_fields_still_parse() {
        let json = r#"{"site_key":"s","name":"n","languages":["en"],
            "categories":[{"id":"a","label":"A"}],"some_future_field":1}"#;
        let config: SiteConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.branding, Branding::default());
        assert!(config.channels.is_empty());
    }
}
