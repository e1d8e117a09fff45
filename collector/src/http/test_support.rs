//! Reading responses in the HTTP tests, written once for every test module.

use axum::http::{StatusCode, header};
use axum::response::Response;
use heard_shared::ErrorBody;
use http_body_util::BodyExt;

use super::AppState;
use crate::domain::accounts::{Accounts, LIGHT_PASSWORD_PARAMS};
use crate::domain::demo::demo_site;
use crate::store::test_support::TempStore;

/// The demo site, allowing `shop`, served at `public_url` from `temp`'s store.
pub async fn demo_state(temp: &TempStore, shop: &str, public_url: &str) -> AppState {
    temp.store
        .add_site(demo_site(vec![shop.to_owned()]))
        .await
        .unwrap();
    AppState::new(
        temp.store.clone(),
        public_url,
        "www".into(),
        "target/widget".into(),
        Accounts::new(temp.store.clone(), LIGHT_PASSWORD_PARAMS).unwrap(),
    )
}

pub async fn body_bytes(response: Response) -> Vec<u8> {
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

/// The body as `T`; the panic shows the body when it is not.
pub async fn json_body<T: serde::de::DeserializeOwned>(response: Response) -> T {
    let bytes = body_bytes(response).await;
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&bytes)))
}

/// Asserts the status and the shared error shape, and returns the error.
pub async fn error_body(response: Response, status: StatusCode) -> ErrorBody {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let error: ErrorBody = json_body(response).await;
    assert!(!error.message.is_empty());
    error
}

/// [`error_body`]'s machine-readable code.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    error_body(response, status).await.error
}
