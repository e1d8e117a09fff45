//! `cargo xtask bench`: builds the collector and the load generator in
//! release and the widget as shoppers get it, installs Chromium and
//! chromedriver when they are missing (as `cargo xtask test` does), runs
//! `heard-bench` (see `bench/`), and rewrites the "Intake", "Inbox at
//! scale", "Footprint" and "Widget speed" sections of BENCHMARKS.md with its
//! report. The generated million-complaint store is kept in
//! `target/bench/inbox-store` and reused while its generator is unchanged. Other sections are
//! left as they are. Not part of `cargo xtask test`: benchmarks are not tests.

use std::path::Path;

use anyhow::Context;

use crate::{cmd, setup, target_dir, widget};

/// The sections this command owns, by their `## ` heading.
const SECTIONS: &[&str] = &["Intake", "Inbox at scale", "Footprint", "Widget speed"];

pub fn run(root: &Path) -> anyhow::Result<()> {
    // The widget-speed section runs the release widget in Chromium.
    let widget_dir = widget::build_widget(root, true)?;
    setup::ensure_chromium()?;
    cmd::run(&mut cmd::cargo(
        root,
        &[
            "build",
            "--release",
            "--package",
            "heard-collector",
            "--package",
            "heard-bench",
        ],
    ))?;
    let release = target_dir(root).join("release");
    let report = target_dir(root).join("bench").join("report.md");
    let collector = release.join("collector");
    let mut bench = std::process::Command::new(release.join("heard-bench"));
    bench
        .current_dir(root)
        .arg("--collector")
        .arg(&collector)
        .arg("--report")
        .arg(&report)
        .arg("--inbox-store")
        .arg(target_dir(root).join("bench").join("inbox-store"))
        .arg("--www")
        .arg(root.join("www"))
        .arg("--widget-dir")
        .arg(&widget_dir)
        .arg("--chromium")
        .arg(setup::CHROMIUM)
        .arg("--chromedriver")
        .arg(setup::CHROMEDRIVER);
    cmd::run(&mut bench)?;

    let generated = std::fs::read_to_string(&report)
        .with_context(|| format!("reading {}", report.display()))?;
    let path = root.join("BENCHMARKS.md");
    let mut document =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    for name in SECTIONS {
        let section = section(&generated, name)
            .with_context(|| format!("the bench report has no \"## {name}\" section"))?;
        document = replace_section(&document, name, section);
    }
    std::fs::write(&path, document).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "xtask: BENCHMARKS.md updated (sections {})",
        SECTIONS.join(", ")
    );
    Ok(())
}

/// The `## {name}` section of `document`: its heading line up to the next
/// `## ` heading (deeper headings belong to it) or the end.
fn section<'a>(document: &'a str, name: &str) -> Option<&'a str> {
    let (start, end) = section_range(document, name)?;
    Some(&document[start..end])
}

/// `document` with its `## {name}` section replaced by `replacement`, or
/// with `replacement` appended when it has no such section.
fn replace_section(document: &str, name: &str, replacement: &str) -> String {
    let replacement = format!("{}\n\n", replacement.trim_end());
    match section_range(document, name) {
        Some((start, end)) => {
            let mut replaced = String::with_capacity(document.len() + replacement.len());
            replaced.push_str(&document[..start]);
            replaced.push_str(&replacement);
            replaced.push_str(&document[end..]);
            if end == document.len() {
                // The last section: end the file with one newline, not two.
                replaced.truncate(replaced.trim_end().len());
                replaced.push('\n');
            }
            replaced
        }
        None => format!("{}\n\n{}", document.trim_end(), replacement.trim_end()) + "\n",
    }
}

/// Byte offsets of the `## {name}` section (heading included).
fn section_range(document: &str, name: &str) -> Option<(usize, usize)> {
    let heading = format!("## {name}");
    let mut offset = 0;
    let mut start = None;
    for line in document.split_inclusive('\n') {
        let text = line.trim_end();
        if start.is_none() && text == heading {
            start = Some(offset);
        } else if start.is_some() && text.starts_with("## ") {
            return start.map(|start| (start, offset));
        }
        offset += line.len();
    }
    start.map(|start| (start, document.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = "# Benchmarks\n\nIntro.\n\n## Widget weight\n\nbytes\n\n### Reproduce\n\nsh\n\n## Intake\n\nold intake\n\n### Old detail\n\n## Intake: where the time goes\n\nnotes\n";

    #[test]
    fn a_section_is_replaced_up_to_the_next_level_two_heading() {
        let updated = replace_section(DOCUMENT, "Intake", "## Intake\n\nnew intake\n");
        assert_eq!(
            updated,
            "# Benchmarks\n\nIntro.\n\n## Widget weight\n\nbytes\n\n### Reproduce\n\nsh\n\n## Intake\n\nnew intake\n\n## Intake: where the time goes\n\nnotes\n"
        );
    }

    #[test]
    fn a_missing_section_is_appended_and_others_are_kept() {
        let updated = replace_section(DOCUMENT, "Footprint", "## Footprint\n\nsizes\n");
        assert!(updated.starts_with(DOCUMENT.trim_end()));
        assert!(updated.ends_with("notes\n\n## Footprint\n\nsizes\n"));
        assert_eq!(
            section(&updated, "Widget weight"),
            Some("## Widget weight\n\nbytes\n\n### Reproduce\n\nsh\n\n")
        );
    }

    #[test]
    fn the_last_section_ends_the_file_with_one_newline() {
        let updated = replace_section(
            DOCUMENT,
            "Intake: where the time goes",
            "## Intake: where the time goes\n\nnew notes\n",
        );
        assert!(
            updated.ends_with("### Old detail\n\n## Intake: where the time goes\n\nnew notes\n")
        );
    }
}
