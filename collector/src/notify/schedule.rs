//! When to try a notification again: the Standard Webhooks retry schedule.
//!
//! The first attempt is immediate; after each failure the next one waits 5
//! seconds, 5 minutes, 30 minutes, 2 hours, 5 hours, 10 hours and 10 hours,
//! each stretched by up to a fifth at random so that many notifications
//! failing together do not return together. After the last delay the
//! notification is dead. An operator can shorten the delays
//! (`notify_retry_delays_ms`), which the end-to-end tests do.

use std::time::Duration;

/// The spec's delays after the 1st, 2nd, … failure, in ms.
pub const STANDARD_DELAYS_MS: [i64; 7] = [
    5_000,
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    5 * 3_600_000,
    10 * 3_600_000,
    10 * 3_600_000,
];

/// The longest `Retry-After` honoured; a longer one waits this long.
pub const MAX_RETRY_AFTER_MS: i64 = 10 * 3_600_000;

/// The delays between attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    delays_ms: Vec<i64>,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            delays_ms: STANDARD_DELAYS_MS.to_vec(),
        }
    }
}

impl Schedule {
    /// A schedule with these delays (negative ones count as zero).
    pub fn new(delays_ms: &[i64]) -> Schedule {
        Schedule {
            delays_ms: delays_ms.iter().map(|delay| (*delay).max(0)).collect(),
        }
    }

    /// Attempts in all: the first, then one after each delay.
    pub fn attempts(&self) -> u32 {
        self.delays_ms.len() as u32 + 1
    }

    /// When to try again after the `failures`-th failed attempt (1-based),
    /// or `None`: the notification is dead. `retry_after` (the receiver's
    /// `Retry-After`) replaces the scheduled delay, within one second and
    /// [`MAX_RETRY_AFTER_MS`]. `jitter` in `[0, 1)` stretches a scheduled
    /// delay by up to 20 %; it never makes one shorter than the spec's.
    pub fn retry_at(
        &self,
        now: i64,
        failures: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<i64> {
        let index = usize::try_from(failures.checked_sub(1)?).ok()?;
        let scheduled = *self.delays_ms.get(index)?;
        let delay = match retry_after {
            Some(wait) => {
                (wait.as_millis().min(i64::MAX as u128) as i64).clamp(1_000, MAX_RETRY_AFTER_MS)
            }
            None => scheduled + (scheduled as f64 * 0.2 * jitter.clamp(0.0, 1.0)) as i64,
        };
        Some(now + delay)
    }
}

/// A number in `[0, 1)` from the OS's generator.
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    crate::random::fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_schedule_has_eight_attempts_then_gives_up() {
        let schedule = Schedule::default();
        assert_eq!(schedule.attempts(), 8);
        let delays: Vec<i64> = (1..=7)
            .map(|failures| schedule.retry_at(0, failures, None, 0.0).unwrap())
            .collect();
        assert_eq!(delays, STANDARD_DELAYS_MS);
        assert_eq!(schedule.retry_at(0, 8, None, 0.0), None);
        assert_eq!(schedule.retry_at(0, 0, None, 0.0), None);
    }

    #[test]
    fn jitter_only_stretches_and_retry_after_replaces_the_delay() {
        let schedule = Schedule::default();
        let stretched = schedule.retry_at(1_000, 2, None, 0.999).unwrap() - 1_000;
        assert!((300_000..=360_000).contains(&stretched), "{stretched}");
        assert_eq!(
            schedule.retry_at(0, 3, Some(Duration::from_secs(7)), 0.5),
            Some(7_000)
        );
        // A zero Retry-After still waits a second; an absurd one is capped.
        assert_eq!(
            schedule.retry_at(0, 1, Some(Duration::ZERO), 0.0),
            Some(1_000)
        );
        assert_eq!(
            schedule.retry_at(0, 1, Some(Duration::from_secs(86_400 * 365)), 0.0),
            Some(MAX_RETRY_AFTER_MS)
        );
        // Retry-After does not buy attempts beyond the schedule.
        assert_eq!(
            schedule.retry_at(0, 8, Some(Duration::from_secs(1)), 0.0),
            None
        );
    }

    #[test]
    fn an_operator_schedule_is_used_as_given() {
        let schedule = Schedule::new(&[100, -5]);
        assert_eq!(schedule.attempts(), 3);
        assert_eq!(schedule.retry_at(10, 1, None, 0.0), Some(110));
        assert_eq!(schedule.retry_at(10, 2, None, 0.0), Some(10));
        assert_eq!(schedule.retry_at(10, 3, None, 0.0), None);
    }
}
