//! What the collector does, independent of HTTP and of SQLite.

pub mod accounts;
pub mod attachments;
pub mod demo;
pub mod identity;
pub mod inbox;
pub mod intake;
pub mod janitor;
pub mod photos;
pub mod receipts;
pub mod token;
