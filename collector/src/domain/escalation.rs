//! SLA escalation: when a complaint's first response or resolution is
//! overdue, people are told in steps — the assignee, then the team lead(s),
//! then the owners — each step at its delay after the breach, each at most
//! once per complaint and promise.
//!
//! The rules here are pure (time is passed in); `store::escalation` finds
//! the overdue complaints and records each step with its timeline event and
//! its notifications in one writer job; `notify::sweeps` runs it on a timer.

use serde::Serialize;

/// A promise to the shopper that can be broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    FirstResponse,
    Resolution,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::FirstResponse, Target::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::FirstResponse => "first_response",
            Target::Resolution => "resolution",
        }
    }

    pub fn parse(text: &str) -> Option<Target> {
        Target::ALL
            .into_iter()
            .find(|target| target.as_str() == text)
    }
}

/// Who one step tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The assignee; for a complaint nobody has taken, its team's members.
    Assignee,
    /// The leads of the complaint's team.
    TeamLead,
    /// The merchant's owners.
    Owners,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Assignee, Level::TeamLead, Level::Owners];

    /// The step number stored for this level: 1, 2, 3.
    pub fn step(self) -> u8 {
        match self {
            Level::Assignee => 1,
            Level::TeamLead => 2,
            Level::Owners => 3,
        }
    }

    pub fn from_step(step: u8) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.step() == step)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Assignee => "assignee",
            Level::TeamLead => "team_lead",
            Level::Owners => "owners",
        }
    }
}

/// When each step happens, counted from the breach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPolicy {
    /// Delay after the breach for the assignee, the team lead(s), the owners.
    pub delays_ms: [i64; 3],
    /// Overdue complaints handled per writer job.
    pub batch: usize,
    /// How long after its last step's delay a breach is still looked at:
    /// after downtime longer than this, the missed steps are not taken (the
    /// complaint still shows as overdue in the inbox and the digest). It
    /// bounds the sweep's work to recent breaches, however many old overdue
    /// complaints a merchant has.
    pub horizon_ms: i64,
}

/// A week: a collector down longer than that has bigger news to send.
pub const DEFAULT_HORIZON_MS: i64 = 7 * 24 * 3_600_000;

/// Defaults: the assignee at once, the team lead an hour later, the owners
/// four hours after the breach.
pub const DEFAULT_DELAYS_MINUTES: [u32; 3] = [0, 60, 240];

impl Default for EscalationPolicy {
    fn default() -> Self {
        EscalationPolicy::from_minutes(&DEFAULT_DELAYS_MINUTES)
    }
}

impl EscalationPolicy {
    /// From the configured minutes: a missing step takes the default, and a
    /// step never comes before the one above it in order.
    pub fn from_minutes(minutes: &[u32]) -> EscalationPolicy {
        let mut delays_ms = [0i64; 3];
        let mut floor = 0i64;
        for (index, delay) in delays_ms.iter_mut().enumerate() {
            let configured = minutes
                .get(index)
                .copied()
                .unwrap_or(DEFAULT_DELAYS_MINUTES[index]);
            *delay = (i64::from(configured) * 60_000).max(floor);
            floor = *delay;
        }
        EscalationPolicy {
            delays_ms,
            batch: 100,
            horizon_ms: DEFAULT_HORIZON_MS,
        }
    }

    /// The levels to tell now for a promise due at `due_at`, given the last
    /// step already taken (0: none): every step after it whose delay has
    /// passed, in order — after downtime nobody who should have heard is
    /// skipped, and nobody hears twice.
    pub fn due_levels(&self, due_at: i64, last_step: u8, now: i64) -> Vec<Level> {
        if now <= due_at {
            return Vec::new();
        }
        Level::ALL
            .into_iter()
            .filter(|level| level.step() > last_step)
            .filter(|level| now - due_at >= self.delays_ms[usize::from(level.step() - 1)])
            .collect()
    }

    /// The earliest breach the sweep still looks at, at `now`.
    pub fn oldest_breach(&self, now: i64) -> i64 {
        now - self.delays_ms[2] - self.horizon_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn steps_come_in_order_at_their_delays_and_never_twice() {
        let policy = EscalationPolicy::default();
        let due = 10 * HOUR;
        assert!(policy.due_levels(due, 0, due).is_empty(), "not yet overdue");
        assert_eq!(policy.due_levels(due, 0, due + 1), [Level::Assignee]);
        assert!(policy.due_levels(due, 1, due + HOUR - 1).is_empty());
        assert_eq!(policy.due_levels(due, 1, due + HOUR), [Level::TeamLead]);
        assert_eq!(policy.due_levels(due, 2, due + 4 * HOUR), [Level::Owners]);
        assert!(policy.due_levels(due, 3, due + 100 * HOUR).is_empty());
        // After downtime every missed step is taken at once, in order.
        assert_eq!(
            policy.due_levels(due, 0, due + 5 * HOUR),
            [Level::Assignee, Level::TeamLead, Level::Owners]
        );
    }

    #[test]
    fn configured_delays_fill_in_and_keep_their_order() {
        let policy = EscalationPolicy::from_minutes(&[30, 10]);
        assert_eq!(policy.delays_ms, [30 * 60_000, 30 * 60_000, 240 * 60_000]);
        assert_eq!(Level::from_step(2), Some(Level::TeamLead));
        assert_eq!(Target::parse("resolution"), Some(Target::Resolution));
        assert_eq!(Target::parse("other"), None);
    }
}
