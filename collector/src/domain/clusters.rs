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
        jaccard(shared, self.0.len(), other.0.len())
    }

    /// The Jaccard index when it reaches `least`, else `None`: the same
    /// decision and value as comparing [`Fingerprint::similarity`] with
    /// `least`, for less work.
    ///
    /// The sweep needs no index below its threshold, and most pairs it
    /// compares are far below it (other words, or another script). The
    /// index grows with the shared count, so a pair reaches `least` exactly
    /// when its shared count reaches the least count that does
    /// ([`least_shared`]); a pair of lists too unequal in length to share
    /// that many is never merged, and a merge stops as soon as what is left
    /// of the shorter list cannot make up the difference.
    pub fn similarity_at_least(&self, other: &Fingerprint, least: f64) -> Option<f64> {
        let (left, right) = (self.0.len(), other.0.len());
        if left == 0 || right == 0 || least.is_nan() || least <= 0.0 {
            let value = self.similarity(other);
            return (value >= least).then_some(value);
        }
        let need = least_shared(left, right, least)?;
        let shared = shared_count_reaching(&self.0, &other.0, need)?;
        let value = jaccard(shared, left, right);
        (value >= least).then_some(value)
    }

    /// This fingerprint ready to be compared with many others: the sweep
    /// compares each new complaint with up to 200 earlier ones.
    pub fn probe(&self) -> Probe<'_> {
        let mut bits = vec![0u64; PROBE_BITS / 64];
        for &hash in &self.0 {
            let bit = (hash >> (32 - PROBE_BITS.trailing_zeros())) as usize;
            bits[bit / 64] |= 1 << (bit % 64);
        }
        Probe {
            fingerprint: self,
            bits,
        }
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
        // Read and checked in one pass, into a list of the right size: the
        // sweep reads thousands of these a second under a flood.
        let mut hashes = Vec::with_capacity(bytes.len() / 4);
        for chunk in bytes.chunks_exact(4) {
            let hash = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if hashes.last().is_some_and(|&before| before >= hash) {
                return None;
            }
            hashes.push(hash);
        }
        Some(Fingerprint(hashes))
    }
}

/// The bits of a [`Probe`]'s table: 8 KiB, which stays in the processor's
/// nearest cache, and so sparse for a fingerprint of a few hundred shingles
/// that a hash it does not hold finds its bit set only once in a few
/// hundred.
const PROBE_BITS: usize = 1 << 16;

/// A fingerprint with a table of which top bits its hashes have.
///
/// Every hash two fingerprints share has its bit set in the table, so
/// counting another fingerprint's hashes whose bit is set gives at least
/// their shared count — nearly exactly, the table being sparse. When even
/// that count cannot reach the threshold the pair is decided without a
/// merge: one lookup per hash of the other list, with no branch on the
/// hashes, where the merge mispredicts. Most pairs the sweep compares are
/// decided this way; only pairs that may reach it are merged.
pub struct Probe<'a> {
    fingerprint: &'a Fingerprint,
    bits: Vec<u64>,
}

