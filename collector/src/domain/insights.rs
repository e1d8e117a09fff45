//! Insights (issue 7): what complaints teach the merchant. The rules the
//! figures share: the date range and its limits, the time buckets, the
//! nearest-rank percentile, and the terms a complaint's text is cut into for
//! "recurring terms". The figures themselves are SQL in `store/insights.rs`.

use std::collections::HashSet;

use heard_shared::FieldError;
use time::{
    Date, Month, OffsetDateTime, format_description::FormatItem, macros::format_description,
};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The longest range one request may cover, in days (both ends included).
pub const MAX_RANGE_DAYS: i64 = 366;

/// The range when none is given: the last 28 days, today included.
pub const DEFAULT_RANGE_DAYS: i64 = 28;

/// A resolution within this time counts as fast when satisfaction after
/// fast and slow resolutions is contrasted.
pub const FAST_RESOLUTION_MS: i64 = DAY_MS;

/// How many of the newest complaints in the range "recurring terms" reads:
/// the text of every complaint in a year of a large shop would make the
/// page slow, and the newest complaints are the ones a manager acts on.
pub const MAX_TEXTS_FOR_TERMS: usize = 5_000;

/// How many terms are shown per category.
pub const TERMS_PER_CATEGORY: usize = 10;

/// How many example complaints are linked per term and per cluster.
pub const EXAMPLES_PER_TERM: usize = 5;

const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// The width of a time bucket in the volume figures. Weeks start on Monday;
/// every bucket is in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    Week,
    Month,
}

impl Bucket {
    pub fn parse(text: &str) -> Option<Bucket> {
        match text {
            "day" => Some(Bucket::Day),
            "week" => Some(Bucket::Week),
            "month" => Some(Bucket::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    /// The start (ms since the epoch) of the bucket holding `millis`.
    pub fn start_of(self, millis: i64) -> i64 {
        let day = millis.div_euclid(DAY_MS);
        match self {
            Bucket::Day => day * DAY_MS,
            // 1970-01-01 was a Thursday: day 0 + 3 is a Monday's offset 0 … 6.
            Bucket::Week => (day - (day + 3).rem_euclid(7)) * DAY_MS,
            Bucket::Month => {
                let date = date_of(millis);
                millis_of(date.replace_day(1).expect("day 1 exists"))
            }
        }
    }

    /// The start of the bucket after the one starting at `start`.
    pub fn next(self, start: i64) -> i64 {
        match self {
            Bucket::Day => start + DAY_MS,
            Bucket::Week => start + 7 * DAY_MS,
            Bucket::Month => {
                let date = date_of(start);
                let (year, month) = match date.month() {
                    Month::December => (date.year() + 1, Month::January),
                    month => (date.year(), month.next()),
                };
                millis_of(Date::from_calendar_date(year, month, 1).expect("valid month"))
            }
        }
    }

    /// Every bucket start from the one holding `from` up to `to` (exclusive).
    pub fn starts(self, from: i64, to: i64) -> Vec<i64> {
        let mut starts = Vec::new();
        let mut start = self.start_of(from);
        while start < to {
            starts.push(start);
            start = self.next(start);
        }
        starts
    }
}

/// What every figure is filtered by: a half-open range of creation times
/// `[from, to)` in ms, one site or all of the merchant's, and the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsightsFilter {
    pub from: i64,
    pub to: i64,
    pub site_key: Option<String>,
    pub bucket: Bucket,
}

impl InsightsFilter {
    /// The last `DEFAULT_RANGE_DAYS` days up to today (UTC), by week.
    pub fn default_at(now: i64) -> InsightsFilter {
        let to = now.div_euclid(DAY_MS) * DAY_MS + DAY_MS;
        InsightsFilter {
            from: to - DEFAULT_RANGE_DAYS * DAY_MS,
            to,
            site_key: None,
            bucket: Bucket::Week,
        }
    }

    /// The range's first day, `YYYY-MM-DD`.
    pub fn from_date(&self) -> String {
        format_date(self.from)
    }

    /// The range's last day (included), `YYYY-MM-DD`.
    pub fn to_date(&self) -> String {
        format_date(self.to - DAY_MS)
    }
}

/// The query parameters as given (`?from=&to=&site=&bucket=`), all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct InsightsParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub site: Option<String>,
    pub bucket: Option<String>,
}

impl InsightsParams {
    /// The filter these parameters ask for at `now`, or every problem with
    /// them. `from` and `to` are days (`YYYY-MM-DD`, UTC), both included;
    /// empty values count as absent, so a GET form can leave them blank.
    pub fn filter(&self, now: i64) -> Result<InsightsFilter, Vec<FieldError>> {
        let mut errors = Vec::new();
        let default = InsightsFilter::default_at(now);
        let present = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let mut day = |field: &str, value: Option<String>| match value {
            None => None,
            Some(text) => match Date::parse(&text, DATE) {
                Ok(date) => Some(millis_of(date)),
                Err(_) => {
                    errors.push(FieldError::new(
                        field,
                        "invalid_date",
                        "Give a date as YYYY-MM-DD.",
                    ));
                    None
                }
            },
        };
        let to_day = day("to", present(&self.to));
        let from_day = day("from", present(&self.from));
        let to = to_day.map_or(default.to, |start| start + DAY_MS);
        let from = from_day.unwrap_or(to - DEFAULT_RANGE_DAYS * DAY_MS);
        if errors.is_empty() {
            if from >= to {
                errors.push(FieldError::new(
                    "from",
                    "after_to",
                    "The first day must not be after the last day.",
                ));
            } else if (to - from) / DAY_MS > MAX_RANGE_DAYS {
                errors.push(FieldError::new(
                    "from",
                    "range_too_long",
                    format!("A range covers at most {MAX_RANGE_DAYS} days."),
                ));
            }
        }
        let bucket = match present(&self.bucket) {
            None => Bucket::Week,
            Some(text) => Bucket::parse(&text).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    "bucket",
                    "invalid_bucket",
                    "Choose day, week or month.",
                ));
                Bucket::Week
            }),
        };
        let site_key = present(&self.site);
        if site_key.as_ref().is_some_and(|key| key.len() > 100) {
            errors.push(FieldError::new(
                "site",
                "unknown_site",
                "No site has this key.",
            ));
        }
        if errors.is_empty() {
            Ok(InsightsFilter {
                from,
                to,
                site_key,
                bucket,
            })
        } else {
            Err(errors)
        }
    }
}

