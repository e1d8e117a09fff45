//! What a merchant may put in a site's configuration.
//!
//! Merchants rename, hide, reorder and add categories and their questions;
//! these rules keep a configuration the widget can always draw and the
//! collector can always validate against.

use std::collections::BTreeSet;

use crate::error::FieldError;
use crate::site::SiteConfig;
use crate::validate::is_language_tag;

/// Most categories a site may offer (a long list is a form that fights the shopper).
pub const MAX_CATEGORIES: usize = 24;
/// Most guided questions per category.
pub const MAX_QUESTIONS: usize = 12;
/// Labels, hints and question texts.
pub const LABEL_MAX_CHARS: usize = 200;

/// Checks a site configuration; returns every problem at once.
pub fn validate_site_config(config: &SiteConfig) -> Result<(), Vec<FieldError>> {
    let mut problems = Vec::new();
    let mut problem = |field: String, code: &str, message: &str| {
        problems.push(FieldError::new(field, code, message));
    };

    if config.name.trim().is_empty() || config.name.chars().count() > LABEL_MAX_CHARS {
        problem(
            "name".into(),
            "invalid",
            "Give the shop a name of at most 200 characters.",
        );
    }
    if config.languages.is_empty() {
        problem(
            "languages".into(),
            "required",
            "List at least one language, such as en.",
        );
    }
    for (index, language) in config.languages.iter().enumerate() {
        if !is_language_tag(language) {
            problem(
                format!("languages.{index}"),
                "invalid",
                "Use a language tag such as en or zh-Hant.",
            );
        }
    }
    if config.visible_categories().next().is_none() {
        problem(
            "categories".into(),
            "required",
            "Offer at least one category that is not hidden.",
        );
    }
    if config.categories.len() > MAX_CATEGORIES {
        problem(
            "categories".into(),
            "too_many",
            "Offer at most 24 categories.",
        );
    }
    let mut category_ids = BTreeSet::new();
    for (index, category) in config.categories.iter().enumerate() {
        let field = format!("categories.{index}");
        if !is_identifier(&category.id) || !category_ids.insert(category.id.as_str()) {
            problem(
                format!("{field}.id"),
                "invalid",
                "Category ids are unique, 1 to 64 letters, digits, '-' or '_'.",
            );
        }
        if !is_label(&category.label) {
            problem(
                format!("{field}.label"),
                "invalid",
                "Labels are 1 to 200 characters.",
            );
        }
        if category.questions.len() > MAX_QUESTIONS {
            problem(
                format!("{field}.questions"),
                "too_many",
                "Ask at most 12 questions per category.",
            );
        }
        let mut question_ids = BTreeSet::new();
        for (number, question) in category.questions.iter().enumerate() {
            if !is_identifier(&question.id) || !question_ids.insert(question.id.as_str()) {
                problem(
                    format!("{field}.questions.{number}.id"),
                    "invalid",
                    "Question ids are unique within a category, 1 to 64 letters, digits, '-' or '_'.",
                );
            }
            if !is_label(&question.label) {
                problem(
                    format!("{field}.questions.{number}.label"),
                    "invalid",
                    "Questions are 1 to 200 characters.",
                );
            }
        }
    }
    for (index, channel) in config.channels.iter().enumerate() {
        if !is_label(&channel.label) {
            problem(
                format!("channels.{index}.label"),
                "invalid",
                "Labels are 1 to 200 characters.",
            );
        }
        let target_ok = channel.target.as_deref().is_none_or(|target| {
            target.chars().count() <= 2048 && !target.chars().any(char::is_control)
        });
        if !target_ok {
            problem(
                format!("channels.{index}.target"),
                "invalid",
                "The target must be one line of at most 2048 characters.",
            );
        }
    }
    let colour = &config.branding.accent_color;
    if !(colour.len() == 7
        && colour.starts_with('#')
        && colour[1..].bytes().all(|byte| byte.is_ascii_hexdigit()))
    {
        problem(
            "branding.accent_color".into(),
            "invalid",
            "Write the colour as #rrggbb.",
        );
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn is_identifier(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

fn is_label(text: &str) -> bool {
    !text.trim().is_empty()
        && text.chars().count() <= LABEL_MAX_CHARS
        && !text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::Category;

    fn fields(config: &SiteConfig) -> Vec<String> {
        validate_site_config(config)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| problem.field)
            .collect()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(
            validate_site_config(&SiteConfig::with_defaults("demo", "Demo")),
            Ok(())
        );
    }

    #[test]
    fn renamed_reordered_hidden_and_added_categories_are_fine() {
        let mut config = SiteConfig::with_defaults("demo", "Demo");
        config.categories.reverse();
        config.categories[0].label = "Ideas and anything else".to_owned();
        config.categories[1].hidden = true;
        config.categories.push(Category {
            id: "installation".to_owned(),
            label: "Installation visit".to_owned(),
            ..config.categories[2].clone()
        });
        assert_eq!(validate_site_config(&config), Ok(()));
    }

    #[test]
    fn broken_configurations_name_each_problem() {
        let mut config = SiteConfig::with_defaults("demo", "Demo");
        config.categories[1].id = config.categories[0].id.clone();
        config.categories[2].label = " ".to_owned();
        config.languages = vec!["en_US".to_owned()];
        config.branding.accent_color = "blue".to_owned();
        assert_eq!(
            fields(&config),
            [
                "languages.0",
                "categories.1.id",
                "categories.2.label",
                "branding.accent_color"
            ]
        );

        let mut all_hidden = SiteConfig::with_defaults("demo", "Demo");
        for category in &mut all_hidden.categories {
            category.hidden = true;
        }
        assert_eq!(fields(&all_hidden), ["categories"]);
    }
}