impl Probe<'_> {
    /// [`Fingerprint::similarity_at_least`], the same decision and value.
    pub fn similarity_at_least(&self, other: &Fingerprint, least: f64) -> Option<f64> {
        let (left, right) = (self.fingerprint.0.len(), other.0.len());
        if left == 0 || right == 0 || least.is_nan() || least <= 0.0 {
            return self.fingerprint.similarity_at_least(other, least);
        }
        let need = least_shared(left, right, least)?;
        let shift = 32 - PROBE_BITS.trailing_zeros();
        let at_most: usize = other
            .0
            .iter()
            .map(|&hash| {
                let bit = (hash >> shift) as usize;
                ((self.bits[bit / 64] >> (bit % 64)) & 1) as usize
            })
            .sum();
        if at_most < need {
            return None;
        }
        let shared = shared_count_reaching(&self.fingerprint.0, &other.0, need)?;
        let value = jaccard(shared, left, right);
        (value >= least).then_some(value)
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

/// The Jaccard index of two sets of `left` and `right` members that share
/// `shared`: computed in one place, so that every path gives the same value.
fn jaccard(shared: usize, left: usize, right: usize) -> f64 {
    shared as f64 / (left + right - shared) as f64
}

/// The least shared count at which two non-empty sets of `left` and
/// `right` members reach the index `least`; `None` when even the most they
/// can share does not. The index grows with the shared count (its numerator
/// grows, its denominator shrinks, and a division of exact integers rounds
/// monotonically), so the count is found from the closed form
/// `least · (left + right) / (1 + least)` and settled by [`jaccard`]
/// itself, never by the formula's rounding.
fn least_shared(left: usize, right: usize, least: f64) -> Option<usize> {
    let most = left.min(right);
    let estimate = least * (left + right) as f64 / (1.0 + least);
    let mut need = (estimate.max(0.0) as usize).min(most);
    while need > 0 && jaccard(need - 1, left, right) >= least {
        need -= 1;
    }
    while need <= most && jaccard(need, left, right) < least {
        need += 1;
    }
    (need <= most).then_some(need)
}

/// The shared count of two sorted lists without repeats, when it reaches
/// `need`; `None` as soon as it no longer can.
///
/// Each step of the merge is free of branches: which list moves on is
/// decided by comparisons added as numbers, because with hashes in random
/// order a branch on them is mispredicted about every other step. The
/// bound — what is shared so far plus what is left of the shorter remainder
/// — drops by one at most per step, so it is checked only once its margin
/// over `need` is spent, not on every step.
fn shared_count_reaching(left: &[u32], right: &[u32], need: usize) -> Option<usize> {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    loop {
        let left_over = (left.len() - i).min(right.len() - j);
        let reachable = shared + left_over;
        if reachable < need {
            return None;
        }
        if left_over == 0 {
            return Some(shared);
        }
        // Within `steps`, neither index passes its list's end: each moves
        // one place at most per step.
        let steps = (reachable - need).clamp(1, left_over);
        for _ in 0..steps {
            let (a, b) = (left[i], right[j]);
            shared += usize::from(a == b);
            i += usize::from(a <= b);
            j += usize::from(b <= a);
        }
    }
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

    /// SplitMix64: deterministic numbers for the generated cases.
    struct Numbers(u64);

    impl Numbers {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut mixed = self.0;
            mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            mixed ^ (mixed >> 31)
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }
    }

    /// The plain decision: the whole index, then compared.
    fn plain(a: &Fingerprint, b: &Fingerprint, least: f64) -> Option<f64> {
        let value = a.similarity(b);
        (value >= least).then_some(value)
    }

    /// Complaint-like texts: sentences drawn from small pools in English,
    /// Spanish and Chinese (so that many pairs are alike and many are not),
    /// sometimes mixed, of a few words to a few hundred.
    fn generated_texts(numbers: &mut Numbers, count: usize) -> Vec<String> {
        const POOLS: [&[&str]; 3] = [
            &[
                "The milk tasted sour and my child got a stomach ache.",
                "The courier marked the parcel as delivered, but it never came.",
                "I was charged twice for the same order.",
                "The battery swelled after three weeks and is not safe.",
                "Nobody picked up the phone for forty minutes.",
                "The size chart does not match the jacket I received.",
            ],
            &[
                "La leche estaba agria y mi hijo tuvo dolor de estómago.",
                "El repartidor marcó el paquete como entregado.",
                "Me cobraron dos veces el mismo pedido.",
                "La batería se hinchó a las tres semanas.",
                "Esperé cuarenta minutos al teléfono.",
            ],
            &[
                "喝了你们的牛奶以后孩子肚子疼，牛奶有酸味。",
                "快递显示已签收，但包裹根本没有送到。",
                "同一个订单被扣了两次款。",
                "电池用了三个星期就鼓包了。",
                "我在电话里等了四十分钟。",
            ],
        ];
        (0..count)
            .map(|_| {
                let language = numbers.below(3);
                let sentences = 1 + numbers.below(12);
                let mut text = String::new();
                for _ in 0..sentences {
                    // One sentence in ten from another language.
                    let pool = if numbers.below(10) == 0 {
                        POOLS[numbers.below(3)]
                    } else {
                        POOLS[language]
                    };
                    text.push_str(pool[numbers.below(pool.len())]);
                    text.push(' ');
                }
                text
            })
            .collect()
    }

    /// Two sorted lists of random hashes of the given lengths sharing
    /// exactly `shared`.
    fn lists_sharing(
        numbers: &mut Numbers,
        left: usize,
        right: usize,
        shared: usize,
    ) -> (Fingerprint, Fingerprint) {
        let mut distinct = std::collections::BTreeSet::new();
        while distinct.len() < left + right - shared {
            distinct.insert(numbers.next() as u32);
        }
        // Shuffled, so that the shared hashes fall anywhere in both lists.
        let mut all: Vec<u32> = distinct.into_iter().collect();
        for index in (1..all.len()).rev() {
            all.swap(index, numbers.below(index + 1));
        }
        let mut a = all[..left].to_vec();
        let mut b = all[..shared].to_vec();
        b.extend_from_slice(&all[left..]);
        a.sort_unstable();
        b.sort_unstable();
        (Fingerprint(a), Fingerprint(b))
    }

    #[test]
    fn the_bounded_comparison_decides_and_values_every_pair_as_the_plain_one() {
        let mut numbers = Numbers(8);
        let thresholds = [
            ClusterPolicy::default().min_similarity,
            0.0,
            0.01,
            0.1,
            1.0 / 3.0,
            0.5,
            0.7,
            0.9,
            1.0,
            1.5,
        ];
        // Generated complaints in three languages, every pair.
        let texts = generated_texts(&mut numbers, 120);
        let prints: Vec<Fingerprint> = texts
            .iter()
            .map(|text| Fingerprint::of(text, 2_000))
            .chain([Fingerprint::default()])
            .collect();
        let (mut alike, mut pairs) = (0, 0);
        for a in &prints {
            for b in &prints {
                let probe = a.probe();
                for least in thresholds {
                    assert_eq!(a.similarity_at_least(b, least), plain(a, b, least));
                    assert_eq!(probe.similarity_at_least(b, least), plain(a, b, least));
                }
                pairs += 1;
                alike += usize::from(plain(a, b, thresholds[0]).is_some());
            }
        }
        // Both outcomes are well represented at the sweep's threshold.
        assert!(
            alike > pairs / 10 && alike < pairs * 9 / 10,
            "{alike} of {pairs}"
        );

        // Random hash lists: every length up to 14 and every overlap, at
        // every threshold the sizes can reach exactly (the edges) and just
        // around them.
        for left in 1..=14 {
            for right in 1..=14 {
                for shared in 0..=left.min(right) {
                    let (a, b) = lists_sharing(&mut numbers, left, right, shared);
                    for edge_shared in 0..=left.min(right) {
                        let edge = jaccard(edge_shared, left, right);
                        // The neighbouring floats: just above and just below.
                        let above = f64::from_bits(edge.to_bits() + 1);
                        let below = if edge > 0.0 {
                            f64::from_bits(edge.to_bits() - 1)
                        } else {
                            -f64::MIN_POSITIVE
                        };
                        for least in [edge, above, below] {
                            let expected = plain(&a, &b, least);
                            let context = format!("{left} {right} {shared} {least}");
                            assert_eq!(a.similarity_at_least(&b, least), expected, "{context}");
                            assert_eq!(
                                a.probe().similarity_at_least(&b, least),
                                expected,
                                "{context}"
                            );
                        }
                    }
                }
            }
        }
        // And long ones of any lengths and overlaps.
        for _ in 0..3_000 {
            let (left, right) = (1 + numbers.below(1_500), 1 + numbers.below(1_500));
            let shared = numbers.below(left.min(right) + 1);
            let (a, b) = lists_sharing(&mut numbers, left, right, shared);
            let (probe_a, probe_b) = (a.probe(), b.probe());
            for least in thresholds {
                assert_eq!(a.similarity_at_least(&b, least), plain(&a, &b, least));
                assert_eq!(b.similarity_at_least(&a, least), plain(&b, &a, least));
                assert_eq!(probe_a.similarity_at_least(&b, least), plain(&a, &b, least));
                assert_eq!(probe_b.similarity_at_least(&a, least), plain(&b, &a, least));
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
