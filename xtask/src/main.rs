//! `cargo xtask …`: the project's build and test automation, in Rust instead
//! of shell scripts (see `.cargo/config.toml` for the alias).
//!
//! - `cargo xtask demo` builds the widget and runs the collector with the demo shop.
//! - `cargo xtask test` runs every check CI runs, in order, stopping at the first failure.
//! - `cargo xtask build-widget [--debug]` builds the widget into `target/widget/`.
//! - `cargo xtask bench` measures intake and footprint and updates BENCHMARKS.md.
//! - `cargo xtask fuzz [--cases N]` runs the fuzzing properties with many cases;
//!   `--api` runs schemathesis against a real collector.

// The xtask is a command-line program: what it prints is its interface.
#![allow(clippy::print_stdout)]

mod bench;
mod ci;
mod cmd;
mod demo;
mod fuzz;
mod setup;
mod widget;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo                    build the widget, then run the collector with the demo shop
                          (Ctrl-C stops it)
  test                    run formatting, lints, the widget build and every test, as CI does
  build-widget [--debug]  build the widget into target/widget/ (release unless --debug)
  bench                   measure intake, inbox at scale, widget speed and footprint
                          (release build, loopback load, raw SQLite, headless Chromium)
                          and rewrite those sections of BENCHMARKS.md
  fuzz [--cases N]        run the fuzzing properties (validator, intake parsing, image
                          check, status tokens) with N cases each (default 20000)
  fuzz --api [--seconds N]
                          run schemathesis (from PyPI) against a real collector with
                          collector/openapi.json for N seconds (default 120)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[&str]) -> anyhow::Result<()> {
    let root = workspace_root();
    match args {
        ["demo"] => demo::run(&root),
        ["test"] => ci::run(&root),
        ["bench"] => bench::run(&root),
        ["fuzz", options @ ..] => fuzz::run(&root, options),
        ["build-widget", options @ ..] if options.iter().all(|option| *option == "--debug") => {
            let release = !options.contains(&"--debug");
            let out_dir = widget::build_widget(&root, release)?;
            eprintln!("xtask: widget built into {}", out_dir.display());
            Ok(())
        }
        ["help" | "--help" | "-h"] => {
            eprint!("{USAGE}");
            Ok(())
        }
        _ => {
            eprint!("{USAGE}");
            bail!("unknown or missing command: {}", args.join(" "))
        }
    }
}

/// The workspace root: this crate lives one level below it. `cargo run` says
/// where the crate is at run time; the path baked in at compile time is the
/// fallback, and can be stale when a build is reused from another checkout.
fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The cargo target directory, honouring `CARGO_TARGET_DIR` (relative to the root).
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}
