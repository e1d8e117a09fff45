//! Token buckets: how many requests a client (or a site) may make.
//!
//! Each key has a bucket of `burst` tokens that refills at `per_minute`
//! tokens a minute; a request takes one token or is refused with the time
//! until the next token. Time is passed in (milliseconds), never read here,
//! so tests move it instead of sleeping.
//!
//! **Memory is bounded**: at most `max_keys` buckets are kept. A bucket that
//! has refilled completely holds no information (a new one would be the
//! same), so those are dropped first; if that is not enough, the buckets
//! idle longest go.

use std::collections::HashMap;
use std::hash::Hash;

/// One refill unit per millisecond per token a minute: a token is worth
/// `UNITS_PER_TOKEN` units, so the arithmetic stays in integers.
const UNITS_PER_TOKEN: u64 = 60_000;

/// How fast a bucket refills and how much it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
    /// Tokens added per minute.
    pub per_minute: u32,
}

impl Rate {
    /// A rate of zero (either part) means "no limit".
    pub fn is_unlimited(self) -> bool {
        self.burst == 0 || self.per_minute == 0
    }

    fn capacity(self) -> u64 {
        u64::from(self.burst) * UNITS_PER_TOKEN
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    units: u64,
    updated: i64,
}

/// Buckets by key (a client address, a site).
#[derive(Debug)]
pub struct Buckets<K> {
    rate: Rate,
    max_keys: usize,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub fn new(rate: Rate, max_keys: usize) -> Buckets<K> {
        Buckets {
            rate,
            max_keys: max_keys.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Takes a token from `key`'s bucket at `now` (milliseconds), or answers
    /// `Err(seconds)` to wait before the next one, at least 1.
    pub fn take(&mut self, key: &K, now: i64) -> Result<(), u64> {
        if self.rate.is_unlimited() {
            return Ok(());
        }
        if !self.buckets.contains_key(key) && self.buckets.len() >= self.max_keys {
            self.evict(now);
        }
        let rate = self.rate;
        let bucket = self.buckets.entry(key.clone()).or_insert(Bucket {
            units: rate.capacity(),
            updated: now,
        });
        refill(bucket, rate, now);
        if bucket.units >= UNITS_PER_TOKEN {
            bucket.units -= UNITS_PER_TOKEN;
            Ok(())
        } else {
            let missing = UNITS_PER_TOKEN - bucket.units;
            let wait_ms = missing.div_ceil(u64::from(rate.per_minute));
            Err(wait_ms.div_ceil(1000).max(1))
        }
    }

    /// How many buckets are kept (for tests and metrics).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Drops every full bucket; when that frees nothing, the idlest quarter.
    fn evict(&mut self, now: i64) {
        let rate = self.rate;
        self.buckets.retain(|_, bucket| {
            refill(bucket, rate, now);
            bucket.units < rate.capacity()
        });
        if self.buckets.len() < self.max_keys {
            return;
        }
        let mut updated: Vec<i64> = self.buckets.values().map(|bucket| bucket.updated).collect();
        let cut = updated.len() / 4;
        let (_, threshold, _) = updated.select_nth_unstable(cut);
        let threshold = *threshold;
        self.buckets.retain(|_, bucket| bucket.updated > threshold);
    }
}

fn refill(bucket: &mut Bucket, rate: Rate, now: i64) {
    let elapsed = u64::try_from(now.saturating_sub(bucket.updated)).unwrap_or(0);
    bucket.units = bucket
        .units
        .saturating_add(elapsed.saturating_mul(u64::from(rate.per_minute)))
        .min(rate.capacity());
    bucket.updated = bucket.updated.max(now);
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        burst: 3,
        per_minute: 6,
    };

    #[test]
    fn a_burst_is_allowed_then_the_bucket_refills_at_its_rate() {
        let mut buckets = Buckets::new(RATE, 100);
        for _ in 0..3 {
            assert_eq!(buckets.take(&"a", 0), Ok(()));
        }
        // 6 a minute: the next token comes 10 seconds later.
        assert_eq!(buckets.take(&"a", 0), Err(10));
        assert_eq!(buckets.take(&"a", 4_000), Err(6));
        assert_eq!(buckets.take(&"a", 10_000), Ok(()));
        assert_eq!(buckets.take(&"a", 10_000), Err(10));
        // Another key has its own bucket.
        assert_eq!(buckets.take(&"b", 10_000), Ok(()));
        // A long pause refills to the burst, not beyond.
        for _ in 0..3 {
            assert_eq!(buckets.take(&"a", 3_600_000), Ok(()));
        }
        assert!(buckets.take(&"a", 3_600_000).is_err());
    }

    #[test]
    fn a_zero_rate_is_no_limit() {
        let mut buckets = Buckets::new(
            Rate {
                burst: 0,
                per_minute: 6,
            },
            10,
        );
        for _ in 0..1000 {
            assert_eq!(buckets.take(&1, 0), Ok(()));
        }
        assert!(buckets.is_empty());
    }

    #[test]
    fn memory_stays_bounded_and_busy_buckets_survive_eviction() {
        let mut buckets = Buckets::new(RATE, 100);
        // The attacker empties their bucket first…
        for _ in 0..3 {
            buckets.take(&u32::MAX, 0).unwrap();
        }
        assert!(buckets.take(&u32::MAX, 0).is_err());
        // …then floods with fresh keys, one request each, a second apart.
        for key in 0..10_000u32 {
            let _ = buckets.take(&key, 1 + i64::from(key) * 1000);
            assert!(buckets.len() <= 100);
        }
        // Full buckets were dropped before anything else, but the flood
        // outlasted the attacker's own refill (10 s a token), so here it
        // is full again and may be forgotten; what matters is the bound.
        assert!(buckets.len() <= 100);

        // Within a short span, keys still draining are kept over full ones.
        let mut buckets = Buckets::new(RATE, 4);
        for _ in 0..3 {
            buckets.take(&"busy", 0).unwrap();
        }
        buckets.take(&"idle-1", 0).unwrap();
        buckets.take(&"idle-2", 0).unwrap();
        buckets.take(&"idle-3", 0).unwrap();
        // At 25 s the idle keys (one token short) have refilled; "busy" has not.
        buckets.take(&"new", 25_000).unwrap();
        assert!(buckets.len() <= 4);
        assert!(
            buckets.take(&"busy", 25_000).is_ok(),
            "busy had refilled 2 tokens"
        );
        assert!(buckets.take(&"busy", 25_000).is_ok());
        assert!(
            buckets.take(&"busy", 25_000).is_err(),
            "the busy bucket was kept, not reset to full"
        );
    }
}
