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

/// `/` renders `www/demo/index.html` with the collector's address filled in;
/// everything else comes from `www/demo/`.
pub fn router(www_dir: PathBuf, collector_url: &str) -> Router {
    let demo_dir = www_dir.join("demo");
    let shop = DemoShop {
        page: demo_dir.join("index.html"),
        collector_url: Arc::from(collector_url.trim_end_matches('/')),
    };
    Router::new()
        .route("/", get(index))
        .fallback_service(ServeDir::new(demo_dir))
        .with_state(shop)
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
