//! The "Widget speed" section of BENCHMARKS.md.

use std::fmt;
use std::fmt::Write as _;
use std::time::Duration;

use super::{COMMAND, group_digits, paragraph, verdict_at_most};
use crate::browser::{Condition, HostPage, Open, WidgetSpeed};

/// Targets from issue 8.
const TARGET_OPEN: Duration = Duration::from_millis(150);

/// The section, starting with its `## ` heading.
pub fn render_widget_speed(speed: &WidgetSpeed) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write(&mut out, speed);
    out
}

fn write(out: &mut String, speed: &WidgetSpeed) -> fmt::Result {
    writeln!(out, "## Widget speed")?;
    writeln!(out)?;
    paragraph(
        out,
        &format!(
            "The real collector's demo shop (`collector serve --demo`, release \
             build, loopback) in headless {} driven through chromedriver by \
             `bench/src/browser.rs`. {} runs per CPU setting, each in a fresh \
             browser profile: the shop's front page without the widget (a \
             copy with the script tag removed, served by the same demo shop) \
             and with it, then a click on the launcher (`click()` from page \
             script, timed from `performance.now()` just before it) until the \
             widget's first form control — the first category button — is in \
             its shadow root and focusable (checked by a `MutationObserver` \
             on the shadow root and on every animation frame), with an empty \
             cache (**cold**: loader, wasm, glue, CSS and the site's \
             configuration fetched, the wasm compiled); then the page again \
             and a second click (**warm**: the bundle from the HTTP cache, \
             `max-age=300`; the configuration is fetched again). The click \
             comes without a hover first, so the loader's preload on \
             `pointerenter`/`focus` does not help: the slowest way a shopper \
             can open it. \"CPU ÷4\" is chromedriver's DevTools \
             `Emulation.setCPUThrottlingRate` at 4, as on a mid-range phone.",
            if speed.chromium_version.is_empty() {
                "Chromium"
            } else {
                &speed.chromium_version
            },
            speed.runs
        ),
    )?;
    writeln!(
        out,
        "| launcher click → first form control focusable | runs | median | worst | dialog took focus (median) | bytes the click fetched (median) | target | state |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|")?;
    for condition in &speed.conditions {
        for (label, opens) in [
            (
                "cold (empty cache: bundle fetched and compiled)",
                &condition.cold,
            ),
            ("warm (second page load, HTTP cache)", &condition.warm),
        ] {
            let (median, worst) = median_and_worst(opens.iter().map(|open| open.form_ready));
            let focused = focus_median(opens);
            let (bytes, _) = median_and_worst(opens.iter().map(|open| open.bytes as f64));
            let (target, state) = if condition.cpu_rate == 1 {
                (
                    format!("≤ {} ms", TARGET_OPEN.as_millis()),
                    verdict(median, worst),
                )
            } else {
                ("—".to_owned(), "no target (reported)".to_owned())
            };
            writeln!(
                out,
                "| {label}, {} | {} | {} | {} | {} | {} B | {target} | {state} |",
                cpu(condition),
                opens.len(),
                ms(median),
                ms(worst),
                focused,
                group_digits(bytes.round() as u64)
            )?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "| the shop page, before any interaction | CPU | long tasks (median / worst) | long-task time (median / worst) | layout shift (worst) | bytes transferred | requests | `.wasm` fetched |"
    )?;
    writeln!(out, "|---|---|---:|---:|---:|---:|---|---|")?;
    for condition in &speed.conditions {
        for (label, pages) in [
            ("without the widget", &condition.without_widget),
            ("with the widget, first visit", &condition.with_widget),
            (
                "with the widget, second visit",
                &condition.with_widget_again,
            ),
        ] {
            write_host_row(out, label, condition, pages)?;
        }
    }
    writeln!(out)?;
    paragraph(
        out,
        &format!(
            "Page costs are counted from navigation through the `load` event, \
             the first idle callback and {} of idle time after it, with \
             `longtask` and `layout-shift` observers installed before the \
             page's first script (DevTools \
             `Page.addScriptToEvaluateOnNewDocument`; layout shifts with recent \
             input excluded, as CLS does). Bytes are DevTools' encoded data \
             length of every response (headers included, also for the \
             collector's cross-origin files, which Resource Timing would \
             hide) from its network events; the browser's own \
             `/favicon.ico` request is left out.",
            crate::stats::millis(speed.idle_window)
        ),
    )?;
    write_fetched(out, speed)?;
    write_targets(out, speed)?;
    write_bounds(out, speed)
}

fn write_host_row(
    out: &mut String,
    label: &str,
    condition: &Condition,
    pages: &[HostPage],
) -> fmt::Result {
    let (tasks_median, tasks_worst) =
        median_and_worst(pages.iter().map(|page| page.long_tasks as f64));
    let (time_median, time_worst) = median_and_worst(pages.iter().map(|page| page.long_task_ms));
    let shift = pages
        .iter()
        .map(|page| page.layout_shift)
        .fold(0.0, f64::max);
    let mut moved: Vec<&str> = pages
        .iter()
        .flat_map(|page| page.shifted.iter().map(String::as_str))
        .collect();
    moved.sort_unstable();
    moved.dedup();
    let shift = if moved.is_empty() {
        format!("{shift:.4}")
    } else {
        format!("{shift:.4} (moved: `{}`)", moved.join("`, `"))
    };
    let (bytes, _) = median_and_worst(pages.iter().map(|page| page.bytes as f64));
    let requests = pages
        .first()
        .map(|page| page.requests.join(", "))
        .unwrap_or_default();
    let wasm = pages.iter().filter(|page| page.wasm_fetched).count();
    writeln!(
        out,
        "| {label} | {} | {tasks_median:.0} / {tasks_worst:.0} | {} / {} | {shift} | {} B | {} | {} |",
        cpu(condition),
        ms(time_median),
        ms(time_worst),
        group_digits(bytes.round() as u64),
        if requests.is_empty() {
            "none".to_owned()
        } else {
            format!("`{}`", requests.replace(", ", "`, `"))
        },
        if wasm == 0 {
            "no".to_owned()
        } else {
            format!("**yes**, in {wasm} of {}", pages.len())
        }
    )
}

/// What the clicks of the first unthrottled run fetched.
fn write_fetched(out: &mut String, speed: &WidgetSpeed) -> fmt::Result {
    let Some(condition) = speed.conditions.first() else {
        return Ok(());
    };
    let (Some(cold), Some(warm)) = (condition.cold.first(), condition.warm.first()) else {
        return Ok(());
    };
    paragraph(
        out,
        &format!(
            "What the clicks asked for, as DevTools saw it (first run): cold, \
             {} B on the wire for `{}`; warm, {} B for `{}` (a request \
             answered from the HTTP cache is listed but costs no bytes). {}",
            group_digits(cold.bytes),
            cold.requests.join("`, `"),
            group_digits(warm.bytes),
            warm.requests.join("`, `"),
            compression(speed, cold.bytes)
        ),
    )
}

/// Whether the collector compressed what it served, judged by the bytes
/// on the wire against the files' own sizes.
fn compression(speed: &WidgetSpeed, cold_bytes: u64) -> String {
    if speed.bundle_file_bytes == 0 || cold_bytes < speed.bundle_file_bytes {
        return String::new();
    }
    format!(
        "The bundle's files are {} B on disk (the loader {} B), so the \
         collector sent them **uncompressed**: it has no response \
         compression, and the gzip and brotli sizes in \"Widget weight\" are \
         what a compressing proxy or CDN in front of it would send.",
        group_digits(speed.bundle_file_bytes),
        group_digits(speed.loader_file_bytes)
    )
}

fn write_targets(out: &mut String, speed: &WidgetSpeed) -> fmt::Result {
    let with_widget = || {
        speed.conditions.iter().flat_map(|condition| {
            condition
                .with_widget
                .iter()
                .chain(&condition.with_widget_again)
        })
    };
    let loads = with_widget().count();
    let wasm_loads = with_widget().filter(|page| page.wasm_fetched).count();
    let worst_shift = with_widget()
        .map(|page| page.layout_shift)
        .fold(0.0, f64::max);
    let loader = with_widget().filter_map(|page| page.loader_bytes).max();
    writeln!(out, "| target (issue 8) | measured | state |")?;
    writeln!(out, "|---|---:|---|")?;
    writeln!(
        out,
        "| loader ≤ 2 KB gzip | see \"Widget weight\" (enforced by `tests/tests/weight.rs`); on the wire here, as the collector serves it: {} | see \"Widget weight\" |",
        loader.map_or("not fetched".to_owned(), |bytes| format!(
            "{} B with headers",
            group_digits(bytes)
        ))
    )?;
    writeln!(
        out,
        "| no wasm fetched before interaction or idle | `.wasm` requests in {wasm_loads} of {loads} page loads with the widget | {} |",
        if wasm_loads == 0 { "met" } else { "**missed**" }
    )?;
    for condition in speed
        .conditions
        .iter()
        .filter(|condition| condition.cpu_rate == 1)
    {
        for (label, opens) in [("cold", &condition.cold), ("warm", &condition.warm)] {
            let (median, worst) = median_and_worst(opens.iter().map(|open| open.form_ready));
            writeln!(
                out,
                "| launcher click → focusable form ≤ 150 ms unthrottled ({label}) | median {}, worst {} | {} |",
                ms(median),
                ms(worst),
                verdict(median, worst)
            )?;
        }
    }
    writeln!(
        out,
        "| zero layout shift on the host page | largest sum of shifts over {loads} loads: {worst_shift:.4} | {} |",
        if worst_shift == 0.0 {
            "met".to_owned()
        } else {
            format!("**missed** by {worst_shift:.4}")
        }
    )?;
    writeln!(out)
}

fn write_bounds(out: &mut String, speed: &WidgetSpeed) -> fmt::Result {
    let calibration = |rate: u32| {
        speed
            .conditions
            .iter()
            .find(|condition| condition.cpu_rate == rate)
            .map(|condition| median_and_worst(condition.calibration_ms.iter().copied()).0)
    };
    let throttled = match (calibration(1), calibration(4)) {
        (Some(plain), Some(slowed)) if plain > 0.0 => format!(
            "A fixed JavaScript loop, timed on the shop page at the end of \
             each run, took {} unthrottled and {} at CPU ÷4 (×{:.1}), so the \
             throttling held across the runs' navigations.",
            ms(plain),
            ms(slowed),
            slowed / plain
        ),
        _ => String::new(),
    };
    paragraph(
        out,
        &format!(
            "What bounds each figure. Cold, the click starts the loader's \
             dynamic `import()` of the glue, the wasm's streaming compile and \
             the CSS fetch; once mounted, the widget asks the collector for \
             the site's configuration and renders the categories from it — \
             so the cold figure is two round trips after the bundle plus \
             compiling the wasm (its size is in \"Widget weight\"), and the \
             warm figure is compiling or loading the cached module, \
             instantiating it, the configuration round trip and Yew's first \
             render. On loopback the network costs almost nothing: on a \
             shopper's connection add the bundle's transfer (cold) and one \
             round trip to the collector (both). CPU throttling slows the \
             page's main thread; compilation on background threads is less \
             affected. Before any interaction the widget costs the host page \
             the loader only — one small script, run once, that puts a \
             fixed-position launcher in a shadow root. {throttled} Measured \
             on {} by `{COMMAND}` on a machine shared with other engineers' \
             compilers (load average {} before this section, {} after).",
            today(),
            speed.load_before,
            speed.load_after
        ),
    )
}

fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / 86_400;
    super::civil_date(days)
}

