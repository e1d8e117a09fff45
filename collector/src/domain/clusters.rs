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
    /// New complaints looked at per batch of the sweep (each batch one
    /// read and one writer job). A batch reads each earlier complaint's
    /// stored fingerprint once, for all its new complaints: larger batches
    /// read fewer again under a flood, smaller ones hold the writer less.
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
            batch: 100,
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
///
/// The sweep stores each complaint's fingerprint ([`Fingerprint::to_bytes`],
/// `store::clusters`), so a shingle's hash must mean the same in every build:
/// it is computed here ([`shingle`]), never by the standard library's
/// `DefaultHasher`, whose algorithm may change between Rust releases. It is
/// 32 bits, to halve what is stored and read: two texts of a thousand
/// shingles each share a shingle by accident once in about 4 000
/// comparisons, which moves their index by a thousandth at most.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint(Vec<u32>);

impl Fingerprint {
    pub fn of(text: &str, max_chars: usize) -> Fingerprint {
        let mut shingles: Vec<u32> = Vec::new();
        // The word being read (letters and digits outside the CJK scripts):
        // its last two characters, the first of them a space at the start,
        // so short words and word edges count: " ok" "ok ".
        let mut word: (Option<char>, char) = (None, ' ');
        // The run of CJK characters being read: its last one and its length.
        let mut run: (char, usize) = (' ', 0);
        let end_word = |word: &mut (Option<char>, char), shingles: &mut Vec<u32>| {
            if let Some(before) = word.0 {
                shingles.push(shingle(Shingle::Three(before, word.1, ' ')));
            }
            *word = (None, ' ');
        };
        let end_run = |run: &mut (char, usize), shingles: &mut Vec<u32>| {
            // A run of one character is a word of its own; a longer one
            // counts by its pairs, pushed as they were read.
            if run.1 == 1 {
                shingles.push(shingle(Shingle::One(run.0)));
            }
            *run = (' ', 0);
        };
        for character in text.chars().take(max_chars).flat_map(char::to_lowercase) {
            if is_cjk(character) {
                end_word(&mut word, &mut shingles);
                if run.1 > 0 {
                    shingles.push(shingle(Shingle::Two(run.0, character)));
                }
                run = (character, run.1 + 1);
            } else if character.is_alphanumeric() {
                end_run(&mut run, &mut shingles);
                if let Some(before) = word.0 {
                    shingles.push(shingle(Shingle::Three(before, word.1, character)));
                }
                word = (Some(word.1), character);
            } else {
                end_word(&mut word, &mut shingles);
                end_run(&mut run, &mut shingles);
            }
        }
        end_word(&mut word, &mut shingles);
        end_run(&mut run, &mut shingles);
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

    /// As stored: each hash as 4 bytes, little-endian, in ascending order.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|hash| hash.to_le_bytes()).collect()
    }

    /// A stored fingerprint; `None` for bytes that are not one (a length
    /// that is not a multiple of 4, or hashes out of order), which the
    /// caller computes again from the text.
    pub fn from_bytes(bytes: &[u8]) -> Option<Fingerprint> {
        if bytes.len() % 4 != 0 {
            return None;
        }
        let hashes: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        hashes
            .windows(2)
            .all(|pair| pair[0] < pair[1])
            .then_some(Fingerprint(hashes))
    }
}

