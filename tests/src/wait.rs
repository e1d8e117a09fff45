//! Waiting with a deadline. Tests never sleep to "give something time": they
//! poll for the state they need and fail with a message naming it.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::anyhow;

/// Long enough for a loaded 2-core machine, short enough to fail a stuck test quickly.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How long to wait between two checks.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `check` until it succeeds and returns its value, or fails after
/// `deadline` with a message that says what was awaited and the last error.
pub async fn until<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let started = Instant::now();
    loop {
        let last_error = match check().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if started.elapsed() >= deadline {
            return Err(anyhow!(
                "gave up after {deadline:?} waiting for {what}; last attempt: {last_error:#}"
            ));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
