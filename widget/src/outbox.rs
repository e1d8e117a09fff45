//! Complaints that could not be sent yet, kept in the shopper's browser until
//! the collector has them.
//!
//! The doctrine is "nothing lost": when sending fails (offline, timeout, a busy
//! collector) the complaint is saved here with its idempotency key and retried
//! with backoff, and again on the next page view of any page with the widget.
//! The collector's idempotency turns every retry of the same key into the same
//! single stored complaint.
//!
//! Storage is `localStorage`, one key per site holding a JSON list. It is
//! written **only after a send failed** and the entry is removed once sent, so
//! a shopper who never had a failure has nothing stored. Photos are not kept
//! here: they are uploaded before the complaint and referenced by id; a photo
//! whose own upload failed lives only in the widget's memory.
//!
//! Where `localStorage` is unavailable (blocked storage, some private modes,
//! a full quota) every function quietly does nothing and reports nothing
//! pending: the widget then retries only while the page stays open.

/// One complaint waiting to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The key every attempt sends, so the collector stores it once.
    pub idempotency_key: String,
    /// The complaint as the JSON body every attempt sends. Kept as text: the
    /// widget never reads a `ComplaintSubmission` back, which keeps serde's
    /// reader for it (about 2 KB brotli) out of the wasm.
    pub submission: String,
    /// When it was first saved, in milliseconds since the Unix epoch.
    pub saved_at_ms: f64,
}

/// Keeps `pending` for `site_key`, replacing an entry with the same
/// idempotency key. Does nothing when storage is unavailable.
pub fn save(site_key: &str, pending: &Pending) {
    let list = with_saved(read(site_key, now_ms()), pending);
    write(site_key, &list);
}

/// Forgets the entry with `idempotency_key`, once the collector has it.
pub fn remove(site_key: &str, idempotency_key: &str) {
    let before = read(site_key, now_ms());
    let after = without(before.clone(), idempotency_key);
    if after != before {
        write(site_key, &after);
    }
}

/// Everything still waiting for `site_key`, oldest first, without entries
/// older than [`MAX_AGE_MS`]. Empty when storage is unavailable.
pub fn pending(site_key: &str) -> Vec<Pending> {
    let now = now_ms();
    let Some(text) = storage().and_then(|store| store.get_item(&storage_key(site_key)).ok()?)
    else {
        return Vec::new();
    };
    let list = decode(&text, now);
    // Expired or unreadable entries are cleaned up while we are here.
    if encode(&list) != text {
        write(site_key, &list);
    }
    list
}

/// How long to wait before attempt number `attempt` (0 for the first retry):
/// exponential from [`FIRST_DELAY_MS`], capped at [`MAX_DELAY_MS`], with half
/// of it random so many widgets that lost the collector at the same moment do
/// not all come back at the same moment.
pub fn retry_delay_ms(attempt: u32) -> u32 {
    delay_with_jitter(attempt, random_fraction())
}

/// Entries older than this are dropped: a week-old complaint the shopper
/// never saw sent should not suddenly arrive out of context.
pub const MAX_AGE_MS: f64 = 7.0 * 24.0 * 60.0 * 60.0 * 1000.0;

/// The base of the backoff: the first retry comes after 1–2 seconds.
pub const FIRST_DELAY_MS: u32 = 1_000;

/// The longest wait between two attempts while the page stays open.
pub const MAX_DELAY_MS: u32 = 60_000;

/// At most this many complaints are kept per site, newest kept, so a broken
/// page cannot fill the shopper's storage.
pub const MAX_ENTRIES: usize = 20;

const KEY_PREFIX: &str = "heard.outbox.";

/// The backoff for `attempt` with `fraction` (in `0.0..1.0`) as the random part.
fn delay_with_jitter(attempt: u32, fraction: f64) -> u32 {
    let exponential = FIRST_DELAY_MS.saturating_mul(1u32 << attempt.min(16));
    let ceiling = exponential.min(MAX_DELAY_MS);
    let half = ceiling / 2;
    let jitter = (f64::from(ceiling - half) * fraction.clamp(0.0, 1.0)) as u32;
    half + jitter
}

fn storage_key(site_key: &str) -> String {
    format!("{KEY_PREFIX}{site_key}")
}

