//! Widget speed in a real headless Chromium: the real collector's demo shop
//! (see `demo_shop.rs`), driven through chromedriver (`chromedriver.rs`).
//!
//! Each run opens a browser with a fresh profile, then:
//!
//! 1. loads the shop's front page without the widget and with it, and
//!    records what the page cost before any interaction: long tasks,
//!    layout shift (observers installed before the page's first script),
//!    the bytes and requests DevTools saw, and whether any `.wasm` was
//!    fetched, over the load and a fixed window of idle time after it;
//! 2. clicks the launcher (from page script, timed with `performance.now()`)
//!    and waits for the widget's first form control — a category button —
//!    to be in its shadow root and focusable: **cold**, with an empty HTTP
//!    cache (wasm, glue and CSS fetched and compiled);
//! 3. loads the page again and clicks again: **warm** (the HTTP cache
//!    holds the bundle).
//!
//! All of it unthrottled and with the renderer's CPU slowed fourfold
//! (`Emulation.setCPUThrottlingRate`), as on a mid-range phone.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::chromedriver::{Chromedriver, Session};
use crate::demo_shop::DemoShop;

/// Browsers (fresh profiles) per CPU setting.
const RUNS: usize = 5;
/// CPU slow-down factors: none, and a mid-range phone.
const CPU_RATES: &[u32] = &[1, 4];
/// How long after the page's first idle moment its costs are still counted.
const IDLE_WINDOW: Duration = Duration::from_millis(1_000);
/// Longest wait for the form after a click.
const OPEN_LIMIT: Duration = Duration::from_secs(30);
/// What the loader fetches on the first open (as `tests/tests/weight.rs`).
const BUNDLE_FILES: &[&str] = &["heard_widget_bg.wasm", "heard_widget.js", "widget.css"];
/// Iterations of the calibration loop that shows the throttling took hold.
const CALIBRATION_LOOP: u64 = 20_000_000;

