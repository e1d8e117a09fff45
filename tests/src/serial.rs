//! One browser scenario at a time within a test binary.
//!
//! Tests in one file run on parallel threads; each starts its own collector
//! and Chromium, which two shared cores cannot run side by side without
//! starving the deadlines. Scenarios take this lock first.

use tokio::sync::{Mutex, MutexGuard};

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Waits for the other scenarios in this binary to finish.
pub async fn one_browser_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}
