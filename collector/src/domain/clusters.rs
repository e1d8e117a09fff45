//! Clusters of similar complaints: the pattern no single complaint shows.
//!
//! Two complaints are similar when they are in the same category, of the
//! same merchant (on any of its sites), within the time window of each
//! other, and their texts are alike: the Jaccard index of their shingle
//! sets reaches [`ClusterPolicy::min_similarity`]. Shingles come from the
//! normalized text (lowercased, letters and digits only): character
//! trigrams of each word in scripts that separate words with spaces, and
//! character bigrams of runs of Chinese, Japanese or Korean characters,
//! where a word is one or two characters and there are no spaces.
//!
//! A cluster alerts the owners once when it reaches its threshold (default
//! 3 complaints within the window; 1 for a safety category), and again only
//! when it has doubled since the last alert ([`alert_due`]), so a growing
//! cluster is news a few times, not on every complaint.
//!
//! Pure: `store::clusters` reads and writes, `notify::sweeps` runs it.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde::Serialize;

/// How clusters are found and when they alert.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterPolicy {
    /// How far apart in time two complaints may be and still be linked.
    pub window_ms: i64,
    /// Complaints within the window that make a cluster worth an alert.
    pub threshold: usize,
    /// The same for a safety category: one is enough.
    pub safety_threshold: usize,
    /// The least Jaccard index of two texts' shingles that counts as similar.
    pub min_similarity: f64,
    /// The most earlier complaints one complaint is compared with (the most
    /// recent of its merchant and category in the window): bounded work.
    pub max_candidates: usize,
    /// Characters of a complaint's text that are compared.
    pub max_text_chars: usize,
    /// New complaints looked at per sweep.
    pub batch: usize,
}

pub const DEFAULT_WINDOW_HOURS: u32 = 48;
pub const DEFAULT_THRESHOLD: u32 = 3;

impl Default for ClusterPolicy {
    fn default() -> Self {
        ClusterPolicy {
            window_ms: i64::from(DEFAULT_WINDOW_HOURS) * 3_600_000,
            threshold: DEFAULT_THRESHOLD as usize,
            safety_threshold: 1,
            min_similarity: 0.25,
            max_candidates: 200,
            max_text_chars: 2_000,
            batch: 50,
        }
    }
}

/// Why the owners are told about a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The cluster reached its threshold.
    Detected,
    /// The cluster has doubled since its last alert.
    Grew,
}

impl AlertKind {
    /// The outbox event name.
    pub fn event(self) -> &'static str {
        match self {
            AlertKind::Detected => "cluster.detected",
            AlertKind::Grew => "cluster.grew",
        }
    }
}

/// Whether a cluster of `size` members, `recent` of them within the window
/// of the newest, last alerted at `alerted_size` (0: never), alerts now.
pub fn alert_due(
    policy: &ClusterPolicy,
    safety: bool,
    size: usize,
    recent: usize,
    alerted_size: usize,
) -> Option<AlertKind> {
    let threshold = if safety {
        policy.safety_threshold
    } else {
        policy.threshold
    }
    .max(1);
    if alerted_size == 0 {
        return (recent >= threshold).then_some(AlertKind::Detected);
    }
    (size >= alerted_size * 2).then_some(AlertKind::Grew)
}

/// The shingles of a text, hashed: sorted and without repeats.
///
/// A sorted list rather than a hash set because the sweep compares each new
/// complaint with up to 200 earlier ones: two sorted lists are intersected
/// in one pass over both, with no hashing per comparison (the set looked
/// every shingle up with SipHash: a fifth of the sweep under a flood).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint(Vec<u64>);

impl Fingerprint {
    pub fn of(text: &str, max_chars: usize) -> Fingerprint {
        let mut shingles: Vec<u64> = Vec::new();
        let mut word: Vec<char> = Vec::new();
        let mut run: Vec<char> = Vec::new();
        let flush_word = |word: &mut Vec<char>, shingles: &mut Vec<u64>| {
            if word.is_empty() {
                return;
            }
            // Padded with a space on each side, so short words and word
            // edges count: " ok" "ok ".
            let padded: Vec<char> = std::iter::once(' ')
                .chain(word.iter().copied())
                .chain(std::iter::once(' '))
                .collect();
            for window in padded.windows(3) {
                shingles.push(hash(window));
            }
            word.clear();
        };
        let flush_run = |run: &mut Vec<char>, shingles: &mut Vec<u64>| {
            match run.len() {
                0 => {}
                1 => {
                    shingles.push(hash(run));
                }
                _ => {
                    for window in run.windows(2) {
                        shingles.push(hash(window));
                    }
                }
            }
            run.clear();
        };
        for character in text.chars().take(max_chars).flat_map(char::to_lowercase) {
            if is_cjk(character) {
                flush_word(&mut word, &mut shingles);
                run.push(character);
            } else if character.is_alphanumeric() {
                flush_run(&mut run, &mut shingles);
                word.push(character);
            } else {
                flush_word(&mut word, &mut shingles);
                flush_run(&mut run, &mut shingles);
            }
        }
        flush_word(&mut word, &mut shingles);
        flush_run(&mut run, &mut shingles);
        shingles.sort_unstable();
        shingles.dedup();
        Fingerprint(shingles)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The Jaccard index: shared shingles over all shingles, 0 to 1.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        if self.0.is_empty() || other.0.is_empty() {
            return 0.0;
        }
        let shared = shared_count(&self.0, &other.0);
        let union = self.0.len() + other.0.len() - shared;
        shared as f64 / union as f64
    }
}