/// Where everything the section needs is.
pub struct Paths {
    pub collector: PathBuf,
    pub www: PathBuf,
    pub widget: PathBuf,
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

/// What the section reports.
#[derive(Debug, Clone)]
pub struct WidgetSpeed {
    pub runs: usize,
    pub idle_window: Duration,
    pub chromium_version: String,
    pub conditions: Vec<Condition>,
    /// The loader's and the first open's files on disk, uncompressed, to
    /// compare with the bytes on the wire.
    pub loader_file_bytes: u64,
    pub bundle_file_bytes: u64,
    /// `/proc/loadavg` before and after: the machine may be shared.
    pub load_before: String,
    pub load_after: String,
}

/// Every run at one CPU setting.
#[derive(Debug, Clone)]
pub struct Condition {
    /// 1 is unthrottled.
    pub cpu_rate: u32,
    /// The calibration loop's time on the shop page, per run.
    pub calibration_ms: Vec<f64>,
    pub cold: Vec<Open>,
    pub warm: Vec<Open>,
    pub without_widget: Vec<HostPage>,
    /// First visit, empty cache.
    pub with_widget: Vec<HostPage>,
    /// Second visit.
    pub with_widget_again: Vec<HostPage>,
}

/// One click on the launcher: times in milliseconds after it.
#[derive(Debug, Clone)]
pub struct Open {
    /// The first form control is in the shadow root and focusable.
    pub form_ready: f64,
    /// The dialog took keyboard focus (its title), if focus moved at all.
    pub focused: Option<f64>,
    /// Bytes on the wire for what the click fetched, and its paths.
    pub bytes: u64,
    pub requests: Vec<String>,
}

/// What a page cost before any interaction.
#[derive(Debug, Clone)]
pub struct HostPage {
    pub long_tasks: u64,
    pub long_task_ms: f64,
    /// Layout shift without recent input, summed, and the elements that
    /// moved.
    pub layout_shift: f64,
    pub shifted: Vec<String>,
    /// Bytes on the wire (DevTools' encoded data length, headers included).
    pub bytes: u64,
    /// Paths requested, in order.
    pub requests: Vec<String>,
    pub wasm_fetched: bool,
    /// Bytes on the wire for the loader, when it was fetched.
    pub loader_bytes: Option<u64>,
}

pub fn measure(paths: &Paths) -> anyhow::Result<WidgetSpeed> {
    // The collector runs in a directory of its own: absolute paths only.
    let absolute = |what: &str, path: &PathBuf| {
        path.canonicalize()
            .with_context(|| format!("no {what} at {}", path.display()))
    };
    let collector = absolute("collector", &paths.collector)?;
    let www = absolute("www directory", &paths.www)?;
    let widget = absolute("built widget (cargo xtask build-widget)", &paths.widget)?;
    if !widget.join("heard_widget_bg.wasm").is_file() {
        bail!(
            "no built widget in {} (cargo xtask build-widget)",
            widget.display()
        );
    }
    absolute("chromium", &paths.chromium)?;
    absolute("chromedriver", &paths.chromedriver)?;
    let load_before = load_average();
    let shop = DemoShop::start(&collector, &www, &widget)?;
    let driver = Chromedriver::start(&paths.chromedriver)?;
    let mut conditions = Vec::new();
    let mut chromium_version = String::new();
    for &cpu_rate in CPU_RATES {
        let mut condition = Condition {
            cpu_rate,
            calibration_ms: Vec::new(),
            cold: Vec::new(),
            warm: Vec::new(),
            without_widget: Vec::new(),
            with_widget: Vec::new(),
            with_widget_again: Vec::new(),
        };
        for run in 1..=RUNS {
            let session = driver.session(&paths.chromium)?;
            if chromium_version.is_empty() {
                chromium_version = session.cdp("Browser.getVersion", json!({}))?["product"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            }
            one_run(&session, &shop, &mut condition)
                .with_context(|| format!("widget speed, CPU ÷{cpu_rate}, run {run}"))?;
            let last = condition.cold.len() - 1;
            println!(
                "bench: widget, CPU ÷{cpu_rate}, run {run}: form after click {:.1} ms cold, {:.1} ms warm; calibration loop {:.0} ms",
                condition.cold[last].form_ready,
                condition.warm[last].form_ready,
                condition.calibration_ms[last]
            );
        }
        conditions.push(condition);
    }
    Ok(WidgetSpeed {
        runs: RUNS,
        idle_window: IDLE_WINDOW,
        chromium_version,
        conditions,
        loader_file_bytes: file_size(&www.join("widget.js")),
        bundle_file_bytes: BUNDLE_FILES
            .iter()
            .map(|name| file_size(&widget.join(name)))
            .sum(),
        load_before,
        load_after: load_average(),
    })
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |metadata| metadata.len())
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn one_run(
    session: &Session<'_>,
    shop: &DemoShop,
    condition: &mut Condition,
) -> anyhow::Result<()> {
    session.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": OBSERVERS }),
    )?;
    // Open the shop's origin first, so the throttling is set on the
    // renderer that serves every measured page.
    session.goto(&shop.without_widget())?;
    session.cdp(
        "Emulation.setCPUThrottlingRate",
        json!({ "rate": condition.cpu_rate }),
    )?;
    session.performance_log()?;

    session.goto(&shop.without_widget())?;
    condition.without_widget.push(host_page(session)?);
    session.goto(&shop.with_widget())?;
    condition.with_widget.push(host_page(session)?);
    condition.cold.push(open(session)?);

    session.goto(&shop.with_widget())?;
    condition.with_widget_again.push(host_page(session)?);
    condition.warm.push(open(session)?);

    let calibration = session.execute_async(CALIBRATE, vec![json!(CALIBRATION_LOOP)])?;
    condition.calibration_ms.push(
        calibration["ms"]
            .as_f64()
            .context("the calibration loop gave no time")?,
    );
    Ok(())
}

/// Waits for the page's load, its first idle moment and the idle window,
/// then reads what the observers and DevTools recorded since navigating.
fn host_page(session: &Session<'_>) -> anyhow::Result<HostPage> {
    let observed =
        session.execute_async(SETTLE_AND_READ, vec![json!(IDLE_WINDOW.as_millis() as u64)])?;
    if observed["observed"].as_bool() != Some(true) {
        bail!("the page's performance observers did not run: {observed}");
    }
    let network = network_summary(&session.performance_log()?);
    if let Some(shift) = observed["layoutShift"]
        .as_f64()
        .filter(|shift| *shift > 0.0)
    {
        println!(
            "bench: widget: a layout shift of {shift:.4} on {:?}, moving {}",
            network.paths.first(),
            observed["shifted"]
        );
    }
    Ok(HostPage {
        long_tasks: observed["longTasks"].as_u64().unwrap_or_default(),
        long_task_ms: observed["longTaskMs"].as_f64().unwrap_or_default(),
        layout_shift: observed["layoutShift"].as_f64().unwrap_or_default(),
        shifted: observed["shifted"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|name| name.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        bytes: network.bytes,
        wasm_fetched: network.paths.iter().any(|path| path.ends_with(".wasm")),
        loader_bytes: network.loader_bytes,
        requests: network.paths,
    })
}

/// Clicks the launcher and waits for the first form control.
fn open(session: &Session<'_>) -> anyhow::Result<Open> {
    let opened =
        session.execute_async(CLICK_AND_WAIT, vec![json!(OPEN_LIMIT.as_millis() as u64)])?;
    if let Some(error) = opened["error"].as_str() {
        bail!("{error}");
    }
    // Everything logged since the page settled is the click's doing.
    let network = network_summary(&session.performance_log()?);
    Ok(Open {
        form_ready: opened["form"]
            .as_f64()
            .context("the click gave no time for the form")?,
        focused: opened["focused"].as_f64(),
        bytes: network.bytes,
        requests: network.paths,
    })
}

struct Network {
    bytes: u64,
    paths: Vec<String>,
    loader_bytes: Option<u64>,
}

/// Requests and bytes from DevTools' network events. The browser's own
/// `/favicon.ico` request is left out: it is not the page's doing.
fn network_summary(events: &[Value]) -> Network {
    let mut urls = std::collections::HashMap::new();
    let mut paths = Vec::new();
    let mut bytes = 0;
    let mut loader_bytes = None;
    for event in events {
        let params = &event["params"];
        let id = params["requestId"].as_str().unwrap_or_default().to_owned();
        match event["method"].as_str() {
            Some("Network.requestWillBeSent") => {
                let url = params["request"]["url"].as_str().unwrap_or_default();
                let path = url_path(url);
                if path != "/favicon.ico" && !url.starts_with("data:") {
                    paths.push(path.clone());
                    urls.insert(id, path);
                }
            }
            Some("Network.loadingFinished") => {
                if let Some(path) = urls.get(&id) {
                    let length = params["encodedDataLength"].as_f64().unwrap_or_default() as u64;
                    bytes += length;
                    if path == "/widget.js" {
                        loader_bytes = Some(length);
                    }
                }
            }
            _ => {}
        }
    }
    Network {
        bytes,
        paths,
        loader_bytes,
    }
}

/// `/widget/x.wasm` from `http://127.0.0.1:1234/widget/x.wasm?v=1`.
fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .map_or("/", |start| &after_scheme[start..]);
    path.split(['?', '#']).next().unwrap_or("/").to_owned()
}

/// Installed before any of the page's scripts: records long tasks and
/// layout shifts from the start of each document.
const OBSERVERS: &str = r"(() => {
  const bench = (window.__heardBench = { longTasks: [], shifts: [], shifted: [] });
  const name = (node) =>
    !node ? '(gone)' : node.nodeType !== 1 ? node.nodeName
      : node.localName + (node.id ? '#' + node.id : '') + (node.className ? '.' + String(node.className).split(' ').join('.') : '');
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) bench.longTasks.push(entry.duration);
    }).observe({ type: 'longtask', buffered: true });
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (entry.hadRecentInput) continue;
        bench.shifts.push(entry.value);
        for (const source of entry.sources || []) bench.shifted.push(name(source.node));
      }
    }).observe({ type: 'layout-shift', buffered: true });
  } catch (error) {
    bench.error = String(error);
  }
})();";

