//! Building the widget: compile `heard-widget` to WebAssembly, generate its
//! JS glue with wasm-bindgen (as a library, so no tool needs installing), and
//! put both next to the widget's stylesheet in `target/widget/`, where the
//! collector serves them under `/widget/`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use wasm_bindgen_cli_support::Bindgen;

use crate::setup::{self, WASM_TARGET};
use crate::{cmd, target_dir};

/// The name the loader imports: `heard_widget.js` and `heard_widget_bg.wasm`.
const OUT_NAME: &str = "heard_widget";
/// The size-first cargo profile in the workspace manifest.
const RELEASE_PROFILE: &str = "widget-release";

/// Builds the widget into `<workspace_root>/target/widget/` and returns that
/// directory. `release` uses the size-first `widget-release` profile and
/// strips names from the wasm; otherwise a quick debug build.
pub fn build_widget(workspace_root: &Path, release: bool) -> anyhow::Result<PathBuf> {
    setup::ensure_wasm_target(workspace_root)?;

    let mut build = cmd::cargo(
        workspace_root,
        &[
            "build",
            "--package",
            "heard-widget",
            "--target",
            WASM_TARGET,
        ],
    );
    if release {
        build.args(["--profile", RELEASE_PROFILE]);
    }
    cmd::run(&mut build)?;

    let profile_dir = if release { RELEASE_PROFILE } else { "debug" };
    let wasm = target_dir(workspace_root)
        .join(WASM_TARGET)
        .join(profile_dir)
        .join(format!("{OUT_NAME}.wasm"));
    let out_dir = workspace_root.join("target").join("widget");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        // The library's default differs from the CLI's: without the default
        // module path, `init()` cannot find the .wasm next to the glue.
        .omit_default_module_path(false)
        .typescript(false)
        .remove_name_section(release)
        .remove_producers_section(release)
        .out_name(OUT_NAME)
        .generate(&out_dir)
        .with_context(|| format!("generating JS bindings for {}", wasm.display()))?;

    let css = workspace_root.join("www").join("widget.css");
    fs::copy(&css, out_dir.join("widget.css"))
        .with_context(|| format!("copying {}", css.display()))?;
    copy_catalogs(
        &workspace_root.join("widget").join("i18n"),
        &out_dir.join("i18n"),
    )?;
    Ok(out_dir)
}

/// Copies the language catalogs next to the widget, where it fetches the
/// shopper's language from `/widget/i18n/{tag}.json` (English is built in,
/// but copied too so every language is served the same way).
fn copy_catalogs(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let entries = fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
            && let Some(name) = path.file_name()
        {
            fs::copy(&path, to.join(name))
                .with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}