fn with_saved(mut list: Vec<Pending>, pending: &Pending) -> Vec<Pending> {
    list.retain(|kept| kept.idempotency_key != pending.idempotency_key);
    list.push(pending.clone());
    if list.len() > MAX_ENTRIES {
        list.drain(..list.len() - MAX_ENTRIES);
    }
    list
}

fn without(mut list: Vec<Pending>, idempotency_key: &str) -> Vec<Pending> {
    list.retain(|kept| kept.idempotency_key != idempotency_key);
    list
}

/// The stored shape, unchanged since the outbox first shipped:
/// `[{"idempotency_key": …, "submission": {…}, "saved_at_ms": …}]`.
fn encode(list: &[Pending]) -> String {
    let entries: Vec<String> = list
        .iter()
        .map(|pending| {
            format!(
                r#"{{"idempotency_key":{},"submission":{},"saved_at_ms":{}}}"#,
                crate::json::to_string(&pending.idempotency_key),
                pending.submission,
                // Whole milliseconds: no float formatting in the wasm.
                pending.saved_at_ms.max(0.0) as u64
            )
        })
        .collect();
    format!("[{}]", entries.join(","))
}

/// Reads the stored list, skipping entries that do not have that shape and
/// entries past their age.
fn decode(text: &str, now_ms: f64) -> Vec<Pending> {
    crate::json::objects(text)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| {
            Some(Pending {
                idempotency_key: entry.text("idempotency_key")?,
                submission: entry.object_json("submission")?,
                saved_at_ms: entry.number("saved_at_ms")?,
            })
        })
        .filter(|pending| now_ms - pending.saved_at_ms <= MAX_AGE_MS)
        .collect()
}

fn read(site_key: &str, now_ms: f64) -> Vec<Pending> {
    storage()
        .and_then(|store| store.get_item(&storage_key(site_key)).ok()?)
        .map(|text| decode(&text, now_ms))
        .unwrap_or_default()
}

/// Writes the list, or removes the key when nothing is left, so a shopper
/// whose complaints all arrived keeps nothing of ours.
fn write(site_key: &str, list: &[Pending]) {
    let Some(store) = storage() else { return };
    let key = storage_key(site_key);
    // A full quota or blocked storage throws; the complaint then stays in memory only.
    let _ = if list.is_empty() {
        store.remove_item(&key)
    } else {
        store.set_item(&key, &encode(list))
    };
}

#[cfg(target_arch = "wasm32")]
fn storage() -> Option<web_sys::Storage> {
    // `localStorage` itself throws where storage is blocked.
    web_sys::window()?.local_storage().ok()?
}

#[cfg(not(target_arch = "wasm32"))]
fn storage() -> Option<web_sys::Storage> {
    // Host tests have no browser; behave like a browser without storage.
    None
}

#[cfg(target_arch = "wasm32")]
fn now_ms() -> f64 {
    js_sys::Date::now()
}

#[cfg(not(target_arch = "wasm32"))]
fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64() * 1000.0)
}

#[cfg(target_arch = "wasm32")]
fn random_fraction() -> f64 {
    js_sys::Math::random()
}

#[cfg(not(target_arch = "wasm32"))]
fn random_fraction() -> f64 {
    // Host tests only check the bounds; the middle of the range will do.
    0.5
}

#[cfg(test)]
mod tests {
    use heard_shared::ComplaintSubmission;

    use super::*;

    fn submission(key: &str) -> ComplaintSubmission {
        ComplaintSubmission {
            category: "delivery".to_owned(),
            description: format!("Parcel never came ({key})"),
            language: "en".to_owned(),
            ..ComplaintSubmission::default()
        }
    }

    fn complaint(key: &str, saved_at_ms: f64) -> Pending {
        Pending {
            idempotency_key: key.to_owned(),
            submission: serde_json::to_string(&submission(key)).unwrap(),
            saved_at_ms,
        }
    }

    /// What a stored entry sends, as the collector reads it.
    fn sent(pending: &Pending) -> ComplaintSubmission {
        serde_json::from_str(&pending.submission).unwrap()
    }

    #[test]
    fn the_delay_doubles_then_stops_at_the_cap() {
        let lowest: Vec<u32> = (0..10)
            .map(|attempt| delay_with_jitter(attempt, 0.0))
            .collect();
        assert_eq!(
            lowest,
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000
            ]
        );
        let highest: Vec<u32> = (0..8)
            .map(|attempt| delay_with_jitter(attempt, 1.0))
            .collect();
        assert_eq!(
            highest,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        assert_eq!(delay_with_jitter(u32::MAX, 1.0), MAX_DELAY_MS);
    }

