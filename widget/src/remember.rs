//! "Remember on this device": the shopper's own list of earlier complaints
//! on this site, kept **only in this browser's `localStorage`**.
//!
//! Nothing is stored unless the shopper ticks the box on the receipt; an
//! entry holds the reference, the private status link, the site key and the
//! date, under one key per site (`heard.remembered.{site_key}`), so one
//! shop's widget never lists another shop's complaints. "Forget" removes an
//! entry, and the key goes once the list is empty. The status link's token is
//! what the widget shows the current status with (`GET
//! /api/v1/receipts/{token}`); the collector learns nothing about the list.
//!
//! The stored shape is written and read by hand (`json::objects`), not
//! through a serde derive, whose code every shopper would download.
//!
//! Where storage is unavailable every function does nothing and reports an
//! empty list: remembering is a convenience, never in the way of a complaint.

/// One remembered complaint.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    pub reference: String,
    /// The private status link, absolute.
    pub status_url: String,
    pub site_key: String,
    /// When it was received, RFC 3339 as the receipt gave it.
    pub created_at: String,
}

impl Remembered {
    /// The status token in the link (`…/r/{token}`), when it looks like one.
    pub fn token(&self) -> Option<&str> {
        let (_, token) = self.status_url.rsplit_once("/r/")?;
        let plausible = !token.is_empty()
            && token.len() <= 128
            && token
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'));
        plausible.then_some(token)
    }
}

/// At most this many complaints are remembered per site, newest kept.
pub const MAX_REMEMBERED: usize = 20;

const KEY_PREFIX: &str = "heard.remembered.";

/// The `localStorage` key of one site's list.
pub fn storage_key(site_key: &str) -> String {
    format!("{KEY_PREFIX}{site_key}")
}

/// The list with `entry` first, replacing an entry with its reference.
pub fn with_added(mut list: Vec<Remembered>, entry: Remembered) -> Vec<Remembered> {
    list.retain(|kept| kept.reference != entry.reference);
    list.insert(0, entry);
    list.truncate(MAX_REMEMBERED);
    list
}

/// The list without the entry for `reference`.
pub fn without(mut list: Vec<Remembered>, reference: &str) -> Vec<Remembered> {
    list.retain(|kept| kept.reference != reference);
    list
}

/// Reads a stored list, keeping only this site's entries with a usable
/// link: another widget version's shape or a hand-edited value is skipped.
pub fn decode(text: &str, site_key: &str) -> Vec<Remembered> {
    let mut list: Vec<Remembered> = crate::json::objects(text)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| {
            Some(Remembered {
                reference: entry.text("reference")?,
                status_url: entry.text("status_url")?,
                site_key: entry.text("site_key")?,
                created_at: entry.text("created_at")?,
            })
        })
        .filter(|entry| {
            entry.site_key == site_key
                && entry.token().is_some()
                && (entry.status_url.starts_with("https://")
                    || entry.status_url.starts_with("http://"))
        })
        .collect();
    list.truncate(MAX_REMEMBERED);
    list
}

/// The stored shape: `[{"reference": …, "status_url": …, "site_key": …,
/// "created_at": …}]`, newest first.
pub fn encode(list: &[Remembered]) -> String {
    let entries: Vec<String> = list
        .iter()
        .map(|entry| {
            format!(
                r#"{{"reference":{},"status_url":{},"site_key":{},"created_at":{}}}"#,
                crate::json::to_string(&entry.reference),
                crate::json::to_string(&entry.status_url),
                crate::json::to_string(&entry.site_key),
                crate::json::to_string(&entry.created_at),
            )
        })
        .collect();
    format!("[{}]", entries.join(","))
}

/// This site's remembered complaints, newest first.
pub fn load(site_key: &str) -> Vec<Remembered> {
    storage()
        .and_then(|store| store.get_item(&storage_key(site_key)).ok()?)
        .map(|text| decode(&text, site_key))
        .unwrap_or_default()
}

/// Remembers `entry` for its site.
pub fn remember(entry: Remembered) {
    let site_key = entry.site_key.clone();
    write(&site_key, &with_added(load(&site_key), entry));
}

/// Forgets the complaint `reference` on `site_key`.
pub fn forget(site_key: &str, reference: &str) {
    write(site_key, &without(load(site_key), reference));
}

/// Forgets every complaint remembered on `site_key`.
pub fn forget_all(site_key: &str) {
    write(site_key, &[]);
}

/// True when `reference` is remembered on `site_key`.
pub fn is_remembered(site_key: &str, reference: &str) -> bool {
    load(site_key)
        .iter()
        .any(|entry| entry.reference == reference)
}

