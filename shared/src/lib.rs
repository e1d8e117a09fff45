//! Wire types and validation rules shared by the widget and the collector.
//!
//! This crate compiles for `wasm32-unknown-unknown` and for the host, and it
//! depends on nothing but `serde`: the widget runs these rules for instant
//! feedback, the collector runs them again and its answer is final.
//!
//! Wire types evolve compatibly. Widgets already embedded on merchant sites lag
//! behind the collector, so every field added after v1 must be optional
//! (`#[serde(default)]`) and unknown fields are ignored.

pub mod attachment;
pub mod complaint;
pub mod error;
pub mod limits;
pub mod proof;
pub mod receipt;
pub mod reference;
pub mod site;
pub mod site_rules;
pub mod validate;

pub use attachment::AttachmentReceipt;
pub use complaint::{
    CallbackRequest, ComplaintSubmission, Contact, Identity, Mood, Outcome, Severity,
    SubmissionKind,
};
pub use error::{ErrorBody, FieldError};
pub use proof::{Challenge, PROOF_HEADER};
pub use receipt::{Receipt, ReceiptSummary, Status};
pub use reference::Reference;
pub use site::{Branding, Category, Channel, ChannelKind, SiteConfig, ValueOrientation};
pub use validate::validate_submission;

/// The version segment of every JSON API path (`/api/v1/...`).
pub const API_VERSION: &str = "v1";

/// The request header that makes a complaint submission safe to retry.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
