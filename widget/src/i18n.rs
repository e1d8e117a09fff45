//! Every word the shopper reads, from language catalogs, and which language
//! to show.
//!
//! Catalogs are flat JSON objects (`"step.details.title": "What happened?"`)
//! in `widget/i18n/`. English is built in; another language is fetched once,
//! when chosen, from `{collector}/widget/i18n/{tag}.json`, so a shopper only
//! ever downloads the one they read. A key missing from that catalog falls
//! back to English, and a key missing from English shows itself, which a
//! test keeps from happening.

use std::collections::BTreeMap;
use std::rc::Rc;

/// The languages the widget has catalogs for, as BCP 47 tags.
pub use heard_shared::site::WIDGET_LANGUAGES as SUPPORTED;

/// Each supported language by its own name, for the language switch. These
/// are the same in every catalog, which is why they live here and not there.
pub fn native_name(tag: &str) -> &'static str {
    match tag {
        "zh-Hans" => "简体中文",
        "zh-Hant" => "繁體中文",
        "es" => "Español",
        "fr" => "Français",
        "de" => "Deutsch",
        "ja" => "日本語",
        "ko" => "한국어",
        "pt" => "Português",
        "ar" => "العربية",
        _ => "English",
    }
}

/// True for languages written right to left.
pub fn is_rtl(tag: &str) -> bool {
    tag == "ar"
}

/// The English catalog, compiled into the widget.
pub const ENGLISH_JSON: &str = include_str!("../i18n/en.json");

/// A catalog's JSON object as a map; entries that are not text are left
/// out. Read by hand, not through serde: see `site_config`.
pub fn parse_catalog(text: &str) -> Option<BTreeMap<String, String>> {
    Some(crate::json::object(text)?.text_map())
}

/// One language's strings over the English ones.
#[derive(Debug, Clone)]
pub struct Texts {
    pub language: String,
    english: Rc<BTreeMap<String, String>>,
    chosen: Option<Rc<BTreeMap<String, String>>>,
}

impl Texts {
    /// English only.
    pub fn english() -> Texts {
        // The catalog is checked by a test, so parsing cannot fail at run time.
        let english = parse_catalog(ENGLISH_JSON).unwrap_or_default();
        Texts {
            language: "en".to_owned(),
            english: Rc::new(english),
            chosen: None,
        }
    }

    /// These texts with `catalog` (a language's JSON) on top of English.
    pub fn with_catalog(&self, language: &str, catalog: BTreeMap<String, String>) -> Texts {
        Texts {
            language: language.to_owned(),
            english: self.english.clone(),
            chosen: Some(Rc::new(catalog)),
        }
    }

    /// The text for `key`, in the chosen language if it has it.
    pub fn get(&self, key: &str) -> String {
        self.lookup(key).unwrap_or(key).to_owned()
    }

    /// The text for `key` if any catalog has it.
    pub fn lookup(&self, key: &str) -> Option<&str> {
        self.chosen
            .as_ref()
            .and_then(|catalog| catalog.get(key))
            .or_else(|| self.english.get(key))
            .map(String::as_str)
    }

    /// The English text for `key`, whatever language is chosen: a merchant's
    /// label equal to it is the default one, so it is shown translated.
    pub fn english_text(&self, key: &str) -> Option<&str> {
        self.english.get(key).map(String::as_str)
    }

    /// The catalog's text for `key` when `configured` is still the English
    /// default, else the merchant's own words as configured.
    pub fn default_or(&self, key: &str, configured: &str) -> String {
        if self.english_text(key) == Some(configured) {
            self.get(key)
        } else {
            configured.to_owned()
        }
    }

    /// The text for `key` with `{name}` placeholders filled in.
    pub fn format(&self, key: &str, values: &[(&str, &str)]) -> String {
        fill(&self.get(key), values)
    }
}

/// Two texts are the same when they share their catalogs, which keeps Yew's
/// prop comparison cheap.
impl PartialEq for Texts {
    fn eq(&self, other: &Self) -> bool {
        let same_chosen = match (&self.chosen, &other.chosen) {
            (Some(mine), Some(theirs)) => Rc::ptr_eq(mine, theirs),
            (None, None) => true,
            _ => false,
        };
        self.language == other.language && Rc::ptr_eq(&self.english, &other.english) && same_chosen
    }
}

/// Replaces each `{name}` in `template` with its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}

/// Picks the language to show.
///
/// Only languages the site offers and the widget supports are candidates,
/// in the site's order. The page's `<html lang>` picks among them first,
/// then the browser's languages in the shopper's order; when none matches,
/// the site's first candidate (its default) wins, and English when the site
/// offers nothing the widget supports.
pub fn negotiate(site_languages: &[String], document: Option<&str>, browser: &[String]) -> String {
    let offered: Vec<&'static str> = site_languages
        .iter()
        .filter_map(|tag| supported_match(tag))
        .fold(Vec::new(), |mut list, tag| {
            if !list.contains(&tag) {
                list.push(tag);
            }
            list
        });
    document
        .into_iter()
        .chain(browser.iter().map(String::as_str))
        .filter_map(supported_match)
        .find(|tag| offered.contains(tag))
        .or_else(|| offered.first().copied())
        .unwrap_or("en")
        .to_owned()
}