/// How many values two sorted lists without repeats have in common.
fn shared_count(left: &[u64], right: &[u64]) -> usize {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < left.len() && j < right.len() {
        match left[i].cmp(&right[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared
}

fn hash(characters: &[char]) -> u64 {
    let mut hasher = DefaultHasher::new();
    characters.hash(&mut hasher);
    hasher.finish()
}

/// Scripts written without spaces between words.
fn is_cjk(character: char) -> bool {
    matches!(character,
        '\u{3040}'..='\u{30ff}'   // Hiragana, Katakana
        | '\u{3400}'..='\u{4dbf}' // CJK Extension A
        | '\u{4e00}'..='\u{9fff}' // CJK Unified Ideographs
        | '\u{ac00}'..='\u{d7af}' // Hangul syllables
        | '\u{f900}'..='\u{faff}' // CJK Compatibility Ideographs
        | '\u{20000}'..='\u{2ebef}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn similarity(a: &str, b: &str) -> f64 {
        Fingerprint::of(a, 2_000).similarity(&Fingerprint::of(b, 2_000))
    }

    #[test]
    fn alike_texts_are_similar_in_english_and_in_chinese() {
        let threshold = ClusterPolicy::default().min_similarity;
        let english = similarity(
            "The milk tasted sour and my child got a stomach ache",
            "Sour milk! My child had a stomach ache after drinking it",
        );
        assert!(english >= threshold, "{english}");
        let chinese = similarity(
            "喝了你们的牛奶以后孩子肚子疼，牛奶有酸味",
            "牛奶有酸味，孩子喝了以后肚子疼得厉害",
        );
        assert!(chinese >= threshold, "{chinese}");
        assert_eq!(similarity("Milk, SOUR!", "milk sour"), 1.0);
    }

    #[test]
    fn different_complaints_are_not_similar() {
        let threshold = ClusterPolicy::default().min_similarity;
        for (a, b) in [
            (
                "The milk tasted sour and my child got a stomach ache",
                "The delivery driver was rude and left the parcel in the rain",
            ),
            (
                "喝了你们的牛奶以后孩子肚子疼",
                "快递员态度很差，包裹被扔在门口淋雨了",
            ),
            ("The milk tasted sour", "喝了你们的牛奶以后孩子肚子疼"),
        ] {
            let value = similarity(a, b);
            assert!(value < threshold, "{a} / {b}: {value}");
        }
        assert_eq!(similarity("", "anything"), 0.0);
        assert!(Fingerprint::of("  ¡! ", 100).is_empty());
    }

    #[test]
    fn the_index_is_shared_over_all_shingles_each_counted_once() {
        // " ab", "abc", "bc " against " ab", "abd", "bd ": one of five.
        assert_eq!(similarity("abc", "abd"), 0.2);
        // Repeats are one shingle each: the same set, whatever the counts.
        assert_eq!(similarity("milk milk milk", "milk"), 1.0);
        // " ab", "ab " ∪ " ab", "abc", "bc ", " cd", "cd ": one of six.
        assert_eq!(similarity("ab", "abc cd ab"), 2.0 / 6.0);
        assert_eq!(shared_count(&[1, 3, 5, 9], &[2, 3, 4, 9, 10]), 2);
    }

    #[test]
    fn a_cluster_alerts_at_its_threshold_then_only_when_it_doubles() {
        let policy = ClusterPolicy::default();
        let alerts: Vec<Option<AlertKind>> = (1..=13)
            .scan(0usize, |alerted, size| {
                let alert = alert_due(&policy, false, size, size, *alerted);
                if alert.is_some() {
                    *alerted = size;
                }
                Some(alert)
            })
            .collect();
        let at: Vec<usize> = alerts
            .iter()
            .enumerate()
            .filter(|(_, alert)| alert.is_some())
            .map(|(index, _)| index + 1)
            .collect();
        assert_eq!(at, [3, 6, 12]);
        assert_eq!(alerts[2], Some(AlertKind::Detected));
        assert_eq!(alerts[5], Some(AlertKind::Grew));
        // Safety: the first complaint is enough.
        assert_eq!(alert_due(&policy, true, 1, 1, 0), Some(AlertKind::Detected));
        // Three members, but only two of them within the window.
        assert_eq!(alert_due(&policy, false, 3, 2, 0), None);
    }
}