/// Writes the list, or removes the key when it is empty.
fn write(site_key: &str, list: &[Remembered]) {
    let Some(store) = storage() else { return };
    let key = storage_key(site_key);
    // A full quota or blocked storage throws; then nothing is remembered.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(reference: &str, site_key: &str) -> Remembered {
        Remembered {
            reference: reference.to_owned(),
            status_url: format!("https://heard.example/r/tok_{}", reference.replace('-', "")),
            site_key: site_key.to_owned(),
            created_at: "2026-11-23T09:00:00Z".to_owned(),
        }
    }

    #[test]
    fn adding_puts_the_newest_first_and_never_twice() {
        let list = with_added(Vec::new(), entry("HRD-AAAA-AAAA", "demo"));
        let list = with_added(list, entry("HRD-BBBB-BBBB", "demo"));
        let list = with_added(list, entry("HRD-AAAA-AAAA", "demo"));
        let references: Vec<&str> = list.iter().map(|e| e.reference.as_str()).collect();
        assert_eq!(references, ["HRD-AAAA-AAAA", "HRD-BBBB-BBBB"]);
    }

    #[test]
    fn the_list_is_capped_keeping_the_newest() {
        let mut list = Vec::new();
        for n in 0..MAX_REMEMBERED + 5 {
            list = with_added(list, entry(&format!("HRD-{n:04}-AAAA"), "demo"));
        }
        assert_eq!(list.len(), MAX_REMEMBERED);
        assert_eq!(
            list[0].reference,
            format!("HRD-{:04}-AAAA", MAX_REMEMBERED + 4)
        );
        let stored: Vec<Remembered> = (0..MAX_REMEMBERED + 5)
            .map(|n| entry(&format!("HRD-{n:04}-BBBB"), "demo"))
            .collect();
        assert_eq!(decode(&encode(&stored), "demo").len(), MAX_REMEMBERED);
    }

    #[test]
    fn forgetting_removes_only_that_reference() {
        let list = vec![
            entry("HRD-AAAA-AAAA", "demo"),
            entry("HRD-BBBB-BBBB", "demo"),
        ];
        let list = without(list, "HRD-AAAA-AAAA");
        assert_eq!(list, vec![entry("HRD-BBBB-BBBB", "demo")]);
        assert!(without(list, "HRD-BBBB-BBBB").is_empty());
    }

    #[test]
    fn the_stored_list_round_trips_and_is_namespaced_per_site() {
        let mut quoted = entry("HRD-CCCC-CCCC", "demo");
        quoted.created_at = "a \"quoted\" \\ date".to_owned();
        let list = vec![
            entry("HRD-AAAA-AAAA", "demo"),
            entry("HRD-BBBB-BBBB", "other"),
            quoted.clone(),
        ];
        let text = encode(&list);
        assert_eq!(
            decode(&text, "demo"),
            vec![entry("HRD-AAAA-AAAA", "demo"), quoted]
        );
        assert_eq!(
            decode(&text, "other"),
            vec![entry("HRD-BBBB-BBBB", "other")]
        );
        assert!(decode(&text, "third").is_empty());
        assert_eq!(storage_key("demo"), "heard.remembered.demo");
        assert_ne!(storage_key("demo"), storage_key("demo2"));
    }

    #[test]
    fn unreadable_or_hostile_entries_are_skipped() {
        assert!(decode("not json", "demo").is_empty());
        assert!(decode("{\"a\":1}", "demo").is_empty());
        assert!(decode("[1, null, {\"reference\": 3}]", "demo").is_empty());
        let mut hostile = entry("HRD-AAAA-AAAA", "demo");
        hostile.status_url = "javascript:alert(1)//r/abc".to_owned();
        let mut no_token = entry("HRD-BBBB-BBBB", "demo");
        no_token.status_url = "https://heard.example/r/".to_owned();
        let mut odd_token = entry("HRD-CCCC-CCCC", "demo");
        odd_token.status_url = "https://heard.example/r/../../api".to_owned();
        let good = entry("HRD-DDDD-DDDD", "demo");
        let text = encode(&[hostile, no_token, odd_token, good.clone()]);
        assert_eq!(decode(&text, "demo"), vec![good]);
    }

    #[test]
    fn the_token_is_the_last_segment_of_the_status_link() {
        assert_eq!(
            entry("HRD-AAAA-AAAA", "demo").token(),
            Some("tok_HRDAAAAAAAA")
        );
    }

    #[test]
    fn without_storage_nothing_is_remembered_and_nothing_fails() {
        remember(entry("HRD-AAAA-AAAA", "demo"));
        assert!(load("demo").is_empty());
        assert!(!is_remembered("demo", "HRD-AAAA-AAAA"));
        forget("demo", "HRD-AAAA-AAAA");
        forget_all("demo");
    }
}
