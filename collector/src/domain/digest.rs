//! The owners' digests: a daily and a weekly summary email (new, overdue
//! and resolved complaints, satisfaction, top clusters, top value
//! orientations), queued once per period at a configured hour.
//!
//! Periods are computed here from the time passed in, in UTC: the daily
//! period ends every day at `hour`, the weekly one on `weekday` at `hour`.
//! `store::digest` remembers which periods were queued, so a restart or a
//! second sweep in the same hour queues nothing twice.

use serde::Serialize;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestKind {
    Daily,
    Weekly,
}

impl DigestKind {
    pub const ALL: [DigestKind; 2] = [DigestKind::Daily, DigestKind::Weekly];

    pub fn as_str(self) -> &'static str {
        match self {
            DigestKind::Daily => "daily",
            DigestKind::Weekly => "weekly",
        }
    }

    /// The outbox event name.
    pub fn event(self) -> &'static str {
        match self {
            DigestKind::Daily => "digest.daily",
            DigestKind::Weekly => "digest.weekly",
        }
    }

    pub fn length_ms(self) -> i64 {
        match self {
            DigestKind::Daily => DAY_MS,
            DigestKind::Weekly => 7 * DAY_MS,
        }
    }
}

/// When digests go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestPolicy {
    /// The hour of the day (UTC, 0–23) a period ends and its digest is queued.
    pub hour: u32,
    /// The day the weekly digest is queued: 1 Monday … 7 Sunday.
    pub weekday: u32,
    /// How many clusters and value orientations the digest names.
    pub top: usize,
}

pub const DEFAULT_HOUR: u32 = 7;
pub const DEFAULT_WEEKDAY: u32 = 1;

impl Default for DigestPolicy {
    fn default() -> Self {
        DigestPolicy::new(DEFAULT_HOUR, DEFAULT_WEEKDAY)
    }
}

impl DigestPolicy {
    /// Out-of-range values fall back to the defaults.
    pub fn new(hour: u32, weekday: u32) -> DigestPolicy {
        DigestPolicy {
            hour: if hour < 24 { hour } else { DEFAULT_HOUR },
            weekday: if (1..=7).contains(&weekday) {
                weekday
            } else {
                DEFAULT_WEEKDAY
            },
            top: 3,
        }
    }

    /// The end of the latest period of `kind` at or before `now`; the
    /// period is `[end - length, end)`.
    pub fn period_end(&self, kind: DigestKind, now: i64) -> i64 {
        let mut end = now.div_euclid(DAY_MS) * DAY_MS + i64::from(self.hour) * HOUR_MS;
        if end > now {
            end -= DAY_MS;
        }
        if kind == DigestKind::Weekly {
            // 1 January 1970 was a Thursday (4).
            let weekday = (end.div_euclid(DAY_MS) + 3).rem_euclid(7) + 1;
            end -= (weekday - i64::from(self.weekday)).rem_euclid(7) * DAY_MS;
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday 23 November 2026, 00:00 UTC.
    const MONDAY: i64 = 1_795_392_000_000;

    #[test]
    fn periods_end_at_the_hour_and_the_week_on_its_day() {
        assert_eq!(crate::clock::rfc3339(MONDAY), "2026-11-23T00:00:00Z");
        let policy = DigestPolicy::default();
        let seven = MONDAY + 7 * HOUR_MS;
        // Before 07:00 on Monday, the latest daily period ended on Sunday.
        assert_eq!(
            policy.period_end(DigestKind::Daily, seven - 1),
            seven - DAY_MS
        );
        assert_eq!(policy.period_end(DigestKind::Daily, seven), seven);
        assert_eq!(policy.period_end(DigestKind::Weekly, seven), seven);
        assert_eq!(
            policy.period_end(DigestKind::Weekly, seven - 1),
            seven - 7 * DAY_MS
        );
        // Thursday: the week still ended on Monday.
        assert_eq!(
            policy.period_end(DigestKind::Weekly, seven + 3 * DAY_MS + 5 * HOUR_MS),
            seven
        );
        let friday = DigestPolicy::new(18, 5);
        assert_eq!(
            friday.period_end(DigestKind::Weekly, MONDAY),
            MONDAY - 3 * DAY_MS + 18 * HOUR_MS
        );
        assert_eq!(DigestPolicy::new(99, 0), DigestPolicy::default());
    }
}
