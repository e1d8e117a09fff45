//! The form's two steps: choose what went wrong, then say what happened and
//! what would make it right.

pub mod categories;
pub mod details;
