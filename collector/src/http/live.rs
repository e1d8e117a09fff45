//! `GET /api/v1/inbox/events`: server-sent events for an open inbox.
//!
//! The stream belongs to the signed-in staff member's merchant: it carries
//! `complaint` events (`{"reference": …}`) for that merchant's new
//! complaints only, and `resync` when events were dropped because the
//! browser fell behind. The page then fetches what changed through its
//! usual, merchant-filtered routes: the event itself holds no shopper text.
//!
//! Before each event the session is looked up again: a stream whose session
//! has ended (sign-out, expiry, a disabled account) ends instead of telling a
//! signed-out browser about new complaints.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};

use super::AppState;
use super::staff::Staff;
use crate::domain::live::{LiveEvent, Subscription};

/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

pub async fn events(State(state): State<AppState>, staff: Staff) -> Response {
    let subscription = state.live.subscribe(staff.merchant_id());
    let session = staff.session_token().session_hash();
    let mut response = Sse::new(event_stream(state, session, subscription))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The subscription as SSE events; ends when the feed closes or the session
/// is over.
fn event_stream(
    state: AppState,
    session: [u8; 32],
    subscription: Subscription,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(subscription, move |mut subscription| {
        let state = state.clone();
        async move {
            let next = subscription.next().await?;
            if !still_signed_in(&state, session).await {
                return None;
            }
            Some((Ok(to_event(next)), subscription))
        }
    })
}

fn to_event(event: LiveEvent) -> Event {
    match event {
        LiveEvent::Arrived { reference } => Event::default()
            .event("complaint")
            .data(serde_json::json!({ "reference": reference }).to_string()),
        LiveEvent::Missed => Event::default().event("resync").data("{}"),
    }
}

/// Whether the session is still live by the accounts' rules (absolute end,
/// idle limit, enabled account). Read only: a stream left open in a tab is
/// not use, and does not keep an idle session alive.
async fn still_signed_in(state: &AppState, session: [u8; 32]) -> bool {
    let now = state.clock.now_millis();
    match state.store.session(session).await {
        Ok(Some(record)) => {
            now < record.expires_at
                && now.saturating_sub(record.last_seen_at) < state.accounts.policy().idle_ms
                && !record.user.disabled
        }
        Ok(None) => false,
        Err(error) => {
            tracing::warn!(%error, "could not check a live stream's session; ending it");
            false
        }
    }
}
