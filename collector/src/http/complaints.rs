//! `POST /api/v1/sites/{site_key}/complaints`: complaint intake.
//!
//! The proof of work in `Heard-Proof` is checked here, before anything is
//! stored: its shape, its signature for this site and its expiry. It is
//! *spent* by the store in the complaint's own transaction, after the
//! idempotency check, so a retry of a stored complaint (same
//! `Idempotency-Key`, same body) gets its first receipt even though its
//! proof is spent — provided the proof has not expired meanwhile; a client
//! retrying later solves a new challenge and keeps the key.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use heard_shared::proof::PROOF_HEADER;
use heard_shared::{ComplaintSubmission, FieldError, IDEMPOTENCY_KEY_HEADER};

use super::AppState;
use super::error::AppError;
use super::json::JsonBody;
use super::site_access::origin_allowed;
use crate::domain::intake::{self, IntakeError};
use crate::domain::live::Arrival;
use crate::domain::proof::ProofRefusal;
use crate::store::{Site, StoreError};

/// Set on the answer to a retried request that found its first receipt.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How many times a complaint is judged again when its site changed while
/// it was handled (`StoreError::SiteChanged`); past that, `503`.
const SITE_CHANGE_ATTEMPTS: usize = 3;

pub async fn create(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    headers: HeaderMap,
    JsonBody(submission): JsonBody<ComplaintSubmission>,
) -> Result<Response, AppError> {
    let idempotency_key = match headers.get(IDEMPOTENCY_KEY_HEADER) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            AppError::BadHeader(FieldError::new(
                IDEMPOTENCY_KEY_HEADER,
                "invalid",
                "The Idempotency-Key header must be printable ASCII, such as a UUID.",
            ))
        })?),
    };
    let mut site = site;
    let mut attempt = 1;
    let accepted = loop {
        let refused = |refusal| AppError::Proof {
            refusal,
            site_key: site.key.clone(),
        };
        let proof = state
            .proof
            .check(
                &site.key,
                &site.identity_secret.0,
                headers.get(PROOF_HEADER).map(HeaderValue::as_bytes),
                state.clock.now_millis(),
            )
            .map_err(refused)?;
        // The submission is judged again if the site changes meanwhile.
        let judged = intake::submit_for_kept_site(
            &state.store,
            &state.public_url,
            &site,
            submission.clone(),
            idempotency_key,
            proof,
        )
        .await;
        match judged {
            Ok(accepted) => break accepted,
            Err(IntakeError::Store(StoreError::SiteChanged)) if attempt < SITE_CHANGE_ATTEMPTS => {
                attempt += 1;
                site = current_site(&state, &site.key, &headers).await?;
            }
            Err(IntakeError::Store(StoreError::SiteChanged)) => {
                return Err(AppError::Unavailable {
                    retry_after_seconds: 1,
                });
            }
            Err(IntakeError::Store(StoreError::ProofSpent)) => {
                return Err(refused(ProofRefusal::Used));
            }
            Err(other) => return Err(other.into()),
        }
    };
    tracing::info!(site = %site.key, reference = %accepted.receipt.reference, replayed = accepted.replayed, "complaint accepted");
    if !accepted.replayed && !accepted.spam {
        state.live.publish(Arrival {
            merchant_id: site.merchant_id,
            reference: accepted.receipt.reference.clone(),
        });
    }

    let mut response = (StatusCode::CREATED, Json(accepted.receipt)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if accepted.replayed {
        headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The site as it is now, after it changed while a complaint was handled:
/// its allowed origins are checked again, as `site_access` did.
async fn current_site(
    state: &AppState,
    site_key: &str,
    headers: &HeaderMap,
) -> Result<Arc<Site>, AppError> {
    let site = state
        .store
        .site(site_key)
        .await?
        .ok_or(AppError::UnknownSite)?;
    if let Some(origin) = headers.get(header::ORIGIN)
        && !origin_allowed(&site, &state.public_origin, origin)
    {
        return Err(AppError::OriginNotAllowed);
    }
    Ok(site)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use serde_json::{Value, json};

    use super::super::test_support::{
        ACME_OWNER, Session, StaffApp, json_body, solved_proof, staff_state, two_shops,
    };
    use super::*;
    use crate::store::Store;
    use crate::store::test_support::{TempStore, temp_store};

    const OLD_SHOP: &str = "https://old-shop.example";
    const NEW_SHOP: &str = "https://new-shop.example";

    struct Harness {
        temp: TempStore,
        app: StaffApp,
        owner: Session,
    }

    async fn harness() -> Harness {
        let temp = temp_store();
        let (accounts, _, _) = two_shops(&temp.store).await;
        let app = StaffApp::new(staff_state(&temp.store, &accounts, "www"));
        let owner = app.sign_in(ACME_OWNER).await;
        Harness { temp, app, owner }
    }

    impl Harness {
        /// Sets Acme's allowed origins and the label of its `product`
        /// category through the inbox's API, as an owner does.
        async fn set_site(&self, origin: &str, label: &str) {
            let uri = "/api/v1/inbox/sites/acme-shop";
            let shown: Value = json_body(self.app.get(uri, &self.owner).await).await;
            let config = relabelled(shown["config"].clone(), label);
            let body = json!({ "allowed_origins": [origin], "config": config });
            let response = self
                .app
                .call(Method::PUT, uri, &self.owner, Some(&body.to_string()))
                .await;
            assert_eq!(response.status(), StatusCode::OK);
        }

        /// Posts a product complaint to Acme from `origin`; the answer.
        async fn post(&self, origin: &str) -> Response {
            let proof = solved_proof(&self.app.router, "acme-shop").await;
            let body = json!({
                "category": "product", "description": "The kettle leaks",
                "outcomes": ["fix"], "language": "en",
            });
            self.app
                .send(
                    Request::post("/api/v1/sites/acme-shop/complaints")
                        .header(header::CONTENT_TYPE, "application/json")
                        .header(header::ORIGIN, origin)
                        .header("Heard-Proof", proof)
                        .body(Body::from(body.to_string()))
                        .unwrap(),
                )
                .await
        }

        /// [`Harness::post`], asserting `201`; the receipt's category label.
        async fn accepted_label(&self, origin: &str) -> String {
            let response = self.post(origin).await;
            assert_eq!(response.status(), StatusCode::CREATED);
            let receipt: Value = json_body(response).await;
            receipt["summary"]["category_label"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    }

    fn relabelled(mut config: Value, label: &str) -> Value {
        for category in config["categories"].as_array_mut().unwrap() {
            if category["id"] == "product" {
                category["label"] = json!(label);
            }
        }
        config
    }

    #[tokio::test]
    async fn a_site_changed_through_the_api_rules_the_very_next_complaint() {
        let harness = harness().await;
        harness.set_site(OLD_SHOP, "Old label").await;
        // Read, and kept in memory, by these complaints and their challenges.
        assert_eq!(harness.accepted_label(OLD_SHOP).await, "Old label");
        assert_eq!(harness.accepted_label(OLD_SHOP).await, "Old label");

        harness.set_site(NEW_SHOP, "New label").await;
        let refused = harness.post(OLD_SHOP).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(harness.accepted_label(NEW_SHOP).await, "New label");
    }

    #[tokio::test]
    async fn a_site_changed_by_another_process_rules_the_next_complaint() {
        let harness = harness().await;
        harness.set_site(OLD_SHOP, "Old label").await;
        assert_eq!(harness.accepted_label(OLD_SHOP).await, "Old label");

        // As `collector site configure` does beside a running collector: its
        // own store on the same file, which this collector's writer never sees.
        let path = harness.temp.directory.path().join("heard.sqlite3");
        let elsewhere = Store::open(&path, 8, 8).unwrap();
        let site = elsewhere.site_by_key("acme-shop").await.unwrap().unwrap();
        let config = relabelled(
            serde_json::to_value(&site.config).unwrap(),
            "Changed elsewhere",
        );
        elsewhere
            .configure_site("acme-shop", serde_json::from_value(config).unwrap())
            .await
            .unwrap()
            .unwrap();
        elsewhere.shutdown().await;

        // The kept site is older than the change: the writer notices and
        // the complaint is judged again against the site as it is now.
        assert_eq!(harness.accepted_label(OLD_SHOP).await, "Changed elsewhere");
        assert_eq!(harness.accepted_label(OLD_SHOP).await, "Changed elsewhere");
    }
}
