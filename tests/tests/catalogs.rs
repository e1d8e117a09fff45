//! Every language catalog in `widget/i18n/` says everything English says,
//! with the same placeholders.
//!
//! The widget falls back to English for a missing key, so a gap would not
//! break anything visibly: a shopper would just meet one English sentence in
//! the middle of their own language. This test makes such a gap fail the
//! build instead. A placeholder lost in translation (`{hours}`) would show a
//! sentence with a hole, so placeholders are compared too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use heard_e2e::workspace_root;

/// The languages the issue promises, besides English.
const EXPECTED: [&str; 9] = [
    "zh-Hans", "zh-Hant", "es", "fr", "de", "ja", "ko", "pt", "ar",
];

#[test]
fn every_catalog_has_exactly_the_english_keys_and_placeholders() -> anyhow::Result<()> {
    let dir = catalog_dir();
    let english = read_catalog(&dir.join("en.json"))?;
    ensure!(!english.is_empty(), "en.json is empty");

    let mut problems = Vec::new();
    for (key, text) in &english {
        if text.trim().is_empty() {
            problems.push(format!("en.json: {key} is empty"));
        }
    }
    for language in languages(&dir)? {
        let file = format!("{language}.json");
        let catalog = read_catalog(&dir.join(&file))?;
        for key in english.keys().filter(|key| !catalog.contains_key(*key)) {
            problems.push(format!("{file}: missing {key}"));
        }
        for key in catalog.keys().filter(|key| !english.contains_key(*key)) {
            problems.push(format!("{file}: {key} is not in en.json"));
        }
        for (key, text) in &catalog {
            if text.trim().is_empty() {
                problems.push(format!("{file}: {key} is empty"));
            }
            let Some(english_text) = english.get(key) else {
                continue;
            };
            let wanted = placeholders(english_text);
            let found = placeholders(text);
            if wanted != found {
                problems.push(format!(
                    "{file}: {key} has placeholders {found:?}, English has {wanted:?}"
                ));
            }
        }
    }
    ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

#[test]
fn every_promised_language_has_a_catalog() -> anyhow::Result<()> {
    let present = languages(&catalog_dir())?;
    for language in EXPECTED {
        ensure!(
            present.contains(language),
            "widget/i18n/{language}.json is missing"
        );
    }
    Ok(())
}

#[test]
fn placeholders_are_the_names_in_braces() {
    assert_eq!(
        placeholders("Step {current} of {total}, {current} again"),
        BTreeSet::from(["current".to_owned(), "total".to_owned()])
    );
    assert_eq!(placeholders("No braces here"), BTreeSet::new());
    assert_eq!(placeholders("An open { brace"), BTreeSet::new());
}

fn catalog_dir() -> PathBuf {
    workspace_root().join("widget").join("i18n")
}

/// The language tags of every catalog except English, from the file names.
fn languages(dir: &Path) -> anyhow::Result<BTreeSet<String>> {
    let mut tags = BTreeSet::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            let tag = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .with_context(|| format!("{} has no readable name", path.display()))?;
            if tag != "en" {
                tags.insert(tag.to_owned());
            }
        }
    }
    Ok(tags)
}

/// A catalog is one flat JSON object of strings.
fn read_catalog(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a flat JSON object of strings", path.display()))
}

/// The `{name}` placeholders in `text`.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            break;
        };
        let name = &after[..close];
        if !name.is_empty()
            && name
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || character == '_')
        {
            names.insert(name.to_owned());
        }
        rest = &after[close + 1..];
    }
    names
}
