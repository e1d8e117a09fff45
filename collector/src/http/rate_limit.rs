//! Rate limits on the public site API: per client address and per site;
//! and on the shopper's status link, per client address.
//!
//! Every request to `/api/v1/sites/{key}/…` (config, complaints, photo
//! uploads, lost-link recovery, and their preflights) takes a token from the
//! client's bucket and one from the site's (see [`crate::domain::buckets`]);
//! an empty bucket answers `429 too_many_requests` with `Retry-After`, which
//! the widget honours while it keeps the complaint queued on the device.
//!
//! The layer runs inside `site_access`, so an unknown site is a 404 before
//! any bucket exists for it, and a 429 still carries the CORS grant the
//! widget needs to read it.
//!
//! The shopper's status-link routes (`/r/{token}…`, `/api/v1/receipts/
//! {token}…`, `/recover`) have a bucket of their own per client
//! ([`link_rate_limit`]): a person reads and answers at a human pace, while
//! guessing tokens needs speed. Its 429 is a small HTML page on the pages and
//! the JSON error on the API, both with `Retry-After`.
//!
//! **The client is the socket peer.** Only when the peer is one of
//! `trusted_proxies` is `X-Forwarded-For` read, right to left, and the first
//! address that is not a trusted proxy is the client: whatever a client
//! writes into that header itself is further left and never believed.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::AppError;
use super::html::{document, private_page};
use crate::domain::buckets::{Buckets, Rate};
use crate::settings::{AddressRange, Settings};
use crate::store::Site;

/// The most client buckets kept; beyond it idle ones are forgotten.
const MAX_CLIENT_BUCKETS: usize = 100_000;

/// What [`RateLimits`] enforces; built from [`Settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitPolicy {
    pub per_client: Rate,
    pub per_site: Rate,
    /// Per client, on the status-link routes.
    pub per_link_client: Rate,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<AddressRange>,
    /// Clients never limited (by default the machine itself).
    pub exempt: Vec<AddressRange>,
}

impl RateLimitPolicy {
    pub fn from_settings(settings: &Settings) -> RateLimitPolicy {
        RateLimitPolicy {
            per_client: Rate {
                burst: settings.rate_limit_client_burst,
                per_minute: settings.rate_limit_client_per_minute,
            },
            per_site: Rate {
                burst: settings.rate_limit_site_burst,
                per_minute: settings.rate_limit_site_per_minute,
            },
            per_link_client: Rate {
                burst: settings.rate_limit_link_burst,
                per_minute: settings.rate_limit_link_per_minute,
            },
            trusted_proxies: settings.trusted_proxies.clone(),
            exempt: settings.rate_limit_exempt.clone(),
        }
    }
}

/// The buckets of a running collector; cheap to clone.
#[derive(Clone)]
pub struct RateLimits {
    inner: Arc<Inner>,
}

struct Inner {
    policy: RateLimitPolicy,
    clients: Mutex<Buckets<IpAddr>>,
    sites: Mutex<Buckets<i64>>,
    links: Mutex<Buckets<IpAddr>>,
    warned_untrusted_forwarding: AtomicBool,
}

impl RateLimits {
    pub fn new(policy: RateLimitPolicy) -> RateLimits {
        RateLimits {
            inner: Arc::new(Inner {
                clients: Mutex::new(Buckets::new(policy.per_client, MAX_CLIENT_BUCKETS)),
                // Only sites that exist get a bucket (site_access ran first).
                sites: Mutex::new(Buckets::new(policy.per_site, usize::MAX)),
                links: Mutex::new(Buckets::new(policy.per_link_client, MAX_CLIENT_BUCKETS)),
                policy,
                warned_untrusted_forwarding: AtomicBool::new(false),
            }),
        }
    }

    /// The client a request comes from: the peer, or for a trusted proxy
    /// the right-most address in `X-Forwarded-For` that is not a trusted proxy.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        client_address(peer, headers, &self.inner.policy.trusted_proxies)
    }

    /// Takes a token for `client` and one for `site_id`, at `now`.
    fn admit(&self, client: IpAddr, site_id: i64, now: i64) -> Result<(), u64> {
        if listed(&self.inner.policy.exempt, client) {
            return Ok(());
        }
        if let Ok(mut clients) = self.inner.clients.lock() {
            clients.take(&bucket_key(client), now)?;
        }
        if let Ok(mut sites) = self.inner.sites.lock() {
            sites.take(&site_id, now)?;
        }
        Ok(())
    }

    /// Takes a token for `client` on the status-link routes, at `now`.
    fn admit_link(&self, client: IpAddr, now: i64) -> Result<(), u64> {
        if listed(&self.inner.policy.exempt, client) {
            return Ok(());
        }
        match self.inner.links.lock() {
            Ok(mut links) => links.take(&bucket_key(client), now),
            Err(_) => Ok(()),
        }
    }

    fn warn_once_about_forwarding(&self, peer: IpAddr) {
        if !self
            .inner
            .warned_untrusted_forwarding
            .swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                %peer,
                "a request from a local address carries X-Forwarded-For, but that peer is not \
                 in trusted_proxies: the header is ignored and the peer counts as the client \
                 (list the proxy in trusted_proxies)"
            );
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::new(RateLimitPolicy::from_settings(&Settings::default()))
    }
}

