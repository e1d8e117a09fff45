//! The one error shape every JSON endpoint answers with.

use serde::{Deserialize, Serialize};

/// `{ "error": code, "message": text }`, plus per-field problems when the
/// request failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `invalid_submission`.
    pub error: String,
    /// A sentence a person can act on.
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's path in the submission, e.g. `description` or `contact.email`.
    pub field: String,
    /// A stable code: `required`, `too_long`, `too_short`, `invalid`, `unknown`, `too_many`.
    pub code: String,
    /// A sentence a person can act on.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}
