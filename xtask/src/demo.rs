//! `cargo xtask demo`: build the widget, then run the collector with its demo
//! shop until Ctrl-C.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};

use crate::{cmd, widget};

const DEMO_SHOP_PREFIX: &str = "heard: demo shop on ";
const COLLECTOR_PREFIX: &str = "heard: collector listening on ";

pub fn run(root: &Path) -> anyhow::Result<()> {
    // Adds the wasm32 target first if rustup lacks it.
    let widget_dir = widget::build_widget(root, true)?;
    eprintln!("xtask: widget built into {}", widget_dir.display());

    // Ctrl-C reaches the collector too (same process group) and it shuts down
    // gracefully; the xtask stays alive to pass on its last words and exit quietly.
    let interrupted = Arc::new(AtomicBool::new(false));
    ctrlc::set_handler({
        let interrupted = Arc::clone(&interrupted);
        move || interrupted.store(true, Ordering::SeqCst)
    })
    .context("installing the Ctrl-C handler")?;

    let mut collector = cmd::cargo(
        root,
        &[
            "run",
            "--package",
            "heard-collector",
            "--release",
            "--",
            "serve",
            "--demo",
        ],
    );
    eprintln!("$ {}", cmd::show(&collector));
    let mut child = collector
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the collector")?;
    let stdout = child.stdout.take().expect("stdout is piped");
    pass_through(BufReader::new(stdout))?;
    let status = child.wait().context("waiting for the collector")?;
    finish(status, interrupted.load(Ordering::SeqCst))
}

/// Copies the collector's stdout to ours, adding a hint once both servers are up.
fn pass_through(lines: impl BufRead) -> anyhow::Result<()> {
    let mut demo_shop = None;
    let mut collector_up = false;
    let mut hinted = false;
    for line in lines.lines() {
        let line = line.context("reading the collector's output")?;
        println!("{line}");
        if let Some(url) = line.strip_prefix(DEMO_SHOP_PREFIX) {
            demo_shop = Some(url.trim().to_owned());
        }
        collector_up |= line.starts_with(COLLECTOR_PREFIX);
        if let (Some(url), true, false) = (&demo_shop, collector_up, hinted) {
            println!();
            println!("    Open {url} in a browser and click the widget's button.");
            println!("    Press Ctrl-C to stop.");
            println!();
            hinted = true;
        }
        std::io::stdout().flush().context("writing to stdout")?;
    }
    Ok(())
}

fn finish(status: ExitStatus, interrupted: bool) -> anyhow::Result<()> {
    if status.success() || interrupted {
        Ok(())
    } else {
        bail!("the collector stopped: {status}")
    }
}
