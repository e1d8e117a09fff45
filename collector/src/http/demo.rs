//! The demo shop, served on its own port so it is a different origin from the
//! collector — the widget is embedded exactly as on a merchant's site.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::services::ServeDir;

#[derive(Clone)]
struct DemoShop {
    page: PathBuf,
    collector_url: Arc<str>,
}

/// `/` renders `www/demo/index.html` with the collector's address filled in,
/// and so does every other `*.html` page there (the browser tests' hostile,
/// strict-CSP and inline pages); everything else comes from `www/demo/` as is.
pub fn router(www_dir: PathBuf, collector_url: &str) -> Router {
    let demo_dir = www_dir.join("demo");
    let collector_url: Arc<str> = Arc::from(collector_url.trim_end_matches('/'));
    let shop = |page: PathBuf| DemoShop {
        page,
        collector_url: Arc::clone(&collector_url),
    };
    let mut router = Router::new().route(
        "/",
        get(index).with_state(shop(demo_dir.join("index.html"))),
    );
    for name in html_pages(&demo_dir) {
        let page = shop(demo_dir.join(&name));
        router = router.route(&format!("/{name}"), get(index).with_state(page));
    }
    router.fallback_service(ServeDir::new(demo_dir))
}

/// The file names of the `*.html` pages in `dir`, read once at start-up.
fn html_pages(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".html"))
        .collect()
}

async fn index(State(shop): State<DemoShop>) -> Response {
    match tokio::fs::read_to_string(&shop.page).await {
        Ok(template) => {
            Html(template.replace("{{COLLECTOR_URL}}", &shop.collector_url)).into_response()
        }
        Err(error) => {
            tracing::error!(page = %shop.page.display(), %error, "cannot read the demo shop page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The demo shop page is missing.",
            )
                .into_response()
        }
    }
}
