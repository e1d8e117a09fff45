//! What the shopper gets back the moment their complaint is stored.

use serde::{Deserialize, Serialize};

use crate::complaint::Outcome;

/// The acknowledgement receipt. The collector answers with it only after the
/// complaint is committed to disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The short human reference, e.g. `HRD-7K3Q-9M2X`.
    pub reference: String,
    /// When the complaint was stored, RFC 3339 in UTC.
    pub created_at: String,
    pub status: Status,
    /// The private, unguessable link to the complaint's status page.
    pub status_url: String,
    /// What was sent, so the shopper can check it.
    pub summary: ReceiptSummary,
    /// The site's promise, e.g. "a person will answer within 24 hours".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_target_hours: Option<u32>,
}

/// A short summary of the complaint, shown on the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptSummary {
    pub category: String,
    pub category_label: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<Outcome>,
    /// True when the shopper left no contact details.
    pub anonymous: bool,
}

/// Where a complaint stands, as the shopper sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Received,
    Acknowledged,
    InProgress,
    WaitingForYou,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Self::Received,
        Self::Acknowledged,
        Self::InProgress,
        Self::WaitingForYou,
        Self::Resolved,
        Self::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Acknowledged => "acknowledged",
            Self::InProgress => "in_progress",
            Self::WaitingForYou => "waiting_for_you",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Received => "Received",
            Self::Acknowledged => "Acknowledged",
            Self::InProgress => "In progress",
            Self::WaitingForYou => "Waiting for you",
            Self::Resolved => "Resolved",
            Self::Closed => "Closed",
        }
    }
}
