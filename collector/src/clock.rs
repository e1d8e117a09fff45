//! Wall-clock time as the collector stores and shows it.
//!
//! Times are stored as milliseconds since the Unix epoch (UTC) and shown as
//! RFC 3339 on the wire.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Where code that reasons about time (session expiry, login delays) reads
/// "now". A parameter rather than a global so tests move time forward
/// instead of sleeping.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The wall clock.
    #[default]
    System,
    /// A clock that stands still until moved; shared by every clone.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `millis`.
    pub fn manual(millis: i64) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(millis)))
    }

    pub fn now_millis(&self) -> i64 {
        match self {
            Clock::System => now_millis(),
            Clock::Manual(millis) => millis.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; the wall clock cannot be moved.
    pub fn advance(&self, millis: i64) {
        if let Clock::Manual(now) = self {
            now.fetch_add(millis, Ordering::SeqCst);
        }
    }
}

fn from_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2026-11-23T05:12:09.123Z`.
pub fn rfc3339(millis: i64) -> String {
    from_millis(millis)
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

/// `23 Nov 2026, 05:12 UTC`, for pages read by people.
pub fn human(millis: i64) -> String {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    from_millis(millis)
        .format(&format)
        .unwrap_or_else(|_| rfc3339(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_stable() {
        assert_eq!(rfc3339(1_795_410_729_123), "2026-11-23T05:12:09.123Z");
        assert_eq!(human(1_795_410_729_123), "23 Nov 2026, 05:12 UTC");
    }
}
