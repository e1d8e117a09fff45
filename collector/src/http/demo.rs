//! The demo shop, served on its own port so it is a different origin from the
//! collector — the widget is embedded exactly as on a merchant's site.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::services::ServeDir;

#[derive(Clone)]
struct DemoShop {
    directory: PathBuf,
    collector_url: Arc<str>,
}

/// Pages (`/` and `/{name}.html`) are rendered from `www/demo/` with
/// `{{COLLECTOR_URL}}` filled in; everything else is served as it is.
pub fn router(www_dir: PathBuf, collector_url: &str) -> Router {
    let directory = www_dir.join("demo");
    let shop = DemoShop {
        directory: directory.clone(),
        collector_url: Arc::from(collector_url.trim_end_matches('/')),
    };
    Router::new()
        .route("/", get(index))
        .route("/{page}", get(page))
        .fallback_service(ServeDir::new(directory))
        .with_state(shop)
}

async fn index(State(shop): State<DemoShop>) -> Response {
    render(&shop, "index.html").await
}

async fn page(State(shop): State<DemoShop>, Path(page): Path<String>) -> Response {
    let is_page_name = page.strip_suffix(".html").is_some_and(|stem| {
        !stem.is_empty()
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !is_page_name {
        return match ServeDir::new(&shop.directory)
            .try_call(
                axum::http::Request::get(format!("/{page}"))
                    .body(axum::body::Body::empty())
                    .unwrap_or_default(),
            )
            .await
        {
            Ok(response) => response.into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        };
    }
    render(&shop, &page).await
}

async fn render(shop: &DemoShop, page: &str) -> Response {
    let path = shop.directory.join(page);
    match tokio::fs::read_to_string(&path).await {
        Ok(template) => {
            Html(template.replace("{{COLLECTOR_URL}}", &shop.collector_url)).into_response()
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => (
            StatusCode::NOT_FOUND,
            "There is no such page in the demo shop.",
        )
            .into_response(),
        Err(error) => {
            tracing::error!(page = %path.display(), %error, "cannot read a demo shop page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The demo shop page could not be read.",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get_page(router: &Router, path: &str) -> (StatusCode, String) {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn pages_get_the_collector_address_and_other_files_are_served_as_they_are() {
        let www = tempfile::tempdir().unwrap();
        let demo = www.path().join("demo");
        std::fs::create_dir_all(demo.join("assets")).unwrap();
        std::fs::write(
            demo.join("index.html"),
            "<script src=\"{{COLLECTOR_URL}}/widget.js\"></script>",
        )
        .unwrap();
        std::fs::write(demo.join("csp.html"), "csp {{COLLECTOR_URL}}").unwrap();
        std::fs::write(demo.join("notes.txt"), "{{COLLECTOR_URL}} stays").unwrap();
        std::fs::write(demo.join("assets").join("shop.css"), "body{}").unwrap();
        std::fs::write(www.path().join("secret.txt"), "outside").unwrap();
        let router = router(www.path().to_owned(), "http://collector.test/");

        assert_eq!(
            get_page(&router, "/").await,
            (
                StatusCode::OK,
                "<script src=\"http://collector.test/widget.js\"></script>".to_owned()
            )
        );
        assert_eq!(
            get_page(&router, "/csp.html").await,
            (StatusCode::OK, "csp http://collector.test".to_owned())
        );
        assert_eq!(
            get_page(&router, "/notes.txt").await,
            (StatusCode::OK, "{{COLLECTOR_URL}} stays".to_owned())
        );
        assert_eq!(
            get_page(&router, "/assets/shop.css").await,
            (StatusCode::OK, "body{}".to_owned())
        );
        assert_eq!(
            get_page(&router, "/missing.html").await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get_page(&router, "/..%2Fsecret.txt").await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get_page(&router, "/../secret.txt").await.0,
            StatusCode::NOT_FOUND
        );
    }
}
