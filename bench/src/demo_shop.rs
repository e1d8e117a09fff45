//! The real collector serving its demo shop (`collector serve --demo`) for
//! the widget-speed section: a temporary database, and a temporary copy of
//! `www/` whose demo folder has one page more — the shop's front page with
//! the widget's script tag removed, so the same page can be measured with
//! and without the widget. The product has no switch for that.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use tempfile::TempDir;

use crate::spawned::Spawned;

const DEMO_SHOP_PREFIX: &str = "heard: demo shop on ";
/// The front page's script tag, as `www/demo/index.html` embeds the widget.
const WIDGET_TAG: &str =
    "<script src=\"{{COLLECTOR_URL}}/widget.js\" data-site=\"demo\" async></script>";
/// The copy of the front page without it.
pub const WITHOUT_WIDGET_PAGE: &str = "bench-without-widget.html";

/// A running `collector serve --demo`; killed when dropped (its database
/// is thrown away).
pub struct DemoShop {
    _process: Spawned,
    /// The demo shop's base URL (its own origin), without a trailing slash.
    pub shop_url: String,
    _directory: TempDir,
}

impl DemoShop {
    pub fn start(collector: &Path, www: &Path, widget: &Path) -> anyhow::Result<DemoShop> {
        let directory = tempfile::Builder::new()
            .prefix("heard-bench-demo-")
            .tempdir()?;
        let www_copy = directory.path().join("www");
        copy_tree(www, &www_copy)?;
        let front = std::fs::read_to_string(www_copy.join("demo").join("index.html"))?;
        if !front.contains(WIDGET_TAG) {
            bail!("www/demo/index.html no longer embeds the widget as `{WIDGET_TAG}`");
        }
        std::fs::write(
            www_copy.join("demo").join(WITHOUT_WIDGET_PAGE),
            front.replace(WIDGET_TAG, ""),
        )?;
        let (process, shop_url) = Spawned::start(
            Command::new(collector)
                .args(["serve", "--demo"])
                .current_dir(directory.path())
                .env("HEARD_DATABASE", directory.path().join("demo.sqlite3"))
                .env("HEARD_LISTEN", "127.0.0.1:0")
                .env("HEARD_DEMO_SHOP_LISTEN", "127.0.0.1:0")
                .env("HEARD_WWW_DIR", &www_copy)
                .env("HEARD_WIDGET_DIR", widget)
                .env_remove("HEARD_PUBLIC_URL")
                .env("RUST_LOG", "warn")
                .stderr(Stdio::null()),
            DEMO_SHOP_PREFIX,
        )?;
        let shop = DemoShop {
            _process: process,
            shop_url: shop_url.trim_end_matches('/').to_owned(),
            _directory: directory,
        };
        Ok(shop)
    }

    /// The shop's front page, with the widget.
    pub fn with_widget(&self) -> String {
        format!("{}/", self.shop_url)
    }

    /// The same page without the widget's script tag.
    pub fn without_widget(&self) -> String {
        format!("{}/{WITHOUT_WIDGET_PAGE}", self.shop_url)
    }
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
