//! `cargo xtask test`: every check CI runs, in order, stopping at the first
//! failure. Each step is incremental, so a second run only redoes what changed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::{cmd, setup, target_dir, widget};

/// What the steps hand on to later ones.
#[derive(Default)]
struct Built {
    widget_dir: Option<PathBuf>,
    axe_script: Option<PathBuf>,
    tests: cmd::Tally,
}

type StepFn = fn(&Path, &mut Built) -> anyhow::Result<()>;

const STEPS: &[(&str, StepFn)] = &[
    ("formatting", formatting),
    ("lints", lints),
    ("widget build", widget_build),
    ("Chromium, chromedriver and axe-core", browser),
    ("collector build", collector_build),
    ("workspace tests, end to end included", workspace_tests),
    ("widget tests (native)", widget_tests),
];

pub fn run(root: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut built = Built::default();
    let mut timings = Vec::new();
    for (number, (name, step)) in STEPS.iter().enumerate() {
        let heading = format!("[{}/{}] {name}", number + 1, STEPS.len());
        eprintln!("\n==> {heading}");
        let step_started = Instant::now();
        step(root, &mut built).with_context(|| format!("step {heading} failed"))?;
        timings.push((heading, step_started.elapsed()));
    }
    eprintln!("\n==> all {} steps passed", STEPS.len());
    for (heading, elapsed) in &timings {
        eprintln!("    {:>7}  {heading}", seconds(*elapsed));
    }
    eprintln!("    {:>7}  total", seconds(started.elapsed()));
    // One closing line for every test run above, for people and for CI.
    println!(
        "tests: {} passed, {} failed",
        built.tests.passed, built.tests.failed
    );
    Ok(())
}

fn formatting(root: &Path, _: &mut Built) -> anyhow::Result<()> {
    cmd::run(&mut cmd::cargo(root, &["fmt", "--all", "--", "--check"]))
}

fn lints(root: &Path, _: &mut Built) -> anyhow::Result<()> {
    cmd::run(&mut cmd::cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    ))?;
    setup::ensure_wasm_target(root)?;
    cmd::run(&mut cmd::cargo(
        root,
        &[
            "clippy",
            "--package",
            "heard-widget",
            "--target",
            setup::WASM_TARGET,
            "--",
            "-D",
            "warnings",
        ],
    ))
}

fn widget_build(root: &Path, built: &mut Built) -> anyhow::Result<()> {
    // The release build, as shoppers get it, and the same artifact `cargo xtask demo` uses.
    built.widget_dir = Some(widget::build_widget(root, true)?);
    Ok(())
}

fn browser(root: &Path, built: &mut Built) -> anyhow::Result<()> {
    setup::ensure_chromium()?;
    built.axe_script = Some(setup::ensure_axe(&target_dir(root))?);
    Ok(())
}

fn collector_build(root: &Path, _: &mut Built) -> anyhow::Result<()> {
    cmd::run(&mut cmd::cargo(
        root,
        &[
            "build",
            "--package",
            "heard-collector",
            "--bin",
            "collector",
        ],
    ))
}

fn workspace_tests(root: &Path, built: &mut Built) -> anyhow::Result<()> {
    let collector = target_dir(root).join("debug").join("collector");
    let widget_dir = built
        .widget_dir
        .clone()
        .context("the widget build step did not run")?;
    let axe_script = built
        .axe_script
        .clone()
        .context("the browser setup step did not run")?;
    // The widget's host tests are the next step, under their own heading.
    let mut tests = cmd::cargo(root, &["test", "--workspace", "--exclude", "heard-widget"]);
    tests
        .env("HEARD_COLLECTOR_BIN", &collector)
        .env("HEARD_WIDGET_DIR", &widget_dir)
        .env("HEARD_WWW_DIR", root.join("www"))
        .env("CHROMEDRIVER", setup::CHROMEDRIVER)
        .env("CHROMIUM", setup::CHROMIUM)
        .env("HEARD_AXE_SCRIPT", &axe_script);
    cmd::run_tests(&mut tests, &mut built.tests)
}

fn widget_tests(root: &Path, built: &mut Built) -> anyhow::Result<()> {
    cmd::run_tests(
        &mut cmd::cargo(root, &["test", "--package", "heard-widget"]),
        &mut built.tests,
    )
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}
