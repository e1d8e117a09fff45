//! End-to-end test support: start the real collector binary and a real
//! Chromium, and wait for things with a deadline instead of sleeping.
//!
//! The tests themselves live in `tests/tests/`. They find what they need
//! through environment variables that `cargo xtask test` sets, with fallbacks
//! into the workspace so a plain `cargo test -p heard-e2e` works after a build:
//!
//! | variable | fallback |
//! |---|---|
//! | `HEARD_COLLECTOR_BIN` | `<workspace>/target/debug/collector` |
//! | `HEARD_WIDGET_DIR` | `<workspace>/target/widget` |
//! | `HEARD_WWW_DIR` | `<workspace>/www` |
//! | `CHROMEDRIVER` | `/usr/bin/chromedriver` |
//! | `CHROMIUM` | `/usr/bin/chromium` |
//! | `HEARD_AXE_SCRIPT` | `<workspace>/target/npm/node_modules/axe-core/axe.min.js` |

pub mod axe;
pub mod browser;
pub mod collector;
mod pipes;
pub mod proof;
pub mod serial;
pub mod shopper;
pub mod staff;
pub mod wait;

use std::path::PathBuf;

pub use browser::Browser;
pub use collector::RunningCollector;

/// The workspace root, where `Cargo.lock`, `www/` and `target/` live.
/// `cargo test` says where this crate is at run time; the path baked in at
/// compile time is the fallback.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .expect("the e2e crate lives one level below the workspace root")
        .to_path_buf()
}

/// The path in the environment variable `name`, or `fallback` when it is unset or empty.
pub fn path_from_env(name: &str, fallback: impl FnOnce() -> PathBuf) -> PathBuf {
    match std::env::var_os(name) {
        Some(value) if !value.is_empty() => PathBuf::from(value),
        _ => fallback(),
    }
}

/// The cargo target directory, honouring `CARGO_TARGET_DIR`.
pub fn target_dir() -> PathBuf {
    path_from_env("CARGO_TARGET_DIR", || workspace_root().join("target"))
}