/// After `load`, the first idle callback, then the window: what was recorded.
const SETTLE_AND_READ: &str = r"
const done = arguments[arguments.length - 1];
const windowMs = arguments[0];
const finish = () => {
  const bench = window.__heardBench;
  if (!bench || bench.error) return done({ observed: false, error: bench && bench.error });
  done({
    observed: true,
    longTasks: bench.longTasks.length,
    longTaskMs: bench.longTasks.reduce((sum, duration) => sum + duration, 0),
    layoutShift: bench.shifts.reduce((sum, value) => sum + value, 0),
    shifted: bench.shifted,
  });
};
const idle = () => requestIdleCallback(() => setTimeout(finish, windowMs), { timeout: 10000 });
if (document.readyState === 'complete') idle(); else addEventListener('load', idle);
";

/// Clicks the launcher and reports when the first form control is in the
/// shadow root and focusable (checked on every mutation and every frame),
/// and when focus moved into the dialog.
const CLICK_AND_WAIT: &str = r#"
const done = arguments[arguments.length - 1];
const limit = arguments[0];
const host = document.querySelector('[data-heard-host]');
const root = host && host.shadowRoot;
const launcher = root && root.querySelector('[data-heard="launcher"]');
if (!launcher) return done({ error: 'the page has no widget launcher' });
const controls = '.heard-body .heard-category, .heard-body input, .heard-body textarea, .heard-body select';
let focused = null;
let finished = false;
let observer = null;
const started = performance.now();
const focusable = (element) =>
  element && !element.disabled && element.isConnected && element.getClientRects().length > 0;