/// The supported catalog a BCP 47 tag asks for, if any: `en-GB` → `en`,
/// `zh-CN` → `zh-Hans`, `zh-TW` → `zh-Hant`, `pt_BR` → `pt`.
pub fn supported_match(tag: &str) -> Option<&'static str> {
    let tag = tag.trim().replace('_', "-").to_ascii_lowercase();
    let mut parts = tag.split('-');
    let primary = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    if primary == "zh" {
        let traditional = rest
            .iter()
            .any(|part| matches!(*part, "hant" | "tw" | "hk" | "mo"));
        return Some(if traditional { "zh-Hant" } else { "zh-Hans" });
    }
    SUPPORTED
        .iter()
        .copied()
        .find(|supported| supported.eq_ignore_ascii_case(primary))
}

/// Where a language's catalog is served from.
pub fn catalog_url(collector: &str, tag: &str) -> String {
    format!("{}/widget/i18n/{tag}.json", collector.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|tag| (*tag).to_owned()).collect()
    }

    #[test]
    fn catalogs_read_by_hand_match_the_derived_reader() {
        for tag in SUPPORTED {
            let path = format!("{}/i18n/{tag}.json", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            let derived: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
            assert_eq!(parse_catalog(&text), Some(derived), "{tag}");
        }
        assert_eq!(parse_catalog("[]"), None);
    }

    #[test]
    fn the_page_language_wins_among_the_sites_languages() {
        let site = tags(&["de", "en", "fr"]);
        assert_eq!(negotiate(&site, Some("fr-CA"), &tags(&["en"])), "fr");
        assert_eq!(negotiate(&site, Some("it"), &tags(&["it", "en-US"])), "en");
        assert_eq!(negotiate(&site, None, &tags(&["ja", "es"])), "de");
        assert_eq!(negotiate(&site, None, &[]), "de");
    }

    #[test]
    fn languages_the_site_does_not_offer_are_never_chosen() {
        let site = tags(&["en"]);
        assert_eq!(negotiate(&site, Some("ar"), &tags(&["ar"])), "en");
        assert_eq!(negotiate(&tags(&["xx", "ko"]), Some("en"), &[]), "ko");
        assert_eq!(negotiate(&tags(&["xx"]), Some("de"), &[]), "en");
        assert_eq!(negotiate(&[], None, &[]), "en");
    }

    #[test]
    fn chinese_tags_map_to_their_script() {
        let site = tags(&["zh-Hans", "zh-Hant", "en"]);
        assert_eq!(negotiate(&site, Some("zh-TW"), &[]), "zh-Hant");
        assert_eq!(negotiate(&site, Some("zh-HK"), &[]), "zh-Hant");
        assert_eq!(negotiate(&site, Some("zh-CN"), &[]), "zh-Hans");
        assert_eq!(negotiate(&site, None, &tags(&["zh"])), "zh-Hans");
        assert_eq!(supported_match("pt_BR"), Some("pt"));
        assert_eq!(supported_match("EN-gb"), Some("en"));
        assert_eq!(supported_match(""), None);
        assert_eq!(supported_match("<script>"), None);
    }

    #[test]
    fn missing_keys_fall_back_to_english() {
        let english = Texts::english();
        let mut german = BTreeMap::new();
        german.insert("nav.next".to_owned(), "Weiter".to_owned());
        let texts = english.with_catalog("de", german);
        assert_eq!(texts.get("nav.next"), "Weiter");
        assert_eq!(texts.get("nav.back"), "Back");
        assert_eq!(texts.get("no.such.key"), "no.such.key");
        assert_eq!(
            texts.format("receipt.when.hours", &[("hours", "24")]),
            "within 24 hours"
        );
    }

    #[test]
    fn the_english_catalog_is_flat_and_complete() {
        let catalog: BTreeMap<String, String> = serde_json::from_str(ENGLISH_JSON).unwrap();
        for category in heard_shared::site::default_categories() {
            // The widget recognises a default (and translates it) by its
            // English words, so the shared defaults and en.json must agree.
            let key = format!("category.{}.label", category.id);
            assert_eq!(catalog.get(&key), Some(&category.label), "{key}");
            let key = format!("category.{}.hint", category.id);
            assert_eq!(catalog.get(&key), category.hint.as_ref(), "{key}");
            for question in &category.questions {
                let key = format!("question.{}.label", question.id);
                assert_eq!(catalog.get(&key), Some(&question.label), "{key}");
                for option in question.options() {
                    let key = match question.kind {
                        heard_shared::site::QuestionKind::Proof => format!("proof.option.{option}"),
                        _ => format!("question.{}.option.{option}", question.id),
                    };
                    assert!(catalog.contains_key(&key), "{key}");
                }
            }
        }
    }

    /// Every literal key the code asks for (`.get("…")`, `.format("…"`) is in
    /// English, so no shopper ever reads a bare key.
    #[test]
    fn every_key_in_the_code_is_in_the_english_catalog() {
        let catalog: BTreeMap<String, String> = serde_json::from_str(ENGLISH_JSON).unwrap();
        let source_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![source_dir.clone()];
        let mut checked = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(
                    std::fs::read_dir(&path)
                        .unwrap()
                        .map(|entry| entry.unwrap().path()),
                );
                continue;
            }
            let whole = std::fs::read_to_string(&path).unwrap();
            // Tests ask for missing keys on purpose.
            let source = whole.split("#[cfg(test)]").next().unwrap();
            for marker in ["t.get(\"", "t.format(\"", "texts.get(\"", "texts.format(\""] {
                for piece in source.split(marker).skip(1) {
                    let key = piece.split('"').next().unwrap();
                    if key.contains('{') || key.ends_with('.') {
                        continue;
                    }
                    checked += 1;
                    assert!(
                        catalog.contains_key(key),
                        "{key} is used in {} but not in en.json",
                        path.display()
                    );
                }
            }
        }
        assert!(
            checked > 20,
            "only {checked} keys found: is the scan still right?"
        );
    }
}