/// The middleware on the site API routes.
pub async fn rate_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    // Without connection info (in-process tests) there is no client to count.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let site = request.extensions().get::<Arc<Site>>().map(|site| site.id);
    if let (Some(peer), Some(site_id)) = (peer, site) {
        let limits = &state.rate_limits;
        let client = limits.client(peer, request.headers());
        // A proxy on this machine or the local network that forwards but is
        // not trusted is a configuration mistake worth one warning.
        if client == peer
            && looks_like_a_proxy(peer)
            && request.headers().contains_key("x-forwarded-for")
            && !listed(&limits.inner.policy.trusted_proxies, peer)
        {
            limits.warn_once_about_forwarding(peer);
        }
        if let Err(retry_after_seconds) = limits.admit(client, site_id, state.clock.now_millis()) {
            // Debug, not info: a flood must not flood the log too.
            tracing::debug!(%client, site_id, "rate limited");
            return Err(AppError::RateLimited {
                retry_after_seconds,
            });
        }
    }
    Ok(next.run(request).await)
}

/// The middleware on the shopper's status-link routes: one bucket per
/// client, whatever the token (so guessing many tokens costs the same as
/// opening one many times).
pub async fn link_rate_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    if let Some(peer) = peer {
        let limits = &state.rate_limits;
        let client = limits.client(peer, request.headers());
        if let Err(retry_after_seconds) = limits.admit_link(client, state.clock.now_millis()) {
            tracing::debug!(%client, "status link rate limited");
            if request.uri().path().starts_with("/api/") {
                return AppError::RateLimited {
                    retry_after_seconds,
                }
                .into_response();
            }
            return too_many_page(retry_after_seconds);
        }
    }
    next.run(request).await
}

/// The status page's 429: a page in plain words, with `Retry-After`.
fn too_many_page(retry_after_seconds: u64) -> Response {
    let body = format!(
        "<main>\n<h1>Please wait a moment</h1>\n<p>There were too many requests from your \
         connection. Try again in {retry_after_seconds} seconds.</p>\n</main>\n"
    );
    let mut response = private_page(
        StatusCode::TOO_MANY_REQUESTS,
        document("en", "Please wait a moment", &body),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
    response
}

/// See [`RateLimits::client`].
pub fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted_proxies: &[AddressRange],
) -> IpAddr {
    if !listed(trusted_proxies, peer) {
        return peer;
    }
    // Several header lines are one list, in order.
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        hops.extend(value.split(',').map(str::trim));
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(address) = parse_hop(hop) else {
            // A hop we cannot read: stop at the last one we could.
            return client;
        };
        client = address;
        if !listed(trusted_proxies, address) {
            return address;
        }
    }
    client
}

fn looks_like_a_proxy(peer: IpAddr) -> bool {
    match peer {
        IpAddr::V4(address) => address.is_loopback() || address.is_private(),
        IpAddr::V6(address) => address.is_loopback() || address.is_unique_local(),
    }
}

fn listed(ranges: &[AddressRange], address: IpAddr) -> bool {
    ranges.iter().any(|range| range.contains(address))
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

/// One bucket per IPv4 address, and per /64 for IPv6: a single customer is
/// usually given a whole /64 and could otherwise rotate through it.
fn bucket_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(address) => match address.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let segments = address.segments();
                IpAddr::V6(Ipv6Addr::new(
                    segments[0],
                    segments[1],
                    segments[2],
                    segments[3],
                    0,
                    0,
                    0,
                    0,
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn range(text: &str) -> AddressRange {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.4"), &headers, &[]),
            ip("198.51.100.4")
        );
        assert_eq!(
            client_address(ip("198.51.100.4"), &headers, &[range("10.0.0.1")]),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let proxies = [range("10.0.0.1"), range("10.0.0.2")];
        // The client claimed to be 1.1.1.1; the outer proxy saw 203.0.113.9.
        let headers = forwarded(&["1.1.1.1, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &proxies),
            ip("203.0.113.9")
        );
        // Ports and IPv6 brackets are read.
        let headers = forwarded(&["[2001:db8::7]:4711"]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &proxies),
            ip("2001:db8::7")
        );
        // A proxy that forwards no header: the proxy itself is the client.
        assert_eq!(
            client_address(ip("10.0.0.1"), &HeaderMap::new(), &proxies),
            ip("10.0.0.1")
        );
        // Garbage to the right stops the walk at the last trusted hop.
        let headers = forwarded(&["203.0.113.9, unknown"]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &proxies),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        assert_eq!(
            bucket_key(ip("2001:db8:1:2:aaaa::1")),
            bucket_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            bucket_key(ip("2001:db8:1:2::1")),
            bucket_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(bucket_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
