//! Wall-clock time as the collector stores and shows it.
//!
//! Times are stored as milliseconds since the Unix epoch (UTC) and shown as
//! RFC 3339 on the wire.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
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
