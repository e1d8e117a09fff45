//! What the collector does, independent of HTTP and of SQLite.

pub mod accounts;
pub mod attachments;
pub mod buckets;
pub mod clusters;
pub mod demo;
pub mod digest;
pub mod escalation;
pub mod followup;
pub mod identity;
pub mod inbox;
pub mod inbox_work;
pub mod insights;
pub mod intake;
pub mod janitor;
pub mod live;
pub mod photos;
#[cfg(test)]
mod photos_props;
pub mod proof;
pub mod receipts;
pub mod retention;
pub mod routing;
pub mod spam;
pub mod token;