/// `YYYY-MM-DD` of the UTC day holding `millis`.
pub fn format_date(millis: i64) -> String {
    date_of(millis).format(DATE).unwrap_or_default()
}

fn date_of(millis: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .map(OffsetDateTime::date)
        .unwrap_or(Date::MIN)
}

fn millis_of(date: Date) -> i64 {
    let epoch = Date::from_calendar_date(1970, Month::January, 1).expect("the epoch is a date");
    (date - epoch).whole_days() * DAY_MS
}

/// The nearest-rank percentile `p` (1–100) of `sorted` (ascending): the
/// smallest value at least `p`% of the values are not greater than. The
/// median is `p = 50` — for an even count, the lower of the middle two.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (u64::from(p.clamp(1, 100)) * n).div_ceil(100).max(1);
    Some(sorted[(rank - 1) as usize])
}

/// Words too common to teach anything, in the languages the widget speaks
/// in Latin script.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "was", "were", "with", "that", "this", "have", "has", "had", "not", "but",
    "you", "your", "are", "from", "they", "them", "their", "there", "been", "what", "when",
    "which", "would", "could", "about", "after", "again", "just", "very", "still", "into", "only",
    "then", "than", "our", "out", "all", "can", "did", "get", "got", "one", "two", "its", "it's",
    "i'm", "don't", "didn't", "der", "die", "das", "und", "nicht", "mit", "ist", "ein", "eine",
    "les", "des", "une", "est", "pas", "pour", "que", "qui", "dans", "los", "las", "una", "por",
    "para", "con", "del", "que", "não", "uma", "com",
];

/// The distinct terms of `text`, in order of first appearance: Latin (and
/// other spaced) words of three letters or more, lowercased, without stop
/// words; and for Chinese, Japanese and Korean, which do not separate
/// words by spaces, every pair of neighbouring characters (character
/// bigrams), so "发货太慢" gives "发货", "货太", "太慢".
pub fn terms(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut push = |term: String| {
        if seen.insert(term.clone()) {
            found.push(term);
        }
    };
    let mut word = String::new();
    let mut previous_cjk: Option<char> = None;
    let flush_word = |word: &mut String, push: &mut dyn FnMut(String)| {
        let lower = word.to_lowercase();
        let lower = lower.trim_matches('\'');
        if lower.chars().count() >= 3 && !STOP_WORDS.contains(&lower) {
            push(lower.to_owned());
        }
        word.clear();
    };
    for character in text.chars() {
        if is_cjk(character) {
            flush_word(&mut word, &mut push);
            if let Some(previous) = previous_cjk {
                push([previous, character].iter().collect());
            }
            previous_cjk = Some(character);
        } else {
            previous_cjk = None;
            if character.is_alphanumeric() || character == '\'' {
                word.push(character);
            } else {
                flush_word(&mut word, &mut push);
            }
        }
    }
    flush_word(&mut word, &mut push);
    found
}