/// How many values two sorted lists without repeats have in common.
fn shared_count(left: &[u32], right: &[u32]) -> usize {
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

/// A shingle: three characters of a padded word, or one or two of a CJK run.
#[derive(Debug, Clone, Copy)]
enum Shingle {
    Three(char, char, char),
    Two(char, char),
    One(char),
}

/// A shingle's hash. Its characters (21 bits each at most) are first packed
/// into one `u64` without loss — the kinds told apart by the top two bits —
/// then mixed by multiplications with odd constants and shifts, each step
/// a bijection, and the upper half kept.
fn shingle(shingle: Shingle) -> u32 {
    let packed = match shingle {
        Shingle::Three(a, b, c) => (u64::from(a) << 42) | (u64::from(b) << 21) | u64::from(c),
        Shingle::Two(a, b) => (1 << 63) | (u64::from(a) << 21) | u64::from(b),
        Shingle::One(a) => (3 << 62) | u64::from(a),
    };
    let mut mixed = packed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    mixed ^= mixed >> 29;
    mixed = mixed.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed ^= mixed >> 32;
    (mixed >> 32) as u32
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

    /// The shingles as the first version of the sweep took them: each a
    /// string of characters, in a set.
    fn reference_shingles(text: &str) -> std::collections::HashSet<String> {
        let mut shingles = std::collections::HashSet::new();
        let lowered: String = text.chars().flat_map(char::to_lowercase).collect();
        let mut pieces: Vec<(bool, Vec<char>)> = Vec::new();
        for character in lowered.chars() {
            let kind = if is_cjk(character) {
                Some(true)
            } else if character.is_alphanumeric() {
                Some(false)
            } else {
                None
            };
            match (kind, pieces.last_mut()) {
                (Some(cjk), Some((last, piece))) if *last == cjk && !piece.is_empty() => {
                    piece.push(character);
                }
                (Some(cjk), _) => pieces.push((cjk, vec![character])),
                (None, _) => pieces.push((false, Vec::new())),
            }
        }
        for (cjk, piece) in pieces.into_iter().filter(|(_, piece)| !piece.is_empty()) {
            if cjk && piece.len() == 1 {
                shingles.insert(piece.iter().collect());
            } else if cjk {
                shingles.extend(piece.windows(2).map(|pair| pair.iter().collect::<String>()));
            } else {
                let padded: Vec<char> = std::iter::once(' ')
                    .chain(piece)
                    .chain(std::iter::once(' '))
                    .collect();
                shingles.extend(
                    padded
                        .windows(3)
                        .map(|three| three.iter().collect::<String>()),
                );
            }
        }
        shingles
    }

    #[test]
    fn the_index_is_that_of_the_shingle_sets_in_every_script() {
        let texts = [
            "The milk tasted sour and my child got a stomach ache",
            "Sour milk! My child had a stomach ache after drinking it",
            "喝了你们的牛奶以后孩子肚子疼，牛奶有酸味",
            "牛奶有酸味，孩子喝了以后肚子疼得厉害",
            "La leche estaba agria y mi hijo tuvo dolor de estómago",
            "Leche agria: dolor de estómago, niño enfermo",
            "I 牛 x 奶奶 ok, 2 boxes x2 ÄÖÜ straße",
            "a",
            "",
            "牛",
        ];
        for a in texts {
            for b in texts {
                let (left, right) = (reference_shingles(a), reference_shingles(b));
                let expected = if left.is_empty() || right.is_empty() {
                    0.0
                } else {
                    let shared = left.intersection(&right).count();
                    shared as f64 / (left.len() + right.len() - shared) as f64
                };
                assert_eq!(similarity(a, b), expected, "{a} / {b}");
                assert_eq!(Fingerprint::of(a, 2_000).0.len(), left.len(), "{a}");
            }
        }
    }

    #[test]
    fn a_stored_fingerprint_reads_back_and_its_hashes_never_change() {
        let fingerprint = Fingerprint::of("Sour milk, 牛奶有酸味", 2_000);
        let bytes = fingerprint.to_bytes();
        assert_eq!(bytes.len(), 4 * fingerprint.0.len());
        assert_eq!(Fingerprint::from_bytes(&bytes), Some(fingerprint));
        assert_eq!(Fingerprint::from_bytes(&[]), Some(Fingerprint::default()));
        // Not a fingerprint: a torn length, hashes out of order or repeated.
        assert_eq!(Fingerprint::from_bytes(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Fingerprint::from_bytes(&[2, 0, 0, 0, 1, 0, 0, 0]), None);
        assert_eq!(Fingerprint::from_bytes(&[1, 0, 0, 0, 1, 0, 0, 0]), None);
        // Stored fingerprints are compared with new ones for as long as the
        // database lives: a shingle's hash is pinned here, so that a change
        // to it cannot go unnoticed (it would need a migration clearing them).
        assert_eq!(
            Fingerprint::of("ok 牛 牛奶", 100).0,
            PINNED_HASHES,
            "the shingle hash changed"
        );
    }

    const PINNED_HASHES: [u32; 4] = [1_730_344_436, 2_112_539_895, 2_615_508_869, 3_025_717_524];

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
