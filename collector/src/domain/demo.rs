//! The demo site that `collector serve --demo` seeds.

use heard_shared::{Channel, ChannelKind, SiteConfig};

use crate::store::NewSite;

/// The key in the demo shop's script tag.
pub const DEMO_SITE_KEY: &str = "demo";

/// The demo site, allowing the given shop origins.
pub fn demo_site(allowed_origins: Vec<String>) -> NewSite {
    let mut config = SiteConfig::with_defaults(DEMO_SITE_KEY, "Heard demo shop");
    config.channels = vec![
        Channel {
            kind: ChannelKind::Call,
            label: "Call us".to_owned(),
            target: Some("+15550100".to_owned()),
        },
        Channel {
            kind: ChannelKind::Email,
            label: "Email us".to_owned(),
            target: Some("care@shop.example".to_owned()),
        },
        Channel {
            kind: ChannelKind::Callback,
            label: "Request a callback".to_owned(),
            target: None,
        },
    ];
    NewSite {
        merchant: "Demo merchant".to_owned(),
        key: DEMO_SITE_KEY.to_owned(),
        name: config.name.clone(),
        allowed_origins,
        config,
    }
}