/// Han, kana and Hangul: scripts written without spaces between words.
fn is_cjk(character: char) -> bool {
    matches!(character,
        '\u{3040}'..='\u{30FF}'   // hiragana, katakana
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{F900}'..='\u{FAFF}' // CJK compatibility ideographs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONDAY_2026_11_16: i64 = 1_794_787_200_000;

    #[test]
    fn buckets_start_on_the_day_the_monday_and_the_first() {
        let wednesday_noon = MONDAY_2026_11_16 + 2 * DAY_MS + 12 * 3_600_000;
        assert_eq!(format_date(MONDAY_2026_11_16), "2026-11-16");
        assert_eq!(
            Bucket::Day.start_of(wednesday_noon),
            MONDAY_2026_11_16 + 2 * DAY_MS
        );
        assert_eq!(Bucket::Week.start_of(wednesday_noon), MONDAY_2026_11_16);
        assert_eq!(
            Bucket::Week.start_of(MONDAY_2026_11_16 - 1),
            MONDAY_2026_11_16 - 7 * DAY_MS
        );
        assert_eq!(
            format_date(Bucket::Month.start_of(wednesday_noon)),
            "2026-11-01"
        );
        assert_eq!(
            format_date(Bucket::Month.next(Bucket::Month.start_of(wednesday_noon))),
            "2026-12-01"
        );
        assert_eq!(
            Bucket::Month
                .starts(MONDAY_2026_11_16, MONDAY_2026_11_16 + 60 * DAY_MS)
                .len(),
            3
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&values, 50), Some(50));
        assert_eq!(percentile(&values, 90), Some(90));
        assert_eq!(percentile(&values[..9], 50), Some(50));
        assert_eq!(percentile(&values[..9], 90), Some(90));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn terms_are_words_and_cjk_bigrams_without_stop_words() {
        assert_eq!(
            terms("The parcel was late, the PARCEL is lost!"),
            vec!["parcel", "late", "lost"]
        );
        assert_eq!(terms("发货太慢，发货"), vec!["发货", "货太", "太慢"]);
        assert_eq!(terms("Box 破损了"), vec!["box", "破损", "损了"]);
    }

    #[test]
    fn parameters_are_checked_with_field_errors() {
        let now = MONDAY_2026_11_16 + 3_600_000;
        let default = InsightsParams::default().filter(now).unwrap();
        assert_eq!(default.to, MONDAY_2026_11_16 + DAY_MS);
        assert_eq!(default.from, default.to - 28 * DAY_MS);
        let given = InsightsParams {
            from: Some("2025-11-01".to_owned()),
            to: Some("2025-11-30".to_owned()),
            site: Some(" ".to_owned()),
            bucket: Some("day".to_owned()),
        }
        .filter(now)
        .unwrap();
        assert_eq!(given.from_date(), "2025-11-01");
        assert_eq!(given.to_date(), "2025-11-30");
        assert_eq!((given.to - given.from) / DAY_MS, 30);
        assert_eq!(given.site_key, None);
        assert_eq!(given.bucket, Bucket::Day);
        let fields = |params: InsightsParams| -> Vec<String> {
            params
                .filter(now)
                .unwrap_err()
                .into_iter()
                .map(|error| format!("{}:{}", error.field, error.code))
                .collect()
        };
        let bad = |from: &str, to: &str, bucket: &str| InsightsParams {
            from: Some(from.to_owned()),
            to: Some(to.to_owned()),
            site: None,
            bucket: Some(bucket.to_owned()),
        };
        assert_eq!(
            fields(bad("2025-13-01", "x", "hour")),
            vec![
                "to:invalid_date",
                "from:invalid_date",
                "bucket:invalid_bucket"
            ]
        );
        assert_eq!(
            fields(bad("2025-11-02", "2025-11-01", "day")),
            vec!["from:after_to"]
        );
        assert_eq!(
            fields(bad("2024-01-01", "2025-11-01", "day")),
            vec!["from:range_too_long"]
        );
    }
}
