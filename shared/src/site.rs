//! A site's public configuration: what the widget needs to draw itself.

use serde::{Deserialize, Serialize};

/// Answer of `GET /api/v1/sites/{site_key}/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteConfig {
    pub site_key: String,
    /// The shop's name as shoppers know it.
    pub name: String,
    /// Languages the merchant supports, as BCP 47 tags; the first is the default.
    pub languages: Vec<String>,
    /// The categories a shopper chooses from, in display order.
    pub categories: Vec<Category>,
    /// Ways to reach the merchant besides the guided form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub branding: Branding,
    /// The merchant's promise of a first answer, in hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_target_hours: Option<u32>,
}

impl SiteConfig {
    /// A new site with the default taxonomy, English, and the guided form only.
    pub fn with_defaults(site_key: &str, name: &str) -> SiteConfig {
        SiteConfig {
            site_key: site_key.to_owned(),
            name: name.to_owned(),
            languages: vec!["en".to_owned()],
            categories: default_categories(),
            channels: Vec::new(),
            branding: Branding::default(),
            response_target_hours: Some(24),
        }
    }

    /// The visible category with this id.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories
            .iter()
            .find(|category| category.id == id && !category.hidden)
    }

    /// The categories a shopper can choose, in order.
    pub fn visible_categories(&self) -> impl Iterator<Item = &Category> {
        self.categories.iter().filter(|category| !category.hidden)
    }
}

/// One kind of complaint a shopper can choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Stable id recorded with each complaint, e.g. `product`.
    pub id: String,
    /// What the shopper reads, e.g. "Product problem".
    pub label: String,
    /// A short hint under the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The value the customer holds when complaining about this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ValueOrientation>,
    /// Always urgent: never left in a queue (safety and health).
    #[serde(default, skip_serializing_if = "is_false")]
    pub urgent: bool,
    /// The softer path for shoppers who would rather not "complain".
    #[serde(default, skip_serializing_if = "is_false")]
    pub suggestion: bool,
    /// Hidden categories stay valid for old complaints but are not offered.
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The value a complaint reveals (its "value orientation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueOrientation {
    Speed,
    Courtesy,
    ValueForMoney,
    Reliability,
    Flexibility,
    PersonalCare,
    Convenience,
    Safety,
}

impl ValueOrientation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Speed => "speed",
            Self::Courtesy => "courtesy",
            Self::ValueForMoney => "value_for_money",
            Self::Reliability => "reliability",
            Self::Flexibility => "flexibility",
            Self::PersonalCare => "personal_care",
            Self::Convenience => "convenience",
            Self::Safety => "safety",
        }
    }
}

/// A way to reach the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub kind: ChannelKind,
    pub label: String,
    /// A phone number, an email address or a chat URL, depending on `kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Call,
    Email,
    Chat,
    Callback,
}

/// How the widget looks on this site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    /// The accent colour as `#rrggbb`.
    pub accent_color: String,
    /// The launcher's text.
    pub launcher_label: String,
    /// The invitation at the top of the form.
    pub invitation: String,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            accent_color: "#1f5fbf".to_owned(),
            launcher_label: "Something wrong?".to_owned(),
            invitation: "Something not right? Tell us — we read every message.".to_owned(),
        }
    }
}

/// The default complaint taxonomy from the product brief; merchants edit it.
pub fn default_categories() -> Vec<Category> {
    let category = |id: &str, label: &str, hint: &str, value: Option<ValueOrientation>| Category {
        id: id.to_owned(),
        label: label.to_owned(),
        hint: Some(hint.to_owned()),
        value,
        urgent: false,
        suggestion: false,
        hidden: false,
    };
    use ValueOrientation::*;
    vec![
        category(
            "product",
            "Product problem",
            "Faulty, broken or not as described",
            Some(Reliability),
        ),
        category(
            "delivery",
            "Delivery or waiting",
            "Late, missing, or kept waiting",
            Some(Speed),
        ),
        category(
            "staff",
            "Staff or service attitude",
            "How you were treated",
            Some(Courtesy),
        ),
        category(
            "billing",
            "Price, billing or refund",
            "Charges, refunds, what you paid",
            Some(ValueForMoney),
        ),
        category(
            "policy",
            "Policy or rules",
            "A rule that got in your way",
            Some(Flexibility),
        ),
        category(
            "website",
            "Website or app",
            "Something on this site did not work",
            Some(Convenience),
        ),
        Category {
            urgent: true,
            ..category(
                "safety",
                "Safety or health",
                "Someone could be or was hurt",
                Some(Safety),
            )
        },
        Category {
            suggestion: true,
            ..category(
                "suggestion",
                "Suggestion or other",
                "An idea, or anything else",
                None,
            )
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_taxonomy_matches_the_brief() {
        let config = SiteConfig::with_defaults("demo", "Demo shop");
        let ids: Vec<&str> = config.categories.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "product",
                "delivery",
                "staff",
                "billing",
                "policy",
                "website",
                "safety",
                "suggestion"
            ]
        );
        let safety = config.category("safety").unwrap();
        assert!(safety.urgent);
        assert_eq!(safety.value, Some(ValueOrientation::Safety));
        assert!(config.category("suggestion").unwrap().suggestion);
    }

    #[test]
    fn hidden_categories_are_not_offered() {
        let mut config = SiteConfig::with_defaults("demo", "Demo shop");
        config.categories[0].hidden = true;
        assert!(config.category("product").is_none());
        assert_eq!(config.visible_categories().count(), 7);
    }

    #[test]
    fn old_clients_without_optional_fields_still_parse() {
        let json = r#"{"site_key":"s","name":"n","languages":["en"],
            "categories":[{"id":"a","label":"A"}],"some_future_field":1}"#;
        let config: SiteConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.branding, Branding::default());
        assert!(config.channels.is_empty());
    }
}
