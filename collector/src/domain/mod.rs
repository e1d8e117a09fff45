//! What the collector does, independent of HTTP and of SQLite.

pub mod demo;
pub mod intake;
pub mod token;
