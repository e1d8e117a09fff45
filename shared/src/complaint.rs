//! What the widget sends when a shopper complains.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One complaint, as submitted to `POST /api/v1/sites/{site_key}/complaints`.
///
/// Only `category`, `description` and `language` are required: the widget asks
/// nothing that is not needed, and older widgets keep working as fields are
/// added here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintSubmission {
    /// The id of one of the site's categories (see [`crate::SiteConfig`]).
    pub category: String,
    /// What happened, in the shopper's words.
    pub description: String,
    /// What would make it right; staff see this first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<Outcome>,
    /// "What would make this right?" in the shopper's own words, optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mood: Option<Mood>,
    /// The language the shopper used, as a BCP 47 tag.
    pub language: String,
    /// The page the widget was opened on; filled in by the widget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    /// The browser's user agent; filled in by the widget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Answers to the category's guided questions, by question id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, String>,
    /// Absent means anonymous, which is the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// A complaint, the softer suggestion, or a callback request.
    #[serde(default, skip_serializing_if = "SubmissionKind::is_complaint")]
    pub kind: SubmissionKind,
    /// For a callback request: when the shopper would like to be called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackRequest>,
    /// Photos uploaded first through `POST /api/v1/sites/{site_key}/attachments`,
    /// by the ids that endpoint returned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// Who the merchant's page says the shopper is (`Heard('identify', …)`),
    /// optionally vouched for by a signature from the merchant's server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// The widget's hidden "leave this empty" field. People never see it, so
    /// anything in it marks the complaint as suspected spam: it is stored and
    /// answered like any other, but waits in the inbox's spam folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honeypot: Option<String>,
    /// How long the form was open before it was sent, in milliseconds, as the
    /// widget measured it. Below [`crate::limits::MIN_FILL_MS`] the complaint
    /// is suspected spam (see `honeypot`). Absent for API clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_ms: Option<u32>,
}

/// What kind of message the shopper is sending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionKind {
    #[default]
    Complaint,
    /// The softer path for shoppers who would rather not "complain".
    Suggestion,
    /// "Please call me": needs a phone number and consent.
    Callback,
}

impl SubmissionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complaint => "complaint",
            Self::Suggestion => "suggestion",
            Self::Callback => "callback",
        }
    }

    fn is_complaint(&self) -> bool {
        *self == Self::Complaint
    }
}

/// A request to be called back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRequest {
    /// When to call, in the shopper's words or as chosen from the widget's
    /// options, e.g. "weekdays 17:00–19:00".
    pub window: String,
}

/// The shopper as the merchant's page knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The merchant's own id for the customer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    /// Hex HMAC-SHA256, keyed with the site's identity secret, of
    /// `customer_id` if given, else of `email`. Computed on the merchant's
    /// server; the collector marks the identity verified when it matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// What the shopper wants; several may be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// To be heard.
    Heard,
    /// To be respected: an apology.
    Apology,
    /// A solution: repair, replace, fix.
    Fix,
    /// Compensation: refund, credit.
    Compensation,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Self::Heard, Self::Apology, Self::Fix, Self::Compensation];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Heard => "heard",
            Self::Apology => "apology",
            Self::Fix => "fix",
            Self::Compensation => "compensation",
        }
    }

    /// English wording as the shopper sees it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Heard => "Just to be heard",
            Self::Apology => "An apology",
            Self::Fix => "A fix, repair or replacement",
            Self::Compensation => "A refund or compensation",
        }
    }
}

/// How bad it is, in the shopper's judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A mere inconvenience.
    Inconvenience,
    /// It cost me time or money.
    CostMe,
    /// Serious loss, or a safety problem.
    Serious,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Self::Inconvenience, Self::CostMe, Self::Serious];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inconvenience => "inconvenience",
            Self::CostMe => "cost_me",
            Self::Serious => "serious",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Inconvenience => "An inconvenience",
            Self::CostMe => "It cost me time or money",
            Self::Serious => "Serious loss or a safety problem",
        }
    }
}

/// How the shopper feels, from calm to furious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mood {
    Calm,
    Annoyed,
    Upset,
    Furious,
}

impl Mood {
    pub const ALL: [Mood; 4] = [Self::Calm, Self::Annoyed, Self::Upset, Self::Furious];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Calm => "calm",
            Self::Annoyed => "annoyed",
            Self::Upset => "upset",
            Self::Furious => "furious",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Calm => "Calm",
            Self::Annoyed => "Annoyed",
            Self::Upset => "Upset",
            Self::Furious => "Furious",
        }
    }
}

/// Optional contact details. The shopper must consent before staff may use
/// them; without consent the collector does not store them at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The shopper agreed to be contacted about this complaint.
    #[serde(default)]
    pub consent: bool,
}

impl Contact {
    /// True when no way to reach the shopper was given.
    pub fn is_empty(&self) -> bool {
        [&self.name, &self.email, &self.phone]
            .iter()
            .all(|field| field.as_deref().is_none_or(|text| text.trim().is_empty()))
    }
}
