//! Installing what the build and the browser tests need, only when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::cmd;

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The axe-core major version the accessibility tests run; npm picks the
/// newest 4.x, whose rules only ever grow stricter within the major.
const AXE_CORE: &str = "axe-core@4";

/// Where the accessibility tests find axe-core's browser build, below the
/// target directory so it is never committed.
pub fn axe_script(target_dir: &Path) -> PathBuf {
    target_dir
        .join("npm")
        .join("node_modules")
        .join("axe-core")
        .join("axe.min.js")
}

/// Installs axe-core from npm into `<target>/npm` when it is missing, and
/// returns the path of `axe.min.js`.
pub fn ensure_axe(target_dir: &Path) -> anyhow::Result<PathBuf> {
    let script = axe_script(target_dir);
    if script.is_file() {
        eprintln!("xtask: {} is installed", script.display());
        return Ok(script);
    }
    let prefix = target_dir.join("npm");
    std::fs::create_dir_all(&prefix).with_context(|| format!("creating {}", prefix.display()))?;
    cmd::run(
        Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .args(["--no-audit", "--no-fund", AXE_CORE]),
    )?;
    if !script.is_file() {
        bail!(
            "npm installed {AXE_CORE} but {} is missing",
            script.display()
        );
    }
    Ok(script)
}

/// Adds the wasm32 target through rustup when `rustup target list --installed`
/// lacks it. Without rustup, cargo will explain what is missing.
pub fn ensure_wasm_target(root: &Path) -> anyhow::Result<()> {
    let Some(installed) = cmd::output(Command::new("rustup").current_dir(root).args([
        "target",
        "list",
        "--installed",
    ])) else {
        eprintln!("xtask: rustup not found; assuming the {WASM_TARGET} target is installed");
        return Ok(());
    };
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    cmd::run(
        Command::new("rustup")
            .current_dir(root)
            .args(["target", "add", WASM_TARGET]),
    )
}

/// Installs Debian's Chromium and chromedriver when either is missing.
pub fn ensure_chromium() -> anyhow::Result<()> {
    if Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file() {
        eprintln!("xtask: {CHROMIUM} and {CHROMEDRIVER} are installed");
        return Ok(());
    }
    apt_get(&["update"])?;
    apt_get(&["install", "-y", "chromium", "chromium-driver"])
}

/// `apt-get …`, through sudo unless we already are root.
fn apt_get(args: &[&str]) -> anyhow::Result<()> {
    let is_root = cmd::output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    // Never stop to ask a question: there may be nobody to answer it.
    let mut command = if is_root {
        let mut apt_get = Command::new("apt-get");
        apt_get.env("DEBIAN_FRONTEND", "noninteractive");
        apt_get
    } else {
        // sudo resets the environment, so the setting goes on its command line.
        let mut sudo = Command::new("sudo");
        sudo.args(["DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        sudo
    };
    cmd::run(command.args(args))
}