    #[test]
    fn the_jitter_stays_within_the_upper_half_of_the_delay() {
        for attempt in 0..40 {
            let delay = retry_delay_ms(attempt);
            let ceiling = delay_with_jitter(attempt, 1.0);
            assert!(
                ceiling / 2 <= delay && delay <= ceiling,
                "attempt {attempt}: {delay}"
            );
        }
        // Out-of-range randomness cannot push a delay past its bounds.
        assert_eq!(delay_with_jitter(2, 7.0), 4_000);
        assert_eq!(delay_with_jitter(2, -1.0), 2_000);
    }

    #[test]
    fn a_list_survives_the_round_trip_through_storage_text() {
        let now = 1_800_000_000_000.0;
        let mut answered = submission("key-first-1234");
        answered
            .answers
            .insert("order".to_owned(), "A-1".to_owned());
        let first = Pending {
            idempotency_key: "key-first-1234".to_owned(),
            submission: serde_json::to_string(&answered).unwrap(),
            saved_at_ms: now - 1_000.0,
        };
        let list = vec![first, complaint("key-second-1234", now)];
        let back = decode(&encode(&list), now);
        assert_eq!(back.len(), 2);
        assert_eq!(sent(&back[0]), answered);
        assert_eq!(back[0].idempotency_key, "key-first-1234");
        assert_eq!(back[0].saved_at_ms, now - 1_000.0);
        assert_eq!(sent(&back[1]), submission("key-second-1234"));
    }

    /// Entries written by earlier widget versions (the same shape, the
    /// submission an object, the time a number) are still sent.
    #[test]
    fn entries_from_earlier_versions_are_read() {
        let now = 1_800_000_000_000.0;
        let text = format!(
            r#"[{{"idempotency_key":"key-old-12345678","submission":{},"saved_at_ms":1799999999000.0}}]"#,
            serde_json::to_string(&submission("old")).unwrap()
        );
        let back = decode(&text, now);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].idempotency_key, "key-old-12345678");
        assert_eq!(sent(&back[0]), submission("old"));
        assert_eq!(back[0].saved_at_ms, 1_799_999_999_000.0);
    }

    #[test]
    fn old_unreadable_and_foreign_entries_are_dropped() {
        let now = 1_800_000_000_000.0;
        let fresh = complaint("key-fresh-1234", now - MAX_AGE_MS + 1.0);
        let stale = complaint("key-stale-1234", now - MAX_AGE_MS - 1.0);
        let both = encode(&[fresh.clone(), stale]);
        let text = format!(
            r#"[{}, {{"something":"else"}}, {{"idempotency_key":"k","submission":"text","saved_at_ms":1}}, 42]"#,
            &both[1..both.len() - 1]
        );
        let back = decode(&text, now);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].idempotency_key, fresh.idempotency_key);
        assert_eq!(sent(&back[0]), sent(&fresh));
        assert_eq!(decode("not json", now), Vec::new());
        assert_eq!(decode("{}", now), Vec::new());
    }

    #[test]
    fn saving_replaces_the_same_key_and_keeps_the_newest_entries() {
        let list = with_saved(Vec::new(), &complaint("key-a-12345678", 1.0));
        let list = with_saved(list, &complaint("key-b-12345678", 2.0));
        let list = with_saved(list, &complaint("key-a-12345678", 3.0));
        let keys: Vec<&str> = list.iter().map(|p| p.idempotency_key.as_str()).collect();
        assert_eq!(keys, ["key-b-12345678", "key-a-12345678"]);

        let mut many = Vec::new();
        for number in 0..MAX_ENTRIES + 3 {
            many = with_saved(many, &complaint(&format!("key-{number:04}-abcd"), 1.0));
        }
        assert_eq!(many.len(), MAX_ENTRIES);
        assert_eq!(many[0].idempotency_key, "key-0003-abcd");

        assert_eq!(without(many, "key-0003-abcd").len(), MAX_ENTRIES - 1);
    }

    #[test]
    fn without_a_browser_nothing_is_stored_and_nothing_breaks() {
        let entry = complaint("key-nostore-1234", now_ms());
        save("demo", &entry);
        assert_eq!(pending("demo"), Vec::new());
        remove("demo", "key-nostore-1234");
    }
}