const check = () => {
  if (finished) return;
  const now = performance.now();
  if (focusable(root.querySelector(controls))) {
    finished = true;
    observer.disconnect();
    done({ form: now - started, focused });
  } else if (now - started > limit) {
    finished = true;
    observer.disconnect();
    done({ error: 'no form control ' + limit + ' ms after the click: ' + root.innerHTML.slice(0, 500) });
  }
};
root.addEventListener('focusin', (event) => {
  if (focused === null && event.composedPath()[0] !== launcher) focused = performance.now() - started;
});
observer = new MutationObserver(check);
observer.observe(root, { subtree: true, childList: true, attributes: true });
const frame = () => {
  check();
  if (!finished) requestAnimationFrame(frame);
};
launcher.click();
requestAnimationFrame(frame);
"#;

/// A fixed loop: its time shows how much the CPU was slowed.
const CALIBRATE: &str = r"
const done = arguments[arguments.length - 1];
const started = performance.now();
let value = 0;
for (let index = 0; index < arguments[0]; index++) value = (value + index * 7) % 1000003;
done({ ms: performance.now() - started, value });
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_taken_from_urls() {
        assert_eq!(
            url_path("http://127.0.0.1:1234/widget/heard_widget_bg.wasm?v=1"),
            "/widget/heard_widget_bg.wasm"
        );
        assert_eq!(url_path("http://127.0.0.1:1234"), "/");
        assert_eq!(url_path("http://127.0.0.1:1234/#top"), "/");
    }

    #[test]
    fn network_events_add_up_to_requests_and_bytes() {
        let events = vec![
            json!({"method": "Network.requestWillBeSent", "params": {"requestId": "1", "request": {"url": "http://shop/"}}}),
            json!({"method": "Network.requestWillBeSent", "params": {"requestId": "2", "request": {"url": "http://c/widget.js"}}}),
            json!({"method": "Network.requestWillBeSent", "params": {"requestId": "3", "request": {"url": "http://shop/favicon.ico"}}}),
            json!({"method": "Network.loadingFinished", "params": {"requestId": "1", "encodedDataLength": 1000.0}}),
            json!({"method": "Network.loadingFinished", "params": {"requestId": "2", "encodedDataLength": 2100.0}}),
            json!({"method": "Network.loadingFinished", "params": {"requestId": "3", "encodedDataLength": 500.0}}),
        ];
        let summary = network_summary(&events);
        assert_eq!(summary.bytes, 3100);
        assert_eq!(summary.paths, vec!["/", "/widget.js"]);
        assert_eq!(summary.loader_bytes, Some(2100));
    }
}