fn cpu(condition: &Condition) -> String {
    if condition.cpu_rate == 1 {
        "unthrottled".to_owned()
    } else {
        format!("CPU ÷{}", condition.cpu_rate)
    }
}

fn focus_median(opens: &[Open]) -> String {
    let focused: Vec<f64> = opens.iter().filter_map(|open| open.focused).collect();
    if focused.is_empty() {
        "no focus event".to_owned()
    } else {
        ms(median_and_worst(focused.into_iter()).0)
    }
}

fn verdict(median: f64, worst: f64) -> String {
    let target = TARGET_OPEN.as_secs_f64() * 1000.0;
    let on_median = verdict_at_most(duration(median), TARGET_OPEN);
    if median <= target && worst > target {
        format!("{on_median} (median; the worst run was over)")
    } else {
        on_median
    }
}

/// The median (the lower of the middle two) and the largest value.
fn median_and_worst(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut values: Vec<f64> = values.collect();
    if values.is_empty() {
        return (0.0, 0.0);
    }
    values.sort_by(f64::total_cmp);
    (values[(values.len() - 1) / 2], values[values.len() - 1])
}

fn ms(milliseconds: f64) -> String {
    format!("{milliseconds:.1} ms")
}

fn duration(milliseconds: f64) -> Duration {
    Duration::from_secs_f64(milliseconds.max(0.0) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_take_the_lower_middle_and_worst_the_largest() {
        assert_eq!(median_and_worst([5.0, 1.0, 3.0].into_iter()), (3.0, 5.0));
        assert_eq!(
            median_and_worst([4.0, 1.0, 3.0, 2.0].into_iter()),
            (2.0, 4.0)
        );
        assert_eq!(median_and_worst(std::iter::empty()), (0.0, 0.0));
    }

    #[test]
    fn a_median_within_target_with_a_slow_run_says_so() {
        assert_eq!(verdict(100.0, 120.0), "met, 50.0 ms to spare");
        assert_eq!(
            verdict(100.0, 200.0),
            "met, 50.0 ms to spare (median; the worst run was over)"
        );
        assert_eq!(verdict(200.0, 250.0), "**missed**, 50.0 ms over");
    }
}
